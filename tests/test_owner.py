"""Per-user kernel limits (#14): a root run cannot starve a concurrent one.

The kernel counts inotify instances, user namespaces, queued signals and
more per uid, and up the chain of user namespaces against the uid that
created each.  Root's runs were all host uid 65534 without a user
namespace: one run holding every inotify instance (128) left the others
none.  Now each root run's user namespace is owned by a uid leased for the
run (src/lib/owner.c), and maps every id to itself."""
import json
import os
import subprocess
import time

import pytest
from conftest import host_snapshot

FIRST, COUNT = 1879048192, 65536

HOG = r"""
import ctypes, fcntl, os, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open("/proc/self/ns/user", os.O_RDONLY)
b = bytearray(4)
fcntl.ioctl(fd, 0xb704, b)  # NS_GET_OWNER_UID
n = 0
while n < 100000 and libc.inotify_init1(0) >= 0:
    n += 1
print(struct.unpack("I", b)[0], n, flush=True)
if len(sys.argv) > 1:  # hold them until told
    open("/out/ready", "w").close()
    t = time.time()
    while not os.path.exists("/out/done") and time.time() - t < 30:
        time.sleep(0.05)
"""


def inotify_limit():
    limit = int(open("/proc/sys/fs/inotify/max_user_instances").read())
    if limit > 50000:
        pytest.skip(f"fs.inotify.max_user_instances is {limit}: nothing to starve")
    return limit


def hog_and_probe(corral, tmp, opts=(), env=None):
    """Run A takes every inotify instance it can and holds them while run B
    counts what it can still get.  Returns both parsed results."""
    hog = tmp / "hog.py"
    hog.write_text(HOG)
    os.chmod(hog, 0o644)
    out = tmp / "out"
    out.mkdir()
    os.chmod(out, 0o777)
    binds = ("--bind", f"{hog}:/hog.py", "--bind", f"{out}:/out:rw")
    a = subprocess.Popen(corral.argv(["run", "--json", *opts, *binds, "--", "/usr/bin/python3",
                                      "/hog.py", "hold"]),
                         env={**corral.env(), **(env or {})}, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while not (out / "ready").exists() and a.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert (out / "ready").exists(), a.poll()
        b = corral.cli("run", "--json", *opts, *binds, "--", "/usr/bin/python3", "/hog.py", env=env)
    finally:
        (out / "done").touch()
        out_a, _ = a.communicate(timeout=60)
    ra, rb = json.loads(out_a), json.loads(b.stdout)
    assert ra["status"] == "OK" and rb["status"] == "OK", (ra, rb)
    return [tuple(map(int, r["stdout"].split())) for r in (ra, rb)]


def test_a_root_run_cannot_starve_a_concurrent_ones_inotify(corral_root, shared_tmp):
    limit = inotify_limit()
    (owner_a, got_a), (owner_b, got_b) = hog_and_probe(corral_root, shared_tmp)
    assert got_a == limit and got_b == limit, (got_a, got_b, limit)
    assert owner_a != owner_b
    assert FIRST <= owner_a < FIRST + COUNT and FIRST <= owner_b < FIRST + COUNT
    # the program is who it was: nobody, with every id mapped to itself
    r = corral_root.run("/bin/sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map")
    assert r["stdout"].split() == ["65534", "65534"] + ["0", "0", "4294967295"] * 2, r


def test_no_userns_shares_one_count_as_documented(corral_root, shared_tmp):
    # --no-userns is the old way: every run is host uid 65534, one count
    limit = inotify_limit()
    (_, got_a), (_, got_b) = hog_and_probe(corral_root, shared_tmp, opts=("--no-userns",))
    assert (got_a, got_b) == (limit, 0)


def test_a_range_in_use_refuses_the_next_run_by_name(corral_root, shared_tmp):
    # a range of one uid: while a run holds it the next one is refused,
    # never run under a shared owner; then the uid is free again
    env = {"CORRAL_OWNER_UIDS": "1879113000-1879113000"}
    out = shared_tmp / "out"
    out.mkdir()
    os.chmod(out, 0o777)
    a = subprocess.Popen(corral_root.argv(["run", "--bind", f"{out}:/out:rw", "--", "/bin/sh", "-c",
                                           "touch /out/ready; exec sleep 30"]),
                         env={**corral_root.env(), **env})
    try:
        deadline = time.time() + 10
        while not (out / "ready").exists() and time.time() < deadline:
            time.sleep(0.05)
        cgroups = host_snapshot()[2]  # the first run's
        p = corral_root.cli("run", "--", "/bin/true", env=env)
        # refused before anything was made (its cgroups were left, and
        # leaked under ASan)
        assert host_snapshot()[2] == cgroups
        assert p.returncode == 125 and "CORRAL_OWNER_UIDS" in p.stderr and "in use" in p.stderr, p.stderr
    finally:
        a.kill()
        a.wait()
    deadline = time.time() + 10
    while corral_root.cli("run", "--", "/bin/true", env=env).returncode != 0 and time.time() < deadline:
        time.sleep(0.05)
    p = corral_root.cli("run", "--json", "--", "/usr/bin/python3", "-c", HOG, env=env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["stdout"].split()[0] == "1879113000"


def test_a_bad_owner_range_is_refused_by_name(corral_root):
    for bad in ("x", "5-4", "0-10", "65000-70000", "1-", "7-8x"):
        p = corral_root.cli("run", "--", "/bin/true", env={"CORRAL_OWNER_UIDS": bad})
        assert p.returncode == 125 and f"CORRAL_OWNER_UIDS={bad}" in p.stderr, (bad, p.stderr)


def test_a_lease_directory_someone_else_owns_is_refused(corral_root):
    # the leases are root's alone: a directory another user made (in /tmp
    # on a host without /run, anyone could) would let them hold every uid
    path = "/run/corral/owners"
    assert corral_root.cli("run", "--", "/bin/true").returncode == 0
    st = os.stat(path)
    try:
        os.chown(path, 65534, 65534)
        p = corral_root.cli("run", "--", "/bin/true")
        assert p.returncode == 125 and path in p.stderr and "not root's own" in p.stderr, p.stderr
        os.chown(path, 0, 0)
        os.chmod(path, 0o777)
        p = corral_root.cli("run", "--", "/bin/true")
        assert p.returncode == 125 and "not root's own" in p.stderr, p.stderr
    finally:
        os.chown(path, st.st_uid, st.st_gid)
        os.chmod(path, st.st_mode & 0o7777)
    assert corral_root.cli("run", "--", "/bin/true").returncode == 0


def test_doctor_names_the_range_and_a_user_in_it(corral_root):
    d = json.loads(corral_root.cli("doctor", "--json").stdout)
    assert d["userns_owner_uids"] == {"first": FIRST, "last": FIRST + COUNT - 1}
    p = corral_root.cli("doctor")
    assert f"owned by a uid of {FIRST}-{FIRST + COUNT - 1}" in p.stdout
    p = corral_root.cli("doctor", "--json", env={"CORRAL_OWNER_UIDS": "1-0"})
    d = json.loads(p.stdout)
    assert p.returncode == 1 and not d["usable"] and "CORRAL_OWNER_UIDS=1-0" in d["problems"][-1], d
    # root (uid 0) is no candidate; a range over the users of /etc/passwd is
    users = [int(l.split(":")[2]) for l in open("/etc/passwd") if l.count(":") >= 6]
    some = next(u for u in users if 0 < u < 65534)
    d = json.loads(corral_root.cli("doctor", "--json",
                                   env={"CORRAL_OWNER_UIDS": f"{some}-{some}"}).stdout)
    assert any(f"(uid {some}) is in CORRAL_OWNER_UIDS" in pr for pr in d["problems"]), d

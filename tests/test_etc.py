"""The host view's /etc: bound entry by entry, or as one snapshot kept in
the cache (src/lib/etc-snapshot.c), which must show the same files and
follow the host's changes."""
import json
import os
import subprocess

LIST = ("ls -A /etc /etc/ssl; md5sum /etc/passwd /etc/hosts /etc/ld.so.cache; "
        "test -e /etc/shadow && echo SHADOW; test -e /etc/ssl/private && echo PRIVATE; "
        "echo mounts $(awk '$5 ~ \"^/etc\"' /proc/self/mountinfo | wc -l)")


def cache_env(corral, d):
    d.mkdir(exist_ok=True)
    if corral.mode == "user":
        os.chown(d, 65534, 65534)
    return {"XDG_CACHE_HOME": str(d)}


def listing(corral, env=None):
    cmd = corral.argv(["run", "--json", "--", "/bin/sh", "-c", LIST])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                       env={**corral.env(), **(env or {})})
    r = json.loads(p.stdout)
    assert r["status"] == "OK", (r, p.stderr)
    lines = r["stdout"].splitlines()
    mounts = int(lines[-1].split()[1])
    return "\n".join(lines[:-1]), mounts


def snapshot_name(cache):
    return os.readlink(cache / "corral" / "etc" / "current")


def test_snapshot_shows_what_the_binds_show(corral, shared_tmp):
    without, n_binds = listing(corral)
    env = cache_env(corral, shared_tmp / "cache")
    first, n_first = listing(corral, env)      # builds the snapshot
    again, n_again = listing(corral, env)      # uses it
    assert first == without and again == without
    assert "SHADOW" not in without and "PRIVATE" not in without
    assert "passwd" in without and "certs" in without
    # one mount for the snapshot, one per entry without it
    assert n_first == 1 and n_again == 1, (n_first, n_again)
    assert n_binds > 5, n_binds
    snaps = [n for n in os.listdir(shared_tmp / "cache" / "corral" / "etc")
             if n.startswith("snap-")]
    assert snaps == [snapshot_name(shared_tmp / "cache")]
    st = os.stat(shared_tmp / "cache" / "corral" / "etc" / snaps[0])
    assert st.st_mode & 0o077 == 0
    # the snapshot is as read-only in the sandbox as the binds are, and a
    # program cannot change the cache through it
    p = subprocess.run(corral.argv(["run", "--json", "--", "/bin/sh", "-c",
                                    "for f in /etc/passwd /etc/new /etc/ssl/certs/x; do "
                                    "(echo x >> $f) 2>/dev/null && echo WROTE $f; done; "
                                    "chmod 777 /etc/passwd 2>/dev/null && echo CHMOD; "
                                    "grep ' /etc ' /proc/self/mountinfo | grep -c ' ro,'"]),
                       capture_output=True, text=True, timeout=60, env={**corral.env(), **env})
    r = json.loads(p.stdout)
    assert r["stdout"] == "1\n", r
    passwd = shared_tmp / "cache" / "corral" / "etc" / snaps[0] / "etc" / "passwd"
    assert passwd.read_bytes() == open("/etc/passwd", "rb").read()


def test_snapshot_keeps_the_hosts_file_times(corral, shared_tmp):
    """A copy keeps what programs compare: Python's cached bytecode of
    /etc/python3.x/sitecustomize.py is keyed on the source's mtime, and a
    new mtime made every run compile it again."""
    env = cache_env(corral, shared_tmp / "cache")
    names = [n for n in ("protocols", "services", "ld.so.cache", "nsswitch.conf")
             if os.path.isfile(os.path.join("/etc", n)) and not os.path.islink(os.path.join("/etc", n))]
    assert names
    script = "import os,sys\nfor n in sys.argv[1:]: print(n, os.stat('/etc/' + n).st_mtime_ns)"
    for _ in range(2):  # builds the snapshot, then uses it
        p = subprocess.run(corral.argv(["run", "--json", "--", "/usr/bin/python3", "-c", script, *names]),
                           capture_output=True, text=True, timeout=60, env={**corral.env(), **env})
        r = json.loads(p.stdout)
        assert r["status"] == "OK", r
        seen = dict(line.split() for line in r["stdout"].splitlines())
        assert seen == {n: str(os.stat(os.path.join("/etc", n)).st_mtime_ns) for n in names}
    assert snapshot_name(shared_tmp / "cache").startswith("snap-")


def test_snapshot_follows_the_hosts_etc(corral_root, shared_tmp):
    """A changed /etc/hosts (here: another file bound over it in a private
    mount namespace, then written in place) is seen by the next run."""
    env = cache_env(corral_root, shared_tmp / "cache")
    host, _ = listing(corral_root, env)
    before = snapshot_name(shared_tmp / "cache")
    fake = shared_tmp / "hosts"
    fake.write_text("127.0.0.1 first-version\n")
    script = ("mount --bind {f} /etc/hosts && \"$@\" && echo '127.0.0.1 second' >> {f} && \"$@\""
              .format(f=fake))
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
           corral_root.bin, "run", "--", "/bin/cat", "/etc/hosts"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                       env={**corral_root.env(), **env})
    assert p.returncode == 0, p.stderr
    assert p.stdout == ("127.0.0.1 first-version\n"
                        "127.0.0.1 first-version\n127.0.0.1 second\n"), p.stdout
    # back in the host's namespace: the host's file again
    again, mounts = listing(corral_root, env)
    assert again == host and mounts == 1
    # the superseded snapshots wait out their grace period
    names = os.listdir(shared_tmp / "cache" / "corral" / "etc")
    assert before in names and len([n for n in names if n.startswith("snap-")]) >= 2


def test_a_damaged_snapshot_is_rebuilt(corral_root, shared_tmp):
    env = cache_env(corral_root, shared_tmp / "cache")
    good, _ = listing(corral_root, env)
    snap = shared_tmp / "cache" / "corral" / "etc" / snapshot_name(shared_tmp / "cache")
    with open(snap / "manifest", "r+b") as f:
        f.seek(20)
        f.write(b"\xff" * 200)
    out, mounts = listing(corral_root, env)
    assert out == good and mounts == 1
    (snap / "manifest").write_bytes(b"")
    out, mounts = listing(corral_root, env)
    assert out == good and mounts == 1


def test_a_cache_others_can_write_is_not_used(corral_root, shared_tmp):
    env = cache_env(corral_root, shared_tmp / "cache")
    good, mounts = listing(corral_root, env)
    assert mounts == 1
    etc_cache = shared_tmp / "cache" / "corral" / "etc"
    os.chmod(etc_cache, 0o777)
    out, mounts = listing(corral_root, env)
    assert out == good and mounts > 5   # bound entry by entry instead
    os.chmod(etc_cache, 0o700)
    snap = etc_cache / snapshot_name(shared_tmp / "cache")
    os.chmod(snap, 0o755 | 0o020)
    out, mounts = listing(corral_root, env)
    assert out == good and mounts == 1  # that one refused and replaced
    assert os.stat(etc_cache / snapshot_name(shared_tmp / "cache")).st_mode & 0o077 == 0


def test_a_failed_snapshot_is_not_retried_until_etc_changes(corral_root, shared_tmp):
    """A cache on a file system too small for the snapshot: the runs bind
    entries, and after the first failure they stop trying (the failure is
    noted with /etc's times, and not written again)."""
    small = shared_tmp / "small"
    small.mkdir()
    script = ('mount -t tmpfs -o size=128k tmpfs {d} && "$@" && '
              'echo "first $(stat -c %y {d}/corral/etc/failed)" && sleep 0.05 && "$@" && "$@" && '
              'echo "then $(stat -c %y {d}/corral/etc/failed)" && echo "left $(ls -A {d}/corral/etc)"'
              ).format(d=small)
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
           corral_root.bin, "run", "--", "/bin/sh", "-c",
           "test -f /etc/passwd && echo mounts $(awk '$5 ~ \"^/etc\"' /proc/self/mountinfo | wc -l)"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                       env={**corral_root.env(), "XDG_CACHE_HOME": str(small)})
    assert p.returncode == 0, p.stderr
    out = dict(line.split(" ", 1) for line in p.stdout.splitlines() if " " in line)
    mounts = [int(l.split()[1]) for l in p.stdout.splitlines() if l.startswith("mounts ")]
    assert len(mounts) == 3 and all(m > 5 for m in mounts), p.stdout   # bound entry by entry
    assert out["first"] == out["then"], p.stdout                        # not tried again
    assert out["left"] == "failed", p.stdout                            # nothing half-made left

"""The default seccomp policy: hostile calls are SYS with the call's name,
probed calls fail with an errno, foreign architectures are killed."""
import pytest


@pytest.mark.parametrize("what,name", [
    ("mount", "mount"), ("unshare", "unshare"), ("ptrace", "ptrace"), ("keyctl", "keyctl"),
])
def test_hostile_calls_are_SYS_with_name(corral, what, name):
    r = corral.hostile_run(what)
    assert r["status"] == "SYS", r
    assert r["syscall"] == name
    assert name in r["reason"]
    assert r["_rc"] == 121
    assert "returned" not in r["stdout"]


def test_clone_with_namespace_flag_is_SYS(corral):
    r = corral.hostile_run("clone-newuser")
    assert r["status"] == "SYS" and r["syscall"] == "clone", r


def test_tiocsti_is_SYS(corral):
    r = corral.hostile_run("tiocsti")
    assert r["status"] == "SYS" and r["syscall"] == "ioctl", r


@pytest.mark.parametrize("what,name", [("int80", "i386:getpid"), ("x32", "x32:getpid")])
def test_foreign_architectures_are_killed(corral, what, name):
    r = corral.hostile_run(what)
    assert r["status"] == "SYS", r
    assert r["syscall"] == name
    assert "returned" not in r["stdout"]


@pytest.mark.parametrize("what,errno_", [("io_uring", 38), ("vsock", 97)])
def test_probed_calls_fail_with_errno(corral, what, errno_):
    r = corral.hostile_run(what)
    assert r["status"] == "OK", r
    assert r["stdout"].strip().endswith(f"returned -1 errno {errno_}"), r["stdout"]


def test_python_runs_threads_and_subprocess(corral):
    r = corral.py(
        "import subprocess, threading, multiprocessing as mp\n"
        "t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
        "print(subprocess.run(['/bin/echo', 'sub'], capture_output=True, text=True).stdout.strip())\n"
        "with mp.Pool(2) as p: print(sum(p.map(abs, [-1, -2, 3])))\n")
    assert r["status"] == "OK", r
    assert r["stdout"] == "sub\n6\n"


def test_shell_pipeline_runs(corral):
    r = corral.run("/bin/sh", "-c", "seq 1 100 | sort -rn | head -1")
    assert r["stdout"] == "100\n"


def test_policy_none_allows_everything(corral):
    r = corral.hostile_run("keyctl", opts=("--policy", "none"))
    assert r["status"] == "OK" and "keyctl returned" in r["stdout"]


def test_policy_by_path(corral, shared_tmp):
    tmp_path = shared_tmp
    import os
    p = tmp_path / "p.json"
    p.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": ['
                 '{"names": ["getcwd"], "action": "SCMP_ACT_KILL_PROCESS"}]}')
    os.chmod(tmp_path, 0o755)
    os.chmod(p, 0o644)
    r = corral.run("/bin/pwd", opts=("--policy", str(p)))
    assert r["status"] == "SYS" and r["syscall"] == "getcwd", r


def _keyctl(corral, home):
    import json
    p = corral.cli("run", "--json", "--bind", f"{corral.world}:/h:ro", "--", "/h/hostile", "keyctl",
                   env={"HOME": str(home)})
    return json.loads(p.stdout)


def test_compiled_policy_is_cached_on_disk_and_verified(corral, shared_tmp):
    import os
    home = shared_tmp / "home"
    home.mkdir()
    if corral.mode == "user":
        os.chown(home, 65534, 65534)
    r = _keyctl(corral, home)
    assert r["status"] == "SYS" and r["syscall"] == "keyctl"
    cache = home / ".cache" / "corral" / "seccomp"
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].suffix == ".bpf"
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    # served from the cache: same verdict
    r = _keyctl(corral, home)
    assert r["status"] == "SYS" and r["syscall"] == "keyctl"
    # a tampered cache file is not trusted: recompiled, rewritten, same verdict
    data = bytearray(files[0].read_bytes())
    for i in range(200, len(data)):
        data[i] = 0
    files[0].write_bytes(bytes(data))
    r = _keyctl(corral, home)
    assert r["status"] == "SYS" and r["syscall"] == "keyctl"
    assert files[0].read_bytes() != bytes(data)
    # a cache directory others may write is not used at all
    os.chmod(cache, 0o777)
    before = files[0].read_bytes()
    files[0].write_bytes(b"garbage")
    r = _keyctl(corral, home)
    assert r["status"] == "SYS" and r["syscall"] == "keyctl"
    assert files[0].read_bytes() == b"garbage"
    assert before != b"garbage"


def test_personality_flags_that_weaken_the_address_space_fail(corral):
    # READ_IMPLIES_EXEC makes every mapping executable; ADDR_NO_RANDOMIZE
    # and MMAP_PAGE_ZERO undo ASLR and page zero's guard.  EPERM, as under
    # Docker; the query (0xffffffff) and PER_LINUX still work.
    r = corral.py(
        "import ctypes, os\n"
        "l = ctypes.CDLL(None, use_errno=True)\n"
        "print('query', l.personality(0xffffffff))\n"
        "for v in (0x400000, 0x40000, 0x100000, 0x400008):\n"
        "    print(hex(v), l.personality(v), ctypes.get_errno())\n"
        "print('linux', l.personality(0))\n"
        "print('after', l.personality(0xffffffff))\n")
    assert r["status"] == "OK", r
    lines = r["stdout"].splitlines()
    assert lines[0] == "query 0"
    assert lines[1:5] == [f"{hex(v)} -1 1" for v in (0x400000, 0x40000, 0x100000, 0x400008)], lines
    assert lines[5:] == ["linux 0", "after 0"], lines


def test_the_compiled_policy_cache_is_bounded_and_keeps_what_is_used(corral, shared_tmp):
    # Every distinct policy text added a file, without end (389 files and
    # 11 MB after a policy fuzz).
    import json
    import os
    home = shared_tmp / "home"
    home.mkdir()
    cache = home / ".cache" / "corral" / "seccomp"
    pols = []
    for i in range(90):
        p = shared_tmp / f"p{i}.json"
        p.write_text(json.dumps({"comment": f"policy {i}", "defaultAction": "SCMP_ACT_ALLOW",
                                 "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_KILL_PROCESS"}]}))
        os.chmod(p, 0o644)
        pols.append(p)
    if corral.mode == "user":
        os.chown(home, 65534, 65534)

    def run(p):
        r = json.loads(corral.cli("run", "--json", "--policy", str(p), "--", "/bin/true",
                                  env={"HOME": str(home)}).stdout)
        assert r["status"] == "OK", r

    run(pols[0])
    stale = cache / ".0123456789abcdef.bpf.1.tmp"
    stale.write_bytes(b"x" * 100)
    os.utime(stale, (1, 1))
    for i in range(1, 90):
        run(pols[i])
        if i % 8 == 0:
            run(pols[0])      # in use: kept
    names = sorted(f.name for f in cache.iterdir())
    assert len(names) == 64, names
    assert all(n.endswith(".bpf") and not n.startswith(".") for n in names), names
    texts = [f.read_bytes() for f in cache.iterdir()]
    held = {i for i in range(90) if any(f'"policy {i}"'.encode() in t for t in texts)}
    # the 64 used last: policy 0 and the newest 63
    assert held == {0} | set(range(27, 90)), sorted(held)
    assert sum(f.stat().st_size for f in cache.iterdir()) < 16 << 20


def test_a_policy_that_stops_corrals_own_calls_is_refused_not_a_hang(corral, shared_tmp):
    # These calls come after the filter is loaded and before the program
    # runs, while the init waits in vfork: a kill there (a notification
    # nobody could read yet) hung every run until --wall, then said TLE.
    import json
    import os
    import time
    for name in ("sendmsg", "close", "fcntl", "execve"):
        p = shared_tmp / f"stop-{name}.json"
        p.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": [name], "action": "SCMP_ACT_KILL_PROCESS"}]}))
        os.chmod(p, 0o644)
        t0 = time.time()
        r = corral.cli("run", "--wall", "20", "--policy", str(p), "--", "/bin/true")
        took = time.time() - t0
        assert r.returncode == 125, (name, r.returncode, r.stdout, r.stderr)
        assert f"it stops {name}, which corral itself calls" in r.stderr, r.stderr
        assert took < 10, (name, took)
    # a kill on close of an fd corral never uses is fine
    p = shared_tmp / "close-1000.json"
    p.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["close"], "action": "SCMP_ACT_KILL_PROCESS",
         "args": [{"index": 0, "value": 1000, "op": "SCMP_CMP_EQ"}]}]}))
    os.chmod(p, 0o644)
    r = corral.run("/bin/sh", "-c", "exec 3</dev/null; exec 3<&-; echo ok", opts=("--policy", str(p)))
    assert r["status"] == "OK" and r["stdout"] == "ok\n", r

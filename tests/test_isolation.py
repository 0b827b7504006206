"""What the program can see and do: files, processes, network, privileges."""
import os
import socket
import threading


def test_host_files_outside_the_view_are_absent(corral):
    r = corral.py(
        "import os\n"
        "for p in ['/root', '/home', '/var', '/etc/shadow', '/etc/gshadow', '/etc/ssh', "
        "'/etc/ssl/private', '/etc/machine-id', '/work', '/sys', '/boot', '/etc/sudoers']:\n"
        "    print(p, os.path.exists(p))\n")
    assert r["status"] == "OK", r
    for line in r["stdout"].splitlines():
        assert line.endswith("False"), line


def test_etc_has_what_programs_need(corral):
    r = corral.run("/bin/sh", "-c", "test -f /etc/passwd && test -f /etc/ld.so.cache && "
                   "ls /etc/ssl/certs >/dev/null && getent passwd root >/dev/null && echo yes")
    assert r["stdout"] == "yes\n", r


def test_host_view_is_read_only(corral):
    r = corral.py(
        "import errno\n"
        "for p in ['/usr/corral-x', '/etc/corral-x', '/corral-x', '/dev/corral-x', '/bin/corral-x']:\n"
        "    try:\n"
        "        open(p, 'w')\n"
        "        print(p, 'WRITABLE')\n"
        "    except OSError as e:\n"
        "        print(p, errno.errorcode[e.errno])\n"
        "open('/sandbox/ok', 'w').write('x'); open('/tmp/ok', 'w').write('x'); open('/dev/shm/ok', 'w').write('x')\n"
        "print('work dirs writable')\n")
    assert "WRITABLE" not in r["stdout"], r["stdout"]
    assert r["stdout"].count("EROFS") + r["stdout"].count("EACCES") == 5
    assert "work dirs writable" in r["stdout"]


def test_proc_shows_only_the_sandbox(corral):
    r = corral.py("import os; print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))")
    pids = eval(r["stdout"])
    # pid 2 and up are the program's; its init (pid 1) is out of sight
    assert pids and pids[0] == 2 and max(pids) < 10, pids


INIT_PROBE = r"""
import os
out = {"visible": os.path.exists("/proc/1"), "tries": []}
for f in ("cmdline", "environ", "status", "mem", "fd", "maps", "stat"):
    try:
        p = "/proc/1/" + f
        out["tries"].append((f, sorted(os.listdir(p)) if f == "fd" else open(p, "rb").read(64)))
    except OSError as e:
        out["tries"].append((f, e.errno))
# nothing of the supervisor's command line anywhere: its options, its path
# (spelled in two parts, for this program's own argv does not hold them)
needles = [b"-" + b"-json", b"-" + b"-wall", b"corral" + b"-test-"]
found = []
for pid in os.listdir("/proc"):
    for f in ("cmdline", "environ"):
        try:
            data = open(f"/proc/{pid}/{f}", "rb").read()
        except OSError:
            continue
        if any(n in data for n in needles):
            found.append((pid, f))
out["found"] = found
print(repr(out))
"""


def test_the_supervisors_argv_env_and_fds_are_out_of_sight(corral):
    # pid 1 is a fork of the supervisor: its argv, environment and fds are
    # the supervisor's.  hidepid=2 hides it; nothing of it can be read.
    r = corral.py(INIT_PROBE, opts=("--wall", "30"))
    assert r["status"] == "OK", r
    out = eval(r["stdout"])
    assert out["visible"] is False, out
    assert all(res == 2 for _, res in out["tries"]), out   # ENOENT, each
    assert out["found"] == [], out


def test_init_keeps_no_copy_of_the_supervisors_argv(corral, shared_tmp):
    # Seen from the host: the sandbox's init is a fork of `corral run`, and
    # /proc/INIT/cmdline showed its whole command line (a server's
    # --api-key); it is wiped once the program has started.
    import subprocess, time
    mark = f"{5 + os.getpid() % 1000 / 100000:.5f}"
    p = subprocess.Popen(corral.argv(["run", "--json", "--wall", "20", "--", "sleep", mark]),
                         env=corral.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 10
        sleeper = None
        while time.time() < deadline and sleeper is None:
            for pid in os.listdir("/proc"):
                try:
                    if open(f"/proc/{pid}/cmdline", "rb").read() == b"sleep\0" + mark.encode() + b"\0":
                        sleeper = pid
                except OSError:
                    pass
            time.sleep(0.05)
        assert sleeper, "the program did not start"
        init = open(f"/proc/{sleeper}/stat").read().rsplit(")", 1)[1].split()[1]
        cmdline = open(f"/proc/{init}/cmdline", "rb").read()
        assert cmdline.strip(b"\0 ") == b"", cmdline
        assert mark.encode() not in cmdline and b"--wall" not in cmdline
    finally:
        p.kill()
        p.wait()


def test_proc_masks(corral):
    # Masked files read as empty (or are absent on kernels without them).
    # /proc/cmdline: the host's boot line; key-users: every uid's key
    # quotas; iomem: its physical memory map.
    r = corral.run("/bin/sh", "-c", "for f in kcore sysrq-trigger timer_list keys sched_debug "
                   "cmdline key-users iomem; do "
                   "if [ -e /proc/$f ]; then wc -c < /proc/$f; else echo 0; fi; done; "
                   "echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo WRITABLE || echo ro")
    assert r["stdout"].split() == ["0"] * 8 + ["ro"], r


def test_capabilities_dropped_and_no_new_privs(corral):
    r = corral.run("/bin/grep", "-E", "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):",
                   "/proc/self/status")
    fields = dict(line.split(":\t") for line in r["stdout"].splitlines())
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(fields[cap], 16) == 0, (cap, fields[cap])
    assert fields["NoNewPrivs"] == "1"
    assert fields["Seccomp"] == "2"


def test_identity(corral):
    # as root: nobody; rootless: the caller's own uid, which here is nobody
    # too (the suite's unprivileged user), mapped through the user namespace
    r = corral.run("/bin/sh", "-c", "id -u; cat /proc/self/uid_map")
    uid, *uid_map = r["stdout"].split()
    assert uid == "65534"
    if corral.mode == "root":
        assert uid_map == ["0", "0", "4294967295"]  # no user namespace
    else:
        assert uid_map == ["65534", "65534", "1"]


def test_hostname_and_own_session(corral):
    r = corral.py("import os, socket; print(socket.gethostname(), os.getsid(0) == os.getpid())")
    assert r["stdout"] == "corral True\n"
    r = corral.py("open('/dev/tty')")
    assert r["status"] == "RE"


def test_dev_is_minimal(corral):
    r = corral.run("/bin/ls", "/dev")
    assert set(r["stdout"].split()) == {"fd", "full", "null", "random", "shm", "stderr",
                                        "stdin", "stdout", "urandom", "zero"}
    r = corral.run("/bin/sh", "-c", "head -c 16 /dev/urandom | wc -c; echo x > /dev/null && echo ok")
    assert r["stdout"].split() == ["16", "ok"]


def test_shm_is_fresh_per_run(corral):
    corral.run("/bin/sh", "-c", "echo x > /dev/shm/mark; echo y > /tmp/mark")
    r = corral.run("/bin/sh", "-c", "ls /dev/shm /tmp /sandbox")
    assert "mark" not in r["stdout"]


def _host_server():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    s.settimeout(5)
    hits = []

    def accept():
        try:
            c, _ = s.accept()
            hits.append(1)
            c.close()
        except OSError:
            pass
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    return s, s.getsockname()[1], hits


def test_no_route_to_host_loopback(corral):
    s, port, hits = _host_server()
    try:
        r = corral.py(
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2); print('CONNECTED')\n"
            "except OSError as e:\n"
            "    print('refused', type(e).__name__)\n")
        assert "CONNECTED" not in r["stdout"] and "refused" in r["stdout"], r
        assert hits == []
    finally:
        s.close()


def test_loopback_works_inside(corral):
    r = corral.py(
        "import socket, threading\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
        "port = s.getsockname()[1]\n"
        "c = socket.create_connection(('127.0.0.1', port)); a, _ = s.accept()\n"
        "c.sendall(b'ping'); print(a.recv(4).decode())\n")
    assert r["stdout"] == "ping\n", r


def test_net_none_has_no_interfaces_up(corral):
    r = corral.py(
        "import socket\n"
        "s = socket.socket(); \n"
        "try:\n"
        "    s.bind(('127.0.0.1', 0)); s.listen(1); socket.create_connection(s.getsockname(), timeout=1); print('up')\n"
        "except OSError as e:\n"
        "    print('down', type(e).__name__)\n", opts=("--net", "none"))
    assert r["stdout"].startswith("down"), r


def test_bind_option_ro_and_rw(corral, shared_tmp):
    tmp_path = shared_tmp
    os.chmod(tmp_path, 0o777)
    (tmp_path / "in.txt").write_text("data")
    os.chmod(tmp_path / "in.txt", 0o644)
    r = corral.run("/bin/sh", "-c", "cat /data/in.txt; touch /data/new 2>/dev/null && echo rw || echo ro",
                   opts=("--bind", f"{tmp_path}:/data:ro"))
    assert r["stdout"] == "dataro\n", r
    r = corral.run("/bin/sh", "-c", "echo hi > /data/out.txt && echo rw",
                   opts=("--bind", f"{tmp_path}:/data"))
    assert r["stdout"] == "rw\n", r
    assert (tmp_path / "out.txt").read_text() == "hi\n"


def test_bind_target_symlink_is_not_followed(corral, shared_tmp):
    tmp_path = shared_tmp
    # A directory a previous run could write holds a symlink where a later
    # mount point goes: the mount must not land outside.
    os.chmod(tmp_path, 0o777)
    os.symlink("/etc", tmp_path / "evil")
    (tmp_path / "x").write_text("x")
    r = corral.run("/bin/true", opts=("--bind", f"{tmp_path}:/w", "--tmpfs", "/w/evil/sub"))
    assert r["status"] == "IE", r
    assert "evil" in r["reason"] or "/w/evil" in r["reason"]


def test_net_host_is_an_explicit_opt_in(corral):
    s, port, hits = _host_server()
    try:
        r = corral.py(
            "import socket\n"
            f"socket.create_connection(('127.0.0.1', {port}), timeout=3); print('CONNECTED')\n",
            opts=("--net", "host"))
        assert r["stdout"] == "CONNECTED\n", r
    finally:
        s.close()


def test_userns_as_root(corral_root):
    r = corral_root.run("/bin/sh", "-c", "id -u; cat /proc/self/uid_map", opts=("--userns",))
    assert r["status"] == "OK", r
    uid, *m = r["stdout"].split()
    assert uid == "65534" and m == ["65534", "65534", "1"]
    # inside uid 0 is never the host's root
    r = corral_root.run("/bin/sh", "-c", "id -u; cat /proc/self/uid_map; grep CapEff /proc/self/status",
                        opts=("--userns", "--uid", "0", "--gid", "0"))
    out = r["stdout"].split()
    assert out[:4] == ["0", "0", "65534", "1"], r
    assert out[-1] == "0000000000000000"


def test_program_can_reopen_its_own_stdout_and_stderr(corral):
    # /dev/stdout is /proc/self/fd/1: reopening the output pipe needs the
    # program to own it (a root-owned 0600 pipe refuses uid 65534).
    r = corral.run("/bin/sh", "-c", "echo one > /dev/stdout; echo two > /proc/self/fd/1; "
                   "echo three > /dev/stderr")
    assert r["status"] == "OK", r
    assert r["stdout"] == "one\ntwo\n" and r["stderr"] == "three\n", r


def test_proc_is_read_only_even_for_uid_0(corral_root):
    # sysctl files are writable by uid 0 without capabilities: /proc itself
    # is mounted read-only, so /proc/sys and friends stay untouchable.
    r = corral_root.run("/bin/sh", "-c",
                        "echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo WRITABLE || echo ro; "
                        "echo x > /proc/self/comm 2>/dev/null && echo WRITABLE || echo ro; "
                        "id -u; cat /proc/self/status | grep -c Name",
                        opts=("--uid", "0", "--gid", "0"))
    assert r["stdout"].split() == ["ro", "ro", "0", "1"], r


def test_each_run_has_a_fresh_network_namespace(corral):
    # A listener left by one run is not reachable from the next, and the
    # sandbox's network namespace is never ours.
    host_ns = os.readlink("/proc/self/ns/net")
    r1 = corral.run("/bin/readlink", "/proc/self/ns/net")
    r2 = corral.run("/bin/readlink", "/proc/self/ns/net")
    assert r1["status"] == r2["status"] == "OK", (r1, r2)
    ns1, ns2 = r1["stdout"].strip(), r2["stdout"].strip()
    assert ns1.startswith("net:[") and host_ns not in (ns1, ns2)
    r3 = corral.run("/bin/readlink", "/proc/self/ns/net", opts=("--net", "host"))
    assert r3["stdout"].strip() == host_ns, r3


"""Warm interpreters (src/lib/warm.c, warm_zygote.py): `corral eval` forks
each sample from a Python started once per worker, into a sandbox made
fresh for it.  A sample must see exactly what a cold sandbox shows it, and
nothing one sample does may reach the next one or the warm interpreter."""
import ast
import json
import os
import shutil
import time

import pytest

from conftest import host_snapshot, processes_matching
from test_eval import HE, evaluate, write_samples


PROBE = r'''
    import os, socket
    st = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
    info = {
        "pid": os.getpid(), "ppid": os.getppid(), "uid": os.getuid(),
        "procs": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "caps": [st[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")],
        "nnp": st["NoNewPrivs"].strip(), "seccomp": st["Seccomp"].strip(),
        "fds": sorted(os.listdir("/proc/self/fd")),
        "tmp": sorted(os.listdir("/tmp")), "sandbox": os.listdir("."), "shm": os.listdir("/dev/shm"),
        "cgroup": sorted(set(l.split(":", 2)[2] for l in open("/proc/self/cgroup").read().split())),
        "net": [l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:]],
        "host": socket.gethostname(), "env": sorted(os.environ),
        "cwd": os.readlink("/proc/self/cwd"), "kallsyms": open("/proc/kallsyms").read(),
    }
    import signal
    info["signals"] = [str(signal.getsignal(s)) for s in (
        signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM, signal.SIGCHLD)]
    info["sigmask"] = sorted(signal.pthread_sigmask(signal.SIG_BLOCK, []))
    writable = []
    for d in ("/", "/etc", "/usr", "/var", "/dev", "/proc", "/root", "/home"):
        try:
            open(os.path.join(d, "w"), "w").close()
            writable.append(d)
        except OSError:
            pass
    info["writable"] = writable
    # its init is out of sight (hidepid): not even its fds by number
    info["init_visible"] = os.path.exists("/proc/1")
    init = []
    for f in (lambda: os.listdir("/proc/1/fd"), lambda: os.readlink("/proc/1/root"),
              lambda: open("/proc/1/mem", "rb").read(1), lambda: open("/proc/1/environ").read()):
        try:
            f()
            init.append(True)
        except OSError:
            init.append(False)
    info["init"] = init
    try:
        info["init_caps"] = [l.split()[1] for l in open("/proc/1/status").read().splitlines()
                             if l.startswith(("CapPrm", "CapEff"))]
    except OSError:
        info["init_caps"] = None
    for d in ("/tmp", "/dev/shm", "/sandbox"):
        open(d + "/marker", "w").write("x")
    raise Exception(repr(info))
'''


@pytest.fixture
def work(corral, shared_tmp):
    if corral.mode == "user":
        os.chown(shared_tmp, 65534, 65534)
    shutil.copy(os.path.join(HE, "example_problem.jsonl"), shared_tmp)
    os.chmod(shared_tmp / "example_problem.jsonl", 0o644)
    return shared_tmp


def run(corral, work, completions, *extra, name="s.jsonl", statuses=None):
    s = work / name
    write_samples(s, [{"task_id": "test/0", "completion": c} for c in completions])
    p, summary, results = evaluate(corral, work, s, "-j", "1", *extra,
                                   problems="example_problem.jsonl")
    assert p.returncode == 0, p.stderr
    assert "warm interpreter" not in p.stderr, p.stderr
    # every sample forked warm, unless asked not to
    assert summary["warm"] == (0 if "--cold" in extra else len(completions)), summary
    if statuses is not None:
        statuses.update(summary["sandbox_statuses"])
    return [r["result"] for r in results]


def probe(result):
    assert result.startswith("failed: {"), result
    return ast.literal_eval(result[len("failed: "):])


def test_a_warm_sample_sees_what_a_cold_one_sees(corral, work):
    warm = [probe(r) for r in run(corral, work, [PROBE, PROBE])]
    cold = [probe(r) for r in run(corral, work, [PROBE], "--cold", name="c.jsonl")]
    # forked warm: uid 0 of the warm interpreter's user namespace, without
    # a capability; cold: the sandbox's own uid
    assert [w["uid"] for w in warm] == [0, 0] and cold[0]["uid"] != 0
    for w in warm:
        assert w["pid"] == 2 and w["ppid"] == 1 and w["procs"] == [2]
        assert w["caps"] == ["0000000000000000"] * 5
        assert w["nnp"] == "1" and w["seccomp"] == "2"
        assert w["fds"] == cold[0]["fds"]          # 0-2, the runner's own, no leaked fd
        assert w["cgroup"] == ["/"] and w["net"] == ["lo"] and w["host"] == "corral"
        assert w["writable"] == [] and w["kallsyms"] == ""
        # init has the sample's uid here, but is not dumpable: hidepid
        # hides it whole (its fds could be listed before)
        assert w["init"] == [False] * 4 and w["init_caps"] is None and not w["init_visible"]
        for k in ("fds", "cgroup", "net", "host", "env", "cwd", "writable", "sandbox", "shm", "init",
                  "init_visible", "init_caps",
                  "kallsyms", "nnp", "seccomp", "procs", "caps", "signals", "sigmask"):
            assert w[k] == cold[0][k], k
    # the first sample's files are gone for the second: fresh tmpfs each
    assert warm[1]["tmp"] == warm[0]["tmp"] == cold[0]["tmp"]
    assert warm[1]["sandbox"] == [] and warm[1]["shm"] == []


HOSTILE = [
    # kill everything it can see: nothing but its own init, which the
    # kernel shields from its namespace's signals
    "    import posix, signal\n    try:\n        posix.kill(-1, signal.SIGKILL)\n"
    "    except ProcessLookupError:\n        pass\n    else:\n        return 0\n"
    "    posix.kill(1, signal.SIGKILL)\n    return 1\n",
    # a fork bomb against --pids
    "    import posix, time\n    while True:\n        try:\n            posix.fork()\n"
    "        except OSError:\n            time.sleep(30)\n",
    # a memory bomb against --memory
    "    x = []\n    while True:\n        x.append(bytearray(1 << 24))\n",
    # a forbidden call (unshare) through ctypes: SYS, the sample killed
    "    import ctypes\n    ctypes.CDLL(None).unshare(0x20000)\n    return 1\n",
    # the runner's timer blocked: the sandbox's wall limit ends it
    "    import signal\n    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])\n"
    "    while True: pass\n",
    # a daemon left behind, and a file in /dev/shm, for the next sample
    "    import posix, time\n    if posix.fork() == 0:\n        posix.setsid()\n"
    "        time.sleep(60)\n    open('/dev/shm/left', 'w').write('x')\n    return 1\n",
    # which finds neither, and runs warm as before
    "    import os\n    assert os.listdir('/dev/shm') == []\n"
    "    assert sorted(int(p) for p in os.listdir('/proc') if p.isdigit()) == [2]\n"
    "    assert os.getuid() == 0\n    return 1\n",
]


def test_hostile_samples_reach_neither_the_next_one_nor_the_warm_interpreter(corral, work):
    before = host_snapshot()
    start = time.monotonic()
    st = {}
    results = run(corral, work, HOSTILE, "--timeout", "1", "--pids", "32", "--memory", "256M",
                  statuses=st)
    assert time.monotonic() - start < 60
    assert results[0] == "passed"
    assert not results[1].startswith("passed")
    assert not results[2].startswith("passed")
    assert results[3] == "timed out"                      # killed by the supervisor: SYS
    assert results[4] == "timed out"                      # the wall limit
    assert results[5] == "passed" and results[6] == "passed", results
    # the sandboxes' own verdicts: the forbidden call is SYS, the blocked
    # timer a TLE; the memory bomb is MLE where a memory cgroup holds it
    assert st.get("SYS") == 1 and st.get("TLE") == 1, st
    if corral.mode == "root":
        assert st.get("MLE") == 1, st
    # nothing left: no warm interpreter, no sample's daemon, no cgroup
    assert processes_matching(b"warm_zygote.py") == []
    assert processes_matching(b"humaneval_runner.py") == []
    assert host_snapshot()[2] == before[2]


def test_cold_and_warm_agree_on_the_fidelity_traps(corral, work):
    from test_eval import FIDELITY
    warm = run(corral, work, [c for c, _ in FIDELITY], "--timeout", "1")
    cold = run(corral, work, [c for c, _ in FIDELITY], "--timeout", "1", "--cold", name="c.jsonl")
    assert warm == cold == [want for _, want in FIDELITY]


SIBLINGS = r'''
    import posix, time
    # HumanEval's guard sets os.fork and os.kill to None: posix has them.
    r, w = posix.pipe()
    a = posix.fork()
    if a == 0:
        secret = b"SIBLING-" + b"s" * 24
        posix.write(w, b"%d\n" % id(secret))
        time.sleep(5)
        posix._exit(0)
    addr = int(posix.read(r, 64))
    got = []
    for who in (a, posix.getpid()):
        b = posix.fork()
        if b == 0:
            try:
                with open("/proc/%d/mem" % who, "rb") as f:
                    f.seek(addr if who == a else 0)
                    f.read(16)
                    posix.write(w, b"read\n")
            except OSError as e:
                posix.write(w, b"%d\n" % e.errno)
            posix._exit(0)
        posix.waitpid(b, 0)
        got.append(posix.read(r, 64).decode().strip())
    posix.kill(a, 9)
    posix.waitpid(a, 0)
    raise Exception(repr(got))
'''


def test_a_samples_processes_cannot_read_each_others_memory(corral, work):
    # ptrace and process_vm_readv are kill rules; /proc/PID/mem of a
    # sibling or of the parent was readable all the same (the same uid,
    # dumpable).  Warm and cold, the sample's processes are not dumpable:
    # hidepid hides them from each other (ENOENT).
    for extra in ((), ("--cold",)):
        res = run(corral, work, [SIBLINGS], *extra, name=f"m{len(extra)}.jsonl")
        assert res[0].startswith("failed: ["), res
        got = ast.literal_eval(res[0][len("failed: "):])
        assert got == ["2", "2"], (extra, got)

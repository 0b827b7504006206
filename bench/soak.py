#!/usr/bin/env python3
"""Soak: many `corral run`s of programs with known verdicts, J at a time,
then what is left behind.  Run from a build tree:

    python3 bench/soak.py [N] [J] [CORRAL]     (default 2000 runs, 4 at once)

Each run is one of: a clean exit (OK), exit 3 (RE), SIGSEGV (SIG), an
infinite loop under --wall 1 (TLE), a memory hog under --memory 64M (MLE),
ptrace (SYS), a fork bomb under --pids 32, and 120 inotify instances held
for 0.3 s (OK: a run's per-user kernel limits are its own, see
corral-run(1)).  Prints the wrong verdicts, then the leaks: processes
carrying the soak's marker, mounts and run cgroups that were not there
before, and (as root) lease files of /run/corral/owners still locked."""
import fcntl
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
J = int(sys.argv[2]) if len(sys.argv) > 2 else 4
CORRAL = sys.argv[3] if len(sys.argv) > 3 else "./corral"
MARK = f"corral-soak-{os.getpid()}"
PY = "/usr/bin/python3"

CASES = [
    ("OK", [], ["/bin/bash", "-c", f"exec -a {MARK} /bin/true"]),
    ("RE", [], ["/bin/sh", "-c", "exit 3"]),
    ("SIG", [], [PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]),
    ("TLE", ["--wall", "1"], ["/bin/bash", "-c", f"exec -a {MARK} /bin/sh -c 'while :; do :; done'"]),
    ("MLE", ["--memory", "64M"], [PY, "-c", "b = []\nwhile True: b.append(bytearray(1 << 20))"]),
    ("SYS", [], [PY, "-c", "import ctypes; ctypes.CDLL(None).ptrace(0, 0, 0, 0)"]),
    (None, ["--pids", "32", "--wall", "3"], [PY, "-c", "import os\nwhile True:\n    try: os.fork()\n"
                                                    "    except OSError: pass"]),
    ("OK", [], [PY, "-c", "import ctypes, time\nl = ctypes.CDLL(None)\n"
                          "n = sum(l.inotify_init1(0) >= 0 for _ in range(120))\n"
                          "assert n == 120, n\ntime.sleep(0.3)"]),
]


def snapshot():
    mounts = sum(1 for line in open("/proc/self/mountinfo") if "corral" in line)
    cgs = []
    for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/pids",
                 "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/memory"):
        for root, dirs, _ in os.walk(base):
            cgs += [os.path.join(root, d) for d in dirs if d.startswith("corral-")
                    and not d.startswith("corral-probe")]
            if root.count("/") > 7:
                dirs[:] = []
    return mounts, sorted(cgs)


def marked():
    found = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if MARK.encode() in open(f"/proc/{p}/cmdline", "rb").read():
                    found.append(int(p))
            except OSError:
                pass
    return found


def one(i):
    want, opts, argv = CASES[i % len(CASES)]
    p = subprocess.run([CORRAL, "run", "--json", *opts, "--", *argv], capture_output=True, text=True,
                       timeout=120)
    try:
        r = json.loads(p.stdout)
    except ValueError:
        return i, want, f"no result (exit {p.returncode}): {p.stderr.strip()[:200]}"
    return i, want, r["status"]


def main():
    before = snapshot()
    t0 = time.time()
    wrong, counts = [], {}
    with ThreadPoolExecutor(J) as ex:
        for i, want, got in ex.map(one, range(N)):
            counts[got] = counts.get(got, 0) + 1
            if want is not None and got != want:
                wrong.append((i, want, got))
    el = time.time() - t0
    time.sleep(0.5)
    after = snapshot()
    left = marked()
    locked = []
    if os.geteuid() == 0 and os.path.isdir("/run/corral/owners"):
        for name in os.listdir("/run/corral/owners"):
            fd = os.open(os.path.join("/run/corral/owners", name), os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                locked.append(name)
            finally:
                os.close(fd)
    print(f"soak: {N} runs, {J} at once, {el:.0f} s ({N / el:.1f} runs/s) as "
          f"{'root' if os.geteuid() == 0 else 'uid %d' % os.geteuid()}")
    print(f"  verdicts: {dict(sorted(counts.items(), key=str))}")
    print(f"  wrong verdicts: {len(wrong)} {wrong[:5]}")
    print(f"  leaked: {len(left)} processes, {after[0] - before[0]} mounts, "
          f"{len(set(after[1]) - set(before[1]))} cgroups, {len(locked)} owner leases")
    return 1 if wrong or left or after[0] != before[0] or set(after[1]) - set(before[1]) or locked else 0


if __name__ == "__main__":
    sys.exit(main())

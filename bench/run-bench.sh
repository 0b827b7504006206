#!/usr/bin/env bash
# Median wall time of one sandboxed /bin/true: corral (cgroup limits +
# seccomp + namespaces + pivot_root) against bubblewrap (namespaces only),
# interleaved so both see the same machine state.
#   bench/run-bench.sh [N] [CORRAL]      (default N=300, CORRAL=./corral)
set -euo pipefail
N=${1:-300}
CORRAL=${2:-./corral}
command -v bwrap >/dev/null || { echo "bwrap not found: apt-get install bubblewrap" >&2; exit 1; }
[ -x "$CORRAL" ] || { echo "corral binary $CORRAL not found: build first" >&2; exit 1; }

BWRAP=(bwrap --unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/bin /bin
       --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/sbin /sbin
       --proc /proc --dev /dev --tmpfs /tmp /bin/true)
CORRAL_CMD=("$CORRAL" run --memory 256M --pids 64 -- /bin/true)

python3 - "$N" "${#CORRAL_CMD[@]}" "${CORRAL_CMD[@]}" "${BWRAP[@]}" <<'PY'
import statistics, subprocess, sys, time
n = int(sys.argv[1]); k = int(sys.argv[2])
corral = sys.argv[3:3 + k]; bwrap = sys.argv[3 + k:]
def once(cmd):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dt = (time.perf_counter() - t) * 1000
    if r.returncode != 0:
        sys.exit(f"{cmd[0]} failed with {r.returncode}")
    return dt
for _ in range(10):            # warm-up
    once(corral); once(bwrap)
import os
# as root, also without the run's own user namespace (--no-userns: the
# per-user kernel limits shared, see corral-run(1) Per-user kernel limits)
shared = corral[:2] + ["--no-userns"] + corral[2:] if os.geteuid() == 0 else None
c, b, u = [], [], []
for _ in range(n):             # interleaved
    c.append(once(corral)); b.append(once(bwrap))
    if shared:
        u.append(once(shared))
def q(xs, p): return sorted(xs)[int(p * (len(xs) - 1))]
print(f"runs: {n} each, interleaved, /bin/true")
print(f"corral run --memory 256M --pids 64: median {statistics.median(c):.2f} ms  p10 {q(c,.1):.2f}  p90 {q(c,.9):.2f}")
print(f"bwrap --unshare-all ...:             median {statistics.median(b):.2f} ms  p10 {q(b,.1):.2f}  p90 {q(b,.9):.2f}")
if shared:
    print(f"corral run --no-userns ...:         median {statistics.median(u):.2f} ms  p10 {q(u,.1):.2f}  p90 {q(u,.9):.2f}")
print(f"ratio corral/bwrap: {statistics.median(c) / statistics.median(b):.2f}")
PY

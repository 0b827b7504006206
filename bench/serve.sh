#!/usr/bin/env bash
# Throughput of corral serve: trivial Python /run_code requests per second
# at concurrency 64 (default), and the server process's RSS under that load
# (sampled every 50 ms; the workers are separate processes, reported apart).
#   bench/serve.sh [REQUESTS] [CONCURRENCY] [CORRAL]   (default 2000 64 ./corral)
set -euo pipefail
N=${1:-2000}
C=${2:-64}
CORRAL=${3:-./corral}
[ -x "$CORRAL" ] || { echo "corral binary $CORRAL not found: build first" >&2; exit 1; }
log=$(mktemp /tmp/corral-bench-serve.XXXXXX)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$log"' EXIT
"$CORRAL" serve --port 0 --queue 100000 2>"$log" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.05; done
url=$(grep -o 'http://[0-9.]*:[0-9]*' "$log" | head -n 1)
[ -n "$url" ] || { cat "$log" >&2; exit 1; }
python3 - "$url" "$N" "$C" "$pid" <<'PY'
import concurrent.futures as cf, json, os, sys, threading, time, urllib.request
url, n, c, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def rss(p):
    try:
        for line in open(f"/proc/{p}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
def children(p):
    try:
        return [int(x) for x in open(f"/proc/{p}/task/{p}/children").read().split()]
    except OSError:
        return []
peak = {"server": 0, "workers": 0}
stop = False
def sample():
    while not stop:
        peak["server"] = max(peak["server"], rss(pid))
        peak["workers"] = max(peak["workers"], sum(rss(w) for w in children(pid)))
        time.sleep(0.05)
body = json.dumps({"code": "print(1)", "language": "python"}).encode()
def one(_):
    t = time.perf_counter()
    r = json.load(urllib.request.urlopen(urllib.request.Request(url + "/run_code", data=body), timeout=600))
    return r["status"], time.perf_counter() - t
for _ in range(20):
    one(0)  # warm-up
th = threading.Thread(target=sample, daemon=True)
th.start()
t0 = time.perf_counter()
with cf.ThreadPoolExecutor(c) as ex:
    res = list(ex.map(one, range(n)))
el = time.perf_counter() - t0
stop = True
th.join()
lat = sorted(x[1] for x in res)
ok = sum(s == "Success" for s, _ in res)
print(f"{n} trivial Python /run_code requests, concurrency {c}, {os.cpu_count()} CPUs, "
      f"{len(children(pid))} workers")
print(f"  throughput: {n / el:.0f} runs/s ({el:.1f} s), {ok}/{n} Success")
print(f"  latency: p50 {lat[n // 2] * 1000:.0f} ms, p99 {lat[int(n * .99)] * 1000:.0f} ms")
print(f"  server RSS peak: {peak['server'] / 2**20:.1f} MiB (workers together: {peak['workers'] / 2**20:.1f} MiB)")
PY

#!/usr/bin/env bash
# Cost of isolation for evaluation.
# HumanEval: `corral eval humaneval` on the 164
# canonical solutions with -j 2, warm (the default: samples forked from a
# warm interpreter per worker, each into its own sandbox) and --cold (each
# sample starts its own interpreter), next to the floor measured in the
# same run:
# the same 164 check programs as plain `/usr/bin/python3 file.py` (the
# interpreter the sandbox runs) processes, two at a
# time, no isolation.  Each is timed 3 times, interleaved; medians reported.
# LiveCodeBench: `corral eval livecodebench` on the O1-preview generations
# with -j 2, next to the same grader (src/eval/livecodebench_runner.py) run
# on the same jobs as plain python3 processes, two at a time (once each:
# the run takes a while).
#   bench/eval.sh [CORRAL] [DATA]   (defaults: ./corral, ../shared/data)
set -euo pipefail
CORRAL=$(realpath "${1:-./corral}")
DATA=$(realpath "${2:-../shared/data}")
work=$(mktemp -d /tmp/corral-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 - "$DATA/humaneval/HumanEval.jsonl.gz" "$work" <<'PY'
import gzip, json, os, sys
src, work = sys.argv[1], sys.argv[2]
os.makedirs(f"{work}/plain")
with open(f"{work}/canonical.jsonl", "w") as s:
    for i, line in enumerate(gzip.open(src, "rt")):
        r = json.loads(line)
        s.write(json.dumps({"task_id": r["task_id"], "completion": r["canonical_solution"]}) + "\n")
        prog = r["prompt"] + r["canonical_solution"] + "\n" + r["test"] + "\n" + f"check({r['entry_point']})\n"
        open(f"{work}/plain/{i:03d}.py", "w").write(prog)
PY
t_corral=() t_cold=() t_plain=()
for i in 1 2 3; do
  s=$(date +%s.%N)
  "$CORRAL" eval humaneval --problems "$DATA/humaneval/HumanEval.jsonl.gz" \
    --samples "$work/canonical.jsonl" -j 2 --no-progress >/dev/null
  t_corral+=("$(echo "$(date +%s.%N) - $s" | bc)")
  s=$(date +%s.%N)
  "$CORRAL" eval humaneval --problems "$DATA/humaneval/HumanEval.jsonl.gz" \
    --samples "$work/canonical.jsonl" -j 2 --no-progress --cold >/dev/null
  t_cold+=("$(echo "$(date +%s.%N) - $s" | bc)")
  s=$(date +%s.%N)
  ls "$work"/plain/*.py | xargs -P 2 -n 1 /usr/bin/python3 >/dev/null
  t_plain+=("$(echo "$(date +%s.%N) - $s" | bc)")
done
med () { printf '%s\n' "$@" | sort -n | sed -n 2p; }
c=$(med "${t_corral[@]}") k=$(med "${t_cold[@]}") p=$(med "${t_plain[@]}")
echo "164 canonical HumanEval solutions, 2 at a time, median of 3 (interleaved):"
printf '  corral eval humaneval -j 2 (warm):     %.2f s  ratio %.2f\n' "$c" "$(echo "$c / $p" | bc -l)"
printf '  corral eval humaneval -j 2 --cold:     %.2f s  ratio %.2f\n' "$k" "$(echo "$k / $p" | bc -l)"
printf '  plain python3 file.py, 2 at once:      %.2f s\n' "$p"

# ---- LiveCodeBench ----
here=$(cd "$(dirname "$0")/.." && pwd)
python3 - "$DATA/livecodebench" "$work" <<'PY'
import base64, json, os, pickle, sys, zlib
src, work = sys.argv[1], sys.argv[2]
os.makedirs(f"{work}/jobs")
def tests(t):
    try:
        return json.loads(t)
    except ValueError:
        return json.loads(pickle.loads(zlib.decompress(base64.b64decode(t))))
probs = {}
for line in open(f"{src}/lcb_public_879.jsonl"):
    r = json.loads(line)
    probs[r["question_id"]] = r
for i, s in enumerate(json.load(open(f"{src}/o1_preview_samples.json"))):
    r = probs.get(s["question_id"])
    if r is None:
        continue
    t = tests(r["public_test_cases"]) + tests(r["private_test_cases"])
    job = {"timeout": 6, "fn_name": json.loads(r["metadata"]).get("func_name"),
           "code": s["code_list"][0], "tests": [[x["input"], x["output"]] for x in t]}
    json.dump(job, open(f"{work}/jobs/{i:04d}.json", "w"))
PY
s=$(date +%s.%N)
"$CORRAL" eval livecodebench --problems "$DATA/livecodebench/lcb_public_879.jsonl" \
  --samples "$DATA/livecodebench/o1_preview_samples.json" --out "$work/lcb_out.json" \
  -j 2 --no-progress >/dev/null 2>&1 || true
lc=$(echo "$(date +%s.%N) - $s" | bc)
s=$(date +%s.%N)
"$CORRAL" eval livecodebench --problems "$DATA/livecodebench/lcb_public_879.jsonl" \
  --samples "$DATA/livecodebench/o1_preview_samples.json" --out "$work/lcb_cold.json" \
  -j 2 --no-progress --cold >/dev/null 2>&1 || true
lk=$(echo "$(date +%s.%N) - $s" | bc)
s=$(date +%s.%N)
ls "$work"/jobs/*.json | xargs -P 2 -I{} sh -c "/usr/bin/python3 '$here/src/eval/livecodebench_runner.py' < '{}' >/dev/null 2>&1 || true"
lp=$(echo "$(date +%s.%N) - $s" | bc)
echo "879 O1-preview LiveCodeBench generations, 2 at a time, once each:"
printf '  corral eval livecodebench -j 2 (warm):     %.2f s  ratio %.2f\n' "$lc" "$(echo "$lc / $lp" | bc -l)"
printf '  corral eval livecodebench -j 2 --cold:     %.2f s  ratio %.2f\n' "$lk" "$(echo "$lk / $lp" | bc -l)"
printf '  the same grader, plain python3, 2 at once: %.2f s\n' "$lp"

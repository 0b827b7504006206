#!/usr/bin/env bash
# Cost of isolation for evaluation: `corral eval humaneval` on the 164
# canonical solutions with -j 2, next to the floor measured in the same run:
# the same 164 check programs as plain `/usr/bin/python3 file.py` (the
# interpreter the sandbox runs) processes, two at a
# time, no isolation.  Each is timed 3 times, interleaved; medians reported.
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
t_corral=() t_plain=()
for i in 1 2 3; do
  s=$(date +%s.%N)
  "$CORRAL" eval humaneval --problems "$DATA/humaneval/HumanEval.jsonl.gz" \
    --samples "$work/canonical.jsonl" -j 2 --no-progress >/dev/null
  t_corral+=("$(echo "$(date +%s.%N) - $s" | bc)")
  s=$(date +%s.%N)
  ls "$work"/plain/*.py | xargs -P 2 -n 1 /usr/bin/python3 >/dev/null
  t_plain+=("$(echo "$(date +%s.%N) - $s" | bc)")
done
med () { printf '%s\n' "$@" | sort -n | sed -n 2p; }
c=$(med "${t_corral[@]}") p=$(med "${t_plain[@]}")
echo "164 canonical HumanEval solutions, 2 at a time, median of 3 (interleaved):"
printf '  corral eval humaneval -j 2:     %.2f s\n' "$c"
printf '  plain python3 file.py, 2 at once: %.2f s\n' "$p"
printf '  ratio: %.2f\n' "$(echo "$c / $p" | bc -l)"

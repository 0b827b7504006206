"""corral eval humaneval: agreement with openai/human-eval's own verdicts
on the real data in ../shared/data, sample by sample."""
import gzip
import json
import os
import shutil

import pytest

DATA = os.environ.get("CORRAL_SHARED_DATA") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")
HE = os.path.join(DATA, "humaneval")

pytestmark = pytest.mark.skipif(not os.path.isdir(HE), reason=f"no shared data at {DATA}")


@pytest.fixture
def work(corral, shared_tmp):
    """A directory the test's corral user can write, with the problems."""
    if corral.mode == "user":
        os.chown(shared_tmp, 65534, 65534)
    shutil.copy(os.path.join(HE, "HumanEval.jsonl.gz"), shared_tmp)
    shutil.copy(os.path.join(HE, "example_problem.jsonl"), shared_tmp)
    for f in shared_tmp.iterdir():
        os.chmod(f, 0o644)
    return shared_tmp


def write_samples(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    os.chmod(path, 0o666)


def evaluate(corral, work, samples, *extra, problems="HumanEval.jsonl.gz"):
    p = corral.cli("eval", "humaneval", "--problems", str(work / problems),
                   "--samples", str(samples), "--json", *extra, timeout=600)
    summary = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else None
    results = []
    out = str(samples) + "_results.jsonl"
    if os.path.exists(out):
        results = [json.loads(l) for l in open(out)]
    return p, summary, results


def test_official_example(corral, work):
    s = work / "example_samples.jsonl"
    shutil.copy(os.path.join(HE, "example_samples.jsonl"), s)
    os.chmod(s, 0o666)
    p, summary, results = evaluate(corral, work, s, problems="example_problem.jsonl")
    assert p.returncode == 0, p.stderr
    assert summary["pass_at_k"] == {"pass@1": 0.5}
    assert [r["result"] for r in results] == [
        "failed: 'NoneType' object is not callable",  # subprocess is disabled: rm -rf never runs
        "timed out",                                  # time.sleep(10)
        "failed: ",                                   # input() raises IOError
        "passed", "passed", "passed"]
    assert [r["passed"] for r in results] == [False, False, False, True, True, True]


def test_canonical_solutions_all_pass(corral, work):
    rows = [json.loads(l) for l in gzip.open(os.path.join(HE, "HumanEval.jsonl.gz"), "rt")]
    s = work / "canonical.jsonl"
    write_samples(s, [{"task_id": r["task_id"], "completion": r["canonical_solution"]} for r in rows])
    p, summary, results = evaluate(corral, work, s, "-j", "2")
    assert p.returncode == 0, p.stderr
    assert summary["samples"] == 164 and summary["passed"] == 164
    assert summary["pass_at_k"] == {"pass@1": 1}
    assert all(r["result"] == "passed" for r in results)


def test_wizardcoder_agrees_with_reference_sample_by_sample(corral, work):
    ref = [json.loads(l) for l in open(os.path.join(HE, "wizardcoder15b_samples_results.jsonl"))]
    s = work / "wizard.jsonl"
    write_samples(s, [{"task_id": r["task_id"], "completion": r["completion"]} for r in ref])
    p, summary, results = evaluate(corral, work, s, "-j", "2")
    assert p.returncode == 0, p.stderr
    assert len(results) == len(ref) == 164
    mismatches = [(r["task_id"], r["result"], g["result"]) for r, g in zip(ref, results)
                  if r["passed"] != g["passed"]]
    assert mismatches == []
    assert summary["passed"] == 98
    assert abs(summary["pass_at_k"]["pass@1"] - 98 / 164) < 1e-12


FIDELITY = [
    # early exits before the asserts must fail, as in the reference
    ("    exit(0)\n", "failed: 'NoneType' object is not callable"),
    ("    quit()\n", "failed: 'NoneType' object is not callable"),
    ("    import sys\n    sys.exit(0)\n", "failed: 0"),
    ("    import os\n    os._exit(0)\n", "timed out"),
    # output is swallowed: printing a lot does not fail a sample
    ("    print('x' * 100000)\n    for i in range(2000): print(i)\n    return 1\n", "passed"),
    # the guard's disabled functions
    ("    import os\n    os.system('true')\n    return 1\n", "failed: 'NoneType' object is not callable"),
    ("    import shutil\n    shutil.rmtree('/tmp')\n    return 1\n", "failed: 'NoneType' object is not callable"),
    ("    from subprocess import Popen\n    Popen(['true'])\n    return 1\n",
     "failed: 'NoneType' object is not callable"),
    ("    import subprocess\n    subprocess.run(['true'])\n    return 1\n",
     "failed: 'NoneType' object is not callable"),
    ("    import os\n    return 1 if os.environ['OMP_NUM_THREADS'] == '1' else 0\n", "passed"),
    ("    import resource\n    return 1\n", "failed: import of resource halted; None in sys.modules"),
    # reading stdin fails
    ("    import sys\n    return int(sys.stdin.readline() or 1)\n", "failed: "),
    # an infinite loop is timed out by the runner's timer
    ("    while True: pass\n", "timed out"),
]


def test_reference_fidelity_traps(corral, work):
    s = work / "traps.jsonl"
    write_samples(s, [{"task_id": "test/0", "completion": c} for c, _ in FIDELITY])
    p, summary, results = evaluate(corral, work, s, "--timeout", "1",
                                   problems="example_problem.jsonl")
    assert p.returncode == 0, p.stderr
    assert [r["result"] for r in results] == [want for _, want in FIDELITY]


def test_bad_rows_are_reported_with_line_numbers(corral, work):
    s = work / "bad.jsonl"
    write_samples(s, [
        {"task_id": "test/0", "completion": "    return 1"},
        "{not json",
        {"task_id": "test/9", "completion": "    return 1"},
        {"completion": "    return 1"},
        {"task_id": "test/0"},
        "",
        {"task_id": "test/0", "completion": "    return 2"},
    ])
    p, summary, results = evaluate(corral, work, s, problems="example_problem.jsonl")
    assert p.returncode == 1
    assert ":2: not a JSON object" in p.stderr
    assert ":3: task_id not among the problems" in p.stderr
    assert ':4: no string "task_id"' in p.stderr
    assert ':5: no string "completion"' in p.stderr
    assert [r["passed"] for r in results] == [True, False]
    assert summary["samples"] == 2


def test_resume_keeps_finished_samples(corral, work):
    s = work / "resume.jsonl"
    write_samples(s, [{"task_id": "test/0", "completion": "    return 1"},
                      {"task_id": "test/0", "completion": "    return 2"}])
    out = str(s) + "_results.jsonl"
    # a previous, partial results file whose verdict differs from a rerun's
    with open(out, "w") as f:
        f.write(json.dumps({"task_id": "test/0", "completion": "    return 2",
                            "result": "passed", "passed": True}) + "\n")
    os.chmod(out, 0o666)
    p, summary, results = evaluate(corral, work, s, "--resume", problems="example_problem.jsonl")
    assert p.returncode == 0, p.stderr
    assert "resuming: 1 of 2" in p.stderr
    assert [r["passed"] for r in results] == [True, True]  # the second was kept, not rerun


def test_pass_at_k_with_several_samples_per_task(corral, work):
    s = work / "multi.jsonl"
    comps = ["    return 1"] * 3 + ["    return 0"] * 7
    write_samples(s, [{"task_id": "test/0", "completion": c} for c in comps])
    p, summary, results = evaluate(corral, work, s, "--k", "1,5,10,20",
                                   problems="example_problem.jsonl")
    assert p.returncode == 0, p.stderr
    pk = summary["pass_at_k"]
    # n=10, c=3: pass@1 = 0.3; pass@5 = 1 - C(7,5)/C(10,5) = 1 - 21/252; pass@10 = 1
    assert abs(pk["pass@1"] - 0.3) < 1e-12
    assert abs(pk["pass@5"] - (1 - 21 / 252)) < 1e-12
    assert pk["pass@10"] == 1
    assert "pass@20" not in pk  # not every task has 20 samples


@pytest.mark.parametrize("args,needle", [
    (["eval"], "Usage"),
    (["eval", "mbpp"], "unknown benchmark `mbpp`"),
    (["eval", "livecodebench", "--difficulty", "brutal"], "not easy, medium or hard"),
    (["eval", "livecodebench", "--start-date", "2024-13-01"], "bad date"),
    (["eval", "humaneval", "--platform", "x", "--problems", "x", "--samples", "y"], "for livecodebench"),
    (["eval", "humaneval"], "needs --problems FILE and --samples FILE"),
    (["eval", "humaneval", "-j", "0", "--problems", "x", "--samples", "y"], "bad worker count"),
    (["eval", "humaneval", "--timeout", "-1", "--problems", "x", "--samples", "y"], "bad duration"),
    (["eval", "humaneval", "--k", "1,x", "--problems", "x", "--samples", "y"], "bad list"),
    (["eval", "humaneval", "--bogus"], "unknown option `--bogus`"),
])
def test_bad_eval_options(corral, args, needle):
    p = corral.cli(*args)
    assert p.returncode == 2 and needle in p.stderr, p.stderr


def test_missing_or_bad_problem_file(corral, work):
    s = work / "s.jsonl"
    write_samples(s, [{"task_id": "test/0", "completion": "    return 1"}])
    p = corral.cli("eval", "humaneval", "--problems", str(work / "nope.jsonl"), "--samples", str(s))
    assert p.returncode == 125 and "nope.jsonl" in p.stderr
    bad = work / "badprob.jsonl"
    write_samples(bad, [{"task_id": "x"}])
    p = corral.cli("eval", "humaneval", "--problems", str(bad), "--samples", str(s))
    assert p.returncode == 125 and "badprob.jsonl:1: not a HumanEval problem" in p.stderr

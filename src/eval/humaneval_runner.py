# humaneval_runner.py - runs one HumanEval check program inside a corral
# sandbox with the semantics of openai/human-eval's execution.py: the
# program is exec'd in a fresh namespace under reliability_guard(), with
# stdout/stderr swallowed, stdin raising on read, and a real-time limit
# around exec only (interpreter start-up excluded).  Result strings are the
# reference's: "passed", "timed out", "failed: <exception text>".  A program
# that ends the process before reporting (os._exit) reports nothing, which
# the driver counts as "timed out", as the reference does.
#
# Input: the check program on stdin; CORRAL_TIMEOUT (seconds) and
# CORRAL_NONCE in the environment.  Output: one line, NONCE + JSON string.
import contextlib
import io
import os
import signal
import sys
import json as _json

_program = sys.stdin.read()
_nonce = os.environ.pop("CORRAL_NONCE", "")
_timeout = float(os.environ.pop("CORRAL_TIMEOUT", "3.0"))
_report = os.fdopen(os.dup(1), "w")


class TimeoutException(Exception):
    pass


class WriteOnlyStringIO(io.StringIO):
    """StringIO that throws an exception when it's read from"""

    def read(self, *args, **kwargs):
        raise IOError

    def readline(self, *args, **kwargs):
        raise IOError

    def readlines(self, *args, **kwargs):
        raise IOError

    def readable(self, *args, **kwargs):
        return False


class redirect_stdin(contextlib._RedirectStream):  # type: ignore
    _stream = "stdin"


@contextlib.contextmanager
def swallow_io():
    stream = WriteOnlyStringIO()
    with contextlib.redirect_stdout(stream):
        with contextlib.redirect_stderr(stream):
            with redirect_stdin(stream):
                yield


@contextlib.contextmanager
def time_limit(seconds):
    def signal_handler(signum, frame):
        raise TimeoutException("Timed out!")
    signal.setitimer(signal.ITIMER_REAL, seconds)
    signal.signal(signal.SIGALRM, signal_handler)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def reliability_guard():
    import faulthandler
    faulthandler.disable()

    import builtins
    builtins.exit = None
    builtins.quit = None

    os.environ["OMP_NUM_THREADS"] = "1"

    os.kill = None
    os.system = None
    os.putenv = None
    os.remove = None
    os.removedirs = None
    os.rmdir = None
    os.fchdir = None
    os.setuid = None
    os.fork = None
    os.forkpty = None
    os.killpg = None
    os.rename = None
    os.renames = None
    os.truncate = None
    os.replace = None
    os.unlink = None
    os.fchmod = None
    os.fchown = None
    os.chmod = None
    os.chown = None
    os.chroot = None
    os.fchdir = None
    os.lchflags = None
    os.lchmod = None
    os.lchown = None
    os.getcwd = None
    os.chdir = None

    import shutil
    shutil.rmtree = None
    shutil.move = None
    shutil.chown = None

    import subprocess
    subprocess.Popen = None  # type: ignore

    __builtins__.help = None

    sys.modules["ipdb"] = None
    sys.modules["joblib"] = None
    sys.modules["resource"] = None
    sys.modules["psutil"] = None
    sys.modules["tkinter"] = None


def _main():
    # the reference runs in a fresh temporary directory
    import tempfile
    os.chdir(tempfile.mkdtemp())
    reliability_guard()
    try:
        exec_globals = {}
        with swallow_io():
            with time_limit(_timeout):
                exec(_program, exec_globals)
        result = "passed"
    except TimeoutException:
        result = "timed out"
    except BaseException as e:
        result = f"failed: {e}"
    _report.write(_nonce + _json.dumps(result) + "\n")
    _report.flush()


_main()

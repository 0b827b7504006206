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
#
# Start-up matters (it is paid per sample): nothing is imported that the
# interpreter has not loaded already.  subprocess and shutil are patched
# the moment something imports them (an import hook), which is what the
# reference's eager import-and-patch amounts to for the sample's code.
# numpy (and tqdm) are loaded in the reference's parent process
# (human_eval/evaluation.py imports them) before any child applies the
# guard: a sample's `import numpy` finds it loaded there, so here the same
# hook imports it with the guard lifted for the length of numpy's own
# import, as if it had been loaded before.
import io
import os
import sys
import _signal

_program = sys.stdin.read()
_nonce = os.environ.pop("CORRAL_NONCE", "")
_timeout = float(os.environ.pop("CORRAL_TIMEOUT", "3.0"))
_report = os.fdopen(os.dup(1), "w")
_exit = os._exit  # the sample's code may rebind os._exit


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


def _signal_handler(signum, frame):
    raise TimeoutException("Timed out!")


def _json_string(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif o < 0x20 or 0xD800 <= o <= 0xDFFF:
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_PATCHES = {
    "subprocess": {"Popen": None},
    "shutil": {"rmtree": None, "move": None, "chown": None},
}


_PRELOADED = ("numpy", "tqdm")
_guarded = []  # (object, attribute, original value) the guard replaced
_lifted = False


def _patch_loaded():
    for name, fields in _PATCHES.items():
        if name in sys.modules:
            for k, v in fields.items():
                setattr(sys.modules[name], k, v)


def _guard_set(obj, name, value):
    _guarded.append((obj, name, getattr(obj, name, None)))
    setattr(obj, name, value)


class _GuardImports:
    """Sets the reference guard's attributes on subprocess and shutil as
    soon as they are loaded, before the importer sees them; loads numpy
    and tqdm with the guard lifted."""

    def find_spec(self, name, path=None, target=None):
        fields = _PATCHES.get(name)
        if fields is None and name not in _PRELOADED:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        load = spec.loader.exec_module

        def exec_module(module):
            global _lifted
            if fields is not None:
                load(module)
                if not _lifted:
                    for k, v in fields.items():
                        setattr(module, k, v)
                return
            now = [(obj, k, getattr(obj, k, None)) for obj, k, _ in _guarded]
            for obj, k, v in _guarded:
                setattr(obj, k, v)
            _lifted = True
            try:
                load(module)
            finally:
                _lifted = False
                for obj, k, v in now:
                    setattr(obj, k, v)
                _patch_loaded()
        spec.loader.exec_module = exec_module
        return spec


def reliability_guard():
    import faulthandler
    faulthandler.disable()

    import builtins
    _guard_set(builtins, "exit", None)
    _guard_set(builtins, "quit", None)

    os.environ["OMP_NUM_THREADS"] = "1"

    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid",
                 "fork", "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink",
                 "fchmod", "fchown", "chmod", "chown", "chroot", "lchflags", "lchmod",
                 "lchown", "getcwd", "chdir"):
        _guard_set(os, name, None)

    _patch_loaded()
    sys.meta_path.insert(0, _GuardImports())

    __builtins__.help = None

    sys.modules["ipdb"] = None
    sys.modules["joblib"] = None
    sys.modules["resource"] = None
    sys.modules["psutil"] = None
    sys.modules["tkinter"] = None


def _not_dumpable():
    """The sample's processes are not dumpable, as a warm sample's are
    (they inherit the warm interpreter's): none of them reads another's memory
    through /proc/PID/mem, ptrace being a kill rule, and hidepid keeps
    them out of each other's /proc.  Its forks inherit it."""
    import ctypes
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE


def _main():
    # the reference runs in a fresh temporary directory (this /tmp is the
    # sandbox's own)
    work = "/tmp/corral-work-%d" % os.getpid()
    os.mkdir(work, 0o700)
    os.chdir(work)
    _not_dumpable()
    reliability_guard()
    stream = WriteOnlyStringIO()
    saved = sys.stdout, sys.stderr, sys.stdin
    try:
        exec_globals = {}
        # swallow_io() and time_limit() of the reference, inlined
        sys.stdout = sys.stderr = sys.stdin = stream
        try:
            _signal.setitimer(_signal.ITIMER_REAL, _timeout)
            _signal.signal(_signal.SIGALRM, _signal_handler)
            try:
                exec(_program, exec_globals)
            finally:
                _signal.setitimer(_signal.ITIMER_REAL, 0)
        finally:
            sys.stdout, sys.stderr, sys.stdin = saved
        result = "passed"
    except TimeoutException:
        result = "timed out"
    except BaseException as e:
        result = f"failed: {e}"
    _report.write(_nonce + _json_string(result) + "\n")
    _report.flush()
    # The reference's check program ends with its multiprocessing child,
    # which leaves with os._exit: no atexit handlers, no interpreter
    # finalization (a third of a short sample's run).
    _exit(0)


_main()

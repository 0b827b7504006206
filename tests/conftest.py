"""Test fixtures: drive the real corral binary, as root and as an
unprivileged user (through user namespaces), on real kernels features.

Environment (set by `make check`): CORRAL (binary), CORRAL_HOSTILE (static
hostile helper), CORRAL_POLICY_DIR.
"""
import collections
import json
import os
import shutil
import stat
import subprocess
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
NOBODY = 65534


def _find(env, *cands):
    path = os.environ.get(env)
    if path:
        return path
    for c in cands:
        if os.path.exists(c):
            return c
    pytest.exit(f"{env} is not set and no built binary was found; run `make check`", 2)


CORRAL = _find("CORRAL", os.path.join(SRCDIR, "corral"))
HOSTILE = _find("CORRAL_HOSTILE", os.path.join(SRCDIR, "tests/helpers/hostile"))
POLICY_DIR = os.environ.get("CORRAL_POLICY_DIR", os.path.join(SRCDIR, "policies"))

# Small real fixtures ship in tests/data; the benchmark data of the
# agreement tests (model samples, the official graders' verdicts) does not,
# and lives in the project's ../shared/data, or CORRAL_SHARED_DATA.
TESTS_DATA = os.path.join(HERE, "data")
SHARED_DATA = os.environ.get("CORRAL_SHARED_DATA") or os.path.join(os.path.dirname(SRCDIR), "shared", "data")


def data_copy(rel, dest):
    """A world-readable copy of tests/data/rel in the directory dest (the
    clone itself may be out of the unprivileged test user's reach)."""
    out = os.path.join(str(dest), os.path.basename(rel))
    shutil.copy(os.path.join(TESTS_DATA, rel), out)
    os.chmod(out, 0o644)
    return out


def shared_data(rel):
    """The path of rel in the shared benchmark data; skips the test, with
    the reason, in a clone that has none."""
    path = os.path.join(SHARED_DATA, rel)
    if not os.path.exists(path):
        pytest.skip("agreement data not here: the benchmark samples and the official graders' "
                    "verdicts are in the project's ../shared/data (or set CORRAL_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def world():
    """A world-readable copy of the binaries and policies, so that an
    unprivileged user can run them wherever the build tree lives."""
    d = tempfile.mkdtemp(prefix="corral-test-", dir="/tmp")
    os.chmod(d, 0o755)
    serve = os.path.join(os.path.dirname(CORRAL), "corral-serve")  # `corral serve` runs it
    for src, name in ((CORRAL, "corral"), (HOSTILE, "hostile"), (serve, "corral-serve")):
        if name == "corral-serve" and not os.path.exists(src):
            continue
        shutil.copy(src, os.path.join(d, name))
        os.chmod(os.path.join(d, name), 0o755)
    pol = os.path.join(d, "policies")
    shutil.copytree(POLICY_DIR, pol)
    for root, dirs, files in os.walk(pol):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    yield d
    shutil.rmtree(d, ignore_errors=True)


MODES = ["root", "user"] if os.geteuid() == 0 else ["user"]


class Corral:
    """Runs `corral` as root or as an unprivileged user."""

    def __init__(self, mode, world):
        self.mode = mode
        self.world = world
        self.bin = os.path.join(world, "corral")
        self.hostile = os.path.join(world, "hostile")

    def argv(self, args):
        cmd = [self.bin] + list(args)
        if self.mode == "user" and os.geteuid() == 0:
            cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                   "--"] + cmd
        return cmd

    def env(self):
        e = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
             "CORRAL_POLICY_DIR": os.path.join(self.world, "policies")}
        return e

    def cli(self, *args, timeout=60, input=None, stdin=None, env=None):
        """Runs corral with args; returns CompletedProcess (text)."""
        return subprocess.run(self.argv(args), capture_output=True, text=True,
                              timeout=timeout, env={**self.env(), **(env or {})}, input=input,
                              stdin=stdin if input is None else None)

    def run(self, *cmd, opts=(), timeout=60):
        """`corral run --json OPTS -- CMD`; returns the parsed result."""
        p = self.cli("run", "--json", *opts, "--", *cmd, timeout=timeout)
        assert p.stdout.strip(), f"no JSON result; rc={p.returncode} stderr={p.stderr!r}"
        res = json.loads(p.stdout)
        res["_rc"] = p.returncode
        res["_stderr"] = p.stderr
        return res

    def hostile_run(self, *args, opts=(), timeout=60):
        """Runs the static hostile helper, bound read-only at /h."""
        return self.run("/h/hostile", *args,
                        opts=("--bind", f"{self.world}:/h:ro") + tuple(opts), timeout=timeout)

    def py(self, code, opts=(), timeout=60):
        return self.run("/usr/bin/python3", "-c", code, opts=opts, timeout=timeout)


@pytest.fixture(params=MODES)
def corral(request, world):
    return Corral(request.param, world)


@pytest.fixture
def shared_tmp():
    """A temporary directory that the unprivileged test user can reach
    (pytest's own tmp_path lives under a 0700 directory)."""
    import pathlib
    d = tempfile.mkdtemp(prefix="corral-t-", dir="/tmp")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def corral_root(world):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    return Corral("root", world)


def host_snapshot():
    """What a run could leak on the host: processes, mounts, cgroups."""
    procs = set()
    for p in os.listdir("/proc"):
        if p.isdigit():
            procs.add(int(p))
    with open("/proc/self/mountinfo") as f:
        mounts = sum(1 for _ in f)
    cgroups = []
    for root, dirs, files in os.walk("/sys/fs/cgroup"):
        for d in dirs:
            if d.startswith("corral-"):
                cgroups.append(os.path.join(root, d))
        # corral only creates flat children of the cgroup it sits in
        if root.count("/") > 7:
            dirs[:] = []
    return procs, mounts, sorted(cgroups)


def processes_matching(needle: bytes):
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if needle in f.read():
                    found.append(int(p))
        except OSError:
            pass
    return found


def pytest_terminal_summary(terminalreporter):
    """What was skipped and why, grouped: printed at the end of the run and
    written to $CORRAL_SKIP_SUMMARY, which `make check` shows."""
    stats = terminalreporter.stats
    reasons = collections.Counter()
    for rep in stats.get("skipped", []):
        r = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        reasons[r.removeprefix("Skipped: ")] += 1
    count = lambda k: sum(1 for r in stats.get(k, []) if getattr(r, "when", "call") in ("call", "setup"))
    lines = [f"pytest: {count('passed')} passed, {count('failed')} failed, {len(stats.get('error', []))} errors, "
             f"{sum(reasons.values())} skipped (details: tests/run-pytest.log)"]
    for reason, n in reasons.most_common():
        lines.append(f"  skipped {n:3d}: {reason}")
    terminalreporter.write_line("")
    for line in lines:
        terminalreporter.write_line(line)
    out = os.environ.get("CORRAL_SKIP_SUMMARY")
    if out:
        with open(out, "w") as f:
            f.write("\n".join(lines) + "\n")

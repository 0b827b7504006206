"""The command line: clear errors on bad input, help, doctor."""
import json

import pytest


@pytest.mark.parametrize("args,needle", [
    (["run", "--bogus", "--", "/bin/true"], "unknown option `--bogus`"),
    (["run", "--memory", "lots", "--", "/bin/true"], "bad size `lots`"),
    (["run", "--memory", "-5M", "--", "/bin/true"], "bad size"),
    (["run", "--memory", "10", "--", "/bin/true"], "at least 1M"),
    (["run", "--pids", "0", "--", "/bin/true"], "bad count"),
    (["run", "--pids", "x", "--", "/bin/true"], "bad count"),
    (["run", "--time", "soon", "--", "/bin/true"], "bad duration"),
    (["run", "--wall", "0", "--", "/bin/true"], "bad duration"),
    (["run", "--cpus", "-1", "--", "/bin/true"], "bad CPU count"),
    (["run", "--net", "wifi", "--", "/bin/true"], "unknown mode `wifi`"),
    (["run", "--bind", "nocolon", "--", "/bin/true"], "expected SRC:DST"),
    (["run", "--bind", "/nonexistent-x:/x", "--", "/bin/true"], "/nonexistent-x"),
    (["run", "--bind", "/usr:relative", "--", "/bin/true"], "absolute DST"),
    (["run", "--tmpfs", "/x:huge", "--", "/bin/true"], "bad size `huge`"),
    (["run", "--cwd", "rel", "--", "/bin/true"], "absolute path"),
    (["run", "--env", "=x", "--", "/bin/true"], "expected K=V"),
    (["run", "--stdin", "/nonexistent-in", "--", "/bin/true"], "/nonexistent-in"),
    (["run", "--memory"], "needs a value"),
    (["run"], "no command given"),
    (["run", "--json"], "no command given"),
    (["frobnicate"], "unknown command `frobnicate`"),
    ([], "Usage"),
])
def test_bad_input_gives_one_clear_line_and_exit_2(corral, args, needle):
    p = corral.cli(*args)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert needle in p.stderr, p.stderr
    assert p.stdout == ""


def test_unknown_policy_is_an_error(corral):
    p = corral.cli("run", "--policy", "no-such-policy", "--", "/bin/true")
    assert p.returncode == 125
    assert "no-such-policy" in p.stderr


def test_bad_policy_file_is_an_error(corral, shared_tmp):
    tmp_path = shared_tmp
    import os
    f = tmp_path / "bad.json"
    f.write_text('{"defaultAction": "SCMP_ACT_NOPE"}')
    os.chmod(tmp_path, 0o755)
    os.chmod(f, 0o644)
    p = corral.cli("run", "--policy", str(f), "--", "/bin/true")
    assert p.returncode == 125
    assert "SCMP_ACT_NOPE" in p.stderr and "defaultAction" in p.stderr


def test_help(corral):
    p = corral.cli("run", "--help")
    assert p.returncode == 0 and "--memory SIZE" in p.stdout
    p = corral.cli("help")
    assert p.returncode == 0 and "doctor" in p.stdout
    p = corral.cli("--version")
    assert p.returncode == 0 and p.stdout.startswith("corral ")


def test_command_flags_are_not_ours(corral):
    r = corral.run("/bin/echo", "--memory", "-n", "x")
    assert r["stdout"] == "--memory -n x\n"


def test_doctor_json(corral):
    p = corral.cli("doctor", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["usable"] is True
    assert d["cgroup"]["mode"] in ("v2", "hybrid", "v1", "none")
    assert d["seccomp"] is True and d["seccomp_notify"] is True
    assert isinstance(d["problems"], list)
    if corral.mode == "user":
        assert d["user_namespaces"] is True


def test_doctor_text(corral):
    p = corral.cli("doctor")
    assert p.returncode == 0
    assert "cgroup mode:" in p.stdout and "verdict:" in p.stdout
    p = corral.cli("doctor", "--frob")
    assert p.returncode == 2 and "--frob" in p.stderr


def test_libcurl_is_not_loaded_for_a_run(corral):
    # libcurl and its ~30 libraries are loaded only by the commands that
    # download (dlopen): a plain run does not pay for them.
    import subprocess
    out = subprocess.run(["ldd", corral.bin], capture_output=True, text=True).stdout
    assert "libcurl" not in out and "libssl" not in out, out

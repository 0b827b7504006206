"""Running programs: exit codes, signals, output, stdin, environment."""
import json
import os
import signal
import subprocess
import time


def test_ok_and_output(corral):
    r = corral.run("/bin/echo", "hello")
    assert r["status"] == "OK"
    assert r["exit_code"] == 0 and r["signal"] is None
    assert r["stdout"] == "hello\n" and r["stderr"] == ""
    assert r["_rc"] == 0
    assert r["wall_ms"] >= 0 and r["cpu_ms"] >= 0


def test_exit_code_is_RE(corral):
    r = corral.hostile_run("exit", "3")
    assert r["status"] == "RE" and r["exit_code"] == 3
    assert r["_rc"] == 3
    assert "code 3" in r["reason"]


def test_signal_is_SIG(corral):
    r = corral.hostile_run("kill", "11")
    assert r["status"] == "SIG" and r["signal"] == 11
    assert r["exit_code"] is None
    assert r["_rc"] == 128 + 11
    assert "SIGSEGV" in r["reason"]


def test_passthrough_exit_status_and_output(corral):
    p = corral.cli("run", "--", "/bin/sh", "-c", "echo out; echo err >&2; exit 7")
    assert p.returncode == 7
    assert p.stdout == "out\n" and p.stderr == "err\n"


def test_passthrough_signal_exit_status(corral):
    p = corral.cli("run", "--bind", f"{corral.world}:/h:ro", "--", "/h/hostile", "kill", "6")
    assert p.returncode == 128 + 6


def test_real_python_program(corral):
    r = corral.py("import sys, json; print(json.dumps({'sum': sum(range(10)), 'v': sys.version_info[0]}))")
    assert r["status"] == "OK", r
    assert json.loads(r["stdout"]) == {"sum": 45, "v": 3}


def test_python_exception_is_RE_with_traceback(corral):
    r = corral.py("raise ValueError('boom')")
    assert r["status"] == "RE" and r["exit_code"] == 1
    assert "ValueError: boom" in r["stderr"]


def test_default_stdin_is_empty(corral):
    r = corral.py("import sys; d = sys.stdin.read(); print(repr(d))")
    assert r["stdout"] == "''\n"


def test_stdin_file(corral, shared_tmp):
    tmp_path = shared_tmp
    f = tmp_path / "in.txt"
    f.write_text("3 4\n")
    os.chmod(tmp_path, 0o755)
    os.chmod(f, 0o644)
    r = corral.py("a, b = map(int, input().split()); print(a * b)", opts=("--stdin", str(f)))
    assert r["status"] == "OK" and r["stdout"] == "12\n"


def test_clean_environment_and_env_option(corral):
    os.environ["CORRAL_SECRET_TEST"] = "leak"
    r = corral.run("/usr/bin/env", opts=("--env", "FOO=bar", "--env", "LANG=C"))
    env = dict(line.split("=", 1) for line in r["stdout"].splitlines())
    assert env["FOO"] == "bar" and env["LANG"] == "C"
    assert env["HOME"] == "/sandbox" and "/usr/bin" in env["PATH"]
    assert "CORRAL_SECRET_TEST" not in env
    assert set(env) <= {"PATH", "HOME", "LANG", "TMPDIR", "FOO"}


def test_cwd_default_and_option(corral):
    assert corral.run("/bin/pwd")["stdout"] == "/sandbox\n"
    assert corral.run("/bin/pwd", opts=("--cwd", "/tmp"))["stdout"] == "/tmp\n"
    r = corral.run("/bin/pwd", opts=("--cwd", "/nonexistent"))
    assert r["status"] == "IE" and "/nonexistent" in r["reason"]


def test_command_not_found_is_IE(corral):
    r = corral.run("no-such-program-xyz")
    assert r["status"] == "IE"
    assert "no-such-program-xyz" in r["reason"]
    assert r["_rc"] == 125


def test_invalid_utf8_output_is_valid_json(corral):
    r = corral.py("import sys; sys.stdout.buffer.write(b'ok\\xff\\xfe\\xc3(end\\n')")
    assert r["status"] == "OK"
    assert r["stdout"] == "ok\ufffd\ufffd\ufffd(end\n"


def test_no_inherited_fds(corral):
    r = corral.hostile_run("fds")
    assert r["stdout"].endswith("0 extra fds\n"), r["stdout"]


def test_workdir_is_writable_and_owned_by_program(corral):
    r = corral.py("import os; open('f','w').write('x'); st=os.stat('.'); print(st.st_uid == os.getuid(), os.listdir('.'))")
    assert r["status"] == "OK", r
    assert r["stdout"] == "True ['f']\n"


def test_first_sigterm_is_forwarded_to_the_program(corral):
    p = subprocess.Popen(corral.argv(["run", "--json", "--", "/bin/sleep", "30"]),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=corral.env())
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=10)
    r = json.loads(out)
    assert r["status"] == "SIG" and r["signal"] == signal.SIGTERM
    assert r["wall_ms"] < 10000

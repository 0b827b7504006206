"""Images made by real tools (tests/realimages.py: mmdebstrap, buildah,
podman save, skopeo to a loopback docker-registry), run as root and
rootless under every entry point: `corral run`, `corral eval --image` and
`corral serve --image`, with what `docker run` does with their config:
WorkingDir (`/`, and one the image does not have), User by name and by
uid:gid, Env, Entrypoint + Cmd, and buildah's layers with whiteouts."""
import json
import os
import shutil

import pytest

import realimages
from conftest import data_copy

NOBODY = 65534


@pytest.fixture(scope="module")
def built():
    try:
        return realimages.images()
    except realimages.Unavailable as e:
        if os.environ.get("CORRAL_REQUIRE_REAL_IMAGES"):
            pytest.fail(f"real images: {e}")
        pytest.skip(f"real images: {e}")


_stores = {}
_imported = set()


@pytest.fixture(scope="module", autouse=True)
def _drop_stores():
    yield
    for d in _stores.values():
        shutil.rmtree(d, ignore_errors=True)
    _stores.clear()
    _imported.clear()


def store_of(corral):
    """One store per mode for the module, owned by the mode's user."""
    import tempfile
    if corral.mode not in _stores:
        d = tempfile.mkdtemp(prefix="corral-realimg-", dir="/tmp")
        os.chmod(d, 0o755)
        if corral.mode == "user":
            os.chown(d, NOBODY, NOBODY)
        _stores[corral.mode] = d
    return _stores[corral.mode]


def imported(corral, built, name, fmt):
    """The image `name` as imported from its `fmt` archive, once a mode."""
    store = store_of(corral)
    tag = f"{name}:{fmt}"
    if (corral.mode, tag) not in _imported:
        p = corral.cli("image", "import", built[name][fmt], "--name", tag, "--store", store, timeout=600)
        assert p.returncode == 0, p.stderr
        _imported.add((corral.mode, tag))
    return tag


def run_on(corral, built, name, fmt, *args, stdin=None, opts=()):
    tag = imported(corral, built, name, fmt)
    extra = ("--stdin", stdin) if stdin else ()
    p = corral.cli("run", "--json", "--image", tag, "--store", store_of(corral), *extra, *opts, *args,
                   timeout=120)
    assert p.stdout.strip(), p.stderr
    r = json.loads(p.stdout)
    r["_stderr"] = p.stderr
    return r


def script(tmp, text):
    f = tmp / "script.py"
    f.write_text(text)
    os.chmod(f, 0o644)
    return str(f)


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_workdir_root_and_cmd_run_as_docker_run_does(corral, built, fmt, shared_tmp):
    """`WORKDIR /` and CMD ["python3"]: no command given runs the Cmd (here
    python3 reading the script on stdin), arguments replace it."""
    s = script(shared_tmp, "import os, sys, numpy\nprint(os.getcwd(), numpy.array([2, 3]).prod(), sys.argv)\n")
    r = run_on(corral, built, "py", fmt, stdin=s)
    assert r["status"] == "OK", r
    assert r["stdout"] == "/ 6 ['']\n", r
    r = run_on(corral, built, "py", fmt, "--", "python3", "-c", "import os; print(os.getcwd(), os.getuid())")
    assert r["status"] == "OK" and r["stdout"].split()[0] == "/", r
    # the image names no User: the sandbox's default identity (65534 as
    # root; the caller's own uid rootless, here nobody's)
    assert r["stdout"].split()[1] == str(NOBODY), r
    r = run_on(corral, built, "py", fmt, "--", "/bin/cat", "/etc/debian_version")
    assert r["stdout"].startswith("12."), r


def test_pulled_from_a_registry_it_runs_the_same(corral, built, shared_tmp):
    from test_pull import Registry
    import subprocess
    reg = Registry()
    try:
        p = subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
                            f"oci-archive:{built['py']['oci-archive']}", f"docker://{reg.host}/corral/py:1"],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        store = store_of(corral)
        p = corral.cli("image", "pull", f"{reg.host}/corral/py:1", "--name", "pulled", "--store", store,
                       timeout=600)
        assert p.returncode == 0, p.stderr
        s = script(shared_tmp, "import os, numpy\nprint(os.getcwd(), numpy.__name__)\n")
        p = corral.cli("run", "--json", "--image", "pulled", "--store", store, "--stdin", s, timeout=120)
        r = json.loads(p.stdout)
        assert r["status"] == "OK" and r["stdout"] == "/ numpy\n", r
    finally:
        reg.stop()


def test_user_workdir_env_entrypoint_and_cmd(corral, built):
    """USER app (a name in the image's own passwd), WORKDIR /srv/missing
    (made, as docker does), ENV, ENTRYPOINT + CMD as docker run takes
    them, on buildah's layers."""
    r = run_on(corral, built, "layers", "oci-archive")
    assert r["status"] == "OK", r
    assert r["stdout"] == "1234 1234 /srv/missing bar ['default', 'cmd']\n", r
    r = run_on(corral, built, "layers", "oci-archive", "--", "x", "y")  # arguments replace the Cmd
    assert r["stdout"] == "1234 1234 /srv/missing bar ['x', 'y']\n", r
    # --uid/--gid override the image's User, --cwd its WorkingDir
    r = run_on(corral, built, "layers", "oci-archive", opts=("--uid", "4321", "--cwd", "/tmp"))
    assert r["stdout"] == "4321 1234 /tmp bar ['default', 'cmd']\n", r
    # --entrypoint replaces the Entrypoint and drops the Cmd
    r = run_on(corral, built, "layers", "oci-archive", "--", opts=("--entrypoint", "/usr/bin/id"))
    assert r["status"] == "OK" and r["stdout"].startswith("uid=1234(app) gid=1234(app)"), r
    # buildah's whiteouts and opaque directory
    view = "ls /opt /opt/stuff; test -e /etc/issue || echo no-issue; test -e /usr/bin/python3 && echo py"
    r = run_on(corral, built, "layers", "oci-archive", "--", "-c", view, opts=("--entrypoint", "/bin/sh"))
    assert r["stdout"] == "/opt:\nstuff\n\n/opt/stuff:\nnew\nno-issue\npy\n", r
    # an empty --entrypoint leaves the command to the arguments
    r = run_on(corral, built, "layers", "oci-archive", "--", "/bin/echo", "plain", opts=("--entrypoint", ""))
    assert r["stdout"] == "plain\n", r


def test_numeric_user_and_group(corral, built):
    r = run_on(corral, built, "ids", "docker-archive")
    assert r["status"] == "OK", r
    assert r["stdout"] == "1234 100 / bar ['default', 'cmd']\n", r


def test_eval_on_a_real_image(corral, built, shared_tmp):
    tag = imported(corral, built, "py", "docker-archive")
    store = store_of(corral)
    os.chmod(shared_tmp, 0o777)
    samples = shared_tmp / "s.jsonl"
    rows = [json.loads(l) for l in open(data_copy("humaneval/example_samples.jsonl", shared_tmp))]
    rows.append({"task_id": "test/0", "completion": "    import numpy as np\n    return int(np.ones(1).sum())\n"})
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.chmod(samples, 0o666)
    p = corral.cli("eval", "humaneval", "--problems", data_copy("humaneval/example_problem.jsonl", shared_tmp),
                   "--samples", str(samples), "--image", tag, "--store", store, "--json", timeout=600)
    assert p.returncode == 0, p.stderr
    results = [json.loads(l) for l in open(str(samples) + "_results.jsonl")]
    assert [r["passed"] for r in results] == [False, False, False, True, True, True, True], results
    # LiveCodeBench: a generation that uses numpy, on the image's numpy
    prob = shared_tmp / "lcb.jsonl"
    prob.write_text(json.dumps({
        "question_title": "sum", "question_content": "", "platform": "atcoder", "question_id": "sum",
        "contest_id": "c", "contest_date": "2024-01-01T00:00:00", "starter_code": "", "difficulty": "easy",
        "public_test_cases": json.dumps([{"input": "3\n1 2 3\n", "output": "6\n", "testtype": "stdin"}]),
        "private_test_cases": "[]", "metadata": "{}"}) + "\n")
    os.chmod(prob, 0o644)
    gen = shared_tmp / "gen.json"
    gen.write_text(json.dumps([{"question_id": "sum", "code_list": [
        "import numpy as np\ninput()\nprint(int(np.array(input().split(), dtype=int).sum()))\n",
        "print(5)\n"]}]))
    os.chmod(gen, 0o666)
    p = corral.cli("eval", "livecodebench", "--problems", str(prob), "--samples", str(gen), "--image", tag,
                   "--store", store, "--json", timeout=600)
    assert p.returncode == 0, p.stderr
    out = json.load(open(str(gen) + "_eval_all.json"))
    assert out[0]["graded_list"] == [True, False], out


def test_serve_on_a_real_image(corral, built):
    from test_serve import Server, jreq
    tag = imported(corral, built, "py", "oci-archive")
    s = Server(corral, "--max-concurrency", "1", "--image", tag, "--store", store_of(corral))
    try:
        r = s.run(code="import numpy, os\nprint(numpy.arange(4).sum(), open('/etc/debian_version').read()[:3])",
                  language="python")
        assert r["status"] == "Success", r
        assert r["run_result"]["stdout"] == "6 12.\n", r
        st, r = jreq(s, "/sandbox/create", {"tools_config": {"python_executor": {}}})
        assert st == 200, r
        st, r = jreq(s, "/sandbox/tool/execute", {"sandbox_id": r["sandbox_id"], "tool_name": "python_executor",
                                                   "parameters": {"code": "import numpy\nprint(numpy.ones(3).sum())"}})
        assert r["status"] == "success" and r["output"].strip() == "3.0", r
    finally:
        assert s.stop() == 0

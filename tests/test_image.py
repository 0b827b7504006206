"""Images without Docker: `corral image` and `corral run --image/--rootfs`,
on images built here in Docker's and OCI's formats (tests/imagebuild.py),
hostile tars included."""
import io
import json
import os
import signal
import subprocess
import tarfile
import time

import pytest

import imagebuild as ib

NOBODY = 65534
VIEW = "ls /data; echo -; ls /opq; echo -; cat /etc/motd; echo FOO=$FOO; pwd"


@pytest.fixture
def store(corral, shared_tmp):
    s = shared_tmp / "store"
    s.mkdir()
    if corral.mode == "user":
        os.chown(s, NOBODY, NOBODY)
    return str(s)


def image(corral, store, *args, **kw):
    return corral.cli("image", *args, "--store", store, **kw)


def on_image(corral, store, name, *cmd, opts=()):
    return corral.run(*cmd, opts=("--image", name, "--store", store) + tuple(opts))


def layer_dirs(store):
    d = os.path.join(store, "layers")
    return sorted(x for x in os.listdir(d) if not x.endswith(".json"))


@pytest.mark.parametrize("kind", ["docker-export", "docker-export-gz", "docker-save", "docker-save-oci",
                                  "oci-dir", "oci-tar"])
def test_import_gives_the_view_docker_shows(corral, store, shared_tmp, kind):
    src = ib.build(kind, shared_tmp / "src")
    p = image(corral, store, "import", src, "--name", "t:1")
    assert p.returncode == 0, p.stderr
    r = on_image(corral, store, "t:1", "/bin/sh", "-c", VIEW)
    assert r["status"] == "OK", r
    export = kind.startswith("docker-export")
    # whiteout and opaque dir applied; the upper layer's motd wins; the
    # image's Env and WorkingDir apply (an export has no config)
    assert r["stdout"] == ("added\nkeep\n-\nnew\n-\nv2\n"
                           + ("FOO=\n/sandbox\n" if export else "FOO=from-image\n/work\n")), r
    info = json.loads(image(corral, store, "inspect", "t:1").stdout)
    assert info["name"] == "t:1" and len(info["layers"]) == (1 if export else 2)
    assert info["source"] == ("docker-export" if export else "docker-save" if kind.startswith("docker-save") else "oci")
    if not export:
        assert info["config"]["Env"] == ["PATH=/bin", "FOO=from-image"] and info["config"]["WorkingDir"] == "/work"


def test_layers_are_shared_and_gc_removes_unused_ones(corral, store, shared_tmp):
    a = ib.build("docker-save", shared_tmp / "a")
    b = ib.build("oci-dir", shared_tmp / "b")  # the same layers, compressed
    assert image(corral, store, "import", a, "--name", "a").returncode == 0
    p = image(corral, store, "import", b, "--name", "reg.example:5000/org/b:v2")
    assert p.returncode == 0, p.stderr
    assert len(layer_dirs(store)) == 2  # unpacked once, shared
    ls = json.loads(image(corral, store, "ls", "--json").stdout)
    assert [i["name"] for i in ls] == ["a:latest", "reg.example:5000/org/b:v2"]
    assert ls[0]["layers"] == ls[1]["layers"] and ls[0]["size"] > 1_000_000
    text = image(corral, store, "ls").stdout
    assert "a:latest" in text and "NAME" in text
    assert image(corral, store, "rm", "a").returncode == 0
    assert image(corral, store, "gc").stdout.startswith("removed 0 unused layers")
    assert image(corral, store, "rm", "reg.example:5000/org/b:v2").returncode == 0
    assert image(corral, store, "gc").stdout.startswith("removed 2 unused layers")
    assert layer_dirs(store) == [] and json.loads(image(corral, store, "ls", "--json").stdout) == []
    p = image(corral, store, "rm", "a")
    assert p.returncode == 125 and "no image a:latest" in p.stderr


def test_writes_never_reach_the_store_or_the_next_run(corral, store, shared_tmp):
    src = ib.build("oci-tar", shared_tmp / "src")
    assert image(corral, store, "import", src, "--name", "t").returncode == 0
    before = {d: sorted(os.listdir(os.path.join(store, "layers", d))) for d in layer_dirs(store)}
    opts = ("--uid", "0", "--gid", "0") if corral.mode == "root" else ()
    r = on_image(corral, store, "t", "/bin/sh", "-c",
                 "echo x > /data/new && echo y > /bin/new && rm /data/keep && echo z > /work/w && ls /data",
                 opts=opts)
    assert r["status"] == "OK" and r["stdout"] == "added\nnew\n", r
    r = on_image(corral, store, "t", "/bin/sh", "-c", "ls /data /work; ls /bin/new 2>&1 || true")
    assert r["stdout"].split("\n")[:3] == ["/data:", "added", "keep"], r
    assert "No such file" in r["stdout"] and "w\n" not in r["stdout"], r
    after = {d: sorted(os.listdir(os.path.join(store, "layers", d))) for d in layer_dirs(store)}
    assert before == after


def test_rm_refuses_while_a_run_uses_the_image(corral, store, shared_tmp):
    src = ib.build("docker-export", shared_tmp / "src")
    assert image(corral, store, "import", src, "--name", "busy").returncode == 0
    run = subprocess.Popen(corral.argv(["run", "--image", "busy", "--store", store, "--",
                                        "/bin/sh", "-c", "echo started; sleep 3"]),
                           env=corral.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert run.stdout.readline() == "started\n"  # the run holds the image now
        p = image(corral, store, "rm", "busy")
        assert p.returncode == 125 and "in use by a running sandbox" in p.stderr, p.stderr
    finally:
        run.wait(timeout=30)
    assert run.returncode == 0
    assert image(corral, store, "rm", "busy").returncode == 0
    assert image(corral, store, "gc").returncode == 0
    assert [f for f in os.listdir(os.path.join(store, "images"))] == []


def test_a_corrupted_blob_is_refused_and_nothing_is_imported(corral, store, shared_tmp):
    d = ib.oci_layout(str(shared_tmp / "bad"), corrupt_layer=1)
    for root, dirs, files in os.walk(shared_tmp / "bad"):
        for x in files:
            os.chmod(os.path.join(root, x), 0o644)
        for x in dirs:
            os.chmod(os.path.join(root, x), 0o755)
    os.chmod(d, 0o755)
    p = image(corral, store, "import", d, "--name", "bad")
    assert p.returncode == 125 and "corrupted or altered" in p.stderr, p.stderr
    assert json.loads(image(corral, store, "ls", "--json").stdout) == []
    assert os.listdir(os.path.join(store, "tmp")) == []
    # the good layer may stay (content-addressed, verified); gc clears it
    image(corral, store, "gc")
    assert layer_dirs(store) == []


def test_a_docker_save_config_named_by_a_wrong_digest_is_refused(corral, store, shared_tmp):
    # the message named the config after freeing the manifest that held its
    # name (a use after free: fuzz/image-import, under ASan)
    wrong = "blobs/sha256/" + "0" * 64
    path = ib.docker_save(str(shared_tmp / "wrong.tar"), [ib.base_layer()], {}, config_name=wrong)
    p = image(corral, store, "import", path, "--name", "wrong")
    assert p.returncode == 125 and "corrupted or altered" in p.stderr and wrong in p.stderr, p.stderr
    assert json.loads(image(corral, store, "ls", "--json").stdout) == []


def test_rootfs_directory_is_a_read_only_lower(corral, shared_tmp):
    root = shared_tmp / "rootfs"
    root.mkdir()
    tar = shared_tmp / "fs.tar"
    ib.docker_export(str(tar))
    with tarfile.open(tar) as t:
        t.extractall(root)
    os.chmod(root, 0o755)
    if corral.mode == "user":  # a rootless user's own tree
        for dirpath, dirs, files in os.walk(root):
            for x in dirs + files + [""]:
                os.lchown(os.path.join(dirpath, x), NOBODY, NOBODY)
    opts = ("--rootfs", str(root)) + (("--uid", "0", "--gid", "0") if corral.mode == "root" else ())
    r = corral.run("/bin/sh", "-c", "cat /etc/motd; echo hi > /etc/motd; cat /etc/motd; ls /data", opts=opts)
    assert r["stdout"] == "v2\nhi\nadded\nkeep\n", r
    assert (root / "etc" / "motd").read_text() == "v2\n"


# ---- hostile input ---------------------------------------------------------------


def hostile_import(corral, store, shared_tmp, entries, name="h", env=None):
    p = shared_tmp / f"{name}.tar"
    p.write_bytes(ib.tar_bytes(entries))
    os.chmod(p, 0o644)
    return image(corral, store, "import", str(p), "--name", name, env=env)


def test_hostile_tars_neither_escape_nor_crash(corral, store, shared_tmp):
    victim = shared_tmp / "victim"
    victim.mkdir()
    os.chmod(victim, 0o777)
    (victim / "file").write_text("host\n")
    os.chmod(victim / "file", 0o666)
    E = ib.entry
    cases = [
        ("traversal", [E("../../../" + str(victim)[1:] + "/evil", data=b"x")], "escapes the layer"),
        ("dotdot-mid", [E("a/../../evil", data=b"x")], "escapes the layer"),
        ("symlink-then-write", [E("link", "symlink", target=str(victim)), E("link/pwned", data=b"x")],
         "not a directory"),
        ("hardlink-escape", [E("h", "hardlink", target="../../../" + str(victim)[1:] + "/file")],
         "leaves the layer"),
        ("hardlink-host", [E("h", "hardlink", target=str(victim / "file"))], "does not have"),
    ]
    for name, entries, needle in cases:
        p = hostile_import(corral, store, shared_tmp, entries, name=name)
        assert p.returncode == 125 and needle in p.stderr, (name, p.stderr)
    assert sorted(os.listdir(victim)) == ["file"] and (victim / "file").read_text() == "host\n"
    assert json.loads(image(corral, store, "ls", "--json").stdout) == []
    assert os.listdir(os.path.join(store, "tmp")) == []

    # neutralised, not refused: absolute paths land in the layer, device
    # nodes are skipped, setuid/setgid bits are cleared
    entries = [E("/abs/file", data=b"in layer\n"), E("dev", "dir"), E("dev/evilnull", "char", dev=(1, 3)),
               E("suid", data=b"#!/bin/sh\n", mode=0o6755), E("bin", "dir"),
               E("bin/busybox", data=open(ib.BUSYBOX, "rb").read(), mode=0o755),
               E("bin/sh", "symlink", target="busybox"), E("bin/ls", "symlink", target="busybox"),
               E("bin/cat", "symlink", target="busybox")]
    p = hostile_import(corral, store, shared_tmp, entries, name="neutral")
    assert p.returncode == 0, p.stderr
    assert "1 device node(s) or socket(s) skipped" in p.stderr and "setuid/setgid cleared on 1" in p.stderr
    assert not os.path.exists("/abs/file")
    (layer,) = layer_dirs(store)
    ld = os.path.join(store, "layers", layer)
    assert open(os.path.join(ld, "abs/file")).read() == "in layer\n"
    assert not os.path.exists(os.path.join(ld, "dev/evilnull"))
    assert os.stat(os.path.join(ld, "suid")).st_mode & 0o7777 == 0o755
    r = on_image(corral, store, "neutral", "/bin/sh", "-c", "cat /abs/file; ls /dev/evilnull 2>&1")
    assert r["stdout"].startswith("in layer\n") and "No such file" in r["stdout"], r


def test_absurd_sizes_and_counts_are_refused(corral, store, shared_tmp):
    E = ib.entry
    p = hostile_import(corral, store, shared_tmp, [E("big", data=b"x" * 5000)], name="big",
                       env={"CORRAL_IMAGE_MAX_BYTES": "4096"})
    assert p.returncode == 125 and "CORRAL_IMAGE_MAX_BYTES" in p.stderr, p.stderr
    p = hostile_import(corral, store, shared_tmp, [E(f"f{i}", data=b"") for i in range(50)], name="many",
                       env={"CORRAL_IMAGE_MAX_ENTRIES": "20"})
    assert p.returncode == 125 and "CORRAL_IMAGE_MAX_ENTRIES" in p.stderr, p.stderr
    assert json.loads(image(corral, store, "ls", "--json").stdout) == []


def test_an_interrupted_import_leaves_the_store_consistent(corral, store, shared_tmp):
    # many files, so that the import is still running when interrupted
    E = ib.entry
    entries = [E("d", "dir")] + [E(f"d/f{i}", data=os.urandom(2048)) for i in range(30000)]
    src = shared_tmp / "many.tar"
    src.write_bytes(ib.tar_bytes(entries))
    os.chmod(src, 0o644)
    p = subprocess.Popen(corral.argv(["image", "import", str(src), "--name", "slow", "--store", store]),
                         env=corral.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.4)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=60)
    if p.returncode == 0:
        pytest.skip("the import finished before the interrupt")
    assert json.loads(image(corral, store, "ls", "--json").stdout) == []
    assert layer_dirs(store) == []  # nothing half-made is named
    # the next import clears the dead import's leftovers and succeeds
    p = image(corral, store, "import", str(src), "--name", "slow", timeout=120)
    assert p.returncode == 0, p.stderr
    assert os.listdir(os.path.join(store, "tmp")) == []
    assert len(layer_dirs(store)) == 1


@pytest.mark.parametrize("args,code,needle", [
    (["image"], 2, "Usage"),
    (["image", "frobnicate"], 2, "unknown subcommand"),
    (["image", "import", "x.tar"], 2, "needs one SOURCE and --name"),
    (["image", "import", "x.tar", "--name", "Bad Name"], 2, "is not allowed"),
    (["image", "import", "x.tar", "--name", "a:"], 2, "empty tag"),
    (["image", "import", "/nonexistent.tar", "--name", "a"], 125, "No such file"),
    (["image", "inspect"], 2, "needs one NAME"),
    (["image", "inspect", "nope"], 125, "no image nope:latest"),
    (["image", "ls", "extra"], 2, "takes no arguments"),
    (["run", "--image", "nope", "--", "/bin/true"], 125, "no image nope:latest"),
    (["run", "--image", "a", "--rootfs", "/", "--", "/bin/true"], 2, "exclude each other"),
    (["run", "--rootfs", "/nonexistent", "--", "/bin/true"], 2, "--rootfs /nonexistent"),
    (["run", "--root-size", "1K", "--", "/bin/true"], 2, "--root-size"),
])
def test_bad_image_input_is_a_clear_error(corral, store, args, code, needle):
    if args[0] == "image" and len(args) > 1:
        args = args + ["--store", store]
    elif "--image" in args:
        args = args[:3] + ["--store", store] + args[3:]
    p = corral.cli(*args)
    assert p.returncode == code and needle in p.stderr, (p.returncode, p.stderr)


def test_sources_that_are_not_images(corral, store, shared_tmp):
    d = shared_tmp / "plain"
    d.mkdir()
    os.chmod(d, 0o755)
    p = image(corral, store, "import", str(d), "--name", "x")
    assert p.returncode == 125 and "--rootfs" in p.stderr, p.stderr
    junk = shared_tmp / "junk.bin"
    junk.write_bytes(os.urandom(4096))
    os.chmod(junk, 0o644)
    p = image(corral, store, "import", str(junk), "--name", "x")
    assert p.returncode == 125, p.stderr
    assert json.loads(image(corral, store, "ls", "--json").stdout) == []


# ---- a real Python image, built from the host's files (rootfs/) -------------------

@pytest.fixture(scope="session")
def python_layout():
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="corral-pyimg-", dir="/tmp")
    out = os.path.join(d, "oci")
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "rootfs", "mkimage-python.py")
    p = subprocess.run([os.environ.get("PYTHON3", "/usr/bin/python3"), script, out],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    for root, dirs, files in os.walk(d):
        os.chmod(root, 0o755)
        for x in files:
            os.chmod(os.path.join(root, x), 0o644)
    yield out
    shutil.rmtree(d, ignore_errors=True)


def test_python_image_from_rootfs_script_runs_python(corral, store, python_layout):
    p = image(corral, store, "import", python_layout, "--name", "py")
    assert p.returncode == 0, p.stderr
    r = on_image(corral, store, "py", "python3", "-c",
                 "import sys, os, json, decimal, sqlite3, ssl; print(sys.version_info[:2], os.getcwd())")
    assert r["status"] == "OK", r
    assert r["stdout"].endswith("/sandbox\n"), r
    # the bytecode came along (Python cannot write it on a read-only tree)
    r = on_image(corral, store, "py", "python3", "-c",
                 "import json, os; print(os.path.exists(json.__cached__))")
    assert r["stdout"] == "True\n", r


def test_eval_on_an_image_gives_the_reference_verdicts(corral, store, python_layout, shared_tmp):
    assert image(corral, store, "import", python_layout, "--name", "py").returncode == 0
    from conftest import TESTS_DATA, data_copy
    he = os.path.join(TESTS_DATA, "humaneval")
    samples = shared_tmp / "s.jsonl"
    samples.write_text(open(os.path.join(he, "example_samples.jsonl")).read())
    os.chmod(samples, 0o666)
    os.chmod(shared_tmp, 0o777)
    p = corral.cli("eval", "humaneval", "--problems", data_copy("humaneval/example_problem.jsonl", shared_tmp),
                   "--samples", str(samples), "--image", "py", "--store", store, "--json")
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    assert summary["pass_at_k"]["pass@1"] == 0.5, summary
    results = [json.loads(l) for l in open(str(samples) + "_results.jsonl")]
    # the official harness's verdicts on its own example
    assert [r["passed"] for r in results] == [False, False, False, True, True, True], results
    p = corral.cli("eval", "humaneval", "--problems", "x", "--samples", "y", "--store", store)
    assert p.returncode == 2 and "--store is for --image" in p.stderr
    p = corral.cli("eval", "humaneval", "--problems", data_copy("humaneval/example_problem.jsonl", shared_tmp),
                   "--samples", str(samples), "--image", "nope", "--store", store)
    assert p.returncode == 125 and "no image nope:latest" in p.stderr


def test_concurrent_imports_keep_one_copy(corral, store, shared_tmp):
    src = ib.build("oci-dir", shared_tmp / "src")
    procs = [subprocess.Popen(corral.argv(["image", "import", src, "--name", f"c{i}", "--store", store]),
                              env=corral.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(4)]
    for p in procs:
        p.wait(timeout=120)
        assert p.returncode == 0, p.stderr.read()
    assert len(layer_dirs(store)) == 2 and os.listdir(os.path.join(store, "tmp")) == []
    names = [i["name"] for i in json.loads(image(corral, store, "ls", "--json").stdout)]
    assert names == ["c0:latest", "c1:latest", "c2:latest", "c3:latest"]
    r = on_image(corral, store, "c3", "/bin/sh", "-c", VIEW)
    assert r["stdout"] == "added\nkeep\n-\nnew\n-\nv2\nFOO=from-image\n/work\n", r


def test_xz_and_bzip2_layers_import(corral, store, shared_tmp):
    import bz2
    import lzma
    for name, comp in (("xz", lzma.compress), ("bz2", bz2.compress)):
        p = shared_tmp / f"export.tar.{name}"
        p.write_bytes(comp(ib.tar_bytes([ib.entry("f", data=b"in " + name.encode())])))
        os.chmod(p, 0o644)
        r = image(corral, store, "import", str(p), "--name", name)
        assert r.returncode == 0, r.stderr


def users_layer():
    return ib.tar_bytes([ib.entry("etc", "dir"),
                         ib.entry("etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\n"
                                  b"app:x:1234:1235::/home/app:/bin/sh\nbroken:x:notanumber:1::/:/bin/sh\n"),
                         ib.entry("etc/group", data=b"root:x:0:\nusers:x:100:app\napp:x:1235:\n")])


@pytest.mark.parametrize("user, ids", [
    ("app", "1234 1235"),          # a name: its passwd entry, with the entry's group
    ("1234", "1234 1235"),         # a uid with an entry: the entry's group
    ("4321", "4321 0"),            # a uid without one: group 0, as docker
    ("app:users", "1234 100"),     # a group by name, from /etc/group
    ("1234:77", "1234 77"),
    ("4321:users", "4321 100"),
    ("", None),                    # none: the sandbox's default identity
])
def test_image_user_as_docker_resolves_it(corral, store, shared_tmp, user, ids):
    src = ib.docker_save(str(shared_tmp / "u.tar"), [ib.base_layer(), users_layer()],
                         {"Env": ["PATH=/bin"], "User": user, "Entrypoint": ["/bin/sh", "-c"],
                          "Cmd": ["echo $(id -u) $(id -g)"]})
    assert image(corral, store, "import", src, "--name", "u").returncode == 0
    p = corral.cli("run", "--image", "u", "--store", store)
    assert p.returncode == 0, p.stderr
    default = "65534 65534" if corral.mode == "root" else f"{NOBODY} {NOBODY}"
    assert p.stdout.strip() == (ids or default), p.stdout


@pytest.mark.parametrize("user, top, needle", [
    ("nosuch", None, "no user `nosuch` in the image's /etc/passwd"),
    ("app:nosuch", None, "no group `nosuch` in the image's /etc/group"),
    ("broken", None, "no user `broken`"),
    ("app:", None, "expected USER, UID, USER:GROUP or UID:GID"),
    # a layer that deletes /etc/passwd: no names left to look up
    ("app", [ib.entry("etc", "dir"), ib.entry("etc/.wh.passwd")], "no user `app`"),
    # an opaque /etc without passwd hides the lower layers' one
    ("app", [ib.entry("etc", "dir"), ib.entry("etc/.wh..wh..opq"), ib.entry("etc/motd", data=b"x")],
     "no user `app`"),
    # a planted symlink is never followed on the host
    ("app", [ib.entry("etc", "dir"), ib.entry("etc/passwd", "symlink", target="/etc/shadow")],
     "not a regular file (a symlink is not followed here)"),
])
def test_image_user_that_cannot_be_resolved_is_a_clear_error(corral, store, shared_tmp, user, top, needle):
    layers = [ib.base_layer(), users_layer()] + ([ib.tar_bytes(top)] if top else [])
    src = ib.docker_save(str(shared_tmp / "u.tar"), layers, {"Env": ["PATH=/bin"], "User": user,
                                                             "Cmd": ["/bin/id"]})
    assert image(corral, store, "import", src, "--name", "u").returncode == 0
    p = corral.cli("run", "--image", "u", "--store", store)
    assert p.returncode == 125 and needle in p.stderr, p.stderr
    # an explicit identity does not need the image's User
    p = corral.cli("run", "--image", "u", "--store", store, "--uid", "5", "--gid", "6", "--", "/bin/id", "-u")
    assert p.returncode == 125 or p.stdout.strip() == "5", p.stderr


@pytest.mark.parametrize("workdir, want", [("/", "/"), ("/new/deep", "/new/deep"), ("rel", "/rel"),
                                           (None, "/sandbox")])
def test_image_workdir_as_docker_uses_it(corral, store, shared_tmp, workdir, want):
    cfg = {"Env": ["PATH=/bin"], "Cmd": ["/bin/pwd"]}
    if workdir is not None:
        cfg["WorkingDir"] = workdir
    src = ib.docker_save(str(shared_tmp / "w.tar"), [ib.base_layer()], cfg)
    assert image(corral, store, "import", src, "--name", "w").returncode == 0
    p = corral.cli("run", "--image", "w", "--store", store)
    assert p.returncode == 0 and p.stdout == want + "\n", (p.stdout, p.stderr)


def test_entrypoint_and_cmd_as_docker_run_takes_them(corral, store, shared_tmp):
    cfg = {"Env": ["PATH=/bin"], "Entrypoint": ["/bin/echo", "ep"], "Cmd": ["c1", "c2"]}
    src = ib.docker_save(str(shared_tmp / "e.tar"), [ib.base_layer()], cfg)
    assert image(corral, store, "import", src, "--name", "e").returncode == 0
    run = lambda *a: corral.cli("run", "--image", "e", "--store", store, *a)
    assert run().stdout == "ep c1 c2\n"
    assert run("--", "a").stdout == "ep a\n"                      # arguments replace Cmd
    assert run("--entrypoint", "/bin/echo").stdout == "\n"        # --entrypoint drops Cmd
    assert run("--entrypoint", "/bin/echo", "--", "x").stdout == "x\n"
    assert run("--entrypoint", "", "--", "/bin/echo", "y").stdout == "y\n"
    p = run("--entrypoint", "")
    assert p.returncode == 2 and "has no Entrypoint or Cmd" in p.stderr, p.stderr
    src = ib.docker_save(str(shared_tmp / "n.tar"), [ib.base_layer()], {"Env": ["PATH=/bin"]})
    assert image(corral, store, "import", src, "--name", "n").returncode == 0
    p = corral.cli("run", "--image", "n", "--store", store)
    assert p.returncode == 2 and "image n:latest has no Entrypoint or Cmd" in p.stderr, p.stderr


def _tar(path, files):
    with tarfile.open(path, "w") as t:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
    os.chmod(path, 0o644)
    return str(path)


@pytest.mark.parametrize("size", [100, 1 << 20, 4 << 20])
def test_a_config_or_manifest_with_a_nul_is_refused_not_read_past(corral, store, shared_tmp, size):
    # The importer copied a small file with strndup but hashed its full
    # length: past the NUL it read out of bounds, and a 1 MiB config with
    # a NUL crashed the release build (exit 139).
    layer = ib.base_layer()
    cfg = (b'{"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:'
           + ib.sha(layer).encode() + b'"]}, "config": {"Env": ["A=\x00' + b"a" * size + b'"]}}')
    save = _tar(shared_tmp / "save.tar", {
        "manifest.json": json.dumps([{"Config": ib.sha(cfg) + ".json", "RepoTags": ["t:1"],
                                      "Layers": ["l0/layer.tar"]}]).encode(),
        ib.sha(cfg) + ".json": cfg, "l0/layer.tar": layer})
    # an OCI archive whose manifest blob holds the NUL
    man = (b'{"schemaVersion": 2, "config": {"digest": "sha256:' + ib.sha(cfg).encode()
           + b'"}, "layers": [], "annotations": {"x": "\x00' + b"b" * size + b'"}}')
    index = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + ib.sha(man),
         "size": len(man)}]}).encode()
    oci = _tar(shared_tmp / "oci.tar", {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": index,
                                        "blobs/sha256/" + ib.sha(man): man, "blobs/sha256/" + ib.sha(cfg): cfg})
    for src, what in ((save, "the value of `config.Env[0]`"), (oci, "the value of `annotations.x`")):
        p = image(corral, store, "import", src, "--name", "nul")
        assert p.returncode == 125, (p.returncode, p.stderr)
        assert "holds a NUL character" in p.stderr and what in p.stderr, p.stderr
    assert image(corral, store, "ls").stdout.count("nul") == 0

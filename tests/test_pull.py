"""`corral image pull` against real registries on loopback: Debian's
docker-registry (distribution), populated with skopeo, anonymous and with
htpasswd credentials from a Docker config file; and a small registry
written here that demands Bearer tokens and honours Range requests, to
check the token dance and resumed downloads."""
import base64
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

import imagebuild as ib

NOBODY = 65534
VIEW = "ls /data; echo -; ls /opq; echo -; cat /etc/motd; echo FOO=$FOO; pwd"
EXPECT = "added\nkeep\n-\nnew\n-\nv2\nFOO=from-image\n/work\n"

pytestmark = pytest.mark.skipif(not (shutil.which("docker-registry") and shutil.which("skopeo")),
                                reason="needs docker-registry and skopeo (apt-get install docker-registry skopeo)")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Registry:
    def __init__(self, auth=False):
        self.dir = tempfile.mkdtemp(prefix="corral-reg-", dir="/tmp")
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        cfg = [f"version: 0.1", "log:", "  level: error", "storage:", "  filesystem:",
               f"    rootdirectory: {self.dir}/data", "  delete:", "    enabled: true",
               "http:", f"  addr: 127.0.0.1:{self.port}"]
        if auth:
            subprocess.run(["htpasswd", "-Bbc", f"{self.dir}/htpasswd", "alice", "s3cret"],
                           check=True, capture_output=True)
            cfg += ["auth:", "  htpasswd:", "    realm: corral-test", f"    path: {self.dir}/htpasswd"]
        open(f"{self.dir}/config.yml", "w").write("\n".join(cfg) + "\n")
        self.proc = subprocess.Popen(["docker-registry", "serve", f"{self.dir}/config.yml"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("docker-registry did not start")

    def push(self, layout, ref, tag, creds=None, all_=False):
        cmd = ["skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false"]
        if creds:
            cmd += ["--dest-creds", creds]
        if all_:
            cmd += ["--all"]
        cmd += [f"oci:{layout}:{tag}", f"docker://{self.host}/{ref}"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr

    def blob_file(self, hexd):
        return f"{self.dir}/data/docker/registry/v2/blobs/sha256/{hexd[:2]}/{hexd}/data"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def registry():
    r = Registry()
    work = tempfile.mkdtemp(prefix="corral-push-", dir="/tmp")
    r.push(ib.oci_layout(os.path.join(work, "one"), tag="1"), "test/img:1", "1")
    r.push(ib.oci_layout(os.path.join(work, "multi"), tag="m", arm64=True), "test/multi:1", "m", all_=True)
    r.layout = os.path.join(work, "one")
    yield r
    r.stop()
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def store(corral, shared_tmp):
    s = shared_tmp / "store"
    s.mkdir()
    if corral.mode == "user":
        os.chown(s, NOBODY, NOBODY)
    return str(s)


def pull(corral, store, ref, *extra, env=None):
    return corral.cli("image", "pull", ref, "--store", store, *extra, env=env, timeout=300)


def test_pull_from_a_registry_and_run(corral, store, registry):
    p = pull(corral, store, f"{registry.host}/test/img:1")
    assert p.returncode == 0, p.stderr
    assert "2 layers, 2 downloaded" in p.stderr, p.stderr
    r = corral.run("/bin/sh", "-c", VIEW, opts=("--image", f"{registry.host}/test/img:1", "--store", store))
    assert r["stdout"] == EXPECT, r
    # again, by digest and under another name: the layers are in the store
    digest = json.load(open(os.path.join(registry.layout, "index.json")))["manifests"][0]["digest"]
    p = pull(corral, store, f"{registry.host}/test/img@{digest}", "--name", "pinned")
    assert p.returncode == 0 and "0 downloaded" in p.stderr, p.stderr
    info = json.loads(corral.cli("image", "inspect", "pinned", "--store", store).stdout)
    assert info["source"] == "registry" and info["config"]["WorkingDir"] == "/work"
    # a digest that is not there, a tag that is not there
    p = pull(corral, store, f"{registry.host}/test/img@sha256:" + "ab" * 32)
    assert p.returncode == 125 and "not found" in p.stderr, p.stderr
    p = pull(corral, store, f"{registry.host}/test/nope:1")
    assert p.returncode == 125 and "not found" in p.stderr, p.stderr


def test_pull_picks_linux_amd64_from_an_index(corral, store, registry):
    p = pull(corral, store, f"{registry.host}/test/multi:1")
    assert p.returncode == 0, p.stderr
    r = corral.run("/bin/sh", "-c", "echo $FOO", opts=("--image", f"{registry.host}/test/multi:1", "--store", store))
    assert r["stdout"] == "from-image\n", r


def test_a_corrupted_blob_in_the_registry_is_rejected(corral, store, shared_tmp):
    reg = Registry()
    try:
        layout = ib.oci_layout(str(shared_tmp / "c"), tag="1")
        reg.push(layout, "test/c:1", "1")
        man = json.load(open(os.path.join(layout, "blobs", "sha256",
                                          json.load(open(os.path.join(layout, "index.json")))["manifests"][0]["digest"][7:])))
        victim = reg.blob_file(man["layers"][1]["digest"][7:])
        raw = bytearray(open(victim, "rb").read())
        raw[len(raw) // 2] ^= 0xFF
        open(victim, "wb").write(bytes(raw))
        p = pull(corral, store, f"{reg.host}/test/c:1")
        assert p.returncode == 125 and "corrupted or altered" in p.stderr, p.stderr
        assert json.loads(corral.cli("image", "ls", "--json", "--store", store).stdout) == []
    finally:
        reg.stop()


def test_pull_with_credentials_from_the_docker_config(corral, store, shared_tmp):
    reg = Registry(auth=True)
    try:
        layout = ib.oci_layout(str(shared_tmp / "a"), tag="1")
        reg.push(layout, "private/img:1", "1", creds="alice:s3cret")
        p = pull(corral, store, f"{reg.host}/private/img:1")
        assert p.returncode == 125 and "log in" in p.stderr, p.stderr
        cfgdir = shared_tmp / "docker"
        cfgdir.mkdir()
        auth = base64.b64encode(b"alice:s3cret").decode()
        (cfgdir / "config.json").write_text(json.dumps({"auths": {reg.host: {"auth": auth}}}))
        os.chmod(cfgdir, 0o755)
        os.chmod(cfgdir / "config.json", 0o644)
        p = pull(corral, store, f"{reg.host}/private/img:1", env={"DOCKER_CONFIG": str(cfgdir)})
        assert p.returncode == 0, p.stderr
        bad = shared_tmp / "bad"
        bad.mkdir()
        auth = base64.b64encode(b"alice:wrong").decode()
        (bad / "config.json").write_text(json.dumps({"auths": {reg.host: {"auth": auth}}}))
        os.chmod(bad, 0o755)
        os.chmod(bad / "config.json", 0o644)
        p = pull(corral, store, f"{reg.host}/private/img:1", "--name", "again", env={"DOCKER_CONFIG": str(bad)})
        assert p.returncode == 125 and ("denied" in p.stderr or "log in" in p.stderr), p.stderr
    finally:
        reg.stop()


# ---- a registry that wants Bearer tokens and honours ranges -----------------------

class TokenRegistry(http.server.ThreadingHTTPServer):
    def __init__(self, layout):
        super().__init__(("127.0.0.1", 0), TokenHandler)
        self.layout = layout
        self.token = "tok-" + os.urandom(8).hex()
        self.ranges = []
        self.token_requests = []
        self.need_creds = None
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()
        self.delay = 0
        self.host = f"127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


class TokenHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        srv = self.server
        if self.path.startswith("/token"):
            srv.token_requests.append((self.path, self.headers.get("Authorization")))
            if srv.need_creds and self.headers.get("Authorization") != srv.need_creds:
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            return self.send_json({"token": srv.token})
        if self.headers.get("Authorization") != f"Bearer {srv.token}":
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Bearer realm="http://{srv.host}/token",'
                                                 f'service="mock",scope="repository:t/img:pull"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        parts = self.path.split("/")  # /v2/t/img/manifests/REF
        kind, ref = parts[-2], parts[-1]
        if kind == "manifests":
            index = json.load(open(os.path.join(srv.layout, "index.json")))
            digest = index["manifests"][0]["digest"] if not ref.startswith("sha256:") else ref
            data = open(os.path.join(srv.layout, "blobs", "sha256", digest[7:]), "rb").read()
            return self.send_bytes(data, "application/vnd.oci.image.manifest.v1+json")
        path = os.path.join(srv.layout, "blobs", "sha256", ref[7:])
        if not os.path.exists(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = open(path, "rb").read()
        with srv.lock:
            srv.active += 1
            srv.max_active = max(srv.max_active, srv.active)
        try:
            time.sleep(srv.delay)
            self.send_blob(data)
        finally:
            with srv.lock:
                srv.active -= 1

    def send_blob(self, data):
        srv = self.server
        rng = self.headers.get("Range")
        if rng:
            srv.ranges.append(rng)
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            self.wfile.write(data[start:])
            return
        self.send_bytes(data, "application/octet-stream")

    def send_json(self, o):
        self.send_bytes(json.dumps(o).encode(), "application/json")

    def send_bytes(self, data, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_bearer_tokens_and_a_resumed_download(corral, store, shared_tmp):
    layout = ib.oci_layout(str(shared_tmp / "t"), tag="1")
    srv = TokenRegistry(layout)
    try:
        man = json.load(open(os.path.join(layout, "blobs", "sha256",
                                          json.load(open(os.path.join(layout, "index.json")))["manifests"][0]["digest"][7:])))
        # an earlier pull stopped halfway through the big layer
        big = man["layers"][0]["digest"][7:]
        data = open(os.path.join(layout, "blobs", "sha256", big), "rb").read()
        tmp = os.path.join(store, "tmp")
        os.makedirs(tmp, exist_ok=True)
        part = os.path.join(tmp, f"blob.{big}.part")
        open(part, "wb").write(data[: len(data) // 2])
        if corral.mode == "user":
            for p_ in (os.path.join(store, "tmp"), part):
                os.chown(p_, NOBODY, NOBODY)
        p = pull(corral, store, f"{srv.host}/t/img:1")
        assert p.returncode == 0, p.stderr
        assert srv.token_requests and "scope=repository%3At%2Fimg%3Apull" in srv.token_requests[0][0]
        assert srv.ranges == [f"bytes={len(data) // 2}-"], srv.ranges
        assert not os.path.exists(part)
        r = corral.run("/bin/sh", "-c", VIEW, opts=("--image", f"{srv.host}/t/img:1", "--store", store))
        assert r["stdout"] == EXPECT, r
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("args,code,needle", [
    (["image", "pull"], 2, "pull needs one REF"),
    (["image", "pull", "a", "b"], 2, "pull needs one REF"),
    (["image", "pull", "UPPER/case"], 125, "lowercase"),
    (["image", "pull", "x@sha256:12"], 125, "64 hex digits"),
    (["image", "ls", "--plain-http"], 2, "--plain-http is for pull"),
])
def test_bad_pull_input(corral, store, args, code, needle):
    p = corral.cli(*args, "--store", store)
    assert p.returncode == code and needle in p.stderr, (p.returncode, p.stderr)


def test_offline_registry_is_a_clear_error(corral, store):
    port = free_port()
    p = pull(corral, store, f"127.0.0.1:{port}/x/y:1")
    assert p.returncode == 125 and "offline?" in p.stderr, p.stderr


def test_bearer_tokens_with_credentials_and_parallel_layer_downloads(corral, store, shared_tmp):
    layout = ib.oci_layout(str(shared_tmp / "t"), tag="1")
    srv = TokenRegistry(layout)
    srv.need_creds = "Basic " + base64.b64encode(b"bob:pw").decode()
    srv.delay = 0.5  # each blob takes a while: the two layers overlap
    try:
        p = pull(corral, store, f"{srv.host}/t/img:1")
        assert p.returncode == 125 and "token" in p.stderr, p.stderr
        cfgdir = shared_tmp / "docker"
        cfgdir.mkdir()
        (cfgdir / "config.json").write_text(json.dumps({"auths": {srv.host: {"username": "bob", "password": "pw"}}}))
        os.chmod(cfgdir, 0o755)
        os.chmod(cfgdir / "config.json", 0o644)
        p = pull(corral, store, f"{srv.host}/t/img:1", env={"DOCKER_CONFIG": str(cfgdir)})
        assert p.returncode == 0, p.stderr
        assert srv.token_requests[-1][1] == srv.need_creds
        assert srv.max_active >= 2, srv.max_active  # layers downloaded at once
    finally:
        srv.shutdown()
        srv.server_close()

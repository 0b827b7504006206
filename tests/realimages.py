"""Images made by the tools users make them with, not by hand: a Debian
bookworm root file system with python3 and numpy from mmdebstrap, turned
into images by buildah (`buildah run --isolation chroot` for the layers
that change files), written out by `podman save` in Docker's and OCI's
archive formats.  The tests push them to a loopback docker-registry with
skopeo too.

  py      mmdebstrap minbase + python3 + python3-numpy, `WORKDIR /`,
          CMD ["python3"]: what `buildah config --workingdir /` writes.
  layers  py + a layer adding /opt/gone and /opt/stuff/old1 + a layer
          deleting /opt/gone and /etc/issue (whiteouts) and replacing
          /opt/stuff (an opaque directory), adding user app (1234:1234);
          ENV FOO=bar, WORKDIR /srv/missing (not in the image), USER app,
          ENTRYPOINT python3 -c PRINT (uid, gid, cwd, $FOO, arguments),
          CMD ["default", "cmd"].
  ids     layers with USER 1234:100 and WORKDIR /.

Building takes about a minute (mmdebstrap most of it); the archives are
kept in a cache ($CORRAL_TEST_IMAGE_CACHE, else /var/cache/corral-tests
as root) and rebuilt only when this file changes."""
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile

TOOLS = ("mmdebstrap", "buildah", "podman", "skopeo")
MIRROR = os.environ.get("CORRAL_TEST_MIRROR", "http://deb.debian.org/debian")
SUITE = "bookworm"
PRINT = ("import os, sys; print(os.getuid(), os.getgid(), os.getcwd(), os.environ.get('FOO'), "
         "sys.argv[1:])")
# name -> archive files written (format, file)
ARCHIVES = {"py": (("docker-archive", "py.docker.tar"), ("oci-archive", "py.oci.tar")),
            "layers": (("oci-archive", "layers.oci.tar"),),
            "ids": (("docker-archive", "ids.docker.tar"),)}


class Unavailable(Exception):
    """Why the images cannot be had here (a skip reason)."""


def cache_dir():
    d = os.environ.get("CORRAL_TEST_IMAGE_CACHE")
    if d:
        return d
    if os.geteuid() == 0:
        return "/var/cache/corral-tests"
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "corral-tests")


def recipe():
    with open(__file__, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def _sh(*cmd, timeout=600, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if p.returncode != 0:
        raise Unavailable(f"`{' '.join(cmd[:3])} ...` failed ({p.returncode}): {p.stderr.strip()[-400:]}")
    return p.stdout.strip()


def _build(work, out, tag):
    rootfs = os.path.join(work, "rootfs.tar")
    _sh("mmdebstrap", "--quiet", "--variant=minbase", "--include=python3,python3-numpy", SUITE, rootfs, MIRROR,
        timeout=1200)
    names = {n: f"localhost/corral-test-{n}:{tag}" for n in ARCHIVES}
    ctrs = []

    def container(base):
        c = _sh("buildah", "from", "--quiet", "--pull-never", base)
        ctrs.append(c)
        return c

    def run(c, script):
        _sh("buildah", "run", "--isolation", "chroot", c, "--", "/bin/sh", "-ec", script)

    try:
        c = container("scratch")
        _sh("buildah", "add", "--quiet", c, rootfs, "/")
        _sh("buildah", "config", "--workingdir", "/", "--cmd", '["python3"]', c)
        _sh("buildah", "commit", "--quiet", "--rm", c, names["py"])
        ctrs.remove(c)

        c = container(names["py"])
        run(c, "mkdir -p /opt/stuff; echo 1 > /opt/stuff/old1; echo gone > /opt/gone")
        _sh("buildah", "commit", "--quiet", "--rm", c, f"localhost/corral-test-mid:{tag}")
        ctrs.remove(c)
        c = container(f"localhost/corral-test-mid:{tag}")
        run(c, "rm /opt/gone /etc/issue; rm -rf /opt/stuff; mkdir /opt/stuff; echo new > /opt/stuff/new; "
               "useradd -u 1234 -U -M -s /bin/sh app")
        _sh("buildah", "config", "--env", "FOO=bar", "--workingdir", "/srv/missing", "--user", "app",
            "--entrypoint", json.dumps(["python3", "-c", PRINT]), "--cmd", '["default", "cmd"]', c)
        _sh("buildah", "commit", "--quiet", "--rm", c, names["layers"])
        ctrs.remove(c)

        c = container(names["layers"])
        _sh("buildah", "config", "--user", "1234:100", "--workingdir", "/", c)
        _sh("buildah", "commit", "--quiet", "--rm", c, names["ids"])
        ctrs.remove(c)

        for name, archives in ARCHIVES.items():
            for fmt, fname in archives:
                _sh("podman", "save", "--quiet", "--format", fmt, "-o", os.path.join(out, fname), names[name])
    finally:
        for c in ctrs:
            subprocess.run(["buildah", "rm", c], capture_output=True)
        subprocess.run(["buildah", "rmi", *names.values(), f"localhost/corral-test-mid:{tag}"],
                       capture_output=True)


def images():
    """{name: {format: path}}, built on first use and cached; raises
    Unavailable with the reason when they cannot be made here."""
    if os.geteuid() != 0:
        raise Unavailable("building real images needs root (buildah and podman write "
                          "/var/lib/containers): run `sudo make check`")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        raise Unavailable(f"needs {', '.join(missing)} (apt-get install {' '.join(TOOLS)})")
    cache = cache_dir()
    os.makedirs(cache, mode=0o755, exist_ok=True)
    tag = recipe()
    done = os.path.join(cache, tag)
    result = {n: {fmt: os.path.join(done, f) for fmt, f in a} for n, a in ARCHIVES.items()}
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isdir(done):
            return result
        # an older recipe's archives go
        for old in os.listdir(cache):
            if not old.startswith("."):
                shutil.rmtree(os.path.join(cache, old), ignore_errors=True)
        work = tempfile.mkdtemp(prefix="build.", dir=cache)
        try:
            out = os.path.join(work, "out")
            os.mkdir(out)
            _build(work, out, tag)
            for f in os.listdir(out):
                os.chmod(os.path.join(out, f), 0o644)
            os.chmod(out, 0o755)
            os.rename(out, done)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return result

#!/usr/bin/env python3
"""Builds a minimal Python 3 image from this host's own files, without
Docker or a registry, and writes it as an OCI image layout that
`corral image import` takes.

    rootfs/mkimage-python.py OUTDIR [--python /usr/bin/python3]
    corral image import OUTDIR --name python-host:3

What goes in: the interpreter and the shared libraries it and its
extension modules load (found with ldd), the standard library with its
compiled bytecode (compiled here if missing: on a read-only lower layer
Python cannot write .pyc, and imports would be ~3x slower), a small /etc
(passwd and group with root and nobody, nsswitch.conf, ld.so.cache), and
the usual empty directories.  Not the test suite, idlelib, tkinter or
ensurepip.  Everything is owned by root; the layer is one gzip tar.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile

SKIP_DIRS = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3/tests"}


def ldd(path):
    """Absolute paths of the shared libraries path loads (and the loader)."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    libs = set()
    for line in out.splitlines():
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(", line)
        if m:
            libs.add(m.group(1))
    return libs


def add_path(t, path, seen, arcname=None):
    """Adds path (and its parent directories) to the tar; symlinks are
    added as links, and what they point to too."""
    # parents by their real path: on a merged-/usr host /lib is a link to
    # usr/lib, and a layer may not put files "through" a link
    if arcname is None and os.path.dirname(path) != "/":
        path = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
    arc = (arcname or path).lstrip("/")
    if arc in seen:
        return
    parent = os.path.dirname(arc)
    if parent and parent not in seen:
        add_path(t, "/" + parent, seen)
    seen.add(arc)
    ti = t.gettarinfo(path, arcname=arc)
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    if ti.isreg():
        with open(path, "rb") as f:
            t.addfile(ti, f)
    else:
        t.addfile(ti)
    if ti.issym():
        target = os.path.join(os.path.dirname(path), os.readlink(path))
        if os.path.exists(target):
            add_path(t, os.path.normpath(target), seen)


def add_tree(t, root, seen):
    for dirpath, dirs, files in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        dirs[:] = sorted(d for d in dirs if os.path.normpath(os.path.join(rel, d)) not in SKIP_DIRS)
        add_path(t, dirpath, seen)
        for f in sorted(files):
            add_path(t, os.path.join(dirpath, f), seen)


def add_bytes(t, arc, data, mode=0o644):
    ti = tarfile.TarInfo(arc)
    ti.size, ti.mode, ti.mtime = len(data), mode, 0
    t.addfile(ti, io.BytesIO(data))


def add_dir(t, arc, mode=0o755):
    ti = tarfile.TarInfo(arc)
    ti.type, ti.mode = tarfile.DIRTYPE, mode
    t.addfile(ti)


def build_layer(python):
    exe = os.path.realpath(python)
    version = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    stdlib = subprocess.run([exe, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    # the bytecode, so that imports from the read-only layer need no compiling
    subprocess.run([exe, "-m", "compileall", "-q", "-j", "0", "-x", r"/(test|idlelib|tkinter)/", stdlib],
                   capture_output=True)
    libs = ldd(exe)
    for dirpath, _, files in os.walk(stdlib):
        for f in files:
            if f.endswith(".so"):
                libs |= ldd(os.path.join(dirpath, f))
    bio = io.BytesIO()
    seen = set()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in ("tmp", "sandbox", "dev", "proc", "etc", "root", "home"):
            add_dir(t, d, 0o1777 if d == "tmp" else 0o755)
            seen.add(d)
        add_path(t, exe, seen)
        add_path(t, "/usr/bin/python3", seen) if os.path.exists("/usr/bin/python3") else None
        for lib in sorted(libs):
            add_path(t, lib, seen)
        add_tree(t, stdlib, seen)
        add_bytes(t, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
        add_bytes(t, "etc/group", b"root:x:0:\nnogroup:x:65534:\n")
        add_bytes(t, "etc/nsswitch.conf", b"passwd: files\ngroup: files\nhosts: files\n")
        if os.path.exists("/etc/ld.so.cache"):
            add_path(t, "/etc/ld.so.cache", seen)
        # merged /usr: /bin and /lib* are links, as on Debian
        for d in ("bin", "lib", "lib64"):
            if os.path.islink("/" + d) and d not in seen:
                ti = tarfile.TarInfo(d)
                ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink("/" + d)
                t.addfile(ti)
                seen.add(d)
    return bio.getvalue(), version


def write_oci(out, layer, version):
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data):
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, h), "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + h, "size": len(data)}

    gz = gzip.compress(layer, mtime=0)
    ldesc = dict(put(gz), mediaType="application/vnd.oci.image.layer.v1.tar+gzip")
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"],
                   "Cmd": ["python3"], "WorkingDir": "/sandbox"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
    }).encode()
    cdesc = dict(put(config), mediaType="application/vnd.oci.image.config.v1+json")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": cdesc, "layers": [ldesc]}).encode()
    mdesc = dict(put(manifest), mediaType="application/vnd.oci.image.manifest.v1+json",
                 platform={"architecture": "amd64", "os": "linux"},
                 annotations={"org.opencontainers.image.ref.name": version})
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [mdesc]}, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="the OCI layout directory to write (must not exist)")
    ap.add_argument("--python", default="/usr/bin/python3")
    a = ap.parse_args()
    if os.path.exists(a.out):
        sys.exit(f"mkimage-python: {a.out} exists")
    layer, version = build_layer(a.python)
    write_oci(a.out, layer, version)
    print(f"{a.out}: Python {version}, one layer of {len(layer) / 1e6:.1f} MB "
          f"(import with: corral image import {a.out} --name python-host:{version})")


if __name__ == "__main__":
    main()

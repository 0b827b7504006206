"""Builds test images in Docker's and OCI's formats without Docker: two
layers made from the static busybox, with a whiteout, an opaque directory
and a file changed by the upper layer.

The view a program must see (what `docker run` shows):
  /data: keep, added          (gone is whited out by layer 2)
  /opq:  new                  (old1, old2 hidden: the dir is opaque)
  /etc/motd: "v2"
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile

BUSYBOX = "/bin/busybox"
APPLETS = ["sh", "ls", "cat", "echo", "id", "sleep", "touch", "pwd", "stat", "env", "sort"]


def entry(name, kind="file", data=b"", mode=None, uid=0, gid=0, target=None, dev=(0, 0)):
    return {"name": name, "kind": kind, "data": data, "mode": mode, "uid": uid, "gid": gid,
            "target": target, "dev": dev}


def tar_bytes(entries):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.uid, ti.gid = e["uid"], e["gid"]
            ti.mtime = 1700000000
            k = e["kind"]
            if k == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, e["mode"] if e["mode"] is not None else 0o755
                t.addfile(ti)
            elif k == "symlink":
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, e["target"], 0o777
                t.addfile(ti)
            elif k == "hardlink":
                ti.type, ti.linkname, ti.mode = tarfile.LNKTYPE, e["target"], 0o644
                t.addfile(ti)
            elif k == "char":
                ti.type, ti.mode = tarfile.CHRTYPE, 0o666
                ti.devmajor, ti.devminor = e["dev"]
                t.addfile(ti)
            else:
                ti.size = len(e["data"])
                ti.mode = e["mode"] if e["mode"] is not None else 0o644
                t.addfile(ti, io.BytesIO(e["data"]))
    return bio.getvalue()


def base_layer():
    bb = open(BUSYBOX, "rb").read()
    es = [entry("bin", "dir"), entry("bin/busybox", data=bb, mode=0o755)]
    es += [entry(f"bin/{a}", "symlink", target="busybox") for a in APPLETS]
    es += [entry("etc", "dir"), entry("etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\n"),
           entry("etc/motd", data=b"v1\n"), entry("tmp", "dir", mode=0o1777),
           entry("data", "dir"), entry("data/keep", data=b"keep\n"), entry("data/gone", data=b"gone\n"),
           entry("opq", "dir"), entry("opq/old1", data=b"1"), entry("opq/old2", data=b"2"),
           entry("work", "dir", mode=0o777)]
    return tar_bytes(es)


def top_layer():
    return tar_bytes([entry("data", "dir"), entry("data/.wh.gone"), entry("data/added", data=b"added\n"),
                      entry("opq", "dir"), entry("opq/.wh..wh..opq"), entry("opq/new", data=b"new\n"),
                      entry("etc", "dir"), entry("etc/motd", data=b"v2\n")])


def sha(b):
    return hashlib.sha256(b).hexdigest()


def config(layers):
    return json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin", "FOO=from-image"], "WorkingDir": "/work", "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(l) for l in layers]},
    }).encode()


def zstd(b):
    return subprocess.run(["zstd", "-q", "-c"], input=b, stdout=subprocess.PIPE, check=True).stdout


def write_tar_of_dir(src, dst):
    with tarfile.open(dst, "w") as t:
        for name in sorted(os.listdir(src)):
            t.add(os.path.join(src, name), arcname=name)


def docker_save_legacy(path):
    layers = [base_layer(), top_layer()]
    cfg = config(layers)
    files = {"manifest.json": json.dumps([{"Config": sha(cfg) + ".json", "RepoTags": ["t:1"],
                                           "Layers": ["l1/layer.tar", "l2/layer.tar"]}]).encode(),
             sha(cfg) + ".json": cfg, "l1/layer.tar": layers[0], "l2/layer.tar": layers[1]}
    with tarfile.open(path, "w") as t:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))


def docker_save(path, layers, image_config, config_name=None):
    """A `docker save` tar of these layer tars with this config section
    (stored as config_name, by default its digest + ".json")."""
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": image_config,
                      "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(l) for l in layers]}}).encode()
    config_name = config_name or sha(cfg) + ".json"
    files = {"manifest.json": json.dumps([{"Config": config_name, "RepoTags": ["t:1"],
                                           "Layers": [f"l{i}/layer.tar" for i in range(len(layers))]}]).encode(),
             config_name: cfg}
    files.update({f"l{i}/layer.tar": l for i, l in enumerate(layers)})
    with tarfile.open(path, "w") as t:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
    os.chmod(path, 0o644)
    return path


def oci_layout(d, compress=("gzip", "zstd"), corrupt_layer=None, platforms=False, docker_manifest=False,
               tag=None, arm64=False):
    """An OCI image layout directory; layer blobs compressed as asked."""
    layers = [base_layer(), top_layer()]
    cfg = config(layers)
    os.makedirs(os.path.join(d, "blobs", "sha256"))

    def put(b):
        open(os.path.join(d, "blobs", "sha256", sha(b)), "wb").write(b)
        return {"digest": "sha256:" + sha(b), "size": len(b)}

    descs = []
    for i, l in enumerate(layers):
        c = compress[i] if i < len(compress) else None
        blob = gzip.compress(l) if c == "gzip" else zstd(l) if c == "zstd" else l
        mt = "application/vnd.oci.image.layer.v1.tar" + ({"gzip": "+gzip", "zstd": "+zstd"}.get(c, ""))
        desc = dict(put(blob), mediaType=mt)
        if corrupt_layer == i:
            p = os.path.join(d, "blobs", "sha256", sha(blob))
            raw = bytearray(open(p, "rb").read())
            raw[len(raw) // 2] ^= 0xFF
            open(p, "wb").write(bytes(raw))
        descs.append(desc)
    cdesc = dict(put(cfg), mediaType="application/vnd.oci.image.config.v1+json")
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": cdesc, "layers": descs}).encode()
    mdesc = dict(put(man), mediaType="application/vnd.oci.image.manifest.v1+json",
                 platform={"architecture": "amd64", "os": "linux"})
    if tag:
        mdesc["annotations"] = {"org.opencontainers.image.ref.name": tag}
    manifests = [mdesc]
    if arm64:
        # a real second platform: another config (FOO=arm64), the same layers
        acfg = json.loads(cfg)
        acfg["architecture"] = "arm64"
        acfg["config"]["Env"] = ["PATH=/bin", "FOO=arm64"]
        acdesc = dict(put(json.dumps(acfg).encode()), mediaType="application/vnd.oci.image.config.v1+json")
        aman = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": acdesc, "layers": descs}).encode()
        manifests.insert(0, dict(put(aman), mediaType="application/vnd.oci.image.manifest.v1+json",
                                 platform={"architecture": "arm64", "os": "linux"}))
    if platforms:
        # another platform first, whose manifest is absent: never read
        manifests.insert(0, {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                             "digest": "sha256:" + "0" * 64, "size": 10,
                             "platform": {"architecture": "arm64", "os": "linux"}})
    if arm64 and tag:
        # a multi-platform image: index.json names an image index blob
        for m in manifests:
            m.pop("annotations", None)
        idx = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                          "manifests": manifests}).encode()
        manifests = [dict(put(idx), mediaType="application/vnd.oci.image.index.v1+json",
                          annotations={"org.opencontainers.image.ref.name": tag})]
    open(os.path.join(d, "index.json"), "w").write(json.dumps({"schemaVersion": 2, "manifests": manifests}))
    open(os.path.join(d, "oci-layout"), "w").write(json.dumps({"imageLayoutVersion": "1.0.0"}))
    if docker_manifest:
        # Docker 25+ `docker save`: an OCI layout plus the legacy manifest.json
        open(os.path.join(d, "manifest.json"), "w").write(json.dumps([{
            "Config": "blobs/sha256/" + cdesc["digest"][7:], "RepoTags": ["t:1"],
            "Layers": ["blobs/sha256/" + x["digest"][7:] for x in descs]}]))
    return d


def docker_export(path, compress=False):
    """The flat file system the two layers make, as `docker export` writes it."""
    bb = open(BUSYBOX, "rb").read()
    es = [entry("bin", "dir"), entry("bin/busybox", data=bb, mode=0o755)]
    es += [entry(f"bin/{a}", "symlink", target="busybox") for a in APPLETS]
    es += [entry("etc", "dir"), entry("etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\n"),
           entry("etc/motd", data=b"v2\n"), entry("tmp", "dir", mode=0o1777),
           entry("data", "dir"), entry("data/keep", data=b"keep\n"), entry("data/added", data=b"added\n"),
           entry("opq", "dir"), entry("opq/new", data=b"new\n"), entry("work", "dir", mode=0o777)]
    b = tar_bytes(es)
    open(path, "wb").write(gzip.compress(b) if compress else b)


def build(kind, work):
    """Writes an image of the given kind under work; returns its path."""
    work = str(work)
    os.makedirs(work, exist_ok=True)
    if kind == "docker-export":
        p = os.path.join(work, "export.tar")
        docker_export(p)
    elif kind == "docker-export-gz":
        p = os.path.join(work, "export.tar.gz")
        docker_export(p, compress=True)
    elif kind == "docker-save":
        p = os.path.join(work, "save.tar")
        docker_save_legacy(p)
    elif kind == "docker-save-oci":
        d = oci_layout(os.path.join(work, "save-oci"), compress=(None, None), docker_manifest=True)
        p = os.path.join(work, "save-oci.tar")
        write_tar_of_dir(d, p)
        shutil.rmtree(d)
    elif kind == "oci-dir":
        p = oci_layout(os.path.join(work, "oci"), platforms=True)
    elif kind == "oci-tar":
        d = oci_layout(os.path.join(work, "oci-t"))
        p = os.path.join(work, "oci.tar")
        write_tar_of_dir(d, p)
        shutil.rmtree(d)
    else:
        raise ValueError(kind)
    for root, dirs, files in os.walk(work):
        for x in dirs:
            os.chmod(os.path.join(root, x), 0o755)
        for x in files:
            os.chmod(os.path.join(root, x), 0o644)
    os.chmod(work, 0o755)
    return p

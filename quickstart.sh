#!/bin/sh
# Quick start on a fresh Debian/Ubuntu host (as root or with sudo):
# installs the build dependencies, builds corral, and runs a real Python
# job in a sandbox on the embedded default (a read-only view of this host),
# then scores a small HumanEval-format example with `corral eval`.
set -eu
cd "$(dirname "$0")"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# the build's dependencies, then everything `make check` uses: images made
# by real tools (mmdebstrap, buildah, podman, skopeo, a loopback
# docker-registry with htpasswd), Jupyter for /run_jupyter, numpy as eval
# hosts have it
$SUDO apt-get install -y -qq --no-install-recommends build-essential autoconf automake pkg-config \
  libseccomp-dev libcap-dev libnl-3-dev libnl-route-3-dev libcjson-dev libcurl4-openssl-dev zlib1g-dev libarchive-dev libmicrohttpd-dev \
  mandoc python3 python3-pytest util-linux busybox-static zstd \
  mmdebstrap buildah podman skopeo docker-registry apache2-utils \
  python3-numpy python3-jupyter-client python3-ipykernel >/dev/null
autoreconf -fi >/dev/null 2>&1
./configure --enable-werror PYTHON3=/usr/bin/python3 >/dev/null
make -j"$(nproc)" >/dev/null
echo "built ./corral; running a Python job in a sandbox:"
./corral run --json --pretty --memory 256M --pids 64 --time 5 -- \
  /usr/bin/python3 -c 'import math, os, socket; print("pid", os.getpid(), "on", socket.gethostname(), "->", math.factorial(20))'

echo
echo "scoring three samples of a small HumanEval-format problem, each in its own sandbox:"
demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT
cat > "$demo/problems.jsonl" <<'JSON'
{"task_id": "demo/0", "prompt": "def add(a, b):\n", "entry_point": "add", "test": "def check(f):\n    assert f(2, 3) == 5\n    assert f(-1, 1) == 0\n"}
JSON
cat > "$demo/samples.jsonl" <<'JSON'
{"task_id": "demo/0", "completion": "    return a + b\n"}
{"task_id": "demo/0", "completion": "    return a - b\n"}
{"task_id": "demo/0", "completion": "    import os\n    os.system('rm -rf /')\n"}
JSON
./corral eval humaneval --problems "$demo/problems.jsonl" --samples "$demo/samples.jsonl" --no-progress
cut -c1-160 "$demo/samples.jsonl_results.jsonl"

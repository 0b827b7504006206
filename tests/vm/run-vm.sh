#!/bin/sh
# make check-vm: prove the cgroup v2 path on a pure v2 host.  Builds an
# initramfs (busybox, corral and its shared libraries, the static hostile
# helper, python3 and most of its standard library,
# tests/vm/guest-tests.sh), boots it under qemu TCG on Debian's
# cloud kernel (fetched once with apt-get download, cached, never
# committed), and reads the results from the serial console.
#   CORRAL=... CORRAL_HOSTILE=... tests/vm/run-vm.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
CORRAL=${CORRAL:?set CORRAL to the corral binary}
HOSTILE=${CORRAL_HOSTILE:?set CORRAL_HOSTILE to the hostile helper}
cache=${CORRAL_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/corral/vm}
timeout_s=${CORRAL_VM_TIMEOUT:-900}
for tool in qemu-system-x86_64 busybox cpio gzip apt-get dpkg; do
  command -v "$tool" >/dev/null || { echo "check-vm: $tool not found (apt-get install qemu-system-x86 busybox-static cpio)" >&2; exit 1; }
done

# The kernel: exactly the version linux-image-cloud-amd64 depends on.
mkdir -p "$cache"
pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$pkg" ] || { echo "check-vm: cannot resolve linux-image-cloud-amd64 (run apt-get update)" >&2; exit 1; }
kernel=$(ls "$cache/$pkg"/boot/vmlinuz-* 2>/dev/null | head -n 1 || true)
if [ -z "$kernel" ]; then
  (cd "$cache" && rm -f "$pkg"_*.deb && apt-get download "$pkg" >/dev/null 2>&1) \
    || { echo "check-vm: apt-get download $pkg failed" >&2; exit 1; }
  rm -rf "$cache/$pkg" && dpkg -x "$cache/$pkg"_*.deb "$cache/$pkg"
  rm -f "$cache/$pkg"_*.deb
  kernel=$(ls "$cache/$pkg"/boot/vmlinuz-* | head -n 1)
fi

work=$(mktemp -d /tmp/corral-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib" "$root/usr/lib64" "$root/etc" \
  "$root/opt/h" "$root/newroot" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
for l in bin lib lib64 sbin; do ln -s "usr/$l" "$root/$l"; done
cp "$(command -v busybox)" "$root/usr/bin/busybox"
for a in $(busybox --list); do [ -e "$root/usr/bin/$a" ] || ln -s busybox "$root/usr/bin/$a"; done
cp "$CORRAL" "$root/usr/bin/corral"
# corral-serve (which `corral serve` finds next to corral), when built
SERVE=${CORRAL_SERVE:-$(dirname "$CORRAL")/corral-serve}
bins="$CORRAL"
if [ -x "$SERVE" ]; then
  cp "$SERVE" "$root/usr/bin/corral-serve"
  bins="$bins $SERVE"
fi
# their shared libraries, at the same paths (merged /usr)
for lib in $(for b in $bins; do ldd "$b"; done | awk '/=> \//{print $3} /^[[:space:]]*\/lib/{print $1}' | sort -u); do
  real=$(readlink -f "$lib")
  dest="$root/usr${lib#/usr}"
  mkdir -p "$(dirname "$dest")"
  cp "$real" "$dest"
done
# libarchive, which `corral image import` loads with dlopen, and its libraries
archive=$(ldconfig -p | awk '/libarchive\.so\.13 .*x86-64/{print $NF; exit}')
if [ -n "$archive" ]; then
  for lib in "$archive" $(ldd "$archive" | awk '/=> \//{print $3}'); do
    real=$(readlink -f "$lib")
    dest="$root/usr${lib#/usr}"
    mkdir -p "$(dirname "$dest")"
    cp "$real" "$dest"
  done
fi
# Python, for `corral eval` (its warm interpreters) in the guest: the
# interpreter, its libraries and the standard library without what the
# runners never import
py=$(readlink -f "${PYTHON3:-/usr/bin/python3}")
pylib=$("$py" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
cp "$py" "$root/usr/bin/python3"
for lib in $(ldd "$py" "$pylib"/lib-dynload/_ctypes*.so | awk '/=> \//{print $3}' | sort -u); do
  real=$(readlink -f "$lib")
  dest="$root/usr${lib#/usr}"
  mkdir -p "$(dirname "$dest")"
  cp "$real" "$dest"
done
mkdir -p "$root$pylib"
(cd "$pylib" && tar cf - --exclude='./test' --exclude='./idlelib' --exclude='./tkinter' \
   --exclude='./turtledemo' --exclude='./lib2to3' --exclude='./pydoc_data' --exclude='./ensurepip' \
   --exclude='./distutils' --exclude='./config-*' --exclude='./site-packages' \
   --exclude='./dist-packages' --exclude='./asyncio' --exclude='./sqlite3' .) | (cd "$root$pylib" && tar xf -)
# HumanEval's example problem, and samples that pass, fail, blow memory
mkdir -p "$root/opt/he"
"${PYTHON3:-python3}" - "$root/opt/he" <<'PY'
import json, sys
d = sys.argv[1]
json.dump({"task_id": "test/0", "prompt": "def f():\n", "entry_point": "f",
           "canonical_solution": "    return 1\n",
           "test": "def check(c):\n    assert c() == 1\n"}, open(d + "/p.jsonl", "w"))
rows = ["    return 1\n", "    return 2\n",
        "    x = []\n    while True:\n        x.append(bytearray(1 << 24))\n",
        "    import os\n    assert os.getuid() == 0 and open('/proc/self/cgroup').read().split(':')[-1].strip() == '/'\n"
        "    return 1\n"]
open(d + "/s.jsonl", "w").write("".join(json.dumps({"task_id": "test/0", "completion": r}) + "\n" for r in rows))
PY
chmod -R a+rX "$root/opt/he"
# overlayfs is a module in Debian's cloud kernel: loaded by guest-init.sh
overlay_ko=$(ls "$cache/$pkg"/lib/modules/*/kernel/fs/overlayfs/overlay.ko* 2>/dev/null | head -n 1 || true)
case "$overlay_ko" in
  *.xz) xz -dc "$overlay_ko" > "$root/opt/overlay.ko" ;;
  *.zst) zstd -qdc "$overlay_ko" > "$root/opt/overlay.ko" ;;
  ?*) cp "$overlay_ko" "$root/opt/overlay.ko" ;;
esac
# test images (tests/imagebuild.py): a two-layer docker save with a whiteout
# and an opaque dir, and a flat docker export
mkdir -p "$root/opt/img"
PYTHONPATH="$here/.." "${PYTHON3:-python3}" -c '
import sys, imagebuild as ib
ib.docker_save_legacy(sys.argv[1] + "/save.tar"); ib.docker_export(sys.argv[1] + "/export.tar")' "$root/opt/img"
chmod 644 "$root/opt/img/"*
cp "$HOSTILE" "$root/opt/h/hostile"
chmod 755 "$root/opt/h/hostile"
# and in the host view's /usr, for runs through the server (no --bind there)
cp "$HOSTILE" "$root/usr/bin/hostile"
chmod 755 "$root/usr/bin/hostile"
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n' > "$root/etc/group"
cp "$here/guest-init.sh" "$root/init"
cp "$here/guest-tests.sh" "$root/guest-tests.sh"
chmod 755 "$root/init" "$root/guest-tests.sh"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$work/initrd.gz"

echo "check-vm: booting $(basename "$kernel") under qemu TCG (timeout ${timeout_s}s)"
start=$(date +%s)
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -m 1536 -smp 2 -nographic -no-reboot \
  -kernel "$kernel" -initrd "$work/initrd.gz" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3" > "$work/console.txt" 2>&1 || true
echo "check-vm: guest ran $(( $(date +%s) - start )) s"
grep "VMTEST" "$work/console.txt" | tr -d '\r' || true
summary=$(grep -a "^VMTEST [0-9]* passed, [0-9]* failed" "$work/console.txt" | tr -d '\r' | tail -n 1)
if [ -z "$summary" ]; then
  echo "check-vm: the guest did not finish (hang, crash or timeout); console tail:" >&2
  tail -n 40 "$work/console.txt" >&2
  exit 1
fi
case "$summary" in
  *" 0 failed") echo "check-vm: ${summary#VMTEST }"; exit 0 ;;
  *) exit 1 ;;
esac

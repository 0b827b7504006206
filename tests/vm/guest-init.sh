#!/bin/sh
# Stage 1 in the VM: pivot_root cannot leave the initramfs (rootfs), and
# corral pivots, so copy the tree onto a tmpfs and switch_root into it.
export PATH=/usr/bin:/usr/sbin
[ -f /opt/overlay.ko ] && insmod /opt/overlay.ko
mount -t tmpfs -o size=768m tmpfs /newroot
for f in /*; do
  case "$f" in /newroot|/proc|/sys|/dev|/init) ;; *) cp -a "$f" /newroot/ ;; esac
done
mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/tmp
exec switch_root /newroot /guest-tests.sh

#!/usr/bin/env bash
# Usage: mkinitrd.sh KERNEL_DIR OUT.cpio.gz
# A busybox initramfs for a kernel unpacked from its .deb: loads the
# virtio, 9p and overlay modules, mounts this machine's / (9p tag "host",
# read-only) under a tmpfs overlay so the guest runs the host's node, the
# checkout and the built probe unchanged, mounts the share (tag "share") at
# /vmshare, and runs the script named by vminit= on the kernel command line;
# its exit status goes to /vmshare/rc, then the guest powers off.
set -euo pipefail
KDIR=$(realpath "$1"); OUT=$(realpath -m "$2")
KVER=$(ls "$KDIR/lib/modules")
MODDIR=$KDIR/lib/modules/$KVER
[ -f "$MODDIR/modules.dep" ] || depmod -b "$KDIR" "$KVER"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W"/{bin,dev,proc,sys,host,rw,newroot,mods}
cp /bin/busybox "$W/bin/busybox"
# Modules in load order, dependencies first; built-in ones are simply absent.
want="virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p overlay"
: > "$W/mods/order"
add() {
  local rel=$1 base; base=$(basename "$rel"); base=${base%.xz}; base=${base%.zst}
  grep -qx "$base" "$W/mods/order" && return 0
  for d in $(grep "^$rel:" "$MODDIR/modules.dep" | cut -d: -f2); do add "$d"; done
  case $rel in
    *.xz)  xz -dc "$MODDIR/$rel" > "$W/mods/$base" ;;
    *.zst) zstd -qdc "$MODDIR/$rel" > "$W/mods/$base" ;;
    *)     cp "$MODDIR/$rel" "$W/mods/$base" ;;
  esac
  echo "$base" >> "$W/mods/order"
}
for m in $want; do
  rel=$(grep -E "(^|/)$m\.ko(\.xz|\.zst)?:" "$MODDIR/modules.dep" | cut -d: -f1 || true)
  [ -n "$rel" ] && add "$rel"
done
cat > "$W/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m 2>/dev/null || echo "insmod $m failed"; done
fail() { echo "vm-init: $*"; echo o > /proc/sysrq-trigger; sleep 5; }
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=524288,cache=loose host /host || fail "9p mount of the host failed"
mount -t tmpfs -o size=2G tmpfs /rw; mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /newroot || fail "overlay mount failed"
mkdir -p /newroot/vmshare
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 share /newroot/vmshare || fail "9p mount of the share failed"
for d in proc sys dev; do mount --move /$d /newroot/$d; done
exec switch_root /newroot /bin/sh -c 'for a in $(cat /proc/cmdline); do case $a in vminit=*) S=${a#vminit=};; esac; done; /bin/bash "$S"; rc=$?; echo $rc > /vmshare/rc; sync; echo o > /proc/sysrq-trigger; while :; do sleep 1; done'
INIT
chmod +x "$W/init"
(cd "$W" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUT"
echo "[vm] initramfs $OUT" >&2

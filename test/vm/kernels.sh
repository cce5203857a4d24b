#!/usr/bin/env bash
# The kernel matrix's guests: Debian's 6.1 and 6.12 kernels fetched by
# package name (the newest of each that apt offers), unpacked with dpkg-deb
# (never installed as this machine's kernel), and a busybox initramfs each.
# Everything lands under .vm/ (gitignored). Idempotent; scripts/setup.sh
# runs it. Usage: test/vm/kernels.sh  (prints what it has)
set -euo pipefail
cd "$(dirname "$0")/../.."
log() { printf '[vm] %s\n' "$*" >&2; }
VM=.vm
mkdir -p "$VM/debs" "$VM/kernels"

# Packages to boot guests: QEMU (TCG), busybox for the initramfs, cpio,
# depmod, and the module decompressors.
PKGS=(qemu-system-x86 busybox-static cpio kmod xz-utils zstd)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then log "missing ${missing[*]} (root installs them): no kernel matrix"; exit 0; fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The newest 6.1 and 6.12 images apt knows (the archive keeps only recent ones).
newest() { apt-cache pkgnames linux-image-6 2>/dev/null | grep -E "$1" | sort -V | tail -1; }
want=()
for re in '^linux-image-6\.1\.0-[0-9]+-amd64$' '^linux-image-6\.12\.[0-9]+\+deb12-amd64$'; do
  pkg=$(newest "$re")
  if [ -z "$pkg" ]; then
    apt-get update -qq || true
    pkg=$(newest "$re")
  fi
  if [ -z "$pkg" ]; then
    # Offline, or the archive moved on: keep what is cached.
    cached=$(ls "$VM/kernels" 2>/dev/null | grep -E "${re#^linux-image-}" | sort -V | tail -1 || true)
    [ -n "$cached" ] && { want+=("$cached"); continue; }
    log "apt knows no package matching $re: that kernel is missing from the matrix"
    continue
  fi
  want+=("${pkg#linux-image-}")
done

for ver in "${want[@]}"; do
  dir=$VM/kernels/$ver
  if [ ! -f "$dir/.unpacked" ]; then
    (cd "$VM/debs" && ls linux-image-"$ver"_*.deb >/dev/null 2>&1 || { log "downloading linux-image-$ver"; apt-get download -qq -o APT::Sandbox::User=root "linux-image-$ver"; })
    rm -rf "$dir"; mkdir -p "$dir"
    dpkg-deb -x "$VM"/debs/linux-image-"$ver"_*.deb "$dir"
    touch "$dir/.unpacked"
    rm -f "$VM"/debs/linux-image-"$ver"_*.deb  # unpacked: 70 MB each not needed again
  fi
  [ -f "$dir/initrd.cpio.gz" ] || bash test/vm/mkinitrd.sh "$dir" "$dir/initrd.cpio.gz"
done
printf '%s\n' "${want[@]}" > "$VM/matrix"
log "kernel matrix: $(tr '\n' ' ' < "$VM/matrix")"

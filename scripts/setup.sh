#!/usr/bin/env bash
# Installs what is missing and builds engine and probe. Idempotent and quick
# when nothing changed; `npm start` and `npm test` both run it first.
# --test also installs what the tests run: container runtimes (dockerd,
# containerd, runc; the tests start and stop their own daemons by pid and
# never enable a service), busybox-static for test images, debootstrap for
# the DaemonSet images' base, golang-github-containers-common for a runtime's
# default seccomp profile (/usr/share/containers/seccomp.json), and
# openssh-server, openssh-client and vsftpd, real root daemons that drop and
# take back their uid for a request (sshd for each key it checks, vsftpd to
# enter a user's home at login), started by pid on loopback by
# test/kernel/setid-daemons.test.ts, never as a service.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

# Debian packages that build the probe (and the peers benchmarks compare with).
APT_PACKAGES=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libgrpc++-dev libprotobuf-dev
  protobuf-compiler protobuf-compiler-grpc libssl-dev pkg-config make g++ iproute2 python3 bpftrace tshark
  netcat-openbsd)

# `setup.sh --test` (npm test): also the browser the console's tests drive,
# Debian's headless Chromium (playwright-core downloads nothing), a font, and
# poppler's pdftotext to read the risk report the browser prints to PDF; and
# what the container tests run (see the header).
if [ "${1:-}" = "--test" ]; then
  APT_PACKAGES+=(chromium fonts-dejavu-core poppler-utils docker.io busybox-static debootstrap golang-github-containers-common
    openssh-server openssh-client vsftpd)
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; the answer is no.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
    apt-get update -qq
    # Packages must not start services (docker.io would start dockerd where an
    # init system lets it): Debian's policy-rc.d convention, only for this install.
    own_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
  else
    log "missing Debian packages: ${missing[*]} (run as root on Debian to install them; the probe will not build)"
  fi
fi

# npm dependencies, as locked: install when absent or when the lock file
# changed. Not `npm ci`: the lock holds only the platform packages this
# registry serves (rollup's, esbuild's), and ci refuses a lock without
# every platform's entry; `install --no-save` installs the locked versions
# and never rewrites the lock.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies"
  npm install --no-save --no-audit --no-fund --loglevel=error
fi

log "building engine"
npx tsc -p tsconfig.build.json
node scripts/bundle-cli.mjs
chmod +x dist/cli/main.js

if command -v clang >/dev/null && command -v bpftool >/dev/null && [ -r /sys/kernel/btf/vmlinux ]; then
  log "building probe"
  make -s -C bpf -j"$(nproc)" >/dev/null
else
  log "probe not built: needs clang, bpftool and kernel BTF at /sys/kernel/btf/vmlinux"
fi

# The kernel matrix's guests (test/vm/): QEMU and Debian's 6.1 and 6.12
# kernels by package name, cached under .vm/ (a few seconds when cached).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  bash test/vm/kernels.sh || log "kernel matrix not prepared (test/vm/kernels.sh failed): its tests will say so"
fi

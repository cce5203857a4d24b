#!/usr/bin/env bash
# Usage: test/vm/boot.sh KERNEL SHARE_DIR SCRIPT [LSM_LIST]
#   KERNEL     a version unpacked by test/vm/kernels.sh (.vm/kernels/KERNEL)
#   SHARE_DIR  a host directory the guest sees read-write at /vmshare
#   SCRIPT     the script the guest runs as root (a path on this machine:
#              the guest sees this machine's / read-only under a tmpfs overlay)
#   LSM_LIST   the boot's lsm= (default with bpf: lockdown,capability,landlock,yama,apparmor,bpf)
# Boots the kernel under QEMU's TCG, prints the serial console, and exits
# with the script's exit status (125 when the guest reported none).
# /dev/kvm is not used: on this sandbox it is a software hypervisor that
# stock kernels hang under; on a real KVM host VM_ACCEL=kvm is much faster.
# Env: VM_CPUS (2), VM_MEM (2G), VM_TIMEOUT seconds (1500), VM_ACCEL (tcg), VM_TCG_THREAD (single).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KVER=$1; SHARE=$(realpath "$2"); SCRIPT=$3
LSM=${4:-lockdown,capability,landlock,yama,apparmor,bpf}
KDIR=$ROOT/.vm/kernels/$KVER
[ -f "$KDIR/initrd.cpio.gz" ] || { echo "boot.sh: no kernel $KVER under .vm/kernels (run test/vm/kernels.sh)" >&2; exit 125; }
# TCG runs both vCPUs on one host thread (thread=single): with a thread per
# vCPU, a vCPU the busy host descheduled mid-block can run a stale copy of
# kernel text the other vCPU is live-patching as BPF programs attach (static
# keys: int3 first), and the guest dies with "Oops: int3" (seen here under
# load, in syscall_exit_to_user_mode_prepare during the probe's attach).
if [ "${VM_ACCEL:-tcg}" = kvm ]; then A=(-enable-kvm -cpu host); else A=(-accel "tcg,thread=${VM_TCG_THREAD:-single}" -cpu max); fi
rm -f "$SHARE/rc"
timeout --foreground "${VM_TIMEOUT:-1500}" qemu-system-x86_64 "${A[@]}" -smp "${VM_CPUS:-2}" -m "${VM_MEM:-2G}" \
  -nographic -no-reboot -nodefaults -serial stdio -monitor none \
  -kernel "$KDIR"/boot/vmlinuz-* -initrd "$KDIR/initrd.cpio.gz" \
  -append "console=ttyS0 panic=-1 quiet loglevel=4 lsm=$LSM vminit=$SCRIPT" \
  -virtfs local,path=/,mount_tag=host,security_model=passthrough,readonly=on,multidevs=remap \
  -virtfs local,path="$SHARE",mount_tag=share,security_model=none \
  -device virtio-rng-pci </dev/null || true
[ -f "$SHARE/rc" ] || { echo "boot.sh: the guest reported no result" >&2; exit 125; }
exit "$(cat "$SHARE/rc")"

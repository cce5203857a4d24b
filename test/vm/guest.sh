#!/bin/bash
# Runs inside a matrix guest as root (test/vm/boot.sh; the checkout, node
# and the built probe are this machine's, read through 9p): the kernel test
# set on this kernel. /vmshare/env (written by test/vm/matrix.test.ts) says
# where the checkout is and which mechanism enforcement must get here;
# results go back through /vmshare.
set -u
. /vmshare/env
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mkdir -p /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up
ulimit -l unlimited
cd "$VIGIL_ROOT" || exit 3
{ uname -r; cat /sys/kernel/security/lsm; echo; } > /vmshare/kernel.txt
t0=$(cut -d' ' -f1 /proc/uptime)
bpf/build/vigil-probe --check-programs > /vmshare/check.txt 2>&1
t1=$(cut -d' ' -f1 /proc/uptime)
# The kernel test set: the pipeline's smoke test, every enforcement test, enforcement pinned
# across a probe restart (by this kernel's mechanism), and io_uring followed.
CI=true VIGIL_TIME_SCALE=10 VIGIL_EXPECT_MECHANISM="$VIGIL_EXPECT_MECHANISM" \
  node_modules/.bin/vitest run test/kernel/pipeline.test.ts test/kernel/enforce.test.ts test/kernel/syscalls.test.ts \
  test/kernel/pinning.test.ts \
  -t "$VIGIL_TESTS" --testTimeout=300000 --hookTimeout=600000 \
  --reporter=default --reporter=json --outputFile.json=/vmshare/vitest.json > /vmshare/vitest.log 2>&1
rc=$?
t2=$(cut -d' ' -f1 /proc/uptime)
echo "boot ${t0}s, program check $(awk -v a=$t0 -v b=$t1 'BEGIN{print b-a}')s, tests $(awk -v a=$t1 -v b=$t2 'BEGIN{print b-a}')s" > /vmshare/times.txt
exit $rc

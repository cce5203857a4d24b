// Every kernel program on this host's kernel: `vigil-probe --check-programs`
// loads each on its own and says OK, SKIP with a reason, or FAIL with the
// verifier's message. The QEMU guests of test/vm/ run the same check on
// Debian's 6.1 and 6.12.
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { describeKernel, probeBinary } from '../support/kernel.js';

/** The reasons a program may be skipped for, and nothing else. */
const SKIP_REASONS = [
  /this kernel has no sys_(enter|exit)_\w+ tracepoint$/,
  /this kernel has no io_uring_submit_(sqe|req) tracepoint$/,
  /the kernel refuses (BPF LSM|fmod_ret) programs here: /,
  /the BPF LSM is not in this boot's LSM list/,
];

describeKernel('kernel programs on this kernel', () => {
  it('loads every program, or skips it for a stated reason; the verifier rejects none', { timeout: 150_000 }, () => {
    const r = spawnSync(probeBinary, ['--check-programs'], { encoding: 'utf8', timeout: 120_000 });
    const lines = r.stdout.split('\n').filter(Boolean);
    const failed = lines.filter((l) => l.startsWith('FAIL'));
    expect(failed, 'programs the kernel rejected, with the verifier\'s message').toEqual([]);
    expect(r.status).toBe(0);
    const programs = lines.filter((l) => /^(OK|SKIP|FAIL) /.test(l));
    expect(lines.at(-1)).toBe(`0 of ${programs.length} programs failed`);
    for (const l of programs.filter((p) => p.startsWith('SKIP'))) {
      expect(SKIP_REASONS.some((re) => re.test(l)), l).toBe(true);
    }
    // The programs that observe load everywhere (the snapshot's task iterator too: the QEMU matrix checks 6.1);
    // only enforcement hooks and missing syscalls may be skipped.
    for (const name of ['handle_exec', 'enter_openat', 'enter_unlinkat', 'enter_renameat2', 'enter_connect', 'enforce_connect4', 'capture_ingress', 'capture_egress', 'snapshot_cgroups']) {
      expect(programs.find((l) => l.split(/\s+/)[1] === name), name).toMatch(/^OK /);
    }
  });
});

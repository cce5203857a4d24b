// The kernel matrix: the kernel test set run inside QEMU guests booted with
// Debian's 6.1 and 6.12 kernels (fetched by test/vm/kernels.sh, which
// scripts/setup.sh runs), besides this host's kernel where the rest of the
// suite runs. Each guest boots once (test/vm/boot.sh, TCG: 5-20 times slower
// than the host, so the guest runs a small set) and runs test/vm/guest.sh:
//   - vigil-probe --check-programs: every program loads, or is skipped for a
//     reason this test expects; a program the verifier rejects fails the run
//     with the verifier's own message;
//   - the pipeline's smoke test (exec, open, connect reach the engine,
//     attributed to a cgroup), every enforcement test, with the mechanism
//     each operation must get on that boot, and io_uring's work followed
//     (io_uring_submit_sqe on 6.1, io_uring_submit_req since).
// Results come back through the 9p share under .vm/run/.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/kernel.js';

interface Guest {
  /** Test name. */
  name: string;
  /** Kernel series: the newest 6.1 or 6.12 test/vm/kernels.sh fetched. */
  series: '6.1' | '6.12';
  /** The boot's lsm= list. */
  lsm: string;
  /** The mechanism every enforced file operation, exec and connect must get. */
  mechanism: 'bpf-lsm' | 'fmod_ret';
  /** Programs skipped on purpose there, by name pattern, with the reason that must be given. */
  skips: { program: RegExp; reason: RegExp }[];
}

const WITH_BPF = 'lockdown,capability,landlock,yama,apparmor,bpf';
const NO_FCHMODAT2 = { program: /^(enter|exit)_fchmodat2$/, reason: /has no sys_(enter|exit)_fchmodat2 tracepoint/ };
// io_uring's submit tracepoint: io_uring_submit_sqe before 6.0, io_uring_submit_req since.
const NO_SUBMIT_REQ = { program: /^uring_submit_req$/, reason: /has no io_uring_submit_req tracepoint/ };
const NO_SUBMIT_SQE = { program: /^uring_submit_sqe$/, reason: /has no io_uring_submit_sqe tracepoint/ };
const NO_LSM = { program: /^lsm_/, reason: /BPF LSM is not in this boot's LSM list/ };

const GUESTS: Guest[] = [
  { name: 'Debian 6.1, BPF LSM', series: '6.1', lsm: WITH_BPF, mechanism: 'bpf-lsm', skips: [NO_FCHMODAT2, NO_SUBMIT_REQ] },
  { name: 'Debian 6.12, BPF LSM', series: '6.12', lsm: WITH_BPF, mechanism: 'bpf-lsm', skips: [NO_SUBMIT_SQE] },
  // Booted without bpf in lsm=: the same hooks through fmod_ret on security_*.
  { name: 'Debian 6.1 without the BPF LSM (fmod_ret)', series: '6.1', lsm: 'lockdown,capability,landlock,yama,apparmor', mechanism: 'fmod_ret', skips: [NO_FCHMODAT2, NO_SUBMIT_REQ, NO_LSM] },
];

/** The kernel test set each guest runs (vitest -t, a regular expression over full test names). */
const GUEST_TESTS = 'sees exec, file and connect activity|enforcement on this kernel|enforcement pinned in bpffs|io_uring: the ring set up';

/** Why the matrix cannot run here, or null. */
function unavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync(join(repoRoot, '.vm/matrix'))) return 'no kernels fetched (.vm/matrix): test/vm/kernels.sh, run by scripts/setup.sh as root, fetches them';
  if (!existsSync('/usr/bin/qemu-system-x86_64')) return 'qemu-system-x86 is not installed';
  if (!existsSync(join(repoRoot, 'bpf/build/vigil-probe'))) return 'probe not built';
  return null;
}

function kernelOf(series: string): string | undefined {
  const all = readFileSync(join(repoRoot, '.vm/matrix'), 'utf8').split('\n').filter(Boolean);
  return all.find((k) => k.startsWith(`${series}.`) && (series !== '6.1' || k.startsWith('6.1.0-')));
}

/** Boots one guest; resolves with its exit status and console. */
function boot(kernel: string, share: string, lsm: string): Promise<{ rc: number | null; console: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(repoRoot, 'test/vm/boot.sh'), kernel, share, join(repoRoot, 'test/vm/guest.sh'), lsm], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let console = '';
    child.stdout.on('data', (d) => (console += d));
    child.stderr.on('data', (d) => (console += d));
    child.on('error', reject);
    child.on('exit', (rc) => resolve({ rc, console }));
  });
}

interface VitestJson {
  testResults: { name: string; assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
}

const why = unavailable();
const run = why ? (process.env.CI === 'true' ? describe : describe.skip) : describe;

run(`kernel matrix in QEMU guests${why && process.env.CI !== 'true' ? ` (skipped: ${why})` : ''}`, () => {
  if (why) {
    it('has what it needs', () => {
      throw new Error(`the kernel matrix cannot run: ${why}`);
    });
    return;
  }
  for (const g of GUESTS) {
    it(g.name, { timeout: 1_800_000 }, async () => {
      const kernel = kernelOf(g.series);
      expect(kernel, `a ${g.series} kernel in .vm/matrix`).toBeDefined();
      const share = join(repoRoot, '.vm/run', g.name.replace(/[^a-z0-9.]+/gi, '-'));
      rmSync(share, { recursive: true, force: true });
      mkdirSync(share, { recursive: true });
      writeFileSync(join(share, 'env'), [
        `VIGIL_ROOT='${repoRoot.replace(/\/$/, '')}'`,
        `VIGIL_EXPECT_MECHANISM=${g.mechanism}`,
        `VIGIL_TESTS='${GUEST_TESTS}'`,
        '',
      ].join('\n'));
      const { rc, console: out } = await boot(kernel!, share, g.lsm);
      writeFileSync(join(share, 'console.log'), out);
      const file = (name: string) => (existsSync(join(share, name)) ? readFileSync(join(share, name), 'utf8') : '');
      expect(file('kernel.txt'), `the guest booted (console in ${share}/console.log)`).toContain(kernel!.replace(/-amd64$/, ''));
      expect(file('kernel.txt').split('\n')[1]!.split(',').includes('bpf')).toBe(g.lsm.split(',').includes('bpf'));

      // Every program loads, or is skipped for a reason expected here.
      const check = file('check.txt');
      const failed = check.split('\n').filter((l) => l.startsWith('FAIL'));
      expect(failed, 'programs the kernel rejected, with the verifier\'s message').toEqual([]);
      expect(check).toMatch(/^0 of \d+ programs failed$/m);
      for (const line of check.split('\n').filter((l) => l.startsWith('SKIP'))) {
        const [, program] = line.split(/\s+/);
        const expected = g.skips.find((s) => s.program.test(program!));
        expect(expected, `unexpected skip: ${line}`).toBeDefined();
        expect(line).toMatch(expected!.reason);
      }
      for (const s of g.skips) expect(check, `skip ${s.program} happens`).toMatch(new RegExp(`^SKIP ${s.program.source.replace(/^\^|\$$/g, '')}`, 'm'));

      // The kernel test set passed in the guest, every test of it.
      const json = file('vitest.json');
      const crash = /(Kernel panic|Oops|BUG:)[^\n]*/.exec(out)?.[0];
      expect(json, `the guest's vitest report (log: ${share}/vitest.log${crash ? `; the guest kernel crashed: ${crash}` : ''})`).not.toBe('');
      const report = JSON.parse(json) as VitestJson;
      const results = report.testResults.flatMap((f) => f.assertionResults).filter((a) => a.status !== 'skipped' && a.status !== 'pending');
      const failures = results.filter((a) => a.status !== 'passed').map((a) => `${a.fullName}: ${a.failureMessages.join('\n').split('\n').slice(0, 6).join('\n')}`);
      expect(failures).toEqual([]);
      expect(results.some((a) => a.fullName.includes('sees exec, file and connect activity'))).toBe(true);
      expect(results.filter((a) => a.fullName.includes('enforcement on this kernel')).length).toBeGreaterThanOrEqual(16);
      expect(results.filter((a) => a.fullName.includes('enforcement pinned in bpffs')).length).toBe(4);
      expect(rc, `guest exit status (${file('times.txt').trim()})`).toBe(0);
    });
  }
});

// Support for tests that run on the real kernel: a capability gate, and
// the test containers of ./cgroup.ts.
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { cgroup2Mount } from './cgroup.js';
import { runtimesMissing } from './runtimes.js';

export { cgroup2Mount, FakeCgroupMount, TestCgroup, TestCgroupTree, type RunResult } from './cgroup.js';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const probeBinary = join(repoRoot, 'bpf/build/vigil-probe');

/** Why kernel tests cannot run here, or null when they can. */
export function kernelUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'kernel has no BTF (/sys/kernel/btf/vmlinux)';
  if (!cgroup2Mount()) return 'no cgroup v2 mount';
  try {
    accessSync(probeBinary, constants.X_OK);
  } catch {
    return `probe not built (${probeBinary}); run npm run build:probe`;
  }
  return null;
}

/**
 * describe() for kernel tests: skips with a one-line reason where the
 * kernel or privileges are missing, but under CI=true a missing capability
 * fails, so a green CI means these tests really ran.
 */
export function describeKernel(name: string, body: () => void): void {
  describeWhere(kernelUnavailable(), name, body);
}

/** describe() gated on `why` (null: runnable): skipped with the reason, or under CI=true failed. */
export function describeWhere(why: string | null, name: string, body: () => void): void {
  if (!why) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('has the capabilities it needs', () => {
        throw new Error(`cannot run: ${why}`);
      });
    });
    return;
  }
  describe.skip(`${name} (skipped: ${why})`, body);
}

/**
 * How much slower this machine runs the tests than the host they were
 * written on: QEMU guests without KVM (test/vm/) are 5-20 times slower, and
 * set VIGIL_TIME_SCALE so every wait stretches alike.
 */
export const timeScale = Number(process.env.VIGIL_TIME_SCALE ?? '1') || 1;

/**
 * How long a test waits for the real probe to connect and send its snapshot.
 * Its start is CPU-bound on one thread: the kernel verifies its programs in
 * about 4.8 s of CPU, then it reads /proc. On this 2-vCPU host at load 12-15
 * (other work beside the suite) a thread gets a sixth to a seventh of a CPU:
 * 30-36 s, past the 20 s the tests used to wait. A hang guard, not a speed
 * target (the probe's start-up time is bench/'s to measure).
 */
export const probeStartMs = 60_000;

/** Resolves when `pred` holds (it may be async), polling; rejects with `what` after the timeout (times timeScale). */
export async function waitFor<T>(what: string, pred: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs * timeScale;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** describe() for tests that run real container runtimes (dockerd, containerd) on the real kernel. */
export function describeRuntimes(name: string, body: () => void): void {
  describeWhere(kernelUnavailable() ?? runtimesMissing(), name, body);
}

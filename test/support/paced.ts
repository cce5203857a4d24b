// A workload the test paces one event at a time: each SIGUSR1 makes one
// open (O_CREAT) of the next file. A test that makes the next open only once
// the engine has the last knows that nothing but that one record can have
// woken the probe for it (were it held for company, it would never come).
import type { ChildProcess } from 'node:child_process';
import type { TestCgroup } from './cgroup.js';
import { waitFor } from './kernel.js';

export interface PacedOpens {
  /** The file the i-th open creates. */
  path(i: number): string;
  /** Make the next open. */
  next(): void;
  /** The process's exit code, once all n opens are made. */
  readonly exited: Promise<number | null>;
  readonly child: ChildProcess;
}

/** Starts the paced process in `group` and waits until it is ready for the first signal. */
export async function startPacedOpens(group: TestCgroup, dir: string, prefix: string, n: number): Promise<PacedOpens> {
  const script = [
    'import os, signal',
    // Blocked before "ready", so a signal sent right after it waits for sigwait instead of killing the process.
    'signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})',
    'print("ready", flush=True)',
    `for i in range(${n}):`,
    '    signal.sigwait({signal.SIGUSR1})',
    `    os.close(os.open(os.path.join(${JSON.stringify(dir)}, f"${prefix}-{i}"), os.O_WRONLY | os.O_CREAT, 0o600))`,
  ].join('\n');
  const child = group.spawn('python3', ['-c', script]);
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  await waitFor('the paced workload ready', () => out.includes('ready'), 30_000);
  return {
    path: (i) => `${dir}/${prefix}-${i}`,
    next: () => void child.kill('SIGUSR1'),
    exited,
    child,
  };
}

export interface PacedFlow {
  /** Every path the flow opens starts with this. */
  readonly prefix: string;
  /** The opens made, once the process exited. */
  readonly made: Promise<number>;
  readonly child: ChildProcess;
}

/**
 * A sustained flow at a set pace: `perSecond` opens a second, each of a distinct file that does not exist (so no
 * two are de-duplicated and nothing is written), for `seconds`, caught up every half millisecond. Starts at once.
 */
export function startPacedFlow(group: TestCgroup, dir: string, prefix: string, perSecond: number, seconds: number): PacedFlow {
  const script = [
    'import os, time',
    `rate, until, base = ${perSecond}, ${seconds}, ${JSON.stringify(`${dir}/${prefix}-`)}`,
    'start = time.monotonic()',
    'made = 0',
    'while True:',
    '    t = time.monotonic() - start',
    '    if t >= until: break',
    '    while made < rate * t:',
    '        try: os.close(os.open(base + str(made), os.O_RDONLY))',
    '        except FileNotFoundError: pass',
    '        made += 1',
    '    time.sleep(0.0005)',
    'print(made, flush=True)',
  ].join('\n');
  const child = group.spawn('python3', ['-c', script]);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const made = new Promise<number>((resolve, reject) =>
    child.once('close', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`the paced flow exited ${code}`)))),
  );
  return { prefix: `${dir}/${prefix}-`, made, child };
}

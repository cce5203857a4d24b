// Child processes a test started itself, stopped by their pid and waited
// for. A daemon sent SIGTERM is still running when kill() returns (the
// engine writes its learned profiles on the way out), so removing its
// directory then races its last writes (ENOTEMPTY).
// No test-runner imports: benches may use it too.
import type { ChildProcess } from 'node:child_process';

/** Whether the child has exited (its 'exit' was emitted) or never started. */
function gone(child: ChildProcess): boolean {
  return child.pid === undefined || child.exitCode !== null || child.signalCode !== null;
}

/** SIGTERM to the child, SIGKILL if it has not exited within `graceMs`; resolves once it has exited. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (gone(child)) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(killer);
}


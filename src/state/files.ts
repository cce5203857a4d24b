// State files the engine must not lose or corrupt: written whole to a
// temporary file, fsync-ed, renamed over the old one (atomic on POSIX),
// and the directory fsync-ed. A file that cannot be parsed is moved aside
// with its reason logged, never silently reset.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync, existsSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../log.js';

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

let tmpCount = 0;

/**
 * writeFileAtomic with the file system work in libuv's pool, so the two
 * fsyncs (milliseconds on a busy disk) do not stall the event loop that
 * processes events. Callers keep at most one write per file in flight.
 */
export async function writeFileAtomicAsync(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${++tmpCount}.tmp`);
  try {
    const f = await open(tmp, 'w', 0o600);
    try {
      await f.writeFile(typeof data === 'string' ? Buffer.from(data) : data);
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/**
 * Reads a JSON state file checked by `parse` (which throws with a reason).
 * Missing: null. Unreadable or invalid: moved to PATH.corrupt-TIMESTAMP,
 * reported through `onCorrupt`, and null.
 */
export function readStateFile<T>(
  path: string,
  parse: (value: unknown) => T,
  log: Logger,
  onCorrupt?: (reason: string, setAsidePath: string) => void,
): T | null {
  if (!existsSync(path)) return null;
  let reason: string;
  try {
    return parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (err) {
    reason = (err as Error).message;
  }
  const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  try {
    renameSync(path, aside);
  } catch {
    // leave it where it is; it is still reported
  }
  log.error({ path, setAside: aside, reason }, 'state file is corrupt: set aside, starting without it');
  onCorrupt?.(reason, aside);
  return null;
}

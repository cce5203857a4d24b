// Every action taken from the console, who took it and what came of it:
// appended as a JSON line (file mode 0600, synced) before the answer goes
// back, and the latest kept in memory for the console's own view. The
// file is rotated once past maxBytes (one older file kept).
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../log.js';
import type { AuditEntry } from './api.js';

const KEEP_IN_MEMORY = 200;

export class AuditLog {
  private readonly recent: AuditEntry[] = [];
  /** Entries that could not be written to the file (disk full, read-only): logged, counted. */
  writeErrors = 0;

  constructor(
    readonly path: string,
    private readonly log: Logger,
    private readonly maxBytes = 16 << 20,
  ) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  }

  record(entry: AuditEntry): void {
    this.recent.push(entry);
    if (this.recent.length > KEEP_IN_MEMORY) this.recent.shift();
    this.log.info({ audit: entry }, 'console action');
    try {
      this.rotate();
      appendFileSync(this.path, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
      const fd = openSync(this.path, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      this.writeErrors++;
      this.log.error({ file: this.path, err: (err as Error).message }, 'cannot write the console audit log');
    }
  }

  private rotate(): void {
    try {
      if (statSync(this.path).size < this.maxBytes) return;
    } catch {
      return;
    }
    renameSync(this.path, `${this.path}.1`);
  }

  /** Newest first. */
  latest(n = 50): AuditEntry[] {
    return this.recent.slice(-n).reverse();
  }
}

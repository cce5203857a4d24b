// The file sink: one JSON line per alert (Vigil's shape or Falco's), rotated
// by size: alerts.jsonl → alerts.jsonl.1 → … → alerts.jsonl.<keep>, the
// oldest deleted. Writes are synchronous: alerts are few (noise control
// bounds them), and a line is in the file before write() returns, in order.
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Alert } from '../../model/alert.js';
import type { Logger } from '../../log.js';
import { falcoJson, vigilJson } from '../render.js';
import { SinkConfigError } from '../secrets.js';
import { emptyStats, type Sink, type SinkStats } from './sink.js';

const ERROR_LOG_EVERY_MS = 10_000;

export interface FileSinkOptions {
  path: string;
  format: 'json' | 'falco';
  /** Rotate before a line would take the file past this size. */
  maxBytes: number;
  /** Rotated files kept (0: the file starts over). */
  keep: number;
}

export class FileSink implements Sink {
  private fd: number | null;
  private size: number;
  private readonly s: SinkStats;
  private readonly render: (a: Alert) => string;
  private errorLoggedAt = 0;

  constructor(
    readonly id: string,
    private readonly opts: FileSinkOptions,
    private readonly log: Logger,
  ) {
    this.s = emptyStats(id, 'file', opts.path);
    this.render = opts.format === 'falco' ? falcoJson : vigilJson;
    try {
      mkdirSync(dirname(opts.path), { recursive: true, mode: 0o750 });
      this.fd = openSync(opts.path, 'a', 0o600);
      this.size = fstatSync(this.fd).size;
    } catch (err) {
      throw new SinkConfigError(`sink ${id}: cannot open ${opts.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }

  write(alert: Alert): void {
    const line = Buffer.from(`${this.render(alert)}\n`);
    try {
      if (this.fd === null) this.reopen();
      if (this.size > 0 && this.size + line.length > this.opts.maxBytes) this.rotate();
      let off = 0;
      while (off < line.length) off += writeSync(this.fd!, line, off, line.length - off);
      this.size += line.length;
      this.s.delivered++;
    } catch (err) {
      this.s.dropped++;
      const now = Date.now();
      if (now - this.errorLoggedAt >= ERROR_LOG_EVERY_MS) {
        this.errorLoggedAt = now;
        this.log.error({ sink: this.id, path: this.opts.path, err: (err as NodeJS.ErrnoException).code ?? (err as Error).message, dropped: this.s.dropped }, 'alert file write failed; alert dropped');
      }
    }
  }

  stats(): SinkStats {
    return { ...this.s };
  }

  async close(): Promise<void> {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private rotate(): void {
    const { path, keep } = this.opts;
    closeSync(this.fd!);
    this.fd = null;
    if (keep === 0) {
      rmSync(path, { force: true });
    } else {
      // rename replaces: path.<keep> is overwritten by path.<keep-1>.
      for (let i = keep - 1; i >= 1; i--) renameIfExists(`${path}.${i}`, `${path}.${i + 1}`);
      renameSync(path, `${path}.1`);
    }
    this.reopen();
  }

  private reopen(): void {
    this.fd = openSync(this.opts.path, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
  }
}

function renameIfExists(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

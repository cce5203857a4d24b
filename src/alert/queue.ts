// A durable FIFO of rendered alert payloads, one per remote sink, so that
// what was not delivered survives an unreachable endpoint, an engine
// restart or a crash, and goes out in order.
//
// On disk, under the queue's directory (mode 0700, files 0600):
//   0000000000000001.seg …  append-only segments, numbered in order. A record
//                           is one line: the CRC-32 of the payload as 8 hex
//                           digits, a space, the payload (one-line JSON), '\n'.
//   cursor                  {"segment":N,"offset":B}: where the first
//                           undelivered record starts. Replaced atomically:
//                           written to cursor.tmp, fsync-ed, renamed over,
//                           directory fsync-ed.
//
// Guarantees:
// - An appended record is written and fdatasync-ed (appends that arrive
//   while a write is in flight are group-committed with the next one) before
//   it is ever handed out for delivery. A crash can lose only records
//   accepted in the few milliseconds before their fdatasync.
// - A crash mid-write leaves at most a torn last line (no '\n'), cut off on
//   the next open. A line whose checksum fails is skipped, counted and
//   logged at error level; the lines after it are still delivered.
// - The cursor moves only after a delivery succeeded and is written after
//   it, so a crash re-delivers at most the records acknowledged since the
//   last cursor write: delivery is at least once, never lost. Receivers
//   drop duplicates by the alert's id.
// - A segment is deleted only after a cursor past it is on disk.
// - `maxBytes` bounds the undelivered records; a record that would pass it
//   is refused (the caller counts and reports it). The files may exceed the
//   cap by at most one segment of delivered records awaiting deletion.
import { crc32 } from 'node:zlib';
import { mkdir, open, readdir, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';

export interface QueueOptions {
  /** Bound on the bytes of undelivered records. */
  maxBytes: number;
  /** Segment size; by default an eighth of maxBytes, between 1 KiB and 4 MiB. */
  segmentBytes?: number;
  log: Logger;
}

export interface QueueRecord {
  payload: string;
  segment: number;
  /** Offset just past this record in its segment. */
  end: number;
  /** Size of the record on disk. */
  bytes: number;
}

interface Segment {
  n: number;
  /** Bytes written and synced. */
  size: number;
}

interface Position {
  segment: number;
  offset: number;
}

const SEGMENT_FILE = /^(\d{16})\.seg$/;
const READ_CHUNK = 256 << 10;
const WRITE_RETRY_MS = 1000;

const segmentName = (n: number) => `${String(n).padStart(16, '0')}.seg`;

export function encodeRecord(payload: string): Buffer {
  if (payload.includes('\n')) throw new Error('a queue record must be one line');
  const body = Buffer.from(payload, 'utf8');
  const head = Buffer.from(`${crc32(body).toString(16).padStart(8, '0')} `, 'latin1');
  return Buffer.concat([head, body, Buffer.from('\n')]);
}

/** The payload of one line (without its '\n'), or null when the line is damaged. */
function decodeRecord(line: Buffer): string | null {
  if (line.length < 9 || line[8] !== 0x20) return null;
  const want = Number.parseInt(line.toString('latin1', 0, 8), 16);
  const body = line.subarray(9);
  if (!/^[0-9a-f]{8}$/.test(line.toString('latin1', 0, 8)) || crc32(body) !== want) return null;
  return body.toString('utf8');
}

export class DurableQueue {
  private segments: Segment[] = [];
  private cursor: Position = { segment: 1, offset: 0 };
  /** Where the next read starts: the cursor plus what is in readAhead. */
  private readPos: Position = { segment: 1, offset: 0 };
  private readAhead: QueueRecord[] = [];
  private pending: Buffer[] = [];
  private flushing: Promise<void> | null = null;
  private appendFh: FileHandle | null = null;
  private appendSegment = -1;
  private readFh: FileHandle | null = null;
  private readSegment = -1;
  private cursorWrite: Promise<void> | null = null;
  private cursorDirty = false;
  private listeners = new Set<() => void>();
  private closing = false;
  private readonly segmentBytes: number;

  readonly maxBytes: number;
  /** Undelivered records and their bytes (written or about to be). */
  alerts = 0;
  bytes = 0;
  /** Damaged records skipped. */
  corrupt = 0;

  private constructor(
    readonly dir: string,
    private readonly opts: QueueOptions,
  ) {
    this.maxBytes = opts.maxBytes;
    this.segmentBytes = opts.segmentBytes ?? Math.min(4 << 20, Math.max(1024, Math.floor(opts.maxBytes / 8)));
  }

  static async open(dir: string, opts: QueueOptions): Promise<DurableQueue> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const q = new DurableQueue(dir, opts);
    await q.recover();
    return q;
  }

  /**
   * Queues a payload; false when it would pass the cap (nothing is
   * written). The record becomes durable, and deliverable, shortly after.
   */
  append(payload: string): boolean {
    if (this.closing) throw new Error('queue is closed');
    const line = encodeRecord(payload);
    if (this.bytes + line.length > this.maxBytes) return false;
    this.pending.push(line);
    this.alerts++;
    this.bytes += line.length;
    this.flushing ??= this.flushLoop().finally(() => (this.flushing = null));
    return true;
  }

  /** Resolves once everything appended so far is on disk (or could not be written). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /** The oldest undelivered record that is on disk, or null when there is none (yet). */
  async head(): Promise<QueueRecord | null> {
    if (this.readAhead.length === 0) await this.fill();
    return this.readAhead[0] ?? null;
  }

  /** Marks the head record delivered; the cursor is written soon after. */
  ack(rec: QueueRecord): void {
    if (this.readAhead[0] !== rec) throw new Error('ack out of order');
    this.readAhead.shift();
    this.alerts--;
    this.bytes -= rec.bytes;
    this.moveCursor({ segment: rec.segment, offset: rec.end });
  }

  /** Resolves when new records are on disk, or when `signal` aborts. */
  waitForRecords(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.listeners.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      // Records that became durable after the caller's last head() need no wait.
      if (signal.aborted || this.unread()) return resolve();
      this.listeners.add(done);
      signal.addEventListener('abort', done);
    });
  }

  private unread(): boolean {
    if (this.readAhead.length > 0) return true;
    const at = this.readPos;
    return this.segments.some((s) => (s.n > at.segment && s.size > 0) || (s.n === at.segment && s.size > at.offset));
  }

  /** Bytes of the segment files. */
  diskBytes(): number {
    return this.segments.reduce((n, s) => n + s.size, 0);
  }

  /** Writes what is pending and the cursor, and closes the files. */
  async close(): Promise<void> {
    this.closing = true;
    await this.flush();
    if (this.pending.length > 0) {
      this.opts.log.error({ queue: this.dir, alerts: this.pending.length }, 'alert queue closed with alerts that could not be written to disk; they are lost');
    }
    while (this.cursorWrite) await this.cursorWrite;
    await this.appendFh?.close();
    await this.readFh?.close();
    this.appendFh = this.readFh = null;
  }

  // ---- writing --------------------------------------------------------

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      const done = await this.writeBatch(batch);
      if (done < batch.length) {
        this.pending = batch.slice(done).concat(this.pending);
        if (this.closing) return;
        await new Promise((r) => setTimeout(r, WRITE_RETRY_MS));
      }
    }
  }

  /** Writes lines in order, rolling segments; returns how many are durable. */
  private async writeBatch(lines: Buffer[]): Promise<number> {
    let i = 0;
    try {
      while (i < lines.length) {
        let seg = this.segments.at(-1);
        if (!seg || (seg.size > 0 && seg.size + lines[i]!.length > this.segmentBytes)) seg = await this.roll();
        const fh = await this.appender(seg);
        const group: Buffer[] = [];
        let size = seg.size;
        while (i + group.length < lines.length && (group.length === 0 || size + lines[i + group.length]!.length <= this.segmentBytes)) {
          size += lines[i + group.length]!.length;
          group.push(lines[i + group.length]!);
        }
        const buf = Buffer.concat(group);
        try {
          let off = 0;
          while (off < buf.length) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
          await fh.datasync();
        } catch (err) {
          // Cut a partial write back so the next write starts on a line boundary.
          await fh.truncate(seg.size).catch(() => {});
          throw err;
        }
        seg.size += buf.length;
        i += group.length;
        for (const l of [...this.listeners]) l();
      }
    } catch (err) {
      this.opts.log.error({ queue: this.dir, err: (err as NodeJS.ErrnoException).code ?? (err as Error).message, waiting: lines.length - i }, 'cannot write the alert queue; retrying');
    }
    return i;
  }

  private async roll(): Promise<Segment> {
    const last = this.segments.at(-1);
    const n = last ? last.n + 1 : this.cursor.segment;
    const fh = await open(join(this.dir, segmentName(n)), 'a', 0o600);
    await this.syncDir();
    await this.appendFh?.close();
    this.appendFh = fh;
    this.appendSegment = n;
    const seg = { n, size: 0 };
    this.segments.push(seg);
    if (!last) this.cursor = this.readPos = { segment: n, offset: 0 };
    return seg;
  }

  private async appender(seg: Segment): Promise<FileHandle> {
    if (this.appendFh && this.appendSegment === seg.n) return this.appendFh;
    await this.appendFh?.close();
    this.appendFh = await open(join(this.dir, segmentName(seg.n)), 'a', 0o600);
    this.appendSegment = seg.n;
    return this.appendFh;
  }

  // ---- reading --------------------------------------------------------

  private async fill(): Promise<void> {
    for (;;) {
      const seg = this.segments.find((s) => s.n >= this.readPos.segment);
      if (!seg) return;
      if (seg.n !== this.readPos.segment) this.readPos = { segment: seg.n, offset: 0 };
      if (this.readPos.offset < seg.size) {
        await this.readFrom(seg);
        if (this.readAhead.length > 0) return;
      } else {
        const next = this.segments.find((s) => s.n > seg.n);
        if (!next) return;
        this.readPos = { segment: next.n, offset: 0 };
      }
      // Nothing is out for delivery: the cursor may follow over damaged lines and segment ends.
      this.moveCursor({ ...this.readPos });
    }
  }

  private async readFrom(seg: Segment): Promise<void> {
    if (this.readSegment !== seg.n || !this.readFh) {
      await this.readFh?.close();
      this.readFh = await open(join(this.dir, segmentName(seg.n)), 'r');
      this.readSegment = seg.n;
    }
    const start = this.readPos.offset;
    let want = Math.min(READ_CHUNK, seg.size - start);
    for (;;) {
      const buf = Buffer.alloc(want);
      const { bytesRead } = await this.readFh.read(buf, 0, want, start);
      const lastNl = buf.lastIndexOf(0x0a, bytesRead - 1);
      if (lastNl < 0) {
        if (want < seg.size - start) {
          want = Math.min(want * 2, seg.size - start);
          continue;
        }
        // Durable bytes always end in '\n'; anything else is damage.
        this.damaged(seg.n, start, seg.size - start);
        this.readPos = { segment: seg.n, offset: seg.size };
        return;
      }
      let from = 0;
      while (from <= lastNl) {
        const nl = buf.indexOf(0x0a, from);
        const payload = decodeRecord(buf.subarray(from, nl));
        if (payload === null) this.damaged(seg.n, start + from, nl + 1 - from);
        else this.readAhead.push({ payload, segment: seg.n, end: start + nl + 1, bytes: nl + 1 - from });
        from = nl + 1;
      }
      this.readPos = { segment: seg.n, offset: start + lastNl + 1 };
      return;
    }
  }

  private damaged(segment: number, offset: number, length: number): void {
    this.corrupt++;
    this.alerts = Math.max(0, this.alerts - 1);
    this.bytes = Math.max(0, this.bytes - length);
    this.opts.log.error({ queue: this.dir, segment: segmentName(segment), offset, length }, 'damaged record in the alert queue skipped: one alert lost');
  }

  // ---- the cursor -----------------------------------------------------

  private moveCursor(p: Position): void {
    this.cursor = p;
    this.cursorDirty = true;
    this.cursorWrite ??= this.writeCursor().finally(() => (this.cursorWrite = null));
  }

  private async writeCursor(): Promise<void> {
    while (this.cursorDirty) {
      this.cursorDirty = false;
      const c = this.cursor;
      try {
        const tmp = join(this.dir, 'cursor.tmp');
        const fh = await open(tmp, 'w', 0o600);
        try {
          await fh.writeFile(`${JSON.stringify(c)}\n`);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, join(this.dir, 'cursor'));
        await this.syncDir();
        // The reader never looks behind the cursor; an open handle on a removed file stays valid.
        for (const s of this.segments.filter((s) => s.n < c.segment)) {
          await unlink(join(this.dir, segmentName(s.n)));
          this.segments = this.segments.filter((x) => x !== s);
        }
      } catch (err) {
        this.opts.log.error({ queue: this.dir, err: (err as NodeJS.ErrnoException).code ?? (err as Error).message }, 'cannot write the alert queue cursor: after a restart some delivered alerts will be sent again');
        return;
      }
    }
  }

  private async syncDir(): Promise<void> {
    const d = await open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  // ---- recovery -------------------------------------------------------

  private async recover(): Promise<void> {
    const log = this.opts.log;
    await unlink(join(this.dir, 'cursor.tmp')).catch(() => {});
    const names = await readdir(this.dir);
    const numbers = names.flatMap((f) => {
      const m = SEGMENT_FILE.exec(f);
      return m ? [Number(m[1])] : [];
    });
    numbers.sort((a, b) => a - b);
    for (const n of numbers) this.segments.push({ n, size: (await stat(join(this.dir, segmentName(n)))).size });

    const saved = await this.readCursor();
    const first = this.segments[0];
    const last = this.segments.at(-1);
    if (saved && !first) {
      this.cursor = { segment: saved.segment, offset: 0 };
    } else if (saved && first && last && saved.segment >= first.n && saved.segment <= last.n) {
      const at = this.segments.find((s) => s.n >= saved.segment)!;
      this.cursor = at.n === saved.segment ? saved : { segment: at.n, offset: 0 };
    } else {
      // Never the case unless files were changed by hand: re-sending beats losing.
      if (first && saved) log.error({ queue: this.dir }, 'alert queue cursor points outside the segments; delivering from the oldest (receivers may see duplicates)');
      this.cursor = { segment: first?.n ?? 1, offset: 0 };
    }
    for (const s of this.segments.filter((s) => s.n < this.cursor.segment)) await unlink(join(this.dir, segmentName(s.n)));
    this.segments = this.segments.filter((s) => s.n >= this.cursor.segment);

    for (const seg of this.segments) {
      const from = seg.n === this.cursor.segment ? this.cursor.offset : 0;
      const buf = await readFile(join(this.dir, segmentName(seg.n)));
      if (from > buf.length) {
        log.error({ queue: this.dir, segment: segmentName(seg.n) }, 'alert queue segment is shorter than the cursor says; resuming at its end');
        this.cursor.offset = seg.size = buf.length;
        continue;
      }
      let at = from;
      for (;;) {
        const nl = buf.indexOf(0x0a, at);
        if (nl < 0) break;
        // Damaged lines count too: reading them later subtracts them again, and logs them.
        this.alerts++;
        this.bytes += nl + 1 - at;
        at = nl + 1;
      }
      if (at < buf.length) {
        // A write the crash cut short: it was never acknowledged as stored.
        const fh = await open(join(this.dir, segmentName(seg.n)), 'r+');
        try {
          await fh.truncate(at);
          await fh.sync();
        } finally {
          await fh.close();
        }
        log.warn({ queue: this.dir, segment: segmentName(seg.n), bytes: buf.length - at }, 'cut a torn record from the end of the alert queue (interrupted write)');
      }
      seg.size = at;
    }
    this.readPos = { ...this.cursor };
    if (this.alerts > 0) log.info({ queue: this.dir, alerts: this.alerts, bytes: this.bytes }, 'alert queue holds undelivered alerts from before; delivering them first');
  }

  private async readCursor(): Promise<Position | null> {
    let text: string;
    try {
      text = await readFile(join(this.dir, 'cursor'), 'utf8');
    } catch {
      return null;
    }
    try {
      const c = JSON.parse(text) as Position;
      if (Number.isSafeInteger(c.segment) && Number.isSafeInteger(c.offset) && c.segment >= 1 && c.offset >= 0) return c;
    } catch {
      // fall through
    }
    this.opts.log.error({ queue: this.dir }, 'alert queue cursor is damaged; delivering from the oldest segment (receivers may see duplicates)');
    return null;
  }
}

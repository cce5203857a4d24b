// The durable alert queue on real files: order across segments and
// reopenings, what a crash mid-write leaves behind, damaged records, the
// cursor, and the disk cap.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DurableQueue, encodeRecord, type QueueRecord } from '../../../src/alert/queue.js';
import { capturingLogger, type LogLine } from '../../support/engine.js';
import { repoRoot } from '../../support/kernel.js';
import { completeLines } from '../../support/lines.js';

let dir: string;
let lines: LogLine[];
let open: DurableQueue[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-queue-'));
  open = [];
});

afterEach(async () => {
  for (const q of open) await q.close();
  rmSync(dir, { recursive: true, force: true });
});

async function queue(opts: { maxBytes?: number; segmentBytes?: number } = {}): Promise<DurableQueue> {
  const captured = capturingLogger();
  lines = captured.lines;
  const q = await DurableQueue.open(dir, { maxBytes: opts.maxBytes ?? 1 << 20, segmentBytes: opts.segmentBytes ?? 256, log: captured.log });
  open.push(q);
  return q;
}

async function close(q: DurableQueue): Promise<void> {
  await q.close();
  open = open.filter((x) => x !== q);
}

/** Takes up to `n` records off the queue, acknowledging each. */
async function drain(q: DurableQueue, n = Infinity): Promise<string[]> {
  await q.flush();
  const out: string[] = [];
  let rec: QueueRecord | null;
  while (out.length < n && (rec = await q.head())) {
    out.push(rec.payload);
    q.ack(rec);
  }
  return out;
}

const segments = () => readdirSync(dir).filter((f) => f.endsWith('.seg')).sort();
const payload = (i: number) => JSON.stringify({ n: i, text: `alert ${i}` });

describe('durable queue', () => {
  it('hands records out in order across segments and across a reopen, deleting segments once passed', async () => {
    const q = await queue();
    for (let i = 0; i < 50; i++) expect(q.append(payload(i))).toBe(true);
    expect(q.alerts).toBe(50);
    await q.flush();
    const many = segments().length;
    expect(many).toBeGreaterThan(5);
    expect(await drain(q, 20)).toEqual(Array.from({ length: 20 }, (_, i) => payload(i)));
    await close(q);
    expect(segments().length).toBeLessThan(many);

    const again = await queue();
    expect(again.alerts).toBe(30);
    expect(await drain(again)).toEqual(Array.from({ length: 30 }, (_, i) => payload(i + 20)));
    expect(again.alerts).toBe(0);
    expect(again.bytes).toBe(0);
  });

  it('hands out a record only once it is on disk, and wakes a waiting reader', async () => {
    const q = await queue();
    expect(await q.head()).toBeNull();
    const stop = new AbortController();
    const woken = q.waitForRecords(stop.signal);
    q.append(payload(1));
    await woken;
    const rec = await q.head();
    expect(rec?.payload).toBe(payload(1));
    expect(readFileSync(join(dir, segments()[0]!), 'utf8')).toContain(payload(1));
  });

  it('survives SIGKILL mid-write: every record reported durable is there, in order, without gaps', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test/unit/alert/queue-child.ts'), dir], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    let durable = -1;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited ${code} ${signal}`))));
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const complete = completeLines(out);
        if (complete.length) durable = Number(complete.at(-1));
        if (durable >= 2000 && !child.killed) child.kill('SIGKILL');
      });
    });
    expect(durable).toBeGreaterThanOrEqual(2000);

    const q = await queue({ maxBytes: 1 << 30, segmentBytes: 64 << 10 });
    const got = (await drain(q)).map((p) => (JSON.parse(p) as { n: number }).n);
    expect(got.length).toBeGreaterThan(durable);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i));
    expect(q.corrupt).toBe(0);
  });

  it('cuts a torn record at the end (a crash during a write) and appends cleanly after it', async () => {
    const q = await queue({ segmentBytes: 1 << 20 });
    for (let i = 0; i < 5; i++) q.append(payload(i));
    await close(q);
    const seg = join(dir, segments().at(-1)!);
    appendFileSync(seg, encodeRecord(payload(5)).subarray(0, 12));

    const again = await queue({ segmentBytes: 1 << 20 });
    expect(again.alerts).toBe(5);
    expect(lines.some((l) => l.level === 'warn' && /torn record/.test(l.msg))).toBe(true);
    again.append(payload(6));
    expect(await drain(again)).toEqual([0, 1, 2, 3, 4, 6].map(payload));
    expect(again.corrupt).toBe(0);
  });

  it('skips a damaged record, counts it and logs an error; the records after it still go out', async () => {
    const q = await queue({ segmentBytes: 1 << 20 });
    for (let i = 0; i < 5; i++) q.append(payload(i));
    await close(q);
    const seg = join(dir, segments()[0]!);
    const text = readFileSync(seg, 'utf8');
    writeFileSync(seg, text.replace('alert 2', 'alert X'));

    const again = await queue({ segmentBytes: 1 << 20 });
    expect(await drain(again)).toEqual([0, 1, 3, 4].map(payload));
    expect(again.corrupt).toBe(1);
    expect(again.alerts).toBe(0);
    expect(lines.some((l) => l.level === 'error' && /damaged record/.test(l.msg))).toBe(true);
  });

  it('writes the cursor atomically: a leftover cursor.tmp is ignored, a damaged cursor re-sends rather than loses', async () => {
    const q = await queue();
    for (let i = 0; i < 6; i++) q.append(payload(i));
    expect(await drain(q, 2)).toEqual([0, 1].map(payload));
    await close(q);
    expect(JSON.parse(readFileSync(join(dir, 'cursor'), 'utf8'))).toMatchObject({ segment: expect.any(Number), offset: expect.any(Number) });
    // A crash between writing cursor.tmp and the rename.
    writeFileSync(join(dir, 'cursor.tmp'), '{"segment":');
    const again = await queue();
    expect(await drain(again, 1)).toEqual([payload(2)]);
    await close(again);
    expect(readdirSync(dir)).not.toContain('cursor.tmp');

    writeFileSync(join(dir, 'cursor'), 'garbage');
    const third = await queue();
    expect(lines.some((l) => l.level === 'error' && /cursor is damaged/.test(l.msg))).toBe(true);
    // From the oldest segment still on disk: never fewer than the undelivered ones.
    const rest = await drain(third);
    expect(rest.slice(-3)).toEqual([3, 4, 5].map(payload));
  });

  it('refuses appends past the cap and takes them again once records are delivered', async () => {
    const one = encodeRecord(payload(0)).length;
    const q = await queue({ maxBytes: one * 3 + 1 });
    expect([0, 1, 2, 3].map((i) => q.append(payload(i)))).toEqual([true, true, true, false]);
    expect(q.bytes).toBe(one * 3);
    expect(await drain(q, 1)).toEqual([payload(0)]);
    expect(q.append(payload(4))).toBe(true);
    expect(await drain(q)).toEqual([1, 2, 4].map(payload));
  });
});

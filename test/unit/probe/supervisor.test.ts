// The supervisor forwards the probe's log lines; the last ones, written as
// the probe stops (its delivery summary), must be read before stop() returns.
// The probe here is a script standing in for the native binary: what is
// tested is the supervisor's handling of its child's pipe, not the probe.
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log.js';
import { ProbeSupervisor } from '../../../src/probe/supervisor.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function standIn(script: string, interpreter = '/bin/sh'): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-supervisor-'));
  dirs.push(dir);
  const path = join(dir, 'probe');
  writeFileSync(path, `#!${interpreter}\n${script}\n`);
  chmodSync(path, 0o755);
  return path;
}

function supervise(path: string): { sup: ProbeSupervisor; messages: string[] } {
  const messages: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) messages.push((JSON.parse(l) as { msg: string }).msg);
      done();
    },
  });
  const log = createLogger('info', { destination: sink });
  const sup = new ProbeSupervisor(
    { path, engine: 'unix:///nowhere', nodeName: 'n', ringbufBytes: 1, batchMax: 1, flushMs: 1, lossReportMs: 1, queueEvents: 1, excludePids: [] },
    log,
  );
  return { sup, messages };
}

/** Blocks this thread (its event loop with it) until `pred` holds or `ms` pass. */
function holdLoopUntil(pred: () => boolean, ms: number): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + ms;
  while (!pred() && Date.now() < deadline) Atomics.wait(cell, 0, 0, 5);
}

describe('ProbeSupervisor.stop', () => {
  it('returns after the probe’s last log lines were read and logged, then says it exited', async () => {
    // On SIGTERM the stand-in writes 4 MiB of log lines and its summary, marks
    // that it is done and exits, while the engine's event loop is busy (as it
    // is while it shuts down): at its exit nearly all of it is unread. Node
    // gives stdio as a socket pair; the stand-in lets it hold 16 MiB
    // (SO_SNDBUFFORCE, root's; without root the default buffer, a weaker test).
    const mark = join(mkdtempSync(join(tmpdir(), 'vigil-supervisor-mark-')), 'done');
    dirs.push(dirname(mark));
    const path = standIn(
      [
        'import os, signal, socket, sys, time',
        'def stop(*_):',
        '    try:',
        '        socket.socket(fileno=os.dup(2)).setsockopt(socket.SOL_SOCKET, 32, 16 << 20)',
        '    except OSError:',
        '        pass',
        '    lines = b"".join(b"info filler line %d %s\\n" % (i, b"." * 80) for i in range(40000))',
        '    v = memoryview(lines + b"info stopped: 42 events read, 0 not delivered\\n")',
        '    while v:',
        '        v = v[os.write(2, v):]',
        `    open(${JSON.stringify(mark)}, "w").close()`,
        '    os._exit(0)',
        'signal.signal(signal.SIGTERM, stop)',
        'os.write(2, b"info ready\\n")',
        'while True:',
        '    time.sleep(0.05)',
      ].join('\n'),
      '/usr/bin/python3',
    );
    const { sup, messages } = supervise(path);
    sup.start();
    await expect.poll(() => messages.includes('ready'), { timeout: 5000 }).toBe(true);
    const stopped = sup.stop();
    holdLoopUntil(() => existsSync(mark), 10_000);
    holdLoopUntil(() => false, 100); // and its exit
    await stopped;
    await new Promise((r) => setTimeout(r, 10)); // the log's destination writes on the next tick
    const summary = messages.indexOf('stopped: 42 events read, 0 not delivered');
    expect(summary).toBeGreaterThan(0);
    expect(messages.filter((m) => m.startsWith('filler line')).length).toBe(40000);
    expect(messages.indexOf('probe exited')).toBeGreaterThan(summary);
  });

  it('does not wait for ever on a pipe a child of the probe still holds', async () => {
    const path = standIn(`trap 'sleep 3 >&2 & echo "info bye" >&2; exit 0' TERM\necho "info ready" >&2\nwhile :; do sleep 0.05; done`);
    const { sup, messages } = supervise(path);
    sup.start();
    await expect.poll(() => messages.includes('ready'), { timeout: 5000 }).toBe(true);
    const t0 = Date.now();
    await sup.stop();
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(messages).toContain('bye');
  });
});

// The file and stdout sinks on real files and streams.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlertDispatcher } from '../../../src/alert/dispatcher.js';
import { parseConfig } from '../../../src/config/load.js';
import type { ConfigInput } from '../../../src/config/schema.js';
import { capturingLogger } from '../../support/engine.js';
import { alert, numbered } from './support.js';

let dir: string;
let d: AlertDispatcher | null;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-file-sink-'));
  d = null;
});

afterEach(async () => {
  await d?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function start(sinks: ConfigInput['sinks'], stdout?: PassThrough): Promise<AlertDispatcher> {
  const c = parseConfig({ stateDir: join(dir, 'state'), sinks, alerts: { foldWindowMs: 0, rateLimit: { perRule: null, perWorkload: null, global: null } } });
  d = await AlertDispatcher.start({ sinks: c.sinks, alerts: c.alerts, stateDir: c.stateDir, nodeName: 'node-a', log: capturingLogger().log, stdout });
  return d;
}

const readLines = (p: string) => readFileSync(p, 'utf8').split('\n').filter(Boolean);

describe('file sink', () => {
  it('writes one JSON line per alert and rotates by size, keeping the configured number of files', async () => {
    const path = join(dir, 'log', 'alerts.jsonl');
    const sink = await start([{ type: 'file', path, maxBytes: 8192, keep: 2 }]);
    const sent = Array.from({ length: 40 }, (_, i) => numbered(i));
    for (const a of sent) sink.handle(a);

    expect(existsSync(`${path}.1`)).toBe(true);
    expect(existsSync(`${path}.2`)).toBe(true);
    expect(existsSync(`${path}.3`)).toBe(false);
    for (const p of [path, `${path}.1`, `${path}.2`]) expect(statSync(p).size).toBeLessThanOrEqual(8192);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    // Oldest to newest: .2, .1, current hold the most recent alerts, in order, whole.
    const kept = [...readLines(`${path}.2`), ...readLines(`${path}.1`), ...readLines(path)].map((l) => JSON.parse(l) as { id: string });
    const ids = sent.map((a) => a.id);
    expect(kept.map((a) => a.id)).toEqual(ids.slice(ids.length - kept.length));
    expect(kept.length).toBeGreaterThan(3);
    expect(sink.stats().sinks[0]).toMatchObject({ id: 'file-1', type: 'file', target: path, delivered: 40, dropped: 0 });
  });

  it("writes Falco's shape when asked, and appends to an existing file after a restart", async () => {
    const path = join(dir, 'falco.jsonl');
    const first = await start([{ type: 'file', path, format: 'falco' }]);
    first.handle(alert({ priority: 'error' }));
    await first.stop();
    const second = await start([{ type: 'file', path, format: 'falco' }]);
    second.handle(alert({ priority: 'notice' }));
    const got = readLines(path).map((l) => JSON.parse(l) as { priority: string; rule: string; output_fields: object });
    expect(got.map((g) => g.priority)).toEqual(['Error', 'Notice']);
    expect(got[0]).toMatchObject({ rule: 'Terminal shell in container', output_fields: { 'proc.exe': '/bin/sh' } });
  });

  it('refuses to start with a path it cannot write, naming the sink and the path', async () => {
    // A regular file where a directory should be: unwritable even for root.
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const path = join(file, 'alerts.jsonl');
    await expect(start([{ type: 'stdout' }, { type: 'file', path }])).rejects.toThrow(`sink file-1: cannot open ${path}: EEXIST`);
  });
});

describe('stdout sink', () => {
  it('prints one escaped line per alert for people, JSON or Falco JSON for machines', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (b: Buffer) => (text += b.toString()));
    const sink = await start([{ type: 'stdout', format: 'text' }, { type: 'stdout', format: 'json' }, { type: 'stdout', format: 'falco' }], out);
    sink.handle(alert({ message: 'shell\nFAKE 2026 Critical [forged]\u001b[31m' }));
    const [human, json, falco] = text.trimEnd().split('\n');
    expect(human).toBe(
      '2026-01-02T03:04:05.678Z Warning [Terminal shell in container] "shell\\x0aFAKE 2026 Critical [forged]\\x1b[31m" | workload="shop/web-7d9f-abcde/nginx" node="node-a" pid=4242 exe="/bin/sh" cmd="sh -c id" uid=0 parent="/usr/bin/python3" event="exec /bin/sh" mode=monitor action=none tags="container,shell,T1059"',
    );
    expect(JSON.parse(json!)).toMatchObject({ rule: 'Terminal shell in container', priority: 'warning' });
    expect(JSON.parse(falco!)).toMatchObject({ rule: 'Terminal shell in container', priority: 'Warning', source: 'syscall' });
    expect(text.trimEnd().split('\n')).toHaveLength(3);
  });
});

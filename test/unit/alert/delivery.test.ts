// Webhook and Slack delivery against a real HTTP server on 127.0.0.1: the
// HMAC over the raw body, Slack's Block Kit payload as received, and the
// promise that nothing is lost while the endpoint is down, slow or failing,
// across a restart of delivery.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/model/alert.js';
import { AlertDispatcher } from '../../../src/alert/dispatcher.js';
import { PRIORITY_COLOUR } from '../../../src/alert/slack.js';
import { parseConfig } from '../../../src/config/load.js';
import type { ConfigInput } from '../../../src/config/schema.js';
import { capturingLogger, type LogLine } from '../../support/engine.js';
import { waitFor } from '../../support/kernel.js';
import { alert, execEvent, numbered, Receiver } from './support.js';

const SECRET = 'hmac-key-0123456789-abcdef';

let dir: string;
let receivers: Receiver[];
let dispatchers: AlertDispatcher[];
let lines: LogLine[];
/** Log lines of every dispatcher the test started. */
let logs: LogLine[][];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-alerts-'));
  receivers = [];
  dispatchers = [];
  logs = [];
});

afterEach(async () => {
  for (const d of dispatchers) await d.stop();
  for (const r of receivers) await r.down();
  rmSync(dir, { recursive: true, force: true });
});

async function receiver(secret: string | null = SECRET): Promise<Receiver> {
  const r = await Receiver.start(secret);
  receivers.push(r);
  return r;
}

/** Delivery as the engine builds it from config; no folding or rate limits unless asked, small backoff. */
async function start(sinks: ConfigInput['sinks'], alerts: ConfigInput['alerts'] = {}, segmentBytes?: number): Promise<AlertDispatcher> {
  const config = parseConfig({
    stateDir: join(dir, 'state'),
    sinks,
    alerts: { foldWindowMs: 0, rateLimit: { perRule: null, perWorkload: null, global: null }, retry: { initialMs: 5, maxMs: 40 }, ...alerts },
  });
  const captured = capturingLogger();
  lines = captured.lines;
  logs.push(captured.lines);
  const d = await AlertDispatcher.start({ sinks: config.sinks, alerts: config.alerts, stateDir: config.stateDir, nodeName: 'node-a', log: captured.log, segmentBytes });
  dispatchers.push(d);
  return d;
}

async function stop(d: AlertDispatcher): Promise<void> {
  await d.stop();
  dispatchers = dispatchers.filter((x) => x !== d);
}

const sinkStats = (d: AlertDispatcher, i = 0) => d.stats().sinks[i]!;

describe('noise control over time', () => {
  it('a fold window opened after an idle spell closes by itself and its count is delivered (ticks run only while something is pending)', async () => {
    const file = join(dir, 'alerts.jsonl');
    const d = await start([{ type: 'file', path: file }], { foldWindowMs: 300 });
    const written = (): Alert[] => {
      try {
        return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Alert);
      } catch {
        return [];
      }
    };
    for (let round = 1; round <= 2; round++) {
      // Idle: nothing pending, nothing delivered.
      await new Promise((r) => setTimeout(r, 400));
      const before = written().length;
      for (let i = 0; i < 4; i++) d.handle(alert({ message: `round ${round}` }));
      expect(written().length - before).toBe(1);
      await waitFor('the folded count', () => written().length === before + 2, 3000);
      const folded = written().at(-1)!;
      expect(folded.count).toBe(3);
      expect(folded.message).toMatch(new RegExp(`^round ${round} \\(3 more like this within 300 ms\\)$`));
    }
    expect(d.stats().folded).toBe(6);
  });
});

describe('webhook sink', () => {
  it('POSTs the alert as JSON with an HMAC-SHA256 signature over the exact body and a signed timestamp', async () => {
    const r = await receiver();
    const d = await start([{ type: 'webhook', url: r.url('/vigil'), secret: SECRET, headers: { 'X-Team': 'sec' } }]);
    const a = alert();
    d.handle(a);
    await waitFor('the webhook to take the alert', () => sinkStats(d).delivered === 1);
    const got = r.received[0]!;
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['x-team']).toBe('sec');
    expect(got.bodySignatureOk).toBe(true);
    expect(got.timestampSignatureOk).toBe(true);
    expect(Number(got.headers['x-vigil-timestamp'])).toBeGreaterThan(1_600_000_000);
    expect(got.json).toEqual(JSON.parse(JSON.stringify(a)));
    expect(got.json).toMatchObject({
      rule: 'Terminal shell in container',
      priority: 'warning',
      workload: { namespace: 'shop', pod: 'web-7d9f-abcde', container: 'nginx' },
      process: { pid: 4242, exe: '/bin/sh', cmdline: 'sh -c id', parents: [{ pid: 4241, exe: '/usr/bin/python3' }] },
      event: { type: 'exec', exe: '/bin/sh' },
      tags: ['container', 'shell', 'T1059'],
    });
    expect(sinkStats(d)).toMatchObject({ id: 'webhook-1', type: 'webhook', target: `127.0.0.1:${r.port}`, delivered: 1, retried: 0, dropped: 0 });
  });

  it('a receiver with another key sees the signature fail', async () => {
    const r = await receiver('some-other-key-entirely');
    const d = await start([{ type: 'webhook', url: r.url(), secret: SECRET }]);
    d.handle(alert());
    await waitFor('the alert', () => r.received.length === 1);
    expect(r.received[0]!.bodySignatureOk).toBe(false);
    expect(r.received[0]!.timestampSignatureOk).toBe(false);
  });

  it('sends credentials in the URL as Basic auth (fetch refuses them in URLs)', async () => {
    const r = await receiver();
    const d = await start([{ type: 'webhook', url: `http://vigil:p%40ss@127.0.0.1:${r.port}/in`, secret: SECRET }]);
    d.handle(alert());
    await waitFor('the alert', () => r.received.length === 1);
    expect(r.received[0]!.headers.authorization).toBe(`Basic ${Buffer.from('vigil:p@ss').toString('base64')}`);
    expect(r.received[0]!.path).toBe('/in');
  });

  it("sends Falco's output shape for falcosidekick", async () => {
    const r = await receiver();
    const d = await start([{ type: 'webhook', url: r.url('/'), secretFile: secretFile(SECRET), format: 'falco' }]);
    const a = alert({ priority: 'critical' });
    d.handle(a);
    await waitFor('the alert', () => r.received.length === 1);
    const got = r.received[0]!;
    expect(got.bodySignatureOk).toBe(true);
    expect(got.json).toMatchObject({
      uuid: a.id,
      output: 'A shell was spawned in a container',
      priority: 'Critical',
      rule: 'Terminal shell in container',
      time: '2026-01-02T03:04:05.678Z',
      source: 'syscall',
      hostname: 'node-a',
      tags: ['container', 'shell', 'T1059'],
      output_fields: { 'proc.name': 'sh', 'proc.exe': '/bin/sh', 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web-7d9f-abcde', 'container.name': 'nginx' },
    });
  });

  it('keeps alerts while the endpoint is down and delivers every one after it returns, in order, once', async () => {
    const r = await receiver();
    await r.down();
    const d = await start([{ type: 'webhook', url: r.url(), secret: SECRET }]);
    const sent = Array.from({ length: 30 }, (_, i) => numbered(i));
    for (const a of sent) d.handle(a);
    await waitFor('failed attempts against the closed port', () => sinkStats(d).failedAttempts >= 3);
    expect(r.received).toHaveLength(0);
    expect(sinkStats(d).queuedAlerts).toBe(30);
    expect(lines.some((l) => l.level === 'warn' && /alert delivery failed/.test(l.msg) && l.reason === 'ECONNREFUSED')).toBe(true);

    await r.up();
    await waitFor('all 30 alerts', () => sinkStats(d).queuedAlerts === 0);
    expect(r.received.map((x) => x.json.id)).toEqual(sent.map((a) => a.id));
    expect(r.received.every((x) => x.bodySignatureOk)).toBe(true);
    expect(sinkStats(d)).toMatchObject({ delivered: 30, dropped: 0, queuedBytes: 0 });
    expect(sinkStats(d).retried).toBeGreaterThan(0);
    expect(lines.some((l) => l.level === 'info' && /works again/.test(l.msg))).toBe(true);
  });

  it('keeps undelivered alerts on disk across a restart and delivers them first, in order, none duplicated', async () => {
    const r = await receiver();
    const sent = Array.from({ length: 25 }, (_, i) => numbered(i));
    // Tiny segments: the queue spans many files.
    const first = await start([{ type: 'webhook', id: 'siem', url: r.url(), secret: SECRET }], {}, 2048);
    for (const a of sent.slice(0, 5)) first.handle(a);
    await waitFor('the first five', () => r.received.length === 5);
    await r.down();
    for (const a of sent.slice(5, 20)) first.handle(a);
    await waitFor('a failed attempt', () => sinkStats(first).failedAttempts >= 1);
    await stop(first);
    const queueDir = join(dir, 'state', 'alert-queues', 'siem');
    expect(readdirSync(queueDir).filter((f) => f.endsWith('.seg')).length).toBeGreaterThan(1);
    expect(lines.some((l) => /stay queued on disk/.test(l.msg) && l.queued === 15)).toBe(true);

    const second = await start([{ type: 'webhook', id: 'siem', url: r.url(), secret: SECRET }], {}, 2048);
    expect(sinkStats(second).queuedAlerts).toBe(15);
    for (const a of sent.slice(20)) second.handle(a);
    await r.up();
    await waitFor('all 25 alerts', () => sinkStats(second).queuedAlerts === 0 && r.received.length >= 25);
    expect(r.received.map((x) => x.json.id)).toEqual(sent.map((a) => a.id));
    expect(sinkStats(second).delivered).toBe(20);
    // Delivered segments are deleted once the cursor is past them.
    await waitFor('old segments removed', () => readdirSync(queueDir).filter((f) => f.endsWith('.seg')).length <= 1);
  });

  it('retries a server that answers too slowly; receivers drop the repeats by alert id', async () => {
    const r = await receiver();
    // The first two requests get no answer within the timeout.
    r.respond = ({ n }) => (n < 2 ? { status: 200, delayMs: 5000 } : { status: 200 });
    const d = await start([{ type: 'webhook', url: r.url(), secret: SECRET, timeoutMs: 400 }]);
    const sent = [numbered(1), numbered(2), numbered(3)];
    for (const a of sent) d.handle(a);
    await waitFor('all three', () => sinkStats(d).delivered === 3, 15_000);
    expect(r.ids()).toEqual(sent.map((a) => a.id));
    expect(sinkStats(d).failedAttempts).toBe(2);
    expect(sinkStats(d).retried).toBe(2);
    expect(lines.some((l) => l.reason === 'no answer within 400 ms')).toBe(true);
  });

  it('stop() cancels an attempt in flight instead of waiting for it; the alert stays queued for the next start', async () => {
    const r = await receiver();
    r.respond = () => ({ status: 200, delayMs: 120_000 });
    const first = await start([{ type: 'webhook', url: r.url(), secret: SECRET, timeoutMs: 600_000 }]);
    const a = alert();
    first.handle(a);
    await waitFor('the request to arrive', () => r.requests === 1);
    // Without cancellation this would wait for the 10-minute timeout and the test would time out.
    await stop(first);
    expect(sinkStats(first).delivered).toBe(0);
    expect(sinkStats(first).queuedAlerts).toBe(1);

    r.respond = () => ({ status: 200 });
    const second = await start([{ type: 'webhook', url: r.url(), secret: SECRET }]);
    await waitFor('delivery after the restart', () => sinkStats(second).delivered === 1);
    expect(r.ids()).toEqual([a.id]);
  });

  it('retries after 500s until the server answers 200', async () => {
    const r = await receiver();
    r.respond = ({ n }) => (n < 3 ? { status: 500, body: 'boom' } : { status: 204 });
    const d = await start([{ type: 'webhook', url: r.url(), secret: SECRET }]);
    const a = alert();
    d.handle(a);
    await waitFor('delivery', () => sinkStats(d).delivered === 1);
    expect(r.requests).toBe(4);
    expect(r.ids()).toEqual([a.id]);
    expect(sinkStats(d)).toMatchObject({ failedAttempts: 3, retried: 3, rejected: 0 });
    expect(lines.some((l) => l.reason === 'HTTP 500: boom')).toBe(true);
  });

  it('honours Retry-After on 429 and still delivers', async () => {
    const r = await receiver();
    r.respond = ({ n }) => (n === 0 ? { status: 429, headers: { 'retry-after': '0.05' } } : { status: 200 });
    const d = await start([{ type: 'webhook', url: r.url(), secret: SECRET }]);
    d.handle(alert());
    await waitFor('delivery', () => sinkStats(d).delivered === 1);
    expect(sinkStats(d).failedAttempts).toBe(1);
  });

  it('does not retry an alert the endpoint refuses as malformed (400), says so, and goes on', async () => {
    const r = await receiver();
    r.respond = ({ n }) => (n === 0 ? { status: 400, body: 'invalid_payload' } : { status: 200 });
    const d = await start([{ type: 'webhook', url: r.url(), secret: SECRET }]);
    const [a, b] = [numbered(1), numbered(2)];
    d.handle(a);
    d.handle(b);
    await waitFor('the second alert', () => sinkStats(d).delivered === 1);
    expect(r.ids()).toEqual([b.id]);
    expect(sinkStats(d)).toMatchObject({ rejected: 1, failedAttempts: 0 });
    expect(lines.some((l) => l.level === 'error' && l.reason === 'HTTP 400: invalid_payload')).toBe(true);
  });

  it('past the disk cap drops the newest alerts, counts them, logs an error, and tells the endpoint later', async () => {
    const r = await receiver();
    await r.down();
    const d = await start([{ type: 'webhook', url: r.url(), secret: SECRET }], { queue: { maxBytes: 8192 } });
    const sent = Array.from({ length: 20 }, (_, i) => numbered(i));
    for (const a of sent) d.handle(a);
    const { dropped, queuedAlerts, queuedBytes } = sinkStats(d);
    expect(dropped).toBeGreaterThan(0);
    expect(queuedAlerts + dropped).toBe(20);
    expect(queuedBytes).toBeLessThanOrEqual(8192);
    const errors = lines.filter((l) => l.level === 'error' && /ALERTS DROPPED/.test(l.msg));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ sink: 'webhook-1', dropped: 1 });

    await r.up();
    await waitFor('the queue to drain', () => sinkStats(d).queuedAlerts === 0);
    // The oldest were kept: the start of an incident matters most.
    expect(r.received.map((x) => x.json.id)).toEqual(sent.slice(0, queuedAlerts).map((a) => a.id));
    const later = numbered(99);
    d.handle(later);
    await waitFor('the drop notice and the next alert', () => r.received.length === queuedAlerts + 2);
    const notice = r.received.at(-2)!.json as unknown as Alert;
    expect(notice).toMatchObject({ source: 'engine', rule: 'alert-queue-full', priority: 'error', fields: { 'vigil.dropped': dropped } });
    expect(r.received.at(-1)!.json.id).toBe(later.id);
  });
});

describe('slack sink', () => {
  it('posts a Block Kit message with the priority colour, workload, process and what to do next', async () => {
    const r = await receiver(null);
    const d = await start([{ type: 'slack', url: r.url() }]);
    d.handle(alert({ priority: 'critical' }));
    d.handle(alert({ source: 'profile', rule: 'new-executable', priority: 'warning', message: 'web ran an executable it never ran while learning' }, execEvent('/tmp/xmrig', ['xmrig'])));
    await waitFor('both messages', () => r.received.length === 2);
    const [critical, anomaly] = r.received.map((x) => x.json as unknown as { text: string; attachments: { color: string; blocks: { type: string; text?: { text: string }; fields?: { text: string }[] }[] }[] });

    expect(critical!.text).toBe('Critical: Terminal shell in container in shop/web-7d9f-abcde/nginx');
    const att = critical!.attachments[0]!;
    expect(att.color).toBe(PRIORITY_COLOUR.critical);
    expect(att.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'section', 'context']);
    expect(att.blocks[0]!.text!.text).toBe('Critical: Terminal shell in container');
    const fields = att.blocks[2]!.fields!.map((f) => f.text);
    expect(fields).toContain('*Workload*\n`web`');
    expect(fields).toContain('*Namespace / pod / container*\n`shop` / `web-7d9f-abcde` / `nginx`');
    expect(fields).toContain('*Process*\n`/bin/sh` pid 4242, uid 0');
    expect(fields).toContain('*Parents*\n`/usr/bin/python3`');
    expect(att.blocks[3]!.text!.text).toMatch(/^\*What to do next:\* Treat shop\/web-7d9f-abcde\/nginx as compromised/);
    expect(att.blocks[4]!.text).toBeUndefined();

    const a2 = anomaly!.attachments[0]!;
    expect(a2.color).toBe(PRIORITY_COLOUR.warning);
    expect(a2.blocks[3]!.text!.text).toMatch(/New behaviour for .*let the profile learn it/);
  });

  it('escapes what a process controls, so a command line cannot ping @channel or forge links', async () => {
    const r = await receiver(null);
    const d = await start([{ type: 'slack', url: r.url() }]);
    d.handle(alert({ message: 'shell <!channel> <https://evil.example|click>' }, execEvent('/bin/sh', ['sh', '-c', 'echo <!here> `x`'])));
    await waitFor('the message', () => r.received.length === 1);
    expect(r.received[0]!.body).not.toMatch(/<!channel>|<!here>|<https:/);
    expect(r.received[0]!.body).toContain('&lt;!channel&gt;');
  });

  it('reads the URL from urlFile (a mounted Secret)', async () => {
    const r = await receiver(null);
    const d = await start([{ type: 'slack', urlFile: secretFile(`${r.url('/services/T1/B2/fromfile')}\n`) }]);
    d.handle(alert());
    await waitFor('the message', () => r.received.length === 1);
    expect(r.received[0]!.path).toBe('/services/T1/B2/fromfile');
  });
});

describe('secrets', () => {
  it('never puts the webhook URL token, the HMAC key, header values or the Slack URL in logs, errors or stats', async () => {
    const token = 'T0KEN-in-the-path-9f8e7d6c';
    const slackToken = 'xoxb-SLACK-url-token-abc123';
    const bearer = 'Bearer super-secret-bearer-value';
    const r = await receiver();
    // The server echoes the request path in its error: the sink must not repeat it.
    r.respond = ({ n }) => (n % 3 === 0 ? { status: 503, body: `no route for /hook/${token}?k=${token}` } : { status: 400, body: `bad ${slackToken}` });
    const down = await Receiver.start(null);
    receivers.push(down);
    await down.down();
    const d = await start([
      { type: 'webhook', url: r.url(`/hook/${token}?k=${token}`), secret: SECRET, headers: { Authorization: bearer } },
      { type: 'slack', urlFile: secretFile(down.url(`/services/${slackToken}`)) },
      { type: 'webhook', url: `http://user:${token}@127.0.0.1:${down.port}/x`, secretFile: secretFile(SECRET) },
    ]);
    for (let i = 0; i < 5; i++) d.handle(numbered(i));
    await waitFor('failures on every sink', () => d.stats().sinks.every((s) => s.failedAttempts + s.rejected >= 2));
    await stop(d);

    const errors: string[] = [];
    for (const bad of [
      [{ type: 'slack', urlFile: join(dir, 'missing') }],
      [{ type: 'slack', urlFile: secretFile(`ftp://x/${slackToken}`) }],
      [{ type: 'slack', urlFile: secretFile(`not a url ${slackToken}`) }],
      [{ type: 'webhook', url: r.url(), secretFile: secretFile('short') }],
    ] as ConfigInput['sinks'][]) {
      await start(bad).then(
        () => errors.push('started'),
        (err: Error) => errors.push(err.message),
      );
    }
    try {
      parseConfig({ sinks: [{ type: 'webhook', url: `ftp://h/${token}` }, { type: 'slack', url: `notaurl/${slackToken}` }] });
    } catch (err) {
      errors.push((err as Error).message);
    }
    expect(errors.filter((e) => e === 'started')).toEqual([]);
    expect(errors.join('\n')).toMatch(/sink slack-1: cannot read urlFile .*missing: ENOENT/);

    const everything = [JSON.stringify(logs.flat()), JSON.stringify(d.stats()), ...errors].join('\n');
    expect(logs.flat().length).toBeGreaterThan(3);
    for (const secret of [token, slackToken, SECRET, bearer, 'super-secret-bearer-value']) expect(everything).not.toContain(secret);
    expect(everything).toContain(`127.0.0.1:${r.port}`);
  });
});

function secretFile(content: string): string {
  const p = join(dir, `secret-${Math.random().toString(36).slice(2)}`);
  writeFileSync(p, content, { mode: 0o600 });
  return p;
}

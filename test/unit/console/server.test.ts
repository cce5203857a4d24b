// The web console's server against a real engine (real gRPC from a
// synthetic probe, real HTTP on loopback): who gets in, which requests may
// act, what the engine does when they do, what is written to the audit
// log, what is never served, and the bounds on what it keeps.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AcceptPreview, ActionResult, AlertCounts, AlertPage, AuditEntry, CaptureView, NetworkView, ProfileView, RiskView, SessionInfo, WorkloadView } from '../../../src/console/api.js';
import { parseConfig } from '../../../src/config/load.js';
import type { AuditRecord } from '../../../src/control/audit.js';
import { ControlClient } from '../../../src/control/client.js';
import { alertAbout } from '../../../src/model/alert.js';
import { ConsoleFixture } from '../../support/console.js';
import { waitFor } from '../../support/kernel.js';
import { makePki } from '../../support/tls.js';

let f: ConsoleFixture | null = null;
afterEach(async () => {
  await f?.stop();
  f = null;
});

const ACT = { 'content-type': 'application/json', 'x-vigil-console': '1' };
const post = (fx: ConsoleFixture, path: string, body: unknown, headers: Record<string, string> = ACT) =>
  fx.api<ActionResult & { error?: string }>(path, { method: 'POST', headers, body: JSON.stringify(body) });
const wpath = (key: string) => `/api/workloads/${encodeURIComponent(key)}`;

/** waitFor for a condition that needs a request to tell. */
async function until<T>(what: string, pred: () => Promise<T | null | false | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const learned = (fx: ConsoleFixture, name: string) => {
  try {
    return fx.t.engine.profiles.export(name)[0]!.spec;
  } catch {
    return null;
  }
};

describe('console: who gets in', () => {
  it('serves the API only with the token, and says what it expects without one', async () => {
    f = await ConsoleFixture.start(['web']);
    const anon = await fetch(`${f.base}/api/workloads`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBe('Bearer realm="vigil"');
    // One character off (not always an 'x': a random token ends in one, 1 time in 64, and was then the right one).
    const off = f.token.endsWith('x') ? 'y' : 'x';
    expect(`${f.token.slice(0, -1)}${off}`).not.toBe(f.token);
    const wrong = await fetch(`${f.base}/api/workloads`, { headers: { authorization: `Bearer ${f.token.slice(0, -1)}${off}` } });
    expect(wrong.status).toBe(401);
    const session = (await (await fetch(`${f.base}/api/session`)).json()) as SessionInfo;
    expect(session).toMatchObject({ auth: ['token'], authenticated: false, node: '' });
    expect((await f.api<SessionInfo>('/api/session')).body).toMatchObject({ authenticated: true, node: 'test-node' });
    expect((await f.api('/api/workloads')).status).toBe(200);
    // The stream needs it too.
    expect((await fetch(`${f.base}/api/stream`)).status).toBe(401);
  });

  it('serves the page with a CSP that admits only its own scripts and the import map by hash', async () => {
    f = await ConsoleFixture.start(['web']);
    const res = await fetch(`${f.base}/`);
    const html = await res.text();
    const csp = res.headers.get('content-security-policy')!;
    const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)![1]!;
    expect(csp).toContain(`script-src 'self' 'sha256-${createHash('sha256').update(map).digest('base64')}'`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("require-trusted-types-for 'script'");
    expect(csp).not.toContain('unsafe');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    // Libraries come from node_modules as published; nothing else is served from there.
    expect((await fetch(`${f.base}/vendor/preact.js`)).status).toBe(200);
    expect((await fetch(`${f.base}/vendor/../package.json`)).status).toBe(404);
    expect((await fetch(`${f.base}/app/app.js`)).headers.get('content-type')).toMatch(/^text\/javascript/);
  });

  it('refuses to start without credentials configured, or beyond loopback without TLS', async () => {
    expect(() => parseConfig({ console: { enabled: true } })).toThrow(/console\.tokenFile: an enabled console needs tokenFile, tls \(mutual TLS\) or both/);
    f = await ConsoleFixture.start(['web']);
    const { ConsoleServer } = await import('../../../src/console/server.js');
    const source = f.console.state.source;
    const base = { allowNonLoopback: false, tokenFile: join(f.t.dir, 'console-token'), alertHistory: 100, networkEdges: 100 };
    expect(() => new ConsoleServer(source, { ...base, listen: 'tcp://0.0.0.0:0' }, f!.t.engine.log)).toThrow(/not a loopback address/);
    expect(() => new ConsoleServer(source, { ...base, listen: 'tcp://0.0.0.0:0', allowNonLoopback: true }, f!.t.engine.log)).toThrow(/needs tls/);
    writeFileSync(join(f.t.dir, 'short'), 'abc\n');
    expect(() => new ConsoleServer(source, { ...base, listen: 'tcp://127.0.0.1:0', tokenFile: join(f!.t.dir, 'short') }, f!.t.engine.log)).toThrow(/shorter than 32 characters/);
  });

  it('with mutual TLS: no certificate, no connection; with one, actions still need same-origin proof', async () => {
    const pki = makePki();
    f = await ConsoleFixture.start(['web'], { console: { enabled: true, listen: 'tcp://127.0.0.1:0', tokenFile: null, tls: { ca: pki.ca, cert: pki.serverCert, key: pki.serverKey } } });
    const call = (path: string, opts: { cert?: boolean; rogue?: boolean; method?: string; headers?: Record<string, string>; body?: string } = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsRequest({
          host: '127.0.0.1', port: f!.console.port, path, method: opts.method ?? 'GET', ca: readFileSync(pki.ca), servername: 'vigil-engine', headers: { ...(opts.headers ?? {}), host: 'vigil-engine' },
          ...(opts.cert ? { cert: readFileSync(opts.rogue ? pki.rogueCert : pki.clientCert), key: readFileSync(opts.rogue ? pki.rogueKey : pki.clientKey) } : {}),
        }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end(opts.body);
      });
    await expect(call('/api/workloads')).rejects.toThrow();
    await expect(call('/api/workloads', { cert: true, rogue: true })).rejects.toThrow();
    const ok = await call('/api/session', { cert: true });
    expect(JSON.parse(ok.body)).toMatchObject({ auth: ['mtls'], authenticated: true });
    f.exec('web', '/usr/bin/web');
    await waitFor('workload seen', () => f!.t.engine.workloads.find('web'));
    // A certificate is sent cross-site like a cookie: a form post from another site must not act.
    const forged = await call(`${wpath('web')}/quarantine`, { cert: true, method: 'POST', headers: { 'content-type': 'text/plain', origin: 'https://evil.example' }, body: '{}' });
    expect(forged.status).toBe(403);
    expect(f.t.engine.quarantines.isQuarantined('named:web')).toBe(false);
    const real = await call(`${wpath('web')}/quarantine`, { cert: true, method: 'POST', headers: { ...ACT, origin: 'https://vigil-engine' }, body: '{}' });
    expect(real.status).toBe(200);
    expect(JSON.parse(real.body)).toMatchObject({ ok: true, audit: { via: 'console', action: 'quarantine' } });
    expect(JSON.parse(real.body).audit.actor).toMatch(/^certificate CN=client \(sha256 [0-9A-F:]+\) \(by its client certificate\)$/);
    expect(f.t.engine.quarantines.isQuarantined('named:web')).toBe(true);
  });
});

describe('console: actions', () => {
  it('refuses requests another site could forge, and the engine is left as it was', async () => {
    f = await ConsoleFixture.start(['web']);
    f.exec('web', '/usr/bin/web');
    const w = await waitFor('workload seen', () => f!.t.engine.workloads.find('web'));
    const refusals: [Record<string, string>, RegExp][] = [
      [{ 'content-type': 'application/json' }, /x-vigil-console: 1 header/],
      [{ 'content-type': 'text/plain', 'x-vigil-console': '1' }, /JSON body/],
      [{ ...ACT, origin: 'http://evil.example' }, /origin "http:\/\/evil.example" is not this console/],
      [{ ...ACT, 'sec-fetch-site': 'cross-site' }, /cross-site request may not act/],
    ];
    for (const [headers, why] of refusals) {
      const r = await post(f, `${wpath('web')}/mode`, { mode: 'monitor' }, headers);
      expect(r.status).toBe(403);
      expect(r.body.error).toMatch(why);
    }
    expect(w.mode).toBe('learn');
    // Without the token nothing acts either.
    const anon = await fetch(`${f.base}${wpath('web')}/mode`, { method: 'POST', headers: ACT, body: '{"mode":"monitor"}' });
    expect(anon.status).toBe(401);
    expect(w.mode).toBe('learn');
    expect(readFileSync(join(f.t.dir, 'state', 'audit.jsonl'), { flag: 'a+' }).toString()).toBe('');
  });

  it('counts what it served on /metrics: requests, credential failures, refusals, actions and live streams', async () => {
    f = await ConsoleFixture.start(['web']);
    f.exec('web', '/usr/bin/web');
    await waitFor('workload seen', () => f!.t.engine.workloads.find('web'));
    const scrape = async () => {
      const text = await (await fetch(`http://127.0.0.1:${f!.t.engine.metricsPort}/metrics`)).text();
      return (name: string) => Number(/^(\S+) (\S+)$/m.exec(text.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`)).join('\n'))?.[2] ?? NaN);
    };
    let m = await scrape();
    expect(m('vigil_console_stream_clients')).toBe(0);
    expect(m('vigil_console_auth_failures_total')).toBe(0);
    expect((await fetch(`${f.base}/`)).status).toBe(200);
    expect((await fetch(`${f.base}/api/workloads`)).status).toBe(401);
    expect((await fetch(`${f.base}/api/workloads`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await post(f, `${wpath('web')}/mode`, { mode: 'monitor' }, { ...ACT, origin: 'http://evil.example' })).status).toBe(403);
    expect((await post(f, `${wpath('web')}/mode`, { mode: 'monitor' })).body.ok).toBe(true);
    f.probe.answer = () => ({ ok: false, error: 'no cgroup v2 here', detail: '' });
    expect((await post(f, `${wpath('web')}/quarantine`, { reason: 'test' })).body.ok).toBe(false);
    const stream = new AbortController();
    const res = await fetch(`${f.base}/api/stream`, { headers: { authorization: `Bearer ${f.token}` }, signal: stream.signal });
    expect(res.status).toBe(200);
    m = await scrape();
    expect(m('vigil_console_stream_clients')).toBe(1);
    expect(m('vigil_console_auth_failures_total')).toBe(2);
    expect(m('vigil_console_cross_site_refused_total')).toBe(1);
    expect(m('vigil_console_actions_total{action="mode",outcome="ok"}')).toBe(1);
    expect(m('vigil_console_actions_total{action="quarantine",outcome="failed"}')).toBe(1);
    expect(m('vigil_console_requests_total{kind="page",code="200"}')).toBe(1);
    expect(m('vigil_console_requests_total{kind="api",code="401"}')).toBe(2);
    expect(m('vigil_console_requests_total{kind="api",code="403"}')).toBe(1);
    expect(m('vigil_console_requests_total{kind="stream",code="200"}')).toBe(1);
    stream.abort();
    await until('the stream client gone', async () => (await scrape())('vigil_console_stream_clients') === 0);
  });

  it('changes the mode, quarantines, releases and captures, each acknowledged and in the audit log', async () => {
    f = await ConsoleFixture.start(['web']);
    f.exec('web', '/usr/bin/web');
    const w = await waitFor('workload seen', () => f!.t.engine.workloads.find('web'));
    const own = { ...ACT, origin: f.base };
    const mode = await post(f, `${wpath('named:web')}/mode`, { mode: 'monitor' }, own);
    expect(mode.body).toMatchObject({ ok: true, message: 'web is now in monitor mode', audit: { action: 'set-mode', workload: 'web', params: { from: 'learn', mode: 'monitor' }, via: 'console' } });
    expect(mode.body.audit!.actor).toMatch(/^the web console's token holder at 127\.0\.0\.1:\d+ \(by the console's bearer token\)$/);
    expect(w.mode).toBe('monitor');
    const bad = await post(f, `${wpath('web')}/mode`, { mode: 'off' });
    expect(bad.status).toBe(400);
    const q = await post(f, `${wpath('web')}/quarantine`, { reason: 'looks odd' });
    expect(q.body.ok).toBe(true);
    expect(f.t.engine.quarantines.isQuarantined('named:web')).toBe(true);
    expect(f.probe.commands.some((c) => c.quarantine?.cgroups.some((g) => g.id === f!.cgroups.web))).toBe(true);
    const views = (await f.api<WorkloadView[]>('/api/workloads')).body;
    expect(views.find((v) => v.name === 'web')!.quarantine!.reason).toBe('looks odd (web console)');
    const r = await post(f, `${wpath('web')}/release`, {});
    expect(r.body.ok).toBe(true);
    expect(f.t.engine.quarantines.isQuarantined('named:web')).toBe(false);
    const cap = await post(f, `${wpath('web')}/capture`, { seconds: 1 });
    expect(cap.body).toMatchObject({ ok: true, audit: { action: 'capture', params: { seconds: 1 } } });
    expect(cap.body.message).toMatch(/^capturing to web-.*\.pcap$/);
    expect(f.probe.commands.some((c) => c.startCapture)).toBe(true);
    // One audit log, the engine's (the CLI's actions go there too): each action with who made it, from the console; each also an alert.
    const lines = () => readFileSync(join(f!.t.dir, 'state', 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AuditRecord);
    expect(lines().map((e) => `${e.action} ${e.target} ${e.ok} ${e.via} ${e.caller.verifiedBy} ${e.lowersProtection}`)).toEqual([
      'set-mode web true console token false', 'quarantine web true console token false', 'release web true console token true', 'capture web true console token false',
    ]);
    const alerts = (await f.api<AlertPage>('/api/alerts?q=through the web console')).body;
    expect(alerts.alerts.map((a) => `${a.priority} ${a.rule}`).sort()).toEqual(['error Quarantine released', 'notice Capture started', 'notice Workload mode changed', 'notice Workload quarantined']);
    // The capture's end is shown with its file.
    const [capture] = await until('the capture to finish', async () => {
      const c = (await f!.api<CaptureView[]>('/api/captures')).body;
      return c[0]?.ended ? c : null;
    }, 5000);
    expect(capture).toMatchObject({ workload: 'web', ended: { ok: true } });
    // The capture file is served by name, and only from the capture directory.
    const file = capture!.file;
    const pcap = await fetch(`${f.base}/api/captures/${file}`, { headers: { authorization: `Bearer ${f.token}` } });
    expect(pcap.status).toBe(200);
    expect(Buffer.from(await pcap.arrayBuffer()).readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect((await f.api('/api/captures/..%2Fquarantine.json')).status).toBe(400);
    // The CLI's actions are in the same log, and on the console's list.
    const control = new ControlClient(f.t.config.control.listen);
    try {
      expect(await control.setMode('web', 'learn')).toMatchObject({ ok: true });
    } finally {
      control.close();
    }
    const listed = (await f.api<AuditEntry[]>('/api/audit')).body;
    expect(listed.map((e) => `${e.action} ${e.via}`)).toEqual(['set-mode control', 'capture console', 'release console', 'quarantine console', 'set-mode console']);
    expect(listed[0]!.actor).toMatch(new RegExp(`^uid ${process.getuid!()}.*\\(as the kernel saw it|as the client claims`));
  });

  it('accepts an anomaly into the profile after showing the diff, and it is no longer an anomaly', async () => {
    f = await ConsoleFixture.start(['web']);
    f.exec('web', '/usr/bin/web');
    const w = await waitFor('workload seen', () => f!.t.engine.workloads.find('web'));
    await waitFor('learned', () => learned(f!, 'web')?.processes.length === 1);
    expect((await f.t.engine.profiles.changeMode(w, 'monitor')).ok).toBe(true);
    const parent = f.exec('web', '/usr/bin/web');
    f.exec('web', '/usr/bin/curl', ['curl', 'http://x'], { ppid: parent });
    const view = await until('the anomaly listed', async () => {
      const v = (await f!.api<ProfileView>(`${wpath('web')}/profile`)).body;
      return v.anomalies.length ? v : null;
    });
    const a = view.anomalies[0]!;
    expect(a).toMatchObject({ kind: 'new-executable', what: '/usr/bin/curl', process: { exe: '/usr/bin/curl', parent: '/usr/bin/web' } });
    const preview = (await f.api<AcceptPreview>(`${wpath('web')}/anomalies/${a.id}/preview`)).body;
    expect(preview.diff).toEqual(['+ process: /usr/bin/curl (parents /usr/bin/web) (users 1000)']);
    expect(preview.yaml).toContain('exe: /usr/bin/curl');
    // Previewing changed nothing.
    expect(f.t.engine.profiles.export('web')[0]!.spec.processes.map((p) => p.exe)).toEqual(['/usr/bin/web']);
    const stale = await post(f, `${wpath('web')}/anomalies/${a.id}/accept`, { baseVersion: 'not-the-one' });
    expect(stale.status).toBe(409);
    const ok = await post(f, `${wpath('web')}/anomalies/${a.id}/accept`, { baseVersion: preview.baseVersion });
    expect(ok.body).toMatchObject({ ok: true, audit: { action: 'accept-anomaly', params: { kind: 'new-executable', what: '/usr/bin/curl' } } });
    expect(f.t.engine.profiles.export('web')[0]!.spec.processes.map((p) => p.exe)).toEqual(['/usr/bin/curl', '/usr/bin/web']);
    expect(w.mode).toBe('monitor');
    expect((await f.api<ProfileView>(`${wpath('web')}/profile`)).body.anomalies).toEqual([]);
    // The same behaviour again raises nothing.
    const before = f.t.engine.alertsRaised;
    f.exec('web', '/usr/bin/curl', ['curl', 'http://x'], { ppid: parent });
    f.exec('web', '/usr/bin/env');
    await waitFor('the next anomaly', () => f!.t.engine.alertsRaised > before);
    const latest = (await f.api<AlertPage>('/api/alerts?source=profile')).body.alerts.map((x) => x.fields['vigil.what']);
    expect(latest).toEqual(['/usr/bin/env', '/usr/bin/curl']);
  });

  it('exports the profile as WorkloadProfile YAML and as a NetworkPolicy', async () => {
    f = await ConsoleFixture.start(['web']);
    f.exec('web', '/usr/bin/web');
    f.connect('web', '10.0.0.7', 5432);
    await waitFor('learned', () => learned(f!, 'web')?.network.egress.length === 1);
    const yaml = await f.api<string>(`${wpath('web')}/export?format=yaml`);
    expect(yaml.headers.get('content-type')).toMatch(/^application\/yaml/);
    expect(yaml.body).toMatch(/^apiVersion: vigil.dev\/v1alpha1\nkind: WorkloadProfile\n/);
    const np = await f.api<string>(`${wpath('web')}/export?format=networkpolicy`);
    expect(np.body).toContain('kind: NetworkPolicy');
    expect(np.body).toContain('cidr: 10.0.0.7/32');
  });
});

describe('console: what it keeps and shows', () => {
  it('keeps a bounded alert history, counts what it dropped, and counts alerts per minute', async () => {
    f = await ConsoleFixture.start(['web'], { console: { enabled: true, listen: 'tcp://127.0.0.1:0', alertHistory: 100 } });
    const w = f.t.engine.workloads.declare({ key: 'named:web', name: 'web', kind: 'named' });
    for (let i = 0; i < 150; i++) {
      f.t.engine.raise(alertAbout(w, 'test-node', { source: 'rule', rule: i % 2 ? 'Odd rule' : 'Even rule', priority: i < 10 ? 'critical' : 'notice', message: `alert ${i}`, tags: ['T1059'] }));
    }
    const page = (await f.api<AlertPage>('/api/alerts?limit=5')).body;
    expect(page).toMatchObject({ matched: 100, held: 100, limit: 100, evicted: 50 });
    expect(page.alerts.map((a) => a.message)).toEqual(['alert 149', 'alert 148', 'alert 147', 'alert 146', 'alert 145']);
    // Filters: priority is "this or worse"; the critical ones were the first ten, dropped since.
    expect((await f.api<AlertPage>('/api/alerts?priority=critical')).body.matched).toBe(0);
    expect((await f.api<AlertPage>('/api/alerts?rule=Odd%20rule&q=ALERT%2014')).body.alerts.map((a) => a.message)).toEqual(['alert 149', 'alert 147', 'alert 145', 'alert 143', 'alert 141']);
    expect((await f.api<AlertPage>('/api/alerts?since=1h&workload=web')).body.matched).toBe(100);
    expect((await f.api<AlertPage>('/api/alerts?since=2099-01-01T00:00:00Z')).body.matched).toBe(0);
    expect((await f.api<{ error: string }>('/api/alerts?since=yesterday')).status).toBe(400);
    // The per-minute counts still have all 150.
    const counts = (await f.api<AlertCounts>('/api/alerts/counts?minutes=5')).body;
    const total = (d: string, v: string) => counts.series[d]![v]!.reduce((x, y) => x + y, 0);
    expect(total('priority', 'critical')).toBe(10);
    expect(total('priority', 'notice')).toBe(140);
    expect(total('rule', 'Odd rule')).toBe(75);
    expect(total('tag', 'T1059')).toBe(150);
    expect(total('workload', 'web')).toBe(150);
  });

  it('maps network activity: peers, counts, anomalies, blocks and quarantine, within its bound', async () => {
    f = await ConsoleFixture.start(['web', 'db'], { console: { enabled: true, listen: 'tcp://127.0.0.1:0', networkEdges: 100 } });
    f.listen('db', '10.1.0.2', 5432);
    f.accept('db', '10.1.0.2', 5432, '10.1.0.9');
    f.connect('web', '10.1.0.2', 5432);
    f.connect('web', '10.1.0.2', 5432);
    f.connect('web', '93.184.216.34', 443);
    await waitFor('events in', () => f!.t.events.length === 5);
    let net = (await f.api<NetworkView>('/api/network')).body;
    const edge = (from: string, to: string) => net.edges.find((e) => net.nodes.find((n) => n.id === e.source)!.label === from && net.nodes.find((n) => n.id === e.target)!.label === to);
    expect(edge('web', 'db')).toMatchObject({ port: 5432, protocol: 'tcp', count: 2, state: 'learned', direction: 'out' });
    expect(edge('web', '93.184.216.34')).toMatchObject({ port: 443, count: 1, state: 'learned' });
    expect(edge('10.1.0.9', 'db')).toMatchObject({ port: 5432, direction: 'in', state: 'learned' });
    // Monitor mode: a new destination is an anomaly; a refused connect is a block.
    const web = f.t.engine.workloads.find('web')!;
    await f.t.engine.profiles.changeMode(web, 'monitor');
    f.connect('web', '198.51.100.7', 4444);
    f.send('web', [{ pid: 7777, uid: 1000, blocked: true, connect: { remote: { family: 2, address: Buffer.from([198, 51, 100, 8]), port: 4444 }, protocol: 6, result: -1 } }]);
    await until('two anomalies', async () => (await f!.api<AlertPage>('/api/alerts?rule=new-egress')).body.matched === 2);
    net = (await f.api<NetworkView>('/api/network')).body;
    expect(edge('web', '198.51.100.7')).toMatchObject({ state: 'anomalous', anomalies: 1 });
    expect(edge('web', '198.51.100.8')).toMatchObject({ state: 'blocked', blocked: 1 });
    await post(f, `${wpath('db')}/quarantine`, {});
    net = (await f.api<NetworkView>('/api/network')).body;
    expect(edge('10.1.0.9', 'db')!.state).toBe('quarantined');
    // Bounded: the least recently seen edges go, counted.
    for (let i = 0; i < 120; i++) f.connect('web', `10.9.${i}.1`, 80);
    await until('all in', async () => (await f!.api<NetworkView>('/api/network')).body.evicted >= 25);
    net = (await f.api<NetworkView>('/api/network')).body;
    expect(net.edges.length).toBe(100);
    expect(net.evicted).toBe(5 + 120 - 100);
    expect(net.limit).toBe(100);
  });

  it('scores risk from what it knows, each factor shown', async () => {
    f = await ConsoleFixture.start(['web', 'batch']);
    f.exec('web', '/usr/bin/web', ['web'], { uid: 0 });
    f.listen('web', '0.0.0.0', 8080);
    f.exec('batch', '/usr/bin/batch');
    await waitFor('both seen', () => f!.t.engine.workloads.find('batch') && f!.t.engine.workloads.find('web'));
    await f.t.engine.profiles.changeMode(f.t.engine.workloads.find('batch')!, 'enforce');
    const risk = (await f.api<RiskView>('/api/risk')).body;
    const web = risk.workloads.find((w) => w.subject === 'web')!;
    const factor = (id: string) => web.factors.find((x) => x.id === id)!;
    expect(factor('mode')).toMatchObject({ points: 25 });
    expect(factor('root-processes')).toMatchObject({ points: 10, detail: '1: /usr/bin/web' });
    expect(factor('exposed-ports')).toMatchObject({ points: 5, detail: 'tcp 0.0.0.0:8080' });
    expect(factor('privileged')).toMatchObject({ points: 0, detail: 'not known on this node' });
    expect(web.score).toBe(40);
    expect(web.level).toBe('medium');
    const batch = risk.workloads.find((w) => w.subject === 'batch')!;
    // Enforced, but this probe only kills after a chmod (ENFORCEMENT): the one thing that scores.
    expect(batch.factors.filter((x) => x.points > 0).map((x) => `${x.id} ${x.points}`)).toEqual(['enforcement-gaps 5']);
    expect(batch.factors.find((x) => x.id === 'enforcement-gaps')!.detail).toMatch(/chmod/);
    expect(batch.score).toBe(5);
    expect(risk.node.factors.find((x) => x.id === 'riskiest-workload')).toMatchObject({ detail: 'web (40)', points: 20 });
    expect(risk.node.factors.find((x) => x.id === 'probe')).toMatchObject({ points: 0 });
    // The probe's Hello said chmod is only answered by a kill after the call: a gap of this node.
    expect(risk.node.factors.find((x) => x.id === 'kernel-gaps')).toMatchObject({ points: 10, detail: 'chmod: caller killed at syscall entry, the call completes' });
    // And each workload shows how its operations are stopped, as the probe said.
    const [view] = (await f.api<WorkloadView[]>('/api/workloads')).body.filter((w) => w.name === 'web');
    expect(view!.enforcement.mechanisms).toEqual([
      { what: 'open-write, exec', how: 'denied before they happen (BPF LSM) [lsm/file_open, lsm/bprm_check_security]' },
      { what: 'connect', how: 'refused (cgroup connect hook) [cgroup/connect4]' },
      { what: 'chmod', how: 'caller killed at syscall entry, the call completes [tp/syscalls/sys_enter_fchmodat] (BPF LSM and fmod_ret refused)' },
      { what: 'network', how: 'quarantine drops every packet (cgroup_skb)' },
    ]);
  });

  it('never serves a secret: sink URLs, HMAC keys, headers or the console token', async () => {
    const secrets = ['hooks-url-token-5f2a9c', 'hmac-key-never-shown-0123456789', 'X-Team-Secret-Value-77'];
    f = await ConsoleFixture.start(['web'], {
      sinks: [{ type: 'webhook', url: `http://127.0.0.1:9/${secrets[0]}`, secret: secrets[1], headers: { 'X-Team': secrets[2]! } }],
    });
    f.exec('web', '/usr/bin/web');
    await waitFor('workload seen', () => f!.t.engine.workloads.find('web'));
    const w = f.t.engine.workloads.find('web')!;
    f.t.engine.raise(alertAbout(w, 'test-node', { source: 'rule', rule: 'Something', priority: 'warning', message: 'something' }));
    const bodies: string[] = [];
    for (const p of ['/', '/app/app.js', '/api/session', '/api/workloads', '/api/alerts', '/api/alerts/counts', '/api/network', '/api/risk', '/api/report', '/api/audit', `${wpath('web')}/profile`, `${wpath('web')}/export`]) {
      const r = await f.api<unknown>(p);
      expect(r.status, p).toBe(200);
      bodies.push(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
    }
    for (const s of [...secrets, f.token]) for (const b of bodies) expect(b).not.toContain(s);
    for (const line of f.t.logLines) expect(JSON.stringify(line)).not.toContain(f.token);
  });

  it('renders the report as standalone HTML with every name escaped', async () => {
    f = await ConsoleFixture.start(['web']);
    const evil = '/tmp/<img src=x onerror=alert(1)>';
    f.exec('web', evil, [evil, '<script>alert(2)</script>'], { uid: 0 });
    await waitFor('seen', () => f!.t.engine.workloads.find('web'));
    const r = await f.api<string>('/api/report');
    expect(r.headers.get('content-security-policy')).toMatch(/^default-src 'none'; style-src 'sha256-/);
    expect(r.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(r.body).not.toContain('<img');
    expect(r.body).toContain('<h1>Vigil risk report: node test-node</h1>');
  });
});

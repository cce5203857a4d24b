// The environment at exec on the real kernel: the probe reads it from the
// new process's stack, sends every name and only the allowed values, and
// no secret value put in the environment of an exec-ed program reaches
// any sink (stdout text and JSON, file JSON and Falco JSON, webhook
// bodies), the engine's logs or its state directory; LD_PRELOAD's value
// does. Also the cut at the probe's limits (raised: what is past it is not
// seen), and the node's loader rule.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi, type MockInstance } from 'vitest';
import type { Alert } from '../../src/model/alert.js';
import type { Event } from '../../src/model/event.js';
import { keepEventBytes } from '../../src/ingest/probe-message.js';
import { TestEngine } from '../support/engine.js';
import { filesBelow, recordingServer } from '../support/leaks.js';
import { describeKernel, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';
import { own } from '../support/events.js';

const tag = randomBytes(4).toString('hex');
const SECRET = `s3cr3t-${tag}`;
const DB_PASSWORD = `hunter2-${tag}`;
const PROXY_PASSWORD = `pr0xy-${tag}`;
const PRELOAD = `/tmp/vigil-env-${tag}/inject.so`;

describeKernel('the environment at exec', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let dir: string;
  let hook: Server;
  const bodies: string[] = [];
  const stdout: string[] = [];
  let spy: MockInstance;
  const alerts: Alert[] = [];
  const wire: Buffer[] = [];
  let secretGroup: TestCgroup;
  let bigGroup: TestCgroup;
  let manyGroup: TestCgroup;
  let stopped = false;

  beforeAll(async () => {
    tree = new TestCgroupTree();
    secretGroup = tree.group('secret');
    bigGroup = tree.group('big');
    manyGroup = tree.group('many');
    dir = mkdtempSync(join(tmpdir(), 'vigil-env-'));
    const recorder = await recordingServer(bodies);
    hook = recorder.server;
    const port = recorder.port;
    // A rule that prints the whole environment, as Falco's two rules over it do.
    const rules = join(dir, 'env-rules.yaml');
    writeFileSync(rules, `- rule: Environment shown
  desc: every exec in the test's cgroup, with its environment
  condition: evt.type = execve and proc.env icontains AWS_SECRET_ACCESS_KEY
  output: environment shown | env=%proc.env secret=%proc.env[AWS_SECRET_ACCESS_KEY] preload=%proc.env[LD_PRELOAD] proxy=%proc.env[HTTPS_PROXY]
  priority: NOTICE
  tags: [test, T1574.006, mitre_execution]
`);
    spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
    t = await TestEngine.start({
      stateDir: join(dir, 'state'),
      rules: { builtin: true, files: [rules], watch: false },
      sinks: [
        { type: 'stdout', id: 'text', format: 'text' },
        { type: 'stdout', id: 'json', format: 'json' },
        { type: 'file', id: 'file-json', path: join(dir, 'alerts.json'), format: 'json' },
        { type: 'file', id: 'file-falco', path: join(dir, 'alerts-falco.json'), format: 'falco' },
        { type: 'webhook', id: 'hook', url: `http://127.0.0.1:${port}/hook` },
        { type: 'webhook', id: 'hook-falco', url: `http://127.0.0.1:${port}/falco`, format: 'falco' },
      ],
    });
    t.engine.onAlert((a) => alerts.push(a));
    // The probe's messages as they came off the wire: the engine filters the
    // environment again (model/env.ts), so only these show what the probe sent.
    keepEventBytes(true);
    const onEvents = t.engine.onEvents.bind(t.engine);
    t.engine.onEvents = (session, events, bytes) => {
      if (bytes) wire.push(Buffer.from(bytes.bytes));
      onEvents(session, events, bytes);
    };
    await t.startProbe();
  });

  afterAll(async () => {
    keepEventBytes(false);
    spy?.mockRestore();
    if (!stopped) await t?.stop({ keepDir: true });
    hook?.close();
    await tree?.remove();
    if (t) rmSync(t.dir, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Runs cmd in a cgroup with `env`: on env(1)'s command line, in that order
   * (`inline`), or given to the process and never on a command line (the
   * shell that joins the cgroup adds PWD and may reorder them).
   */
  async function run(g: TestCgroup, env: string[], how: 'inline' | 'given', cmd = '/bin/true'): Promise<Event> {
    const r = how === 'inline'
      ? await g.run('/usr/bin/env', ['-i', ...env, cmd])
      : await g.run(cmd, [], { env: Object.fromEntries(env.map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)])) });
    await waitFor(`the exit of ${cmd} in ${g.path}`, () => t.of(g.id, 'exit').some((e) => e.pid === r.pid));
    // The shell that joined the cgroup exec-ed the command in its own process: the last exec of that pid.
    const execs = t.of(g.id, 'exec').filter((e) => e.pid === r.pid);
    return execs[execs.length - 1]!;
  }

  it('is cut at 8 KiB of environment, flagged on the event and counted by the probe', async () => {
    const pad = Array.from({ length: 40 }, (_, i) => `PAD_${i}=${'x'.repeat(240)}`);
    const e = await run(bigGroup, [...pad, `LD_PRELOAD=${PRELOAD}`], 'inline');
    expect(own(e).envTruncated).toBe(true);
    expect(own(e).env.length).toBeGreaterThan(30);
    expect(own(e).env.length).toBeLessThan(40);
    expect(own(e).env.slice(0, 30)).toEqual(pad.slice(0, 30).map((v) => `${v.slice(0, v.indexOf('='))}=<redacted>`));
    expect(own(e).env.some((v) => v.startsWith('LD_PRELOAD='))).toBe(false);
    await waitFor('the probe to count the cut environment', () => t.engine.ingest.sessions().some((s) => s.losses.envTruncated >= 1), 10_000);
    // LD_PRELOAD hidden past the cut: not seen, but the exec is raised for what could not be inspected.
    const a = await waitFor('the built-in rule', () => alerts.find((x) => x.rule === 'Environment too large to inspect in a container' && x.workload.cgroupPath === bigGroup.path && x.process.pid === e.pid), 10_000);
    expect(a.priority).toBe('notice');
    expect(alerts.filter((x) => x.rule.startsWith('Dynamic loader variable') && x.workload.cgroupPath === bigGroup.path)).toEqual([]);
  });

  it('keeps 256 variables at most', async () => {
    const many = Array.from({ length: 300 }, (_, i) => `V${i}=1`);
    const e = await run(manyGroup, many, 'inline');
    expect(own(e).env).toHaveLength(256);
    expect(own(e).env[255]).toBe('V255=<redacted>');
    expect(own(e).envTruncated).toBe(true);
  });

  it('Dynamic loader variable set on the node: a program the node runs with LD_AUDIT, not one with a value on the exception list', async () => {
    const start = (env: string[]): Promise<number> =>
      new Promise((resolve, reject) => {
        const c = spawn('/usr/bin/env', ['-i', ...env, '/bin/true'], { stdio: 'ignore' });
        c.on('error', reject);
        c.on('exit', () => resolve(c.pid!));
      });
    const quiet = await start(['LD_PRELOAD=libfakeroot-sysv.so']);
    const loud = await start([`LD_AUDIT=${PRELOAD}`]);
    const a = await waitFor('the node rule', () => alerts.find((x) => x.rule === 'Dynamic loader variable set on the node' && x.process.pid === loud), 10_000);
    expect(a.priority).toBe('notice');
    expect(a.output).toContain(`ld_audit=${PRELOAD}`);
    await waitFor('the exit of the quiet one', () => t.events.some((e) => e.type === 'exit' && e.pid === quiet));
    expect(alerts.filter((x) => x.rule.startsWith('Dynamic loader variable') && x.process.pid === quiet)).toEqual([]);
  });

  // Last: it stops the engine to read what it left in its state directory.
  it('sends names and allowed values, and no secret value reaches a sink, a log or the state', async () => {
    const env = [
      `AWS_SECRET_ACCESS_KEY=${SECRET}`,
      `DB_PASSWORD=${DB_PASSWORD}`,
      `LD_PRELOAD=${PRELOAD}`,
      `HTTPS_PROXY=http://vigil:${PROXY_PASSWORD}@127.0.0.1:9/`,
      'PATH=/usr/bin:/bin',
    ];
    const e = await run(secretGroup, env, 'given');
    expect(e.path).toBe('/usr/bin/true');
    expect(own(e).env.filter((v) => !v.startsWith('PWD=')).sort()).toEqual([
      'AWS_SECRET_ACCESS_KEY=<redacted>',
      'DB_PASSWORD=<redacted>',
      `LD_PRELOAD=${PRELOAD}`,
      'HTTPS_PROXY=http://<redacted>@127.0.0.1:9/',
      'PATH=/usr/bin:/bin',
    ].sort());
    expect(own(e).envTruncated).toBe(false);
    // No secret value left the probe (environ.cc); the allowed one did, and the proxy's host without its password.
    const sent = Buffer.concat(wire).toString('latin1');
    for (const secret of [SECRET, DB_PASSWORD, PROXY_PASSWORD]) expect(sent.includes(secret), `${secret} on the wire`).toBe(false);
    expect(sent).toContain(`LD_PRELOAD=${PRELOAD}`);
    expect(sent).toContain('HTTPS_PROXY=http://<redacted>@127.0.0.1:9/');

    const shown = await waitFor('the environment rule', () => alerts.find((a) => a.rule === 'Environment shown' && a.workload.cgroupPath === secretGroup.path));
    expect(shown.output).toContain('secret="<redacted>"');
    expect(shown.output).toContain(`preload=${PRELOAD}`);
    expect(shown.output).toMatch(/env="[^"]*AWS_SECRET_ACCESS_KEY=<redacted>[^"]*"/);
    const loader = await waitFor('the loader rule', () => alerts.find((a) => a.rule === 'Dynamic loader variable set in a container' && a.workload.cgroupPath === secretGroup.path));
    expect(loader.output).toContain(`ld_preload=${PRELOAD}`);

    // Every sink has had them: both webhooks, both files, stdout's two formats.
    await waitFor('both webhooks', () => bodies.filter((b) => b.includes('Environment shown')).length >= 2, 15_000);
    await waitFor('both files', () => [join(dir, 'alerts.json'), join(dir, 'alerts-falco.json')].every((f) => existsSync(f) && readFileSync(f, 'utf8').includes('Environment shown')), 15_000);
    await waitFor('stdout in text and JSON', () => stdout.filter((s) => s.includes('environment shown')).length >= 2, 15_000);
    await t.stop({ keepDir: true });
    stopped = true;
    const outputs: Record<string, string> = {
      webhooks: bodies.join('\n'),
      'file json': readFileSync(join(dir, 'alerts.json'), 'utf8'),
      'file falco': readFileSync(join(dir, 'alerts-falco.json'), 'utf8'),
      stdout: stdout.join(''),
      'engine log': t.logLines.map((l) => JSON.stringify(l)).join('\n'),
      'state directory': filesBelow(join(dir, 'state')).join('\n'),
    };
    for (const [where, text] of Object.entries(outputs)) {
      for (const secret of [SECRET, DB_PASSWORD, PROXY_PASSWORD]) expect(text.includes(secret), `${secret} in ${where}`).toBe(false);
    }
    for (const where of ['webhooks', 'file json', 'file falco', 'stdout']) expect(outputs[where], where).toContain(PRELOAD);
  });
});

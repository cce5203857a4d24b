// Secrets on a command line on the real kernel: a program run with a
// password, an API key, an AWS key id, a URL password, a bearer header,
// a PEM private key and an env-style assignment in its argv. Rules match
// the argv whole (a rule on the AWS key fires, and so does Falco's own
// "Search Private Keys or Passwords" on a grep for a PEM key), but no
// secret reaches a sink (stdout text and JSON, file JSON and Falco JSON,
// webhook bodies in both formats, Slack), the event log, the engine's
// log, its state directory, the console's API or the exported profile;
// the binary, flags and paths do. The learned argument list generalises:
// the next run with other secrets is no deviation, another path is one.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi, type MockInstance } from 'vitest';
import { ControlClient } from '../../src/control/client.js';
import type { Alert } from '../../src/model/alert.js';
import type { Event } from '../../src/model/event.js';
import { TestEngine } from '../support/engine.js';
import { filesBelow, recordingServer } from '../support/leaks.js';
import { describeKernel, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';
import { own } from '../support/events.js';

const tag = randomBytes(4).toString('hex');
const FALCO_RULES = join(import.meta.dirname, '../fixtures/falco/falco_rules.yaml');

/** One run's secrets: every one unique to this test run, so finding it anywhere is a leak. */
function secrets(n: number) {
  const r = (len: number): string => randomBytes(len).toString('hex');
  return {
    password: `pw${n}-${tag}-${r(4)}`,
    apiKey: `key${n}-${tag}-${r(4)}`,
    aws: `AKIA${r(8).toUpperCase()}`,
    urlPassword: `url${n}-${tag}-${r(4)}`,
    bearer: `bearer${n}-${tag}-${r(4)}`,
    dbPassword: `db${n}-${tag}-${r(4)}`,
  };
}
type Secrets = ReturnType<typeof secrets>;
const PEM_BODY = `MIIEpAIBAAKCAQEA${tag}${randomBytes(12).toString('hex')}`;
const PATH = `/tmp/vigil-argv-${tag}/out`;

/** The argv after env: what /usr/bin/true is run with. */
function trueArgs(s: Secrets, path = PATH): string[] {
  return [
    `--password=${s.password}`, '--api-key', s.apiKey, '--region', 'eu-west-1', s.aws,
    `https://deploy:${s.urlPassword}@127.0.0.1:9/repo`, '-H', `Authorization: Bearer ${s.bearer}`, path,
  ];
}

describeKernel('secrets on a command line', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let app: TestCgroup;
  let dir: string;
  let hook: Server;
  let control: ControlClient;
  let consoleBase = '';
  const token = randomBytes(24).toString('base64url');
  const bodies: string[] = [];
  const stdout: string[] = [];
  const consoleTexts: string[] = [];
  let spy: MockInstance;
  const alerts: Alert[] = [];
  let stopped = false;
  const runs = [secrets(1), secrets(2), secrets(3)];

  beforeAll(async () => {
    tree = new TestCgroupTree();
    app = tree.group('app');
    dir = mkdtempSync(join(tmpdir(), 'vigil-argv-'));
    const recorder = await recordingServer(bodies);
    hook = recorder.server;
    const port = recorder.port;
    // A rule on the AWS key itself: it fires only if rules read argv whole.
    const rules = join(dir, 'argv-rules.yaml');
    writeFileSync(rules, `- rule: Cloud key on a command line
  desc: an AWS access key id passed as an argument, with a password flag
  condition: evt.type = execve and evt.dir = < and proc.cmdline contains "AKIA" and proc.args contains "--password"
  output: cloud key on a command line | cmdline=%proc.cmdline args=%proc.args exe=%proc.exe parent=%proc.pcmdline ancestor=%proc.acmdline[1]
  priority: WARNING
  tags: [test, T1552.001, mitre_credential_access]
`);
    writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
    spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
    t = await TestEngine.start({
      stateDir: join(dir, 'state'),
      eventLog: join(dir, 'events.jsonl'),
      workloads: [{ name: 'argv-app', cgroup: tree.root }],
      profiles: { promotion: { minLearningSeconds: 3600, quietSeconds: 3600 } },
      rules: { builtin: true, files: [FALCO_RULES, rules], watch: false },
      alerts: { foldWindowMs: 0 },
      console: { enabled: true, listen: 'tcp://127.0.0.1:0', tokenFile: join(dir, 'token') },
      sinks: [
        { type: 'stdout', id: 'text', format: 'text' },
        { type: 'stdout', id: 'json', format: 'json' },
        { type: 'file', id: 'file-json', path: join(dir, 'alerts.json'), format: 'json' },
        { type: 'file', id: 'file-falco', path: join(dir, 'alerts-falco.json'), format: 'falco' },
        { type: 'webhook', id: 'hook', url: `http://127.0.0.1:${port}/hook` },
        { type: 'webhook', id: 'hook-falco', url: `http://127.0.0.1:${port}/falco`, format: 'falco' },
        { type: 'slack', id: 'slack', url: `http://127.0.0.1:${port}/slack` },
      ],
    });
    t.engine.onAlert((a) => alerts.push(a));
    const c = t.engine.console;
    if (!c) throw new Error('the console did not start');
    consoleBase = `http://127.0.0.1:${c.port}`;
    await t.startProbe();
    control = new ControlClient(t.config.control.listen);
  }, 60_000);

  afterAll(async () => {
    spy?.mockRestore();
    control?.close();
    if (!stopped) await t?.stop({ keepDir: true });
    hook?.close();
    await tree?.remove();
    if (t) rmSync(t.dir, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `env DB_PASSWORD=… /usr/bin/true ARGS` in the workload; the exec of true as the engine saw it. */
  async function run(s: Secrets, path = PATH): Promise<Event> {
    const r = await app.run('/usr/bin/env', [`DB_PASSWORD=${s.dbPassword}`, '/usr/bin/true', ...trueArgs(s, path)]);
    expect(r.code).toBe(0);
    await waitFor('the exit of true', () => t.of(app.id, 'exit').some((e) => e.pid === r.pid));
    return t.of(app.id, 'exec').filter((e) => e.pid === r.pid && e.path === '/usr/bin/true').pop()!;
  }

  const consoleGet = async (path: string): Promise<string> => {
    const res = await fetch(`${consoleBase}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status, path).toBe(200);
    const text = await res.text();
    consoleTexts.push(text);
    return text;
  };

  const anomalies = (kind: string) => alerts.filter((a) => a.source === 'profile' && a.rule === kind && a.workload.name === 'argv-app');

  it('matches rules on the whole argv, and shows it redacted: binary, flags, paths and other values kept', async () => {
    const s = runs[0]!;
    const e = await run(s);
    // In memory, as the probe sent it: what rules read.
    expect(own(e).argv).toEqual(['/usr/bin/true', ...trueArgs(s)]);
    const fired = (exe: string) => alerts.find((x) => x.rule === 'Cloud key on a command line' && x.workload.name === 'argv-app' && x.process.exe === exe);
    const a = await waitFor('the rule on the AWS key', () => fired('/usr/bin/true'), 15_000);
    const shownArgs = `--password=<redacted> --api-key <redacted> --region eu-west-1 <redacted> https://deploy:<redacted>@127.0.0.1:9/repo -H Authorization: Bearer <redacted> ${PATH}`;
    expect(a.process.cmdline).toBe(`/usr/bin/true ${shownArgs}`);
    expect(a.output).toContain(`cmdline="true ${shownArgs}"`);
    expect(a.output).toContain(`args="${shownArgs}"`);
    expect(a.output).toContain('exe=/usr/bin/true');
    expect(a.fields['proc.cmdline']).toBe(`true ${shownArgs}`);
    expect(a.event.argv).toEqual([
      '/usr/bin/true', '--password=<redacted>', '--api-key', '<redacted>', '--region', 'eu-west-1', '<redacted>',
      'https://deploy:<redacted>@127.0.0.1:9/repo', '-H', 'Authorization: Bearer <redacted>', PATH,
    ]);
    // env(1), which ran it: its assignment redacted by the environment's rules.
    const viaEnv = await waitFor('the rule on env', () => fired('/usr/bin/env'), 15_000);
    expect(viaEnv.process.cmdline).toBe(`/usr/bin/env DB_PASSWORD=<redacted> /usr/bin/true ${shownArgs}`);
  });

  it("fires Falco's own rule on a grep for a private key, and shows the key's armour without its body", async () => {
    const pem = `-----BEGIN RSA PRIVATE KEY-----${PEM_BODY}-----END RSA PRIVATE KEY-----`;
    const r = await app.run('/bin/grep', ['-r', '-e', pem, '/dev/null']);
    expect(r.code).toBe(1); // nothing found
    const a = await waitFor('Search Private Keys or Passwords', () => alerts.find((x) => x.rule === 'Search Private Keys or Passwords' && x.process.pid === r.pid), 15_000);
    expect(a.output).toContain('command="grep -r -e -----BEGIN RSA PRIVATE KEY-----<redacted>-----END RSA PRIVATE KEY----- /dev/null"');
  });

  it('learns the argument list redacted: the next run with other secrets is no deviation, another path is one', async () => {
    expect((await control.setMode('argv-app', 'monitor')).ok).toBe(true);
    await run(runs[1]!);
    // A changed path: a deviation, raised after anything the second run would have raised.
    await run(runs[2]!, `${PATH}-other`);
    const other = await waitFor('new arguments of env and true', () => {
      const found = anomalies('new-arguments').filter((a) => a.message.includes(`${PATH}-other`));
      return found.length >= 2 ? found : undefined;
    }, 15_000);
    for (const a of other) expect(a.message).toContain('--password=<redacted> --api-key <redacted>');
    // env's argument list holds the path too; nothing else differed.
    expect(anomalies('new-arguments').map((a) => a.process.exe).sort()).toEqual(['/usr/bin/env', '/usr/bin/true']);
    expect(anomalies('new-arguments').every((a) => a.message.includes(`${PATH}-other`))).toBe(true);
    expect(anomalies('new-executable')).toEqual([]);

    const exported = (await control.exportPolicy('argv-app', 'yaml')).text;
    expect(exported).toContain(`--password=<redacted> --api-key <redacted> --region eu-west-1 <redacted> https://deploy:<redacted>@127.0.0.1:9/repo -H Authorization: Bearer <redacted> ${PATH}`);
    expect(exported).toContain('DB_PASSWORD=<redacted> /usr/bin/true --password=<redacted>');
    consoleTexts.push(exported);

    const workloads = JSON.parse(await consoleGet('/api/workloads')) as { key: string; name: string }[];
    const key = workloads.find((w) => w.name === 'argv-app')!.key;
    await consoleGet(`/api/workloads/${encodeURIComponent(key)}/profile`);
    expect(await consoleGet(`/api/workloads/${encodeURIComponent(key)}/export`)).toContain('--password=<redacted>');
    expect(await consoleGet('/api/alerts')).toContain('Cloud key on a command line');
  });

  // Last: it stops the engine to read what it left in its state directory.
  it('lets no secret reach a sink, the event log, the engine log, the state directory, the console or the export', async () => {
    await waitFor('both webhooks and Slack', () => ['/hook', '/falco', '/slack'].every((p) => bodies.some((b) => b.startsWith(`${p}\n`) && /cloud key on a command line/i.test(b))), 20_000);
    await waitFor('both files', () => [join(dir, 'alerts.json'), join(dir, 'alerts-falco.json')].every((f) => existsSync(f) && readFileSync(f, 'utf8').includes('Cloud key on a command line')), 15_000);
    await waitFor('stdout in text and JSON', () => stdout.filter((x) => x.includes('cloud key on a command line')).length >= 2, 15_000);
    await t.stop({ keepDir: true });
    stopped = true;
    const events = readFileSync(join(dir, 'events.jsonl'), 'utf8');
    expect(events).toContain(`--password=<redacted>`);
    const outputs: Record<string, string> = {
      'webhooks and slack': bodies.join('\n'),
      'file json': readFileSync(join(dir, 'alerts.json'), 'utf8'),
      'file falco': readFileSync(join(dir, 'alerts-falco.json'), 'utf8'),
      stdout: stdout.join(''),
      'event log': events,
      'engine log': t.logLines.map((l) => JSON.stringify(l)).join('\n'),
      'state directory': filesBelow(join(dir, 'state')).join('\n'),
      'console and export': consoleTexts.join('\n'),
    };
    const all = [...runs.flatMap((s) => Object.values(s)), PEM_BODY];
    for (const [where, text] of Object.entries(outputs)) {
      for (const secret of all) expect(text.includes(secret), `${secret} in ${where}`).toBe(false);
    }
    for (const where of ['webhooks and slack', 'file json', 'file falco', 'stdout']) {
      expect(outputs[where], where).toContain(PATH);
      expect(outputs[where], where).toContain('eu-west-1');
    }
  });
});

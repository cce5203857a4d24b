// Rules in a running engine, fed over the real gRPC probe stream by a
// synthetic probe: alerts in the one Alert format, thresholds, sequences,
// and reloads that never leave the engine without rules.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/model/alert.js';
import type { ConfigInput } from '../../../src/config/schema.js';
import { RuleLoadError } from '../../../src/detect/rules/problems.js';
import { useFakeCgroupMount } from '../../support/cgroup-hooks.js';
import { TestEngine } from '../../support/engine.js';
import { waitFor } from '../../support/kernel.js';
import { SyntheticProbe, type SyntheticEvent } from '../../support/synthetic-probe.js';

// A directory tree stands in for the cgroup v2 mount (ids are directory inodes, as on the real one).
const cgroups = useFakeCgroupMount({ web: 'shop/web' });
let dir: string;

let t: TestEngine | undefined;
let probe: SyntheticProbe | undefined;
let alerts: Alert[];
afterEach(async () => {
  await probe?.close();
  probe = undefined;
  await t?.stop();
  t = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function start(rules: ConfigInput['rules']): Promise<void> {
  t = await TestEngine.start({ rules }, { cgroupMount: cgroups.dir });
  alerts = [];
  t.engine.onAlert((a) => alerts.push(a));
  probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`);
  await waitFor('probe session', () => t!.engine.ingest.sessions().length === 1);
}

function rulesFile(text: string): string {
  dir = mkdtempSync(join(tmpdir(), 'vigil-rules-'));
  const f = join(dir, 'local.yaml');
  writeFileSync(f, text);
  return f;
}

/** An event of the web cgroup unless it says otherwise. */
interface WebEvent {
  pid: number;
  cgroupId?: number;
  [kind: string]: unknown;
}
const send = (...events: WebEvent[]): boolean => probe!.sendBatch(events.map((e): SyntheticEvent => ({ ...e, cgroupId: e.cgroupId ?? cgroups.id.web })));
const ip = (a: string): Buffer => Buffer.from(a.split('.').map(Number));
const connect = (pid: number, port: number, addr = '10.0.0.7'): WebEvent => ({
  pid, ppid: 1, comm: 'scanner', connect: { remote: { family: 2, address: ip(addr), port }, protocol: 6, result: -111 },
});

const CURL_RULE = `
- rule: Curl in a container
  desc: curl ran in a container
  condition: evt.type = execve and proc.name = curl and container.id != host
  output: "curl in a container | cmdline=%proc.cmdline parent=%proc.pname tty=%proc.sname"
  priority: Warning
  tags: [test, mitre_command_and_control, T1105]
`;

describe('rules in the engine', () => {
  it('raise an alert in the one Alert format, with the output, its fields and the workload', async () => {
    await start({ builtin: false, files: [rulesFile(CURL_RULE)] });
    send(
      { pid: 100, ppid: 1, comm: 'sh', exec: { filename: '/bin/sh', exe: '/bin/sh', argv: ['sh'], cwd: '/' } },
      { pid: 100, ppid: 1, comm: 'sh', fork: { childPid: 101 } },
      { pid: 101, ppid: 100, comm: 'curl', exec: { filename: 'curl', exe: '/usr/bin/curl', argv: ['curl', '-s', 'http://x'], cwd: '/srv' } },
      { pid: 102, ppid: 1, comm: 'wget', exec: { filename: 'wget', exe: '/usr/bin/wget', argv: ['wget'], cwd: '/srv' } },
    );
    const a = await waitFor('the curl alert', () => alerts.find((x) => x.rule === 'Curl in a container'));
    expect(a).toMatchObject({
      source: 'rule',
      priority: 'warning',
      message: 'curl in a container',
      output: 'curl in a container | cmdline="curl -s http://x" parent=sh tty=<NA>',
      tags: ['test', 'mitre_command_and_control', 'T1105'],
      fields: { 'proc.cmdline': 'curl -s http://x', 'proc.pname': 'sh', 'proc.sname': null },
      workload: { name: '/shop/web', cgroupPath: '/shop/web', kind: 'cgroup' },
      process: { pid: 101, ppid: 100, exe: '/usr/bin/curl', cmdline: 'curl -s http://x' },
      count: 1,
    });
    expect(a.process.parents[0]).toMatchObject({ pid: 100, exe: '/bin/sh' });
    expect(alerts).toHaveLength(1);
  });

  it('raise the built-in kernel module rule for a module load (a synthetic event: this kernel cannot load modules)', async () => {
    await start({ builtin: true });
    send({ pid: 300, ppid: 1, comm: 'insmod', moduleLoad: { call: 'finit_module', path: '/tmp/rootkit.ko', result: -1 } });
    const a = await waitFor('the module alert', () => alerts.find((x) => x.rule === 'Kernel module loaded'));
    expect(a.priority).toBe('critical');
    expect(a.tags).toContain('T1547.006');
    expect(a.output).toContain('call=finit_module module=/tmp/rootkit.ko result=EPERM');
  });

  it('count distinct values per key within a window, raise once, then stay quiet for the window', async () => {
    await start({
      builtin: false,
      files: [rulesFile(`
- rule: Scan
  desc: many ports
  condition: evt.type = connect and fd.sockfamily = ip
  threshold: { by: [proc.pid], distinct: [fd.sip, fd.sport], count: 3, window: 1m }
  output: "scan by %proc.pid"
  priority: NOTICE
  tags: [mitre_discovery, T1046]
`)],
    });
    send(connect(400, 22), connect(400, 22), connect(400, 80), connect(401, 443), connect(401, 8080));
    await waitFor('five connects', () => t!.events.length === 5);
    expect(alerts).toHaveLength(0); // pid 400: two distinct; pid 401: two
    send(connect(400, 443), connect(400, 8443), connect(400, 9000));
    await waitFor('eight connects', () => t!.events.length === 8);
    expect(alerts.map((a) => [a.rule, a.process.pid, a.fields['threshold.count']])).toEqual([['Scan', 400, 3]]);
  });

  it('match a later event against a value an earlier one captured', async () => {
    await start({
      builtin: false,
      files: [rulesFile(`
- rule: Download then run
  desc: d
  condition: evt.type = execve
  sequence:
    after: evt.type = openat and evt.is_open_write = true and proc.name = curl
    capture: fd.name
    match: proc.exepath
    within: 10m
  output: "ran %proc.exepath"
  priority: CRITICAL
  tags: [mitre_command_and_control, T1105]
`)],
    });
    send(
      { pid: 500, ppid: 1, comm: 'curl', open: { path: '/tmp/payload', flags: 0o1101, mode: 0o644, result: 3 } },
      { pid: 501, ppid: 1, comm: 'other', exec: { filename: '/tmp/other', exe: '/tmp/other', argv: ['other'], cwd: '/' } },
      { pid: 502, ppid: 1, comm: 'payload', exec: { filename: '/tmp/payload', exe: '/tmp/payload', argv: ['payload'], cwd: '/' } },
    );
    await waitFor('three events', () => t!.events.length === 3);
    await waitFor('the sequence alert', () => alerts.length === 1);
    expect(alerts[0]!.output).toBe('ran /tmp/payload');
  });
});

describe('loading and reloading', () => {
  it('refuses to start the engine with a rule file that cannot load, naming file, line and column', async () => {
    const f = rulesFile('- rule: Broken\n  desc: d\n  condition: evt.type = execve and (proc.name = a\n  output: o\n  priority: INFO\n');
    const err = await TestEngine.start({ rules: { builtin: false, files: [f] } }, { cgroupMount: cgroups.dir }).then(
      (started) => {
        t = started;
        return null;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RuleLoadError);
    expect((err as Error).message).toBe(`${f}:3:36: error: condition: missing ')' (the '(' opened here is never closed)`);
  });

  it('keeps the running rules when a reload fails, takes the new ones when it succeeds, and reloads on a file change', async () => {
    const f = rulesFile(CURL_RULE);
    await start({ builtin: false, files: [f], watch: true });
    const rules = t!.engine.rules;

    writeFileSync(f, '- rule: Broken\n  condition: [\n');
    expect(rules.reload()).toBe(false);
    expect(rules.failedReloads).toBeGreaterThanOrEqual(1);
    const logged = t!.logLines.find((l) => l.msg === 'rules reload failed: keeping the previous rules');
    expect(JSON.stringify(logged)).toContain(`${f}:`);
    send({ pid: 600, ppid: 1, comm: 'curl', exec: { filename: 'curl', exe: '/usr/bin/curl', argv: ['curl'], cwd: '/' } });
    await waitFor('the curl alert from the previous rules', () => alerts.find((a) => a.rule === 'Curl in a container'));

    // A good file: the watcher reloads it by itself.
    writeFileSync(f, CURL_RULE.replace(/curl/g, 'wget').replace('Curl', 'Wget'));
    await waitFor('the watcher to reload', () => rules.report?.defined.some((d) => d.name === 'Wget in a container'), 5000);
    send({ pid: 601, ppid: 1, comm: 'wget', exec: { filename: 'wget', exe: '/usr/bin/wget', argv: ['wget'], cwd: '/' } });
    await waitFor('the wget alert from the new rules', () => alerts.find((a) => a.rule === 'Wget in a container'));
  });
});

// Tampering with the probe's kernel state, as the node's root can with
// bpftool: a global switched (enforcement off for every workload, a pid
// hidden), a policy map entry deleted, the connect hook's link detached.
// The probe's self-check (about once a second) puts each back, and each is
// a critical alert that reaches the file sink; enforcement works afterwards.
// (A stopped probe, SIGSTOP, is test/kernel/faults.test.ts.)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Alert } from '../../src/model/alert.js';
import { ControlClient } from '../../src/control/client.js';
import { cgroup2Mount } from '../support/cgroup.js';
import { TestEngine } from '../support/engine.js';
import { describeWhere, kernelUnavailable, repoRoot, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';

const python = realpathSync('/usr/bin/python3');
const fileop = join(repoRoot, 'test/kernel/fileop.py');

/** bpftool run as the node's root runs it: from the root cgroup (a host process, whatever cgroup this test runs in). */
function bpftool(...args: string[]): string {
  const mount = cgroup2Mount();
  if (!mount) return execFileSync('bpftool', args, { encoding: 'utf8' });
  return execFileSync('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec bpftool "$@"', mount, ...args], { encoding: 'utf8' });
}
function hasBpftool(): boolean {
  try {
    bpftool('version');
    return true;
  } catch {
    return false;
  }
}

/** The ids of the maps or links (`kind`) a process holds open. */
function heldIds(pid: number, kind: 'map_id' | 'link_id'): number[] {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      const m = new RegExp(`^${kind}:\\s+(\\d+)$`, 'm').exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m) ids.add(Number(m[1]));
    } catch { /* closed meanwhile */ }
  }
  return [...ids];
}

/** The probe's .bss map: its id and where each global is in it (from its BTF). */
function bssOf(pid: number): { id: number; vars: Map<string, { offset: number; size: number }> } {
  for (const id of heldIds(pid, 'map_id')) {
    if (!/name \S*\.bss\b/.test(bpftool('map', 'show', 'id', String(id)))) continue;
    const vars = new Map<string, { offset: number; size: number }>();
    for (const m of bpftool('btf', 'dump', 'map', 'id', String(id)).matchAll(/offset=(\d+) size=(\d+) \(VAR '(\w+)'\)/g)) vars.set(m[3]!, { offset: Number(m[1]), size: Number(m[2]) });
    return { id, vars };
  }
  throw new Error(`pid ${pid} holds no .bss map`);
}

function readBss(id: number): Buffer {
  const r = JSON.parse(bpftool('-j', 'map', 'lookup', 'id', String(id), 'key', '0', '0', '0', '0')) as { value: string[] };
  return Buffer.from(r.value.map((h) => parseInt(h, 16)));
}

function writeBss(id: number, value: Buffer): void {
  bpftool('map', 'update', 'id', String(id), 'key', '0', '0', '0', '0', 'value', ...[...value].map(String));
}

describeWhere(kernelUnavailable() ?? (hasBpftool() ? null : 'no bpftool'), 'tampering with the probe\'s kernel state', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let app: TestCgroup;
  let control: ControlClient;
  let dir: string;
  let sinkFile: string;
  let otherPort: number;
  let server: Server;
  const pinDir = `/sys/fs/bpf/vigil-test-tamper-${process.pid}`;

  /** Alerts as the file sink wrote them. */
  const sunk = (): Alert[] => {
    try {
      return readFileSync(sinkFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Alert);
    } catch {
      return [];
    }
  };
  const tampered = (name: string, since: number) =>
    waitFor(`a tampering alert about ${name} at the file sink`, () => sunk().slice(since).find((a) => a.rule === 'Probe state tampered' && a.fields['vigil.tamper.name'] === name), 10_000);

  beforeAll(async () => {
    tree = new TestCgroupTree();
    app = tree.group('app');
    dir = mkdtempSync(join(tmpdir(), 'vigil-tamper-'));
    sinkFile = join(dir, 'alerts.jsonl');
    server = createServer((c) => c.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    otherPort = (server.address() as { port: number }).port;
    t = await TestEngine.start({ workloads: [{ name: 'guarded', cgroup: tree.root }], sinks: [{ type: 'file', path: sinkFile }] });
    // Enforcement pinned in a directory of this test's own (bpf/probe/pinning.h), dropped when the probe stops.
    await t.startProbe({ pinDir, unpinOnExit: true });
    control = new ControlClient(t.config.control.listen);
    app.spawn('/usr/bin/sleep', ['3600']);
    await waitFor('the workload seen', () => t.engine.workloads.find('guarded'));
    const policy = [
      'apiVersion: vigil.dev/v1alpha1',
      'kind: WorkloadProfile',
      'metadata: { name: guarded }',
      'spec:',
      '  workload: { key: "named:guarded", name: guarded, kind: named }',
      '  mode: enforce',
      '  processes:',
      `    - exe: ${python}`,
      '    - exe: /usr/bin/sleep',
      '  files: { read: [], write: [] }',
      '  network: { egress: [], listen: [], ingress: [] }',
      '',
    ].join('\n');
    expect(await control.applyPolicy(policy, 'guarded.yaml')).toMatchObject({ ok: true });
    // The probe's self-check reports before anything is changed: nothing found.
    await waitFor('a self-check report', () => t.engine.ingest.sessions().some((s) => (t.engine.selfChecks.state(s)?.checks ?? 0) > 1));
  });

  afterAll(async () => {
    control?.close();
    await t?.stop();
    server?.close();
    await tree?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
    rmSync(pinDir, { recursive: true, force: true });
  });

  it('enforcement switched off and a pid hidden through the probe\'s global map are put back within seconds, alerted at the sink', async () => {
    const probePid = t.probe!.pid!;
    const status0 = await control.status();
    expect(status0.probes.find((p) => p.connected)!.selfCheck).toMatchObject({ tampered: 0, lastFound: '' });
    expect(status0.probes.find((p) => p.connected)!.selfCheck.watched).toEqual(expect.arrayContaining(['global policies_active', 'global excluded_count', 'map policies', 'link cgroup/connect4']));
    const { id, vars } = bssOf(probePid);
    const at = (name: string) => vars.get(name)!.offset;
    const before = readBss(id);
    expect(before.readUInt32LE(at('policies_active'))).toBeGreaterThan(0);
    const count = before.readUInt32LE(at('excluded_count'));
    // As the tester did: every workload's enforcement off, and a pid (this test's own) hidden.
    const forged = Buffer.from(before);
    forged.writeUInt32LE(0, at('policies_active'));
    forged.writeUInt32LE(process.pid, at('excluded_tgids') + 4 * count);
    forged.writeUInt32LE(count + 1, at('excluded_count'));
    const since = sunk().length;
    writeBss(id, forged);

    const off = await tampered('policies_active', since);
    expect(off.priority).toBe('critical');
    expect(off.fields).toMatchObject({ 'vigil.tamper.found': '0', 'vigil.tamper.restored': true });
    const hidden = await tampered('excluded_count', since);
    expect(hidden.fields['vigil.tamper.found']).toBe(`${count + 1} (hiding pid ${process.pid})`);
    expect(hidden.message).toMatch(/someone changed the probe's kernel state on test-node: global excluded_count: found \d+ \(hiding pid \d+\), expected \d+; put back by the probe/);
    // The kernel holds the probe's values again, and enforcement works.
    const after = readBss(id);
    expect(after.readUInt32LE(at('policies_active'))).toBe(before.readUInt32LE(at('policies_active')));
    expect(after.readUInt32LE(at('excluded_count'))).toBe(count);
    const r = await app.run(python, [fileop, 'exec', '/usr/bin/id', '-u']);
    expect(r.code, 'an unlisted exec after the repair').toBeNull();
    // bpftool itself was seen taking the probe's map by its id (a bpf() call by another program on the node).
    const reach = await waitFor('the bpf() alert about bpftool at the file sink', () =>
      sunk().slice(since).find((a) => a.rule === 'BPF used on the node by another program' && /process=bpftool /.test(a.output) && /cmd=BPF_MAP_GET_FD_BY_ID /.test(a.output)), 10_000);
    expect(reach.priority).toBe('warning');
    const st = (await control.status()).probes.find((p) => p.connected)!.selfCheck;
    expect(Number(st.tampered)).toBeGreaterThanOrEqual(2);
    expect(st.lastFound).not.toBe('');
  });

  it('a policy deleted from the policies map is written back', async () => {
    const probePid = t.probe!.pid!;
    const policies = heldIds(probePid, 'map_id').find((id) => /name policies\b/.test(bpftool('map', 'show', 'id', String(id))))!;
    const key = bpftool('-j', 'map', 'dump', 'id', String(policies));
    const entries = JSON.parse(key) as { key: string[] }[];
    expect(entries.length).toBeGreaterThan(0);
    const since = sunk().length;
    bpftool('map', 'delete', 'id', String(policies), 'key', ...entries[0]!.key.map((h) => String(parseInt(h, 16))));
    const a = await tampered('policies', since);
    expect(a.fields['vigil.tamper.found']).toMatch(/^missing \(0 added, 0 changed, 1 removed\)$/);
    expect(a.fields['vigil.tamper.restored']).toBe(true);
    expect((JSON.parse(bpftool('-j', 'map', 'dump', 'id', String(policies))) as unknown[]).length).toBe(entries.length);
    const r = await app.run(python, [fileop, 'exec', '/usr/bin/id', '-u']);
    expect(r.code, 'an unlisted exec after the repair').toBeNull();
  });

  it('a quarantine\'s link detached is attached again: the quarantined workload stays cut off', async () => {
    const other = new TestCgroupTree();
    const jail = other.group('jail');
    try {
      expect((await jail.run('/bin/true', [])).code).toBe(0);
      const jailed = await waitFor('the neighbour', () => t.engine.workloads.find(`${other.root}/jail`));
      expect((await t.engine.quarantines.quarantine(jailed, 'test')).ok).toBe(true);
      const curl = () => jail.run('/usr/bin/curl', ['-s', '--max-time', '2', '-o', '/dev/null', `http://127.0.0.1:${otherPort}/`]);
      expect((await curl()).code, 'quarantined: nothing goes out').toBe(28);
      const cg = String(statSync(jail.dir).ino);
      // Both of its links (ingress and egress) detached: without a repair its traffic flows again.
      const links = heldIds(t.probe!.pid!, 'link_id').filter((id) => new RegExp(`cgroup_id ${cg}\\b`).test(bpftool('link', 'show', 'id', String(id))));
      expect(links, 'the quarantine\'s two links').toHaveLength(2);
      const since = sunk().length;
      for (const id of links) bpftool('link', 'detach', 'id', String(id));
      for (const way of ['ingress', 'egress']) {
        const a = await tampered(`quarantine ${way} ${other.root}/jail`, since);
        expect(a.fields).toMatchObject({ 'vigil.tamper.found': 'detached (no cgroup)', 'vigil.tamper.restored': true });
      }
      expect((await curl()).code, 'still quarantined after the repair').toBe(28);
    } finally {
      await other.remove();
    }
  });

  it('the connect hook detached with bpftool link detach is attached again, alerted at the sink, and connects are refused again', async () => {
    const probePid = t.probe!.pid!;
    const link = heldIds(probePid, 'link_id').find((id) => /attach_type (cgroup_)?inet4_connect/.test(bpftool('link', 'show', 'id', String(id))));
    expect(link, 'the probe\'s cgroup/connect4 link').toBeDefined();
    const since = sunk().length;
    bpftool('link', 'detach', 'id', String(link));
    const a = await tampered('cgroup/connect4', since);
    expect(a.priority).toBe('critical');
    expect(a.fields).toMatchObject({ 'vigil.tamper.object': 'link', 'vigil.tamper.field': 'attachment', 'vigil.tamper.found': 'detached (no cgroup)', 'vigil.tamper.restored': true });
    // A new link holds the program at the cgroup root: an unlisted connect is refused again.
    const r = await app.run(python, [fileop, 'connect', String(otherPort)]);
    expect(r.stdout.trim()).toBe('EPERM');
  });

  it('a pin of the probe\'s enforcement removed, or its whole directory, is pinned again and alerted: a probe dying next still leaves enforcement in force', async () => {
    const probePid = t.probe!.pid!;
    const gens = readdirSync(pinDir).filter((n) => n.startsWith('v1-'));
    expect(gens).toHaveLength(1);
    const gen = join(pinDir, gens[0]!);
    const names = readdirSync(gen).sort();
    expect(names).toContain('enforce_connect4');
    /** The link a pin names, as bpftool reads it from bpffs. */
    const pinnedLink = (name: string) => (JSON.parse(bpftool('-j', 'link', 'show', 'pinned', join(gen, name))) as { id: number }).id;
    const before = pinnedLink('enforce_connect4');
    expect(heldIds(probePid, 'link_id')).toContain(before);

    let since = sunk().length;
    rmSync(join(gen, 'enforce_connect4'));
    const a = await tampered('enforce_connect4', since);
    expect(a.priority).toBe('critical');
    expect(a.fields).toMatchObject({ 'vigil.tamper.object': 'pin', 'vigil.tamper.field': join(gen, 'enforce_connect4'), 'vigil.tamper.found': 'removed', 'vigil.tamper.restored': true });
    expect(a.message).toContain('enforcement pin');
    // Pinned again: the very link the probe holds.
    expect(pinnedLink('enforce_connect4')).toBe(before);

    // The whole directory (rm -r /sys/fs/bpf/vigil/NODE/v1-...): every pin comes back.
    since = sunk().length;
    rmSync(gen, { recursive: true });
    await waitFor('every pin back', () => (readdirSync(pinDir).includes(gens[0]!) && readdirSync(gen).length === names.length ? true : undefined), 10_000);
    expect(readdirSync(gen).sort()).toEqual(names);
    await waitFor('an alert for each pin', () => (new Set(sunk().slice(since).filter((x) => x.fields['vigil.tamper.object'] === 'pin').map((x) => x.fields['vigil.tamper.name'])).size === names.length ? true : undefined), 10_000);
    expect(pinnedLink('enforce_connect4')).toBe(before);
  });
});

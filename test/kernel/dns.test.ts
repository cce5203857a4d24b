// Names, not addresses, on the real kernel: a workload in its own network
// namespace resolves names through a DNS server on that namespace's
// loopback (test/kernel/dns-server.mjs) whose answers change between
// calls. Learn, then monitor: a learned name's new address raises nothing,
// a new name does. Enforce: the kernel lets a learned name's new address
// connect (it saw the answer before the workload did) and refuses an
// unlearned name's; the server in the namespace says which connections
// happened. A flood of answers is bounded and counted.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ControlClient } from '../../src/control/client.js';
import type { Alert } from '../../src/model/alert.js';
import { TestEngine } from '../support/engine.js';
import { cgroup2Mount, describeKernel, repoRoot, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';
import { dnsAnswer } from '../../src/model/event.js';
import { onLines } from '../support/lines.js';

const python = realpathSync('/usr/bin/python3');
const PORT = 8443;

/** Resolves a name (glibc, /etc/resolv.conf of the namespace) and connects to it. */
const CLIENT = `
import socket, sys
name, port = sys.argv[1], int(sys.argv[2])
try:
    a = socket.gethostbyname(name)
except OSError as e:
    print('unresolved', e); sys.exit(0)
s = socket.socket()
s.settimeout(3)
try:
    s.connect((a, port)); print('ok', a)
except OSError as e:
    print('refused' if e.errno == 1 else 'error', a, e.errno)
`;

/** Moves itself into the cgroup at argv[1] (the root one), then runs argv[2:]. */
const MOVE_THEN_EXEC = `
import os, sys
with open(os.path.join(sys.argv[1], 'cgroup.procs'), 'w') as f: f.write(str(os.getpid()))
os.execv(sys.argv[2], sys.argv[2:])
`;

/** Asks one name and leaves the answers unread (the flood). */
const FLOOD_CLIENT = `
import socket, struct, time
q = struct.pack('>HHHHHH', 7, 0x100, 1, 0, 0, 0) + b'\\x05flood\\x04test\\x00' + struct.pack('>HH', 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(('127.0.0.1', 53)); s.send(q); time.sleep(3); print('done')
`;

/** Accepts connections and prints the local address each one reached. */
const SERVER = `
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(16); print('ready', flush=True)
while True:
    c, _ = s.accept(); print('accepted', c.getsockname()[0], flush=True); c.close()
`;

describeKernel('DNS-aware profiles: names learned from answers seen in the kernel', () => {
  const ns = `vigil-dns-${randomBytes(3).toString('hex')}`;
  let t: TestEngine;
  let tree: TestCgroupTree;
  let app: TestCgroup;
  let control: ControlClient;
  let dir: string;
  let zone: string;
  const helpers: ChildProcess[] = [];
  const accepted: string[] = [];
  const alerts: Alert[] = [];

  const setZone = (z: Record<string, unknown>) => writeFileSync(zone, JSON.stringify(z));
  const inNs = (cmd: string, args: string[]) => spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const client = async (name: string) => (await app.run('/usr/sbin/ip', ['netns', 'exec', ns, python, '-c', CLIENT, name, String(PORT)])).stdout.trim();
  const egressAlerts = (since: number) => alerts.slice(since).filter((a) => a.rule === 'new-egress' && a.workload.name === 'dnsapp');
  const connects = () => t.of(app.id, 'connect').filter((e) => e.port === PORT);
  const zoneOf = (addr: string) => ({
    'api.example.test': { cname: 'edge.provider.test' },
    'edge.provider.test': [addr],
  });

  beforeAll(async () => {
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    mkdirSync(`/etc/netns/${ns}`, { recursive: true });
    writeFileSync(`/etc/netns/${ns}/resolv.conf`, 'nameserver 127.0.0.1\noptions attempts:1 timeout:2\n');
    dir = mkdtempSync(join(tmpdir(), 'vigil-dns-'));
    zone = join(dir, 'zone.json');
    setZone(zoneOf('127.0.0.10'));
    for (const [args, out] of [[['node', join(repoRoot, 'test/kernel/dns-server.mjs'), zone]], [[python, '-c', SERVER, String(PORT)], accepted]] as const) {
      const [cmd, ...rest] = args;
      const child = inNs(cmd, rest);
      helpers.push(child);
      let ready = false;
      // Whole lines: the server's print() reaches the pipe in several writes.
      onLines(child.stdout!, (line) => {
        if (line === 'ready') ready = true;
        else if (line.startsWith('accepted ') && out) (out as string[]).push(line.slice(9));
      });
      await waitFor(`${cmd} in the namespace`, () => ready);
    }
    tree = new TestCgroupTree();
    app = tree.group('app');
    t = await TestEngine.start({
      workloads: [{ name: 'dnsapp', cgroup: tree.root }],
      sinks: [],
      profiles: { promotion: { minLearningSeconds: 3600, quietSeconds: 3600 } },
    });
    t.engine.onAlert((a) => alerts.push(a));
    await t.startProbe();
    control = new ControlClient(t.config.control.listen);
  });

  afterAll(async () => {
    control?.close();
    await t?.stop();
    for (const h of helpers) h.kill('SIGKILL');
    await tree?.remove();
    try {
      execFileSync('ip', ['netns', 'del', ns]);
    } catch {
      // already gone
    }
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('learns the name a connect was resolved from, with its CNAME chain, before the connect', async () => {
    expect(await client('api.example.test')).toBe('ok 127.0.0.10');
    const answer = await waitFor('the DNS answer of the workload', () =>
      t.of(app.id, 'dns').find((e) => dnsAnswer(e)?.name === 'api.example.test' && dnsAnswer(e)!.addresses.length > 0));
    expect(dnsAnswer(answer)).toMatchObject({ cnames: ['edge.provider.test'], addresses: [{ addr: '127.0.0.10', ttl: 1 }], error: '' });
    expect(answer).toMatchObject({ addr: '127.0.0.1', port: 53, protocol: 'udp' });
    const c = await waitFor('the connect', () => connects().find((e) => e.addr === '127.0.0.10'));
    expect(c.sipName).toBe('api.example.test');
    expect(t.events.indexOf(answer)).toBeLessThan(t.events.indexOf(c));
    const doc = await waitFor('the name in the profile', () =>
      t.engine.profiles.export('dnsapp')[0]?.spec.network.egressNames?.find((r) => r.name === 'api.example.test'));
    expect(doc).toMatchObject({ port: PORT, protocol: 'tcp', seen: ['127.0.0.10'] });
    // The resolver is a destination too, learned from the answer.
    expect(t.engine.profiles.export('dnsapp')[0]!.spec.network.egress).toContainEqual({ to: '127.0.0.1', port: 53, protocol: 'udp' });
  });

  it('monitor: a learned name at a new address raises nothing; a new name does, naming it', async () => {
    expect((await control.setMode('dnsapp', 'monitor')).ok).toBe(true);
    const since = alerts.length;
    setZone({ ...zoneOf('127.0.0.11'), 'other.example.test': ['127.0.0.12'] });
    expect(await client('api.example.test')).toBe('ok 127.0.0.11');
    await waitFor('the connect to the new address', () => connects().find((e) => e.addr === '127.0.0.11' && e.sipName === 'api.example.test'));
    expect(await client('other.example.test')).toBe('ok 127.0.0.12');
    const a = await waitFor('an alert about the new name', () => egressAlerts(since).find((x) => x.message.includes('other.example.test')));
    expect(a.fields).toMatchObject({ 'fd.sip.name': 'other.example.test', 'vigil.what': `tcp other.example.test:${PORT}` });
    expect(a.event).toMatchObject({ addr: '127.0.0.12', sipName: 'other.example.test' });
    expect(egressAlerts(since).filter((x) => x.message.includes('api.example.test') || x.message.includes('127.0.0.11'))).toEqual([]);
  });

  it('reads answers over TCP too', async () => {
    // glibc's use-vc: every query over TCP (the file is bind-mounted at each ip netns exec).
    writeFileSync(`/etc/netns/${ns}/resolv.conf`, 'nameserver 127.0.0.1\noptions attempts:1 timeout:2 use-vc\n');
    try {
      setZone(zoneOf('127.0.0.21'));
      expect(await client('api.example.test')).toBe('ok 127.0.0.21');
      const answer = await waitFor('the answer over TCP', () =>
        t.of(app.id, 'dns').find((e) => e.protocol === 'tcp' && dnsAnswer(e)?.addresses.some((x) => x.addr === '127.0.0.21')));
      expect(dnsAnswer(answer)).toMatchObject({ name: 'api.example.test', cnames: ['edge.provider.test'], error: '' });
      const c = await waitFor('the connect', () => connects().find((e) => e.addr === '127.0.0.21'));
      expect(c.sipName).toBe('api.example.test');
    } finally {
      writeFileSync(`/etc/netns/${ns}/resolv.conf`, 'nameserver 127.0.0.1\noptions attempts:1 timeout:2\n');
    }
  });

  it('enforce: the kernel lets a learned name\'s new address connect and refuses an unlearned name\'s', async () => {
    const r = await control.setMode('dnsapp', 'enforce');
    expect(r.ok, r.error).toBe(true);
    setZone({ ...zoneOf('127.0.0.13'), 'evil.example.test': ['127.0.0.14'] });
    const before = accepted.length;
    expect(await client('api.example.test')).toBe('ok 127.0.0.13');
    const answer = await waitFor('the answer, put in the kernel', () =>
      t.of(app.id, 'dns').find((e) => dnsAnswer(e)?.addresses.some((x) => x.addr === '127.0.0.13')));
    expect(dnsAnswer(answer)!.allowedInKernel).toBe(1);
    expect(await client('evil.example.test')).toBe('refused 127.0.0.14 1');
    // The state of the world: the server saw the allowed connection and never the refused one.
    await waitFor('the allowed connection at the server', () => accepted.slice(before).includes('127.0.0.13'));
    expect(accepted.slice(before)).not.toContain('127.0.0.14');
    const refused = await waitFor('the refused connect', () => connects().find((e) => e.addr === '127.0.0.14'));
    expect(refused).toMatchObject({ blocked: true, blockedBy: 'cgroup', sipName: 'evil.example.test' });
    expect(connects().find((e) => e.addr === '127.0.0.13')).toMatchObject({ blocked: false, sipName: 'api.example.test' });
  });

  it('enforce: a process that moved itself out of the workload\'s cgroups resolves under the policy that followed it', async () => {
    // Its sockets are made in the root cgroup now; the answer program
    // takes the policy from the socket its connect marked, so a learned
    // name still resolves to an allowed address, and an unlearned one
    // stays refused (before, every answer was dropped: fail closed).
    const r = await control.setMode('dnsapp', 'enforce');
    expect(r.ok, r.error).toBe(true);
    setZone({ ...zoneOf('127.0.0.15'), 'evil.example.test': ['127.0.0.16'] });
    const before = accepted.length;
    const moved = async (name: string) =>
      (await app.run(python, ['-c', MOVE_THEN_EXEC, cgroup2Mount()!, '/usr/sbin/ip', 'netns', 'exec', ns, python, '-c', CLIENT, name, String(PORT)])).stdout.trim();
    expect(await moved('api.example.test')).toBe('ok 127.0.0.15');
    expect(await moved('evil.example.test')).toBe('refused 127.0.0.16 1');
    await waitFor('the allowed connection at the server', () => accepted.slice(before).includes('127.0.0.15'));
    expect(accepted.slice(before)).not.toContain('127.0.0.16');
  });

  it('a flood of answers is bounded in the kernel and the engine, and counted', async () => {
    expect((await control.setMode('dnsapp', 'monitor')).ok).toBe(true);
    setZone({ 'flood.test': { flood: 4000 } });
    const session = t.engine.ingest.sessions().find((s) => s.connected)!;
    const droppedBefore = Number(session.losses.dnsDropped);
    const out = await app.run('/usr/sbin/ip', ['netns', 'exec', ns, python, '-c', FLOOD_CLIENT]);
    expect(out.stdout.trim()).toBe('done');
    // At most 1000 answers a second per cgroup cross (the flood lasts a second or two); the rest are counted.
    const dropped = await waitFor('the dropped answers reported', () => {
      const n = Number(session.losses.dnsDropped) - droppedBefore;
      return n > 0 ? n : 0;
    });
    // Alerted like every other loss: a warning (names unknown, not events of security).
    const lossAlert = await waitFor('the loss alert', () => alerts.find((a) => a.rule === 'DNS answers dropped'));
    expect(lossAlert.priority).toBe('warning');
    expect(lossAlert.message).toMatch(/DNS answers .* were counted instead of sent/);
    const seen = t.of(app.id, 'dns').filter((e) => dnsAnswer(e)?.name.endsWith('.flood.test')).length;
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThanOrEqual(3000);
    expect(seen + dropped).toBeLessThanOrEqual(4000);
    // The engine keeps at most 4096 addresses per cgroup: 8 per answer made it forget some, counted
    // (waited for: the loss report can reach the engine before the last answers' batches).
    await waitFor('addresses evicted', () => t.engine.dnsNames.evicted);
    expect(t.engine.dnsNames.size).toBeLessThanOrEqual(4096 * 2);
    const status = await control.status();
    expect(status.probes.find((p) => p.connected)!.losses.dnsDropped).toBeGreaterThanOrEqual(dropped);
    expect(status.dns).toMatchObject({ seen: true });
    expect(status.dns!.evicted).toBeGreaterThan(0);
  });
});

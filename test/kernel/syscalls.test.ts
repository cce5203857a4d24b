// The calls and io_uring work the probe reports beyond open/exec/connect,
// each run for real in a test cgroup of its own and looked for among that
// cgroup's events (other probes share this machine: nothing is counted
// machine-wide). The built-in rules these feed are in rules.test.ts.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Alert } from '../../src/model/alert.js';
import type { Event } from '../../src/model/event.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, repoRoot, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';

const PY = '/usr/bin/python3';
const uringSource = join(repoRoot, 'test/kernel/uring.c');
// Its own copy: enforce.test.ts builds .vigil-test/uring, and files run in parallel.
const uring = join(repoRoot, '.vigil-test/uring-calls');

describeKernel('calls beyond open, exec and connect, and io_uring, on the real kernel', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let work: string;
  let server: Server;
  let port = 0;
  const alerts: Alert[] = [];
  const groups: TestCgroup[] = [];

  beforeAll(async () => {
    if (!existsSync(uring) || statSync(uring).mtimeMs < statSync(uringSource).mtimeMs) {
      mkdirSync(join(repoRoot, '.vigil-test'), { recursive: true });
      execFileSync('cc', ['-O2', '-o', uring, uringSource]);
    }
    tree = new TestCgroupTree();
    for (let i = 1; i <= 12; i++) groups.push(tree.group(`calls-${i}`));
    t = await TestEngine.start({ sinks: [] });
    t.engine.onAlert((a) => alerts.push(a));
    await t.startProbe();
    work = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-calls-')));
    server = createServer((c) => c.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    server?.close();
    await t?.stop();
    await tree?.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function group(): TestCgroup {
    const g = groups.shift();
    if (!g) throw new Error('more tests than test cgroups: raise the count in beforeAll');
    return g;
  }

  /** Runs a command in a cgroup and waits until the engine has seen it exit. */
  async function run(g: TestCgroup, cmd: string, args: string[]): Promise<string> {
    const r = await g.run(cmd, args);
    await waitFor(`the exit of ${cmd} in ${g.path}`, () => t.of(g.id, 'exit').some((e) => e.pid === r.pid));
    return r.stdout;
  }

  const py = (g: TestCgroup, script: string): Promise<string> => run(g, PY, ['-c', script]);

  async function seen(g: TestCgroup, type: Event['type'], what: string, pred: (e: Event) => boolean): Promise<Event> {
    return waitFor(what, () => t.of(g.id, type).find(pred));
  }

  it('mkdir, mkdirat, symlink and link, with the new name and the target', async () => {
    const g = group();
    await py(g, [
      'import os',
      `os.mkdir("${work}/d1")`,
      `fd = os.open("${work}", os.O_RDONLY)`,
      'os.mkdir("d2", dir_fd=fd)',
      `os.symlink("/etc/shadow", "${work}/s1")`,
      `os.symlink("relative/target", "s2", dir_fd=fd)`,
      `open("${work}/f", "w").close()`,
      `os.link("${work}/f", "${work}/h1")`,
    ].join('\n'));
    const d1 = await seen(g, 'mkdir', 'mkdir', (e) => e.path === `${work}/d1`);
    expect(d1.result).toBe(0);
    await seen(g, 'mkdir', 'mkdirat relative to a dirfd', (e) => e.path === `${work}/d2`);
    const s1 = await seen(g, 'link', 'symlink', (e) => e.path === `${work}/s1`);
    expect(s1).toMatchObject({ call: 'symlink', path2: '/etc/shadow', result: 0 });
    // A symlink's target is kept as given: it is not a path the kernel resolves.
    const s2 = await seen(g, 'link', 'symlinkat', (e) => e.path === `${work}/s2`);
    expect(s2).toMatchObject({ call: 'symlinkat', path2: 'relative/target' });
    const h1 = await seen(g, 'link', 'link', (e) => e.path === `${work}/h1`);
    expect(h1).toMatchObject({ call: 'link', path2: `${work}/f`, result: 0 });
  });

  it('raw and packet sockets, and no event for an everyday socket', async () => {
    const g = group();
    await py(g, 'import socket\nsocket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()\nsocket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()');
    const packet = await seen(g, 'socket', 'the packet socket', (e) => e.family === 17);
    expect(packet.flags & 0xf).toBe(3);
    expect(packet.result).toBeGreaterThanOrEqual(0);
    const raw = await seen(g, 'socket', 'the raw ICMP socket', (e) => e.family === 2);
    expect(raw.id).toBe(1);
    expect(t.of(g.id, 'socket')).toHaveLength(2);
  });

  it('bpf() loading a map, and userfaultfd', async () => {
    const g = group();
    // BPF_MAP_CREATE of a 4-entry array named "vigiltest"; userfaultfd(O_CLOEXEC).
    await py(g, [
      'import ctypes, struct, os',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'attr = bytearray(128)',
      'struct.pack_into("IIII", attr, 0, 2, 4, 4, 4)',
      'attr[28:37] = b"vigiltest"',
      'buf = (ctypes.c_char * 128).from_buffer(attr)',
      'fd = libc.syscall(321, 0, buf, 128)',
      'print(fd)',
      'u = libc.syscall(323, 0o2000000)',
      'print(u)',
    ].join('\n'));
    const b = await seen(g, 'bpf', 'bpf(BPF_MAP_CREATE)', (e) => e.id === 0);
    expect(b).toMatchObject({ call: 'vigiltest', mode: 2 });
    expect(b.result).toBeGreaterThanOrEqual(0);
    const u = await seen(g, 'userfaultfd', 'userfaultfd', () => true);
    expect(u.flags).toBe(0o2000000);
  });

  it('sendto and sendmsg to new peers on a UDP socket: one event per peer, repeats de-duplicated in the kernel', async () => {
    const g = group();
    await py(g, [
      'import socket',
      's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      'for i in range(20): s.sendto(b"x", ("127.0.0.1", 9))',
      's.sendmsg([b"y"], [], 0, ("127.0.0.2", 9))',
      'c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      'c.connect(("127.0.0.3", 9))',
      'c.send(b"z")',
    ].join('\n'));
    const a = await seen(g, 'send', 'sendto 127.0.0.1', (e) => e.addr === '127.0.0.1');
    expect(a).toMatchObject({ call: 'sendto', port: 9, protocol: 'udp' });
    await seen(g, 'send', 'sendmsg 127.0.0.2', (e) => e.addr === '127.0.0.2' && e.call === 'sendmsg');
    await new Promise((r) => setTimeout(r, 300));
    // Twenty datagrams to one peer are one event; a connected socket's send is its connect's.
    expect(t.of(g.id, 'send').filter((e) => e.addr === '127.0.0.1')).toHaveLength(1);
    expect(t.of(g.id, 'send').filter((e) => e.addr === '127.0.0.3')).toEqual([]);
  });

  it('a socket put on stdin or stdout by dup or fcntl(F_DUPFD)', async () => {
    const g = group();
    await py(g, [
      'import socket, os, fcntl, ctypes',
      'libc = ctypes.CDLL(None)',
      `s = socket.create_connection(("127.0.0.1", ${port}))`,
      'os.close(0)',
      'fcntl.fcntl(s.fileno(), fcntl.F_DUPFD, 0)',
      'saved = os.dup(2)',
      'os.close(1)',
      // dup(2) itself (Python's os.dup is fcntl(F_DUPFD_CLOEXEC)).
      'libc.dup(s.fileno())',
      'libc.dup(s.fileno())',
    ].join('\n'));
    const f = await seen(g, 'dup', 'fcntl(F_DUPFD) onto stdin', (e) => e.call === 'fcntl');
    expect(f).toMatchObject({ id: 0, result: 0, addr: '127.0.0.1', port });
    const d = await seen(g, 'dup', 'dup onto stdout', (e) => e.call === 'dup');
    expect(d).toMatchObject({ id: 1, result: 1 });
    // The second dup got a descriptor above 2: not reported.
    await new Promise((r) => setTimeout(r, 300));
    expect(t.of(g.id, 'dup').filter((e) => e.call === 'dup')).toHaveLength(1);
  });

  it('io_uring: the ring set up, an open of /etc/shadow through it (plain and SQPOLL), a connect, other operations once', async () => {
    const g = group();
    expect(await run(g, uring, ['read', '/etc/shadow'])).toBe('ok\n');
    const setup = await seen(g, 'iouring', 'the ring set up', (e) => e.call === 'io_uring_setup');
    expect(setup.id).toBe(4);
    expect(setup.result).toBeGreaterThanOrEqual(0);
    const open = await seen(g, 'open', 'the io_uring open', (e) => e.path === '/etc/shadow');
    expect(open.ioUring).toBe(true);
    expect(open.flags & 3).toBe(0); // O_RDONLY (io_uring adds O_LARGEFILE)
    expect(open.result).toBeGreaterThanOrEqual(0);
    // With detection workers the alert comes after the event is seen: waited for.
    await waitFor('the io_uring read alert', () => alerts.find((a) => a.rule === 'Shadow or sudoers file read' && a.workload.cgroupPath === g.path));

    const sq = group();
    expect(await run(sq, uring, ['--sqpoll', 'read', '/etc/shadow'])).toBe('ok\n');
    const sqSetup = await seen(sq, 'iouring', 'the SQPOLL ring set up', (e) => e.call === 'io_uring_setup');
    expect(sqSetup.flags & 2).toBe(2);
    const sqOpen = await seen(sq, 'open', 'the open submitted by the SQPOLL thread', (e) => e.path === '/etc/shadow');
    expect(sqOpen.ioUring).toBe(true);
    await waitFor('the SQPOLL read alert', () => alerts.find((a) => a.rule === 'Shadow or sudoers file read' && a.workload.cgroupPath === sq.path));

    const c = group();
    expect(await run(c, uring, ['connect', String(port)])).toBe('ok\n');
    const conn = await seen(c, 'connect', 'the io_uring connect', (e) => e.port === port);
    expect(conn).toMatchObject({ ioUring: true, addr: '127.0.0.1', protocol: 'tcp', result: 0 });

    const n = group();
    await run(n, uring, ['nop', 'x']);
    await run(n, uring, ['nop', 'x']);
    const nop = await seen(n, 'iouring', 'the first NOP', (e) => e.call === 'io_uring_enter');
    expect(nop.path2).toBe('nop');
    // Once per process image: two runs are two processes, two events.
    await waitFor('the second run\'s NOP', () => t.of(n.id, 'iouring').filter((e) => e.path2 === 'nop').length === 2);
  });
});

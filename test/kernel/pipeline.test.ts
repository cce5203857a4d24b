// The whole pipeline on the real kernel: a process in a test container
// (a cgroup v2 directory) does ordinary things, and the engine sees each
// one with the right details, attributed to the right workload.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TestEngine } from '../support/engine.js';
import { describeKernel, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';
import type { Event } from '../../src/model/event.js';
import { own } from '../support/events.js';

const O_WRONLY = 0o1;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;

describeKernel('event pipeline on the real kernel', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let web: TestCgroup;
  let work: string;

  beforeAll(async () => {
    tree = new TestCgroupTree();
    web = tree.group('web');
    t = await TestEngine.start({ workloads: [{ name: 'pipeline-web', cgroup: tree.root }] });
    await t.startProbe();
    work = mkdtempSync(join(tmpdir(), 'vigil-work-'));
  });

  afterAll(async () => {
    await t?.stop();
    await tree?.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Waits for an event of the web cgroup matching `pred`. */
  const seen = (what: string, pred: (e: Event) => boolean): Promise<Event> =>
    waitFor(what, () => t.of(web.id).find(pred), 10_000);

  it('sees exec, file and connect activity of a container, attributed to its workload', async () => {
    const net = await import('node:net');
    const server = net.createServer((c) => c.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const script = [
        'set -e',
        'echo hello > relative.txt', // open, relative to the cwd
        'mv relative.txt renamed.txt',
        'chmod 600 renamed.txt',
        'mkdir -p sub/deeper && echo x > sub/deeper/file',
        'rm -r sub', // unlinkat relative to a directory fd
        'rm renamed.txt',
        `exec 3<>/dev/tcp/127.0.0.1/${port}`,
        'exec /bin/echo "hello vigil" second',
      ].join('\n');
      const r = await web.run('/bin/bash', ['-c', script], { cwd: work });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('hello vigil second\n');

      const exec = await seen('exec of /bin/echo', (e) => e.type === 'exec' && own(e).filename === '/bin/echo');
      expect(exec.path).toBe(realpathSync('/bin/echo'));
      expect(own(exec).argv).toEqual(['/bin/echo', 'hello vigil', 'second']);
      expect(own(exec).argvTruncated).toBe(false);
      expect(own(exec).cwd).toBe(realpathSync(work));
      expect(exec.pid).toBe(r.pid);
      expect(exec.workload!.name).toBe('pipeline-web');
      expect(exec.workload!.cgroupPath).toBe(`${tree.root}/web`);
      // The same pid ran bash before echo: the tree keeps the lineage.
      expect(exec.process!.lineage.at(-1)).toBe(realpathSync('/bin/bash'));

      const open = await seen('open for writing', (e) => e.type === 'open' && e.path.endsWith('/relative.txt'));
      expect(open.path).toBe(join(realpathSync(work), 'relative.txt'));
      expect(open.flags & (O_WRONLY | O_CREAT | O_TRUNC)).toBe(O_WRONLY | O_CREAT | O_TRUNC);
      expect(open.result).toBeGreaterThanOrEqual(0);

      const rename = await seen('rename', (e) => e.type === 'rename');
      expect([rename.path, rename.path2]).toEqual([join(realpathSync(work), 'relative.txt'), join(realpathSync(work), 'renamed.txt')]);
      expect(rename.result).toBe(0);

      const chmod = await seen('chmod', (e) => e.type === 'chmod');
      expect(chmod).toMatchObject({ path: join(realpathSync(work), 'renamed.txt'), result: 0 });
      expect(chmod.mode & 0o777).toBe(0o600);

      const viaDirfd = await seen('unlink below a directory fd', (e) => e.type === 'unlink' && e.path.endsWith('/deeper/file'));
      expect(viaDirfd.path).toBe(join(realpathSync(work), 'sub/deeper/file'));
      expect(viaDirfd.result).toBe(0);
      const unlink = await seen('unlink', (e) => e.type === 'unlink' && e.path.endsWith('/renamed.txt'));
      expect(unlink.path).toBe(join(realpathSync(work), 'renamed.txt'));

      const connect = await seen('connect', (e) => e.type === 'connect' && e.port === port);
      expect(connect).toMatchObject({ addr: '127.0.0.1', family: 2, protocol: 'tcp', result: 0, pid: r.pid });

      // bash forked for mv, chmod, mkdir, rm: each child is a fork and an exit with its code.
      const forks = t.of(web.id, 'fork').filter((e) => e.pid === r.pid);
      expect(forks.length).toBeGreaterThanOrEqual(4);
      const exits = t.of(web.id, 'exit').filter((e) => forks.some((f) => own(f).childPid === e.pid));
      expect(exits.length).toBeGreaterThanOrEqual(4);
      expect(exits.every((e) => own(e).exitCode === 0)).toBe(true);
    } finally {
      server.close();
    }
  });

  it('sees bind, listen and accept, and IPv6 addresses', async () => {
    const script = `
      const net = require('net');
      const s4 = net.createServer((c) => c.end()).listen(0, '127.0.0.1', () => {
        const s6 = net.createServer((c) => c.end()).listen(0, '::1', () => {
          const c4 = net.connect(s4.address().port, '127.0.0.1', () => {
            const c6 = net.connect(s6.address().port, '::1', () => {
              console.log(JSON.stringify({ p4: s4.address().port, p6: s6.address().port, c4: c4.localPort }));
              setTimeout(() => process.exit(0), 100);
            });
          });
        });
      });`;
    const r = await web.run(process.execPath, ['-e', script]);
    expect(r.code).toBe(0);
    const { p4, p6, c4 } = JSON.parse(r.stdout) as { p4: number; p6: number; c4: number };

    const bind = await seen('bind', (e) => e.type === 'bind' && e.localAddr === '127.0.0.1');
    expect(bind).toMatchObject({ protocol: 'tcp', result: 0 });
    const listen = await seen('listen on the IPv4 port', (e) => e.type === 'listen' && e.localPort === p4);
    expect(listen).toMatchObject({ localAddr: '127.0.0.1', result: 0 });
    const accept = await seen('accept of the IPv4 client', (e) => e.type === 'accept' && e.localPort === p4);
    expect(accept).toMatchObject({ addr: '127.0.0.1', port: c4, localAddr: '127.0.0.1' });
    expect(accept.result).toBeGreaterThanOrEqual(0);
    const connect6 = await seen('IPv6 connect', (e) => e.type === 'connect' && e.port === p6);
    expect(connect6).toMatchObject({ addr: '::1', family: 10, protocol: 'tcp' });
    // Node connects without blocking: the kernel says "in progress".
    expect(connect6.result).toBe(-115);
    await seen('listen on the IPv6 port', (e) => e.type === 'listen' && e.localPort === p6 && e.localAddr === '::1');
  });

  it('sees privilege changes: setuid, ptrace and mount, and whose credentials each event ran with', async () => {
    const after = `/nonexistent/vigil-after-setuid-${process.pid}`;
    const py = [
      'import ctypes, os, signal, sys, time',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'child = os.fork()',
      'if child == 0:',
      '    time.sleep(5); os._exit(0)',
      'print(libc.ptrace(16, child, 0, 0))', // PTRACE_ATTACH
      'os.kill(child, signal.SIGKILL); os.waitpid(child, 0)',
      'os.setgid(4242); os.setuid(4343)',
      `try: open('${after}')\nexcept OSError: pass`,
    ].join('\n');
    const r = await web.run('/usr/bin/python3', ['-c', py]);
    expect(r.code).toBe(0);
    const ptrace = await seen('ptrace attach', (e) => e.type === 'ptrace');
    expect(ptrace).toMatchObject({ id: 16, result: 0 });
    expect(ptrace.targetPid).toBeGreaterThan(0);
    expect(ptrace).toMatchObject({ uid: 0, gid: 0 });
    await seen('setgid', (e) => e.type === 'setid' && e.call === 'setgid' && e.id === 4242 && e.result === 0);
    await seen('setuid', (e) => e.type === 'setid' && e.call === 'setuid' && e.id === 4343 && e.result === 0);
    const open = await seen('an open after the setuid', (e) => e.type === 'open' && e.path === after);
    expect(open).toMatchObject({ uid: 4343, gid: 4242, pid: ptrace.pid });

    const target = mkdtempSync(join(tmpdir(), 'vigil-mnt-'));
    try {
      const m = await web.run('/usr/bin/unshare', ['-m', '/bin/mount', '-t', 'tmpfs', 'vigil-test-fs', target]);
      expect(m.code).toBe(0);
      const mount = await seen('mount', (e) => e.type === 'mount' && e.path === realpathSync(target));
      expect(mount).toMatchObject({ call: 'tmpfs', path2: 'vigil-test-fs', result: 0 });
    } finally {
      rmSync(target, { recursive: true, force: true });
    }
  });

  it('sees namespace changes and a socket wired onto stdout (the shape of a reverse shell)', async () => {
    const u = await web.run('/usr/bin/unshare', ['-m', '/bin/true']);
    expect(u.code).toBe(0);
    const unshare = await seen('unshare', (e) => e.type === 'namespace' && e.call === 'unshare');
    expect(unshare.flags & 0x20000).toBe(0x20000); // CLONE_NEWNS
    expect(unshare.result).toBe(0);
    const n = await web.run('/usr/bin/nsenter', ['-t', String(process.pid), '-m', '/bin/true']);
    expect(n.code).toBe(0);
    await seen('setns', (e) => e.type === 'namespace' && e.call === 'setns' && e.result === 0);

    const net = await import('node:net');
    const server = net.createServer((c) => c.resume());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await web.run('/bin/bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}; exec 1>&3; echo hi`]);
      expect(r.code).toBe(0);
      const dup = await seen('socket dup2-ed onto stdout', (e) => e.type === 'dup');
      expect(dup).toMatchObject({ id: 1, flags: 3, addr: '127.0.0.1', port, localAddr: '127.0.0.1', protocol: 'tcp', result: 1 });
      // An ordinary redirection of a file onto stdout is not reported.
      await web.run('/bin/bash', ['-c', 'exec 1>/dev/null; echo hi']);
      await seen('the next process', (e) => e.type === 'exit' && e.process?.argv.join(' ') === '/bin/bash -c exec 1>/dev/null; echo hi');
      expect(t.of(web.id, 'dup')).toHaveLength(1);
    } finally {
      server.close();
    }
  });

  it('names a memfd executable and tells a terminal session from a service', async () => {
    const py = [
      'import os',
      "fd = os.memfd_create('vigil-test')",
      "os.write(fd, open('/bin/true', 'rb').read())",
      "os.execv(f'/proc/self/fd/{fd}', ['fileless'])",
    ].join('\n');
    expect((await web.run('/usr/bin/python3', ['-c', py])).code).toBe(0);
    const fileless = await seen('exec of a memfd', (e) => e.type === 'exec' && own(e).argv[0] === 'fileless');
    expect(fileless.path).toBe('/memfd:vigil-test');

    // script(1) runs the command on a new pseudo-terminal.
    expect((await web.run('/usr/bin/script', ['-qc', '/bin/echo on-a-tty', '/dev/null'])).code).toBe(0);
    const onTty = await seen('exec on a tty', (e) => e.type === 'exec' && own(e).argv.join(' ') === '/bin/echo on-a-tty');
    expect(own(onTty).tty >> 20).toBe(136); // the Unix98 pty major
    expect(onTty.process!.tty).toBe(own(onTty).tty);
    const noTty = await seen('exec without a tty', (e) => e.type === 'exec' && own(e).argv[0] === 'fileless');
    expect(own(noTty).tty).toBe(0);
  });

  it('flags argv cut at the kernel bound', async () => {
    const long = 'x'.repeat(3000);
    const r = await web.run('/bin/echo', ['start', long]);
    expect(r.code).toBe(0);
    const exec = await seen('exec with a long argv', (e) => e.type === 'exec' && own(e).argv[1] === 'start');
    expect(own(exec).argvTruncated).toBe(true);
    expect(own(exec).argv.join(' ').length).toBeLessThan(long.length);
  });

  it('seeded the process tree from /proc: processes older than the probe have their executable', () => {
    // The test runner started long before the probe.
    const self = t.engine.tree.get(process.pid);
    expect(self?.exe).toBe(realpathSync(process.execPath));
    expect(self?.origin).toBe('snapshot');
  });
});

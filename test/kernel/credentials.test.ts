// What the probe reads of a process at exec and fork, against what the
// kernel says in /proc: effective and permitted capabilities, the audit
// login uid, the pid inside a pid namespace, and whether the executable
// sits on an overlay's upper (writable) layer — an overlay mounted here
// the way a container runtime mounts a container's root.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EXE_OVERLAY, EXE_UPPER_LAYER, type Event } from '../../src/model/event.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';
import { own } from '../support/events.js';

/** CapEff / CapPrm of a live process, as /proc prints them. */
function procCaps(pid: number | 'self'): { eff: number; prm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { eff: parseInt(/CapEff:\s+([0-9a-f]+)/.exec(s)![1]!, 16), prm: parseInt(/CapPrm:\s+([0-9a-f]+)/.exec(s)![1]!, 16) };
}

const CAP_NET_RAW = 13;
const CAP_SYS_ADMIN = 21;

describeKernel('credentials and layers the probe reads', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let g: TestCgroup;
  let dir: string;
  let before: ChildProcess;

  beforeAll(async () => {
    tree = new TestCgroupTree();
    g = tree.group('creds');
    // Running before the probe starts: known from its /proc snapshot only.
    before = spawn('setpriv', ['--bounding-set', '-all,+kill', '--inh-caps', '-all', '/bin/sleep', '60'], { stdio: 'ignore' });
    await waitFor('the sleeper', () => readFileSync(`/proc/${before.pid}/cmdline`, 'utf8').startsWith('/bin/sleep'));
    t = await TestEngine.start({ sinks: [] });
    await t.startProbe();
    dir = mkdtempSync(join(tmpdir(), 'vigil-creds-'));
  });

  afterAll(async () => {
    before?.kill('SIGKILL');
    await t?.stop();
    await tree?.remove();
    if (dir) {
      try {
        execFileSync('umount', [join(dir, 'merged')], { stdio: 'ignore' });
      } catch {
        // not mounted
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const execOf = (what: string, pred: (e: Event) => boolean): Promise<Event> => waitFor(what, () => t.of(g.id, 'exec').find(pred), 10_000);

  it('reads capabilities at exec: all of root\'s, and only those a reduced bounding set leaves', async () => {
    const full = await g.run('/bin/sh', ['-c', 'exec /bin/true full-caps']);
    const e = await execOf('the full-caps exec', (x) => x.pid === full.pid && own(x).argv[1] === 'full-caps');
    expect(own(e).capEffective).toBe(procCaps('self').eff); // the test runs as root: the same set as its children
    expect(own(e).capPermitted).toBe(procCaps('self').prm);
    expect(t.engine.tree.get(full.pid)).toMatchObject({ capEffective: procCaps('self').eff });

    const reduced = await g.run('setpriv', ['--bounding-set', '-all,+net_raw', '--inh-caps', '-all', '/bin/true', 'reduced-caps']);
    const r = await execOf('the reduced-caps exec', (x) => x.pid === reduced.pid && own(x).argv[1] === 'reduced-caps');
    expect(own(r).capEffective).toBe(2 ** CAP_NET_RAW);
    expect(own(r).capPermitted).toBe(2 ** CAP_NET_RAW);
    expect(own(r).capEffective & 2 ** CAP_SYS_ADMIN).toBe(0);
  });

  it('reads capabilities after set*id: leaving uid 0 drops them', async () => {
    // setpriv changes uid itself (setresuid) and then execs: the exec sees none left.
    const r = await g.run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/bin/true', 'as-nobody']);
    const setid = await waitFor('the setresuid', () => t.of(g.id, 'setid').find((x) => x.pid === r.pid && x.call === 'setresuid'), 10_000);
    expect(own(setid).capEffective).toBe(0);
    const e = await execOf('the exec as nobody', (x) => x.pid === r.pid && own(x).argv[1] === 'as-nobody');
    expect(e.uid).toBe(65534);
    expect(own(e).capEffective).toBe(0);
    expect(own(e).capPermitted).toBe(0);
  });

  it('reads the login uid the kernel keeps for the process', async () => {
    const r = await g.run('/bin/sh', ['-c', 'cat /proc/self/loginuid; exec /bin/true loginuid']);
    const e = await execOf('the exec', (x) => x.pid === r.pid && own(x).argv[1] === 'loginuid');
    expect(own(e).loginuid).toBe(Number(r.stdout.trim()));
    expect(t.engine.tree.get(r.pid)!.loginuid).toBe(own(e).loginuid === 4294967295 ? -1 : own(e).loginuid);
  });

  it('reads the pid a process has inside its own pid namespace, at exec and at fork', async () => {
    // unshare forks the namespace's first process (pid 1 there), which runs sh; sh forks a child (pid 2) that execs.
    const r = await g.run('unshare', ['--pid', '--fork', '/bin/sh', '-c', '/bin/true in-namespace; exit 0']);
    expect(r.code).toBe(0);
    const inner = await execOf('the exec inside the namespace', (x) => own(x).argv[1] === 'in-namespace');
    expect(own(inner).vpid).toBe(2);
    expect(inner.pid).not.toBe(2);
    const sh = await execOf('the namespace\'s first process', (x) => own(x).argv[0] === '/bin/sh' && own(x).argv[2] === '/bin/true in-namespace; exit 0');
    expect(own(sh).vpid).toBe(1);
    const fork = t.of(g.id, 'fork').find((x) => own(x).childPid === inner.pid);
    expect(fork && own(fork).vpid).toBe(2);
    // Outside a namespace the two numbers agree.
    const plain = await g.run('/bin/true', ['plain']);
    expect(own(await execOf('a plain exec', (x) => x.pid === plain.pid)).vpid).toBe(plain.pid);
  });

  it('tells an executable on an overlay\'s upper layer from one on its lower layer', async () => {
    for (const d of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(dir, d));
    copyFileSync('/bin/true', join(dir, 'lower/from-image'));
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${join(dir, 'lower')},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, join(dir, 'merged')]);
    // Written after the mount, through it: it lands on the upper layer, as a dropped binary does in a container.
    copyFileSync('/bin/true', join(dir, 'merged/dropped'));
    chmodSync(join(dir, 'merged/dropped'), 0o755);
    const lower = await g.run(join(dir, 'merged/from-image'), []);
    const upper = await g.run(join(dir, 'merged/dropped'), []);
    const host = await g.run('/bin/true', ['on-host']);
    const l = await execOf('the lower-layer exec', (x) => x.pid === lower.pid && x.path.endsWith('/from-image'));
    const u = await execOf('the upper-layer exec', (x) => x.pid === upper.pid && x.path.endsWith('/dropped'));
    const h = await execOf('the host exec', (x) => x.pid === host.pid);
    expect(own(l).exeLayer).toBe(EXE_OVERLAY);
    expect(own(u).exeLayer).toBe(EXE_OVERLAY | EXE_UPPER_LAYER);
    expect(own(h).exeLayer).toBe(0);
    expect(t.engine.tree.get(upper.pid)!.exeUpperLayer).toBe(true);
    expect(t.engine.tree.get(lower.pid)!.exeUpperLayer).toBe(false);
  });

  it('gives processes running before the probe their capabilities, login uid and namespace pid from /proc', () => {
    const p = t.engine.tree.get(before.pid!)!;
    expect(p).toMatchObject({ origin: 'snapshot', exe: '/usr/bin/sleep' });
    expect(p.capEffective).toBe(procCaps(before.pid!).eff);
    expect(p.capEffective).toBe(2 ** 5); // CAP_KILL alone
    expect(p.capPermitted).toBe(procCaps(before.pid!).prm);
    const loginuid = Number(readFileSync(`/proc/${before.pid}/loginuid`, 'utf8'));
    expect(p.loginuid).toBe(loginuid === 4294967295 ? -1 : loginuid);
    expect(p.vpid).toBe(before.pid);
  });
});

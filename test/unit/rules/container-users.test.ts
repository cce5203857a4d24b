// User and group names of a container's processes come from the
// container's own /etc/passwd and /etc/group, not the node's. A fake /proc
// here (directories for /proc/<pid>/root and files for /proc/<pid>/cgroup:
// a unit test cannot make containers); test/containers/users.test.ts does
// the same with a real Docker container and the real probe.
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileOutput, formatOutput } from '../../../src/detect/rules/output.js';
import { NO_PERMISSION, readContainerFile } from '../../../src/detect/rules/container-files.js';
import { UserNames, type UserFilesRequest } from '../../../src/detect/rules/users.js';
import type { Event } from '../../../src/model/event.js';
import type { Workload } from '../../../src/model/workload.js';
import { compile, HOST, matches, workload, World } from './support.js';
import { type EventFields } from '../../support/events.js';

const CID = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);

describe("a container's users and groups", () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ctrusers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // The node: uid 4242 is its "nodeuser", uid 33 its www-data.
  const node = join(dir, 'node');
  mkdirSync(join(node, 'etc'), { recursive: true });
  writeFileSync(join(node, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/sh\nnodeuser:x:4242:4242::/home/n:/bin/sh\n');
  writeFileSync(join(node, 'etc/group'), 'root:x:0:\nwww-data:x:33:\nnodegroup:x:4242:\n');
  const proc = join(dir, 'proc');
  const cgroups = join(dir, 'cgroup');
  /** A cgroup's id: the inode of its directory below the (fake) v2 mount. */
  const cgOf = (path: string): number => {
    mkdirSync(join(cgroups, path), { recursive: true });
    return statSync(join(cgroups, path)).ino;
  };
  /** A process of a container (or of the node) in the fake /proc, in its cgroup. */
  const process = (pid: number, cgroup: string, files: Record<string, string> = {}): string => {
    cgOf(cgroup);
    const root = join(proc, String(pid), 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(proc, String(pid), 'cgroup'), `0::${cgroup}\n`);
    for (const [f, text] of Object.entries(files)) writeFileSync(join(root, 'etc', f), text);
    return root;
  };
  const CTR_PASSWD = 'root:x:0:0::/root:/bin/sh\nctrapp:x:4242:4242::/app:/bin/sh\n';
  const CTR_GROUP = 'root:x:0:\nctrgroup:x:4242:\n';
  process(100, `/docker/${CID}`, { passwd: CTR_PASSWD, group: CTR_GROUP });
  process(200, '/user.slice/user-0.slice');

  const ctr = workload({ key: 'container:app', kind: 'container', containerId: CID, cgroupPath: `/docker/${CID}` });
  const world = (): World => new World(new UserNames(node, proc, cgroups));
  /** An event of the workload's cgroup. */
  const at = (w: World, type: Event['type'], fields: EventFields, wl: Workload): Event => w.event(type, { cgroupId: cgOf(wl.cgroupPath), ...fields }, wl);
  const out = (w: World, e: Event, text = 'user=%user.name group=%group.name'): string => formatOutput(compileOutput(text, { file: 't', line: 1, col: 1 }), e, w.x).output;

  it("names a container's uid and gid from its own files, a node process's from the node's", () => {
    const w = world();
    const inCtr = at(w, 'open', { pid: 100, path: '/a', uid: 4242, gid: 4242 }, ctr);
    expect(out(w, inCtr)).toBe('user=ctrapp group=ctrgroup');
    expect(matches(compile('user.name = ctrapp and group.name = ctrgroup'), inCtr, w.x)).toBe(true);
    // uid 33 is the node's www-data; the container has no name for it: its number, not the node's name.
    expect(out(w, at(w, 'open', { pid: 100, path: '/a', uid: 33, gid: 33 }, ctr))).toBe('user=33 group=33');
    // The same uid on the node: the node's name.
    expect(out(w, at(w, 'open', { pid: 200, path: '/a', uid: 4242, gid: 4242 }, HOST))).toBe('user=nodeuser group=nodegroup');
    // A set*id call's uid, and the login uid, are named the same way.
    expect(matches(compile('evt.type = setuid and evt.arg.uid = ctrapp'), at(w, 'setid', { pid: 100, call: 'setuid', id: 4242 }, ctr), w.x)).toBe(true);
    expect(matches(compile('evt.type = setuid and evt.arg.uid = nodeuser'), at(w, 'setid', { pid: 200, call: 'setuid', id: 4242 }, HOST), w.x)).toBe(true);
  });

  it("reads through another live process of the container when the event's has exited, never through a pid a node process now has", () => {
    const w = world();
    // The container's long-running process (pid 100) is in the tree; 150 (exited) is the event's.
    w.exec(100, 1, '/bin/sleep', ['sleep', 'infinity'], ctr, { cgroupId: cgOf(ctr.cgroupPath) });
    expect(out(w, at(w, 'open', { pid: 150, ppid: 100, path: '/a', uid: 4242, gid: 4242 }, ctr))).toBe('user=ctrapp group=ctrgroup');
    // Another container whose event's pid (200) now belongs to a node process, and no other process of it known:
    // the node's files are not read through it.
    const other = workload({ key: 'container:other', kind: 'container', containerId: OTHER, cgroupPath: `/docker/${OTHER}` });
    const e = at(w, 'open', { pid: 200, ppid: 1, cgroupId: 9, path: '/a', uid: 4242, gid: 4242 }, other);
    expect(out(w, e)).toBe('user=4242 group=4242');
    expect(w.x.users.problems()).toContainEqual({ containerId: OTHER, file: 'passwd', problem: 'no live process of the container to read it through' });
    // CRI-O's conmon: a node process (the node's root) whose cgroup is named after the container, the
    // parent of the container's init. Its root is not the container's: not read through.
    const crio = '8'.repeat(64);
    const conmonRoot = process(210, `/system.slice/crio-conmon-${crio}.scope`, { passwd: 'nodeuser:x:4242:4242::/:/bin/sh\n' });
    expect(conmonRoot).toContain('210');
    const pod = workload({ key: 'k8s:shop/Deployment/web', kind: 'k8s', containerId: crio, cgroupPath: `/kubepods.slice/crio-${crio}.scope` });
    expect(out(w, at(w, 'open', { pid: 211, ppid: 210, path: '/a', uid: 4242, gid: 4242 }, pod))).toBe('user=4242 group=4242');
  });

  it("reads through a process the cgroup lists (cgroup.procs) when the tree knows none alive", () => {
    const w = world();
    const id = '7'.repeat(64);
    process(700, `/docker/${id}`, { passwd: CTR_PASSWD, group: CTR_GROUP });
    // 990 is gone, 200 is a node process (a stale or forged entry): neither is read through.
    writeFileSync(join(cgroups, 'docker', id, 'cgroup.procs'), '990\n200\n700\n');
    const c = workload({ key: 'container:7', kind: 'container', containerId: id, cgroupPath: `/docker/${id}` });
    expect(out(w, at(w, 'open', { pid: 760, ppid: 1, path: '/a', uid: 4242, gid: 4242 }, c))).toBe('user=ctrapp group=ctrgroup');
  });

  it('never follows a symlink or blocks on a FIFO: the number, and the reason said once per container', async () => {
    const w = world();
    const said: string[] = [];
    w.x.users.onProblem = (p) => said.push(`${p.containerId[0]} ${p.file}`);
    const cases: [string, (root: string) => void][] = [
      ['c'.repeat(64), (root) => symlinkSync(join(node, 'etc/passwd'), join(root, 'etc/passwd'))],
      ['d'.repeat(64), (root) => symlinkSync('../../../node/etc/passwd', join(root, 'etc/passwd'))],
      ['e'.repeat(64), (root) => {
        rmSync(join(root, 'etc'), { recursive: true });
        symlinkSync(join(node, 'etc'), join(root, 'etc'));
      }],
      ['f'.repeat(64), (root) => execFileSync('mkfifo', [join(root, 'etc/passwd')])],
      // Distroless without /etc/passwd.
      ['0'.repeat(64), () => undefined],
    ];
    let pid = 300;
    for (const [id, make] of cases) {
      make(process(++pid, `/docker/${id}`));
      const c = workload({ key: `container:${id}`, kind: 'container', containerId: id, cgroupPath: `/docker/${id}` });
      expect(out(w, at(w, 'open', { pid, path: '/a', uid: 4242, gid: 0 }, c), 'user=%user.name')).toBe('user=4242');
    }
    const problems = new Map(w.x.users.problems().filter((p) => p.file === 'passwd').map((p) => [p.containerId[0], p.problem]));
    expect(problems.get('c')).toBe('etc/passwd or etc is a symlink (not followed)');
    expect(problems.get('d')).toBe('etc/passwd or etc is a symlink (not followed)');
    expect(problems.get('e')).toBe('etc/passwd or etc is a symlink (not followed)');
    expect(problems.get('f')).toBe('etc/passwd is not a regular file');
    expect(problems.get('0')).toBe('etc/passwd: ENOENT');
    // Said once each, however many events ask again.
    expect(said).toEqual(['c passwd', 'd passwd', 'e passwd', 'f passwd', '0 passwd']);
    await new Promise((r) => setTimeout(r, 150));
    pid = 300;
    for (const [id] of cases) expect(out(w, at(w, 'open', { pid: ++pid, path: '/a', uid: 4243, gid: 0 }, workload({ containerId: id, cgroupPath: `/docker/${id}` })), 'user=%user.name')).toBe('user=4243');
    expect(said).toHaveLength(5);
  });

  // Dropping every capability (setpriv) takes root.
  it.skipIf(globalThis.process.getuid?.() !== 0)("says the engine may not read other processes' roots when it lacks the capability (a DaemonSet engine without CAP_SYS_PTRACE)", () => {
    // A real process's root (this machine's /proc), read by a process with no capability at all: EACCES.
    const sleeper = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
    try {
      const id = '6'.repeat(64);
      mkdirSync(join(proc, '600'), { recursive: true });
      writeFileSync(join(proc, '600', 'cgroup'), `0::/docker/${id}\n`);
      symlinkSync(`/proc/${sleeper.pid}/root`, join(proc, '600', 'root'));
      const src = new URL('../../../src/detect/rules/container-files.ts', import.meta.url).pathname;
      const script = `import { readContainerFile } from ${JSON.stringify(src)}; console.log(JSON.stringify(readContainerFile(() => true, [600], 'passwd', '', ${JSON.stringify(proc)})));`;
      const run = (wrap: string[]) => JSON.parse(execFileSync(wrap[0]!, [...wrap.slice(1), globalThis.process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })) as { read: { error?: string; text?: string } };
      expect(run(['/usr/bin/setpriv', '--bounding-set=-all', '--inh-caps=-all', '--no-new-privs', '--']).read.error).toBe(NO_PERMISSION);
      // With its capabilities (this test runs as root) the root is seen: the node's own (this sleeper is the
      // node's), which is never read through: a container's first process is there until it pivots into its own.
      const asRoot = run(['/usr/bin/env']);
      expect(asRoot.read.text).toBeUndefined();
      expect(asRoot.read.error).toBe('no live process of the container to read it through');
    } finally {
      sleeper.kill();
    }
  });

  it.skipIf(globalThis.process.getuid?.() !== 0)('an engine without CAP_SYS_PTRACE in a cgroup namespace of its own asks the probe (it never gets as far as a cgroup check)', () => {
    // The DaemonSet's engine: no capability, and other containers' cgroups seen as "/../…" from its own namespace.
    const sleeper = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
    try {
      const id = '7'.repeat(64);
      mkdirSync(join(proc, '710'), { recursive: true });
      writeFileSync(join(proc, '710', 'cgroup'), `0::/../../kubepods/pod1/${id}\n`);
      symlinkSync(`/proc/${sleeper.pid}/root`, join(proc, '710', 'root'));
      const src = new URL('../../../src/detect/rules/users.ts', import.meta.url).pathname;
      const script = `import { UserNames } from ${JSON.stringify(src)};
        const u = new UserNames(${JSON.stringify(node)}, ${JSON.stringify(proc)}, ${JSON.stringify(cgroups)});
        const asked = [];
        u.probe = async (r) => { asked.push(r); return { ok: true, pid: 710, passwd: { sig: 'p', text: 'ctrapp:x:4242:4242::/:/bin/sh\\n', truncated: false }, group: { sig: 'g', text: 'ctrgroup:x:4242:\\n', truncated: false } }; };
        const e = { pid: 710, cgroupId: 77, workload: { containerId: '${id}', cgroupPath: '/kubepods/pod1/${id}' } };
        const first = u.user(e, 4242);
        await new Promise((r) => setTimeout(r, 10));
        console.log(JSON.stringify({ first, then: u.user(e, 4242), group: u.group(e, 4242), asked, source: u.sources().containers }));`;
      const run = JSON.parse(execFileSync('/usr/bin/setpriv', ['--bounding-set=-all', '--inh-caps=-all', '--no-new-privs', '--', globalThis.process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })) as
        { first: string; then: string; group: string; asked: UserFilesRequest[]; source: string };
      // Asked at once (this first look prints the number: an alert's first look; the engine asks at the container's first event).
      expect(run.first).toBe('4242');
      expect(run.asked).toEqual([{ pids: [710], cgroupId: 77, node: false, knownPasswd: '', knownGroup: '' }]);
      expect(run.then).toBe('ctrapp');
      expect(run.group).toBe('ctrgroup');
      expect(run.source).toMatch(/^through the probe/);
    } finally {
      sleeper.kill();
    }
  });

  it("asks the probe for a container's files at its first event, once, when the engine reads through it (rules.userFiles: probe)", async () => {
    // The probe's side is the real probe in test/containers/users.test.ts; here its answer is given, to see what the engine asks and when.
    const users = new UserNames(node, proc, cgroups, true);
    const asked: UserFilesRequest[] = [];
    users.probe = async (r) => {
      asked.push(r);
      return { ok: true, pid: r.pids[0]!, passwd: { sig: 'p1', text: CTR_PASSWD, truncated: false }, group: { sig: 'g1', text: CTR_GROUP, truncated: false } };
    };
    const w = new World(users);
    const e = at(w, 'exec', { pid: 100, path: '/bin/sh', uid: 4242, gid: 4242 }, ctr);
    users.seen(e);
    users.seen(e);
    expect(asked).toHaveLength(1);
    // The event's process first (then its parent), checked by the probe to be in this cgroup.
    expect(asked[0]).toMatchObject({ cgroupId: cgOf(ctr.cgroupPath), node: false, knownPasswd: '', knownGroup: '' });
    expect(asked[0]!.pids[0]).toBe(100);
    await new Promise((r) => setImmediate(r));
    expect(out(w, e)).toBe('user=ctrapp group=ctrgroup');
    users.seen(e);
    expect(asked).toHaveLength(1);
    expect(users.sources().containers).toMatch(/^through the probe/);
  });

  it("asks the probe for the node's files once, not at every host exec", async () => {
    const users = new UserNames('/', proc, cgroups, true);
    const asked: UserFilesRequest[] = [];
    users.probe = async (r) => {
      asked.push(r);
      return { ok: true, pid: 1, passwd: { sig: 'n1', text: 'root:x:0:0::/root:/bin/sh\nnodeuser:x:4242:4242::/:/bin/sh\n', truncated: false }, group: { sig: 'n2', text: 'root:x:0:\n', truncated: false } };
    };
    const w = new World(users);
    const e = at(w, 'exec', { pid: 200, path: '/bin/sh', uid: 4242, gid: 0 }, HOST);
    users.seen(e);
    expect(asked).toMatchObject([{ node: true, pids: [] }]);
    await new Promise((r) => setTimeout(r, 150));
    users.seen(e);
    expect(asked).toHaveLength(1);
    expect(out(w, e, 'user=%user.name')).toBe('user=nodeuser');
    expect(users.sources().node).toMatch(/^through the probe/);
  });

  it("says why when the probe cannot read a container's files, and the ids print as numbers", async () => {
    const users = new UserNames(node, proc, cgroups, true);
    users.probe = async () => ({ ok: false, error: 'no process of the cgroup to read through' });
    const w = new World(users);
    const e = at(w, 'exec', { pid: 100, path: '/bin/sh', uid: 4242, gid: 4242 }, ctr);
    users.seen(e);
    await new Promise((r) => setTimeout(r, 300));
    expect(out(w, e)).toBe('user=4242 group=4242');
    expect(users.problems()).toContainEqual({ containerId: CID, file: 'passwd', problem: 'through the probe: no process of the cgroup to read through' });
  });

  it("says nothing of a container still starting when a retry reads its files", async () => {
    const users = new UserNames(node, proc, cgroups, true);
    const said: string[] = [];
    users.onProblem = (p) => said.push(p.problem);
    let asked = 0;
    users.probe = async (r) => {
      if (++asked === 1) return { ok: false, error: `pid ${r.pids[0]} is still at the node's root (its container is starting)` };
      return { ok: true, pid: r.pids[0]!, passwd: { sig: 'p1', text: CTR_PASSWD, truncated: false }, group: { sig: 'g1', text: CTR_GROUP, truncated: false } };
    };
    const w = new World(users);
    const e = at(w, 'exec', { pid: 100, path: '/bin/sh', uid: 4242, gid: 4242 }, ctr);
    users.seen(e);
    await new Promise((r) => setTimeout(r, 300));
    expect(asked).toBe(2);
    expect(out(w, e)).toBe('user=ctrapp group=ctrgroup');
    expect(said).toEqual([]);
    expect(users.problems()).toEqual([]);
  });

  it("asks again a few times when the probe found no process yet, not when its read hung (the probe backs the container off): counted for status", async () => {
    const ask = async (error: string): Promise<{ asked: () => number; users: UserNames; e: Event }> => {
      const users = new UserNames(node, proc, cgroups, true);
      let asked = 0;
      users.probe = async () => {
        asked++;
        return { ok: false, error };
      };
      const w = new World(users);
      const e = at(w, 'exec', { pid: 100, path: '/bin/sh', uid: 4242, gid: 4242 }, ctr);
      users.seen(e);
      await new Promise((r) => setTimeout(r, 400));
      return { asked: () => asked, users, e };
    };
    const starting = await ask('no process of the cgroup to read through');
    expect(starting.asked()).toBe(5);
    const hung = await ask("timed out: the read of cgroup 7's /etc/passwd and /etc/group did not finish in 2000 ms (a filesystem under its /etc not answering: FUSE, NFS)");
    expect(hung.asked()).toBe(1);
    // An id its files would name, looked up by a rule later: not asked while the probe backs the container off (a request per look would only be refused).
    expect(hung.users.user(hung.e, 7777)).toBe('7777');
    expect(hung.asked()).toBe(1);
    expect(starting.users.user(starting.e, 7777)).toBe('7777');
    expect(starting.asked()).toBe(6);
    expect(hung.users.state()).toMatchObject({ timedOut: 1, problems: [{ containerId: CID, file: 'passwd', problem: expect.stringMatching(/^through the probe: timed out: /) }, { file: 'group' }] });
    expect((await ask("backed off: a read of this cgroup's files timed out and has not returned")).asked()).toBe(1);
  });

  it("drops a container's names when it is gone, and reads them again if it is asked for after all", async () => {
    const users = new UserNames(node, proc, cgroups, true);
    let asked = 0;
    users.probe = async (r) => {
      asked++;
      return { ok: true, pid: r.pids[0]!, passwd: { sig: 'p1', text: CTR_PASSWD, truncated: false }, group: { sig: 'g1', text: CTR_GROUP, truncated: false } };
    };
    const w = new World(users);
    const e = at(w, 'exec', { pid: 100, path: '/bin/sh', uid: 4242, gid: 4242 }, ctr);
    users.seen(e);
    await new Promise((r) => setImmediate(r));
    expect(out(w, e)).toBe('user=ctrapp group=ctrgroup');
    expect(users.containerCount).toBe(1);
    users.forget(CID);
    expect(users.containerCount).toBe(0);
    users.seen(e);
    expect(asked).toBe(2);
  });

  it('names a user the container added a moment ago, and quotes a crafted name in the output', async () => {
    const w = world();
    const root = process(400, `/docker/${'9'.repeat(64)}`, { passwd: CTR_PASSWD, group: CTR_GROUP });
    const c = workload({ key: 'container:9', kind: 'container', containerId: '9'.repeat(64), cgroupPath: `/docker/${'9'.repeat(64)}` });
    const e = (uid: number) => at(w, 'open', { pid: 400, path: '/a', uid, gid: 0 }, c);
    expect(out(w, e(5000), 'user=%user.name')).toBe('user=5000');
    appendFileSync(join(root, 'etc/passwd'), 'x user=root\x1b[2J:x:5000:5000::/:/bin/sh\n');
    await new Promise((r) => setTimeout(r, 150));
    // Quoted and escaped: the name cannot pass for another field, nor reach a terminal raw.
    expect(out(w, e(5000), 'user=%user.name uid=%user.uid')).toBe('user="x user=root\\x1b[2J" uid=5000');
  });

  it("says a container's symlinked file is a symlink even when a process tried before it had gone (no root left: ENOENT)", () => {
    const cid = '6'.repeat(64);
    // 610 exited but is not reaped: still in the cgroup, its root gone (its etc cannot be opened).
    cgOf(`/docker/${cid}`);
    mkdirSync(join(proc, '610'), { recursive: true });
    writeFileSync(join(proc, '610', 'cgroup'), `0::/docker/${cid}\n`);
    const root = process(611, `/docker/${cid}`);
    symlinkSync(join(node, 'etc/passwd'), join(root, 'etc/passwd'));
    const member = (pid: number): boolean => pid === 610 || pid === 611;
    const got = readContainerFile(member, [610, 611], 'passwd', '', proc);
    expect(got.read).toEqual({ sig: '', error: 'etc/passwd or etc is a symlink (not followed)' });
    expect(got.pid).toBe(611);
  });

  it("keeps a bounded part of a container's file", () => {
    const w = world();
    const lines = ['root:x:0:0::/:/bin/sh', `${'n'.repeat(300)}:x:7000:7000::/:/bin/sh`];
    for (let i = 1; i <= 9000; i++) lines.push(`u${i}:x:${10_000 + i}:1::/:/bin/sh`);
    process(500, `/docker/${'5'.repeat(64)}`, { passwd: `${lines.join('\n')}\n` });
    const c = workload({ key: 'container:5', kind: 'container', containerId: '5'.repeat(64), cgroupPath: `/docker/${'5'.repeat(64)}` });
    const name = (uid: number) => out(w, at(w, 'open', { pid: 500, path: '/a', uid, gid: 0 }, c), '%user.name');
    expect(name(10_001)).toBe('u1');
    // A name longer than any system allows is not kept; entries past the bound neither.
    expect(name(7000)).toBe('7000');
    expect(name(19_000)).toBe('19000');
  });

  it('holds a bounded number of entries over all containers, forgetting the oldest container first', () => {
    const w = world();
    const full = `${Array.from({ length: 8192 }, (_, i) => `u${i}:x:${20_000 + i}:1::/:/bin/sh`).join('\n')}\n`;
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const id = `${String(i).padStart(2, '0')}${'c'.repeat(62)}`;
      ids.push(id);
      process(800 + i, `/docker/${id}`, { passwd: full });
      const c = workload({ key: `container:${i}`, kind: 'container', containerId: id, cgroupPath: `/docker/${id}` });
      expect(out(w, at(w, 'open', { pid: 800 + i, path: '/a', uid: 20_005, gid: 0 }, c), '%user.name')).toBe('u5');
    }
    // 262,144 entries: 32 containers' 8,192 each; the first 8 were forgotten (and would be read again when asked).
    expect(w.x.users.containerCount).toBe(32);
  });
});

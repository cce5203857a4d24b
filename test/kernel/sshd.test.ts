// The privilege rules against a real root daemon that drops and takes back
// its uid for each request: Debian's OpenSSH sshd. Checking a public key,
// sshd's monitor (root, started by root) reads the user's authorized_keys
// as that user, temporarily_use_uid() (setegid, seteuid to the user), then
// restore_uid() (seteuid(0), setegid(0)). The rules must see those calls and
// not raise them; a set-uid root program the same user runs over the same
// login must still raise "Privileges raised to root".
//
// sshd runs as a copy of /usr/sbin/sshd named sshd-vigil: the rules leave
// out processes named sshd by name (vigil_login_binaries), which would keep
// them quiet whatever the rule said of a root daemon's brackets; under
// another name only vigil_setid_by_root_started does, as it must for the
// daemons that list does not name (smbd, postfix, vsftpd). It listens on
// 127.0.0.1 only, with its own config, host key and pid file in a scratch
// directory, for a user this test makes and removes; it and its children
// live in a test cgroup, stopped by pid.
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Alert } from '../../src/model/alert.js';
import type { Event } from '../../src/model/event.js';
import { TestEngine } from '../support/engine.js';
import { describeWhere, kernelUnavailable, repoRoot, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';
import { completeLines } from '../support/lines.js';

const SSHD = '/usr/sbin/sshd';
const TOOLS = [SSHD, '/usr/bin/ssh', '/usr/bin/ssh-keygen', '/usr/sbin/useradd', '/usr/sbin/userdel'];
/** The name the copy of sshd runs under (its comm): not one the rules leave out by name. */
const DAEMON = 'sshd-vigil';
const PRIVILEGE_RULES = ['Privileges raised to root with setuid', 'Group raised to root with setgid'];
const tag = randomBytes(4).toString('hex');
const run = promisify(execFile);

function sshdMissing(): string | null {
  const gone = TOOLS.filter((p) => !existsSync(p));
  return gone.length ? `${gone.join(', ')} missing (Debian's openssh-server and openssh-client: bash scripts/setup.sh --test)` : null;
}

/** A port free on 127.0.0.1 a moment ago (sshd says below whether it got it). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describeWhere(kernelUnavailable() ?? sshdMissing(), 'privilege rules against the real sshd', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let g: TestCgroup;
  let dir = '';
  let user = '';
  let uid = -1;
  let port = 0;
  let sshd: ChildProcess | undefined;
  let sshdLog = '';
  let helper = '';
  const alerts: Alert[] = [];

  beforeAll(async () => {
    tree = new TestCgroupTree();
    g = tree.group('sshd');
    dir = mkdtempSync(join(tmpdir(), 'vigil-sshd-'));
    chmodSync(dir, 0o755); // the user reaches its home and the set-uid program through it
    const home = join(dir, 'home');
    // The user: no password that works ('*', not '!': sshd refuses a locked account), its home in the scratch
    // directory (not made by useradd), its own group. Removed in afterAll, with the group.
    const name = `vigil-ssh-${tag}`;
    try {
      execFileSync('useradd', ['-M', '-U', '-d', home, '-s', '/bin/sh', '-p', '*', name], { stdio: 'pipe' });
    } finally {
      // Removed in afterAll if useradd made it, even if it then failed (it may leave the user without its group).
      if (readFileSync('/etc/passwd', 'utf8').includes(`\n${name}:`)) user = name;
    }
    uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    // Started after the user exists: the rules name a uid from /etc/passwd, re-read at most every 5 s on a miss.
    t = await TestEngine.start({ sinks: [] });
    t.engine.onAlert((a) => alerts.push(a));
    await t.startProbe();

    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'vigil-test host', '-f', join(dir, 'host_key')]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'vigil-test client', '-f', join(dir, 'client_key')]);
    // StrictModes (sshd's default, kept): the home and .ssh the user's and not writable by others.
    mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, '.ssh/authorized_keys'), readFileSync(join(dir, 'client_key.pub')), { mode: 0o600 });
    for (const p of [home, join(home, '.ssh'), join(home, '.ssh/authorized_keys')]) chownSync(p, uid, gid);
    chmodSync(home, 0o755);

    // setid-bracket (test/kernel/setid-bracket.c) as root's, set-uid: what a user's set-uid root helper does.
    const bin = join(dir, 'bin');
    mkdirSync(bin, { mode: 0o755 });
    helper = join(bin, 'suid-helper');
    execFileSync('cc', ['-O2', '-o', helper, join(repoRoot, 'test/kernel/setid-bracket.c')]);
    chmodSync(helper, 0o4755);
    const daemon = join(bin, DAEMON);
    copyFileSync(SSHD, daemon);
    chmodSync(daemon, 0o755);

    // The privilege separation directory sshd chroots its network child into, compiled in; systemd-tmpfiles
    // makes it at boot where the package's service is used. Made if missing and left (another run may use it).
    if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });

    port = await freePort();
    const config = join(dir, 'sshd_config');
    writeFileSync(config, [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'AuthorizedKeysFile .ssh/authorized_keys',
      'StrictModes yes',
      'UsePAM no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin no',
      `AllowUsers ${user}`,
      // DEBUG1 prints temporarily_use_uid/restore_uid: the failure message shows whether sshd bracketed at all.
      'LogLevel DEBUG1',
      '',
    ].join('\n'));
    // -D: no detaching, so the pid is the listener's; -e: its log (and its children's) on stderr.
    sshd = g.spawn(daemon, ['-D', '-e', '-f', config]);
    sshd.stderr!.setEncoding('utf8').on('data', (d: string) => (sshdLog += d));
    let exited = false;
    sshd.on('exit', () => (exited = true));
    await waitFor(`sshd listening on 127.0.0.1:${port}`, () => {
      if (exited) throw new Error(`sshd exited at start:\n${sshdLog}`);
      return sshdLog.includes(`Server listening on 127.0.0.1 port ${port}`);
    });
  });

  afterAll(async () => {
    try {
      if (sshd?.pid && sshd.exitCode === null && sshd.signalCode === null) {
        const gone = new Promise((r) => sshd!.once('exit', r));
        sshd.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5_000))]);
      }
      await t?.stop();
      // What is left of sshd's connections, in the test's own cgroup only (cgroup.kill, Linux 5.14).
      if (g && existsSync(join(g.dir, 'cgroup.kill'))) writeFileSync(join(g.dir, 'cgroup.kill'), '1');
      await tree?.remove();
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
      // Only when this test made it; a failure to remove it fails the run rather than leave a user on the host.
      if (user) execFileSync('userdel', [user], { stdio: 'pipe' });
    }
  });

  /** Logs in as the test user with the key and runs `command`; the client runs outside the test cgroup. */
  function ssh(command: string): Promise<{ stdout: string; stderr: string }> {
    return run('ssh', [
      '-F', '/dev/null', '-i', join(dir, 'client_key'), '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
      '-p', String(port), `${user}@127.0.0.1`, command,
    ], { timeout: 30_000, encoding: 'utf8' }).catch((e: Error & { stderr?: string }) => {
      throw new Error(`ssh ${user}@127.0.0.1 -p ${port} ${command}: ${e.message}\nsshd said:\n${completeLines(sshdLog).slice(-40).join('\n')}`);
    });
  }

  /** sshd's temporarily_use_uid / restore_uid on its process whose real uid stays root: the probe's setid events. */
  const drops = (): Event[] => t.of(g.id, 'setid').filter((e) => e.comm === DAEMON && e.call === 'setresuid' && e.uid === 0 && e.euid === 0 && e.idsAfter?.euid === uid && e.idsAfter.uid === 0);
  const takesBack = (): Event[] => t.of(g.id, 'setid').filter((e) => e.comm === DAEMON && e.call === 'setresuid' && e.uid === 0 && e.euid === uid && e.idsAfter?.euid === 0 && e.idsAfter.uid === 0);
  const raisedFor = (comm: string): Alert[] => alerts.filter((a) => PRIVILEGE_RULES.includes(a.rule) && a.workload.cgroupPath === g.path && a.process.comm === comm);

  it('a key login: sshd reads authorized_keys as the user and takes root back, seen by the probe and not raised', async () => {
    const r = await ssh('echo logged-in; id -u');
    expect(r.stdout).toBe(`logged-in\n${uid}\n`);
    // The session's command ran as the user, in sshd's cgroup.
    await waitFor('the exec of id by the ssh user', () => t.of(g.id, 'exec').find((e) => e.path === '/usr/bin/id' && e.uid === uid));
    // The monitor, the process that took root back, ends with the login: once its exit is in, all its calls are.
    const monitor = (await waitFor('sshd taking root back (restore_uid)', () => takesBack()[0])).pid;
    await waitFor('the end of the login\'s monitor', () => t.of(g.id, 'exit').some((e) => e.pid === monitor));
    const back = takesBack().filter((e) => e.pid === monitor);
    // A bracket per key check at least (the client's offer of its key, then its signature): each drop taken back.
    expect(back.length).toBeGreaterThanOrEqual(2);
    expect(drops().filter((e) => e.pid === monitor)).toHaveLength(back.length);
    expect(new Set(takesBack().map((e) => e.pid))).toEqual(new Set([monitor]));
    // Its group back after its uid, setegid(0) as root again: as many.
    expect(t.of(g.id, 'setid').filter((e) => e.pid === monitor && e.call === 'setresgid' && e.euid === 0 && e.egid !== 0 && e.idsAfter?.egid === 0)).toHaveLength(back.length);

    // Judged, not merely not yet judged: a set-uid root program the user runs next, in the same cgroup after sshd's
    // calls, raises its alert; by then the calls before it have been through the rules.
    await ssh(`${helper} euid`);
    const helperAlert = await waitFor('the set-uid helper\'s alert', () => raisedFor('suid-helper')[0]);
    expect(helperAlert.output).toMatch(new RegExp(` call=setresuid uid_asked=root uid=${uid}->${uid} euid=${uid}->0 suid=0->0 fsuid=${uid}->0 process=suid-helper `));
    expect(raisedFor(DAEMON)).toEqual([]);
    expect(alerts.filter((a) => PRIVILEGE_RULES.includes(a.rule) && a.workload.cgroupPath === g.path && a.process.comm !== 'suid-helper')).toEqual([]);
  });

  it('a set-uid root program the ssh user runs to make its real uid root still raises Privileges raised to root', async () => {
    const before = raisedFor('suid-helper').length;
    await ssh(`${helper} real`);
    const a = await waitFor('the alert for setresuid(0, -1, -1)', () => raisedFor('suid-helper').slice(before).find((x) => x.rule === 'Privileges raised to root with setuid'));
    expect(a.output).toMatch(new RegExp(` call=setresuid uid_asked="<NONE>" uid=${uid}->0 euid=0->0 suid=0->0 fsuid=0->0 process=suid-helper `));
    expect(a.output).toContain(` user=${user} `);
    expect(raisedFor(DAEMON)).toEqual([]);
  });
});

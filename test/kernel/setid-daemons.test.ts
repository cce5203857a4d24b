// The privilege rules against real root daemons that drop their uid for a
// request and take root back: Debian's OpenSSH sshd and vsftpd. Checking a
// public key, sshd's monitor (root, started by root) reads the user's
// authorized_keys as that user, temporarily_use_uid() (setegid, seteuid to
// the user), then restore_uid() (seteuid(0), setegid(0)). At a local user's
// login, vsftpd's session process (root) enters the user's home as the user
// (setregid, setreuid(-1, user)), takes root back, then becomes the user for
// good. The rules must see those calls and not raise them; a set-uid root
// program the same user runs must still raise "Privileges raised to root".
//
// sshd runs as a copy of /usr/sbin/sshd named sshd-vigil: the rules leave
// out processes named sshd by name (vigil_login_binaries), which would keep
// them quiet whatever the rule said of a root daemon's brackets; under
// another name only vigil_setid_by_root_started does, as it must for the
// daemons that list does not name (vsftpd, smbd, postfix). Each daemon
// listens on 127.0.0.1 only, with its own config (and host key, pid file)
// in a scratch directory, for a user this test makes and removes; each and
// its children live in a test cgroup of its own, stopped by pid.
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
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
import { own } from '../support/events.js';

const SSHD = '/usr/sbin/sshd';
const VSFTPD = '/usr/sbin/vsftpd';
const TOOLS = [SSHD, VSFTPD, '/usr/bin/ssh', '/usr/bin/ssh-keygen', '/usr/bin/curl', '/usr/sbin/useradd', '/usr/sbin/userdel', '/usr/sbin/chpasswd'];
/** The name the copy of sshd runs under (its comm): not one the rules leave out by name. */
const DAEMON = 'sshd-vigil';
const PRIVILEGE_RULES = ['Privileges raised to root with setuid', 'Group raised to root with setgid'];
const tag = randomBytes(4).toString('hex');
const run = promisify(execFile);

function daemonsMissing(): string | null {
  const gone = TOOLS.filter((p) => !existsSync(p));
  return gone.length ? `${gone.join(', ')} missing (Debian's openssh-server, openssh-client and vsftpd: bash scripts/setup.sh --test)` : null;
}

/** Whether something accepts a TCP connection on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** A port free on 127.0.0.1 a moment ago (the daemon given it fails at start if it is taken since). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describeWhere(kernelUnavailable() ?? daemonsMissing(), 'privilege rules against real root daemons that take root back', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let g: TestCgroup;
  let ftp: TestCgroup;
  let dir = '';
  let user = '';
  let uid = -1;
  let gid = -1;
  /** The user's password (vsftpd logs in with it; sshd takes the key alone). */
  const password = randomBytes(12).toString('hex');
  let port = 0;
  let ftpPort = 0;
  let sshd: ChildProcess | undefined;
  let sshdLog = (): string => '';
  let vsftpd: ChildProcess | undefined;
  let helper = '';
  const alerts: Alert[] = [];

  /** Starts a daemon in `group`, by pid, its stderr kept; resolves when `ready` holds, fails if it exits first. */
  async function startDaemon(group: TestCgroup, path: string, args: string[], ready: (log: string) => boolean | Promise<boolean>): Promise<{ child: ChildProcess; log: () => string }> {
    const child = group.spawn(path, args);
    let log = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (log += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
    let exited = false;
    child.on('exit', () => (exited = true));
    await waitFor(`${path} ready`, async () => {
      if (exited) throw new Error(`${path} exited at start:\n${log}`);
      return ready(log);
    });
    return { child, log: () => log };
  }

  /** SIGTERM to a daemon this test started, and its exit awaited (the cgroup's kill takes what is left). */
  async function stopDaemon(child: ChildProcess | undefined): Promise<void> {
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5_000))]);
  }

  beforeAll(async () => {
    tree = new TestCgroupTree();
    g = tree.group('sshd');
    ftp = tree.group('vsftpd');
    dir = mkdtempSync(join(tmpdir(), 'vigil-setid-daemons-'));
    chmodSync(dir, 0o755); // the user reaches its home and the set-uid program through it
    const home = join(dir, 'home');
    // The user: its home in the scratch directory (not made by useradd), its own group, a password for vsftpd
    // (set after: '*' at first, not '!', which sshd would refuse as locked). Removed in afterAll, with the group.
    const name = `vigil-ssh-${tag}`;
    try {
      execFileSync('useradd', ['-M', '-U', '-d', home, '-s', '/bin/sh', '-p', '*', name], { stdio: 'pipe' });
    } finally {
      // Removed in afterAll if useradd made it, even if it then failed (it may leave the user without its group).
      if (readFileSync('/etc/passwd', 'utf8').includes(`\n${name}:`)) user = name;
    }
    uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    execFileSync('chpasswd', [], { input: `${user}:${password}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
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
    const d = await startDaemon(g, daemon, ['-D', '-e', '-f', config], (log) => log.includes(`Server listening on 127.0.0.1 port ${port}`));
    sshd = d.child;
    sshdLog = d.log;

    // vsftpd: local users with their password (PAM, Debian's /etc/pam.d/vsftpd), no anonymous login, in the
    // foreground; its empty chroot directory root's, as it requires. A file in the home, for the listing.
    mkdirSync(join(dir, 'ftp-empty'), { mode: 0o755 });
    writeFileSync(join(home, `vigil-ftp-${tag}`), 'x');
    chownSync(join(home, `vigil-ftp-${tag}`), uid, gid);
    ftpPort = await freePort();
    const ftpConfig = join(dir, 'vsftpd.conf');
    writeFileSync(ftpConfig, [
      'listen=YES', 'listen_ipv6=NO', 'listen_address=127.0.0.1', `listen_port=${ftpPort}`, 'background=NO',
      'anonymous_enable=NO', 'local_enable=YES', 'pam_service_name=vsftpd', `secure_chroot_dir=${join(dir, 'ftp-empty')}`,
      'xferlog_enable=NO', `vsftpd_log_file=${join(dir, 'vsftpd.log')}`, 'dirmessage_enable=NO', '',
    ].join('\n'));
    vsftpd = (await startDaemon(ftp, VSFTPD, [ftpConfig], () => accepts(ftpPort))).child;
  });

  afterAll(async () => {
    try {
      await stopDaemon(sshd);
      await stopDaemon(vsftpd);
      await t?.stop();
      // What is left of the daemons' connections, in the test's own cgroups only (cgroup.kill, Linux 5.14).
      for (const c of [g, ftp]) if (c && existsSync(join(c.dir, 'cgroup.kill'))) writeFileSync(join(c.dir, 'cgroup.kill'), '1');
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
      throw new Error(`ssh ${user}@127.0.0.1 -p ${port} ${command}: ${e.message}\nsshd said:\n${completeLines(sshdLog()).slice(-40).join('\n')}`);
    });
  }

  /** sshd's temporarily_use_uid / restore_uid on its process whose real uid stays root: the probe's setid events. */
  const drops = (): Event[] => t.of(g.id, 'setid').filter((e) => e.comm === DAEMON && e.call === 'setresuid' && e.uid === 0 && own(e).euid === 0 && own(e).idsAfter?.euid === uid && own(e).idsAfter?.uid === 0);
  const takesBack = (): Event[] => t.of(g.id, 'setid').filter((e) => e.comm === DAEMON && e.call === 'setresuid' && e.uid === 0 && own(e).euid === uid && own(e).idsAfter?.euid === 0 && own(e).idsAfter?.uid === 0);
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
    expect(t.of(g.id, 'setid').filter((e) => e.pid === monitor && e.call === 'setresgid' && own(e).euid === 0 && own(e).egid !== 0 && own(e).idsAfter?.egid === 0)).toHaveLength(back.length);

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

  /** Logs in to vsftpd as the test user and lists its home (NLST); the client runs outside the test cgroups. */
  function ftpList(): Promise<string> {
    return run('curl', ['-sS', '--max-time', '20', '--list-only', '--user', `${user}:${password}`, `ftp://127.0.0.1:${ftpPort}/`], { timeout: 30_000, encoding: 'utf8' })
      .then((r) => r.stdout)
      .catch((e: Error) => {
        throw new Error(`curl ftp://127.0.0.1:${ftpPort}/ as ${user}: ${e.message}`);
      });
  }

  it('a local user\'s FTP login: vsftpd enters the home as the user and takes root back, seen by the probe and not raised', async () => {
    // The login worked: the listing is of the user's home.
    expect((await ftpList()).split(/\r?\n/)).toContain(`vigil-ftp-${tag}`);
    const calls = (): Event[] => t.of(ftp.id, 'setid').filter((e) => e.comm === 'vsftpd');
    // The session process, root as forked: setreuid(-1, user) makes the user its effective and saved uid (the kernel
    // sets the saved uid to an effective one other than the real), so setreuid(-1, 0) takes root back through its
    // real uid alone; then setuid(user) for good, which closes the login's calls.
    const back = await waitFor('vsftpd taking root back', () => calls().find((e) => e.call === 'setreuid' && e.uid === 0 && own(e).euid === uid && own(e).idsAfter?.uid === 0 && own(e).idsAfter?.euid === 0 && own(e).idsAfter?.suid === uid));
    await waitFor('the session becoming the user for good', () => calls().find((e) => e.pid === back.pid && e.call === 'setuid' && own(e).idsAfter?.uid === uid && own(e).idsAfter?.suid === uid));
    const session = calls().filter((e) => e.pid === back.pid);
    expect(session.filter((e) => e.call === 'setreuid' && e.uid === 0 && own(e).euid === 0 && own(e).idsAfter?.euid === uid && own(e).idsAfter?.suid === uid)).toHaveLength(1);
    // Its group dropped and taken back too (after its uid: as root again).
    expect(session.filter((e) => e.call === 'setregid' && own(e).euid === 0 && own(e).egid === gid && own(e).idsAfter?.egid === 0)).toHaveLength(1);

    // Judged, not merely not yet judged: a set-uid root program the user runs next in vsftpd's cgroup raises its
    // alert; by then the calls before it have been through the rules.
    const r = await ftp.run('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', helper, 'euid']);
    expect(r.code, r.stderr).toBe(0);
    const a = await waitFor('the set-uid helper\'s alert in vsftpd\'s cgroup', () => alerts.find((x) => PRIVILEGE_RULES.includes(x.rule) && x.workload.cgroupPath === ftp.path && x.process.comm === 'suid-helper'));
    expect(a.rule).toBe('Privileges raised to root with setuid');
    expect(alerts.filter((x) => PRIVILEGE_RULES.includes(x.rule) && x.workload.cgroupPath === ftp.path && x.process.comm !== 'suid-helper')).toEqual([]);
  });
});

// Every built-in rule on the real kernel: a real behaviour run in a test
// container (a cgroup v2 directory) raises the rule's alert, and a benign
// neighbour doing something close to it, in its own container, does not.
// Files created under /etc, /var/log, /boot, /usr/local, /home, /run and
// /dev/shm have unique names and are removed afterwards; no existing
// system file is written. Network traffic stays on loopback or in network
// namespaces the tests create.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Alert } from '../../src/model/alert.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, repoRoot, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';
import { SyntheticProbe } from '../support/synthetic-probe.js';
import { own as ownOf } from '../support/events.js';

const PY = '/usr/bin/python3';
const uring = join(repoRoot, '.vigil-test/uring-rules');
const setidBracket = join(repoRoot, '.vigil-test/setid-bracket');
const tag = randomBytes(4).toString('hex');

describeKernel('built-in rules on the real kernel', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let work: string;
  let home: string;
  const alerts: Alert[] = [];
  /** Paths to remove at the end (files or directories this test created). */
  const created: string[] = [];
  const servers: (Server | HttpServer)[] = [];
  let listenPort = 0;
  let httpPort = 0;
  /** Pairs of test containers, one pair per test. */
  const pairs: { bad: TestCgroup; benign: TestCgroup }[] = [];

  /** A path this test owns under a system directory: removed at the end. */
  function own(path: string): string {
    created.push(path);
    return path;
  }

  /** /bin/true copied under another name (comm and exe path are what rules read). */
  function binary(name: string, dir = join(work, 'bin')): string {
    mkdirSync(dir, { recursive: true });
    const p = join(dir, name);
    copyFileSync('/bin/true', p);
    chmodSync(p, 0o755);
    return p;
  }

  async function listen(server: Server, port: number, host = '127.0.0.1'): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    servers.push(server);
    const a = server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  beforeAll(async () => {
    tree = new TestCgroupTree();
    // Made before the engine starts, so its start-up scan knows their paths:
    // a cgroup made later is resolved through /proc/PID/cgroup, which a
    // process that has already exited no longer has.
    mkdirSync(join(repoRoot, '.vigil-test'), { recursive: true });
    execFileSync('cc', ['-O2', '-o', uring, join(repoRoot, 'test/kernel/uring.c')]);
    execFileSync('cc', ['-O2', '-o', setidBracket, join(repoRoot, 'test/kernel/setid-bracket.c')]);
    for (let i = 1; i <= 75; i++) pairs.push({ bad: tree.group(`bad-${i}`), benign: tree.group(`benign-${i}`) });
    t = await TestEngine.start({ sinks: [] });
    t.engine.onAlert((a) => alerts.push(a));
    await t.startProbe();
    work = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-rules-')));
    home = own(`/home/vigil-test-${tag}`);
    mkdirSync(join(home, '.ssh'), { recursive: true });
    mkdirSync(join(home, '.aws'), { recursive: true });
    listenPort = await listen(createServer((c) => c.destroy()), 0);
    const payload = readFileSync('/bin/true');
    const http = createHttpServer((_req, res) => res.end(payload));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    servers.push(http);
    httpPort = (http.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const s of servers) s.close();
    await t?.stop();
    await tree?.remove();
    for (const p of created.reverse()) rmSync(p, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Runs a command in a cgroup and waits until the engine has seen it exit. */
  async function run(g: TestCgroup, cmd: string, args: string[]): Promise<void> {
    const r = await g.run(cmd, args);
    await waitFor(`the exit of ${cmd} in ${g.path}`, () => t.of(g.id, 'exit').some((e) => e.pid === r.pid));
  }

  /**
   * The rule fires for what `bad` does in a fresh container, and not for
   * what `benign` does in another (run first, so its events are in by the
   * time the alert is).
   */
  function nextPair(): { b: TestCgroup; g: TestCgroup } {
    const p = pairs.shift();
    if (!p) throw new Error('more tests than test containers: raise the count in beforeAll');
    return { b: p.bad, g: p.benign };
  }

  async function firesOnlyFor(rule: string, technique: string, bad: (g: TestCgroup) => Promise<void>, benign: (g: TestCgroup) => Promise<void>): Promise<Alert> {
    const { b, g } = nextPair();
    await benign(g);
    await bad(b);
    const a = await waitFor(`'${rule}' for ${b.path}`, () => alerts.find((x) => x.rule === rule && x.workload.cgroupPath === b.path), 10_000);
    expect(alerts.filter((x) => x.rule === rule && x.workload.cgroupPath === g.path)).toEqual([]);
    expect(a.source).toBe('rule');
    expect(a.tags).toContain(technique);
    return a;
  }

  const sh = (g: TestCgroup, script: string): Promise<void> => run(g, '/bin/sh', ['-c', script]);
  const py = (g: TestCgroup, script: string): Promise<void> => run(g, PY, ['-c', script]);
  const cat = (path: string) => (g: TestCgroup): Promise<void> => run(g, '/bin/cat', [path]);

  // ---- execution ---------------------------------------------------------

  it('Shell spawned in a container', async () => {
    const a = await firesOnlyFor('Shell spawned in a container', 'T1059.004', (g) => run(g, '/bin/bash', ['-c', 'true']), (g) => run(g, '/bin/true', []));
    expect(a.output).toMatch(/^Shell spawned in a container \| shell=bash /);
    expect(a.workload.kind).toBe('cgroup');
  });

  it('Shell spawned by a server process', async () => {
    const nginx = join(work, 'srv', 'nginx');
    const worker = join(work, 'srv', 'worker');
    mkdirSync(join(work, 'srv'), { recursive: true });
    for (const p of [nginx, worker]) {
      copyFileSync('/bin/bash', p);
      chmodSync(p, 0o755);
    }
    // bash under another name forks the shell (two commands, so no exec in place).
    await firesOnlyFor('Shell spawned by a server process', 'T1505.003', (g) => run(g, nginx, ['-c', '/bin/sh -c true; true']), (g) => run(g, worker, ['-c', '/bin/sh -c true; true']));
  });

  it('Package manager run in a container', async () => {
    await firesOnlyFor('Package manager run in a container', 'T1105', (g) => run(g, '/usr/bin/dpkg', ['--version']), (g) => run(g, '/usr/bin/dpkg-query', ['--version']));
  });

  it('Execution from a temporary directory', async () => {
    const dropped = binary('dropped');
    await firesOnlyFor('Execution from a temporary directory', 'T1059', (g) => run(g, dropped, []), (g) => run(g, '/bin/true', []));
  });

  it('Program run from /dev/shm', async () => {
    const p = own(`/dev/shm/vigil-test-${tag}`);
    copyFileSync('/bin/true', p);
    chmodSync(p, 0o755);
    await firesOnlyFor('Program run from /dev/shm', 'T1059.004', (g) => run(g, p, []), (g) => run(g, '/bin/true', []));
  });

  it('Fileless execution from memory', async () => {
    const memfd = [
      'import ctypes, os',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'fd = libc.memfd_create(b"payload", 0)',
      'os.write(fd, open("/bin/true", "rb").read())',
      'pid = os.fork()',
      'if pid == 0: os.execv("/proc/self/fd/%d" % fd, ["payload"])',
      'os.waitpid(pid, 0)',
    ].join('\n');
    const plain = 'import os\npid = os.fork()\nif pid == 0: os.execv("/bin/true", ["true"])\nos.waitpid(pid, 0)';
    const a = await firesOnlyFor('Fileless execution from memory', 'T1620', (g) => py(g, memfd), (g) => py(g, plain));
    expect(a.priority).toBe('critical');
  });

  it('Downloaded file executed', async () => {
    const d = join(work, 'dl');
    mkdirSync(d, { recursive: true });
    const url = `http://127.0.0.1:${httpPort}/payload`;
    await firesOnlyFor(
      'Downloaded file executed', 'T1105',
      (g) => sh(g, `curl -s -o ${d}/payload ${url} && chmod +x ${d}/payload && ${d}/payload`),
      (g) => sh(g, `curl -s -o ${d}/data ${url} && chmod +x ${d}/data && /bin/true`),
    );
  });

  it('Crypto miner run', async () => {
    const xmrig = binary('xmrig');
    const helper = binary('xmrig-helper');
    await firesOnlyFor('Crypto miner run', 'T1496', (g) => run(g, xmrig, ['-o', 'pool.example:3333']), (g) => run(g, helper, []));
  });

  it('Mining pool URL on a command line', async () => {
    await firesOnlyFor('Mining pool URL on a command line', 'T1496', (g) => run(g, '/bin/true', ['-o', 'stratum+tcp://pool.example:3333']), (g) => run(g, '/bin/true', ['-o', 'https://example.com']));
  });

  it('Base64 payload decoded in a container', async () => {
    await firesOnlyFor('Base64 payload decoded in a container', 'T1140', (g) => sh(g, 'echo aGk= | base64 -d'), (g) => sh(g, 'echo hi | base64'));
  });

  it('Data destruction tool run', async () => {
    writeFileSync(join(work, 'victim'), 'x');
    writeFileSync(join(work, 'victim2'), 'x');
    await firesOnlyFor('Data destruction tool run', 'T1485', (g) => run(g, '/usr/bin/shred', ['-u', join(work, 'victim')]), (g) => run(g, '/bin/rm', [join(work, 'victim2')]));
  });

  it('Account management tool run in a container', async () => {
    const useradd = binary('useradd');
    const userinfo = binary('userinfo');
    await firesOnlyFor('Account management tool run in a container', 'T1136.001', (g) => run(g, useradd, ['mallory']), (g) => run(g, userinfo, []));
  });

  // ---- credentials -------------------------------------------------------

  it('Shadow or sudoers file read', async () => {
    await firesOnlyFor('Shadow or sudoers file read', 'T1003.008', cat('/etc/shadow'), cat('/etc/hostname'));
  });

  it('Sensitive file opened through another name', async () => {
    // A symlink to /etc/shadow read; the neighbour reads it by its own name (test/kernel/files.test.ts has every other alias).
    const link = join(work, 'not-shadow');
    symlinkSync('/etc/shadow', link);
    await firesOnlyFor('Sensitive file opened through another name', 'T1003.008', cat(link), cat('/etc/shadow'));
  });

  it('SSH private key read', async () => {
    writeFileSync(join(home, '.ssh/id_ed25519'), 'not a real key\n');
    writeFileSync(join(home, '.ssh/id_ed25519.pub'), 'ssh-ed25519 AAAA test\n');
    await firesOnlyFor('SSH private key read', 'T1552.004', cat(join(home, '.ssh/id_ed25519')), cat(join(home, '.ssh/id_ed25519.pub')));
  });

  it('Cloud credentials read', async () => {
    writeFileSync(join(home, '.aws/credentials'), '[default]\naws_access_key_id = AKIAEXAMPLE\n');
    writeFileSync(join(home, '.aws/config'), '[default]\nregion = eu-west-1\n');
    await firesOnlyFor('Cloud credentials read', 'T1552.001', cat(join(home, '.aws/credentials')), cat(join(home, '.aws/config')));
  });

  it('Service account token read by a shell tool', async () => {
    const dir = '/run/secrets/kubernetes.io/serviceaccount';
    // Only what this test creates is removed: the highest directory that did not exist.
    for (const d of ['/run/secrets', '/run/secrets/kubernetes.io', dir]) {
      if (!existsSync(d)) {
        own(d);
        break;
      }
    }
    mkdirSync(dir, { recursive: true });
    for (const f of ['token', 'namespace']) {
      const p = join(dir, f);
      if (!existsSync(p)) writeFileSync(own(p), f === 'token' ? 'eyJ.test.token' : 'default');
    }
    await firesOnlyFor('Service account token read by a shell tool', 'T1528', cat(join(dir, 'token')), cat(join(dir, 'namespace')));
  });

  it('Search for private keys or passwords', async () => {
    mkdirSync(join(work, 'src'), { recursive: true });
    writeFileSync(join(work, 'src/readme'), 'hello\n');
    await firesOnlyFor('Search for private keys or passwords', 'T1552.001', (g) => run(g, '/bin/grep', ['-r', 'BEGIN RSA PRIVATE', join(work, 'src')]), (g) => run(g, '/bin/grep', ['-r', 'hello', join(work, 'src')]));
  });

  it('Process memory read through /proc', async () => {
    const open = (file: string) => `import subprocess\np = subprocess.Popen(["sleep", "5"])\nopen("/proc/%d/${file}" % p.pid, "rb").close()\np.kill(); p.wait()`;
    await firesOnlyFor('Process memory read through /proc', 'T1003.007', (g) => py(g, open('mem')), (g) => py(g, open('status')));
  });

  // ---- files ------------------------------------------------------------

  it('Write below /etc', async () => {
    const f = own(`/etc/vigil-test-${tag}`);
    await firesOnlyFor('Write below /etc', 'T1098', (g) => sh(g, `echo x > ${f}`), (g) => sh(g, `echo x > ${work}/etc-like`));
  });

  it('Write below binary directories', async () => {
    const f = own(`/usr/local/bin/vigil-test-${tag}`);
    await firesOnlyFor('Write below binary directories', 'T1554', (g) => sh(g, `echo x > ${f}`), (g) => sh(g, `echo x > ${work}/bin-like`));
  });

  it('Write below /boot', async () => {
    const f = own(`/boot/vigil-test-${tag}`);
    await firesOnlyFor('Write below /boot', 'T1542', (g) => sh(g, `echo x > ${f}`), (g) => sh(g, `echo x > ${work}/boot-like`));
  });

  it('Account or sudoers file modified', async () => {
    if (!existsSync('/etc/sudoers.d')) own('/etc/sudoers.d');
    mkdirSync('/etc/sudoers.d', { recursive: true });
    // sudo skips files in sudoers.d whose names contain a dot.
    const f = own(`/etc/sudoers.d/vigil-test.${tag}`);
    await firesOnlyFor('Account or sudoers file modified', 'T1548.003', (g) => sh(g, `echo '# vigil test' > ${f}`), (g) => sh(g, `echo '# vigil test' > ${work}/sudoers`));
  });

  it('SSH authorized keys modified', async () => {
    await firesOnlyFor('SSH authorized keys modified', 'T1098.004', (g) => sh(g, `echo 'ssh-ed25519 AAAA x' >> ${home}/.ssh/authorized_keys`), (g) => sh(g, `echo 'host ssh-ed25519 AAAA' >> ${home}/.ssh/known_hosts`));
  });

  it('Dynamic linker preload configured', async () => {
    // Opened for writing and nothing written: appended to if it exists, else created empty and removed at once.
    const touch = (p: string) =>
      `import os\ntry:\n    os.close(os.open("${p}", os.O_WRONLY | os.O_APPEND))\nexcept FileNotFoundError:\n    os.close(os.open("${p}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)); os.unlink("${p}")`;
    const a = await firesOnlyFor('Dynamic linker preload configured', 'T1574.006', (g) => py(g, touch('/etc/ld.so.preload')), (g) => py(g, touch(`${work}/ld.so.preload`)));
    expect(a.priority).toBe('critical');
  });

  it('Setuid or setgid bit set', async () => {
    writeFileSync(join(work, 'suid'), '');
    writeFileSync(join(work, 'plain'), '');
    await firesOnlyFor('Setuid or setgid bit set', 'T1548.001', (g) => run(g, '/bin/chmod', ['u+s', join(work, 'suid')]), (g) => run(g, '/bin/chmod', ['755', join(work, 'plain')]));
  });

  it('Log file cleared', async () => {
    const log = own(`/var/log/vigil-test-${tag}.log`);
    const other = own(`/var/log/vigil-test-${tag}-append.log`);
    writeFileSync(log, 'evidence\n');
    await firesOnlyFor('Log file cleared', 'T1070.002', (g) => sh(g, `: > ${log}`), (g) => sh(g, `echo more >> ${other}`));
  });

  it('Log file deleted', async () => {
    const log = own(`/var/log/vigil-test-${tag}-delete.log`);
    writeFileSync(log, 'evidence\n');
    writeFileSync(join(work, 'app.log'), 'x\n');
    await firesOnlyFor('Log file deleted', 'T1070.002', (g) => run(g, '/bin/rm', [log]), (g) => run(g, '/bin/rm', [join(work, 'app.log')]));
  });

  it('Shell history deleted or emptied', async () => {
    mkdirSync(join(work, 'h'), { recursive: true });
    writeFileSync(join(work, 'h/.bash_history'), 'ls\n');
    writeFileSync(join(work, 'h/notes'), 'x\n');
    await firesOnlyFor('Shell history deleted or emptied', 'T1070.003', (g) => run(g, '/bin/rm', [join(work, 'h/.bash_history')]), (g) => run(g, '/bin/rm', [join(work, 'h/notes')]));
  });

  it('Cron job created or modified', async () => {
    // cron skips files in cron.d whose names contain a dot.
    const f = own(`/etc/cron.d/vigil-test.${tag}`);
    await firesOnlyFor('Cron job created or modified', 'T1053.003', (g) => sh(g, `echo '# vigil test' > ${f}`), (g) => sh(g, `echo '# vigil test' > ${work}/crontab`));
  });

  it('Scheduled task added with crontab or at', async () => {
    // /bin/true named crontab: the machine's own cron tables are never touched.
    const crontab = binary('crontab');
    writeFileSync(join(work, 'job'), '* * * * * /bin/true\n');
    await firesOnlyFor('Scheduled task added with crontab or at', 'T1053.003', (g) => run(g, crontab, [join(work, 'job')]), (g) => run(g, crontab, ['-l']));
  });

  it('Hidden file created in a system or temporary directory', async () => {
    const hidden = own(`/dev/shm/.vigil-test-${tag}`);
    const plain = own(`/dev/shm/vigil-test-${tag}-plain`);
    const a = await firesOnlyFor('Hidden file created in a system or temporary directory', 'T1564.001', (g) => sh(g, `echo x > ${hidden}`), (g) => sh(g, `echo x > ${plain}`));
    expect(a.output).toContain(`file=${hidden} `);
  });

  it('Hidden file created: moved into a hidden name below /tmp', async () => {
    const d = own(join('/tmp', `vigil-test-${tag}-mv`));
    mkdirSync(d, { recursive: true });
    await firesOnlyFor(
      'Hidden file created in a system or temporary directory', 'T1564.001',
      (g) => sh(g, `echo x > ${d}/payload && mv ${d}/payload ${d}/.payload`),
      (g) => sh(g, `echo x > ${d}/data && mv ${d}/data ${d}/data.old`),
    );
  });

  it('Systemd unit created or modified', async () => {
    const f = own(`/etc/systemd/system/vigil-test-${tag}.service`);
    await firesOnlyFor('Systemd unit created or modified', 'T1543.002', (g) => sh(g, `echo '[Unit]' > ${f}`), (g) => sh(g, `echo '[Unit]' > ${work}/x.service`));
  });

  // ---- network -----------------------------------------------------------

  it('Network tool run in a container', async () => {
    const nc = binary('nc');
    const ncdu = binary('ncdu');
    await firesOnlyFor('Network tool run in a container', 'T1095', (g) => run(g, nc, ['-z', '127.0.0.1', String(listenPort)]), (g) => run(g, ncdu, []));
  });

  it('Netcat with command execution', async () => {
    const nc = binary('nc');
    await firesOnlyFor('Netcat with command execution', 'T1059', (g) => run(g, nc, ['-e', '/bin/sh', '127.0.0.1', String(listenPort)]), (g) => run(g, nc, ['-z', '127.0.0.1', String(listenPort)]));
  });

  it('Remote file copy tool run in a container: scp', async () => {
    // To the test's loopback listener, which closes at once: the copy fails, the attempt is what counts.
    const scp = ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=2', '-P', String(listenPort), '/etc/hostname', '127.0.0.1:/tmp/x'];
    const a = await firesOnlyFor('Remote file copy tool run in a container', 'T1105', (g) => run(g, '/usr/bin/scp', scp), (g) => run(g, '/usr/bin/ssh', ['-V']));
    expect(a.tags).toContain('T1048');
  });

  it('Remote file copy tool run in a container: curl writing a file, not curl to stdout', async () => {
    const url = `http://127.0.0.1:${httpPort}/payload`;
    await firesOnlyFor('Remote file copy tool run in a container', 'T1105', (g) => run(g, '/usr/bin/curl', ['-s', '-o', join(work, 'fetched'), url]), (g) => run(g, '/usr/bin/curl', ['-s', '-I', url]));
  });

  it('Network scanner run', async () => {
    const nmap = binary('nmap');
    const report = binary('nmap-report');
    await firesOnlyFor('Network scanner run', 'T1046', (g) => run(g, nmap, ['-p-', '127.0.0.1']), (g) => run(g, report, []));
  });

  it('Standard input or output redirected to a socket', async () => {
    const a = await firesOnlyFor(
      'Standard input or output redirected to a socket', 'T1059',
      (g) => run(g, '/bin/bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${listenPort}; exec 0<&3 1>&3 2>&3; true`]),
      (g) => run(g, '/bin/bash', ['-c', `exec 1>${work}/out.txt; true`]),
    );
    expect(a.output).toContain(`->127.0.0.1:${listenPort}`);
  });

  it('Standard input or output redirected to a socket, through fcntl(F_DUPFD) and dup', async () => {
    const redirect = (dup: string) => `import socket, os, fcntl, ctypes\ns = socket.create_connection(("127.0.0.1", ${listenPort}))\nos.close(0)\n${dup}`;
    await firesOnlyFor('Standard input or output redirected to a socket', 'T1059', (g) => py(g, redirect('fcntl.fcntl(s.fileno(), fcntl.F_DUPFD, 0)')), (g) => py(g, redirect('fcntl.fcntl(s.fileno(), fcntl.F_DUPFD, 3)')));
    await firesOnlyFor('Standard input or output redirected to a socket', 'T1059', (g) => py(g, redirect('ctypes.CDLL(None).dup(s.fileno())')), (g) => py(g, redirect('os.dup2(s.fileno(), 5)')));
  });

  it('Raw or packet socket opened', async () => {
    await firesOnlyFor('Raw or packet socket opened', 'T1040', (g) => py(g, 'import socket\nsocket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()'), (g) => py(g, 'import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()'));
  });

  it('Program started with a network socket as its standard input or output', async () => {
    // bash's /dev/tcp on stdin and stdout, then a program started with it; the neighbour's stdout is a file.
    const a = await firesOnlyFor(
      'Program started with a network socket as its standard input or output', 'T1059',
      (g) => run(g, '/bin/bash', ['-c', `exec 0<>/dev/tcp/127.0.0.1/${listenPort} 1>&0; /bin/true`]),
      (g) => run(g, '/bin/bash', ['-c', `exec 1>${work}/out2.txt; /bin/true`]),
    );
    expect(a.output).toContain('stdin=ipv4 stdout=ipv4');
  });

  it('Shell opened a network connection', async () => {
    await firesOnlyFor(
      'Shell opened a network connection', 'T1059.004',
      (g) => run(g, '/bin/bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${listenPort}`]),
      (g) => py(g, `import socket\nsocket.create_connection(("127.0.0.1", ${listenPort})).close()`),
    );
  });

  it('Connection to a mining pool port', async () => {
    let pool = 0;
    for (const port of [45700, 45560, 14444, 14433, 7778, 5730]) {
      try {
        pool = await listen(createServer((c) => c.destroy()), port);
        break;
      } catch {
        // in use: try the next pool port
      }
    }
    expect(pool).toBeGreaterThan(0);
    const connect = (port: number) => `import socket\nsocket.create_connection(("127.0.0.1", ${port})).close()`;
    await firesOnlyFor('Connection to a mining pool port', 'T1496', (g) => py(g, connect(pool)), (g) => py(g, connect(listenPort)));
  });

  it('Cloud metadata service contacted from a container', async () => {
    // In a network namespace of its own, the metadata address is on the loopback device: nothing leaves the node.
    const inNetns = (addr: string) => [
      '-n', '/bin/sh', '-c',
      `ip link set lo up && ip addr add ${addr}/32 dev lo && ${PY} -c 'import socket; s = socket.socket(); s.settimeout(2); s.connect_ex(("${addr}", 80))'`,
    ];
    await firesOnlyFor('Cloud metadata service contacted from a container', 'T1552.005', (g) => run(g, '/usr/bin/unshare', inNetns('169.254.169.254')), (g) => run(g, '/usr/bin/unshare', inNetns('169.254.1.1')));
  });

  it('Container runtime socket contacted', async () => {
    const docker = join(work, 'run', 'docker.sock');
    const app = join(work, 'run', 'app.sock');
    mkdirSync(join(work, 'run'), { recursive: true });
    for (const p of [docker, app]) {
      const s = createServer((c) => c.destroy());
      await new Promise<void>((r) => s.listen(p, r));
      servers.push(s);
    }
    const connect = (p: string) => `import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect("${p}")\ns.close()`;
    await firesOnlyFor('Container runtime socket contacted', 'T1611', (g) => py(g, connect(docker)), (g) => py(g, connect(app)));
  });

  it('Internal port scan', async () => {
    const scan = `import socket\nfor port in range(21000, 21060):\n    s = socket.socket(); s.settimeout(1); s.connect_ex(("127.0.0.1", port)); s.close()`;
    const few = `import socket\nfor _ in range(5):\n    socket.create_connection(("127.0.0.1", ${listenPort})).close()`;
    const a = await firesOnlyFor('Internal port scan', 'T1046', (g) => py(g, scan), (g) => py(g, few));
    expect(a.fields['threshold.count']).toBe(40);
  });

  it('Connection burst', async () => {
    // A closed loopback port answers at once with a reset: a burst without a server.
    const burst = (k: number) => `import socket\nfor _ in range(${k}):\n    s = socket.socket(); s.connect_ex(("127.0.0.1", 21999)); s.close()`;
    const a = await firesOnlyFor('Connection burst', 'T1498', (g) => py(g, burst(250)), (g) => py(g, burst(20)));
    expect(a.fields['threshold.count']).toBe(200);
  });

  // ---- privilege, kernel, escape -----------------------------------------

  it('Process attached with ptrace', async () => {
    const attach = [
      'import ctypes, os, signal, time',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'child = os.fork()',
      'if child == 0:',
      '    time.sleep(5); os._exit(0)',
      'libc.ptrace(16, child, 0, 0)', // PTRACE_ATTACH
      'os.kill(child, signal.SIGKILL); os.waitpid(child, 0)',
    ].join('\n');
    const noAttach = 'import os, signal, time\nchild = os.fork()\nif child == 0:\n    time.sleep(5); os._exit(0)\nos.kill(child, signal.SIGKILL); os.waitpid(child, 0)';
    await firesOnlyFor('Process attached with ptrace', 'T1055.008', (g) => py(g, attach), (g) => py(g, noAttach));
  });

  it('Anti-debugging with PTRACE_TRACEME', async () => {
    await firesOnlyFor('Anti-debugging with PTRACE_TRACEME', 'T1622', (g) => py(g, 'import ctypes\nctypes.CDLL(None).ptrace(0, 0, 0, 0)'), (g) => py(g, 'import ctypes\nctypes.CDLL(None).getpid()'));
  });

  it('Kernel module loaded (a synthetic event over the real gRPC stream: this kernel has no loadable modules)', async () => {
    // No init_module/finit_module tracepoints and no /proc/modules here, so
    // the probe cannot see a module load: a second, synthetic probe session
    // sends the event the probe would.
    const { b, g } = nextPair();
    const probe = SyntheticProbe.connect(t.config.engine.listen, { nodeName: 'test-node' });
    try {
      probe.sendBatch([
        { pid: 4_000_001, ppid: 1, comm: 'modprobe', cgroupId: Number(g.id), open: { path: '/lib/modules/x/modules.dep', flags: 0, mode: 0, result: 3 } },
        { pid: 4_000_002, ppid: 1, comm: 'insmod', cgroupId: Number(b.id), moduleLoad: { call: 'finit_module', path: '/tmp/rootkit.ko', result: 0 } },
      ]);
      const a = await waitFor('the module alert', () => alerts.find((x) => x.rule === 'Kernel module loaded' && x.workload.cgroupPath === b.path));
      expect(a.tags).toContain('T1547.006');
      expect(a.output).toContain('module=/tmp/rootkit.ko');
      expect(alerts.filter((x) => x.rule === 'Kernel module loaded' && x.workload.cgroupPath === g.path)).toEqual([]);
    } finally {
      await probe.close();
    }
  });

  it('BPF used in a container: a program loaded, not a map made', async () => {
    // BPF_PROG_LOAD of a two-instruction socket filter (r0 = 0; exit), and BPF_MAP_CREATE of a small array.
    const call = (cmd: number, fill: string[]) => [
      'import ctypes, struct',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'attr = bytearray(128)',
      ...fill,
      'buf = (ctypes.c_char * 128).from_buffer(attr)',
      `print(libc.syscall(321, ${cmd}, buf, 128))`,
    ].join('\n');
    const load = call(5, [
      "insns = ctypes.create_string_buffer(struct.pack('<BBhiBBhi', 0xb7, 0, 0, 0, 0x95, 0, 0, 0))",
      "lic = ctypes.create_string_buffer(b'GPL')",
      "struct.pack_into('IIQQ', attr, 0, 1, 2, ctypes.addressof(insns), ctypes.addressof(lic))",
      "attr[48:57] = b'vigiltest'",
    ]);
    const map = call(0, ["struct.pack_into('IIII', attr, 0, 2, 4, 4, 4)"]);
    const a = await firesOnlyFor('BPF used in a container', 'T1611', (g) => py(g, load), (g) => py(g, map));
    expect(a.priority).toBe('critical');
    expect(a.output).toMatch(/cmd=BPF_PROG_LOAD result=SUCCESS blocked=false process=python3 /);
  });

  it('Privileges raised to root with setuid', async () => {
    // As a set-uid root helper run by uid 1000: real and effective uid 1000, root kept as the saved one, then root
    // taken back (seteuid: setresuid(-1, 0, -1)); the group likewise (setegid: setresgid(-1, gid, -1)).
    const back = 'import os\nos.setresgid(1000, 1000, 0)\nos.setresuid(1000, 1000, 0)\nos.seteuid(0)\nos.setegid(0)';
    // Root's no-op calls, as make, shells and sudo-like tools make them by the hundred, then a drop for good.
    const noop = 'import os, ctypes\nos.setresuid(0, 0, 0)\nos.setuid(0)\nos.setreuid(0, 0)\nos.seteuid(0)\nos.setresuid(0, -1, -1)\nctypes.CDLL(None).setfsuid(0)\nos.setuid(65534)';
    let raised: TestCgroup | undefined;
    let quiet: TestCgroup | undefined;
    const a = await firesOnlyFor('Privileges raised to root with setuid', 'T1548', (g) => {
      raised = g;
      return py(g, back);
    }, (g) => {
      quiet = g;
      return py(g, noop);
    });
    expect(a.output).toMatch(/ call=setresuid uid_asked=root uid=1000->1000 euid=1000->0 suid=0->0 fsuid=1000->0 process=python3 /);
    const gidBack = t.of(raised!.id, 'setid').find((e) => e.call === 'setresgid' && e.id === 0);
    expect(gidBack).toMatchObject({ result: 0, gid: 1000, more: { egid: 1000, sgid: 0, euid: 0 } });
    // The no-op calls were seen, as root's: quiet for what they were, not missed.
    const noops = t.of(quiet!.id, 'setid').filter((e) => e.call !== 'setuid' || e.id === 0);
    expect(noops.map((e) => e.call).sort()).toEqual(['setfsuid', 'setresuid', 'setresuid', 'setresuid', 'setreuid', 'setuid']);
    const root = { uid: 0, euid: 0, suid: 0, fsuid: 0, gid: 0, egid: 0, sgid: 0, fsgid: 0 };
    for (const e of noops) expect({ ...ownOf(e).idsAfter, uid: e.uid, euid: ownOf(e).euid, suid: ownOf(e).suid, fsuid: ownOf(e).fsuid }).toEqual(root);
  });

  it('Privileges raised to root with setuid: through setfsuid, judged by the fsuid it left (a refused one returns no error)', async () => {
    // A process keeping root as its saved uid only takes it as its file system uid; setfsuid returns the old fsuid.
    const took = 'import os, ctypes\nos.setresuid(1000, 1000, 0)\nassert ctypes.CDLL(None).setfsuid(0) == 1000';
    // uid 1000 through and through asks for fsuid 0: refused, and told only by the old fsuid coming back (1000 again).
    const refused = 'import os, ctypes\nos.setresuid(1000, 1000, 1000)\nlibc = ctypes.CDLL(None)\nlibc.setfsuid(0)\nassert libc.setfsuid(-1) == 1000';
    let quiet: TestCgroup | undefined;
    const a = await firesOnlyFor('Privileges raised to root with setuid', 'T1548', (g) => py(g, took), (g) => {
      quiet = g;
      return py(g, refused);
    });
    expect(a.output).toMatch(/ call=setfsuid uid_asked=root uid=1000->1000 euid=1000->1000 suid=0->0 fsuid=1000->0 process=python3 /);
    // The refused call was seen (a result, no error): quiet for what it did, not missed.
    const ask = t.of(quiet!.id, 'setid').find((e) => e.call === 'setfsuid' && e.id === 0);
    expect(ask).toMatchObject({ result: 1000, uid: 1000, more: { fsuid: 1000, idsAfter: { uid: 1000, euid: 1000, suid: 1000, fsuid: 1000 } } });
  });

  it('Privileges raised to root with setuid: the real uid alone (setresuid(0, -1, -1))', async () => {
    // Real uid 1000, saved 0: making the real uid root lets any later call take root, and an exec gets full permitted capabilities.
    const real = 'import os\nos.setresuid(1000, 1000, 0)\nos.setresuid(0, -1, -1)\nassert os.getresuid() == (0, 1000, 0)';
    // The same process setting its real uid to what it already is.
    const same = 'import os\nos.setresuid(1000, 1000, 0)\nos.setresuid(1000, -1, -1)\nassert os.getresuid() == (1000, 1000, 0)';
    const a = await firesOnlyFor('Privileges raised to root with setuid', 'T1548', (g) => py(g, real), (g) => py(g, same));
    expect(a.output).toMatch(/ call=setresuid uid_asked="<NONE>" uid=1000->0 euid=1000->1000 suid=0->0 fsuid=1000->1000 process=python3 /);
  });

  // The caller first drops its uid to 1000 keeping root as the saved one (as a set-uid helper does), so it has no
  // CAP_SETGID: taking gid 0 back works only through the saved gid, as for an unprivileged process.
  const dropTo = (gids: string) => `import os, ctypes\nlibc = ctypes.CDLL(None)\nos.setresgid(${gids})\nos.setresuid(1000, 1000, 0)\n`;

  it('Group raised to root with setgid', async () => {
    // Gid 1000 with root kept as the saved gid, then every gid root again.
    const back = `${dropTo('1000, 1000, 0')}os.setresgid(0, 0, 0)\nassert os.getresgid() == (0, 0, 0)`;
    // Root's no-op calls, as make (154 setresgid(0, 0, 0) per build), shells and daemons make them, then a drop for good.
    const noop = 'import os, ctypes\nos.setresgid(0, 0, 0)\nos.setgid(0)\nos.setregid(0, 0)\nos.setegid(0)\nos.setresgid(0, -1, -1)\nctypes.CDLL(None).setfsgid(0)\nos.setgid(65534)';
    let quiet: TestCgroup | undefined;
    const a = await firesOnlyFor('Group raised to root with setgid', 'T1548', (g) => py(g, back), (g) => {
      quiet = g;
      return py(g, noop);
    });
    expect(a.priority).toBe('warning');
    expect(a.output).toMatch(/^Group raised to root \| call=setresgid gid_asked=root gid=1000->0 egid=1000->0 sgid=0->0 fsgid=1000->0 process=python3 /);
    // The no-op calls were seen, as root's: quiet for what they were, not missed.
    const noops = t.of(quiet!.id, 'setid').filter((e) => e.call !== 'setgid' || e.id === 0);
    expect(noops.map((e) => e.call).sort()).toEqual(['setfsgid', 'setgid', 'setregid', 'setresgid', 'setresgid', 'setresgid']);
    const root = { uid: 0, euid: 0, suid: 0, fsuid: 0, gid: 0, egid: 0, sgid: 0, fsgid: 0 };
    for (const e of noops) expect({ ...ownOf(e).idsAfter, gid: e.gid, egid: ownOf(e).egid, sgid: ownOf(e).sgid, fsgid: ownOf(e).fsgid }).toEqual(root);
  });

  it('Group raised to root with setgid: setgid(0) through the saved gid; a refused setfsgid(0) (no error) is quiet', async () => {
    // Without CAP_SETGID, setgid(0) sets the effective (and file system) gid to the saved one.
    const took = `${dropTo('1000, 1000, 0')}os.setgid(0)\nassert os.getresgid() == (1000, 0, 0)`;
    // Gid 1000 through and through asks for fsgid 0: refused, and told only by the old fsgid coming back (1000 again).
    const refused = `${dropTo('1000, 1000, 1000')}libc.setfsgid(0)\nassert libc.setfsgid(-1) == 1000`;
    let quiet: TestCgroup | undefined;
    const a = await firesOnlyFor('Group raised to root with setgid', 'T1548', (g) => py(g, took), (g) => {
      quiet = g;
      return py(g, refused);
    });
    expect(a.output).toMatch(/ call=setgid gid_asked=root gid=1000->1000 egid=1000->0 sgid=0->0 fsgid=1000->0 process=python3 /);
    // The refused call was seen (a result, no error): quiet for what it did, not missed.
    const ask = t.of(quiet!.id, 'setid').find((e) => e.call === 'setfsgid' && e.id === 0);
    expect(ask).toMatchObject({ result: 1000, gid: 1000, more: { fsgid: 1000, idsAfter: { gid: 1000, egid: 1000, sgid: 1000, fsgid: 1000 } } });
  });

  it('Group raised to root with setgid: through setfsgid, judged by the fsgid it left', async () => {
    // A process keeping root as its saved gid only takes it as its file system gid; setfsgid returns the old fsgid.
    const took = `${dropTo('1000, 1000, 0')}assert libc.setfsgid(0) == 1000\nassert libc.setfsgid(-1) == 0`;
    // The same process setting its file system gid to what it already is.
    const same = `${dropTo('1000, 1000, 0')}assert libc.setfsgid(1000) == 1000`;
    const a = await firesOnlyFor('Group raised to root with setgid', 'T1548', (g) => py(g, took), (g) => py(g, same));
    expect(a.output).toMatch(/ call=setfsgid gid_asked=root gid=1000->1000 egid=1000->1000 sgid=0->0 fsgid=1000->0 process=python3 /);
  });

  // A daemon started as root that works as nobody and takes its root back, as smbd, sshd, postfix, vsftpd and
  // nfs-ganesha do all day (test/kernel/setid-bracket.c): beside it, set-uid and set-gid root copies of the same
  // program run by nobody, which take root they were not started with.
  const ROUNDS = 4;
  const PRIVILEGE_RULES = ['Privileges raised to root with setuid', 'Group raised to root with setgid'];
  let setidDir = '';
  /** setid-bracket copied as root's, with the set-uid (or set-gid) bit, in a directory nobody can reach. */
  function setidCopy(name: string, mode: number): string {
    if (!setidDir) {
      setidDir = own(mkdtempSync(join(tmpdir(), 'vigil-setid-')));
      chmodSync(setidDir, 0o755);
    }
    const p = join(setidDir, name);
    if (!existsSync(p)) {
      copyFileSync(setidBracket, p);
      chownSync(p, 0, 0);
      chmodSync(p, mode);
    }
    return p;
  }
  /** Runs a program and fails the test unless it exits 0 (each mode checks the ids its calls left). */
  async function runOk(g: TestCgroup, cmd: string, args: string[]): Promise<void> {
    const r = await g.run(cmd, args);
    expect(r.code, `${cmd} ${args.join(' ')}: ${r.stderr}`).toBe(0);
    await waitFor(`the exit of ${cmd} in ${g.path}`, () => t.of(g.id, 'exit').some((e) => e.pid === r.pid));
  }
  const bracketDaemon = (g: TestCgroup): Promise<void> => {
    const p = setidCopy('bracketd', 0o755);
    return runOk(g, p, ['daemon', String(ROUNDS)]);
  };
  const asNobody = (g: TestCgroup, program: string, mode: string): Promise<void> =>
    runOk(g, 'setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', program, mode]);

  it('Privileges raised to root with setuid: a set-uid root program taking back root, not a root daemon bracketing its work', async () => {
    let daemon: TestCgroup | undefined;
    const helper = setidCopy('suid-helper', 0o4755);
    const a = await firesOnlyFor('Privileges raised to root with setuid', 'T1548', (g) => asNobody(g, helper, 'euid'), (g) => {
      daemon = g;
      return bracketDaemon(g);
    });
    // seteuid(0) through the saved uid, by a process whose real uid is nobody's.
    expect(a.output).toMatch(/ call=setresuid uid_asked=root uid=65534->65534 euid=65534->0 suid=0->0 fsuid=65534->0 process=suid-helper /);
    // The daemon's calls were seen: each round's seteuid(0) and setfsuid(0) made an id root that was not, by a
    // process whose real uid stayed root, and neither rule raised them.
    const calls = t.of(daemon!.id, 'setid');
    expect(calls.filter((e) => e.call === 'setresuid' && e.uid === 0 && ownOf(e).euid === 65534 && ownOf(e).idsAfter?.euid === 0)).toHaveLength(ROUNDS);
    expect(calls.filter((e) => e.call === 'setfsuid' && e.uid === 0 && ownOf(e).fsuid === 65534 && ownOf(e).idsAfter?.fsuid === 0)).toHaveLength(ROUNDS);
    expect(alerts.filter((x) => PRIVILEGE_RULES.includes(x.rule) && x.workload.cgroupPath === daemon!.path)).toEqual([]);
  });

  it('Privileges raised to root with setuid: a set-uid root program making its real uid root (setresuid(0, -1, -1))', async () => {
    const helper = setidCopy('suid-helper', 0o4755);
    const a = await firesOnlyFor('Privileges raised to root with setuid', 'T1548', (g) => asNobody(g, helper, 'real'), bracketDaemon);
    expect(a.output).toMatch(/ call=setresuid uid_asked="<NONE>" uid=65534->0 euid=0->0 suid=0->0 fsuid=0->0 process=suid-helper /);
  });

  it('Group raised to root with setgid: a set-gid root program taking back gid 0, not a root daemon bracketing its work', async () => {
    let daemon: TestCgroup | undefined;
    const helper = setidCopy('sgid-helper', 0o2755);
    const a = await firesOnlyFor('Group raised to root with setgid', 'T1548', (g) => asNobody(g, helper, 'egid'), (g) => {
      daemon = g;
      return bracketDaemon(g);
    });
    expect(a.output).toMatch(/^Group raised to root \| call=setresgid gid_asked=root gid=65534->65534 egid=65534->0 sgid=0->0 fsgid=65534->0 process=sgid-helper .* uid=65534 /);
    // Every other round the daemon took its group back before its uid, as nobody through its real and saved gid 0;
    // and its setfsgid(0) each round: seen, and quiet.
    const calls = t.of(daemon!.id, 'setid');
    expect(calls.filter((e) => e.call === 'setresgid' && ownOf(e).euid === 65534 && e.gid === 0 && ownOf(e).egid === 65534 && ownOf(e).idsAfter?.egid === 0)).toHaveLength(ROUNDS / 2);
    expect(calls.filter((e) => e.call === 'setfsgid' && ownOf(e).fsgid === 65534 && ownOf(e).idsAfter?.fsgid === 0)).toHaveLength(ROUNDS);
    expect(alerts.filter((x) => PRIVILEGE_RULES.includes(x.rule) && x.workload.cgroupPath === daemon!.path)).toEqual([]);
  });

  it('Mount in a container', async () => {
    const target = join(work, 'mnt');
    mkdirSync(target, { recursive: true });
    await firesOnlyFor('Mount in a container', 'T1611', (g) => run(g, '/usr/bin/unshare', ['-m', '/bin/mount', '-t', 'tmpfs', `vigil-test-${tag}`, target]), (g) => run(g, '/bin/mount', ['--version']));
  });

  it('Namespace changed in a container', async () => {
    await firesOnlyFor('Namespace changed in a container', 'T1611', (g) => run(g, '/usr/bin/unshare', ['-U', '/bin/true']), (g) => run(g, '/usr/bin/unshare', ['--version']));
  });

  it('nsenter run in a container', async () => {
    await firesOnlyFor('nsenter run in a container', 'T1611', (g) => run(g, '/usr/bin/nsenter', ['--version']), (g) => run(g, '/usr/bin/unshare', ['--version']));
  });

  it('debugfs run or mounted', async () => {
    await firesOnlyFor('debugfs run or mounted', 'T1611', (g) => run(g, '/usr/sbin/debugfs', ['-R', 'stats', '/dev/null']), (g) => run(g, '/usr/sbin/dumpe2fs', ['-V']));
  });

  it('debugfs run or mounted: a debugfs mount', async () => {
    const target = join(work, 'dbg');
    mkdirSync(target, { recursive: true });
    await firesOnlyFor('debugfs run or mounted', 'T1006', (g) => run(g, '/usr/bin/unshare', ['-m', '/bin/mount', '-t', 'debugfs', 'none', target]), (g) => run(g, '/usr/bin/unshare', ['-m', '/bin/mount', '-t', 'tmpfs', 'none', target]));
  });

  it('Cgroup release_agent written', async () => {
    // A named cgroup v1 hierarchy of the test's own, in a private mount namespace: the agent written is /bin/true,
    // and the hierarchy (no cgroups below its root) goes when it is unmounted.
    const d = join(work, 'cgv1');
    mkdirSync(d, { recursive: true });
    const mount = `mount -t cgroup -o none,name=vigil-${tag} cgroup ${d}`;
    await firesOnlyFor(
      'Cgroup release_agent written', 'T1611',
      (g) => run(g, '/usr/bin/unshare', ['-m', '/bin/sh', '-c', `${mount} && echo /bin/true > ${d}/release_agent; umount ${d}`]),
      (g) => run(g, '/usr/bin/unshare', ['-m', '/bin/sh', '-c', `${mount} && cat ${d}/release_agent ${d}/notify_on_release; umount ${d}`]),
    );
  });

  it('Link to a sensitive file created', async () => {
    const a = await firesOnlyFor('Link to a sensitive file created', 'T1003.008', (g) => run(g, '/bin/ln', ['-s', '/etc/shadow', join(work, 'shadow-link')]), (g) => run(g, '/bin/ln', ['-s', '/etc/hostname', join(work, 'hostname-link')]));
    expect(a.output).toContain('target=/etc/shadow');
  });

  it('Directory made below a binary directory', async () => {
    const dir = own(`/usr/local/lib/vigil-test-${tag}`);
    await firesOnlyFor('Directory made below a binary directory', 'T1036.005', (g) => run(g, '/bin/mkdir', [dir]), (g) => run(g, '/bin/mkdir', [join(work, 'made')]));
  });

  it('userfaultfd used', async () => {
    await firesOnlyFor('userfaultfd used', 'T1068', (g) => py(g, 'import ctypes, os\nfd = ctypes.CDLL(None, use_errno=True).syscall(323, os.O_CLOEXEC)\nassert fd >= 0, ctypes.get_errno()'), (g) => run(g, '/bin/true', []));
  });

  it('io_uring ring set up in a container', async () => {
    await firesOnlyFor('io_uring ring set up in a container', 'T1562.001', (g) => run(g, uring, ['nop', 'x']), (g) => run(g, '/bin/true', []));
  });

  it('Dynamic loader variable set in a container', async () => {
    // The neighbour runs with LD_LIBRARY_PATH (images set it) and a preloaded jemalloc (on the exception list).
    const a = await firesOnlyFor('Dynamic loader variable set in a container', 'T1574.006',
      (g) => run(g, '/usr/bin/env', [`LD_PRELOAD=${work}/evil-${tag}.so`, '/bin/true']),
      (g) => run(g, '/usr/bin/env', ['LD_LIBRARY_PATH=/opt/vendor/lib', 'LD_PRELOAD=libjemalloc.so.2', '/bin/true']));
    expect(a.output).toContain(`ld_preload=${work}/evil-${tag}.so`);
  });

  it('Environment too large to inspect in a container', async () => {
    // A small environment of its own (env(1) itself runs with this test's), then LD_PRELOAD behind 9 KiB of padding.
    const env = async (g: TestCgroup, args: string[]): Promise<void> => {
      const r = await g.run('/usr/bin/env', args, { env: { PATH: '/usr/bin:/bin' } });
      await waitFor(`the exit of env in ${g.path}`, () => t.of(g.id, 'exit').some((e) => e.pid === r.pid));
    };
    const pad = Array.from({ length: 40 }, (_, i) => `PAD_${i}=${'x'.repeat(240)}`);
    const a = await firesOnlyFor('Environment too large to inspect in a container', 'T1574.006',
      (g) => env(g, ['-i', ...pad, `LD_PRELOAD=${work}/evil-${tag}.so`, '/bin/true']),
      (g) => env(g, ['-i', 'LANG=C', '/bin/true']));
    expect(a.priority).toBe('notice');
    expect(a.output).toMatch(/^Environment too large to inspect in a container \| process=true /);
  });

  it('covers every built-in rule', () => {
    const tested = new Set(alerts.filter((a) => a.workload.cgroupPath.startsWith(`${tree.root}/bad-`)).map((a) => a.rule));
    // Rules about the host's own processes cannot fire in this file's cgroups (containers to the rules): where each is tested.
    const hostOnly = new Map([
      ['BPF used on the node by another program', 'test/kernel/tamper.test.ts (bpftool from the root cgroup)'],
      ['Dynamic loader variable set on the node', 'test/kernel/env.test.ts (a program run from the root cgroup)'],
    ]);
    const builtin = t.engine.rules.report!.defined.map((d) => d.name);
    expect(builtin.filter((r) => !tested.has(r) && !hostOnly.has(r))).toEqual([]);
    for (const r of hostOnly.keys()) expect(builtin, r).toContain(r);
  });
});

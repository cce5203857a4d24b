// Falco's event generator as the test: each syscall action of
// falcosecurity/event-generator (events/syscall/, read for what it does; none
// of its code is here) reproduced by Vigil's own commands in a test
// container (a cgroup v2 directory of this file's own), asserting that the
// Falco rule it targets fires from the loaded ruleset, and the Vigil
// built-in rule that covers the same move.
//
// Rulesets: Falco's stable file is test data (test/fixtures/falco/). The
// incubating and sandbox files are not (fetched material stays out of the
// repository): set VIGIL_FALCO_RULES_DIR to a directory holding
// falco-incubating_rules.yaml and falco-sandbox_rules.yaml (falcosecurity/
// rules' rules/) to assert their rules too; without it a test asserts the
// stable rule and the built-in one.
//
// A Falco rule Vigil skips (a field or event it lacks) is asserted skipped
// for that reason; an action whose every rule waits on an event another
// branch adds is registered skipped with what it waits for, and runs by
// itself once that event type or field exists. docs/event-generator.md is
// the list: covered by which test, waiting on which event, or why it cannot
// fire here; the last test keeps it in step with the table below.
// Network actions run in network namespaces this test creates (a TEST-NET
// address on their loopback); files are created under names of this test's
// own and removed (below /usr/bin, /etc, /lib, /root, /dev: new names only;
// no existing file is written).
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { typesForName } from '../../src/detect/rules/event-type-names.js';
import { FIELDS } from '../../src/detect/rules/fields.js';
import { buildRuleSet, builtinFiles } from '../../src/detect/rules/ruleset.js';
import type { Alert } from '../../src/model/alert.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';

const PY = '/usr/bin/python3';
const tag = randomBytes(4).toString('hex');
const repo = fileURLToPath(new URL('../..', import.meta.url));
const STABLE = join(repo, 'test/fixtures/falco/falco_rules.yaml');
const upstream = process.env.VIGIL_FALCO_RULES_DIR;
const EXTRA = upstream ? ['falco-incubating_rules.yaml', 'falco-sandbox_rules.yaml'].map((f) => join(upstream, f)) : [];
for (const f of EXTRA) if (!existsSync(f)) throw new Error(`VIGIL_FALCO_RULES_DIR: ${f} does not exist`);
const FALCO_FILES = [STABLE, ...EXTRA];
/** A TEST-NET-2 address (not loopback, not RFC 1918) given to the loopback of a network namespace the test makes. */
const REMOTE = '198.51.100.7';

type RuleFile = 'stable' | 'incubating' | 'sandbox';

interface Ctx {
  g: TestCgroup;
  work: string;
  /** Runs a command in the action's container; resolves when the engine has seen it exit. */
  run(cmd: string, args: string[]): Promise<void>;
  sh(script: string): Promise<void>;
  py(script: string): Promise<void>;
  /** A copy of an executable under another name (the comm and exe path Falco's rules read). */
  copy(from: string, name: string): string;
  /** A path this test owns: removed at the end. */
  own(path: string): string;
}

interface Action {
  /** event-generator's action (syscall.NAME). */
  action: string;
  /** The Falco rule it targets, and the file that has it. */
  falco: string;
  file: RuleFile;
  /** The Vigil built-in rule that fires for the same move. */
  builtin?: string;
  /** Event types (Falco names) or fields the Falco rule needs that Vigil does not have yet, and who brings them. */
  needs?: { types?: string[]; fields?: string[]; by: string };
  /** Why the Falco rule cannot fire here at all (a reason that holds on every kernel). */
  cannot?: string;
  /** Its events and fields exist, but the rule does not fire for this action yet: what is known of why (an open gap). */
  open?: string;
  run(c: Ctx): Promise<void>;
}

/** A shell script run in a network namespace of its own, REMOTE on its loopback. */
const inNetns = (c: Ctx, script: string): Promise<void> =>
  c.run('/usr/bin/unshare', ['-n', '/bin/sh', '-c', `ip link set lo up && ip addr add ${REMOTE}/32 dev lo && ${script}`]);

/** Python run as the system user daemon (uid and gid 1). */
const asDaemon = (c: Ctx, exe: string, args: string[]): Promise<void> =>
  c.py(`import os\nos.setgroups([])\nos.setgid(1)\nos.setuid(1)\nos.execv(${JSON.stringify(exe)}, ${JSON.stringify([exe, ...args])})`);

const ACTIONS: Action[] = [
  // ---- stable (falco_rules.yaml) ------------------------------------------
  {
    action: 'ClearLogActivities', falco: 'Clear Log Activities', file: 'stable',
    run: (c) => c.py(`open(${JSON.stringify(join(c.work, 'syslog'))}, 'w').close()`),
  },
  {
    action: 'CreateHardlinkOverSensitiveFiles', falco: 'Create Hardlink Over Sensitive Files', file: 'stable', builtin: 'Link to a sensitive file created',
    run: (c) => c.sh(`ln /etc/shadow ${c.work}/shadow_link && cat ${c.work}/shadow_link > /dev/null`),
  },
  {
    action: 'CreateSymlinkOverSensitiveFiles', falco: 'Create Symlink Over Sensitive Files', file: 'stable',
    run: (c) => c.sh(`ln -s /etc ${c.work}/etc_link && ls ${c.work}/etc_link/ > /dev/null`),
  },
  {
    action: 'DebugfsLaunchedInPrivilegedContainer', falco: 'Debugfs Launched in Privileged Container', file: 'stable', builtin: 'debugfs run or mounted',
    cannot: 'its condition asks for a privileged container: these actions run in cgroups of their own, not containers (a privileged CRI container fires the stable debugfs rule in test/containers/engine.test.ts)',
    run: (c) => c.run('/usr/bin/unshare', ['-U', '-m', '/usr/sbin/debugfs', '-V']),
  },
  {
    action: 'DetectReleaseAgentFileContainerEscapes', falco: 'Detect release_agent File Container Escapes', file: 'stable', builtin: 'Cgroup release_agent written',
    needs: { fields: ['thread.cap_effective'], by: 'no branch yet (capability sets on events, issue 21 item 4)' },
    run: (c) => {
      const d = join(c.work, 'cgv1');
      mkdirSync(d, { recursive: true });
      return c.run('/usr/bin/unshare', ['-m', '/bin/sh', '-c', `mount -t cgroup -o none,name=vigil-eg-${tag} cgroup ${d} && echo /bin/true > ${d}/release_agent; umount ${d}`]);
    },
  },
  {
    action: 'DirectoryTraversalMonitoredFileRead', falco: 'Directory traversal monitored file read', file: 'stable', builtin: 'Shadow or sudoers file read',
    needs: { fields: ['fd.nameraw'], by: 'branch coverage (the path as asked beside the resolved one)' },
    run: (c) => c.py("open('/etc/../etc/../etc/shadow').close()"),
  },
  {
    action: 'DisallowedSSHConnectionNonStandardPort', falco: 'Disallowed SSH Connection Non Standard Port', file: 'stable',
    run: (c) => inNetns(c, `ssh -o BatchMode=yes -o ConnectTimeout=2 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -p 443 user@${REMOTE} true; true`),
  },
  {
    action: 'DropAndExecuteNewBinaryInContainer', falco: 'Drop and execute new binary in container', file: 'stable', builtin: 'Write below binary directories',
    cannot: "its condition needs proc.is_exe_upper_layer: an executable on an overlay file system's upper layer, which only a real container has (the containers issue)",
    run: (c) => {
      const p = c.own(`/usr/local/bin/vigil-eg-drop-${tag}`);
      return c.sh(`cp /bin/ls ${p} && chmod 755 ${p} && ${p} / > /dev/null`);
    },
  },
  {
    action: 'ExecutionFromDevShm', falco: 'Execution from /dev/shm', file: 'stable', builtin: 'Program run from /dev/shm',
    run: (c) => {
      const p = c.own(`/dev/shm/vigil-eg-${tag}.sh`);
      writeFileSync(p, '#!/bin/sh\necho hello\n');
      chmodSync(p, 0o755);
      return c.run('/bin/sh', ['-c', p]);
    },
  },
  {
    action: 'FilelessExecutionViaMemfdCreate', falco: 'Fileless execution via memfd_create', file: 'stable', builtin: 'Fileless execution from memory',
    run: (c) => c.py([
      'import ctypes, os',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'fd = libc.memfd_create(b"program", 0)',
      'os.write(fd, open("/bin/true", "rb").read())',
      'pid = os.fork()',
      'if pid == 0: os.execv("/proc/self/fd/%d" % fd, ["program"])',
      'os.waitpid(pid, 0)',
    ].join('\n')),
  },
  {
    action: 'FindAwsCredentials', falco: 'Find AWS Credentials', file: 'stable',
    run: (c) => c.run('/usr/bin/find', [c.work, '-maxdepth', '1', '-iname', '.aws/credentials']),
  },
  {
    action: 'NetcatRemoteCodeExecutionInContainer', falco: 'Netcat Remote Code Execution in Container', file: 'stable', builtin: 'Netcat with command execution',
    // netcat is not installed here: /bin/true named nc (the rule reads the name and the arguments).
    run: (c) => c.run(c.copy('/bin/true', 'nc'), ['-e', '/bin/sh', REMOTE, '22']),
  },
  {
    action: 'PacketSocketCreatedInContainer', falco: 'Packet socket created in container', file: 'stable', builtin: 'Raw or packet socket opened',
    run: (c) => c.py('import socket\ns = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))\ns.close()'),
  },
  {
    action: 'PtraceAntiDebugAttempt', falco: 'PTRACE anti-debug attempt', file: 'stable', builtin: 'Anti-debugging with PTRACE_TRACEME',
    run: (c) => c.py([
      'import ctypes, os',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'pid = os.fork()',
      'if pid == 0:',
      '    libc.ptrace(0, 0, None, None)',
      '    os._exit(0)',
      'os.waitpid(pid, 0)',
    ].join('\n')),
  },
  {
    action: 'PtraceAttachedToProcess', falco: 'PTRACE attached to process', file: 'stable', builtin: 'Process attached with ptrace',
    run: (c) => c.py([
      'import ctypes, os, signal, subprocess, time',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'p = subprocess.Popen(["/bin/sleep", "30"])',
      'libc.ptrace(16, p.pid, None, None)',
      'time.sleep(0.2)',
      'os.kill(p.pid, signal.SIGKILL)',
      'p.wait()',
    ].join('\n')),
  },
  {
    action: 'ReadSensitiveFileTrustedAfterStartup', falco: 'Read sensitive file trusted after startup', file: 'stable', builtin: 'Shadow or sudoers file read',
    // A server (python named httpd) that has run for more than 5 s reads /etc/shadow.
    run: (c) => c.run(c.copy(PY, 'httpd'), ['-c', "import time\ntime.sleep(6)\nopen('/etc/shadow').close()"]),
  },
  {
    action: 'ReadSensitiveFileUntrusted', falco: 'Read sensitive file untrusted', file: 'stable', builtin: 'Shadow or sudoers file read',
    run: (c) => c.py("open('/etc/shadow').close()"),
  },
  {
    action: 'RemoveBulkDataFromDisk', falco: 'Remove Bulk Data from Disk', file: 'stable', builtin: 'Data destruction tool run',
    run: (c) => {
      const f = join(c.work, 'bulk');
      writeFileSync(f, 'x'.repeat(4096));
      return c.run('/usr/bin/shred', ['-u', f]);
    },
  },
  {
    action: 'RunShellUntrusted', falco: 'Run shell untrusted', file: 'stable', builtin: 'Shell spawned by a server process',
    // bash named httpd runs a shell (two commands, so it forks rather than execs in place).
    run: (c) => c.run(c.copy('/bin/bash', 'httpd'), ['-c', 'sh -c "ls > /dev/null"; true']),
  },
  {
    action: 'SearchPrivateKeysOrPasswords', falco: 'Search Private Keys or Passwords', file: 'stable', builtin: 'Search for private keys or passwords',
    run: (c) => c.run('/usr/bin/find', [c.work, '-maxdepth', '1', '-iname', 'id_rsa']),
  },
  {
    action: 'SystemUserInteractive', falco: 'System user interactive', file: 'stable',
    // login run as the system user daemon (it refuses and exits: the start is what counts).
    run: (c) => asDaemon(c, '/usr/bin/login', ['-h', 'vigil-test']),
  },
  // ---- incubating ---------------------------------------------------------
  {
    action: 'AddingSshKeysToAuthorizedKeys', falco: 'Adding ssh keys to authorized_keys', file: 'incubating', builtin: 'SSH authorized keys modified',
    run: (c) => {
      const home = c.own(`/home/vigil-eg-${tag}`);
      mkdirSync(join(home, '.ssh'), { recursive: true });
      return c.py(`open(${JSON.stringify(join(home, '.ssh/authorized_keys'))}, 'w').write('ssh-ed25519 AAAA vigil-test\\n')`);
    },
  },
  {
    action: 'ChangeNamespacePrivilegesViaUnshare', falco: 'Change namespace privileges via unshare', file: 'incubating', builtin: 'Namespace changed in a container',
    // As daemon: the rule is about a user without CAP_SYS_ADMIN (root has it, and the rule rightly stays quiet).
    run: (c) => asDaemon(c, '/usr/bin/unshare', ['-U', '/bin/true']),
  },
  {
    action: 'ChangeThreadNamespace', falco: 'Change thread namespace', file: 'incubating', builtin: 'Namespace changed in a container',
    // setns(0, 0): fails (fd 0 is not a namespace); the attempt is what the rules see.
    run: (c) => c.py('import ctypes\nctypes.CDLL(None, use_errno=True).setns(0, 0)'),
  },
  {
    action: 'ContactEC2InstanceMetadataServiceFromContainer', falco: 'Contact EC2 Instance Metadata Service From Container', file: 'incubating', builtin: 'Cloud metadata service contacted from a container',
    run: (c) => c.run('/usr/bin/unshare', ['-n', '/bin/sh', '-c', 'ip link set lo up && ip addr add 169.254.169.254/32 dev lo && curl -s -m 2 http://169.254.169.254/ ; true']),
  },
  {
    action: 'CreateFilesBelowDev', falco: 'Create files below dev', file: 'incubating',
    run: (c) => c.sh(`: > ${c.own(`/dev/vigil-eg-${tag}`)}`),
  },
  {
    action: 'DbProgramSpawnedProcess', falco: 'DB program spawned process', file: 'incubating',
    run: (c) => c.run(c.copy('/bin/bash', 'mysqld'), ['-c', '/bin/ls > /dev/null; true']),
  },
  {
    action: 'DeleteOrRenameShellHistory', falco: 'Delete or rename shell history', file: 'incubating',
    // The action's file is named ash_history, without the dot: not a shell's history file, so Vigil's
    // "Shell history deleted or emptied" (whose own test empties a real .bash_history) stays quiet.
    run: (c) => c.py(`import os\np = ${JSON.stringify(join(c.work, 'ash_history'))}\nopen(p, 'w').close()\nos.remove(p)`),
  },
  {
    action: 'LaunchIngressRemoteFileCopyToolsInContainer', falco: 'Launch Ingress Remote File Copy Tools in Container', file: 'incubating', builtin: 'Remote file copy tool run in a container',
    run: (c) => c.run('/usr/bin/wget', ['-V']),
  },
  {
    action: 'LaunchPackageManagementProcessInContainer', falco: 'Launch Package Management Process in Container', file: 'incubating', builtin: 'Package manager run in a container',
    run: (c) => c.run('/usr/bin/dpkg', ['--version']),
  },
  {
    action: 'LaunchRemoteFileCopyToolsInContainer', falco: 'Launch Remote File Copy Tools in Container', file: 'incubating', builtin: 'Remote file copy tool run in a container',
    run: (c) => c.run('/usr/bin/scp', []),
  },
  {
    action: 'LaunchSuspiciousNetworkToolInContainer', falco: 'Launch Suspicious Network Tool in Container', file: 'incubating', builtin: 'Network scanner run',
    run: (c) => c.run(c.copy('/bin/true', 'nmap'), ['-sn', '192.0.2.0/24']),
  },
  {
    action: 'ModifyShellConfigurationFile', falco: 'Modify Shell Configuration File', file: 'incubating', builtin: 'Hidden file created in a system or temporary directory',
    run: (c) => c.py(`open(${JSON.stringify(join(c.work, '.bashrc'))}, 'w').write('# vigil test\\n')`),
  },
  {
    action: 'MountLaunchedInPrivilegedContainer', falco: 'Mount Launched in Privileged Container', file: 'incubating', builtin: 'Mount in a container',
    cannot: 'its condition asks for a privileged container: these actions run in cgroups of their own, not containers (a privileged CRI container fires the stable debugfs rule in test/containers/engine.test.ts)',
    run: (c) => {
      const d = join(c.work, 'mnt');
      mkdirSync(d, { recursive: true });
      return c.run('/usr/bin/unshare', ['-U', '-r', '-m', '/bin/mount', '-t', 'tmpfs', 'none', d]);
    },
  },
  {
    action: 'NonSudoSetuid', falco: 'Non sudo setuid', file: 'incubating',
    // Becomes daemon, then tries to become root again (refused: the attempt is what counts).
    run: (c) => c.py('import os\nos.setgid(1)\nos.setuid(1)\ntry:\n    os.setuid(0)\nexcept PermissionError:\n    pass'),
  },
  {
    action: 'PotentialLocalPrivilegeEscalationViaEnvironmentVariablesMisuse', falco: 'Potential Local Privilege Escalation via Environment Variables Misuse', file: 'incubating',
    builtin: 'Dynamic loader variable set in a container',
    run: (c) => c.run('/usr/bin/env', ['GLIBC_TUNABLES=glibc.tune.hwcaps=-WAITED,glibc.tune.secrets=2', '/bin/sh', '-c', 'id > /dev/null']),
  },
  {
    action: 'ProgramRunWithDisallowedHttpProxyEnv', falco: 'Program run with disallowed http proxy env', file: 'incubating',
    run: (c) => c.run('/usr/bin/env', ['HTTP_PROXY=http://127.0.0.1:9', '/usr/bin/curl', '-s', '-m', '1', 'http://127.0.0.1:9/']),
  },
  {
    action: 'ReadEnvironmentVariableFromProcFiles', falco: 'Read environment variable from /proc files', file: 'incubating',
    run: (c) => c.run('/bin/cat', ['/proc/self/environ']),
  },
  {
    action: 'ReadSshInformation', falco: 'Read ssh information', file: 'incubating',
    run: (c) => {
      const home = c.own(`/home/vigil-eg-ssh-${tag}`);
      mkdirSync(join(home, '.ssh'), { recursive: true });
      writeFileSync(join(home, '.ssh/known_hosts'), '');
      return c.run('/bin/cat', [join(home, '.ssh/known_hosts')]);
    },
  },
  {
    action: 'ScheduleCronJobs', falco: 'Schedule Cron Jobs', file: 'incubating',
    // /bin/true named crontab: the machine's cron tables are never touched. (Listing, as the action does, is not
    // what Vigil's "Scheduled task added with crontab or at" reports: that rule's own test installs a job.)
    run: (c) => c.run(c.copy('/bin/true', 'crontab'), ['-l']),
  },
  {
    action: 'SetSetuidOrSetgidBit', falco: 'Set Setuid or Setgid bit', file: 'incubating', builtin: 'Setuid or setgid bit set',
    run: (c) => {
      const f = join(c.work, 'suid');
      writeFileSync(f, '');
      return c.run('/bin/chmod', ['u+s', f]);
    },
  },
  {
    action: 'SystemProcsNetworkActivity', falco: 'System procs network activity', file: 'incubating',
    run: (c) => inNetns(c, `${c.copy(PY, 'sha1sum')} -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(('${REMOTE}', 8192)); s.close()"`),
  },
  {
    action: 'UnexpectedUDPTraffic', falco: 'Unexpected UDP Traffic', file: 'incubating',
    run: (c) => inNetns(c, `${PY} -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(('${REMOTE}', 22)); s.close()"`),
  },
  {
    action: 'UserMgmtBinaries', falco: 'User mgmt binaries', file: 'incubating', builtin: 'Account management tool run in a container',
    cannot: "its condition asks for the host (not container): this test's processes run in cgroups of their own to be told apart from other tests', and Vigil counts such a cgroup as a container",
    run: (c) => c.run(c.copy('/bin/bash', 'vipw'), ['-c', '/bin/ls > /dev/null; true']),
  },
  {
    action: 'LaunchSuspiciousNetworkToolOnHost', falco: 'Launch Suspicious Network Tool on Host', file: 'incubating',
    cannot: "its condition asks for the host (not container): this test's processes run in cgroups of their own to be told apart from other tests', and Vigil counts such a cgroup as a container",
    run: async () => {},
  },
  // ---- sandbox --------------------------------------------------------------
  {
    action: 'ContainerDriftDetectedChmod', falco: 'Container Drift Detected (chmod)', file: 'sandbox',
    run: (c) => {
      const f = join(c.work, 'drift');
      writeFileSync(f, '');
      return c.run('/bin/chmod', ['0755', f]);
    },
  },
  {
    action: 'ContainerDriftDetectedOpenCreate', falco: 'Container Drift Detected (open+create)', file: 'sandbox',
    run: (c) => c.py(`import os\nos.close(os.open(${JSON.stringify(join(c.work, 'drift-new'))}, os.O_WRONLY | os.O_CREAT, 0o755))`),
  },
  {
    action: 'CreateHiddenFilesOrDirectories', falco: 'Create Hidden Files or Directories', file: 'sandbox',
    run: (c) => c.py(`import os\nos.mkdir(${JSON.stringify(join(c.work, '.hidden-dir'))})`),
  },
  {
    action: 'DecodingPayloadInContainer', falco: 'Decoding Payload in Container', file: 'sandbox',
    // As the action does: echo given the words (no shell, so no pipe).
    run: (c) => c.run('/bin/echo', ['ZGVjb2RlZA==', '|', 'base64', '-d']),
  },
  {
    action: 'DetectCryptoMinersUsingTheStratumProtocol', falco: 'Detect crypto miners using the Stratum protocol', file: 'sandbox',
    // "-o stratum+tcp" with no pool address: Vigil's "Mining pool URL on a command line" asks for a URL (stratum+tcp://).
    run: (c) => c.run('/bin/echo', ['-o stratum+tcp', '-u user', '-p pass']),
  },
  {
    action: 'InterpretedProcsInboundNetworkActivity', falco: 'Interpreted procs inbound network activity', file: 'sandbox',
    run: (c) => inNetns(c, `${PY} -c "import socket; s = socket.socket(); s.bind(('${REMOTE}', 0)); s.listen(1); s.close()"`),
  },
  {
    action: 'InterpretedProcsOutboundNetworkActivity', falco: 'Interpreted procs outbound network activity', file: 'sandbox',
    run: (c) => inNetns(c, `${PY} -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(('${REMOTE}', 53)); s.close()"`),
  },
  {
    action: 'JavaProcessClassFileDownload', falco: 'Java Process Class File Download', file: 'sandbox',
    cannot: 'its condition reads the data received (recvfrom, evt.buffer bcontains cafebabe): Vigil does not capture the data of reads and writes (and the rule is disabled in the file)',
    run: async () => {},
  },
  {
    action: 'KubernetesClientToolLaunchedInContainer', falco: 'Kubernetes Client Tool Launched in Container', file: 'sandbox',
    run: (c) => c.run(c.copy('/bin/true', 'kubectl'), []),
  },
  {
    action: 'MkdirBinaryDirs', falco: 'Mkdir binary dirs', file: 'sandbox', builtin: 'Directory made below a binary directory',
    run: (c) => c.py(`import os\nos.mkdir(${JSON.stringify(c.own(`/usr/bin/vigil-eg-dir-${tag}`))})`),
  },
  {
    action: 'ModifyBinaryDirs', falco: 'Modify binary dirs', file: 'sandbox', builtin: 'Write below binary directories',
    // A file of the test's own below /usr/bin renamed (the action renames /bin/true and back).
    run: (c) => {
      const p = c.own(`/usr/bin/vigil-eg-mv-${tag}`);
      c.own(`${p}.new`);
      writeFileSync(p, '');
      return c.run('/bin/mv', [p, `${p}.new`]);
    },
  },
  {
    action: 'ModifyContainerEntrypoint', falco: 'Modify Container Entrypoint', file: 'sandbox',
    // Its stdout a file (Falco's open_write asks for a file; under the action's runner it is a terminal or a log).
    run: (c) => c.sh(`${PY} -c "import os; os.close(os.open('/proc/self/fd/1', os.O_WRONLY))" > ${c.work}/stdout`),
  },
  {
    action: 'PolkitLocalPrivilegeEscalationVulnerabilityCVE20214034', falco: 'Polkit Local Privilege Escalation Vulnerability (CVE-2021-4034)', file: 'sandbox',
    // pkexec with no arguments by a user other than root (/bin/true named pkexec).
    run: (c) => asDaemon(c, c.copy('/bin/true', 'pkexec'), []),
  },
  {
    action: 'ReadShellConfigurationFile', falco: 'Read Shell Configuration File', file: 'sandbox', builtin: 'Hidden file created in a system or temporary directory',
    run: (c) => c.py(`p = ${JSON.stringify(join(c.work, '.bashrc'))}\nopen(p, 'w').close()\nopen(p).read()`),
  },
  {
    action: 'SudoPotentialPrivilegeEscalation', falco: 'Sudo Potential Privilege Escalation', file: 'sandbox',
    // sudoedit -s with an argument ending in a backslash (CVE-2021-3156), by daemon (/bin/true named sudoedit).
    run: (c) => asDaemon(c, c.copy('/bin/true', 'sudoedit'), ['-u', 'daemon', '-s', 'ls\\']),
  },
  {
    action: 'UnprivilegedDelegationOfPageFaultsHandlingToAUserspaceProcess', falco: 'Unprivileged Delegation of Page Faults Handling to a Userspace Process', file: 'sandbox', builtin: 'userfaultfd used',
    // By daemon, as the rule asks (user.uid != 0), with UFFD_USER_MODE_ONLY: the one userfaultfd an
    // unprivileged user gets while vm.unprivileged_userfaultfd is 0 (the default).
    run: (c) => asDaemon(c, PY, ['-c', 'import ctypes\nfd = ctypes.CDLL(None, use_errno=True).syscall(323, 1)\nassert fd >= 0, ctypes.get_errno()']),
  },
  {
    action: 'WriteBelowBinaryDir', falco: 'Write below binary dir', file: 'sandbox', builtin: 'Write below binary directories',
    run: (c) => c.sh(`: > ${c.own(`/usr/bin/vigil-eg-${tag}`)}`),
  },
  {
    action: 'WriteBelowEtc', falco: 'Write below etc', file: 'sandbox', builtin: 'Write below /etc',
    run: (c) => c.sh(`: > ${c.own(`/etc/vigil-eg-${tag}`)}`),
  },
  {
    action: 'WriteBelowMonitoredDir', falco: 'Write below monitored dir', file: 'sandbox', builtin: 'Write below binary directories',
    run: (c) => c.sh(`: > ${c.own(`/lib/vigil-eg-${tag}`)}`),
  },
  {
    action: 'WriteBelowRoot', falco: 'Write below root', file: 'sandbox',
    run: (c) => c.sh(`: > ${c.own(`/root/vigil-eg-${tag}`)}`),
  },
  {
    action: 'WriteBelowRpmDatabase', falco: 'Write below rpm database', file: 'sandbox',
    run: (c) => {
      // /var/lib/rpm is made (and removed) when the machine has none.
      if (!existsSync('/var/lib/rpm')) c.own('/var/lib/rpm');
      mkdirSync('/var/lib/rpm', { recursive: true });
      return c.sh(`: > ${c.own(`/var/lib/rpm/vigil-eg-${tag}`)}`);
    },
  },
];

// What the engine will run: built-in rules, the Falco files at hand, and a
// file of the test's own enabling the targeted rules those files leave
// disabled (as a user enables them: `enabled: true` with `override`).
const loadedFiles = new Set<RuleFile>(['stable', ...(upstream ? (['incubating', 'sandbox'] as const) : [])]);
const overrideDir = mkdtempSync(join(tmpdir(), 'vigil-eg-rules-'));
const ENABLE = join(overrideDir, 'enable-targets.yaml');
{
  const first = buildRuleSet([...builtinFiles(), ...FALCO_FILES]).report.defined;
  const disabled = new Set(first.filter((d) => !d.enabled).map((d) => d.name));
  const targets = ACTIONS.filter((a) => loadedFiles.has(a.file) && disabled.has(a.falco) && !a.cannot).map((a) => a.falco);
  writeFileSync(ENABLE, targets.map((n) => `- rule: ${JSON.stringify(n)}\n  enabled: true\n  override:\n    enabled: replace\n`).join('\n'));
}
const RULE_FILES = [...FALCO_FILES, ENABLE];
const RULES = buildRuleSet([...builtinFiles(), ...RULE_FILES]);
if (RULES.report.errors.length > 0) throw new Error(`the rules do not load: ${RULES.report.errors.map((e) => e.message).join('; ')}`);
const running = new Set(RULES.rules.map((r) => r.name));
const skippedWhy = new Map(RULES.report.defined.map((d) => [d.name, d.skipped]));

/** What an action's Falco rule still waits for in this build, or null when nothing. */
function waitingOn(a: Action): string | null {
  const n = a.needs;
  if (!n) return null;
  const types = (n.types ?? []).filter((t) => typesForName(t).length === 0);
  const fields = (n.fields ?? []).filter((f) => !FIELDS.has(f));
  return types.length + fields.length > 0 ? [...types.map((t) => `${t} events`), ...fields].join(', ') : null;
}

describeKernel("Falco's event generator actions, reproduced", () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let work: string;
  const alerts: Alert[] = [];
  const created: string[] = [];
  const groups: TestCgroup[] = [];

  beforeAll(async () => {
    tree = new TestCgroupTree();
    for (let i = 1; i <= ACTIONS.length; i++) groups.push(tree.group(`eg-${i}`));
    t = await TestEngine.start({ sinks: [], rules: { builtin: true, files: RULE_FILES, watch: false } });
    t.engine.onAlert((a) => alerts.push(a));
    await t.startProbe();
    work = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-eg-')));
    // Actions run as daemon (uid 1) exec copies kept below it: mkdtemp's 0700 would refuse them the exec.
    chmodSync(work, 0o755);
  });

  afterAll(async () => {
    await t?.stop();
    await tree?.remove();
    for (const p of created.reverse()) rmSync(p, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
    rmSync(overrideDir, { recursive: true, force: true });
  });

  function context(g: TestCgroup, dir: string): Ctx {
    const c: Ctx = {
      g,
      work: dir,
      run: async (cmd, args) => {
        const r = await g.run(cmd, args, { timeoutMs: 30_000 });
        await waitFor(`the exit of ${cmd} in ${g.path}`, () => t.of(g.id, 'exit').some((e) => e.pid === r.pid));
      },
      sh: (script) => c.run('/bin/sh', ['-c', script]),
      py: (script) => c.run(PY, ['-c', script]),
      copy: (from, name) => {
        const d = join(dir, 'bin');
        mkdirSync(d, { recursive: true });
        const p = join(d, name);
        copyFileSync(from, p);
        chmodSync(p, 0o755);
        return p;
      },
      own: (path) => {
        created.push(path);
        return path;
      },
    };
    return c;
  }

  for (const [i, a] of ACTIONS.entries()) {
    const falcoHere = loadedFiles.has(a.file);
    // A rule that loads but waits on an event for this action's branch of it (a mkdir) cannot fire for it yet.
    const waiting = waitingOn(a);
    const falcoRuns = falcoHere && running.has(a.falco) && !a.cannot && !a.open && !waiting;
    const checks = [...(falcoRuns ? [a.falco] : []), ...(a.builtin ? [a.builtin] : [])];
    const why = a.cannot ? `cannot fire here: ${a.cannot}` : a.open ? `not firing yet: ${a.open}` : waiting ? `waiting on ${a.needs!.by}: ${waiting}` : !falcoHere ? `Falco's ${a.file} rules not loaded (VIGIL_FALCO_RULES_DIR)` : `skipped by Vigil: ${skippedWhy.get(a.falco) ?? 'not defined'}`;
    if (checks.length === 0) {
      it.skip(`${a.action} → ${a.falco} [${why}]`, () => {});
      continue;
    }
    it(`${a.action} → ${checks.join(' + ')}${falcoRuns ? '' : ` [Falco's rule: ${why}]`}`, async () => {
      const g = groups[i]!;
      const dir = join(work, `a${i}`);
      mkdirSync(dir, { recursive: true });
      await a.run(context(g, dir));
      for (const rule of checks) {
        await waitFor(`'${rule}' for ${a.action} in ${g.path}`, () => alerts.find((x) => x.rule === rule && x.workload.cgroupPath === g.path), 10_000);
      }
      // A Falco rule Vigil skips is skipped for the reason the list gives.
      if (falcoHere && !running.has(a.falco) && !a.cannot && waiting) {
        expect(skippedWhy.get(a.falco), a.falco).toMatch(new RegExp(waiting.split(', ').map((w) => w.replace(/ events$/, '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')));
      }
    }, 30_000);
  }
});

describe('docs/event-generator.md', () => {
  it('lists every action with its status as this file has it', () => {
    const doc = readFileSync(join(repo, 'docs/event-generator.md'), 'utf8');
    const rows = new Map(doc.split('\n').filter((l) => l.startsWith('| `')).map((l) => {
      const cells = l.split('|').map((s) => s.trim());
      return [cells[1]!.replace(/`/g, ''), cells] as const;
    }));
    expect([...rows.keys()].sort()).toEqual(ACTIONS.map((a) => a.action).sort());
    for (const a of ACTIONS) {
      const cells = rows.get(a.action)!;
      expect(cells[2], a.action).toContain(a.falco);
      const status = cells[4]!;
      if (a.cannot) expect(status, a.action).toMatch(/^cannot fire here/);
      else if (a.open) expect(status, a.action).toMatch(/^not firing yet/);
      else if (waitingOn(a)) expect(status, a.action).toMatch(/^waiting on /);
      else expect(status, a.action).toMatch(/^covered/);
    }
  });
});

// How Falco prints raw syscall values: errno names, open flags, file
// modes, ptrace requests. Rules match on these strings
// (`evt.res = EINPROGRESS`, `evt.arg.flags contains O_TRUNC`).
import { constants } from 'node:os';

const ERRNO_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(constants.errno)) if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name);

/** "SUCCESS" for a non-negative result, else the errno name ("ENOENT"). */
export function resultName(result: number): string {
  if (result >= 0) return 'SUCCESS';
  return ERRNO_NAMES.get(-result) ?? `E${-result}`;
}

export const EINPROGRESS = constants.errno.EINPROGRESS;

// x86_64 / generic open(2) flags, in the order they are printed.
const OPEN_FLAGS: [number, string][] = [
  [0o100, 'O_CREAT'], [0o200, 'O_EXCL'], [0o400, 'O_NOCTTY'], [0o1000, 'O_TRUNC'], [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'], [0o10000, 'O_DSYNC'], [0o20000, 'O_ASYNC'], [0o40000, 'O_DIRECT'], [0o100000, 'O_LARGEFILE'],
  [0o200000, 'O_DIRECTORY'], [0o400000, 'O_NOFOLLOW'], [0o1000000, 'O_NOATIME'], [0o2000000, 'O_CLOEXEC'],
  [0o4000000, 'O_SYNC'], [0o10000000, 'O_PATH'], [0o20000000, 'O_TMPFILE'],
];
export const O_ACCMODE = 3;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_TRUNC = 0o1000;
export const O_DIRECTORY = 0o200000;

/** "O_WRONLY|O_CREAT|O_TRUNC" */
export function openFlagsName(flags: number): string {
  const acc = flags & O_ACCMODE;
  let out = acc === O_WRONLY ? 'O_WRONLY' : acc === O_RDWR ? 'O_RDWR' : 'O_RDONLY';
  for (const [bit, name] of OPEN_FLAGS) if (flags & bit) out += `|${name}`;
  return out;
}

const MODE_BITS: [number, string][] = [
  [0o4000, 'S_ISUID'], [0o2000, 'S_ISGID'], [0o1000, 'S_ISVTX'],
  [0o400, 'S_IRUSR'], [0o200, 'S_IWUSR'], [0o100, 'S_IXUSR'],
  [0o40, 'S_IRGRP'], [0o20, 'S_IWGRP'], [0o10, 'S_IXGRP'],
  [0o4, 'S_IROTH'], [0o2, 'S_IWOTH'], [0o1, 'S_IXOTH'],
];

/** "S_ISUID|S_IRUSR|…" as Falco prints a mode. */
export function modeName(mode: number): string {
  const names: string[] = [];
  for (const [bit, name] of MODE_BITS) if (mode & bit) names.push(name);
  return names.join('|');
}

const NAMESPACE_FLAGS: [number, string][] = [
  [0x80, 'CLONE_NEWTIME'], [0x20000, 'CLONE_NEWNS'], [0x02000000, 'CLONE_NEWCGROUP'], [0x04000000, 'CLONE_NEWUTS'],
  [0x08000000, 'CLONE_NEWIPC'], [0x10000000, 'CLONE_NEWUSER'], [0x20000000, 'CLONE_NEWPID'], [0x40000000, 'CLONE_NEWNET'],
];

/** unshare's flags, setns's nstype: "CLONE_NEWUSER|CLONE_NEWNS"; 0 (setns: any type) as "0". */
export function namespaceFlagsName(flags: number): string {
  const names: string[] = [];
  for (const [bit, name] of NAMESPACE_FLAGS) if (flags & bit) names.push(name);
  return names.length > 0 ? names.join('|') : String(flags);
}

const PTRACE_REQUESTS = new Map<number, string>([
  [0, 'PTRACE_TRACEME'], [1, 'PTRACE_PEEKTEXT'], [2, 'PTRACE_PEEKDATA'], [3, 'PTRACE_PEEKUSR'], [4, 'PTRACE_POKETEXT'],
  [5, 'PTRACE_POKEDATA'], [6, 'PTRACE_POKEUSR'], [7, 'PTRACE_CONT'], [8, 'PTRACE_KILL'], [9, 'PTRACE_SINGLESTEP'],
  [12, 'PTRACE_GETREGS'], [13, 'PTRACE_SETREGS'], [14, 'PTRACE_GETFPREGS'], [15, 'PTRACE_SETFPREGS'], [16, 'PTRACE_ATTACH'],
  [17, 'PTRACE_DETACH'], [18, 'PTRACE_GETFPXREGS'], [19, 'PTRACE_SETFPXREGS'], [24, 'PTRACE_SYSCALL'],
  [0x4200, 'PTRACE_SETOPTIONS'], [0x4201, 'PTRACE_GETEVENTMSG'], [0x4202, 'PTRACE_GETSIGINFO'], [0x4203, 'PTRACE_SETSIGINFO'],
  [0x4204, 'PTRACE_GETREGSET'], [0x4205, 'PTRACE_SETREGSET'], [0x4206, 'PTRACE_SEIZE'], [0x4207, 'PTRACE_INTERRUPT'],
  [0x4208, 'PTRACE_LISTEN'], [0x4209, 'PTRACE_PEEKSIGINFO'],
]);

export function ptraceRequestName(req: number): string {
  return PTRACE_REQUESTS.get(req) ?? `PTRACE_${req}`;
}

// Linux capabilities by bit (include/uapi/linux/capability.h).
const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];
const capNames = new Map<number, string>();

/** A capability set as Falco prints it: names separated by spaces ("CAP_CHOWN CAP_KILL"); bits past the known ones as CAP_<n>. */
export function capabilitiesName(bits: number): string {
  let s = capNames.get(bits);
  if (s === undefined) {
    const names: string[] = [];
    // Bits past 31 do not survive JavaScript's 32-bit operators: divide instead.
    for (let i = 0, v = bits; v > 0 && i < 64; i++, v = Math.floor(v / 2)) if (v % 2 === 1) names.push(CAPABILITIES[i] ?? `CAP_${i}`);
    s = names.join(' ');
    if (capNames.size < 4096) capNames.set(bits, s);
  }
  return s;
}

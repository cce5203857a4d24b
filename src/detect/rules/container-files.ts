// A container's own /etc/passwd and /etc/group, read through
// /proc/<pid>/root of one of its processes, as Falco's
// sinsp_usergroup_manager reads them. The file is the container's, so an
// attacker's: it is opened without following a symlink (an absolute or
// `../` link would be resolved from the engine's root, that is the node's
// files), only when it is a regular file (a FIFO would block the engine),
// and read up to MAX_BYTES. The process it is read through is checked to
// be in the event's cgroup before and after the read: a pid reused by a
// node process in between is not read through.
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';

/** Bytes read of one file at most (65,536 entries of 64 bytes); the rest is ignored. */
export const MAX_BYTES = 4 << 20;

/** What a read found: the file's signature and text, or why it could not be read. */
export type FileRead = { sig: string; text: string | null; truncated: boolean } | { sig: ''; error: string };

/** What changes when a file is edited or replaced (useradd renames a new one over it). */
export function statSignature(s: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint }): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

/**
 * Reads etc/<name> below `root` without following symlinks: etc is opened
 * O_NOFOLLOW|O_DIRECTORY, then <name> relative to that open directory
 * (/proc/self/fd/N, so etc cannot be swapped for a link in between)
 * O_NOFOLLOW|O_NONBLOCK. `known`: the signature already parsed; the text
 * is read only when the file's differs (null otherwise).
 */
export function readEtcFile(root: string, name: string, known: string): FileRead {
  let dir = -1;
  let fd = -1;
  try {
    dir = openSync(`${root}/etc`, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    fd = openSync(`/proc/self/fd/${dir}/${name}`, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const s = fstatSync(fd, { bigint: true });
    if (!s.isFile()) return { sig: '', error: `etc/${name} is not a regular file` };
    const sig = statSignature(s);
    if (sig === known) return { sig, text: null, truncated: false };
    const size = Number(s.size < BigInt(MAX_BYTES) ? s.size : BigInt(MAX_BYTES));
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n <= 0) break;
      got += n;
    }
    return { sig, text: buf.toString('utf8', 0, got), truncated: s.size > BigInt(MAX_BYTES) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { sig: '', error: code === 'ELOOP' || code === 'ENOTDIR' ? `etc/${name} or etc is a symlink (not followed)` : `etc/${name}: ${code ?? String(err)}` };
  } finally {
    if (fd >= 0) closeSync(fd);
    if (dir >= 0) closeSync(dir);
  }
}

/**
 * Whether a process (by host pid) is in the cgroup: the v2 line of its
 * /proc/<pid>/cgroup names a directory below `mount` whose inode is the
 * cgroup's id. Not "its path names the container's id": CRI-O's conmon, a
 * node process, sits in crio-conmon-<id>.scope.
 */
export function inCgroup(pid: number, cgroupId: number, mount: string, proc = '/proc'): boolean {
  if (pid <= 0) return false;
  try {
    const text = readFileSync(`${proc}/${pid}/cgroup`, 'utf8');
    const at = text.startsWith('0::') ? 0 : text.indexOf('\n0::') + 1;
    if (at === 0 && !text.startsWith('0::')) return false;
    const end = text.indexOf('\n', at);
    const path = text.slice(at + 3, end < 0 ? undefined : end);
    // Outside this engine's cgroup namespace ("/../…"): not a path below the mount.
    if (!path.startsWith('/') || path.includes('/..')) return false;
    return Number(statSync(`${mount}${path}`).ino) === cgroupId;
  } catch {
    return false;
  }
}

/**
 * Reads etc/<name> of a container through one of its processes: the first
 * of `pids` that is alive and a `member` of its cgroup, before and after the read.
 * A read that fails is tried through the next: an exited process not yet
 * reaped (a zombie) is still in its cgroup but has no root to read through.
 * Returns the pid read through with what was read, or why nothing could be.
 */
export function readContainerFile(member: (pid: number) => boolean, pids: Iterable<number>, name: string, known: string, proc = '/proc'): { pid: number; read: FileRead } {
  const tried = new Set<number>();
  let failed: { pid: number; read: FileRead } | null = null;
  for (const pid of pids) {
    if (tried.has(pid) || tried.size >= MAX_TRIES) continue;
    tried.add(pid);
    if (!member(pid) || atNodeRoot(`${proc}/${pid}/root`)) continue;
    const read = readEtcFile(`${proc}/${pid}/root`, name, known);
    // Gone, or its pid now another's: what was read may not be the container's.
    if (!member(pid)) continue;
    if (!('error' in read)) return { pid, read };
    // Exited, not yet reaped: no root left, so its ENOENT says nothing of the container's file; the next process may.
    if (read.error.endsWith(': ENOENT') && !hasRoot(`${proc}/${pid}/root`)) continue;
    // Not this process's doing: the engine may not read other processes' roots; none other would do.
    if (/: (EACCES|EPERM)$/.test(read.error)) return { pid, read: { sig: '', error: NO_PERMISSION } };
    failed ??= { pid, read };
  }
  return failed ?? { pid: 0, read: { sig: '', error: 'no live process of the container to read it through' } };
}

/** Whether a process still has a root to read through (a zombie's is gone). */
function hasRoot(root: string): boolean {
  try {
    statSync(root);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a process's root is the engine's own or the node's pid 1's: a
 * container's first process is there until it pivots into the container's
 * root (runc init), and its etc would be the node's files, not the container's.
 */
function atNodeRoot(root: string): boolean {
  let r;
  try {
    r = statSync(root);
  } catch {
    return false;
  }
  for (const other of ['/', '/proc/1/root']) {
    try {
      const o = statSync(other);
      if (o.dev === r.dev && o.ino === r.ino) return true;
    } catch {
      // pid 1's root may not be ours to see: the engine's own is compared then
    }
  }
  return false;
}

/** Said when /proc/<pid>/root may not be read: the same for every container of the node. */
export const NO_PERMISSION = "the engine may not read another process's root (/proc/<pid>/root: EACCES; it needs CAP_SYS_PTRACE)";

/** Processes tried per look: a bound on the work one unknown id costs. */
const MAX_TRIES = 8;

/**
 * The first pids listed in a cgroup's cgroup.procs (`dir`: its directory
 * below the v2 mount): the kernel's own list of its live processes, for
 * when the process tree knows none alive (evicted, or not seen yet).
 */
export function cgroupPids(dir: string): number[] {
  let text: string;
  try {
    const fd = openSync(`${dir}/cgroup.procs`, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const buf = Buffer.allocUnsafe(256);
      text = buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, null));
    } finally {
      closeSync(fd);
    }
  } catch {
    return [];
  }
  // The last line may be cut by the bound: only whole ones.
  return text.split('\n').slice(0, -1).map(Number).filter((n) => Number.isInteger(n) && n > 0).slice(0, MAX_TRIES);
}

// uid → user name and gid → group name, from the files of the process's
// own root: the node's /etc/passwd and /etc/group for the node's
// processes, a container's own (read through /proc/<pid>/root, see
// container-files.ts) for a container's: uid 33 is www-data on Debian and
// xfs on Alpine, and a container's app user is unknown to the node. A
// container whose files cannot be read (no /etc/passwd, a symlink, no live
// process left) reads as the number, never as the node's name of it.
//
// An id not found looks at the file again, at most every CHECK_MS, and
// re-reads it only when it changed (useradd replaces it: another inode,
// size or time): a user made a moment ago is named in its first alerts,
// and unknown ids cost a stat now and then, not a read. A known id is one
// Map hit (and, in a container, one more for the container).
// Bounded: the first MAX_ENTRIES entries of a file, names of at most
// MAX_NAME characters, MAX_CONTAINERS containers, and MAX_CONTAINER_TOTAL
// entries over all containers (the oldest container is forgotten first:
// many containers with huge files cannot grow the engine without bound).
import { readFileSync, statSync } from 'node:fs';
import type { Event } from '../../model/event.js';
import type { ProcessTree } from '../../enrich/process-tree.js';
import { findCgroup2Mount } from '../../enrich/cgroups.js';
import { cgroupPids, inCgroup, MAX_BYTES, NO_PERMISSION, readContainerFile, statSignature, type FileRead } from './container-files.js';

const MAX_ENTRIES = 65_536;
/** A container's files are its own (an attacker's): fewer entries are kept of each. */
const MAX_CONTAINER_ENTRIES = 8_192;
const MAX_NAME = 256;
const MAX_CONTAINERS = 4_096;
const MAX_CONTAINER_TOTAL = 262_144;
const CHECK_MS = 100;

/** What a look at a file found; null: nothing to look through (keep what was read). */
type Loader = (known: string, e: Event | null) => FileRead | null;

class IdNames {
  private names = new Map<number, string>();
  private checkedAt = -Infinity;
  private read = '\0never';
  /** Why the file could not be read at the last look ('' when it was). */
  problem = '';

  constructor(
    private readonly load: Loader,
    private readonly max: number,
    /** Told when the file cannot be read for a new reason (once, not per event). */
    private readonly said: (problem: string) => void = () => {},
    /** Told when the file was read again. */
    private readonly parsed: () => void = () => {},
  ) {}

  get size(): number {
    return this.names.size;
  }

  private setProblem(p: string): void {
    if (p && p !== this.problem) this.said(p);
    this.problem = p;
  }

  name(id: number, e: Event | null): string {
    const n = this.names.get(id);
    if (n !== undefined) return n;
    const now = Date.now();
    if (now - this.checkedAt >= CHECK_MS) {
      this.checkedAt = now;
      const r = this.load(this.read, e);
      if (r && r.sig !== this.read) {
        this.read = r.sig;
        if ('error' in r) {
          this.setProblem(r.error);
          this.names = new Map();
        } else {
          this.setProblem(r.truncated ? `longer than ${MAX_BYTES} bytes: the rest is not read` : '');
          this.names = parseIdText(r.text ?? '', this.max);
          this.parsed();
          const again = this.names.get(id);
          if (again !== undefined) return again;
        }
      } else if (r === null && this.names.size === 0) {
        this.setProblem('no live process of the container to read it through');
      }
    }
    return String(id);
  }
}

/** name:x:id:… lines → id → name (the first name of an id wins, as getpwuid does). */
export function parseIdText(text: string, max = MAX_ENTRIES): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const parts = line.split(':', 4);
    const name = parts[0];
    // A number only as the file has it (Number('') and Number(' 7') are numbers too).
    const id = /^\d{1,10}$/.test(parts[2] ?? '') ? Number(parts[2]) : NaN;
    if (!name || name.length > MAX_NAME || !Number.isInteger(id) || out.has(id)) continue;
    out.set(id, name);
    if (out.size >= max) break;
  }
  return out;
}

/** The node's file by path (its own root's, or a test's). */
function nodeLoader(file: string): Loader {
  return (known) => {
    let sig: string;
    try {
      sig = statSignature(statSync(file, { bigint: true }));
    } catch (err) {
      return { sig: '', error: `${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
    }
    if (sig === known) return { sig, text: null, truncated: false };
    try {
      return { sig, text: readFileSync(file, 'utf8'), truncated: false };
    } catch (err) {
      return { sig: '', error: `${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
    }
  };
}

function cgroup2Mount(): string | null {
  try {
    return findCgroup2Mount();
  } catch {
    return null;
  }
}

/** One container's users and groups, and the process last read through. */
class ContainerIds {
  pid = 0;
  readonly users: IdNames;
  readonly groups: IdNames;

  constructor(
    readonly containerId: string,
    private readonly proc: string,
    private readonly tree: () => ProcessTree | null,
    private readonly cgroupMount: () => string | null,
    said: (p: UserFilesProblem) => void,
    parsed: (c: ContainerIds) => void,
  ) {
    this.users = new IdNames(this.loader('passwd'), MAX_CONTAINER_ENTRIES, (problem) => said({ containerId, file: 'passwd', problem }), () => parsed(this));
    this.groups = new IdNames(this.loader('group'), MAX_CONTAINER_ENTRIES, (problem) => said({ containerId, file: 'group', problem }), () => parsed(this));
  }

  get size(): number {
    return this.users.size + this.groups.size;
  }

  private loader(name: string): Loader {
    return (known, e) => {
      const mount = this.cgroupMount();
      if (!e || !mount) return null;
      const cgroupId = e.cgroupId;
      const { pid, read } = readContainerFile((p) => inCgroup(p, cgroupId, mount, this.proc), this.candidates(e, mount), name, known, this.proc);
      if (pid === 0) return null;
      this.pid = pid;
      return read;
    };
  }

  /**
   * Processes to read through: the event's, its parent, the last that
   * worked, the tree's live ones of the cgroup, then the kernel's list of
   * the cgroup's (each is checked to be in the event's cgroup before use).
   */
  private *candidates(e: Event, mount: string): Generator<number> {
    yield e.pid;
    if (e.process?.ppid) yield e.process.ppid;
    if (this.pid) yield this.pid;
    const tree = this.tree();
    if (tree) yield* tree.pidsIn(e.cgroupId);
    const path = e.workload?.cgroupPath;
    if (path && !path.includes('..')) yield* cgroupPids(`${mount}${path.startsWith('/') ? '' : '/'}${path}`);
  }
}

/** Why a container's ids print as numbers (the detector logs it). */
export interface UserFilesProblem {
  containerId: string;
  file: 'passwd' | 'group';
  problem: string;
}

export class UserNames {
  private readonly users: IdNames;
  private readonly groups: IdNames;
  private readonly containers = new Map<string, ContainerIds>();
  private last: ContainerIds | null = null;
  /**
   * Told when a container's file cannot be read, once per container and
   * reason (its ids then read as numbers): the detector logs it.
   */
  onProblem: (p: UserFilesProblem) => void = () => {};
  /** The process tree, for a live process of a container when the event's is gone (FieldContext's). */
  treeOf: () => ProcessTree | null = () => null;

  private mount: string | null | undefined;

  /**
   * `root`: the node's files (a test's directory); `proc`: where containers'
   * processes are (a test's fake /proc); `cgroupMount`: the cgroup v2 mount
   * (found in /proc/self/mountinfo when first needed).
   */
  constructor(
    root = '/',
    private readonly proc = '/proc',
    cgroupMount?: string | null,
  ) {
    this.mount = cgroupMount;
    this.users = new IdNames(nodeLoader(`${root.replace(/\/$/, '')}/etc/passwd`), MAX_ENTRIES);
    this.groups = new IdNames(nodeLoader(`${root.replace(/\/$/, '')}/etc/group`), MAX_ENTRIES);
  }

  /** The name of `uid` as the event's process sees it (its container's files, or the node's). */
  user(e: Event, uid: number): string {
    const c = e.workload?.containerId;
    return c ? this.container(c).users.name(uid, e) : this.users.name(uid, e);
  }

  group(e: Event, gid: number): string {
    const c = e.workload?.containerId;
    return c ? this.container(c).groups.name(gid, e) : this.groups.name(gid, e);
  }

  private container(id: string): ContainerIds {
    const last = this.last;
    if (last !== null && last.containerId === id) return last;
    let c = this.containers.get(id);
    if (c === undefined) {
      // Oldest first out: a container gone long ago is not asked for again.
      if (this.containers.size >= MAX_CONTAINERS) this.containers.delete(this.containers.keys().next().value!);
      c = new ContainerIds(id, this.proc, () => this.treeOf(), () => (this.mount === undefined ? (this.mount = cgroup2Mount()) : this.mount), (p) => this.said(p), (read) => this.bound(read));
      this.containers.set(id, c);
    }
    this.last = c;
    return c;
  }

  /** Forgets the oldest containers' names (not the one just read) while all hold more than MAX_CONTAINER_TOTAL entries. */
  private bound(read: ContainerIds): void {
    let total = 0;
    for (const c of this.containers.values()) total += c.size;
    for (const c of this.containers.values()) {
      if (total <= MAX_CONTAINER_TOTAL) break;
      if (c === read) continue;
      total -= c.size;
      this.containers.delete(c.containerId);
      if (this.last === c) this.last = null;
    }
  }

  /** Containers whose names are held. */
  get containerCount(): number {
    return this.containers.size;
  }

  private saidNoPermission = false;

  /** Tells onProblem; the engine's own lack of permission once, not once per container. */
  private said(p: UserFilesProblem): void {
    if (p.problem === NO_PERMISSION) {
      if (this.saidNoPermission) return;
      this.saidNoPermission = true;
    }
    this.onProblem(p);
  }

  /** Containers whose files could not be read at the last look (their names read as numbers). */
  problems(): UserFilesProblem[] {
    const out: UserFilesProblem[] = [];
    for (const c of this.containers.values()) {
      if (c.users.problem) out.push({ containerId: c.containerId, file: 'passwd', problem: c.users.problem });
      if (c.groups.problem) out.push({ containerId: c.containerId, file: 'group', problem: c.groups.problem });
    }
    return out;
  }
}

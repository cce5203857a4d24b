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
/** How often the node's files are tried again through pid 1 (or the probe) after they could not be. */
const NODE_RETRY_MS = 60_000;
/** A probe request that found no process to read through is made again this much later, RETRIES times. */
const RETRY_MS = 50;
const RETRIES = 4;

/**
 * What of an event the names need: whose process (and its parent) to read
 * through, in which cgroup and container. An Event is one; a detection
 * worker is sent only these (src/shard/protocol.ts).
 */
export interface NamesEvent {
  pid: number;
  cgroupId: number;
  process?: { ppid: number } | null;
  workload?: { containerId: string; cgroupPath: string } | null;
}

/**
 * What a look at a file found; null: nothing to look through (keep what
 * was read); undefined: asked of the probe, its answer comes later (accept).
 */
type Loader = (known: string, e: NamesEvent | null) => FileRead | null | undefined;

class IdNames {
  private names = new Map<number, string>();
  private checkedAt = -Infinity;
  private read = '\0never';
  /** Why the file could not be read at the last look ('' when it was). */
  problem = '';
  /** What was said of the file when it was last read ('' or that it was cut). */
  private readProblem = '';

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

  /** The signature of what was parsed ('' before a read, or after one failed). */
  get signature(): string {
    return this.read.startsWith('\0') ? '' : this.read;
  }

  name(id: number, e: NamesEvent | null): string {
    const n = this.names.get(id);
    if (n !== undefined) return n;
    this.look(e);
    return this.names.get(id) ?? String(id);
  }

  /** Looks at the file, at most every CHECK_MS. */
  look(e: NamesEvent | null): void {
    const now = Date.now();
    if (now - this.checkedAt < CHECK_MS) return;
    this.checkedAt = now;
    const r = this.load(this.read, e);
    if (r) this.accept(r);
    else if (r === null && this.names.size === 0) this.setProblem('no live process of the container to read it through');
  }

  /** What a read found (here, or the probe's answer): parsed when it changed. */
  accept(r: FileRead): void {
    // Unchanged: what was said of it when it was read holds again (a failed request's problem is over).
    if (r.sig === this.read && !('error' in r)) return this.setProblem(this.readProblem);
    this.read = r.sig || '\0failed';
    if ('error' in r) {
      this.setProblem(r.error);
      this.names = new Map();
      return;
    }
    if (r.text === null) return;
    this.readProblem = r.truncated ? `longer than ${MAX_BYTES} bytes: the rest is not read` : '';
    this.setProblem(this.readProblem);
    this.names = parseIdText(r.text, this.max);
    this.parsed();
  }

  /** A probe request failed (over its rate, no probe): said; what was read is kept. */
  failed(problem: string): void {
    this.setProblem(problem);
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
function readNodeFile(file: string, known: string): FileRead {
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
}

/** Whether this engine may look at a process's root: 'denied' (no CAP_SYS_PTRACE), or 'gone' (no such process). */
function rootAccess(root: string): 'ok' | 'denied' | 'gone' {
  try {
    statSync(root);
    return 'ok';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' ? 'denied' : 'gone';
  }
}

const denied = (r: FileRead): boolean => 'error' in r && /: (EACCES|EPERM)$/.test(r.error);

function cgroup2Mount(): string | null {
  try {
    return findCgroup2Mount();
  } catch {
    return null;
  }
}

/** What the engine asks the probe for (ReadUserFiles, proto/vigil/v1/probe.proto). */
export interface UserFilesRequest {
  pids: number[];
  cgroupId: number;
  /** The node's files (through the node's pid 1) instead of a container's. */
  node: boolean;
  knownPasswd: string;
  knownGroup: string;
}

/** The probe's answer: both files, or why not. */
export type UserFilesAnswer = { ok: true; passwd: FileRead; group: FileRead; pid: number } | { ok: false; error: string };

/** Asks the connected probe (the engine wires it: ProbeLink). */
export type ProbeUserFiles = (r: UserFilesRequest) => Promise<UserFilesAnswer>;

/** Where a kind of names comes from: read here, through the probe, or not at all (why). */
export type NamesSource = { via: 'unknown' | 'direct' | 'probe' } | { via: 'unavailable'; why: string };

/** One container's users and groups, and the process last read through. */
class ContainerIds {
  pid = 0;
  readonly users: IdNames;
  readonly groups: IdNames;
  /** A probe request is out: no second one until it is answered. */
  private asking = false;
  /** Its cgroup is gone and its names dropped: a request still out is not made again. */
  forgotten = false;

  constructor(
    readonly containerId: string,
    private readonly owner: UserNames,
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
      if (!e) return null;
      if (this.owner.containerSource.via === 'probe') return this.ask(e);
      // Asked before any cgroup check: an engine in a cgroup namespace of its own (the DaemonSet's)
      // sees other containers' cgroups as "/../…" and would never get as far as reading.
      if (this.owner.containerSource.via !== 'direct' && rootAccess(`${this.proc}/${e.pid}/root`) === 'denied' && this.owner.probeCan()) {
        this.owner.containerSource = { via: 'probe' };
        return this.ask(e);
      }
      const mount = this.cgroupMount();
      if (!mount) return null;
      const cgroupId = e.cgroupId;
      const { pid, read } = readContainerFile((p) => inCgroup(p, cgroupId, mount, this.proc), this.candidates(e, mount), name, known, this.proc);
      if (pid === 0) return null;
      this.pid = pid;
      // The engine may not read other processes' roots: the probe may (and does, from now on, for every container).
      if ('error' in read && read.error === NO_PERMISSION && this.owner.probeCan()) {
        this.owner.containerSource = { via: 'probe' };
        return this.ask(e);
      }
      if (this.owner.containerSource.via === 'unknown') this.owner.containerSource = 'error' in read && read.error === NO_PERMISSION ? { via: 'unavailable', why: NO_PERMISSION } : { via: 'direct' };
      return read;
    };
  }

  /** The probe's answer being waited for (null when none is). */
  waiting: Promise<void> | null = null;

  /** Until when the probe is not asked (its read of this container's files hung: it backs the cgroup off). */
  private quietUntil = 0;

  /** Asks the probe for both files (once at a time); its answer is accepted when it comes. */
  ask(e: NamesEvent): undefined {
    const probe = this.owner.probe;
    if (this.asking || !probe || Date.now() < this.quietUntil) return undefined;
    this.asking = true;
    this.waiting = this.askOnce(probe, e, RETRIES).finally(() => {
      this.asking = false;
      this.waiting = null;
    });
    return undefined;
  }

  /**
   * One request; on failure (no process of the container in its own root
   * yet: one starting; or over the probe's rate) asked again RETRY_MS later,
   * `retries` times, through the processes the cgroup has then.
   */
  private async askOnce(probe: ProbeUserFiles, e: NamesEvent, retries: number): Promise<void> {
    const pids: number[] = [];
    for (const p of this.candidates(e, this.cgroupMount())) if (!pids.includes(p) && pids.push(p) >= 8) break;
    const a = await probe({ pids, cgroupId: e.cgroupId, node: false, knownPasswd: this.users.signature, knownGroup: this.groups.signature });
    if (!a.ok) {
      // A read that hung (a filesystem under the container's /etc not answering): the probe backs the cgroup off; asking before that ends would only be refused.
      const hung = stalled(a.error);
      const again = !hung && retries > 0 && !this.forgotten;
      // Over the probe's rate: counted (status), not a problem of the container's files (nor a log line per refusal).
      if (a.error.startsWith("over the probe's rate")) this.owner.refused++;
      else {
        if (a.error.startsWith(PROBE_TIMED_OUT)) this.owner.timedOut++;
        // Said only once it is not asked again: a container starting (its first process still at the node's root)
        // is answered by a retry, and warning of it first was noise (a slow host's every new container).
        if (!again) {
          this.users.failed(`through the probe: ${a.error}`);
          this.groups.failed(`through the probe: ${a.error}`);
        }
      }
      if (hung) {
        this.quietUntil = Date.now() + STALLED_QUIET_MS;
        return;
      }
      if (!again) return;
      await new Promise((r) => setTimeout(r, RETRY_MS).unref());
      return this.askOnce(probe, e, retries - 1);
    }
    this.answered = true;
    this.pid = a.pid;
    this.users.accept(a.passwd);
    this.groups.accept(a.group);
  }

  /** Whether this container's first event told if the engine may read its root (while that is not known). */
  modeChecked = false;
  /** The probe answered (the files, or why they cannot be read): no more asking ahead of alerts. */
  private answered = false;

  /**
   * A first event of the container: its files are asked for now, so its
   * first alerts have the names; again at its next exec while no answer
   * came (its first process may still have been at the node's root).
   */
  prime(e: NamesEvent): void {
    if (this.answered || this.waiting) return;
    this.users.look(e);
    if (this.owner.containerSource.via !== 'probe') this.groups.look(e);
  }

  /**
   * Processes to read through: the event's, its parent, the last that
   * worked, the tree's live ones of the cgroup, then the kernel's list of
   * the cgroup's (each is checked to be in the event's cgroup before use).
   */
  private *candidates(e: NamesEvent, mount: string | null): Generator<number> {
    yield e.pid;
    if (e.process?.ppid) yield e.process.ppid;
    if (this.pid) yield this.pid;
    const tree = this.tree();
    if (tree) yield* tree.pidsIn(e.cgroupId);
    const path = e.workload?.cgroupPath;
    if (mount && path && !path.includes('..')) yield* cgroupPids(`${mount}${path.startsWith('/') ? '' : '/'}${path}`);
  }
}

/** Where names come from, requests refused over the probe's rate, and the first problems (for status). */
export interface UserNamesState {
  containers: string;
  node: string;
  refused: number;
  /** The probe's reads that timed out (a filesystem under a container's /etc not answering). */
  timedOut: number;
  /** Whether any container's, and the node's, names were looked for yet (a source configured but never used says little). */
  containersLooked: boolean;
  nodeLooked: boolean;
  problems: UserFilesProblem[];
}

/** How the probe's answer starts when its read of a container's files hung past its timeout (bpf/probe/userfiles.cc). */
export const PROBE_TIMED_OUT = 'timed out: ';

/** How long a container whose read hung is not asked for again (the probe's back-off, bpf/probe/userfiles.h kBackOff). */
const STALLED_QUIET_MS = 60_000;

/** The probe refused because a read hung: it timed out, the cgroup is backed off, or too many reads are hung. */
function stalled(error: string): boolean {
  return error.startsWith(PROBE_TIMED_OUT) || error.startsWith('backed off: ') || error.includes(' are hung in the kernel');
}

/** Problems status lists at most. */
export const MAX_PROBLEMS_SAID = 10;

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
  /**
   * The probe, which reads containers' files for an engine that may not
   * (no CAP_SYS_PTRACE: the DaemonSet's); null: no probe to ask.
   */
  probe: ProbeUserFiles | null = null;
  /** Requests the probe refused, over its rate (they are made again at the next look). */
  refused = 0;
  /** Requests whose read hung in the probe past its timeout (the container is backed off there). */
  timedOut = 0;
  /** Where containers' names come from: found at the first read. */
  containerSource: NamesSource = { via: 'unknown' };
  /** Where the node's names come from. */
  nodeSource: NamesSource = { via: 'unknown' };

  private mount: string | null | undefined;
  private nodeAsking = false;
  /** The node's names were read (here, by the probe, or the engine's own in their place). */
  private nodeLooked = false;
  /** Until when the node's names come from the engine's own files (pid 1's could not be read). */
  private nodeOwnUntil = 0;

  /**
   * `root`: the node's files (a test's directory; '/' reads them through
   * the node's pid 1, whose root is the node's when the engine shares the
   * node's pid namespace, and the engine's own otherwise); `proc`: where
   * containers' processes are (a test's fake /proc); `cgroupMount`: the
   * cgroup v2 mount (found in /proc/self/mountinfo when first needed);
   * `viaProbe`: ask the probe for containers' and the node's files
   * without trying to read them here first (what an engine without
   * CAP_SYS_PTRACE ends up doing; config rules.userFiles: probe).
   */
  constructor(
    root = '/',
    private readonly proc = '/proc',
    cgroupMount?: string | null,
    viaProbe = false,
  ) {
    this.mount = cgroupMount;
    if (viaProbe) this.containerSource = this.nodeSource = { via: 'probe' };
    const dir = root.replace(/\/$/, '');
    this.users = new IdNames(this.nodeLoader(dir, 'passwd'), MAX_ENTRIES);
    this.groups = new IdNames(this.nodeLoader(dir, 'group'), MAX_ENTRIES);
  }

  /** Whether a probe is there to ask. */
  probeCan(): boolean {
    return this.probe !== null;
  }

  private nodeLoader(dir: string, name: 'passwd' | 'group'): Loader {
    return (known) => {
      if (dir !== '') {
        this.nodeLooked = true;
        return readNodeFile(`${dir}/etc/${name}`, known);
      }
      // The engine's own /etc (its image's, in a container) until pid 1's can be read again (at most every NODE_RETRY_MS).
      if (Date.now() < this.nodeOwnUntil) return readNodeFile(`/etc/${name}`, known);
      if (this.nodeSource.via === 'probe') return this.askNode();
      // The engine's own root: the node's from pid 1's when it may read that (hostPID), its own image's otherwise.
      const r = readNodeFile(`${this.proc}/1/root/etc/${name}`, known);
      if (!('error' in r)) {
        this.nodeSource = { via: 'direct' };
        this.nodeLooked = true;
        return r;
      }
      if (denied(r) && this.probeCan()) {
        this.nodeSource = { via: 'probe' };
        return this.askNode();
      }
      return this.nodeOwn(r.error, name, known);
    };
  }

  /** The weaker answer: the engine's own /etc/<name>, said in status. */
  private nodeOwn(why: string, name: 'passwd' | 'group', known: string): FileRead {
    this.nodeOwnUntil = Date.now() + NODE_RETRY_MS;
    this.nodeLooked = true;
    this.nodeSource = { via: 'unavailable', why: `${why}; names from the engine's own /etc/passwd and /etc/group, which in a container are its image's, not the node's` };
    return readNodeFile(`/etc/${name}`, known);
  }

  private askNode(): undefined {
    const probe = this.probe;
    if (this.nodeAsking || !probe) return undefined;
    this.nodeAsking = true;
    void probe({ pids: [], cgroupId: 0, node: true, knownPasswd: this.users.signature, knownGroup: this.groups.signature }).then((a) => {
      this.nodeAsking = false;
      const failed = !a.ok ? `through the probe: ${a.error}` : 'error' in a.passwd ? `through the probe: /proc/1/root/${a.passwd.error}` : '';
      if (failed) {
        this.users.accept(this.nodeOwn(failed, 'passwd', this.users.signature));
        this.groups.accept(this.nodeOwn(failed, 'group', this.groups.signature));
        return;
      }
      if (a.ok) {
        this.nodeLooked = true;
        this.users.accept(a.passwd);
        this.groups.accept(a.group);
      }
    });
    return undefined;
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

  /**
   * The first event of a cgroup (the engine calls it then, not per event):
   * when the names come through the probe, they are asked for now, so
   * they are there when the container's first alerts print them. An
   * engine that reads the files itself reads them when a rule needs them.
   */
  seen(e: NamesEvent): void {
    const c = e.workload?.containerId;
    if (!c) {
      // Until the node's files are in (or the engine's own stand in): not a request per host exec.
      if (!this.nodeLooked) this.users.look(e);
      return;
    }
    const ids = this.viaProbe(c, e);
    if (ids) ids.prime(e);
  }

  /**
   * The container's names when they come through the probe (null when the
   * engine reads them itself, lazily). Not known yet: one stat of the
   * event's process's root per container tells (EACCES: the probe's job).
   */
  private viaProbe(containerId: string, e: NamesEvent): ContainerIds | null {
    const via = this.containerSource.via;
    if (via === 'direct' || via === 'unavailable') return null;
    const ids = this.container(containerId);
    if (via === 'unknown') {
      if (ids.modeChecked) return null;
      ids.modeChecked = true;
      const access = rootAccess(`${this.proc}/${e.pid}/root`);
      if (access === 'ok') this.containerSource = { via: 'direct' };
      if (access !== 'denied' || !this.probeCan()) return null;
      this.containerSource = { via: 'probe' };
    }
    return ids;
  }

  /**
   * A container's first events, held until its runtime names it
   * (containers.holdMs): its files are asked of the probe now, and the
   * hold waits for the answer too (within the same holdMs), so the rules
   * that see those events print its names. Nothing to wait for when the
   * engine reads the files itself (it does when a rule needs them).
   */
  prefetch(e: NamesEvent, containerId: string): Promise<void> | null {
    const c = this.viaProbe(containerId, e);
    if (!c) return null;
    c.prime(e);
    return c.waiting;
  }

  private container(id: string): ContainerIds {
    const last = this.last;
    if (last !== null && last.containerId === id) return last;
    let c = this.containers.get(id);
    if (c === undefined) {
      // Oldest first out: a container gone long ago is not asked for again.
      if (this.containers.size >= MAX_CONTAINERS) this.containers.delete(this.containers.keys().next().value!);
      c = new ContainerIds(id, this, this.proc, () => this.treeOf(), () => (this.mount === undefined ? (this.mount = cgroup2Mount()) : this.mount), (p) => this.said(p), (read) => this.bound(read));
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

  /**
   * A container that is gone (its runtime removed it, and its last events
   * are in): its names are dropped, not kept until the bound pushes them out.
   */
  forget(containerId: string): void {
    const c = this.containers.get(containerId);
    if (!c) return;
    c.forgotten = true;
    this.containers.delete(containerId);
    if (this.last === c) this.last = null;
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

  /** For `vigil status`: where containers' and the node's names come from. */
  sources(): { containers: string; node: string } {
    const say = (s: NamesSource, direct: string): string =>
      s.via === 'probe' ? 'through the probe (the engine may not read other processes\' roots)' : s.via === 'direct' ? direct : s.via === 'unavailable' ? `unavailable (${s.why})` : 'not read yet';
    return { containers: say(this.containerSource, "direct (each container's own /etc/passwd and /etc/group through /proc/<pid>/root)"), node: say(this.nodeSource, "direct (the node's /etc/passwd and /etc/group)") };
  }

  /** What `vigil status` says of these names (a detection worker sends it to the main thread). */
  state(): UserNamesState {
    return { ...this.sources(), refused: this.refused, timedOut: this.timedOut, containersLooked: this.containers.size > 0, nodeLooked: this.nodeLooked || this.nodeAsking, problems: this.problems().slice(0, MAX_PROBLEMS_SAID) };
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

// The node's processes, keyed by pid: what each runs, who started it, and
// what it ran before (exec lineage). Seeded from the probe's /proc
// snapshot, kept current by exec/fork/exit events, bounded by recency.
import { EXE_UPPER_LAYER, NO_LOGINUID, type Event } from '../model/event.js';
import type { Process } from '../model/process.js';
import type { WireProcessInfo } from '../probe/wire.js';

/**
 * A bounded map that forgets what was not used lately, at the cost of one
 * Map lookup per hit (an exact LRU moves an entry on every hit: list
 * links, options objects, several cache misses on the event hot path).
 * Entries live in two generations: a hit in the old one moves the entry
 * to the young one; when the young one holds half the bound it becomes
 * the old one and the old one is dropped. So an entry not used while
 * max/2 others were (at most max) is forgotten, and at most max are kept.
 */
class RecentMap<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;

  constructor(max: number) {
    this.half = Math.max(1, Math.floor(max / 2));
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** The value, counted as a use. */
  get(k: K): V | undefined {
    const v = this.young.get(k);
    if (v !== undefined) return v;
    const o = this.old.get(k);
    if (o !== undefined) {
      this.old.delete(k);
      this.add(k, o);
    }
    return o;
  }

  /** The value, not counted as a use. */
  peek(k: K): V | undefined {
    return this.young.get(k) ?? this.old.get(k);
  }

  set(k: K, v: V): void {
    this.old.delete(k);
    this.add(k, v);
  }

  delete(k: K): boolean {
    return this.young.delete(k) || this.old.delete(k);
  }

  private add(k: K, v: V): void {
    this.young.set(k, v);
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
  }
}

const MAX_LINEAGE = 8;

/** A loginuid as Falco shows it: the unset value (uid_t)-1 reads -1. */
function signedUid(u: number): number {
  return u === NO_LOGINUID ? -1 : u;
}
/** Exited processes kept for their children's parent chains before they are forgotten. */
const KEEP_EXITED = 4096;

export class ProcessTree {
  private readonly procs: RecentMap<number, Process>;
  private readonly exited: Process[] = [];

  constructor(maxProcesses: number) {
    this.procs = new RecentMap(maxProcesses);
  }

  get size(): number {
    return this.procs.size;
  }

  get(pid: number): Process | undefined {
    return this.procs.get(pid);
  }

  /** The parent, if the tree knows it. */
  parent(p: Process): Process | undefined {
    return p.ppid && p.ppid !== p.pid ? this.procs.peek(p.ppid) : undefined;
  }

  /** The process and its ancestors, nearest first, up to `max` entries. */
  chain(p: Process, max = 8): Process[] {
    const out = [p];
    let cur: Process | undefined = p;
    while (out.length < max && (cur = this.parent(cur)) && !out.includes(cur)) out.push(cur);
    return out;
  }

  /** Seeds the tree with processes that were running before the probe. */
  addSnapshot(infos: readonly WireProcessInfo[]): void {
    for (const i of infos) {
      const known = this.procs.peek(i.pid);
      // An event may already have told us more than /proc did.
      if (known && known.origin !== 'event') continue;
      this.procs.set(i.pid, {
        pid: i.pid, ppid: i.ppid, uid: i.uid, gid: i.gid, comm: i.comm, exe: i.exe, argv: i.argv, cwd: i.cwd,
        cgroupId: i.cgroupId, tty: i.tty ?? 0,
        capEffective: i.capEffective, capPermitted: i.capPermitted, loginuid: signedUid(i.loginuid),
        vpid: i.vpid, exeUpperLayer: null,
        startKtimeNs: i.startKtimeNs, lineage: known?.lineage ?? [], exited: false, exitCode: 0, origin: 'snapshot',
      });
    }
  }

  /** Applies an event to the tree and returns the process it belongs to. */
  apply(e: Event): Process {
    let p = this.procs.get(e.pid);
    if (!p) {
      p = {
        pid: e.pid, ppid: e.ppid, uid: e.uid, gid: e.gid, comm: e.comm, exe: '', argv: [], cwd: '',
        cgroupId: e.cgroupId, tty: 0, capEffective: null, capPermitted: null, loginuid: null, vpid: 0, exeUpperLayer: null,
        startKtimeNs: 0, lineage: [], exited: false, exitCode: 0, origin: 'event',
      };
      this.procs.set(e.pid, p);
    } else {
      // The kernel's header is the freshest word on identity.
      p.ppid = e.ppid;
      p.uid = e.uid;
      p.gid = e.gid;
      p.cgroupId = e.cgroupId;
    }
    switch (e.type) {
      case 'exec':
        // An exec denied by a security hook never happened: the process
        // still runs its old image.
        if (e.blockedBy === 'bpf-lsm' || e.blockedBy === 'fmod_ret') break;
        if (p.exe) {
          p.lineage.push(p.exe);
          if (p.lineage.length > MAX_LINEAGE) p.lineage.shift();
        }
        p.exe = e.path;
        p.argv = e.argv;
        p.cwd = e.cwd;
        p.comm = e.comm;
        p.tty = e.tty;
        p.capEffective = e.capEffective;
        p.capPermitted = e.capPermitted;
        p.loginuid = signedUid(e.loginuid);
        p.vpid = e.vpid;
        p.exeUpperLayer = (e.exeLayer & EXE_UPPER_LAYER) !== 0;
        p.origin = p.origin === 'event' ? 'exec' : p.origin;
        break;
      case 'fork':
        // The child runs the parent's image, with its credentials, until it execs.
        this.procs.set(e.childPid, {
          pid: e.childPid, ppid: e.pid, uid: e.uid, gid: e.gid, comm: p.comm, exe: p.exe, argv: p.argv, cwd: p.cwd,
          cgroupId: e.cgroupId, tty: p.tty, capEffective: p.capEffective, capPermitted: p.capPermitted, loginuid: p.loginuid,
          vpid: e.vpid, exeUpperLayer: p.exeUpperLayer,
          startKtimeNs: e.ktimeNs, lineage: [], exited: false, exitCode: 0, origin: 'fork',
        });
        break;
      case 'setid':
        // Read at the call's exit: what it left, whether it succeeded or not.
        p.capEffective = e.capEffective;
        p.capPermitted = e.capPermitted;
        if (p.comm !== e.comm) p.comm = e.comm;
        break;
      case 'exit':
        p.exited = true;
        p.exitCode = e.signal ? 128 + e.signal : e.exitCode;
        this.exited.push(p);
        if (this.exited.length > KEEP_EXITED) {
          const old = this.exited.shift()!;
          // Only if the pid was not reused by a newer process meanwhile.
          if (this.procs.peek(old.pid) === old) this.procs.delete(old.pid);
        }
        break;
      default:
        if (p.comm !== e.comm) p.comm = e.comm;
    }
    return p;
  }
}

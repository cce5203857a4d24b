// The node's processes, keyed by pid: what each runs, who started it, and
// what it ran before (exec lineage). Seeded from the probe's /proc
// snapshot, kept current by exec/fork/exit events, bounded by recency.
import { basename } from 'node:path';
import { EXE_UPPER_LAYER, execMore, exitMore, forkMore, NO_LOGINUID, setidMore, type Event } from '../model/event.js';
import type { Process } from '../model/process.js';
import type { WireProcessInfo } from '../probe/wire.js';

/**
 * The processes by pid, bounded, forgetting what was not used lately: a
 * flat table rather than a Map. Pids index an open-addressing hash in one
 * Int32Array (pid and entry side by side: a lookup reads one cache line,
 * where a Map's bucket, entry chain and key check read two or three); the
 * processes sit in a dense array of at most `max` entries. Recency is the
 * CLOCK approximation of LRU: a use sets the entry's bit; when the table
 * is full, a hand sweeps the entries, clearing bits, and the first entry
 * found clear is forgotten (used by no event for a whole sweep).
 */
export class ProcessTable {
  /** pid at 2i, entry index at 2i+1 (-1: an empty slot). */
  private table: Int32Array;
  private shift: number;
  private count = 0;
  private readonly procs: (Process | null)[] = [];
  private readonly pids: Int32Array;
  private readonly used: Uint8Array;
  private readonly free: number[] = [];
  private hand = 0;

  constructor(private readonly max: number) {
    this.pids = new Int32Array(max);
    this.used = new Uint8Array(max);
    this.table = new Int32Array(0);
    this.shift = 0;
    this.resize(1024);
  }

  get size(): number {
    return this.count;
  }

  /** The processes held, in no order. */
  *values(): Generator<Process> {
    for (const p of this.procs) if (p) yield p;
  }

  private resize(slots: number): void {
    const old = this.table;
    this.table = new Int32Array(slots * 2).fill(-1);
    this.shift = 32 - Math.log2(slots);
    for (let i = 0; i < old.length; i += 2) if (old[i + 1]! >= 0) this.insert(old[i]!, old[i + 1]!);
  }

  private home(pid: number): number {
    return (Math.imul(pid, 0x9e3779b1) >>> this.shift) << 1;
  }

  private insert(pid: number, entry: number): void {
    const t = this.table;
    const mask = t.length - 1;
    let i = this.home(pid);
    while (t[i + 1]! >= 0) i = (i + 2) & mask;
    t[i] = pid;
    t[i + 1] = entry;
  }

  /** The table slot of `pid`, or -1. */
  private find(pid: number): number {
    const t = this.table;
    const mask = t.length - 1;
    for (let i = this.home(pid); ; i = (i + 2) & mask) {
      const entry = t[i + 1]!;
      if (entry < 0) return -1;
      if (t[i] === pid) return i;
    }
  }

  /** The process, counted as a use. */
  get(pid: number): Process | undefined {
    const i = this.find(pid);
    if (i < 0) return undefined;
    const entry = this.table[i + 1]!;
    this.used[entry] = 1;
    return this.procs[entry]!;
  }

  /** The process, not counted as a use. */
  peek(pid: number): Process | undefined {
    const i = this.find(pid);
    return i < 0 ? undefined : this.procs[this.table[i + 1]!]!;
  }

  /** Sets the process of `pid` (p.pid); a use when it replaces one, a new entry waits for its first get. */
  set(pid: number, p: Process): void {
    const i = this.find(pid);
    if (i >= 0) {
      const entry = this.table[i + 1]!;
      this.procs[entry] = p;
      this.used[entry] = 1;
      return;
    }
    let entry: number;
    if (this.free.length) entry = this.free.pop()!;
    else if (this.procs.length < this.max) entry = this.procs.push(null) - 1;
    else entry = this.evict();
    this.procs[entry] = p;
    this.pids[entry] = pid;
    // Not yet a use: a table full of fresh entries would make the sweep a plain FIFO, forgetting busy ones.
    this.used[entry] = 0;
    if ((this.count + 1) * 2 > this.table.length >> 1) this.resize(this.table.length);
    this.insert(pid, entry);
    this.count++;
  }

  delete(pid: number): boolean {
    const i = this.find(pid);
    if (i < 0) return false;
    const entry = this.table[i + 1]!;
    this.unlink(i);
    this.procs[entry] = null;
    this.free.push(entry);
    return true;
  }

  /** Frees the entry the CLOCK hand stops at (the table is full): the first whose bit is clear. */
  private evict(): number {
    const n = this.procs.length;
    for (;;) {
      const e = this.hand;
      this.hand = e + 1 === n ? 0 : e + 1;
      if (this.procs[e] === null) continue;
      if (this.used[e]) {
        this.used[e] = 0;
        continue;
      }
      this.unlink(this.find(this.pids[e]!));
      this.procs[e] = null;
      return e;
    }
  }

  /** Removes table slot `i`, shifting back the entries after it that probed past it (no tombstones). */
  private unlink(i: number): void {
    const t = this.table;
    const mask = t.length - 1;
    let hole = i;
    for (let j = (i + 2) & mask; t[j + 1]! >= 0; j = (j + 2) & mask) {
      const h = this.home(t[j]!);
      // j's entry may move to the hole unless its home lies cyclically in (hole, j].
      if ((j > hole && (h <= hole || h > j)) || (j < hole && h <= hole && h > j)) {
        t[hole] = t[j]!;
        t[hole + 1] = t[j + 1]!;
        hole = j;
      }
    }
    t[hole + 1] = -1;
    this.count--;
  }
}

const MAX_LINEAGE = 8;
/**
 * The lineage of a process that has not exec'd since we knew it: one
 * array for all (32 bytes a process otherwise), frozen, as an exec makes
 * a process its own (apply).
 */
const NO_LINEAGE = Object.freeze([]) as unknown as string[];

/**
 * One copy of each string a start-up snapshot repeats (the same exe, comm,
 * cwd and arguments in many processes: protobufjs decodes each afresh),
 * and argv at its size: decoded by pushing to an empty array, which V8
 * grows to 17 slots (152 bytes a process for the usual few words). Both
 * kept for the processes' lives.
 */
class SnapshotStrings {
  private readonly seen = new Map<string, string>();

  get(s: string): string {
    const known = this.seen.get(s);
    if (known !== undefined) return known;
    this.seen.set(s, s);
    return s;
  }

  argv(argv: readonly string[]): string[] {
    return argv.map((a) => this.get(a));
  }
}

/** A loginuid as Falco shows it: the unset value (uid_t)-1 reads -1. */
function signedUid(u: number): number {
  return u === NO_LOGINUID ? -1 : u;
}
/** Exited processes kept for their children's parent chains before they are forgotten. */
const KEEP_EXITED = 4096;

export class ProcessTree {
  private readonly procs: ProcessTable;
  /** Exited processes, a ring of KEEP_EXITED (not an array shifted: that moved 4,096 entries per exit). */
  private readonly exited: (Process | null)[] = new Array<Process | null>(KEEP_EXITED).fill(null);
  private exitedNext = 0;

  /** `identify`: what an exec ran (KnownTools.identify); by default the basename of the file run. */
  constructor(
    maxProcesses: number,
    private readonly identify: (e: Event) => string = (e) => (e.path ? basename(e.path) : ''),
  ) {
    this.procs = new ProcessTable(maxProcesses);
  }

  get size(): number {
    return this.procs.size;
  }

  get(pid: number): Process | undefined {
    return this.procs.get(pid);
  }

  /** Pids of the live processes known in a cgroup (a scan: for rare look-ups, never per event). */
  *pidsIn(cgroupId: number): Generator<number> {
    for (const p of this.procs.values()) if (p.cgroupId === cgroupId && !p.exited) yield p.pid;
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
    const str = new SnapshotStrings();
    for (const i of infos) {
      const known = this.procs.peek(i.pid);
      // An event may already have told us more than /proc did.
      if (known && known.origin !== 'event') continue;
      this.procs.set(i.pid, {
        pid: i.pid, ppid: i.ppid, uid: i.uid, gid: i.gid, comm: str.get(i.comm), exe: str.get(i.exe), tool: i.exe ? str.get(basename(i.exe)) : '', stdio: 0, argv: str.argv(i.argv), env: null, cwd: str.get(i.cwd),
        cgroupId: i.cgroupId, tty: i.tty ?? 0,
        capEffective: i.capEffective, capPermitted: i.capPermitted, loginuid: signedUid(i.loginuid),
        vpid: i.vpid, exeUpperLayer: null,
        startKtimeNs: i.startKtimeNs, lineage: known?.lineage ?? NO_LINEAGE, exited: false, exitCode: 0, origin: 'snapshot', state: null, stateOwner: null,
      });
    }
  }

  /** Applies an event to the tree and returns the process it belongs to. */
  apply(e: Event): Process {
    let p = this.procs.get(e.pid);
    if (p === undefined) {
      p = {
        pid: e.pid, ppid: e.ppid, uid: e.uid, gid: e.gid, comm: e.comm, exe: '', tool: '', stdio: 0, argv: [], env: null, cwd: '',
        cgroupId: e.cgroupId, tty: 0, capEffective: null, capPermitted: null, loginuid: null, vpid: 0, exeUpperLayer: null,
        startKtimeNs: 0, lineage: NO_LINEAGE, exited: false, exitCode: 0, origin: 'event', state: null, stateOwner: null,
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
      case 'exec': {
        // An exec denied by a security hook never happened: the process
        // still runs its old image.
        if (e.blockedBy === 'bpf-lsm' || e.blockedBy === 'fmod_ret') break;
        const x = execMore(e);
        if (p.exe) {
          // The first made at its size (an empty array pushed to grows to 17 slots, 152 bytes a process), never NO_LINEAGE written to.
          if (p.lineage.length === 0) p.lineage = [p.exe];
          else p.lineage.push(p.exe);
          if (p.lineage.length > MAX_LINEAGE) p.lineage.shift();
        }
        p.exe = e.path;
        p.tool = this.identify(e);
        p.stdio = x.stdio;
        p.argv = x.argv;
        p.env = x.env;
        p.cwd = x.cwd;
        p.comm = e.comm;
        p.tty = x.tty;
        p.capEffective = x.capEffective;
        p.capPermitted = x.capPermitted;
        p.loginuid = signedUid(x.loginuid);
        p.vpid = x.vpid;
        p.exeUpperLayer = (x.exeLayer & EXE_UPPER_LAYER) !== 0;
        p.origin = p.origin === 'event' ? 'exec' : p.origin;
        break;
      }
      case 'fork': {
        // The child runs the parent's image, with its credentials, until it execs.
        const f = forkMore(e);
        this.procs.set(f.childPid, {
          pid: f.childPid, ppid: e.pid, uid: e.uid, gid: e.gid, comm: p.comm, exe: p.exe, tool: p.tool, stdio: p.stdio, argv: p.argv, env: p.env, cwd: p.cwd,
          cgroupId: e.cgroupId, tty: p.tty, capEffective: p.capEffective, capPermitted: p.capPermitted, loginuid: p.loginuid,
          vpid: f.vpid, exeUpperLayer: p.exeUpperLayer,
          startKtimeNs: e.ktimeNs, lineage: NO_LINEAGE, exited: false, exitCode: 0, origin: 'fork', state: null, stateOwner: null,
        });
        break;
      }
      case 'setid': {
        // Read at the call's exit: what it left, whether it succeeded or not.
        const m = setidMore(e);
        p.capEffective = m.capEffective;
        p.capPermitted = m.capPermitted;
        p.comm = e.comm;
        break;
      }
      case 'exit':
        p.exited = true;
        {
          const { exitCode, signal } = exitMore(e);
          p.exitCode = signal ? 128 + signal : exitCode;
          const old = this.exited[this.exitedNext];
          this.exited[this.exitedNext] = p;
          this.exitedNext = this.exitedNext + 1 === KEEP_EXITED ? 0 : this.exitedNext + 1;
          // Only if the pid was not reused by a newer process meanwhile.
          if (old && this.procs.peek(old.pid) === old) this.procs.delete(old.pid);
        }
        break;
      default:
        // Stored, not compared first: the same name read from /proc and from
        // an event is two strings, and comparing them cost a string compare
        // per event forever; a store of the decoder's (long-lived) string is cheaper.
        p.comm = e.comm;
    }
    return p;
  }
}

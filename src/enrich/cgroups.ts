// cgroup v2 id → cgroup path. The id the kernel stamps on an event is the
// inode number of the cgroup's directory under the v2 mount, so a path is
// found by /proc/PID/cgroup (cheap, when the process still lives and
// shares our pid namespace) or by walking the cgroup tree.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';

/** The cgroup v2 mount point from a mountinfo text, or null. Never assumed: hybrid hosts mount it at /sys/fs/cgroup/unified. */
export function findCgroup2Mount(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string | null {
  for (const line of mountinfo.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    if (line.slice(dash + 3).split(' ')[0] !== 'cgroup2') continue;
    // "36 25 0:30 / /sys/fs/cgroup rw,..." — the 5th field; octal escapes for spaces.
    const mountPoint = line.slice(0, dash).split(' ')[4];
    if (mountPoint) return mountPoint.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  }
  return null;
}

export interface CgroupPathsOptions {
  mount: string | null;
  /** Whether /proc here shows the probe's pids (same pid namespace). */
  sharedPidNamespace: () => boolean;
  /**
   * Least time between two walks looking for the same unknown id; it
   * doubles after each walk that does not find it, up to MAX_RESCAN_MS.
   * 0: every lookup of an unknown id walks (tests).
   */
  rescanIntervalMs?: number;
}

/** Most walks of the cgroup tree in one second (each unknown id may ask for one). */
const MAX_SCANS_PER_SECOND = 20;
/** Longest wait before an unknown id is looked for again. */
const MAX_RESCAN_MS = 30_000;

/** An unknown id: when it was last looked for (by a walk that started then), and how many walks missed it. */
interface Unknown {
  at: number;
  misses: number;
}

export class CgroupPaths {
  private readonly byId = new LRUCache<number, string>({ max: 65_536 });
  /** Unknown ids, bounded: one forgotten is looked for again at its next event. */
  private readonly lookedFor = new LRUCache<number, Unknown>({ max: 4096 });
  private scansThisSecond = 0;
  private second = 0;
  /** When the last walk started: it saw every cgroup that existed then. */
  private lastScanAt = -Infinity;
  private readonly rescanIntervalMs: number;
  unresolved = 0;
  /** Walks of the cgroup tree so far. */
  scans = 0;

  constructor(private readonly opts: CgroupPathsOptions) {
    this.rescanIntervalMs = opts.rescanIntervalMs ?? 1000;
  }

  get mount(): string | null {
    return this.opts.mount;
  }

  /** The cgroup path ("/shop/web") of an id, or null if it cannot be found (yet). */
  pathOf(id: number, pid: number): string | null {
    const known = this.byId.get(id);
    if (known !== undefined) return known;
    const mount = this.opts.mount;
    if (!mount) return null;
    const viaProc = pid > 0 && this.opts.sharedPidNamespace() ? this.fromProc(mount, id, pid) : null;
    if (viaProc !== null) return viaProc;
    // A cgroup made since the last walk (a container that just started, maybe
    // already gone with its process): walk for it right away, once. An id
    // a walk did not find is gone (ids are inode numbers, never reused) or
    // outside this engine's view of the tree (another cgroup namespace):
    // it is looked for again after the rescan interval, doubled each time
    // up to MAX_RESCAN_MS, and a walk made for another id in the second
    // half of that period counts as its look, its next period running from
    // that walk: ids first seen together stay on the same walks. (Counted
    // only after the due time, an id first seen one walk later than
    // another, milliseconds on a real node, was due just after the other's
    // walk each time and walked for itself.) Each walk reads every
    // directory of the tree (on a busy node, thousands of system calls);
    // unknown ids used to ask for one every second each.
    const now = Date.now();
    const looked = this.lookedFor.get(id);
    if (looked !== undefined) {
      const period = Math.min(this.rescanIntervalMs * 2 ** looked.misses, MAX_RESCAN_MS);
      if (now < looked.at + period) return this.unknown();
      if (this.rescanIntervalMs > 0 && this.lastScanAt >= looked.at + period / 2) {
        looked.at = this.lastScanAt;
        looked.misses++;
        return this.unknown();
      }
    }
    if (!this.mayScan(now)) return this.unknown();
    this.scan(mount);
    const found = this.byId.get(id);
    if (found !== undefined) {
      this.lookedFor.delete(id);
      return found;
    }
    if (looked) {
      looked.at = this.lastScanAt;
      looked.misses++;
    } else {
      this.lookedFor.set(id, { at: this.lastScanAt, misses: 0 });
    }
    return this.unknown();
  }

  private unknown(): null {
    this.unresolved++;
    return null;
  }

  private mayScan(now: number): boolean {
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.scansThisSecond = 0;
    }
    return this.scansThisSecond++ < MAX_SCANS_PER_SECOND;
  }

  private fromProc(mount: string, id: number, pid: number): string | null {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch {
      return null;
    }
    const line = text.split('\n').find((l) => l.startsWith('0::'));
    if (!line) return null;
    const path = line.slice(3);
    try {
      if (statSync(join(mount, path)).ino !== id) return null; // moved since the event
    } catch {
      return null;
    }
    this.byId.set(id, path);
    return path;
  }

  /** Walks the whole cgroup v2 tree, recording every directory's id. */
  scan(mount = this.opts.mount): void {
    if (!mount) return;
    this.scans++;
    this.lastScanAt = Date.now();
    const walk = (dir: string, rel: string, depth: number): void => {
      let st;
      try {
        st = statSync(dir);
      } catch {
        return;
      }
      this.byId.set(st.ino, rel || '/');
      if (depth > 32) return;
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const d of entries) if (d.isDirectory()) walk(join(dir, d.name), `${rel}/${d.name}`, depth + 1);
    };
    walk(mount, '', 0);
  }
}

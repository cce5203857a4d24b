// File checks remembered across workloads. Whether a workload's profile
// covers a path is a lookup in that workload's own sets; with hundreds of
// workloads those sets are spread over megabytes and the lookup waits on
// memory. The same few hundred paths recur in every workload, so the
// answers are kept per path as bits, one per profile slot: a Map from the
// path (hot: the same paths for everyone) to a few words.
//
// A slot's bits hold for one state of its profile's file sets
// (Profile.filesVersion: a number no other state of any profile ever
// had). When the version differs — the profile learned a path, `vigil
// policy apply` or a restart put another profile in the slot — the
// slot's bits are forgotten before anything is read.

/** Paths remembered before the table starts over. */
export const MAX_PATHS = 4096;

let versions = 0;
/** A number never handed out before: file sets take one whenever they change. */
export function newVersion(): number {
  return ++versions;
}

// Per path, four bitsets of `words` words each (the array's length / 4):
// read known, read covered, write known, write covered. A "covered" set
// follows its "known" one: at known + words.
const READ_KNOWN = 0;
const WRITE_KNOWN = 2;

/** Slots of the decoder's intern table (Event.pathKey): a path's words are found there first. */
const KEY_SLOTS = 4096;

/** The keyed slots, empty: '' (no path) and null (no words) in turn. */
function emptyKeyed(): (string | Uint32Array | null)[] {
  const keyed = new Array<string | Uint32Array | null>(2 * KEY_SLOTS);
  for (let i = 0; i < keyed.length; i += 2) {
    keyed[i] = '';
    keyed[i + 1] = null;
  }
  return keyed;
}

export class FileVerdicts {
  private readonly paths = new Map<string, Uint32Array>();
  /**
   * The words of interned paths by their intern slot, in front of the Map:
   * an index and a string compare (the same string object) instead of a
   * Map lookup. The path at 2 × slot, its words beside it (one cache line
   * for both: two arrays cost a miss each). Holds only arrays the Map
   * holds; emptied whenever one of those is replaced or the Map starts over.
   */
  private readonly keyed: (string | Uint32Array | null)[] = emptyKeyed();
  /** Per slot, the profile version its bits hold for. */
  private epochs = new Float64Array(64);
  private slots = 0;

  /** A slot for a profile: bits of every path are kept for it. */
  newSlot(): number {
    if (this.slots === this.epochs.length) {
      const grown = new Float64Array(this.slots * 2);
      grown.set(this.epochs);
      this.epochs = grown;
    }
    return this.slots++;
  }

  get size(): number {
    return this.paths.size;
  }

  /** The words of `path` (`key`: its intern slot, -1 when none). */
  private words(path: string, key: number): Uint32Array | undefined {
    const keyed = this.keyed;
    if (key >= 0 && key < KEY_SLOTS && keyed[2 * key] === path) return keyed[2 * key + 1] as Uint32Array;
    const a = this.paths.get(path);
    if (a !== undefined && key >= 0 && key < KEY_SLOTS) {
      keyed[2 * key] = path;
      keyed[2 * key + 1] = a;
    }
    return a;
  }

  private forgetKeys(): void {
    const keyed = this.keyed;
    for (let i = 0; i < keyed.length; i += 2) {
      keyed[i] = '';
      keyed[i + 1] = null;
    }
  }

  /**
   * Whether the profile in `slot`, at `version`, covers `path` (for writing
   * or reading): 1, 0, or -1 when not known. `key`: the path's intern slot
   * (Event.pathKey), a hint; -1 when none.
   */
  get(path: string, slot: number, version: number, write: boolean, key = -1): number {
    if (this.epochs[slot] !== version) {
      this.forget(slot);
      this.epochs[slot] = version;
      return -1;
    }
    const a = this.words(path, key);
    if (a === undefined) return -1;
    const words = a.length >> 2;
    const w = slot >>> 5;
    if (w >= words) return -1;
    const bit = 1 << (slot & 31);
    const known = (write ? WRITE_KNOWN : READ_KNOWN) * words + w;
    if ((a[known]! & bit) === 0) return -1;
    return (a[known + words]! & bit) !== 0 ? 1 : 0;
  }

  /** Remembers an answer for the slot at the version get() was last asked with. */
  put(path: string, slot: number, write: boolean, covered: boolean, key = -1): void {
    const w = slot >>> 5;
    let a = this.words(path, key);
    if (a === undefined || w >= a.length >> 2) {
      const words = Math.max(w + 1, (this.slots + 31) >>> 5);
      const grown = new Uint32Array(4 * words);
      if (a) {
        const old = a.length >> 2;
        for (let k = 0; k < 4; k++) grown.set(a.subarray(k * old, (k + 1) * old), k * words);
        // The old words may sit at some slot: none may outlive its replacement.
        this.forgetKeys();
      } else if (this.paths.size >= MAX_PATHS) {
        this.paths.clear();
        this.forgetKeys();
      }
      this.paths.set(path, (a = grown));
      if (key >= 0 && key < KEY_SLOTS) {
        this.keyed[2 * key] = path;
        this.keyed[2 * key + 1] = a;
      }
    }
    const words = a.length >> 2;
    const bit = 1 << (slot & 31);
    const known = (write ? WRITE_KNOWN : READ_KNOWN) * words + w;
    a[known]! |= bit;
    if (covered) a[known + words]! |= bit;
    else a[known + words]! &= ~bit;
  }

  /** Forgets every answer of a slot. */
  private forget(slot: number): void {
    const w = slot >>> 5;
    const keep = ~(1 << (slot & 31));
    for (const a of this.paths.values()) {
      const words = a.length >> 2;
      if (w >= words) continue;
      a[READ_KNOWN * words + w]! &= keep;
      a[WRITE_KNOWN * words + w]! &= keep;
    }
  }
}

// The files a workload reads or writes, as a profile holds them: exact
// paths and patterns, learned from observed paths, bounded in size.
//
// Pattern language (entries of files.read / files.write):
//   - entries are absolute, normalised paths ('/', no '.', '..', '//' or trailing '/');
//   - `*` matches any run of characters within one component, never '/'
//     ('/tmp/tmp*' matches '/tmp/tmpa8Xk2_q1', not '/tmp/tmp1/x');
//   - `?` matches exactly one character within a component;
//   - `**` as a whole component matches zero or more components
//     ('/srv/www/**' matches '/srv/www' and everything below it);
//   - `\*`, `\?`, `\\` are a literal '*', '?', '\' (observed names holding
//     them are exported escaped); everything else is literal.
//
// Learning (add):
//   1. A path already covered is not new: add() returns false.
//   2. Otherwise its volatile parts become `*` (volatile.ts: pids under
//      /proc, temp names, hashes, UUIDs, timestamps, rotated logs,
//      per-request files); a resulting pattern absorbs the entries it
//      covers (summary reason 'volatile').
//   3. A directory with more than `collapseAt` distinct children becomes
//      'dir/*', or 'dir/**' when some child has children of its own
//      (reason 'directory').
//   4. Past `maxEntries`, the deepest directory with the most entries
//      below it collapses the same way, again until the set fits (reason 'size').
//   Paths below `exactBelow` prefixes are never collapsed (steps 3 and 4
//   skip those directories and every directory above them, so no pattern
//   reaches into them) and only clearly volatile names there become
//   patterns (ids in /proc, UUIDs, hex hashes, date-and-time stamps).
//   When only such directories are left and the set is full, the new
//   path is not kept: add() still returns true and `dropped` counts it.
//
// Lookup (has) is the hot path: one Set hit for exact entries; otherwise a
// walk of a per-component trie that only enters subtrees holding patterns,
// with compiled component matchers (no regular expressions).
import {
  type Component, componentMatches, GLOB, GLOBSTAR, globMatch, LITERAL, normalisePath,
  parseComponent, parsePattern, regionEquals, subsumes,
} from './glob.js';
import { generaliseComponents } from './volatile.js';

export { globMatch } from './glob.js';

export interface PathSetOptions {
  /** Most entries kept; past it, the deepest directories with the most entries collapse first. */
  maxEntries: number;
  /** A directory with more distinct children than this collapses to `dir/*` (or `dir/**` when its children are directories with their own children). */
  collapseAt: number;
  /** Paths below these prefixes are never collapsed into patterns that reach above the file itself; only clearly volatile names there become patterns. */
  exactBelow?: string[];
  /** Answers of pattern lookups remembered (cleared whenever the set changes); 0 turns it off. */
  lookupCache?: number;
}

export interface CollapseSummary {
  pattern: string;
  /** How many distinct entries it replaced (for 'volatile': the observed name plus the entries it covered). */
  absorbed: number;
  reason: 'volatile' | 'directory' | 'size';
}

/** Where binaries, libraries, system configuration, root's home and mounted secrets live. */
export const DEFAULT_EXACT_BELOW: readonly string[] = [
  '/etc/', '/bin/', '/sbin/', '/usr/', '/lib/', '/lib32/', '/lib64/', '/libx32/', '/boot/', '/root/',
  '/var/run/secrets/', '/run/secrets/', '/var/spool/cron/',
];

export const DEFAULT_PATH_SET_OPTIONS: Readonly<Required<PathSetOptions>> = {
  maxEntries: 2048,
  collapseAt: 32,
  exactBelow: [...DEFAULT_EXACT_BELOW],
  lookupCache: 1024,
};

/** Summaries kept; older ones are dropped first. */
const MAX_SUMMARIES = 512;

class Node {
  literal: Map<string, Node> | null = null;
  wild: Node[] | null = null;
  globstar: Node | null = null;
  isEntry = false;
  /** Entries in this subtree, this node's own included. */
  entriesBelow = 0;
  /** Pattern entries in this subtree; lookups skip subtrees without any. */
  patternsBelow = 0;
  /** Literal children with patterns below them: the only ones a lookup that missed the exact set can need. */
  live: Node[] = [];
  /** GLOB: the first character a matching name must start with, or -1. */
  readonly head: number;

  constructor(
    readonly parent: Node | null,
    /** Null at the root. */
    readonly comp: Component | null,
    readonly depth: number,
    /** This node as an entry ('/proc/*'). */
    readonly path: string,
    /** Some component from the root to here is a wildcard. */
    readonly pattern: boolean,
    /** At or below an exactBelow prefix. */
    readonly below: boolean,
    /** Never collapsed: the root, at or below an exactBelow prefix, or above one. */
    readonly guarded: boolean,
  ) {
    this.head = comp !== null && comp.kind === GLOB && comp.text.length > 0 ? comp.text.charCodeAt(0) : -1;
  }

  childCount(): number {
    return (this.literal?.size ?? 0) + (this.wild?.length ?? 0) + (this.globstar ? 1 : 0);
  }

  *children(): Generator<Node> {
    if (this.literal) yield* this.literal.values();
    if (this.wild) yield* this.wild;
    if (this.globstar) yield this.globstar;
  }
}

/** Up to this many live literal children are scanned in place; past it, a Map lookup. */
const LIVE_SCAN = 16;

function isIrregular(path: string, s: number, e: number): boolean {
  return e === s || (path.charCodeAt(s) === 46 /* . */ && (e - s === 1 || (e - s === 2 && path.charCodeAt(s + 1) === 46)));
}

/**
 * Whether the rest of `path`, from the component starting at `s`, is
 * matched below `node` (s past the end: nothing left). Components are
 * found as the walk goes (indexOf), so a path that leaves the trie early
 * is not scanned further. An empty, '.' or '..' component matches nothing
 * (has() normalises such paths and walks again).
 */
function matchNode(node: Node, path: string, s: number): boolean {
  const len = path.length;
  if (s > len) {
    if (node.isEntry) return true;
    const g = node.globstar;
    return g !== null && matchNode(g, path, s);
  }
  let e = path.indexOf('/', s);
  if (e < 0) e = len;
  if (isIrregular(path, s, e)) return false;
  const live = node.live;
  if (live.length > LIVE_SCAN) {
    const child = node.literal!.get(path.slice(s, e));
    if (child !== undefined && child.patternsBelow > 0 && matchNode(child, path, e + 1)) return true;
  } else {
    // A short scan compares lengths and characters in place: no substring, no hashing.
    const n = e - s;
    for (let k = 0; k < live.length; k++) {
      const c = live[k]!;
      const name = c.comp!.text;
      if (name.length === n && regionEquals(path, s, name)) {
        if (matchNode(c, path, e + 1)) return true;
        break;
      }
    }
  }
  const wild = node.wild;
  if (wild !== null) {
    const first = path.charCodeAt(s);
    for (let k = 0; k < wild.length; k++) {
      const w = wild[k]!;
      if ((w.head < 0 || w.head === first) && componentMatches(w.comp!, path, s, e) && matchNode(w, path, e + 1)) return true;
    }
  }
  const g = node.globstar;
  if (g !== null) {
    // `**` takes zero or more whole components.
    for (let j = s; ; ) {
      if (matchNode(g, path, j)) return true;
      if (j > len) return false;
      let k = path.indexOf('/', j);
      if (k < 0) k = len;
      if (isIrregular(path, j, k)) return false;
      j = k + 1;
    }
  }
  return false;
}

/** Where the first component starts ('/' has none). */
function firstStart(path: string): number {
  return path.length === 1 ? 2 : 1;
}

function resolveOptions(opts: Partial<PathSetOptions> | undefined): Required<PathSetOptions> {
  const o = { ...DEFAULT_PATH_SET_OPTIONS, ...opts };
  if (!Number.isInteger(o.maxEntries) || o.maxEntries < 1) throw new Error(`PathSet: maxEntries must be a positive integer (got ${String(o.maxEntries)})`);
  if (!Number.isInteger(o.collapseAt) || o.collapseAt < 1) throw new Error(`PathSet: collapseAt must be a positive integer (got ${String(o.collapseAt)})`);
  const exactBelow = (o.exactBelow ?? []).map((p, i) => {
    const norm = normalisePath(p);
    if (norm === null) throw new Error(`PathSet: exactBelow[${i}] must be an absolute path (got ${JSON.stringify(p)})`);
    return norm === '/' ? '/' : `${norm}/`;
  });
  if (!Number.isInteger(o.lookupCache) || o.lookupCache < 0) throw new Error(`PathSet: lookupCache must be a non-negative integer (got ${String(o.lookupCache)})`);
  return { maxEntries: o.maxEntries, collapseAt: o.collapseAt, exactBelow, lookupCache: o.lookupCache };
}

export class PathSet {
  private readonly opts: Required<PathSetOptions>;
  /** Exact entries as plain paths (unescaped), for the one-hit lookup. */
  private readonly exact = new Set<string>();
  private readonly root: Node;
  /** exactBelow prefixes as directories ('/etc'), and every directory above them. */
  private readonly guardDirs: Set<string>;
  private readonly aboveDirs: Set<string>;
  private readonly log: CollapseSummary[] = [];
  private droppedCount = 0;
  /** Recent answers for paths that needed the trie walk. */
  private readonly answers = new Map<string, boolean>();
  /** Called whenever an entry is added or removed (the owning profile's answers change). */
  onChange: (() => void) | null = null;

  constructor(opts?: Partial<PathSetOptions>) {
    this.opts = resolveOptions(opts);
    this.guardDirs = new Set(this.opts.exactBelow.map((p) => (p === '/' ? '/' : p.slice(0, -1))));
    this.aboveDirs = new Set<string>();
    for (const d of this.guardDirs) {
      for (let i = d.lastIndexOf('/'); i > 0; i = d.lastIndexOf('/', i - 1)) this.aboveDirs.add(d.slice(0, i));
    }
    this.root = new Node(null, null, 0, '/', false, this.guardDirs.has('/'), true);
  }

  /** Rebuilds from exported entries (a reviewed policy), taken as they are: nothing is generalised, absorbed or collapsed. */
  static from(entries: readonly string[], opts?: Partial<PathSetOptions>): PathSet {
    const set = new PathSet(opts);
    entries.forEach((e, i) => {
      let comps: Component[];
      try {
        comps = parsePattern(e);
      } catch (err) {
        throw new Error(`PathSet.from: entry ${i} (${JSON.stringify(e)}): ${(err as Error).message}`, { cause: err });
      }
      const node = set.nodeFor(comps);
      if (!node.isEntry) set.setEntry(node);
    });
    return set;
  }

  get size(): number {
    return this.root.entriesBelow;
  }

  /** New paths not kept because the set was full and nothing left could collapse. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Whether an absolute path is covered by an exact entry or a pattern. */
  has(path: string): boolean {
    if (this.exact.has(path)) return true;
    if (this.root.patternsBelow === 0 || path.charCodeAt(0) !== 47) return false;
    const cache = this.opts.lookupCache > 0;
    if (cache) {
      const known = this.answers.get(path);
      if (known !== undefined) return known;
    }
    let found = matchNode(this.root, path, firstStart(path));
    if (!found && (path.includes('/.') || path.includes('//') || path.endsWith('/'))) {
      const p = normalisePath(path)!;
      if (p !== path) found = this.exact.has(p) || matchNode(this.root, p, firstStart(p));
    }
    if (cache) {
      if (this.answers.size >= this.opts.lookupCache) this.answers.clear();
      this.answers.set(path, found);
    }
    return found;
  }

  /** Records an observed absolute path; true when it was not covered before (new behaviour). */
  add(path: string): boolean {
    if (this.has(path)) return false;
    const norm = normalisePath(path);
    if (norm === null) throw new Error(`PathSet.add: not an absolute path: ${JSON.stringify(path)}`);
    const names = norm === '/' ? [] : norm.slice(1).split('/');
    const comps = generaliseComponents(names, this.inExactZone(norm)).map(parseComponent);
    const node = this.nodeFor(comps);
    this.setEntry(node);
    if (node.pattern) this.summarise(node.path, 1 + this.absorb(node, comps), 'volatile');
    this.collapseCrowded(node);
    this.fit(node);
    return true;
  }

  /** Every entry (exact paths and patterns), sorted. */
  entries(): string[] {
    const out: string[] = [];
    const walk = (n: Node): void => {
      if (n.isEntry) out.push(n.path);
      for (const c of n.children()) walk(c);
    };
    walk(this.root);
    return out.sort();
  }

  /** What was collapsed and why, newest last (the latest 512). */
  summaries(): CollapseSummary[] {
    return this.log.map((s) => ({ ...s }));
  }

  private inExactZone(norm: string): boolean {
    for (const p of this.opts.exactBelow) if (norm.startsWith(p) || `${norm}/` === p) return true;
    return false;
  }

  private summarise(pattern: string, absorbed: number, reason: CollapseSummary['reason']): void {
    if (this.log.length >= MAX_SUMMARIES) this.log.shift();
    this.log.push({ pattern, absorbed, reason });
  }

  // --- The trie ---

  private childOf(node: Node, c: Component): Node | undefined {
    if (c.kind === LITERAL) return node.literal?.get(c.text);
    if (c.kind === GLOBSTAR) return node.globstar ?? undefined;
    return node.wild?.find((w) => w.comp!.key === c.key);
  }

  private nodeFor(comps: readonly Component[]): Node {
    let node = this.root;
    for (const c of comps) node = this.childOf(node, c) ?? this.attach(node, c);
    return node;
  }

  private attach(parent: Node, c: Component): Node {
    const path = parent === this.root ? `/${c.key}` : `${parent.path}/${c.key}`;
    const pattern = parent.pattern || c.kind !== LITERAL;
    const below = parent.below || (!pattern && this.guardDirs.has(path));
    let above = false;
    if (!pattern) above = this.aboveDirs.has(path);
    else for (const d of [...this.aboveDirs, ...this.guardDirs]) if (globMatch(path, d)) above = true;
    const node = new Node(parent, c, parent.depth + 1, path, pattern, below, below || above);
    if (c.kind === LITERAL) (parent.literal ??= new Map()).set(c.text, node);
    else if (c.kind === GLOBSTAR) parent.globstar = node;
    else (parent.wild ??= []).push(node);
    return node;
  }

  private detach(node: Node): void {
    const parent = node.parent!;
    const c = node.comp!;
    if (c.kind === LITERAL) {
      parent.literal!.delete(c.text);
      if (parent.literal!.size === 0) parent.literal = null;
    } else if (c.kind === GLOBSTAR) {
      parent.globstar = null;
    } else {
      parent.wild!.splice(parent.wild!.indexOf(node), 1);
      if (parent.wild!.length === 0) parent.wild = null;
    }
  }

  /** Adds to the entry counts of a node and every node above it. */
  private bump(node: Node, entries: number, patterns: number): void {
    this.answers.clear();
    this.onChange?.();
    for (let n: Node | null = node; n !== null; n = n.parent) {
      const had = n.patternsBelow > 0;
      n.entriesBelow += entries;
      n.patternsBelow += patterns;
      const has = n.patternsBelow > 0;
      if (had !== has && n.parent !== null && n.comp!.kind === LITERAL) {
        if (has) n.parent.live.push(n);
        else n.parent.live.splice(n.parent.live.indexOf(n), 1);
      }
    }
  }

  private rawPath(node: Node): string {
    const names: string[] = [];
    for (let n: Node | null = node; n !== null && n.comp !== null; n = n.parent) names.push(n.comp.text);
    return names.length === 0 ? '/' : `/${names.reverse().join('/')}`;
  }

  private compsOf(node: Node): Component[] {
    const comps: Component[] = [];
    for (let n: Node | null = node; n !== null && n.comp !== null; n = n.parent) comps.push(n.comp);
    return comps.reverse();
  }

  private setEntry(node: Node): void {
    node.isEntry = true;
    this.bump(node, 1, node.pattern ? 1 : 0);
    if (!node.pattern) this.exact.add(this.rawPath(node));
  }

  private clearEntry(node: Node, prune = true): void {
    node.isEntry = false;
    this.bump(node, -1, node.pattern ? -1 : 0);
    if (!node.pattern) this.exact.delete(this.rawPath(node));
    if (!prune) return;
    for (let n = node; n.parent !== null && !n.isEntry && n.childCount() === 0; n = n.parent) this.detach(n);
  }

  /** Removes everything below a node; returns how many entries went. */
  private removeChildren(node: Node): number {
    let entries = 0;
    let patterns = 0;
    const walk = (n: Node): void => {
      if (n.isEntry) {
        entries++;
        if (n.pattern) patterns++;
        else this.exact.delete(this.rawPath(n));
        n.isEntry = false;
      }
      for (const c of n.children()) walk(c);
    };
    for (const c of node.children()) walk(c);
    node.literal = null;
    node.wild = null;
    node.globstar = null;
    node.live = [];
    this.bump(node, -entries, -patterns);
    return entries;
  }

  /** Removes the entries a new pattern covers; returns how many. */
  private absorb(node: Node, comps: readonly Component[]): number {
    let scope = node;
    while (scope.pattern) scope = scope.parent!;
    const covered: Node[] = [];
    const walk = (n: Node): void => {
      if (n.isEntry && n !== node && subsumes(comps, this.compsOf(n))) covered.push(n);
      for (const c of n.children()) walk(c);
    };
    walk(scope);
    for (const n of covered) this.clearEntry(n);
    return covered.length;
  }

  // --- Collapsing ---

  /** Collapses the directories above a new entry that now have too many children. */
  private collapseCrowded(node: Node): void {
    for (let a = node.parent; a !== null; a = a.parent) {
      if (!a.guarded && a.childCount() > this.opts.collapseAt) this.collapse(a, 'directory');
    }
  }

  private collapse(dir: Node, reason: CollapseSummary['reason']): void {
    let deep = false;
    for (const c of dir.children()) if (c.childCount() > 0 || c.comp!.kind === GLOBSTAR) deep = true;
    let absorbed = this.removeChildren(dir);
    const node = this.attach(dir, parseComponent(deep ? '**' : '*'));
    this.setEntry(node);
    if (deep && dir.isEntry) {
      this.clearEntry(dir, false);
      absorbed++;
    }
    absorbed += this.absorb(node, this.compsOf(node));
    this.summarise(node.path, absorbed, reason);
  }

  /** Collapses until the set fits; drops the new entry when nothing can collapse. */
  private fit(added: Node): void {
    while (this.size > this.opts.maxEntries) {
      const dir = this.pickForSize();
      if (dir === null) {
        if (added.isEntry) {
          this.clearEntry(added);
          this.droppedCount++;
        }
        return;
      }
      this.collapse(dir, 'size');
    }
  }

  /** The deepest collapsible directory with at least two entries below it; most entries, then name, break ties. */
  private pickForSize(): Node | null {
    let best: Node | null = null;
    let bestBelow = 0;
    const walk = (n: Node): void => {
      const below = n.entriesBelow - (n.isEntry ? 1 : 0);
      if (below < 2) return;
      if (!n.guarded) {
        const better =
          best === null || n.depth > best.depth ||
          (n.depth === best.depth && (below > bestBelow || (below === bestBelow && n.path < best.path)));
        if (better) {
          best = n;
          bestBelow = below;
        }
      }
      for (const c of n.children()) walk(c);
    };
    walk(this.root);
    return best;
  }
}

/**
 * The pattern an observed path generalises to by its own name alone (no
 * history), escaped as an entry: '/proc/1234/stat' → '/proc/*\/stat'.
 * `strict` applies only the rules used below exactBelow prefixes.
 */
export function generalise(path: string, strict = false): string {
  const norm = normalisePath(path);
  if (norm === null) throw new Error(`generalise: not an absolute path: ${JSON.stringify(path)}`);
  if (norm === '/') return '/';
  return `/${generaliseComponents(norm.slice(1).split('/'), strict).join('/')}`;
}

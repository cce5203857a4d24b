// The path pattern language of profiles (files.read / files.write):
//   - an entry is an absolute, normalised path: it starts with '/', has no
//     empty, '.' or '..' components and no trailing '/';
//   - `*` matches any run of characters inside one component (never '/'),
//     the empty run included: '/tmp/tmp*' matches '/tmp/tmp' and '/tmp/tmpa8Xk2_q1';
//   - `?` matches exactly one character inside a component;
//   - `**` as a whole component matches zero or more components:
//     '/srv/www/**' matches '/srv/www', '/srv/www/a' and '/srv/www/a/b/c';
//     '**' inside a component ('a**b') is the same as '*';
//   - `\` makes the next `*`, `?` or `\` literal (an observed name holding
//     one of these is exported escaped); any other character after `\` is an error;
//   - everything else is literal, case-sensitive, byte for byte.
// An entry with no unescaped `*` or `?` is an exact path.
//
// Matching walks components with precomputed offsets and compiled
// segments: no regular expression, no allocation per component.

export const STAR = 0;
export const ONE = 1;
/** A compiled component piece: literal text, `*` or `?`. */
export type Segment = string | typeof STAR | typeof ONE;

export const LITERAL = 0;
export const GLOB = 1;
export const GLOBSTAR = 2;

export interface Component {
  kind: typeof LITERAL | typeof GLOB | typeof GLOBSTAR;
  /** The component as written in an entry, canonical and escaped. */
  key: string;
  /** LITERAL: the unescaped name. GLOB: literal text before the first wildcard. */
  text: string;
  /** GLOB: the pieces in order; otherwise empty. */
  segs: Segment[];
  /** GLOB: literal text after the last wildcard. */
  tail: string;
  /** GLOB: exactly one `*` and no `?` ('head*tail'), matched with two comparisons. */
  simple: boolean;
}

export class PatternError extends Error {}

const SPECIAL = /[*?\\]/g;

/** Escapes a literal name or path so it reads as itself in the pattern language. */
export function escapeLiteral(s: string): string {
  return s.replace(SPECIAL, '\\$&');
}

/** Parses one component as written in an entry. */
export function parseComponent(raw: string): Component {
  if (raw === '') throw new PatternError('empty path component');
  if (raw === '**') return { kind: GLOBSTAR, key: '**', text: '', segs: [], tail: '', simple: false };
  const segs: Segment[] = [];
  let lit = '';
  let wild = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\') {
      const n = raw[i + 1];
      if (n !== '*' && n !== '?' && n !== '\\') throw new PatternError(`'\\' must be followed by '*', '?' or '\\' (in "${raw}")`);
      lit += n;
      i++;
    } else if (c === '*' || c === '?') {
      wild = true;
      if (lit) segs.push(lit);
      lit = '';
      if (c === '?') segs.push(ONE);
      else if (segs[segs.length - 1] !== STAR) segs.push(STAR);
    } else {
      lit += c;
    }
  }
  if (!wild) {
    if (lit === '.' || lit === '..') throw new PatternError(`'${lit}' component (entries are normalised paths)`);
    return { kind: LITERAL, key: escapeLiteral(lit), text: lit, segs: [], tail: '', simple: false };
  }
  if (lit) segs.push(lit);
  const key = segs.map((s) => (s === STAR ? '*' : s === ONE ? '?' : escapeLiteral(s))).join('');
  const head = typeof segs[0] === 'string' ? segs[0] : '';
  const last = segs[segs.length - 1]!;
  const tail = typeof last === 'string' && segs.length > 1 ? last : '';
  const wildcards = segs.filter((x) => typeof x !== 'string');
  const simple = wildcards.length === 1 && wildcards[0] === STAR;
  return { kind: GLOB, key, text: head, segs, tail, simple };
}

/** Parses an entry into components ('/' alone has none). */
export function parsePattern(pattern: string): Component[] {
  if (typeof pattern !== 'string' || pattern[0] !== '/') throw new PatternError('not an absolute path');
  if (pattern === '/') return [];
  if (pattern.endsWith('/')) throw new PatternError('trailing "/"');
  return pattern.slice(1).split('/').map(parseComponent);
}

export function componentsKey(comps: readonly Component[]): string {
  return comps.length === 0 ? '/' : `/${comps.map((c) => c.key).join('/')}`;
}

export function isPatternComponents(comps: readonly Component[]): boolean {
  for (const c of comps) if (c.kind !== LITERAL) return true;
  return false;
}

/**
 * Whether `text` occurs in `s` at `at` (the caller checks bounds).
 * A charCodeAt loop: V8 inlines it, where startsWith(x, pos) costs tens of ns a call.
 */
export function regionEquals(s: string, at: number, text: string): boolean {
  for (let k = 0; k < text.length; k++) if (s.charCodeAt(at + k) !== text.charCodeAt(k)) return false;
  return true;
}

/** Whether the GLOB segments match path[start, end). Greedy with one backtrack point, as classic wildcard matching. */
export function segmentsMatch(segs: readonly Segment[], path: string, start: number, end: number): boolean {
  let si = 0;
  let p = start;
  let starSi = -1;
  let starP = 0;
  const n = segs.length;
  for (;;) {
    if (si < n) {
      const s = segs[si]!;
      if (s === STAR) {
        starSi = si++;
        starP = p;
        continue;
      }
      if (s === ONE) {
        if (p < end) {
          p++;
          si++;
          continue;
        }
      } else if (p + s.length <= end && regionEquals(path, p, s)) {
        p += s.length;
        si++;
        continue;
      }
    } else if (p === end) {
      return true;
    }
    if (starSi < 0 || starP >= end) return false;
    p = ++starP;
    si = starSi + 1;
  }
}

/** Whether a LITERAL or GLOB component matches path[start, end). */
export function componentMatches(c: Component, path: string, start: number, end: number): boolean {
  if (c.kind === LITERAL) return end - start === c.text.length && regionEquals(path, start, c.text);
  if (c.kind === GLOB) {
    if (end - start < c.text.length + c.tail.length || !regionEquals(path, start, c.text) || !regionEquals(path, end - c.tail.length, c.tail)) return false;
    return c.simple || segmentsMatch(c.segs, path, start, end);
  }
  return true;
}

/** Component offsets of a path, reused between calls (matching is synchronous). */
export class Offsets {
  starts = new Int32Array(64);
  ends = new Int32Array(64);
  /** Set by split(): the path has '.', '..' or empty components and must be normalised first. */
  irregular = false;

  /** Fills starts/ends for an absolute path; returns the component count. */
  split(path: string): number {
    const len = path.length;
    let n = 0;
    let i = 1;
    this.irregular = false;
    // indexOf scans natively, several times faster than a charCodeAt loop.
    while (i <= len) {
      let j = path.indexOf('/', i);
      if (j < 0) j = len;
      if (j === i) {
        if (len > 1) this.irregular = true; // '//' or a trailing '/'
      } else {
        if (path.charCodeAt(i) === 46 /* . */ && (j - i === 1 || (j - i === 2 && path.charCodeAt(i + 1) === 46))) this.irregular = true;
        if (n === this.starts.length) this.grow();
        this.starts[n] = i;
        this.ends[n] = j;
        n++;
      }
      i = j + 1;
    }
    return n;
  }

  private grow(): void {
    const s = new Int32Array(this.starts.length * 2);
    const e = new Int32Array(this.ends.length * 2);
    s.set(this.starts);
    e.set(this.ends);
    this.starts = s;
    this.ends = e;
  }
}

/**
 * Lexically normalises an absolute path the way the probe does
 * (bpf/probe/decoder.cc ResolvePath): empty and '.' components dropped,
 * '..' removes the previous one (never above '/'). Null when not absolute.
 */
export function normalisePath(path: string): string | null {
  if (typeof path !== 'string' || path.charCodeAt(0) !== 47) return null;
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.length === 0 ? '/' : `/${out.join('/')}`;
}

function matchFrom(comps: readonly Component[], ci: number, path: string, o: Offsets, pi: number, n: number): boolean {
  while (ci < comps.length) {
    const c = comps[ci]!;
    if (c.kind === GLOBSTAR) {
      for (let j = pi; j <= n; j++) if (matchFrom(comps, ci + 1, path, o, j, n)) return true;
      return false;
    }
    if (pi >= n || !componentMatches(c, path, o.starts[pi]!, o.ends[pi]!)) return false;
    ci++;
    pi++;
  }
  return pi === n;
}

const compiled = new Map<string, Component[]>();
const globOffsets = new Offsets();

/**
 * Whether `path` (absolute; matched as given) is matched by `pattern`.
 * Throws PatternError on a malformed pattern.
 */
export function globMatch(pattern: string, path: string): boolean {
  let comps = compiled.get(pattern);
  if (comps === undefined) {
    comps = parsePattern(pattern);
    if (compiled.size >= 1024) compiled.clear();
    compiled.set(pattern, comps);
  }
  if (typeof path !== 'string' || path.charCodeAt(0) !== 47) return false;
  const n = globOffsets.split(path);
  return matchFrom(comps, 0, path, globOffsets, 0, n);
}

// --- Subsumption: does every path one pattern matches also match another? ---

type Token = string | typeof STAR | typeof ONE;

function tokens(c: Component): Token[] {
  if (c.kind === LITERAL) return [...c.text];
  const out: Token[] = [];
  for (const s of c.segs) {
    if (typeof s === 'string') out.push(...s);
    else out.push(s);
  }
  return out;
}

/** Sound, not complete: true only when every name `q` matches, `p` matches too. */
function componentCovers(p: Component, q: Component): boolean {
  if (p.kind === LITERAL) return q.kind === LITERAL && p.text === q.text;
  const pt = tokens(p);
  const qt = tokens(q);
  // dp[j]: pt[0..i) covers qt[0..j)
  let prev = new Array<boolean>(qt.length + 1).fill(false);
  prev[0] = true;
  for (let i = 1; i <= pt.length; i++) {
    const a = pt[i - 1]!;
    const cur = new Array<boolean>(qt.length + 1).fill(false);
    if (a === STAR) {
      let any = false;
      for (let j = 0; j <= qt.length; j++) {
        any = any || prev[j]!;
        cur[j] = any;
      }
    } else {
      for (let j = 1; j <= qt.length; j++) {
        const b = qt[j - 1]!;
        const ok = a === ONE ? b !== STAR : a === b;
        cur[j] = ok && prev[j - 1]!;
      }
    }
    prev = cur;
  }
  return prev[qt.length]!;
}

function subsumesFrom(p: readonly Component[], pi: number, q: readonly Component[], qi: number): boolean {
  if (pi === p.length) return qi === q.length;
  const pc = p[pi]!;
  if (pc.kind === GLOBSTAR) {
    for (let j = qi; j <= q.length; j++) if (subsumesFrom(p, pi + 1, q, j)) return true;
    return false;
  }
  if (qi === q.length) return false;
  const qc = q[qi]!;
  if (qc.kind === GLOBSTAR) return false;
  return componentCovers(pc, qc) && subsumesFrom(p, pi + 1, q, qi + 1);
}

/** Whether pattern `p` matches every path pattern `q` matches (conservative: may say false when it does). */
export function subsumes(p: readonly Component[], q: readonly Component[]): boolean {
  return subsumesFrom(p, 0, q, 0);
}

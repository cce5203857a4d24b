// Volatile names: the parts of a path that change from run to run or
// request to request (pids, fds, temp names, hashes, timestamps, rotated
// logs, per-request files), replaced by `*` so a profile holds one
// pattern instead of an endless stream of new entries.
//
// Rules work on one component at a time, with the components above it as
// context. Each marks character ranges as volatile; adjacent marked ranges
// separated only by '.', '-' or '_' merge, and each marked run becomes one
// `*`. The first component ('/proc', '/tmp', …) is never replaced.
//
// Everywhere (also below exact-only prefixes, "strict"):
//   - numeric components under /proc (pids, tids, fds), /dev/pts, /dev/fd
//     and /sys/fs/cgroup; /proc/<pid>/map_files address ranges;
//   - RFC 4122 UUIDs (also with '_' as in systemd pod slices);
//   - hex runs of 16+ characters holding a digit (hashes, container ids, WAL names);
//   - date-and-time stamps (Kubernetes '..2026_11_23_10_00_00.123456789' volume dirs).
// Outside exact-only prefixes as well:
//   - dates ('app-2026-11-23.log'), digit runs of 6+ (epoch times, ids,
//     counters), all-digit components of 4+ digits;
//   - log rotation: anything after '.log' ('access.log.3.gz' → 'access.log*'),
//     a number before '.log' ('x.1.log'), and under a log directory a
//     trailing '.N', '-YYYYMMDD', optionally compressed ('syslog.2.gz' → 'syslog*');
//   - temp names: 'tmp' + random suffix (Python, mktemp), digits right
//     after 'tmp', 'temp' or 'pid' ('pgsql_tmp87.0', '.java_pid7'), '.#' lock names;
//     below a temp directory (tmp, temp, *_tmp, *_temp, /dev/shm,
//     hsperfdata_*) every number, a mkstemp six-character suffix holding
//     a capital or a digit ('sh-thd.Ab3kQz'), and random-looking tokens
//     ('ab12cd34', 'AbCdEf', 'build123456789' → 'build*'); an all-lowercase
//     random suffix reads as a word and is left to directory collapse;
//   - postgres: numbers in 'base/<oid>/' names ('<relfilenode>[_fsm|_vm][.N]',
//     'pg_internal.init.<pid>')
//     and counter-named segments (pg_xact, pg_subtrans, pg_multixact, pg_wal …);
//   - hash fan-out directories: 1–2 hex characters above a hash or another
//     fan-out level (nginx proxy_cache levels, git objects);
//   - long random tokens (20+ letters and digits mixed: session ids).
import { escapeLiteral } from './glob.js';

const UUID = /[0-9a-f]{8}([-_])[0-9a-f]{4}\1[0-9a-f]{4}\1[0-9a-f]{4}\1[0-9a-f]{12}/gi;
const HEX16 = /(?<![0-9a-z])[0-9a-f]{16,}(?![0-9a-z])/gi;
const DIGIT = /\d/;
// A date, optionally followed by a time (group 2, set when present).
const STAMP =
  /(?<!\d)(?:19|20)\d{2}([-_.]?)(?:0[1-9]|1[0-2])\1(?:0[1-9]|[12]\d|3[01])(?:[T_ .-]?(([01]\d|2[0-3])([-:_.]?)[0-5]\d(?:\4[0-5]\d)?(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?))?(?!\d)/g;
const DIGITS6 = /\d{6,}/g;
const ALL_DIGITS = /^\d+$/;
const HEX_RANGE = /^[0-9a-f]+-[0-9a-f]+$/i;
const LOG_EXT_TAIL = /\.log(?=[._-])/i;
const NUM_BEFORE_LOG = /[._-](\d{1,4})(?=\.log(?:$|[._-]))/gi;
const ROTATED_TAIL = /[._-](?:\d{1,4}|\d{8}(?:\d{6})?)(?:\.(?:gz|bz2|xz|zst|lz4|z))?$/i;
const TMP_PREFIX = /^\.?tmp([._-]?[A-Za-z0-9_]{6,12})(?=$|\.)/i;
// A mkstemp-style suffix: six letters or digits after a separator, at the end or before a short extension.
const MKSTEMP_SUFFIX = /[._-]([A-Za-z0-9]{6})(?:\.[A-Za-z0-9]{1,4})?$/;
const TOKEN = /[A-Za-z0-9]+/g;
const WORD_NUMBER = /^([A-Za-z]{2,})(\d{3,})$/;
const WORD_SMALL_NUMBER = /^[A-Za-z]+\d{1,2}$/;
const TMP_DIGITS = /(?:tmp|temp|pid)(\d+)/gi;
const HEX_TOKEN = /^[0-9A-Fa-f]{4,}$/;
const FANOUT = /^[0-9a-f]{1,2}$/i;
const HASH_HEAD = /^[0-9a-f]{16}/i;

const COUNTER_DIRS = new Set([
  'pg_xact', 'pg_clog', 'pg_subtrans', 'offsets', 'members', 'pg_commit_ts', 'pg_serial',
  'pg_notify', 'pg_wal', 'pg_xlog', 'archive_status', 'pg_snapshots', 'snapshots', 'mappings',
]);

function isTempDir(name: string, parent: string | undefined): boolean {
  const n = name.toLowerCase();
  if (n === 'tmp' || n === 'temp' || n === '.tmp' || n === '.temp') return true;
  if (n === 'shm' && (parent === 'dev' || parent === 'run')) return true;
  if (n.startsWith('hsperfdata_')) return true;
  return /(?:^|[._-])(?:tmp|temp)$/.test(n) || /[a-z](?:tmp|temp)$/.test(n);
}

function isLogDir(name: string): boolean {
  const n = name.toLowerCase();
  return n === 'log' || n === 'logs' || n.endsWith('_log') || n.endsWith('-log') || n.endsWith('-logs') || n.endsWith('_logs');
}

function markRange(mask: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) mask[i] = 1;
}

function markAll(mask: Uint8Array, re: RegExp, s: string, pred?: (m: RegExpExecArray) => boolean): void {
  re.lastIndex = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    if (!pred || pred(m)) markRange(mask, m.index, m.index + m[0].length);
    if (m[0].length === 0) re.lastIndex++;
  }
}

/** Random-looking token below a temp directory. Returns the range to mark, or null. */
function randomToken(tok: string): [number, number] | null {
  if (ALL_DIGITS.test(tok)) return [0, tok.length];
  const wn = WORD_NUMBER.exec(tok);
  if (wn) return [wn[1]!.length, tok.length];
  if (DIGIT.test(tok)) {
    if (WORD_SMALL_NUMBER.test(tok) || tok.length < 5) return null;
    return [0, tok.length];
  }
  if (tok.length >= 6 && /[A-Z]/.test(tok) && /[a-z]/.test(tok) && randomCase(tok)) return [0, tok.length];
  return null;
}

/**
 * Mixed-case letters that read as random rather than as words or
 * camelCase ('SpringBootApp', 'PostgreSQL'): a lowercase run of one
 * letter after the first position ('AbCdEf', 'xQzKwP').
 */
function randomCase(tok: string): boolean {
  let run = 0;
  for (let i = 0; i <= tok.length; i++) {
    if (i < tok.length && !isUpper(tok.charCodeAt(i))) {
      run++;
      continue;
    }
    if (run === 1 && i - 1 > 0) return true;
    run = 0;
  }
  return false;
}

function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

/** A long token mixing letters and digits like an identifier generator does (session ids, base36/base62 ids). */
function longRandom(tok: string): boolean {
  if (tok.length < 20) return false;
  let digits = 0;
  let letters = 0;
  for (let i = 0; i < tok.length; i++) {
    const c = tok.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else letters++;
  }
  return digits >= 3 && letters >= 3;
}

interface Context {
  proc: boolean;
  numericDir: boolean;
  temp: boolean;
  log: boolean;
  pgRelation: boolean;
  counter: boolean;
}

function contextOf(comps: readonly string[], i: number): Context {
  const top = comps[0];
  const parent = comps[i - 1];
  let temp = false;
  let log = false;
  for (let j = 0; j < i; j++) {
    if (!temp && isTempDir(comps[j]!, comps[j - 1])) temp = true;
    if (!log && isLogDir(comps[j]!)) log = true;
  }
  return {
    proc: top === 'proc',
    numericDir: (top === 'dev' && i === 2 && (comps[1] === 'pts' || comps[1] === 'fd')) || (top === 'sys' && comps[1] === 'fs' && comps[2] === 'cgroup'),
    temp,
    log,
    pgRelation: (parent === 'base' && ALL_DIGITS.test(comps[i]!)) || (i >= 2 && comps[i - 2] === 'base' && ALL_DIGITS.test(parent!)),
    counter: parent !== undefined && COUNTER_DIRS.has(parent),
  };
}

/** Marks the volatile characters of component i. */
function markComponent(comps: readonly string[], i: number, strict: boolean): Uint8Array {
  const c = comps[i]!;
  const mask = new Uint8Array(c.length);
  const ctx = contextOf(comps, i);

  if ((ctx.proc || ctx.numericDir) && ALL_DIGITS.test(c)) return mask.fill(1);
  if (ctx.proc && i >= 2 && comps[i - 1] === 'map_files' && HEX_RANGE.test(c)) return mask.fill(1);
  markAll(mask, UUID, c);
  markAll(mask, HEX16, c, (m) => DIGIT.test(m[0]));
  markAll(mask, STAMP, c, (m) => !strict || m[2] !== undefined);
  if (strict) return mask;

  markAll(mask, DIGITS6, c);
  if (ALL_DIGITS.test(c) && c.length >= 4) mask.fill(1);
  if (ctx.pgRelation) markAll(mask, /(?<![A-Za-z])\d+(?![A-Za-z])/g, c);
  if (ctx.counter) {
    TOKEN.lastIndex = 0;
    for (let m = TOKEN.exec(c); m !== null; m = TOKEN.exec(c)) {
      if (ALL_DIGITS.test(m[0]) || (HEX_TOKEN.test(m[0]) && DIGIT.test(m[0]))) markRange(mask, m.index, m.index + m[0].length);
    }
  }

  // Log rotation.
  const ext = LOG_EXT_TAIL.exec(c);
  if (ext) markRange(mask, ext.index + 4, c.length);
  NUM_BEFORE_LOG.lastIndex = 0;
  for (let m = NUM_BEFORE_LOG.exec(c); m !== null; m = NUM_BEFORE_LOG.exec(c)) markRange(mask, m.index + 1, m.index + m[0].length);
  if (ctx.log) {
    const tail = ROTATED_TAIL.exec(c);
    if (tail && tail.index > 0) markRange(mask, tail.index, c.length);
  }

  // Temp names.
  let tokensFrom = 0;
  const tmp = TMP_PREFIX.exec(c);
  if (tmp && (ctx.temp || /[\d_A-Z]/.test(tmp[1]!))) {
    markRange(mask, tmp[0].length - tmp[1]!.length, tmp[0].length);
    tokensFrom = tmp[0].length;
  }
  TMP_DIGITS.lastIndex = 0;
  for (let m = TMP_DIGITS.exec(c); m !== null; m = TMP_DIGITS.exec(c)) markRange(mask, m.index + m[0].length - m[1]!.length, m.index + m[0].length);
  if (c.startsWith('.#') && c.length > 2) markRange(mask, 2, c.length);
  if (ctx.temp) {
    const sfx = MKSTEMP_SUFFIX.exec(c);
    if (sfx && sfx.index + 1 >= tokensFrom && /[A-Z\d]/.test(sfx[1]!)) markRange(mask, sfx.index + 1, sfx.index + 7);
  }
  TOKEN.lastIndex = tokensFrom;
  for (let m = TOKEN.exec(c); m !== null; m = TOKEN.exec(c)) {
    const tok = m[0];
    if (ctx.temp) {
      const r = randomToken(tok);
      if (r) markRange(mask, m.index + r[0], m.index + r[1]);
    } else if (longRandom(tok)) {
      markRange(mask, m.index, m.index + tok.length);
    }
  }
  return mask;
}

function isSeparator(code: number): boolean {
  return code === 46 || code === 45 || code === 95; // . - _
}

/** Merges marked runs separated only by separators, then renders the component with `*` per run. */
function render(c: string, mask: Uint8Array): string {
  let last = -1;
  for (let i = 0; i < c.length; i++) {
    if (!mask[i]) continue;
    if (last >= 0 && i > last + 1) {
      let sepOnly = true;
      for (let k = last + 1; k < i; k++) if (!isSeparator(c.charCodeAt(k))) sepOnly = false;
      if (sepOnly) markRange(mask, last + 1, i);
    }
    last = i;
  }
  let out = '';
  for (let i = 0; i < c.length; ) {
    if (mask[i]) {
      out += '*';
      while (i < c.length && mask[i]) i++;
    } else {
      let j = i;
      while (j < c.length && !mask[j]) j++;
      out += escapeLiteral(c.slice(i, j));
      i = j;
    }
  }
  return out;
}

/**
 * The pattern components for a normalised path's components (escaped, as
 * entries hold them). `strict` applies only the rules listed as everywhere.
 */
export function generaliseComponents(comps: readonly string[], strict: boolean): string[] {
  const masks = comps.map((_, i) => (i === 0 ? new Uint8Array(comps[0]!.length) : markComponent(comps, i, strict)));
  if (!strict) {
    // Fan-out levels, right to left: a short hex name above a hash-named or fan-out entry.
    const leading = (i: number): boolean => masks[i]![0] === 1 && HASH_HEAD.test(comps[i]!);
    const fanout = new Array<boolean>(comps.length).fill(false);
    for (let i = comps.length - 2; i >= 1; i--) {
      if (FANOUT.test(comps[i]!) && (fanout[i + 1] || leading(i + 1))) {
        fanout[i] = true;
        masks[i]!.fill(1);
      }
    }
  }
  return comps.map((c, i) => render(c, masks[i]!));
}

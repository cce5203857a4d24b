// Secrets on a command line: what of an argv may leave the engine. The
// probe sends argv whole, and signature rules match it whole in memory
// (a rule on `--password` or `-p` in proc.cmdline must still fire); every
// copy that leaves the process — an alert's command lines, its output and
// output fields, the event log, learned profiles and their YAML — is made
// from redactArgv(), which keeps the binary, the flags and the paths and
// puts REDACTED where a secret was:
//  - the value of a flag whose name says secret (`--password=x`, `--db_password x`,
//    `-Djavax.net.ssl.keyStorePassword=x`, `--api-key`, `--client-secret`, `--token`, `--auth`…),
//    and the few short flags that are unambiguous for their tool (mysql `-pX`, sshpass `-p X`,
//    redis-cli `-a X`, `docker login -p X`, curl `-u user:X`);
//  - `NAME=VALUE` where the environment's rules apply (model/env.ts: leading assignments of
//    env/sudo or a shell line, `docker run -e`, `--env`), else when NAME says secret;
//  - a URL's password (`scheme://user:X@host`), a query parameter or JSON member named like a secret,
//    an `Authorization:`-like header's value (its scheme kept), and well-known token shapes
//    (AWS access key ids, GitHub and Slack tokens, JWTs, PEM private keys);
//  - what the configuration's extra patterns capture (engine.redaction.argvPatterns).
// The replacement is constant, so a learned argument list matches the next
// run with another secret. An argument holding spaces (`sh -c "…"`) is read
// as a command line itself, quotes kept together.
import { REDACTED, redactEnvEntry } from './env.js';

export { REDACTED };

/** A flag, assignment or parameter name that says its value is a secret (lower case, `_` as `-`). */
const SECRET_NAME = /(?:password|passwd|passphrase|secret|token|api-?key|access-?key|secret-?key|account-?key|credentials?|authorization|cookie)$|(?:^|[-.])(?:pass|pwd|pw|auth)$/;

/** Whether a flag's, variable's or parameter's name says that its value is a secret. */
export function isSecretName(name: string): boolean {
  const n = name.toLowerCase().replace(/_/g, '-');
  return !n.startsWith('no-') && SECRET_NAME.test(n);
}

/** Programs that run another with variables assigned before it (`env A=1 cmd`). */
const LAUNCHERS = new Set(['env', 'sudo', 'doas', 'exec', 'nohup', 'nice', 'setsid', 'command', 'stdbuf']);
/** Programs whose `-e`/`--env` take NAME=VALUE for a container's environment. */
const CONTAINER_TOOLS = new Set(['docker', 'podman', 'nerdctl', 'kubectl', 'crictl', 'ctr', 'buildah', 'systemd-run']);
const MYSQL = new Set(['mysql', 'mysqldump', 'mysqladmin', 'mysqlimport', 'mysqlshow', 'mysqlcheck', 'mysqlpump', 'mysqlsh', 'mariadb', 'mariadb-dump', 'mariadb-admin']);
/** Short flags whose value is a secret, for their tool only (elsewhere `-p` is a port, `-a` all…). */
const SHORT_SECRET: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ['sshpass', new Set(['-p'])],
  ['redis-cli', new Set(['-a'])],
  ['keydb-cli', new Set(['-a'])],
]);
/** Registry logins whose `-p` is the password (elsewhere docker's -p publishes a port). */
const LOGIN_TOOLS = new Set(['docker', 'podman', 'nerdctl', 'buildah', 'skopeo', 'helm', 'oras', 'crane', 'az']);
/** Flags whose value is user:password (the user kept). */
const CURL = new Set(['curl']);
const USER_FLAGS = new Set(['-u', '--user', '-U', '--proxy-user']);

/** Shells: the word after their -c is a command line. */
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ash', 'ksh', 'busybox', 'su', 'runuser']);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*=/;
const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_.-]*)=/;
const FLAG = /^(--?)([A-Za-z][A-Za-z0-9_.-]*)(=|$)/;

/** Patterns over a whole argument: what they match, or their capture groups, becomes REDACTED. */
interface Pattern {
  /** A cheap test first: each pattern costs a microsecond or more on a word, and most words have none of these. */
  hint?: (s: string) => boolean;
  re: RegExp;
  replace: (m: string, ...groups: unknown[]) => string;
}

const HEADER_NAMES = '(?:proxy-)?authorization|cookie|set-cookie|x-api-key|api-key|x-auth-token|x-access-token|private-token|x-vault-token';
const HEADER_HINT = /auth|cookie|key|token/i;
const AUTH_SCHEMES = '(?:bearer|basic|token|digest|negotiate|bot|apikey)';

const BUILTIN: readonly Pattern[] = [
  // PEM private keys: the armour lines kept, so a rule's output still says what it was.
  {
    hint: (s) => s.includes('PRIVATE KEY-----'),
    re: /(-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----)[\s\S]*?(?:-----END \2PRIVATE KEY-----|$)/g,
    replace: (_m, begin, kind) => `${String(begin)}${REDACTED}-----END ${String(kind)}PRIVATE KEY-----`,
  },
  // A URL's password (the user and host kept).
  { hint: (s) => s.includes('://'), re: /\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:'"]*:)[^\s/?#'"]+@/gi, replace: (_m, head) => `${String(head)}${REDACTED}@` },
  // A query parameter named like a secret (?token=…&api_key=…).
  {
    hint: (s) => s.includes('=') && (s.includes('?') || s.includes('&') || s.includes(';')),
    re: /([?&;])([A-Za-z0-9_.-]+)=([^&#\s'"]+)/g,
    replace: (m, sep, name) => (isSecretName(String(name)) || /^(?:key|sig|signature)$/i.test(String(name)) ? `${String(sep)}${String(name)}=${REDACTED}` : m),
  },
  // An authorisation header's value, its scheme kept (Authorization: Bearer …).
  {
    hint: (s) => s.includes(':') && HEADER_HINT.test(s),
    re: new RegExp(`\\b(${HEADER_NAMES})(\\s*:\\s*)(?:(${AUTH_SCHEMES})(\\s+))?(?:"[^"]*"|'[^']*'|[^\\s'"]+(?:[ \\t]+[^\\s'"]+)*)`, 'gi'),
    replace: (_m, name, colon, scheme, space) => `${String(name)}${String(colon)}${scheme ? `${String(scheme)}${String(space)}` : ''}${REDACTED}`,
  },
  // A JSON member named like a secret ({"password": "…"}), as curl -d and kubectl patch take.
  {
    hint: (s) => s.includes('":'),
    re: /"([A-Za-z0-9_.-]+)"(\s*:\s*)"(?:[^"\\]|\\.)*"/g,
    replace: (m, name, colon) => (isSecretName(String(name)) ? `"${String(name)}"${String(colon)}"${REDACTED}"` : m),
  },
  // AWS access key ids (long-term and temporary).
  { hint: (s) => s.includes('AKIA') || s.includes('ASIA'), re: /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, replace: () => REDACTED },
  // GitHub tokens (classic and fine-grained; from 8 characters on, so one the probe cut at its argv limit goes too).
  { hint: (s) => /gh[opsur]_|github_pat_/.test(s), re: /\b(?:gh[opsur]_[A-Za-z0-9]{8,}|github_pat_[A-Za-z0-9_]{8,})/g, replace: () => REDACTED },
  // Slack tokens.
  { hint: (s) => s.includes('xox'), re: /\bxox[abprs]-[A-Za-z0-9-]{10,}/g, replace: () => REDACTED },
  // JWTs (header.payload.signature, the header JSON base64url: "eyJ").
  { hint: (s) => s.includes('eyJ'), re: /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, replace: () => REDACTED },
];

let extra: readonly Pattern[] = [];

/** One extra pattern from the configuration: each capture group's text (else the whole match) becomes REDACTED. */
export function extraPattern(source: string): Pattern {
  const re = new RegExp(source, 'g');
  return {
    re,
    replace: (m: string, ...rest: unknown[]) => {
      // rest: the groups, then the offset, the whole string (and named groups when any).
      const named = typeof rest[rest.length - 1] === 'object' && rest[rest.length - 1] !== null;
      const groups = rest.slice(0, rest.length - (named ? 3 : 2)) as (string | undefined)[];
      if (groups.length === 0) return REDACTED;
      let out = '';
      let at = 0;
      // Groups in order of appearance (a group's first occurrence at or after the last cut).
      for (const g of groups) {
        if (!g) continue;
        const i = m.indexOf(g, at);
        if (i < 0) continue;
        out += m.slice(at, i) + REDACTED;
        at = i + g.length;
      }
      return out + m.slice(at);
    },
  };
}

/**
 * Checks extra patterns: the problem with each one that cannot be used (a
 * regular expression that does not compile, or one that matches the empty
 * string, which would redact nothing but cost on every argument).
 */
export function argvPatternProblems(sources: readonly string[]): { index: number; problem: string }[] {
  const problems: { index: number; problem: string }[] = [];
  sources.forEach((s, index) => {
    let re: RegExp;
    try {
      re = new RegExp(s);
    } catch (err) {
      problems.push({ index, problem: `not a regular expression: ${(err as Error).message}` });
      return;
    }
    if (re.test('')) problems.push({ index, problem: 'matches the empty string' });
  });
  return problems;
}

/** Sets the configuration's extra patterns (engine.redaction.argvPatterns), checked with argvPatternProblems. */
export function setArgvPatterns(sources: readonly string[]): void {
  const problems = argvPatternProblems(sources);
  if (problems.length > 0) throw new Error(`argv redaction pattern ${problems[0]!.index}: ${problems[0]!.problem}`);
  extra = sources.map(extraPattern);
  cache = new WeakMap();
}

function applyPatterns(s: string): string {
  let out = s;
  for (const p of BUILTIN) if (p.hint!(out)) out = out.replace(p.re, p.replace);
  for (const p of extra) out = out.replace(p.re, p.replace);
  return out;
}

function basename(word: string): string {
  return word.slice(word.lastIndexOf('/') + 1);
}

/** A word with its shell quotes apart: ['"', '--password=x', '"']. */
function unquote(word: string): [string, string, string] {
  const q = word[0];
  if ((q === '"' || q === "'") && word.length >= 2 && word.endsWith(q)) return [q, word.slice(1, -1), q];
  if (q === '"' || q === "'") return [q, word.slice(1), ''];
  return ['', word, ''];
}

type Pending = 'secret' | 'env' | 'user' | 'line' | null;

/** What a command line's words have said so far. */
interface WordState {
  tools: Set<string>;
  /** A command other than a launcher was named: later NAME=VALUE are its arguments. */
  commandSeen: boolean;
  /** What the next word is (the value of a flag before it). */
  pending: Pending;
}

function some(tools: ReadonlySet<string>, of: ReadonlySet<string>): boolean {
  for (const t of tools) if (of.has(t)) return true;
  return false;
}

function userPassword(v: string): string {
  const colon = v.indexOf(':');
  return colon < 0 ? v : `${v.slice(0, colon + 1)}${REDACTED}`;
}

/** A word redacted by what precedes it and what it is; `null` when no flag or assignment rule applies. */
function redactWord(word: string, s: WordState): string | null {
  const pending = s.pending;
  s.pending = null;
  if (pending === 'line') return redactInside(word);
  const [open, core, close] = unquote(word);
  if (pending !== null && !(core.startsWith('-') && core.length > 1)) {
    if (pending === 'secret') return open + REDACTED + close;
    if (pending === 'user') return open + userPassword(core) + close;
    if (pending === 'env') return open + redactEnvEntry(core) + close;
  }
  if (/^-[a-z]*c$/.test(core) && some(s.tools, SHELLS)) {
    s.pending = 'line';
    return word;
  }
  if (core.startsWith('-') && !core.startsWith('--') && core.length >= 2) {
    const short = core.slice(0, 2);
    // mysql -pSECRET: only attached (a separate word after -p is the database).
    if (short === '-p' && core.length > 2 && some(s.tools, MYSQL)) return `${open}-p${REDACTED}${close}`;
    if (short === '-p' && s.tools.has('login') && some(s.tools, LOGIN_TOOLS)) {
      if (core.length > 2) return `${open}-p${REDACTED}${close}`;
      s.pending = 'secret';
      return word;
    }
    for (const [tool, flags] of SHORT_SECRET) {
      if (!s.tools.has(tool) || !flags.has(short)) continue;
      if (core.length > 2) return `${open}${short}${REDACTED}${close}`;
      s.pending = 'secret';
      return word;
    }
    // curl -uuser:password
    if (short === '-u' && core.length > 2 && some(s.tools, CURL)) return `${open}-u${userPassword(core.slice(2))}${close}`;
  }
  const flag = FLAG.exec(core);
  if (flag) {
    const [, dashes, name, eq] = flag;
    const f = `${dashes!}${name!}`;
    const value = core.slice(flag[0].length);
    if (isSecretName(name!)) {
      if (eq === '=') return value === '' ? word : `${open}${f}=${REDACTED}${close}`;
      s.pending = 'secret';
      return word;
    }
    // --from-literal=password=x, --set=db.password=x, --build-arg=NPM_TOKEN=x: an assignment as the value.
    const inner = eq === '=' ? ASSIGNMENT.exec(value) : null;
    if (inner && isSecretName(inner[1]!) && name !== 'env') return `${open}${f}=${inner[1]!}=${REDACTED}${close}`;
    if ((name === 'env' && dashes === '--') || (f === '-e' && some(s.tools, CONTAINER_TOOLS))) {
      if (eq === '=') return `${open}${f}=${redactEnvEntry(value)}${close}`;
      s.pending = 'env';
      return word;
    }
    if (USER_FLAGS.has(f) && some(s.tools, CURL)) {
      if (eq === '=') return `${open}${f}=${userPassword(value)}${close}`;
      s.pending = 'user';
      return word;
    }
  }
  const assignment = ASSIGNMENT.exec(core);
  if (assignment) {
    // Before the command, NAME=VALUE is the command's environment: the environment's rules (model/env.ts).
    if (!s.commandSeen && ENV_NAME.test(core)) return open + redactEnvEntry(core) + close;
    if (isSecretName(assignment[1]!)) return `${open}${assignment[1]!}=${REDACTED}${close}`;
    return null;
  }
  if (!core.startsWith('-') && core !== '') {
    const tool = basename(core);
    s.tools.add(tool);
    if (!LAUNCHERS.has(tool)) s.commandSeen = true;
  }
  return null;
}

/** A shell-like line's words (quoted runs kept whole) and what separates them. */
const WORD = /(?:[^\s'"]+|'[^']*'?|"(?:[^"\\]|\\.)*"?)+/g;

function redactWords(words: readonly string[], s: WordState): string[] | null {
  let out: string[] | null = null;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const r = redactWord(w, s) ?? redactInside(w);
    if (r !== w) {
      out ??= words.slice();
      out[i] = r;
    }
  }
  return out;
}

/** One argument or word: the patterns, then, when it holds spaces, its own words as a command line (a quote layer off each time). */
function redactInside(arg: string): string {
  const patterned = applyPatterns(arg);
  if (!/\s/.test(patterned)) return patterned;
  const [open, core, close] = unquote(patterned);
  if (open === '' && (core.match(WORD)?.length ?? 0) <= 1) return patterned;
  return open + redactLine(core) + close;
}

/** A command line as text (a shell's `-c`, a stored argument list): each word as in an argv, separators kept. */
export function redactLine(line: string, tool = ''): string {
  const s: WordState = { tools: new Set(tool ? [basename(tool)] : []), commandSeen: tool !== '' && !LAUNCHERS.has(basename(tool)), pending: null };
  let out = '';
  let at = 0;
  for (const m of line.matchAll(WORD)) {
    out += line.slice(at, m.index);
    const w = m[0];
    const r = redactWord(w, s) ?? redactInside(w);
    out += r;
    at = m.index + w.length;
  }
  return out + line.slice(at);
}

let cache = new WeakMap<readonly string[], readonly string[]>();

/**
 * argv as it may leave the engine. The same array when nothing in it is a
 * secret; remembered per array (the decoder interns argv arrays, and no
 * one writes to one).
 */
export function redactArgv(argv: readonly string[]): readonly string[] {
  if (argv.length === 0) return argv;
  const known = cache.get(argv);
  if (known) return known;
  const s: WordState = { tools: new Set(), commandSeen: false, pending: null };
  const out = redactWords(argv, s) ?? argv;
  cache.set(argv, out);
  return out;
}

/** An argument list stored as one line (a profile's `args`) for the executable `exe`. */
export function redactArgsLine(exe: string, line: string): string {
  return redactLine(line, exe);
}

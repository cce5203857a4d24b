// The environment at exec, as the probe sends it (bpf/probe/environ.cc):
// "NAME=value" entries with every name, the value only for an allow-list,
// any other value "<redacted>". The engine applies the same filter again
// on what it decodes, so a value off the list never reaches a rule, an
// alert, a log or an export even from a probe that sent one.

/** What stands for a value that is not sent. */
export const REDACTED = '<redacted>';

/** Variables whose value is sent (exact names, as environ.cc's kAllowed). */
export const ENV_VALUES_SENT: ReadonlySet<string> = new Set([
  'LD_PRELOAD', 'LD_AUDIT', 'LD_LIBRARY_PATH', 'GLIBC_TUNABLES', 'PATH',
  'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY', 'FTP_PROXY',
  'http_proxy', 'https_proxy', 'all_proxy', 'no_proxy', 'ftp_proxy',
]);

/** Entries kept per process at most (as the probe). */
export const MAX_ENV = 256;

function isProxy(name: string): boolean {
  return (name.endsWith('_PROXY') || name.endsWith('_proxy')) && name.length > 6 && name !== 'NO_PROXY' && name !== 'no_proxy';
}

/** A proxy URL without its user information (http://user:password@host → http://<redacted>@host). */
function withoutUserInfo(url: string): string {
  const scheme = url.indexOf('://');
  const from = scheme < 0 ? 0 : scheme + 3;
  let end = url.slice(from).search(/[/?#]/);
  end = end < 0 ? url.length : from + end;
  const at = url.lastIndexOf('@', end - 1);
  if (at < from) return url;
  return url.slice(0, from) + REDACTED + url.slice(at);
}

/** One entry as it may be kept: its value redacted unless the list allows it. */
export function redactEnvEntry(entry: string): string {
  const eq = entry.indexOf('=');
  if (eq < 0) return REDACTED;
  const value = entry.slice(eq + 1);
  if (value === REDACTED) return entry;
  const name = entry.slice(0, eq);
  if (!ENV_VALUES_SENT.has(name)) return `${name}=${REDACTED}`;
  return isProxy(name) ? `${name}=${withoutUserInfo(value)}` : entry;
}

/** proc.env[NAME]: the value of a variable (redacted as sent), undefined when it is not set. */
export function envValue(env: readonly string[], name: string): string | undefined {
  const prefix = `${name}=`;
  for (const entry of env) if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  return undefined;
}

/** The variables set among `names`. */
export function envNamesSet(env: readonly string[], names: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const entry of env) {
    const eq = entry.indexOf('=');
    const name = eq < 0 ? entry : entry.slice(0, eq);
    if (names.has(name)) out.push(name);
  }
  return out;
}

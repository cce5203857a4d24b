// The config's `control` block on its own: where the engine's control API
// listens and with which TLS. The CLI's client commands (status, mode,
// quarantine, policy ...) need nothing else, and reading the whole file
// through its schema (zod) cost `vigil status` a third of its time; the
// engine validated the whole file when it started. schema.ts builds its
// zod schema from the same constants, and test/unit/config/control.test.ts
// checks that both readings accept and refuse the same blocks.
import { ConfigError, keyPath, parseYaml, readConfigText, type YamlSource } from './source.js';

export const LISTEN_PATTERN = /^(unix:\/\/\/.+|tcp:\/\/[^/]+:\d+)$/;
export const LISTEN_MESSAGE = 'must be unix:///absolute/path or tcp://host:port';
export const DEFAULT_CONTROL_LISTEN = 'unix:///run/vigil/control.sock';
export const DEFAULT_SERVER_NAME = 'vigil-engine';

/** TCP is open to every local process: it takes mutual TLS. A unix socket relies on its 0600 mode. */
export const tcpNeedsTls = (e: { listen: string; tls?: unknown }): boolean => !e.listen.startsWith('tcp://') || e.tls !== undefined;
export const TCP_NEEDS_TLS_MESSAGE = 'a tcp:// listen address needs tls (mutual TLS: ca, cert, key); use a unix socket otherwise';

/** A tls block's keys: required or not (every one a non-empty string: a file, or the server's name). */
export const TLS_KEYS = { ca: true, cert: true, key: true, clientCert: false, clientKey: false, serverName: false } as const;

/** mutual TLS for a tcp:// endpoint: PEM files, and the name the server's certificate carries. */
export interface TlsConfig {
  ca: string;
  cert: string;
  key: string;
  clientCert?: string;
  clientKey?: string;
  serverName: string;
}

export interface ControlConfig {
  control: { listen: string; tls?: TlsConfig };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function readTls(v: unknown, at: string[], problem: (path: string[], message: string) => void): TlsConfig | undefined {
  if (!isRecord(v)) return problem(at, `expected an object, got ${kind(v)}`), undefined;
  const unknown = Object.keys(v).filter((k) => !(k in TLS_KEYS));
  if (unknown.length) problem(at, `unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}`);
  for (const [key, required] of Object.entries(TLS_KEYS)) {
    const value = v[key];
    if (value === undefined) {
      if (required) problem([...at, key], 'required (a PEM file)');
    } else if (typeof value !== 'string' || value === '') problem([...at, key], `expected a non-empty string, got ${typeof value === 'string' ? 'an empty one' : kind(value)}`);
  }
  return { ...(v as unknown as TlsConfig), serverName: (v.serverName as string | undefined) ?? DEFAULT_SERVER_NAME };
}

/** The control block of a parsed config; every problem with it is a ConfigError naming its place. */
export function controlOf(source: YamlSource): ControlConfig {
  const problems: string[] = [];
  const problem = (path: ReadonlyArray<PropertyKey>, message: string): void => void problems.push(`${source.where(path)}${keyPath(path)}: ${message}`);
  const top = source.value;
  if (!isRecord(top)) throw new ConfigError([`${source.where([])}(top level): expected an object, got ${kind(top)}`]);
  const block = top.control ?? {};
  if (!isRecord(block)) throw new ConfigError([`${source.where(['control'])}control: expected an object, got ${kind(block)}`]);
  const unknown = Object.keys(block).filter((k) => k !== 'listen' && k !== 'tls');
  if (unknown.length) problem(['control'], `unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}`);
  const listen = block.listen ?? DEFAULT_CONTROL_LISTEN;
  if (typeof listen !== 'string' || !LISTEN_PATTERN.test(listen)) problem(['control', 'listen'], LISTEN_MESSAGE);
  const tls = block.tls === undefined ? undefined : readTls(block.tls, ['control', 'tls'], problem);
  if (typeof listen === 'string' && !tcpNeedsTls({ listen, tls: block.tls })) problem(['control', 'tls'], TCP_NEEDS_TLS_MESSAGE);
  if (problems.length) throw new ConfigError(problems);
  return { control: tls ? { listen: listen as string, tls } : { listen: listen as string } };
}

/** The control block of config file `file`, or the built-in default's. */
export function loadControlConfig(file: string | undefined): ControlConfig {
  if (!file) return { control: { listen: DEFAULT_CONTROL_LISTEN } };
  return controlOf(parseYaml(readConfigText(file), file));
}

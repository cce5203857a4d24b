// Listen and dial addresses as the config writes them: unix:///PATH or
// tcp://HOST:PORT. Free of grpc-js, for the CLI's lean client.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export type ListenAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export function parseListen(address: string): ListenAddress {
  if (address.startsWith('unix://')) return { kind: 'unix', path: address.slice('unix://'.length) };
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:]+):(\d+)$/.exec(address);
  if (!m) throw new Error(`listen address '${address}' is neither unix:///PATH nor tcp://HOST:PORT`);
  return { kind: 'tcp', host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** A PEM file's bytes; unreadable is an error naming what it is for. */
export function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read the TLS ${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

// Binding a gRPC server where only the right peers reach it. A unix socket
// (the default) lives in a directory only root can enter and is itself
// mode 0600; TCP stays on loopback unless the config says otherwise.
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { credentials, Server, ServerCredentials, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import type { TlsConfig } from '../config/schema.js';
import { isLoopback, parseListen, readPem } from './address.js';

export { isLoopback, parseListen, type ListenAddress } from './address.js';

/** True when something accepts connections on the unix socket. */
function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Makes the socket's directory (0700 when we create it) and clears a stale
 * socket left by a crashed engine; refuses when a live one answers there.
 */
async function prepareUnixSocket(path: string): Promise<void> {
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(path)) return;
  if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`);
  if (await socketAlive(path)) throw new Error(`${path}: another engine is already listening there`);
  unlinkSync(path);
}

/** Server credentials: mutual TLS (client certificates required) when configured. */
export function serverCredentials(tls: TlsConfig | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(readPem(tls.ca, 'CA'), [{ cert_chain: readPem(tls.cert, 'certificate'), private_key: readPem(tls.key, 'key') }], true);
}

/** Client credentials and options for dialing an endpoint configured with `tls`. */
export function clientCredentials(tls: TlsConfig | undefined): { creds: ChannelCredentials; options: ChannelOptions } {
  if (!tls) return { creds: credentials.createInsecure(), options: {} };
  if (!tls.clientCert || !tls.clientKey) throw new Error('mutual TLS: the client needs tls.clientCert and tls.clientKey');
  return {
    creds: credentials.createSsl(readPem(tls.ca, 'CA'), readPem(tls.clientKey, 'client key'), readPem(tls.clientCert, 'client certificate')),
    options: { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName },
  };
}

/** Binds `server` to `address`; returns the bound port for TCP (0 for unix). */
export async function bindServer(server: Server, address: string, opts: { allowNonLoopback?: boolean; tls?: TlsConfig } = {}): Promise<number> {
  const parsed = parseListen(address);
  if (parsed.kind === 'tcp' && !isLoopback(parsed.host) && !opts.allowNonLoopback) {
    throw new Error(`${address}: not a loopback address; the engine must not be reachable from the node's pods (set allowNonLoopback to override)`);
  }
  if (parsed.kind === 'unix') await prepareUnixSocket(parsed.path);
  // The socket is created with the process umask: keep it private from the first instant.
  const umask = parsed.kind === 'unix' ? process.umask(0o177) : undefined;
  try {
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        parsed.kind === 'unix' ? `unix://${parsed.path}` : `${parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host}:${parsed.port}`,
        parsed.kind === 'tcp' ? serverCredentials(opts.tls) : ServerCredentials.createInsecure(),
        (err, p) => (err ? reject(new Error(`cannot listen on ${address}: ${err.message}`)) : resolve(p)),
      ),
    );
    if (parsed.kind === 'unix') chmodSync(parsed.path, 0o600);
    return parsed.kind === 'unix' ? 0 : port;
  } finally {
    if (umask !== undefined) process.umask(umask);
  }
}

/** The gRPC target a client dials for a listen address (with the bound port for tcp://…:0). */
export function dialTarget(address: string, boundPort = 0): string {
  const parsed = parseListen(address);
  if (parsed.kind === 'unix') return `unix://${parsed.path}`;
  const host = parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host;
  return `${host}:${boundPort || parsed.port}`;
}

/** Removes a unix socket file once its server has shut down. */
export function releaseAddress(address: string): void {
  const parsed = parseListen(address);
  if (parsed.kind !== 'unix') return;
  try {
    if (lstatSync(parsed.path).isSocket()) unlinkSync(parsed.path);
  } catch {
    // already gone
  }
}

/** Stops a server (gracefully for a second, then by force) and removes its socket file. */
export function shutdownServer(server: Server, address: string | null): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      if (address) releaseAddress(address);
      resolve();
    };
    const timer = setTimeout(() => {
      server.forceShutdown();
      done();
    }, 1000);
    server.tryShutdown(() => {
      clearTimeout(timer);
      done();
    });
  });
}

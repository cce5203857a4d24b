// One gRPC unary call at a time over node:http2, for the CLI's client
// commands. grpc-js (with the proto loader it pulls in) was a third of
// `vigil status`'s time before its one call; a unary call is a small part
// of gRPC over HTTP/2: POST a length-prefixed message, read one back and
// the status from the trailers (grpc/grpc doc/PROTOCOL-HTTP2.md). The
// engine's server stays grpc-js; the CLI's tests talk to it through this.
import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { connect as netConnect } from 'node:net';
import type { TlsConfig } from '../config/schema.js';
import { parseListen, readPem } from './address.js';

/** gRPC status codes this client gives itself (the server's come as it sends them). */
export const Status = { DEADLINE_EXCEEDED: 4, INTERNAL: 13, UNAVAILABLE: 14 } as const;

/** A call that did not succeed: its gRPC status code and the server's (or the transport's) words. */
export class CallError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(details);
    this.name = 'CallError';
  }
}

/** The 5-byte gRPC message prefix (not compressed, length big-endian) and the message. */
function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

function grpcMessage(raw: unknown): string {
  const text = typeof raw === 'string' ? raw : '';
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The transport's reason: a cancelled stream carries the connect's own error (ENOENT, ECONNREFUSED) as its cause. */
const reason = (err: Error): string => (err.cause instanceof Error ? err.cause.message : err.message);

export class UnaryChannel {
  private session: ClientHttp2Session | undefined;

  /** `address` as the config writes it (unix:///PATH or tcp://HOST:PORT); TCP takes mutual TLS from `tls`. */
  constructor(
    readonly address: string,
    private readonly tls?: TlsConfig,
  ) {
    // Fail on a bad address or an unreadable certificate now, not at the first call.
    this.target();
  }

  private target(): () => ClientHttp2Session {
    const at = parseListen(this.address);
    if (at.kind === 'unix') return () => connect('http://localhost', { createConnection: () => netConnect(at.path) });
    const host = at.host.includes(':') ? `[${at.host}]` : at.host;
    const tls = this.tls;
    if (!tls) return () => connect(`http://${host}:${at.port}`);
    if (!tls.clientCert || !tls.clientKey) throw new Error('mutual TLS: the client needs tls.clientCert and tls.clientKey');
    const secure = { ca: readPem(tls.ca, 'CA'), key: readPem(tls.clientKey, 'client key'), cert: readPem(tls.clientCert, 'client certificate') };
    // The server's certificate is checked against serverName, not the address dialled (a loopback IP).
    return () => connect(`https://${host}:${at.port}`, { ...secure, servername: tls.serverName });
  }

  private open(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = this.target()();
    // A failed connect is reported by each call's stream; the session's own event must not end the process.
    session.on('error', () => {});
    this.session = session;
    return session;
  }

  /** Calls `path` (/package.Service/Method) with an encoded request; resolves with the encoded reply. */
  call(path: string, request: Uint8Array, metadata: Record<string, string>, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const session = this.open();
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let details = '';
      let settled = false;
      const finish = (err: CallError | null, reply?: Buffer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        session.off('error', onSessionError);
        if (!stream.closed) stream.close();
        if (err) reject(err);
        else resolve(reply!);
      };
      const onSessionError = (err: Error): void => finish(new CallError(Status.UNAVAILABLE, reason(err)));
      session.on('error', onSessionError);
      const timer = setTimeout(() => finish(new CallError(Status.DEADLINE_EXCEEDED, `no answer in ${timeoutMs} ms`)), timeoutMs);
      const stream = session.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m`,
        ...metadata,
      });
      const take = (h: IncomingHttpHeaders): void => {
        if (h['grpc-status'] === undefined) return;
        status = String(h['grpc-status']);
        details = grpcMessage(h['grpc-message']);
      };
      stream.on('response', (h) => {
        const code = Number(h[':status']);
        if (code !== 200) finish(new CallError(Status.UNAVAILABLE, `HTTP ${code} from ${this.address}: not a gRPC server`));
        else take(h); // a trailers-only reply (an error) carries its status here
      });
      stream.on('trailers', take);
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err) => finish(new CallError(Status.UNAVAILABLE, reason(err))));
      stream.on('close', () => {
        if (status === undefined) return finish(new CallError(Status.UNAVAILABLE, `the call ended without a status (HTTP/2 code ${stream.rstCode})`));
        if (status !== '0') return finish(new CallError(Number(status), details));
        const body = Buffer.concat(chunks);
        if (body.length < 5 || body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5) return finish(new CallError(Status.INTERNAL, `a malformed reply of ${body.length} bytes`));
        finish(null, body.subarray(5));
      });
      stream.end(frame(request));
    });
  }

  close(): void {
    this.session?.close();
  }
}

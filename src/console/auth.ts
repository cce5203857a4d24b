// Who may use the console, and requests a browser could be tricked into
// sending. Credentials: a bearer token (from a file: a mounted Secret) in
// the Authorization header, and/or a TLS client certificate the configured
// CA signed (checked by the TLS layer before any request is read). The
// token travels in a header, never a cookie, so another site cannot make a
// browser send it; a TLS client certificate *is* sent cross-site, so every
// action also needs a custom header (which a cross-site request can only
// carry after a CORS preflight this server never grants), a JSON body, and
// an Origin that is this server's own when the browser sends one.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

export const ACTION_HEADER = 'x-vigil-console';
const MIN_TOKEN = 32;

export function readToken(file: string): Buffer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new Error(`console.tokenFile: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  if (text.length < MIN_TOKEN) throw new Error(`console.tokenFile: the token in ${file} is shorter than ${MIN_TOKEN} characters`);
  if (/\s/.test(text)) throw new Error(`console.tokenFile: the token in ${file} contains whitespace`);
  return digest(text);
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export interface Authenticator {
  readonly kinds: ('token' | 'mtls')[];
  /** Who the caller is as their credentials say (for the audit log), or null when the request is not authenticated. */
  identify(req: IncomingMessage): { by: 'token' | 'certificate'; certificate: string } | null;
}

export function authenticator(tokenDigest: Buffer | null, mtls: boolean): Authenticator {
  const kinds: ('token' | 'mtls')[] = [...(tokenDigest ? ['token' as const] : []), ...(mtls ? ['mtls' as const] : [])];
  return {
    kinds,
    identify(req) {
      let certificate = '';
      if (mtls) {
        const sock = req.socket as TLSSocket;
        if (!sock.authorized) return null;
        const cert = sock.getPeerCertificate();
        certificate = `CN=${cert.subject?.CN ?? ''} (sha256 ${cert.fingerprint256})`;
      }
      if (tokenDigest) {
        const h = req.headers.authorization ?? '';
        const m = /^Bearer ([^\s]+)$/.exec(h);
        if (!m || !timingSafeEqual(digest(m[1]!), tokenDigest)) return null;
      }
      // A certificate names someone; a token only says its holder.
      return { by: certificate ? 'certificate' : 'token', certificate };
    },
  };
}

/** Why a state-changing request is refused as possibly cross-site, or null when it may go ahead. */
export function crossSiteRefusal(req: IncomingMessage, ownOrigin: string): string | null {
  if (req.headers[ACTION_HEADER] !== '1') return `actions need the ${ACTION_HEADER}: 1 header`;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') return 'actions need a JSON body (content-type: application/json)';
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== ownOrigin) return `origin ${JSON.stringify(origin)} is not this console`;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `a ${site} request may not act`;
  return null;
}

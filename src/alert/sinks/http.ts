// One POST of a JSON body, and what its outcome means for a retry. The
// outcome never carries the URL or anything the server said verbatim
// beyond a short, scrubbed snippet.
import { VERSION } from '../../version.js';

export type Outcome =
  | { ok: true; status: number }
  | { ok: false; retry: boolean; reason: string; retryAfterMs?: number };

const SNIPPET_BYTES = 200;

export async function postJson(url: URL, body: string, headers: Record<string, string>, timeoutMs: number, stop: AbortSignal): Promise<Outcome> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([stop, timeout]);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      body,
      headers: { ...headers, 'content-type': 'application/json', 'user-agent': `vigil/${VERSION}` },
      signal,
      // A redirect could carry alerts to another host: report it, do not follow.
      redirect: 'manual',
    });
  } catch (err) {
    return { ok: false, retry: true, reason: failure(err, stop, timeout, timeoutMs) };
  }
  let snippet: string;
  try {
    snippet = await readSome(res, SNIPPET_BYTES);
  } catch (err) {
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    return { ok: false, retry: true, reason: failure(err, stop, timeout, timeoutMs) };
  }
  const s = res.status;
  if (s >= 200 && s < 300) return { ok: true, status: s };
  const reason = `HTTP ${s}${snippet ? `: ${snippet}` : ''}`;
  // The payload itself is refused: sending it again cannot succeed.
  if (s === 400 || s === 413 || s === 422) return { ok: false, retry: false, reason };
  // Everything else may heal (server back, config fixed, rate limit over): keep the alert.
  const retryAfter = Number(res.headers.get('retry-after'));
  return { ok: false, retry: true, reason, ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) };
}

function failure(err: unknown, stop: AbortSignal, timeout: AbortSignal, timeoutMs: number): string {
  if (stop.aborted) return 'cancelled (sink stopping)';
  if (timeout.aborted) return `no answer within ${timeoutMs} ms`;
  // undici puts the socket error in `cause`; its message names only host and port.
  // Other messages may quote the URL: only codes and names are reported.
  const cause = (err as { cause?: { code?: string } }).cause;
  const code = cause?.code ?? (err as NodeJS.ErrnoException).code;
  return code ?? `request failed (${(err as Error).name ?? 'error'})`;
}

/** The start of the body as one printable line; the rest is discarded unread. */
async function readSome(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    while (n < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      n += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks)
    .subarray(0, max)
    .toString('utf8')
    .replace(/[^\x20-\x7e]+/g, ' ')
    .trim();
}

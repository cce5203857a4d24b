// @ts-check
// The console's way to the engine: JSON over fetch with the bearer token in
// a header (kept in sessionStorage for this tab only, never in a cookie),
// actions with the header that proves they come from this page, and the
// live stream read with fetch (EventSource cannot send a header).

const TOKEN_KEY = 'vigil.token';

/** @type {Set<() => void>} */
const onUnauthorized = new Set();

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

/** @param {string} t */
export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** A token handed over in the URL fragment (#token=…) is taken and removed from the address bar and history. */
export function takeTokenFromFragment() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m) return;
  setToken(decodeURIComponent(m[1] ?? ''));
  history.replaceState(null, '', location.pathname + location.search + '#/alerts');
}

/** @param {() => void} fn */
export function whenUnauthorized(fn) {
  onUnauthorized.add(fn);
  return () => onUnauthorized.delete(fn);
}

/** @returns {Record<string, string>} */
function headers() {
  const t = token();
  return t ? { authorization: `Bearer ${t}` } : {};
}

export class ApiError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** @param {Response} res */
async function check(res) {
  if (res.ok) return res;
  if (res.status === 401) for (const fn of onUnauthorized) fn();
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && typeof body.error === 'string') message = body.error;
  } catch {
    // not JSON
  }
  throw new ApiError(res.status, message);
}

/**
 * @template T
 * @param {string} path
 * @returns {Promise<T>}
 */
export async function get(path) {
  const res = await check(await fetch(path, { headers: headers(), cache: 'no-store' }));
  return res.json();
}

/** @param {string} path */
export async function getText(path) {
  const res = await check(await fetch(path, { headers: headers(), cache: 'no-store' }));
  return res.text();
}

/**
 * @template T
 * @param {string} path
 * @param {unknown} body
 * @returns {Promise<T>}
 */
export async function post(path, body) {
  const res = await check(await fetch(path, {
    method: 'POST',
    headers: { ...headers(), 'content-type': 'application/json', 'x-vigil-console': '1' },
    body: JSON.stringify(body ?? {}),
    cache: 'no-store',
  }));
  return res.json();
}

/**
 * Saves what `path` answers as a file (the request needs the token, so not a plain link).
 * @param {string} path @param {string} filename
 */
export async function download(path, filename) {
  const res = await check(await fetch(path, { headers: headers(), cache: 'no-store' }));
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** @param {string} key */
export function workloadPath(key) {
  return `/api/workloads/${encodeURIComponent(key)}`;
}

/**
 * Server-sent events from /api/stream, reconnecting with backoff.
 * @param {(event: string, data: any) => void} onEvent
 * @param {(live: boolean) => void} onState
 * @returns {() => void} stops the stream
 */
export function stream(onEvent, onState) {
  let stopped = false;
  /** @type {AbortController | null} */
  let ctl = null;
  let delay = 500;
  const run = async () => {
    while (!stopped) {
      ctl = new AbortController();
      try {
        const res = await check(await fetch('/api/stream', { headers: headers(), signal: ctl.signal, cache: 'no-store' }));
        const body = res.body;
        if (!body) throw new Error('no stream body');
        onState(true);
        delay = 500;
        const reader = body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            let event = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (data) onEvent(event, JSON.parse(data));
          }
        }
      } catch (err) {
        if (stopped) return;
        if (err instanceof ApiError && err.status === 401) return;
      }
      onState(false);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  };
  void run();
  return () => {
    stopped = true;
    ctl?.abort();
  };
}

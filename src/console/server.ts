// The web console's HTTP(S) server: the page and its scripts (our own ES
// modules in web/, and a few libraries served as they are from
// node_modules), a JSON API, and live updates as server-sent events.
// Every response carries a strict Content-Security-Policy (scripts only
// from here; the one inline script, the import map, by its hash), every
// API call needs credentials (auth.ts), and actions need same-origin
// proof. Nothing served holds a secret: sinks, tokens and config are not
// part of the API.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, createReadStream } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PRIORITIES, type Priority } from '../model/alert.js';
import type { Logger } from '../log.js';
import { isLoopback, parseListen } from '../rpc/listen.js';
import { VERSION } from '../version.js';
import type { ActionResult, SessionInfo, StreamChanged } from './api.js';
import { authenticator, crossSiteRefusal, readToken, type Authenticator } from './auth.js';
import { renderReport, REPORT_STYLE_HASH } from './report.js';
import type { ConsoleSource } from './source.js';
import type { ConsoleCaller as Caller } from './source.js';
import { ConsoleError, ConsoleState } from './state.js';

export interface ConsoleOptions {
  listen: string;
  allowNonLoopback: boolean;
  tokenFile: string | null;
  tls?: { ca: string; cert: string; key: string };
  alertHistory: number;
  networkEdges: number;
}

/** Where the page, its scripts and the libraries are (the same from src/console and dist/console). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Libraries the page loads, served as published (URL → file under node_modules). */
const VENDOR: Record<string, string> = {
  'preact.js': 'preact/dist/preact.module.js',
  'preact-hooks.js': 'preact/hooks/dist/hooks.module.js',
  'htm.js': 'htm/dist/htm.module.js',
  'uPlot.js': 'uplot/dist/uPlot.esm.js',
  'uPlot.css': 'uplot/dist/uPlot.min.css',
  'cytoscape.js': 'cytoscape/dist/cytoscape.esm.min.mjs',
};

const MAX_BODY = 64 * 1024;
const MAX_STREAMS = 32;
/** A client this far behind on its stream is dropped (it reconnects and reloads). */
const MAX_STREAM_BACKLOG = 1 << 20;

interface Asset {
  body: Buffer;
  type: string;
}

function contentType(file: string): string {
  if (file.endsWith('.js') || file.endsWith('.mjs')) return 'text/javascript; charset=utf-8';
  if (file.endsWith('.css')) return 'text/css; charset=utf-8';
  if (file.endsWith('.html')) return 'text/html; charset=utf-8';
  return 'application/octet-stream';
}

/** The page, scripts and styles, read once at start. */
function loadAssets(): { assets: Map<string, Asset>; scriptHash: string } {
  const assets = new Map<string, Asset>();
  const read = (url: string, file: string): void => {
    if (!existsSync(file)) throw new Error(`console: ${file} is missing (run npm run build)`);
    assets.set(url, { body: readFileSync(file), type: contentType(file) });
  };
  const web = join(ROOT, 'web');
  const html = readFileSync(join(web, 'index.html'), 'utf8');
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html);
  if (!importMap) throw new Error('console: web/index.html has no import map');
  assets.set('/', { body: Buffer.from(html), type: 'text/html; charset=utf-8' });
  for (const f of readdirSync(web)) if (f.endsWith('.css')) read(`/${f}`, join(web, f));
  // Our scripts are served as written (ES modules, type-checked by tsc with the rest: no bundler).
  for (const f of readdirSync(web)) if (f.endsWith('.js')) read(`/app/${f}`, join(web, f));
  for (const [name, file] of Object.entries(VENDOR)) read(`/vendor/${name}`, join(ROOT, 'node_modules', file));
  return { assets, scriptHash: `sha256-${createHash('sha256').update(importMap[1]!).digest('base64')}` };
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

function parseSince(v: string | null): number | undefined {
  if (!v) return undefined;
  const rel = /^(\d+)\s*(s|m|h|d)$/.exec(v.trim());
  if (rel) return Date.now() - Number(rel[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[rel[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new ConsoleError(400, `since: ${JSON.stringify(v.slice(0, 40))} is neither a time nor a duration like 15m, 2h, 1d`);
  return t;
}

/** What the console has served, for /metrics (read at scrape time). */
export interface ConsoleStats {
  /** Requests answered, by what was asked for (page, api, stream) and status code. */
  requests: Map<string, { kind: string; code: string; count: number }>;
  /** API requests without valid credentials (401). */
  authFailures: number;
  /** Actions refused as cross-site (403). */
  crossSiteRefused: number;
  /** Actions carried out, by action and outcome (ok, failed). */
  actions: Map<string, { action: string; outcome: string; count: number }>;
  /** Live event streams now, and those closed because the client fell behind. */
  streams: number;
  streamsDropped: number;
}

export class ConsoleServer {
  readonly state: ConsoleState;
  private server: Server | null = null;
  private readonly auth: Authenticator;
  private readonly streams = new Set<ServerResponse>();
  /** Streams closed because the client fell too far behind. */
  streamsDropped = 0;
  private readonly requests = new Map<string, { kind: string; code: string; count: number }>();
  private readonly actions = new Map<string, { action: string; outcome: string; count: number }>();
  private readonly streamOpened = new WeakMap<ServerResponse, () => void>();
  private authFailures = 0;
  private crossSiteRefused = 0;
  port = 0;
  private assets: Map<string, Asset> = new Map();
  private csp = '';
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    source: ConsoleSource,
    private readonly opts: ConsoleOptions,
    private readonly log: Logger,
  ) {
    const a = parseListen(opts.listen);
    if (a.kind !== 'tcp') throw new Error('console.listen: must be tcp://host:port');
    if (!isLoopback(a.host)) {
      if (!opts.allowNonLoopback) throw new Error(`console.listen: ${opts.listen} is not a loopback address; set console.allowNonLoopback (and tls) to serve beyond this node`);
      if (!opts.tls) throw new Error('console.listen: beyond loopback the console needs tls: a token must not cross the network in the clear');
    }
    if (!opts.tokenFile && !opts.tls) throw new Error('console: needs tokenFile, tls (mutual TLS) or both');
    this.auth = authenticator(opts.tokenFile ? readToken(opts.tokenFile) : null, !!opts.tls);
    this.state = new ConsoleState(source, opts);
    this.state.onAlert = (alert) => this.broadcast('alert', alert);
    this.state.onChange = (what, workload) => this.broadcast('changed', { what, workload } satisfies StreamChanged);
  }

  async start(): Promise<number> {
    const { assets, scriptHash } = loadAssets();
    this.assets = assets;
    this.csp = [
      "default-src 'none'",
      `script-src 'self' '${scriptHash}'`,
      "style-src 'self'",
      "img-src 'self' data: blob:",
      "connect-src 'self'",
      "font-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
      // No script sink (innerHTML, eval, script.src) takes a string: the page puts text in as text.
      "require-trusted-types-for 'script'",
      "trusted-types 'none'",
    ].join('; ');
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    const t = this.opts.tls;
    this.server = t
      ? createHttpsServer({ ca: readFileSync(t.ca), cert: readFileSync(t.cert), key: readFileSync(t.key), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, handler)
      : createHttpServer(handler);
    const a = parseListen(this.opts.listen) as { host: string; port: number };
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(a.port, a.host, resolve);
    });
    this.port = (this.server.address() as { port: number }).port;
    this.state.start();
    this.heartbeat = setInterval(() => {
      for (const s of this.streams) s.write(': keep-alive\n\n');
    }, 15_000);
    this.heartbeat.unref();
    this.log.info({ address: this.opts.listen, port: this.port, auth: this.auth.kinds }, 'web console ready');
    return this.port;
  }

  async stop(): Promise<void> {
    this.state.stop();
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const s of this.streams) s.end();
    this.streams.clear();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }

  stats(): ConsoleStats {
    return { requests: this.requests, authFailures: this.authFailures, crossSiteRefused: this.crossSiteRefused, actions: this.actions, streams: this.streams.size, streamsDropped: this.streamsDropped };
  }

  private count<T extends { count: number }>(m: Map<string, T>, key: string, make: () => T): void {
    const c = m.get(key) ?? make();
    c.count++;
    m.set(key, c);
  }

  private broadcast(event: string, data: unknown): void {
    if (this.streams.size === 0) return;
    const msg = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const s of this.streams) {
      if (s.writableLength > MAX_STREAM_BACKLOG) {
        this.streamsDropped++;
        this.log.warn({ backlog: s.writableLength }, 'console stream dropped: the client fell behind');
        s.destroy();
        this.streams.delete(s);
        continue;
      }
      s.write(msg);
    }
  }

  private send(res: ServerResponse, status: number, body: string | Buffer, type: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-security-policy': this.csp, 'content-type': type, 'cache-control': 'no-store', ...extra });
    res.end(body);
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    this.send(res, status, JSON.stringify(body), 'application/json; charset=utf-8');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Counted once answered, when the status code is known (an event stream when it opens).
    const path = (req.url ?? '/').split('?')[0]!;
    const kind = path === '/api/stream' ? 'stream' : path.startsWith('/api/') ? 'api' : 'page';
    let once = false;
    const counted = (): void => {
      if (once) return;
      once = true;
      const code = String(res.statusCode);
      this.count(this.requests, `${kind} ${code}`, () => ({ kind, code, count: 0 }));
    };
    res.once('finish', counted);
    if (kind === 'stream') this.streamOpened.set(res, counted);
    try {
      await this.route(req, res);
    } catch (err) {
      if (err instanceof ConsoleError) return this.json(res, err.status, { error: err.message });
      this.log.error({ err: (err as Error).message, path: (req.url ?? '').split('?')[0] }, 'console request failed');
      if (!res.headersSent) this.json(res, 500, { error: 'internal error (see the engine log)' });
      else res.destroy();
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (!path.startsWith('/api/')) {
      if (method !== 'GET' && method !== 'HEAD') return this.json(res, 405, { error: 'method not allowed' });
      const asset = this.assets.get(path);
      if (!asset) return this.send(res, 404, 'not found\n', 'text/plain; charset=utf-8');
      return this.send(res, 200, asset.body, asset.type, { 'cache-control': 'no-cache' });
    }
    const who = this.auth.identify(req);
    if (path === '/api/session') {
      const info: SessionInfo = { auth: this.auth.kinds, authenticated: who !== null, node: who !== null ? this.state.source.nodeName : '', version: VERSION };
      return this.json(res, 200, info);
    }
    if (who === null) {
      this.authFailures++;
      return this.send(res, 401, JSON.stringify({ error: 'not authenticated' }), 'application/json; charset=utf-8', this.auth.kinds.includes('token') ? { 'www-authenticate': 'Bearer realm="vigil"' } : {});
    }
    const caller: Caller = { ...who, address: `${req.socket.remoteAddress ?? ''}:${req.socket.remotePort ?? ''}` };
    // /api/workloads/<key>/… : the key is one encoded path segment.
    const parts = path.slice('/api/'.length).split('/').map((p) => decodeURIComponent(p));
    const q = url.searchParams;
    if (method === 'GET') return this.get(req, res, parts, q);
    if (method !== 'POST') return this.json(res, 405, { error: 'method not allowed' });
    const scheme = this.opts.tls ? 'https' : 'http';
    const refused = crossSiteRefusal(req, `${scheme}://${req.headers.host ?? ''}`);
    if (refused) {
      this.log.warn({ path, origin: req.headers.origin, reason: refused }, 'console action refused');
      this.crossSiteRefused++;
      return this.json(res, 403, { error: refused });
    }
    const body = await readJson(req);
    const s = this.state;
    const [top, key, verb, id, sub] = parts;
    if (top !== 'workloads' || !key) return this.json(res, 404, { error: 'no such action' });
    const done = (action: string, r: ActionResult): void => {
      const outcome = r.ok ? 'ok' : 'failed';
      this.count(this.actions, `${action} ${outcome}`, () => ({ action, outcome, count: 0 }));
      this.json(res, 200, r);
    };
    switch (verb) {
      case 'mode': return done('mode', await s.setMode(caller, key, body.mode));
      case 'quarantine': return done('quarantine', await s.quarantine(caller, key, body.reason));
      case 'release': return done('release', await s.release(caller, key));
      case 'capture': return done('capture', await s.capture(caller, key, body.seconds));
      case 'anomalies':
        if (id && sub === 'accept') return done('accept-anomaly', await s.accept(caller, key, id, body.baseVersion));
        break;
      default:
    }
    return this.json(res, 404, { error: 'no such action' });
  }

  private get(req: IncomingMessage, res: ServerResponse, parts: string[], q: URLSearchParams): void {
    const s = this.state;
    const [top, key, verb, id, sub] = parts;
    switch (top) {
      case 'alerts': {
        if (key === 'counts') return this.json(res, 200, s.history.counts(Number(q.get('minutes') ?? 60) || 60));
        if (key) {
          const a = s.history.get(key);
          return a ? this.json(res, 200, a) : this.json(res, 404, { error: 'no such alert (it may have left the history)' });
        }
        const priority = q.get('priority') || undefined;
        if (priority && !(PRIORITIES as readonly string[]).includes(priority)) throw new ConsoleError(400, `priority must be one of ${PRIORITIES.join(', ')}`);
        return this.json(res, 200, s.history.query({
          priority: priority as Priority | undefined, rule: q.get('rule') || undefined, workload: q.get('workload') || undefined,
          namespace: q.get('namespace') || undefined, source: q.get('source') || undefined, since: parseSince(q.get('since')),
          text: q.get('q') || undefined, limit: Number(q.get('limit') ?? 200) || 200,
        }));
      }
      case 'workloads':
        if (!key) return this.json(res, 200, s.workloads());
        if (verb === 'profile') return this.json(res, 200, s.profile(key));
        if (verb === 'export') {
          const format = q.get('format') === 'networkpolicy' ? 'networkpolicy' : 'yaml';
          return this.send(res, 200, s.export(key, format), 'application/yaml; charset=utf-8');
        }
        if (verb === 'anomalies' && id && sub === 'preview') return this.json(res, 200, s.previewAccept(key, id));
        break;
      case 'network': {
        const ns = q.get('namespace');
        return this.json(res, 200, s.network.view((k) => s.source.quarantine(k) !== null, ns ? (_k, n) => n === ns : undefined));
      }
      case 'risk':
        return this.json(res, 200, s.riskView(q.get('namespace') ?? undefined));
      case 'report': {
        const ns = q.get('namespace');
        const view = s.riskView(ns ?? undefined);
        const html = renderReport({ scope: ns ? `namespace ${ns}` : `node ${s.source.nodeName}`, node: view.node, workloads: view.workloads, generated: view.generated, version: VERSION });
        res.writeHead(200, {
          ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store',
          'content-security-policy': `default-src 'none'; style-src '${REPORT_STYLE_HASH}'; frame-ancestors 'none'`,
        });
        res.end(html);
        return;
      }
      case 'audit':
        return this.json(res, 200, s.source.audit.latest(Math.min(200, Number(q.get('limit') ?? 50) || 50)));
      case 'captures':
        if (key) return this.capture(res, key);
        return this.json(res, 200, s.captures);
      case 'stream':
        return this.stream(req, res);
      default:
    }
    this.json(res, 404, { error: 'not found' });
  }

  /** A capture file, by its bare name, from the capture directory only. */
  private capture(res: ServerResponse, name: string): void {
    if (basename(name) !== name || !/^[A-Za-z0-9._-]+\.pcap$/.test(name)) throw new ConsoleError(400, 'not a capture file name');
    const file = join(this.state.source.captureDir, name);
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      throw new ConsoleError(404, 'no such capture');
    }
    res.writeHead(200, {
      ...SECURITY_HEADERS, 'content-type': 'application/vnd.tcpdump.pcap', 'content-length': String(size),
      'content-disposition': `attachment; filename="${name}"`, 'cache-control': 'no-store', 'content-security-policy': "default-src 'none'",
    });
    createReadStream(file).pipe(res);
  }

  private stream(req: IncomingMessage, res: ServerResponse): void {
    if (this.streams.size >= MAX_STREAMS) return this.json(res, 503, { error: `at most ${MAX_STREAMS} live streams` });
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'content-security-policy': "default-src 'none'" });
    res.write(': connected\n\n');
    this.streamOpened.get(res)?.();
    this.streams.add(res);
    req.on('close', () => this.streams.delete(res));
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new ConsoleError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new ConsoleError(400, 'the body is not a JSON object');
  }
}


// Alert-delivery test helpers: a real HTTP receiver on 127.0.0.1 that
// records what it got and checks the HMAC over the raw body, and alerts
// built the way detectors build them.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { alertFor, type Alert, type AlertInput } from '../../../src/model/alert.js';
import { ProcessTree } from '../../../src/enrich/process-tree.js';
import type { Workload } from '../../../src/model/workload.js';
import type { Event } from '../../../src/model/event.js';
import { makeEvent } from '../../support/events.js';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
  /** X-Vigil-Signature matches HMAC-SHA256(secret, raw body). */
  bodySignatureOk: boolean;
  /** X-Vigil-Timestamp-Signature matches HMAC-SHA256(secret, "<timestamp>.<raw body>"). */
  timestampSignatureOk: boolean;
}

/** What the receiver answers: a status, optionally after a delay (a slow server). */
export type Responder = (req: { n: number; body: string }) => { status: number; delayMs?: number; body?: string; headers?: Record<string, string> };

export class Receiver {
  readonly received: Received[] = [];
  /** Every request, whatever was answered. */
  requests = 0;
  respond: Responder = () => ({ status: 200, body: 'ok' });
  private server: Server | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly secret: string | null,
    public port: number,
  ) {}

  static async start(secret: string | null = null, port = 0): Promise<Receiver> {
    const r = new Receiver(secret, port);
    await r.up();
    return r;
  }

  url(path = '/hooks/T000/B000/XXXXsecretTOKENxxxx'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Starts listening (again, on the same port). */
  async up(): Promise<void> {
    const server = createServer((req, res) => this.onRequest(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening: connections are refused until up(). */
  async down(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Alert ids received, in order, each once (at-least-once delivery: receivers drop repeats by id). */
  ids(): string[] {
    const seen = new Set<string>();
    for (const r of this.received) seen.add(String(r.json.id ?? r.json.uuid));
    return [...seen];
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = raw.toString('utf8');
      const n = this.requests++;
      const answer = this.respond({ n, body });
      const reply = () => {
        if (answer.status >= 200 && answer.status < 300) this.record(req, body, raw);
        res.writeHead(answer.status, answer.headers ?? {}).end(answer.body ?? '');
      };
      if (!answer.delayMs) return reply();
      const t = setTimeout(() => {
        this.timers.delete(t);
        reply();
      }, answer.delayMs);
      this.timers.add(t);
      // The client gave up (timeout): a slow server still took the alert, as real ones do.
      res.on('close', () => {
        if (!res.writableEnded && this.timers.delete(t)) {
          clearTimeout(t);
          this.record(req, body, raw);
        }
      });
    });
  }

  private record(req: IncomingMessage, body: string, raw: Buffer): void {
    const ts = String(req.headers['x-vigil-timestamp'] ?? '');
    this.received.push({
      path: req.url ?? '',
      headers: req.headers,
      body,
      json: JSON.parse(body) as Record<string, unknown>,
      bodySignatureOk: this.secret !== null && sameHmac(req.headers['x-vigil-signature'], this.secret, raw),
      timestampSignatureOk: this.secret !== null && sameHmac(req.headers['x-vigil-timestamp-signature'], this.secret, Buffer.concat([Buffer.from(`${ts}.`), raw])),
    });
  }
}

function sameHmac(header: string | string[] | undefined, secret: string, data: Buffer): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const want = createHmac('sha256', secret).update(data).digest();
  const got = Buffer.from(header.slice(7), 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

export const WEB: Workload = {
  key: 'k8s:shop/Deployment/web',
  name: 'web',
  kind: 'k8s',
  namespace: 'shop',
  pod: 'web-7d9f-abcde',
  container: 'nginx',
  labels: { app: 'web' },
  cgroupPath: '/kubepods/pod1/abc',
  mode: 'monitor',
  events: 0,
  containerId: '',
  containerInfo: null,
  pathsIncomplete: 0,
};

/** A process tree with a parent (a Python web server) for exec events to hang under. */
export function webTree(): ProcessTree {
  const tree = new ProcessTree(1024);
  tree.addSnapshot([{ pid: 4241, ppid: 1, uid: 0, gid: 0, comm: 'python3', exe: '/usr/bin/python3', argv: ['python3', 'app.py'], cwd: '/app', cgroupId: 77, startKtimeNs: 0, tty: 0, capEffective: 0, capPermitted: 0, loginuid: 4294967295, vpid: 4241 }]);
  return tree;
}

/** An exec event in the "web" workload, enriched as the engine would. */
export function execEvent(exe = '/bin/sh', argv = ['sh', '-c', 'id'], workload: Workload = WEB, tree = webTree()): Event {
  const e = makeEvent('exec', { time: Date.parse('2026-01-02T03:04:05.678Z'), pid: 4242, ppid: 4241, uid: 0, gid: 0, comm: 'sh', cgroupId: 77, nodeName: 'node-a', path: exe, filename: exe, argv, cwd: '/' });
  e.process = tree.apply(e);
  e.workload = workload;
  return e;
}

export function alert(input: Partial<AlertInput> = {}, e: Event = execEvent(), tree = webTree()): Alert {
  return alertFor(e, tree, {
    source: 'rule',
    rule: 'Terminal shell in container',
    priority: 'warning',
    message: 'A shell was spawned in a container',
    tags: ['container', 'shell', 'T1059'],
    fields: { 'proc.name': 'sh' },
    ...input,
  });
}

/** Alert n of a numbered series (distinct, so folding leaves them alone). */
export function numbered(n: number): Alert {
  return alert({ rule: `rule-${n}`, message: `alert number ${n}` }, execEvent(`/usr/bin/tool-${n}`));
}

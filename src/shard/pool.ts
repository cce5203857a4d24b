// The main thread's side of detection workers (engine.workers > 1,
// docs/workers.md). The engine decodes, resolves each event's workload and
// applies it to its own process tree as before; here events are routed to
// the worker that owns their workload (ownerOf: by the workload's key), in
// arrival order, one message per worker per batch. Fork, exec, exit and
// setid go to every worker too, so each keeps the node's whole process
// tree: a process that forks in one workload's cgroup and execs in
// another's has the same ancestry in both. Each worker raises its alerts,
// sets its modes and asks for enforcement and kills in the order its
// events gave rise to them; messages from one worker arrive in order, so
// every workload's alerts and commands do too.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config/schema.js';
import type { WorkloadProfileDocument } from '../detect/profile/document.js';
import type { ModeChange, ProfileControl } from '../detect/profile/detector.js';
import { diffDocuments, toDocument, type EnforceResult, type KernelPolicy } from '../detect/profile/policy.js';
import { Profile } from '../detect/profile/profile.js';
import type { WorkloadRegistry } from '../enrich/workloads.js';
import type { Logger } from '../log.js';
import { alertAbout, type Alert } from '../model/alert.js';
import type { Event } from '../model/event.js';
import type { EventBytes } from '../ingest/server.js';
import type { Mode } from '../model/mode.js';
import type { CommandResult } from '../model/result.js';
import { nodeWorkload, type Workload, type WorkloadKind } from '../model/workload.js';
import type { WireProcessInfo } from '../probe/wire.js';
import type { UserFilesAnswer, UserFilesRequest, UserNamesState } from '../detect/rules/users.js';
import { changesTree, namesEvent, NOT_OWNED, ownerOf, profileLimits, type FromShard, type MainCall, type ShardCall, type ShardInit, type ToShard } from './protocol.js';

export interface DetectionWorkersOptions {
  config: Config;
  count: number;
  log: Logger;
  registry: WorkloadRegistry;
  /** Stored profiles, read once here and handed to their owners. */
  docs: WorkloadProfileDocument[];
  enforcement: { enforce(w: Workload, p: KernelPolicy): Promise<EnforceResult>; relax(w: Workload): Promise<void>; reapply(): Promise<void> };
  kill: (pid: number) => Promise<CommandResult>;
  enforcementFailed: (w: Workload, reason: string) => void;
  raise: (a: Alert) => void;
  /** A container's (or the node's) user files through the probe (ReadUserFiles), for a worker's user names. */
  readUserFiles: (r: UserFilesRequest) => Promise<UserFilesAnswer>;
}

/** Room before the first event for the ProbeMessage and EventBatch framing (a tag and a varint length). */
const HEAD = 6;

/** One worker's events since the last flush. */
class Outbox {
  buf = new Uint8Array(64 * 1024);
  len = HEAD;
  kinds: number[] = [];
  objects: Event[] = [];
  times: number[] = [];
  wids: number[] = [];
  nodeName = '';

  get size(): number {
    return this.kinds.length;
  }

  /** An event's bytes, framed as EventBatch field 2. */
  addBytes(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (this.len + n + 6 > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, this.len + n + 6));
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    this.buf[this.len++] = 0x12;
    this.len = writeVarint(this.buf, this.len, n);
    this.buf.set(src.subarray(start, end), this.len);
    this.len += n;
    this.kinds.push(1);
  }

  /** Takes the batch as one message; the buffer goes with it. */
  take(): Extract<ToShard, { t: 'events' }> {
    const bodyLen = this.len - HEAD;
    let bytes: Uint8Array | null = null;
    if (bodyLen > 0) {
      // ProbeMessage field 2 (batch), written just before the body.
      const head = new Uint8Array(6);
      let h = 0;
      head[h++] = 0x12;
      h = writeVarint(head, h, bodyLen);
      const at = HEAD - h;
      this.buf.set(head.subarray(0, h), at);
      bytes = this.buf.subarray(at, this.len);
    }
    const m = {
      t: 'events' as const, bytes, kinds: Uint8Array.from(this.kinds), objects: this.objects,
      times: Float64Array.from(this.times), nodeName: this.nodeName, wids: Int32Array.from(this.wids),
    };
    this.buf = new Uint8Array(Math.max(64 * 1024, this.buf.length));
    this.len = HEAD;
    this.kinds = [];
    this.objects = [];
    this.times = [];
    this.wids = [];
    return m;
  }
}

function writeVarint(b: Uint8Array, at: number, v: number): number {
  while (v > 0x7f) {
    b[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[at++] = v;
  return at;
}

/** A worker thread running worker.js beside this file; from source (tests, benches: .ts) it first registers tsx's loader, a dev dependency. */
function startWorker(init: ShardInit): Worker {
  const opts = { workerData: init, name: `vigil-detect-${init.index}` };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), opts);
  const tsx = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
  const entry = new URL('./worker.ts', import.meta.url).href;
  return new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, { ...opts, eval: true });
}

export { profileLimits };

export class DetectionWorkers implements ProfileControl {
  private readonly workers: Worker[] = [];
  /** Each worker's thread id in the kernel (its CPU time is /proc/self/task/TID). */
  readonly threadIds: number[] = [];
  private readonly outboxes: Outbox[] = [];
  private readonly ids = new Map<Workload, number>();
  private readonly owners: number[] = [];
  /** Per worker, the identity last sent for each workload id (resent when the main thread's changes). */
  private readonly sent: Map<number, ContainerInfoRef>[] = [];
  private readonly docs = new Map<string, WorkloadProfileDocument>();
  private readonly pending = new Map<number, { worker: number; resolve(v: unknown): void; reject(e: Error): void }>();
  private nextCall = 1;
  /** A mode a worker set, being applied to the registry here (not to be sent back). */
  private following: string | null = null;
  private stopping = false;
  private stopped: (() => void)[] = [];
  private readonly exited: boolean[] = [];
  private queued = 0;
  /** Each worker's user names, as it last said. */
  private readonly users: (UserNamesState | undefined)[] = [];

  constructor(private readonly opts: DetectionWorkersOptions) {
    for (const d of opts.docs) this.docs.set(d.spec.workload.key, d);
    // A mode set here (the cluster, a fail policy): the owner's profiles follow.
    opts.registry.onModeChange((w, _from, to) => {
      if (this.following === w.key || this.stopping) return;
      this.post(this.ownerOfKey(w.key), { t: 'mode', key: w.key, mode: to });
    });
  }

  get count(): number {
    return this.opts.count;
  }

  ownerOfKey(key: string): number {
    return ownerOf(key, this.opts.count);
  }

  /** Starts the workers; resolves when each has loaded its rules and profiles. */
  async start(): Promise<void> {
    const { config, count, log } = this.opts;
    const ready: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const init: ShardInit = { config, index: i, count, docs: this.opts.docs.filter((d) => ownerOf(d.spec.workload.key, count) === i), logLevel: log.level };
      const w = startWorker(init);
      this.workers.push(w);
      this.outboxes.push(new Outbox());
      this.sent.push(new Map());
      ready.push(new Promise<void>((resolve, reject) => {
        w.on('message', (m: FromShard) => {
          if (m.t !== 'ready') return this.onMessage(i, m);
          this.threadIds[i] = m.tid;
          resolve();
        });
        w.once('error', reject);
      }));
      w.on('error', (err) => this.died(i, err.message));
      w.on('exit', (code) => {
        this.exited[i] = true;
        for (const [id, p] of this.pending) {
          if (p.worker !== i) continue;
          this.pending.delete(id);
          p.reject(new Error(`detection worker ${i} exited`));
        }
        this.stopped[i]?.();
        if (!this.stopping) this.died(i, `exited with code ${code}`);
      });
    }
    await Promise.all(ready);
  }

  private died(i: number, why: string): void {
    if (this.stopping) return;
    const message = `detection worker ${i} stopped (${why}): the workloads it owned are no longer detected on until the engine restarts`;
    this.opts.log.error({ worker: i }, message);
    this.opts.raise(alertAbout(nodeWorkload(this.opts.config.nodeName), this.opts.config.nodeName, {
      source: 'engine', rule: 'Detection worker stopped', priority: 'critical', message, tags: ['vigil', 'visibility'],
    }));
  }

  private post(i: number, m: ToShard, transfer?: ArrayBuffer[]): void {
    this.workers[i]?.postMessage(m, transfer);
  }

  /**
   * Queues one enriched event for its workload's worker (and, for the
   * process tree, every other): its bytes when `wire` says where they are,
   * else the object.
   */
  route(e: Event, w: Workload, wire?: EventBytes, index = 0): void {
    let id = this.ids.get(w);
    if (id === undefined) {
      id = this.owners.length;
      this.ids.set(w, id);
      this.owners.push(ownerOf(w.key, this.opts.count));
    }
    const owner = this.owners[id]!;
    const sent = this.sent[owner]!;
    if (sent.get(id) !== (w.containerInfo ?? NO_INFO)) {
      sent.set(id, w.containerInfo ?? NO_INFO);
      this.flushOne(owner);
      this.post(owner, { t: 'workload', id, w: plainWorkload(w) });
    }
    if (changesTree(e.type)) {
      for (let i = 0; i < this.outboxes.length; i++) this.add(i, e, i === owner ? id : NOT_OWNED, wire, index);
    } else {
      this.add(owner, e, id, wire, index);
    }
    this.queued++;
  }

  private add(i: number, e: Event, wid: number, wire: EventBytes | undefined, index: number): void {
    let box = this.outboxes[i]!;
    if (box.nodeName !== e.nodeName) {
      if (box.size > 0) this.flushOne(i);
      box = this.outboxes[i]!;
      box.nodeName = e.nodeName;
    }
    if (wire) box.addBytes(wire.bytes, wire.ranges[2 * index]!, wire.ranges[2 * index + 1]!);
    else {
      box.kinds.push(0);
      box.objects.push(e);
    }
    box.times.push(e.time);
    box.wids.push(wid);
  }

  /** Sends what route() queued: one message per worker. */
  flush(): void {
    if (this.queued === 0) return;
    this.queued = 0;
    for (let i = 0; i < this.outboxes.length; i++) this.flushOne(i);
  }

  private flushOne(i: number): void {
    const box = this.outboxes[i]!;
    if (box.size === 0) return;
    const m = box.take();
    // The process and workload of an event sent whole are the worker's own (its tree, its copy): not cloned with it.
    const procs = m.objects.map((e) => e.process);
    const loads = m.objects.map((e) => e.workload);
    for (const e of m.objects) {
      e.process = null;
      e.workload = null;
    }
    try {
      const transfer = [m.wids.buffer, m.kinds.buffer, m.times.buffer] as ArrayBuffer[];
      if (m.bytes) transfer.push(m.bytes.buffer as ArrayBuffer);
      this.post(i, m, transfer);
    } finally {
      for (let k = 0; k < m.objects.length; k++) {
        m.objects[k]!.process = procs[k]!;
        m.objects[k]!.workload = loads[k]!;
      }
    }
  }

  /** A cgroup's first event: its owner asks for its user names now (Engine.onEvents in one thread). */
  usersSeen(e: Event, w: Workload): void {
    this.post(this.ownerOfKey(w.key), { t: 'users-seen', e: namesEvent(e) });
  }

  /**
   * A held container's user names, asked for by the worker that owns it and
   * in before its held events reach it (Engine.namesReady in one thread).
   */
  async prefetchUsers(e: Event, w: Workload): Promise<void> {
    await this.call(this.ownerOfKey(w.key), 'prefetchUsers', [namesEvent(e), w.containerId]);
  }

  /** A container that is gone: every worker drops its user names (removals are rare; which worker held them is not kept). */
  forgetUsers(containerId: string): void {
    for (let i = 0; i < this.workers.length; i++) this.post(i, { t: 'users-forget', containerId });
  }

  /** The workers' user names for status: each source as the workers say it (one line when they agree), refusals summed. */
  userNames(): UserNamesState {
    const states = this.users.filter((s) => s !== undefined);
    // As said by the workers that looked (one that never had a container or a node process to name says only what it was configured with).
    const say = (of: (s: UserNamesState) => string, looked: (s: UserNamesState) => boolean): string => {
      const some = states.some(looked) ? states.filter(looked) : states;
      const seen = [...new Set(some.map(of))].filter((x) => x !== 'not read yet');
      return seen.length === 0 ? 'not read yet' : seen.join('; ');
    };
    return {
      containers: say((s) => s.containers, (s) => s.containersLooked),
      node: say((s) => s.node, (s) => s.nodeLooked),
      containersLooked: states.some((s) => s.containersLooked),
      nodeLooked: states.some((s) => s.nodeLooked),
      refused: states.reduce((n, s) => n + s.refused, 0),
      timedOut: states.reduce((n, s) => n + s.timedOut, 0),
      problems: states.flatMap((s) => s.problems),
    };
  }

  snapshot(processes: WireProcessInfo[]): void {
    for (let i = 0; i < this.workers.length; i++) this.post(i, { t: 'snapshot', processes });
  }

  reloadRules(): void {
    for (let i = 0; i < this.workers.length; i++) this.post(i, { t: 'reload-rules' });
  }

  private call(i: number, method: ShardCall, args: unknown[]): Promise<unknown> {
    const id = this.nextCall++;
    // Events routed before the call are detected on before it.
    this.flush();
    return new Promise((resolve, reject) => {
      if (this.exited[i]) return reject(new Error(`detection worker ${i} is not running (it stopped; the engine's log and alerts say why)`));
      this.pending.set(id, { worker: i, resolve, reject });
      this.post(i, { t: 'call', id, method, args });
    });
  }

  private onMessage(i: number, m: FromShard): void {
    const { registry, log } = this.opts;
    switch (m.t) {
      case 'alert':
        return this.opts.raise(m.alert);
      case 'mode': {
        const w = registry.find(m.key);
        if (!w) return;
        this.following = m.key;
        try {
          registry.setMode(w, m.mode);
        } finally {
          this.following = null;
        }
        return;
      }
      case 'declare':
        registry.declare(m.identity);
        return;
      case 'docs':
        for (const d of m.docs) this.docs.set(d.spec.workload.key, d);
        return;
      case 'failed': {
        const w = registry.find(m.key);
        if (w) this.opts.enforcementFailed(w, m.reason);
        return;
      }
      case 'users':
        this.users[i] = m.state;
        return;
      case 'req':
        return void this.answer(i, m.id, m.method, m.args);
      case 'res': {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error !== undefined) p?.reject(new Error(m.error));
        else p?.resolve(m.value);
        return;
      }
      case 'log':
        return relayLog(log, m.line);
      case 'stopped':
        this.stopped[i]?.();
        return;
      case 'ready':
        return;
    }
  }

  /** A worker's request (enforcement, a kill), answered in the order asked. */
  private async answer(i: number, id: number, method: MainCall, args: unknown[]): Promise<void> {
    const { registry, enforcement } = this.opts;
    try {
      let value: unknown;
      if (method === 'kill') value = await this.opts.kill(args[0] as number);
      else if (method === 'readUserFiles') value = await this.opts.readUserFiles(args[0] as UserFilesRequest);
      else {
        const w = registry.find(args[0] as string);
        if (!w) throw new Error(`no workload ${args[0] as string}`);
        value = method === 'enforce' ? await enforcement.enforce(w, args[1] as KernelPolicy) : await enforcement.relax(w);
      }
      this.post(i, { t: 'res', id, value } as unknown as ToShard);
    } catch (err) {
      this.post(i, { t: 'res', id, error: (err as Error).message } as unknown as ToShard);
    }
  }

  // ---- ProfileControl: the profiles live in the workers ----------------

  async changeMode(w: Workload, mode: Mode): Promise<ModeChange> {
    const owner = this.ownerOfKey(w.key);
    return (await this.call(owner, 'changeMode', [plainWorkload(w), mode])) as ModeChange;
  }

  /** As ProfileDetector.export, from the documents the workers last sent (at most a second old; a control call's own changes are in). */
  export(nameOrKey?: string): WorkloadProfileDocument[] {
    const { registry } = this.opts;
    const withMode = (w: Workload, d: WorkloadProfileDocument): WorkloadProfileDocument => ({ ...d, spec: { ...d.spec, mode: w.mode } });
    if (nameOrKey) {
      const w = registry.find(nameOrKey);
      const d = w && this.docs.get(w.key);
      if (!w || !d) throw new Error(`no profile for '${nameOrKey}'`);
      return [withMode(w, d)];
    }
    return [...this.docs.keys()].sort().flatMap((k) => {
      const w = registry.find(k);
      return w ? [withMode(w, this.docs.get(k)!)] : [];
    });
  }

  diff(doc: WorkloadProfileDocument): string[] {
    const { registry } = this.opts;
    const w = registry.find(doc.spec.workload.key) ?? registry.find(doc.spec.workload.name);
    const ref = { ...doc.spec.workload, namespace: doc.spec.workload.namespace ?? '', kind: doc.spec.workload.kind as WorkloadKind };
    const current = w && this.docs.has(w.key) ? this.export(w.key)[0]! : toDocument(new Profile(profileLimits(this.opts.config)), ref, 'learn');
    return diffDocuments(doc, current);
  }

  async apply(docs: WorkloadProfileDocument[]): Promise<{ applied: string[]; warnings: string[] }> {
    const applied: string[] = [];
    const warnings: string[] = [];
    // In the file's order, each by its owner.
    for (const doc of docs) {
      const r = (await this.call(this.ownerOfKey(doc.spec.workload.key), 'apply', [[doc]])) as { applied: string[]; warnings: string[] };
      applied.push(...r.applied);
      warnings.push(...r.warnings);
    }
    return { applied, warnings };
  }

  /** Resolves when every worker has detected on every event routed so far (and sent its changed profiles). */
  async settled(): Promise<void> {
    await Promise.all(this.workers.map((_, i) => this.call(i, 'flushDocs', [])));
  }

  async enforceAll(): Promise<void> {
    await Promise.all(this.workers.map((_, i) => this.call(i, 'enforceAll', [])));
    await this.opts.enforcement.reapply();
  }

  /** Profiles are not shared through the cluster with workers (the engine refuses that configuration). */
  async publishPending(): Promise<void> {}

  /** Flushes the queued events, lets each worker close its detectors (saving profiles), then ends it. */
  async stop(): Promise<void> {
    this.flush();
    // Pending profile changes arrive before 'stopped'.
    await Promise.all(this.workers.map((_, i) => new Promise<void>((resolve) => {
      // A worker that already died has nothing left to save.
      if (this.exited[i]) return resolve();
      this.stopped[i] = resolve;
      this.post(i, { t: 'stop' });
    })));
    this.stopping = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

type ContainerInfoRef = object;
const NO_INFO: ContainerInfoRef = {};

/** A workload as a worker gets it: its fields, cloned. */
function plainWorkload(w: Workload): Workload {
  return { ...w };
}

const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** A worker's pino line, logged again by the main thread's logger (its fields kept, its level too). */
function relayLog(log: Logger, line: string): void {
  try {
    const { level, msg, time: _t, pid: _p, hostname: _h, ...fields } = JSON.parse(line) as Record<string, unknown>;
    log[LEVELS[level as number] ?? 'info'](fields, String(msg ?? ''));
  } catch {
    log.warn({ line: line.slice(0, 200) }, 'unreadable log line from a detection worker');
  }
}

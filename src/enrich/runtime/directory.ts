// The containers of this node, by id, as the runtimes say: asked once per
// container when its first event arrives (or when the runtime announces
// it), cached, forgotten a while after it is removed.
//
// Nothing here waits on a runtime: lookup() answers at once with what is
// known, or with a promise that settles when the runtime has answered
// (each call has a deadline in its client). A runtime that fails is left
// alone for a backoff (1 s doubling to 30 s) during which lookups that
// only it could answer say "unknown" at once, so a runtime that is down or
// slow costs the event path nothing. Lookups in flight are bounded.
import { LRUCache } from 'lru-cache';
import type { Logger } from '../../log.js';
import type { CgroupContainer } from './cgroup-ids.js';
import type { ContainerInfo } from '../../model/container.js';
import type { RuntimeSource } from './sources.js';

export type Lookup =
  | { state: 'known'; info: ContainerInfo }
  | { state: 'pending'; ready: Promise<void> }
  | { state: 'unknown'; reason: string };

/** added: its identity is known; removed: the runtime removed it; forgotten: `removedGraceMs` after that, gone from here too. */
export type DirectoryListener = (change: 'added' | 'removed' | 'forgotten', info: ContainerInfo) => void;

export interface ContainerDirectoryOptions {
  sources: RuntimeSource[];
  log: Logger;
  /** Lookups in flight at once; past it a new container is "unknown" until its next event. */
  maxInflight?: number;
  /** A container no runtime knows is asked about again after this long. */
  missingRetryMs?: number;
  /** A removed container is forgotten this long after (events of its last processes may still be in flight). */
  removedGraceMs?: number;
  now?: () => number;
}

interface Health {
  up: boolean;
  /** While down: not asked before this time. */
  retryAt: number;
  backoffMs: number;
  version: string;
}

const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

export interface DirectoryStats {
  containers: number;
  lookups: number;
  found: number;
  notFound: number;
  failed: number;
  busy: number;
  runtimes: { kind: string; socket: string; runtime: string; up: boolean; version: string }[];
}

export class ContainerDirectory {
  private readonly known = new Map<string, ContainerInfo>();
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly missing: LRUCache<string, number>;
  private readonly removedAt = new Map<string, number>();
  private readonly health = new Map<RuntimeSource, Health>();
  private readonly listeners: DirectoryListener[] = [];
  private readonly stops: (() => void)[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly maxInflight: number;
  private readonly removedGraceMs: number;
  private readonly now: () => number;
  private stopped = false;
  readonly counts = { lookups: 0, found: 0, notFound: 0, failed: 0, busy: 0 };

  constructor(private readonly opts: ContainerDirectoryOptions) {
    this.maxInflight = opts.maxInflight ?? 64;
    this.removedGraceMs = opts.removedGraceMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    this.missing = new LRUCache({ max: 8192, ttl: opts.missingRetryMs ?? 2000 });
    for (const s of opts.sources) this.health.set(s, { up: false, retryAt: 0, backoffMs: MIN_BACKOFF_MS, version: '' });
  }

  get sources(): readonly RuntimeSource[] {
    return this.opts.sources;
  }

  /**
   * Connects to every runtime (resolves once each has answered or failed
   * once) and follows those that answer; those that do not are tried
   * again with backoff.
   */
  async start(): Promise<void> {
    await Promise.all(this.opts.sources.map((s) => this.connect(s)));
  }

  private async connect(s: RuntimeSource): Promise<void> {
    if (this.stopped) return;
    const h = this.health.get(s)!;
    try {
      h.version = await s.connect();
      h.up = true;
      h.backoffMs = MIN_BACKOFF_MS;
      this.opts.log.info({ socket: s.socket, runtime: h.version }, 'container runtime found');
      this.stops.push(s.follow((change, id) => this.onChange(s, change, id)));
    } catch (err) {
      this.markDown(s, err as Error);
      this.later(() => void this.connect(s), h.backoffMs);
    }
  }

  private later(fn: () => void, ms: number): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref?.();
    this.timers.add(t);
  }

  private markDown(s: RuntimeSource, err: Error): void {
    const h = this.health.get(s)!;
    if (h.up || h.retryAt === 0) this.opts.log.warn({ socket: s.socket, err: err.message, retryInMs: h.backoffMs }, 'container runtime does not answer: containers it runs are named by their cgroup until it does');
    h.up = false;
    h.retryAt = this.now() + h.backoffMs;
    h.backoffMs = Math.min(h.backoffMs * 2, MAX_BACKOFF_MS);
  }

  private markUp(s: RuntimeSource): void {
    const h = this.health.get(s)!;
    if (!h.up) this.opts.log.info({ socket: s.socket }, 'container runtime answers again');
    h.up = true;
    h.backoffMs = MIN_BACKOFF_MS;
  }

  /** Called when a container is added (its identity known) or removed. */
  onChange(fn: DirectoryListener): void;
  onChange(s: RuntimeSource, change: 'started' | 'removed', id: string): void;
  onChange(a: DirectoryListener | RuntimeSource, change?: 'started' | 'removed', id?: string): void {
    if (typeof a === 'function') {
      this.listeners.push(a);
      return;
    }
    if (change === 'started') {
      // Ask now, so its first events find it known.
      if (!this.known.has(id!) && !this.inflight.has(id!)) this.fetch(id!, [a]);
      return;
    }
    const info = this.known.get(id!);
    if (!info || this.removedAt.has(id!)) return;
    this.removedAt.set(id!, this.now());
    for (const fn of this.listeners) fn('removed', info);
    this.later(() => this.sweep(), this.removedGraceMs + 10);
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, at] of this.removedAt) {
      if (now - at < this.removedGraceMs) continue;
      this.removedAt.delete(id);
      const info = this.known.get(id);
      this.known.delete(id);
      if (info) for (const fn of this.listeners) fn('forgotten', info);
    }
  }

  /** The container behind a cgroup: known, being asked, or unknown (and why). */
  lookup(c: CgroupContainer): Lookup {
    const info = this.known.get(c.id);
    if (info) return { state: 'known', info };
    const pending = this.inflight.get(c.id);
    if (pending) return { state: 'pending', ready: pending };
    if (this.missing.has(c.id)) return { state: 'unknown', reason: 'no runtime knows this container' };
    const now = this.now();
    const candidates = this.sourcesFor(c).filter((s) => {
      const h = this.health.get(s)!;
      return h.up || (h.version !== '' && now >= h.retryAt);
    });
    if (candidates.length === 0) return { state: 'unknown', reason: this.opts.sources.length ? 'no container runtime answers' : 'no container runtime configured' };
    if (this.inflight.size >= this.maxInflight) {
      this.counts.busy++;
      return { state: 'unknown', reason: 'too many container lookups in flight' };
    }
    return { state: 'pending', ready: this.fetch(c.id, candidates) };
  }

  /** Known containers (not yet forgotten). */
  get(id: string): ContainerInfo | undefined {
    return this.known.get(id);
  }

  /** Runtimes to ask, the one the cgroup path names first. */
  private sourcesFor(c: CgroupContainer): RuntimeSource[] {
    const all = this.opts.sources;
    const rank = (s: RuntimeSource): number => {
      if (c.runtime === 'docker') return s.kind === 'docker' ? 0 : 1;
      if (c.runtime) return s.kind === 'cri' && s.runtimeName === c.runtime ? 0 : s.kind === 'cri' ? 1 : 2;
      return s.kind === 'cri' ? 0 : 1;
    };
    return [...all].sort((a, b) => rank(a) - rank(b));
  }

  private fetch(id: string, candidates: readonly RuntimeSource[]): Promise<void> {
    this.counts.lookups++;
    const p = (async () => {
      let failures = 0;
      for (const s of candidates) {
        try {
          const info = await s.inspect(id);
          this.markUp(s);
          if (!info) continue;
          if (this.stopped) return;
          this.counts.found++;
          this.known.set(id, info);
          for (const fn of this.listeners) fn('added', info);
          return;
        } catch (err) {
          failures++;
          this.markDown(s, err as Error);
        }
      }
      // Not found anywhere: not asked again for a while. A runtime that
      // failed is down for its backoff instead, and asked again after it.
      if (failures) {
        this.counts.failed++;
      } else {
        this.counts.notFound++;
        this.missing.set(id, this.now());
      }
    })().finally(() => this.inflight.delete(id));
    this.inflight.set(id, p);
    return p;
  }

  stats(): DirectoryStats {
    return {
      containers: this.known.size,
      ...this.counts,
      runtimes: this.opts.sources.map((s) => {
        const h = this.health.get(s)!;
        return { kind: s.kind, socket: s.socket, runtime: s.runtimeName, up: h.up, version: h.version };
      }),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    for (const stop of this.stops) stop();
    await Promise.allSettled([...this.inflight.values()]);
    for (const s of this.opts.sources) s.close();
  }
}

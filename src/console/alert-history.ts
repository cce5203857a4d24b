// The alerts the console shows: a bounded ring of the latest alerts
// (oldest dropped first, counted) and per-minute counts by priority, rule,
// source, tag and workload for the charts, kept longer than the ring
// (a day) and bounded per minute (values past `otherLimit` count as
// "(other)"). Fed by the engine's alert stream; nothing here blocks it.
import { severity, type Alert, type Priority } from '../model/alert.js';
import type { AlertCounts, AlertPage } from './api.js';

export const DIMENSIONS = ['priority', 'rule', 'source', 'tag', 'workload'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

const BUCKET_MS = 60_000;
const BUCKETS = 24 * 60;
const OTHER = '(other)';

export interface AlertFilter {
  /** This priority or more severe. */
  priority?: Priority;
  rule?: string;
  workload?: string;
  namespace?: string;
  source?: string;
  /** Unix ms: alerts at or after. */
  since?: number;
  /** Case-insensitive, in the message, output, rule, workload, process and event. */
  text?: string;
  limit?: number;
}

interface Bucket {
  start: number;
  counts: Map<Dimension, Map<string, number>>;
}

export class AlertHistory {
  private readonly ring: (Alert | undefined)[];
  private next = 0;
  private size = 0;
  /** Alerts dropped from the ring to keep it within its bound. */
  evicted = 0;
  private readonly byId = new Map<string, Alert>();
  private readonly buckets: Bucket[] = [];

  constructor(
    readonly limit: number,
    readonly otherLimit = 20,
  ) {
    this.ring = new Array<Alert | undefined>(limit);
  }

  add(a: Alert, now = Date.now()): void {
    const old = this.ring[this.next];
    if (old) {
      this.byId.delete(old.id);
      this.evicted++;
    }
    this.ring[this.next] = a;
    this.byId.set(a.id, a);
    this.next = (this.next + 1) % this.limit;
    if (this.size < this.limit) this.size++;
    this.count(a, now);
  }

  get held(): number {
    return this.size;
  }

  get(id: string): Alert | undefined {
    return this.byId.get(id);
  }

  /** Newest first. */
  *newest(): Generator<Alert> {
    for (let i = 1; i <= this.size; i++) {
      const a = this.ring[(this.next - i + this.limit) % this.limit];
      if (a) yield a;
    }
  }

  query(f: AlertFilter): AlertPage {
    const limit = Math.min(Math.max(f.limit ?? 200, 1), 1000);
    const worst = f.priority ? severity(f.priority) : Infinity;
    const text = f.text?.toLowerCase() ?? '';
    const out: Alert[] = [];
    let matched = 0;
    for (const a of this.newest()) {
      if (severity(a.priority) > worst) continue;
      if (f.rule && a.rule !== f.rule) continue;
      if (f.source && a.source !== f.source) continue;
      if (f.workload && a.workload.name !== f.workload && a.workload.key !== f.workload) continue;
      if (f.namespace && a.workload.namespace !== f.namespace) continue;
      if (f.since !== undefined && Date.parse(a.time) < f.since) continue;
      if (text && !haystack(a).includes(text)) continue;
      matched++;
      if (out.length < limit) out.push(a);
    }
    return { alerts: out, matched, held: this.size, limit: this.limit, evicted: this.evicted };
  }

  private count(a: Alert, now: number): void {
    const start = Math.floor(now / BUCKET_MS) * BUCKET_MS;
    let b = this.buckets[this.buckets.length - 1];
    if (!b || b.start !== start) {
      b = { start, counts: new Map(DIMENSIONS.map((d) => [d, new Map()])) };
      this.buckets.push(b);
      while (this.buckets.length > BUCKETS || this.buckets[0]!.start <= start - BUCKETS * BUCKET_MS) this.buckets.shift();
    }
    const n = a.count || 1;
    const bump = (d: Dimension, v: string): void => {
      const m = b.counts.get(d)!;
      const key = m.has(v) || m.size < this.otherLimit ? v : OTHER;
      m.set(key, (m.get(key) ?? 0) + n);
    };
    bump('priority', a.priority);
    bump('rule', a.rule);
    bump('source', a.source);
    for (const t of a.tags) bump('tag', t);
    bump('workload', a.workload.name || '(none)');
  }

  /** Per-minute counts for the last `minutes`, the `top` values of each dimension (the rest as "(other)"). */
  counts(minutes: number, top = 8, now = Date.now()): AlertCounts {
    const span = Math.min(Math.max(Math.floor(minutes), 1), BUCKETS);
    const end = Math.floor(now / BUCKET_MS) * BUCKET_MS;
    const times = Array.from({ length: span }, (_, i) => end - (span - 1 - i) * BUCKET_MS);
    const index = new Map(times.map((t, i) => [t, i]));
    const series: AlertCounts['series'] = {};
    for (const d of DIMENSIONS) {
      const totals = new Map<string, number>();
      for (const b of this.buckets) {
        if (!index.has(b.start)) continue;
        for (const [v, n] of b.counts.get(d)!) totals.set(v, (totals.get(v) ?? 0) + n);
      }
      const kept = new Set([...totals].filter(([v]) => v !== OTHER).sort((x, y) => y[1] - x[1]).slice(0, top).map(([v]) => v));
      const s: Record<string, number[]> = {};
      for (const b of this.buckets) {
        const i = index.get(b.start);
        if (i === undefined) continue;
        for (const [v, n] of b.counts.get(d)!) {
          const key = kept.has(v) ? v : OTHER;
          (s[key] ??= new Array<number>(span).fill(0))[i]! += n;
        }
      }
      series[d] = s;
    }
    return { bucketMs: BUCKET_MS, times, series, otherLimit: this.otherLimit };
  }
}

function haystack(a: Alert): string {
  return [a.rule, a.message, a.output, a.workload.name, a.workload.namespace, a.workload.pod, a.process.exe, a.process.cmdline, JSON.stringify(a.event), JSON.stringify(a.fields)]
    .join('\n')
    .toLowerCase();
}

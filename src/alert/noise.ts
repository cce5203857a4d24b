// Noise control between detection and the sinks.
// - Folding: the first alert of a kind (same rule, workload and key event
//   fields) goes out at once and opens a window; identical alerts inside the
//   window are only counted, and when it closes one alert carries the count.
//   A detector can ask first, by a key of the parts the alert would be built
//   from (repeat()), whether its match would only be counted: then it builds
//   nothing. The alert that carries the count is the latest one built, and a
//   repeat is built again once that is SAMPLE_EVERY_MS old.
// - Rate limits: token buckets per rule within a workload, per workload and
//   for all workloads, each of the last two per priority: warnings can spend
//   only the warnings' budget, so no burst of lower priorities holds back a
//   critical or error alert, and one noisy workload (the host's builds, say)
//   spends only its own. Held alerts are counted and summarised soon after
//   the first is held, then at most once per summaryMs while holding goes on.
// - Vigil's own alerts (losses, stalls, restarts, control actions) are shaped
//   where they are raised (one per episode or action) and pass untouched.
import { randomUUID } from 'node:crypto';
import { PRIORITIES, severity, type Alert, type Priority } from '../model/alert.js';
import { noticeAlert } from './notice.js';

const SUMMARY_RULES = 20;
/** Buckets back at full burst are forgotten (a new one starts full): how often to look. */
const PRUNE_EVERY_MS = 60_000;
/** How old the folded alert a window will send may be before a repeat is built again to replace it. */
export const SAMPLE_EVERY_MS = 1000;

export interface RateLimit {
  perMinute: number;
  burst: number;
}

/** The budgets of one priority: no other priority draws on them. */
export interface PriorityBudget {
  /** All workloads together. */
  global: RateLimit | null;
  /** Each workload on its own. */
  perWorkload: RateLimit | null;
}

export interface NoiseOptions {
  /** 0 turns folding off. */
  foldWindowMs: number;
  /** Each rule within each workload. */
  perRule: RateLimit | null;
  /** Each priority's own budgets. */
  priorities: Record<Priority, PriorityBudget>;
  /** How soon after the first held alert the summary goes out. */
  summaryDelayMs: number;
  /** While alerts keep being held, at most one summary this often (not for held error and above: those wait summaryDelayMs at most). */
  summaryMs: number;
  node: string;
  /** Bound on open fold windows; past it, new kinds pass unfolded. */
  maxOpenFolds?: number;
  now?: () => number;
}

/** The same budgets for every priority (the shape of the older `global`-only configuration). */
export function everyPriority(b: PriorityBudget): Record<Priority, PriorityBudget> {
  return Object.fromEntries(PRIORITIES.map((p) => [p, b])) as Record<Priority, PriorityBudget>;
}

interface OpenFold {
  until: number;
  /** The latest alert folded, and how many were (the first, sent at once, not counted). */
  last: Alert | null;
  /** When `last` was folded. */
  lastAt: number;
  count: number;
  /** The repeat keys (repeat()) known to fold here. */
  repeatKeys: string[] | null;
}

interface Held {
  count: number;
  priority: Priority;
  sample: Alert;
  workloads: Set<string>;
}

class Bucket {
  private tokens: number;

  constructor(
    private readonly limit: RateLimit,
    private at: number,
  ) {
    this.tokens = limit.burst;
  }

  has(now: number): boolean {
    this.tokens = Math.min(this.limit.burst, this.tokens + ((now - this.at) * this.limit.perMinute) / 60_000);
    this.at = now;
    return this.tokens >= 1;
  }

  take(): void {
    this.tokens -= 1;
  }

  /** Whether it has refilled (a new bucket would be the same). */
  full(now: number): boolean {
    return this.tokens + ((now - this.at) * this.limit.perMinute) / 60_000 >= this.limit.burst;
  }
}

/** What makes two alerts "the same": rule, workload and the event's key fields (not pid, time or cmdline). */
export function foldKey(a: Alert): string {
  const e = a.event;
  return JSON.stringify([
    a.source, a.rule, a.priority, a.workload.key, a.action.taken,
    e.type ?? '', a.process.exe, e.exe ?? '', e.path ?? '', e.newPath ?? '', e.target ?? '',
    e.addr ?? '', e.port ?? '', e.unixPath ?? '', e.call ?? '',
  ]);
}

/** Alerts about Vigil itself, already one per episode or action where they are made. */
function shapedAtSource(a: Alert): boolean {
  return a.source === 'engine';
}

export class NoiseControl {
  /** Alerts counted into a later alert instead of sent on their own. */
  folded = 0;
  /** Alerts held back by a rate limit (reported in a summary). */
  rateLimited = 0;
  /** Held back, by priority. */
  readonly rateLimitedBy = new Map<Priority, number>();
  private readonly folds = new Map<string, OpenFold>();
  /** A repeat key → the fold key of the alert built from those parts (one function of the other, so never stale). */
  private readonly repeatKeys = new Map<string, string>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly held = new Map<string, Held>();
  private heldSince = 0;
  /** When the pending summary goes out (0: none pending). */
  private summaryDue = 0;
  private lastSummaryAt = -Infinity;
  private lastPrune: number;
  private readonly now: () => number;
  private readonly maxOpenFolds: number;

  constructor(
    private readonly o: NoiseOptions,
    private readonly emit: (a: Alert) => void,
  ) {
    this.now = o.now ?? Date.now;
    this.maxOpenFolds = o.maxOpenFolds ?? 10_000;
    this.lastPrune = this.now();
  }

  /**
   * `repeatKey`: the key of the parts `a` was built from (repeat()); a
   * later match with the same key is then counted into a's window without
   * being built.
   */
  offer(a: Alert, repeatKey?: string): void {
    if (shapedAtSource(a)) return this.emit(a);
    const now = this.now();
    if (this.o.foldWindowMs > 0) {
      const key = foldKey(a);
      let open = this.folds.get(key);
      if (open && now < open.until) {
        open.count += a.count;
        open.last = a;
        open.lastAt = now;
        this.folded += a.count;
        if (repeatKey !== undefined) this.link(repeatKey, key, open);
        return;
      }
      // A window past its end that no tick closed yet: its count goes out before this alert.
      if (open) this.close(key, open, now);
      if (this.folds.size < this.maxOpenFolds) {
        this.folds.set(key, (open = { until: now + this.o.foldWindowMs, last: null, lastAt: 0, count: 0, repeatKeys: null }));
        if (repeatKey !== undefined) this.link(repeatKey, key, open);
      }
    }
    this.pass(a, now);
  }

  /**
   * Counts a match whose alert, built from the parts `repeatKey` names,
   * would fold into an open window, as offer() would have counted it; false
   * (nothing counted) when it would not, or when the window's folded alert
   * is SAMPLE_EVERY_MS old: the caller then builds the alert and offers it.
   */
  repeat(repeatKey: string): boolean {
    const key = this.repeatKeys.get(repeatKey);
    if (key === undefined) return false;
    const open = this.folds.get(key);
    if (!open || open.last === null) return false;
    const now = this.now();
    if (now >= open.until || now - open.lastAt >= SAMPLE_EVERY_MS) return false;
    open.count++;
    this.folded++;
    return true;
  }

  private link(repeatKey: string, key: string, open: OpenFold): void {
    if (this.repeatKeys.has(repeatKey)) return;
    this.repeatKeys.set(repeatKey, key);
    (open.repeatKeys ??= []).push(repeatKey);
  }

  /** Whether tick() has nothing to do now or later: no open window, no summary pending, no bucket to forget. */
  get idle(): boolean {
    return this.folds.size === 0 && this.summaryDue === 0 && this.buckets.size === 0;
  }

  /** Closes windows that have ended and sends a due summary; call it often (the dispatcher's timer) until idle. */
  tick(): void {
    const now = this.now();
    for (const [key, f] of this.folds) if (now >= f.until) this.close(key, f, now);
    if (this.summaryDue && now >= this.summaryDue) this.summarise(now);
    if (now - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now;
      for (const [key, b] of this.buckets) if (b.full(now)) this.buckets.delete(key);
    }
  }

  /** Sends every open count and the summary now (shutdown). */
  flush(): void {
    const now = this.now();
    for (const [key, f] of this.folds) this.close(key, f, now);
    if (this.held.size > 0) this.summarise(now);
  }

  private close(key: string, f: OpenFold, now: number): void {
    this.folds.delete(key);
    if (f.repeatKeys) for (const k of f.repeatKeys) this.repeatKeys.delete(k);
    if (f.count > 0 && f.last) this.pass(foldedAlert(f.last, f.count, this.o.foldWindowMs), now);
  }

  private bucket(key: string, limit: RateLimit | null, now: number): Bucket | null {
    if (!limit) return null;
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = new Bucket(limit, now)));
    return b;
  }

  private pass(a: Alert, now: number): void {
    const budget = this.o.priorities[a.priority];
    const w = a.workload.key;
    const chosen = [
      this.bucket(`r\0${a.rule}\0${w}`, this.o.perRule, now),
      this.bucket(`w\0${a.priority}\0${w}`, budget.perWorkload, now),
      this.bucket(`p\0${a.priority}`, budget.global, now),
    ];
    // Look at every one before taking from any: a refusal by one must not spend the others.
    for (const b of chosen) if (b && !b.has(now)) return this.hold(a, now);
    for (const b of chosen) b?.take();
    this.emit(a);
  }

  private hold(a: Alert, now: number): void {
    this.rateLimited += a.count;
    this.rateLimitedBy.set(a.priority, (this.rateLimitedBy.get(a.priority) ?? 0) + a.count);
    if (this.held.size === 0) this.heldSince = now;
    // Soon after the first hold; while holding goes on, at most once per summaryMs — but a held
    // error or worse is never left waiting longer than summaryDelayMs.
    const soon = now + this.o.summaryDelayMs;
    const due = severity(a.priority) <= severity('error') ? soon : Math.max(soon, this.lastSummaryAt + this.o.summaryMs);
    if (!this.summaryDue || due < this.summaryDue) this.summaryDue = due;
    const key = `${a.priority}\0${a.rule}`;
    const h = this.held.get(key);
    if (!h) {
      this.held.set(key, { count: a.count, priority: a.priority, sample: a, workloads: new Set([a.workload.name || '-']) });
      return;
    }
    h.count += a.count;
    h.workloads.add(a.workload.name || '-');
  }

  /** One alert listing what the rate limits held back, by rule; it is not itself limited. */
  private summarise(now: number): void {
    const entries = [...this.held.values()].sort((x, y) => severity(x.priority) - severity(y.priority) || y.count - x.count);
    this.held.clear();
    this.summaryDue = 0;
    this.lastSummaryAt = now;
    if (entries.length === 0) return;
    const total = entries.reduce((n, s) => n + s.count, 0);
    const worst = entries[0]!.priority;
    const seconds = Math.max(1, Math.round((now - this.heldSince) / 1000));
    const list = entries.slice(0, SUMMARY_RULES).map((s) => {
      const where = s.workloads.size === 1 ? s.sample.workload.name || '-' : `${s.workloads.size} workloads`;
      return `${s.sample.rule} ×${s.count} (${s.priority}, ${where}, e.g. ${s.sample.message})`;
    });
    if (entries.length > SUMMARY_RULES) list.push(`and ${entries.length - SUMMARY_RULES} more rules`);
    const fields: Alert['fields'] = { 'vigil.suppressed': total };
    for (const p of PRIORITIES) {
      const n = entries.filter((s) => s.priority === p).reduce((m, s) => m + s.count, 0);
      if (n) fields[`vigil.suppressed.priority.${p}`] = n;
    }
    for (const s of entries) fields[`vigil.suppressed.${s.sample.rule}`] = ((fields[`vigil.suppressed.${s.sample.rule}`] as number | undefined) ?? 0) + s.count;
    this.emit(
      noticeAlert(
        this.o.node,
        'alerts-rate-limited',
        worst,
        `${total} alert${total === 1 ? '' : 's'} held back by rate limits in the last ${seconds} s: ${list.join('; ')}`,
        fields,
      ),
    );
  }
}

function foldedAlert(last: Alert, count: number, windowMs: number): Alert {
  const note = ` (${count} more like this within ${formatMs(windowMs)})`;
  return { ...last, id: randomUUID(), count, message: last.message + note, output: last.output + note };
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

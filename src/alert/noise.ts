// Noise control between detection and the sinks.
// - Folding: the first alert of a kind (same rule, workload and key event
//   fields) goes out at once and opens a window; identical alerts inside the
//   window are only counted, and when it closes one alert carries the count.
// - Rate limits: a token bucket per rule and one for all rules. Alerts over
//   the limit are counted per rule and reported in one summary alert; none
//   disappears without a trace.
import { randomUUID } from 'node:crypto';
import { severity, type Alert, type Priority } from '../model/alert.js';
import { noticeAlert } from './notice.js';

const SUMMARY_RULES = 20;

export interface RateLimit {
  perMinute: number;
  burst: number;
}

export interface NoiseOptions {
  /** 0 turns folding off. */
  foldWindowMs: number;
  perRule: RateLimit | null;
  global: RateLimit | null;
  /** How soon after the first suppressed alert the summary goes out. */
  summaryMs: number;
  node: string;
  /** Bound on open fold windows; past it, new kinds pass unfolded. */
  maxOpenFolds?: number;
  now?: () => number;
}

interface OpenFold {
  until: number;
  /** The latest alert folded, and how many were (the first, sent at once, not counted). */
  last: Alert | null;
  count: number;
}

interface Suppressed {
  count: number;
  priority: Priority;
  sample: Alert;
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

export class NoiseControl {
  /** Alerts counted into a later alert instead of sent on their own. */
  folded = 0;
  /** Alerts held back by a rate limit (reported in a summary). */
  rateLimited = 0;
  private readonly folds = new Map<string, OpenFold>();
  private readonly rules = new Map<string, Bucket>();
  private readonly global: Bucket | null;
  private readonly suppressed = new Map<string, Suppressed>();
  private suppressedSince = 0;
  private readonly now: () => number;
  private readonly maxOpenFolds: number;

  constructor(
    private readonly o: NoiseOptions,
    private readonly emit: (a: Alert) => void,
  ) {
    this.now = o.now ?? Date.now;
    this.maxOpenFolds = o.maxOpenFolds ?? 10_000;
    this.global = o.global ? new Bucket(o.global, this.now()) : null;
  }

  offer(a: Alert): void {
    const now = this.now();
    if (this.o.foldWindowMs > 0) {
      const key = foldKey(a);
      const open = this.folds.get(key);
      if (open && now < open.until) {
        open.count += a.count;
        open.last = a;
        this.folded += a.count;
        return;
      }
      // A window past its end that no tick closed yet: its count goes out before this alert.
      if (open) this.close(key, open, now);
      if (this.folds.size < this.maxOpenFolds) this.folds.set(key, { until: now + this.o.foldWindowMs, last: null, count: 0 });
    }
    this.pass(a, now);
  }

  /** Closes windows that have ended and sends a due summary; call it often (the dispatcher's timer). */
  tick(): void {
    const now = this.now();
    for (const [key, f] of this.folds) if (now >= f.until) this.close(key, f, now);
    if (this.suppressed.size > 0 && now - this.suppressedSince >= this.o.summaryMs) this.summarise(now);
  }

  /** Sends every open count and the summary now (shutdown). */
  flush(): void {
    const now = this.now();
    for (const [key, f] of this.folds) this.close(key, f, now);
    if (this.suppressed.size > 0) this.summarise(now);
  }

  private close(key: string, f: OpenFold, now: number): void {
    this.folds.delete(key);
    if (f.count > 0 && f.last) this.pass(foldedAlert(f.last, f.count, this.o.foldWindowMs), now);
  }

  private pass(a: Alert, now: number): void {
    let rule: Bucket | null = null;
    if (this.o.perRule) {
      rule = this.rules.get(a.rule) ?? new Bucket(this.o.perRule, now);
      this.rules.set(a.rule, rule);
    }
    // Look at both before taking from either: a per-rule refusal must not spend the global budget.
    const ruleOk = rule ? rule.has(now) : true;
    const globalOk = this.global ? this.global.has(now) : true;
    if (!ruleOk || !globalOk) return this.suppress(a, now);
    rule?.take();
    this.global?.take();
    this.emit(a);
  }

  private suppress(a: Alert, now: number): void {
    this.rateLimited += a.count;
    if (this.suppressed.size === 0) this.suppressedSince = now;
    const s = this.suppressed.get(a.rule);
    if (!s) {
      this.suppressed.set(a.rule, { count: a.count, priority: a.priority, sample: a });
      return;
    }
    s.count += a.count;
    if (severity(a.priority) < severity(s.priority)) {
      s.priority = a.priority;
      s.sample = a;
    }
  }

  /** One alert listing what the rate limits held back, by rule; it is not itself limited. */
  private summarise(now: number): void {
    const entries = [...this.suppressed.entries()].sort((x, y) => severity(x[1].priority) - severity(y[1].priority) || y[1].count - x[1].count);
    this.suppressed.clear();
    const total = entries.reduce((n, [, s]) => n + s.count, 0);
    const worst = entries[0]![1].priority;
    const seconds = Math.max(1, Math.round((now - this.suppressedSince) / 1000));
    const list = entries.slice(0, SUMMARY_RULES).map(([rule, s]) => `${rule} ×${s.count} (${s.priority}, e.g. ${s.sample.workload.name || '-'}: ${s.sample.message})`);
    if (entries.length > SUMMARY_RULES) list.push(`and ${entries.length - SUMMARY_RULES} more rules`);
    const fields: Alert['fields'] = { 'vigil.suppressed': total };
    for (const [rule, s] of entries) fields[`vigil.suppressed.${rule}`] = s.count;
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

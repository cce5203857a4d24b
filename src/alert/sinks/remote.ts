// A sink behind the network (webhook, Slack): every alert goes to the sink's
// durable queue first; one delivery loop sends the queue's head, in order,
// and moves on only when the endpoint took it. While the endpoint is down
// or slow, alerts wait on disk and the head is retried with exponential
// backoff and jitter.
import type { Alert } from '../../model/alert.js';
import type { Logger } from '../../log.js';
import { noticeAlert } from '../notice.js';
import type { DurableQueue } from '../queue.js';
import type { Redactor } from '../secrets.js';
import { postJson } from './http.js';
import { emptyStats, type Sink, type SinkStats } from './sink.js';

export interface RetryBounds {
  initialMs: number;
  maxMs: number;
}

export interface RemoteSinkOptions {
  id: string;
  type: 'webhook' | 'slack';
  url: URL;
  timeoutMs: number;
  retry: RetryBounds;
  queue: DurableQueue;
  /** Alert → request body. */
  render: (a: Alert) => string;
  /** Headers for one attempt (signatures carry the attempt's time). */
  headers: (body: string) => Record<string, string>;
  redactor: Redactor;
  node: string;
  log: Logger;
}

const OUTAGE_LOG_EVERY_MS = 60_000;
const DROP_LOG_EVERY_MS = 10_000;

/** Exponential backoff with equal jitter: half the step fixed, half random, capped at max. */
export function backoffMs(attempt: number, retry: RetryBounds, random = Math.random): number {
  const step = Math.min(retry.maxMs, retry.initialMs * 2 ** Math.min(attempt - 1, 52));
  return Math.round(step / 2 + random() * (step / 2));
}

export class RemoteSink implements Sink {
  readonly id: string;
  private readonly s: SinkStats;
  private readonly stopping = new AbortController();
  private readonly loop: Promise<void>;
  private readonly log: Logger;
  /** Drops not yet told to the endpoint (a notice goes out when there is room again). */
  private unreportedDrops = 0;
  private dropsSinceLog = 0;
  private dropLoggedAt = 0;
  private outageSince = 0;
  private outageLoggedAt = 0;
  private outageFailures = 0;

  constructor(private readonly o: RemoteSinkOptions) {
    this.id = o.id;
    this.s = emptyStats(o.id, o.type, o.url.host);
    // Only id, type and host: the URL's path and query carry tokens.
    this.log = o.log.child({ sink: o.id, type: o.type, host: o.url.host });
    this.loop = this.run();
  }

  write(alert: Alert): void {
    if (this.unreportedDrops > 0 && this.enqueue(this.dropNotice())) this.unreportedDrops = 0;
    if (!this.enqueue(this.o.render(alert))) this.dropped(alert);
  }

  stats(): SinkStats {
    return { ...this.s, queuedAlerts: this.o.queue.alerts, queuedBytes: this.o.queue.bytes };
  }

  async close(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    this.logDrops();
    await this.o.queue.close();
    if (this.o.queue.alerts > 0) this.log.info({ queued: this.o.queue.alerts }, 'undelivered alerts stay queued on disk for the next start');
  }

  private enqueue(body: string): boolean {
    return this.o.queue.append(body);
  }

  private dropped(alert: Alert): void {
    this.s.dropped++;
    this.unreportedDrops++;
    this.dropsSinceLog++;
    const now = Date.now();
    if (this.dropLoggedAt === 0 || now - this.dropLoggedAt >= DROP_LOG_EVERY_MS) {
      this.logDrops(alert);
      this.dropLoggedAt = now;
    }
  }

  private logDrops(latest?: Alert): void {
    if (this.dropsSinceLog === 0) return;
    this.log.error(
      { dropped: this.dropsSinceLog, droppedTotal: this.s.dropped, queued: this.o.queue.alerts, maxBytes: this.o.queue.maxBytes, ...(latest ? { rule: latest.rule, alertId: latest.id } : {}) },
      'ALERTS DROPPED: the sink\'s disk queue is full while its endpoint does not take alerts; newest alerts are dropped to keep the oldest',
    );
    this.dropsSinceLog = 0;
  }

  private dropNotice(): string {
    const n = this.unreportedDrops;
    return this.o.render(
      noticeAlert(
        this.o.node,
        'alert-queue-full',
        'error',
        `${n} alert${n === 1 ? ' was' : 's were'} dropped for this sink (${this.o.id}): its disk queue was full while this endpoint did not take alerts. The node's other sinks and logs have them.`,
        { 'vigil.sink': this.o.id, 'vigil.dropped': n },
      ),
    );
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    let failures = 0;
    while (!signal.aborted) {
      let rec;
      try {
        rec = await this.o.queue.head();
      } catch (err) {
        failures++;
        this.log.error({ err: (err as NodeJS.ErrnoException).code ?? (err as Error).message }, 'cannot read the alert queue; retrying');
        await sleep(backoffMs(failures, this.o.retry), signal);
        continue;
      }
      if (!rec) {
        await this.o.queue.waitForRecords(signal);
        continue;
      }
      if (failures > 0) this.s.retried++;
      const out = await postJson(this.o.url, rec.payload, this.o.headers(rec.payload), this.o.timeoutMs, signal);
      if (out.ok) {
        this.o.queue.ack(rec);
        this.s.delivered++;
        if (failures > 0) this.recovered();
        failures = 0;
        continue;
      }
      // Cancelled by close(): the alert stays queued for the next start.
      if (signal.aborted) break;
      const reason = this.o.redactor.scrub(out.reason);
      if (!out.retry) {
        this.o.queue.ack(rec);
        this.s.rejected++;
        this.log.error({ reason, queued: this.o.queue.alerts }, 'endpoint refused an alert as malformed; it is not retried (see the node\'s other sinks)');
        if (failures > 0) this.recovered();
        failures = 0;
        continue;
      }
      this.s.failedAttempts++;
      failures++;
      this.failed(reason);
      await sleep(Math.max(backoffMs(failures, this.o.retry), Math.min(out.retryAfterMs ?? 0, this.o.retry.maxMs)), signal);
    }
  }

  private failed(reason: string): void {
    const now = Date.now();
    this.outageFailures++;
    if (this.outageSince === 0) {
      this.outageSince = now;
      this.outageLoggedAt = now;
      this.log.warn({ reason, queued: this.o.queue.alerts }, 'alert delivery failed; alerts wait in the disk queue and are retried');
    } else if (now - this.outageLoggedAt >= OUTAGE_LOG_EVERY_MS) {
      this.outageLoggedAt = now;
      this.log.warn({ reason, failedAttempts: this.outageFailures, sinceMs: now - this.outageSince, queued: this.o.queue.alerts }, 'alert delivery still failing; alerts wait in the disk queue');
    } else {
      this.log.debug({ reason }, 'alert delivery attempt failed');
    }
  }

  private recovered(): void {
    this.log.info({ failedAttempts: this.outageFailures, outageMs: Date.now() - this.outageSince, queued: this.o.queue.alerts }, 'alert delivery works again');
    this.outageSince = this.outageLoggedAt = this.outageFailures = 0;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

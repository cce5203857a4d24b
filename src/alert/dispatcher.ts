// Alert delivery: takes every alert the engine raises, applies noise
// control, and hands the result to every configured sink. Remote sinks
// queue on disk under <stateDir>/alert-queues/<sink id>/.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PRIORITIES, type Alert, type Priority } from '../model/alert.js';
import { sinkIds, type AlertsConfig, type SinkConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { NoiseControl, type NoiseOptions } from './noise.js';
import { DurableQueue } from './queue.js';
import { falcoJson, vigilJson } from './render.js';
import { parseSecretUrl, readSecretFile, Redactor, SinkConfigError } from './secrets.js';
import { slackMessage } from './slack.js';
import { safeJson } from '../model/text.js';
import { FileSink } from './sinks/file.js';
import { RemoteSink } from './sinks/remote.js';
import type { Sink, SinkStats } from './sinks/sink.js';
import { StreamSink } from './sinks/stream.js';
import { webhookHeaders } from './sinks/webhook.js';

export interface DispatcherOptions {
  sinks: readonly SinkConfig[];
  alerts: AlertsConfig;
  stateDir: string;
  nodeName: string;
  log: Logger;
  /** Where the stdout sink writes (tests); process.stdout by default. */
  stdout?: NodeJS.WritableStream;
  /** Queue segment size (tests); derived from the disk cap by default. */
  segmentBytes?: number;
}

export interface AlertDeliveryStats {
  /** Alerts the engine raised. */
  received: number;
  /** Alerts counted into a later alert by folding. */
  folded: number;
  /** Alerts held back by rate limits (reported in summary alerts). */
  rateLimited: number;
  /** The same, by priority. */
  rateLimitedByPriority: Partial<Record<Priority, number>>;
  /** Alerts handed to the sinks (after noise control; summaries included). */
  emitted: number;
  sinks: SinkStats[];
}

export const QUEUES_DIR = 'alert-queues';
const MIN_TICK_MS = 5;
const MAX_TICK_MS = 1000;

export class AlertDispatcher {
  private readonly noise: NoiseControl;
  /** Runs while noise control has windows, a summary or buckets pending: an idle engine is not woken for it. */
  private timer: NodeJS.Timeout | null = null;
  private readonly tickMs: number;
  private received = 0;
  private emitted = 0;
  private stopped = false;

  private constructor(
    private readonly sinks: Sink[],
    private readonly o: DispatcherOptions,
  ) {
    const a = o.alerts;
    const r = a.rateLimit;
    const priorities = Object.fromEntries(
      PRIORITIES.map((p) => [p, { perWorkload: r.priorities[p]?.perWorkload !== undefined ? r.priorities[p].perWorkload : r.perWorkload, global: r.priorities[p]?.global !== undefined ? r.priorities[p].global : r.global }]),
    ) as NoiseOptions['priorities'];
    this.noise = new NoiseControl(
      { foldWindowMs: a.foldWindowMs, perRule: r.perRule, priorities, summaryDelayMs: r.summaryDelayMs, summaryMs: r.summaryMs, node: o.nodeName },
      (alert) => this.deliver(alert),
    );
    const windows = [r.summaryMs, Math.max(MIN_TICK_MS * 4, r.summaryDelayMs), ...(a.foldWindowMs > 0 ? [a.foldWindowMs] : [])];
    this.tickMs = Math.max(MIN_TICK_MS, Math.min(MAX_TICK_MS, Math.floor(Math.min(...windows) / 4)));
  }

  /**
   * Ticks every tickMs while noise control has anything pending, and not at
   * all otherwise (it woke an idle engine 4 times a second).
   */
  private tickWhilePending(): void {
    if (this.noise.idle) {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
    } else if (!this.timer && !this.stopped) {
      this.timer = setInterval(() => {
        this.noise.tick();
        this.tickWhilePending();
      }, this.tickMs);
      this.timer.unref();
    }
  }

  /** Builds every sink (reading secret files, opening queues); errors name the sink, never its secrets. */
  static async start(o: DispatcherOptions): Promise<AlertDispatcher> {
    const ids = sinkIds(o.sinks);
    const sinks: Sink[] = [];
    const redactor = new Redactor();
    try {
      for (const [i, cfg] of o.sinks.entries()) sinks.push(await buildSink(cfg, ids[i]!, o, redactor));
    } catch (err) {
      await Promise.all(sinks.map((s) => s.close()));
      throw err;
    }
    warnAboutOrphanQueues(o, new Set(o.sinks.flatMap((s, i) => (s.type === 'webhook' || s.type === 'slack' ? [ids[i]!] : []))));
    o.log.info({ sinks: sinks.map((s) => s.stats()).map((s) => `${s.id} (${s.type} → ${s.target})`) }, 'alert delivery started');
    return new AlertDispatcher(sinks, o);
  }

  /** Takes an alert the engine raised; `repeatKey`: the parts it was built from (NoiseControl.repeat). */
  readonly handle = (alert: Alert, repeatKey?: string): void => {
    if (this.stopped) {
      this.o.log.error({ rule: alert.rule, alertId: alert.id }, 'alert raised after alert delivery stopped; it is not delivered');
      return;
    }
    this.received++;
    this.noise.offer(alert, repeatKey);
    if (!this.timer) this.tickWhilePending();
  };

  /** Takes a match that folds without its alert being built (NoiseControl.repeat), counted as received; false: build it and hand it over. */
  repeat(repeatKey: string): boolean {
    if (this.stopped || !this.noise.repeat(repeatKey)) return false;
    this.received++;
    return true;
  }

  stats(): AlertDeliveryStats {
    return {
      received: this.received, folded: this.noise.folded, rateLimited: this.noise.rateLimited, rateLimitedByPriority: Object.fromEntries(this.noise.rateLimitedBy),
      emitted: this.emitted, sinks: this.sinks.map((s) => s.stats()),
    };
  }

  /** Sends open fold counts and summaries, then closes every sink (undelivered alerts stay queued on disk). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.noise.flush();
    this.stopped = true;
    await Promise.all(this.sinks.map((s) => s.close()));
  }

  private deliver(alert: Alert): void {
    this.emitted++;
    for (const s of this.sinks) {
      try {
        s.write(alert);
      } catch (err) {
        this.o.log.error({ sink: s.id, rule: alert.rule, alertId: alert.id, err: (err as Error).message }, 'alert sink failed to take an alert');
      }
    }
  }
}

async function buildSink(cfg: SinkConfig, id: string, o: DispatcherOptions, redactor: Redactor): Promise<Sink> {
  const log = o.log.child({ component: 'alerts' });
  switch (cfg.type) {
    case 'stdout':
      return new StreamSink(id, cfg.format, o.stdout ?? process.stdout, log);
    case 'file':
      return new FileSink(id, { path: cfg.path, format: cfg.format, maxBytes: cfg.maxBytes, keep: cfg.keep }, log);
    case 'webhook':
    case 'slack': {
      const url = parseSecretUrl(cfg.url ?? readSecretFile(cfg.urlFile!, 'urlFile', id), cfg.url ? 'url' : `urlFile ${cfg.urlFile}`, id);
      let secret: string | null = null;
      let extra: Record<string, string> = {};
      if (cfg.type === 'webhook') {
        secret = cfg.secret ?? (cfg.secretFile ? readSecretFile(cfg.secretFile, 'secretFile', id) : null);
        if (secret !== null && secret.length < 16) throw new SinkConfigError(`sink ${id}: the HMAC secret in ${cfg.secretFile} must be at least 16 characters`);
        extra = cfg.headers;
        if (secret === null) log.warn({ sink: id, host: url.host }, 'webhook sink has no secret: its requests are not signed');
      }
      if (url.username || url.password) {
        // fetch refuses credentials in URLs: send them as Basic auth instead.
        const basic = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
        redactor.add([new URL(url.href), basic]);
        extra = { ...extra, authorization: basic };
        url.username = url.password = '';
      }
      redactor.add([url, secret, ...Object.values(extra)]);
      if (url.protocol === 'http:' && !isLoopback(url.hostname)) log.warn({ sink: id, host: url.host }, 'alerts go unencrypted (http://) to a host off this machine');
      const queue = await DurableQueue.open(join(o.stateDir, QUEUES_DIR, id), { maxBytes: o.alerts.queue.maxBytes, segmentBytes: o.segmentBytes, log });
      const render = cfg.type === 'slack' ? (a: Alert) => safeJson(slackMessage(a)) : cfg.format === 'falco' ? falcoJson : vigilJson;
      return new RemoteSink({
        id,
        type: cfg.type,
        url,
        timeoutMs: cfg.timeoutMs,
        retry: o.alerts.retry,
        queue,
        render,
        headers: cfg.type === 'webhook' ? webhookHeaders(secret, extra) : () => ({}),
        redactor,
        node: o.nodeName,
        log,
      });
    }
  }
}

/** Queues of sinks no longer configured still hold alerts: say so rather than forget them. */
function warnAboutOrphanQueues(o: DispatcherOptions, configured: Set<string>): void {
  const dir = join(o.stateDir, QUEUES_DIR);
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    if (configured.has(name)) continue;
    const segments = readdirSync(join(dir, name)).filter((f) => f.endsWith('.seg'));
    if (segments.length > 0) o.log.warn({ queue: join(dir, name), segments: segments.length }, 'alert queue of a sink that is no longer configured may hold undelivered alerts; configure a sink with this id to deliver them');
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

// Prometheus metrics and health endpoints (/metrics, /healthz, /readyz).
// Counters the engine already keeps (events, losses the probe reports,
// alert delivery) are read at scrape time; what happens per alert or per
// enforcement action is counted as it happens. Nothing here carries a
// secret: sinks are named by id and type only.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AlertDeliveryStats } from '../alert/dispatcher.js';
import type { SinkStats } from '../alert/sinks/sink.js';
import type { Logger } from '../log.js';
import type { Alert, AlertAction, AlertSource, Priority } from '../model/alert.js';
import type { Event } from '../model/event.js';
import type { Mode } from '../model/mode.js';
import { parseListen } from '../rpc/listen.js';

/** What the metrics read at scrape time, from the stages the engine wires. */
export interface MetricsSources {
  eventsByType(): Iterable<[string, number]>;
  /** Events the decoder rejected, and those cut to their bounds. */
  malformedEvents(): number;
  oversizedEvents(): number;
  /** Probe sessions, live and gone. */
  probes(): readonly { connected: boolean; batchGaps: number; lastBatchAt: number; connectedAt: number; losses: { fairness?: { budget: number; cuts: number } | null } }[];
  unknownCgroups(): number;
  /** Alert delivery, once started. */
  delivery(): AlertDeliveryStats | null;
  processes(): number;
  workloadModes(): Iterable<Mode>;
  quarantined(): number;
  rulesLoaded(): number;
  /** How the connected probe stops each enforced operation (mechanism '' : not in the kernel). */
  enforcement(): readonly { operation: string; mechanism: string }[];
  /** Gaps in what was observed: probe stalls, restarts, exits; probes stalled now. */
  gaps(): { stalls: number; restarts: number; exits: number; stalledNow: number };
  /** Control actions audited, by action. */
  audited(): Iterable<[string, number]>;
  /** Loss episodes by kind, and losses by workload. */
  losses(): { episodes: Record<string, number>; workloads: readonly { workload: string; ringbufFull: number; inflightFull: number; queueFull: number; shed: number }[] };
  /** Container runtimes asked, whether each answers, and what came of it. */
  runtimes(): readonly { socket: string; runtime: string; up: boolean }[];
  containers(): { lookups: number; failed: number; unnamed: number; held: number; heldTimedOut: number };
  /** The web console's counts, when it is serving. */
  console(): ConsoleCounts | null;
}

/** What the web console has served (src/console/server.ts keeps these). */
export interface ConsoleCounts {
  requests: ReadonlyMap<string, { kind: string; code: string; count: number }>;
  authFailures: number;
  crossSiteRefused: number;
  actions: ReadonlyMap<string, { action: string; outcome: string; count: number }>;
  streams: number;
  streamsDropped: number;
}

export interface HealthSettings {
  /** Not ready (and, past `probeGoneSeconds`, not healthy) while no probe is connected. */
  probeGoneSeconds: number;
  /** Not healthy when no batch has arrived for this long although a probe is connected. */
  maxEventGapSeconds: number;
}

export interface Health {
  ok: boolean;
  reason: string;
}

/**
 * Sampled event latencies held for the histogram. prom-client's observe()
 * (label checks, a closure, a hash per call) ran once per 64 events between
 * batches, cold and in V8's baseline tier during a build: 2.3% of the
 * engine's main thread over three make -j2 builds (perf: 43 of 1,868
 * samples, ~20 µs a call). Held here, they reach it in one loop at scrape
 * time (or when this many wait: 262,144 events between scrapes).
 */
const LATENCIES_PENDING = 4096;

/** Losses a probe reports, by where they happen. */
const LOSS_PLACES = {
  ringbufFull: 'kernel_ring_buffer',
  inflightFull: 'kernel_syscall_entry',
  queueFull: 'probe_queue',
  decodeErrors: 'probe_decode',
  packetsLost: 'packet_capture',
  dnsDropped: 'kernel_dns_answers',
} as const;

export class Metrics {
  readonly registry = new Registry();
  private readonly startedAt = Date.now();
  private lastProbeSeen = 0;
  private readonly eventLatency: Histogram<string>;
  private readonly alertLatency: Histogram<string>;
  private readonly alerts: Counter<string>;
  private readonly ruleHits: Counter<string>;
  private readonly actions: Counter<string>;
  private readonly losses: Counter<string>;
  private sample = 0;
  /** Sampled event latencies (s) not yet in the histogram: added at scrape time, or when this fills. */
  private readonly latencies = new Float64Array(LATENCIES_PENDING);
  private latencyCount = 0;

  constructor(
    private readonly sources: MetricsSources,
    private readonly health: HealthSettings,
  ) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'vigil_engine_', eventLoopMonitoringPrecision: 100 });
    const e = sources;
    // Values the engine keeps, exported as counters at scrape time.
    const mirrored = (name: string, help: string, labelNames: string[], read: () => [Record<string, string>, number][]): void => {
      const last = new Map<string, number>();
      new Counter({
        name, help, labelNames, registers: [r],
        collect() {
          for (const [labels, value] of read()) {
            const key = JSON.stringify(labels);
            const delta = value - (last.get(key) ?? 0);
            if (delta > 0) this.inc(labels, delta);
            last.set(key, value);
          }
        },
      });
    };
    mirrored('vigil_events_total', 'Events received from the probe, by type', ['type'], () => [...e.eventsByType()].map(([type, n]) => [{ type }, n]));
    mirrored('vigil_events_malformed_total', 'Events the engine rejected as malformed', [], () => [[{}, e.malformedEvents()]]);
    mirrored('vigil_events_oversized_total', 'Events whose strings or argv were cut to their bounds', [], () => [[{}, e.oversizedEvents()]]);
    mirrored('vigil_batches_missing_total', 'Probe batches missing by sequence number', [], () => [[{}, e.probes().reduce((n, s) => n + s.batchGaps, 0)]]);
    mirrored('vigil_events_unknown_cgroup_total', 'Events whose cgroup id had no path', [], () => [[{}, e.unknownCgroups()]]);
    mirrored('vigil_probe_stalls_total', 'A connected probe went silent past engine.probeStallSeconds', [], () => [[{}, e.gaps().stalls]]);
    mirrored('vigil_probe_restarts_total', 'A probe came back as a new process: a gap in what was observed', [], () => [[{}, e.gaps().restarts]]);
    mirrored('vigil_probe_exits_total', 'The supervised probe exited (vigil run)', [], () => [[{}, e.gaps().exits]]);
    mirrored('vigil_loss_episodes_total', 'Episodes of lost, shed or packet-capture losses (each alerted), by kind', ['kind'], () => Object.entries(e.losses().episodes).map(([kind, n]) => [{ kind }, n]));
    mirrored('vigil_events_lost_by_workload_total', 'Events lost before the engine saw them, by workload and place (as the probe attributes them)', ['workload', 'place'], () =>
      e.losses().workloads.flatMap((w) => [
        [{ workload: w.workload, place: 'kernel_ring_buffer' }, w.ringbufFull],
        [{ workload: w.workload, place: 'kernel_syscall_entry' }, w.inflightFull],
        [{ workload: w.workload, place: 'probe_queue' }, w.queueFull],
      ] as [Record<string, string>, number][]));
    mirrored('vigil_events_shed_total', 'Events over a workload\'s fair share, counted in place of sent (never security-relevant kinds), by workload', ['workload'], () =>
      e.losses().workloads.map((w) => [{ workload: w.workload }, w.shed]));
    mirrored('vigil_control_actions_total', 'Control actions that change protection, audited with their caller, by action', ['action'], () => [...e.audited()].map(([action, n]) => [{ action }, n]));
    // The connected probe's fairness budget: a cut one means the engine is behind and every workload's share shrank with it.
    const fairness = () => e.probes().find((p) => p.connected)?.losses.fairness;
    new Gauge({ name: 'vigil_probe_fairness_budget_events_per_second', help: 'The probe\'s fairness budget toward the engine now, events/s (0: fairness off); below the configured one when the engine fell behind', registers: [r], collect() { this.set(Number(fairness()?.budget ?? 0)); } });
    mirrored('vigil_probe_fairness_budget_cuts_total', 'Times the probe cut its fairness budget (a backlog ahead of the engine, or the engine slower than a flood)', [], () => [[{}, Number(fairness()?.cuts ?? 0)]]);
    new Gauge({ name: 'vigil_probes_stalled', help: 'Connected probes silent past engine.probeStallSeconds', registers: [r], collect() { this.set(e.gaps().stalledNow); } });
    this.losses = new Counter({ name: 'vigil_events_lost_total', help: 'Events lost before reaching the engine, by place', labelNames: ['place'], registers: [r] });
    for (const place of Object.values(LOSS_PLACES)) this.losses.inc({ place }, 0);
    mirrored('vigil_alert_sink_delivered_total', 'Alerts delivered, by sink', ['sink', 'type'], () => this.sinks((s) => s.delivered));
    mirrored('vigil_alert_sink_retried_total', 'Delivery attempts that were retries, by sink', ['sink', 'type'], () => this.sinks((s) => s.retried));
    mirrored('vigil_alert_sink_failed_attempts_total', 'Delivery attempts that failed, by sink', ['sink', 'type'], () => this.sinks((s) => s.failedAttempts));
    mirrored('vigil_alert_sink_dropped_total', 'Alerts dropped (past the disk cap, or a failed local write), by sink', ['sink', 'type'], () => this.sinks((s) => s.dropped));
    mirrored('vigil_alert_sink_rejected_total', 'Alerts the endpoint refused as malformed, by sink', ['sink', 'type'], () => this.sinks((s) => s.rejected));
    mirrored('vigil_alerts_folded_total', 'Identical alerts folded into a count', [], () => [[{}, e.delivery()?.folded ?? 0]]);
    mirrored('vigil_alerts_rate_limited_total', 'Alerts held back by rate limits (summarised soon after), by priority', ['priority'], () =>
      Object.entries(e.delivery()?.rateLimitedByPriority ?? {}).map(([priority, n]) => [{ priority }, n ?? 0]));
    const c = (): ConsoleCounts | null => e.console();
    mirrored('vigil_console_requests_total', 'Web console requests answered, by kind (page, api, stream) and status code', ['kind', 'code'], () =>
      [...(c()?.requests.values() ?? [])].map((x) => [{ kind: x.kind, code: x.code }, x.count]));
    mirrored('vigil_console_auth_failures_total', 'Web console API requests refused for want of valid credentials (401)', [], () => [[{}, c()?.authFailures ?? 0]]);
    mirrored('vigil_console_cross_site_refused_total', 'Web console actions refused as cross-site (403)', [], () => [[{}, c()?.crossSiteRefused ?? 0]]);
    mirrored('vigil_console_actions_total', 'Actions taken from the web console, by action and outcome', ['action', 'outcome'], () =>
      [...(c()?.actions.values() ?? [])].map((x) => [{ action: x.action, outcome: x.outcome }, x.count]));
    mirrored('vigil_console_streams_dropped_total', 'Web console event streams closed because the client fell behind', [], () => [[{}, c()?.streamsDropped ?? 0]]);
    new Gauge({ name: 'vigil_console_stream_clients', help: 'Web console clients following the live event stream', registers: [r], collect() { this.set(e.console()?.streams ?? 0); } });
    new Gauge({
      name: 'vigil_alert_queue_alerts', help: 'Alerts waiting in a sink\'s durable queue', labelNames: ['sink', 'type'], registers: [r],
      collect() {
        for (const s of e.delivery()?.sinks ?? []) this.set({ sink: s.id, type: s.type }, s.queuedAlerts);
      },
    });
    new Gauge({
      name: 'vigil_alert_queue_bytes', help: 'Bytes waiting in a sink\'s durable queue', labelNames: ['sink', 'type'], registers: [r],
      collect() {
        for (const s of e.delivery()?.sinks ?? []) this.set({ sink: s.id, type: s.type }, s.queuedBytes);
      },
    });
    this.alerts = new Counter({ name: 'vigil_alerts_total', help: 'Alerts raised, by source and priority', labelNames: ['source', 'priority'], registers: [r] });
    this.ruleHits = new Counter({ name: 'vigil_rule_hits_total', help: 'Signature rule alerts, by rule', labelNames: ['rule'], registers: [r] });
    this.actions = new Counter({ name: 'vigil_enforcement_actions_total', help: 'Responses and blocks carried out, by action and outcome', labelNames: ['action', 'ok'], registers: [r] });
    new Gauge({ name: 'vigil_probes_connected', help: 'Probes connected to this engine', registers: [r], collect() { this.set(e.probes().filter((s) => s.connected).length); } });
    new Gauge({ name: 'vigil_process_tree_size', help: 'Processes in the process tree', registers: [r], collect() { this.set(e.processes()); } });
    new Gauge({
      name: 'vigil_workloads', help: 'Workloads seen, by mode', labelNames: ['mode'], registers: [r],
      collect() {
        const by = new Map<string, number>([['learn', 0], ['monitor', 0], ['enforce', 0]]);
        for (const mode of e.workloadModes()) by.set(mode, (by.get(mode) ?? 0) + 1);
        for (const [mode, n] of by) this.set({ mode }, n);
      },
    });
    new Gauge({
      name: 'vigil_enforcement_mechanism',
      help: 'How the connected probe stops each enforced operation: 1 for its mechanism (bpf-lsm, fmod_ret: denied before it happens; cgroup: connect refused; kill-at-entry: the call completes, then the caller dies; none)',
      labelNames: ['operation', 'mechanism'], registers: [r],
      collect() {
        this.reset();
        for (const m of e.enforcement()) this.set({ operation: m.operation, mechanism: m.mechanism || 'none' }, 1);
      },
    });
    mirrored('vigil_container_lookups_total', 'Times a container runtime was asked who a container is', [], () => [[{}, e.containers().lookups]]);
    mirrored('vigil_container_lookups_failed_total', 'Container lookups no runtime could answer (down, slow)', [], () => [[{}, e.containers().failed]]);
    mirrored('vigil_containers_unnamed_total', 'Container cgroups no runtime named in time: named by their cgroup path', [], () => [[{}, e.containers().unnamed]]);
    mirrored('vigil_container_events_held_total', 'Events that waited for their container\'s identity', [], () => [[{}, e.containers().held]]);
    mirrored('vigil_container_holds_timed_out_total', 'New containers whose events went on unnamed after the hold time', [], () => [[{}, e.containers().heldTimedOut]]);
    new Gauge({
      name: 'vigil_container_runtime_up', help: 'Whether a container runtime answers (1) or not (0), by socket', labelNames: ['socket', 'runtime'], registers: [r],
      collect() {
        for (const rt of e.runtimes()) this.set({ socket: rt.socket, runtime: rt.runtime }, rt.up ? 1 : 0);
      },
    });
    new Gauge({ name: 'vigil_workloads_quarantined', help: 'Workloads under network quarantine', registers: [r], collect() { this.set(e.quarantined()); } });
    new Gauge({
      name: 'vigil_rules_loaded', help: 'Signature rules loaded and running', registers: [r],
      collect() { this.set(e.rulesLoaded()); },
    });
    const buckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
    const drain = (): void => this.drainEventLatency();
    this.eventLatency = new Histogram({
      name: 'vigil_event_latency_seconds', help: 'Kernel timestamp → event through enrichment and detection (1 in 64 events)', buckets, registers: [r],
      collect: drain,
    });
    this.alertLatency = new Histogram({ name: 'vigil_alert_latency_seconds', help: 'Event time → alert handed to delivery (millisecond resolution)', buckets, registers: [r] });
  }

  private sinks(pick: (s: SinkStats) => number): [Record<string, string>, number][] {
    return (this.sources.delivery()?.sinks ?? []).map((s) => [{ sink: s.id, type: s.type }, pick(s)]);
  }

  /** After enrichment and detection: a sampled kernel → engine latency. */
  onEvent(e: Event): void {
    if ((++this.sample & 63) !== 0 || !e.ktimeNs) return;
    if (this.latencyCount === LATENCIES_PENDING) this.drainEventLatency();
    this.latencies[this.latencyCount++] = (Number(process.hrtime.bigint()) - e.ktimeNs) / 1e9;
  }

  /** The sampled latencies into the histogram, in one warm loop. */
  private drainEventLatency(): void {
    const n = this.latencyCount;
    this.latencyCount = 0;
    for (let i = 0; i < n; i++) this.eventLatency.observe(this.latencies[i]!);
  }

  onAlert(a: Alert): void {
    // The alert's time is its event's (Unix ms).
    this.onAlertOf(a.source, a.priority, a.rule, a.action, Date.parse(a.time));
  }

  /** An alert by its parts (one folded without being built counts as one raised); `at`: its event's Unix ms time. */
  onAlertOf(source: AlertSource, priority: Priority, rule: string, action: AlertAction, at: number): void {
    this.alerts.inc({ source, priority });
    if (source === 'rule') this.ruleHits.inc({ rule });
    if (action.taken !== 'none') {
      for (const taken of action.taken.split(', ')) this.actions.inc({ action: taken, ok: String(action.ok) });
    }
    // Event → alert handed to delivery.
    if (source !== 'engine' && Number.isFinite(at)) this.alertLatency.observe(Math.max(0, Date.now() - at) / 1000);
  }

  onLoss(delta: Partial<Record<keyof typeof LOSS_PLACES, number>>): void {
    for (const [k, n] of Object.entries(delta)) {
      const place = LOSS_PLACES[k as keyof typeof LOSS_PLACES];
      if (place && n) this.losses.inc({ place }, n);
    }
  }

  /** The probe said something (a batch, a loss report, a heartbeat). */
  probeSeen(): void {
    this.lastProbeSeen = Date.now();
  }

  readiness(now = Date.now()): Health {
    const live = this.sources.probes().filter((s) => s.connected);
    if (live.length === 0) return { ok: false, reason: 'no probe is connected' };
    if (now - this.lastProbeSeen > 5000) return { ok: false, reason: `the probe has said nothing for ${Math.round((now - this.lastProbeSeen) / 1000)} s` };
    return { ok: true, reason: 'probe connected, events arriving' };
  }

  liveness(now = Date.now()): Health {
    const live = this.sources.probes().filter((s) => s.connected);
    const gone = now - Math.max(this.lastProbeSeen, this.startedAt);
    if (live.length === 0 && gone > this.health.probeGoneSeconds * 1000) {
      return { ok: false, reason: `no probe for ${Math.round(gone / 1000)} s` };
    }
    const lastBatch = Math.max(0, ...live.map((s) => s.lastBatchAt || s.connectedAt));
    if (live.length > 0 && now - lastBatch > this.health.maxEventGapSeconds * 1000) {
      return { ok: false, reason: `no events for ${Math.round((now - lastBatch) / 1000)} s although a probe is connected` };
    }
    return { ok: true, reason: 'ok' };
  }
}

/** Serves /metrics, /healthz and /readyz. */
export async function serveMetrics(metrics: Metrics, address: string, log: Logger): Promise<{ server: Server; port: number }> {
  const a = parseListen(address);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const h = path === '/healthz' ? metrics.liveness() : metrics.readiness();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${h.reason}\n`);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (a.kind === 'unix') server.listen(a.path, resolve);
    else server.listen(a.port, a.host, resolve);
  });
  const port = a.kind === 'tcp' ? (server.address() as { port: number }).port : 0;
  log.info({ address, port: port || undefined }, 'metrics and health endpoints ready');
  return { server, port };
}

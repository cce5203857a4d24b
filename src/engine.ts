// The engine: wires the pipeline stages together. An event flows one way:
//   ingest (decode) → enrich (process tree, workload) → detect (rules,
//   profiles) → alerts (delivery, response); subscribers and the event
//   log see every enriched event.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Alert } from './model/alert.js';
import { AlertDispatcher } from './alert/dispatcher.js';
import type { Config } from './config/schema.js';
import { ControlServer } from './control/server.js';
import type { StatusReply } from './control/methods.js';
import { CgroupPaths, findCgroup2Mount } from './enrich/cgroups.js';
import { ProcessTree } from './enrich/process-tree.js';
import { LocalResolver, WorkloadRegistry, type WorkloadResolver } from './enrich/workloads.js';
import { type Workload } from './model/workload.js';
import { EVENT_TYPES, type Event, type EventType } from './model/event.js';
import type { DetectContext, Detector } from './detect/detector.js';
import { RulesDetector } from './detect/rules/detector.js';
import { IngestServer, type IngestHandler } from './ingest/server.js';
import type { ProbeSession } from './probe/session.js';
import type { Logger } from './log.js';
import { EventLog } from './output/event-log.js';
import type { WireLossReport, WireProcessInfo } from './probe/wire.js';
import { Captures } from './respond/capture.js';
import { ProbeLink } from './probe/link.js';
import { Quarantines } from './respond/quarantine.js';
import type { ClusterHooks } from './cluster/kubernetes.js';
import { Responder } from './respond/responder.js';
import { Enforcement } from './respond/enforcement.js';
import { ProfileDetector } from './detect/profile/detector.js';
import { ProfileStore } from './detect/profile/store.js';
import { parsePolicyYaml, PolicyError, toNetworkPolicy, toYaml } from './detect/profile/policy.js';
import { MODES, type Mode } from './model/mode.js';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as yamlStringify } from 'yaml';
import type { ActionReply, CaptureReply } from './control/methods.js';
import type { WirePacket } from './probe/wire.js';
import { VERSION } from './version.js';
import { Metrics, serveMetrics } from './observe/metrics.js';
import { alertAbout, type AlertAction } from './model/alert.js';
import type { Server as HttpServer } from 'node:http';

export type EventSubscriber = (e: Event) => void;
export type AlertSubscriber = (a: Alert) => void;

export interface EngineOptions {
  /** Kubernetes mode: profiles shared through the cluster, pods labelled on quarantine. */
  cluster?: ClusterHooks;
  /** Workload resolvers tried before the local (config) one, e.g. Kubernetes. */
  resolvers?: WorkloadResolver[];
  /** cgroup v2 mount; found from /proc/self/mountinfo by default. */
  cgroupMount?: string | null;
}

const TYPE_INDEX = new Map<EventType, number>(EVENT_TYPES.map((t, i) => [t, i]));

const LOSS_FIELDS: (keyof WireLossReport)[] = ['ringbufFull', 'inflightFull', 'decodeErrors', 'queueFull', 'packetsLost'];

export class Engine implements IngestHandler {
  readonly startedAt = Date.now();
  readonly tree: ProcessTree;
  readonly cgroups: CgroupPaths;
  readonly workloads: WorkloadRegistry;
  readonly ingest: IngestServer;
  /** Events received, by type: counted in an array on the hot path (one lookup per event, not a Map get and set). */
  private readonly typeCounts = new Float64Array(EVENT_TYPES.length);
  get eventsByType(): Map<EventType, number> {
    return new Map(EVENT_TYPES.map((t, i) => [t, this.typeCounts[i]!]));
  }
  private readonly subscribers = new Set<EventSubscriber>();
  private readonly detectors: Detector[] = [];
  private readonly alertSubscribers = new Set<AlertSubscriber>();
  private readonly detectContext: DetectContext;
  /** Signature rules (built-in and Falco-format files): loaded by start(); rules.reload() on SIGHUP or a file change. */
  readonly rules: RulesDetector;
  alertsRaised = 0;
  private readonly control: ControlServer;
  readonly probes: ProbeLink;
  readonly quarantines: Quarantines;
  readonly captures: Captures;
  readonly responder: Responder;
  readonly enforcement: Enforcement;
  readonly profiles: ProfileDetector;
  readonly metrics: Metrics;
  private metricsServer: HttpServer | null = null;
  metricsPort = 0;
  /** The last probe session that went away, to report the gap when one comes back. */
  private lastGone: { sessionId: string; at: number; node: string } | null = null;
  private eventLog: EventLog | null = null;
  /** Alert delivery (sinks, queues, noise control); its stats() feed metrics. */
  alertDelivery: AlertDispatcher | null = null;
  private unsubscribeDelivery: (() => void) | null = null;
  /** Whether this engine sees the probe's pids in its own /proc. */
  private sharedPidNamespace = false;

  constructor(
    readonly config: Config,
    readonly log: Logger,
    opts: EngineOptions = {},
  ) {
    this.tree = new ProcessTree(config.processTree.maxProcesses);
    const mount = opts.cgroupMount === undefined ? findCgroup2Mount() : opts.cgroupMount;
    if (!mount) log.warn('no cgroup v2 mount found in /proc/self/mountinfo: workloads cannot be told apart by cgroup');
    this.cgroups = new CgroupPaths({ mount, sharedPidNamespace: () => this.sharedPidNamespace });
    this.workloads = new WorkloadRegistry(
      this.cgroups,
      [...(opts.resolvers ?? []), new LocalResolver(config.workloads)],
      config.defaultMode,
      new Map(config.namespaces.filter((n) => n.mode).map((n) => [n.name, n.mode!])),
    );
    this.detectContext = { tree: this.tree, raise: (a) => this.raise(a) };
    this.rules = new RulesDetector(config.rules, log.child({ component: 'rules' }));
    this.addDetector(this.rules);
    this.ingest = new IngestServer(this, log.child({ component: 'ingest' }));
    const respondLog = log.child({ component: 'respond' });
    this.probes = new ProbeLink(() => this.ingest.sessions());
    this.quarantines = new Quarantines(config.stateDir, this.workloads, this.probes, respondLog);
    this.captures = new Captures(config.stateDir, config.capture.diskCapBytes, this.workloads, this.probes, respondLog);
    const { diskCapBytes: _cap, ...captureDefaults } = config.capture;
    this.responder = new Responder(config.responses, captureDefaults, this.quarantines, this.captures, this.probes, this.tree, this.workloads, respondLog);
    this.responder.onFailure = (f) =>
      this.raise({
        ...f.alert, id: randomUUID(), source: 'response', rule: 'Response failed', priority: 'error',
        message: `could not ${f.action} in response to "${f.alert.rule}": ${f.error}`,
        output: `could not ${f.action} in response to "${f.alert.rule}": ${f.error}`,
        action: { taken: 'none', ok: false, detail: f.error }, count: 1,
      });
    this.enforcement = new Enforcement(this.probes, this.workloads, config.profiles.protectedPaths, (w) => this.policyRoots(w), respondLog);
    const p = config.profiles;
    this.profiles = new ProfileDetector(
      {
        ignoreHost: p.ignoreHost,
        minLearningSeconds: p.promotion.minLearningSeconds,
        quietSeconds: p.promotion.quietSeconds,
        enforceAfterCleanSeconds: p.promotion.enforceAfterCleanSeconds,
        protectedPaths: p.protectedPaths,
        limits: {
          files: { maxEntries: p.limits.maxFileEntries, collapseAt: p.limits.collapseAt, exactBelow: p.protectedPaths },
          stableArgs: p.limits.stableArgs,
          widenAt: p.limits.widenAt,
          maxEntries: p.limits.maxEntries,
        },
      },
      this.workloads,
      new ProfileStore(config.stateDir, log.child({ component: 'profiles' })),
      this.enforcement,
      (pid) => this.responder.kill(pid),
      (w, reason) => void this.enforcementFailed(w, reason),
      config.nodeName,
      log.child({ component: 'profiles' }),
      opts.cluster ?? null,
    );
    this.quarantines.pods = opts.cluster ?? null;
    this.enforcement.onFailure = (w, error) => void this.enforcementFailed(w, `its kernel policy could not be applied: ${error}`);
    this.profiles.load();
    this.addDetector(this.profiles);
    this.metrics = new Metrics(this, config.metrics);
    this.control = new ControlServer(
      {
        Status: () => this.status(),
        SetMode: async (r) => {
          const w = this.workloads.find(r.workload);
          if (!w) return { ok: false, error: `no workload '${r.workload}' (vigil status lists them)`, from: '', warnings: [] };
          if (!(MODES as readonly string[]).includes(r.mode)) return { ok: false, error: `mode must be one of ${MODES.join(', ')}`, from: w.mode, warnings: [] };
          const from = w.mode;
          return { ...(await this.profiles.changeMode(w, r.mode as Mode)), from };
        },
        ExportPolicy: async (r) => {
          try {
            const docs = this.profiles.export(r.workload || undefined);
            const text = r.format === 'networkpolicy'
              ? docs.map((d) => yamlStringify(toNetworkPolicy(d, this.workloads.find(d.spec.workload.key)?.labels ?? {}), { lineWidth: 0 })).join('---\n')
              : toYaml(docs);
            return { text, source: '', ok: true, error: '' };
          } catch (err) {
            return { text: '', source: '', ok: false, error: (err as Error).message };
          }
        },
        ApplyPolicy: async (r) => {
          try {
            // Every document is validated before anything changes.
            const docs = parsePolicyYaml(r.text, r.source || 'policy');
            return { ok: true, error: '', ...(await this.profiles.apply(docs)) };
          } catch (err) {
            return { ok: false, error: err instanceof PolicyError ? err.problems.join('\n') : (err as Error).message, applied: [], warnings: [] };
          }
        },
        DiffPolicy: async (r) => {
          try {
            const docs = parsePolicyYaml(r.text, r.source || 'policy');
            const lines = docs.flatMap((d) => {
              const diff = this.profiles.diff(d);
              return [`${d.spec.workload.name}: ${diff.length ? `${diff.length} differences` : 'no differences'}`, ...diff.map((l) => `  ${l}`)];
            });
            return { text: `${lines.join('\n')}\n`, source: r.source, ok: true, error: '' };
          } catch (err) {
            return { text: '', source: r.source, ok: false, error: err instanceof PolicyError ? err.problems.join('\n') : (err as Error).message };
          }
        },
        Quarantine: (r) => this.byWorkload(r.workload, (w) => this.quarantines.quarantine(w, r.reason || 'by hand')),
        Release: (r) => this.quarantines.release(r.workload),
        Capture: (r) => this.capture(r.workload, r.seconds, r.maxPackets),
        Kill: async (r) => this.responder.kill(r.pid),
      },
      log.child({ component: 'control' }),
    );
  }

  /**
   * The cgroups whose subtrees a workload's kernel policy covers: a named
   * workload's configured cgroup (so its future children are covered from
   * their first instruction) and every cgroup it has been seen in.
   */
  private policyRoots(w: Workload): { id: number; path: string }[] {
    const roots = new Map(this.workloads.cgroupsOf(w.key).map((c) => [c.id, c]));
    const named = w.kind === 'named' ? this.config.workloads.find((n) => n.name === w.name) : undefined;
    const mount = this.cgroups.mount;
    if (named && mount) {
      try {
        const id = statSync(join(mount, named.cgroup)).ino;
        roots.set(id, { id, path: named.cgroup });
      } catch {
        // not created yet: its cgroups are added as they show up
      }
    }
    return [...roots.values()];
  }

  /**
   * Enforcement could not be kept up for a workload in enforce mode. Fail
   * closed (quarantine) or open (carry on) as configured; either way, say so.
   */
  private async enforcementFailed(w: Workload, reason: string): Promise<void> {
    const closed =
      this.config.workloads.find((n) => n.name === w.name)?.failClosed ??
      this.config.namespaces.find((n) => n.name === w.namespace && w.namespace !== '')?.failClosed ??
      this.config.profiles.failClosed;
    let message = `${w.name}: enforcement failed (${reason}); `;
    let action: AlertAction = { taken: 'none', ok: false, detail: 'failing open' };
    if (closed) {
      const q = await this.quarantines.quarantine(w, `failing closed: ${reason}`);
      message += q.ok ? 'failing closed: network quarantined' : `failing closed, but the quarantine failed too: ${q.error}`;
      action = { taken: q.ok ? 'quarantined' : 'quarantine failed', ok: q.ok, detail: q.ok ? 'failing closed' : q.error };
    } else {
      message += 'failing open: the workload keeps running unenforced (set failClosed to quarantine instead)';
    }
    this.log.error({ workload: w.name, reason, failClosed: closed }, 'enforcement failed');
    this.raise(alertAbout(w, this.config.nodeName, { source: 'engine', rule: 'Enforcement failed', priority: closed ? 'critical' : 'error', message, action }));
  }

  private async byWorkload(name: string, fn: (w: Workload) => Promise<ActionReply>): Promise<ActionReply> {
    const w = this.workloads.find(name);
    if (!w) return { ok: false, error: `no workload '${name}' (vigil status lists them)`, detail: '' };
    return fn(w);
  }

  private async capture(name: string, seconds: number, maxPackets: number): Promise<CaptureReply> {
    const w = this.workloads.find(name);
    const failed = (error: string): CaptureReply => ({ ok: false, error, file: '', packets: 0, bytes: 0, ended: '' });
    if (!w) return failed(`no workload '${name}' (vigil status lists them)`);
    const d = this.config.capture;
    const started = await this.captures.start(w, { ...d, seconds: seconds || d.seconds, maxPackets: maxPackets || d.maxPackets });
    if (!started.ok || !started.finished) return failed(started.error);
    return started.finished;
  }

  async start(): Promise<void> {
    this.cgroups.scan();
    if (this.config.eventLog) this.eventLog = new EventLog(this.config.eventLog, this.log);
    // Before any event arrives, so the first alert already has somewhere to go.
    this.alertDelivery = await AlertDispatcher.start({
      sinks: this.config.sinks,
      alerts: this.config.alerts,
      stateDir: this.config.stateDir,
      nodeName: this.config.nodeName,
      log: this.log,
    });
    this.unsubscribeDelivery = this.onAlert(this.alertDelivery.handle);
    // Throws with every error (file:line:col) when a rule file cannot load.
    this.rules.load();
    this.rules.watch();
    await this.ingest.listen(this.config.engine.listen, { allowNonLoopback: this.config.engine.allowNonLoopback, tls: this.config.engine.tls });
    await this.control.listen(this.config.control.listen, this.config.control.tls);
    if (this.config.metrics.listen) {
      try {
        const m = await serveMetrics(this.metrics, this.config.metrics.listen, this.log.child({ component: 'metrics' }));
        this.metricsServer = m.server;
        this.metricsPort = m.port;
      } catch (err) {
        // Monitoring goes on without its metrics; the failing health checks make it visible.
        this.log.error({ address: this.config.metrics.listen, err: (err as Error).message }, 'cannot serve metrics and health endpoints');
      }
    }
  }

  async stop(): Promise<void> {
    await this.captures.stopAll();
    await Promise.all([this.ingest.stop(), this.control.stop()]);
    for (const d of this.detectors) await d.close?.();
    // After the detectors, which may still raise while closing.
    this.unsubscribeDelivery?.();
    await this.alertDelivery?.stop();
    await this.eventLog?.close();
    await new Promise<void>((r) => (this.metricsServer ? this.metricsServer.close(() => r()) : r()));
  }

  /** Adds a detection stage; detectors see events in the order they were added. */
  addDetector(d: Detector): void {
    this.detectors.push(d);
  }

  /** Calls `fn` for every alert raised; returns the unsubscribe function. */
  onAlert(fn: AlertSubscriber): () => void {
    this.alertSubscribers.add(fn);
    return () => this.alertSubscribers.delete(fn);
  }

  /**
   * Hands an alert to the configured responses and then to everything that
   * delivers alerts, so the alert says what was done about it.
   */
  raise(alert: Alert): void {
    this.alertsRaised++;
    const acting = this.responder.respond(alert);
    if (!acting) return this.emit(alert);
    acting.then(
      () => this.emit(alert),
      (err: Error) => {
        alert.action = { taken: 'response error', ok: false, detail: err.message };
        this.emit(alert);
      },
    );
  }

  private emit(alert: Alert): void {
    this.metrics.onAlert(alert);
    for (const fn of this.alertSubscribers) fn(alert);
  }

  /** Calls `fn` for every enriched event; returns the unsubscribe function. */
  subscribe(fn: EventSubscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  // ---- IngestHandler -------------------------------------------------

  onConnect(session: ProbeSession): void {
    this.sharedPidNamespace = probeVisibleHere(session.hello.probePid);
    this.metrics.probeSeen();
    const gone = this.lastGone;
    if (gone && gone.sessionId !== session.hello.sessionId) {
      // A new probe process: whatever happened between the two was not seen.
      const seconds = Math.round((Date.now() - gone.at) / 1000);
      const message = `probe on ${session.nodeName} restarted: events between ${new Date(gone.at).toISOString()} and now (${seconds} s) were not observed`;
      this.log.warn({ node: session.nodeName, previous: gone.sessionId, session: session.hello.sessionId, gapSeconds: seconds }, 'probe restarted: a gap in what was observed');
      this.raise(alertAbout(nodeWorkload(session.nodeName), session.nodeName, { source: 'engine', rule: 'Probe restarted', priority: 'warning', message, fields: { 'vigil.gap.seconds': seconds } }));
    }
    this.lastGone = null;
    // A probe starts with empty kernel state: put back what the engine holds.
    void this.quarantines.reapply();
    void this.profiles.enforceAll();
  }

  onPackets(session: ProbeSession, packets: WirePacket[]): void {
    this.captures.onPackets(packets, session.hello.bootToUnixNs);
  }

  onDisconnect(session: ProbeSession): void {
    this.lastGone = { sessionId: session.hello.sessionId, at: session.lastBatchAt || Date.now(), node: session.nodeName };
  }

  onSnapshot(_session: ProbeSession, processes: WireProcessInfo[], last: boolean): void {
    this.tree.addSnapshot(processes);
    // Workloads learn their cgroups from running processes too, so responses
    // (quarantine, enforcement) reach a workload that has been quiet since a restart.
    for (const p of processes) if (p.cgroupId) this.workloads.resolveCgroup(p.cgroupId, p.pid);
    if (last) this.log.info({ processes: this.tree.size }, 'process tree seeded from the probe snapshot');
  }

  onLoss(session: ProbeSession, previous: WireLossReport, current: WireLossReport): void {
    const grown: Record<string, number> = {};
    for (const k of LOSS_FIELDS) if (current[k] > previous[k]) grown[k] = current[k] - previous[k];
    this.metrics.probeSeen();
    this.metrics.onLoss(grown);
    if (Object.keys(grown).length > 0) {
      this.log.warn({ node: session.nodeName, lost: grown, totals: pickLosses(current) }, 'events lost before reaching the engine');
    }
  }

  onEvents(_session: ProbeSession, events: Event[]): void {
    const log = this.eventLog;
    const metrics = this.metrics;
    metrics.probeSeen();
    const counts = this.typeCounts;
    const detectors = this.detectors;
    const ctx = this.detectContext;
    const subscribers = this.subscribers.size > 0 ? this.subscribers : null;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      e.process = this.tree.apply(e);
      const w = this.workloads.resolve(e);
      e.workload = w;
      w.events++;
      const t = TYPE_INDEX.get(e.type)!;
      counts[t] = counts[t]! + 1;
      for (let d = 0; d < detectors.length; d++) detectors[d]!.onEvent(e, ctx);
      metrics.onEvent(e);
      if (subscribers) for (const fn of subscribers) fn(e);
      if (log) log.write(e);
    }
  }

  // ---- Control -------------------------------------------------------

  status(): StatusReply {
    return {
      nodeName: this.config.nodeName,
      engineVersion: VERSION,
      startedAtMs: this.startedAt,
      probes: this.ingest.sessions().map((s) => ({
        nodeName: s.nodeName,
        sessionId: s.hello.sessionId,
        probeVersion: s.hello.probeVersion,
        probePid: s.hello.probePid,
        connected: s.connected,
        connectedAtMs: s.connectedAt,
        hooks: s.hello.hooks.length,
        batches: s.batches,
        events: s.events,
        batchGaps: s.batchGaps,
        losses: pickLosses(s.losses),
        lastBatchAtMs: s.lastBatchAt,
      })),
      eventsByType: Object.fromEntries(this.eventsByType),
      workloads: this.workloads
        .all()
        .sort((a, b) => b.events - a.events)
        .map((w) => ({ name: w.name, cgroupPath: w.cgroupPath, mode: w.mode, events: w.events })),
      processes: this.tree.size,
      malformedEvents: this.ingest.malformedEvents,
      unknownCgroups: this.cgroups.unresolved,
      quarantined: this.quarantines.list().map((q) => q.name),
      probeCapabilities: this.probes.current()?.hello.capabilities ?? [],
      rulesLoaded: this.rules.report?.loaded ?? 0,
      rulesSkipped: this.rules.report?.skipped.length ?? 0,
      alertsRaised: this.alertsRaised,
    };
  }
}

function pickLosses(l: WireLossReport): WireLossReport {
  return { ringbufFull: l.ringbufFull, inflightFull: l.inflightFull, decodeErrors: l.decodeErrors, queueFull: l.queueFull, pathTruncated: l.pathTruncated, eventsTotal: l.eventsTotal, packetsLost: l.packetsLost, deduplicated: l.deduplicated };
}

/** The node itself, for alerts about the engine and probe rather than a workload. */
function nodeWorkload(node: string): Workload {
  return { key: `node:${node}`, name: node, kind: 'host', namespace: '', pod: '', container: '', labels: {}, cgroupPath: '/', mode: 'learn', events: 0 };
}

function probeVisibleHere(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'vigil-probe';
  } catch {
    return false;
  }
}

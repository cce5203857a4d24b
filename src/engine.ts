// The engine: wires the pipeline stages together and runs the hot loop. An
// event flows one way:
//   ingest (decode) → enrich (process tree, workload) → detect (rules,
//   profiles) → alerts (delivery, response); subscribers and the event
//   log see every enriched event.
// What each stage does lives in its own module; here they are built,
// handed what they need, started and stopped.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server as HttpServer } from 'node:http';
import { AlertDispatcher } from './alert/dispatcher.js';
import type { ClusterHooks } from './cluster/kubernetes.js';
import type { Config } from './config/schema.js';
import { AUDIT_FILE, AuditLog, type AuditRecord } from './control/audit.js';
import { describeCaller } from './control/peer.js';
import { consoleSource } from './console/engine-source.js';
import type { ConsoleServer } from './console/server.js';
import type { ConsoleAudit } from './console/source.js';
import { startConsole } from './console/start.js';
import { controlHandlers } from './control/handlers.js';
import { ControlConnects } from './control/witness.js';
import type { StatusReply } from './control/methods.js';
import { parseListen } from './rpc/listen.js';
import { ControlServer } from './control/server.js';
import { DNS_HOOK, statusReply, TASK_ITER_HOOK } from './control/status.js';
import type { DetectContext, Detector } from './detect/detector.js';
import { ProfileDetector, type ProfileControl } from './detect/profile/detector.js';
import { ProfileStore } from './detect/profile/store.js';
import { RulesDetector } from './detect/rules/detector.js';
import { MAX_PROBLEMS_SAID, type UserFilesAnswer, type UserFilesRequest } from './detect/rules/users.js';
import type { FileRead } from './detect/rules/container-files.js';
import { CgroupPaths, findCgroup2Mount } from './enrich/cgroups.js';
import { EventHold } from './enrich/hold.js';
import { DnsNames } from './enrich/dns-names.js';
import { KnownTools } from './enrich/known-tools.js';
import { VigilCgroups } from './enrich/vigil-cgroups.js';
import { ProcessTree } from './enrich/process-tree.js';
import { ContainerDirectory } from './enrich/runtime/directory.js';
import { ContainerResolver } from './enrich/runtime/resolver.js';
import { findRuntimes } from './enrich/runtime/sockets.js';
import { CriSource, DockerSource, type RuntimeSource } from './enrich/runtime/sources.js';
import { LocalResolver, WorkloadRegistry, type WorkloadResolver } from './enrich/workloads.js';
import { keepEventBytes } from './ingest/probe-message.js';
import { IngestServer, type EventBytes, type IngestHandler } from './ingest/server.js';
import type { Logger } from './log.js';
import { alertAbout, NO_ACTION, repeatKey, type Alert, type AlertDraft } from './model/alert.js';
import { setArgvPatterns } from './model/argv.js';
import { EVENT_TYPES, execMore, pathIncomplete, type Event, type EventType } from './model/event.js';
import { typeIndex } from './model/type-index.js';
import { nodeWorkload, type Workload, type WorkloadKind } from './model/workload.js';
import { Metrics, serveMetrics } from './observe/metrics.js';
import { EventLog } from './output/event-log.js';
import { ProbeLink } from './probe/link.js';
import { ProbeGaps } from './probe/gaps.js';
import { LossEpisodes } from './probe/losses.js';
import { ProbeSelfChecks } from './probe/selfcheck.js';
import { CgroupMoves } from './detect/cgroup-moves.js';
import { lossCounters, type ProbeSession } from './probe/session.js';
import type { WireLossReport, WirePacket, WireProcessInfo, WireSelfCheck } from './probe/wire.js';
import { Captures } from './respond/capture.js';
import { Enforcement } from './respond/enforcement.js';
import { FailPolicy } from './respond/fail-policy.js';
import { Quarantines } from './respond/quarantine.js';
import { Responder } from './respond/responder.js';
import { DetectionWorkers, profileLimits } from './shard/pool.js';

export type EventSubscriber = (e: Event) => void;
export type AlertSubscriber = (a: Alert) => void;

export interface EngineOptions {
  /** Kubernetes mode: profiles shared through the cluster, pods labelled on quarantine. */
  cluster?: ClusterHooks;
  /** Workload resolvers tried before the local (config) one, e.g. Kubernetes (for containers, after their runtime). */
  resolvers?: WorkloadResolver[];
  /** cgroup v2 mount; found from /proc/self/mountinfo by default. */
  cgroupMount?: string | null;
  /** Loss episodes: over after `quietMs` without growth, re-reported every `updateMs` (tests shorten them). */
  lossEpisodes?: { quietMs: number; updateMs: number };
}

/** How often stalls, gaps, loss episodes and profile promotions are looked at. */
const WATCH_MS = 1000;

const LOSS_FIELDS = ['ringbufFull', 'inflightFull', 'decodeErrors', 'queueFull', 'packetsLost', 'dnsDropped'] as const;

export class Engine implements IngestHandler {
  readonly startedAt = Date.now();
  readonly tree: ProcessTree;
  readonly cgroups: CgroupPaths;
  /** The cgroups of the engine and of each connected probe: never enforced, quarantined or killed. */
  readonly vigil: VigilCgroups;
  /** The names workloads resolved addresses from (DNS answers seen in the kernel). */
  readonly dnsNames = new DnsNames();
  readonly workloads: WorkloadRegistry;
  /** The node's container runtimes, asked who each container is (config containers). */
  readonly containers: ContainerDirectory;
  private readonly containerResolver: ContainerResolver | null;
  /** A new container's first events, waiting for its identity. */
  readonly hold: EventHold;
  readonly ingest: IngestServer;
  /** Events received, by type: counted in an array on the hot path (one lookup per event, not a Map get and set). */
  private readonly typeCounts = new Float64Array(EVENT_TYPES.length);
  get eventsByType(): Map<EventType, number> {
    return new Map(EVENT_TYPES.map((t, i) => [t, this.typeCounts[i]!]));
  }
  private readonly subscribers = new Set<EventSubscriber>();
  private readonly detectors: Detector[] = [];
  /** By type index: the detectors that look at the type (Detector.types), in the order added; no call per event to one that would return at once. */
  private readonly detectorsByType: Detector[][] = EVENT_TYPES.map(() => []);
  private readonly alertSubscribers = new Set<AlertSubscriber>();
  private readonly detectContext: DetectContext;
  /** Signature rules (built-in and Falco-format files): loaded by start(); rules.reload() on SIGHUP or a file change. */
  readonly rules: RulesDetector;
  alertsRaised = 0;
  private readonly control: ControlServer;
  /** Control actions that change protection, with who made them: <stateDir>/audit.jsonl and an alert each. */
  readonly audit: AuditLog;
  readonly probes: ProbeLink;
  /** Stalls, exits, restarts and time without a probe: each an alert. */
  readonly gaps: ProbeGaps;
  /** Losses per workload and node, in episodes: each an alert. */
  readonly losses: LossEpisodes;
  /** The probes' checks of their own kernel state: each change someone else made is an alert. */
  readonly selfChecks: ProbeSelfChecks;
  /** Processes moved out of their workload's cgroups: each an alert. */
  readonly cgroupMoves: CgroupMoves;
  private watchTimer: NodeJS.Timeout | null = null;
  /** The profile detector on this thread, ticked by the watch timer (no timer of its own). */
  private readonly profileTicks: ProfileDetector | null;
  readonly quarantines: Quarantines;
  readonly captures: Captures;
  readonly responder: Responder;
  readonly enforcement: Enforcement;
  /** Profiles: the detector itself, or with engine.workers > 1 the worker threads that own them. */
  readonly profiles: ProfileControl;
  /** Detection worker threads (engine.workers > 1; null: detection on this thread). */
  readonly workers: DetectionWorkers | null;
  readonly metrics: Metrics;
  private metricsServer: HttpServer | null = null;
  metricsPort = 0;
  /** The web console, when enabled and started. */
  console: ConsoleServer | null = null;
  private eventLog: EventLog | null = null;
  /** Alert delivery (sinks, queues, noise control); its stats() feed metrics. */
  alertDelivery: AlertDispatcher | null = null;
  /** Where raised alerts are delivered from start() until stop() (before the onAlert subscribers). */
  private delivering: AlertDispatcher | null = null;
  /** Whether this engine sees the probe's pids in its own /proc. */
  private sharedPidNamespace = false;
  /**
   * The engine's own pid as the probe numbers it, when they share a pid
   * namespace (the DaemonSet's hostPID), else 0: its own events (talking to
   * the runtimes' sockets, writing its state) are not the node's
   * behaviour. `vigil run` has the probe leave them out in the kernel.
   */
  private selfPid = 0;

  constructor(
    readonly config: Config,
    readonly log: Logger,
    opts: EngineOptions = {},
  ) {
    const raise = (a: Alert): void => this.raise(a);
    // Before anything can leave the engine with an argv in it.
    setArgvPatterns(config.redaction.argvPatterns);
    // Known tools are hashed from this node's binaries once, before the first event.
    const tools = KnownTools.scan();
    log.info({ tools: tools.size }, 'known tools hashed from this node\'s binaries');
    this.tree = new ProcessTree(config.processTree.maxProcesses, (e) => tools.identify(e, execMore(e)));
    const mount = opts.cgroupMount === undefined ? findCgroup2Mount() : opts.cgroupMount;
    if (!mount) log.warn('no cgroup v2 mount found in /proc/self/mountinfo: workloads cannot be told apart by cgroup');
    this.cgroups = new CgroupPaths({ mount, sharedPidNamespace: () => this.sharedPidNamespace });
    this.vigil = new VigilCgroups({ mount, pathOf: (id, pid) => this.cgroups.pathOf(id, pid) });
    refuseSelfEnforcement(config, this.vigil);
    const cc = config.containers;
    const runtimeLog = log.child({ component: 'containers' });
    const sources: RuntimeSource[] = (cc.enabled ? findRuntimes(cc.runtimes) : []).map((e) =>
      e.type === 'cri'
        ? new CriSource(e.socket, { timeoutMs: cc.timeoutMs, pollMs: cc.pollMs, log: runtimeLog })
        : new DockerSource(e.socket, { timeoutMs: cc.timeoutMs, pollMs: cc.pollMs, log: runtimeLog }),
    );
    this.containers = new ContainerDirectory({ sources, log: runtimeLog });
    const cluster = opts.resolvers ?? [];
    this.containerResolver = cc.enabled
      ? new ContainerResolver({
        directory: this.containers, cluster, log: runtimeLog,
        identity: { workloadLabel: cc.workloadLabel, nodeName: config.kubernetes.nodeName ?? config.nodeName },
      })
      : null;
    this.workloads = new WorkloadRegistry({
      cgroups: this.cgroups,
      resolvers: [...(this.containerResolver ? [this.containerResolver] : cluster), new LocalResolver(config.workloads)],
      defaultMode: config.defaultMode,
      namespaceModes: new Map(config.namespaces.filter((n) => n.mode).map((n) => [n.name, n.mode!])),
    });
    this.hold = new EventHold({
      holdMs: cc.holdMs,
      maxEvents: cc.holdEvents,
      release: (events) => {
        for (const e of events) {
          const w = this.workloads.resolve(e);
          this.process(e, w);
          this.workers?.route(e, w);
        }
        // The cgroup's first events, held for its container's name: its user names are asked for now.
        if (events[0]) this.usersSeen(events[0]);
        this.workers?.flush();
      },
    });
    this.containers.onChange((change, info) => {
      if (change === 'added') {
        // A container named by its cgroup because its runtime did not answer in time: ask again.
        const path = this.containerResolver?.takeGivenUp(info.id);
        if (path !== undefined) this.workloads.forgetPath(path);
      } else if (change === 'forgotten') {
        this.forgetContainer(info.id);
      }
    });
    this.detectContext = { tree: this.tree, raise, raiseUnlessFolded: (d, build) => this.raiseUnlessFolded(d, build) };
    // With workers, each worker loads the rules itself; this copy answers status and `rules list`.
    this.rules = new RulesDetector(config.rules, log.child({ component: 'rules' }));
    if (config.engine.workers <= 1) this.addDetector(this.rules);
    else if (opts.cluster) throw new Error('engine.workers > 1: profiles shared through Kubernetes (kubernetes.enabled) are not split over workers yet; set engine.workers to 1');
    this.ingest = new IngestServer(this, log.child({ component: 'ingest' }));
    this.probes = new ProbeLink(() => this.ingest.sessions());
    // An engine without CAP_SYS_PTRACE (the DaemonSet's) has the probe read containers' user files.
    this.rules.users.probe = (r) => this.readUserFiles(r);

    const respondLog = log.child({ component: 'respond' });
    const link = this.probes;
    const registry = this.workloads;
    this.quarantines = new Quarantines({ stateDir: config.stateDir, registry, link, vigil: this.vigil, log: respondLog, pods: opts.cluster ?? null });
    this.captures = new Captures({ stateDir: config.stateDir, diskCapBytes: config.capture.diskCapBytes, registry, link, log: respondLog });
    const { diskCapBytes: _cap, ...captureDefaults } = config.capture;
    this.responder = new Responder({
      rules: config.responses, captureDefaults, quarantines: this.quarantines, captures: this.captures, link, processes: this.tree, registry, vigil: this.vigil, log: respondLog, raise,
    });
    const failPolicy = new FailPolicy({
      workloads: config.workloads, namespaces: config.namespaces, failClosed: config.profiles.failClosed,
      quarantines: this.quarantines, nodeName: config.nodeName, log, raise,
    });
    const enforcementFailed = (w: Workload, reason: string): void => void failPolicy.enforcementFailed(w, reason);
    this.enforcement = new Enforcement({
      link, registry, protectedPaths: config.profiles.protectedPaths, named: config.workloads, vigil: this.vigil, log: respondLog,
      onRefused: (w, reason) => this.refusedEnforcement(w, reason),
      onFailure: (w, error) => enforcementFailed(w, `its kernel policy could not be applied: ${error}`),
      onWeaker: (w, message) => raise(alertAbout(w, config.nodeName, { source: 'engine', rule: 'Enforcement weaker on this node', priority: 'warning', message })),
    });

    const p = config.profiles;
    const profilesLog = log.child({ component: 'profiles' });
    const kill = (pid: number) => this.responder.kill(pid);
    if (config.engine.workers > 1) {
      // The workers own the profiles; stored ones are read here once and handed to their owners.
      const docs = new ProfileStore(config.stateDir, profilesLog).loadAll();
      for (const doc of docs) {
        const s = doc.spec.workload;
        registry.declare({ key: s.key, name: s.name, kind: s.kind as WorkloadKind, namespace: s.namespace, mode: doc.spec.mode });
      }
      // Rules and profiles run in the worker that owns the workload, which is sent each event's bytes.
      keepEventBytes(true);
      this.workers = new DetectionWorkers({
        config, count: config.engine.workers, log, registry, docs, enforcement: this.enforcement, kill, enforcementFailed, raise,
        // Workers' user names come through this thread's probe link, as one thread's do.
        readUserFiles: (r) => this.readUserFiles(r),
      });
      this.profiles = this.workers;
      this.profileTicks = null;
    } else {
      this.workers = null;
      const profiles = new ProfileDetector({
        ownTimer: false,
        settings: {
          ignoreHost: p.ignoreHost,
          minLearningSeconds: p.promotion.minLearningSeconds,
          quietSeconds: p.promotion.quietSeconds,
          enforceAfterCleanSeconds: p.promotion.enforceAfterCleanSeconds,
          protectedPaths: p.protectedPaths,
          limits: profileLimits(config),
        },
        registry,
        store: new ProfileStore(config.stateDir, profilesLog),
        enforcement: this.enforcement,
        kill,
        enforcementFailed,
        nodeName: config.nodeName,
        log: profilesLog,
        sync: opts.cluster ?? null,
      });
      profiles.load();
      this.addDetector(profiles);
      this.profiles = profiles;
      this.profileTicks = profiles;
    }

    const enforcing = (): Workload[] => this.workloads.all().filter((w) => w.mode === 'enforce');
    this.gaps = new ProbeGaps({
      node: config.nodeName,
      stallMs: config.engine.probeStallSeconds * 1000,
      protectedNow: () => ({ enforce: enforcing().map((w) => w.name), quarantined: this.quarantines.list().map((q) => q.name) }),
      live: () => this.ingest.sessions(),
      raise,
      log: log.child({ component: 'probe-watch' }),
    });
    this.selfChecks = new ProbeSelfChecks({ raise, log: log.child({ component: 'self-check' }) });
    this.cgroupMoves = new CgroupMoves({ node: config.nodeName, workloadOf: (cgroupId, pid) => this.workloads.resolveCgroup(cgroupId, pid) });
    this.addDetector(this.cgroupMoves);
    this.losses = new LossEpisodes({
      node: config.nodeName,
      workloadOf: (cgroupId) => this.workloads.resolveCgroup(cgroupId, 0),
      enforcing,
      raise,
      log: log.child({ component: 'losses' }),
      ...opts.lossEpisodes,
    });

    this.metrics = new Metrics(
      {
        eventsByType: () => this.eventsByType,
        malformedEvents: () => this.ingest.malformedEvents,
        oversizedEvents: () => this.ingest.oversizedEvents,
        probes: () => this.ingest.sessions(),
        unknownCgroups: () => this.cgroups.unresolved,
        delivery: () => this.alertDelivery?.stats() ?? null,
        processes: () => this.tree.size,
        workloadModes: () => this.workloads.all().map((w) => w.mode),
        quarantined: () => this.quarantines.list().length,
        rulesLoaded: () => this.rules.report?.loaded ?? 0,
        enforcement: () => this.enforcement.mechanisms(),
        gaps: () => ({ stalls: this.gaps.stalls, restarts: this.gaps.restarts, exits: this.gaps.exits, stalledNow: this.ingest.sessions().filter((s) => this.gaps.isStalled(s)).length }),
        losses: () => ({ episodes: this.losses.episodes, workloads: this.losses.workloads() }),
        audited: () => this.audit.counts,
        console: () => this.console?.stats() ?? null,
        runtimes: () => this.containers.stats().runtimes,
        containers: () => this.containerCounts(),
      },
      config.metrics,
    );
    // Who changes protection through the control socket: the probe's record of the connect names them.
    const control = parseListen(config.control.listen);
    const witness = new ControlConnects(control.kind === 'unix' ? control.path : null, () => this.probes.current() !== undefined);
    this.addDetector(witness);
    this.audit = new AuditLog({ file: join(config.stateDir, AUDIT_FILE), node: config.nodeName, raise, log: log.child({ component: 'audit' }) });
    this.control = new ControlServer(
      controlHandlers({
        status: () => this.status(),
        workloads: registry,
        profiles: this.profiles,
        quarantines: this.quarantines,
        captures: this.captures,
        captureDefaults,
        kill: (pid) => this.responder.kill(pid),
        audit: this.audit,
      }),
      log.child({ component: 'control' }),
      witness,
    );
  }

  async start(): Promise<void> {
    this.cgroups.scan();
    // Each runtime answers or fails once within its deadline; one that does not is tried again in the background.
    await this.containers.start();
    if (this.config.eventLog) this.eventLog = new EventLog(this.config.eventLog, this.log);
    // Before any event arrives, so the first alert already has somewhere to go.
    this.alertDelivery = await AlertDispatcher.start({
      sinks: this.config.sinks,
      alerts: this.config.alerts,
      stateDir: this.config.stateDir,
      nodeName: this.config.nodeName,
      log: this.log,
    });
    this.delivering = this.alertDelivery;
    // Throws with every error (file:line:col) when a rule file cannot load.
    this.rules.load();
    this.rules.watch();
    await this.workers?.start();
    await this.ingest.listen(this.config.engine.listen, { allowNonLoopback: this.config.engine.allowNonLoopback, tls: this.config.engine.tls });
    await this.control.listen(this.config.control.listen, this.config.control.tls);
    // Every once-a-second look on one timer: each timer of its own woke an idle engine separately.
    this.watchTimer = setInterval(() => {
      this.gaps.tick();
      this.losses.tick();
      this.profileTicks?.tick();
    }, WATCH_MS);
    this.watchTimer.unref();
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
    const { diskCapBytes: _cap, ...captureDefaults } = this.config.capture;
    this.console = await startConsole(consoleSource({
      nodeName: this.config.nodeName, stateDir: this.config.stateDir, protectedPaths: this.config.profiles.protectedPaths, captureDefaults,
      registry: this.workloads, profiles: this.profiles, quarantines: this.quarantines, captures: this.captures, enforcement: this.enforcement,
      probe: () => this.probes.current(), sessions: () => this.ingest.sessions(), onAlert: (fn) => this.onAlert(fn), onEvent: (fn) => this.subscribe(fn),
      audit: consoleAudit(this.audit, (key) => this.workloads.find(key) ?? null),
    }), this.config, this.log);
  }

  async stop(): Promise<void> {
    if (this.watchTimer) clearInterval(this.watchTimer);
    await this.console?.stop();
    await this.captures.stopAll();
    await Promise.all([this.ingest.stop(), this.control.stop()]);
    this.hold.releaseAll();
    await this.containers.stop();
    for (const d of this.detectors) await d.close?.();
    if (this.workers) {
      await this.workers.stop();
      keepEventBytes(false);
    }
    // After the detectors, which may still raise while closing.
    this.delivering = null;
    await this.alertDelivery?.stop();
    await this.eventLog?.close();
    await new Promise<void>((r) => (this.metricsServer ? this.metricsServer.close(() => r()) : r()));
  }

  /** Adds a detection stage; detectors see events in the order they were added. */
  addDetector(d: Detector): void {
    this.detectors.push(d);
    for (let t = 0; t < EVENT_TYPES.length; t++) if (!d.types || d.types.includes(EVENT_TYPES[t]!)) this.detectorsByType[t]!.push(d);
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
    this.raiseKeyed(alert, undefined);
  }

  /**
   * DetectContext.raiseUnlessFolded: a match whose alert noise control
   * would only count into one already sent is counted as raised (status,
   * metrics, delivery's received and folded) without being built — when no
   * response applies to it and no subscriber but delivery wants each alert.
   */
  raiseUnlessFolded(d: AlertDraft, build: () => Alert): void {
    const delivery = this.delivering;
    if (!delivery || this.alertSubscribers.size > 0 || this.responder.applies(d.source, d.priority, d.event.workload?.mode ?? '', d.rule)) {
      return this.raise(build());
    }
    const key = repeatKey(d);
    if (!delivery.repeat(key)) return this.raiseKeyed(build(), key);
    this.alertsRaised++;
    const action = d.action ?? NO_ACTION;
    this.metrics.onAlertOf(d.source, d.priority, d.rule, action, Math.trunc(d.event.time));
  }

  private raiseKeyed(alert: Alert, repeatKey: string | undefined): void {
    this.alertsRaised++;
    const acting = this.responder.respond(alert);
    if (!acting) return this.emit(alert, repeatKey);
    acting.then(
      () => this.emit(alert, repeatKey),
      (err: Error) => {
        alert.action = { taken: 'response error', ok: false, detail: err.message };
        this.emit(alert, repeatKey);
      },
    );
  }

  private emit(alert: Alert, repeatKey: string | undefined): void {
    this.metrics.onAlert(alert);
    this.delivering?.handle(alert, repeatKey);
    for (const fn of this.alertSubscribers) fn(alert);
  }

  /** Calls `fn` for every enriched event; returns the unsubscribe function. */
  subscribe(fn: EventSubscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** A held cgroup is ready when its container is named and, if the probe reads them, its user files are in. */
  private async namesReady(named: Promise<unknown>, e: Event): Promise<void> {
    await named;
    const w = this.workloads.resolveCgroup(e.cgroupId, e.pid);
    // Its cgroup's path, for the kernel's list of its processes: the held events' are not in the process tree yet.
    e.workload = w;
    if (!w.containerId) return;
    // With detection workers, the worker that owns the workload asks (through this thread's probe link) and holds the names.
    await (this.workers ? this.workers.prefetchUsers(e, w) : this.rules.users.prefetch(e, w.containerId));
  }

  /**
   * A container its runtime removed, `removedGraceMs` after (its last
   * events are in): its cgroups' entries and its user names are dropped,
   * here and in every detection worker, so they do not pile up on a node
   * where containers come and go (both are bounded anyway).
   */
  forgetContainer(id: string): void {
    for (const cg of this.workloads.cgroupsOf(`container:${id}`)) this.workloads.forget(cg.id);
    this.rules.users.forget(id);
    this.workers?.forgetUsers(id);
  }

  /** A cgroup's first event (its workload resolved): its user names are asked for now, here or by its detection worker. */
  private usersSeen(e: Event): void {
    if (this.workers) this.workers.usersSeen(e, e.workload!);
    else this.rules.users.seen(e);
  }

  /** A container's (or the node's) /etc/passwd and /etc/group, read by the probe (ReadUserFiles). */
  private async readUserFiles(r: UserFilesRequest): Promise<UserFilesAnswer> {
    if (this.probes.can('user-files') === false) return { ok: false, error: 'the connected probe cannot read user files (older than the engine)' };
    const a = await this.probes.send({ readUserFiles: r }, 5000);
    if (!a.ok) return { ok: false, error: a.error };
    const read = (name: string): FileRead => {
      const f = (a.files ?? []).find((x) => x.name === name);
      if (!f) return { sig: '', error: `etc/${name}: not in the probe's answer` };
      if (f.error) return { sig: '', error: f.error };
      return { sig: f.signature, text: f.unchanged ? null : Buffer.from(f.content).toString('utf8'), truncated: f.truncated };
    };
    return { ok: true, passwd: read('passwd'), group: read('group'), pid: a.files?.[0]?.pid ?? 0 };
  }

  /** What `vigil status` shows. */
  status(): StatusReply {
    return statusReply({
      nodeName: this.config.nodeName,
      startedAtMs: this.startedAt,
      probes: () => this.ingest.sessions(),
      currentProbe: () => this.probes.current(),
      eventsByType: () => this.eventsByType,
      workloads: () => this.workloads.all(),
      processes: () => this.tree.size,
      malformedEvents: () => this.ingest.malformedEvents,
      unknownCgroups: () => this.cgroups.unresolved,
      quarantined: () => this.quarantines.list(),
      rules: () => ({ loaded: this.rules.report?.loaded ?? 0, skipped: this.rules.report?.skipped.length ?? 0 }),
      alertsRaised: () => this.alertsRaised,
      gaps: () => ({ stalls: this.gaps.stalls, restarts: this.gaps.restarts, exits: this.gaps.exits, stalled: (p) => this.gaps.isStalled(p) }),
      losses: () => ({ episodes: this.losses.episodes.lost + this.losses.episodes.shed + this.losses.episodes.packets + this.losses.episodes.dns, workloads: this.losses.workloads() }),
      runtimes: () => this.containers.stats().runtimes,
      containers: () => this.containerCounts(),
      dnsNames: () => this.dnsNames,
      selfCheck: (p) => this.selfChecks.state(p),
      userNames: () => {
        // With detection workers, as they last said (within a second): each holds its own workloads' names.
        const u = this.workers ? this.workers.userNames() : this.rules.users.state();
        return {
          containers: u.containers,
          node: u.node,
          problems: [
            ...(u.refused ? [`${u.refused} requests to the probe refused over its rate (asked again at the next look)`] : []),
            ...(u.timedOut ? [`${u.timedOut} ${u.timedOut === 1 ? 'read' : 'reads'} by the probe timed out (a filesystem under a container's /etc not answering): those containers are backed off, their ids print as numbers`] : []),
            ...u.problems.slice(0, MAX_PROBLEMS_SAID).map((p) => `container ${p.containerId.slice(0, 12)}: /etc/${p.file} not read (its ids print as numbers): ${p.problem}`),
          ],
        };
      },
      cgroupMoves: () => this.cgroupMoves.counts,
      vigilCgroups: () => this.vigil.describe(),
      notEnforceable: (w) => this.enforcement.refusal(w),
    });
  }

  private containerCounts(): { known: number; lookups: number; failed: number; unnamed: number; held: number; heldTimedOut: number } {
    const d = this.containers.stats();
    const h = this.hold.counts;
    return { known: d.containers, lookups: d.lookups, failed: d.failed, unnamed: this.containerResolver?.unresolved ?? 0, held: h.held, heldTimedOut: h.timedOut };
  }

  // ---- IngestHandler -------------------------------------------------

  onConnect(session: ProbeSession): void {
    this.sharedPidNamespace = probeVisibleHere(session.hello.probePid);
    this.selfPid = this.sharedPidNamespace ? process.pid : 0;
    // Before its policies go back in (enforceAll below): none may cover the probe that takes them.
    this.vigil.forgetProbesExcept(new Set(this.ingest.sessions().filter((s) => s.connected).map((s) => s.hello.sessionId)));
    const probeCgroup = this.vigil.probeConnected(session.hello.sessionId, session.hello.probePid, session.hello.cgroupId, this.sharedPidNamespace);
    this.log.info({ node: session.nodeName, probePid: session.hello.probePid, cgroup: probeCgroup?.path ?? null, cgroupId: probeCgroup?.id ?? null }, 'the probe\'s own cgroup: never enforced, quarantined or killed');
    this.metrics.probeSeen();
    this.gaps.connected(session);
    // Per-cgroup counts of probes gone for good are done with (a reconnecting session keeps its own).
    this.losses.forgetExcept(new Set(this.ingest.sessions().map((s) => s.hello.sessionId)));
    if (!session.hello.hooks.includes(DNS_HOOK)) {
      const message = `the probe on ${session.nodeName} does not see DNS answers (its log says why): connects are judged by address, not by the names workloads resolved, and enforce mode does not follow a learned name's new addresses`;
      this.log.warn({ node: session.nodeName }, message);
      this.raise(alertAbout(nodeWorkload(this.config.nodeName), this.config.nodeName, { source: 'engine', rule: 'DNS names not seen on this node', priority: 'warning', message, tags: ['vigil', 'visibility'] }));
    }
    if (!session.hello.hooks.includes(TASK_ITER_HOOK)) {
      const message = `the probe on ${session.nodeName} reads the cgroups of processes older than it from /proc/PID/cgroup (its log says why), not from the kernel's task iterator: a process whose cgroup its cgroup namespace or mount does not show has no workload until its next event`;
      this.log.warn({ node: session.nodeName }, message);
      this.raise(alertAbout(nodeWorkload(this.config.nodeName), this.config.nodeName, { source: 'engine', rule: 'Snapshot cgroups from /proc', priority: 'notice', message, tags: ['vigil', 'visibility'] }));
    }
    const pin = session.hello.pinning;
    if (pin && !pin.pinned && !pin.why.startsWith('pinning turned off')) {
      const message = `the probe on ${session.nodeName} could not pin its enforcement (${pin.why}): if it dies, enforcement is off until a new probe has the engine's policies`;
      this.log.warn({ node: session.nodeName, why: pin.why }, message);
      this.raise(alertAbout(nodeWorkload(this.config.nodeName), this.config.nodeName, { source: 'engine', rule: 'Enforcement not pinned', priority: 'warning', message, tags: ['vigil', 'tamper'] }));
    }
    // A probe starts with empty kernel state: put back what the engine holds,
    // then let the links an earlier probe left pinned go (bpf/probe/pinning.h).
    void Promise.all([this.quarantines.reapply(), this.profiles.enforceAll()]).then(() => this.takeOver(session));
  }

  /**
   * A workload in enforce mode holds Vigil itself (a probe started in it, a
   * mode from config or the cluster): enforcement was refused; it goes back
   * to monitor so the mode shown is the mode in force, and that is alerted.
   */
  private refusedEnforcement(w: Workload, reason: string): void {
    if (w.mode !== 'enforce') return;
    this.workloads.setMode(w, 'monitor');
    const message = `${w.name} is not enforced and is back in monitor: ${reason}. Enforcing it would stop Vigil itself (a restarted probe there could not load its programs); run Vigil outside the workloads it enforces.`;
    this.log.error({ workload: w.name, reason }, 'enforcement refused: the workload holds Vigil itself');
    this.raise(alertAbout(w, this.config.nodeName, { source: 'engine', rule: 'Enforcement refused for Vigil\'s own workload', priority: 'error', message, tags: ['vigil', 'tamper'] }));
  }

  /** Every policy is back in the new probe: the earlier probe's pinned enforcement is released. */
  private async takeOver(session: ProbeSession): Promise<void> {
    if (!session.hello.pinning?.previousLinks || !session.connected) return;
    const r = await session.command({ enforcementApplied: {} });
    session.previousPinsReleased = r.ok;
    if (r.ok) this.log.info({ node: session.nodeName, detail: r.detail }, 'the probe took over enforcement');
    else this.log.error({ node: session.nodeName, error: r.error }, 'the probe could not release the earlier probe\'s enforcement');
  }

  onPackets(session: ProbeSession, packets: WirePacket[]): void {
    this.captures.onPackets(packets, session.hello.bootToUnixNs);
  }

  onSelfCheck(session: ProbeSession, report: WireSelfCheck): void {
    this.selfChecks.report(session, report);
  }

  onDisconnect(session: ProbeSession): void {
    this.gaps.disconnected(session);
  }

  onBatchGap(_session: ProbeSession, missing: number): void {
    this.losses.batchesMissing(missing);
  }

  /** `vigil run`: the probe it supervises exited (`restartInMs`: when it starts again; null: it does not). */
  probeExited(pid: number, how: string, restartInMs: number | null): void {
    this.gaps.exited(pid, how, restartInMs);
  }

  onSnapshot(_session: ProbeSession, processes: WireProcessInfo[], last: boolean): void {
    this.tree.addSnapshot(processes);
    this.workers?.snapshot(processes);
    // Workloads learn their cgroups from running processes too, so responses
    // (quarantine, enforcement) reach a workload that has been quiet since a
    // restart. A container its runtime is still being asked about (at start,
    // likely) is learnt once it has answered: resolved now, it would be
    // named by its cgroup path, and never again without an event of its own.
    for (const p of processes) {
      if (!p.cgroupId) continue;
      const r = this.workloads.resolveCgroupOrWait(p.cgroupId, p.pid);
      if (r instanceof Promise) void r.catch(() => undefined).then(() => this.workloads.resolveCgroup(p.cgroupId, p.pid));
    }
    if (last) this.log.info({ processes: this.tree.size }, 'process tree seeded from the probe snapshot');
  }

  onLoss(session: ProbeSession, previous: WireLossReport, current: WireLossReport): void {
    const grown: Record<string, number> = {};
    for (const k of LOSS_FIELDS) if (current[k] > previous[k]) grown[k] = current[k] - previous[k];
    this.metrics.probeSeen();
    this.metrics.onLoss(grown);
    if (Object.keys(grown).length > 0) {
      this.log.warn({ node: session.nodeName, lost: grown, totals: lossCounters(current) }, 'events lost before reaching the engine');
    }
    this.losses.report(session.hello.sessionId, previous, current);
  }

  onEvents(_session: ProbeSession, events: Event[], wire?: EventBytes): void {
    this.metrics.probeSeen();
    const hold = this.hold;
    const workloads = this.workloads;
    const self = this.selfPid;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.pid === self) continue;
      // Behind its cgroup's held events, so a process's events stay in order.
      if (hold.size > 0 && hold.has(e.cgroupId) && hold.add(e)) continue;
      let w = workloads.cached(e.cgroupId);
      if (w === undefined) {
        const r = workloads.resolveOrWait(e);
        if (r instanceof Promise) {
          if (this.config.containers.holdMs > 0 && hold.hold(e, this.namesReady(r, e))) continue;
          w = workloads.resolve(e);
        } else {
          w = r;
        }
        this.process(e, w);
        // A cgroup's first event: its user names are asked for now (through the probe), not when an alert prints them.
        this.usersSeen(e);
        if (this.workers) this.workers.route(e, w, wire, i);
        continue;
      }
      this.process(e, w);
      if (this.workers) this.workers.route(e, w, wire, i);
    }
    this.workers?.flush();
  }

  /** Reloads the rules (SIGHUP): here, and in every detection worker. */
  reloadRules(): boolean {
    this.workers?.reloadRules();
    return this.rules.reload();
  }

  /** One event through the pipeline: process tree, workload, detection, subscribers, the event log. */
  private process(e: Event, w: Workload): void {
    // A DNS answer has no process (seen in the network stack); its names
    // are known before the connect that follows it (same cgroup, same order).
    if (e.type === 'dns') this.dnsNames.observe(e);
    else {
      e.process = this.tree.apply(e);
      if (e.addr) {
        if (e.type === 'connect' || e.type === 'send') e.sipName = this.dnsNames.nameOf(e.cgroupId, e.addr, e.time);
        else if (e.type === 'accept') e.cipName = this.dnsNames.nameOf(e.cgroupId, e.addr, e.time);
      }
    }
    e.workload = w;
    w.events++;
    if (e.pathFlags !== 0 && pathIncomplete(e)) w.pathsIncomplete++;
    if (e.type === 'exec') {
      if (e.blocked) this.enforcement.recheck(w, e.path);
      // A container's first exec (its cgroup may be known before its first event, from its runtime): its user names are asked for now.
      if (!this.workers) this.rules.users.seen(e);
    }
    const t = typeIndex(e.type);
    this.typeCounts[t] = this.typeCounts[t]! + 1;
    const detectors = this.detectorsByType[t]!;
    const n = detectors.length;
    const ctx = this.detectContext;
    // The first two from call sites of their own: each then sees one or two
    // detectors (the rules, then the profiles, for most types), which V8
    // calls directly; one site for all went through the generic call.
    if (n > 0) detectors[0]!.onEvent(e, ctx);
    if (n > 1) detectors[1]!.onEvent(e, ctx);
    for (let d = 2; d < n; d++) detectors[d]!.onEvent(e, ctx);
    this.metrics.onEvent(e);
    if (this.subscribers.size > 0) for (const fn of this.subscribers) fn(e);
    this.eventLog?.write(e);
  }
}

/**
 * A workload the configuration puts in enforce mode by name (workloads[] with
 * mode enforce) must not hold the engine itself: refused at load, naming both.
 * Modes by default or by namespace are refused when the workload shows up.
 */
function refuseSelfEnforcement(config: Config, vigil: VigilCgroups): void {
  for (const [i, n] of config.workloads.entries()) {
    if (n.mode !== 'enforce') continue;
    const own = vigil.covering([{ id: 0, path: n.cgroup }]);
    if (own) throw new Error(`config workloads[${i}] (${n.name}): mode enforce over cgroup ${n.cgroup} would enforce Vigil itself, ${own}; run Vigil outside it or give it another mode`);
  }
}

/** Whether this engine's /proc shows the probe (the same pid namespace): cgroup paths can then be read from /proc/PID/cgroup. */
function probeVisibleHere(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'vigil-probe';
  } catch {
    return false;
  }
}

/**
 * The console's actions into the engine's one audit log: written and alerted
 * as the CLI's are, the caller named by the console's token or certificate.
 */
function consoleAudit(log: AuditLog, find: (key: string) => Workload | null): ConsoleAudit {
  const entry = (r: AuditRecord) => ({
    time: r.time, actor: describeCaller(r.caller), remote: r.caller.address, via: r.via ?? ('control' as const),
    action: r.action, workload: r.target, params: r.request, ok: r.ok, result: r.outcome,
  });
  return {
    record(a) {
      log.record({
        action: a.action, target: a.target, request: a.request, ok: a.ok, outcome: a.outcome, lowersProtection: a.lowersProtection, via: 'console',
        caller: { verifiedBy: a.caller.by, uid: null, pid: null, exe: '', loginUid: null, certificate: a.caller.certificate, address: a.caller.address, note: '' },
      }, find(a.workloadKey));
    },
    latest: (n) => log.latest(n).map(entry),
  };
}


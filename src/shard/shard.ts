// One detection worker's part of the engine (engine.workers > 1): the
// node's process tree, the rules and the profiles of the workloads it owns.
// The main thread decodes, resolves workloads and routes; here events are
// detected on exactly as Engine.process does in one thread. What needs the
// probe or the responder (enforcement, kill) is asked of the main thread,
// in order; alerts, modes and changed profiles are sent to it.
import type { WorkloadProfileDocument } from '../detect/profile/document.js';
import { ProfileDetector, type KernelEnforcer, type ModeChange, type ProfileStoreLike, type ProfileWorkloads } from '../detect/profile/detector.js';
import type { EnforceResult, KernelPolicy } from '../detect/profile/policy.js';
import { ProfileStore } from '../detect/profile/store.js';
import { RulesDetector } from '../detect/rules/detector.js';
import type { NamesEvent, UserFilesAnswer } from '../detect/rules/users.js';
import type { DetectContext, Detector } from '../detect/detector.js';
import { KnownTools } from '../enrich/known-tools.js';
import { ProcessTree } from '../enrich/process-tree.js';
import { DnsNames } from '../enrich/dns-names.js';
import { decodeProbeMessage } from '../ingest/probe-message.js';
import type { ModeListener } from '../enrich/workloads.js';
import type { Logger } from '../log.js';
import type { Alert } from '../model/alert.js';
import { execMore, type Event } from '../model/event.js';
import type { Mode } from '../model/mode.js';
import type { CommandResult } from '../model/result.js';
import type { Workload, WorkloadIdentity } from '../model/workload.js';
import { setArgvPatterns } from '../model/argv.js';
import { NOT_OWNED, profileLimits, type FromShard, type MainCall, type ShardCall, type ShardInit, type ToShard } from './protocol.js';

/** How often profiles changed by learning are sent to the main thread (it answers export and the console from them). */
const DOCS_EVERY_MS = 1000;

/**
 * This worker's copy of the workloads it has seen: modes set here are sent
 * to the main thread (whose registry is the one the CLI and status read);
 * modes set there arrive as messages and are followed like any change.
 */
class WorkloadCopies implements ProfileWorkloads {
  private readonly byKey = new Map<string, Workload>();
  private readonly listeners: ModeListener[] = [];

  constructor(private readonly send: (m: FromShard) => void) {}

  /** A workload as the main thread sent it: the same object stays, so maps keyed by it hold. */
  put(w: Workload): Workload {
    const have = this.byKey.get(w.key);
    if (!have) {
      this.byKey.set(w.key, w);
      return w;
    }
    // Its identity may have changed (a runtime answered); its mode here changes only by 'mode' messages and this worker's profiles.
    Object.assign(have, w, { mode: have.mode });
    return have;
  }

  /** A mode set on the main thread. */
  follow(key: string, mode: Mode): void {
    const w = this.byKey.get(key);
    if (!w || w.mode === mode) return;
    const from = w.mode;
    w.mode = mode;
    for (const fn of this.listeners) fn(w, from, mode);
  }

  find(nameOrKey: string): Workload | undefined {
    const w = this.byKey.get(nameOrKey);
    if (w) return w;
    for (const x of this.byKey.values()) if (x.name === nameOrKey) return x;
    return undefined;
  }

  declare(id: WorkloadIdentity): Workload {
    let w = this.byKey.get(id.key);
    if (!w) {
      w = {
        key: id.key, name: id.name, kind: id.kind, namespace: id.namespace ?? '', pod: id.pod ?? '', container: id.container ?? '',
        labels: id.labels ?? {}, cgroupPath: '', mode: id.mode ?? 'learn', events: 0, containerId: id.containerId ?? '', containerInfo: id.containerInfo ?? null,
        pathsIncomplete: 0,
      };
      this.byKey.set(id.key, w);
      this.send({ t: 'declare', identity: { key: w.key, name: w.name, kind: w.kind, namespace: w.namespace, mode: w.mode } });
    }
    return w;
  }

  setMode(w: Workload, mode: Mode): void {
    const from = w.mode;
    if (from === mode) return;
    w.mode = mode;
    for (const fn of this.listeners) fn(w, from, mode);
    this.send({ t: 'mode', key: w.key, mode });
  }

  onModeChange(fn: ModeListener): void {
    this.listeners.push(fn);
  }
}

export class DetectionShard {
  readonly tree: ProcessTree;
  /** Names the workloads here resolved addresses from (DNS answers), as the engine's. */
  private readonly dnsNames = new DnsNames();
  readonly rules: RulesDetector;
  readonly profiles: ProfileDetector;
  private readonly workloads: WorkloadCopies;
  private readonly byId: (Workload | undefined)[] = [];
  private readonly detectors: Detector[];
  private readonly ctx: DetectContext;
  private readonly store: ProfileStore;
  /** Profiles changed since they were last sent to the main thread. */
  private readonly changed = new Map<string, () => WorkloadProfileDocument>();
  private readonly docsTimer: NodeJS.Timeout;
  private readonly pending = new Map<number, (r: { value?: unknown; error?: string }) => void>();
  private nextReq = 1;

  constructor(
    private readonly init: ShardInit,
    private readonly send: (m: FromShard) => void,
    log: Logger,
  ) {
    const config = init.config;
    // Alerts are built here too: argv redacted with the configuration's patterns as on the main thread.
    setArgvPatterns(config.redaction.argvPatterns);
    // proc.tool as on the main thread: the node's known tools, hashed here too (tens of ms).
    const tools = KnownTools.scan();
    this.tree = new ProcessTree(config.processTree.maxProcesses, (e) => tools.identify(e, execMore(e)));
    this.workloads = new WorkloadCopies(send);
    const raise = (alert: Alert): void => send({ t: 'alert', alert });
    this.ctx = { tree: this.tree, raise };
    this.rules = new RulesDetector(config.rules, log.child({ component: 'rules' }));
    this.rules.load();
    this.rules.watch();
    // Containers' user files through the main thread's probe link, as one thread asks it (an engine without CAP_SYS_PTRACE).
    this.rules.users.probe = (r) => (this.ask('readUserFiles', [r]) as Promise<UserFilesAnswer>).catch((err: Error) => ({ ok: false, error: err.message }));
    const p = config.profiles;
    const profilesLog = log.child({ component: 'profiles' });
    this.store = new ProfileStore(config.stateDir, profilesLog);
    const store = this.store;
    const changed = this.changed;
    // The real store writes this worker's profiles; every write is also news for the main thread.
    const storeShim: ProfileStoreLike = {
      loadAll: () => [],
      markDirty: (key, doc) => {
        store.markDirty(key, doc);
        changed.set(key, doc);
      },
      flush: () => store.flush(),
      close: () => store.close(),
    };
    const enforcement: KernelEnforcer = {
      enforce: (w: Workload, policy: KernelPolicy) => this.ask('enforce', [w.key, policy]) as Promise<EnforceResult>,
      relax: async (w: Workload) => void (await this.ask('relax', [w.key])),
      // The main thread reapplies once, after every worker has enforced its workloads again.
      reapply: async () => {},
    };
    this.profiles = new ProfileDetector({
      settings: {
        ignoreHost: p.ignoreHost,
        minLearningSeconds: p.promotion.minLearningSeconds,
        quietSeconds: p.promotion.quietSeconds,
        enforceAfterCleanSeconds: p.promotion.enforceAfterCleanSeconds,
        protectedPaths: p.protectedPaths,
        limits: profileLimits(config),
      },
      registry: this.workloads,
      store: storeShim,
      enforcement,
      kill: (pid) => this.ask('kill', [pid]) as Promise<CommandResult>,
      enforcementFailed: (w, reason) => send({ t: 'failed', key: w.key, reason }),
      nodeName: config.nodeName,
      log: profilesLog,
      sync: null,
    });
    this.profiles.load(init.docs);
    // Loading wrote nothing new: what the main thread read is what it has.
    this.changed.clear();
    this.detectors = [this.rules, this.profiles];
    this.docsTimer = setInterval(() => this.sendDocs(), DOCS_EVERY_MS);
    this.docsTimer.unref();
  }

  private ask(method: MainCall, args: unknown[]): Promise<unknown> {
    const id = this.nextReq++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (r) => (r.error !== undefined ? reject(new Error(r.error)) : resolve(r.value)));
      this.send({ t: 'req', id, method, args });
    });
  }

  private sendDocs(): void {
    this.sendUsers();
    if (this.changed.size === 0) return;
    const docs = [...this.changed.values()].map((doc) => doc());
    this.changed.clear();
    this.send({ t: 'docs', docs });
  }

  private usersSaid = '';

  /** Where this worker's user names come from and what could not be read, when that changed (vigil status). */
  private sendUsers(): void {
    const state = this.rules.users.state();
    const said = JSON.stringify(state);
    if (said === this.usersSaid) return;
    this.usersSaid = said;
    this.send({ t: 'users', state });
  }

  /** One message from the main thread; a call's answer is sent when it settles. */
  handle(m: ToShard | { t: 'res'; id: number; value?: unknown; error?: string }): void | Promise<void> {
    switch (m.t) {
      case 'events':
        return this.onEvents(m);
      case 'workload':
        this.byId[m.id] = this.workloads.put(m.w);
        return;
      case 'mode':
        return this.workloads.follow(m.key, m.mode);
      case 'snapshot':
        return this.tree.addSnapshot(m.processes);
      case 'reload-rules':
        this.rules.reload();
        return;
      case 'users-seen':
        return this.rules.users.seen(m.e);
      case 'users-forget':
        return this.rules.users.forget(m.containerId);
      case 'res': {
        const settle = this.pending.get(m.id);
        this.pending.delete(m.id);
        return settle?.(m);
      }
      case 'call':
        return this.call(m.method, m.args).then(
          (value) => {
            // Profiles the call changed reach the main thread before its answer does.
            this.sendDocs();
            this.send({ t: 'res', id: m.id, value });
          },
          (err: Error) => {
            this.sendDocs();
            this.send({ t: 'res', id: m.id, error: err.message });
          },
        );
      case 'stop':
        return this.stop();
    }
  }

  private async call(method: ShardCall, args: unknown[]): Promise<unknown> {
    switch (method) {
      case 'changeMode': {
        const [w, mode] = args as [Workload, Mode];
        return this.profiles.changeMode(this.workloads.put(w), mode) satisfies Promise<ModeChange>;
      }
      case 'apply':
        return this.profiles.apply(args[0] as WorkloadProfileDocument[]);
      case 'enforceAll':
        return this.profiles.enforceAll();
      case 'flushDocs':
        return undefined;
      case 'prefetchUsers': {
        // A held container's files are in (or could not be) before its held events reach this worker.
        const [e, containerId] = args as [NamesEvent, string];
        await this.rules.users.prefetch(e, containerId);
        return undefined;
      }
    }
  }

  /** A batch: the process tree for every event, detection for this worker's own. */
  onEvents(m: Extract<ToShard, { t: 'events' }>): void {
    const decoded = m.bytes ? decodeProbeMessage(m.bytes).batch!.events : [];
    const { kinds, objects, times, wids, nodeName } = m;
    const tree = this.tree;
    const dns = this.dnsNames;
    const detectors = this.detectors;
    const ctx = this.ctx;
    let d = 0;
    let o = 0;
    for (let i = 0; i < kinds.length; i++) {
      let e: Event;
      const wid = wids[i]!;
      if (kinds[i]) {
        e = decoded[d++]!;
        e.time = times[i]!;
        e.nodeName = nodeName;
        // As Engine.process: a DNS answer's names are known before the connect that follows it (same cgroup, same worker).
        if (e.type === 'dns') {
          dns.observe(e);
          if (wid === NOT_OWNED) continue;
        } else if (e.addr && wid !== NOT_OWNED) {
          if (e.type === 'connect' || e.type === 'send') e.sipName = dns.nameOf(e.cgroupId, e.addr, e.time);
          else if (e.type === 'accept') e.cipName = dns.nameOf(e.cgroupId, e.addr, e.time);
        }
      } else {
        // Sent whole (held for its container's identity): enriched on the main thread already.
        e = objects[o++]!;
        if (e.type === 'dns') dns.observe(e);
      }
      if (e.type !== 'dns') e.process = tree.apply(e);
      if (wid === NOT_OWNED) continue;
      e.workload = this.byId[wid]!;
      // As Engine.process: a container's exec asks for its user names while none came (its first may have been at the node's root).
      if (e.type === 'exec') this.rules.users.seen(e);
      for (let k = 0; k < detectors.length; k++) detectors[k]!.onEvent(e, ctx);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.docsTimer);
    for (const d of this.detectors) await d.close?.();
    this.sendDocs();
    this.send({ t: 'stopped' });
  }
}

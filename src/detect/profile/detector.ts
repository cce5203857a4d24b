// Behavioural baselines per workload, by mode:
//   learn    record what the workload does; only signature rules alert
//   monitor  anything outside the profile raises an anomaly alert saying
//            what is new and how it differs
//   enforce  outside the profile is stopped: in the kernel where this node
//            can (exec killed, connect refused, protected write killed),
//            otherwise by killing the process right after; every block is
//            an alert
// A workload is promoted learn → monitor after a quiet period (and a
// minimum learning time), and optionally monitor → enforce after a clean
// period. A promotion that fails (enforce refused: the workload holds Vigil
// itself, the probe refused the policy) leaves the mode as it was, raises
// its own alert, and is tried again after another full period.
// Profiles persist and export as WorkloadProfile YAML.
import { alertAbout, alertFor, type AlertAction, type Priority } from '../../model/alert.js';
import type { Mode } from '../../model/mode.js';
import type { WorkloadRegistry } from '../../enrich/workloads.js';
import type { Workload, WorkloadKind } from '../../model/workload.js';
import { deniesBefore, mechanismDid, type Event, type Mechanism } from '../../model/event.js';
import type { CommandResult } from '../../model/result.js';
import type { Logger } from '../../log.js';
import type { DetectContext, Detector } from '../detector.js';
import type { WorkloadProfileDocument } from './document.js';
import { diffDocuments, fromDocument, kernelPolicy, toDocument, type EnforceResult, type KernelPolicy } from './policy.js';
import { Profile, type AnomalyKind, type Deviation, type ProfileLimits } from './profile.js';
import type { ProfileStore } from './store.js';
import { FileVerdicts } from './verdicts.js';
import { shown } from '../../model/text.js';

export interface ProfileSettings {
  /** Host workloads (the root cgroup, systemd slices) are not containers: not profiled. */
  ignoreHost: boolean;
  minLearningSeconds: number;
  quietSeconds: number;
  /** Promote monitor → enforce after this long without an anomaly; null: never on its own. */
  enforceAfterCleanSeconds: number | null;
  protectedPaths: string[];
  limits: ProfileLimits;
}

/** Slots of the workload → profile front cache (a power of two). */
const FRONT = 1024;

/** The event types profiles look at: the engine calls the detector for these alone (Detector.types). */
const PROFILED: readonly Event['type'][] = ['open', 'connect', 'accept', 'exec', 'unlink', 'rename', 'chmod', 'fileop', 'mkdir', 'link', 'bind', 'listen', 'dns'];

/** The same, for callers that hand it every event (a detection worker): a switch, no Set lookup per event. */
function profiled(type: Event['type']): boolean {
  switch (type) {
    case 'open': case 'connect': case 'accept': case 'exec': case 'unlink': case 'rename': case 'chmod': case 'fileop': case 'mkdir': case 'link': case 'bind': case 'listen': case 'dns':
      return true;
    default:
      return false;
  }
}

const PRIORITY: Record<AnomalyKind, Priority> = {
  'new-executable': 'warning',
  'new-user': 'warning',
  'new-parent': 'notice',
  'new-arguments': 'notice',
  'new-file-read': 'notice',
  'new-file-write': 'warning',
  'new-egress': 'warning',
  'new-listen': 'warning',
  'new-ingress': 'notice',
};

/** MITRE ATT&CK techniques an anomaly of each kind most often is. */
const TAGS: Record<AnomalyKind, string[]> = {
  'new-executable': ['T1059', 'T1204', 'mitre_execution'],
  'new-user': ['T1078', 'mitre_privilege_escalation'],
  'new-parent': ['T1059', 'mitre_execution'],
  'new-arguments': ['T1059', 'mitre_execution'],
  'new-file-read': ['T1005', 'mitre_collection'],
  'new-file-write': ['T1565.001', 'mitre_impact'],
  'new-egress': ['T1071', 'mitre_command_and_control'],
  'new-listen': ['T1571', 'mitre_command_and_control'],
  'new-ingress': ['T1133', 'mitre_initial_access'],
};

/**
 * Profiles shared across nodes (Kubernetes: WorkloadProfile custom
 * resources). Replicas on many nodes each learn a part; each node merges
 * what it learned into the shared profile, starts a workload it sees for
 * the first time from it, and follows mode changes made anywhere.
 */
export interface ProfileSync {
  /** Whether this workload's profile is shared (a Kubernetes workload). */
  shares(key: string): boolean;
  /** The shared profile, as last seen. */
  stored(key: string): WorkloadProfileDocument | undefined;
  /** Merges this node's profile into the shared one. */
  publish(doc: WorkloadProfileDocument): Promise<void>;
  /** Sets the mode everywhere. */
  setMode(key: string, mode: Mode): Promise<void>;
}

/** Least time between two merges of one workload's profile into the shared one. */
const PUBLISH_EVERY_MS = 10_000;

export interface ModeChange {
  ok: boolean;
  error: string;
  /** Parts of enforcement this node cannot do, said at the mode change. */
  warnings: string[];
}

/** What puts a profile into the kernel (respond/enforcement.ts). */
export interface KernelEnforcer {
  /** Puts a workload under its kernel policy (replacing an earlier one). */
  enforce(w: Workload, policy: KernelPolicy): Promise<EnforceResult>;
  /** Takes a workload out of enforcement. */
  relax(w: Workload): Promise<void>;
  /** A probe connected with empty maps: every policy goes back in. */
  reapply(): Promise<void>;
}

/** What profiles need of the workloads: the engine's registry, or a detection worker's copy of its part (src/shard/). */
export type ProfileWorkloads = Pick<WorkloadRegistry, 'find' | 'declare' | 'setMode' | 'onModeChange'>;

/**
 * What the control API, the console and the engine ask of profiles: the
 * detector itself, or (engine.workers > 1) the worker threads that own them.
 */
export interface ProfileControl {
  changeMode(w: Workload, mode: Mode): Promise<ModeChange>;
  export(nameOrKey?: string): WorkloadProfileDocument[];
  apply(docs: WorkloadProfileDocument[]): Promise<{ applied: string[]; warnings: string[] }>;
  diff(doc: WorkloadProfileDocument): string[];
  enforceAll(): Promise<void>;
  /** Merges pending changes into the cluster's shared profiles now (shutdown, tests). */
  publishPending(): Promise<void>;
}

/** What profiles need of their store: the store itself, or a detection worker's wrapper of it. */
export type ProfileStoreLike = Pick<ProfileStore, 'loadAll' | 'markDirty' | 'flush' | 'close'>;

export interface ProfileDetectorOptions {
  settings: ProfileSettings;
  registry: ProfileWorkloads;
  store: ProfileStoreLike;
  enforcement: KernelEnforcer;
  /** Stops a process the kernel did not stop (enforce mode, after the fact). */
  kill: (pid: number) => Promise<CommandResult>;
  /** Enforcement could not be kept up for a workload: fail open or closed, and say so. */
  enforcementFailed: (w: Workload, reason: string) => void;
  nodeName: string;
  log: Logger;
  /** Profiles shared across nodes (Kubernetes); null on a single node. */
  sync?: ProfileSync | null;
  /** false: the owner calls tick() every second on a timer it has anyway (one wakeup instead of two). */
  ownTimer?: boolean;
}

export class ProfileDetector implements Detector, ProfileControl {
  readonly name = 'profiles';
  readonly types = PROFILED;
  private readonly profiles = new Map<string, Profile>();
  private readonly modeSince = new Map<string, number>();
  private readonly lastAnomalyAt = new Map<string, number>();
  /** Promotions under way (entering enforce waits for the probe): a tick does not start a second one. */
  private readonly promoting = new Set<string>();
  /** The last failed promotion's reason per workload: the same failure is alerted once. */
  private readonly promotionFailed = new Map<string, string>();
  private readonly timer: NodeJS.Timeout | null;
  private ctx: DetectContext | null = null;
  /** A mode change this detector is making (others come from elsewhere: the cluster). */
  private changing: string | null = null;
  private readonly publishTimers = new Map<string, NodeJS.Timeout>();
  /** File answers of every profile, remembered (verdicts.ts); a slot per workload key. */
  private readonly verdicts = new FileVerdicts();
  private readonly slots = new Map<string, number>();
  /** Each workload's profile, or null when it is not profiled: one lookup per event. Replaced whenever a profile is. */
  private byWorkload = new WeakMap<Workload, Profile | null>();
  /**
   * In front of byWorkload, by the event's cgroup id (slot `cgroupId &
   * (FRONT - 1)`): the workload last seen there at 2 × slot and its
   * profile beside it, a pointer compare instead of a WeakMap lookup per
   * event, the two in one cache line (two arrays cost a miss each). Emptied
   * whenever byWorkload is; holds at most FRONT workloads until they are
   * replaced.
   */
  private readonly front = new Array<Workload | Profile | null>(2 * FRONT).fill(null);
  private readonly settings: ProfileSettings;
  private readonly registry: ProfileWorkloads;
  private readonly store: ProfileStoreLike;
  private readonly enforcement: KernelEnforcer;
  private readonly kill: (pid: number) => Promise<CommandResult>;
  private readonly enforcementFailed: (w: Workload, reason: string) => void;
  private readonly nodeName: string;
  private readonly log: Logger;
  private readonly sync: ProfileSync | null;

  constructor(opts: ProfileDetectorOptions) {
    this.settings = opts.settings;
    this.registry = opts.registry;
    this.store = opts.store;
    this.enforcement = opts.enforcement;
    this.kill = opts.kill;
    this.enforcementFailed = opts.enforcementFailed;
    this.nodeName = opts.nodeName;
    this.log = opts.log;
    this.sync = opts.sync ?? null;
    this.timer = opts.ownTimer === false ? null : setInterval(() => this.tick(), 1000);
    this.timer?.unref();
    // A mode changed elsewhere (kubectl, another node): the kernel follows.
    this.registry.onModeChange((w, from, to) => {
      if (this.changing === w.key) return;
      void this.followMode(w, from, to);
    });
  }

  private async followMode(w: Workload, from: Mode, to: Mode): Promise<void> {
    this.modeSince.set(w.key, Date.now());
    const p = this.profiles.get(w.key);
    if (to === 'enforce' && p) {
      const r = await this.enforcement.enforce(w, kernelPolicy(this.document(w, p), this.settings.protectedPaths));
      if (!r.ok) this.enforcementFailed(w, r.error);
      else if (r.warnings.length) this.log.warn({ workload: w.name, warnings: r.warnings }, 'enforcement is not complete on this node');
    } else if (from === 'enforce') {
      await this.enforcement.relax(w);
    }
    if (p) this.save(w, p);
    this.log.info({ workload: w.name, from, to }, 'mode changed elsewhere');
  }

  /** Loads stored profiles (or `docs`, read already); their workloads come back in the mode they were in. */
  load(docs: WorkloadProfileDocument[] = this.store.loadAll()): void {
    for (const doc of docs) {
      const s = doc.spec.workload;
      const w = this.registry.declare({ key: s.key, name: s.name, kind: s.kind as WorkloadKind, namespace: s.namespace, mode: doc.spec.mode });
      this.quietly(w, doc.spec.mode); // kernel policies follow when the probe connects (enforceAll)
      this.put(s.key, fromDocument(doc, this.settings.limits));
      this.modeSince.set(s.key, Date.now());
    }
    if (this.profiles.size) this.log.info({ profiles: this.profiles.size }, 'profiles loaded');
  }

  /** The probe connected: workloads in enforce mode get their kernel policies back. */
  async enforceAll(): Promise<void> {
    for (const [key, p] of this.profiles) {
      const w = this.registry.find(key);
      if (w?.mode === 'enforce') await this.enforcement.enforce(w, kernelPolicy(this.document(w, p), this.settings.protectedPaths));
    }
    await this.enforcement.reapply();
  }

  /** Puts a workload's profile in place (a new one, a loaded or applied one). */
  private put(key: string, p: Profile): void {
    let slot = this.slots.get(key);
    if (slot === undefined) this.slots.set(key, (slot = this.verdicts.newSlot()));
    p.slot = slot;
    this.profiles.set(key, p);
    this.byWorkload = new WeakMap();
    this.front.fill(null);
  }

  /**
   * Per event: no closure here (one would make V8 allocate this call's
   * variables in a context object per event); what a deviation needs is
   * in deviated().
   */
  onEvent(e: Event, ctx: DetectContext): void {
    this.ctx = ctx;
    const w = e.workload;
    if (!w || !profiled(e.type)) return;
    const slot = 2 * (e.cgroupId & (FRONT - 1));
    const front = this.front;
    let p: Profile | null | undefined;
    if (front[slot] === w) p = front[slot + 1] as Profile | null;
    else {
      p = this.byWorkload.get(w);
      if (p === undefined) {
        p = (w.kind === 'host' && this.settings.ignoreHost) || w.key.startsWith('cgroup-id:') ? null : (this.profiles.get(w.key) ?? this.start(w));
        this.byWorkload.set(w, p);
      }
      front[slot] = w;
      front[slot + 1] = p;
    }
    if (p === null) return;
    const parentExe = e.type === 'exec' && e.process ? (ctx.tree.parent(e.process)?.exe ?? '') : '';
    if (w.mode === 'learn') {
      // Not through the remembered answers: every path learned changes the
      // file sets, which would make each event forget the profile's answers.
      if (p.observe(e, parentExe, true)) {
        p.lastNewAt = Date.now();
        this.save(w, p);
      }
      return;
    }
    const d = p.observe(e, parentExe, false, this.verdicts);
    if (d) this.deviated(e, w, d, ctx);
  }

  /** An event outside its workload's profile (monitor or enforce mode): blocked or raised. */
  private deviated(e: Event, w: Workload, d: Deviation, ctx: DetectContext): void {
    this.lastAnomalyAt.set(w.key, Date.now());
    if (w.mode === 'enforce' && this.enforced(d, e)) this.block(e, w, d, ctx);
    else {
      const build = () => this.anomaly(e, w, d, PRIORITY[d.kind], undefined, ctx);
      // Built only if noise control would not fold it into an alert already sent (a loop running an unlearned program).
      if (ctx.raiseUnlessFolded) ctx.raiseUnlessFolded({ source: 'profile', rule: d.kind, priority: PRIORITY[d.kind], event: e, action: undefined }, build);
      else ctx.raise(build());
    }
  }

  /** Sets a mode this detector handles itself (not a change from elsewhere to follow). */
  private quietly(w: Workload, mode: Mode): void {
    this.changing = w.key;
    try {
      this.registry.setMode(w, mode);
    } finally {
      this.changing = null;
    }
  }

  /** A profile for a workload seen for the first time: the shared one when there is one. */
  private start(w: Workload): Profile {
    const shared = this.sync?.shares(w.key) ? this.sync.stored(w.key) : undefined;
    const p = shared ? fromDocument(shared, this.settings.limits) : new Profile(this.settings.limits);
    this.put(w.key, p);
    this.modeSince.set(w.key, Date.now());
    this.log.info({ workload: w.name, mode: w.mode, from: shared ? 'the cluster' : 'scratch' }, 'new workload: profile started');
    if (shared && w.mode === 'enforce') void this.followMode(w, 'learn', 'enforce');
    return p;
  }

  /** Whether enforce mode stops this deviation (exec, connect, a write below a protected path). */
  private enforced(d: Deviation, e: Event): boolean {
    // An answer from a new resolver has no process to stop: it is raised, and the kernel takes no names from that resolver.
    if (e.type === 'dns') return false;
    if (d.kind === 'new-executable' || d.kind === 'new-egress') return true;
    if (d.kind !== 'new-file-write') return false;
    const paths = e.type === 'rename' ? [e.path, e.path2] : [e.path];
    return paths.some((path) => this.settings.protectedPaths.some((pre) => path.startsWith(pre)));
  }

  private block(e: Event, w: Workload, d: Deviation, ctx: DetectContext): void {
    if (e.blocked) {
      const by: Mechanism = e.blockedBy || (d.kind === 'new-egress' ? 'cgroup' : 'kill-at-entry');
      const taken = d.kind === 'new-egress' ? 'connect refused'
        : d.kind === 'new-executable' ? (deniesBefore(by) ? 'exec denied' : 'killed at exec')
        : deniesBefore(by) ? 'write denied' : 'writer killed';
      ctx.raise(this.anomaly(e, w, d, 'error', { taken, ok: true, detail: blockedDetail(by, d.kind) }, ctx, by));
      return;
    }
    // The kernel did not stop it (no capability, a pattern rule, a relative path, a
    // cgroup not yet covered): stop the process now, and say it was after the fact.
    void this.kill(e.pid).then((r) => {
      ctx.raise(this.anomaly(e, w, d, 'error', {
        taken: r.ok ? 'killed' : 'kill failed',
        ok: r.ok,
        detail: r.ok ? 'after the event: the kernel did not stop it' : r.error,
      }, ctx));
      if (!r.ok) this.enforcementFailed(w, `could not stop ${d.message}: ${r.error}`);
    });
  }

  private anomaly(e: Event, w: Workload, d: Deviation, priority: Priority, action: AlertAction | undefined, ctx: DetectContext, mechanism?: Mechanism) {
    const verb = action ? `${action.taken}: ` : '';
    return alertFor(e, ctx.tree, {
      source: 'profile',
      rule: d.kind,
      priority,
      message: `${shown(w.name)}: ${verb}${d.message}`,
      tags: TAGS[d.kind],
      fields: {
        'vigil.anomaly': d.kind, 'vigil.what': d.what, 'workload.mode': w.mode,
        ...(mechanism ? { 'vigil.mechanism': mechanism } : {}), ...(e.sipName ? { 'fd.sip.name': e.sipName } : {}),
      },
      action,
    });
  }

  /** Promotions that are due. */
  tick(now = Date.now()): void {
    const s = this.settings;
    for (const [key, p] of this.profiles) {
      const w = this.registry.find(key);
      if (!w || this.promoting.has(key)) continue;
      if (w.mode === 'learn' && now - p.learningSince >= s.minLearningSeconds * 1000 && now - p.lastNewAt >= s.quietSeconds * 1000) {
        void this.promote(w, 'monitor', `nothing new for ${s.quietSeconds} s after ${Math.round((now - p.learningSince) / 1000)} s of learning`);
      } else if (w.mode === 'monitor' && s.enforceAfterCleanSeconds !== null) {
        const cleanSince = Math.max(this.modeSince.get(key) ?? now, this.lastAnomalyAt.get(key) ?? 0);
        if (now - cleanSince >= s.enforceAfterCleanSeconds * 1000) void this.promote(w, 'enforce', `no anomaly for ${s.enforceAfterCleanSeconds} s`);
      }
    }
  }

  private async promote(w: Workload, to: Mode, why: string): Promise<void> {
    const from = w.mode;
    this.promoting.add(w.key);
    let r: ModeChange;
    try {
      // Raised only once the change is certain, just before the new mode shows, and naming it.
      r = await this.changeMode(w, to, (warnings) => {
        const message = `${w.name}: ${from} → ${to} (${why})${warnings.length ? `; not enforced in the kernel: ${warnings.join('; ')}` : ''}`;
        this.log.info({ workload: w.name, from, to, warnings }, 'workload promoted');
        const alert = alertAbout(w, this.nodeName, { source: 'engine', rule: 'Workload promoted', priority: warnings.length ? 'warning' : 'informational', message });
        alert.workload.mode = to;
        this.ctx?.raise(alert);
      });
    } finally {
      this.promoting.delete(w.key);
    }
    if (r.ok) {
      this.promotionFailed.delete(w.key);
      return;
    }
    // The mode stays; the period starts over, so it is tried again after another one.
    this.modeSince.set(w.key, Date.now());
    this.log.warn({ workload: w.name, from, to, error: r.error }, 'workload promotion failed');
    const said = `${from}\0${to}\0${r.error}`;
    if (this.promotionFailed.get(w.key) === said) return;
    this.promotionFailed.set(w.key, said);
    const message = `${w.name}: not promoted ${from} → ${to} (${why}), it stays in ${w.mode}: ${r.error}`;
    this.ctx?.raise(alertAbout(w, this.nodeName, { source: 'engine', rule: 'Workload promotion failed', priority: 'warning', message, tags: ['vigil'] }));
  }

  /**
   * Changes a workload's mode; entering enforce puts its policy in the kernel and says what cannot be enforced.
   * `announce` is called once the change is certain, just before the new mode shows: whoever sees the mode
   * (the main thread's registry, which a detection worker's mode change reaches by message, and so
   * `vigil status`) finds the alert that says so already raised.
   */
  async changeMode(w: Workload, mode: Mode, announce?: (warnings: string[]) => void): Promise<ModeChange> {
    let p = this.profiles.get(w.key);
    if (!p) {
      if (mode !== 'learn') return { ok: false, error: `${w.name} has no profile yet: let it learn first, or apply a reviewed policy`, warnings: [] };
      p = new Profile(this.settings.limits);
      this.put(w.key, p);
    }
    const from = w.mode;
    let warnings: string[] = [];
    if (mode === 'enforce') {
      const r = await this.enforcement.enforce(w, kernelPolicy(this.document(w, p), this.settings.protectedPaths));
      if (!r.ok) {
        await this.enforcement.relax(w);
        return { ok: false, error: `cannot enforce: ${r.error}`, warnings: r.warnings };
      }
      warnings = r.warnings;
    } else if (from === 'enforce') {
      await this.enforcement.relax(w);
    }
    if (mode === 'learn' && from !== 'learn') p.lastNewAt = Date.now();
    announce?.(warnings);
    this.quietly(w, mode);
    if (this.sync?.shares(w.key)) {
      this.sync.setMode(w.key, mode).catch((err: Error) => this.log.error({ workload: w.name, err: err.message }, 'could not set the mode cluster-wide'));
    }
    this.modeSince.set(w.key, Date.now());
    this.save(w, p);
    if (warnings.length) this.log.warn({ workload: w.name, warnings }, 'enforcement is not complete on this node');
    return { ok: true, error: '', warnings };
  }

  document(w: Workload, p = this.profiles.get(w.key)): WorkloadProfileDocument {
    return toDocument(p ?? new Profile(this.settings.limits), w, w.mode);
  }

  /** Documents of one workload (by name or key) or of all profiled ones. */
  export(nameOrKey?: string): WorkloadProfileDocument[] {
    if (nameOrKey) {
      const w = this.registry.find(nameOrKey);
      if (!w || !this.profiles.has(w.key)) throw new Error(`no profile for '${nameOrKey}'`);
      return [this.document(w)];
    }
    return [...this.profiles.keys()]
      .sort()
      .map((k) => this.registry.find(k))
      .filter((w): w is Workload => !!w)
      .map((w) => this.document(w));
  }

  /** Replaces profiles (and modes) with reviewed documents, all validated before any is applied. */
  async apply(docs: WorkloadProfileDocument[]): Promise<{ applied: string[]; warnings: string[] }> {
    const applied: string[] = [];
    const warnings: string[] = [];
    for (const doc of docs) {
      const s = doc.spec.workload;
      const w = this.registry.find(s.key) ?? this.registry.declare({ key: s.key, name: s.name, kind: s.kind as WorkloadKind, namespace: s.namespace });
      if (w.mode === 'enforce') await this.enforcement.relax(w);
      const p = fromDocument(doc, this.settings.limits);
      this.put(s.key, p);
      this.quietly(w, 'learn'); // re-entered below, so enforcement starts from the new profile
      const r = await this.changeMode(w, doc.spec.mode);
      if (!r.ok) throw new Error(`${s.name}: ${r.error}`);
      warnings.push(...r.warnings.map((x) => `${s.name}: ${x}`));
      applied.push(`${s.name} (${doc.spec.mode})`);
      this.log.info({ workload: s.name, mode: doc.spec.mode }, 'policy applied');
    }
    await this.store.flush();
    return { applied, warnings };
  }

  /** What a document has that the current profile lacks and the reverse. */
  diff(doc: WorkloadProfileDocument): string[] {
    const w = this.registry.find(doc.spec.workload.key) ?? this.registry.find(doc.spec.workload.name);
    const ref = { ...doc.spec.workload, namespace: doc.spec.workload.namespace ?? '' };
    const current = w && this.profiles.has(w.key) ? this.document(w) : toDocument(new Profile(this.settings.limits), ref, 'learn');
    return diffDocuments(doc, current);
  }

  private save(w: Workload, p: Profile): void {
    this.store.markDirty(w.key, () => this.document(w, p));
    if (this.sync?.shares(w.key) && !this.publishTimers.has(w.key)) {
      const timer = setTimeout(() => {
        this.publishTimers.delete(w.key);
        this.sync!.publish(this.document(w, p)).catch((err: Error) => {
          this.log.error({ workload: w.name, err: err.message }, 'could not merge the profile into the cluster\'s; will retry');
          this.save(w, p);
        });
      }, PUBLISH_EVERY_MS);
      timer.unref();
      this.publishTimers.set(w.key, timer);
    }
  }

  /** Merges every profile with pending changes into the shared ones now (shutdown, tests). */
  async publishPending(): Promise<void> {
    const keys = [...this.publishTimers.keys()];
    for (const key of keys) {
      clearTimeout(this.publishTimers.get(key));
      this.publishTimers.delete(key);
      const w = this.registry.find(key);
      const p = this.profiles.get(key);
      if (w && p) await this.sync!.publish(this.document(w, p)).catch((err: Error) => this.log.error({ workload: w.name, err: err.message }, 'could not merge the profile into the cluster\'s'));
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.publishPending();
    await this.store.close();
  }
}

/** What the kernel did, by the mechanism that acted (bpf/deny.bpf.h, bpf/enforce.bpf.h). */
function blockedDetail(by: Mechanism, kind: Deviation['kind']): string {
  return mechanismDid(by, kind === 'new-executable');
}

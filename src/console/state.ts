// The console's own state and the views it serves: the alert history,
// the network map and per-workload facts (fed by the source's alert and
// event streams), assembled with what the source knows into the shapes
// of api.ts. Actions go through the source and are written to the audit
// log with their outcome.
import { createHash } from 'node:crypto';
import { stringify as yamlStringify } from 'yaml';
import type { Alert } from '../model/alert.js';
import { MODES, type Mode } from '../model/mode.js';
import { acceptAnomaly } from '../detect/profile/accept.js';
import type { WorkloadProfileDocument } from '../detect/profile/document.js';
import { diffDocuments, parsePolicyYaml, toNetworkPolicy, toYaml } from '../detect/profile/policy.js';
import { enforcementGaps, MECHANISM_SAYS, type Event, type Mechanism } from '../model/event.js';
import { AlertHistory } from './alert-history.js';
import type { AcceptPreview, ActionResult, AuditEntry, CaptureView, EnforcementView, ProfileView, RiskScore, RiskView, WorkloadView } from './api.js';
import { NetworkMap } from './network-map.js';
import { nodeRisk, workloadRisk } from './risk.js';
import type { ConsoleAction, ConsoleCaller as Caller, ConsoleSource, Outcome, ProbeFacts, SourceWorkload } from './source.js';
import { WorkloadFacts } from './workload-facts.js';


export class ConsoleError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Capture lengths the console offers (seconds). */
const MAX_CAPTURE_SECONDS = 600;
/** Captures started from the console whose end is kept to show. */
const KEEP_CAPTURES = 20;

export class ConsoleState {
  readonly history: AlertHistory;
  readonly network: NetworkMap;
  readonly facts = new WorkloadFacts();
  private readonly unsubscribe: (() => void)[] = [];
  /** Called for every alert and every change a client should reload for. */
  onAlert: (a: Alert) => void = () => {};
  onChange: (what: 'workloads' | 'profile' | 'audit' | 'captures', workload: string) => void = () => {};
  /** Captures started here, newest first, with how they ended once they have. */
  readonly captures: CaptureView[] = [];

  constructor(
    readonly source: ConsoleSource,
    limits: { alertHistory: number; networkEdges: number },
  ) {
    this.history = new AlertHistory(limits.alertHistory);
    this.network = new NetworkMap(limits.networkEdges);
  }

  start(): void {
    this.unsubscribe.push(
      this.source.onAlert((a) => {
        this.history.add(a);
        this.network.onAlert(a);
        this.facts.onAlert(a);
        this.onAlert(a);
      }),
      this.source.onEvent((e: Event) => {
        // Only what the map and the facts use: most events are opens.
        switch (e.type) {
          case 'connect': case 'accept': case 'bind': case 'listen':
            this.network.onEvent(e);
            this.facts.onEvent(e);
            return;
          case 'exec':
            this.facts.onEvent(e);
            return;
          default:
        }
      }),
    );
  }

  stop(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  // ---- views ----------------------------------------------------------

  private workload(key: string): SourceWorkload {
    const w = this.source.workloads().find((x) => x.key === key || x.name === key);
    if (!w) throw new ConsoleError(404, `no workload '${key}'`);
    return w;
  }

  private enforcementView(key: string, probe: ProbeFacts): EnforcementView {
    const e = this.source.enforcement(key);
    // As the probe said in its Hello, grouped by mechanism like `vigil status`: what is denied before it happens, what only after.
    const byMechanism = new Map<Mechanism, { ops: string[]; programs: Set<string>; why: Set<string> }>();
    for (const h of probe.enforcement) {
      const m = byMechanism.get(h.mechanism) ?? { ops: [], programs: new Set<string>(), why: new Set<string>() };
      m.ops.push(h.operation);
      if (h.program) m.programs.add(h.program);
      if (h.why) m.why.add(h.why);
      byMechanism.set(h.mechanism, m);
    }
    const mechanisms = probe.connected
      ? [
          ...[...byMechanism].map(([m, g]) => ({
            what: g.ops.join(', '),
            how: `${MECHANISM_SAYS[m]}${g.programs.size ? ` [${[...g.programs].join(', ')}]` : ''}${g.why.size ? ` (${[...g.why].join('; ')})` : ''}`,
          })),
          { what: 'network', how: probe.capabilities.includes('quarantine') ? 'quarantine drops every packet (cgroup_skb)' : 'no quarantine on this node (no cgroup v2)' },
        ]
      : [];
    return { active: e.active, mechanisms, gaps: e.gaps };
  }

  private view(w: SourceWorkload, probe: ProbeFacts): WorkloadView {
    const doc = this.source.profile(w.key);
    const f = this.facts.of(w.key);
    const since = doc?.status?.learningSince ?? '';
    const last = doc?.status?.lastNewBehaviour ?? '';
    const learnedUntil = w.mode === 'learn' ? Date.now() : Date.parse(last) || Date.now();
    return {
      key: w.key, name: w.name, kind: w.kind, namespace: w.namespace, mode: w.mode, events: w.events,
      learningSince: since, lastNewBehaviour: last,
      learnedSeconds: since ? Math.max(0, Math.round((learnedUntil - Date.parse(since)) / 1000)) : 0,
      openAnomalies: f.anomalies.size, anomalyAlerts: f.anomalyAlerts,
      quarantine: this.source.quarantine(w.key),
      enforcement: this.enforcementView(w.key, probe),
      privileged: w.privileged, images: w.images,
    };
  }

  workloads(): WorkloadView[] {
    const probe = this.source.probe();
    return this.source
      .workloads()
      .filter((w) => !w.key.startsWith('node:'))
      .sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((w) => this.view(w, probe));
  }

  profile(key: string): ProfileView {
    const w = this.workload(key);
    return {
      workload: this.view(w, this.source.probe()),
      document: this.source.profile(w.key),
      anomalies: [...this.facts.of(w.key).anomalies.values()].sort((a, b) => (a.lastSeen < b.lastSeen ? 1 : -1)),
    };
  }

  export(key: string, format: 'yaml' | 'networkpolicy'): string {
    const w = this.workload(key);
    const doc = this.source.profile(w.key);
    if (!doc) throw new ConsoleError(404, `${w.name} has no profile yet`);
    return format === 'networkpolicy' ? yamlStringify(toNetworkPolicy(doc, w.labels), { lineWidth: 0 }) : toYaml([doc]);
  }

  private risk(w: SourceWorkload): RiskScore {
    const f = this.facts.of(w.key);
    return workloadRisk({
      name: w.name, namespace: w.namespace, mode: w.mode, quarantined: this.source.quarantine(w.key) !== null, privileged: w.privileged,
      openAnomalies: [...f.anomalies.values()], rootExecutables: [...f.rootExecutables], listening: [...f.listening], exposed: [...f.exposed],
      criticalAlerts: f.criticalAlerts, errorAlerts: f.errorAlerts, enforcementGaps: w.mode === 'enforce' ? this.source.enforcement(w.key).gaps : [],
    });
  }

  riskView(namespace?: string): RiskView {
    const all = this.source.workloads().filter((w) => w.kind !== 'host' && !w.key.startsWith('node:') && !w.key.startsWith('cgroup-id:'));
    const scores = all.map((w) => this.risk(w));
    const probe = this.source.probe();
    const kernelGaps = probe.connected ? enforcementGaps(probe.enforcement, probe.capabilities) : [];
    const node = nodeRisk({ node: this.source.nodeName, probeConnected: probe.connected, eventsLost: probe.eventsLost, kernelGaps, workloads: scores });
    return {
      node,
      workloads: (namespace === undefined ? scores : scores.filter((s) => s.namespace === namespace)).sort((a, b) => b.score - a.score),
      generated: new Date().toISOString(),
    };
  }

  // ---- actions --------------------------------------------------------

  /** Written to the engine's audit log (and alerted) before the answer goes back. */
  private done(
    caller: Caller, action: ConsoleAction['action'], w: SourceWorkload, params: AuditEntry['params'], lowersProtection: boolean,
    r: Outcome | { ok: boolean; error: string; detail: string; warnings?: string[] },
  ): ActionResult {
    const message = r.ok ? r.detail || 'done' : r.error;
    this.source.audit.record({ action, workloadKey: w.key, target: w.name, request: params, ok: r.ok, outcome: message, caller, lowersProtection });
    this.onChange('audit', w.name);
    this.onChange('workloads', w.name);
    const audit = this.source.audit.latest(8).find((e) => e.via === 'console' && e.action === action && e.workload === w.name) ?? null;
    return { ok: r.ok, message, warnings: r.warnings ?? [], audit };
  }

  async setMode(caller: Caller, key: string, mode: unknown): Promise<ActionResult> {
    const w = this.workload(key);
    if (typeof mode !== 'string' || !(MODES as readonly string[]).includes(mode)) throw new ConsoleError(400, `mode must be one of ${MODES.join(', ')}`);
    const from = w.mode;
    const r = await this.source.actions.setMode(w.key, mode as Mode);
    return this.done(caller, 'set-mode', w, { mode, from }, MODES.indexOf(mode as Mode) < MODES.indexOf(from), r);
  }

  async quarantine(caller: Caller, key: string, reason: unknown): Promise<ActionResult> {
    const w = this.workload(key);
    const why = typeof reason === 'string' && reason.trim() ? reason.trim().slice(0, 200) : 'from the console';
    const r = await this.source.actions.quarantine(w.key, `${why} (web console)`);
    return this.done(caller, 'quarantine', w, { reason: why }, false, { ...r, detail: `${w.name} quarantined: ${r.detail}` });
  }

  async release(caller: Caller, key: string): Promise<ActionResult> {
    const w = this.workload(key);
    const r = await this.source.actions.release(w.key);
    return this.done(caller, 'release', w, {}, true, { ...r, detail: `${w.name} released: ${r.detail}` });
  }

  async capture(caller: Caller, key: string, seconds: unknown): Promise<ActionResult> {
    const w = this.workload(key);
    const s = seconds === undefined ? 0 : Number(seconds);
    if (!Number.isInteger(s) || s < 0 || s > MAX_CAPTURE_SECONDS) throw new ConsoleError(400, `seconds must be a whole number from 0 (the configured default) to ${MAX_CAPTURE_SECONDS}`);
    const r = await this.source.actions.capture(w.key, s);
    const file = r.file.split('/').pop() ?? '';
    // The start is audited (as the CLI's is); the end is shown, with its file to download.
    if (r.ok) {
      const view: CaptureView = { workload: w.name, file, started: new Date().toISOString(), ended: null };
      this.captures.unshift(view);
      this.captures.splice(KEEP_CAPTURES);
      r.finished?.then((end) => {
        view.ended = { ok: end.ok, error: end.error, packets: end.packets, bytes: end.bytes, by: end.ended };
        this.onChange('captures', w.name);
      });
    }
    return this.done(caller, 'capture', w, { seconds: s }, false, { ok: r.ok, error: r.error, detail: r.ok ? `capturing to ${file}` : '' });
  }

  private proposal(key: string, id: string): { w: SourceWorkload; current: WorkloadProfileDocument; next: WorkloadProfileDocument; preview: AcceptPreview } {
    const w = this.workload(key);
    const anomaly = this.facts.of(w.key).anomalies.get(id);
    if (!anomaly) throw new ConsoleError(404, `no open anomaly ${id} for ${w.name}`);
    const current = this.source.profile(w.key);
    if (!current) throw new ConsoleError(409, `${w.name} has no profile to accept it into`);
    let next: WorkloadProfileDocument;
    try {
      next = acceptAnomaly(current, anomaly);
    } catch (err) {
      throw new ConsoleError(422, (err as Error).message);
    }
    const yaml = toYaml([next]);
    return { w, current, next, preview: { anomaly, diff: diffDocuments(next, current), yaml, baseVersion: specVersion(current) } };
  }

  previewAccept(key: string, id: string): AcceptPreview {
    return this.proposal(key, id).preview;
  }

  async accept(caller: Caller, key: string, id: string, baseVersion: unknown): Promise<ActionResult> {
    const { w, current, preview } = this.proposal(key, id);
    if (baseVersion !== specVersion(current)) {
      throw new ConsoleError(409, `${w.name}'s profile changed since the diff was shown: look at it again`);
    }
    // Through the same validation a reviewed policy file gets.
    const [doc] = parsePolicyYaml(preview.yaml, `console: ${w.name}`);
    const r = await this.source.actions.applyProfile(doc!);
    if (r.ok) this.facts.accepted(w.key, id);
    this.onChange('profile', w.name);
    // The diff itself is shown before, not audited: the profile's history is in its document.
    return this.done(caller, 'accept-anomaly', w, { kind: preview.anomaly.kind, what: preview.anomaly.what, changes: preview.diff.length }, true, {
      ...r, detail: r.ok ? `${preview.anomaly.kind} ${preview.anomaly.what} is now part of ${w.name}'s profile` : '',
    });
  }
}

/** Which version of a profile a diff was made against (its spec, hashed). */
function specVersion(doc: WorkloadProfileDocument): string {
  return createHash('sha256').update(JSON.stringify(doc.spec)).digest('hex').slice(0, 16);
}

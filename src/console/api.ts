// The console's JSON over HTTP: what the server sends and the browser
// reads (web/*.ts imports these types). Every string here may come from an
// attacker (executable names, paths, argv, pod labels): the browser puts
// them in the page as text only, never as markup.
import type { Alert, Priority } from '../model/alert.js';
import type { WorkloadProfileDocument } from '../detect/profile/document.js';

export type { Alert, Priority, WorkloadProfileDocument };

/** GET /api/session: what the server expects (answered without credentials). */
export interface SessionInfo {
  /** "token": send Authorization: Bearer; "mtls": the TLS client certificate is the credential. */
  auth: ('token' | 'mtls')[];
  /** True once this request's credentials were accepted. */
  authenticated: boolean;
  node: string;
  version: string;
}

export interface EnforcementView {
  /** Whether the kernel policy is in place for this workload now. */
  active: boolean;
  /** How each kind of behaviour is stopped on this node, e.g. exec → "killed at exec (BPF LSM)". */
  mechanisms: { what: string; how: string }[];
  /** What this node cannot enforce in the kernel, and what happens instead. */
  gaps: string[];
}

export interface WorkloadView {
  key: string;
  name: string;
  kind: string;
  namespace: string;
  mode: string;
  events: number;
  /** ISO times; empty when the workload has no profile. */
  learningSince: string;
  lastNewBehaviour: string;
  /** Seconds of learning so far (or until it left learn mode). */
  learnedSeconds: number;
  /** Distinct anomalies not accepted into the profile, and all anomaly alerts seen. */
  openAnomalies: number;
  anomalyAlerts: number;
  quarantine: { since: string; reason: string } | null;
  enforcement: EnforcementView;
  /** Privileged containers of this workload: null when not known on this node. */
  privileged: boolean | null;
  /** Container images, when the runtime said. */
  images: string[];
}

/** An anomaly raised for a workload and not (yet) accepted into its profile. */
export interface OpenAnomaly {
  id: string;
  kind: string;
  what: string;
  message: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  /** The alert that first raised it. */
  alertId: string;
  /** The process behind it: what accepting a new executable, user or parent adds. */
  process: { exe: string; parent: string; uid: number };
}

export interface ProfileView {
  workload: WorkloadView;
  document: WorkloadProfileDocument | null;
  anomalies: OpenAnomaly[];
}

/** What accepting an anomaly would change: shown before it is applied. */
export interface AcceptPreview {
  anomaly: OpenAnomaly;
  /** `vigil policy diff` lines: + added, - removed, ~ changed. */
  diff: string[];
  /** The profile as it would be applied (YAML). */
  yaml: string;
  /** What has to match for the apply to go ahead (the profile must not have changed meanwhile). */
  baseVersion: string;
}

export type EdgeState = 'learned' | 'anomalous' | 'blocked' | 'quarantined';

export interface NetworkNode {
  id: string;
  label: string;
  kind: 'workload' | 'external' | 'host';
  namespace: string;
}

export interface NetworkEdge {
  id: string;
  source: string;
  target: string;
  /** out: the workload connected; in: it accepted. */
  direction: 'out' | 'in';
  port: number;
  protocol: string;
  count: number;
  blocked: number;
  anomalies: number;
  firstSeen: string;
  lastSeen: string;
  state: EdgeState;
}

export interface NetworkView {
  nodes: NetworkNode[];
  edges: NetworkEdge[];
  /** Edges dropped to keep the map within its bound, since start. */
  evicted: number;
  limit: number;
}

export interface RiskFactor {
  id: string;
  label: string;
  /** What was found, for a person ("3 executables run as root: …"). */
  detail: string;
  points: number;
}

export interface RiskScore {
  subject: string;
  kind: 'workload' | 'node';
  namespace: string;
  score: number;
  level: 'low' | 'medium' | 'high' | 'critical';
  factors: RiskFactor[];
}

export interface RiskView {
  node: RiskScore;
  workloads: RiskScore[];
  generated: string;
}

export interface AlertCounts {
  /** Start of each bucket (Unix ms) and the bucket's width. */
  bucketMs: number;
  times: number[];
  /** Per dimension (priority, rule, source, tag, workload): series by value, aligned with `times`. */
  series: Record<string, Record<string, number[]>>;
  /** Values folded into "(other)" because a bucket holds at most so many per dimension. */
  otherLimit: number;
}

export interface AlertPage {
  alerts: Alert[];
  /** Alerts matching the filter (the page holds at most `limit`). */
  matched: number;
  /** Alerts held, the bound, and how many were dropped to keep it. */
  held: number;
  limit: number;
  evicted: number;
}

/** An entry of the engine's audit log (<stateDir>/audit.jsonl), as the console shows it. */
export interface AuditEntry {
  time: string;
  /** Who, as verified: the console's token or certificate, or the CLI's uid and process. */
  actor: string;
  remote: string;
  /** Where it was asked: the web console or the control API (vigil CLI). */
  via: 'console' | 'control';
  action: string;
  workload: string;
  params: Record<string, string | number | boolean>;
  ok: boolean;
  result: string;
}

export interface ActionResult {
  ok: boolean;
  /** One line for a person: what was done or why not. */
  message: string;
  warnings: string[];
  /** The entry written to the audit log (null only if it could not be read back). */
  audit: AuditEntry | null;
}

/** A capture started from the console, and how it ended once it has. */
export interface CaptureView {
  workload: string;
  /** The file's name in the capture directory (GET /api/captures/<file>). */
  file: string;
  started: string;
  ended: { ok: boolean; error: string; packets: number; bytes: number; by: string } | null;
}

/** Server-sent events on /api/stream: `alert` (an Alert), `changed` (something to reload), `capture` (a capture ended). */
export interface StreamChanged {
  what: 'workloads' | 'profile' | 'audit' | 'captures';
  workload: string;
}

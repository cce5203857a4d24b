// Vigil's findings as policy reports, the shape clusters already collect
// (Policy Reporter, Kyverno's and Trivy's reports): the Policy WG's
// wgpolicyk8s.io/v1alpha2 PolicyReport / ClusterPolicyReport and their
// successor, OpenReports' openreports.io/v1alpha1 Report / ClusterReport
// (same results). One report per namespace for the workloads this node
// saw there, and one cluster-scoped report for the node itself (its
// probe, its kernel's gaps, alerts about the node and host workloads).
// Each report is bounded: the most severe and most recent results are
// kept, the rest counted in an annotation.
import { createHash } from 'node:crypto';
import { severity, type Priority } from '../model/alert.js';
import type { Finding, Findings } from './findings.js';

export type ReportSeverity = 'critical' | 'high' | 'medium' | 'low' | 'info';
export type ReportOutcome = 'pass' | 'fail' | 'warn' | 'error' | 'skip';

export interface ReportApi {
  group: string;
  version: string;
  namespaced: { kind: string; plural: string };
  cluster: { kind: string; plural: string };
}

export const WGPOLICY: ReportApi = {
  group: 'wgpolicyk8s.io', version: 'v1alpha2',
  namespaced: { kind: 'PolicyReport', plural: 'policyreports' }, cluster: { kind: 'ClusterPolicyReport', plural: 'clusterpolicyreports' },
};
export const OPENREPORTS: ReportApi = {
  group: 'openreports.io', version: 'v1alpha1',
  namespaced: { kind: 'Report', plural: 'reports' }, cluster: { kind: 'ClusterReport', plural: 'clusterreports' },
};

export const REPORT_SOURCE = 'vigil';
export const OMITTED_ANNOTATION = 'vigil.dev/results-omitted';
const MAX_MESSAGE = 1024;
const MAX_PROPERTY = 256;

/** Falco's eight priorities onto the five severities the CRDs allow. */
export function reportSeverity(p: Priority): ReportSeverity {
  const s = severity(p);
  if (s <= severity('critical')) return 'critical';
  if (p === 'error') return 'high';
  if (p === 'warning') return 'medium';
  if (p === 'notice') return 'low';
  return 'info';
}

export interface ReportResource {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface ReportResult {
  source: string;
  policy: string;
  rule: string;
  category: string;
  result: ReportOutcome;
  severity: ReportSeverity;
  scored: boolean;
  message: string;
  timestamp: { seconds: number; nanos: number };
  resources?: ReportResource[];
  properties: Record<string, string>;
}

export interface ReportBody {
  results: ReportResult[];
  summary: Record<ReportOutcome, number>;
  omitted: number;
}

export interface ReportWorkload {
  key: string;
  name: string;
  kind: string;
  namespace: string;
  mode: string;
  quarantined: boolean;
}

export interface NodeFacts {
  probeConnected: boolean;
  kernelGaps: string[];
  eventsLost: number;
}

const OWNER_API: Record<string, string> = {
  Deployment: 'apps/v1', StatefulSet: 'apps/v1', DaemonSet: 'apps/v1', ReplicaSet: 'apps/v1', Job: 'batch/v1', CronJob: 'batch/v1', Pod: 'v1',
};

/** The object a Kubernetes workload key names ("k8s:<namespace>/<Kind>/<name>"). */
export function ownerOf(key: string): ReportResource | null {
  const m = /^k8s:([^/]+)\/([^/]+)\/(.+)$/.exec(key);
  if (!m) return null;
  return { apiVersion: OWNER_API[m[2]!] ?? 'v1', kind: m[2]!, name: m[3]!, namespace: m[1]! };
}

const cut = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function stamp(ms: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: Math.floor((ms % 1000) * 1e6) };
}

function properties(p: Record<string, string | number>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) if (v !== '' && v !== undefined) out[k] = cut(String(v), MAX_PROPERTY);
  return out;
}

function findingResult(f: Finding, w: ReportWorkload, node: string, resource: ReportResource | null): ReportResult {
  const sev = reportSeverity(f.priority);
  const policy = f.source === 'rule' ? 'vigil-rules' : f.source === 'profile' ? 'vigil-profile' : `vigil-${f.source}`;
  return {
    source: REPORT_SOURCE,
    policy,
    rule: f.rule,
    category: f.source === 'rule' ? 'Runtime signature' : f.source === 'profile' ? 'Runtime behaviour' : 'Runtime response',
    result: sev === 'critical' || sev === 'high' ? 'fail' : 'warn',
    severity: sev,
    scored: true,
    message: cut(f.what && !f.message.includes(f.what) ? `${f.message} (${f.what})` : f.message, MAX_MESSAGE),
    timestamp: stamp(f.lastSeen),
    ...(resource ? { resources: [resource] } : {}),
    properties: properties({
      node, workload: w.name, workloadKey: w.key, mode: w.mode, count: f.count, firstSeen: new Date(f.firstSeen).toISOString(),
      lastSeen: new Date(f.lastSeen).toISOString(), action: f.action === 'none' ? '' : f.action, process: f.exe, pod: f.pod,
      what: f.what, tags: f.tags.join(','),
    }),
  };
}

function postureResults(w: ReportWorkload, node: string, resource: ReportResource | null, now: number): ReportResult[] {
  const base = { source: REPORT_SOURCE, category: 'Runtime posture', scored: true, timestamp: stamp(now), ...(resource ? { resources: [resource] } : {}) };
  const out: ReportResult[] = [{
    ...base,
    policy: 'vigil-mode',
    rule: 'workload-enforced',
    result: w.mode === 'enforce' ? 'pass' : 'warn',
    severity: w.mode === 'enforce' ? 'info' : w.mode === 'monitor' ? 'low' : 'medium',
    message: w.mode === 'enforce'
      ? `${w.name}: enforce mode: behaviour outside the profile is stopped`
      : w.mode === 'monitor' ? `${w.name}: monitor mode: behaviour outside the profile is flagged, not stopped` : `${w.name}: learn mode: behaviour is recorded, nothing outside the profile is flagged`,
    properties: properties({ node, workload: w.name, workloadKey: w.key, mode: w.mode }),
  }];
  if (w.quarantined) {
    out.push({ ...base, policy: 'vigil-response', rule: 'quarantined', result: 'fail', severity: 'high', message: `${w.name}: network quarantined by Vigil`, properties: properties({ node, workload: w.name, workloadKey: w.key }) });
  }
  return out;
}

const ORDER: Record<ReportOutcome, number> = { fail: 0, error: 1, warn: 2, skip: 3, pass: 4 };
const SEVERITY_ORDER: Record<ReportSeverity, number> = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };

/** A result that states how things are (a mode, a quarantine, the node's coverage), stamped with the time it was built, not an event seen. */
export function isStateResult(r: ReportResult): boolean {
  return r.policy === 'vigil-mode' || r.policy === 'vigil-node' || r.policy === 'vigil-response';
}

/**
 * The most telling results first (failures, then by severity, then what was
 * seen, most recent first, before states), cut at `max`. States are not
 * ordered by their timestamp: it is the build time, and an order that moved
 * with the clock would rewrite an unchanged report.
 */
export function bound(results: ReportResult[], max: number): ReportBody {
  const seen = (r: ReportResult): number => (isStateResult(r) ? -1 : r.timestamp.seconds);
  const sorted = [...results].sort((a, b) =>
    ORDER[a.result] - ORDER[b.result] || SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || seen(b) - seen(a) || (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0));
  const kept = sorted.slice(0, max);
  const summary: Record<ReportOutcome, number> = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const r of kept) summary[r.result]++;
  return { results: kept, summary, omitted: sorted.length - kept.length };
}

export interface BuiltReports {
  /** By namespace. */
  namespaces: Map<string, ReportBody>;
  cluster: ReportBody;
}

export function buildReports(input: { node: string; workloads: ReportWorkload[]; findings: Findings; facts: NodeFacts; maxResults: number; now?: number }): BuiltReports {
  const now = input.now ?? Date.now();
  const byNs = new Map<string, ReportResult[]>();
  const cluster: ReportResult[] = [];
  const nodeResource: ReportResource = { apiVersion: 'v1', kind: 'Node', name: input.node };
  for (const w of input.workloads) {
    if (w.kind === 'k8s' && w.namespace) {
      const owner = ownerOf(w.key);
      const list = byNs.get(w.namespace) ?? [];
      list.push(...postureResults(w, input.node, owner, now), ...input.findings.of(w.key).map((f) => findingResult(f, w, input.node, owner)));
      byNs.set(w.namespace, list);
    } else {
      // The node's own processes and anything not in a pod: about the node.
      cluster.push(...input.findings.of(w.key).map((f) => findingResult(f, w, input.node, nodeResource)));
    }
  }
  const f = input.facts;
  const base = { source: REPORT_SOURCE, category: 'Runtime coverage', scored: true, timestamp: stamp(now), resources: [nodeResource] };
  cluster.push(
    { ...base, policy: 'vigil-node', rule: 'probe-connected', result: f.probeConnected ? 'pass' : 'fail', severity: f.probeConnected ? 'info' : 'high', message: f.probeConnected ? `${input.node}: the probe is connected` : `${input.node}: no probe connected: nothing is observed`, properties: properties({ node: input.node }) },
    { ...base, policy: 'vigil-node', rule: 'kernel-enforcement', result: f.kernelGaps.length ? 'warn' : 'pass', severity: f.kernelGaps.length ? 'medium' : 'info', message: f.kernelGaps.length ? `${input.node}: ${f.kernelGaps.join('; ')}` : `${input.node}: every kind of enforcement is done in the kernel`, properties: properties({ node: input.node }) },
    { ...base, policy: 'vigil-node', rule: 'no-event-loss', result: f.eventsLost ? 'fail' : 'pass', severity: f.eventsLost ? 'high' : 'info', message: f.eventsLost ? `${input.node}: ${f.eventsLost} events never reached the engine` : `${input.node}: no events lost`, properties: properties({ node: input.node, eventsLost: f.eventsLost }) },
  );
  const namespaces = new Map<string, ReportBody>();
  for (const [ns, results] of byNs) namespaces.set(ns, bound(results, input.maxResults));
  return { namespaces, cluster: bound(cluster, input.maxResults) };
}

/** A report's object name: one per node, so nodes never write over each other. */
export function reportName(node: string): string {
  const base = `vigil-${node.toLowerCase().replace(/[^a-z0-9.-]+/g, '-')}`.slice(0, 230).replace(/[-.]+$/, '');
  return base === `vigil-${node}` ? base : `${base}-${createHash('sha256').update(node).digest('hex').slice(0, 8)}`;
}

/** The value of the `vigil.dev/node` label on a node's reports (a label value: at most 63 characters). */
export function nodeLabel(node: string): string {
  return reportName(node).slice('vigil-'.length, 'vigil-'.length + 63).replace(/[-.]+$/, '');
}

/** The object to write, for one API (wgpolicyk8s.io or openreports.io). */
export function reportObject(api: ReportApi, body: ReportBody, node: string, namespace: string | null): Record<string, unknown> {
  const kind = namespace === null ? api.cluster.kind : api.namespaced.kind;
  return {
    apiVersion: `${api.group}/${api.version}`,
    kind,
    metadata: {
      name: reportName(node),
      ...(namespace !== null ? { namespace } : {}),
      labels: { 'app.kubernetes.io/managed-by': 'vigil', 'vigil.dev/node': nodeLabel(node) },
      annotations: { [OMITTED_ANNOTATION]: String(body.omitted) },
    },
    ...(namespace === null ? { scope: { apiVersion: 'v1', kind: 'Node', name: node } } : {}),
    summary: body.summary,
    results: body.results,
  };
}

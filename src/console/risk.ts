// Risk scores from what Vigil knows, each factor shown with its points so
// a person can see why: a workload's mode (learning flags nothing), open
// anomalies, privileged containers, executables run as root, ports open
// beyond loopback, connections to new destinations, severe alerts, and
// enforcement this node cannot do. The node's score adds what is true of
// the node (no probe, events lost, kernel gaps) to its riskiest workload.
// The weights are a judgement, stated here and in the README; they rank,
// they do not measure.
import type { RiskFactor, RiskScore } from './api.js';

export interface WorkloadRiskInput {
  name: string;
  namespace: string;
  mode: string;
  quarantined: boolean;
  /** null: not known on this node. */
  privileged: boolean | null;
  openAnomalies: { kind: string; what: string }[];
  rootExecutables: string[];
  listening: string[];
  exposed: string[];
  criticalAlerts: number;
  errorAlerts: number;
  enforcementGaps: string[];
}

export interface NodeRiskInput {
  node: string;
  probeConnected: boolean;
  eventsLost: number;
  kernelGaps: string[];
  workloads: RiskScore[];
}

const list = (xs: string[], n = 3): string => `${xs.slice(0, n).join(', ')}${xs.length > n ? `, … (${xs.length - n} more)` : ''}`;

export function level(score: number): RiskScore['level'] {
  return score >= 70 ? 'critical' : score >= 45 ? 'high' : score >= 20 ? 'medium' : 'low';
}

export function workloadRisk(w: WorkloadRiskInput): RiskScore {
  const f: RiskFactor[] = [];
  const modePoints: Record<string, number> = { learn: 25, monitor: 10, enforce: 0 };
  f.push({
    id: 'mode', label: 'Mode', points: modePoints[w.mode] ?? 25,
    detail: w.mode === 'learn' ? 'learning: behaviour outside the profile is recorded, not flagged' : w.mode === 'monitor' ? 'monitor: anomalies are flagged, not stopped' : 'enforce: behaviour outside the profile is stopped',
  });
  if (w.mode === 'enforce' && w.enforcementGaps.length) {
    f.push({ id: 'enforcement-gaps', label: 'Enforcement gaps', points: Math.min(10, 5 * w.enforcementGaps.length), detail: list(w.enforcementGaps, 2) });
  }
  const anomalies = w.openAnomalies.filter((a) => a.kind !== 'new-egress');
  f.push({ id: 'open-anomalies', label: 'Open anomalies', points: Math.min(30, 5 * anomalies.length), detail: anomalies.length ? `${anomalies.length}: ${list(anomalies.map((a) => `${a.kind} ${a.what}`))}` : 'none' });
  const egress = w.openAnomalies.filter((a) => a.kind === 'new-egress');
  f.push({ id: 'new-egress', label: 'Egress to new peers', points: Math.min(20, 7 * egress.length), detail: egress.length ? list(egress.map((a) => a.what)) : 'none' });
  f.push({
    id: 'privileged', label: 'Privileged container', points: w.privileged ? 20 : 0,
    detail: w.privileged === null ? 'not known on this node' : w.privileged ? 'runs privileged: a breakout reaches the node' : 'no',
  });
  f.push({ id: 'root-processes', label: 'Processes run as root', points: w.rootExecutables.length ? 10 : 0, detail: w.rootExecutables.length ? `${w.rootExecutables.length}: ${list(w.rootExecutables)}` : 'none seen' });
  f.push({
    id: 'exposed-ports', label: 'Listening beyond loopback', points: Math.min(15, 5 * w.exposed.length),
    detail: w.exposed.length ? list(w.exposed) : w.listening.length ? `loopback only: ${list(w.listening)}` : 'none seen',
  });
  const severe = w.criticalAlerts * 15 + w.errorAlerts * 5;
  f.push({
    id: 'severe-alerts', label: 'Critical and error alerts', points: Math.min(30, severe),
    detail: w.criticalAlerts || w.errorAlerts ? `${w.criticalAlerts} critical or worse, ${w.errorAlerts} error` : 'none',
  });
  if (w.quarantined) f.push({ id: 'quarantined', label: 'Quarantined', points: 0, detail: 'network cut: contained, and something made it necessary' });
  const score = Math.min(100, f.reduce((n, x) => n + x.points, 0));
  return { subject: w.name, kind: 'workload', namespace: w.namespace, score, level: level(score), factors: f };
}

export function nodeRisk(n: NodeRiskInput): RiskScore {
  const worst = [...n.workloads].sort((a, b) => b.score - a.score)[0];
  const learning = n.workloads.filter((w) => w.factors.some((f) => f.id === 'mode' && f.points >= 25));
  const f: RiskFactor[] = [
    { id: 'probe', label: 'Probe', points: n.probeConnected ? 0 : 30, detail: n.probeConnected ? 'connected' : 'no probe connected: nothing is observed' },
    { id: 'riskiest-workload', label: 'Riskiest workload', points: worst ? Math.round(worst.score / 2) : 0, detail: worst ? `${worst.subject} (${worst.score})` : 'no workloads' },
    { id: 'learning', label: 'Workloads still learning', points: Math.min(20, 4 * learning.length), detail: learning.length ? `${learning.length} of ${n.workloads.length}` : 'none' },
    { id: 'kernel-gaps', label: 'Kernel enforcement gaps', points: n.kernelGaps.length ? 10 : 0, detail: n.kernelGaps.length ? list(n.kernelGaps, 2) : 'none' },
    { id: 'losses', label: 'Events lost', points: n.eventsLost ? 10 : 0, detail: n.eventsLost ? `${n.eventsLost} events never reached the engine` : 'none' },
  ];
  const score = Math.min(100, f.reduce((s, x) => s + x.points, 0));
  return { subject: n.node, kind: 'node', namespace: '', score, level: level(score), factors: f };
}

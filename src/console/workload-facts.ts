// What the console knows about each workload beyond its profile, for the
// workload table and the risk score: executables run as root, ports it
// listens on (and whether beyond loopback), anomalies not accepted into
// the profile, and severe alerts. Every set is bounded per workload.
import { createHash } from 'node:crypto';
import { severity, type Alert } from '../model/alert.js';
import type { Event } from '../model/event.js';
import type { OpenAnomaly } from './api.js';

const MAX_PER_SET = 64;
const MAX_ANOMALIES = 256;

export interface Facts {
  rootExecutables: Set<string>;
  /** "tcp 0.0.0.0:8080" */
  listening: Set<string>;
  exposed: Set<string>;
  anomalies: Map<string, OpenAnomaly>;
  anomalyAlerts: number;
  criticalAlerts: number;
  errorAlerts: number;
  /** Anomalies not kept because the workload already had MAX_ANOMALIES open. */
  anomaliesDropped: number;
}

function add(set: Set<string>, v: string): void {
  if (set.size < MAX_PER_SET) set.add(v);
}

function isLoopback(addr: string): boolean {
  return addr.startsWith('127.') || addr === '::1';
}

/** A stable id for an anomaly of a workload: what the accept button names. */
export function anomalyId(workloadKey: string, kind: string, what: string): string {
  return createHash('sha256').update(`${workloadKey}\0${kind}\0${what}`).digest('hex').slice(0, 16);
}

export class WorkloadFacts {
  private readonly facts = new Map<string, Facts>();

  of(key: string): Facts {
    let f = this.facts.get(key);
    if (!f) {
      f = { rootExecutables: new Set(), listening: new Set(), exposed: new Set(), anomalies: new Map(), anomalyAlerts: 0, criticalAlerts: 0, errorAlerts: 0, anomaliesDropped: 0 };
      this.facts.set(key, f);
    }
    return f;
  }

  onEvent(e: Event): void {
    const w = e.workload;
    if (!w) return;
    if (e.type === 'exec' && e.uid === 0 && e.path) add(this.of(w.key).rootExecutables, e.path);
    else if ((e.type === 'listen' || (e.type === 'bind' && e.protocol === 'udp')) && e.localPort) {
      const f = this.of(w.key);
      const addr = e.localAddr || '0.0.0.0';
      const what = `${e.protocol || 'tcp'} ${addr.includes(':') ? `[${addr}]` : addr}:${e.localPort}`;
      add(f.listening, what);
      if (!isLoopback(addr)) add(f.exposed, what);
    }
  }

  onAlert(a: Alert): void {
    const key = a.workload.key;
    if (!key) return;
    const f = this.of(key);
    if (severity(a.priority) <= severity('critical')) f.criticalAlerts += a.count || 1;
    else if (a.priority === 'error') f.errorAlerts += a.count || 1;
    const kind = a.fields['vigil.anomaly'];
    const what = a.fields['vigil.what'];
    if (a.source !== 'profile' || typeof kind !== 'string' || typeof what !== 'string') return;
    f.anomalyAlerts += a.count || 1;
    const id = anomalyId(key, kind, what);
    const open = f.anomalies.get(id);
    if (open) {
      open.count += a.count || 1;
      open.lastSeen = a.time;
      return;
    }
    if (f.anomalies.size >= MAX_ANOMALIES) {
      f.anomaliesDropped++;
      return;
    }
    f.anomalies.set(id, { id, kind, what, message: a.message, count: a.count || 1, firstSeen: a.time, lastSeen: a.time, alertId: a.id,
      process: { exe: a.process.exe, parent: a.process.parents[0]?.exe ?? '', uid: a.process.uid },
    });
  }

  /** The anomaly is now part of the profile. */
  accepted(key: string, id: string): void {
    this.facts.get(key)?.anomalies.delete(id);
  }
}

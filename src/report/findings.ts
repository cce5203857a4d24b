// Vigil's findings per workload, for reports: every alert folded into one
// finding per (workload, source, rule, what) with a count, the worst
// priority and when it was first and last seen. Bounded per workload
// (the least recently seen finding goes first, counted).
import { severity, type Alert, type Priority } from '../model/alert.js';

export interface Finding {
  workloadKey: string;
  source: Alert['source'];
  rule: string;
  /** The anomaly's `what`, or '' for a rule (one finding per rule). */
  what: string;
  priority: Priority;
  message: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
  tags: string[];
  /** What was done about the latest one. */
  action: string;
  exe: string;
  pod: string;
}

const MAX_PER_WORKLOAD = 200;

export class Findings {
  private readonly byWorkload = new Map<string, Map<string, Finding>>();
  /** Findings dropped to keep each workload within its bound. */
  evicted = 0;

  add(a: Alert): void {
    const key = a.workload.key;
    // Informational alerts (a promotion, a summary) are not findings.
    if (!key || severity(a.priority) > severity('notice')) return;
    const what = typeof a.fields['vigil.what'] === 'string' ? (a.fields['vigil.what'] as string) : '';
    const id = `${a.source}\0${a.rule}\0${what}`;
    let m = this.byWorkload.get(key);
    if (!m) this.byWorkload.set(key, (m = new Map()));
    const at = Date.parse(a.time) || Date.now();
    const f = m.get(id);
    if (f) {
      m.delete(id); // re-inserted last: the map's order is recency
      f.count += a.count || 1;
      f.lastSeen = Math.max(f.lastSeen, at);
      if (severity(a.priority) < severity(f.priority)) f.priority = a.priority;
      f.message = a.message;
      f.action = a.action.taken;
      f.exe = a.process.exe;
      f.pod = a.workload.pod;
      m.set(id, f);
      return;
    }
    if (m.size >= MAX_PER_WORKLOAD) {
      m.delete(m.keys().next().value!);
      this.evicted++;
    }
    m.set(id, {
      workloadKey: key, source: a.source, rule: a.rule, what, priority: a.priority, message: a.message, count: a.count || 1,
      firstSeen: at, lastSeen: at, tags: a.tags, action: a.action.taken, exe: a.process.exe, pod: a.workload.pod,
    });
  }

  of(key: string): Finding[] {
    return [...(this.byWorkload.get(key)?.values() ?? [])];
  }

  keys(): string[] {
    return [...this.byWorkload.keys()];
  }
}

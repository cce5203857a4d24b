// The probe checks its own kernel state about once a second (bpf/probe/
// selfcheck.cc): the globals and maps it wrote, the links it attached.
// What someone else changed (bpftool, any bpf() call as root) it puts back
// and reports; each such change is a critical alert here, since it is what
// switches enforcement off or hides a process. `vigil status` shows when
// each probe last checked and what it found.
import type { Logger } from '../log.js';
import { alertAbout, type Alert } from '../model/alert.js';
import { nodeWorkload } from '../model/workload.js';
import type { ProbeSession } from './session.js';
import type { WireSelfCheck, WireTampering } from './wire.js';

/** One probe session's self-check, as `vigil status` shows it. */
export interface SelfCheckState {
  checks: number;
  tampered: number;
  intervalMs: number;
  lastCheckAtMs: number;
  watched: string[];
  /** The latest change found, as a sentence; '' for none. */
  lastFound: string;
  lastFoundAtMs: number;
}

export interface SelfCheckOptions {
  raise(a: Alert): void;
  log: Logger;
  now?: () => number;
}

/** One finding as people read it. */
export function describeTampering(t: WireTampering): string {
  const what = t.object === 'link' ? `link ${t.name}`
    : t.object === 'global' ? `global ${t.field || t.name}`
    : t.object === 'pin' ? `enforcement pin ${t.field || t.name}`
    : `map ${t.name}${t.field ? ` (${t.field})` : ''}`;
  const undone = t.restored ? 'put back by the probe' : `NOT put back: ${t.error || 'unknown reason'}`;
  return `${what}: found ${t.found}, expected ${t.expected}; ${undone}`;
}

export class ProbeSelfChecks {
  /** Findings raised since the engine started (each an alert). */
  tamperings = 0;
  private readonly states = new WeakMap<ProbeSession, SelfCheckState>();
  private readonly now: () => number;

  constructor(private readonly o: SelfCheckOptions) {
    this.now = o.now ?? Date.now;
  }

  state(s: ProbeSession): SelfCheckState | null {
    return this.states.get(s) ?? null;
  }

  report(s: ProbeSession, r: WireSelfCheck): void {
    const now = this.now();
    const st = this.states.get(s) ?? { checks: 0, tampered: 0, intervalMs: 0, lastCheckAtMs: 0, watched: [], lastFound: '', lastFoundAtMs: 0 };
    st.checks = r.checks;
    st.tampered = r.tampered;
    st.intervalMs = r.intervalMs;
    st.lastCheckAtMs = now;
    if (r.watched.length) st.watched = r.watched;
    for (const t of r.found) {
      const message = `someone changed the probe's kernel state on ${s.nodeName}: ${describeTampering(t)}. Only a process with bpf() rights (root, CAP_BPF/CAP_SYS_ADMIN) can: find who (bpf events, login records) and treat the node as compromised`;
      st.lastFound = describeTampering(t);
      st.lastFoundAtMs = now;
      this.tamperings++;
      this.o.log.error({ node: s.nodeName, probePid: s.hello.probePid, ...t }, 'enforcement tampered with');
      this.o.raise(alertAbout(nodeWorkload(s.nodeName), s.nodeName, {
        source: 'engine', rule: 'Probe state tampered', priority: 'critical', message,
        fields: {
          'vigil.probe.pid': s.hello.probePid,
          'vigil.tamper.object': t.object, 'vigil.tamper.name': t.name, 'vigil.tamper.field': t.field,
          'vigil.tamper.found': t.found, 'vigil.tamper.expected': t.expected, 'vigil.tamper.restored': t.restored,
        },
        tags: ['vigil', 'tampering', 'T1562.001'],
      }));
    }
    this.states.set(s, st);
  }
}

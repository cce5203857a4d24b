// The engine's parts as the console sees them: the narrow ConsoleSource
// built from the components the engine wires (it hands them over; the
// console imports nothing above its layer).
import { join } from 'node:path';
import type { ProfileControl } from '../detect/profile/detector.js';
import { kernelPolicy } from '../detect/profile/policy.js';
import type { WorkloadRegistry } from '../enrich/workloads.js';
import type { Alert } from '../model/alert.js';
import { MECHANISMS, type Event } from '../model/event.js';
import type { ProbeSession } from '../probe/session.js';
import type { Captures, CaptureOptions } from '../respond/capture.js';
import type { Enforcement } from '../respond/enforcement.js';
import type { Quarantines } from '../respond/quarantine.js';
import type { ConsoleAudit, ConsoleSource, Outcome, SourceWorkload } from './source.js';

export interface ConsoleParts {
  nodeName: string;
  stateDir: string;
  protectedPaths: readonly string[];
  captureDefaults: CaptureOptions;
  registry: WorkloadRegistry;
  profiles: ProfileControl;
  quarantines: Quarantines;
  captures: Captures;
  enforcement: Enforcement;
  /** The connected probe, if any, and every session (for their loss counters). */
  probe: () => ProbeSession | undefined;
  sessions: () => readonly ProbeSession[];
  onAlert(fn: (a: Alert) => void): () => void;
  onEvent(fn: (e: Event) => void): () => void;
  /** The engine's audit log (control/audit.ts), as the engine adapts it. */
  audit: ConsoleAudit;
}

export function consoleSource(p: ConsoleParts): ConsoleSource {
  const notFound = (key: string): Outcome => ({ ok: false, error: `no workload '${key}'`, detail: '', warnings: [] });
  const find = (key: string) => p.registry.find(key);
  const profile = (key: string) => {
    try {
      return p.profiles.export(key)[0] ?? null;
    } catch {
      return null; // no profile yet
    }
  };
  return {
    nodeName: p.nodeName,
    audit: p.audit,
    captureDir: join(p.stateDir, 'captures'),
    onAlert: p.onAlert,
    onEvent: p.onEvent,
    workloads: (): SourceWorkload[] =>
      p.registry.all().map((w) => {
        // A container's image and privilege are its runtime's facts
        // (enrich/runtime/): unknown (null, no image) where no runtime
        // described it, never guessed.
        const c = w.containerInfo;
        return {
          key: w.key, name: w.name, kind: w.kind, namespace: w.namespace, mode: w.mode, events: w.events, labels: w.labels,
          privileged: c ? c.privileged : null, images: c?.image ? [c.image] : [],
        };
      }),
    profile,
    quarantine: (key) => {
      const q = p.quarantines.list().find((r) => r.key === key);
      return q ? { since: q.since, reason: q.reason } : null;
    },
    enforcement: (key) => {
      const doc = find(key) ? profile(key) : null;
      return { active: p.enforcement.isEnforced(key), gaps: doc ? p.enforcement.gaps(kernelPolicy(doc, p.protectedPaths)) : [] };
    },
    probe: () => {
      const s = p.probe();
      const lost = p.sessions().reduce((n, x) => n + x.losses.ringbufFull + x.losses.inflightFull + x.losses.queueFull + x.losses.decodeErrors, 0);
      return {
        connected: !!s?.connected, capabilities: s?.hello.capabilities ?? [],
        enforcement: (s?.hello.enforcement ?? []).map((h) => ({ operation: h.operation, mechanism: MECHANISMS[h.mechanism] ?? '', program: h.program, why: h.why })),
        eventsLost: lost,
      };
    },
    actions: {
      setMode: async (key, mode) => {
        const w = find(key);
        if (!w) return notFound(key);
        const r = await p.profiles.changeMode(w, mode);
        return { ok: r.ok, error: r.error, detail: r.ok ? `${w.name} is now in ${mode} mode` : '', warnings: r.warnings };
      },
      quarantine: async (key, reason) => {
        const w = find(key);
        if (!w) return notFound(key);
        return { ...(await p.quarantines.quarantine(w, reason)), warnings: [] };
      },
      release: async (key) => ({ ...(await p.quarantines.release(key)), warnings: [] }),
      capture: async (key, seconds) => {
        const w = find(key);
        if (!w) return { ok: false, error: `no workload '${key}'`, file: '' };
        return p.captures.start(w, { ...p.captureDefaults, seconds: seconds || p.captureDefaults.seconds });
      },
      applyProfile: async (doc) => {
        try {
          const r = await p.profiles.apply([doc]);
          return { ok: true, error: '', detail: `applied ${r.applied.join(', ')}`, warnings: r.warnings };
        } catch (err) {
          return { ok: false, error: (err as Error).message, detail: '', warnings: [] };
        }
      },
    },
  };
}

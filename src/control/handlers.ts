// What each control call does (control.proto ControlService): workloads
// named by the CLI are looked up here, and the stages the engine wires do
// the work: modes and policies (profiles), quarantine, capture and kill
// (responses).
import { stringify as yamlStringify } from 'yaml';
import type { ProfileDetector } from '../detect/profile/detector.js';
import { parsePolicyYaml, PolicyError, toNetworkPolicy, toYaml } from '../detect/profile/policy.js';
import type { WorkloadRegistry } from '../enrich/workloads.js';
import { MODES, type Mode } from '../model/mode.js';
import type { CommandResult } from '../model/result.js';
import type { Workload } from '../model/workload.js';
import type { CaptureOptions, Captures } from '../respond/capture.js';
import type { Quarantines } from '../respond/quarantine.js';
import type { ActionReply, CaptureReply, ControlHandlers, StatusReply } from './methods.js';

export interface ControlDeps {
  status: () => StatusReply;
  workloads: Pick<WorkloadRegistry, 'find'>;
  profiles: Pick<ProfileDetector, 'changeMode' | 'export' | 'apply' | 'diff'>;
  quarantines: Pick<Quarantines, 'quarantine' | 'release'>;
  captures: Pick<Captures, 'start'>;
  /** What a capture records when the call leaves seconds or packets at 0 (config capture). */
  captureDefaults: CaptureOptions;
  kill: (pid: number) => Promise<CommandResult>;
}

const noWorkload = (name: string): string => `no workload '${name}' (vigil status lists them)`;

const policyError = (err: unknown): string => (err instanceof PolicyError ? err.problems.join('\n') : (err as Error).message);

export function controlHandlers(d: ControlDeps): ControlHandlers {
  const byWorkload = async (name: string, fn: (w: Workload) => Promise<ActionReply>): Promise<ActionReply> => {
    const w = d.workloads.find(name);
    if (!w) return { ok: false, error: noWorkload(name), detail: '' };
    return fn(w);
  };

  return {
    Status: () => d.status(),
    SetMode: async (r) => {
      const w = d.workloads.find(r.workload);
      if (!w) return { ok: false, error: noWorkload(r.workload), from: '', warnings: [] };
      if (!(MODES as readonly string[]).includes(r.mode)) return { ok: false, error: `mode must be one of ${MODES.join(', ')}`, from: w.mode, warnings: [] };
      const from = w.mode;
      return { ...(await d.profiles.changeMode(w, r.mode as Mode)), from };
    },
    ExportPolicy: async (r) => {
      try {
        const docs = d.profiles.export(r.workload || undefined);
        const text = r.format === 'networkpolicy'
          ? docs.map((doc) => yamlStringify(toNetworkPolicy(doc, d.workloads.find(doc.spec.workload.key)?.labels ?? {}), { lineWidth: 0 })).join('---\n')
          : toYaml(docs);
        return { text, source: '', ok: true, error: '' };
      } catch (err) {
        return { text: '', source: '', ok: false, error: (err as Error).message };
      }
    },
    ApplyPolicy: async (r) => {
      try {
        // Every document is validated before anything changes.
        const docs = parsePolicyYaml(r.text, r.source || 'policy');
        return { ok: true, error: '', ...(await d.profiles.apply(docs)) };
      } catch (err) {
        return { ok: false, error: policyError(err), applied: [], warnings: [] };
      }
    },
    DiffPolicy: async (r) => {
      try {
        const docs = parsePolicyYaml(r.text, r.source || 'policy');
        const lines = docs.flatMap((doc) => {
          const diff = d.profiles.diff(doc);
          return [`${doc.spec.workload.name}: ${diff.length ? `${diff.length} differences` : 'no differences'}`, ...diff.map((l) => `  ${l}`)];
        });
        return { text: `${lines.join('\n')}\n`, source: r.source, ok: true, error: '' };
      } catch (err) {
        return { text: '', source: r.source, ok: false, error: policyError(err) };
      }
    },
    Quarantine: (r) => byWorkload(r.workload, (w) => d.quarantines.quarantine(w, r.reason || 'by hand')),
    Release: (r) => d.quarantines.release(r.workload),
    Capture: async (r): Promise<CaptureReply> => {
      const failed = (error: string): CaptureReply => ({ ok: false, error, file: '', packets: 0, bytes: 0, ended: '' });
      const w = d.workloads.find(r.workload);
      if (!w) return failed(noWorkload(r.workload));
      const c = d.captureDefaults;
      const started = await d.captures.start(w, { ...c, seconds: r.seconds || c.seconds, maxPackets: r.maxPackets || c.maxPackets });
      if (!started.ok || !started.finished) return failed(started.error);
      return started.finished;
    },
    Kill: async (r) => d.kill(r.pid),
  };
}

// What each control call does (control.proto ControlService): workloads
// named by the CLI are looked up here, and the stages the engine wires do
// the work: modes and policies (profiles), quarantine, capture and kill
// (responses). Every call that changes protection is audited with its
// caller (audit.ts), whatever its outcome.
import { createHash } from 'node:crypto';
import { stringify as yamlStringify } from 'yaml';
import type { ProfileControl } from '../detect/profile/detector.js';
import { networkPolicyYaml, parsePolicyYaml, PolicyError, toCiliumNetworkPolicy, toYaml } from '../detect/profile/policy.js';
import type { WorkloadRegistry } from '../enrich/workloads.js';
import { MODES, type Mode } from '../model/mode.js';
import type { CommandResult } from '../model/result.js';
import type { CaptureOptions, Captures } from '../respond/capture.js';
import type { Quarantines } from '../respond/quarantine.js';
import type { Workload } from '../model/workload.js';
import type { AuditLog } from './audit.js';
import type { ActionReply, CaptureReply, ControlHandlers, StatusReply } from './methods.js';
import type { Caller } from './peer.js';

export interface ControlDeps {
  status: () => StatusReply;
  workloads: Pick<WorkloadRegistry, 'find' | 'findTarget'>;
  profiles: Pick<ProfileControl, 'changeMode' | 'export' | 'apply' | 'diff'>;
  quarantines: Pick<Quarantines, 'quarantine' | 'release'>;
  captures: Pick<Captures, 'start'>;
  /** What a capture records when the call leaves seconds or packets at 0 (config capture). */
  captureDefaults: CaptureOptions;
  kill: (pid: number) => Promise<CommandResult>;
  audit: Pick<AuditLog, 'record'>;
}

/** How much a mode protects: a change to a lower one lowers protection. */
const RANK: Record<Mode, number> = { learn: 0, monitor: 1, enforce: 2 };

const noWorkload = (name: string): string => `no workload '${name}' (vigil status lists them)`;
const noTarget = (name: string): string => `no workload, pod or container '${name}' (vigil status lists workloads)`;

const policyError = (err: unknown): string => (err instanceof PolicyError ? err.problems.join('\n') : (err as Error).message);

export function controlHandlers(d: ControlDeps): ControlHandlers {
  /** Audits one call: its caller, what was asked and what came of it. */
  const audit = async (
    caller: () => Promise<Caller>,
    what: { action: Parameters<AuditLog['record']>[0]['action']; target: string; request: Record<string, string | number | boolean>; lowersProtection: boolean; workload: Workload | null },
    result: { ok: boolean; error: string; detail?: string },
  ): Promise<void> => {
    const { workload, ...rest } = what;
    d.audit.record({ ...rest, ok: result.ok, outcome: result.ok ? result.detail || 'ok' : result.error, caller: await caller() }, workload);
  };

  return {
    Status: () => d.status(),
    SetMode: async (r, caller) => {
      const w = d.workloads.find(r.workload);
      const valid = (MODES as readonly string[]).includes(r.mode);
      const from = w?.mode ?? '';
      const reply = !w
        ? { ok: false, error: noWorkload(r.workload), from: '', warnings: [] }
        : !valid
          ? { ok: false, error: `mode must be one of ${MODES.join(', ')}`, from, warnings: [] }
          : { ...(await d.profiles.changeMode(w, r.mode as Mode)), from };
      const lowers = !!w && valid && RANK[r.mode as Mode] < RANK[from as Mode];
      await audit(caller, { action: 'set-mode', target: w?.name ?? r.workload, request: { mode: r.mode, from }, lowersProtection: lowers, workload: w ?? null }, { ...reply, detail: reply.warnings.join('; ') });
      return reply;
    },
    ExportPolicy: async (r) => {
      try {
        const docs = d.profiles.export(r.workload || undefined);
        const labels = (key: string) => d.workloads.find(key)?.labels ?? {};
        const text = r.format === 'networkpolicy'
          ? docs.map((doc) => networkPolicyYaml(doc, labels(doc.spec.workload.key))).join('---\n')
          : r.format === 'ciliumnetworkpolicy'
            ? docs.map((doc) => yamlStringify(toCiliumNetworkPolicy(doc, labels(doc.spec.workload.key)), { lineWidth: 0 })).join('---\n')
            : toYaml(docs);
        return { text, source: '', ok: true, error: '' };
      } catch (err) {
        return { text: '', source: '', ok: false, error: (err as Error).message };
      }
    },
    ApplyPolicy: async (r, caller) => {
      const request = { bytes: Buffer.byteLength(r.text), sha256: createHash('sha256').update(r.text).digest('hex'), source: r.source, documents: 0 };
      let reply;
      let targets: string[] = [];
      let lowers = true; // unread: it may widen anything
      try {
        // Every document is validated before anything changes.
        const docs = parsePolicyYaml(r.text, r.source || 'policy');
        request.documents = docs.length;
        targets = docs.map((doc) => doc.spec.workload.name);
        // A policy replaces allow-lists: for a workload the kernel guards, it can let more through.
        lowers = docs.some((doc) => {
          const w = d.workloads.find(doc.spec.workload.key) ?? d.workloads.find(doc.spec.workload.name);
          return (w && w.mode !== 'learn') || doc.spec.mode !== 'learn';
        });
        reply = { ok: true, error: '', ...(await d.profiles.apply(docs)) };
      } catch (err) {
        reply = { ok: false, error: policyError(err), applied: [], warnings: [] };
      }
      const one = targets.length === 1 ? d.workloads.find(targets[0]!) ?? null : null;
      await audit(caller, { action: 'apply-policy', target: targets.join(', '), request, lowersProtection: lowers, workload: one }, { ...reply, detail: reply.applied.join(', ') });
      return reply;
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
    // A workload (every replica), or one pod or container of it.
    Quarantine: async (r, caller) => {
      const w = d.workloads.findTarget(r.workload);
      const reply: ActionReply = w ? await d.quarantines.quarantine(w, r.reason || 'by hand') : { ok: false, error: noTarget(r.workload), detail: '' };
      await audit(caller, { action: 'quarantine', target: w?.name ?? r.workload, request: { reason: r.reason }, lowersProtection: false, workload: w ?? null }, reply);
      return reply;
    },
    Release: async (r, caller) => {
      const reply = await d.quarantines.release(r.workload);
      const w = d.workloads.findTarget(r.workload) ?? null;
      await audit(caller, { action: 'release', target: w?.name ?? r.workload, request: {}, lowersProtection: true, workload: w }, reply);
      return reply;
    },
    Capture: async (r, caller): Promise<CaptureReply> => {
      const failed = (error: string): CaptureReply => ({ ok: false, error, file: '', packets: 0, bytes: 0, ended: '' });
      const w = d.workloads.findTarget(r.workload);
      const c = d.captureDefaults;
      const options = { ...c, seconds: r.seconds || c.seconds, maxPackets: r.maxPackets || c.maxPackets };
      const started = w ? await d.captures.start(w, options) : { ok: false, error: noTarget(r.workload), file: '', finished: undefined };
      // Audited as it starts (a capture runs for seconds to an hour), not when it ends.
      await audit(caller, { action: 'capture', target: w?.name ?? r.workload, request: { seconds: options.seconds, maxPackets: options.maxPackets }, lowersProtection: false, workload: w ?? null }, { ok: started.ok, error: started.error, detail: 'started' });
      if (!started.ok || !started.finished) return failed(started.error);
      return started.finished;
    },
    Kill: async (r, caller) => {
      const reply = await d.kill(r.pid);
      await audit(caller, { action: 'kill', target: String(r.pid), request: { pid: r.pid }, lowersProtection: false, workload: null }, reply);
      return reply;
    },
  };
}

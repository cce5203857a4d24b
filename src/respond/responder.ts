// Automatic responses: for each alert, the actions the config chooses by
// priority, source, rule and the workload's mode — kill the process,
// quarantine the workload, capture its packets. The alert carries what was
// done; a response that could not be carried out is itself an alert.
import type { Alert, AlertAction, AlertSource, Priority } from '../model/alert.js';
import { severity } from '../model/alert.js';
import type { Mode } from '../model/mode.js';
import type { ProcessTree } from '../enrich/process-tree.js';
import type { WorkloadRegistry } from '../enrich/workloads.js';
import type { CommandResult } from '../model/result.js';
import type { Logger } from '../log.js';
import type { Captures, CaptureOptions } from './capture.js';
import type { ProbeLink } from '../probe/link.js';
import type { Quarantines } from './quarantine.js';

export type ResponseAction = 'kill' | 'quarantine' | 'capture';

export interface ResponseRule {
  /** At or above this priority. */
  priority: Priority;
  /** Workload modes it applies in; empty: all. */
  modes: Mode[];
  /** Alert sources it applies to; empty: all. */
  sources: AlertSource[];
  /** Rule names (or anomaly kinds); empty: all. */
  rules: string[];
  actions: ResponseAction[];
}

export interface FailureReport {
  alert: Alert;
  action: ResponseAction;
  error: string;
}

export class Responder {
  /** Receives responses that failed, to raise them as alerts. */
  onFailure: (f: FailureReport) => void = () => {};

  constructor(
    private readonly rules: readonly ResponseRule[],
    private readonly captureDefaults: CaptureOptions,
    private readonly quarantines: Quarantines,
    private readonly captures: Captures,
    private readonly link: ProbeLink,
    private readonly tree: ProcessTree,
    private readonly registry: WorkloadRegistry,
    private readonly log: Logger,
  ) {}

  /** The actions the config chooses for an alert (in a stable order: capture before quarantine before kill). */
  chosen(a: Alert): ResponseAction[] {
    if (a.source === 'response' || a.source === 'engine') return [];
    const out = new Set<ResponseAction>();
    for (const r of this.rules) {
      if (severity(a.priority) > severity(r.priority)) continue;
      if (r.modes.length && !r.modes.includes(a.workload.mode as Mode)) continue;
      if (r.sources.length && !r.sources.includes(a.source)) continue;
      if (r.rules.length && !r.rules.includes(a.rule)) continue;
      for (const act of r.actions) out.add(act);
    }
    return (['capture', 'quarantine', 'kill'] as const).filter((x) => out.has(x));
  }

  /** Carries out the chosen actions and records them on the alert; null when there is nothing to do. */
  respond(a: Alert): Promise<void> | null {
    const actions = this.chosen(a);
    if (actions.length === 0) return null;
    return (async () => {
      const taken: AlertAction[] = a.action.taken !== 'none' ? [a.action] : [];
      for (const act of actions) {
        const r = await this.act(act, a);
        taken.push({ taken: r.ok ? pastTense(act) : `${act} failed`, ok: r.ok, detail: r.ok ? r.detail : r.error });
        if (!r.ok) this.onFailure({ alert: a, action: act, error: r.error });
      }
      a.action = {
        taken: taken.map((t) => t.taken).join(', '),
        ok: taken.every((t) => t.ok),
        detail: taken.map((t) => t.detail).filter(Boolean).join('; '),
      };
    })();
  }

  private async act(act: ResponseAction, a: Alert): Promise<CommandResult> {
    const w = this.registry.find(a.workload.key);
    switch (act) {
      case 'kill':
        return this.kill(a.process.pid);
      case 'quarantine':
        if (!w) return { ok: false, error: `unknown workload ${a.workload.name}`, detail: '' };
        return this.quarantines.quarantine(w, `${a.rule}: ${a.message}`);
      case 'capture': {
        if (!w) return { ok: false, error: `unknown workload ${a.workload.name}`, detail: '' };
        const r = await this.captures.start(w, this.captureDefaults);
        if (r.ok) a.fields['vigil.capture.file'] = r.file;
        return { ok: r.ok, error: r.error, detail: r.ok ? `capturing to ${r.file}` : '' };
      }
    }
  }

  /** Kills a process through the probe, refusing if the pid now belongs to another process. */
  kill(pid: number): Promise<CommandResult> {
    const p = this.tree.get(pid);
    if (p?.exited) return Promise.resolve({ ok: false, error: `pid ${pid} has already exited`, detail: '' });
    this.log.info({ pid, exe: p?.exe }, 'killing process');
    return this.link.send({ kill: { pid, signal: 9, startKtimeNs: p?.startKtimeNs ?? 0 } });
  }
}

function pastTense(act: ResponseAction): string {
  return act === 'kill' ? 'killed' : act === 'quarantine' ? 'quarantined' : 'capturing';
}

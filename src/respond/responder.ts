// Automatic responses: for each alert, the actions the config chooses by
// priority, source, rule and the workload's mode — kill the process,
// quarantine the workload, capture its packets. The alert carries what was
// done; a response that could not be carried out is itself an alert.
import { randomUUID } from 'node:crypto';
import type { Alert, AlertAction, AlertSource, Priority } from '../model/alert.js';
import { severity } from '../model/alert.js';
import type { Mode } from '../model/mode.js';
import type { ProcessTree } from '../enrich/process-tree.js';
import type { VigilCgroups } from '../enrich/vigil-cgroups.js';
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

export interface ResponderOptions {
  /** Which alerts get which actions (config responses[]). */
  rules: readonly ResponseRule[];
  /** What a capture response records (config capture, without the disk cap). */
  captureDefaults: CaptureOptions;
  quarantines: Quarantines;
  captures: Captures;
  link: ProbeLink;
  /** The processes a kill may name: one that exited, or whose pid was reused, is not killed. */
  processes: Pick<ProcessTree, 'get'>;
  registry: WorkloadRegistry;
  /** Vigil's own processes: never killed. */
  vigil: Pick<VigilCgroups, 'process'>;
  log: Logger;
  /** Raises an alert: a response that could not be carried out is one. */
  raise: (a: Alert) => void;
}

export class Responder {
  private readonly rules: readonly ResponseRule[];
  private readonly captureDefaults: CaptureOptions;
  private readonly quarantines: Quarantines;
  private readonly captures: Captures;
  private readonly link: ProbeLink;
  private readonly processes: Pick<ProcessTree, 'get'>;
  private readonly registry: WorkloadRegistry;
  private readonly vigil: Pick<VigilCgroups, 'process'>;
  private readonly log: Logger;
  private readonly raise: (a: Alert) => void;

  constructor(opts: ResponderOptions) {
    this.rules = opts.rules;
    this.captureDefaults = opts.captureDefaults;
    this.quarantines = opts.quarantines;
    this.captures = opts.captures;
    this.link = opts.link;
    this.processes = opts.processes;
    this.registry = opts.registry;
    this.vigil = opts.vigil;
    this.log = opts.log;
    this.raise = opts.raise;
  }

  /** The actions the config chooses for an alert (in a stable order: capture before quarantine before kill). */
  chosen(a: Alert): ResponseAction[] {
    if (!this.applies(a.source, a.priority, a.workload.mode, a.rule)) return [];
    const out = new Set<ResponseAction>();
    for (const r of this.rules) if (matches(r, a.source, a.priority, a.workload.mode, a.rule)) for (const act of r.actions) out.add(act);
    return (['capture', 'quarantine', 'kill'] as const).filter((x) => out.has(x));
  }

  /** Whether some response applies to an alert of this source, priority, workload mode and rule (before it is built). */
  applies(source: AlertSource, priority: Priority, mode: string, rule: string): boolean {
    if (source === 'response' || source === 'engine') return false;
    for (const r of this.rules) if (matches(r, source, priority, mode, rule) && r.actions.length > 0) return true;
    return false;
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
        if (!r.ok) this.raise(responseFailed(a, act, r.error));
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
    const p = this.processes.get(pid);
    if (p?.exited) return Promise.resolve({ ok: false, error: `pid ${pid} has already exited`, detail: '' });
    const own = this.vigil.process(pid, p?.cgroupId ?? 0);
    if (own) {
      this.log.error({ pid, exe: p?.exe, why: own }, 'not killing a process of Vigil itself');
      return Promise.resolve({ ok: false, error: `Vigil does not kill pid ${pid}: ${own}`, detail: '' });
    }
    this.log.info({ pid, exe: p?.exe }, 'killing process');
    return this.link.send({ kill: { pid, signal: 9, startKtimeNs: p?.startKtimeNs ?? 0 } });
  }
}

function matches(r: ResponseRule, source: AlertSource, priority: Priority, mode: string, rule: string): boolean {
  return severity(priority) <= severity(r.priority) && (!r.modes.length || r.modes.includes(mode as Mode)) &&
    (!r.sources.length || r.sources.includes(source)) && (!r.rules.length || r.rules.includes(rule));
}

/** The alert saying a response to `a` could not be carried out (about the same workload and process). */
function responseFailed(a: Alert, action: ResponseAction, error: string): Alert {
  const message = `could not ${action} in response to "${a.rule}": ${error}`;
  return {
    ...a, id: randomUUID(), source: 'response', rule: 'Response failed', priority: 'error',
    message, output: message, action: { taken: 'none', ok: false, detail: error }, count: 1,
  };
}

function pastTense(act: ResponseAction): string {
  return act === 'kill' ? 'killed' : act === 'quarantine' ? 'quarantined' : 'capturing';
}

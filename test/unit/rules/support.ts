// Helpers for rule tests: events as the enrich stage leaves them (with a
// real process tree and workload), and one-rule files compiled for real.
import { ProcessTree } from '../../../src/enrich/process-tree.js';
import type { Workload } from '../../../src/model/workload.js';
import type { Event, EventType } from '../../../src/model/event.js';
import { FieldContext } from '../../../src/detect/rules/context.js';
import { buildRuleSet, type RuleSet } from '../../../src/detect/rules/ruleset.js';
import { UserNames } from '../../../src/detect/rules/users.js';
import { makeEvent, type EventFields } from '../../support/events.js';

export function workload(over: Partial<Workload> = {}): Workload {
  return {
    key: 'cgroup:/shop/web', name: '/shop/web', kind: 'cgroup', namespace: '', pod: '', container: '', labels: {},
    cgroupPath: '/shop/web', mode: 'learn', events: 0, containerId: '', containerInfo: null, pathsIncomplete: 0, ...over,
  };
}

export const HOST = workload({ key: 'cgroup:/', name: '/', kind: 'host', cgroupPath: '/' });

/** A world: a process tree, a field context over it, and an event factory. */
export class World {
  readonly tree = new ProcessTree(4096);
  readonly x: FieldContext;
  private t = 1_000_000_000;

  constructor(users?: UserNames) {
    this.x = new FieldContext(users);
    this.x.tree = this.tree;
  }

  /** An event after enrich: the tree applied, the workload set. */
  event(type: EventType, fields: EventFields = {}, w: Workload = workload()): Event {
    this.t += 1_000_000;
    const e = makeEvent(type, { pid: 100, tid: 100, ppid: 1, comm: 'app', cgroupId: 7, ktimeNs: this.t, time: this.t / 1e6, ...fields });
    e.process = this.tree.apply(e);
    e.workload = w;
    this.x.seq++;
    return e;
  }

  /** pid runs `exe` with `argv` (an exec event), child of ppid. */
  exec(pid: number, ppid: number, exe: string, argv: string[], w: Workload = workload(), extra: EventFields = {}): Event {
    const comm = exe.slice(exe.lastIndexOf('/') + 1).slice(0, 15);
    return this.event('exec', { pid, tid: pid, ppid, comm, path: exe, filename: exe, argv, cwd: '/srv', ...extra }, w);
  }
}

/** A rules file with one rule. */
export function ruleYaml(condition: string, extra = ''): string {
  return `- rule: Test rule\n  desc: a test\n  condition: ${JSON.stringify(condition)}\n  output: "test %proc.name"\n  priority: WARNING\n${extra}`;
}

export function load(text: string, file = '/rules/test.yaml'): RuleSet {
  return buildRuleSet([], [{ file, text }]);
}

/** Compiles one condition; throws with the problems if it does not load. */
export function compile(condition: string, prelude = ''): RuleSet {
  const set = load(`${prelude}\n${ruleYaml(condition)}`);
  if (set.report.errors.length > 0 || set.rules.length !== 1) {
    throw new Error(`did not load: ${[...set.report.errors, ...set.report.warnings].map((p) => p.message).join('; ')}`);
  }
  return set;
}

/** Whether the (only) rule of a set matches an event. */
export function matches(set: RuleSet, e: Event, x: FieldContext): boolean {
  const fn = set.rules[0]!.condition.byType.get(e.type);
  return fn ? fn(e, x) : false;
}

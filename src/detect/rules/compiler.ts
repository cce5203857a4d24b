// The compiler: rule definitions → compiled rules (Falco's
// rule_loader_compiler). Per enabled rule: its condition parsed and
// resolved (macros, lists), its exceptions added as `and not (…)`, the
// whole compiled (condition-compiler.ts), its threshold or sequence
// fields turned into getters, its output into a template. A rule Vigil
// cannot evaluate is skipped with a warning saying why; a broken rule is
// an error naming where.
import { EVENT_TYPES, type EventType } from '../../model/event.js';
import { typeIndex } from '../../model/type-index.js';
import { ConditionSyntaxError, parseCondition, type Expr } from './condition.js';
import type { RuleDefinitions } from './collector.js';
import { CompileError, Reported, Unsupported } from './compile-errors.js';
import type { CompiledRule, CompileResult, Getter, Skipped, SkipReason } from './compiled.js';
import { ConditionCompiler } from './condition-compiler.js';
import type { RuleDef } from './definitions.js';
import { typesForName } from './event-type-names.js';
import { exceptionCondition } from './exceptions.js';
import type { FieldGetter } from './field-def.js';
import type { FieldArg } from './field-types.js';
import { FIELDS, fieldArg, fieldProblem } from './fields.js';
import { compileOutput } from './output.js';
import type { Loc, Problem } from './problems.js';
import { ConditionResolver, type ResolvedNode } from './resolver.js';

/** Compiles every enabled rule of a set of definitions. */
export function compileRules(defs: RuleDefinitions): CompileResult {
  const problems: Problem[] = [...defs.problems];
  const report = (p: Problem): void => void problems.push(p);
  const resolver = new ConditionResolver(defs, report);
  const rules: CompiledRule[] = [];
  const skipped: Skipped[] = [];
  const disabled: string[] = [];
  const disabledStatus = new Map<string, string | null>();
  const quiet = (): void => {};

  // Every macro's syntax is checked, used or not.
  resolver.checkMacros();

  for (const def of defs.rules.values()) {
    if (!def.enabled) {
      disabled.push(def.name);
      disabledStatus.set(def.name, wouldRun(def, new ConditionResolver(defs, quiet), quiet));
      continue;
    }
    const skip = (reason: SkipReason, detail: string, at: Loc = def.at): void => {
      skipped.push({ rule: def.name, reason, detail, at });
      report({ severity: 'warning', ...at, item: def.name, message: `rule '${def.name}' skipped: ${detail}` });
    };
    if (def.source !== 'syscall') {
      skip('other-source', `its source is '${def.source}'; Vigil evaluates syscall rules`);
      continue;
    }
    try {
      const r = compileRule(def, resolver, report);
      if ('skip' in r) skip(r.skip, r.detail, r.at);
      else rules.push(r.rule);
    } catch (err) {
      if (err instanceof CompileError) report({ severity: 'error', ...err.loc, item: def.name, message: `rule '${def.name}': ${err.message}` });
      else if (!(err instanceof Reported)) throw err;
    }
  }
  return { rules, skipped, disabled, disabledStatus, problems, total: defs.rules.size };
}

/** Whether a disabled rule would run if enabled: null, or why not. Reports nothing (it is not in use). */
function wouldRun(def: RuleDef, resolver: ConditionResolver, quiet: (p: Problem) => void): string | null {
  if (def.source !== 'syscall') return `its source is '${def.source}'; Vigil evaluates syscall rules`;
  try {
    const r = compileRule(def, resolver, quiet);
    return 'skip' in r ? r.detail : null;
  } catch (err) {
    if (err instanceof CompileError) return `error: ${err.message}`;
    if (err instanceof Reported) return 'error: its condition does not parse';
    throw err;
  }
}

function compileRule(
  def: RuleDef,
  resolver: ConditionResolver,
  report: (p: Problem) => void,
): { rule: CompiledRule } | { skip: SkipReason; detail: string; at: Loc } {
  const ast = resolver.parse(def.parts);
  if (!ast) throw new Reported();
  let root = resolver.resolve(ast, []);
  const ex = exceptionCondition(resolver, def.exceptions, def.name);
  if (ex) root = { k: 'and', items: [root, ex] };

  const compiler = new ConditionCompiler(def.name);
  const cc = compiler.compile(root);
  if (cc.unsupported) return { skip: 'unsupported-field', detail: cc.unsupported.why, at: cc.unsupported.loc };
  if (cc.cond.byType.size === 0) {
    const unobserved = unobservedTypes(root);
    const also = compiler.unsupportedChecks().map((m) => `; also ${m}`).join('');
    if (unobserved.size > 0) return { skip: 'unobserved-event-type', detail: `Vigil does not observe event type${unobserved.size > 1 ? 's' : ''} ${[...unobserved].join(', ')}${also}`, at: def.at };
    const empty = emptyLists(root);
    if (empty.size > 0) {
      const names = [...empty].map((n) => `'${n}'`).join(', ');
      return { skip: 'never-matches', detail: `its condition cannot match while the list${empty.size > 1 ? 's' : ''} ${names} ${empty.size > 1 ? 'are' : 'is'} empty (a template: fill ${empty.size > 1 ? 'them' : 'it'} to use the rule)`, at: def.at };
    }
    return { skip: 'never-matches', detail: 'its condition cannot match any event Vigil observes', at: def.at };
  }
  for (const r of compiler.relaxed) {
    report({
      severity: 'warning', ...r.loc, item: def.name,
      message: `rule '${def.name}': ${r.why}; the exception using it is not applied, so the rule may fire where Falco's would not`,
    });
  }
  if (!cc.restricted) {
    report({
      severity: 'warning', ...def.at, item: def.name,
      message: `rule '${def.name}' has no evt.type restriction: it is evaluated on every ${[...cc.cond.byType.keys()].join(', ')} event`,
    });
  }

  let readsOpenPath = compiler.readsOpenPath();
  let threshold: CompiledRule['threshold'] = null;
  let sequence: CompiledRule['sequence'] = null;
  try {
    if (def.threshold) {
      const t = def.threshold;
      threshold = {
        by: t.by.map((f) => getterFor(f, t.at)), distinct: t.distinct.map((f) => getterFor(f, t.at)), count: t.count, windowMs: t.windowMs,
        perProcess: t.by.length === 1 && t.by[0] === 'proc.pid',
      };
    }
    if (def.sequence) {
      const s = def.sequence;
      let afterAst: Expr;
      try {
        afterAst = parseCondition(s.after);
      } catch (err) {
        if (err instanceof ConditionSyntaxError) {
          resolver.syntax(err);
          throw new Reported();
        }
        throw err;
      }
      const afterCompiler = new ConditionCompiler(`${def.name}_after`);
      const after = afterCompiler.compile(resolver.resolve(afterAst, []));
      readsOpenPath ||= afterCompiler.readsOpenPath();
      if (after.unsupported) return { skip: 'unsupported-field', detail: after.unsupported.why, at: after.unsupported.loc };
      if (after.cond.byType.size === 0) return { skip: 'never-matches', detail: "its sequence's 'after' condition cannot match any event Vigil observes", at: s.at };
      sequence = { after: after.cond, capture: getterFor(s.capture, s.at), match: getterFor(s.match, s.at), by: s.by.map((f) => getterFor(f, s.at)), withinMs: s.withinMs };
    }
  } catch (err) {
    if (err instanceof Unsupported) return { skip: 'unsupported-field', detail: err.message, at: err.loc };
    throw err;
  }

  return {
    rule: {
      name: def.name,
      desc: def.desc,
      priority: def.priority,
      tags: def.tags,
      output: compileOutput(def.output, def.outputAt),
      condition: cc.cond,
      threshold,
      sequence,
      at: def.at,
      needsStarts: cc.starts,
      dnsNames: [...compiler.dnsNames],
      readsOpenPath,
    },
  };
}

function parseFieldRef(s: string): { name: string; arg: string | null } | null {
  const m = /^([a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z0-9_]+)+)(?:\[([^\]]+)\])?$/.exec(s.trim());
  return m ? { name: m[1]!, arg: m[2] ?? null } : null;
}

/** A getter for a field named in a Vigil extension (threshold by/distinct, sequence capture/match). */
function getterFor(ref: string, loc: Loc): Getter {
  const r = parseFieldRef(ref);
  if (!r) throw new CompileError(`'${ref}' is not a field`, loc);
  const problem = fieldProblem(r.name, r.arg);
  if (problem) {
    if (problem.unsupported) throw new Unsupported(problem.message, loc);
    throw new CompileError(problem.message, loc);
  }
  const f = FIELDS.get(r.name)!;
  const arg = fieldArg(f, r.arg);
  // By type index, not the Set of types: read per event by thresholds and sequences.
  const on = EVENT_TYPES.map((t) => f.on.has(t));
  return makeGetter(r.name, on, typeIndex, f.get, arg);
}

/** Getters made: each one's source names its own number (V8 shares what it compiled, feedback included, between sources alike). */
let getters = 0;

/**
 * Each getter a function of its own (new Function), so its call of the
 * field's reader has a call site, and feedback, of its own: a closure
 * made here for every getter shared one, a megamorphic call per read that
 * V8 could not inline (two per connect for the port scan's distinct
 * address and port). Only the parameters go into the code, no rule text.
 */
function makeGetter(field: string, on: boolean[], index: (t: EventType) => number, get: FieldGetter, arg: FieldArg): Getter {
  const name = `get_${field.replace(/[^a-zA-Z0-9_]/g, '_').slice(0, 40)}_${getters++}`;
  const make = new Function('on', 'typeIndex', 'get', 'arg', `"use strict"; return function ${name}(e, x) { return on[typeIndex(e.type)] ? get(e, x, arg) : undefined; };`) as (
    on: boolean[], index: (t: EventType) => number, get: FieldGetter, arg: FieldArg) => Getter;
  return make(on, index, get, arg);
}

/** Lists named by checks (not negated) whose values came out empty: each such check is false. */
function emptyLists(n: ResolvedNode, out = new Set<string>(), negated = false): Set<string> {
  switch (n.k) {
    case 'and':
    case 'or':
      n.items.forEach((i) => emptyLists(i, out, negated));
      break;
    case 'not':
      emptyLists(n.e, out, !negated);
      break;
    case 'check':
      if (!negated) for (const l of n.emptyLists ?? []) out.add(l);
      break;
  }
  return out;
}

/** Event type names in a resolved condition that no Vigil event stands for. */
function unobservedTypes(n: ResolvedNode, out = new Set<string>()): Set<string> {
  switch (n.k) {
    case 'and':
    case 'or':
      n.items.forEach((i) => unobservedTypes(i, out));
      break;
    case 'not':
      unobservedTypes(n.e, out);
      break;
    case 'check':
      if (n.field === 'evt.type' && n.values) for (const v of n.values) if (typesForName(v).length === 0) out.add(v);
      break;
  }
  return out;
}

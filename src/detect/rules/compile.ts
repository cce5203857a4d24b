// Rule definitions → plain JavaScript functions, one per rule and Vigil
// event type.
//
// Why code generation (new Function) rather than composed closures: a
// composed closure tree costs a megamorphic call per AST node per event;
// a generated function is one flat boolean expression over plain
// property reads (e.comm, e.path, e.flags & 3) and constant Sets/RegExps,
// which V8 compiles to straight-line code with short-circuiting, and it
// allocates nothing per event. No rule text is ever spliced into the
// code: values go in as JSON literals or as constants in `k`, fields
// come from the fixed field table.
//
// Each rule is specialised per event type first: evt.type checks, fields
// a type does not have (always missing, so the comparison is false) and
// constant fields fold away, which also decides routing — a rule runs
// only on the types where its condition is not constantly false. Then
// per event class (classes.ts: an open's access mode and flags, a
// socket's family), folding what the class decides the same way; and
// for each class, the parts of the condition that read only one
// memoisable property (the path, the process name, the remote address)
// become filters the router caches per value (router.ts).
import { EVENT_TYPES, type Event, type EventType } from '../../model/event.js';
import type { Priority } from '../../model/alert.js';
import { ConditionSyntaxError, parseCondition, type At, type Expr, type Operator } from './condition.js';
import type { FieldContext } from './context.js';
import { classCount } from './classes.js';
import { CALL_TYPES, SYSCALLS_OF, typesForName } from './event-type-names.js';
import { DIMS, type Dim, type Field, type FieldArg, type FieldValue, type Known } from './field-types.js';
import { FIELDS, fieldArg, fieldProblem } from './fields.js';
import type { RuleDefinitions } from './collector.js';
import type { ExceptionDef, ListItemDef, RuleDef } from './definitions.js';
import { compileOutput, type OutputTemplate } from './output.js';
import { comparisonFn, comparisonJs, isListOp, operand, ValueError, type Operand } from './comparison.js';
import { Constants } from './constants.js';
import type { Loc, Problem } from './problems.js';
import { joinSources, type SourceText } from './source.js';

export type RuleFn = (e: Event, x: FieldContext) => boolean;
export type Getter = (e: Event, x: FieldContext) => FieldValue | undefined;

export interface CompiledCondition {
  /** The function for each event type the condition can match on. */
  byType: Map<EventType, RuleFn>;
  /** Generated source per type (for tests and `vigil rules list --code`). */
  source: Map<EventType, string>;
  /**
   * Per type of byType, per class (classes.ts): the condition specialised
   * to events of that class, or null where it cannot match them.
   */
  variants: Map<EventType, (Variant | null)[]>;
}

/** A condition on events of one type and class. */
export interface Variant {
  fn: RuleFn;
  source: string;
  /**
   * Necessary conditions that read one property each: where one is false
   * for an event, `fn` is too. The router caches their answers per value.
   */
  filters: Filter[];
}

export interface Filter {
  dim: Dim;
  fn: RuleFn;
  source: string;
}

export interface CompiledRule {
  name: string;
  desc: string;
  priority: Priority;
  tags: string[];
  output: OutputTemplate;
  condition: CompiledCondition;
  threshold: { by: Getter[]; distinct: Getter[]; count: number; windowMs: number } | null;
  sequence: { after: CompiledCondition; capture: Getter; match: Getter; by: Getter[]; withinMs: number } | null;
  at: Loc;
  /** Whether any field needs process start times (proc.duration). */
  needsStarts: boolean;
}

export type SkipReason = 'unsupported-field' | 'unobserved-event-type' | 'never-matches' | 'other-source';

export interface Skipped {
  rule: string;
  reason: SkipReason;
  detail: string;
  at: Loc;
}

export interface CompileResult {
  rules: CompiledRule[];
  skipped: Skipped[];
  disabled: string[];
  problems: Problem[];
  /** Rules defined after overrides (enabled or not). */
  total: number;
}

class CompileError extends Error {
  constructor(message: string, readonly loc: Loc) {
    super(message);
  }
}
/** A problem already reported (a macro's syntax error): the rule cannot compile. */
class Reported extends Error {}
class Unsupported extends Error {
  constructor(message: string, readonly loc: Loc) {
    super(message);
  }
}

function locOf(at: At): Loc {
  const { line, col } = at.src.where(at.off);
  return { file: at.src.fileAt?.(at.off) ?? at.src.file, line, col };
}

// ---- Resolved conditions: macros inlined, lists expanded ---------------

interface RCheck {
  k: 'check';
  field: string;
  arg: string | null;
  transformer: string | null;
  op: Operator;
  values: string[] | null;
  loc: Loc;
  /** Where the value is, for errors about it. */
  valueLoc?: Loc;
}
type RNode = { k: 'and' | 'or'; items: RNode[] } | { k: 'not'; e: RNode } | RCheck | { k: 'const'; v: boolean };

class Resolver {
  constructor(
    private readonly defs: RuleDefinitions,
    private readonly report: (p: Problem) => void,
  ) {}

  /** Parsed macro conditions (null: a syntax error, already reported). */
  private readonly macroAsts = new Map<string, Expr | null>();

  /** Parses a condition's text (its parts joined), reporting a syntax error as a problem. */
  parse(parts: readonly SourceText[]): Expr | null {
    try {
      return parseCondition(joinSources(parts));
    } catch (err) {
      if (err instanceof ConditionSyntaxError) {
        this.syntax(err);
        return null;
      }
      throw err;
    }
  }

  /** Reports every macro's syntax errors, whether a rule uses the macro or not. */
  checkMacros(): void {
    for (const name of this.defs.macros.keys()) this.macroAst(name);
  }

  /** A macro's parsed condition; undefined when there is no such macro, null when it does not parse (reported once). */
  private macroAst(name: string): Expr | null | undefined {
    const m = this.defs.macros.get(name);
    if (!m) return undefined;
    if (!this.macroAsts.has(name)) this.macroAsts.set(name, this.parse(m.parts));
    return this.macroAsts.get(name) ?? null;
  }

  syntax(err: ConditionSyntaxError): void {
    const loc = locOf(err.at);
    this.report({ severity: 'error', ...loc, message: `condition: ${err.message}` });
  }

  resolve(e: Expr, stack: readonly string[]): RNode {
    switch (e.k) {
      case 'and':
      case 'or':
        return { k: e.k, items: e.items.map((i) => this.resolve(i, stack)) };
      case 'not':
        return { k: 'not', e: this.resolve(e.e, stack) };
      case 'macro': {
        if (stack.includes(e.name)) throw new CompileError(`macro '${e.name}' refers to itself (${[...stack, e.name].join(' → ')})`, locOf(e.at));
        const ast = this.macroAst(e.name);
        if (ast === undefined) throw new CompileError(`undefined macro '${e.name}'`, locOf(e.at));
        if (ast === null) throw new Reported();
        return this.resolve(ast, [...stack, e.name]);
      }
      case 'check': {
        let values: string[] | null = null;
        const v = e.value;
        if (v) {
          if (v.k === 'scalar') values = [v.v];
          else if (v.k === 'list') values = v.items.flatMap((i) => (i.quoted ? [i.v] : this.expandItem(i.v, [])));
          else {
            const list = this.defs.lists.get(v.name);
            if (!list) throw new CompileError(`undefined list '${v.name}'`, locOf(v.at));
            values = this.expandList(list.items, [v.name]);
          }
          if (v.k === 'scalar' && isListOp(e.op)) throw new CompileError(`operator '${e.op}' takes a list: ${e.op} (a, b)`, locOf(v.at));
        }
        return { k: 'check', field: e.field.name, arg: e.field.arg, transformer: e.field.transformer, op: e.op, values, loc: locOf(e.at), valueLoc: v ? locOf(v.at) : undefined };
      }
    }
  }

  private expandItem(v: string, stack: readonly string[]): string[] {
    const list = this.defs.lists.get(v);
    if (!list) return [v];
    if (stack.includes(v)) return [v];
    return this.expandList(list.items, [...stack, v]);
  }

  expandList(items: readonly ListItemDef[], stack: readonly string[]): string[] {
    return items.flatMap((i) => (i.quoted ? [i.v] : this.expandItem(i.v, stack)));
  }

  /** `and not (…)` for a rule's exceptions. */
  exceptions(list: readonly ExceptionDef[], rule: string): RNode | null {
    const alts: RNode[] = [];
    for (const ex of list) {
      const what = `rule '${rule}' exception '${ex.name}'`;
      if (ex.fields.length === 0) throw new CompileError(`${what}: no 'fields'`, ex.at);
      const comps = ex.comps.length > 0 ? ex.comps : ex.fields.map(() => (ex.single ? 'in' : '='));
      if (comps.length !== ex.fields.length) throw new CompileError(`${what}: ${ex.fields.length} fields but ${comps.length} comps`, ex.at);
      for (const c of comps) if (!isOperator(c) || c === 'exists') throw new CompileError(`${what}: unknown comparison '${c}'`, ex.at);
      const fields = ex.fields.map((f) => {
        const m = /^([a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z0-9_]+)+)(?:\[([^\]]+)\])?$/.exec(f.trim());
        if (!m) throw new CompileError(`${what}: '${f}' is not a field`, ex.at);
        return { name: m[1]!, arg: m[2] ?? null };
      });
      if (ex.single) {
        // One field: `values` are its values.
        const vals = ex.values.flatMap((t) => t.flatMap((v) => this.expandList(v.values, [])));
        if (vals.length === 0) continue;
        const op = comps[0] as Operator;
        alts.push({ k: 'check', field: fields[0]!.name, arg: fields[0]!.arg, transformer: null, op, values: isListOp(op) ? vals : [vals[0]!], loc: ex.at });
        if (!isListOp(op)) for (const v of vals.slice(1)) alts.push({ k: 'check', field: fields[0]!.name, arg: fields[0]!.arg, transformer: null, op, values: [v], loc: ex.at });
        continue;
      }
      for (const tuple of ex.values) {
        if (tuple.length !== fields.length) {
          throw new CompileError(`${what}: a value has ${tuple.length} item(s) but there are ${fields.length} fields`, tuple[0]?.at ?? ex.at);
        }
        alts.push({
          k: 'and',
          items: tuple.map((v, i) => {
            const op = comps[i] as Operator;
            const vals = this.expandList(v.values, []);
            if (!isListOp(op) && vals.length !== 1) throw new CompileError(`${what}: '${op}' takes one value, not a list`, v.at);
            return { k: 'check', field: fields[i]!.name, arg: fields[i]!.arg, transformer: null, op, values: vals, loc: v.at } as RCheck;
          }),
        });
      }
    }
    return alts.length === 0 ? null : { k: 'not', e: { k: 'or', items: alts } };
  }
}

const OPERATORS = new Set(['exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', 'intersects', 'in', 'pmatch']);
function isOperator(s: string): s is Operator {
  return OPERATORS.has(s);
}

// ---- Checks: a field, an operator, converted values --------------------

interface CheckInfo {
  field: Field;
  arg: FieldArg;
  op: Operator;
  operand: Operand | null;
  /** Any-of over several values (proc.aname, fd.ip). */
  multi: boolean;
  loc: Loc;
  /** evt.type: the names compared with. */
  evtTypes: string[] | null;
}

/** Validates a check once; throws Unsupported (skip the rule) or CompileError (a broken rule). */
function checkInfo(c: RCheck): CheckInfo {
  if (c.transformer) throw new Unsupported(`field transformer ${c.transformer}() is not supported by Vigil`, c.loc);
  if (c.op === 'bcontains' || c.op === 'bstartswith') throw new Unsupported(`operator '${c.op}' (binary buffers) is not supported by Vigil`, c.loc);
  const problem = fieldProblem(c.field, c.arg);
  if (problem) {
    if (problem.unsupported) throw new Unsupported(problem.message, c.loc);
    throw new CompileError(problem.message, c.loc);
  }
  const field = FIELDS.get(c.field)!;
  const arg = fieldArg(field, c.arg);
  const multi = !!field.some && (field.arg === 'none' || arg === -1);
  let op: Operand | null = null;
  if (c.values) {
    try {
      op = operand(field.kind, c.op, c.values, c.field);
      if (op.kind === 'string' && c.op === 'regex') new RegExp(c.values[0] ?? '');
    } catch (err) {
      if (err instanceof ValueError || err instanceof SyntaxError) throw new CompileError(err.message, c.valueLoc ?? c.loc);
      throw err;
    }
  }
  return { field, arg, op: c.op, operand: op, multi, loc: c.loc, evtTypes: c.field === 'evt.type' ? c.values : null };
}

// ---- Specialisation per event type -----------------------------------

type IR =
  | boolean
  | { k: 'and' | 'or'; items: IR[] }
  | { k: 'not'; e: IR }
  | { k: 'test'; c: CheckInfo }
  | { k: 'call'; names: Set<string>; neg: boolean }
  | { k: 'unsup'; why: string; loc: Loc };

function and(items: IR[]): IR {
  const out: IR[] = [];
  for (const i of items) {
    if (i === false) return false;
    if (i === true) continue;
    if (typeof i === 'object' && i.k === 'and') out.push(...i.items);
    else out.push(i);
  }
  return out.length === 0 ? true : out.length === 1 ? out[0]! : { k: 'and', items: out };
}

function or(items: IR[]): IR {
  const out: IR[] = [];
  for (const i of items) {
    if (i === true) return true;
    if (i === false) continue;
    if (typeof i === 'object' && i.k === 'or') out.push(...i.items);
    else out.push(i);
  }
  return out.length === 0 ? false : out.length === 1 ? out[0]! : { k: 'or', items: out };
}

function not(e: IR): IR {
  if (typeof e === 'boolean') return !e;
  if (e.k === 'not') return e.e;
  if (e.k === 'call') return { ...e, neg: !e.neg };
  return { k: 'not', e };
}

/** evt.type compared with syscall names, on event type t. */
function evtType(c: CheckInfo, t: EventType): IR {
  const names = c.evtTypes ?? [];
  const eq = c.op === '=' || c.op === '==' || c.op === 'in' || c.op === 'intersects';
  if (!eq && c.op !== '!=') return { k: 'test', c }; // startswith … on the printed name
  const own = SYSCALLS_OF[t];
  let r: IR;
  if (names.includes(t)) r = true;
  else if (CALL_TYPES.has(t)) {
    const hit = names.filter((n) => own.includes(n));
    r = hit.length === 0 ? false : hit.length === own.length ? true : { k: 'call', names: new Set(hit), neg: false };
  } else r = names.some((n) => own.includes(n));
  return eq ? r : not(r);
}

/** Decides a comparison from what a class knows of the value; undefined when it cannot. */
function decideKnown(c: CheckInfo, kn: Known): boolean | undefined {
  if ('missing' in kn) return false; // every comparison with a missing value is false, `exists` too
  if (c.operand === null) return true; // exists: the class says there is a value
  if (c.multi) return undefined;
  if ('value' in kn) return comparisonFn(c.op, c.operand)(kn.value);
  if (c.operand.kind !== 'number') return undefined;
  return decideSign(c.op, c.operand.values, kn.sign);
}

/** A comparison of an integer whose sign alone is known (1: ≥ 0, -1: < 0) with numbers, where the sign decides it. */
function decideSign(op: Operator, values: readonly number[], sign: 1 | -1): boolean | undefined {
  const first = values[0]!;
  const pos = sign === 1;
  switch (op) {
    case '=':
    case '==':
    case 'in':
    case 'intersects':
      return values.every((v) => (pos ? v < 0 : v >= 0)) ? false : undefined;
    case '!=':
      return (pos ? first < 0 : first >= 0) ? true : undefined;
    case '<':
      return pos ? (first <= 0 ? false : undefined) : first >= 0 ? true : undefined;
    case '<=':
      return pos ? (first < 0 ? false : undefined) : first >= 0 ? true : undefined;
    case '>':
      return pos ? (first < 0 ? true : undefined) : first >= 0 ? false : undefined;
    case '>=':
      return pos ? (first <= 0 ? true : undefined) : first >= 0 ? false : undefined;
    default:
      return undefined;
  }
}

/** The condition on type `t`, and on class `cls` of it (-1: any class). */
function specialize(n: RNode, t: EventType, info: Map<RCheck, Info>, cls = -1): IR {
  switch (n.k) {
    case 'const':
      return n.v;
    case 'and':
      return and(n.items.map((i) => specialize(i, t, info, cls)));
    case 'or':
      return or(n.items.map((i) => specialize(i, t, info, cls)));
    case 'not':
      return not(specialize(n.e, t, info, cls));
    case 'check': {
      const c = info.get(n)!;
      if (c === MISSING) return false;
      if (c instanceof Unsupported) return { k: 'unsup', why: c.message, loc: c.loc };
      if (c.field.name === 'evt.type') return evtType(c, t);
      if (!c.field.on.has(t)) return false; // missing on this type: every comparison is false
      const kn = c.field.known?.(t, cls);
      if (kn) {
        const d = decideKnown(c, kn);
        if (d !== undefined) return d;
      }
      if (c.operand && (c.op === 'in' || c.op === 'intersects') && c.operand.values.length === 0) return false;
      if (c.field.name === 'evt.num' && c.operand && c.operand.kind === 'number' && c.operand.values[0] === 0) {
        // evt.num counts from 1: Falco's never_true macro (evt.num=0) folds away.
        if (c.op === '=' || c.op === '==') return false;
        if (c.op === '!=' || c.op === '>') return true;
      }
      const k = c.field.constant?.(t);
      if (k !== undefined && !c.multi) return c.operand === null ? true : comparisonFn(c.op, c.operand)(k);
      return { k: 'test', c };
    }
  }
}

function unsupportedIn(ir: IR): { why: string; loc: Loc } | null {
  if (typeof ir === 'boolean') return null;
  switch (ir.k) {
    case 'unsup':
      return { why: ir.why, loc: ir.loc };
    case 'and':
    case 'or':
      for (const i of ir.items) {
        const u = unsupportedIn(i);
        if (u) return u;
      }
      return null;
    case 'not':
      return unsupportedIn(ir.e);
    default:
      return null;
  }
}

function usesStarts(ir: IR): boolean {
  if (typeof ir === 'boolean') return false;
  switch (ir.k) {
    case 'test':
      return ir.c.field.name === 'proc.duration';
    case 'and':
    case 'or':
      return ir.items.some(usesStarts);
    case 'not':
      return usesStarts(ir.e);
    default:
      return false;
  }
}

// ---- Code generation --------------------------------------------------

/** A rough cost: plain property reads first, getters, then ancestor walks. */
function cost(ir: IR, t: EventType, cls: number): number {
  if (typeof ir === 'boolean') return 0;
  switch (ir.k) {
    case 'and':
    case 'or':
      return ir.items.reduce((n, i) => n + cost(i, t, cls), 0);
    case 'not':
      return cost(ir.e, t, cls);
    case 'call':
      return 1;
    case 'unsup':
      return 0;
    case 'test': {
      if (ir.c.multi) return 20;
      const inl = ir.c.field.inline?.(t, ir.c.arg, cls);
      const base = inl ? (inl.missing ? 2 : 1) : 5;
      const op = ir.c.op;
      return base + (op === 'glob' || op === 'iglob' || op === 'regex' || op === 'icontains' || op === 'pmatch' ? 3 : 0);
    }
  }
}

/**
 * Cheapest operands of each and/or first (stable otherwise). Conditions
 * are side-effect free, so order does not change a result, only how soon
 * short-circuiting stops the work.
 */
function cheapestFirst(ir: IR, t: EventType, cls: number): IR {
  if (typeof ir === 'boolean') return ir;
  switch (ir.k) {
    case 'and':
    case 'or': {
      const items = ir.items.map((i) => cheapestFirst(i, t, cls));
      const costs = new Map(items.map((i) => [i, cost(i, t, cls)] as const));
      return { k: ir.k, items: items.map((i, n) => ({ i, n })).sort((a, b) => costs.get(a.i)! - costs.get(b.i)! || a.n - b.n).map((x) => x.i) };
    }
    case 'not':
      return { k: 'not', e: cheapestFirst(ir.e, t, cls) };
    default:
      return ir;
  }
}

// ---- Filters: what one memoisable property alone decides ------------

/** The property a check reads alone on type t, class cls, or null. */
function dimOf(c: CheckInfo, t: EventType, cls: number): Dim | null {
  return c.multi ? null : (c.field.reads?.(t, cls) ?? null);
}

/** Whether every check in `ir` reads `dim` alone. */
function onlyReads(ir: IR, dim: Dim, t: EventType, cls: number): boolean {
  if (typeof ir === 'boolean') return true;
  switch (ir.k) {
    case 'test':
      return dimOf(ir.c, t, cls) === dim;
    case 'and':
    case 'or':
      return ir.items.every((i) => onlyReads(i, dim, t, cls));
    case 'not':
      return onlyReads(ir.e, dim, t, cls);
    default:
      return false;
  }
}

/**
 * A condition on `dim` alone that every event matching `ir` satisfies
 * (true when there is none): the checks on other properties read as
 * "could be either". A conjunction keeps its parts on `dim`; a
 * disjunction needs one of its parts' conditions; a negation only when
 * what it negates reads `dim` alone.
 */
function necessary(ir: IR, dim: Dim, t: EventType, cls: number): IR {
  if (typeof ir === 'boolean') return ir;
  switch (ir.k) {
    case 'test':
      return dimOf(ir.c, t, cls) === dim ? ir : true;
    case 'and':
      return and(ir.items.map((i) => necessary(i, dim, t, cls)));
    case 'or':
      return or(ir.items.map((i) => necessary(i, dim, t, cls)));
    case 'not':
      return onlyReads(ir.e, dim, t, cls) ? ir : true;
    default:
      return true;
  }
}

/** Two specialisations with one key generate the same code (same checks, same inlined reads). */
function irKey(ir: IR, t: EventType, cls: number, ids: Map<CheckInfo, number>): string {
  if (typeof ir === 'boolean') return ir ? 'T' : 'F';
  switch (ir.k) {
    case 'and':
    case 'or':
      return `${ir.k}(${ir.items.map((i) => irKey(i, t, cls, ids)).join(',')})`;
    case 'not':
      return `!${irKey(ir.e, t, cls, ids)}`;
    case 'call':
      return `call${ir.neg ? '!' : ''}(${[...ir.names].join(',')})`;
    case 'unsup':
      return 'U';
    case 'test': {
      let id = ids.get(ir.c);
      if (id === undefined) ids.set(ir.c, (id = ids.size));
      return `#${id}${JSON.stringify(ir.c.field.inline?.(t, ir.c.arg, cls) ?? null)}`;
    }
  }
}

const SIMPLE = /^(?:e|x)\.[a-zA-Z0-9_]+$/;

class Gen {
  readonly k = new Constants();
  private temps = 0;

  constructor(
    private readonly t: EventType,
    /** The event class the code is for; -1: any. */
    private readonly cls = -1,
  ) {}

  expr(ir: IR): string {
    if (ir === true) return 'true';
    if (ir === false) return 'false';
    switch (ir.k) {
      case 'and':
        return `(${ir.items.map((i) => this.expr(i)).join(' && ')})`;
      case 'or':
        return `(${ir.items.map((i) => this.expr(i)).join(' || ')})`;
      case 'not':
        return `!${this.expr(ir.e)}`;
      case 'call': {
        const test = ir.names.size === 1 ? `e.call === ${JSON.stringify([...ir.names][0])}` : `${this.k.ref(ir.names)}.has(e.call)`;
        return ir.neg ? `!(${test})` : `(${test})`;
      }
      case 'unsup':
        throw new Error('unsupported check reached code generation');
      case 'test':
        return this.test(ir.c);
    }
  }

  private test(c: CheckInfo): string {
    const { field, arg } = c;
    if (c.multi) {
      const pred = c.operand ? comparisonFn(c.op, c.operand) : () => true;
      const some = field.some!;
      return `${this.k.ref((e: Event, x: FieldContext) => some(e, x, arg, pred))}(e, x)`;
    }
    if (c.operand && c.operand.kind !== 'ip') {
      const fast = field.compare?.(this.t, c.op, c.operand.values, this.k);
      if (fast) return fast;
    }
    const inl = field.inline?.(this.t, arg, this.cls) ?? null;
    const get = field.get;
    const value = inl ? inl.js : `${this.k.ref((e: Event, x: FieldContext) => get(e, x, arg))}(e, x)`;
    const missing = inl ? inl.missing : true;
    if (c.operand === null) return missing ? `(${value} !== undefined)` : 'true';
    // comparisonJs reads its value once: a value that is never missing needs no temporary.
    if (!missing) return `(${comparisonJs(c.op, c.operand, SIMPLE.test(value) ? value : `(${value})`, this.k)})`;
    const v = `v${this.temps++}`;
    return `((${v} = ${value}) !== undefined && ${comparisonJs(c.op, c.operand, v, this.k)})`;
  }

  fn(name: string, ir: IR, suffix = ''): { fn: RuleFn; source: string } {
    const body = this.expr(cheapestFirst(ir, this.t, this.cls));
    const temps = Array.from({ length: this.temps }, (_, i) => `v${i}`);
    const fname = `rule_${name.replace(/[^a-zA-Z0-9_]/g, '_').slice(0, 60)}_${this.t}${suffix}`;
    const source = `function ${fname}(e, x) {${temps.length ? ` let ${temps.join(', ')};` : ''} return ${body}; }`;
    const fn = new Function('k', `"use strict"; return ${source};`)(this.k.values) as RuleFn;
    return { fn, source };
  }
}

// ---- Rules -------------------------------------------------------------

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
  return (e, x) => (f.on.has(e.type) ? f.get(e, x, arg) : undefined);
}

/** A check that reads as a missing value: false. */
const MISSING = 'missing' as const;
type Info = CheckInfo | Unsupported | typeof MISSING;

class ConditionCompiler {
  private readonly info = new Map<RCheck, Info>();
  /** Checks numbered, for irKey. */
  private readonly ids = new Map<CheckInfo, number>();
  /** Exception clauses not applied because Vigil lacks their field. */
  readonly relaxed: { why: string; loc: Loc }[] = [];

  constructor(private readonly ruleName: string) {}

  /** Routes and functions for a resolved condition, or why it cannot run. */
  compile(root: RNode): { cond: CompiledCondition; unsupported: { why: string; loc: Loc } | null; starts: boolean; restricted: boolean } {
    this.collect(root);
    const byType = new Map<EventType, RuleFn>();
    const source = new Map<EventType, string>();
    let unsupported: { why: string; loc: Loc } | null = null;
    let starts = false;
    const irs = new Map<EventType, IR>();
    for (const t of EVENT_TYPES) {
      const ir = specialize(root, t, this.info);
      if (ir === false) continue;
      const u = unsupportedIn(ir);
      if (u) {
        unsupported ??= u;
        continue;
      }
      irs.set(t, ir);
    }
    const variants = new Map<EventType, (Variant | null)[]>();
    if (!unsupported) {
      for (const [t, ir] of irs) {
        const g = new Gen(t);
        const { fn, source: src } = g.fn(this.ruleName, ir);
        byType.set(t, fn);
        source.set(t, src);
        starts ||= usesStarts(ir);
        variants.set(t, this.variantsOf(root, t));
      }
    }
    return { cond: { byType, source, variants }, unsupported, starts, restricted: this.restrictsType(root) };
  }

  /** The condition per class of `t`, with its filters; classes that specialise it alike share one function. */
  private variantsOf(root: RNode, t: EventType): (Variant | null)[] {
    const out: (Variant | null)[] = [];
    const made = new Map<string, Variant>();
    const classes = classCount(t);
    for (let cls = 0; cls < classes; cls++) {
      const ir = specialize(root, t, this.info, cls);
      if (ir === false) {
        out.push(null);
        continue;
      }
      const key = irKey(ir, t, cls, this.ids);
      let v = made.get(key);
      if (!v) {
        const suffix = classes > 1 ? `_${cls}` : '';
        const { fn, source } = new Gen(t, cls).fn(this.ruleName, ir, suffix);
        const filters: Filter[] = [];
        for (const dim of DIMS) {
          const f = necessary(ir, dim, t, cls);
          if (f === true) continue;
          const g = new Gen(t, cls).fn(`${this.ruleName}_by_${dim}`, f, suffix);
          filters.push({ dim, fn: g.fn, source: g.source });
        }
        v = { fn, source, filters };
        made.set(key, v);
      }
      out.push(v);
    }
    return out;
  }

  /**
   * Validates every check. A check Vigil cannot evaluate under an odd
   * number of `not`s (an exception: "… and not container.image.repository
   * in (trusted)") reads as missing, so the exception never applies and
   * the rule fires at least wherever Falco's would; the same check in a
   * positive position could only make the rule never fire, so the rule is
   * skipped instead.
   */
  private collect(n: RNode, negated = false): void {
    switch (n.k) {
      case 'and':
      case 'or':
        n.items.forEach((i) => this.collect(i, negated));
        break;
      case 'not':
        this.collect(n.e, !negated);
        break;
      case 'check':
        if ((n.op === 'in' || n.op === 'intersects') && n.values?.length === 0) {
          this.info.set(n, MISSING); // `x in ()` is false whatever x is
          break;
        }
        try {
          this.info.set(n, checkInfo(n));
        } catch (err) {
          if (!(err instanceof Unsupported)) throw err;
          if (negated) {
            this.info.set(n, MISSING);
            if (!this.relaxed.some((r) => r.why === err.message)) this.relaxed.push({ why: err.message, loc: err.loc });
          } else this.info.set(n, err);
        }
        break;
    }
  }

  /** Whether evt.type alone (every other check left open) rules out some event types. */
  private restrictsType(root: RNode): boolean {
    const open = (n: RNode, t: EventType): IR => {
      switch (n.k) {
        case 'const':
          return n.v;
        case 'and':
          return and(n.items.map((i) => open(i, t)));
        case 'or':
          return or(n.items.map((i) => open(i, t)));
        case 'not':
          return not(open(n.e, t));
        case 'check': {
          const c = this.info.get(n);
          return c && c !== MISSING && !(c instanceof Unsupported) && c.field.name === 'evt.type' ? evtType(c, t) : { k: 'unsup', why: '', loc: n.loc };
        }
      }
    };
    return EVENT_TYPES.some((t) => open(root, t) === false);
  }
}

/** Event type names in a resolved condition that no Vigil event stands for. */
function unobservedTypes(n: RNode, out = new Set<string>()): Set<string> {
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

/** Compiles every enabled rule of a set of definitions. */
export function compileRules(defs: RuleDefinitions): CompileResult {
  const problems: Problem[] = [...defs.problems];
  const report = (p: Problem): void => void problems.push(p);
  const resolver = new Resolver(defs, report);
  const rules: CompiledRule[] = [];
  const skipped: Skipped[] = [];
  const disabled: string[] = [];

  // Every macro's syntax is checked, used or not.
  resolver.checkMacros();

  for (const def of defs.rules.values()) {
    if (!def.enabled) {
      disabled.push(def.name);
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
  return { rules, skipped, disabled, problems, total: defs.rules.size };
}

function compileRule(
  def: RuleDef,
  resolver: Resolver,
  report: (p: Problem) => void,
): { rule: CompiledRule } | { skip: SkipReason; detail: string; at: Loc } {
  const ast = resolver.parse(def.parts);
  if (!ast) throw new Reported();
  let root = resolver.resolve(ast, []);
  const ex = resolver.exceptions(def.exceptions, def.name);
  if (ex) root = { k: 'and', items: [root, ex] };

  const compiler = new ConditionCompiler(def.name);
  const cc = compiler.compile(root);
  if (cc.unsupported) return { skip: 'unsupported-field', detail: cc.unsupported.why, at: cc.unsupported.loc };
  if (cc.cond.byType.size === 0) {
    const unobserved = unobservedTypes(root);
    if (unobserved.size > 0) return { skip: 'unobserved-event-type', detail: `Vigil does not observe event type${unobserved.size > 1 ? 's' : ''} ${[...unobserved].join(', ')}`, at: def.at };
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

  let threshold: CompiledRule['threshold'] = null;
  let sequence: CompiledRule['sequence'] = null;
  try {
    if (def.threshold) {
      const t = def.threshold;
      threshold = { by: t.by.map((f) => getterFor(f, t.at)), distinct: t.distinct.map((f) => getterFor(f, t.at)), count: t.count, windowMs: t.windowMs };
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
      const after = new ConditionCompiler(`${def.name}_after`).compile(resolver.resolve(afterAst, []));
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
    },
  };
}

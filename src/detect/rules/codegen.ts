// Code generation: a specialised condition (IR) → one plain JavaScript
// function.
//
// Why code generation (new Function) rather than composed closures: a
// composed closure tree costs a megamorphic call per AST node per event;
// a generated function is one flat boolean expression over plain
// property reads (e.comm, e.path, e.flags & 3) and constant Sets/RegExps,
// which V8 compiles to straight-line code with short-circuiting, and it
// allocates nothing per event. No rule text is ever spliced into the
// code: values go in as JSON literals or as constants in `k`, fields
// come from the fixed field table.
import type { Event, EventType } from '../../model/event.js';
import type { CheckInfo } from './checks.js';
import type { RuleFn } from './compiled.js';
import { comparisonFn, comparisonJs } from './comparison.js';
import { Constants } from './constants.js';
import type { FieldContext } from './context.js';
import type { IR } from './specialize.js';

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

/** Two specialisations with one key generate the same code (same checks, same inlined reads). */
export function irKey(ir: IR, t: EventType, cls: number, ids: Map<CheckInfo, number>): string {
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

/** Writes the functions for one event type (and class), each reading its constants from its own `k`. */
export class CodeGen {
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

// One comparison of a field value with a rule's value(s), two ways:
// JavaScript source for compiled rules (the hot path) and a closure for
// the rare cases evaluated outside generated code (constant folding,
// multi-valued fields such as proc.aname). Both share the same value
// conversion, so they cannot disagree.
import type { Operator } from './condition.js';
import { Constants } from './constants.js';
import type { FieldKind, FieldValue } from './field-types.js';
import { addressMatcher } from './ip.js';

export class ValueError extends Error {}

/** Values converted for a field's kind: numbers, booleans, strings, or an address matcher. */
export type Operand =
  | { kind: 'string'; values: string[] }
  | { kind: 'number'; values: number[] }
  | { kind: 'bool'; values: boolean[] }
  | { kind: 'ip'; values: string[]; match: (addr: string) => boolean };

const STRING_ONLY_OPS = new Set<Operator>(['contains', 'icontains', 'startswith', 'endswith', 'glob', 'iglob', 'regex', 'pmatch']);
const ORDER_OPS = new Set<Operator>(['<', '<=', '>', '>=']);
const LIST_OPS = new Set<Operator>(['in', 'intersects', 'pmatch']);

export function isListOp(op: Operator): boolean {
  return LIST_OPS.has(op);
}

/** Whether s reads as a number (decimal or 0x hex), as parseNumber takes it. */
function isNumber(s: string): boolean {
  const t = s.trim();
  return /^[+-]?0[xX][0-9a-fA-F]+$/.test(t) || (t !== '' && Number.isFinite(Number(t)));
}

/**
 * Whether a comparison of a number that has a text (Falco's resolved
 * value: a user name, flag names) reads the text: its operator is a
 * string operator, or a value is not a number.
 */
export function readsText(op: Operator, raw: readonly string[]): boolean {
  return STRING_ONLY_OPS.has(op) || raw.some((s) => !isNumber(s));
}

function parseNumber(s: string, field: string): number {
  const t = s.trim();
  const n = /^[+-]?0[xX][0-9a-fA-F]+$/.test(t) ? Number.parseInt(t, 16) : t === '' ? NaN : Number(t);
  if (!Number.isFinite(n)) throw new ValueError(`'${s}' is not a number (field ${field} is numeric)`);
  return n;
}

function ipMatcher(values: string[], field: string): (addr: string) => boolean {
  try {
    return addressMatcher(values, `field ${field}`);
  } catch (err) {
    throw new ValueError((err as Error).message);
  }
}

/** Converts the rule's values for a field of `kind`, checking the operator applies. */
export function operand(kind: FieldKind, op: Operator, raw: string[], field: string): Operand {
  if (kind === 'number') {
    if (STRING_ONLY_OPS.has(op)) throw new ValueError(`operator '${op}' does not apply to the numeric field ${field}`);
    return { kind, values: raw.map((s) => parseNumber(s, field)) };
  }
  if (kind === 'bool') {
    if (STRING_ONLY_OPS.has(op) || ORDER_OPS.has(op)) throw new ValueError(`operator '${op}' does not apply to the boolean field ${field}`);
    return {
      kind,
      values: raw.map((s) => {
        const l = s.trim().toLowerCase();
        if (l !== 'true' && l !== 'false') throw new ValueError(`'${s}' is not true or false (field ${field} is boolean)`);
        return l === 'true';
      }),
    };
  }
  if (kind === 'ip' && (op === '=' || op === '==' || op === '!=' || op === 'in' || op === 'intersects')) {
    return { kind, values: raw, match: ipMatcher(raw, field) };
  }
  if (kind === 'ip' && ORDER_OPS.has(op)) throw new ValueError(`operator '${op}' does not apply to the address field ${field}`);
  return { kind: 'string', values: raw };
}

/** fnmatch(3) without flags: * and ? match any character including '/', [..] classes, \ escapes. */
export function globRegExp(glob: string, caseInsensitive: boolean): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '\\' && i + 1 < glob.length) re += escapeRe(glob[++i]!);
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, close);
        const neg = body[0] === '!' || body[0] === '^';
        if (neg) body = body.slice(1);
        re += `[${neg ? '^' : ''}${body.replace(/\\/g, '\\\\').replace(/\]/g, '\\]')}]`;
        i = close;
      }
    } else re += escapeRe(c);
  }
  return new RegExp(`${re}$`, caseInsensitive ? 'i' : '');
}

/** A glob test that first checks the literal text before the first wildcard (most paths fail there). */
function globMatcher(glob: string): (s: string) => boolean {
  const re = globRegExp(glob, false);
  const m = /[*?[\\]/.exec(glob);
  const prefix = m ? glob.slice(0, m.index) : glob;
  return prefix ? (s) => s.startsWith(prefix) && re.test(s) : (s) => re.test(s);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** pmatch: the path is one of the prefixes or below one of them. */
export function pathPrefixMatcher(prefixes: string[]): (path: string) => boolean {
  const norm = prefixes.map((p) => (p.length > 1 ? p.replace(/\/+$/, '') : p));
  return (path) => {
    for (const p of norm) {
      if (p === '/') {
        if (path.startsWith('/')) return true;
      } else if (path === p || (path.startsWith(p) && path.charCodeAt(p.length) === 47)) return true;
    }
    return false;
  };
}

/** JavaScript testing the value `v` (known not to be missing); `v` appears exactly once in it. */
export function comparisonJs(op: Operator, o: Operand, v: string, k: Constants): string {
  const lit = (x: FieldValue): string => JSON.stringify(x);
  const first = o.values[0] as FieldValue;
  if (o.kind === 'ip') {
    const m = k.ref(o.match);
    return op === '!=' ? `!${m}(${v})` : `${m}(${v})`;
  }
  switch (op) {
    case '=':
    case '==':
      return `${v} === ${lit(first)}`;
    case '!=':
      return `${v} !== ${lit(first)}`;
    case '<':
    case '<=':
    case '>':
    case '>=':
      return `${v} ${op} ${lit(first)}`;
    case 'in':
    case 'intersects':
      if (o.values.length === 1) return `${v} === ${lit(first)}`;
      return `${k.ref(new Set<FieldValue>(o.values))}.has(${v})`;
    case 'contains':
      return `${v}.includes(${lit(first)})`;
    case 'startswith':
      return `${v}.startsWith(${lit(first)})`;
    case 'endswith':
      return `${v}.endsWith(${lit(first)})`;
    case 'icontains':
      return `${k.ref(new RegExp(escapeRe(String(first)), 'i'))}.test(${v})`;
    case 'glob':
      return `${k.ref(globMatcher(String(first)))}(${v})`;
    case 'iglob':
      return `${k.ref(globRegExp(String(first), true))}.test(${v})`;
    case 'regex':
      return `${k.ref(new RegExp(String(first)))}.test(${v})`;
    case 'pmatch':
      return `${k.ref(pathPrefixMatcher(o.values as string[]))}(${v})`;
    default:
      throw new ValueError(`operator '${op}' is not supported`);
  }
}

/** The same comparison as a closure over a present value. */
export function comparisonFn(op: Operator, o: Operand): (v: FieldValue) => boolean {
  const k = new Constants();
  const body = comparisonJs(op, o, 'v', k);
  // Built once per rule at load time, never per event.
  return new Function('k', `"use strict"; return function (v) { return ${body}; };`)(k.values) as (v: FieldValue) => boolean;
}

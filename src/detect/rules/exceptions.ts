// A rule's exceptions as a condition: `and not (…)`, one alternative per
// value tuple (each field compared with its value by the exception's
// comparison, `=` by default, `in` for a single field's values), as
// Falco's compiler builds them.
import { LIST_OPS, NUM_OPS, STR_OPS, UNARY_OPS, type Operator } from './condition.js';
import { CompileError } from './compile-errors.js';
import { isListOp } from './comparison.js';
import type { ExceptionDef } from './definitions.js';
import type { ConditionResolver, ResolvedCheck, ResolvedNode } from './resolver.js';

const OPERATORS: ReadonlySet<string> = new Set<string>([...UNARY_OPS, ...NUM_OPS, ...STR_OPS, ...LIST_OPS]);
function isOperator(s: string): s is Operator {
  return OPERATORS.has(s);
}

/** `not (…)` for a rule's exceptions, or null when they except nothing. */
export function exceptionCondition(resolver: ConditionResolver, list: readonly ExceptionDef[], rule: string): ResolvedNode | null {
  const alts: ResolvedNode[] = [];
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
      const vals = ex.values.flatMap((t) => t.flatMap((v) => resolver.expandList(v.values, [])));
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
          const vals = resolver.expandList(v.values, []);
          if (!isListOp(op) && vals.length !== 1) throw new CompileError(`${what}: '${op}' takes one value, not a list`, v.at);
          return { k: 'check', field: fields[i]!.name, arg: fields[i]!.arg, transformer: null, op, values: vals, loc: v.at } as ResolvedCheck;
        }),
      });
    }
  }
  return alts.length === 0 ? null : { k: 'not', e: { k: 'or', items: alts } };
}

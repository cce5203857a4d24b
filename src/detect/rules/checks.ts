// One check of a resolved condition, validated once: the field it reads
// (and its argument), the operator, and the rule's values converted for
// the field's kind. A field or operator Vigil lacks is Unsupported (the
// rule is skipped); a wrong argument or value is a CompileError.
import type { Operator } from './condition.js';
import { CompileError, Unsupported } from './compile-errors.js';
import { operand, readsText, ValueError, type Operand } from './comparison.js';
import type { Field, FieldArg } from './field-types.js';
import { FIELDS, fieldArg, fieldProblem } from './fields.js';
import type { Loc } from './problems.js';
import type { ResolvedCheck } from './resolver.js';

export interface CheckInfo {
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

/**
 * A number read as its text (Falco's coercion: `evt.arg.uid = nobody`
 * compares the user name the uid resolves to): the same field, a string
 * read by its text getter, with nothing the number's class or type knows.
 */
function asText(f: Field): Field {
  const text = f.text!;
  return { name: f.name, kind: 'string', desc: f.desc, on: f.on, arg: f.arg, get: (e, x, arg) => text(e, x, arg) };
}

/** Validates a check; throws Unsupported (skip the rule) or CompileError (a broken rule). */
export function checkInfo(c: ResolvedCheck): CheckInfo {
  const problem = fieldProblem(c.field, c.arg);
  if (problem) {
    if (problem.unsupported) throw new Unsupported(problem.message, c.loc);
    throw new CompileError(problem.message, c.loc);
  }
  if (c.transformer) throw new Unsupported(`field transformer ${c.transformer}() is not supported by Vigil`, c.loc);
  if (c.op === 'bcontains' || c.op === 'bstartswith') throw new Unsupported(`operator '${c.op}' (binary buffers) is not supported by Vigil`, c.loc);
  let field = FIELDS.get(c.field)!;
  if (field.ops && !field.ops.includes(c.op)) throw new CompileError(`field ${c.field} compares only with ${field.ops.join(', ')}, not '${c.op}'`, c.loc);
  if (field.kind === 'number' && field.text && c.values && readsText(c.op, c.values)) field = asText(field);
  const arg = fieldArg(field, c.arg);
  // No argument: any of the values (proc.aname's ancestors; proc.aenv's, whose argument is a key or an index).
  const multi = !!field.some && (field.arg === 'none' || arg === -1 || (field.arg === 'optional-key' && arg === ''));
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

// The resolver: a parsed condition with every macro inlined and every
// list expanded into its values (Falco's filter_macro_resolver, and the
// compiler's list resolution), so that what follows sees only fields,
// operators and values. A macro is parsed once, when first used (every
// macro is checked for syntax, used or not); undefined macros and lists
// and macros that refer to themselves are errors at the place they are
// used.
import { ConditionSyntaxError, parseCondition, type Expr, type Operator } from './condition.js';
import type { RuleDefinitions } from './collector.js';
import { CompileError, locOf, Reported } from './compile-errors.js';
import type { ListItemDef } from './definitions.js';
import { isListOp } from './comparison.js';
import type { Loc, Problem } from './problems.js';
import { joinSources, type SourceText } from './source.js';

export interface ResolvedCheck {
  k: 'check';
  field: string;
  arg: string | null;
  transformer: string | null;
  op: Operator;
  values: string[] | null;
  loc: Loc;
  /** Where the value is, for errors about it. */
  valueLoc?: Loc;
  /** The lists the value names that hold no items (a template left to fill: `x in (my_list)`). */
  emptyLists?: string[];
}

export type ResolvedNode = { k: 'and' | 'or'; items: ResolvedNode[] } | { k: 'not'; e: ResolvedNode } | ResolvedCheck | { k: 'const'; v: boolean };

export class ConditionResolver {
  /** Parsed macro conditions (null: a syntax error, already reported). */
  private readonly macroAsts = new Map<string, Expr | null>();

  constructor(
    private readonly defs: RuleDefinitions,
    private readonly report: (p: Problem) => void,
  ) {}

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

  syntax(err: ConditionSyntaxError): void {
    const loc = locOf(err.at);
    this.report({ severity: 'error', ...loc, message: `condition: ${err.message}` });
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

  resolve(e: Expr, stack: readonly string[]): ResolvedNode {
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
        let named: string[] = [];
        const v = e.value;
        if (v) {
          if (v.k === 'scalar') values = [v.v];
          else if (v.k === 'list') {
            values = v.items.flatMap((i) => (i.quoted ? [i.v] : this.expandItem(i.v, [])));
            named = v.items.filter((i) => !i.quoted && this.defs.lists.has(i.v)).map((i) => i.v);
          } else {
            const list = this.defs.lists.get(v.name);
            if (!list) throw new CompileError(`undefined list '${v.name}'`, locOf(v.at));
            values = this.expandList(list.items, [v.name]);
            named = [v.name];
          }
          if (v.k === 'scalar' && isListOp(e.op)) throw new CompileError(`operator '${e.op}' takes a list: ${e.op} (a, b)`, locOf(v.at));
        }
        const emptyLists = values?.length === 0 && named.length > 0 ? named : undefined;
        return { k: 'check', field: e.field.name, arg: e.field.arg, transformer: e.field.transformer, op: e.op, values, loc: locOf(e.at), valueLoc: v ? locOf(v.at) : undefined, emptyLists };
      }
    }
  }

  /** A list's values, unquoted items that name a list replaced by its values (a list that includes itself stops there). */
  expandList(items: readonly ListItemDef[], stack: readonly string[]): string[] {
    return items.flatMap((i) => (i.quoted ? [i.v] : this.expandItem(i.v, stack)));
  }

  private expandItem(v: string, stack: readonly string[]): string[] {
    const list = this.defs.lists.get(v);
    if (!list) return [v];
    if (stack.includes(v)) return [v];
    return this.expandList(list.items, [...stack, v]);
  }
}

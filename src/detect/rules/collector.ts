// The collector: what the items of the rule files, in load order, make of
// the lists, macros and rules defined so far (Falco's
// rule_loader_collector). An item defines a name (again: the later
// definition wins), appends to or replaces parts of a definition made
// before it (`append: true`, `override: {key: append|replace}`), or only
// switches a rule on or off. The reader decides which of these an item
// is; this file is how each is applied.
import type { Priority } from '../../model/alert.js';
import type { ExceptionDef, ListDef, ListItemDef, MacroDef, RuleDef } from './definitions.js';
import type { Loc, Problem } from './problems.js';
import type { SourceText } from './source.js';

export type Override = 'append' | 'replace';

/** A rule item that changes a rule defined before it: what it gives for each key (null: not given). */
export interface RuleUpdate {
  name: string;
  condition: SourceText | null;
  output: string | null;
  desc: string | null;
  priority: Priority | null;
  tags: string[] | null;
  exceptions: ExceptionDef[] | null;
  enabled: boolean | null;
  at: Loc;
}

/** The lists, macros and rules of a set of files, overrides applied in order. */
export class RuleDefinitions {
  readonly lists = new Map<string, ListDef>();
  readonly macros = new Map<string, MacroDef>();
  readonly rules = new Map<string, RuleDef>();
  readonly problems: Problem[] = [];

  defineList(list: ListDef): void {
    this.lists.set(list.name, list);
  }

  updateList(name: string, how: Override, items: ListItemDef[], at: Loc): void {
    const existing = this.lists.get(name);
    if (!existing) {
      this.error(at, `list '${name}': ${how} to a list that is not defined before it`, name);
      return;
    }
    existing.items = how === 'append' ? [...existing.items, ...items] : items;
  }

  defineMacro(macro: MacroDef): void {
    this.macros.set(macro.name, macro);
  }

  /** A condition appended is text added to the macro's (`or proc.name = dash`), parsed with it later. */
  updateMacro(name: string, how: Override, condition: SourceText, at: Loc): void {
    const existing = this.macros.get(name);
    if (!existing) {
      this.error(at, `macro '${name}': ${how} to a macro that is not defined before it`, name);
      return;
    }
    existing.parts = how === 'append' ? [...existing.parts, condition] : [condition];
  }

  defineRule(rule: RuleDef): void {
    this.rules.set(rule.name, rule);
  }

  /** `- rule: X` with only `enabled`. */
  enableRule(name: string, enabled: boolean, at: Loc): void {
    const existing = this.rules.get(name);
    if (!existing) {
      this.error(at, `rule '${name}': 'enabled' given for a rule that is not defined before it`, name);
      return;
    }
    existing.enabled = enabled;
  }

  /** Legacy `append: true`: the condition's text and the exceptions are added to; other keys are ignored. */
  appendRule(u: RuleUpdate): void {
    const existing = this.existingRule(u, 'append');
    if (!existing) return;
    if (u.condition) existing.parts = [...existing.parts, u.condition];
    if (u.exceptions) this.mergeExceptions(existing, u.exceptions);
  }

  /** `override:` key by key; the reader has checked each key may be overridden that way, and has read its value. */
  overrideRule(u: RuleUpdate, keys: ReadonlyMap<string, Override>): void {
    const existing = this.existingRule(u, 'override');
    if (!existing) return;
    for (const [key, how] of keys) {
      switch (key) {
        case 'condition':
          existing.parts = how === 'append' ? [...existing.parts, u.condition!] : [u.condition!];
          break;
        case 'output':
          existing.output = how === 'append' ? `${existing.output} ${u.output!}` : u.output!;
          break;
        case 'desc':
          existing.desc = how === 'append' ? `${existing.desc} ${u.desc!}` : u.desc!;
          break;
        case 'priority':
          existing.priority = u.priority!;
          break;
        case 'tags':
          existing.tags = how === 'append' ? [...existing.tags, ...(u.tags ?? [])] : u.tags ?? [];
          break;
        case 'exceptions':
          if (how === 'append') this.mergeExceptions(existing, u.exceptions ?? []);
          else existing.exceptions = u.exceptions ?? [];
          break;
        case 'enabled':
          existing.enabled = u.enabled ?? true;
          break;
      }
    }
  }

  private existingRule(u: RuleUpdate, how: 'append' | 'override'): RuleDef | null {
    const existing = this.rules.get(u.name);
    if (!existing) this.error(u.at, `rule '${u.name}': ${how} to a rule that is not defined before it`, u.name);
    return existing ?? null;
  }

  /** Values of an exception the rule has are added to it; an exception it does not have is added whole. */
  private mergeExceptions(rule: RuleDef, extra: ExceptionDef[]): void {
    for (const e of extra) {
      const known = rule.exceptions.find((x) => x.name === e.name);
      if (known) {
        known.values = [...known.values, ...e.values];
      } else if (e.fields.length === 0) {
        this.error(e.at, `rule '${rule.name}': exception '${e.name}' is appended to but not defined (it has no 'fields')`, rule.name);
      } else {
        rule.exceptions.push(e);
      }
    }
  }

  private error(at: Loc, message: string, item: string): void {
    this.problems.push({ severity: 'error', ...at, item, message });
  }
}

// Falco rule files (YAML) → lists, macros and rules, with every override
// applied in file order: redefinition, `append: true`, `override:`
// (append/replace per key), enabled-only entries and exceptions. Each
// definition keeps where it came from, so later errors can name a file,
// line and column.
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node, type Scalar, type YAMLMap } from 'yaml';
import { PRIORITIES, type Priority } from '../../model/alert.js';
import { parseCondition, ConditionSyntaxError, parseListItem, type Expr } from './condition.js';
import type { Loc, Problem } from './problems.js';
import { scalarSource, type SourceText } from './source.js';

export interface ListItemDef {
  v: string;
  quoted: boolean;
  at: Loc;
}

export interface ListDef {
  name: string;
  items: ListItemDef[];
  at: Loc;
}

export interface MacroDef {
  name: string;
  parts: SourceText[];
  at: Loc;
}

export interface ExceptionValue {
  /** One value, or several for list comparisons (in, pmatch, intersects). */
  values: ListItemDef[];
  list: boolean;
  at: Loc;
}

export interface ExceptionDef {
  name: string;
  fields: string[];
  /** `fields:` given as one field rather than a list: values are that field's values. */
  single: boolean;
  comps: string[];
  /** One tuple (one value per field) per entry. */
  values: ExceptionValue[][];
  at: Loc;
}

/** Vigil extension: raise when `count` matching events (or distinct values) happen within `windowMs`, per key. */
export interface ThresholdDef {
  by: string[];
  distinct: string[];
  count: number;
  windowMs: number;
  at: Loc;
}

/** Vigil extension: raise when an event matches after an earlier one (`after`) captured the value it matches. */
export interface SequenceDef {
  after: SourceText;
  capture: string;
  match: string;
  by: string[];
  withinMs: number;
  at: Loc;
}

export interface RuleDef {
  name: string;
  desc: string;
  parts: SourceText[];
  output: string;
  priority: Priority;
  tags: string[];
  enabled: boolean;
  exceptions: ExceptionDef[];
  source: string;
  threshold: ThresholdDef | null;
  sequence: SequenceDef | null;
  at: Loc;
  /** Where the output text is (for output field warnings). */
  outputAt: Loc;
}

export interface RuleFile {
  file: string;
  text: string;
}

const RULE_KEYS = new Set([
  'rule', 'desc', 'condition', 'output', 'priority', 'tags', 'enabled', 'exceptions', 'append', 'override', 'source',
  'warn_evttypes', 'skip-if-unknown-filter', 'required_engine_version', 'capture', 'capture_duration', 'threshold', 'sequence',
]);
const OVERRIDABLE: Record<'rule' | 'macro' | 'list', { append: Set<string>; replace: Set<string> }> = {
  rule: {
    append: new Set(['condition', 'output', 'desc', 'tags', 'exceptions']),
    replace: new Set(['condition', 'output', 'desc', 'priority', 'tags', 'exceptions', 'enabled', 'warn_evttypes', 'skip-if-unknown-filter']),
  },
  macro: { append: new Set(['condition']), replace: new Set(['condition']) },
  list: { append: new Set(['items']), replace: new Set(['items']) },
};

/** Falco's names are case-insensitive; INFO is informational. */
export function parsePriority(s: string): Priority | null {
  const p = s.trim().toLowerCase();
  if (p === 'info') return 'informational';
  return (PRIORITIES as readonly string[]).includes(p) ? (p as Priority) : null;
}

/** "10s", "500ms", "5m", "1h", or a number of milliseconds. */
export function parseDuration(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
  if (typeof v !== 'string') return null;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/.exec(v.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return n > 0 ? n * unit : null;
}

class FileReader {
  readonly lines = new LineCounter();

  constructor(
    readonly file: string,
    readonly text: string,
    private readonly problems: Problem[],
  ) {}

  loc(node: Node | null | undefined): Loc {
    const off = node?.range?.[0];
    if (off === undefined) return { file: this.file, line: 0, col: 0 };
    const { line, col } = this.lines.linePos(off);
    return { file: this.file, line, col };
  }

  error(at: Loc, message: string, item?: string): void {
    this.problems.push({ severity: 'error', ...at, item, message });
  }

  warn(at: Loc, message: string, item?: string): void {
    this.problems.push({ severity: 'warning', ...at, item, message });
  }

  source(node: Scalar, value: string): SourceText {
    return scalarSource(this.file, this.text, this.lines, node, value);
  }
}

/** The lists, macros and rules of a set of files, overrides applied in order. */
export class RuleDefinitions {
  readonly lists = new Map<string, ListDef>();
  readonly macros = new Map<string, MacroDef>();
  readonly rules = new Map<string, RuleDef>();
  /** Parsed macro conditions (null: a syntax error, already reported). */
  private readonly macroAsts = new Map<string, Expr | null>();
  readonly problems: Problem[] = [];

  load(files: readonly RuleFile[]): this {
    for (const f of files) this.loadFile(f);
    return this;
  }

  loadFile({ file, text }: RuleFile): void {
    const r = new FileReader(file, text, this.problems);
    const docs = parseAllDocuments(text, { lineCounter: r.lines, prettyErrors: false, uniqueKeys: true });
    const list = Array.isArray(docs) ? docs : [docs];
    for (const doc of list) {
      if (doc.errors.length > 0) {
        for (const e of doc.errors) {
          const { line, col } = r.lines.linePos(e.pos[0]);
          r.error({ file, line, col }, `YAML: ${e.message.split('\n')[0]}`);
        }
        continue;
      }
      const root = doc.contents;
      if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) continue;
      if (!isSeq(root)) {
        r.error(r.loc(root), 'a rules file is a YAML list of items (- rule: …, - macro: …, - list: …)');
        continue;
      }
      for (const item of root.items) {
        if (!isMap(item)) {
          r.error(r.loc(item as Node), 'each item of a rules file must be a mapping (- rule: …, - macro: …, - list: …)');
          continue;
        }
        this.loadItem(r, item);
      }
    }
  }

  private loadItem(r: FileReader, item: YAMLMap): void {
    const keys = item.items.map((p) => (isScalar(p.key) ? String(p.key.value) : ''));
    const has = (k: string): boolean => keys.includes(k);
    if (has('rule')) this.loadRule(r, item, keys);
    else if (has('macro')) this.loadMacro(r, item, keys);
    else if (has('list')) this.loadList(r, item, keys);
    else if (has('required_engine_version') || has('required_plugin_versions')) return;
    else r.error(r.loc(item), `unknown item: expecting one of 'rule', 'macro', 'list' (found ${keys.map((k) => `'${k}'`).join(', ') || 'no keys'})`);
  }

  // ---- helpers reading typed values with positions -------------------

  private node(item: YAMLMap, key: string): Node | null {
    const pair = item.items.find((p) => isScalar(p.key) && p.key.value === key);
    return (pair?.value as Node | undefined) ?? null;
  }

  private str(r: FileReader, item: YAMLMap, key: string, what: string): { v: string; node: Scalar } | null {
    const n = this.node(item, key);
    if (n === null) return null;
    if (!isScalar(n) || n.value === null || typeof n.value === 'object') {
      r.error(r.loc(n), `${what}: '${key}' must be a string`);
      return null;
    }
    return { v: String(n.value), node: n };
  }

  private bool(r: FileReader, item: YAMLMap, key: string, what: string): boolean | null {
    const n = this.node(item, key);
    if (n === null) return null;
    if (!isScalar(n) || typeof n.value !== 'boolean') {
      r.error(r.loc(n), `${what}: '${key}' must be true or false`);
      return null;
    }
    return n.value;
  }

  private strList(r: FileReader, n: Node | null, what: string): { items: string[]; nodes: Node[] } | null {
    if (n === null) return null;
    if (isScalar(n) && typeof n.value === 'string') return { items: [n.value], nodes: [n] };
    if (!isSeq(n)) {
      r.error(r.loc(n), `${what} must be a list`);
      return null;
    }
    const items: string[] = [];
    const nodes: Node[] = [];
    for (const i of n.items) {
      if (!isScalar(i) || i.value === null || typeof i.value === 'object') {
        r.error(r.loc(i as Node), `${what}: each item must be a string`);
        return null;
      }
      items.push(String(i.value));
      nodes.push(i);
    }
    return { items, nodes };
  }

  /** override: { key: append|replace }; null when absent, false when invalid. */
  private override(r: FileReader, item: YAMLMap, kind: 'rule' | 'macro' | 'list', name: string): Map<string, 'append' | 'replace'> | null | false {
    const n = this.node(item, 'override');
    if (n === null) return null;
    if (!isMap(n)) {
      r.error(r.loc(n), `${kind} '${name}': 'override' must be a mapping of key: append|replace`, name);
      return false;
    }
    const out = new Map<string, 'append' | 'replace'>();
    for (const p of n.items) {
      const key = isScalar(p.key) ? String(p.key.value) : '';
      const how = isScalar(p.value) ? String(p.value.value) : '';
      const at = r.loc((p.value as Node) ?? (p.key as Node));
      if (how !== 'append' && how !== 'replace') {
        r.error(at, `${kind} '${name}': override of '${key}' must be append or replace, not '${how}'`, name);
        return false;
      }
      if (!OVERRIDABLE[kind][how].has(key)) {
        r.error(at, `${kind} '${name}': '${key}' cannot be overridden with ${how}`, name);
        return false;
      }
      if (this.node(item, key) === null) {
        r.error(at, `${kind} '${name}': override names '${key}' but the item has no '${key}'`, name);
        return false;
      }
      out.set(key, how);
    }
    return out;
  }

  // ---- lists ---------------------------------------------------------

  private listItems(r: FileReader, item: YAMLMap, name: string): ListItemDef[] | null {
    const n = this.node(item, 'items');
    if (n === null) {
      r.error(r.loc(item), `list '${name}': missing 'items'`, name);
      return null;
    }
    if (!isSeq(n)) {
      r.error(r.loc(n), `list '${name}': 'items' must be a list`, name);
      return null;
    }
    const out: ListItemDef[] = [];
    for (const i of n.items) {
      if (!isScalar(i) || i.value === null || typeof i.value === 'object') {
        r.error(r.loc(i as Node), `list '${name}': each item must be a string or a number`, name);
        return null;
      }
      out.push({ ...parseListItem(String(i.value)), at: r.loc(i) });
    }
    return out;
  }

  private loadList(r: FileReader, item: YAMLMap, keys: string[]): void {
    const name = this.str(r, item, 'list', 'list')?.v;
    if (!name) return;
    for (const k of keys) if (!['list', 'items', 'append', 'override'].includes(k)) r.warn(r.loc(this.node(item, k)), `list '${name}': unknown key '${k}' (ignored)`, name);
    const items = this.listItems(r, item, name);
    if (!items) return;
    const append = this.bool(r, item, 'append', `list '${name}'`);
    const ov = this.override(r, item, 'list', name);
    if (ov === false) return;
    const existing = this.lists.get(name);
    const how = ov?.get('items') ?? (append ? 'append' : null);
    if (how) {
      if (!existing) {
        r.error(r.loc(item), `list '${name}': ${how} to a list that is not defined before it`, name);
        return;
      }
      existing.items = how === 'append' ? [...existing.items, ...items] : items;
      return;
    }
    this.lists.set(name, { name, items, at: r.loc(item) });
  }

  // ---- macros --------------------------------------------------------

  private loadMacro(r: FileReader, item: YAMLMap, keys: string[]): void {
    const name = this.str(r, item, 'macro', 'macro')?.v;
    if (!name) return;
    if (!/^[a-zA-Z][a-zA-Z0-9_]*$/.test(name)) {
      r.error(r.loc(this.node(item, 'macro')), `macro '${name}': a macro name is letters, digits and _ (starting with a letter)`, name);
      return;
    }
    for (const k of keys) if (!['macro', 'condition', 'append', 'override'].includes(k)) r.warn(r.loc(this.node(item, k)), `macro '${name}': unknown key '${k}' (ignored)`, name);
    const cond = this.str(r, item, 'condition', `macro '${name}'`);
    if (!cond) {
      if (!this.node(item, 'condition')) r.error(r.loc(item), `macro '${name}': missing 'condition'`, name);
      return;
    }
    const src = r.source(cond.node, cond.v);
    const append = this.bool(r, item, 'append', `macro '${name}'`);
    const ov = this.override(r, item, 'macro', name);
    if (ov === false) return;
    const how = ov?.get('condition') ?? (append ? 'append' : null);
    const existing = this.macros.get(name);
    if (how) {
      if (!existing) {
        r.error(r.loc(item), `macro '${name}': ${how} to a macro that is not defined before it`, name);
        return;
      }
      existing.parts = how === 'append' ? [...existing.parts, src] : [src];
      this.macroAsts.delete(name);
      return;
    }
    this.macros.set(name, { name, parts: [src], at: r.loc(item) });
    this.macroAsts.delete(name);
  }

  /** A macro's parsed condition; syntax errors are reported once. */
  macroAst(name: string, parse: (parts: SourceText[]) => Expr | null): Expr | null | undefined {
    const m = this.macros.get(name);
    if (!m) return undefined;
    if (!this.macroAsts.has(name)) this.macroAsts.set(name, parse(m.parts));
    return this.macroAsts.get(name) ?? null;
  }

  // ---- rules ---------------------------------------------------------

  private loadRule(r: FileReader, item: YAMLMap, keys: string[]): void {
    const name = this.str(r, item, 'rule', 'rule')?.v;
    if (!name) return;
    const what = `rule '${name}'`;
    for (const k of keys) if (!RULE_KEYS.has(k)) r.warn(r.loc(this.node(item, k)), `${what}: unknown key '${k}' (ignored)`, name);
    const existing = this.rules.get(name);
    const append = this.bool(r, item, 'append', what);
    const ov = this.override(r, item, 'rule', name);
    if (ov === false) return;
    const enabled = this.bool(r, item, 'enabled', what);

    // `- rule: X` with only `enabled`: switch an existing rule on or off.
    const content = keys.filter((k) => k !== 'rule' && k !== 'enabled');
    if (!append && !ov && content.length === 0 && enabled !== null) {
      if (!existing) {
        r.error(r.loc(item), `${what}: 'enabled' given for a rule that is not defined before it`, name);
        return;
      }
      existing.enabled = enabled;
      return;
    }

    const condStr = this.str(r, item, 'condition', what);
    const cond = condStr ? r.source(condStr.node, condStr.v) : null;
    const output = this.str(r, item, 'output', what);
    const desc = this.str(r, item, 'desc', what);
    const prioStr = this.str(r, item, 'priority', what);
    let priority: Priority | null = null;
    if (prioStr) {
      priority = parsePriority(prioStr.v);
      if (!priority) {
        r.error(r.loc(prioStr.node), `${what}: unknown priority '${prioStr.v}' (emergency, alert, critical, error, warning, notice, informational or debug)`, name);
        return;
      }
    }
    const tags = this.strList(r, this.node(item, 'tags'), `${what}: 'tags'`);
    const exceptions = this.exceptions(r, item, name);
    if (exceptions === false) return;
    const source = this.str(r, item, 'source', what)?.v ?? null;

    if (append || ov) {
      if (!existing) {
        r.error(r.loc(item), `${what}: ${append ? 'append' : 'override'} to a rule that is not defined before it`, name);
        return;
      }
      if (append) {
        if (cond) existing.parts = [...existing.parts, cond];
        if (exceptions) mergeExceptions(r, existing, exceptions, name);
        return;
      }
      for (const [key, how] of ov!) {
        switch (key) {
          case 'condition':
            existing.parts = how === 'append' ? [...existing.parts, cond!] : [cond!];
            break;
          case 'output':
            existing.output = how === 'append' ? `${existing.output} ${output!.v}` : output!.v;
            break;
          case 'desc':
            existing.desc = how === 'append' ? `${existing.desc} ${desc!.v}` : desc!.v;
            break;
          case 'priority':
            existing.priority = priority!;
            break;
          case 'tags':
            existing.tags = how === 'append' ? [...existing.tags, ...(tags?.items ?? [])] : tags?.items ?? [];
            break;
          case 'exceptions':
            if (how === 'append') mergeExceptions(r, existing, exceptions ?? [], name);
            else existing.exceptions = exceptions ?? [];
            break;
          case 'enabled':
            existing.enabled = enabled ?? true;
            break;
        }
      }
      return;
    }

    const missing = (['condition', 'output', 'priority', 'desc'] as const).filter((k) => this.node(item, k) === null);
    if (missing.length > 0) {
      r.error(r.loc(item), `${what}: missing ${missing.map((k) => `'${k}'`).join(', ')}`, name);
      return;
    }
    if (!cond || !output || !priority || !desc) return; // wrong types, already reported
    const threshold = this.threshold(r, item, name);
    const sequence = this.sequence(r, item, name);
    if (threshold === false || sequence === false) return;
    if (threshold && sequence) {
      r.error(r.loc(item), `${what}: a rule has either 'threshold' or 'sequence', not both`, name);
      return;
    }
    this.rules.set(name, {
      name,
      desc: desc.v,
      parts: [cond],
      output: output.v,
      priority,
      tags: tags?.items ?? [],
      enabled: enabled ?? true,
      exceptions: exceptions ?? [],
      source: source ?? 'syscall',
      threshold,
      sequence,
      at: r.loc(item),
      outputAt: r.loc(output.node),
    });
  }

  private exceptions(r: FileReader, item: YAMLMap, rule: string): ExceptionDef[] | null | false {
    const n = this.node(item, 'exceptions');
    if (n === null) return null;
    const what = `rule '${rule}'`;
    if (!isSeq(n)) {
      r.error(r.loc(n), `${what}: 'exceptions' must be a list`, rule);
      return false;
    }
    const out: ExceptionDef[] = [];
    for (const e of n.items) {
      if (!isMap(e)) {
        r.error(r.loc(e as Node), `${what}: each exception must be a mapping with name, fields, comps, values`, rule);
        return false;
      }
      const name = this.str(r, e, 'name', `${what} exception`)?.v;
      if (!name) {
        r.error(r.loc(e), `${what}: an exception needs a 'name'`, rule);
        return false;
      }
      const ew = `${what} exception '${name}'`;
      const fieldsNode = this.node(e, 'fields');
      const single = fieldsNode !== null && isScalar(fieldsNode);
      const fields = this.strList(r, fieldsNode, `${ew}: 'fields'`);
      const compsNode = this.node(e, 'comps');
      const comps = this.strList(r, compsNode, `${ew}: 'comps'`);
      if (fieldsNode !== null && !fields) return false;
      if (compsNode !== null && !comps) return false;
      const values: ExceptionValue[][] = [];
      const vn = this.node(e, 'values');
      if (vn !== null) {
        if (!isSeq(vn)) {
          r.error(r.loc(vn), `${ew}: 'values' must be a list`, rule);
          return false;
        }
        for (const tuple of vn.items) {
          const t = this.exceptionTuple(r, tuple as Node, single, ew, rule);
          if (!t) return false;
          values.push(t);
        }
      }
      out.push({
        name,
        fields: fields?.items ?? [],
        single,
        comps: comps?.items ?? [],
        values,
        at: r.loc(e),
      });
    }
    return out;
  }

  private exceptionTuple(r: FileReader, tuple: Node, single: boolean, what: string, rule: string): ExceptionValue[] | null {
    const value = (n: Node): ExceptionValue | null => {
      if (isScalar(n) && n.value !== null && typeof n.value !== 'object') {
        return { values: [{ ...parseListItem(String(n.value)), at: r.loc(n) }], list: false, at: r.loc(n) };
      }
      if (isSeq(n)) {
        const vs: ListItemDef[] = [];
        for (const i of n.items) {
          if (!isScalar(i) || i.value === null || typeof i.value === 'object') {
            r.error(r.loc(i as Node), `${what}: values must be strings or lists of strings`, rule);
            return null;
          }
          vs.push({ ...parseListItem(String(i.value)), at: r.loc(i) });
        }
        return { values: vs, list: true, at: r.loc(n) };
      }
      r.error(r.loc(n), `${what}: values must be strings or lists of strings`, rule);
      return null;
    };
    if (single) {
      const v = value(tuple);
      return v ? [v] : null;
    }
    if (!isSeq(tuple)) {
      r.error(r.loc(tuple), `${what}: each entry of 'values' is a list with one value per field`, rule);
      return null;
    }
    const out: ExceptionValue[] = [];
    for (const i of tuple.items) {
      const v = value(i as Node);
      if (!v) return null;
      out.push(v);
    }
    return out;
  }

  private threshold(r: FileReader, item: YAMLMap, rule: string): ThresholdDef | null | false {
    const n = this.node(item, 'threshold');
    if (n === null) return null;
    const what = `rule '${rule}': threshold`;
    if (!isMap(n)) {
      r.error(r.loc(n), `${what} must be a mapping (by, distinct, count, window)`, rule);
      return false;
    }
    const countNode = this.node(n, 'count');
    const count = isScalar(countNode) ? Number(countNode.value) : NaN;
    if (!Number.isInteger(count) || count < 2 || count > 100_000) {
      r.error(r.loc(countNode ?? n), `${what}: 'count' must be a whole number from 2 to 100000`, rule);
      return false;
    }
    const windowNode = this.node(n, 'window');
    const windowMs = parseDuration(isScalar(windowNode) ? windowNode.value : undefined);
    if (windowMs === null) {
      r.error(r.loc(windowNode ?? n), `${what}: 'window' must be a duration such as 10s, 500ms or 5m`, rule);
      return false;
    }
    const by = this.strList(r, this.node(n, 'by'), `${what}: 'by'`)?.items ?? ['proc.pid'];
    const distinct = this.strList(r, this.node(n, 'distinct'), `${what}: 'distinct'`)?.items ?? [];
    return { by, distinct, count, windowMs, at: r.loc(n) };
  }

  private sequence(r: FileReader, item: YAMLMap, rule: string): SequenceDef | null | false {
    const n = this.node(item, 'sequence');
    if (n === null) return null;
    const what = `rule '${rule}': sequence`;
    if (!isMap(n)) {
      r.error(r.loc(n), `${what} must be a mapping (after, capture, match, within)`, rule);
      return false;
    }
    const after = this.str(r, n, 'after', what);
    const capture = this.str(r, n, 'capture', what);
    const match = this.str(r, n, 'match', what);
    if (!after || !capture || !match) {
      r.error(r.loc(n), `${what}: needs 'after' (a condition), 'capture' and 'match' (fields)`, rule);
      return false;
    }
    const withinNode = this.node(n, 'within');
    const withinMs = withinNode === null ? 600_000 : parseDuration(isScalar(withinNode) ? withinNode.value : undefined);
    if (withinMs === null) {
      r.error(r.loc(withinNode), `${what}: 'within' must be a duration such as 10s or 5m`, rule);
      return false;
    }
    const by = this.strList(r, this.node(n, 'by'), `${what}: 'by'`)?.items ?? [];
    return { after: r.source(after.node, after.v), capture: capture.v, match: match.v, by, withinMs, at: r.loc(n) };
  }
}

function mergeExceptions(r: FileReader, rule: RuleDef, extra: ExceptionDef[], name: string): void {
  for (const e of extra) {
    const known = rule.exceptions.find((x) => x.name === e.name);
    if (known) {
      known.values = [...known.values, ...e.values];
    } else if (e.fields.length === 0) {
      r.error(e.at, `rule '${name}': exception '${e.name}' is appended to but not defined (it has no 'fields')`, name);
    } else {
      rule.exceptions.push(e);
    }
  }
}

/** Parses the condition text of a macro or rule, reporting a syntax error as a problem. */
export function parseParts(parts: readonly SourceText[], join: (p: readonly SourceText[]) => SourceText, report: (e: ConditionSyntaxError) => void): Expr | null {
  try {
    return parseCondition(join(parts));
  } catch (err) {
    if (err instanceof ConditionSyntaxError) {
      report(err);
      return null;
    }
    throw err;
  }
}

// The reader: Falco rule files (YAML) → list, macro and rule items, each
// with its place, handed in file order to the collector (collector.ts),
// as Falco's rule_loader_reader does. The reader checks an item's shape
// and types and decides what the item does — define a name, append to
// or override a definition made before it, or switch a rule on or off —
// and the collector applies it.
import { isMap, isScalar, isSeq, parseAllDocuments, type Node, type YAMLMap } from 'yaml';
import { PRIORITIES, type Priority } from '../../model/alert.js';
import { RuleDefinitions, type Override, type RuleUpdate } from './collector.js';
import { parseListItem } from './condition.js';
import type { ListItemDef, RuleFile } from './definitions.js';
import { readExceptions } from './exception-reader.js';
import { readSequence, readThreshold } from './extension-reader.js';
import { FileReader } from './file-reader.js';

const RULE_KEYS = new Set([
  'rule', 'desc', 'condition', 'output', 'priority', 'tags', 'enabled', 'exceptions', 'append', 'override', 'source',
  'warn_evttypes', 'skip-if-unknown-filter', 'required_engine_version', 'capture', 'capture_duration', 'threshold', 'sequence',
]);
const OVERRIDABLE: Record<'rule' | 'macro' | 'list', Record<Override, Set<string>>> = {
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

/** The definitions of a set of files, in order; problems are in `problems`, never thrown. */
export function readRules(files: readonly RuleFile[]): RuleDefinitions {
  const defs = new RuleDefinitions();
  for (const f of files) readFile(defs, f);
  return defs;
}

function readFile(defs: RuleDefinitions, { file, text }: RuleFile): void {
  const r = new FileReader(file, text, defs.problems);
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
      readItem(defs, r, item);
    }
  }
}

function readItem(defs: RuleDefinitions, r: FileReader, item: YAMLMap): void {
  const keys = item.items.map((p) => (isScalar(p.key) ? String(p.key.value) : ''));
  const has = (k: string): boolean => keys.includes(k);
  if (has('rule')) readRule(defs, r, item, keys);
  else if (has('macro')) readMacro(defs, r, item, keys);
  else if (has('list')) readList(defs, r, item, keys);
  else if (has('required_engine_version') || has('required_plugin_versions')) return;
  else r.error(r.loc(item), `unknown item: expecting one of 'rule', 'macro', 'list' (found ${keys.map((k) => `'${k}'`).join(', ') || 'no keys'})`);
}

/** override: { key: append|replace }; null when absent, false when invalid (reported). */
function readOverride(r: FileReader, item: YAMLMap, kind: 'rule' | 'macro' | 'list', name: string): Map<string, Override> | null | false {
  const n = r.node(item, 'override');
  if (n === null) return null;
  if (!isMap(n)) {
    r.error(r.loc(n), `${kind} '${name}': 'override' must be a mapping of key: append|replace`, name);
    return false;
  }
  const out = new Map<string, Override>();
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
    if (r.node(item, key) === null) {
      r.error(at, `${kind} '${name}': override names '${key}' but the item has no '${key}'`, name);
      return false;
    }
    out.set(key, how);
  }
  return out;
}

// ---- lists -----------------------------------------------------------

function readListItems(r: FileReader, item: YAMLMap, name: string): ListItemDef[] | null {
  const n = r.node(item, 'items');
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

function readList(defs: RuleDefinitions, r: FileReader, item: YAMLMap, keys: string[]): void {
  const name = r.str(item, 'list', 'list')?.v;
  if (!name) return;
  for (const k of keys) if (!['list', 'items', 'append', 'override'].includes(k)) r.warn(r.loc(r.node(item, k)), `list '${name}': unknown key '${k}' (ignored)`, name);
  const items = readListItems(r, item, name);
  if (!items) return;
  const append = r.bool(item, 'append', `list '${name}'`);
  const ov = readOverride(r, item, 'list', name);
  if (ov === false) return;
  const how = ov?.get('items') ?? (append ? 'append' : null);
  if (how) defs.updateList(name, how, items, r.loc(item));
  else defs.defineList({ name, items, at: r.loc(item) });
}

// ---- macros ----------------------------------------------------------

function readMacro(defs: RuleDefinitions, r: FileReader, item: YAMLMap, keys: string[]): void {
  const name = r.str(item, 'macro', 'macro')?.v;
  if (!name) return;
  if (!/^[a-zA-Z][a-zA-Z0-9_]*$/.test(name)) {
    r.error(r.loc(r.node(item, 'macro')), `macro '${name}': a macro name is letters, digits and _ (starting with a letter)`, name);
    return;
  }
  for (const k of keys) if (!['macro', 'condition', 'append', 'override'].includes(k)) r.warn(r.loc(r.node(item, k)), `macro '${name}': unknown key '${k}' (ignored)`, name);
  const cond = r.str(item, 'condition', `macro '${name}'`);
  if (!cond) {
    if (!r.node(item, 'condition')) r.error(r.loc(item), `macro '${name}': missing 'condition'`, name);
    return;
  }
  const src = r.source(cond.node, cond.v);
  const append = r.bool(item, 'append', `macro '${name}'`);
  const ov = readOverride(r, item, 'macro', name);
  if (ov === false) return;
  const how = ov?.get('condition') ?? (append ? 'append' : null);
  if (how) defs.updateMacro(name, how, src, r.loc(item));
  else defs.defineMacro({ name, parts: [src], at: r.loc(item) });
}

// ---- rules -----------------------------------------------------------

function readRule(defs: RuleDefinitions, r: FileReader, item: YAMLMap, keys: string[]): void {
  const name = r.str(item, 'rule', 'rule')?.v;
  if (!name) return;
  const what = `rule '${name}'`;
  for (const k of keys) if (!RULE_KEYS.has(k)) r.warn(r.loc(r.node(item, k)), `${what}: unknown key '${k}' (ignored)`, name);
  const append = r.bool(item, 'append', what);
  const ov = readOverride(r, item, 'rule', name);
  if (ov === false) return;
  const enabled = r.bool(item, 'enabled', what);

  // `- rule: X` with only `enabled`: switch an existing rule on or off.
  const content = keys.filter((k) => k !== 'rule' && k !== 'enabled');
  if (!append && !ov && content.length === 0 && enabled !== null) {
    defs.enableRule(name, enabled, r.loc(item));
    return;
  }

  const condStr = r.str(item, 'condition', what);
  const cond = condStr ? r.source(condStr.node, condStr.v) : null;
  const output = r.str(item, 'output', what);
  const desc = r.str(item, 'desc', what);
  const prioStr = r.str(item, 'priority', what);
  let priority: Priority | null = null;
  if (prioStr) {
    priority = parsePriority(prioStr.v);
    if (!priority) {
      r.error(r.loc(prioStr.node), `${what}: unknown priority '${prioStr.v}' (emergency, alert, critical, error, warning, notice, informational or debug)`, name);
      return;
    }
  }
  const tags = r.strList(r.node(item, 'tags'), `${what}: 'tags'`);
  const exceptions = readExceptions(r, item, name);
  if (exceptions === false) return;
  const source = r.str(item, 'source', what)?.v ?? null;

  if (append || ov) {
    const update: RuleUpdate = {
      name, condition: cond, output: output?.v ?? null, desc: desc?.v ?? null, priority, tags: tags?.items ?? null, exceptions, enabled, at: r.loc(item),
    };
    if (append) defs.appendRule(update);
    else if (overridesRead(update, ov!)) defs.overrideRule(update, ov!);
    return;
  }

  const missing = (['condition', 'output', 'priority', 'desc'] as const).filter((k) => r.node(item, k) === null);
  if (missing.length > 0) {
    r.error(r.loc(item), `${what}: missing ${missing.map((k) => `'${k}'`).join(', ')}`, name);
    return;
  }
  if (!cond || !output || !priority || !desc) return; // wrong types, already reported
  const threshold = readThreshold(r, item, name);
  const sequence = readSequence(r, item, name);
  if (threshold === false || sequence === false) return;
  if (threshold && sequence) {
    r.error(r.loc(item), `${what}: a rule has either 'threshold' or 'sequence', not both`, name);
    return;
  }
  defs.defineRule({
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

/**
 * Whether every key an override names was read: one with the wrong type
 * (reported where it is) leaves the rule as it was rather than half
 * overridden.
 */
function overridesRead(u: RuleUpdate, keys: ReadonlyMap<string, Override>): boolean {
  const read: Record<string, unknown> = {
    condition: u.condition, output: u.output, desc: u.desc, priority: u.priority, tags: u.tags, exceptions: u.exceptions, enabled: u.enabled,
  };
  return [...keys.keys()].every((k) => read[k] !== null);
}

// A rule's `exceptions:` key read into definitions: each exception's
// name, fields, comparisons and value tuples (a single field's values
// when `fields` is one field). What they mean is the compiler's
// (exceptions.ts); appending to them is the collector's.
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import { parseListItem } from './condition.js';
import type { ExceptionDef, ExceptionValue, ListItemDef } from './definitions.js';
import type { FileReader } from './file-reader.js';

/** The exceptions of a rule item; null when it has none, false when they are invalid (reported). */
export function readExceptions(r: FileReader, item: YAMLMap, rule: string): ExceptionDef[] | null | false {
  const n = r.node(item, 'exceptions');
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
    const name = r.str(e, 'name', `${what} exception`)?.v;
    if (!name) {
      r.error(r.loc(e), `${what}: an exception needs a 'name'`, rule);
      return false;
    }
    const ew = `${what} exception '${name}'`;
    const fieldsNode = r.node(e, 'fields');
    const single = fieldsNode !== null && isScalar(fieldsNode);
    const fields = r.strList(fieldsNode, `${ew}: 'fields'`);
    const compsNode = r.node(e, 'comps');
    const comps = r.strList(compsNode, `${ew}: 'comps'`);
    if (fieldsNode !== null && !fields) return false;
    if (compsNode !== null && !comps) return false;
    const values: ExceptionValue[][] = [];
    const vn = r.node(e, 'values');
    if (vn !== null) {
      if (!isSeq(vn)) {
        r.error(r.loc(vn), `${ew}: 'values' must be a list`, rule);
        return false;
      }
      for (const tuple of vn.items) {
        const t = readTuple(r, tuple as Node, single, ew, rule);
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

/** One entry of `values`: a value per field, or (one field) that field's value. */
function readTuple(r: FileReader, tuple: Node, single: boolean, what: string, rule: string): ExceptionValue[] | null {
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

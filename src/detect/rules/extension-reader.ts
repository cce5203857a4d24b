// Vigil's extensions to a rule item, read into definitions: `threshold`
// (count matching events per key within a window) and `sequence` (an
// event after an earlier one that captured the value it matches).
import { isMap, isScalar, type YAMLMap } from 'yaml';
import type { SequenceDef, ThresholdDef } from './definitions.js';
import type { FileReader } from './file-reader.js';

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

/** null when the item has no threshold, false when it is invalid (reported). */
export function readThreshold(r: FileReader, item: YAMLMap, rule: string): ThresholdDef | null | false {
  const n = r.node(item, 'threshold');
  if (n === null) return null;
  const what = `rule '${rule}': threshold`;
  if (!isMap(n)) {
    r.error(r.loc(n), `${what} must be a mapping (by, distinct, count, window)`, rule);
    return false;
  }
  const countNode = r.node(n, 'count');
  const count = isScalar(countNode) ? Number(countNode.value) : NaN;
  if (!Number.isInteger(count) || count < 2 || count > 100_000) {
    r.error(r.loc(countNode ?? n), `${what}: 'count' must be a whole number from 2 to 100000`, rule);
    return false;
  }
  const windowNode = r.node(n, 'window');
  const windowMs = parseDuration(isScalar(windowNode) ? windowNode.value : undefined);
  if (windowMs === null) {
    r.error(r.loc(windowNode ?? n), `${what}: 'window' must be a duration such as 10s, 500ms or 5m`, rule);
    return false;
  }
  const by = r.strList(r.node(n, 'by'), `${what}: 'by'`)?.items ?? ['proc.pid'];
  const distinct = r.strList(r.node(n, 'distinct'), `${what}: 'distinct'`)?.items ?? [];
  return { by, distinct, count, windowMs, at: r.loc(n) };
}

/** null when the item has no sequence, false when it is invalid (reported). */
export function readSequence(r: FileReader, item: YAMLMap, rule: string): SequenceDef | null | false {
  const n = r.node(item, 'sequence');
  if (n === null) return null;
  const what = `rule '${rule}': sequence`;
  if (!isMap(n)) {
    r.error(r.loc(n), `${what} must be a mapping (after, capture, match, within)`, rule);
    return false;
  }
  const after = r.str(n, 'after', what);
  const capture = r.str(n, 'capture', what);
  const match = r.str(n, 'match', what);
  if (!after || !capture || !match) {
    r.error(r.loc(n), `${what}: needs 'after' (a condition), 'capture' and 'match' (fields)`, rule);
    return false;
  }
  const withinNode = r.node(n, 'within');
  const withinMs = withinNode === null ? 600_000 : parseDuration(isScalar(withinNode) ? withinNode.value : undefined);
  if (withinMs === null) {
    r.error(r.loc(withinNode), `${what}: 'within' must be a duration such as 10s or 5m`, rule);
    return false;
  }
  const by = r.strList(r.node(n, 'by'), `${what}: 'by'`)?.items ?? [];
  return { after: r.source(after.node, after.v), capture: capture.v, match: match.v, by, withinMs, at: r.loc(n) };
}

// The fields a condition or an output can name, gathered from the tables
// of each Falco field class (fields-event.ts, fields-process.ts,
// fields-fd.ts, fields-container.ts), and why a name cannot be used. A
// field read on an event type it does not apply to, or whose value is
// unknown, is "missing": every comparison with it is false, as in Falco.
import { ALL, type FieldDef } from './field-def.js';
import type { Field, FieldArg } from './field-types.js';
import { ARG_FIELDS } from './fields-args.js';
import { CONTAINER_FIELDS } from './fields-container.js';
import { EVENT_FIELDS } from './fields-event.js';
import { FD_FIELDS } from './fields-fd.js';
import { whyMissing } from './fields-missing.js';
import { PROCESS_FIELDS } from './fields-process.js';

const DEFS: Record<string, FieldDef> = { ...EVENT_FIELDS, ...ARG_FIELDS, ...PROCESS_FIELDS, ...FD_FIELDS, ...CONTAINER_FIELDS };

export const FIELDS: ReadonlyMap<string, Field> = new Map(
  Object.entries(DEFS).map(([name, d]) => [
    name,
    {
      name, kind: d.kind, desc: d.desc, on: d.on ?? ALL, arg: d.arg ?? 'none', constant: d.constant, get: d.get,
      inline: d.inline, compare: d.compare, some: d.some, known: d.known, reads: d.reads, text: d.text, ops: d.ops, names: d.names,
    },
  ]),
);

/** Field classes Falco has; a dotted name outside these is a typo rather than a field Vigil lacks. */
const FALCO_CLASSES = new Set(['evt', 'proc', 'thread', 'user', 'group', 'fd', 'fdlist', 'fs', 'container', 'k8s', 'k8smeta', 'ka', 'jevt', 'span', 'syslog', 'mesos', 'evtin', 'json', 'ct', 'aws', 'gcp', 'cloudtrail', 'okta', 'github', 'k8saudit']);

/** Why a field name cannot be used, or null when it can. */
export function fieldProblem(name: string, arg: string | null): { unsupported: boolean; message: string } | null {
  const f = FIELDS.get(name);
  if (!f) {
    const cls = name.split('.')[0]!;
    const why = whyMissing(name);
    return FALCO_CLASSES.has(cls)
      ? { unsupported: true, message: `field '${name}' is not available in Vigil${why ? `: ${why}` : ''}` }
      : { unsupported: true, message: `unknown field '${name}'` };
  }
  if (f.arg === 'none' && arg !== null) return { unsupported: false, message: `field '${name}' takes no argument ('${name}[${arg}]')` };
  if (f.arg === 'index' && arg === null) return { unsupported: false, message: `field '${name}' needs an index, e.g. ${name}[1]` };
  if ((f.arg === 'index' || f.arg === 'optional-index') && arg !== null && !/^\d+$/.test(arg)) {
    return { unsupported: false, message: `field '${name}' takes a number as its index, not '${arg}'` };
  }
  if (f.arg === 'key' && arg === null) return { unsupported: false, message: `field '${name}' needs a key, e.g. ${name}[app]` };
  return null;
}

/** The argument as extractors take it. */
export function fieldArg(f: Field, arg: string | null): FieldArg {
  if (f.arg === 'key' || f.arg === 'optional-key') return arg ?? '';
  return arg === null ? -1 : Number(arg);
}

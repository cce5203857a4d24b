// A rule's output line in Falco's syntax: text with %field references
// (%proc.name, %proc.aname[2], %(user.name)). Fields Vigil does not have,
// and values that are missing, print as <NA>, as Falco prints them. Text
// values with spaces, quotes, `=` or unsafe characters are quoted (Falco
// prints them raw), so a crafted name cannot forge the fields after it.
import type { Event } from '../../model/event.js';
import { shown } from '../../model/text.js';
import type { FieldContext } from './context.js';
import type { FieldValue } from './field-types.js';
import { FIELDS, fieldArg, fieldProblem } from './fields.js';
import type { Loc } from './problems.js';

type Segment = string | { ref: string; get: ((e: Event, x: FieldContext) => FieldValue | undefined) | null };

export interface OutputTemplate {
  text: string;
  segments: Segment[];
  /** Referenced fields that are not available in Vigil (printed <NA>). */
  unsupported: string[];
  at: Loc;
}

export interface FormattedOutput {
  output: string;
  /** The one-line message: the output before Falco's conventional " | " separator. */
  message: string;
  /** Falco's output_fields: each referenced field and its value (null when missing). */
  fields: Record<string, string | number | boolean | null>;
}

const REF = /%(?:\(([^)]+)\)|([a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z0-9_]+)+(?:\[[^\]\s]*\])?))/g;

export function compileOutput(text: string, at: Loc): OutputTemplate {
  const segments: Segment[] = [];
  const unsupported: string[] = [];
  let last = 0;
  for (const m of text.matchAll(REF)) {
    if (m.index! > last) segments.push(text.slice(last, m.index));
    last = m.index! + m[0].length;
    const ref = (m[1] ?? m[2]!).trim();
    const parsed = /^([a-zA-Z][a-zA-Z0-9_.]*?)(?:\[([^\]]*)\])?$/.exec(ref);
    const name = parsed?.[1] ?? ref;
    const arg = parsed?.[2] ?? null;
    const f = FIELDS.get(name);
    if (!f || fieldProblem(name, arg)) {
      if (!unsupported.includes(ref)) unsupported.push(ref);
      segments.push({ ref, get: null });
      continue;
    }
    const a = fieldArg(f, arg);
    // A number that has a text prints as Falco prints it (the user name, the flag names).
    const get = f.text ?? f.get;
    segments.push({ ref, get: (e, x) => (f.on.has(e.type) ? get(e, x, a) : undefined) });
  }
  if (last < text.length) segments.push(text.slice(last));
  return { text, segments, unsupported, at };
}

/** Renders the output for one event (the slow path: only when a rule fires), argv with its secrets redacted. */
export function formatOutput(t: OutputTemplate, e: Event, x: FieldContext): FormattedOutput {
  const was = x.redacting;
  x.redacting = true;
  try {
    return render(t, e, x);
  } finally {
    x.redacting = was;
  }
}

function render(t: OutputTemplate, e: Event, x: FieldContext): FormattedOutput {
  let output = '';
  // The message ends at Falco's conventional " | " in the rule's own text (never inside a value).
  let messageEnd = -1;
  const fields: FormattedOutput['fields'] = {};
  for (const s of t.segments) {
    if (typeof s === 'string') {
      const bar = messageEnd < 0 ? s.indexOf(' | ') : -1;
      if (bar >= 0) messageEnd = output.length + bar;
      output += s;
      continue;
    }
    const v = s.get ? s.get(e, x) : undefined;
    fields[s.ref] = v === undefined ? null : v;
    // A value the process chose (a name, a path, a command line) is quoted when it could pass for more than one.
    output += v === undefined ? '<NA>' : typeof v === 'string' ? shown(v) : String(v);
  }
  return { output: output.trim(), message: (messageEnd < 0 ? output : output.slice(0, messageEnd)).trim(), fields };
}

// A field's inline JavaScript (what compiled rules read: `e.comm`,
// `e.tty`) must give what its getter gives, on every event type and class
// it is compiled for. The inline reads are strings: one left behind when
// an Event property moves or is renamed reads undefined, and every rule
// on that field stops matching without an error. The same for the
// allocation-free comparisons some fields compile to (fd.directory = D).
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, emptyEvent, type Event, type EventType } from '../../../src/model/event.js';
import { FIELDS } from '../../../src/detect/rules/fields.js';
import type { Field, FieldArg, FieldValue, Known } from '../../../src/detect/rules/field-types.js';
import { CLASSIFIERS, classCount, OPEN_CREAT, OPEN_DIRECTORY, OPEN_FAILED, OPEN_TRUNC } from '../../../src/detect/rules/classes.js';
import { Constants } from '../../../src/detect/rules/constants.js';
import { World, workload } from './support.js';
import { assignEvent } from '../../support/events.js';

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;

/**
 * Every property an event of type `t` has, filled with a value of its own
 * (nested plain objects too), so a read of the wrong property gives a
 * different value or undefined; then the few that a class decides.
 */
function populated(w: World, t: EventType, cls: number, seed: number): Event {
  const e = emptyEvent(t);
  let n = seed;
  const fill = (o: Record<string, unknown>): void => {
    for (const [k, v] of Object.entries(o)) {
      if (k === 'type' || k === 'process' || k === 'workload' || k === 'pathKey' || k === 'commKey') continue;
      n++;
      if (typeof v === 'number') o[k] = n;
      else if (typeof v === 'string') o[k] = `/v${n}/${k}`;
      else if (typeof v === 'boolean') o[k] = true;
      else if (Array.isArray(v)) o[k] = [`/bin/a${n}`, `-x${n}`, `K${n}=v`];
      else if (v !== null && typeof v === 'object') fill(v as Record<string, unknown>);
    }
  };
  fill(e as unknown as Record<string, unknown>);
  e.comm = `app${seed}`;
  e.ktimeNs = 1_000_000_000 + seed;
  e.blockedBy = 'bpf-lsm';
  e.protocol = 'tcp';
  e.pathFlags = 1; // resolved
  if (t === 'exec') assignEvent(e, { exeLayer: 3, stdio: 0x030201 });
  if (t === 'open') {
    // The class's bits, as openClass reads them back.
    e.flags = (cls & 3) | (cls & OPEN_CREAT ? 0o100 : 0) | (cls & OPEN_TRUNC ? 0o1000 : 0) | (cls & OPEN_DIRECTORY ? 0o200000 : 0) | 0o2000;
    e.result = cls & OPEN_FAILED ? -13 : 5;
  }
  if (CLASSIFIERS[t] && t !== 'open') {
    e.family = [AF_INET, AF_INET6, AF_UNIX, 99][cls]!;
    e.addr = e.family === AF_INET6 ? 'fd00::7' : '10.1.2.3';
    e.localAddr = e.family === AF_INET6 ? 'fd00::8' : '10.9.8.7';
    e.port = 8443;
    e.localPort = 40000 + seed;
  }
  if (CLASSIFIERS[t]?.of(e) !== undefined) expect(CLASSIFIERS[t]!.of(e), `${t} class`).toBe(cls);
  e.process = w.tree.apply(e);
  e.workload = workload();
  return e;
}

/** The arguments a field is compiled with in rules. */
function argsOf(f: Field): FieldArg[] {
  switch (f.arg) {
    case 'none':
      return [-1];
    case 'index':
      return [0, 1, 2];
    case 'optional-index':
      return [-1, 0, 1];
    case 'key':
      return ['app'];
    case 'optional-key':
      return ['', 'K1'];
  }
}

const isMissing = (k: Known | undefined): boolean => k !== undefined && 'missing' in k;

function inlineValue(js: string, e: Event, w: World): unknown {
  return (new Function('e', 'x', `"use strict"; return ${js};`) as (e: Event, x: unknown) => unknown)(e, w.x);
}

describe('inline field reads', () => {
  it('give what the getter gives, for every field on every type and class it is compiled for', () => {
    const w = new World();
    let checked = 0;
    const problems: string[] = [];
    for (const t of EVENT_TYPES) {
      for (let cls = 0; cls < classCount(t); cls++) {
        const e = populated(w, t, cls, 10 + cls);
        for (const f of FIELDS.values()) {
          if (!f.on.has(t) || !f.inline) continue;
          for (const arg of argsOf(f)) {
            for (const c of [-1, cls]) {
              const inl = f.inline(t, arg, c);
              if (!inl || isMissing(f.known?.(t, c))) continue;
              const got = inlineValue(inl.js, e, w);
              const want = f.get(e, w.x, arg);
              checked++;
              if (!Object.is(got, want)) problems.push(`${f.name}[${String(arg)}] on ${t} class ${c}: inline ${inl.js} gives ${String(got)}, the getter ${String(want)}`);
              if (!inl.missing && got === undefined) problems.push(`${f.name} on ${t}: inline ${inl.js} says never missing, gives undefined`);
            }
          }
        }
      }
    }
    expect(problems).toEqual([]);
    // Every table's inline reads were reached (a filter that skipped them all would pass on nothing).
    expect(checked).toBeGreaterThan(500);
  });

  it('read a value from the event, not a constant: a different event gives a different value where the getter does', () => {
    // Two events of each type with every property different: a field whose getter tells them apart must have an inline read that does too.
    const w = new World();
    const problems: string[] = [];
    for (const t of EVENT_TYPES) {
      const cls = 0;
      const a = populated(w, t, cls, 100);
      const b = populated(w, t, cls, 300);
      for (const f of FIELDS.values()) {
        if (!f.on.has(t) || !f.inline || f.arg !== 'none') continue;
        const inl = f.inline(t, -1, cls);
        if (!inl || f.get(a, w.x, -1) === f.get(b, w.x, -1)) continue;
        if (Object.is(inlineValue(inl.js, a, w), inlineValue(inl.js, b, w))) problems.push(`${f.name} on ${t}: inline ${inl.js} reads the same on two different events`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("compile fields' allocation-free comparisons to what the getter's value gives", () => {
    const w = new World();
    const problems: string[] = [];
    let checked = 0;
    for (const t of EVENT_TYPES) {
      const e = populated(w, t, 0, 20);
      for (const f of FIELDS.values()) {
        // A field the type's class makes missing is folded away before code is generated.
        if (!f.on.has(t) || !f.compare || isMissing(f.known?.(t, 0))) continue;
        const v = f.get(e, w.x, -1);
        if (v === undefined || v === '') continue;
        for (const [values, want] of [[[v], true], [[`${String(v)}-not`], false]] as [FieldValue[], boolean][]) {
          for (const op of ['=', '!='] as const) {
            const k = new Constants();
            const js = f.compare(t, op, values, k);
            if (!js) continue;
            checked++;
            const got = (new Function('k', `"use strict"; return function (e, x) { return ${js}; };`)(k.values) as (e: Event, x: unknown) => unknown)(e, w.x);
            if (got !== (op === '=' ? want : !want)) problems.push(`${f.name} ${op} ${JSON.stringify(values)} on ${t}: ${js} gives ${String(got)}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });
});

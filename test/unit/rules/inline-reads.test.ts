// The JavaScript compiled rules read events with (a field's `inline` form,
// codegen.ts) is not type-checked: a property the Event does not have reads
// undefined, the field counts as missing and every comparison with it is
// false, so a rule stops firing without an error. Here every inline form,
// for every event type it is compiled for, reads only properties the
// engine's events of that type have; and the forms that read a kind's own
// fields (Event.more: model/event.ts ExecMore and its siblings) give what
// the field's getter gives, on events whose values are all not the defaults.
import { describe, expect, it } from 'vitest';
import { EXE_UPPER_LAYER, type DnsAnswer, type Event, type EventType } from '../../../src/model/event.js';
import { FIELDS } from '../../../src/detect/rules/fields.js';
import type { Field, FieldArg } from '../../../src/detect/rules/field-types.js';
import type { EventFields } from '../../support/events.js';
import { World } from './support.js';

const ANSWER: DnsAnswer = { name: 'example.com', qtype: 1, rcode: 0, cnames: ['a.example.com'], addresses: [{ addr: '192.0.2.7', ttl: 60 }], truncated: true, error: 'x', allowedInKernel: 2 };

/** Every kind's own fields, none at its default (so a read of the wrong one shows). */
const OWN: Partial<Record<EventType, EventFields>> = {
  exec: {
    filename: '/bin/x', argv: ['x', '-y'], argvTruncated: true, env: ['A=b'], envTruncated: true, cwd: '/srv', tty: 34816, exeLayer: EXE_UPPER_LAYER | 1,
    vpid: 12, loginuid: 1000, capEffective: 5, capPermitted: 7, sha256: 'ab'.repeat(32), stdio: 0x030201,
  },
  setid: { capEffective: 3, capPermitted: 9, euid: 11, suid: 12, egid: 13, sgid: 14, fsuid: 15, fsgid: 16, idsAfter: { uid: 21, euid: 22, suid: 23, fsuid: 24, gid: 25, egid: 26, sgid: 27, fsgid: 28 } },
  fork: { childPid: 4242, vpid: 3 },
  exit: { exitCode: 3, signal: 9 },
  dns: { dns: ANSWER },
};

/** An event of `type` as the engine has it after enrich, its own fields set. */
function eventOf(w: World, type: EventType): Event {
  return w.event(type, { result: 3, path: '/etc/x', path2: '/etc/y', addr: '10.0.0.1', port: 80, family: 2, call: 'setuid', ...OWN[type] });
}

/** The argument a field takes, where it takes one. */
function argOf(f: Field): FieldArg {
  return f.arg === 'index' || f.arg === 'optional-index' ? 1 : f.arg === 'key' || f.arg === 'optional-key' ? 'PATH' : '';
}

/** Each property path the code reads from the event (`e.more.tty` → ['more', 'tty']). */
function eventPaths(js: string): string[][] {
  return [...js.matchAll(/(?<![\w$.])e((?:\.[A-Za-z_$][\w$]*)+)/g)].map((m) => m[1]!.slice(1).split('.'));
}

/** Where a path stops resolving to a defined value on `e`, or null when it resolves. */
function unresolved(e: Event, path: string[]): string | null {
  let v: unknown = e;
  for (let i = 0; i < path.length; i++) {
    if (v === null || typeof v !== 'object' || !(path[i]! in v)) return `e.${path.slice(0, i + 1).join('.')}`;
    v = (v as Record<string, unknown>)[path[i]!];
    if (v === undefined) return `e.${path.slice(0, i + 1).join('.')}`;
  }
  return null;
}

/** Every field's inline form, by the type it is compiled for. */
function inlineForms(): { field: Field; type: EventType; arg: FieldArg; js: string }[] {
  const out: { field: Field; type: EventType; arg: FieldArg; js: string }[] = [];
  for (const field of FIELDS.values()) {
    if (!field.inline) continue;
    for (const type of field.on) {
      const arg = argOf(field);
      const r = field.inline(type, arg, -1);
      if (r) out.push({ field, type, arg, js: r.js });
    }
  }
  return out;
}

describe('inline forms of rule fields', () => {
  it('read only properties the events of the type they are compiled for have', () => {
    const w = new World();
    const forms = inlineForms();
    const bad: string[] = [];
    let paths = 0;
    for (const { field, type, js } of forms) {
      const e = eventOf(w, type);
      for (const p of eventPaths(js)) {
        paths++;
        const at = unresolved(e, p);
        if (at) bad.push(`${field.name} on ${type}: ${js} (${at} is undefined)`);
      }
    }
    expect(bad).toEqual([]);
    // Not vacuous: the tables' inline forms were found and read something.
    expect(forms.length).toBeGreaterThan(100);
    expect(paths).toBeGreaterThan(100);
  });

  it("that read a kind's own fields (Event.more) give what the getter gives", () => {
    const w = new World();
    const moved = inlineForms().filter((f) => f.js.includes('e.more'));
    // proc.tty, proc.is_exe_upper_layer, proc.env_truncated on exec; evt.rawres on fork; the six prev ids on setid.
    expect(new Set(moved.map((m) => `${m.field.name}@${m.type}`))).toEqual(new Set([
      'proc.tty@exec', 'proc.is_exe_upper_layer@exec', 'proc.env_truncated@exec', 'evt.rawres@fork',
      'user.prev_euid@setid', 'user.prev_suid@setid', 'user.prev_fsuid@setid', 'group.prev_egid@setid', 'group.prev_sgid@setid', 'group.prev_fsgid@setid',
    ]));
    for (const { field, type, arg, js } of moved) {
      const e = eventOf(w, type);
      const inline = new Function('e', 'x', `return ${js};`) as (e: Event, x: unknown) => unknown;
      const want = field.get(e, w.x, arg);
      expect(want, `${field.name} on ${type}`).not.toBeUndefined();
      expect(inline(e, w.x), `${field.name} on ${type}: ${js}`).toEqual(want);
    }
  });
});

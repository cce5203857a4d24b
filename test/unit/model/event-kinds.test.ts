// Every kind of event probe.proto declares has one description
// (model/event-kinds.ts), and everything that handles events handles it:
// the decoder makes an Event of it, rules name it by its syscalls, and a
// summary says what happened.
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { typesForName } from '../../../src/detect/rules/event-type-names.js';
import { FIELDS } from '../../../src/detect/rules/fields.js';
import { decodeProbeMessage } from '../../../src/ingest/probe-message.js';
import { EVENT_TYPES, type EventType } from '../../../src/model/event.js';
import { EVENT_KINDS, eventSummary } from '../../../src/model/event-kinds.js';
import { messageType } from '../../../src/rpc/proto.js';

/** The Event.kind oneof as probe.proto declares it: field name, number, message. */
const declared = messageType('Event').oneofs.kind!.fieldsArray.map((f) => ({ oneof: f.name, field: f.id, message: (f.resolvedType as protobuf.Type).name }));

const ProbeMessage = messageType('ProbeMessage');

/** What a summary says of every event. */
const COMMON = ['time', 'type', 'pid', 'ppid', 'uid', 'gid', 'comm', 'cgroupId', 'blocked'];

/** One event of a kind, as a probe sends it (its message with every field at its default), through the engine's decoder. */
function decodeOne(t: EventType) {
  const bytes = ProbeMessage.encode(ProbeMessage.fromObject({ batch: { seq: 1, events: [{ pid: 7, cgroupId: 1, [EVENT_KINDS[t].oneof]: {} }] } })).finish();
  return decodeProbeMessage(bytes).batch!;
}

describe('the table of event kinds', () => {
  it('describes exactly the kinds probe.proto declares, in its order', () => {
    expect(declared.length).toBeGreaterThan(10);
    expect(EVENT_TYPES.map((t) => ({ oneof: EVENT_KINDS[t].oneof, field: EVENT_KINDS[t].field, message: EVENT_KINDS[t].message }))).toEqual(declared);
    expect(Object.keys(EVENT_KINDS)).toEqual([...EVENT_TYPES]);
  });

  it.each([...EVENT_TYPES])('%s: decoded, named by rules, summarised', (t) => {
    const kind = EVENT_KINDS[t];
    const batch = decodeOne(t);
    expect(batch.rejected).toEqual([]);
    expect(batch.events).toHaveLength(1);
    const e = batch.events[0]!;
    expect(e.type).toBe(t);

    // Rules: evt.type reads its syscall, and each of its syscalls selects it.
    expect(FIELDS.get('evt.type')!.get(e, null as never, -1)).toBe(kind.syscall);
    expect(kind.syscalls).toContain(kind.syscall);
    for (const name of [t, ...kind.syscalls]) expect(typesForName(name), name).toContain(t);

    // A summary says more than the fields every event has.
    const own = Object.keys(eventSummary(e)).filter((k) => !COMMON.includes(k));
    expect(own.length, t).toBeGreaterThan(0);
  });
});

describe('the summary of a set*id call', () => {
  it("says the caller's effective and saved ids before the call, of the kind of id it changes", () => {
    const bytes = (setId: Record<string, unknown>) =>
      ProbeMessage.encode(ProbeMessage.fromObject({ batch: { seq: 1, events: [{ pid: 7, cgroupId: 1, setId }] } })).finish();
    const one = (setId: Record<string, unknown>) => eventSummary(decodeProbeMessage(bytes(setId)).batch!.events[0]!);
    const ids = { euid: 1000, suid: 0, egid: 100, sgid: 5 };
    expect(one({ call: 'setresuid', id: 0, ...ids })).toMatchObject({ call: 'setresuid', id: 0, prevEuid: 1000, prevSuid: 0 });
    expect(one({ call: 'setresuid', id: 0, ...ids })).not.toHaveProperty('prevEgid');
    expect(one({ call: 'setgid', id: 0, ...ids })).toMatchObject({ call: 'setgid', prevEgid: 100, prevSgid: 5 });
  });

  it('says the ids the call left, when the probe sent them', () => {
    const bytes = (setId: Record<string, unknown>) =>
      ProbeMessage.encode(ProbeMessage.fromObject({ batch: { seq: 1, events: [{ pid: 7, cgroupId: 1, setId }] } })).finish();
    const one = (setId: Record<string, unknown>) => eventSummary(decodeProbeMessage(bytes(setId)).batch!.events[0]!);
    const before = { euid: 1000, suid: 0, fsuid: 1000, egid: 100, sgid: 5, fsgid: 100 };
    const after = { uid: 1000, euid: 1000, suid: 0, fsuid: 0, gid: 100, egid: 100, sgid: 5, fsgid: 5 };
    expect(one({ call: 'setfsuid', id: 0, result: 1000, ...before, after })).toMatchObject({ prevFsuid: 1000, newUid: 1000, newEuid: 1000, newSuid: 0, newFsuid: 0 });
    expect(one({ call: 'setfsgid', id: 5, result: 100, ...before, after })).toMatchObject({ prevFsgid: 100, newGid: 100, newEgid: 100, newSgid: 5, newFsgid: 5 });
    expect(one({ call: 'setfsuid', id: 0, ...before })).not.toHaveProperty('newFsuid');
  });
});

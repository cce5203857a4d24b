// Events as tests write them: the Event's fields and its kind's own fields
// (Event.more: ExecMore, SetidMore, ForkMore, ExitMore, a dns answer) in one
// flat object, each put where the engine's decoder puts it.
import { emptyEvent, type DnsAnswer, type Event, type EventType, type ExecMore, type ExitMore, type ForkMore, type SetidMore } from '../../src/model/event.js';

export type EventFields = Partial<Omit<Event, 'more'>> & Partial<ExecMore> & Partial<SetidMore> & Partial<ForkMore> & Partial<ExitMore> & { dns?: DnsAnswer | null };

/** An event of `type` with `fields` set, in order; a field the kind does not have (an exec's argv on an open) is an error. */
export function makeEvent(type: EventType, ...fields: EventFields[]): Event {
  return assignEvent(emptyEvent(type), ...fields);
}

/** Object.assign for an Event: each field where it belongs (the Event, or its kind's own part). */
export function assignEvent(e: Event, ...fields: EventFields[]): Event {
  const type = e.type;
  for (const f of fields) setFields(e, type, f);
  return e;
}

function setFields(e: Event, type: EventType, fields: EventFields): void {
  const more = e.more as Record<string, unknown> | null;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (k === 'dns') {
      if (type !== 'dns') throw new Error(`a ${type} event has no dns answer`);
      e.more = v as DnsAnswer | null;
    } else if (more !== null && k in more) more[k] = v;
    else if (k in e && k !== 'more') (e as unknown as Record<string, unknown>)[k] = v;
    else throw new Error(`a ${type} event has no field ${k}`);
  }
}

export const execEvent = (fields: EventFields = {}): Event => makeEvent('exec', fields);
export const forkEvent = (fields: EventFields = {}): Event => makeEvent('fork', fields);
export const exitEvent = (fields: EventFields = {}): Event => makeEvent('exit', fields);
export const setidEvent = (fields: EventFields = {}): Event => makeEvent('setid', fields);

/** Every kind's own fields at once, for tests reading an event whose kind they know (a field of another kind reads undefined). */
export type OwnFields = ExecMore & SetidMore & ForkMore & ExitMore;
export function own(e: Event): OwnFields {
  if (e.more === null) throw new Error(`a ${e.type} event has no fields of its own`);
  return e.more as OwnFields;
}

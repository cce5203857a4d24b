// Falco's names for events (evt.type): the syscalls each Vigil event type
// stands for (from its kind, model/event-kinds.ts), how evt.type reads on
// an event, and the Vigil types a name means.
import { EVENT_TYPES, type Event, type EventType } from '../../model/event.js';
import { EVENT_KINDS } from '../../model/event-kinds.js';

/** Falco (syscall) names each Vigil event type stands for; Vigil's own type names are accepted too. */
export const SYSCALLS_OF: Readonly<Record<EventType, readonly string[]>> = Object.fromEntries(EVENT_TYPES.map((t) => [t, EVENT_KINDS[t].syscalls])) as Record<EventType, readonly string[]>;

/** Types whose `call` field says exactly which syscall it was. */
export const CALL_TYPES: ReadonlySet<EventType> = new Set(EVENT_TYPES.filter((t) => EVENT_KINDS[t].exactCall));

/** evt.type: the exact syscall where the event says it, else the kind's usual one. */
export function evtTypeName(e: Event): string {
  return CALL_TYPES.has(e.type) && e.call ? e.call : EVENT_KINDS[e.type].syscall;
}

/** Vigil types an evt.type name stands for. */
export function typesForName(name: string): EventType[] {
  const out: EventType[] = [];
  for (const t of EVENT_TYPES) if (t === name || SYSCALLS_OF[t].includes(name)) out.push(t);
  return out;
}

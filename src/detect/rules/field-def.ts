// How the field tables (fields-*.ts) define a field, and what they share:
// the sets of event types fields apply to and small readers of event
// properties.
import { EVENT_TYPES, type Event, type EventType } from '../../model/event.js';
import { EVENT_KINDS, type EventKind } from '../../model/event-kinds.js';
import type { FieldContext } from './context.js';
import type { Field, FieldArg, FieldKind, FieldValue } from './field-types.js';

/** Reads a field's value from an event; undefined when it is missing. */
export type FieldGetter = (e: Event, x: FieldContext, arg: FieldArg) => FieldValue | undefined;

/** A field as a table defines it; fields.ts fills in the defaults (every type, no argument). */
export interface FieldDef {
  kind: FieldKind;
  desc: string;
  on?: ReadonlySet<EventType>;
  arg?: Field['arg'];
  constant?: Field['constant'];
  get: FieldGetter;
  inline?: Field['inline'];
  compare?: Field['compare'];
  some?: Field['some'];
  known?: Field['known'];
  reads?: Field['reads'];
  text?: Field['text'];
  ops?: Field['ops'];
  names?: Field['names'];
}

export const ALL: ReadonlySet<EventType> = new Set(EVENT_TYPES);
export const types = (...t: EventType[]): ReadonlySet<EventType> => new Set(t);

/** Types whose kind (model/event-kinds.ts) says so. */
const kindsWhere = (p: (k: EventKind) => boolean): ReadonlySet<EventType> => new Set(EVENT_TYPES.filter((t) => p(EVENT_KINDS[t])));

export const FILE_TYPES = kindsWhere((k) => k.fd === 'file');
export const SOCKET_TYPES = kindsWhere((k) => k.fd === 'socket');
export const RESULT_TYPES = kindsWhere((k) => k.result);

/**
 * Generated code's read of one of a kind's own fields (Event.more: model/event.ts ExecMore and its siblings), its
 * name checked against that kind's shape: a JS string is not type-checked, and a read of a property the Event
 * does not have gives undefined, a rule silently not matching. Only for code generated for that kind (`more` is
 * that kind's shape there, never null).
 */
export function moreJs<M>(prop: keyof M & string): string {
  return `e.more.${prop}`;
}

export function nonEmpty(s: string): string | undefined {
  return s === '' ? undefined : s;
}

// What a field is to the compiler: its kind, the event types it has a
// value on, how to read it (a getter, or JavaScript inlined into
// generated code), and what an event's type or class decides about it.
// The fields themselves are in the tables fields-*.ts, gathered in
// fields.ts.
import type { Event, EventType } from '../../model/event.js';
import type { Operator } from './condition.js';
import type { Constants } from './constants.js';
import type { FieldContext } from './context.js';

export type FieldValue = string | number | boolean;
/** ip: an address (compared exactly or against CIDR networks); ipnet: only against networks. */
export type FieldKind = 'string' | 'number' | 'bool' | 'ip';

/**
 * What an event's class (classes.ts) decides about a field on one type:
 * its value, that it is missing, or only its sign (1: ≥ 0, -1: < 0).
 */
export type Known = { value: FieldValue } | { missing: true } | { sign: 1 | -1 };

/** Event properties whose checks the rules memoise per value (interned strings that recur). */
export type Dim = 'path' | 'path2' | 'comm' | 'addr';
export const DIMS: readonly Dim[] = ['path', 'path2', 'comm', 'addr'];

export interface Field {
  name: string;
  kind: FieldKind;
  desc: string;
  /** Event types the field has a value on. */
  on: ReadonlySet<EventType>;
  /** Whether it takes `[N]` (an ancestor level) or `[name]`, and whether it may be left out. */
  arg: 'none' | 'index' | 'optional-index' | 'key' | 'optional-key';
  /** A value fixed for every event of one type (evt.dir), or undefined when read at run time. */
  constant?(t: EventType): FieldValue | undefined;
  /** The value, or undefined when missing. `arg` is the index (-1 without one) or the key. */
  get(e: Event, x: FieldContext, arg: FieldArg): FieldValue | undefined;
  /**
   * JavaScript reading the value from `e` (and helpers on `x`) for one
   * event type (and class, -1 when any), inlined into compiled rules;
   * null to call get(). `missing` says whether it may evaluate to undefined.
   */
  inline?(t: EventType, arg: FieldArg, cls: number): { js: string; missing: boolean } | null;
  /** What the class `cls` of a `t` event decides about the value; undefined when nothing. */
  known?(t: EventType, cls: number): Known | undefined;
  /**
   * The one Event property the value is a function of on type `t` in class
   * `cls` (and all code generated for it reads nothing else), or null.
   */
  reads?(t: EventType, cls: number): Dim | null;
  /**
   * Allocation-free JavaScript for a comparison on one event type, where
   * the generic way would build a string per event (fd.directory = D
   * without slicing the path); null to compare the generic way.
   */
  compare?(t: EventType, op: Operator, values: readonly FieldValue[], k: Constants): string | null;
  /** Several values: a condition matches when any of them does (proc.aname without an index). */
  some?(e: Event, x: FieldContext, arg: FieldArg, pred: (v: FieldValue) => boolean): boolean;
  /**
   * A number's text as Falco prints it (evt.arg.uid: the user name,
   * evt.arg.flags: O_WRONLY|O_CREAT): what outputs show, and what a
   * comparison reads when its operator or value is not a number's
   * (`evt.arg.uid = nobody`, `evt.arg.flags contains O_TRUNC`).
   */
  text?(e: Event, x: FieldContext, arg: FieldArg): string | undefined;
  /** The only operators the field takes (fd.sip.name: =, != and in), when not all. */
  ops?: readonly Operator[];
  /** The values compared with are domain names the rule set must resolve (dns-names.ts). */
  names?: 'dns';
}

export type FieldArg = number | string;

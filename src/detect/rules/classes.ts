// Event classes: a few bits of an event that many rules test, read once
// before any rule runs. An open's class is its access mode, O_CREAT,
// O_TRUNC, O_DIRECTORY and whether it failed; a socket event's is its
// address family. Rules are compiled per class as well as per type, with
// what the class decides folded away (an open for reading runs none of
// the rules that need a write; a failed open none of those that need an
// fd), so most events run few rules and those with fewer checks.
import type { Event, EventType } from '../../model/event.js';
import { AF_INET, AF_INET6, AF_UNIX } from '../../model/addresses.js';
import { O_ACCMODE, O_CREAT, O_DIRECTORY, O_TRUNC } from './syscall-values.js';

export interface Classifier {
  /** Classes are 0 … count - 1. */
  count: number;
  /** Which classifier (classOf's switch). */
  kind: ClassKind;
  of(e: Event): number;
}

/** The classifiers, as classOf tells them apart. */
export enum ClassKind {
  None = 0,
  Open = 1,
  Socket = 2,
}

/**
 * The event's class by its type's classifier: a switch on a number, which
 * the detector inlines, not a call through one of several closures per event.
 */
export function classOf(kind: ClassKind, e: Event): number {
  return kind === ClassKind.Open ? openClass(e.flags, e.result) : kind === ClassKind.Socket ? socketClass(e.family) : 0;
}

// ---- open -----------------------------------------------------------

/** Class bits of an open: the access mode in the low two bits, then these. */
export const OPEN_CREAT = 4;
export const OPEN_TRUNC = 8;
export const OPEN_DIRECTORY = 16;
export const OPEN_FAILED = 32;

// Per event, so the flags are written as literals (an imported constant,
// or a module's own, is a load and a check per use in optimised code);
// checked against their names once, at load.
if (O_ACCMODE !== 3 || O_CREAT !== 0o100 || O_TRUNC !== 0o1000 || O_DIRECTORY !== 0o200000 || AF_INET !== 2 || AF_INET6 !== 10 || AF_UNIX !== 1) {
  throw new Error('classes.ts: an open flag or address family differs from syscall-values.ts / model/addresses.ts');
}

export function openClass(flags: number, result: number): number {
  return (
    (flags & 3) | // O_ACCMODE
    ((flags & 0o100) !== 0 ? 4 : 0) | // O_CREAT: OPEN_CREAT
    ((flags & 0o1000) !== 0 ? 8 : 0) | // O_TRUNC: OPEN_TRUNC
    ((flags & 0o200000) !== 0 ? 16 : 0) | // O_DIRECTORY: OPEN_DIRECTORY
    (result < 0 ? 32 : 0) // OPEN_FAILED
  );
}

// ---- sockets --------------------------------------------------------

/** Socket event classes by address family. */
export const SOCK_INET = 0;
export const SOCK_INET6 = 1;
export const SOCK_UNIX = 2;
export const SOCK_OTHER = 3;

export function socketClass(family: number): number {
  // AF_INET 2, AF_INET6 10, AF_UNIX 1 (model/addresses.ts), as literals for the reason openClass says.
  return family === 2 ? 0 : family === 10 ? 1 : family === 1 ? 2 : 3; // SOCK_INET, SOCK_INET6, SOCK_UNIX, SOCK_OTHER
}

const OPEN: Classifier = { count: 64, kind: ClassKind.Open, of: (e) => openClass(e.flags, e.result) };
const SOCKET: Classifier = { count: 4, kind: ClassKind.Socket, of: (e) => socketClass(e.family) };

/** Types with classes; every other type is one class (0). */
export const CLASSIFIERS: Partial<Record<EventType, Classifier>> = {
  open: OPEN,
  connect: SOCKET,
  accept: SOCKET,
  bind: SOCKET,
  listen: SOCKET,
  dup: SOCKET,
  send: SOCKET,
};

export function classCount(t: EventType): number {
  return CLASSIFIERS[t]?.count ?? 1;
}

/** Whether a socket class carries an IP address (fd.sip & co. can have a value). */
export function isIpClass(cls: number): boolean {
  return cls === SOCK_INET || cls === SOCK_INET6;
}

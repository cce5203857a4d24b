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

export function openClass(flags: number, result: number): number {
  return (
    (flags & O_ACCMODE) |
    ((flags & O_CREAT) !== 0 ? OPEN_CREAT : 0) |
    ((flags & O_TRUNC) !== 0 ? OPEN_TRUNC : 0) |
    ((flags & O_DIRECTORY) !== 0 ? OPEN_DIRECTORY : 0) |
    (result < 0 ? OPEN_FAILED : 0)
  );
}

// ---- sockets --------------------------------------------------------

/** Socket event classes by address family. */
export const SOCK_INET = 0;
export const SOCK_INET6 = 1;
export const SOCK_UNIX = 2;
export const SOCK_OTHER = 3;

export function socketClass(family: number): number {
  return family === AF_INET ? SOCK_INET : family === AF_INET6 ? SOCK_INET6 : family === AF_UNIX ? SOCK_UNIX : SOCK_OTHER;
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

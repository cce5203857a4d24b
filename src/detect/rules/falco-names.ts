// Falco's fd.name for rules written for Falco. Falco names an opened file
// by the path as written (joined to the cwd and folded, no symlink
// followed: /proc/self/fd/1, /lib/libc.so.6); Vigil names it by the file
// the kernel opened (issue 21: a symlink, /proc/self/root or a bind mount
// must not hide /etc/shadow). A rule from a Falco-format file fires when
// its condition holds for either name: evaluated on the event as Vigil
// has it, then on the view below where every field read from the path
// (fd.name, fd.directory, fd.filename, evt.arg.name) reads the name as
// written. The whole condition is evaluated once per name, never one name
// per comparison, so an exception (`not fd.name …`, `fd.name != …`)
// only applies when it holds for the same name the rule matched, and the
// evaluation on the file opened always runs: no name written can hide a
// file a rule asks for.
import type { Event } from '../../model/event.js';

/** A path with `.`, `..` and repeated slashes folded away, as the probe folds it (no symlink followed). */
export function folded(p: string): string {
  if (!p.startsWith('/')) return p;
  if (!p.includes('/.') && !p.includes('//') && !(p.length > 1 && p.endsWith('/'))) return p;
  const parts: string[] = [];
  for (const s of p.split('/')) {
    if (s === '..') parts.pop();
    else if (s !== '' && s !== '.') parts.push(s);
  }
  return `/${parts.join('/')}`;
}

/** Views → the open they are of. */
const OPENED = new WeakMap<Event, Event>();

/**
 * The open with its path as Falco names it (the caller's string, folded),
 * or null when that is the path Vigil has, or there is no other name.
 */
export function asWritten(e: Event): Event | null {
  if (e.type !== 'open' || e.pathRaw === '') return null;
  const p = folded(e.pathRaw);
  if (p === e.path) return null;
  // Not interned: pathKey -1 keeps the router's per-slot memos to the decoder's strings.
  const v: Event = { ...e, path: p, pathKey: -1 };
  OPENED.set(v, e);
  return v;
}

/** The event as the probe reported it: the open itself when `e` is its as-written view. */
export function opened(e: Event): Event {
  return OPENED.get(e) ?? e;
}

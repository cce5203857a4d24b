// Falco's fd.name for rules written for Falco. Falco names an opened file
// by the path as written (joined to the cwd and folded, no symlink
// followed: /proc/self/fd/1, /lib/libc.so.6); Vigil names it by the file
// the kernel opened (issue 21: a symlink, /proc/self/root or a bind mount
// must not hide /etc/shadow). A rule from a Falco-format file fires when
// its condition holds for either name: evaluated on the event as Vigil
// has it, then again with every field read from the path (fd.name,
// fd.directory, fd.filename, evt.arg.name) reading the name as written. The whole condition is evaluated once per name, never one name
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

/** The open whose path fields read the name as written just now, and the path of the file it opened. */
let swapped: Event | null = null;
let openedPath = '';
let openedKey = -1;

/** The open's path as Falco names it (the caller's string, folded), or null when it is the path Vigil has or there is none. */
export function writtenName(e: Event): string | null {
  if (e.type !== 'open' || e.pathRaw === '' || e.pathRaw === e.path) return null;
  const p = folded(e.pathRaw);
  return p === e.path ? null : p;
}

/**
 * Until restoreOpened(e): every field read from e's path reads `name`.
 * The event itself is changed, not copied: a copy would allocate the
 * whole event per open and give the compiled rules a second shape. Not
 * interned: pathKey -1 keeps the router's per-slot memos to the decoder's strings.
 */
export function readAsWritten(e: Event, name: string): void {
  swapped = e;
  openedPath = e.path;
  openedKey = e.pathKey;
  e.path = name;
  e.pathKey = -1;
}

export function restoreOpened(e: Event): void {
  if (swapped !== e) return;
  e.path = openedPath;
  e.pathKey = openedKey;
  swapped = null;
}

/** The path of the file the open opened, also while it reads the name as written. */
export function pathOpened(e: Event): string {
  return e === swapped ? openedPath : e.path;
}

// Bounds on what one event may carry, and the cut to them: the decoder
// marks events past them (oversize) and cuts them here, so no event can
// hold the engine's memory hostage with megabyte paths or argv.
import { execMore, type Event } from '../model/event.js';
import { MAX_ENV } from '../model/env.js';

/** Bounds on what one event may carry: a real probe never exceeds them (paths are walked into 768 bytes, argv into 1 KiB). */
export const MAX_PATH = 4096;
export const MAX_ARGS = 1024;
export const MAX_ARG = 4096;

/** Cuts anything past the bounds (marking argv as truncated); true when something was cut. */
export function boundEvent(e: Event): boolean {
  let cut = false;
  if (e.path.length > MAX_PATH) { e.path = e.path.slice(0, MAX_PATH); cut = true; }
  if (e.pathRaw.length > MAX_PATH) { e.pathRaw = e.pathRaw.slice(0, MAX_PATH); cut = true; }
  if (e.path2.length > MAX_PATH) { e.path2 = e.path2.slice(0, MAX_PATH); cut = true; }
  if (e.unixPath.length > MAX_PATH) { e.unixPath = e.unixPath.slice(0, MAX_PATH); cut = true; }
  if (e.comm.length > 64) { e.comm = e.comm.slice(0, 64); cut = true; }
  if (e.type !== 'exec') return cut;
  // exec's own fields (frozen defaults on any other kind: not written)
  const x = execMore(e);
  if (x.filename.length > MAX_PATH) { x.filename = x.filename.slice(0, MAX_PATH); cut = true; }
  if (x.cwd.length > MAX_PATH) { x.cwd = x.cwd.slice(0, MAX_PATH); cut = true; }
  if (x.argv.length > MAX_ARGS || x.argv.some((a) => a.length > MAX_ARG)) {
    x.argv = x.argv.slice(0, MAX_ARGS).map((a) => (a.length > MAX_ARG ? a.slice(0, MAX_ARG) : a));
    x.argvTruncated = true;
    cut = true;
  }
  if (x.env.length > MAX_ENV || x.env.some((a) => a.length > MAX_ARG)) {
    x.env = x.env.slice(0, MAX_ENV).map((a) => (a.length > MAX_ARG ? a.slice(0, MAX_ARG) : a));
    x.envTruncated = true;
    cut = true;
  }
  return cut;
}

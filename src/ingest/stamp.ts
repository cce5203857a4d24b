// What the ingest server writes to each event the decoder gives it: the
// wall-clock time and the node. One function, so that the decoder's
// warm-up (warm.ts) writes exactly what the server writes: a decoder
// optimised before an Event's first float `time` keeps building Events of
// a shape that write then deprecates (warm.ts says what that costs).
import type { Event } from '../model/event.js';

/** Stamps each event with its wall-clock time (ms since the epoch, a float) and its node. */
export function stampEvents(events: readonly Event[], bootToUnixNs: number, nodeName: string): void {
  const n = events.length;
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    e.time = (e.ktimeNs + bootToUnixNs) / 1e6;
    e.nodeName = nodeName;
  }
}

// A probe that restarts comes back with a new session id: whatever happened
// on its node between the last batch of the old session and the new one
// was not observed. The gap is said out loud, as an alert and a log line.
import type { Logger } from '../log.js';
import { alertAbout, type Alert } from '../model/alert.js';
import { nodeWorkload } from '../model/workload.js';
import type { ProbeSession } from './session.js';

export class ProbeRestarts {
  /** The last probe session that went away, to report the gap when one comes back. */
  private lastGone: { sessionId: string; at: number } | null = null;

  constructor(private readonly opts: { log: Logger; raise: (a: Alert) => void }) {}

  disconnected(session: ProbeSession): void {
    this.lastGone = { sessionId: session.hello.sessionId, at: session.lastBatchAt || Date.now() };
  }

  connected(session: ProbeSession): void {
    const gone = this.lastGone;
    this.lastGone = null;
    // The same session reconnecting (the probe kept its batches) lost nothing.
    if (!gone || gone.sessionId === session.hello.sessionId) return;
    const seconds = Math.round((Date.now() - gone.at) / 1000);
    const message = `probe on ${session.nodeName} restarted: events between ${new Date(gone.at).toISOString()} and now (${seconds} s) were not observed`;
    this.opts.log.warn({ node: session.nodeName, previous: gone.sessionId, session: session.hello.sessionId, gapSeconds: seconds }, 'probe restarted: a gap in what was observed');
    this.opts.raise(alertAbout(nodeWorkload(session.nodeName), session.nodeName, { source: 'engine', rule: 'Probe restarted', priority: 'warning', message, fields: { 'vigil.gap.seconds': seconds } }));
  }
}

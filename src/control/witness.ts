// The kernel as witness of who calls the control API: the probe reports
// every connect(2) (the engine's own are not traced), so a connect to the
// control socket's path names the caller's process and uid as the kernel
// saw them. Kept briefly and bounded; a control call looks its caller up here.
import type { Detector } from '../detect/detector.js';
import type { Event } from '../model/event.js';
import type { ConnectWitness, ObservedConnect } from './peer.js';

/** Connects kept: a control call arrives within milliseconds of its connect; a long-lived client's is kept by pid. */
const KEEP = 256;
const POLL_MS = 20;

export class ControlConnects implements Detector, ConnectWitness {
  readonly name = 'control-connects';
  readonly types = ['connect'] as const;
  /** Newest last. */
  private readonly seen: ObservedConnect[] = [];

  constructor(
    /** The control socket's path (unix listen address), or null for TCP. */
    private readonly path: string | null,
    private readonly probeConnected: () => boolean,
  ) {}

  onEvent(e: Event): void {
    if (e.type !== 'connect' || e.unixPath !== this.path || this.path === null || e.result !== 0) return;
    this.seen.push({ pid: e.pid, uid: e.uid, exe: e.process?.exe ?? '', at: Date.now() });
    if (this.seen.length > KEEP) this.seen.shift();
  }

  watching(): boolean {
    return this.path !== null && this.probeConnected();
  }

  async find(pid: number | null, sinceMs: number, waitMs: number): Promise<ObservedConnect[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const mine = pid === null ? [] : this.seen.filter((c) => c.pid === pid);
      if (mine.length) return mine;
      // A connect already taken by an earlier call is that call's client, not this one's.
      const recent = this.seen.filter((c) => c.at >= sinceMs && !c.taken);
      // No pid to go by: every recent one (a caller in another pid namespace); the last poll decides.
      if (Date.now() >= deadline) return recent;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }
}

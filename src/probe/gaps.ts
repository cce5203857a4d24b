// Every stretch of time nobody watched is an alert: a connected probe that
// has gone silent (stopped, wedged, starved: it reports its loss counters
// every second, a heartbeat), a probe that exited (`vigil run` sees it),
// no probe connected for a while, and a probe that came back as a new
// process (a restart: what happened between the two was not observed, and
// unless its state was pinned its kernel enforcement was off meanwhile).
// Error; critical while any workload is in enforce mode or quarantined,
// since their protection is what the gap suspends.
import type { Logger } from '../log.js';
import { alertAbout, type Alert, type Priority } from '../model/alert.js';
import { nodeWorkload } from '../model/workload.js';
import type { ProbeSession } from './session.js';

/** What kernel enforcement protects right now: workloads in enforce mode, workloads quarantined. */
export interface Protected {
  enforce: readonly string[];
  quarantined: readonly string[];
}

export interface GapOptions {
  node: string;
  /** A connected probe silent this long is stalled; no probe connected this long is an alert. */
  stallMs: number;
  protectedNow(): Protected;
  /** Connected probe sessions. */
  live(): readonly ProbeSession[];
  raise(a: Alert): void;
  log: Logger;
  now?: () => number;
}

interface Gone {
  sessionId: string;
  pid: number;
  /** The last time it was heard from. */
  at: number;
  /** Whether the probe was seen to exit (`vigil run`), and how. */
  exit: string | null;
}

export class ProbeGaps {
  /** Stalls, restarts and exits seen, for `vigil status` and /metrics. */
  stalls = 0;
  restarts = 0;
  exits = 0;
  private readonly stalled = new Map<ProbeSession, number>();
  private lastGone: Gone | null = null;
  private lastExit: { pid: number; how: string } | null = null;
  /** Whether each probe seen (by pid) pinned its enforcement, so it outlives the probe. */
  private readonly pinned = new Map<number, boolean>();
  /** When the last probe went away with no other connected; the "disconnected" alert is raised once per gap. */
  private noneSince: number | null = null;
  private noneAlerted = false;
  private readonly now: () => number;

  constructor(private readonly o: GapOptions) {
    this.now = o.now ?? Date.now;
    // No probe yet is a gap too: one that never connects (it cannot load, it is not deployed) is said out loud.
    this.noneSince = this.now();
  }

  /** Whether this session is stalled now. */
  isStalled(s: ProbeSession): boolean {
    return this.stalled.has(s);
  }

  /** Looks for silent probes and for a node without one; call it about once a second. */
  tick(): void {
    const now = this.now();
    for (const [s, since] of this.stalled) if (!s.connected || s.lastHeardAt > since) this.resumed(s, since);
    for (const s of this.o.live()) {
      const silent = now - s.lastHeardAt;
      if (silent > this.o.stallMs && !this.stalled.has(s)) {
        this.stalled.set(s, s.lastHeardAt);
        this.stalls++;
        const p = this.o.protectedNow();
        this.alert('Probe stalled', p,
          `the probe (pid ${s.hello.probePid}) on ${s.nodeName} has sent nothing for ${Math.round(silent / 1000)} s although connected (stopped, wedged or starved): since ${new Date(s.lastHeardAt).toISOString()} nothing is observed${this.kept(p, 'its kernel programs stay attached and keep enforcing, but nothing answers what they do not stop')}`,
          { 'vigil.probe.pid': s.hello.probePid, 'vigil.silent.seconds': Math.round(silent / 1000) });
      }
    }
    if (this.noneSince !== null && !this.noneAlerted && now - this.noneSince > this.o.stallMs && this.o.live().length === 0) {
      this.noneAlerted = true;
      const p = this.o.protectedNow();
      const gone = this.lastGone;
      this.alert('Probe disconnected', p,
        `no probe has been connected to the engine on ${this.o.node} for ${Math.round((now - this.noneSince) / 1000)} s${gone ? ` (the last, pid ${gone.pid}, went away at ${new Date(this.noneSince).toISOString()})` : ' (none since the engine started)'}: nothing is observed${this.kept(p, 'if the probe died, its kernel enforcement and quarantines went with it')}`,
        {});
    }
  }

  /** A stalled probe spoke again (or went away: then the disconnect says the rest). */
  private resumed(s: ProbeSession, since: number): void {
    this.stalled.delete(s);
    if (!s.connected) return;
    const seconds = Math.round((s.lastHeardAt - since) / 1000);
    const p = this.o.protectedNow();
    this.alert('Probe resumed', p,
      `the probe (pid ${s.hello.probePid}) on ${s.nodeName} is sending again after ${seconds} s of silence (until ${new Date(s.lastHeardAt).toISOString()}); what its ring buffer could not hold meanwhile is reported as lost`,
      { 'vigil.probe.pid': s.hello.probePid, 'vigil.silent.seconds': seconds });
  }

  /** `vigil run`: the probe process exited; until one is back nothing is observed. */
  exited(pid: number, how: string, restartInMs: number | null): void {
    this.exits++;
    // The exit and the stream's end arrive in either order.
    this.lastExit = { pid, how };
    if (this.lastGone && this.lastGone.pid === pid) this.lastGone.exit = how;
    const p = this.o.protectedNow();
    const pinned = this.pinned.get(pid) ?? false;
    this.alert('Probe exited', p,
      `the probe (pid ${pid}) on ${this.o.node} exited (${how}): nothing is observed until it is back${restartInMs === null ? '' : ` (restarting in ${restartInMs} ms)`}${this.kept(p, pinned ? 'its enforce policies stay in force (pinned in the kernel); quarantines are gone until a new probe puts them back' : 'its kernel enforcement and quarantines are gone with it until a new probe puts them back')}`,
      { 'vigil.probe.pid': pid }, pinned);
  }

  disconnected(s: ProbeSession): void {
    const exit = this.lastExit?.pid === s.hello.probePid ? this.lastExit.how : null;
    this.lastGone = { sessionId: s.hello.sessionId, pid: s.hello.probePid, at: s.lastHeardAt || this.now(), exit };
    if (this.o.live().length === 0) {
      this.noneSince = this.now();
      this.noneAlerted = false;
    }
  }

  connected(s: ProbeSession): void {
    this.pinned.set(s.hello.probePid, s.hello.pinning?.pinned ?? false);
    if (this.pinned.size > 64) this.pinned.delete(this.pinned.keys().next().value!);
    const gone = this.lastGone;
    const alerted = this.noneAlerted;
    const noneSince = this.noneSince;
    this.lastGone = null;
    this.noneSince = null;
    this.noneAlerted = false;
    const p = this.o.protectedNow();
    if (!gone) {
      if (alerted && noneSince !== null) this.alert('Probe reconnected', p, `a probe (pid ${s.hello.probePid}) on ${s.nodeName} connected, ${Math.round((this.now() - noneSince) / 1000)} s after the engine started`, {});
      return;
    }
    if (gone.sessionId === s.hello.sessionId) {
      // The same probe reconnecting kept its batches: nothing unobserved but what its queue dropped (reported as losses).
      if (alerted && noneSince !== null) {
        this.alert('Probe reconnected', p, `the probe (pid ${s.hello.probePid}) on ${s.nodeName} is connected again after ${Math.round((this.now() - noneSince) / 1000)} s; it kept what it saw meanwhile`, {});
      }
      return;
    }
    this.restarts++;
    const seconds = Math.round((this.now() - gone.at) / 1000);
    const kernel = s.hello.enforcementKept
      ? `enforcement stayed in force (its state was pinned)${p.quarantined.length ? `; quarantines are not pinned: off meanwhile (quarantined: ${p.quarantined.join(', ')}) and being put back now` : ''}`
      : p.enforce.length || p.quarantined.length
        ? `kernel enforcement was off meanwhile (${[p.enforce.length ? `enforce mode: ${p.enforce.join(', ')}` : '', p.quarantined.length ? `quarantined: ${p.quarantined.join(', ')}` : ''].filter(Boolean).join('; ')}) and is being put back now`
        : 'no workload was in enforce mode or quarantined';
    const message = `probe on ${s.nodeName} restarted (pid ${gone.pid}${gone.exit ? `, ${gone.exit}` : ''} → ${s.hello.probePid}): events between ${new Date(gone.at).toISOString()} and now (${seconds} s) were not observed; ${kernel}`;
    this.o.log.error({ node: s.nodeName, previous: gone.sessionId, session: s.hello.sessionId, gapSeconds: seconds, enforcementKept: s.hello.enforcementKept }, 'probe restarted: a gap in what was observed');
    this.o.raise(alertAbout(nodeWorkload(s.nodeName), s.nodeName, {
      source: 'engine', rule: 'Probe restarted', priority: this.priority(p, s.hello.enforcementKept), message,
      fields: { 'vigil.gap.seconds': seconds, 'vigil.enforcement.kept': s.hello.enforcementKept, 'vigil.enforce': p.enforce.join(','), 'vigil.quarantined': p.quarantined.join(',') },
      tags: ['vigil', 'visibility'],
    }));
  }

  private priority(p: Protected, kept = false): Priority {
    // Pinning keeps enforce policies in force, not quarantines.
    return (p.enforce.length && !kept) || p.quarantined.length ? 'critical' : 'error';
  }

  /** What a gap means for workloads the kernel protects, if any. */
  private kept(p: Protected, what: string): string {
    const names = [p.enforce.length ? `enforce mode: ${p.enforce.join(', ')}` : '', p.quarantined.length ? `quarantined: ${p.quarantined.join(', ')}` : ''].filter(Boolean).join('; ');
    return names ? `. Protected workloads (${names}): ${what}` : '';
  }

  private alert(rule: string, p: Protected, message: string, fields: Alert['fields'], kept = false): void {
    const priority = this.priority(p, kept);
    this.o.log.error({ node: this.o.node, ...fields }, `${rule}: ${message}`);
    this.o.raise(alertAbout(nodeWorkload(this.o.node), this.o.node, { source: 'engine', rule, priority, message, fields, tags: ['vigil', 'visibility'] }));
  }
}

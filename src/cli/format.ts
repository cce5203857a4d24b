// Human-readable renderings of control replies.
import type { StatusReply } from '../control/methods.js';
import { MECHANISM_SAYS, type Mechanism } from '../model/event.js';

function ago(ms: number): string {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

const n = (x: number): string => x.toLocaleString('en-US');

/** The probe's fairness budget: what every workload's share toward the engine is a share of. */
function fairnessLine(f: StatusReply['probes'][number]['fairness'] | undefined): string {
  if (!f || !f.configured) return 'fairness: off (one workload\'s flood can delay every other workload\'s events)';
  const now = f.budget < f.configured ? `CUT to ${n(f.budget)} events/s of ${n(f.configured)} (the engine is behind)` : `${n(f.budget)} events/s (as configured)`;
  const history = f.cuts ? `cut ${n(f.cuts)} times since the probe started, lowest ${n(f.lowest)}` : 'never cut';
  return `fairness: budget toward the engine ${now}; ${history}; workloads held to their share now: ${f.held}`;
}

export function formatStatus(s: StatusReply): string {
  const lines: string[] = [];
  lines.push(`engine ${s.engineVersion} on ${s.nodeName}, up since ${new Date(s.startedAtMs).toISOString()}`);
  if (s.probes.length === 0) lines.push('probes: none connected');
  for (const p of s.probes) {
    const l = p.losses;
    lines.push(
      `probe ${p.nodeName} pid ${p.probePid} (session ${p.sessionId}, ${p.hooks} hooks): ${p.events} events in ${p.batches} batches, last ${ago(p.lastBatchAtMs)}${p.stalled ? `; STALLED: silent since ${ago(p.lastHeardAtMs)}` : ''}`,
      `  lost: ring buffer ${l.ringbufFull}, syscall entries ${l.inflightFull}, probe queue ${l.queueFull}, malformed ${l.decodeErrors}, captured packets ${l.packetsLost}; missing batches ${p.batchGaps}; truncated paths ${l.pathTruncated}, environments ${l.envTruncated}`,
      `  de-duplicated in the kernel (repeats counted, not sent): ${l.deduplicated}; DNS answers over a workload's budget: ${l.dnsDropped}`,
    );
    lines.push(`  ${fairnessLine(p.fairness)}`);
    const c = p.selfCheck;
    lines.push(c && c.checks
      ? `  self-check: ${c.checks} checks every ${c.intervalMs} ms of ${c.watched.length} globals, maps and links, last ${ago(c.lastCheckAtMs)}; ${c.tampered ? `TAMPERED ${c.tampered} times, last ${ago(c.lastFoundAtMs)}: ${c.lastFound}` : 'nothing changed by anyone else'}`
      : '  self-check: no report yet (its kernel state is not being checked)');
    lines.push(`  ${pinningLine(p.pinning)}`);
    lines.push(p.snapshotCgroups === 'kernel'
      ? '  snapshot: cgroups of processes older than the probe from the kernel (task iterator)'
      : '  snapshot: cgroups of processes older than the probe from /proc/PID/cgroup, the fallback (the probe\'s log says why)');
  }
  const d = s.dns;
  lines.push(d?.seen
    ? `dns: names from answers seen in the kernel: ${d.answers} answers, ${d.addresses} addresses named, ${d.evicted} forgotten early (table full)`
    : 'dns: answers are not seen on this node: connects are judged by address only');
  const byType = Object.entries(s.eventsByType).filter(([, n]) => n > 0);
  lines.push(`events: ${byType.map(([t, n]) => `${t} ${n}`).join(', ') || 'none yet'}`);
  lines.push(`process tree: ${s.processes} processes; engine rejected ${s.malformedEvents} malformed events; ${s.unknownCgroups} events with an unknown cgroup`);
  if (s.probeCapabilities.length) lines.push(`probe can: ${s.probeCapabilities.join(', ')}`);
  // Enforcement on this node by mechanism: what is denied before it happens, what only kills after.
  const byMechanism = new Map<string, string[]>();
  for (const e of s.enforcement) byMechanism.set(e.mechanism, [...(byMechanism.get(e.mechanism) ?? []), e.operation]);
  for (const [m, ops] of byMechanism) lines.push(`enforcement: ${ops.join(', ')}: ${MECHANISM_SAYS[m as Mechanism] ?? m}`);
  if (s.runtimes.length === 0) lines.push('container runtimes: none found (containers are named by their cgroup)');
  for (const r of s.runtimes) lines.push(`container runtime ${r.version || r.runtime} at ${r.socket}: ${r.up ? 'answering' : 'NOT ANSWERING (its containers are named by their cgroup)'}`);
  const c = s.containers;
  if (s.runtimes.length) {
    lines.push(`  containers known ${c.known}; lookups ${c.lookups}, failed ${c.failed}; named by cgroup after waiting ${c.unnamed}; events held for a container's name ${c.held} (went on unnamed ${c.heldTimedOut})`);
  }
  const u = s.userNames;
  if (u) {
    lines.push(`container user names: ${u.containers}`, `node user names: ${u.node}`);
    for (const p of u.problems) lines.push(`  ${p}`);
  }
  lines.push(`rules: ${s.rulesLoaded} running${s.rulesSkipped ? `, ${s.rulesSkipped} skipped (vigil rules list)` : ''}; alerts raised: ${s.alertsRaised}`);
  lines.push(`gaps: probe stalls ${s.probeStalls}, restarts ${s.probeRestarts}, exits ${s.probeExits}; loss episodes ${s.lossEpisodes}`);
  const m = s.cgroupMoves;
  if (m) lines.push(`cgroup moves: ${m.moves} processes moved, ${m.escapes} out of their workload (alerted), ${m.followed} kept their enforce policy`);
  for (const w of s.workloadLosses.slice(0, 10)) {
    lines.push(`  lost from ${w.workload}: ring buffer ${w.ringbufFull}, syscall entries ${w.inflightFull}, probe queue ${w.queueFull}; shed over its share ${w.shed}`);
  }
  if (s.quarantined.length) lines.push(`QUARANTINED: ${s.quarantined.join(', ')}`);
  for (const v of s.vigilCgroups ?? []) lines.push(`vigil's own cgroup (never enforced, quarantined or killed): ${v}`);
  lines.push(`workloads (${s.workloads.length}):`);
  for (const w of s.workloads.slice(0, 50)) lines.push(`  ${w.mode.padEnd(8)} ${String(w.events).padStart(10)}  ${w.name}${w.cgroupPath && w.cgroupPath !== w.name ? `  (${w.cgroupPath})` : ''}${w.pathsIncomplete ? `  incomplete paths ${w.pathsIncomplete}` : ''}${w.notEnforceable ? `  NOT ENFORCEABLE: ${w.notEnforceable}` : ''}`);
  if (s.workloads.length > 50) lines.push(`  … and ${s.workloads.length - 50} more (--json for all)`);
  return `${lines.join('\n')}\n`;
}

/** Whether enforcement outlives the probe (bpf/README.md#enforcement-outlives-the-probe). */
function pinningLine(p: StatusReply['probes'][number]['pinning']): string {
  if (!p?.pinned) return `enforcement NOT PINNED (${p?.why || 'unknown'}): if the probe dies, enforcement is off until a new one has the engine's policies`;
  const previous = p.previousLinks
    ? `; ${p.previousLinks} links of an earlier probe ${p.previousReleased ? 'released after the engine re-applied its policies' : 'still in force until the engine has re-applied its policies'}`
    : '';
  const onExit = p.onExit === 'unpin' ? 'unpinned when the probe stops' : 'kept on a clean stop while a workload is enforced (vigil-probe --release-pinned drops it)';
  return `enforcement pinned at ${p.dir}: ${p.links} links stay in force if the probe dies, ${onExit}${previous}`;
}

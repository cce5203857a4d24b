// Diagnostic: an idle node's probe and engine CPU and wakeups per thread
// (schedstat: run time and timeslices) over SECONDS with nothing happening
// but what the rest of the host does (batches counted and printed).
//   node --import tsx bench/idle-threads.ts [SECONDS] [-- PROBE FLAGS]
import { parseConfig } from '../src/config/load.js';
import { probeUnavailable, threadTimes } from './lib/kernel.js';
import { startVigil } from './lib/vigil-node.js';

const why = probeUnavailable();
if (why) {
  console.log(`skipped: ${why}`);
  process.exit(0);
}
const seconds = Number(process.argv[2] ?? 30);
const dash = process.argv.indexOf('--');
const probeFlags = dash > 0 ? process.argv.slice(dash + 1) : [];
const v = await startVigil({ probeFlags, probe: { lossReportMs: parseConfig({}).probe.lossReportMs } });
try {
  await new Promise((r) => setTimeout(r, 3000));
  const pid = v.probe.pid!;
  const s = (): ReturnType<typeof v.engine.ingest.sessions>[number] => v.engine.ingest.sessions().at(-1)!;
  const seq0 = s().lastSeq;
  const ev0 = s().events;
  const p0 = threadTimes(pid);
  const e0 = threadTimes(process.pid);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const p1 = threadTimes(pid);
  const e1 = threadTimes(process.pid);
  const show = (who: string, a: typeof p0, b: typeof p0): void => {
    let ms = 0;
    let sw = 0;
    const rows: string[] = [];
    for (const [k, x] of b) {
      const y = a.get(k) ?? { ns: 0, switches: 0 };
      const d = (x.ns - y.ns) / 1e6;
      const n = x.switches - y.switches;
      ms += d;
      sw += n;
      if (n > 0) rows.push(`${k} ${(d / seconds).toFixed(2)} ms/s ${(n / seconds).toFixed(1)}/s`);
    }
    console.log(`${who}: ${(ms / seconds).toFixed(2)} ms/s, ${(sw / seconds).toFixed(1)} runs/s [${rows.join(', ')}]`);
  };
  console.log(`idle ${seconds} s: ${s().lastSeq - seq0} batches, ${s().events - ev0} events from the rest of the host`);
  show('probe ', p0, p1);
  show('engine', e0, e1);
} finally {
  await v.stop();
}
process.exit(0);

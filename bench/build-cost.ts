// Diagnostic (not part of `npm run bench`): where a build's overhead under
// Vigil goes. Alternates untraced builds with builds under Vigil (engine
// warmed by one build first, as the bench's loops warm it) and prints, per
// build, the gRPC batches and events that reached the engine and the CPU
// time (schedstat, exact) and context switches of each probe thread and of
// the engine's main thread.
//   node --initial-old-space-size=64 --import tsx bench/build-cost.ts [ROUNDS] [-- PROBE FLAGS]
//   FLUSH_MS=N sets probe.flushMs.
import { TestCgroupTree } from '../test/support/cgroup.js';
import { build, generateProject } from './lib/c-project.js';
import { median, probeUnavailable, threadTimes } from './lib/kernel.js';
import { startVigil } from './lib/vigil-node.js';

type Threads = ReturnType<typeof threadTimes>;

function delta(before: Threads, after: Threads, only?: string): string {
  const parts: string[] = [];
  let ms = 0;
  for (const [k, v] of after) {
    if (only && !k.endsWith(`/${only}`)) continue;
    const b = before.get(k) ?? { ns: 0, switches: 0 };
    const d = { ms: (v.ns - b.ns) / 1e6, switches: v.switches - b.switches };
    ms += d.ms;
    if (d.ms >= 1) parts.push(`${k} ${d.ms.toFixed(0)} ms/${d.switches} switches`);
  }
  return `${ms.toFixed(0)} ms [${parts.join(', ')}]`;
}

const why = probeUnavailable();
if (why) {
  console.log(`skipped: ${why}`);
  process.exit(0);
}
const rounds = Number(process.argv[2] ?? 3);
const dash = process.argv.indexOf('--');
const probeFlags = dash > 0 ? process.argv.slice(dash + 1) : [];
const flushMs = process.env.FLUSH_MS ? Number(process.env.FLUSH_MS) : undefined;

const project = generateProject(150);
const tree = new TestCgroupTree();
const procs = `${tree.group('build').dir}/cgroup.procs`;
await build(project, 2); // warm the page cache and the compiler
const none: number[] = [];
const traced: number[] = [];
for (let r = 0; r < rounds; r++) {
  none.push(await build(project, 2, procs));
  const v = await startVigil({ probeFlags, ...(flushMs ? { config: { probe: { flushMs } } as never } : {}) });
  try {
    const pid = v.probe.pid!;
    await build(project, 2, procs);
    const session = (): ReturnType<typeof v.engine.ingest.sessions>[number] => v.engine.ingest.sessions().at(-1)!;
    const seq0 = session().lastSeq;
    const events0 = session().events;
    const probe0 = threadTimes(pid);
    const engine0 = threadTimes(process.pid);
    traced.push(await build(project, 2, procs));
    await new Promise((res) => setTimeout(res, 300)); // the build's last events reach the engine
    console.log(`round ${r + 1}: ${(traced.at(-1)! / none.at(-1)!).toFixed(3)}; ${session().lastSeq - seq0} batches, ${session().events - events0} events`);
    console.log(`  probe  ${delta(probe0, threadTimes(pid))}`);
    console.log(`  engine main thread ${delta(engine0, threadTimes(process.pid), String(process.pid))}`);
  } finally {
    await v.stop();
  }
}
await tree.remove();
const ratios = traced.map((t, i) => t / none[i]!);
console.log(`Vigil / none: median ${median(ratios).toFixed(3)} [${ratios.map((x) => x.toFixed(3)).join(' ')}]; untraced ${(median(none) / 1e9).toFixed(2)} s`);
process.exit(0);

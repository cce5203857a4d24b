// Engine CPU per exec of a fork+exec+exit loop (overhead.ts's exec row), run alone, as root:
//   node --expose-gc --import tsx bench/exec-cost.ts [EXECS] [ROUNDS]
// The real engine and probe (bench/lib/vigil-node.ts). The loop runs twice
// in a cgroup of its own, its binary once in /tmp (every exec fires the
// built-in "Execution from a temporary directory", folded after the first)
// and once in /run (no rule fires); the engine keeps a copy of the loop's
// events as they arrive. Then the probe stops and those events are fed again
// (fresh copies, 256 to a batch, command lines interned as the decoder
// interns them) through the engine's onEvents, ROUNDS
// times each, alternating: CPU per exec of the replay, in this process with
// nothing else arriving, is the steady number (the live one carries every
// other process on the machine). BENCH_CPU_PROFILE=FILE writes a V8 CPU
// profile of the measured replays.
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { parseConfig } from '../src/config/load.js';
import { execMore, type Event } from '../src/model/event.js';
import type { ProbeSession } from '../src/probe/session.js';
import { TestCgroupTree } from '../test/support/cgroup.js';
import { buildTools, median, probeUnavailable, runLoad, sleep } from './lib/kernel.js';
import { startVigil } from './lib/vigil-node.js';

const EXECS = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 7);
const BATCH = 256;
const gc = (globalThis as { gc?: () => void }).gc;

const why = probeUnavailable();
if (why) throw new Error(`exec-cost needs the probe: ${why}`);
const { tiny } = buildTools();
const elsewhere = `/run/vigil-bench-exec-${process.pid}`;
mkdirSync(elsewhere, { recursive: true });
copyFileSync(tiny, join(elsewhere, 'tiny'));
const places = { tmp: tiny, run: join(elsewhere, 'tiny') } as const;
type Place = keyof typeof places;

const tree = new TestCgroupTree();
const group = tree.group('exec');
const cgroupId = Number(group.id);
const v = await startVigil({ probe: { lossReportMs: parseConfig({}).probe.lossReportMs } });
const engine = v.engine;
// Counted, not subscribed to: a subscriber to every alert has each one built (engine.raiseUnlessFolded).
const raised = (): number => engine.alertsRaised;

const cpuNs = (c0: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) * 1000;
};

// The loop's events as they arrive, copied before the engine reads them.
let capture: Event[] | null = null;
const onEvents = engine.onEvents.bind(engine);
engine.onEvents = (s, events, wire) => {
  if (capture) for (const e of events) if (e.cgroupId === cgroupId) capture.push(structuredClone(e));
  onEvents(s, events, wire);
};

const captured = {} as Record<Place, Event[]>;
const live = {} as Record<Place, { cpuPerExec: number; eventsPerExec: number; alerts: number }>;
try {
  await sleep(1000); // the start-up snapshot handled
  for (const place of ['tmp', 'run'] as Place[]) {
    capture = [];
    const a0 = raised();
    const c0 = process.cpuUsage();
    await runLoad(['exec', String(EXECS), places[place]], { cpu: 1, cgroupProcs: `${group.dir}/cgroup.procs` });
    // Until the loop's events stop arriving.
    for (let n = -1; n !== capture.length; ) {
      n = capture.length;
      await sleep(300);
    }
    live[place] = { cpuPerExec: cpuNs(c0) / EXECS, eventsPerExec: capture.length / EXECS, alerts: raised() - a0 };
    captured[place] = capture;
    capture = null;
  }
} finally {
  await v.probe.stop();
}

const session = null as unknown as ProbeSession;
let profile: Session | null = null;
const post = (method: string, params?: object): Promise<Record<string, unknown>> =>
  new Promise((res, rej) => profile!.post(method, params, (err, r) => (err ? rej(err) : res(r as Record<string, unknown>))));
if (process.env.BENCH_CPU_PROFILE) {
  profile = new Session();
  profile.connect();
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 100 });
}

const argvs = new Map<string, string[]>();

/** One replay of a place's events: engine CPU per exec. */
async function replay(place: Place): Promise<number> {
  const batches: Event[][] = [];
  const all = structuredClone(captured[place]);
  // The decoder gives the same command line the same array (probe-message.ts), which caches key on: so here too.
  for (const e of all) {
    if (e.type !== 'exec') continue;
    const x = execMore(e);
    x.argv = argvs.get(x.argv.join('\0')) ?? argvs.set(x.argv.join('\0'), x.argv).get(x.argv.join('\0'))!;
  }
  for (let i = 0; i < all.length; i += BATCH) batches.push(all.slice(i, i + BATCH));
  gc?.(); // the copies' garbage is not the engine's
  const c0 = process.cpuUsage();
  for (const b of batches) engine.onEvents(session, b);
  const ns = cpuNs(c0);
  await sleep(50); // timers (the fold's tick) between rounds
  return ns / EXECS;
}

const replays: Record<Place, number[]> = { tmp: [], run: [] };
const alertsBefore = raised();
await replay('tmp'); // warm-up
await replay('run');
if (profile) await post('Profiler.start');
for (let r = 0; r < ROUNDS; r++) for (const place of ['tmp', 'run'] as Place[]) replays[place].push(await replay(place));
if (profile) writeFileSync(process.env.BENCH_CPU_PROFILE!, JSON.stringify((await post('Profiler.stop')).profile));
const replayAlerts = raised() - alertsBefore;
const delivery = engine.alertDelivery?.stats();
await v.stop();
await tree.remove();
rmSync(elsewhere, { recursive: true, force: true });

const us = (ns: number): string => (ns / 1000).toFixed(1);
for (const place of ['tmp', 'run'] as Place[]) {
  const l = live[place];
  console.log(
    `${place === 'tmp' ? 'from /tmp (rule fires)' : 'from /run (no rule)   '}: live ${us(l.cpuPerExec)} µs CPU per exec (${l.eventsPerExec.toFixed(2)} events per exec; alerts raised meanwhile, machine-wide: ${l.alerts}); ` +
      `replay median ${us(median(replays[place]))} µs per exec (rounds ${replays[place].map(us).join(', ')})`,
  );
}
console.log(`alert path (replay, /tmp − /run): ${us(median(replays.tmp) - median(replays.run))} µs per exec; alerts raised by the replays: ${replayAlerts}; delivery: received ${delivery?.received}, folded ${delivery?.folded}, emitted ${delivery?.emitted}`);

// The engine alone in its own process, so its memory can be measured
// without the benchmark's. Usage: node --expose-gc --import tsx
// engine-child.ts '{"dir": …, "cgroupMount": …}'. Prints "ready", then
// answers each "measure" line on stdin with one JSON line; "stop" ends it.
import { createInterface } from 'node:readline';
import { setTimeout } from 'node:timers/promises';
import { parseConfig } from '../../src/config/load.js';
import { Engine } from '../../src/engine.js';
import { silentLogger } from '../../src/log.js';
import { scratchEngineInput } from './scratch-engine.js';

const { dir, cgroupMount } = JSON.parse(process.argv[2]!) as { dir: string; cgroupMount: string };
const config = parseConfig({ nodeName: 'bench', ...scratchEngineInput(dir) });
const engine = new Engine(config, silentLogger(), { cgroupMount });
await engine.start();
let events = 0;
engine.subscribe(() => events++);
console.log('ready');

for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'measure') {
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    // A full GC that compacts hands the pages it emptied to V8's unmapper thread, which frees
    // them after gc() returns: read the RSS again once that is done (bench/README.md, "The
    // engine's memory, second look": 5-15 MiB still counted right after gc(), steady from
    // ~50 ms to over a second after).
    await setTimeout(300);
    const s = engine.status();
    console.log(JSON.stringify({ rss: process.memoryUsage.rss(), rssAtGc: m.rss, heapUsed: m.heapUsed, processes: s.processes, workloads: s.workloads.length, events }));
  } else if (line === 'stop') {
    await engine.stop();
    process.exit(0);
  }
}

// The engine alone in its own process, so its memory can be measured
// without the benchmark's. Usage: node --expose-gc --import tsx
// engine-child.ts '{"dir": …, "cgroupMount": …}'. Prints "ready", then
// answers each "measure" line on stdin with one JSON line; "stop" ends it.
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { Engine } from '../../src/engine.js';
import { silentLogger } from '../../src/log.js';

const { dir, cgroupMount } = JSON.parse(process.argv[2]!) as { dir: string; cgroupMount: string };
const config = parseConfig({
  nodeName: 'bench',
  engine: { listen: `unix://${dir}/engine.sock` },
  control: { listen: `unix://${dir}/control.sock` },
  stateDir: join(dir, 'state'),
  sinks: [{ type: 'file', path: join(dir, 'alerts.jsonl'), format: 'json' }],
});
const engine = new Engine(config, silentLogger(), { cgroupMount });
await engine.start();
let events = 0;
engine.subscribe(() => events++);
console.log('ready');

for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'measure') {
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    const s = engine.status();
    console.log(JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, processes: s.processes, workloads: s.workloads.length, events }));
  } else if (line === 'stop') {
    await engine.stop();
    process.exit(0);
  }
}

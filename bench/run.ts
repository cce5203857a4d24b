// `npm run bench [-- --only NAME,…] [-- --out NAME] [-- --engine-runs N]`:
// every benchmark (or the named ones), one table, one JSON result file
// (bench/results/NAME.json, default latest.json).
//   names: decode, transport, engine, workers, kernel-latency, overhead, loss,
//          latency, memory, steady, cli
//   --engine-runs N: runs of each engine throughput setting, the median shown (default 5)
import { printTable, writeResults, machine, type Row } from './lib/report.js';
import { decodeCeiling, engineThroughput, kernelLatency, THROUGHPUT_DEFAULTS, transportCeiling, workersThroughput } from './pipeline.js';
import { overhead } from './overhead.js';
import { loss } from './loss.js';
import { latency } from './latency.js';
import { fairness } from './fairness.js';
import { memory } from './memory.js';
import { steady } from './steady.js';
import { cliLatency } from './cli.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const engineRuns = args.includes('--engine-runs') ? (flag('--engine-runs') ?? '') : String(THROUGHPUT_DEFAULTS.runs);
if (!/^[1-9]\d*$/.test(engineRuns)) {
  console.error(`--engine-runs ${engineRuns || 'without a value'}: a whole number of runs, 1 or more`);
  process.exit(2);
}

const BENCHES: [string, (rows: Row[]) => void | Promise<void>][] = [
  ['decode', decodeCeiling],
  ['transport', (rows) => transportCeiling(rows)],
  ['engine', (rows) => engineThroughput(rows, { ...THROUGHPUT_DEFAULTS, runs: Number(engineRuns) })],
  ['workers', (rows) => workersThroughput(rows)],
  ['kernel-latency', kernelLatency],
  ['overhead', (rows) => overhead(rows)],
  ['loss', loss],
  ['latency', latency],
  ['fairness', fairness],
  ['memory', memory],
  ['steady', steady],
  ['cli', cliLatency],
];

const only = flag('--only')?.split(',');
const unknown = only?.filter((n) => !BENCHES.some(([b]) => b === n));
if (unknown?.length) {
  console.error(`unknown bench ${unknown.join(', ')}: one of ${BENCHES.map(([b]) => b).join(', ')}`);
  process.exit(2);
}
const out = flag('--out') ?? 'latest';
if (!/^[\w.-]+$/.test(out)) {
  console.error(`--out ${out}: a file name (letters, digits, . _ -), written under bench/results/`);
  process.exit(2);
}

const rows: Row[] = [];
console.log(`machine: ${JSON.stringify(machine())}`);
for (const [name, run] of BENCHES) if (!only || only.includes(name)) await run(rows);
printTable(rows);
console.log(`results: ${writeResults(out, rows)}`);
process.exit(0);

// `npm run bench`: every benchmark, one table, one JSON result file.
import { printTable, writeResults, machine, type Row } from './lib/report.js';
import { decodeCeiling, engineThroughput, kernelLatency, transportCeiling } from './pipeline.js';
import { overhead } from './overhead.js';
import { loss } from './loss.js';
import { latency } from './latency.js';
import { memory } from './memory.js';
import { steady } from './steady.js';
import { cliLatency } from './cli.js';

const rows: Row[] = [];
console.log(`machine: ${JSON.stringify(machine())}`);
decodeCeiling(rows);
await transportCeiling(rows);
await engineThroughput(rows);
await kernelLatency(rows);
await overhead(rows);
await loss(rows);
await latency(rows);
await memory(rows);
await steady(rows);
await cliLatency(rows);
printTable(rows);
console.log(`results: ${writeResults('latest', rows)}`);
process.exit(0);

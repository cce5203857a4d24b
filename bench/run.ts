// `npm run bench`: every benchmark, one table, one JSON result file.
import { printTable, writeResults, machine, type Row } from './lib/report.js';
import { decodeCeiling, engineThroughput, kernelLatency } from './pipeline.js';

const rows: Row[] = [];
console.log(`machine: ${JSON.stringify(machine())}`);
decodeCeiling(rows);
await engineThroughput(rows);
await kernelLatency(rows);
printTable(rows);
console.log(`results: ${writeResults('latest', rows)}`);
process.exit(0);

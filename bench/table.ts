// `npm run bench:table [-- --keep] [RESULT.json] [--over PARTIAL.json …]`:
// writes the bench tables of README.md and bench/README.md from results kept in git.
//   --keep   first keeps bench/results/latest.json (what `npm run bench`
//            just wrote) as bench/results/<date>-<machine>.json
//   RESULT   the full run to show; default: the newest kept one
//   --over   a later partial run (`npm run bench -- --only NAME --out NAME`,
//            kept under a name not starting with a date) whose benches'
//            rows replace the full run's; the table names every file
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { block, DOCUMENTS, merge, readResults, withBlock, type Source } from './lib/tables.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const resultsDir = join(root, 'bench/results');

/** "2026-12-04-amd-epyc-2vcpu": the day it ran and the machine it ran on. */
function keptName(file: string): string {
  const res = readResults(file);
  const m = res.machine as { cpus?: number; cpuModel?: string };
  const model = String(m.cpuModel ?? 'cpu').toLowerCase().replace(/\(r\)|\(tm\)|processor|cpu @.*$/g, '').trim().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  return `${res.when.slice(0, 10)}-${model}-${m.cpus}vcpu.json`;
}

const args = process.argv.slice(2);
const overs: string[] = [];
for (let i = 0; i < args.length; i++) if (args[i] === '--over' && args[i + 1]) overs.push(args.splice(i + 1, 1)[0]!);
let source: string | undefined = args.find((a) => !a.startsWith('--'));
if (args.includes('--keep')) {
  const latest = join(resultsDir, 'latest.json');
  source = join(resultsDir, keptName(latest));
  copyFileSync(latest, source);
  console.log(`kept ${relative(root, source)}`);
}
source ??= join(resultsDir, readdirSync(resultsDir).filter((f) => /^\d{4}-\d\d-\d\d-.*\.json$/.test(f)).sort().at(-1) ?? 'none kept');
const sources: Source[] = [source, ...overs].map((f) => {
  const path = relative(root, resolve(f));
  return { path, res: readResults(join(root, path)) };
});
const res = merge(sources);
for (const doc of DOCUMENTS) {
  const path = join(root, doc.file);
  writeFileSync(path, withBlock(readFileSync(path, 'utf8'), block(sources, doc.table(res))));
  console.log(`${doc.file}: table from ${sources.map((x) => x.path).join(' + ')}`);
}

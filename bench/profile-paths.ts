// PathSet.has() cost on learned profiles:
//   node --expose-gc --import tsx bench/profile-paths.ts
// Each lookup uses a fresh string object (as decoded events carry), so the
// string hash is computed per lookup as on the hot path. Strings are built
// in chunks outside the timed loop, with a GC between chunks when exposed.
import { PathSet } from '../src/detect/profile/paths.js';
import { javaWindow, nginxWindow, postgresWindow, type Window } from '../test/unit/profile/fixtures.js';
import { printTable, type Row } from './lib/report.js';

const CHUNK = 100_000;
const CHUNKS = 8;
const gc = (globalThis as { gc?: () => void }).gc;

function measure(set: PathSet, paths: string[]): { ns: number; covered: number } {
  let covered = 0;
  let ns = 0n;
  for (let c = -2; c < CHUNKS; c++) {
    const inputs: string[] = new Array(CHUNK);
    for (let i = 0; i < CHUNK; i++) inputs[i] = Buffer.from(paths[i % paths.length]!).toString('latin1');
    gc?.();
    let hits = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CHUNK; i++) if (set.has(inputs[i]!)) hits++;
    if (c >= 0) {
      ns += process.hrtime.bigint() - t0;
      covered += hits;
    }
  }
  return { ns: Number(ns) / (CHUNK * CHUNKS), covered: covered / (CHUNK * CHUNKS) };
}

const rows: Row[] = [];
const workloads: [string, (seed: number) => Window][] = [['nginx', nginxWindow], ['postgres', postgresWindow], ['java', javaWindow]];
for (const [name, window] of workloads) {
  for (const kind of ['read', 'write'] as const) {
    const learn = (opts: { lookupCache?: number }): PathSet => {
      const set = new PathSet(opts);
      for (const p of window(1)[kind]) set.add(p);
      return set;
    };
    const set = learn({});
    const walkOnly = learn({ lookupCache: 0 });
    const entries = new Set(set.entries());
    const later = window(2)[kind];
    const exact = later.filter((p) => entries.has(p));
    const viaPattern = later.filter((p) => !entries.has(p));
    // The same names one directory off: what a lookup of new behaviour costs.
    const outside = later.map((p) => p.replace(/^\/[^/]+/, '/srv'));
    const cases: [string, PathSet, string[]][] = [
      ['exact hit', set, exact],
      ['pattern hit, repeated paths (answer cache)', set, viaPattern],
      ['pattern hit, trie walk (cache off)', walkOnly, viaPattern],
      ['not covered (top directory changed), cache off', walkOnly, outside],
    ];
    for (const [what, s, paths] of cases) {
      if (paths.length === 0) continue;
      const { ns, covered } = measure(s, paths);
      rows.push({ bench: `paths.has ${name} ${kind} (${set.size} entries)`, metric: what, value: ns, unit: 'ns/lookup', note: `${(covered * 100).toFixed(0)}% covered` });
    }
  }
}
printTable(rows);

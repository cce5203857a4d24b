// The bench tables in README.md and bench/README.md are generated from a
// result kept in git (npm run bench:table), never written by hand: each must
// be exactly what its named result file gives.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { block, DOCUMENTS, findBlock, meets, merge, readResults } from '../../bench/lib/tables.js';
import type { Row } from '../../bench/lib/report.js';
import { parseTracepoints } from '../../bench/lib/kernel.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('bench tables', () => {
  for (const doc of DOCUMENTS) {
    it(`${doc.file} shows its kept result as generated`, () => {
      const text = readFileSync(`${root}/${doc.file}`, 'utf8');
      const { begin, end, sources } = findBlock(text);
      // A full run first (named by its day and machine), then any later partial runs over it.
      expect(sources[0]).toMatch(/^bench\/results\/\d{4}-\d\d-\d\d-[a-z0-9-]+\.json$/);
      for (const s of sources) expect(s).toMatch(/^bench\/results\/[A-Za-z0-9._-]+\.json$/);
      const kept = sources.map((path) => ({ path, res: readResults(`${root}/${path}`) }));
      expect(text.slice(begin, end)).toBe(block(kept, doc.table(merge(kept))));
    });
  }

  it("puts a partial run's rows in place of the full run's rows of the same bench, whole", () => {
    const row = (bench: string, metric: string, value: number): Row => ({ bench, metric, value, unit: 'ms' });
    const machine = { cpus: 2, cpuModel: 'AMD EPYC' };
    const full = { path: 'f.json', res: { when: '2026-12-04T10:00:00.000Z', machine, rows: [row('a', 'x', 1), row('cli', 'status', 438), row('cli', 'old metric', 5), row('b', 'y', 2)] } };
    const cli = { path: 'cli.json', res: { when: '2026-12-05T03:00:00.000Z', machine, rows: [row('cli', 'status', 210)] } };
    const fresh = { path: 'n.json', res: { when: '2026-12-05T04:00:00.000Z', machine, rows: [row('new', 'z', 3)] } };
    expect(merge([full, cli, fresh]).rows).toEqual([row('a', 'x', 1), row('cli', 'status', 210), row('b', 'y', 2), row('new', 'z', 3)]);
    expect(block([full, cli], 'T')).toContain('from f.json + cli.json;');
    expect(block([full, cli], 'T')).toContain('its cli rows from a later run of 2026-12-05 03:00 UTC (cli.json)');
    expect(() => merge([full, { ...cli, res: { ...cli.res, machine: { cpus: 64, cpuModel: 'Xeon' } } }])).toThrow(/another machine/);
  });

  it('judges a target only where it can', () => {
    const row = (metric: string, value: number, target?: string): Row => ({ bench: 'b', metric, value, unit: 'ns', target });
    const vigil = row('open: Vigil', 700, '< 300 and < 1/3 of bpftrace');
    const rows = [vigil, row('open: bpftrace', 9000)];
    expect(meets(vigil, rows)).toBe(false); // 700 ≥ 300, though < 3,000
    expect(meets(row('open: Vigil', 250, '< 300 and < 1/3 of bpftrace'), rows)).toBe(true);
    expect(meets(row('x', 1.17, '≤ 1.03'), [])).toBe(false);
    expect(meets(row('x', 1_100_000, '≥ 1,000,000 (issue 7)'), [])).toBe(true);
    expect(meets(row('x', 0, '0 (issue 7)'), [])).toBe(true);
    expect(meets(row('x', 3, 'about right'), [])).toBeNull();
    expect(meets(vigil, [vigil, row('open: bpftrace', -5)])).toBeNull(); // a noisy peer, no verdict
    expect(meets(row('x', NaN, '< 5'), [])).toBeNull();
    // A labelled Vigil row ("Vigil, de-duplication off") is judged against the same bpftrace row.
    expect(meets(row('open: Vigil, de-duplication off', 3500, '< 1/3 of bpftrace'), rows)).toBe(false);
    expect(meets(row('open: Vigil, de-duplication off', 2500, '< 1/3 of bpftrace'), rows)).toBe(true);
  });

  it('counts the tracepoints the probe loads, from its --check-programs lines', () => {
    const out = [
      'OK   enforce_connect4             cgroup/connect4',
      'OK   handle_exec                  tp_btf/sched_process_exec',
      'OK   enter_open                   tp/syscalls/sys_enter_open',
      'OK   enter_setresuid              tp/syscalls/sys_enter_setresuid',
      'SKIP enter_init_module            tp/syscalls/sys_enter_init_module: this kernel has no sys_enter_init_module tracepoint',
      'FAIL exit_open                    tp/syscalls/sys_exit_open: invalid mem access',
      'SKIP lsm_file_open                lsm/file_open: the kernel refuses BPF LSM programs here: Operation not permitted',
    ].join('\n');
    expect(parseTracepoints(out, (e) => (e.startsWith('sched_') ? 'sched' : 'unknown'))).toEqual([
      'tracepoint:sched:sched_process_exec',
      'tracepoint:syscalls:sys_enter_open',
      'tracepoint:syscalls:sys_enter_setresuid',
    ]);
  });
});

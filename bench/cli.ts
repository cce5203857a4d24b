// The `vigil` command as an operator feels it: wall time from starting
// `node dist/cli/main.js ...` to its exit, the shipped build, median of a
// few runs. `status` asks a real engine (`vigil engine`, started here);
// `run` is SIGTERM to exit of `vigil run` with its real probe attached.
// Alone: node --import tsx bench/cli.ts (after npm run build).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, probeUnavailable, waitUntil } from './lib/kernel.js';
import { skipped, type Row } from './lib/report.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/cli/main.js');
const RUNS = 7;

interface Started {
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
  stderr(): string;
}

function start(args: string[], env: NodeJS.ProcessEnv = process.env): Started {
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return {
    exited: new Promise((r) => child.once('exit', (code, signal) => r({ code, signal }))),
    kill: (signal) => child.kill(signal),
    stderr: () => err,
  };
}

/** Wall milliseconds of one `vigil ARGS` to its exit, or the failure. */
async function timed(args: string[], env?: NodeJS.ProcessEnv): Promise<number> {
  const t0 = process.hrtime.bigint();
  const p = start([cli, ...args], env);
  const { code } = await p.exited;
  if (code !== 0) throw new Error(`vigil ${args.join(' ')} exited ${code}: ${p.stderr().trim()}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** `env` per run: a function gives each run its own (a fresh cache directory). */
async function medianOf(args: string[], env?: () => NodeJS.ProcessEnv): Promise<{ ms: number; range: string }> {
  const xs: number[] = [];
  for (let i = 0; i < RUNS; i++) xs.push(await timed(args, env?.()));
  xs.sort((a, b) => a - b);
  return { ms: median(xs), range: `${Math.round(xs[0]!)}–${Math.round(xs.at(-1)!)} ms over ${RUNS} runs` };
}

function writeConfig(dir: string): string {
  const config = join(dir, 'vigil.yaml');
  writeFileSync(config, [
    `engine: { listen: unix://${dir}/engine.sock }`,
    `control: { listen: unix://${dir}/control.sock }`,
    `stateDir: ${dir}/state`,
    'metrics: { listen: null }',
    'sinks: []',
  ].join('\n'));
  return config;
}

export async function cliLatency(rows: Row[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-cli-'));
  try {
    const config = writeConfig(dir);
    const node: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = process.hrtime.bigint();
      await start(['-e', '0']).exited;
      node.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    rows.push({ bench: 'cli', metric: 'node -e 0 (the floor: Node starting, nothing loaded)', value: median(node), unit: 'ms', note: `${RUNS} runs` });

    const version = await medianOf(['--version']);
    rows.push({ bench: 'cli', metric: 'vigil --version', value: version.ms, unit: 'ms', target: '< 300', note: version.range });
    // rules list keeps its listing in the user's cache (src/cli/rules-cache.ts): the first run after a change compiles.
    const cache = join(dir, 'cache');
    await timed(['rules', 'list', '--config', config], { ...process.env, XDG_CACHE_HOME: cache });
    const rules = await medianOf(['rules', 'list', '--config', config], () => ({ ...process.env, XDG_CACHE_HOME: cache }));
    rows.push({ bench: 'cli', metric: 'vigil rules list (built-in rules, listing cached)', value: rules.ms, unit: 'ms', target: '< 300', note: rules.range });
    let fresh = 0;
    const compiled = await medianOf(['rules', 'list', '--config', config], () => ({ ...process.env, XDG_CACHE_HOME: join(dir, `cold-${fresh++}`) }));
    rows.push({ bench: 'cli', metric: 'vigil rules list, first run after a change (rules compiled)', value: compiled.ms, unit: 'ms', note: compiled.range });

    const engine = start([cli, 'engine', '--config', config]);
    try {
      await waitUntil('the engine running', () => engine.stderr().includes('"msg":"vigil running"'), 30_000);
      const status = await medianOf(['status', '--config', config]);
      rows.push({ bench: 'cli', metric: 'vigil status (a running engine answers)', value: status.ms, unit: 'ms', target: '< 300', note: status.range });
    } finally {
      engine.kill('SIGTERM');
      await engine.exited;
    }

    if (skipped(rows, 'cli', probeUnavailable(), 'vigil run: SIGTERM to exit')) return;
    const stops: number[] = [];
    const exits: string[] = [];
    for (let i = 0; i < 3; i++) {
      const run = start([cli, 'run', '--config', config]);
      await waitUntil('the probe connected', () => run.stderr().includes('"probe connected"'), 60_000);
      const t0 = process.hrtime.bigint();
      run.kill('SIGTERM');
      const { code } = await run.exited;
      stops.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const exited = /"code":(\w+),"signal":(\w+|"\w+"),"msg":"probe exited"/.exec(run.stderr());
      const killed = run.stderr().includes('did not stop in time');
      exits.push(`${code === 0 ? '' : `vigil run exit ${code}, `}probe ${killed ? 'killed after the grace period' : exited ? `exited ${exited[1]}${exited[2] === 'null' ? '' : ` by ${exited[2]}`}` : 'exit not logged'}`);
    }
    stops.sort((a, b) => a - b);
    rows.push({
      bench: 'cli',
      metric: 'vigil run: SIGTERM to exit, probe detached',
      value: median(stops),
      unit: 'ms',
      target: '< 1,000',
      note: `${stops.map((s) => Math.round(s)).join(', ')} ms; ${[...new Set(exits)].join('; ')}`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import('./lib/report.js');
  const rows: Row[] = [];
  await cliLatency(rows);
  printTable(rows);
}

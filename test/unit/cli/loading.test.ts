// Each `vigil` command loads what it needs, not the engine: loading the
// engine and the Kubernetes client made every command take 2 s (the wall
// times are bench/cli.ts's rows). Watched through a module-loading hook in
// the real CLI process.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const logLoads = `data:text/javascript,${encodeURIComponent(
  `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent("export async function load(url, context, next) { process.stderr.write('LOADED ' + url + '\\\\n'); return next(url, context); }"));`,
)}`;

/** The modules `vigil ARGS` loaded (paths relative to the repository, packages by name). */
function loaded(...args: string[]): Promise<string[]> {
  // An empty cache directory: `rules list` compiles, as on its first run.
  const cache = mkdtempSync(join(tmpdir(), 'vigil-cache-'));
  afterAll(() => rmSync(cache, { recursive: true, force: true }));
  const env = { ...process.env, XDG_CACHE_HOME: cache };
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', '--import', logLoads, 'src/cli/main.ts', ...args], { cwd: repo, env }, (_err, _stdout, stderr) => {
      const urls = stderr.split('\n').filter((l) => l.startsWith('LOADED file://')).map((l) => l.slice('LOADED file://'.length));
      resolve(urls.map((u) => (u.includes('/node_modules/') ? u.replace(/^.*\/node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1') : u.replace(repo, ''))));
    });
  });
}

const engine = (mods: string[]): string[] => mods.filter((m) => m === 'src/engine.ts' || m.startsWith('src/cluster/') || m === '@kubernetes/client-node');

describe('what a vigil command loads', () => {
  it('--version: the command table and nothing else of src/', async () => {
    const mods = await loaded('--version');
    expect(mods).toContain('src/cli/main.ts');
    expect(mods.filter((m) => m.startsWith('src/') && !m.startsWith('src/cli/') && m !== 'src/version.ts')).toEqual([]);
  }, 30_000);

  it('status: the control block of the config and the control client, not the engine, the config schema or grpc-js', async () => {
    // Whether or not an engine answers at the default socket, the command has loaded what it needs.
    const dir = mkdtempSync(join(tmpdir(), 'vigil-status-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'vigil.yaml');
    writeFileSync(config, `control: { listen: unix://${dir}/control.sock }\n`);
    const mods = await loaded('status', '--config', config);
    expect(mods).toContain('src/config/control.ts');
    expect(mods).toContain('src/control/client.ts');
    expect(engine(mods)).toEqual([]);
    // The whole file's schema (zod) and grpc-js with its proto loader were two thirds of status's start time.
    expect(mods.filter((m) => ['zod', '@grpc/grpc-js', '@grpc/proto-loader', 'src/config/schema.ts', 'src/config/load.ts'].includes(m))).toEqual([]);
  }, 30_000);

  it('rules list: the rule compiler, not the engine', async () => {
    const mods = await loaded('rules', 'list');
    expect(mods).toContain('src/detect/rules/ruleset.ts');
    expect(engine(mods)).toEqual([]);
  }, 30_000);
});

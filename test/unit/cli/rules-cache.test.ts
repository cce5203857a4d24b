// `vigil rules list` from its cache: never stale, never trusting a damaged
// entry, and, when warm, not loading the rule compiler (the point of it).
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vigil-rules-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cache = join(dir, 'cache');
const rules = join(dir, 'local.yaml');
const config = join(dir, 'vigil.yaml');
writeFileSync(config, `rules: { builtin: true, files: [${rules}] }\n`);

const logLoads = `data:text/javascript,${encodeURIComponent(
  `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent("export async function load(url, context, next) { process.stderr.write('LOADED ' + url + '\\\\n'); return next(url, context); }"));`,
)}`;

function list(): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', '--import', logLoads, 'src/cli/main.ts', 'rules', 'list', '--config', config], { cwd: repo, env: { ...process.env, XDG_CACHE_HOME: cache } }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? Number((err as { code?: number }).code ?? 1) : 0 });
    });
  });
}

const rule = (name: string): string => `- rule: ${name}\n  desc: d\n  condition: evt.type = execve and proc.name = nc\n  output: "%proc.name"\n  priority: WARNING\n`;
const compilerLoaded = (stderr: string): boolean => /LOADED \S*src\/detect\/rules\/compiler\.ts/.test(stderr);

describe('vigil rules list and its cache', () => {
  it('lists from the cache while nothing changed, and follows a changed file at once', async () => {
    writeFileSync(rules, rule('Local netcat'));
    const cold = await list();
    expect(cold.code).toBe(0);
    expect(cold.stdout).toMatch(/^warning\s+Local netcat\s+\[exec\]/m);
    expect(compilerLoaded(cold.stderr)).toBe(true);
    expect(readdirSync(join(cache, 'vigil', 'rules-list')).filter((f) => f.endsWith('.json'))).toHaveLength(1);

    const warm = await list();
    expect(warm.stdout.replace(/^LOADED.*\n/gm, '')).toBe(cold.stdout.replace(/^LOADED.*\n/gm, ''));
    expect(compilerLoaded(warm.stderr)).toBe(false);

    writeFileSync(rules, rule('Renamed netcat'));
    const changed = await list();
    expect(changed.stdout).toMatch(/Renamed netcat/);
    expect(changed.stdout).not.toMatch(/Local netcat/);
  }, 60_000);

  it('reports a broken file from the cache as it did when compiled: the error and exit status 1', async () => {
    writeFileSync(rules, '- rule: Broken\n  condition: evt.type = \n  output: x\n  priority: WARNING\n  desc: d\n');
    const first = await list();
    const second = await list();
    for (const r of [first, second]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`${rules.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+`));
    }
    expect(compilerLoaded(second.stderr)).toBe(false);
  }, 60_000);

  it('ignores a damaged entry and rebuilds it', async () => {
    writeFileSync(rules, rule('Local netcat'));
    await list();
    const entries = join(cache, 'vigil', 'rules-list');
    for (const f of readdirSync(entries)) writeFileSync(join(entries, f), '{"rules": "not a listing"');
    const r = await list();
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Local netcat/);
    expect(compilerLoaded(r.stderr)).toBe(true);
  }, 60_000);
});

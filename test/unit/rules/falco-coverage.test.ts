// scripts/falco-coverage.ts, run as a user runs it on a directory of rules
// files: Falco's stable file (loaded first, as Falco does) and Vigil's own
// file of Falco features, copied into a temporary directory.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { Coverage } from '../../../scripts/falco-coverage.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const run = promisify(execFile);

describe('scripts/falco-coverage.ts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-coverage-'));
  copyFileSync(join(repo, 'test/fixtures/falco/falco_rules.yaml'), join(dir, 'falco_rules.yaml'));
  copyFileSync(join(repo, 'test/fixtures/rules/falco-features.yaml'), join(dir, 'a-features.yaml'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints each file and the total as JSON: loaded, would run, skipped with reasons; rule names only on request', async () => {
    const tsx = join(repo, 'node_modules/.bin/tsx');
    const { stdout } = await run(tsx, ['scripts/falco-coverage.ts', dir, '--json', '--label', 'test'], { cwd: repo });
    const c = JSON.parse(stdout) as Coverage;
    expect(c.label).toBe('test');
    expect(c.errors).toEqual([]);
    // falco_rules.yaml first, whatever the names sort to.
    expect(c.files.map((f) => f.file)).toEqual(['falco_rules.yaml', 'a-features.yaml']);
    const [stable, features] = c.files;
    expect(stable).toMatchObject({ rules: 25, disabled: 0 });
    expect(stable!.loaded).toBeGreaterThanOrEqual(17);
    expect(stable!.loaded + stable!.skipped).toBe(25);
    expect(stable!.reasons.reduce((n, r) => n + r.rules, 0)).toBe(stable!.skipped);
    expect(features).toMatchObject({ rules: 14, loaded: 13, skipped: 1, runs: 13, percent: 92.8 });
    expect(features!.reasons).toEqual([{ reason: "its condition cannot match while the list 'feature_template_namespaces' is empty (a template: fill it to use the rule)", rules: 1 }]);
    expect(c.total).toMatchObject({ rules: 39, runs: stable!.runs + 13 });
    expect(features!.notRunning).toBeUndefined();
    const named = JSON.parse((await run(tsx, ['scripts/falco-coverage.ts', dir, '--json', '--rules'], { cwd: repo })).stdout) as Coverage;
    expect(named.files[1]!.notRunning).toEqual([{ rule: 'Template left empty', reason: features!.reasons[0]!.reason, enabled: true }]);
  }, 60_000);
});

// `vigil rules check` as a user runs it: exit status, errors with
// file:line:col on stderr, counts and skip reasons on stdout.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../support/kernel.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vigil-cli-rules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function vigil(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: repo }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('vigil rules check', () => {
  it('exits 1 and names file, line and column of each error', async () => {
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, '- rule: Bad\n  desc: d\n  condition: evt.type = execve and proc.name in (a, b\n  output: o\n  priority: loud\n- rule: Undef\n  desc: d\n  condition: evt.type = open and nope\n  output: o\n  priority: INFO\n');
    const r = await vigil('rules', 'check', f);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${f}:5:13: error: rule 'Bad': unknown priority 'loud'`);
    expect(r.stderr).toContain(`${f}:8:34: error: rule 'Undef': undefined macro 'nope'`);
    expect(r.stderr).toContain('the rules cannot load');
  }, 30_000);

  it('exits 0 for a file that loads, with counts, skip reasons and <NA> output fields', async () => {
    const f = join(dir, 'good.yaml');
    writeFileSync(f, [
      '- rule: Runs', '  desc: d', '  condition: evt.type = execve and proc.name = nc', '  output: "nc %proc.name tty=%proc.sname"', '  priority: INFO',
      '- rule: Needs tty', '  desc: d', '  condition: evt.type = execve and proc.sname != 0', '  output: o', '  priority: INFO',
      '- rule: Off', '  desc: d', '  condition: evt.type = execve', '  output: o', '  priority: INFO', '  enabled: false',
    ].join('\n'));
    const r = await vigil('rules', 'check', f);
    expect(r.stderr.replace(/npm warn[^\n]*\n/g, '')).toBe('');
    expect(r.code).toBe(0);
    const why = "field 'proc.sname' is not available in Vigil: the process tree does not know session ids";
    expect(r.stdout).toContain(`${f}:8:36: warning: rule 'Needs tty' skipped: ${why}`);
    expect(r.stdout).toContain(`${f}: 3 rules: 1 loaded, 1 skipped, 1 disabled (1 would run if enabled); 2 of 3 run or would (66.6%)`);
    expect(r.stdout).toContain(`  skipped 1: ${why}\n`);
    expect(r.stdout).toContain('output fields Vigil does not have (printed <NA>): proc.sname (1)');
  }, 30_000);

  it("prints counts per file and the skip reasons grouped, for Falco's stable ruleset and a file of Vigil's own", async () => {
    const off = join(dir, 'off.yaml');
    writeFileSync(off, ['- rule: Off and needs tty', '  desc: d', '  condition: evt.type = execve and proc.sname != 0', '  output: o', '  priority: INFO', '  enabled: false'].join('\n'));
    const files = [join(repo, 'test/fixtures/falco/falco_rules.yaml'), join(repo, 'test/fixtures/rules/falco-features.yaml'), off];
    const r = await vigil('rules', 'check', '-q', ...files);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    for (const [i, f] of files.entries()) {
      expect(lines.some((l) => l.startsWith(`${f}: ${[25, 14, 1][i]} rules: `))).toBe(true);
    }
    expect(lines).toContain(`${files[1]}: 14 rules: 13 loaded, 1 skipped, 0 disabled; 13 of 14 run or would (92.8%)`);
    const all = lines.find((l) => l.startsWith('all files: 40 rules: '));
    expect(all).toMatch(/; (\d+) of 40 run or would \([\d.]+%\)$/);
    // A disabled rule that would not run either says so.
    expect(r.stdout).toContain("  skipped 1: field 'proc.sname' is not available in Vigil: the process tree does not know session ids [disabled]\n");
  }, 30_000);
});

describe('vigil rules list', () => {
  it('lists the rules a config loads, with their event types and tags', async () => {
    const r = await vigil('rules', 'list', '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { rules: { name: string; priority: string; types: string[]; tags: string[] }[]; skipped: unknown[] };
    expect(out.rules.length).toBeGreaterThanOrEqual(30);
    expect(out.rules.find((x) => x.name === 'Shell spawned in a container')).toMatchObject({ priority: 'notice', types: ['exec'] });
    expect(out.skipped).toEqual([]);
  }, 30_000);
});

describe('the running engine', () => {
  it('reloads its rules on SIGHUP, and keeps them when the new file is broken', async () => {
    const rules = join(dir, 'hup.yaml');
    const rule = (name: string): string => `- rule: ${name}\n  desc: d\n  condition: evt.type = execve and proc.name = ${name}\n  output: o\n  priority: INFO\n`;
    writeFileSync(rules, rule('first'));
    const config = join(dir, 'engine.yaml');
    writeFileSync(config, [
      `engine: { listen: "unix://${dir}/engine.sock" }`,
      `control: { listen: "unix://${dir}/control.sock" }`,
      `stateDir: ${dir}/state`,
      'sinks: []',
      `rules: { builtin: false, files: [${rules}], watch: false }`,
    ].join('\n'));
    const engine = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'engine', '--config', config], { cwd: repo, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    engine.stderr.on('data', (d) => (log += d));
    try {
      await waitFor('the engine to run', () => log.includes('vigil running'), 20_000);
      expect(log).toContain('rules loaded: 1 of 1 running');
      writeFileSync(rules, rule('first') + rule('second'));
      engine.kill('SIGHUP');
      await waitFor('the reload', () => log.includes('rules loaded: 2 of 2 running'), 10_000);
      writeFileSync(rules, '- rule: broken\n  condition: (\n');
      engine.kill('SIGHUP');
      await waitFor('the failed reload', () => log.includes('rules reload failed: keeping the previous rules'), 10_000);
      expect(log).toContain(`${rules}:`);
    } finally {
      engine.kill('SIGTERM');
      await new Promise((r) => engine.once('exit', r));
    }
  }, 60_000);
});

// `vigil rules check` as a user runs it: exit status, errors with
// file:line:col on stderr, counts and skip reasons on stdout.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

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
      '- rule: Runs', '  desc: d', '  condition: evt.type = execve and proc.name = nc', '  output: "nc %proc.name tty=%proc.tty"', '  priority: INFO',
      '- rule: Needs tty', '  desc: d', '  condition: evt.type = execve and proc.tty != 0', '  output: o', '  priority: INFO',
      '- rule: Off', '  desc: d', '  condition: evt.type = execve', '  output: o', '  priority: INFO', '  enabled: false',
    ].join('\n'));
    const r = await vigil('rules', 'check', f);
    expect(r.stderr.replace(/npm warn[^\n]*\n/g, '')).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${f}:8:36: warning: rule 'Needs tty' skipped: field 'proc.tty' is not available in Vigil`);
    expect(r.stdout).toContain(`${f}: 3 rules: 1 loaded, 1 skipped, 1 disabled`);
    expect(r.stdout).toContain("  skipped 1: field 'proc.tty' is not available in Vigil");
    expect(r.stdout).toContain('output fields Vigil does not have (printed <NA>): proc.tty (1)');
  }, 30_000);
});

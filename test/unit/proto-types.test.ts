// The TypeScript types of the wire and control messages (src/probe/wire.ts,
// src/control/messages.ts) are generated from proto/ and committed: this
// fails when one of them no longer matches its .proto (regenerate with
// `npx tsx scripts/proto-types.ts`).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generate, TARGETS } from '../../scripts/proto-types.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

describe('types generated from proto/', () => {
  it.each(TARGETS.map((t) => [t.out, t] as const))('%s matches its .proto', (_out, t) => {
    expect(readFileSync(join(repo, t.out), 'utf8')).toBe(generate(t));
  });

  it('follows a change to a .proto: a field added there is a field of the type', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-proto-'));
    try {
      cpSync(join(repo, 'proto'), dir, { recursive: true });
      const file = join(dir, 'vigil/v1/control.proto');
      writeFileSync(file, readFileSync(file, 'utf8').replace('message KillRequest {\n  uint32 pid = 1;', 'message KillRequest {\n  uint32 pid = 1;\n  int32 signal_number = 2; // which signal'));
      const control = TARGETS.find((t) => t.out === 'src/control/messages.ts')!;
      const text = generate(control, dir);
      expect(text).toContain('export interface KillRequest {\n  pid: number;\n  /** which signal */\n  signalNumber: number;\n}');
      expect(text).not.toBe(readFileSync(join(repo, control.out), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// The decoder's start-up warm-up (src/ingest/warm.ts) only prevents
// deoptimisations if its made-up batches reach every branch a real probe's
// events take: events of every type, none rejected (a rejected event
// leaves the rest of its kind's fields unread), and the fields that are
// set decoded as set.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../../src/model/event.js';
import { messageType } from '../../../src/rpc/proto.js';
import { warmDecoder } from '../../../src/ingest/warm.js';

describe('decoder warm-up', () => {
  it('decodes events of every type, each kind with its fields and without, none rejected', () => {
    const r = warmDecoder();
    expect(r.rejected).toEqual([]);
    expect([...r.types].sort()).toEqual([...EVENT_TYPES].sort());
    // Every oneof member: three variants of values, and once empty; and the probe's usual open (PATH_RAW_SAME).
    expect(r.events).toBe(messageType('Event').oneofs['kind']!.fieldsArray.length * 4 + 1);
  });

  // V8's own account, from a node of its own (test/fixtures/decoder-jit.ts): the decoder optimised over a
  // build's usual events, then events of kinds and sizes not met since (a 40-word command line, root's
  // capabilities, a chmod, a connect, an accept's local end...).
  const jit = (warm: boolean): { before: string[]; after: string[]; result: { sameShape: boolean } } => {
    const fixture = fileURLToPath(new URL('../../fixtures/decoder-jit.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--single-threaded', '--allow-natives-syntax', '--trace-opt', '--trace-deopt', '--import', 'tsx', fixture, ...(warm ? [] : ['--no-warm'])], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    const at = lines.indexOf('--- rare events');
    expect(at).toBeGreaterThan(0);
    const decoder = (l: string): boolean => l.includes('<JSFunction event ');
    return { before: lines.slice(0, at).filter(decoder), after: lines.slice(at).filter(decoder), result: JSON.parse(lines.filter(Boolean).at(-1)!) };
  };

  it('keeps the optimised decoder through kinds and sizes of events it meets first after start', () => {
    const { before, after, result } = jit(true);
    expect(before.some((l) => /completed (compiling|optimizing)/.test(l))).toBe(true);
    expect(after.filter((l) => l.includes('bailout'))).toEqual([]);
    // And its Events keep the shape the server's writes give them (a float time): no Event moved at each write.
    expect(result.sameShape).toBe(true);
  }, 120_000);

  it('is what keeps it: without the warm-up, the first rare event throws the optimised decoder away', () => {
    const { before, after } = jit(false);
    expect(before.some((l) => /completed (compiling|optimizing)/.test(l))).toBe(true);
    expect(after.some((l) => l.includes('bailout'))).toBe(true);
  }, 120_000);
});

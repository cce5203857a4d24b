// The profile store writes in the background: what changes while a write
// is in flight is written after it, flush() and close() leave the newest
// profile on disk, and a restart reads back what was written.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toDocument } from '../../../src/detect/profile/policy.js';
import { Profile } from '../../../src/detect/profile/profile.js';
import { ProfileStore } from '../../../src/detect/profile/store.js';
import { execEvent } from '../../support/events.js';
import { silentLogger } from '../../../src/log.js';

const W = { key: 'named:web', name: 'web', kind: 'named', namespace: '' };

function exec(p: Profile, exe: string): void {
  const e = execEvent({ path: exe, argv: [exe] });
  p.observe(e, '', true);
}

describe('profile store', () => {
  const dirs: string[] = [];
  const stateDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'vigil-store-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('writes what changed during a write after it, and flush() waits for the newest', async () => {
    const dir = stateDir();
    const store = new ProfileStore(dir, silentLogger(), 5);
    const p = new Profile();
    const render = () => toDocument(p, W, 'learn');
    exec(p, '/usr/bin/first');
    store.markDirty(W.key, render);
    // Let the timer start the first write, then change the profile while it runs.
    await new Promise((r) => setTimeout(r, 10));
    exec(p, '/usr/bin/second');
    store.markDirty(W.key, render);
    await store.flush();
    const files = readdirSync(join(dir, 'profiles')).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(1);
    const doc = JSON.parse(readFileSync(join(dir, 'profiles', files[0]!), 'utf8')) as { spec: { processes: { exe: string }[] } };
    expect(doc.spec.processes.map((x) => x.exe)).toEqual(['/usr/bin/first', '/usr/bin/second']);
    // No temporary file left behind.
    expect(readdirSync(join(dir, 'profiles')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await store.close();
  });

  it('close() writes what is pending, and a new store reads it back', async () => {
    const dir = stateDir();
    const store = new ProfileStore(dir, silentLogger(), 60_000);
    const p = new Profile();
    exec(p, '/usr/bin/only');
    store.markDirty(W.key, () => toDocument(p, W, 'monitor'));
    await store.close();
    const back = new ProfileStore(dir, silentLogger()).loadAll();
    expect(back).toHaveLength(1);
    expect(back[0]!.spec.mode).toBe('monitor');
    expect(back[0]!.spec.processes.map((x) => x.exe)).toEqual(['/usr/bin/only']);
  });
});

// Remembered file answers (verdicts.ts): profiles decide exactly as they
// do without them, while they learn, when a reviewed policy replaces one,
// and past the table's bound; and in a running engine (real gRPC from a
// synthetic probe) each workload's answers follow its own profile.
import { afterEach, describe, expect, it } from 'vitest';
import type { Event } from '../../../src/model/event.js';
import { fromDocument, toDocument } from '../../../src/detect/profile/policy.js';
import { DEFAULT_LIMITS, Profile } from '../../../src/detect/profile/profile.js';
import { FileVerdicts, MAX_PATHS } from '../../../src/detect/profile/verdicts.js';
import { FakeCgroupMount } from '../../support/cgroup.js';
import { TestEngine } from '../../support/engine.js';
import { waitFor } from '../../support/kernel.js';
import { SyntheticProbe } from '../../support/synthetic-probe.js';
import { INTRUSIONS, javaWindow, nginxWindow, postgresWindow, rng, type Window } from './fixtures.js';
import { makeEvent } from '../../support/events.js';

const O_WRONLY = 1;
const O_CREAT = 0o100;

/**
 * An intern-slot hint as the decoder gives one, but from a table of 16
 * slots: most paths share their slot with others, so answers found by slot
 * are checked through collisions.
 */
function hint(path: string): number {
  return path ? (path.length * 7 + path.charCodeAt(path.length - 1)) & 15 : -1;
}

function fileEvent(type: Event['type'], path: string, flags = 0, path2 = ''): Event {
  return makeEvent(type, { pid: 10, uid: 33, path, path2, flags, result: 3, pathKey: hint(path) });
}

/** A profile remembering its answers in `verdicts`, and its twin asking its sets every time. */
class Twin {
  fast: Profile;
  plain: Profile;
  constructor(
    private readonly verdicts: FileVerdicts,
    readonly slot: number,
  ) {
    this.fast = this.withSlot(new Profile());
    this.plain = new Profile();
  }

  withSlot(p: Profile): Profile {
    p.slot = this.slot;
    return p;
  }

  observe(e: Event, learn: boolean): void {
    const want = this.plain.observe(e, '', learn);
    const got = this.fast.observe(e, '', learn, this.verdicts);
    expect(got, `${e.type} ${e.path} ${e.path2} flags ${e.flags} learn ${learn}`).toEqual(want);
  }

  /** `vigil policy apply` of a document: both take the same reviewed profile. */
  apply(doc: ReturnType<typeof toDocument>): void {
    this.fast = this.withSlot(fromDocument(doc, DEFAULT_LIMITS));
    this.plain = fromDocument(doc, DEFAULT_LIMITS);
  }
}

describe('remembered file answers', () => {
  it('decide as the profile does, while learning, monitoring and after a policy is applied', () => {
    const verdicts = new FileVerdicts();
    const windows: ((seed: number) => Window)[] = [nginxWindow, postgresWindow, javaWindow];
    const twins = Array.from({ length: 12 }, () => new Twin(verdicts, verdicts.newSlot()));
    const r = rng(5);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
    let deviations = 0;
    for (let round = 1; round <= 6; round++) {
      const byTwin = twins.map((_, i) => windows[i % 3]!(round));
      for (let n = 0; n < 6000; n++) {
        const i = Math.floor(r() * twins.length);
        const t = twins[i]!;
        const w = byTwin[i]!;
        // Early rounds mostly learn; later ones mostly monitor, with now and then something learned.
        const learn = r() < (round <= 2 ? 0.9 : 0.05);
        const k = r();
        const e =
          k < 0.45 ? fileEvent('open', pick(w.read), 0)
          : k < 0.75 ? fileEvent('open', pick(w.write), O_WRONLY | O_CREAT)
          : k < 0.8 ? fileEvent('unlink', pick(w.write))
          : k < 0.85 ? fileEvent('rename', pick(w.write), 0, pick(w.write))
          : k < 0.9 ? fileEvent('open', pick(INTRUSIONS), r() < 0.5 ? 0 : O_WRONLY)
          : fileEvent('open', pick(byTwin[(i + 1) % twins.length]!.read), 0); // another workload's file
        t.observe(e, learn);
        if (!learn && t.plain.observe(e, '', false)) deviations++;
      }
      // A reviewed policy (one workload's profile as exported, less what it learned last) replaces another one.
      const from = twins[round % twins.length]!;
      const to = twins[(round + 5) % twins.length]!;
      to.apply(toDocument(from.plain, { key: 'named:x', name: 'x', kind: 'named', namespace: '' }, 'monitor'));
      // New workloads: past 32 slots every path's words grow (and none found by slot may be the old ones).
      for (let k = 0; k < 5; k++) twins.push(new Twin(verdicts, verdicts.newSlot()));
    }
    // The runs held both answers: what the profiles cover, and what is new.
    expect(deviations).toBeGreaterThan(1000);
  });

  it('never answer from before the profile learned the path', () => {
    const verdicts = new FileVerdicts();
    const p = new Profile();
    p.slot = verdicts.newSlot();
    const e = fileEvent('open', '/srv/app/config.yaml');
    expect(p.observe(e, '', false, verdicts)?.kind).toBe('new-file-read');
    expect(p.observe(e, '', false, verdicts)?.kind).toBe('new-file-read');
    expect(p.observe(e, '', true, verdicts)?.kind).toBe('new-file-read'); // learned now
    expect(p.observe(e, '', false, verdicts)).toBeNull();
    // A write of a file only read is still new; learning it makes it known.
    const w = fileEvent('open', '/srv/app/config.yaml', O_WRONLY);
    expect(p.observe(w, '', false, verdicts)?.kind).toBe('new-file-write');
    p.observe(w, '', true, verdicts);
    expect(p.observe(w, '', false, verdicts)).toBeNull();
  });

  it('never answer for a profile that replaced another in the same slot', () => {
    const verdicts = new FileVerdicts();
    const slot = verdicts.newSlot();
    const learned = new Profile();
    learned.slot = slot;
    const e = fileEvent('open', '/srv/app/config.yaml');
    learned.observe(e, '', true, verdicts);
    expect(learned.observe(e, '', false, verdicts)).toBeNull();
    const reviewed = fromDocument(toDocument(new Profile(), { key: 'named:x', name: 'x', kind: 'named', namespace: '' }, 'monitor'), DEFAULT_LIMITS);
    reviewed.slot = slot;
    expect(reviewed.observe(e, '', false, verdicts)?.kind).toBe('new-file-read');
  });

  it('keep workloads apart, and stay right past the bound on paths', () => {
    const verdicts = new FileVerdicts();
    const a = new Twin(verdicts, verdicts.newSlot());
    const b = new Twin(verdicts, verdicts.newSlot());
    for (let i = 0; i < MAX_PATHS + 500; i++) {
      const e = fileEvent('open', `/data/${i % 7 === 0 ? 'seven' : 'other'}/f-${i}`);
      if (i % 2 === 0) a.observe(e, true);
      a.observe(e, false);
      b.observe(e, false);
      expect(verdicts.size).toBeLessThanOrEqual(MAX_PATHS);
    }
    // a learned half of them (collapsed into patterns as it went), b none.
    expect(a.plain.reads.size).toBeGreaterThan(0);
    expect(b.plain.reads.size).toBe(0);
  });
});

describe('remembered file answers in the engine', () => {
  let fakeMount: FakeCgroupMount | undefined;
  let t: TestEngine | undefined;
  let probe: SyntheticProbe | undefined;
  afterEach(async () => {
    await probe?.close();
    await t?.stop();
    fakeMount?.remove();
  });

  it('follow learning, mode changes and an applied policy, per workload', async () => {
    fakeMount = new FakeCgroupMount();
    const id: Record<string, number> = {};
    for (const d of ['shop/a', 'shop/b']) id[d] = fakeMount.add(d);
    t = await TestEngine.start({ sinks: [], workloads: [{ name: 'a', cgroup: '/shop/a' }, { name: 'b', cgroup: '/shop/b' }] }, { cgroupMount: fakeMount.dir });
    probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`);
    const anomalies: string[] = [];
    t.engine.onAlert((al) => {
      if (al.source === 'profile') anomalies.push(al.message);
    });
    let sent = 0;
    const read = async (cg: string, path: string): Promise<void> => {
      probe!.sendBatch([{ pid: 10, ppid: 1, comm: 'app', cgroupId: id[cg]!, open: { path, flags: 0, mode: 0, result: 3 } }]);
      sent++;
      await waitFor('event', () => t!.events.length === sent);
    };
    await read('shop/a', '/srv/a.conf');
    await read('shop/b', '/srv/b.conf');
    const [a, b] = [t.engine.workloads.find('a')!, t.engine.workloads.find('b')!];
    for (const w of [a, b]) expect((await t.engine.profiles.changeMode(w, 'monitor')).ok).toBe(true);
    for (let i = 0; i < 3; i++) await read('shop/a', '/srv/a.conf');
    expect(anomalies).toEqual([]);
    await read('shop/b', '/srv/a.conf');
    await read('shop/b', '/srv/a.conf');
    expect(anomalies).toEqual(['b: reads a new file /srv/a.conf', 'b: reads a new file /srv/a.conf']);
    // b learns it; back in monitor mode it is known.
    expect((await t.engine.profiles.changeMode(b, 'learn')).ok).toBe(true);
    await read('shop/b', '/srv/a.conf');
    expect((await t.engine.profiles.changeMode(b, 'monitor')).ok).toBe(true);
    await read('shop/b', '/srv/a.conf');
    expect(anomalies).toHaveLength(2);
    // A reviewed policy for a that lists only b.conf: a's own file is new again, b.conf is not.
    const doc = t.engine.profiles.export('a')[0]!;
    doc.spec.files.read = ['/srv/b.conf'];
    await t.engine.profiles.apply([doc]);
    await read('shop/a', '/srv/a.conf');
    await read('shop/a', '/srv/b.conf');
    expect(anomalies.slice(2)).toEqual(['a: reads a new file /srv/a.conf']);
  });
});

// The built-in rules on set*id calls: a process making one of its user ids
// (or group ids) root that was not (real, effective, saved or file system,
// judged by the ids before and after the call) is raised; root setting uid
// or gid 0 again, as make, shells and daemons do all the time, a daemon
// started by root taking back the root it dropped for a request, and a
// refused call are not.
import { describe, expect, it } from 'vitest';
import { formatOutput } from '../../../src/detect/rules/output.js';
import { buildRuleSet, builtinFiles } from '../../../src/detect/rules/ruleset.js';
import { setidMore, type Event } from '../../../src/model/event.js';
import { World } from './support.js';
import { type EventFields } from '../../support/events.js';

const RULE = 'Privileges raised to root with setuid';

/** Real, effective, saved and file system uid. */
type Uids = [number, number, number, number];

describe(`built-in rule: ${RULE}`, () => {
  const set = buildRuleSet(builtinFiles());
  const rule = set.rules.find((r) => r.name === RULE)!;
  const fires = (w: World, e: Event): boolean => rule.condition.byType.get(e.type)?.(e, w.x) ?? false;
  /** A set*id call with the caller's uids before and after it (the gids all 0); `after` null: a probe that does not say. */
  const call = (w: World, call: string, id: number, before: Uids, after: Uids | null, result = 0, extra: EventFields = {}): Event =>
    w.event('setid', {
      call, id, result, uid: before[0], gid: 0, euid: before[1], suid: before[2], fsuid: before[3], egid: 0, sgid: 0, fsgid: 0,
      idsAfter: after && { uid: after[0], euid: after[1], suid: after[2], fsuid: after[3], gid: 0, egid: 0, sgid: 0, fsgid: 0 },
      ...extra,
    });
  const helper: Uids = [1000, 1000, 0, 1000]; // a set-uid helper that dropped its effective uid and kept root as its saved one
  const root: Uids = [0, 0, 0, 0];

  it('fires for each uid made root that was not, and says what changed', () => {
    const w = new World();
    // seteuid(0), setuid(0), setreuid(-1, 0): the effective (and so file system) uid back to root.
    for (const c of ['setuid', 'setreuid', 'setresuid']) expect(fires(w, call(w, c, 0, helper, [1000, 0, 0, 0])), c).toBe(true);
    // setresuid(0, -1, -1): only the real uid, which a later setuid(0) or an exec's capabilities build on.
    const real = call(w, 'setresuid', -1, helper, [0, 1000, 0, 1000]);
    expect(fires(w, real)).toBe(true);
    expect(formatOutput(rule.output, real, w.x).output).toMatch(/^Privileges raised to root \| call=setresuid uid_asked="<NONE>" uid=1000->0 euid=1000->1000 suid=0->0 fsuid=1000->1000 process=app /);
    // setresuid(-1, -1, 0) by a process with CAP_SETUID: only the saved uid.
    expect(fires(w, call(w, 'setresuid', -1, [1000, 1000, 1000, 1000], [1000, 1000, 0, 1000]))).toBe(true);
    // setfsuid(0) that took: it returns the old fsuid.
    const fs = call(w, 'setfsuid', 0, helper, [1000, 1000, 0, 0], 1000);
    expect(fires(w, fs)).toBe(true);
    expect(formatOutput(rule.output, fs, w.x).output).toContain(' fsuid=1000->0 ');
    // A set-uid root program making its real uid root too (setuid(0) with euid 0): the shell it runs keeps root.
    expect(fires(w, call(w, 'setuid', 0, [1000, 0, 0, 0], root))).toBe(true);
  });

  it("stays quiet for root's no-op calls, refused calls, drops, the login tools, the gid calls and ids not reported", () => {
    const w = new World();
    for (const c of ['setuid', 'setreuid', 'setresuid', 'setfsuid']) expect(fires(w, call(w, c, 0, root, root)), c).toBe(false);
    // setfsuid(0) refused to uid 1000: no error, its old fsuid returned, nothing changed.
    expect(fires(w, call(w, 'setfsuid', 0, [1000, 1000, 1000, 1000], [1000, 1000, 1000, 1000], 1000))).toBe(false);
    expect(fires(w, call(w, 'setuid', 0, [1000, 1000, 1000, 1000], [1000, 1000, 1000, 1000], -1))).toBe(false);
    expect(fires(w, call(w, 'setresuid', 1000, root, [1000, 1000, 1000, 1000]))).toBe(false);
    expect(fires(w, call(w, 'setresuid', -1, root, [0, 1000, 0, 1000]))).toBe(false);
    expect(fires(w, call(w, 'setresuid', 0, helper, [1000, 0, 0, 0], 0, { pid: 200, tid: 200, comm: 'sudo' }))).toBe(false);
    expect(fires(w, w.event('setid', { call: 'setgid', id: 0, result: 0, euid: 1000, egid: 1000, idsAfter: { uid: 0, euid: 1000, suid: 0, fsuid: 1000, gid: 0, egid: 0, sgid: 0, fsgid: 0 } }))).toBe(false);
    // From a probe that does not read the ids after the call: nothing to judge by.
    expect(fires(w, call(w, 'setresuid', 0, helper, null))).toBe(false);
  });

  it('stays quiet for a daemon started by root taking back the root it dropped, and fires for the same calls by anyone else', () => {
    const w = new World();
    // smbd, sshd, postfix: real and saved uid root, effective (and so file system) uid the client's, then seteuid(0).
    const serving: Uids = [0, 65534, 0, 65534];
    for (const c of ['setuid', 'setreuid', 'setresuid']) expect(fires(w, call(w, c, 0, serving, root)), c).toBe(false);
    // nfs-ganesha: only the file system uid per request, then setfsuid(0) (it returns the old fsuid).
    expect(fires(w, call(w, 'setfsuid', 0, [0, 0, 0, 65534], root, 65534))).toBe(false);
    // A root-started daemon that had dropped its saved uid too takes it back through its real uid.
    expect(fires(w, call(w, 'setresuid', 0, [0, 65534, 65534, 65534], root))).toBe(false);
    // The same calls by a process whose real uid is not root: a set-uid root program run by nobody.
    const setuidProgram: Uids = [65534, 65534, 0, 65534];
    for (const c of ['setuid', 'setreuid', 'setresuid']) expect(fires(w, call(w, c, 0, setuidProgram, [65534, 0, 0, 0])), c).toBe(true);
    expect(fires(w, call(w, 'setfsuid', 0, setuidProgram, [65534, 65534, 0, 0], 65534))).toBe(true);
    // Such a program making its real uid root too (setresuid(0, -1, -1) with its effective uid root): raised.
    expect(fires(w, call(w, 'setresuid', -1, [65534, 0, 0, 0], root))).toBe(true);
  });
});

const GID_RULE = 'Group raised to root with setgid';

/** Real, effective, saved and file system gid. */
type Gids = [number, number, number, number];

describe(`built-in rule: ${GID_RULE}`, () => {
  const set = buildRuleSet(builtinFiles());
  const rule = set.rules.find((r) => r.name === GID_RULE)!;
  const fires = (w: World, e: Event): boolean => rule.condition.byType.get(e.type)?.(e, w.x) ?? false;
  /** A set*id call with the caller's gids before and after it (the uids all 1000); `after` null: a probe that does not say. */
  const call = (w: World, call: string, id: number, before: Gids, after: Gids | null, result = 0, extra: EventFields = {}): Event =>
    w.event('setid', {
      call, id, result, uid: 1000, gid: before[0], euid: 1000, suid: 1000, fsuid: 1000, egid: before[1], sgid: before[2], fsgid: before[3],
      idsAfter: after && { uid: 1000, euid: 1000, suid: 1000, fsuid: 1000, gid: after[0], egid: after[1], sgid: after[2], fsgid: after[3] },
      ...extra,
    });
  const helper: Gids = [1000, 1000, 0, 1000]; // a set-gid helper that dropped its effective gid and kept root as its saved one
  const root: Gids = [0, 0, 0, 0];
  const user: Gids = [1000, 1000, 1000, 1000];

  it('is there, with the uid rule\'s priority and tags', () => {
    const uid = set.rules.find((r) => r.name === RULE)!;
    expect(rule).toBeDefined();
    expect(rule.priority).toBe(uid.priority);
    expect(rule.tags).toEqual(uid.tags);
  });

  it('fires for each gid made root that was not, and says what changed', () => {
    const w = new World();
    // setegid(0), setgid(0), setregid(-1, 0): the effective (and so file system) gid back to root.
    for (const c of ['setgid', 'setregid', 'setresgid']) expect(fires(w, call(w, c, 0, helper, [1000, 0, 0, 0])), c).toBe(true);
    const all = call(w, 'setresgid', 0, helper, root);
    expect(fires(w, all)).toBe(true);
    expect(formatOutput(rule.output, all, w.x).output).toMatch(/^Group raised to root \| call=setresgid gid_asked=root gid=1000->0 egid=1000->0 sgid=0->0 fsgid=1000->0 process=app /);
    // setresgid(0, -1, -1): only the real gid.
    const real = call(w, 'setresgid', -1, helper, [0, 1000, 0, 1000]);
    expect(fires(w, real)).toBe(true);
    expect(formatOutput(rule.output, real, w.x).output).toContain(' gid_asked="<NONE>" gid=1000->0 egid=1000->1000 ');
    // setresgid(-1, -1, 0) by a process with CAP_SETGID: only the saved gid.
    expect(fires(w, call(w, 'setresgid', -1, user, [1000, 1000, 0, 1000]))).toBe(true);
    // setfsgid(0) that took: it returns the old fsgid.
    const fs = call(w, 'setfsgid', 0, helper, [1000, 1000, 0, 0], 1000);
    expect(fires(w, fs)).toBe(true);
    expect(formatOutput(rule.output, fs, w.x).output).toContain(' fsgid=1000->0 ');
  });

  it("stays quiet for root's no-op calls, refused calls, drops, the login tools, the uid calls and ids not reported", () => {
    const w = new World();
    for (const c of ['setgid', 'setregid', 'setresgid', 'setfsgid']) expect(fires(w, call(w, c, 0, root, root)), c).toBe(false);
    // setfsgid(0) refused to gid 1000: no error, its old fsgid returned, nothing changed.
    expect(fires(w, call(w, 'setfsgid', 0, user, user, 1000))).toBe(false);
    expect(fires(w, call(w, 'setgid', 0, user, user, -1))).toBe(false);
    expect(fires(w, call(w, 'setresgid', 1000, root, user))).toBe(false);
    expect(fires(w, call(w, 'setresgid', -1, root, [0, 1000, 0, 1000]))).toBe(false);
    expect(fires(w, call(w, 'setresgid', 0, helper, root, 0, { pid: 200, tid: 200, comm: 'sudo' }))).toBe(false);
    // Only the gid calls are judged (setuid is the uid rule's).
    expect(fires(w, call(w, 'setuid', 0, helper, root))).toBe(false);
    // From a probe that does not read the ids after the call: nothing to judge by.
    expect(fires(w, call(w, 'setresgid', 0, helper, null))).toBe(false);
    // A process already effectively root (a root daemon started with another group) taking the root group gains nothing.
    const rootDaemon = call(w, 'setresgid', 0, helper, root);
    setidMore(rootDaemon).euid = 0;
    expect(fires(w, rootDaemon)).toBe(false);
  });

  it('stays quiet for a daemon started by root taking back the root group it dropped, even before its uid', () => {
    const w = new World();
    // Real and saved gid root, effective and file system gid the client's, effective uid still the client's
    // (the uids of `call` are 1000): setegid(0) through the real gid, before seteuid(0).
    const serving: Gids = [0, 65534, 0, 65534];
    for (const c of ['setgid', 'setregid', 'setresgid']) expect(fires(w, call(w, c, 0, serving, root)), c).toBe(false);
    expect(fires(w, call(w, 'setfsgid', 0, [0, 0, 0, 65534], root, 65534))).toBe(false);
    // Real uid root (started by root), effective uid dropped, real gid not root but root kept as the saved gid:
    // it can take effective root back, and with it any group.
    const rootStarted = call(w, 'setresgid', 0, helper, root);
    rootStarted.uid = 0;
    expect(fires(w, rootStarted)).toBe(false);
    // The same regaining by a set-gid root program run by a user (real uid and gid the user's): raised.
    expect(fires(w, call(w, 'setresgid', 0, [65534, 65534, 0, 65534], [65534, 0, 0, 0]))).toBe(true);
  });
});

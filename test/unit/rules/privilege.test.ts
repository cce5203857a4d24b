// The built-in rule on set*id calls: a process taking root back (its
// effective uid not root before the call) is raised; root setting uid 0
// again, as make, shells and daemons do all the time, is not.
import { describe, expect, it } from 'vitest';
import { formatOutput } from '../../../src/detect/rules/output.js';
import { buildRuleSet, builtinFiles } from '../../../src/detect/rules/ruleset.js';
import type { Event } from '../../../src/model/event.js';
import { World } from './support.js';

const RULE = 'Privileges raised to root with setuid';

describe(`built-in rule: ${RULE}`, () => {
  const set = buildRuleSet(builtinFiles());
  const rule = set.rules.find((r) => r.name === RULE)!;
  const fires = (w: World, e: Event): boolean => rule.condition.byType.get(e.type)?.(e, w.x) ?? false;
  /** A set*id call by a process with real uid 0 and the given effective and saved uids before it. */
  const call = (w: World, call: string, id: number, euid: number, suid = 0, result = 0): Event =>
    w.event('setid', { call, id, result, uid: 0, gid: 0, euid, suid, egid: 0, sgid: 0 });

  it('fires for a process whose effective uid was not root taking uid 0 back, and says what it was', () => {
    const w = new World();
    for (const c of ['setuid', 'setreuid', 'setresuid', 'setfsuid']) expect(fires(w, call(w, c, 0, 1000)), c).toBe(true);
    const e = call(w, 'setresuid', 0, 1000);
    expect(formatOutput(rule.output, e, w.x).output).toMatch(/^Privileges raised to root \| call=setresuid uid_asked=root prev_euid=1000 prev_suid=0 process=app /);
  });

  it("stays quiet for root's no-op setuid(0) and setresuid(0,0,0), a failed attempt, a drop, and the gid calls", () => {
    const w = new World();
    for (const c of ['setuid', 'setreuid', 'setresuid', 'setfsuid']) expect(fires(w, call(w, c, 0, 0)), c).toBe(false);
    expect(fires(w, call(w, 'setuid', 0, 1000, 1000, -1))).toBe(false);
    expect(fires(w, call(w, 'setresuid', 1000, 0))).toBe(false);
    expect(fires(w, call(w, 'setresuid', -1, 1000))).toBe(false);
    expect(fires(w, w.event('setid', { call: 'setgid', id: 0, result: 0, euid: 1000, egid: 1000 }))).toBe(false);
  });
});

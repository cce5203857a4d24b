// Which cgroups are Vigil's own, and what a policy, quarantine or kill over
// them would reach: a directory stands in for the cgroup v2 tree (its
// cgroup.procs files written by the test), as no kernel is needed here.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VigilCgroups } from '../../src/enrich/vigil-cgroups.js';
import { FakeCgroupMount } from '../support/cgroup.js';

let cgroups: FakeCgroupMount;
let mount: string;
const id = (p: string) => cgroups.id(p);
beforeAll(() => {
  cgroups = new FakeCgroupMount(['pod/engine', 'pod/probe', 'podx', 'app']);
  mount = cgroups.dir;
  writeFileSync(join(mount, 'cgroup.procs'), '1\n2\n');
  writeFileSync(join(mount, 'pod/engine/cgroup.procs'), '4242\n');
  writeFileSync(join(mount, 'pod/probe/cgroup.procs'), '77\n');
});
afterAll(() => cgroups.remove());

const pathOf = (cgroupId: number) => (['pod/engine', 'pod/probe', 'podx', 'app'].find((p) => id(p) === cgroupId) ? `/${['pod/engine', 'pod/probe', 'podx', 'app'].find((p) => id(p) === cgroupId)}` : null);

describe('Vigil\'s own cgroups', () => {
  it('covers a root that is one of them or above one, not a sibling sharing a name prefix', () => {
    const v = new VigilCgroups({ mount, pathOf, selfCgroup: '0::/pod/engine\n', selfPid: 4242 });
    expect(v.engine).toEqual({ who: 'the engine (pid 4242)', id: id('pod/engine'), path: '/pod/engine' });
    expect(v.covering([{ id: id('pod'), path: '/pod' }])).toBe("it holds Vigil's own processes: the engine (pid 4242) runs in cgroup /pod/engine");
    expect(v.covering([{ id: id('pod/engine'), path: '/pod/engine' }])).not.toBe('');
    expect(v.covering([{ id: 1, path: '/' }])).not.toBe('');
    expect(v.covering([{ id: id('podx'), path: '/podx' }, { id: id('app'), path: '/app' }])).toBe('');
  });

  it('finds its place in the mounted tree when its cgroup namespace is private (/proc/self/cgroup says "/")', () => {
    const v = new VigilCgroups({ mount, pathOf, selfCgroup: '0::/\n', selfPid: 4242 });
    expect(v.engine?.path).toBe('/pod/engine');
    expect(v.covering([{ id: id('app'), path: '/app' }])).toBe('');
    // Not listed anywhere: said, not guessed.
    const lost = new VigilCgroups({ mount, pathOf, selfCgroup: '0::/\n', selfPid: 999 });
    expect(lost.engine).toBeNull();
    expect(lost.describe()).toEqual(["the engine's own cgroup: /proc/self/cgroup names one (/) whose cgroup.procs under " + mount + ' does not list pid 999, and no cgroup there does']);
  });

  it('adds each connected probe by the cgroup its Hello names; refuses kills of their pids and of processes in their cgroups, not of the root cgroup\'s', () => {
    const v = new VigilCgroups({ mount, pathOf, selfCgroup: '0::/\n', selfPid: 1 });
    expect(v.engine?.path).toBe('/');
    v.probeConnected('s1', 77, id('pod/probe'), false);
    expect(v.covering([{ id: id('pod'), path: '/pod' }])).toBe("it holds Vigil's own processes: the probe (pid 77) runs in cgroup /pod/probe");
    expect(v.process(500, id('pod/probe'))).toBe("it runs in Vigil's own cgroup /pod/probe (the probe (pid 77))");
    // The engine runs in the root cgroup here: a process there is not Vigil's by that alone.
    expect(v.process(500, v.engine!.id)).toBe('');
    expect(v.process(500, id('app'))).toBe('');
    // A probe gone: its cgroup is no longer Vigil's.
    v.forgetProbesExcept(new Set());
    expect(v.covering([{ id: id('pod'), path: '/pod' }])).toBe('');
  });
});

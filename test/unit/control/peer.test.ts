// Who called, from the kernel's record of connects to the control socket.
import { describe, expect, it } from 'vitest';
import { identifyCaller, type CallFacts, type ConnectWitness, type ObservedConnect } from '../../../src/control/peer.js';

/** The witness's contract (src/control/witness.ts) over a fixed list of connects. */
function witness(seen: ObservedConnect[]): ConnectWitness {
  return {
    watching: () => true,
    find: async (pid, sinceMs) => {
      const mine = pid === null ? [] : seen.filter((c) => c.pid === pid);
      return mine.length ? mine : seen.filter((c) => c.at >= sinceMs && !c.taken);
    },
  };
}

const call = (claimedPid: number | null): CallFacts => ({ unix: true, peer: 'unix', claimedPid, certificate: null, localPort: 0 });

describe('the caller of a control call', () => {
  it('is the connect the kernel saw, once per connect: a second client lying about its pid is not confused with the first', async () => {
    const now = Date.now();
    // Two clients within the recent window: a CLI (pid 4100, uid 65534) and one that claims to be pid 1.
    const w = witness([
      { pid: 4100, uid: 65534, exe: '/usr/bin/node', at: now - 3000 },
      { pid: 4200, uid: 0, exe: '/usr/bin/node', at: now - 10 },
    ]);
    const first = await identifyCaller(call(4100), w, now);
    expect(first).toMatchObject({ verifiedBy: 'kernel', pid: 4100, uid: 65534, note: '' });
    const second = await identifyCaller(call(1), w, now);
    expect(second).toMatchObject({ verifiedBy: 'kernel', pid: 4200, uid: 0 });
    expect(second.note).toMatch(/says it is pid 1/);
  });

  it('is not guessed when two untaken connects could be it', async () => {
    const now = Date.now();
    const w = witness([
      { pid: 4300, uid: 0, exe: '/usr/bin/node', at: now - 20 },
      { pid: 4400, uid: 1000, exe: '/usr/bin/node', at: now - 10 },
    ]);
    const c = await identifyCaller(call(1), w, now);
    expect(c.verifiedBy).toBe('claimed');
    expect(c.note).toMatch(/2 processes connected at once \(pids 4300, 4400\)/);
  });
});

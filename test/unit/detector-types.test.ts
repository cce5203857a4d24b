// The engine hands each event to the detectors that look at its type: one
// that names its types (Detector.types) sees those alone, one that does
// not sees every event, in the order the detectors were added. Real gRPC
// from a synthetic probe into a running engine.
import { afterEach, expect, it } from 'vitest';
import { SyntheticProbe } from '../support/synthetic-probe.js';
import { TestEngine } from '../support/engine.js';
import { waitFor } from '../support/kernel.js';

let t: TestEngine | undefined;
let probe: SyntheticProbe | undefined;
afterEach(async () => {
  await probe?.close();
  await t?.stop();
});

it('calls a detector that names its event types for those alone, and one that names none for all, in order', async () => {
  t = await TestEngine.start({ sinks: [] });
  probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`);
  const seen: string[] = [];
  t.engine.addDetector({ name: 'connects', types: ['connect', 'exit'], onEvent: (e) => seen.push(`connects ${e.type}`) });
  t.engine.addDetector({ name: 'all', onEvent: (e) => seen.push(`all ${e.type}`) });
  probe.sendBatch([
    { pid: 10, ppid: 1, cgroupId: 1, open: { path: '/etc/hosts', flags: 0, mode: 0, result: 3 } },
    { pid: 10, ppid: 1, cgroupId: 1, connect: { remote: { family: 2, address: Buffer.from([10, 0, 0, 1]), port: 443 }, protocol: 6, result: 0 } },
    { pid: 10, ppid: 1, cgroupId: 1, fork: { childPid: 11 } },
    { pid: 10, ppid: 1, cgroupId: 1, exit: { exitCode: 0, signal: 0 } },
  ]);
  await waitFor('events', () => t!.events.length === 4);
  expect(seen).toEqual(['all open', 'connects connect', 'all connect', 'all fork', 'connects exit', 'all exit']);
});

// Alert delivery wired into a real engine: what a detector raises reaches
// the configured sinks, and what a stopped engine could not deliver goes out
// after the next start.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alertFor } from '../../../src/model/alert.js';
import { emptyEvent } from '../../../src/model/event.js';
import { TestEngine } from '../../support/engine.js';
import { waitFor } from '../../support/kernel.js';
import { Receiver, WEB } from './support.js';

const SECRET = 'engine-test-hmac-key-0123456789';
let receiver: Receiver | null = null;
let engines: TestEngine[] = [];

afterEach(async () => {
  for (const t of engines.reverse()) await t.stop();
  engines = [];
  await receiver?.down();
  receiver = null;
});

function raiseShell(t: TestEngine, n: number): string {
  const e = emptyEvent('open');
  Object.assign(e, { time: Date.now(), pid: 900 + n, ppid: 1, comm: 'cat', nodeName: t.config.nodeName, path: '/etc/shadow', result: 3 });
  e.workload = WEB;
  const a = alertFor(e, t.engine.tree, { source: 'rule', rule: 'Read sensitive file untrusted', priority: 'warning', message: `cat read /etc/shadow (${n})`, tags: ['T1555'] });
  t.engine.raise(a);
  return a.id;
}

describe('alert delivery in the engine', () => {
  it('delivers raised alerts to every sink, and after a restart what the endpoint missed', async () => {
    receiver = await Receiver.start(SECRET);
    await receiver.down();
    const dir = mkdtempSync(join(tmpdir(), 'vigil-engine-alerts-'));
    const alertsFile = join(dir, 'alerts.jsonl');
    const overrides = {
      sinks: [
        { type: 'webhook' as const, url: receiver.url('/siem'), secret: SECRET },
        { type: 'file' as const, path: alertsFile },
      ],
      alerts: { foldWindowMs: 0, retry: { initialMs: 5, maxMs: 50 } },
    };
    const t = await TestEngine.start(overrides, { dir });
    engines.push(t);
    const ids = [1, 2, 3].map((n) => raiseShell(t, n));
    expect(readFileSync(alertsFile, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(ids);
    await waitFor('failed attempts', () => t.engine.alertDelivery!.stats().sinks[0]!.failedAttempts > 0);
    await t.stop({ keepDir: true });
    engines = [];

    const again = await TestEngine.start(overrides, { dir });
    engines.push(again);
    expect(again.engine.alertDelivery!.stats().sinks[0]!.queuedAlerts).toBe(3);
    await receiver.up();
    const later = raiseShell(again, 4);
    await waitFor('all four alerts delivered', () => again.engine.alertDelivery!.stats().sinks[0]!.delivered === 4);
    expect(receiver.received.map((r) => r.json.id)).toEqual([...ids, later]);
    expect(receiver.received.every((r) => r.bodySignatureOk)).toBe(true);
    expect(receiver.received[0]!.json).toMatchObject({ rule: 'Read sensitive file untrusted', node: 'test-node', event: { type: 'open', path: '/etc/shadow' }, workload: { name: 'web' } });
    expect(again.engine.alertDelivery!.stats()).toMatchObject({ received: 1, emitted: 1, sinks: [{ id: 'webhook-1', delivered: 4, queuedAlerts: 0 }, { id: 'file-1', delivered: 1 }] });
  });
});

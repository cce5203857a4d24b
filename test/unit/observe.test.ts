// /metrics, /healthz and /readyz of a real engine over HTTP, fed by a
// synthetic probe over real gRPC.
import { afterEach, describe, expect, it } from 'vitest';
import { alertFor } from '../../src/model/alert.js';
import { useFakeCgroupMount } from '../support/cgroup-hooks.js';
import { TestEngine } from '../support/engine.js';
import { waitFor } from '../support/kernel.js';
import { ktimeNow, SyntheticProbe } from '../support/synthetic-probe.js';

const cgroups = useFakeCgroupMount(['app']);

let t: TestEngine;
let probe: SyntheticProbe | undefined;
afterEach(async () => {
  await probe?.close();
  probe = undefined;
  await t?.stop();
});

const get = async (path: string): Promise<{ status: number; text: string }> => {
  const r = await fetch(`http://127.0.0.1:${t.engine.metricsPort}${path}`);
  return { status: r.status, text: await r.text() };
};

describe('metrics and health', () => {
  it('is not ready without a probe, ready once one streams, and counts what it streams', async () => {
    const secretUrl = 'http://127.0.0.1:9/hooks/T0KEN-in-the-url-s3cr3t';
    t = await TestEngine.start(
      { sinks: [{ type: 'webhook', id: 'soc', url: secretUrl, secret: 'hmac-key-that-must-not-leak' }] },
      { cgroupMount: cgroups.dir },
    );
    expect(await get('/readyz')).toEqual({ status: 503, text: 'no probe is connected\n' });
    expect((await get('/healthz')).status).toBe(200); // within the grace period

    probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`);
    probe.sendBatch([
      { pid: 7, cgroupId: cgroups.id.app, exec: { filename: '/bin/sh', exe: '/usr/bin/dash', argv: ['sh'], cwd: '/' } },
      { pid: 7, cgroupId: cgroups.id.app, open: { path: '/etc/hosts', flags: 0, result: 3 } },
    ]);
    probe.send({ loss: { ringbufFull: 42, inflightFull: 0, decodeErrors: 0, queueFull: 3, pathTruncated: 0, eventsTotal: 2, packetsLost: 0 } });
    await waitFor('events and the loss report', () => t.events.length === 2 && t.engine.status().probes[0]?.losses.ringbufFull === 42);
    expect(await get('/readyz')).toEqual({ status: 200, text: 'probe connected, events arriving\n' });

    t.engine.raise(alertFor(t.events[0]!, t.engine.tree, { source: 'rule', rule: 'Test rule', priority: 'warning', message: 'm' }));
    const m = (await get('/metrics')).text;
    expect(m).toContain('vigil_events_total{type="exec"} 1');
    expect(m).toContain('vigil_events_total{type="open"} 1');
    expect(m).toContain('vigil_events_lost_total{place="kernel_ring_buffer"} 42');
    expect(m).toContain('vigil_events_lost_total{place="probe_queue"} 3');
    expect(m).toContain('vigil_probes_connected 1');
    expect(m).toContain('vigil_rule_hits_total{rule="Test rule"} 1');
    expect(m).toContain('vigil_alerts_total{source="rule",priority="warning"} 1');
    expect(m).toMatch(/vigil_alert_queue_alerts\{sink="soc",type="webhook"\} \d+/);
    expect(m).toContain('vigil_engine_process_resident_memory_bytes');
    // Sinks appear by id and type only.
    expect(m).not.toContain('T0KEN');
    expect(m).not.toContain('hmac-key');
  });

  it('samples the kernel → engine latency of 1 in 64 events into its histogram, every sample in by each scrape', async () => {
    t = await TestEngine.start({}, { cgroupMount: cgroups.dir });
    probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`);
    await waitFor('connected', () => t.engine.ingest.sessions().length === 1);
    // Stamped 3 ms ago by the kernel's clock: every sample lands above the 2 ms bucket.
    const send = (n: number): void => {
      const ktimeNs = ktimeNow() - 3e6;
      for (let i = 0; i < n; i += 64) {
        probe!.sendBatch(Array.from({ length: 64 }, () => ({ pid: 7, cgroupId: cgroups.id.app, ktimeNs, open: { path: '/etc/hosts', flags: 0, result: 3 } })));
      }
    };
    const histogram = async (): Promise<string[]> => (await get('/metrics')).text.split('\n').filter((l) => l.startsWith('vigil_event_latency_seconds'));
    send(64 * 5);
    await waitFor('320 events', () => t.events.length === 320);
    let h = await histogram();
    expect(h).toContain('vigil_event_latency_seconds_count 5');
    expect(h).toContain('vigil_event_latency_seconds_bucket{le="0.002"} 0');
    expect(h).toContain('vigil_event_latency_seconds_bucket{le="+Inf"} 5');
    send(64 * 3);
    await waitFor('512 events', () => t.events.length === 512);
    h = await histogram();
    expect(h).toContain('vigil_event_latency_seconds_count 8');
    expect(Number(h.find((l) => l.startsWith('vigil_event_latency_seconds_sum '))!.split(' ')[1])).toBeGreaterThanOrEqual(8 * 0.003);
  });

  it('fails /healthz when the probe has been gone too long, or sends no events', async () => {
    t = await TestEngine.start({ metrics: { listen: 'tcp://127.0.0.1:0', probeGoneSeconds: 1, maxEventGapSeconds: 1 } }, { cgroupMount: cgroups.dir });
    probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`);
    await waitFor('connected', () => t.engine.ingest.sessions().length === 1);
    // Connected, but silent: events have stopped.
    let health = await get('/healthz');
    for (let i = 0; i < 50 && health.status === 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      health = await get('/healthz');
    }
    expect(health.status).toBe(503);
    expect(health.text).toMatch(/^no events for \d+ s although a probe is connected\n$/);

    await probe.close();
    probe = undefined;
    await waitFor('probe gone', () => t.engine.ingest.sessions().length === 0);
    expect((await get('/readyz')).status).toBe(503);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await get('/healthz')).toMatchObject({ status: 503, text: expect.stringMatching(/^no probe for \d+ s\n$/) });
  });
});

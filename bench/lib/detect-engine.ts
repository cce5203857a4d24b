// The engine as bench/detect.ts measures it, loaded from any checkout of
// Vigil (its src/), so two versions can be measured side by side in one
// process (detect-ab.ts) or one under callgrind (detect-count.ts): built-in
// rules, a file sink, 300 workloads, 5,000 processes, profiles learned from
// the mix then in monitor mode; the mix's bytes from this checkout's
// generator, the same for every version.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Engine } from '../../src/engine.js';
import type { Event } from '../../src/model/event.js';
import type { ProbeSession } from '../../src/probe/session.js';
import { batchMessage, eventMix, snapshotMessage } from './event-mix.js';
import { fakeCgroupMount } from './fake-cgroups.js';

export interface DetectEngineOptions {
  /** Batches of 256 events learned from (seed 1) before monitor mode; detect.ts learns from 2,000. */
  learn: number;
  /** Batches of 256 events measured (seed 42). */
  batches: number;
  /** Mean events per process turn (event-mix.ts). */
  burst: number;
  /** The fields an open carries (event-mix.ts); default 'bench'. */
  openFields?: 'bench' | 'probe';
  /** How an open's numbers are encoded (event-mix.ts); default 'numbers', as the probe sends them. */
  openWire?: 'numbers' | 'fields';
  /**
   * The engine's clock (Date.now, performance.now, process.hrtime) made
   * to advance 1 ms per batch handed to it, not with the host's time: what
   * it does by the clock (alert folding windows, say) then depends on the
   * input alone, not on how fast the run went (detect-count.ts under
   * callgrind). Set for the whole process.
   */
  virtualClock?: boolean;
}

/** The virtual clock: Unix ms. */
let virtualMs = 1.7e12;

function useVirtualClock(): void {
  Date.now = () => virtualMs;
  performance.now = () => virtualMs - 1.7e12;
  const ns = (): bigint => BigInt(Math.round((virtualMs - 1.7e12) * 1e6));
  const hrtime = ((prev?: [number, number]): [number, number] => {
    const t = Number(ns());
    const now: [number, number] = [Math.floor(t / 1e9), t % 1e9];
    if (!prev) return now;
    const d = (now[0] - prev[0]) * 1e9 + now[1] - prev[1];
    return [Math.floor(d / 1e9), d % 1e9];
  }) as NodeJS.HRTime;
  hrtime.bigint = ns;
  process.hrtime = hrtime;
}

export interface DetectEngine {
  /** Decodes every measured batch and hands it to the engine, as the ingest server does. */
  pass(): void;
  events: number;
  /** The engine itself, its decoder as the ingest server uses it, and the measured batches' bytes (detect.ts times them stage by stage). */
  engine: Engine;
  decode(msg: Buffer): Event[];
  messages: Buffer[];
  session: ProbeSession;
  /** Alerts raised so far. */
  alerts(): number;
  stop(): Promise<void>;
}

const WORKLOADS = 300;
const PROCESSES = 5000;
const BATCH = 256;
// Fixed, not the clock: the same event times every run.
const BOOT_TO_UNIX_NS = 1.7e18;

export async function detectEngine(tree: string, o: DetectEngineOptions): Promise<DetectEngine> {
  if (o.virtualClock) useVirtualClock();
  const src = (p: string): string => pathToFileURL(join(tree, 'src', p)).href;
  const { parseConfig } = (await import(src('config/load.js'))) as typeof import('../../src/config/load.js');
  const { Engine } = (await import(src('engine.js'))) as typeof import('../../src/engine.js');
  const { decodeProbeMessage } = (await import(src('ingest/probe-message.js'))) as typeof import('../../src/ingest/probe-message.js');
  const { silentLogger } = (await import(src('log.js'))) as typeof import('../../src/log.js');
  const session = null as unknown as ProbeSession;
  const decode = (msg: Buffer): Event[] => {
    if (o.virtualClock) virtualMs += 1;
    const events = decodeProbeMessage(msg).batch!.events;
    for (const e of events) {
      e.time = (e.ktimeNs + BOOT_TO_UNIX_NS) / 1e6;
      e.nodeName = 'bench';
    }
    return events;
  };

  const { dir: cgDir, ids } = fakeCgroupMount(WORKLOADS);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  const config = parseConfig({
    engine: { listen: `unix://${dir}/engine.sock` },
    control: { listen: `unix://${dir}/control.sock` },
    stateDir: join(dir, 'state'),
    metrics: { listen: null },
    sinks: [{ type: 'file', path: join(dir, 'alerts.jsonl'), format: 'json' }],
  });
  const engine = new Engine(config, silentLogger(), { cgroupMount: cgDir });
  await engine.start();
  let alerts = 0;
  engine.onAlert(() => alerts++);
  const mix = (seed: number, batches: number) => ({ workloads: WORKLOADS, processes: PROCESSES, batchSize: BATCH, batches, cgroupIds: ids, seed, burst: o.burst, openFields: o.openFields, openWire: o.openWire });
  const snap = decodeProbeMessage(snapshotMessage(mix(1, 1))) as unknown as { snapshot: { processes: never[] } };
  engine.onSnapshot(session, snap.snapshot.processes, true);
  let seq = 0;
  for (const b of eventMix(mix(1, o.learn))) engine.onEvents(session, decode(batchMessage(++seq, b)));
  for (const w of engine.workloads.all().filter((w) => w.kind === 'cgroup')) {
    const r = await engine.profiles.changeMode(w, 'monitor');
    if (!r.ok) throw new Error(`${w.name}: ${r.error}`);
  }
  await new Promise((r) => setTimeout(r, 1500));
  const messages = eventMix(mix(42, o.batches)).map((b) => batchMessage(++seq, b));
  return {
    pass: () => {
      for (const m of messages) engine.onEvents(session, decode(m));
    },
    events: BATCH * o.batches,
    engine,
    decode,
    messages,
    session,
    alerts: () => alerts,
    stop: async () => {
      await engine.stop();
      rmSync(dir, { recursive: true, force: true });
      rmSync(cgDir, { recursive: true, force: true });
    },
  };
}

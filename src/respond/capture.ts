// Packet capture of a workload: the probe copies its packets (bounded snap
// length and count) and the engine writes them to a pcap file, bounded in
// time, packets and bytes. Captures together never use more than a disk
// cap: a capture that would pass it stops there and says so.
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkloadRegistry } from '../enrich/workloads.js';
import type { Workload } from '../model/workload.js';
import type { Logger } from '../log.js';
import type { WirePacket } from '../probe/wire.js';
import { PcapWriter } from './pcap.js';
import type { ProbeLink } from '../probe/link.js';

export interface CaptureOptions {
  seconds: number;
  maxPackets: number;
  maxBytes: number;
  snaplen: number;
}

export interface CaptureResult {
  ok: boolean;
  error: string;
  file: string;
  packets: number;
  bytes: number;
  /** Why it ended: time, packets, bytes, disk cap, stopped. */
  ended: string;
}

interface Running {
  id: number;
  workload: Workload;
  writer: PcapWriter;
  opts: CaptureOptions;
  /** The byte bound was lowered to what is left under the disk cap. */
  capBound: boolean;
  timer: NodeJS.Timeout;
  done: (r: CaptureResult) => void;
  finished: Promise<CaptureResult>;
}

export interface CapturesOptions {
  /** Capture files go to <stateDir>/captures. */
  stateDir: string;
  /** All capture files together; a capture stops when it would pass this. */
  diskCapBytes: number;
  registry: WorkloadRegistry;
  link: ProbeLink;
  log: Logger;
}

export class Captures {
  private readonly dir: string;
  private readonly diskCapBytes: number;
  private readonly registry: WorkloadRegistry;
  private readonly link: ProbeLink;
  private readonly log: Logger;
  private readonly running = new Map<number, Running>();
  private nextId = 1;
  /** Packets for a capture this engine no longer runs (after a restart), counted. */
  strayPackets = 0;

  constructor(opts: CapturesOptions) {
    this.dir = join(opts.stateDir, 'captures');
    this.diskCapBytes = opts.diskCapBytes;
    this.registry = opts.registry;
    this.link = opts.link;
    this.log = opts.log;
  }

  /** Bytes used by capture files on disk. */
  diskUsage(): number {
    try {
      return readdirSync(this.dir)
        .filter((f) => f.endsWith('.pcap'))
        .reduce((n, f) => n + statSync(join(this.dir, f)).size, 0);
    } catch {
      return 0;
    }
  }

  /** Starts a capture; resolves when it has started (or failed), with the promise of its end. */
  async start(w: Workload, opts: CaptureOptions): Promise<{ ok: boolean; error: string; file: string; finished?: Promise<CaptureResult> }> {
    const cgroups = this.registry.cgroupsOf(w.key);
    if (cgroups.length === 0) return { ok: false, error: `${w.name} has no cgroups on this node yet`, file: '' };
    if (this.link.can('capture') === false) return { ok: false, error: 'the probe on this node cannot capture (no cgroup v2)', file: '' };
    const used = this.diskUsage();
    if (used + 24 >= this.diskCapBytes) {
      return { ok: false, error: `capture disk cap reached (${used} of ${this.diskCapBytes} bytes used in ${this.dir}): delete old captures`, file: '' };
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const id = this.nextId++;
    const safe = w.name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+/, '').slice(0, 80) || 'workload';
    const file = join(this.dir, `${safe}-${new Date().toISOString().replace(/[:.]/g, '-')}-${id}.pcap`);
    const snaplen = Math.min(Math.max(opts.snaplen, 64), 1536);
    const writer = new PcapWriter(file, snaplen);
    let done!: (r: CaptureResult) => void;
    const finished = new Promise<CaptureResult>((r) => (done = r));
    const room = this.diskCapBytes - used;
    const run: Running = {
      id, workload: w, writer, opts: { ...opts, snaplen, maxBytes: Math.min(opts.maxBytes, room) }, capBound: room < opts.maxBytes,
      timer: setTimeout(() => void this.finish(id, 'time'), opts.seconds * 1000), done, finished,
    };
    this.running.set(id, run);
    const r = await this.link.send({ startCapture: { captureId: id, cgroups, snaplen, maxPackets: opts.maxPackets } });
    if (!r.ok) {
      clearTimeout(run.timer);
      this.running.delete(id);
      writer.close();
      return { ok: false, error: r.error, file: '' };
    }
    this.log.info({ workload: w.name, file, seconds: opts.seconds, maxPackets: opts.maxPackets }, 'packet capture started');
    return { ok: true, error: '', file, finished };
  }

  onPackets(packets: WirePacket[], bootToUnixNs: number): void {
    for (const p of packets) {
      const run = this.running.get(p.captureId);
      if (!run) {
        this.strayPackets++;
        continue;
      }
      if (run.writer.packets >= run.opts.maxPackets) continue;
      if (run.writer.bytes + 16 + p.data.length > run.opts.maxBytes) {
        void this.finish(run.id, run.capBound ? 'disk cap' : 'bytes');
        continue;
      }
      run.writer.write((p.ktimeNs + bootToUnixNs) / 1e6, p.data, p.len);
      if (run.writer.packets >= run.opts.maxPackets) void this.finish(run.id, 'packets');
    }
  }

  /** Ends a capture: the probe stops copying, the file is closed. */
  async finish(id: number, ended: string): Promise<CaptureResult | null> {
    const run = this.running.get(id);
    if (!run) return null;
    this.running.delete(id);
    clearTimeout(run.timer);
    const r = await this.link.send({ stopCapture: { captureId: id } });
    run.writer.close();
    const result: CaptureResult = {
      ok: true, error: r.ok ? '' : `the probe did not confirm the stop: ${r.error}`, file: run.writer.path,
      packets: run.writer.packets, bytes: run.writer.bytes, ended,
    };
    this.log.info({ workload: run.workload.name, file: result.file, packets: result.packets, ended }, 'packet capture finished');
    run.done(result);
    return result;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((id) => this.finish(id, 'stopped')));
  }
}

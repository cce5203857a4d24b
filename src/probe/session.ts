// One probe's connection: who it is, what it sent, what it lost, and the
// commands waiting for its acknowledgement.
import type { ServerDuplexStream, ServerWritableStream } from '@grpc/grpc-js';
import type { CommandResult } from '../model/result.js';
import type { WireCommandsRequest, WireEngineCommand, WireHello, WireLossReport, WireProbeMessage, WireUserFile } from './wire.js';

/** A command as the engine sends it: one kind set (the session numbers it). */
export type ProbeCommand = Omit<WireEngineCommand, 'id' | 'ackedSeq' | 'cmd'>;

/** What goes down the commands call: a numbered command, or (id 0) an acknowledgement of batches; proto3 leaves the rest unset. */
export type OutgoingCommand = Partial<WireEngineCommand> & { id: number };

/** The probe's Commands call (proto/vigil/v1/probe.proto): where commands and acknowledgements go. */
export type CommandsCall = ServerWritableStream<WireCommandsRequest, OutgoingCommand>;

/** A full batch is 256 events: the probe holds at most some 16K events for acknowledgement under load. */
const ACK_EVERY_BATCHES = 64;
/**
 * At low rates the probe holds a quarter second of batches. Not shorter:
 * each acknowledgement is a message down the stream that wakes the probe,
 * and at 20 ms a make -j2 under Vigil cost a quarter more probe and engine
 * CPU (bench/build-cost.ts, alternating runs).
 */
const ACK_WITHIN_MS = 250;
/**
 * And at once every this many events: the probe takes more than 1,024 of
 * them unacknowledged for an engine falling behind and shrinks the node's
 * budget (bpf/probe/fairness.h `backlog`), so an engine keeping pace must
 * never leave it that many, whatever the batch size (at 8,000 events/s in
 * small batches, 250 ms of them held a steady workload to its share).
 */
const ACK_EVERY_EVENTS = 512;

export const ZERO_LOSSES: WireLossReport = { ringbufFull: 0, decodeErrors: 0, queueFull: 0, pathTruncated: 0, eventsTotal: 0, inflightFull: 0, packetsLost: 0, deduplicated: 0, dnsDropped: 0, envTruncated: 0, cgroups: [] };

/** The node-wide loss counters alone, without the per-cgroup list (a report as decoded may carry more than its fields). */
export function lossCounters(l: WireLossReport): Omit<WireLossReport, 'cgroups'> {
  return { ringbufFull: l.ringbufFull, inflightFull: l.inflightFull, decodeErrors: l.decodeErrors, queueFull: l.queueFull, pathTruncated: l.pathTruncated, eventsTotal: l.eventsTotal, packetsLost: l.packetsLost, deduplicated: l.deduplicated, dnsDropped: l.dnsDropped, envTruncated: l.envTruncated };
}

/** A command's ack as the probe sent it: what was done, and the files a ReadUserFiles read. */
export type ProbeAnswer = CommandResult & { files?: WireUserFile[] };

export class ProbeSession {
  readonly connectedAt = Date.now();
  connected = true;
  /** The engine re-applied its policies here and the links earlier probes left pinned were released (bpf/probe/pinning.h). */
  previousPinsReleased = false;
  batches = 0;
  events = 0;
  batchGaps = 0;
  lastSeq = 0;
  lastBatchAt = 0;
  /** When the probe last sent anything (a batch, its loss counters every second, an ack): its heartbeat. */
  lastHeardAt = Date.now();
  losses: WireLossReport = { ...ZERO_LOSSES };
  snapshotDone = false;
  /** Batches the probe sent again after a reconnect that this engine had already processed. */
  duplicateBatches = 0;
  private ackedSeq = 0;
  private unackedEvents = 0;
  private ackTimer: NodeJS.Timeout | null = null;
  private nextCommandId = 1;
  private readonly pending = new Map<number, { resolve: (r: ProbeAnswer) => void; timer: NodeJS.Timeout }>();
  /** The probe's Commands call, once it joined; until then what would go down it is held (the probe opens it right after its hello). */
  private commands: CommandsCall | null = null;
  private held: OutgoingCommand[] = [];

  constructor(
    readonly hello: WireHello,
    private readonly stream: ServerDuplexStream<WireProbeMessage, unknown>,
  ) {}

  /** Commands sent and not answered yet (an answer, a timeout or the session's end settles one). */
  get awaiting(): number {
    return this.pending.size;
  }

  /** Whether the probe's Commands call has joined this stream. */
  get commandsJoined(): boolean {
    return this.commands !== null;
  }

  /** The probe's Commands call joins: what was held goes down it, in order. */
  joinCommands(call: CommandsCall): void {
    this.commands = call;
    for (const m of this.held) call.write(m);
    this.held = [];
  }

  private send(m: OutgoingCommand): void {
    if (this.commands) this.commands.write(m);
    else this.held.push(m);
  }

  get nodeName(): string {
    return this.hello.nodeName;
  }

  /** Sends a command; resolves with the probe's ack, or a failure if none comes in time. */
  command(cmd: ProbeCommand, timeoutMs = 5000): Promise<ProbeAnswer> {
    if (!this.connected) return Promise.resolve({ ok: false, error: 'probe is not connected', detail: '' });
    const id = this.nextCommandId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ ok: false, error: `no acknowledgement from the probe within ${timeoutMs} ms`, detail: '' });
      }, timeoutMs);
      this.pending.set(id, { resolve, timer });
      this.send({ id, ...cmd });
    });
  }

  acknowledge(id: number, ok: boolean, error: string, detail = '', files: WireUserFile[] = []): void {
    const p = this.pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(id);
    p.resolve(files.length ? { ok, error, detail, files } : { ok, error, detail });
  }

  /** Whether the probe can do this on its node (exec-kill, connect-refuse, write-kill, quarantine, capture, kill). */
  can(capability: string): boolean {
    return (this.hello.capabilities ?? []).includes(capability);
  }

  /**
   * Tells the probe which batches are processed, so it can let go of them:
   * at once every ACK_EVERY_BATCHES batches or ACK_EVERY_EVENTS events, otherwise within ACK_WITHIN_MS.
   */
  processed(seq: number, events = 0): void {
    this.unackedEvents += events;
    if (seq - this.ackedSeq >= ACK_EVERY_BATCHES || this.unackedEvents >= ACK_EVERY_EVENTS) return this.sendAck();
    this.ackTimer ??= setTimeout(() => this.sendAck(), ACK_WITHIN_MS);
  }

  private sendAck(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (!this.connected || this.lastSeq <= this.ackedSeq) return;
    this.ackedSeq = this.lastSeq;
    this.unackedEvents = 0;
    this.send({ id: 0, ackedSeq: this.lastSeq });
  }

  /** Ends both calls from the engine's side (engine shutdown). */
  hangUp(): void {
    this.sendAck();
    this.close();
    this.stream.end();
  }

  /** The session is over: its commands call ends, commands waiting for an answer fail. */
  close(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    this.connected = false;
    this.held = [];
    this.commands?.end();
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve({ ok: false, error: 'probe disconnected before acknowledging', detail: '' });
      this.pending.delete(id);
    }
  }
}

// The engine's end of the probe stream (ProbeService.Stream): checks each
// message, decodes event batches and hands them on. Anything rejected is
// counted and logged with its reason; the stream keeps serving.
import { Server, status as GrpcStatus, type ServerDuplexStream } from '@grpc/grpc-js';
import { MECHANISMS, type Event } from '../model/event.js';
import type { Logger } from '../log.js';
import { method } from '../rpc/proto.js';
import { bindServer, shutdownServer } from '../rpc/listen.js';
import { PROBE_RECEIVE_WINDOW, raiseReceiveWindow } from '../rpc/receive-window.js';
import type { TlsConfig } from '../config/schema.js';
import type { WireEngineCommand, WireLossReport, WirePacket, WireProbeMessage, WireProcessInfo, WireSelfCheck } from '../probe/wire.js';
import { decodeProbeMessage, MAX_BATCH_EVENTS, type DecodedBatch, type ProbeMessageIn } from './probe-message.js';
import { ProbeSession } from '../probe/session.js';

export { MAX_BATCH_EVENTS };

/** A batch's message bytes and each event's [start, end) in them, pairwise. */
export interface EventBytes {
  bytes: Uint8Array;
  ranges: number[];
}

/** What the rest of the engine does with a probe's messages. */
export interface IngestHandler {
  /** `wire`: where each event's bytes are in its message (keepEventBytes), for handing them on undecoded. */
  onEvents(session: ProbeSession, events: Event[], wire?: EventBytes): void;
  onSnapshot(session: ProbeSession, processes: WireProcessInfo[], last: boolean): void;
  onLoss(session: ProbeSession, previous: WireLossReport, current: WireLossReport): void;
  /** The probe's check of its own kernel state (about once a second). */
  onSelfCheck(session: ProbeSession, report: WireSelfCheck): void;
  onPackets(session: ProbeSession, packets: WirePacket[]): void;
  onConnect(session: ProbeSession): void;
  onDisconnect(session: ProbeSession): void;
  /** Batches missing by sequence number: the events in them were never seen. */
  onBatchGap(session: ProbeSession, missing: number): void;
}

export const probeStreamMethod = method<WireProbeMessage, WireEngineCommand>('ProbeService', 'Stream', 'ProbeMessage', 'EngineCommand', {
  request: true,
  response: true,
}, { fast: true });

/** Largest message accepted from a probe: far above a real batch, well below what would hurt. */
export const MAX_PROBE_MESSAGE_BYTES = 16 << 20;

export class IngestServer {
  private readonly server = new Server({
    'grpc.max_receive_message_length': MAX_PROBE_MESSAGE_BYTES,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc-node.flow_control_window': PROBE_RECEIVE_WINDOW,
  });
  private readonly live = new Set<ProbeSession>();
  /** Last batch sequence number per probe session id, across reconnects. */
  private readonly lastSeqBySession = new Map<string, number>();
  /** Last loss counters per probe session id: a reconnecting probe's cumulative counters are not new losses. */
  private readonly lastLossesBySession = new Map<string, WireLossReport>();
  malformedEvents = 0;
  rejectedStreams = 0;
  /** Events with strings or argv past the bounds, cut to them. */
  oversizedEvents = 0;
  boundPort = 0;
  private address: string | null = null;

  constructor(
    private readonly handler: IngestHandler,
    private readonly log: Logger,
  ) {
    // Probes' messages are decoded by hand: batches straight into Events (probe-message.ts).
    const serverMethod = { ...probeStreamMethod, requestDeserialize: decodeProbeMessage } as unknown as typeof probeStreamMethod;
    this.server.addService({ Stream: serverMethod }, { Stream: (call: ServerDuplexStream<WireProbeMessage, WireEngineCommand>) => this.serve(call) });
  }

  async listen(address: string, opts: { allowNonLoopback?: boolean; tls?: TlsConfig } = {}): Promise<void> {
    this.boundPort = await bindServer(this.server, address, opts);
    if (!raiseReceiveWindow(this.server, PROBE_RECEIVE_WINDOW)) {
      this.log.warn({ address }, 'cannot raise the HTTP/2 receive window with this grpc-js: probes wait for a window update every 64 KiB');
    }
    this.address = address;
    this.log.info({ address, port: this.boundPort || undefined }, 'listening for probes');
  }

  sessions(): ProbeSession[] {
    return [...this.live];
  }

  stop(): Promise<void> {
    for (const s of this.live) s.hangUp();
    return shutdownServer(this.server, this.address);
  }

  private serve(call: ServerDuplexStream<WireProbeMessage, WireEngineCommand>): void {
    let session: ProbeSession | null = null;
    const reject = (why: string): void => {
      this.rejectedStreams++;
      this.log.warn({ peer: call.getPeer() }, `probe stream rejected: ${why}`);
      call.emit('error', { code: GrpcStatus.INVALID_ARGUMENT, details: why });
      call.end();
    };

    call.on('data', (m: ProbeMessageIn) => {
      if (!session) {
        if (m.msg !== 'hello' || !m.hello) return reject(`first message is '${m.msg ?? 'empty'}', expected hello`);
        session = new ProbeSession(m.hello, call);
        const previous = this.lastSeqBySession.get(session.hello.sessionId);
        if (previous !== undefined) session.lastSeq = previous;
        session.losses = this.lastLossesBySession.get(session.hello.sessionId) ?? session.losses;
        this.live.add(session);
        this.log.info(
          {
            node: m.hello.nodeName, session: m.hello.sessionId, probePid: m.hello.probePid, hooks: m.hello.hooks.length, resumed: previous !== undefined,
            // Which mechanism stops each enforced operation on that node (vigil status says why not a stronger one).
            enforcement: Object.fromEntries((m.hello.enforcement ?? []).map((h) => [h.operation, MECHANISMS[h.mechanism] || 'none'])),
          },
          'probe connected',
        );
        this.handler.onConnect(session);
        return;
      }
      session.lastHeardAt = Date.now();
      switch (m.msg) {
        case 'batch':
          return this.onBatch(session, m.batch!);
        case 'snapshot':
          this.handler.onSnapshot(session, m.snapshot!.processes, m.snapshot!.last);
          if (m.snapshot!.last) session.snapshotDone = true;
          return;
        case 'loss': {
          const previous = session.losses;
          session.losses = m.loss!;
          this.handler.onLoss(session, previous, m.loss!);
          return;
        }
        case 'selfCheck':
          return this.handler.onSelfCheck(session, m.selfCheck!);
        case 'ack':
          return session.acknowledge(m.ack!.id, m.ack!.ok, m.ack!.error, m.ack!.detail);
        case 'packets':
          return this.handler.onPackets(session, m.packets!.packets);
        case 'hello':
          return reject('a second hello on one stream');
        default:
          this.log.warn({ node: session.nodeName }, 'probe sent an empty message; ignored');
      }
    });

    const finish = (): void => {
      if (!session || !session.connected) return;
      session.close();
      this.live.delete(session);
      this.lastSeqBySession.set(session.hello.sessionId, session.lastSeq);
      this.lastLossesBySession.set(session.hello.sessionId, session.losses);
      this.log.warn({ node: session.nodeName, session: session.hello.sessionId }, 'probe disconnected');
      this.handler.onDisconnect(session);
    };
    call.on('end', () => {
      finish();
      call.end();
    });
    call.on('error', finish);
    call.on('close', finish);
    call.on('cancelled', finish);
  }

  private onBatch(session: ProbeSession, batch: DecodedBatch): void {
    if (session.lastSeq && batch.seq <= session.lastSeq) {
      // Resent after a reconnect: processed already (acknowledged or not).
      session.duplicateBatches++;
      session.processed(session.lastSeq);
      return;
    }
    if (session.lastSeq && batch.seq > session.lastSeq + 1) {
      const missing = batch.seq - session.lastSeq - 1;
      session.batchGaps += missing;
      this.log.warn({ node: session.nodeName, missing, after: session.lastSeq }, 'batches missing from the probe stream');
      this.handler.onBatchGap(session, missing);
    }
    if (batch.seq > session.lastSeq) session.lastSeq = batch.seq;
    session.batches++;
    session.lastBatchAt = session.lastHeardAt;
    const { bootToUnixNs, nodeName } = session.hello;
    const { events } = batch;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      e.time = (e.ktimeNs + bootToUnixNs) / 1e6;
      e.nodeName = nodeName;
    }
    if (batch.excess) {
      this.malformedEvents += batch.excess;
      this.log.warn({ node: nodeName, seq: batch.seq, events: events.length + batch.rejected.length + batch.excess, kept: MAX_BATCH_EVENTS }, 'batch larger than any probe sends: the excess is rejected');
    }
    for (const reason of batch.rejected) {
      if (this.malformedEvents++ < 20 || this.malformedEvents % 10_000 === 0) {
        this.log.warn({ node: nodeName, seq: batch.seq, reason, total: this.malformedEvents }, 'malformed event rejected');
      }
    }
    for (const e of batch.oversized) {
      if (this.oversizedEvents++ < 20) {
        this.log.warn({ node: nodeName, seq: batch.seq, pid: e.pid, type: e.type, total: this.oversizedEvents }, 'event with strings past their bounds: cut to them');
      }
    }
    session.events += events.length;
    this.handler.onEvents(session, events, batch.bytes ? { bytes: batch.bytes, ranges: batch.ranges } : undefined);
    session.processed(batch.seq, events.length + batch.rejected.length + batch.excess);
  }
}

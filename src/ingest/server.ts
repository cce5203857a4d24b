// The engine's end of the probe's calls: ProbeService.Stream, whose
// messages it checks, decodes (event batches) and hands on, and
// ProbeService.Commands, paired with it by the token the stream's hello
// names, down which the session's commands and acknowledgements go.
// Anything rejected is counted and logged with its reason; the stream
// keeps serving.
import { Server, status as GrpcStatus, type ServerDuplexStream, type ServerWritableStream } from '@grpc/grpc-js';
import { MECHANISMS, type Event } from '../model/event.js';
import type { Logger } from '../log.js';
import { method } from '../rpc/proto.js';
import { bindServer, shutdownServer } from '../rpc/listen.js';
import { PROBE_RECEIVE_WINDOW, raiseReceiveWindow } from '../rpc/receive-window.js';
import type { TlsConfig } from '../config/schema.js';
import type { WireCommandsRequest, WireEngineCommand, WireLossReport, WirePacket, WireProbeMessage, WireProcessInfo, WireSelfCheck } from '../probe/wire.js';
import { decodeProbeMessage, MAX_BATCH_EVENTS, type DecodedBatch, type ProbeMessageIn } from './probe-message.js';
import { ProbeSession, type OutgoingCommand } from '../probe/session.js';
import { warmDecoderOnce } from './warm.js';
import { stampEvents } from './stamp.js';

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

export const probeCommandsMethod = method<WireCommandsRequest, WireEngineCommand>('ProbeService', 'Commands', 'CommandsRequest', 'EngineCommand', {
  request: false,
  response: true,
});

/**
 * How long a stream's hello and its Commands call wait for each other: the
 * probe opens Commands right after writing its hello, so this only ends a
 * probe that never does (one older than this engine, or broken).
 */
export const COMMANDS_JOIN_MS = 5000;

/** Largest message accepted from a probe: far above a real batch, well below what would hurt. */
export const MAX_PROBE_MESSAGE_BYTES = 16 << 20;

export class IngestServer {
  private readonly server = new Server({
    'grpc.max_receive_message_length': MAX_PROBE_MESSAGE_BYTES,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc-node.flow_control_window': PROBE_RECEIVE_WINDOW,
  });
  private readonly live = new Set<ProbeSession>();
  /** Live sessions by their hello's commands token, while their stream lasts; `end` ends the stream with an error. */
  private readonly byToken = new Map<string, { session: ProbeSession; end: (why: string) => void }>();
  /** Commands calls that came before their stream's hello, by token. */
  private readonly early = new Map<string, { call: ServerWritableStream<WireCommandsRequest, WireEngineCommand>; timer: NodeJS.Timeout }>();
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
    // Probes' messages reach serve() as their bytes, decoded there by hand (batches straight into Events: probe-message.ts),
    // so that a message that is not a ProbeMessage is refused saying why, and counted (grpc-js's own deserialising failure
    // ends the call with INTERNAL 'Error deserializing request' and tells the engine nothing).
    const serverMethod = { ...probeStreamMethod, requestDeserialize: (b: Buffer) => b } as unknown as typeof probeStreamMethod;
    this.server.addService(
      { Stream: serverMethod, Commands: probeCommandsMethod },
      {
        Stream: (call: ServerDuplexStream<WireProbeMessage, WireEngineCommand>) => this.serve(call),
        Commands: (call: ServerWritableStream<WireCommandsRequest, WireEngineCommand>) => this.serveCommands(call),
      },
    );
  }

  async listen(address: string, opts: { allowNonLoopback?: boolean; tls?: TlsConfig } = {}): Promise<void> {
    // Before the first probe's batches: its decoder's every branch seen once (warm.ts says why).
    warmDecoderOnce();
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
    for (const [token, e] of this.early) {
      clearTimeout(e.timer);
      e.call.end();
      this.early.delete(token);
    }
    return shutdownServer(this.server, this.address);
  }

  /**
   * A probe's Commands call: joins the live stream whose hello named its
   * token, or waits a little for that hello (the two calls race on the
   * connection). Its end ends the stream too: the probe is reconnecting.
   */
  private serveCommands(call: ServerWritableStream<WireCommandsRequest, WireEngineCommand>): void {
    const token = call.request.token;
    const refuse = (code: GrpcStatus, why: string): void => {
      this.rejectedStreams++;
      this.log.warn({ peer: call.getPeer() }, `probe commands call rejected: ${why}`);
      call.emit('error', { code, details: why });
    };
    if (!token) return refuse(GrpcStatus.INVALID_ARGUMENT, 'the commands call names no token (CommandsRequest.token)');
    const live = this.byToken.get(token);
    if (live) return this.join(live, call);
    if (this.early.has(token)) return refuse(GrpcStatus.ALREADY_EXISTS, 'a commands call with this token is already open');
    const timer = setTimeout(() => {
      this.early.delete(token);
      refuse(GrpcStatus.NOT_FOUND, `no probe stream said hello with this commands token within ${COMMANDS_JOIN_MS} ms`);
    }, COMMANDS_JOIN_MS);
    this.early.set(token, { call, timer });
    call.on('cancelled', () => {
      clearTimeout(timer);
      if (this.early.get(token)?.call === call) this.early.delete(token);
    });
  }

  private join(live: { session: ProbeSession; end: (why: string) => void }, call: ServerWritableStream<WireCommandsRequest, WireEngineCommand>): void {
    const { session } = live;
    if (session.commandsJoined) {
      this.rejectedStreams++;
      this.log.warn({ node: session.nodeName }, 'probe commands call rejected: its stream already has one');
      call.emit('error', { code: GrpcStatus.ALREADY_EXISTS, details: 'this stream already has a commands call' });
      return;
    }
    session.joinCommands(call as ServerWritableStream<WireCommandsRequest, OutgoingCommand>);
    // The probe cancels it when it reconnects or stops: the session is over.
    // Its stream gets a moment to end by itself: on a clean stop the probe
    // ends the stream first, and its last messages may still be in order behind.
    call.on('cancelled', () => setTimeout(() => live.end('the probe ended its commands call'), 1000));
  }

  private serve(call: ServerDuplexStream<WireProbeMessage, WireEngineCommand>): void {
    let session: ProbeSession | null = null;
    let token = '';
    let joinTimer: NodeJS.Timeout | null = null;
    let messages = 0;
    /** Once refused, what the probe still sends is not read (nor refused again). */
    let refused = false;
    const reject = (why: string, code = GrpcStatus.INVALID_ARGUMENT): void => {
      refused = true;
      this.rejectedStreams++;
      this.log.warn({ peer: call.getPeer() }, `probe stream rejected: ${why}`);
      call.emit('error', { code, details: why });
      call.end();
    };

    call.on('data', (bytes: Buffer) => {
      if (refused) return;
      messages++;
      let m: ProbeMessageIn;
      try {
        m = decodeProbeMessage(bytes);
      } catch (err) {
        reject(`${(err as Error).message} (message ${messages} of the stream, ${bytes.length} bytes)`);
        return finish();
      }
      if (!session) {
        if (m.msg !== 'hello' || !m.hello) return reject(`first message is '${m.msg ?? 'empty'}', expected hello`);
        if (!m.hello.commandsToken) {
          return reject(
            'hello names no commands token: this engine sends commands and acknowledgements on ProbeService.Commands, which the probe opens beside its stream (a probe older than the engine?)',
            GrpcStatus.FAILED_PRECONDITION,
          );
        }
        if (this.byToken.has(m.hello.commandsToken)) return reject('another live stream named this commands token', GrpcStatus.ALREADY_EXISTS);
        session = new ProbeSession(m.hello, call);
        token = m.hello.commandsToken;
        const s = session;
        this.byToken.set(token, {
          session: s,
          end: (why) => {
            if (!s.connected) return;
            this.log.warn({ node: s.nodeName, session: s.hello.sessionId }, `probe stream ended: ${why}`);
            call.emit('error', { code: GrpcStatus.CANCELLED, details: why });
            call.end();
            finish();
          },
        });
        const early = this.early.get(token);
        if (early) {
          clearTimeout(early.timer);
          this.early.delete(token);
          this.join(this.byToken.get(token)!, early.call);
        } else {
          joinTimer = setTimeout(() => {
            joinTimer = null;
            if (s.commandsJoined || !s.connected) return;
            reject(`no ProbeService.Commands call named this stream's commands token within ${COMMANDS_JOIN_MS} ms`, GrpcStatus.FAILED_PRECONDITION);
            finish();
          }, COMMANDS_JOIN_MS);
        }
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
          return session.acknowledge(m.ack!.id, m.ack!.ok, m.ack!.error, m.ack!.detail, m.ack!.files ?? []);
        case 'packets':
          return this.handler.onPackets(session, m.packets!.packets);
        case 'hello':
          return reject('a second hello on one stream');
        default:
          this.log.warn({ node: session.nodeName }, 'probe sent an empty message; ignored');
      }
    });

    const finish = (): void => {
      if (joinTimer) clearTimeout(joinTimer);
      joinTimer = null;
      if (!session || !session.connected) return;
      // Ends its commands call too (hangUp's ack first, on engine shutdown).
      session.close();
      this.live.delete(session);
      if (this.byToken.get(token)?.session === session) this.byToken.delete(token);
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

  /**
   * Once per message, and at a node's usual rates a message is a few events:
   * this runs in V8's baseline tier for thousands of messages (each property
   * read an inline-cache call), so it reads each field once and loops over
   * the rarely non-empty lists only when they are not empty (a for-of makes
   * an iterator even for an empty one).
   */
  private onBatch(session: ProbeSession, batch: DecodedBatch): void {
    const seq = batch.seq;
    const lastSeq = session.lastSeq;
    if (lastSeq) {
      if (seq <= lastSeq) {
        // Resent after a reconnect: processed already (acknowledged or not).
        session.duplicateBatches++;
        session.processed(lastSeq);
        return;
      }
      if (seq > lastSeq + 1) {
        const missing = seq - lastSeq - 1;
        session.batchGaps += missing;
        this.log.warn({ node: session.nodeName, missing, after: lastSeq }, 'batches missing from the probe stream');
        this.handler.onBatchGap(session, missing);
      }
    }
    if (seq > lastSeq) session.lastSeq = seq;
    session.batches++;
    session.lastBatchAt = session.lastHeardAt;
    const hello = session.hello;
    const bootToUnixNs = hello.bootToUnixNs;
    const nodeName = hello.nodeName;
    const events = batch.events;
    const n = events.length;
    stampEvents(events, bootToUnixNs, nodeName);
    const { rejected, excess, oversized } = batch;
    if (excess) {
      this.malformedEvents += excess;
      this.log.warn({ node: nodeName, seq, events: n + rejected.length + excess, kept: MAX_BATCH_EVENTS }, 'batch larger than any probe sends: the excess is rejected');
    }
    for (let i = 0; i < rejected.length; i++) {
      if (this.malformedEvents++ < 20 || this.malformedEvents % 10_000 === 0) {
        this.log.warn({ node: nodeName, seq, reason: rejected[i], total: this.malformedEvents }, 'malformed event rejected');
      }
    }
    for (let i = 0; i < oversized.length; i++) {
      if (this.oversizedEvents++ < 20) {
        const e = oversized[i]!;
        this.log.warn({ node: nodeName, seq, pid: e.pid, type: e.type, total: this.oversizedEvents }, 'event with strings past their bounds: cut to them');
      }
    }
    session.events += n;
    this.handler.onEvents(session, events, batch.bytes ? { bytes: batch.bytes, ranges: batch.ranges } : undefined);
    session.processed(seq, n + rejected.length + excess);
  }
}

// A probe made of JavaScript: speaks the real ProbeService calls (Stream up,
// Commands down) over real gRPC, so engine tests and benchmarks can send
// exactly the events they need (including malformed ones) without a kernel.
import { randomBytes } from 'node:crypto';
import { credentials, makeGenericClientConstructor, type ChannelCredentials, type ChannelOptions, type ClientDuplexStream, type ClientReadableStream } from '@grpc/grpc-js';
import { probeCommandsMethod, probeStreamMethod } from '../../src/ingest/server.js';
import type { WireEngineCommand, WireProbeMessage } from '../../src/probe/wire.js';

export interface SyntheticEvent {
  ktimeNs?: number;
  pid: number;
  tid?: number;
  ppid?: number;
  uid?: number;
  gid?: number;
  comm?: string;
  cgroupId: number;
  [kind: string]: unknown;
}

const Client = makeGenericClientConstructor({ Stream: probeStreamMethod, Commands: probeCommandsMethod }, 'ProbeService');
type ProbeClient = InstanceType<typeof Client> & {
  Stream(): ClientDuplexStream<WireProbeMessage, WireEngineCommand>;
  Commands(req: { token: string }): ClientReadableStream<WireEngineCommand>;
};

/** One file of a ReadUserFiles answer (proto/vigil/v1/probe.proto UserFile). */
export interface SyntheticUserFile {
  name: 'passwd' | 'group';
  signature: string;
  content: Buffer;
  unchanged?: boolean;
  truncated?: boolean;
  error?: string;
  pid: number;
}

/** A connection's commands token, as a probe makes one (Hello.commands_token). */
export function commandsToken(): string {
  return randomBytes(16).toString('hex');
}

/** Monotonic nanoseconds as the kernel would stamp them (same clock as bpf_ktime_get_ns). */
export function ktimeNow(): number {
  return Number(process.hrtime.bigint());
}

export class SyntheticProbe {
  readonly commands: WireEngineCommand[] = [];
  private seq = 0;
  private closed = false;
  /** Why the stream failed, if it did (refused credentials, a rejected hello). */
  error: Error | null = null;
  /** How to acknowledge commands other than ping (a ReadUserFiles' with `files`); unset: they go unanswered. */
  answer: ((cmd: WireEngineCommand) => { ok: boolean; error: string; detail: string; files?: SyntheticUserFile[] } | undefined) | null = null;

  /** The Commands call, once opened. */
  private down: ClientReadableStream<WireEngineCommand> | null = null;

  private constructor(
    private readonly client: ProbeClient,
    private readonly stream: ClientDuplexStream<WireProbeMessage, WireEngineCommand>,
    readonly sessionId: string,
    readonly token: string,
  ) {
    // Nothing comes down the stream itself; its end or error does.
    stream.on('data', () => {});
    stream.on('error', (err) => {
      this.error = err;
      this.closed = true;
    });
    stream.on('end', () => (this.closed = true));
  }

  /** Opens the Commands call (connect does, unless told not to). */
  openCommands(token = this.token): void {
    const down = this.client.Commands({ token });
    this.down = down;
    down.on('data', (cmd: WireEngineCommand) => {
      this.commands.push(cmd);
      if (!cmd.id) return; // a batch acknowledgement
      const answer = cmd.ping ? { ok: true, error: '', detail: 'pong' } : this.answer?.(cmd);
      if (answer) this.send({ ack: { id: cmd.id, ...answer } });
    });
    down.on('error', (err) => {
      this.commandsError = err;
      if (!this.closed) this.error ??= err;
    });
    down.on('end', () => {});
  }

  /** Why the Commands call failed, if it did. */
  commandsError: Error | null = null;

  static connect(
    target: string,
    opts: { sessionId?: string; nodeName?: string; hello?: boolean; commands?: boolean; token?: string; capabilities?: string[]; enforcementKept?: boolean; enforcement?: { operation: string; mechanism: number; program: string; why: string }[]; pinning?: { dir: string; pinned: boolean; why: string; links: number; previousLinks: number; onExit: string }; cgroupId?: number; creds?: ChannelCredentials; channelOptions?: ChannelOptions } = {},
  ): SyntheticProbe {
    const client = new Client(target, opts.creds ?? credentials.createInsecure(), opts.channelOptions ?? {});
    const typed = client as ProbeClient;
    const stream = typed.Stream();
    const sessionId = opts.sessionId ?? `synthetic-${Math.random().toString(16).slice(2, 10)}`;
    const p = new SyntheticProbe(typed, stream, sessionId, opts.token ?? commandsToken());
    if (opts.hello !== false) {
      p.send({
        hello: {
          nodeName: opts.nodeName ?? 'synthetic-node',
          probeVersion: 'synthetic',
          probePid: 1,
          bootToUnixNs: Date.now() * 1e6 - ktimeNow(),
          sessionId,
          // Says it sees DNS answers, as a real probe on a cgroup v2 node does:
          // otherwise every engine it talks to raises 'DNS names not seen on this node'.
          hooks: ['synthetic', 'cgroup_skb/ingress:dns', 'iter/task:cgroups'],
          capabilities: opts.capabilities ?? [],
          enforcementKept: opts.enforcementKept ?? false,
          enforcement: opts.enforcement ?? [],
          ...(opts.pinning ? { pinning: opts.pinning } : {}),
          cgroupId: opts.cgroupId ?? 0,
          commandsToken: p.token,
        },
      });
      // Right after the hello, as the real probe does (bpf/probe/stream.cc).
      if (opts.commands !== false) p.openCommands();
    }
    return p;
  }

  get ended(): boolean {
    return this.closed;
  }

  /** Writes one ProbeMessage given as a plain object; false when the stream wants a pause. */
  send(msg: Record<string, unknown>): boolean {
    return this.stream.write(msg as WireProbeMessage);
  }

  sendBatch(events: SyntheticEvent[], seq = ++this.seq): boolean {
    this.seq = seq;
    return this.send({ batch: { seq, events: events.map((e) => ({ ktimeNs: ktimeNow(), tid: e.pid, comm: 'synthetic', ...e })) } });
  }

  /** Resolves once the stream has room again. */
  drained(): Promise<void> {
    return new Promise((resolve) => this.stream.once('drain', resolve));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.stream.end();
      // The commands call after the stream, as the real probe does on stop.
      const done = (): void => {
        this.down?.cancel();
        this.client.close();
        resolve();
      };
      if (this.closed) return done();
      this.stream.once('end', done);
      this.stream.once('error', done);
      setTimeout(done, 1000);
    });
  }
}

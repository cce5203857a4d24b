// The CLI's client for a running engine's control socket.
import protobuf from 'protobufjs/light.js';
import type { TlsConfig } from '../config/schema.js';
import { CallError, Status, UnaryChannel } from '../rpc/unary.js';
import { CONTROL_DESCRIPTOR, CONTROL_METHODS, type ActionReply, type ApplyPolicyReply, type CaptureReply, type ControlServiceTypes, type PolicyText, type SetModeReply, type StatusReply } from './messages.js';
import { CLIENT_PID_KEY } from './peer.js';

// 64-bit counters decode to plain numbers, as the engine's own decoder has them (rpc/proto.ts).
protobuf.util.Long = null as unknown as typeof protobuf.util.Long;
protobuf.configure();

// The messages from the generated descriptor: parsing control.proto here would cost the CLI its start time.
const messages = protobuf.Root.fromJSON(CONTROL_DESCRIPTOR as protobuf.INamespace);
const PLAIN: protobuf.IConversionOptions = { defaults: true, arrays: true, objects: true, longs: Number, enums: Number };

type Name = keyof ControlServiceTypes;

/**
 * The CLI's client for a running engine's control socket. Calls go over
 * rpc/unary.ts (plain HTTP/2), not grpc-js: the CLI starts in half the time.
 */
export class ControlClient {
  private readonly channel: UnaryChannel;

  constructor(
    private readonly address: string,
    tls?: TlsConfig,
  ) {
    this.channel = new UnaryChannel(address, address.startsWith('tcp://') ? tls : undefined);
  }

  private async call<N extends Name>(name: N, req: ControlServiceTypes[N]['request'], timeoutMs = 10_000): Promise<ControlServiceTypes[N]['reply']> {
    const m = CONTROL_METHODS[name];
    const reqType = messages.lookupType(`vigil.v1.${m.request}`);
    const replyType = messages.lookupType(`vigil.v1.${m.reply}`);
    // Who is calling, for the engine's audit log: its own record (the probe's view of the connect) is preferred.
    const metadata = { [CLIENT_PID_KEY]: String(process.pid) };
    try {
      const reply = await this.channel.call(`/vigil.v1.ControlService/${name}`, reqType.encode(reqType.fromObject(req)).finish(), metadata, timeoutMs);
      return replyType.toObject(replyType.decode(reply), PLAIN) as ControlServiceTypes[N]['reply'];
    } catch (err) {
      if (!(err instanceof CallError)) throw err;
      if (err.code === Status.UNAVAILABLE) throw new Error(`no engine answers at ${this.address} (is vigil running? ${err.details})`, { cause: err });
      throw new Error(err.details || `the call failed with gRPC status ${err.code}`, { cause: err });
    }
  }

  status(): Promise<StatusReply> {
    return this.call('Status', {});
  }

  quarantine(workload: string, reason = 'by hand (vigil quarantine)'): Promise<ActionReply> {
    return this.call('Quarantine', { workload, reason });
  }

  release(workload: string): Promise<ActionReply> {
    return this.call('Release', { workload, reason: '' });
  }

  /** Resolves when the capture has ended. */
  capture(workload: string, seconds: number, maxPackets: number): Promise<CaptureReply> {
    return this.call('Capture', { workload, seconds, maxPackets }, (seconds || 3600) * 1000 + 30_000);
  }

  kill(pid: number): Promise<ActionReply> {
    return this.call('Kill', { pid });
  }

  setMode(workload: string, mode: string): Promise<SetModeReply> {
    return this.call('SetMode', { workload, mode });
  }

  exportPolicy(workload: string, format: 'yaml' | 'networkpolicy' | 'ciliumnetworkpolicy'): Promise<PolicyText> {
    return this.call('ExportPolicy', { workload, format });
  }

  applyPolicy(text: string, source: string): Promise<ApplyPolicyReply> {
    return this.call('ApplyPolicy', { text, source, ok: true, error: '' }, 60_000);
  }

  diffPolicy(text: string, source: string): Promise<PolicyText> {
    return this.call('DiffPolicy', { text, source, ok: true, error: '' });
  }

  close(): void {
    this.channel.close();
  }
}

/** Runs `fn` against the engine a config names, closing the connection after. */
export async function withControl<T>(config: { control: { listen: string; tls?: TlsConfig } }, fn: (c: ControlClient) => Promise<T>): Promise<T> {
  const client = new ControlClient(config.control.listen, config.control.tls);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

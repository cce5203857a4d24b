// The CLI's client for a running engine's control socket.
import { makeGenericClientConstructor, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import type { TlsConfig } from '../config/schema.js';
import { clientCredentials, dialTarget } from '../rpc/listen.js';
import { CLIENT_PID_KEY } from './peer.js';
import { controlMethods, type ActionReply, type ApplyPolicyReply, type CaptureReply, type PolicyText, type SetModeReply, type StatusReply } from './methods.js';

type Unary<Req, Res> = (req: Req, metadata: Metadata, opts: { deadline: Date }, cb: (err: ServiceError | null, res: Res) => void) => void;

export class ControlClient {
  private readonly client: Client & Record<string, Unary<unknown, unknown>>;

  constructor(
    private readonly address: string,
    tls?: TlsConfig,
  ) {
    const Ctor = makeGenericClientConstructor(controlMethods, 'ControlService');
    const { creds, options } = clientCredentials(address.startsWith('tcp://') ? tls : undefined);
    this.client = new Ctor(dialTarget(address), creds, options) as unknown as Client & Record<string, Unary<unknown, unknown>>;
  }

  private call<Req, Res>(name: string, req: Req, timeoutMs = 10_000): Promise<Res> {
    return new Promise((resolve, reject) => {
      // Who is calling, for the engine's audit log: its own record (the probe's view of the connect) is preferred.
      const metadata = new Metadata();
      metadata.set(CLIENT_PID_KEY, String(process.pid));
      this.client[name]!.call(this.client, req, metadata, { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
        if (!err) return resolve(res as Res);
        if (err.code === 14 /* UNAVAILABLE */) reject(new Error(`no engine answers at ${this.address} (is vigil running? ${err.details})`));
        else reject(new Error(err.details || err.message));
      });
    });
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
    this.client.close();
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

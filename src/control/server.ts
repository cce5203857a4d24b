// The CLI's way into a running engine: a gRPC service on its own unix
// socket (mode 0600 in a root-only directory), separate from the probe's.
import { Server, status as GrpcStatus, type Metadata, type ServerUnaryCall, type ServiceError, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from '../log.js';
import { bindServer, shutdownServer } from '../rpc/listen.js';
import type { TlsConfig } from '../config/schema.js';
import { controlMethods, type ControlHandlers } from './methods.js';
import { CLIENT_PID_KEY, identifyCaller, type Caller, type CallFacts, type ConnectWitness } from './peer.js';

export class ControlServer {
  private readonly server = new Server();
  boundPort = 0;
  private address: string | null = null;

  constructor(
    handlers: ControlHandlers,
    private readonly log: Logger,
    /** The probe's record of connects to the control socket, to name callers. */
    private readonly witness: ConnectWitness | null = null,
  ) {
    const impl: UntypedServiceImplementation = {};
    for (const [name, fn] of Object.entries(handlers) as [string, (req: unknown, caller: () => Promise<Caller>) => unknown][]) {
      impl[name] = (call: ServerUnaryCall<unknown, unknown>, callback: (err: Partial<ServiceError> | null, res?: unknown) => void) => {
        let caller: Promise<Caller> | null = null;
        const who = (): Promise<Caller> => (caller ??= identifyCaller(this.facts(call), this.witness));
        Promise.resolve()
          .then(() => fn(call.request, who))
          .then(
            (res) => callback(null, res),
            (err: Error) => callback({ code: GrpcStatus.FAILED_PRECONDITION, details: err.message }),
          );
      };
    }
    this.server.addService(controlMethods, impl);
  }

  /** What the transport says about a call's client. */
  private facts(call: ServerUnaryCall<unknown, unknown>): CallFacts {
    const pid = Number(firstValue(call.metadata, CLIENT_PID_KEY));
    const cert = call.getAuthContext().sslPeerCertificate;
    return {
      unix: this.address?.startsWith('unix://') ?? false,
      peer: call.getPeer(),
      claimedPid: Number.isInteger(pid) && pid > 0 ? pid : null,
      certificate: cert ? { subject: Object.entries(cert.subject ?? {}).map(([k, v]) => `${k}=${String(v)}`).join(', '), fingerprint: cert.fingerprint256 } : null,
      localPort: this.boundPort,
    };
  }

  async listen(address: string, tls?: TlsConfig): Promise<void> {
    this.boundPort = await bindServer(this.server, address, { tls });
    this.address = address;
    this.log.info({ address, port: this.boundPort || undefined }, 'control socket ready');
  }

  stop(): Promise<void> {
    return shutdownServer(this.server, this.address);
  }
}

function firstValue(m: Metadata, key: string): string {
  const v = m.get(key)[0];
  return typeof v === 'string' ? v : '';
}

// The CLI's way into a running engine: a gRPC service on its own unix
// socket (mode 0600 in a root-only directory), separate from the probe's.
import { Server, status as GrpcStatus, type ServiceError, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from '../log.js';
import { bindServer, shutdownServer } from '../rpc/listen.js';
import type { TlsConfig } from '../config/schema.js';
import { controlMethods, type ControlHandlers } from './methods.js';

export class ControlServer {
  private readonly server = new Server();
  boundPort = 0;
  private address: string | null = null;

  constructor(handlers: ControlHandlers, private readonly log: Logger) {
    const impl: UntypedServiceImplementation = {};
    for (const [name, fn] of Object.entries(handlers) as [string, (req: unknown) => unknown][]) {
      impl[name] = (call: { request: unknown }, callback: (err: Partial<ServiceError> | null, res?: unknown) => void) => {
        Promise.resolve()
          .then(() => fn(call.request))
          .then(
            (res) => callback(null, res),
            (err: Error) => callback({ code: GrpcStatus.FAILED_PRECONDITION, details: err.message }),
          );
      };
    }
    this.server.addService(controlMethods, impl);
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

// The CLI's client for a running engine's control socket.
import { makeGenericClientConstructor, credentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { dialTarget } from '../rpc/listen.js';
import { controlMethods, type StatusReply } from './methods.js';

type Unary<Req, Res> = (req: Req, opts: { deadline: Date }, cb: (err: ServiceError | null, res: Res) => void) => void;

export class ControlClient {
  private readonly client: Client & Record<string, Unary<unknown, unknown>>;

  constructor(private readonly address: string) {
    const Ctor = makeGenericClientConstructor(controlMethods, 'ControlService');
    this.client = new Ctor(dialTarget(address), credentials.createInsecure()) as unknown as Client & Record<string, Unary<unknown, unknown>>;
  }

  private call<Req, Res>(name: string, req: Req, timeoutMs = 10_000): Promise<Res> {
    return new Promise((resolve, reject) => {
      this.client[name]!.call(this.client, req, { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
        if (!err) return resolve(res as Res);
        if (err.code === 14 /* UNAVAILABLE */) reject(new Error(`no engine answers at ${this.address} (is vigil running?)`));
        else reject(new Error(err.details || err.message));
      });
    });
  }

  status(): Promise<StatusReply> {
    return this.call('Status', {});
  }

  close(): void {
    this.client.close();
  }
}

// The control service's methods (control.proto ControlService), built from
// the generated messages.ts: the gRPC method definitions the server and
// the CLI's client share, and the handlers' shape.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { method } from '../rpc/proto.js';
import { CONTROL_METHODS, type ControlServiceTypes } from './messages.js';
import type { Caller } from './peer.js';

export type * from './messages.js';

type Name = keyof ControlServiceTypes;

/** What the engine does for each call (control/handlers.ts); `caller` says who made it (looked up when asked). */
export type ControlHandlers = {
  [N in Name]: (req: ControlServiceTypes[N]['request'], caller: () => Promise<Caller>) => ControlServiceTypes[N]['reply'] | Promise<ControlServiceTypes[N]['reply']>;
};

const unary = { request: false, response: false };

export const controlMethods = Object.fromEntries(
  (Object.entries(CONTROL_METHODS) as [Name, { request: string; reply: string }][]).map(([name, m]) => [name, method('ControlService', name, m.request, m.reply, unary)]),
) as { [N in Name]: ReturnType<typeof method<ControlServiceTypes[N]['request'], ControlServiceTypes[N]['reply']>> } satisfies ServiceDefinition;

// The wire schema (proto/vigil/v1), loaded once with protobufjs, and gRPC
// method definitions built from it. grpc-js takes our own (de)serializers,
// so messages decode with protobufjs's generated code, not a second loader.
import { join } from 'node:path';
import protobuf from 'protobufjs';
import type { MethodDefinition } from '@grpc/grpc-js';
import { installRoot } from '../install.js';

// 64-bit fields decode to plain numbers: cgroup ids, counters and
// nanosecond timestamps all fit a double's 53 bits of integer precision
// for anything a node sees (monotonic ns run 104 days before rounding).
protobuf.util.Long = null as unknown as typeof protobuf.util.Long;
protobuf.configure();

export const protoDir = join(installRoot(import.meta.url), 'proto');

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(protoDir, target));
root.loadSync(['vigil/v1/probe.proto', 'vigil/v1/control.proto'], { keepCase: false });
root.resolveAll();

export function messageType(name: string): protobuf.Type {
  return root.lookupType(`vigil.v1.${name}`);
}

const PLAIN: protobuf.IConversionOptions = { defaults: true, arrays: true, objects: true, longs: Number, enums: Number };

/**
 * A gRPC method whose messages are encoded by protobufjs types. Decoded
 * messages are plain objects with every default filled in, except with
 * `fast`: then they are protobufjs message instances (defaults on the
 * prototype, a oneof's name in its virtual field), which skips a copy on
 * the probe stream's hot path.
 */
export function method<Req, Res>(
  service: string,
  name: string,
  requestType: string,
  responseType: string,
  stream: { request: boolean; response: boolean },
  opts: { fast?: boolean } = {},
): MethodDefinition<Req, Res> {
  const req = messageType(requestType);
  const res = messageType(responseType);
  const decode = (t: protobuf.Type, b: Buffer): unknown => (opts.fast ? t.decode(b) : t.toObject(t.decode(b), PLAIN));
  return {
    path: `/vigil.v1.${service}/${name}`,
    requestStream: stream.request,
    responseStream: stream.response,
    requestSerialize: (m: Req) => Buffer.from(req.encode(req.fromObject(m as object)).finish()),
    requestDeserialize: (b: Buffer) => decode(req, b) as Req,
    responseSerialize: (m: Res) => Buffer.from(res.encode(res.fromObject(m as object)).finish()),
    responseDeserialize: (b: Buffer) => decode(res, b) as Res,
    originalName: name,
  };
}

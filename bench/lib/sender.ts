// A synthetic probe in its own process: sends pre-encoded batches over the
// real gRPC stream as fast as flow control allows, `rounds` times over
// (numbered on, as a probe numbers its batches).
//   node --import tsx bench/lib/sender.ts TARGET ROUNDS MIX_JSON
// Prints "ready" once its batches are built, and waits for a line on stdin
// before sending, so the engine measures sending, not the sender's set-up.
// BENCH_PACE_MS=N: a pause of N ms after each batch (bench/message-cost.ts).
import { randomBytes } from 'node:crypto';
import { credentials, makeGenericClientConstructor, type ClientDuplexStream, type ClientReadableStream } from '@grpc/grpc-js';
import { messageType } from '../../src/rpc/proto.js';
import { batchMessage, eventMix, snapshotMessage, type MixOptions } from './event-mix.js';

const [target, roundsArg, mixJson] = process.argv.slice(2);
const mix = JSON.parse(mixJson!) as MixOptions;
const rounds = Number(roundsArg);
const pace = Number(process.env.BENCH_PACE_MS ?? 0);
const batches = eventMix(mix);
const ProbeMessage = messageType('ProbeMessage');
const CommandsRequest = messageType('CommandsRequest');
const token = randomBytes(16).toString('hex');
const hello = Buffer.from(
  ProbeMessage.encode(
    ProbeMessage.fromObject({ hello: { nodeName: 'bench', probeVersion: 'bench', probePid: 1, bootToUnixNs: Date.now() * 1e6 - 1e12, sessionId: `bench-${process.pid}`, hooks: [], commandsToken: token } }),
  ).finish(),
);

const Client = makeGenericClientConstructor(
  {
    Stream: {
      path: '/vigil.v1.ProbeService/Stream', requestStream: true, responseStream: true,
      requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b,
    },
    Commands: {
      path: '/vigil.v1.ProbeService/Commands', requestStream: false, responseStream: true,
      requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b,
    },
  },
  'ProbeService',
);
const client = new Client(target!, credentials.createInsecure(), { 'grpc.max_send_message_length': 64 << 20 });
const stream = (client as unknown as { Stream(): ClientDuplexStream<Buffer, Buffer> }).Stream();
stream.on('data', () => {});
stream.on('error', (e) => {
  console.error(`sender: ${e.message}`);
  process.exit(1);
});
const opened = client as unknown as { Commands(req: Buffer): ClientReadableStream<Buffer> };

async function main(): Promise<void> {
  stream.write(hello);
  // The engine's acknowledgements come down the Commands call (proto/vigil/v1/probe.proto).
  const commands = opened.Commands(Buffer.from(CommandsRequest.encode({ token }).finish()));
  commands.on('data', () => {});
  commands.on('error', () => {});
  stream.write(snapshotMessage(mix));
  process.stdout.write('ready\n');
  await new Promise((res) => process.stdin.once('data', res));
  let seq = 0;
  for (let r = 0; r < rounds; r++) {
    for (const b of batches) {
      if (!stream.write(batchMessage(++seq, b))) await new Promise((res) => stream.once('drain', res));
      if (pace) await new Promise((res) => setTimeout(res, pace));
    }
  }
  stream.end();
  await new Promise((res) => stream.once('end', res));
  commands.cancel();
  process.exit(0);
}
void main();

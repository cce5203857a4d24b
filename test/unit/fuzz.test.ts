// The engine's probe endpoint under hostile input, over real gRPC: random
// frames, mutated real batches, events with absurd values, oversized
// strings and batches. It must reject or bound each with a counted, logged
// reason and keep serving — after every round a well-behaved probe is
// still served. Seeded, so a failure replays.
import { credentials, makeGenericClientConstructor, type ClientDuplexStream, type ClientReadableStream } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execMore } from '../../src/model/event.js';
import { messageType } from '../../src/rpc/proto.js';
import { useFakeCgroupMount } from '../support/cgroup-hooks.js';
import { TestEngine } from '../support/engine.js';
import { waitFor } from '../support/kernel.js';
import { commandsToken, ktimeNow, SyntheticProbe } from '../support/synthetic-probe.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const RawClient = makeGenericClientConstructor(
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

const ProbeMessage = messageType('ProbeMessage');
const CommandsRequest = messageType('CommandsRequest');
const encode = (m: object): Buffer => Buffer.from(ProbeMessage.encode(ProbeMessage.fromObject(m)).finish());

const cgroups = useFakeCgroupMount(['app']);
let t: TestEngine;
let client: InstanceType<typeof RawClient>;

beforeAll(async () => {
  t = await TestEngine.start({ sinks: [] }, { cgroupMount: cgroups.dir });
  client = new RawClient(`unix://${t.dir}/engine.sock`, credentials.createInsecure(), { 'grpc.max_send_message_length': 64 << 20 });
});
afterAll(async () => {
  client.close();
  await t.stop();
});

/** One stream: a hello, then `frames`; resolves when the engine has dealt with them (or dropped the stream). */
async function send(frames: Buffer[], session: string): Promise<void> {
  const raw = client as unknown as { Stream(): ClientDuplexStream<Buffer, Buffer>; Commands(req: Buffer): ClientReadableStream<Buffer> };
  const stream = raw.Stream();
  stream.on('data', () => {});
  const done = new Promise<void>((resolve) => {
    stream.on('error', () => resolve());
    stream.on('end', () => resolve());
  });
  const token = commandsToken();
  stream.write(encode({ hello: { nodeName: 'fuzz', probeVersion: 'fuzz', probePid: 1, bootToUnixNs: 0, sessionId: session, hooks: [], commandsToken: token } }));
  const commands = raw.Commands(Buffer.from(CommandsRequest.encode({ token }).finish()));
  commands.on('data', () => {});
  commands.on('error', () => {});
  for (const f of frames) stream.write(f);
  stream.end();
  await done;
  commands.cancel();
}

let goodRounds = 0;
/** A well-behaved probe is still served. */
async function stillServing(): Promise<void> {
  const before = t.events.length;
  const p = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { sessionId: `good-${++goodRounds}` });
  p.sendBatch([{ pid: 4242, cgroupId: cgroups.id.app, exec: { filename: '/bin/true', exe: '/usr/bin/true', argv: ['true'], cwd: '/' } }]);
  await waitFor('the good probe served', () => t.events.length > before && t.events.at(-1)!.pid === 4242);
  await p.close();
}

function realBatch(rand: () => number, n: number): Buffer {
  const kinds = [
    () => ({ exec: { filename: '/bin/sh', exe: '/usr/bin/dash', argv: ['sh', '-c', 'x'], cwd: '/srv' } }),
    () => ({ open: { path: '/etc/hosts', flags: 0, mode: 0, result: 3 } }),
    () => ({ connect: { remote: { family: 2, address: Buffer.from([10, 0, 0, 1]), port: 443 }, protocol: 6, result: 0 } }),
    () => ({ accept: { remote: { family: 10, address: Buffer.alloc(16, 1), port: 5000 }, local: { family: 10, address: Buffer.alloc(16), port: 80 }, result: 4 } }),
    () => ({ rename: { oldPath: '/tmp/a', newPath: '/tmp/b', flags: 0, result: 0 } }),
    () => ({ setId: { call: 'setuid', id: 0, result: 0 } }),
    () => ({ exit: { exitCode: 1, signal: 0 } }),
    () => ({ fork: { childPid: 99 } }),
  ];
  const events = Array.from({ length: n }, (_, i) => ({ ktimeNs: ktimeNow(), pid: 100 + i, tid: 100 + i, ppid: 1, uid: 0, gid: 0, comm: 'fuzz', cgroupId: cgroups.id.app, ...kinds[Math.floor(rand() * kinds.length)]!() }));
  return encode({ batch: { seq: 1, events } });
}

describe('hostile input on the probe endpoint', () => {
  it('survives random frames', async () => {
    const rand = rng(1);
    for (let i = 0; i < 150; i++) {
      const frame = Buffer.from(Array.from({ length: Math.floor(rand() * 600) }, () => Math.floor(rand() * 256)));
      await send([frame], `random-${i}`);
    }
    await stillServing();
  });

  it('survives mutated real batches, counting what it rejects', async () => {
    const rand = rng(2);
    const malformedBefore = t.engine.ingest.malformedEvents;
    for (let i = 0; i < 300; i++) {
      const b = Buffer.from(realBatch(rand, 1 + Math.floor(rand() * 8)));
      const how = rand();
      let frame: Buffer;
      if (how < 0.5) {
        for (let k = 0; k < 1 + Math.floor(rand() * 6); k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
        frame = b;
      } else if (how < 0.8) {
        frame = b.subarray(0, Math.floor(rand() * b.length));
      } else {
        frame = Buffer.concat([b, b.subarray(Math.floor(rand() * b.length))]);
      }
      await send([frame], `mutated-${i}`);
    }
    await stillServing();
    const rejected = t.engine.ingest.malformedEvents - malformedBefore + t.engine.ingest.rejectedStreams;
    expect(rejected).toBeGreaterThan(0);
    expect(t.logLines.some((l) => l.msg === 'malformed event rejected' && typeof l.reason === 'string')).toBe(true);
  });

  it('survives absurd values: zero and huge pids, unknown pids, negative results, unknown kinds of socket', async () => {
    const rand = rng(3);
    const frames: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      frames.push(encode({
        batch: {
          seq: i + 1,
          events: [
            { pid: 0, cgroupId: cgroups.id.app, fork: { childPid: 1 } },
            { pid: 2 ** 32 - 1, ppid: 2 ** 32 - 1, uid: 2 ** 32 - 1, cgroupId: 2 ** 52, exit: { exitCode: -5, signal: 999 } },
            { pid: 1 + Math.floor(rand() * 1e9), cgroupId: 12345678, open: { path: 'not/absolute\u0000\uffff😀', flags: -1, result: -(2 ** 40) } },
            { pid: 7, cgroupId: cgroups.id.app, connect: { remote: { family: 99, address: Buffer.alloc(3), port: 70000 }, protocol: 255, result: -111 } },
            { pid: 7, cgroupId: cgroups.id.app, bind: { local: { family: 1, path: 'x'.repeat(200) }, protocol: 0, result: 0 } },
          ],
        },
      }));
    }
    await send(frames, 'absurd');
    await stillServing();
  });

  it('bounds oversized strings and batches instead of choking on them', async () => {
    const huge = `/${'a'.repeat(1 << 20)}`;
    const argv = Array.from({ length: 50_000 }, (_, i) => `arg${i}`);
    await send([encode({ batch: { seq: 1, events: [
      { pid: 8, cgroupId: cgroups.id.app, open: { path: huge, flags: 0, result: 3 } },
      { pid: 8, cgroupId: cgroups.id.app, exec: { filename: huge, exe: huge, argv, cwd: huge } },
    ] } })], 'oversized');
    await send([realBatch(rng(4), 100_000)], 'absurd-batch');
    await stillServing();
    // Taken, and cut to the bounds: no event holds a megabyte of path or 50,000 arguments.
    expect(t.events.filter((e) => e.pid === 8)).toHaveLength(2);
    expect(t.engine.ingest.oversizedEvents).toBeGreaterThanOrEqual(2);
    expect(t.events.find((e) => e.pid === 8 && e.type === 'exec')!.more).toMatchObject({ argvTruncated: true });
    for (const e of t.events.filter((e) => e.pid === 8)) {
      expect(e.path.length).toBeLessThanOrEqual(4096);
      expect(execMore(e).argv.length).toBeLessThanOrEqual(1024);
    }
  });

  it('keeps serving a flood from one stream while another probe is served', async () => {
    const batch = realBatch(rng(5), 256);
    const flood = send(Array.from({ length: 2000 }, () => batch), 'flood');
    await stillServing();
    await flood;
  });
});

// A detection worker thread's entry (engine.workers > 1): a DetectionShard
// fed by the main thread's messages; its log lines go to the main thread's
// logger, so one log stays one stream.
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import type { FromShard, ShardInit, ToShard } from './protocol.js';
import { DetectionShard } from './shard.js';
import { warmDecoder } from '../ingest/warm.js';

const port = parentPort!;
const init = workerData as ShardInit;
const send = (m: FromShard): void => port.postMessage(m);
const log = pino({ level: init.logLevel, base: { worker: init.index } }, { write: (line: string) => send({ t: 'log', line }) });
let shard: DetectionShard;
try {
  shard = new DetectionShard(init, send, log);
} catch (err) {
  // The main thread loaded the same rules and config already: this is not expected, and it is said.
  log.fatal({ err: (err as Error).message }, 'detection worker could not start');
  throw err;
}
port.on('message', (m: ToShard | { t: 'res'; id: number; value?: unknown; error?: string }) => {
  const r = shard.handle(m);
  if (r) r.catch((err: Error) => log.error({ err: err.message }, 'detection worker: a call failed'));
});
// This thread decodes its batches with its own copy of the decoder: warmed as the main thread's (ingest/warm.ts says why).
warmDecoder();
send({ t: 'ready', tid: threadId() });

/** This thread's id in the kernel (0 where /proc does not say). */
function threadId(): number {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return 0;
  }
}

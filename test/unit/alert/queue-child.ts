// Run as a child process by queue.test.ts: appends numbered records to a
// queue as fast as it can and prints each number once it is on disk, until
// it is killed (SIGKILL, mid-write).
import { DurableQueue } from '../../../src/alert/queue.js';
import { silentLogger } from '../../../src/log.js';

const dir = process.argv[2]!;
const q = await DurableQueue.open(dir, { maxBytes: 1 << 30, segmentBytes: 64 << 10, log: silentLogger() });
const pad = 'x'.repeat(300);
for (let i = 0; ; i++) {
  q.append(JSON.stringify({ n: i, pad }));
  // A few appends share each fdatasync, as under a burst of alerts.
  if (i % 7 === 6) {
    await q.flush();
    process.stdout.write(`${i}\n`);
  }
}

// The optional event log: every enriched event as one JSON line, for
// debugging and tests. When the disk cannot keep up, lines beyond a bounded
// backlog are dropped and counted, never silently.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { execMore, type Event } from '../model/event.js';
import { eventSummary } from '../model/event-kinds.js';
import type { Logger } from '../log.js';

const MAX_BACKLOG_BYTES = 64 << 20;

export function eventRecord(e: Event): Record<string, unknown> {
  const rec = eventSummary(e);
  rec.node = e.nodeName;
  const w = e.workload;
  if (w) {
    rec.workload = w.name;
    if (w.pod) rec.pod = w.namespace ? `${w.namespace}/${w.pod}` : w.pod;
    if (w.containerId) rec.container = w.containerId.slice(0, 12);
    if (w.containerInfo?.image) rec.image = w.containerInfo.image;
  }
  if (e.process && e.type !== 'exec') rec.exe = e.process.exe;
  if (e.type === 'exec') {
    const { vpid } = execMore(e);
    if (vpid && vpid !== e.pid) rec.vpid = vpid;
  }
  return rec;
}

export class EventLog {
  private readonly out: WriteStream;
  written = 0;
  dropped = 0;
  private warnedAt = 0;

  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.out = createWriteStream(path, { flags: 'a', mode: 0o600 });
    this.out.on('error', (err) => log.error({ path, err: err.message }, 'event log write failed'));
  }

  write(e: Event): void {
    if (this.out.writableLength > MAX_BACKLOG_BYTES) {
      this.dropped++;
      const now = Date.now();
      if (now - this.warnedAt > 5000) {
        this.warnedAt = now;
        this.log.warn({ path: this.path, dropped: this.dropped }, 'event log cannot keep up; lines dropped');
      }
      return;
    }
    this.out.write(`${JSON.stringify(eventRecord(e))}\n`);
    this.written++;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }
}

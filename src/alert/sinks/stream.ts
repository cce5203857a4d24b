// The stdout sink: one line per alert, for a person (text) or a machine
// (Vigil JSON, or Falco's shape for tools that read Falco's stdout).
import type { Alert } from '../../model/alert.js';
import type { Logger } from '../../log.js';
import { falcoJson, textLine, vigilJson } from '../render.js';
import { emptyStats, type Sink, type SinkStats } from './sink.js';

const DRAIN_TIMEOUT_MS = 5000;

export type StreamFormat = 'text' | 'json' | 'falco';

export const RENDER: Record<StreamFormat, (a: Alert) => string> = { text: textLine, json: vigilJson, falco: falcoJson };

export class StreamSink implements Sink {
  private readonly s: SinkStats;
  private readonly render: (a: Alert) => string;
  private readonly onError = (err: NodeJS.ErrnoException) => {
    this.failed = true;
    this.log.error({ sink: this.id, err: err.code ?? err.message }, 'stdout alert sink cannot write; its alerts are dropped');
  };
  private failed = false;

  constructor(
    readonly id: string,
    format: StreamFormat,
    private readonly out: NodeJS.WritableStream,
    private readonly log: Logger,
  ) {
    this.s = emptyStats(id, 'stdout', 'stdout');
    this.render = RENDER[format];
    out.on('error', this.onError);
  }

  write(alert: Alert): void {
    if (this.failed) {
      this.s.dropped++;
      return;
    }
    this.out.write(`${this.render(alert)}\n`);
    this.s.delivered++;
  }

  stats(): SinkStats {
    return { ...this.s };
  }

  async close(): Promise<void> {
    const out = this.out as NodeJS.WritableStream & { writableNeedDrain?: boolean };
    if (out.writableNeedDrain && !this.failed) {
      // A reader that never reads must not hold the engine's shutdown forever.
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        new Promise<boolean>((resolve) => out.once('drain', () => resolve(true))),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), DRAIN_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
      if (!drained) this.log.error({ sink: this.id }, 'stdout is not being read: alerts still buffered for it at shutdown are lost');
    }
    out.off('error', this.onError);
  }
}

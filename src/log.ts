// Structured logs (pino) on stderr; stdout belongs to the stdout alert sink.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string, opts: { destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level,
      base: { name: 'vigil' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ fd: 2, sync: false }),
  );
}

/** A logger that drops everything (library use, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

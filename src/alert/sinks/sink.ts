// What every alert sink offers the dispatcher.
import type { Alert } from '../../model/alert.js';

export interface SinkStats {
  id: string;
  type: 'stdout' | 'file' | 'webhook' | 'slack';
  /** Where alerts go, safe to show: "stdout", a file path, or an endpoint's host. */
  target: string;
  /** Alerts written (local sinks) or acknowledged with a 2xx (remote sinks). */
  delivered: number;
  /** Attempts that were a retry of a failed one. */
  retried: number;
  /** Attempts that failed (refused, timed out, 5xx, 429…). */
  failedAttempts: number;
  /** Alerts lost: past the queue's disk cap (remote), or a failed write (local). Always logged at error level. */
  dropped: number;
  /** Alerts the endpoint refused as malformed (400, 413, 422): retrying cannot help; logged at error level. */
  rejected: number;
  /** Alerts waiting in the durable queue, and their bytes (0 for local sinks). */
  queuedAlerts: number;
  queuedBytes: number;
}

export interface Sink {
  readonly id: string;
  /** Hands the sink an alert; never throws, never blocks on the network. */
  write(alert: Alert): void;
  stats(): SinkStats;
  /** Writes out what is buffered; remote sinks cancel in-flight attempts and keep the rest queued on disk. */
  close(): Promise<void>;
}

export function emptyStats(id: string, type: SinkStats['type'], target: string): SinkStats {
  return { id, type, target, delivered: 0, retried: 0, failedAttempts: 0, dropped: 0, rejected: 0, queuedAlerts: 0, queuedBytes: 0 };
}

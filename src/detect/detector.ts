// A detection stage: looks at each enriched event and raises alerts.
// Rules (signatures) and profiles (baselines) are detectors.
import type { Alert } from '../model/alert.js';
import type { ProcessTree } from '../enrich/process-tree.js';
import type { Event } from '../model/event.js';

export interface DetectContext {
  tree: ProcessTree;
  /** Hands an alert on to delivery and response. */
  raise(alert: Alert): void;
}

export interface Detector {
  readonly name: string;
  onEvent(e: Event, ctx: DetectContext): void;
  /** Stops timers, watchers. */
  close?(): void | Promise<void>;
}

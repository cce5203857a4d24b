// A detection stage: looks at each enriched event and raises alerts.
// Rules (signatures) and profiles (baselines) are detectors.
import type { Alert, AlertDraft } from '../model/alert.js';
import type { ProcessTree } from '../enrich/process-tree.js';
import type { Event, EventType } from '../model/event.js';

export interface DetectContext {
  tree: ProcessTree;
  /** Hands an alert on to delivery and response. */
  raise(alert: Alert): void;
  /**
   * Raises the alert `build` makes from `draft`, unless noise control would
   * only count it into an identical alert already sent and nothing else
   * needs it (no response, no other subscriber): then it is counted
   * without being built. Absent: every alert is built and raised.
   */
  raiseUnlessFolded?(draft: AlertDraft, build: () => Alert): void;
}

export interface Detector {
  readonly name: string;
  /** The only event types onEvent looks at, when it looks at few: the engine calls it for those alone. Absent: every type. */
  readonly types?: readonly EventType[];
  onEvent(e: Event, ctx: DetectContext): void;
  /** Stops timers, watchers. */
  close?(): void | Promise<void>;
}

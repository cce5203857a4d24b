// Events of a cgroup whose identity is being asked for (a new container:
// its runtime is asked who it is) wait here, in order, until the answer
// comes or `holdMs` passes, so a container's first events already carry
// its name, image and pod. Bounded: past `maxEvents` held in all, an event
// goes on at once with the identity known so far; nothing is dropped.
// Only the held cgroups wait; every other event flows past.
import type { Event } from '../model/event.js';

export interface EventHoldOptions {
  holdMs: number;
  maxEvents: number;
  /** Hands a cgroup's held events on, oldest first. */
  release: (events: Event[]) => void;
}

interface Held {
  events: Event[];
  timer: NodeJS.Timeout;
}

export class EventHold {
  private readonly queues = new Map<number, Held>();
  /** Events held right now. */
  size = 0;
  readonly counts = {
    /** Events that waited. */
    held: 0,
    /** Cgroups released because the answer came. */
    answered: 0,
    /** Cgroups released because `holdMs` passed first. */
    timedOut: 0,
    /** Events that went on unheld because the hold was full. */
    overflow: 0,
  };

  constructor(private readonly opts: EventHoldOptions) {}

  /** Whether a cgroup's events are being held (later ones must queue behind them). */
  has(cgroupId: number): boolean {
    return this.queues.has(cgroupId);
  }

  /** Queues an event behind its cgroup's held ones; false when the hold is full (handle it now). */
  add(e: Event): boolean {
    const q = this.queues.get(e.cgroupId);
    if (!q) return false;
    if (this.size >= this.opts.maxEvents) {
      // Full: this cgroup's queue goes on now, then this event after it, so the order holds.
      this.release(e.cgroupId, 'overflow');
      return false;
    }
    q.events.push(e);
    this.size++;
    this.counts.held++;
    return true;
  }

  /** Starts holding a cgroup's events until `ready` settles or `holdMs` passes; false when full. */
  hold(e: Event, ready: Promise<void>): boolean {
    if (this.size >= this.opts.maxEvents) {
      this.counts.overflow++;
      return false;
    }
    const id = e.cgroupId;
    const timer = setTimeout(() => this.release(id, 'timeout'), this.opts.holdMs);
    this.queues.set(id, { events: [e], timer });
    this.size++;
    this.counts.held++;
    const answered = (): void => this.release(id, 'answered');
    ready.then(answered, answered);
    return true;
  }

  private release(id: number, why: 'answered' | 'timeout' | 'overflow'): void {
    const q = this.queues.get(id);
    if (!q) return;
    this.queues.delete(id);
    clearTimeout(q.timer);
    this.size -= q.events.length;
    if (why === 'answered') this.counts.answered++;
    else if (why === 'timeout') this.counts.timedOut++;
    else this.counts.overflow += q.events.length;
    this.opts.release(q.events);
  }

  /** Lets every held event go (the engine is stopping). */
  releaseAll(): void {
    for (const id of [...this.queues.keys()]) this.release(id, 'timeout');
  }
}

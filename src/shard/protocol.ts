// What the engine's main thread and its detection workers say to each
// other (engine.workers > 1, docs/workers.md). Every message is a plain
// object cloned by postMessage; batches carry their workload ids and
// ownership flags in typed arrays whose buffers are transferred.
import type { Config } from '../config/schema.js';
import type { NamesEvent, UserNamesState } from '../detect/rules/users.js';
import type { WorkloadProfileDocument } from '../detect/profile/document.js';
import type { Alert } from '../model/alert.js';
import type { Event } from '../model/event.js';
import type { Mode } from '../model/mode.js';
import type { Workload, WorkloadIdentity } from '../model/workload.js';
import type { WireProcessInfo } from '../probe/wire.js';

/** What a worker is started with (workerData). */
export interface ShardInit {
  config: Config;
  /** This worker's index, and how many there are: a workload belongs to ownerOf(key, count). */
  index: number;
  count: number;
  /** Stored profiles of this worker's workloads (the main thread read them all once). */
  docs: WorkloadProfileDocument[];
  /** The main thread's log level: the worker's lines are logged there. */
  logLevel: string;
}

/** No workload: a process-tree event of another worker's workload, applied to the tree only. */
export const NOT_OWNED = -1;

export type ToShard =
  /** A workload as the main thread resolved it, before its first event here (and again when its identity changed). */
  | { t: 'workload'; id: number; w: Workload }
  /** A mode changed on the main thread (the cluster, a fail policy): the worker's profiles follow. */
  | { t: 'mode'; key: string; mode: Mode }
  /**
   * Events in the order they arrived. wids[i]: the workload id of events[i]
   * when this worker owns it, else NOT_OWNED (fork, exec, exit and setid of
   * every workload reach every worker, so each keeps the whole process tree).
   */
  | {
    t: 'events';
    /**
     * The events' own bytes as the probe sent them, framed as one
     * ProbeMessage batch (decoded again in the worker: cheaper than
     * cloning objects), its buffer transferred; null when none.
     */
    bytes: Uint8Array | null;
    /** Per event: 1 its bytes are next in `bytes`, 0 it is next in `objects` (an event held for its container's identity). */
    kinds: Uint8Array;
    objects: Event[];
    times: Float64Array;
    nodeName: string;
    wids: Int32Array;
  }
  | { t: 'snapshot'; processes: WireProcessInfo[] }
  /** A cgroup's first event (or its held events released): its user names are asked for now, as Engine.onEvents does in one thread. */
  | { t: 'users-seen'; e: NamesEvent }
  /** A container that is gone: its user names are dropped. */
  | { t: 'users-forget'; containerId: string }
  | { t: 'call'; id: number; method: ShardCall; args: unknown[] }
  | { t: 'reload-rules' }
  | { t: 'stop' };

/** What the main thread asks of a worker's profiles (the control API, the console, a probe reconnecting). */
export type ShardCall = 'changeMode' | 'apply' | 'enforceAll' | 'flushDocs' | 'prefetchUsers';

/** What a worker asks of the main thread, which holds the probe link and the responder (readUserFiles: ReadUserFiles through the probe). */
export type MainCall = 'enforce' | 'relax' | 'kill' | 'readUserFiles';

export type FromShard =
  /** `tid`: the worker's thread id (benches account its CPU by it). */
  | { t: 'ready'; tid: number }
  | { t: 'alert'; alert: Alert }
  /** A mode this worker's profiles set (promotion, vigil mode, a policy): the main thread's registry follows. */
  | { t: 'mode'; key: string; mode: Mode }
  /** Workloads its profiles declared (a policy applied for a workload not seen yet). */
  | { t: 'declare'; identity: WorkloadIdentity }
  /** Profiles changed since the last: the main thread answers export, diff and the console from these. */
  | { t: 'docs'; docs: WorkloadProfileDocument[] }
  | { t: 'failed'; key: string; reason: string }
  /** Its user names' state when it changed (vigil status). */
  | { t: 'users'; state: UserNamesState }
  | { t: 'req'; id: number; method: MainCall; args: unknown[] }
  | { t: 'res'; id: number; value?: unknown; error?: string }
  | { t: 'log'; line: string }
  | { t: 'stopped' };

/**
 * The worker that owns a workload: by its key alone, so every thread and
 * every restart agrees. FNV-1a, then murmur3's finaliser: FNV's low bits
 * alone are poorly mixed (its lowest is the parity of the characters').
 */
export function ownerOf(key: string, count: number): number {
  if (count <= 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % count;
}

/** What of an event a worker's user names need (not the event: its process and workload are not cloned). */
export function namesEvent(e: Event): NamesEvent {
  const w = e.workload;
  return {
    pid: e.pid,
    cgroupId: e.cgroupId,
    process: e.process ? { ppid: e.process.ppid } : null,
    workload: w ? { containerId: w.containerId, cgroupPath: w.cgroupPath } : null,
  };
}

/** Event types every worker applies to its process tree (a process's identity and ancestry), whoever owns them. */
export function changesTree(type: Event['type']): boolean {
  return type === 'fork' || type === 'exec' || type === 'exit' || type === 'setid';
}

/** The limits a profile is built with (as the engine builds its detector's). */
export function profileLimits(config: Config) {
  const p = config.profiles;
  return {
    files: { maxEntries: p.limits.maxFileEntries, collapseAt: p.limits.collapseAt, exactBelow: p.protectedPaths },
    stableArgs: p.limits.stableArgs,
    widenAt: p.limits.widenAt,
    maxEntries: p.limits.maxEntries,
  };
}

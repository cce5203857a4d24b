// A process as the engine knows it: what it runs, who started it and what
// it ran before. The process tree (enrich/process-tree.ts) keeps them.
export interface Process {
  pid: number;
  ppid: number;
  uid: number;
  gid: number;
  comm: string;
  /** The executable's absolute path; '' while unknown. */
  exe: string;
  argv: string[];
  cwd: string;
  cgroupId: number;
  /** Controlling terminal (major << 20 | minor), 0 if none: interactive sessions have one. */
  tty: number;
  /** When it started (CLOCK_MONOTONIC ns), 0 when unknown: guards a kill against pid reuse. */
  startKtimeNs: number;
  /** Executables this pid ran before the current one, oldest first (bounded). */
  lineage: string[];
  exited: boolean;
  exitCode: number;
  /** How the engine learnt of it: the start-up snapshot, a fork or exec, or only a later event. */
  origin: 'snapshot' | 'fork' | 'exec' | 'event';
}

/** Walks a process's ancestry (the process tree): alerts name the parent chain. */
export interface ProcessLineage {
  /** The process and its ancestors, nearest first, up to `max` entries. */
  chain(p: Process, max?: number): Process[];
}

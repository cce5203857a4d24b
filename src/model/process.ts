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
  /** What the executable is (enrich/known-tools.ts): a known tool by content, else the basename of the file run; '' while unknown. */
  tool: string;
  /** What fds 0, 1 and 2 were at its last exec (model/event.ts stdioKind), 0 when unknown. */
  stdio: number;
  argv: string[];
  /** The environment at its last exec, redacted as sent (model/env.ts); null when unknown (running before the probe). */
  env: string[] | null;
  cwd: string;
  cgroupId: number;
  /** Controlling terminal (major << 20 | minor), 0 if none: interactive sessions have one. */
  tty: number;
  /** Capability bits (effective, permitted) as of its exec, fork or last set*id; null when unknown. */
  capEffective: number | null;
  capPermitted: number | null;
  /** The audit login uid (-1: nobody logged in); null when unknown. */
  loginuid: number | null;
  /** Its pid in its own pid namespace (a container's); 0 when unknown. */
  vpid: number;
  /** Whether its executable is on an overlay's upper layer (not from the image); null when unknown. */
  exeUpperLayer: boolean | null;
  /** When it started (CLOCK_MONOTONIC ns), 0 when unknown: guards a kill against pid reuse. */
  startKtimeNs: number;
  /** Executables this pid ran before the current one, oldest first (bounded). */
  lineage: string[];
  exited: boolean;
  exitCode: number;
  /** How the engine learnt of it: the start-up snapshot, a fork or exec, or only a later event. */
  origin: 'snapshot' | 'fork' | 'exec' | 'event';
  /**
   * Detection state kept on the process itself (rule thresholds counted
   * per process), so it costs no lookup and goes when the process does;
   * `stateOwner` says which rule set it belongs to (a reload starts over).
   */
  state: unknown[] | null;
  stateOwner: object | null;
}

/** Walks a process's ancestry (the process tree): alerts name the parent chain. */
export interface ProcessLineage {
  /** The process and its ancestors, nearest first, up to `max` entries. */
  chain(p: Process, max?: number): Process[];
}

// What field extractors read besides the event itself: the process tree
// (parents, ancestors), user names, process start times, and caches of
// strings built from argv, so a long-running process's command line is
// joined once, not once per event.
import type { ProcessTree } from '../../enrich/process-tree.js';
import type { Process } from '../../model/process.js';
import type { Workload } from '../../model/workload.js';
import { forkMore, type Event } from '../../model/event.js';
import { redactArgv } from '../../model/argv.js';
import { DnsNames } from './dns-names.js';
import { UserNames } from './users.js';

/** How far proc.aname & co. look up the parent chain. */
export const MAX_ANCESTORS = 32;

export class FieldContext {
  tree: ProcessTree | null = null;
  /** Events seen by the rules (evt.num); the first is 1. */
  seq = 0;
  readonly users: UserNames;
  /** Domain names rules compare addresses with (fd.sip.name); the detector says which to watch. */
  dns: DnsNames = new DnsNames();
  /** Start times (ktime ns) of processes whose fork was seen. Weak: forgotten with the process. */
  private readonly starts = new WeakMap<Process, number>();
  private readonly argsCache = new WeakMap<readonly string[], string>();
  private readonly cmdlineCache = new WeakMap<readonly string[], { argv: readonly string[]; comm: string; line: string }>();
  /** The last argv args() and cmdline() answered for (held until the next: one command line). */
  private lastArgv: readonly string[] | null = null;
  private lastArgs = '';
  private lastCmdline: { argv: readonly string[]; comm: string; line: string } | null = null;
  private lastWorkload: Workload | null = null;
  private lastContainerId = '';
  private readonly containerIds = new WeakMap<Workload, string>();

  /**
   * Set while an output is rendered: argv is read with its secrets redacted
   * (model/argv.ts), as it leaves the engine; conditions read it whole, so
   * a rule on `--password` or `-p` in a command line still fires.
   */
  redacting = false;

  constructor(users = new UserNames()) {
    this.users = users;
    users.treeOf = () => this.tree;
  }

  /** Records when a forked child started (proc.duration). */
  noteFork(e: Event): void {
    const child = this.tree?.get(forkMore(e).childPid);
    if (child) this.starts.set(child, e.ktimeNs);
  }

  startOf(p: Process): number | undefined {
    return this.starts.get(p);
  }

  parent(p: Process | null): Process | undefined {
    return p && this.tree ? this.tree.parent(p) : undefined;
  }

  /** The n-th ancestor (0 = the process itself). */
  ancestor(p: Process | null, n: number): Process | undefined {
    let cur: Process | undefined = p ?? undefined;
    for (let i = 0; i < n && cur; i++) {
      const next: Process | undefined = this.parent(cur);
      if (next === cur) return undefined;
      cur = next;
    }
    return cur;
  }

  /** argv as the field reads it now: whole for conditions, redacted for outputs. */
  argv(argv: readonly string[]): readonly string[] {
    return this.redacting ? redactArgv(argv) : argv;
  }

  /** argv[1..] joined by spaces; undefined when argv is unknown. */
  args(whole: readonly string[]): string | undefined {
    if (whole.length === 0) return undefined;
    const argv = this.argv(whole);
    // The last one first: an exec's rules ask for the same argv (the decoder interns it) several times.
    if (argv === this.lastArgv) return this.lastArgs;
    let s = this.argsCache.get(argv);
    if (s === undefined) {
      s = argv.length > 1 ? argv.slice(1).join(' ') : '';
      this.argsCache.set(argv, s);
    }
    this.lastArgv = argv;
    this.lastArgs = s;
    return s;
  }

  /** Falco's proc.cmdline: the process name, then its arguments. */
  cmdline(comm: string, whole: readonly string[]): string | undefined {
    if (whole.length === 0) return comm || undefined;
    const argv = this.argv(whole);
    const last = this.lastCmdline;
    if (last !== null && last.argv === argv && last.comm === comm) return last.line;
    let c = this.cmdlineCache.get(argv);
    if (c === undefined || c.comm !== comm) {
      const a = this.args(argv)!;
      c = { argv, comm, line: a ? `${comm} ${a}` : comm };
      this.cmdlineCache.set(argv, c);
    }
    this.lastCmdline = c;
    return c.line;
  }

  /**
   * container.id: the container's id, 12 characters as Falco prints it,
   * when the cgroup is a container's; "host" for the host itself;
   * otherwise the last component of the cgroup path, so
   * `container.id != host` means "not the host".
   */
  containerId(w: Workload | null): string | undefined {
    if (!w) return undefined;
    // The last workload first: an event's rules ask several times, and its workload's next event comes soon.
    if (w === this.lastWorkload) return this.lastContainerId;
    let id = this.containerIds.get(w);
    if (id === undefined) {
      if (w.containerId) id = w.containerId.slice(0, 12);
      else if (w.kind === 'host') id = 'host';
      else {
        const path = w.cgroupPath.replace(/\/+$/, '');
        id = path.slice(path.lastIndexOf('/') + 1) || w.key;
      }
      this.containerIds.set(w, id);
    }
    this.lastWorkload = w;
    this.lastContainerId = id;
    return id;
  }

}

// Enforce mode in the kernel: a workload's allowed executables,
// destinations and protected-path writes go to the probe as a policy for
// each of its policy roots (cgroups whose descendants it covers), with
// bpf() refused outright (bpf/deny.bpf.h: no workload profile allows it). What
// this node cannot enforce is said at the mode change, never left to fail
// open silently. Never over Vigil itself: a workload whose cgroups hold the
// engine or the probe is refused (enrich/vigil-cgroups.ts).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { EnforceResult, KernelPolicy } from '../detect/profile/policy.js';
import type { VigilCgroups } from '../enrich/vigil-cgroups.js';
import type { WorkloadRegistry } from '../enrich/workloads.js';
import type { Logger } from '../log.js';
import { MECHANISMS, type Mechanism } from '../model/event.js';
import type { Workload, WorkloadCgroup } from '../model/workload.js';
import type { ProbeLink } from '../probe/link.js';
import { ExecIdentities } from './exec-identity.js';

export interface EnforcementOptions {
  link: ProbeLink;
  registry: WorkloadRegistry;
  /** Where a write needs the profile's say-so. */
  protectedPaths: readonly string[];
  /** Named workloads' configured cgroups (config workloads[]): their policy covers children from their first instruction. */
  named: readonly { name: string; cgroup: string }[];
  /** Vigil's own cgroups: no policy may cover them. */
  vigil: Pick<VigilCgroups, 'covering'>;
  log: Logger;
  /**
   * A workload in enforce mode was refused enforcement because its cgroups
   * hold Vigil's own processes (a probe connected there, a new cgroup, a
   * mode set by config or the cluster): the caller takes it back to monitor
   * and says so. A refused mode change (enforce()'s result) is not reported here.
   */
  onRefused: (w: Workload, reason: string) => void;
  /** A policy could not be put in place for a cgroup (a new one, or after a probe restart): fail open or closed, and say so. */
  onFailure: (w: Workload, error: string) => void;
  /**
   * A workload entered enforcement on a node where some operations are not
   * denied before they happen (the caller is killed after the call
   * completes, or nothing stops them in the kernel): one alert naming them,
   * per workload and probe session, never a silently weaker mode.
   */
  onWeaker: (w: Workload, message: string) => void;
}

/** How the connected probe stops one enforced operation on its node. */
export interface OperationMechanism {
  operation: string;
  mechanism: Mechanism;
  program: string;
  why: string;
}

export class Enforcement {
  /** Workloads under enforcement: their kernel policy and the roots it went to. */
  private readonly active = new Map<string, { policy: KernelPolicy; roots: Map<number, WorkloadCgroup> }>();
  private readonly link: ProbeLink;
  private readonly registry: WorkloadRegistry;
  private readonly protectedPaths: readonly string[];
  private readonly named: readonly { name: string; cgroup: string }[];
  private readonly vigil: Pick<VigilCgroups, 'covering'>;
  private readonly log: Logger;
  private readonly onRefused: (w: Workload, reason: string) => void;
  private readonly onFailure: (w: Workload, error: string) => void;
  private readonly onWeaker: (w: Workload, message: string) => void;
  private readonly weakerSaid = new Set<string>();
  private readonly identities = new ExecIdentities();
  private readonly rechecked = new Map<string, number>();
  /**
   * What each root's last push sent, and to which probe session: a probe
   * that connects gets every policy from enforceAll's enforce() and then
   * from reapply(); the second is skipped when the first sent the same.
   */
  private readonly sent = new Map<number, { session: string; policy: KernelPolicy }>();

  constructor(opts: EnforcementOptions) {
    this.link = opts.link;
    this.registry = opts.registry;
    this.protectedPaths = opts.protectedPaths;
    this.named = opts.named;
    this.vigil = opts.vigil;
    this.log = opts.log;
    this.onRefused = opts.onRefused;
    this.onFailure = opts.onFailure;
    this.onWeaker = opts.onWeaker;
    this.registry.onNewCgroup((w, cg) => {
      const a = this.active.get(w.key);
      if (a?.roots.has(cg.id)) return;
      const own = w.mode === 'enforce' || a ? this.vigil.covering([cg]) : '';
      if (own) {
        // Vigil showed up inside an enforced workload (a probe started there):
        // the policy comes off all of it rather than cover Vigil.
        this.log.error({ workload: w.name, cgroup: cg.path, why: own }, 'not enforcing a workload that holds Vigil itself');
        if (a) void this.relax(w);
        this.onRefused(w, own);
        return;
      }
      if (!a) return;
      // A new replica or a new container: it gets the policy as well.
      a.roots.set(cg.id, cg);
      void this.push(cg, a.policy).then((r) => {
        if (!r.ok) this.onFailure(w, r.error);
      });
    });
  }

  /**
   * The cgroups whose subtrees a workload's kernel policy covers: a named
   * workload's configured cgroup (so its future children are covered from
   * their first instruction) and every cgroup it has been seen in.
   */
  private rootsOf(w: Workload): WorkloadCgroup[] {
    const roots = new Map(this.registry.cgroupsOf(w.key).map((c) => [c.id, c]));
    const named = w.kind === 'named' ? this.named.find((n) => n.name === w.name) : undefined;
    const mount = this.registry.cgroupMount;
    if (named && mount) {
      try {
        const id = statSync(join(mount, named.cgroup)).ino;
        roots.set(id, { id, path: named.cgroup });
      } catch {
        // not created yet: its cgroups are added as they show up
      }
    }
    return [...roots.values()];
  }

  isEnforced(key: string): boolean {
    return this.active.has(key);
  }

  /** Why a workload may not be enforced on this node ('' when it may): its cgroups hold Vigil's own processes. */
  refusal(w: Workload): string {
    return this.vigil.covering(this.rootsOf(w));
  }

  /** What this node's probe cannot do of a policy (empty when it can do all of it). */
  gaps(policy: KernelPolicy): string[] {
    const out = [...policy.afterTheFact];
    const can = (c: string): boolean | null => this.link.can(c);
    if (can('exec-kill') === null) {
      out.push('no probe is connected: nothing is enforced in the kernel until one connects');
      return out;
    }
    const mech = this.mechanisms();
    if (mech.length === 0) {
      // A probe that does not say how it enforces (older than mechanisms).
      if (!can('exec-kill')) out.push('this node cannot kill at exec: unlisted executables are killed after they start');
      if (!can('connect-refuse')) out.push('this node cannot refuse connects (no cgroup v2 connect hook): unlisted connects are answered by killing the process after the connect');
      if (!can('write-kill')) out.push('this node cannot kill writers before they write: unlisted writes are answered after the fact');
      return out;
    }
    const { late, none } = weaker(mech);
    if (late.length) out.push(`on this node ${late.join(', ')} ${late.length === 1 ? 'is' : 'are'} stopped by killing the caller at the syscall's entry: the call itself completes (${late.includes('exec') ? 'an unlisted program is killed before it runs, but ' : ''}a protected file is still deleted, truncated, renamed or chmod-ed)`);
    if (none.length) out.push(`on this node ${none.join(', ')} ${none.length === 1 ? 'is' : 'are'} not stopped in the kernel (no BPF LSM or fmod_ret here)`);
    return out;
  }

  /** How the connected probe stops each operation ([] when none is connected or it does not say). */
  mechanisms(): OperationMechanism[] {
    const hooks = this.link.current()?.hello.enforcement ?? [];
    return hooks.map((h) => ({ operation: h.operation, mechanism: MECHANISMS[h.mechanism] ?? '', program: h.program, why: h.why }));
  }

  private sayIfWeaker(w: Workload): void {
    const session = this.link.current()?.hello.sessionId;
    const { late, none } = weaker(this.mechanisms());
    if (!session || (!late.length && !none.length)) return;
    const key = `${w.key}\0${session}`;
    if (this.weakerSaid.has(key)) return;
    this.weakerSaid.add(key);
    const parts: string[] = [];
    if (late.length) parts.push(`${late.join(', ')} can still complete before the caller is killed (syscall-entry kill)`);
    if (none.length) parts.push(`${none.join(', ')} ${none.length === 1 ? 'is' : 'are'} not stopped in the kernel`);
    this.onWeaker(w, `${w.name} is enforced with a weaker mechanism on this node: ${parts.join('; ')}. This kernel gives no BPF LSM or fmod_ret for them (vigil status shows why).`);
  }

  /** Puts a workload under its kernel policy (replacing an earlier one). */
  async enforce(w: Workload, policy: KernelPolicy): Promise<EnforceResult> {
    const roots = new Map(this.rootsOf(w).map((c) => [c.id, c]));
    const own = this.vigil.covering([...roots.values()]);
    if (own) {
      this.log.error({ workload: w.name, why: own }, 'not enforcing a workload that holds Vigil itself');
      if (this.active.has(w.key)) await this.relax(w);
      // After this call's caller is done: it may be a mode listener, and the caller changes the mode.
      if (w.mode === 'enforce') queueMicrotask(() => this.onRefused(w, own));
      return { ok: false, error: `Vigil does not enforce ${w.name}: ${own} (enforcing it would stop Vigil itself)`, warnings: [], holdsVigil: true };
    }
    this.active.set(w.key, { policy, roots });
    const warnings = this.gaps(policy);
    if (roots.size === 0) warnings.push(`${w.name} has no cgroups on this node yet: the policy follows it when it shows up`);
    this.sayIfWeaker(w);
    if (!this.link.current()) return { ok: true, error: '', warnings };
    for (const root of roots.values()) {
      const r = await this.push(root, policy);
      if (!r.ok) return { ok: false, error: `cgroup ${root.path}: ${r.error}`, warnings };
    }
    this.log.info({ workload: w.name, roots: [...roots.values()].map((r) => r.path), executables: policy.exec.length, destinations: policy.connect.length, names: policy.names.length, writes: policy.write.length }, 'enforcing in the kernel');
    return { ok: true, error: '', warnings };
  }

  /**
   * An exec at `path` was stopped: when it is a learned executable whose
   * file changed identity (written, chmod-ed, linked, replaced), its
   * content is looked at again and the policy re-sent, so an identical
   * content is allowed from the next exec on (at most once a second).
   */
  recheck(w: Workload, path: string): void {
    const a = this.active.get(w.key);
    if (!a || !a.policy.execContents.some((c) => c.path === path)) return;
    const now = Date.now();
    if (now - (this.rechecked.get(w.key) ?? 0) < 1000) return;
    this.rechecked.set(w.key, now);
    for (const root of a.roots.values()) {
      void this.push(root, a.policy).then((r) => {
        if (!r.ok && this.link.current()) this.log.error({ workload: w.name, error: r.error }, 'could not re-apply the kernel policy');
      });
    }
  }

  /** Takes a workload out of enforcement. */
  async relax(w: Workload): Promise<void> {
    const a = this.active.get(w.key);
    if (!a) return;
    this.active.delete(w.key);
    for (const root of a.roots.values()) {
      this.sent.delete(root.id);
      const r = await this.link.send({ setPolicy: { rootCgroupId: root.id, exec: false, connect: false, write: false, bpf: false, execAllow: [], connectAllow: [], writeAllow: [], connectNames: [], execIdentity: [] } });
      if (!r.ok && this.link.current()) this.log.error({ workload: w.name, error: r.error }, 'could not remove the kernel policy');
    }
  }

  /** A probe connected with empty maps: protected paths and every policy go back in. */
  async reapply(): Promise<void> {
    const r = await this.link.send({ setProtectedPaths: { prefixes: [...this.protectedPaths] } });
    if (!r.ok) this.log.error({ error: r.error }, 'could not set the protected paths');
    const session = this.link.current()?.hello.sessionId;
    for (const [key, a] of this.active) {
      for (const root of a.roots.values()) {
        const last = this.sent.get(root.id);
        if (session && last?.session === session && last.policy === a.policy) continue; // in place already (or on its way)
        const res = await this.push(root, a.policy);
        if (!res.ok) {
          const w = this.registry.find(key);
          this.log.error({ workload: w?.name ?? key, error: res.error }, 'could not re-apply the kernel policy');
          if (w) this.onFailure(w, res.error);
        }
      }
    }
  }

  private push(root: WorkloadCgroup, p: KernelPolicy) {
    const mount = this.registry.cgroupMount;
    const identities = mount ? this.identities.resolve(p.execContents, join(mount, root.path)) : null;
    if (identities === null && p.execContents.length) {
      // Said, not silent: until a process runs there, a learned path allows whatever file is at it.
      this.log.warn({ cgroup: root.path, executables: p.execContents.length }, 'no process in the cgroup to look up learned executables through: allowed by path until one runs');
    }
    const replaced = (identities ?? []).filter((i) => i.ino === 0).map((i) => i.path);
    if (replaced.length) this.log.warn({ cgroup: root.path, executables: replaced }, 'the file at a learned executable path is not the one learned: it is not allowed');
    const mark = { session: this.link.current()?.hello.sessionId ?? '', policy: p };
    this.sent.set(root.id, mark);
    const sending = this.link.send({
      setPolicy: {
        rootCgroupId: root.id, exec: true, connect: this.link.can('connect-refuse') === true, write: true, bpf: true,
        execAllow: p.exec, connectAllow: p.connect, writeAllow: p.write, connectNames: p.names, execIdentity: identities ?? [],
      },
    });
    // Not in place after all: the next reapply sends it again.
    return sending.then((r) => {
      if (!r.ok && this.sent.get(root.id) === mark) this.sent.delete(root.id);
      return r;
    });
  }
}

/** Operations only killed after the call (late) and not stopped in the kernel at all (none). */
function weaker(mech: OperationMechanism[]): { late: string[]; none: string[] } {
  return {
    late: mech.filter((m) => m.mechanism === 'kill-at-entry').map((m) => m.operation),
    none: mech.filter((m) => m.mechanism === '').map((m) => m.operation),
  };
}

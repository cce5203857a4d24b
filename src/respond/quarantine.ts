// Network quarantine of a workload: every packet in and out of its
// cgroups is dropped (cgroup_skb in the probe) while its processes keep
// running for forensics. The set of quarantined workloads is state: it
// survives an engine restart and is re-applied whenever a probe connects
// or the workload shows up in a new cgroup. Never Vigil itself: cgroups
// that hold the engine or the probe are refused (enrich/vigil-cgroups.ts).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { VigilCgroups } from '../enrich/vigil-cgroups.js';
import type { WorkloadRegistry } from '../enrich/workloads.js';
import type { Workload, WorkloadCgroup } from '../model/workload.js';
import type { CommandResult } from '../model/result.js';
import type { Logger } from '../log.js';
import { readStateFile, writeFileAtomic } from '../state/files.js';
import type { ProbeLink } from '../probe/link.js';

interface QuarantineRecord {
  key: string;
  name: string;
  since: string;
  reason: string;
  /** Cgroups it was applied to: re-applied after a restart before the workload makes a sound. */
  cgroups: WorkloadCgroup[];
}

function parseState(v: unknown): QuarantineRecord[] {
  const list = (v as { quarantined?: unknown }).quarantined;
  if (!Array.isArray(list)) throw new Error('no "quarantined" list');
  return list.map((r, i) => {
    const q = r as Partial<QuarantineRecord>;
    if (typeof q.key !== 'string' || typeof q.name !== 'string') throw new Error(`quarantined[${i}] lacks key or name`);
    const cgroups = Array.isArray(q.cgroups)
      ? q.cgroups.filter((c): c is WorkloadCgroup => typeof c?.id === 'number' && typeof c?.path === 'string')
      : [];
    return { key: q.key, name: q.name, since: String(q.since ?? ''), reason: String(q.reason ?? ''), cgroups };
  });
}

/** Kubernetes: labels a quarantined pod so the deny-all NetworkPolicy applies cluster-wide. */
export interface PodLabels {
  quarantinePod(w: Workload): Promise<boolean>;
  releasePod(w: Workload): Promise<boolean>;
}

export interface QuarantinesOptions {
  /** Where the set of quarantined workloads is kept (quarantine.json). */
  stateDir: string;
  registry: WorkloadRegistry;
  link: ProbeLink;
  /** Vigil's own cgroups: never quarantined. */
  vigil: Pick<VigilCgroups, 'covering'>;
  log: Logger;
  /** Kubernetes: the pod label half of a quarantine; null off-cluster. */
  pods?: PodLabels | null;
}

export class Quarantines {
  private readonly records = new Map<string, QuarantineRecord>();
  private readonly file: string;
  private readonly registry: WorkloadRegistry;
  private readonly link: ProbeLink;
  private readonly vigil: Pick<VigilCgroups, 'covering'>;
  private readonly log: Logger;
  private readonly pods: PodLabels | null;

  constructor(opts: QuarantinesOptions) {
    this.registry = opts.registry;
    this.link = opts.link;
    this.vigil = opts.vigil;
    this.log = opts.log;
    this.pods = opts.pods ?? null;
    this.file = join(opts.stateDir, 'quarantine.json');
    for (const r of readStateFile(this.file, parseState, this.log) ?? []) this.records.set(r.key, r);
    if (this.records.size) this.log.warn({ workloads: [...this.records.values()].map((r) => r.name) }, 'workloads still quarantined from before the restart');
    this.registry.onNewCgroup((w, cg) => {
      // The workload's, or its pod's or container's when that alone is quarantined.
      for (const key of [w.key, ...this.registry.targetKeysOf(cg.id)]) if (this.records.has(key)) void this.apply(key, [cg]);
    });
  }

  isQuarantined(key: string): boolean {
    return this.records.has(key);
  }

  list(): QuarantineRecord[] {
    return [...this.records.values()];
  }

  async quarantine(w: Workload, reason: string): Promise<CommandResult> {
    if (this.link.can('quarantine') === false) return { ok: false, error: 'the probe on this node cannot quarantine (no cgroup v2)', detail: '' };
    const own = this.vigil.covering(this.registry.cgroupsOf(w.key));
    if (own) return { ok: false, error: refused(w.name, own), detail: '' };
    const fresh = !this.records.has(w.key);
    if (fresh) {
      this.records.set(w.key, { key: w.key, name: w.name, since: new Date().toISOString(), reason, cgroups: [] });
      this.save();
    }
    const cgroups = this.registry.cgroupsOf(w.key);
    if (cgroups.length === 0) return { ok: true, error: '', detail: `${w.name} has no cgroups yet: quarantined as soon as it shows up` };
    if (!this.link.current()) return { ok: true, error: '', detail: `no probe connected: ${w.name} is quarantined as soon as one connects` };
    const r = await this.apply(w.key, cgroups);
    if (r.ok && this.pods) r.detail += await this.labelPod(w, true);
    if (!r.ok && fresh) {
      // Not in force: do not claim it is.
      this.records.delete(w.key);
      this.save();
    }
    return r;
  }

  /** Lifts a quarantine, by workload name or key (it may not have been seen since a restart). */
  async release(nameOrKey: string): Promise<CommandResult> {
    const rec = this.records.get(nameOrKey) ?? [...this.records.values()].find((r) => r.name === nameOrKey);
    if (!rec) return { ok: false, error: `${nameOrKey} is not quarantined`, detail: '' };
    this.records.delete(rec.key);
    this.save();
    const cgroups = new Map(rec.cgroups.map((c) => [c.id, c]));
    for (const c of this.registry.cgroupsOf(rec.key)) cgroups.set(c.id, c);
    const w = this.registry.find(rec.key);
    const label = w && this.pods ? await this.labelPod(w, false) : '';
    if (cgroups.size === 0) return { ok: true, error: '', detail: `released${label}` };
    const r = await this.link.send({ release: { cgroups: [...cgroups.values()] } });
    if (r.ok) r.detail += label;
    return r;
  }

  /** The pod label half of a Kubernetes quarantine; failures are logged and said in the reply. */
  private async labelPod(w: Workload, on: boolean): Promise<string> {
    try {
      const done = on ? await this.pods!.quarantinePod(w) : await this.pods!.releasePod(w);
      return done ? (on ? `; pod ${w.namespace}/${w.pod} labelled for the deny-all NetworkPolicy` : `; pod ${w.namespace}/${w.pod} unlabelled`) : '';
    } catch (err) {
      this.log.error({ workload: w.name, pod: w.pod, err: (err as Error).message }, 'could not (un)label the pod');
      return `; the pod label could not be ${on ? 'set' : 'removed'}: ${(err as Error).message}`;
    }
  }

  /** Re-applies every quarantine (a probe connected: its kernel state starts empty). */
  async reapply(): Promise<void> {
    for (const [key, rec] of this.records) {
      const known = new Map(this.registry.cgroupsOf(key).map((c) => [c.id, c]));
      // Cgroups remembered from before a restart, if they are still the same directories.
      for (const c of rec.cgroups) if (!known.has(c.id) && this.stillThere(c)) known.set(c.id, c);
      if (known.size) await this.apply(key, [...known.values()]);
    }
  }

  private stillThere(c: WorkloadCgroup): boolean {
    const mount = this.registry.cgroupMount;
    if (!mount) return false;
    try {
      return statSync(join(mount, c.path)).ino === c.id;
    } catch {
      return false;
    }
  }

  private async apply(key: string, cgroups: WorkloadCgroup[]): Promise<CommandResult> {
    const rec = this.records.get(key);
    const own = this.vigil.covering(cgroups);
    if (own) {
      // Vigil showed up in a quarantined workload (a probe started there): it stays reachable.
      this.log.error({ workload: rec?.name ?? key, why: own }, 'not quarantining cgroups that hold Vigil itself');
      return { ok: false, error: refused(rec?.name ?? key, own), detail: '' };
    }
    const r = await this.link.send({ quarantine: { cgroups } });
    if (!r.ok) {
      this.log.error({ workload: rec?.name, error: r.error }, 'quarantine could not be applied');
    } else if (rec) {
      const ids = new Set(rec.cgroups.map((c) => c.id));
      const added = cgroups.filter((c) => !ids.has(c.id));
      if (added.length) {
        rec.cgroups.push(...added);
        this.save();
      }
    }
    return r;
  }

  private save(): void {
    writeFileAtomic(this.file, `${JSON.stringify({ quarantined: [...this.records.values()] }, null, 2)}\n`);
  }
}

function refused(name: string, why: string): string {
  return `Vigil does not quarantine ${name}: ${why} (a quarantine would cut Vigil itself off)`;
}

// Writes this node's findings as policy reports (src/report/policy-report.ts)
// where they are installed: wgpolicyk8s.io (Kyverno ships the CRDs;
// Policy Reporter reads them) and openreports.io (their successor), found
// through API discovery and looked for again now and then. Each node
// writes its own reports (named after the node), so nodes never contend
// for one object; a report is rewritten only when its results changed,
// and one whose namespace has no findings any more is deleted.
import { ApisApi, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { describeError, statusOf } from '../enrich/k8s/pods.js';
import type { WorkloadRegistry } from '../enrich/workloads.js';
import type { Logger } from '../log.js';
import type { Alert } from '../model/alert.js';
import { enforcementGaps, MECHANISMS } from '../model/event.js';
import type { ProbeSession } from '../probe/session.js';
import { Findings } from '../report/findings.js';
import { buildReports, isStateResult, nodeLabel, OPENREPORTS, reportName, reportObject, WGPOLICY, type NodeFacts, type ReportApi, type ReportBody, type ReportWorkload } from '../report/policy-report.js';

/** What the reports are made from (the engine, narrowly). */
export interface ReportSource {
  onAlert(fn: (a: Alert) => void): () => void;
  workloads(): ReportWorkload[];
  facts(): NodeFacts;
}

/** The report source from the parts the engine wires. */
export function reportSource(p: {
  onAlert(fn: (a: Alert) => void): () => void;
  registry: WorkloadRegistry;
  quarantines: { isQuarantined(key: string): boolean };
  probe: () => ProbeSession | undefined;
  sessions: () => readonly ProbeSession[];
}): ReportSource {
  return {
    onAlert: p.onAlert,
    workloads: () =>
      p.registry
        .all()
        .filter((w) => !w.key.startsWith('cgroup-id:'))
        .map((w) => ({ key: w.key, name: w.name, kind: w.kind, namespace: w.namespace, mode: w.mode, quarantined: p.quarantines.isQuarantined(w.key) })),
    facts: () => {
      const s = p.probe();
      const lost = p.sessions().reduce((n, x) => n + x.losses.ringbufFull + x.losses.inflightFull + x.losses.queueFull + x.losses.decodeErrors, 0);
      const hooks = (s?.hello.enforcement ?? []).map((h) => ({ operation: h.operation, mechanism: MECHANISMS[h.mechanism] ?? '' }));
      const gaps = s?.connected ? enforcementGaps(hooks, s.hello.capabilities ?? []) : [];
      return { probeConnected: !!s?.connected, kernelGaps: gaps, eventsLost: lost };
    },
  };
}

export interface PolicyReportOptions {
  node: string;
  intervalSeconds: number;
  maxResults: number;
}

/** Discovery is asked again after this many rounds (a CRD installed later is found). */
const DISCOVER_EVERY = 10;

export class PolicyReporter {
  readonly findings = new Findings();
  private readonly api: CustomObjectsApi;
  private readonly apis: ApisApi;
  private installed: ReportApi[] | null = null;
  private round = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;
  /** What was last written, by API and namespace ('' for the cluster report): rewritten only when it changes. */
  private readonly written = new Map<string, string>();
  writes = 0;
  failures = 0;
  private warnedNone = false;
  /** APIs whose reports by this node (from before a restart) have been looked up. */
  private readonly adopted = new Set<string>();

  constructor(
    kc: KubeConfig,
    private readonly source: ReportSource,
    private readonly opts: PolicyReportOptions,
    private readonly log: Logger,
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.apis = kc.makeApiClient(ApisApi);
  }

  start(): void {
    this.unsubscribe = this.source.onAlert((a) => this.findings.add(a));
    this.timer = setInterval(() => void this.sync(), this.opts.intervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** The report APIs this cluster serves. */
  private async discover(): Promise<ReportApi[]> {
    const list = await this.apis.getAPIVersions();
    const served = (api: ReportApi): boolean => list.groups.some((g) => g.name === api.group && g.versions.some((v) => v.version === api.version));
    return [WGPOLICY, OPENREPORTS].filter(served);
  }

  /** Writes every report that changed; one round at a time. */
  sync(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.round_().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async round_(): Promise<void> {
    try {
      if (this.installed === null || this.round++ % DISCOVER_EVERY === 0) this.installed = await this.discover();
    } catch (err) {
      this.failures++;
      this.log.error({ err: describeError(err) }, 'policy reports: API discovery failed; will retry');
      return;
    }
    if (this.installed.length === 0) {
      if (!this.warnedNone) this.log.warn('policy reports: neither wgpolicyk8s.io/v1alpha2 nor openreports.io/v1alpha1 is installed in this cluster; no reports written');
      this.warnedNone = true;
      return;
    }
    this.warnedNone = false;
    const built = buildReports({ node: this.opts.node, workloads: this.source.workloads(), findings: this.findings, facts: this.source.facts(), maxResults: this.opts.maxResults });
    for (const api of this.installed) {
      if (!this.adopted.has(api.group) && !(await this.adopt(api))) continue;
      const wanted = new Set<string>(['']);
      await this.write(api, null, built.cluster);
      for (const [ns, body] of built.namespaces) {
        wanted.add(ns);
        await this.write(api, ns, body);
      }
      // Namespaces this node reported on before and has nothing for now.
      for (const key of [...this.written.keys()]) {
        const [group, ns] = key.split('\0') as [string, string];
        if (group === api.group && !wanted.has(ns)) await this.remove(api, ns);
      }
    }
  }

  /**
   * This node's namespaced reports already in the cluster (written before the
   * engine restarted): known as written, so one whose namespace has nothing
   * now is deleted. Only objects with this node's name and label are taken.
   */
  private async adopt(api: ReportApi): Promise<boolean> {
    try {
      const list = (await this.api.listCustomObjectForAllNamespaces({
        group: api.group, version: api.version, plural: api.namespaced.plural, labelSelector: `vigil.dev/node=${nodeLabel(this.opts.node)}`,
      })) as { items?: { metadata?: { name?: string; namespace?: string } }[] };
      const name = reportName(this.opts.node);
      for (const o of list.items ?? []) {
        const ns = o.metadata?.namespace;
        if (o.metadata?.name === name && ns && !this.written.has(`${api.group}\0${ns}`)) this.written.set(`${api.group}\0${ns}`, '');
      }
      this.adopted.add(api.group);
      return true;
    } catch (err) {
      this.failures++;
      this.log.error({ api: api.group, err: describeError(err) }, 'policy reports: cannot list this node\'s reports; will retry');
      return false;
    }
  }

  private async write(api: ReportApi, namespace: string | null, body: ReportBody): Promise<void> {
    const key = `${api.group}\0${namespace ?? ''}`;
    const obj = reportObject(api, body, this.opts.node, namespace);
    // Timestamps of posture results move every round: compare without them.
    const digest = JSON.stringify({ ...obj, results: body.results.map((r) => (isStateResult(r) ? { ...r, timestamp: null } : r)) });
    if (this.written.get(key) === digest) return;
    const name = reportName(this.opts.node);
    const base = { group: api.group, version: api.version, plural: namespace === null ? api.cluster.plural : api.namespaced.plural };
    try {
      let current: { metadata?: { resourceVersion?: string } } | null = null;
      try {
        current = (namespace === null
          ? await this.api.getClusterCustomObject({ ...base, name })
          : await this.api.getNamespacedCustomObject({ ...base, namespace, name })) as { metadata?: { resourceVersion?: string } };
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
      if (current) {
        (obj.metadata as Record<string, unknown>).resourceVersion = current.metadata?.resourceVersion;
        if (namespace === null) await this.api.replaceClusterCustomObject({ ...base, name, body: obj });
        else await this.api.replaceNamespacedCustomObject({ ...base, namespace, name, body: obj });
      } else if (namespace === null) {
        await this.api.createClusterCustomObject({ ...base, body: obj });
      } else {
        await this.api.createNamespacedCustomObject({ ...base, namespace, body: obj });
      }
      this.written.set(key, digest);
      this.writes++;
    } catch (err) {
      this.failures++;
      this.log.error({ report: `${api.group} ${namespace ?? '(cluster)'}/${name}`, err: describeError(err) }, 'policy report could not be written; will retry');
    }
  }

  private async remove(api: ReportApi, namespace: string): Promise<void> {
    const key = `${api.group}\0${namespace}`;
    try {
      await this.api.deleteNamespacedCustomObject({ group: api.group, version: api.version, plural: api.namespaced.plural, namespace, name: reportName(this.opts.node) });
    } catch (err) {
      if (statusOf(err) !== 404) {
        this.failures++;
        this.log.error({ report: `${api.group} ${namespace}`, err: describeError(err) }, 'policy report could not be deleted; will retry');
        return;
      }
    }
    this.written.delete(key);
  }
}

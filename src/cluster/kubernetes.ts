// The engine's Kubernetes side in one place: API access (in-cluster
// service account or a kubeconfig), the resolver for this node, the
// cluster-wide WorkloadProfile store and its watch (modes set with kubectl
// reach this node's workloads), and pod quarantine by label.
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import type { Config } from '../config/schema.js';
import type { WorkloadProfileDocument, WorkloadProfileSpec } from '../detect/profile/document.js';
import type { Logger } from '../log.js';
import type { WorkloadRegistry } from '../enrich/workloads.js';
import type { Workload } from '../model/workload.js';
import { describeError } from '../enrich/k8s/pods.js';
import { asDocument, ProfileStore, publishProfile, setProfileMode, type MergeSpecs, type ProfileStatus, type WorkloadProfileStore } from './profile-store.js';
import type { Mode } from '../model/mode.js';
import type { ProfileSync } from '../detect/profile/detector.js';
import type { PodLabels } from '../respond/quarantine.js';
import { mergeSpecs } from '../detect/profile/policy.js';
import { PodQuarantine } from './quarantine-label.js';
import { KubernetesResolver } from '../enrich/k8s/resolver.js';
import { PolicyReporter, type ReportSource } from './policy-reports.js';

/** What the engine's stages see of the cluster: shared profiles (ProfileDetector) and pod labels (Quarantines). */
export interface ClusterHooks extends ProfileSync, PodLabels {}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** API access as configured: a kubeconfig file, or the pod's service account. */
export function loadKubeConfig(kubeconfig: string | null): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfig) {
    if (!existsSync(kubeconfig)) throw new Error(`kubernetes.kubeconfig: ${kubeconfig} does not exist`);
    kc.loadFromFile(kubeconfig);
    return kc;
  }
  if (!process.env.KUBERNETES_SERVICE_HOST || !existsSync(SERVICE_ACCOUNT_TOKEN)) {
    throw new Error(
      `kubernetes.enabled: not in a pod (no KUBERNETES_SERVICE_HOST or no service account token at ${SERVICE_ACCOUNT_TOKEN}); set kubernetes.kubeconfig`,
    );
  }
  kc.loadFromCluster();
  return kc;
}

/** This node's name as the API knows it: kubernetes.nodeName, else $NODE_NAME, else nodeName. */
export function clusterNodeName(config: Config): string {
  return config.kubernetes.nodeName ?? (process.env.NODE_NAME || config.nodeName);
}

export class KubernetesCluster {
  readonly resolver: KubernetesResolver;
  readonly profiles: WorkloadProfileStore | null;
  readonly quarantine: PodQuarantine | null;
  readonly nodeName: string;
  /** Profiles as last seen in the cluster, by workload key. */
  private readonly stored = new Map<string, WorkloadProfileDocument>();

  private readonly log: Logger;
  /** This node's findings as policy reports, once started. */
  reports: PolicyReporter | null = null;

  constructor(private readonly config: Config, log: Logger, private readonly kc: KubeConfig = loadKubeConfig(config.kubernetes.kubeconfig)) {
    this.log = log.child({ component: 'kubernetes' });
    this.nodeName = clusterNodeName(config);
    this.resolver = KubernetesResolver.forNode(kc, this.nodeName, log, { modeOf: (key) => this.stored.get(key)?.spec.mode });
    this.profiles = config.kubernetes.profileSync ? new ProfileStore<WorkloadProfileSpec, ProfileStatus>(kc, { log: this.log }) : null;
    this.quarantine = config.kubernetes.quarantineLabel ? new PodQuarantine(kc, this.log) : null;
  }

  /**
   * Starts the pod watch and the profile watch; waits for the first lists
   * at most `waitMs` (an unreachable API server must not keep the engine
   * from starting: events are then named by cgroup until it answers).
   */
  async start(workloads: WorkloadRegistry, waitMs = 15_000): Promise<void> {
    const started = Promise.all([
      this.resolver.start(),
      this.profiles?.watch((type, obj) => {
        const doc = asDocument(obj);
        const key = doc.spec.workload.key;
        if (type === 'deleted') {
          this.stored.delete(key);
          return;
        }
        this.stored.set(key, doc);
        // A mode changed with kubectl (or by another node) applies here too.
        const w = workloads.find(key);
        if (w && w.mode !== doc.spec.mode) {
          this.log.info({ workload: w.name, from: w.mode, to: doc.spec.mode }, 'mode changed in the cluster');
          workloads.setMode(w, doc.spec.mode);
        }
      }),
    ]).then(
      () => 'ok' as const,
      (err: unknown) => {
        this.log.error({ err: describeError(err) }, 'Kubernetes watches failed to start');
        return 'failed' as const;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), waitMs)));
    const outcome = await Promise.race([started, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') this.log.warn({ waitMs }, 'the Kubernetes API has not answered yet: going on, workloads are named by cgroup until it does');
  }

  async stop(): Promise<void> {
    await Promise.all([this.resolver.stop(), this.profiles?.stop(), this.reports?.stop()]);
  }

  /** Writes this node's findings as PolicyReports (kubernetes.policyReports). */
  startReports(source: ReportSource): PolicyReporter | null {
    const r = this.config.kubernetes.policyReports;
    if (!r.enabled) return null;
    this.reports = new PolicyReporter(this.kc, source, { node: this.nodeName, intervalSeconds: r.intervalSeconds, maxResults: r.maxResults }, this.log);
    this.reports.start();
    return this.reports;
  }

  /** The cluster's profile of a workload, as last seen by the watch. */
  storedProfile(key: string): WorkloadProfileDocument | undefined {
    return this.stored.get(key);
  }

  /** Merges what this node learned into the cluster's profile (Kubernetes workloads only). */
  async publish(learned: WorkloadProfileSpec, merge: MergeSpecs): Promise<WorkloadProfileDocument | null> {
    if (!this.profiles || !learned.workload.key.startsWith('k8s:')) return null;
    return publishProfile(this.profiles, learned, merge, this.nodeName);
  }

  /** Sets a workload's mode cluster-wide (every node's engine follows). */
  async setMode(key: string, mode: Mode): Promise<void> {
    if (this.profiles && key.startsWith('k8s:')) await setProfileMode(this.profiles, key, mode);
  }

  /** The engine's view of the cluster: shared profiles and pod labels. */
  hooks(): ClusterHooks {
    return {
      shares: (key) => this.profiles !== null && key.startsWith('k8s:'),
      stored: (key) => this.storedProfile(key),
      publish: async (doc) => {
        await this.publish(doc.spec, mergeSpecs);
      },
      setMode: (key, mode) => this.setMode(key, mode),
      quarantinePod: (w) => this.quarantinePod(w),
      releasePod: (w) => this.releasePod(w),
    };
  }

  /** Labels the workload's pod for the deny-all NetworkPolicy; false when not a pod or turned off. */
  async quarantinePod(w: Workload): Promise<boolean> {
    if (!this.quarantine || w.kind !== 'k8s' || !w.pod) return false;
    await this.quarantine.quarantine(w.namespace, w.pod);
    return true;
  }

  async releasePod(w: Workload): Promise<boolean> {
    if (!this.quarantine || w.kind !== 'k8s' || !w.pod) return false;
    await this.quarantine.release(w.namespace, w.pod);
    return true;
  }
}

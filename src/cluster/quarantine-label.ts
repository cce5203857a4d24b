// Kubernetes-mode quarantine: label the pod so the deny-all NetworkPolicy
// selects it, on whichever node its replicas run and whatever the CNI.
// A NetworkPolicy only selects pods of its own namespace, so the policy is
// made in the pod's namespace first (the same object as
// daemonset/networkpolicy-quarantine.yaml). Release removes the label; the
// policy stays and selects nothing.
import { CoreV1Api, NetworkingV1Api, setHeaderOptions, PatchStrategy, type KubeConfig, type V1NetworkPolicy } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { describeError, statusOf } from '../enrich/k8s/pods.js';

export const QUARANTINE_LABEL = 'vigil.dev/quarantine';
export const QUARANTINE_POLICY = 'vigil-quarantine';

/** Deny all ingress and egress of the pods labelled `vigil.dev/quarantine: "true"`. */
export function quarantinePolicy(namespace: string): V1NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: QUARANTINE_POLICY,
      namespace,
      labels: { 'app.kubernetes.io/name': 'vigil', 'app.kubernetes.io/component': 'quarantine' },
    },
    spec: {
      podSelector: { matchLabels: { [QUARANTINE_LABEL]: 'true' } },
      policyTypes: ['Ingress', 'Egress'],
    },
  };
}

export class PodQuarantine {
  private readonly core: CoreV1Api;
  private readonly net: NetworkingV1Api;
  private readonly policyIn = new Set<string>();

  constructor(kc: KubeConfig, private readonly log: Logger) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.net = kc.makeApiClient(NetworkingV1Api);
  }

  /** Cuts the pod off the network cluster-wide. */
  async quarantine(namespace: string, pod: string): Promise<void> {
    await this.ensurePolicy(namespace);
    await this.label(namespace, pod, 'true');
    this.log.warn({ namespace, pod }, 'pod quarantined: labelled for the deny-all NetworkPolicy');
  }

  async release(namespace: string, pod: string): Promise<void> {
    await this.label(namespace, pod, null);
    this.log.info({ namespace, pod }, 'pod released from quarantine');
  }

  private async ensurePolicy(namespace: string): Promise<void> {
    if (this.policyIn.has(namespace)) return;
    try {
      await this.net.readNamespacedNetworkPolicy({ namespace, name: QUARANTINE_POLICY });
    } catch (err) {
      if (statusOf(err) !== 404) throw new Error(`Kubernetes API: get networkpolicy ${namespace}/${QUARANTINE_POLICY}: ${describeError(err)}`, { cause: err });
      try {
        await this.net.createNamespacedNetworkPolicy({ namespace, body: quarantinePolicy(namespace) });
      } catch (createErr) {
        // 409: another node made it meanwhile.
        if (statusOf(createErr) !== 409) throw new Error(`Kubernetes API: create networkpolicy ${namespace}/${QUARANTINE_POLICY}: ${describeError(createErr)}`, { cause: createErr });
      }
    }
    this.policyIn.add(namespace);
  }

  // A JSON merge patch touching only the one label (null removes it).
  private async label(namespace: string, pod: string, value: 'true' | null): Promise<void> {
    try {
      await this.core.patchNamespacedPod(
        { namespace, name: pod, body: { metadata: { labels: { [QUARANTINE_LABEL]: value } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (err) {
      if (value === null && statusOf(err) === 404) return; // the pod is gone: nothing to release
      throw new Error(`Kubernetes API: label pod ${namespace}/${pod} ${QUARANTINE_LABEL}=${value ?? '(removed)'}: ${describeError(err)}`, { cause: err });
    }
  }
}

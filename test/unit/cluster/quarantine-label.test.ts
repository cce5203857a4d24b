// Kubernetes-mode quarantine: the pod gets the label the deny-all
// NetworkPolicy selects, and the policy is made in the pod's namespace.
// No Kubernetes API server can run here, so the API is a local fake
// (fake-api-server.ts) built from the documented shapes (merge patch per
// RFC 7386, 409 AlreadyExists on create); the client is the real one.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PodQuarantine, QUARANTINE_LABEL, quarantinePolicy } from '../../../src/cluster/quarantine-label.js';
import { silentLogger } from '../../../src/log.js';
import { FakeApiServer } from '../../support/kubernetes/fake-api-server.js';
import { containerId, NETWORKPOLICIES, pod, PODS } from '../../support/kubernetes/objects.js';

describe('pod quarantine by label (against a fake API server built from the documented shapes)', () => {
  let api: FakeApiServer;

  beforeEach(async () => {
    api = await FakeApiServer.start();
    api.put(PODS, pod({ name: 'web-1', namespace: 'shop', node: 'node-a', labels: { app: 'web', tier: 'frontend' }, containers: [{ name: 'app', id: containerId() }] }));
    api.put(PODS, pod({ name: 'web-2', namespace: 'shop', node: 'node-b', labels: { app: 'web' }, containers: [{ name: 'app', id: containerId() }] }));
  });

  afterEach(async () => {
    await api.close();
  });

  it('labels the pod, keeps its other labels, and makes the deny-all policy in its namespace', async () => {
    const q = new PodQuarantine(api.kubeConfig(), silentLogger());
    await q.quarantine('shop', 'web-1');
    expect(api.get(PODS, 'shop', 'web-1')!.metadata.labels).toEqual({ app: 'web', tier: 'frontend', [QUARANTINE_LABEL]: 'true' });
    expect(api.get(PODS, 'shop', 'web-2')!.metadata.labels).toEqual({ app: 'web' });
    const policy = api.get(NETWORKPOLICIES, 'shop', 'vigil-quarantine')!;
    expect(policy.spec).toEqual({ podSelector: { matchLabels: { [QUARANTINE_LABEL]: 'true' } }, policyTypes: ['Ingress', 'Egress'] });
    // Only the label is sent: a JSON merge patch, nothing else of the pod.
    const patch = api.requests.find((r) => r.method === 'PATCH')!;
    expect(patch).toMatchObject({ url: '/api/v1/namespaces/shop/pods/web-1', contentType: 'application/merge-patch+json' });
  });

  it('release removes the label; the policy stays and selects nothing', async () => {
    const q = new PodQuarantine(api.kubeConfig(), silentLogger());
    await q.quarantine('shop', 'web-1');
    await q.release('shop', 'web-1');
    expect(api.get(PODS, 'shop', 'web-1')!.metadata.labels).toEqual({ app: 'web', tier: 'frontend' });
    expect(api.get(NETWORKPOLICIES, 'shop', 'vigil-quarantine')).toBeDefined();
  });

  it('uses a policy another node made, and makes it only once per namespace', async () => {
    api.put(NETWORKPOLICIES, quarantinePolicy('shop'));
    const q = new PodQuarantine(api.kubeConfig(), silentLogger());
    await q.quarantine('shop', 'web-1');
    await q.quarantine('shop', 'web-2');
    expect(api.requests.filter((r) => r.url.includes('networkpolicies')).map((r) => r.method)).toEqual(['GET']);
  });

  it('two nodes quarantining in a fresh namespace at once both succeed', async () => {
    await Promise.all([
      new PodQuarantine(api.kubeConfig(), silentLogger()).quarantine('shop', 'web-1'),
      new PodQuarantine(api.kubeConfig(), silentLogger()).quarantine('shop', 'web-2'),
    ]);
    expect(api.get(PODS, 'shop', 'web-1')!.metadata.labels[QUARANTINE_LABEL]).toBe('true');
    expect(api.get(PODS, 'shop', 'web-2')!.metadata.labels[QUARANTINE_LABEL]).toBe('true');
  });

  it('a missing pod is an error naming it; releasing a missing pod is not', async () => {
    const q = new PodQuarantine(api.kubeConfig(), silentLogger());
    await expect(q.quarantine('shop', 'nope')).rejects.toThrow(/label pod shop\/nope vigil.dev\/quarantine=true: 404/);
    await expect(q.release('shop', 'nope')).resolves.toBeUndefined();
  });
});

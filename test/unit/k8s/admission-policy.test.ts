// daemonset/admission-policy.yaml: the CEL the API server would run on the
// vigil service account's requests, evaluated here with a CEL
// implementation (@bufbuild/cel) on admission requests shaped as the API
// documents them (no API server can run here). Only quarantine gets
// through: the label on a pod, the deny-all NetworkPolicy.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, type CelInput } from '@bufbuild/cel';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { quarantinePolicy } from '../../../src/cluster/quarantine-label.js';
import { pod } from '../../support/kubernetes/objects.js';

const file = join(import.meta.dirname, '../../../daemonset/admission-policy.yaml');
const docs = (parseAllDocuments(readFileSync(file, 'utf8')) as ReturnType<typeof parseAllDocuments> & unknown[]).map((d) => (d as { toJS(): any }).toJS());
const policy = docs.find((d) => d.kind === 'ValidatingAdmissionPolicy');
const binding = docs.find((d) => d.kind === 'ValidatingAdmissionPolicyBinding');

/** JSON → CEL values: objects become maps (field selection and has() work on keys). */
function cel(v: unknown): CelInput {
  if (Array.isArray(v)) return v.map(cel);
  if (v && typeof v === 'object') return new Map(Object.entries(v).map(([k, x]) => [k, cel(x)]));
  return v as CelInput;
}

const VIGIL = 'system:serviceaccount:vigil:vigil';

/** What the API server decides for a request: skipped (not vigil), or allowed / denied with messages. */
function admit(user: string, kind: string, operation: 'UPDATE' | 'CREATE', object: unknown, oldObject: unknown = null): { applies: boolean; denied: string[] } {
  const request = { kind: { group: kind === 'Pod' ? '' : 'networking.k8s.io', version: 'v1', kind }, operation, userInfo: { username: user } };
  const vars: Record<string, CelInput> = { request: cel(request), object: cel(object), oldObject: cel(oldObject) };
  const applies = policy.spec.matchConditions.every((c: { expression: string }) => run(c.expression, vars) === true);
  if (!applies) return { applies, denied: [] };
  const variables = new Map<string, CelInput>();
  for (const v of policy.spec.variables) variables.set(v.name, run(v.expression, { ...vars, variables }) as CelInput);
  const denied: string[] = [];
  for (const v of policy.spec.validations as { expression: string; message: string }[]) {
    const result = run(v.expression, { ...vars, variables });
    // An evaluation error denies too (failurePolicy: Fail), but here it means a wrong expression.
    if (typeof result !== 'boolean') denied.push(`error: ${String(result)}`);
    else if (!result) denied.push(v.message);
  }
  return { applies, denied };
}

function webPod(labels: Record<string, string>) {
  return pod({ uid: '5f0c6a1e-2b3d-4c5e-8f9a-0b1c2d3e4f50', name: 'web-1', namespace: 'shop', node: 'node-a', labels, containers: [{ name: 'app', id: 'a'.repeat(64) }] });
}

describe('admission policy: the vigil service account may only quarantine', () => {
  it('is bound, denying', () => {
    expect(binding.spec).toEqual({ policyName: policy.metadata.name, validationActions: ['Deny'] });
    expect(policy.spec.failurePolicy).toBe('Fail');
  });

  it('lets vigil add and remove the quarantine label', () => {
    const before = webPod({ app: 'web' });
    const after = webPod({ app: 'web', 'vigil.dev/quarantine': 'true' });
    expect(admit(VIGIL, 'Pod', 'UPDATE', after, before)).toEqual({ applies: true, denied: [] });
    expect(admit(VIGIL, 'Pod', 'UPDATE', before, after)).toEqual({ applies: true, denied: [] });
    // A pod without any labels at all.
    const bare = webPod({});
    delete (bare.metadata as { labels?: unknown }).labels;
    expect(admit(VIGIL, 'Pod', 'UPDATE', webPod({ 'vigil.dev/quarantine': 'true' }), bare).denied).toEqual([]);
  });

  it('stops vigil changing any other label, an annotation or the spec', () => {
    const before = webPod({ app: 'web', tier: 'frontend' });
    const relabelled = webPod({ app: 'evil', tier: 'frontend' });
    const unlabelled = webPod({ app: 'web' });
    const added = webPod({ app: 'web', tier: 'frontend', 'vigil.dev/quarantine': 'true', extra: 'x' });
    const annotated = webPod({ app: 'web', tier: 'frontend' });
    (annotated.metadata as Record<string, unknown>).annotations = { 'kubectl.kubernetes.io/restartedAt': 'now' };
    const reimaged = webPod({ app: 'web', tier: 'frontend' });
    reimaged.spec.containers[0]!.image = 'registry.example/evil:1.0';
    for (const after of [relabelled, unlabelled, added, annotated, reimaged]) {
      expect(admit(VIGIL, 'Pod', 'UPDATE', after, before).denied).toEqual(['vigil may change only the vigil.dev/quarantine label of a pod']);
    }
  });

  it('lets vigil create only the deny-all NetworkPolicy', () => {
    const denyAll = quarantinePolicy('shop');
    expect(admit(VIGIL, 'NetworkPolicy', 'CREATE', denyAll).denied).toEqual([]);
    const allowAll = { ...denyAll, spec: { ...denyAll.spec, ingress: [{}], egress: [{}] } };
    const otherName = { ...denyAll, metadata: { ...denyAll.metadata, name: 'allow-everything' } };
    const otherPods = { ...denyAll, spec: { ...denyAll.spec, podSelector: {} } };
    for (const np of [allowAll, otherName, otherPods]) {
      expect(admit(VIGIL, 'NetworkPolicy', 'CREATE', np).denied).toEqual(['vigil may create only the deny-all NetworkPolicy vigil-quarantine']);
    }
  });

  it('does not apply to anyone else', () => {
    expect(admit('system:node:node-a', 'Pod', 'UPDATE', webPod({ app: 'x' }), webPod({ app: 'web' })).applies).toBe(false);
    expect(admit('kubernetes-admin', 'NetworkPolicy', 'CREATE', { ...quarantinePolicy('shop'), spec: { podSelector: {} } }).applies).toBe(false);
  });
});

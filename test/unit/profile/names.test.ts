// Egress by name: a connect the workload resolved from a name is judged by
// the name, many names under one domain are learned as a wildcard, and the
// names go to the document, the kernel and the exports (NetworkPolicy has
// no names: the addresses seen, with a comment; Cilium: toFQDNs).
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Event } from '../../../src/model/event.js';
import {
  diffDocuments, fromDocument, kernelPolicy, networkPolicyYaml, parsePolicyYaml, PolicyError, toCiliumNetworkPolicy, toDocument, toNetworkPolicy, toYaml,
} from '../../../src/detect/profile/policy.js';
import { DEFAULT_LIMITS, Profile } from '../../../src/detect/profile/profile.js';
import { makeEvent } from '../../support/events.js';

const W = { key: 'named:app', name: 'app', kind: 'named', namespace: 'shop' };

const connect = (addr: string, port: number, sipName = ''): Event =>
  makeEvent('connect', { pid: 10, addr, port, protocol: 'tcp', family: 2, sipName });
const answerFrom = (server: string): Event =>
  makeEvent('dns', { addr: server, port: 53, protocol: 'udp', family: 2 });

describe('egress by name', () => {
  it('judges a named connect by its name: new addresses of a learned name are inside, a new name is not', () => {
    const p = new Profile();
    expect(p.observe(connect('203.0.113.5', 443, 'api.payments.example'), '', true)?.what).toBe('tcp api.payments.example:443');
    expect(p.observe(connect('198.51.100.77', 443, 'api.payments.example'), '', false)).toBeNull();
    const d = p.observe(connect('203.0.113.5', 443, 'evil.example'), '', false);
    expect(d).toMatchObject({ kind: 'new-egress', what: 'tcp evil.example:443' });
    expect(d!.message).toContain('evil.example (203.0.113.5)');
    // Another port of a learned name is new.
    expect(p.observe(connect('198.51.100.77', 80, 'api.payments.example'), '', false)).not.toBeNull();
    // Without a name, by address: the learned name's addresses were not learned as addresses.
    expect(p.observe(connect('203.0.113.5', 443), '', false)).not.toBeNull();
  });

  it('learns a wildcard when a workload uses many names under one domain, and never for a top-level domain', () => {
    const p = new Profile({ ...DEFAULT_LIMITS, widenAt: 3 });
    for (let i = 0; i < 4; i++) p.observe(connect(`52.216.0.${i}`, 443, `bucket${i}.s3.amazonaws.com`), '', true);
    expect(p.egressNames().map((r) => r.name)).toEqual(['*.s3.amazonaws.com']);
    expect(p.egressNames()[0]!.seen).toHaveLength(4);
    expect(p.observe(connect('52.216.9.9', 443, 'other-bucket.s3.amazonaws.com'), '', false)).toBeNull();
    expect(p.observe(connect('52.216.9.9', 443, 'deep.bucket.s3.amazonaws.com'), '', false)).toBeNull();
    expect(p.observe(connect('52.216.9.9', 443, 's3.amazonaws.com.evil.example'), '', false)).not.toBeNull();
    const q = new Profile({ ...DEFAULT_LIMITS, widenAt: 3 });
    for (let i = 0; i < 5; i++) q.observe(connect(`192.0.2.${i}`, 443, `site${i}.com`), '', true);
    expect(q.egressNames().map((r) => r.name).sort()).toEqual(['site0.com', 'site1.com', 'site2.com', 'site3.com', 'site4.com']);
  });

  it('judges a name it cannot hold (bytes an answer chose) by address', () => {
    const p = new Profile();
    p.observe(connect('192.0.2.1', 443, 'bad name\n.example'), '', true);
    expect(p.egressNames()).toEqual([]);
    expect(p.egress()).toEqual([{ to: '192.0.2.1', port: 443, protocol: 'tcp' }]);
  });

  it('learns the resolver a workload asks from its answers', () => {
    const p = new Profile();
    expect(p.observe(answerFrom('10.96.0.10'), '', true)?.what).toBe('udp 10.96.0.10:53');
    expect(p.observe(answerFrom('10.96.0.10'), '', false)).toBeNull();
    expect(p.observe(answerFrom('198.51.100.53'), '', false)?.kind).toBe('new-egress');
  });

  it('goes into the document and back, the kernel, a diff, and the exports', () => {
    const p = new Profile();
    p.observe(answerFrom('10.96.0.10'), '', true);
    p.observe(connect('10.96.0.10', 53), '', true);
    p.observe(connect('203.0.113.5', 443, 'api.payments.example'), '', true);
    p.observe(connect('203.0.113.6', 443, 'api.payments.example'), '', true);
    p.addEgressName({ name: '*.s3.amazonaws.com', port: 443, protocol: 'tcp' });
    const doc = toDocument(p, W, 'enforce');
    expect(doc.spec.network.egressNames).toEqual([
      { name: '*.s3.amazonaws.com', port: 443, protocol: 'tcp' },
      { name: 'api.payments.example', port: 443, protocol: 'tcp', seen: ['203.0.113.5', '203.0.113.6'] },
    ]);
    const [back] = parsePolicyYaml(toYaml([doc]), 'app.yaml');
    expect(fromDocument(back!, DEFAULT_LIMITS).observe(connect('198.51.100.1', 443, 'x.s3.amazonaws.com'), '', false)).toBeNull();
    expect(kernelPolicy(doc, []).names).toEqual([
      { name: '*.s3.amazonaws.com', port: 443, protocol: 6 },
      { name: 'api.payments.example', port: 443, protocol: 6 },
    ]);
    const other = structuredClone(doc);
    other.spec.network.egressNames = [];
    expect(diffDocuments(doc, other)).toEqual(['+ egress name: tcp *.s3.amazonaws.com port 443', '+ egress name: tcp api.payments.example port 443']);

    const np = toNetworkPolicy(doc, { app: 'x' }) as { spec: { egress: unknown[] } };
    expect(np.spec.egress).toContainEqual({ to: [{ ipBlock: { cidr: '203.0.113.5/32' } }, { ipBlock: { cidr: '203.0.113.6/32' } }], ports: [{ protocol: 'TCP', port: 443 }] });
    const text = networkPolicyYaml(doc, { app: 'x' });
    expect(text).toMatch(/# api\.payments\.example: the addresses it resolved to while learning; NetworkPolicy has no names/);
    expect(parse(text)).toEqual(np);

    const cnp = toCiliumNetworkPolicy(doc, { app: 'x' }) as { kind: string; spec: { egress: unknown[] } };
    expect(cnp.kind).toBe('CiliumNetworkPolicy');
    expect(cnp.spec.egress).toEqual([
      { toCIDRSet: [{ cidr: '10.96.0.10/32' }], toPorts: [{ ports: [{ port: '53', protocol: 'ANY' }], rules: { dns: [{ matchPattern: '*' }] } }] },
      { toFQDNs: [{ matchPattern: '*.s3.amazonaws.com' }, { matchName: 'api.payments.example' }], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] },
    ]);
  });

  it('refuses a document naming what is not a DNS name', () => {
    const bad = (name: string) => [
      'apiVersion: vigil.dev/v1alpha1', 'kind: WorkloadProfile', 'metadata: { name: app }', 'spec:',
      '  workload: { key: "named:app", name: app, kind: named }', '  mode: monitor',
      `  network: { egressNames: [{ name: "${name}", port: 443, protocol: tcp }] }`, '',
    ].join('\n');
    for (const name of ['*.com', 'a..b', 'api.*.example', 'Bad Name']) {
      expect(() => parsePolicyYaml(bad(name), 'app.yaml'), name).toThrow(PolicyError);
    }
    expect(parsePolicyYaml(bad('*.example.com'), 'app.yaml')[0]!.spec.network.egressNames![0]!.name).toBe('*.example.com');
  });
});

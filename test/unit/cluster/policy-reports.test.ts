// Vigil's findings as policy reports, written to the fake API server (no
// real API server can run here; test/support/kubernetes/fake-api-server.ts
// is built from the documented API conventions). wgpolicyk8s.io objects are
// validated by the schema @kubernetes-models/kyverno generates from Kyverno's
// CRDs; openreports.io's report envelope is written by hand from OpenReports'
// documented fields, its results validated by the same package
// (test/support/kubernetes/report-resources.ts). Every object written must
// pass, lose no field to pruning, and say what Policy Reporter shows.
import { PolicyReport, type PolicyResult, type PolicySeverity } from '@kubernetes-models/kyverno/wgpolicyk8s.io/v1alpha2';
import type { ResultSeverity } from '@kubernetes-models/kyverno/openreports.io/v1alpha1';
import { afterEach, describe, expect, it } from 'vitest';
import { alertAbout, PRIORITIES, type Priority } from '../../../src/model/alert.js';
import { PolicyReporter, reportSource } from '../../../src/cluster/policy-reports.js';
import { bound, OMITTED_ANNOTATION, reportSeverity, type ReportOutcome, type ReportResult } from '../../../src/report/policy-report.js';
import { capturingLogger, TestEngine } from '../../support/engine.js';
import { FakeApiServer, type CustomResource } from '../../support/kubernetes/fake-api-server.js';
import { OPEN, WG } from '../../support/kubernetes/report-resources.js';


let api: FakeApiServer | null = null;
let t: TestEngine | null = null;
let reporter: PolicyReporter | null = null;
afterEach(async () => {
  await reporter?.stop();
  await t?.stop();
  await api?.close();
  api = t = reporter = null;
});

async function setUp(crds: CustomResource[], maxResults = 500) {
  api = await FakeApiServer.start({ strictCrds: true });
  for (const r of crds) api.installResource(r);
  t = await TestEngine.start({ sinks: [], alerts: { foldWindowMs: 0 } }, { cgroupMount: null });
  const { log, lines } = capturingLogger();
  reporter = new PolicyReporter(api.kubeConfig(), reportSource({ onAlert: (fn) => t!.engine.onAlert(fn), registry: t.engine.workloads, quarantines: t.engine.quarantines, probe: () => t!.engine.probes.current(), sessions: () => t!.engine.ingest.sessions() }), { node: 'node-1', intervalSeconds: 60, maxResults }, log);
  reporter.start();
  const web = t.engine.workloads.declare({ key: 'k8s:shop/Deployment/web', name: 'shop/web', kind: 'k8s', namespace: 'shop', pod: 'web-7d9f-abc' });
  const job = t.engine.workloads.declare({ key: 'k8s:batch/CronJob/nightly', name: 'batch/nightly', kind: 'k8s', namespace: 'batch', mode: 'enforce' });
  const host = t.engine.workloads.declare({ key: 'cgroup:/system.slice/sshd.service', name: '/system.slice/sshd.service', kind: 'host' });
  return { web, job, host, lines };
}

const raise = (w: Parameters<typeof alertAbout>[0], rule: string, priority: Priority, fields: Record<string, string> = {}, source: 'rule' | 'profile' = 'rule') =>
  t!.engine.raise(alertAbout(w, 'node-1', { source, rule, priority, message: `${w.name}: ${rule}`, tags: ['T1059', 'mitre_execution'], fields }));

describe('policy reports', () => {
  it('maps every priority onto a severity the CRDs allow', () => {
    // The types say so at compile time (ReportSeverity and ReportOutcome are the packages' enums)…
    const wg: PolicySeverity[] = PRIORITIES.map(reportSeverity);
    const open: ResultSeverity[] = wg;
    const outcomes: PolicyResult[] = ['pass', 'fail', 'warn', 'error', 'skip'] satisfies ReportOutcome[];
    // …and the schemas at run time.
    for (const r of [...WG, ...OPEN]) {
      const kind = { apiVersion: `${r.group}/${r.version}`, kind: r.kind, metadata: { name: 'x' } };
      for (const severity of open) for (const result of outcomes) expect(r.validate({ ...kind, results: [{ policy: 'p', result, severity }] }), `${r.kind}: ${severity} ${result}`).toEqual([]);
      expect(r.validate({ ...kind, results: [{ policy: 'p', result: 'fail', severity: 'warning' }] })).toEqual([
        '/results/0/severity: must be equal to one of the allowed values (critical, high, low, medium, info)',
      ]);
    }
    expect(PRIORITIES.map(reportSeverity)).toEqual(['critical', 'critical', 'critical', 'high', 'medium', 'low', 'info', 'info']);
  });

  it('writes a PolicyReport per namespace and a ClusterPolicyReport for the node, valid against the CRDs, nothing pruned', async () => {
    const { web, host } = await setUp(WG);
    raise(web, 'Terminal shell in container', 'warning');
    raise(web, 'Terminal shell in container', 'warning');
    raise(web, 'new-executable', 'error', { 'vigil.anomaly': 'new-executable', 'vigil.what': '/tmp/x' }, 'profile');
    raise(host, 'Sudo potential privilege escalation', 'critical');
    await reporter!.sync();
    expect(api!.pruned).toEqual([]);
    const reports = api!.list('wgpolicyk8s.io/v1alpha2/policyreports');
    expect(reports.map((r) => `${r.metadata.namespace}/${r.metadata.name}`).sort()).toEqual(['batch/vigil-node-1', 'shop/vigil-node-1']);
    const shop = reports.find((r) => r.metadata.namespace === 'shop')!;
    expect(shop.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'vigil', 'vigil.dev/node': 'node-1' });
    expect(shop.summary).toEqual({ pass: 0, fail: 1, warn: 2, error: 0, skip: 0 });
    expect(shop.results.map((r: ReportResult) => `${r.result} ${r.severity} ${r.policy}/${r.rule}`)).toEqual([
      'fail high vigil-profile/new-executable',
      'warn medium vigil-rules/Terminal shell in container',
      'warn medium vigil-mode/workload-enforced',
    ]);
    const shell = shop.results.find((r: ReportResult) => r.rule === 'Terminal shell in container');
    expect(shell).toMatchObject({
      source: 'vigil', category: 'Runtime signature', scored: true,
      resources: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop' }],
      properties: { node: 'node-1', workload: 'shop/web', count: '2', mode: 'learn', tags: 'T1059,mitre_execution', pod: 'web-7d9f-abc' },
    });
    expect(shell.timestamp.seconds).toBeGreaterThan(1.7e9);
    expect(shop.results[0].message).toBe('shop/web: new-executable (/tmp/x)');
    const batch = reports.find((r) => r.metadata.namespace === 'batch')!;
    expect(batch.results).toMatchObject([{ result: 'pass', severity: 'info', rule: 'workload-enforced', resources: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly' }] }]);
    const [cluster] = api!.list('wgpolicyk8s.io/v1alpha2/clusterpolicyreports');
    expect(cluster!.metadata.name).toBe('vigil-node-1');
    expect(cluster!.scope).toEqual({ apiVersion: 'v1', kind: 'Node', name: 'node-1' });
    expect(cluster!.results.map((r: ReportResult) => `${r.result} ${r.policy}/${r.rule}`)).toEqual([
      'fail vigil-rules/Sudo potential privilege escalation',
      'fail vigil-node/probe-connected',
      'pass vigil-node/kernel-enforcement',
      'pass vigil-node/no-event-loss',
    ]);
    // Checked here as well as by the server: the objects as stored validate against Kyverno's schema.
    expect(() => new PolicyReport(shop as never).validate()).not.toThrow();
  });

  it('a result the CRD refuses is refused by the server (the validation is real)', async () => {
    api = await FakeApiServer.start({ strictCrds: true });
    api.installResource(WG[0]!);
    const res = await fetch(`${api.url}/apis/wgpolicyk8s.io/v1alpha2/namespaces/shop/policyreports`, {
      method: 'POST', headers: { authorization: 'Bearer test-bearer-token-never-logged', 'content-type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'wgpolicyk8s.io/v1alpha2', kind: 'PolicyReport', metadata: { name: 'x' }, results: [{ policy: 'p', result: 'fail', severity: 'warning' }] }),
    });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { message: string }).message).toMatch(/\/results\/0\/severity: must be equal to one of the allowed values \(critical, high, low, medium, info\)/);
  });

  it('writes openreports.io Reports where that is installed, both where both are, and none where neither is', async () => {
    const { web, lines } = await setUp(OPEN);
    raise(web, 'Terminal shell in container', 'warning');
    await reporter!.sync();
    expect(api!.list('openreports.io/v1alpha1/reports').map((r) => `${r.kind} ${r.metadata.namespace}/${r.metadata.name}`).sort()).toEqual(['Report batch/vigil-node-1', 'Report shop/vigil-node-1']);
    expect(api!.list('openreports.io/v1alpha1/clusterreports').map((r) => r.kind)).toEqual(['ClusterReport']);
    expect(api!.pruned).toEqual([]);
    expect(api!.requests.some((r) => r.url.includes('wgpolicyk8s.io'))).toBe(false);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    await reporter!.stop();
    await t!.stop();
    await api!.close();

    const both = await setUp([...WG, ...OPEN]);
    raise(both.web, 'Terminal shell in container', 'warning');
    await reporter!.sync();
    expect(api!.list('openreports.io/v1alpha1/reports')).toHaveLength(2);
    expect(api!.list('wgpolicyk8s.io/v1alpha2/policyreports')).toHaveLength(2);
    await reporter!.stop();
    await t!.stop();
    await api!.close();

    const none = await setUp([]);
    raise(none.web, 'Terminal shell in container', 'warning');
    await reporter!.sync();
    await reporter!.sync();
    expect(api!.requests.filter((r) => r.method !== 'GET' || r.url !== '/apis')).toEqual([]);
    expect(none.lines.filter((l) => /neither wgpolicyk8s.io\/v1alpha2 nor openreports.io\/v1alpha1 is installed/.test(l.msg))).toHaveLength(1);
  });

  it('keeps each report within its bound, most severe first, and says how many it left out', async () => {
    const { web } = await setUp(WG, 10);
    for (let i = 0; i < 30; i++) raise(web, `rule ${String(i).padStart(2, '0')}`, i < 3 ? 'critical' : 'notice');
    await reporter!.sync();
    const shop = api!.list('wgpolicyk8s.io/v1alpha2/policyreports').find((r) => r.metadata.namespace === 'shop')!;
    expect(shop.results).toHaveLength(10);
    expect(shop.metadata.annotations[OMITTED_ANNOTATION]).toBe('21'); // 30 findings + the mode result, 10 kept
    expect(shop.results.slice(0, 3).map((r: ReportResult) => `${r.severity} ${r.rule}`)).toEqual(['critical rule 00', 'critical rule 01', 'critical rule 02']);
    expect(shop.summary).toEqual({ pass: 0, fail: 3, warn: 7, error: 0, skip: 0 });
  });

  it('rewrites a report only when it changed, with the resourceVersion it read; a failed write is retried', async () => {
    const { web } = await setUp(WG);
    raise(web, 'Terminal shell in container', 'warning');
    await reporter!.sync();
    const writes = () => api!.requests.filter((r) => r.method === 'PUT' || r.method === 'POST').length;
    const first = writes();
    expect(first, JSON.stringify(api!.requests.filter((r) => r.method === 'PUT' || r.method === 'POST').map((r) => r.url))).toBe(3); // two namespaces and the cluster report
    await reporter!.sync();
    expect(writes()).toBe(first);
    raise(web, 'Terminal shell in container', 'warning');
    api!.refuse('PUT', '/apis/wgpolicyk8s.io/v1alpha2/namespaces/shop/', 500, 1);
    await reporter!.sync();
    expect(reporter!.failures).toBe(1);
    expect(api!.get('wgpolicyk8s.io/v1alpha2/policyreports', 'shop', 'vigil-node-1')!.results.find((r: ReportResult) => r.rule === 'Terminal shell in container').properties.count).toBe('1');
    await reporter!.sync();
    expect(api!.get('wgpolicyk8s.io/v1alpha2/policyreports', 'shop', 'vigil-node-1')!.results.find((r: ReportResult) => r.rule === 'Terminal shell in container').properties.count).toBe('2');
    expect(api!.conflicts).toBe(0);
  });

  it('orders states (mode, quarantine, node) by what they say, not by the clock: a later round builds the same report', () => {
    const at = (seconds: number) => ({ seconds, nanos: 0 });
    const base = { source: 'vigil', category: 'c', scored: true, message: 'm', properties: {} } as const;
    const finding: ReportResult = { ...base, policy: 'vigil-rules', rule: 'Terminal shell in container', result: 'warn', severity: 'medium', timestamp: at(1000) };
    const state = (seconds: number): ReportResult[] => [
      { ...base, policy: 'vigil-mode', rule: 'workload-enforced', result: 'warn', severity: 'medium', timestamp: at(seconds) },
      { ...base, policy: 'vigil-response', rule: 'quarantined', result: 'fail', severity: 'high', timestamp: at(seconds) },
    ];
    const order = (seconds: number) => bound([...state(seconds), finding], 10).results.map((r) => r.rule);
    // Built in the second the alert came, and a minute later: the same order.
    expect(order(1000)).toEqual(['quarantined', 'Terminal shell in container', 'workload-enforced']);
    expect(order(1060)).toEqual(order(1000));
  });

  it('deletes its report in a namespace where it has nothing to report any more', async () => {
    api = await FakeApiServer.start({ strictCrds: true });
    for (const r of WG) api.installResource(r);
    // The report source's workloads change under it: a narrow interface, given directly here.
    let workloads = [
      { key: 'k8s:shop/Deployment/web', name: 'shop/web', kind: 'k8s', namespace: 'shop', mode: 'monitor', quarantined: true },
      { key: 'k8s:gone/Deployment/old', name: 'gone/old', kind: 'k8s', namespace: 'gone', mode: 'learn', quarantined: false },
    ];
    reporter = new PolicyReporter(api.kubeConfig(), { onAlert: () => () => {}, workloads: () => workloads, facts: () => ({ probeConnected: true, kernelGaps: [], eventsLost: 0 }) }, { node: 'node-1', intervalSeconds: 60, maxResults: 100 }, capturingLogger().log);
    await reporter.sync();
    expect(api.list('wgpolicyk8s.io/v1alpha2/policyreports').map((r) => r.metadata.namespace).sort()).toEqual(['gone', 'shop']);
    expect(api.get('wgpolicyk8s.io/v1alpha2/policyreports', 'shop', 'vigil-node-1')!.results.map((r: ReportResult) => r.rule)).toEqual(['quarantined', 'workload-enforced']);
    workloads = workloads.slice(0, 1);
    await reporter.sync();
    expect(api.list('wgpolicyk8s.io/v1alpha2/policyreports').map((r) => r.metadata.namespace)).toEqual(['shop']);
  });

  it('nodes write side by side: each its own reports, none overwritten or deleted by another, and a restarted node finds its old ones', async () => {
    api = await FakeApiServer.start({ strictCrds: true });
    for (const r of WG) api.installResource(r);
    type W = { key: string; name: string; kind: string; namespace: string; mode: string; quarantined: boolean };
    const web = (quarantined: boolean): W => ({ key: 'k8s:shop/Deployment/web', name: 'shop/web', kind: 'k8s', namespace: 'shop', mode: 'monitor', quarantined });
    const old: W = { key: 'k8s:gone/Deployment/old', name: 'gone/old', kind: 'k8s', namespace: 'gone', mode: 'learn', quarantined: false };
    const on: Record<string, W[]> = { 'node-1': [web(false), old], 'node-2': [web(true), old] };
    const started: PolicyReporter[] = [];
    const node = (name: string) => {
      const r = new PolicyReporter(api!.kubeConfig(), { onAlert: () => () => {}, workloads: () => on[name]!, facts: () => ({ probeConnected: true, kernelGaps: [], eventsLost: 0 }) }, { node: name, intervalSeconds: 60, maxResults: 100 }, capturingLogger().log);
      started.push(r);
      return r;
    };
    try {
      const [one, two] = [node('node-1'), node('node-2')];
      // Both nodes at once, twice: the same Deployment runs on both.
      await Promise.all([one.sync(), two.sync()]);
      on['node-1'] = [web(false), old, { ...old, key: 'k8s:gone/Deployment/new', name: 'gone/new' }];
      await Promise.all([one.sync(), two.sync()]);
      const reports = () => api!.list('wgpolicyk8s.io/v1alpha2/policyreports').map((r) => `${r.metadata.namespace}/${r.metadata.name} ${r.metadata.labels['vigil.dev/node']}`).sort();
      expect(reports()).toEqual(['gone/vigil-node-1 node-1', 'gone/vigil-node-2 node-2', 'shop/vigil-node-1 node-1', 'shop/vigil-node-2 node-2']);
      expect(api.list('wgpolicyk8s.io/v1alpha2/clusterpolicyreports').map((r) => r.metadata.name).sort()).toEqual(['vigil-node-1', 'vigil-node-2']);
      const rules = (ns: string, n: string) => api!.get('wgpolicyk8s.io/v1alpha2/policyreports', ns, `vigil-${n}`)!.results.map((r: ReportResult) => `${r.properties.node} ${r.properties.workload} ${r.rule}`);
      expect(rules('shop', 'node-1')).toEqual(['node-1 shop/web workload-enforced']);
      expect(rules('shop', 'node-2')).toEqual(['node-2 shop/web quarantined', 'node-2 shop/web workload-enforced']);
      expect(rules('gone', 'node-1').sort()).toEqual(['node-1 gone/new workload-enforced', 'node-1 gone/old workload-enforced']);
      expect(api.conflicts).toBe(0);
      // node-2 has nothing left in gone: only its own report there goes.
      on['node-2'] = [web(true)];
      await two.sync();
      expect(reports()).toEqual(['gone/vigil-node-1 node-1', 'shop/vigil-node-1 node-1', 'shop/vigil-node-2 node-2']);
      // node-1 restarts (nothing in memory) with nothing left in gone: it finds its report from before and deletes it, nobody else's.
      await one.stop();
      on['node-1'] = [web(false)];
      await node('node-1').sync();
      expect(reports()).toEqual(['shop/vigil-node-1 node-1', 'shop/vigil-node-2 node-2']);
    } finally {
      for (const r of started) await r.stop();
    }
  });
});

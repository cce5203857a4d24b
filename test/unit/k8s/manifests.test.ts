// The manifests in daemonset/: every object validates against the
// Kubernetes OpenAPI schemas (kubernetes-models, generated from them), the
// kustomization lists exactly the files there, the security context is as
// least-privileged as README says, the config validates against the
// engine's own schema, and the CRD accepts the documents the engine writes.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { isMap, isPair, isScalar, parseAllDocuments, type Document } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfigYaml } from '../../../src/config/load.js';
import { asDocument, type ProfileStatus, type StoredObject } from '../../../src/cluster/profile-store.js';
import { QUARANTINE_LABEL, quarantinePolicy } from '../../../src/cluster/quarantine-label.js';
import type { WorkloadProfileSpec } from '../../../src/detect/profile/document.js';

const DIR = join(import.meta.dirname, '../../../daemonset');

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: any }; [k: string]: any };

interface Loaded {
  file: string;
  doc: Document;
  obj: K8sObject;
}

function load(file: string): Loaded[] {
  const docs = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'));
  if (!Array.isArray(docs)) throw new Error(`${file}: not a YAML stream`);
  return docs.filter((d) => d.contents !== null).map((doc) => {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    return { file, doc, obj: doc.toJS() as K8sObject };
  });
}

const manifestFiles = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
const all = manifestFiles.flatMap(load);
const one = (kind: string, name?: string): Loaded => {
  const found = all.filter((l) => l.obj.kind === kind && (name === undefined || l.obj.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!;
};
const daemonSet = one('DaemonSet').obj;
const podSpec = daemonSet.spec.template.spec;
const container = (name: string) => podSpec.containers.find((c: { name: string }) => c.name === name);

/** The kubernetes-models class for an apiVersion and kind (a missing one fails the test). */
async function modelFor(apiVersion: string, kind: string): Promise<new (o: unknown) => { validate(): void }> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const specifier = `kubernetes-models/${group ? `${group}/${version}` : version}/${kind}`;
  const mod = (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
  const cls = mod[kind];
  if (typeof cls !== 'function') throw new Error(`no schema for ${apiVersion} ${kind}`);
  return cls as new (o: unknown) => { validate(): void };
}

describe('daemonset/ manifests', () => {
  it('every object validates against the Kubernetes OpenAPI schema of its kind', async () => {
    expect(all.length).toBeGreaterThanOrEqual(12);
    for (const { file, obj } of all) {
      const Model = await modelFor(obj.apiVersion, obj.kind);
      expect(() => new Model(obj).validate(), `${file}: ${obj.kind} ${obj.metadata.name}`).not.toThrow();
    }
  });

  it('the schema validation does catch a wrong manifest', async () => {
    const Model = await modelFor('apps/v1', 'DaemonSet');
    const broken = structuredClone(daemonSet);
    broken.spec.template.spec.containers[0].securityContext.runAsUser = 'root';
    expect(() => new Model(broken).validate()).toThrow(/runAsUser must be integer/);
    const noSelector = structuredClone(daemonSet);
    delete noSelector.spec.selector;
    expect(() => new Model(noSelector).validate()).toThrow(/selector/);
  });

  it('kustomization.yaml lists every manifest here, and only those', () => {
    const k = load('kustomization.yaml')[0]!.obj as unknown as { resources: string[]; namespace: string; images: { name: string }[] };
    expect([...k.resources].sort()).toEqual([...manifestFiles].sort());
    expect(k.namespace).toBe('vigil');
    for (const { obj } of all) if (obj.metadata.namespace !== undefined) expect(obj.metadata.namespace, `${obj.kind} ${obj.metadata.name}`).toBe('vigil');
    // The images kustomize rewrites are the ones the pod uses.
    const images = podSpec.containers.map((c: { image: string }) => c.image.split(':')[0]).sort();
    expect(k.images.map((i) => i.name).sort()).toEqual(images);
  });

  describe('security context', () => {
    const containers = [...podSpec.containers, ...(podSpec.initContainers ?? [])] as { name: string; securityContext: Record<string, any>; volumeMounts: { name: string; readOnly?: boolean; mountPath: string }[] }[];

    it('no container is privileged, none escalates, every root filesystem is read-only, seccomp is on', () => {
      expect(podSpec.hostNetwork ?? false).toBe(false);
      expect(podSpec.hostIPC ?? false).toBe(false);
      for (const c of containers) {
        expect(c.securityContext.privileged ?? false, c.name).toBe(false);
        expect(c.securityContext.allowPrivilegeEscalation, c.name).toBe(false);
        expect(c.securityContext.readOnlyRootFilesystem, c.name).toBe(true);
        expect(c.securityContext.seccompProfile, c.name).toEqual({ type: 'RuntimeDefault' });
        expect(c.securityContext.capabilities?.drop, c.name).toEqual(['ALL']);
      }
    });

    it('the probe has exactly the capabilities its work needs; the engine has none', () => {
      expect([...container('probe').securityContext.capabilities.add].sort()).toEqual(['BPF', 'KILL', 'NET_ADMIN', 'PERFMON', 'SYS_PTRACE']);
      expect(container('engine').securityContext.capabilities.add ?? []).toEqual([]);
      for (const c of containers) expect(c.securityContext.capabilities.add ?? [], c.name).not.toContain('SYS_ADMIN');
    });

    it('every capability granted is justified in the manifest, in a comment naming it and what it is for', () => {
      const ds = one('DaemonSet');
      podSpec.containers.forEach((c: { name: string; securityContext: { capabilities: { add?: string[] } } }, i: number) => {
        const caps = ds.doc.getIn(['spec', 'template', 'spec', 'containers', i, 'securityContext', 'capabilities'], true);
        if (!isMap(caps)) throw new Error('capabilities is not a map');
        const add = caps.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === 'add');
        const comment = add && isScalar(add.key) ? add.key.commentBefore ?? '' : '';
        for (const cap of c.securityContext.capabilities.add ?? []) {
          expect(comment, `${c.name}: why ${cap}`).toMatch(new RegExp(`\\b${cap}: \\S+`));
        }
      });
    });

    it('a container runs as root only with runAsNonRoot false said outright and a comment saying why', () => {
      const ds = one('DaemonSet');
      podSpec.containers.forEach((c: { name: string; securityContext: Record<string, unknown> }, i: number) => {
        if (c.securityContext.runAsUser !== 0) {
          expect(c.securityContext.runAsNonRoot, c.name).toBe(true);
          return;
        }
        expect(c.securityContext.runAsNonRoot, c.name).toBe(false);
        const sc = ds.doc.getIn(['spec', 'template', 'spec', 'containers', i, 'securityContext'], true);
        if (!isMap(sc)) throw new Error('securityContext is not a map');
        const pair = sc.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === 'runAsUser');
        const comment = pair && isScalar(pair.key) ? pair.key.commentBefore ?? '' : '';
        expect(comment.length, `${c.name}: why runAsUser 0`).toBeGreaterThan(20);
      });
    });

    it('host paths are mounted read-only, except the engine\'s state directory and the probe\'s bpffs (pinned enforcement)', () => {
      const hostPaths = new Map<string, string>(
        podSpec.volumes.filter((v: { hostPath?: unknown }) => v.hostPath).map((v: { name: string; hostPath: { path: string } }) => [v.name, v.hostPath.path]),
      );
      expect([...hostPaths.values()].sort()).toEqual(['/run/containerd', '/run/crio', '/sys/fs/bpf', '/sys/fs/cgroup', '/sys/kernel/btf', '/sys/kernel/security', '/sys/kernel/tracing', '/var/lib/vigil', '/var/run/docker.sock']);
      for (const c of containers) {
        for (const m of c.volumeMounts) {
          const host = hostPaths.get(m.name);
          if (host === undefined) continue;
          if (host === '/var/lib/vigil') expect(c.name).toBe('engine');
          // The probe pins enforcement's links there so a restart leaves no gap.
          else if (host === '/sys/fs/bpf') expect(c.name).toBe('probe');
          else expect(m.readOnly, `${c.name}: ${m.mountPath}`).toBe(true);
        }
      }
    });

    it('only the engine holds an API token', () => {
      expect(podSpec.automountServiceAccountToken).toBe(false);
      expect(one('ServiceAccount').obj.automountServiceAccountToken).toBe(false);
      const tokenVolumes = podSpec.volumes
        .filter((v: { projected?: { sources: { serviceAccountToken?: unknown }[] } }) => v.projected?.sources.some((s) => s.serviceAccountToken))
        .map((v: { name: string }) => v.name);
      expect(tokenVolumes).toHaveLength(1);
      for (const c of containers) {
        const mounted = c.volumeMounts.some((m) => tokenVolumes.includes(m.name));
        expect(mounted, c.name).toBe(c.name === 'engine');
      }
    });

    it('runs on every node and updates one node at a time', () => {
      expect(podSpec.tolerations).toContainEqual({ operator: 'Exists' });
      expect(daemonSet.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
      for (const c of podSpec.containers as { name: string; resources: { requests?: Record<string, string>; limits?: Record<string, string> } }[]) {
        expect(Object.keys(c.resources.requests ?? {}).sort(), c.name).toEqual(['cpu', 'memory']);
        expect(Object.keys(c.resources.limits ?? {}).sort(), c.name).toEqual(['cpu', 'memory']);
      }
    });
  });

  it('the web console stays on the pod\'s loopback, its token from an optional Secret only the engine mounts', () => {
    const config = parseConfigYaml(one('ConfigMap', 'vigil-config').obj.data['config.yaml'] as string, 'daemonset/configmap.yaml:config.yaml');
    expect(config.console.listen).toBe('tcp://127.0.0.1:9465');
    expect(config.console.allowNonLoopback).toBe(false);
    expect(config.kubernetes.policyReports.enabled).toBe(true);
    const volume = podSpec.volumes.find((v: { name: string }) => v.name === 'console-token');
    expect(volume.secret).toEqual({ secretName: 'vigil-console', optional: true, defaultMode: 0o400 });
    const mount = container('engine').volumeMounts.find((m: { name: string }) => m.name === 'console-token');
    expect(mount).toEqual({ name: 'console-token', mountPath: '/etc/vigil-console', readOnly: true });
    expect(config.console.tokenFile!.startsWith(`${mount.mountPath}/`)).toBe(true);
    expect(container('probe').volumeMounts.some((m: { name: string }) => m.name === 'console-token')).toBe(false);
    // Not published on the pod: a port-forward reaches the loopback.
    expect(container('engine').ports.map((p: { containerPort: number }) => p.containerPort)).not.toContain(9465);
  });

  it('probe, engine, config, health checks and the Service agree with each other', () => {
    const cfgText = one('ConfigMap', 'vigil-config').obj.data['config.yaml'] as string;
    const config = parseConfigYaml(cfgText, 'daemonset/configmap.yaml:config.yaml');
    expect(config.kubernetes).toMatchObject({ enabled: true, profileSync: true, quarantineLabel: true });
    expect(config.stateDir).toBe('/var/lib/vigil');

    const probe = container('probe');
    const engine = container('engine');
    expect(probe.args[probe.args.indexOf('--engine') + 1]).toBe(config.engine.listen);
    const socketDir = config.engine.listen.replace('unix://', '').replace(/\/[^/]+$/, '');
    for (const c of [probe, engine]) expect(c.volumeMounts.find((m: { name: string }) => m.name === 'run').mountPath).toBe(socketDir);
    expect(engine.volumeMounts.find((m: { name: string }) => m.name === 'state').mountPath).toBe(config.stateDir);
    expect(engine.args).toEqual(['engine', '--config', '/etc/vigil/config.yaml']);
    expect(engine.volumeMounts.find((m: { name: string }) => m.name === 'config').mountPath).toBe('/etc/vigil');

    expect(engine.ports).toEqual([{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }]);
    expect(engine.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(engine.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    const svc = one('Service').obj;
    expect(svc.spec.selector).toEqual(daemonSet.spec.template.metadata.labels);
    expect(svc.spec.ports[0]).toMatchObject({ port: 9464, targetPort: 'metrics' });
    expect(daemonSet.spec.selector.matchLabels).toEqual(daemonSet.spec.template.metadata.labels);
  });

  it('RBAC grants exactly what the engine calls, and nothing on secrets or with wildcards', () => {
    const role = one('ClusterRole', 'vigil').obj;
    const grants = role.rules.flatMap((r: { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }) =>
      r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g || 'core'}/${res}:${v}${r.resourceNames ? `@${r.resourceNames.join(',')}` : ''}`))),
    );
    expect(grants.sort()).toEqual([
      'apps/replicasets:get',
      'batch/jobs:get',
      'core/pods:list',
      'core/pods:patch',
      'core/pods:watch',
      'networking.k8s.io/networkpolicies:create',
      'networking.k8s.io/networkpolicies:get@vigil-quarantine',
      'openreports.io/clusterreports:create',
      'openreports.io/clusterreports:delete',
      'openreports.io/clusterreports:get',
      'openreports.io/clusterreports:list',
      'openreports.io/clusterreports:update',
      'openreports.io/reports:create',
      'openreports.io/reports:delete',
      'openreports.io/reports:get',
      'openreports.io/reports:list',
      'openreports.io/reports:update',
      'vigil.dev/workloadprofiles:create',
      'vigil.dev/workloadprofiles:get',
      'vigil.dev/workloadprofiles:list',
      'vigil.dev/workloadprofiles:update',
      'vigil.dev/workloadprofiles:watch',
      'wgpolicyk8s.io/clusterpolicyreports:create',
      'wgpolicyk8s.io/clusterpolicyreports:delete',
      'wgpolicyk8s.io/clusterpolicyreports:get',
      'wgpolicyk8s.io/clusterpolicyreports:list',
      'wgpolicyk8s.io/clusterpolicyreports:update',
      'wgpolicyk8s.io/policyreports:create',
      'wgpolicyk8s.io/policyreports:delete',
      'wgpolicyk8s.io/policyreports:get',
      'wgpolicyk8s.io/policyreports:list',
      'wgpolicyk8s.io/policyreports:update',
    ]);
    for (const r of all.filter((l) => l.obj.kind === 'ClusterRole').flatMap((l) => l.obj.rules)) {
      expect([...r.verbs, ...r.resources, ...r.apiGroups]).not.toContain('*');
      expect(r.resources).not.toContain('secrets');
    }
    const binding = one('ClusterRoleBinding', 'vigil').obj;
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'vigil', namespace: 'vigil' }]);
    const vap = one('ValidatingAdmissionPolicy').obj;
    expect(vap.spec.matchConditions[0].expression).toContain("'system:serviceaccount:vigil:vigil'");
  });

  it('the quarantine NetworkPolicy is the one the engine creates in other namespaces', () => {
    const np = one('NetworkPolicy', 'vigil-quarantine').obj;
    const made = quarantinePolicy('vigil');
    expect(np.spec).toEqual(made.spec);
    expect(np.metadata.labels).toEqual(made.metadata!.labels);
    expect(np.spec.podSelector.matchLabels).toEqual({ [QUARANTINE_LABEL]: 'true' });
    expect(np.spec.ingress).toBeUndefined();
    expect(np.spec.egress).toBeUndefined();
  });

  describe('WorkloadProfile CRD', () => {
    const crd = one('CustomResourceDefinition').obj;
    const version = crd.spec.versions[0];
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const validate = ajv.compile(version.schema.openAPIV3Schema);

    const stored: StoredObject<WorkloadProfileSpec, ProfileStatus> = {
      apiVersion: 'vigil.dev/v1alpha1',
      kind: 'WorkloadProfile',
      metadata: { name: 'deployment.web', namespace: 'shop', resourceVersion: '42' },
      spec: {
        workload: { key: 'k8s:shop/Deployment/web', name: 'shop/web', kind: 'k8s', namespace: 'shop' },
        mode: 'monitor',
        processes: [{ exe: '/usr/bin/node', parents: ['/usr/bin/tini'], users: [1000], args: ['server.js'] }, { exe: '/usr/lib/jvm/*/bin/java' }],
        files: { read: ['/app/**', '/etc/ssl/certs/*'], write: ['/tmp/*'] },
        network: { egress: [{ to: '10.0.0.0/24', port: 5432, protocol: 'tcp' }], listen: [{ port: 8080, protocol: 'tcp' }], ingress: [{ from: '10.244.0.0/16', port: 8080 }] },
      },
      status: { learningSince: '2025-01-01T00:00:00.000Z', lastNewBehaviour: '2025-01-02T00:00:00.000Z', nodes: ['node-a', 'node-b'] },
    };

    it('names, scope and printer columns', () => {
      expect(crd.metadata.name).toBe('workloadprofiles.vigil.dev');
      expect(crd.spec).toMatchObject({ group: 'vigil.dev', scope: 'Namespaced', names: { kind: 'WorkloadProfile', plural: 'workloadprofiles' } });
      expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true });
      const columns = Object.fromEntries(version.additionalPrinterColumns.map((c: { name: string; jsonPath: string }) => [c.name, c.jsonPath]));
      expect(columns).toMatchObject({ Mode: '.spec.mode', Workload: '.spec.workload.name' });
    });

    it('is a structural schema: every property has a type', () => {
      const untyped: string[] = [];
      const walk = (s: Record<string, any>, at: string): void => {
        if (!s.type) untyped.push(at);
        for (const [k, v] of Object.entries(s.properties ?? {})) walk(v as Record<string, any>, `${at}.${k}`);
        if (s.items) walk(s.items, `${at}[]`);
      };
      walk(version.schema.openAPIV3Schema, '');
      expect(untyped).toEqual([]);
    });

    it('accepts what the engine writes', () => {
      const ok = validate(asDocument(stored));
      expect(validate.errors ?? [], JSON.stringify(validate.errors)).toEqual([]);
      expect(ok).toBe(true);
    });

    it('refuses a mode that does not exist, a port out of range, a missing section', () => {
      const bad = (mutate: (d: any) => void) => {
        const d: any = structuredClone(asDocument(stored));
        mutate(d);
        return validate(d);
      };
      expect(bad((d) => (d.spec.mode = 'block'))).toBe(false);
      expect(bad((d) => (d.spec.network.egress[0].port = 70000))).toBe(false);
      expect(bad((d) => delete d.spec.files)).toBe(false);
      expect(bad((d) => (d.spec.processes[0].users = [-1]))).toBe(false);
    });
  });
});

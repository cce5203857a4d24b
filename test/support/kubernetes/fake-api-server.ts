// A local stand-in for the Kubernetes API server: no API server can run
// here, so this one is built from the documented API conventions
// (https://kubernetes.io/docs/reference/using-api/api-concepts/):
//   list      GET  …/{resource}                → {kind: XList, metadata: {resourceVersion}, items}
//   watch     GET  …/{resource}?watch=true&resourceVersion=N
//                                               → chunked JSON lines {type: ADDED|MODIFIED|DELETED|ERROR, object}
//                                                 (410 Expired as an ERROR event when N is compacted)
//   get       GET  …/{resource}/{name}
//   create    POST …/{resource}                → 201, or 409 AlreadyExists
//   replace   PUT  …/{resource}/{name}         → 409 Conflict on a stale metadata.resourceVersion
//   patch     PATCH …/{resource}/{name}        (application/merge-patch+json, RFC 7386)
//   delete    DELETE …/{resource}/{name}       → 200 with the object (metav1.Status on 404)
//   discovery GET  /apis                       → APIGroupList (built-in groups and installed CRDs' groups)
// Custom resources (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/):
// installResource() takes a custom resource's group, version and names, a
// validation (the caller brings it: e.g. a package's generated schema) and
// the fields its structural schema declares. Writes are validated (422
// Invalid, like the API server) and undeclared fields pruned (structural
// schema pruning). With `strictCrds`, a custom group without an installed
// resource answers 404, as a real API server does.
// with /api/v1/… for the core group, /apis/{group}/{version}/… otherwise,
// namespaces/{ns}/ for namespaced objects, labelSelector (key=value), fieldSelector on spec.nodeName
// and metadata.*, errors as metav1.Status, and a bearer token checked.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

type Obj = { apiVersion?: string; kind?: string; metadata: Record<string, any>; [k: string]: any };

interface Change {
  rv: number;
  collection: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Obj;
}

interface Route {
  collection: string; // "group/version/resource" ("" group for core)
  namespace: string | null;
  name: string | null;
  custom: boolean;
}

/** The fields a structural schema declares: properties of an object, the items of an array, or anything below. */
export interface Fields {
  properties?: Record<string, Fields>;
  items?: Fields;
  /** x-kubernetes-preserve-unknown-fields, or a map of free keys (additionalProperties). */
  preserveUnknown?: boolean;
}

/** A custom resource as installed by its CRD. */
export interface CustomResource {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** The causes an object is invalid for ("<path>: <message>"), none when it is valid. */
  validate(obj: Record<string, unknown>): string[];
  /** What pruning keeps (metadata, apiVersion and kind are the API server's own). */
  fields: Fields;
}

interface Watcher {
  collection: string;
  filter: (o: Obj) => boolean;
  res: ServerResponse;
}

export const TEST_TOKEN = 'test-bearer-token-never-logged';

const BUILTIN_GROUPS = new Set(['', 'apps', 'batch', 'networking.k8s.io']);

export class FakeApiServer {
  private readonly server: Server;
  private readonly objects = new Map<string, Map<string, Obj>>();
  private readonly history: Change[] = [];
  private readonly watchers = new Set<Watcher>();
  private rv = 100;
  private compactedBelow = 0;
  /** Every request seen: method, path with query, content type. */
  readonly requests: { method: string; url: string; contentType: string }[] = [];
  /** Objects answered with 409 Conflict to a stale replace. */
  conflicts = 0;
  private readonly refusals: { method: string; prefix: string; code: number; left: number }[] = [];
  /** Installed custom resources by collection ("group/version/plural"). */
  private readonly crds = new Map<string, CustomResource>();
  /** Fields pruned from written objects (path strings), as the API server drops unknown fields silently. */
  readonly pruned: string[] = [];

  private constructor(private readonly strictCrds: boolean) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(opts: { strictCrds?: boolean } = {}): Promise<FakeApiServer> {
    const f = new FakeApiServer(opts.strictCrds ?? false);
    await new Promise<void>((resolve) => f.server.listen(0, '127.0.0.1', resolve));
    return f;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A client config pointing at this server, as a kubeconfig file would. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'vigil', token: TEST_TOKEN }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'vigil' }],
      currentContext: 'fake',
    });
    return kc;
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- what other controllers (scheduler, kubelet, kubectl) do ------------

  /** Creates or replaces an object as a controller would; returns it with its new resourceVersion. */
  put(collection: string, object: object): Obj {
    const obj = object as Obj;
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const coll = this.collection(collection);
    const existed = coll.has(key);
    const stored = this.stamp(structuredClone(obj), existed ? coll.get(key)! : null);
    coll.set(key, stored);
    this.publish(collection, existed ? 'MODIFIED' : 'ADDED', stored);
    return stored;
  }

  remove(collection: string, namespace: string, name: string): void {
    const coll = this.collection(collection);
    const obj = coll.get(`${namespace}/${name}`);
    if (!obj) return;
    coll.delete(`${namespace}/${name}`);
    obj.metadata.resourceVersion = String(++this.rv);
    this.publish(collection, 'DELETED', obj);
  }

  get(collection: string, namespace: string, name: string): Obj | undefined {
    const o = this.collection(collection).get(`${namespace}/${name}`);
    return o && structuredClone(o);
  }

  /** Answers the next `times` matching requests with `code` (e.g. 403 until RBAC is applied, 500). */
  refuse(method: string, pathPrefix: string, code: number, times: number): void {
    this.refusals.push({ method, prefix: pathPrefix, code, left: times });
  }

  /** Installs a custom resource: its group is discovered, its objects validated and pruned. */
  installResource(r: CustomResource): void {
    this.crds.set(`${r.group}/${r.version}/${r.plural}`, r);
  }

  /** Objects stored in a collection ("group/version/plural"). */
  list(collection: string): Obj[] {
    return [...this.collection(collection).values()].map((o) => structuredClone(o));
  }

  /** Forgets history before now: a watch from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.compactedBelow = this.rv;
    this.history.length = 0;
  }

  /** Ends every open watch (as the API server does at its watch timeout). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  // ---- HTTP ---------------------------------------------------------------

  private collection(c: string): Map<string, Obj> {
    let m = this.objects.get(c);
    if (!m) this.objects.set(c, (m = new Map()));
    return m;
  }

  private stamp(obj: Obj, previous: Obj | null): Obj {
    obj.metadata.resourceVersion = String(++this.rv);
    obj.metadata.uid = previous?.metadata.uid ?? obj.metadata.uid ?? randomUUID();
    obj.metadata.creationTimestamp = previous?.metadata.creationTimestamp ?? obj.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    obj.metadata.generation = (previous?.metadata.generation ?? 0) + 1;
    return obj;
  }

  private publish(collection: string, type: Change['type'], object: Obj): void {
    const change: Change = { rv: Number(object.metadata.resourceVersion), collection, type, object: structuredClone(object) };
    this.history.push(change);
    for (const w of this.watchers) if (w.collection === collection && w.filter(object)) this.send(w.res, type, object);
  }

  private send(res: ServerResponse, type: string, object: Obj): void {
    res.write(`${JSON.stringify({ type, object })}\n`);
  }

  private route(path: string): Route | null {
    const parts = path.split('/').filter(Boolean);
    let group: string;
    let rest: string[];
    if (parts[0] === 'api' && parts[1] === 'v1') {
      group = '/v1';
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts.length >= 3) {
      group = `${parts[1]}/${parts[2]}`;
      rest = parts.slice(3);
    } else {
      return null;
    }
    let namespace: string | null = null;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1]!;
      rest = rest.slice(2);
    }
    if (rest.length < 1 || rest.length > 2) return null;
    const groupName = group.split('/')[0]!;
    return { collection: `${group}/${rest[0]}`, namespace, name: rest[1] ?? null, custom: !BUILTIN_GROUPS.has(groupName) };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push({ method: req.method ?? '', url: `${url.pathname}${url.search}`, contentType: String(req.headers['content-type'] ?? '') });
    if (req.headers.authorization !== `Bearer ${TEST_TOKEN}`) return status(res, 401, 'Unauthorized', 'Unauthorized');
    const refusal = this.refusals.find((r) => r.left > 0 && r.method === req.method && url.pathname.startsWith(r.prefix));
    if (refusal) {
      refusal.left--;
      const reason = refusal.code === 403 ? 'Forbidden' : 'InternalError';
      return status(res, refusal.code, reason, refusal.code === 403 ? `${url.pathname} is forbidden: User "system:serviceaccount:vigil:vigil" cannot list resource` : 'an error on the server has prevented the request from succeeding');
    }
    if (req.method === 'GET' && url.pathname === '/apis') return json(res, 200, this.discovery());
    const route = this.route(url.pathname);
    if (!route) return status(res, 404, 'NotFound', `the server could not find the requested resource`);
    const crd = this.crds.get(route.collection);
    if (route.custom && this.strictCrds && !crd) return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    const body = await readBody(req);
    const coll = this.collection(route.collection);
    const resource = route.collection.split('/').pop()!;
    const key = `${route.namespace ?? ''}/${route.name}`;
    switch (req.method) {
      case 'GET': {
        if (route.name) {
          const o = coll.get(key);
          return o ? json(res, 200, o) : notFound(res, resource, route.name);
        }
        const filter = selector(route.namespace, url.searchParams.get('fieldSelector'), url.searchParams.get('labelSelector'));
        if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
          return this.watch(res, route.collection, filter, url.searchParams.get('resourceVersion') ?? '');
        }
        const items = [...coll.values()].filter(filter).map((o) => (route.custom ? o : stripTypeMeta(o)));
        const kind = `${items[0]?.kind ?? kindOf(resource)}List`;
        return json(res, 200, { apiVersion: route.collection.split('/').slice(0, -1).join('/').replace(/^\//, ''), kind, metadata: { resourceVersion: String(this.rv) }, items });
      }
      case 'POST': {
        if (route.name || !body) return status(res, 405, 'MethodNotAllowed', 'method not allowed');
        const obj = body as Obj;
        obj.metadata.namespace ??= route.namespace ?? undefined;
        if (crd) {
          const invalid = this.check(crd, obj, resource);
          if (invalid) return status(res, 422, 'Invalid', invalid);
        }
        const k = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
        if (coll.has(k)) return status(res, 409, 'AlreadyExists', `${resource} "${obj.metadata.name}" already exists`, { name: obj.metadata.name, kind: resource });
        const stored = this.stamp(obj, null);
        coll.set(k, stored);
        this.publish(route.collection, 'ADDED', stored);
        return json(res, 201, stored);
      }
      case 'PUT': {
        const current = route.name ? coll.get(key) : undefined;
        if (!current) return notFound(res, resource, route.name ?? '');
        const obj = body as Obj;
        if (crd) {
          const invalid = this.check(crd, obj, resource);
          if (invalid) return status(res, 422, 'Invalid', invalid);
        }
        const rv = obj.metadata?.resourceVersion;
        if (!rv && route.custom) {
          return status(res, 422, 'Invalid', `${resource} "${route.name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`);
        }
        if (rv && rv !== current.metadata.resourceVersion) {
          this.conflicts++;
          return status(res, 409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${route.name}": the object has been modified; please apply your changes to the latest version and try again`, { name: route.name, kind: resource });
        }
        const stored = this.stamp(obj, current);
        coll.set(key, stored);
        this.publish(route.collection, 'MODIFIED', stored);
        return json(res, 200, stored);
      }
      case 'PATCH': {
        const current = route.name ? coll.get(key) : undefined;
        if (!current) return notFound(res, resource, route.name ?? '');
        const type = String(req.headers['content-type'] ?? '');
        if (type !== 'application/merge-patch+json' && type !== 'application/strategic-merge-patch+json') {
          return status(res, 415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
        }
        const patched = mergePatch(structuredClone(current), body) as Obj;
        const stored = this.stamp(patched, current);
        coll.set(key, stored);
        this.publish(route.collection, 'MODIFIED', stored);
        return json(res, 200, stored);
      }
      case 'DELETE': {
        const current = route.name ? coll.get(key) : undefined;
        if (!current) return notFound(res, resource, route.name ?? '');
        this.remove(route.collection, route.namespace ?? '', route.name!);
        return json(res, 200, current);
      }
      default:
        return status(res, 405, 'MethodNotAllowed', 'method not allowed');
    }
  }

  private discovery(): Record<string, unknown> {
    const groups = new Map<string, Set<string>>([['apps', new Set(['v1'])], ['batch', new Set(['v1'])], ['networking.k8s.io', new Set(['v1'])]]);
    for (const c of this.crds.values()) groups.set(c.group, (groups.get(c.group) ?? new Set()).add(c.version));
    return {
      kind: 'APIGroupList', apiVersion: 'v1',
      groups: [...groups].map(([name, versions]) => {
        const vs = [...versions].map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
        return { name, versions: vs, preferredVersion: vs[0] };
      }),
    };
  }

  /** Validates an object as its custom resource's schema does, then prunes what the schema does not declare; the error message, or null. */
  private check(crd: CustomResource, obj: Obj, resource: string): string | null {
    if (obj.apiVersion !== `${crd.group}/${crd.version}` || obj.kind !== crd.kind) {
      return `${resource}: apiVersion/kind ${obj.apiVersion}/${obj.kind} is not ${crd.group}/${crd.version}/${crd.kind}`;
    }
    const causes = crd.validate(obj);
    if (causes.length > 0) return `${resource} "${String(obj.metadata?.name)}" is invalid: ${causes.join('; ')}`;
    prune(obj, crd.fields, '', this.pruned);
    return null;
  }

  private watch(res: ServerResponse, collection: string, filter: (o: Obj) => boolean, from: string): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const since = Number(from || '0');
    if (from && from !== '0' && since < this.compactedBelow) {
      this.send(res, 'ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${since} (${this.compactedBelow})`, reason: 'Expired', code: 410 });
      res.end();
      return;
    }
    if (!from || from === '0') {
      for (const o of this.collection(collection).values()) if (filter(o)) this.send(res, 'ADDED', o);
    } else {
      for (const c of this.history) if (c.collection === collection && c.rv > since && filter(c.object)) this.send(res, c.type, c.object);
    }
    const w: Watcher = { collection, filter, res };
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
  }
}

/** Structural schema pruning: fields the schema does not declare are dropped (metadata is the API server's own). */
function prune(value: unknown, fields: Fields, at: string, pruned: string[]): void {
  if (fields.preserveUnknown || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    if (fields.items) value.forEach((v, i) => prune(v, fields.items!, `${at}[${i}]`, pruned));
    return;
  }
  const o = value as Record<string, unknown>;
  const declared = fields.properties ?? {};
  for (const k of Object.keys(o)) {
    if (at === '' && (k === 'apiVersion' || k === 'kind' || k === 'metadata')) continue;
    if (!(k in declared)) {
      pruned.push(`${at}.${k}`);
      delete o[k];
    } else {
      prune(o[k], declared[k]!, `${at}.${k}`, pruned);
    }
  }
}

function kindOf(resource: string): string {
  const kinds: Record<string, string> = { pods: 'Pod', replicasets: 'ReplicaSet', jobs: 'Job', networkpolicies: 'NetworkPolicy', workloadprofiles: 'WorkloadProfile' };
  return kinds[resource] ?? resource;
}

function stripTypeMeta(o: Obj): Obj {
  const { apiVersion: _a, kind: _k, ...rest } = o;
  return rest as Obj;
}

function selector(namespace: string | null, fieldSelector: string | null, labelSelector: string | null = null): (o: Obj) => boolean {
  const terms = (fieldSelector ?? '').split(',').filter(Boolean).map((t) => {
    const [field, value] = t.split('=') as [string, string];
    return { path: field.split('.'), value };
  });
  // Equality terms only (key=value): what the engine asks for.
  const labels = (labelSelector ?? '').split(',').filter(Boolean).map((t) => {
    const [key, value] = t.split('=') as [string, string];
    return { key, value };
  });
  return (o) =>
    (namespace === null || o.metadata.namespace === namespace) &&
    terms.every((t) => t.path.reduce<any>((v, k) => v?.[k], o) === t.value) &&
    labels.every((l) => o.metadata.labels?.[l.key] === l.value);
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? (target as Record<string, unknown>) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

async function readBody(req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : null;
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function status(res: ServerResponse, code: number, reason: string, message: string, details?: Record<string, unknown>): void {
  json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code });
}

function notFound(res: ServerResponse, resource: string, name: string): void {
  status(res, 404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });
}

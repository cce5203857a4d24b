// Policy as code: a profile as a reviewable WorkloadProfile YAML document
// (stable ordering, so diffs read well), the same document validated and
// loaded back, the difference between two, the network part as a
// Kubernetes NetworkPolicy, and the part the kernel enforces.
import { createHash } from 'node:crypto';
import { Document, LineCounter, parseAllDocuments, stringify, type YAMLMap, type YAMLSeq } from 'yaml';
import { z } from 'zod';
import { MODES, type Mode } from '../../model/mode.js';
import { keyPath, locate } from '../../config/load.js';
import { AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP } from '../../model/addresses.js';
import { isProfileName, parseCidr } from './addresses.js';
import {
  PROFILE_API_VERSION, PROFILE_KIND,
  type EgressNameRule, type EgressRule, type IngressRule, type ListenRule, type WorkloadProfileDocument, type WorkloadProfileSpec,
} from './document.js';
import { PathSet } from './paths.js';
import { Profile, type ProfileLimits } from './profile.js';
import { redactArgsLine } from '../../model/argv.js';

export interface WorkloadRef {
  key: string;
  name: string;
  kind: string;
  namespace: string;
}

/** A Kubernetes object name (RFC 1123 subdomain) for a workload: readable, unique by a short hash. */
export function documentName(key: string, name: string): string {
  const base = name.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 200) || 'workload';
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 8);
  return `${base}-${hash}`;
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byName = (a: EgressNameRule, b: EgressNameRule): number => byString(a.name, b.name) || a.port - b.port || byString(a.protocol, b.protocol);

export function toDocument(profile: Profile, w: WorkloadRef, mode: Mode, extraStatus: { nodes?: string[] } = {}): WorkloadProfileDocument {
  const processes = [...profile.processes.values()]
    .sort((a, b) => byString(a.exe, b.exe))
    .map((p) => {
      const r: WorkloadProfileSpec['processes'][number] = { exe: p.exe };
      if (p.parents.size) r.parents = [...p.parents].sort(byString);
      if (p.users.size) r.users = [...p.users].sort((a, b) => a - b);
      if (p.args && p.args.size) r.args = [...p.args].sort(byString);
      if (p.sha256.size) r.sha256 = [...p.sha256];
      return r;
    });
  const egress = profile.egress().sort((a, b) => byString(a.to, b.to) || a.port - b.port || byString(a.protocol, b.protocol));
  const egressNames = profile.egressNames().sort(byName);
  const listen = profile.listening().sort((a, b) => a.port - b.port || byString(a.protocol, b.protocol));
  const ingress = profile.ingress().sort((a, b) => byString(a.from, b.from) || a.port - b.port);
  return {
    apiVersion: PROFILE_API_VERSION,
    kind: PROFILE_KIND,
    metadata: {
      name: documentName(w.key, w.name),
      ...(w.namespace ? { namespace: w.namespace } : {}),
      annotations: { 'vigil.dev/workload-key': w.key },
    },
    spec: {
      workload: { key: w.key, name: w.name, kind: w.kind, ...(w.namespace ? { namespace: w.namespace } : {}) },
      mode,
      processes,
      files: { read: profile.reads.entries(), write: profile.writes.entries() },
      network: { egress, ...(egressNames.length ? { egressNames } : {}), listen, ingress },
    },
    status: {
      learningSince: new Date(profile.learningSince).toISOString(),
      lastNewBehaviour: new Date(profile.lastNewAt).toISOString(),
      ...(extraStatus.nodes ? { nodes: extraStatus.nodes } : {}),
    },
  };
}

export function toYaml(docs: WorkloadProfileDocument[]): string {
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}

// ---- validation --------------------------------------------------------

const absPath = z.string().regex(/^\//, 'must be an absolute path or pattern');
const cidrText = z.string().refine((s) => {
  try {
    parseCidr(s);
    return true;
  } catch {
    return false;
  }
}, 'must be an IP address or CIDR');
const port = z.number().int().min(0).max(65535);
/** A DNS name, or "*.domain" for every name below it (at least two labels). */
const dnsName = z.string().refine(isProfileName, 'must be a lower-case DNS name, or *.domain with a domain of two labels or more');
const protocol = z.enum(['tcp', 'udp']);

const documentSchema = z.object({
  apiVersion: z.literal(PROFILE_API_VERSION),
  kind: z.literal(PROFILE_KIND),
  metadata: z.object({
    name: z.string().min(1).max(253),
    namespace: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    resourceVersion: z.string().optional(),
  }).passthrough(),
  spec: z.strictObject({
    workload: z.strictObject({ key: z.string().min(1), name: z.string().min(1), kind: z.string().min(1), namespace: z.string().optional() }),
    mode: z.enum(MODES),
    processes: z.array(z.strictObject({
      exe: absPath,
      parents: z.array(absPath).optional(),
      users: z.array(z.number().int().min(0)).optional(),
      args: z.array(z.string()).optional(),
      sha256: z.array(z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in lower-case hex')).optional(),
    })).default([]),
    files: z.strictObject({ read: z.array(absPath).default([]), write: z.array(absPath).default([]) }).prefault({}),
    network: z.strictObject({
      egress: z.array(z.strictObject({ to: cidrText, port, protocol })).default([]),
      egressNames: z.array(z.strictObject({ name: dnsName, port, protocol, seen: z.array(cidrText).optional() })).optional(),
      listen: z.array(z.strictObject({ port: port.min(1), protocol })).default([]),
      ingress: z.array(z.strictObject({ from: cidrText, port })).default([]),
    }).prefault({}),
  }),
  status: z.object({
    learningSince: z.string().optional(),
    lastNewBehaviour: z.string().optional(),
    nodes: z.array(z.string()).optional(),
  }).passthrough().optional(),
});

export class PolicyError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'PolicyError';
  }
}

/** Parses and validates WorkloadProfile YAML (one or more documents); errors name file, line and key. */
export function parsePolicyYaml(text: string, file: string): WorkloadProfileDocument[] {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const problems: string[] = [];
  const out: WorkloadProfileDocument[] = [];
  list.forEach((doc, i) => {
    for (const e of doc.errors) {
      const { line, col } = lines.linePos(e.pos[0]);
      problems.push(`${file}:${line}:${col}: ${e.message.split('\n')[0]}`);
    }
    if (doc.errors.length) return;
    const value = doc.toJS();
    if (value === null || value === undefined) return; // an empty document between separators
    const r = documentSchema.safeParse(value);
    if (!r.success) {
      for (const issue of r.error.issues) {
        const at = locate(doc, lines, issue.path);
        problems.push(`${file}:${at ? `${at}:` : ''} ${list.length > 1 ? `document ${i + 1}: ` : ''}${keyPath(issue.path)}: ${issue.message}`);
      }
      return;
    }
    out.push(r.data as WorkloadProfileDocument);
  });
  if (problems.length) throw new PolicyError(problems);
  if (out.length === 0) throw new PolicyError([`${file}: no WorkloadProfile document`]);
  return out;
}

/** A profile holding exactly what a (validated) document lists. */
export function fromDocument(doc: WorkloadProfileDocument, limits: ProfileLimits): Profile {
  const p = new Profile(limits);
  const s = doc.spec;
  for (const r of s.processes) {
    p.processes.set(r.exe, {
      exe: r.exe,
      parents: new Set(r.parents ?? []),
      users: new Set(r.users ?? []),
      // Redacted as learned ones are (a file written by hand, or before redaction, may hold a secret).
      args: r.args && r.args.length ? new Set(r.args.map((a) => redactArgsLine(r.exe, a))) : null,
      sha256: new Set(r.sha256 ?? []),
    });
  }
  p.setFiles(PathSet.from(s.files.read, limits.files), PathSet.from(s.files.write, limits.files));
  for (const e of s.network.egress) p.addEgress(e);
  for (const n of s.network.egressNames ?? []) p.addEgressName(n);
  for (const l of s.network.listen) p.addListen(l);
  for (const i of s.network.ingress) p.addIngress(i);
  if (doc.status?.learningSince) p.learningSince = Date.parse(doc.status.learningSince) || p.learningSince;
  if (doc.status?.lastNewBehaviour) p.lastNewAt = Date.parse(doc.status.lastNewBehaviour) || p.lastNewAt;
  return p;
}

// ---- merge -------------------------------------------------------------

const union = <T>(a: readonly T[] | undefined, b: readonly T[] | undefined): T[] => [...new Set([...(a ?? []), ...(b ?? [])])];

/**
 * Two nodes' profiles of one workload as one: everything either learned
 * (the cluster-wide profile replicas on many nodes share). The stored
 * spec's mode stands; arguments stay compared only while both agree they
 * are stable.
 */
export function mergeSpecs(stored: WorkloadProfileSpec, learned: WorkloadProfileSpec): WorkloadProfileSpec {
  const processes = new Map(stored.processes.map((p) => [p.exe, { ...p }]));
  for (const p of learned.processes) {
    const s = processes.get(p.exe);
    if (!s) {
      processes.set(p.exe, { ...p });
      continue;
    }
    const parents = union(s.parents, p.parents).sort(byString);
    const users = union(s.users, p.users).sort((a, b) => a - b);
    const args = s.args && p.args ? union(s.args, p.args).sort(byString) : undefined;
    const sha256 = union(s.sha256, p.sha256).slice(-16);
    processes.set(p.exe, { exe: p.exe, ...(parents.length ? { parents } : {}), ...(users.length ? { users } : {}), ...(args ? { args } : {}), ...(sha256.length ? { sha256 } : {}) });
  }
  const key = (o: object): string => JSON.stringify(o);
  const unionBy = <T extends object>(a: T[], b: T[]): T[] => [...new Map([...a, ...b].map((x) => [key(x), x])).values()];
  return {
    workload: stored.workload,
    mode: stored.mode,
    processes: [...processes.values()].sort((a, b) => byString(a.exe, b.exe)),
    files: { read: union(stored.files.read, learned.files.read).sort(byString), write: union(stored.files.write, learned.files.write).sort(byString) },
    network: {
      egress: unionBy(stored.network.egress, learned.network.egress).sort((a, b) => byString(a.to, b.to) || a.port - b.port || byString(a.protocol, b.protocol)),
      ...mergeNames(stored.network.egressNames, learned.network.egressNames),
      listen: unionBy(stored.network.listen, learned.network.listen).sort((a, b) => a.port - b.port || byString(a.protocol, b.protocol)),
      ingress: unionBy(stored.network.ingress, learned.network.ingress).sort((a, b) => byString(a.from, b.from) || a.port - b.port),
    },
  };
}

/** Name rules of both, addresses seen joined (the latest kept). */
function mergeNames(a: EgressNameRule[] | undefined, b: EgressNameRule[] | undefined): { egressNames?: EgressNameRule[] } {
  if (!a?.length && !b?.length) return {};
  const m = new Map<string, EgressNameRule>();
  for (const r of [...(a ?? []), ...(b ?? [])]) {
    const k = `${r.protocol} ${r.port} ${r.name}`;
    const old = m.get(k);
    const seen = [...new Set([...(old?.seen ?? []), ...(r.seen ?? [])])].slice(-16);
    m.set(k, { name: r.name, port: r.port, protocol: r.protocol, ...(seen.length ? { seen } : {}) });
  }
  return { egressNames: [...m.values()].sort(byName) };
}

// ---- diff --------------------------------------------------------------

/** Lines of what a document has that `current` lacks (+) and the reverse (-), by section; empty when they agree. */
export function diffDocuments(file: WorkloadProfileDocument, current: WorkloadProfileDocument): string[] {
  const out: string[] = [];
  if (file.spec.mode !== current.spec.mode) out.push(`~ mode: ${current.spec.mode} → ${file.spec.mode}`);
  const section = (name: string, a: string[], b: string[]): void => {
    const sa = new Set(a);
    const sb = new Set(b);
    for (const x of [...sa].sort(byString)) if (!sb.has(x)) out.push(`+ ${name}: ${x}`);
    for (const x of [...sb].sort(byString)) if (!sa.has(x)) out.push(`- ${name}: ${x}`);
  };
  const proc = (d: WorkloadProfileDocument): string[] =>
    d.spec.processes.map((p) => `${p.exe}${p.parents?.length ? ` (parents ${p.parents.join(', ')})` : ''}${p.users?.length ? ` (users ${p.users.join(', ')})` : ''}`);
  section('process', proc(file), proc(current));
  // Arguments of executables both list (a new or removed executable already shows as a process line).
  const both = new Set(file.spec.processes.map((p) => p.exe).filter((e) => current.spec.processes.some((p) => p.exe === e)));
  // Redacted as loaded (fromDocument): a secret written in the file is neither a difference nor printed.
  const args = (d: WorkloadProfileDocument): string[] => d.spec.processes.filter((p) => both.has(p.exe)).flatMap((p) => (p.args ?? []).map((a) => `${p.exe} ${redactArgsLine(p.exe, a)}`));
  section('arguments', args(file), args(current));
  section('read', file.spec.files.read, current.spec.files.read);
  section('write', file.spec.files.write, current.spec.files.write);
  const eg = (r: EgressRule): string => `${r.protocol} ${r.to} port ${r.port || 'any'}`;
  section('egress', file.spec.network.egress.map(eg), current.spec.network.egress.map(eg));
  const en = (r: EgressNameRule): string => `${r.protocol} ${r.name} port ${r.port || 'any'}`;
  section('egress name', (file.spec.network.egressNames ?? []).map(en), (current.spec.network.egressNames ?? []).map(en));
  const li = (r: ListenRule): string => `${r.protocol} ${r.port}`;
  section('listen', file.spec.network.listen.map(li), current.spec.network.listen.map(li));
  const ing = (r: IngressRule): string => `${r.from} → port ${r.port || 'any'}`;
  section('ingress', file.spec.network.ingress.map(ing), current.spec.network.ingress.map(ing));
  return out;
}

// ---- Kubernetes NetworkPolicy -----------------------------------------

/** The network part as a NetworkPolicy: egress to what was learned, ingress on listening ports from learned peers. */
export function toNetworkPolicy(doc: WorkloadProfileDocument, podLabels: Record<string, string>): Record<string, unknown> {
  const net = doc.spec.network;
  const ipBlock = (cidr: string): { ipBlock: { cidr: string } } => {
    const c = parseCidr(cidr);
    const full = c.family === 4 ? 32 : 128;
    return { ipBlock: { cidr: cidr.includes('/') ? cidr : `${cidr}/${full}` } };
  };
  const groupBy = <R>(rules: R[], peer: (r: R) => string): Map<string, R[]> => {
    const m = new Map<string, R[]>();
    for (const r of rules) m.set(peer(r), [...(m.get(peer(r)) ?? []), r]);
    return m;
  };
  const egress = [...groupBy(net.egress, (r) => r.to)].map(([to, rules]) => ({
    to: [ipBlock(to)],
    ...(rules.some((r) => r.port === 0) ? {} : { ports: rules.map((r) => ({ protocol: r.protocol.toUpperCase(), port: r.port })) }),
  }));
  // NetworkPolicy has no names: a name's rule lists the addresses it had while learning (networkPolicyYaml says so in a comment).
  for (const r of net.egressNames ?? []) {
    if (!r.seen?.length) continue;
    egress.push({ to: r.seen.map(ipBlock), ...(r.port === 0 ? {} : { ports: [{ protocol: r.protocol.toUpperCase(), port: r.port }] }) });
  }
  const listenPorts = net.listen.map((l) => ({ protocol: l.protocol.toUpperCase(), port: l.port }));
  const peers = [...new Set(net.ingress.map((i) => i.from))];
  const ingress = listenPorts.length
    ? [{ ...(peers.length ? { from: peers.map(ipBlock) } : {}), ports: listenPorts }]
    : [];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: `vigil-${doc.metadata.name}`.slice(0, 253),
      ...(doc.metadata.namespace ? { namespace: doc.metadata.namespace } : {}),
      labels: { 'app.kubernetes.io/managed-by': 'vigil' },
      annotations: { 'vigil.dev/workload-key': doc.spec.workload.key },
    },
    spec: {
      podSelector: { matchLabels: podLabels },
      policyTypes: ['Ingress', 'Egress'],
      ingress,
      egress,
    },
  };
}

/** The NetworkPolicy as YAML, each rule made from a name commented with the name: its addresses will change. */
export function networkPolicyYaml(doc: WorkloadProfileDocument, podLabels: Record<string, string>): string {
  const ydoc = new Document(toNetworkPolicy(doc, podLabels));
  const egress = ydoc.getIn(['spec', 'egress']) as YAMLSeq<YAMLMap> | undefined;
  const named = (doc.spec.network.egressNames ?? []).filter((r) => r.seen?.length);
  const first = (egress?.items.length ?? 0) - named.length;
  named.forEach((r, i) => {
    const item = egress?.items[first + i];
    if (item) item.commentBefore = ` ${r.name}: the addresses it resolved to while learning; NetworkPolicy has no names, so new ones are not allowed (CiliumNetworkPolicy toFQDNs follows the name)`;
  });
  return ydoc.toString({ lineWidth: 0 });
}

// ---- CiliumNetworkPolicy -------------------------------------------------

/**
 * The network part for clusters that run Cilium: names as toFQDNs (which
 * follow the name's addresses as Cilium's DNS proxy sees its answers), and
 * the learned resolvers with the DNS rule that proxy needs. Cilium's "*."
 * matches one label; a Vigil wildcard any number, so the export is the stricter.
 */
export function toCiliumNetworkPolicy(doc: WorkloadProfileDocument, podLabels: Record<string, string>): Record<string, unknown> {
  const net = doc.spec.network;
  const cidr = (to: string): string => {
    const c = parseCidr(to);
    return to.includes('/') ? to : `${to}/${c.family === 4 ? 32 : 128}`;
  };
  const ports = (rules: { port: number; protocol: string }[]) => {
    if (rules.some((r) => r.port === 0)) return [];
    const distinct = [...new Set(rules.map((r) => `${r.port}/${r.protocol.toUpperCase()}`))].map((x) => x.split('/') as [string, string]);
    return [{ ports: distinct.map(([port, protocol]) => ({ port, protocol })) }];
  };
  const egress: Record<string, unknown>[] = [];
  const resolvers = net.egress.filter((r) => r.port === 53);
  if (resolvers.length) {
    egress.push({
      toCIDRSet: [...new Set(resolvers.map((r) => cidr(r.to)))].map((c) => ({ cidr: c })),
      toPorts: [{ ports: [{ port: '53', protocol: 'ANY' }], rules: { dns: [{ matchPattern: '*' }] } }],
    });
  }
  for (const r of net.egress.filter((x) => x.port !== 53)) {
    egress.push({ toCIDRSet: [{ cidr: cidr(r.to) }], ...(ports([r]).length ? { toPorts: ports([r]) } : {}) });
  }
  const byPorts = new Map<string, EgressNameRule[]>();
  for (const r of net.egressNames ?? []) {
    const k = `${r.protocol} ${r.port}`;
    byPorts.set(k, [...(byPorts.get(k) ?? []), r]);
  }
  for (const rules of byPorts.values()) {
    egress.push({
      toFQDNs: rules.map((r) => (r.name.startsWith('*.') ? { matchPattern: r.name } : { matchName: r.name })),
      ...(ports(rules).length ? { toPorts: ports(rules) } : {}),
    });
  }
  const listenPorts = net.listen.map((l) => ({ port: String(l.port), protocol: l.protocol.toUpperCase() }));
  const peers = [...new Set(net.ingress.map((i) => i.from))];
  const ingress = listenPorts.length
    ? [{ ...(peers.length ? { fromCIDRSet: peers.map((p) => ({ cidr: cidr(p) })) } : { fromEntities: ['all'] }), toPorts: [{ ports: listenPorts }] }]
    : [];
  return {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNetworkPolicy',
    metadata: {
      name: `vigil-${doc.metadata.name}`.slice(0, 253),
      ...(doc.metadata.namespace ? { namespace: doc.metadata.namespace } : {}),
      labels: { 'app.kubernetes.io/managed-by': 'vigil' },
      annotations: { 'vigil.dev/workload-key': doc.spec.workload.key },
    },
    spec: { endpointSelector: { matchLabels: podLabels }, ingress, egress },
  };
}

// ---- the kernel's part -------------------------------------------------

export interface KernelPolicy {
  exec: string[];
  /** Executables allowed only as the content learned (respond/exec-identity.ts finds the file at each path). */
  execContents: { path: string; sha256: string[] }[];
  connect: { family: number; address: Uint8Array; prefixLen: number; port: number; protocol: number }[];
  /** Names whose answers' addresses the kernel allows as they arrive (bpf/dns.bpf.h). */
  names: { name: string; port: number; protocol: number }[];
  write: string[];
  /** What the kernel cannot enforce exactly and the engine handles after the event instead. */
  afterTheFact: string[];
}

/** What putting a policy in the kernel came to (respond/enforcement.ts does it). */
export interface EnforceResult {
  ok: boolean;
  error: string;
  /** What is not enforced in the kernel on this node, and why. */
  warnings: string[];
  /** Refused because the workload's cgroups hold Vigil's own processes (the engine's or the probe's). */
  holdsVigil?: boolean;
}

const GLOB = /[*?]/;

/** What the kernel enforces for a profile: exact executables, destinations, writable paths below the protected prefixes. */
export function kernelPolicy(doc: WorkloadProfileDocument, protectedPaths: readonly string[]): KernelPolicy {
  const exec = doc.spec.processes.map((p) => p.exe).filter((e) => !GLOB.test(e));
  const execContents = doc.spec.processes.filter((p) => !GLOB.test(p.exe) && p.sha256?.length).map((p) => ({ path: p.exe, sha256: p.sha256! }));
  const execPatterns = doc.spec.processes.length - exec.length;
  const connect = doc.spec.network.egress.map((r) => {
    const c = parseCidr(r.to);
    return { family: c.family === 4 ? AF_INET : AF_INET6, address: c.bytes, prefixLen: c.prefix, port: r.port, protocol: r.protocol === 'udp' ? IPPROTO_UDP : IPPROTO_TCP };
  });
  const protectedWrites = doc.spec.files.write.filter((p) => protectedPaths.some((pre) => p.startsWith(pre)));
  const write = protectedWrites.filter((p) => !GLOB.test(p));
  const writePatterns = protectedWrites.length - write.length;
  const afterTheFact: string[] = [];
  if (execPatterns) afterTheFact.push(`${execPatterns} executable pattern(s) are checked after exec, not at exec`);
  if (writePatterns) afterTheFact.push(`${writePatterns} write pattern(s) below protected paths are checked after the write`);
  const names = (doc.spec.network.egressNames ?? []).map((r) => ({ name: r.name, port: r.port, protocol: r.protocol === 'udp' ? IPPROTO_UDP : IPPROTO_TCP }));
  return { exec, execContents, connect, names, write, afterTheFact };
}

// Network activity for the console's map: one edge per (workload, peer,
// direction, port, protocol) with counts, blocks, anomalies and when it
// was first and last seen. Bounded: past the limit the least recently
// seen edge goes (counted). A peer address is named after the workload
// seen accepting connections on it (or bound to it), else it is an
// external address, labelled with the DNS name the workload resolved it
// from where one is known; loopback peers are the node itself.
import type { Alert } from '../model/alert.js';
import type { Event } from '../model/event.js';
import type { EdgeState, NetworkEdge, NetworkNode, NetworkView } from './api.js';

interface Edge {
  workload: string;
  workloadName: string;
  namespace: string;
  addr: string;
  /** The name the workload resolved addr from (DNS answers seen in the kernel), '' when none. */
  name: string;
  direction: 'out' | 'in';
  port: number;
  protocol: string;
  count: number;
  blocked: number;
  anomalies: number;
  firstSeen: number;
  lastSeen: number;
}

interface Owner {
  key: string;
  name: string;
  namespace: string;
}

const MAX_ADDRESSES = 4096;

function isLoopback(addr: string): boolean {
  return addr.startsWith('127.') || addr === '::1' || addr.startsWith('::ffff:127.');
}

export class NetworkMap {
  /** Insertion order is recency order: a touched edge is moved to the end. */
  private readonly edges = new Map<string, Edge>();
  /** addr:port a workload accepted on or bound to → that workload. */
  private readonly owners = new Map<string, Owner>();
  evicted = 0;

  constructor(readonly limit: number) {}

  get size(): number {
    return this.edges.size;
  }

  onEvent(e: Event): void {
    const w = e.workload;
    if (!w) return;
    switch (e.type) {
      case 'connect':
        if (e.addr) this.touch(w, e.addr, 'out', e.port, e.protocol || 'tcp', e.time, 1, e.blocked ? 1 : 0, 0, e.sipName);
        return;
      case 'accept':
        if (e.localAddr && e.localPort) this.own(`${e.localAddr}:${e.localPort}`, w);
        if (e.addr && e.result >= 0) this.touch(w, e.addr, 'in', e.localPort, e.protocol || 'tcp', e.time, 1, 0, 0, e.cipName);
        return;
      case 'bind':
      case 'listen':
        if (e.localAddr && e.localPort && e.localAddr !== '0.0.0.0' && e.localAddr !== '::') this.own(`${e.localAddr}:${e.localPort}`, w);
        return;
      default:
    }
  }

  /** An anomaly (or block) about a connection marks its edge. */
  onAlert(a: Alert): void {
    const ev = a.event as { type?: string; addr?: string; port?: number; protocol?: string; localPort?: number; blocked?: boolean };
    if (a.source !== 'profile' || !a.workload.key || !ev.addr || (ev.type !== 'connect' && ev.type !== 'accept')) return;
    const direction = ev.type === 'connect' ? 'out' : 'in';
    const port = (direction === 'out' ? ev.port : ev.localPort) ?? 0;
    const w = { key: a.workload.key, name: a.workload.name, namespace: a.workload.namespace };
    this.touch(w, ev.addr, direction, port, ev.protocol || 'tcp', Date.parse(a.time) || Date.now(), 0, 0, a.count || 1);
  }

  private own(addrPort: string, w: Owner): void {
    if (this.owners.has(addrPort)) this.owners.delete(addrPort);
    else if (this.owners.size >= MAX_ADDRESSES) this.owners.delete(this.owners.keys().next().value!);
    this.owners.set(addrPort, { key: w.key, name: w.name, namespace: w.namespace });
  }

  private touch(w: Owner, addr: string, direction: 'out' | 'in', port: number, protocol: string, at: number, count: number, blocked: number, anomalies: number, name = ''): void {
    const id = `${w.key}|${direction}|${addr}|${port}|${protocol}`;
    let e = this.edges.get(id);
    if (e) {
      this.edges.delete(id);
    } else {
      if (this.edges.size >= this.limit) {
        this.edges.delete(this.edges.keys().next().value!);
        this.evicted++;
      }
      e = { workload: w.key, workloadName: w.name, namespace: w.namespace, addr, name: '', direction, port, protocol, count: 0, blocked: 0, anomalies: 0, firstSeen: at, lastSeen: at };
    }
    if (name) e.name = name;
    this.edges.set(id, e);
    e.count += count;
    e.blocked += blocked;
    e.anomalies += anomalies;
    if (at > e.lastSeen) e.lastSeen = at;
    if (at < e.firstSeen) e.firstSeen = at;
  }

  /** The graph, for every workload or those `include` accepts. */
  view(quarantined: (key: string) => boolean, include: (key: string, namespace: string) => boolean = () => true): NetworkView {
    const nodes = new Map<string, NetworkNode>();
    const edges: NetworkEdge[] = [];
    for (const [id, e] of this.edges) {
      if (!include(e.workload, e.namespace)) continue;
      const wid = `w:${e.workload}`;
      if (!nodes.has(wid)) nodes.set(wid, { id: wid, label: e.workloadName, kind: 'workload', namespace: e.namespace });
      // For an inbound edge the peer's port is ephemeral: name the owner of the peer address on any port.
      const owner = e.direction === 'out' ? this.owners.get(`${e.addr}:${e.port}`) : undefined;
      let peer: string;
      if (owner && owner.key !== e.workload) {
        peer = `w:${owner.key}`;
        if (!nodes.has(peer)) nodes.set(peer, { id: peer, label: owner.name, kind: 'workload', namespace: owner.namespace });
      } else if (isLoopback(e.addr)) {
        peer = `h:${e.addr}`;
        if (!nodes.has(peer)) nodes.set(peer, { id: peer, label: `${e.addr} (this node)`, kind: 'host', namespace: '' });
      } else {
        peer = `a:${e.addr}`;
        const label = e.name ? `${e.name} (${e.addr})` : e.addr;
        if (!nodes.has(peer) || e.name) nodes.set(peer, { id: peer, label, kind: 'external', namespace: '' });
      }
      const state: EdgeState = quarantined(e.workload) ? 'quarantined' : e.blocked ? 'blocked' : e.anomalies ? 'anomalous' : 'learned';
      edges.push({
        id,
        source: e.direction === 'out' ? wid : peer,
        target: e.direction === 'out' ? peer : wid,
        direction: e.direction, port: e.port, protocol: e.protocol, count: e.count, blocked: e.blocked, anomalies: e.anomalies,
        firstSeen: new Date(e.firstSeen).toISOString(), lastSeen: new Date(e.lastSeen).toISOString(), state,
      });
    }
    return { nodes: [...nodes.values()], edges, evicted: this.evicted, limit: this.limit };
  }

  /** Distinct peers a workload connected to, and how many of them were anomalies. */
  egressOf(key: string): { peers: number; anomalous: string[] } {
    const peers = new Set<string>();
    const anomalous = new Set<string>();
    for (const e of this.edges.values()) {
      if (e.workload !== key || e.direction !== 'out') continue;
      peers.add(`${e.addr}:${e.port}/${e.protocol}`);
      if (e.anomalies || e.blocked) anomalous.add(`${e.addr}:${e.port}/${e.protocol}`);
    }
    return { peers: peers.size, anomalous: [...anomalous] };
  }
}

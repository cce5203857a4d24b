// Which name a workload resolved an address from: the DNS answers that
// reached each cgroup (bpf/dns.bpf.h), address → the name asked for, kept
// until the answer's TTL runs out (and at least minTtlMs: programs cache
// answers longer than their TTL). A connect then carries the name
// (Falco's fd.sip.name) and profiles judge it by name.
//
// Bounded: each cgroup keeps at most maxPerCgroup addresses, its oldest
// going first, so a workload flooded with answers forgets its own names,
// not another's. Evictions are counted (status, metrics).
import { dnsAnswer, type Event } from '../model/event.js';

interface Entry {
  name: string;
  expires: number;
}

export interface DnsNamesOptions {
  maxPerCgroup: number;
  minTtlMs: number;
}

export const DNS_NAMES_DEFAULTS: DnsNamesOptions = { maxPerCgroup: 4096, minTtlMs: 3_600_000 };

export class DnsNames {
  private readonly byCgroup = new Map<number, Map<string, Entry>>();
  /** Answers taken in. */
  answers = 0;
  /** Addresses forgotten before their time because their cgroup's table was full. */
  evicted = 0;

  constructor(private readonly opts: DnsNamesOptions = DNS_NAMES_DEFAULTS) {}

  /** Takes in a dns event's addresses. */
  observe(e: Event): void {
    const d = dnsAnswer(e);
    if (!d || !d.name || d.addresses.length === 0) return;
    this.answers++;
    let table = this.byCgroup.get(e.cgroupId);
    if (!table) this.byCgroup.set(e.cgroupId, (table = new Map()));
    for (const a of d.addresses) {
      // Re-inserted so the Map's order stays oldest first.
      table.delete(a.addr);
      table.set(a.addr, { name: d.name, expires: e.time + Math.max(a.ttl * 1000, this.opts.minTtlMs) });
      if (table.size > this.opts.maxPerCgroup) {
        table.delete(table.keys().next().value!);
        this.evicted++;
      }
    }
  }

  /** The name `cgroupId` resolved `addr` from, '' when none is known (or it expired by `now`, ms). */
  nameOf(cgroupId: number, addr: string, now: number): string {
    const x = this.byCgroup.get(cgroupId)?.get(addr);
    return x && x.expires >= now ? x.name : '';
  }

  /** Addresses held, over every cgroup. */
  get size(): number {
    let n = 0;
    for (const t of this.byCgroup.values()) n += t.size;
    return n;
  }
}

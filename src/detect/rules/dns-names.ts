// Domain names rules compare addresses with (fd.sip.name = example.com),
// as Falco's dns_manager does them: each name a rule set uses is resolved
// (getaddrinfo, so /etc/hosts first) when the rules load, then again in
// the background, every 10 s at first and up to every 320 s while the
// answer stays the same. An address matches a name when it is among the
// name's last answer. Rules never wait for a lookup: until a name's first
// answer, nothing matches it.
import { lookup as dnsLookup } from 'node:dns/promises';

/** Resolves a name to its addresses (IPv4 and IPv6), as text. */
export type Lookup = (name: string) => Promise<string[]>;

const BASE_REFRESH_MS = 10_000;
const MAX_REFRESH_MS = 320_000;
/** At most this many names are watched: a rule set naming more is cut (and says so). */
export const MAX_NAMES = 4096;

const systemLookup: Lookup = async (name) => (await dnsLookup(name, { all: true, verbatim: true })).map((a) => a.address);

interface Entry {
  addrs: ReadonlySet<string>;
  /** Whether a lookup has answered (an empty answer included). */
  answered: boolean;
  refreshMs: number;
  timer: NodeJS.Timeout | null;
  failures: number;
}

export class DnsNames {
  private readonly names = new Map<string, Entry>();
  /** Lookups that failed (counted; the name keeps its last answer). */
  failures = 0;
  /** Names a rule set asked for beyond MAX_NAMES. */
  dropped = 0;
  private closed = false;

  constructor(
    /** False: no name is ever resolved, so no address matches one (no DNS traffic). */
    readonly enabled = true,
    private readonly lookup: Lookup = systemLookup,
  ) {}

  /** Watches exactly these names from now on (a reloaded rule set may use others). */
  watch(names: Iterable<string>): void {
    const want = new Set<string>();
    for (const n of names) {
      const name = n.trim().toLowerCase();
      if (name === '') continue;
      if (want.size >= MAX_NAMES) {
        this.dropped++;
        continue;
      }
      want.add(name);
    }
    for (const [name, e] of this.names) {
      if (want.has(name)) continue;
      if (e.timer) clearTimeout(e.timer);
      this.names.delete(name);
    }
    for (const name of want) {
      if (this.names.has(name)) continue;
      const e: Entry = { addrs: new Set(), answered: false, refreshMs: BASE_REFRESH_MS, timer: null, failures: 0 };
      this.names.set(name, e);
      if (this.enabled) void this.resolve(name, e);
    }
  }

  private async resolve(name: string, e: Entry): Promise<void> {
    let addrs: Set<string> | null = null;
    try {
      addrs = new Set((await this.lookup(name)).map(normalise));
    } catch {
      this.failures++;
      e.failures++;
    }
    if (this.closed || this.names.get(name) !== e) return;
    if (addrs) {
      const same = e.answered && addrs.size === e.addrs.size && [...addrs].every((a) => e.addrs.has(a));
      e.refreshMs = same ? Math.min(e.refreshMs * 2, MAX_REFRESH_MS) : BASE_REFRESH_MS;
      e.addrs = addrs;
      e.answered = true;
    }
    e.timer = setTimeout(() => void this.resolve(name, e), e.refreshMs);
    e.timer.unref();
  }

  /** Whether `addr` is among the addresses `name` resolved to. */
  matches(name: string, addr: string): boolean {
    return this.names.get(name.toLowerCase())?.addrs.has(normalise(addr)) ?? false;
  }

  /** Whether `addr` is among the addresses of any of `names`. */
  matchesAny(names: readonly string[], addr: string): boolean {
    for (const n of names) if (this.matches(n, addr)) return true;
    return false;
  }

  /** A watched name `addr` resolved from, for outputs; undefined when none. */
  nameOf(addr: string): string | undefined {
    const a = normalise(addr);
    for (const [name, e] of this.names) if (e.addrs.has(a)) return name;
    return undefined;
  }

  /** Whether every watched name has had an answer (or resolution is off). */
  get settled(): boolean {
    if (!this.enabled) return true;
    for (const e of this.names.values()) if (!e.answered && e.failures === 0) return false;
    return true;
  }

  get watched(): number {
    return this.names.size;
  }

  close(): void {
    this.closed = true;
    for (const e of this.names.values()) if (e.timer) clearTimeout(e.timer);
    this.names.clear();
  }
}

/** IPv4-mapped IPv6 addresses read as IPv4, as the decoder writes them. */
function normalise(addr: string): string {
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr.toLowerCase();
}

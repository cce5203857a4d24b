// One workload's learned behaviour: the executables it runs (with their
// parents, users and, where stable, arguments), the files it reads and
// writes (generalised by PathSet), and its network: where it connects,
// what it listens on, who connects to it. `observe` answers "is this event
// inside the profile?" and, while learning, records it.
import { execMore, type Event } from '../../model/event.js';
import { cidrContains, formatCidr, isProfileName, parseCidr, widenTo, type Cidr } from './addresses.js';
import type { EgressNameRule, EgressRule, IngressRule, ListenRule } from './document.js';
import { PathSet, type PathSetOptions } from './paths.js';
import { newVersion, type FileVerdicts } from './verdicts.js';
import { quote, shown } from '../../model/text.js';
import { redactArgsLine, redactArgv } from '../../model/argv.js';
import { parseIPv4 } from '../../model/addresses.js';

export type AnomalyKind =
  | 'new-executable'
  | 'new-user'
  | 'new-parent'
  | 'new-arguments'
  | 'new-file-read'
  | 'new-file-write'
  | 'new-egress'
  | 'new-listen'
  | 'new-ingress';

/** How an event differs from the profile. */
export interface Deviation {
  kind: AnomalyKind;
  /** The new thing, e.g. "/usr/bin/nc" or "tcp 10.0.0.9:4444". */
  what: string;
  /** One line for a person: what is new and how it differs. */
  message: string;
}

export interface ProfileLimits {
  files: Partial<PathSetOptions>;
  /** Distinct argument lists kept per executable before its arguments count as unstable. */
  stableArgs: number;
  /** Distinct addresses in one /24 (or /64) on one port before the rule widens to the network. */
  widenAt: number;
  /** Most processes and network rules kept; past it new ones are not learned (and counted). */
  maxEntries: number;
}

export const DEFAULT_LIMITS: ProfileLimits = { files: {}, stableArgs: 8, widenAt: 8, maxEntries: 4096 };

export interface ProcessEntry {
  exe: string;
  parents: Set<string>;
  users: Set<number>;
  /** Argument lists seen (argv after argv[0]); null once they proved unstable. */
  args: Set<string> | null;
  /** The contents it was seen with (sha256, the probe's): the file at the path is that executable only with one of them. */
  sha256: Set<string>;
}

/** Contents kept per executable (package upgrades add one each); the oldest goes first. */
const MAX_CONTENTS = 16;

/**
 * A network rule by prefix, flat for the check every connect and accept
 * makes: its port and protocol beside it, and an IPv4 prefix as a number
 * and a mask (the event's address parsed once, not once per rule).
 */
interface NetRule<R> {
  rule: R;
  cidr: Cidr;
  port: number;
  protocol: string;
  /** IPv4: the network and its mask as 32-bit numbers (IPv6: -1 and 0, checked by cidrContains). */
  v4net: number;
  v4mask: number;
}

function netRule<R>(rule: R, cidr: Cidr, port: number, protocol: string): NetRule<R> {
  const v4 = cidr.family === 4;
  const net = v4 ? ((cidr.bytes[0]! << 24) | (cidr.bytes[1]! << 16) | (cidr.bytes[2]! << 8) | cidr.bytes[3]!) | 0 : -1;
  const mask = v4 && cidr.prefix > 0 ? (0xffffffff << (32 - cidr.prefix)) | 0 : 0;
  return { rule, cidr, port, protocol, v4net: net, v4mask: mask };
}

/** cidrContains(r.cidr, addr), with `a4` = parseIPv4(addr) (-1: not IPv4). */
function inNet(r: NetRule<unknown>, a4: number, addr: string): boolean {
  if (a4 >= 0 && r.cidr.family === 4) return ((a4 ^ r.v4net) & r.v4mask) === 0;
  return cidrContains(r.cidr, addr);
}

/**
 * Exact network rules by address, then port and protocol: a connect or
 * accept is checked with two Map lookups on strings and numbers it
 * already has, not a key string built (and hashed) per event.
 */
class ExactRules<R> {
  private readonly byAddr = new Map<string, Map<number, R>>();
  size = 0;

  has(addr: string, port: number, protocol: string): boolean {
    return this.byAddr.get(addr)?.has(port * 2 + (protocol === 'udp' ? 1 : 0)) ?? false;
  }

  set(addr: string, port: number, protocol: string, rule: R): void {
    let byPort = this.byAddr.get(addr);
    if (!byPort) this.byAddr.set(addr, (byPort = new Map()));
    const k = port * 2 + (protocol === 'udp' ? 1 : 0);
    if (!byPort.has(k)) this.size++;
    byPort.set(k, rule);
  }

  delete(addr: string, port: number, protocol: string): void {
    const byPort = this.byAddr.get(addr);
    if (!byPort?.delete(port * 2 + (protocol === 'udp' ? 1 : 0))) return;
    this.size--;
    if (byPort.size === 0) this.byAddr.delete(addr);
  }

  values(): R[] {
    const out: R[] = [];
    for (const byPort of this.byAddr.values()) for (const r of byPort.values()) out.push(r);
    return out;
  }
}

/** Addresses kept per name rule, the latest: for exports that have no names. */
const SEEN_PER_NAME = 16;

/** The key of a name rule: protocol, port (0: any) and name (or "*.domain"). */
const nameKey = (protocol: string, port: number, name: string): string => `${protocol} ${port} ${name}`;

/** The domain a wildcard may stand for: the name without its first label, if that leaves two labels or more ("*.com" is never learned). */
function parentDomain(name: string): string | null {
  const i = name.indexOf('.');
  if (i < 0) return null;
  const rest = name.slice(i + 1);
  return rest.includes('.') ? rest : null;
}

const O_ACCMODE = 3;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
const MAX_ARGS_LEN = 256;

export function isWriteOpen(flags: number): boolean {
  return (flags & O_ACCMODE) !== 0 || (flags & (O_CREAT | O_TRUNC)) !== 0;
}

const argsLines = new WeakMap<readonly string[], { exe: string; line: string }>();

/**
 * The argument list a profile learns and compares: secrets redacted
 * (model/argv.ts), so no profile, export or deviation holds one and the
 * next run with another secret matches. Cut, then redacted as a line, as a
 * loaded profile's lines are (fromDocument): the same text either way.
 * Remembered per argv array (interned by the decoder).
 */
export function argsOf(exe: string, argv: readonly string[]): string {
  const known = argsLines.get(argv);
  if (known && known.exe === exe) return known.line;
  const s = redactArgv(argv).slice(1).join(' ');
  const line = redactArgsLine(exe, s.length > MAX_ARGS_LEN ? s.slice(0, MAX_ARGS_LEN) : s);
  argsLines.set(argv, { exe, line });
  return line;
}

export class Profile {
  readonly processes = new Map<string, ProcessEntry>();
  private readSet: PathSet;
  private writeSet: PathSet;
  /** Exact rules by address, port and protocol; CIDR rules in a list. */
  private readonly egressExact = new ExactRules<EgressRule>();
  private readonly egressCidr: NetRule<EgressRule>[] = [];
  private readonly listens = new Map<string, ListenRule>();
  private readonly ingressExact = new ExactRules<IngressRule>();
  private readonly ingressCidr: NetRule<IngressRule>[] = [];
  /** Distinct addresses per (proto, port, network), to know when to widen. */
  private readonly seenInNetwork = new Map<string, Set<string>>();
  /** Destinations by name (exact, or "*.domain" for every name below it), by nameKey. */
  private readonly egressByName = new Map<string, EgressNameRule>();
  /** Distinct names per (proto, port, parent domain), to know when to learn a wildcard. */
  private readonly namesUnder = new Map<string, Set<string>>();
  learningSince = Date.now();
  lastNewAt = Date.now();
  /** Behaviour not learned because the profile was full. */
  overflow = 0;
  /**
   * The state of the file sets: a new number whenever either changes,
   * never one another profile had (answers remembered in a FileVerdicts
   * hold for one version).
   */
  filesVersion = 0;
  /** This profile's slot in its detector's FileVerdicts; -1: none. */
  slot = -1;

  constructor(private readonly limits: ProfileLimits = DEFAULT_LIMITS) {
    this.readSet = new PathSet(limits.files);
    this.writeSet = new PathSet(limits.files);
    this.watchFiles();
  }

  get reads(): PathSet {
    return this.readSet;
  }

  get writes(): PathSet {
    return this.writeSet;
  }

  /** Takes file sets as they are (a reviewed policy). */
  setFiles(reads: PathSet, writes: PathSet): void {
    this.readSet.onChange = null;
    this.writeSet.onChange = null;
    this.readSet = reads;
    this.writeSet = writes;
    this.watchFiles();
  }

  private watchFiles(): void {
    const changed = (): void => {
      this.filesVersion = newVersion();
    };
    this.readSet.onChange = changed;
    this.writeSet.onChange = changed;
    changed();
  }

  /**
   * Whether the event lies inside the profile; the first way it does not,
   * or null. With `learn`, what is new is added (and still returned, so
   * the caller knows the profile grew). File answers are remembered in
   * `verdicts` when given.
   */
  observe(e: Event, parentExe: string, learn: boolean, verdicts: FileVerdicts | null = null): Deviation | null {
    // Opens first: most events, and each case before the match is a compare per event.
    switch (e.type) {
      // Paths are absolute once the probe resolved them; anything else (a
      // failed read of the argument) says nothing about the workload.
      case 'open': {
        const path = e.path;
        if (path.charCodeAt(0) !== 47) return null;
        const write = isWriteOpen(e.flags);
        // Most opens: a remembered answer, one call deep.
        if (verdicts !== null && this.slot >= 0) return this.covers(path, write, verdicts, e.pathKey) ? null : this.newFile(path, write, learn);
        return write ? this.write(path, learn, verdicts, e.pathKey) : this.read(path, learn, verdicts, e.pathKey);
      }
      case 'exec':
        return this.exec(e, parentExe, learn);
      case 'unlink':
      case 'chmod':
      case 'fileop':
        return e.path.charCodeAt(0) === 47 ? this.write(e.path, learn, verdicts, e.pathKey) : null;
      // A mkdir or a link counts only where a security hook denied it below
      // a protected path (enforce mode): the one way they reached profiles
      // before they were watched as syscalls (as 'fileop'). Learning every
      // directory and link made as a write is not done (yet).
      case 'mkdir':
      case 'link':
        return e.blocked && e.path.charCodeAt(0) === 47 ? this.write(e.path, learn, verdicts, e.pathKey) : null;
      case 'rename':
        return (e.path.charCodeAt(0) === 47 ? this.write(e.path, learn, verdicts) : null) ?? (e.path2.charCodeAt(0) === 47 ? this.write(e.path2, learn, verdicts) : null);
      case 'connect':
        return e.addr ? this.connect(e, learn) : null;
      // The resolver a workload asks is a destination too (a query to an
      // unusual server is how DNS tunnels leave); enforce mode's kernel
      // takes answers only from resolvers its policy allows.
      case 'dns':
        return e.addr && e.port ? this.connectAddress(e.addr, e.port, e.protocol === 'tcp' ? 'tcp' : 'udp', learn) : null;
      case 'bind':
        return e.localPort ? this.listen(e.protocol || 'tcp', e.localPort, learn) : null;
      case 'listen':
        return e.localPort ? this.listen(e.protocol || 'tcp', e.localPort, learn) : null;
      case 'accept':
        return e.addr && e.result >= 0 ? this.accept(e.addr, e.localPort, learn) : null;
      default:
        return null;
    }
  }

  private full(): boolean {
    if (this.processes.size + this.egressExact.size + this.ingressExact.size + this.listens.size + this.egressByName.size < this.limits.maxEntries) return false;
    this.overflow++;
    return true;
  }

  private exec(e: Event, parentExe: string, learn: boolean): Deviation | null {
    const exe = e.path;
    const { argv, sha256 } = execMore(e);
    const p = this.processes.get(exe);
    if (!p) {
      if (learn && !this.full()) {
        this.processes.set(exe, { exe, parents: new Set(parentExe ? [parentExe] : []), users: new Set([e.uid]), args: new Set([argsOf(exe, argv)]), sha256: new Set(sha256 ? [sha256] : []) });
      }
      return { kind: 'new-executable', what: exe, message: `new executable ${shown(exe)}${parentExe ? `, parent ${shown(parentExe)}` : ''}` };
    }
    // Another file at a learned path (replaced, bind-mounted over) is a new
    // executable. A profile learned before contents were known learns the first.
    // The kernel stops a learned path only when the file is not the one
    // learned: so too when the probe could not read it to say so.
    if (e.blocked && !sha256 && p.sha256.size > 0) {
      return { kind: 'new-executable', what: `${exe} (another file)`, message: `${exe} is another file than the one learned (its content could not be read)` };
    }
    if (sha256 && !p.sha256.has(sha256)) {
      const known = p.sha256.size > 0;
      if (learn || !known) {
        p.sha256.add(sha256);
        if (p.sha256.size > MAX_CONTENTS) p.sha256.delete(p.sha256.values().next().value!);
      }
      if (known) return { kind: 'new-executable', what: `${exe} sha256 ${sha256}`, message: `${exe} is another file than the one learned: sha256 ${sha256.slice(0, 16)}… (learned: ${[...p.sha256].filter((h) => h !== sha256).map((h) => `${h.slice(0, 16)}…`).join(', ')})` };
    }
    if (!p.users.has(e.uid)) {
      if (learn) p.users.add(e.uid);
      return { kind: 'new-user', what: `${exe} uid ${e.uid}`, message: `${shown(exe)} runs as a new user: uid ${e.uid} (seen: ${[...p.users].join(', ')})` };
    }
    if (parentExe && !p.parents.has(parentExe)) {
      if (learn) p.parents.add(parentExe);
      return { kind: 'new-parent', what: `${parentExe} → ${exe}`, message: `${shown(exe)} started by a new parent ${shown(parentExe)} (seen: ${[...p.parents].map(shown).join(', ') || 'none'})` };
    }
    if (p.args) {
      const args = argsOf(exe, argv);
      if (!p.args.has(args)) {
        if (learn) {
          p.args.add(args);
          if (p.args.size > this.limits.stableArgs) p.args = null; // arguments vary: stop comparing them
          return null; // varying arguments are not new behaviour worth a quiet-period reset
        }
        return { kind: 'new-arguments', what: `${exe} ${args}`, message: `${shown(exe)} run with new arguments: ${quote(args)}` };
      }
    }
    return null;
  }

  /** A file the profile does not cover: learned (with `learn`), and how the event differs. */
  private newFile(path: string, write: boolean, learn: boolean): Deviation {
    if (write) {
      if (learn) this.writeSet.add(path);
      return { kind: 'new-file-write', what: path, message: `writes a new file ${shown(path)}` };
    }
    if (learn) this.readSet.add(path);
    return { kind: 'new-file-read', what: path, message: `reads a new file ${shown(path)}` };
  }

  /** `key`: the path's intern slot (Event.pathKey), a hint for the remembered answers; -1 when none. */
  private read(path: string, learn: boolean, verdicts: FileVerdicts | null, key = -1): Deviation | null {
    if (verdicts && this.slot >= 0 ? this.covers(path, false, verdicts, key) : this.readSet.has(path) || this.writeSet.has(path)) return null;
    return this.newFile(path, false, learn);
  }

  private write(path: string, learn: boolean, verdicts: FileVerdicts | null, key = -1): Deviation | null {
    if (verdicts && this.slot >= 0 ? this.covers(path, true, verdicts, key) : this.writeSet.has(path)) return null;
    return this.newFile(path, true, learn);
  }

  /** Whether the profile covers reading (or writing) `path`; answers are remembered in `verdicts` for the file sets as they are now. */
  private covers(path: string, write: boolean, verdicts: FileVerdicts, key: number): boolean {
    const known = verdicts.get(path, this.slot, this.filesVersion, write, key);
    if (known >= 0) return known === 1;
    const covered = write ? this.writeSet.has(path) : this.readSet.has(path) || this.writeSet.has(path);
    verdicts.put(path, this.slot, write, covered, key);
    return covered;
  }

  /**
   * A connect with a name (the workload resolved the address from it) is
   * judged by the name: a learned name's new addresses are inside the
   * profile. Without one, by address.
   */
  private connect(e: Event, learn: boolean): Deviation | null {
    const protocol = e.protocol === 'udp' ? 'udp' : 'tcp';
    if (!e.sipName || !isProfileName(e.sipName)) return this.connectAddress(e.addr, e.port, protocol, learn);
    const rule = this.nameRule(e.sipName, e.port, protocol);
    if (rule) {
      if (learn) this.seenAt(rule, e.addr);
      return null;
    }
    // Learned by address before its name was known: still inside.
    if (this.coversAddress(e.addr, e.port, protocol)) return null;
    const dev: Deviation = {
      kind: 'new-egress', what: `${protocol} ${e.sipName}:${e.port}`,
      message: `connects to a new destination ${e.sipName} (${e.addr}) port ${e.port}/${protocol}`,
    };
    if (!learn || this.full()) return dev;
    const parent = parentDomain(e.sipName);
    const underKey = parent ? nameKey(protocol, e.port, parent) : '';
    const under = parent ? (this.namesUnder.get(underKey) ?? new Set<string>()) : null;
    if (parent && under) {
      this.namesUnder.set(underKey, under);
      under.add(e.sipName);
    }
    if (parent && under && under.size > this.limits.widenAt) {
      // Many names under one domain on one port (buckets, shards): one rule for the domain.
      const wildcard: EgressNameRule = { name: `*.${parent}`, port: e.port, protocol, seen: [] };
      for (const n of under) {
        const old = this.egressByName.get(nameKey(protocol, e.port, n));
        if (old) for (const a of old.seen ?? []) this.seenAt(wildcard, a);
        this.egressByName.delete(nameKey(protocol, e.port, n));
      }
      this.seenAt(wildcard, e.addr);
      this.egressByName.set(nameKey(protocol, e.port, wildcard.name), wildcard);
    } else {
      this.egressByName.set(nameKey(protocol, e.port, e.sipName), { name: e.sipName, port: e.port, protocol, seen: [e.addr] });
    }
    return dev;
  }

  /** The name rule covering `name` on this port: the name itself or a wildcard above it, on the port or any. */
  private nameRule(name: string, port: number, protocol: string): EgressNameRule | undefined {
    if (this.egressByName.size === 0) return undefined;
    for (const p of port === 0 ? [0] : [port, 0]) {
      const exact = this.egressByName.get(nameKey(protocol, p, name));
      if (exact) return exact;
      for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) {
        const w = this.egressByName.get(nameKey(protocol, p, `*${name.slice(i)}`));
        if (w) return w;
      }
    }
    return undefined;
  }

  private seenAt(rule: EgressNameRule, addr: string): void {
    const seen = (rule.seen ??= []);
    if (seen.includes(addr)) return;
    seen.push(addr);
    if (seen.length > SEEN_PER_NAME) seen.shift();
  }

  private coversAddress(addr: string, port: number, protocol: string): boolean {
    if (this.egressExact.has(addr, port, protocol)) return true;
    const rules = this.egressCidr;
    if (rules.length === 0) return false;
    const a4 = parseIPv4(addr);
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if ((r.port === port || r.port === 0) && r.protocol === protocol && inNet(r, a4, addr)) return true;
    }
    return false;
  }

  private connectAddress(addr: string, port: number, protocol: 'tcp' | 'udp', learn: boolean): Deviation | null {
    if (this.coversAddress(addr, port, protocol)) return null;
    const dev: Deviation = { kind: 'new-egress', what: `${protocol} ${addr}:${port}`, message: `connects to a new destination ${addr} port ${port}/${protocol}` };
    if (!learn || this.full()) return dev;
    const net = widenTo(addr);
    const seenKey = `${protocol} ${port} ${net}`;
    let seen = this.seenInNetwork.get(seenKey);
    if (!seen) this.seenInNetwork.set(seenKey, (seen = new Set()));
    seen.add(addr);
    if (seen.size > this.limits.widenAt) {
      // Many hosts of one network on one port: one rule for the network.
      for (const a of seen) this.egressExact.delete(a, port, protocol);
      this.addEgress({ to: net, port, protocol });
    } else {
      this.egressExact.set(addr, port, protocol, { to: addr, port, protocol });
    }
    return dev;
  }

  private listen(protocol: string, port: number, learn: boolean): Deviation | null {
    const proto = protocol === 'udp' ? 'udp' : 'tcp';
    const key = `${proto} ${port}`;
    if (this.listens.has(key)) return null;
    if (learn && !this.full()) this.listens.set(key, { port, protocol: proto });
    return { kind: 'new-listen', what: `${proto} ${port}`, message: `listens on a new port ${port}/${proto}` };
  }

  private accept(peer: string, port: number, learn: boolean): Deviation | null {
    if (this.ingressExact.has(peer, port, 'tcp')) return null;
    const rules = this.ingressCidr;
    if (rules.length > 0) {
      const a4 = parseIPv4(peer);
      for (let i = 0; i < rules.length; i++) {
        const r = rules[i]!;
        if ((r.port === port || r.port === 0) && inNet(r, a4, peer)) return null;
      }
    }
    const dev: Deviation = { kind: 'new-ingress', what: `${peer} → :${port}`, message: `accepts a connection from a new peer ${peer} on port ${port}` };
    if (!learn || this.full()) return dev;
    const net = widenTo(peer);
    const seenKey = `in ${port} ${net}`;
    let seen = this.seenInNetwork.get(seenKey);
    if (!seen) this.seenInNetwork.set(seenKey, (seen = new Set()));
    seen.add(peer);
    if (seen.size > this.limits.widenAt) {
      for (const a of seen) this.ingressExact.delete(a, port, 'tcp');
      this.addIngress({ from: net, port });
      // Clients from many networks: anyone may connect to this port.
      const nets = this.ingressCidr.filter((r) => r.rule.port === port && r.cidr.prefix > 0 && r.cidr.family === (net.includes(':') ? 6 : 4));
      if (nets.length > this.limits.widenAt) {
        const any = net.includes(':') ? '::/0' : '0.0.0.0/0';
        for (const r of nets) this.ingressCidr.splice(this.ingressCidr.indexOf(r), 1);
        this.addIngress({ from: any, port });
      }
    } else {
      this.ingressExact.set(peer, port, 'tcp', { from: peer, port });
    }
    return dev;
  }

  /** A rule for one address ("10.0.0.5", "10.0.0.5/32", "2001:DB8::1") is kept under the address as events spell it. */
  addEgress(rule: EgressRule): void {
    const cidr = parseCidr(rule.to);
    const full = cidr.family === 4 ? 32 : 128;
    if (cidr.prefix === full) this.egressExact.set(formatCidr(cidr), rule.port, rule.protocol, rule);
    else if (!this.egressCidr.some((r) => r.rule.to === rule.to && r.rule.port === rule.port && r.rule.protocol === rule.protocol)) this.egressCidr.push(netRule(rule, cidr, rule.port, rule.protocol));
  }

  addEgressName(rule: EgressNameRule): void {
    this.egressByName.set(nameKey(rule.protocol, rule.port, rule.name.toLowerCase()), { ...rule, name: rule.name.toLowerCase(), seen: [...(rule.seen ?? [])] });
  }

  egressNames(): EgressNameRule[] {
    return [...this.egressByName.values()].map(({ seen, ...r }) => (seen?.length ? { ...r, seen: [...seen] } : r));
  }

  addListen(rule: ListenRule): void {
    this.listens.set(`${rule.protocol} ${rule.port}`, rule);
  }

  addIngress(rule: IngressRule): void {
    const cidr = parseCidr(rule.from);
    const full = cidr.family === 4 ? 32 : 128;
    if (cidr.prefix === full) this.ingressExact.set(formatCidr(cidr), rule.port, 'tcp', rule);
    else if (!this.ingressCidr.some((r) => r.rule.from === rule.from && r.rule.port === rule.port)) this.ingressCidr.push(netRule(rule, cidr, rule.port, 'tcp'));
  }

  egress(): EgressRule[] {
    return [...this.egressExact.values(), ...this.egressCidr.map((r) => r.rule)];
  }

  listening(): ListenRule[] {
    return [...this.listens.values()];
  }

  ingress(): IngressRule[] {
    return [...this.ingressExact.values(), ...this.ingressCidr.map((r) => r.rule)];
  }
}

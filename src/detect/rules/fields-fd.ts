// Fields of files and sockets (Falco's fd.* class): a path and its parts,
// the descriptor's type, and a socket's client/server and local/remote
// ends as far as Vigil sees them.
import { EVENT_TYPES, PATH_HARDLINK, PATH_RESOLVED, pathIncomplete, type Event, type EventType } from '../../model/event.js';
import { typeIndex } from '../../model/type-index.js';
import { AF_INET, AF_INET6, AF_UNIX } from '../../model/addresses.js';
import { isIpClass, OPEN_DIRECTORY, OPEN_FAILED, SOCK_INET, SOCK_INET6, SOCK_UNIX } from './classes.js';
import type { Operator } from './condition.js';
import type { Constants } from './constants.js';
import type { FieldContext } from './context.js';
import { FILE_TYPES, nonEmpty, SOCKET_TYPES, types, type FieldDef, type FieldGetter } from './field-def.js';
import type { Dim, FieldArg, FieldKind, FieldValue, Known } from './field-types.js';
import { EINPROGRESS, O_DIRECTORY } from './syscall-values.js';
import { folded, pathOpened } from './falco-names.js';

function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Whether `dir` is the directory `path` is directly in. */
function isDirOf(dir: string, path: string): boolean {
  const i = path.lastIndexOf('/');
  if (dir === '/') return i === 0;
  return i === dir.length && path.startsWith(dir);
}

/** =, != and in on a part of e.path, as closures over the path that allocate nothing. */
function pathPartCompare(op: Operator, values: readonly FieldValue[], k: Constants, one: (v: string) => (path: string) => boolean): string | null {
  const tests = values.map((v) => one(String(v)));
  const any = tests.length === 1 ? tests[0]! : (p: string) => tests.some((t) => t(p));
  switch (op) {
    case '=':
    case '==':
    case 'in':
    case 'intersects':
      return `(e.path !== '' && ${k.ref(any)}(e.path))`;
    case '!=':
      return `(e.path !== '' && !${k.ref(any)}(e.path))`;
    default:
      return null;
  }
}

function isIp(e: Event): boolean {
  return e.family === AF_INET || e.family === AF_INET6;
}

type End = 'cip' | 'cport' | 'sip' | 'sport' | 'lip' | 'lport' | 'rip' | 'rport';
type Side = 'r' | 'l' | null;

/**
 * Falco's client/server and local/remote ends, as the remote (r) or local
 * (l) address Vigil has. connect: the remote end is the server; Vigil
 * does not see the local end of a connect (the port is bound inside the
 * syscall), so client and local fields are missing; send (a datagram to
 * an explicit address) likewise. accept: the local
 * end is the server. bind/listen: only the local (server) end. dup: the
 * socket is read as an outgoing connection (local = client), the
 * reverse-shell case.
 */
const SIDES: Partial<Record<EventType, Record<End, Side>>> = {
  connect: { cip: null, cport: null, sip: 'r', sport: 'r', lip: null, lport: null, rip: 'r', rport: 'r' },
  send: { cip: null, cport: null, sip: 'r', sport: 'r', lip: null, lport: null, rip: 'r', rport: 'r' },
  accept: { cip: 'r', cport: 'r', sip: 'l', sport: 'l', lip: 'l', lport: 'l', rip: 'r', rport: 'r' },
  bind: { cip: null, cport: null, sip: 'l', sport: 'l', lip: 'l', lport: 'l', rip: null, rport: null },
  listen: { cip: null, cport: null, sip: 'l', sport: 'l', lip: 'l', lport: 'l', rip: null, rport: null },
  dup: { cip: 'l', cport: 'l', sip: 'r', sport: 'r', lip: 'l', lport: 'l', rip: 'r', rport: 'r' },
};

/** fd.sip & co. on a socket event of class `cls`: missing when no such end, or no IP address. */
function ipEndKnown(which: End): (t: EventType, cls: number) => Known | undefined {
  return (t, cls) => (SIDES[t]?.[which] === null || (cls >= 0 && !isIpClass(cls)) ? { missing: true } : undefined);
}

/** fd.sip & co. inlined where the class says the event has an IP address. */
function ipEndInline(which: End): (t: EventType, arg: FieldArg, cls: number) => { js: string; missing: boolean } | null {
  return (t, _arg, cls) => {
    const side = SIDES[t]?.[which];
    if (!side || !isIpClass(cls)) return null;
    const addr = side === 'r' ? 'e.addr' : 'e.localAddr';
    const value = which.endsWith('port') ? (side === 'r' ? 'e.port' : 'e.localPort') : addr;
    return { js: `(${addr} === '' ? undefined : ${value})`, missing: true };
  };
}

/** An address end read from e.addr alone (the remote side), in an IP class. */
function ipEndReads(which: End): (t: EventType, cls: number) => Dim | null {
  return (t, cls) => (SIDES[t]?.[which] === 'r' && isIpClass(cls) ? 'addr' : null);
}

function ipEndField(kind: FieldKind, desc: string, which: End, get: FieldGetter = END_READERS[which]): FieldDef {
  return { kind, desc, on: SOCKET_TYPES, get, known: ipEndKnown(which), inline: ipEndInline(which), reads: which.endsWith('port') ? undefined : ipEndReads(which) };
}

/**
 * An end's value, read per event (the port-scan threshold reads fd.sip and
 * fd.sport of every connect): its side by type index and whether it is a
 * port decided once, not a keyed load over the type names and a string
 * test per event.
 */
function endReader(which: End): (e: Event) => string | number | undefined {
  const sides = EVENT_TYPES.map((t) => SIDES[t]?.[which] ?? null);
  const port = which.endsWith('port');
  return (e) => {
    if (!isIp(e)) return undefined;
    const side = sides[typeIndex(e.type)];
    if (side === 'r') return e.addr === '' ? undefined : port ? e.port : e.addr;
    if (side === 'l') return e.localAddr === '' ? undefined : port ? e.localPort : e.localAddr;
    return undefined;
  };
}

const ENDS: readonly End[] = ['cip', 'cport', 'sip', 'sport', 'lip', 'lport', 'rip', 'rport'];
const END_READERS = Object.fromEntries(ENDS.map((w) => [w, endReader(w)])) as Record<End, (e: Event) => string | number | undefined>;

function ipEnd(e: Event, which: End): string | number | undefined {
  return END_READERS[which](e);
}

/** fd.name for sockets: "cip:cport->sip:sport" (an unseen client end reads 0.0.0.0:0, as an unbound socket). */
function socketName(e: Event): string | undefined {
  if (e.family === AF_UNIX) return nonEmpty(e.unixPath);
  if (!isIp(e)) return undefined;
  const any = e.family === AF_INET6 ? '::' : '0.0.0.0';
  switch (e.type) {
    case 'connect':
    case 'send':
      return e.addr ? `${any}:0->${e.addr}:${e.port}` : undefined;
    case 'accept':
      return `${e.addr || any}:${e.port}->${e.localAddr || any}:${e.localPort}`;
    case 'bind':
    case 'listen':
      return `${e.localAddr || any}:${e.localPort}`;
    case 'dup':
      return `${e.localAddr || any}:${e.localPort}->${e.addr || any}:${e.port}`;
    default:
      return undefined;
  }
}

/** An open whose caller named the file otherwise than the kernel does (`..` alone is no other name: fd.nameraw shows it). */
function isAlias(e: Event): boolean {
  if ((e.pathFlags & PATH_HARDLINK) !== 0) return true;
  const path = pathOpened(e); // the same answer while the open reads the name as written (falco-names.ts)
  return (e.pathFlags & PATH_RESOLVED) !== 0 && e.pathRaw !== '' && e.pathRaw !== path && folded(e.pathRaw) !== path;
}

function fdName(e: Event): string | undefined {
  if (SOCKET_TYPES.has(e.type)) return socketName(e);
  return nonEmpty(e.path);
}

function fdType(e: Event): string | undefined {
  if (FILE_TYPES.has(e.type)) return e.type === 'open' && e.flags & O_DIRECTORY ? 'directory' : 'file';
  if (e.family === AF_INET) return 'ipv4';
  if (e.family === AF_INET6) return 'ipv6';
  if (e.family === AF_UNIX) return 'unix';
  return undefined;
}

const TYPECHAR: Record<string, string> = { file: 'f', directory: 'd', ipv4: '4', ipv6: '6', unix: 'u' };

/** fd.type / fd.typechar as an open's or a socket event's class decides them. */
function typeKnown(t: EventType, cls: number, dir: string, file: string, v4: string, v6: string, unix: string): Known | undefined {
  if (cls < 0) return undefined;
  if (t === 'open') return { value: (cls & OPEN_DIRECTORY) !== 0 ? dir : file };
  if (!SOCKET_TYPES.has(t)) return undefined;
  return cls === SOCK_INET ? { value: v4 } : cls === SOCK_INET6 ? { value: v6 } : cls === SOCK_UNIX ? { value: unix } : { missing: true };
}

/**
 * fd.sip.name & co.: the end's address compared with domain names, as
 * Falco does it (a name matches the addresses it resolves to,
 * dns-names.ts); only =, != and in. As output, the watched name the
 * address resolved from.
 */
function dnsNameField(which: End, desc: string): FieldDef {
  const addrOf = (e: Event): string | undefined => {
    const a = ipEnd(e, which);
    return typeof a === 'string' ? a : undefined;
  };
  // The name the workload itself resolved this address from (DNS answers
  // seen in the kernel, enrich/dns-names.ts), where the end is one it has.
  const seenName = (e: Event): string | undefined =>
    which === 'sip' ? nonEmpty(e.sipName) : which === 'cip' ? nonEmpty(e.cipName) : undefined;
  return {
    kind: 'string', desc, on: SOCKET_TYPES, known: ipEndKnown(which), ops: ['=', '==', '!=', 'in'], names: 'dns',
    get: (e, x) => {
      const seen = seenName(e);
      if (seen !== undefined) return seen;
      const a = addrOf(e);
      return a === undefined ? undefined : x.dns.nameOf(a);
    },
    // Never memoised per address (reads: none): a name's addresses change as it is resolved again.
    compare: (_t, op, values, k) => {
      const names = values.map((v) => String(v).toLowerCase());
      const neg = op === '!=';
      const test = (e: Event, x: FieldContext): boolean => {
        const a = addrOf(e);
        if (a === undefined) return false;
        const seen = seenName(e);
        const hit = (seen !== undefined && names.includes(seen.toLowerCase())) || x.dns.matchesAny(names, a);
        return hit !== neg;
      };
      return `${k.ref(test)}(e, x)`;
    },
  };
}

function anyOf(pred: (v: FieldValue) => boolean, a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  return (a !== undefined && pred(a)) || (b !== undefined && pred(b));
}

export const FD_FIELDS: Record<string, FieldDef> = {
  'fd.name': {
    kind: 'string', desc: 'files: the path (rename: the old path); sockets: cip:cport->sip:sport; AF_UNIX: the socket path',
    on: new Set([...FILE_TYPES, ...SOCKET_TYPES]), get: (e) => fdName(e),
    inline: (t) => (FILE_TYPES.has(t) ? { js: 'e.path', missing: t === 'module' } : null),
    known: (t, cls) => (SOCKET_TYPES.has(t) && cls >= 0 && !isIpClass(cls) && cls !== SOCK_UNIX ? { missing: true } : undefined),
    reads: (t) => (FILE_TYPES.has(t) ? 'path' : null),
  },
  'fd.directory': {
    kind: 'string', desc: 'files: the directory the file is in', on: FILE_TYPES, get: (e) => (e.path ? dirname(e.path) : undefined),
    compare: (_t, op, values, k) => pathPartCompare(op, values, k, (d) => (p: string) => isDirOf(d, p)),
    reads: () => 'path',
  },
  'fd.filename': {
    kind: 'string', desc: 'files: the file name without its directory', on: FILE_TYPES, get: (e) => (e.path ? basename(e.path) : undefined),
    compare: (_t, op, values, k) => pathPartCompare(op, values, k, (n) => (p: string) => n !== '' && !n.includes('/') && p.endsWith(`/${n}`)),
    reads: () => 'path',
  },
  'fd.type': { kind: 'string', desc: 'file, directory, ipv4, ipv6 or unix', on: new Set([...FILE_TYPES, ...SOCKET_TYPES]), get: (e) => fdType(e), known: (t, cls) => typeKnown(t, cls, 'directory', 'file', 'ipv4', 'ipv6', 'unix') },
  'fd.typechar': {
    kind: 'string', desc: "f (file), d (directory), 4, 6 (IP sockets) or u (unix socket)", on: new Set([...FILE_TYPES, ...SOCKET_TYPES]),
    constant: (t) => (t === 'open' ? undefined : FILE_TYPES.has(t) ? 'f' : undefined),
    get: (e) => {
      const ty = fdType(e);
      return ty === undefined ? undefined : TYPECHAR[ty];
    },
    inline: (t) => (t === 'open' ? { js: `((e.flags & ${O_DIRECTORY}) !== 0 ? 'd' : 'f')`, missing: false } : null),
    known: (t, cls) => typeKnown(t, cls, 'd', 'f', '4', '6', 'u'),
  },
  'fd.num': {
    kind: 'number', desc: 'open: the new descriptor, -1 when the open failed; accept: the new descriptor; dup: the old descriptor', on: types('open', 'accept', 'dup'),
    get: (e) => (e.type === 'dup' ? e.flags : e.result >= 0 ? e.result : -1),
    inline: (t) => ({ js: t === 'dup' ? 'e.flags' : '(e.result >= 0 ? e.result : -1)', missing: false }),
    known: (t, cls) => (t === 'open' && cls >= 0 ? ((cls & OPEN_FAILED) !== 0 ? { value: -1 } : { sign: 1 }) : undefined),
  },
  'fd.l4proto': { kind: 'string', desc: 'tcp or udp', on: SOCKET_TYPES, get: (e) => nonEmpty(e.protocol) },
  'fd.sockfamily': {
    kind: 'string', desc: 'ip or unix', on: SOCKET_TYPES, get: (e) => (isIp(e) ? 'ip' : e.family === AF_UNIX ? 'unix' : undefined),
    known: (_t, cls) => (cls < 0 ? undefined : isIpClass(cls) ? { value: 'ip' } : cls === SOCK_UNIX ? { value: 'unix' } : { missing: true }),
  },
  'fd.cip': ipEndField('ip', 'the client address (not seen on connect)', 'cip'),
  'fd.sip': ipEndField('ip', 'the server address (connect: the address connected to)', 'sip'),
  'fd.lip': ipEndField('ip', 'the local address (not seen on connect)', 'lip'),
  'fd.rip': ipEndField('ip', 'the remote address', 'rip'),
  'fd.dip': ipEndField('ip', 'Vigil: the destination (server) address, as fd.sip', 'sip'),
  'fd.cport': ipEndField('number', 'the client port (not seen on connect)', 'cport'),
  'fd.sport': {
    ...ipEndField('number', 'the server port (connect: the port connected to)', 'sport'),
    inline: (t, arg, cls) =>
      ipEndInline('sport')(t, arg, cls) ??
      (t === 'connect' ? { js: `(e.addr !== '' && (e.family === ${AF_INET} || e.family === ${AF_INET6}) ? e.port : undefined)`, missing: true } : null),
  },
  'fd.lport': ipEndField('number', 'the local port (not seen on connect)', 'lport'),
  'fd.rport': ipEndField('number', 'the remote port', 'rport'),
  'fd.dport': ipEndField('number', 'Vigil: the destination (server) port, as fd.sport', 'sport'),
  'fd.ip': {
    kind: 'ip', desc: 'either address (filters only)', on: SOCKET_TYPES, get: () => undefined,
    some: (e, _x, _a, pred) => anyOf(pred, ipEnd(e, 'cip'), ipEnd(e, 'sip')),
    known: (_t, cls) => (cls >= 0 && !isIpClass(cls) ? { missing: true } : undefined),
  },
  'fd.port': {
    kind: 'number', desc: 'either port (filters only)', on: SOCKET_TYPES, get: () => undefined,
    some: (e, _x, _a, pred) => anyOf(pred, ipEnd(e, 'cport'), ipEnd(e, 'sport')),
    known: (_t, cls) => (cls >= 0 && !isIpClass(cls) ? { missing: true } : undefined),
  },
  'fd.net': {
    kind: 'ip', desc: 'either address, compared with networks (filters only)', on: SOCKET_TYPES, get: () => undefined,
    some: (e, _x, _a, pred) => anyOf(pred, ipEnd(e, 'cip'), ipEnd(e, 'sip')),
    known: (_t, cls) => (cls >= 0 && !isIpClass(cls) ? { missing: true } : undefined),
  },
  // Falco's `outbound` macro tells a datagram to a new peer by these two:
  // a send Vigil reports went to an explicit address, the first to that
  // peer from the process within the window (bpf/net.bpf.h).
  'fd.connected': {
    kind: 'bool', desc: 'the socket is connected: connect (succeeded or in progress) and accept; false for a send to an explicit address', on: types('connect', 'accept', 'send'),
    get: (e) => (e.type === 'accept' ? true : e.type === 'send' ? false : e.result >= 0 || e.result === -EINPROGRESS),
  },
  'fd.name_changed': {
    kind: 'bool', desc: "the event gave the socket a new peer: connect, and a send to a peer new to the process (Vigil reports only those)", on: types('connect', 'send'),
    get: () => true,
  },
  'fd.cip.name': dnsNameField('cip', 'the name the workload resolved the client address from (accept), else the address compared with domain names resolved as Falco does (=, != and in)'),
  'fd.sip.name': dnsNameField('sip', 'the name the workload resolved the server address from (connect), else the address compared with domain names resolved as Falco does (=, != and in)'),
  'fd.lip.name': dnsNameField('lip', 'the local address compared with domain names (resolved as Falco does; =, != and in)'),
  'fd.rip.name': dnsNameField('rip', 'the remote address compared with domain names (resolved as Falco does; =, != and in)'),
  'fd.nameraw': {
    kind: 'string', desc: 'files: the path as the caller passed it (joined to its directory when relative, `..` kept), where fd.name is the file the kernel opened',
    on: FILE_TYPES, get: (e) => nonEmpty(e.pathRaw) ?? nonEmpty(e.path),
  },
  'fd.ino': { kind: 'number', desc: 'open: the inode number of the file opened', on: types('open'), get: (e) => (e.ino ? e.ino : undefined) },
  'fd.dev': { kind: 'number', desc: "open: the device of the opened file's file system (major << 20 | minor)", on: types('open'), get: (e) => (e.ino ? e.dev : undefined) },
  'fd.is_alias': {
    kind: 'bool',
    desc: 'Vigil: open: the caller named the file otherwise than its own path (a symlink, a hard link to a sensitive file, a bind mount, /proc/self/root or /proc/self/fd, a chroot)',
    on: types('open'), get: (e) => isAlias(e),
  },
  'fd.name_truncated': {
    kind: 'bool', desc: 'Vigil: open: the path is incomplete: the walk from the file was cut, or the string the caller passed was cut or unreadable and nothing was resolved',
    on: types('open'), get: (e) => pathIncomplete(e),
  },
  'fd.cnet': ipEndField('ip', 'the client address, compared with networks', 'cip'),
  'fd.snet': ipEndField('ip', 'the server address, compared with networks', 'sip'),
  'fd.lnet': ipEndField('ip', 'the local address, compared with networks', 'lip'),
  'fd.rnet': ipEndField('ip', 'the remote address, compared with networks', 'rip'),
};

// Wire event (probe.proto) → the engine's flat Event. Anything the probe
// sends that does not fit is rejected with a reason, never guessed at.
import { emptyEvent, type Event, type EventType, type L4Protocol } from '../event.js';
import type { WireEvent, WireSockAddr } from '../rpc/wire.js';

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;

export class MalformedEvent extends Error {}

/** Printable form of an address as the kernel holds it (network order). */
export function formatAddress(family: number, bytes: Uint8Array | undefined): string {
  if (!bytes || bytes.length === 0) return '';
  if (family === AF_INET) {
    if (bytes.length !== 4) throw new MalformedEvent(`IPv4 address of ${bytes.length} bytes`);
    return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  }
  if (family === AF_INET6) {
    if (bytes.length !== 16) throw new MalformedEvent(`IPv6 address of ${bytes.length} bytes`);
    return formatIPv6(bytes);
  }
  return '';
}

function formatIPv6(b: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i]! << 8) | b[i + 1]!);
  // IPv4-mapped (::ffff:a.b.c.d) reads better in its dotted form.
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  // RFC 5952: compress the longest run (≥2) of zero words.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

function protocolOf(p: number): L4Protocol {
  return p === 6 ? 'tcp' : p === 17 ? 'udp' : '';
}

function setRemote(e: Event, a: WireSockAddr | undefined | null): void {
  if (!a) return;
  e.family = a.family;
  if (a.family === AF_UNIX) {
    e.unixPath = a.path;
    return;
  }
  e.addr = formatAddress(a.family, a.address);
  e.port = a.port;
}

function setLocal(e: Event, a: WireSockAddr | undefined | null): void {
  if (!a) return;
  if (!e.family) e.family = a.family;
  if (a.family === AF_UNIX) {
    e.unixPath = a.path;
    return;
  }
  e.localAddr = formatAddress(a.family, a.address);
  e.localPort = a.port;
}

const KIND_TO_TYPE: Record<string, EventType> = {
  exec: 'exec', fork: 'fork', exit: 'exit', open: 'open', unlink: 'unlink', rename: 'rename', chmod: 'chmod',
  connect: 'connect', accept: 'accept', bind: 'bind', listen: 'listen', setId: 'setid', ptrace: 'ptrace',
  moduleLoad: 'module', mount: 'mount', namespace: 'namespace', dup: 'dup',
};

/**
 * Builds an Event from its wire form. `bootToUnixNs` turns the kernel's
 * monotonic stamp into Unix time. Throws MalformedEvent with the reason.
 */
export function decodeEvent(w: WireEvent, bootToUnixNs: number, nodeName: string): Event {
  const type = w.kind ? KIND_TO_TYPE[w.kind] : undefined;
  if (!type) throw new MalformedEvent(w.kind ? `unknown event kind '${w.kind}'` : 'event without a kind');
  if (!w.pid) throw new MalformedEvent(`${type} event without a pid`);
  const e = emptyEvent(type);
  e.ktimeNs = w.ktimeNs;
  e.time = (w.ktimeNs + bootToUnixNs) / 1e6;
  e.pid = w.pid;
  e.tid = w.tid;
  e.ppid = w.ppid;
  e.uid = w.uid;
  e.gid = w.gid;
  e.comm = w.comm;
  e.cgroupId = w.cgroupId;
  e.nodeName = nodeName;
  e.blocked = w.blocked;

  switch (type) {
    case 'exec': {
      const x = w.exec!;
      e.path = x.exe || x.filename;
      e.filename = x.filename;
      e.argv = x.argv;
      e.argvTruncated = x.argvTruncated;
      e.cwd = x.cwd;
      e.tty = x.tty;
      break;
    }
    case 'fork':
      e.childPid = w.fork!.childPid;
      break;
    case 'exit':
      e.exitCode = w.exit!.exitCode;
      e.signal = w.exit!.signal;
      break;
    case 'open': {
      const x = w.open!;
      e.path = x.path;
      e.flags = x.flags;
      e.mode = x.mode;
      e.result = x.result;
      break;
    }
    case 'unlink':
      e.path = w.unlink!.path;
      e.flags = w.unlink!.dir ? 1 : 0;
      e.result = w.unlink!.result;
      break;
    case 'rename': {
      const x = w.rename!;
      e.path = x.oldPath;
      e.path2 = x.newPath;
      e.flags = x.flags;
      e.result = x.result;
      break;
    }
    case 'chmod':
      e.path = w.chmod!.path;
      e.mode = w.chmod!.mode;
      e.result = w.chmod!.result;
      break;
    case 'connect':
      setRemote(e, w.connect!.remote);
      e.protocol = protocolOf(w.connect!.protocol);
      e.result = w.connect!.result;
      break;
    case 'accept':
      setRemote(e, w.accept!.remote);
      setLocal(e, w.accept!.local);
      e.protocol = e.family === AF_UNIX ? '' : 'tcp';
      e.result = w.accept!.result;
      break;
    case 'bind':
      setLocal(e, w.bind!.local);
      e.protocol = protocolOf(w.bind!.protocol);
      e.result = w.bind!.result;
      break;
    case 'listen':
      setLocal(e, w.listen!.local);
      e.protocol = e.family === AF_UNIX ? '' : 'tcp';
      e.result = w.listen!.result;
      break;
    case 'setid':
      e.call = w.setId!.call;
      e.id = w.setId!.id;
      e.result = w.setId!.result;
      break;
    case 'ptrace':
      e.id = w.ptrace!.request;
      e.targetPid = w.ptrace!.targetPid;
      e.result = w.ptrace!.result;
      break;
    case 'module':
      e.call = w.moduleLoad!.call;
      e.path = w.moduleLoad!.path;
      e.result = w.moduleLoad!.result;
      break;
    case 'mount': {
      const x = w.mount!;
      e.path = x.target;
      e.path2 = x.source;
      e.call = x.fstype;
      e.flags = x.flags;
      e.result = x.result;
      break;
    }
    case 'namespace':
      e.call = w.namespace!.call;
      e.flags = w.namespace!.flags;
      e.id = w.namespace!.flags;
      e.result = w.namespace!.result;
      break;
    case 'dup': {
      const x = w.dup!;
      setRemote(e, x.remote);
      setLocal(e, x.local);
      e.protocol = protocolOf(x.protocol);
      e.flags = x.oldFd;
      e.id = x.newFd;
      e.result = x.result;
      break;
    }
  }
  return e;
}

/** Bounds on what one event may carry: a real probe never exceeds them (paths are walked into 768 bytes, argv into 1 KiB). */
export const MAX_PATH = 4096;
export const MAX_ARGS = 1024;
export const MAX_ARG = 4096;

/** Cuts anything past the bounds (marking argv as truncated); true when something was cut. */
export function boundEvent(e: Event): boolean {
  let cut = false;
  if (e.path.length > MAX_PATH) (e.path = e.path.slice(0, MAX_PATH)), (cut = true);
  if (e.path2.length > MAX_PATH) (e.path2 = e.path2.slice(0, MAX_PATH)), (cut = true);
  if (e.filename.length > MAX_PATH) (e.filename = e.filename.slice(0, MAX_PATH)), (cut = true);
  if (e.cwd.length > MAX_PATH) (e.cwd = e.cwd.slice(0, MAX_PATH)), (cut = true);
  if (e.unixPath.length > MAX_PATH) (e.unixPath = e.unixPath.slice(0, MAX_PATH)), (cut = true);
  if (e.comm.length > 64) (e.comm = e.comm.slice(0, 64)), (cut = true);
  if (e.argv.length > MAX_ARGS || e.argv.some((a) => a.length > MAX_ARG)) {
    e.argv = e.argv.slice(0, MAX_ARGS).map((a) => (a.length > MAX_ARG ? a.slice(0, MAX_ARG) : a));
    e.argvTruncated = true;
    cut = true;
  }
  return cut;
}

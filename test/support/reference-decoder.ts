// The reference decoder: a wire event as protobufjs decodes it → the
// engine's flat Event, field by field, the plain way. Tests and benches
// hold the engine's one decoder (src/ingest/probe-message.ts, which reads
// the bytes itself) against it; nothing in src/ uses it.
import { AddressError, AF_UNIX, formatAddress, l4Protocol } from '../../src/model/addresses.js';
import { emptyEvent, EVENT_TYPES, execMore, exitMore, EXE_OVERLAY, forkMore, setidMore, EXE_UPPER_LAYER, MECHANISMS, PATH_RAW_SAME, type Event, type EventType } from '../../src/model/event.js';
import { EVENT_KINDS } from '../../src/model/event-kinds.js';
import { MalformedEvent } from '../../src/ingest/probe-message.js';
import { redactEnvEntry } from '../../src/model/env.js';
import { parseDnsMessage } from '../../src/ingest/dns.js';
import type { WireEvent, WireSockAddr } from '../../src/probe/wire.js';
import { OPEN_NUMBERS, type OpenNumbers } from '../../src/probe/open-numbers.js';

/** The event type of an Event.kind oneof name ('setId' → 'setid'). */
const TYPE_OF_ONEOF = new Map<string, EventType>(EVENT_TYPES.map((t) => [EVENT_KINDS[t].oneof, t]));

/** An address in its printable form; a wrong length makes the event malformed, as in the engine's decoder. */
function address(family: number, bytes: Uint8Array | undefined): string {
  try {
    return formatAddress(family, bytes);
  } catch (err) {
    throw err instanceof AddressError ? new MalformedEvent(err.message) : err;
  }
}

function setRemote(e: Event, a: WireSockAddr | undefined | null): void {
  if (!a) return;
  e.family = a.family;
  if (a.family === AF_UNIX) {
    e.unixPath = a.path;
    return;
  }
  e.addr = address(a.family, a.address);
  e.port = a.port;
}

function setLocal(e: Event, a: WireSockAddr | undefined | null): void {
  if (!a) return;
  if (!e.family) e.family = a.family;
  if (a.family === AF_UNIX) {
    e.unixPath = a.path;
    return;
  }
  e.localAddr = address(a.family, a.address);
  e.localPort = a.port;
}

/** OpenEvent.numbers read by its layout (probe.proto); shorter than it is malformed. */
function openNumbers(b: Uint8Array): OpenNumbers {
  if (b.length < OPEN_NUMBERS.bytes) throw new MalformedEvent(`open numbers: ${b.length} bytes, want ${OPEN_NUMBERS.bytes}`);
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  return {
    result: Number(v.getBigInt64(OPEN_NUMBERS.result, true)),
    ino: Number(v.getBigUint64(OPEN_NUMBERS.ino, true)),
    flags: v.getInt32(OPEN_NUMBERS.flags, true),
    mode: v.getUint32(OPEN_NUMBERS.mode, true),
    pathFlags: v.getUint32(OPEN_NUMBERS.pathFlags, true),
    dev: v.getUint32(OPEN_NUMBERS.dev, true),
    nlink: v.getUint32(OPEN_NUMBERS.nlink, true),
    fileMode: v.getUint32(OPEN_NUMBERS.fileMode, true),
  };
}

/**
 * Builds an Event from its wire form. `bootToUnixNs` turns the kernel's
 * monotonic stamp into Unix time. Throws MalformedEvent with the reason.
 */
export function decodeEvent(w: WireEvent, bootToUnixNs: number, nodeName: string): Event {
  const type = w.kind ? TYPE_OF_ONEOF.get(w.kind) : undefined;
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
  e.blockedBy = MECHANISMS[w.blockedBy] ?? '';
  e.ioUring = w.ioUring ?? false;

  switch (type) {
    case 'exec': {
      const x = w.exec!;
      const m = execMore(e);
      e.path = x.exe || x.filename;
      m.filename = x.filename;
      m.argv = x.argv;
      e.ino = x.exeIno;
      e.dev = x.exeDev;
      m.sha256 = x.exeSha256;
      m.stdio = x.stdio;
      m.argvTruncated = x.argvTruncated;
      m.env = x.env.map(redactEnvEntry);
      m.envTruncated = x.envTruncated;
      m.cwd = x.cwd;
      m.tty = x.tty;
      m.exeLayer = (x.exeOnOverlay ? EXE_OVERLAY : 0) | (x.exeUpperLayer ? EXE_UPPER_LAYER : 0);
      m.vpid = x.vpid;
      m.loginuid = x.loginuid;
      m.capEffective = x.capEffective;
      m.capPermitted = x.capPermitted;
      break;
    }
    case 'fork':
      forkMore(e).childPid = w.fork!.childPid;
      forkMore(e).vpid = w.fork!.childVpid;
      break;
    case 'exit':
      exitMore(e).exitCode = w.exit!.exitCode;
      exitMore(e).signal = w.exit!.signal;
      break;
    case 'open': {
      const x = w.open!;
      // The numbers' block, where sent, stands for their fields.
      const n = x.numbers.length > 0 ? openNumbers(x.numbers) : x;
      e.path = x.path;
      // PATH_RAW_SAME: path_raw left out as it is path.
      e.pathRaw = (n.pathFlags & PATH_RAW_SAME) !== 0 && x.pathRaw === '' ? x.path : x.pathRaw;
      e.pathFlags = (n.pathFlags & ~PATH_RAW_SAME) >>> 0;
      e.ino = n.ino;
      e.dev = n.dev;
      // n.nlink, n.fileMode: not kept (nothing reads them)
      e.flags = n.flags;
      e.mode = n.mode;
      e.result = n.result;
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
      e.protocol = l4Protocol(w.connect!.protocol);
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
      e.protocol = l4Protocol(w.bind!.protocol);
      e.result = w.bind!.result;
      break;
    case 'listen':
      setLocal(e, w.listen!.local);
      e.protocol = e.family === AF_UNIX ? '' : 'tcp';
      e.result = w.listen!.result;
      break;
    case 'setid': {
      e.call = w.setId!.call;
      e.id = w.setId!.id;
      e.result = w.setId!.result;
      const m = setidMore(e);
      m.capEffective = w.setId!.capEffective;
      m.capPermitted = w.setId!.capPermitted;
      m.euid = w.setId!.euid;
      m.suid = w.setId!.suid;
      m.egid = w.setId!.egid;
      m.sgid = w.setId!.sgid;
      m.fsuid = w.setId!.fsuid;
      m.fsgid = w.setId!.fsgid;
      if (w.setId!.after) {
        const a = w.setId!.after;
        m.idsAfter = { uid: a.uid, euid: a.euid, suid: a.suid, fsuid: a.fsuid, gid: a.gid, egid: a.egid, sgid: a.sgid, fsgid: a.fsgid };
      }
      break;
    }
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
      e.protocol = l4Protocol(x.protocol);
      e.flags = x.oldFd;
      e.id = x.newFd;
      e.call = x.call ?? '';
      e.result = x.result;
      break;
    }
    case 'fileop':
      e.call = w.fileOp!.call;
      e.path = w.fileOp!.path;
      e.result = w.fileOp!.result;
      break;
    case 'dns': {
      const x = w.dns!;
      const dns = parseDnsMessage(x.message, false);
      // Cut by the kernel (it sends at most 1,024 bytes): what is past the cut is missing, not malformed.
      if (x.length > 1024 && !dns.error && !dns.truncated) dns.truncated = true;
      dns.allowedInKernel = x.allowed;
      e.more = dns;
      setRemote(e, x.server);
      e.protocol = l4Protocol(x.protocol);
      break;
    }
    case 'mkdir':
      e.path = w.mkdir!.path;
      e.mode = w.mkdir!.mode;
      e.result = w.mkdir!.result;
      break;
    case 'link': {
      const x = w.link!;
      e.call = x.call;
      e.path = x.path;
      e.path2 = x.target;
      e.flags = x.flags;
      e.result = x.result;
      break;
    }
    case 'socket': {
      const x = w.socket!;
      e.family = x.family;
      e.flags = x.type;
      e.id = x.protocol;
      e.result = x.result;
      break;
    }
    case 'bpf': {
      const x = w.bpf!;
      e.id = x.cmd;
      e.flags = x.progType;
      e.mode = x.subType;
      e.call = x.name;
      e.result = x.result;
      break;
    }
    case 'userfaultfd':
      e.flags = w.userfaultfd!.flags;
      e.result = w.userfaultfd!.result;
      break;
    case 'send': {
      const x = w.send!;
      e.call = x.call;
      setRemote(e, x.remote);
      e.protocol = l4Protocol(x.protocol);
      e.result = x.result;
      break;
    }
    case 'iouring': {
      const x = w.ioUringOp!;
      e.call = x.call;
      e.path2 = x.op;
      e.flags = x.flags;
      e.id = x.entries;
      e.result = x.result;
      break;
    }
    case 'cgroup_move': {
      const x = w.cgroupMove!;
      e.targetPid = x.pid;
      e.call = x.comm;
      e.id = x.fromCgroupId;
      e.flags = x.toCgroupId;
      e.result = x.policyRootCgroupId;
      e.mode = x.threadgroup ? 1 : 0;
      break;
    }
  }
  return e;
}

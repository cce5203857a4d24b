// ProbeMessage bytes → what the ingest server reads. Event batches, the
// hot path, are decoded by hand straight into the engine's flat Event
// shape: no intermediate message objects, numbers read in place, short
// ASCII strings (comm, paths) interned so a repeated path is one string
// whose hash V8 already knows. Every other message (hello, snapshot,
// losses, acks, packets) goes through protobufjs.
//
// Semantics are those of protobufjs decode + the plain reference decoder
// (test/support/reference-decoder.ts; the tests hold the two side by side), except where that would lose events:
//  - an event whose own bytes are malformed (a length past its end, a
//    known field with the wrong wire type, a varint of more than 10 bytes)
//    is rejected with a reason and the rest of the batch is kept; only a
//    batch whose framing is broken rejects the whole message;
//  - strings are decoded loosely: invalid UTF-8 (a Linux file name can be
//    any bytes) becomes U+FFFD instead of failing the message, so nobody
//    can hide an event, or stall the stream, with such a name;
//  - unknown fields are skipped (proto3 forward compatibility); a kind
//    (exec, open…) given twice counts once, the last.
import { EVENT_TYPES, EXE_OVERLAY, EXE_UPPER_LAYER, MECHANISMS, PATH_RAW_SAME, type DnsAnswer, type Event, type EventMore, type EventType, type ExecMore, type ExitMore, type ForkMore, type SetidMore, type TaskIds } from '../model/event.js';
import { EVENT_KINDS } from '../model/event-kinds.js';
import { messageType } from '../rpc/proto.js';
import type { WireProbeMessage } from '../probe/wire.js';
import { AddressError, AF_INET, AF_UNIX, formatAddress, l4Protocol } from '../model/addresses.js';
import { boundEvent, MAX_ARG, MAX_ARGS, MAX_PATH } from './bounds.js';
import { parseDnsMessage } from './dns.js';
import { MAX_ENV, redactEnvEntry } from '../model/env.js';

/** The most of a DNS message the kernel sends (VIGIL_DNS_MAX, bpf/events.h). */
const MAX_DNS_MESSAGE = 1024;

/** A batch as the decoder hands it on: events ready for enrichment (time and nodeName are the session's to fill). */
export interface DecodedBatch {
  seq: number;
  events: Event[];
  /** Why each rejected event was rejected, in batch order. */
  rejected: string[];
  /** Events past MAX_BATCH_EVENTS, not decoded. */
  excess: number;
  /** Events whose strings or argv were cut to their bounds. */
  oversized: Event[];
  /**
   * With keepEventBytes(true): the message's bytes and where each decoded
   * event's own bytes are in them (start, end per event), so detection
   * workers can be sent the bytes instead of the objects.
   */
  bytes: Uint8Array | null;
  ranges: number[];
}

// eslint-disable-next-line no-var -- as the decoder state below: read once a batch
var keepBytes = false;

/** Whether batches say where each event's bytes are (engine.workers > 1). */
export function keepEventBytes(on: boolean): void {
  keepBytes = on;
}

/** A decoded ProbeMessage: protobufjs's shape, with a batch already made of Events. */
export type ProbeMessageIn = Omit<WireProbeMessage, 'batch'> & { batch?: DecodedBatch };

/** An event whose meaning is wrong (no kind, no pid): rejected with the reason, the batch kept. */
export class MalformedEvent extends Error {}

/** Most events taken from one batch (a probe sends at most 65,536); the rest are counted as rejected. */
export const MAX_BATCH_EVENTS = 65_536;

/** Node's Buffer string slicers (undocumented but stable since Node 6): no argument parsing, no encoding lookup. */
interface Slicer {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

const EMPTY = Buffer.alloc(0) as Buffer & Slicer;

// Decoder state: one message at a time (decoding is synchronous). These
// module variables are `var`, not `let`: V8 checks a module `let` for its
// temporal dead zone at every read from a function (a compare and a branch;
// `pos` is read a hundred times an event), a `var` never. Together ~80 fewer
// instructions an event (bench/README.md, "decodefast").
/* eslint-disable no-var */
var buf = EMPTY;
var pos = 0;
/* eslint-enable no-var */

class Malformed extends Error {}

function fail(why: string): never {
  throw new Malformed(why);
}

// ---- varints --------------------------------------------------------

/** A varint's low 32 bits as an unsigned number; past `end` or longer than 10 bytes is malformed. */
function varint32(end: number): number {
  let b = buf[pos++]!;
  if (b < 128 && pos <= end) return b;
  let v = b & 127;
  b = buf[pos++]!;
  v |= (b & 127) << 7;
  if (b >= 128) {
    b = buf[pos++]!;
    v |= (b & 127) << 14;
    if (b >= 128) {
      b = buf[pos++]!;
      v |= (b & 127) << 21;
      if (b >= 128) {
        b = buf[pos++]!;
        v |= b << 28;
        // Bits past 32 (negative int32 are sign-extended to 10 bytes): skipped.
        for (let i = 0; b >= 128 && i < 5; i++) b = buf[pos++]!;
        if (b >= 128) fail('varint longer than 10 bytes');
      }
    }
  }
  if (pos > end) fail('varint past the end');
  return v >>> 0;
}

// A varint's low and high 32 bits, as varintParts read them last.
/* eslint-disable no-var -- decoder state: see buf */
var vlo = 0;
var vhi = 0;
/* eslint-enable no-var */

/** A varint of up to 10 bytes into vlo, vhi (unsigned); past `end` or longer is malformed. */
function varintParts(end: number): void {
  let b = buf[pos++]!;
  if (b < 128 && pos <= end) {
    vlo = b;
    vhi = 0;
    return;
  }
  let lo = b & 127;
  let hi = 0;
  let shift = 7;
  for (; shift < 28; shift += 7) {
    b = buf[pos++]!;
    lo |= (b & 127) << shift;
    if (b < 128) break;
  }
  if (b >= 128) {
    b = buf[pos++]!; // bits 28..34
    lo |= (b & 15) << 28;
    hi = (b & 127) >> 4;
    for (shift = 3; b >= 128 && shift < 32; shift += 7) {
      b = buf[pos++]!;
      hi |= (b & 127) << shift;
    }
    if (b >= 128) fail('varint longer than 10 bytes');
  }
  if (pos > end) fail('varint past the end');
  vlo = lo >>> 0;
  vhi = hi >>> 0;
}

/** A 64-bit varint's halves as a number: exact to 2^53, rounded beyond (as protobufjs with Long off). */
function u64(lo: number, hi: number): number {
  // Under 2^31 (most are) as an int32: V8 keeps it a small integer. The
  // sum below is a float even when whole, and once a float reached an
  // Event field (result), V8 boxed that field in a fresh number on every event.
  if (hi === 0 && (lo | 0) >= 0) return lo | 0;
  return (lo >>> 0) + (hi >>> 0) * 4294967296;
}

/** The same read as two's complement (an int64). */
function i64(lo: number, hi: number): number {
  // Within int32 (an fd, an errno: most results), as u64 says why.
  if ((hi | 0) === (lo | 0) >> 31) return lo | 0;
  if (!(hi >>> 31)) return (lo >>> 0) + hi * 4294967296;
  // Negative: -(~value + 1), as protobufjs's LongBits.toNumber.
  const nlo = (~lo + 1) >>> 0;
  let nhi = ~hi >>> 0;
  if (!nlo) nhi = (nhi + 1) >>> 0;
  return -(nlo + nhi * 4294967296);
}

/** A 64-bit varint as a number (u64, or i64 when `signed`). */
function varint64(end: number, signed: boolean): number {
  varintParts(end);
  return signed ? i64(vlo, vhi) : u64(vlo, vhi);
}

/** Skips a field of wire type `wt` (number `field`), groups included. */
function skip(wt: number, field: number, end: number): void {
  switch (wt) {
    case 0:
      for (let i = 0; ; i++) {
        if (pos >= end) fail('varint past the end');
        if (buf[pos++]! < 128) break;
        if (i === 9) fail('varint longer than 10 bytes');
      }
      return;
    case 1:
      pos += 8;
      break;
    case 2: {
      const n = varint32(end);
      pos += n;
      break;
    }
    case 3:
      for (;;) {
        if (pos >= end) fail(`group ${field} not closed`);
        const tag = varint32(end);
        const w = tag & 7;
        if (w === 4) {
          if (tag >>> 3 !== field) fail(`group ${field} closed as ${tag >>> 3}`);
          return;
        }
        skip(w, tag >>> 3, end);
      }
    case 5:
      pos += 4;
      break;
    default:
      fail(`wire type ${wt} of field ${field}`);
  }
  if (pos > end) fail(`field ${field} past the end`);
}

/** A length-delimited field's end; past `end` is malformed. */
function delimited(end: number, what: string): number {
  const n = varint32(end);
  const e = pos + n;
  if (e > end) fail(`${what}: ${n} bytes past the end`);
  return e;
}

// ---- strings --------------------------------------------------------

/**
 * Short ASCII strings are interned: a direct-mapped table, replaced on
 * collision. The slot comes from the length and up to sixteen bytes spread
 * over the string; a hit is then checked byte for byte (never trusted to a
 * hash: a crafted name must not come out as another one).
 */
const INTERN_MAX = 128;
const INTERN_SLOTS = 4096;
const interned: string[] = new Array<string>(INTERN_SLOTS).fill('');
/**
 * The interned strings' bytes, INTERN_MAX per slot, compared with the
 * message four bytes at a time: compared a character at a time, the
 * strings cost ~18% of the instructions from decoding through detection
 * (bench/detect-count.ts --functions). The table is read as an Int32Array
 * (its words are aligned; cheaper than a DataView), and each string's last
 * four bytes are kept apart, as one word, so a string of 4 bytes or more
 * is compared by whole words: those inside it, then its tail.
 */
const internedBytes = new Uint8Array(INTERN_SLOTS * INTERN_MAX);
const internedInts = new Int32Array(internedBytes.buffer);
const internedTails = new Int32Array(INTERN_SLOTS);
/** Counts each slot's strings: a remembered header's comm is still its slot's string while the count is the same. */
const internedCount = new Int32Array(INTERN_SLOTS);
/** The message is read in the table's byte order (the platform's, as any typed array). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const NO_WORDS: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
/**
 * The message's bytes as words: a view of its whole ArrayBuffer, the message
 * at `wordsAt` in it (decodeProbeMessage sets both with buf). Kept from one
 * message to the next while their ArrayBuffer is the same: a small message
 * comes in Node's shared 8 KiB pool, dozens to a pool, and a DataView made
 * per message was ~700 instructions of each (bench/message-count.ts).
 */
// eslint-disable-next-line no-var -- decoder state: see buf
var words = NO_WORDS;
// eslint-disable-next-line no-var -- decoder state: see buf
var wordsAt = 0;
/** A view of a larger ArrayBuffer (a message of its own) is let go after its message: it would hold its bytes. */
const KEEP_WORDS_BYTES = 64 << 10;

/** For strings boundEvent leaves as they are (call names, fstype). */
const UNBOUNDED = Infinity;

/** Whether an event carries a string or argv past its bound (checked by byte length; boundEvent cuts by characters). */
// eslint-disable-next-line no-var -- decoder state: see buf
var oversize = false;

/** The intern slot of the string str() returned last, -1 when it was not interned (Event.pathKey, commKey). */
// eslint-disable-next-line no-var -- decoder state: see buf
var lastKey = -1;

function str(end: number, bound: number): string {
  const e = delimited(end, 'string');
  const start = pos;
  pos = e;
  const n = e - start;
  lastKey = -1;
  if (n === 0) return '';
  if (n > bound) oversize = true;
  if (n <= INTERN_MAX) {
    const w = words;
    const at = wordsAt;
    // The slot, from words read whole (a byte costs about as much as a word): the first and last four bytes, and
    // past 8 bytes four in the middle, past 16 four at a quarter; murmur3's finaliser folds them into the low bits.
    let h: number;
    let tail = 0;
    if (n >= 4) {
      tail = w.getInt32(at + e - 4, LITTLE_ENDIAN);
      h = Math.imul(n ^ w.getInt32(at + start, LITTLE_ENDIAN), 0x9e3779b1) ^ tail;
      if (n > 8) {
        h = Math.imul(h, 0x85ebca6b) ^ w.getInt32(at + start + (n >> 1) - 2, LITTLE_ENDIAN);
        if (n > 16) h = Math.imul(h, 0xc2b2ae35) ^ w.getInt32(at + start + (n >> 2), LITTLE_ENDIAN);
      }
    } else h = n ^ (buf[start]! << 8) ^ (buf[start + (n >> 1)]! << 16) ^ (buf[e - 1]! << 24);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    const slot = h & (INTERN_SLOTS - 1);
    const s = interned[slot]!;
    const o = slot * INTERN_MAX;
    const o4 = o >> 2;
    // The words before the last four bytes (those are `tail`), whole: [0, last).
    const last = n - 4;
    if (s.length === n) {
      // The table holds ASCII only, so a match is ASCII too; its bytes are the string's.
      let same: boolean;
      if (n >= 4) {
        // A loop with one exit test a word: `same && ...` in its condition kept `same` on the stack and cost
        // ~38 instructions a word (build-count.ts --lines str).
        same = tail === internedTails[slot];
        let i = 0;
        if (same) while (i < last && w.getInt32(at + start + i, LITTLE_ENDIAN) === internedInts[o4 + (i >> 2)]!) i += 4;
        same &&= i >= last;
      } else {
        same = internedBytes[o] === buf[start] && (n < 2 || internedBytes[o + 1] === buf[start + 1]) && (n < 3 || internedBytes[o + 2] === buf[start + 2]);
      }
      if (same) {
        lastKey = slot;
        return s;
      }
    }
    // A miss: the string replaces the slot's, its bytes copied and checked for ASCII a word at a time, as compared
    // (a byte at a time, the check and the copy cost ~70 instructions a byte: a build's misses were a quarter of
    // str()'s work). Not ASCII: the slot is emptied, as its bytes are no longer its string's.
    let high = 0;
    if (n >= 4) {
      for (let i = 0; i < last; i += 4) {
        const word = w.getInt32(at + start + i, LITTLE_ENDIAN);
        internedInts[o4 + (i >> 2)] = word;
        high |= word;
      }
      high |= tail;
    } else {
      for (let i = 0; i < n; i++) high |= internedBytes[o + i] = buf[start + i]!;
    }
    internedCount[slot] = internedCount[slot]! + 1;
    if ((high & 0x80808080) !== 0) {
      interned[slot] = '';
      return buf.utf8Slice(start, e);
    }
    const fresh = buf.latin1Slice(start, e);
    interned[slot] = fresh;
    internedTails[slot] = tail;
    lastKey = slot;
    return fresh;
  }
  for (let i = start; i < e; i++) if (buf[i]! >= 128) return buf.utf8Slice(start, e);
  return buf.latin1Slice(start, e);
}

// ---- events ---------------------------------------------------------

/** The argv of every event without one: shared, never written to (nothing in the engine mutates an argv). */
const NO_ARGV: string[] = [];

/**
 * argv arrays, interned like strings: the same command line is the same
 * array (read-only, as every argv in the engine), so what the rules
 * derive from an argv (proc.args, proc.cmdline: cached by the array) is
 * computed once per command line, not once per exec.
 */
const ARGV_SLOTS = 1024;
const argvs: string[][] = new Array<string[]>(ARGV_SLOTS).fill(NO_ARGV);

/**
 * An exec's argv and env are decoded into these, reused, and leave as
 * copies at their size: an array pushed to from empty grows to 17 slots
 * (152 bytes for the usual few words), and a process keeps its argv and
 * env for its life. A known command line (sharedArgv) costs no array.
 * Made at their full size, one word past the bounds (boundEvent then cuts
 * and marks): a store past an array's end, the first longer command line
 * after V8 optimised the decoder, would throw that code away.
 */
const argvScratch: string[] = packed(MAX_ARGS + 1);
const envScratch: string[] = packed(MAX_ENV + 1);

/** n empty strings, in an array without holes (pushed: Array.from and fill make one with, and so do their slices). */
function packed(n: number): string[] {
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push('');
  return words;
}

/** The interned argv of argvScratch's first `n` words. */
function sharedArgv(n: number): string[] {
  const argv = argvScratch;
  let h = n;
  for (let i = 0; i < n; i++) {
    const a = argv[i]!;
    h = Math.imul(h ^ a.length ^ (a.charCodeAt(0) << 8) ^ (a.charCodeAt(a.length - 1) << 16), 0x9e3779b1);
  }
  const slot = (h ^ (h >>> 15)) & (ARGV_SLOTS - 1);
  const known = argvs[slot]!;
  if (known.length === n) {
    let i = 0;
    while (i < n && known[i] === argv[i]) i++;
    if (i === n) return known;
  }
  return (argvs[slot] = argv.slice(0, n));
}

/**
 * The fields this decoder reads of each kind's message, with their wire
 * types (0 varint, 2 length-delimited): event() reads exactly these and
 * skips the rest. A test holds them against probe.proto, so a field added
 * there is not skipped here unnoticed.
 */
const READS: Readonly<Record<EventType, Record<number, number>>> = {
  exec: { 1: 2, 2: 2, 3: 2, 4: 0, 5: 2, 6: 0, 7: 0, 8: 0, 9: 0, 10: 0, 11: 0, 12: 0, 13: 0, 14: 0, 15: 2, 16: 0, 17: 2, 18: 0 },
  fork: { 1: 0, 2: 0 },
  exit: { 1: 0, 2: 0 },
  open: { 1: 2, 2: 0, 3: 0, 4: 0, 5: 2, 6: 0, 7: 0, 8: 0, 9: 0, 10: 0, 11: 2 },
  unlink: { 1: 2, 2: 0, 3: 0 },
  rename: { 1: 2, 2: 2, 3: 0, 4: 0 },
  chmod: { 1: 2, 2: 0, 3: 0 },
  connect: { 1: 2, 2: 0, 3: 0 },
  accept: { 1: 2, 2: 2, 3: 0 },
  bind: { 1: 2, 2: 0, 3: 0 },
  listen: { 1: 2, 2: 0, 3: 0 },
  setid: { 1: 2, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0, 8: 0, 9: 0, 10: 0, 11: 0, 12: 2 },
  ptrace: { 1: 0, 2: 0, 3: 0 },
  module: { 1: 2, 2: 2, 3: 0 },
  mount: { 1: 2, 2: 2, 3: 2, 4: 0, 5: 0 },
  namespace: { 1: 2, 2: 0, 3: 0 },
  dup: { 1: 0, 2: 0, 3: 2, 4: 2, 5: 0, 6: 0, 7: 2 },
  fileop: { 1: 2, 2: 2, 3: 0 },
  dns: { 1: 2, 2: 0, 3: 2, 4: 0, 5: 0 },
  cgroup_move: { 1: 0, 2: 2, 3: 0, 4: 0, 5: 0, 6: 0 },
  mkdir: { 1: 2, 2: 0, 3: 0 },
  link: { 1: 2, 2: 2, 3: 2, 4: 0, 5: 0 },
  socket: { 1: 0, 2: 0, 3: 0, 4: 0 },
  bpf: { 1: 0, 2: 0, 3: 0, 4: 2, 5: 0 },
  userfaultfd: { 1: 0, 2: 0 },
  send: { 1: 2, 2: 2, 3: 0, 4: 0 },
  iouring: { 1: 2, 2: 0, 3: 0, 4: 0, 5: 2 },
};

/** A kind as the decoder reads it: its type, its message, the wire type of each field number (-1: unknown, skipped). */
interface Kind {
  type: EventType;
  /** Its field number in Event's oneof (Oneof below). */
  field: number;
  message: string;
  wire: Int8Array;
}

/**
 * The kinds' field numbers in Event's oneof, for the decoder's switch: on
 * numbers of a dense range TurboFan jumps, where on the kind's name it made
 * a compare per case before the match (counted: 20-24 instructions an event
 * fewer in event(), bench/README.md). A const enum: each use is compiled to
 * its number (an imported constant is a load and a check per use). Checked
 * against model/event-kinds.ts when this module loads.
 */
const enum Oneof {
  exec = 16, fork = 17, exit = 18, open = 19, unlink = 20, rename = 21, chmod = 22, connect = 23, accept = 24, bind = 25, listen = 26, setid = 27, ptrace = 28, module = 29, mount = 30, namespace = 31, dup = 32, fileop = 33, dns = 34, cgroup_move = 35, mkdir = 36, link = 37, socket = 38, bpf = 39, userfaultfd = 40, send = 41, iouring = 42,
}

/** Kinds by their field number in Event's oneof (model/event-kinds.ts numbers them); undefined for any other number. */
const KIND_BY_FIELD: (Kind | undefined)[] = new Array<Kind | undefined>(1 + Math.max(...EVENT_TYPES.map((t) => EVENT_KINDS[t].field))).fill(undefined);
for (const type of EVENT_TYPES) {
  const wire = new Int8Array(32).fill(-1);
  for (const [f, w] of Object.entries(READS[type])) wire[Number(f)] = w;
  KIND_BY_FIELD[EVENT_KINDS[type].field] = { type, field: EVENT_KINDS[type].field, message: EVENT_KINDS[type].message, wire };
}
{
  const oneof: Record<EventType, number> = { exec: Oneof.exec, fork: Oneof.fork, exit: Oneof.exit, open: Oneof.open, unlink: Oneof.unlink, rename: Oneof.rename, chmod: Oneof.chmod, connect: Oneof.connect, accept: Oneof.accept, bind: Oneof.bind, listen: Oneof.listen, setid: Oneof.setid, ptrace: Oneof.ptrace, module: Oneof.module, mount: Oneof.mount, namespace: Oneof.namespace, dup: Oneof.dup, fileop: Oneof.fileop, dns: Oneof.dns, cgroup_move: Oneof.cgroup_move, mkdir: Oneof.mkdir, link: Oneof.link, socket: Oneof.socket, bpf: Oneof.bpf, userfaultfd: Oneof.userfaultfd, send: Oneof.send, iouring: Oneof.iouring };
  for (const type of EVENT_TYPES) if (oneof[type] !== EVENT_KINDS[type].field) throw new Error(`decoder: kind ${type} is field ${oneof[type]} here, ${EVENT_KINDS[type].field} in event-kinds.ts`);
}

/**
 * The field numbers this decoder reads, by message, with their wire types
 * (0 varint, 2 length-delimited), as the test compares them with probe.proto.
 */
export const KNOWN_FIELDS: Readonly<Record<string, Record<number, number>>> = {
  Event: { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: 2, 8: 0, 9: 0, 10: 0, 11: 0, ...Object.fromEntries(EVENT_TYPES.map((t) => [EVENT_KINDS[t].field, 2])) },
  ...Object.fromEntries(EVENT_TYPES.map((t) => [EVENT_KINDS[t].message, READS[t]])),
  SockAddr: { 1: 0, 2: 2, 3: 0, 4: 2 },
  TaskIds: { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0, 8: 0 },
};

function wrongType(msg: string, field: number, wt: number): never {
  fail(`${msg} field ${field} has wire type ${wt}, expected ${KNOWN_FIELDS[msg]?.[field]}`);
}

/** Expects wire type `want` for a known field, else the event is malformed. */
function expect(msg: string, field: number, wt: number, want: number): void {
  if (wt !== want) wrongType(msg, field, wt);
}

// A socket address as read from the wire; two at most per event (remote, local).
/* eslint-disable no-var -- decoder state: see buf */
var saFamily = 0;
var saPort = 0;
var saPath = '';
var saAddr = '';
/* eslint-enable no-var */

/** Reads a SockAddr into sa*; its address is formatted at once (throws AddressError for a wrong length). */
function sockAddr(end: number): void {
  const e = delimited(end, 'SockAddr');
  let family = 0;
  let port = 0;
  let path = '';
  let aStart = 0;
  let aEnd = 0;
  const b = buf;
  // An IPv4 end as the probe writes it (fields in number order): family 2, a 4-byte address, a port of one to
  // three bytes, nothing else. Read at known places; any other shape goes through the loop below.
  if (e - pos >= 10 && b[pos] === 0x08 && b[pos + 1] === AF_INET && b[pos + 2] === 0x12 && b[pos + 3] === 4 && b[pos + 8] === 0x18) {
    const p = pos + 9;
    const c0 = b[p]!;
    let v = -1;
    let n = 0;
    if (c0 < 128) { v = c0; n = 1; }
    else if (p + 1 < e) {
      const c1 = b[p + 1]!;
      if (c1 < 128) { v = (c0 & 127) | (c1 << 7); n = 2; }
      else if (p + 2 < e && b[p + 2]! < 128) { v = (c0 & 127) | ((c1 & 127) << 7) | (b[p + 2]! << 14); n = 3; }
    }
    if (v >= 0 && p + n === e) {
      saFamily = AF_INET;
      saPort = v;
      saPath = '';
      saAddr = ipv4(pos + 4);
      pos = e;
      return;
    }
  }
  while (pos < e) {
    // A tag, a family, an address's length and a port of one or two bytes (most are) read here in line, as event() does.
    let tag = b[pos]!;
    if (tag < 128) pos++;
    else tag = varint32(e);
    const f = tag >>> 3;
    const wt = tag & 7;
    switch (f) {
      case 1: {
        expect('SockAddr', f, wt, 0);
        const c = b[pos]!;
        if (c < 128 && pos < e) {
          family = c;
          pos++;
        } else family = varint32(e);
        break;
      }
      case 2: {
        expect('SockAddr', f, wt, 2);
        const n = b[pos]!;
        if (n < 128 && pos + 1 + n <= e) {
          aStart = pos + 1;
          aEnd = aStart + n;
        } else {
          aEnd = delimited(e, 'address');
          aStart = pos;
        }
        pos = aEnd;
        break;
      }
      case 3: {
        expect('SockAddr', f, wt, 0);
        const c = b[pos]!;
        if (c < 128 && pos < e) {
          port = c;
          pos++;
        } else if (pos + 2 <= e && b[pos + 1]! < 128) {
          port = (c & 127) | (b[pos + 1]! << 7);
          pos += 2;
        } else port = varint32(e);
        break;
      }
      case 4: expect('SockAddr', f, wt, 2); path = str(e, MAX_PATH); break;
      default: skip(wt, f, e);
    }
  }
  saFamily = family;
  saPort = port;
  saPath = path;
  saAddr = family === AF_UNIX || aEnd === aStart ? '' : family === AF_INET && aEnd - aStart === 4 ? ipv4(aStart) : formatAddress(family, buf.subarray(aStart, aEnd));
}

/** Reads a TaskIds message (a set*id call's ids after it). */
function taskIds(end: number): TaskIds {
  const e = delimited(end, 'TaskIds');
  const ids: TaskIds = { uid: 0, euid: 0, suid: 0, fsuid: 0, gid: 0, egid: 0, sgid: 0, fsgid: 0 };
  while (pos < e) {
    const tag = varint32(e);
    const f = tag >>> 3;
    const wt = tag & 7;
    if (f < 1 || f > 8) {
      skip(wt, f, e);
      continue;
    }
    expect('TaskIds', f, wt, 0);
    const v = varint32(e);
    switch (f) {
      case 1: ids.uid = v; break;
      case 2: ids.euid = v; break;
      case 3: ids.suid = v; break;
      case 4: ids.fsuid = v; break;
      case 5: ids.gid = v; break;
      case 6: ids.egid = v; break;
      case 7: ids.sgid = v; break;
      default: ids.fsgid = v;
    }
  }
  return ids;
}

/**
 * IPv4 addresses as strings, interned like paths: the same peer is the
 * same string (profiles, rules and DNS names look them up by it). Written
 * as bytes and sliced, so each is one flat string (a template literal of
 * 13 characters or more is a rope, which every Map lookup would hash and
 * compare the slow way), and a table large enough for a node's peers.
 */
const V4_SLOTS = 16384;
const V4_SHIFT = 32 - 14;
const v4Numbers = new Float64Array(V4_SLOTS).fill(-1);
const v4Strings: string[] = new Array<string>(V4_SLOTS).fill('');
const v4Text = Buffer.alloc(15) as Buffer & Slicer;

/** Writes a byte's decimal digits at `at` in v4Text; returns the next position. */
function digits(n: number, at: number): number {
  if (n >= 100) v4Text[at++] = 48 + ((n / 100) | 0);
  if (n >= 10) v4Text[at++] = 48 + (((n / 10) | 0) % 10);
  v4Text[at++] = 48 + (n % 10);
  return at;
}

function ipv4(at: number): string {
  const a = buf[at]!;
  const b = buf[at + 1]!;
  const c = buf[at + 2]!;
  const d = buf[at + 3]!;
  const n = a * 16777216 + ((b << 16) | (c << 8) | d);
  const slot = Math.imul(n | 0, 0x9e3779b1) >>> V4_SHIFT;
  if (v4Numbers[slot] === n) return v4Strings[slot]!;
  let i = digits(a, 0);
  v4Text[i++] = 46;
  i = digits(b, i);
  v4Text[i++] = 46;
  i = digits(c, i);
  v4Text[i++] = 46;
  i = digits(d, i);
  const s = v4Text.latin1Slice(0, i);
  v4Numbers[slot] = n;
  v4Strings[slot] = s;
  return s;
}

/**
 * Event headers remembered by their bytes: a process's events in a row
 * (a burst of syscalls on one CPU) repeat every header field after the
 * first (pid, tid, ppid, uid, gid, comm, cgroup id), so the bytes from
 * after ktime_ns to the kind are compared with those of the last header
 * seen in the slot of their first word, and on a match the values read
 * then are taken (the bytes are compared in full, never trusted to a
 * hash). A direct-mapped table of 1,024 slots by that first word (the pid
 * and its tags): a header is remembered on its second sighting in a slot,
 * so events from ever-changing processes (no locality) cost a compare and
 * a word stored, not a copy each.
 */
const HEADER_SLOTS = 1024;
const HEADER_SHIFT = 32 - 10;
/** The longest header remembered (bytes after ktime_ns); a comm of 16 bytes and every id of 5 fits. */
const HEADER_MAX = 64;
/** A slot's first word, and its header's length in bytes (0: only the first word known yet). */
const headerFirst = new Int32Array(HEADER_SLOTS);
const headerLength = new Int32Array(HEADER_SLOTS);
/** Its words after the first (whole words, then the last four bytes apart), as str() compares. */
const headerWords = new Int32Array(HEADER_SLOTS * (HEADER_MAX >> 2));
const headerTail = new Int32Array(HEADER_SLOTS);
// The values its fields gave.
const headerIds = new Int32Array(HEADER_SLOTS * 6);
const headerCgroup = new Float64Array(HEADER_SLOTS);
const headerComm: string[] = new Array<string>(HEADER_SLOTS).fill('');
const headerCommKey = new Int32Array(HEADER_SLOTS);
/** internedCount of the comm's slot when remembered. */
const headerCommCount = new Int32Array(HEADER_SLOTS);
/** blocked 1, ioUring 2. (A comm past its bound makes a header longer than HEADER_MAX: never remembered.) */
const headerFlags = new Uint8Array(HEADER_SLOTS);

/** Whether the header bytes [p, p + n) are those slot `slot` remembers (its first word already compared). */
function sameHeader(slot: number, p: number, n: number): boolean {
  const w = words;
  const at = wordsAt + p;
  if (w.getInt32(at + n - 4, true) !== headerTail[slot]) return false;
  const o = slot * (HEADER_MAX >> 2);
  for (let i = 4; i + 4 < n; i += 4) if (w.getInt32(at + i, true) !== headerWords[o + (i >> 2)]) return false;
  return true;
}

/** One Event from its bytes [pos, end). Throws Malformed (bytes) or MalformedEvent (meaning) with the reason. */
function event(end: number): Event {
  let ktimeNs = 0;
  let pid = 0;
  let tid = 0;
  let ppid = 0;
  let uid = 0;
  let gid = 0;
  let comm = '';
  let commKey = -1;
  let cgroupId = 0;
  let blocked = false;
  let blockedBy = 0;
  let ioUring = false;
  let kind: Kind | null = null;
  let kStart = 0;
  let kEnd = 0;
  oversize = false;
  // The header, read here in line: a call per field costs more than its
  // read. Each field is a one-byte tag then a varint, comm a string; a
  // varint of up to 8 bytes is read here (56 bits: ktime_ns and cgroup_id
  // come exact to 2^53, rounded once beyond, as varint64 does). Anything
  // else (the kind, an unknown field, a wrong wire type, a longer varint,
  // a varint past the end) is left, from its first byte, to the loop below.
  const b = buf;
  let p = pos;
  // ktime_ns first, as the probe writes it: its varint (up to 8 bytes) read
  // from two words, then the rest of the header looked up among the
  // remembered ones (above). headerAt: where that rest starts, when it is to
  // be remembered (-1: not).
  let headerAt = -1;
  let headerSlot = 0;
  if (p + 9 <= end && b[p] === 0x08) {
    const w1 = words.getInt32(wordsAt + p + 1, true);
    const w2 = words.getInt32(wordsAt + p + 5, true);
    // The first byte without its continuation bit, in each word.
    const s1 = ~w1 & 0x80808080;
    const s2 = ~w2 & 0x80808080;
    // Each word's 7-bit groups packed into 28 bits.
    const g1 = (w1 & 0x7f) | ((w1 >>> 1) & 0x3f80) | ((w1 >>> 2) & 0x1fc000) | ((w1 >>> 3) & 0xfe00000);
    const g2 = (w2 & 0x7f) | ((w2 >>> 1) & 0x3f80) | ((w2 >>> 2) & 0x1fc000) | ((w2 >>> 3) & 0xfe00000);
    let n = 0;
    if (s1 !== 0) {
      n = (31 - Math.clz32(s1 & -s1) + 1) >> 3; // bytes in the varint: 1-4
      ktimeNs = g1 & ((1 << (7 * n)) - 1);
    } else if (s2 !== 0) {
      const n2 = (31 - Math.clz32(s2 & -s2) + 1) >> 3;
      n = 4 + n2;
      ktimeNs = g1 + (g2 & ((1 << (7 * n2)) - 1)) * 268435456;
    }
    if (n > 0) {
      p += 1 + n;
      if (p + 4 <= end) {
        const first = words.getInt32(wordsAt + p, true);
        const slot = Math.imul(first, 0x9e3779b1) >>> HEADER_SHIFT;
        const len = headerLength[slot]!;
        if (headerFirst[slot] !== first) {
          // A first sighting: only its word kept.
          headerFirst[slot] = first;
          headerLength[slot] = 0;
        } else if (len > 0 && p + len <= end && sameHeader(slot, p, len) && (headerCommKey[slot]! < 0 || internedCount[headerCommKey[slot]!] === headerCommCount[slot])) {
          // (The comm must still be its intern slot's string, as str() would give it now, or the header is read afresh.)
          const ids = slot * 6;
          pid = headerIds[ids]! >>> 0;
          tid = headerIds[ids + 1]! >>> 0;
          ppid = headerIds[ids + 2]! >>> 0;
          uid = headerIds[ids + 3]! >>> 0;
          gid = headerIds[ids + 4]! >>> 0;
          blockedBy = headerIds[ids + 5]! >>> 0;
          cgroupId = headerCgroup[slot]!;
          comm = headerComm[slot]!;
          commKey = headerCommKey[slot]!;
          const flags = headerFlags[slot]!;
          blocked = (flags & 1) !== 0;
          ioUring = (flags & 2) !== 0;
          p += len;
        } else {
          headerAt = p;
          headerSlot = slot;
        }
      }
    }
  }
  while (p < end) {
    const tag = b[p]!;
    if (tag === 0x3a) {
      pos = p + 1;
      comm = str(end, 64);
      commKey = lastKey;
      p = pos;
      continue;
    }
    if ((tag & 7) !== 0 || tag < 0x08 || tag > 0x58 || tag === 0x38) break;
    let q = p + 1;
    let c = b[q++]!;
    let lo = c & 127;
    let hi = 0;
    if (c >= 128) {
      c = b[q++]!;
      lo |= (c & 127) << 7;
      if (c >= 128) {
        c = b[q++]!;
        lo |= (c & 127) << 14;
        if (c >= 128) {
          c = b[q++]!;
          lo |= (c & 127) << 21;
          for (let s = 0; c >= 128 && s < 28; s += 7) {
            c = b[q++]!;
            hi |= (c & 127) << s;
          }
        }
      }
    }
    if (c >= 128 || q > end) break;
    switch (tag) {
      case 0x08:
        ktimeNs = lo + hi * 268435456;
        // ktime_ns again, inside the header: not remembered.
        if (headerAt >= 0) headerAt = -1;
        break;
      case 0x10: pid = (lo | (hi << 28)) >>> 0; break;
      case 0x18: tid = (lo | (hi << 28)) >>> 0; break;
      case 0x20: ppid = (lo | (hi << 28)) >>> 0; break;
      case 0x28: uid = (lo | (hi << 28)) >>> 0; break;
      case 0x30: gid = (lo | (hi << 28)) >>> 0; break;
      case 0x40: cgroupId = lo + hi * 268435456; break;
      case 0x48: blocked = (lo | (hi << 28)) !== 0; break;
      case 0x50: blockedBy = (lo | (hi << 28)) >>> 0; break;
      default: ioUring = (lo | (hi << 28)) !== 0;
    }
    p = q;
  }
  if (headerAt >= 0) {
    const n = p - headerAt;
    if (n >= 4 && n <= HEADER_MAX) {
      // Seen twice in a row in its slot: remembered.
      const slot = headerSlot;
      const w = words;
      const o = slot * (HEADER_MAX >> 2);
      const at = wordsAt + headerAt;
      for (let i = 4; i + 4 < n; i += 4) headerWords[o + (i >> 2)] = w.getInt32(at + i, true);
      headerTail[slot] = w.getInt32(wordsAt + p - 4, true);
      headerLength[slot] = n;
      const ids = slot * 6;
      headerIds[ids] = pid;
      headerIds[ids + 1] = tid;
      headerIds[ids + 2] = ppid;
      headerIds[ids + 3] = uid;
      headerIds[ids + 4] = gid;
      headerIds[ids + 5] = blockedBy;
      headerCgroup[slot] = cgroupId;
      headerComm[slot] = comm;
      headerCommKey[slot] = commKey;
      if (commKey >= 0) headerCommCount[slot] = internedCount[commKey]!;
      headerFlags[slot] = (blocked ? 1 : 0) | (ioUring ? 2 : 0);
    }
  }
  // Then the kind, as the probe writes it: a two-byte tag (fields 16-47,
  // wire type 2) and a length of one byte. Anything else: the loop below.
  if (p + 2 < end && (b[p]! & 0x87) === 0x82 && b[p + 1]! < 3 && b[p + 2]! < 128) {
    const known = KIND_BY_FIELD[((b[p]! & 127) >>> 3) | (b[p + 1]! << 4)];
    const kindEnd = p + 3 + b[p + 2]!;
    if (known !== undefined && kindEnd <= end) {
      kind = known;
      kStart = p + 3;
      kEnd = kindEnd;
      p = kindEnd;
    }
  }
  pos = p;
  while (pos < end) {
    const tag = varint32(end);
    const f = tag >>> 3;
    const wt = tag & 7;
    switch (f) {
      case 1: expect('Event', f, wt, 0); ktimeNs = varint64(end, false); break;
      case 2: expect('Event', f, wt, 0); pid = varint32(end); break;
      case 3: expect('Event', f, wt, 0); tid = varint32(end); break;
      case 4: expect('Event', f, wt, 0); ppid = varint32(end); break;
      case 5: expect('Event', f, wt, 0); uid = varint32(end); break;
      case 6: expect('Event', f, wt, 0); gid = varint32(end); break;
      case 7: expect('Event', f, wt, 2); comm = str(end, 64); commKey = lastKey; break;
      case 8: expect('Event', f, wt, 0); cgroupId = varint64(end, false); break;
      case 9: expect('Event', f, wt, 0); blocked = varint32(end) !== 0; break;
      case 10: expect('Event', f, wt, 0); blockedBy = varint32(end); break;
      case 11: expect('Event', f, wt, 0); ioUring = varint32(end) !== 0; break;
      default: {
        const known = f < KIND_BY_FIELD.length ? KIND_BY_FIELD[f] : undefined;
        if (known !== undefined) {
          expect('Event', f, wt, 2);
          kEnd = delimited(end, known.message);
          kStart = pos;
          kind = known;
          pos = kEnd;
        } else skip(wt, f, end);
      }
    }
  }
  if (kind === null) throw new MalformedEvent('event without a kind');
  const k = kind;
  const type = k.type;
  // A DNS answer is seen in the network stack, where no task runs.
  if (!pid && type !== 'dns') throw new MalformedEvent(`${type} event without a pid`);

  // The Event, made here with every kind field at its default, and the kind's fields then written into it. Not
  // the other way round (a local a field, the literal made last from them): TurboFan kept each of some fifty
  // locals in a stack slot, so every event paid a store to set each slot, then a load, a tag and a store to
  // copy it into the Event (~210 instructions an event: bench/README.md, "The Event made first"). The field order of
  // emptyEvent (src/model/event.ts): every event gets one hidden class. A kind's own fields (exec, setid, fork,
  // exit) are in an object of their own, `more`, made only for that kind (in newExecMore's order and its siblings':
  // one hidden class each), so the other kinds (opens: most events) do not store their defaults.
  let more: EventMore | null = null;
  switch (k.field) {
    case Oneof.exec:
      more = { filename: '', argv: NO_ARGV, argvTruncated: false, env: NO_ARGV, envTruncated: false, cwd: '', tty: 0, exeLayer: 0, vpid: 0, loginuid: 0, capEffective: 0, capPermitted: 0, sha256: '', stdio: 0 };
      break;
    case Oneof.setid:
      more = { capEffective: 0, capPermitted: 0, euid: 0, suid: 0, egid: 0, sgid: 0, fsuid: 0, fsgid: 0, idsAfter: null };
      break;
    case Oneof.fork:
      more = { childPid: 0, vpid: 0 };
      break;
    case Oneof.exit:
      more = { exitCode: 0, signal: 0 };
      break;
  }
  const ev: Event = {
    type, ktimeNs, time: 0, pid, tid, ppid, uid, gid, comm, cgroupId, nodeName: '', blocked, blockedBy: MECHANISMS[blockedBy] ?? '', ioUring,
    path: '', pathRaw: '', pathFlags: 0, ino: 0, dev: 0, path2: '', flags: 0, mode: 0, result: 0,
    family: 0, addr: '', port: 0, localAddr: '', localPort: 0, protocol: '', unixPath: '', sipName: '', cipName: '',
    call: '', id: 0, targetPid: 0,
    pathKey: -1, commKey,
    more,
    process: null, workload: null,
  };
  let args = 0;
  let envs = 0;
  // Remote and local socket ends, and the wire protocol, applied after the fields (their order on the wire is free).
  let hasRemote = false;
  let rFamily = 0;
  let rAddr = '';
  let rPort = 0;
  let rPath = '';
  let hasLocal = false;
  let lFamily = 0;
  let lAddr = '';
  let lPort = 0;
  let lPath = '';
  let wireProtocol = 0;
  let dns: DnsAnswer | null = null;
  let dnsLength = 0;
  let dnsAllowed = 0;
  let numbersAt = -1;
  let numbersLength = 0;

  const wire = k.wire;
  pos = kStart;
  const e = kEnd;
  while (pos < e) {
    // Tags and varints of one byte (most are) read here in line; the rest through varint32 and varintParts.
    let tag = b[pos]!;
    if (tag < 128) pos++;
    else tag = varint32(e);
    const f = tag >>> 3;
    const wt = tag & 7;
    const known = f < wire.length ? wire[f]! : -1;
    if (known < 0) {
      skip(wt, f, e);
      continue;
    }
    if (wt !== known) wrongType(k.message, f, wt);
    // A varint field's value, as its low and high 32 bits: what each field takes of it is read below.
    let lo = 0;
    let hi = 0;
    if (wt === 0) {
      const c = b[pos]!;
      if (c < 128 && pos < e) {
        lo = c;
        pos++;
      } else {
        varintParts(e);
        lo = vlo;
        hi = vhi;
      }
    }
    switch (k.field) {
      case Oneof.open:
        if (f === 1) { ev.path = str(e, MAX_PATH); ev.pathKey = lastKey; }
        else if (f === 2) ev.flags = lo | 0;
        else if (f === 3) ev.mode = lo >>> 0;
        else if (f === 4) ev.result = i64(lo, hi);
        else if (f === 5) ev.pathRaw = str(e, MAX_PATH);
        else if (f === 6) ev.pathFlags = lo >>> 0;
        else if (f === 7) ev.ino = u64(lo, hi);
        else if (f === 8) ev.dev = lo >>> 0;
        else if (f === 9 || f === 10) {
          // the link count and the file's mode: nothing reads them, not kept
        } else {
          // The numbers in one field, as the probe sends them: read after the loop, over the fields wherever they
          // were (the last one sent, as protobuf takes a field sent twice).
          const n = delimited(e, 'open numbers');
          numbersAt = pos;
          numbersLength = n - pos;
          pos = n;
        }
        break;
      case Oneof.exec: {
        const x = more as ExecMore;
        if (f === 1) x.filename = str(e, MAX_PATH);
        else if (f === 2) { ev.path = str(e, MAX_PATH); ev.pathKey = lastKey; }
        else if (f === 3) {
          const word = str(e, MAX_ARG);
          if (args <= MAX_ARGS) argvScratch[args] = word;
          args++;
        } else if (f === 4) x.argvTruncated = lo !== 0;
        else if (f === 5) x.cwd = str(e, MAX_PATH);
        else if (f === 6) x.tty = lo >>> 0;
        else if (f === 7) x.capEffective = u64(lo, hi);
        else if (f === 8) x.capPermitted = u64(lo, hi);
        else if (f === 9) x.loginuid = lo >>> 0;
        else if (f === 10) x.vpid = lo >>> 0;
        else if (f === 11) x.exeLayer |= lo !== 0 ? EXE_OVERLAY : 0;
        else if (f === 12) x.exeLayer |= lo !== 0 ? EXE_UPPER_LAYER : 0;
        else if (f === 13) ev.ino = u64(lo, hi);
        else if (f === 14) ev.dev = lo >>> 0;
        else if (f === 15) x.sha256 = str(e, 64);
        else if (f === 16) x.stdio = lo >>> 0;
        else if (f === 17) {
          // Again here what the probe filtered: no value off the list gets further (model/env.ts).
          const entry = redactEnvEntry(str(e, MAX_ARG));
          if (envs <= MAX_ENV) envScratch[envs] = entry;
          envs++;
        } else x.envTruncated = lo !== 0;
        break;
      }
      case Oneof.fork:
        if (f === 1) (more as ForkMore).childPid = lo >>> 0;
        else (more as ForkMore).vpid = lo >>> 0;
        break;
      case Oneof.exit:
        if (f === 1) (more as ExitMore).exitCode = lo | 0;
        else (more as ExitMore).signal = lo | 0;
        break;
      case Oneof.unlink:
        if (f === 1) { ev.path = str(e, MAX_PATH); ev.pathKey = lastKey; }
        else if (f === 2) ev.flags = lo !== 0 ? 1 : 0;
        else ev.result = i64(lo, hi);
        break;
      case Oneof.rename:
        if (f === 1) { ev.path = str(e, MAX_PATH); ev.pathKey = lastKey; }
        else if (f === 2) ev.path2 = str(e, MAX_PATH);
        else if (f === 3) ev.flags = lo >>> 0;
        else ev.result = i64(lo, hi);
        break;
      case Oneof.chmod:
        if (f === 1) { ev.path = str(e, MAX_PATH); ev.pathKey = lastKey; }
        else if (f === 2) ev.mode = lo >>> 0;
        else ev.result = i64(lo, hi);
        break;
      case Oneof.fileop:
        if (f === 1) ev.call = str(e, 16);
        else if (f === 2) { ev.path = str(e, MAX_PATH); ev.pathKey = lastKey; }
        else ev.result = i64(lo, hi);
        break;
      case Oneof.connect:
      case Oneof.bind:
        if (f === 1) {
          sockAddr(e);
          if (k.field === Oneof.connect) { hasRemote = true; rFamily = saFamily; rAddr = saAddr; rPort = saPort; rPath = saPath; }
          else { hasLocal = true; lFamily = saFamily; lAddr = saAddr; lPort = saPort; lPath = saPath; }
        } else if (f === 2) wireProtocol = lo | 0;
        else ev.result = i64(lo, hi);
        break;
      case Oneof.accept:
        if (f === 1) { sockAddr(e); hasRemote = true; rFamily = saFamily; rAddr = saAddr; rPort = saPort; rPath = saPath; }
        else if (f === 2) { sockAddr(e); hasLocal = true; lFamily = saFamily; lAddr = saAddr; lPort = saPort; lPath = saPath; }
        else ev.result = i64(lo, hi);
        break;
      case Oneof.listen:
        if (f === 1) { sockAddr(e); hasLocal = true; lFamily = saFamily; lAddr = saAddr; lPort = saPort; lPath = saPath; }
        else if (f === 2) {
          // backlog: not kept
        }
        else ev.result = i64(lo, hi);
        break;
      case Oneof.setid: {
        const m = more as SetidMore;
        if (f === 1) ev.call = str(e, UNBOUNDED);
        else if (f === 2) ev.id = i64(lo, hi);
        else if (f === 3) ev.result = i64(lo, hi);
        else if (f === 4) m.capEffective = u64(lo, hi);
        else if (f === 5) m.capPermitted = u64(lo, hi);
        else if (f === 6) m.euid = lo >>> 0;
        else if (f === 7) m.suid = lo >>> 0;
        else if (f === 8) m.egid = lo >>> 0;
        else if (f === 9) m.sgid = lo >>> 0;
        else if (f === 10) m.fsuid = lo >>> 0;
        else if (f === 11) m.fsgid = lo >>> 0;
        else m.idsAfter = taskIds(e);
        break;
      }
      case Oneof.ptrace:
        if (f === 1) ev.id = i64(lo, hi);
        else if (f === 2) ev.targetPid = lo >>> 0;
        else ev.result = i64(lo, hi);
        break;
      case Oneof.module:
        if (f === 1) ev.call = str(e, UNBOUNDED);
        else if (f === 2) { ev.path = str(e, MAX_PATH); ev.pathKey = lastKey; }
        else ev.result = i64(lo, hi);
        break;
      case Oneof.mount:
        if (f === 1) ev.path2 = str(e, MAX_PATH);
        else if (f === 2) { ev.path = str(e, MAX_PATH); ev.pathKey = lastKey; }
        else if (f === 3) ev.call = str(e, UNBOUNDED);
        else if (f === 4) ev.flags = u64(lo, hi);
        else ev.result = i64(lo, hi);
        break;
      case Oneof.namespace:
        if (f === 1) ev.call = str(e, UNBOUNDED);
        else if (f === 2) ev.flags = ev.id = u64(lo, hi);
        else ev.result = i64(lo, hi);
        break;
      case Oneof.dns:
        if (f === 1) {
          const end = delimited(e, 'message');
          // Copied: the batch's buffer is reused.
          dns = parseDnsMessage(Uint8Array.from(buf.subarray(pos, end)), false);
          pos = end;
        } else if (f === 2) dnsLength = lo >>> 0;
        else if (f === 3) { sockAddr(e); hasRemote = true; rFamily = saFamily; rAddr = saAddr; rPort = saPort; rPath = saPath; }
        else if (f === 4) wireProtocol = lo | 0;
        else dnsAllowed = lo >>> 0;
        break;
      case Oneof.cgroup_move:
        if (f === 1) ev.targetPid = lo >>> 0;
        else if (f === 2) ev.call = str(e, 16);
        else if (f === 3) ev.id = u64(lo, hi);
        else if (f === 4) ev.flags = u64(lo, hi);
        else if (f === 5) ev.result = u64(lo, hi);
        else ev.mode = lo !== 0 ? 1 : 0;
        break;
      case Oneof.dup:
        if (f === 1) ev.flags = lo >>> 0;
        else if (f === 2) ev.id = lo >>> 0;
        else if (f === 3) { sockAddr(e); hasRemote = true; rFamily = saFamily; rAddr = saAddr; rPort = saPort; rPath = saPath; }
        else if (f === 4) { sockAddr(e); hasLocal = true; lFamily = saFamily; lAddr = saAddr; lPort = saPort; lPath = saPath; }
        else if (f === 5) wireProtocol = lo | 0;
        else if (f === 7) ev.call = str(e, 16);
        else ev.result = i64(lo, hi);
        break;
      case Oneof.mkdir:
        if (f === 1) ev.path = str(e, MAX_PATH);
        else if (f === 2) ev.mode = lo >>> 0;
        else ev.result = i64(lo, hi);
        break;
      case Oneof.link:
        if (f === 1) ev.call = str(e, 16);
        else if (f === 2) ev.path2 = str(e, MAX_PATH);
        else if (f === 3) ev.path = str(e, MAX_PATH);
        else if (f === 4) ev.flags = lo >>> 0;
        else ev.result = i64(lo, hi);
        break;
      case Oneof.socket:
        if (f === 1) ev.family = lo >>> 0;
        else if (f === 2) ev.flags = lo >>> 0;
        else if (f === 3) ev.id = lo >>> 0;
        else ev.result = i64(lo, hi);
        break;
      case Oneof.bpf:
        if (f === 1) ev.id = lo >>> 0;
        else if (f === 2) ev.flags = lo >>> 0;
        else if (f === 3) ev.mode = lo >>> 0;
        else if (f === 4) ev.call = str(e, 16);
        else ev.result = i64(lo, hi);
        break;
      case Oneof.userfaultfd:
        if (f === 1) ev.flags = lo >>> 0;
        else ev.result = i64(lo, hi);
        break;
      case Oneof.send:
        if (f === 1) ev.call = str(e, 16);
        else if (f === 2) { sockAddr(e); hasRemote = true; rFamily = saFamily; rAddr = saAddr; rPort = saPort; rPath = saPath; }
        else if (f === 3) wireProtocol = lo | 0;
        else ev.result = i64(lo, hi);
        break;
      case Oneof.iouring:
        if (f === 1) ev.call = str(e, 32);
        else if (f === 2) ev.flags = lo >>> 0;
        else if (f === 3) ev.id = lo >>> 0;
        else if (f === 5) ev.path2 = str(e, 32);
        else ev.result = i64(lo, hi);
        break;
    }
  }
  if (type === 'exec') {
    const x = more as ExecMore;
    if (!ev.path) {
      ev.path = x.filename;
      ev.pathKey = -1;
    }
    // Past the bounds: their first word past them kept, for boundEvent to cut and mark.
    if (args > MAX_ARGS) {
      oversize = true;
      args = MAX_ARGS + 1;
    }
    if (args > 0) x.argv = sharedArgv(args);
    if (envs > MAX_ENV) {
      oversize = true;
      envs = MAX_ENV + 1;
    }
    if (envs > 0) x.env = envScratch.slice(0, envs);
  }
  if (numbersAt >= 0) {
    if (numbersLength < 40) shortOpenNumbers(numbersLength);
    // OpenEvent.numbers: its layout in probe.proto (and src/probe/open-numbers.ts), the offsets written out. Eight
    // reads at known places, where the same numbers as fields took a turn of the field loop each (~150
    // instructions a field). Here, not in a function of its own: TurboFan did not inline one into event().
    const w = words;
    const at = wordsAt + numbersAt;
    ev.result = i64(w.getInt32(at, true), w.getInt32(at + 4, true));
    ev.ino = u64(w.getInt32(at + 8, true), w.getInt32(at + 12, true));
    ev.flags = w.getInt32(at + 16, true);
    ev.mode = w.getUint32(at + 20, true);
    ev.pathFlags = w.getUint32(at + 24, true);
    ev.dev = w.getUint32(at + 28, true);
    // at 32 and 36: the link count and the file's mode, not kept (nothing reads them)
  }
  // An open whose path_raw the probe left out, as it is path (most opens): the same string, not read twice.
  if ((ev.pathFlags & PATH_RAW_SAME) !== 0) {
    ev.pathFlags = (ev.pathFlags & ~PATH_RAW_SAME) >>> 0;
    if (ev.pathRaw === '') ev.pathRaw = ev.path;
  }
  // As the reference decoder's setRemote / setLocal: the remote end first, the local one fills what is left.
  if (hasRemote) {
    ev.family = rFamily;
    if (rFamily === AF_UNIX) ev.unixPath = rPath;
    else { ev.addr = rAddr; ev.port = rPort; }
  }
  if (hasLocal) {
    if (!ev.family) ev.family = lFamily;
    if (lFamily === AF_UNIX) ev.unixPath = lPath;
    else { ev.localAddr = lAddr; ev.localPort = lPort; }
  }
  if (type === 'accept' || type === 'listen') ev.protocol = ev.family === AF_UNIX ? '' : 'tcp';
  else if (type === 'connect' || type === 'bind' || type === 'dup' || type === 'send' || type === 'dns') ev.protocol = l4Protocol(wireProtocol);
  if (type === 'dns') {
    dns ??= parseDnsMessage(new Uint8Array(0), false);
    // Cut by the kernel: what is past the cut is missing, not malformed.
    if (dnsLength > 0 && !dns.error && dns.truncated === false && dnsLength > MAX_DNS_MESSAGE) dns.truncated = true;
    dns.allowedInKernel = dnsAllowed;
    ev.more = dns;
  }
  return ev;
}

/** OpenEvent.numbers shorter than its layout: the event is malformed (its own function, as wrongType says why). */
function shortOpenNumbers(n: number): never {
  throw new MalformedEvent(`open numbers: ${n} bytes, want 40`);
}

/**
 * A message's field of the wrong wire type: malformed. Its own function, not
 * a template in line: optimised, batch() converted `wt` to a string for that
 * message ahead of the test, on every event (~25 instructions an event).
 */
function wrongWire(msg: string, field: number, wt: number, want: number): never {
  fail(`${msg} field ${field} has wire type ${wt}, expected ${want}`);
}

/** EventBatch bytes [pos, end) into `out`: seq, events, rejections. */
function batch(end: number, out: DecodedBatch): void {
  while (pos < end) {
    const tag = varint32(end);
    const f = tag >>> 3;
    const wt = tag & 7;
    if (f === 1) {
      if (wt !== 0) wrongWire('EventBatch', 1, wt, 0);
      out.seq = varint64(end, false);
    } else if (f === 2) {
      if (wt !== 2) wrongWire('EventBatch', 2, wt, 2);
      const e = delimited(end, 'Event');
      if (out.events.length + out.rejected.length >= MAX_BATCH_EVENTS) {
        out.excess++;
        pos = e;
        continue;
      }
      const start = pos;
      try {
        const ev = event(e);
        if (oversize && boundEvent(ev)) out.oversized.push(ev);
        // Stored at its index: push() is a call to a builtin here, ~130 instructions an event.
        const events = out.events;
        events[events.length] = ev;
        if (keepBytes) out.ranges.push(start, e);
      } catch (err) {
        if (err instanceof MalformedEvent || err instanceof AddressError) out.rejected.push(err.message);
        else if (err instanceof Malformed) out.rejected.push(`malformed event bytes: ${err.message}`);
        else throw err;
      }
      pos = e;
    } else skip(wt, f, end);
  }
}

const ProbeMessage = messageType('ProbeMessage');

/**
 * Decodes one ProbeMessage (the ingest server's request deserializer).
 * Throws with the reason when its framing is broken; a malformed event
 * inside a well-framed batch is only rejected (DecodedBatch.rejected).
 */
export function decodeProbeMessage(bytes: Uint8Array): ProbeMessageIn {
  buf = (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as Buffer & Slicer;
  const whole = buf.buffer;
  if (words.buffer !== whole) words = new DataView(whole);
  wordsAt = buf.byteOffset;
  pos = 0;
  const end = buf.length;
  let out: DecodedBatch | null = null;
  let other = 0;
  try {
    while (pos < end) {
      const tag = varint32(end);
      const f = tag >>> 3;
      const wt = tag & 7;
      if (f === 2) {
        if (wt !== 2) wrongWire('ProbeMessage', 2, wt, 2);
        const e = delimited(end, 'EventBatch');
        // A message field given twice is merged (proto3): events add up, the last seq wins.
        out ??= { seq: 0, events: [], rejected: [], excess: 0, oversized: [], bytes: keepBytes ? bytes : null, ranges: [] };
        batch(e, out);
        pos = e;
      } else {
        if (f >= 1 && f <= 6) other = f;
        skip(wt, f, end);
      }
      if (out && other) fail(`a batch and field ${other} in one message`);
    }
  } catch (err) {
    if (err instanceof Malformed) throw new Error(`malformed ProbeMessage: ${err.message}`, { cause: err });
    throw err;
  } finally {
    buf = EMPTY;
    if (words.byteLength > KEEP_WORDS_BYTES) words = NO_WORDS;
  }
  // Not a batch (hello, loss, snapshot, ack, packets, or nothing): protobufjs, off the hot path.
  return out ? { msg: 'batch', batch: out } : (ProbeMessage.decode(bytes) as unknown as ProbeMessageIn);
}

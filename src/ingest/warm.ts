// The probe-message decoder, run once at start-up over made-up batches
// that hold every event kind with every field (and without them), so that
// V8 has seen each of its branches before it optimises it. Otherwise the
// first event of a kind or field not seen yet throws the decoder's
// optimised code away ("insufficient type feedback"), the decoder runs
// unoptimised until it is compiled again, and that compile of one large
// function costs tens of milliseconds of a helper thread each time: most
// of the engine's compiling during a build (bench/build-profile.ts with
// --trace-opt --trace-deopt). Nothing decoded here goes anywhere.
import type protobuf from 'protobufjs';
import { messageType } from '../rpc/proto.js';
import { decodeProbeMessage } from './probe-message.js';
import { stampEvents } from './stamp.js';
import { PATH_RAW_SAME, PATH_RESOLVED } from '../model/event.js';
import { encodeOpenNumbers, probeOpen } from '../probe/open-numbers.js';

/**
 * Enough decodes for V8 to give the decoder its feedback vector, then to
 * fill it; not so many that it optimises the decoder here (a compile of
 * made-up traffic that real traffic would throw away), and little garbage
 * (24 rounds left ~4 MB more heap, and the engine's first full collection
 * came during its second build instead of after it).
 */
const ROUNDS = 6;

const STRINGS = [
  '/usr/lib/x86_64-linux-gnu/libc.so.6',
  // Longer than the decoder interns, and not ASCII: its other two string paths.
  `/var/lib/app/${'d'.repeat(150)}/café.log`,
];
/**
 * Varints of one, three and five bytes (the decoder reads the low 28 bits
 * apart from the rest), every value a small integer to V8 (under 2^31).
 * Not larger: the first value other than a small integer stored in an
 * Event field turns that field's representation to a boxed double for
 * good, a fresh number allocated for it on every event after (u64() in
 * probe-message.ts says the same). Large values everywhere here did that to
 * every field at once (measured: 40 more numbers allocated an event, the
 * decoder's passes 65% slower).
 */
const U32 = [7, 40_000, 300_000_000];
/**
 * Except where every node's values are large: a root task's capabilities
 * (all 41 bits), the loginuid of every service nobody logged in to (unset,
 * 2^32-1). Those fields are boxed doubles on a node within its first
 * seconds; seen here, they are before the decoder is optimised, not by
 * throwing its code away later ("not a Smi").
 */
const NODE_TYPICAL: Readonly<Record<string, number>> = {
  'ExecEvent.capEffective': 2 ** 41 - 1,
  'ExecEvent.capPermitted': 2 ** 41 - 1,
  'ExecEvent.loginuid': 4294967295,
  'SetIdEvent.capEffective': 2 ** 41 - 1,
  'SetIdEvent.capPermitted': 2 ** 41 - 1,
};
const I64 = [-3, 300_000_000];
/** The one field whose values are never small integers: nanoseconds since boot. */
const KTIME_NS = 3.6e15;
/** A made-up boot time (2026), as a probe's hello gives it. */
const BOOT_TO_UNIX_NS = 1.79e18;

/** A SockAddr the decoder accepts, of each family. */
const ADDRESSES = [
  { family: 2, address: Buffer.from([10, 0, 0, 7]), port: 443 },
  { family: 10, address: Buffer.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]), port: 8443 },
  { family: 1, path: '/run/app/app.sock' },
];

/** A made-up value of a scalar field, `v` choosing among the variants. */
function scalar(f: protobuf.Field, v: number): unknown {
  if (f.resolvedType && 'values' in f.resolvedType) {
    const values = Object.values((f.resolvedType as protobuf.Enum).values).filter((n) => n !== 0);
    return values[v % values.length] ?? 0;
  }
  switch (f.type) {
    case 'string':
      return STRINGS[v % STRINGS.length];
    case 'bytes':
      return Buffer.from('vigil warm-up bytes');
    case 'bool':
      return true;
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return I64[v % I64.length];
    case 'int32':
    case 'sint32':
      return v % 2 ? -5 : 5;
    default:
      return U32[v % U32.length];
  }
}

/** Every field of `t` set (variant v of its values), nested messages too, down to `depth`. */
function fill(t: protobuf.Type, v: number, depth: number): Record<string, unknown> {
  if (t.name === 'SockAddr') return ADDRESSES[v % ADDRESSES.length]!;
  const out: Record<string, unknown> = {};
  for (const f of t.fieldsArray) {
    if (f.partOf) continue; // a oneof: the caller picks its member
    if (t.name === 'Event' && f.name === 'ktimeNs') {
      out[f.name] = KTIME_NS + v;
      continue;
    }
    if (t.name === 'OpenEvent' && f.name === 'numbers') {
      // A block of the layout (one not of it is malformed), its values this variant's.
      out[f.name] = encodeOpenNumbers({ result: I64[v % I64.length], ino: U32[v % U32.length], flags: v % 2 ? -5 : 5, mode: U32[(v + 1) % U32.length], pathFlags: PATH_RESOLVED, dev: 7, nlink: 1, fileMode: 0o100644 });
      continue;
    }
    const typical = NODE_TYPICAL[`${t.name}.${f.name}`];
    if (typical !== undefined && v === 0) {
      out[f.name] = typical;
      continue;
    }
    const one = (i: number): unknown =>
      f.resolvedType instanceof Object && 'fieldsArray' in f.resolvedType
        ? depth > 0 ? fill(f.resolvedType as protobuf.Type, v + i, depth - 1) : {}
        : scalar(f, v + i);
    out[f.name] = f.repeated ? [one(0), one(1)] : one(0);
  }
  return out;
}

/** Events of every kind: each with all its fields, in each variant of their values, and once with none. */
function events(): Record<string, unknown>[] {
  const Event = messageType('Event');
  const kinds = Event.oneofs['kind']!.fieldsArray;
  const out: Record<string, unknown>[] = [];
  for (const kind of kinds) {
    const t = kind.resolvedType as protobuf.Type;
    for (let v = 0; v < 3; v++) out.push({ ...fill(Event, v, 0), [kind.name]: fill(t, v, 3) });
    out.push({ pid: 7, cgroupId: 7, [kind.name]: {} });
  }
  // And an open as the probe writes most: its path as passed the same as the one resolved, so not sent
  // (PATH_RAW_SAME), and its numbers in their block.
  out.push({ ...fill(Event, 0, 0), open: probeOpen({ path: STRINGS[0]!, pathFlags: PATH_RESOLVED | PATH_RAW_SAME, result: 3, ino: 7, dev: 7, nlink: 1, fileMode: 0o100644 }) });
  return out;
}

let warmed = false;

/**
 * Decodes the made-up batches ROUNDS times (once per process; ~150 ms of
 * CPU on the 2-vCPU test VM, most of it making them): two sets, each three
 * times in a row, so that each header takes every path of the decoder's
 * header cache (probe-message.ts): a first sighting, a second one
 * (remembered), a hit. The first round's first sightings come before V8
 * gives the decoder its feedback vector, and are not seen by it. Returns
 * the events the decoder took (how many, of which types) and rejected in
 * the last round, for the test that keeps the batches real.
 */
export function warmDecoder(): { events: number; types: Set<string>; rejected: string[] } {
  const ProbeMessage = messageType('ProbeMessage');
  const base = events();
  // Two sets, the second's pids moved by one: its headers differ from the first's from their first word.
  const sets = [0, 1].map((salt) => {
    const batch = { seq: 1, events: base.map((e) => ({ ...e, pid: (e['pid'] as number) + salt })) };
    return Buffer.from(ProbeMessage.encode(ProbeMessage.fromObject({ batch })).finish());
  });
  let last = { events: 0, types: new Set<string>(), rejected: [] as string[] };
  for (let r = 0; r < ROUNDS; r++) {
    const { events, rejected } = decodeProbeMessage(sets[Math.floor(r / 3) % 2]!).batch!;
    // What the ingest server writes to each event it decodes (stampEvents, stamp.ts), written here too, from the first:
    // an Event's time is a float, its field a boxed double, not the small integer 0 the decoder gives it. The
    // first float written there moves every Event to a new shape, and a decoder optimised before that keeps
    // making Events of the old one, each moved again at its next write (measured: 230 ms of those writes per
    // 25,600 events instead of 2).
    stampEvents(events, BOOT_TO_UNIX_NS, 'warm-up');
    if (r === ROUNDS - 1) last = { events: events.length, types: new Set(events.map((e) => e.type)), rejected };
  }
  warmed = true;
  return last;
}

/** warmDecoder, the first time only. */
export function warmDecoderOnce(): void {
  if (!warmed) warmDecoder();
}

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

/** Enough decodes for V8 to give the decoder its feedback vector, then to fill it. */
const ROUNDS = 24;

const STRINGS = [
  '/usr/lib/x86_64-linux-gnu/libc.so.6',
  // Longer than the decoder interns, and not ASCII: its other two string paths.
  `/var/lib/app/${'d'.repeat(150)}/café.log`,
];
/** Varints of one, three and five-plus bytes (the decoder reads the low 28 bits apart from the rest). */
const U32 = [7, 40_000, 3_000_000_000];
const U64 = [7, 4_000_000_000, 2.1e13];
const I64 = [-3, 4_000_000_000];

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
    case 'uint64':
    case 'fixed64':
      return U64[v % U64.length];
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return I64[v % I64.length];
    case 'int32':
    case 'sint32':
      return v % 2 ? -5 : 5;
    case 'double':
    case 'float':
      return 1.5;
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
  return out;
}

let warmed = false;

/**
 * Decodes the made-up batches ROUNDS times (a few milliseconds, once per
 * process). Returns the events the decoder took (how many, of which types)
 * and rejected in the last round, for the test that keeps the batches real.
 */
export function warmDecoder(): { events: number; types: Set<string>; rejected: string[] } {
  const ProbeMessage = messageType('ProbeMessage');
  const bytes = Buffer.from(ProbeMessage.encode(ProbeMessage.fromObject({ batch: { seq: 1, events: events() } })).finish());
  let last = { events: 0, types: new Set<string>(), rejected: [] as string[] };
  for (let r = 0; r < ROUNDS; r++) {
    const { events, rejected } = decodeProbeMessage(bytes).batch!;
    if (r === ROUNDS - 1) last = { events: events.length, types: new Set(events.map((e) => e.type)), rejected };
  }
  warmed = true;
  return last;
}

/** warmDecoder, the first time only. */
export function warmDecoderOnce(): void {
  if (!warmed) warmDecoder();
}

// The engine's own ProbeMessage decoder (src/ingest/probe-message.ts),
// held against the generic path it replaces: protobufjs decode +
// decodeEvent, over random events of every kind; plus what only it does:
// fields of a newer probe skipped, a malformed event rejected with its
// reason while the rest of its batch is kept, broken framing refused,
// invalid UTF-8 kept visible.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { dnsAnswer as answerOf, emptyEvent, execMore, PATH_RAW_SAME, PATH_RAW_UNREADABLE, PATH_RESOLVED, type Event } from '../../../src/model/event.js';
import { boundEvent } from '../../../src/ingest/bounds.js';
import { decodeProbeMessage, KNOWN_FIELDS, MalformedEvent, MAX_BATCH_EVENTS } from '../../../src/ingest/probe-message.js';
import { decodeEvent } from '../../support/reference-decoder.js';
import { messageType, protoDir } from '../../../src/rpc/proto.js';
import type { WireProbeMessage } from '../../../src/probe/wire.js';
import { rng } from '../../support/rng.js';
import { encodeOpenNumbers } from '../../../src/probe/open-numbers.js';

const ProbeMessage = messageType('ProbeMessage');
const BOOT = 1_700_000_000_000_000_000;
const NODE = 'node-1';

const encode = (m: object): Buffer => Buffer.from(ProbeMessage.encode(ProbeMessage.fromObject(m)).finish());

/** What the ingest server makes of a batch on the generic path: events (bounded) and rejection reasons, in order. */
function generic(bytes: Buffer): { events: Event[]; rejected: string[] } {
  const m = ProbeMessage.decode(bytes) as unknown as WireProbeMessage;
  const events: Event[] = [];
  const rejected: string[] = [];
  for (const w of m.batch!.events) {
    try {
      const e = decodeEvent(w, BOOT, NODE);
      boundEvent(e);
      events.push(e);
    } catch (err) {
      if (!(err instanceof MalformedEvent)) throw err;
      rejected.push(err.message);
    }
  }
  return { events, rejected };
}

/** The same through the engine's decoder, with the session's time and node filled in as the server does. */
function fast(bytes: Buffer): { events: Event[]; rejected: string[]; seq: number } {
  const b = decodeProbeMessage(bytes).batch!;
  for (const e of b.events) {
    e.time = (e.ktimeNs + BOOT) / 1e6;
    e.nodeName = NODE;
    // The intern slots are the engine decoder's own hints (the generic path has none): only an interned string has one.
    if ((e.pathKey >= 0 && !e.path) || (e.commKey >= 0 && !e.comm)) throw new Error(`a key hint without its string: ${e.pathKey} ${e.commKey}`);
    e.pathKey = -1;
    e.commKey = -1;
  }
  return { events: b.events, rejected: b.rejected, seq: b.seq };
}

/** Random events of every kind, with edge values: 0, 2^32-1, negative results, 64-bit ids, non-ASCII and long strings, bad addresses. */
function randomEvents(rand: () => number, n: number): Record<string, unknown>[] {
  const int = (max: number): number => Math.floor(rand() * max);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
  const u32 = (): number => pick([0, 1, 7, 1000, 65535, 2 ** 31, 2 ** 32 - 1, int(2 ** 32)]);
  const u64 = (): number => pick([0, 1, 2 ** 32, 2 ** 53 - 1, int(2 ** 52), 2 ** 60, int(2 ** 32) * 4096]);
  const i64 = (): number => pick([0, -1, -2, -115, 5, 2 ** 31, -(2 ** 40), 2 ** 53 - 1, -(2 ** 53 - 1)]);
  const i32 = (): number => pick([0, -1, 1, 0o1101, -(2 ** 31), 2 ** 31 - 1]);
  const text = (): string => {
    const r = rand();
    if (r < 0.1) return '';
    if (r < 0.5) return pick(['/etc/hosts', '/usr/bin/curl', 'sh', '/lib/x86_64-linux-gnu/libc.so.6', '/tmp/x']);
    if (r < 0.7) return `/srv/${Array.from({ length: 1 + int(40) }, () => String.fromCharCode(32 + int(95))).join('')}`;
    if (r < 0.8) return pick(['/home/zoë/café', '/tmp/日本語', 'naïve', '/tmp/😀/x', '\u0000nul']);
    if (r < 0.9) return `/long/${'a'.repeat(100 + int(300))}`;
    if (r < 0.95) return `/huge/${'b'.repeat(4090 + int(20))}`;
    return `/über/${'é'.repeat(2040 + int(20))}`;
  };
  const addr = (): Record<string, unknown> => {
    const family = pick([2, 2, 10, 1, 0, 99]);
    const r = rand();
    const len = r < 0.85 ? (family === 10 ? 16 : 4) : pick([0, 3, 5, 15]);
    return {
      family,
      address: Buffer.from(Array.from({ length: family === 1 ? 0 : len }, () => int(256))),
      port: pick([0, 80, 443, 65535, int(65536)]),
      path: family === 1 ? text() : '',
    };
  };
  const kinds: (() => Record<string, unknown>)[] = [
    () => ({
      exec: {
        filename: text(), exe: rand() < 0.2 ? '' : text(), argv: Array.from({ length: int(6) }, text), argvTruncated: rand() < 0.2, cwd: text(), tty: u32(),
        env: Array.from({ length: int(4) }, () => pick(['LD_PRELOAD=/tmp/x.so', `SECRET=${text()}`, 'HTTPS_PROXY=http://u:p@h:1/', text()])), envTruncated: rand() < 0.2,
        capEffective: pick([0, 0x1fffeffffff, 0xa80425fb, int(2 ** 41)]), capPermitted: pick([0, 0x1ffffffffff, int(2 ** 41)]),
        loginuid: pick([0, 1000, 4294967295]), vpid: pick([0, 1, u32()]), exeOnOverlay: rand() < 0.5, exeUpperLayer: rand() < 0.3,
      },
    }),
    () => ({ fork: { childPid: u32(), childVpid: pick([0, 7, u32()]) } }),
    () => ({ exit: { exitCode: i32(), signal: i32() } }),
    () => ({ open: { path: text(), flags: i32(), mode: u32(), result: i64() } }),
    // As the probe sends it: the numbers in their block (now and then too short, or after fields it stands for).
    () => {
      const numbers = encodeOpenNumbers({ result: i64(), ino: u64(), flags: i32(), mode: u32(), pathFlags: pick([1, 257, 256, 129, u32()]), dev: u32(), nlink: u32(), fileMode: u32() });
      const r = rand();
      return {
        open: {
          path: text(), ...(rand() < 0.5 ? { pathRaw: text() } : {}),
          ...(r < 0.1 ? { flags: i32(), result: i64(), ino: u64() } : {}),
          numbers: r > 0.95 ? numbers.subarray(0, int(40)) : r > 0.9 ? Buffer.concat([numbers, Buffer.from([1, 2, 3])]) : numbers,
        },
      };
    },
    () => ({ unlink: { path: text(), dir: rand() < 0.5, result: i64() } }),
    () => ({ rename: { oldPath: text(), newPath: text(), flags: u32(), result: i64() } }),
    () => ({ chmod: { path: text(), mode: u32(), result: i64() } }),
    () => ({ connect: { ...(rand() < 0.9 ? { remote: addr() } : {}), protocol: pick([0, 6, 17, 255]), result: i64() } }),
    () => ({ accept: { ...(rand() < 0.9 ? { remote: addr() } : {}), ...(rand() < 0.9 ? { local: addr() } : {}), result: i64() } }),
    () => ({ bind: { local: addr(), protocol: pick([0, 6, 17]), result: i64() } }),
    () => ({ listen: { local: addr(), backlog: i32(), result: i64() } }),
    () => ({ setId: { call: pick(['setuid', 'setresgid', '']), id: i64(), result: i64(), capEffective: pick([0, 0xa80425fb, 0x1fffeffffff]), capPermitted: pick([0, 0x1ffffffffff]), euid: u32(), suid: u32(), egid: u32(), sgid: u32(), fsuid: u32(), fsgid: u32(), ...(rand() < 0.8 ? { after: { uid: u32(), euid: u32(), suid: u32(), fsuid: u32(), gid: u32(), egid: u32(), sgid: u32(), fsgid: u32() } } : {}) } }),
    () => ({ ptrace: { request: i64(), targetPid: u32(), result: i64() } }),
    () => ({ moduleLoad: { call: pick(['init_module', 'finit_module']), path: text(), result: i64() } }),
    () => ({ mount: { source: text(), target: text(), fstype: pick(['ext4', 'overlay', '']), flags: u64(), result: i64() } }),
    () => ({ namespace: { call: pick(['setns', 'unshare']), flags: u64(), result: i64() } }),
    () => ({ dup: { oldFd: u32(), newFd: pick([0, 1, 2, 7]), ...(rand() < 0.8 ? { remote: addr() } : {}), ...(rand() < 0.8 ? { local: addr() } : {}), protocol: pick([0, 6, 17]), result: i64() } }),
  ];
  return Array.from({ length: n }, (_, i) => ({
    ktimeNs: u64(),
    pid: rand() < 0.05 ? 0 : u32() || 1,
    tid: u32(),
    ppid: u32(),
    uid: u32(),
    gid: u32(),
    comm: rand() < 0.02 ? 'c'.repeat(70) : pick(['nginx', 'sh', 'java', '', 'kworker/0:1', 'zoë']),
    cgroupId: u64(),
    blocked: rand() < 0.1,
    ...(rand() < 0.03 ? {} : kinds[i % kinds.length]!()),
  }));
}

/** Protobuf varint bytes. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** A length-delimited field. */
function field(num: number, body: Buffer | number[]): Buffer {
  const b = Buffer.from(body);
  return Buffer.concat([Buffer.from([...varint((num << 3) | 2), ...varint(b.length)]), b]);
}

const openBytes = (o: object): Buffer => Buffer.from(messageType('OpenEvent').encode(messageType('OpenEvent').fromObject(o)).finish());
const eventBytes = (e: object): Buffer => Buffer.from(messageType('Event').encode(messageType('Event').fromObject(e)).finish());
/** A ProbeMessage holding a batch of these raw Event encodings. */
const batchOf = (seq: number, events: Buffer[]): Buffer => field(2, Buffer.concat([Buffer.from([0x08, ...varint(seq)]), ...events.map((e) => field(2, e))]));

describe('intern hints', () => {
  it('gives a repeated path or process name the same slot; a string too long to intern none', () => {
    const open = (path: string, comm: string) => eventBytes({ pid: 1, comm, open: { path, flags: 0, mode: 0, result: 3 } });
    const [a, b] = decodeProbeMessage(batchOf(1, [open('/etc/hosts', 'nginx'), open('/etc/hosts', 'nginx')])).batch!.events;
    expect(a!.pathKey).toBeGreaterThanOrEqual(0);
    expect(b!.pathKey).toBe(a!.pathKey);
    expect(b!.path).toBe(a!.path);
    expect(b!.commKey).toBe(a!.commKey);
    // Too long to intern: no hint.
    const [long] = decodeProbeMessage(batchOf(2, [open(`/srv/${'x'.repeat(300)}`, 'nginx')])).batch!.events;
    expect(long!.pathKey).toBe(-1);
  });
});

describe('the engine decoder against protobufjs + decodeEvent', () => {
  it('decodes random events of every kind exactly as the generic path does', () => {
    const rand = rng(7);
    let events = 0;
    let rejected = 0;
    for (let round = 0; round < 60; round++) {
      const bytes = encode({ batch: { seq: round + 1, events: randomEvents(rand, 1 + Math.floor(rand() * 80)) } });
      const want = generic(bytes);
      const got = fast(bytes);
      expect(got.seq).toBe(round + 1);
      expect(got.rejected).toEqual(want.rejected);
      expect(got.events).toEqual(want.events);
      events += got.events.length;
      rejected += got.rejected.length;
    }
    // The draw covered both outcomes.
    expect(events).toBeGreaterThan(1000);
    expect(rejected).toBeGreaterThan(50);
  });

  it('decodes every kind, each field it reads given, in any order or twice, as the generic path does', () => {
    // Each kind is read by its own function: every field of every kind's message (from probe.proto, so a kind or
    // field added there is covered), its fields written in a random order, some twice (the last counts), and the
    // event's header before or after it.
    // An address field is given once, and at most one address an event has a wrong length: the engine's decoder
    // rejects the event at the first wrong one it reads, the reference at the one its fields name first.
    const rand = rng(21);
    // example.com. A 192.0.2.7, TTL 60
    const dnsAnswer = Buffer.from([0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 7, ...Buffer.from('example'), 3, ...Buffer.from('com'), 0, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
    const int = (max: number): number => Math.floor(rand() * max);
    const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
    const text = (): string => pick(['', '/etc/hosts', 'sh', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/tmp/日本語', `/srv/${'a'.repeat(int(300))}`]);
    let wrongAddress = false;
    const sockAddr = (): Record<string, unknown> => {
      const family = pick([2, 10, 1, 0]);
      const wrong = !wrongAddress && rand() < 0.05;
      wrongAddress ||= wrong;
      const len = wrong ? 3 : family === 10 ? 16 : 4;
      return { family, address: Buffer.from(Array.from({ length: family === 1 ? 0 : len }, () => int(256))), port: pick([0, 53, 443, 65535]), path: family === 1 ? text() : '' };
    };
    const value = (f: protobuf.Field): unknown => {
      if (f.repeated) return Array.from({ length: int(4) }, () => value(new protobuf.Field(f.name, f.id, f.type)));
      if (f.resolvedType instanceof protobuf.Enum) return pick([0, 6, 17, 255]);
      if (f.type === 'SockAddr') return sockAddr();
      if (f.type === 'TaskIds') return { uid: int(2 ** 32), euid: 0, suid: int(70000), fsuid: 1000, gid: int(2 ** 32), egid: 5, sgid: 0, fsgid: int(9) };
      switch (f.type) {
        case 'string': return text();
        case 'bool': return rand() < 0.5;
        // A DNS answer (its own tests cover the parsing), or a message too short for its header.
        case 'bytes': return rand() < 0.5 ? dnsAnswer : Buffer.from([int(256)]);
        case 'uint32': return pick([0, 1, 255, 65535, 2000, 2 ** 31, 2 ** 32 - 1]);
        case 'int32': return pick([0, 1, -1, -13, 2 ** 31 - 1, -(2 ** 31)]);
        case 'uint64': return pick([0, 7, 2 ** 32, 2 ** 53 - 1, 0x1ffffffffff]);
        case 'int64': return pick([0, 3, -1, -115, 2 ** 40, -(2 ** 40)]);
        default: throw new Error(`no value for ${f.name} (${f.type})`);
      }
    };
    const Event = messageType('Event');
    const kinds = Event.oneofs.kind!.fieldsArray;
    expect(kinds.length).toBeGreaterThan(20);
    let events = 0;
    let answers = 0;
    for (let round = 0; round < 20; round++) {
      const batch: Buffer[] = [];
      for (const k of kinds) {
        const T = k.resolvedType as protobuf.Type;
        wrongAddress = false;
        const parts = T.fieldsArray.flatMap((f) => Array.from({ length: !(f.resolvedType instanceof protobuf.Type) && rand() < 0.2 ? 2 : 1 }, () => Buffer.from(T.encode(T.fromObject({ [f.name]: value(f) })).finish())));
        for (let i = parts.length - 1; i > 0; i--) {
          const j = int(i + 1);
          [parts[i], parts[j]] = [parts[j]!, parts[i]!];
        }
        const header = eventBytes({ ktimeNs: int(2 ** 50), pid: 1 + int(2 ** 22), tid: int(2 ** 22), ppid: int(2 ** 22), uid: int(2 ** 32), gid: 0, comm: pick(['sh', 'nginx', '']), cgroupId: int(2 ** 40), blocked: rand() < 0.2, blockedBy: int(5), ioUring: rand() < 0.2 });
        const kind = field(k.id, Buffer.concat(parts));
        batch.push(rand() < 0.8 ? Buffer.concat([header, kind]) : Buffer.concat([kind, header]));
      }
      const bytes = batchOf(round + 1, batch);
      const want = generic(bytes);
      const got = fast(bytes);
      expect(got.rejected).toEqual(want.rejected);
      expect(got.events).toEqual(want.events);
      events += got.events.length;
      answers += got.events.filter((e) => answerOf(e)?.addresses.length).length;
    }
    expect(events).toBeGreaterThan(20 * kinds.length * 0.8);
    expect(answers).toBeGreaterThan(3);
  });

  it('reads an open whose path_raw the probe left out as the same as its path (PATH_RAW_SAME), the bit cleared', () => {
    const head = { ktimeNs: 5, pid: 7, tid: 7, ppid: 1, comm: 'cat', cgroupId: 9 };
    const bytes = encode({
      batch: {
        seq: 1,
        events: [
          { ...head, open: { path: '/etc/shadow', pathFlags: PATH_RESOLVED | PATH_RAW_SAME, result: 3 } },
          // Given all the same (a probe writing both): path_raw as written.
          { ...head, open: { path: '/etc/shadow', pathRaw: '/etc/../etc/shadow', pathFlags: PATH_RESOLVED | PATH_RAW_SAME, result: 3 } },
          { ...head, open: { path: '/etc/shadow', pathFlags: PATH_RESOLVED | PATH_RAW_UNREADABLE, result: 3 } },
        ],
      },
    });
    const got = fast(bytes);
    expect(got.events.map((e) => [e.pathRaw, e.pathFlags])).toEqual([
      ['/etc/shadow', PATH_RESOLVED],
      ['/etc/../etc/shadow', PATH_RESOLVED],
      ['', PATH_RESOLVED | PATH_RAW_UNREADABLE],
    ]);
    expect(got.events).toEqual(generic(bytes).events);
  });

  it("reads an open's numbers from their block as probe.proto lays them out, over the fields; a short block rejected", () => {
    const head = { ktimeNs: 5, pid: 7, tid: 7, ppid: 1, comm: 'cat', cgroupId: 9 };
    const n = { result: -13, ino: 2 ** 40 + 5, flags: 0o2000101, mode: 0o640, pathFlags: PATH_RESOLVED | PATH_RAW_SAME, dev: (8 << 20) | 1, nlink: 3, fileMode: 0o100600 };
    const block = encodeOpenNumbers(n);
    const bytes = batchOf(1, [
      eventBytes({ ...head, open: { path: '/etc/shadow', numbers: block } }),
      // Fields sent too, before or after the block: the block's numbers stand.
      eventBytes({ ...head, open: { path: '/etc/shadow', result: 3, ino: 9, nlink: 1, numbers: block } }),
      Buffer.concat([eventBytes(head), field(messageType('Event').fields['open']!.id, Buffer.concat([openBytes({ path: '/etc/shadow', numbers: block }), openBytes({ flags: 1, fileMode: 0o40755 })]))]),
      // Longer (numbers added later): the bytes past the layout skipped.
      eventBytes({ ...head, open: { path: '/etc/shadow', numbers: Buffer.concat([block, Buffer.alloc(8, 0xff)]) } }),
      eventBytes({ ...head, open: { path: '/etc/shadow', numbers: block.subarray(0, 39) } }),
    ]);
    const got = fast(bytes);
    // The link count and mode in the block are read past, not kept (nothing reads them).
    const want = { path: '/etc/shadow', pathRaw: '/etc/shadow', result: -13, ino: 2 ** 40 + 5, flags: 0o2000101, mode: 0o640, pathFlags: PATH_RESOLVED, dev: (8 << 20) | 1 };
    expect(got.events).toHaveLength(4);
    for (const e of got.events) expect(e).toMatchObject(want);
    for (const e of got.events) expect(Object.keys(e)).not.toContain('nlink');
    expect(got.rejected).toEqual(['open numbers: 39 bytes, want 40']);
    expect(got).toMatchObject(generic(bytes));
  });

  it("reads an IPv4 end in the probe's field order at known places, and any other shape as protobuf does", () => {
    const head = eventBytes({ ktimeNs: 5, pid: 7, tid: 7, ppid: 1, comm: 'curl', cgroupId: 9 });
    const connectId = messageType('Event').fields['connect']!.id;
    const connect = (sockAddr: number[]): Buffer => Buffer.concat([head, field(connectId, Buffer.concat([field(1, sockAddr), Buffer.from([0x10, 6, 0x18, 0x73])]))]);
    const v4 = [0x08, 2, 0x12, 4, 10, 0, 3, 200];
    const ports = [1, 127, 128, 16383, 16384, 65535];
    const good = [
      // The probe's shape, ports of one, two and three bytes.
      ...ports.map((p) => connect([...v4, 0x18, ...varint(p)])),
      // Port 0 (left out), a port in a wider varint than it needs, a field after the port, the fields in another order.
      connect(v4),
      connect([...v4, 0x18, 0xd0, 0x80, 0x80, 0x00]),
      connect([...v4, 0x18, 80, 0x48, 1]),
      connect([0x18, 80, ...v4]),
    ];
    // A port's varint cut by the end of its SockAddr: rejected, as by the field loop (protobufjs refuses the whole message).
    const got = fast(batchOf(1, [...good, connect([...v4, 0x18, 0x80])]));
    expect(got.events.map((e) => [e.addr, e.port, e.protocol])).toEqual([
      ...ports.map((p) => ['10.0.3.200', p, 'tcp']),
      ['10.0.3.200', 0, 'tcp'], ['10.0.3.200', 80, 'tcp'], ['10.0.3.200', 80, 'tcp'], ['10.0.3.200', 80, 'tcp'],
    ]);
    expect(got.rejected).toEqual(['malformed event bytes: varint past the end']);
    expect(got.events).toEqual(generic(batchOf(1, good)).events);
  });

  it('builds every event with the field order of emptyEvent (one hidden class on the hot path)', () => {
    const bytes = encode({ batch: { seq: 1, events: randomEvents(rng(8), 200) } });
    const keys = Object.keys(emptyEvent('open'));
    const withMore = new Set<string>();
    for (const e of fast(bytes).events) {
      expect(Object.keys(e)).toEqual(keys);
      // The decoder builds a kind's `more` as its own literal (a call would cost the hot path);
      // it must keep the order of newExecMore() and its siblings, or that kind gets a second map.
      const more = emptyEvent(e.type).more;
      if (more === null) continue;
      withMore.add(e.type);
      expect(Object.keys(e.more ?? {}), e.type).toEqual(Object.keys(more));
    }
    expect([...withMore].sort()).toEqual(['exec', 'exit', 'fork', 'setid']);
  });

  it('decodes every other message as protobufjs does', () => {
    const messages = [
      { hello: { nodeName: 'n', probeVersion: '1', probePid: 42, bootToUnixNs: BOOT, sessionId: 's', hooks: ['a', 'b'], capabilities: ['kill'] } },
      { loss: { ringbufFull: 3, eventsTotal: 2 ** 40 } },
      { snapshot: { processes: [{ pid: 1, ppid: 0, comm: 'init', exe: '/sbin/init', argv: ['init'], cgroupId: 2 ** 40 }], last: true } },
      { ack: { id: 9, ok: false, error: 'no' } },
      { packets: { packets: [{ captureId: 1, ktimeNs: 5, len: 3, data: Buffer.from([1, 2, 3]) }] } },
      {},
    ];
    for (const m of messages) {
      const bytes = encode(m);
      expect(decodeProbeMessage(bytes)).toEqual(ProbeMessage.decode(bytes));
    }
  });

  it('knows every field of Event, its kinds and SockAddr that probe.proto declares', () => {
    const wireType = (f: protobuf.Field): number => (f.repeated || f.resolvedType instanceof protobuf.Type || f.type === 'string' || f.type === 'bytes' ? 2 : 0);
    for (const [name, known] of Object.entries(KNOWN_FIELDS)) {
      const t = messageType(name);
      const declared = Object.fromEntries(t.fieldsArray.map((f) => [f.id, wireType(f)]));
      expect(known, name).toEqual(declared);
    }
  });
});

/** A varint of `n` (up to 2^64-1) in exactly `len` bytes (padded with continuation bytes, as protobuf readers accept), or its shortest form. */
function varintOf(n: bigint, len = 0): number[] {
  const out: number[] = [];
  do {
    out.push(Number(n & 127n));
    n >>= 7n;
  } while (n > 0n);
  while (out.length < len) out.push(0);
  return out.map((b, i) => (i < out.length - 1 ? b | 128 : b));
}

describe('fields read in line', () => {
  // What the probe writes is the header's fields in number order, each as
  // short as it goes (bpf/probe: protobuf's own serializer); the decoder
  // reads that in line and leaves anything else to its general loop.
  const HEADER: [field: number, max: bigint][] = [[1, 2n ** 64n - 1n], [2, 2n ** 32n - 1n], [3, 2n ** 32n - 1n], [4, 2n ** 32n - 1n], [5, 2n ** 32n - 1n], [6, 2n ** 32n - 1n], [8, 2n ** 64n - 1n], [9, 1n], [10, 4n], [11, 1n]];

  /** An event of random header fields: any order, some missing or given twice, varints of 1 to 10 bytes, and its kind anywhere among them. */
  function scrambled(rand: () => number): Buffer {
    const int = (max: number): number => Math.floor(rand() * max);
    const value = (max: bigint): bigint => {
      const r = rand();
      if (r < 0.3) return BigInt(int(128));
      if (r < 0.5) return BigInt(int(2 ** 14));
      if (r < 0.7) return max;
      // Past the field's range too (a uint32 sent as 64 bits keeps its low 32).
      return BigInt(int(2 ** 32)) * BigInt(int(2 ** 32)) + BigInt(int(2 ** 32));
    };
    const fields: Buffer[] = [];
    for (const [f, max] of HEADER) {
      for (let n = rand() < 0.15 ? 0 : rand() < 0.15 ? 2 : 1; n > 0; n--) {
        const v = value(max);
        // The shortest form mostly, else padded to any length up to 10 bytes.
        fields.push(Buffer.from([f << 3, ...varintOf(v, rand() < 0.5 ? 0 : 1 + int(10))]));
      }
    }
    if (rand() < 0.9) fields.push(field(7, Buffer.from(['nginx', 'sh', '', 'zoë'][int(4)]!)));
    for (let i = fields.length - 1; i > 0; i--) {
      const j = int(i + 1);
      if (rand() < 0.5) [fields[i], fields[j]] = [fields[j]!, fields[i]!];
    }
    const kind = rand() < 0.5 ? field(19, field(1, Buffer.from('/etc/hosts'))) : field(17, [0x08, ...varintOf(BigInt(int(2 ** 32)))]);
    fields.splice(int(fields.length + 1), 0, kind);
    return Buffer.concat(fields);
  }

  it('decodes a header in any order, with fields missing, given twice, or padded to any length, as the generic path does', () => {
    const rand = rng(12);
    let events = 0;
    let rejected = 0;
    for (let round = 0; round < 40; round++) {
      const bytes = batchOf(round + 1, Array.from({ length: 50 }, () => scrambled(rand)));
      const want = generic(bytes);
      const got = fast(bytes);
      expect(got.rejected).toEqual(want.rejected);
      expect(got.events).toEqual(want.events);
      events += got.events.length;
      rejected += got.rejected.length;
    }
    expect(events).toBeGreaterThan(1000);
    // Without a pid (missing or 0 in its low 32 bits).
    expect(rejected).toBeGreaterThan(50);
  });

  it('reads a header cut anywhere, or with a wrong wire type, as its general loop does', () => {
    // An unknown field first sends the whole event through the general loop: the same bytes must come out the same.
    const viaLoop = (e: Buffer): Buffer => Buffer.concat([Buffer.from([(15 << 3) | 0, 0]), e]);
    const rand = rng(13);
    const cases: Buffer[] = [];
    for (let i = 0; i < 30; i++) {
      const e = scrambled(rand);
      for (let cut = 1; cut < e.length; cut++) cases.push(e.subarray(0, cut));
    }
    // Header fields of the wrong wire type: comm as a varint, pid as a string, ktime_ns as fixed64.
    const open = field(19, field(1, Buffer.from('/etc/hosts')));
    cases.push(Buffer.concat([Buffer.from([0x10, 5, 0x38, 1]), open]), Buffer.concat([Buffer.from([0x10, 5]), field(2, [1]), open]));
    cases.push(Buffer.concat([Buffer.from([0x09, 1, 2, 3, 4, 5, 6, 7, 8, 0x10, 5]), open]));
    // A varint past the event's end, and one of 11 bytes.
    cases.push(Buffer.from([0x10, 0x85]), Buffer.concat([Buffer.from([0x10, ...new Array<number>(10).fill(0x80), 0x01]), open]));
    const got = fast(batchOf(1, cases));
    const want = fast(batchOf(1, cases.map(viaLoop)));
    expect(got.rejected).toEqual(want.rejected);
    expect(got.events).toEqual(want.events);
    expect(got.rejected).toContain('malformed event bytes: Event field 7 has wire type 0, expected 2');
    expect(got.rejected).toContain('malformed event bytes: Event field 2 has wire type 2, expected 0');
    expect(got.rejected).toContain('malformed event bytes: Event field 1 has wire type 1, expected 0');
    expect(got.rejected).toContain('malformed event bytes: varint past the end');
    expect(got.rejected).toContain('malformed event bytes: varint longer than 10 bytes');
  });

  it('reads a kind cut anywhere as protobufjs does, though the event goes on past it', () => {
    const Open = messageType('OpenEvent');
    const body = Buffer.from(Open.encode(Open.fromObject({ path: '/etc/hosts', flags: 0o2101, mode: 7, result: -115, ino: 2 ** 40 })).finish());
    for (let cut = 0; cut <= body.length; cut++) {
      const kind = body.subarray(0, cut);
      // cgroup_id after the kind: its bytes must not be taken for the end of a varint cut short.
      const got = fast(batchOf(1, [Buffer.concat([Buffer.from([0x10, 5]), field(19, kind), Buffer.from([0x40, 9])])]));
      let want: Record<string, unknown>;
      try {
        want = Open.toObject(Open.decode(kind), { defaults: true, longs: Number });
      } catch {
        expect(got.events, `cut at ${cut}`).toEqual([]);
        expect(got.rejected[0], `cut at ${cut}`).toMatch(/past the end/);
        continue;
      }
      expect(got.rejected, `cut at ${cut}`).toEqual([]);
      expect(got.events[0], `cut at ${cut}`).toMatchObject({ pid: 5, cgroupId: 9, path: want.path, flags: want.flags, mode: want.mode, result: want.result, ino: want.ino });
    }
  });
});

describe('remembered headers', () => {
  // A process's events in a row repeat every header field after ktime_ns;
  // the decoder remembers a header's bytes and the values read from them,
  // and takes those values when the same bytes come again.

  /** Header fields (no ktime_ns: proto3 leaves a zero out) as the probe writes them, in number order. */
  const HEADERS: Record<string, unknown>[] = [
    { pid: 1000, tid: 1000, ppid: 1, uid: 0, gid: 0, comm: 'nginx', cgroupId: 4242 },
    // The same first word as the one above, then a different byte at the end of the comm, in the middle, at the end.
    { pid: 1000, tid: 1000, ppid: 1, uid: 0, gid: 0, comm: 'nginy', cgroupId: 4242 },
    { pid: 1000, tid: 1000, ppid: 1, uid: 33, gid: 0, comm: 'nginx', cgroupId: 4242 },
    { pid: 1000, tid: 1000, ppid: 1, uid: 34, gid: 0, comm: 'nginx', cgroupId: 4242 },
    { pid: 1000, tid: 1000, ppid: 1, uid: 0, gid: 0, comm: 'nginx', cgroupId: 4243 },
    { pid: 1000, tid: 1000, ppid: 1, uid: 0, gid: 0, comm: 'nginx' },
    // A comm that is not interned, enforcement's fields, a 64-bit cgroup id, ids past 2^31.
    { pid: 2000, tid: 2001, ppid: 1000, uid: 2 ** 32 - 1, gid: 2 ** 31, comm: 'zoë', cgroupId: 2 ** 40 + 5, blocked: true, blockedBy: 2 },
    { pid: 2000, tid: 2001, ppid: 1000, uid: 2 ** 32 - 1, gid: 2 ** 31, comm: 'zoë', cgroupId: 2 ** 40 + 5, ioUring: true },
    // A comm past its bound (cut, and the event counted oversized): longer than a header remembered.
    { pid: 3000, tid: 3000, ppid: 1, comm: 'c'.repeat(70), cgroupId: 1 },
    { pid: 3000, tid: 3000, ppid: 1, comm: 'c'.repeat(40), cgroupId: 1 },
    // Headers of a few bytes.
    { pid: 4000, comm: 'sh' },
    { pid: 4000 },
    { pid: 5, tid: 5 },
  ];

  it('decodes events whose headers repeat, differ by a byte, or hold ktime_ns again, as the generic path does', () => {
    const rand = rng(33);
    const int = (max: number): number => Math.floor(rand() * max);
    const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
    const ktime = (): Buffer => Buffer.from([0x08, ...varint(pick([1e12 + int(1e9), 2 ** 28 + int(1000), 2 ** 35 + int(1e6), 5, 127, 2 ** 52 + int(2 ** 30), 2 ** 56 + 2 ** 40]))]);
    const kinds = [
      () => eventBytes({ open: { path: pick(['/etc/hosts', '/lib/x86_64-linux-gnu/libc.so.6', '/tmp/x']), flags: 0, mode: 0, result: 3 } }),
      () => eventBytes({ fork: { childPid: 1 + int(1e6) } }),
      () => eventBytes({ exit: { exitCode: 0, signal: 0 } }),
    ];
    let events = 0;
    for (let round = 0; round < 40; round++) {
      const batch: Buffer[] = [];
      while (batch.length < 200) {
        // Or one of many processes of one image: headers that differ in their pid alone, many sharing a slot.
        const pid = 10_000 + int(2048);
        const h = round % 2 ? pick(HEADERS) : { pid, tid: 10_000, ppid: 1, uid: 1000, gid: 1000, comm: 'worker', cgroupId: 7 };
        const header = eventBytes(h);
        // A burst of one process's events, most as the probe writes them.
        for (let n = 1 + int(6); n > 0; n--) {
          const kind = pick(kinds)();
          const r = rand();
          if (r < 0.8) batch.push(Buffer.concat([ktime(), header, kind]));
          // ktime_ns again, after the pid: the second counts.
          else if (r < 0.85) batch.push(Buffer.concat([ktime(), eventBytes({ pid: h.pid }), ktime(), header.subarray(eventBytes({ pid: h.pid }).length), kind]));
          // A header field after the kind: it counts over the one before.
          else if (r < 0.9) batch.push(Buffer.concat([ktime(), header, kind, eventBytes({ uid: 77, comm: 'late' })]));
          // ktime_ns last, or not at all.
          else if (r < 0.95) batch.push(Buffer.concat([header, ktime(), kind]));
          else batch.push(Buffer.concat([header, kind]));
        }
      }
      const bytes = batchOf(round + 1, batch);
      const want = generic(bytes);
      const got = fast(bytes);
      expect(got.rejected).toEqual(want.rejected);
      expect(got.events).toEqual(want.events);
      events += got.events.length;
    }
    expect(events).toBeGreaterThan(7000);
  });

  it('gives a remembered comm the intern slot it had read afresh', () => {
    const open = (h: Record<string, unknown>, ktimeNs: number) => eventBytes({ ktimeNs, ...h, open: { path: '/etc/hosts', flags: 0, mode: 0, result: 3 } });
    const h = { pid: 7000, tid: 7000, ppid: 1, comm: 'postgres', cgroupId: 9 };
    const got = decodeProbeMessage(batchOf(1, [1, 2, 3, 4].map((t) => open(h, 1e12 + t)))).batch!.events;
    // Read without ktime_ns first: the general path, as str() gives it.
    const [alone] = decodeProbeMessage(batchOf(2, [open(h, 0)])).batch!.events;
    expect(alone!.commKey).toBeGreaterThanOrEqual(0);
    expect(got.map((e) => [e.comm, e.commKey])).toEqual([1, 2, 3, 4].map(() => ['postgres', alone!.commKey]));
  });
});

describe('what only the engine decoder does', () => {
  it('skips fields a newer probe sends at every level (proto3 forward compatibility)', () => {
    // A probe built from a later schema: the same messages with fields this engine does not know.
    const future = (msg: string): string =>
      `message ${msg} {\n  uint64 future_v = 900; string future_s = 901; fixed32 future_f32 = 902; fixed64 future_f64 = 903; sint64 future_z = 904; repeated Later future_m = 905;`;
    let text = readFileSync(join(protoDir, 'vigil/v1/probe.proto'), 'utf8');
    for (const m of ['ProbeMessage', 'EventBatch', 'Event', 'ExecEvent', 'OpenEvent', 'ConnectEvent', 'AcceptEvent', 'SockAddr', 'DupEvent']) {
      text = text.replace(`message ${m} {`, future(m));
    }
    text += '\nmessage Later { string note = 1; Later next = 2; }\n';
    const newer = protobuf.parse(text, { keepCase: false }).root.lookupType('vigil.v1.ProbeMessage');
    const extra = { futureV: 2 ** 40, futureS: 'later', futureF32: 7, futureF64: 2 ** 33, futureZ: -5, futureM: [{ note: 'x', next: { note: 'y' } }] };
    const events = randomEvents(rng(9), 200).map((e) => {
      const out: Record<string, unknown> = { ...e, ...extra };
      for (const [k, v] of Object.entries(e)) {
        if (v && typeof v === 'object' && !Buffer.isBuffer(v)) {
          const kind: Record<string, unknown> = { ...(v as object), ...extra };
          for (const end of ['remote', 'local']) if (kind[end]) kind[end] = { ...(kind[end] as object), ...extra };
          out[k] = kind;
        }
      }
      return out;
    });
    const withFuture = Buffer.from(newer.encode(newer.fromObject({ ...extra, batch: { seq: 3, events, ...extra } })).finish());
    const plain = encode({ batch: { seq: 3, events: randomEvents(rng(9), 200) } });
    expect(withFuture.length).toBeGreaterThan(plain.length + 200 * 20);
    expect(fast(withFuture)).toEqual(fast(plain));
  });

  it('skips an unknown group field', () => {
    const open = eventBytes({ pid: 5, cgroupId: 9, open: { path: '/etc/hosts', result: 3 } });
    // Field 50 as a group holding a varint and a nested group: start (wire type 3) … end (wire type 4).
    const group = Buffer.from([...varint((50 << 3) | 3), 0x08, 0x01, ...varint((51 << 3) | 3), 0x10, 0x02, ...varint((51 << 3) | 4), ...varint((50 << 3) | 4)]);
    const got = fast(batchOf(1, [Buffer.concat([group, open])]));
    expect(got.rejected).toEqual([]);
    expect(got.events[0]).toMatchObject({ type: 'open', pid: 5, path: '/etc/hosts', result: 3 });
  });

  it('rejects a malformed event with its reason and keeps the rest of the batch', () => {
    const good = (pid: number): Buffer => eventBytes({ pid, cgroupId: 9, open: { path: `/data/${pid}`, result: 3 } });
    const cutString = Buffer.concat([eventBytes({ pid: 2, cgroupId: 9 }), field(19, [...field(1, Buffer.from('/etc/passwd')).subarray(0, 6)])]);
    const wrongWire = Buffer.concat([eventBytes({ pid: 3, cgroupId: 9, fork: { childPid: 4 } }), Buffer.from([...varint((2 << 3) | 2), 1, 0])]);
    const longVarint = Buffer.from([0x10, ...new Array<number>(10).fill(0xff), 0x01, ...field(17, [0x08, 0x05])]);
    const badGroup = Buffer.concat([Buffer.from([...varint((50 << 3) | 3), 0x08, 0x01, ...varint((52 << 3) | 4)]), good(9)]);
    const wireType6 = Buffer.concat([good(10), Buffer.from([...varint((60 << 3) | 6), 0])]);
    // A connect whose address runs past its SockAddr (though not past the event): family 2, then 10 bytes claimed, 4 given.
    const cutAddress = Buffer.concat([eventBytes({ pid: 12, cgroupId: 9 }), field(23, field(1, [0x08, 0x02, 0x12, 10, 10, 0, 0, 1])), Buffer.from([0x18, 0x0c])]);
    const got = fast(batchOf(1, [good(1), cutString, wrongWire, longVarint, badGroup, wireType6, cutAddress, good(11)]));
    expect(got.events.map((e) => e.pid)).toEqual([1, 11]);
    expect(got.rejected).toEqual([
      'malformed event bytes: string: 11 bytes past the end',
      'malformed event bytes: Event field 2 has wire type 2, expected 0',
      'malformed event bytes: varint longer than 10 bytes',
      'malformed event bytes: group 50 closed as 52',
      'malformed event bytes: wire type 6 of field 60',
      'malformed event bytes: address: 10 bytes past the end',
    ]);
  });

  it('refuses a message whose framing is broken, at every cut, and never fails otherwise', () => {
    const bytes = encode({ batch: { seq: 1, events: randomEvents(rng(10), 30) } });
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(() => decodeProbeMessage(bytes.subarray(0, cut))).toThrow(/^malformed ProbeMessage: /);
    }
    // Flipped bytes: a reasoned refusal, or events and reasons; nothing else.
    const rand = rng(11);
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.from(bytes);
      for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      let m;
      try {
        m = decodeProbeMessage(b);
      } catch (err) {
        expect((err as Error).message).toMatch(/^malformed ProbeMessage: |^index out of range|^invalid wire type|^illegal/);
        continue;
      }
      for (const e of m.batch?.events ?? []) expect(Object.keys(e)).toEqual(Object.keys(emptyEvent('open')));
      for (const r of m.batch?.rejected ?? []) expect(typeof r).toBe('string');
    }
  });

  it('refuses a batch sharing its message with another kind of message', () => {
    const hello = encode({ hello: { nodeName: 'n', sessionId: 's' } });
    expect(() => decodeProbeMessage(Buffer.concat([batchOf(1, [eventBytes({ pid: 1, fork: { childPid: 2 } })]), hello]))).toThrow(
      'malformed ProbeMessage: a batch and field 1 in one message',
    );
  });

  it('keeps an event whose path is not UTF-8, with U+FFFD for the bad bytes', () => {
    const path = Buffer.concat([Buffer.from('/tmp/'), Buffer.from([0xff, 0xfe]), Buffer.from('x')]);
    const open = Buffer.concat([eventBytes({ pid: 7, cgroupId: 1 }), field(19, field(1, path))]);
    const bytes = batchOf(1, [open]);
    // protobufjs verifies proto3 strings and refuses the whole message.
    expect(() => ProbeMessage.decode(bytes)).toThrow();
    const got = fast(bytes);
    expect(got.events).toHaveLength(1);
    expect(got.events[0]!.path).toBe('/tmp/\ufffd\ufffdx');
  });

  it('decodes messages lying anywhere in shared ArrayBuffers, one after another, each as the generic path does', () => {
    // Small messages come in Node's shared 8 KiB pool, dozens to one ArrayBuffer at any offset, and the decoder keeps
    // its view of that ArrayBuffer from one to the next: each must still be read at its own offset.
    const rand = rng(11);
    // Same shape, same length, different bytes: read at another message's offset, one would come out as the other.
    const twin = (path: string, seq: number): Buffer => encode({ batch: { seq, events: [{ pid: 1, cgroupId: 1, comm: 'twin', open: { path } }] } });
    const messages = [twin('/srv/app/config-aaa', 1), twin('/srv/app/config-bbb', 2)];
    for (let i = 0; i < 40; i++) messages.push(encode({ batch: { seq: i + 3, events: randomEvents(rand, 1 + (i % 6)) } }));
    const shared = new ArrayBuffer(messages.reduce((n, m) => n + m.length + 3, 0));
    let at = 0;
    const placed = messages.map((m, i) => {
      const b = Buffer.from(shared, at, m.length);
      b.set(m);
      at += m.length + (i % 4);
      return b;
    });
    // A message of its own in a large ArrayBuffer (its view let go after it), and one alone in a small one.
    const large = (m: Buffer): Buffer => {
      const b = Buffer.from(new ArrayBuffer(128 << 10), 70_001, m.length);
      b.set(m);
      return b;
    };
    const alone = (m: Buffer): Buffer => Buffer.from(new Uint8Array(m).buffer);
    let decoded = 0;
    for (let i = 0; i < placed.length; i++) {
      const got = fast(placed[i]!);
      const want = generic(messages[i]!);
      expect(got.events).toEqual(want.events);
      expect(got.rejected).toEqual(want.rejected);
      decoded += got.events.length;
      if (i % 5 === 1) expect(fast(large(messages[i]!)).events).toEqual(want.events);
      if (i % 5 === 3) expect(fast(alone(messages[i]!)).events).toEqual(want.events);
    }
    expect(fast(placed[1]!).events[0]!.path).toBe('/srv/app/config-bbb');
    expect(decoded).toBeGreaterThan(100);
  });

  it('interned strings stay correct when many distinct names share the table', () => {
    const paths = Array.from({ length: 20_000 }, (_, i) => `/var/data/${i.toString(36)}/${(i * 7919).toString(16)}`);
    const bytes = encode({ batch: { seq: 1, events: paths.map((p, i) => ({ pid: 1 + i, cgroupId: 1, comm: `w${i % 50}`, open: { path: p } })) } });
    for (let round = 0; round < 2; round++) {
      const got = fast(bytes).events;
      expect(got.map((e) => e.path)).toEqual(paths);
      expect(got.map((e) => e.comm)).toEqual(paths.map((_, i) => `w${i % 50}`));
    }
  });

  it('tells apart names that share an intern slot (same length, same sampled bytes)', () => {
    // Differ only in bytes the slot is not computed from.
    // Bytes 4 and 12-15 of 20 are not sampled: the same slot, told apart by the words compared.
    const names = ['/aaaaaaaaaaaaaaaaaaa', '/aaabaaaaaaaaaaaaaaa', '/aaaaaaaaaaabaaaaaaa', '/aaaaaaaaaaaabaaaaaa', '/aaaaaaaaaaaaabaaaaa', '/aaaaaaaaaaaaaabaaaa'];
    const events = fast(encode({ batch: { seq: 1, events: Array.from({ length: 60 }, (_, i) => ({ pid: 1 + i, cgroupId: 1, open: { path: names[i % names.length] } })) } })).events;
    expect(events.map((e) => e.path)).toEqual(Array.from({ length: 60 }, (_, i) => names[i % names.length]));
    const keys = decodeProbeMessage(batchOf(1, names.map((path, i) => eventBytes({ pid: 1 + i, open: { path } })))).batch!.events.map((e) => e.pathKey);
    expect(new Set(keys).size).toBeLessThan(names.length);
  });

  it('tells apart an interned name and a non-ASCII one of its slot and byte length', () => {
    // 'é' is two bytes, at 12-13 of 20: bytes the slot is not computed from. A non-ASCII string is not interned, but a
    // miss copies its bytes over the slot's before it is found not to be ASCII: the slot must then hold nothing.
    const ascii = '/aaaaaaaaaaaaaaaaaaa';
    const other = '/aaaaaaaaaaaéaaaaaa';
    expect(Buffer.byteLength(other)).toBe(ascii.length);
    const names = [ascii, other, other, ascii, other];
    const events = fast(encode({ batch: { seq: 1, events: names.map((path, i) => ({ pid: 1 + i, cgroupId: 1, open: { path } })) } })).events;
    expect(events.map((e) => e.path)).toEqual(names);
  });

  /** Pairs of `names` that share an intern slot and pass `keep`, each decoded one after the other: each name must come out as itself. */
  function sharingSlots(names: string[], keep: (a: string, b: string) => boolean): number {
    const open = (path: string, pid: number) => eventBytes({ pid, cgroupId: 1, open: { path } });
    const slots = new Map<number, string[]>();
    const alone = decodeProbeMessage(batchOf(1, names.map((p, i) => open(p, i + 1)))).batch!.events;
    alone.forEach((e, i) => (slots.get(e.pathKey) ?? slots.set(e.pathKey, []).get(e.pathKey)!).push(names[i]!));
    const pairs: string[] = [];
    for (const group of slots.values()) for (const x of group) for (const y of group) if (x !== y && keep(x, y)) pairs.push(x, y);
    for (let at = 0; at < pairs.length; at += 2000) {
      const some = pairs.slice(at, at + 2000);
      expect(decodeProbeMessage(batchOf(1, some.map((p, i) => open(p, i + 1)))).batch!.events.map((e) => e.path)).toEqual(some);
    }
    return pairs.length / 2;
  }
  const letters = (i: number): string => [Math.floor(i / 676), Math.floor(i / 26) % 26, i % 26].map((c) => String.fromCharCode(97 + c)).join('');
  const onlyAt = (at: number[]) => (x: string, y: string): boolean => [...x].every((c, i) => at.includes(i) || c === y[i]);

  it('tells apart names that share an intern slot and differ only in their last bytes', () => {
    // Every byte of a name's end goes into its slot, so such names share one by chance: found by trying.
    const names = Array.from({ length: 26 ** 3 }, (_, i) => `/srv/app/config-${letters(i)}`);
    expect(sharingSlots(names, onlyAt([16, 17, 18]))).toBeGreaterThan(0);
  });

  it('tells apart names of three bytes that share an intern slot', () => {
    const names = Array.from({ length: 26 ** 3 }, (_, i) => letters(i));
    // (Names that differ only in their first or last byte were never seen to share a slot.)
    expect(sharingSlots(names, onlyAt([1]))).toBeGreaterThan(0);
    // And any two, whatever their difference.
    expect(sharingSlots(names, () => true)).toBeGreaterThan(1000);
  });

  it('gives execs of the same command line one shared argv array, and others their own', () => {
    const exec = (pid: number, argv: string[]) => ({ pid, cgroupId: 1, exec: { filename: '/bin/app', exe: '/bin/app', argv, cwd: '/' } });
    const got = fast(encode({ batch: { seq: 1, events: [exec(1, ['app', '-v']), exec(2, ['app', '-v']), exec(3, ['app', '-w']), exec(4, ['app'])] } })).events;
    const argvs = got.map((e) => execMore(e).argv);
    expect(argvs).toEqual([['app', '-v'], ['app', '-v'], ['app', '-w'], ['app']]);
    expect(argvs[0]).toBe(argvs[1]);
    expect(argvs[2]).not.toBe(argvs[0]);
  });

  it('counts the events of a batch past MAX_BATCH_EVENTS without decoding them', () => {
    const one = eventBytes({ pid: 1, cgroupId: 1, fork: { childPid: 2 } });
    const b = decodeProbeMessage(batchOf(4, new Array<Buffer>(MAX_BATCH_EVENTS + 10).fill(one))).batch!;
    expect(b.events).toHaveLength(MAX_BATCH_EVENTS);
    expect(b.excess).toBe(10);
  });
});

// OpenEvent.numbers (probe.proto): an open's eight numbers at fixed
// offsets, little-endian, in one bytes field. The probe writes it
// (bpf/probe/decoder.cc); the engine's decoder reads it with the offsets
// written out (src/ingest/probe-message.ts). This is the layout for what
// makes one in TypeScript: the decoder's warm-up, the benches, the tests.

/** Each number's offset, and the block's length. */
export const OPEN_NUMBERS = {
  result: 0, // int64
  ino: 8, // uint64
  flags: 16, // int32
  mode: 20,
  pathFlags: 24,
  dev: 28,
  nlink: 32,
  fileMode: 36,
  bytes: 40,
} as const;

export interface OpenNumbers {
  result: number;
  ino: number;
  flags: number;
  mode: number;
  pathFlags: number;
  dev: number;
  nlink: number;
  fileMode: number;
}

/** The block for `n`; a number left out is 0. */
export function encodeOpenNumbers(n: Partial<OpenNumbers>): Buffer {
  const b = Buffer.alloc(OPEN_NUMBERS.bytes);
  b.writeBigInt64LE(BigInt(n.result ?? 0), OPEN_NUMBERS.result);
  b.writeBigUInt64LE(BigInt(n.ino ?? 0), OPEN_NUMBERS.ino);
  b.writeInt32LE(n.flags ?? 0, OPEN_NUMBERS.flags);
  b.writeUInt32LE(n.mode ?? 0, OPEN_NUMBERS.mode);
  b.writeUInt32LE(n.pathFlags ?? 0, OPEN_NUMBERS.pathFlags);
  b.writeUInt32LE(n.dev ?? 0, OPEN_NUMBERS.dev);
  b.writeUInt32LE(n.nlink ?? 0, OPEN_NUMBERS.nlink);
  b.writeUInt32LE(n.fileMode ?? 0, OPEN_NUMBERS.fileMode);
  return b;
}

/** An OpenEvent as the probe sends it: the path (and path_raw when it differs) and the numbers in their block. */
export function probeOpen(o: { path: string; pathRaw?: string } & Partial<OpenNumbers>): Record<string, unknown> {
  const { path, pathRaw, ...numbers } = o;
  return { path, ...(pathRaw ? { pathRaw } : {}), numbers: encodeOpenNumbers(numbers) };
}

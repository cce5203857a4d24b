// Socket addresses as the kernel holds them and as users read them: the
// address families, IP protocol numbers, and IP addresses parsed from text
// and printed from bytes. Every other module uses these; none has its own.
import { isIP } from 'node:net';
import type { L4Protocol } from './event.js';

export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** The transport an IP protocol number names ('' for any other). */
export function l4Protocol(p: number): L4Protocol {
  return p === IPPROTO_TCP ? 'tcp' : p === IPPROTO_UDP ? 'udp' : '';
}

/** An address of the wrong length for its family. */
export class AddressError extends Error {}

/** Printable form of an address as the kernel holds it (network order). */
export function formatAddress(family: number, bytes: Uint8Array | undefined): string {
  if (!bytes || bytes.length === 0) return '';
  if (family === AF_INET) {
    if (bytes.length !== 4) throw new AddressError(`IPv4 address of ${bytes.length} bytes`);
    return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  }
  if (family === AF_INET6) {
    if (bytes.length !== 16) throw new AddressError(`IPv6 address of ${bytes.length} bytes`);
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

/** A dotted-quad IPv4 address as an unsigned 32-bit number, without allocating; -1 for anything else (as node:net's isIP, no leading zeros). */
export function parseIPv4(s: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // a leading zero
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return n * 256 + part;
}

const scratch = new Uint16Array(8);

/** Parses an IPv6 address into `out` (8 words); false when it is not one. */
export function parseIPv6(s: string, out: Uint16Array = scratch): boolean {
  if (isIP(s) !== 6) return false;
  const dbl = s.indexOf('::');
  let head = dbl < 0 ? s : s.slice(0, dbl);
  let tail = dbl < 0 ? '' : s.slice(dbl + 2);
  // A trailing dotted IPv4 part fills the last two words.
  let v4 = -1;
  const last = dbl < 0 ? head : tail;
  const dot = last.lastIndexOf(':');
  if (last.includes('.')) {
    v4 = parseIPv4(last.slice(dot + 1));
    if (v4 < 0) return false;
    if (dbl < 0) head = head.slice(0, Math.max(0, head.lastIndexOf(':')));
    else tail = dot < 0 ? '' : tail.slice(0, dot);
  }
  const hw = head ? head.split(':') : [];
  const tw = tail ? tail.split(':') : [];
  const words = v4 < 0 ? 8 : 6;
  out.fill(0);
  for (let i = 0; i < hw.length; i++) out[i] = Number.parseInt(hw[i]!, 16);
  for (let i = 0; i < tw.length; i++) out[words - tw.length + i] = Number.parseInt(tw[i]!, 16);
  if (v4 >= 0) {
    out[6] = v4 >>> 16;
    out[7] = v4 & 0xffff;
  }
  return true;
}

/** The bytes (network order: 4 for IPv4, 16 for IPv6) of an address in text; null when it is not one. */
export function addressBytes(s: string): Uint8Array | null {
  const v4 = parseIPv4(s);
  if (v4 >= 0) return Uint8Array.of(v4 >>> 24, (v4 >>> 16) & 0xff, (v4 >>> 8) & 0xff, v4 & 0xff);
  const w = new Uint16Array(8);
  if (!parseIPv6(s, w)) return null;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = w[i]! >> 8;
    out[2 * i + 1] = w[i]! & 0xff;
  }
  return out;
}

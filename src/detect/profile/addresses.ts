// Addresses and CIDRs for network profiles: parse, match, and widen many
// addresses into one prefix when a workload talks to a whole range (a
// service's pods, a client subnet) instead of listing each one.
import { isIP } from 'node:net';
import { formatAddress } from '../../ingest/decode.js';
import { parseIPv4 } from '../rules/ip.js';

export interface Cidr {
  family: 4 | 6;
  bytes: Uint8Array;
  prefix: number;
}

function v4Bytes(s: string): Uint8Array {
  return Uint8Array.from(s.split('.').map(Number));
}

function v6Bytes(s: string): Uint8Array {
  const out = new Uint8Array(16);
  let str = s;
  let tail4: Uint8Array | null = null;
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(str);
  if (m) {
    tail4 = v4Bytes(m[2]!);
    str = `${m[1]}0:0`;
  }
  const halves = str.split('::');
  const words = (x: string | undefined): number[] => (x ? x.split(':').map((h) => parseInt(h, 16)) : []);
  const head = words(halves[0]);
  const tail = halves.length > 1 ? words(halves[1]) : [];
  const all = halves.length > 1 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  all.forEach((w, i) => {
    out[2 * i] = (w >> 8) & 0xff;
    out[2 * i + 1] = w & 0xff;
  });
  if (tail4) out.set(tail4, 12);
  return out;
}

/** Parses "10.0.0.7", "10.0.0.0/24", "2001:db8::/64"; throws with the reason. */
export function parseCidr(text: string): Cidr {
  const [addr, len] = text.split('/') as [string, string | undefined];
  const kind = isIP(addr);
  if (kind === 0) throw new Error(`'${text}' is not an IP address or CIDR`);
  const family = kind as 4 | 6;
  const max = family === 4 ? 32 : 128;
  const prefix = len === undefined ? max : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (len !== undefined && !/^\d+$/.test(len))) {
    throw new Error(`'${text}': prefix length must be 0 to ${max}`);
  }
  const bytes = family === 4 ? v4Bytes(addr) : v6Bytes(addr);
  return { family, bytes: maskBytes(bytes, prefix), prefix };
}

function maskBytes(b: Uint8Array, prefix: number): Uint8Array {
  const out = Uint8Array.from(b);
  for (let bit = prefix; bit < out.length * 8; bit++) out[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return out;
}

export function formatCidr(c: Cidr): string {
  const max = c.family === 4 ? 32 : 128;
  const addr = formatAddress(c.family === 4 ? 2 : 10, c.bytes);
  return c.prefix === max ? addr : `${addr}/${c.prefix}`;
}

export function cidrContains(c: Cidr, address: string): boolean {
  if (c.family === 4) {
    // The common case, checked on every connect and accept: no parse into arrays.
    const a = parseIPv4(address);
    if (a >= 0) {
      if (c.prefix === 0) return true;
      const net = ((c.bytes[0]! << 24) | (c.bytes[1]! << 16) | (c.bytes[2]! << 8) | c.bytes[3]!) >>> 0;
      return ((a ^ net) >>> (32 - c.prefix)) === 0;
    }
  }
  const kind = isIP(address);
  if (kind !== c.family) return false;
  const b = kind === 4 ? v4Bytes(address) : v6Bytes(address);
  const full = c.prefix >> 3;
  for (let i = 0; i < full; i++) if (b[i] !== c.bytes[i]) return false;
  const rem = c.prefix & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (b[full]! & mask) === (c.bytes[full]! & mask);
}

/** The network an address belongs to when a profile widens: /24 for IPv4, /64 for IPv6. */
export function widenTo(address: string): string {
  const kind = isIP(address);
  if (kind === 4) return formatCidr({ family: 4, bytes: maskBytes(v4Bytes(address), 24), prefix: 24 });
  if (kind === 6) return formatCidr({ family: 6, bytes: maskBytes(v6Bytes(address), 64), prefix: 64 });
  return address;
}

export function cidrBytes(text: string): { family: number; address: Uint8Array; prefixLen: number } {
  const c = parseCidr(text);
  return { family: c.family === 4 ? 2 : 10, address: c.bytes, prefixLen: c.prefix };
}

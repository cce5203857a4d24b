// Addresses and CIDRs for network profiles: parse, match, and widen many
// addresses into one prefix when a workload talks to a whole range (a
// service's pods, a client subnet) instead of listing each one.
import { isIP } from 'node:net';
import { addressBytes, AF_INET, AF_INET6, formatAddress, parseIPv4 } from '../../model/addresses.js';

export interface Cidr {
  family: 4 | 6;
  bytes: Uint8Array;
  prefix: number;
}

/** The bytes of an address already known to be one (isIP said so). */
function bytesOf(address: string): Uint8Array {
  return addressBytes(address)!;
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
  const bytes = bytesOf(addr);
  return { family, bytes: maskBytes(bytes, prefix), prefix };
}

function maskBytes(b: Uint8Array, prefix: number): Uint8Array {
  const out = Uint8Array.from(b);
  for (let bit = prefix; bit < out.length * 8; bit++) out[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return out;
}

export function formatCidr(c: Cidr): string {
  const max = c.family === 4 ? 32 : 128;
  const addr = formatAddress(c.family === 4 ? AF_INET : AF_INET6, c.bytes);
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
  const b = bytesOf(address);
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
  if (kind === 4) return formatCidr({ family: 4, bytes: maskBytes(bytesOf(address), 24), prefix: 24 });
  if (kind === 6) return formatCidr({ family: 6, bytes: maskBytes(bytesOf(address), 64), prefix: 64 });
  return address;
}

const DNS_NAME = /^(\*\.)?[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/**
 * Whether a profile can hold `name`: a lower-case DNS name of at most 253
 * bytes, or "*.domain" with a domain of two labels or more. Answers carry
 * whatever bytes their sender chose; a name that is not one is judged by
 * its address instead.
 */
export function isProfileName(name: string): boolean {
  if (name.length > 253 || !DNS_NAME.test(name)) return false;
  return !name.startsWith('*.') || name.slice(2).includes('.');
}

// Whether an address lies in a profile's network rule, held against
// Node's own subnet matcher (net.BlockList) over random IPv4 addresses
// and prefixes, plus strings that are not IPv4 addresses at all.
import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import { cidrContains, parseCidr } from '../../../src/detect/profile/addresses.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

describe('cidrContains', () => {
  it('agrees with net.BlockList on IPv4 addresses and prefixes of every length', () => {
    const rand = rng(5);
    const byte = (): number => (rand() < 0.3 ? [0, 10, 127, 255][Math.floor(rand() * 4)]! : Math.floor(rand() * 256));
    for (let i = 0; i < 3000; i++) {
      const net = [byte(), byte(), byte(), byte()];
      const prefix = Math.floor(rand() * 33);
      // Addresses near the network, so every prefix length gets both answers.
      const addr = net.map((b, k) => (rand() < 0.15 * (k + 1) ? byte() : b)).join('.');
      const cidr = `${net.join('.')}/${prefix}`;
      const list = new BlockList();
      list.addSubnet(net.join('.'), prefix, 'ipv4');
      expect(cidrContains(parseCidr(cidr), addr), `${addr} in ${cidr}`).toBe(list.check(addr, 'ipv4'));
    }
  });

  it('says no for strings that are not IPv4 addresses', () => {
    const any = parseCidr('0.0.0.0/0');
    for (const s of ['', '1.2.3', '1.2.3.4.5', '1..2.3', '256.1.1.1', '01.2.3.4', '1.2.3.4 ', 'a.b.c.d', '::1', '::ffff:1.2.3.4', '1.2.3.-4']) {
      expect(cidrContains(any, s), s).toBe(false);
    }
    expect(cidrContains(parseCidr('2001:db8::/32'), '2001:db8::1')).toBe(true);
    expect(cidrContains(parseCidr('2001:db8::/32'), '10.0.0.1')).toBe(false);
  });
});

// Whether an address lies in a profile's network rule, held against
// Node's own subnet matcher (net.BlockList) over random IPv4 addresses
// and prefixes, plus strings that are not IPv4 addresses at all.
import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import { cidrContains, parseCidr } from '../../../src/detect/profile/addresses.js';
import { Profile } from '../../../src/detect/profile/profile.js';
import type { Event } from '../../../src/model/event.js';
import { makeEvent } from '../../support/events.js';

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

describe('a profile\'s network rules by prefix', () => {
  const connect = (addr: string, port: number): Event => makeEvent('connect', { pid: 10, addr, port, protocol: 'tcp', family: 2 });
  const accept = (addr: string, port: number): Event => makeEvent('accept', { pid: 10, addr, localPort: port, protocol: 'tcp', family: 2 });

  it('cover a connect or an accept exactly when net.BlockList says the address is in the prefix, on the rule\'s port', () => {
    const rand = rng(11);
    const byte = (): number => (rand() < 0.3 ? [0, 10, 127, 255][Math.floor(rand() * 4)]! : Math.floor(rand() * 256));
    for (let i = 0; i < 1500; i++) {
      const net = [byte(), byte(), byte(), byte()];
      // Two rules per profile, so a match is not only ever the first rule's.
      const other = [byte(), byte(), 0, 0];
      const prefix = Math.floor(rand() * 33);
      const port = rand() < 0.2 ? 0 : 443;
      const p = new Profile();
      p.addEgress({ to: `${other.join('.')}/16`, port: 80, protocol: 'tcp' });
      p.addEgress({ to: `${net.join('.')}/${prefix}`, port, protocol: 'tcp' });
      p.addIngress({ from: `${other.join('.')}/16`, port: 80 });
      p.addIngress({ from: `${net.join('.')}/${prefix}`, port });
      const addr = net.map((b, k) => (rand() < 0.15 * (k + 1) ? byte() : b)).join('.');
      const list = new BlockList();
      list.addSubnet(net.join('.'), prefix, 'ipv4');
      const onOther = new BlockList();
      onOther.addSubnet(other.join('.'), 16, 'ipv4');
      for (const at of [443, 80]) {
        const inside = (at === port || port === 0) && list.check(addr, 'ipv4') ? true : at === 80 && onOther.check(addr, 'ipv4');
        expect(p.observe(connect(addr, at), '', false) === null, `connect ${addr}:${at} under ${net.join('.')}/${prefix} port ${port}`).toBe(inside);
        expect(p.observe(accept(addr, at), '', false) === null, `accept ${addr} on ${at} under ${net.join('.')}/${prefix} port ${port}`).toBe(inside);
      }
    }
  });

  it('judge IPv6 addresses by IPv6 prefixes only', () => {
    const p = new Profile();
    p.addEgress({ to: '0.0.0.0/0', port: 443, protocol: 'tcp' });
    p.addEgress({ to: '2001:db8::/32', port: 443, protocol: 'tcp' });
    expect(p.observe(connect('2001:db8::7', 443), '', false)).toBeNull();
    expect(p.observe(connect('2001:db9::7', 443), '', false)?.kind).toBe('new-egress');
    expect(p.observe(connect('192.0.2.1', 443), '', false)).toBeNull();
    expect(p.observe(Object.assign(connect('192.0.2.1', 443), { protocol: 'udp' }), '', false)?.kind).toBe('new-egress');
  });
});

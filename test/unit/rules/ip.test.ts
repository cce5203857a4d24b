// Address and network matching for rule values.
import { describe, expect, it } from 'vitest';
import { addressMatcher } from '../../../src/detect/rules/ip.js';

describe('address matching', () => {
  it('matches exact addresses and networks of both families', () => {
    const m = addressMatcher(['10.0.0.0/8', '192.168.1.7', 'fc00::/7', '::1', '100.64.0.0/10'], 'test');
    expect(m('10.255.0.1')).toBe(true);
    expect(m('11.0.0.1')).toBe(false);
    expect(m('192.168.1.7')).toBe(true);
    expect(m('192.168.1.8')).toBe(false);
    expect(m('100.100.100.200')).toBe(true);
    expect(m('fd12:3456::1')).toBe(true);
    expect(m('2001:db8::1')).toBe(false);
    expect(m('::1')).toBe(true);
    expect(m('0:0:0:0:0:0:0:1')).toBe(true);
    // An IPv4-mapped IPv6 address is matched against IPv4 networks too.
    expect(m('::ffff:10.1.2.3')).toBe(true);
    expect(m('')).toBe(false);
    expect(addressMatcher(['0.0.0.0/0'], 'test')('203.0.113.9')).toBe(true);
    // Networks in the upper half of the address space (the top bit set) and their edges.
    const upper = addressMatcher(['224.0.0.0/4', '255.255.255.255'], 'test');
    expect(upper('224.0.0.0')).toBe(true);
    expect(upper('239.255.255.250')).toBe(true);
    expect(upper('223.255.255.255')).toBe(false);
    expect(upper('240.0.0.1')).toBe(false);
    expect(upper('255.255.255.255')).toBe(true);
    expect(upper('255.255.255.254')).toBe(false);
    expect(upper('::ffff:239.1.2.3')).toBe(true);
  });

  it('refuses values that are not addresses or networks', () => {
    expect(() => addressMatcher(['10.0.0.0/33'], 'field fd.snet')).toThrow(/'10.0.0.0\/33' is not an IP address or network \(field fd.snet\)/);
    expect(() => addressMatcher(['example.com'], 'x')).toThrow(/not an IP address/);
    expect(() => addressMatcher(['10.0.0.0/'], 'x')).toThrow(/not an IP address/);
  });
});

// Addresses as users read them, from the bytes the kernel holds, and
// parsed back from text.
import { describe, expect, it } from 'vitest';
import { addressBytes, AddressError, formatAddress, parseIPv4, parseIPv6 } from '../../../src/model/addresses.js';

const v6 = (hex: string): Uint8Array => Buffer.from(hex, 'hex');

describe('address formatting', () => {
  it('prints IPv4 dotted', () => {
    expect(formatAddress(2, Uint8Array.from([192, 168, 1, 20]))).toBe('192.168.1.20');
  });

  it('prints IPv6 in RFC 5952 form', () => {
    expect(formatAddress(10, v6('00000000000000000000000000000001'))).toBe('::1');
    expect(formatAddress(10, v6('00000000000000000000000000000000'))).toBe('::');
    expect(formatAddress(10, v6('20010db8000000000000000000000001'))).toBe('2001:db8::1');
    // The longest zero run is compressed, a single zero word is not.
    expect(formatAddress(10, v6('20010db8000000010000000000000001'))).toBe('2001:db8:0:1::1');
    expect(formatAddress(10, v6('fe800000000000000200000000000000'))).toBe('fe80::200:0:0:0');
    expect(formatAddress(10, v6('20010db8000100020003000400050006'))).toBe('2001:db8:1:2:3:4:5:6');
  });

  it('prints IPv4-mapped IPv6 with the IPv4 part dotted', () => {
    expect(formatAddress(10, v6('00000000000000000000ffff7f000001'))).toBe('::ffff:127.0.0.1');
  });

  it('rejects addresses of the wrong length', () => {
    expect(() => formatAddress(2, Uint8Array.from([1, 2]))).toThrow(AddressError);
    expect(() => formatAddress(10, Uint8Array.from([1, 2, 3, 4]))).toThrow(/IPv6 address of 4 bytes/);
  });
});

describe('address parsing', () => {
  it('parses IPv4 addresses strictly', () => {
    expect(parseIPv4('10.0.0.1')).toBe(0x0a000001);
    expect(parseIPv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIPv4('10.0.0.0')).toBe(0x0a000000);
    for (const bad of ['10.0.0', '10.0.0.256', '1.2.3.4.5', '1..2.3', 'a.b.c.d', '', '::1', '010.0.0.1', '10.00.0.1']) expect(parseIPv4(bad), bad).toBe(-1);
  });

  it('parses IPv6 addresses, compressed and with a dotted tail', () => {
    const w = new Uint16Array(8);
    expect(parseIPv6('2001:db8::1', w)).toBe(true);
    expect([...w]).toEqual([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
    expect(parseIPv6('::ffff:10.1.2.3', w)).toBe(true);
    expect([...w]).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0a01, 0x0203]);
    expect(parseIPv6('fe80::', w)).toBe(true);
    expect([...w]).toEqual([0xfe80, 0, 0, 0, 0, 0, 0, 0]);
    expect(parseIPv6('not:an:address', w)).toBe(false);
  });

  it('gives the bytes of either family, and formats them back', () => {
    expect([...addressBytes('10.1.2.3')!]).toEqual([10, 1, 2, 3]);
    expect(formatAddress(10, addressBytes('2001:db8::1')!)).toBe('2001:db8::1');
    expect(formatAddress(10, addressBytes('::ffff:10.1.2.3')!)).toBe('::ffff:10.1.2.3');
    expect(addressBytes('10.1.2')).toBeNull();
    expect(addressBytes('host.example')).toBeNull();
  });
});

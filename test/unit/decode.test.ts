// Addresses as users read them, from the bytes the kernel holds.
import { describe, expect, it } from 'vitest';
import { formatAddress, MalformedEvent } from '../../src/ingest/decode.js';

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
    expect(() => formatAddress(2, Uint8Array.from([1, 2]))).toThrow(MalformedEvent);
    expect(() => formatAddress(10, Uint8Array.from([1, 2, 3, 4]))).toThrow(/IPv6 address of 4 bytes/);
  });
});

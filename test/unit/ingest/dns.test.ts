// DNS responses as the kernel hands them over: the question, the CNAME
// chain from it, the chain's addresses with TTLs; a message cut short
// keeps what it had, a malformed one says why, and neither throws.
import { describe, expect, it } from 'vitest';
import { parseDnsMessage } from '../../../src/ingest/dns.js';

const name = (n: string): number[] => [...n.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]), 0];
const u16 = (v: number): number[] => [v >> 8, v & 255];
const u32 = (v: number): number[] => [...u16(v >>> 16), ...u16(v & 0xffff)];
const rr = (owner: number[], type: number, ttl: number, rdata: number[]): number[] => [...owner, ...u16(type), ...u16(1), ...u32(ttl), ...u16(rdata.length), ...rdata];
const message = (q: string, answers: number[][], flags = 0x8180): Uint8Array =>
  Uint8Array.from([...u16(0x1234), ...u16(flags), ...u16(1), ...u16(answers.length), 0, 0, 0, 0, ...name(q), ...u16(1), ...u16(1), ...answers.flat()]);
const QNAME = [0xc0, 12]; // a pointer to the question's name

describe('DNS response parsing', () => {
  it('follows a CNAME chain (compressed names) to its A and AAAA records, with TTLs, lower case', () => {
    const m = message('API.Example.com', [
      rr(QNAME, 5, 300, name('edge.cdn.example')),
      rr(name('edge.cdn.example'), 1, 20, [192, 0, 2, 7]),
      rr(name('edge.cdn.example'), 28, 30, [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1]),
      rr(name('unrelated.example'), 1, 20, [198, 51, 100, 1]),
    ]);
    expect(parseDnsMessage(m, false)).toEqual({
      name: 'api.example.com', qtype: 1, rcode: 0, cnames: ['edge.cdn.example'],
      addresses: [{ addr: '192.0.2.7', ttl: 20 }, { addr: '2001:db8::1', ttl: 30 }],
      truncated: false, error: '', allowedInKernel: 0,
    });
  });

  it('keeps what a message cut short had, and says when a whole one is malformed', () => {
    const m = message('a.example', [rr(QNAME, 1, 60, [192, 0, 2, 1]), rr(QNAME, 1, 60, [192, 0, 2, 2])]);
    const cut = parseDnsMessage(m.subarray(0, m.length - 3), true);
    expect(cut).toMatchObject({ truncated: true, error: '', addresses: [{ addr: '192.0.2.1', ttl: 60 }] });
    expect(parseDnsMessage(m.subarray(0, m.length - 3), false).error).toBe('a record runs past the end of the message');
    expect(parseDnsMessage(Uint8Array.from([1, 2, 3]), false).error).toMatch(/shorter than its header/);
    // A pointer to itself: a loop, not a hang.
    const loop = message('a.example', [rr([0xc0, 29], 1, 60, [192, 0, 2, 1])]);
    loop[29] = 0xc0;
    loop[30] = 29;
    expect(parseDnsMessage(loop, false).error).toMatch(/loops/);
    // NXDOMAIN: no addresses, the code kept.
    expect(parseDnsMessage(message('gone.example', [], 0x8183), false)).toMatchObject({ rcode: 3, addresses: [], error: '' });
  });

  it('never throws on random bytes', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 255;
    for (let i = 0; i < 2000; i++) {
      const m = message('x.example', [rr(QNAME, 1, 1, [1, 2, 3, 4])]);
      for (let j = 0; j < 6; j++) m[next() % m.length] = next();
      expect(() => parseDnsMessage(m.subarray(0, next() % (m.length + 1)), false)).not.toThrow();
    }
  });
});

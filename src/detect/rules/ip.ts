// Address and network matching for rule values (fd.sip = 10.0.0.1,
// fd.snet in (10.0.0.0/8, fc00::/7)) without allocating per event: the
// event's address is parsed into a reused scratch buffer and compared
// word by word. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches IPv4
// networks too.
import { isIP } from 'node:net';
import { parseIPv4, parseIPv6 } from '../../model/addresses.js';

/** The event's address, parsed here on every match: no allocation per event. */
const scratch = new Uint16Array(8);

/** `high`: the network's address shifted right by `shift` (32 - bits), the part an address in it shares. */
interface Net4 { high: number; shift: number }
interface Net6 { words: Uint16Array; bits: number }

/** Integer shifts, not division by 2 ** shift: that was a call to pow per network per event. */
function in4(ip: number, n: Net4): boolean {
  return n.shift === 32 || ip >>> n.shift === n.high;
}

function in6(w: Uint16Array, n: Net6): boolean {
  let bits = n.bits;
  for (let i = 0; i < 8 && bits > 0; i++, bits -= 16) {
    const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if ((w[i]! & mask) !== (n.words[i]! & mask)) return false;
  }
  return true;
}

/** A matcher for addresses and CIDR networks; throws on a value that is neither. */
export function addressMatcher(values: readonly string[], what: string): (addr: string) => boolean {
  const v4: Net4[] = [];
  const v6: Net6[] = [];
  for (const v of values) {
    const slash = v.indexOf('/');
    const a = slash < 0 ? v : v.slice(0, slash);
    const family = isIP(a);
    const max = family === 4 ? 32 : 128;
    const bits = slash < 0 ? max : Number(v.slice(slash + 1));
    if (family === 0 || !Number.isInteger(bits) || bits < 0 || bits > max || (slash >= 0 && v.slice(slash + 1) === '')) {
      throw new Error(`'${v}' is not an IP address or network (${what})`);
    }
    if (family === 4) v4.push({ high: bits === 0 ? 0 : parseIPv4(a) >>> (32 - bits), shift: 32 - bits });
    else {
      const words = new Uint16Array(8);
      parseIPv6(a, words);
      v6.push({ words, bits });
    }
  }
  return (addr) => {
    const ip4 = parseIPv4(addr);
    if (ip4 >= 0) {
      for (const n of v4) if (in4(ip4, n)) return true;
      return false;
    }
    if (!parseIPv6(addr, scratch)) return false;
    for (const n of v6) if (in6(scratch, n)) return true;
    // ::ffff:a.b.c.d against IPv4 networks.
    if (v4.length > 0 && scratch[0] === 0 && scratch[1] === 0 && scratch[2] === 0 && scratch[3] === 0 && scratch[4] === 0 && scratch[5] === 0xffff) {
      const mapped = scratch[6]! * 65536 + scratch[7]!;
      for (const n of v4) if (in4(mapped, n)) return true;
    }
    return false;
  };
}

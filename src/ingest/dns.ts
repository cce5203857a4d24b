// A DNS response message as a workload received it: the question, the
// CNAME chain from it and the addresses of the chain, with TTLs. The bytes
// come from the network (anyone who can send the workload a packet from
// port 53), so every read is bounded and a bad message is an answer with
// `error` set, never an exception that loses the event.
import { AF_INET, AF_INET6, formatAddress } from '../model/addresses.js';
import type { DnsAnswer } from '../model/event.js';

const TYPE_A = 1;
const TYPE_CNAME = 5;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
/** Compression pointers followed in one name: more is a loop. */
const MAX_JUMPS = 16;
/** Records read; a message holds fewer (1024 bytes at 16 bytes each at least). */
const MAX_RECORDS = 128;
/** CNAMEs followed from the question. */
const MAX_CHAIN = 16;

class Cut extends Error {}

interface Reader {
  b: Uint8Array;
  pos: number;
}

function u16(r: Reader): number {
  if (r.pos + 2 > r.b.length) throw new Cut();
  const v = (r.b[r.pos]! << 8) | r.b[r.pos + 1]!;
  r.pos += 2;
  return v;
}

function u32(r: Reader): number {
  if (r.pos + 4 > r.b.length) throw new Cut();
  const v = ((r.b[r.pos]! << 24) >>> 0) + ((r.b[r.pos + 1]! << 16) | (r.b[r.pos + 2]! << 8) | r.b[r.pos + 3]!);
  r.pos += 4;
  return v;
}

/** A name at r.pos (compression followed), lower case, no trailing dot; r.pos moves past it. */
function name(r: Reader): string {
  const labels: string[] = [];
  let at = r.pos;
  let jumps = 0;
  let length = 0;
  let end = -1;
  for (;;) {
    if (at >= r.b.length) throw new Cut();
    const len = r.b[at]!;
    if (len === 0) {
      if (end < 0) end = at + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (at + 1 >= r.b.length) throw new Cut();
      if (end < 0) end = at + 2;
      if (++jumps > MAX_JUMPS) throw new Error('name compression loops');
      at = ((len & 0x3f) << 8) | r.b[at + 1]!;
      continue;
    }
    if (len & 0xc0) throw new Error(`label type 0x${(len & 0xc0).toString(16)} is not supported`);
    if (at + 1 + len > r.b.length) throw new Cut();
    length += len + 1;
    if (length > 255) throw new Error('name longer than 255 bytes');
    let label = '';
    for (let i = at + 1; i <= at + len; i++) {
      const c = r.b[i]!;
      label += String.fromCharCode(c >= 65 && c <= 90 ? c + 32 : c);
    }
    labels.push(label);
    at += 1 + len;
  }
  r.pos = end;
  return labels.join('.');
}

interface Record_ {
  owner: string;
  type: number;
  ttl: number;
  addr: string;
  target: string;
}

/** Parses a DNS response. `cut`: the message was shortened before it reached here. */
export function parseDnsMessage(bytes: Uint8Array, cut: boolean): DnsAnswer {
  const out: DnsAnswer = { name: '', qtype: 0, rcode: 0, cnames: [], addresses: [], truncated: cut, error: '', allowedInKernel: 0 };
  const r: Reader = { b: bytes, pos: 0 };
  const records: Record_[] = [];
  try {
    if (bytes.length < 12) throw new Error(`a DNS message of ${bytes.length} bytes is shorter than its header`);
    r.pos = 2;
    const flags = u16(r);
    out.rcode = flags & 0xf;
    if (flags & 0x0200) out.truncated = true; // TC: the server cut it
    const qd = u16(r);
    const an = u16(r);
    r.pos = 12;
    if (qd !== 1) throw new Error(`${qd} questions (one expected)`);
    out.name = name(r);
    out.qtype = u16(r);
    u16(r); // class
    for (let i = 0; i < an && i < MAX_RECORDS; i++) {
      const owner = name(r);
      const type = u16(r);
      const cls = u16(r);
      const ttl = u32(r);
      const rdlen = u16(r);
      if (r.pos + rdlen > bytes.length) throw new Cut();
      const rdata = r.pos;
      let addr = '';
      let target = '';
      if (cls === CLASS_IN && type === TYPE_A && rdlen === 4) addr = formatAddress(AF_INET, bytes.subarray(rdata, rdata + 4));
      else if (cls === CLASS_IN && type === TYPE_AAAA && rdlen === 16) addr = formatAddress(AF_INET6, bytes.subarray(rdata, rdata + 16));
      else if (cls === CLASS_IN && type === TYPE_CNAME) target = name({ b: bytes, pos: rdata });
      records.push({ owner, type, ttl, addr, target });
      r.pos = rdata + rdlen;
    }
  } catch (err) {
    if (err instanceof Cut) {
      // Past the end: a message cut short keeps what it had; a whole one was malformed.
      if (!out.truncated) out.error = 'a record runs past the end of the message';
    } else {
      out.error = (err as Error).message;
    }
  }
  // The chain from the question, and only its addresses: a record about
  // another name in the same answer is not what the workload asked for.
  const chain = new Set([out.name]);
  let at = out.name;
  for (let i = 0; i < MAX_CHAIN; i++) {
    const c = records.find((x) => x.type === TYPE_CNAME && x.owner === at && x.target && !chain.has(x.target));
    if (!c) break;
    out.cnames.push(c.target);
    chain.add(c.target);
    at = c.target;
  }
  for (const x of records) if (x.addr && chain.has(x.owner)) out.addresses.push({ addr: x.addr, ttl: x.ttl });
  return out;
}

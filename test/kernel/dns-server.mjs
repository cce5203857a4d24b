// A small DNS server for test/kernel/dns.test.ts, run inside the test's
// own network namespace: answers A queries from a zone file read at every
// query, so the test changes a name's addresses between calls. Usage:
//   node dns-server.mjs ZONE.json [HOST] [PORT]
// The zone: { "name": ["127.0.0.10"] } for addresses, { "name": { "cname":
// "target" } } for an alias (the answer carries the chain), and
// { "flood.test": { "flood": N } }: that query is answered N times, each
// answer a different name with 8 addresses (the flood test).
import { Buffer } from 'node:buffer';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import process from 'node:process';
import { setTimeout } from 'node:timers';

const [zoneFile, host = '127.0.0.1', port = '53'] = process.argv.slice(2);
const TTL = 1;

function encodeName(name) {
  const parts = name.split('.').filter(Boolean);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])), Buffer.from([0])]);
}

function readName(msg, at) {
  const labels = [];
  while (msg[at] !== 0) {
    labels.push(msg.subarray(at + 1, at + 1 + msg[at]).toString());
    at += 1 + msg[at];
  }
  return { name: labels.join('.').toLowerCase(), end: at + 1 };
}

function record(owner, type, rdata) {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt32BE(TTL, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([encodeName(owner), fixed, rdata]);
}

function response(id, qname, qtype, records, rcode) {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x8180 | rcode, 2); // QR, RD, RA
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(records.length, 6);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(qtype, 0);
  q.writeUInt16BE(1, 2);
  return Buffer.concat([h, encodeName(qname), q, ...records]);
}

const a = (addr) => Buffer.from(addr.split('.').map(Number));

/** Answers one query; `send` takes each response message. */
function answer(msg, send) {
  const id = msg.readUInt16BE(0);
  const { name, end } = readName(msg, 12);
  const qtype = msg.readUInt16BE(end);
  const zone = JSON.parse(readFileSync(zoneFile, 'utf8'));
  const entry = zone[name];
  if (entry && entry.flood) {
    // In bursts of 100 every 10 ms: loopback's backlog (netdev_max_backlog,
    // 1000) would drop most of one burst of thousands before any socket saw them.
    let i = 0;
    const burst = () => {
      for (const end = Math.min(i + 100, entry.flood); i < end; i++) {
        const n = `n${i}.flood.test`;
        const rs = [];
        for (let j = 0; j < 8; j++) rs.push(record(n, 1, a(`127.3.${(i >> 5) & 255}.${((i & 31) << 3) | j}`)));
        send(response(id, n, 1, rs, 0));
      }
      if (i < entry.flood) setTimeout(burst, 10);
    };
    burst();
    return;
  }
  const records = [];
  let at = name;
  for (let hops = 0; hops < 8 && zone[at] && zone[at].cname; hops++) {
    records.push(record(at, 5, encodeName(zone[at].cname)));
    at = zone[at].cname;
  }
  const addrs = Array.isArray(zone[at]) ? zone[at] : null;
  if (qtype === 1 && addrs) for (const x of addrs) records.push(record(at, 1, a(x)));
  send(response(id, name, qtype, qtype === 1 ? records : [], zone[name] ? 0 : 3));
}

const sock = dgram.createSocket('udp4');
sock.on('message', (msg, peer) => answer(msg, (buf) => sock.send(buf, peer.port, peer.address)));
// DNS over TCP: each message after its two-byte length.
const tcp = net.createServer((c) => {
  let pending = Buffer.alloc(0);
  c.on('error', () => {});
  c.on('data', (d) => {
    pending = Buffer.concat([pending, d]);
    while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
      const msg = pending.subarray(2, 2 + pending.readUInt16BE(0));
      pending = pending.subarray(2 + msg.length);
      answer(msg, (buf) => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(buf.length);
        c.write(Buffer.concat([len, buf]));
      });
    }
  });
});
sock.bind(Number(port), host, () => tcp.listen(Number(port), host, () => process.stdout.write('ready\n')));

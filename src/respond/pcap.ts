// Packet captures as standard pcap files (libpcap format, what tshark and
// Wireshark open). Packets start at their IP header, so the link type is
// LINKTYPE_RAW; timestamps are microseconds.
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';

const LINKTYPE_RAW = 101;
const MAGIC_MICROS = 0xa1b2c3d4;

export class PcapWriter {
  private readonly fd: number;
  packets = 0;
  bytes = 0;

  constructor(
    readonly path: string,
    private readonly snaplen: number,
  ) {
    this.fd = openSync(path, 'wx', 0o600);
    const h = Buffer.alloc(24);
    h.writeUInt32LE(MAGIC_MICROS, 0);
    h.writeUInt16LE(2, 4); // version 2.4
    h.writeUInt16LE(4, 6);
    h.writeInt32LE(0, 8); // GMT offset
    h.writeUInt32LE(0, 12); // timestamp accuracy
    h.writeUInt32LE(snaplen, 16);
    h.writeUInt32LE(LINKTYPE_RAW, 20);
    writeSync(this.fd, h);
    this.bytes = 24;
  }

  /** Appends one packet: `timeMs` Unix time, `origLen` its length on the wire. */
  write(timeMs: number, data: Uint8Array, origLen: number): void {
    const rec = Buffer.alloc(16);
    const sec = Math.floor(timeMs / 1000);
    rec.writeUInt32LE(sec, 0);
    rec.writeUInt32LE(Math.floor((timeMs - sec * 1000) * 1000), 4);
    rec.writeUInt32LE(data.length, 8);
    rec.writeUInt32LE(Math.max(origLen, data.length), 12);
    writeSync(this.fd, rec);
    writeSync(this.fd, data);
    this.packets++;
    this.bytes += 16 + data.length;
  }

  close(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
  }
}

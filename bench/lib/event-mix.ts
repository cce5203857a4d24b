// A realistic event mix for engine benchmarks, encoded once as real
// probe.proto bytes: mostly opens, then connects/accepts, then process
// lifecycle; hundreds of workloads, thousands of processes. Events come as
// a node makes them: its CPUs each run one process at a time for a burst
// of syscalls, and the probe's ring buffer interleaves the CPUs (with
// `burst: 1` every event is from a random process: no locality at all,
// the worst case for the engine's caches). Benign, as a busy node mostly is: reads of libraries and configuration, writes to
// logs, uploads and /dev/null, connections inside the cluster. Different
// seeds give different draws (other upload names, peers, pids) of the
// same behaviour, so a profile learned on one seed is exercised by another.
import { PATH_RAW_SAME, PATH_RESOLVED } from '../../src/model/event.js';
import { messageType } from '../../src/rpc/proto.js';
import { probeOpen } from '../../src/probe/open-numbers.js';
import { rng } from '../../test/support/rng.js';

export interface MixOptions {
  workloads: number;
  processes: number;
  batchSize: number;
  batches: number;
  /** cgroup id of workload i (the bench maps these to real directories). */
  cgroupIds: number[];
  /** PRNG seed; default 42. */
  seed?: number;
  /** CPUs running processes at once; default 16. */
  cpus?: number;
  /** Mean events a process makes before its CPU switches to another (geometric); default 8; 1: a random process per event. */
  burst?: number;
  /**
   * The fields an open carries. 'bench' (default, the rows' mix): the path, flags, mode and result (proto3 leaves
   * the zeros out: 2-4 fields). 'probe': also what the probe writes for every open it resolves (bpf/probe/decoder.cc):
   * its path flags (resolved, and the path as passed the same: not sent again), O_CLOEXEC on reads, and the file's
   * inode, device, links and mode: 7-8 fields, as a node's opens come. Same draws either way.
   */
  openFields?: 'bench' | 'probe';
  /**
   * How an open's numbers are encoded. 'numbers' (default): in OpenEvent.numbers, one fixed-layout field, as the
   * probe sends them. 'fields': each its own field, as the probe sent them before (to count the one against the
   * other: bench/README.md, "An open's numbers in one field"). The same events either way.
   */
  openWire?: 'numbers' | 'fields';
}

const READS = ['/etc/ld.so.cache', '/lib/x86_64-linux-gnu/libc.so.6', '/lib/x86_64-linux-gnu/libssl.so.3', '/etc/hosts', '/etc/resolv.conf',
  '/etc/nsswitch.conf', '/proc/self/stat', '/proc/meminfo', '/srv/app/config.yaml', '/usr/share/zoneinfo/UTC', '/dev/urandom', '/srv/app/static/'];
const O_WRONLY = 0o1;
const O_RDWR = 0o2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_APPEND = 0o2000;
const O_CLOEXEC = 0o2000000;

/** What the probe adds to an open of `path` (openFields 'probe'): a file's identity, stable per path. */
function probeOpenFields(path: string, flags: number): Record<string, unknown> {
  let h = 2166136261;
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 16777619);
  const dev = path.startsWith('/dev/');
  return {
    // The path as passed is the resolved one: not sent again.
    path, pathFlags: PATH_RESOLVED | PATH_RAW_SAME, flags: flags === 0 ? O_CLOEXEC : flags, ino: (h >>> 0) % 50_000_000 + 2,
    dev: dev ? 5 : (259 << 20) | 1, nlink: 1, fileMode: dev ? 0o20666 : 0o100644,
  };
}
const EXES = ['/usr/bin/python3', '/usr/sbin/nginx', '/usr/bin/node', '/usr/lib/jvm/java-17/bin/java', '/usr/local/bin/app'];

/** A workload's services: its database, cache, an API behind four pods, a sidecar. */
const SERVICES: [host: number, port: number][] = [[1, 5432], [2, 6379], [3, 443], [4, 443], [5, 443], [6, 443], [7, 8080]];

/** The process snapshot a probe sends on connect: every process, children of their workload's main process (process w of workload w). */
export function snapshotMessage(o: MixOptions): Buffer {
  const ProbeMessage = messageType('ProbeMessage');
  const processes = [];
  for (let proc = 0; proc < o.processes; proc++) {
    const w = proc % o.workloads;
    const exe = EXES[w % EXES.length]!;
    processes.push({ pid: 1000 + proc, ppid: proc === w ? 1 : 1000 + w, uid: 1000, gid: 1000, comm: 'worker', exe, argv: [exe.split('/').pop(), '--port', '8080'], cwd: '/srv/app', cgroupId: o.cgroupIds[w]!, startKtimeNs: 1e9 });
  }
  return Buffer.from(ProbeMessage.encode(ProbeMessage.fromObject({ snapshot: { processes, last: true } })).finish());
}

/** Protobuf varint. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/**
 * A ProbeMessage carrying one batch: `events` is an EventBatch's events
 * field as eventMix encodes it, `seq` its sequence number (the engine
 * skips a batch whose number it has seen, so each send needs a new one).
 */
export function batchMessage(seq: number, events: Buffer): Buffer {
  const seqField = Buffer.from([0x08, ...varint(seq)]);
  const len = seqField.length + events.length;
  return Buffer.concat([Buffer.from([0x12, ...varint(len)]), seqField, events]);
}

/** The mix's event batches, each the encoded events field of an EventBatch (see batchMessage). */
export function eventMix(o: MixOptions): Buffer[] {
  const EventBatch = messageType('EventBatch');
  const rand = rng(o.seed ?? 42);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
  const out: Buffer[] = [];
  let ktime = 1e12;
  const cpus = o.cpus ?? 16;
  const burst = o.burst ?? 8;
  const probeFields = o.openFields === 'probe';
  const asFields = o.openWire === 'fields';
  /** An open's wire form: its path, the probe's additions if asked, its numbers as asked. */
  const wireOpen = (open: { path: string; flags: number; mode: number; result: number }): Record<string, unknown> => {
    const all = probeFields ? { ...open, ...probeOpenFields(open.path, open.flags) } : open;
    return asFields ? all : probeOpen(all);
  };
  const running = new Array<number>(cpus).fill(0);
  const left = new Array<number>(cpus).fill(0);
  for (let b = 0; b < o.batches; b++) {
    const events: Record<string, unknown>[] = [];
    for (let i = 0; i < o.batchSize; i++) {
      const cpu = Math.floor(rand() * cpus);
      if (left[cpu]! <= 0) {
        running[cpu] = Math.floor(rand() * o.processes);
        left[cpu] = burst <= 1 ? 1 : Math.ceil(Math.log(1 - rand()) / Math.log(1 - 1 / burst));
      }
      left[cpu]!--;
      const proc = running[cpu]!;
      const pid = 1000 + proc;
      const w = proc % o.workloads;
      // Process w is its workload's main process, the parent of the others.
      const ppid = proc === w ? 1 : 1000 + w;
      const head = { ktimeNs: (ktime += 1000), pid, tid: pid, ppid, uid: 1000, gid: 1000, comm: 'worker', cgroupId: o.cgroupIds[w]! };
      const r = rand();
      if (r < 0.6) {
        const f = pick(READS);
        const open = { path: f.endsWith('/') ? `${f}${Math.floor(rand() * 20)}.js` : f, flags: 0, mode: 0, result: 5 };
        events.push({ ...head, open: wireOpen(open) });
      } else if (r < 0.7) {
        const k = rand();
        const open = k < 0.5
          ? { path: '/var/log/app/access.log', flags: O_WRONLY | O_APPEND | O_CREAT, mode: 0o644, result: 6 }
          : k < 0.8
            ? { path: `/tmp/upload-${Math.floor(rand() * 1e6)}`, flags: O_RDWR | O_CREAT | O_EXCL, mode: 0o600, result: 7 }
            : { path: '/dev/null', flags: O_WRONLY, mode: 0, result: 8 };
        events.push({ ...head, open: wireOpen(open) });
      } else if (r < 0.8) {
        const [host, port] = pick(SERVICES);
        events.push({ ...head, connect: { remote: { family: 2, address: Buffer.from([10, 0, w & 255, host]), port }, protocol: 6, result: -115 } });
      } else if (r < 0.85) {
        events.push({ ...head, accept: { remote: { family: 2, address: Buffer.from([10, 1, 2, Math.floor(rand() * 255)]), port: 30000 + Math.floor(rand() * 30000) }, local: { family: 2, address: Buffer.from([0, 0, 0, 0]), port: 8080 }, result: 9 } });
      } else if (r < 0.9) {
        const exe = EXES[w % EXES.length]!;
        events.push({ ...head, exec: { filename: exe, exe, argv: [exe.split('/').pop(), '--port', '8080'], cwd: '/srv/app' } });
      } else if (r < 0.95) {
        // A child in the same workload.
        const child = w + o.workloads * Math.floor(rand() * Math.floor(o.processes / o.workloads));
        events.push({ ...head, fork: { childPid: 1000 + child } });
      } else {
        events.push({ ...head, exit: { exitCode: 0, signal: 0 } });
      }
    }
    out.push(Buffer.from(EventBatch.encode(EventBatch.fromObject({ events })).finish()));
  }
  return out;
}

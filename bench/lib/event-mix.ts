// A realistic event mix for engine benchmarks, encoded once as real
// ProbeMessage bytes: mostly opens, then connects/accepts, then process
// lifecycle; hundreds of workloads, thousands of processes.
import { messageType } from '../../src/rpc/proto.js';

export interface MixOptions {
  workloads: number;
  processes: number;
  batchSize: number;
  batches: number;
  /** cgroup id of workload i (the bench maps these to real directories). */
  cgroupIds: number[];
}

/** Deterministic PRNG so every run replays the same mix. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const FILES = ['/etc/ld.so.cache', '/lib/x86_64-linux-gnu/libc.so.6', '/etc/hosts', '/etc/resolv.conf', '/proc/self/stat',
  '/var/log/app/access.log', '/srv/app/config.yaml', '/tmp/upload-', '/usr/share/zoneinfo/UTC', '/dev/null', '/dev/urandom'];
const EXES = ['/usr/bin/python3', '/usr/sbin/nginx', '/usr/bin/node', '/bin/sh', '/usr/bin/curl', '/usr/lib/jvm/java-17/bin/java'];

export function eventMix(o: MixOptions, seed = 42): Buffer[] {
  const ProbeMessage = messageType('ProbeMessage');
  const rand = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
  const out: Buffer[] = [];
  let ktime = 1e12;
  for (let b = 0; b < o.batches; b++) {
    const events: Record<string, unknown>[] = [];
    for (let i = 0; i < o.batchSize; i++) {
      const proc = Math.floor(rand() * o.processes);
      const pid = 1000 + proc;
      const w = proc % o.workloads;
      const head = { ktimeNs: (ktime += 1000), pid, tid: pid, ppid: 1000 + ((proc * 7) % o.processes), uid: 1000, gid: 1000, comm: 'worker', cgroupId: o.cgroupIds[w]! };
      const r = rand();
      if (r < 0.7) {
        const f = pick(FILES);
        events.push({ ...head, open: { path: f.endsWith('-') ? `${f}${Math.floor(rand() * 1e6)}` : f, flags: rand() < 0.8 ? 0 : 0o1101, mode: 0o644, result: 5 } });
      } else if (r < 0.8) {
        events.push({ ...head, connect: { remote: { family: 2, address: Buffer.from([10, 0, w & 255, 1 + Math.floor(rand() * 20)]), port: pick([443, 5432, 6379, 8080]) }, protocol: 6, result: -115 } });
      } else if (r < 0.85) {
        events.push({ ...head, accept: { remote: { family: 2, address: Buffer.from([10, 1, 2, Math.floor(rand() * 255)]), port: 30000 + Math.floor(rand() * 30000) }, local: { family: 2, address: Buffer.from([0, 0, 0, 0]), port: 8080 }, result: 9 } });
      } else if (r < 0.9) {
        const exe = pick(EXES);
        events.push({ ...head, exec: { filename: exe, exe, argv: [exe.split('/').pop(), '-c', 'run --port 8080'], cwd: '/srv/app' } });
      } else if (r < 0.95) {
        events.push({ ...head, fork: { childPid: 1000 + Math.floor(rand() * o.processes) } });
      } else {
        events.push({ ...head, exit: { exitCode: 0, signal: 0 } });
      }
    }
    out.push(Buffer.from(ProbeMessage.encode(ProbeMessage.fromObject({ batch: { seq: b + 1, events } })).finish()));
  }
  return out;
}

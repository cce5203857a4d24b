// Executables by identity in enforce mode: a learned path is allowed only
// as the file whose content was learned. The file at each path is looked
// up where the workload sees it (/proc/PID/root of a process in its
// cgroup) and hashed (cached per device, inode, change time and size);
// the kernel then allows that device and inode, or nothing at that path
// when the content is not one learned (replaced, bind-mounted over).
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { kernelDev } from '../enrich/known-tools.js';

export interface ExecIdentity {
  path: string;
  /** kernel dev_t; 0 with ino 0: no file there is allowed */
  dev: number;
  ino: number;
  /** its change time (a write, chmod or new link changes it, and the identity with it), seconds and ns */
  ctimeSec: number;
  ctimeNsec: number;
}

const MAX_BYTES = 256 << 20;


/** A process in the cgroup directory or below it (breadth first), or 0. */
function pidIn(cgroupDir: string, depth = 3): number {
  const queue: [string, number][] = [[cgroupDir, 0]];
  while (queue.length) {
    const [dir, d] = queue.shift()!;
    try {
      const first = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').find((l) => l.trim() !== '');
      if (first) return Number(first);
      if (d < depth) for (const ent of readdirSync(dir, { withFileTypes: true })) if (ent.isDirectory()) queue.push([join(dir, ent.name), d + 1]);
    } catch {
      // gone meanwhile
    }
  }
  return 0;
}

export class ExecIdentities {
  private readonly hashes = new Map<string, string>();

  /**
   * The identities of `entries` (paths with learned contents) as the
   * workload in `cgroupDir` sees them; null when no process runs there to
   * look through (the caller allows by path until one does).
   */
  resolve(entries: readonly { path: string; sha256: readonly string[] }[], cgroupDir: string): ExecIdentity[] | null {
    if (entries.length === 0) return [];
    const pid = pidIn(cgroupDir);
    if (!pid) return null;
    const root = `/proc/${pid}/root`;
    return entries.map((e) => this.identity(root, e.path, e.sha256));
  }

  private identity(root: string, path: string, learned: readonly string[]): ExecIdentity {
    let fd: number;
    try {
      fd = openSync(root + path, 'r');
    } catch {
      return { path, dev: 0, ino: 0, ctimeSec: 0, ctimeNsec: 0 };
    }
    try {
      const st = fstatSync(fd, { bigint: true });
      if (!st.isFile() || st.size > MAX_BYTES) return { path, dev: 0, ino: 0, ctimeSec: 0, ctimeNsec: 0 };
      const key = `${st.dev}:${st.ino}:${st.ctimeNs}:${st.size}`;
      let sum = this.hashes.get(key);
      if (!sum) {
        const h = createHash('sha256');
        const buf = Buffer.allocUnsafe(1 << 20);
        for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n));
        sum = h.digest('hex');
        if (this.hashes.size > 4096) this.hashes.clear();
        this.hashes.set(key, sum);
      }
      return learned.includes(sum) ? { path, dev: kernelDev(st.dev), ino: Number(st.ino), ctimeSec: Number(st.ctimeNs / 1_000_000_000n), ctimeNsec: Number(st.ctimeNs % 1_000_000_000n) } : { path, dev: 0, ino: 0, ctimeSec: 0, ctimeNsec: 0 };
    } catch {
      return { path, dev: 0, ino: 0, ctimeSec: 0, ctimeNsec: 0 };
    } finally {
      closeSync(fd);
    }
  }
}

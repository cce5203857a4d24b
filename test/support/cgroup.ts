// Test "containers": cgroup v2 directories with processes moved into
// them, and a plain directory tree standing in for the cgroup v2 mount.
// Shared by kernel tests, unit tests and benchmarks (no test-runner imports).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmdirSync, rmSync, statSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** The cgroup v2 mount point from /proc/self/mountinfo, or null. */
export function cgroup2Mount(): string | null {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [head, tail] = line.split(' - ');
    if (tail?.split(' ')[0] === 'cgroup2') return head!.split(' ')[4]!;
  }
  return null;
}

/** How long run() waits, after the command's exit, for its pipes to close (see run()). */
export const CLOSE_GRACE_MS = 2_000;

/** What TestCgroup.run resolves with. */
export interface RunResult {
  /** The exit code; null when a signal ended the command. */
  code: number | null;
  stdout: string;
  stderr: string;
  pid: number;
  /** False when a process the command left behind still held its pipes CLOSE_GRACE_MS after it exited: output may be cut. */
  stdioClosed: boolean;
}

/** A test container: a cgroup v2 directory, its id is the directory inode. */
export class TestCgroup {
  readonly dir: string;
  readonly path: string; // relative to the cgroup v2 mount, e.g. /vigil-test-ab12/web
  readonly id: string;
  private readonly children = new Set<ChildProcess>();

  constructor(parent: string, name: string) {
    const mount = cgroup2Mount()!;
    this.path = `${parent}/${name}`;
    this.dir = join(mount, this.path);
    mkdirSync(this.dir, { recursive: true });
    this.id = String(statSync(this.dir).ino);
  }

  /** Runs a command inside the cgroup: a shell joins it, then execs the command. */
  spawn(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
    const child = spawn(
      '/bin/sh',
      ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', this.dir, cmd, ...args],
      { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  /**
   * Runs a command in the cgroup to completion; resolves with its output once
   * its stdout and stderr are closed ('close'), not at its 'exit', when what it
   * wrote last can still be unread in the pipe (under load a result line came
   * back empty). A command that leaves a background process holding the pipes
   * would keep 'close' away for as long as that process lives: after 'exit',
   * 'close' is awaited for CLOSE_GRACE_MS (times VIGIL_TIME_SCALE) only, then
   * the pipes are let go and the run resolves with what was read by then,
   * `stdioClosed: false` saying so.
   */
  run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
    const scale = Number(process.env.VIGIL_TIME_SCALE ?? '1') || 1;
    return new Promise((resolve, reject) => {
      const child = this.spawn(cmd, args, opts);
      let stdout = '';
      let stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      let code: number | null = null;
      let grace: NodeJS.Timeout | undefined;
      let done = false;
      const finish = (stdioClosed: boolean): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearTimeout(grace);
        resolve({ code, stdout, stderr, pid: child.pid!, stdioClosed });
      };
      const timer = setTimeout(() => {
        done = true;
        child.kill('SIGKILL');
        reject(new Error(`${cmd} ${args.join(' ')} did not finish in time`));
      }, (opts.timeoutMs ?? 20_000) * scale);
      child.on('error', (e) => {
        done = true;
        clearTimeout(timer);
        reject(e);
      });
      child.on('exit', (c) => {
        if (done) return;
        code = c;
        clearTimeout(timer);
        grace = setTimeout(() => {
          // A process the command left behind holds the pipes: stop reading, so it cannot keep the test waiting.
          child.stdout!.destroy();
          child.stderr!.destroy();
          finish(false);
        }, CLOSE_GRACE_MS * scale);
      });
      child.on('close', () => finish(true));
    });
  }

  killAll(): void {
    for (const c of this.children) c.kill('SIGKILL');
  }
}

/** A parent cgroup for one test file, removed (with its children) at the end. */
export class TestCgroupTree {
  readonly root: string;
  private readonly groups: TestCgroup[] = [];

  constructor() {
    this.root = `/vigil-test-${randomBytes(4).toString('hex')}`;
  }

  group(name: string): TestCgroup {
    const g = new TestCgroup(this.root, name);
    this.groups.push(g);
    return g;
  }

  async remove(): Promise<void> {
    for (const g of this.groups) g.killAll();
    const mount = cgroup2Mount()!;
    const top = join(mount, this.root);
    // rmdir fails while the last processes are still being reaped: retry briefly.
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        for (const g of this.groups) if (existsSync(g.dir)) rmdirSync(g.dir);
        if (existsSync(top)) {
          for (const d of readdirSync(top, { withFileTypes: true })) if (d.isDirectory()) rmdirSync(join(top, d.name));
          rmdirSync(top);
        }
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}


/**
 * A directory tree in a fresh temporary directory standing in for the
 * cgroup v2 mount (the engine's cgroupMount), for tests without root or
 * without a probe: cgroup ids are the directories' inode numbers, exactly
 * as on the real one.
 */
export class FakeCgroupMount {
  /** The stand-in mount point. */
  readonly dir: string;

  /** Makes the tree with `cgroups` in it (paths below the mount, e.g. 'shop/web'). */
  constructor(cgroups: readonly string[] = []) {
    this.dir = mkdtempSync(join(tmpdir(), 'vigil-cgroupfs-'));
    for (const c of cgroups) this.add(c);
  }

  /** Makes a cgroup (and the ones above it); returns its id. */
  add(cgroup: string): number {
    mkdirSync(join(this.dir, cgroup), { recursive: true });
    return this.id(cgroup);
  }

  /** A cgroup's id: its directory's inode number. */
  id(cgroup: string): number {
    return statSync(join(this.dir, cgroup)).ino;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

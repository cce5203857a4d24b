// Diagnostic (not part of `npm run bench`): what each way of attaching
// programs costs before they do any work (issue 25 item 3). Programs that do
// nothing (bench/lib/floor/) are attached in turn:
//   none         nothing attached
//   tp-vigil     a perf-event tracepoint program on each syscall tracepoint
//                Vigil attaches (its --check-programs), as the probe does today
//   tp-openat    only sys_enter_openat and sys_exit_openat (a hot call)
//   tp-rare      only sys_enter_mount and sys_exit_mount (a call the build
//                never makes: the syscall-tracepoint work flag alone)
//   raw-sys      raw_tp on sys_enter and sys_exit, empty (every syscall runs it)
//   raw-dispatch raw_tp sys_enter/sys_exit dispatchers with a tail call per
//                syscall number into an empty program for Vigil's calls
//   raw-other    raw_tp on Vigil's other tracepoints (sched_process_*, ...)
// and each is measured three ways: getppid (no program watches it), open +
// close of one file (openat watched), each as the caller's CPU per call, and
// make -j2 of 150 C files (the build cgroup's CPU against the untraced build
// of the same round).
//   node --import tsx bench/attach-floor.ts [ROUNDS] [CONDITION...]
//   NO_BUILD=1: the per-call figures only (a round in seconds, not minutes).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestCgroupTree } from '../test/support/cgroup.js';
import { build, generateProject } from './lib/c-project.js';
import { cgroupCpuNs, median, probeUnavailable, runLoad, vigilTracepoints } from './lib/kernel.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const conditions = ['none', 'tp-vigil', 'tp-openat', 'tp-rare', 'raw-sys', 'raw-dispatch', 'raw-other'] as const;
type Condition = (typeof conditions)[number];

/** Compiles the floor programs and their loader (clang and the probe's vmlinux.h). */
function buildFloor(): { obj: string; loader: string } {
  const dir = join(tmpdir(), `vigil-floor-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const src = join(root, 'bench/lib/floor');
  const obj = join(dir, 'floor.bpf.o');
  const loader = join(dir, 'floor');
  const vmlinux = join(root, 'bpf/build');
  execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86', `-I${vmlinux}`, '-c', join(src, 'floor.bpf.c'), '-o', obj]);
  const libbpf = execFileSync('pkg-config', ['--cflags', '--libs', 'libbpf'], { encoding: 'utf8' }).trim().split(/\s+/).filter(Boolean);
  execFileSync('cc', ['-O2', '-o', loader, join(src, 'floor.c'), ...libbpf]);
  return { obj, loader };
}

/** Syscall numbers by name, from the C library's headers (x86-64). */
function syscallNumbers(): Map<string, number> {
  const text = readFileSync('/usr/include/x86_64-linux-gnu/asm/unistd_64.h', 'utf8');
  return new Map([...text.matchAll(/^#define __NR_(\w+) (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

function argsOf(c: Condition): string[] {
  const tps = vigilTracepoints().map((t) => t.replace(/^tracepoint:/, ''));
  const sys = tps.filter((t) => t.startsWith('syscalls:'));
  if (c === 'tp-vigil') return ['tp', ...sys];
  if (c === 'tp-openat') return ['tp', 'syscalls:sys_enter_openat', 'syscalls:sys_exit_openat'];
  if (c === 'tp-rare') return ['tp', 'syscalls:sys_enter_mount', 'syscalls:sys_exit_mount'];
  if (c === 'raw-sys') return ['raw', 'sys_enter', 'sys_exit'];
  if (c === 'raw-other') return ['raw', ...tps.filter((t) => !t.startsWith('syscalls:')).map((t) => t.split(':')[1]!)];
  const nrs = syscallNumbers();
  const names = new Set(sys.map((t) => t.replace(/^syscalls:sys_(enter|exit)_/, '')));
  return ['dispatch', ...[...names].map((n) => String(nrs.get(n) ?? '')).filter(Boolean)];
}

/** The loader holding `c`'s programs, once attached; closing its stdin detaches them. */
async function attach(c: Condition, floor: { obj: string; loader: string }): Promise<{ stop: () => Promise<void>; n: number }> {
  if (c === 'none') return { stop: async () => {}, n: 0 };
  const child: ChildProcess = spawn(floor.loader, [floor.obj, ...argsOf(c)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const n = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /ready (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`floor loader for ${c} exited ${code}: ${err.trim()}`)));
  });
  return {
    n,
    stop: async () => {
      child.stdin!.end();
      await exited;
    },
  };
}

const why = probeUnavailable();
if (why) {
  console.log(`skipped: ${why}`);
  process.exit(0);
}
const rounds = Number(process.argv[2] ?? 3);
const builds = process.env.NO_BUILD !== '1';
const chosen = (process.argv.slice(3).length ? process.argv.slice(3) : [...conditions]) as Condition[];
for (const c of chosen) if (!conditions.includes(c)) throw new Error(`unknown condition ${c} (one of ${conditions.join(', ')})`);
if (!chosen.includes('none')) chosen.unshift('none');
const floor = buildFloor();
const project = generateProject(150);
const tree = new TestCgroupTree();
const group = tree.group('build');
const procs = `${group.dir}/cgroup.procs`;

if (builds) await build(project, 2); // warm the page cache and the compiler
const results = new Map<Condition, { nop: number[]; open: number[]; build: number[]; attached: number }>();
try {
  for (let r = 0; r < rounds; r++) {
    // Rotated each round so no condition always runs at the same point of other work.
    const order = chosen.map((_, i) => chosen[(i + r) % chosen.length]!);
    const row: string[] = [];
    const cpu = new Map<Condition, number>();
    for (const c of order) {
      const t = await attach(c, floor);
      try {
        // The least of five short runs: other work on the node only ever adds.
        let nop = Infinity;
        let open = Infinity;
        for (let i = 0; i < 5; i++) {
          const a = await runLoad(['nop', '100000', '-'], { cpu: 1 });
          const b = await runLoad(['open', '30000', '/etc/hostname'], { cpu: 1 });
          nop = Math.min(nop, a.cpu_ns! / a.n);
          open = Math.min(open, b.cpu_ns! / b.n);
        }
        if (builds) {
          const cpu0 = cgroupCpuNs(group.dir);
          await build(project, 2, procs);
          cpu.set(c, cgroupCpuNs(group.dir) - cpu0);
        }
        const res = results.get(c) ?? { nop: [], open: [], build: [], attached: t.n };
        res.nop.push(nop);
        res.open.push(open);
        results.set(c, res);
        row.push(`${c} nop ${nop.toFixed(0)} ns, open ${open.toFixed(0)} ns`);
      } finally {
        await t.stop();
      }
    }
    const untraced = cpu.get('none') ?? 0;
    for (const [c, ns] of cpu) results.get(c)!.build.push(ns / untraced);
    const builtText = builds ? `; build CPU ${[...cpu].map(([c, ns]) => `${c} ${(ns / untraced).toFixed(3)}`).join(', ')} (untraced ${(untraced / 1e9).toFixed(2)} s)` : '';
    console.log(`round ${r + 1}: ${row.join('; ')}${builtText}`);
  }
} finally {
  await tree.remove();
}
const none = results.get('none')!;
console.log('\n| condition | programs | getppid ns/call (added) | open+close ns/call (added) | make -j2 CPU / none (rounds) |');
console.log('| --- | --- | --- | --- | --- |');
for (const [c, r] of results) {
  const nop = median(r.nop);
  const open = median(r.open);
  console.log(
    `| ${c} | ${r.attached} | ${nop.toFixed(0)} (${(nop - median(none.nop)).toFixed(0)}) | ${open.toFixed(0)} (${(open - median(none.open)).toFixed(0)}) | ` +
      `${median(r.build).toFixed(3)} (${r.build.map((x) => x.toFixed(3)).join(' ')}) |`,
  );
}
process.exit(0);

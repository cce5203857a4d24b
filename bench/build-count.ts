// The engine's work on a real build's messages, counted, not timed: a
// probe's stream over a make -j2 of 150 C files recorded once, then replayed
// into a fresh engine under valgrind's callgrind, message by message.
//   record (root, the probe built; heavy: under the bench lock):
//     node --import tsx bench/build-count.ts --record FILE [--all]
//   count (no lock):
//     node --import tsx bench/build-count.ts FILE [--runs N] [--repeat N] [--functions N] [--lines NAME] [--keep DIR] [TREE ...]
// Recording: Vigil as build-cost.ts starts it (the engine in this process,
// the probe its child, the shipped loss-report period), one build to warm it
// and one measured build; every message of the probe's stream is kept, from
// its hello, and where the measured build's start. Unless --all, the
// batches keep only the build cgroup's events (the other work on a shared
// host differs from run to run; batches left empty are dropped and the rest
// renumbered), so a count is the build's own. The engine's cgroup paths
// (id -> path) are kept too: the replaying engine is given them, as a
// node's engine would have found them.
// Counting: each TREE (a checkout of Vigil; default this one) is run --runs
// times, the trees alternating; a run is one node process (--single-threaded:
// V8 compiles and collects on the main thread) running TREE's engine under
// callgrind, and a sender (not under valgrind) that replays the recording
// over the real gRPC stream, each message after the engine has handled the
// one before (the engine writes a byte to a FIFO after each: one message a
// read, as a build's batches mostly come). The counted window is the
// measured build's messages. Per build: all instructions, V8's optimising
// compiles and collections apart; with --functions N the N costliest
// functions by their own and inclusive instructions (node --perf-basic-prof);
// with --lines NAME, NAME's instructions a build by where they are in its
// optimised code (lib/jit-lines.ts, as detect-count.ts --lines).
// Not in the count: the kernel's side of each syscall; the engine's timers
// run more often than in a real build (the replay is ~50x slower in wall
// time), so per-second work is over-represented (--functions shows it).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, constants as fsc } from 'node:fs';
import { Socket } from 'node:net';
import { getPriority, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countArgs, countedRun, dropPerfMap, dumpTotals, topFunctions } from './lib/callgrind.js';
import { printCodeFlags, showLines } from './lib/jit-lines.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);

/** A recording: its header (JSON) and the stream's messages in order. */
interface Header {
  /** Index of the measured build's first message (the ones before: hello, snapshot, the warm-up build). */
  measuredFrom: number;
  /** The build cgroup's id, and the engine's cgroup paths by id when the recording ended. */
  buildCgroup: number;
  cgroups: [number, string][];
  /** Events of the build cgroup in the measured build's messages, and its execs. */
  events: number;
  execs: number;
  all: boolean;
}

function writeRecording(file: string, header: Header, messages: Buffer[]): void {
  const h = Buffer.from(JSON.stringify(header));
  const parts: Buffer[] = [u32(h.length), h];
  for (const m of messages) parts.push(u32(m.length), m);
  writeFileSync(file, Buffer.concat(parts));
}

function readRecording(file: string): { header: Header; messages: Buffer[] } {
  const b = readFileSync(file);
  let at = 4 + b.readUInt32LE(0);
  const header = JSON.parse(b.subarray(4, at).toString('utf8')) as Header;
  const messages: Buffer[] = [];
  while (at < b.length) {
    const n = b.readUInt32LE(at);
    messages.push(b.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return { header, messages };
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

if (args[0] === '--record') await record(args[1]!, args.includes('--all'));
else if (args[0] === '--send') await send(args[1]!, args[2]!, args[3]!, Number(args[4]));
else if (process.env.VIGIL_BUILD_COUNT_CHILD === '1') await child();
else parent();

async function record(file: string, all: boolean): Promise<void> {
  const { parseConfig } = await import('../src/config/load.js');
  const { IngestServer } = await import('../src/ingest/server.js');
  const { messageType } = await import('../src/rpc/proto.js');
  const { TestCgroupTree } = await import('../test/support/cgroup.js');
  const { build, generateProject } = await import('./lib/c-project.js');
  const { probeUnavailable, sleep } = await import('./lib/kernel.js');
  const { startVigil } = await import('./lib/vigil-node.js');
  const why = probeUnavailable();
  if (why) throw new Error(`recording needs the probe: ${why}`);
  const project = generateProject(150);
  const tree = new TestCgroupTree();
  const group = tree.group('build');
  const procs = `${group.dir}/cgroup.procs`;
  await build(project, 2); // the page cache and the compiler warm
  const raw: Buffer[] = [];
  // Every message of every probe stream, as it arrives (before the engine's own handler reads it).
  const serve = (IngestServer.prototype as unknown as { serve: (call: NodeJS.EventEmitter) => void }).serve;
  (IngestServer.prototype as unknown as { serve: (call: NodeJS.EventEmitter) => void }).serve = function (this: unknown, call: NodeJS.EventEmitter) {
    call.on('data', (b: Buffer) => raw.push(Buffer.from(b)));
    serve.call(this, call);
  };
  const v = await startVigil({ probe: { lossReportMs: parseConfig({}).probe.lossReportMs } });
  let measuredFrom: number;
  try {
    await build(project, 2, procs); // the warm-up build, as build-cost.ts's
    await sleep(300);
    measuredFrom = raw.length;
    await build(project, 2, procs);
    await sleep(500); // its last events
  } finally {
    await v.stop();
    await tree.remove();
  }
  const buildCgroup = Number(group.id);
  const cgroups = [...(v.engine.cgroups as unknown as { byId: Map<number, string> }).byId.entries()];
  // The build cgroup's events only (unless --all): batches re-encoded, the empty ones dropped, numbered again from 1.
  const ProbeMessage = messageType('ProbeMessage');
  type Ev = { cgroupId: number; type?: number; exec?: unknown };
  const out: Buffer[] = [];
  let seq = 0;
  let from = 0;
  let events = 0;
  let execs = 0;
  for (let i = 0; i < raw.length; i++) {
    if (i === measuredFrom) from = out.length;
    const m = ProbeMessage.decode(raw[i]!) as unknown as { msg?: string; batch?: { seq: number; events: Ev[] } };
    if (m.msg !== 'batch') {
      out.push(raw[i]!);
      continue;
    }
    const kept = all ? m.batch!.events : m.batch!.events.filter((e) => e.cgroupId === buildCgroup);
    if (!kept.length) continue;
    m.batch!.events = kept;
    m.batch!.seq = ++seq;
    if (i >= measuredFrom) {
      for (const e of kept) {
        if (e.cgroupId !== buildCgroup) continue;
        events++;
        if (e.exec) execs++;
      }
    }
    out.push(Buffer.from(ProbeMessage.encode(m as never).finish()));
  }
  writeRecording(file, { measuredFrom: from, buildCgroup, cgroups, events, execs, all }, out);
  const batches = (xs: Buffer[]): number => xs.filter((b) => (ProbeMessage.decode(b) as unknown as { msg?: string }).msg === 'batch').length;
  console.log(
    `recorded ${out.length} messages (${raw.length} on the stream), the measured build's from ${from}: ${batches(out.slice(from))} batches, ` +
      `${events} events of the build's cgroup, ${execs} execs; ${cgroups.length} cgroup paths; ${file}`,
  );
  process.exit(0);
}

function parent(): void {
  const { flag, trees } = countArgs(args.slice(1), new Set(['--runs', '--functions', '--keep', '--repeat', '--lines', '--lines-min', '--lines-out']), join(HERE, '..'));
  const file = args[0];
  if (!file || file.startsWith('--')) throw new Error('usage: build-count.ts FILE [--runs N] [--functions N] [TREE ...] (or --record FILE)');
  const runs = Number(flag('--runs', '3'));
  const functions = Number(flag('--functions', '0'));
  // --keep DIR: each run's dump (and with --functions its perf map) copied there, for callgrind_annotate.
  const keep = flag('--keep', '');
  // --repeat N: the measured build sent N times over (pids, times and batch numbers moved on each time, as a next
  // build's are), the last one counted: an engine's (N+1)th build.
  const repeat = flag('--repeat', '1');
  const lines = flag('--lines', '');
  if (keep) mkdirSync(keep, { recursive: true });
  const { header, messages } = readRecording(file);
  console.log(`recording ${file}: ${messages.length - header.measuredFrom} messages in the measured build, ${header.events} events, ${header.execs} execs; trees: ${trees.join(', ')}`);
  const out = mkdtempSync(join(tmpdir(), 'vigil-build-count-'));
  const results = new Map<string, number[]>();
  for (let r = 0; r < runs; r++) {
    for (const tree of trees) {
      const dir = join(out, `${r}-${trees.indexOf(tree)}`);
      mkdirSync(dir);
      const t0 = Date.now();
      const code = join(dir, 'code.asm');
      const run = countedRun(`run ${r} of ${tree}`, dir, ['--single-threaded', '--initial-old-space-size=64', ...(functions > 0 ? ['--perf-basic-prof'] : []), ...(lines ? printCodeFlags(lines, code) : []),
        '--import', 'tsx', join(HERE, 'build-count.ts'), file, repeat], { ...process.env, VIGIL_BUILD_COUNT_CHILD: '1', VIGIL_TREE: tree }, tree, false, lines !== '');
      const info = JSON.parse(run.summary) as { messages: number; events: number };
      const ir = dumpTotals(run.dump).Ir!;
      const inclusive = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', run.dump], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout;
      const of = (fn: string): number => {
        const m = new RegExp(`^\\s*([\\d,]+) \\(\\s*[\\d.]+%\\)\\s+\\S*${fn}\\(`, 'm').exec(inclusive);
        return m ? Number(m[1]!.replaceAll(',', '')) : 0;
      };
      const compile = of('v8::internal::Runtime_CompileOptimized');
      const gc = of('v8::internal::Heap::CollectGarbage');
      const rest = ir - compile - gc;
      (results.get(tree) ?? results.set(tree, []).get(tree)!).push(rest);
      const M = (x: number): string => (x / 1e6).toFixed(1);
      console.log(
        `run ${r + 1}, ${tree}: ${info.messages} messages, ${info.events} events; ${M(rest)} M instructions for the build without compiles and GC ` +
          `(${(rest / info.messages).toFixed(0)} a message, ${(rest / info.events).toFixed(0)} an event; all ${M(ir)} M, optimising compiles ${M(compile)} M, GC ${M(gc)} M; ${((Date.now() - t0) / 1000).toFixed(0)} s)`,
      );
      if (keep) {
        const name = `${r + 1}-${basename(tree)}`;
        copyFileSync(run.dump, join(keep, `${name}.cg`));
        if (functions > 0) copyFileSync(`/tmp/perf-${/cg\.(\d+)\.2$/.exec(run.dump)![1]!}.map`, join(keep, `${name}.map`));
      }
      if (lines) {
        showLines(run.dump, readFileSync(code, 'utf8'), lines, 1, 'build', Number(flag('--lines-min', '100000')),
          join(flag('--lines-out', tmpdir()), `vigil-build-lines-${lines}-${r + 1}-${trees.indexOf(tree)}.txt`));
      }
      if (functions > 0) {
        topFunctions(run.dump, 1, 'build', functions, false);
        topFunctions(run.dump, 1, 'build', functions, false, true);
        dropPerfMap(run.dump);
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }
  rmSync(out, { recursive: true, force: true });
  for (const [tree, v] of results) {
    const s = [...v].sort((a, b) => a - b);
    console.log(`${tree}: median ${(s[Math.floor(s.length / 2)]! / 1e6).toFixed(1)} M instructions a build without compiles and GC (${v.map((x) => (x / 1e6).toFixed(1)).join(', ')})`);
  }
}

async function child(): Promise<void> {
  // Absolute: the tree's modules are imported by path (a relative one reads as a package name).
  const tree = resolve(process.env.VIGIL_TREE!);
  const src = (p: string): string => join(tree, 'src', p);
  const { parseConfig } = (await import(src('config/load.js'))) as typeof import('../src/config/load.js');
  const { Engine } = (await import(src('engine.js'))) as typeof import('../src/engine.js');
  const { IngestServer } = (await import(src('ingest/server.js'))) as typeof import('../src/ingest/server.js');
  const { silentLogger } = (await import(src('log.js'))) as typeof import('../src/log.js');
  const { scratchEngineInput } = await import('./lib/scratch-engine.js');
  const file = args[0]!;
  const { header, messages } = readRecording(file);
  const repeat = Number(args[1] ?? 1);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-build-count-'));
  const mount = join(dir, 'cgroup');
  mkdirSync(mount);
  const engine = new Engine(parseConfig(scratchEngineInput(dir)), silentLogger(), { cgroupMount: mount });
  await engine.start();
  // The paths the recording's engine had found (a node's engine finds them once): no walk, no /proc read.
  const byId = (engine.cgroups as unknown as { byId: Map<number, string> }).byId;
  for (const [id, path] of header.cgroups) byId.set(id, path);
  const fifo = join(dir, 'handled');
  execFileSync('mkfifo', [fifo]);
  // O_RDWR: opening does not wait for the sender's end.
  const handled = openSync(fifo, fsc.O_RDWR);
  const one = Buffer.from([1]);
  let seen = 0;
  let events = 0;
  let events0 = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  const total = header.measuredFrom + repeat * (messages.length - header.measuredFrom);
  const from = total - (messages.length - header.measuredFrom);
  const serve = (IngestServer.prototype as unknown as { serve: (call: NodeJS.EventEmitter) => void }).serve;
  (IngestServer.prototype as unknown as { serve: (call: NodeJS.EventEmitter) => void }).serve = function (this: unknown, call: NodeJS.EventEmitter) {
    serve.call(this, call);
    // After the engine's own handler: the message has been handled.
    call.on('data', () => {
      seen++;
      if (seen === from - 20 && !process.env.VIGIL_BUILD_COUNT_PLAIN) execFileSync('callgrind_control', ['-i', 'on', String(process.pid)], { stdio: 'ignore' });
      if (seen === from || seen === total) getPriority();
      // Plain (not under valgrind, VIGIL_BUILD_COUNT_PLAIN=1, e.g. with node --trace-opt --trace-deopt): where the measured build starts and ends.
      if (process.env.VIGIL_BUILD_COUNT_PLAIN && seen >= header.measuredFrom && (seen - header.measuredFrom) % (messages.length - header.measuredFrom) === 0) {
        console.log(seen === total ? '--- end' : `--- measured build ${(seen - header.measuredFrom) / (messages.length - header.measuredFrom) + 1}${seen === from ? ' (counted)' : ''}`);
      }
      if (seen === from) events0 = engine.ingest.sessions()[0]?.events ?? 0;
      if (seen === total) {
        events = (engine.ingest.sessions()[0]?.events ?? 0) - events0;
        done();
      }
      writeSync(handled, one);
    });
  };
  const sender = spawn(process.execPath, ['--import', 'tsx', join(HERE, 'build-count.ts'), '--send', `unix://${dir}/engine.sock`, file, fifo, String(repeat)], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, VIGIL_BUILD_COUNT_CHILD: '' },
  });
  await finished;
  await new Promise((r) => sender.once('exit', r));
  closeSync(handled);
  await engine.stop();
  rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({ messages: total - from, events }));
  process.exit(0);
}

/** The replaying probe: the recording's messages over the real gRPC stream, each once the engine has handled the one before. */
async function send(target: string, file: string, fifo: string, repeat: number): Promise<void> {
  const { credentials, makeGenericClientConstructor } = await import('@grpc/grpc-js');
  const { messageType } = await import('../src/rpc/proto.js');
  const { header, messages: recorded } = readRecording(file);
  const messages = recorded.slice();
  const ProbeMessage = messageType('ProbeMessage');
  type Ev = { ktimeNs: number; pid: number; tid: number; ppid: number; fork?: { childPid: number } };
  type Msg = { msg?: string; batch?: { seq: number; events: Ev[] } };
  const measured = recorded.slice(header.measuredFrom).map((b) => ProbeMessage.decode(b) as unknown as Msg);
  let seq = 0;
  let last = 0;
  for (const m of measured) {
    if (m.msg !== 'batch') continue;
    seq = Math.max(seq, m.batch!.seq);
    for (const e of m.batch!.events) last = Math.max(last, e.ktimeNs);
  }
  const events = measured.flatMap((m) => (m.msg === 'batch' ? m.batch!.events : []));
  const first = Math.min(...events.map((e) => e.ktimeNs));
  const pids = events.flatMap((e) => [e.pid, e.fork?.childPid ?? e.pid]);
  const pidSpan = Math.max(...pids) - Math.min(...pids) + 1;
  // Each repeat a new build: later in time by the build's span and a second, its pids past the last one's (by the
  // build's range of pids only: a pid that needs a longer varint than the recording's is a branch of the decoder the
  // recording never ran, which a node's growing pids reach once, not each build).
  for (let r = 1; r < repeat; r++) {
    const dt = (last - first + 1e9) * r;
    const dp = pidSpan * r;
    for (const m of measured) {
      if (m.msg !== 'batch') {
        messages.push(recorded[header.measuredFrom + measured.indexOf(m)]!);
        continue;
      }
      const copy = ProbeMessage.decode(ProbeMessage.encode(m as never).finish()) as unknown as Msg;
      copy.batch!.seq = ++seq;
      for (const e of copy.batch!.events) {
        e.ktimeNs += dt;
        e.pid += dp;
        e.tid += dp;
        if (e.ppid) e.ppid += dp;
        if (e.fork) e.fork.childPid += dp;
      }
      messages.push(Buffer.from(ProbeMessage.encode(copy as never).finish()));
    }
  }
  const hello = messageType('ProbeMessage').decode(messages[0]!) as unknown as { hello?: { commandsToken: string } };
  if (!hello.hello) throw new Error(`${file}: the first message is not a hello`);
  const pass = (b: Buffer): Buffer => b;
  const call = (path: string, requestStream: boolean) => ({ path, requestStream, responseStream: true, requestSerialize: pass, requestDeserialize: pass, responseSerialize: pass, responseDeserialize: pass });
  const Client = makeGenericClientConstructor({ Stream: call('/vigil.v1.ProbeService/Stream', true), Commands: call('/vigil.v1.ProbeService/Commands', false) }, 'ProbeService');
  const client = new Client(target, credentials.createInsecure(), { 'grpc.max_send_message_length': 64 << 20 }) as unknown as {
    Stream(): NodeJS.ReadWriteStream & { write(b: Buffer): boolean; end(): void };
    Commands(req: Buffer): NodeJS.ReadableStream & { cancel(): void };
  };
  let handled = 0;
  let wake: (() => void) | null = null;
  // A socket over the FIFO, not fs.createReadStream: that read blocks a libuv pool thread, and process.exit waits for it.
  new Socket({ fd: openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK), readable: true, writable: false }).on('data', (d) => {
    handled += d.length;
    wake?.();
  });
  const until = (n: number): Promise<void> => (handled >= n ? Promise.resolve() : new Promise<void>((r) => (wake = () => handled >= n && r())));
  const stream = client.Stream();
  stream.on('data', () => {});
  stream.on('error', (e: Error) => {
    console.error(`sender: ${e.message}`);
    process.exit(1);
  });
  stream.write(messages[0]!);
  const CommandsRequest = messageType('CommandsRequest');
  const commands = client.Commands(Buffer.from(CommandsRequest.encode({ token: hello.hello.commandsToken }).finish()));
  commands.on('data', () => {});
  commands.on('error', () => {});
  for (let i = 1; i < messages.length; i++) {
    await until(i);
    stream.write(messages[i]!);
  }
  await until(messages.length);
  stream.end();
  commands.cancel();
  process.exit(0);
}

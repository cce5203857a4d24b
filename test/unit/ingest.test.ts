// The engine's probe endpoint over a real gRPC unix socket, fed by a
// synthetic probe: events are decoded, attributed to processes and
// workloads, and anything wrong is counted and reported.
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { Client as GrpcClient, credentials, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { forkMore } from '../../src/model/event.js';
import { ControlClient } from '../../src/control/client.js';
import { useFakeCgroupMount } from '../support/cgroup-hooks.js';
import { TestEngine } from '../support/engine.js';
import { waitFor } from '../support/kernel.js';
import { SyntheticProbe } from '../support/synthetic-probe.js';
import { PROBE_RECEIVE_WINDOW } from '../../src/rpc/receive-window.js';
import { probeStreamMethod } from '../../src/ingest/server.js';

// A directory tree stands in for the cgroup v2 mount: ids are inode numbers of directories, exactly as on the real one.
const cgroups = useFakeCgroupMount({ web: 'shop/web/replica-1', db: 'shop/db', other: 'batch/job-7' });

let t: TestEngine;
let probe: SyntheticProbe | undefined;
afterEach(async () => {
  await probe?.close();
  probe = undefined;
  await t?.stop();
});

async function start(overrides = {}): Promise<void> {
  t = await TestEngine.start(
    { workloads: [{ name: 'web', cgroup: '/shop/web' }, { name: 'db', cgroup: '/shop/db', mode: 'monitor' }], ...overrides },
    { cgroupMount: cgroups.dir },
  );
  probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`);
  await waitFor('probe session', () => t.engine.ingest.sessions().length === 1);
}

describe('probe stream', () => {
  it('attributes events to processes and named or path workloads', async () => {
    await start();
    probe!.send({ snapshot: { processes: [{ pid: 100, ppid: 1, uid: 0, comm: 'sh', exe: '/bin/sh', argv: ['sh'], cgroupId: cgroups.id.web }], last: true } });
    probe!.sendBatch([
      { pid: 100, ppid: 1, cgroupId: cgroups.id.web, fork: { childPid: 101 } },
      { pid: 101, ppid: 100, cgroupId: cgroups.id.web, exec: { filename: 'curl', exe: '/usr/bin/curl', argv: ['curl', '-s', 'http://x'], cwd: '/srv' } },
      { pid: 101, ppid: 100, cgroupId: cgroups.id.web, connect: { remote: { family: 2, address: Buffer.from([10, 0, 0, 7]), port: 443 }, protocol: 6, result: -115 } },
      { pid: 200, ppid: 1, cgroupId: cgroups.id.db, open: { path: '/var/lib/pg/data', flags: 0o1101, mode: 0o600, result: 5 } },
      { pid: 300, ppid: 1, cgroupId: cgroups.id.other, accept: { remote: { family: 10, address: Buffer.from('20010db8000000000000000000000001', 'hex'), port: 5555 }, local: { family: 10, address: Buffer.alloc(16), port: 80 }, result: 7 } },
      { pid: 101, ppid: 100, cgroupId: cgroups.id.web, exit: { exitCode: 3, signal: 0 } },
    ]);
    await waitFor('six events', () => t.events.length === 6);
    const [fork, exec, connect, open, accept, exit] = t.events;

    expect(forkMore(fork!).childPid).toBe(101);
    expect(exec!).toMatchObject({ type: 'exec', path: '/usr/bin/curl', more: { argv: ['curl', '-s', 'http://x'], cwd: '/srv' } });
    expect(exec!.workload!.name).toBe('web');
    expect(exec!.workload!.cgroupPath).toBe('/shop/web/replica-1');
    // The child's process knows its parent from the snapshot, and what it ran before.
    expect(exec!.process!.lineage).toEqual(['/bin/sh']);
    expect(t.engine.tree.chain(exec!.process!).map((p) => p.exe)).toEqual(['/usr/bin/curl', '/bin/sh']);

    expect(connect!).toMatchObject({ addr: '10.0.0.7', port: 443, protocol: 'tcp', result: -115 });
    expect(open!).toMatchObject({ path: '/var/lib/pg/data', flags: 0o1101, result: 5 });
    expect(open!.workload!).toMatchObject({ name: 'db', mode: 'monitor' });
    // Outside any configured prefix, a workload is its cgroup path.
    expect(accept!).toMatchObject({ addr: '2001:db8::1', port: 5555, localAddr: '::', localPort: 80 });
    expect(accept!.workload!.name).toBe('/batch/job-7');
    expect(exit!.process!).toMatchObject({ exited: true, exitCode: 3 });
  });

  it('rejects a stream that does not start with hello, and keeps serving others', async () => {
    await start();
    const rogue = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { hello: false });
    rogue.sendBatch([{ pid: 1, cgroupId: cgroups.id.web, fork: { childPid: 2 } }]);
    await waitFor('the rogue stream to be rejected', () => t.engine.ingest.rejectedStreams === 1);
    expect(t.logLines.some((l) => l.msg.includes('expected hello'))).toBe(true);
    await rogue.close();
    probe!.sendBatch([{ pid: 5, cgroupId: cgroups.id.web, fork: { childPid: 6 } }]);
    await waitFor('the good probe still served', () => t.events.length === 1);
  });

  it('refuses a stream whose message is not a ProbeMessage, saying why to the probe and in the log, and keeps serving others', async () => {
    await start();
    // A raw call on the probe's method: its bytes go out as they are.
    const raw = new GrpcClient(`unix://${t.dir}/engine.sock`, credentials.createInsecure());
    const call = raw.makeBidiStreamRequest(probeStreamMethod.path, (b: Buffer) => b, (b: Buffer) => b);
    const failed = new Promise<ServiceError>((resolve) => call.on('error', resolve));
    call.on('data', () => {});
    // Field 1 (hello) says 5 bytes follow; 1 does.
    call.write(Buffer.from([0x0a, 0x05, 0x01]));
    const err = await failed;
    raw.close();
    expect(err.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^malformed ProbeMessage: .+ \(message 1 of the stream, 3 bytes\)$/);
    expect(t.engine.ingest.rejectedStreams).toBe(1);
    expect(t.logLines.some((l) => l.msg === `probe stream rejected: ${err.details}`)).toBe(true);
    probe!.sendBatch([{ pid: 5, cgroupId: cgroups.id.web, fork: { childPid: 6 } }]);
    await waitFor('the good probe still served', () => t.events.length === 1);
  });

  it('counts malformed events and missing batches instead of dropping them silently', async () => {
    await start();
    probe!.sendBatch([
      { pid: 0, cgroupId: cgroups.id.web, fork: { childPid: 2 } }, // no pid
      { pid: 9, cgroupId: cgroups.id.web }, // no kind
      { pid: 9, cgroupId: cgroups.id.web, connect: { remote: { family: 2, address: Buffer.from([1, 2, 3]), port: 1 } } }, // 3-byte IPv4
      { pid: 9, cgroupId: cgroups.id.web, fork: { childPid: 10 } },
    ], 1);
    probe!.sendBatch([{ pid: 9, cgroupId: cgroups.id.web, fork: { childPid: 11 } }], 5); // batches 2..4 never arrive
    await waitFor('two good events', () => t.events.length === 2);
    expect(t.engine.ingest.malformedEvents).toBe(3);
    const s = t.engine.status();
    expect(s.malformedEvents).toBe(3);
    expect(s.probes[0]!.batchGaps).toBe(3);
    const reasons = t.logLines.filter((l) => l.msg === 'malformed event rejected').map((l) => l.reason);
    expect(reasons).toEqual(['fork event without a pid', 'event without a kind', 'IPv4 address of 3 bytes']);
  });

  it('reports probe losses in status and in the log when they grow', async () => {
    await start();
    const loss = { ringbufFull: 0, inflightFull: 0, decodeErrors: 0, queueFull: 0, pathTruncated: 0, eventsTotal: 10 };
    probe!.send({ loss });
    probe!.send({ loss: { ...loss, ringbufFull: 42, queueFull: 7, eventsTotal: 90 } });
    await waitFor('loss report', () => t.engine.status().probes[0]?.losses.ringbufFull === 42);
    const warn = t.logLines.find((l) => l.msg === 'events lost before reaching the engine');
    expect(warn).toMatchObject({ level: 'warn', lost: { ringbufFull: 42, queueFull: 7 } });

    // The CLI sees the same numbers over the control socket.
    const client = new ControlClient(t.config.control.listen);
    try {
      const s = await client.status();
      expect(s.probes[0]!.losses).toMatchObject({ ringbufFull: 42, queueFull: 7, eventsTotal: 90 });
      expect(s.nodeName).toBe('test-node');
      expect(s.rulesLoaded).toBeGreaterThanOrEqual(30); // the built-in set
      expect(s.rulesSkipped).toBe(0);
    } finally {
      client.close();
    }
  });

  it('resumes a probe session after a reconnect and notices batches lost in between', async () => {
    await start();
    probe!.sendBatch([{ pid: 9, cgroupId: cgroups.id.web, fork: { childPid: 10 } }], 1);
    await waitFor('first batch', () => t.events.length === 1);
    await probe!.close();
    await waitFor('disconnect', () => t.engine.ingest.sessions().length === 0);
    probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { sessionId: probe!.sessionId });
    probe.sendBatch([{ pid: 9, cgroupId: cgroups.id.web, fork: { childPid: 12 } }], 4);
    await waitFor('second batch', () => t.events.length === 2);
    expect(t.engine.status().probes[0]!.batchGaps).toBe(2);
    expect(t.logLines.some((l) => l.msg === 'probe connected' && l.resumed === true)).toBe(true);
  });

  it('acknowledges processed batches, and skips what a probe resends after a reconnect', async () => {
    await start();
    probe!.sendBatch([{ pid: 9, cgroupId: cgroups.id.web, fork: { childPid: 10 } }], 1);
    probe!.sendBatch([{ pid: 9, cgroupId: cgroups.id.web, fork: { childPid: 11 } }], 2);
    await waitFor('two events', () => t.events.length === 2);
    await waitFor('the acknowledgement', () => probe!.commands.some((c) => c.ackedSeq === 2));
    const same = probe!.sessionId;
    await probe!.close();
    await waitFor('disconnect', () => t.engine.ingest.sessions().length === 0);
    probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { sessionId: same });
    // A probe that did not see the acknowledgement sends 1 and 2 again.
    probe.sendBatch([{ pid: 9, cgroupId: cgroups.id.web, fork: { childPid: 10 } }], 1);
    probe.sendBatch([{ pid: 9, cgroupId: cgroups.id.web, fork: { childPid: 11 } }], 2);
    probe.sendBatch([{ pid: 9, cgroupId: cgroups.id.web, fork: { childPid: 12 } }], 3);
    await waitFor('the new event', () => t.events.some((e) => forkMore(e).childPid === 12));
    expect(t.events.map((e) => forkMore(e).childPid)).toEqual([10, 11, 12]);
    expect(t.engine.ingest.sessions()[0]!.duplicateBatches).toBe(2);
    await waitFor('the acknowledgement', () => probe!.commands.some((c) => c.ackedSeq === 3));
  });

  it('acknowledges every 512 events without waiting for the timer: the probe reads more unacknowledged as an engine falling behind', async () => {
    await start();
    const batch = (from: number): { pid: number; cgroupId: number; fork: { childPid: number } }[] =>
      Array.from({ length: 200 }, (_, i) => ({ pid: 9, cgroupId: cgroups.id.web, fork: { childPid: from + i } }));
    // 600 events in three batches, then one more: the third batch is acknowledged by itself; the
    // timer alone (within 250 ms) would acknowledge all four at once.
    for (let seq = 1; seq <= 3; seq++) probe!.sendBatch(batch(seq * 1000), seq);
    probe!.sendBatch([{ pid: 9, cgroupId: cgroups.id.web, fork: { childPid: 9000 } }], 4);
    await waitFor('the acknowledgement of all four', () => probe!.commands.some((c) => c.ackedSeq === 4));
    expect(probe!.commands.filter((c) => c.ackedSeq).map((c) => c.ackedSeq)).toEqual([3, 4]);
  });

  it('reports the gap when a probe comes back as a new process, not when the same one reconnects', async () => {
    await start();
    const alerts: string[] = [];
    t.engine.onAlert((a) => alerts.push(`${a.priority} ${a.rule}: ${a.message}`));
    const same = probe!.sessionId;
    await probe!.close();
    await waitFor('disconnect', () => t.engine.ingest.sessions().length === 0);
    probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { sessionId: same });
    await waitFor('reconnect', () => t.engine.ingest.sessions().length === 1);
    expect(alerts).toEqual([]);
    await probe.close();
    await waitFor('disconnect', () => t.engine.ingest.sessions().length === 0);
    probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { sessionId: 'a-new-probe-process' });
    await waitFor('the gap reported', () => alerts.length === 1);
    expect(alerts[0]).toMatch(/^error Probe restarted: probe on synthetic-node restarted \(pid 1 → 1\): events between \S+ and now \(\d+ s\) were not observed; no workload was in enforce mode or quarantined$/);
  });

  it('answers pings: commands go down the probe\'s Commands call and come back acknowledged on its stream', async () => {
    await start();
    const session = t.engine.ingest.sessions()[0]!;
    await expect(session.command({ ping: {} })).resolves.toEqual({ ok: true, error: '', detail: 'pong' });
    expect(probe!.commands.some((c) => c.ping)).toBe(true);
  });

  it('holds commands and acknowledgements until the Commands call joins, whichever of the two calls comes first', async () => {
    await start();
    // The stream first: a ping sent before the Commands call exists is answered once it joins.
    const late = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { sessionId: 'late', commands: false });
    await waitFor('the late probe connected', () => t.engine.ingest.sessions().some((s) => s.hello.sessionId === 'late'));
    const session = t.engine.ingest.sessions().find((s) => s.hello.sessionId === 'late')!;
    late.sendBatch([{ pid: 31, cgroupId: cgroups.id.web, fork: { childPid: 32 } }], 1);
    const pong = session.command({ ping: {} });
    await new Promise((r) => setTimeout(r, 300)); // past the engine's 250 ms acknowledgement timer
    expect(late.commands).toEqual([]);
    late.openCommands();
    await expect(pong).resolves.toEqual({ ok: true, error: '', detail: 'pong' });
    await waitFor('the held acknowledgement', () => late.commands.some((c) => c.ackedSeq === 1));
    await late.close();
    // The Commands call first: it waits for the hello naming its token.
    const early = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { hello: false });
    early.openCommands();
    await new Promise((r) => setTimeout(r, 200));
    early.send({ hello: { nodeName: 'synthetic-node', probeVersion: 'synthetic', probePid: 2, bootToUnixNs: 0, sessionId: 'early', hooks: [], commandsToken: early.token } });
    await waitFor('the early probe connected', () => t.engine.ingest.sessions().some((s) => s.hello.sessionId === 'early'));
    const first = t.engine.ingest.sessions().find((s) => s.hello.sessionId === 'early')!;
    await expect(first.command({ ping: {} })).resolves.toEqual({ ok: true, error: '', detail: 'pong' });
    await early.close();
  });

  it('refuses a probe that opens only its stream, and a Commands call naming no live stream, saying why', async () => {
    await start();
    const old = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { sessionId: 'old', token: '', commands: false });
    const lone = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { sessionId: 'lone', commands: false });
    lone.openCommands('no-such-token');
    await waitFor('the tokenless stream refused', () => old.error);
    expect(old.error!.message).toMatch(/FAILED_PRECONDITION: hello names no commands token: this engine sends commands and acknowledgements on ProbeService.Commands/);
    await waitFor('the lone stream and stray Commands call refused', () => lone.error && lone.commandsError, 10_000);
    expect(lone.error!.message).toMatch(/FAILED_PRECONDITION: no ProbeService.Commands call named this stream's commands token within 5000 ms/);
    expect(lone.commandsError!.message).toMatch(/NOT_FOUND: no probe stream said hello with this commands token within 5000 ms/);
    expect(t.engine.ingest.sessions().map((s) => s.hello.sessionId)).toEqual([probe!.sessionId]);
    await old.close();
    await lone.close();
  }, 15_000);

  it('lets a probe have 1 MiB in flight before it must wait for the engine, not HTTP/2\'s default 64 KiB', async () => {
    await start();
    // A plain HTTP/2 client on the probe socket reads what the engine grants: per stream (SETTINGS) and per connection (WINDOW_UPDATE).
    const client: ClientHttp2Session = http2Connect('http://engine', { createConnection: () => netConnect(`${t.dir}/engine.sock`) });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('remoteSettings', () => resolve());
        client.once('error', reject);
      });
      expect(client.remoteSettings.initialWindowSize).toBe(PROBE_RECEIVE_WINDOW);
      await waitFor('the connection window update', () => client.state.remoteWindowSize === PROBE_RECEIVE_WINDOW);
    } finally {
      client.destroy();
    }
  });

  it('refuses to start a second engine on a socket a live engine holds', async () => {
    await start();
    await expect(TestEngine.start({}, { dir: t.dir, cgroupMount: cgroups.dir })).rejects.toThrow(/another engine is already listening/);
  });
});

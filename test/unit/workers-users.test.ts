// A container's user names with detection workers (engine.workers: 2) must
// be what one detection thread prints: an engine that has the probe read
// the container's /etc/passwd and /etc/group (rules.userFiles: probe, as the
// DaemonSet's capability-less engine ends up doing) asks it through the
// main thread's probe link from whichever worker owns the workload. The
// probe here is the synthetic one over real gRPC, answering ReadUserFiles
// with the files a container would have (the real probe's side:
// test/containers/users.test.ts); a fake cgroup tree names the container.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/model/alert.js';
import type { WireEngineCommand } from '../../src/probe/wire.js';
import { TestEngine } from '../support/engine.js';
import { waitFor } from '../support/kernel.js';
import { SyntheticProbe } from '../support/synthetic-probe.js';

const CID = 'c'.repeat(64);
const RULE = 'Cat run by the app user';
const dir = mkdtempSync(join(tmpdir(), 'vigil-workers-users-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cgDir = join(dir, 'cgroup');
mkdirSync(join(cgDir, 'docker', CID), { recursive: true });
const cgroupId = statSync(join(cgDir, 'docker', CID)).ino;
const rules = join(dir, 'rules.yaml');
writeFileSync(rules, `- rule: ${RULE}
  desc: cat run by uid 4242
  condition: evt.type = execve and evt.dir = < and proc.name = cat and user.uid = 4242
  output: cat run | user=%user.name group=%group.name
  priority: WARNING
`);

/** The probe's answer to ReadUserFiles: the container's own files (uid 4242 is `ctrapp`, unknown to the node). */
function answer(cmd: WireEngineCommand) {
  const r = cmd.readUserFiles;
  if (!r) return { ok: true, error: '', detail: '' };
  const [passwd, group] = r.node
    ? ['root:x:0:0::/root:/bin/sh\n', 'root:x:0:\n']
    : ['root:x:0:0::/root:/bin/sh\nctrapp:x:4242:4242::/app:/bin/sh\n', 'root:x:0:\nctrgroup:x:4242:\n'];
  return {
    ok: true, error: '', detail: 'read',
    files: [
      { name: 'passwd' as const, signature: `p-${r.cgroupId}`, content: Buffer.from(passwd), pid: r.pids[0] ?? 1 },
      { name: 'group' as const, signature: `g-${r.cgroupId}`, content: Buffer.from(group), pid: r.pids[0] ?? 1 },
    ],
  };
}

/** One engine with `workers` detection threads: what its alert prints, and what status says. */
async function run(workers: number): Promise<{ output: string; asked: number; status: string }> {
  const t = await TestEngine.start({
    engine: { workers },
    sinks: [],
    rules: { builtin: false, files: [rules], watch: false, userFiles: 'probe' },
    alerts: { foldWindowMs: 0 },
    // No runtime: the container is named by its cgroup path (its id from it), nothing held.
    containers: { runtimes: [] },
  }, { cgroupMount: cgDir });
  const probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { capabilities: ['user-files'] });
  probe.answer = answer;
  const alerts: Alert[] = [];
  t.engine.onAlert((a) => alerts.push(a));
  const asked = () => probe.commands.filter((c) => c.readUserFiles && !c.readUserFiles.node && c.readUserFiles.cgroupId === cgroupId);
  try {
    // The container's first event: its names are asked for now.
    probe.sendBatch([{ pid: 500, ppid: 1, uid: 0, gid: 0, cgroupId, open: { path: '/etc/hostname', flags: 0, mode: 0, result: 3 } }]);
    await waitFor('the probe asked for the container\'s files', () => asked().length > 0 || undefined, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    probe.sendBatch([{ pid: 501, ppid: 500, uid: 4242, gid: 4242, comm: 'cat', cgroupId, exec: { filename: '/bin/cat', path: '/bin/cat', argv: ['cat', '/etc/hostname'], cwd: '/' } }]);
    const a = await waitFor('the alert', () => alerts.find((x) => x.rule === RULE), 10_000);
    const askedBefore = asked().length;
    // Its runtime has removed it (what the engine does when it forgets a container): its names are dropped
    // wherever they are held, so an exec there after all (a late event) asks again rather than finding them.
    t.engine.forgetContainer(CID);
    await t.engine.workers?.settled();
    probe.sendBatch([{ pid: 502, ppid: 500, uid: 4242, gid: 4242, comm: 'cat', cgroupId, exec: { filename: '/bin/cat', path: '/bin/cat', argv: ['cat', '/etc/hostname'], cwd: '/' } }]);
    await waitFor('the probe asked again', () => asked().length > askedBefore || undefined, 10_000);
    // Status as the workers said it (within a second).
    const status = await waitFor('status says through the probe', () => {
      const u = t.engine.status().userNames;
      return /^through the probe/.test(u.containers) ? u.containers : undefined;
    }, 5_000);
    return { output: a.output, asked: askedBefore, status };
  } finally {
    await probe.close();
    await t.stop();
  }
}

describe("a container's user names with detection workers", () => {
  it('are asked of the probe through the main thread, print as with one thread, and are dropped when the container is forgotten', { timeout: 60_000 }, async () => {
    const one = await run(1);
    const two = await run(2);
    expect(one.output).toBe('cat run | user=ctrapp group=ctrgroup');
    expect(two.output).toBe(one.output);
    // Once per container, as one thread asks.
    expect(two.asked).toBe(1);
    expect(two.status).toBe(one.status);
  });
});

// The web console on the real kernel, in a real browser: a workload in a
// real cgroup, watched by the real probe, learns; from the page it is put
// in monitor mode, a new executable it runs shows up as an anomaly and is
// accepted into its profile after the diff is shown (running it again
// raises nothing), and a quarantine clicked on the page really cuts its
// network (its curl times out) until it is released there.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/control/audit.js';
import type { Alert } from '../../src/model/alert.js';
import type { ConsoleServer } from '../../src/console/server.js';
import { describeBrowser, openBrowser, screenshot, type TestBrowser } from '../support/browser.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';

describeKernel('the console on the real kernel', () => describeBrowser('in a real browser', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let web: TestCgroup;
  let server: Server;
  let port: number;
  let web_: ConsoleServer;
  let b: TestBrowser;
  const token = randomBytes(24).toString('base64url');
  const requests: string[] = [];
  let dir = '';

  beforeAll(async () => {
    tree = new TestCgroupTree();
    web = tree.group('web');
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      res.end('ok\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
    dir = mkdtempSync(join(tmpdir(), 'vigil-console-token-'));
    writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
    t = await TestEngine.start({
      workloads: [{ name: 'kweb', cgroup: tree.root }],
      sinks: [],
      console: { enabled: true, listen: 'tcp://127.0.0.1:0', tokenFile: join(dir, 'token') },
      profiles: { promotion: { minLearningSeconds: 3600, quietSeconds: 3600 } },
    });
    const c = t.engine.console;
    if (!c) throw new Error('the console did not start');
    web_ = c;
    await t.startProbe();
    b = await openBrowser();
  }, 60_000);

  afterAll(async () => {
    await b?.close();
    await web_?.stop();
    await t?.stop();
    server?.close();
    await tree?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const curl = () => web.run('/usr/bin/curl', ['-s', '--max-time', '2', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/x`]);
  const audit = (): AuditRecord[] => readFileSync(join(t.config.stateDir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AuditRecord);

  it('learns on the kernel, then is set to monitor from the page', async () => {
    expect((await web.run('/bin/cat', ['/etc/hostname'])).code).toBe(0);
    expect((await curl()).stdout).toBe('200');
    await waitFor('learned', () => {
      try {
        return t.engine.profiles.export('kweb')[0]!.spec.processes.some((p) => p.exe.endsWith('/curl'));
      } catch {
        return false;
      }
    });
    const page = b.page;
    await page.goto(`http://127.0.0.1:${web_.port}/#token=${token}`);
    await page.click('header nav a[href="#/workloads"]');
    const row = page.locator('tr[data-workload="kweb"]');
    await row.waitFor();
    await row.locator('select[name=mode]').selectOption('monitor');
    await row.locator('button.apply-mode').click();
    await page.locator('.toast.ok', { hasText: 'kweb is now in monitor mode' }).waitFor();
    expect(t.engine.workloads.find('kweb')!.mode).toBe('monitor');
    await screenshot(page, 'kernel-workloads');
  });

  it('a new executable is an anomaly on the page; accepted there, it is part of the profile', async () => {
    expect((await web.run('/usr/bin/id', ['-u'])).code).toBe(0);
    const page = b.page;
    await page.click('tr[data-workload="kweb"] a');
    const anomaly = page.locator('li.anomaly', { hasText: '/usr/bin/id' });
    await anomaly.waitFor({ timeout: 10_000 });
    await anomaly.locator('button.accept').click();
    const diff = (await anomaly.locator('pre.diff').textContent()) ?? '';
    expect(diff).toMatch(/^\+ process: \/usr\/bin\/id( \(parents .*\))? \(users 0\)\n$/);
    await screenshot(page, 'kernel-profile-diff');
    await anomaly.locator('button.apply-accept').click();
    await page.locator('.toast.ok', { hasText: 'is now part of kweb' }).waitFor();
    expect(t.engine.profiles.export('kweb')[0]!.spec.processes.map((p) => p.exe)).toContain('/usr/bin/id');
    // Run again: its exec is no anomaly now (the files it reads still are: only the executable was accepted).
    const raised: Alert[] = [];
    const stop = t.engine.onAlert((a) => raised.push(a));
    expect((await web.run('/usr/bin/id', ['-u'])).code).toBe(0);
    expect((await web.run('/bin/cat', ['/etc/hostname'])).code).toBe(0);
    await waitFor('both runs seen', () => t.events.filter((e) => e.type === 'exec' && e.path.endsWith('/cat')).length >= 2);
    stop();
    expect(raised.filter((a) => a.rule === 'new-executable').map((a) => a.fields['vigil.what'])).toEqual([]);
    expect(t.events.filter((e) => e.type === 'exec' && e.path === '/usr/bin/id')).toHaveLength(2);
  });

  it('quarantined from the page, its network is cut; released there, it is back', async () => {
    const page = b.page;
    await page.click('header nav a[href="#/workloads"]');
    await page.locator('tr[data-workload="kweb"] button.quarantine').click();
    await page.locator('tr[data-workload="kweb"] .quarantined').waitFor();
    const cut = await curl();
    expect(cut.code).toBe(28); // timed out: nothing got out
    expect(requests).toHaveLength(1);
    await screenshot(page, 'kernel-quarantined');
    await page.locator('tr[data-workload="kweb"] button.release').click();
    await page.locator('tr[data-workload="kweb"] button.quarantine').waitFor();
    expect((await curl()).stdout).toBe('200');
    expect(audit().map((e) => `${e.action} ${e.ok} ${e.via}`)).toEqual(['set-mode true console', 'accept-anomaly true console', 'quarantine true console', 'release true console']);
    expect(b.errors).toEqual([]);
  });
}));

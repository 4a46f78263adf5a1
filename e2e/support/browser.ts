/**
 * Browser launch for the e2e tests: playwright-core driving Debian's Chromium. Tests skip (not fail)
 * when Chromium is absent: use `skipReason` as the `skip` option of node:test.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { projectRoot } from '../../src/platform/config.ts';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** false when the browser is available; otherwise the reason the browser tests are skipped. */
export const skipReason: string | false = fs.existsSync(CHROMIUM_PATH) ? false : `Chromium absent (${CHROMIUM_PATH})`;

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // WebGL through the software renderer (the map).
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
      '--ignore-gpu-blocklist',
    ],
  });
}

/** A French-speaking browser context; errors in pages are collected in `errors`. */
export async function newContext(browser: Browser, options: BrowserContextOptions = {}): Promise<{ context: BrowserContext; errors: string[] }> {
  const context = await browser.newContext({ locale: 'fr-FR', timezoneId: 'Europe/Paris', viewport: { width: 1280, height: 900 }, ...options });
  const errors: string[] = [];
  context.on('page', (p) => watch(p, errors));
  return { context, errors };
}

export function watch(page: Page, errors: string[]): void {
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
}

export const SCREENSHOT_DIR = path.join(projectRoot, 'e2e', 'screenshots');

/** Saves a full-page screenshot under e2e/screenshots/ (git-ignored). */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * Runs `action` (a click or a key that submits a form or follows a link) and resolves once the NEW
 * document is loaded. `waitForLoadState('load')` alone resolves at once on the page still shown,
 * so checks run next could land on the old page, or in its context while it is being destroyed.
 */
export async function navigation(page: Page, action: () => Promise<unknown>): Promise<void> {
  const committed = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame() });
  await action();
  await committed;
  await page.waitForLoadState('load');
}

/**
 * The accessibility audit of the public site (the sample of src/modules/site/audit.ts): every page
 * in Chromium on a desktop (1280 × 900) and a phone (390 × 844) with axe-core, sideways scrolling
 * at 390 px and at 200 % zoom, the skip link reached by the first Tab with a visible outline, one
 * <h1>, a title and lang="fr". Fails on any finding. What it measured goes to
 * e2e/screenshots/accessibility-audit.json, and with UPDATE_ACCESSIBILITY_AUDIT=1 (`npm run
 * audit:accessibility`) to src/modules/site/accessibility-audit.json, which the site's
 * /accessibilite and /accessibilite/audit pages show.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { axeRun, formatViolations } from './support/axe.ts';
import { launchBrowser, newContext, screenshot, SCREENSHOT_DIR, skipReason } from './support/browser.ts';
import { startServer, type TestServer } from './support/server.ts';
import { AUDIT_RESULTS_FILE, AUDIT_SAMPLE, auditExamples, auditPath, pagePassed, type AuditResults, type PageResult, type ViewportResult } from '../src/modules/site/audit.ts';
import { siteData } from '../src/modules/site/wire.ts';
import { SOFTWARE_VERSION } from '../src/modules/site/pages/legal.ts';

let server: TestServer;
let browser: Browser;

async function settle(page: Page) {
  // Maps shown at once (place pages, wide results pages): wait until drawn, so axe sees the final page.
  if (await page.locator('[data-map]:visible').count()) {
    await page.waitForSelector('[data-map][data-ready="1"]', { timeout: 30_000 }).catch(() => undefined);
  }
}

const sideways = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

async function check(page: Page, url: string, width: number, height: number): Promise<ViewportResult & { version: string }> {
  await page.setViewportSize({ width, height });
  await page.goto(url);
  await settle(page);
  const r = await axeRun(page);
  return {
    width,
    height,
    rulesPassed: r.passes,
    violations: r.violations.map((v) => ({ rule: v.id, help: v.help, elements: v.count })),
    sidewaysPx: Math.max(0, await sideways(page)),
    version: r.version,
  };
}

describe('accessibility audit of the public site', { skip: skipReason }, () => {
  before(async () => {
    server = await startServer({ generated: 300 });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('every page of the sample passes every check, desktop and phone', async () => {
    const examples = await auditExamples(siteData(server.db));
    const { context } = await newContext(browser);
    const page = await context.newPage();
    const results: PageResult[] = [];
    let axeVersion = '';
    const problems: string[] = [];
    for (const p of AUDIT_SAMPLE) {
      const at = auditPath(p, examples);
      assert.ok(at, `${p.id}: no example page in the test data`);
      const url = server.url + at;
      const desktop = await check(page, url, 1280, 900);
      axeVersion = desktop.version;
      const structure = await page.evaluate(() => ({ h1: document.querySelectorAll('h1').length, title: document.title.trim().length > 0, lang: document.documentElement.lang === 'fr' }));
      let skipLink: boolean | null = null;
      if (!p.noSkipLink) {
        await page.goto(url);
        await page.keyboard.press('Tab');
        skipLink = await page.evaluate(() => {
          const a = document.activeElement as HTMLElement | null;
          return !!a && a.textContent === 'Aller au contenu' && getComputedStyle(a).outlineStyle !== 'none';
        });
      }
      const phone = await check(page, url, 390, 844);
      await page.setViewportSize({ width: 640, height: 900 });
      await page.goto(url);
      const zoom200SidewaysPx = Math.max(0, await sideways(page));
      const { version: _d, ...d } = desktop;
      const { version: _p, ...ph } = phone;
      const r: PageResult = { id: p.id, path: at, desktop: d, phone: ph, zoom200SidewaysPx, skipLink, structure };
      results.push(r);
      if (!pagePassed(r)) {
        problems.push(`${at}: ${JSON.stringify({ desktop: d.violations, phone: ph.violations, phoneSideways: ph.sidewaysPx, zoom200SidewaysPx, skipLink, structure })}`);
      }
      if (p.id === 'audit') {
        await page.setViewportSize({ width: 1280, height: 900 });
        await page.goto(url);
        await screenshot(page, 'accessibilite-audit');
      }
    }
    await context.close();
    const record: AuditResults = { date: new Date().toISOString(), software: SOFTWARE_VERSION, axe: axeVersion, browser: `Chromium ${browser.version()}`, pages: results };
    fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
    fs.writeFileSync(path.join(SCREENSHOT_DIR, 'accessibility-audit.json'), JSON.stringify(record, null, 2) + '\n');
    assert.deepEqual(problems, [], `pages with findings:\n${problems.join('\n')}\n${formatViolations([])}`);
    if (process.env.UPDATE_ACCESSIBILITY_AUDIT === '1') fs.writeFileSync(AUDIT_RESULTS_FILE, JSON.stringify(record, null, 2) + '\n');
  });
});

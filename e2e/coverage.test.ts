/**
 * The coverage pages in a real browser: axe-core on every page and state (France, région,
 * département, EPCI, planner result, "what if" result, form error), the map drawn with its picks,
 * the planner used with the keyboard, and no horizontal scrolling at 200 % zoom.
 * Skipped when Chromium is absent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { axeViolations, formatViolations } from './support/axe.ts';
import { launchBrowser, newContext, screenshot, skipReason } from './support/browser.ts';
import { startServer, type TestServer } from './support/server.ts';

let server: TestServer;
let browser: Browser;

async function expectAccessible(page: Page, what: string) {
  const v = await axeViolations(page);
  assert.equal(v.length, 0, `${what}: axe-core violations\n${formatViolations(v)}`);
}

async function waitForMap(page: Page) {
  await page.waitForSelector('#coverage-map[data-ready="1"]', { timeout: 60_000 });
  await page.waitForFunction(() => {
    const el = document.getElementById('coverage-map') as (HTMLElement & { maplibreMap?: { loaded(): boolean } }) | null;
    return el?.maplibreMap?.loaded() ?? false;
  }, undefined, { timeout: 60_000 });
}

describe('coverage pages in a browser', { skip: skipReason }, () => {
  let epci = '';
  before(async () => {
    server = await startServer({ generated: 1500 });
    browser = await launchBrowser();
    const r = await fetch(`${server.url}/api/v1/coverage/summary?level=epci&territory=27`);
    epci = ((await r.json()) as { areas: { code: string }[] }).areas[0]!.code;
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('has no axe-core violation on any coverage page, with the map drawn', async () => {
    const { context, errors } = await newContext(browser);
    const page = await context.newPage();
    for (const p of ['/couverture', '/couverture/region/28', '/couverture/departement/27?service=samedi&km=5', `/couverture/epci/${epci}`]) {
      await page.goto(server.url + p);
      await waitForMap(page);
      await expectAccessible(page, p);
    }
    await page.goto(server.url + '/couverture/departement/27');
    await waitForMap(page);
    await screenshot(page, 'couverture-departement');
    assert.deepEqual(errors, []);
    await context.close();
  });

  it('runs the planner with the keyboard and shows its picks on the map and in a table', async () => {
    const { context, errors } = await newContext(browser);
    const page = await context.newPage();
    await page.goto(server.url + '/couverture/departement/27');
    await waitForMap(page);
    await page.getByLabel('Distance (km)').fill('5');
    await page.getByLabel('Nombre de lieux à ouvrir').fill('4');
    await page.getByLabel('Nombre de lieux à ouvrir').press('Enter');
    await page.waitForURL(/\/couverture\/departement\/27\/plan/);
    await page.getByRole('heading', { name: 'Propositions du planificateur' }).waitFor();
    const rows = await page.locator('#resultat-plan tbody tr').count();
    assert.ok(rows >= 1 && rows <= 4, `${rows} picks`);
    await waitForMap(page);
    // A string, not a function: the TypeScript loader would add helpers the page does not have.
    const onMap = (await page.evaluate(`(() => {
      const m = document.getElementById('coverage-map').maplibreMap;
      const count = (id) => (m.getSource(id) ? m.getSource(id).serialize().data.features.length : 0);
      return { picks: count('picks'), layer: Boolean(m.getLayer('picks')), radii: count('radii') };
    })()`)) as { picks: number; layer: boolean; radii: number };
    assert.deepEqual(onMap, { picks: rows, layer: true, radii: rows });
    await expectAccessible(page, 'planner result');
    await screenshot(page, 'couverture-planificateur');

    assert.deepEqual(errors, []);

    // A wrong value is reported next to the form (status 400, which the browser logs), and the page stays accessible.
    await page.getByLabel('Nombre de lieux à ouvrir').fill('0');
    await page.getByRole('button', { name: 'Calculer' }).first().click();
    await page.getByText('Nombre de lieux à ouvrir : indiquez un nombre valide').waitFor();
    await expectAccessible(page, 'planner error');
    assert.deepEqual(errors, ['console: Failed to load resource: the server responded with a status of 400 (Bad Request)']);
    await context.close();
  });

  it('simulates an opening ("what if") and lists the communes that get closer', async () => {
    const { context, errors } = await newContext(browser);
    const page = await context.newPage();
    await page.goto(server.url + '/couverture/departement/27');
    await page.getByLabel('Lieux qui ouvriraient (« latitude, longitude », un par ligne)').fill('48.75, 0.85');
    await page.locator('#et-si').getByRole('button', { name: 'Calculer' }).click();
    await page.getByRole('heading', { name: 'Résultat de la simulation' }).waitFor();
    assert.match((await page.locator('#et-si').textContent()) ?? '', /0 fermeture\(s\), 1 ouverture\(s\)/);
    await waitForMap(page);
    await expectAccessible(page, 'what-if result');
    assert.deepEqual(errors, []);
    await context.close();
  });

  it('is readable at 200 % zoom without horizontal scrolling', async () => {
    const { context } = await newContext(browser, { viewport: { width: 640, height: 900 } });
    const page = await context.newPage();
    for (const p of ['/couverture', '/couverture/departement/27']) {
      await page.goto(server.url + p);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${p}: ${overflow} px of horizontal scrolling`);
    }
    await context.close();
  });
});

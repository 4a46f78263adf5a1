/**
 * The public site in a real browser (playwright-core + Debian's Chromium): the journeys residents
 * and professionals rely on, the map, the embed, and axe-core on every public page.
 * Skipped when Chromium is absent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { axeViolations, formatViolations } from './support/axe.ts';
import { launchBrowser, newContext, screenshot, skipReason } from './support/browser.ts';
import { startServer, type TestServer } from './support/server.ts';
import { startPartnerSite } from './support/partner.ts';
import { MEDIATHEQUE } from '../src/modules/site/tests/fixtures.ts';

let server: TestServer;
let browser: Browser;

async function expectAccessible(page: Page, what: string) {
  const v = await axeViolations(page);
  assert.equal(v.length, 0, `${what}: axe-core violations\n${formatViolations(v)}`);
}

/** Page errors, less the external basemap's DNS failure (this machine is offline: the map falls back). */
function own(errors: string[]): string[] {
  return errors.filter((e) => !/Failed to load resource: net::ERR_NAME_NOT_RESOLVED/.test(e));
}

async function waitForMap(page: Page) {
  await page.waitForSelector('[data-map][data-ready="1"]', { timeout: 30_000 });
  await page.waitForFunction(() => {
    const el = document.querySelector('[data-map="results"]') as (HTMLElement & { maplibreMap?: { loaded(): boolean } }) | null;
    return !el || (el.maplibreMap?.loaded() ?? false);
  }, undefined, { timeout: 30_000 });
}

describe('public site in a browser', { skip: skipReason }, () => {
  before(async () => {
    server = await startServer({ generated: 2000 });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('searches by commune name from the home page', async () => {
    const { context, errors } = await newContext(browser);
    const page = await context.newPage();
    await page.goto(server.url + '/');
    await expectAccessible(page, 'home');
    await screenshot(page, 'home');
    await page.getByLabel('Votre commune, votre code postal ou votre adresse').fill('Évreux');
    await page.getByRole('button', { name: 'Rechercher' }).click();
    await page.waitForURL(/\/recherche\?q=%C3%89vreux/);
    assert.equal(await page.locator('h1').textContent(), 'Lieux près de Évreux (27000)');
    assert.match((await page.locator('.results-summary').textContent()) ?? '', /lieux trouvés à moins de 10 km de Évreux/);
    await page.getByRole('link', { name: MEDIATHEQUE.nom, exact: true }).waitFor();
    await waitForMap(page);
    await expectAccessible(page, 'results');
    await screenshot(page, 'results');
    assert.deepEqual(own(errors), []);
    await context.close();
  });

  it('searches by postal code and filters the results', async () => {
    const { context, errors } = await newContext(browser);
    const page = await context.newPage();
    await page.goto(server.url + '/');
    await page.getByLabel('Votre commune, votre code postal ou votre adresse').fill('27000');
    await page.keyboard.press('Enter');
    await page.waitForURL(/q=27000/);
    assert.equal(await page.locator('h1').textContent(), 'Lieux près de Évreux (27000)');
    // Results come first: the first place is in the first screen.
    const first = await page.locator('.place-card').first().boundingBox();
    assert.ok(first && first.y < 800, `first result at ${first?.y} px`);
    await waitForMap(page);
    // A ticked filter applies at once: URL, list, chips, live count; the focus stays on the box.
    await page.getByText('Filtrer les résultats').click();
    assert.equal(await page.getByRole('button', { name: 'Appliquer les filtres' }).isVisible(), false);
    const box = page.getByLabel(/^Aide aux démarches administratives/);
    await box.focus();
    await page.keyboard.press('Space');
    await page.waitForURL(/services=Aide/);
    await page.getByRole('link', { name: 'France Services Évreux Nétreville', exact: true }).waitFor();
    assert.equal(await page.getByRole('link', { name: MEDIATHEQUE.nom, exact: true }).count(), 0);
    assert.ok(await box.isChecked());
    assert.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement).value), 'Aide aux démarches administratives');
    await page.waitForFunction(() => /lieux? trouvés? à moins de 10 km/.test(document.querySelector('[data-results-live]')?.textContent ?? ''));
    const live = await page.locator('[data-results-live]').textContent();
    assert.equal(live, (await page.locator('[data-results-summary]').textContent())?.trim());
    await page.locator('.chips .chip', { hasText: 'Aide aux démarches administratives' }).waitFor();
    await screenshot(page, 'results-filtered');
    // The chip removes the filter (a plain link: works without JavaScript too).
    await page.locator('.chips .chip').first().click();
    await page.waitForURL((u) => !u.search.includes('services='));
    await page.getByRole('link', { name: MEDIATHEQUE.nom, exact: true }).waitFor();
    assert.deepEqual(own(errors), []);
    await context.close();
  });

  it('opens a place page with its hours, contacts and report form', async () => {
    const { context, errors } = await newContext(browser);
    const page = await context.newPage();
    await page.goto(server.url + '/recherche?q=Evreux&sort=name');
    await page.getByRole('link', { name: MEDIATHEQUE.nom, exact: true }).click();
    await page.waitForURL(/\/lieux\//);
    assert.equal(await page.locator('h1').textContent(), MEDIATHEQUE.nom);
    assert.equal(await page.locator('a[href="tel:+33232787000"]').count(), 1);
    assert.equal(await page.locator('table.hours tbody tr').count(), 7);
    assert.equal(await page.locator('table.hours tr.today').count(), 1);
    await page.getByRole('heading', { name: 'Signaler une erreur' }).waitFor();
    await waitForMap(page);
    await expectAccessible(page, 'place');
    await screenshot(page, 'place');
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.locator('.report').isVisible(), false);
    assert.equal(await page.getByRole('heading', { name: 'Sur la carte' }).isVisible(), false);
    assert.ok(await page.locator('table.hours').isVisible());
    assert.ok(await page.getByText('1 place Sepmanville').isVisible());
    await screenshot(page, 'place-print');
    assert.deepEqual(own(errors), []);
    await context.close();
  });

  it('finds places around the visitor (mocked position)', async () => {
    const { context, errors } = await newContext(browser, { geolocation: { latitude: 49.0241, longitude: 1.1508 }, permissions: ['geolocation'] });
    const page = await context.newPage();
    await page.goto(server.url + '/');
    await page.getByRole('button', { name: 'Autour de moi' }).click();
    await page.waitForURL((u) => u.searchParams.get('near') === '49.02410,1.15080', { timeout: 60_000 });
    assert.equal(await page.locator('h1').textContent(), 'Lieux autour de vous');
    await page.getByRole('link', { name: MEDIATHEQUE.nom, exact: true }).waitFor();
    assert.deepEqual(own(errors), []);
    await context.close();
  });

  it('paginates and the back button returns to the previous page', async () => {
    const { context } = await newContext(browser);
    const page = await context.newPage();
    await page.goto(server.url + '/recherche?q=Evreux&sort=name');
    assert.match((await page.locator('.pagination .hint').textContent()) ?? '', /^Page 1 sur \d+$/);
    const firstOnPage1 = await page.locator('.place-card h3 a').first().textContent();
    await page.getByRole('link', { name: 'Page suivante' }).click();
    await page.waitForURL(/page=2/);
    assert.match((await page.locator('.pagination .hint').textContent()) ?? '', /^Page 2 sur \d+$/);
    assert.notEqual(await page.locator('.place-card h3 a').first().textContent(), firstOnPage1);
    await page.goBack();
    await page.waitForURL((u) => !u.search.includes('page=2'));
    assert.equal(await page.locator('.place-card h3 a').first().textContent(), firstOnPage1);
    await context.close();
  });

  it('on a phone: compact header, results first, a list/map switch', async () => {
    const { context, errors } = await newContext(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    await page.goto(server.url + '/recherche?q=Evreux');
    const header = (await page.locator('.site-header').boundingBox())!;
    assert.ok(header.height < 0.15 * 844, `header ${header.height} px`);
    assert.equal(await page.locator('.results-map').isVisible(), false);
    await page.getByRole('button', { name: 'Carte' }).click();
    await waitForMap(page);
    assert.ok(await page.locator('[data-map="results"]').isVisible());
    assert.equal(await page.locator('.place-list').isVisible(), false);
    assert.equal(await page.getByRole('button', { name: 'Carte' }).getAttribute('aria-pressed'), 'true');
    await screenshot(page, 'phone-map');
    await page.getByRole('button', { name: 'Liste' }).click();
    assert.ok(await page.locator('.place-list').isVisible());
    await screenshot(page, 'phone-list');
    assert.deepEqual(own(errors), []);
    await context.close();
  });

  it('without JavaScript: no empty map box, the filter button stays', async () => {
    const { context } = await newContext(browser, { javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(server.url + '/recherche?q=Evreux');
    assert.equal(await page.locator('.results-map').isVisible(), false);
    await page.getByText('Filtrer les résultats').click();
    await page.getByLabel(/^Aide aux démarches administratives/).check();
    await page.getByRole('button', { name: 'Appliquer les filtres' }).click();
    await page.waitForURL(/services=Aide/);
    await page.getByRole('link', { name: 'France Services Évreux Nétreville', exact: true }).waitFor();
    await context.close();
  });

  it('can be used with the keyboard only', async () => {
    const { context } = await newContext(browser);
    const page = await context.newPage();
    await page.goto(server.url + '/');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Aller au contenu');
    const focusOn = async (predicate: string, max = 40) => {
      for (let i = 0; i < max; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate(predicate)) return;
      }
      assert.fail(`focus never reached: ${predicate}`);
    };
    await focusOn(`document.activeElement?.id === 'q'`);
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    assert.notEqual(outline, 'none');
    await page.keyboard.type('Évreux');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/recherche/);
    // « Aller aux résultats » lands on the first result.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Aller aux résultats');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'premier-resultat');
    assert.ok(await page.evaluate(() => document.activeElement?.closest('.place-card')?.classList.contains('is-highlighted') || !document.querySelector('[data-map][data-ready]')));
    const name = await page.evaluate(() => document.activeElement!.textContent);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/lieux\//);
    assert.equal(await page.locator('h1').textContent(), name);
    await context.close();
  });

  it('map: clusters zoom in on click, a point opens its summary, « rechercher dans cette zone »', async () => {
    const { context, errors } = await newContext(browser);
    const page = await context.newPage();
    await page.goto(server.url + '/recherche');
    await waitForMap(page);
    await page.waitForSelector('.cluster-label', { timeout: 30_000 });
    // Offline here: the Plan IGN style cannot load, so the built-in basemap is drawn at once,
    // and the view fits the places (mainland France), never the whole world.
    assert.equal(await page.getAttribute('[data-map="results"]', 'data-basemap'), 'built-in');
    const zoom0 = await page.evaluate(() => (document.querySelector('[data-map="results"]') as HTMLElement & { maplibreMap: { getZoom(): number } }).maplibreMap.getZoom());
    assert.ok(zoom0 > 3.5, `initial zoom ${zoom0}`);
    await screenshot(page, 'map-builtin-france');
    const zoom = () => page.evaluate(() => (document.querySelector('[data-map="results"]') as HTMLElement & { maplibreMap: { getZoom(): number } }).maplibreMap.getZoom());
    const before = await zoom();
    // A cluster inside the view (the view fits the bulk of the places: outlying clusters lie outside).
    const box = await page.evaluate(() => {
      const canvas = document.querySelector('[data-map="results"] canvas')!.getBoundingClientRect();
      for (const l of document.querySelectorAll('.cluster-label')) {
        const r = l.getBoundingClientRect();
        const x = r.x + r.width / 2;
        const y = r.y + r.height / 2;
        if (x > canvas.left + 60 && x < canvas.right - 60 && y > canvas.top + 40 && y < canvas.bottom - 40) return { x, y };
      }
      return null;
    });
    assert.ok(box, 'a cluster inside the map');
    await page.mouse.click(box.x, box.y);
    await page.waitForFunction((z) => (document.querySelector('[data-map="results"]') as HTMLElement & { maplibreMap: { getZoom(): number } }).maplibreMap.getZoom() > z + 0.2, before, { timeout: 15_000 });
    await screenshot(page, 'map-cluster-zoomed');

    // Jump next to a known place and click it.
    const point = await page.evaluate(
      async ({ lon, lat }) => {
        const map = (document.querySelector('[data-map="results"]') as HTMLElement & { maplibreMap: any }).maplibreMap;
        map.jumpTo({ center: [lon, lat], zoom: 17 });
        await new Promise((r) => map.once('idle', r));
        const p = map.project([lon, lat]);
        const rect = map.getCanvas().getBoundingClientRect();
        return { x: rect.left + p.x, y: rect.top + p.y };
      },
      { lon: MEDIATHEQUE.longitude!, lat: MEDIATHEQUE.latitude! },
    );
    await page.mouse.click(point.x, point.y);
    await page.locator('.maplibregl-popup').getByText(MEDIATHEQUE.nom).waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('.maplibregl-popup a', { hasText: 'Voir la fiche du lieu' }).count(), 1);

    // Move the map by dragging: the area search appears and reloads the results for the view.
    const canvas = (await page.locator('[data-map="results"] canvas').boundingBox())!;
    await page.mouse.move(canvas.x + 100, canvas.y + canvas.height - 60);
    await page.mouse.down();
    await page.mouse.move(canvas.x + 160, canvas.y + canvas.height - 100, { steps: 8 });
    await page.mouse.up();
    await page.getByRole('button', { name: 'Rechercher dans cette zone' }).click();
    await page.waitForURL(/bbox=/);
    assert.equal(await page.locator('h1').textContent(), 'Lieux dans la zone de la carte');
    assert.deepEqual(own(errors), []);
    await context.close();
  });

  it('embeds the finder in another site, by iframe and by script tag', async () => {
    const { context, errors } = await newContext(browser);
    const page = await context.newPage();
    await page.goto(server.url + '/integrer?territory=departement%3A27&primary=%23224466&secondary=%23884400&height=900&map=1&map=0');
    await expectAccessible(page, 'snippet generator');
    const iframeCode = await page.locator('#snippet-iframe').inputValue();
    assert.match(iframeCode, /^<iframe src="http:\/\/127\.0\.0\.1:\d+\/embed\?territory=departement%3A27/);
    await screenshot(page, 'integrer');

    // The generator's live preview is allowed to frame the embed.
    await page.frameLocator('iframe.preview-frame').locator('h1', { hasText: 'Eure' }).waitFor({ timeout: 15_000 });

    // A partner's page on another site (its own little server, reached as « localhost » while
    // Maillage is « 127.0.0.1 ») pasting the script tag.
    const partner = await context.newPage();
    const script = await page.locator('#snippet-script').inputValue();
    const partnerSite = await startPartnerSite(`<!doctype html><html lang="fr"><head><title>Partenaire</title></head><body><h1>Site partenaire</h1>${script}</body></html>`);
    try {
      await partner.goto(`${partnerSite.url}/aide-numerique`);
      const frame = partner.frameLocator('iframe');
      await frame.locator('h1').waitFor({ timeout: 15_000 });
      assert.match((await frame.locator('h1').textContent()) ?? '', /Eure/);
      await frame.getByLabel('Votre commune, votre code postal ou votre adresse').fill('Évreux');
      await frame.getByRole('button', { name: 'Rechercher' }).click();
      await frame.locator('h1', { hasText: 'Lieux près de Évreux (27000)' }).waitFor();
      const embedded = partner.frames().find((f) => f.url().includes('/embed'))!;
      assert.match(embedded.url(), /primary=%23224466/);
      const colour = await embedded.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--color-primary').trim());
      assert.equal(colour, '#224466');
      assert.match((await frame.locator('.results-summary').textContent()) ?? '', /à moins de 10 km de Évreux \(27000\) \(territoire : Eure\)/);
    } finally {
      await partnerSite.close();
    }

    const direct = await context.newPage();
    await direct.goto(server.url + '/embed?territory=departement%3A27');
    await waitForMap(direct);
    await expectAccessible(direct, 'embed');
    await screenshot(direct, 'embed');
    assert.deepEqual(own(errors), []);
    await context.close();
  });

  it('the embed generator: a town hall types its commune, switches to its intercommunalité, sees the preview', async () => {
    const { context, errors } = await newContext(browser);
    const page = await context.newPage();
    await page.goto(server.url + '/integrer');
    await page.getByLabel('Votre commune ou votre intercommunalité').fill('Évreux');
    await page.getByRole('button', { name: 'Générer le code' }).click();
    await page.waitForURL(/collectivite=/);
    assert.match(await page.locator('#snippet-iframe').inputValue(), /\/embed\?territory=commune%3A27229/);
    assert.equal(await page.locator('#g-territory').inputValue(), 'commune:27229');
    await page.frameLocator('iframe.preview-frame').locator('h1', { hasText: 'Lieux : Évreux' }).waitFor({ timeout: 60_000 });
    assert.match((await page.frameLocator('iframe.preview-frame').locator('.results-summary').textContent()) ?? '', /\d+ lieux? trouvés?/);
    await expectAccessible(page, 'generator with a commune');
    await screenshot(page, 'integrer-commune');
    // Its intercommunalité in one click (a link beside the chosen commune).
    await page.locator('section[aria-labelledby="code"]').getByRole('link', { name: /Evreux Portes de Normandie/ }).click();
    await page.waitForURL(/territory=epci%3A/);
    assert.match(await page.locator('#snippet-script').inputValue(), /data-territory="epci:\d{9}"/);
    await page.frameLocator('iframe.preview-frame').locator('h1', { hasText: /Evreux Portes de Normandie/ }).waitFor({ timeout: 60_000 });
    // A name that matches nothing: an error summary that takes the focus, linking to the field.
    await page.getByLabel('Votre commune ou votre intercommunalité').fill('Zzqxwv');
    await page.getByRole('button', { name: 'Générer le code' }).click();
    await page.waitForURL(/collectivite=Zzqxwv/);
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('error-summary')), true);
    await expectAccessible(page, 'generator with an error');
    assert.equal(await page.locator('#snippet-iframe').count(), 0);
    assert.deepEqual(own(errors).filter((e) => !/status of 400/.test(e)), []);
    await context.close();
  });

  it('has no axe-core violation on any public page', async () => {
    const { context } = await newContext(browser);
    const page = await context.newPage();
    await page.goto(server.url + '/recherche?q=Evreux');
    const placeHref = (await page.getByRole('link', { name: MEDIATHEQUE.nom, exact: true }).getAttribute('href'))!;
    const pages = [
      '/territoires',
      '/territoires/region/28',
      '/territoires/departement/27',
      '/territoires/commune/27229',
      '/accessibilite',
      '/mentions-legales',
      '/donnees-personnelles',
      '/donnees',
      '/plan-du-site',
      '/code-source',
      '/integrer',
      '/lieux/00000000-0000-4000-8000-000000000000/inconnu',
      '/recherche?q=zzzzzz',
      `/recherche?territory=departement:27&services=${encodeURIComponent('Aide aux démarches administratives')}&page=2`,
      placeHref + '?signalement=merci',
    ];
    for (const p of pages) {
      await page.goto(server.url + p);
      if (await page.locator('[data-map]').count()) await waitForMap(page);
      await expectAccessible(page, p);
    }
    await page.goto(server.url + '/territoires/departement/27');
    await screenshot(page, 'territoire-departement');
    // Phones (390 px): axe again, and no page scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    for (const p of ['/', '/recherche?q=Evreux', placeHref, ...pages]) {
      await page.goto(server.url + p);
      // On phones the results map waits behind the Liste / Carte switch; only place maps show at once.
      if (await page.locator('[data-map="place"]').count()) await waitForMap(page);
      await expectAccessible(page, `${p} (390 px)`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 1, `${p} scrolls sideways at 390 px (${overflow} px)`);
    }
    // Readable at 200 % zoom: no horizontal scrolling on a 640 px wide window (1280 px at 200 %).
    await page.setViewportSize({ width: 640, height: 900 });
    for (const p of ['/', '/recherche?q=Evreux', placeHref]) {
      await page.goto(server.url + p);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 1, `${p} scrolls horizontally at 200 % zoom (${overflow} px)`);
    }
    await context.close();
  });
});

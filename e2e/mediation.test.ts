/**
 * The mediator's place picker in a real browser (playwright-core + Debian's Chromium): with
 * JavaScript, the ARIA combobox used by keyboard only (type, ↓, Entrée adds a ticked place, Échap
 * closes, the number of suggestions announced in a live region), then saved; without the script
 * (blocked, as when JavaScript is off), the server-rendered search form whose results come back as checkboxes. axe-core on every state.
 * Skipped when Chromium is absent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { axeViolations, formatViolations } from './support/axe.ts';
import { launchBrowser, navigation, newContext, skipReason } from './support/browser.ts';
import { startServer, type TestServer } from './support/server.ts';
import { openSession } from '../src/modules/accounts/service.ts';
import { depsFor, makeUser, type TestUser } from '../src/modules/accounts/tests/client.ts';
import { makePlace } from '../src/modules/mediation/tests/support.ts';

let server: TestServer;
let browser: Browser;

async function expectAccessible(page: Page, what: string) {
  const v = await axeViolations(page);
  assert.equal(v.length, 0, `${what}: axe-core violations\n${formatViolations(v)}`);
}

describe('mediation place picker in a browser', { skip: skipReason }, () => {
  let med: TestUser;
  let rouen: string;
  let caen: string;
  const placesOf = async () => (await server.db.query<{ place_uids: string[] }>('SELECT place_uids FROM mediation.mediator WHERE user_id = $1', [med.id])).rows[0]?.place_uids ?? [];

  before(async () => {
    server = await startServer({ places: [] });
    browser = await launchBrowser();
    rouen = await makePlace(server.db, '76540', 'Médiathèque Simone-Veil');
    caen = await makePlace(server.db, '14118', 'Tiers-lieu Le Quai');
    med = await makeUser(depsFor(server.db, server.config), 'picker-e2e@exemple.fr', [{ role: 'mediator', scopeKind: 'region', scopeId: '28' }], 'Médiatrice');
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  /** « Enregistrer » by keyboard; resolves once the page the POST redirects to is loaded. */
  async function save(page: Page) {
    await page.getByRole('button', { name: 'Enregistrer' }).focus();
    // The new document must have committed before checks run (axe once ran in the dying old page).
    await navigation(page, () => page.keyboard.press('Enter'));
    assert.equal(new URL(page.url()).pathname, '/mediation/profil');
  }

  async function signedIn(withScript: boolean) {
    const { context, errors } = await newContext(browser);
    // Without the picker's script (as when JavaScript is off or the script fails to load): the
    // page's own behaviour is the server-rendered fallback. (Chromium's JavaScript switch would
    // also stop axe-core, which runs inside the page.)
    if (!withScript) await context.route('**/mediation/assets/place-picker.js', (route) => route.abort());
    const token = await openSession(depsFor(server.db, server.config), med, 'full', 'password', { ip: '127.0.0.1', userAgent: 'e2e' }, null);
    await context.addCookies([{ name: 'maillage_session', value: token, url: server.url }]);
    return { context, errors, page: await context.newPage() };
  }

  it('combobox by keyboard: suggestions announced, ↓ and Entrée add a place, Échap closes, saved', { timeout: 180_000 }, async () => {
    const { context, errors, page } = await signedIn(true);
    await page.goto(`${server.url}/mediation/profil`);
    const input = page.locator('#f-lieu');
    assert.equal(await input.getAttribute('role'), 'combobox');
    assert.equal(await input.getAttribute('aria-expanded'), 'false');
    await expectAccessible(page, 'profile, picker closed');
    await input.focus();
    await page.keyboard.type('simone');
    await page.waitForSelector('#f-lieu-options [role="option"]');
    assert.equal(await input.getAttribute('aria-expanded'), 'true');
    assert.equal(await page.locator('#f-lieu-options').getAttribute('role'), 'listbox');
    assert.match((await page.locator('.place-search [role="status"]').textContent()) ?? '', /^1 lieu proposé\.$/);
    assert.match((await page.locator('#f-lieu-opt-0').textContent()) ?? '', /^Médiathèque Simone-Veil \d+ — 76\d{3} Rouen$/);
    await expectAccessible(page, 'profile, picker open');
    await page.keyboard.press('ArrowDown');
    assert.equal(await input.getAttribute('aria-activedescendant'), 'f-lieu-opt-0');
    assert.equal(await page.locator('#f-lieu-opt-0').getAttribute('aria-selected'), 'true');
    await page.keyboard.press('Enter');
    // Entrée added the place (a ticked checkbox) without submitting the search form.
    assert.equal(await page.locator(`#f-places input[name="places"][value="${rouen}"]`).isChecked(), true);
    assert.equal(await input.inputValue(), '');
    assert.equal(await input.getAttribute('aria-expanded'), 'false');
    assert.match((await page.locator('.place-search [role="status"]').textContent()) ?? '', /Médiathèque Simone-Veil \d+ ajouté à vos lieux/);
    // Échap closes the suggestions and keeps what was typed.
    await page.keyboard.type('quai');
    await page.waitForSelector('#f-lieu-opt-0:has-text("Tiers-lieu Le Quai")');
    await page.keyboard.press('Escape');
    assert.equal(await input.getAttribute('aria-expanded'), 'false');
    assert.equal(await page.locator('#f-lieu-options').isHidden(), true);
    assert.equal(await input.inputValue(), 'quai');
    assert.deepEqual(await placesOf(), [], 'nothing saved before « Enregistrer »');
    // Saving is the same form as without JavaScript: keyboard only.
    await page.locator('#f-employer').focus();
    await page.keyboard.type('Ville de Rouen');
    await save(page);
    assert.deepEqual(await placesOf(), [rouen]);
    assert.equal(await page.locator(`#f-places input[value="${rouen}"]`).isChecked(), true);
    await expectAccessible(page, 'profile saved');
    assert.deepEqual(errors, []);
    await context.close();
  });

  it('without the script: the search form returns checkboxes; tick and save; untick to remove', { timeout: 180_000 }, async () => {
    const { context, page } = await signedIn(false);
    await page.goto(`${server.url}/mediation/profil`);
    const input = page.locator('#f-lieu');
    assert.equal(await input.getAttribute('role'), null, 'no combobox without the script');
    await expectAccessible(page, 'profile without the script');
    await input.focus();
    await page.keyboard.type('Caen');
    await Promise.all([page.waitForURL(/lieu=Caen/), page.keyboard.press('Enter')]);
    assert.match((await page.locator('#f-places [role="status"]').textContent()) ?? '', /1 lieu trouvé pour « Caen »/);
    await expectAccessible(page, 'profile, search results without the script');
    const box = page.locator(`#f-places input[value="${caen}"]`);
    assert.equal(await box.isChecked(), false);
    await box.focus();
    await page.keyboard.press('Space');
    assert.equal(await box.isChecked(), true);
    await save(page);
    assert.deepEqual([...(await placesOf())].sort(), [rouen, caen].sort());
    // Untick the Rouen place and save: removed.
    await page.locator(`#f-places input[value="${rouen}"]`).focus();
    await page.keyboard.press('Space');
    await save(page);
    assert.deepEqual(await placesOf(), [caen]);
    await expectAccessible(page, 'profile saved without the script');
    await context.close();
  });
});

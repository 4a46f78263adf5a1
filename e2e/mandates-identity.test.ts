/**
 * Creating a mandate in a real browser (playwright-core + Debian's Chromium), with the person's
 * identity checked through OpenID Connect against the development provider MOUNTED on the serving
 * process (`/dev/identite`, as `npm start` runs it): the helper chooses the démarches, the person
 * picks their identity at the provider, reads the mandate in French and in its translated versions
 * (English; Arabic, right to left), consents, and the attestation comes with its QR code. axe-core on
 * the provider's page, the text to read (translations open) and the attestation.
 * Skipped when Chromium is absent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { axeViolations, formatViolations } from './support/axe.ts';
import { launchBrowser, newContext, skipReason } from './support/browser.ts';
import { startServer, type TestServer } from './support/server.ts';
import { openSession } from '../src/modules/accounts/service.ts';
import { depsFor, type TestUser } from '../src/modules/accounts/tests/client.ts';
import { createLogger } from '../src/platform/log.ts';
import type { AppContext } from '../src/platform/module.ts';
import { trainedHelperAccount } from '../src/modules/mandates/tests/support.ts';

let server: TestServer;
let browser: Browser;

async function expectAccessible(page: Page, what: string) {
  const v = await axeViolations(page);
  assert.equal(v.length, 0, `${what}: axe-core violations\n${formatViolations(v)}`);
}

describe('mandates: identity through the development provider, translations, attestation', { skip: skipReason }, () => {
  let helper: TestUser;

  before(async () => {
    server = await startServer({ places: [] });
    browser = await launchBrowser();
    const ctx: AppContext = { db: server.db, config: server.config, log: createLogger('silent') };
    helper = (await trainedHelperAccount(ctx, 'aidant-e2e@exemple.fr', 'Aidante E2E', { structureName: 'France Services de Bernay' })).user;
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('the helper starts, the person signs in at the provider, reads (FR, EN, AR), consents; the attestation has its QR code', { timeout: 240_000 }, async () => {
    const { context, errors } = await newContext(browser);
    const token = await openSession(depsFor(server.db, server.config), helper, 'full', 'password', { ip: '127.0.0.1', userAgent: 'e2e' }, null);
    await context.addCookies([{ name: 'maillage_session', value: token, url: server.url }]);
    const page = await context.newPage();
    await page.goto(`${server.url}/mandats/nouveau`);
    await page.getByLabel('Logement').check();
    await page.getByLabel('Argent, impôts').check();
    await page.getByLabel('1 mois').check();
    await page.getByRole('button', { name: /Vérifier l’identité avec/ }).click();
    // A page with a link to the provider (the CSP's form-action would stop a form's redirect to another origin).
    await page.getByRole('link', { name: /S’identifier avec/ }).click();

    // At the provider (same server, /dev/identite): French page, a test identity to pick.
    await page.waitForURL(/\/dev\/identite\/interaction\//);
    assert.equal(await page.getAttribute('html', 'lang'), 'fr');
    await expectAccessible(page, 'development provider');
    await page.getByLabel(/Marie-Hélène N’Diaye/).check();
    await page.getByRole('button', { name: 'Se connecter' }).click();

    // On the structure's device, the person's session at the provider ends at once (end_session_endpoint):
    // the development provider asks to confirm (FranceConnect does not), then sends the browser back.
    await page.waitForURL(/\/dev\/identite\/session\/end/);
    assert.equal(await page.getAttribute('html', 'lang'), 'fr');
    await page.getByRole('button', { name: 'Me déconnecter' }).click();

    // Back at Maillage: the verified identity and the text to read.
    await page.waitForURL(/\/mandats\/nouveau\/identite\/[0-9a-f-]{36}$/);
    assert.match((await page.locator('[role="status"]').first().textContent()) ?? '', /Marie-Hélène N’Diaye/);
    const arabic = page.locator('details[lang="ar"]');
    assert.equal(await arabic.getAttribute('dir'), 'rtl');
    await page.locator('details[lang="en"] summary').click();
    await arabic.locator('summary').click();
    assert.match((await arabic.locator('.plain').textContent()) ?? '', /السكن/);
    assert.equal(await arabic.evaluate((el) => getComputedStyle(el).direction), 'rtl');
    assert.match((await page.locator('details[lang="en"] .plain').textContent()) ?? '', /housing/);
    await expectAccessible(page, 'the mandate to read, translations open');

    // Consent: the mandate and its attestation.
    await page.getByLabel(/La personne a lu/).check();
    await page.getByRole('button', { name: /Créer le mandat/ }).click();
    await page.waitForSelector('h1:has-text("Attestation de mandat")');
    assert.equal(await page.locator('figure svg[role="img"]').count(), 1);
    assert.ok(await page.getByRole('button', { name: 'Imprimer' }).isVisible(), 'the print button, enabled by its script');
    assert.match((await page.locator('a[download]').getAttribute('href')) ?? '', /^data:application\/pdf;base64,/);
    await expectAccessible(page, 'attestation');
    const { rows } = await server.db.query<{ identity_check: string; given_name: string }>("SELECT identity_check, given_name FROM mandates.person WHERE identity_check = 'oidc'");
    assert.deepEqual(rows.map((r) => ({ ...r })), [{ identity_check: 'oidc', given_name: 'Marie-Hélène' }]);

    // The QR code's page, as someone scanning it would open it: valid, nothing personal.
    const verify = await page.locator('figure figcaption a').getAttribute('href');
    await page.goto(verify!);
    assert.match((await page.locator('[role="status"]').textContent()) ?? '', /valide/);
    assert.doesNotMatch(await page.content(), /N’Diaye|Bernay/);
    await expectAccessible(page, 'verification page');
    assert.deepEqual(errors, []);
    await context.close();
  });
});

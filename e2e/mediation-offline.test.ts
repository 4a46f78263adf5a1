/**
 * Offline-tolerant recording in a real browser (playwright-core + Debian's Chromium): an activity
 * typed without network is kept in the browser (localStorage) and said so; nothing reaches the
 * server; when the connection comes back it is sent once and leaves the browser. A record whose
 * answer is lost (the server recorded it, the browser never heard) is sent again and the server's
 * idempotency key keeps it at one row. A record kept on the device is also sent when the form is
 * opened again. axe-core on every state. Skipped when Chromium is absent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { axeViolations, formatViolations } from './support/axe.ts';
import { launchBrowser, newContext, skipReason } from './support/browser.ts';
import { startServer, type TestServer } from './support/server.ts';
import { openSession } from '../src/modules/accounts/service.ts';
import { depsFor, makeUser, type TestUser } from '../src/modules/accounts/tests/client.ts';
import { updateProfile } from '../src/modules/mediation/service.ts';
import { makePlace } from '../src/modules/mediation/tests/support.ts';

let server: TestServer;
let browser: Browser;
const PENDING = 'maillage.mediation.pending';

async function expectAccessible(page: Page, what: string) {
  const v = await axeViolations(page);
  assert.equal(v.length, 0, `${what}: axe-core violations\n${formatViolations(v)}`);
}

describe('mediation: records kept offline and sent again in a browser', { skip: skipReason }, () => {
  let med: TestUser;
  const rows = async () => (await server.db.query<{ n: number }>('SELECT count(*)::int AS n FROM mediation.activity WHERE mediator_id = $1', [med.id])).rows[0]!.n;
  const counter = async () =>
    Number((await server.db.query<{ v: string | null }>(`SELECT sum(value)::bigint AS v FROM mediation.stat_counter WHERE scope = 'mediator' AND scope_id = $1 AND metric = 'activities'`, [med.id])).rows[0]!.v ?? 0);
  const pending = (page: Page) => page.evaluate((k) => JSON.parse(localStorage.getItem(k) || '[]').length as number, PENDING);
  const status = (page: Page) => page.locator('#offline-status').textContent();

  before(async () => {
    server = await startServer({ places: [] });
    browser = await launchBrowser();
    const place = await makePlace(server.db, '76540', 'Médiathèque Simone-Veil');
    med = await makeUser(depsFor(server.db, server.config), 'offline-e2e@exemple.fr', [{ role: 'mediator', scopeKind: 'region', scopeId: '28' }], 'Médiatrice');
    await updateProfile({ db: server.db, config: server.config }, med.id, 'Médiatrice', { employer: 'Ville de Rouen', placeUids: [place] });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function signedIn() {
    const { context, errors } = await newContext(browser);
    const token = await openSession(depsFor(server.db, server.config), med, 'full', 'password', { ip: '127.0.0.1', userAgent: 'e2e' }, null);
    await context.addCookies([{ name: 'maillage_session', value: token, url: server.url }]);
    return { context, errors, page: await context.newPage() };
  }

  /** Fills the form (a 45-minute individual session on e-mail) by keyboard and mouse-free checks. */
  async function fill(page: Page) {
    await page.goto(`${server.url}/mediation/activites/nouvelle`);
    await page.locator('input[name="duration"][value="45"]').check();
    await page.locator('input[name="themes"][value="e-mail"]').check();
  }

  it('typed offline: kept on the device, sent once when the network returns', { timeout: 180_000 }, async () => {
    const { context, errors, page } = await signedIn();
    await fill(page);
    await expectAccessible(page, 'recording form');
    await context.setOffline(true);
    await page.getByRole('button', { name: 'Enregistrer' }).click();
    await page.waitForFunction(() => /Pas de réseau/.test(document.getElementById('offline-status')?.textContent ?? ''));
    assert.match((await status(page)) ?? '', /gardée sur cet appareil et sera envoyée au retour de la connexion/);
    assert.equal(await pending(page), 1);
    assert.equal(await rows(), 0, 'nothing reached the server');
    await expectAccessible(page, 'form with a record kept offline');
    // Sending again while still offline changes nothing: the same record (same key) is kept once.
    await page.getByRole('button', { name: 'Enregistrer' }).click();
    await page.waitForTimeout(300);
    assert.equal(await pending(page), 1);
    assert.equal(await rows(), 0);
    // The connection comes back: the browser's « online » event sends it.
    await context.setOffline(false);
    await page.waitForFunction((k) => JSON.parse(localStorage.getItem(k) || '[]').length === 0, PENDING);
    assert.equal(await rows(), 1);
    assert.equal(await counter(), 1);
    assert.equal((await status(page)) ?? '', '');
    await expectAccessible(page, 'form after the record was sent');
    assert.deepEqual(errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|Failed to fetch/.test(e)), []);
    await context.close();
  });

  it('an answer lost on the way: sent again, recorded once (idempotency key); a kept record is sent when the form opens again', { timeout: 180_000 }, async () => {
    const before = await rows();
    const { context, page } = await signedIn();
    await fill(page);
    // The server receives and records the activity, but the browser never gets the answer.
    let lost = 0;
    await page.route('**/mediation/activites', async (route) => {
      if (route.request().method() !== 'POST' || lost > 0) return route.continue();
      lost++;
      await route.fetch();
      await route.abort('connectionreset');
    });
    await page.getByRole('button', { name: 'Enregistrer' }).click();
    await page.waitForFunction(() => /Pas de réseau/.test(document.getElementById('offline-status')?.textContent ?? ''));
    assert.equal(lost, 1);
    assert.equal(await rows(), before + 1, 'the server did record it');
    assert.equal(await pending(page), 1, 'the browser still keeps it: it never heard back');
    // Opening the form again (e.g. the next day) sends what is kept: the server answers « already
    // recorded » (same key), the record leaves the device, and nothing is counted twice.
    await page.goto(`${server.url}/mediation/activites/nouvelle`);
    await page.waitForFunction((k) => JSON.parse(localStorage.getItem(k) || '[]').length === 0, PENDING);
    assert.equal(await rows(), before + 1);
    assert.equal(await counter(), before + 1);
    await expectAccessible(page, 'form after the resend');
    await context.close();
  });
});

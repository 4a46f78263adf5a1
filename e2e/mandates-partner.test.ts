/**
 * A helper signs in at the demo partner service "for" a person, in a real browser
 * (playwright-core + Debian's Chromium): the partner's button, Maillage's choice page (keyboard
 * only, axe-core), back at the partner with the person's identity and the one démarche.
 * Skipped when Chromium is absent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { axeViolations, formatViolations } from './support/axe.ts';
import { launchBrowser, newContext, skipReason } from './support/browser.ts';
import { startServer, type TestServer } from './support/server.ts';
import { openSession } from '../src/modules/accounts/service.ts';
import { depsFor, makeUser } from '../src/modules/accounts/tests/client.ts';
import { createLogger } from '../src/platform/log.ts';
import type { AppContext } from '../src/platform/module.ts';
import * as service from '../src/modules/mandates/service.ts';
import { addPartner } from '../src/modules/mandates/provider.ts';
import { startPartnerDemo, type PartnerDemo } from '../src/modules/mandates/partner-demo.ts';
import { PERSON, placeIn } from '../src/modules/mandates/tests/support.ts';

let server: TestServer;
let browser: Browser;
let demo: PartnerDemo;

describe('mandates: signing in at a partner service for a person, in a browser', { skip: skipReason }, () => {
  let token = '';
  let mandateId = '';

  before(async () => {
    server = await startServer({ places: [] });
    browser = await launchBrowser();
    const ctx: AppContext = { db: server.db, config: server.config, log: createLogger('silent') };
    const place = await placeIn(server.db);
    const deps = depsFor(server.db, server.config);
    const helper = await makeUser(deps, 'partner-e2e@exemple.fr', [{ role: 'helper', scopeKind: 'place', scopeId: place }], 'Aidante E2E', { totp: true });
    const s = await service.createStructure(ctx, null, { name: 'France Services E2E', siret: '', placeUid: place });
    await service.addHelper(ctx, null, s.id, helper.id, 'Aidante E2E');
    await service.recordTraining(ctx, null, s.id, helper.id, { trainedOn: '2025-03-01', trainingRef: 'Formation' });
    mandateId = (await service.createMandate(ctx, helper.id, s.id, { ...PERSON, procedures: ['argent-impots', 'logement'], duration: '1m' })).id;
    demo = await startPartnerDemo({ issuer: `${server.url}/oidc`, insecure: true, name: 'Impôts (démo)' });
    const p = await addPartner(ctx, null, { name: 'Impôts (démo)', redirectUris: [demo.redirectUri] });
    demo.useClient(p.clientId, p.clientSecret);
    token = await openSession(deps, helper, 'full', 'password', { ip: '127.0.0.1', userAgent: 'e2e' }, null);
  });
  after(async () => {
    await demo?.close();
    await browser?.close();
    await server?.close();
  });

  it('partner → choose the person by keyboard → back at the partner with the identity and the démarche', { timeout: 180_000 }, async () => {
    const { context, errors } = await newContext(browser);
    await context.addCookies([{ name: 'maillage_session', value: token, url: server.url }]);
    const page = await context.newPage();
    await page.goto(demo.url);
    await page.selectOption('#demarche', 'argent-impots');
    await page.getByRole('button', { name: 'Se connecter avec Maillage (aidant)' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/mandats\/partenaire\/[\w-]+$/);
    await page.waitForLoadState('load');
    assert.match((await page.locator('h1').textContent()) ?? '', /Se connecter à « Impôts \(démo\) » pour une personne/);
    const v = await axeViolations(page);
    assert.equal(v.length, 0, `choice page: axe-core violations\n${formatViolations(v)}`);
    const radio = page.getByRole('radio', { name: /Jeanne Lefèvre/ });
    await radio.focus();
    await page.keyboard.press('Space');
    assert.equal(await radio.isChecked(), true);
    await page.getByRole('button', { name: 'Se connecter pour cette personne' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL((u) => u.href.startsWith(`${demo.url}/retour`));
    await page.waitForLoadState('load');
    assert.equal((await page.locator('h1').textContent())?.trim(), 'Connecté pour Jeanne Lefèvre');
    const info = JSON.parse((await page.locator('#userinfo').textContent()) ?? '{}') as Record<string, unknown>;
    assert.deepEqual(Object.keys(info).sort(), ['birthdate', 'demarche', 'family_name', 'given_name', 'sub']);
    assert.equal(info.demarche, 'argent-impots');
    const { rows } = await server.db.query<{ n: number }>("SELECT count(*)::int AS n FROM mandates.journal WHERE mandate_id = $1 AND event = 'mandate.authorisation_used'", [mandateId]);
    assert.equal(rows[0]!.n, 1);
    assert.deepEqual(errors, []);
    await context.close();
  });
});

/**
 * Consultations in a real browser (playwright-core + Debian's Chromium): axe-core on the process,
 * proposal and budget pages, and the voting journey by keyboard only — add projects (the basket's
 * total is announced by a polite live region), go to the confirmation, confirm. Skipped when
 * Chromium is absent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { axeViolations, formatViolations } from './support/axe.ts';
import { launchBrowser, navigation, newContext, skipReason } from './support/browser.ts';
import { startServer, type TestServer } from './support/server.ts';
import { openSession, type User } from '../src/modules/accounts/service.ts';
import { depsFor, makeUser } from '../src/modules/accounts/tests/client.ts';
import * as svc from '../src/modules/consultation/service.ts';
import { readOutbox } from '../src/modules/accounts/mail.ts';

let server: TestServer;
let browser: Browser;

async function expectAccessible(page: Page, what: string) {
  const v = await axeViolations(page);
  assert.equal(v.length, 0, `${what}: axe-core violations\n${formatViolations(v)}`);
}

describe('consultation in a browser', { skip: skipReason }, () => {
  let voter: User;
  before(async () => {
    server = await startServer({ places: [] });
    browser = await launchBrowser();
    const ctx = { db: server.db };
    const now = Date.now();
    const id = await svc.createProcess(ctx, null, {
      slug: 'e2e-budget', title: 'Budget participatif de test', region: '27', categories: ['Numérique'],
      phases: [{ title: 'Vote', startsAt: new Date(now - 86_400_000), endsAt: new Date(now + 86_400_000), votes: true, proposals: true, supports: true, comments: true }],
    });
    const p = (await svc.getProcess(server.db, 'e2e-budget'))!;
    await svc.submitProposal(ctx, p, { id: '00000000-0000-4000-8000-000000000001', emailVerified: true, createdAt: new Date(now - 1e9).toISOString() }, { title: 'Un atelier par semaine', body: 'Un atelier numérique chaque semaine à la médiathèque.', category: 'Numérique', communeCode: null, placeUid: null });
    await svc.createBudget(ctx, null, id, { slug: 'region', title: 'Budget régional', departement: null, amountCents: 100_000, rule: 'minimum', thresholdPct: 70, minProjects: 2, maxProjects: null });
    const b = (await svc.getBudget(server.db, id, 'region'))!;
    for (const [t, c] of [['Ateliers dans les médiathèques', 40_000], ['Prêt d’ordinateurs', 30_000], ['Permanences itinérantes', 50_000]] as const) await svc.createProject(ctx, null, b.id, { title: t, costCents: c });
    voter = await makeUser(depsFor(server.db, server.config), 'votante@example.fr', [], 'Votante');
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('public pages pass axe', async () => {
    const { context } = await newContext(browser);
    const page = await context.newPage();
    for (const url of ['/concertations', '/concertations/e2e-budget', '/concertations/e2e-budget/propositions/1', '/concertations/e2e-budget/budgets/region', '/concertations/e2e-budget/budgets/region/resultats']) {
      await page.goto(server.url + url);
      await expectAccessible(page, url);
    }
    await context.close();
  });

  it('vote by keyboard: the live region announces the total; confirmation recaps; the vote is final', async () => {
    const { context, errors } = await newContext(browser);
    const token = await openSession(depsFor(server.db, server.config), voter, 'full', 'password', { ip: '127.0.0.1', userAgent: 'e2e' }, null);
    await context.addCookies([{ name: 'maillage_session', value: token, url: server.url }]);
    const page = await context.newPage();
    await page.goto(`${server.url}/concertations/e2e-budget/budgets/region`);
    await expectAccessible(page, 'budget page signed in');
    const live = page.locator('#panier-total');
    assert.equal(await live.getAttribute('aria-live'), 'polite');
    for (const title of ['Ateliers dans les médiathèques', 'Prêt d’ordinateurs']) {
      const button = page.getByRole('button', { name: 'Ajouter au panier', description: title } as never).first();
      const fallback = page.locator(`li:has(h3:text-is("${title}")) button`);
      const target = (await button.count()) ? button : fallback;
      await target.focus();
      await navigation(page, () => page.keyboard.press('Enter'));
      await page.waitForSelector('#panier-total');
    }
    assert.match(await live.textContent() ?? '', /2 projets choisis, 700\s€ sur 1\s000\s€/);
    await page.getByRole('link', { name: 'Vérifier et confirmer mon vote' }).focus();
    await Promise.all([page.waitForURL(/confirmer$/), page.keyboard.press('Enter')]);
    await expectAccessible(page, 'confirmation page');
    assert.match(await page.locator('caption').textContent() ?? '', /2 projets, 700\s€/);
    await page.getByRole('button', { name: 'Confirmer mon vote définitivement' }).focus();
    await navigation(page, () => page.keyboard.press('Enter'));
    await page.waitForSelector('text=Votre vote est enregistré');
    await expectAccessible(page, 'after the vote');
    const ballots = await server.db.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.ballot WHERE user_id = $1', [voter.id]);
    assert.equal(ballots.rows[0]!.n, 1);
    assert.deepEqual(errors, []);
    await context.close();
  });

  it('a resident creates an account from a proposal, confirms the e-mail and supports the proposal', async () => {
    const { context, errors } = await newContext(browser);
    const page = await context.newPage();
    await page.goto(`${server.url}/concertations/e2e-budget/propositions/1`);
    await Promise.all([page.waitForURL(/\/compte\/inscription/), page.getByRole('link', { name: 'Créer un compte' }).first().click()]);
    await expectAccessible(page, 'sign-up page');
    await page.getByLabel('Votre nom ou un pseudonyme').fill('Sacha');
    await page.getByLabel('Adresse e-mail').fill('sacha@example.fr');
    await page.getByLabel('Mot de passe').fill('une phrase de passe assez longue pour e2e');
    // Too young first: the error names the field, and focus can reach it from the summary.
    await page.getByLabel('Année de naissance').fill(String(new Date().getUTCFullYear() - 12));
    await navigation(page, () => page.getByRole('button', { name: 'Créer mon compte' }).click());
    await page.waitForSelector('text=au moins 15 ans');
    await expectAccessible(page, 'sign-up refused');
    assert.equal((await server.db.query(`SELECT 1 FROM accounts.users WHERE email_key = 'sacha@example.fr'`)).rows.length, 0);
    await page.getByLabel('Mot de passe').fill('une phrase de passe assez longue pour e2e');
    await page.getByLabel('Année de naissance').fill('1994');
    await navigation(page, () => page.getByRole('button', { name: 'Créer mon compte' }).click());
    await page.waitForSelector('text=Vérifiez votre messagerie');
    await expectAccessible(page, 'sign-up sent');
    const mail = (await readOutbox(server.db, 'sacha@example.fr'))[0]!;
    const link = /https?:\/\/\S+\/compte\/inscription\/confirmer\/\S+/.exec(mail.body)![0];
    await page.goto(server.url + new URL(link).pathname);
    await expectAccessible(page, 'sign-up confirmation');
    await Promise.all([page.waitForURL(/\/propositions\/1$/), page.getByRole('button', { name: 'Confirmer mon adresse et activer mon compte' }).click()]);
    await navigation(page, () => page.getByRole('button', { name: 'Soutenir cette proposition' }).click());
    await page.waitForSelector('text=Vous soutenez cette proposition');
    const sacha = (await server.db.query<{ id: string; status: string }>(`SELECT id, status FROM accounts.users WHERE email_key = 'sacha@example.fr'`)).rows[0]!;
    assert.equal(sacha.status, 'active');
    const supports = await server.db.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.support WHERE user_id = $1', [sacha.id]);
    assert.equal(supports.rows[0]!.n, 1);
    assert.deepEqual(errors.filter((e) => !/status of 400/.test(e)), [], 'nothing but the deliberate refusal (400)');
    await context.close();
  });
});

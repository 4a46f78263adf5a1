/**
 * Surveys and debates in a real browser (playwright-core + Debian's Chromium): axe-core on the
 * questionnaire, its published results and the debate page; a survey with the eight question types
 * and display conditions answered by keyboard only — a conditional question appears when its
 * condition holds and disappears when it stops holding (the page's small script; the server drops
 * it whatever is sent), the response is checked in the database; a debate contribution sent by
 * keyboard. Skipped when Chromium is absent.
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
import * as sv from '../src/modules/consultation/surveys.ts';
import * as db8 from '../src/modules/consultation/debates.ts';
import { parseQuestions } from '../src/modules/consultation/survey.ts';

let server: TestServer;
let browser: Browser;

async function expectAccessible(page: Page, what: string) {
  const v = await axeViolations(page);
  assert.equal(v.length, 0, `${what}: axe-core violations\n${formatViolations(v)}`);
}

const DEF = [
  { key: 'frequence', type: 'single', label: 'À quelle fréquence allez-vous dans un tiers-lieu ?', required: true, options: ['Jamais', 'Parfois', 'Souvent'] },
  { key: 'pourquoi', type: 'long', label: 'Pourquoi jamais ?', required: true, conditions: [{ question: 'frequence', op: 'equal', value: 'Jamais' }] },
  { key: 'services', type: 'multiple', label: 'Quels services ?', options: ['Wifi', 'Impression', 'Atelier'], maxChoices: 2 },
  { key: 'ordre', type: 'sorting', label: 'Classez vos priorités', options: ['Horaires', 'Accueil', 'Matériel'] },
  { key: 'commune', type: 'short', label: 'Votre commune' },
  { key: 'quartier', type: 'short', label: 'Votre quartier de Dijon', conditions: [{ question: 'commune', op: 'match', value: 'dijon' }] },
  { key: 'justificatif', type: 'file', label: 'Un document' },
  { key: 'notes', type: 'matrix_single', label: 'Notez', rows: ['Accueil', 'Matériel'], options: ['Bien', 'Mal'] },
  { key: 'jours', type: 'matrix_multiple', label: 'Quels jours ?', rows: ['Matin', 'Soir'], options: ['Lundi', 'Samedi'] },
];

describe('consultation surveys and debates in a browser', { skip: skipReason }, () => {
  let person: User;
  let surveyId: string;
  let debateId: string;
  before(async () => {
    server = await startServer({ places: [] });
    browser = await launchBrowser();
    const ctx = { db: server.db };
    const now = Date.now();
    const id = await svc.createProcess(ctx, null, {
      slug: 'e2e-parole', title: 'Concertation de test', region: '27', categories: ['Numérique'],
      phases: [{ title: 'Parole', startsAt: new Date(now - 86_400_000), endsAt: new Date(now + 86_400_000), comments: true, proposals: true }],
    });
    surveyId = await sv.createSurvey(ctx, null, id, { slug: 'usages', title: 'Usages des tiers-lieux', description: 'Dites-nous comment vous les fréquentez.', questions: parseQuestions(JSON.stringify(DEF)), startsAt: new Date(now - 1e6), endsAt: new Date(now + 1e9), resultsPublished: true });
    debateId = await db8.createDebate(ctx, null, id, { slug: 'horaires', title: 'Faut-il ouvrir les tiers-lieux le dimanche ?', description: 'Un débat sur les horaires.' });
    person = await makeUser(depsFor(server.db, server.config), 'repondante@example.fr', [], 'Répondante');
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  const signedIn = async () => {
    const { context, errors } = await newContext(browser);
    const token = await openSession(depsFor(server.db, server.config), person, 'full', 'password', { ip: '127.0.0.1', userAgent: 'e2e' }, null);
    await context.addCookies([{ name: 'maillage_session', value: token, url: server.url }]);
    return { context, errors, page: await context.newPage() };
  };

  it('the survey by keyboard: conditional questions show and hide as answers change; the server keeps what applies', async () => {
    const { context, errors, page } = await signedIn();
    await page.goto(`${server.url}/concertations/e2e-parole/questionnaires/usages`);
    const pourquoi = page.locator('[data-question="pourquoi"]');
    const quartier = page.locator('[data-question="quartier"]');
    assert.equal(await pourquoi.isHidden(), true, 'hidden until « Jamais » is chosen');
    assert.equal(await quartier.isHidden(), true);
    await expectAccessible(page, 'survey page');
    // Single choice: focus the first radio, Space chooses « Jamais »: the question « Pourquoi » appears.
    await page.locator('#f-q_frequence-0').focus();
    await page.keyboard.press('Space');
    await pourquoi.waitFor({ state: 'visible' });
    assert.match(await page.locator('[data-survey-live]').textContent() ?? '', /Question affichée : 2\. Pourquoi jamais/);
    await page.keyboard.press('Tab');
    await page.keyboard.type('Trop loin de chez moi.');
    await expectAccessible(page, 'survey page with a conditional question shown');
    // Arrow down moves to « Parfois »: « Pourquoi » disappears again (and will not be sent).
    await page.locator('#f-q_frequence-0').focus();
    await page.keyboard.press('ArrowDown');
    await pourquoi.waitFor({ state: 'hidden' });
    assert.equal(await page.locator('#f-q_pourquoi').isDisabled(), true);
    // Multiple choice: Tab to the boxes, Space ticks.
    await page.locator('#f-q_services_0-box').focus();
    await page.keyboard.press('Space');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    // Sorting: a rank per option, typed on the focused select.
    for (const [j, rank] of [[0, '2'], [1, '1'], [2, '3']] as const) {
      await page.locator(`#f-q_ordre_${j}-rank`).focus();
      await page.keyboard.press(rank);
    }
    // Short text with a « match » condition: « Dijon » shows the quartier question.
    await page.locator('#f-q_commune').focus();
    await page.keyboard.type('Dijon');
    await quartier.waitFor({ state: 'visible' });
    await page.locator('#f-q_quartier').focus();
    await page.keyboard.type('Grésilles');
    // Matrix single and multiple: focus a cell, Space.
    await page.getByRole('radio', { name: 'Accueil : Bien' }).focus();
    await page.keyboard.press('Space');
    await page.getByRole('checkbox', { name: 'Soir : Samedi' }).focus();
    await page.keyboard.press('Space');
    // The file (a file chooser cannot be driven by keys in a headless browser: set it directly).
    await page.locator('#f-q_justificatif').setInputFiles({ name: 'note.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n') });
    await page.getByRole('button', { name: 'Envoyer mes réponses' }).focus();
    await navigation(page, () => page.keyboard.press('Enter'));
    await page.waitForSelector('text=Vous avez répondu à ce questionnaire');
    await expectAccessible(page, 'survey answered');
    const rows = (await server.db.query<{ answers: Record<string, unknown> | string }>('SELECT answers FROM consultation.survey_response WHERE survey_id = $1 AND user_id = $2', [surveyId, person.id])).rows;
    assert.equal(rows.length, 1);
    const a = typeof rows[0]!.answers === 'string' ? JSON.parse(rows[0]!.answers) : rows[0]!.answers;
    assert.deepEqual(a.frequence, [1]);
    assert.equal('pourquoi' in a, false, 'the question hidden again was not kept');
    assert.deepEqual(a.services, [0, 2], 'Wifi, then two Tabs: Atelier');
    assert.deepEqual(a.ordre, [1, 0, 2]);
    assert.equal(a.commune, 'Dijon');
    assert.equal(a.quartier, 'Grésilles');
    assert.deepEqual(a.notes, [[0], []]);
    assert.deepEqual(a.jours, [[], [1]]);
    assert.equal(typeof a.justificatif, 'object');
    assert.deepEqual(errors, []);
    await context.close();
  });

  it('published results and the debate pass axe; a contribution is sent by keyboard', async () => {
    const { context, errors, page } = await signedIn();
    await page.goto(`${server.url}/concertations/e2e-parole/questionnaires/usages/resultats`);
    await expectAccessible(page, 'survey results');
    await page.goto(`${server.url}/concertations/e2e-parole/debats/horaires`);
    await expectAccessible(page, 'debate page');
    await page.locator('#f-stance-for').focus();
    await page.keyboard.press('Space');
    await page.locator('#f-body').focus();
    await page.keyboard.type('Le dimanche, les familles sont disponibles pour les ateliers.');
    await page.getByRole('button', { name: 'Publier' }).focus();
    await navigation(page, () => page.keyboard.press('Enter'));
    await page.waitForSelector('text=Le dimanche, les familles sont disponibles');
    await expectAccessible(page, 'debate with a contribution');
    const c = await server.db.query<{ stance: string }>('SELECT stance FROM consultation.debate_contribution WHERE debate_id = $1 AND author_id = $2', [debateId, person.id]);
    assert.deepEqual(c.rows.map((r) => r.stance), ['for']);
    assert.deepEqual(errors, []);
    await context.close();
  });
});

/**
 * The places back office in a real browser (playwright-core + Debian's Chromium), without any
 * JavaScript of ours: the main journeys (claim a place, edit hours, moderate, import with errors)
 * and axe-core on every back-office page. Skipped when Chromium is absent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { axeViolations, formatViolations } from './support/axe.ts';
import { launchBrowser, newContext, screenshot, skipReason } from './support/browser.ts';
import { startServer, type TestServer } from './support/server.ts';
import { readOutbox } from '../src/modules/accounts/index.ts';
import { openSession, type AccountsDeps, type User } from '../src/modules/accounts/service.ts';
import { depsFor, makeUser } from '../src/modules/accounts/tests/client.ts';
import { csvHeaderLine, toCsvLine } from '../src/modules/places/model/index.ts';
import { record } from '../src/modules/places/backoffice/tests/helpers.ts';

let server: TestServer;
let browser: Browser;
let deps: AccountsDeps;
let staff: User;
let admin: User;
const uidOf = new Map<string, string>();

const PLACES = [
  record({ id: 'e2e-bo-media', nom: 'Médiathèque de la Madeleine', courriels: ['accueil@madeleine.example.org'] }),
  record({ id: 'e2e-bo-epn', nom: 'Espace public numérique Nétreville', adresse: '3 rue de Nétreville', latitude: 49.0211, longitude: 1.1702, courriels: [] }),
  record({ id: 'e2e-bo-epn2', nom: 'Espace public numerique Netreville', adresse: '3 rue de Netreville', latitude: 49.0212, longitude: 1.1702, courriels: [], date_maj: '2023-05-01' }),
];

async function expectAccessible(page: Page, what: string) {
  const v = await axeViolations(page);
  assert.equal(v.length, 0, `${what}: axe-core violations\n${formatViolations(v)}`);
}

async function signedIn(user: User): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const { context, errors } = await newContext(browser);
  const token = await openSession(deps, user, 'full', 'password', { ip: '127.0.0.1', userAgent: 'e2e' }, null);
  await context.addCookies([{ name: 'maillage_session', value: token, url: server.url }]);
  return { context, page: await context.newPage(), errors };
}

describe('places back office in a browser', { skip: skipReason }, () => {
  before(async () => {
    server = await startServer({ places: PLACES });
    browser = await launchBrowser();
    deps = depsFor(server.db, server.config);
    const { rows } = await server.db.query<{ uid: string; id: string }>(`SELECT uid, id FROM places.place WHERE import_source = 'e2e'`);
    for (const r of rows) uidOf.set(r.id, r.uid);
    staff = await makeUser(deps, 'equipe-eure@example.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '27' }], 'Équipe de l’Eure');
    admin = await makeUser(deps, 'admin-e2e@example.fr', [{ role: 'admin', scopeKind: 'platform', scopeId: '' }], 'Administratrice');
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('claim a place: ask, confirm from the place’s mailbox, then manage it', async () => {
    const user = await makeUser(deps, 'claude@example.fr', [], 'Claude');
    const { context, page, errors } = await signedIn(user);
    await page.goto(server.url + '/gestion/lieux');
    await expectAccessible(page, 'back-office home');
    await page.getByRole('link', { name: 'Demander à gérer un lieu' }).click();
    await page.getByLabel('Nom du lieu ou commune').fill('Madeleine');
    await page.getByRole('button', { name: 'Chercher' }).click();
    await expectAccessible(page, 'claim search');
    await page.getByRole('link', { name: 'Médiathèque de la Madeleine' }).click();
    await expectAccessible(page, 'claim form');
    await page.getByLabel(/Par un lien envoyé/).check();
    await page.getByLabel('accueil@madeleine.example.org').check();
    await page.getByRole('button', { name: 'Envoyer la demande' }).click();
    await page.getByText('un e-mail de confirmation a été envoyé').waitFor();
    const [mail] = await readOutbox(server.db, 'accueil@madeleine.example.org');
    const link = /https?:\/\/\S+(\/gestion\/revendications\/confirmer\/\S+)/.exec(mail!.body)![1]!;
    // The mailbox holder confirms, in another browser, without an account.
    const other = await newContext(browser);
    const mailbox = await other.context.newPage();
    await mailbox.goto(server.url + link);
    await expectAccessible(mailbox, 'claim confirmation');
    await mailbox.getByRole('button', { name: 'Confirmer' }).click();
    await mailbox.getByRole('heading', { name: 'Demande confirmée' }).waitFor();
    await other.context.close();
    await page.goto(server.url + '/gestion/lieux');
    await page.getByRole('link', { name: 'Médiathèque de la Madeleine' }).click();
    assert.equal(await page.locator('h1').textContent(), 'Médiathèque de la Madeleine');
    await expectAccessible(page, 'place page');
    assert.deepEqual(errors, []);
    await context.close();
  });

  it('edit hours: days × time ranges, public holidays and an exception, errors shown in place', async () => {
    const uid = uidOf.get('e2e-bo-media')!;
    const manager = await makeUser(deps, 'gestion-madeleine@example.fr', [{ role: 'place_manager', scopeKind: 'place', scopeId: uid }], 'Gestion Madeleine');
    const { context, page, errors } = await signedIn(manager);
    await page.goto(`${server.url}/gestion/lieux/${uid}`);
    await page.getByRole('link', { name: 'Modifier les horaires' }).click();
    await expectAccessible(page, 'hours editor');
    // Clear the current week, then type a new one.
    for (const d of ['Lundi', 'Mardi', 'Mercredi', 'Jeudi', 'Vendredi']) {
      await page.getByLabel(`${d}, plage 1, ouverture`).fill('09:00');
      await page.getByLabel(`${d}, plage 1, fermeture`).fill('12:00');
      await page.getByLabel(`${d}, plage 2, ouverture`).fill('14:00');
      await page.getByLabel(`${d}, plage 2, fermeture`).fill('17:30');
    }
    await page.getByLabel('Samedi, plage 1, ouverture').fill('12:00');
    await page.getByLabel('Samedi, plage 1, fermeture').fill('10:00');
    await page.getByRole('button', { name: 'Enregistrer les horaires' }).click();
    await page.getByRole('heading', { name: 'Il y a un problème' }).waitFor();
    assert.match((await page.locator('.error-summary').textContent()) ?? '', /Samedi, plage 1 : la fermeture \(10:00\) doit suivre l’ouverture \(12:00\)/);
    await expectAccessible(page, 'hours editor with errors');
    await screenshot(page, 'backoffice-hours-errors');
    await page.getByLabel('Samedi, plage 1, fermeture').fill('12:30');
    await page.getByLabel('Samedi, plage 1, ouverture').fill('09:30');
    await page.getByLabel('Fermé les jours fériés').check();
    await page.getByLabel('Exception 1, date').fill('2026-12-24');
    await page.getByLabel('Exception 1, fermé toute la journée').check();
    await page.getByRole('button', { name: 'Enregistrer les horaires' }).click();
    await page.getByText('Modification publiée.').waitFor();
    assert.match((await page.locator('main').textContent()) ?? '', /Mo-Fr 09:00-12:00,14:00-17:30; Sa 09:30-12:30; PH off; 2026 Dec 24 off/);
    await expectAccessible(page, 'place page after edit');
    // The refused form answers 400 (as it should): Chromium logs that status, nothing else is expected.
    assert.deepEqual(errors.filter((e) => !/status of 400/.test(e)), []);
    await context.close();
  });

  it('moderate: a manager’s edit waits, the staff compare and publish it; versions and restore', async () => {
    const uid = uidOf.get('e2e-bo-epn')!;
    const s = await signedIn(staff);
    await s.page.goto(server.url + '/gestion/lieux');
    await s.page.getByRole('link', { name: /Département Eure/ }).click();
    await expectAccessible(s.page, 'territory dashboard');
    await screenshot(s.page, 'backoffice-dashboard');
    await s.page.getByRole('navigation', { name: 'Gestion du territoire' }).getByRole('link', { name: 'Modération' }).click();
    await s.page.getByLabel('attendent une validation avant d’être publiées').check();
    await s.page.getByRole('button', { name: 'Enregistrer le réglage' }).click();
    await s.page.getByText('Réglage de modération enregistré.').waitFor();
    await expectAccessible(s.page, 'moderation queue');

    const manager = await makeUser(deps, 'gestion-epn@example.fr', [{ role: 'place_manager', scopeKind: 'place', scopeId: uid }], 'Gestion EPN');
    const m = await signedIn(manager);
    await m.page.goto(`${server.url}/gestion/lieux/${uid}/modifier`);
    await expectAccessible(m.page, 'edit form');
    await m.page.getByLabel('Nom (obligatoire)').fill('EPN de Nétreville');
    await m.page.getByLabel('Utiliser un ordinateur, un smartphone, internet').check();
    await m.page.getByRole('button', { name: 'Enregistrer' }).click();
    await m.page.getByText('elle sera publiée après validation').waitFor();
    await m.context.close();

    await s.page.reload();
    await s.page.getByRole('link', { name: /Examiner/ }).click();
    assert.match((await s.page.locator('table.data').textContent()) ?? '', /EPN de Nétreville/);
    await expectAccessible(s.page, 'edit review');
    await s.page.getByRole('button', { name: 'Valider et publier' }).click();
    await s.page.getByText('Modification validée et publiée.').waitFor();
    await s.page.goto(`${server.url}/gestion/lieux/${uid}/versions`);
    await expectAccessible(s.page, 'versions');
    await s.page.getByRole('link', { name: 'Voir les différences de la version 1' }).click();
    await expectAccessible(s.page, 'version diff');
    await s.page.getByRole('button', { name: 'Restaurer la version 1' }).click();
    await s.page.getByText('Version restaurée').waitFor();
    assert.equal(await s.page.locator('h1').textContent(), 'Espace public numérique Nétreville');
    assert.deepEqual(s.errors, []);
    await s.context.close();
  });

  it('import with errors: the report names the line and field, then the valid rows are imported', async () => {
    const rows = [1, 2, 3].map((n) => record({ id: `e2e-import-${n}`, nom: `Point numérique ${n}`, courriels: [] }));
    const csv = csvHeaderLine() + rows.map((r, i) => toCsvLine(i === 2 ? { ...r, code_postal: '270' + '0A' } : r)).join('');
    const s = await signedIn(staff);
    await s.page.goto(server.url + '/gestion/territoires/departement/27/import');
    await expectAccessible(s.page, 'import form');
    await s.page.getByLabel('Fichier (50 Mo au plus)').setInputFiles({ name: 'points.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await s.page.getByLabel('Source (producteur de la donnée)').fill('reseau-eure');
    await s.page.getByRole('button', { name: 'Vérifier le fichier' }).click();
    await s.page.getByRole('heading', { name: 'Rapport de validation' }).waitFor();
    const report = (await s.page.locator('table.data', { hasText: 'Code postal2700A' }).textContent()) ?? '';
    assert.match(report, /4Code postal2700A/);
    await expectAccessible(s.page, 'import report');
    await screenshot(s.page, 'backoffice-import-report');
    await s.page.getByRole('button', { name: 'Importer 2 lieux' }).click();
    await s.page.getByRole('heading', { name: 'Import terminé' }).waitFor();
    await expectAccessible(s.page, 'import result');
    await s.page.getByRole('link', { name: 'Voir le détail de cet import' }).click();
    await expectAccessible(s.page, 'import run');
    await s.page.goto(server.url + '/gestion/territoires/departement/27/import');
    assert.match((await s.page.locator('table.data', { hasText: 'points.csv' }).textContent()) ?? '', /reseau-eurepoints\.csv/);
    assert.deepEqual(s.errors, []);
    await s.context.close();
  });

  it('every other back-office page passes axe-core', async () => {
    await server.db.query(`INSERT INTO site.error_report (place_uid, message, contact) VALUES ($1, 'Le lieu a déménagé rue Victor-Hugo.', 'lecteur@example.org')`, [uidOf.get('e2e-bo-media')]);
    const claimant = await makeUser(deps, 'demande@example.fr', [], 'Sacha');
    const c = await signedIn(claimant);
    await c.page.goto(`${server.url}/gestion/lieux/${uidOf.get('e2e-bo-epn')}/revendiquer`);
    await c.page.getByLabel('Votre lien avec ce lieu').fill('Je suis l’animatrice de cet espace public numérique.');
    await c.page.getByRole('button', { name: 'Envoyer la demande' }).click();
    await c.page.getByText('l’équipe du territoire va l’examiner').waitFor();
    await c.context.close();
    const s = await signedIn(staff);
    const [a, b] = [uidOf.get('e2e-bo-epn')!, uidOf.get('e2e-bo-epn2')!].sort();
    for (const [path, what] of [
      ['/gestion/territoires/departement/27/lieux', 'territory places'],
      ['/gestion/territoires/departement/27/lieux?anciens=1', 'places not updated for a year'],
      ['/gestion/territoires/departement/27/revendications', 'pending claims'],
      ['/gestion/territoires/departement/27/signalements', 'error reports'],
      ['/gestion/territoires/departement/27/doublons', 'duplicates queue'],
      [`/gestion/doublons/${a}/${b}`, 'duplicate comparison'],
      [`/gestion/lieux/${uidOf.get('e2e-bo-media')}/gestionnaires`, 'managers of a place'],
    ] as const) {
      await s.page.goto(server.url + path);
      await expectAccessible(s.page, what);
    }
    assert.match((await s.page.goto(server.url + '/gestion/territoires/departement/27/signalements'), await s.page.locator('main').textContent()) ?? '', /déménagé/);
    await s.context.close();
    const ad = await signedIn(admin);
    await ad.page.goto(server.url + '/gestion/sources');
    await expectAccessible(ad.page, 'sources');
    // (« reseau-eure » exists already: the browser import above created it, tied to the Eure.)
    await ad.page.getByLabel('Identifiant de la source (obligatoire)').fill('reseau-calvados');
    await ad.page.getByLabel('Nom lisible (obligatoire)').fill('Réseau des EPN du Calvados');
    await ad.page.getByRole('button', { name: 'Enregistrer la source' }).click();
    await ad.page.getByText('Source enregistrée.').waitFor();
    await expectAccessible(ad.page, 'source');
    assert.deepEqual(ad.errors, []);
    await ad.context.close();
  });
});

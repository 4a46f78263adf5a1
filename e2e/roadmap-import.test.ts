/**
 * The roadmap's CSV import page in a real browser (playwright-core + Debian's Chromium), driven by
 * the keyboard alone: choose the file (the file chooser opened with the keyboard), read it, check
 * the guessed column mapping, import; a valid file adds the plan's elements, a file with a bad line
 * shows an error naming its line and column and saves nothing, a file that cannot be read is
 * refused at the first step with its line and column. axe-core finds nothing on each step.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { axeViolations, formatViolations } from './support/axe.ts';
import { launchBrowser, navigation, newContext, screenshot, skipReason } from './support/browser.ts';
import { startServer, type TestServer } from './support/server.ts';
import { openSession, type AccountsDeps, type User } from '../src/modules/accounts/service.ts';
import { depsFor, makeUser } from '../src/modules/accounts/tests/client.ts';
import * as roadmap from '../src/modules/roadmap/service.ts';
import type { Plan } from '../src/modules/roadmap/model.ts';

let server: TestServer;
let browser: Browser;
let deps: AccountsDeps;
let staff: User;
let plan: Plan;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-e2e-roadmap-'));

const GOOD = 'Numéro;Intitulé;Parent;Statut;Fin\nA;Axe A — Inclusion;;en cours;\nA.1;Action A1 — Conseillers numériques;A;en cours;31/12/2027\nA.2;Action A2 — Lieux de proximité;A;à venir;30/06/2028\n';
// Line 3 ends after the plan's period (2024–2028).
const BAD = 'Numéro;Intitulé;Parent;Statut;Fin\nB;Axe B — Usages;;en cours;\nB.1;Action B1 — Ateliers;B;en cours;31/12/2031\n';
// An unclosed quote on line 3: the file cannot be read at all.
const BROKEN = 'Numéro;Intitulé\nC;Axe C\nD;"Axe D" suite\n';

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

async function expectAccessible(page: Page, what: string) {
  const v = await axeViolations(page);
  assert.equal(v.length, 0, `${what}: axe-core violations\n${formatViolations(v)}`);
}

/** Presses Tab until the focused element matches `selector` (fails after 80 presses). */
async function tabTo(page: Page, selector: string) {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  assert.fail(`${selector} cannot be reached with the Tab key`);
}

async function nodeCount(): Promise<number> {
  const { rows } = await server.db.query<{ n: number }>('SELECT count(*)::int AS n FROM roadmap.node WHERE plan_id = $1', [plan.id]);
  return rows[0]!.n;
}

/** Step 1 by keyboard: the file chosen through the chooser the keyboard opens, then « Lire le fichier ». */
async function chooseAndRead(page: Page, filePath: string) {
  await page.goto(`${server.url}/gestion/feuilles-de-route/${plan.slug}/import`);
  await expectAccessible(page, 'import page');
  await tabTo(page, '#imp-kind');
  assert.equal(await page.locator('#imp-kind').inputValue(), 'plan');
  await tabTo(page, '#imp-file');
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Space')]);
  await chooser.setFiles(filePath);
  await tabTo(page, 'button[type="submit"]');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Lire le fichier');
  await navigation(page, () => page.keyboard.press('Enter'));
}

/** Step 2 by keyboard: every select skipped with Tab (the guesses kept), then « Importer ». */
async function importWithGuessedMapping(page: Page) {
  await page.getByRole('heading', { name: '2. Correspondance des colonnes' }).waitFor();
  await expectAccessible(page, 'mapping step');
  await page.getByLabel('Numéro (ex. « Action 14 ») (obligatoire)').focus();
  await tabTo(page, 'form:not([enctype]) button[type="submit"]');
  await navigation(page, () => page.keyboard.press('Enter'));
}

describe('roadmap CSV import in a browser, keyboard only', { skip: skipReason }, () => {
  before(async () => {
    server = await startServer({ places: [] });
    browser = await launchBrowser();
    deps = depsFor(server.db, server.config);
    staff = await makeUser(deps, 'equipe-eure-feuille@example.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '27' }], 'Équipe de l’Eure');
    plan = await roadmap.createPlan(server.db, null, { territory: { level: 'departement', code: '27' }, title: 'Feuille de route numérique de l’Eure', periodStart: '2024-01-01', periodEnd: '2028-12-31', published: true });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function signedIn() {
    const { context, errors } = await newContext(browser);
    const token = await openSession(deps, staff, 'full', 'password', { ip: '127.0.0.1', userAgent: 'e2e' }, null);
    await context.addCookies([{ name: 'maillage_session', value: token, url: server.url }]);
    return { context, page: await context.newPage(), errors };
  }

  it('a valid file: read, columns guessed, imported; the new elements are in the plan', async () => {
    const { context, page, errors } = await signedIn();
    await chooseAndRead(page, file('plan-eure.csv', GOOD));
    assert.match((await page.locator('main').textContent()) ?? '', /Fichier « plan-eure\.csv » : 3 lignes lues/);
    // The guesses: Numéro → A, Intitulé → B, Parent → C, Statut → D, Fin → E.
    assert.equal(await page.getByLabel('Titre (obligatoire)').inputValue(), '1');
    assert.equal(await page.getByLabel('Numéro du parent').inputValue(), '2');
    assert.equal(await page.getByLabel('Date de fin').inputValue(), '4');
    await importWithGuessedMapping(page);
    await page.getByText('L’import a été enregistré.').waitFor();
    assert.match(page.url(), /\/gestion\/feuilles-de-route\/[^/]+\?ok=imported/);
    await expectAccessible(page, 'plan after the import');
    assert.equal(await nodeCount(), 3);
    const tree = await roadmap.getTree(server.db, plan.id);
    const a1 = tree.find((n) => n.number === 'A.1')!;
    assert.equal(a1.parentId, tree.find((n) => n.number === 'A')!.id);
    assert.equal(a1.endDate, '2027-12-31');
    assert.equal(a1.status, 'en_cours');
    // The public barometer shows them at once.
    await page.goto(`${server.url}/feuilles-de-route/${plan.slug}`);
    await page.getByRole('link', { name: 'Action A2 — Lieux de proximité' }).waitFor();
    assert.deepEqual(errors.filter((e) => e.startsWith('pageerror')), []);
    await context.close();
  });

  it('a file with a bad line: the error names its line and column, nothing is saved', async () => {
    const { context, page, errors } = await signedIn();
    const before = await nodeCount();
    await chooseAndRead(page, file('plan-erreur.csv', BAD));
    await importWithGuessedMapping(page);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /Ligne 3, colonne E « Fin » : La date de fin \(2031-12-31\) est en dehors de la période/);
    await expectAccessible(page, 'import refused');
    await screenshot(page, 'roadmap-import-error');
    assert.equal(await nodeCount(), before, 'a refused import saved elements');
    // The mapping is still there to fix and try again.
    await page.getByRole('heading', { name: '2. Correspondance des colonnes' }).waitFor();
    assert.deepEqual(errors.filter((e) => e.startsWith('pageerror')), []);
    await context.close();
  });

  it('a file that cannot be read is refused at the first step with its line and column', async () => {
    const { context, page } = await signedIn();
    const before = await nodeCount();
    await chooseAndRead(page, file('plan-illisible.csv', BROKEN));
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /Fichier CSV illisible \(ligne 3, colonne B\)/);
    await expectAccessible(page, 'unreadable file');
    assert.equal(await page.getByRole('heading', { name: '2. Correspondance des colonnes' }).count(), 0);
    assert.equal(await nodeCount(), before);
    await context.close();
  });
});

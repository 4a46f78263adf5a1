/**
 * The software commons in a real browser (playwright-core + Debian's Chromium): axe-core on every
 * public page of the catalogue and of code search, and the journeys a developer relies on (search
 * by keyboard, open a result, paste a block). Skipped when Chromium is absent.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { axeViolations, formatViolations } from './support/axe.ts';
import { launchBrowser, newContext, screenshot, skipReason } from './support/browser.ts';
import { startServer, type TestServer } from './support/server.ts';
import { createLogger } from '../src/platform/log.ts';
import { addRepository, indexRepository } from '../src/modules/commons/index.ts';

let server: TestServer;
let browser: Browser;
let dataDir = '';

const CLAMP = `/* Clamp a value between two bounds. */
int clamp_value(int value, int low, int high)
{
\tif (value < low)
\t\treturn low;
\tif (value > high)
\t\treturn high;
\treturn value;
}
`;

function makeRepo(dir: string, files: Record<string, string>) {
  const env = { ...process.env, GIT_AUTHOR_NAME: 'e2e', GIT_AUTHOR_EMAIL: 'e2e@example.org', GIT_COMMITTER_NAME: 'e2e', GIT_COMMITTER_EMAIL: 'e2e@example.org', GIT_CONFIG_NOSYSTEM: '1' };
  for (const [p, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    fs.writeFileSync(path.join(dir, p), c);
  }
  const git = (...a: string[]) => execFileSync('git', ['-c', 'init.defaultBranch=main', ...a], { cwd: dir, env, stdio: 'pipe' });
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'initial');
}

async function expectAccessible(page: Page, what: string) {
  const v = await axeViolations(page);
  assert.equal(v.length, 0, `${what}: axe-core violations\n${formatViolations(v)}`);
}

describe('software commons in a browser', { skip: skipReason }, () => {
  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'commons-e2e-'));
    server = await startServer({ places: [], config: { dataDir } });
    const ctx = { config: server.config, db: server.db, log: createLogger('silent') };
    const one = path.join(dataDir, 'src-outil');
    makeRepo(one, {
      // A README as projects write them: a badge inside a link, images without text, an empty link, a wide code block.
      'README.md': '# Outil régional\n\n[![](data:image/gif;base64,R0lGODlhAQABAAAAACw=)](https://ci.example.org/outil) ![](data:image/gif;base64,R0lGODlhAQABAAAAACw=)\n\nUn **outil** libre pour les communes. [](https://vide.example.org)\n\n## Installation\n\n```sh\nmake\n' + './configure --prefix=/opt/outil --with-option-tres-longue '.repeat(6) + '\n```\n',
      'publiccode.yml': 'publiccodeYmlVersion: "0.4"\nname: Outil régional\nurl: https://forge.example.org/outil.git\nlegal:\n  license: EUPL-1.2\ndevelopmentStatus: stable\ncategories: [data-analytics]\nusedBy: [Région Exemple]\ndescription:\n  fr:\n    shortDescription: Un outil libre pour les communes\n',
      'src/clamp.c': CLAMP,
      'src/main.py': 'def parse_settings(path):\n    with open(path) as f:\n        return f.read()\n',
    });
    const two = path.join(dataDir, 'src-autre');
    makeRepo(two, { 'lib/bornes.c': `#include <stdio.h>\n\n${CLAMP.replace(/clamp_value/g, 'borne')}` });
    for (const [dir, slug] of [[one, 'outil'], [two, 'autre']] as const) {
      await addRepository(ctx, dir, { slug });
      await indexRepository(ctx, slug, { worker: false });
    }
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('catalogue, software page and files browser are accessible', async () => {
    const { context, errors } = await newContext(browser);
    const page = await context.newPage();
    await page.goto(server.url + '/communs');
    await expectAccessible(page, 'catalogue');
    await screenshot(page, 'commons-catalogue');
    await page.getByLabel('Licence').selectOption('EUPL-1.2');
    await page.getByRole('button', { name: 'Filtrer' }).click();
    await page.waitForURL(/licence=EUPL-1\.2/);
    await page.getByRole('link', { name: 'Outil régional' }).click();
    await page.waitForURL(/\/communs\/logiciels\/outil$/);
    assert.equal(await page.locator('h1').textContent(), 'Outil régional');
    await expectAccessible(page, 'software page');
    await screenshot(page, 'commons-software');
    // The README's wide code block scrolls by keyboard: it takes the focus.
    assert.equal(await page.locator('.readme pre[tabindex="0"]').count(), 1);
    // On a phone too: no finding, nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await expectAccessible(page, 'software page (390 px)');
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)) <= 1, 'the software page scrolls sideways at 390 px');
    await screenshot(page, 'commons-software-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.getByRole('link', { name: 'Fichiers' }).first().click();
    await expectAccessible(page, 'files browser');
    await page.getByRole('link', { name: 'src/' }).click();
    await page.getByRole('link', { name: 'clamp.c' }).click();
    await page.locator('#L2').waitFor();
    await expectAccessible(page, 'file');
    await screenshot(page, 'commons-file');
    assert.deepEqual(errors, []);
    await context.close();
  });

  it('searches code by keyboard and shows highlighted, grouped results', async () => {
    const { context, errors } = await newContext(browser);
    const page = await context.newPage();
    await page.goto(server.url + '/communs/recherche');
    await expectAccessible(page, 'search form');
    await page.getByLabel('Requête').fill('/return (low|high)/ lang:c');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/communs\/recherche\?q=/);
    assert.match((await page.locator('main h2').first().textContent()) ?? '', /2 fichiers/);
    assert.equal(await page.locator('mark').first().textContent(), 'return low');
    await expectAccessible(page, 'search results');
    await screenshot(page, 'commons-search');
    await page.goto(server.url + '/communs/recherche?q=' + encodeURIComponent('/(unclosed/'));
    assert.match((await page.getByRole('alert').textContent()) ?? '', /Expression régulière invalide/);
    await expectAccessible(page, 'search error');
    assert.deepEqual(errors.filter((e) => !/400/.test(e)), []);
    await context.close();
  });

  it('finds a pasted block with renamed identifiers, side by side; lists duplicates', async () => {
    const { context, errors } = await newContext(browser);
    const page = await context.newPage();
    await page.goto(server.url + '/communs/blocs');
    await expectAccessible(page, 'block form');
    await page.getByLabel('Bloc de code (5 à 200 lignes)').fill('int limit(int x, int a, int b)\n{\n  if (x < a) return a;\n  if (x > b) return b;\n  return x;\n}\n');
    await page.getByRole('button', { name: 'Rechercher' }).click();
    await page.waitForSelector('.side');
    assert.match((await page.locator('main h2').first().textContent()) ?? '', /2 emplacements trouvés/);
    await expectAccessible(page, 'block results');
    await screenshot(page, 'commons-blocks');
    await page.goto(server.url + '/communs/doublons');
    assert.match((await page.locator('main').textContent()) ?? '', /Ce bloc existe dans 2 projets/);
    await expectAccessible(page, 'duplicates');
    assert.deepEqual(errors, []);
    await context.close();
  });
});

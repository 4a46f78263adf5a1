/**
 * Two instances of the application on one PostgreSQL (issue #13): each with its own connection
 * pool and its own in-process caches, as behind a load balancer. A rate limit reached through one
 * holds on the other, and an edit made through one is visible through the other at once.
 * PostgreSQL only: the embedded database is one process's (skipped on PGlite, saying so).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { openDb, type Db } from '../../src/platform/db/index.ts';
import type { App } from '../../src/platform/http/server.ts';
import { createLogger } from '../../src/platform/log.ts';
import { accountsTesting } from '../../src/modules/accounts/index.ts';
import { addPlace, record } from '../../src/modules/places/backoffice/tests/helpers.ts';
import { testDb } from '../support/db.ts';

const onPostgres = Boolean(process.env.DATABASE_URL);
const skip = onPostgres ? false : 'needs PostgreSQL (several instances cannot share the embedded database): run "scripts/with-postgres.sh npm test"';

describe('two instances on one PostgreSQL', { skip }, () => {
  let dbA: Db;
  let dbB: Db;
  let a: App;
  let b: App;

  before(async () => {
    dbA = await testDb();
    // Instance B: its own pool on the same database.
    const name = (await dbA.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d;
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = `/${name}`;
    dbB = await openDb({ databaseUrl: url.toString(), poolSize: 4 });
    const config = loadConfig({ ...process.env, NODE_ENV: 'test' }, { signinDelayMs: 1 });
    a = (await buildApp(config, dbA, createLogger('silent'))).app;
    b = (await buildApp(config, dbB, createLogger('silent'))).app;
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await dbB?.close();
    await dbA?.close();
  });

  test('a rate limit reached through one instance holds on the other', async () => {
    // The what-if API allows 30 requests a minute per address; a malformed body is refused (400)
    // after being counted, which keeps the test cheap.
    const hit = (app: App) =>
      app.inject({ method: 'POST', url: '/api/v1/coverage/what-if', remoteAddress: '203.0.113.7', payload: { close: 'pas une liste' } });
    const first = await Promise.all(Array.from({ length: 20 }, () => hit(a)));
    const second = await Promise.all(Array.from({ length: 20 }, () => hit(b)));
    const limited = [...first, ...second].filter((r) => r.statusCode === 429).length;
    assert.equal(limited, 10, 'exactly 30 of 40 concurrent requests over both instances were let through');
    assert.equal((await hit(a)).statusCode, 429);
    assert.equal((await hit(b)).statusCode, 429);
    // Another address is not affected.
    assert.equal((await b.inject({ method: 'POST', url: '/api/v1/coverage/what-if', remoteAddress: '203.0.113.8', payload: { close: 'x' } })).statusCode, 400);
  });

  test('an edit made through one instance is visible through the other at once', async () => {
    const uid = await addPlace(dbA, record({ id: 'deux-instances', nom: 'Médiathèque des deux instances' }));
    const search = (app: App) => app.inject({ url: '/api/v1/places?q=deux%20instances' });
    const page = (app: App) => app.inject({ url: `/api/v1/places/${uid}` });
    // Instance B has answered (and cached) the search before the edit.
    assert.match((await search(b)).body, /Médiathèque des deux instances/);
    assert.equal((await page(b)).json().nom, 'Médiathèque des deux instances');

    // The place's manager edits it through instance A's back office.
    const deps = accountsTesting.depsFor(dbA, loadConfig({ ...process.env, NODE_ENV: 'test' }));
    const manager = await accountsTesting.makeUser(deps, 'gestion-deux@example.fr', [{ role: 'place_manager', scopeKind: 'place', scopeId: uid }]);
    const browser = await accountsTesting.signedInBrowser(a, deps, manager, '198.51.100.90');
    assert.equal((await browser.get(`/gestion/lieux/${uid}/modifier`)).status, 200);
    const p = (await page(a)).json();
    const res = await browser.post(`/gestion/lieux/${uid}/modifier`, {
      nom: 'Médiathèque renommée des deux instances', pivot: p.pivot, structure_parente: '', adresse: p.adresse, complement_adresse: '', code_postal: p.code_postal,
      commune: p.commune, code_insee: p.code_insee ?? '', latitude: String(p.latitude), longitude: String(p.longitude), telephone: '02 32 78 70 00',
      courriels: 'accueil@mediatheque.example.org', site_web: '', prise_rdv: '', fiche_acces_libre: '', presentation_resume: 'Ordinateurs en libre accès.',
      presentation_detail: '', autres_formations_labels: '', source: 'Tests', services: 'Accès internet et matériel informatique', frais_a_charge: 'Gratuit', typologie: 'BIB',
    });
    assert.equal(res.status, 303, res.body);

    // Instance B answers with the edit at once: its caches follow the database's data version.
    assert.equal((await page(b)).json().nom, 'Médiathèque renommée des deux instances');
    assert.match((await search(b)).body, /Médiathèque renommée des deux instances/);
  });
});

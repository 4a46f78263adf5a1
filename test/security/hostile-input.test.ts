/**
 * Inputs that used to give 500: prototype names looked up in plain-object tables, NUL bytes that
 * PostgreSQL refuses, invalid UTF-8 escapes, a non-ASCII return path after sign-in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../support/app.ts';
import { accountsTesting } from '../../src/modules/accounts/index.ts';

const { Browser, depsOf, makeUser, PASSWORD } = accountsTesting;

describe('hostile input gets a 4xx, never a 500', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
  });
  after(async () => t.close());
  const get = (url: string) => t.app.inject({ url, headers: { accept: url.startsWith('/api/') ? 'application/json' : 'text/html' } });

  test('prototype names are searched as words', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty'])
      for (const url of ['/api/v1/territories/communes?q=', '/recherche?q=', '/carte/points.json?q=', '/embed?q=', '/recherche?services=']) {
        const res = await get(url + name);
        assert.ok(res.statusCode < 500, `${url}${name} → ${res.statusCode}`);
      }
  });

  test('a NUL byte in a text parameter is a 400 naming the parameter', async () => {
    for (const url of ['/api/v1/places?q=a%00b', '/api/v1/commons/software?q=a%00b', '/api/v1/places?territory=%00', '/recherche?q=%00']) {
      const res = await get(url);
      assert.equal(res.statusCode, 400, url);
      assert.match(res.body, /« (q|territory) » : caractère nul interdit/);
    }
    const form = await t.app.inject({ method: 'POST', url: '/compte/connexion', payload: 'email=a%00%40b.fr&password=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.statusCode, 400);
    assert.match(form.json().message, /« email » : caractère nul interdit/);
  });

  test('invalid UTF-8 escapes are a 400, not searched as text', async () => {
    for (const url of ['/api/v1/places?q=%ff%fe', '/api/v1/territories/communes?q=%ff%fe', '/recherche?q=%C0%AF']) {
      const res = await get(url);
      assert.equal(res.statusCode, 400, url);
      assert.match(res.body, /« q » : valeur mal encodée/);
    }
  });

  test('a form body with a percent-escape that is not UTF-8 is a 400 naming the field, and nothing is written', async () => {
    const users = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM accounts.users')).rows[0]!.n;
    const before = await users();
    for (const payload of ['email=a%40b.fr&password=%E0%80%80%C3%28', 'email=%ff%fe&password=x', '%C0%AF=1&email=a%40b.fr']) {
      const res = await t.app.inject({ method: 'POST', url: '/compte/connexion', payload, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(res.statusCode, 400, payload);
      assert.match(res.body, /mal encodé/, payload);
    }
    assert.equal(await users(), before);
    // Valid UTF-8, repeated fields and + for spaces are read as before.
    const ok = await t.app.inject({ method: 'POST', url: '/compte/connexion', payload: 'email=%C3%A9t%C3%A9+x%40b.fr&password=x&password=y', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.ok(ok.statusCode < 500, ok.body);
    assert.doesNotMatch(ok.body, /mal encodé/);
  });

  test('a non-ASCII return path after sign-in works; a refused sign-in creates no session', async () => {
    const deps = depsOf(t.app);
    await makeUser(deps, 'retour@exemple.fr');
    const b = new Browser(t.app, '192.0.2.90');
    const res = await b.submit('/compte/connexion?retour=/%C3%A9t%C3%A9', '/compte/connexion?retour=/%C3%A9t%C3%A9', { email: 'retour@exemple.fr', password: PASSWORD });
    assert.equal(res.status, 303);
    assert.equal(res.location, '/%C3%A9t%C3%A9');
    const raw = await t.app.inject({ method: 'GET', url: '/compte/connexion?retour=/été€' });
    assert.ok(raw.statusCode < 500);
    const sessions = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM accounts.session')).rows[0]!.n;
    const before = await sessions();
    const bad = new Browser(t.app, '192.0.2.91');
    const refused = await bad.submit('/compte/connexion?retour=/%C3%A9t%C3%A9', '/compte/connexion?retour=/%C3%A9t%C3%A9', { email: 'retour@exemple.fr', password: 'pas le bon mot de passe' });
    assert.equal(refused.status, 400);
    assert.equal(await sessions(), before);
  });
});

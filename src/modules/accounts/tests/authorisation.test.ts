/**
 * The authorisation matrix of the accounts back-office routes (every route × every role), and the
 * checks that hold for every module: no back-office route without a permission check, and every
 * form route refuses a POST without its CSRF token.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { registeredRoutes } from '../http.ts';
import { grantRole, inviteUser, requestDeletion, setUserStatus, type AccountsDeps } from '../service.ts';
import {
  ANY_ROLE,
  createCast,
  depsOf,
  formatMatrix,
  makeUser,
  runAuthorisationMatrix,
  signedInBrowser,
  uncoveredRoutes,
  unguardedRoutes,
  type Cast,
  type MatrixRoute,
} from '../testing.ts';

/**
 * Back-office routes that are open by design, with the reason:
 * - the claim confirmation link is e-mailed to the place's own address and carries a single-use
 *   token: the person who opens it may not have an account.
 */
export const PUBLIC_BY_DESIGN = ['GET /gestion/revendications/confirmer/:token', 'POST /gestion/revendications/confirmer/:token'];

describe('authorisation matrix: accounts back office', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let deps: AccountsDeps;
  let cast: Cast;
  let n = 0;
  const fresh = () => `cible-${++n}-${crypto.randomBytes(3).toString('hex')}@exemple.fr`;

  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
    deps = depsOf(t.app);
    cast = await createCast(t.app, { region: '84', departement: '69', place: crypto.randomUUID() });
  });
  after(async () => t.close());

  /** A new active account to act upon (each allowed POST consumes its object). */
  const target = async () => makeUser(deps, fresh(), [], 'Cible');

  const routes = (): MatrixRoute[] => [
    { method: 'GET', route: '/gestion', inScope: '/gestion', allowed: ANY_ROLE },
    { method: 'GET', route: '/admin/utilisateurs', inScope: '/admin/utilisateurs?q=cible', allowed: ['admin'] },
    { method: 'GET', route: '/admin/utilisateurs/nouveau', inScope: '/admin/utilisateurs/nouveau', allowed: ['admin'] },
    {
      method: 'POST',
      route: '/admin/utilisateurs/nouveau',
      inScope: '/admin/utilisateurs/nouveau',
      form: () => ({ email: fresh(), displayName: 'Invitée', role: 'place_manager', scopeKind: 'place', scopeId: crypto.randomUUID() }),
      allowed: ['admin'],
    },
    { method: 'GET', route: '/admin/utilisateurs/:id', inScope: async () => `/admin/utilisateurs/${(await target()).id}`, allowed: ['admin'] },
    {
      method: 'POST',
      route: '/admin/utilisateurs/:id/roles',
      inScope: async () => `/admin/utilisateurs/${(await target()).id}/roles`,
      form: () => ({ role: 'place_manager', scopeKind: 'place', scopeId: crypto.randomUUID() }),
      allowed: ['admin'],
    },
    {
      method: 'POST',
      route: '/admin/utilisateurs/:id/roles/:grantId/retirer',
      inScope: async () => {
        const u = await target();
        const g = await grantRole(deps, null, u.id, { role: 'helper', scopeKind: 'place', scopeId: crypto.randomUUID() });
        return `/admin/utilisateurs/${u.id}/roles/${g.id}/retirer`;
      },
      allowed: ['admin'],
    },
    { method: 'POST', route: '/admin/utilisateurs/:id/desactiver', inScope: async () => `/admin/utilisateurs/${(await target()).id}/desactiver`, allowed: ['admin'] },
    {
      method: 'POST',
      route: '/admin/utilisateurs/:id/activer',
      inScope: async () => {
        const u = await target();
        await setUserStatus(deps, cast.users.admin.id, u.id, 'disabled');
        return `/admin/utilisateurs/${u.id}/activer`;
      },
      allowed: ['admin'],
    },
    {
      method: 'POST',
      route: '/admin/utilisateurs/:id/invitation',
      inScope: async () => `/admin/utilisateurs/${(await inviteUser(deps, null, { email: fresh(), displayName: 'Invitée' })).user.id}/invitation`,
      allowed: ['admin'],
    },
    {
      method: 'POST',
      route: '/admin/utilisateurs/:id/supprimer',
      inScope: async () => {
        const u = await target();
        await requestDeletion(deps, u, 'départ');
        return `/admin/utilisateurs/${u.id}/supprimer`;
      },
      allowed: ['admin'],
    },
    {
      method: 'POST',
      route: '/admin/utilisateurs/:id/2fa/reinitialiser',
      inScope: async () => `/admin/utilisateurs/${(await makeUser(deps, fresh(), [], 'Cible', { totp: true })).id}/2fa/reinitialiser`,
      allowed: ['admin'],
    },
    // The journal: everyone whose role lets them follow some kind of object reads the entries about
    // the objects in their scope (journal.test.ts checks which); the others are refused.
    { method: 'GET', route: '/admin/journal', inScope: '/admin/journal?verifier=1', allowed: ['admin', 'staff_region', 'staff_departement', 'manager'] },
  ];

  test('every accounts back-office route × every role: allowed or refused as the rules say', async () => {
    const table = routes();
    const { cells, failures } = await runAuthorisationMatrix(cast, table);
    assert.deepEqual(failures, [], formatMatrix(cells));
    assert.equal(cells.length, table.length * 9);
    // What the refusals look like: 403 page for someone signed in, sign-in redirect for a visitor.
    const refusedSignedIn = cells.find((c) => c.role === 'reviewer' && c.route === '/admin/journal')!;
    assert.equal(refusedSignedIn.status, 403);
    const anonymous = cells.find((c) => c.role === 'anonymous' && c.route === '/admin/journal')!;
    assert.equal(anonymous.status, 303);
    assert.match(anonymous.location!, /^\/compte\/connexion\?retour=%2Fadmin%2Fjournal/);
  });

  test('the table lists every accounts back-office route', () => {
    assert.deepEqual(uncoveredRoutes(t.app, routes(), ['/admin/utilisateurs', '/admin/journal']), []);
  });

  test('no back-office route of any module is left without a permission check', () => {
    const all = registeredRoutes(t.app);
    assert.ok(all.some((r) => r.url === '/gestion'), 'the route record sees the accounts routes');
    assert.deepEqual(unguardedRoutes(t.app, ['/gestion', '/admin', '/compte/export', '/compte/sessions', '/compte/profil', '/compte/suppression'], PUBLIC_BY_DESIGN), []);
    // Account pages require a signed-in person.
    for (const url of ['/compte', '/compte/export', '/compte/profil', '/compte/mot-de-passe', '/compte/suppression', '/compte/sessions/fermer-tout']) {
      const r = all.find((x) => x.url === url);
      assert.ok(r?.guard, `${url} is guarded`);
    }
  });

  test('every form route of every module refuses a POST without its CSRF token', async () => {
    const b = await signedInBrowser(t.app, deps, cast.users.admin, '198.51.100.250');
    await b.get('/compte');
    const posts = registeredRoutes(t.app).filter((r) => r.method === 'POST' && !r.url.startsWith('/api/'));
    assert.ok(posts.length >= 20, `${posts.length} form routes`);
    const accepted: string[] = [];
    for (const r of posts) {
      const url = r.url.replace(/:(\w+)/g, (_m, name: string) => (name === 'id' || name === 'uid' || name === 'grantId' ? crypto.randomUUID() : name === 'level' ? 'departement' : name === 'code' ? '69' : 'x'));
      const res = await b.post(url, { email: 'a@exemple.fr', password: 'x', code: '123456' }, { csrf: false });
      // An upload route checks its object and permission before reading the body (uploadRoute),
      // so an object that does not exist is a 404 before the CSRF check: refused all the same,
      // as long as the same request with the token is refused too.
      if (res.status === 404 && (await b.post(url, { email: 'a@exemple.fr', password: 'x', code: '123456' })).status === 404) continue;
      if (res.status !== 403 || !/formulaire a expiré/.test(res.body)) accepted.push(`${r.url} → ${res.status}`);
    }
    assert.deepEqual(accepted, []);
    // JSON API writes need the token too (header x-csrf-token).
    const apiPosts = registeredRoutes(t.app).filter((r) => r.method === 'POST' && r.url.startsWith('/api/') && r.guard);
    for (const r of apiPosts) {
      const res = await t.app.inject({ method: 'POST', url: r.url, headers: { cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'content-type': 'application/json' }, payload: '{}' });
      assert.equal(res.statusCode, 403, `${r.url} without a CSRF token`);
    }
  });
});

/**
 * Security of the places back office: every route × every role × an object inside and outside the
 * role's scope (from the exported route table), CSRF refused on every form, stored XSS attempts in
 * every editable field rendered inert.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../../test/support/app.ts';
import { can, PLATFORM, type Resource } from '../../../accounts/index.ts';
import { accountsTesting, getGrants, type AccountsDeps, type User } from '../../../accounts/index.ts';

const { Browser, depsFor, makeUser, signedInBrowser } = accountsTesting;
type Browser = accountsTesting.Browser;
type Res = accountsTesting.Res;
import { getPlace } from '../../service.ts';
import { BACKOFFICE_ROUTES, seedRouteObjects, type BackofficeRoute, type RouteObjects } from '../routes.ts';
import { placeResource, territoryResource, loadTerritory } from '../service.ts';
import { postMultipart } from './helpers.ts';

describe('places back office: authorisation matrix, CSRF, stored XSS', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let deps: AccountsDeps;
  let inside: RouteObjects; // Évreux: département 27, région 28
  let outside: RouteObjects; // Lyon: département 69, région 84
  const people: { name: string; user: User }[] = [];
  let ip = 1;

  const createReport = async (uid: string) =>
    (await t.db.query<{ id: number }>(`INSERT INTO site.error_report (place_uid, message) VALUES ($1, 'Adresse erronée sur la fiche.') RETURNING id`, [uid])).rows[0]!.id;

  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
    deps = depsFor(t.db, t.ctx.config);
    const claimant = await makeUser(deps, 'claimant@example.fr');
    inside = await seedRouteObjects(t.db, { commune: '27229', userId: claimant.id, tag: 'in', createReport });
    outside = await seedRouteObjects(t.db, { commune: '69123', userId: claimant.id, tag: 'out', createReport });
    const mk = async (name: string, grants: { role: string; scopeKind: string; scopeId: string }[]) => people.push({ name, user: await makeUser(deps, `${name}@example.fr`, grants, name) });
    await mk('admin', [{ role: 'admin', scopeKind: 'platform', scopeId: '' }]);
    await mk('staff-region-28', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '28' }]);
    await mk('staff-dept-27', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '27' }]);
    await mk('manager-in', [{ role: 'place_manager', scopeKind: 'place', scopeId: inside.place }]);
    await mk('no-role', []);
  });
  after(async () => t.close());

  async function resourceOf(route: BackofficeRoute, o: RouteObjects): Promise<Resource> {
    if (route.object === 'platform') return PLATFORM;
    if (route.object === 'territory') return territoryResource((await loadTerritory(t.db, o.territory.level, o.territory.code))!);
    return placeResource((await getPlace(t.db, o.place))!);
  }

  async function call(b: Browser, route: BackofficeRoute, o: RouteObjects, csrf = true): Promise<Res> {
    if (route.method === 'GET') return b.get(route.url(o));
    if (csrf) await b.get('/gestion/lieux'); // a page with a form: the CSRF token
    if (route.multipart) return postMultipart(t.app, b, route.url(o), route.form ?? {}, [{ field: 'file', fileName: 'vide.csv', content: 'id\n' }], { csrf });
    return b.post(route.url(o), route.form ?? {}, { csrf });
  }

  const guarded = BACKOFFICE_ROUTES.filter((r) => r.guard === 'permission');

  test('the route table covers every back-office route the server has', () => {
    const served = t.app.printRoutes({ commonPrefix: false });
    for (const r of BACKOFFICE_ROUTES) {
      const last = r.path.split('/').filter(Boolean).pop()!;
      assert.ok(served.includes(last.startsWith(':') ? ':' : last), `${r.method} ${r.path} is served`);
    }
    assert.ok(guarded.length >= 30);
  });

  test('every route × every role × in-scope and out-of-scope objects: allowed exactly when can() says so', async () => {
    const failures: string[] = [];
    for (const p of people) {
      const grants = await getGrants(t.db, p.user.id);
      const actor = { id: p.user.id, grants };
      for (const [scope, o] of [['in', inside], ['out', outside]] as const) {
        for (const route of guarded) {
          const expected = can(actor, route.action!, await resourceOf(route, o));
          const b = await signedInBrowser(t.app, deps, p.user, `203.0.113.${ip++ % 250}`);
          const res = await call(b, route, o);
          const refused = res.status === 403;
          if (res.status >= 500) failures.push(`${p.name} ${scope} ${route.method} ${route.path}: ${res.status}`);
          else if (expected === refused) failures.push(`${p.name} ${scope} ${route.method} ${route.path}: expected ${expected ? 'allowed' : 'refused'}, got ${res.status}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  test('an out-of-scope manager and out-of-territory staff are refused on every route', async () => {
    for (const name of ['manager-in', 'staff-dept-27', 'staff-region-28']) {
      const p = people.find((x) => x.name === name)!;
      for (const route of guarded) {
        const b = await signedInBrowser(t.app, deps, p.user, `203.0.113.${ip++ % 250}`);
        const res = await call(b, route, outside);
        assert.equal(res.status, 403, `${name}: ${route.method} ${route.url(outside)}`);
      }
    }
  });

  test('anonymous visitors are sent to sign in (pages) or refused (forms)', async () => {
    for (const route of BACKOFFICE_ROUTES.filter((r) => r.guard !== 'token')) {
      const b = new Browser(t.app, `203.0.113.${ip++ % 250}`);
      const res = await call(b, route, inside, false);
      if (route.method === 'GET') {
        assert.equal(res.status, 303, route.path);
        assert.match(res.location ?? '', /^\/compte\/connexion\?retour=/);
      } else assert.ok(res.status === 401 || res.status === 403, `${route.path}: ${res.status}`);
    }
  });

  test('every form refuses a request without a valid CSRF token', async () => {
    const admin = people.find((x) => x.name === 'admin')!;
    for (const route of BACKOFFICE_ROUTES.filter((r) => r.method === 'POST')) {
      const b = await signedInBrowser(t.app, deps, admin.user, `203.0.113.${ip++ % 250}`);
      await b.get('/gestion/lieux');
      const res = await call(b, route, inside, false);
      assert.equal(res.status, 403, `${route.path} without token`);
      assert.match(res.body, /formulaire a expiré ou n’est pas valide/);
      const forged = route.multipart
        ? await postMultipart(t.app, b, route.url(inside), { ...(route.form ?? {}), _csrf: 'forged-token' }, [], { csrf: false })
        : await b.post(route.url(inside), { ...(route.form ?? {}), _csrf: 'forged-token' }, { csrf: false });
      assert.equal(forged.status, 403, `${route.path} with a forged token`);
    }
  });

  test('stored XSS attempts in every editable field come back escaped on every page that shows them', async () => {
    const admin = people.find((x) => x.name === 'admin')!;
    const b = await signedInBrowser(t.app, deps, admin.user, '203.0.113.251');
    const payload = (f: string) => `<script>alert("${f}")</script>"><img src=x onerror=alert(1)>`;
    const textFields = ['nom', 'adresse', 'complement_adresse', 'commune', 'structure_parente', 'presentation_resume', 'presentation_detail', 'autres_formations_labels', 'source'];
    const place = (await getPlace(t.db, inside.place))!;
    const form: Record<string, string> = {
      pivot: place.pivot, code_postal: '27000', code_insee: '27229', latitude: String(place.latitude), longitude: String(place.longitude),
      telephone: '', courriels: 'contact@example.org', site_web: '', prise_rdv: '', fiche_acces_libre: '',
    };
    for (const f of textFields) form[f] = payload(f);
    await b.get(`/gestion/lieux/${inside.place}/modifier`);
    let res = await b.post(`/gestion/lieux/${inside.place}/modifier`, form);
    assert.equal(res.status, 303, res.body.slice(0, 300));
    const stored = (await getPlace(t.db, inside.place))!;
    assert.equal(stored.nom, payload('nom'), 'stored as typed (data), escaped when shown');
    // URL fields: a javascript: URL is refused by the standard's validation.
    await b.get(`/gestion/lieux/${inside.place}/modifier`);
    res = await b.post(`/gestion/lieux/${inside.place}/modifier`, { ...form, prise_rdv: 'javascript:alert(1)' });
    assert.equal(res.status, 400);
    // Hours (advanced input), claim message, moderation note, source fields, file names.
    await b.get(`/gestion/lieux/${inside.place}/horaires`);
    res = await b.post(`/gestion/lieux/${inside.place}/horaires`, { mode: 'raw', horaires: payload('horaires') });
    assert.equal(res.status, 400);
    const claimant = await makeUser(deps, 'xss-claimant@example.fr', [], payload('displayName'));
    const cb = await signedInBrowser(t.app, deps, claimant, '203.0.113.252');
    const claimPage = await cb.get(`/gestion/lieux/${outside.place}/revendiquer`);
    assert.equal(claimPage.status, 200, claimPage.body.slice(0, 3000));
    assert.equal((await cb.post(`/gestion/lieux/${outside.place}/revendiquer`, { method: 'staff', message: payload('message') })).status, 303);
    await b.get('/gestion/sources');
    await b.post('/gestion/sources', { name: 'xss-source', label: payload('label'), producer: payload('producer'), contact: payload('contact'), url: '' });
    await b.get(`/gestion/territoires/departement/27/import`);
    await postMultipart(t.app, b, '/gestion/territoires/departement/27/import', { source: 'xss-source' }, [{ field: 'file', fileName: `${payload('file')}.csv`, content: 'id,nom\n1,<b>x</b>\n' }]);
    const pages = [
      `/gestion/lieux/${inside.place}`,
      `/gestion/lieux/${inside.place}/modifier`,
      `/gestion/lieux/${inside.place}/horaires`,
      `/gestion/lieux/${inside.place}/versions`,
      `/gestion/lieux/${inside.place}/versions/1`,
      `/gestion/territoires/departement/27/lieux`,
      `/gestion/territoires/departement/69/revendications`,
      `/gestion/territoires/departement/27/doublons`,
      `/gestion/doublons/${inside.place}/${inside.otherPlace}`,
      `/gestion/sources`,
      `/gestion/sources/xss-source`,
      `/gestion/lieux/revendiquer?q=${encodeURIComponent('<script>alert(1)</script>')}`,
    ];
    for (const url of pages) {
      const page = await b.get(url);
      assert.equal(page.status, 200, url);
      assert.doesNotMatch(page.body, /<script>alert|<img src=x/, `${url} shows a payload unescaped`);
    }
    assert.match((await b.get(`/gestion/lieux/${inside.place}`)).body, /&lt;script&gt;alert\(&quot;nom&quot;\)&lt;\/script&gt;/);
    assert.match((await b.get('/gestion/territoires/departement/69/revendications')).body, /&lt;script&gt;alert\(&quot;message&quot;\)/);
  });
});

/**
 * The places back office in the platform's authorisation matrix (the accounts test kit): every route
 * of BACKOFFICE_ROUTES × every role of the cast (admin, région staff, département staff, place
 * manager, reviewer, mediator, helper, no role, anonymous) × an object in the cast's scope and one
 * outside it. Who may do what is written out here from the rules, not computed with can().
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../../test/support/app.ts';
import { accountsTesting as kit, type Action } from '../../../accounts/index.ts';
import { getCommune } from '../../../territories/index.ts';
import { upsertPlaces } from '../../service.ts';
import { getPlaceRow, toRecord } from '../../store.ts';
import { BACKOFFICE_ROUTES, seedRouteObjects, type BackofficeRoute, type RouteObjects } from '../routes.ts';

type CastRole = (typeof kit.CAST_ROLES)[number];
const STAFF: CastRole[] = ['admin', 'staff_region', 'staff_departement'];
/** Rules: who may do each action on an object inside the cast's scope. */
const ALLOWED: Record<string, readonly CastRole[]> = {
  'places.edit': [...STAFF, 'manager'],
  'places.history': [...STAFF, 'manager'],
  'territory.dashboard': STAFF,
  'places.claims.review': STAFF,
  'places.moderate': STAFF,
  'places.reports.review': STAFF,
  'places.duplicates.review': STAFF,
  'places.import': STAFF,
  'places.managers.manage': STAFF,
  'sources.manage': ['admin'],
} satisfies Partial<Record<Action, readonly CastRole[]>>;

const PREFIXES = ['/gestion/lieux', '/gestion/territoires', '/gestion/revendications', '/gestion/modifications', '/gestion/signalements', '/gestion/doublons', '/gestion/sources'];
const PUBLIC_BY_DESIGN = BACKOFFICE_ROUTES.filter((r) => r.guard === 'token').map((r) => `${r.method} ${r.path}`);

describe('places back office in the authorisation matrix', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let inside: RouteObjects;
  let outside: RouteObjects;
  let routes: kit.MatrixRoute[];

  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
    const deps = kit.depsOf(t.app);
    const claimant = await kit.makeUser(deps, 'matrice-demandeur@example.fr');
    const createReport = async (uid: string) =>
      (await t.db.query<{ id: number }>(`INSERT INTO site.error_report (place_uid, message) VALUES ($1, 'Horaires faux sur la fiche.') RETURNING id`, [uid])).rows[0]!.id;
    inside = await seedRouteObjects(t.db, { commune: '27229', userId: claimant.id, tag: 'dedans', createReport });
    outside = await seedRouteObjects(t.db, { commune: '69123', userId: claimant.id, tag: 'dehors', createReport });
    const toMatrix = (r: BackofficeRoute) => ({
      method: r.method,
      route: r.path,
      inScope: r.url(inside),
      outOfScope: r.object === 'platform' ? undefined : r.url(outside),
      form: r.form,
      allowed: r.guard === 'signedIn' ? kit.SIGNED_IN : ALLOWED[r.action!]!,
      allowedOutOfScope: r.guard === 'signedIn' ? kit.SIGNED_IN : (['admin'] as const),
    });
    routes = BACKOFFICE_ROUTES.filter((r) => r.guard !== 'token').map(toMatrix);
    // A pair of places with one in scope and one out of it: only an administrator may compare,
    // merge or dismiss it (the second place is checked as strictly as the first). A fresh pair
    // for every request (an allowed merge changes the pair); refusals must leave both places and
    // the audit trail untouched (the matrix compares the database around every refused POST).
    let n = 0;
    const fresh = async (commune: string) => {
      const c = (await getCommune(t.db, commune))!;
      const id = `paire-${++n}-${commune}`;
      await upsertPlaces(t.db, [{ ...toRecord((await getPlaceRow(t.db, inside.place))!), id, nom: `Paire ${n}`, code_insee: c.code, commune: c.name, latitude: c.lat, longitude: c.lon }], { source: 'matrice-paires' });
      return (await t.db.query<{ uid: string }>('SELECT uid FROM places.place WHERE id = $1', [id])).rows[0]!.uid;
    };
    for (const [first, second] of [['27229', '69123'], ['69123', '27229']] as const) {
      const pair = (suffix: string) => async () => `/gestion/doublons/${await fresh(first)}/${await fresh(second)}${suffix}`;
      routes.push(
        { method: 'GET', route: '/gestion/doublons/:a/:b', inScope: pair(''), allowed: ['admin'] },
        // keep=b with fields taken from a: the out-of-scope place's fields would be overwritten
        { method: 'POST', route: '/gestion/doublons/:a/:b/fusion', inScope: pair('/fusion'), form: { keep: 'b', field_nom: 'a' }, allowed: ['admin'] },
        { method: 'POST', route: '/gestion/doublons/:a/:b/pas-un-doublon', inScope: pair('/pas-un-doublon'), form: {}, allowed: ['admin'] },
      );
    }
  });
  after(async () => t.close());

  test('the table lists every back-office route of the places module, each guarded', () => {
    assert.deepEqual(kit.uncoveredRoutes(t.app, routes, PREFIXES, PUBLIC_BY_DESIGN), []);
    assert.deepEqual(kit.unguardedRoutes(t.app, PREFIXES, PUBLIC_BY_DESIGN), []);
    for (const r of BACKOFFICE_ROUTES) if (r.guard === 'permission') assert.ok(ALLOWED[r.action!], `${r.action} has a rule`);
  });

  test('every route × every role × in and out of scope', async () => {
    const cast = await kit.createCast(t.app, { region: '28', departement: '27', place: inside.place });
    const { cells, failures } = await kit.runAuthorisationMatrix(cast, routes);
    assert.deepEqual(failures, [], kit.formatMatrix(cells));
    assert.ok(cells.length >= routes.length * 9);
  });
});

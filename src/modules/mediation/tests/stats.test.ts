/** Statistics from the counters: mediator, team, place, territory (staff only, in scope), public
 *  aggregates with small counts hidden; the indicators for the roadmap. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { mediationIndicators } from '../indicators.ts';
import { liveIndicators, type TerritoryRef } from '../../roadmap/index.ts';
import { recordActivity, updateProfile } from '../service.ts';
import { publicStatistics, statistics } from '../stats.ts';
import { makePlace, snapshot, xlsxSheets } from './support.ts';
import { generateActivities, rebuildCounters } from '../generate.ts';

const { depsOf, makeUser, signedInBrowser } = accountsTesting;

describe('mediation: statistics', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let mediatorId: string;
  let medUser: Awaited<ReturnType<typeof makeUser>>;
  let place: string;
  const year = String(new Date().getFullYear() - 1);

  before(async () => {
    t = await testApp();
    const deps = depsOf(t.app);
    place = await makePlace(t.db, '76540');
    const m = await makeUser(deps, 's-med@exemple.fr', [{ role: 'mediator', scopeKind: 'departement', scopeId: '76' }], 'Médiatrice');
    mediatorId = m.id;
    medUser = m;
    await updateProfile(t.ctx, m.id, 'Médiatrice', { employer: '', placeUids: [place] });
    // 7 individual sessions in March, one workshop of 12 in June, 2 sessions in another commune (Évreux, 27229).
    for (let i = 0; i < 7; i++) await recordActivity(t.ctx, m, { kind: 'individual', date: `${year}-03-1${i}`, duration: '30', placeKind: 'place', placeUid: place, themes: 'e-mail', anon_gender_f: '1' });
    await recordActivity(t.ctx, m, { kind: 'collective', date: `${year}-06-02`, duration: '120', placeKind: 'place', placeUid: place, themes: ['bureautique', 'e-mail'], workshopTitle: 'Traitement de texte', participants: '12', anon_gender_m: '5', anon_gender_f: '7' });
    for (let i = 0; i < 2; i++) await recordActivity(t.ctx, m, { kind: 'individual', date: `${year}-06-1${i}`, duration: '45', placeKind: 'other_commune', communeCode: '27229', themes: 'sante' });
  });
  after(async () => t.close());

  test('figures per scope come from the counters', async () => {
    const period = { from: `${year}-01`, to: `${year}-12` };
    const med = await statistics(t.db, 'mediator', [mediatorId], period);
    assert.equal(med.totals.activities, 10);
    assert.equal(med.totals.individual, 9);
    assert.equal(med.totals.accompaniments, 7 + 12 + 2);
    assert.equal(med.totals.hours, Math.round((7 * 30 + 120 + 2 * 45) / 60));
    assert.equal(med.months.find((m) => m.month === `${year}-03`)!.accompaniments, 7);
    const dep76 = await statistics(t.db, 'departement', ['76'], period);
    assert.equal(dep76.totals.accompaniments, 19);
    const themes = dep76.breakdowns.find((b) => b.metric === 'theme')!;
    assert.equal(themes.rows.find((r) => r.key === 'e-mail')!.value, 19);
    assert.equal(themes.rows.find((r) => r.key === 'bureautique')!.value, 12);
    const region = await statistics(t.db, 'region', ['28'], period);
    assert.equal(region.totals.accompaniments, 21);
    const pub = await publicStatistics(t.db, '28', 'departement', '27', year);
    assert.equal(pub.totals.accompaniments, null, 'two people in the Eure: hidden');
    const pub76 = await publicStatistics(t.db, '28', 'departement', '76', year);
    assert.equal(pub76.totals.accompaniments, null, 'the région (21) minus the Seine-Maritime (19) would give the Eure (2): hidden too');
    // The région's 2 people of unknown gender are hidden, so is its smallest other gender (5 men),
    // and so the Seine-Maritime's 5 men (the région minus the Eure's 0) and then its women.
    assert.equal(pub76.breakdowns.find((b) => b.metric === 'gender')!.rows.find((r) => r.key === 'm')!.value, null);
  });

  test('pages: the mediator sees theirs; territory pages for staff in scope; public page hides small counts', async () => {
    const deps = depsOf(t.app);
    const med = await signedInBrowser(t.app, deps, medUser, '192.0.2.19');
    const mine = await med.get(`/mediation/statistiques?annee=${year}`);
    assert.equal(mine.status, 200);
    assert.match(mine.body, /<strong>21<\/strong> accompagnements/);
    assert.equal((await med.get(`/mediation/statistiques?vue=lieu&id=${place}&annee=${year}`)).status, 200);
    assert.equal((await med.get(`/mediation/statistiques?vue=equipe&id=00000000-0000-4000-8000-000000000000`)).status, 404);
    assert.equal((await med.get(`/mediation/statistiques/territoire/departement/76?annee=${year}`)).status, 403);
    const staff = await makeUser(deps, 's-staff@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '28' }], 'Agent');
    const other = await makeUser(deps, 's-other@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '84' }], 'Autre');
    const sb = await signedInBrowser(t.app, deps, staff, '192.0.2.20');
    const ob = await signedInBrowser(t.app, deps, other, '192.0.2.21');
    const page = await sb.get(`/mediation/statistiques/territoire/departement/76?annee=${year}`);
    assert.equal(page.status, 200, page.body.slice(0, 500));
    assert.match(page.body, /<svg[^>]+role="img"/);
    assert.match(page.body, /<strong>19<\/strong> accompagnements/);
    assert.equal((await ob.get(`/mediation/statistiques/territoire/departement/76?annee=${year}`)).status, 403);
    assert.equal((await sb.get(`/mediation/statistiques/territoire/departement/76?annee=20x5`)).status, 400);
    const pub = await t.app.inject({ method: 'GET', url: `/statistiques/mediation/departement/27?annee=${year}` });
    assert.equal(pub.statusCode, 200);
    assert.match(pub.body, /non diffusé/);
    assert.doesNotMatch(pub.body, /<strong>2<\/strong>/);
    assert.equal((await t.app.inject({ method: 'GET', url: '/statistiques/mediation/departement/__proto__' })).statusCode, 404);
  });

  test('exports: the statistics pages and the open data as XLSX and CSV, hidden figures hidden there too', async () => {
    const deps = depsOf(t.app);
    const med = await signedInBrowser(t.app, deps, medUser, '192.0.2.22');
    const page = await med.get(`/mediation/statistiques?annee=${year}`);
    assert.match(page.body, new RegExp(`href="/mediation/statistiques\\?annee=${year}&amp;format=xlsx"`));
    const x = await med.download(`/mediation/statistiques?annee=${year}&format=xlsx`);
    assert.equal(x.status, 200, x.bytes.toString().slice(0, 300));
    assert.equal(x.headers['content-type'], 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    assert.match(String(x.headers['content-disposition']), /attachment; filename="mes-statistiques-\d{4}-01-\d{4}-12\.xlsx"/);
    const sheets = xlsxSheets(x.bytes);
    assert.deepEqual([...sheets.keys()], ['Synthèse', 'Par mois', 'Répartitions']);
    assert.deepEqual(sheets.get('Synthèse')!.find((r) => r[0] === 'Accompagnements'), ['Accompagnements', '21']);
    assert.deepEqual(sheets.get('Par mois')!.find((r) => r[0] === `${year}-03`), [`${year}-03`, '7', '7']);
    assert.deepEqual(sheets.get('Répartitions')!.find((r) => r[2] === 'bureautique'), ['Thématiques', 'accompagnements', 'bureautique', 'Bureautique', '12']);
    const c = await med.get(`/mediation/statistiques?annee=${year}&format=csv`);
    assert.equal(c.status, 200);
    assert.match(c.body, /^section,cle,libelle,valeur\n/);
    assert.match(c.body, /\ntotal,accompaniments,Accompagnements,21\n/);
    const before = await snapshot(t.db);
    const bad = await med.get(`/mediation/statistiques?annee=${year}&format=constructor`);
    assert.equal(bad.status, 400);
    assert.match(bad.body, /xlsx ou csv/);
    assert.deepEqual(await snapshot(t.db), before);
    // Public: the Eure's two people are « non diffusé » in the workbook too.
    const pub = await t.app.inject({ method: 'GET', url: `/statistiques/mediation/departement/27?annee=${year}&format=xlsx` });
    assert.equal(pub.statusCode, 200);
    const ps = xlsxSheets(pub.rawPayload);
    assert.deepEqual(ps.get('Synthèse')!.find((r) => r[0] === 'Accompagnements'), ['Accompagnements', 'non diffusé']);
    const od = await t.app.inject({ method: 'GET', url: `/api/v1/mediation/open-data.xlsx?year=${year}` });
    assert.equal(od.statusCode, 200);
    const json = (await t.app.inject({ method: 'GET', url: `/api/v1/mediation/open-data.json?year=${year}` })).json().rows as { value: number | null }[];
    const rows = xlsxSheets(od.rawPayload).get('mediation-numerique')!;
    assert.deepEqual(rows[0], ['territory_level', 'territory_code', 'month', 'figure', 'key', 'value']);
    assert.equal(rows.length, json.length + 1);
    assert.ok(rows.slice(1).every((r) => r.length === 5 || Number(r[5]) >= 5), 'hidden values are empty cells, shown ones at least 5');
  });

  test('the counters kept by each record equal a rebuild from the tables; bulk generation is counted the same way', async () => {
    const read = async () => (await t.db.query('SELECT scope, scope_id, month::text, metric, key, value::bigint FROM mediation.stat_counter ORDER BY 1, 2, 3, 4, 5')).rows;
    const incremental = await read();
    await rebuildCounters(t.db);
    assert.deepEqual(await read(), incremental);
    await generateActivities(t.db, { activities: 200, sites: [{ placeUid: null, communeCode: '50129', departement: '50', region: '28' }], mediators: 3, from: `${year}-01-01`, days: 365, followed: 20, prefix: 'gen-', batch: 70 });
    const acts = (await t.db.query<{ n: number; p: number }>(`SELECT count(*)::int AS n, sum(participants)::int AS p FROM mediation.activity WHERE source = 'generated'`)).rows[0]!;
    assert.equal(acts.n, 200);
    const rows = (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM mediation.activity_beneficiary ab JOIN mediation.activity a ON a.id = ab.activity_id WHERE a.source = 'generated'`)).rows[0]!;
    assert.equal(rows.n, acts.p);
    const followed = (await t.db.query<{ n: number }>(`SELECT count(DISTINCT beneficiary_id)::int AS n FROM mediation.activity_beneficiary WHERE beneficiary_id IS NOT NULL`)).rows[0]!;
    assert.ok(followed.n > 0);
    await rebuildCounters(t.db);
    const dep50 = await statistics(t.db, 'departement', ['50'], { from: `${year}-01`, to: `${year}-12` });
    assert.equal(dep50.totals.activities, 200);
    assert.equal(dep50.totals.accompaniments, acts.p);
  });

  test('indicators for the roadmap are the protected public figures: hidden where the public page hides them, nothing per commune', async () => {
    const before = await snapshot(t.db);
    const byId = Object.fromEntries(mediationIndicators.map((i) => [i.id, i]));
    const acts = await byId['mediation.activities']!.compute({ db: t.db });
    const at = (list: typeof acts, kind: string, code: string, period: string) => list.find((v) => v.territory.kind === kind && v.territory.code === code && v.period === period)?.value;
    const staff = await statistics(t.db, 'region', ['28'], { from: `${year}-01`, to: `${year}-12` });
    assert.equal(at(acts, 'region', '28', year), staff.totals.activities);
    assert.equal(at(acts, 'departement', '27', year), null, 'two activities in the Eure: hidden');
    assert.equal(at(acts, 'departement', '76', year), null, 'the région (10) minus the Seine-Maritime would give the Eure (2): hidden too');
    assert.ok(!acts.some((v) => (v.territory.kind as string) === 'commune'), 'commune counts are staff-only');
    for (const v of acts) assert.ok(v.value === null || v.value === 0 || v.value >= 5, `${v.territory.kind}:${v.territory.code} ${v.period} = ${v.value}`);
    const people = await byId['mediation.people']!.compute({ db: t.db });
    assert.equal(at(people, 'region', '28', year), staff.totals.accompaniments);
    // The same cells as the public statistics (page, API, open data).
    for (const code of ['76', '27', '14']) {
      const pub = await publicStatistics(t.db, '28', 'departement', code, year);
      assert.equal(at(acts, 'departement', code, year) ?? 0, pub.totals.activities ?? 0);
      assert.equal(at(people, 'departement', code, year) ?? 0, pub.totals.accompaniments ?? 0);
    }
    // What the roadmap receives (its running totals): the région; null for a hidden département, a commune, an EPCI.
    const live = liveIndicators().find((i) => i.id === 'mediation.activities')!;
    const values = await live.compute({ db: t.db }, [
      { level: 'region', code: '28' }, { level: 'departement', code: '76' }, { level: 'departement', code: '14' }, { level: 'commune', code: '76540' }, { level: 'epci', code: '200023414' },
    ] as TerritoryRef[]);
    assert.deepEqual(Object.fromEntries(values), { 'region:28': staff.totals.activities, 'departement:76': null, 'departement:14': 0, 'commune:76540': null, 'epci:200023414': null });
    assert.deepEqual(await snapshot(t.db), before);
  });
});

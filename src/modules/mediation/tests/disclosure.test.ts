/**
 * Statistical disclosure control of the public figures: small counts are hidden, and an attacker
 * who collects every public figure (the public API for the région and each of its départements,
 * the open data, the public page) and subtracts along every sum that links them (year = months,
 * région = départements, activities = individual + collective, people = genders…) recovers none.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { listDepartements } from '../../territories/index.ts';
import { suppress } from '../disclosure.ts';
import { recordActivity, updateProfile } from '../service.ts';
import { makePlace, snapshot } from './support.ts';

const { depsOf, makeUser } = accountsTesting;

type Published = Map<string, number | null>;

/** Subtraction attack: solves every equation with a single unknown, again and again. */
function attack(published: Published, equations: { total: string; parts: string[] }[]): Map<string, number> {
  const known = new Map<string, number>();
  for (const [k, v] of published) if (v !== null) known.set(k, v);
  // A name never published is 0 (rows that are absent are empty).
  const get = (k: string) => (published.has(k) ? known.get(k) : 0);
  const derived = new Map<string, number>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const e of equations) {
      const members = [e.total, ...e.parts];
      const unknown = members.filter((k) => get(k) === undefined);
      if (unknown.length !== 1) continue;
      const u = unknown[0]!;
      const partsSum = e.parts.filter((k) => k !== u).reduce((s, k) => s + get(k)!, 0);
      const v = u === e.total ? partsSum : get(e.total)! - partsSum;
      known.set(u, v);
      derived.set(u, v);
      changed = true;
    }
  }
  return derived;
}

describe('mediation: statistical disclosure control', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  const year = String(new Date().getFullYear() - 1);

  before(async () => {
    t = await testApp();
    const deps = depsOf(t.app);
    const rouen = await makePlace(t.db, '76540');
    const caen = await makePlace(t.db, '14118');
    const m = await makeUser(deps, 'sdc-med@exemple.fr', [{ role: 'mediator', scopeKind: 'region', scopeId: '28' }], 'Médiatrice');
    await updateProfile(t.ctx, m.id, 'Médiatrice', { employer: '', placeUids: [rouen, caen] });
    // Seine-Maritime: 7 people in March, 1 man in April (the small count to protect).
    for (let i = 0; i < 7; i++) await recordActivity(t.ctx, m, { kind: 'individual', date: `${year}-03-1${i}`, duration: '30', placeKind: 'place', placeUid: rouen, themes: 'e-mail', anon_gender_f: '1' });
    await recordActivity(t.ctx, m, { kind: 'individual', date: `${year}-04-02`, duration: '60', placeKind: 'place', placeUid: rouen, themes: 'sante', anon_gender_m: '1' });
    // Eure: 2 people in June (hidden: the région minus the others would give them away).
    for (let i = 0; i < 2; i++) await recordActivity(t.ctx, m, { kind: 'individual', date: `${year}-06-1${i}`, duration: '45', placeKind: 'other_commune', communeCode: '27229', themes: 'sante' });
    // Calvados: a workshop of 9 in May.
    await recordActivity(t.ctx, m, { kind: 'collective', date: `${year}-05-02`, duration: '120', placeKind: 'place', placeUid: caen, themes: ['bureautique'], workshopTitle: 'Tableur', participants: '9', anon_gender_f: '6', anon_gender_m: '3' });
  });
  after(async () => t.close());

  test('suppress: a lone hidden part gets a complement; hidden parts never add up to a small count', () => {
    const v = new Map([['t', 20], ['a', 3], ['b', 8], ['c', 9]]);
    const h = suppress(v, [{ total: 't', parts: ['a', 'b', 'c'] }]);
    assert.deepEqual([...h].sort(), ['a', 'b']);
    // Two small parts (2 + 2 = 4 < 5) would still tell each is 1 to 3: a third one is hidden.
    const v2 = new Map([['t', 20], ['a', 2], ['b', 2], ['c', 16]]);
    assert.deepEqual([...suppress(v2, [{ total: 't', parts: ['a', 'b', 'c'] }])].sort(), ['a', 'b', 'c']);
    // Nothing small: nothing hidden; zeros are published.
    assert.equal(suppress(new Map([['t', 10], ['a', 10], ['b', 0]]), [{ total: 't', parts: ['a', 'b'] }]).size, 0);
    // A hidden total with one published part: the part alone would not reveal it, the chain would.
    const chain = suppress(new Map([['y', 12], ['m1', 8], ['m2', 4], ['r', 12], ['d1', 12], ['d2', 0]]), [
      { total: 'y', parts: ['m1', 'm2'] },
      { total: 'r', parts: ['d1', 'd2'] },
    ]);
    assert.deepEqual([...chain].sort(), ['m1', 'm2']);
  });

  test('the subtraction attack on every public figure recovers nothing', async () => {
    const before = await snapshot(t.db);
    const deps = (await listDepartements(t.db, '28')).map((d) => d.code);
    const territories = ['region:28', ...deps.map((d) => `departement:${d}`)];
    const published: Published = new Map();
    const equations: { total: string; parts: string[] }[] = [];
    const months = Array.from({ length: 12 }, (_, i) => `${year}-${String(i + 1).padStart(2, '0')}`);
    const figureKeys = new Map<string, Set<string>>();
    const yearly = new Set<string>();
    for (const ref of territories) {
      const res = await t.app.inject({ method: 'GET', url: `/api/v1/mediation/statistics?territory=${ref}&year=${year}` });
      assert.equal(res.statusCode, 200, res.body);
      const s = res.json();
      for (const [k, v] of Object.entries(s.totals)) if (k !== 'hours') published.set(`${ref}|${year}|total|${k}`, v as number | null);
      for (const m of s.months) {
        published.set(`${ref}|${m.month}|total|activities`, m.activities);
        published.set(`${ref}|${m.month}|total|accompaniments`, m.accompaniments);
      }
      for (const b of s.breakdowns) {
        yearly.add(b.metric);
        for (const r of b.rows) {
          published.set(`${ref}|${year}|${b.metric}|${r.key}`, r.value);
          if (!figureKeys.has(b.metric)) figureKeys.set(b.metric, new Set());
          figureKeys.get(b.metric)!.add(r.key);
        }
      }
    }
    const od = await t.app.inject({ method: 'GET', url: `/api/v1/mediation/open-data.json?year=${year}` });
    assert.equal(od.statusCode, 200);
    const rows = od.json().rows as { territory_level: string; territory_code: string; month: string; figure: string; key: string; value: number | null }[];
    assert.ok(rows.length > 0);
    for (const r of rows) {
      // Activities by kind are the API's individual/collective; accompaniments by kind have no twin.
      const ref = `${r.territory_level}:${r.territory_code}|${r.month}`;
      const name = r.figure === 'activities' ? `${ref}|total|${r.key}` : r.figure === 'accompaniments' ? `${ref}|total|acc-${r.key}` : `${ref}|${r.figure}|${r.key}`;
      published.set(name, r.value);
      if (!figureKeys.has(r.figure)) figureKeys.set(r.figure, new Set());
      figureKeys.get(r.figure)!.add(r.key);
    }
    // Every published figure is zero or at least 5.
    for (const [k, v] of published) assert.ok(v === null || v === 0 || v >= 5, `${k} = ${v}`);
    // The equations the attacker knows.
    for (const ref of territories) {
      for (const p of [year, ...months]) {
        equations.push({ total: `${ref}|${p}|total|activities`, parts: [`${ref}|${p}|total|individual`, `${ref}|${p}|total|collective`] });
        equations.push({ total: `${ref}|${p}|total|accompaniments`, parts: [...(figureKeys.get('gender') ?? [])].map((k) => `${ref}|${p}|gender|${k}`) });
        if (p !== year) equations.push({ total: `${ref}|${p}|total|accompaniments`, parts: ['individual', 'collective'].map((k) => `${ref}|${p}|total|acc-${k}`) });
        equations.push({ total: `${ref}|${p}|total|activities`, parts: [...(figureKeys.get('place_kind') ?? [])].map((k) => `${ref}|${p}|place_kind|${k}`) });
      }
      // (accompaniments by kind are published per month only: no yearly equation for them)
      for (const name of ['total|activities', 'total|accompaniments', 'total|individual', 'total|collective']) {
        equations.push({ total: `${ref}|${year}|${name}`, parts: months.map((m) => `${ref}|${m}|${name}`) });
      }
      for (const [figure, keys] of figureKeys) {
        if (!yearly.has(figure)) continue; // published per month only (open data)
        for (const key of keys) equations.push({ total: `${ref}|${year}|${figure}|${key}`, parts: months.map((m) => `${ref}|${m}|${figure}|${key}`) });
      }
    }
    const allNames = new Set([...published.keys()].map((k) => k.slice(k.indexOf('|'))));
    for (const suffix of allNames) if (!/^\|\d{4}\|total\|acc-/.test(suffix)) equations.push({ total: `region:28${suffix}`, parts: deps.map((d) => `departement:${d}${suffix}`) });
    const derived = attack(published, equations);
    const leaks = [...derived].filter(([k]) => published.get(k) === null);
    assert.deepEqual(leaks, [], 'hidden figures recovered by subtraction');
    // The Eure's 2 people and the Seine-Maritime's man of April stay hidden everywhere.
    assert.equal(published.get(`departement:27|${year}|total|accompaniments`), null);
    assert.equal(published.get(`region:28|${year}|total|accompaniments`), 19, 'the région total is still published');
    assert.equal(published.get(`departement:76|${year}-04|total|accompaniments`), null);
    assert.notEqual(published.get(`departement:14|${year}|total|accompaniments`), 2);
    assert.deepEqual(await snapshot(t.db), before);
  });

  test('public figures only for régions and départements and calendar years; refusals name the parameter and change nothing', async () => {
    const before = await snapshot(t.db);
    const commune = await t.app.inject({ method: 'GET', url: `/api/v1/mediation/statistics?territory=commune:76540&year=${year}` });
    assert.equal(commune.statusCode, 400);
    assert.equal(commune.json().field, 'territory');
    const range = await t.app.inject({ method: 'GET', url: `/api/v1/mediation/statistics?territory=departement:76&from=${year}-01&to=${year}-05` });
    assert.equal(range.statusCode, 400);
    assert.equal(range.json().field, 'from');
    const badYear = await t.app.inject({ method: 'GET', url: '/api/v1/mediation/statistics?territory=departement:76&year=20x5' });
    assert.equal(badYear.statusCode, 400);
    assert.equal(badYear.json().field, 'year');
    assert.equal((await t.app.inject({ method: 'GET', url: `/statistiques/mediation/commune/76540?annee=${year}` })).statusCode, 404);
    const pageRange = await t.app.inject({ method: 'GET', url: `/statistiques/mediation/departement/76?du=${year}-01&au=${year}-05` });
    assert.equal(pageRange.statusCode, 400);
    const page = await t.app.inject({ method: 'GET', url: `/statistiques/mediation/region/28?annee=${year}` });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /non diffusé/);
    assert.match(page.body, /<strong>19<\/strong> accompagnements/);
    assert.deepEqual(await snapshot(t.db), before);
  });

  test('the open-data page lists the mediation datasets, all years and year by year, in CSV, XLSX and JSON', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/donnees' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<h2 id="mediation-numerique">Médiation numérique et formations<\/h2>/);
    assert.match(page.body, /tout nombre inférieur à 5 est masqué, ainsi que les nombres qui permettraient de le retrouver par soustraction/);
    for (const f of ['csv', 'xlsx', 'json']) {
      assert.match(page.body, new RegExp(`href="/api/v1/mediation/open-data\\.${f}"`));
      assert.match(page.body, new RegExp(`href="/api/v1/mediation/open-data\\.${f}\\?year=${year}"`));
    }
    const csv = await t.app.inject({ method: 'GET', url: `/api/v1/mediation/open-data.csv?year=${year}` });
    assert.equal(csv.statusCode, 200);
    assert.match(csv.body, /^territory_level,territory_code,month,figure,key,value\n/);
  });
});

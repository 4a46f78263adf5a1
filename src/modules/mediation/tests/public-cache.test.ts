/**
 * The protected public figures are built once per change of the counters and kept in the database
 * (mediation.public_cube), so that the public pages, API and open data do not rebuild them per
 * request; every write bumps the région's version in its own transaction, so no instance serves a
 * stale cube.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../../app.ts';
import { createLogger } from '../../../platform/log.ts';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { buildPublicCube, publicCube, refreshPublicCubes } from '../disclosure.ts';
import { rebuildCounters } from '../generate.ts';
import { deleteActivity, recordActivity, updateProfile } from '../service.ts';
import { makePlace } from './support.ts';

const { depsOf, makeUser } = accountsTesting;

describe('mediation: the protected public figures are cached in the database', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let m: Awaited<ReturnType<typeof makeUser>>;
  let rouen: string;
  const year = String(new Date().getFullYear() - 1);
  const version = async () => Number((await t.db.query<{ v: string }>('SELECT version AS v FROM mediation.public_version WHERE region = $1 AND year = $2', ['28', Number(year)])).rows[0]?.v ?? 0);
  const stored = async () => (await t.db.query<{ territory: string; version: string }>('SELECT territory, version FROM mediation.public_cube WHERE region = $1 AND year = $2 ORDER BY territory', ['28', Number(year)])).rows;
  const people = async (app = t.app, ref = 'departement:76') => {
    const res = await app.inject({ method: 'GET', url: `/api/v1/mediation/statistics?territory=${ref}&year=${year}` });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().totals.accompaniments as number | null;
  };
  const record = (i: number, n = 1) =>
    recordActivity(t.ctx, m, { kind: n > 1 ? 'collective' : 'individual', date: `${year}-03-${String(10 + (i % 15)).padStart(2, '0')}`, duration: '30', placeKind: 'place', placeUid: rouen, themes: 'e-mail', ...(n > 1 ? { workshopTitle: 'Atelier', participants: String(n) } : {}) });

  before(async () => {
    t = await testApp();
    rouen = await makePlace(t.db, '76540');
    m = await makeUser(depsOf(t.app), 'cache-med@exemple.fr', [{ role: 'mediator', scopeKind: 'region', scopeId: '28' }], 'Médiatrice');
    await updateProfile(t.ctx, m.id, 'Médiatrice', { employer: '', placeUids: [rouen] });
    for (let i = 0; i < 6; i++) await record(i);
  });
  after(async () => t.close());

  test('a write bumps the version of its région and year in its own transaction', async () => {
    const v0 = await version();
    assert.ok(v0 >= 6, `version ${v0} after six records`);
    await record(7);
    assert.equal(await version(), v0 + 1);
    // A refused record bumps nothing.
    await assert.rejects(recordActivity(t.ctx, m, { kind: 'individual', date: `${year}-03-10`, duration: '0', placeKind: 'place', placeUid: rouen, themes: 'e-mail' }));
    assert.equal(await version(), v0 + 1);
  });

  test('the first read builds and stores every territory of the région at the current version; the next reads use it', async () => {
    assert.equal(await people(), 7);
    const rows = await stored();
    const v = await version();
    assert.ok(rows.length >= 6, 'the région and its départements');
    assert.ok(rows.every((r) => Number(r.version) === v), JSON.stringify(rows));
    // Proof that the next read comes from the stored cells and not from the counters: change the
    // stored value (a test-only edit); the API now says what the stored row says.
    await t.db.query(`UPDATE mediation.public_cube SET cells = jsonb_set(cells, '{${year}|accompaniments|*}', '4242') WHERE region = '28' AND year = $1 AND territory = 'departement:76'`, [Number(year)]);
    assert.equal(await people(), 4242);
    // Another app instance on the same database reads the same stored row.
    const other = await buildApp(t.ctx.config, t.db, createLogger('silent'));
    try {
      assert.equal(await people(other.app), 4242);
      // A write through the other instance invalidates it for both: the figure is rebuilt from the counters.
      await recordActivity(other.ctx, m, { kind: 'individual', date: `${year}-03-20`, duration: '30', placeKind: 'place', placeUid: rouen, themes: 'e-mail' });
      assert.equal(await people(t.app), 8);
      assert.equal(await people(other.app), 8);
    } finally {
      await other.app.close();
    }
  });

  test('deleting an activity and rebuilding the counters invalidate it too', async () => {
    const id = (await record(3, 6)).id;
    assert.equal(await people(), 14);
    await deleteActivity(t.ctx, m.id, id);
    assert.equal(await people(), 8);
    await t.db.query(`UPDATE mediation.public_cube SET cells = jsonb_set(cells, '{${year}|accompaniments|*}', '4242') WHERE region = '28' AND year = $1`, [Number(year)]);
    await rebuildCounters(t.db);
    assert.equal(await people(), 8);
    assert.equal(await people(t.app, 'region:28'), 8);
  });

  test('simultaneous readers of a stale cube get the same figures, equal to a fresh build; one row per territory', async () => {
    await record(4);
    const all = await Promise.all(Array.from({ length: 12 }, () => people()));
    assert.deepEqual(new Set(all), new Set([9]));
    const rows = await stored();
    assert.equal(new Set(rows.map((r) => r.territory)).size, rows.length);
    const fresh = await buildPublicCube(t.db, '28', year);
    const cached = await publicCube(t.db, '28', year);
    const sorted = (cells: { territory: string; period: string; figure: string; key: string; value: number | null }[]) =>
      cells.map((c) => `${c.territory}|${c.period}|${c.figure}|${c.key}=${c.value}`).sort();
    const freshCells = [...fresh.cells].flatMap(([territory, byKey]) => Object.entries(byKey).map(([k, value]) => { const [period, figure, key] = k.split('|') as [string, string, string]; return { territory, period, figure, key, value }; }));
    assert.deepEqual(sorted(cached.cells()), sorted(freshCells));
    // Small counts stay hidden in the stored cells: 9 people in the Seine-Maritime, none elsewhere.
    assert.equal(cached.value('departement:76', `${year}-03`, 'accompaniments', '*'), 9);
  });

  test('a background refresh stores the cube of the current version: the next reader builds nothing', async () => {
    await record(5);
    const v = await version();
    assert.ok((await stored()).every((r) => Number(r.version) < v), 'stale after the write');
    await refreshPublicCubes(t.db, [{ region: '28', year: Number(year) }]);
    const rows = await stored();
    assert.ok(rows.length >= 6 && rows.every((r) => Number(r.version) === v), JSON.stringify(rows));
    // Served from the stored rows (a test-only edit shows it), not rebuilt.
    await t.db.query(`UPDATE mediation.public_cube SET cells = jsonb_set(cells, '{${year}|accompaniments|*}', '4343') WHERE region = '28' AND year = $1 AND territory = 'departement:76'`, [Number(year)]);
    assert.equal(await people(), 4343);
  });

  test('a write committed during a rebuild is never hidden by it: the reader gets the new figures', async () => {
    const before = await people();
    assert.equal(before, 4343);
    // A refresh starts (reading the counters of the current version), a write commits meanwhile,
    // a reader comes: whether it joins the build in flight or not, it must see the new activity.
    await record(6); // stale now
    const refresh = refreshPublicCubes(t.db, [{ region: '28', year: Number(year) }]);
    await record(8, 6); // six more people, committed while the refresh may still be running
    const after = await people();
    await refresh;
    const fresh = await buildPublicCube(t.db, '28', year);
    const expected = fresh.cells.get('departement:76')![`${year}|accompaniments|*`];
    assert.equal(after, expected);
    assert.equal(after, (await people()));
    assert.ok(typeof expected === 'number' && expected >= 16, `${expected}`);
  });
});

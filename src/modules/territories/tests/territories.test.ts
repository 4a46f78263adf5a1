/**
 * Territories: what the COG load holds, the look-ups other modules rely on (code, postal code,
 * name, point in polygon), the API, the CLI, and the behaviour without geometry files.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { testDb } from '../../../../test/support/db.ts';
import { silentProgress } from '../../../platform/progress.ts';
import { createLogger } from '../../../platform/log.ts';
import { buildApp } from '../../../app.ts';
import {
  communeAt,
  communeCodesIn,
  communesByPostalCode,
  communesByPostalCodes,
  currentCommuneOf,
  getCommune,
  getCommunes,
  listDepartements,
  listRegions,
  resolveTerritory,
  searchCommunes,
  territoriesStatus,
} from '../index.ts';
import { loadTerritories } from '../load.ts';
import { territoriesCommands } from '../cli.ts';

let t: Awaited<ReturnType<typeof testApp>>;
before(async () => {
  t = await testApp();
});
after(async () => {
  await t.close();
});

const codes = (cs: { code: string }[]) => cs.map((c) => c.code);

describe('the COG reference', () => {
  test('records the COG year and holds every level, with the Paris/Lyon/Marseille arrondissements', async () => {
    const s = await territoriesStatus(t.db);
    assert.equal(s.loaded, true);
    assert.equal(s.cogYear, 2026);
    assert.equal(s.counts.arrondissements, 45);
    assert.equal(s.counts.departements, 109); // 101 départements + the 8 overseas collectivités' codes
    assert.ok(s.counts.communes > 34_000 && s.counts.communes < 36_000, String(s.counts.communes));
    assert.ok(s.counts.epci > 1200);
    const regions = await listRegions(t.db);
    assert.equal(regions.filter((r) => r.code.length === 2).length, 18);
    // Overseas collectivités (975–989) are listed, last.
    assert.deepEqual(codes(regions).slice(-8), ['975', '977', '978', '984', '986', '987', '988', '989']);
  });

  test('known gaps are explicit: communes without a centre are listed, never guessed', async () => {
    const s = await territoriesStatus(t.db);
    assert.ok(s.centres && s.polygons);
    assert.ok(s.communesWithoutCentre.length > 0 && s.communesWithoutCentre.length < 500);
    const missing = await getCommune(t.db, s.communesWithoutCentre[0]!);
    assert.ok(missing && missing.lat === null && missing.lon === null && missing.centreMethod === null);
  });
});

describe('look-ups', () => {
  test('by INSEE code (case-insensitive Corsican codes), several at once, and former codes', async () => {
    assert.equal((await getCommune(t.db, '2a004'))?.name, 'Ajaccio');
    assert.equal(await getCommune(t.db, '99999'), null);
    const many = await getCommunes(t.db, ['27229', '2A004', '00000']);
    assert.deepEqual([...many.keys()].sort(), ['27229', '2A004']);
    const paris = (await getCommune(t.db, '75056'))!;
    assert.ok(paris.population > 2_000_000);
    assert.equal((await getCommune(t.db, '75111'))?.parent, '75056');
    // A commune merged into a commune nouvelle still resolves to its current commune.
    assert.equal((await currentCommuneOf(t.db, '27058'))?.name, 'Les Trois Lacs');
  });

  test('by postal code: the candidate communes, most populous first; arrondissements too', async () => {
    assert.deepEqual(codes(await communesByPostalCode(t.db, '27000')), ['27229']);
    assert.deepEqual(codes(await communesByPostalCode(t.db, '75011')), ['75056', '75111']);
    assert.deepEqual(await communesByPostalCode(t.db, '2700'), []);
    const bulk = await communesByPostalCodes(t.db, ['27000', '75011', '00000']);
    assert.deepEqual(codes(bulk.get('75011')!), ['75056', '75111']);
    assert.deepEqual(bulk.get('00000'), []);
  });

  test('by name: accent- and case-insensitive prefixes, "st" = "saint", ranked by population', async () => {
    assert.deepEqual(codes(await searchCommunes(t.db, 'st etienne', 3)), ['42218', '76575', '44158']);
    assert.equal((await searchCommunes(t.db, 'EVREU', 1))[0]?.code, '27229');
    assert.equal((await searchCommunes(t.db, "l'hay", 1))[0]?.code, '94038'); // L'Haÿ-les-Roses
    assert.equal((await searchCommunes(t.db, 'lhaylesroses', 1))[0]?.code, '94038');
    assert.deepEqual(codes(await searchCommunes(t.db, '75011 paris', 3)), ['75056', '75111']);
    assert.deepEqual(await searchCommunes(t.db, 'zzzzqqq', 3), []);
  });

  test('point in polygon: which commune contains this point', async () => {
    assert.equal((await communeAt(t.db, 49.0241, 1.1508))?.code, '27229'); // Évreux
    assert.equal((await communeAt(t.db, 41.9192, 8.7386))?.code, '2A004'); // Ajaccio
    assert.equal((await communeAt(t.db, 45.764, 4.8357))?.code, '69123'); // Lyon
    assert.equal((await communeAt(t.db, -21.1151, 55.5364))?.departement, '974'); // La Réunion
    assert.equal(await communeAt(t.db, 46, -10), null); // the Atlantic
  });

  test('territory references of every level', async () => {
    const corse = (await resolveTerritory(t.db, 'departement:2A'))!;
    assert.deepEqual({ name: corse.name, parents: corse.parents.map((p) => p.code), communes: corse.communeCount }, { name: 'Corse-du-Sud', parents: ['94'], communes: 124 });
    const epci = (await resolveTerritory(t.db, '200000172'))!;
    assert.equal(epci.level, 'epci');
    assert.deepEqual(epci.parents.map((p) => p.level), ['region', 'departement']);
    assert.equal(await resolveTerritory(t.db, 'region:00'), null);
    assert.equal((await communeCodesIn(t.db, 'departement:27')).length, (await resolveTerritory(t.db, '27'))!.communeCount);
    assert.equal((await listDepartements(t.db, '28')).map((d) => d.code).join(','), '14,27,50,61,76');
  });
});

describe('API', () => {
  const get = (url: string) => t.app.inject({ method: 'GET', url });

  test('communes by name, postal code and point; one criterion at a time, errors name the parameter', async () => {
    assert.equal((await get('/api/v1/territories/communes?q=evreux')).json().communes[0].code, '27229');
    assert.deepEqual((await get('/api/v1/territories/communes?postal_code=27000')).json().communes.map((c: { code: string }) => c.code), ['27229']);
    assert.equal((await get('/api/v1/territories/communes?lat=49.0241&lon=1.1508')).json().communes[0].code, '27229');
    const none = await get('/api/v1/territories/communes');
    assert.equal(none.statusCode, 400);
    assert.equal(none.json().field, 'q');
    const two = await get('/api/v1/territories/communes?q=a&postal_code=27000');
    assert.equal(two.statusCode, 400);
    const badLat = await get('/api/v1/territories/communes?lat=91&lon=2');
    assert.equal(badLat.statusCode, 400);
    assert.equal(badLat.json().field, 'lat');
    const badPostal = await get('/api/v1/territories/communes?postal_code=27');
    assert.equal(badPostal.json().field, 'postal_code');
  });

  test('one territory, lists, status; ETag and Cache-Control on reads', async () => {
    const r = await get('/api/v1/territories/communes/2A004');
    assert.equal(r.statusCode, 200);
    assert.ok(r.headers.etag && String(r.headers['cache-control']).includes('max-age'));
    const again = await t.app.inject({ method: 'GET', url: '/api/v1/territories/communes/2A004', headers: { 'if-none-match': String(r.headers.etag) } });
    assert.equal(again.statusCode, 304);
    assert.equal((await get('/api/v1/territories/communes/99999')).statusCode, 404);
    assert.equal((await get('/api/v1/territories/departement/27')).json().name, 'Eure');
    assert.equal((await get('/api/v1/territories/regions')).json().regions.length, 26);
    assert.equal((await get('/api/v1/territories/departements?region=28')).json().departements.length, 5);
    const status = (await get('/api/v1/territories/status')).json();
    assert.equal(status.cogYear, 2026);
  });
});

describe('CLI', () => {
  test('territories status prints what is loaded; a second load is skipped', async () => {
    const out: string[] = [];
    const ctx = { db: t.db, config: t.ctx.config, log: t.ctx.log, out: (s: string) => out.push(s), progress: () => silentProgress() };
    assert.equal(await territoriesCommands.territories!.run(['status'], ctx as never), 0);
    assert.match(out.join('\n'), /COG 2026/);
    assert.match(out.join('\n'), /communes without a centre/);
    out.length = 0;
    assert.equal(await territoriesCommands.territories!.run(['load'], ctx as never), 0);
    assert.match(out.join('\n'), /already loaded|déjà|skipped/i);
    assert.equal(await territoriesCommands.territories!.run(['nope'], ctx as never), 2);
  });
});

describe('without the geometry files', () => {
  test('the platform still loads the COG; features needing coordinates say they are missing', async () => {
    const db = await testDb();
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-nogeo-'));
    try {
      // Loaded geometry is never replaced by none: start from a database without territories.
      await db.exec('TRUNCATE territories.meta');
      const report = await loadTerritories(db, { sharedDataDir: empty, force: true });
      assert.ok(report.warnings.some((w) => /communes-centres|centre/i.test(w)), report.warnings.join('\n'));
      const s = await territoriesStatus(db);
      assert.equal(s.centres, false);
      assert.equal(s.polygons, false);
      assert.equal((await getCommune(db, '27229'))?.lat, null);
      assert.equal(await communeAt(db, 49.0241, 1.1508), null);
      const { app } = await buildApp(t.ctx.config, db, createLogger('silent'));
      try {
        const r = await app.inject({ method: 'GET', url: '/api/v1/territories/communes?lat=49.0241&lon=1.1508' });
        assert.equal(r.statusCode, 503);
        assert.equal(r.json().error, 'geometry_missing');
        assert.match(r.json().message, /contours|géométrie|polygones/i);
        assert.equal((await app.inject({ method: 'GET', url: '/api/v1/territories/communes?q=evreux' })).json().communes[0].code, '27229');
      } finally {
        await app.close();
      }
    } finally {
      await db.close();
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});

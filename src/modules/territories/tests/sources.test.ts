/**
 * The reference geography from its official sources, downloaded for real from a local HTTP server
 * that serves the shared files at the official paths and in the official formats (gzip included):
 * a complete load records what it received; a truncated download, a corrupt gzip file, a wrong
 * checksum and a server error are each refused with a message naming the source, leaving the
 * database rows and the download cache as they were.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { testDb } from '../../../../test/support/db.ts';
import { startMirror, type Mirror, type MirrorFault } from '../../../../scripts/territories-mirror.mjs';
import { loadConfig } from '../../../platform/config.ts';
import type { Db } from '../../../platform/db/index.ts';
import { boundaryCollection, communeAt, getCommune, onTerritoriesLoaded, territoriesStatus } from '../index.ts';
import { loadTerritories } from '../load.ts';
import { cacheName, sourceUrl } from '../sources.ts';

const shared = loadConfig({ NODE_ENV: 'test' }).sharedDataDir;
const hasShared = fs.existsSync(path.join(shared, 'territories', 'communes-centres.csv'));

function sourcesFor(mirror: string, extra: Record<string, string> = {}) {
  return loadConfig({ NODE_ENV: 'test', TERRITORIES_SOURCES: 'official', TERRITORIES_SOURCE_MIRROR: mirror, ...extra }).territorySources;
}

/** What a refused load must leave unchanged. */
async function snapshot(db: Db) {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT (SELECT loaded_at::text FROM territories.meta) AS loaded_at,
            (SELECT sources::text FROM territories.meta) AS sources,
            (SELECT count(*)::int FROM territories.commune) AS communes,
            (SELECT count(*)::int FROM territories.commune WHERE lat IS NOT NULL) AS with_centre,
            (SELECT sum(lat)::text FROM territories.commune) AS lat_sum,
            (SELECT count(*)::int FROM territories.commune_ring) AS rings,
            (SELECT count(*)::int FROM territories.boundary) AS boundaries`,
  );
  return rows[0];
}

function cacheState(dir: string) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).sort().map((f) => `${f}:${fs.statSync(path.join(dir, f)).size}:${fs.statSync(path.join(dir, f)).mtimeMs}`);
}

describe('loading the geometry from the official sources', { skip: !hasShared && 'no shared territory files to serve' }, () => {
  let db: Db;
  let mirror: Mirror;
  let cacheDir: string;
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-noshared-'));

  before(async () => {
    db = await testDb();
    mirror = await startMirror({ sharedDataDir: shared });
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-cache-'));
  });
  after(async () => {
    await mirror?.close();
    await db?.close();
    fs.rmSync(cacheDir, { recursive: true, force: true });
    fs.rmSync(empty, { recursive: true, force: true });
  });

  test('the official addresses, the year and a mirror', () => {
    const s = loadConfig({ NODE_ENV: 'development' }).territorySources;
    assert.equal(s.enabled, true);
    assert.equal(
      sourceUrl(s, 'communes', '2026'),
      'https://etalab-datasets.geo.data.gouv.fr/contours-administratifs/2026/geojson/communes-100m.geojson.gz',
    );
    assert.match(sourceUrl(s, 'centres', '2026'), /^https:\/\/geo\.api\.gouv\.fr\/communes\?.*fields=code,nom,centre,population/);
    assert.equal(
      sourceUrl(s, 'regions', '2025', 'http://127.0.0.1:9/base/'),
      'http://127.0.0.1:9/base/contours-administratifs/2025/geojson/regions-1000m.geojson.gz',
    );
    assert.equal(cacheName(s, 'departements'), 'departements-1000m.geojson.gz');
    assert.equal(loadConfig({ NODE_ENV: 'test' }).territorySources.enabled, false, 'tests never download unless told to');
    assert.throws(() => loadConfig({ TERRITORIES_SOURCE_SHA256: 'communes=abc' }), /TERRITORIES_SOURCE_SHA256/);
    assert.throws(() => loadConfig({ TERRITORIES_SOURCE_COMMUNES: 'ftp://x' }), /TERRITORIES_SOURCE_COMMUNES/);
  });

  test('downloads, verifies, caches and loads them, recording address, licence and date', async () => {
    const heard: string[] = [];
    const stop = onTerritoriesLoaded((_db, r) => {
      heard.push(r.geometryOrigin ?? 'none');
    });
    const report = await loadTerritories(db, { sharedDataDir: empty, sources: sourcesFor(mirror.url), cacheDir, force: true });
    stop();
    assert.equal(report.geometryOrigin, 'official', report.warnings.join('\n'));
    assert.deepEqual(heard, ['official'], 'listeners (coverage recomputes) hear of the completed load');
    assert.deepEqual(report.warnings, []);
    assert.ok(report.centres > 34_000, String(report.centres));
    assert.ok(report.rings > 35_000);
    assert.equal(report.departementBoundaries, 101);
    assert.equal(report.regionBoundaries, 13);
    // The official paths were asked for, gzip included.
    assert.ok(mirror.requests.some((r) => r.startsWith('/communes?type=commune-actuelle')));
    assert.ok(mirror.requests.includes('/contours-administratifs/2026/geojson/communes-100m.geojson.gz'));
    const s = await territoriesStatus(db);
    assert.ok(s.centres && s.polygons);
    assert.equal(s.sources.length, 4);
    for (const r of s.sources) {
      assert.match(r.url, new RegExp(`^${mirror.url}/`));
      assert.match(r.licence, /Licence Ouverte/);
      assert.match(r.sha256, /^[0-9a-f]{64}$/);
      assert.ok(r.fetchedAt && r.lastModified && r.bytes > 0 && r.records > 0, JSON.stringify(r));
    }
    // Populations from the source (the mirror gives the COG's), the centre from the source.
    const evreux = await getCommune(db, '27229');
    assert.ok(evreux && evreux.population > 40_000 && evreux.lat !== null, JSON.stringify(evreux));
    assert.equal((await communeAt(db, 49.0241, 1.1508))?.code, '27229');
    const regions = JSON.parse((await boundaryCollection(db, 'region', { metropole: true }))!) as { features: { properties: { code: string } }[] };
    assert.equal(regions.features.length, 13);
    assert.ok(fs.existsSync(path.join(cacheDir, 'communes-100m.geojson.gz')) && fs.existsSync(path.join(cacheDir, 'sources.json')));
    assert.deepEqual(fs.readdirSync(cacheDir).filter((f) => f.endsWith('.part')), []);

    // Already loaded: skipped; and a forced reload with every source unreachable keeps it all.
    assert.equal((await loadTerritories(db, { sharedDataDir: empty, sources: sourcesFor(mirror.url), cacheDir })).skipped, true);
    const before = await snapshot(db);
    const offline = await loadTerritories(db, { sharedDataDir: empty, sources: sourcesFor('http://127.0.0.1:9'), cacheDir, force: true });
    assert.ok(offline.warnings.some((w) => /cannot be reached/.test(w)), offline.warnings.join('\n'));
    assert.ok(offline.warnings.some((w) => /cached/.test(w)), offline.warnings.join('\n'));
    assert.ok(offline.skipped && offline.warnings.some((w) => /already loaded: nothing changed/.test(w)), offline.warnings.join('\n'));
    assert.deepEqual(await snapshot(db), before);
  });

  const refusals: [string, Record<string, MirrorFault>, Record<string, string>, RegExp][] = [
    ['a truncated download', { 'communes-100m.geojson.gz': 'truncate' }, {}, /Commune boundaries: .*communes-100m\.geojson\.gz.*(cut short|truncated)/],
    ['a cut gzip file', { 'regions-1000m.geojson.gz': 'corrupt' }, {}, /regions-1000m\.geojson\.gz.* not a complete gzip file/],
    ['a server error', { 'departements-1000m.geojson.gz': 'error' }, {}, /departements-1000m\.geojson\.gz answered HTTP 500/],
    ['a wrong checksum', {}, { TERRITORIES_SOURCE_SHA256: `communes=${'0'.repeat(64)}` }, /communes: checksum mismatch .* expected SHA-256 0{64}, got [0-9a-f]{64}/],
  ];
  for (const [what, faults, env, message] of refusals) {
    test(`${what} is refused with a clear message; rows and cache are unchanged`, async () => {
      const faulty = await startMirror({ sharedDataDir: shared, faults });
      try {
        const rows = await snapshot(db);
        const cache = cacheState(cacheDir);
        await assert.rejects(loadTerritories(db, { sharedDataDir: empty, sources: sourcesFor(mirror.url, env), cacheDir, from: faulty.url, force: true }), message);
        assert.deepEqual(await snapshot(db), rows);
        assert.deepEqual(cacheState(cacheDir), cache);
        // Without --from the refusal is a warning and the loaded data stay.
        const r = await loadTerritories(db, { sharedDataDir: empty, sources: sourcesFor(faulty.url, env), cacheDir: fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-c-')), force: true });
        assert.ok(r.warnings.some((w) => message.test(w)), r.warnings.join('\n'));
        assert.ok(r.skipped && r.warnings.some((w) => /kept/.test(w)));
        assert.deepEqual(await snapshot(db), rows);
      } finally {
        await faulty.close();
      }
    });
  }

  test('--from a directory of official files (the cache of another machine) loads them', async () => {
    // A copy of the cache with one file compressed differently: other bytes, so a real load.
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-from-'));
    for (const f of fs.readdirSync(cacheDir)) fs.copyFileSync(path.join(cacheDir, f), path.join(copy, f));
    const regions = path.join(copy, 'regions-1000m.geojson.gz');
    fs.writeFileSync(regions, zlib.gzipSync(zlib.gunzipSync(fs.readFileSync(regions)), { level: 1 }));
    const report = await loadTerritories(db, { sharedDataDir: empty, sources: sourcesFor('http://127.0.0.1:9'), from: copy, force: true });
    fs.rmSync(copy, { recursive: true, force: true });
    assert.equal(report.geometryOrigin, 'directory');
    assert.ok(report.centres > 34_000);
    assert.match((await territoriesStatus(db)).sources[0]!.url, /^file:\/\//);
    await assert.rejects(loadTerritories(db, { sharedDataDir: empty, sources: sourcesFor(mirror.url), from: empty, force: true }), /holds none of the expected files/);
  });
});

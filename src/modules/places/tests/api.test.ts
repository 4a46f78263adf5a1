import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { placeJson, searchPlaces, searchQuerySchema, toPlaceQuery, upsertPlaces } from '../index.ts';
import { FIELDS } from '../model/index.ts';
import { place } from './helpers.ts';

describe('places API', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let uid: string;
  before(async () => {
    t = await testApp();
    const r = await upsertPlaces(
      t.db,
      [
        place({ id: 'api-1' }),
        place({ id: 'api-2', nom: 'Espace France Services, "Le Relais"', commune: 'Rouen', code_postal: '76000', code_insee: '76540', latitude: 49.44, longitude: 1.09, services: ['Aide aux démarches administratives'], courriels: ['a@example.org', 'b@example.org'] }),
        place({ id: 'api-3', nom: 'Sans position', latitude: null, longitude: null, code_insee: '97501', commune: 'Saint-Pierre', code_postal: '97500' }),
        place({
          id: 'api-5', nom: 'Guichet \\ "numérique" \u0001 🙂 ligne\nsuivante', latitude: 49.024123456789, longitude: 1.1508123456789,
          presentation_detail: 'Tab\there, </script> & <b>', site_web: ['https://example.org/a?b="c"'],
        }),
      ],
      { source: 'api' },
    );
    uid = r.uids[0]!;
  });
  after(async () => t.close());

  test('search by text returns standard fields plus platform fields', async () => {
    const res = await t.app.inject({ url: '/api/v1/places?q=relais' });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.total, 1);
    const item = body.items[0];
    assert.equal(item.nom, 'Espace France Services, "Le Relais"');
    assert.deepEqual(item.courriels, ['a@example.org', 'b@example.org']);
    assert.equal(item.coordinates_precision, 'given');
    assert.match(item.uid, /^[0-9a-f-]{36}$/);
  });

  test('list items are exactly the place JSON the API gives for one place, on every kind of search', async () => {
    // Lists are serialised by the database (searchPlacesJson), single places and fields= in the
    // process (placeJson): both must give the same objects, keys in the same order.
    for (const url of ['/api/v1/places', '/api/v1/places?q=guichet', '/api/v1/places?q=relais', '/api/v1/places?near=49.44,1.09&radius=50', '/api/v1/places?bbox=0,48,3,50&limit=2', '/api/v1/places?sort=name&limit=100']) {
      const res = await t.app.inject({ url });
      assert.equal(res.statusCode, 200, url);
      const body = res.json();
      assert.ok(body.items.length > 0, url);
      const query = toPlaceQuery(searchQuerySchema.parse(Object.fromEntries(new URL(url, 'http://x').searchParams)));
      const expected = await searchPlaces(t.db, query);
      assert.deepEqual(body.total, expected.total, url);
      assert.deepEqual(body.next_cursor, expected.nextCursor, url);
      assert.deepEqual(body.items, expected.items.map((h) => placeJson(h.place, h.distanceKm)), url);
      for (const [i, item] of body.items.entries()) assert.deepEqual(Object.keys(item), Object.keys(placeJson(expected.items[i]!.place, expected.items[i]!.distanceKm)), url);
    }
    const tricky = (await t.app.inject({ url: '/api/v1/places?q=guichet' })).json().items[0];
    assert.equal(tricky.nom, 'Guichet \\ "numérique" \u0001 🙂 ligne\nsuivante');
    assert.equal(tricky.latitude, 49.024123456789);
  });

  test('near returns distance_km and fields= trims the payload', async () => {
    const res = await t.app.inject({ url: '/api/v1/places?near=49.44,1.10&radius=5&fields=nom,distance_km' });
    assert.equal(res.statusCode, 200);
    const item = res.json().items[0];
    assert.deepEqual(Object.keys(item).sort(), ['distance_km', 'nom', 'uid']);
    assert.ok(item.distance_km < 1);
  });

  test('a repeated search is answered from the response cache until a place changes', async () => {
    const url = '/api/v1/places?near=49.44,1.09&radius=3';
    const first = await t.app.inject({ url });
    const again = await t.app.inject({ url });
    assert.equal(again.body, first.body);
    assert.equal(again.headers['content-type'], 'application/json; charset=utf-8');
    const before = first.json();
    assert.equal(before.total, before.items.length);
    await upsertPlaces(t.db, [place({ id: 'api-cache', nom: 'Nouveau point d’accès', commune: 'Rouen', code_postal: '76000', code_insee: '76540', latitude: 49.441, longitude: 1.091 })], { source: 'api' });
    const after = (await t.app.inject({ url })).json();
    assert.equal(after.total, before.total + 1, 'the write moved the data version: counted and listed again');
    assert.ok(after.items.some((i: { id: string }) => i.id === 'api-cache'));
    assert.notEqual(after.items[0].distance_km, undefined);
    await t.db.query(`DELETE FROM places.place WHERE id = 'api-cache'`);
    assert.equal((await t.app.inject({ url })).json().total, before.total, 'and again after a removal');
  });

  test('filters use the standard’s exact values, several separated by |', async () => {
    const res = await t.app.inject({ url: `/api/v1/places?services=${encodeURIComponent('Aide aux démarches administratives|Loisirs et créations numériques')}` });
    assert.deepEqual(res.json().items.map((i: { id: string }) => i.id), ['api-2']);
  });

  for (const [query, field] of [
    ['near=91,2', 'near'],
    ['near=abc', 'near'],
    ['radius=-3&near=49,1', 'radius'],
    ['limit=1000', 'limit'],
    ['sort=popularity', 'sort'],
    ['bbox=3,40,2,45', 'bbox'],
    ['open_at=demain', 'open_at'],
    ['open_now=peut-etre', 'open_now'],
    ['cursor=nimporte-quoi', 'cursor'],
    ['territory=XYZ', 'territory'],
    ['fields=nom,inconnu', 'fields'],
    ['sort=distance', 'sort'],
  ] as const) {
    test(`an invalid parameter is a 400 naming it: ${query}`, async () => {
      const res = await t.app.inject({ url: `/api/v1/places?${query}` });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().field, field, res.body);
      assert.ok(res.json().message.length > 5);
    });
  }

  test('one place by uid; unknown uid is a 404; malformed uid is a 400', async () => {
    const ok = await t.app.inject({ url: `/api/v1/places/${uid}` });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().id, 'api-1');
    const missing = await t.app.inject({ url: '/api/v1/places/00000000-0000-4000-8000-000000000000' });
    assert.equal(missing.statusCode, 404);
    const bad = await t.app.inject({ url: '/api/v1/places/pas-un-uuid' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().field, 'uid');
  });

  test('read endpoints send ETag and Cache-Control, and answer 304 when current', async () => {
    const first = await t.app.inject({ url: '/api/v1/places?q=relais' });
    const etag = first.headers.etag as string;
    assert.ok(etag);
    assert.match(String(first.headers['cache-control']), /max-age/);
    const second = await t.app.inject({ url: '/api/v1/places?q=relais', headers: { 'if-none-match': etag } });
    assert.equal(second.statusCode, 304);
    // A write changes the data version, so the ETag changes.
    await upsertPlaces(t.db, [place({ id: 'api-4', nom: 'Nouveau relais' })], { source: 'api' });
    const third = await t.app.inject({ url: '/api/v1/places?q=relais', headers: { 'if-none-match': etag } });
    assert.equal(third.statusCode, 200);
  });

  test('CORS allows GET from any origin on the API', async () => {
    const res = await t.app.inject({ url: '/api/v1/places?limit=1', headers: { origin: 'https://partenaire.example.org' } });
    assert.equal(res.headers['access-control-allow-origin'], 'https://partenaire.example.org');
  });

  test('counts per département', async () => {
    const res = await t.app.inject({ url: '/api/v1/places/stats?by=departement' });
    assert.equal(res.statusCode, 200);
    const counts = res.json().counts as { code: string; count: number }[];
    assert.ok(counts.find((c) => c.code === '76')!.count >= 1);
  });

  test('CSV export: exact published header, |-joined values, proper quoting', async () => {
    const res = await t.app.inject({ url: '/api/v1/places.csv' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /text\/csv/);
    // The standard's columns in its order (FIELDS, checked against the published schema by
    // model-schema.test.ts): no file of ../shared needed, as on a user's clone.
    const lines = res.body.split(/\r?\n/).filter(Boolean);
    assert.equal(lines[0], FIELDS.join(','));
    assert.ok(res.body.includes('a@example.org|b@example.org'));
    assert.ok(res.body.includes('"Espace France Services, ""Le Relais"""'));
  });

  test('GeoJSON export: points with standard properties; places without position are left out', async () => {
    const res = await t.app.inject({ url: '/api/v1/places.geojson?territory=76' });
    assert.equal(res.statusCode, 200);
    const fc = res.json();
    assert.equal(fc.type, 'FeatureCollection');
    assert.equal(fc.features.length, 1);
    assert.deepEqual(fc.features[0].geometry.coordinates, [1.09, 49.44]);
    assert.equal(fc.features[0].properties.id, 'api-2');
    const json = await t.app.inject({ url: '/api/v1/places.json' });
    assert.ok(json.json().length >= 3);
  });

  test('the OpenAPI document describes the search parameters', async () => {
    const doc = (await t.app.inject({ url: '/api/openapi.json' })).json();
    const params = doc.paths['/api/v1/places'].get.parameters.map((p: { name: string }) => p.name);
    for (const p of ['q', 'near', 'radius', 'territory', 'bbox', 'services', 'open_now', 'open_at', 'sort', 'cursor', 'fields']) assert.ok(params.includes(p), p);
    const page = await t.app.inject({ url: '/api/docs' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /GET \/api\/v1\/places/);
  });
});

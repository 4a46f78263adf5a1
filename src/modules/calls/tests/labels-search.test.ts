/**
 * Labels in the public search, the map and the places' standard export (issue #18): the
 * « Label régional » filter the calls module registers through the places/site extension point
 * (`label=<programme>`, on the results page, the map's points and the places API; an unknown value
 * is a 400 naming the parameter), never stale after a grant, renewal or withdrawal (ETags and
 * caches follow the labels' version); the label's name in `autres_formations_labels` of the
 * export, which still validates against the standard's schema exactly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { getPlacesByUids, upsertPlaces } from '../../places/index.ts';
import { FIELDS, readPlaces, validateRow } from '../../places/model/index.ts';
import { placeRecord } from '../../coverage/tests/support.ts';
import * as labels from '../labels.ts';
import { person } from './support.ts';

describe('calls: labels in the public search, the map and the standard export', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff: Awaited<ReturnType<typeof person>>;
  let programme: labels.LabelProgramme;
  let a: { uid: string };
  let b: { uid: string };
  const ctx = () => ({ db: t.db });
  const get = (url: string, headers: Record<string, string> = {}) => t.app.inject({ url, headers: { accept: 'text/html', ...headers } });

  before(async () => {
    t = await testApp();
    staff = await person(t.app, 'regional_staff', { kind: 'region', id: '28' });
    const { uids } = await upsertPlaces(
      t.db,
      [placeRecord({ id: 'lbl-a', nom: 'Tiers-lieu Alpha', autres_formations_labels: 'Label et la bête' }), placeRecord({ id: 'lbl-b', nom: 'Tiers-lieu Bêta', longitude: 1.16 })],
      { source: 'test' },
    );
    const places = await getPlacesByUids(t.db, uids);
    a = places.find((p) => p.nom === 'Tiers-lieu Alpha')!;
    b = places.find((p) => p.nom === 'Tiers-lieu Bêta')!;
    programme = await labels.createProgramme(ctx(), staff.actor, { name: 'Tiers-lieu labellisé Normandie', region: '28', validityMonths: 36 });
    await labels.changeLabel(ctx(), staff.actor, programme.id, a.uid, 'granted');
  });
  after(async () => t.close());

  test('the places API: label=<programme> restricts the search; unknown values and parameters refused naming them', async () => {
    const res = await t.app.inject({ url: `/api/v1/places?territory=27&label=${programme.slug}` });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json().items.map((p: { uid: string }) => p.uid), [a.uid]);
    const stats = await t.app.inject({ url: `/api/v1/places/stats?by=departement&label=${programme.slug}` });
    assert.equal(stats.json().total, 1);
    for (const bad of ['inconnu', '__proto__', 'constructor', `${programme.slug}|autre`]) {
      const r = await t.app.inject({ url: `/api/v1/places?label=${encodeURIComponent(bad)}` });
      assert.equal(r.statusCode, 400, bad);
      assert.equal(r.json().field, 'label', r.body);
      assert.match(r.json().message, /Valeur inconnue pour « label »/);
    }
    const unknown = await t.app.inject({ url: '/api/v1/places?rayon=2' });
    assert.equal(unknown.statusCode, 400);
    assert.match(unknown.json().message, /Paramètre inconnu : « rayon »/);
    // The OpenAPI document names the parameter on every places route that takes it.
    const doc = (await t.app.inject({ url: '/api/openapi.json' })).json();
    for (const route of ['/api/v1/places', '/api/v1/places/stats']) {
      const label = doc.paths[route].get.parameters.find((p: { name: string }) => p.name === 'label');
      assert.ok(label, route);
      assert.equal(label.in, 'query');
      assert.match(label.description, /Label régional/);
    }
  });

  test('the results page and the map: the filter shown, checked, with its chip; the points restricted; unknown value → 400', async () => {
    const page = await get(`/recherche?territory=27&label=${programme.slug}`);
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<legend[^>]*>[^<]*Label régional/);
    assert.match(page.body, new RegExp(`name="label" value="${programme.slug}"[^>]* checked`));
    assert.match(page.body, /Label régional : Tiers-lieu labellisé Normandie/);
    assert.ok(page.body.includes('Tiers-lieu Alpha') && !page.body.includes('Tiers-lieu Bêta'));
    // the exports and the map's points carry the filter
    assert.ok(page.body.includes(`/api/v1/places.csv?territory=27&amp;label=${programme.slug}`) || page.body.includes(`label=${programme.slug}`));
    assert.match(page.body, new RegExp(`data-points="/carte/points.json\\?[^"]*label=${programme.slug}`));
    const points = await t.app.inject({ url: `/carte/points.json?territory=27&label=${programme.slug}` });
    assert.deepEqual(points.json().points.map((p: [string]) => p[0]), [a.uid]);
    const bad = await get('/recherche?label=inconnu');
    assert.equal(bad.statusCode, 400);
    assert.match(bad.body, /Valeur inconnue pour « label »/);
    assert.equal((await t.app.inject({ url: '/carte/points.json?label=inconnu' })).statusCode, 400);
    // without the filter, both places
    assert.ok((await get('/recherche?territory=27')).body.includes('Tiers-lieu Bêta'));
  });

  test('never stale: a grant or a withdrawal changes the ETag, the API answer and the map at once', async () => {
    const url = `/api/v1/places?territory=27&label=${programme.slug}`;
    const first = await t.app.inject({ url });
    const etag = first.headers.etag as string;
    assert.equal((await t.app.inject({ url, headers: { 'if-none-match': etag } })).statusCode, 304);
    await labels.changeLabel(ctx(), staff.actor, programme.id, b.uid, 'granted');
    const after = await t.app.inject({ url, headers: { 'if-none-match': etag } });
    assert.equal(after.statusCode, 200);
    assert.deepEqual(after.json().items.map((p: { uid: string }) => p.uid).sort(), [a.uid, b.uid].sort());
    await labels.changeLabel(ctx(), staff.actor, programme.id, a.uid, 'withdrawn', { reason: 'Le lieu a fermé.' });
    assert.deepEqual((await t.app.inject({ url })).json().items.map((p: { uid: string }) => p.uid), [b.uid]);
    assert.deepEqual((await t.app.inject({ url: `/carte/points.json?territory=27&label=${programme.slug}` })).json().points.map((p: [string]) => p[0]), [b.uid]);
    await labels.changeLabel(ctx(), staff.actor, programme.id, a.uid, 'granted');
  });

  test('the standard export: the label in autres_formations_labels, the file still valid against the schema, header exact', async () => {
    const res = await t.app.inject({ url: '/api/v1/places.csv?territory=27' });
    assert.equal(res.statusCode, 200);
    // The standard's columns in its order (places' FIELDS, checked against the published schema by
    // places/tests/model-schema.test.ts): no file of ../shared needed, as on a user's clone.
    assert.equal(res.body.split(/\r?\n/)[0], FIELDS.join(','));
    const read = await readPlaces(Buffer.from(res.body), { fileName: 'export.csv' });
    const records = new Map<string, string | null>();
    for await (const row of read.rows) {
      const r = validateRow(row);
      assert.deepEqual(r.issues.filter((i) => i.severity === 'error'), [], JSON.stringify(r.issues));
      records.set(r.record!.nom, r.record!.autres_formations_labels);
    }
    // the place's own value first, then the label; a place without a label keeps its own value
    assert.equal(records.get('Tiers-lieu Alpha'), 'Label et la bête|Tiers-lieu labellisé Normandie');
    assert.equal(records.get('Tiers-lieu Bêta'), 'Tiers-lieu labellisé Normandie');
    const json = (await t.app.inject({ url: `/api/v1/places.json?label=${programme.slug}` })).json() as { nom: string; autres_formations_labels: string }[];
    assert.deepEqual(json.map((p) => p.autres_formations_labels).sort(), ['Label et la bête|Tiers-lieu labellisé Normandie', 'Tiers-lieu labellisé Normandie']);
    // the stored places are untouched (the export adds, the directory keeps its own data)
    assert.equal((await getPlacesByUids(t.db, [b.uid]))[0]!.autres_formations_labels ?? null, null);
  });
});

/**
 * Quality warnings at import (coordinates far from the commune, postal code of another commune,
 * formula-like cells), the per-import quality summary, approximate positions surviving an
 * export → re-import, spreadsheet-safe downloads, and the API refusing unknown parameters.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { STANDARD_DIR } from './fixtures/model-helpers.ts';
import { testApp } from '../../../../test/support/app.ts';
import { importPlaces, listImportRuns } from '../index.ts';
import { HEADER, csvLine } from './helpers.ts';
import { distancesOutsideCommunes, getCommune } from '../../territories/index.ts';

const example = path.join(STANDARD_DIR, 'exemple-valide.csv');

describe('quality of imported data', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  before(async () => {
    t = await testApp();
  });
  after(async () => t.close());

  test('the standard’s own example sits far from Reims: warned and counted', async () => {
    const r = await importPlaces(t.db, example, { importSource: 'exemple', actor: 'test' });
    const far = r.issues.find((i) => i.code === 'coordinates_far_from_commune');
    assert.ok(far, 'warned');
    assert.match(far.message, /sont hors de la commune Reims \(51454\), à \d+ km au moins de ses limites/);
    assert.equal(r.quality.farFromCommune, 1);
    const [run] = await listImportRuns(t.db, 1);
    assert.equal((run!.quality as { farFromCommune: number }).farFromCommune, 1, 'kept with the run');
  });

  test('coordinates are checked against the commune’s outline, not only its centre', async () => {
    const csv = [
      HEADER,
      // Inside Évreux: nothing to say.
      csvLine({ id: 'o1', nom: 'Dans Évreux' }),
      // ~8 km east of Évreux's centre, in another commune: within 30 km of the centre, yet outside.
      csvLine({ id: 'o2', nom: 'À côté d’Évreux', lat: '49.0241', lon: '1.2600' }),
      // The town of Maripasoula (Guyane), far over 30 km from its vast commune's centre: inside the outline.
      csvLine({ id: 'o3', nom: 'Maripasoula bourg', commune: 'Maripasoula', cp: '97370', insee: '97353', lat: '3.6406', lon: '-54.0286' }),
      // Lyon 3e (an arrondissement): checked against Lyon's outline.
      csvLine({ id: 'o4', nom: 'Lyon 3e', commune: 'Lyon 3e Arrondissement', cp: '69003', insee: '69383', lat: '45.7605', lon: '4.8590' }),
    ].join('\n');
    const r = await importPlaces(t.db, Buffer.from(csv), { importSource: 'contours', actor: 'test', dryRun: true });
    const far = r.issues.filter((i) => i.code === 'coordinates_far_from_commune');
    assert.deepEqual(far.map((i) => i.line), [3], far.map((i) => i.message).join(' / '));
    assert.match(far[0]!.message, /hors de la commune Évreux \(27229\), à \d,\d km au moins de ses limites/);
    const d = await distancesOutsideCommunes(t.db, [
      { code: '27229', lat: 49.0241, lon: 1.1508 },
      { code: '27229', lat: 49.0241, lon: 1.26 },
      { code: '00000', lat: 49, lon: 1 },
      { code: '27229', lat: Number.NaN, lon: 1 },
    ]);
    assert.equal(d[0], 0);
    const maripasoula = (await getCommune(t.db, '97353'))!;
    assert.ok(Math.hypot((maripasoula.lat! - 3.6406) * 111, (maripasoula.lon! + 54.0286) * 111) > 30, 'the old centre rule would have warned');
    assert.ok(d[1]! > 2 && d[1]! < 8, String(d[1]));
    assert.deepEqual(d.slice(2), [null, null], 'no polygon, or not a position');
  });

  test('a postal code of another commune and formula-like cells are warned; the summary counts them', async () => {
    const csv = [
      HEADER,
      csvLine({ id: 'q1', nom: '=HYPERLINK("http://x.example","clic")', cp: '76000' }),
      csvLine({ id: 'q2', nom: 'Sans coordonnées', lat: '', lon: '' }),
      csvLine({ id: 'q3', nom: 'Horaires', horaires: 'Mo-Fr 09:00-12:00' }),
    ].join('\n');
    const r = await importPlaces(t.db, Buffer.from(csv), { importSource: 'qualite', actor: 'test' });
    assert.ok(r.issues.some((i) => i.code === 'postal_code_mismatch' && i.line === 2 && /76000 n’est pas un code postal de la commune Évreux/.test(i.message)));
    assert.ok(r.issues.some((i) => i.code === 'formula_like' && i.line === 2 && i.field === 'nom'));
    assert.deepEqual(
      { places: r.quality.places, approximate: r.quality.approximatePositions, missingHours: r.quality.missingHours, postal: r.quality.postalCodeMismatch, formula: r.quality.formulaLike },
      { places: 3, approximate: 1, missingHours: 2, postal: 1, formula: 1 },
    );
  });

  test('the standard export stays exact; the spreadsheet download neutralises formulas', async () => {
    const exact = await t.app.inject({ url: '/api/v1/places.csv?q=hyperlink' });
    assert.equal(exact.statusCode, 200);
    assert.match(exact.body, /,"=HYPERLINK\(""http/);
    const safe = await t.app.inject({ url: '/api/v1/places.csv?q=hyperlink&spreadsheet=1' });
    assert.match(safe.body, /,"'=HYPERLINK\(""http/);
  });

  test('a position taken from the commune centre is exported empty, so a re-import keeps it approximate', async () => {
    const exported = await t.app.inject({ url: '/api/v1/places.csv?q=sans%20coordonnees' });
    const line = exported.body.split('\r\n')[1] ?? exported.body.split('\n')[1]!;
    assert.match(line, /^q2,/);
    const header = exported.body.split(/\r?\n/)[0]!.split(',');
    const cells = line.split(',');
    assert.equal(cells[header.indexOf('latitude')], '');
    const again = await importPlaces(t.db, Buffer.from(exported.body), { importSource: 'qualite', actor: 'test' });
    assert.equal(again.quality.approximatePositions, 1);
    const { rows } = await t.db.query(`SELECT coordinates_precision FROM places.place WHERE import_source = 'qualite' AND id = 'q2'`);
    assert.deepEqual(rows, [{ coordinates_precision: 'commune' }]);
    const withCentre = await t.app.inject({ url: '/api/v1/places.csv?q=sans%20coordonnees&approximate=1' });
    assert.match(withCentre.body.split(/\r?\n/)[1]!, /,49\.\d+,1\.\d+,/);
  });

  test('the API answers 400 naming an unknown parameter; fields may name distance', async () => {
    const res = await t.app.inject({ url: '/api/v1/places?near=49.02,1.15&rayon=2' });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().field, 'rayon');
    assert.match(res.json().message, /Paramètre inconnu : « rayon »/);
    assert.equal((await t.app.inject({ url: '/api/v1/places.csv?rayon=2' })).statusCode, 400);
    const ok = await t.app.inject({ url: '/api/v1/places?near=49.02,1.15&radius=20&fields=nom,distance' });
    assert.equal(ok.statusCode, 200, ok.body);
    const item = ok.json().items[0];
    assert.deepEqual(Object.keys(item).sort(), ['distance_km', 'nom', 'uid']);
  });
});

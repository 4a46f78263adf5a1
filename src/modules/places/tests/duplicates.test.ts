import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Db } from '../../../platform/db/index.ts';
import { testDb } from '../../../../test/support/db.ts';
import { findDuplicateCandidates, getPlace, markNotDuplicate, mergePlaces, searchPlaces, upsertPlaces } from '../index.ts';
import { place } from './helpers.ts';

describe('duplicates', () => {
  let db: Db;
  let cartoUid: string;
  let regionUid: string;
  before(async () => {
    db = await testDb();
    // The same médiathèque from two producers, 40 m apart, names spelled differently.
    cartoUid = (await upsertPlaces(db, [place({ id: 'c-1', nom: 'Médiathèque Rolland Plaisance', telephone: null })], { source: 'cartographie' })).uids[0]!;
    regionUid = (await upsertPlaces(db, [place({ id: 'r-77', nom: 'Mediatheque Rolland-Plaisance (Évreux)', latitude: 49.0244, longitude: 1.1511, horaires: 'Tu-Sa 10:00-18:00' })], { source: 'region' })).uids[0]!;
    // Same SIRET, 600 m away: a second site of the same structure.
    await upsertPlaces(db, [place({ id: 'r-78', nom: 'Bibliothèque de quartier Nétreville', latitude: 49.0280, longitude: 1.1580 })], { source: 'region' });
    // Far away, different name: never a candidate.
    await upsertPlaces(db, [place({ id: 'r-79', nom: 'Fablab du port', pivot: '11111111111111', latitude: 49.49, longitude: 0.11, code_insee: '76351', commune: 'Le Havre', code_postal: '76600' })], { source: 'region' });
  });
  after(async () => db.close());

  test('similar names close together and same pivot nearby are proposed, with a reason and a score', async () => {
    const pairs = await findDuplicateCandidates(db);
    const named = pairs.find((p) => [p.a.uid, p.b.uid].sort().join() === [cartoUid, regionUid].sort().join());
    assert.ok(named, JSON.stringify(pairs));
    assert.ok(named.crossSource);
    assert.ok(named.samePivot);
    assert.match(named.reason, /noms très proches/);
    assert.ok(named.distanceM < 100);
    assert.ok(pairs.some((p) => p.reason.includes('même SIRET') && p.distanceM > 300));
    assert.ok(!pairs.some((p) => p.a.nom.includes('Fablab du port') || p.b.nom.includes('Fablab du port')));
  });

  test('"not a duplicate" is remembered', async () => {
    const before = await findDuplicateCandidates(db);
    const pivotOnly = before.find((p) => !p.reason.includes('noms'))!;
    await markNotDuplicate(db, pivotOnly.b.uid, pivotOnly.a.uid, 'test');
    const after = await findDuplicateCandidates(db);
    assert.ok(!after.some((p) => p.a.uid === pivotOnly.a.uid && p.b.uid === pivotOnly.b.uid));
  });

  test('merging is explicit: chosen fields are taken, the other record is hidden and points to the kept one', async () => {
    await mergePlaces(db, cartoUid, regionUid, ['horaires'], 'test');
    const kept = await getPlace(db, cartoUid);
    const dropped = await getPlace(db, regionUid);
    assert.equal(kept!.horaires, 'Tu-Sa 10:00-18:00');
    assert.equal(kept!.telephone, null, 'fields not chosen stay as they were');
    assert.equal(dropped!.visible, false);
    const search = await searchPlaces(db, { q: 'rolland plaisance' });
    assert.deepEqual(search.items.map((h) => h.place.uid), [cartoUid]);
    // A later import of the dropped record's source does not bring it back.
    await upsertPlaces(db, [place({ id: 'r-77', nom: 'Mediatheque Rolland-Plaisance (Évreux) mise à jour', latitude: 49.0244, longitude: 1.1511 })], { source: 'region' });
    assert.equal((await getPlace(db, regionUid))!.visible, false);
    const again = await findDuplicateCandidates(db);
    assert.ok(!again.some((p) => [p.a.uid, p.b.uid].includes(regionUid)));
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Db } from '../../../platform/db/index.ts';
import { testDb } from '../../../../test/support/db.ts';
import { getPlacesByUids, upsertPlaces } from '../index.ts';
import { place } from './helpers.ts';

// getPlacesByUids is called by other modules with uids that came from forms, stored arrays or
// URLs: a string that is not a uid is left out like an unknown one, never a database error.
describe('places read by uids', () => {
  let db: Db;
  let uid: string;
  before(async () => {
    db = await testDb();
    ({ uids: [uid!] } = await upsertPlaces(db, [place({ id: 'rbu-1', nom: 'Espace numérique du port' })], { source: 'rbu' }));
  });
  after(async () => db.close());

  test('strings that are not uids are left out, the others found in the order given', async () => {
    const odd = ['', 'not-a-uid', "'; DROP TABLE places.place; --", '__proto__', 'a\u0000b', '00000000-0000-0000-0000-00000000000g', `${uid} `];
    assert.deepEqual(await getPlacesByUids(db, odd), []);
    const found = await getPlacesByUids(db, ['constructor', uid, '1e0', uid.toUpperCase()]);
    assert.deepEqual(found.map((p) => p.uid), [uid, uid]);
    assert.equal(found[0]!.nom, 'Espace numérique du port');
    assert.equal((await db.query('SELECT count(*)::int AS n FROM places.place')).rows[0]!.n, 1);
  });
});

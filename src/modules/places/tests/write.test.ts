import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Db } from '../../../platform/db/index.ts';
import { testDb } from '../../../../test/support/db.ts';
import { getPlace, searchPlaces, upsertPlaces } from '../index.ts';
import type { PlaceRecord } from '../model/index.ts';
import { STANDARD_COLUMNS } from '../store.ts';
import { place } from './helpers.ts';

/** The 32 standard fields of a stored place. */
async function stored(db: Db, uid: string): Promise<Record<string, unknown>> {
  const p = (await getPlace(db, uid))! as unknown as Record<string, unknown>;
  return Object.fromEntries(STANDARD_COLUMNS.map((c) => [c, p[c]]));
}

// Rows travel to the database through COPY (text format: tab-separated, backslash escapes, arrays
// as array literals) into a staging table, then one merge: what is stored is exactly what was written.
describe('places writes keep every character', () => {
  let db: Db;
  before(async () => {
    db = await testDb();
  });
  after(async () => db.close());

  const tricky: Partial<PlaceRecord> = {
    nom: 'Relais "numérique" \\ {Saint-Ouen}, l’atelier',
    adresse: "2 rue de l'Église, bât. {A}",
    complement_adresse: 'NULL',
    presentation_resume: 'Ligne 1\nLigne 2\tavec tabulation, \\N et "guillemets"',
    presentation_detail: '',
    site_web: ['https://example.org/a,b?c="d"', 'https://example.org/\\chemin/{x}'],
    courriels: ['contact+"x"@example.org'],
    structure_parente: 'Association « Le lien »',
    autres_formations_labels: '{}',
  };

  test('quotes, backslashes, braces, commas, new lines and the literal NULL', async () => {
    const record = place({ id: 'w-1', ...tricky });
    const { uids, inserted } = await upsertPlaces(db, [record], { source: 'write' });
    assert.equal(inserted, 1);
    assert.deepEqual(await stored(db, uids[0]!), Object.fromEntries(STANDARD_COLUMNS.map((c) => [c, record[c]])));
    // The derived search document was built from the same text.
    const found = await searchPlaces(db, { q: 'relais numerique saint ouen' });
    assert.deepEqual(found.items.map((i) => i.place.uid), uids);
  });

  test('control characters, COPY\'s own escapes and end-of-data marker, in one batch', async () => {
    const records = [
      place({ id: 'w-2', nom: 'Point d’accès A', presentation_detail: 'avant\u001faprès\u001eencore\u0018fin' }),
      place({ id: 'w-3', nom: 'Point d’accès B', site_web: ['https://example.org/\u001f'], ...{ complement_adresse: null } }),
      place({ id: 'w-4', ...tricky }),
      place({ id: 'w-5', nom: '\\.', adresse: '\\N', complement_adresse: 'a\r\nb\\', presentation_resume: '\\.\n\\.\nfin\t\\t\\n', presentation_detail: '\u2028 🙂 \u007f', autres_formations_labels: 'x\\' }),
      place({ id: 'w-6', nom: '{"a","b"}', structure_parente: 'NULL', site_web: ['https://example.org/\\', 'https://example.org/"{,}"'], courriels: ['a\\b@example.org'] }),
    ];
    const { uids, inserted } = await upsertPlaces(db, records, { source: 'write' });
    assert.equal(inserted, records.length);
    for (const [i, uid] of uids.entries()) {
      assert.deepEqual(await stored(db, uid), Object.fromEntries(STANDARD_COLUMNS.map((c) => [c, records[i]![c]])));
    }
  });

  test('writing the same records again changes nothing; a changed field is written', async () => {
    const again = await upsertPlaces(db, [place({ id: 'w-1', ...tricky })], { source: 'write' });
    assert.deepEqual({ inserted: again.inserted, updated: again.updated, unchanged: again.unchanged }, { inserted: 0, updated: 0, unchanged: 1 });
    const changed = await upsertPlaces(db, [place({ id: 'w-1', ...tricky, nom: 'Relais "numérique" \\ modifié' })], { source: 'write' });
    assert.equal(changed.updated, 1);
    assert.equal((await getPlace(db, changed.uids[0]!))!.nom, 'Relais "numérique" \\ modifié');
  });
});

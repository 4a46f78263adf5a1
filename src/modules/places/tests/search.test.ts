import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Db } from '../../../platform/db/index.ts';
import { testDb } from '../../../../test/support/db.ts';
import { listCommunes } from '../../territories/index.ts';
import { countByService, countPlacesBy, generatePlaces, refreshAllIntervals, searchPlaces, upsertPlaces, type PlaceHit } from '../index.ts';
import { place } from './helpers.ts';

// Paris time: a Tuesday in November (no public holiday), and Christmas 2026 (a Friday).
const TUESDAY_10H = new Date('2026-11-24T10:00:00+01:00');
const TUESDAY_13H = new Date('2026-11-24T13:00:00+01:00');
const CHRISTMAS_10H = new Date('2026-12-25T10:00:00+01:00');

describe('searching places', () => {
  let db: Db;
  before(async () => {
    db = await testDb();
    const communes = (await listCommunes(db, 'departement:27')).concat(await listCommunes(db, 'departement:76'));
    await upsertPlaces(db, generatePlaces(communes, 1500, 7), { source: 'demo' });
    await upsertPlaces(
      db,
      [
        place({ id: 'evreux-media' }),
        place({
          id: 'rouen-fs', nom: 'France Services Rouen Sud', commune: 'Rouen', code_postal: '76100', code_insee: '76540', latitude: 49.4286, longitude: 1.0817,
          services: ['Aide aux démarches administratives'], horaires: 'Mo-Fr 09:00-17:00; PH off', frais_a_charge: ['Gratuit'],
          dispositif_programmes_nationaux: ['France Services'], typologie: ['RFS'], prise_rdv: 'https://rdv.example.org/rouen',
        }),
        place({
          id: 'rouen-fablab', nom: 'Fablab Saint-Sever', commune: 'Rouen', code_postal: '76100', code_insee: '76540', latitude: 49.4302, longitude: 1.0861,
          services: ['Loisirs et créations numériques'], horaires: 'Sa-Su 10:00-18:00', frais_a_charge: ['Payant'], typologie: ['FABLAB'],
          prise_en_charge_specifique: ['Surdité'],
        }),
      ],
      { source: 'manuel' },
    );
    // Date-dependent hours are materialised around "now": pin it to the dates these tests use.
    await refreshAllIntervals(db, TUESDAY_10H);
  });
  after(async () => db.close());

  const ids = (items: PlaceHit[]) => items.map((h) => h.place.id);

  test('text search is accent- and case-insensitive and ranks name matches first', async () => {
    const r = await searchPlaces(db, { q: 'mediatheque rolland', importSource: 'manuel' });
    assert.equal(r.items[0]?.place.id, 'evreux-media');
    const upper = await searchPlaces(db, { q: 'MÉDIATHÈQUE ROLLAND', importSource: 'manuel' });
    assert.equal(upper.items[0]?.place.id, 'evreux-media');
  });

  test('relevance: the name holding the text, then every word in the name, then name or commune, then anywhere, then typos', async () => {
    const at = { commune: 'Louviers', code_postal: '27400', code_insee: '27375', latitude: 49.2153, longitude: 1.1656, presentation_resume: null };
    await upsertPlaces(
      db,
      [
        place({ ...at, id: 'tier-typo', nom: 'Gernier Lumineux' }),
        place({ ...at, id: 'tier-anywhere', nom: 'Maison des habitants', presentation_resume: 'Un grenier lumineux pour apprendre.' }),
        place({ ...at, id: 'tier-commune', nom: 'Grenier des associations', commune: 'Lumineux-sur-Eure' }),
        place({ ...at, id: 'tier-words', nom: 'Lumineux, le grenier numérique' }),
        place({ ...at, id: 'tier-phrase', nom: 'Le Grenier Lumineux numérique' }),
      ],
      { source: 'tiers' },
    );
    const r = await searchPlaces(db, { q: 'grenier lumineux', importSource: 'tiers' });
    assert.deepEqual(ids(r.items), ['tier-phrase', 'tier-words', 'tier-commune', 'tier-anywhere', 'tier-typo']);
    assert.equal(r.total, 5);
    const typo = await searchPlaces(db, { q: 'grenier lumineus', importSource: 'tiers' });
    // "lumineus" is no place's word, but stems like "lumineux": both names with both words come first.
    assert.deepEqual(ids(typo.items).slice(0, 2).sort(), ['tier-phrase', 'tier-words']);
    const misspelt = await searchPlaces(db, { q: 'gernier lumineux', importSource: 'tiers' });
    assert.ok(ids(misspelt.items).includes('tier-phrase') && ids(misspelt.items).includes('tier-typo'), JSON.stringify(ids(misspelt.items)));
  });

  test('relevance: the text typed must start a word of the name ("rennes" is not in "varennes")', async () => {
    await upsertPlaces(
      db,
      [
        place({ id: 'w-varennes', nom: 'Espace numérique de Varennes', commune: 'Évreux', presentation_resume: null }),
        place({ id: 'w-rennes', nom: 'Espace numérique de Rennes', commune: 'Évreux', presentation_resume: null }),
      ],
      { source: 'words' },
    );
    const r = await searchPlaces(db, { q: 'rennes', importSource: 'words' });
    assert.deepEqual(ids(r.items), ['w-rennes', 'w-varennes']);
  });

  test('relevance pagination visits every match once, whether a tier is walked or collected', async () => {
    // 1,500 demo places: a tier of more than ~100 matches is read by walking the key, a smaller one
    // by collecting its matches; both must page consistently.
    for (const q of ['mediatheque', 'numerique rouen', 'france services']) {
      const first = await searchPlaces(db, { q, limit: 7 });
      assert.ok(first.total > 7, `${q}: ${first.total}`);
      const seen = new Set<string>();
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof searchPlaces>> = await searchPlaces(db, { q, limit: 7, cursor });
        for (const h of page.items) {
          assert.ok(!seen.has(h.place.uid), `${q}: no place twice`);
          seen.add(h.place.uid);
        }
        cursor = page.nextCursor;
      } while (cursor);
      assert.equal(seen.size, first.total, q);
    }
  });

  test('text search tolerates a typo in a name', async () => {
    const r = await searchPlaces(db, { q: 'fablba saint sever' });
    assert.ok(ids(r.items).includes('rouen-fablab'), JSON.stringify(ids(r.items).slice(0, 5)));
  });

  test('near + radius returns distances, sorted, all within the radius', async () => {
    const r = await searchPlaces(db, { near: { lat: 49.4431, lon: 1.0993 }, radiusKm: 5, limit: 50 });
    assert.ok(r.total > 0);
    let previous = -1;
    for (const h of r.items) {
      assert.ok(h.distanceKm !== null && h.distanceKm <= 5);
      assert.ok(h.distanceKm >= previous);
      previous = h.distanceKm;
    }
    const fs = r.items.find((h) => h.place.id === 'rouen-fs');
    // Rouen cathedral → the place: about 1.8 km.
    assert.ok(fs && Math.abs(fs.distanceKm! - 1.8) < 0.3, String(fs?.distanceKm));
  });

  test('territory filters: commune, département, région', async () => {
    const byCommune = await searchPlaces(db, { territory: '76540', limit: 500 });
    assert.ok(ids(byCommune.items).includes('rouen-fs'));
    assert.ok(byCommune.items.every((h) => h.place.communeCode === '76540'));
    const dep = await searchPlaces(db, { territory: '27', limit: 1 });
    const region = await searchPlaces(db, { territory: 'region:28', limit: 1 });
    assert.ok(dep.total > 0 && region.total >= dep.total);
    await assert.rejects(searchPlaces(db, { territory: '99999' }), (e: Error & { field?: string }) => e.field === 'territory');
  });

  test('enum filters: OR within a field, AND across fields', async () => {
    const r = await searchPlaces(db, {
      filters: { services: ['Aide aux démarches administratives', 'Loisirs et créations numériques'], frais_a_charge: ['Payant'] },
      importSource: 'manuel',
    });
    assert.deepEqual(ids(r.items), ['rouen-fablab']);
    const surd = await searchPlaces(db, { filters: { prise_en_charge_specifique: ['Surdité'] }, importSource: 'manuel' });
    assert.deepEqual(ids(surd.items), ['rouen-fablab']);
  });

  test('open now / open at follow the opening hours in Paris time, public holidays included', async () => {
    const at10 = await searchPlaces(db, { openAt: TUESDAY_10H, importSource: 'manuel' }, TUESDAY_10H);
    assert.deepEqual(ids(at10.items).sort(), ['evreux-media', 'rouen-fs']);
    const at13 = await searchPlaces(db, { openAt: TUESDAY_13H, importSource: 'manuel' }, TUESDAY_13H);
    assert.deepEqual(ids(at13.items), ['rouen-fs'], 'the médiathèque closes 12:00–14:00');
    const christmas = await searchPlaces(db, { openAt: CHRISTMAS_10H, importSource: 'manuel' }, TUESDAY_10H);
    assert.ok(!ids(christmas.items).includes('rouen-fs'), 'PH off: closed on Christmas');
    assert.ok(ids(christmas.items).includes('evreux-media'), 'no PH rule: open like any Friday');
    const weekend = await searchPlaces(db, { openOnWeekend: true, importSource: 'manuel' });
    assert.deepEqual(ids(weekend.items).sort(), ['evreux-media', 'rouen-fablab']);
  });

  test('online booking filter', async () => {
    const r = await searchPlaces(db, { onlineBooking: true, importSource: 'manuel' });
    assert.deepEqual(ids(r.items), ['rouen-fs']);
  });

  test('cursor pagination visits every place once, even while places are added', async () => {
    const all = await searchPlaces(db, { territory: '27', limit: 500 });
    const expected = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    const firstTotal = all.total;
    do {
      const page = await searchPlaces(db, { territory: '27', limit: 37, cursor });
      for (const h of page.items) {
        assert.ok(!expected.has(h.place.uid), 'no place twice');
        expected.add(h.place.uid);
      }
      cursor = page.nextCursor;
      if (pages++ === 1) {
        // A concurrent write between pages.
        await upsertPlaces(db, [place({ id: `pendant-${pages}`, nom: 'AAAA inséré pendant la pagination' })], { source: 'concurrent' });
      }
    } while (cursor);
    assert.ok(expected.size >= firstTotal, `${expected.size} >= ${firstTotal}`);
    for (let i = 0; i < Math.min(all.items.length, 500); i++) assert.ok(expected.has(all.items[i]!.place.uid));
  });

  test('a cursor from another sort is refused, naming the parameter', async () => {
    const page = await searchPlaces(db, { territory: '27', limit: 2 });
    await assert.rejects(
      searchPlaces(db, { near: { lat: 49, lon: 1.1 }, cursor: page.nextCursor }),
      (e: Error & { field?: string }) => e.field === 'cursor',
    );
  });

  test('counts by territory and by service', async () => {
    const byDep = await countPlacesBy(db, 'departement');
    assert.ok(byDep.some((c) => c.code === '27' && c.count > 0));
    const services = await countByService(db, { importSource: 'manuel' });
    assert.equal(services['Aide aux démarches administratives'], 1);
    assert.equal(services['Loisirs et créations numériques'], 1);
  });
});

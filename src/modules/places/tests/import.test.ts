import assert from 'node:assert/strict';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { Db } from '../../../platform/db/index.ts';
import { testDb } from '../../../../test/support/db.ts';
import { getPlace, importIssues, importPlaces, listImportRuns, searchPlaces } from '../index.ts';
import { HEADER, csvLine } from './helpers.ts';
import { STANDARD_DIR } from './fixtures/model-helpers.ts';

const example = path.join(STANDARD_DIR, 'exemple-valide.csv');

describe('importing places', () => {
  let db: Db;
  before(async () => {
    db = await testDb();
  });
  after(async () => db.close());

  test('the maintainers’ valid example imports with no refused row', async () => {
    const r = await importPlaces(db, example, { importSource: 'exemple', actor: 'test', fileName: 'exemple-valide.csv' });
    assert.equal(r.rowsRead, 1);
    assert.equal(r.refused, 0);
    assert.equal(r.inserted, 1);
    assert.equal(r.meta?.format, 'csv');
    const found = await searchPlaces(db, { q: 'Anonymal' });
    assert.equal(found.total, 1);
    assert.equal(found.items[0]!.place.code_insee, '51454');
    assert.deepEqual(found.items[0]!.place.typologie, ['TIERS_LIEUX', 'ASSO']);
  });

  test('bad rows are refused and reported by line and field, good rows are kept, a re-run changes nothing', async () => {
    const csv = [
      HEADER,
      csvLine({ id: 'a1', nom: 'Espace numérique A' }),
      csvLine({ id: 'a2', nom: '' }), // line 3: required nom missing
      csvLine({ id: 'a3', nom: 'Lieu C', pivot: '12' }), // line 4: pivot pattern
      csvLine({ id: 'a4', nom: 'Lieu D', date: 'pas une date' }), // line 5: bad date
      csvLine({ id: 'a5', nom: 'Lieu E', services: 'Aide aux démarches administratives|Cours de cuisine' }), // line 6: unknown service
      csvLine({ id: 'a6', nom: 'Espace numérique F' }),
    ].join('\n');
    const r = await importPlaces(db, Buffer.from(csv), { importSource: 'mixte', actor: 'test', fileName: 'mixte.csv' });
    assert.equal(r.rowsRead, 6);
    assert.equal(r.inserted, 2);
    assert.equal(r.refused, 4);
    const errors = r.issues.filter((i) => i.severity === 'error');
    const at = (line: number) => errors.find((e) => e.line === line);
    assert.equal(at(3)?.field, 'nom');
    assert.equal(at(4)?.field, 'pivot');
    assert.equal(at(5)?.field, 'date_maj');
    assert.equal(at(6)?.field, 'services');
    // The report is kept with the run.
    const runs = await listImportRuns(db);
    const run = runs.find((x) => x.run_id === r.runId)!;
    assert.equal(run.refused, 4);
    assert.equal(run.file_name, 'mixte.csv');
    assert.match(String(run.file_sha256), /^[0-9a-f]{64}$/);
    const stored = await importIssues(db, r.runId!);
    assert.ok(stored.some((i) => i.line === 4 && i.field === 'pivot' && i.severity === 'error'));
    // Re-running the same file is safe: nothing is rewritten.
    const again = await importPlaces(db, Buffer.from(csv), { importSource: 'mixte', actor: 'test' });
    assert.equal(again.inserted, 0);
    assert.equal(again.updated, 0);
    assert.equal(again.unchanged, 2);
  });

  test('a changed row is updated in place; --replace-source removes absent places only when asked', async () => {
    const v1 = [HEADER, csvLine({ id: 'r1', nom: 'Lieu Un' }), csvLine({ id: 'r2', nom: 'Lieu Deux' })].join('\n');
    await importPlaces(db, Buffer.from(v1), { importSource: 'remplace', actor: 'test' });
    const before = await searchPlaces(db, { importSource: 'remplace', sort: 'name' });
    const uidUn = before.items.find((h) => h.place.id === 'r1')!.place.uid;
    const v2 = [HEADER, csvLine({ id: 'r1', nom: 'Lieu Un renommé' })].join('\n');
    const kept = await importPlaces(db, Buffer.from(v2), { importSource: 'remplace', actor: 'test' });
    assert.equal(kept.updated, 1);
    assert.equal(kept.removed, 0);
    assert.equal((await searchPlaces(db, { importSource: 'remplace' })).total, 2, 'without the flag nothing is removed');
    assert.equal((await getPlace(db, uidUn))!.nom, 'Lieu Un renommé', 'same internal id after update');
    const replaced = await importPlaces(db, Buffer.from(v2), { importSource: 'remplace', actor: 'test', replaceSource: true });
    assert.equal(replaced.removed, 1);
    const after = await searchPlaces(db, { importSource: 'remplace' });
    assert.deepEqual(after.items.map((h) => h.place.id), ['r1']);
  });

  test('a first import of a source whose file repeats an id far apart keeps the last occurrence', async () => {
    // 800 rows: the repeated id falls in another batch (the first batches hold 250 and 500 rows), and
    // a first import of a source does not look stored hashes up: the upsert itself must settle it.
    const rows = Array.from({ length: 799 }, (_, k) => csvLine({ id: `far-${k}`, nom: `Lieu ${k}` }));
    rows.push(csvLine({ id: 'far-0', nom: 'Lieu zéro renommé' }), csvLine({ id: 'far-1', nom: 'Lieu 1' }));
    const r = await importPlaces(db, Buffer.from([HEADER, ...rows].join('\n')), { importSource: 'loin', actor: 'test' });
    assert.equal(r.rowsRead, 801);
    assert.equal(r.refused, 0);
    assert.equal(r.inserted, 799);
    assert.equal(r.updated, 1, 'far-0 rewritten with its last content');
    assert.equal(r.unchanged, 1, 'far-1 repeated with the same content');
    // Each repetition is reported on its own line, naming the line it repeats.
    const repeated = r.issues.filter((i) => i.code === 'duplicate_id');
    assert.deepEqual(repeated.map((i) => [i.line, i.field, i.value, i.severity]), [[801, 'id', 'far-0', 'warning'], [802, 'id', 'far-1', 'warning']]);
    assert.match(repeated[0]!.message, /^Ligne 801, champ « id » : l’identifiant « far-0 » apparaît déjà ligne 2 /);
    assert.equal((await searchPlaces(db, { importSource: 'loin' })).total, 799);
    const renamed = await searchPlaces(db, { importSource: 'loin', q: 'zero renomme' });
    assert.deepEqual(renamed.items.map((h) => [h.place.id, h.place.nom]), [['far-0', 'Lieu zéro renommé']]);
  });

  test('replace-source never empties a source from an unreadable file', async () => {
    await importPlaces(db, Buffer.from([HEADER, csvLine({ id: 'k1', nom: 'Gardé' })].join('\n')), { importSource: 'garde', actor: 'test' });
    const r = await importPlaces(db, Buffer.from(''), { importSource: 'garde', actor: 'test', replaceSource: true });
    assert.equal(r.removed, 0);
    assert.equal((await searchPlaces(db, { importSource: 'garde' })).total, 1);
  });

  test('a failure in the middle of an import leaves the database as it was', async () => {
    const lines = [HEADER];
    for (let i = 0; i < 2500; i++) lines.push(csvLine({ id: `crash-${i}`, nom: `Lieu ${i}` }));
    const text = lines.join('\n');
    // A stream that dies after ~60% of the file, as a killed upload or a broken disk would.
    let sent = 0;
    const cut = Math.floor(text.length * 0.6);
    const dying = new Readable({
      read() {
        if (sent >= cut) {
          this.destroy(new Error('connexion interrompue'));
          return;
        }
        const chunk = text.slice(sent, Math.min(cut, sent + 16_384));
        sent += chunk.length;
        this.push(chunk);
      },
    });
    const totalBefore0 = (await searchPlaces(db, {})).total;
    await assert.rejects(importPlaces(db, dying, { importSource: 'crash', actor: 'test', fileName: 'coupé.csv' }), /connexion interrompue/);
    assert.equal((await searchPlaces(db, {})).total, totalBefore0, 'nothing of the interrupted upload remains');
    // The same guarantee at the database level: an error thrown inside the import transaction.
    const runsBefore = (await listImportRuns(db)).length;
    const totalBefore = (await searchPlaces(db, {})).total;
    await assert.rejects(
      importPlaces(db, Buffer.from(text), {
        importSource: 'crash',
        actor: 'test',
        onProgress: (n) => {
          if (n >= 2000) throw new Error('arrêt brutal simulé');
        },
      }),
      /arrêt brutal simulé/,
    );
    assert.equal((await searchPlaces(db, { importSource: 'crash' })).total, 0, 'no place of the failed import remains');
    assert.equal((await searchPlaces(db, {})).total, totalBefore);
    assert.equal((await listImportRuns(db)).length, runsBefore, 'the failed import is not recorded as done');
  });

  test('missing code_insee and coordinates are completed from the territories, and flagged', async () => {
    const csv = [HEADER, csvLine({ id: 'g1', nom: 'Sans coordonnées', insee: '', lat: '', lon: '', commune: 'Evreux', cp: '27000' })].join('\n');
    const r = await importPlaces(db, Buffer.from(csv), { importSource: 'geo', actor: 'test' });
    assert.equal(r.inserted, 1);
    assert.ok(r.issues.some((i) => i.code === 'code_insee_derived'));
    assert.ok(r.issues.some((i) => i.code === 'coordinates_from_commune'));
    const hit = (await searchPlaces(db, { importSource: 'geo' })).items[0]!.place;
    assert.equal(hit.code_insee, '27229');
    assert.equal(hit.coordinatesPrecision, 'commune');
    assert.equal(hit.departement, '27');
    assert.equal(hit.region, '28');
    assert.ok(hit.latitude !== null && Math.abs(hit.latitude - 49.02) < 0.05);
  });

  test('text with markup is stored as text', async () => {
    const csv = [HEADER, csvLine({ id: 'x1', nom: '<script>alert(1)</script> Espace' })].join('\n');
    await importPlaces(db, Buffer.from(csv), { importSource: 'xss', actor: 'test' });
    const hit = (await searchPlaces(db, { importSource: 'xss' })).items[0]!.place;
    assert.equal(hit.nom, '<script>alert(1)</script> Espace');
  });
});

/**
 * A re-import skips the records it wrote before without issues, by the hash of the file's own
 * record (raw hash): same counts, same quality summary, same warnings, and none of the guarantees
 * of a full import lost (repeated ids, restored places, edits made elsewhere, replace-source).
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { Db } from '../../../platform/db/index.ts';
import { testDb } from '../../../../test/support/db.ts';
import { importPlaces, searchPlaces } from '../index.ts';
import { upsertBatch } from '../store.ts';
import { enrich, TerritoryCache } from '../service.ts';
import { validateRow } from '../model/index.ts';
import { HEADER, csvLine } from './helpers.ts';

async function rawHashes(db: Db, source: string): Promise<Record<string, string | null>> {
  const { rows } = await db.query<{ id: string; raw_hash: string | null }>('SELECT id, raw_hash FROM places.place WHERE import_source = $1 ORDER BY id', [source]);
  return Object.fromEntries(rows.map((r) => [r.id, r.raw_hash]));
}
async function contents(db: Db, source: string) {
  const { rows } = await db.query('SELECT uid, id, nom, content_hash, visible, removed_run, updated_at FROM places.place WHERE import_source = $1 ORDER BY id', [source]);
  return rows;
}

describe('re-importing by raw hash', () => {
  let db: Db;
  before(async () => {
    db = await testDb();
  });
  after(async () => db.close());

  test('an unchanged file is skipped record by record, with the same counts, quality summary and warnings', async () => {
    const csv = [
      HEADER,
      csvLine({ id: 'h1', nom: 'Lieu propre' }),
      csvLine({ id: 'h2', nom: 'Lieu sans coordonnées', lat: '', lon: '' }), // warning: commune centre
      csvLine({ id: 'h3', nom: '' }), // refused
      csvLine({ id: 'h4', nom: 'Lieu avec horaires', horaires: 'Mo-Fr 09:00-12:00' }),
    ].join('\n');
    const first = await importPlaces(db, Buffer.from(csv), { importSource: 'brut', actor: 'test' });
    assert.deepEqual([first.inserted, first.refused, first.kept], [3, 1, 3]);
    const hashes = await rawHashes(db, 'brut');
    assert.match(hashes.h1!, /^[\w-]{43}$/, 'a clean record gets its raw hash');
    assert.match(hashes.h4!, /^[\w-]{43}$/);
    assert.equal(hashes.h2, null, 'a record with a warning gets none: it is validated again next time');
    const stored = await contents(db, 'brut');

    const again = await importPlaces(db, Buffer.from(csv), { importSource: 'brut', actor: 'test' });
    assert.deepEqual(
      { records: again.records, rowsRead: again.rowsRead, kept: again.kept, inserted: again.inserted, updated: again.updated, unchanged: again.unchanged, refused: again.refused },
      { records: 4, rowsRead: 4, kept: 3, inserted: 0, updated: 0, unchanged: 3, refused: 1 },
    );
    assert.deepEqual(again.quality, first.quality, 'the quality summary counts the skipped records too');
    assert.deepEqual(
      again.issues.map((i) => [i.line, i.code]),
      first.issues.map((i) => [i.line, i.code]),
      'the same warnings and errors, on the same lines',
    );
    assert.deepEqual(await contents(db, 'brut'), stored, 'nothing rewritten');
    // The clean records were not even validated: a place changed behind the import's back (raw
    // hash kept) stays, the record with a warning (no raw hash) is rebuilt, compared and restored.
    await db.query("UPDATE places.place SET nom = 'Modifié à la main', content_hash = 'x' WHERE import_source = 'brut' AND id IN ('h1', 'h2')");
    const third = await importPlaces(db, Buffer.from(csv), { importSource: 'brut', actor: 'test' });
    assert.deepEqual([third.unchanged, third.updated], [2, 1]);
    assert.deepEqual((await contents(db, 'brut')).map((x) => x.nom), ['Modifié à la main', 'Lieu sans coordonnées', 'Lieu avec horaires']);
  });

  test('a record changed in the file, or the place edited elsewhere, is written again', async () => {
    const v1 = [HEADER, csvLine({ id: 'e1', nom: 'Lieu un' }), csvLine({ id: 'e2', nom: 'Lieu deux' })].join('\n');
    await importPlaces(db, Buffer.from(v1), { importSource: 'edite', actor: 'test' });
    // An edit through another door (back office, merge of duplicates) clears the raw hash.
    const row = validateRow({ line: 2, values: { id: 'e2', pivot: '21270229400017', nom: 'Lieu deux modifié', commune: 'Évreux', code_postal: '27000', code_insee: '27229', adresse: '1 place du Général de Gaulle', latitude: '49.0241', longitude: '1.1508', date_maj: '2026-09-30', services: 'Aide aux démarches administratives' } });
    const { write } = await enrich(row.record!, 2, 'edite', new TerritoryCache(db), db);
    await db.transaction((tx) => upsertBatch(tx, [write]));
    assert.equal((await rawHashes(db, 'edite')).e2, null);
    const v2 = [HEADER, csvLine({ id: 'e1', nom: 'Lieu un renommé' }), csvLine({ id: 'e2', nom: 'Lieu deux' })].join('\n');
    const r = await importPlaces(db, Buffer.from(v2), { importSource: 'edite', actor: 'test' });
    assert.deepEqual([r.updated, r.unchanged], [2, 0]);
    const names = (await contents(db, 'edite')).map((x) => x.nom);
    assert.deepEqual(names, ['Lieu un renommé', 'Lieu deux'], 'the file wins again over the edit, as before');
  });

  test('a record whose content is stored but whose raw hash is not yet is counted unchanged and gets it', async () => {
    const csv = [HEADER, csvLine({ id: 'n1', nom: 'Lieu' })].join('\n');
    await importPlaces(db, Buffer.from(csv), { importSource: 'nouveau-hash', actor: 'test' });
    await db.query("UPDATE places.place SET raw_hash = NULL WHERE import_source = 'nouveau-hash'");
    const r = await importPlaces(db, Buffer.from(csv), { importSource: 'nouveau-hash', actor: 'test' });
    assert.deepEqual([r.inserted, r.updated, r.unchanged], [0, 0, 1]);
    assert.ok((await rawHashes(db, 'nouveau-hash')).n1);
  });

  test('an id repeated in the file: its last occurrence still wins', async () => {
    const csv = [HEADER, csvLine({ id: 'd1', nom: 'Première version' }), csvLine({ id: 'd1', nom: 'Dernière version' })].join('\n');
    await importPlaces(db, Buffer.from(csv), { importSource: 'double', actor: 'test' });
    assert.deepEqual((await contents(db, 'double')).map((x) => x.nom), ['Dernière version']);
    const r = await importPlaces(db, Buffer.from(csv), { importSource: 'double', actor: 'test' });
    assert.deepEqual((await contents(db, 'double')).map((x) => x.nom), ['Dernière version']);
    assert.equal(r.issues.filter((i) => i.code === 'duplicate_id').length, 1, 'the repetition is still reported');
  });

  test('replace-source keeps the skipped records, and a removed place named again comes back under its uid', async () => {
    const both = [HEADER, csvLine({ id: 'x1', nom: 'Lieu gardé' }), csvLine({ id: 'x2', nom: 'Lieu retiré puis revenu' })].join('\n');
    const one = [HEADER, csvLine({ id: 'x1', nom: 'Lieu gardé' })].join('\n');
    await importPlaces(db, Buffer.from(both), { importSource: 'remplace-brut', actor: 'test' });
    const uid2 = (await contents(db, 'remplace-brut')).find((x) => x.id === 'x2')!.uid;
    const cut = await importPlaces(db, Buffer.from(one), { importSource: 'remplace-brut', actor: 'test', replaceSource: true });
    assert.deepEqual([cut.unchanged, cut.removed], [1, 1]);
    assert.equal((await searchPlaces(db, { importSource: 'remplace-brut' })).total, 1);
    const back = await importPlaces(db, Buffer.from(both), { importSource: 'remplace-brut', actor: 'test', replaceSource: true });
    assert.deepEqual([back.unchanged, back.updated, back.removed], [1, 1, 0]);
    const rows = await contents(db, 'remplace-brut');
    assert.deepEqual(rows.map((x) => [x.id, x.visible, x.removed_run]), [['x1', true, null], ['x2', true, null]]);
    assert.equal(rows.find((x) => x.id === 'x2')!.uid, uid2);
  });

  test('a large file read in small chunks: records skipped without parsing give exactly what a full validation gives', async () => {
    // Places of every shape: quoted commas, doubled quotes and line breaks, CRLF ends, warnings.
    const line = (i: number, nom = `Lieu ${i} « ${'é'.repeat(i % 7)} »`) => {
      const adresse = i % 5 === 0 ? `${i}, rue "Haute"\nBâtiment ${i % 3}` : `${i} rue de la Gare`;
      const l = csvLine({ id: `L${String(i).padStart(5, '0')}`, nom, adresse, lat: i % 11 === 0 ? '' : '49.0241', lon: i % 11 === 0 ? '' : '1.1508', services: i % 2 ? 'Aide aux démarches administratives' : 'Accès internet et matériel informatique' });
      return l + (i % 4 === 0 ? '\r\n' : '\n');
    };
    const n = 1500;
    const a = Buffer.from(HEADER + '\n' + Array.from({ length: n }, (_, i) => line(i + 1)).join(''));
    const changed = Array.from({ length: n }, (_, i) => {
      const k = i + 1;
      if (k === 200) return line(k, 'Lieu renommé');
      if (k === 300) return '';
      if (k === 400) return '\n   \n' + line(k);
      // The same id earlier in the file with other content: the unchanged line that follows must
      // be read (the last occurrence wins), not skipped.
      if (k === 600) return line(k, 'Autre contenu') + line(k);
      return line(k);
    }).join('');
    // A byte that is not UTF-8, far after the first 64 KB: the replacement is reported.
    const b = Buffer.concat([Buffer.from(HEADER + '\n' + changed), Buffer.from(line(n + 1, 'Lieu X').replace('X', '\u0000'), 'utf8').map((x) => (x === 0 ? 0xff : x))]);
    assert.ok(b.length > 250_000, `${b.length} bytes`);
    const chunked = (buf: Buffer) => Readable.from((function* () { for (let i = 0; i < buf.length; i += 7777) yield buf.subarray(i, i + 7777); })());
    await importPlaces(db, chunked(a), { importSource: 'voie-rapide', actor: 'test' });
    await importPlaces(db, chunked(a), { importSource: 'voie-complete', actor: 'test' });
    // The second source keeps no raw hash: every record of its re-import is parsed and validated.
    await db.query(`UPDATE places.place SET raw_hash = NULL WHERE import_source = 'voie-complete'`);
    const fast = await importPlaces(db, chunked(b), { importSource: 'voie-rapide', actor: 'test' });
    const full = await importPlaces(db, chunked(b), { importSource: 'voie-complete', actor: 'test' });
    const counts = (r: typeof fast) => ({ records: r.records, rowsRead: r.rowsRead, kept: r.kept, inserted: r.inserted, updated: r.updated, unchanged: r.unchanged, refused: r.refused, unreadable: r.unreadable, warnings: r.warnings, errors: r.errors, quality: r.quality });
    assert.deepEqual(counts(fast), counts(full));
    assert.deepEqual([fast.inserted, fast.updated], [1, 1], 'the new place; the renamed one (the repeated id ends as it was)');
    assert.deepEqual(fast.issues.map((i) => [i.line, i.code, i.message]), full.issues.map((i) => [i.line, i.code, i.message]));
    const badLine = (HEADER + '\n' + changed).split('\n').length;
    assert.deepEqual(fast.issues.filter((i) => i.code === 'encoding_invalid').map((i) => i.line), [badLine], 'the replaced byte is reported, on its line');
    assert.ok(fast.issues.some((i) => i.code === 'duplicate_id' && i.line === full.issues.find((x) => x.code === 'duplicate_id')!.line));
    const rows = async (src: string) =>
      (await db.query(`SELECT id, nom, adresse, latitude, services, search::text AS search, coordinates_precision, visible, removed_run FROM places.place WHERE import_source = $1 ORDER BY id`, [src])).rows;
    assert.deepEqual(await rows('voie-rapide'), await rows('voie-complete'));
    assert.equal((await rows('voie-rapide')).find((r) => r.id === 'L00600')!.nom, `Lieu 600 « ${'é'.repeat(600 % 7)} »`, 'the last occurrence of the repeated id won');
    // And most records were indeed not parsed: the reader recognises them by their text.
    const { readPlaces } = await import('../model/index.ts');
    const reading = await readPlaces(chunked(b));
    reading.hashRecords!('clé', () => true);
    let known = 0;
    for await (const row of reading.rows) if (row.known) known++;
    assert.ok(known > n * 0.9, `${known} records recognised without parsing`);
  });
});

describe('re-importing by raw hash: the fast path and a full validation agree', () => {
  let db: Db;
  before(async () => {
    db = await testDb();
  });
  after(async () => db.close());

  const chunked = (buf: Buffer, size: number) => Readable.from((function* () { for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size); })());
  const counts = (r: Awaited<ReturnType<typeof importPlaces>>) => ({ records: r.records, rowsRead: r.rowsRead, kept: r.kept, inserted: r.inserted, updated: r.updated, unchanged: r.unchanged, refused: r.refused, unreadable: r.unreadable, warnings: r.warnings, errors: r.errors, quality: r.quality });
  const rows = async (src: string) =>
    (await db.query(`SELECT id, nom, adresse, latitude, services, search::text AS search, coordinates_precision, visible, removed_run FROM places.place WHERE import_source = $1 ORDER BY id`, [src])).rows;
  /** Imports `a` into two sources, clears the raw hashes of the second, re-imports `b` into both. */
  async function differential(name: string, a: () => NodeJS.ReadableStream | Buffer, b: () => NodeJS.ReadableStream | Buffer) {
    await importPlaces(db, a(), { importSource: `${name}-rapide`, actor: 'test' });
    await importPlaces(db, a(), { importSource: `${name}-complet`, actor: 'test' });
    await db.query('UPDATE places.place SET raw_hash = NULL WHERE import_source = $1', [`${name}-complet`]);
    const fast = await importPlaces(db, b(), { importSource: `${name}-rapide`, actor: 'test' });
    const full = await importPlaces(db, b(), { importSource: `${name}-complet`, actor: 'test' });
    assert.deepEqual(counts(fast), counts(full));
    assert.deepEqual(fast.issues.map((i) => [i.line, i.code, i.message]), full.issues.map((i) => [i.line, i.code, i.message]));
    assert.deepEqual(await rows(`${name}-rapide`), await rows(`${name}-complet`));
    return { fast, full };
  }

  test('a U+FFFD written in the file (valid UTF-8) in a known record: its warning names the same line', async () => {
    const n = 1500;
    const line = (i: number, fixed = false) => csvLine({ id: `F${String(i).padStart(5, '0')}`, nom: i === 200 && !fixed ? 'Lieu \uFFFD un' : i === 1003 ? 'Lieu \uFFFD deux' : `Lieu ${i}` }) + '\n';
    const a = Buffer.from(HEADER + '\n' + Array.from({ length: n }, (_, i) => line(i + 1)).join(''));
    // The first U+FFFD is fixed: the warning now falls on the second one, whose record was clean
    // (and so got a raw hash) the first time.
    const b = Buffer.from(HEADER + '\n' + Array.from({ length: n }, (_, i) => line(i + 1, true)).join(''));
    const { fast } = await differential('fffd', () => chunked(a, 7777), () => chunked(b, 7777));
    assert.deepEqual(fast.issues.filter((i) => i.code === 'encoding_invalid').map((i) => i.line), [1004]);
  });

  test('a byte that is not UTF-8 read ahead of the rows being checked: its warning keeps its place among the others', async () => {
    // Every 11th place has no coordinates (a warning: always validated); the others are clean, so
    // a full validation checks them all and the fast path skips them: the batches of rows (and of
    // their issues) do not end on the same lines. The replaced byte is read with the chunk that
    // holds the end of the full path's second batch (rows 251 to 750), before that batch is written.
    const n = 1500;
    const line = (i: number) => csvLine({ id: `B${String(i).padStart(5, '0')}`, nom: `Lieu ${i}`, lat: i % 11 === 0 ? '' : '49.0241', lon: i % 11 === 0 ? '' : '1.1508' }) + '\n';
    const text = (bad: number | null) =>
      Buffer.concat(Array.from({ length: n + 1 }, (_, i) => (i === 0 ? Buffer.from(HEADER + '\n') : i === bad ? Buffer.from(line(i)).map((x) => (x === 0x4c ? 0xff : x)) : Buffer.from(line(i)))));
    const a = text(null);
    for (const bad of [760, 790]) {
      const { fast } = await differential(`ordre-${bad}`, () => chunked(a, 1 << 16), () => chunked(text(bad), 1 << 16));
      assert.deepEqual(fast.issues.filter((i) => i.code === 'encoding_invalid').map((i) => i.line), [bad + 1]);
    }
  });
});

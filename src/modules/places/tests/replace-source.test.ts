/**
 * « Replace the source » removes only what the file certainly no longer contains, restorably; every
 * record of a file is counted; every import is audited. Each test checks the rows, not only the
 * report.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listAudit } from '../../../platform/audit/index.ts';
import type { Db } from '../../../platform/db/index.ts';
import { testDb } from '../../../../test/support/db.ts';
import { importPlaces, onPlacesChanged, undoImportRemovals } from '../index.ts';
import type { MappingFile } from '../model/index.ts';
import { HEADER, csvLine } from './helpers.ts';

interface Row {
  uid: string;
  id: string;
  nom: string;
  visible: boolean;
  removed_run: number | null;
}

async function rowsOf(db: Db, source: string): Promise<Row[]> {
  const { rows } = await db.query<Row>('SELECT uid, id, nom, visible, removed_run FROM places.place WHERE import_source = $1 ORDER BY id', [source]);
  return rows.map((r) => ({ ...r, removed_run: r.removed_run === null ? null : Number(r.removed_run) }));
}

const five = (prefix: string) => [HEADER, ...[1, 2, 3, 4, 5].map((k) => csvLine({ id: `${prefix}${k}`, nom: `Lieu ${prefix}${k}` }))].join('\n');

describe('replace-source removes only what the file certainly no longer contains', () => {
  let db: Db;
  before(async () => {
    db = await testDb();
  });
  after(async () => db.close());

  test('a header without the required columns removes nothing and says how many would have gone', async () => {
    await importPlaces(db, Buffer.from(five('h')), { importSource: 'entete', actor: 'test' });
    const before = await rowsOf(db, 'entete');
    // The header lacks nom and adresse: every row is refused.
    const header = HEADER.split(',').filter((c) => c !== 'nom' && c !== 'adresse');
    const line = (id: string) => header.map((c) => ({ id, pivot: '21270229400017', commune: 'Évreux', code_postal: '27000', date_maj: '2026-09-30' })[c] ?? '').join(',');
    const r = await importPlaces(db, Buffer.from([header.join(','), line('h1')].join('\n')), { importSource: 'entete', actor: 'test', replaceSource: true });
    assert.equal(r.kept, 0);
    assert.equal(r.removed, 0);
    assert.equal(r.wouldRemove, 4, 'h2…h5 are absent from the file');
    assert.match(r.replaceKept.join(' '), /en-tête/);
    assert.ok(r.issues.some((i) => i.code === 'replace_skipped' && /4 lieux de la source absents du fichier auraient été retirés/.test(i.message)));
    assert.deepEqual(await rowsOf(db, 'entete'), before, 'the rows are unchanged');
  });

  test('a mapped column renamed in next year’s file: every row refused, nothing removed', async () => {
    const mapping: MappingFile = {
      columns: { ID: 'id', SIRET: 'pivot', NOM: 'nom', VILLE: 'commune', CP: 'code_postal', ADRESSE: 'adresse', MAJ: 'date_maj' },
    };
    const file = (nameColumn: string, ids: string[]) =>
      [`ID;SIRET;${nameColumn};VILLE;CP;ADRESSE;MAJ`, ...ids.map((id) => `${id};21270229400017;Lieu ${id};Évreux;27000;1 rue Haute;2026-09-30`)].join('\n');
    const first = await importPlaces(db, Buffer.from(file('NOM', ['m1', 'm2', 'm3'])), { importSource: 'renomme', actor: 'test', mapping });
    assert.equal(first.inserted, 3);
    const before = await rowsOf(db, 'renomme');
    const r = await importPlaces(db, Buffer.from(file('NOM_LIEU', ['m1', 'm2'])), { importSource: 'renomme', actor: 'test', mapping, replaceSource: true });
    assert.equal(r.refused, 2);
    assert.equal(r.removed, 0);
    assert.equal(r.wouldRemove, 1);
    assert.match(r.replaceKept.join(' '), /« NOM »/);
    assert.deepEqual(await rowsOf(db, 'renomme'), before);
  });

  test('an unreadable line keeps every place; it is counted as unreadable', async () => {
    await importPlaces(db, Buffer.from(five('u')), { importSource: 'illisible', actor: 'test' });
    const before = await rowsOf(db, 'illisible');
    // u2's line has a quote never closed… on the last line, so the reader drops it; u3's line has a
    // field over 100 KB. u4 and u5 are gone from the file.
    const big = 'x'.repeat(110 * 1024);
    const lines = [HEADER, csvLine({ id: 'u1', nom: 'Lieu u1' }), csvLine({ id: 'u3', nom: big }), csvLine({ id: 'u2', nom: 'Lieu "u2' }).replace('Lieu ""u2', '"Lieu u2')];
    const r = await importPlaces(db, Buffer.from(lines.join('\n')), { importSource: 'illisible', actor: 'test', replaceSource: true });
    assert.equal(r.records, 3, 'every record of the file is counted');
    assert.equal(r.unreadable, 2);
    assert.equal(r.kept, 1);
    assert.equal(r.removed, 0);
    assert.match(r.replaceKept.join(' '), /2 lignes du fichier sont illisibles/);
    assert.deepEqual(await rowsOf(db, 'illisible'), before);
  });

  test('more than the set share of refused rows removes nothing', async () => {
    await importPlaces(db, Buffer.from(five('q')), { importSource: 'refus', actor: 'test' });
    const before = await rowsOf(db, 'refus');
    const lines = [HEADER, csvLine({ id: 'q1', nom: 'Lieu q1' }), csvLine({ id: 'q2', nom: 'Lieu q2', lat: '999' }), csvLine({ id: 'q3', nom: 'Lieu q3', date: 'hier' })];
    const r = await importPlaces(db, Buffer.from(lines.join('\n')), { importSource: 'refus', actor: 'test', replaceSource: true });
    assert.equal(r.refused, 2);
    assert.equal(r.removed, 0);
    assert.match(r.replaceKept.join(' '), /2 lignes refusées sur 3, plus de 10 %/);
    assert.deepEqual(await rowsOf(db, 'refus'), before);
    // With a tolerance above the share, the absent places go; the refused rows keep their places.
    const ok = await importPlaces(db, Buffer.from(lines.join('\n')), { importSource: 'refus', actor: 'test', replaceSource: true, maxRefusedShare: 0.7 });
    assert.equal(ok.removed, 2);
    assert.deepEqual((await rowsOf(db, 'refus')).filter((x) => x.visible).map((x) => x.id), ['q1', 'q2', 'q3']);
  });

  test('removed places are hidden with their run, listed by a dry run, restored by undo and by a later import under the same uid', async () => {
    await importPlaces(db, Buffer.from(five('r')), { importSource: 'retour', actor: 'test' });
    const before = await rowsOf(db, 'retour');
    const claimUser = '00000000-0000-4000-8000-000000000001';
    await db.query(`INSERT INTO places.claim (place_uid, user_id, method, status) VALUES ($1, $2, 'staff', 'approved')`, [before[4]!.uid, claimUser]);
    const smaller = [HEADER, csvLine({ id: 'r1', nom: 'Lieu r1' }), csvLine({ id: 'r2', nom: 'Lieu r2' }), csvLine({ id: 'r3', nom: 'Lieu r3' })].join('\n');

    const dry = await importPlaces(db, Buffer.from(smaller), { importSource: 'retour', actor: 'test', replaceSource: true, dryRun: true });
    assert.equal(dry.removed, 0);
    assert.deepEqual(dry.removals.map((x) => [x.id, x.uid]), [['r4', before[3]!.uid], ['r5', before[4]!.uid]]);
    assert.deepEqual(await rowsOf(db, 'retour'), before, 'a dry run writes nothing');

    const r = await importPlaces(db, Buffer.from(smaller), { importSource: 'retour', actor: 'test', replaceSource: true });
    assert.equal(r.removed, 2);
    const removed = (await rowsOf(db, 'retour')).filter((x) => !x.visible);
    assert.deepEqual(removed.map((x) => [x.id, x.removed_run]), [['r4', r.runId], ['r5', r.runId]]);
    const { rows: claims } = await db.query('SELECT 1 FROM places.claim WHERE place_uid = $1', [before[4]!.uid]);
    assert.equal(claims.length, 1, 'the claim of a removed place is kept');

    const undone = await undoImportRemovals(db, r.runId!, { actor: 'test' });
    assert.equal(undone.restored, 2);
    assert.deepEqual(await rowsOf(db, 'retour'), before, 'undo brings back every place as it was, same uid');
    await assert.rejects(undoImportRemovals(db, r.runId!, { actor: 'test' }), /déjà été annulés/);
    const audit = await listAudit(db, { objectType: 'import_run', objectId: String(r.runId) });
    assert.deepEqual(audit.map((e) => e.action).sort(), ['places.import', 'places.import.undo']);

    // Removed again, then named by a later file: back under the same uid, counted as updated.
    await importPlaces(db, Buffer.from(smaller), { importSource: 'retour', actor: 'test', replaceSource: true });
    const back = await importPlaces(db, Buffer.from(five('r')), { importSource: 'retour', actor: 'test' });
    assert.equal(back.inserted, 0);
    assert.equal(back.updated, 2);
    assert.deepEqual(await rowsOf(db, 'retour'), before);
  });

  test('a failure at the very end of an import leaves no removal committed', async () => {
    await importPlaces(db, Buffer.from(five('f')), { importSource: 'panne', actor: 'test' });
    const before = await rowsOf(db, 'panne');
    const { rows: runsBefore } = await db.query('SELECT count(*)::int AS n FROM places.import_run');
    // A listener that throws runs after the removal, inside the import's transaction.
    const stop = onPlacesChanged(() => {
      throw new Error('panne après le retrait');
    });
    try {
      await assert.rejects(
        importPlaces(db, Buffer.from([HEADER, csvLine({ id: 'f1', nom: 'Lieu f1 renommé' })].join('\n')), { importSource: 'panne', actor: 'test', replaceSource: true, maxRefusedShare: 1 }),
        /panne après le retrait/,
      );
    } finally {
      stop();
    }
    assert.deepEqual(await rowsOf(db, 'panne'), before, 'neither the update nor the removals were committed');
    const { rows: runsAfter } = await db.query('SELECT count(*)::int AS n FROM places.import_run');
    assert.deepEqual(runsAfter, runsBefore);
  });

  test('every import is audited, the command line’s too', async () => {
    const r = await importPlaces(db, Buffer.from(five('a')), { importSource: 'audit-cli', actor: 'cli', door: 'cli' });
    const [entry] = await listAudit(db, { objectType: 'import_run', objectId: String(r.runId) });
    assert.equal(entry?.action, 'places.import');
    assert.equal(entry?.actorId, null);
    assert.deepEqual(entry?.meta, { door: 'cli', actor: 'cli', replaceSource: false });
    assert.equal((entry?.after as { inserted: number }).inserted, 5);
  });
});

describe('honest counts and issue order', () => {
  let db: Db;
  before(async () => {
    db = await testDb();
  });
  after(async () => db.close());

  test('3 data rows with one unreadable line: 3 records, 2 kept, 1 unreadable', async () => {
    const lines = [HEADER, csvLine({ id: 'c1', nom: 'Un' }), `c2,"broken`, csvLine({ id: 'c3', nom: 'Trois' })];
    const r = await importPlaces(db, Buffer.from(lines.join('\n')), { importSource: 'comptes', actor: 'test', dryRun: true });
    assert.equal(r.records, 3);
    assert.equal(r.kept, 2);
    assert.equal(r.unreadable, 1);
    assert.equal(r.refused, 0);
  });

  test('a one-line JSON file names the element of each issue', async () => {
    const items = [
      { id: 'j1', pivot: '21270229400017', nom: 'Un', commune: 'Évreux', code_postal: '27000', adresse: '1 rue', date_maj: '2026-09-30' },
      { id: 'j2', pivot: '21270229400017', nom: 'Deux', commune: 'Évreux', code_postal: '27000', adresse: '1 rue', date_maj: 'pas une date' },
      7,
    ];
    const r = await importPlaces(db, Buffer.from(JSON.stringify(items)), { importSource: 'json', actor: 'test', dryRun: true, format: 'json' });
    assert.equal(r.records, 3);
    assert.equal(r.unreadable, 1);
    const date = r.issues.find((i) => i.field === 'date_maj' && i.severity === 'error')!;
    assert.equal(date.item, 2);
    assert.match(date.message, /^Élément n° 2 \(ligne 1\), champ « date_maj »/);
    assert.ok(r.issues.some((i) => i.code === 'json_shape' && i.item === 3 && /^Élément n° 3/.test(i.message)));
  });

  test('issues come in line order, the mapping’s own warnings in place, and --max cuts the rest', async () => {
    const mapping: MappingFile = {
      columns: { ID: 'id', SIRET: 'pivot', NOM: 'nom', VILLE: 'commune', CP: 'code_postal', ADRESSE: 'adresse', MAJ: 'date_maj', TARIF: { field: 'frais_a_charge', values: { G: 'Gratuit' } } },
    };
    const rows = Array.from({ length: 30 }, (_, k) => `o${k};21270229400017;Lieu ${k};Évreux;27000;1 rue Haute;${k % 2 ? 'hier' : '2026-09-30'};${k % 3 ? 'G' : 'X'}`);
    const r = await importPlaces(db, Buffer.from(['ID;SIRET;NOM;VILLE;CP;ADRESSE;MAJ;TARIF', ...rows].join('\n')), { importSource: 'ordre', actor: 'test', mapping, dryRun: true, maxIssues: 12 });
    const lines = r.issues.map((i) => i.line ?? 0);
    assert.deepEqual(lines, [...lines].sort((a, b) => a - b));
    assert.equal(r.issues.length, 12);
    assert.ok(r.issuesTruncated);
    assert.ok(r.issues.some((i) => i.code === 'unmapped_value' && i.line === 2), 'the mapping warning of line 2 comes among the first');
  });
});

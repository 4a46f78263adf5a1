/** readPlaces: every input format, encodings, delimiters, versions, mappings and malformed input. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import iconv from 'iconv-lite';
import {
  CSV_HEADER,
  parseHalfDayCell,
  buildOsmHours,
  parseMappingFile,
  readPlaces,
  toCsvLine,
  csvHeaderLine,
  validateRow,
  weeklyMinutes,
  isOpenAt,
  openingStatus,
  type MappingFile,
  type ValidationIssue,
} from '../model/index.ts';
import { mappingPlan, mergeRanges } from '../model/mapping.ts';
import { baseValues, fixture, readAll } from './fixtures/model-helpers.ts';
import path from 'node:path';
import { STANDARD_DIR } from './fixtures/model-helpers.ts';

const HEADER = CSV_HEADER.join(',');
const exemple = fs.readFileSync(path.join(STANDARD_DIR, 'exemple-valide.csv'));

/** A minimal valid v1 CSV line for the given id. */
function line(id: string, delimiter = ','): string {
  const v = { ...baseValues(), id } as Record<string, string>;
  return CSV_HEADER.map((f) => v[f] ?? '').join(delimiter);
}
function csv(lines: string[], eol = '\n'): Buffer {
  return Buffer.from(lines.join(eol) + eol);
}

describe('readPlaces: CSV v1.0.2', () => {
  test('comma, LF, no BOM; column order may vary; unknown columns reported once', async () => {
    const cols = [...CSV_HEADER].reverse();
    const v = { ...baseValues(), id: 'a' } as Record<string, string>;
    const text = [[...cols, 'remarque'].join(','), [...cols.map((c) => v[c] ?? ''), 'x'].join(','), [...cols.map((c) => (c === 'id' ? 'b' : (v[c] ?? ''))), 'y'].join(',')].join('\n');
    const { meta, results, fileIssues } = await readAll(Buffer.from(text));
    assert.equal(meta.version, '1.0.2');
    assert.deepEqual(results.map((r) => r.record?.id), ['a', 'b']);
    assert.deepEqual(fileIssues.map((i) => [i.code, i.line, i.value]), [['unknown_columns', 1, 'remarque']]);
  });

  test('semicolon delimiter, CRLF, UTF-8 BOM', async () => {
    const buf = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), csv([CSV_HEADER.join(';'), line('a', ';'), line('b', ';')], '\r\n')]);
    const { meta, results, fileIssues } = await readAll(buf);
    assert.deepEqual(meta, { format: 'csv', version: '1.0.2', delimiter: ';', encoding: 'utf-8', bom: true });
    assert.deepEqual(fileIssues, []);
    assert.deepEqual(results.map((r) => [r.line, r.record?.id]), [[2, 'a'], [3, 'b']]);
  });

  test('tab delimiter', async () => {
    const { meta, results } = await readAll(csv([CSV_HEADER.join('\t'), line('a', '\t')]));
    assert.equal(meta.delimiter, '\t');
    assert.equal(results[0].record?.id, 'a');
  });

  test('quoted fields with delimiters, doubled quotes and line breaks; lines counted across them', async () => {
    const v = { ...baseValues(), id: 'a', nom: 'Le "Lieu", ici', presentation_detail: 'ligne 1\nligne 2\r\nligne 3' } as Record<string, string>;
    const quoted = CSV_HEADER.map((f) => `"${(v[f] ?? '').replace(/"/g, '""')}"`).join(',');
    const { rows, results } = await readAll(csv([HEADER, quoted, line('b')]));
    assert.equal(results[0].record?.nom, 'Le "Lieu", ici');
    assert.equal(results[0].record?.presentation_detail, 'ligne 1\nligne 2\r\nligne 3');
    assert.deepEqual(rows.map((r) => [r.line, r.endLine]), [[2, 4], [5, 5]]);
  });

  test('the same rows whatever the chunking of the stream (1 to 7 bytes)', async () => {
    const buf = Buffer.concat([exemple, Buffer.from(toCsvLine({ ...(await first(exemple)), id: 'deux', nom: 'Été « ça »\nva' }))]);
    const whole = await readAll(buf);
    let seed = 7;
    const chunks: Buffer[] = [];
    for (let i = 0; i < buf.length; ) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const n = 1 + (seed % 7);
      chunks.push(buf.subarray(i, i + n));
      i += n;
    }
    const streamed = await readAll(Readable.from(chunks) as never);
    assert.deepEqual(streamed.rows, whole.rows);
    assert.equal(whole.results.length, 2);
    assert.ok(whole.results.every((r) => r.record));
  });

  test('reads from a file path and a stream', async () => {
    const p = path.join(STANDARD_DIR, 'exemple-valide.csv');
    const a = await readAll(p);
    const b = await readAll(fs.createReadStream(p) as never);
    assert.deepEqual(a.rows, b.rows);
  });

  test('header names matched tolerantly (case, accents, spaces), with a warning', async () => {
    const header = CSV_HEADER.map((f) => (f === 'code_postal' ? 'Code Postal' : f === 'nom' ? 'NOM' : f)).join(',');
    const { results, fileIssues } = await readAll(csv([header, line('a')]));
    assert.equal(results[0].record?.code_postal, '51100');
    assert.deepEqual(fileIssues.map((i) => [i.code, i.field]).sort(), [['column_renamed', 'code_postal'], ['column_renamed', 'nom']]);
  });

  test('a trailing delimiter (empty extra cells) is tolerated', async () => {
    const { results, fileIssues } = await readAll(csv([HEADER, line('a') + ',,']));
    assert.equal(results[0].record?.id, 'a');
    assert.deepEqual(fileIssues, []);
  });
});

async function first(buf: Buffer) {
  const r = await readAll(buf);
  return r.results[0].record!;
}

describe('readPlaces: encodings', () => {
  test('Windows-1252 detected, decoded and reported in meta', async () => {
    const { meta, results, fileIssues } = await readAll(fixture('windows-1252.csv'));
    assert.deepEqual(meta, { format: 'csv', version: '1.0.2', delimiter: ';', encoding: 'windows-1252', bom: false });
    assert.equal(fileIssues[0].code, 'encoding_windows_1252');
    assert.equal(results[0].record?.nom, 'Cyber-base de Charleville-Mézières');
    assert.equal(results[0].record?.adresse, 'Place de l’Hôtel de Ville');
    assert.equal(results[0].record?.presentation_resume, 'Accès libre et ateliers, coût : 0 €.');
    assert.equal(results[0].record?.latitude, 49.7735);
  });

  test('Windows-1252 found after a long pure-ASCII start is still decoded (bytes replaced, reported)', async () => {
    const lines = [HEADER];
    for (let i = 0; i < 2000; i++) lines.push(line(`a${i}`));
    const ascii = csv(lines);
    const tail = iconv.encode(line('fin').replace('Reims', 'Évreux') + '\n', 'windows-1252');
    // Whole buffer in hand: detected from all of it.
    const whole = await readAll(Buffer.concat([ascii, tail]));
    assert.equal(whole.meta.encoding, 'windows-1252');
    assert.equal(whole.results[2000].record?.commune, 'Évreux');
    // Streamed in 16 KB chunks: detection looks at the first 64 KB only; later bytes are reported.
    const all = Buffer.concat([ascii, tail]);
    const chunks: Buffer[] = [];
    for (let i = 0; i < all.length; i += 16384) chunks.push(all.subarray(i, i + 16384));
    const { meta, results, fileIssues } = await readAll(Readable.from(chunks) as never);
    assert.equal(meta.encoding, 'utf-8');
    assert.equal(results.length, 2001);
    assert.ok(fileIssues.some((i) => i.code === 'encoding_invalid' && i.line !== null && i.line > 1000));
  });
});

describe('readPlaces: v0.1.0 files mapped to v1.0.2', () => {
  test('fields renamed, split and condensed; values mapped; losses reported', async () => {
    const { meta, results, fileIssues } = await readAll(fixture('legacy-v0.1.0.csv'));
    assert.equal(meta.version, '0.1.0');
    assert.ok(results.every((r) => r.record), JSON.stringify(results.map((r) => r.issues)));
    const [a, b] = results.map((r) => r.record!);
    assert.deepEqual(a.courriels, ['contact@laquincaillerie.tl']);
    assert.deepEqual(a.site_web, ['https://www.laquincaillerie.tl/', 'https://m.facebook.com/laquincaillerienumerique/']);
    assert.deepEqual(a.typologie, ['TIERS_LIEUX', 'ASSO']);
    assert.equal(a.fiche_acces_libre, 'https://acceslibre.beta.gouv.fr/app/29-lampaul-plouarzel/a/bibliotheque-mediatheque/erp/mediatheque-13/');
    assert.deepEqual(a.services, [
      'Aide aux démarches administratives',
      'Maîtrise des outils numériques du quotidien',
      'Compréhension du monde numérique',
      'Insertion professionnelle via le numérique',
      'Accès internet et matériel informatique',
    ]);
    assert.deepEqual(a.publics_specifiquement_adresses, ['Seniors', 'Familles et/ou enfants']);
    assert.deepEqual(a.prise_en_charge_specifique, ['Déficience visuelle']);
    assert.deepEqual(a.frais_a_charge, ['Gratuit sous condition', 'Payant']);
    assert.deepEqual(a.dispositif_programmes_nationaux, ['France Services', "Point d'accès numérique CAF"]);
    assert.equal(a.autres_formations_labels, 'SudLabs, Nièvre médiation numérique, APTIC');
    assert.deepEqual(a.modalites_accompagnement, ['En autonomie', 'Accompagnement individuel']);
    assert.deepEqual(b.services.sort(), [
      'Acquisition de matériel informatique à prix solidaire',
      'Aide aux démarches administratives',
      'Compréhension du monde numérique',
      'Insertion professionnelle via le numérique',
      'Loisirs et créations numériques',
      'Parentalité et éducation avec le numérique',
    ]);
    assert.deepEqual(b.publics_specifiquement_adresses, ['Jeunes', 'Femmes']);
    assert.deepEqual(b.prise_en_charge_specifique, ['Langues étrangères (autres)', 'Surdité', 'Handicaps mentaux', 'Illettrisme']);
    assert.deepEqual(b.dispositif_programmes_nationaux, ['Conseillers numériques', 'Aidants Connect', 'Grande école du numérique', "Point d'accès numérique CAF"]);
    assert.deepEqual(b.formations_labels, ['Fabriques de Territoire']);
    assert.equal(b.autres_formations_labels, 'Relais pôle emploi, French Tech, Campus connecté');
    assert.deepEqual(b.modalites_accompagnement, ['Dans un atelier collectif', 'Accompagnement individuel']);
    const codes = fileIssues.map((i) => `${i.line}:${i.code}`);
    assert.ok(codes.includes('1:legacy_version'));
    assert.ok(codes.includes('1:legacy_column_dropped'));
    assert.ok(codes.includes('2:legacy_value_dropped'), 'Adultes has no v1 equivalent');
    assert.ok(fileIssues.every((i) => i.severity === 'warning'));
  });
});

describe('readPlaces: JSON and GeoJSON', () => {
  test('an array of records, arrays or `|` strings, numbers or strings', async () => {
    const recs = [
      { ...baseValues(), id: 'a', services: ['Aide aux démarches administratives', 'Loisirs et créations numériques'], latitude: 49.2583, longitude: 4.0317 },
      { ...baseValues(), id: 'b', services: 'Aide aux démarches administratives|Loisirs et créations numériques' },
    ];
    const text = JSON.stringify(recs, null, 2);
    const starts = text.split('\n').flatMap((l, k) => (l === '  {' ? [k + 1] : []));
    const { meta, rows, results, fileIssues } = await readAll(Buffer.from(text));
    assert.equal(meta.format, 'json');
    assert.deepEqual(fileIssues, []);
    assert.deepEqual(results.map((r) => r.record?.services), [recs[0].services, recs[0].services]);
    assert.equal(results[0].record?.latitude, 49.2583);
    assert.deepEqual(rows.map((r) => r.line), starts);
    assert.equal(starts[0], 2);
  });

  test('GeoJSON: Point geometry gives longitude/latitude', async () => {
    const { latitude: _a, longitude: _b, ...props } = baseValues();
    const fc = { type: 'FeatureCollection', features: [{ type: 'Feature', geometry: { type: 'Point', coordinates: [2.3522, 48.8566] }, properties: { ...props, id: 'p' } }] };
    const { meta, results } = await readAll(Buffer.from(JSON.stringify(fc)), { fileName: 'lieux.geojson' });
    assert.equal(meta.format, 'geojson');
    assert.equal(results[0].record?.latitude, 48.8566);
    assert.equal(results[0].record?.longitude, 2.3522);
  });

  test('invalid JSON: a file-level error naming the line and column', async () => {
    const { rows, fileIssues } = await readAll(Buffer.from('[\n  {"id": "a",\n   "nom": }\n]'), { format: 'json' });
    assert.equal(rows.length, 0);
    assert.equal(fileIssues.length, 1);
    assert.equal(fileIssues[0].code, 'invalid_json');
    assert.equal(fileIssues[0].line, 3);
    assert.match(fileIssues[0].message, /JSON invalide ligne 3, colonne \d+/);
  });

  test('JSON of the wrong shape and non-object items are reported, good items kept', async () => {
    const wrong = await readAll(Buffer.from('{"hello": 1}'), { format: 'json' });
    assert.equal(wrong.fileIssues[0].code, 'json_shape');
    const mixed = await readAll(Buffer.from(JSON.stringify([42, { ...baseValues(), id: 'ok' }])));
    assert.deepEqual(mixed.results.map((r) => r.record?.id), ['ok']);
    assert.equal(mixed.fileIssues[0].code, 'json_shape');
  });
});

describe("readPlaces: a producer's own format through a mapping file", () => {
  const mapping = (() => {
    const r = parseMappingFile(fs.readFileSync(fixture('mapping-producteur-ardennes.json'), 'utf8'));
    assert.ok(r.ok);
    return r.mapping;
  })();

  test('columns, coded values, separators, dates, encoding, defaults and half-day hours', async () => {
    const { meta, results, fileIssues } = await readAll(fixture('producteur-ardennes.csv'), { mapping });
    assert.deepEqual(meta, { format: 'csv', version: 'mapping', delimiter: ';', encoding: 'windows-1252', bom: false });
    const [voyelles, rocroi, bus, atelier] = results;
    const v = voyelles.record!;
    assert.ok(v, JSON.stringify(voyelles.issues));
    assert.equal(v.nom, 'Médiathèque Voyelles');
    assert.equal(v.adresse, '2 place Winston Churchill');
    assert.deepEqual(v.typologie, ['BIB']);
    assert.deepEqual(v.services, ['Aide aux démarches administratives', 'Accès internet et matériel informatique', 'Parentalité et éducation avec le numérique']);
    assert.deepEqual(v.frais_a_charge, ['Gratuit']);
    assert.equal(v.date_maj, '2024-04-02');
    assert.equal(v.latitude, 49.7719);
    assert.equal(v.source, 'Département des Ardennes');
    assert.equal(v.horaires, 'Mo 14:00-18:00; Tu,We 10:00-12:00,14:00-18:00; Th 14:00-18:00; Fr 10:00-12:00,14:00-18:00; Sa 10:00-12:30');
    const r = rocroi.record!;
    assert.equal(r.code_postal, '08230');
    assert.deepEqual(r.typologie, ['RFS']);
    assert.equal(r.horaires, 'Mo,Tu 09:00-12:00,13:30-17:00; We 09:00-12:00; Th,Fr 09:00-12:00,13:30-17:00');
    // S9 is not in the value map: dropped with a warning on its line, the place kept with S4.
    assert.deepEqual(bus.record?.services, ['Loisirs et créations numériques']);
    assert.ok(fileIssues.some((i) => i.code === 'unmapped_value' && i.severity === 'warning' && i.line === 4 && i.value === 'S9'));
    // An unreadable half-day cell: that half-day not taken, reported, the place kept.
    assert.equal(atelier.record?.horaires, null);
    assert.ok(fileIssues.some((i) => i.code === 'hours_cell_invalid' && i.line === 5 && i.value === '9 à midi'));
    // The unmapped column is reported once, the ignored ones are not.
    const unmapped = fileIssues.filter((i) => i.code === 'unmapped_columns');
    assert.deepEqual(unmapped.map((i) => i.value), ['NOTE']);
  });

  test('one column feeds several fields, fallbacks, per-column separators, unmapped values refused on request', async () => {
    const mapping = parseMappingFile(JSON.stringify({
      separator: '-',
      columns: {
        ID: 'id', SIRET: 'pivot', NOM: 'nom', CP: 'code_postal', VILLE: 'commune', MAJ: 'date_maj',
        ADRESSE: { field: 'adresse', fallback: ['LIEU_DIT'] },
        SITE: { field: 'site_web', separator: ' ' },
        LABELS: [
          { field: 'dispositif_programmes_nationaux', values: { CNFS: 'Conseillers numériques', FS: 'France Services' }, separator: ',' },
          { field: 'formations_labels', values: { FABT: 'Fabriques de Territoire' } },
        ],
        TARIF: { field: 'frais_a_charge', values: { G: 'Gratuit' }, unmapped: 'refuse' },
      },
    }));
    assert.ok(mapping.ok);
    const csv = [
      'ID;SIRET;NOM;CP;VILLE;MAJ;ADRESSE;LIEU_DIT;SITE;LABELS;TARIF',
      'a;21080105100013;Un;08000;Charleville-Mézières;2024-02-05;;Le Bourg;https://mon-site.example.org;CNFS,FABT,XYZ;G',
      'b;21080105100013;Deux;08000;Charleville-Mézières;2024-02-05;1 rue Haute;;;FS;Z',
    ].join('\n');
    const read = await readPlaces(Buffer.from(csv), { mapping: (mapping as { mapping: MappingFile }).mapping, fileName: 'x.csv' });
    const rows = [];
    for await (const row of read.rows) rows.push(validateRow(row));
    const [a, b] = rows;
    assert.equal(a!.record?.adresse, 'Le Bourg', 'empty address → the fallback column');
    assert.deepEqual(a!.record?.site_web, ['https://mon-site.example.org'], 'a hyphen in a URL is not a separator of that column');
    assert.deepEqual(a!.record?.dispositif_programmes_nationaux, ['Conseillers numériques']);
    assert.deepEqual(a!.record?.formations_labels, ['Fabriques de Territoire']);
    assert.ok(read.issues.some((i) => i.code === 'unmapped_value' && i.value === 'XYZ' && i.severity === 'warning'));
    assert.equal(b!.record, null, 'TARIF refuses what its map does not know');
    assert.ok(b!.issues.some((i) => i.code === 'unmapped_value' && i.value === 'Z' && i.severity === 'error'));
  });

  test('half-day hours: common typos read, an unreadable cell drops its half-day only, adjacent ranges merged', () => {
    assert.deepEqual(parseHalfDayCell('9h12h'), ['09:00-12:00']);
    assert.deepEqual(parseHalfDayCell('14h18h'), ['14:00-18:00']);
    assert.deepEqual(parseHalfDayCell('12h17h'), ['12:00-17:00']);
    assert.deepEqual(parseHalfDayCell('9h-12h30'), ['09:00-12:30']);
    assert.deepEqual(parseHalfDayCell('fermé'), []);
    assert.equal(parseHalfDayCell('912'), null);
    assert.deepEqual(mergeRanges(['12:00-18:00', '10:00-12:00']), ['10:00-18:00']);
    const plan = mappingPlan({ columns: { ID: 'id' }, hours: { columns: { lm: 'Mo', la: 'Mo', mm: 'Tu', ma: 'Tu' } } }, ['ID', 'lm', 'la', 'mm', 'ma'], 1);
    const issues: ValidationIssue[] = [];
    const v = plan.convert(['x', '10h12h', '12h-18h', 'n’importe quoi', 'sur rdv'], 2, issues);
    assert.equal(v.horaires, 'Mo 10:00-18:00; Tu "sur rendez-vous"');
    assert.deepEqual(issues.map((i) => i.code), ['hours_cell_invalid', 'hours_by_appointment']);
  });

  test('« sur rdv » is read: the day says « sur rendez-vous », never counted as open', () => {
    const plan = mappingPlan({ columns: { ID: 'id' }, hours: { columns: { lm: 'Mo', la: 'Mo', mm: 'Tu', ma: 'Tu', jm: 'Th', vm: 'Fr', sm: 'Sa' } } }, ['ID', 'lm', 'la', 'mm', 'ma', 'jm', 'vm', 'sm'], 1);
    const issues: ValidationIssue[] = [];
    // Monday: morning by appointment, afternoon fixed; Tuesday: by appointment only (two spellings);
    // Thursday and Friday the same fixed mornings; Saturday « Uniquement sur rendez-vous ».
    const v = plan.convert(['x', 'Sur RDV', '14h-18h', 'sur rendez-vous', 'sur r.d.v.', '9h-12h', '9h-12h', 'Uniquement sur rendez-vous'], 2, issues);
    assert.equal(v.horaires, 'Mo 14:00-18:00 open "autres créneaux sur rendez-vous"; Tu "sur rendez-vous"; Th,Fr 09:00-12:00; Sa "sur rendez-vous"');
    assert.deepEqual(issues.map((i) => i.code), ['hours_by_appointment', 'hours_by_appointment', 'hours_by_appointment', 'hours_by_appointment']);
    const r = validateRow({ line: 2, values: { id: 'x', pivot: '21690123400019', nom: 'Lieu', commune: 'Lyon', code_postal: '69001', adresse: '1 rue', date_maj: '2024-01-01', horaires: v.horaires! } });
    assert.equal(r.record?.horaires, v.horaires, 'a valid OSM value, kept as is');
    // Monday 14:00–18:00, Thursday and Friday mornings are open; the appointment days are not.
    assert.deepEqual(weeklyMinutes(v.horaires!)?.ranges, [[840, 1080], [3 * 1440 + 540, 3 * 1440 + 720], [4 * 1440 + 540, 4 * 1440 + 720]]);
    const tuesday = new Date(2026, 11, 8, 10, 0);
    assert.equal(isOpenAt(v.horaires!, tuesday), false);
    assert.equal(openingStatus(v.horaires!, tuesday)?.label, 'Horaires à confirmer : sur rendez-vous');
    assert.equal(buildOsmHours({}, new Set(['PH'])), 'PH "sur rendez-vous"');
  });

  test('the mapping file is checked (zod), errors name the faulty path', () => {
    const bad = parseMappingFile(JSON.stringify({ columns: { A: 'nom_inexistant' } }));
    assert.equal(bad.ok, false);
    assert.match((bad as { message: string }).message, /« columns\.A »/);
    assert.equal(parseMappingFile('{').ok, false);
  });

  test('half-day cells and OSM grouping', () => {
    assert.deepEqual(parseHalfDayCell('9h-12h30'), ['09:00-12:30']);
    assert.deepEqual(parseHalfDayCell('14 h à 17 h / 18h-19h'), ['14:00-17:00', '18:00-19:00']);
    assert.deepEqual(parseHalfDayCell('Fermé'), []);
    assert.equal(parseHalfDayCell('12h-9h'), null);
    assert.equal(buildOsmHours({ Mo: ['09:00-12:00'], Tu: ['09:00-12:00'], We: ['09:00-12:00'], Sa: ['10:00-12:00'] }), 'Mo-We 09:00-12:00; Sa 10:00-12:00');
    assert.equal(buildOsmHours({}), null);
  });

  test('a mapping also applies to JSON keys', async () => {
    const m: MappingFile = { columns: { ref: 'id', siret: 'pivot', nom: 'nom', ville: 'commune', cp: 'code_postal', rue: 'adresse', maj: 'date_maj' }, dateFormat: 'MM/DD/YYYY' };
    const { results } = await readAll(Buffer.from(JSON.stringify([{ ref: 'x', siret: '43493312300029', nom: 'N', ville: 'V', cp: '51100', rue: 'R', maj: '04/02/2024' }])), { mapping: m });
    assert.equal(results[0].record?.date_maj, '2024-04-02');
  });
});

describe('readPlaces: malformed input never throws and never hides good rows', () => {
  test('empty file', async () => {
    for (const buf of [Buffer.alloc(0), Buffer.from('\n\n  \n'), Buffer.from([0xef, 0xbb, 0xbf])]) {
      const { rows, fileIssues } = await readAll(buf);
      assert.equal(rows.length, 0);
      assert.deepEqual(fileIssues.map((i) => i.code), ['empty_file']);
    }
  });

  test('header only', async () => {
    const { rows, fileIssues } = await readAll(csv([HEADER]));
    assert.equal(rows.length, 0);
    assert.deepEqual(fileIssues.map((i) => [i.code, i.severity]), [['no_rows', 'error']]);
  });

  test('ragged rows: reported with the column counts, reading continues', async () => {
    const short = line('short').split(',').slice(0, 30).join(',');
    const long = line('long') + ',x,y';
    const { results, fileIssues } = await readAll(csv([HEADER, line('a'), short, long, line('b')]));
    assert.deepEqual(results.map((r) => [r.line, r.record?.id]), [[2, 'a'], [5, 'b']]);
    assert.deepEqual(fileIssues.map((i) => [i.line, i.code]), [[3, 'column_count'], [4, 'column_count']]);
    assert.match(fileIssues[0].message, /^Ligne 3 : 30 colonnes au lieu de 32/);
    assert.match(fileIssues[1].message, /^Ligne 4 : 34 colonnes au lieu de 32/);
  });

  test('unclosed quote: that line reported, the following lines read', async () => {
    const broken = line('broken').replace('Médiathèque', '"Médiathèque');
    const { results, fileIssues } = await readAll(csv([HEADER, line('a'), broken, line('b'), line('c')]));
    assert.deepEqual(results.map((r) => r.record?.id), ['a', 'b', 'c']);
    assert.deepEqual(fileIssues.map((i) => [i.line, i.code]), [[3, 'unclosed_quote']]);
  });

  test('unclosed quote in a fully quoted file (the next quote is misplaced)', async () => {
    const q = (id: string) => line(id).split(',').map((c) => `"${c}"`).join(',');
    const broken = q('broken').replace('"lieu-1"', '"lieu-1');
    const { results, fileIssues } = await readAll(csv([HEADER, q('a'), q('x').replace('"x"', '"x'), q('b')]));
    assert.deepEqual(results.map((r) => r.record?.id), ['a', 'b']);
    assert.deepEqual(fileIssues.map((i) => i.line), [3]);
    assert.ok(broken);
  });

  test('a field over 100 KB: row refused, the rest read (quoted or not)', async () => {
    const huge = 'x'.repeat(150 * 1024);
    const plain = line('big').replace('Médiathèque François Mitterrand', huge);
    const quoted = line('big2').replace('Médiathèque François Mitterrand', `"${huge}"`);
    const { results, fileIssues } = await readAll(csv([HEADER, line('a'), plain, line('b'), quoted, line('c')]));
    assert.deepEqual(results.map((r) => r.record?.id), ['a', 'b', 'c']);
    assert.deepEqual(fileIssues.map((i) => [i.line, i.code]), [[3, 'field_too_large'], [5, 'field_too_large']]);
  });

  test('binary garbage, Excel and UTF-16 files: a clear file-level error', async () => {
    const garbage = Buffer.alloc(4096);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919) % 256;
    const cases: [Buffer, RegExp][] = [
      [garbage, /binaires/],
      [Buffer.from('PK\u0003\u0004xl/workbook.xml'), /Excel/],
      [Buffer.from([0xff, 0xfe, 0x69, 0x00, 0x64, 0x00]), /UTF-16/],
      [Buffer.from('%PDF-1.7\n'), /PDF/],
    ];
    for (const [buf, message] of cases) {
      const { rows, fileIssues } = await readAll(buf);
      assert.equal(rows.length, 0);
      assert.equal(fileIssues.length, 1);
      assert.match(fileIssues[0].message, message);
    }
  });

  test('a header nobody knows: one clear error, no rows', async () => {
    const { rows, fileIssues } = await readAll(csv(['a,b,c', '1,2,3']));
    assert.equal(rows.length, 0);
    assert.equal(fileIssues.find((i) => i.severity === 'error')?.code, 'header_unrecognised');
  });

  test('missing required columns: said once; every row still accounted for', async () => {
    const header = CSV_HEADER.filter((f) => f !== 'date_maj').join(',');
    const v = baseValues() as Record<string, string>;
    const rowText = CSV_HEADER.filter((f) => f !== 'date_maj').map((f) => v[f] ?? '').join(',');
    const { results, fileIssues } = await readAll(csv([header, rowText]));
    assert.equal(fileIssues[0].code, 'missing_columns');
    assert.equal(results[0].record, null);
    assert.equal(results[0].issues[0].field, 'date_maj');
  });

  test('an input stream that fails mid-way: reported, rows before it kept', async () => {
    async function* failing() {
      yield Buffer.from(csvHeaderLine() + toCsvLine(await first(exemple)));
      throw new Error('connexion perdue');
    }
    const r = await readPlaces(Readable.from(failing()) as never);
    const ids: string[] = [];
    for await (const row of r.rows) ids.push(row.values.id!);
    assert.deepEqual(ids, ['structure-1']);
    assert.ok(r.issues.some((i) => i.code === 'read_error' && /connexion perdue/.test(i.message)));
  });
});

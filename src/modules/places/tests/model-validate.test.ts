/** validateRow: every normalisation (with its warning) and every refusal (with the field named). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normalisePhone, parseDate, validateRow } from '../model/index.ts';
import type { FieldName, RowResult } from '../model/types.ts';
import { baseValues, row } from './fixtures/model-helpers.ts';

function check(changes: Partial<Record<FieldName, string>>): RowResult {
  return validateRow(row({ ...baseValues(), ...changes }, 7));
}
function only(r: RowResult, code: string) {
  const found = r.issues.filter((i) => i.code === code);
  assert.equal(found.length, 1, `one ${code} in ${JSON.stringify(r.issues)}`);
  return found[0];
}

describe('validateRow: normalisations, each with a warning', () => {
  test('a clean row passes untouched', () => {
    const r = check({});
    assert.deepEqual(r.issues, []);
    assert.ok(r.record);
    assert.equal(r.record.latitude, 49.2583);
  });

  test('trims every value, silently', () => {
    const r = check({ nom: '  Espace numérique  ', services: ' Aide aux démarches administratives | Loisirs et créations numériques ' });
    assert.deepEqual(r.issues, []);
    assert.equal(r.record!.nom, 'Espace numérique');
    assert.deepEqual(r.record!.services, ['Aide aux démarches administratives', 'Loisirs et créations numériques']);
  });

  test('French phone numbers become +33…', () => {
    const cases: [string, string, string?][] = [
      ['03 26 77 77 77', '+33326777777'],
      ['03.26.77.77.77', '+33326777777'],
      ['0326777777', '+33326777777'],
      ['0033 3 26 77 77 77', '+33326777777'],
      ['+33 (0)3 26 77 77 77', '+33326777777'],
      ['+33 3 26 77 77 77', '+33326777777'],
      ['06-12-34-56-78', '+33612345678'],
      ['0590 99 12 34', '+590590991234'],
      ['0690 12 34 56', '+590690123456'],
      ['0590 12 34', ''], // too short
      ['01 23 45 67 89 10', ''], // too long
      ['0262123456', '+262262123456'],
      ['0692123456', '+262692123456'],
      ['0596123456', '+596596123456'],
      ['0594123456', '+594594123456'],
      ['0508 41 23 45', '+508412345'],
      ['27 12 34', '+687271234', '98800'],
      ['40 12 34 56', '+68940123456', '98714'],
      ['72 12 34', '+681721234', '98600'],
    ];
    for (const [input, expected, cp] of cases) {
      const r = check({ telephone: input, ...(cp ? { code_postal: cp } : {}) });
      if (expected === '') {
        assert.equal(r.record!.telephone, null, input);
        assert.equal(only(r, 'phone_invalid').value, input);
      } else {
        assert.equal(r.record!.telephone, expected, input);
        const w = only(r, 'phone_normalised');
        assert.equal(w.severity, 'warning');
        assert.match(w.message, new RegExp(`Ligne 7, champ « telephone » .*${expected.replace('+', '\\+')}`));
      }
    }
    assert.equal(normalisePhone('326777777', '51100'), '+33326777777', 'leading zero eaten by a spreadsheet');
  });

  test('postal code: 4 digits get their leading zero back', () => {
    const r = check({ code_postal: '1000' });
    assert.equal(r.record!.code_postal, '01000');
    assert.match(only(r, 'postal_code_padded').message, /« 1000 » devient « 01000 »/);
    assert.equal(check({ code_postal: '75 001' }).record!.code_postal, '75001');
  });

  test('INSEE code: 4 digits padded, lower-case Corsica upper-cased', () => {
    assert.equal(check({ code_insee: '1001' }).record!.code_insee, '01001');
    assert.equal(check({ code_insee: '2a004' }).record!.code_insee, '2A004');
  });

  test('decimal commas in coordinates', () => {
    const r = check({ latitude: '49,2583', longitude: '4,0317' });
    assert.equal(r.record!.latitude, 49.2583);
    assert.equal(r.record!.longitude, 4.0317);
    assert.equal(r.issues.filter((i) => i.code === 'decimal_comma').length, 2);
  });

  test('swapped latitude/longitude detected and swapped back (mainland and overseas)', () => {
    for (const [lat, lon] of [
      ['4.0317', '49.2583'], // Reims
      ['55.45', '-20.88'], // La Réunion
      ['-61.53', '16.24'], // Guadeloupe
      ['166.45', '-22.27'], // Nouméa
    ]) {
      const r = check({ latitude: lat, longitude: lon });
      assert.equal(r.record!.latitude, Number(lon), `${lat},${lon}`);
      assert.equal(r.record!.longitude, Number(lat));
      assert.equal(only(r, 'coordinates_swapped').severity, 'warning');
    }
    // Coordinates in France are never swapped.
    for (const [lat, lon] of [['-21.11', '55.53'], ['4.93', '-52.33'], ['41.92', '8.74']]) {
      const r = check({ latitude: lat, longitude: lon });
      assert.deepEqual([r.record!.latitude, r.record!.longitude], [Number(lat), Number(lon)]);
      assert.deepEqual(r.issues, []);
    }
  });

  test('coordinates outside France are kept with a warning; 0,0 and half coordinates dropped', () => {
    const far = check({ latitude: '40.71', longitude: '-74.0' });
    assert.equal(far.record!.latitude, 40.71);
    only(far, 'coordinates_outside_france');
    const zero = check({ latitude: '0', longitude: '0' });
    assert.equal(zero.record!.latitude, null);
    assert.equal(zero.needs.coordinates, true);
    const half = check({ latitude: '49.25', longitude: '' });
    assert.equal(half.record!.longitude, null);
    assert.equal(half.needs.coordinates, true);
    only(half, 'coordinates_incomplete');
  });

  test('dates: DD/MM/YYYY and friends → ISO', () => {
    for (const [input, iso] of [
      ['02/04/2024', '2024-04-02'],
      ['2/4/2024', '2024-04-02'],
      ['02.04.2024', '2024-04-02'],
      ['02-04-2024', '2024-04-02'],
      ['2024/04/02', '2024-04-02'],
      ['2024-04-02T10:30:00Z', '2024-04-02'],
      ['45384', '2024-04-02'],
    ]) {
      const r = check({ date_maj: input });
      assert.equal(r.record!.date_maj, iso, input);
      assert.match(only(r, 'date_normalised').message, /format ISO/);
    }
    assert.equal(parseDate('29/02/2023'), null);
    assert.deepEqual(parseDate('29/02/2024'), { iso: '2024-02-29', changed: true });
  });

  test('enum values matched without regard to case, accents and stray spaces, written exactly', () => {
    const r = check({
      services: 'aide aux demarches administratives|MAITRISE DES OUTILS NUMERIQUES DU QUOTIDIEN|Comprehension du monde numérique',
      frais_a_charge: 'gratuit  sous condition',
      modalites_acces: "ce lieu n’accueille pas de public",
      prise_en_charge_specifique: 'Langues étrangères(anglais)',
      modalites_accompagnement: "Dans un atelier collectif : j'apprends collectivement à utiliser le numérique",
    });
    assert.ok(r.record, JSON.stringify(r.issues));
    assert.deepEqual(r.record.services, ['Aide aux démarches administratives', 'Maîtrise des outils numériques du quotidien', 'Compréhension du monde numérique']);
    assert.deepEqual(r.record.frais_a_charge, ['Gratuit sous condition']);
    assert.deepEqual(r.record.modalites_acces, ["Ce lieu n'accueille pas de public"]);
    assert.deepEqual(r.record.prise_en_charge_specifique, ['Langues étrangères (anglais)']);
    assert.deepEqual(r.record.modalites_accompagnement, ['Dans un atelier collectif']);
    assert.equal(r.issues.filter((i) => i.code === 'enum_normalised').length, 7);
    assert.ok(r.issues.every((i) => i.severity === 'warning'));
  });

  test('"Étapes numériques (La Poste)": both spellings accepted, the correct one written, quirk reported', () => {
    const schemaSpelling = check({ formations_labels: 'Étapes numériques(La Poste)' });
    assert.deepEqual(schemaSpelling.record!.formations_labels, ['Étapes numériques (La Poste)']);
    assert.match(only(schemaSpelling, 'label_spelling').message, /omet l'espace/);
    const correct = check({ formations_labels: 'Étapes numériques (La Poste)' });
    assert.deepEqual(correct.issues, []);
    assert.deepEqual(correct.record!.formations_labels, ['Étapes numériques (La Poste)']);
  });

  test('duplicates and empty items in multi-valued fields', () => {
    const r = check({ frais_a_charge: 'Gratuit||Gratuit|' });
    assert.deepEqual(r.record!.frais_a_charge, ['Gratuit']);
    only(r, 'duplicate_value');
    only(r, 'empty_value');
  });

  test('typologie: codes kept, labels turned into codes, unknown codes kept with a warning', () => {
    const r = check({ typologie: 'BIB|Tiers lieu & coworking|mairie-annexe' });
    assert.deepEqual(r.record!.typologie, ['BIB', 'TIERS_LIEUX', 'mairie-annexe']);
    only(r, 'enum_normalised');
    only(r, 'typologie_unknown');
    assert.deepEqual(check({ typologie: 'rfs' }).record!.typologie, ['RFS']);
  });

  test('opening hours: invalid → warning and null, value kept in the report; sloppy → canonical', () => {
    const bad = check({ horaires: 'du lundi au vendredi de 9h à 12h' });
    assert.ok(bad.record);
    assert.equal(bad.record.horaires, null);
    const w = only(bad, 'hours_invalid');
    assert.equal(w.value, 'du lundi au vendredi de 9h à 12h');
    assert.equal(check({ horaires: 'Mo-Fr 09:00-12:00,14:00-17:30; Sa 09:00-12:00; PH off' }).issues.length, 0);
    const sloppy = check({ horaires: 'Mo-Fr 9:00-12:00' });
    assert.equal(sloppy.record!.horaires, 'Mo-Fr 09:00-12:00');
    only(sloppy, 'hours_normalised');
  });

  test('URLs without scheme get https://; invalid URLs dropped with a warning', () => {
    const r = check({ site_web: 'www.exemple.fr|https://facebook.com/lieu|pas une url', prise_rdv: 'rdv.exemple.fr/agenda', fiche_acces_libre: 'javascript:alert(1)' });
    assert.deepEqual(r.record!.site_web, ['https://www.exemple.fr', 'https://facebook.com/lieu']);
    assert.equal(r.record!.prise_rdv, 'https://rdv.exemple.fr/agenda');
    assert.equal(r.record!.fiche_acces_libre, null);
    assert.equal(r.issues.filter((i) => i.code === 'url_scheme_added').length, 2);
    assert.equal(r.issues.filter((i) => i.code === 'url_invalid').length, 2);
  });

  test('e-mails checked, split and cleaned', () => {
    const r = check({ courriels: 'contact@lieu.fr; accueil@lieu.fr|mailto:direction@lieu.fr|pas-un-courriel' });
    assert.deepEqual(r.record!.courriels, ['contact@lieu.fr', 'accueil@lieu.fr', 'direction@lieu.fr']);
    only(r, 'email_split');
    only(r, 'email_normalised');
    assert.equal(only(r, 'email_invalid').value, 'pas-un-courriel');
  });

  test('pivot with spaces compacted', () => {
    const r = check({ pivot: '434 933 123 00029' });
    assert.equal(r.record!.pivot, '43493312300029');
    only(r, 'pivot_normalised');
    assert.equal(check({ pivot: 'W751234567' }).record!.pivot, 'W751234567');
    assert.equal(check({ pivot: '434.933.123' }).record!.pivot, '434933123');
  });

  test('control characters removed (PostgreSQL refuses NUL)', () => {
    const r = check({ nom: 'Espace\u0000 numérique\u0007' });
    assert.equal(r.record!.nom, 'Espace numérique');
    only(r, 'control_characters');
  });

  test('HTML and scripts in text fields are stored as text, unchanged', () => {
    const evil = '<script>alert("x")</script><b>Lieu</b> & co';
    const r = check({ nom: evil, presentation_detail: '<img src=x onerror=alert(1)>' });
    assert.deepEqual(r.issues, []);
    assert.equal(r.record!.nom, evil);
    assert.equal(r.record!.presentation_detail, '<img src=x onerror=alert(1)>');
  });

  test('needs: code_insee and coordinates missing are flagged for the service', () => {
    const r = check({ code_insee: '', latitude: '', longitude: '' });
    assert.ok(r.record);
    assert.deepEqual(r.needs, { codeInsee: true, coordinates: true });
    assert.deepEqual(r.issues, []);
  });
});

describe('validateRow: presentation_resume over 280 characters', () => {
  const long = 'Un lieu chaleureux où apprendre. '.repeat(12).trim(); // 395 characters

  test('moved whole into an empty presentation_detail, summary cut at a word, warning', () => {
    const r = check({ presentation_resume: long });
    assert.ok(r.record);
    assert.equal(r.record.presentation_detail, long);
    assert.ok([...r.record.presentation_resume!].length <= 280);
    assert.ok(r.record.presentation_resume!.endsWith('…'));
    assert.ok(long.startsWith(r.record.presentation_resume!.slice(0, -1)));
    assert.match(only(r, 'max_length_moved').message, /395 caractères/);
  });

  test('detail already holding it: summary cut', () => {
    const r = check({ presentation_resume: long, presentation_detail: `${long} Et plus encore.` });
    assert.ok(r.record);
    only(r, 'max_length_cut');
  });

  test('detail holding something else: refused as the schema says', () => {
    const r = check({ presentation_resume: long, presentation_detail: 'Autre texte.' });
    assert.equal(r.record, null);
    const e = only(r, 'max_length');
    assert.equal(e.field, 'presentation_resume');
    assert.equal(e.severity, 'error');
  });

  test('280 characters with accents and emoji is fine (code points, not UTF-16 units)', () => {
    const exact = 'é'.repeat(270) + '😀'.repeat(10);
    const r = check({ presentation_resume: exact });
    assert.deepEqual(r.issues, []);
  });
});

describe('validateRow: refusals name the field', () => {
  const cases: [Partial<Record<FieldName, string>>, FieldName, string][] = [
    [{ nom: '' }, 'nom', 'required'],
    [{ nom: '   ' }, 'nom', 'required'],
    [{ pivot: 'pas-un-siret' }, 'pivot', 'pattern'],
    [{ date_maj: 'hier' }, 'date_maj', 'date'],
    [{ date_maj: '2024-02-30' }, 'date_maj', 'date'],
    [{ date_maj: '31/13/2024' }, 'date_maj', 'date'],
    [{ code_insee: '2C004' }, 'code_insee', 'pattern'],
    [{ code_insee: '20000' }, 'code_insee', 'pattern'],
    [{ code_postal: '7500A' }, 'code_postal', 'pattern'],
    [{ latitude: '91.5', longitude: '2.3' }, 'latitude', 'coordinates_range'],
    [{ latitude: '48.8', longitude: '200' }, 'longitude', 'coordinates_range'],
    [{ latitude: 'nord', longitude: '2.3' }, 'latitude', 'number'],
    [{ latitude: '48°51′', longitude: '2.3' }, 'latitude', 'number'],
    [{ services: 'Cours de cuisine' }, 'services', 'enum'],
    [{ itinerance: 'Mobile' }, 'itinerance', 'enum'],
  ];
  for (const [change, field, code] of cases) {
    test(`${field} = ${JSON.stringify(Object.values(change)[0])} → ${code}`, () => {
      const r = check(change);
      assert.equal(r.record, null);
      const e = r.issues.find((i) => i.severity === 'error');
      assert.ok(e);
      assert.equal(e.field, field);
      assert.equal(e.code, code);
      assert.equal(e.line, 7);
      assert.match(e.message, new RegExp(`^Ligne 7, champ « ${field} » : `));
    });
  }

  test('all problems of a row are reported at once', () => {
    const r = check({ nom: '', pivot: 'x', services: 'Truc', telephone: 'abc' });
    assert.deepEqual(
      r.issues.map((i) => [i.field, i.severity]).sort(),
      [['nom', 'error'], ['pivot', 'error'], ['services', 'error'], ['telephone', 'warning']].sort(),
    );
  });

  test('never throws on odd input', () => {
    const odd = [{}, { id: undefined }, { nom: 42 as unknown as string }, { latitude: 'NaN', longitude: 'Infinity' }, { date_maj: '0000-00-00' }];
    for (const values of odd) assert.doesNotThrow(() => validateRow(row(values as never)));
    assert.doesNotThrow(() => validateRow({ line: 3, values: undefined as never }));
  });
});

/** The pure rules of an activity record: validation (each error names its field) and counters. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ADMIN_PROCEDURES, CRCN_COMPETENCES, CRCN_DOMAINS, CRCN_TO_DIGCOMP, DIGCOMP_AREAS, DIGCOMP_COMPETENCES, DIGITAL_THEMES, digcompOf, ValidationFailed, aliasKey, counterDeltas, parseActivity, personRows, publicCount } from '../model.ts';

const today = '2025-06-15';
const base = { kind: 'individual', date: '2025-06-10', duration: '30', placeKind: 'place', placeUid: 'P1', themes: 'e-mail' };
const parse = (over: Record<string, unknown>) => parseActivity({ ...base, ...over }, { myPlaces: ['P1'], today });
function fields(over: Record<string, unknown>): string[] {
  try {
    parse(over);
  } catch (e) {
    if (e instanceof ValidationFailed) return e.errors.map((x) => x.field);
    throw e;
  }
  return [];
}

describe('vocabularies', () => {
  test('19 digital themes, 11 administrative démarches, CRCN: 16 competences in 5 domains', () => {
    assert.equal(Object.keys(DIGITAL_THEMES).length, 19);
    assert.equal(Object.keys(ADMIN_PROCEDURES).length, 11);
    assert.equal(Object.keys(CRCN_COMPETENCES).length, 16);
    assert.equal(Object.keys(CRCN_DOMAINS).length, 5);
    for (const c of Object.keys(CRCN_COMPETENCES)) assert.ok(c[0]! in CRCN_DOMAINS, c);
  });

  test('DigComp 2.2: 21 competences numbered 1.1–5.4 in 5 areas, English and French titles; the CRCN → DigComp correspondence covers both sides', () => {
    const codes = Object.keys(DIGCOMP_COMPETENCES);
    assert.equal(codes.length, 21);
    assert.equal(Object.keys(DIGCOMP_AREAS).length, 5);
    // Official numbering: 3, 6, 4, 4, 4 competences per area.
    assert.deepEqual(['1', '2', '3', '4', '5'].map((a) => codes.filter((c) => c.startsWith(`${a}.`)).length), [3, 6, 4, 4, 4]);
    assert.equal(DIGCOMP_COMPETENCES['2.5'].en, 'Netiquette');
    assert.equal(DIGCOMP_COMPETENCES['5.4'].en, 'Identifying digital competence gaps');
    for (const c of codes) assert.ok(DIGCOMP_COMPETENCES[c as keyof typeof DIGCOMP_COMPETENCES].fr.length > 3, c);
    // Every CRCN competence maps to DigComp ones of the same area; every DigComp competence is reached.
    assert.deepEqual(Object.keys(CRCN_TO_DIGCOMP).sort(), Object.keys(CRCN_COMPETENCES).sort());
    for (const [crcn, ds] of Object.entries(CRCN_TO_DIGCOMP)) for (const d of ds) assert.equal(d[0], crcn[0], `${crcn} → ${d}`);
    assert.deepEqual(digcompOf(Object.keys(CRCN_COMPETENCES)), codes.sort());
    assert.deepEqual(digcompOf(['2.4', '2.1', 'constructor', '__proto__']), ['2.1', '2.3', '2.5', '2.6']);
  });
});

describe('parseActivity', () => {
  test('a valid individual record', () => {
    const a = parse({});
    assert.equal(a.kind, 'individual');
    assert.equal(a.participants, 1);
    assert.deepEqual(a.themes, ['e-mail']);
  });
  test('impossible records name their field', () => {
    assert.deepEqual(fields({ duration: '0' }), ['duration']);
    assert.deepEqual(fields({ duration: '-5' }), ['duration']);
    assert.deepEqual(fields({ date: '2025-06-16' }), ['date']);
    assert.deepEqual(fields({ date: '2025-02-30' }), ['date']);
    assert.deepEqual(fields({ adminThemes: 'logement' }), ['adminThemes']);
    assert.deepEqual(fields({ themes: ['aide-aux-demarches-administratives'], adminThemes: 'logement' }), []);
    assert.deepEqual(fields({ themes: [] }), ['themes']);
    assert.deepEqual(fields({ themes: 'constructor' }), ['themes']);
    assert.deepEqual(fields({ placeUid: 'P2' }), ['placeUid']);
    assert.deepEqual(fields({ placeKind: '__proto__' }), ['placeKind']);
    assert.deepEqual(fields({ placeKind: 'other_commune' }), ['communeCode']);
    assert.deepEqual(fields({ notes: 'a\u0000b' }), ['notes']);
  });
  test('more anonymous counts than participants is refused, per dimension', () => {
    const group = { kind: 'collective', workshopTitle: 'Atelier e-mail', participants: '5' };
    assert.deepEqual(fields({ ...group, anon_gender_f: '3', anon_gender_m: '2' }), []);
    assert.deepEqual(fields({ ...group, anon_gender_f: '4', anon_gender_m: '2' }), ['anon_gender_f']);
    assert.deepEqual(fields({ ...group, 'anon_age_70-plus': '6' }), ['anon_age_under-12']);
    assert.deepEqual(fields({ ...group, beneficiaries: ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002'], anon_status_retired: '4' }), ['anon_status_student']);
    assert.deepEqual(fields({ kind: 'individual', anon_gender_f: '2' }), ['anon_gender_f']);
    assert.deepEqual(fields({ ...group, participants: '0' }), ['participants']);
    assert.deepEqual(fields({ ...group, workshopTitle: '' }), ['workshopTitle']);
  });
});

describe('weighted counts', () => {
  test('one row per person, anonymous included, spread over the given counts', () => {
    const rows = personRows({ beneficiaryIds: ['b1'], participants: 4, anonymous: { gender: { f: 2 }, age: {}, status: { retired: 1 } } });
    assert.equal(rows.length, 4);
    assert.equal(rows[0]!.beneficiaryId, 'b1');
    assert.deepEqual(rows.slice(1).map((r) => r.gender), ['f', 'f', null]);
  });
  test('counters: activity counts once, accompaniments and themes per person, in every scope', () => {
    const people = personRows({ beneficiaryIds: [], participants: 3, anonymous: { gender: {}, age: {}, status: {} } });
    const d = counterDeltas(
      { kind: 'collective', durationMin: 60, placeKind: 'place', themes: ['e-mail', 'bureautique'], adminThemes: [], autonomy: null, orientation: null, equipment: null, people },
      { month: '2025-06-01', mediatorId: 'm', teamId: null, placeUid: 'P1', communeCode: '76540', departement: '76', region: '28' },
    );
    const get = (scope: string, metric: string, key: string) => d.find((c) => c.scope === scope && c.metric === metric && c.key === key)?.value;
    assert.equal(get('region', 'activities', 'collective'), 1);
    assert.equal(get('region', 'accompaniments', 'collective'), 3);
    assert.equal(get('commune', 'theme', 'bureautique'), 3);
    assert.equal(get('mediator', 'minutes', 'collective'), 60);
    assert.equal(d.filter((c) => c.scope === 'team').length, 0);
    const minus = counterDeltas({ kind: 'collective', durationMin: 60, placeKind: 'place', themes: ['e-mail'], adminThemes: [], autonomy: null, orientation: null, equipment: null, people }, { month: '2025-06-01', mediatorId: 'm', teamId: null, placeUid: null, communeCode: null, departement: null, region: null }, -1);
    assert.ok(minus.every((c) => c.value < 0));
  });
  test('small counts are hidden from the public; aliases fold for duplicates', () => {
    assert.equal(publicCount(4), null);
    assert.equal(publicCount(5), 5);
    assert.equal(aliasKey('Éloïse  MARTIN'), aliasKey('martin eloise'));
  });
});

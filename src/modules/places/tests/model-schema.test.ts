/**
 * Our constants and validator against the published schema files, read at run time: the two
 * cannot drift apart without this test failing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  DATE_FIELDS,
  ENUMS,
  ENUM_FIELDS,
  ETAPES_NUMERIQUES,
  ETAPES_NUMERIQUES_SCHEMA_SPELLING,
  FIELDS,
  FIELD_LABELS,
  LABELS,
  LEGACY_FIELDS,
  LEGACY_VALUES,
  MAX_LENGTH,
  MULTI_VALUED,
  NUMBER_FIELDS,
  PATTERNS,
  REQUIRED,
  TYPOLOGIES,
  validateRow,
} from '../model/index.ts';
import type { FieldName } from '../model/types.ts';
import { STANDARD_DIR, TYPOLOGIES_CSV, baseValues, loadSchema, patternAlternatives, readAll, row } from './fixtures/model-helpers.ts';

const schema = loadSchema('1.0.2');
const byName = new Map(schema.fields.map((f) => [f.name, f]));

describe('standard constants match schema-v1.0.2.json', () => {
  test('the 32 fields, in the published order', () => {
    assert.deepEqual([...FIELDS], schema.fields.map((f) => f.name));
    assert.equal(FIELDS.length, 32);
  });

  test('required fields', () => {
    const required = schema.fields.filter((f) => f.constraints?.required === true).map((f) => f.name);
    assert.deepEqual([...REQUIRED].sort(), required.sort());
    assert.ok(!(REQUIRED as readonly string[]).includes('services'), 'services is optional since v1.0.2');
  });

  test('number and date fields', () => {
    assert.deepEqual([...NUMBER_FIELDS].sort(), schema.fields.filter((f) => f.type === 'number').map((f) => f.name).sort());
    assert.deepEqual([...DATE_FIELDS].sort(), schema.fields.filter((f) => f.type === 'date').map((f) => f.name).sort());
  });

  test('maxLength constraints', () => {
    const schemaMax = Object.fromEntries(schema.fields.filter((f) => f.constraints?.maxLength !== undefined).map((f) => [f.name, f.constraints!.maxLength]));
    assert.deepEqual({ ...MAX_LENGTH }, schemaMax);
  });

  test('single-valued patterns are the schema regexes', () => {
    for (const f of schema.fields) {
      const p = f.constraints?.pattern;
      if (!p || patternAlternatives(p)) continue;
      const ours = (PATTERNS as Record<string, RegExp>)[f.name];
      assert.ok(ours, `a pattern for ${f.name}`);
      assert.equal(ours.source, p, f.name);
    }
    for (const name of Object.keys(PATTERNS)) assert.ok(byName.get(name)?.constraints?.pattern, `${name} has a schema pattern`);
  });

  test('every enum pattern lists exactly our ENUMS values (with the known "Étapes numériques" quirk)', () => {
    const enumFields = schema.fields.filter((f) => f.constraints?.pattern && patternAlternatives(f.constraints.pattern));
    assert.deepEqual(enumFields.map((f) => f.name).sort(), [...ENUM_FIELDS].sort());
    for (const f of enumFields) {
      const alternatives = patternAlternatives(f.constraints!.pattern!)!;
      const expected = alternatives.map((a) => (a === ETAPES_NUMERIQUES_SCHEMA_SPELLING ? ETAPES_NUMERIQUES : a));
      assert.deepEqual([...(ENUMS as Record<string, readonly string[]>)[f.name]], expected, f.name);
    }
    // The quirk is still in the schema (if the maintainers fix it, this test says so).
    assert.ok(byName.get('formations_labels')!.constraints!.pattern!.includes('Étapes numériques\\(La Poste\\)'));
  });

  test('multi-valued fields: every enum field, and every field documented with `|`', () => {
    for (const f of ENUM_FIELDS) assert.ok((MULTI_VALUED as readonly string[]).includes(f), f);
    for (const f of schema.fields) {
      const documented = /par un `\|`/.test(f.description ?? '') || (f.example ?? '').includes('|');
      if (documented) assert.ok((MULTI_VALUED as readonly string[]).includes(f.name), `${f.name} is multi-valued`);
    }
    // And nothing else.
    const single = FIELDS.filter((f) => !(MULTI_VALUED as readonly string[]).includes(f));
    for (const f of single) assert.ok(!ENUM_FIELDS.includes(f as never), f);
  });

  test('typologies copied from typologies-structures.csv', () => {
    const lines = fs.readFileSync(TYPOLOGIES_CSV, 'utf8').trim().split(/\r?\n/).slice(1);
    const fromCsv: Record<string, string> = {};
    for (const line of lines) {
      const m = /^([^,]+),(?:"((?:[^"]|"")*)"|(.*))$/.exec(line)!;
      fromCsv[m[1]] = (m[2] ?? m[3]).replace(/""/g, '"');
    }
    assert.deepEqual({ ...TYPOLOGIES }, fromCsv);
  });

  test('labels exist for every field and every enum value', () => {
    for (const f of FIELDS) assert.ok(FIELD_LABELS[f]?.label, f);
    for (const f of ENUM_FIELDS) for (const v of ENUMS[f]) assert.ok((LABELS[f] as Record<string, string>)[v], `${f}: ${v}`);
  });

  test('v0.1.0 constants match schema-v0.1.0.json', () => {
    const old = loadSchema('0.1.0');
    assert.deepEqual([...LEGACY_FIELDS], old.fields.map((f) => f.name));
    for (const [field, table] of Object.entries(LEGACY_VALUES)) {
      const alternatives = patternAlternatives(old.fields.find((f) => f.name === field)!.constraints!.pattern!.replace('(?:^|;)', '(?:^|\\|)'))!;
      assert.deepEqual(Object.keys(table).sort(), [...alternatives].sort(), field);
    }
  });
});

describe('validateRow against the schema itself', () => {
  test("accepts the schema's own example values, without a single warning", () => {
    const values: Partial<Record<FieldName, string>> = {};
    for (const f of schema.fields) if (f.example !== undefined) values[f.name as FieldName] = f.example;
    const r = validateRow(row(values));
    assert.deepEqual(r.issues, []);
    assert.ok(r.record);
    assert.equal(r.record.formations_labels.length, 2);
    assert.deepEqual(r.record.modalites_accompagnement, ['Dans un atelier collectif', 'À distance', 'En autonomie', 'Accompagnement individuel']);
  });

  test('refuses values violating each pattern, naming the field (telephone: dropped with a warning)', () => {
    const violations: Record<string, string[]> = {
      pivot: ['12345678', '123456789012345', 'SIRET:12345678'],
      code_postal: ['ABCDE', '123456', '7500'.slice(0, 3)],
      code_insee: ['20000', '2C004', '123', '1234567'],
    };
    for (const f of ENUM_FIELDS) violations[f] = ['Valeur inventée', `${ENUMS[f][0]}|Valeur inventée`];
    for (const [field, values] of Object.entries(violations)) {
      const schemaRe = new RegExp(`^(?:${byName.get(field)!.constraints!.pattern!})$`, 'u');
      for (const value of values) {
        assert.ok(!schemaRe.test(value), `the schema refuses ${field}=${value}`);
        const r = validateRow(row({ ...baseValues(), [field]: value }));
        assert.equal(r.record, null, `${field}=${value} refused`);
        const errors = r.issues.filter((i) => i.severity === 'error');
        assert.ok(errors.length > 0 && errors.every((i) => i.field === field), `${field}=${value}: ${JSON.stringify(r.issues)}`);
        assert.match(errors[0].message, new RegExp(`Ligne 2, champ « ${field} »`));
      }
    }
    const phoneRe = new RegExp(`^(?:${byName.get('telephone')!.constraints!.pattern!})$`);
    for (const bad of ['12', 'appelez-nous', '+44 20 7946 0958', '+3312345']) {
      assert.ok(!phoneRe.test(bad));
      const r = validateRow(row({ ...baseValues(), telephone: bad }));
      assert.ok(r.record, bad);
      assert.equal(r.record.telephone, null);
      assert.equal(r.issues.find((i) => i.field === 'telephone')?.code, 'phone_invalid');
    }
  });

  test('missing required fields are refused one by one', () => {
    for (const f of REQUIRED) {
      const values = { ...baseValues() };
      delete values[f];
      const r = validateRow(row(values));
      assert.equal(r.record, null);
      assert.deepEqual(r.issues.map((i) => [i.field, i.code, i.severity]), [[f, 'required', 'error']]);
    }
  });
});

describe("the maintainers' example file", () => {
  test('exemple-valide.csv reads and validates with zero errors and zero warnings', async () => {
    // Its header quotes most names but not formations_labels…modalites_accompagnement; every cell is quoted.
    const { meta, results, fileIssues } = await readAll(path.join(STANDARD_DIR, 'exemple-valide.csv'));
    assert.deepEqual(meta, { format: 'csv', version: '1.0.2', delimiter: ',', encoding: 'utf-8', bom: false });
    assert.deepEqual(fileIssues, []);
    assert.equal(results.length, 1);
    assert.deepEqual(results[0].issues, []);
    const r = results[0].record!;
    assert.equal(r.id, 'structure-1');
    assert.deepEqual(r.typologie, ['TIERS_LIEUX', 'ASSO']);
    assert.equal(r.latitude, 43.52609);
    assert.equal(r.presentation_resume, 'Notre association propose des formations aux outils numériques à destination des personnes âgées.');
    assert.deepEqual(results[0].needs, { codeInsee: false, coordinates: false });
  });
});

/**
 * Helping a data officer write a mapping file: `initMapping` guesses a starting mapping from a
 * CSV's header and a sample of its values (targets, date format, separators, value lists to
 * complete); `previewMapping` shows, per mapped column, a few source values beside what they
 * became. Both read only the start of the file (`sampleCsv`).
 */
import iconv from 'iconv-lite';
import { foldHeader } from './convert.ts';
import { CsvTokenizer, detectDelimiter, MAX_FIELD_BYTES } from './csv.ts';
import { type ColumnSpec, type MappingFile, mappingPlan } from './mapping.ts';
import { ENUMS, FIELDS, isMultiValued } from './standard.ts';
import type { FieldName, ValidationIssue } from './types.ts';

export interface CsvSample {
  encoding: 'utf-8' | 'windows-1252';
  delimiter: string;
  columns: string[];
  rows: string[][];
}

/** The header and up to `max` records of a CSV file's first megabyte. */
export function sampleCsv(data: Buffer, max = 200): CsvSample {
  const head = data.subarray(0, 1024 * 1024);
  let encoding: CsvSample['encoding'] = 'utf-8';
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: head.length < data.length });
  } catch {
    encoding = 'windows-1252';
  }
  const text = (encoding === 'utf-8' ? head.toString('utf8') : iconv.decode(head, 'windows-1252')).replace(/^\uFEFF/, '');
  const delimiter = detectDelimiter(text);
  const tok = new CsvTokenizer(delimiter, MAX_FIELD_BYTES);
  tok.push(text);
  if (head.length === data.length) tok.end();
  const records: string[][] = [];
  for (const ev of tok.drain()) {
    if (ev.kind === 'record') records.push(ev.fields);
    if (records.length > max) break;
  }
  if (records.length === 0) throw new Error('The file has no readable header line.');
  return { encoding, delimiter, columns: records[0]!.map((c) => c.trim()), rows: records.slice(1) };
}

/** Usual producer names of the standard's fields (folded as `foldHeader` does). */
const SYNONYMS: [RegExp, FieldName][] = [
  [/^(identifiant|ident|idlieu|code|reference|ref)$/, 'id'],
  [/^(siret|siren|rna|pivot)$/, 'pivot'],
  [/^(nom|nomlieu|libelle|nomstructure|structure|name|raisonsociale)$/, 'nom'],
  [/^(ville|commune|localite|city)$/, 'commune'],
  [/^(cp|codepostal|postal|zipcode|zip)$/, 'code_postal'],
  [/^(insee|codeinsee|codecommune|cog)$/, 'code_insee'],
  [/^(adresse|voie|rue|address|adressepostale|numvoie|numero|libellevoie)$/, 'adresse'],
  [/^(complement|complementadresse)$/, 'complement_adresse'],
  [/^(lat|latitude|y)$/, 'latitude'],
  [/^(lon|lng|long|longitude|x)$/, 'longitude'],
  [/^(tel|telephone|phone|numerotelephone)$/, 'telephone'],
  [/^(mail|email|courriel|courriels|adressemail)$/, 'courriels'],
  [/^(site|siteweb|siteinternet|web|url)$/, 'site_web'],
  [/^(horaires|horaire|openinghours)$/, 'horaires'],
  [/^(description|presentation|resume)$/, 'presentation_resume'],
  [/^(datemaj|datemiseajour|maj|miseajour|dateupdate|date)$/, 'date_maj'],
  [/^(services|service|codesservices)$/, 'services'],
  [/^(typologie|type|typestructure)$/, 'typologie'],
  [/^(tarif|tarifs|frais|cout)$/, 'frais_a_charge'],
  [/^(labels?|dispositifs?)$/, 'dispositif_programmes_nationaux'],
];

const DAYS: [RegExp, 'Mo' | 'Tu' | 'We' | 'Th' | 'Fr' | 'Sa' | 'Su'][] = [
  [/^lun/, 'Mo'], [/^mar/, 'Tu'], [/^mer/, 'We'], [/^jeu/, 'Th'], [/^ven/, 'Fr'], [/^sam/, 'Sa'], [/^dim/, 'Su'],
];

function guessField(column: string): FieldName | null {
  const f = foldHeader(column).replace(/\s+/g, '');
  const exact = FIELDS.find((x) => foldHeader(x).replace(/\s+/g, '') === f);
  if (exact) return exact;
  for (const [re, field] of SYNONYMS) if (re.test(f)) return field;
  return null;
}

function guessDateFormat(values: string[]): MappingFile['dateFormat'] | undefined {
  const dated = values.map((v) => /^(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})$/.exec(v.trim())).filter((m) => m !== null);
  if (dated.length === 0) return undefined;
  const m = dated[0]!;
  if (m[1]!.length === 4) return m[2] === '/' ? 'YYYY/MM/DD' : 'YYYY-MM-DD';
  // Day first unless a second part above 12 says otherwise.
  const monthFirst = dated.some((d) => Number(d[3]) > 12) && !dated.some((d) => Number(d[1]) > 12);
  if (monthFirst) return 'MM/DD/YYYY';
  return m[2] === '/' ? 'DD/MM/YYYY' : m[2] === '.' ? 'DD.MM.YYYY' : 'DD-MM-YYYY';
}

/** The separator that splits a multi-valued column's cells (none seen: undefined). */
function guessSeparator(values: string[]): string | undefined {
  let best: string | undefined;
  let bestCount = 0;
  for (const sep of ['|', ';', ',', '/', ' - ']) {
    const n = values.filter((v) => v.includes(sep)).length;
    if (n > bestCount) [best, bestCount] = [sep, n];
  }
  return best;
}

/** A starting mapping: every column mapped (guessed) or ignored, value lists to complete. */
export function initMapping(sample: CsvSample, name?: string): MappingFile {
  const columns: MappingFile['columns'] = {};
  const hours: Record<string, 'Mo' | 'Tu' | 'We' | 'Th' | 'Fr' | 'Sa' | 'Su'> = {};
  const ignore: string[] = [];
  let dateFormat: MappingFile['dateFormat'];
  const valuesOf = (i: number) => sample.rows.map((r) => (r[i] ?? '').trim()).filter((v) => v !== '');
  sample.columns.forEach((column, i) => {
    if (column === '') return;
    const folded = foldHeader(column).replace(/\s+/g, '');
    const day = DAYS.find(([re]) => re.test(folded));
    if (day && /(matin|apresmidi|am|pm|midi|soir|journee|horaires?)/.test(folded)) {
      hours[column] = day[1];
      return;
    }
    const field = guessField(column);
    if (!field) {
      ignore.push(column);
      return;
    }
    const values = valuesOf(i);
    if (field === 'date_maj') dateFormat = guessDateFormat(values);
    const spec: ColumnSpec = { field };
    if (isMultiValued(field)) {
      const sep = guessSeparator(values);
      if (sep) spec.separator = sep;
    }
    const allowed = (ENUMS as Partial<Record<FieldName, readonly string[]>>)[field];
    if (allowed) {
      // Values to complete: each distinct sample value mapped to itself when it is a standard
      // value, to "" otherwise (an empty target is refused when the mapping is loaded: fill it in
      // or map it to null to skip it).
      const distinct = new Set(values.flatMap((v) => (spec.separator ? v.split(spec.separator) : [v]).map((x) => x.trim()).filter(Boolean)));
      spec.values = Object.fromEntries([...distinct].slice(0, 100).map((v) => [v, allowed.includes(v) ? v : '']));
    }
    columns[column] = Object.keys(spec).length === 1 ? field : spec;
  });
  return {
    ...(name ? { name } : {}),
    description: 'Starting mapping written by « maillage mapping init »: check each guess, fill in the empty values of the value lists (or map a value to null to skip it), then run « maillage validate FILE --mapping THIS.json ».',
    encoding: sample.encoding,
    delimiter: sample.delimiter as MappingFile['delimiter'],
    ...(dateFormat ? { dateFormat } : {}),
    unmapped: 'drop',
    columns,
    ...(Object.keys(hours).length ? { hours: { columns: hours } } : {}),
    ...(ignore.length ? { ignore } : {}),
  };
}

export interface ColumnPreview {
  column: string;
  fields: string[];
  /** A few distinct non-empty source values and what the row's fields became. */
  examples: { source: string; result: Partial<Record<FieldName, string>> }[];
}

/** Per mapped column, up to `per` source values beside the values they became. */
export function previewMapping(sample: CsvSample, mapping: MappingFile, per = 3): ColumnPreview[] {
  const plan = mappingPlan(mapping, sample.columns, 1);
  const index = new Map(sample.columns.map((c, i) => [c, i]));
  const specs = Object.entries(mapping.columns).map(([column, spec]) => ({
    column,
    fields: (typeof spec === 'string' ? [spec] : Array.isArray(spec) ? spec.map((s) => s.field) : [spec.field]) as FieldName[],
  }));
  const hourCols = Object.keys(mapping.hours?.columns ?? {}).map((column) => ({ column, fields: ['horaires'] as FieldName[] }));
  const out: ColumnPreview[] = [];
  const converted = sample.rows.map((r) => {
    const issues: ValidationIssue[] = [];
    return plan.convert(r, 0, issues);
  });
  for (const { column, fields } of [...specs, ...hourCols]) {
    const i = index.get(column);
    const seen = new Set<string>();
    const examples: ColumnPreview['examples'] = [];
    if (i !== undefined) {
      sample.rows.forEach((r, k) => {
        const v = (r[i] ?? '').trim();
        if (v === '' || seen.has(v) || examples.length >= per) return;
        seen.add(v);
        examples.push({ source: v, result: Object.fromEntries(fields.map((f) => [f, converted[k]![f] ?? ''])) });
      });
    }
    out.push({ column, fields, examples });
  }
  return out;
}

/**
 * The back office's column-mapping form, without HTTP: a producer file's sample (header and first
 * rows) and a mapping file ↔ the form's state (one choice per column, value lists for coded
 * columns), and the preview of converted rows. The form builds the same mapping file a data
 * officer could write by hand (`model/mapping.ts`), checked by the same zod schema.
 */
import { foldHeader } from '../model/convert.ts';
import { type ColumnSpec, type MappingFile, DATE_FORMATS, mappingFileSchema, mappingPlan } from '../model/mapping.ts';
import { initMapping, previewMapping, type ColumnPreview, type CsvSample } from '../model/mapping-init.ts';
import { ENUMS, FIELDS, isMultiValued, MULTI_SEPARATOR } from '../model/standard.ts';
import { TYPOLOGIES } from '../model/typologies.ts';
import { FIELD_LABELS, LABELS } from '../model/labels.ts';
import { validateRow } from '../model/validate.ts';
import type { FieldName, PlaceRecord, ValidationIssue } from '../model/types.ts';

export const DAYS = ['Mo', 'Tu', 'We', 'Th', 'Fr', 'Sa', 'Su', 'PH'] as const;
export type Day = (typeof DAYS)[number];
export const DAY_LABELS: Record<Day, string> = { Mo: 'lundi', Tu: 'mardi', We: 'mercredi', Th: 'jeudi', Fr: 'vendredi', Sa: 'samedi', Su: 'dimanche', PH: 'jours fériés' };

/** Bounds of what the form handles (a producer's header is a few dozen columns). */
export const MAX_COLUMNS = 150;
export const MAX_VALUES = 120;
const MAX_VALUE_CHARS = 200;

/** One label column often mixes national programmes, formation labels and other labels. */
const LABEL_FAMILY: FieldName[] = ['dispositif_programmes_nationaux', 'formations_labels', 'autres_formations_labels'];

/**
 * One producer column as the form shows it.
 * - `target`: '' (not imported), a standard field, or `h:Mo`… (opening hours of that day);
 * - `values`: for coded columns, each producer value and its standard value: '' = not chosen (the
 *   value is then « unmapped »), '-' = skip it silently, `field:value` (`field:v1|v2` for several);
 * - `rest`: what happens to a value absent from the list: `drop` (warning), `refuse` (row refused),
 *   `keep:field` (kept as written, in that field).
 */
export interface ColumnChoice {
  target: string;
  separator: string;
  fallback: string;
  rest: string;
  values: { raw: string; to: string }[];
}

export interface FormState {
  columns: ColumnChoice[];
  dateFormat: string;
}

/** The standard values a column's value list may point to (by field). */
export function valueFields(target: string): FieldName[] {
  if (!isField(target)) return [];
  if (LABEL_FAMILY.includes(target)) return ['dispositif_programmes_nationaux', 'formations_labels'];
  return target in ENUMS || target === 'typologie' ? [target] : [];
}

export function allowedValues(field: FieldName): { value: string; label: string }[] {
  if (field === 'typologie') return Object.entries(TYPOLOGIES).map(([value, label]) => ({ value, label: `${value} — ${label}` }));
  const list = (ENUMS as Partial<Record<FieldName, readonly string[]>>)[field] ?? [];
  const labels = (LABELS as Partial<Record<FieldName, Record<string, string>>>)[field] ?? {};
  return list.map((value) => ({ value, label: labels[value] && labels[value] !== value ? `${value} (${labels[value]})` : value }));
}

/** Where values absent from the list may be kept as written. */
export function keepFields(target: string): FieldName[] {
  if (!isField(target)) return [];
  if (LABEL_FAMILY.includes(target)) return ['autres_formations_labels'];
  return valueFields(target).length ? [] : [target];
}

const isField = (s: string): s is FieldName => (FIELDS as readonly string[]).includes(s);
export const isTarget = (s: string) => s === '' || isField(s) || (s.startsWith('h:') && (DAYS as readonly string[]).includes(s.slice(2)));

/** The separator a column's cells are split with (multi-valued fields and label columns). */
export function splits(target: string): boolean {
  return isField(target) && (isMultiValued(target) || LABEL_FAMILY.includes(target));
}

/** Distinct non-empty values of column `i` in the sample (split when the target is multi-valued). */
export function distinctValues(sample: CsvSample, i: number, target: string, separator: string): string[] {
  const out = new Set<string>();
  for (const r of sample.rows) {
    const cell = (r[i] ?? '').trim();
    if (cell === '') continue;
    for (const v of splits(target) ? cell.split(separator || MULTI_SEPARATOR) : [cell]) {
      const x = v.trim();
      if (x !== '' && x.length <= MAX_VALUE_CHARS) out.add(x);
      if (out.size >= MAX_VALUES) return [...out];
    }
  }
  return [...out];
}

function findColumn(sample: CsvSample, name: string): number {
  const exact = sample.columns.indexOf(name);
  return exact >= 0 ? exact : sample.columns.findIndex((c) => foldHeader(c) === foldHeader(name));
}

/** The form's state for a mapping (a source's saved one, or a guess from the sample). */
export function stateFromMapping(sample: CsvSample, mapping: MappingFile): FormState {
  const columns: ColumnChoice[] = sample.columns.map(() => ({ target: '', separator: '', fallback: '', rest: 'drop', values: [] }));
  const fileSep = mapping.separator ?? MULTI_SEPARATOR;
  for (const [name, spec] of Object.entries(mapping.columns)) {
    const i = findColumn(sample, name);
    if (i < 0 || i >= columns.length) continue;
    const specs: ColumnSpec[] = typeof spec === 'string' ? [{ field: spec }] : Array.isArray(spec) ? spec : [spec];
    const main = specs.find((s) => s.values) ?? specs[0]!;
    const c = columns[i]!;
    c.target = main.field;
    c.separator = splits(main.field) ? (main.separator ?? fileSep) : '';
    const fb = specs.flatMap((s) => s.fallback ?? [])[0];
    if (fb !== undefined) {
      const j = findColumn(sample, fb);
      if (j >= 0) c.fallback = sample.columns[j]!;
    }
    const keep = specs.find((s) => !s.values && s !== main) ?? (specs.length > 1 && !main.values ? main : undefined);
    c.rest = keep ? `keep:${keep.field}` : (main.unmapped ?? mapping.unmapped ?? 'drop');
    if (!valueFields(main.field).length && !main.values) continue;
    const seen = new Map<string, string>();
    for (const s of specs) {
      const maps = [s.values, mapping.values?.[s.field]].filter((m) => m !== undefined);
      for (const m of maps) {
        for (const [raw, to] of Object.entries(m)) {
          if (seen.has(raw)) continue;
          seen.set(raw, to === null ? '-' : to === '' ? '' : `${s.field}:${Array.isArray(to) ? to.join('|') : to}`);
        }
      }
    }
    for (const raw of distinctValues(sample, i, c.target, c.separator)) if (!seen.has(raw)) seen.set(raw, '');
    c.values = [...seen].slice(0, MAX_VALUES).map(([raw, to]) => ({ raw, to }));
  }
  for (const [name, d] of Object.entries(mapping.hours?.columns ?? {})) {
    const i = findColumn(sample, name);
    if (i >= 0 && i < columns.length) columns[i]!.target = `h:${d}`;
  }
  return { columns, dateFormat: mapping.dateFormat ?? '' };
}

/** A first guess for a file without a mapping (`maillage mapping init`'s). */
export function guessState(sample: CsvSample): FormState {
  return stateFromMapping(sample, initMapping(sample));
}

/** The form as posted (field names `t0`, `s0`, `f0`, `r0`, `n0`, `k0_0`, `v0_0`…), checked. */
export function stateFromForm(sample: CsvSample, get: (name: string, max?: number) => string): { state: FormState; errors: { field: string; message: string }[] } {
  const errors: { field: string; message: string }[] = [];
  const columns = sample.columns.map((name, i): ColumnChoice => {
    const target = get(`t${i}`, 40);
    if (!isTarget(target)) errors.push({ field: `t${i}`, message: `Colonne « ${name} » : destination inconnue.` });
    const separator = get(`s${i}`, 10);
    const fallback = get(`f${i}`, 300);
    if (fallback !== '' && !sample.columns.includes(fallback)) errors.push({ field: `f${i}`, message: `Colonne « ${name} » : la colonne de repli « ${fallback.slice(0, 60)} » n’existe pas dans le fichier.` });
    const rest = get(`r${i}`, 60) || 'drop';
    if (!['drop', 'refuse'].includes(rest) && !(rest.startsWith('keep:') && keepFields(target).includes(rest.slice(5) as FieldName))) {
      errors.push({ field: `r${i}`, message: `Colonne « ${name} » : choix inconnu pour les valeurs absentes de la liste.` });
    }
    const fields = valueFields(target);
    const posted = new Map<string, string>();
    const n = Math.min(Number.parseInt(get(`n${i}`, 4), 10) || 0, MAX_VALUES);
    for (let j = 0; j < n; j++) {
      const raw = get(`k${i}_${j}`, MAX_VALUE_CHARS).trim();
      const to = get(`v${i}_${j}`, 400);
      if (raw === '' || posted.has(raw)) continue;
      if (to !== '' && to !== '-' && !validTo(fields, to)) {
        errors.push({ field: `v${i}_${j}`, message: `Colonne « ${name} », valeur « ${raw.slice(0, 60)} » : valeur standard inconnue.` });
        continue;
      }
      posted.set(raw, to);
    }
    const values: ColumnChoice['values'] = [];
    if (fields.length) {
      for (const [raw, to] of posted) if (to !== '') values.push({ raw, to });
      for (const raw of distinctValues(sample, i, target, separator)) if (!posted.has(raw) || posted.get(raw) === '') values.push({ raw, to: '' });
    }
    return { target, separator, fallback, rest, values: dedupe(values).slice(0, MAX_VALUES) };
  });
  const dateFormat = get('dateFormat', 20);
  if (dateFormat !== '' && !(DATE_FORMATS as readonly string[]).includes(dateFormat)) errors.push({ field: 'dateFormat', message: 'Format de date inconnu.' });
  return { state: { columns, dateFormat }, errors };
}

function dedupe(values: ColumnChoice['values']) {
  const seen = new Set<string>();
  return values.filter((v) => !seen.has(v.raw) && (seen.add(v.raw), true));
}

function validTo(fields: FieldName[], to: string): boolean {
  const k = to.indexOf(':');
  const field = to.slice(0, k) as FieldName;
  if (k < 0 || !fields.includes(field)) return false;
  const allowed = new Set(allowedValues(field).map((a) => a.value));
  return to.slice(k + 1).split('|').every((v) => allowed.has(v));
}

/**
 * The mapping file the form describes. `base` (the source's current mapping) lends what the form
 * does not show: name, description, defaults. Checked by the mapping schema.
 */
export function mappingFromState(sample: CsvSample, state: FormState, base?: MappingFile | null): MappingFile {
  const columns: MappingFile['columns'] = {};
  const hours: Record<string, Day> = {};
  const ignore: string[] = [];
  sample.columns.forEach((name, i) => {
    const c = state.columns[i];
    if (name === '' || !c) return;
    if (c.target === '') {
      ignore.push(name);
      return;
    }
    if (c.target.startsWith('h:')) {
      hours[name] = c.target.slice(2) as Day;
      return;
    }
    const field = c.target as FieldName;
    const specs = new Map<FieldName, ColumnSpec>([[field, { field }]]);
    const spec = (f: FieldName) => specs.get(f) ?? specs.set(f, { field: f }).get(f)!;
    for (const { raw, to } of c.values) {
      if (to === '') continue;
      if (to === '-') {
        (spec(field).values ??= {})[raw] = null;
        continue;
      }
      const k = to.indexOf(':');
      const f = to.slice(0, k) as FieldName;
      const vals = to.slice(k + 1).split('|');
      (spec(f).values ??= {})[raw] = vals.length > 1 ? vals : vals[0]!;
    }
    const list = [...specs.values()];
    const sep = splits(field) && c.separator !== '' ? c.separator : undefined;
    for (const s of list) {
      if (sep && sep !== MULTI_SEPARATOR) s.separator = sep;
      if (s.values && c.rest === 'refuse') s.unmapped = 'refuse';
    }
    if (c.rest.startsWith('keep:')) {
      const keepField = c.rest.slice(5) as FieldName;
      const keep: ColumnSpec = { field: keepField, ...(sep && sep !== MULTI_SEPARATOR ? { separator: sep } : {}) };
      if (list.length === 1 && !list[0]!.values && keepField === field) {
        // Already a plain column.
      } else list.push(keep);
    }
    if (c.fallback !== '' && c.fallback !== name) list[0]!.fallback = [c.fallback];
    columns[name] = list.length === 1 ? (Object.keys(list[0]!).length === 1 ? field : list[0]!) : list;
  });
  const draft: MappingFile = {
    ...(base?.name ? { name: base.name } : {}),
    ...(base?.description ? { description: base.description } : {}),
    encoding: sample.encoding,
    delimiter: sample.delimiter as MappingFile['delimiter'],
    ...(state.dateFormat ? { dateFormat: state.dateFormat as MappingFile['dateFormat'] } : {}),
    unmapped: 'drop',
    columns,
    ...(Object.keys(hours).length ? { hours: { columns: hours } } : {}),
    ...(base?.defaults ? { defaults: base.defaults } : {}),
    ...(ignore.length ? { ignore } : {}),
  };
  return mappingFileSchema.parse(draft);
}

/** What the sample's first rows become with a mapping: converted, validated. */
export interface MappingPreview {
  headerIssues: ValidationIssue[];
  /** Rows of the sample: valid (kept) or refused. */
  sampled: number;
  kept: number;
  rows: { line: number; record: PlaceRecord | null; values: Partial<Record<FieldName, string>>; issues: ValidationIssue[] }[];
  columns: ColumnPreview[];
}

export function previewRows(sample: CsvSample, mapping: MappingFile, show = 8): MappingPreview {
  const plan = mappingPlan(mapping, sample.columns, 1);
  let kept = 0;
  const rows: MappingPreview['rows'] = [];
  sample.rows.forEach((cells, k) => {
    const line = k + 2;
    const issues: ValidationIssue[] = [];
    const values = plan.convert(cells, line, issues);
    const errors = issues.filter((x) => x.severity === 'error');
    const r = validateRow({ line, values, ...(errors.length ? { errors } : {}) });
    if (r.record) kept++;
    if (rows.length < show) rows.push({ line, record: r.record, values, issues: [...issues.filter((x) => x.severity === 'warning'), ...r.issues] });
  });
  return { headerIssues: plan.headerIssues, sampled: sample.rows.length, kept, rows, columns: previewMapping(sample, mapping, 3) };
}

/** A field's label for the form (« Nom (nom) »). */
export function fieldLabel(f: FieldName): string {
  return `${FIELD_LABELS[f]?.label ?? f} (${f})`;
}

/**
 * Producers' own formats, read through a declared mapping file (JSON). The format is documented
 * in README.md; `tests/fixtures/mapping-*.json` is a worked example.
 *
 * Nothing is dropped silently: producer columns that are neither mapped nor listed in `ignore` are
 * reported once; coded values absent from a value map are reported on their line and passed on
 * unchanged (validateRow then accepts them if they are standard values, or refuses them).
 */
import { z } from 'zod';
import { type Cells, type ColumnPlan, type Values, fileIssue, foldHeader } from './convert.ts';
import { FIELDS, isMultiValued } from './standard.ts';
import { fold, shorten } from './text.ts';
import type { FieldName, ValidationIssue } from './types.ts';

const fieldName = z.enum(FIELDS);
/** A coded value's standard value(s); null = "means nothing, skip it" (declared, so not reported). */
const valueTarget = z.union([z.string().min(1, 'valeur standard à compléter (ou null pour ignorer cette valeur)'), z.array(z.string().min(1)), z.null()]);
const valueMap = z.record(z.string(), valueTarget);
const day = z.enum(['Mo', 'Tu', 'We', 'Th', 'Fr', 'Sa', 'Su', 'PH']);

export const DATE_FORMATS = ['YYYY-MM-DD', 'DD/MM/YYYY', 'DD-MM-YYYY', 'DD.MM.YYYY', 'MM/DD/YYYY', 'YYYY/MM/DD'] as const;

/** What happens to a coded value absent from the value maps: dropped with a warning (the
 *  standard's guidance: report what could not be mapped), or the row refused. */
const unmappedPolicy = z.enum(['drop', 'refuse']);

export const columnSpecSchema = z
  .object({
    field: fieldName,
    /** Coded values of this column → standard values (checked before the field-level map). */
    values: valueMap.optional(),
    /** Multi-value separator inside this column (default: the file's `separator`). */
    separator: z.string().min(1).optional(),
    /** When this column's cell is empty, the first non-empty cell of these columns is taken. */
    fallback: z.array(z.string()).optional(),
    /** A coded value absent from the value maps (default: the file's `unmapped`, `drop`). */
    unmapped: unmappedPolicy.optional(),
  })
  .strict();

export const mappingFileSchema = z
  .object({
    name: z.string().optional(),
    description: z.string().optional(),
    /** Force the encoding instead of detecting it. */
    encoding: z.enum(['utf-8', 'windows-1252']).optional(),
    /** Force the CSV delimiter instead of detecting it. */
    delimiter: z.enum([',', ';', '\t', '|']).optional(),
    /** Separator of multi-valued cells in the producer's file (default `|`). */
    separator: z.string().min(1).optional(),
    /** Format of date cells (default: ISO, with the validator's tolerance for DD/MM/YYYY). */
    dateFormat: z.enum(DATE_FORMATS).optional(),
    /** Producer column → standard field (or a spec with its own value map). Several columns may
     *  feed one field: multi-valued fields collect all values, text fields are joined with a space. */
    columns: z.record(z.string(), z.union([fieldName, columnSpecSchema, z.array(columnSpecSchema).min(1)])),
    /** A coded value absent from the value maps: `drop` (default; a warning on its line) or
     *  `refuse` (an error: the row is refused). */
    unmapped: unmappedPolicy.optional(),
    /** Field-level value maps: coded label → standard value(s). */
    values: z.partialRecord(fieldName, valueMap).optional(),
    /** Constant values used when a row has none for the field (e.g. `source`). */
    defaults: z.partialRecord(fieldName, z.string()).optional(),
    /** Opening hours from half-day (or whole-day) columns: column → day. Cells hold time ranges
     *  ("09:00-12:00", "9h-12h30", "14h à 17h", several separated by "," or "/"); empty, "fermé",
     *  "-" mean closed. Rebuilt as an OSM value, e.g. "Mo-Fr 09:00-12:00,14:00-17:00". */
    hours: z.object({ columns: z.record(z.string(), day) }).strict().optional(),
    // (Cells also read: "9h12h", "14h18h", "9h-12h30", "fermé"; "sur rdv" = that day is « sur
    // rendez-vous », an OSM comment, not counted as open; an unreadable cell drops that half-day
    // only; adjacent ranges merge.)
    /** Producer columns deliberately not imported (not reported). */
    ignore: z.array(z.string()).optional(),
  })
  .strict();

export type MappingFile = z.infer<typeof mappingFileSchema>;
export type ColumnSpec = z.infer<typeof columnSpecSchema>;

/** Parses and checks a mapping file's JSON text; errors name the faulty path (in French). */
export function parseMappingFile(json: string): { ok: true; mapping: MappingFile } | { ok: false; message: string } {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (e) {
    return { ok: false, message: `Fichier de correspondance : JSON invalide (${(e as Error).message}).` };
  }
  const r = mappingFileSchema.safeParse(data);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `« ${i.path.join('.') || '(racine)'} » : ${i.message}`).join(' ; ');
    return { ok: false, message: `Fichier de correspondance invalide : ${msg}.` };
  }
  return { ok: true, mapping: r.data };
}

// --- opening hours from day columns --------------------------------------------------------------

const CLOSED = new Set(['', '-', '–', 'ferme', 'fermee', 'closed', 'off', 'non', 'x', '/', 'fermeture']);
/** "Sur rendez-vous": no fixed hours that half-day. */
const APPOINTMENT = /^(?:(?:uniquement|seulement)?sur)?(?:rdv|rendez-?vous|rdvuniquement)$/;
// "9h-12h", "9:00 - 12:30", "14 h à 17 h", and the common typos "9h12h", "14h18h" (no dash
// between the two times: only after an "h").
const SPAN = /^(\d{1,2})\s*(h|:)?\s*(\d{2})?\s*(-|–|—|à|a|>|au)?\s*(\d{1,2})\s*(?:[h:]\s*(\d{2})?)?$/i;
const DAY_ORDER = ['Mo', 'Tu', 'We', 'Th', 'Fr', 'Sa', 'Su', 'PH'] as const;
const pad = (n: number) => String(n).padStart(2, '0');

/** Whether a cell says "by appointment" (no fixed hours). */
export function isAppointmentCell(cell: string): boolean {
  return APPOINTMENT.test(fold(cell).replace(/[.']/g, ''));
}

/** Time ranges of one cell ("9h-12h / 14h-17h30") as "HH:MM-HH:MM" strings; null when unreadable. */
export function parseHalfDayCell(cell: string): string[] | null {
  const v = cell.trim();
  if (CLOSED.has(fold(v))) return [];
  const out: string[] = [];
  for (const part of v.split(/\s*(?:[,;/+&]|\bet\b)\s*/i)) {
    if (part === '') continue;
    const m = SPAN.exec(part);
    if (!m) return null;
    // Without a dash, the first time must end with "h" ("9h12h"), else "912" would read as 9-12.
    if (!m[4] && m[2]?.toLowerCase() !== 'h') return null;
    const [h1, m1, h2, m2] = [+m[1]!, m[3] ? +m[3] : 0, +m[5]!, m[6] ? +m[6] : 0];
    if (h1 > 24 || h2 > 24 || m1 > 59 || m2 > 59 || (h2 === 24 && m2 > 0) || h1 === 24) return null;
    if (h1 * 60 + m1 >= h2 * 60 + m2) return null;
    out.push(`${pad(h1)}:${pad(m1)}-${pad(h2)}:${pad(m2)}`);
  }
  return out;
}

/** Sorts "HH:MM-HH:MM" ranges and merges those that touch or overlap ("10:00-12:00,12:00-18:00" → "10:00-18:00"). */
export function mergeRanges(ranges: string[]): string[] {
  const spans = [...new Set(ranges)].map((r) => r.split('-') as [string, string]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: [string, string][] = [];
  for (const [a, b] of spans) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) {
      if (b > last[1]) last[1] = b;
    } else out.push([a, b]);
  }
  return out.map(([a, b]) => `${a}-${b}`);
}

/** OSM comments of the days (or half-days) a producer marks « sur rendez-vous »: a day with fixed
 *  hours keeps them and says the rest is by appointment; a day without is « unknown » with the
 *  comment (not open, shown as « Horaires à confirmer : sur rendez-vous »). */
export const APPOINTMENT_ONLY = '"sur rendez-vous"';
export const APPOINTMENT_ALSO = 'open "autres créneaux sur rendez-vous"';

/** Builds an OSM opening_hours value from per-day ranges, grouping consecutive identical days.
 *  `appointment` lists the days with a « sur rendez-vous » cell. */
export function buildOsmHours(days: Partial<Record<(typeof DAY_ORDER)[number], string[]>>, appointment: ReadonlySet<string> = new Set()): string | null {
  const rules: string[] = [];
  const week = DAY_ORDER.slice(0, 7);
  const keyOf = (d: string) => {
    const spans = days[d as (typeof DAY_ORDER)[number]] ?? [];
    const rdv = appointment.has(d);
    return spans.length === 0 ? (rdv ? APPOINTMENT_ONLY : '') : `${spans.join(',')}${rdv ? ` ${APPOINTMENT_ALSO}` : ''}`;
  };
  let i = 0;
  while (i < week.length) {
    const key = keyOf(week[i]);
    if (key === '') {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < week.length && keyOf(week[j + 1]) === key) j++;
    const sel = j === i ? week[i] : j === i + 1 ? `${week[i]},${week[j]}` : `${week[i]}-${week[j]}`;
    rules.push(`${sel} ${key}`);
    i = j + 1;
  }
  const ph = days.PH;
  const phKey = keyOf('PH');
  if (rules.length === 0 && (ph === undefined || ph.length === 0) && phKey === '') return null;
  if (phKey !== '') rules.push(`PH ${phKey}`);
  else if (ph !== undefined) rules.push('PH off');
  return rules.join('; ');
}

// --- the plan -------------------------------------------------------------------------------------

function toIso(value: string, format: (typeof DATE_FORMATS)[number]): string | null {
  const m = /^(\d{1,4})[/.-](\d{1,2})[/.-](\d{1,4})$/.exec(value.trim());
  if (!m) return null;
  let y: string, mo: string, d: string;
  switch (format) {
    case 'YYYY-MM-DD':
    case 'YYYY/MM/DD':
      [y, mo, d] = [m[1], m[2], m[3]];
      break;
    case 'MM/DD/YYYY':
      [mo, d, y] = [m[1], m[2], m[3]];
      break;
    default:
      [d, mo, y] = [m[1], m[2], m[3]];
  }
  if (y.length !== 4) return null;
  return `${y}-${mo.padStart(2, '0')}-${d.padStart(2, '0')}`;
}

interface Target {
  field: FieldName;
  values?: Record<string, string | string[] | null>;
  separator: string;
  unmapped: 'drop' | 'refuse';
}

/** One producer column and what it feeds (one or more standard fields). */
interface Source {
  column: string;
  index: number;
  fallback: number[];
  targets: Target[];
}

function lookup(map: Record<string, string | string[] | null>, folded: Map<string, string | string[] | null>, raw: string): { hit: boolean; value: string | string[] | null } {
  if (Object.prototype.hasOwnProperty.call(map, raw)) return { hit: true, value: map[raw] };
  const f = fold(raw);
  if (folded.has(f)) return { hit: true, value: folded.get(f)! };
  return { hit: false, value: null };
}

function foldMap(map: Record<string, string | string[] | null> | undefined): Map<string, string | string[] | null> {
  const m = new Map<string, string | string[] | null>();
  if (map) for (const [k, v] of Object.entries(map)) m.set(fold(k), v);
  return m;
}

export function mappingPlan(mapping: MappingFile, columns: readonly string[], headerLine: number | null): ColumnPlan {
  const at = headerLine === null ? '' : `Ligne ${headerLine} (en-tête) : `;
  const issues: ValidationIssue[] = [];
  const byName = new Map<string, number>();
  const byFold = new Map<string, number>();
  columns.forEach((c, i) => {
    const name = c.replace(/^\uFEFF/, '').trim();
    if (!byName.has(name)) byName.set(name, i);
    if (!byFold.has(foldHeader(name))) byFold.set(foldHeader(name), i);
  });
  const find = (col: string) => byName.get(col) ?? byFold.get(foldHeader(col));
  const used = new Set<number>();
  const sources: Source[] = [];
  const sep = mapping.separator ?? '|';
  for (const [column, spec] of Object.entries(mapping.columns)) {
    const index = find(column);
    const specs: ColumnSpec[] = typeof spec === 'string' ? [{ field: spec }] : Array.isArray(spec) ? spec : [spec];
    if (index === undefined) {
      issues.push(fileIssue(headerLine, specs[0]!.field, column, 'warning', 'mapping_column_missing', `${at}la colonne « ${column} » déclarée dans la correspondance est absente du fichier.`));
      continue;
    }
    used.add(index);
    const fallback: number[] = [];
    for (const f of specs.flatMap((x) => x.fallback ?? [])) {
      const i = find(f);
      if (i === undefined) issues.push(fileIssue(headerLine, specs[0]!.field, f, 'warning', 'mapping_column_missing', `${at}la colonne de repli « ${f} » déclarée dans la correspondance est absente du fichier.`));
      else if (!fallback.includes(i)) fallback.push(i);
    }
    const targets = specs.map((x) => ({ field: x.field, values: x.values, separator: x.separator ?? sep, unmapped: x.unmapped ?? mapping.unmapped ?? 'drop' }));
    sources.push({ column, index, fallback, targets });
  }
  const hourCols: { column: string; index: number; day: (typeof DAY_ORDER)[number] }[] = [];
  for (const [column, d] of Object.entries(mapping.hours?.columns ?? {})) {
    const index = find(column);
    if (index === undefined) {
      issues.push(fileIssue(headerLine, 'horaires', column, 'warning', 'mapping_column_missing', `${at}la colonne d'horaires « ${column} » déclarée dans la correspondance est absente du fichier.`));
      continue;
    }
    used.add(index);
    hourCols.push({ column, index, day: d });
  }
  for (const col of mapping.ignore ?? []) {
    const i = find(col);
    if (i !== undefined) used.add(i);
  }
  const unmapped = columns.filter((c, i) => !used.has(i) && c.trim() !== '');
  if (unmapped.length > 0) {
    issues.push(
      fileIssue(headerLine, null, unmapped.join(', '), 'warning', 'unmapped_columns', `${at}colonnes non déclarées dans la correspondance, non importées : ${unmapped.map((u) => `« ${u} »`).join(', ')} (ajoutez-les à « columns » ou à « ignore »).`),
    );
  }
  const mappedFields = new Set(sources.flatMap((s) => s.targets.map((t) => t.field)));
  if (hourCols.length > 0) mappedFields.add('horaires');
  for (const f of Object.keys(mapping.defaults ?? {})) mappedFields.add(f as FieldName);
  const missingRequired = ['id', 'pivot', 'nom', 'commune', 'code_postal', 'adresse', 'date_maj'].filter((f) => !mappedFields.has(f as FieldName));
  if (missingRequired.length > 0) {
    issues.push(fileIssue(headerLine, null, missingRequired.join(', '), 'error', 'missing_columns', `${at}la correspondance ne fournit pas les champs obligatoires ${missingRequired.join(', ')} ; chaque ligne sera refusée.`));
  }

  const fieldMaps = new Map<FieldName, { map: Record<string, string | string[] | null>; folded: Map<string, string | string[] | null> }>();
  for (const [f, m] of Object.entries(mapping.values ?? {}) as [FieldName, Record<string, string | string[] | null>][]) fieldMaps.set(f, { map: m, folded: foldMap(m) });
  const mapsOf = (t: Target) => [t.values ? { map: t.values, folded: foldMap(t.values) } : undefined, fieldMaps.get(t.field)].filter((m) => m !== undefined);
  const targetMaps = sources.map((src) => src.targets.map(mapsOf));
  const defaults = Object.entries(mapping.defaults ?? {}) as [FieldName, string][];

  return {
    version: 'mapping',
    headerIssues: issues,
    fatal: sources.length === 0 && hourCols.length === 0,
    convert(cells: Cells, line: number, rowIssues: ValidationIssue[]): Values {
      const multi = new Map<FieldName, string[]>();
      const single = new Map<FieldName, string[]>();
      const add = (field: FieldName, out: string[]) => {
        const isMulti = isMultiValued(field);
        const target = isMulti ? multi : single;
        const l = target.get(field) ?? [];
        for (const o of out) if (!isMulti || !l.includes(o)) l.push(o);
        target.set(field, l);
      };
      sources.forEach((s, k) => {
        let raw = (cells[s.index] ?? '').trim();
        for (let f = 0; raw === '' && f < s.fallback.length; f++) raw = (cells[s.fallback[f]!] ?? '').trim();
        if (raw === '') return;
        const maps = targetMaps[k]!;
        // One target without a value map takes the cell as it is (split when multi-valued).
        if (s.targets.length === 1 && maps[0]!.length === 0) {
          const t = s.targets[0]!;
          add(t.field, isMultiValued(t.field) ? raw.split(t.separator).map((x) => x.trim()).filter((x) => x !== '') : [raw]);
          return;
        }
        const first = s.targets[0]!;
        const split = s.targets.some((t) => isMultiValued(t.field));
        const items = split ? raw.split(first.separator).map((x) => x.trim()).filter((x) => x !== '') : [raw];
        // A target without a value map, beside others, takes the items no map knows (e.g. a free
        // text « autres_formations_labels » beside the coded labels).
        const catchAll = s.targets.findIndex((_, i) => maps[i]!.length === 0);
        const outs = s.targets.map(() => [] as string[]);
        for (const item of items) {
          let found = false;
          s.targets.forEach((_, i) => {
            for (const m of maps[i]!) {
              const r = lookup(m.map, m.folded, item);
              if (!r.hit) continue;
              found = true;
              if (r.value !== null) outs[i]!.push(...(Array.isArray(r.value) ? r.value : [r.value]));
              return;
            }
          });
          if (found) continue;
          if (catchAll >= 0) {
            outs[catchAll]!.push(item);
            continue;
          }
          const fields = s.targets.map((t) => `« ${t.field} »`).join(', ');
          const refuse = s.targets.some((t) => t.unmapped === 'refuse');
          rowIssues.push(
            fileIssue(line, first.field, item, refuse ? 'error' : 'warning', 'unmapped_value', `Ligne ${line}, colonne « ${s.column} » (${s.targets.length > 1 ? 'champs' : 'champ'} ${fields}) : valeur « ${shorten(item)} » absente de la table de correspondance ; ${refuse ? 'ligne refusée' : 'valeur non reprise'}.`),
          );
        }
        s.targets.forEach((t, i) => {
          if (outs[i]!.length) add(t.field, outs[i]!);
        });
      });
      const values: Values = {};
      for (const [f, l] of multi) if (l.length > 0) values[f] = l.join('|');
      for (const [f, l] of single) if (l.length > 0) values[f] = l.join(' ');
      if (mapping.dateFormat && values.date_maj !== undefined) {
        const iso = toIso(values.date_maj, mapping.dateFormat);
        if (iso !== null) values.date_maj = iso;
      }
      if (hourCols.length > 0 && (values.horaires === undefined || values.horaires === '')) {
        const days: Partial<Record<(typeof DAY_ORDER)[number], string[]>> = {};
        const appointment = new Set<string>();
        let any = false;
        for (const h of hourCols) {
          const cell = cells[h.index] ?? '';
          if (cell.trim() === '') continue;
          if (isAppointmentCell(cell)) {
            // Read, not refused: the day says « sur rendez-vous » in the OSM value (a comment).
            appointment.add(h.day);
            any = true;
            rowIssues.push(
              fileIssue(line, 'horaires', cell, 'warning', 'hours_by_appointment', `Ligne ${line}, colonne « ${h.column} » : « ${shorten(cell)} » lu comme « sur rendez-vous » (sans horaire fixe : ce créneau n’est pas compté comme ouvert ; les horaires le disent en commentaire).`),
            );
            continue;
          }
          const spans = parseHalfDayCell(cell);
          if (spans === null) {
            rowIssues.push(
              fileIssue(line, 'horaires', cell, 'warning', 'hours_cell_invalid', `Ligne ${line}, colonne « ${h.column} » : horaire « ${shorten(cell)} » illisible (attendu par exemple « 09:00-12:00 » ou « 9h-12h ») ; cette demi-journée n’est pas reprise, le reste de la semaine l’est.`),
            );
            continue;
          }
          any = true;
          const list = days[h.day] ?? [];
          list.push(...spans);
          days[h.day] = list;
        }
        if (any) {
          for (const d of Object.keys(days) as (typeof DAY_ORDER)[number][]) days[d] = mergeRanges(days[d]!);
          const osm = buildOsmHours(days, appointment);
          if (osm !== null) values.horaires = osm;
        }
      }
      for (const [f, v] of defaults) if (values[f] === undefined || values[f] === '') values[f] = v;
      return values;
    },
  };
}

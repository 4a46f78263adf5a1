/**
 * Pure rules of the places back office (no I/O): the listing form ↔ the standard record, the
 * opening-hours editor ↔ OSM `opening_hours`, version diffs. Validation itself is the standard's:
 * the form is turned into a raw row and checked by `validateRow`, exactly as an imported line.
 */
import { ENUMS, FIELDS, MULTI_VALUED, checkHours, isMultiValued, validateRow, weeklyMinutes, type EnumField } from '../model/index.ts';
import type { FieldName, PlaceRecord, RowResult, ValidationIssue } from '../model/types.ts';

/** Fields a manager edits, grouped as the form shows them. `id` (the producer's key), `date_maj`
 *  (set to the day of the change) and `horaires` (its own editor) are not in the main form. */
export const FORM_GROUPS: { legend: string; fields: FieldName[] }[] = [
  { legend: 'Identité', fields: ['nom', 'pivot', 'typologie', 'structure_parente', 'itinerance'] },
  { legend: 'Adresse', fields: ['adresse', 'complement_adresse', 'code_postal', 'commune', 'code_insee', 'latitude', 'longitude'] },
  { legend: 'Contact', fields: ['telephone', 'courriels', 'site_web', 'prise_rdv', 'fiche_acces_libre'] },
  { legend: 'Présentation', fields: ['presentation_resume', 'presentation_detail'] },
  {
    legend: 'Services et accueil',
    fields: [
      'services', 'publics_specifiquement_adresses', 'prise_en_charge_specifique', 'frais_a_charge', 'modalites_acces',
      'modalites_accompagnement', 'dispositif_programmes_nationaux', 'formations_labels', 'autres_formations_labels',
    ],
  },
  { legend: 'Source', fields: ['source'] },
];
export const FORM_FIELDS: FieldName[] = FORM_GROUPS.flatMap((g) => g.fields);

/** Free multi-valued fields: one value per line in a textarea. */
export const LINE_FIELDS: ReadonlySet<FieldName> = new Set(['courriels', 'site_web']);
export const LONG_TEXT: ReadonlySet<FieldName> = new Set(['presentation_resume', 'presentation_detail']);

export function isEnumField(f: string): f is EnumField {
  return Object.prototype.hasOwnProperty.call(ENUMS, f);
}

export type FormValues = Partial<Record<FieldName, string | string[]>>;

/** Values of a record as the form shows them (strings; enum fields as arrays). */
export function recordToForm(r: PlaceRecord): FormValues {
  const out: FormValues = {};
  for (const f of FIELDS) {
    const v = r[f];
    if (Array.isArray(v)) out[f] = LINE_FIELDS.has(f) ? v.join('\n') : [...v];
    else out[f] = v === null || v === undefined ? '' : String(v);
  }
  return out;
}

/** Reads the posted form (url-encoded body: repeated names become arrays). */
export function formFromBody(body: Record<string, unknown>): FormValues {
  const out: FormValues = {};
  for (const f of FORM_FIELDS) {
    const v = body[f];
    if (isMultiValued(f) && !LINE_FIELDS.has(f)) {
      out[f] = (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is string => typeof x === 'string').map((x) => x.slice(0, 500)).slice(0, 200);
    } else {
      out[f] = typeof v === 'string' ? v.slice(0, 20_000) : '';
    }
  }
  return out;
}

/**
 * Validates a form against the standard: the form plus the fields it does not carry (id, hours,
 * taken from the current record) become a raw row for `validateRow`; `date_maj` is today.
 */
export function validateForm(form: FormValues, current: PlaceRecord, today: string): RowResult {
  const values: Partial<Record<FieldName, string>> = {};
  for (const f of FIELDS) {
    let v: string | string[] | undefined = form[f];
    if (v === undefined) {
      const c = current[f];
      v = Array.isArray(c) ? c : c === null ? '' : String(c);
    }
    if (Array.isArray(v)) values[f] = v.map((x) => x.trim()).filter(Boolean).join('|');
    else if (LINE_FIELDS.has(f)) values[f] = v.split(/\r?\n/).map((x) => x.trim()).filter(Boolean).join('|');
    else values[f] = v;
  }
  values.id = current.id;
  values.date_maj = today;
  return validateRow({ line: 0, values });
}

/**
 * What blocks a form: the standard's errors, and the warnings by which an import keeps the row but
 * drops or cuts a value ("… ; valeur ignorée", résumé cut at 280 characters). An importer must be
 * lenient with a whole file; a person typing in a form is better told than silently corrected.
 */
export function blockingIssues(result: RowResult): ValidationIssue[] {
  return result.issues.filter(
    (i) => i.severity === 'error' || (i.code !== 'empty_value' && i.code !== 'duplicate_value' && (/ignoré/.test(i.message) || i.code.startsWith('max_length'))),
  );
}

/** The standard's messages read "Ligne 2, champ « nom » : champ obligatoire…"; the form shows the
 *  field's label instead of the line and the technical name. */
export function issueText(i: ValidationIssue, label: string): string {
  const m = i.message.replace(/^\s*Ligne \d+, champ « [^»]*» : /, '').replace(/^\s*Ligne \d+ : /, '');
  return `${label} : ${m}`;
}

// ---------------------------------------------------------------------------------------------
// Diffs between versions

export interface FieldChange {
  field: FieldName;
  before: string;
  after: string;
}

function show(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.join(' | ');
  return String(v);
}

/** Fields that differ between two records (in the standard's order). */
export function diffRecords(a: Partial<PlaceRecord>, b: Partial<PlaceRecord>): FieldChange[] {
  const out: FieldChange[] = [];
  for (const f of FIELDS) {
    const x = show(a[f]);
    const y = show(b[f]);
    if (x !== y) out.push({ field: f, before: x, after: y });
  }
  return out;
}

/** Fields that changed, ignoring `date_maj` (a new date alone is not a change of content). */
export function sameContent(a: PlaceRecord, b: PlaceRecord): boolean {
  return diffRecords(a, b).every((c) => c.field === 'date_maj');
}

// ---------------------------------------------------------------------------------------------
// Opening-hours editor: days × time ranges, public holidays, dated exceptions → OSM opening_hours

export const DAYS = ['Mo', 'Tu', 'We', 'Th', 'Fr', 'Sa', 'Su'] as const;
export type Day = (typeof DAYS)[number];
export const DAY_LABELS: Record<Day, string> = { Mo: 'Lundi', Tu: 'Mardi', We: 'Mercredi', Th: 'Jeudi', Fr: 'Vendredi', Sa: 'Samedi', Su: 'Dimanche' };
/** Time ranges per day the form offers (morning, afternoon, evening). */
export const SLOTS = 3;
/** Dated exceptions the form offers at once (more after saving). */
export const EXCEPTION_ROWS = 4;

export interface Range {
  from: string; // HH:MM
  to: string; // HH:MM or 24:00
}

export interface Exception {
  date: string; // YYYY-MM-DD
  closed: boolean;
  ranges: Range[];
}

export interface HoursForm {
  week: Record<Day, Range[]>;
  /** Closed on public holidays ("PH off"). */
  closedOnPublicHolidays: boolean;
  exceptions: Exception[];
}

export interface HoursError {
  field: string; // the form control's name
  message: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

function minutes(t: string): number {
  if (t === '24:00') return 1440;
  const m = TIME.exec(t);
  return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
}

function hhmm(min: number): string {
  return `${String(Math.floor(min / 60)).padStart(2, '0')}:${String(min % 60).padStart(2, '0')}`;
}

/** Browsers send "09:00"; people typing without a time picker write "9h", "9h30", "9:30". */
export function normaliseTime(raw: string): string | null {
  const v = raw.trim().toLowerCase().replace(/\s+/g, '');
  if (v === '') return '';
  const m = /^(\d{1,2})(?:[h:.](\d{2})?)?$/.exec(v);
  if (!m) return null;
  const h = Number(m[1]);
  const min = m[2] === undefined ? 0 : Number(m[2]);
  if (h === 24 && min === 0) return '24:00';
  if (h > 23 || min > 59) return null;
  return hhmm(h * 60 + min);
}

function checkRanges(ranges: Range[], prefix: string, what: string, errors: HoursError[]): Range[] {
  const out: Range[] = [];
  ranges.forEach((r, i) => {
    const from = normaliseTime(r.from);
    const to = normaliseTime(r.to);
    const n = i + 1;
    if (from === '' && to === '') return;
    if (from === null || from === '') errors.push({ field: `${prefix}_${n}_from`, message: `${what}, plage ${n} : heure d’ouverture ${from === '' ? 'manquante' : `« ${r.from} » illisible (format 09:00)`}.` });
    if (to === null || to === '') errors.push({ field: `${prefix}_${n}_to`, message: `${what}, plage ${n} : heure de fermeture ${to === '' ? 'manquante' : `« ${r.to} » illisible (format 17:30)`}.` });
    if (!from || !to) return;
    if (minutes(to) <= minutes(from)) {
      errors.push({ field: `${prefix}_${n}_to`, message: `${what}, plage ${n} : la fermeture (${to}) doit suivre l’ouverture (${from}).` });
      return;
    }
    out.push({ from, to });
  });
  out.sort((a, b) => minutes(a.from) - minutes(b.from));
  for (let i = 1; i < out.length; i++) {
    if (minutes(out[i]!.from) < minutes(out[i - 1]!.to)) {
      errors.push({ field: `${prefix}_1_from`, message: `${what} : les plages ${out[i - 1]!.from}–${out[i - 1]!.to} et ${out[i]!.from}–${out[i]!.to} se chevauchent.` });
    }
  }
  return out;
}

/** Reads the editor's posted fields. */
export function hoursFormFromBody(body: Record<string, unknown>): HoursForm {
  const s = (name: string) => (typeof body[name] === 'string' ? (body[name] as string).slice(0, 20) : '');
  const week = {} as Record<Day, Range[]>;
  for (const d of DAYS) {
    week[d] = [];
    for (let i = 1; i <= SLOTS; i++) week[d].push({ from: s(`${d}_${i}_from`), to: s(`${d}_${i}_to`) });
  }
  const exceptions: Exception[] = [];
  const count = Math.min(Number(s('exceptions')) || EXCEPTION_ROWS, 50);
  for (let e = 1; e <= count; e++) {
    const ranges: Range[] = [];
    for (let i = 1; i <= 2; i++) ranges.push({ from: s(`ex${e}_${i}_from`), to: s(`ex${e}_${i}_to`) });
    exceptions.push({ date: s(`ex${e}_date`).trim(), closed: s(`ex${e}_closed`) === '1', ranges });
  }
  return { week, closedOnPublicHolidays: s('ph_off') === '1', exceptions };
}

/**
 * Builds the OSM value: days with the same ranges are grouped ("Mo-Fr 09:00-12:00,14:00-17:00"),
 * then "PH off", then dated exceptions ("2026 Dec 24 09:00-12:00", "2026 Dec 25 off"), later rules
 * overriding earlier ones as OSM evaluates them. Empty week and no exception → null (no hours).
 */
export function hoursToOsm(form: HoursForm): { value: string | null; errors: HoursError[] } {
  const errors: HoursError[] = [];
  const week = DAYS.map((d) => ({ day: d, ranges: checkRanges(form.week[d], d, DAY_LABELS[d], errors) }));
  const exceptions: { date: string; text: string }[] = [];
  form.exceptions.forEach((e, idx) => {
    const n = idx + 1;
    const hasRanges = e.ranges.some((r) => r.from.trim() || r.to.trim());
    if (!e.date) {
      if (e.closed || hasRanges) errors.push({ field: `ex${n}_date`, message: `Exception ${n} : indiquez la date.` });
      return;
    }
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(e.date);
    const date = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
    if (!m || !date || date.getUTCDate() !== Number(m[3]) || date.getUTCMonth() !== Number(m[2]) - 1) {
      errors.push({ field: `ex${n}_date`, message: `Exception ${n} : « ${e.date} » n’est pas une date (format AAAA-MM-JJ).` });
      return;
    }
    const ranges = e.closed ? [] : checkRanges(e.ranges, `ex${n}`, `Exception du ${m[3]}/${m[2]}/${m[1]}`, errors);
    if (!e.closed && ranges.length === 0 && !errors.some((x) => x.field.startsWith(`ex${n}_`))) {
      errors.push({ field: `ex${n}_closed`, message: `Exception ${n} : cochez « fermé » ou indiquez des horaires.` });
      return;
    }
    const osmDate = `${m[1]} ${MONTHS[Number(m[2]) - 1]} ${m[3]}`;
    exceptions.push({ date: e.date, text: `${osmDate} ${ranges.length ? ranges.map((r) => `${r.from}-${r.to}`).join(',') : 'off'}` });
  });
  if (errors.length) return { value: null, errors };
  const rules: string[] = [];
  const done = new Set<Day>();
  for (let i = 0; i < DAYS.length; i++) {
    const d = DAYS[i]!;
    if (done.has(d) || week[i]!.ranges.length === 0) continue;
    const key = JSON.stringify(week[i]!.ranges);
    const same = DAYS.filter((_, j) => JSON.stringify(week[j]!.ranges) === key);
    same.forEach((x) => done.add(x));
    rules.push(`${daySpec(same)} ${week[i]!.ranges.map((r) => `${r.from}-${r.to}`).join(',')}`);
  }
  const weekly = rules.length > 0;
  if (form.closedOnPublicHolidays && (weekly || exceptions.length)) rules.push('PH off');
  exceptions.sort((a, b) => a.date.localeCompare(b.date));
  for (const e of exceptions) rules.push(e.text);
  if (rules.length === 0) return { value: null, errors: [] };
  const value = rules.join('; ');
  const check = checkHours(value);
  if (!check.ok) return { value: null, errors: [{ field: 'Mo_1_from', message: `Horaires refusés : ${check.message}` }] };
  return { value, errors: [] };
}

/** "Mo-Fr", "Mo,We,Fr", "Mo-We,Sa". */
function daySpec(days: Day[]): string {
  const idx = days.map((d) => DAYS.indexOf(d)).sort((a, b) => a - b);
  const parts: string[] = [];
  let start = idx[0]!;
  let prev = start;
  for (const i of [...idx.slice(1), -1]) {
    if (i === prev + 1) {
      prev = i;
      continue;
    }
    parts.push(start === prev ? DAYS[start]! : prev === start + 1 ? `${DAYS[start]},${DAYS[prev]}` : `${DAYS[start]}-${DAYS[prev]}`);
    start = prev = i;
  }
  return parts.join(',');
}

const DATE_RULE = new RegExp(`^(\\d{4}) (${MONTHS.join('|')}) (\\d{2}) (off|closed|[0-9:,-]+)$`);

/**
 * Reads an OSM value back into the editor. Purely weekly rules, "PH off" and single-date rules (as
 * this editor writes them) are understood; anything else (week numbers, months, "Mo[1]"…) makes
 * `supported` false: the page then says the editor would replace those rules.
 */
export function osmToHoursForm(value: string | null): { form: HoursForm; supported: boolean } {
  const form: HoursForm = { week: { Mo: [], Tu: [], We: [], Th: [], Fr: [], Sa: [], Su: [] }, closedOnPublicHolidays: false, exceptions: [] };
  if (!value || !value.trim()) return { form, supported: true };
  let supported = true;
  const weeklyRules: string[] = [];
  for (const raw of value.split(';').map((r) => r.trim()).filter(Boolean)) {
    if (/^PH (off|closed)$/.test(raw)) {
      form.closedOnPublicHolidays = true;
      continue;
    }
    const m = DATE_RULE.exec(raw);
    if (m) {
      const date = `${m[1]}-${String(MONTHS.indexOf(m[2]!) + 1).padStart(2, '0')}-${m[3]}`;
      const closed = m[4] === 'off' || m[4] === 'closed';
      const ranges = closed ? [] : m[4]!.split(',').map((s) => {
        const [from, to] = s.split('-');
        return { from: from ?? '', to: to ?? '' };
      });
      form.exceptions.push({ date, closed, ranges });
      continue;
    }
    weeklyRules.push(raw);
  }
  if (weeklyRules.length) {
    const wm = weeklyMinutes(weeklyRules.join('; '));
    if (!wm || !wm.exact) supported = false;
    else {
      for (const [a, b] of wm.ranges) {
        // Split ranges at midnight into days.
        let s = a;
        while (s < b) {
          const day = Math.floor(s / 1440);
          const end = Math.min(b, (day + 1) * 1440);
          const d = DAYS[day % 7]!;
          form.week[d].push({ from: hhmm(s - day * 1440), to: end - day * 1440 === 1440 ? '24:00' : hhmm(end - day * 1440) });
          s = end;
        }
      }
      if (DAYS.some((d) => form.week[d].length > SLOTS)) supported = false;
    }
  }
  return { form, supported };
}

export { MULTI_VALUED };

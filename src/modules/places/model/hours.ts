/**
 * Opening hours in the OpenStreetMap `opening_hours` syntax, evaluated with the `opening_hours`
 * package in the process time zone, which must be Europe/Paris (the server and the test runner set
 * TZ=Europe/Paris). French public holidays (`PH`) come from the package's data for country `fr`
 * (mainland list; Alsace-Moselle's two extra days are not applied).
 */
import OpeningHours from 'opening_hours';

/** Where the rules are evaluated: France, for public holidays. */
const NOMINATIM = { lat: 46.6, lon: 2.4, address: { country_code: 'fr', state: '' } };

export type HoursParse = { ok: true; oh: OpeningHours; value: string } | { ok: false; message: string; value: string };

// --- Fast validity check for the everyday subset ---------------------------------------------
// Building an `opening_hours` object costs about a millisecond; most files only use
// "Mo-Fr 09:00-12:00,14:00-17:30; Sa 09:00-12:00; PH off". This grammar accepts only that subset
// (every string it accepts is accepted by the package: see tests/model-hours.test.ts), anything
// else goes to the package.
const DAY = '(?:Mo|Tu|We|Th|Fr|Sa|Su)';
const DAYS = `(?:${DAY}(?:-${DAY})?(?:,${DAY}(?:-${DAY})?)*)`;
const TIME = '(?:[01]\\d|2[0-3]):[0-5]\\d';
const END = `(?:${TIME}|24:00)`;
const SPAN = `${TIME}-${END}`;
const RULE = `(?:(?:${DAYS}|PH|${DAYS},PH|PH,${DAYS}) (?:${SPAN}(?:,${SPAN})*|off|closed))`;
const SIMPLE = new RegExp(`^(?:24/7|${RULE}(?:; ${RULE})*)$`);

/** True when the value is in the simple subset above (hence valid). */
export function isSimpleHours(value: string): boolean {
  return SIMPLE.test(value);
}

const CACHE_MAX = 5000;
const cache = new Map<string, HoursParse>();

/** Parses an opening-hours value (cached). Errors carry the package's message. */
export function parseHours(value: string): HoursParse {
  const hit = cache.get(value);
  if (hit) return hit;
  let result: HoursParse;
  try {
    const oh = new OpeningHours(value, NOMINATIM as never);
    result = { ok: true, oh, value };
  } catch (e) {
    result = { ok: false, message: String(e instanceof Error ? e.message : e).replace(/\s+/g, ' ').trim(), value };
  }
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(value, result);
  return result;
}

/** Validity: the fast grammar first, the package otherwise. `normalised` is the package's
 *  canonical spelling when it differs from the value ("Mo-Fr 9h-12h" → "Mo-Fr 09:00-12:00"). */
type HoursCheck = { ok: true; normalised?: string } | { ok: false; message: string };
const checked = new Map<string, HoursCheck>();

/** Checks (and canonicalises) an opening_hours value; pure, so memoised per string (bounded). */
export function checkHours(value: string): HoursCheck {
  let r = checked.get(value);
  if (!r) {
    if (checked.size >= 20_000) checked.clear();
    checked.set(value, (r = checkHoursUncached(value)));
  }
  return r;
}

function checkHoursUncached(value: string): HoursCheck {
  if (isSimpleHours(value)) return { ok: true };
  const p = parseHours(value);
  if (!p.ok) return { ok: false, message: p.message };
  let pretty: string | undefined;
  try {
    pretty = p.oh.prettifyValue();
  } catch {
    pretty = undefined;
  }
  if (pretty && pretty !== value && parseHours(pretty).ok) return { ok: true, normalised: pretty };
  return { ok: true };
}

// --- A fast evaluator for the simple subset ----------------------------------------------------
// Semantics of the subset (as in the package): rules apply in order and, for a day they select
// (its weekday, or PH on a public holiday), a later rule replaces the day's ranges; "off" empties
// it. Spans never wrap past midnight in the subset (those go to the package).

interface SimpleRule {
  days: boolean[]; // index 0 = Monday
  ph: boolean;
  spans: [number, number][]; // minutes of the day, start < end
}
interface SimpleHours {
  always: boolean;
  rules: SimpleRule[];
  usesPH: boolean;
}

const DAY_INDEX: Record<string, number> = { Mo: 0, Tu: 1, We: 2, Th: 3, Fr: 4, Sa: 5, Su: 6 };
const simpleCache = new Map<string, SimpleHours | null>();

function minutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** Parses a value of the simple subset; null when the value is outside it. */
function parseSimple(value: string): SimpleHours | null {
  const hit = simpleCache.get(value);
  if (hit !== undefined) return hit;
  let result: SimpleHours | null = null;
  if (isSimpleHours(value)) {
    result = { always: value === '24/7', rules: [], usesPH: false };
    if (!result.always) {
      for (const ruleText of value.split('; ')) {
        const sp = ruleText.indexOf(' ');
        const selector = ruleText.slice(0, sp);
        const what = ruleText.slice(sp + 1);
        const rule: SimpleRule = { days: [false, false, false, false, false, false, false], ph: false, spans: [] };
        for (const part of selector.split(',')) {
          if (part === 'PH') {
            rule.ph = true;
            result.usesPH = true;
            continue;
          }
          const [a, b] = part.split('-');
          const from = DAY_INDEX[a];
          const to = b === undefined ? from : DAY_INDEX[b];
          for (let k = from; ; k = (k + 1) % 7) {
            rule.days[k] = true;
            if (k === to) break;
          }
        }
        if (what !== 'off' && what !== 'closed') {
          for (const span of what.split(',')) {
            const s = minutes(span.slice(0, 5));
            const e = minutes(span.slice(6, 11));
            if (e <= s) {
              result = null;
              break;
            }
            rule.spans.push([s, e]);
          }
          if (result === null) break;
        }
        result.rules.push(rule);
      }
    }
  }
  if (simpleCache.size >= CACHE_MAX) simpleCache.clear();
  simpleCache.set(value, result);
  return result;
}

function mergeSpans(spans: [number, number][]): [number, number][] {
  if (spans.length <= 1) return spans.map((s) => [s[0], s[1]]);
  const sorted = [...spans].sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [[sorted[0][0], sorted[0][1]]];
  for (let i = 1; i < sorted.length; i++) {
    const last = out[out.length - 1];
    if (sorted[i][0] <= last[1]) last[1] = Math.max(last[1], sorted[i][1]);
    else out.push([sorted[i][0], sorted[i][1]]);
  }
  return out;
}

/** Open ranges (minutes of the day) of a simple value on one weekday, holiday or not. */
function simpleDay(h: SimpleHours, weekday: number, holiday: boolean): [number, number][] {
  if (h.always) return [[0, 1440]];
  let spans: [number, number][] = [];
  for (const r of h.rules) if (r.days[weekday] || (r.ph && holiday)) spans = r.spans;
  return mergeSpans(spans);
}

// --- French public holidays ---------------------------------------------------------------------

function easter(year: number): [number, number] {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return [month - 1, day];
}

const holidayCache = new Map<number, Map<string, string>>();
/** The French public holidays of a year (mainland list): "M-D" (0-based month) → name. */
function holidays(year: number): Map<string, string> {
  let m = holidayCache.get(year);
  if (m) return m;
  m = new Map();
  const add = (month: number, day: number, name: string) => {
    const d = new Date(year, month, day);
    m!.set(`${d.getMonth()}-${d.getDate()}`, name);
  };
  add(0, 1, 'Jour de l’an');
  const [em, ed] = easter(year);
  add(em, ed + 1, 'Lundi de Pâques');
  add(4, 1, 'Fête du Travail');
  add(4, 8, 'Victoire 1945');
  add(em, ed + 39, 'Ascension');
  add(em, ed + 50, 'Lundi de Pentecôte');
  add(6, 14, 'Fête nationale');
  add(7, 15, 'Assomption');
  add(10, 1, 'Toussaint');
  add(10, 11, 'Armistice 1918');
  add(11, 25, 'Noël');
  holidayCache.set(year, m);
  return m;
}

/** The name of the French public holiday on that (local) day, or null. */
export function publicHolidayName(date: Date): string | null {
  return holidays(date.getFullYear()).get(`${date.getMonth()}-${date.getDate()}`) ?? null;
}

// --- Public functions ---------------------------------------------------------------------------

const weekdayIndex = (d: Date) => (d.getDay() + 6) % 7;
const dayStart = (d: Date, offset = 0) => new Date(d.getFullYear(), d.getMonth(), d.getDate() + offset);

/**
 * Intervals where the place is certainly open: the package also returns « unknown » ones (a rule
 * with only a comment, `Sa "sur rendez-vous"`, or the `unknown` state), which are not opening
 * hours: neither shown as open nor indexed as open.
 */
export function openIntervalsKnown(oh: { getOpenIntervals(from: Date, to: Date): [Date, Date, boolean, string | undefined][] }, from: Date, to: Date): [Date, Date][] {
  const out: [Date, Date][] = [];
  for (const [a, b, unknown] of oh.getOpenIntervals(from, to)) if (!unknown) out.push([a, b]);
  return out;
}

/** Open ranges (minutes of the day, end 1440 = midnight) of one local day; null if invalid. */
export function dayRanges(value: string, date: Date): [number, number][] | null {
  const simple = parseSimple(value);
  if (simple) return simpleDay(simple, weekdayIndex(date), publicHolidayName(date) !== null);
  const p = parseHours(value);
  if (!p.ok) return null;
  const from = dayStart(date);
  const to = dayStart(date, 1);
  return mergeSpans(
    openIntervalsKnown(p.oh, from, to).map(([a, b]) => [a.getHours() * 60 + a.getMinutes(), b.getTime() >= to.getTime() ? 1440 : b.getHours() * 60 + b.getMinutes()] as [number, number]),
  );
}

/** Is the place open at that instant (Europe/Paris)? false for invalid or unknown hours. */
export function isOpenAt(value: string, date: Date): boolean {
  const simple = parseSimple(value);
  if (simple) {
    const m = date.getHours() * 60 + date.getMinutes();
    for (const [s, e] of simpleDay(simple, weekdayIndex(date), publicHolidayName(date) !== null)) if (m >= s && m < e) return true;
    return false;
  }
  const p = parseHours(value);
  return p.ok ? p.oh.getState(date) : false;
}

/** Next instant after `now` when the state changes (simple subset), within a year; null if never. */
function simpleNextChange(h: SimpleHours, now: Date, open: boolean): Date | null {
  let p = now.getHours() * 60 + now.getMinutes();
  for (let k = 0; k <= 370; k++) {
    const day = dayStart(now, k);
    const spans = simpleDay(h, weekdayIndex(day), publicHolidayName(day) !== null);
    if (k > 0) p = 0;
    if (open) {
      let moved = true;
      while (moved) {
        moved = false;
        for (const [s, e] of spans) if (p >= s && p < e) {
          p = e;
          moved = true;
        }
      }
      if (p < 1440) return new Date(day.getFullYear(), day.getMonth(), day.getDate(), Math.floor(p / 60), p % 60);
    } else {
      for (const [s] of spans) if (s > p || (k > 0 && s >= p)) return new Date(day.getFullYear(), day.getMonth(), day.getDate(), Math.floor(s / 60), s % 60);
    }
  }
  return null;
}

export interface OpeningStatus {
  open: boolean;
  /** « Ouvert jusqu’à 17 h 30 », « Ouvre demain à 14 h », « Ouvre lundi à 9 h », « Fermé »… */
  label: string;
  nextChange: Date | null;
}

const WEEKDAYS = ['dimanche', 'lundi', 'mardi', 'mercredi', 'jeudi', 'vendredi', 'samedi'];
const MONTHS = ['janvier', 'février', 'mars', 'avril', 'mai', 'juin', 'juillet', 'août', 'septembre', 'octobre', 'novembre', 'décembre'];
const NBSP = '\u00a0';

/** « 9 h », « 17 h 30 », « minuit » (no-break spaces inside). */
export function frenchTime(d: Date | number): string {
  const m = typeof d === 'number' ? d : d.getHours() * 60 + d.getMinutes();
  if (m === 0 || m === 1440) return 'minuit';
  const h = Math.floor(m / 60);
  const mm = m % 60;
  return mm === 0 ? `${h}${NBSP}h` : `${h}${NBSP}h${NBSP}${String(mm).padStart(2, '0')}`;
}

function dayDiff(a: Date, b: Date): number {
  return Math.round((dayStart(b).getTime() - dayStart(a).getTime()) / 86400000);
}

function whenLabel(now: Date, at: Date): string {
  const diff = dayDiff(now, at);
  const time = frenchTime(at);
  const t = time === 'minuit' ? 'minuit' : `à ${time}`;
  if (diff === 0) return t;
  if (diff === 1) return `demain ${t}`;
  if (diff < 7) return `${WEEKDAYS[at.getDay()]} ${t}`;
  return `le ${at.getDate() === 1 ? '1er' : at.getDate()} ${MONTHS[at.getMonth()]} ${t}`;
}

/** Open now? with a French label and the next change; null when the hours are absent or invalid. */
export function openingStatus(value: string | null | undefined, now: Date): OpeningStatus | null {
  if (!value) return null;
  const simple = parseSimple(value);
  let open: boolean;
  let next: Date | null;
  let comment: string | undefined;
  let unknown = false;
  if (simple) {
    open = isOpenAt(value, now);
    next = simpleNextChange(simple, now, open);
  } else {
    const p = parseHours(value);
    if (!p.ok) return null;
    open = p.oh.getState(now);
    unknown = p.oh.getUnknown(now);
    comment = p.oh.getComment(now);
    const max = new Date(now.getTime() + 370 * 86400000);
    next = null;
    let t = now;
    for (let i = 0; i < 50; i++) {
      const n = p.oh.getNextChange(t, max);
      if (!n) break;
      if (p.oh.getState(n) !== open || p.oh.getUnknown(n) !== unknown) {
        next = n;
        break;
      }
      t = n;
    }
  }
  let label: string;
  if (open) {
    if (next === null) label = `Ouvert 24${NBSP}h/24`;
    else {
      const diff = dayDiff(now, next);
      const time = frenchTime(next);
      if (diff === 0) label = `Ouvert jusqu’à ${time}`;
      else if (diff === 1 && time === 'minuit') label = `Ouvert jusqu’à minuit`;
      else if (diff === 1) label = `Ouvert jusqu’à demain ${time}`;
      else label = `Ouvert jusqu’à ${whenLabel(now, next).replace(/^le /, 'au ').replace(/ à /, ' ')}`;
    }
  } else if (unknown) {
    label = comment ? `Horaires à confirmer : ${comment}` : 'Horaires à confirmer';
  } else if (next === null) label = 'Fermé';
  else {
    const diff = dayDiff(now, next);
    label = diff === 0 ? `Ouvre à ${frenchTime(next)}` : `Ouvre ${whenLabel(now, next)}`;
    if (label === 'Ouvre à minuit') label = 'Ouvre à minuit';
  }
  return { open, label, nextChange: next };
}

export interface DayHours {
  /** YYYY-MM-DD (local) */
  date: string;
  /** « lundi » … « dimanche » */
  weekday: string;
  /** For display: « 9 h à 12 h », « 14 h à 17 h 30 » (empty = closed). */
  ranges: string[];
  /** The same as minutes of the day, end 1440 = midnight. */
  intervals: [number, number][];
  publicHoliday: boolean;
  holidayName: string | null;
  /** The day of the date given to weekTable. */
  today: boolean;
}

const isoDay = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

/** Monday to Sunday of the week holding `anyDateInWeek`; null when the hours are invalid. */
export function weekTable(value: string | null | undefined, anyDateInWeek: Date): DayHours[] | null {
  if (!value) return null;
  if (!parseSimple(value) && !parseHours(value).ok) return null;
  const monday = dayStart(anyDateInWeek, -weekdayIndex(anyDateInWeek));
  const out: DayHours[] = [];
  for (let i = 0; i < 7; i++) {
    const day = dayStart(monday, i);
    const intervals = dayRanges(value, day) ?? [];
    const holidayName = publicHolidayName(day);
    out.push({
      date: isoDay(day),
      weekday: WEEKDAYS[day.getDay()],
      ranges: intervals.map(([s, e]) => `${s === 0 ? `0${NBSP}h` : frenchTime(s)} à ${frenchTime(e)}`),
      intervals,
      publicHoliday: holidayName !== null,
      holidayName,
      today: isoDay(day) === isoDay(anyDateInWeek),
    });
  }
  return out;
}

export interface WeeklyMinutes {
  /** Open ranges in minutes of the week (Monday 00:00 = 0, end exclusive, ≤ 10080), merged. */
  ranges: [number, number][];
  /** True when the rules are purely weekly (no PH, dates, weeks, months…): the ranges then answer
   *  "open at t" for any date. Otherwise they describe a typical week (12–18 January 2026, no
   *  public holiday) and isOpenAt must decide. */
  exact: boolean;
}

const REFERENCE_MONDAY = () => new Date(2026, 0, 12);
const weeklyCache = new Map<string, WeeklyMinutes | null>();

/** The weekly shape of the hours; null when invalid. */
export function weeklyMinutes(value: string): WeeklyMinutes | null {
  const hit = weeklyCache.get(value);
  if (hit !== undefined) return hit;
  let result: WeeklyMinutes | null = null;
  const simple = parseSimple(value);
  if (simple) {
    const ranges: [number, number][] = [];
    for (let d = 0; d < 7; d++) for (const [s, e] of simpleDay(simple, d, false)) ranges.push([d * 1440 + s, d * 1440 + e]);
    result = { ranges: mergeSpans(ranges), exact: !simple.usesPH };
  } else {
    const p = parseHours(value);
    if (p.ok) {
      const from = REFERENCE_MONDAY();
      const to = dayStart(from, 7);
      const ranges: [number, number][] = [];
      for (const [a, b] of openIntervalsKnown(p.oh, from, to)) {
        const s = weekdayIndex(a) * 1440 + a.getHours() * 60 + a.getMinutes();
        const e = b.getTime() >= to.getTime() ? 10080 : weekdayIndex(b) * 1440 + b.getHours() * 60 + b.getMinutes();
        if (e > s) ranges.push([s, e]);
      }
      result = { ranges: mergeSpans(ranges), exact: p.oh.isWeekStable() };
    }
  }
  if (weeklyCache.size >= CACHE_MAX) weeklyCache.clear();
  weeklyCache.set(value, result);
  return result;
}

/** Is any of the given weekdays (0 = Monday) open in a typical week — or, for rules that change
 *  through the year, in any of four sample weeks (January, April, July, October 2026)? */
function openOnDays(value: string, days: number[]): boolean {
  const wk = weeklyMinutes(value);
  if (wk === null) return false;
  const hits = (ranges: [number, number][]) => ranges.some(([s, e]) => days.some((d) => s < (d + 1) * 1440 && e > d * 1440));
  if (hits(wk.ranges)) return true;
  if (wk.exact || parseSimple(value)) return false;
  const p = parseHours(value);
  if (!p.ok) return false;
  for (const month of [3, 6, 9]) {
    const from = new Date(2026, month, 13);
    const monday = dayStart(from, -weekdayIndex(from));
    for (const [a, b] of openIntervalsKnown(p.oh, monday, dayStart(monday, 7))) {
      for (let t = dayStart(a); t.getTime() < b.getTime(); t = dayStart(t, 1)) if (days.includes(weekdayIndex(t))) return true;
    }
  }
  return false;
}

const weekendCache = new Map<string, [boolean, boolean]>();
function weekendFlags(value: string): [boolean, boolean] {
  let f = weekendCache.get(value);
  if (!f) {
    f = [openOnDays(value, [5]), openOnDays(value, [5, 6])];
    if (weekendCache.size >= CACHE_MAX) weekendCache.clear();
    weekendCache.set(value, f);
  }
  return f;
}

/** Open on Saturdays (typical week; see openOnDays). */
export function openOnSaturday(value: string): boolean {
  return weekendFlags(value)[0];
}

/** Open on Saturdays or Sundays (typical week; see openOnDays). */
export function openOnWeekend(value: string): boolean {
  return weekendFlags(value)[1];
}

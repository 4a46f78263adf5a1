/**
 * What the store indexes about opening hours: the weekly ranges (exact for purely weekly rules)
 * and, for rules that depend on dates (public holidays, seasons…), the open intervals over a
 * rolling horizon. Both answer "open at t" in SQL.
 */
import opening_hours from 'opening_hours';
import { openIntervalsKnown, weeklyMinutes } from './model/index.ts';

/** How far ahead date-dependent hours are materialised; "open at" beyond it is refused. */
export const HORIZON_DAYS = 60;

const FRANCE = { lat: 46.6, lon: 2.4, address: { country_code: 'fr', state: '' } };

/** Minute of the week in Europe/Paris local time (the process time zone), Monday 00:00 = 0. */
export function minuteOfWeek(date: Date): number {
  return ((date.getDay() + 6) % 7) * 1440 + date.getHours() * 60 + date.getMinutes();
}

export function horizon(now = new Date()): { from: Date; to: Date } {
  const from = new Date(now.getTime() - 24 * 3600 * 1000);
  const to = new Date(now.getTime() + HORIZON_DAYS * 24 * 3600 * 1000);
  return { from, to };
}

/**
 * What the store indexes for a place's hours:
 * - purely weekly rules → the weekly minutes, exact;
 * - weekly rules + "PH off" (closed on public holidays) → the weekly minutes of the rules without
 *   the PH part, exact, with closedOnPh (the query excludes them on public holidays);
 * - anything else that depends on dates → concrete intervals over the rolling horizon.
 */
export type HoursIndex = ReturnType<typeof computeHoursIndex>;

/**
 * Opening-hours strings repeat a lot within a file and across producers ("Mo-Fr 09:00-12:00,…"),
 * and evaluating them with the opening_hours package is the costliest step of an import: results
 * are memoised per string for ten minutes (the horizon slides by less than that, and the 12-hourly
 * refresh rewrites it anyway). Callers must not mutate the result.
 */
const memo = new Map<string, HoursIndex>();
let memoBucket = -1;
const MEMO_MAX = 20_000;

export function hoursIndex(horaires: string | null, now = new Date()): HoursIndex {
  if (!horaires) return computeHoursIndex(horaires, now);
  const bucket = Math.floor(now.getTime() / 600_000);
  if (bucket !== memoBucket || memo.size >= MEMO_MAX) {
    memo.clear();
    memoBucket = bucket;
  }
  let r = memo.get(horaires);
  if (!r) memo.set(horaires, (r = computeHoursIndex(horaires, now)));
  return r;
}

function computeHoursIndex(horaires: string | null, now: Date): {
  week: [number, number][] | null;
  exact: boolean;
  closedOnPh: boolean;
  horizon: [string, string][] | null;
} {
  if (!horaires) return { week: null, exact: true, closedOnPh: false, horizon: null };
  const wk = weeklyMinutes(horaires);
  if (!wk) return { week: null, exact: true, closedOnPh: false, horizon: null };
  if (wk.exact) return { week: wk.ranges, exact: true, closedOnPh: false, horizon: null };
  const withoutPhOff = horaires.replace(/\s*;\s*PH\s+off\s*$/i, '').replace(/^\s*PH\s+off\s*;\s*/i, '');
  if (withoutPhOff !== horaires && withoutPhOff.trim()) {
    const base = weeklyMinutes(withoutPhOff);
    if (base?.exact) return { week: base.ranges, exact: true, closedOnPh: true, horizon: null };
  }
  const { from, to } = horizon(now);
  return { week: wk.ranges, exact: false, closedOnPh: false, horizon: openIntervals(horaires, from, to) };
}

/** Open intervals between two dates, as ISO strings; [] when the hours cannot be evaluated. */
export function openIntervals(horaires: string, from: Date, to: Date): [string, string][] {
  try {
    const oh = new opening_hours(horaires, FRANCE as never, { mode: 0 } as never);
    return openIntervalsKnown(oh as never, from, to).map(([a, b]) => [a.toISOString(), b.toISOString()] as [string, string]);
  } catch {
    return [];
  }
}

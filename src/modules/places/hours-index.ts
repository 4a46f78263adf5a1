/**
 * What the store indexes about opening hours: the weekly ranges (exact for purely weekly rules)
 * and, for rules that depend on dates (public holidays, seasons…), the open intervals over a
 * rolling horizon. Both answer "open at t" in SQL.
 */
import opening_hours from 'opening_hours';
import { weeklyMinutes } from './model/index.ts';

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
export function hoursIndex(horaires: string | null, now = new Date()): {
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
    return oh.getOpenIntervals(from, to).map(([a, b]) => [a.toISOString(), b.toISOString()] as [string, string]);
  } catch {
    return [];
  }
}

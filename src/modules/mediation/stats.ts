/**
 * Statistics of activities (the Coop's figures) for a mediator, a team, a place or a territory over
 * a period, read from the counters (mediation.stat_counter) kept up to date with each record: a
 * year of a région is ~1,000 counter rows, whatever the number of activities.
 */
import type { Queryable } from '../../platform/db/index.ts';
import { UserError } from '../../platform/http/errors.ts';
import {
  ACTIVITY_KINDS, ADMIN_PROCEDURES, AGE_BANDS, AUTONOMY, CRCN_COMPETENCES, DIGCOMP_COMPETENCES, DIGITAL_THEMES, EQUIPMENT, GENDERS, ORIENTATION, PLACE_KINDS, STATUSES,
} from './model.ts';

/** What each breakdown counts. */
export const UNIT_LABELS = { people: 'accompagnements', activities: 'activités', registrations: 'inscriptions', paths: 'parcours terminés', competences: 'compétences atteintes', learners: 'personnes évaluées' } as const;
import { readCounters } from './store.ts';
import { PUBLIC_FIGURES, publicCube } from './disclosure.ts';

export type StatsScope = 'all' | 'region' | 'departement' | 'commune' | 'place' | 'mediator' | 'team';

export interface Breakdown {
  metric: string;
  title: string;
  /** What the figures count (UNIT_LABELS). */
  unit: keyof typeof UNIT_LABELS;
  rows: { key: string; label: string; value: number | null }[];
}

export interface Stats {
  from: string; // YYYY-MM
  to: string;
  totals: { activities: number | null; individual: number | null; collective: number | null; accompaniments: number | null; followed: number | null; hours: number | null };
  months: { month: string; activities: number | null; accompaniments: number | null }[];
  breakdowns: Breakdown[];
  /** True when small counts were hidden (public figures). */
  hidden: boolean;
}

const BREAKDOWNS: [string, string, Record<string, string>, Breakdown['unit']][] = [
  ['theme', 'Thématiques', DIGITAL_THEMES, 'people'],
  ['admin_theme', 'Démarches administratives', ADMIN_PROCEDURES, 'people'],
  ['place_kind', 'Lieux d’accompagnement', PLACE_KINDS, 'activities'],
  ['duration', 'Durées', { '15': '15 min', '30': '30 min', '45': '45 min', '60': '1 h', '90': '1 h 30', '120': '2 h' }, 'activities'],
  ['gender', 'Genre des personnes', GENDERS, 'people'],
  ['age', 'Âge des personnes', AGE_BANDS, 'people'],
  ['status', 'Statut des personnes', STATUSES, 'people'],
  ['autonomy', 'Autonomie', AUTONOMY, 'activities'],
  ['orientation', 'Orientation', ORIENTATION, 'activities'],
  ['equipment', 'Matériel', EQUIPMENT, 'activities'],
  // Training (counted per territory of the session: on territory pages).
  ['training_registrations', 'Inscriptions aux formations', { confirmed: 'Avec une place', waiting: 'Sur liste d’attente' }, 'registrations'],
  ['training_completed', 'Parcours de formation terminés', { path: 'Parcours terminés' }, 'paths'],
  ['competence', 'Compétences atteintes en fin de parcours (CRCN)', {}, 'competences'],
  ['digcomp', 'Compétences atteintes en fin de parcours (DigComp 2.2)', {}, 'competences'],
  // Pix campaign results imported for a session (a person's latest level per competence).
  ['pix_crcn', 'Niveaux mesurés par Pix (CRCN)', {}, 'learners'],
  ['pix_digcomp', 'Niveaux mesurés par Pix, rapportés à DigComp 2.2 (correspondance Maillage, non officielle)', {}, 'learners'],
];

/** The label of a breakdown's key. */
function labelOf(metric: string, dict: Record<string, string>, key: string): string {
  if (dict[key]) return dict[key]!;
  if (metric === 'duration') return `${key} min`;
  if (metric === 'competence' || metric === 'pix_crcn') {
    const [code, level] = key.split(':') as [string, string | undefined];
    const title = (CRCN_COMPETENCES as Record<string, string>)[code];
    return title ? `${code} ${title} — niveau ${level ?? '?'}` : key;
  }
  if (metric === 'digcomp' || metric === 'pix_digcomp') {
    const [code, level] = key.split(':') as [string, string | undefined];
    const c = Object.prototype.hasOwnProperty.call(DIGCOMP_COMPETENCES, code) ? DIGCOMP_COMPETENCES[code as keyof typeof DIGCOMP_COMPETENCES] : null;
    return c ? `${code} ${c.fr} — niveau ${level ?? '?'}` : key;
  }
  return key;
}

/** Completion rate: paths completed over registrations with a seat (null when either is hidden or none). */
export function completionRate(s: Stats): number | null {
  const completed = s.breakdowns.find((b) => b.metric === 'training_completed')?.rows.find((r) => r.key === 'path')?.value;
  const seats = s.breakdowns.find((b) => b.metric === 'training_registrations')?.rows.find((r) => r.key === 'confirmed')?.value;
  if (completed === null || completed === undefined || seats === null || seats === undefined || seats <= 0) return null;
  return Math.round((100 * completed) / seats);
}

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** A period from "YYYY" (a year) or "YYYY-MM" bounds; errors name the parameter. */
export function parsePeriod(q: { annee?: unknown; du?: unknown; au?: unknown }, now = new Date()): { from: string; to: string } {
  const year = typeof q.annee === 'string' && q.annee ? q.annee : null;
  if (year !== null) {
    if (!/^(19|20)\d{2}$/.test(year)) throw new UserError('L’année a quatre chiffres (par exemple 2025).', 400, 'annee');
    return { from: `${year}-01`, to: `${year}-12` };
  }
  const from = typeof q.du === 'string' && q.du ? q.du : `${now.getFullYear()}-01`;
  const to = typeof q.au === 'string' && q.au ? q.au : `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}`;
  if (!MONTH.test(from)) throw new UserError('Le début de période est un mois AAAA-MM.', 400, 'du');
  if (!MONTH.test(to)) throw new UserError('La fin de période est un mois AAAA-MM.', 400, 'au');
  if (from > to) throw new UserError('Le début de période doit précéder la fin.', 400, 'du');
  if (Number(to.slice(0, 4)) - Number(from.slice(0, 4)) > 20) throw new UserError('La période couvre au plus 20 ans.', 400, 'du');
  return { from, to };
}

function monthsBetween(from: string, to: string): string[] {
  const out: string[] = [];
  let [y, m] = from.split('-').map(Number) as [number, number];
  const [ty, tm] = to.split('-').map(Number) as [number, number];
  while (y < ty || (y === ty && m <= tm)) {
    out.push(`${y}-${String(m).padStart(2, '0')}`);
    m++;
    if (m > 12) {
      m = 1;
      y++;
    }
  }
  return out;
}

/** Figures of one or several ids of a scope over a period, for staff and mediators (not public: see publicStatistics). */
export async function statistics(db: Queryable, scope: StatsScope, ids: string[], period: { from: string; to: string }): Promise<Stats> {
  const rows = ids.length ? await readCounters(db, scope, ids, `${period.from}-01`, `${period.to}-01`) : [];
  const shown = (n: number): number | null => n;
  const sum = (metric: string, key?: string) => rows.filter((r) => r.metric === metric && (key === undefined || r.key === key)).reduce((s, r) => s + r.value, 0);
  const months = monthsBetween(period.from, period.to).map((m) => {
    const at = rows.filter((r) => r.month.startsWith(m));
    const f = (metric: string) => at.filter((r) => r.metric === metric).reduce((s, r) => s + r.value, 0);
    return { month: m, activities: shown(f('activities')), accompaniments: shown(f('accompaniments')) };
  });
  const breakdowns = BREAKDOWNS.map(([metric, title, dict, unit]) => {
    const keys = new Set([...Object.keys(dict), ...rows.filter((r) => r.metric === metric).map((r) => r.key)]);
    return {
      metric,
      title,
      unit,
      rows: [...keys].map((key) => ({ key, label: labelOf(metric, dict, key), value: shown(sum(metric, key)) })).filter((r) => r.value !== 0),
    };
  });
  return {
    from: period.from,
    to: period.to,
    totals: {
      activities: shown(sum('activities')),
      individual: shown(sum('activities', 'individual')),
      collective: shown(sum('activities', 'collective')),
      accompaniments: shown(sum('accompaniments')),
      followed: shown(sum('followed')),
      hours: shown(Math.round(sum('minutes') / 60)),
    },
    months,
    breakdowns,
    hidden: false,
  };
}

export const KIND_LABELS = ACTIVITY_KINDS;

/** The public year: "annee" only (periods of months could be differenced); defaults to this year. */
export function parsePublicYear(q: { annee?: unknown; du?: unknown; au?: unknown }, now = new Date()): string {
  if ((typeof q.du === 'string' && q.du) || (typeof q.au === 'string' && q.au)) {
    throw new UserError('Les chiffres publics sont publiés par année civile : indiquez une année (par exemple 2025).', 400, typeof q.du === 'string' && q.du ? 'du' : 'au');
  }
  return parsePeriod({ annee: typeof q.annee === 'string' && q.annee ? q.annee : String(now.getFullYear()) }).from.slice(0, 4);
}

/**
 * Public figures of a région or a département for a calendar year, read from the protected cube
 * of its région (disclosure.ts): small counts and the counts that would give them away by
 * subtraction are null.
 */
export async function publicStatistics(db: Queryable, region: string, level: 'region' | 'departement', code: string, year: string): Promise<Stats> {
  const t = `${level}:${code}`;
  const cube = await publicCube(db, region, year, t);
  const v = (period: string, metric: string, key: string) => cube.value(t, period, metric, key);
  const cells = cube.cells().filter((c) => c.territory === t && c.period === year);
  // Only the public figures (the Pix results are staff figures: not in the protected cube).
  const breakdowns = BREAKDOWNS.filter(([metric]) => (PUBLIC_FIGURES as readonly string[]).includes(metric)).map(([metric, title, dict, unit]) => {
    const keys = new Set(Object.keys(dict));
    for (const c of cells) if (c.figure === metric) keys.add(c.key);
    return {
      metric,
      title,
      unit,
      rows: [...keys].map((key) => ({ key, label: labelOf(metric, dict, key), value: v(year, metric, key) })).filter((r) => r.value !== 0),
    };
  });
  const activities = v(year, 'activities', '*');
  const minutes = activities === null ? 0 : (await readCounters(db, level, [code], `${year}-01-01`, `${year}-12-01`, ['minutes'])).reduce((s, r) => s + r.value, 0);
  return {
    from: `${year}-01`,
    to: `${year}-12`,
    totals: {
      activities,
      individual: v(year, 'activities', 'individual'),
      collective: v(year, 'activities', 'collective'),
      accompaniments: v(year, 'accompaniments', '*'),
      followed: v(year, 'followed', '*'),
      // Hours are not a count of people: published whenever the number of activities is.
      hours: activities === null ? null : Math.round(minutes / 60),
    },
    months: monthsBetween(`${year}-01`, `${year}-12`).map((m) => ({ month: m, activities: v(m, 'activities', '*'), accompaniments: v(m, 'accompaniments', '*') })),
    breakdowns,
    hidden: true,
  };
}

/**
 * Live indicators for the roadmap: activities recorded, people accompanied, training paths
 * completed, per territory (région, département, commune) and period (month YYYY-MM and year
 * YYYY). Read from the counters kept up to date with every record; nothing recomputed.
 * roadmap.ts registers them with the roadmap module (registerIndicator).
 */
import type { Queryable } from '../../platform/db/index.ts';

export interface IndicatorValue {
  territory: { kind: 'region' | 'departement' | 'commune'; code: string };
  period: string;
  value: number;
}

export interface MediationIndicator {
  id: string;
  title: string;
  unit: string;
  compute(ctx: { db: Queryable }): Promise<IndicatorValue[]>;
}

/** Sums one counter metric per territory and month, and per territory and year. */
async function fromCounters(db: Queryable, metric: string): Promise<IndicatorValue[]> {
  const { rows } = await db.query<{ scope: 'region' | 'departement' | 'commune'; scope_id: string; month: string; value: number }>(
    `SELECT scope, scope_id, to_char(month, 'YYYY-MM') AS month, sum(value)::bigint AS value FROM mediation.stat_counter
      WHERE scope IN ('region', 'departement', 'commune') AND metric = $1 GROUP BY scope, scope_id, month ORDER BY scope, scope_id, month`,
    [metric],
  );
  return withYears(rows.map((r) => ({ territory: { kind: r.scope, code: r.scope_id }, period: r.month, value: Number(r.value) })));
}

/** Adds the yearly totals to monthly values. */
export function withYears(monthly: IndicatorValue[]): IndicatorValue[] {
  const years = new Map<string, IndicatorValue>();
  for (const v of monthly) {
    const k = `${v.territory.kind}:${v.territory.code}:${v.period.slice(0, 4)}`;
    const y = years.get(k) ?? { territory: v.territory, period: v.period.slice(0, 4), value: 0 };
    y.value += v.value;
    years.set(k, y);
  }
  return [...monthly, ...years.values()];
}

export const mediationIndicators: MediationIndicator[] = [
  {
    id: 'mediation.activities',
    title: 'Activités de médiation numérique enregistrées',
    unit: 'activités',
    compute: ({ db }) => fromCounters(db, 'activities'),
  },
  {
    id: 'mediation.people',
    title: 'Personnes accompagnées (accompagnements : une personne par activité)',
    unit: 'accompagnements',
    compute: ({ db }) => fromCounters(db, 'accompaniments'),
  },
  {
    id: 'mediation.training_paths_completed',
    title: 'Parcours de formation au numérique terminés',
    unit: 'parcours',
    compute: ({ db }) => fromCounters(db, 'training_completed'),
  },
];

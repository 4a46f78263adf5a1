/**
 * Live indicators for the roadmap: activities recorded, people accompanied, training paths
 * completed, per région and département and per period (month YYYY-MM and year YYYY).
 * These figures leave the module (the roadmap publishes them on the public barometer), so they are
 * the disclosure-protected ones (disclosure.ts): the same cells as the public page, API and open
 * data, null where those hide a count (below 5, or one that would give a small count away by
 * subtraction). Communes get nothing: their counts are staff-only. Read from the protected cubes,
 * kept in the database and rebuilt only when the counters change.
 * roadmap.ts registers them with the roadmap module (registerIndicator).
 */
import type { Queryable } from '../../platform/db/index.ts';
import { publicCube } from './disclosure.ts';

export interface IndicatorValue {
  territory: { kind: 'region' | 'departement'; code: string };
  period: string;
  /** null when the public figures hide it. */
  value: number | null;
}

export interface MediationIndicator {
  id: string;
  title: string;
  unit: string;
  compute(ctx: { db: Queryable }): Promise<IndicatorValue[]>;
}

/** One protected figure (figure, key of the cube) per région and département, per month and year with counters. */
async function fromCubes(db: Queryable, figure: string, key: string): Promise<IndicatorValue[]> {
  const { rows } = await db.query<{ region: string; year: string }>(
    `SELECT DISTINCT scope_id AS region, to_char(month, 'YYYY') AS year FROM mediation.stat_counter WHERE scope = 'region' AND metric = $1 AND value <> 0 ORDER BY 1, 2`,
    [figure],
  );
  const out: IndicatorValue[] = [];
  for (const r of rows) {
    const cube = await publicCube(db, r.region, r.year);
    const periods = [r.year, ...Array.from({ length: 12 }, (_, i) => `${r.year}-${String(i + 1).padStart(2, '0')}`)];
    for (const ref of cube.territories) {
      const [kind, code] = ref.split(':') as ['region' | 'departement', string];
      for (const period of periods) out.push({ territory: { kind, code }, period, value: cube.value(ref, period, figure, key) });
    }
  }
  return out;
}

export const mediationIndicators: MediationIndicator[] = [
  {
    id: 'mediation.activities',
    title: 'Activités de médiation numérique enregistrées',
    unit: 'activités',
    compute: ({ db }) => fromCubes(db, 'activities', '*'),
  },
  {
    id: 'mediation.people',
    title: 'Personnes accompagnées (accompagnements : une personne par activité)',
    unit: 'accompagnements',
    compute: ({ db }) => fromCubes(db, 'accompaniments', '*'),
  },
  {
    id: 'mediation.training_paths_completed',
    title: 'Parcours de formation au numérique terminés',
    unit: 'parcours',
    compute: ({ db }) => fromCubes(db, 'training_completed', 'path'),
  },
];

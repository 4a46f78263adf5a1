/**
 * Statistics by structure and by territory (issue #20: « mandates by démarche, duration, structure
 * and territory »): for regional staff, within their territories; counts only, no identity.
 */
import type { Queryable } from '../../platform/db/index.ts';

export interface StructureRow {
  id: string;
  name: string;
  departement: string | null;
  active: number;
  total: number;
  trainedHelpers: number;
}

/** One row per structure of the scope (by name): mandates in force, created, active trained helpers. */
export async function byStructure(db: Queryable, scope: { regions?: string[]; departements?: string[] }, now = new Date()): Promise<StructureRow[]> {
  const where: string[] = [];
  const params: unknown[] = [now.toISOString()];
  if (scope.regions) where.push(`s.region = ANY($${params.push(scope.regions)}::text[])`);
  if (scope.departements) where.push(`s.departement = ANY($${params.push(scope.departements)}::text[])`);
  const { rows } = await db.query<{ id: string; name: string; departement: string | null; active: number; total: number; trained: number }>(
    `SELECT s.id, s.name, s.departement,
            (SELECT count(*) FROM mandates.mandate m WHERE m.structure_id = s.id AND m.revoked_at IS NULL AND m.expires_at > $1)::int AS active,
            (SELECT count(*) FROM mandates.mandate m WHERE m.structure_id = s.id)::int AS total,
            (SELECT count(*) FROM mandates.helper h WHERE h.structure_id = s.id AND h.active AND h.trained_on IS NOT NULL)::int AS trained
       FROM mandates.structure s${where.length ? ` WHERE ${where.join(' OR ')}` : ''} ORDER BY s.departement NULLS LAST, s.name, s.id LIMIT 1000`,
    params,
  );
  return rows.map((r) => ({ id: r.id, name: r.name, departement: r.departement, active: r.active, total: r.total, trainedHelpers: r.trained }));
}

/** The same, summed by département. */
export function byDepartement(rows: StructureRow[]): { departement: string; structures: number; active: number; total: number; trainedHelpers: number }[] {
  const out = new Map<string, { departement: string; structures: number; active: number; total: number; trainedHelpers: number }>();
  for (const r of rows) {
    const key = r.departement ?? '—';
    const d = out.get(key) ?? { departement: key, structures: 0, active: 0, total: 0, trainedHelpers: 0 };
    d.structures++;
    d.active += r.active;
    d.total += r.total;
    d.trainedHelpers += r.trainedHelpers;
    out.set(key, d);
  }
  return [...out.values()];
}

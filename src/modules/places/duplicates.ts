/**
 * Duplicate detection across sources: the same pivot (SIRET/RNA) nearby, or very similar names
 * within about 100 m. Candidates are only proposed; merging is an explicit action by a person.
 */
import type { Db, Queryable } from '../../platform/db/index.ts';
import { UserError, NotFoundError } from '../../platform/http/errors.ts';
import type { FieldName } from './model/types.ts';
import { getPlacesByUids, STANDARD_COLUMNS, toRecord, upsertBatch } from './store.ts';
import { dataVersion, enrich, notifyChanged, TerritoryCache } from './service.ts';
import type { PlaceRecord } from './model/types.ts';

export interface DuplicateCandidate {
  a: { uid: string; nom: string; importSource: string; pivot: string; commune: string };
  b: { uid: string; nom: string; importSource: string; pivot: string; commune: string };
  distanceM: number;
  nameSimilarity: number;
  samePivot: boolean;
  crossSource: boolean;
  score: number;
  reason: string;
}

export interface DuplicateOptions {
  /** Same pivot: at most this far apart (m). */
  pivotRadiusM?: number;
  /** Similar names: at most this far apart (m). */
  nameRadiusM?: number;
  /** Trigram similarity of folded names, 0–1. */
  minNameSimilarity?: number;
  limit?: number;
  territory?: { column: 'departement' | 'region'; code: string };
}

export async function findDuplicateCandidates(db: Queryable, o: DuplicateOptions = {}): Promise<DuplicateCandidate[]> {
  const pivotR = o.pivotRadiusM ?? 1000;
  const nameR = o.nameRadiusM ?? 100;
  const minSim = o.minNameSimilarity ?? 0.6;
  const maxR = Math.max(pivotR, nameR);
  const dLat = maxR / 111_000;
  const params: unknown[] = [dLat, pivotR, nameR, minSim, o.limit ?? 1000];
  let territory = '';
  if (o.territory) {
    params.push(o.territory.code);
    territory = `AND a.${o.territory.column === 'region' ? 'region' : 'departement'} = $6`;
  }
  const { rows } = await db.query<{
    ua: string; ub: string; na: string; nb: string; sa: string; sb: string; pa: string; pb: string; ca: string; cb: string; d: number; s: number;
  }>(
    `SELECT * FROM (
       SELECT a.uid AS ua, b.uid AS ub, a.nom AS na, b.nom AS nb, a.import_source AS sa, b.import_source AS sb,
              a.pivot AS pa, b.pivot AS pb, a.commune AS ca, b.commune AS cb,
              1000 * platform.distance_km(a.latitude, a.longitude, b.latitude, b.longitude) AS d,
              similarity(a.name_folded, b.name_folded)::float8 AS s
       FROM places.place a
       JOIN LATERAL (
         SELECT b.* FROM places.place b
         WHERE b.geo <@ box(point(a.longitude - $1 / cos(radians(a.latitude)), a.latitude - $1),
                            point(a.longitude + $1 / cos(radians(a.latitude)), a.latitude + $1))
           AND b.uid > a.uid AND b.visible
       ) b ON true
       WHERE a.geo IS NOT NULL AND a.visible ${territory}
         AND (a.pivot = b.pivot OR a.name_folded % b.name_folded)
     ) pairs
     WHERE ((pa = pb AND d <= $2) OR (s >= $4 AND d <= $3))
       AND NOT EXISTS (SELECT 1 FROM places.duplicate_decision x WHERE x.uid_a = pairs.ua AND x.uid_b = pairs.ub)
     ORDER BY (pa = pb) DESC, s DESC, d ASC
     LIMIT $5`,
    params,
  );
  return rows.map((r) => {
    const samePivot = r.pa === r.pb;
    const score = Math.round((0.5 * (samePivot ? 1 : 0) + 0.4 * r.s + 0.1 * Math.max(0, 1 - r.d / maxR)) * 100) / 100;
    const reasons: string[] = [];
    if (samePivot) reasons.push(`même SIRET/RNA (${r.pa})`);
    if (r.s >= minSim) reasons.push(`noms très proches (${Math.round(r.s * 100)} %)`);
    reasons.push(`à ${Math.round(r.d)} m`);
    return {
      a: { uid: r.ua, nom: r.na, importSource: r.sa, pivot: r.pa, commune: r.ca },
      b: { uid: r.ub, nom: r.nb, importSource: r.sb, pivot: r.pb, commune: r.cb },
      distanceM: Math.round(r.d),
      nameSimilarity: Math.round(r.s * 100) / 100,
      samePivot,
      crossSource: r.sa !== r.sb,
      score,
      reason: reasons.join(', '),
    };
  });
}

function orderedPair(x: string, y: string): [string, string] {
  return x < y ? [x, y] : [y, x];
}

export async function markNotDuplicate(db: Queryable, uidA: string, uidB: string, actor: string): Promise<void> {
  const [a, b] = orderedPair(uidA, uidB);
  await db.query(
    `INSERT INTO places.duplicate_decision (uid_a, uid_b, decision, decided_by) VALUES ($1, $2, 'not_duplicate', $3)
     ON CONFLICT (uid_a, uid_b) DO UPDATE SET decision = 'not_duplicate', decided_by = $3, decided_at = now()`,
    [a, b, actor],
  );
}

/**
 * Merges `dropUid` into `keepUid`: the fields listed in `takeFromDropped` are copied from the
 * dropped record, the dropped record is hidden and points to the kept one (a later import of its
 * source updates it but keeps it hidden), and the decision is recorded.
 */
export async function mergePlaces(
  db: Db,
  keepUid: string,
  dropUid: string,
  takeFromDropped: FieldName[],
  actor: string,
): Promise<void> {
  if (keepUid === dropUid) throw new UserError('Un lieu ne peut pas être fusionné avec lui-même.', 400, 'drop');
  for (const f of takeFromDropped) {
    if (!STANDARD_COLUMNS.includes(f) || f === 'id') throw new UserError(`Champ inconnu ou non fusionnable : « ${f} ».`, 400, 'fields');
  }
  await db.transaction(async (tx) => {
    const versionBefore = await dataVersion(tx);
    await tx.query('SELECT uid FROM places.place WHERE uid = ANY($1::uuid[]) FOR UPDATE', [[keepUid, dropUid]]);
    const [keep, drop] = await getPlacesByUids(tx, [keepUid, dropUid]);
    if (!keep || !drop || keep.uid !== keepUid) throw new NotFoundError('Lieu introuvable pour la fusion.');
    if (takeFromDropped.length) {
      const record = toRecord(keep) as unknown as Record<string, unknown>;
      for (const f of takeFromDropped) record[f] = drop[f];
      // Rewritten through the normal write path so derived columns (search, hours, territory) follow.
      const { write } = await enrich(record as unknown as PlaceRecord, 0, keep.importSource, new TerritoryCache(tx), tx);
      await upsertBatch(tx, [write]);
    }
    await tx.query('UPDATE places.place SET visible = false, merged_into = $1, updated_at = now() WHERE uid = $2', [keepUid, dropUid]);
    const [a, b] = orderedPair(keepUid, dropUid);
    await tx.query(
      `INSERT INTO places.duplicate_decision (uid_a, uid_b, decision, decided_by) VALUES ($1, $2, 'merged', $3)
       ON CONFLICT (uid_a, uid_b) DO UPDATE SET decision = 'merged', decided_by = $3, decided_at = now()`,
      [a, b, actor],
    );
    // The dropped place is hidden (gone for coverage), the kept one may have changed.
    notifyChanged([keepUid, dropUid], [], { before: versionBefore, after: await dataVersion(tx) });
  });
}

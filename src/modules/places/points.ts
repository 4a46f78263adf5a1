/**
 * Place points for the coverage analytics (read through places/index.ts).
 */
import type { Queryable } from '../../platform/db/index.ts';

export interface PlacePoint {
  uid: string;
  lat: number;
  lon: number;
  /** Labels of the standard's services; places with the same services share one (frozen) array. */
  services: readonly string[];
  openSaturday: boolean;
  communeCode: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Points for coverage analytics: every visible place with coordinates (or only those of `uids`
 * among them; uids that are not valid uuids are ignored, being no place). Unordered.
 *
 * The places are grouped in the database by their services and Saturday opening, and each group
 * comes back as a few long strings (uids end to end, coordinates and communes comma-separated):
 * a handful of values instead of one row or JSON array per place, which the embedded database
 * decodes several times faster at 200,000 places. Coordinates are float8 printed in their
 * shortest exact form, so they read back to the same numbers.
 */
export async function listPlacePoints(db: Queryable, opts: { uids?: readonly string[] } = {}): Promise<PlacePoint[]> {
  let params: unknown[] = [];
  let where = '';
  if (opts.uids) {
    const uids = opts.uids.filter((u) => UUID.test(u));
    if (uids.length === 0) return [];
    params = [uids];
    where = ' AND uid = ANY($1::uuid[])';
  }
  const { rows } = await db.query<{ s: string; sat: boolean; n: number; u: string; la: string; lo: string; c: string }>(
    `SELECT array_to_string(services, '|') AS s, COALESCE(hours_week && '{[7200,8640)}'::int4multirange, false) AS sat, count(*)::int AS n,
            string_agg(uid::text, '') AS u, string_agg(latitude::text, ',') AS la, string_agg(longitude::text, ',') AS lo,
            string_agg(COALESCE(commune_code, ''), ',') AS c
       FROM places.place
      WHERE visible AND geo IS NOT NULL AND latitude IS NOT NULL AND longitude IS NOT NULL${where}
      GROUP BY 1, 2`,
    params,
  );
  const out: PlacePoint[] = [];
  for (const r of rows) {
    const services = Object.freeze(r.s ? r.s.split('|') : []);
    const u = r.u;
    const la = r.la.split(',');
    const lo = r.lo.split(',');
    const c = r.c.split(',');
    for (let i = 0; i < r.n; i++) {
      out.push({ uid: u.slice(36 * i, 36 * i + 36), lat: Number(la[i]), lon: Number(lo[i]), services, openSaturday: r.sat, communeCode: c[i] || null });
    }
  }
  return out;
}

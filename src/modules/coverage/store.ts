/**
 * The SQL over the coverage schema: per-commune measures, the snapshot of places they were computed
 * from, and the single state row. Bulk writes go through unnest() of array parameters.
 */
import type { Queryable } from '../../platform/db/index.ts';
import type { CommuneMeasure, CoveragePlace, Nearest } from './model.ts';

const SATURDAY_BIT = 1 << 30;

export interface CoverageState {
  version: number;
  services: string[];
  placesVersion: number | null;
  lastKind: string | null;
  lastRunAt: string | null;
  lastDurationMs: number | null;
  lastUpdatedCommunes: number | null;
  places: number | null;
  unattributedPlaces: number;
}

export async function readState(db: Queryable): Promise<CoverageState | null> {
  const { rows } = await db.query<{
    version: number;
    services: string[];
    places_version: number | null;
    last_kind: string | null;
    last_run_at: Date | string | null;
    last_duration_ms: number | null;
    last_updated_communes: number | null;
    places: number | null;
    unattributed_places: number;
  }>('SELECT * FROM coverage.state WHERE id');
  const r = rows[0];
  if (!r) return null;
  return {
    version: Number(r.version),
    services: r.services,
    placesVersion: r.places_version === null ? null : Number(r.places_version),
    lastKind: r.last_kind,
    lastRunAt: r.last_run_at === null ? null : new Date(r.last_run_at).toISOString(),
    lastDurationMs: r.last_duration_ms,
    lastUpdatedCommunes: r.last_updated_communes,
    places: r.places,
    unattributedPlaces: r.unattributed_places,
  };
}

export async function writeState(
  db: Queryable,
  s: { services: readonly string[]; placesVersion: number; kind: 'full' | 'incremental'; durationMs: number; updatedCommunes: number; places: number; unattributedPlaces: number },
): Promise<number> {
  const { rows } = await db.query<{ version: number }>(
    `INSERT INTO coverage.state (id, version, services, places_version, last_kind, last_run_at, last_duration_ms, last_updated_communes, places, unattributed_places)
     VALUES (true, 1, $1, $2, $3, now(), $4, $5, $6, $7)
     ON CONFLICT (id) DO UPDATE SET version = coverage.state.version + 1, services = EXCLUDED.services, places_version = EXCLUDED.places_version,
       last_kind = EXCLUDED.last_kind, last_run_at = now(), last_duration_ms = EXCLUDED.last_duration_ms,
       last_updated_communes = EXCLUDED.last_updated_communes, places = EXCLUDED.places, unattributed_places = EXCLUDED.unattributed_places
     RETURNING version`,
    [[...s.services], s.placesVersion, s.kind, Math.round(s.durationMs), s.updatedCommunes, s.places, s.unattributedPlaces],
  );
  return Number(rows[0]!.version);
}

// ---------------------------------------------------------------------------------------------
// Measures

/**
 * Inserts or replaces the measures of the given communes. Every value travels in a typed array
 * parameter (one per column, and one per service for the per-service distances and places), which
 * the embedded database parses much faster than array literals. `replaceAll` empties the table
 * first (a full recompute), so that rows are plain inserts instead of conflict-checked updates.
 */
export async function upsertMeasures(db: Queryable, measures: CommuneMeasure[], opts: { replaceAll?: boolean } = {}): Promise<void> {
  if (opts.replaceAll) await db.query('TRUNCATE coverage.commune_measure');
  const services = measures[0]?.byService.length ?? 0;
  const kmCols = Array.from({ length: services }, (_, i) => `k${i}`);
  const uidCols = Array.from({ length: services }, (_, i) => `u${i}`);
  const base = 16;
  const params = [
    ...kmCols.map((_, i) => `$${base + 1 + i}::float8[]`),
    ...uidCols.map((_, i) => `$${base + 1 + services + i}::text[]`),
  ];
  const sql = `INSERT INTO coverage.commune_measure (code, name, departement, region, epci, population, lat, lon, nearest_km, nearest_uid,
         service_km, service_uid, saturday_km, saturday_uid, within_5, within_10, within_20, places_in_commune, computed_at)
       SELECT code, name, departement, region, epci, population, lat, lon, nearest_km, nearest_uid,
              ARRAY[${kmCols.join(', ')}]::float8[], ARRAY[${uidCols.join(', ')}]::text[], saturday_km, saturday_uid, w5, w10, w20, places, now()
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::float8[], $8::float8[], $9::float8[], $10::text[],
                     $11::float8[], $12::text[], $13::int[], $14::int[], $15::int[], $16::int[]${params.length ? ', ' + params.join(', ') : ''})
           AS t(code, name, departement, region, epci, population, lat, lon, nearest_km, nearest_uid, saturday_km, saturday_uid, w5, w10, w20, places${kmCols.length ? ', ' + kmCols.join(', ') + ', ' + uidCols.join(', ') : ''})
       ${opts.replaceAll ? '' : `ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, departement = EXCLUDED.departement, region = EXCLUDED.region, epci = EXCLUDED.epci,
         population = EXCLUDED.population, lat = EXCLUDED.lat, lon = EXCLUDED.lon, nearest_km = EXCLUDED.nearest_km, nearest_uid = EXCLUDED.nearest_uid,
         service_km = EXCLUDED.service_km, service_uid = EXCLUDED.service_uid, saturday_km = EXCLUDED.saturday_km, saturday_uid = EXCLUDED.saturday_uid,
         within_5 = EXCLUDED.within_5, within_10 = EXCLUDED.within_10, within_20 = EXCLUDED.within_20, places_in_commune = EXCLUDED.places_in_commune,
         computed_at = now()`}`;
  for (let i = 0; i < measures.length; i += 5000) {
    const batch = measures.slice(i, i + 5000);
    const col = <T>(f: (m: CommuneMeasure) => T) => batch.map(f);
    await db.query(sql, [
      col((m) => m.code),
      col((m) => m.name),
      col((m) => m.departement),
      col((m) => m.region),
      col((m) => m.epci),
      col((m) => m.population),
      col((m) => m.lat),
      col((m) => m.lon),
      col((m) => m.nearest?.km ?? null),
      col((m) => m.nearest?.uid ?? null),
      col((m) => m.saturday?.km ?? null),
      col((m) => m.saturday?.uid ?? null),
      col((m) => m.within?.[0] ?? null),
      col((m) => m.within?.[1] ?? null),
      col((m) => m.within?.[2] ?? null),
      col((m) => m.placesInCommune),
      ...Array.from({ length: services }, (_, k) => col((m) => m.byService[k]?.km ?? null)),
      ...Array.from({ length: services }, (_, k) => col((m) => m.byService[k]?.uid ?? null)),
    ]);
  }
}

/** Removes the measures of communes no longer in the reference (after a COG change). */
export async function deleteMeasures(db: Queryable, codes: string[]): Promise<void> {
  if (codes.length) await db.query('DELETE FROM coverage.commune_measure WHERE code = ANY($1::text[])', [codes]);
}

interface MeasureRow {
  code: string;
  name: string;
  departement: string;
  region: string;
  epci: string | null;
  population: number;
  lat: number | null;
  lon: number | null;
  nearest_km: number | null;
  nearest_uid: string | null;
  service_km: (number | null)[];
  service_uid: (string | null)[];
  saturday_km: number | null;
  saturday_uid: string | null;
  within_5: number | null;
  within_10: number | null;
  within_20: number | null;
  places_in_commune: number;
}

const nearest = (km: number | null, uid: string | null): Nearest | null => (km === null || uid === null ? null : { km: Number(km), uid });

function toMeasure(r: MeasureRow): CommuneMeasure {
  return {
    code: r.code,
    name: r.name,
    departement: r.departement,
    region: r.region,
    epci: r.epci,
    population: Number(r.population),
    lat: r.lat === null ? null : Number(r.lat),
    lon: r.lon === null ? null : Number(r.lon),
    nearest: nearest(r.nearest_km, r.nearest_uid),
    byService: r.service_km.map((km, i) => nearest(km, r.service_uid[i] ?? null)),
    saturday: nearest(r.saturday_km, r.saturday_uid),
    within: r.within_5 === null ? null : [Number(r.within_5), Number(r.within_10), Number(r.within_20)],
    placesInCommune: Number(r.places_in_commune),
  };
}

export type MeasureFilter = { level: 'france' } | { level: 'region' | 'departement' | 'epci' | 'commune'; code: string } | { level: 'codes'; codes: string[] };

/** Stored measures, sorted by commune code; all of France or one territory. */
export async function readMeasures(db: Queryable, filter: MeasureFilter = { level: 'france' }): Promise<CommuneMeasure[]> {
  let where = '';
  const params: unknown[] = [];
  switch (filter.level) {
    case 'france':
      break;
    case 'codes':
      where = 'WHERE code = ANY($1::text[])';
      params.push(filter.codes);
      break;
    case 'commune':
      where = 'WHERE code = $1';
      params.push(filter.code);
      break;
    default:
      // The column is named after the level (region, departement, epci): chosen from a closed list.
      where = `WHERE ${filter.level} = $1`;
      params.push(filter.code);
  }
  const { rows } = await db.query<MeasureRow>(`SELECT * FROM coverage.commune_measure ${where} ORDER BY code`, params);
  return rows.map(toMeasure);
}

export async function countMeasures(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM coverage.commune_measure');
  return rows[0]!.n;
}

// ---------------------------------------------------------------------------------------------
// Place snapshot

export function maskOf(p: { services: string[]; openSaturday: boolean }, services: readonly string[]): number {
  let mask = p.openSaturday ? SATURDAY_BIT : 0;
  for (const s of p.services) {
    const i = services.indexOf(s);
    if (i >= 0) mask |= 1 << i;
  }
  return mask;
}

function fromMask(mask: number, services: readonly string[]): { services: string[]; openSaturday: boolean } {
  return { services: services.filter((_, i) => (mask & (1 << i)) !== 0), openSaturday: (mask & SATURDAY_BIT) !== 0 };
}

export async function readSnapshot(db: Queryable, services: readonly string[]): Promise<CoveragePlace[]> {
  const { rows } = await db.query<{ uid: string; lat: number; lon: number; mask: number; commune_code: string | null }>(
    'SELECT uid, lat, lon, mask, commune_code FROM coverage.place_snapshot',
  );
  return rows.map((r) => ({ uid: r.uid, lat: Number(r.lat), lon: Number(r.lon), communeCode: r.commune_code, ...fromMask(r.mask, services) }));
}

export async function upsertSnapshot(db: Queryable, places: CoveragePlace[], services: readonly string[]): Promise<void> {
  for (let i = 0; i < places.length; i += 20000) {
    const b = places.slice(i, i + 20000);
    await db.query(
      `INSERT INTO coverage.place_snapshot (uid, lat, lon, mask, commune_code)
       SELECT * FROM unnest($1::text[], $2::float8[], $3::float8[], $4::int[], $5::text[])
       ON CONFLICT (uid) DO UPDATE SET lat = EXCLUDED.lat, lon = EXCLUDED.lon, mask = EXCLUDED.mask, commune_code = EXCLUDED.commune_code`,
      [b.map((p) => p.uid), b.map((p) => p.lat), b.map((p) => p.lon), b.map((p) => maskOf(p, services)), b.map((p) => p.communeCode)],
    );
  }
}

export async function deleteSnapshot(db: Queryable, uids: string[] | 'all'): Promise<void> {
  if (uids === 'all') await db.query('TRUNCATE coverage.place_snapshot');
  else if (uids.length) await db.query('DELETE FROM coverage.place_snapshot WHERE uid = ANY($1::text[])', [uids]);
}

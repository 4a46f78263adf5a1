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

/** Separators of the rows and of the values of a row in a text parameter (ASCII record and unit separators). */
const ROW_SEP = '\u001e';
const SEP = '\u001f';

/** A text value as a field: null = empty, so a value may be neither empty nor hold a separator. */
function text(v: string | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (v === '' || v.includes(SEP) || v.includes(ROW_SEP)) throw new Error(`coverage: value ${JSON.stringify(v)} cannot be written as a text field`);
  return v;
}

/** A whole number as a field (null = empty). */
const int = (v: number | null | undefined): string => (v === null || v === undefined ? '' : String(v));

/** A distance (km) or an angle (degrees) as a whole number of millionths (null = empty). */
const millionths = (v: number | null | undefined): string => (v === null || v === undefined ? '' : String(Math.round(v * 1e6)));

/**
 * Rows per statement: each statement's text (~560 bytes a row) is copied several times inside the
 * embedded database (message, parameter, split arrays); 2,500 rows (~1.4 MB) cost less on a cold
 * write than 10,000 or all 35,000 at once (1.55 s against 1.67 s and 1.83 s for 34,969 rows).
 */
const ROWS_PER_STATEMENT = 2500;

/** The primary key of coverage.commune_measure (migration 001). */
const MEASURE_KEY = 'commune_measure_pkey';

/**
 * Inserts or replaces the measures of the given communes, 2,500 rows per statement. The rows
 * travel as ONE text parameter (rows separated by U+001E, values by U+001F, null = empty), split
 * in the statement: the embedded database converts array parameters element by element in
 * JavaScript (about 2 µs each, 1.2 million elements for 35,000 communes), and a multi-argument
 * unnest() of one array per column materialises each of them; one string split row by row in the
 * database's C code costs a fraction of either.
 *
 * `replaceAll` (a full recompute without a known previous state) empties the table first, so that
 * rows are plain inserts instead of conflict-checked updates, and builds the primary key once
 * after the rows are in instead of inserting each row into it (on PGlite ~50 ms against ~250 ms
 * for 35,000 rows). It must run inside a transaction: until the commit, readers wait (TRUNCATE
 * locks the table already) and a failure restores the table and its key.
 */
export async function upsertMeasures(db: Queryable, measures: CommuneMeasure[], opts: { replaceAll?: boolean } = {}): Promise<void> {
  if (opts.replaceAll) {
    await db.query('TRUNCATE coverage.commune_measure');
    if (measures.length === 0) return;
    await db.query(`ALTER TABLE coverage.commune_measure DROP CONSTRAINT ${MEASURE_KEY}`);
  }
  if (measures.length === 0) return;
  const services = measures[0]!.byService.length;
  // Fields 1–16 as below, then the services' distances (17 … 16 + services), then their places.
  const kmFrom = 17, uidFrom = 17 + services;
  // Distances travel as whole millimetres and centres as whole micro-degrees (both are rounded so:
  // roundKm in model.ts, loadCommunes in service.ts): the division gives back the same float8, and
  // integers parse several times faster than decimals in the embedded database.
  const km = (i: number) => `a[${i}]::int8 / 1e6::float8`;
  const sql = `INSERT INTO coverage.commune_measure (code, name, departement, region, epci, population, lat, lon, nearest_km, nearest_uid,
         service_km, service_uid, saturday_km, saturday_uid, within_5, within_10, within_20, places_in_commune, computed_at)
       SELECT a[1], a[2], a[3], a[4], a[5], a[6]::int, ${km(7)}, ${km(8)}, ${km(9)}, a[10],
              ${services ? `ARRAY[${Array.from({ length: services }, (_, k) => km(kmFrom + k)).join(', ')}]` : "'{}'::float8[]"},
              ${services ? `a[${uidFrom}:${uidFrom + services - 1}]` : "'{}'::text[]"},
              ${km(11)}, a[12], a[13]::int, a[14]::int, a[15]::int, a[16]::int, now()
         FROM (SELECT string_to_array(r, chr(31), '') AS a FROM unnest(string_to_array($1, chr(30))) AS r OFFSET 0) AS t
       ${opts.replaceAll ? '' : `ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, departement = EXCLUDED.departement, region = EXCLUDED.region, epci = EXCLUDED.epci,
         population = EXCLUDED.population, lat = EXCLUDED.lat, lon = EXCLUDED.lon, nearest_km = EXCLUDED.nearest_km, nearest_uid = EXCLUDED.nearest_uid,
         service_km = EXCLUDED.service_km, service_uid = EXCLUDED.service_uid, saturday_km = EXCLUDED.saturday_km, saturday_uid = EXCLUDED.saturday_uid,
         within_5 = EXCLUDED.within_5, within_10 = EXCLUDED.within_10, within_20 = EXCLUDED.within_20, places_in_commune = EXCLUDED.places_in_commune,
         computed_at = now()`}`;
  for (let i = 0; i < measures.length; i += ROWS_PER_STATEMENT) {
    const end = Math.min(measures.length, i + ROWS_PER_STATEMENT);
    const rows = new Array<string>(end - i);
    for (let r = i; r < end; r++) {
      const m = measures[r]!;
      const f = [text(m.code), text(m.name), text(m.departement), text(m.region), text(m.epci), int(m.population), millionths(m.lat), millionths(m.lon),
        millionths(m.nearest?.km), text(m.nearest?.uid), millionths(m.saturday?.km), text(m.saturday?.uid), int(m.within?.[0]), int(m.within?.[1]),
        int(m.within?.[2]), int(m.placesInCommune)];
      for (let k = 0; k < services; k++) f.push(millionths(m.byService[k]?.km));
      for (let k = 0; k < services; k++) f.push(text(m.byService[k]?.uid));
      rows[r - i] = f.join(SEP);
    }
    await db.query(sql, [rows.join(ROW_SEP)]);
  }
  if (opts.replaceAll) await db.query(`ALTER TABLE coverage.commune_measure ADD CONSTRAINT ${MEASURE_KEY} PRIMARY KEY (code)`);
}

/** Removes the measures of communes no longer in the reference (after a COG change). */
export async function deleteMeasures(db: Queryable, codes: string[]): Promise<void> {
  if (codes.length) await db.query('DELETE FROM coverage.commune_measure WHERE code = ANY($1::text[])', [codes]);
}

type MeasureRow = [
  code: string,
  name: string,
  departement: string,
  region: string,
  epci: string | null,
  population: number,
  lat: number | null,
  lon: number | null,
  nearestKm: number | null,
  nearestUid: string | null,
  serviceKm: (number | null)[],
  serviceUid: (string | null)[],
  saturdayKm: number | null,
  saturdayUid: string | null,
  within5: number | null,
  within10: number | null,
  within20: number | null,
  placesInCommune: number,
];

const nearest = (km: number | null, uid: string | null): Nearest | null => (km === null || uid === null ? null : { km: Number(km), uid });

function toMeasure(r: MeasureRow): CommuneMeasure {
  return {
    code: r[0],
    name: r[1],
    departement: r[2],
    region: r[3],
    epci: r[4],
    population: Number(r[5]),
    lat: r[6] === null ? null : Number(r[6]),
    lon: r[7] === null ? null : Number(r[7]),
    nearest: nearest(r[8], r[9]),
    byService: r[10].map((km, i) => nearest(km, r[11][i] ?? null)),
    saturday: nearest(r[12], r[13]),
    within: r[14] === null ? null : [Number(r[14]), Number(r[15]), Number(r[16])],
    placesInCommune: Number(r[17]),
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
  // One JSON document: the embedded database decodes row values (and the two arrays of each row)
  // in JavaScript, several times slower than JSON.parse. Distances are float8 printed with their
  // shortest exact form, so they read back to the same numbers.
  const { rows } = await db.query<{ j: string | null }>(
    `SELECT json_agg(json_build_array(code, name, departement, region, epci, population, lat, lon, nearest_km, nearest_uid, service_km, service_uid,
              saturday_km, saturday_uid, within_5, within_10, within_20, places_in_commune) ORDER BY code)::text AS j
       FROM coverage.commune_measure ${where}`,
    params,
  );
  return rows[0]?.j ? (JSON.parse(rows[0].j) as MeasureRow[]).map(toMeasure) : [];
}

export async function countMeasures(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM coverage.commune_measure');
  return rows[0]!.n;
}

// ---------------------------------------------------------------------------------------------
// Place snapshot

/** Service masks by services array (places from the places module share their arrays). */
const masks = new WeakMap<readonly string[], { services: readonly string[]; mask: number }>();

export function maskOf(p: { services: readonly string[]; openSaturday: boolean }, services: readonly string[]): number {
  let hit = masks.get(p.services);
  if (!hit || hit.services !== services) {
    let mask = 0;
    for (const s of p.services) {
      const i = services.indexOf(s);
      if (i >= 0) mask |= 1 << i;
    }
    masks.set(p.services, (hit = { services, mask }));
  }
  return p.openSaturday ? hit.mask | SATURDAY_BIT : hit.mask;
}

function fromMask(mask: number, services: readonly string[]): { services: string[]; openSaturday: boolean } {
  return { services: services.filter((_, i) => (mask & (1 << i)) !== 0), openSaturday: (mask & SATURDAY_BIT) !== 0 };
}

/** Number of buckets the snapshot of places is split into (see migration 003). */
export const BUCKETS = 256;

/** The bucket of a place: FNV-1a hash of its uid, modulo BUCKETS. */
export function bucketOf(uid: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < uid.length; i++) {
    h ^= uid.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % BUCKETS;
}

/** The places of the snapshot, all of them or those of the given buckets. */
export async function readSnapshot(db: Queryable, services: readonly string[], buckets?: Iterable<number>): Promise<CoveragePlace[]> {
  const only = buckets ? [...new Set(buckets)] : null;
  if (only && only.length === 0) return [];
  const { rows } = await db.query<{ data: string }>(
    `SELECT data FROM coverage.place_bucket${only ? ' WHERE bucket = ANY($1::int[])' : ''}`,
    only ? [only] : [],
  );
  const out: CoveragePlace[] = [];
  const decoded = new Map<number, { services: string[]; openSaturday: boolean }>();
  for (const r of rows) {
    if (r.data === '') continue;
    for (const line of r.data.split('\n')) {
      const [uid, lat, lon, mask, commune] = line.split('\t') as [string, string, string, string, string];
      const m = Number(mask);
      let d = decoded.get(m);
      if (!d) decoded.set(m, (d = fromMask(m, services)));
      out.push({ uid, lat: Number(lat), lon: Number(lon), services: d.services, openSaturday: d.openSaturday, communeCode: commune === '' ? null : commune });
    }
  }
  return out;
}

/** Groups places by bucket. */
export function byBucket(places: Iterable<CoveragePlace>): Map<number, CoveragePlace[]> {
  const out = new Map<number, CoveragePlace[]>();
  for (const p of places) {
    const b = bucketOf(p.uid);
    let list = out.get(b);
    if (!list) out.set(b, (list = []));
    list.push(p);
  }
  return out;
}

/**
 * Replaces the content of the given buckets (an empty list removes the bucket). `replaceAll`
 * empties the snapshot first (then `buckets` must hold every place).
 */
export async function writeBuckets(db: Queryable, buckets: Map<number, CoveragePlace[]>, services: readonly string[], opts: { replaceAll?: boolean } = {}): Promise<void> {
  if (opts.replaceAll) await db.query('TRUNCATE coverage.place_bucket');
  const ids: number[] = [];
  const counts: number[] = [];
  const data: string[] = [];
  const empty: number[] = [];
  for (const [b, places] of buckets) {
    if (places.length === 0) {
      empty.push(b);
      continue;
    }
    ids.push(b);
    counts.push(places.length);
    data.push(places.map((p) => `${p.uid}\t${p.lat}\t${p.lon}\t${maskOf(p, services)}\t${p.communeCode ?? ''}`).join('\n'));
  }
  if (empty.length && !opts.replaceAll) await db.query('DELETE FROM coverage.place_bucket WHERE bucket = ANY($1::int[])', [empty]);
  // The buckets' texts travel as one text parameter separated by U+001E (see upsertMeasures: no
  // element-by-element conversion of an array parameter).
  for (let i = 0; i < ids.length; i += 64) {
    await db.query(
      `INSERT INTO coverage.place_bucket (bucket, places, data)
       SELECT * FROM unnest($1::int[], $2::int[], string_to_array($3, chr(30)))
       ON CONFLICT (bucket) DO UPDATE SET places = EXCLUDED.places, data = EXCLUDED.data`,
      [ids.slice(i, i + 64), counts.slice(i, i + 64), data.slice(i, i + 64).join('\u001e')],
    );
  }
}

/**
 * SQL for the places module's own tables (schema `places`). Nothing else touches them.
 */
import type { Queryable } from '../../platform/db/index.ts';
import type { CoordinatesPrecision, FieldName, PlaceRecord } from './model/types.ts';

/** The standard's fields, in published order (the columns of places.place that carry them). */
export const STANDARD_COLUMNS: FieldName[] = [
  'id', 'pivot', 'nom', 'commune', 'code_postal', 'code_insee', 'adresse', 'complement_adresse', 'latitude', 'longitude',
  'typologie', 'telephone', 'courriels', 'site_web', 'horaires', 'presentation_resume', 'presentation_detail', 'source',
  'itinerance', 'structure_parente', 'date_maj', 'services', 'publics_specifiquement_adresses', 'prise_en_charge_specifique',
  'frais_a_charge', 'dispositif_programmes_nationaux', 'formations_labels', 'autres_formations_labels', 'modalites_acces',
  'modalites_accompagnement', 'fiche_acces_libre', 'prise_rdv',
];

const ARRAY_COLUMNS = new Set<string>([
  'typologie', 'courriels', 'site_web', 'itinerance', 'services', 'publics_specifiquement_adresses', 'prise_en_charge_specifique',
  'frais_a_charge', 'dispositif_programmes_nationaux', 'formations_labels', 'modalites_acces', 'modalites_accompagnement',
]);

/** Enum fields usable as filters; their values are indexed together in `tags` as `field=value`. */
export const FILTER_FIELDS = [
  'services', 'publics_specifiquement_adresses', 'prise_en_charge_specifique', 'frais_a_charge', 'modalites_acces',
  'modalites_accompagnement', 'dispositif_programmes_nationaux', 'formations_labels', 'typologie', 'itinerance',
] as const;
export type FilterField = (typeof FILTER_FIELDS)[number];

export interface Place extends PlaceRecord {
  uid: string;
  slug: string;
  importSource: string;
  coordinatesPrecision: CoordinatesPrecision;
  communeCode: string | null;
  departement: string | null;
  region: string | null;
  epci: string | null;
  createdAt: string;
  updatedAt: string;
  visible: boolean;
}

/** A place ready to be written: the standard record plus everything derived from it. */
export interface PlaceWrite {
  importSource: string;
  record: PlaceRecord;
  coordinatesPrecision: CoordinatesPrecision;
  communeCode: string | null;
  departement: string | null;
  region: string | null;
  epci: string | null;
  hoursWeek: [number, number][] | null;
  hoursExact: boolean;
  closedOnPh: boolean;
  /** Open intervals over the rolling horizon, for date-dependent rules (null otherwise). */
  openHorizon: [string, string][] | null;
  openWeekend: boolean;
  /** Extra words for full-text search (humanised typology labels…). */
  searchExtra: string;
  contentHash: string;
}

export function tagsOf(record: PlaceRecord): string[] {
  const tags: string[] = [];
  for (const f of FILTER_FIELDS) for (const v of record[f] as string[]) tags.push(`${f}=${v}`);
  if (record.prise_rdv) tags.push('prise_rdv=oui');
  return tags;
}

export function multirangeLiteral(ranges: [number, number][] | null): string | null {
  if (!ranges) return null;
  return `{${ranges.map(([a, b]) => `[${a},${b})`).join(',')}}`;
}

const RECORDSET_COLUMNS = [
  ...STANDARD_COLUMNS.map((c) => `${c} ${c === 'latitude' || c === 'longitude' ? 'double precision' : c === 'date_maj' ? 'date' : ARRAY_COLUMNS.has(c) ? 'text[]' : 'text'}`),
  'import_source text', 'coordinates_precision text', 'commune_code text', 'departement text', 'region text', 'epci text',
  'tags text[]', 'hours_week text', 'hours_exact boolean', 'closed_on_ph boolean', 'open_horizon text', 'open_weekend boolean', 'content_hash text', 'search_extra text',
].join(', ');

const WRITE_COLUMNS = [
  ...STANDARD_COLUMNS, 'import_source', 'coordinates_precision', 'commune_code', 'departement', 'region', 'epci', 'tags',
  'hours_week', 'hours_exact', 'closed_on_ph', 'open_horizon', 'open_weekend', 'content_hash', 'geo', 'name_folded', 'search',
];

const SELECT_WRITE = [
  ...STANDARD_COLUMNS, 'import_source', 'coordinates_precision', 'commune_code', 'departement', 'region', 'epci', 'tags',
  'hours_week::int4multirange', 'hours_exact', 'closed_on_ph', 'open_horizon::tstzmultirange', 'open_weekend', 'content_hash',
  'CASE WHEN latitude IS NULL OR longitude IS NULL THEN NULL ELSE point(longitude, latitude) END',
  'platform.fold(nom)',
  `setweight(to_tsvector('french', platform.unaccent(nom)), 'A')
   || setweight(to_tsvector('french', platform.unaccent(commune || ' ' || code_postal)), 'B')
   || setweight(to_tsvector('french', platform.unaccent(array_to_string(services, ' ') || ' ' || coalesce(search_extra, ''))), 'C')
   || setweight(to_tsvector('french', platform.unaccent(coalesce(presentation_resume, ''))), 'D')`,
];

const UPSERT_SQL = `
INSERT INTO places.place (${WRITE_COLUMNS.join(', ')})
SELECT ${SELECT_WRITE.join(', ')}
FROM jsonb_to_recordset($1::jsonb) AS r(${RECORDSET_COLUMNS})
ON CONFLICT (import_source, id) DO UPDATE SET
  ${WRITE_COLUMNS.filter((c) => c !== 'id' && c !== 'import_source').map((c) => `${c} = EXCLUDED.${c}`).join(',\n  ')},
  updated_at = now()
WHERE places.place.content_hash IS DISTINCT FROM EXCLUDED.content_hash
RETURNING uid, (xmax = 0) AS inserted`;

export interface UpsertOutcome {
  inserted: number;
  updated: number;
  unchanged: number;
  uids: string[];
}

export async function upsertBatch(db: Queryable, batch: PlaceWrite[]): Promise<UpsertOutcome> {
  if (batch.length === 0) return { inserted: 0, updated: 0, unchanged: 0, uids: [] };
  // Skip, before building anything in SQL, the records whose stored content is identical (a
  // re-import of an unchanged file costs one index look-up per row).
  const { rows: stored } = await db.query<{ k: string }>(
    `SELECT p.import_source || chr(31) || p.id || chr(31) || p.content_hash AS k
       FROM places.place p JOIN unnest($1::text[], $2::text[]) AS k(src, id) ON p.import_source = k.src AND p.id = k.id`,
    [batch.map((w) => w.importSource), batch.map((w) => w.record.id)],
  );
  const same = new Set(stored.map((r) => r.k));
  const changed = same.size ? batch.filter((w) => !same.has(`${w.importSource}\u001f${w.record.id}\u001f${w.contentHash}`)) : batch;
  if (changed.length === 0) return { inserted: 0, updated: 0, unchanged: batch.length, uids: [] };
  const json = changed.map((w) => ({
    ...w.record,
    import_source: w.importSource,
    coordinates_precision: w.coordinatesPrecision,
    commune_code: w.communeCode,
    departement: w.departement,
    region: w.region,
    epci: w.epci,
    tags: tagsOf(w.record),
    hours_week: multirangeLiteral(w.hoursWeek),
    hours_exact: w.hoursExact,
    closed_on_ph: w.closedOnPh,
    open_horizon: horizonLiteral(w.openHorizon),
    open_weekend: w.openWeekend,
    content_hash: w.contentHash,
    search_extra: w.searchExtra,
  }));
  const { rows } = await db.query<{ uid: string; inserted: boolean }>(UPSERT_SQL, [JSON.stringify(json)]);
  let inserted = 0;
  for (const r of rows) if (r.inserted) inserted++;
  return { inserted, updated: rows.length - inserted, unchanged: batch.length - rows.length, uids: rows.map((r) => r.uid) };
}

export function horizonLiteral(intervals: [string, string][] | null): string | null {
  if (!intervals) return null;
  return `{${intervals.map(([a, b]) => `["${a}","${b}")`).join(',')}}`;
}

/** Rewrites the open intervals of date-dependent hours (rolling horizon). */
export async function updateOpenHorizons(db: Queryable, items: { uid: string; intervals: [string, string][] }[]): Promise<void> {
  if (items.length === 0) return;
  await db.query(
    `UPDATE places.place p SET open_horizon = r.h::tstzmultirange
     FROM jsonb_to_recordset($1::jsonb) AS r(uid uuid, h text) WHERE p.uid = r.uid`,
    [JSON.stringify(items.map((i) => ({ uid: i.uid, h: horizonLiteral(i.intervals) })))],
  );
}

const PLACE_COLUMNS = `${STANDARD_COLUMNS.map((c) => `p.${c}`).join(', ')}, p.uid, p.import_source, p.coordinates_precision,
  p.commune_code, p.departement, p.region, p.epci, p.created_at, p.updated_at, p.visible`;

export function slugify(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80);
}

export function rowToPlace(r: Record<string, unknown>): Place {
  const place = {} as Record<string, unknown>;
  for (const c of STANDARD_COLUMNS) place[c] = r[c] ?? (ARRAY_COLUMNS.has(c) ? [] : null);
  const p = place as unknown as Place;
  p.uid = r.uid as string;
  p.slug = slugify(`${r.nom} ${r.commune}`);
  p.importSource = r.import_source as string;
  p.coordinatesPrecision = r.coordinates_precision as CoordinatesPrecision;
  p.communeCode = (r.commune_code as string | null) ?? null;
  p.departement = (r.departement as string | null) ?? null;
  p.region = (r.region as string | null) ?? null;
  p.epci = (r.epci as string | null) ?? null;
  p.createdAt = new Date(r.created_at as string).toISOString();
  p.updatedAt = new Date(r.updated_at as string).toISOString();
  p.visible = r.visible as boolean;
  return p;
}

/** The standard record of a stored place (the 32 fields only). */
export function toRecord(place: Place): PlaceRecord {
  const out = {} as Record<string, unknown>;
  for (const c of STANDARD_COLUMNS) out[c] = place[c];
  return out as unknown as PlaceRecord;
}

export async function getPlaceRow(db: Queryable, uid: string): Promise<Place | null> {
  if (!/^[0-9a-f-]{36}$/i.test(uid)) return null;
  const { rows } = await db.query(`SELECT ${PLACE_COLUMNS} FROM places.place p WHERE p.uid = $1`, [uid]);
  return rows[0] ? rowToPlace(rows[0]) : null;
}

export async function getPlacesByUids(db: Queryable, uids: string[]): Promise<Place[]> {
  if (uids.length === 0) return [];
  const { rows } = await db.query(`SELECT ${PLACE_COLUMNS} FROM places.place p WHERE p.uid = ANY($1::uuid[])`, [uids]);
  const byUid = new Map(rows.map((r) => [r.uid as string, rowToPlace(r)]));
  return uids.map((u) => byUid.get(u)).filter((p): p is Place => Boolean(p));
}

// ---------------------------------------------------------------------------------------------
// Search

export interface SqlFilter {
  q?: { folded: string; tsquery: string } | null;
  near?: { lat: number; lon: number; radiusKm: number } | null;
  territory?: { column: 'region' | 'departement' | 'epci' | 'commune_code'; code: string } | null;
  bbox?: [number, number, number, number] | null;
  tags?: string[][]; // AND of ORs
  open?: { minuteOfWeek: number; at: string; publicHoliday: boolean } | null;
  openWeekend?: boolean;
  onlineBooking?: boolean;
  includeHidden?: boolean;
  importSource?: string | null;
}

export type SortKind = 'distance' | 'relevance' | 'name';

export interface Cursor {
  s: SortKind;
  k: number | string;
  u: string;
}

class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

function buildWhere(f: SqlFilter, p: Params): { where: string[]; distance: string | null; rank: string | null } {
  const where: string[] = [];
  if (!f.includeHidden) where.push('p.visible');
  if (f.importSource) where.push(`p.import_source = ${p.add(f.importSource)}`);
  let distance: string | null = null;
  let rank: string | null = null;
  if (f.q) {
    const tsq = `to_tsquery('french', ${p.add(f.q.tsquery)})`;
    const qf = p.add(f.q.folded);
    where.push(`(p.search @@ ${tsq} OR ${qf} <% p.name_folded)`);
    rank = `((CASE WHEN p.name_folded LIKE '%' || ${qf} || '%' THEN 2 ELSE 0 END) + ts_rank(p.search, ${tsq}) + word_similarity(${qf}, p.name_folded))::float8`;
  }
  if (f.near) {
    const { lat, lon, radiusKm } = f.near;
    const dLat = radiusKm / 111.0;
    const dLon = radiusKm / (111.0 * Math.max(0.05, Math.cos((lat * Math.PI) / 180)));
    where.push(`p.geo <@ box(point(${p.add(lon - dLon)}, ${p.add(lat - dLat)}), point(${p.add(lon + dLon)}, ${p.add(lat + dLat)}))`);
    distance = `platform.distance_km(${p.add(lat)}::float8, ${p.add(lon)}::float8, p.latitude, p.longitude)`;
    where.push(`${distance} <= ${p.add(radiusKm)}::float8`);
  }
  if (f.territory) where.push(`p.${f.territory.column} = ${p.add(f.territory.code)}`);
  if (f.bbox) {
    const [w, s, e, n] = f.bbox;
    where.push(`p.geo <@ box(point(${p.add(w)}, ${p.add(s)}), point(${p.add(e)}, ${p.add(n)}))`);
  }
  for (const anyOf of f.tags ?? []) if (anyOf.length) where.push(`p.tags && ${p.add(anyOf)}::text[]`);
  if (f.open) {
    where.push(
      `((p.hours_exact AND p.hours_week @> ${p.add(f.open.minuteOfWeek)}::int4${f.open.publicHoliday ? ' AND NOT p.closed_on_ph' : ''})
        OR (NOT p.hours_exact AND p.open_horizon @> ${p.add(f.open.at)}::timestamptz))`,
    );
  }
  if (f.openWeekend) where.push('p.open_weekend');
  if (f.onlineBooking) where.push(`p.tags && ARRAY['prise_rdv=oui', 'modalites_acces=Prendre un RDV en ligne']::text[]`);
  return { where, distance, rank };
}

export interface SearchPage {
  total: number;
  rows: { place: Place; distanceKm: number | null; sortKey: number | string }[];
}

/** How many places match a filter. */
export async function countRows(db: Queryable, f: SqlFilter): Promise<number> {
  const p = new Params();
  const { where } = buildWhere(f, p);
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM places.place p ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`, p.values);
  return rows[0]!.n;
}

export async function searchRows(
  db: Queryable,
  f: SqlFilter,
  sort: SortKind,
  limit: number,
  cursor: Cursor | null,
  withTotal = true,
): Promise<SearchPage> {
  const p = new Params();
  const { where, distance, rank } = buildWhere(f, p);
  const countSql = `SELECT count(*)::int AS n FROM places.place p ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
  const countParams = [...p.values];
  let key: string;
  let order: string;
  if (sort === 'distance' && distance) {
    key = distance;
    order = `${key} ASC, p.uid ASC`;
    if (cursor) where.push(`(${key}, p.uid) > (${p.add(Number(cursor.k))}::float8, ${p.add(cursor.u)}::uuid)`);
  } else if (sort === 'relevance' && rank) {
    key = rank;
    order = `${key} DESC, p.uid ASC`;
    if (cursor) {
      const k = p.add(Number(cursor.k));
      where.push(`(${key} < ${k}::float8 OR (${key} = ${k}::float8 AND p.uid > ${p.add(cursor.u)}::uuid))`);
    }
  } else {
    key = 'p.name_folded';
    order = 'p.name_folded ASC, p.uid ASC';
    if (cursor) where.push(`(p.name_folded, p.uid) > (${p.add(String(cursor.k))}, ${p.add(cursor.u)}::uuid)`);
  }
  const sql = `SELECT ${PLACE_COLUMNS}, ${key} AS sort_key${distance ? `, ${distance} AS distance_km` : ''}
    FROM places.place p ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY ${order} LIMIT ${p.add(limit)}`;
  const [page, count] = await Promise.all([
    db.query(sql, p.values),
    withTotal ? db.query<{ n: number }>(countSql, countParams) : Promise.resolve(null),
  ]);
  return {
    total: count ? count.rows[0]!.n : -1,
    rows: page.rows.map((r) => ({
      place: rowToPlace(r),
      distanceKm: distance ? (r.distance_km as number) : null,
      sortKey: r.sort_key as number | string,
    })),
  };
}

export async function countBy(
  db: Queryable,
  f: SqlFilter,
  column: 'region' | 'departement' | 'epci' | 'commune_code',
): Promise<{ code: string; count: number }[]> {
  const p = new Params();
  const { where } = buildWhere(f, p);
  where.push(`p.${column} IS NOT NULL`);
  const { rows } = await db.query<{ code: string; count: number }>(
    `SELECT p.${column} AS code, count(*)::int AS count FROM places.place p WHERE ${where.join(' AND ')} GROUP BY 1 ORDER BY 1`,
    p.values,
  );
  return rows;
}

export async function countTags(db: Queryable, f: SqlFilter, prefix: string): Promise<Record<string, number>> {
  const p = new Params();
  const { where } = buildWhere(f, p);
  const { rows } = await db.query<{ tag: string; count: number }>(
    `SELECT t AS tag, count(*)::int AS count FROM places.place p, unnest(p.tags) AS t
     WHERE ${[...where, `t LIKE ${p.add(prefix + '=%')}`].join(' AND ')} GROUP BY 1`,
    p.values,
  );
  const out: Record<string, number> = {};
  for (const r of rows) out[r.tag.slice(prefix.length + 1)] = r.count;
  return out;
}

export async function mapPointsRows(db: Queryable, f: SqlFilter, limit: number): Promise<{ uid: string; lat: number; lon: number; nom: string }[]> {
  const p = new Params();
  const { where } = buildWhere(f, p);
  where.push('p.geo IS NOT NULL');
  const { rows } = await db.query<{ uid: string; lat: number; lon: number; nom: string }>(
    `SELECT p.uid, p.latitude AS lat, p.longitude AS lon, p.nom FROM places.place p WHERE ${where.join(' AND ')} LIMIT ${p.add(limit)}`,
    p.values,
  );
  return rows;
}

/**
 * The SQL over the territories schema. Every function takes a Queryable so that callers can run it
 * inside their own transaction.
 */
import type { Queryable } from '../../platform/db/index.ts';
import type { SourceRecord } from './sources.ts';
import {
  LEVEL_LABELS,
  likeEscape,
  normaliseCode,
  parseSearch,
  parseTerritoryRef,
  type Commune,
  type Territory,
  type TerritoryLevel,
} from './model.ts';

interface CommuneRow {
  code: string;
  name: string;
  kind: 'commune' | 'arrondissement';
  departement: string;
  region: string;
  epci: string | null;
  population: number;
  postal_codes: string[] | null;
  lat: number | null;
  lon: number | null;
  centre_method: string | null;
  parent: string | null;
}

/** A CommuneRow as a JSON array, in the order of COMMUNE_COLUMNS. */
type CommuneTuple = [string, string, CommuneRow['kind'], string, string, string | null, number, string[] | null, number | null, number | null, string | null, string | null];

const COMMUNE_COLUMNS = `c.code, c.name, c.kind, c.departement, c.region, c.epci, c.population, c.postal_codes, c.lat, c.lon, c.centre_method, c.parent`;

function toCommune(r: CommuneRow): Commune {
  return {
    code: r.code,
    name: r.name,
    kind: r.kind,
    departement: r.departement,
    region: r.region,
    epci: r.epci,
    population: Number(r.population),
    postalCodes: r.postal_codes ?? [],
    lat: r.lat === null ? null : Number(r.lat),
    lon: r.lon === null ? null : Number(r.lon),
    centreMethod: r.centre_method,
    parent: r.parent,
  };
}

/** A commune or municipal arrondissement by its INSEE code ('2a004' is read as '2A004'). */
export async function getCommune(db: Queryable, code: string): Promise<Commune | null> {
  if (typeof code !== 'string') return null;
  const { rows } = await db.query<CommuneRow>(`SELECT ${COMMUNE_COLUMNS} FROM territories.commune c WHERE c.code = $1`, [normaliseCode(code)]);
  return rows[0] ? toCommune(rows[0]) : null;
}

/** Several communes (or arrondissements) by INSEE code in one query (bulk imports); unknown codes are absent. */
export async function getCommunes(db: Queryable, codes: string[]): Promise<Map<string, Commune>> {
  const wanted = [...new Set(codes.filter((c) => typeof c === 'string').map(normaliseCode))];
  const out = new Map<string, Commune>();
  if (!wanted.length) return out;
  const { rows } = await db.query<CommuneRow>(`SELECT ${COMMUNE_COLUMNS} FROM territories.commune c WHERE c.code = ANY($1::text[])`, [wanted]);
  for (const r of rows) {
    const c = toCommune(r);
    out.set(c.code, c);
  }
  return out;
}

/** communesByPostalCode for several postal codes in one query: postal code → communes, most populous first. */
export async function communesByPostalCodes(db: Queryable, postalCodes: string[]): Promise<Map<string, Commune[]>> {
  const wanted = [...new Set(postalCodes.filter((p) => typeof p === 'string').map((p) => p.trim()).filter((p) => /^\d{5}$/.test(p)))];
  const out = new Map<string, Commune[]>(wanted.map((p) => [p, []]));
  if (!wanted.length) return out;
  const { rows } = await db.query<CommuneRow & { pc: string }>(
    `SELECT ${COMMUNE_COLUMNS}, pc FROM territories.commune c, unnest($1::text[]) AS pc
      WHERE c.postal_codes @> ARRAY[pc] ORDER BY c.population DESC, c.code`,
    [wanted],
  );
  for (const r of rows) out.get(r.pc)!.push(toCommune(r));
  return out;
}

/** The communes (and arrondissements) a postal code serves, most populous first. */
export async function communesByPostalCode(db: Queryable, postalCode: string): Promise<Commune[]> {
  if (typeof postalCode !== 'string') return [];
  const pc = postalCode.trim();
  if (!/^\d{5}$/.test(pc)) return [];
  const { rows } = await db.query<CommuneRow>(
    `SELECT ${COMMUNE_COLUMNS} FROM territories.commune c WHERE c.postal_codes @> ARRAY[$1]::text[]
      ORDER BY c.population DESC, c.code`,
    [pc],
  );
  return rows.map(toCommune);
}

/**
 * Name search: every word typed must start a word of the name (accents, case, hyphens and
 * apostrophes ignored; "st"/"ste" also match "saint"/"sainte"), or the whole text must start the
 * name written without spaces. Exact names first, then communes before arrondissements, then by
 * population. A 5-character code in the text is read as a postal code (else an INSEE code) and
 * narrows the result: "75011 Paris", "51100", "2A004".
 */
export async function searchCommunes(db: Queryable, text: string, limit = 10): Promise<Commune[]> {
  if (typeof text !== 'string') return [];
  const lim = Math.max(1, Math.min(100, Math.floor(Number.isFinite(limit) ? limit : 10)));
  const q = parseSearch(text);
  if (!q.code && q.words.length === 0) return [];
  const params: unknown[] = [];
  const where: string[] = [];
  if (q.code) {
    params.push(q.code);
    const p = `$${params.length}`;
    // A postal code first; when it serves no commune, the same digits as an INSEE code.
    where.push(
      `(c.postal_codes @> ARRAY[${p}]::text[] OR (c.code = ${p} AND NOT EXISTS (SELECT 1 FROM territories.commune x WHERE x.postal_codes @> ARRAY[${p}]::text[])))`,
    );
  }
  if (q.words.length) {
    const wordConds = q.words.map((alternatives) =>
      '(' +
      alternatives
        .map((w) => {
          params.push(`% ${likeEscape(w)}%`);
          return `(' ' || c.name_fold) LIKE $${params.length}`;
        })
        .join(' OR ') +
      ')',
    );
    params.push(`${likeEscape(q.compact)}%`);
    where.push(`((${wordConds.join(' AND ')}) OR c.name_compact LIKE $${params.length})`);
  }
  params.push(q.folded);
  const exact = `$${params.length}`;
  params.push(lim);
  const { rows } = await db.query<CommuneRow>(
    `SELECT ${COMMUNE_COLUMNS} FROM territories.commune c
      WHERE ${where.join(' AND ')}
      ORDER BY (c.name_fold = ${exact}) DESC, (c.kind = 'arrondissement'), c.population DESC, c.code
      LIMIT $${params.length}`,
    params,
  );
  return rows.map(toCommune);
}

/**
 * How far points lie outside their communes' outlines, in one query: for each `{code, lat, lon}`,
 * 0 when the point is inside the commune's polygon (an arrondissement: its commune's), else a
 * lower bound of the distance to the outline in km (the distance in degrees, longitude not
 * shrunk, times 111.32 × cos(latitude)); null when the commune has no polygon (geometry not
 * loaded, overseas collectivités) or the point is not a valid position. A ring test then every
 * edge (~0.1 ms a commune in the embedded database): bulk imports first screen points with
 * `communeBoxes`.
 */
export async function distancesOutsideCommunes(db: Queryable, points: { code: string; lat: number; lon: number }[]): Promise<(number | null)[]> {
  const ok = (p: { code: string; lat: number; lon: number }) =>
    typeof p.code === 'string' && Number.isFinite(p.lat) && Number.isFinite(p.lon) && Math.abs(p.lat) <= 90 && Math.abs(p.lon) <= 180;
  const idx: number[] = [];
  const codes: string[] = [];
  const lats: number[] = [];
  const lons: number[] = [];
  points.forEach((p, i) => {
    if (!ok(p)) return;
    idx.push(i);
    codes.push(normaliseCode(p.code));
    lats.push(p.lat);
    lons.push(p.lon);
  });
  const out: (number | null)[] = points.map(() => null);
  if (!idx.length) return out;
  const { rows } = await db.query<{ i: number; d: number | null }>(
    `SELECT u.i, (SELECT min(point(u.lon * 10000, u.lat * 10000) <-> r.ring)
                    FROM territories.commune_ring r
                   WHERE r.ring_no = 0
                     AND r.commune_code = COALESCE((SELECT c.parent FROM territories.commune c WHERE c.code = u.code AND c.kind = 'arrondissement'), u.code)) AS d
       FROM unnest($1::int[], $2::text[], $3::float8[], $4::float8[]) AS u(i, code, lat, lon)`,
    [idx.map((_, k) => k), codes, lats, lons],
  );
  for (const r of rows) {
    if (r.d === null) continue;
    const k = Number(r.i);
    out[idx[k]!] = (Number(r.d) / 10000) * 111.32 * Math.cos((lats[k]! * Math.PI) / 180);
  }
  return out;
}

/**
 * The bounding boxes (degrees: west, south, east, north) of the parts of several communes'
 * polygons (an arrondissement: its commune's), in one query; a commune without a polygon is
 * absent. A point inside none of a commune's boxes is outside the commune: bulk checks test the
 * boxes in the process and ask `distancesOutsideCommunes` only about those points.
 */
export async function communeBoxes(db: Queryable, codes: string[]): Promise<Map<string, [number, number, number, number][]>> {
  const wanted = [...new Set(codes.filter((c) => typeof c === 'string').map(normaliseCode))];
  const out = new Map<string, [number, number, number, number][]>();
  if (!wanted.length) return out;
  const { rows } = await db.query<{ code: string; w: number; s: number; e: number; n: number }>(
    `SELECT x.code, (r.bbox[1])[0] AS w, (r.bbox[1])[1] AS s, (r.bbox[0])[0] AS e, (r.bbox[0])[1] AS n
       FROM unnest($1::text[]) AS x(code)
       JOIN territories.commune_ring r
         ON r.ring_no = 0
        AND r.commune_code = COALESCE((SELECT c.parent FROM territories.commune c WHERE c.code = x.code AND c.kind = 'arrondissement'), x.code)`,
    [wanted],
  );
  for (const r of rows) {
    const list = out.get(r.code) ?? [];
    list.push([Number(r.w) / 10000, Number(r.s) / 10000, Number(r.e) / 10000, Number(r.n) / 10000]);
    out.set(r.code, list);
  }
  return out;
}

/** The commune containing a point (WGS84 degrees); null at sea, abroad, or when polygons are missing. */
export async function communeAt(db: Queryable, lat: number, lon: number): Promise<Commune | null> {
  if (!Number.isFinite(lat) || !Number.isFinite(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180) return null;
  const { rows } = await db.query<CommuneRow>(
    `SELECT ${COMMUNE_COLUMNS} FROM territories.commune c WHERE c.code = territories.commune_at($1::float8, $2::float8)`,
    [lat, lon],
  );
  return rows[0] ? toCommune(rows[0]) : null;
}

interface TerritoryRow {
  code: string;
  name: string;
  population: number;
  commune_count: number;
}

function territory(level: TerritoryLevel, r: TerritoryRow, parents: Territory['parents']): Territory {
  return { level, code: r.code, name: r.name, population: Number(r.population), parents, communeCount: Number(r.commune_count) };
}

/**
 * A territory and its parents, from 'region:84', 'departement:2A', 'epci:200000172', 'commune:75056'
 * or a bare code (5 characters → commune, 9 digits → EPCI, 2–3 characters → département). Null when
 * unknown or malformed. A municipal arrondissement resolves as a commune whose parents include its
 * commune, with communeCount 0.
 */
export async function resolveTerritory(db: Queryable, ref: string): Promise<Territory | null> {
  const parsed = parseTerritoryRef(ref);
  if (!parsed) return null;
  const { level, code } = parsed;
  if (level === 'region') {
    const { rows } = await db.query<TerritoryRow>('SELECT code, name, population, commune_count FROM territories.region WHERE code = $1', [code]);
    return rows[0] ? territory('region', rows[0], []) : null;
  }
  if (level === 'departement') {
    const { rows } = await db.query<TerritoryRow & { r_code: string; r_name: string }>(
      `SELECT d.code, d.name, d.population, d.commune_count, r.code AS r_code, r.name AS r_name
         FROM territories.departement d JOIN territories.region r ON r.code = d.region WHERE d.code = $1`,
      [code],
    );
    const r = rows[0];
    return r ? territory('departement', r, [{ level: 'region', code: r.r_code, name: r.r_name }]) : null;
  }
  if (level === 'epci') {
    const { rows } = await db.query<TerritoryRow>('SELECT code, name, population, commune_count FROM territories.epci WHERE code = $1', [code]);
    const r = rows[0];
    if (!r) return null;
    // An EPCI may straddle départements (and régions): its parents are those of most of its population.
    const { rows: p } = await db.query<{ d_code: string; d_name: string; r_code: string; r_name: string }>(
      `SELECT d.code AS d_code, d.name AS d_name, r.code AS r_code, r.name AS r_name
         FROM territories.commune c JOIN territories.departement d ON d.code = c.departement JOIN territories.region r ON r.code = d.region
        WHERE c.epci = $1 AND c.kind = 'commune'
        GROUP BY d.code, d.name, r.code, r.name ORDER BY sum(c.population) DESC, d.code LIMIT 1`,
      [code],
    );
    const parents: Territory['parents'] = p[0]
      ? [
          { level: 'region', code: p[0].r_code, name: p[0].r_name },
          { level: 'departement', code: p[0].d_code, name: p[0].d_name },
        ]
      : [];
    return territory('epci', r, parents);
  }
  const { rows } = await db.query<
    TerritoryRow & { kind: string; parent: string | null; p_name: string | null; d_code: string; d_name: string; r_code: string; r_name: string; e_code: string | null; e_name: string | null }
  >(
    `SELECT c.code, c.name, c.population, CASE WHEN c.kind = 'commune' THEN 1 ELSE 0 END AS commune_count, c.kind, c.parent, p.name AS p_name,
            d.code AS d_code, d.name AS d_name, r.code AS r_code, r.name AS r_name, e.code AS e_code, e.name AS e_name
       FROM territories.commune c
       JOIN territories.departement d ON d.code = c.departement
       JOIN territories.region r ON r.code = c.region
       LEFT JOIN territories.epci e ON e.code = c.epci
       LEFT JOIN territories.commune p ON p.code = c.parent
      WHERE c.code = $1`,
    [code],
  );
  const r = rows[0];
  if (!r) return null;
  const parents: Territory['parents'] = [
    { level: 'region', code: r.r_code, name: r.r_name },
    { level: 'departement', code: r.d_code, name: r.d_name },
  ];
  if (r.e_code && r.e_name) parents.push({ level: 'epci', code: r.e_code, name: r.e_name });
  if (r.parent && r.p_name) parents.push({ level: 'commune', code: r.parent, name: r.p_name });
  return territory('commune', r, parents);
}

/** SQL condition selecting the communes of a parsed territory reference ($1 = code). */
function withinCondition(level: TerritoryLevel): string {
  switch (level) {
    case 'region':
      return 'c.region = $1';
    case 'departement':
      return 'c.departement = $1';
    case 'epci':
      return 'c.epci = $1';
    case 'commune':
      return 'c.code = $1';
  }
}

/**
 * The INSEE codes of the current communes of a territory, sorted. With `arrondissements: true`, the
 * municipal arrondissements inside it are added (useful when matching data coded either way).
 * Empty for an unknown or malformed reference.
 */
export async function communeCodesIn(db: Queryable, ref: string, options: { arrondissements?: boolean } = {}): Promise<string[]> {
  const parsed = parseTerritoryRef(ref);
  if (!parsed) return [];
  const kinds = options.arrondissements ? `c.kind IN ('commune', 'arrondissement')` : `c.kind = 'commune'`;
  // An arrondissement asked for directly counts as itself only when arrondissements are wanted.
  let cond = withinCondition(parsed.level);
  if (parsed.level === 'commune' && options.arrondissements) cond = '(c.code = $1 OR c.parent = $1)';
  const { rows } = await db.query<{ code: string }>(`SELECT c.code FROM territories.commune c WHERE ${cond} AND ${kinds} ORDER BY c.code`, [parsed.code]);
  return rows.map((r) => r.code);
}

/** All current communes (optionally those of a territory), with their centres, sorted by code. */
export async function listCommunes(db: Queryable, ref?: string): Promise<Commune[]> {
  if (ref === undefined || ref === null || ref === '') {
    // All ~35,000 communes as one JSON document: the embedded database decodes 35,000 rows (and
    // their postal-code arrays) in JavaScript several times slower than JSON.parse (1.5 s against 0.4 s).
    const { rows } = await db.query<{ j: string | null }>(
      `SELECT json_agg(json_build_array(${COMMUNE_COLUMNS}) ORDER BY c.code)::text AS j FROM territories.commune c WHERE c.kind = 'commune'`,
    );
    const list = rows[0]?.j ? (JSON.parse(rows[0].j) as CommuneTuple[]) : [];
    return list.map(([code, name, kind, departement, region, epci, population, postal_codes, lat, lon, centre_method, parent]) =>
      toCommune({ code, name, kind, departement, region, epci, population, postal_codes, lat, lon, centre_method, parent }),
    );
  }
  const parsed = parseTerritoryRef(ref);
  if (!parsed) return [];
  const { rows } = await db.query<CommuneRow>(
    `SELECT ${COMMUNE_COLUMNS} FROM territories.commune c WHERE ${withinCondition(parsed.level)} AND c.kind = 'commune' ORDER BY c.code`,
    [parsed.code],
  );
  return rows.map(toCommune);
}

/** A current commune as the coverage measures need it: no postal codes, centre method nor parent. */
export interface CommunePoint {
  code: string;
  name: string;
  departement: string;
  region: string;
  epci: string | null;
  population: number;
  lat: number | null;
  lon: number | null;
}

/**
 * Every current commune (arrondissements excluded), sorted by code, with only what a per-commune
 * computation needs: one JSON document of eight values per commune (~0.25 s on PGlite against
 * ~0.36 s for listCommunes, which also builds the postal-code arrays and centre methods).
 */
export async function listCommunePoints(db: Queryable): Promise<CommunePoint[]> {
  const { rows } = await db.query<{ j: string | null }>(
    `SELECT json_agg(json_build_array(c.code, c.name, c.departement, c.region, c.epci, c.population, c.lat, c.lon) ORDER BY c.code)::text AS j
       FROM territories.commune c WHERE c.kind = 'commune'`,
  );
  const list = rows[0]?.j ? (JSON.parse(rows[0].j) as [string, string, string, string, string | null, number, number | null, number | null][]) : [];
  return list.map(([code, name, departement, region, epci, population, lat, lon]) => ({ code, name, departement, region, epci, population: Number(population), lat, lon }));
}

/** Every région of the COG, overseas collectivités (codes 975–989, listed as régions by the package) last. */
export async function listRegions(db: Queryable): Promise<Territory[]> {
  const { rows } = await db.query<TerritoryRow>(
    `SELECT code, name, population, commune_count FROM territories.region ORDER BY (zone = 'com'), code`,
  );
  return rows.map((r) => territory('region', r, []));
}

/** The départements, of one région when given, sorted by code. */
export async function listDepartements(db: Queryable, region?: string): Promise<Territory[]> {
  const params: unknown[] = [];
  let where = '';
  if (region !== undefined && region !== null && region !== '') {
    params.push(normaliseCode(region));
    where = 'WHERE d.region = $1';
  }
  const { rows } = await db.query<TerritoryRow & { r_code: string; r_name: string }>(
    `SELECT d.code, d.name, d.population, d.commune_count, r.code AS r_code, r.name AS r_name
       FROM territories.departement d JOIN territories.region r ON r.code = d.region ${where}
      ORDER BY (d.zone = 'com'), d.code`,
    params,
  );
  return rows.map((r) => territory('departement', r, [{ level: 'region', code: r.r_code, name: r.r_name }]));
}

export interface TerritoriesStatus {
  loaded: boolean;
  cogYear: number;
  packageVersion: string | null;
  source: string | null;
  loadedAt: string | null;
  centres: boolean;
  polygons: boolean;
  geometrySource: string | null;
  counts: { regions: number; departements: number; epci: number; communes: number; arrondissements: number; rings: number; boundaries: number };
  /** Current communes (not arrondissements) without a centre. */
  communesWithoutCentre: string[];
  /** What each geometry source gave: address, licence, date, size, SHA-256. */
  sources: SourceRecord[];
}

/** The gaps of the loaded geometry, by kind (what `territories status` lists). */
export interface TerritoryGaps {
  /** Communes of mainland France and the overseas départements without a centre (created after the data's year). */
  communesWithoutCentre: { code: string; name: string }[];
  /** Communes of the overseas collectivités (975–988) without a centre. */
  overseasWithoutCentre: { code: string; name: string }[];
  /** Municipal arrondissements placed at their commune's centre (the source has no point of their own). */
  arrondissementsAtCommuneCentre: string[];
  /** Current communes without a polygon (point-in-commune finds no commune there). */
  communesWithoutPolygon: { code: string; name: string; zone: string }[];
}

export async function gaps(db: Queryable): Promise<TerritoryGaps> {
  const { rows } = await db.query<{ code: string; name: string; zone: string; kind: string; lat: number | null; centre_method: string | null; has_ring: boolean }>(
    `SELECT c.code, c.name, c.zone, c.kind, c.lat, c.centre_method,
            EXISTS (SELECT 1 FROM territories.commune_ring r WHERE r.commune_code = c.code) AS has_ring
       FROM territories.commune c ORDER BY c.code`,
  );
  const polygons = rows.some((r) => r.has_ring);
  return {
    communesWithoutCentre: rows.filter((r) => r.kind === 'commune' && r.zone !== 'com' && r.lat === null).map((r) => ({ code: r.code, name: r.name })),
    overseasWithoutCentre: rows.filter((r) => r.kind === 'commune' && r.zone === 'com' && r.lat === null).map((r) => ({ code: r.code, name: r.name })),
    arrondissementsAtCommuneCentre: rows.filter((r) => r.kind === 'arrondissement' && r.centre_method === 'commune-parente').map((r) => r.code),
    communesWithoutPolygon: polygons ? rows.filter((r) => r.kind === 'commune' && !r.has_ring).map((r) => ({ code: r.code, name: r.name, zone: r.zone })) : [],
  };
}

/** Boundary collections, cached by load date: [loadedAt, body]. */
const boundaryCache = new Map<string, { loadedAt: string; body: string }>();

/**
 * The département or région boundaries as a GeoJSON FeatureCollection (properties code, nom), or
 * null when none are loaded. `metropole`: mainland France only.
 */
export async function boundaryCollection(db: Queryable, level: 'region' | 'departement', opts: { metropole?: boolean } = {}): Promise<string | null> {
  const { rows: meta } = await db.query<{ loaded_at: Date | string }>('SELECT loaded_at FROM territories.meta WHERE id = 1');
  if (!meta[0]) return null;
  const loadedAt = new Date(meta[0].loaded_at).toISOString();
  const key = `${level}|${opts.metropole ? 'metro' : 'all'}`;
  const hit = boundaryCache.get(key);
  if (hit && hit.loadedAt === loadedAt) return hit.body;
  const table = level === 'region' ? 'territories.region' : 'territories.departement';
  const { rows } = await db.query<{ code: string; name: string; geometry: string }>(
    `SELECT b.code, b.name, b.geometry FROM territories.boundary b JOIN ${table} t ON t.code = b.code
      WHERE b.level = $1 AND ($2::boolean IS FALSE OR t.zone = 'metro') ORDER BY b.code`,
    [level, Boolean(opts.metropole)],
  );
  if (rows.length === 0) return null;
  const body = `{"type":"FeatureCollection","features":[${rows
    .map((r) => `{"type":"Feature","properties":${JSON.stringify({ code: r.code, nom: r.name })},"geometry":${r.geometry}}`)
    .join(',')}]}`;
  boundaryCache.set(key, { loadedAt, body });
  return body;
}

/**
 * A short fingerprint of the loaded reference data (COG year, load time, geometry): it changes
 * whenever territories are (re)loaded, so a module may key results derived from them on it.
 */
export async function dataStamp(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ stamp: string }>(
    `SELECT concat_ws('|', cog_year, to_char(loaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), centres_loaded, polygons_loaded, geometry_source) AS stamp
       FROM territories.meta WHERE id = 1`,
  );
  return rows[0]?.stamp ?? 'none';
}

/** What is loaded; cogYear 0 and everything false when nothing is. */
export async function status(db: Queryable): Promise<TerritoriesStatus> {
  const { rows } = await db.query<{
    cog_year: number;
    package_version: string;
    source: string;
    loaded_at: Date | string;
    centres_loaded: boolean;
    polygons_loaded: boolean;
    geometry_source: string | null;
    sources: SourceRecord[] | string;
  }>('SELECT cog_year, package_version, source, loaded_at, centres_loaded, polygons_loaded, geometry_source, sources FROM territories.meta WHERE id = 1');
  const { rows: counts } = await db.query<Record<string, number>>(
    `SELECT (SELECT count(*) FROM territories.region) AS regions,
            (SELECT count(*) FROM territories.departement) AS departements,
            (SELECT count(*) FROM territories.epci) AS epci,
            (SELECT count(*) FROM territories.commune WHERE kind = 'commune') AS communes,
            (SELECT count(*) FROM territories.commune WHERE kind = 'arrondissement') AS arrondissements,
            (SELECT count(*) FROM territories.commune_ring) AS rings,
            (SELECT count(*) FROM territories.boundary) AS boundaries`,
  );
  const { rows: missing } = await db.query<{ code: string }>(
    `SELECT code FROM territories.commune WHERE kind = 'commune' AND lat IS NULL ORDER BY code`,
  );
  const m = rows[0];
  const c = counts[0]!;
  return {
    loaded: Boolean(m),
    cogYear: m ? Number(m.cog_year) : 0,
    packageVersion: m?.package_version ?? null,
    source: m?.source ?? null,
    loadedAt: m ? new Date(m.loaded_at).toISOString() : null,
    centres: m?.centres_loaded ?? false,
    polygons: m?.polygons_loaded ?? false,
    geometrySource: m?.geometry_source ?? null,
    counts: {
      regions: Number(c.regions),
      departements: Number(c.departements),
      epci: Number(c.epci),
      communes: Number(c.communes),
      arrondissements: Number(c.arrondissements),
      rings: Number(c.rings),
      boundaries: Number(c.boundaries),
    },
    communesWithoutCentre: missing.map((r) => r.code),
    sources: m ? (typeof m.sources === 'string' ? (JSON.parse(m.sources) as SourceRecord[]) : m.sources) : [],
  };
}

/**
 * EPCI (intercommunalités) by name or SIREN: a 9-digit code is looked up as is; otherwise every word
 * typed must start a word of the name (accents, case and punctuation ignored; « CA », « CC » and
 * other words are matched like the rest). Most populated first; at most `limit` (1–50).
 */
export async function searchEpcis(db: Queryable, text: string, limit = 10): Promise<Territory[]> {
  if (typeof text !== 'string') return [];
  const lim = Math.max(1, Math.min(50, Math.floor(Number.isFinite(limit) ? limit : 10)));
  const trimmed = text.trim();
  if (/^\d{9}$/.test(trimmed)) {
    const { rows } = await db.query<TerritoryRow>('SELECT code, name, population, commune_count FROM territories.epci WHERE code = $1', [trimmed]);
    return rows.map((r) => territory('epci', r, []));
  }
  const words = parseSearch(trimmed.slice(0, 200)).folded.split(' ').filter(Boolean).slice(0, 8);
  if (!words.length) return [];
  const params: unknown[] = words.map((w) => `% ${likeEscape(w)}%`);
  params.push(lim);
  const { rows } = await db.query<TerritoryRow>(
    `SELECT code, name, population, commune_count FROM territories.epci
      WHERE ${words.map((_, i) => `(' ' || platform.fold(name)) LIKE $${i + 1}`).join(' AND ')}
      ORDER BY population DESC, code LIMIT $${params.length}`,
    params,
  );
  return rows.map((r) => territory('epci', r, []));
}

/** The current commune that a former INSEE code (merged or renumbered commune) now belongs to. */
export async function currentCommuneOf(db: Queryable, code: string): Promise<Commune | null> {
  const direct = await getCommune(db, code);
  if (direct) return direct;
  const { rows } = await db.query<CommuneRow>(
    `SELECT ${COMMUNE_COLUMNS} FROM territories.former_code f JOIN territories.commune c ON c.code = f.current_code
      WHERE f.code = $1 ORDER BY (f.kind = 'ancien-code'), c.population DESC LIMIT 1`,
    [normaliseCode(code)],
  );
  return rows[0] ? toCommune(rows[0]) : null;
}

export { LEVEL_LABELS };

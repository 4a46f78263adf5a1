/**
 * SQL for the places module's own tables (schema `places`). Nothing else touches them.
 */
import { slugify } from '../../platform/slug.ts';
import crypto from 'node:crypto';
import { CopyBuffer, copyLine, copyRows, copyValue, type Db, type Queryable } from '../../platform/db/index.ts';
import type { CoordinatesPrecision, FieldName, PlaceRecord } from './model/types.ts';
import { docWords, stemWords, tsvectorLiteral, type StemCache, type WordsCache } from './search-doc.ts';

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
  /** The line's stable head and its hash (see encodeHead). */
  head: string | null;
  contentHash: string;
  /** The hash of the file's record as read (see importPlaces), when the record raised no issue:
   *  the next import of the same record skips it. Absent (null) for every other write. */
  rawHash?: string | null;
}

/**
 * The values one GIN index answers every filter from: `field=value` for each enum value, and the
 * place's territories (`region=84`, `departement=69`, `epci=…`, `commune=69123`), so that a
 * territory and filters combine in one index scan that skips through the rarest key.
 */
export function tagsOf(record: PlaceRecord, territory?: { communeCode: string | null; departement: string | null; region: string | null; epci: string | null }): string[] {
  const tags: string[] = [];
  for (const f of FILTER_FIELDS) for (const v of record[f] as string[]) tags.push(`${f}=${v}`);
  if (record.prise_rdv) tags.push('prise_rdv=oui');
  if (territory) {
    if (territory.region) tags.push(`region=${territory.region}`);
    if (territory.departement) tags.push(`departement=${territory.departement}`);
    if (territory.epci) tags.push(`epci=${territory.epci}`);
    if (territory.communeCode) tags.push(`commune=${territory.communeCode}`);
  }
  return tags;
}

/** The tag a territory filter looks for. */
export function territoryTag(column: 'region' | 'departement' | 'epci' | 'commune_code', code: string): string {
  return `${column === 'commune_code' ? 'commune' : column}=${code}`;
}

export function multirangeLiteral(ranges: [number, number][] | null): string | null {
  if (!ranges) return null;
  return `{${ranges.map(([a, b]) => `[${a},${b})`).join(',')}}`;
}

/**
 * The columns a batch carries, in order, with their SQL types: those of the staging table the
 * batch is copied into. The first ones (the standard record, its source, and what the territories
 * add to it) are the row's stable head: its content hash is the hash of their text, so the text is
 * built once per record (see `encodeHead`).
 */
const STAGE_TYPES: [string, string][] = [
  ...STANDARD_COLUMNS.map((c): [string, string] => [c, c === 'latitude' || c === 'longitude' ? 'double precision' : c === 'date_maj' ? 'date' : ARRAY_COLUMNS.has(c) ? 'text[]' : 'text']),
  ['import_source', 'text'], ['coordinates_precision', 'text'], ['commune_code', 'text'], ['departement', 'text'], ['region', 'text'], ['epci', 'text'],
  ['tags', 'text[]'], ['hours_week', 'int4multirange'], ['hours_exact', 'boolean'], ['closed_on_ph', 'boolean'], ['open_weekend', 'boolean'],
  ['open_horizon', 'tstzmultirange'], ['content_hash', 'text'], ['search_doc', 'tsvector'], ['raw_hash', 'text'],
];
const STAGE_COLUMNS = STAGE_TYPES.map(([c]) => c);

/** The columns of places.place a write sets, in the order of STAGE_COLUMNS (the staging table's
 *  `search_doc`, built in JS with the stems PostgreSQL gives — see search-doc.ts — is `search`).
 *  `name_folded` and `geo` are generated by the database (migration 010). */
const WRITE_COLUMNS = STAGE_COLUMNS.map((c) => (c === 'search_doc' ? 'search' : c));
const SELECT_WRITE = STAGE_COLUMNS;

/** A direct write's columns: a staging line followed by the new place's uid. */
const DIRECT_COLUMNS = [...WRITE_COLUMNS, 'uid'];

/**
 * The staging table of the transaction's batches: a temporary table (the connection's own, dropped
 * at commit or rollback), so concurrent imports never see each other's rows.
 */
const STAGE_TABLE = 'pg_temp.places_import_stage';
const CREATE_STAGE_SQL = `CREATE TEMP TABLE IF NOT EXISTS places_import_stage (${STAGE_TYPES.map(([c, t]) => `${c} ${t}`).join(', ')}) ON COMMIT DROP`;

/** The merge of a staged batch: inserts new records, updates those whose content changed. */
const MERGE_SQL = `
INSERT INTO places.place (${WRITE_COLUMNS.join(', ')})
SELECT ${SELECT_WRITE.join(', ')}
FROM ${STAGE_TABLE}
ON CONFLICT (import_source, id) DO UPDATE SET
  ${WRITE_COLUMNS.filter((c) => c !== 'id' && c !== 'import_source').map((c) => `${c} = EXCLUDED.${c}`).join(',\n  ')},
  updated_at = now(),
  -- A place that an earlier "replace the source" removed comes back under its uid.
  visible = CASE WHEN places.place.removed_run IS NULL THEN places.place.visible ELSE places.place.merged_into IS NULL END,
  removed_run = NULL
WHERE places.place.content_hash IS DISTINCT FROM EXCLUDED.content_hash OR places.place.removed_run IS NOT NULL
RETURNING uid, (xmax = 0) AS inserted`;

/** Records the raw hash of staged records whose content is stored unchanged (not a change). */
const RAW_HASH_SQL = `
UPDATE places.place p SET raw_hash = s.raw_hash FROM ${STAGE_TABLE} s
 WHERE p.import_source = s.import_source AND p.id = s.id AND s.id = ANY($1::text[])
   AND s.raw_hash IS NOT NULL AND p.content_hash = s.content_hash AND p.removed_run IS NULL`;

/** What a record's stable head is made of. */
type HeadSource = Pick<PlaceWrite, 'record' | 'importSource' | 'coordinatesPrecision' | 'communeCode' | 'departement' | 'region' | 'epci'>;

/** The head's values, in the order of STAGE_TYPES. */
function headValues(w: HeadSource): unknown[] {
  const r = w.record as unknown as Record<string, unknown>;
  const values: unknown[] = [];
  for (const c of STANDARD_COLUMNS) values.push(r[c] ?? null);
  values.push(w.importSource, w.coordinatesPrecision, w.communeCode, w.departement, w.region, w.epci);
  return values;
}

/**
 * The stable head of a record's staging line (the standard fields, source, coordinates precision
 * and territory codes, in COPY's text format: tab-separated, escaped, `\N` for null), and its
 * content hash: an import skips a record whose stored hash is the same. COPY's escaping is
 * reversible, so two different records never share a head.
 */
export function encodeHead(w: HeadSource): { head: string; contentHash: string } {
  const head = copyLine(headValues(w));
  return { head, contentHash: crypto.hash('sha256', head, 'base64url') };
}

export interface UpsertOutcome {
  inserted: number;
  updated: number;
  unchanged: number;
  uids: string[];
}

const EMPTY = Buffer.alloc(0);

/** A batch ready to be written: the rows that differ from what is stored, as COPY lines. */
export interface PreparedUpsert {
  /** Rows in the batch. */
  size: number;
  /** The uids of the new places when the lines are copied straight into places.place (see
   *  PrepareOptions.direct); absent for a merge. */
  directUids?: string[];
  /** The staging lines of the rows to write (the others are stored with the same content), in
   *  COPY's text format, encoded. */
  data: Buffer;
  /** How many lines `data` holds. */
  rows: number;
  /** Ids of rows staged only to record their raw hash (content stored unchanged). */
  rawOnly?: Set<string>;
}

export interface PrepareOptions {
  stems?: StemCache;
  words?: WordsCache;
  /** The batch's sources held no place when the write began: no stored hash to look up (the
   *  upsert's own content-hash condition still skips a record repeated within the write). */
  sourcesEmpty?: boolean;
  /**
   * With `sourcesEmpty`, when no other write may add places to these sources before the write
   * commits (the import holds its source's lock): the ids written so far. A batch none of whose
   * ids is in it is copied straight into places.place — no staging table, no merge, which was
   * about half of a first import's database time — and its ids are added; a batch naming an id
   * written before (a file repeating an id) goes through the merge, which updates it.
   */
  direct?: Set<string>;
}

/**
 * Reads what a batch needs from the database (the stored content hashes of its records, the stems
 * of the words not seen yet) and builds the rows to write. `db` may be another connection than the
 * one that writes (see importPlaces): a record written earlier in the same uncommitted import is
 * then not seen as stored, and the merge's own content-hash condition still skips it.
 */
export async function prepareUpsert(db: Queryable, batch: PlaceWrite[], opts: PrepareOptions = {}): Promise<PreparedUpsert> {
  if (batch.length === 0) return { size: 0, data: EMPTY, rows: 0 };
  const { stems = new Map(), words = new Map() } = opts;
  // Skip, before building anything, the records whose stored content is identical: the hashes are
  // compared in SQL, which returns only the keys of the records that changed (a re-import of an
  // unchanged file costs one index look-up per row and an empty answer).
  let changed = batch;
  const rawOnly = new Set<string>();
  if (!opts.sourcesEmpty) {
    const { rows } = await db.query<{ i: number; same: boolean }>(
      `SELECT k.i, (p.content_hash = k.h AND p.removed_run IS NULL) AS same
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS k(src, id, h, r, i)
         LEFT JOIN places.place p ON p.import_source = k.src AND p.id = k.id
        WHERE p.uid IS NULL OR p.content_hash IS DISTINCT FROM k.h OR p.removed_run IS NOT NULL
           OR (k.r IS NOT NULL AND p.raw_hash IS DISTINCT FROM k.r)
        ORDER BY k.i`,
      [batch.map((w) => w.importSource), batch.map((w) => w.record.id), batch.map((w) => w.contentHash), batch.map((w) => w.rawHash ?? null)],
    );
    changed = rows.map((r) => batch[Number(r.i) - 1]!);
    for (const r of rows) if (r.same) rawOnly.add(batch[Number(r.i) - 1]!.record.id);
  }
  if (changed.length === 0) return { size: batch.length, data: EMPTY, rows: 0 };
  const docs = changed.map((w) =>
    docWords([w.record.nom, `${w.record.commune} ${w.record.code_postal}`, `${w.record.services.join(' ')} ${w.searchExtra}`, w.record.presentation_resume], words),
  );
  await stemWords(db, docs, stems);
  const direct = opts.sourcesEmpty && opts.direct && !changed.some((w) => opts.direct!.has(w.record.id)) ? opts.direct : null;
  const directUids: string[] = [];
  // About 2 KB a line (the buffer grows when more is needed).
  const lines = new CopyBuffer(changed.length * 2500);
  for (let i = 0; i < changed.length; i++) {
    const w = changed[i]!;
    const head = w.head ?? encodeHead(w).head;
    let uid = '';
    if (direct) {
      direct.add(w.record.id);
      directUids.push((uid = crypto.randomUUID()));
    }
    lines.push(
      `${head}\t${copyValue(tagsOf(w.record, w))}\t${copyValue(multirangeLiteral(w.hoursWeek))}\t${copyValue(w.hoursExact)}\t${copyValue(w.closedOnPh)}` +
        `\t${copyValue(w.openWeekend)}\t${copyValue(horizonLiteral(w.openHorizon))}\t${w.contentHash}\t${copyValue(tsvectorLiteral(docs[i]!, stems))}` +
        `\t${copyValue(w.rawHash ?? null)}${direct ? `\t${uid}` : ''}`,
    );
  }
  return direct ? { size: batch.length, data: lines.data(), rows: lines.rows, directUids } : { size: batch.length, data: lines.data(), rows: lines.rows, rawOnly };
}

/**
 * Writes a prepared batch: COPY into the transaction's staging table, then one merge (insert the
 * new records, update those whose content changed). `db` must be a transaction's connection.
 */
export async function writeUpsert(db: Queryable, prepared: PreparedUpsert): Promise<UpsertOutcome> {
  if (prepared.rows === 0) return { inserted: 0, updated: 0, unchanged: prepared.size, uids: [] };
  if (prepared.directUids) {
    const inserted = await copyRows(db, 'places.place', DIRECT_COLUMNS, { data: prepared.data });
    return { inserted, updated: 0, unchanged: prepared.size - inserted, uids: prepared.directUids };
  }
  await db.query(CREATE_STAGE_SQL);
  await copyRows(db, STAGE_TABLE, STAGE_COLUMNS, { data: prepared.data });
  const { rows } = await db.query<{ uid: string; inserted: boolean }>(MERGE_SQL);
  if (prepared.rawOnly?.size) await db.query(RAW_HASH_SQL, [[...prepared.rawOnly]]);
  await db.query(`TRUNCATE ${STAGE_TABLE}`);
  let inserted = 0;
  for (const r of rows) if (r.inserted) inserted++;
  return { inserted, updated: rows.length - inserted, unchanged: prepared.size - rows.length, uids: rows.map((r) => r.uid) };
}

export async function upsertBatch(db: Queryable, batch: PlaceWrite[], opts: PrepareOptions = {}): Promise<UpsertOutcome> {
  return writeUpsert(db, await prepareUpsert(db, batch, opts));
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

/** How the places of a page are read: the columns selected (table alias `p`) and what a row becomes. */
export interface Projection<T> {
  columns: string;
  map: (row: Record<string, unknown>) => T;
  uid: (item: T) => string;
}

export const PLACE_PROJECTION: Projection<Place> = { columns: PLACE_COLUMNS, map: rowToPlace, uid: (p) => p.uid };

/** A place as the public API shows it, serialised by the database (see JSON_PROJECTION). */
export interface PlaceJsonText {
  uid: string;
  /** A JSON object: the standard fields in published order, then the platform's public fields. */
  json: string;
}

const UTC_ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/**
 * The public JSON of a place built by the database (the API's list pages): the same object the
 * API builds from a place (`placeJson` in routes.ts; a test checks both agree) without decoding
 * every column and re-encoding it in the process, which was most of a search request's CPU time.
 */
export const JSON_PROJECTION: Projection<PlaceJsonText> = {
  columns: `p.uid, (SELECT row_to_json(j) FROM (SELECT ${STANDARD_COLUMNS.map((c) => `p.${c}`).join(', ')}, p.uid, p.coordinates_precision,
    p.departement, p.region, p.epci, to_char(p.created_at AT TIME ZONE 'UTC', ${UTC_ISO}) AS created_at,
    to_char(p.updated_at AT TIME ZONE 'UTC', ${UTC_ISO}) AS updated_at) j)::text AS item_json`,
  map: (r) => ({ uid: r.uid as string, json: r.item_json as string }),
  uid: (j) => j.uid,
};

export { slugify };

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

/**
 * The record as the standard exports publish it. A place positioned at its commune centre because
 * it had no coordinates is exported without coordinates (so a re-import still knows they are
 * approximate), unless `approximate` asks for the commune centre.
 */
export function exportRecord(place: Place, opts: { approximate?: boolean } = {}): PlaceRecord {
  const r = toRecord(place);
  if (place.coordinatesPrecision === 'commune' && !opts.approximate) {
    r.latitude = null;
    r.longitude = null;
  }
  return r;
}

/** A text cell that a spreadsheet would run as a formula (numbers such as "-1.5" or "+33 1…" are not). */
export function formulaLike(value: string): boolean {
  return /^[=+\-@\t\r]/.test(value) && !/^[+-]?[\d\s.,()]+$/.test(value);
}

/** For spreadsheet downloads: a formula-like text cell gets a leading apostrophe (OWASP). */
export function neutraliseFormulas(r: PlaceRecord): PlaceRecord {
  const out = { ...r } as Record<string, unknown>;
  for (const [k, v] of Object.entries(out)) {
    if (typeof v === 'string' && formulaLike(v)) out[k] = `'${v}`;
    else if (Array.isArray(v)) out[k] = v.map((x) => (typeof x === 'string' && formulaLike(x) ? `'${x}` : x));
  }
  return out as unknown as PlaceRecord;
}

export async function getPlaceRow(db: Queryable, uid: string): Promise<Place | null> {
  if (!/^[0-9a-f-]{36}$/i.test(uid)) return null;
  const { rows } = await db.query(`SELECT ${PLACE_COLUMNS} FROM places.place p WHERE p.uid = $1`, [uid], { prepare: true });
  return rows[0] ? rowToPlace(rows[0]) : null;
}

export async function getPlacesByUids(db: Queryable, uids: string[]): Promise<Place[]> {
  return readByUids(db, uids, PLACE_PROJECTION);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The places with these uids, in the order given (unknown uids are left out, and so are strings
 * that are not uids: a caller passing user input never gets a database error for it).
 */
export async function readByUids<T>(db: Queryable, uids: string[], projection: Projection<T>): Promise<T[]> {
  const valid = uids.filter((u) => typeof u === 'string' && UUID.test(u));
  if (valid.length === 0) return [];
  const { rows } = await db.query(`SELECT ${projection.columns} FROM places.place p WHERE p.uid = ANY($1::uuid[])`, [valid], { prepare: true });
  const byUid = new Map(rows.map((r) => [r.uid as string, projection.map(r)]));
  return valid.map((u) => byUid.get(u.toLowerCase())).filter((p): p is T => p !== undefined);
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
  /** Only these places (a filter registered by another module: extensions.ts), sorted. */
  uids?: string[] | null;
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

/** Relevance tiers of a text query, best first: see `textTiers`. */
export const TIER_COUNT = 5;

/**
 * The conditions that put a matching place in each relevance tier (index = tier):
 * 4 the name holds the whole text as typed (from the start of a word), 3 the name holds every word, 2 every word is in the
 * name, commune or postal code, 1 every word is somewhere (services, description…), 0 the name is
 * only close to the text (a typo). A place is in the highest tier whose condition holds.
 */
function textTiers(q: NonNullable<SqlFilter['q']>, p: Params): { match: string; tiers: (() => string)[] } {
  const words = q.tsquery.split(' & ');
  // Each condition adds its parameters when it is used (a statement may not carry unused ones).
  const tsq = (weights: string) => `to_tsquery('french', ${p.add(words.map((w) => `${w}${weights}`).join(' & '))}::text)`;
  const like = () => `p.name_folded LIKE ${p.add(`%${q.folded}%`)}::text`;
  // Tier 4: the text as typed, starting at a word of the name ("rennes" is not in "varennes").
  // (A regular expression on the column itself, so the planner estimates it from the statistics.)
  const phrase = () => `p.name_folded ~ ${p.add(`(^| )${q.folded}`)}::text`;
  const any = () => `p.search @@ ${tsq('')}`;
  return {
    match: `(${any()} OR ${p.add(q.folded)}::text <% p.name_folded OR ${like()})`,
    tiers: [() => 'true', any, () => `p.search @@ ${tsq('AB')}`, () => `p.search @@ ${tsq('A')}`, phrase],
  };
}

function buildWhere(f: SqlFilter, p: Params): { where: string[]; distance: string | null; tiers: (() => string)[] | null } {
  const where: string[] = [];
  if (!f.includeHidden) where.push('p.visible');
  if (f.importSource) where.push(`p.import_source = ${p.add(f.importSource)}`);
  if (f.uids) where.push(`p.uid = ANY (${p.add(f.uids.filter((u) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(u)))}::uuid[])`);
  let distance: string | null = null;
  let tiers: (() => string)[] | null = null;
  if (f.q) {
    const text = textTiers(f.q, p);
    where.push(text.match);
    tiers = text.tiers;
  }
  if (f.near) {
    const { lat, lon, radiusKm } = f.near;
    const dLat = radiusKm / 111.0;
    const dLon = radiusKm / (111.0 * Math.max(0.05, Math.cos((lat * Math.PI) / 180)));
    where.push(`p.geo <@ box(point(${p.add(lon - dLon)}, ${p.add(lat - dLat)}), point(${p.add(lon + dLon)}, ${p.add(lat + dLat)}))`);
    // From the indexed point (longitude, latitude), so the covering index answers alone.
    distance = `platform.distance_km(${p.add(lat)}::float8, ${p.add(lon)}::float8, p.geo[1], p.geo[0])`;
    where.push(`${distance} <= ${p.add(radiusKm)}::float8`);
  }
  if (f.territory) where.push(`p.tags @> ARRAY[${p.add(territoryTag(f.territory.column, f.territory.code))}]::text[]`);
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
  return { where, distance, tiers };
}

const whereSql = (where: string[]) => (where.length ? `WHERE ${where.join(' AND ')}` : '');

export interface SearchPage<T = Place> {
  total: number;
  rows: { item: T; uid: string; distanceKm: number | null; sortKey: number | string }[];
}

/** How many places match a filter. */
export async function countRows(db: Queryable, f: SqlFilter): Promise<number> {
  const p = new Params();
  const { where } = buildWhere(f, p);
  const count = (q: Queryable) => q.query<{ n: number }>(`SELECT count(*)::int AS n FROM places.place p ${whereSql(where)}`, p.values);
  const { rows } = await (f.q ? viaIndexes(db, count) : count(db));
  return rows[0]!.n;
}

/**
 * Runs a statement over the matches of a text query with sequential scans disabled. For a common
 * word the planner expects a scan of the whole table to be cheaper than the text indexes, not
 * knowing that the typo condition (`<%`, word similarity) then runs on every place that is not a
 * match: counting "france services" at 200,000 places took 1.8 s that way, 0.3 s through the
 * indexes (which only hand over candidates). Needs a `Db` (a transaction for `SET LOCAL`); inside
 * someone else's transaction the statement runs as planned.
 */
async function viaIndexes<T>(db: Queryable, fn: (q: Queryable) => Promise<T>): Promise<T> {
  if (!('transaction' in db)) return fn(db);
  return (db as Db).transaction(async (tx) => {
    await tx.exec('SET LOCAL enable_seqscan = off');
    return fn(tx);
  });
}

/** How many places matching a text filter fall in each relevance tier (index = tier). */
export async function countTiers(db: Queryable, f: SqlFilter): Promise<number[]> {
  const p = new Params();
  const { where, tiers } = buildWhere(f, p);
  if (!tiers) throw new Error('countTiers needs a text query');
  const tierExpr = `CASE ${[4, 3, 2, 1].map((t) => `WHEN ${tiers[t]!()} THEN ${t}`).join(' ')} ELSE 0 END`;
  const { rows } = await viaIndexes(db, (q) =>
    q.query<{ tier: number; n: number }>(
      `SELECT tier, count(*)::int AS n FROM (SELECT ${tierExpr} AS tier FROM places.place p ${whereSql(where)}) t GROUP BY tier`,
      p.values,
    ),
  );
  const counts = new Array<number>(TIER_COUNT).fill(0);
  for (const r of rows) counts[r.tier] = r.n;
  return counts;
}

/**
 * One page in relevance order: tier by tier, best first, and within a tier in a fixed order (the
 * place's uid, which is random and so spreads evenly). Knowing how many places each tier holds
 * (`tierCounts`, cached by the caller until the data changes), each tier is read the cheaper way:
 * a big tier by walking the primary key until the page is full (a few rows per hit), a small one
 * by collecting its matches through the text indexes and sorting them.
 */
export async function relevanceRows<T>(
  db: Queryable,
  f: SqlFilter,
  tierCounts: number[],
  tableRows: number,
  limit: number,
  cursor: Cursor | null,
  projection: Projection<T>,
): Promise<SearchPage<T>> {
  const uids: string[] = [];
  const tierOf = new Map<string, number>();
  const distances = new Map<string, number>();
  const startTier = cursor ? Math.min(TIER_COUNT - 1, Math.max(0, Math.trunc(Number(cursor.k)))) : TIER_COUNT - 1;
  for (let t = startTier; t >= 0 && uids.length < limit; t--) {
    if (!tierCounts[t]) continue;
    const p = new Params();
    const { where, distance, tiers } = buildWhere(f, p);
    for (let h = TIER_COUNT - 1; h > t; h--) where.push(`NOT ${tiers![h]!()}`);
    if (t > 0) where.push(tiers![t]!());
    if (cursor && t === startTier) where.push(`p.uid > ${p.add(cursor.u)}::uuid`);
    const need = limit - uids.length;
    const cols = `p.uid${distance ? `, ${distance} AS distance_km` : ''}`;
    const sql =
      tierCounts[t]! > Math.sqrt(need * tableRows)
        ? `SELECT ${cols} FROM places.place p ${whereSql(where)} ORDER BY p.uid LIMIT ${p.add(need)}`
        : `SELECT * FROM (SELECT ${cols} FROM places.place p ${whereSql(where)} OFFSET 0) s ORDER BY uid LIMIT ${p.add(need)}`;
    const { rows } = await db.query<{ uid: string; distance_km?: number }>(sql, p.values);
    for (const r of rows) {
      uids.push(r.uid);
      tierOf.set(r.uid, t);
      if (r.distance_km !== undefined) distances.set(r.uid, r.distance_km);
    }
  }
  const items = await readByUids(db, uids, projection);
  return {
    total: -1,
    rows: items.map((item) => {
      const uid = projection.uid(item);
      return { item, uid, distanceKm: distances.get(uid) ?? null, sortKey: tierOf.get(uid)! };
    }),
  };
}

/**
 * One page sorted by distance or by name. The sort runs over narrow rows (uid and key), and only
 * the page's places are then read whole.
 */
export async function searchRows<T>(
  db: Queryable,
  f: SqlFilter,
  sort: Exclude<SortKind, 'relevance'>,
  limit: number,
  cursor: Cursor | null,
  projection: Projection<T>,
  withTotal = false,
): Promise<SearchPage<T>> {
  const p = new Params();
  const { where, distance } = buildWhere(f, p);
  let key: string;
  let order: string;
  if (sort === 'distance' && distance) {
    key = distance;
    order = `${key} ASC, p.uid ASC`;
    if (cursor) where.push(`(${key}, p.uid) > (${p.add(Number(cursor.k))}::float8, ${p.add(cursor.u)}::uuid)`);
  } else {
    key = 'p.name_folded';
    order = 'p.name_folded ASC, p.uid ASC';
    if (cursor) where.push(`(p.name_folded, p.uid) > (${p.add(String(cursor.k))}, ${p.add(cursor.u)}::uuid)`);
  }
  const sql = `SELECT ${projection.columns}, page.sort_key, page.distance_km${withTotal ? ', page.total_rows' : ''}
    FROM (SELECT p.uid, ${key} AS sort_key, ${distance ?? 'NULL::float8'} AS distance_km${withTotal ? ', count(*) OVER ()::int AS total_rows' : ''}
            FROM places.place p ${whereSql(where)} ORDER BY ${order} LIMIT ${p.add(limit)}) page
    JOIN places.place p ON p.uid = page.uid
    ORDER BY page.sort_key, page.uid`;
  // Near-me, map and territory pages keep one plan shape whatever the position or codes: prepared,
  // they skip parsing and planning once PostgreSQL settles on a generic plan. A text filter's best
  // plan depends on how common its words are: planned each time.
  const page = await db.query(sql, p.values, { prepare: !f.q });
  return {
    total: withTotal ? ((page.rows[0]?.total_rows as number | undefined) ?? 0) : -1,
    rows: page.rows.map((r) => ({
      item: projection.map(r),
      uid: r.uid as string,
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

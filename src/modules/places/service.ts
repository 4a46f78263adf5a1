/**
 * Use cases of the places module: importing files, searching, exporting, finding duplicates.
 */
import { own } from '../../platform/own.ts';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Transform } from 'node:stream';
import type { Db, Queryable } from '../../platform/db/index.ts';
import { UserError } from '../../platform/http/errors.ts';
import * as territories from '../territories/index.ts';
import {
  detach,
  IdRegistry,
  openOnWeekend,
  publicHolidayName,
  readPlaces,
  TYPOLOGIES,
  validateRow,
  type MappingFile,
} from './model/index.ts';
import type { FileMeta, PlaceRecord, RowResult, ValidationIssue } from './model/types.ts';
import { horizon, hoursIndex, minuteOfWeek, openIntervals, HORIZON_DAYS } from './hours-index.ts';
import {
  countBy,
  countRows,
  countTiers,
  relevanceRows,
  countTags,
  encodeHead,
  FILTER_FIELDS,
  getPlaceRow,
  getPlacesByUids,
  JSON_PROJECTION,
  mapPointsRows,
  PLACE_PROJECTION,
  updateOpenHorizons,
  searchRows,
  prepareUpsert,
  upsertBatch,
  writeUpsert,
  type Cursor,
  type FilterField,
  type Place,
  type PlaceWrite,
  type PrepareOptions,
  type Projection,
  type SearchPage,
  type SortKind,
  type SqlFilter,
} from './store.ts';

export type { Place, FilterField };
export { FILTER_FIELDS };

// ---------------------------------------------------------------------------------------------
// Writing places

/** Caches territory look-ups during one import (a file names few distinct communes). */
export class TerritoryCache {
  private communes = new Map<string, Promise<territories.Commune | null>>();
  private byPostal = new Map<string, Promise<territories.Commune[]>>();
  constructor(private db: Queryable) {}
  /** Loads, in two queries, what a batch of records will ask for (instead of one query each). */
  async prefetch(records: PlaceRecord[]) {
    const codes = [...new Set(records.map((r) => r.code_insee).filter((c): c is string => !!c && !this.communes.has(c)))];
    const postals = [...new Set(records.filter((r) => !r.code_insee && r.code_postal).map((r) => r.code_postal).filter((p) => !this.byPostal.has(p)))];
    const [byCode, byPostal] = await Promise.all([
      codes.length ? territories.getCommunes(this.db, codes) : new Map<string, territories.Commune>(),
      postals.length ? territories.communesByPostalCodes(this.db, postals) : new Map<string, territories.Commune[]>(),
    ]);
    for (const c of codes) this.communes.set(detach(c), Promise.resolve(byCode.get(c.trim().toUpperCase()) ?? null));
    for (const p of postals) if (byPostal.has(p)) this.byPostal.set(detach(p), Promise.resolve(byPostal.get(p)!));
  }
  commune(code: string) {
    let p = this.communes.get(code);
    if (!p) this.communes.set(detach(code), (p = territories.getCommune(this.db, code)));
    return p;
  }
  postal(cp: string) {
    let p = this.byPostal.get(cp);
    if (!p) this.byPostal.set(detach(cp), (p = territories.communesByPostalCode(this.db, cp)));
    return p;
  }
}

function fold(s: string): string {
  return s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/\bste\b/g, 'sainte')
    .replace(/\bst\b/g, 'saint')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

function warn(line: number, field: string, value: string | null, message: string, code: string): ValidationIssue {
  return { line, field, value, message, severity: 'warning', code };
}

/**
 * Completes a validated record with what the territories know: code_insee from the postal code and
 * commune name (or from the coordinates), coordinates from the commune centre, and the territory
 * codes the search filters on.
 */
export async function enrich(
  record: PlaceRecord,
  line: number,
  importSource: string,
  cache: TerritoryCache,
  db: Queryable,
): Promise<{ write: PlaceWrite; issues: ValidationIssue[] }> {
  const issues: ValidationIssue[] = [];
  const rec: PlaceRecord = { ...record };
  if (!rec.code_insee) {
    let found: territories.Commune | null = null;
    const candidates = await cache.postal(rec.code_postal);
    const name = fold(rec.commune);
    const byName = candidates.filter((c) => fold(c.name) === name);
    if (byName.length === 1) found = byName[0]!;
    else if (candidates.length === 1) found = candidates[0]!;
    if (!found && rec.latitude !== null && rec.longitude !== null) found = await territories.communeAt(db, rec.latitude, rec.longitude);
    if (found) {
      rec.code_insee = found.code;
      issues.push(warn(line, 'code_insee', null, `Code INSEE absent : ${found.code} (${found.name}) déduit du code postal et de la commune.`, 'code_insee_derived'));
    } else {
      issues.push(warn(line, 'code_insee', null, `Code INSEE absent et impossible à déduire de « ${rec.code_postal} ${rec.commune} ».`, 'code_insee_unknown'));
    }
  }
  let commune = rec.code_insee ? await cache.commune(rec.code_insee) : null;
  if (rec.code_insee && !commune) {
    issues.push(warn(line, 'code_insee', rec.code_insee, `Le code INSEE ${rec.code_insee} n’existe pas dans le code officiel géographique en vigueur.`, 'code_insee_not_in_cog'));
  }
  let precision: PlaceWrite['coordinatesPrecision'] = 'given';
  if (rec.latitude === null || rec.longitude === null) {
    if (commune && commune.lat !== null && commune.lon !== null) {
      rec.latitude = commune.lat;
      rec.longitude = commune.lon;
      precision = 'commune';
      issues.push(warn(line, 'latitude', null, `Coordonnées absentes : centre de la commune ${commune.name} utilisé (position approximative).`, 'coordinates_from_commune'));
    } else {
      precision = 'missing';
      issues.push(warn(line, 'latitude', null, 'Coordonnées absentes et commune sans centre connu : le lieu n’apparaîtra pas sur la carte.', 'coordinates_missing'));
    }
  }
  const parent = commune?.kind === 'arrondissement' && commune.parent ? commune.parent : null;
  if (parent) commune = (await cache.commune(parent)) ?? commune;
  const hours = hoursIndex(rec.horaires);
  const searchExtra = rec.typologie.map((t) => own(TYPOLOGIES, t) ?? t).join(' ');
  const write: PlaceWrite = {
    importSource,
    record: rec,
    coordinatesPrecision: precision,
    communeCode: commune?.code ?? rec.code_insee,
    departement: commune?.departement ?? null,
    region: commune?.region ?? null,
    epci: commune?.epci ?? null,
    hoursWeek: hours.week,
    hoursExact: hours.exact,
    closedOnPh: hours.closedOnPh,
    openHorizon: hours.horizon,
    openWeekend: rec.horaires ? openOnWeekend(rec.horaires) : false,
    searchExtra,
    head: null,
    contentHash: '',
  };
  Object.assign(write, encodeHead(write));
  return { write, issues };
}

/** Re-materialises open intervals of date-dependent hours over the rolling horizon. */
async function refreshIntervals(db: Queryable, items: { uid: string; horaires: string }[], now = new Date()) {
  const { from, to } = horizon(now);
  await updateOpenHorizons(
    db,
    items.map((i) => ({ uid: i.uid, intervals: openIntervals(i.horaires, from, to) })),
  );
}

/**
 * Rolls the horizon of date-dependent opening intervals forward (twice a day, and at start-up when
 * the last refresh is older than `ifOlderThanMs`). Works in small batches and yields between them,
 * so a running server keeps answering. Returns the number of places refreshed (0 when skipped).
 */
export async function refreshAllIntervals(db: Db, now = new Date(), opts: { ifOlderThanMs?: number } = {}): Promise<number> {
  if (opts.ifOlderThanMs !== undefined) {
    const { rows } = await db.query<{ at: string }>(`SELECT value #>> '{}' AS at FROM places.settings WHERE key = 'horizon_refreshed_at'`);
    if (rows[0] && now.getTime() - Date.parse(rows[0].at) < opts.ifOlderThanMs) return 0;
  }
  const { rows } = await db.query<{ uid: string; horaires: string }>(
    'SELECT uid, horaires FROM places.place WHERE NOT hours_exact AND open_horizon IS NOT NULL',
  );
  for (let i = 0; i < rows.length; i += 250) {
    const slice = rows.slice(i, i + 250);
    await db.transaction((tx) => refreshIntervals(tx, slice, now));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await markHorizonsRefreshed(db, now);
  return rows.length;
}

/** Records that every stored horizon starts at `now` or later (after a full refresh or a fresh load). */
export async function markHorizonsRefreshed(db: Queryable, now = new Date()) {
  await db.query(
    `INSERT INTO places.settings (key, value) VALUES ('horizon_refreshed_at', to_jsonb($1::text))
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
    [now.toISOString()],
  );
}

/**
 * The places data version (a trigger moves it on every write, from any process). Calls made while
 * a read of it is under way share that read: under load, one query answers many requests.
 */
const versionReads = new WeakMap<Queryable, Promise<number>>();
export function dataVersion(db: Queryable): Promise<number> {
  let read = versionReads.get(db);
  if (!read) {
    read = db
      .query<{ v: string }>(`SELECT value #>> '{}' AS v FROM places.settings WHERE key = 'data_version'`)
      .then((r) => (r.rows[0] ? Number(r.rows[0].v) : 0))
      .finally(() => versionReads.delete(db));
    versionReads.set(db, read);
  }
  return read;
}

/** Writes already-validated records (demo data, tests, back office). Returns the counts. */
export async function upsertPlaces(db: Db, records: PlaceRecord[], opts: { source: string }) {
  return db.transaction(async (tx) => {
    const versionBefore = await dataVersion(tx);
    const cache = new TerritoryCache(tx);
    const totals = { inserted: 0, updated: 0, unchanged: 0, uids: [] as string[] };
    // Word and stem caches shared by the batches.
    const prepareOpts: PrepareOptions = { stems: new Map(), words: new Map() };
    for (let i = 0; i < records.length; i += 1000) {
      const writes: PlaceWrite[] = [];
      await cache.prefetch(records.slice(i, i + 1000));
      for (const [j, r] of records.slice(i, i + 1000).entries()) writes.push((await enrich(r, i + j + 2, opts.source, cache, tx)).write);
      const out = await upsertBatch(tx, writes, prepareOpts);
      totals.inserted += out.inserted;
      totals.updated += out.updated;
      totals.unchanged += out.unchanged;
      totals.uids.push(...out.uids);
    }
    notifyChanged(totals.uids, [], { before: versionBefore, after: await dataVersion(tx) });
    return totals;
  });
}

// Change notifications (coverage analytics recompute incrementally from them).
// `versions`: the data version before and after the write (read in its transaction), so that a
// listener can tell whether the events it saw account for every change (coverage relies on it).
type ChangeListener = (event: { uids: string[]; removed: number; removedUids: string[]; versions: { before: number; after: number } }) => void;
const listeners = new Set<ChangeListener>();
export function onPlacesChanged(listener: ChangeListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
export function notifyChanged(uids: string[], removedUids: string[], versions: { before: number; after: number }) {
  if (uids.length === 0 && removedUids.length === 0) return;
  for (const l of listeners) l({ uids, removed: removedUids.length, removedUids, versions });
}

// ---------------------------------------------------------------------------------------------
// Import

export interface ImportOptions {
  /** The dataset's key: upserts match on (importSource, id). */
  importSource: string;
  actor: string;
  fileName?: string | null;
  format?: 'csv' | 'json' | 'geojson';
  mapping?: MappingFile;
  /** Remove this source's places that are absent from the file (only when asked). */
  replaceSource?: boolean;
  /** Validate and report without writing. */
  dryRun?: boolean;
  onProgress?: (rows: number) => void;
  /** Keep at most this many issues in the returned report (all are stored). */
  maxIssues?: number;
}

export interface ImportReport {
  runId: number | null;
  meta: FileMeta | null;
  fileSha256: string | null;
  rowsRead: number;
  kept: number;
  inserted: number;
  updated: number;
  unchanged: number;
  refused: number;
  removed: number;
  warnings: number;
  errors: number;
  issues: ValidationIssue[];
  issuesTruncated: boolean;
}

export async function importPlaces(db: Db, input: Buffer | string | NodeJS.ReadableStream, opts: ImportOptions): Promise<ImportReport> {
  if (!opts.importSource || !/^[\w.\-:@ ]{1,100}$/.test(opts.importSource)) {
    throw new UserError('La source doit être un nom court (lettres, chiffres, - _ . :).', 400, 'source');
  }
  const started = new Date();
  const maxIssues = opts.maxIssues ?? 1000;
  const hash = crypto.createHash('sha256');
  if (typeof input === 'string') {
    if (!fs.existsSync(input)) throw new UserError(`Fichier introuvable : ${input}`, 400, 'file');
    input = fs.createReadStream(input);
  }
  const buffer = Buffer.isBuffer(input) ? input : null;
  if (buffer) hash.update(buffer);
  // A stream is hashed as it flows into the reader.
  const source: Buffer | string | NodeJS.ReadableStream =
    Buffer.isBuffer(input)
      ? input
      : (input as NodeJS.ReadableStream).pipe(
          new Transform({
            transform(chunk: Buffer, _enc, cb) {
              hash.update(chunk);
              cb(null, chunk);
            },
          }),
        );
  // A broken input (killed upload, unreadable disk) aborts the whole import: the reader would
  // report it as a file issue and keep the rows read so far, which must not be committed.
  let inputError: Error | null = null;
  if (!Buffer.isBuffer(input)) {
    (input as NodeJS.ReadableStream).on('error', (err: Error) => {
      inputError = err;
      (source as Transform).destroy(err);
    });
  }
  const report: ImportReport = {
    runId: null, meta: null, fileSha256: null, rowsRead: 0, kept: 0, inserted: 0, updated: 0, unchanged: 0, refused: 0,
    removed: 0, warnings: 0, errors: 0, issues: [], issuesTruncated: false,
  };
  const run = async (tx: Queryable) => {
    const versionBefore = await dataVersion(tx);
    const removedUids: string[] = [];
    const reading = await readPlaces(source, { format: opts.format, mapping: opts.mapping, fileName: opts.fileName ?? undefined });
    report.meta = reading.meta;
    // The run is recorded first so its per-row report can be written batch by batch (memory stays
    // bounded whatever the file's size); everything is in the import's transaction.
    if (!opts.dryRun) {
      const { rows } = await tx.query<{ run_id: number }>(
        `INSERT INTO places.import_run (import_source, file_name, actor, replace_source, started_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING run_id`,
        [opts.importSource, opts.fileName ?? null, opts.actor, Boolean(opts.replaceSource), started.toISOString()],
      );
      report.runId = rows[0]!.run_id;
    }
    const pendingIssues: ValidationIssue[] = [];
    const record = (issue: ValidationIssue) => {
      if (issue.severity === 'error') report.errors++;
      else report.warnings++;
      if (report.issues.length < maxIssues) report.issues.push({ ...issue, message: detach(issue.message), value: issue.value === null ? null : detach(String(issue.value)) });
      else report.issuesTruncated = true;
      if (!opts.dryRun) pendingIssues.push(issue);
    };
    const writeIssues = async () => {
      // Taken at once: rows of the next batch may report issues while these are being written.
      const items = pendingIssues.splice(0, pendingIssues.length);
      for (let i = 0; i < items.length; i += 5000) {
        await tx.query(
          `INSERT INTO places.import_issue (run_id, line, field, value, message, severity, code)
           SELECT $1, line, field, value, message, severity, code
           FROM jsonb_to_recordset($2::jsonb) AS r(line int, field text, value text, message text, severity text, code text)`,
          [report.runId, JSON.stringify(items.slice(i, i + 5000).map((x) => ({ ...x, value: x.value === null ? null : String(x.value).slice(0, 1000) })))],
        );
      }
    };
    // Every id read: a repeated one is reported wherever it falls; --replace-source keeps every
    // place the file names.
    const ids = new IdRegistry();
    // Caches for building the rows; a first import of a source has no stored hashes to compare with.
    const { rows: held } = await tx.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM places.place WHERE import_source = $1) AS any', [opts.importSource]);
    const prepareOpts: PrepareOptions = { stems: new Map(), words: new Map(), sourcesEmpty: !held[0]!.any };
    // Territories are reference data, not written by the import: on PostgreSQL they are read
    // through the pool, so reading them for the next batch does not queue behind the batch being
    // written on the transaction's connection (which would undo the pipelining below). PGlite has
    // one connection, held by the transaction.
    const refDb: Queryable = db.kind === 'postgres' && !opts.dryRun ? db : tx;
    const cache = new TerritoryCache(refDb);
    let batch: RowResult[] = [];
    const flush = async () => {
      const writes: PlaceWrite[] = [];
      // If the batch in flight failed, the transaction refuses everything after it: report its
      // error, not the refusal.
      await cache.prefetch(batch.flatMap((r) => (r.record ? [r.record] : []))).catch(async (err: unknown) => {
        await writing;
        throw err;
      });
      for (const r of batch) {
        if (!r.record) continue;
        const { write, issues } = await enrich(r.record, r.line, opts.importSource, cache, refDb);
        issues.forEach(record);
        writes.push(write);
      }
      // A file may repeat an id: the last occurrence wins (reported as it is read, below); one
      // statement cannot write the same row twice.
      const byId = new Map<string, PlaceWrite>();
      for (const w of writes) byId.set(w.record.id, w);
      report.kept += writes.length;
      if (!opts.dryRun) {
        // Written while the next batch is read and checked (PostgreSQL works on its own core):
        // one batch in flight at a time, its failure surfaces at the next flush or at the end.
        // On PostgreSQL the rows are also prepared (stored hashes and stems read through the pool,
        // rows built) before joining the queue, so only the write itself waits for the previous
        // batch; on PGlite everything runs in turn on its one connection.
        const writes = [...byId.values()];
        const prepared = refDb !== tx ? await prepareUpsert(refDb, writes, prepareOpts) : null;
        const previous = writing;
        writing = (async () => {
          await previous;
          const out = await writeUpsert(tx, prepared ?? (await prepareUpsert(tx, writes, prepareOpts)));
          report.inserted += out.inserted;
          report.updated += out.updated;
          report.unchanged += out.unchanged;
          changed.push(...out.uids);
          await writeIssues();
        })();
        writing.catch(() => {});
        if (previous !== done) await previous;
      }
      batch = [];
    };
    const done = Promise.resolve();
    let writing: Promise<void> = done;
    const changed: string[] = [];
    let batchSize = 250;
    try {
      for await (const row of reading.rows) {
        report.rowsRead++;
        const result = validateRow(row);
        const repeated = ids.see(result, row.values.id);
        if (repeated) result.issues.push(repeated);
        result.issues.forEach(record);
        if (!result.record) report.refused++;
        batch.push(result);
        if (batch.length >= batchSize) {
          await flush();
          // The first batches are small so the database starts writing early; then 1,000 rows.
          batchSize = Math.min(1000, batchSize * 2);
          opts.onProgress?.(report.rowsRead);
        }
      }
      await flush();
      await writing;
    } catch (err) {
      // Nothing may reach the database after the transaction is rolled back: let the batch in
      // flight finish (or fail) first.
      await writing.catch(() => undefined);
      throw err;
    }
    if (inputError) throw inputError;
    opts.onProgress?.(report.rowsRead);
    reading.issues.forEach(record);
    const fatal = reading.issues.some((i) => i.severity === 'error' && i.line === null);
    if (opts.replaceSource && !opts.dryRun) {
      if (fatal || report.rowsRead === 0) {
        record({ line: null, field: null, value: null, message: 'Fichier illisible ou vide : aucun lieu de la source n’a été retiré.', severity: 'warning', code: 'replace_skipped' });
      } else {
        const { rows } = await tx.query<{ uid: string }>(
          'DELETE FROM places.place WHERE import_source = $1 AND NOT (id = ANY($2::text[])) RETURNING uid',
          [opts.importSource, ids.ids()],
        );
        report.removed = rows.length;
        removedUids.push(...rows.map((r) => r.uid));
      }
    }
    report.fileSha256 = hash.digest('hex');
    if (opts.dryRun) return;
    const m = report.meta;
    await tx.query(
      `UPDATE places.import_run SET file_sha256 = $2, format = $3, version = $4, encoding = $5, rows_read = $6, inserted = $7,
         updated = $8, unchanged = $9, refused = $10, removed = $11, warnings = $12, finished_at = now()
       WHERE run_id = $1`,
      [report.runId, report.fileSha256, m?.format ?? null, m?.version ?? null, m?.encoding ?? null, report.rowsRead, report.inserted,
        report.updated, report.unchanged, report.refused, report.removed, report.warnings],
    );
    await writeIssues();
    notifyChanged(changed, removedUids, { before: versionBefore, after: await dataVersion(tx) });
  };
  if (opts.dryRun) await run(db);
  else await db.transaction(run);
  return report;
}

export async function listImportRuns(db: Queryable, limit = 50) {
  const { rows } = await db.query(
    `SELECT run_id, import_source, file_name, file_sha256, actor, format, version, encoding, replace_source, started_at, finished_at,
            rows_read, inserted, updated, unchanged, refused, removed, warnings
     FROM places.import_run ORDER BY run_id DESC LIMIT $1`,
    [limit],
  );
  return rows;
}

export async function importIssues(db: Queryable, runId: number, limit = 1000) {
  const { rows } = await db.query<ValidationIssue>(
    'SELECT line, field, value, message, severity, code FROM places.import_issue WHERE run_id = $1 ORDER BY line NULLS FIRST LIMIT $2',
    [runId, limit],
  );
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Search

export interface PlaceQuery {
  q?: string;
  near?: { lat: number; lon: number };
  radiusKm?: number;
  territory?: string;
  bbox?: [number, number, number, number];
  filters?: Partial<Record<FilterField, string[]>>;
  openNow?: boolean;
  openAt?: Date;
  openOnWeekend?: boolean;
  onlineBooking?: boolean;
  sort?: SortKind;
  limit?: number;
  cursor?: string | null;
  /** Back office only: include hidden places. */
  includeHidden?: boolean;
  importSource?: string;
}

export interface PlaceHit {
  place: Place;
  distanceKm: number | null;
}

export interface PlaceSearchResult {
  total: number;
  items: PlaceHit[];
  nextCursor: string | null;
  sort: SortKind;
}

/** Turns free text into a prefix tsquery over accent-free words, plus the folded text. */
export function textQuery(q: string): { folded: string; tsquery: string } | null {
  const folded = fold(q).slice(0, 200);
  const words = folded.split(' ').filter((w) => w.length > 0).slice(0, 12);
  if (words.length === 0) return null;
  return { folded, tsquery: words.map((w) => `${w}:*`).join(' & ') };
}

const LEVEL_COLUMN = { region: 'region', departement: 'departement', epci: 'epci', commune: 'commune_code' } as const;

async function toSqlFilter(db: Queryable, q: PlaceQuery, now = new Date()): Promise<SqlFilter> {
  const f: SqlFilter = { includeHidden: q.includeHidden, importSource: q.importSource ?? null };
  if (q.q && q.q.trim()) f.q = textQuery(q.q);
  if (q.near) {
    const radius = q.radiusKm ?? 10;
    if (!(radius > 0 && radius <= 500)) throw new UserError('Le rayon doit être compris entre 0 et 500 km.', 400, 'radius');
    f.near = { lat: q.near.lat, lon: q.near.lon, radiusKm: radius };
  }
  if (q.territory) {
    const t = await territories.resolveTerritory(db, q.territory);
    if (!t) throw new UserError(`Territoire inconnu : « ${q.territory} ».`, 400, 'territory');
    f.territory = { column: LEVEL_COLUMN[t.level], code: t.code };
  }
  if (q.bbox) f.bbox = q.bbox;
  f.tags = [];
  for (const field of FILTER_FIELDS) {
    const values = q.filters?.[field];
    if (values && values.length) f.tags.push(values.map((v) => `${field}=${v}`));
  }
  if (q.openNow || q.openAt) {
    const at = q.openAt ?? now;
    const { from, to } = horizon(now);
    if (at < from || at > to) throw new UserError(`La date d’ouverture doit être comprise dans les ${HORIZON_DAYS} prochains jours.`, 400, 'open_at');
    f.open = { minuteOfWeek: minuteOfWeek(at), at: at.toISOString(), publicHoliday: publicHolidayName(at) !== null };
  }
  f.openWeekend = q.openOnWeekend;
  f.onlineBooking = q.onlineBooking;
  return f;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(s: string, sort: SortKind): Cursor {
  try {
    const c = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Cursor;
    if (c.s !== sort || typeof c.u !== 'string' || !/^[0-9a-f-]{36}$/.test(c.u) || (typeof c.k !== 'number' && typeof c.k !== 'string')) throw new Error();
    return c;
  } catch {
    throw new UserError('Curseur de pagination invalide (il ne correspond pas à cette recherche).', 400, 'cursor');
  }
}

export async function searchPlaces(db: Queryable, query: PlaceQuery, now = new Date()): Promise<PlaceSearchResult> {
  const r = await search(db, query, now, PLACE_PROJECTION);
  return { ...r, items: r.items.map((h) => ({ place: h.item, distanceKm: h.distanceKm })) };
}

/** A search whose places come as their public JSON text, serialised by the database (API lists). */
export async function searchPlacesJson(
  db: Queryable,
  query: PlaceQuery,
  now = new Date(),
): Promise<Omit<PlaceSearchResult, 'items'> & { items: { json: string; distanceKm: number | null }[] }> {
  const r = await search(db, query, now, JSON_PROJECTION);
  return { ...r, items: r.items.map((h) => ({ json: h.item.json, distanceKm: h.distanceKm })) };
}

async function search<T>(
  db: Queryable,
  query: PlaceQuery,
  now: Date,
  projection: Projection<T>,
): Promise<{ total: number; items: { item: T; distanceKm: number | null }[]; nextCursor: string | null; sort: SortKind }> {
  const f = await toSqlFilter(db, query, now);
  const sort: SortKind = query.sort ?? (f.near ? 'distance' : f.q ? 'relevance' : 'name');
  if (sort === 'distance' && !f.near) throw new UserError('Le tri par distance demande une position (near).', 400, 'sort');
  if (sort === 'relevance' && !f.q) throw new UserError('Le tri par pertinence demande un texte (q).', 400, 'sort');
  const limit = Math.min(Math.max(query.limit ?? 20, 1), 500);
  const cursor = query.cursor ? decodeCursor(query.cursor, sort) : null;
  let page: SearchPage<T>;
  let total: number;
  if (sort === 'relevance') {
    // How many matches each relevance tier holds decides how each tier is read; like every
    // aggregate, it is kept until the data changes.
    const [tiers, tableRows] = await Promise.all([
      cachedAggregate(db, `tiers:${JSON.stringify(f)}`, () => countTiers(db, f)),
      cachedAggregate(db, 'rows', () => countRows(db, { includeHidden: true })),
    ]);
    total = tiers.reduce((a, b) => a + b, 0);
    page = await relevanceRows(db, f, tiers, tableRows, limit + 1, cursor, projection);
  } else {
    const totalKey = `total:${JSON.stringify(f)}`;
    const known = await peekAggregate<number>(db, totalKey);
    if (!known.hit && sort === 'distance' && !cursor) {
      // Near me: every match is sorted by distance anyway, so the same statement counts them.
      page = await searchRows(db, f, sort, limit + 1, cursor, projection, true);
      total = page.total;
      storeAggregate(db, known.version, totalKey, total);
    } else {
      [page, total] = await Promise.all([
        searchRows(db, f, sort, limit + 1, cursor, projection),
        known.hit ? known.hit.value : cachedAggregate(db, totalKey, () => countRows(db, f)),
      ]);
    }
  }
  const more = page.rows.length > limit;
  const rows = page.rows.slice(0, limit);
  const last = rows[rows.length - 1];
  return {
    total,
    items: rows.map((r) => ({ item: r.item, distanceKm: r.distanceKm })),
    nextCursor: more && last ? encodeCursor({ s: sort, k: last.sortKey, u: last.uid }) : null,
    sort,
  };
}

export async function getPlace(db: Queryable, uid: string): Promise<Place | null> {
  return getPlaceRow(db, uid);
}

export { getPlacesByUids };

/**
 * Aggregates over many places (facet counts, counts per territory, map points, result totals) are
 * the costly part of a broad search, and they only change with the data: they are kept in memory
 * per database handle, keyed by the query, and dropped as soon as the data version moves (a
 * trigger bumps it on every write, from any process). Bounded; least recently used first out.
 */
const AGGREGATE_CACHE_MAX = 500;
const aggregateCaches = new WeakMap<Queryable, { version: number; entries: Map<string, unknown> }>();

/** The cached aggregate for the current data version, if any, and that version (to store one). */
async function peekAggregate<T>(db: Queryable, key: string): Promise<{ version: number; hit?: { value: T } }> {
  const version = await dataVersion(db);
  const cache = aggregateCaches.get(db);
  if (cache && cache.version === version && cache.entries.has(key)) {
    const value = cache.entries.get(key) as T;
    cache.entries.delete(key); // most recently used last
    cache.entries.set(key, value);
    return { version, hit: { value } };
  }
  return { version };
}

/** Stores an aggregate computed after a `peekAggregate` miss, under the version seen then. */
function storeAggregate<T>(db: Queryable, version: number, key: string, value: T) {
  let cache = aggregateCaches.get(db);
  if (!cache || cache.version !== version) {
    if (cache && cache.version > version) return;
    aggregateCaches.set(db, (cache = { version, entries: new Map() }));
  }
  if (cache.entries.size >= AGGREGATE_CACHE_MAX) cache.entries.delete(cache.entries.keys().next().value!);
  cache.entries.set(key, value);
}

async function cachedAggregate<T>(db: Queryable, key: string, compute: () => Promise<T>): Promise<T> {
  const seen = await peekAggregate<T>(db, key);
  if (seen.hit) return seen.hit.value;
  const value = await compute();
  storeAggregate(db, seen.version, key, value);
  return value;
}

export async function countPlacesBy(db: Queryable, level: 'region' | 'departement' | 'epci' | 'commune', query: PlaceQuery = {}) {
  const f = await toSqlFilter(db, query);
  return cachedAggregate(db, `by:${level}:${JSON.stringify(f)}`, () => countBy(db, f, LEVEL_COLUMN[level]));
}

export async function countByService(db: Queryable, query: PlaceQuery = {}): Promise<Record<string, number>> {
  return countByField(db, 'services', query);
}

export async function countByField(db: Queryable, field: FilterField, query: PlaceQuery = {}): Promise<Record<string, number>> {
  const f = await toSqlFilter(db, query);
  return cachedAggregate(db, `tags:${field}:${JSON.stringify(f)}`, () => countTags(db, f, field));
}

export async function mapPoints(db: Queryable, query: PlaceQuery = {}, limit = 250_000) {
  const f = await toSqlFilter(db, query);
  return cachedAggregate(db, `points:${limit}:${JSON.stringify(f)}`, () => mapPointsRows(db, f, limit));
}

/** Streams every place matching a query, in name order, in batches (exports). */
export async function* iteratePlaces(db: Queryable, query: PlaceQuery = {}, batchSize = 2000): AsyncGenerator<PlaceHit> {
  const f = await toSqlFilter(db, { ...query, cursor: null });
  const sort: SortKind = f.near ? 'distance' : 'name';
  let cursor: Cursor | null = null;
  for (;;) {
    const page: SearchPage<Place> = await searchRows(db, f, sort, batchSize, cursor, PLACE_PROJECTION);
    for (const r of page.rows) yield { place: r.item, distanceKm: r.distanceKm };
    if (page.rows.length < batchSize) return;
    const last = page.rows[page.rows.length - 1]!;
    cursor = { s: sort, k: last.sortKey, u: last.uid };
  }
}

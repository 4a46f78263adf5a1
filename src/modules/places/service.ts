/**
 * Use cases of the places module: importing files, searching, exporting, finding duplicates.
 */
import { plural } from '../../platform/html/components.ts';
import { own } from '../../platform/own.ts';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Db, Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { restrictionOf } from './extensions.ts';
import { UserError } from '../../platform/http/errors.ts';
import * as territories from '../territories/index.ts';
import {
  atItem,
  where,
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
  formulaLike,
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
  /** `code|lat|lon` → km outside the commune's outline (0 inside, null without a polygon). */
  private outside = new Map<string, Promise<number | null>>();
  /** Commune code → bounding boxes of its polygon's parts (null: no polygon), for the import. */
  private boxes = new Map<string, [number, number, number, number][] | null>();
  constructor(private db: Queryable) {}
  /** Loads, in three queries, what a batch of records will ask for (instead of one query each). */
  async prefetch(records: PlaceRecord[]) {
    const codes = [...new Set(records.map((r) => r.code_insee).filter((c): c is string => !!c && !this.communes.has(c)))];
    const postals = [...new Set(records.filter((r) => !r.code_insee && r.code_postal).map((r) => r.code_postal).filter((p) => !this.byPostal.has(p)))];
    const [byCode, byPostal] = await Promise.all([
      codes.length ? territories.getCommunes(this.db, codes) : new Map<string, territories.Commune>(),
      postals.length ? territories.communesByPostalCodes(this.db, postals) : new Map<string, territories.Commune[]>(),
    ]);
    for (const c of codes) this.communes.set(detach(c), Promise.resolve(byCode.get(c.trim().toUpperCase()) ?? null));
    for (const p of postals) if (byPostal.has(p)) this.byPostal.set(detach(p), Promise.resolve(byPostal.get(p)!));
    // Then how far each place lies outside its commune (stated, or as `enrich` will derive it
    // from the postal code and name). Kept per batch: points rarely repeat across batches.
    this.outside.clear();
    const points: { code: string; lat: number; lon: number }[] = [];
    for (const r of records) {
      if (r.latitude === null || r.longitude === null) continue;
      const code = r.code_insee || communeFromPostal(r, (await this.byPostal.get(r.code_postal)) ?? [])?.code;
      if (code && !this.outside.has(outsideKey(code, r.latitude, r.longitude))) {
        this.outside.set(outsideKey(code, r.latitude, r.longitude), Promise.resolve(null)); // replaced below
        points.push({ code, lat: r.latitude, lon: r.longitude });
      }
    }
    // A point inside one of its commune's bounding boxes counts as inside (the ring test costs
    // ~0.1 ms a point in the embedded database); the others get the exact distance to the outline.
    const missing = [...new Set(points.map((p) => normaliseInsee(p.code)).filter((c) => !this.boxes.has(c)))];
    if (missing.length) {
      const found = await territories.communeBoxes(this.db, missing);
      for (const c of missing) this.boxes.set(detach(c), found.get(c) ?? null);
    }
    const far: typeof points = [];
    for (const p of points) {
      const boxes = this.boxes.get(normaliseInsee(p.code));
      const inside = !boxes ? null : boxes.some(([w, s, e, n]) => p.lon >= w && p.lon <= e && p.lat >= s && p.lat <= n);
      if (inside === false) far.push(p);
      else this.outside.set(detach(outsideKey(p.code, p.lat, p.lon)), Promise.resolve(inside === null ? null : 0));
    }
    const distances = far.length ? await territories.distancesOutsideCommunes(this.db, far) : [];
    far.forEach((p, i) => this.outside.set(detach(outsideKey(p.code, p.lat, p.lon)), Promise.resolve(distances[i] ?? null)));
  }
  /** How far (km, a lower bound) a point lies outside a commune's outline; 0 inside; null without a polygon. */
  outsideKm(code: string, lat: number, lon: number) {
    const key = outsideKey(code, lat, lon);
    let p = this.outside.get(key);
    if (!p) this.outside.set(detach(key), (p = territories.distancesOutsideCommunes(this.db, [{ code, lat, lon }]).then((d) => d[0] ?? null)));
    return p;
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

const normaliseInsee = (code: string) => code.trim().toUpperCase();
const outsideKey = (code: string, lat: number, lon: number) => `${normaliseInsee(code)}|${lat}|${lon}`;

/** The commune a record without code INSEE is in, from its postal code's communes: the one with
 *  its name, else the only one. */
function communeFromPostal(rec: PlaceRecord, candidates: territories.Commune[]): territories.Commune | null {
  const name = fold(rec.commune);
  const byName = candidates.filter((c) => fold(c.name) === name);
  if (byName.length === 1) return byName[0]!;
  if (candidates.length === 1) return candidates[0]!;
  return null;
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

/** Beyond this distance outside its commune's outline (a lower bound, km), a place's coordinates
 *  are questioned; without the commune's polygon, beyond FAR_FROM_CENTRE_KM from its centre. */
const OUTSIDE_COMMUNE_KM = 2;
const FAR_FROM_CENTRE_KM = 30;
const FORMULA_FIELDS = ['nom', 'adresse', 'complement_adresse', 'commune', 'presentation_resume', 'presentation_detail', 'source', 'structure_parente',
  'autres_formations_labels', 'site_web', 'courriels', 'fiche_acces_libre', 'prise_rdv', 'id'] as const;

function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const r = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * r) / 2) ** 2 + Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.sin(((lon2 - lon1) * r) / 2) ** 2;
  return 12742 * Math.asin(Math.sqrt(a));
}

const formatKm = (km: number) => (km < 10 ? km.toFixed(1).replace('.', ',') : String(Math.round(km)));

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
    let found = communeFromPostal(rec, await cache.postal(rec.code_postal));
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
  if (commune && rec.code_postal && commune.postalCodes.length > 0 && !commune.postalCodes.includes(rec.code_postal)) {
    issues.push(
      warn(line, 'code_postal', rec.code_postal, `${where(line, 'code_postal')} : le code postal ${rec.code_postal} n’est pas un code postal de la commune ${commune.name} (code INSEE ${commune.code} : ${commune.postalCodes.slice(0, 6).join(', ')}).`, 'postal_code_mismatch'),
    );
  }
  if (commune && rec.latitude !== null && rec.longitude !== null) {
    // The commune's outline when its polygon is loaded: a place just across a large commune is
    // fine, one a few kilometres outside a small one is not; else the distance to its centre.
    const outside = await cache.outsideKm(commune.code, rec.latitude, rec.longitude);
    const km = outside === null && commune.lat !== null && commune.lon !== null ? distanceKm(rec.latitude, rec.longitude, commune.lat, commune.lon) : null;
    const at = `${where(line, 'latitude')} : les coordonnées (${rec.latitude}, ${rec.longitude})`;
    if (outside !== null && outside > OUTSIDE_COMMUNE_KM) {
      issues.push(
        warn(line, 'latitude', `${rec.latitude}, ${rec.longitude}`, `${at} sont hors de la commune ${commune.name} (${commune.code}), à ${formatKm(outside)} km au moins de ses limites : vérifiez-les, ou la commune.`, 'coordinates_far_from_commune'),
      );
    } else if (km !== null && km > FAR_FROM_CENTRE_KM) {
      issues.push(
        warn(line, 'latitude', `${rec.latitude}, ${rec.longitude}`, `${at} sont à ${Math.round(km)} km du centre de la commune ${commune.name} (${commune.code}) : vérifiez-les, ou la commune.`, 'coordinates_far_from_commune'),
      );
    }
  }
  for (const f of FORMULA_FIELDS) {
    const v = rec[f];
    for (const x of Array.isArray(v) ? v : typeof v === 'string' ? [v] : []) {
      if (formulaLike(x)) {
        issues.push(warn(line, f, x, `${where(line, f)} : la valeur commence par « ${x[0]} » : un tableur l’exécuterait comme une formule. Gardée telle quelle ; le téléchargement pour tableur la neutralise.`, 'formula_like'));
        break;
      }
    }
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

export interface ImportScope {
  /** May the importer write (or remove) a place located in this région/département? */
  allowed(region: string | null, departement: string | null): boolean;
}

export interface ImportOptions {
  /** The dataset's key: upserts match on (importSource, id). */
  importSource: string;
  /** Who imports, as shown in the history of imports (a user id, `cli`…). */
  actor: string;
  /** The audit entry's actor: a user id; null (the default) for the command line and jobs, whose
   *  `actor` then goes into the entry's meta. */
  actorId?: string | null;
  /** The door the import came through, for the audit trail: `cli`, `backoffice`… */
  door?: string;
  /** More context for the audit entry (the mapping file's name…). */
  auditMeta?: Record<string, unknown>;
  fileName?: string | null;
  format?: 'csv' | 'json' | 'geojson';
  mapping?: MappingFile;
  /** Remove (hide, restorably) this source's places that are absent from the file — only what the
   *  file certainly no longer contains (see `replaceKept`). */
  replaceSource?: boolean;
  /** Above this share of refused rows, `replaceSource` removes nothing (default 0.1 = 10 %). */
  maxRefusedShare?: number;
  /** Validate and report without writing. */
  dryRun?: boolean;
  onProgress?: (rows: number) => void;
  /** Keep at most this many issues in the returned report (all are stored). */
  maxIssues?: number;
  /** The importer's territory (back office): every place the file writes must lie in it, both as
   *  it will be and, for a place the file updates, as it is now; so must every place that
   *  `replaceSource` would remove. A dry run lists the problems in `scopeProblems`; a real import
   *  refuses the whole file (UserError, nothing written). */
  scope?: ImportScope;
  /** Runs first in a real import's transaction (the back office ties a new source there); throwing
   *  refuses the import. */
  beforeWrite?: (tx: Queryable) => Promise<void>;
}

/** What a source's file is worth, beyond validity: counted over the kept places of one import. */
export interface QualitySummary {
  places: number;
  /** Positioned at their commune's centre (no coordinates in the file). */
  approximatePositions: number;
  /** No position at all. */
  missingPositions: number;
  missingHours: number;
  /** Hours (or half-day cells) that could not be read. */
  unreadableHours: number;
  /** Telephone numbers, e-mail addresses or URLs dropped as invalid. */
  invalidContacts: number;
  farFromCommune: number;
  postalCodeMismatch: number;
  formulaLike: number;
}

const QUALITY_CODES: Partial<Record<string, keyof QualitySummary>> = {
  hours_invalid: 'unreadableHours', hours_cell_invalid: 'unreadableHours', email_invalid: 'invalidContacts', phone_invalid: 'invalidContacts',
  url_invalid: 'invalidContacts', coordinates_far_from_commune: 'farFromCommune', postal_code_mismatch: 'postalCodeMismatch', formula_like: 'formulaLike',
};

/** A place that `replaceSource` removes (or would remove). */
export interface Removal {
  uid: string;
  id: string;
  nom: string;
  commune: string;
}

export interface ImportReport {
  runId: number | null;
  meta: FileMeta | null;
  fileSha256: string | null;
  /** Every record of the file: kept + refused + unreadable. */
  records: number;
  /** Records read (kept + refused). */
  rowsRead: number;
  kept: number;
  inserted: number;
  updated: number;
  unchanged: number;
  refused: number;
  /** Records the reader could not read at all (malformed line, wrong column count…). */
  unreadable: number;
  removed: number;
  /** Places of the source absent from the file (what `replaceSource` removes, or would). */
  wouldRemove: number;
  /** The first 1,000 of them. */
  removals: Removal[];
  /** Why `replaceSource` removed nothing (French sentences); empty when it went ahead or was not asked. */
  replaceKept: string[];
  /** Back office: why the file may not be imported by this person (see `ImportOptions.scope`). */
  scopeProblems: string[];
  quality: QualitySummary;
  warnings: number;
  errors: number;
  /** Issues in file order (file-level ones first), at most `maxIssues`. */
  issues: ValidationIssue[];
  issuesTruncated: boolean;
}

/** Reader issue codes that mean a record could not be read at all. */
const UNREADABLE_CODES = new Set(['unclosed_quote', 'invalid_quote', 'field_too_large', 'column_count', 'internal', 'json_shape']);
/** Reader issue codes that mean the header cannot serve. */
const HEADER_CODES = new Set(['header_unrecognised', 'missing_columns', 'no_header']);
const MAX_REMOVALS_LISTED = 1000;

function lines(list: number[]): string {
  return `ligne${list.length > 1 ? 's' : ''} ${list.slice(0, 20).join(', ')}${list.length > 20 ? '…' : ''}`;
}

/**
 * What turns a file's record into a stored place besides the record itself: the code of this
 * module's reader, validator and enrichment (their source text, read once per process, so any
 * change to them makes every record look new to the next import). Part of each raw hash.
 */
let codeStampMemo: string | null = null;
function codeStamp(): string {
  if (codeStampMemo) return codeStampMemo;
  const here = path.dirname(fileURLToPath(import.meta.url));
  const h = crypto.createHash('sha256');
  for (const dir of [here, path.join(here, 'model')]) {
    for (const f of fs.readdirSync(dir).filter((n) => /\.[cm]?[jt]s$/.test(n)).sort()) h.update(f).update('\0').update(fs.readFileSync(path.join(dir, f))).update('\0');
  }
  return (codeStampMemo = h.digest('base64url'));
}

/** What a re-import needs to know of a record it wrote before without issues (see importPlaces). */
interface StoredRaw {
  rawHash: string;
  precision: PlaceWrite['coordinatesPrecision'];
  noHours: boolean;
  region: string | null;
  departement: string | null;
}

export async function importPlaces(db: Db, input: Buffer | string | NodeJS.ReadableStream, opts: ImportOptions): Promise<ImportReport> {
  if (!opts.importSource || !/^[\w.\-:@ ]{1,100}$/.test(opts.importSource)) {
    throw new UserError('La source doit être un nom court (lettres, chiffres, - _ . :).', 400, 'source');
  }
  const maxRefusedShare = opts.maxRefusedShare ?? 0.1;
  if (!(maxRefusedShare >= 0 && maxRefusedShare <= 1)) throw new UserError('La part de lignes refusées tolérée est comprise entre 0 et 100 %.', 400, 'max_refused');
  const started = new Date();
  const maxIssues = opts.maxIssues ?? 1000;
  const hash = crypto.createHash('sha256');
  if (typeof input === 'string') {
    if (!fs.existsSync(input)) throw new UserError(`Fichier introuvable : ${input}`, 400, 'file');
    // Read in 1 MiB chunks (not the default 64 KiB): fewer reads and reader turns per file.
    input = fs.createReadStream(input, { highWaterMark: 1 << 20 });
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
    runId: null, meta: null, fileSha256: null, records: 0, rowsRead: 0, kept: 0, inserted: 0, updated: 0, unchanged: 0, refused: 0,
    unreadable: 0, removed: 0, wouldRemove: 0, removals: [], replaceKept: [], scopeProblems: [], warnings: 0, errors: 0, issues: [],
    quality: { places: 0, approximatePositions: 0, missingPositions: 0, missingHours: 0, unreadableHours: 0, invalidContacts: 0, farFromCommune: 0, postalCodeMismatch: 0, formulaLike: 0 },
    issuesTruncated: false,
  };
  // What the reader said about the file itself, for the "replace the source" decision.
  const fileProblems = { header: [] as string[], mappingMissing: [] as string[], reading: [] as string[] };
  const outside: number[] = [];
  const movedFrom: number[] = [];
  const run = async (tx: Queryable) => {
    const versionBefore = await dataVersion(tx);
    const removedUids: string[] = [];
    const reading = await readPlaces(source, { format: opts.format, mapping: opts.mapping, fileName: opts.fileName ?? undefined });
    report.meta = reading.meta;
    // The run is recorded first so its per-row report can be written batch by batch (memory stays
    // bounded whatever the file's size); everything is in the import's transaction.
    if (!opts.dryRun) {
      await opts.beforeWrite?.(tx);
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
      else {
        report.warnings++;
        const q = QUALITY_CODES[issue.code];
        if (q) report.quality[q]++;
      }
      if (report.issues.length < maxIssues) report.issues.push({ ...issue, message: detach(issue.message), value: issue.value === null ? null : detach(String(issue.value)) });
      else report.issuesTruncated = true;
      if (!opts.dryRun) pendingIssues.push(issue);
    };
    // Issues are reported in file order: those of a batch (the reader's, the validator's, the
    // enrichment's) are gathered, then sorted by line (file-level ones first) when it is written.
    let batchIssues: ValidationIssue[] = [];
    const takeReaderIssues = () => {
      if (reading.issues.length === 0) return;
      for (const i of reading.issues.splice(0, reading.issues.length)) {
        if (i.line !== null) readerIssueAt.add(`${i.line}:${i.item ?? 0}`);
        if (i.severity === 'error') {
          if (HEADER_CODES.has(i.code)) fileProblems.header.push(i.message);
          else if (!UNREADABLE_CODES.has(i.code) || i.line === null) fileProblems.reading.push(i.message);
        }
        if (i.code === 'mapping_column_missing' && i.value) fileProblems.mappingMissing.push(i.value);
        batchIssues.push(i);
      }
    };
    const recordBatchIssues = () => {
      const items = batchIssues;
      batchIssues = [];
      items.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
      items.forEach(record);
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
    // Imports of one source run one after the other (a lock held until the transaction ends), so
    // a source found empty here stays empty but for this import's own rows: its batches are then
    // copied straight into places.place (see PrepareOptions.direct).
    if (!opts.dryRun) await tx.query(`SELECT pg_advisory_xact_lock(hashtext('places.import'), hashtext($1::text))`, [opts.importSource]);
    const { rows: held } = await tx.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM places.place WHERE import_source = $1) AS any', [opts.importSource]);
    const prepareOpts: PrepareOptions = { stems: new Map(), words: new Map(), sourcesEmpty: !held[0]!.any, direct: !opts.dryRun && !held[0]!.any ? new Set() : undefined };
    // Territories are reference data, not written by the import: on PostgreSQL they are read
    // through the pool, so reading them for the next batch does not queue behind the batch being
    // written on the transaction's connection (which would undo the pipelining below). PGlite has
    // one connection, held by the transaction.
    const refDb: Queryable = db.kind === 'postgres' && !opts.dryRun ? db : tx;
    const cache = new TerritoryCache(refDb);
    // A record of the file read exactly as when this source's place was last written from it
    // (same values, same mapping, same code, same territories), which raised no issue then, would
    // be validated, enriched and found unchanged again: it is counted as kept and unchanged at
    // once, with its stored place's quality figures. Its raw hash covers all of this.
    const rawKey = `${codeStamp()}\0${reading.meta?.format ?? ''}\0${reading.meta?.version ?? ''}\0${JSON.stringify(opts.mapping ?? null)}\0${await territories.dataStamp(refDb)}\0`;
    // The key's hash state, copied for each record (the key is hashed once per import).
    const rawBase = crypto.createHash('sha256').update(rawKey);
    const stored = new Map<string, StoredRaw>();
    if (!opts.dryRun && held[0]!.any) {
      // One JSON text rather than a row per place: decoding 20,000 rows of 6 columns through the
      // wire protocol took most of an unchanged re-import's database time; JSON.parse is native.
      const { rows } = await tx.query<{ j: string | null }>(
        `SELECT json_agg(json_build_array(id, raw_hash, coordinates_precision, horaires IS NULL, region, departement))::text AS j
           FROM places.place WHERE import_source = $1 AND raw_hash IS NOT NULL AND removed_run IS NULL`,
        [opts.importSource],
      );
      const list = JSON.parse(rows[0]?.j ?? '[]') as [string, string, StoredRaw['precision'], boolean, string | null, string | null][];
      for (const [id, rawHash, precision, noHours, region, departement] of list) stored.set(id, { rawHash, precision, noHours, region, departement });
    }
    // A CSV record's raw hash covers its text as read: the reader hashes it and, when it is one of
    // these (and its id was not met before in the file), does not even parse it.
    const storedByHash = new Map<string, string>();
    for (const [id, s] of stored) storedByHash.set(s.rawHash, id);
    if (!opts.dryRun) {
      reading.hashRecords?.(rawKey, storedByHash.size === 0 ? null : (h) => {
        const id = storedByHash.get(h);
        return id !== undefined && !ids.kept(id);
      });
    }
    // Reader issues (conversion warnings…) of the records read so far, by line and element: a
    // record with one gets no raw hash.
    const readerIssueAt = new Set<string>();
    const rawHashes = new Map<RowResult, string>();
    let batch: RowResult[] = [];
    const flush = async () => {
      const writes: PlaceWrite[] = [];
      const writeLines: number[] = [];
      // If the batch in flight failed, the transaction refuses everything after it: report its
      // error, not the refusal.
      await cache.prefetch(batch.flatMap((r) => (r.record ? [r.record] : []))).catch(async (err: unknown) => {
        await writing;
        throw err;
      });
      for (const r of batch) {
        if (!r.record) continue;
        const { write, issues } = await enrich(r.record, r.line, opts.importSource, cache, refDb);
        for (const i of issues) batchIssues.push(r.item !== undefined ? atItem(i, r.item) : i);
        // Recorded only for a record that raised no issue at all, so that skipping it next time
        // loses no warning.
        if (issues.length === 0 && r.issues.length === 0) write.rawHash = rawHashes.get(r) ?? null;
        rawHashes.delete(r);
        writes.push(write);
        writeLines.push(r.line);
        report.quality.places++;
        if (write.coordinatesPrecision === 'commune') report.quality.approximatePositions++;
        else if (write.coordinatesPrecision === 'missing') report.quality.missingPositions++;
        if (!write.record.horaires) report.quality.missingHours++;
      }
      takeReaderIssues();
      recordBatchIssues();
      if (opts.scope && writes.length) await checkScope(writes, writeLines);
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
    // The importer's territory: each place as it will be, and the stored place it updates.
    const checkScope = async (writes: PlaceWrite[], at: number[]) => {
      const scope = opts.scope!;
      const lineOf = new Map<string, number>();
      writes.forEach((w, k) => {
        lineOf.set(w.record.id, at[k]!);
        if (!scope.allowed(w.region, w.departement)) outside.push(at[k]!);
      });
      await writing;
      const { rows } = await tx.query<{ id: string; region: string | null; departement: string | null }>(
        'SELECT id, region, departement FROM places.place WHERE import_source = $1 AND id = ANY($2::text[])',
        [opts.importSource, [...lineOf.keys()]],
      );
      for (const r of rows) if (!scope.allowed(r.region, r.departement)) movedFrom.push(lineOf.get(r.id)!);
    };
    const done = Promise.resolve();
    let writing: Promise<void> = done;
    const changed: string[] = [];
    let batchSize = 250;
    try {
      takeReaderIssues();
      for await (const row of reading.rows) {
        report.rowsRead++;
        takeReaderIssues();
        let rawHash: string | null = null;
        const id = row.known ? storedByHash.get(row.rawHash!) : row.values.id?.trim();
        // (A record the reader did not parse raised no reader issue: one at its line is a file's, such
        // as the approximate line of an encoding warning.)
        if (!opts.dryRun && !row.errors && id && (row.known || !readerIssueAt.has(`${row.line}:${row.item ?? 0}`))) {
          rawHash = row.rawHash ?? rawBase.copy().update(JSON.stringify(row.values)).digest('base64url');
          const known = stored.get(id);
          // An id already met in this file is not skipped: its last occurrence must win.
          if (known && known.rawHash === rawHash && ids.see({ line: row.line, record: { id } as PlaceRecord, issues: [], needs: { codeInsee: false, coordinates: false } }, id) === null) {
            stored.delete(id);
            storedByHash.delete(rawHash);
            report.kept++;
            report.unchanged++;
            report.quality.places++;
            if (known.precision === 'commune') report.quality.approximatePositions++;
            else if (known.precision === 'missing') report.quality.missingPositions++;
            if (known.noHours) report.quality.missingHours++;
            if (opts.scope && !opts.scope.allowed(known.region, known.departement)) {
              outside.push(row.line);
              movedFrom.push(row.line);
            }
            continue;
          }
        }
        // (A row the reader did not parse is always skipped above: its id is unknown to nothing.)
        if (row.known) throw new Error(`internal: line ${row.line} was recognised but not skipped`);
        const result = validateRow(row);
        if (rawHash && result.record) rawHashes.set(result, rawHash);
        const repeated = ids.see(result, row.values.id);
        if (repeated) result.issues.push(row.item !== undefined ? atItem(repeated, row.item) : repeated);
        batchIssues.push(...result.issues);
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
    takeReaderIssues();
    recordBatchIssues();
    report.unreadable = reading.stats.unreadable;
    report.records = report.rowsRead + report.unreadable;
    if (opts.replaceSource) {
      const candidates = await removalCandidates(tx, opts.importSource, ids.ids());
      report.wouldRemove = candidates.length;
      report.removals = candidates.slice(0, MAX_REMOVALS_LISTED).map(({ uid, id, nom, commune }) => ({ uid, id, nom, commune }));
      if (opts.scope) {
        const elsewhere = candidates.filter((c) => !opts.scope!.allowed(c.region, c.departement)).length;
        if (elsewhere) {
          report.scopeProblems.push(`« Retirer les lieux absents du fichier » retirerait ${plural(elsewhere, 'lieu', 'lieux')} de la source « ${opts.importSource} » hors de votre territoire : décochez cette option.`);
        }
      }
      report.replaceKept = replaceBlockers(report, fileProblems, maxRefusedShare);
      if (report.replaceKept.length) {
        record({
          line: null, field: null, value: null, severity: 'warning', code: 'replace_skipped',
          message: `Retrait des lieux absents non fait : ${plural(candidates.length, 'lieu de la source absent', 'lieux de la source absents')} du fichier ${candidates.length > 1 ? 'auraient été retirés' : 'aurait été retiré'} ; ${candidates.length > 1 ? 'ils sont gardés' : 'il est gardé'} car ${report.replaceKept.join(' ; ')}.`,
        });
      } else if (!opts.dryRun && candidates.length) {
        // Hidden, not deleted: the run that removed them can be undone, and a later import that
        // names them again brings them back under the same uid.
        const { rows } = await tx.query<{ uid: string }>(
          'UPDATE places.place SET visible = false, removed_run = $2, updated_at = now() WHERE uid = ANY($1::uuid[]) AND removed_run IS NULL RETURNING uid',
          [candidates.map((c) => c.uid), report.runId],
        );
        report.removed = rows.length;
        removedUids.push(...rows.map((r) => r.uid));
      }
    }
    if (opts.scope) {
      if (outside.length) {
        report.scopeProblems.unshift(`${plural(outside.length, 'lieu du fichier est', 'lieux du fichier sont')} hors de votre territoire (${lines(outside)}) : retirez-les du fichier ou demandez l’import à l’équipe concernée.`);
      }
      if (movedFrom.length) {
        report.scopeProblems.unshift(
          `${plural(movedFrom.length, 'ligne du fichier modifierait', 'lignes du fichier modifieraient')} des lieux de la source « ${opts.importSource} » situés hors de votre territoire (${lines(movedFrom)}) : seule l’équipe de leur territoire peut les modifier.`,
        );
      }
      if (report.scopeProblems.length && !opts.dryRun) throw new UserError(report.scopeProblems.join(' '), 403, 'file');
    }
    report.fileSha256 = hash.digest('hex');
    if (opts.dryRun) return;
    const m = report.meta;
    await tx.query(
      `UPDATE places.import_run SET file_sha256 = $2, format = $3, version = $4, encoding = $5, rows_read = $6, inserted = $7,
         updated = $8, unchanged = $9, refused = $10, removed = $11, warnings = $12, would_remove = $13, replace_kept_reasons = $14,
         unreadable = $15, quality = $16::jsonb, finished_at = now()
       WHERE run_id = $1`,
      [report.runId, report.fileSha256, m?.format ?? null, m?.version ?? null, m?.encoding ?? null, report.rowsRead, report.inserted,
        report.updated, report.unchanged, report.refused, report.removed, report.warnings, report.wouldRemove,
        report.replaceKept.length ? report.replaceKept : null, report.unreadable, JSON.stringify(report.quality)],
    );
    await writeIssues();
    // Every import is audited, whatever its door (command line, back office…), in its transaction.
    await recordAudit(tx, {
      actorId: opts.actorId ?? null,
      action: 'places.import',
      objectType: 'import_run',
      objectId: String(report.runId),
      after: {
        source: opts.importSource, fileName: opts.fileName ?? null, sha256: report.fileSha256, records: report.records, rowsRead: report.rowsRead,
        inserted: report.inserted, updated: report.updated, unchanged: report.unchanged, refused: report.refused, unreadable: report.unreadable,
        removed: report.removed, wouldRemove: report.wouldRemove, replaceKept: report.replaceKept, quality: report.quality,
      },
      meta: { door: opts.door ?? 'api', actor: opts.actor, replaceSource: Boolean(opts.replaceSource), ...opts.auditMeta },
    });
    notifyChanged(changed, removedUids, { before: versionBefore, after: await dataVersion(tx) });
  };
  if (opts.dryRun) await run(db);
  else await db.transaction(run);
  return report;
}

/** The source's places that a file naming `ids` no longer contains. */
async function removalCandidates(q: Queryable, importSource: string, ids: string[]) {
  const { rows } = await q.query<Removal & { region: string | null; departement: string | null }>(
    `SELECT uid, id, nom, commune, region, departement FROM places.place
     WHERE import_source = $1 AND removed_run IS NULL AND NOT (id = ANY($2::text[])) ORDER BY id`,
    [importSource, ids],
  );
  return rows;
}

/** Why "replace the source" must not remove anything: the file was not read with certainty. */
function replaceBlockers(
  r: ImportReport,
  file: { header: string[]; mappingMissing: string[]; reading: string[] },
  maxRefusedShare: number,
): string[] {
  const reasons: string[] = [];
  if (file.header.length) reasons.push(`l’en-tête du fichier ne convient pas (${file.header[0]})`);
  if (file.mappingMissing.length) {
    reasons.push(`${file.mappingMissing.length > 1 ? 'des colonnes déclarées' : 'une colonne déclarée'} dans la correspondance ${file.mappingMissing.length > 1 ? 'manquent' : 'manque'} au fichier (${file.mappingMissing.map((c) => `« ${c} »`).join(', ')})`);
  }
  if (r.unreadable) reasons.push(`${plural(r.unreadable, 'ligne du fichier est illisible', 'lignes du fichier sont illisibles')} : les lieux qu’elles décrivent ne peuvent pas être reconnus`);
  if (file.reading.length) reasons.push(`le fichier n’a pas été lu entièrement (${file.reading[0]})`);
  if (r.rowsRead === 0 && !file.header.length && !file.reading.length) reasons.push('le fichier ne contient aucun lieu');
  if (r.rowsRead > 0 && r.refused / r.rowsRead > maxRefusedShare) {
    reasons.push(`${plural(r.refused, 'ligne refusée', 'lignes refusées')} sur ${r.rowsRead}, plus de ${Math.round(maxRefusedShare * 1000) / 10} %`);
  }
  return reasons;
}

/**
 * Restores the places that an import's "replace the source" removed (same uid: links, claims,
 * managers and versions come back with them). Audited. With `scope`, every one of them must lie in
 * the person's territory.
 */
export async function undoImportRemovals(
  db: Db,
  runId: number,
  o: { actor: string; actorId?: string | null; door?: string; scope?: ImportScope },
): Promise<{ restored: number; uids: string[] }> {
  if (!Number.isSafeInteger(runId) || runId <= 0) throw new UserError('Numéro d’import invalide.', 400, 'run');
  return db.transaction(async (tx) => {
    const versionBefore = await dataVersion(tx);
    const { rows: runs } = await tx.query<{ import_source: string; removed: number; undone_at: string | null }>(
      'SELECT import_source, removed, undone_at FROM places.import_run WHERE run_id = $1 FOR UPDATE',
      [runId],
    );
    const run = runs[0];
    if (!run) throw new UserError(`L’import n° ${runId} n’existe pas.`, 404, 'run');
    if (run.undone_at) throw new UserError(`Les retraits de l’import n° ${runId} ont déjà été annulés.`, 409, 'run');
    const { rows: places } = await tx.query<{ uid: string; region: string | null; departement: string | null }>(
      'SELECT uid, region, departement FROM places.place WHERE removed_run = $1',
      [runId],
    );
    if (places.length === 0) {
      throw new UserError(
        run.removed > 1 ? `Les ${run.removed} lieux retirés par l’import n° ${runId} sont déjà revenus (par un import suivant).` : run.removed ? `Le lieu retiré par l’import n° ${runId} est déjà revenu (par un import suivant).` : `L’import n° ${runId} n’a retiré aucun lieu.`,
        409,
        'run',
      );
    }
    if (o.scope && places.some((p) => !o.scope!.allowed(p.region, p.departement))) {
      throw new UserError('Des lieux retirés par cet import sont hors de votre territoire : l’annulation revient à l’équipe concernée.', 403, 'run');
    }
    const { rows } = await tx.query<{ uid: string }>(
      `UPDATE places.place SET removed_run = NULL, visible = merged_into IS NULL, updated_at = now() WHERE removed_run = $1 RETURNING uid`,
      [runId],
    );
    await tx.query('UPDATE places.import_run SET undone_at = now(), undone_by = $2 WHERE run_id = $1', [runId, o.actor]);
    await recordAudit(tx, {
      actorId: o.actorId ?? null,
      action: 'places.import.undo',
      objectType: 'import_run',
      objectId: String(runId),
      after: { source: run.import_source, restored: rows.length },
      meta: { door: o.door ?? 'api', actor: o.actor },
    });
    const uids = rows.map((r) => r.uid);
    notifyChanged(uids, [], { before: versionBefore, after: await dataVersion(tx) });
    return { restored: uids.length, uids };
  });
}

export async function listImportRuns(db: Queryable, limit = 50) {
  const { rows } = await db.query(
    `SELECT run_id, import_source, file_name, file_sha256, actor, format, version, encoding, replace_source, started_at, finished_at,
            rows_read, inserted, updated, unchanged, refused, removed, warnings, unreadable, would_remove, replace_kept_reasons,
            undone_at, undone_by, quality
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
  /** Values of the filters other modules register (extensions.ts), by query parameter. */
  extra?: Record<string, string[]>;
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
  const only = await restrictionOf(db, q.extra);
  if (only) f.uids = only;
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

/**
 * Coverage use cases: full and incremental recompute of the stored per-commune measures, reads
 * (communes, summaries, white zones) from a per-process cache keyed by the stored version, the
 * planner and "what if". Calls the territories and places modules through their index.ts only.
 */
import type { Db, Queryable } from '../../platform/db/index.ts';
import type { Logger } from '../../platform/log.ts';
import { UserError } from '../../platform/http/errors.ts';
import { currentCommuneOf, listCommunePoints, listDepartements, listRegions, resolveTerritory, territoriesStatus, type Territory } from '../territories/index.ts';
import { dataVersion, getPlacesByUids, listPlacePoints } from '../places/index.ts';
import {
  affectedCommunes,
  buildIndexes,
  groupBy,
  measureCommunes,
  SERVICE_LABELS,
  summarise,
  whiteZones,
  type AreaLevel,
  type AreaSummary,
  type CommuneMeasure,
  type CoverageCommune,
  type CoveragePlace,
  type Criterion,
  type Nearest,
  type PlaceChange,
  type PlanResult,
  type WhatIfChange,
  type WhiteZones,
} from './model.ts';
import {
  bucketOf,
  byBucket,
  deleteMeasures,
  maskOf,
  readMeasures,
  readSnapshot,
  readState,
  upsertMeasures,
  writeBuckets,
  writeState,
  type CoverageState,
} from './store.ts';
import { computePlan, computeWhatIf, inScope, summaryOf, type PlanInput, type WhatIfInput, type WhatIfResult } from './compute.ts';
import type { ComputePool, SlotData } from '../../platform/jobs/pool.ts';

export const messages = {
  unknownTerritory: (ref: string) => `Territoire inconnu : « ${ref} ». Exemples : 27 (département), region:28, epci:200000172, commune:27229.`,
  communeTerritory: 'Choisissez un territoire plus large qu’une commune (EPCI, département ou région).',
  noCommunes: 'Le référentiel des communes n’est pas chargé : lancez « maillage territories load ».',
};

// ---------------------------------------------------------------------------------------------
// Serialisation: one recompute at a time per database (in this process).

const locks = new WeakMap<Db, Promise<unknown>>();
function exclusive<T>(db: Db, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(db) ?? Promise.resolve();
  const next = prev.catch(() => undefined).then(fn);
  locks.set(db, next);
  return next;
}

// ---------------------------------------------------------------------------------------------
// Inputs from the other modules

/** The communes, cached per process until the reference is reloaded (its load date and counts change). */
const communeCache = new WeakMap<Db, { key: string; communes: CoverageCommune[] }>();

async function loadCommunes(db: Db): Promise<CoverageCommune[]> {
  const st = await territoriesStatus(db);
  const key = JSON.stringify([st.cogYear, st.loadedAt, st.counts.communes, st.centres, st.communesWithoutCentre.length]);
  const hit = communeCache.get(db);
  if (hit && hit.key === key) return hit.communes;
  // Centres to the micro-degree (10 cm; the reference gives 5 decimals, so this changes nothing
  // there): the measures store them as whole micro-degrees (see upsertMeasures).
  const micro = (x: number | null) => (x === null ? null : Math.round(x * 1e6) / 1e6);
  const communes = (await listCommunePoints(db)).map((c) => ({ ...c, lat: micro(c.lat), lon: micro(c.lon) }));
  if (communes.length) communeCache.set(db, { key, communes });
  return communes;
}

/**
 * The visible places with coordinates (all, or those of `uids`), their commune mapped to a current
 * commune (a municipal arrondissement → its commune; a former code → the commune it merged into).
 */
async function loadPlaces(db: Queryable, communeCodes: Set<string>, uids?: readonly string[]): Promise<CoveragePlace[]> {
  // Fresh objects from the places module, of the CoveragePlace shape: the commune is mapped in place.
  const points: CoveragePlace[] = await listPlacePoints(db, uids ? { uids } : {});
  const mapped = new Map<string, string | null>();
  for (const p of points) {
    const code = p.communeCode;
    if (code === null || communeCodes.has(code)) continue;
    if (!mapped.has(code)) {
      const c = await currentCommuneOf(db, code);
      const current = c ? (c.parent ?? c.code) : null;
      mapped.set(code, current !== null && communeCodes.has(current) ? current : null);
    }
    p.communeCode = mapped.get(code) ?? null;
  }
  return points;
}

// ---------------------------------------------------------------------------------------------
// Recompute

export interface RecomputeReport {
  kind: 'full' | 'incremental' | 'none';
  communes: number;
  communesWithoutCentre: number;
  places: number;
  /** Communes whose measures were recomputed (all of them for a full recompute). */
  updatedCommunes: number;
  /** Measure rows written: those that differ from what was stored. */
  writtenCommunes: number;
  added: number;
  removed: number;
  changed: number;
  durationMs: number;
  timings: Record<string, number>;
}

type Step = (label: string) => void;
function stopwatch(): { step: Step; timings: Record<string, number>; total: () => number } {
  const t0 = performance.now();
  let last = t0;
  const timings: Record<string, number> = {};
  return {
    timings,
    step(label) {
      const now = performance.now();
      timings[label] = Math.round(now - last);
      last = now;
    },
    total: () => performance.now() - t0,
  };
}

/** Recomputes every commune's measures from all places, and stores them with the place snapshot. */
export function recomputeAll(db: Db, opts: { onProgress?: (message: string) => void } = {}): Promise<RecomputeReport> {
  return exclusive(db, () => fullRecompute(db, opts.onProgress));
}

async function fullRecompute(db: Db, onProgress?: (message: string) => void): Promise<RecomputeReport> {
  const sw = stopwatch();
  const placesVersion = await dataVersion(db);
  const communes = await loadCommunes(db);
  if (communes.length === 0) throw new UserError(messages.noCommunes, 503);
  sw.step('loadCommunes');
  onProgress?.(`${communes.length} communes`);
  const places = await loadPlaces(db, new Set(communes.map((c) => c.code)));
  sw.step('loadPlaces');
  onProgress?.(`${places.length} lieux`);
  const ix = buildIndexes(places, SERVICE_LABELS);
  sw.step('index');
  const measures = measureCommunes(communes, ix);
  sw.step('measure');
  const unattributed = places.filter((p) => p.communeCode === null).length;
  const known = await knownState(db);
  sw.step('compare');
  const previous = known?.places ?? null;
  // Rows that differ from the stored measures (all of them when this process does not know them).
  let written = measures;
  if (known) {
    const before = new Map(known.measures.map((m) => [m.code, m]));
    written = measures.filter((m) => !sameMeasure(before.get(m.code), m));
  }
  const version = await db.transaction(async (tx) => {
    if (known) {
      const codes = new Set(measures.map((m) => m.code));
      await deleteMeasures(tx, known.measures.filter((m) => !codes.has(m.code)).map((m) => m.code));
      await upsertMeasures(tx, written);
    } else await upsertMeasures(tx, measures, { replaceAll: true });
    sw.step('writeMeasures');
    if (previous) {
      // Only the buckets holding places that changed since the stored snapshot are written.
      const diff = snapshotDiff(previous, places);
      const touched = new Set([...diff.upserts.map((p) => bucketOf(p.uid)), ...diff.removed.map(bucketOf)]);
      await writeBuckets(tx, bucketsOf(places, touched), SERVICE_LABELS);
    } else {
      await writeBuckets(tx, byBucket(places), SERVICE_LABELS, { replaceAll: true });
    }
    sw.step('writeSnapshot');
    return writeState(tx, {
      services: SERVICE_LABELS,
      placesVersion,
      kind: 'full',
      durationMs: sw.total(),
      updatedCommunes: written.length,
      places: places.length,
      unattributedPlaces: unattributed,
    });
  });
  remember(db, version, measures, places);
  sw.step('commit');
  return {
    kind: 'full',
    communes: communes.length,
    communesWithoutCentre: communes.filter((c) => c.lat === null || c.lon === null).length,
    places: places.length,
    updatedCommunes: measures.length,
    writtenCommunes: written.length,
    added: places.length,
    removed: 0,
    changed: 0,
    durationMs: Math.round(sw.total()),
    timings: sw.timings,
  };
}

/** Above this many changed places, a full recompute is cheaper than the incremental path. */
function incrementalLimit(places: number): number {
  return Math.max(2000, Math.round(places * 0.05));
}

export interface RefreshOptions {
  /**
   * Every place added, modified or removed (hidden, deleted, merged) since the stored measures were
   * computed, when the caller knows them all: only these places are read from the places module,
   * instead of all of them. A uid that did not change costs nothing but its read.
   */
  changedUids?: readonly string[];
  /**
   * With `changedUids` from change events: the data versions each event's write went from and to.
   * The uids are used only when these intervals chain from the version the measures were computed
   * at to the current one (otherwise some write was not announced, e.g. by another process, and
   * all places are compared).
   */
  versions?: readonly { before: number; after: number }[];
}

/**
 * Brings the stored measures up to date with the places: compares the current places (all of
 * them, or only `changedUids`) with the snapshot the measures were computed from, and recomputes
 * only the communes a change can affect (see affectedCommunes in model.ts). Falls back to a full
 * recompute when nothing is stored yet, when the list of services changed, or when many places
 * changed.
 */
export function refresh(db: Db, opts: RefreshOptions = {}): Promise<RecomputeReport> {
  return exclusive(db, () => incremental(db, opts));
}

/** Whether the version intervals chain exactly from `from` to `to`. */
function chains(versions: readonly { before: number; after: number }[], from: number | null, to: number): boolean {
  if (from === null) return false;
  let at = from;
  const rest = [...versions].sort((a, b) => a.before - b.before);
  for (const v of rest) {
    if (v.before !== at || v.after < v.before) return false;
    at = v.after;
  }
  return at === to;
}

interface PlaceDiff {
  changes: PlaceChange[];
  communesOfChanges: Set<string>;
  upserts: CoveragePlace[];
  removedUids: string[];
  added: number;
  changed: number;
}

/** What changed between the old and new entries of the same set of uids. */
function diffPlaces(old: CoveragePlace[], current: CoveragePlace[]): PlaceDiff {
  const before = new Map(old.map((p) => [p.uid, p]));
  const d: PlaceDiff = { changes: [], communesOfChanges: new Set(), upserts: [], removedUids: [], added: 0, changed: 0 };
  const seen = new Set<string>();
  for (const p of current) {
    seen.add(p.uid);
    const o = before.get(p.uid);
    if (o && samePlace(o, p)) continue;
    if (o) {
      d.changed++;
      d.changes.push(o);
      if (o.communeCode) d.communesOfChanges.add(o.communeCode);
    } else d.added++;
    d.changes.push(p);
    if (p.communeCode) d.communesOfChanges.add(p.communeCode);
    d.upserts.push(p);
  }
  for (const o of old) {
    if (seen.has(o.uid)) continue;
    d.removedUids.push(o.uid);
    d.changes.push(o);
    if (o.communeCode) d.communesOfChanges.add(o.communeCode);
  }
  return d;
}

async function incremental(db: Db, opts: RefreshOptions): Promise<RecomputeReport> {
  const sw = stopwatch();
  const state = await readState(db);
  if (!state || state.services.join('|') !== SERVICE_LABELS.join('|')) return fullRecompute(db);
  const placesVersion = await dataVersion(db);
  const measures = await cachedMeasures(db, state);
  const codes = new Set(measures.map((m) => m.code));
  let hint = opts.changedUids ?? null;
  if (hint && opts.versions) {
    if (placesVersion === state.placesVersion) hint = []; // already refreshed (e.g. by a read)
    else if (!chains(opts.versions, state.placesVersion, placesVersion)) hint = null;
  }
  // The places the measures were computed from (kept in memory, or read from the 256 buckets).
  const old = await snapshotOf(db, state);
  let current: CoveragePlace[];
  let diff: PlaceDiff;
  if (hint) {
    // Only the announced places are read; the others are as in the snapshot.
    const hinted = new Set(hint);
    const fresh = await loadPlaces(db, codes, [...hinted]);
    const kept: CoveragePlace[] = [];
    const oldHinted: CoveragePlace[] = [];
    for (const p of old) (hinted.has(p.uid) ? oldHinted : kept).push(p);
    current = kept.concat(fresh);
    diff = diffPlaces(oldHinted, fresh);
  } else {
    current = await loadPlaces(db, codes);
    diff = diffPlaces(old, current);
  }
  sw.step('load');
  const { changes, communesOfChanges, upserts, removedUids, added, changed } = diff;
  const report = (kind: RecomputeReport['kind'], updated: number): RecomputeReport => ({
    kind,
    communes: measures.length,
    communesWithoutCentre: measures.filter((m) => m.lat === null).length,
    places: current.length,
    updatedCommunes: updated,
    writtenCommunes: updated,
    added,
    removed: removedUids.length,
    changed,
    durationMs: Math.round(sw.total()),
    timings: sw.timings,
  });
  if (changes.length === 0) {
    if (placesVersion !== state.placesVersion) await db.query('UPDATE coverage.state SET places_version = $1 WHERE id', [placesVersion]);
    return report('none', 0);
  }
  if (added + changed + removedUids.length > incrementalLimit(old.length)) return fullRecompute(db);
  const affected = affectedCommunes(measures, changes, SERVICE_LABELS, communesOfChanges);
  sw.step('affected');
  const ix = buildIndexes(current, SERVICE_LABELS);
  sw.step('index');
  const updated = measureCommunes(measures.filter((m) => affected.has(m.code)), ix);
  sw.step('measure');
  const touched = new Set([...upserts.map((p) => bucketOf(p.uid)), ...removedUids.map(bucketOf)]);
  const version = await db.transaction(async (tx) => {
    await upsertMeasures(tx, updated);
    await writeBuckets(tx, bucketsOf(current, touched), SERVICE_LABELS);
    return writeState(tx, {
      services: SERVICE_LABELS,
      placesVersion,
      kind: 'incremental',
      durationMs: sw.total(),
      updatedCommunes: updated.length,
      places: current.length,
      unattributedPlaces: current.filter((p) => p.communeCode === null).length,
    });
  });
  const byCode = new Map(updated.map((m) => [m.code, m]));
  remember(db, version, measures.map((m) => byCode.get(m.code) ?? m), current);
  sw.step('write');
  return report('incremental', updated.length);
}

/** The places of the given buckets, grouped by bucket (an empty list for a bucket left empty). */
function bucketsOf(places: CoveragePlace[], buckets: Set<number>): Map<number, CoveragePlace[]> {
  const out = new Map<number, CoveragePlace[]>([...buckets].map((b) => [b, []]));
  if (buckets.size === 0) return out;
  for (const p of places) out.get(bucketOf(p.uid))?.push(p);
  return out;
}

/**
 * Makes sure measures exist and match the places' data version (another process may have written
 * places): computes everything the first time, incrementally afterwards.
 */
export async function ensureFresh(db: Db): Promise<CoverageState> {
  let state = await readState(db);
  if (!state || state.placesVersion !== (await dataVersion(db))) {
    await refresh(db);
    state = (await readState(db))!;
  }
  return state;
}

/**
 * A change event of the places module: the uids written; how many places were removed and, when
 * the module gives them, their uids; and, when given, the data versions the write went from and to.
 */
export interface PlaceChangeEvent {
  uids: readonly string[];
  removed: number;
  removedUids?: readonly string[];
  versions?: { before: number; after: number };
}

/**
 * Listens to place changes and refreshes the measures shortly after (debounced). When every event
 * since the last refresh names all the places it touched (removals included) and its data
 * versions, the refresh reads only those places (see RefreshOptions); otherwise it compares all.
 */
export function followPlaceChanges(db: Db, log: Logger, subscribe: (listener: (event: PlaceChangeEvent) => void) => () => void): () => void {
  let timer: NodeJS.Timeout | null = null;
  let pending: { uids: Set<string>; versions: { before: number; after: number }[]; complete: boolean } = { uids: new Set(), versions: [], complete: true };
  const unsubscribe = subscribe((event) => {
    for (const u of event.uids) pending.uids.add(u);
    for (const u of event.removedUids ?? []) pending.uids.add(u);
    if (!event.versions || (event.removed > 0 && (event.removedUids?.length ?? 0) < event.removed)) pending.complete = false;
    else pending.versions.push(event.versions);
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      const p = pending;
      pending = { uids: new Set(), versions: [], complete: true };
      refresh(db, p.complete ? { changedUids: [...p.uids], versions: p.versions } : {})
        .then((r) => log.info({ coverage: { kind: r.kind, updatedCommunes: r.updatedCommunes, ms: r.durationMs } }, 'coverage refreshed'))
        .catch((err: Error) => log.error({ err }, 'coverage refresh failed'));
    }, 250);
    timer.unref?.();
  });
  return () => {
    if (timer) clearTimeout(timer);
    unsubscribe();
  };
}

// ---------------------------------------------------------------------------------------------
// Reads (cached per process by stored version)

/**
 * What this process knows of the stored version: the measures, and the places they were computed
 * from (the snapshot). Both are kept after a recompute, so that reads, "what if" and the next
 * incremental refresh need not read them back; another process's write bumps the version and
 * they are read from the database again.
 */
const cache = new WeakMap<Db, { version: number; measures: CommuneMeasure[] }>();
const snapshots = new WeakMap<Db, { version: number; places: CoveragePlace[] }>();

function remember(db: Db, version: number, measures: CommuneMeasure[], places: CoveragePlace[]) {
  cache.set(db, { version, measures });
  snapshots.set(db, { version, places });
}

async function cachedMeasures(db: Db, state: CoverageState): Promise<CommuneMeasure[]> {
  const c = cache.get(db);
  if (c && c.version === state.version) return c.measures;
  const measures = await readMeasures(db);
  cache.set(db, { version: state.version, measures });
  return measures;
}

/** The places the stored measures were computed from. */
async function snapshotOf(db: Db, state: CoverageState): Promise<CoveragePlace[]> {
  const c = snapshots.get(db);
  if (c && c.version === state.version) return c.places;
  const places = await readSnapshot(db, SERVICE_LABELS);
  snapshots.set(db, { version: state.version, places });
  return places;
}

/** The stored measures and snapshot when this process holds them in memory (null otherwise: rewrite them whole). */
async function knownState(db: Db): Promise<{ measures: CommuneMeasure[]; places: CoveragePlace[] } | null> {
  const m = cache.get(db);
  const p = snapshots.get(db);
  if (!m || !p || m.version !== p.version) return null;
  const state = await readState(db);
  return state && state.version === m.version ? { measures: m.measures, places: p.places } : null;
}

const sameNearest = (a: Nearest | null, b: Nearest | null) => (a === null || b === null ? a === b : a.km === b.km && a.uid === b.uid);

/** Whether two measures of a commune are identical (recomputation is deterministic: exact comparison). */
function sameMeasure(a: CommuneMeasure | undefined, b: CommuneMeasure): boolean {
  if (!a) return false;
  if (a.name !== b.name || a.departement !== b.departement || a.region !== b.region || a.epci !== b.epci) return false;
  if (a.population !== b.population || a.lat !== b.lat || a.lon !== b.lon || a.placesInCommune !== b.placesInCommune) return false;
  if (!sameNearest(a.nearest, b.nearest) || !sameNearest(a.saturday, b.saturday)) return false;
  if (a.byService.length !== b.byService.length || a.byService.some((x, i) => !sameNearest(x, b.byService[i]!))) return false;
  if (a.within === null || b.within === null) return a.within === b.within;
  return a.within[0] === b.within[0] && a.within[1] === b.within[1] && a.within[2] === b.within[2];
}

function samePlace(a: CoveragePlace, b: CoveragePlace): boolean {
  return a.lat === b.lat && a.lon === b.lon && a.communeCode === b.communeCode && maskOf(a, SERVICE_LABELS) === maskOf(b, SERVICE_LABELS);
}

function snapshotDiff(before: CoveragePlace[], after: CoveragePlace[]): { upserts: CoveragePlace[]; removed: string[] } {
  const old = new Map(before.map((p) => [p.uid, p]));
  const upserts: CoveragePlace[] = [];
  for (const p of after) {
    const o = old.get(p.uid);
    old.delete(p.uid);
    if (!o || !samePlace(o, p)) upserts.push(p);
  }
  return { upserts, removed: [...old.keys()] };
}

/** Every commune's measures, fresh. */
export async function allMeasures(db: Db): Promise<{ state: CoverageState; measures: CommuneMeasure[] }> {
  const state = await ensureFresh(db);
  return { state, measures: await cachedMeasures(db, state) };
}

export interface Scope {
  /** null for France. */
  territory: Territory | null;
  measures: CommuneMeasure[];
  state: CoverageState;
}

/** The measures of a territory reference ('27', 'region:28', 'epci:…', 'commune:…'; empty = France). */
export async function scope(db: Db, ref: string | null | undefined): Promise<Scope> {
  const { state, measures } = await allMeasures(db);
  const territory = await scopeTerritory(db, ref);
  return { territory, measures: inScope(measures, territory), state };
}

/** The territory of a reference: null for France (empty, "france", "fr"); 404 when unknown. */
async function scopeTerritory(db: Db, ref: string | null | undefined): Promise<Territory | null> {
  const r = (ref ?? '').trim();
  if (r === '' || r.toLowerCase() === 'france' || r.toLowerCase() === 'fr') return null;
  const territory = await resolveTerritory(db, r);
  if (!territory) throw new UserError(messages.unknownTerritory(r), 404, 'territory');
  return territory;
}

/** Summary of one scope (France or a territory). */
export function scopeSummary(s: Scope): AreaSummary {
  return summaryOf(s.territory, s.measures, s.state.unattributedPlaces);
}

const names = new WeakMap<Db, Map<string, string>>();

/** Names of régions, départements and EPCI, cached per process. */
async function areaName(db: Db, level: 'region' | 'departement' | 'epci', code: string): Promise<string> {
  let m = names.get(db);
  if (!m) {
    m = new Map();
    for (const r of await listRegions(db)) m.set(`region:${r.code}`, r.name);
    for (const d of await listDepartements(db)) m.set(`departement:${d.code}`, d.name);
    names.set(db, m);
  }
  const key = `${level}:${code}`;
  if (!m.has(key)) m.set(key, (await resolveTerritory(db, key))?.name ?? code);
  return m.get(key)!;
}

/** Summaries of every area of a level (optionally within a territory), sorted by code. */
export async function summaries(db: Db, level: AreaLevel, within?: string | null): Promise<{ territory: Territory | null; areas: AreaSummary[] }> {
  const s = await scope(db, within);
  if (level === 'france') return { territory: s.territory, areas: [scopeSummary({ ...s, territory: null })] };
  const key: (m: CommuneMeasure) => string | null = level === 'region' ? (m) => m.region : level === 'departement' ? (m) => m.departement : (m) => m.epci;
  const groups = groupBy(s.measures, key);
  const areas: AreaSummary[] = [];
  for (const code of [...groups.keys()].sort()) {
    areas.push(summarise(groups.get(code)!, { level, code, name: await areaName(db, level, code) }, SERVICE_LABELS.length));
  }
  return { territory: s.territory, areas };
}

export interface WhiteZoneQuery {
  territory?: string | null;
  thresholdKm: number;
  linkKm: number;
  criterion: Criterion;
}

export async function whiteZonesFor(db: Db, q: WhiteZoneQuery): Promise<{ territory: Territory | null; zones: WhiteZones }> {
  const s = await scope(db, q.territory);
  return { territory: s.territory, zones: whiteZones(s.measures, q.criterion, q.thresholdKm, q.linkKm) };
}

// ---------------------------------------------------------------------------------------------
// Planner and what if

export interface PlaceLabel {
  uid: string;
  name: string;
  commune: string | null;
}

/** Names of places by uid (for explanations). */
async function placeLabels(db: Queryable, uids: string[]): Promise<Map<string, PlaceLabel>> {
  const unique = [...new Set(uids)].filter((u) => /^[0-9a-f-]{36}$/i.test(u));
  const places = unique.length ? await getPlacesByUids(db, unique) : [];
  return new Map(places.map((p) => [p.uid, { uid: p.uid, name: p.nom, commune: p.commune ?? null }]));
}

export interface PlanQuery {
  territory: string;
  radiusKm: number;
  k: number;
  criterion: Criterion;
}

export interface PlanOutput extends PlanResult {
  territory: Territory;
  criterion: Criterion;
  places: Record<string, PlaceLabel>;
}

/**
 * Where the planner and "what if" run: in the worker threads of the pool the server registered
 * for this database (the event loop stays free; bounded queue and time budget), inline otherwise
 * (CLI, tests that build no app).
 */
const pools = new WeakMap<Db, ComputePool>();

export function useComputePool(db: Db, pool: ComputePool): () => void {
  pools.set(db, pool);
  return () => {
    if (pools.get(db) === pool) pools.delete(db);
  };
}

function poolOf(db: Db): ComputePool | null {
  const p = pools.get(db);
  return p && !p.isClosed ? p : null;
}

/** The data of a stored version a worker needs (sent to each worker once per version). */
function slotsOf(state: CoverageState, measures: CommuneMeasure[], places?: CoveragePlace[]): SlotData[] {
  const slots: SlotData[] = [{ slot: 'measures', key: String(state.version), load: () => measures }];
  if (places) slots.push({ slot: 'places', key: String(state.version), load: () => places });
  return slots;
}

export async function plan(db: Db, q: PlanQuery): Promise<PlanOutput> {
  const { state, measures } = await allMeasures(db);
  const territory = await scopeTerritory(db, q.territory);
  if (!territory || territory.level === 'commune') throw new UserError(messages.communeTerritory, 400, 'territory');
  const input: PlanInput = { territory, radiusKm: q.radiusKm, k: q.k, criterion: q.criterion };
  const pool = poolOf(db);
  const result = pool ? await pool.run<PlanResult>('plan', input, slotsOf(state, measures)) : computePlan(measures, input);
  const labels = await placeLabels(db, result.picks.map((p) => p.nearestExisting?.uid ?? '').filter(Boolean));
  return { ...result, territory, criterion: q.criterion, places: Object.fromEntries(labels) };
}

export interface WhatIfQuery {
  territory?: string | null;
  close: string[];
  open: { lat: number; lon: number; services?: string[]; openSaturday?: boolean }[];
  criterion: Criterion;
}

export interface WhatIfOutput extends WhatIfResult {
  territory: Territory | null;
}

/**
 * The coverage of a territory (France when none) if the given places closed and places opened at
 * the given points (all services and Saturday opening unless said otherwise). Only the communes a
 * change can affect are recomputed.
 */
export async function whatIf(db: Db, q: WhatIfQuery): Promise<WhatIfOutput> {
  const { state, measures } = await allMeasures(db);
  const territory = await scopeTerritory(db, q.territory);
  const places = await snapshotOf(db, state);
  const input: WhatIfInput = { territory, unattributedPlaces: state.unattributedPlaces, close: q.close, open: q.open, criterion: q.criterion };
  const pool = poolOf(db);
  const r = pool ? await pool.run<WhatIfResult>('whatIf', input, slotsOf(state, measures, places)) : computeWhatIf(measures, places, input);
  return { territory, ...r };
}

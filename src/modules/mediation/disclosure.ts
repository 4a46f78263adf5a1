/**
 * Statistical disclosure control of the public figures (public page, public API, open data).
 *
 * Primary suppression: a count of 1 to 4 is not published (zero is: nobody is not a person).
 * Secondary suppression: a hidden count must not be recoverable by subtraction from totals
 * published elsewhere. Every public figure of a région and year is computed together as one
 * "cube" — the région and its départements, the year and its twelve months, each figure and key —
 * with the sums that link them:
 *   - a year is the sum of its months (every figure and key, every territory);
 *   - a région is the sum of its départements (every figure, key and period);
 *   - activities = individual + collective (and so for accompaniments and followed people);
 *   - accompaniments = the sum of the gender (or age band, or status) keys;
 *   - activities = the sum of the place kinds (or of the durations).
 * In each sum where something is hidden, at least two members are hidden and the hidden parts add
 * up to at least SMALL_COUNT (so a hidden part can be anything from 1 to 4 for all anyone can
 * tell); otherwise the smallest published part is hidden too (or the total when no part is left),
 * and so on until every sum holds. A figure is the same wherever it is published, since every
 * output reads this one cube: the département page, the région page and the open-data rows cannot
 * be played against each other.
 * Public figures are published for régions and départements (communes are too small: staff see
 * them) and for calendar years and their months (arbitrary periods could be differenced).
 */
import type { Queryable } from '../../platform/db/index.ts';
import { listDepartements, resolveTerritory } from '../territories/index.ts';
import { SMALL_COUNT } from './model.ts';

export interface Relation {
  total: string;
  parts: string[];
}

/** The keys of the cells to hide: primary (1 to threshold-1) and secondary suppression. */
export function suppress(values: ReadonlyMap<string, number>, relations: readonly Relation[], threshold = SMALL_COUNT): Set<string> {
  const steps = suppressSteps(values, relations, threshold);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** The same, giving the event loop a turn every few milliseconds: a cube of a large région takes
 *  tens of milliseconds of computation, which would otherwise hold up every request meanwhile
 *  (a background rebuild delayed the recordings that arrived during it). */
export async function suppressYielding(values: ReadonlyMap<string, number>, relations: readonly Relation[], threshold = SMALL_COUNT): Promise<Set<string>> {
  const steps = suppressSteps(values, relations, threshold);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Yields (nothing) about every SLICE_MS of work; returns the hidden cells. */
const SLICE_MS = 4;
function* suppressSteps(values: ReadonlyMap<string, number>, relations: readonly Relation[], threshold: number): Generator<void, Set<string>> {
  let slice = performance.now();
  const hidden = new Set<string>();
  for (const [k, v] of values) if (v > 0 && v < threshold) hidden.add(k);
  const val = (k: string) => values.get(k) ?? 0;
  // Relations touching each cell, to revisit only what a new suppression can break.
  const byCell = new Map<string, number[]>();
  relations.forEach((r, i) => {
    for (const k of [r.total, ...r.parts]) {
      const list = byCell.get(k);
      if (list) list.push(i);
      else byCell.set(k, [i]);
    }
  });
  const queue: number[] = relations.map((_, i) => i);
  const queued = new Set(queue);
  const hide = (k: string) => {
    hidden.add(k);
    for (const i of byCell.get(k) ?? []) {
      if (!queued.has(i)) {
        queued.add(i);
        queue.push(i);
      }
    }
  };
  // A moving head, not queue.shift(): shifting a queue of tens of thousands of relations moved
  // the whole array at every step.
  for (let head = 0; head < queue.length; head++) {
    if ((head & 255) === 0 && performance.now() - slice > SLICE_MS) {
      yield;
      slice = performance.now();
    }
    const i = queue[head]!;
    queued.delete(i);
    const r = relations[i]!;
    for (;;) {
      const hiddenParts = r.parts.filter((k) => hidden.has(k));
      const totalHidden = hidden.has(r.total);
      const count = hiddenParts.length + (totalHidden ? 1 : 0);
      if (count === 0) break;
      const mass = hiddenParts.reduce((s, k) => s + val(k), 0);
      if (count >= 2 && (totalHidden || mass >= threshold)) break;
      // Hide the smallest published non-zero part; the total when none is left.
      let pick: string | null = null;
      for (const k of r.parts) {
        if (hidden.has(k) || val(k) <= 0) continue;
        if (pick === null || val(k) < val(pick) || (val(k) === val(pick) && k < pick)) pick = k;
      }
      if (pick === null) {
        if (totalHidden) break; // nothing more to hide: every non-zero member is hidden
        pick = r.total;
      }
      hide(pick);
    }
  }
  return hidden;
}

/** Figures published, with their keys; additive ones also get a '*' total cell. */
export const PUBLIC_FIGURES = ['activities', 'accompaniments', 'followed', 'theme', 'admin_theme', 'place_kind', 'duration', 'gender', 'age', 'status', 'autonomy', 'orientation', 'equipment', 'training_registrations', 'training_completed', 'competence', 'digcomp'] as const;
/** Figures whose keys add up to their own total ('*'). */
const SELF_TOTAL = ['activities', 'accompaniments', 'followed'];
/** Figures whose keys add up to another figure's total. */
const PARTS_OF: [string, string][] = [
  ['gender', 'accompaniments'],
  ['age', 'accompaniments'],
  ['status', 'accompaniments'],
  ['place_kind', 'activities'],
  ['duration', 'activities'],
];

export interface PublicCube {
  region: string;
  year: string;
  /** Territory refs in the cube: `region:28`, `departement:76`… */
  territories: string[];
  /** A published value, null when hidden; 0 for a cell with nothing in it. */
  value(territory: string, period: string, figure: string, key: string): number | null;
  /** The cells with something in them (for the open-data rows). */
  cells(): { territory: string; period: string; figure: string; key: string; value: number | null }[];
}

const cellKey = (territory: string, period: string, figure: string, key: string) => `${territory}|${period}|${figure}|${key}`;

/** Protected cells of each territory: `period|figure|key` → value (null when hidden). */
type Protected = Map<string, Record<string, number | null>>;

/** A cube read from protected cells. */
function cubeOf(region: string, year: string, territories: string[], cells: Protected): PublicCube {
  return {
    region,
    year,
    territories,
    value(territory, period, figure, key) {
      const v = cells.get(territory)?.[`${period}|${figure}|${key}`];
      return v === undefined ? 0 : v;
    },
    cells() {
      const out: ReturnType<PublicCube['cells']> = [];
      for (const [territory, byKey] of cells) {
        for (const [k, value] of Object.entries(byKey)) {
          const [period, figure, key] = k.split('|') as [string, string, string];
          out.push({ territory, period, figure, key, value });
        }
      }
      return out;
    },
  };
}

async function departementsOf(db: Queryable, region: string): Promise<string[]> {
  return (await listDepartements(db, region)).map((d) => d.code);
}

/**
 * Builds and protects the public figures of a région (and its départements) for a year from the
 * counters, with the version of those counters read in the same statement (one snapshot): the
 * cells are exactly those of that version.
 */
export async function buildPublicCube(db: Queryable, region: string, year: string, deps?: string[]): Promise<{ version: number; territories: string[]; cells: Protected }> {
  deps ??= await departementsOf(db, region);
  const { rows } = await db.query<{ version: string | number; scope: string | null; scope_id: string; month: string; metric: string; key: string; value: number }>(
    `WITH v AS (SELECT coalesce(max(version), 0) AS version FROM mediation.public_version WHERE region = $1 AND year = $5::int),
     c AS (SELECT scope, scope_id, to_char(month, 'YYYY-MM') AS month, metric, key, sum(value)::bigint AS value FROM mediation.stat_counter
            WHERE ((scope = 'region' AND scope_id = $1) OR (scope = 'departement' AND scope_id = ANY($2::text[])))
              AND month >= $3::date AND month < ($3::date + interval '1 year') AND metric = ANY($4::text[])
            GROUP BY scope, scope_id, month, metric, key)
     SELECT v.version, c.* FROM v LEFT JOIN c ON true`,
    [region, deps, `${year}-01-01`, [...PUBLIC_FIGURES], Number(year)],
    { prepare: true },
  );
  const version = Number(rows[0]?.version ?? 0);
  const territories = [`region:${region}`, ...deps.map((d) => `departement:${d}`)];
  const months = Array.from({ length: 12 }, (_, i) => `${year}-${String(i + 1).padStart(2, '0')}`);
  const periods = [year, ...months];
  const values = new Map<string, number>();
  const add = (k: string, v: number) => values.set(k, (values.get(k) ?? 0) + v);
  const keysOf = new Map<string, Set<string>>();
  for (const r of rows) {
    if (r.scope === null) continue; // no counters: the version alone
    const v = Number(r.value);
    if (!v) continue;
    const t = `${r.scope}:${r.scope_id}`;
    let ks = keysOf.get(r.metric);
    if (!ks) keysOf.set(r.metric, (ks = new Set()));
    ks.add(r.key);
    add(cellKey(t, r.month, r.metric, r.key), v);
    add(cellKey(t, year, r.metric, r.key), v);
    if (SELF_TOTAL.includes(r.metric)) {
      add(cellKey(t, r.month, r.metric, '*'), v);
      add(cellKey(t, year, r.metric, '*'), v);
    }
  }
  for (const f of SELF_TOTAL) keysOf.get(f)?.add('*');
  await new Promise((resolve) => setImmediate(resolve));
  const relations: Relation[] = [];
  for (const [figure, keys] of keysOf) {
    for (const key of keys) {
      for (const t of territories) relations.push({ total: cellKey(t, year, figure, key), parts: months.map((m) => cellKey(t, m, figure, key)) });
      for (const p of periods) relations.push({ total: cellKey(territories[0]!, p, figure, key), parts: territories.slice(1).map((t) => cellKey(t, p, figure, key)) });
    }
  }
  for (const t of territories) {
    for (const p of periods) {
      for (const f of SELF_TOTAL) {
        const keys = [...(keysOf.get(f) ?? [])].filter((k) => k !== '*');
        if (keys.length) relations.push({ total: cellKey(t, p, f, '*'), parts: keys.map((k) => cellKey(t, p, f, k)) });
      }
      for (const [f, of] of PARTS_OF) {
        const keys = [...(keysOf.get(f) ?? [])];
        if (keys.length) relations.push({ total: cellKey(t, p, of, '*'), parts: keys.map((k) => cellKey(t, p, f, k)) });
      }
    }
  }
  const hidden = await suppressYielding(values, relations);
  const cells: Protected = new Map(territories.map((t) => [t, {}]));
  for (const [k, v] of values) {
    const bar = k.indexOf('|');
    cells.get(k.slice(0, bar))![k.slice(bar + 1)] = hidden.has(k) ? null : v;
  }
  return { version, territories, cells };
}

/**
 * The protected public figures of a région (and its départements) for a year: read from
 * mediation.public_cube when it was built from the current version of the counters, else built
 * (buildPublicCube) and stored for the next readers — of this instance or any other on the same
 * database. `only` reads a single territory of the cube (a département's page).
 * Stale rows are never served: writes bump the version in their own transaction
 * (store.bumpPublicVersions), and a row is used only when its version is the current one.
 */
export async function publicCube(db: Queryable, region: string, year: string, only?: string): Promise<PublicCube> {
  const deps = await departementsOf(db, region);
  const territories = [`region:${region}`, ...deps.map((d) => `departement:${d}`)];
  const wanted = only && territories.includes(only) ? [only] : territories;
  // The current version first, then the rows: a row of that version is what the counters said at
  // that version or later (a newer write bumps the version, and the next read rebuilds).
  const { rows } = await db.query<{ current: string | number; territory: string | null; version: string | number | null; cells: Record<string, number | null> | null }>(
    `WITH v AS (SELECT coalesce(max(version), 0) AS current FROM mediation.public_version WHERE region = $1 AND year = $2::int)
     SELECT v.current, c.territory, c.version, c.cells FROM v
       LEFT JOIN mediation.public_cube c ON c.region = $1 AND c.year = $2::int AND c.territory = ANY($3::text[]) AND c.version = v.current`,
    [region, Number(year), wanted],
    { prepare: true },
  );
  const fresh = rows.filter((r) => r.territory !== null);
  if (fresh.length === wanted.length) {
    return cubeOf(region, year, territories, new Map(fresh.map((r) => [r.territory!, r.cells ?? {}])));
  }
  let built = await buildOnce(db, region, year, deps);
  // A build already in flight may have read an older version than the one this reader saw (a
  // write committed meanwhile): it is not served, a newer build is (at most a few rounds).
  for (let round = 0; built.version < Number(rows[0]?.current ?? 0); round++) {
    built = round < 3 ? await buildOnce(db, region, year, deps) : await buildPublicCube(db, region, year, deps);
  }
  return cubeOf(region, year, territories, only && territories.includes(only) ? new Map([[only, built.cells.get(only) ?? {}]]) : built.cells);
}

/** Builds in flight in this process, so that simultaneous readers of a stale cube build it once. */
const building = new Map<string, Promise<{ version: number; cells: Protected }>>();

function buildOnce(db: Queryable, region: string, year: string, deps: string[]) {
  const k = `${region}|${year}`;
  let p = building.get(k);
  if (!p) {
    p = (async () => {
      const built = await buildPublicCube(db, region, year, deps);
      await storePublicCube(db, region, year, built.version, built.cells);
      return built;
    })().finally(() => building.delete(k));
    building.set(k, p);
  }
  return p;
}

/** Least pause between two background rebuilds of the same cube while writes keep coming; the
 *  pause is also at least REFRESH_PAUSE_FACTOR times the last rebuild's duration, so background
 *  rebuilds take at most about a tenth of the time however slow they are (a 1,000,000-record run
 *  on a loaded machine doubled the CPU per record with a fixed one-second pause). */
export const REFRESH_PAUSE_MS = 1000;
export const REFRESH_PAUSE_FACTOR = 10;
/** Background refreshes per région and year: running, and whether another write came meanwhile. */
const refreshing = new Map<string, { again: boolean; done: Promise<void> }>();

/**
 * Rebuilds, off the request path, the protected cubes that committed writes made stale: called
 * after the writer's transaction commits, it returns at once (the promise is for tests and tools).
 * A write arriving during a rebuild asks for one more, started after a pause (REFRESH_PAUSE_MS, and
 * at least REFRESH_PAUSE_FACTOR times the rebuild's duration): under a stream of writes a cube is
 * rebuilt every second or so, not once per write, and rebuilding never takes more than about a
 * tenth of the time.
 * Readers never depend on it: a reader still checks the version and builds a stale cube itself
 * (joining a build in flight when there is one), so nothing stale is served meanwhile.
 */
export function refreshPublicCubes(db: Queryable, changed: { region: string; year: number }[], onError: (e: unknown) => void = () => {}): Promise<void> {
  return Promise.all(
    changed.map(({ region, year }) => {
      const k = `${region}|${year}`;
      const running = refreshing.get(k);
      if (running) {
        running.again = true;
        return running.done;
      }
      const state = { again: false, done: Promise.resolve() };
      const run = async (): Promise<void> => {
        const started = performance.now();
        try {
          await buildOnce(db, region, String(year), await departementsOf(db, region));
        } catch (e) {
          onError(e); // the next reader builds it
        }
        if (state.again) {
          state.again = false;
          const pause = Math.max(REFRESH_PAUSE_MS, REFRESH_PAUSE_FACTOR * (performance.now() - started));
          await new Promise((r) => setTimeout(r, pause).unref());
          return run();
        }
      };
      state.done = run().finally(() => refreshing.delete(k));
      refreshing.set(k, state);
      return state.done;
    }),
  ).then(() => undefined);
}

/** Stores a built cube; a row already built from a newer version is kept. */
async function storePublicCube(db: Queryable, region: string, year: string, version: number, cells: Protected): Promise<void> {
  const list = [...cells];
  await db.query(
    `INSERT INTO mediation.public_cube AS c (region, year, territory, version, cells)
     SELECT $1, $2::int, t, $3::bigint, x::jsonb FROM unnest($4::text[], $5::text[]) AS u(t, x)
     ON CONFLICT (region, year, territory) DO UPDATE SET version = EXCLUDED.version, cells = EXCLUDED.cells, built_at = now()
       WHERE c.version < EXCLUDED.version`,
    [region, Number(year), version, list.map(([t]) => t), list.map(([, c]) => JSON.stringify(c))],
  );
}

/** The région a public territory belongs to (région or département), or null when not public. */
export async function publicRegionOf(db: Queryable, level: string, code: string): Promise<{ region: string; level: 'region' | 'departement'; code: string; name: string } | null> {
  if (level !== 'region' && level !== 'departement') return null;
  const t = await resolveTerritory(db, `${level}:${code}`);
  if (!t) return null;
  const region = t.level === 'region' ? t.code : t.parents.find((p) => p.level === 'region')?.code;
  return region ? { region, level: t.level as 'region' | 'departement', code: t.code, name: t.name } : null;
}

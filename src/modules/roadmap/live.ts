/**
 * Live indicators: computations other modules register (allow-listed code, never SQL typed by a
 * user), recomputed by a background job or the CLI and stored as dated series (source « calcul »).
 */
import type { Db, Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import type { TerritoryRef } from './model.ts';
import { writeTx } from './snapshot.ts';
import * as store from './store.ts';
import { INDICATOR_ID, indicatorFields, writeValues, type ValueInput } from './service.ts';

export interface LiveContext {
  db: Db;
}

export interface LiveIndicator {
  /** Stable identifier, e.g. 'places.per-10000'. */
  id: string;
  title: string;
  unit: string;
  direction?: 'up' | 'down';
  min?: number | null;
  max?: number | null;
  /** How it is computed, in French, shown on the indicator's page. */
  method: string;
  /** Where the data comes from (shown with every value). */
  source?: string;
  /**
   * The value for each territory asked (key `${level}:${code}`); a territory left out, or null,
   * gets no value this time. Must only read through the registering module's own functions.
   */
  compute(ctx: LiveContext, territories: TerritoryRef[]): Promise<Map<string, number | null>>;
}

const registry = new Map<string, LiveIndicator>();

/** Registers a live indicator (at start-up, from the contributing module's index.ts). */
export function registerIndicator(def: LiveIndicator): void {
  if (!INDICATOR_ID.test(def.id)) throw new Error(`registerIndicator: invalid id "${def.id}"`);
  const existing = registry.get(def.id);
  if (existing && existing !== def) throw new Error(`registerIndicator: "${def.id}" is already registered`);
  if (typeof def.compute !== 'function') throw new Error(`registerIndicator: "${def.id}" has no compute function`);
  registry.set(def.id, def);
}

export function liveIndicators(): LiveIndicator[] {
  return [...registry.values()].sort((a, b) => a.id.localeCompare(b.id));
}

export const territoryKey = (t: TerritoryRef) => `${t.level}:${t.code}`;

function definitionOf(def: LiveIndicator) {
  return indicatorFields({ id: def.id, title: def.title, unit: def.unit, direction: def.direction ?? 'up', min: def.min ?? null, max: def.max ?? null, method: def.method, source: def.source ?? 'Calcul de la plateforme' }, true);
}

/** Writes the registered definitions into roadmap.indicator (live = true), so plans can link them. */
export async function syncLiveDefinitions(db: Queryable): Promise<number> {
  const defs = liveIndicators();
  for (const d of defs) await store.upsertIndicator(db, definitionOf(d));
  return defs.length;
}

export interface RecomputeReport {
  indicators: number;
  territories: number;
  values: number;
  failed: { id: string; error: string }[];
  date: string;
  ms: number;
}

/**
 * Recomputes every live indicator (or those given) for every territory that has a plan or a series
 * of it, and stores the results dated `date` (today by default; a recompute the same day replaces
 * that day's value). One transaction per indicator; a failing computation is reported, not fatal.
 */
export async function recomputeLive(db: Db, o: { ids?: string[]; date?: string; actorId?: string | null; onProgress?: (p: { done: number; total: number; id: string }) => void } = {}): Promise<RecomputeReport> {
  const started = performance.now();
  const date = o.date ?? new Date().toISOString().slice(0, 10);
  const defs = liveIndicators().filter((d) => !o.ids || o.ids.includes(d.id));
  await db.transaction((tx) => syncLiveDefinitions(tx));
  const { rows } = await db.query<{ level: TerritoryRef['level']; code: string }>(
    `SELECT territory_level AS level, territory_code AS code FROM roadmap.plan
     UNION SELECT territory_level, territory_code FROM roadmap.series_summary s JOIN roadmap.indicator i ON i.id = s.indicator_id AND i.live
     ORDER BY 1, 2`,
  );
  const territories = rows.map((r) => ({ level: r.level, code: r.code }));
  const report: RecomputeReport = { indicators: 0, territories: territories.length, values: 0, failed: [], date, ms: 0 };
  let done = 0;
  for (const def of defs) {
    try {
      const values = await def.compute({ db }, territories);
      const out: ValueInput[] = [];
      for (const t of territories) {
        const v = values.get(territoryKey(t));
        if (v === null || v === undefined || !Number.isFinite(v)) continue;
        out.push({ indicatorId: def.id, territory: t, kind: 'result', date, value: Math.round(v * 1e6) / 1e6, source: 'calcul', note: '' });
      }
      await writeTx(db, async (tx) => {
        await writeValues(tx, o.actorId ?? null, out);
        await recordAudit(tx, { actorId: o.actorId ?? null, action: 'roadmap.live.recompute', objectType: 'roadmap.indicator', objectId: def.id, after: { date, values: out.length } });
      });
      report.values += out.length;
      report.indicators++;
    } catch (err) {
      report.failed.push({ id: def.id, error: (err as Error).message });
    }
    o.onProgress?.({ done: ++done, total: defs.length, id: def.id });
  }
  report.ms = Math.round(performance.now() - started);
  return report;
}

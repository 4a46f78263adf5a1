/**
 * Snapshots of what a plan's barometer shows (the tree's skeleton, rolled-up progress, each node's
 * indicators with their progress, money, envelopes), kept in `roadmap.plan_cache` with the plan's
 * version at the time they were computed. Triggers bump a plan's version (and drop its snapshot)
 * on every statement that writes its nodes, budgets, envelopes, indicator links, or the series
 * summaries of its territory (migration 002): a snapshot whose version is not the plan's current
 * one is never used, on any instance.
 *
 * The roadmap's own writes refresh the snapshots of the plans they changed before they commit
 * (`writeTx`), so the first view after a change reads one row; other writes (another module
 * drawing an envelope, bulk writes touching many plans, SQL by hand) leave the snapshot to the
 * first reader, who computes and stores it.
 */
import type { Db, Queryable } from '../../platform/db/index.ts';
import type { Plan, PlanNode } from './model.ts';
import { listEnvelopes, planMoney, type Envelope, type MoneyTotals, type PlanMoney } from './money.ts';
import { getSkeleton, overallProgress, planProgress, type IndicatorProgress } from './service.ts';

/** What a barometer holds besides the plan itself. */
export interface BarometerData {
  nodes: PlanNode[];
  depth: Map<string, number>;
  progress: Map<string, number | null>;
  indicators: Map<string, IndicatorProgress[]>;
  overall: number | null;
  money: PlanMoney;
  envelopes: Envelope[];
}

/** Plans whose snapshots a write refreshes itself before committing; beyond, readers do. */
const REFRESH_IN_WRITE = 3;

export async function computeBarometerData(db: Queryable, plan: Pick<Plan, 'id' | 'territory'>): Promise<BarometerData> {
  const nodes = await getSkeleton(db, plan.id);
  const { progress, indicators } = await planProgress(db, plan, nodes);
  const money = await planMoney(db, plan.id, nodes);
  const envelopes = await listEnvelopes(db, { planId: plan.id });
  const depth = new Map<string, number>();
  for (const n of nodes) depth.set(n.id, n.parentId ? (depth.get(n.parentId) ?? 0) + 1 : 0);
  return { nodes, depth, progress, indicators, overall: overallProgress(nodes, progress), money, envelopes };
}

type NodeTuple = [string, string | null, number, PlanNode['kind'], string, string, PlanNode['status'], PlanNode['priority'], number];

interface Stored {
  nodes: NodeTuple[];
  progress: [string, number | null][];
  indicators: [string, IndicatorProgress[]][];
  overall: number | null;
  money: { byNode: [string, MoneyTotals][]; total: MoneyTotals; byYear: PlanMoney['byYear']; byFunder: PlanMoney['byFunder'] };
  envelopes: Envelope[];
}

export function serialise(d: BarometerData): string {
  const s: Stored = {
    nodes: d.nodes.map((n) => [n.id, n.parentId, n.position, n.kind, n.number, n.title, n.status, n.priority, n.weight]),
    progress: [...d.progress],
    indicators: [...d.indicators],
    overall: d.overall,
    money: { byNode: [...d.money.byNode], total: d.money.total, byYear: d.money.byYear, byFunder: d.money.byFunder },
    envelopes: d.envelopes,
  };
  return JSON.stringify(s);
}

export function deserialise(planId: string, text: string): BarometerData {
  const s = JSON.parse(text) as Stored;
  const nodes: PlanNode[] = s.nodes.map(([id, parentId, position, kind, number, title, status, priority, weight]) => ({
    id, planId, parentId, position, kind, number, title, description: '', leads: [], partners: [], publics: [], startDate: null, endDate: null, status, priority, tags: [], links: [], weight, updatedAt: '',
  }));
  const depth = new Map<string, number>();
  for (const n of nodes) depth.set(n.id, n.parentId ? (depth.get(n.parentId) ?? 0) + 1 : 0);
  return {
    nodes,
    depth,
    progress: new Map(s.progress),
    indicators: new Map(s.indicators),
    overall: s.overall,
    money: { byNode: new Map(s.money.byNode), total: s.money.total, byYear: s.money.byYear, byFunder: s.money.byFunder, budgets: [] },
    envelopes: s.envelopes,
  };
}

/**
 * The plan's current version and, when it is still valid and `known` is not already that version,
 * its stored snapshot. `version` is null when the plan has no row (it was just deleted).
 */
export async function readSnapshot(db: Queryable, planId: string, known: number | null): Promise<{ version: number | null; text: string | null }> {
  const { rows } = await db.query<{ version: string | number; snapshot: string | null }>(
    `SELECT version, CASE WHEN snapshot_version = version AND version IS DISTINCT FROM $2::bigint THEN snapshot END AS snapshot
       FROM roadmap.plan_cache WHERE plan_id = $1`,
    [planId, known],
    { prepare: true },
  );
  const r = rows[0];
  return r ? { version: Number(r.version), text: r.snapshot } : { version: null, text: null };
}

/**
 * Stores a snapshot computed from data read after `version` was read, unless the plan changed
 * since (then the next reader computes again) or a writer holds the row (never waits for it).
 */
export async function storeSnapshot(db: Queryable, planId: string, version: number, text: string): Promise<void> {
  await db.query(
    `UPDATE roadmap.plan_cache SET snapshot = $3, snapshot_version = version
      WHERE plan_id = (SELECT plan_id FROM roadmap.plan_cache WHERE plan_id = $1 AND version = $2::bigint FOR UPDATE SKIP LOCKED)`,
    [planId, version, text],
    { prepare: true },
  );
}

/**
 * Inside a write's transaction, after its last write to the roadmap: computes and stores the
 * snapshots of the plans this transaction changed (when they are few), so their first view
 * afterwards reads one row. The transaction already holds those rows (its triggers bumped them).
 */
export async function refreshSnapshots(tx: Queryable): Promise<void> {
  const { rows } = await tx.query<{ plan_id: string; territory_level: Plan['territory']['level']; territory_code: string }>(
    `SELECT c.plan_id, p.territory_level, p.territory_code FROM roadmap.plan_cache c JOIN roadmap.plan p ON p.id = c.plan_id
      WHERE c.bumped_by = pg_current_xact_id()::text AND c.snapshot IS NULL LIMIT ${REFRESH_IN_WRITE + 1}`,
  );
  if (!rows.length || rows.length > REFRESH_IN_WRITE) return;
  for (const r of rows) {
    const data = await computeBarometerData(tx, { id: r.plan_id, territory: { level: r.territory_level, code: r.territory_code } });
    await tx.query('UPDATE roadmap.plan_cache SET snapshot = $2, snapshot_version = version WHERE plan_id = $1', [r.plan_id, serialise(data)]);
  }
}

/** A roadmap write: `fn` in one transaction, then the changed plans' snapshots refreshed in it. */
export function writeTx<T>(db: Db, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    const out = await fn(tx);
    await refreshSnapshots(tx);
    return out;
  });
}

/**
 * What the pages and the API show: a plan with its tree, rolled-up progress and money (the
 * barometer), one action with its indicators, budgets, linked objects and history. Linked objects
 * are resolved by the modules that own them, through resolvers they register (roadmap never
 * imports them).
 */
import type { Db, Queryable } from '../../platform/db/index.ts';
import type { Link, LinkKind, Plan, PlanNode } from './model.ts';
import { listEnvelopes, nodeBudgets, planMoney, type Budget, type Envelope, type MoneyTotals, type PlanMoney } from './money.ts';
import { getNode, getSeries, getSkeleton, getTree, history, overallProgress, planProgress, type IndicatorProgress, type SeriesValue } from './service.ts';
import { dataVersion, type ChangeRow } from './store.ts';

export interface ResolvedLink extends Link {
  label: string;
  href: string | null;
  /** false when the owning module does not know the id (deleted, mistyped). */
  found: boolean;
}

export type LinkResolver = (db: Db, ids: string[]) => Promise<Map<string, { label: string; href: string | null }>>;

const resolvers = new Map<LinkKind, LinkResolver>();

/** Registers how links of a kind are shown (name and page), from the module owning those objects. */
export function registerLinkResolver(kind: LinkKind, resolve: LinkResolver): void {
  resolvers.set(kind, resolve);
}

export async function resolveLinks(db: Db, links: Link[]): Promise<ResolvedLink[]> {
  const byKind = new Map<LinkKind, string[]>();
  for (const l of links) byKind.set(l.kind, [...(byKind.get(l.kind) ?? []), l.id]);
  const found = new Map<string, { label: string; href: string | null }>();
  for (const [kind, ids] of byKind) {
    const r = resolvers.get(kind);
    if (!r) continue;
    try {
      for (const [id, v] of await r(db, ids)) found.set(`${kind}:${id}`, v);
    } catch {
      // A failing resolver leaves its links unresolved; the page still shows their ids.
    }
  }
  return links.map((l) => {
    const v = found.get(`${l.kind}:${l.id}`);
    return { ...l, label: v?.label ?? l.id, href: v?.href ?? null, found: !!v };
  });
}

export interface Barometer {
  plan: Plan;
  nodes: PlanNode[];
  depth: Map<string, number>;
  progress: Map<string, number | null>;
  indicators: Map<string, IndicatorProgress[]>;
  overall: number | null;
  money: PlanMoney;
  envelopes: Envelope[];
}

const CACHE_MAX = 200;
const caches = new WeakMap<Queryable, Map<string, { version: number; value: Barometer }>>();

/**
 * The plan's tree with progress and money; `full` reads every field of the nodes (API), else the
 * skeleton (pages). Kept in memory until the roadmap's data version changes (any write, from any
 * process, bumps it), at most 200 plans (least recently used dropped).
 */
export async function barometer(db: Queryable, plan: Plan, o: { full?: boolean } = {}): Promise<Barometer> {
  let cache = caches.get(db);
  if (!cache) caches.set(db, (cache = new Map()));
  const key = `${plan.id}:${o.full ? 1 : 0}`;
  const version = await dataVersion(db);
  const hit = cache.get(key);
  if (hit && hit.version === version && hit.value.plan.revision === plan.revision && hit.value.plan.updatedAt === plan.updatedAt) {
    cache.delete(key);
    cache.set(key, hit);
    return hit.value;
  }
  const value = await computeBarometer(db, plan, o);
  cache.delete(key);
  cache.set(key, { version, value });
  while (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value!);
  return value;
}

async function computeBarometer(db: Queryable, plan: Plan, o: { full?: boolean }): Promise<Barometer> {
  const nodes = o.full ? await getTree(db, plan.id) : await getSkeleton(db, plan.id);
  const [{ progress, indicators }, money, envelopes] = await Promise.all([planProgress(db, plan, nodes), planMoney(db, plan.id, nodes), listEnvelopes(db, { planId: plan.id })]);
  const depth = new Map<string, number>();
  for (const n of nodes) depth.set(n.id, n.parentId ? (depth.get(n.parentId) ?? 0) + 1 : 0);
  return { plan, nodes, depth, progress, indicators, overall: overallProgress(nodes, progress), money, envelopes };
}

export interface ActionView {
  plan: Plan;
  node: PlanNode;
  ancestors: PlanNode[];
  children: PlanNode[];
  progress: number | null;
  indicators: (IndicatorProgress & { series: SeriesValue[] })[];
  budgets: Budget[];
  money: MoneyTotals | null;
  links: ResolvedLink[];
  history: ChangeRow[];
}

export async function actionView(db: Db, plan: Plan, nodeId: string): Promise<ActionView | null> {
  const node = await getNode(db, nodeId);
  if (!node || node.planId !== plan.id) return null;
  const nodes = await getSkeleton(db, plan.id);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const ancestors: PlanNode[] = [];
  for (let p = node.parentId; p; p = byId.get(p)?.parentId ?? null) {
    const a = byId.get(p);
    if (!a || ancestors.length > nodes.length) break;
    ancestors.unshift(a);
  }
  const [{ progress, indicators }, budgets, money, changes, links] = await Promise.all([
    planProgress(db, plan, nodes),
    nodeBudgets(db, nodeId),
    planMoney(db, plan.id, nodes),
    history(db, plan.id, { objectId: nodeId, limit: 50 }),
    resolveLinks(db, node.links),
  ]);
  const own = indicators.get(nodeId) ?? [];
  const withSeries = await Promise.all(own.map(async (i) => ({ ...i, series: await getSeries(db, i.indicator.id, plan.territory) })));
  return {
    plan,
    node,
    ancestors,
    children: nodes.filter((n) => n.parentId === nodeId),
    progress: progress.get(nodeId) ?? null,
    indicators: withSeries,
    budgets,
    money: money.byNode.get(nodeId) ?? null,
    links,
    history: changes,
  };
}

/**
 * What the pages and the API show: a plan with its tree, rolled-up progress and money (the
 * barometer), one action with its indicators, budgets, linked objects and history. Linked objects
 * are resolved by the modules that own them, through resolvers they register (roadmap never
 * imports them).
 */
import type { Db, Queryable } from '../../platform/db/index.ts';
import type { Link, LinkKind, Plan, PlanNode } from './model.ts';
import { nodeBudgets, type Budget, type MoneyTotals } from './money.ts';
import { getNode, getSeries, getTree, history, type IndicatorProgress, type SeriesValue } from './service.ts';
import { computeBarometerData, deserialise, readSnapshot, serialise, storeSnapshot, type BarometerData } from './snapshot.ts';
import type { ChangeRow } from './store.ts';

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

export interface Barometer extends BarometerData {
  plan: Plan;
}

const CACHE_MAX = 200;
const caches = new WeakMap<Queryable, Map<string, { version: number; value: Barometer }>>();

/**
 * The plan's tree with progress and money; `full` reads every field of the nodes (API), else the
 * skeleton (pages). Reads the plan's version and, when this process does not already hold that
 * version, the snapshot stored for it (see snapshot.ts); computes and stores the snapshot when
 * there is none. Kept in memory too (at most 200, least recently used dropped).
 */
export async function barometer(db: Queryable, plan: Plan, o: { full?: boolean } = {}): Promise<Barometer> {
  let cache = caches.get(db);
  if (!cache) caches.set(db, (cache = new Map()));
  const key = `${plan.id}:${o.full ? 1 : 0}`;
  const hit = cache.get(key);
  const fresh = (b: Barometer) => b.plan.revision === plan.revision && b.plan.updatedAt === plan.updatedAt;
  const known = hit && fresh(hit.value) ? hit.version : null;
  const { version, text } = await readSnapshot(db, plan.id, known);
  if (hit && version !== null && version === known) {
    cache.delete(key);
    cache.set(key, hit);
    return hit.value;
  }
  let data: BarometerData;
  if (text !== null) data = deserialise(plan.id, text);
  else {
    data = await computeBarometerData(db, plan);
    if (version !== null) await storeSnapshot(db, plan.id, version, serialise(data));
  }
  const value: Barometer = { plan, ...data };
  if (o.full) value.nodes = await getTree(db, plan.id);
  if (version === null) return value;
  cache.delete(key);
  cache.set(key, { version, value });
  while (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value!);
  return value;
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
  // Progress, indicators and money of the whole plan come from its barometer (one stored snapshot
  // while the plan is unchanged), not from a roll-up per page.
  const b = await barometer(db, plan);
  const byId = new Map(b.nodes.map((n) => [n.id, n]));
  const ancestors: PlanNode[] = [];
  for (let p = node.parentId; p; p = byId.get(p)?.parentId ?? null) {
    const a = byId.get(p);
    if (!a || ancestors.length > b.nodes.length) break;
    ancestors.unshift(a);
  }
  const own = b.indicators.get(nodeId) ?? [];
  const [budgets, changes, links, series] = await Promise.all([
    nodeBudgets(db, nodeId),
    history(db, plan.id, { objectId: nodeId, limit: 50 }),
    resolveLinks(db, node.links),
    Promise.all(own.map((i) => getSeries(db, i.indicator.id, plan.territory))),
  ]);
  return {
    plan,
    node,
    ancestors,
    children: b.nodes.filter((n) => n.parentId === nodeId),
    progress: b.progress.get(nodeId) ?? null,
    indicators: own.map((i, k) => ({ ...i, series: series[k]! })),
    budgets,
    money: b.money.byNode.get(nodeId) ?? null,
    links,
    history: changes,
  };
}

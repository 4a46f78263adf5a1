/**
 * What the pages and the API show: a plan with its tree, rolled-up progress and money (the
 * barometer), one action with its indicators, budgets, linked objects and history. Linked objects
 * are resolved by the modules that own them, through resolvers they register (roadmap never
 * imports them).
 */
import type { Db, Queryable } from '../../platform/db/index.ts';
import type { Link, LinkKind, Plan, PlanNode } from './model.ts';
import { listEnvelopes, nodeBudgets, planBudgets, rollupMoney, type Budget, type Envelope, type MoneyTotals, type PlanMoney } from './money.ts';
import { getSeries, getTree, history, overallProgress, planProgress, type IndicatorProgress, type SeriesValue } from './service.ts';
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

export async function barometer(db: Queryable, plan: Plan): Promise<Barometer> {
  const [nodes, budgets, envelopes] = await Promise.all([getTree(db, plan.id), planBudgets(db, plan.id), listEnvelopes(db, { planId: plan.id })]);
  const { progress, indicators } = await planProgress(db, plan, nodes);
  const depth = new Map<string, number>();
  for (const n of nodes) depth.set(n.id, n.parentId ? (depth.get(n.parentId) ?? 0) + 1 : 0);
  return { plan, nodes, depth, progress, indicators, overall: overallProgress(nodes, progress), money: rollupMoney(nodes, budgets), envelopes };
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
  const nodes = await getTree(db, plan.id);
  const node = nodes.find((n) => n.id === nodeId);
  if (!node) return null;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const ancestors: PlanNode[] = [];
  for (let p = node.parentId; p; p = byId.get(p)?.parentId ?? null) {
    const a = byId.get(p);
    if (!a || ancestors.length > nodes.length) break;
    ancestors.unshift(a);
  }
  const [{ progress, indicators }, budgets, allBudgets, changes, links] = await Promise.all([
    planProgress(db, plan, nodes),
    nodeBudgets(db, nodeId),
    planBudgets(db, plan.id),
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
    money: rollupMoney(nodes, allBudgets).byNode.get(nodeId) ?? null,
    links,
    history: changes,
  };
}

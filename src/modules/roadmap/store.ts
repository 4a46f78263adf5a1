/** The SQL for the roadmap schema's own tables. */
import type { Queryable } from '../../platform/db/index.ts';
import type { Indicator, Link, Plan, PlanNode, Priority, NodeKind, SeriesSummary, Status, TerritoryLevel, TerritoryRef } from './model.ts';
import { INDICATOR_ID, SLUG } from './model.ts';

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export const PLAN_COLUMNS = `id, slug, territory_level, territory_code, region, departement, title, period_start, period_end, published, vote_date,
  deliberation_ref, deliberation_url, votes_for, votes_against, votes_abstention, context, authority_name, authority_siret, documents, revision, created_at, updated_at`;

export function toPlan(r: Record<string, unknown>): Plan {
  return {
    id: r.id as string,
    slug: r.slug as string,
    territory: { level: r.territory_level as TerritoryLevel, code: r.territory_code as string },
    region: (r.region as string | null) ?? null,
    departement: (r.departement as string | null) ?? null,
    title: r.title as string,
    periodStart: r.period_start as string,
    periodEnd: r.period_end as string,
    published: r.published as boolean,
    vote: {
      date: (r.vote_date as string | null) ?? null,
      deliberationRef: (r.deliberation_ref as string | null) ?? null,
      deliberationUrl: (r.deliberation_url as string | null) ?? null,
      votesFor: num(r.votes_for),
      votesAgainst: num(r.votes_against),
      votesAbstention: num(r.votes_abstention),
    },
    context: r.context as string,
    authority: { name: (r.authority_name as string | null) ?? null, siret: (r.authority_siret as string | null)?.trim() ?? null },
    documents: (r.documents as { title: string; url: string }[]) ?? [],
    revision: Number(r.revision),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

export const NODE_COLUMNS = `id, plan_id, parent_id, position, kind, number, title, description, leads, partners, publics, start_date, end_date,
  status, priority, tags, links, weight, updated_at`;

export function toNode(r: Record<string, unknown>): PlanNode {
  return {
    id: r.id as string,
    planId: r.plan_id as string,
    parentId: (r.parent_id as string | null) ?? null,
    position: Number(r.position),
    kind: r.kind as NodeKind,
    number: r.number as string,
    title: r.title as string,
    description: r.description as string,
    leads: (r.leads as string[]) ?? [],
    partners: (r.partners as string[]) ?? [],
    publics: (r.publics as string[]) ?? [],
    startDate: (r.start_date as string | null) ?? null,
    endDate: (r.end_date as string | null) ?? null,
    status: r.status as Status,
    priority: r.priority as Priority,
    tags: (r.tags as string[]) ?? [],
    links: (r.links as Link[]) ?? [],
    weight: Number(r.weight),
    updatedAt: iso(r.updated_at),
  };
}

export async function planById(db: Queryable, id: string, lock = false): Promise<Plan | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  const { rows } = await db.query(`SELECT ${PLAN_COLUMNS} FROM roadmap.plan WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0] ? toPlan(rows[0]) : null;
}

export async function planBySlug(db: Queryable, slug: string): Promise<Plan | null> {
  // Not a slug (a NUL byte, a space…): no plan, and nothing for PostgreSQL to choke on.
  if (!SLUG.test(slug)) return null;
  const { rows } = await db.query(`SELECT ${PLAN_COLUMNS} FROM roadmap.plan WHERE slug = $1`, [slug], { prepare: true });
  return rows[0] ? toPlan(rows[0]) : null;
}

export async function listPlans(db: Queryable, o: { territory?: TerritoryRef; publishedOnly?: boolean }): Promise<Plan[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (o.territory) {
    where.push(`territory_level = $${params.push(o.territory.level)} AND territory_code = $${params.push(o.territory.code)}`);
  }
  if (o.publishedOnly) where.push('published');
  const { rows } = await db.query(`SELECT ${PLAN_COLUMNS} FROM roadmap.plan ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY territory_level, territory_code, period_start DESC, title`, params);
  return rows.map(toPlan);
}

export async function nodesOf(db: Queryable, planId: string): Promise<PlanNode[]> {
  const { rows } = await db.query(`SELECT ${NODE_COLUMNS} FROM roadmap.node WHERE plan_id = $1 ORDER BY position, id`, [planId], { prepare: true });
  return rows.map(toNode);
}

/** The tree's skeleton for barometers and roll-ups: no texts beyond number and title, no arrays
 * (one row of JSON: far cheaper to read than 300 rows of 9 columns, on PGlite above all). */
export async function skeletonOf(db: Queryable, planId: string): Promise<PlanNode[]> {
  const { rows } = await db.query<{ j: string | null }>(
    'SELECT json_agg(json_build_array(id, parent_id, position, kind, number, title, status, priority, weight))::text AS j FROM roadmap.node WHERE plan_id = $1',
    [planId],
    { prepare: true },
  );
  const list = JSON.parse(rows[0]?.j ?? '[]') as [string, string | null, number, NodeKind, string, string, Status, Priority, number][];
  return list.map(([id, parentId, position, kind, number, title, status, priority, weight]) => ({
    id, planId, parentId, position: Number(position), kind, number, title, description: '', leads: [], partners: [], publics: [],
    startDate: null, endDate: null, status, priority, tags: [], links: [], weight: Number(weight), updatedAt: '',
  }));
}

export async function nodeById(db: Queryable, id: string): Promise<PlanNode | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  const { rows } = await db.query(`SELECT ${NODE_COLUMNS} FROM roadmap.node WHERE id = $1`, [id], { prepare: true });
  return rows[0] ? toNode(rows[0]) : null;
}

export async function insertNode(db: Queryable, n: Omit<PlanNode, 'id' | 'updatedAt'>): Promise<PlanNode> {
  const { rows } = await db.query(
    `INSERT INTO roadmap.node (plan_id, parent_id, position, kind, number, title, description, leads, partners, publics, start_date, end_date, status, priority, tags, links, weight)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::jsonb, $17) RETURNING ${NODE_COLUMNS}`,
    [n.planId, n.parentId, n.position, n.kind, n.number, n.title, n.description, n.leads, n.partners, n.publics, n.startDate, n.endDate, n.status, n.priority, n.tags, JSON.stringify(n.links), n.weight],
  );
  return toNode(rows[0]!);
}

export async function updateNodeRow(db: Queryable, n: PlanNode): Promise<PlanNode> {
  const { rows } = await db.query(
    `UPDATE roadmap.node SET parent_id = $2, position = $3, kind = $4, number = $5, title = $6, description = $7, leads = $8, partners = $9, publics = $10,
       start_date = $11, end_date = $12, status = $13, priority = $14, tags = $15, links = $16::jsonb, weight = $17, updated_at = now()
     WHERE id = $1 RETURNING ${NODE_COLUMNS}`,
    [n.id, n.parentId, n.position, n.kind, n.number, n.title, n.description, n.leads, n.partners, n.publics, n.startDate, n.endDate, n.status, n.priority, n.tags, JSON.stringify(n.links), n.weight],
  );
  return toNode(rows[0]!);
}

export async function insertChange(
  db: Queryable,
  c: { planId: string; objectType: 'plan' | 'node'; objectId: string; actorId: string | null; action: string; summary: string; before: unknown; after: unknown },
): Promise<void> {
  await db.query(
    `INSERT INTO roadmap.change (plan_id, object_type, object_id, actor_id, action, summary, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb)`,
    [c.planId, c.objectType, c.objectId, c.actorId, c.action, c.summary, c.before == null ? null : JSON.stringify(c.before), c.after == null ? null : JSON.stringify(c.after)],
  );
  await db.query('UPDATE roadmap.plan SET revision = revision + 1, updated_at = now() WHERE id = $1', [c.planId]);
}

export interface ChangeRow {
  seq: number;
  objectType: 'plan' | 'node';
  objectId: string;
  at: string;
  actorId: string | null;
  action: string;
  summary: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

function toChange(r: Record<string, unknown>): ChangeRow {
  return {
    seq: Number(r.seq),
    objectType: r.object_type as 'plan' | 'node',
    objectId: r.object_id as string,
    at: iso(r.at),
    actorId: (r.actor_id as string | null) ?? null,
    action: r.action as string,
    summary: r.summary as string,
    before: (r.before as Record<string, unknown> | null) ?? null,
    after: (r.after as Record<string, unknown> | null) ?? null,
  };
}

export async function changes(db: Queryable, planId: string, o: { objectId?: string; beforeSeq?: number; limit?: number } = {}): Promise<ChangeRow[]> {
  const params: unknown[] = [planId];
  let where = 'plan_id = $1';
  if (o.objectId) where += ` AND object_id = $${params.push(o.objectId)}`;
  if (o.beforeSeq) where += ` AND seq < $${params.push(o.beforeSeq)}`;
  const limit = Math.min(Math.max(o.limit ?? 50, 1), 500);
  const { rows } = await db.query(`SELECT seq, object_type, object_id, at, actor_id, action, summary, before, after FROM roadmap.change WHERE ${where} ORDER BY seq DESC LIMIT ${limit}`, params);
  return rows.map(toChange);
}

/** The last recorded state of every object of a plan at or before a moment (budget records, kept in the node's history, are not states of it). */
export async function statesAt(db: Queryable, planId: string, at: string): Promise<ChangeRow[]> {
  const { rows } = await db.query(
    `SELECT DISTINCT ON (object_id) seq, object_type, object_id, at, actor_id, action, summary, before, after
       FROM roadmap.change WHERE plan_id = $1 AND at <= $2::timestamptz AND action <> 'budget' ORDER BY object_id, seq DESC`,
    [planId, at],
  );
  return rows.map(toChange);
}

// Indicators -------------------------------------------------------------------------------------

export const INDICATOR_COLUMNS = 'id, title, unit, direction, min_value, max_value, method, source, live';

export function toIndicator(r: Record<string, unknown>): Indicator {
  return {
    id: r.id as string,
    title: r.title as string,
    unit: r.unit as string,
    direction: r.direction as 'up' | 'down',
    min: num(r.min_value),
    max: num(r.max_value),
    method: r.method as string,
    source: r.source as string,
    live: r.live as boolean,
  };
}

export async function indicatorById(db: Queryable, id: string): Promise<Indicator | null> {
  if (!INDICATOR_ID.test(id)) return null;
  const { rows } = await db.query(`SELECT ${INDICATOR_COLUMNS} FROM roadmap.indicator WHERE id = $1`, [id], { prepare: true });
  return rows[0] ? toIndicator(rows[0]) : null;
}

export async function upsertIndicator(db: Queryable, i: Indicator): Promise<void> {
  await db.query(
    `INSERT INTO roadmap.indicator (id, title, unit, direction, min_value, max_value, method, source, live) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, unit = EXCLUDED.unit, direction = EXCLUDED.direction, min_value = EXCLUDED.min_value,
       max_value = EXCLUDED.max_value, method = EXCLUDED.method, source = EXCLUDED.source, live = EXCLUDED.live`,
    [i.id, i.title, i.unit, i.direction, i.min, i.max, i.method, i.source, i.live],
  );
}

/** Recomputes the summary (first and last result, last target, count) of some series. */
export async function refreshSummaries(db: Queryable, indicatorIds: string[], levels: string[], codes: string[]): Promise<void> {
  if (!indicatorIds.length) return;
  await db.query(
    `INSERT INTO roadmap.series_summary AS s (indicator_id, territory_level, territory_code, initial_value, initial_date, latest_value, latest_date, target_value, target_date, value_count)
     SELECT k.i, k.l, k.c, fi.value, fi.on_date, la.value, la.on_date, ta.value, ta.on_date,
            (SELECT count(*) FROM roadmap.indicator_value v WHERE v.indicator_id = k.i AND v.territory_level = k.l AND v.territory_code = k.c)
       FROM (SELECT DISTINCT * FROM unnest($1::text[], $2::text[], $3::text[]) AS u(i, l, c)) k
       LEFT JOIN LATERAL (SELECT value, on_date FROM roadmap.indicator_value v WHERE v.indicator_id = k.i AND v.territory_level = k.l AND v.territory_code = k.c AND v.kind = 'result' ORDER BY on_date ASC LIMIT 1) fi ON true
       LEFT JOIN LATERAL (SELECT value, on_date FROM roadmap.indicator_value v WHERE v.indicator_id = k.i AND v.territory_level = k.l AND v.territory_code = k.c AND v.kind = 'result' ORDER BY on_date DESC LIMIT 1) la ON true
       LEFT JOIN LATERAL (SELECT value, on_date FROM roadmap.indicator_value v WHERE v.indicator_id = k.i AND v.territory_level = k.l AND v.territory_code = k.c AND v.kind = 'target' ORDER BY on_date DESC LIMIT 1) ta ON true
     ON CONFLICT (indicator_id, territory_level, territory_code) DO UPDATE SET initial_value = EXCLUDED.initial_value, initial_date = EXCLUDED.initial_date,
       latest_value = EXCLUDED.latest_value, latest_date = EXCLUDED.latest_date, target_value = EXCLUDED.target_value, target_date = EXCLUDED.target_date,
       value_count = EXCLUDED.value_count`,
    [indicatorIds, levels, codes],
  );
}

export function toSummary(r: Record<string, unknown>): SeriesSummary {
  const pair = (v: unknown, d: unknown) => (v === null || v === undefined ? null : { value: Number(v), date: d as string });
  return {
    indicatorId: r.indicator_id as string,
    territory: { level: r.territory_level as TerritoryLevel, code: r.territory_code as string },
    initial: pair(r.initial_value, r.initial_date),
    latest: pair(r.latest_value, r.latest_date),
    target: pair(r.target_value, r.target_date),
    count: Number(r.value_count),
  };
}

/** Every indicator link of a plan's nodes with the indicator and the series summary of the plan's
 * territory: one round trip, one row of JSON. */
export async function planIndicatorRows(db: Queryable, planId: string, territory: TerritoryRef) {
  const { rows } = await db.query<{ links: string | null; defs: string | null; sums: string | null }>(
    `WITH l AS (SELECT node_id, indicator_id, weight FROM roadmap.indicator_link WHERE node_id IN (SELECT id FROM roadmap.node WHERE plan_id = $1))
     SELECT (SELECT json_agg(json_build_array(node_id, indicator_id, weight)) FROM l)::text AS links,
            (SELECT json_agg(json_build_object('id', id, 'title', title, 'unit', unit, 'direction', direction, 'min_value', min_value, 'max_value', max_value,
                                               'method', method, 'source', source, 'live', live))
               FROM roadmap.indicator WHERE id IN (SELECT indicator_id FROM l))::text AS defs,
            (SELECT json_agg(json_build_object('indicator_id', indicator_id, 'territory_level', territory_level, 'territory_code', territory_code,
                                               'initial_value', initial_value, 'initial_date', initial_date, 'latest_value', latest_value, 'latest_date', latest_date,
                                               'target_value', target_value, 'target_date', target_date, 'value_count', value_count))
               FROM roadmap.series_summary WHERE indicator_id IN (SELECT indicator_id FROM l) AND territory_level = $2 AND territory_code = $3)::text AS sums`,
    [planId, territory.level, territory.code],
    { prepare: true },
  );
  const r = rows[0];
  const links = JSON.parse(r?.links ?? '[]') as [string, string, number][];
  if (!links.length) return [];
  const indicators = new Map((JSON.parse(r!.defs ?? '[]') as Record<string, unknown>[]).map((d) => [d.id as string, toIndicator(d)]));
  const summaries = new Map((JSON.parse(r!.sums ?? '[]') as Record<string, unknown>[]).map((x) => [x.indicator_id as string, toSummary(x)]));
  const empty = (id: string): SeriesSummary => ({ indicatorId: id, territory, initial: null, latest: null, target: null, count: 0 });
  return links
    .filter(([, id]) => indicators.has(id))
    .map(([nodeId, id, weight]) => ({ nodeId, weight: Number(weight), indicator: indicators.get(id)!, summary: summaries.get(id) ?? empty(id) }));
}

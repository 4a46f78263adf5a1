/**
 * Roadmap use cases: plans and their trees (with versions), governance bodies, indicators and their
 * values, progress. Each write runs in one transaction with its audit entry and its version record:
 * a refused write leaves nothing behind.
 */
import type { Db, Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { NotFoundError, UserError } from '../../platform/http/errors.ts';
import { resolveTerritory } from '../territories/index.ts';
import {
  NODE_KINDS,
  PRIORITIES,
  SLUG,
  STATUSES,
  TERRITORY_LEVELS,
  VALUE_KINDS,
  VALUE_SOURCES,
  INDICATOR_ID,
  checkBounds,
  checkWithinPeriod,
  cleanText,
  createsCycle,
  httpUrl,
  oneOf,
  optionalDate,
  optionalInt,
  parseLinks,
  parseNumber,
  parseSiret,
  piloteProgress,
  requireDate,
  rollup,
  slugify,
  textList,
  type Indicator,
  type Plan,
  type PlanNode,
  type Progress,
  type SeriesSummary,
  type TerritoryRef,
  type ValueKind,
  type ValueSource,
} from './model.ts';
import { writeTx } from './snapshot.ts';
import * as store from './store.ts';

export type Actor = string | null;
type Input = Record<string, unknown>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Territories --------------------------------------------------------------------------------------

export interface ResolvedTerritory extends TerritoryRef {
  name: string;
  population: number;
  region: string | null;
  departement: string | null;
}

export async function territoryOf(db: Queryable, level: unknown, code: unknown, field = 'territory'): Promise<ResolvedTerritory> {
  const l = oneOf(level, TERRITORY_LEVELS, `${field}.level`, 'Le niveau de territoire');
  if (typeof code !== 'string' || !/^[0-9AB]{2,9}$/i.test(code.trim())) throw new UserError('Le code du territoire est invalide.', 400, `${field}.code`);
  const t = await resolveTerritory(db, `${l}:${code.trim().toUpperCase()}`);
  if (!t || t.level !== l) throw new UserError(`Territoire inconnu : ${l} ${code.trim()}.`, 400, `${field}.code`);
  const parent = (lv: string) => t.parents.find((p) => p.level === lv)?.code ?? null;
  return {
    level: l,
    code: t.code,
    name: t.name,
    population: t.population,
    region: l === 'region' ? t.code : parent('region'),
    departement: l === 'departement' ? t.code : parent('departement'),
  };
}

// Audit and versions ----------------------------------------------------------------------------

async function record(
  tx: Queryable,
  actor: Actor,
  planId: string,
  objectType: 'plan' | 'node',
  objectId: string,
  /** Each gives an audit action `roadmap.<objectType>.<action>`, worded in audit-words.ts. */
  action: 'create' | 'update' | 'move' | 'reorder' | 'delete' | 'indicator',
  summary: string,
  before: unknown,
  after: unknown,
) {
  await store.insertChange(tx, { planId, objectType, objectId, actorId: actor, action, summary, before, after });
  await recordAudit(tx, { actorId: actor, action: `roadmap.${objectType}.${action}`, objectType: `roadmap.${objectType}`, objectId, before, after, meta: { plan: planId } });
}

// Plans -------------------------------------------------------------------------------------------

async function planFields(db: Queryable, raw: Input, base: Plan | null) {
  const has = (k: string) => Object.prototype.hasOwnProperty.call(raw, k);
  const title = has('title') || !base ? cleanText(raw.title, 'title', 'Le titre', { max: 300, required: true }) : base.title;
  const periodStart = has('periodStart') || !base ? requireDate(raw.periodStart, 'periodStart', 'Le début de la période') : base.periodStart;
  const periodEnd = has('periodEnd') || !base ? requireDate(raw.periodEnd, 'periodEnd', 'La fin de la période') : base.periodEnd;
  if (periodEnd < periodStart) throw new UserError('La fin de la période précède son début.', 400, 'periodEnd');
  const vote = (raw.vote ?? {}) as Input;
  if (typeof vote !== 'object' || Array.isArray(vote)) throw new UserError('Le vote doit être un objet.', 400, 'vote');
  const hv = (k: string) => Object.prototype.hasOwnProperty.call(vote, k);
  const bv = base?.vote;
  const voteDate = hv('date') || !bv ? optionalDate(vote.date, 'vote.date', 'La date du vote') : bv.date;
  const deliberationRef = hv('deliberationRef') || !bv ? cleanText(vote.deliberationRef, 'vote.deliberationRef', 'La référence de la délibération', { max: 200 }) || null : bv.deliberationRef;
  const deliberationUrl = hv('deliberationUrl') || !bv ? httpUrl(vote.deliberationUrl, 'vote.deliberationUrl', 'Le lien vers la délibération') : bv.deliberationUrl;
  const votesFor = hv('votesFor') || !bv ? optionalInt(vote.votesFor, 'vote.votesFor', 'Le nombre de voix pour', 0, 100_000) : bv.votesFor;
  const votesAgainst = hv('votesAgainst') || !bv ? optionalInt(vote.votesAgainst, 'vote.votesAgainst', 'Le nombre de voix contre', 0, 100_000) : bv.votesAgainst;
  const votesAbstention = hv('votesAbstention') || !bv ? optionalInt(vote.votesAbstention, 'vote.votesAbstention', 'Le nombre d’abstentions', 0, 100_000) : bv.votesAbstention;
  const context = has('context') || !base ? cleanText(raw.context, 'context', 'La note de contexte', { max: 20_000, multiline: true }) : base.context;
  let documents = base?.documents ?? [];
  if (has('documents')) {
    if (!Array.isArray(raw.documents)) throw new UserError('Les documents doivent être une liste.', 400, 'documents');
    if (raw.documents.length > 50) throw new UserError('50 documents au plus.', 400, 'documents');
    documents = raw.documents.map((d, i) => {
      const o = (d ?? {}) as Input;
      const url = httpUrl(o.url, `documents[${i}].url`, 'Le lien du document');
      if (!url) throw new UserError('Le lien du document est obligatoire.', 400, `documents[${i}].url`);
      return { title: cleanText(o.title, `documents[${i}].title`, 'Le titre du document', { max: 300, required: true }), url };
    });
  }
  const auth = (raw.authority ?? {}) as Input;
  if (typeof auth !== 'object' || Array.isArray(auth)) throw new UserError('La collectivité doit être un objet.', 400, 'authority');
  const authority = has('authority') || !base
    ? { name: cleanText(auth.name, 'authority.name', 'Le nom de la collectivité', { max: 300 }) || null, siret: parseSiret(auth.siret, 'authority.siret') }
    : base.authority;
  const published = has('published') ? raw.published === true || raw.published === 'true' || raw.published === 'on' : (base?.published ?? false);
  return { title, periodStart, periodEnd, voteDate, deliberationRef, deliberationUrl, votesFor, votesAgainst, votesAbstention, context, authority, documents, published };
}

export async function createPlan(db: Db, actor: Actor, raw: Input): Promise<Plan> {
  const t = (raw.territory ?? {}) as Input;
  const territory = await territoryOf(db, t.level, t.code);
  const f = await planFields(db, raw, null);
  const slug = raw.slug === undefined || raw.slug === '' ? slugify(`${territory.code}-${f.title}`) : String(raw.slug);
  if (!SLUG.test(slug)) throw new UserError('L’identifiant court ne peut contenir que des minuscules, des chiffres et des tirets (80 au plus).', 400, 'slug');
  return writeTx(db, async (tx) => {
    const exists = await tx.query('SELECT 1 FROM roadmap.plan WHERE slug = $1', [slug]);
    if (exists.rows.length) throw new UserError(`Un plan porte déjà l’identifiant « ${slug} ».`, 409, 'slug');
    const { rows } = await tx.query(
      `INSERT INTO roadmap.plan (slug, territory_level, territory_code, region, departement, title, period_start, period_end, published, vote_date, deliberation_ref,
         deliberation_url, votes_for, votes_against, votes_abstention, context, documents, authority_name, authority_siret, revision)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17::jsonb, $18, $19, 0) RETURNING ${store.PLAN_COLUMNS}`,
      [slug, territory.level, territory.code, territory.region, territory.departement, f.title, f.periodStart, f.periodEnd, f.published, f.voteDate, f.deliberationRef,
        f.deliberationUrl, f.votesFor, f.votesAgainst, f.votesAbstention, f.context, JSON.stringify(f.documents), f.authority.name, f.authority.siret],
    );
    const plan = store.toPlan(rows[0]!);
    await record(tx, actor, plan.id, 'plan', plan.id, 'create', `Plan « ${plan.title} » créé`, null, planState(plan));
    return (await store.planById(tx, plan.id))!;
  });
}

function planState(p: Plan) {
  const { revision: _r, createdAt: _c, updatedAt: _u, ...rest } = p;
  return rest;
}

function nodeState(n: PlanNode) {
  const { updatedAt: _u, ...rest } = n;
  return rest;
}

export async function updatePlan(db: Db, actor: Actor, planId: string, raw: Input): Promise<Plan> {
  return writeTx(db, async (tx) => {
    const before = await store.planById(tx, planId, true);
    if (!before) throw new NotFoundError('Ce plan n’existe pas.');
    const f = await planFields(tx, raw, before);
    // Narrowing the period must not leave an action's dates outside it.
    const outside = await tx.query<{ title: string; start_date: string | null; end_date: string | null }>(
      `SELECT title, start_date, end_date FROM roadmap.node WHERE plan_id = $1 AND (start_date < $2 OR end_date > $3 OR start_date > $3 OR end_date < $2) LIMIT 1`,
      [planId, f.periodStart, f.periodEnd],
    );
    if (outside.rows[0]) throw new UserError(`La période ne contiendrait plus les dates de « ${outside.rows[0].title} ».`, 400, 'periodStart');
    const { rows } = await tx.query(
      `UPDATE roadmap.plan SET title = $2, period_start = $3, period_end = $4, published = $5, vote_date = $6, deliberation_ref = $7, deliberation_url = $8,
         votes_for = $9, votes_against = $10, votes_abstention = $11, context = $12, documents = $13::jsonb, authority_name = $14, authority_siret = $15, updated_at = now()
       WHERE id = $1 RETURNING ${store.PLAN_COLUMNS}`,
      [planId, f.title, f.periodStart, f.periodEnd, f.published, f.voteDate, f.deliberationRef, f.deliberationUrl, f.votesFor, f.votesAgainst, f.votesAbstention, f.context, JSON.stringify(f.documents), f.authority.name, f.authority.siret],
    );
    const after = store.toPlan(rows[0]!);
    await record(tx, actor, planId, 'plan', planId, 'update', 'Plan modifié', planState(before), planState(after));
    return (await store.planById(tx, planId))!;
  });
}

export async function getPlan(db: Queryable, ref: string): Promise<Plan | null> {
  return UUID.test(ref) ? store.planById(db, ref) : store.planBySlug(db, ref);
}

export const listPlans = store.listPlans;

// Nodes -------------------------------------------------------------------------------------------

function nodeFields(raw: Input, plan: Plan, base: PlanNode | null) {
  const has = (k: string) => Object.prototype.hasOwnProperty.call(raw, k) || !base;
  const pick = <T>(k: string, parse: () => T, keep: T): T => (has(k) ? parse() : keep);
  const startDate = pick('startDate', () => optionalDate(raw.startDate, 'startDate', 'La date de début'), base?.startDate ?? null);
  const endDate = pick('endDate', () => optionalDate(raw.endDate, 'endDate', 'La date de fin'), base?.endDate ?? null);
  checkWithinPeriod(startDate, plan, 'startDate', 'La date de début');
  checkWithinPeriod(endDate, plan, 'endDate', 'La date de fin');
  if (startDate && endDate && endDate < startDate) throw new UserError('La date de fin précède la date de début.', 400, 'endDate');
  let weight = base?.weight ?? 1;
  if (has('weight') && raw.weight !== undefined && raw.weight !== null && raw.weight !== '') {
    weight = parseNumber(raw.weight, 'weight', 'Le poids');
    if (weight < 0 || weight > 1000) throw new UserError('Le poids doit être compris entre 0 et 1000.', 400, 'weight');
  }
  return {
    kind: pick('kind', () => oneOf(raw.kind, NODE_KINDS, 'kind', 'Le type', 'action'), base?.kind ?? 'action'),
    number: pick('number', () => cleanText(raw.number, 'number', 'Le numéro', { max: 40 }), base?.number ?? ''),
    title: pick('title', () => cleanText(raw.title, 'title', 'Le titre', { max: 500, required: true }), base?.title ?? ''),
    description: pick('description', () => cleanText(raw.description, 'description', 'La description', { max: 20_000, multiline: true }), base?.description ?? ''),
    leads: pick('leads', () => textList(raw.leads, 'leads', 'Les porteurs'), base?.leads ?? []),
    partners: pick('partners', () => textList(raw.partners, 'partners', 'Les partenaires'), base?.partners ?? []),
    publics: pick('publics', () => textList(raw.publics, 'publics', 'Les publics'), base?.publics ?? []),
    startDate,
    endDate,
    status: pick('status', () => oneOf(raw.status, STATUSES, 'status', 'Le statut', 'a_venir'), base?.status ?? 'a_venir'),
    priority: pick('priority', () => oneOf(raw.priority, PRIORITIES, 'priority', 'La priorité', 'normale'), base?.priority ?? 'normale'),
    tags: pick('tags', () => textList(raw.tags, 'tags', 'Les mots-clés'), base?.tags ?? []),
    links: pick('links', () => parseLinks(raw.links), base?.links ?? []),
    weight,
  };
}

async function parentMap(tx: Queryable, planId: string): Promise<Map<string, string | null>> {
  const { rows } = await tx.query<{ id: string; parent_id: string | null }>('SELECT id, parent_id FROM roadmap.node WHERE plan_id = $1', [planId]);
  return new Map(rows.map((r) => [r.id, r.parent_id]));
}

export async function lockPlan(tx: Queryable, planId: string): Promise<Plan> {
  const plan = await store.planById(tx, planId, true);
  if (!plan) throw new NotFoundError('Ce plan n’existe pas.');
  return plan;
}

function parentIdOf(raw: Input): string | null {
  const p = raw.parentId;
  if (p === null || p === undefined || p === '') return null;
  if (typeof p !== 'string' || !UUID.test(p)) throw new UserError('Le parent doit être un élément de ce plan.', 400, 'parentId');
  return p;
}

export async function addNode(db: Db, actor: Actor, planId: string, raw: Input): Promise<PlanNode> {
  return writeTx(db, async (tx) => addNodeIn(tx, actor, await lockPlan(tx, planId), raw));
}

/** Adds a node inside the caller's transaction (the plan row locked by the caller). */
export async function addNodeIn(tx: Queryable, actor: Actor, plan: Plan, raw: Input): Promise<PlanNode> {
  const parentId = parentIdOf(raw);
  if (parentId) {
    const p = await tx.query('SELECT 1 FROM roadmap.node WHERE id = $1 AND plan_id = $2', [parentId, plan.id]);
    if (!p.rows.length) throw new UserError('Le parent doit être un élément de ce plan.', 400, 'parentId');
  }
  const f = nodeFields(raw, plan, null);
  const pos = await tx.query<{ p: number; n: number }>(
    `SELECT coalesce(max(position) FILTER (WHERE parent_id IS NOT DISTINCT FROM $2), -1)::int + 1 AS p, count(*)::int AS n FROM roadmap.node WHERE plan_id = $1`,
    [plan.id, parentId],
  );
  if (pos.rows[0]!.n >= 20_000) throw new UserError('Un plan compte 20 000 éléments au plus.', 400, 'parentId');
  const node = await store.insertNode(tx, { planId: plan.id, parentId, position: pos.rows[0]!.p, ...f });
  await record(tx, actor, plan.id, 'node', node.id, 'create', `« ${node.title} » ajouté`, null, nodeState(node));
  return node;
}

export async function updateNode(db: Db, actor: Actor, nodeId: string, raw: Input): Promise<PlanNode> {
  return writeTx(db, async (tx) => {
    const found = await store.nodeById(tx, nodeId);
    if (!found) throw new NotFoundError('Cet élément n’existe pas.');
    const plan = await lockPlan(tx, found.planId);
    const before = (await store.nodeById(tx, nodeId))!;
    const f = nodeFields(raw, plan, before);
    let parentId = before.parentId;
    let position = before.position;
    if (Object.prototype.hasOwnProperty.call(raw, 'parentId')) {
      parentId = parentIdOf(raw);
      const parents = await parentMap(tx, plan.id);
      if (parentId && !parents.has(parentId)) throw new UserError('Le parent doit être un élément de ce plan.', 400, 'parentId');
      if (createsCycle(nodeId, parentId, parents)) throw new UserError('Un élément ne peut pas être placé sous lui-même ou sous l’un de ses descendants (cycle).', 400, 'parentId');
      if (parentId !== before.parentId) {
        const pos = await tx.query<{ p: number }>('SELECT coalesce(max(position), -1)::int + 1 AS p FROM roadmap.node WHERE plan_id = $1 AND parent_id IS NOT DISTINCT FROM $2', [plan.id, parentId]);
        position = pos.rows[0]!.p;
      }
    }
    const after = await store.updateNodeRow(tx, { ...before, ...f, parentId, position });
    await record(tx, actor, plan.id, 'node', nodeId, parentId !== before.parentId ? 'move' : 'update', `« ${after.title} » modifié`, nodeState(before), nodeState(after));
    return after;
  });
}

/** Moves a node one place up or down among its siblings (the keyboard-friendly reorder). */
export async function reorderNode(db: Db, actor: Actor, nodeId: string, direction: 'up' | 'down'): Promise<boolean> {
  return writeTx(db, async (tx) => {
    const found = await store.nodeById(tx, nodeId);
    if (!found) throw new NotFoundError('Cet élément n’existe pas.');
    await lockPlan(tx, found.planId);
    const node = (await store.nodeById(tx, nodeId))!;
    const { rows } = await tx.query<{ id: string }>(
      `SELECT id FROM roadmap.node WHERE plan_id = $1 AND parent_id IS NOT DISTINCT FROM $2 ORDER BY position, id`,
      [node.planId, node.parentId],
    );
    const ids = rows.map((r) => r.id);
    const i = ids.indexOf(nodeId);
    const j = direction === 'up' ? i - 1 : i + 1;
    if (j < 0 || j >= ids.length) return false;
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    await tx.query('UPDATE roadmap.node SET position = u.p - 1 FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, p) WHERE node.id = u.id', [ids]);
    const after = (await store.nodeById(tx, nodeId))!;
    await record(tx, actor, node.planId, 'node', nodeId, 'reorder', `« ${node.title} » déplacé vers le ${direction === 'up' ? 'haut' : 'bas'}`, nodeState(node), nodeState(after));
    return true;
  });
}

/** Deletes a node and its descendants (each deletion kept in the history). */
export async function deleteNode(db: Db, actor: Actor, nodeId: string): Promise<number> {
  return writeTx(db, async (tx) => {
    const found = await store.nodeById(tx, nodeId);
    if (!found) throw new NotFoundError('Cet élément n’existe pas.');
    await lockPlan(tx, found.planId);
    const nodes = await store.nodesOf(tx, found.planId);
    const byParent = new Map<string | null, PlanNode[]>();
    for (const n of nodes) byParent.set(n.parentId, [...(byParent.get(n.parentId) ?? []), n]);
    const doomed: PlanNode[] = [];
    const walk = (n: PlanNode) => {
      doomed.push(n);
      for (const c of byParent.get(n.id) ?? []) walk(c);
    };
    walk(nodes.find((n) => n.id === nodeId)!);
    for (const n of doomed.reverse()) await record(tx, actor, n.planId, 'node', n.id, 'delete', `« ${n.title} » supprimé`, nodeState(n), null);
    await tx.query('DELETE FROM roadmap.node WHERE id = $1', [nodeId]);
    return doomed.length;
  });
}

export async function getTree(db: Queryable, planId: string): Promise<PlanNode[]> {
  return orderTree(await store.nodesOf(db, planId));
}

/** The tree in order with only what barometers and roll-ups need (id, parent, position, kind, number, title, status, priority, weight). */
export async function getSkeleton(db: Queryable, planId: string): Promise<PlanNode[]> {
  return orderTree(await store.skeletonOf(db, planId));
}

/** Depth-first order (parents before children, siblings by position). */
export function orderTree(nodes: PlanNode[]): PlanNode[] {
  const byParent = new Map<string | null, PlanNode[]>();
  for (const n of nodes) {
    const l = byParent.get(n.parentId);
    if (l) l.push(n);
    else byParent.set(n.parentId, [n]);
  }
  for (const l of byParent.values()) l.sort((a, b) => a.position - b.position || a.id.localeCompare(b.id));
  const out: PlanNode[] = [];
  const walk = (parent: string | null) => {
    for (const n of byParent.get(parent) ?? []) {
      out.push(n);
      walk(n.id);
    }
  };
  walk(null);
  return out;
}

export const getNode = store.nodeById;
export const history = store.changes;

/** The plan and its tree as they stood at a moment (a date means the end of that day, UTC). */
export async function planAsOf(db: Queryable, planId: string, at: string): Promise<{ plan: Plan | null; nodes: PlanNode[] }> {
  const moment = /^\d{4}-\d{2}-\d{2}$/.test(at) ? `${requireDate(at, 'at', 'La date')}T23:59:59.999Z` : at;
  if (Number.isNaN(Date.parse(moment))) throw new UserError('La date doit être au format AAAA-MM-JJ.', 400, 'at');
  const states = await store.statesAt(db, planId, moment);
  let plan: Plan | null = null;
  const nodes: PlanNode[] = [];
  for (const s of states) {
    if (!s.after) continue;
    if (s.objectType === 'plan') plan = { ...(s.after as unknown as Plan), revision: 0, createdAt: '', updatedAt: s.at };
    else nodes.push({ ...(s.after as unknown as PlanNode), updatedAt: s.at });
  }
  return { plan, nodes: orderTree(nodes) };
}

// Governance bodies ----------------------------------------------------------------------------

export interface Body {
  id: string;
  territory: TerritoryRef;
  name: string;
  kind: string;
  frequency: string;
  members: { organisation: string; siret: string | null; role: string }[];
}

export async function saveBody(db: Db, actor: Actor, raw: Input): Promise<Body> {
  const t = (raw.territory ?? {}) as Input;
  const territory = await territoryOf(db, t.level, t.code);
  const name = cleanText(raw.name, 'name', 'Le nom du comité', { max: 200, required: true });
  const kind = cleanText(raw.kind, 'kind', 'Le type de comité', { max: 100, required: true });
  const frequency = cleanText(raw.frequency, 'frequency', 'La fréquence', { max: 100, required: true });
  if (raw.members !== undefined && !Array.isArray(raw.members)) throw new UserError('Les membres doivent être une liste.', 400, 'members');
  const list = (raw.members as unknown[] | undefined) ?? [];
  if (list.length > 500) throw new UserError('500 membres au plus.', 400, 'members');
  const members = list.map((m, i) => {
    const o = (m ?? {}) as Input;
    return {
      organisation: cleanText(o.organisation, `members[${i}].organisation`, 'Le nom de l’organisation', { max: 300, required: true }),
      siret: parseSiret(o.siret, `members[${i}].siret`),
      role: cleanText(o.role, `members[${i}].role`, 'Le rôle', { max: 100 }) || 'membre',
    };
  });
  return writeTx(db, async (tx) => {
    const before = await tx.query<{ id: string }>('SELECT id FROM roadmap.body WHERE territory_level = $1 AND territory_code = $2 AND name = $3 FOR UPDATE', [territory.level, territory.code, name]);
    let id = before.rows[0]?.id;
    if (id) {
      await tx.query('UPDATE roadmap.body SET kind = $2, frequency = $3, updated_at = now() WHERE id = $1', [id, kind, frequency]);
      await tx.query('DELETE FROM roadmap.body_member WHERE body_id = $1', [id]);
    } else {
      id = (await tx.query<{ id: string }>('INSERT INTO roadmap.body (territory_level, territory_code, name, kind, frequency) VALUES ($1, $2, $3, $4, $5) RETURNING id', [territory.level, territory.code, name, kind, frequency])).rows[0]!.id;
    }
    for (const [i, m] of members.entries()) {
      await tx.query('INSERT INTO roadmap.body_member (body_id, position, organisation, siret, role) VALUES ($1, $2, $3, $4, $5)', [id, i, m.organisation, m.siret, m.role]);
    }
    const body: Body = { id, territory: { level: territory.level, code: territory.code }, name, kind, frequency, members };
    await recordAudit(tx, { actorId: actor, action: before.rows[0] ? 'roadmap.body.update' : 'roadmap.body.create', objectType: 'roadmap.body', objectId: id, after: body });
    return body;
  });
}

export async function listBodies(db: Queryable, territory: TerritoryRef): Promise<Body[]> {
  const { rows } = await db.query<{ id: string; name: string; kind: string; frequency: string; members: Body['members'] | null }>(
    `SELECT b.id, b.name, b.kind, b.frequency,
            (SELECT json_agg(json_build_object('organisation', m.organisation, 'siret', m.siret, 'role', m.role) ORDER BY m.position) FROM roadmap.body_member m WHERE m.body_id = b.id) AS members
       FROM roadmap.body b WHERE territory_level = $1 AND territory_code = $2 ORDER BY b.name`,
    [territory.level, territory.code],
  );
  return rows.map((r) => ({ id: r.id, territory, name: r.name, kind: r.kind, frequency: r.frequency, members: (r.members ?? []).map((m) => ({ ...m, siret: m.siret?.trim() ?? null })) }));
}

// Indicators ---------------------------------------------------------------------------------------

export { INDICATOR_ID } from './model.ts';

export function indicatorFields(raw: Input, live = false): Indicator {
  const id = typeof raw.id === 'string' ? raw.id.trim() : '';
  if (!INDICATOR_ID.test(id)) throw new UserError('L’identifiant de l’indicateur : minuscules, chiffres, « . _ - », 100 caractères au plus.', 400, 'id');
  const min = raw.min === undefined || raw.min === null || raw.min === '' ? null : parseNumber(raw.min, 'min', 'La borne minimale');
  const max = raw.max === undefined || raw.max === null || raw.max === '' ? null : parseNumber(raw.max, 'max', 'La borne maximale');
  if (min !== null && max !== null && min > max) throw new UserError('La borne minimale dépasse la borne maximale.', 400, 'max');
  return {
    id,
    title: cleanText(raw.title, 'title', 'Le titre', { max: 300, required: true }),
    unit: cleanText(raw.unit, 'unit', 'L’unité', { max: 50 }),
    direction: oneOf(raw.direction, ['up', 'down'] as const, 'direction', 'Le sens', 'up'),
    min,
    max,
    method: cleanText(raw.method, 'method', 'La méthode', { max: 5000, multiline: true }),
    source: cleanText(raw.source, 'source', 'La source', { max: 500 }),
    live,
  };
}

export async function defineIndicator(db: Db, actor: Actor, raw: Input): Promise<Indicator> {
  const ind = indicatorFields(raw);
  return writeTx(db, async (tx) => {
    const before = await store.indicatorById(tx, ind.id);
    if (before?.live) throw new UserError('Cet indicateur est calculé par la plateforme : sa définition ne se modifie pas ici.', 409, 'id');
    if (ind.min !== null || ind.max !== null) {
      const out = await tx.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM roadmap.indicator_value WHERE indicator_id = $1 AND (value < $2 OR value > $3)',
        [ind.id, ind.min ?? -1e300, ind.max ?? 1e300],
      );
      if (out.rows[0]!.n > 0) throw new UserError(`${out.rows[0]!.n} valeur(s) déjà saisie(s) sortiraient des nouvelles bornes.`, 409, ind.min !== null ? 'min' : 'max');
    }
    await store.upsertIndicator(tx, ind);
    await recordAudit(tx, { actorId: actor, action: before ? 'roadmap.indicator.update' : 'roadmap.indicator.create', objectType: 'roadmap.indicator', objectId: ind.id, before, after: ind });
    return ind;
  });
}

export async function listIndicators(db: Queryable): Promise<Indicator[]> {
  const { rows } = await db.query(`SELECT ${store.INDICATOR_COLUMNS} FROM roadmap.indicator ORDER BY id`);
  return rows.map(store.toIndicator);
}

export const getIndicator = store.indicatorById;

export async function linkIndicator(db: Db, actor: Actor, nodeId: string, indicatorId: string, weight: unknown = 1): Promise<void> {
  const w = weight === undefined || weight === null || weight === '' ? 1 : parseNumber(weight, 'weight', 'Le poids');
  if (w < 0 || w > 1000) throw new UserError('Le poids doit être compris entre 0 et 1000.', 400, 'weight');
  await writeTx(db, async (tx) => {
    const node = await store.nodeById(tx, nodeId);
    if (!node) throw new NotFoundError('Cet élément n’existe pas.');
    await lockPlan(tx, node.planId);
    if (!(await store.indicatorById(tx, indicatorId))) throw new UserError(`Indicateur inconnu : ${indicatorId.slice(0, 100)}.`, 400, 'indicatorId');
    await tx.query('INSERT INTO roadmap.indicator_link (node_id, indicator_id, weight) VALUES ($1, $2, $3) ON CONFLICT (node_id, indicator_id) DO UPDATE SET weight = EXCLUDED.weight', [nodeId, indicatorId, w]);
    await record(tx, actor, node.planId, 'node', nodeId, 'indicator', `Indicateur « ${indicatorId} » rattaché à « ${node.title} »`, null, { ...nodeState(node), indicator: { id: indicatorId, weight: w } });
  });
}

export async function unlinkIndicator(db: Db, actor: Actor, nodeId: string, indicatorId: string): Promise<boolean> {
  return writeTx(db, async (tx) => {
    const node = await store.nodeById(tx, nodeId);
    if (!node) throw new NotFoundError('Cet élément n’existe pas.');
    const r = await tx.query('DELETE FROM roadmap.indicator_link WHERE node_id = $1 AND indicator_id = $2', [nodeId, indicatorId]);
    if (!r.rowCount) return false;
    await record(tx, actor, node.planId, 'node', nodeId, 'indicator', `Indicateur « ${indicatorId} » détaché de « ${node.title} »`, null, { ...nodeState(node), indicatorRemoved: indicatorId });
    return true;
  });
}

export interface ValueInput {
  indicatorId: string;
  territory: TerritoryRef;
  kind: ValueKind;
  date: string;
  value: number;
  source: ValueSource;
  note: string;
}

/** Sources a value sent by a person or a file may have (never « calcul »). */
const TYPED_SOURCES = VALUE_SOURCES.filter((s): s is Exclude<ValueSource, 'calcul'> => s !== 'calcul');

/** Checks a value's fields against its indicator (bounds); `prefix` names the field (e.g. 'line 4: value'). */
export function valueFields(raw: Input, prefix = ''): Omit<ValueInput, 'territory'> & { territory: { level: unknown; code: unknown } } {
  const f = (k: string) => `${prefix}${k}`;
  if (typeof raw.indicatorId !== 'string' || !INDICATOR_ID.test(raw.indicatorId)) throw new UserError('Indicateur inconnu.', 400, f('indicatorId'));
  const t = (raw.territory ?? {}) as Input;
  return {
    indicatorId: raw.indicatorId,
    territory: { level: t.level, code: t.code },
    kind: oneOf(raw.kind, VALUE_KINDS, f('kind'), 'Le type de valeur', 'result'),
    date: requireDate(raw.date, f('date'), 'La date'),
    value: parseNumber(raw.value, f('value'), 'La valeur'),
    // « calcul » is written only by the live job (writeValues): a person may not claim it.
    source: oneOf(raw.source, TYPED_SOURCES, f('source'), 'La source', 'saisie'),
    note: cleanText(raw.note, f('note'), 'La note', { max: 1000 }),
  };
}

/**
 * Records values (all or none): each checked against its indicator's bounds and written with its
 * source; the series' summaries follow in the same transaction. Live indicators take only
 * computed results (targets may be entered).
 */
export async function recordValues(db: Db, actor: Actor, raws: Input[], o: { fieldPrefix?: (i: number) => string; source?: Exclude<ValueSource, 'calcul'> } = {}): Promise<number> {
  if (raws.length > 100_000) throw new UserError('100 000 valeurs au plus par envoi.', 400, 'values');
  const indicators = new Map<string, Indicator | null>();
  const territories = new Map<string, ResolvedTerritory>();
  const values: ValueInput[] = [];
  for (const [i, raw] of raws.entries()) {
    const prefix = o.fieldPrefix ? o.fieldPrefix(i) : raws.length > 1 ? `values[${i}].` : '';
    const v = valueFields(raw, prefix);
    if (o.source) v.source = o.source;
    if (!indicators.has(v.indicatorId)) indicators.set(v.indicatorId, await store.indicatorById(db, v.indicatorId));
    const ind = indicators.get(v.indicatorId);
    if (!ind) throw new UserError(`Indicateur inconnu : ${v.indicatorId}.`, 400, `${prefix}indicatorId`);
    if (ind.live && v.kind !== 'target') throw new UserError(`« ${ind.title} » est calculé par la plateforme : seules ses cibles se saisissent.`, 400, `${prefix}kind`);
    checkBounds(v.value, ind, `${prefix}value`);
    const key = `${String(v.territory.level)}:${String(v.territory.code)}`;
    if (!territories.has(key)) territories.set(key, await territoryOf(db, v.territory.level, v.territory.code, `${prefix}territory`));
    const t = territories.get(key)!;
    values.push({ ...v, territory: { level: t.level, code: t.code } });
  }
  if (!values.length) return 0;
  await writeTx(db, async (tx) => {
    await writeValues(tx, actor, values);
    await recordAudit(tx, {
      actorId: actor,
      action: 'roadmap.value.record',
      objectType: 'roadmap.indicator',
      objectId: values.length === 1 ? values[0]!.indicatorId : null,
      after: values.length <= 20 ? values : { count: values.length, indicators: [...indicators.keys()].slice(0, 50) },
    });
  });
  return values.length;
}

/** Writes values (upsert by series, kind and date) and refreshes their series' summaries. */
export async function writeValues(tx: Queryable, actor: Actor, values: ValueInput[]): Promise<void> {
  // One writer per series at a time (transaction-scoped locks, taken in a fixed order): two
  // concurrent writes to a series cannot each refresh its summary without seeing the other's value.
  const keys = [...new Set(values.map((v) => `roadmap:${v.indicatorId}:${v.territory.level}:${v.territory.code}`))].sort();
  await tx.query('SELECT count(pg_advisory_xact_lock(hashtext(k))) FROM (SELECT unnest($1::text[]) AS k ORDER BY 1) AS s', [keys]);
  for (let i = 0; i < values.length; i += 5000) {
    const chunk = values.slice(i, i + 5000);
    await tx.query(
      `INSERT INTO roadmap.indicator_value (indicator_id, territory_level, territory_code, kind, on_date, value, source, note, actor_id)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::numeric[], $7::text[], $8::text[], $9::text[])
       ON CONFLICT (indicator_id, territory_level, territory_code, kind, on_date) DO UPDATE SET value = EXCLUDED.value, source = EXCLUDED.source,
         note = EXCLUDED.note, actor_id = EXCLUDED.actor_id, recorded_at = now()`,
      [chunk.map((v) => v.indicatorId), chunk.map((v) => v.territory.level), chunk.map((v) => v.territory.code), chunk.map((v) => v.kind), chunk.map((v) => v.date),
        chunk.map((v) => v.value), chunk.map((v) => v.source), chunk.map((v) => v.note), chunk.map(() => actor)],
    );
  }
  const series = new Map<string, ValueInput>();
  for (const v of values) series.set(`${v.indicatorId}\u0000${v.territory.level}\u0000${v.territory.code}`, v);
  const list = [...series.values()];
  await store.refreshSummaries(tx, list.map((v) => v.indicatorId), list.map((v) => v.territory.level), list.map((v) => v.territory.code));
}

export async function deleteValue(db: Db, actor: Actor, key: { indicatorId: string; territory: TerritoryRef; kind: ValueKind; date: string }): Promise<boolean> {
  return writeTx(db, async (tx) => {
    const { rows } = await tx.query(
      'DELETE FROM roadmap.indicator_value WHERE indicator_id = $1 AND territory_level = $2 AND territory_code = $3 AND kind = $4 AND on_date = $5 RETURNING value',
      [key.indicatorId, key.territory.level, key.territory.code, key.kind, key.date],
    );
    if (!rows.length) return false;
    await store.refreshSummaries(tx, [key.indicatorId], [key.territory.level], [key.territory.code]);
    await recordAudit(tx, { actorId: actor, action: 'roadmap.value.delete', objectType: 'roadmap.indicator', objectId: key.indicatorId, before: { ...key, value: rows[0]!.value } });
    return true;
  });
}

export interface SeriesValue {
  kind: ValueKind;
  date: string;
  value: number;
  source: ValueSource;
  note: string;
}

export async function getSeries(db: Queryable, indicatorId: string, territory: TerritoryRef): Promise<SeriesValue[]> {
  const { rows } = await db.query<{ kind: ValueKind; on_date: string; value: number; source: ValueSource; note: string }>(
    `SELECT kind, on_date, value, source, note FROM roadmap.indicator_value WHERE indicator_id = $1 AND territory_level = $2 AND territory_code = $3 ORDER BY on_date, kind`,
    [indicatorId, territory.level, territory.code],
    { prepare: true },
  );
  return rows.map((r) => ({ kind: r.kind, date: r.on_date, value: Number(r.value), source: r.source, note: r.note }));
}

// Progress -----------------------------------------------------------------------------------------

export interface IndicatorProgress {
  indicator: Indicator;
  weight: number;
  summary: SeriesSummary;
  progress: Progress;
}

export interface PlanProgress {
  /** Rolled-up progress per node (0–1 or null). */
  progress: Map<string, number | null>;
  /** The indicators of each node with their own progress. */
  indicators: Map<string, IndicatorProgress[]>;
}

/** Progress of every node of a plan: PILOTE per indicator (the plan's territory's series), then the roll-up. */
export async function planProgress(db: Queryable, plan: Pick<Plan, 'id' | 'territory'>, nodes: PlanNode[]): Promise<PlanProgress> {
  const rows = await store.planIndicatorRows(db, plan.id, plan.territory);
  const indicators = new Map<string, IndicatorProgress[]>();
  for (const r of rows) {
    const s = r.summary;
    const progress = piloteProgress(s.initial?.value ?? null, s.latest?.value ?? null, s.target?.value ?? null, r.indicator.unit);
    const item: IndicatorProgress = { indicator: r.indicator, weight: r.weight, summary: s, progress };
    const list = indicators.get(r.nodeId);
    if (list) list.push(item);
    else indicators.set(r.nodeId, [item]);
  }
  const progress = rollup(
    nodes.map((n) => ({ id: n.id, parentId: n.parentId, weight: n.weight, status: n.status, own: (indicators.get(n.id) ?? []).map((i) => ({ value: i.progress.value, weight: i.weight })) })),
  );
  return { progress, indicators };
}

/** Mean progress of the plan's top-level nodes (weighted), for headlines. */
export function overallProgress(nodes: PlanNode[], progress: Map<string, number | null>): number | null {
  let w = 0;
  let s = 0;
  for (const n of nodes) {
    if (n.parentId !== null || n.status === 'abandonne') continue;
    const p = progress.get(n.id);
    if (p === null || p === undefined) continue;
    w += n.weight;
    s += p * n.weight;
  }
  return w > 0 ? s / w : null;
}

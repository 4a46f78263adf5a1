/**
 * The money of a plan: authorisations of programme (AP) split into yearly payment credits (CP),
 * per year voted (BP + DM), committed and paid; co-financing; envelopes with a ceiling per
 * territory, drawn atomically; roll-ups by tree, year, funder and territory; exports.
 */
import type { Db, Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { NotFoundError, UserError } from '../../platform/http/errors.ts';
import { FUNDER_KINDS, amount, cleanText, oneOf, optionalInt, parseNumber, type FunderKind, type PlanNode, type TerritoryRef } from './model.ts';
import { writeTx } from './snapshot.ts';
import * as store from './store.ts';
import { territoryOf, type Actor } from './service.ts';

export interface BudgetYear {
  year: number;
  cp: number;
  votedBp: number;
  votedDm: number;
  committed: number;
  paid: number;
}

export interface Budget {
  id: string;
  planId: string;
  nodeId: string;
  label: string;
  ap: number;
  nature: 'investissement' | 'fonctionnement';
  /** Budget nomenclature when known (SCDL BGT_CONTNAT, BGT_NATURE). */
  account: { code: string; label: string } | null;
  chapter: { code: string; label: string } | null;
  years: BudgetYear[];
  cofinancing: { kind: FunderKind; name: string; amount: number }[];
}

type Input = Record<string, unknown>;

/** Creates or replaces the budget `label` of a node: AP, yearly lines and co-financing, all or nothing. */
export async function saveBudget(db: Db, actor: Actor, nodeId: string, raw: Input): Promise<Budget> {
  const label = cleanText(raw.label, 'label', 'Le libellé', { max: 200 }) || 'Autorisation de programme';
  const ap = amount(raw.ap, 'ap', 'Le montant de l’AP');
  const nature = oneOf(raw.nature, ['investissement', 'fonctionnement'] as const, 'nature', 'La nature', 'investissement');
  const code = (v: unknown, field: string, label: string) => {
    const c = cleanText(v, field, label, { max: 9 });
    if (c && !/^[0-9A-Za-z]{1,9}$/.test(c)) throw new UserError(`${label} : 1 à 9 chiffres ou lettres.`, 400, field);
    return c;
  };
  const accountCode = code(raw.accountCode, 'accountCode', 'Le compte budgétaire');
  const chapterCode = code(raw.chapterCode, 'chapterCode', 'Le chapitre');
  const account = accountCode ? { code: accountCode, label: cleanText(raw.accountLabel, 'accountLabel', 'Le libellé du compte', { max: 300, required: true }) } : null;
  const chapter = chapterCode ? { code: chapterCode, label: cleanText(raw.chapterLabel, 'chapterLabel', 'Le libellé du chapitre', { max: 300, required: true }) } : null;
  if (raw.years !== undefined && !Array.isArray(raw.years)) throw new UserError('Les années doivent être une liste.', 400, 'years');
  const rawYears = (raw.years as unknown[] | undefined) ?? [];
  if (rawYears.length > 50) throw new UserError('50 années au plus.', 400, 'years');
  const years: BudgetYear[] = rawYears.map((y, i) => {
    const o = (y ?? {}) as Input;
    const f = (k: string) => `years[${i}].${k}`;
    const line: BudgetYear = {
      year: optionalInt(o.year, f('year'), 'L’année', 1990, 2100) ?? (() => { throw new UserError('L’année est obligatoire.', 400, f('year')); })(),
      cp: amount(o.cp ?? 0, f('cp'), 'Le crédit de paiement'),
      votedBp: amount(o.votedBp ?? 0, f('votedBp'), 'Le montant voté au budget primitif'),
      // A DM may be negative (a reduction): a number like the others, not anything Number() accepts ("0x10", [], true).
      votedDm: Math.round(parseNumber(o.votedDm ?? 0, f('votedDm'), 'La décision modificative') * 100) / 100,
      committed: amount(o.committed ?? 0, f('committed'), 'Le montant engagé'),
      paid: amount(o.paid ?? 0, f('paid'), 'Le montant payé'),
    };
    if (!Number.isFinite(line.votedDm) || Math.abs(line.votedDm) >= 1e14) throw new UserError('La décision modificative doit être un nombre.', 400, f('votedDm'));
    if (line.votedBp + line.votedDm < 0) throw new UserError('Le total voté (BP + DM) ne peut pas être négatif.', 400, f('votedDm'));
    if (line.paid > line.committed) throw new UserError(`${line.year} : le payé (${line.paid}) dépasse l’engagé (${line.committed}).`, 400, f('paid'));
    return line;
  });
  const seen = new Set<number>();
  years.forEach((y, i) => {
    if (seen.has(y.year)) throw new UserError(`L’année ${y.year} figure deux fois.`, 400, `years[${i}].year`);
    seen.add(y.year);
  });
  const cpSum = round2(years.reduce((s, y) => s + y.cp, 0));
  if (cpSum > ap) throw new UserError(`La somme des crédits de paiement (${cpSum}) dépasse l’autorisation de programme (${ap}).`, 400, 'years');
  if (raw.cofinancing !== undefined && !Array.isArray(raw.cofinancing)) throw new UserError('Les cofinancements doivent être une liste.', 400, 'cofinancing');
  const cofinancing = ((raw.cofinancing as unknown[] | undefined) ?? []).map((c, i) => {
    const o = (c ?? {}) as Input;
    return {
      kind: oneOf(o.kind, FUNDER_KINDS, `cofinancing[${i}].kind`, 'Le type de financeur'),
      name: cleanText(o.name, `cofinancing[${i}].name`, 'Le financeur', { max: 200, required: true }),
      amount: amount(o.amount, `cofinancing[${i}].amount`, 'Le montant cofinancé'),
    };
  });
  if (new Set(cofinancing.map((c) => c.name)).size !== cofinancing.length) throw new UserError('Un financeur figure deux fois.', 400, 'cofinancing');
  const coSum = round2(cofinancing.reduce((s, c) => s + c.amount, 0));
  if (coSum > ap) throw new UserError(`Les cofinancements (${coSum}) dépassent l’autorisation de programme (${ap}).`, 400, 'cofinancing');

  return writeTx(db, async (tx) => {
    const node = await store.nodeById(tx, nodeId);
    if (!node) throw new NotFoundError('Cet élément n’existe pas.');
    const plan = (await store.planById(tx, node.planId, true))!;
    const first = Number(plan.periodStart.slice(0, 4));
    const last = Number(plan.periodEnd.slice(0, 4));
    years.forEach((y, i) => {
      if (y.year < first || y.year > last) throw new UserError(`L’année ${y.year} est en dehors de la période du plan (${first}–${last}).`, 400, `years[${i}].year`);
    });
    const before = await budgetsWhere(tx, 'b.node_id = $1 AND b.label = $2', [nodeId, label]);
    await tx.query('DELETE FROM roadmap.budget WHERE node_id = $1 AND label = $2', [nodeId, label]);
    const id = (
      await tx.query<{ id: string }>(
        'INSERT INTO roadmap.budget (plan_id, node_id, label, ap, nature, account_code, account_label, chapter_code, chapter_label) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id',
        [plan.id, nodeId, label, ap, nature, account?.code ?? null, account?.label ?? null, chapter?.code ?? null, chapter?.label ?? null],
      )
    ).rows[0]!.id;
    if (years.length) {
      await tx.query(
        `INSERT INTO roadmap.budget_year (budget_id, year, cp, voted_bp, voted_dm, committed, paid)
         SELECT $1, * FROM unnest($2::int[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[])`,
        [id, years.map((y) => y.year), years.map((y) => y.cp), years.map((y) => y.votedBp), years.map((y) => y.votedDm), years.map((y) => y.committed), years.map((y) => y.paid)],
      );
    }
    for (const c of cofinancing) await tx.query('INSERT INTO roadmap.cofinancing (budget_id, funder_kind, funder_name, amount) VALUES ($1, $2, $3, $4)', [id, c.kind, c.name, c.amount]);
    const after: Budget = { id, planId: plan.id, nodeId, label, ap, nature, account, chapter, years: years.sort((a, b) => a.year - b.year), cofinancing };
    await store.insertChange(tx, { planId: plan.id, objectType: 'node', objectId: nodeId, actorId: actor, action: 'budget', summary: `Budget « ${label} » de « ${node.title} » enregistré`, before: before[0] ?? null, after });
    await recordAudit(tx, { actorId: actor, action: 'roadmap.budget.save', objectType: 'roadmap.budget', objectId: id, before: before[0] ?? null, after, meta: { plan: plan.id, node: nodeId } });
    return after;
  });
}

export async function deleteBudget(db: Db, actor: Actor, budgetId: string): Promise<boolean> {
  if (!/^[0-9a-f-]{36}$/i.test(budgetId)) return false;
  return writeTx(db, async (tx) => {
    const before = await budgetsWhere(tx, 'b.id = $1', [budgetId]);
    if (!before[0]) return false;
    await tx.query('DELETE FROM roadmap.budget WHERE id = $1', [budgetId]);
    await store.insertChange(tx, { planId: before[0].planId, objectType: 'node', objectId: before[0].nodeId, actorId: actor, action: 'budget', summary: `Budget « ${before[0].label} » supprimé`, before: before[0], after: null });
    await recordAudit(tx, { actorId: actor, action: 'roadmap.budget.delete', objectType: 'roadmap.budget', objectId: budgetId, before: before[0] });
    return true;
  });
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

async function budgetsWhere(db: Queryable, where: string, params: unknown[]): Promise<Budget[]> {
  const { rows } = await db.query<{ id: string; plan_id: string; node_id: string; label: string; ap: number; nature: Budget['nature']; account_code: string | null; account_label: string | null; chapter_code: string | null; chapter_label: string | null; years: BudgetYear[] | null; cofinancing: Budget['cofinancing'] | null }>(
    `SELECT b.id, b.plan_id, b.node_id, b.label, b.ap, b.nature, b.account_code, b.account_label, b.chapter_code, b.chapter_label,
       (SELECT json_agg(json_build_object('year', y.year, 'cp', y.cp, 'votedBp', y.voted_bp, 'votedDm', y.voted_dm, 'committed', y.committed, 'paid', y.paid) ORDER BY y.year) FROM roadmap.budget_year y WHERE y.budget_id = b.id) AS years,
       (SELECT json_agg(json_build_object('kind', c.funder_kind, 'name', c.funder_name, 'amount', c.amount) ORDER BY c.funder_name) FROM roadmap.cofinancing c WHERE c.budget_id = b.id) AS cofinancing
     FROM roadmap.budget b WHERE ${where} ORDER BY b.label`,
    params,
    { prepare: true },
  );
  return rows.map((r) => ({
    id: r.id,
    planId: r.plan_id,
    nodeId: r.node_id,
    label: r.label,
    ap: Number(r.ap),
    nature: r.nature,
    account: r.account_code ? { code: r.account_code, label: r.account_label ?? '' } : null,
    chapter: r.chapter_code ? { code: r.chapter_code, label: r.chapter_label ?? '' } : null,
    years: (r.years ?? []).map((y) => ({ year: Number(y.year), cp: Number(y.cp), votedBp: Number(y.votedBp), votedDm: Number(y.votedDm), committed: Number(y.committed), paid: Number(y.paid) })),
    cofinancing: (r.cofinancing ?? []).map((c) => ({ ...c, amount: Number(c.amount) })),
  }));
}

export async function planBudgets(db: Queryable, planId: string): Promise<Budget[]> {
  return budgetsWhere(db, 'b.plan_id = $1', [planId]);
}

export async function nodeBudgets(db: Queryable, nodeId: string): Promise<Budget[]> {
  return budgetsWhere(db, 'b.node_id = $1', [nodeId]);
}

// Roll-ups ---------------------------------------------------------------------------------------

export interface MoneyTotals {
  ap: number;
  cp: number;
  voted: number;
  committed: number;
  paid: number;
  cofinanced: number;
}

const zero = (): MoneyTotals => ({ ap: 0, cp: 0, voted: 0, committed: 0, paid: 0, cofinanced: 0 });

function add(a: MoneyTotals, b: MoneyTotals) {
  a.ap += b.ap;
  a.cp += b.cp;
  a.voted += b.voted;
  a.committed += b.committed;
  a.paid += b.paid;
  a.cofinanced += b.cofinanced;
}

function budgetTotals(b: Budget): MoneyTotals {
  const t = zero();
  t.ap = b.ap;
  for (const y of b.years) {
    t.cp += y.cp;
    t.voted += y.votedBp + y.votedDm;
    t.committed += y.committed;
    t.paid += y.paid;
  }
  for (const c of b.cofinancing) t.cofinanced += c.amount;
  return t;
}

export interface PlanMoney {
  /** Per node: its own budgets plus all its descendants'. */
  byNode: Map<string, MoneyTotals>;
  total: MoneyTotals;
  byYear: (BudgetYear & { voted: number })[];
  byFunder: { kind: FunderKind; name: string; amount: number }[];
  budgets: Budget[];
}

export function rollupMoney(nodes: PlanNode[], budgets: Budget[]): PlanMoney {
  const own = new Map<string, MoneyTotals>();
  for (const b of budgets) {
    const t = own.get(b.nodeId) ?? zero();
    add(t, budgetTotals(b));
    own.set(b.nodeId, t);
  }
  const years = new Map<number, BudgetYear & { voted: number }>();
  for (const b of budgets) {
    for (const y of b.years) {
      const acc = years.get(y.year) ?? { year: y.year, cp: 0, votedBp: 0, votedDm: 0, voted: 0, committed: 0, paid: 0 };
      acc.cp += y.cp;
      acc.votedBp += y.votedBp;
      acc.votedDm += y.votedDm;
      acc.voted += y.votedBp + y.votedDm;
      acc.committed += y.committed;
      acc.paid += y.paid;
      years.set(y.year, acc);
    }
  }
  const funders = new Map<string, { kind: FunderKind; name: string; amount: number }>();
  for (const b of budgets) {
    for (const c of b.cofinancing) {
      const acc = funders.get(c.name) ?? { kind: c.kind, name: c.name, amount: 0 };
      acc.amount += c.amount;
      funders.set(c.name, acc);
    }
  }
  return rollupTotals(nodes, own, [...years.values()], [...funders.values()]);
}

const r2 = (t: MoneyTotals) => {
  for (const k of Object.keys(t) as (keyof MoneyTotals)[]) t[k] = round2(t[k]);
  return t;
};

/** Rolls each node's own totals up to its ancestors; totals by year and funder as given. */
export function rollupTotals(nodes: PlanNode[], own: Map<string, MoneyTotals>, byYear: PlanMoney['byYear'], byFunder: PlanMoney['byFunder']): PlanMoney {
  const parent = new Map(nodes.map((n) => [n.id, n.parentId]));
  const byNode = new Map<string, MoneyTotals>(nodes.map((n) => [n.id, zero()]));
  const total = zero();
  for (const [nodeId, t] of own) {
    add(total, t);
    let p: string | null | undefined = nodeId;
    for (let guard = 0; p && guard <= nodes.length; guard++) {
      const acc = byNode.get(p);
      if (acc) add(acc, t);
      p = parent.get(p);
    }
  }
  for (const t of byNode.values()) r2(t);
  return {
    byNode,
    total: r2(total),
    byYear: byYear.sort((a, b) => a.year - b.year),
    byFunder: byFunder.sort((a, b) => b.amount - a.amount || a.name.localeCompare(b.name)),
    budgets: [],
  };
}

/** The plan's money computed by the database: own totals per node, by year and by funder (no budget lines read). */
export async function planMoney(db: Queryable, planId: string, nodes: PlanNode[]): Promise<PlanMoney> {
  // One round trip, one row of JSON: each budget's years and co-financing read once, summed per
  // node, per year and per funder by the database.
  const { rows } = await db.query<{ own: string | null; years: string | null; funders: string | null }>(
    `WITH b AS (SELECT id, node_id, ap FROM roadmap.budget WHERE plan_id = $1),
       y AS (SELECT budget_id, year, cp, voted_bp, voted_dm, committed, paid FROM roadmap.budget_year WHERE budget_id IN (SELECT id FROM b)),
       c AS (SELECT budget_id, funder_kind, funder_name, amount FROM roadmap.cofinancing WHERE budget_id IN (SELECT id FROM b)),
       yb AS (SELECT budget_id, sum(cp) AS cp, sum(voted_bp + voted_dm) AS voted, sum(committed) AS committed, sum(paid) AS paid FROM y GROUP BY budget_id),
       cb AS (SELECT budget_id, sum(amount) AS amount FROM c GROUP BY budget_id)
     SELECT (SELECT json_agg(json_build_array(node_id, ap, cp, voted, committed, paid, cofinanced)) FROM (
               SELECT b.node_id, sum(b.ap) AS ap, sum(yb.cp) AS cp, sum(yb.voted) AS voted, sum(yb.committed) AS committed, sum(yb.paid) AS paid, sum(cb.amount) AS cofinanced
                 FROM b LEFT JOIN yb ON yb.budget_id = b.id LEFT JOIN cb ON cb.budget_id = b.id GROUP BY b.node_id) o)::text AS own,
            (SELECT json_agg(json_build_array(year, cp, voted_bp, voted_dm, committed, paid)) FROM (
               SELECT year, sum(cp) AS cp, sum(voted_bp) AS voted_bp, sum(voted_dm) AS voted_dm, sum(committed) AS committed, sum(paid) AS paid FROM y GROUP BY year) x)::text AS years,
            (SELECT json_agg(json_build_array(kind, name, amount)) FROM (
               SELECT min(funder_kind) AS kind, funder_name AS name, sum(amount) AS amount FROM c GROUP BY funder_name) f)::text AS funders`,
    [planId],
    { prepare: true },
  );
  const n = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));
  const r = rows[0] ?? { own: null, years: null, funders: null };
  const own = JSON.parse(r.own ?? '[]') as [string, ...(number | null)[]][];
  const years = JSON.parse(r.years ?? '[]') as (number | null)[][];
  const funders = JSON.parse(r.funders ?? '[]') as [FunderKind, string, number][];
  const ownMap = new Map(own.map(([node, ap, cp, voted, committed, paid, cofinanced]) => [node, { ap: n(ap), cp: n(cp), voted: n(voted), committed: n(committed), paid: n(paid), cofinanced: n(cofinanced) }]));
  return rollupTotals(
    nodes,
    ownMap,
    years.map(([year, cp, bp, dm, committed, paid]) => ({ year: n(year), cp: n(cp), votedBp: n(bp), votedDm: n(dm), voted: round2(n(bp) + n(dm)), committed: n(committed), paid: n(paid) })),
    funders.map(([kind, name, amount]) => ({ kind, name, amount: n(amount) })),
  );
}

/** Totals by territory: every plan's budgets and every envelope, grouped by the territory they belong to. */
export async function moneyByTerritory(db: Queryable): Promise<{ territory: TerritoryRef; plans: number; ap: number; paid: number; ceilings: number; drawn: number }[]> {
  const { rows } = await db.query<{ level: string; code: string; plans: number; ap: number; paid: number; ceilings: number; drawn: number }>(
    `WITH b AS (
       SELECT p.territory_level AS level, p.territory_code AS code, count(DISTINCT p.id)::int AS plans, coalesce(sum(bt.ap), 0) AS ap, coalesce(sum(bt.paid), 0) AS paid
         FROM roadmap.plan p
         LEFT JOIN (SELECT b.plan_id, b.ap, (SELECT coalesce(sum(paid), 0) FROM roadmap.budget_year y WHERE y.budget_id = b.id) AS paid FROM roadmap.budget b) bt ON bt.plan_id = p.id
        WHERE p.published
        GROUP BY 1, 2),
     e AS (
       SELECT e.territory_level AS level, e.territory_code AS code, sum(e.ceiling) AS ceilings, sum(e.drawn) AS drawn
         FROM roadmap.envelope e JOIN roadmap.plan p ON p.id = e.plan_id WHERE p.published GROUP BY 1, 2)
     SELECT coalesce(b.level, e.level) AS level, coalesce(b.code, e.code) AS code, coalesce(b.plans, 0) AS plans, coalesce(b.ap, 0) AS ap, coalesce(b.paid, 0) AS paid,
            coalesce(e.ceilings, 0) AS ceilings, coalesce(e.drawn, 0) AS drawn
       FROM b FULL JOIN e ON e.level = b.level AND e.code = b.code ORDER BY 1, 2`,
  );
  return rows.map((r) => ({ territory: { level: r.level as TerritoryRef['level'], code: r.code }, plans: Number(r.plans), ap: Number(r.ap), paid: Number(r.paid), ceilings: Number(r.ceilings), drawn: Number(r.drawn) }));
}

// Envelopes --------------------------------------------------------------------------------------

export interface Envelope {
  id: string;
  planId: string;
  nodeId: string | null;
  territory: TerritoryRef;
  label: string;
  year: number | null;
  ceiling: number;
  drawn: number;
  remaining: number;
}

function toEnvelope(r: Record<string, unknown>): Envelope {
  const ceiling = Number(r.ceiling);
  const drawn = Number(r.drawn);
  return {
    id: r.id as string,
    planId: r.plan_id as string,
    nodeId: (r.node_id as string | null) ?? null,
    territory: { level: r.territory_level as TerritoryRef['level'], code: r.territory_code as string },
    label: r.label as string,
    year: r.year === null ? null : Number(r.year),
    ceiling,
    drawn,
    remaining: round2(ceiling - drawn),
  };
}

const ENVELOPE_COLUMNS = 'id, plan_id, node_id, territory_level, territory_code, label, year, ceiling, drawn';

export async function saveEnvelope(db: Db, actor: Actor, planId: string, raw: Input): Promise<Envelope> {
  const t = (raw.territory ?? {}) as Input;
  const territory = await territoryOf(db, t.level, t.code);
  const label = cleanText(raw.label, 'label', 'Le libellé', { max: 200, required: true });
  const ceiling = amount(raw.ceiling, 'ceiling', 'Le plafond');
  const year = optionalInt(raw.year, 'year', 'L’année', 1990, 2100);
  const nodeId = typeof raw.nodeId === 'string' && raw.nodeId ? raw.nodeId : null;
  return writeTx(db, async (tx) => {
    const plan = await store.planById(tx, planId, true);
    if (!plan) throw new NotFoundError('Ce plan n’existe pas.');
    if (nodeId) {
      const n = await store.nodeById(tx, nodeId);
      if (!n || n.planId !== planId) throw new UserError('L’action doit appartenir à ce plan.', 400, 'nodeId');
    }
    const existing = await tx.query(`SELECT ${ENVELOPE_COLUMNS} FROM roadmap.envelope WHERE plan_id = $1 AND territory_level = $2 AND territory_code = $3 AND label = $4 FOR UPDATE`, [planId, territory.level, territory.code, label]);
    const before = existing.rows[0] ? toEnvelope(existing.rows[0]) : null;
    if (before && ceiling < before.drawn) throw new UserError(`Le plafond (${ceiling}) serait inférieur aux montants déjà attribués (${before.drawn}).`, 409, 'ceiling');
    const { rows } = await tx.query(
      `INSERT INTO roadmap.envelope (plan_id, node_id, territory_level, territory_code, label, year, ceiling) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (plan_id, territory_level, territory_code, label) DO UPDATE SET node_id = EXCLUDED.node_id, year = EXCLUDED.year, ceiling = EXCLUDED.ceiling
       RETURNING ${ENVELOPE_COLUMNS}`,
      [planId, nodeId, territory.level, territory.code, label, year, ceiling],
    );
    const after = toEnvelope(rows[0]!);
    await recordAudit(tx, { actorId: actor, action: before ? 'roadmap.envelope.update' : 'roadmap.envelope.create', objectType: 'roadmap.envelope', objectId: after.id, before, after, meta: { plan: planId } });
    return after;
  });
}

export async function listEnvelopes(db: Queryable, o: { planId?: string; territory?: TerritoryRef } = {}): Promise<Envelope[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (o.planId) where.push(`plan_id = $${params.push(o.planId)}`);
  if (o.territory) where.push(`territory_level = $${params.push(o.territory.level)} AND territory_code = $${params.push(o.territory.code)}`);
  const { rows } = await db.query(`SELECT ${ENVELOPE_COLUMNS} FROM roadmap.envelope ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY territory_level, territory_code, label`, params);
  return rows.map(toEnvelope);
}

export async function getEnvelope(db: Queryable, id: string): Promise<Envelope | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  const { rows } = await db.query(`SELECT ${ENVELOPE_COLUMNS} FROM roadmap.envelope WHERE id = $1`, [id]);
  return rows[0] ? toEnvelope(rows[0]) : null;
}

export interface DrawInput {
  envelopeId: string;
  amount: number;
  /** The drawing object's stable id (e.g. 'calls:grant:42'); one draw per reference and envelope. */
  reference: string;
  label?: string;
  actorId?: string | null;
}

/**
 * Draws an amount on an envelope. Atomic under concurrency: the envelope's `drawn` is raised by one
 * conditional UPDATE (`drawn + amount <= ceiling`), so two grants racing for the last euros cannot
 * both succeed. Pass the caller's transaction (`tx`) so the draw and the grant commit together.
 * Over-commitment: UserError 409 naming `amount`.
 */
export async function drawEnvelope(db: Db | Queryable, input: DrawInput): Promise<Envelope> {
  const run = async (tx: Queryable) => {
    const value = amount(input.amount, 'amount', 'Le montant');
    if (value <= 0) throw new UserError('Le montant doit être positif.', 400, 'amount');
    const reference = cleanText(input.reference, 'reference', 'La référence', { max: 200, required: true });
    const env = await getEnvelope(tx, input.envelopeId);
    if (!env) throw new NotFoundError('Cette enveloppe n’existe pas.');
    const { rows } = await tx.query(
      `UPDATE roadmap.envelope SET drawn = drawn + $2 WHERE id = $1 AND drawn + $2 <= ceiling RETURNING ${ENVELOPE_COLUMNS}`,
      [env.id, value],
    );
    if (!rows[0]) {
      const now = (await getEnvelope(tx, env.id))!;
      throw new UserError(`Engagement refusé : ${value} € dépasseraient le plafond de l’enveloppe « ${now.label} » (reste ${now.remaining} € sur ${now.ceiling} €).`, 409, 'amount', 'over_commitment');
    }
    const dup = await tx.query('INSERT INTO roadmap.envelope_draw (envelope_id, amount, reference, label, actor_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (envelope_id, reference) DO NOTHING RETURNING id', [
      env.id, value, reference, cleanText(input.label, 'label', 'Le libellé', { max: 300 }), input.actorId ?? null,
    ]);
    if (!dup.rows[0]) throw new UserError(`La référence « ${reference} » a déjà un montant sur cette enveloppe.`, 409, 'reference');
    const after = toEnvelope(rows[0]);
    await recordAudit(tx, { actorId: input.actorId ?? null, action: 'roadmap.envelope.draw', objectType: 'roadmap.envelope', objectId: env.id, after: { amount: value, reference, drawn: after.drawn, ceiling: after.ceiling } });
    return after;
  };
  return 'transaction' in db && typeof db.transaction === 'function' ? writeTx(db as Db, run) : run(db);
}

/** Gives back a draw (a grant cancelled): the envelope's drawn amount goes down by it. */
export async function releaseDraw(db: Db | Queryable, input: { envelopeId: string; reference: string; actorId?: string | null }): Promise<boolean> {
  const run = async (tx: Queryable) => {
    if (!/^[0-9a-f-]{36}$/i.test(input.envelopeId)) return false;
    const { rows } = await tx.query<{ amount: number }>('DELETE FROM roadmap.envelope_draw WHERE envelope_id = $1 AND reference = $2 RETURNING amount', [input.envelopeId, input.reference]);
    if (!rows[0]) return false;
    await tx.query('UPDATE roadmap.envelope SET drawn = drawn - $2 WHERE id = $1', [input.envelopeId, rows[0].amount]);
    await recordAudit(tx, { actorId: input.actorId ?? null, action: 'roadmap.envelope.release', objectType: 'roadmap.envelope', objectId: input.envelopeId, before: { amount: Number(rows[0].amount), reference: input.reference } });
    return true;
  };
  return 'transaction' in db && typeof db.transaction === 'function' ? writeTx(db as Db, run) : run(db);
}

export async function envelopeDraws(db: Queryable, envelopeId: string) {
  const { rows } = await db.query<{ amount: number; reference: string; label: string; at: Date | string }>('SELECT amount, reference, label, at FROM roadmap.envelope_draw WHERE envelope_id = $1 ORDER BY at, reference', [envelopeId]);
  return rows.map((r) => ({ amount: Number(r.amount), reference: r.reference, label: r.label, at: r.at instanceof Date ? r.at.toISOString() : String(r.at) }));
}

/** JSON API under /api/v1/roadmap (zod schemas: validated and listed in the OpenAPI document). */
import { z } from 'zod';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import { NotFoundError, UserError } from '../../platform/http/errors.ts';
import { currentUser, requirePermission } from '../accounts/index.ts';
import { nodeResolver, planResolver, readablePlan, territoryBodyResolver } from './access.ts';
import { EXPORT_TABLES, buildTable, toCsv, toJson, type ExportTable } from './exports.ts';
import { liveIndicators } from './live.ts';
import { STATUSES, TERRITORY_LEVELS, type Plan, type PlanNode } from './model.ts';
import { moneyByTerritory, saveBudget } from './money.ts';
import * as service from './service.ts';
import { actionView, barometer } from './views.ts';

const tags = ['roadmap'];
const ErrorSchema = z.object({ error: z.string(), message: z.string(), field: z.string().nullable().optional() });
const Territory = z.object({ level: z.enum(TERRITORY_LEVELS), code: z.string() });

const PlanSchema = z.object({
  id: z.string(),
  slug: z.string(),
  territory: Territory,
  title: z.string(),
  periodStart: z.string(),
  periodEnd: z.string(),
  published: z.boolean(),
  vote: z.object({
    date: z.string().nullable(),
    deliberationRef: z.string().nullable(),
    deliberationUrl: z.string().nullable(),
    votesFor: z.number().nullable(),
    votesAgainst: z.number().nullable(),
    votesAbstention: z.number().nullable(),
  }),
  context: z.string(),
  authority: z.object({ name: z.string().nullable(), siret: z.string().nullable() }),
  documents: z.array(z.object({ title: z.string(), url: z.string() })),
  revision: z.number(),
  updatedAt: z.string(),
});

const Totals = z.object({ ap: z.number(), cp: z.number(), voted: z.number(), committed: z.number(), paid: z.number(), cofinanced: z.number() });

const NodeSchema = z.object({
  id: z.string(),
  parentId: z.string().nullable(),
  position: z.number(),
  depth: z.number(),
  kind: z.string(),
  number: z.string(),
  title: z.string(),
  description: z.string(),
  leads: z.array(z.string()),
  partners: z.array(z.string()),
  publics: z.array(z.string()),
  startDate: z.string().nullable(),
  endDate: z.string().nullable(),
  status: z.enum(STATUSES),
  priority: z.string(),
  tags: z.array(z.string()),
  links: z.array(z.object({ kind: z.string(), id: z.string() })),
  weight: z.number(),
  progress: z.number().nullable().describe('0–1: own indicators (PILOTE formula), else weighted mean of the children'),
  money: Totals,
});

const IndicatorSchema = z.object({
  id: z.string(),
  title: z.string(),
  unit: z.string(),
  direction: z.enum(['up', 'down']),
  min: z.number().nullable(),
  max: z.number().nullable(),
  method: z.string(),
  source: z.string(),
  live: z.boolean(),
});

const ValueSchema = z.object({ kind: z.enum(['result', 'target', 'estimate']), date: z.string(), value: z.number(), source: z.enum(['saisie', 'import', 'calcul']), note: z.string() });

const planParams = z.object({ plan: z.string().max(100) });
const nodeParams = z.object({ plan: z.string().max(100), node: z.string().max(100) });
const writeBody = z.record(z.string(), z.unknown());

function planJson(p: Plan) {
  const { region: _r, departement: _d, createdAt: _c, ...rest } = p;
  return rest;
}

function nodeJson(n: PlanNode, depth: number, progress: number | null, money: z.infer<typeof Totals> | undefined) {
  const { planId: _p, updatedAt: _u, ...rest } = n;
  return { ...rest, depth, progress, money: money ?? { ap: 0, cp: 0, voted: 0, committed: 0, paid: 0, cofinanced: 0 } };
}

export function registerRoadmapRoutes(app: App, ctx: AppContext) {
  const db = ctx.db;

  app.get(
    '/api/v1/roadmap/plans',
    {
      schema: {
        tags,
        summary: 'Published roadmaps, optionally of one territory',
        querystring: z.object({ territory: z.string().max(30).optional().describe('e.g. region:28, departement:27, epci:200000172') }),
        response: { 200: z.object({ items: z.array(PlanSchema) }) },
      },
    },
    async (req) => {
      let territory;
      if (req.query.territory) {
        const [level, code] = req.query.territory.split(':');
        territory = await service.territoryOf(db, level, code, 'territory');
      }
      const plans = await service.listPlans(db, { territory: territory && { level: territory.level, code: territory.code }, publishedOnly: true });
      return { items: plans.map(planJson) };
    },
  );

  app.get(
    '/api/v1/roadmap/plans/:plan',
    {
      schema: {
        tags,
        summary: 'A roadmap: the plan, its tree with status, progress and money (the barometer)',
        params: planParams,
        response: {
          200: z.object({
            plan: PlanSchema,
            progress: z.number().nullable(),
            nodes: z.array(NodeSchema),
            money: z.object({
              total: Totals,
              byYear: z.array(z.object({ year: z.number(), cp: z.number(), votedBp: z.number(), votedDm: z.number(), voted: z.number(), committed: z.number(), paid: z.number() })),
              byFunder: z.array(z.object({ kind: z.string(), name: z.string(), amount: z.number() })),
            }),
            envelopes: z.array(z.object({ id: z.string(), territory: Territory, label: z.string(), year: z.number().nullable(), ceiling: z.number(), drawn: z.number(), remaining: z.number() })),
          }),
          404: ErrorSchema,
        },
      },
    },
    async (req) => {
      const plan = await readablePlan(db, req, req.params.plan);
      const b = await barometer(db, plan, { full: true });
      return {
        plan: planJson(plan),
        progress: b.overall,
        nodes: b.nodes.map((n) => nodeJson(n, b.depth.get(n.id) ?? 0, b.progress.get(n.id) ?? null, b.money.byNode.get(n.id))),
        money: { total: b.money.total, byYear: b.money.byYear, byFunder: b.money.byFunder },
        envelopes: b.envelopes.map(({ planId: _p, nodeId: _n, ...e }) => e),
      };
    },
  );

  app.get(
    '/api/v1/roadmap/plans/:plan/versions',
    {
      schema: {
        tags,
        summary: 'History of a plan (every change: who, when, what), or the plan as it stood on a date (?at=YYYY-MM-DD)',
        params: planParams,
        querystring: z.object({ at: z.string().max(40).optional(), before: z.coerce.number().int().positive().optional(), limit: z.coerce.number().int().min(1).max(500).default(100) }),
        response: {
          200: z.object({
            at: z.string().nullable(),
            plan: z.record(z.string(), z.unknown()).nullable(),
            nodes: z.array(z.record(z.string(), z.unknown())),
            changes: z.array(z.object({ seq: z.number(), objectType: z.string(), objectId: z.string(), at: z.string(), actorId: z.string().nullable(), action: z.string(), summary: z.string() })),
            nextCursor: z.number().nullable(),
          }),
          404: ErrorSchema,
        },
      },
    },
    async (req) => {
      const plan = await readablePlan(db, req, req.params.plan);
      const changes = await service.history(db, plan.id, { beforeSeq: req.query.before, limit: req.query.limit + 1 });
      const page = changes.slice(0, req.query.limit).map(({ before: _b, after: _a, ...c }) => c);
      const nextCursor = changes.length > req.query.limit ? page[page.length - 1]!.seq : null;
      if (!req.query.at) return { at: null, plan: null, nodes: [], changes: page, nextCursor };
      const asOf = await service.planAsOf(db, plan.id, req.query.at);
      return { at: req.query.at, plan: asOf.plan as unknown as Record<string, unknown> | null, nodes: asOf.nodes as unknown as Record<string, unknown>[], changes: page, nextCursor };
    },
  );

  app.get(
    '/api/v1/roadmap/plans/:plan/actions/:node',
    {
      schema: {
        tags,
        summary: 'One action (or any node): indicators with their series and progress, budgets, linked objects, history',
        params: nodeParams,
        response: {
          200: z.object({
            node: NodeSchema.omit({ depth: true }),
            ancestors: z.array(z.object({ id: z.string(), number: z.string(), title: z.string() })),
            indicators: z.array(z.object({ indicator: IndicatorSchema, weight: z.number(), progress: z.number().nullable(), explanation: z.string(), values: z.array(ValueSchema) })),
            budgets: z.array(z.record(z.string(), z.unknown())),
            links: z.array(z.object({ kind: z.string(), id: z.string(), label: z.string(), href: z.string().nullable(), found: z.boolean() })),
            history: z.array(z.object({ seq: z.number(), at: z.string(), actorId: z.string().nullable(), action: z.string(), summary: z.string() })),
          }),
          404: ErrorSchema,
        },
      },
    },
    async (req) => {
      const plan = await readablePlan(db, req, req.params.plan);
      const v = await actionView(db, plan, req.params.node);
      if (!v) throw new NotFoundError('Cette action n’existe pas dans ce plan.');
      const { depth: _d, ...node } = nodeJson(v.node, 0, v.progress, v.money ?? undefined);
      return {
        node,
        ancestors: v.ancestors.map((a) => ({ id: a.id, number: a.number, title: a.title })),
        indicators: v.indicators.map((i) => ({ indicator: i.indicator, weight: i.weight, progress: i.progress.value, explanation: i.progress.explanation, values: i.series })),
        budgets: v.budgets as unknown as Record<string, unknown>[],
        links: v.links,
        history: v.history.map((h) => ({ seq: h.seq, at: h.at, actorId: h.actorId, action: h.action, summary: h.summary })),
      };
    },
  );

  app.get(
    '/api/v1/roadmap/plans/:plan/export/:table',
    {
      schema: {
        tags,
        summary: `A plan's table as CSV or JSON (:table is one of ${EXPORT_TABLES.join(', ')}, followed by .csv or .json)`,
        params: z.object({ plan: z.string().max(100), table: z.string().max(40) }),
      },
    },
    async (req, reply) => {
      const m = /^([a-z-]+)\.(csv|json)$/.exec(req.params.table);
      if (!m || !(EXPORT_TABLES as readonly string[]).includes(m[1]!)) throw new UserError(`Table inconnue : choisissez parmi ${EXPORT_TABLES.map((t) => `${t}.csv`).join(', ')} (ou .json).`, 404, 'table');
      const plan = await readablePlan(db, req, req.params.plan);
      const table = await buildTable(db, plan, m[1] as ExportTable);
      const name = `${plan.slug}-${m[1]}.${m[2]}`;
      reply.header('Content-Disposition', `attachment; filename="${name}"`);
      if (m[2] === 'csv') return reply.type('text/csv; charset=utf-8').send(toCsv(table));
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(toJson(table)));
    },
  );

  app.get(
    '/api/v1/roadmap/indicators',
    { schema: { tags, summary: 'Indicator definitions (live ones are computed by the platform)', response: { 200: z.object({ items: z.array(IndicatorSchema) }) } } },
    async () => ({ items: await service.listIndicators(db) }),
  );

  app.get(
    '/api/v1/roadmap/indicators/:id/values',
    {
      schema: {
        tags,
        summary: 'The dated values (results, targets, estimates) of one indicator for one territory',
        params: z.object({ id: z.string().max(100) }),
        querystring: z.object({ territory: z.string().max(30).describe('e.g. region:28') }),
        response: { 200: z.object({ indicator: IndicatorSchema, territory: Territory, values: z.array(ValueSchema) }), 404: ErrorSchema },
      },
    },
    async (req) => {
      const ind = await service.getIndicator(db, req.params.id);
      if (!ind) throw new NotFoundError('Cet indicateur n’existe pas.');
      const [level, code] = req.query.territory.split(':');
      const t = await service.territoryOf(db, level, code, 'territory');
      return { indicator: ind, territory: { level: t.level, code: t.code }, values: await service.getSeries(db, ind.id, t) };
    },
  );

  app.get(
    '/api/v1/roadmap/live-indicators',
    {
      schema: {
        tags,
        summary: 'The live indicators the modules registered (recomputed by a background job)',
        response: { 200: z.object({ items: z.array(z.object({ id: z.string(), title: z.string(), unit: z.string(), method: z.string() })) }) },
      },
    },
    async () => ({ items: liveIndicators().map((d) => ({ id: d.id, title: d.title, unit: d.unit, method: d.method })) }),
  );

  app.get(
    '/api/v1/roadmap/territories',
    {
      schema: {
        tags,
        summary: 'Money by territory over published plans: AP, paid, envelope ceilings and amounts drawn',
        response: { 200: z.object({ items: z.array(z.object({ territory: Territory, plans: z.number(), ap: z.number(), paid: z.number(), ceilings: z.number(), drawn: z.number() })) }) },
      },
    },
    async () => ({ items: await moneyByTerritory(db) }),
  );

  // Writes: same permissions as the back office, CSRF token in the X-CSRF-Token header.
  const edit = (resolver: ReturnType<typeof planResolver>) => ({ preValidation: app.csrfProtection, preHandler: requirePermission('roadmap.edit', resolver) });
  const actorOf = async (req: Parameters<typeof currentUser>[0]) => (await currentUser(req))?.id ?? null;

  app.post(
    '/api/v1/roadmap/plans',
    { ...edit(territoryBodyResolver(db)), schema: { tags, summary: 'Create a plan (roadmap.edit on its territory)', body: writeBody, response: { 201: PlanSchema, 400: ErrorSchema, 409: ErrorSchema } } },
    async (req, reply) => {
      const plan = await service.createPlan(db, await actorOf(req), req.body);
      reply.status(201);
      return planJson(plan);
    },
  );

  app.patch(
    '/api/v1/roadmap/plans/:plan',
    { ...edit(planResolver(db)), schema: { tags, summary: 'Change a plan (title, period, vote, context, documents, published)', params: planParams, body: writeBody, response: { 200: PlanSchema, 400: ErrorSchema } } },
    async (req) => {
      const plan = (await service.getPlan(db, req.params.plan))!;
      return planJson(await service.updatePlan(db, await actorOf(req), plan.id, req.body));
    },
  );

  app.post(
    '/api/v1/roadmap/plans/:plan/nodes',
    { ...edit(planResolver(db)), schema: { tags, summary: 'Add an axis, objective, action or sub-action (parentId: where)', params: planParams, body: writeBody, response: { 201: z.record(z.string(), z.unknown()), 400: ErrorSchema } } },
    async (req, reply) => {
      const plan = (await service.getPlan(db, req.params.plan))!;
      reply.status(201);
      return (await service.addNode(db, await actorOf(req), plan.id, req.body)) as unknown as Record<string, unknown>;
    },
  );

  app.patch(
    '/api/v1/roadmap/plans/:plan/nodes/:node',
    { ...edit(nodeResolver(db)), schema: { tags, summary: 'Change a node (any field; parentId moves it, cycles refused)', params: nodeParams, body: writeBody, response: { 200: z.record(z.string(), z.unknown()), 400: ErrorSchema } } },
    async (req) => (await service.updateNode(db, await actorOf(req), req.params.node, req.body)) as unknown as Record<string, unknown>,
  );

  app.post(
    '/api/v1/roadmap/plans/:plan/nodes/:node/budgets',
    { ...edit(nodeResolver(db)), schema: { tags, summary: 'Create or replace a budget of a node: AP, yearly CP/voted/committed/paid, co-financing', params: nodeParams, body: writeBody, response: { 200: z.record(z.string(), z.unknown()), 400: ErrorSchema } } },
    async (req) => (await saveBudget(db, await actorOf(req), req.params.node, req.body)) as unknown as Record<string, unknown>,
  );

  app.post(
    '/api/v1/roadmap/plans/:plan/values',
    {
      ...edit(planResolver(db)),
      schema: {
        tags,
        summary: 'Record indicator values for the plan’s territory (all or none; bounds checked)',
        params: planParams,
        body: z.object({ values: z.array(z.record(z.string(), z.unknown())).max(100_000) }),
        response: { 200: z.object({ recorded: z.number() }), 400: ErrorSchema },
      },
    },
    async (req) => {
      const plan = (await service.getPlan(db, req.params.plan))!;
      const values = req.body.values.map((v) => ({ ...v, territory: plan.territory }));
      return { recorded: await service.recordValues(db, await actorOf(req), values) };
    },
  );
}

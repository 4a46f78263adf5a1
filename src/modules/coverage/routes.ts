/**
 * JSON API of the coverage module (`/api/v1/coverage/…`): per-commune measures, area summaries,
 * white zones, the planner, "what if", status and the background recompute. Every table is also
 * available as CSV (`?format=csv` or the `.csv` path).
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { App } from '../../platform/http/server.ts';
import { UserError } from '../../platform/http/errors.ts';
import type { AppContext } from '../../platform/module.ts';
import { requirePermission } from '../accounts/index.ts';
import { criterionKey, parseCriterion, SERVICES, type Criterion } from './model.ts';
import { queueRecompute, recomputeJob } from './jobs.ts';
import { plan, scope, scopeSummary, summaries, whatIf, whiteZonesFor, type PlanOutput, type WhatIfOutput } from './service.ts';
import { readState } from './store.ts';
import {
  communeJson,
  communesTable,
  planTable,
  summariesTable,
  summaryJson,
  toCsv,
  whatIfTable,
  whiteCommunesTable,
  whiteGroupsTable,
  type Table,
} from './tables.ts';

const tags = ['couverture'];
const errorSchema = z.object({ error: z.string(), message: z.string(), field: z.string().nullable().optional() });
const formatSchema = z.enum(['json', 'csv']).optional().describe('json (par défaut) ou csv');
const serviceParam = z
  .string()
  .max(100)
  .optional()
  .describe(`Critère de distance : vide = tout lieu ; « samedi » = lieu ouvert le samedi ; un service : ${SERVICES.map((s) => `${s.key} (${s.label})`).join(', ')}`);
const territoryParam = z.string().max(40).optional().describe('Territoire : 27 (département), region:28, epci:200000172, commune:27229 ; vide = France entière');

const shareSchema = z.object({
  within5: z.number().nullable().describe('Part (0–1) de la population des communes avec centre à 5 km ou moins d’un lieu'),
  within10: z.number().nullable(),
  within20: z.number().nullable(),
  meanKm: z.number().nullable().describe('Distance moyenne au lieu le plus proche, pondérée par la population'),
});
const summarySchema = z.object({
  level: z.enum(['france', 'region', 'departement', 'epci']),
  code: z.string(),
  name: z.string(),
  communes: z.number().int(),
  communesWithCentre: z.number().int(),
  communesWithoutCentre: z.number().int(),
  population: z.number().int(),
  populationWithoutCentre: z.number().int(),
  places: z.number().int(),
  placesPer10k: z.number().nullable(),
  communesWithPlace: z.number().int(),
  overall: shareSchema,
  saturday: shareSchema,
  services: z.record(z.string(), shareSchema),
});
const communeSchema = z.object({
  code: z.string(),
  name: z.string(),
  departement: z.string(),
  region: z.string(),
  epci: z.string().nullable(),
  population: z.number().int(),
  lat: z.number().nullable(),
  lon: z.number().nullable(),
  hasCentre: z.boolean(),
  nearestKm: z.number().nullable().describe('Distance (km, grand cercle) du centre de la commune au lieu le plus proche'),
  nearestUid: z.string().nullable(),
  saturdayKm: z.number().nullable(),
  services: z.record(z.string(), z.number().nullable()),
  within5: z.number().int().nullable(),
  within10: z.number().int().nullable(),
  within20: z.number().int().nullable(),
  placesInCommune: z.number().int(),
  hasPlace: z.boolean(),
});
const territoryRef = z.object({ level: z.string(), code: z.string(), name: z.string() }).nullable();

function sendCsv(reply: FastifyReply, name: string, table: Table) {
  return reply
    .type('text/csv; charset=utf-8')
    .header('Content-Disposition', `attachment; filename="${name}.csv"`)
    .send(toCsv(table));
}

function criterionOf(value: string | undefined, field = 'service'): Criterion {
  const c = parseCriterion(value);
  if (!c) throw new UserError(`Service inconnu : « ${value} ». Valeurs possibles : ${SERVICES.map((s) => s.key).join(', ')}, samedi.`, 400, field);
  return c;
}

const ref = (t: { level: string; code: string; name: string } | null) => (t ? { level: t.level, code: t.code, name: t.name } : null);
const slug = (t: { code: string } | null) => (t ? t.code : 'france');

export function planJson(r: PlanOutput) {
  return {
    territory: ref(r.territory)!,
    service: criterionKey(r.criterion),
    radiusKm: r.radiusKm,
    k: r.k,
    population: r.population,
    coveredBefore: r.coveredBefore,
    coveredAfter: r.coveredAfter,
    optimumUpperBound: r.optimumUpperBound,
    guaranteedRatio: r.guaranteedRatio,
    picks: r.picks.map((p) => ({
      ...p,
      nearestExisting: p.nearestExisting ? { uid: p.nearestExisting.uid, km: Number(p.nearestExisting.km.toFixed(3)), name: r.places[p.nearestExisting.uid]?.name ?? null } : null,
      newlyCovered: p.newlyCovered.map((c) => ({ ...c, km: Number(c.km.toFixed(3)) })),
    })),
  };
}

export function whatIfJson(r: WhatIfOutput) {
  return {
    territory: ref(r.territory),
    closed: r.closed,
    opened: r.opened,
    unknownUids: r.unknownUids,
    before: summaryJson(r.before),
    after: summaryJson(r.after),
    changed: r.changed.map((c) => ({ ...c, beforeKm: c.beforeKm === null ? null : Number(c.beforeKm.toFixed(3)), afterKm: c.afterKm === null ? null : Number(c.afterKm.toFixed(3)) })),
  };
}

export function registerCoverageRoutes(app: App, ctx: AppContext) {
  const db = ctx.db;

  const communesRoute = {
    schema: {
      tags,
      summary: 'Mesures par commune : distance au lieu le plus proche (tout lieu, par service, ouvert le samedi), lieux à 5/10/20 km',
      description:
        'Une ligne par commune actuelle du territoire, y compris celles sans centre connu (hasCentre = false : mesures de distance nulles). CSV avec `?format=csv` ou `/api/v1/coverage/communes.csv`.',
      querystring: z.object({ territory: territoryParam, format: formatSchema }),
      response: {
        200: z.object({
          territory: territoryRef,
          summary: summarySchema,
          communes: z.array(communeSchema),
          communesWithoutCentre: z.array(z.object({ code: z.string(), name: z.string(), population: z.number().int() })),
        }),
        404: errorSchema,
        400: errorSchema,
      },
    },
  };
  const communesHandler = (csv: boolean) => async (req: { query: { territory?: string; format?: 'json' | 'csv' } }, reply: FastifyReply) => {
    const s = await scope(db, req.query.territory);
    if (csv || req.query.format === 'csv') return sendCsv(reply, `couverture-communes-${slug(s.territory)}`, communesTable(s.measures));
    return {
      territory: ref(s.territory),
      summary: summaryJson(scopeSummary(s)),
      communes: s.measures.map(communeJson),
      communesWithoutCentre: s.measures.filter((m) => m.lat === null || m.lon === null).map((m) => ({ code: m.code, name: m.name, population: m.population })),
    };
  };
  app.get('/api/v1/coverage/communes', communesRoute, communesHandler(false));
  app.get('/api/v1/coverage/communes.csv', { schema: { ...communesRoute.schema, hide: true } }, communesHandler(true));

  const summaryRoute = {
    schema: {
      tags,
      summary: 'Indicateurs agrégés : France, régions, départements ou EPCI',
      description:
        'Avec `territory` seul : les indicateurs de ce territoire. Avec `level` : une ligne par région, département ou EPCI (de `territory` s’il est donné). Parts de la population des communes avec centre à 5/10/20 km d’un lieu (tout lieu, ouvert le samedi, par service), distance moyenne pondérée par la population, lieux pour 10 000 habitants, communes sans centre comptées à part.',
      querystring: z.object({ level: z.enum(['france', 'region', 'departement', 'epci']).optional(), territory: territoryParam, format: formatSchema }),
      response: { 200: z.object({ territory: territoryRef, areas: z.array(summarySchema) }), 404: errorSchema, 400: errorSchema },
    },
  };
  const summaryHandler = (csv: boolean) => async (req: { query: { level?: 'france' | 'region' | 'departement' | 'epci'; territory?: string; format?: 'json' | 'csv' } }, reply: FastifyReply) => {
    const { level, territory } = req.query;
    let r;
    if (!level && territory) {
      const s = await scope(db, territory);
      r = { territory: s.territory, areas: [scopeSummary(s)] };
    } else r = await summaries(db, level ?? 'departement', territory);
    if (csv || req.query.format === 'csv') return sendCsv(reply, `couverture-${level ?? 'territoire'}-${slug(r.territory)}`, summariesTable(r.areas));
    return { territory: ref(r.territory), areas: r.areas.map(summaryJson) };
  };
  app.get('/api/v1/coverage/summary', summaryRoute, summaryHandler(false));
  app.get('/api/v1/coverage/summary.csv', { schema: { ...summaryRoute.schema, hide: true } }, summaryHandler(true));

  const whiteRoute = {
    schema: {
      tags,
      summary: 'Zones blanches : communes et groupes de communes voisines au-delà d’une distance',
      description:
        'Communes (avec centre) dont le lieu le plus proche est à plus de `km` km (ou qui n’en ont aucun), et leurs groupes : deux communes blanches sont voisines quand leurs centres sont à `link_km` km ou moins ; un groupe est une chaîne de voisines. Classés par population. CSV : `table=groups` (par défaut) ou `table=communes`.',
      querystring: z.object({
        territory: territoryParam,
        km: z.coerce.number().min(0).max(500).optional().describe('Distance au-delà de laquelle une commune est blanche (10 km par défaut)'),
        link_km: z.coerce.number().min(0).max(100).optional().describe('Distance maximale entre centres de deux communes voisines (8 km par défaut)'),
        service: serviceParam,
        table: z.enum(['groups', 'communes']).optional(),
        format: formatSchema,
        limit: z.coerce.number().int().min(1).max(50000).optional().describe('Nombre maximal de lignes de chaque liste en JSON (500 par défaut)'),
      }),
      response: {
        200: z.object({
          territory: territoryRef,
          service: z.string(),
          thresholdKm: z.number(),
          linkKm: z.number(),
          totals: z.object({ communes: z.number().int(), groups: z.number().int(), population: z.number().int() }),
          groups: z.array(
            z.object({
              rank: z.number().int(),
              communeCount: z.number().int(),
              population: z.number().int(),
              meanKm: z.number().nullable(),
              maxKm: z.number().nullable(),
              main: z.object({ code: z.string(), name: z.string() }),
              departements: z.array(z.string()),
              communes: z.array(z.string()),
              lat: z.number(),
              lon: z.number(),
            }),
          ),
          communes: z.array(
            z.object({
              code: z.string(),
              name: z.string(),
              departement: z.string(),
              epci: z.string().nullable(),
              population: z.number().int(),
              lat: z.number(),
              lon: z.number(),
              km: z.number().nullable(),
              group: z.number().int(),
            }),
          ),
        }),
        404: errorSchema,
        400: errorSchema,
      },
    },
  };
  type WhiteQuery = { territory?: string; km?: number; link_km?: number; service?: string; table?: 'groups' | 'communes'; format?: 'json' | 'csv'; limit?: number };
  const whiteHandler = (csv: boolean) => async (req: { query: WhiteQuery }, reply: FastifyReply) => {
    const q = req.query;
    const c = criterionOf(q.service);
    const r = await whiteZonesFor(db, { territory: q.territory, thresholdKm: q.km ?? 10, linkKm: q.link_km ?? 8, criterion: c });
    if (csv || q.format === 'csv') {
      const t = q.table === 'communes' ? whiteCommunesTable(r.zones.communes) : whiteGroupsTable(r.zones.groups);
      return sendCsv(reply, `zones-blanches-${q.table ?? 'groups'}-${slug(r.territory)}`, t);
    }
    const limit = q.limit ?? 500;
    const r3 = (x: number | null) => (x === null ? null : Number(x.toFixed(3)));
    return {
      territory: ref(r.territory),
      service: criterionKey(c),
      thresholdKm: r.zones.thresholdKm,
      linkKm: r.zones.linkKm,
      totals: { communes: r.zones.communes.length, groups: r.zones.groups.length, population: r.zones.communes.reduce((s, x) => s + x.population, 0) },
      groups: r.zones.groups.slice(0, limit).map((g) => ({ ...g, meanKm: r3(g.meanKm), maxKm: r3(g.maxKm) })),
      communes: r.zones.communes.slice(0, limit).map((x) => ({ ...x, km: r3(x.km) })),
    };
  };
  app.get('/api/v1/coverage/white-zones', whiteRoute, whiteHandler(false));
  app.get('/api/v1/coverage/white-zones.csv', { schema: { ...whiteRoute.schema, hide: true } }, whiteHandler(true));

  const pickSchema = z.object({
    rank: z.number().int(),
    code: z.string(),
    name: z.string(),
    lat: z.number(),
    lon: z.number(),
    population: z.number().int(),
    newlyCoveredPopulation: z.number().int().describe('Population des communes que ce choix couvre et qu’aucun lieu ne couvrait'),
    newlyCovered: z.array(z.object({ code: z.string(), name: z.string(), population: z.number().int(), km: z.number() })),
    coveredAfter: z.number().int(),
    nearestExisting: z.object({ uid: z.string(), km: z.number(), name: z.string().nullable() }).nullable(),
  });
  app.post(
    '/api/v1/coverage/plan',
    {
      config: { rateLimit: { max: 30, timeWindow: '1 minute' } },
      schema: {
        tags,
        summary: 'Où ouvrir les prochains lieux : couverture maximale gloutonne',
        description:
          'Choisit `k` communes du territoire (un nouveau lieu au centre de la commune) qui ajoutent le plus de population à `radiusKm` km ou moins d’un lieu (du service choisi), une à une. La couverture est sous-modulaire : le choix glouton ajoute au moins 1 − 1/e ≈ 63 % de ce qu’ajouteraient les k meilleures communes ; `optimumUpperBound` borne ce meilleur résultat pour ce calcul. `?format=csv` renvoie les choix en CSV.',
        querystring: z.object({ format: formatSchema }),
        body: z.object({
          territory: z.string().min(1).max(40).describe('EPCI, département ou région : 27, region:28, epci:200000172'),
          radiusKm: z.number().min(0.5).max(100).default(10),
          k: z.number().int().min(1).max(100).default(10),
          service: serviceParam,
        }),
        response: {
          200: z.object({
            territory: z.object({ level: z.string(), code: z.string(), name: z.string() }),
            service: z.string(),
            radiusKm: z.number(),
            k: z.number().int(),
            population: z.number().int(),
            coveredBefore: z.number().int(),
            coveredAfter: z.number().int(),
            optimumUpperBound: z.number(),
            guaranteedRatio: z.number().nullable(),
            picks: z.array(pickSchema),
          }),
          400: errorSchema,
          404: errorSchema,
        },
      },
    },
    async (req, reply) => {
      const r = await plan(db, { territory: req.body.territory, radiusKm: req.body.radiusKm, k: req.body.k, criterion: criterionOf(req.body.service) });
      if (req.query.format === 'csv') return sendCsv(reply, `plan-${r.territory.code}`, planTable(r.picks, (uid) => r.places[uid]?.name ?? null));
      return planJson(r);
    },
  );

  app.post(
    '/api/v1/coverage/what-if',
    {
      config: { rateLimit: { max: 30, timeWindow: '1 minute' } },
      schema: {
        tags,
        summary: 'Et si… : la couverture si des lieux fermaient ou ouvraient',
        description:
          'Indicateurs du territoire (France si vide) avant et après : fermeture des lieux `close` (uid), ouverture de lieux aux points `open` (tous les services et ouverts le samedi, sauf indication). Liste les communes dont la distance au lieu le plus proche change. `?format=csv` renvoie cette liste en CSV.',
        querystring: z.object({ format: formatSchema }),
        body: z.object({
          territory: territoryParam,
          close: z.array(z.string().max(64)).max(10000).default([]),
          open: z
            .array(
              z.object({
                lat: z.number().min(-90).max(90),
                lon: z.number().min(-180).max(180),
                services: z.array(z.string().max(100)).max(20).optional().describe('Clés ou libellés des services (tous par défaut)'),
                openSaturday: z.boolean().optional(),
              }),
            )
            .max(1000)
            .default([]),
          service: serviceParam,
        }),
        response: {
          200: z.object({
            territory: territoryRef,
            closed: z.number().int(),
            opened: z.number().int(),
            unknownUids: z.array(z.string()),
            before: summarySchema,
            after: summarySchema,
            changed: z.array(z.object({ code: z.string(), name: z.string(), population: z.number().int(), beforeKm: z.number().nullable(), afterKm: z.number().nullable() })),
          }),
          400: errorSchema,
          404: errorSchema,
        },
      },
    },
    async (req, reply) => {
      const open = req.body.open.map((o, i) => {
        const services = o.services?.map((s) => {
          const c = parseCriterion(s);
          if (!c || c.kind !== 'service') throw new UserError(`Service inconnu : « ${s} ».`, 400, `open.${i}.services`);
          return SERVICES[c.index]!.label;
        });
        return { lat: o.lat, lon: o.lon, services, openSaturday: o.openSaturday };
      });
      const r = await whatIf(db, { territory: req.body.territory, close: req.body.close, open, criterion: criterionOf(req.body.service) });
      if (req.query.format === 'csv') return sendCsv(reply, `et-si-${slug(r.territory)}`, whatIfTable(r.changed));
      return whatIfJson(r);
    },
  );

  app.get(
    '/api/v1/coverage/status',
    {
      schema: {
        tags,
        summary: 'État du calcul : date, durée, nombre de lieux et de communes recalculées',
        response: {
          200: z.object({
            computed: z.boolean(),
            version: z.number().int(),
            lastKind: z.string().nullable(),
            lastRunAt: z.string().nullable(),
            lastDurationMs: z.number().nullable(),
            lastUpdatedCommunes: z.number().nullable(),
            places: z.number().nullable(),
            unattributedPlaces: z.number().int(),
            services: z.array(z.object({ key: z.string(), label: z.string() })),
          }),
        },
      },
    },
    async () => {
      const s = await readState(db);
      return {
        computed: s !== null,
        version: s?.version ?? 0,
        lastKind: s?.lastKind ?? null,
        lastRunAt: s?.lastRunAt ?? null,
        lastDurationMs: s?.lastDurationMs ?? null,
        lastUpdatedCommunes: s?.lastUpdatedCommunes ?? null,
        places: s?.places ?? null,
        unattributedPlaces: s?.unattributedPlaces ?? 0,
        services: SERVICES.map((x) => ({ key: x.key, label: x.label })),
      };
    },
  );

  // A national recompute is an operator's action: staff with the territory dashboard for the whole
  // platform (admin, national staff), signed in, with the CSRF token (header x-csrf-token).
  const operator = requirePermission('territory.dashboard');
  app.post(
    '/api/v1/coverage/recompute',
    {
      config: { rateLimit: { max: 3, timeWindow: '1 minute' } },
      preValidation: app.csrfProtection,
      preHandler: operator,
      schema: {
        tags,
        summary: 'Lancer un recalcul complet en tâche de fond',
        description:
          'Réservé au personnel ayant le tableau de bord des territoires sur toute la plateforme (session et jeton CSRF dans l’en-tête x-csrf-token). Renvoie l’identifiant de la tâche (la même si un recalcul attend déjà) ; suivre avec GET /api/v1/coverage/jobs/{id}.',
        response: { 202: z.object({ jobId: z.string() }), 401: errorSchema, 403: errorSchema, 503: errorSchema },
      },
    },
    async (_req, reply) => {
      const jobId = await queueRecompute(ctx, 'api');
      return reply.code(202).send({ jobId });
    },
  );

  app.get(
    '/api/v1/coverage/jobs/:id',
    {
      preHandler: operator,
      schema: {
        tags,
        summary: 'État d’un recalcul en tâche de fond',
        params: z.object({ id: z.string().max(64) }),
        response: {
          200: z.object({
            id: z.string(),
            state: z.string(),
            progress: z.record(z.string(), z.unknown()).nullable(),
            output: z.unknown(),
            error: z.string().nullable(),
            createdAt: z.string(),
            startedAt: z.string().nullable(),
            completedAt: z.string().nullable(),
          }),
          401: errorSchema,
          403: errorSchema,
          404: errorSchema,
        },
      },
    },
    async (req) => {
      const job = await recomputeJob(ctx, req.params.id);
      if (!job) throw new UserError('Tâche inconnue.', 404, 'id', 'not_found');
      return { id: job.id, state: job.state, progress: job.progress, output: job.output, error: job.error, createdAt: job.createdAt, startedAt: job.startedAt, completedAt: job.completedAt };
    },
  );
}

/**
 * JSON API under /api/v1/mediation (zod schemas: validated and listed in the OpenAPI document).
 * Open: public statistics of a territory, open-data aggregates (CSV/JSON), the training catalogue.
 * Authorised clients (Authorization: Bearer <token>, created with `maillage mediation api-client`):
 * scope activities:write records activities for the mediator the client belongs to, activities:read
 * lists them.
 */
import crypto from 'node:crypto';
import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import type { Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { UserError } from '../../platform/http/errors.ts';
import { resolveTerritory } from '../territories/index.ts';
import { SMALL_COUNT, ValidationFailed, publicCount } from './model.ts';
import * as service from './service.ts';
import { listActivities } from './store.ts';
import { parsePeriod, statistics, type StatsScope } from './stats.ts';
import { catalogue } from './training.ts';

const tags = ['mediation'];
export const API_SCOPES = ['activities:read', 'activities:write'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

/** Creates an API client bound to a mediator; returns the token (shown once, stored hashed). */
export async function createApiClient(db: Queryable, actorId: string | null, name: string, mediatorId: string, scopes: string[]): Promise<{ id: string; token: string }> {
  const bad = scopes.filter((s) => !(API_SCOPES as readonly string[]).includes(s));
  if (bad.length || !scopes.length) throw new UserError(`Portées possibles : ${API_SCOPES.join(', ')}.`, 400, 'scope');
  const id = crypto.randomUUID();
  const token = `med_${crypto.randomBytes(32).toString('base64url')}`;
  await db.query('INSERT INTO mediation.api_client (id, name, token_hash, scopes, mediator_id) VALUES ($1, $2, $3, $4, $5)', [id, name, sha256(token), scopes, mediatorId]);
  await recordAudit(db, { actorId, action: 'mediation.api_client.create', objectType: 'mediation.api_client', objectId: id, after: { name, scopes, mediatorId } });
  return { id, token };
}

async function clientOf(db: Queryable, req: FastifyRequest, scope: ApiScope): Promise<{ id: string; mediatorId: string }> {
  const auth = req.headers.authorization ?? '';
  const m = /^Bearer (med_[\w-]{20,80})$/.exec(auth);
  if (!m) throw new UserError('Jeton d’accès manquant (en-tête Authorization: Bearer …).', 401, 'authorization', 'unauthenticated');
  const { rows } = await db.query<{ id: string; scopes: string[]; mediator_id: string | null }>('SELECT id, scopes, mediator_id FROM mediation.api_client WHERE token_hash = $1 AND revoked_at IS NULL', [sha256(m[1]!)]);
  const c = rows[0];
  if (!c || !c.mediator_id) throw new UserError('Jeton d’accès inconnu ou révoqué.', 401, 'authorization', 'unauthenticated');
  if (!c.scopes.includes(scope)) throw new UserError(`Ce jeton n’a pas la portée ${scope}.`, 403, 'authorization', 'forbidden');
  return { id: c.id, mediatorId: c.mediator_id };
}

const territoryQuery = z.string().max(30).describe('region:28, departement:76 or commune:76540');

/** Open-data rows: one per territory (région, département) × month × figure, small counts hidden. */
export async function openDataRows(db: Queryable, year?: string) {
  const { rows } = await db.query<{ scope: string; scope_id: string; month: string; metric: string; key: string; value: number }>(
    `SELECT scope, scope_id, to_char(month, 'YYYY-MM') AS month, metric, key, value FROM mediation.stat_counter
      WHERE scope IN ('region', 'departement') AND metric IN ('activities', 'accompaniments', 'theme', 'admin_theme', 'place_kind', 'gender', 'age', 'status', 'training_completed', 'training_registrations')
      ${year ? `AND month >= $1::date AND month < ($1::date + interval '1 year')` : ''}
      ORDER BY scope, scope_id, month, metric, key`,
    year ? [`${year}-01-01`] : [],
  );
  return rows.map((r) => ({ territory_level: r.scope, territory_code: r.scope_id, month: r.month, figure: r.metric, key: r.key, value: publicCount(Number(r.value)) }));
}

const OpenDataRow = z.object({
  territory_level: z.string().describe('region or departement'),
  territory_code: z.string().describe('COG code'),
  month: z.string().describe('YYYY-MM'),
  figure: z.string().describe('activities, accompaniments, theme, admin_theme, place_kind, gender, age, status, training_completed, training_registrations'),
  key: z.string().describe('kind of activity, theme id, band…'),
  value: z.number().int().nullable().describe(`null when below ${SMALL_COUNT} (hidden)`),
});

const ActivityOut = z.object({
  id: z.string(),
  kind: z.enum(['individual', 'collective']),
  date: z.string(),
  durationMin: z.number().int(),
  placeKind: z.string(),
  communeCode: z.string().nullable(),
  themes: z.array(z.string()),
  adminThemes: z.array(z.string()),
  participants: z.number().int(),
});

const ActivityIn = z
  .object({
    kind: z.enum(['individual', 'collective']),
    date: z.string().max(10),
    duration: z.number().int().describe('minutes'),
    placeKind: z.enum(['place', 'home', 'remote', 'other_commune']),
    placeUid: z.string().max(60).optional(),
    communeCode: z.string().max(5).optional(),
    themes: z.array(z.string().max(60)).max(19),
    adminThemes: z.array(z.string().max(60)).max(11).optional(),
    equipment: z.string().max(30).optional(),
    autonomy: z.string().max(30).optional(),
    orientation: z.string().max(30).optional(),
    notes: z.string().max(2000).optional(),
    workshopTitle: z.string().max(200).optional(),
    workshopLevel: z.string().max(30).optional(),
    participants: z.number().int().min(1).max(500).optional(),
    anonymous: z
      .object({ gender: z.record(z.string(), z.number().int().min(0)).optional(), age: z.record(z.string(), z.number().int().min(0)).optional(), status: z.record(z.string(), z.number().int().min(0)).optional() })
      .optional(),
    idempotencyKey: z.string().min(8).max(100).describe('the same key sent again records nothing (answer 200 with the first id)'),
  })
  .strict();

const ErrorSchema = z.object({ error: z.string(), message: z.string(), field: z.string().nullable().optional() });

export function registerRoutes(app: App, ctx: AppContext) {
  app.get(
    '/api/v1/mediation/statistics',
    {
      schema: {
        tags,
        summary: `Public statistics of a territory over a period (counts below ${SMALL_COUNT} are null)`,
        querystring: z.object({ territory: territoryQuery, year: z.string().max(4).optional(), from: z.string().max(7).optional(), to: z.string().max(7).optional() }),
      },
    },
    async (req) => {
      const q = req.query;
      const m = /^(region|departement|commune):([0-9AB]{2,5})$/.exec(q.territory);
      const t = m ? await resolveTerritory(ctx.db, q.territory) : null;
      if (!t) throw new UserError('Territoire inconnu : region:CODE, departement:CODE ou commune:CODE.', 400, 'territory');
      const period = parsePeriod({ annee: q.year, du: q.from, au: q.to });
      return { territory: { level: t.level, code: t.code, name: t.name }, ...(await statistics(ctx.db, t.level as StatsScope, [t.code], period, { public: true })) };
    },
  );

  app.get(
    '/api/v1/mediation/open-data.json',
    { schema: { tags, summary: 'Open data: aggregates per région and département and month (schema in the mediation README)', querystring: z.object({ year: z.string().regex(/^\d{4}$/).optional() }), response: { 200: z.object({ schema: z.string(), rows: z.array(OpenDataRow) }) } } },
    async (req, reply) => {
      reply.header('cache-control', 'public, max-age=600');
      return { schema: 'https://github.com/maillage (src/modules/mediation/README.md#open-data)', rows: await openDataRows(ctx.db, req.query.year) };
    },
  );
  app.get(
    '/api/v1/mediation/open-data.csv',
    { schema: { tags, summary: 'Open data as CSV (same rows as the JSON; empty value = hidden)', querystring: z.object({ year: z.string().regex(/^\d{4}$/).optional() }) } },
    async (req, reply) => {
      const rows = await openDataRows(ctx.db, req.query.year);
      const csv = ['territory_level,territory_code,month,figure,key,value', ...rows.map((r) => [r.territory_level, r.territory_code, r.month, r.figure, r.key, r.value ?? ''].join(','))].join('\n') + '\n';
      return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="mediation-numerique.csv"').header('cache-control', 'public, max-age=600').send(csv);
    },
  );

  app.get('/api/v1/mediation/training/paths', { schema: { tags, summary: 'Training catalogue: paths, modules (CRCN competences, target levels), sessions with seats left' } }, async () => ({ items: await catalogue(ctx.db) }));

  app.post(
    '/api/v1/mediation/activities',
    { schema: { tags, summary: 'Record an activity (scope activities:write; Bearer token)', body: ActivityIn, response: { 200: z.object({ id: z.string(), created: z.boolean() }), 201: z.object({ id: z.string(), created: z.boolean() }), 422: ErrorSchema.extend({ errors: z.array(z.object({ field: z.string(), message: z.string() })) }) } } },
    async (req, reply) => {
      const client = await clientOf(ctx.db, req, 'activities:write');
      const b = req.body;
      const raw: Record<string, unknown> = { ...b, duration: String(b.duration), participants: b.participants ? String(b.participants) : undefined };
      for (const [dim, prefix] of [['gender', 'anon_gender_'], ['age', 'anon_age_'], ['status', 'anon_status_']] as const) {
        for (const [k, v] of Object.entries(b.anonymous?.[dim] ?? {})) raw[prefix + k] = String(v);
      }
      delete raw.anonymous;
      try {
        const r = await service.recordActivity(ctx, { id: client.mediatorId }, raw, { source: `api:${client.id}` });
        return reply.status(r.created ? 201 : 200).send(r);
      } catch (e) {
        if (e instanceof ValidationFailed) return reply.status(422).send({ error: 'invalid_request', message: e.errors[0]!.message, field: e.errors[0]!.field, errors: e.errors });
        throw e;
      }
    },
  );

  app.get(
    '/api/v1/mediation/activities',
    {
      schema: {
        tags,
        summary: 'The client mediator’s activities, newest first (scope activities:read); cursor pagination',
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50), cursor: z.string().max(100).optional() }),
        response: { 200: z.object({ items: z.array(ActivityOut), nextCursor: z.string().nullable() }) },
      },
    },
    async (req) => {
      const client = await clientOf(ctx.db, req, 'activities:read');
      let before: { date: string; id: string } | null = null;
      if (req.query.cursor) {
        const m = /^(\d{4}-\d{2}-\d{2})_([0-9a-f-]{36})$/.exec(req.query.cursor);
        if (!m) throw new UserError('Curseur invalide.', 400, 'cursor');
        before = { date: m[1]!, id: m[2]! };
      }
      const rows = await listActivities(ctx.db, [client.mediatorId], req.query.limit + 1, before);
      const items = rows.slice(0, req.query.limit);
      const last = items[items.length - 1];
      return {
        items: items.map((a) => ({ id: a.id, kind: a.kind, date: a.date, durationMin: a.durationMin, placeKind: a.placeKind, communeCode: a.communeCode, themes: a.themes, adminThemes: a.adminThemes, participants: a.participants })),
        nextCursor: rows.length > req.query.limit && last ? `${last.date}_${last.id}` : null,
      };
    },
  );
}

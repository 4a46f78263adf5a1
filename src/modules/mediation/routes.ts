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
import { listRegions } from '../territories/index.ts';
import { CRCN_COMPETENCES, CRCN_DOMAINS, CRCN_LEVEL_LABELS, CRCN_TO_DIGCOMP, DIGCOMP_AREAS, DIGCOMP_COMPETENCES, DIGCOMP_LEVEL_LABELS, SMALL_COUNT, ValidationFailed } from './model.ts';
import { publicCube, publicRegionOf } from './disclosure.ts';
import * as service from './service.ts';
import { listActivities } from './store.ts';
import { parsePublicYear, publicStatistics } from './stats.ts';
import { catalogue } from './training.ts';
import { XLSX_TYPE, openDataWorkbook } from './xlsx.ts';

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

/**
 * Open-data rows: one per territory (région, département) × month × figure × key with something in
 * it, read from the protected cubes (disclosure.ts): small counts and the counts that would give
 * them away by subtraction are null.
 */
export async function openDataRows(db: Queryable, year?: string) {
  const { rows } = await db.query<{ region: string; year: string }>(
    `SELECT DISTINCT scope_id AS region, to_char(month, 'YYYY') AS year FROM mediation.stat_counter
      WHERE scope = 'region' AND value <> 0 ${year ? `AND month >= $1::date AND month < ($1::date + interval '1 year')` : ''}
      ORDER BY 1, 2`,
    year ? [`${year}-01-01`] : [],
  );
  const order = new Map((await listRegions(db)).map((r, i) => [r.code, i]));
  rows.sort((a, b) => (order.get(a.region) ?? 999) - (order.get(b.region) ?? 999) || a.year.localeCompare(b.year));
  const out: { territory_level: string; territory_code: string; month: string; figure: string; key: string; value: number | null }[] = [];
  for (const r of rows) {
    const cube = await publicCube(db, r.region, r.year);
    for (const c of cube.cells()) {
      if (c.period.length !== 7 || c.key === '*') continue;
      const [level, code] = c.territory.split(':') as [string, string];
      out.push({ territory_level: level, territory_code: code, month: c.period, figure: c.figure, key: c.key, value: c.value });
    }
  }
  const rank = (l: string) => (l === 'region' ? 0 : 1);
  return out.sort((a, b) => rank(a.territory_level) - rank(b.territory_level) || a.territory_code.localeCompare(b.territory_code) || a.month.localeCompare(b.month) || a.figure.localeCompare(b.figure) || a.key.localeCompare(b.key));
}

const OpenDataRow = z.object({
  territory_level: z.string().describe('region or departement'),
  territory_code: z.string().describe('COG code'),
  month: z.string().describe('YYYY-MM'),
  figure: z.string().describe('activities, accompaniments, followed, theme, admin_theme, place_kind, duration, gender, age, status, autonomy, orientation, equipment, training_registrations, training_completed, competence (CRCN), digcomp (DigComp 2.2)'),
  key: z.string().describe('kind of activity, theme id, band…; for competence and digcomp "<competence code>:<level 1–8>" (GET /api/v1/mediation/competences)'),
  value: z.number().int().nullable().describe(`null when hidden: below ${SMALL_COUNT}, or hidden so that a small count cannot be recovered by subtraction`),
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
        summary: `Public statistics of a région or département for a calendar year (counts below ${SMALL_COUNT}, and counts that would reveal them by subtraction, are null)`,
        querystring: z.object({ territory: territoryQuery, year: z.string().max(4).optional(), from: z.string().max(7).optional().describe('refused: public figures are per calendar year'), to: z.string().max(7).optional().describe('refused') }),
      },
    },
    async (req) => {
      const q = req.query;
      const m = /^(region|departement):([0-9AB]{2,3})$/.exec(q.territory);
      const t = m ? await publicRegionOf(ctx.db, m[1]!, m[2]!) : null;
      if (!t) throw new UserError('Territoire inconnu : region:CODE ou departement:CODE (les chiffres publics ne descendent pas aux communes).', 400, 'territory');
      if (q.from !== undefined || q.to !== undefined) throw new UserError('Les chiffres publics sont publiés par année civile : indiquez year (par exemple 2025).', 400, q.from !== undefined ? 'from' : 'to');
      if (q.year !== undefined && !/^(19|20)\d{2}$/.test(q.year)) throw new UserError('L’année a quatre chiffres (par exemple 2025).', 400, 'year');
      const year = q.year ?? parsePublicYear({});
      return { territory: { level: t.level, code: t.code, name: t.name }, ...(await publicStatistics(ctx.db, t.region, t.level, t.code, year)) };
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

  app.get(
    '/api/v1/mediation/open-data.xlsx',
    { schema: { tags, summary: 'Open data as an XLSX workbook (same rows and columns as the CSV; empty value = hidden)', querystring: z.object({ year: z.string().regex(/^\d{4}$/).optional() }) } },
    async (req, reply) => {
      const book = await openDataWorkbook(await openDataRows(ctx.db, req.query.year));
      return reply.type(XLSX_TYPE).header('content-disposition', 'attachment; filename="mediation-numerique.xlsx"').header('cache-control', 'public, max-age=600').send(book);
    },
  );

  app.get('/api/v1/mediation/training/paths', { schema: { tags, summary: 'Training catalogue: paths, modules (CRCN and DigComp 2.2 competences, target levels), sessions with seats left' } }, async () => ({ items: await catalogue(ctx.db) }));

  app.get(
    '/api/v1/mediation/competences',
    { schema: { tags, summary: 'The competence frameworks used by the catalogue and the figures: CRCN (16 competences, 5 domains), DigComp 2.2 (21 competences, 5 areas), and the CRCN → DigComp correspondence (ours, not official)' } },
    async (_req, reply) =>
      reply.header('cache-control', 'public, max-age=86400').send({
        crcn: { domains: CRCN_DOMAINS, competences: CRCN_COMPETENCES, levels: CRCN_LEVEL_LABELS },
        digcomp: { version: '2.2', areas: DIGCOMP_AREAS, competences: DIGCOMP_COMPETENCES, levels: DIGCOMP_LEVEL_LABELS },
        crcnToDigcomp: { official: false, mapping: CRCN_TO_DIGCOMP },
      }),
  );

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

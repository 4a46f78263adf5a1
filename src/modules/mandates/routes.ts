/**
 * JSON API under /api/v1/mandates (zod schemas, in the OpenAPI document).
 * Open: verification of a mandate by reference (status only, nothing personal), statistics.
 * Partner tools acting for a helper (Authorization: Bearer <token>, `maillage mandates api-token`):
 * the helper's structures' mandates in force, the check "may I act on this procedure now?",
 * recording an act, revoking. Each call re-checks the helper's membership and training.
 */
import crypto from 'node:crypto';
import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import type { Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { UserError } from '../../platform/http/errors.ts';
import { can, getGrants, getUser } from '../accounts/index.ts';
import { SMALL_COUNT } from '../mediation/index.ts';
import { REFERENCE, sha256 } from './model.ts';
import * as service from './service.ts';

const tags = ['mandates'];

/** Creates an API token for a helper's partner tool; returns it once (stored hashed). */
export async function createApiToken(db: Queryable, actorId: string | null, name: string, userId: string): Promise<{ id: string; token: string }> {
  const n = name.trim();
  if (!n || n.length > 200) throw new UserError('Nom du client : 1 à 200 caractères.', 400, 'name');
  const id = crypto.randomUUID();
  const token = `mdt_${crypto.randomBytes(32).toString('base64url')}`;
  await db.query('INSERT INTO mandates.api_token (id, name, user_id, token_hash) VALUES ($1, $2, $3, $4)', [id, n, userId, sha256(token)]);
  await recordAudit(db, { actorId, action: 'mandates.api_token.create', objectType: 'mandates.api_token', objectId: id, after: { name: n, userId } });
  return { id, token };
}

async function helperOf(db: Queryable, req: FastifyRequest): Promise<string> {
  const m = /^Bearer (mdt_[\w-]{20,80})$/.exec(req.headers.authorization ?? '');
  if (!m) throw new UserError('Jeton d’accès manquant (en-tête Authorization: Bearer …).', 401, 'authorization', 'unauthenticated');
  const { rows } = await db.query<{ user_id: string }>('SELECT user_id FROM mandates.api_token WHERE token_hash = $1 AND revoked_at IS NULL', [sha256(m[1]!)]);
  if (!rows[0]) throw new UserError('Jeton d’accès inconnu ou révoqué.', 401, 'authorization', 'unauthenticated');
  // The account must still be active and still hold the helper role (a token outlives neither).
  const userId = rows[0].user_id;
  const user = await getUser(db, userId);
  if (!user || user.status !== 'active' || !can({ id: userId, grants: await getGrants(db, userId) }, 'mandates.act')) {
    throw new UserError('Le compte de ce jeton n’est plus un compte d’aidant actif.', 403, 'authorization', 'forbidden');
  }
  return userId;
}

const MandateId = z.object({ id: z.string().uuid().describe('mandate id') });
const ProcedureName = z.string().max(60).describe('procedure (démarche) id, e.g. argent-impots');
const MandateOut = z.object({
  id: z.string(),
  reference: z.string(),
  person: z.object({ givenName: z.string(), familyName: z.string(), birthDate: z.string() }).nullable(),
  procedures: z.array(z.string()).describe('procedures in force'),
  expiresAt: z.string(),
});

export function registerRoutes(app: App, ctx: AppContext) {
  app.get(
    '/api/v1/mandates/verify',
    {
      config: { rateLimit: { max: 60, timeWindow: '1 minute' } },
      schema: {
        tags,
        summary: 'Status of a mandate by its reference (valid, expired, revoked) and whether an attestation hash is authentic; nothing personal',
        querystring: z.object({ reference: z.string().max(20), hash: z.string().regex(/^[0-9a-f]{64}$/).optional() }),
        response: { 200: z.object({ reference: z.string(), status: z.enum(['active', 'expired', 'revoked']), expiresAt: z.string().nullable(), authentic: z.boolean().nullable() }) },
      },
    },
    async (req) => {
      const ref = req.query.reference.trim().toUpperCase();
      if (!REFERENCE.test(ref)) throw new UserError('Référence invalide (M-XXXX-XXXX).', 400, 'reference');
      const m = await service.getMandateByReference(ctx.db, ref);
      if (!m) throw new UserError('Aucun mandat ne porte cette référence.', 404, 'reference', 'not_found');
      return { reference: m.reference, status: m.status, expiresAt: m.status === 'active' ? m.expiresAt : null, authentic: req.query.hash ? req.query.hash === m.attestationHash : null };
    },
  );

  app.get(
    '/api/v1/mandates/statistics',
    {
      schema: {
        tags,
        summary: 'Mandates and helpers: totals, by procedure and by duration (optionally for a région or département); no identity',
        querystring: z.object({ region: z.string().regex(/^\d{2}$/).optional(), departement: z.string().regex(/^(\d{2}|2A|2B|97\d)$/).optional() }),
      },
    },
    async (req) => {
      const q = req.query;
      return service.statistics(ctx.db, q.region ? { regions: [q.region] } : q.departement ? { departements: [q.departement] } : {});
    },
  );

  app.get(
    '/api/v1/mandates/open-data.csv',
    { schema: { tags, summary: `Open data: per département, authorisations given and in force per procedure, mandates per duration (below ${SMALL_COUNT}: empty)` } },
    async (_req, reply) => {
      const rows = await service.openDataRows(ctx.db, SMALL_COUNT);
      const csv = ['departement,figure,key,value', ...rows.map((r) => [r.departement, r.figure, r.key, r.value ?? ''].join(','))].join('\n') + '\n';
      return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="mandats-aidants.csv"').header('cache-control', 'public, max-age=600').send(csv);
    },
  );

  app.get(
    '/api/v1/mandates',
    { schema: { tags, summary: 'Mandates in force of the helper’s structures (Bearer token of a helper)', response: { 200: z.object({ items: z.array(MandateOut) }) } } },
    async (req) => {
      const userId = await helperOf(ctx.db, req);
      const structures = (await service.helperMemberships(ctx.db, userId)).filter((h) => h.trainedOn).map((h) => h.structureId);
      const list = structures.length ? await service.listMandates(ctx.db, structures, { status: 'active', limit: 1000 }) : [];
      return { items: list.map((m) => ({ id: m.id, reference: m.reference, person: m.person, procedures: m.procedures.filter((p) => !p.revokedAt).map((p) => p.procedure), expiresAt: m.expiresAt })) };
    },
  );

  app.get(
    '/api/v1/mandates/:id/check',
    {
      schema: {
        tags,
        summary: 'May the token’s helper act for this mandate’s person on this procedure now?',
        params: MandateId,
        querystring: z.object({ procedure: ProcedureName }),
        response: { 200: z.object({ allowed: z.boolean(), code: z.string().nullable(), reason: z.string().nullable() }) },
      },
    },
    async (req) => {
      const userId = await helperOf(ctx.db, req);
      const d = await service.checkAuthorisation(ctx.db, userId, req.params.id, req.query.procedure);
      return d.allowed ? { allowed: true, code: null, reason: null } : { allowed: false, code: d.code, reason: d.reason };
    },
  );

  app.post(
    '/api/v1/mandates/:id/acts',
    {
      schema: {
        tags,
        summary: 'Record an act under the mandate (refused, nothing written, unless the check allows it at that moment)',
        params: MandateId,
        body: z.object({ procedure: ProcedureName, service: z.string().max(100).optional().describe('partner service used, no personal data') }).strict(),
        response: { 201: z.object({ recorded: z.literal(true) }) },
      },
    },
    async (req, reply) => {
      const userId = await helperOf(ctx.db, req);
      await service.recordAct(ctx, userId, req.params.id, req.body.procedure, { service: req.body.service });
      return reply.status(201).send({ recorded: true });
    },
  );

  app.post(
    '/api/v1/mandates/:id/revoke',
    {
      schema: {
        tags,
        summary: 'Revoke the whole mandate, or one procedure of it (helper of the structure)',
        params: MandateId,
        body: z.object({ procedure: ProcedureName.optional() }).strict(),
        response: { 200: z.object({ revoked: z.enum(['mandate', 'procedure']) }) },
      },
    },
    async (req) => {
      const userId = await helperOf(ctx.db, req);
      const m = await service.getMandate(ctx.db, req.params.id);
      const mine = m && (await service.helperMemberships(ctx.db, userId)).some((h) => h.structureId === m.structureId);
      if (!m || !mine) throw new UserError('Mandat inconnu.', 404, 'id', 'not_found');
      const r = await service.revokeMandate(ctx, { kind: 'helper', id: userId }, m.id, req.body.procedure ?? null);
      return { revoked: r.whole ? ('mandate' as const) : ('procedure' as const) };
    },
  );
}

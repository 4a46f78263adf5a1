/**
 * JSON API of the territories module: commune look-ups (name, postal code, point), régions,
 * départements, any territory with its parents, and what reference data is loaded. Read-only,
 * cacheable (Cache-Control + ETag, 304 on If-None-Match).
 */
import crypto from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { App } from '../../platform/http/server.ts';
import { UserError } from '../../platform/http/errors.ts';
import type { AppContext } from '../../platform/module.ts';
import { CODE_PATTERNS, LEVEL_LABELS, normaliseCode, type TerritoryLevel } from './model.ts';
import {
  communeAt,
  communesByPostalCode,
  getCommune,
  listDepartements,
  listRegions,
  resolveTerritory,
  searchCommunes,
  status,
} from './store.ts';

const messages = {
  oneOf: 'Indiquez un seul critère : q (nom), postal_code (code postal) ou lat et lon (coordonnées).',
  noCriterion: 'Indiquez q (nom ou code postal), postal_code, ou lat et lon.',
  latLonPair: 'lat et lon vont ensemble : indiquez les deux.',
  number: (name: string, v: string) => `${name} doit être un nombre décimal (reçu « ${v} »).`,
  range: (name: string, min: number, max: number) => `${name} doit être compris entre ${min} et ${max}.`,
  postalCode: (v: string) => `postal_code doit être un code postal à 5 chiffres (reçu « ${v} »).`,
  emptyQ: 'q ne doit pas être vide.',
  badCode: (label: string, v: string) => `Code de ${label} invalide : « ${v} ».`,
  unknown: (label: string, v: string) => `Aucun(e) ${label} avec le code « ${v} » dans le COG chargé.`,
  unknownCommune: (v: string) =>
    `Aucune commune avec le code INSEE « ${v} » dans le COG chargé. Ce code a peut-être changé (fusion de communes) ; cherchez la commune par son nom avec /api/v1/territories/communes?q=…`,
  noPolygons:
    'Les contours des communes ne sont pas chargés : la recherche par coordonnées est indisponible. Installez les fichiers de géométrie puis lancez « maillage territories load ».',
  notLoaded: 'Le référentiel des territoires n’est pas chargé. Lancez « maillage territories load ».',
};

const communeSchema = z.object({
  code: z.string().describe('Code INSEE (5 caractères ; Corse 2A/2B)'),
  name: z.string(),
  kind: z.enum(['commune', 'arrondissement']).describe('commune actuelle, ou arrondissement municipal de Paris, Lyon ou Marseille'),
  departement: z.string(),
  region: z.string(),
  epci: z.string().nullable().describe('SIREN de l’EPCI à fiscalité propre'),
  population: z.number().int(),
  postalCodes: z.array(z.string()),
  lat: z.number().nullable().describe('Centre de la commune (WGS84) ; null quand inconnu'),
  lon: z.number().nullable(),
  centreMethod: z.string().nullable().describe('centroide, point-interieur, moyenne-communes-deleguees, commune-parente'),
  parent: z.string().nullable().describe('Commune d’un arrondissement municipal'),
});

const levelSchema = z.enum(['region', 'departement', 'epci', 'commune']);

const territorySchema = z.object({
  level: levelSchema,
  code: z.string(),
  name: z.string(),
  population: z.number().int(),
  parents: z.array(z.object({ level: levelSchema, code: z.string(), name: z.string() })),
  communeCount: z.number().int(),
});

const errorSchema = z.object({ error: z.string(), message: z.string(), field: z.string().nullable().optional() });

/** Sends a cacheable JSON body: Cache-Control, a strong ETag of the body, 304 when it matches. */
function cached<T>(req: FastifyRequest, reply: FastifyReply, body: T, maxAge = 3600): T {
  const etag = `"${crypto.createHash('sha1').update(JSON.stringify(body)).digest('base64url').slice(0, 27)}"`;
  reply.header('Cache-Control', `public, max-age=${maxAge}`);
  reply.header('ETag', etag);
  const inm = req.headers['if-none-match'];
  if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
    reply.code(304);
  }
  return body;
}

function parseCoordinate(name: 'lat' | 'lon', value: string, limit: number): number {
  const v = value.trim();
  if (!/^[-+]?\d+(\.\d+)?$/.test(v)) throw new UserError(messages.number(name, value), 400, name);
  const n = Number(v);
  if (n < -limit || n > limit) throw new UserError(messages.range(name, -limit, limit), 400, name);
  return n;
}

export async function registerTerritoryRoutes(app: App, ctx: AppContext) {
  const db = ctx.db;
  const tags = ['territoires'];

  app.get(
    '/api/v1/territories/communes',
    {
      schema: {
        tags,
        summary: 'Chercher des communes par nom, code postal ou coordonnées',
        description:
          'Un seul critère : `q` (début des mots du nom, sans accents ni casse, « st » = « saint » ; un code à 5 caractères y est lu comme code postal puis code INSEE, « 75011 Paris » fonctionne), `postal_code`, ou `lat` + `lon` (la commune qui contient ce point).',
        querystring: z.object({
          q: z.string().max(200).optional().describe('Nom (ou début), éventuellement avec un code postal'),
          postal_code: z.string().max(20).optional().describe('Code postal à 5 chiffres'),
          lat: z.string().max(40).optional().describe('Latitude WGS84 en degrés décimaux'),
          lon: z.string().max(40).optional().describe('Longitude WGS84 en degrés décimaux'),
          limit: z.coerce.number().int().min(1).max(100).optional().describe('Nombre maximal de résultats pour q (10 par défaut)'),
        }),
        response: { 200: z.object({ communes: z.array(communeSchema) }), 400: errorSchema, 503: errorSchema },
      },
    },
    async (req, reply) => {
      const { q, postal_code, lat, lon, limit } = req.query;
      const hasPoint = lat !== undefined || lon !== undefined;
      const criteria = [q !== undefined, postal_code !== undefined, hasPoint].filter(Boolean).length;
      if (criteria === 0) throw new UserError(messages.noCriterion, 400, 'q');
      if (criteria > 1) throw new UserError(messages.oneOf, 400, q !== undefined ? 'q' : 'postal_code');
      let communes;
      if (q !== undefined) {
        if (!q.trim()) throw new UserError(messages.emptyQ, 400, 'q');
        communes = await searchCommunes(db, q, limit ?? 10);
      } else if (postal_code !== undefined) {
        if (!/^\d{5}$/.test(postal_code.trim())) throw new UserError(messages.postalCode(postal_code), 400, 'postal_code');
        communes = await communesByPostalCode(db, postal_code.trim());
      } else {
        if (lat === undefined) throw new UserError(messages.latLonPair, 400, 'lat');
        if (lon === undefined) throw new UserError(messages.latLonPair, 400, 'lon');
        const la = parseCoordinate('lat', lat, 90);
        const lo = parseCoordinate('lon', lon, 180);
        const s = await status(db);
        if (!s.polygons) throw new UserError(messages.noPolygons, 503, 'lat', 'geometry_missing');
        const c = await communeAt(db, la, lo);
        communes = c ? [c] : [];
      }
      return cached(req, reply, { communes });
    },
  );

  app.get(
    '/api/v1/territories/communes/:code',
    {
      schema: {
        tags,
        summary: 'Une commune (ou un arrondissement municipal) par son code INSEE',
        params: z.object({ code: z.string().max(20).describe('Code INSEE, par exemple 75056, 2A004, 97411') }),
        response: { 200: communeSchema, 400: errorSchema, 404: errorSchema },
      },
    },
    async (req, reply) => {
      const code = normaliseCode(req.params.code);
      if (!CODE_PATTERNS.commune.test(code)) throw new UserError(messages.badCode('commune', req.params.code), 400, 'code');
      const c = await getCommune(db, code);
      if (!c) throw new UserError(messages.unknownCommune(code), 404, 'code', 'not_found');
      return cached(req, reply, c);
    },
  );

  app.get(
    '/api/v1/territories/regions',
    {
      schema: {
        tags,
        summary: 'Les régions (puis les collectivités d’outre-mer, codes 975 à 989)',
        response: { 200: z.object({ regions: z.array(territorySchema) }) },
      },
    },
    async (req, reply) => cached(req, reply, { regions: await listRegions(db) }),
  );

  app.get(
    '/api/v1/territories/departements',
    {
      schema: {
        tags,
        summary: 'Les départements, éventuellement d’une région',
        querystring: z.object({ region: z.string().max(10).optional().describe('Code de région, par exemple 28') }),
        response: { 200: z.object({ departements: z.array(territorySchema) }), 400: errorSchema, 404: errorSchema },
      },
    },
    async (req, reply) => {
      const region = req.query.region?.trim();
      if (region !== undefined) {
        if (!CODE_PATTERNS.region.test(region)) throw new UserError(messages.badCode('région', req.query.region ?? ''), 400, 'region');
        if (!(await resolveTerritory(db, `region:${region}`))) throw new UserError(messages.unknown('région', region), 404, 'region', 'not_found');
      }
      return cached(req, reply, { departements: await listDepartements(db, region) });
    },
  );

  app.get(
    '/api/v1/territories/status',
    {
      schema: {
        tags,
        summary: 'Référentiel chargé : millésime du COG, source, présence des centres et des contours',
        response: {
          200: z.object({
            loaded: z.boolean(),
            cogYear: z.number().int(),
            packageVersion: z.string().nullable(),
            source: z.string().nullable(),
            loadedAt: z.string().nullable(),
            centres: z.boolean(),
            polygons: z.boolean(),
            geometrySource: z.string().nullable(),
            counts: z.object({
              regions: z.number(),
              departements: z.number(),
              epci: z.number(),
              communes: z.number(),
              arrondissements: z.number(),
              rings: z.number(),
              boundaries: z.number(),
            }),
            communesWithoutCentre: z.array(z.string()),
            sources: z
              .array(
                z.object({
                  name: z.string(),
                  url: z.string(),
                  licence: z.string(),
                  producer: z.string(),
                  fetchedAt: z.string(),
                  lastModified: z.string().nullable(),
                  bytes: z.number().int(),
                  sha256: z.string(),
                  records: z.number().int(),
                }),
              )
              .describe('Ce que chaque source de la géométrie a fourni : adresse, producteur, licence, date, taille, SHA-256'),
            warnings: z.array(z.string()),
          }),
        },
      },
    },
    async (req, reply) => {
      const s = await status(db);
      const warnings: string[] = [];
      if (!s.loaded) warnings.push(messages.notLoaded);
      else {
        if (!s.centres) warnings.push('Les centres des communes ne sont pas chargés : les coordonnées des communes sont indisponibles.');
        if (!s.polygons) warnings.push(messages.noPolygons);
      }
      // A local file's path says nothing useful to the public: its name only.
      const sources = s.sources.map((r) => (r.url.startsWith('file://') ? { ...r, url: `file://…/${r.url.split('/').pop()}` } : r));
      return cached(req, reply, { ...s, sources, warnings }, 300);
    },
  );

  app.get(
    '/api/v1/territories/:level/:code',
    {
      schema: {
        tags,
        summary: 'Un territoire (région, département, EPCI ou commune) avec ses territoires parents',
        params: z.object({
          level: levelSchema.describe('region, departement, epci ou commune'),
          code: z.string().max(20).describe('Code COG (région 2 chiffres, département 2–3 caractères, EPCI SIREN à 9 chiffres, commune code INSEE)'),
        }),
        response: { 200: territorySchema, 400: errorSchema, 404: errorSchema },
      },
    },
    async (req, reply) => {
      const level = req.params.level as TerritoryLevel;
      const code = normaliseCode(req.params.code);
      const label = LEVEL_LABELS[level];
      if (!CODE_PATTERNS[level].test(code)) throw new UserError(messages.badCode(label, req.params.code), 400, 'code');
      const t = await resolveTerritory(db, `${level}:${code}`);
      if (!t) throw new UserError(level === 'commune' ? messages.unknownCommune(code) : messages.unknown(label, code), 404, 'code', 'not_found');
      return cached(req, reply, t);
    },
  );
}

/**
 * JSON API of the places module: search, one place, counts, exports (CSV, JSON, GeoJSON).
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import { NotFoundError, UserError } from '../../platform/http/errors.ts';
import { csvStream, toGeoJsonFeature, toJsonRecord } from './model/index.ts';
import { exportRecord, neutraliseFormulas, STANDARD_COLUMNS, toRecord, type Place } from './store.ts';
import { exportAdditions, extensionsVersion, placeFilters, readFilterValues, withAdditions } from './extensions.ts';
import {
  countPlacesBy,
  dataVersion,
  FILTER_FIELDS,
  getPlace,
  iteratePlaces,
  searchPlaces,
  searchPlacesJson,
  type PlaceQuery,
} from './service.ts';

const bool = z
  .enum(['true', 'false', '1', '0', 'oui', 'non'])
  .transform((v) => v === 'true' || v === '1' || v === 'oui');

const multi = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((x) => x.split('|')).map((x) => x.trim()).filter(Boolean));

const filterShape = Object.fromEntries(
  FILTER_FIELDS.map((f) => [f, multi.optional().describe(`Valeurs exactes du standard, séparées par « | » (au moins une doit correspondre)`)]),
) as Record<(typeof FILTER_FIELDS)[number], z.ZodOptional<typeof multi>>;

const latLon = z
  .string()
  .regex(/^\s*-?\d+(\.\d+)?\s*,\s*-?\d+(\.\d+)?\s*$/, 'attendu : « latitude,longitude » en degrés décimaux')
  .transform((s) => s.split(',').map(Number) as [number, number])
  .refine(([lat, lon]) => Math.abs(lat) <= 90 && Math.abs(lon) <= 180, 'latitude entre -90 et 90, longitude entre -180 et 180');

const bbox = z
  .string()
  .regex(/^(\s*-?\d+(\.\d+)?\s*,){3}\s*-?\d+(\.\d+)?\s*$/, 'attendu : « ouest,sud,est,nord » en degrés décimaux')
  .transform((s) => s.split(',').map(Number) as [number, number, number, number])
  .refine(([w, s, e, n]) => w < e && s < n && Math.abs(s) <= 90 && Math.abs(n) <= 90, 'ouest < est et sud < nord');

export const searchQuerySchema = z.object({
  q: z.string().max(200).optional().describe('Texte libre (nom, description, commune, services), sans accents ni majuscules requis'),
  near: latLon.optional().describe('Position « latitude,longitude » ; les résultats portent leur distance en km'),
  radius: z.coerce.number().positive().max(500).optional().describe('Rayon autour de near, en km (10 par défaut)'),
  territory: z.string().max(40).optional().describe('Code de commune, EPCI, département, ou « region:84 »'),
  bbox: bbox.optional().describe('Emprise « ouest,sud,est,nord » (carte)'),
  ...filterShape,
  open_now: bool.optional().describe('Ouvert maintenant (heure de Paris)'),
  open_at: z.iso.datetime({ offset: true }).optional().describe('Ouvert à cette date-heure ISO 8601'),
  open_on_weekend: bool.optional().describe('Ouvert le samedi ou le dimanche'),
  online_booking: bool.optional().describe('Prise de rendez-vous en ligne'),
  sort: z.enum(['distance', 'relevance', 'name']).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional().describe('20 par défaut'),
  cursor: z.string().max(500).optional().describe('Curseur renvoyé par la page précédente'),
  fields: z.string().max(1000).optional().describe('Champs à renvoyer, séparés par des virgules'),
});

export type SearchQueryInput = z.infer<typeof searchQuerySchema>;

export function toPlaceQuery(input: SearchQueryInput): PlaceQuery {
  const filters: PlaceQuery['filters'] = {};
  for (const f of FILTER_FIELDS) if (input[f]?.length) filters[f] = input[f];
  return {
    q: input.q,
    near: input.near ? { lat: input.near[0], lon: input.near[1] } : undefined,
    radiusKm: input.radius,
    territory: input.territory,
    bbox: input.bbox,
    filters,
    openNow: input.open_now,
    openAt: input.open_at ? new Date(input.open_at) : undefined,
    openOnWeekend: input.open_on_weekend,
    onlineBooking: input.online_booking,
    sort: input.sort,
    limit: input.limit,
    cursor: input.cursor,
  };
}

const PUBLIC_EXTRA = ['uid', 'coordinates_precision', 'departement', 'region', 'epci', 'created_at', 'updated_at'] as const;

export function placeJson(place: Place, distanceKm: number | null = null): Record<string, unknown> {
  return {
    ...toJsonRecord(toRecord(place)),
    uid: place.uid,
    coordinates_precision: place.coordinatesPrecision,
    departement: place.departement,
    region: place.region,
    epci: place.epci,
    created_at: place.createdAt,
    updated_at: place.updatedAt,
    ...(distanceKm === null ? {} : { distance_km: roundKm(distanceKm) }),
  };
}

/** Distances are shown to the metre. */
function roundKm(km: number): number {
  return Math.round(km * 1000) / 1000;
}

function pickFields(obj: Record<string, unknown>, fields: string[] | null): Record<string, unknown> {
  if (!fields) return obj;
  const out: Record<string, unknown> = {};
  for (const f of fields) if (f in obj) out[f] = obj[f];
  return out;
}

function parseFields(fields: string | undefined): string[] | null {
  if (!fields) return null;
  const list = fields.split(',').map((f) => f.trim()).filter(Boolean);
  const known = new Set<string>([...STANDARD_COLUMNS, ...PUBLIC_EXTRA, 'distance_km']);
  // Items carry their distance as `distance_km`; `distance` names it too.
  const named = list.map((f) => (f === 'distance' ? 'distance_km' : f));
  for (const f of named) if (!known.has(f)) throw new UserError(`Champ inconnu dans fields : « ${f} ».`, 400, 'fields');
  return named.includes('uid') ? named : ['uid', ...named];
}

/**
 * Refuses a query parameter the route does not know (`rayon=2` would otherwise silently give the
 * default radius): 400 naming it.
 */
function knownParameters(schema: z.ZodObject, ctx: AppContext) {
  const known = new Set(Object.keys(schema.shape));
  return async (req: FastifyRequest) => {
    // Filters registered by other modules (extensions.ts) are known too; their values are read
    // here, before validation strips them, and refused when unknown (400 naming the parameter).
    const extra = new Set(placeFilters().map((f) => f.key));
    for (const key of Object.keys((req.query ?? {}) as Record<string, unknown>)) {
      if (!known.has(key) && !extra.has(key)) {
        throw new UserError(`Paramètre inconnu : « ${key.slice(0, 60)} ». Paramètres acceptés : ${[...known, ...extra].join(', ')}.`, 400, key.slice(0, 60));
      }
    }
    filterValues.set(req, await readFilterValues(ctx.db, (req.query ?? {}) as Record<string, unknown>));
  };
}

/** The registered filters (other modules', e.g. `label`) as documented query parameters. */
function filterParameters() {
  return Object.fromEntries(
    placeFilters().map((f) => [f.key, { type: 'string' as const, description: `Filtre « ${f.label} » ajouté par un autre module : une valeur ou plusieurs (paramètre répété ou séparées par « | ») ; une valeur inconnue est refusée (400).` }]),
  );
}

/** The registered filters' values of a request (read by `knownParameters`). */
const filterValues = new WeakMap<FastifyRequest, Record<string, string[]>>();
const queryOf = (req: FastifyRequest & { query: SearchQueryInput }): PlaceQuery => ({ ...toPlaceQuery(req.query), extra: filterValues.get(req) ?? {} });

/** ETag from the data version and the request URL; answers 304 when the client is current. */
async function cacheable(ctx: AppContext, req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
  return (await conditional(ctx, req, reply)) === null;
}

/** Like `cacheable`, but gives the data version it checked against (null once answered 304). */
async function conditional(ctx: AppContext, req: FastifyRequest, reply: FastifyReply): Promise<string | null> {
  // The places' data version and the other modules' (labels…): a change in either is a new answer.
  const [data, ext] = await Promise.all([dataVersion(ctx.db), extensionsVersion(ctx.db)]);
  const version = ext ? `${data}.${crypto.createHash('sha1').update(ext).digest('base64url').slice(0, 10)}` : String(data);
  const etag = `W/"${version}-${crypto.createHash('sha1').update(req.url).digest('base64url').slice(0, 16)}"`;
  reply.header('ETag', etag).header('Cache-Control', 'public, max-age=60');
  if (req.headers['if-none-match'] === etag) {
    reply.status(304).send();
    return null;
  }
  return version;
}

/**
 * Search responses, serialised, per URL and data version: the same search (a town's "near me",
 * the site's pages) is answered without touching the database again until a place changes, in
 * this process or another (the version moves with every write). "Open now" searches are kept for
 * the minute they were answered in; "open at" searches are not kept. Bounded in bytes; least recently used first out.
 */
const RESPONSE_CACHE_BYTES = 32 * 2 ** 20;
class ResponseCache {
  private version = '';
  private bytes = 0;
  private entries = new Map<string, string>();
  get(version: string, key: string): string | undefined {
    if (version !== this.version) return undefined;
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }
  set(version: string, key: string, body: string) {
    if (version !== this.version) {
      this.version = version;
      this.entries.clear();
      this.bytes = 0;
    }
    if (body.length > RESPONSE_CACHE_BYTES / 16) return;
    this.entries.set(key, body);
    this.bytes += body.length;
    for (const [k, v] of this.entries) {
      if (this.bytes <= RESPONSE_CACHE_BYTES) break;
      this.entries.delete(k);
      this.bytes -= v.length;
    }
  }
}

export function registerPlaceRoutes(app: App, ctx: AppContext) {
  const responses = new ResponseCache();
  app.get(
    '/api/v1/places',
    {
      schema: {
        tags: ['places'],
        summary: 'Rechercher des lieux',
        description: 'Recherche plein texte, autour d’un point, par territoire ou emprise, avec filtres ; pagination par curseur.',
        querystring: searchQuerySchema,
      },
      preValidation: knownParameters(searchQuerySchema, ctx),
      config: { openapiQuery: filterParameters },
    },
    async (req, reply) => {
      const version = await conditional(ctx, req, reply);
      if (version === null) return reply;
      // "Open now" is answered for the current minute (opening hours change on whole minutes), so
      // it is kept for that minute; "open at" is not kept.
      const now = new Date();
      const keep = !req.query.open_at;
      const key = req.query.open_now ? `${Math.floor(now.getTime() / 60_000)} ${req.url}` : req.url;
      const hit = keep ? responses.get(version, key) : undefined;
      reply.type('application/json; charset=utf-8');
      if (hit !== undefined) return reply.send(hit);
      const fields = parseFields(req.query.fields);
      let body: string;
      if (fields) {
        const result = await searchPlaces(ctx.db, queryOf(req), now);
        body = JSON.stringify({
          total: result.total,
          sort: result.sort,
          next_cursor: result.nextCursor,
          items: result.items.map((h) => pickFields(placeJson(h.place, h.distanceKm), fields)),
        });
      } else {
        // Whole places: their JSON comes from the database as text, and is only joined here.
        const result = await searchPlacesJson(ctx.db, queryOf(req), now);
        const items = result.items.map((h) => (h.distanceKm === null ? h.json : `${h.json.slice(0, -1)},"distance_km":${roundKm(h.distanceKm)}}`));
        body = `{"total":${result.total},"sort":${JSON.stringify(result.sort)},"next_cursor":${JSON.stringify(result.nextCursor)},"items":[${items.join(',')}]}`;
      }
      if (keep) responses.set(version, key, body);
      return reply.send(body);
    },
  );

  const statsQuery = searchQuerySchema.extend({ by: z.enum(['region', 'departement', 'epci', 'commune']) });
  app.get(
    '/api/v1/places/stats',
    {
      schema: {
        tags: ['places'],
        summary: 'Nombre de lieux par territoire',
        querystring: statsQuery,
      },
      preValidation: knownParameters(statsQuery, ctx),
      config: { openapiQuery: filterParameters },
    },
    async (req, reply) => {
      if (await cacheable(ctx, req, reply)) return reply;
      const counts = await countPlacesBy(ctx.db, req.query.by, queryOf(req));
      return { by: req.query.by, total: counts.reduce((s, c) => s + c.count, 0), counts };
    },
  );

  app.get(
    '/api/v1/places/:uid',
    {
      schema: {
        tags: ['places'],
        summary: 'Un lieu',
        params: z.object({ uid: z.string().uuid('identifiant de lieu (uuid) attendu') }),
      },
    },
    async (req, reply) => {
      const place = await getPlace(ctx.db, req.params.uid);
      if (!place || !place.visible) throw new NotFoundError(`Aucun lieu ne porte l’identifiant ${req.params.uid}.`);
      if (await cacheable(ctx, req, reply)) return reply;
      return placeJson(place);
    },
  );

  const exportQuery = searchQuerySchema.omit({ cursor: true, limit: true, sort: true, fields: true }).extend({
    approximate: bool.optional().describe('Inclure les coordonnées approximatives (centre de la commune) des lieux sans coordonnées propres ; par défaut elles sont laissées vides'),
    spreadsheet: bool.optional().describe('Pour un tableur : les cellules qui commencent par = + - @ sont précédées d’une apostrophe (elles ne seront pas exécutées comme formules)'),
  });
  const exportRoute = (ext: 'csv' | 'json' | 'geojson') =>
    app.get(
      `/api/v1/places.${ext}`,
      {
        schema: {
          tags: ['exports'],
          summary: `Export ${ext.toUpperCase()} au standard lieux de médiation numérique v1.0.2`,
          querystring: exportQuery,
        },
        preValidation: knownParameters(exportQuery, ctx),
      config: { openapiQuery: filterParameters },
      },
      async (req, reply) => {
        if (await cacheable(ctx, req, reply)) return reply;
        const query = queryOf(req);
        // Validate the query before streaming, so errors are JSON 400s and not a broken download.
        await searchPlaces(ctx.db, { ...query, limit: 1 });
        // What other modules add to the standard's free-text fields (the regional labels…).
        const additions = await exportAdditions(ctx.db);
        const stamp = new Date().toISOString().slice(0, 10);
        reply.header('Content-Disposition', `attachment; filename="lieux-mediation-numerique-${stamp}.${ext}"`);
        const source = iteratePlaces(ctx.db, query);
        if (ext === 'csv') {
          reply.type('text/csv; charset=utf-8');
          const approximate = req.query.approximate === true;
          const spreadsheet = req.query.spreadsheet === true;
          async function* records() {
            for await (const h of source) {
              const r = withAdditions(exportRecord(h.place, { approximate }), additions.get(h.place.uid));
              yield spreadsheet ? neutraliseFormulas(r) : r;
            }
          }
          return reply.send(Readable.from(csvStream(records())));
        }
        reply.type(ext === 'json' ? 'application/json; charset=utf-8' : 'application/geo+json; charset=utf-8');
        async function* body() {
          yield ext === 'json' ? '[' : '{"type":"FeatureCollection","features":[';
          let first = true;
          for await (const h of source) {
            const rec = withAdditions(exportRecord(h.place, { approximate: req.query.approximate === true }), additions.get(h.place.uid));
            const item = ext === 'json' ? toJsonRecord(rec) : toGeoJsonFeature(rec, { uid: h.place.uid });
            if (ext === 'geojson' && !(item as { geometry: unknown }).geometry) continue;
            yield (first ? '' : ',') + JSON.stringify(item);
            first = false;
          }
          yield ext === 'json' ? ']' : ']}';
        }
        return reply.send(Readable.from(body()));
      },
    );
  exportRoute('csv');
  exportRoute('json');
  exportRoute('geojson');
}

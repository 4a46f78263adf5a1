/**
 * Fastify bootstrap: security headers, CORS for GET API calls, compression, form bodies, cookies,
 * CSRF, rate limiting, OpenAPI generation from the route schemas, JSON errors that name the field.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import compress from '@fastify/compress';
import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import querystring from 'node:querystring';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { AppContext } from '../module.ts';
import { UserError } from './errors.ts';
import { databaseRateLimitStore } from './rate-limit-store.ts';
import { requestEnded, requestStarted } from '../db/background.ts';
import { layout } from '../html/layout.ts';
import { html } from '../html/html.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Query parameters known only once every module is registered (e.g. a search filter another
     * module adds): given when the OpenAPI document is generated, merged into the route's own.
     */
    openapiQuery?: () => Record<string, { type: 'string'; description: string }>;
  }
}

/** The zod schemas' OpenAPI, plus each route's late query parameters (`config.openapiQuery`). */
const openapiTransform: typeof jsonSchemaTransform = (input) => {
  const out = jsonSchemaTransform(input);
  const late = (input.route.config as { openapiQuery?: () => Record<string, unknown> } | undefined)?.openapiQuery?.();
  const query = (out.schema as { querystring?: { properties?: Record<string, unknown> } } | undefined)?.querystring;
  if (late && query) query.properties = { ...(query.properties ?? {}), ...late };
  return out;
};

const assetsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'html', 'assets');

/** The Fastify instance every module registers on: zod schemas validate and document routes. */
export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse<IncomingMessage>, FastifyBaseLogger, ZodTypeProvider>;

/**
 * The largest request body any route reads: 1 MiB (every form and JSON request fits). Routes that
 * take an upload raise it for themselves only, and check who is asking before a byte of the body
 * is read (accounts' `uploadRoute`): an anonymous visitor cannot make the server parse 50 MB.
 */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

const ALL_ROUTES = Symbol.for('maillage.http.routes');

/** A route as registered, with its zod schema when it has one. */
export interface ServerRoute {
  method: string;
  url: string;
  schema: { querystring?: unknown; params?: unknown; hide?: boolean } | null;
  /** The route's own body limit, when it raises or lowers the server's (DEFAULT_BODY_LIMIT). */
  bodyLimit: number | null;
}

/** Every route of the server, platform and modules alike (tests: the fuzz test walks them all). */
/** PostgreSQL errors after which the transaction was rolled back and a retry normally passes. */
const TRANSIENT_DB_ERRORS = new Set(['40P01', '40001', '55P03']);

export function serverRoutes(app: object): readonly ServerRoute[] {
  let scope: object | null = app;
  while (scope) {
    const r = (scope as Record<symbol, ServerRoute[] | undefined>)[ALL_ROUTES];
    if (r) return r.slice();
    scope = Object.getPrototypeOf(scope);
  }
  return [];
}

function checkQueryString(qs: string): void {
  for (const pair of qs.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    const rawValue = eq < 0 ? '' : pair.slice(eq + 1);
    let name: string;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      throw new UserError(`Paramètre « ${rawName.slice(0, 50)} » : nom mal encodé (UTF-8 attendu).`, 400, rawName.slice(0, 50));
    }
    let value: string;
    try {
      value = decodeURIComponent(rawValue.replace(/\+/g, ' '));
    } catch {
      throw new UserError(`Paramètre « ${name.slice(0, 50)} » : valeur mal encodée (texte UTF-8 attendu).`, 400, name.slice(0, 50));
    }
    if (name.includes('\0') || value.includes('\0')) throw new UserError(`Paramètre « ${name.replace(/\0/g, '').slice(0, 50)} » : caractère nul interdit.`, 400, name.slice(0, 50));
  }
}

/** Strings of a parsed body (form or JSON): no NUL character (files of a multipart body are Buffers, not checked). */
function checkText(v: unknown, field: string, depth: number): void {
  if (depth > 20) return;
  if (typeof v === 'string') {
    if (v.includes('\0')) throw new UserError(`Champ « ${field} » : caractère nul interdit.`, 400, field);
  } else if (Array.isArray(v)) {
    v.forEach((x) => checkText(x, field, depth + 1));
  } else if (v && typeof v === 'object' && !Buffer.isBuffer(v)) {
    for (const [k, x] of Object.entries(v)) checkText(x, depth === 0 ? k : `${field}.${k}`, depth + 1);
  }
}

export async function createServer(ctx: AppContext): Promise<App> {
  const app = Fastify({
    loggerInstance: ctx.log as unknown as FastifyBaseLogger,
    trustProxy: ctx.config.trustProxy,
    bodyLimit: DEFAULT_BODY_LIMIT,
    routerOptions: { ignoreTrailingSlash: true },
  }).withTypeProvider<ZodTypeProvider>();
  const routes: ServerRoute[] = [];
  Object.defineProperty(app, ALL_ROUTES, { value: routes });
  app.addHook('onRoute', (opts) => {
    for (const method of Array.isArray(opts.method) ? opts.method : [opts.method]) {
      if (method !== 'HEAD') routes.push({ method, url: opts.url, schema: (opts.schema ?? null) as ServerRoute['schema'], bodyLimit: opts.bodyLimit ?? null });
    }
  });
  // Requests being answered: a first start's background data load gives way to them (db/background.ts).
  app.addHook('onRequest', (req, reply, done) => {
    requestStarted();
    reply.raw.once('close', requestEnded);
    done();
  });
  // Text the database cannot hold or that is not text at all is refused at the door, for every
  // route, naming the parameter: a NUL character (PostgreSQL refuses 0x00) or a percent-escape
  // that is not UTF-8 (`q=%ff%fe`), in the query string or in a form/JSON body.
  app.addHook('onRequest', async (req) => {
    const q = req.url.indexOf('?');
    if (q >= 0) checkQueryString(req.url.slice(q + 1));
    const path = q >= 0 ? req.url.slice(0, q) : req.url;
    if (/%00/.test(path)) throw new UserError('L’adresse contient un caractère nul.', 400, null);
  });
  app.addHook('preValidation', async (req) => {
    if (req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body)) checkText(req.body, 'body', 0);
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'API de Maillage',
        version: '1',
        description: 'Les lieux d’aide au numérique (standard « lieux de médiation numérique »), les territoires et les données associées.',
      },
      servers: [{ url: ctx.config.publicUrl }],
    },
    transform: openapiTransform,
  });
  await app.register(compress, { global: true, threshold: 1024 });
  // A form body is checked as the query string is (a percent-escape that is not UTF-8, a NUL), then
  // parsed with Node's own parser, with no cap on the number of fields (the body limit bounds it).
  await app.register(formbody, {
    parser: (body: string) => {
      checkQueryString(body);
      return querystring.parse(body, '&', '=', { maxKeys: 0 });
    },
  });
  await app.register(cookie);
  await app.register(csrf, {
    cookieOpts: { path: '/', sameSite: 'lax', httpOnly: true, secure: ctx.config.env === 'production', signed: false },
    getToken: (req) => (req.body as Record<string, string> | undefined)?._csrf ?? (req.headers['x-csrf-token'] as string | undefined),
  });
  // Limits are counted in the database: they hold across every instance on one PostgreSQL.
  await app.register(rateLimit, { global: false, store: databaseRateLimitStore(ctx.db) });
  await app.register(cors, {
    // Public read API: any origin may GET; nothing else crosses origins.
    methods: ['GET', 'HEAD'],
    origin: (origin, cb) => cb(null, true),
    hook: 'preHandler',
    delegator: (req, cb) => cb(null, { origin: req.url.startsWith('/api/') && (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') }),
  });

  const hsts = ctx.config.publicUrl.startsWith('https://');
  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'strict-origin-when-cross-origin');
    // Served over https (PUBLIC_URL): browsers must never come back over plain http (one year).
    if (hsts) reply.header('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    if (!reply.hasHeader('Content-Security-Policy')) {
      const tiles = ctx.config.basemapStyleUrl ? ` ${new URL(ctx.config.basemapStyleUrl).origin} https:` : '';
      reply.header(
        'Content-Security-Policy',
        `default-src 'self'; img-src 'self' data: blob:${tiles}; style-src 'self' 'unsafe-inline'; script-src 'self'; ` +
          `connect-src 'self'${tiles}; worker-src 'self' blob:; child-src blob:; font-src 'self'${tiles}; object-src 'none'; base-uri 'self'; form-action 'self'` +
          (reply.getHeader('X-Frame-Options') === 'ALLOW' ? '' : `; frame-ancestors 'self'`),
      );
    }
    if (reply.getHeader('X-Frame-Options') === 'ALLOW') reply.removeHeader('X-Frame-Options');
    else if (!req.url.startsWith('/embed')) reply.header('X-Frame-Options', 'SAMEORIGIN');
    return payload;
  });

  app.setErrorHandler((error: FastifyError, req, reply) => {
    const wantsHtml = !req.url.startsWith('/api/') && (req.headers.accept ?? '').includes('text/html');
    let status = 500;
    let body: { error: string; message: string; field?: string | null; details?: unknown } = {
      error: 'internal_error',
      message: 'Erreur interne du serveur.',
    };
    if (hasZodFastifySchemaValidationErrors(error)) {
      const first = error.validation[0];
      const where = error.validationContext ?? 'request';
      const fieldPath = first?.instancePath?.replace(/^\//, '').replace(/\//g, '.') || (first?.params as { missingProperty?: string })?.missingProperty || '';
      status = 400;
      body = {
        error: 'invalid_parameter',
        field: fieldPath || null,
        message: `${where}${fieldPath ? ` « ${fieldPath} »` : ''} : ${first?.message ?? 'valeur invalide'}`,
        details: error.validation.map((v) => ({ field: v.instancePath.replace(/^\//, '').replace(/\//g, '.'), message: v.message })),
      };
    } else if (error instanceof UserError) {
      status = error.statusCode;
      body = { error: error.code, message: error.message, field: error.field };
    } else if (error.statusCode && error.statusCode < 500) {
      status = error.statusCode;
      body = { error: error.code ?? 'invalid_request', message: error.message };
      if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        const limit = req.routeOptions?.bodyLimit ?? DEFAULT_BODY_LIMIT;
        body = { error: 'payload_too_large', message: `La requête est trop volumineuse : au plus ${Math.round((limit / 1024 / 1024) * 10) / 10} Mo.` };
      }
      if (error.code === 'FST_CSRF_MISSING_SECRET' || error.code === 'FST_CSRF_INVALID_TOKEN') {
        body = { error: 'csrf', message: 'Le formulaire a expiré ou n’est pas valide. Rechargez la page et recommencez.' };
      }
    } else if (TRANSIENT_DB_ERRORS.has(String((error as { code?: unknown }).code))) {
      // The database gave up on this request's transaction (a deadlock between two writers, a
      // serialization failure, a lock it could not take): it was rolled back whole, nothing was
      // written, and the same request sent again a moment later will normally pass.
      req.log.warn({ err: error }, 'database conflict, the request was rolled back');
      status = 503;
      reply.header('Retry-After', '2');
      body = { error: 'busy', message: 'Le serveur traitait une autre modification au même moment ; rien n’a été enregistré. Réessayez dans un instant.' };
    } else {
      req.log.error({ err: error }, 'request failed');
    }
    reply.status(status);
    if (wantsHtml) {
      reply.type('text/html; charset=utf-8');
      return layout({
        title: status === 404 ? 'Page introuvable' : 'Erreur',
        theme: ctx.config.theme,
        body: html`<h1>${status === 404 ? 'Page introuvable' : 'Une erreur est survenue'}</h1><p>${body.message}</p><p><a href="/">Retour à l’accueil</a></p>`,
      });
    }
    return body;
  });

  app.setNotFoundHandler((req, reply) => {
    reply.status(404);
    if (req.url.startsWith('/api/') || !(req.headers.accept ?? '').includes('text/html')) {
      return { error: 'not_found', message: `Aucune ressource à l’adresse ${req.url.split('?')[0]}.` };
    }
    reply.type('text/html; charset=utf-8');
    return layout({
      title: 'Page introuvable',
      theme: ctx.config.theme,
      body: html`<h1>Page introuvable</h1><p>La page demandée n’existe pas ou a été déplacée.</p><p><a href="/">Chercher un lieu depuis l’accueil</a></p>`,
    });
  });

  // Static design assets (small, cached, fingerprint-free: revalidated by ETag).
  const assets = new Map<string, { body: Buffer; type: string }>();
  for (const f of fs.readdirSync(assetsDir)) {
    const type = f.endsWith('.css') ? 'text/css; charset=utf-8' : f.endsWith('.js') ? 'text/javascript; charset=utf-8' : f.endsWith('.svg') ? 'image/svg+xml' : 'application/octet-stream';
    assets.set(f, { body: fs.readFileSync(path.join(assetsDir, f)), type });
  }
  app.get('/assets/:file', { schema: { hide: true } }, async (req, reply) => {
    const asset = assets.get((req.params as { file: string }).file);
    if (!asset) return reply.callNotFound();
    reply.type(asset.type).header('Cache-Control', 'public, max-age=3600');
    return asset.body;
  });

  app.get('/health', { schema: { hide: true } }, async (_req, reply) => {
    try {
      await ctx.db.query('SELECT 1');
      return { status: 'ok', database: ctx.db.kind };
    } catch (err) {
      reply.status(503);
      return { status: 'unavailable', database: ctx.db.kind, message: (err as Error).message };
    }
  });

  return app;
}

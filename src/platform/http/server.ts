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
import { layout } from '../html/layout.ts';
import { html } from '../html/html.ts';

const assetsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'html', 'assets');

/** The Fastify instance every module registers on: zod schemas validate and document routes. */
export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse<IncomingMessage>, FastifyBaseLogger, ZodTypeProvider>;

export async function createServer(ctx: AppContext): Promise<App> {
  const app = Fastify({
    loggerInstance: ctx.log as unknown as FastifyBaseLogger,
    trustProxy: ctx.config.trustProxy,
    bodyLimit: 50 * 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
  }).withTypeProvider<ZodTypeProvider>();
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
    transform: jsonSchemaTransform,
  });
  await app.register(compress, { global: true, threshold: 1024 });
  await app.register(formbody);
  await app.register(cookie);
  await app.register(csrf, {
    cookieOpts: { path: '/', sameSite: 'lax', httpOnly: true, secure: ctx.config.env === 'production', signed: false },
    getToken: (req) => (req.body as Record<string, string> | undefined)?._csrf ?? (req.headers['x-csrf-token'] as string | undefined),
  });
  await app.register(rateLimit, { global: false });
  await app.register(cors, {
    // Public read API: any origin may GET; nothing else crosses origins.
    methods: ['GET', 'HEAD'],
    origin: (origin, cb) => cb(null, true),
    hook: 'preHandler',
    delegator: (req, cb) => cb(null, { origin: req.url.startsWith('/api/') && (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') }),
  });

  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'strict-origin-when-cross-origin');
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
      if (error.code === 'FST_CSRF_MISSING_SECRET' || error.code === 'FST_CSRF_INVALID_TOKEN') {
        body = { error: 'csrf', message: 'Le formulaire a expiré ou n’est pas valide. Rechargez la page et recommencez.' };
      }
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

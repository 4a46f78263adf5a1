/**
 * Routes of the public site: pages, map data, basemap, client scripts, embed and sitemap.
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import { html } from '../../platform/html/html.ts';
import { basemapFile, builtInStyle, CommuneTiles, fontFile, townsFile, type BasemapFile, type BasemapLayer } from './basemap.ts';
import { clientAssets, maplibreAsset, type Asset } from './bundle.ts';
import { maplibreBase, maplibreHash } from '../../platform/http/maplibre.ts';

const maplibreUrlOf = (file: string) => `${maplibreBase()}${file}`;
import { communePolygonsFile } from '../territories/index.ts';
import type { SiteData } from './data.ts';
import { parseState } from './query.ts';
import { resolveSearch } from './resolve.ts';
import { checkReport, FormClock, purgeErrorReports, saveReport } from './reports.ts';
import { page, placeHref, prepareSearchHint, type SiteContext } from './pages/common.ts';
import { renderHome } from './pages/home.ts';
import { loadResults, renderResults } from './pages/results.ts';
import { renderPlace, renderPlaceNotFound, type ReportFormState } from './pages/place.ts';
import { renderTerritory, renderTerritoryIndex } from './pages/territories.ts';
import { licenceText, renderAccessibility, renderLegalNotice, renderOpenData, renderOpenDataSections, renderPersonalData, renderSitemapXml, renderSiteMapPage, renderSourceCode } from './pages/legal.ts';
import { faviconPng } from './favicon.ts';
import { readAuditResults } from './audit.ts';
import { renderAudit } from './pages/audit.ts';
import { embedScript, parseEmbedOptions, parseSnippetConfig, renderEmbed, renderSnippetGenerator } from './pages/embed.ts';

type Query = Record<string, string | string[] | undefined>;

const HTML = 'text/html; charset=utf-8';
const anyQuery = z.record(z.string(), z.union([z.string(), z.array(z.string())])).optional();

function sendAsset(req: FastifyRequest, reply: FastifyReply, a: Asset, maxAge: number, immutable = false) {
  reply.header('ETag', a.etag).header('Cache-Control', `public, max-age=${maxAge}${immutable ? ', immutable' : ''}`).header('Vary', 'Accept-Encoding').type(a.type);
  if (req.headers['if-none-match'] === a.etag) return reply.status(304).send();
  // Pre-compressed: skip @fastify/compress.
  if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    reply.header('Content-Encoding', 'gzip');
    return reply.send(a.gzip);
  }
  return reply.send(a.body);
}

function origin(req: FastifyRequest): string {
  return `${req.protocol}://${req.headers.host ?? 'localhost'}`;
}

export function registerSiteRoutes(app: App, ctx: AppContext, data: SiteData, now: () => Date = () => new Date()) {
  const site: SiteContext = { config: ctx.config, data, now };
  prepareSearchHint(site).catch((e: unknown) => ctx.log.warn({ err: e }, 'site: the search hint could not be taken from SITE_TERRITORY'));
  const clock = new FormClock(ctx.config.secretKey ?? null);
  const hide = { hide: true } as const;

  app.addHook('onReady', async () => {
    const n = await purgeErrorReports(ctx.db);
    if (n > 0) ctx.log.info({ deleted: n }, 'site: expired error reports deleted');
  });

  // The filters other modules register (e.g. `label`) are read here; an unknown value is a 400 naming the parameter.
  const searchState = async (query: Query) => {
    const parsed = parseState(query, (f) => data.enumValues(f));
    parsed.state.extra = data.readPlaceFilters ? await data.readPlaceFilters(query) : {};
    return parsed;
  };

  app.get('/', { schema: hide }, async (_req, reply) => reply.type(HTML).send(renderHome(site)));

  const icon = faviconPng(ctx.config.theme.primary);
  const iconTag = `"icon-${icon.length}-${ctx.config.theme.primary.slice(1)}"`;
  app.get('/favicon.ico', { schema: hide }, async (req, reply) => {
    reply.header('ETag', iconTag).header('Cache-Control', 'public, max-age=86400');
    if (req.headers['if-none-match'] === iconTag) return reply.status(304).send();
    return reply.type('image/png').send(icon);
  });

  app.get('/recherche', { schema: { ...hide, querystring: anyQuery } }, async (req, reply) => {
    const { state, problems } = await searchState((req.query ?? {}) as Query);
    const resolution = await resolveSearch(data, state);
    const view = await loadResults(site, state, resolution, problems);
    if (resolution.unknownTerritory) reply.status(404);
    return reply.type(HTML).send(renderResults(site, view));
  });

  // Place pages: /lieux/<uid>/<slug>; a missing or outdated slug redirects to the canonical URL.
  const placePage = async (req: FastifyRequest, reply: FastifyReply, form: Partial<ReportFormState> = {}, status = 200) => {
    const { uid, slug } = req.params as { uid: string; slug?: string };
    const place = /^[0-9a-f-]{36}$/i.test(uid) ? await data.getPlace(uid) : null;
    if (!place || !place.visible) return reply.status(404).type(HTML).send(renderPlaceNotFound(site));
    if (req.method === 'GET' && slug !== place.slug) return reply.redirect(placeHref(place), 301);
    const full: ReportFormState = { csrf: reply.generateCsrf(), started: clock.stamp(), ...form };
    return reply.status(status).type(HTML).send(await renderPlace(site, place, full));
  };
  // « /lieux » alone (a place's address cut short, or typed): the search of every place, same query.
  app.get('/lieux', { schema: { ...hide, querystring: anyQuery } }, (req, reply) => {
    const q = req.url.indexOf('?');
    return reply.redirect(`/recherche${q >= 0 ? req.url.slice(q) : ''}`, 301);
  });
  app.get('/lieux/:uid', { schema: hide }, (req, reply) => placePage(req, reply));
  app.get('/lieux/:uid/:slug', { schema: { ...hide, querystring: anyQuery } }, (req, reply) => {
    const sent = (req.query as Query)?.signalement === 'merci';
    return placePage(req, reply, sent ? { sent: true } : {});
  });

  app.post(
    '/lieux/:uid/:slug/signaler',
    {
      schema: hide,
      preValidation: app.csrfProtection,
      config: { rateLimit: { max: 5, timeWindow: '10 minutes' } },
    },
    async (req, reply) => {
      const { uid } = req.params as { uid: string };
      const place = /^[0-9a-f-]{36}$/i.test(uid) ? await data.getPlace(uid) : null;
      if (!place || !place.visible) return reply.status(404).type(HTML).send(renderPlaceNotFound(site));
      const check = checkReport((req.body ?? {}) as Record<string, unknown>, clock);
      if (check.ok) {
        await saveReport(ctx.db, place.uid, check.message, check.contact);
        // Reports older than the retention period go as new ones come (and at each start).
        await purgeErrorReports(ctx.db);
      }
      if (check.ok || check.spam) return reply.redirect(`${placeHref(place)}?signalement=merci#signaler`, 303);
      return placePage(req, reply, { errors: check.errors, values: check.values }, 400);
    },
  );

  // Map data: the same query as the list, every matching point (compact).
  app.get('/carte/points.json', { schema: { ...hide, querystring: anyQuery } }, async (req, reply) => {
    const { state } = await searchState((req.query ?? {}) as Query);
    const resolution = await resolveSearch(data, { ...state, page: 1 });
    if (resolution.unknownTerritory) return reply.status(404).send({ error: 'not_found', message: 'Territoire inconnu.' });
    const points = await data.mapPoints(resolution.query);
    reply.header('Cache-Control', 'public, max-age=60');
    return { count: points.length, points: points.map((p) => [p.uid, Math.round(p.lon * 1e5) / 1e5, Math.round(p.lat * 1e5) / 1e5]) };
  });

  app.get('/carte/lieux/:file', { schema: hide }, async (req, reply) => {
    const uid = (req.params as { file: string }).file.replace(/\.json$/, '');
    const place = /^[0-9a-f-]{36}$/i.test(uid) ? await data.getPlace(uid) : null;
    if (!place || !place.visible) return reply.status(404).send({ error: 'not_found', message: 'Lieu introuvable.' });
    const status = data.openingStatus(place.horaires, now());
    return { nom: place.nom, adresse: `${place.adresse}, ${place.code_postal} ${place.commune}`, status: status?.label ?? null, href: placeHref(place) };
  });

  // The built-in basemap (the map falls back to it when the configured one cannot load).
  app.get('/carte/style.json', { schema: hide }, async (req, reply) => {
    reply.header('Cache-Control', 'public, max-age=3600');
    return builtInStyle(origin(req));
  });

  let towns: Promise<BasemapFile> | null = null;
  app.get('/carte/fond/:file', { schema: hide }, async (req, reply) => {
    const name = (req.params as { file: string }).file.replace(/\.geojson$/, '');
    if (name === 'villes') {
      towns ??= data.communePoints().then((p) => townsFile(p));
      towns.catch(() => (towns = null));
      return sendAsset(req, reply, await towns, 86400);
    }
    if (name !== 'regions' && name !== 'departements') return reply.callNotFound();
    const f = await basemapFile(ctx.db, name as BasemapLayer);
    if (!f) return reply.status(404).send({ error: 'not_found', message: 'Contours non chargés : lancez « npx maillage territories load ».' });
    return sendAsset(req, reply, f, 86400);
  });

  const communeTiles = new CommuneTiles({ source: () => communePolygonsFile(ctx.config), dataDir: ctx.config.dataDir, labels: () => data.communePoints() });
  app.get('/carte/tuiles/communes/:z/:x/:file', { schema: hide }, async (req, reply) => {
    const p = req.params as { z: string; x: string; file: string };
    const m = /^(\d{1,5})\.pbf$/.exec(p.file);
    const z = /^\d{1,2}$/.test(p.z) ? Number(p.z) : -1;
    const x = /^\d{1,5}$/.test(p.x) ? Number(p.x) : -1;
    const y = m ? Number(m[1]) : -1;
    if (!m || z < 0 || z > 14 || x < 0 || y < 0 || x >= 2 ** z || y >= 2 ** z) {
      return reply.status(404).send({ error: 'not_found', message: 'Tuile inconnue : z de 0 à 14, x et y de 0 à 2^z − 1.' });
    }
    if (z < 7) return reply.status(204).header('Cache-Control', 'public, max-age=86400').send();
    const body = await communeTiles.tile(z, x, y);
    if (!body) return reply.status(404).send({ error: 'not_found', message: 'Contours des communes non chargés : lancez « npx maillage territories load ».' });
    const gz = zlib.gzipSync(body);
    return sendAsset(req, reply, { body, gzip: gz, type: 'application/x-protobuf', etag: `"t-${crypto.createHash('sha1').update(body).digest('base64url').slice(0, 16)}"` }, 86400);
  });

  app.get('/carte/polices/:file', { schema: hide }, async (req, reply) => {
    const f = fontFile((req.params as { file: string }).file);
    if (!f) return reply.callNotFound();
    return sendAsset(req, reply, f, 604800);
  });

  app.get('/site/assets/:file', { schema: hide }, async (req, reply) => {
    const a = (await clientAssets()).get((req.params as { file: string }).file);
    if (!a) return reply.callNotFound();
    return sendAsset(req, reply, a, 300);
  });
  // MapLibre: one copy for every map page, under a content-hashed folder, cached for a year.
  app.get('/site/maplibre/:hash/:file', { schema: hide }, async (req, reply) => {
    const { hash, file } = req.params as { hash: string; file: string };
    const a = maplibreAsset(file);
    if (!a) return reply.callNotFound();
    // Another version's folder (a page cached before an upgrade): the current copy, not cached for long.
    if (hash !== maplibreHash()) return reply.header('Cache-Control', 'no-cache').redirect(maplibreUrlOf(file), 302);
    return sendAsset(req, reply, a, 31536000, true);
  });
  app.get('/site/maplibre/:file', { schema: hide }, async (req, reply) => {
    const file = (req.params as { file: string }).file;
    if (!maplibreAsset(file)) return reply.callNotFound();
    return reply.header('Cache-Control', 'no-cache').redirect(maplibreUrlOf(file), 301);
  });

  app.get('/territoires', { schema: hide }, async (_req, reply) => reply.type(HTML).send(await renderTerritoryIndex(site)));
  app.get('/territoires/:level/:code', { schema: hide }, async (req, reply) => {
    const { level, code } = req.params as { level: string; code: string };
    const t = ['region', 'departement', 'epci', 'commune'].includes(level) ? await data.resolveTerritory(`${level}:${code}`) : null;
    if (!t) {
      return reply.status(404).type(HTML).send(
        page(site, {
          title: 'Territoire introuvable',
          body: html`<h1>Territoire introuvable</h1><p>Ce territoire n’existe pas dans le code officiel géographique.</p><p><a href="/territoires">Voir la liste des régions</a></p>`,
          noindex: true,
        }),
      );
    }
    return reply.type(HTML).send(await renderTerritory(site, t));
  });

  const audit = readAuditResults();
  app.get('/accessibilite', { schema: hide }, async (_req, reply) => reply.type(HTML).send(await renderAccessibility(site, audit)));
  app.get('/accessibilite/audit', { schema: hide }, async (_req, reply) => reply.type(HTML).send(await renderAudit(site, audit)));
  app.get('/mentions-legales', { schema: hide }, async (_req, reply) => reply.type(HTML).send(renderLegalNotice(site)));
  app.get('/donnees-personnelles', { schema: hide }, async (_req, reply) => reply.type(HTML).send(renderPersonalData(site)));
  app.get('/donnees', { schema: hide }, async (_req, reply) => reply.type(HTML).send(renderOpenData(site, await renderOpenDataSections(ctx.db))));
  app.get('/code-source', { schema: hide }, async (_req, reply) => reply.type(HTML).send(renderSourceCode(site)));
  const licence = licenceText();
  app.get('/code-source/licence.txt', { schema: hide }, async (_req, reply) =>
    licence ? reply.type('text/plain; charset=utf-8').header('Cache-Control', 'public, max-age=86400').send(licence) : reply.callNotFound(),
  );
  if (ctx.config.env === 'production' && !ctx.config.theme.operator) {
    ctx.log.warn('site: SITE_OPERATOR is not set; the legal notice, personal-data page and accessibility statement cannot say who runs the site (see README, Configuration)');
  }
  if (ctx.config.env === 'production' && !ctx.config.theme.sourceUrl) {
    ctx.log.warn('site: SOURCE_URL is not set; the AGPL asks you to offer users the source of the version you run (see README, Configuration)');
  }
  app.get('/plan-du-site', { schema: hide }, async (_req, reply) => reply.type(HTML).send(await renderSiteMapPage(site)));

  let sitemap: { at: number; body: string } | null = null;
  app.get('/sitemap.xml', { schema: hide }, async (_req, reply) => {
    if (!sitemap || Date.now() - sitemap.at > 10 * 60 * 1000) sitemap = { at: Date.now(), body: await renderSitemapXml(site) };
    return reply.type('application/xml; charset=utf-8').header('Cache-Control', 'public, max-age=600').send(sitemap.body);
  });
  app.get('/robots.txt', { schema: hide }, async (_req, reply) =>
    reply.type('text/plain; charset=utf-8').send(`User-agent: *\nDisallow: /embed\nDisallow: /recherche\nSitemap: ${ctx.config.publicUrl}/sitemap.xml\n`),
  );

  // Embedding: the framed finder, the script-tag loader, the snippet generator.
  app.get('/embed', { schema: { ...hide, querystring: anyQuery } }, async (req, reply) => {
    const q = (req.query ?? {}) as Query;
    const { state, problems } = await searchState(q);
    const resolution = await resolveSearch(data, state);
    const view = await loadResults(site, state, resolution, problems);
    // Any site may frame the finder: the platform then leaves out frame-ancestors and
    // X-Frame-Options, and keeps the rest of its policy (including a configured tile server).
    reply.header('X-Frame-Options', 'ALLOW');
    return reply.type(HTML).send(renderEmbed(site, view, parseEmbedOptions(q)));
  });
  app.get('/embed.js', { schema: hide }, async (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=3600').header('Access-Control-Allow-Origin', '*').send(embedScript(ctx.config.publicUrl)),
  );
  const generatorCsp =
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; " +
    "frame-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'";
  app.get('/integrer', { schema: { ...hide, querystring: anyQuery } }, async (req, reply) => {
    const q = (req.query ?? {}) as Query;
    // The generator shows a live preview of the embed in an iframe of this same site.
    reply.header('Content-Security-Policy', generatorCsp);
    const r = await renderSnippetGenerator(site, parseSnippetConfig(site, q), Object.keys(q).length > 0);
    return reply.status(r.status).type(HTML).send(r.html);
  });
}

/** JSON API under /api/v1/commons (zod schemas: validated and listed in the OpenAPI document). */
import { z } from 'zod';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import type { Jobs } from '../../platform/jobs/index.ts';
import { NotFoundError, UserError } from '../../platform/http/errors.ts';
import { requirePermission } from '../accounts/index.ts';
import * as service from './service.ts';
import { isRemoteUrl } from './git.ts';
import { formatSwhid } from './swhid.ts';
import { BLOCK_MAX_LINES } from './engine/blocksearch.ts';
import { DEFAULT_BUDGET_MS, MAX_BUDGET_MS } from './engine/searcher.ts';

const tags = ['commons'];

const SoftwareSchema = z.object({
  slug: z.string(),
  name: z.string(),
  description: z.string(),
  licence: z.string().nullable().describe('SPDX identifier'),
  repositoryUrl: z.string(),
  status: z.string().nullable(),
  languages: z.array(z.string()),
  topics: z.array(z.string()),
  maintainers: z.array(z.string()),
  users: z.array(z.string()),
  contact: z.string().nullable(),
  homepage: z.string().nullable(),
  hasPubliccode: z.boolean(),
  hasCodemeta: z.boolean(),
  updatedAt: z.string(),
});

const RevisionSchema = z.object({
  ref: z.string(),
  kind: z.string(),
  commit: z.string(),
  tree: z.string(),
  committedAt: z.string().nullable(),
  message: z.string().nullable(),
  current: z.boolean(),
  swhid: z.object({ rev: z.string(), dir: z.string(), rel: z.string().nullable().describe('swh:1:rel of an annotated tag (its tag object); null otherwise') }),
});

const LineSchema = z.object({
  line: z.number().int(),
  text: z.string(),
  ranges: z.array(z.tuple([z.number().int(), z.number().int()])),
  context: z.boolean(),
  definition: z.boolean(),
});

const SearchSchema = z.object({
  query: z.string(),
  fileCount: z.number().int(),
  matchCount: z.number().int(),
  truncated: z.boolean().describe('This window of the answer stopped before the last candidate file: nextCursor gives the rest'),
  timedOut: z.boolean().describe('The time budget stopped this window (raise it with budget=, or continue with cursor=)'),
  budgetMs: z.number().int(),
  notice: z.string().nullable(),
  candidates: z.number().int().describe('Candidate files of the whole answer'),
  examined: z.number().int().describe('Candidate files examined in this window'),
  nextCursor: z.string().nullable().describe('Pass as cursor= to get the next window of the answer; null when this window is the last'),
  offset: z.number().int(),
  limit: z.number().int(),
  groups: z.array(
    z.object({
      repository: z.string(),
      software: z.string(),
      origin: z.string(),
      files: z.array(
        z.object({
          path: z.string(),
          lang: z.string().nullable(),
          blob: z.string(),
          commit: z.string(),
          ref: z.string(),
          size: z.number().int(),
          lineCount: z.number().int(),
          score: z.number(),
          matchCount: z.number().int().describe('Matching lines listed for this file (at most lines=)'),
          moreLines: z.boolean().describe('More lines of this file match than the lines= listed: the same query with blob= (this file\'s blob) and after_line= (nextAfterLine) lists the next ones'),
          nextAfterLine: z.number().int().nullable().describe('When moreLines: the last matching line listed; pass it as after_line= with blob= to continue within this file'),
          swhid: z.string(),
          permalink: z.string().describe('SWHID of the content with origin, anchor, path and lines qualifiers'),
          lines: z.array(LineSchema),
        }),
      ),
    }),
  ),
});

const ErrorSchema = z.object({ error: z.string(), message: z.string(), field: z.string().nullable().optional() });

const JobSchema = z.object({
  id: z.string(),
  name: z.string(),
  state: z.string(),
  progress: z.record(z.string(), z.unknown()).nullable(),
  output: z.unknown(),
  error: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
});

/** A search refused because the pool is saturated says when to come back (Retry-After). */
export async function withRetryAfter<T>(reply: { header(k: string, v: string): unknown }, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof UserError && (e.code === 'search_busy' || e.code === 'search_timeout')) reply.header('Retry-After', '5');
    throw e;
  }
}

export function registerRoutes(app: App, ctx: AppContext, jobs: Jobs) {
  app.get(
    '/api/v1/commons/software',
    {
      schema: {
        tags,
        summary: 'Logiciels libres du catalogue, filtrés ; pagination par curseur (slug)',
        querystring: z.object({
          q: z.string().max(200).optional().describe('Full-text search (name, description, topics)'),
          language: z.string().max(50).optional(),
          licence: z.string().max(100).optional(),
          organisation: z.string().max(200).optional(),
          topic: z.string().max(100).optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          cursor: z.string().max(200).optional(),
        }),
        response: { 200: z.object({ items: z.array(SoftwareSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (req) => {
      const { limit, cursor, ...filters } = req.query;
      const items = await service.listSoftware(ctx, filters, limit + 1, cursor ?? null);
      const page = items.slice(0, limit);
      return { items: page, nextCursor: items.length > limit ? page[page.length - 1]!.slug : null };
    },
  );

  app.get('/api/v1/commons/software.csv', { schema: { tags, summary: 'Le catalogue en CSV (UTF-8, séparateur virgule, listes jointes par |)' } }, async (_req, reply) => {
    reply.type('text/csv; charset=utf-8').header('Content-Disposition', 'attachment; filename="communs-logiciels.csv"');
    return service.softwareCsv(ctx);
  });

  app.get(
    '/api/v1/commons/software/:slug',
    {
      schema: {
        tags,
        summary: 'Un logiciel : fiche, dépôts, révisions indexées et leurs SWHID',
        params: z.object({ slug: z.string().max(100) }),
        response: {
          200: z.object({
            software: SoftwareSchema.extend({ readme: z.string().nullable() }),
            repositories: z.array(
              z.object({
                name: z.string(),
                origin: z.string(),
                defaultBranch: z.string().nullable(),
                status: z.string(),
                error: z.string().nullable(),
                indexedAt: z.string().nullable(),
                revisions: z.array(RevisionSchema),
              }),
            ),
          }),
          404: ErrorSchema,
        },
      },
    },
    async (req) => service.getSoftware(ctx, req.params.slug),
  );

  app.get(
    '/api/v1/commons/software/:slug/files',
    {
      schema: {
        tags,
        summary: 'Fichiers de la dernière révision indexée : le contenu d’un dossier, ou un fichier avec son texte',
        params: z.object({ slug: z.string().max(100) }),
        querystring: z.object({ path: z.string().max(4096).default('') }),
        response: {
          200: z.object({
            repository: z.string(),
            commit: z.string(),
            path: z.string(),
            swhid: z.string().describe('swh:1:dir of a directory, or the content SWHID with origin, anchor and path qualifiers'),
            entries: z.array(z.object({ path: z.string(), kind: z.string(), size: z.number().nullable(), lang: z.string().nullable(), skipped: z.string().nullable(), swhid: z.string() })),
            file: z.object({ kind: z.string(), size: z.number().nullable(), lang: z.string().nullable(), skipped: z.string().nullable(), text: z.string().nullable() }).nullable(),
          }),
          404: ErrorSchema,
        },
      },
    },
    async (req) => {
      const b = await service.browse(ctx, req.params.slug, req.query.path);
      const typeOf = (kind: string) => (kind === 'dir' ? 'dir' : kind === 'submodule' ? 'rev' : 'cnt');
      const anchor = formatSwhid('rev', b.rev.commit);
      if (b.entry) {
        const e = b.entry;
        return {
          repository: b.repo.name,
          commit: b.rev.commit,
          path: b.dir,
          swhid: formatSwhid(typeOf(e.kind), e.sha, { origin: b.repo.origin, anchor, path: `/${e.path}` }),
          entries: [],
          file: { kind: e.kind, size: e.size, lang: e.lang, skipped: e.skipped, text: b.text },
        };
      }
      return {
        repository: b.repo.name,
        commit: b.rev.commit,
        path: b.dir,
        swhid: b.dirSha ? formatSwhid('dir', b.dirSha, { origin: b.repo.origin, anchor, path: `/${b.dir}${b.dir ? '/' : ''}` }) : b.rev.swhid.dir,
        entries: b.entries.map((f) => ({ path: f.path, kind: f.kind, size: f.size, lang: f.lang, skipped: f.skipped, swhid: formatSwhid(typeOf(f.kind), f.sha) })),
        file: null,
      };
    },
  );

  app.get(
    '/api/v1/commons/search',
    {
      schema: {
        tags,
        summary: 'Recherche dans le code (texte exact, /regex/, repo:, file:, lang:, case:yes, sym:, -exclusion, "expressions")',
        querystring: z.object({
          q: z.string().min(1).max(1000),
          offset: z.coerce.number().int().min(0).max(10000).default(0),
          limit: z.coerce.number().int().min(1).max(100).default(20),
          context: z.coerce.number().int().min(0).max(5).default(1),
          lines: z.coerce.number().int().min(1).max(1000).default(20).describe('Matching lines listed per file'),
          cursor: z.string().max(40).optional().describe('nextCursor of the previous answer: the next window (up to 500 files) of the same query'),
          blob: z
            .string()
            .regex(/^[0-9a-f]{40}$/, 'blob : l’empreinte git d’un contenu (40 chiffres hexadécimaux)')
            .optional()
            .describe('Only this content (a result\'s blob): with after_line=, pages through one file\'s matching lines'),
          after_line: z.coerce.number().int().min(0).max(100_000_000).default(0).describe('List the matching lines after this one (a result\'s nextAfterLine); needs blob='),
          budget: z.coerce.number().int().min(100).max(MAX_BUDGET_MS).default(DEFAULT_BUDGET_MS).describe('Time budget in milliseconds; past it the answer is partial (timedOut) and nextCursor continues'),
        }),
        response: { 200: SearchSchema, 400: ErrorSchema, 409: ErrorSchema, 429: ErrorSchema, 503: ErrorSchema },
      },
      config: { rateLimit: { max: 120, timeWindow: '1 minute' } },
    },
    async (req, reply) => {
      const { q, offset, limit, context, lines, cursor, budget, blob, after_line } = req.query;
      return withRetryAfter(reply, () =>
        service.search(ctx, q, { offset, limit, context, maxLinesPerFile: lines, cursor, budgetMs: budget, blob: blob ?? null, afterLine: after_line }, { client: req.ip }),
      );
    },
  );

  /** One place of a file holding the pasted block (block search). */
  const BlockSpanSchema = z.object({
    lines: z.tuple([z.number().int(), z.number().int()]),
    queryLines: z.tuple([z.number().int(), z.number().int()]),
    similarity: z.number(),
    identical: z.boolean(),
    exact: z.boolean(),
    excerpt: z.array(z.string()),
    permalink: z.string(),
  });
  app.post(
    '/api/v1/commons/blocks',
    {
      schema: {
        tags,
        summary: `Block search: where does this block of code (5 to ${BLOCK_MAX_LINES} lines) live, identical or with renamed identifiers and literals?`,
        body: z.object({ code: z.string().min(1).max(200_000), lang: z.string().max(30).optional(), limit: z.number().int().min(1).max(100).optional() }),
        response: {
          200: z.object({
            queryLineCount: z.number().int(),
            tokens: z.number().int(),
            matches: z.array(
              BlockSpanSchema.extend({
                repository: z.string(),
                software: z.string(),
                path: z.string(),
                blob: z.string(),
                commit: z.string(),
                otherSpans: z.array(BlockSpanSchema),
                alsoIn: z.array(z.object({ repository: z.string(), path: z.string() })),
              }),
            ),
          }),
          400: ErrorSchema,
        },
      },
      config: { rateLimit: { max: 60, timeWindow: '1 minute' } },
    },
    async (req, reply) => withRetryAfter(reply, () => service.blockSearch(ctx, req.body.code, { lang: req.body.lang ?? null, limit: req.body.limit }, { client: req.ip })),
  );

  app.get(
    '/api/v1/commons/duplicates',
    {
      schema: {
        tags,
        summary: 'Blocs de code dupliqués entre dépôts',
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
      },
    },
    async (req, reply) => ({ groups: await withRetryAfter(reply, () => service.duplicates(ctx, req.query.limit, { client: req.ip })) }),
  );

  app.get('/api/v1/commons/stats', { schema: { tags, summary: 'Taille du catalogue et de l’index du code' } }, async () => service.indexStats(ctx));

  // Adding and re-indexing repositories: people who manage the platform's data sources.
  const manage = requirePermission('sources.manage');

  app.post(
    '/api/v1/commons/repositories',
    {
      schema: {
        tags,
        summary: 'Ajouter un logiciel par l’adresse git de son dépôt et lancer son indexation (chemins locaux : ligne de commande seulement)',
        body: z.object({
          source: z.string().min(1).max(2000).describe('https://, ssh:// or git:// URL, or user@host:path'),
          name: z.string().min(1).max(200).optional(),
          description: z.string().max(2000).optional(),
          licence: z.string().max(100).optional().describe('SPDX identifier'),
          index: z.boolean().default(true),
        }),
        response: { 201: z.object({ software: z.string(), created: z.boolean(), job: z.string().nullable(), status: z.string().nullable() }), 400: ErrorSchema },
      },
      preValidation: app.csrfProtection,
      preHandler: manage,
      config: { rateLimit: { max: 10, timeWindow: '1 minute' } },
    },
    async (req, reply) => {
      const { source, index, ...input } = req.body;
      const src = source.trim();
      // Over HTTP only network URLs: a local path or file:// would expose the server's own files.
      if (!isRemoteUrl(src) || /^file:/i.test(src)) {
        throw new UserError('Indiquez l’adresse git distante du dépôt (https://, ssh:// ou git://) ; les chemins locaux s’ajoutent en ligne de commande.', 400, 'source');
      }
      const r = await service.addRepository(ctx, src, input);
      let job: string | null = null;
      if (index) {
        const repo = (await service.allRepositories(ctx)).find((x) => x.id === r.repositoryId)!;
        job = await jobs.send('commons.index', { repository: repo.name }, { singletonKey: repo.name });
      }
      reply.status(201);
      return { software: r.software.slug, created: r.created, job, status: job ? `/api/v1/commons/jobs/${job}` : null };
    },
  );

  app.post(
    '/api/v1/commons/repositories/:name/index',
    {
      schema: {
        tags,
        summary: 'Lancer la (ré)indexation d’un dépôt du catalogue ; renvoie la tâche à suivre',
        params: z.object({ name: z.string().max(200) }),
        response: { 202: z.object({ job: z.string(), status: z.string() }), 404: ErrorSchema },
      },
      preValidation: app.csrfProtection,
      preHandler: manage,
      config: { rateLimit: { max: 10, timeWindow: '1 minute' } },
    },
    async (req, reply) => {
      const repo = (await service.allRepositories(ctx)).find((r) => r.name === req.params.name);
      if (!repo) throw new NotFoundError(`Aucun dépôt « ${req.params.name} » dans le catalogue.`);
      const job = await jobs.send('commons.index', { repository: repo.name }, { singletonKey: repo.name });
      reply.status(202);
      return { job, status: `/api/v1/commons/jobs/${job}` };
    },
  );

  app.get(
    '/api/v1/commons/jobs/:id',
    {
      schema: { tags, summary: 'État et avancement d’une tâche d’indexation', params: z.object({ id: z.uuid() }), response: { 200: JobSchema, 404: ErrorSchema } },
    },
    async (req) => {
      const j = await jobs.getJob(req.params.id);
      // Only the commons' own jobs are visible here.
      if (!j || j.name !== 'commons.index') throw new NotFoundError(`Aucune tâche « ${req.params.id} ».`);
      return j;
    },
  );
}

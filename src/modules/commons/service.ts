/**
 * Use cases of the commons: add a software and its repository, index it (mirror with git, list
 * refs and trees, read new blobs in a worker thread into new shards, record revisions and files in
 * one transaction), search (a snapshot of the shards, reloaded when another process changes the
 * index), block search, duplicates, catalogue reads.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AppContext } from '../../platform/module.ts';
import type { Db } from '../../platform/db/index.ts';
import { NotFoundError, UserError } from '../../platform/http/errors.ts';
import * as store from './store.ts';
import { GitError, commitInfo, isRemoteUrl, listRefs, lsTree, mirror, readBlob, type TreeItem } from './git.ts';
import { compileSkips, DEFAULT_INDEX_OPTIONS, fromCodemeta, fromPackageJson, fromPubliccode, mergeInputs, pathSkipReason, repositoryName, slugify, type IndexOptions, type Software, type SoftwareInput } from './model.ts';
import { languageOf } from './engine/languages.ts';
import { buildShards, type BuildOutput } from './engine/build.ts';
import { buildInWorker, startBuildWorkers } from './engine/run-build.ts';
import { DEFAULT_BUDGET_MS, MAX_BUDGET_MS, Searcher, type SearchOptions, type SearchResult, type FileResult } from './engine/searcher.ts';
import { parseQuery } from './engine/query.ts';
import { blockSearchInput, type BlockMatch, type BlockSearchResult, type BlockSpan, type DuplicateGroup } from './engine/blocksearch.ts';
import { searchPool, type SnapshotRef } from './engine/pool.ts';
import type { SnapshotPayload } from './engine/search-worker.ts';
import { formatSwhid } from './swhid.ts';
import { shardSize } from './engine/shard.ts';

export function commonsDirs(ctx: Pick<AppContext, 'config'>) {
  const root = path.join(ctx.config.dataDir, 'commons');
  return { root, repos: path.join(root, 'repos'), index: path.join(root, 'index') };
}

// ---------------------------------------------------------------------------------------------
// Catalogue

export async function addRepository(ctx: AppContext, source: string, input: SoftwareInput & { slug?: string } = {}): Promise<{ software: Software; repositoryId: number; created: boolean }> {
  const src = source.trim();
  if (!src) throw new UserError('Indiquez l’adresse git ou le chemin du dépôt.', 400, 'source');
  const resolved = isRemoteUrl(src) ? src : path.resolve(src);
  if (!isRemoteUrl(src) && !fs.existsSync(resolved)) throw new UserError(`Le chemin « ${src} » n’existe pas.`, 400, 'source');
  const existing = await store.findRepository(ctx.db, resolved);
  if (existing) {
    const { rows } = await ctx.db.query<{ slug: string }>('SELECT slug FROM commons.software WHERE id = $1', [existing.software_id]);
    return { software: (await store.getSoftware(ctx.db, rows[0]!.slug))!, repositoryId: existing.id, created: false };
  }
  return ctx.db.transaction(async (tx) => {
    let slug = input.slug ? slugify(input.slug) : repositoryName(resolved);
    for (let n = 2; await store.slugExists(tx, slug); n++) slug = `${repositoryName(resolved)}-${n}`;
    const id = await store.insertSoftware(tx, slug, input.name ?? slug, isRemoteUrl(src) ? src : store.originOf(resolved));
    await store.updateSoftware(tx, id, input);
    const repositoryId = await store.insertRepository(tx, id, slug, resolved);
    return { software: (await store.getSoftware(tx, slug))!, repositoryId, created: true };
  });
}

export const listSoftware = (ctx: AppContext, f: store.SoftwareFilters, limit = 50, after: string | null = null) => store.listSoftware(ctx.db, f, limit, after);
export const softwareFacets = (ctx: AppContext) => store.facets(ctx.db);

export async function getSoftware(ctx: AppContext, slug: string) {
  const software = await store.getSoftware(ctx.db, slug);
  if (!software) throw new NotFoundError(`Aucun logiciel « ${slug} » dans le catalogue.`);
  const repos = await store.repositoriesOf(ctx.db, software.id);
  const repositories = [];
  for (const r of repos) {
    const revisions = (await store.revisionsOf(ctx.db, r.id)).map((v) => ({
      ref: v.ref_name,
      kind: v.ref_kind,
      commit: v.commit_sha,
      tree: v.tree_sha,
      committedAt: v.committed_at ? new Date(v.committed_at).toISOString() : null,
      message: v.message,
      current: v.is_current,
      revisionId: v.id,
      swhid: { rev: formatSwhid('rev', v.commit_sha), dir: formatSwhid('dir', v.tree_sha), rel: v.tag_sha ? formatSwhid('rel', v.tag_sha) : null },
    }));
    repositories.push({
      id: r.id,
      name: r.name,
      source: r.source,
      origin: store.originOf(r.source),
      defaultBranch: r.default_branch,
      status: r.status,
      error: r.error,
      indexedAt: r.indexed_at ? new Date(r.indexed_at).toISOString() : null,
      revisions,
    });
  }
  return { software, repositories };
}

export async function browse(ctx: AppContext, slug: string, dir: string) {
  const { software, repositories } = await getSoftware(ctx, slug);
  const repo = repositories[0];
  const rev = repo?.revisions.find((r) => r.current);
  if (!repo || !rev) throw new NotFoundError(`Le logiciel « ${slug} » n’a pas encore été indexé.`);
  const clean = dir.replace(/^\/+|\/+$/g, '');
  let dirSha: string = rev.tree;
  if (clean) {
    const f = await store.fileAt(ctx.db, rev.revisionId, clean);
    if (!f) throw new NotFoundError(`Aucun fichier « ${clean} » dans ${repo.name}.`);
    if (f.kind !== 'dir') {
      const text = f.skipped || (f.kind !== 'file' && f.kind !== 'executable') ? null : await inPool<string | null>(ctx, 'blobText', { sha: f.sha }, { budgetMs: DEFAULT_BUDGET_MS });
      return { software, repo, rev, dir: clean, dirSha: null, entry: f, entries: [], text };
    }
    dirSha = f.sha;
  }
  const entries = await store.filesOf(ctx.db, rev.revisionId, clean);
  return { software, repo, rev, dir: clean, dirSha, entry: null, entries, text: null };
}

export async function softwareCsv(ctx: AppContext): Promise<string> {
  const rows = await store.listSoftware(ctx.db, {}, 100000, null);
  const cell = (v: unknown) => {
    const s = Array.isArray(v) ? v.join('|') : v === null || v === undefined ? '' : String(v);
    // Formula injection guard for spreadsheets, then RFC 4180 quoting.
    const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
    return /[",\n\r;]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  const head = ['slug', 'nom', 'description', 'licence', 'depot', 'statut', 'langages', 'thematiques', 'mainteneurs', 'utilisateurs', 'contact'];
  const lines = [head.join(',')];
  for (const s of rows) lines.push([s.slug, s.name, s.description, s.licence, s.repositoryUrl, s.status, s.languages, s.topics, s.maintainers, s.users, s.contact].map(cell).join(','));
  return lines.join('\r\n') + '\r\n';
}

// ---------------------------------------------------------------------------------------------
// Indexing

export interface IndexReport {
  repository: string;
  refs: number;
  files: number;
  newBlobs: number;
  indexedBytes: number;
  skipped: Record<string, number>;
  shards: number;
  headCommit: string;
  /** Wall-clock of each phase (ms), and of each build worker (building vs waiting for git). */
  timings: { fetchMs: number; listMs: number; readMs: number; commitMs: number; workers: BuildOutput['timings'] };
}

export interface IndexRunOptions {
  options?: Partial<IndexOptions>;
  onProgress?: (p: { phase: string; done?: number; total?: number }) => void | Promise<void>;
  /** Run the CPU-heavy build in a worker thread (default true); false runs it inline. */
  worker?: boolean;
  /** Test hook: called after the trees were listed, before blobs are read. */
  beforeRead?: (gitDir: string) => void | Promise<void>;
}

const README_NAMES = /^(readme|lisezmoi)(\.(md|markdown|txt|rst))?$/i;

export async function indexRepository(ctx: AppContext, nameOrSource: string, run: IndexRunOptions = {}): Promise<IndexReport> {
  const repo = (await store.findRepository(ctx.db, nameOrSource)) ?? null;
  if (!repo) throw new NotFoundError(`Aucun dépôt « ${nameOrSource} » dans le catalogue (ajoutez-le avec « commons add »).`);
  const o: IndexOptions = { ...DEFAULT_INDEX_OPTIONS, ...run.options };
  const dirs = commonsDirs(ctx);
  fs.mkdirSync(dirs.repos, { recursive: true });
  fs.mkdirSync(dirs.index, { recursive: true });
  const gitDir = path.join(dirs.repos, `${repo.id}.git`);
  const progress = async (p: { phase: string; done?: number; total?: number }) => {
    await run.onProgress?.(p);
  };
  await store.setRepositoryStatus(ctx.db, repo.id, 'indexing', null);
  let built: BuildOutput | null = null;
  const marks = [performance.now()];
  // The build workers load their modules while the repository is mirrored and listed.
  const warm = run.worker === false ? null : startBuildWorkers();
  try {
    await progress({ phase: 'fetch' });
    await mirror(repo.source, gitDir);
    const refs = await listRefs(gitDir);
    const head = refs.find((r) => r.kind === 'head');
    if (!head) throw new UserError(`Le dépôt « ${repo.name} » est vide (aucune branche par défaut).`, 422, 'source');
    const tags = refs.filter((r) => r.kind === 'tag').slice(0, o.maxTags);
    marks.push(performance.now());
    await progress({ phase: 'list' });
    const skips = compileSkips(o);
    const perRef: { ref: typeof head; tree: string; date: string; message: string; files: store.FileRow[] }[] = [];
    const wanted = new Map<string, { sha: string; lang: string | null; size: number }>();
    const tooLarge = new Map<string, number>();
    const skipped: Record<string, number> = {};
    for (const ref of [head, ...tags]) {
      const info = await commitInfo(gitDir, ref.commit);
      const items = await lsTree(gitDir, ref.commit);
      const files = items.map((it) => toFileRow(it, o, skips));
      for (const f of files) {
        if (f.kind !== 'file' && f.kind !== 'executable') continue;
        if (f.skipped === 'too_large') tooLarge.set(f.sha, f.size ?? 0);
        else if (!f.skipped && !wanted.has(f.sha)) wanted.set(f.sha, { sha: f.sha, lang: f.lang, size: f.size ?? 0 });
      }
      perRef.push({ ref, tree: info.tree, date: info.date, message: info.message, files });
    }
    // The software's metadata (README, publiccode.yml…: a few small blobs) is read while the
    // workers build; awaited before the catalogue's transaction.
    const metadataRead = readMetadata(gitDir, head.commit, perRef[0]!.files);
    metadataRead.catch(() => undefined);
    // Content-addressed: only blobs the index has never seen are read.
    const known = await store.knownBlobs(ctx.db, [...wanted.keys()]);
    const toRead = [...wanted.values()].filter((b) => !known.has(b.sha));
    await run.beforeRead?.(gitDir);
    marks.push(performance.now());
    await progress({ phase: 'read', done: 0, total: toRead.length });
    const input = { gitDir, indexDir: dirs.index, blobs: toRead.map((b) => ({ sha: b.sha, lang: b.lang, size: b.size })), shardPrefix: `s${Date.now().toString(36)}-${repo.id}` };
    const onBuild = (done: number, total: number) => void progress({ phase: 'read', done, total });
    try {
      built = warm === null ? await buildShards(input, onBuild) : await buildInWorker(input, onBuild, warm);
    } catch (e) {
      // git failing under us (objects missing, repository deleted) is the user's concern; anything else is a bug.
      if (e instanceof GitError || (e as { gitError?: boolean }).gitError) {
        throw new UserError(`Le dépôt « ${repo.name} » a changé ou disparu pendant l’indexation : ${(e as Error).message}`, 409, 'source', 'repository_vanished');
      }
      throw e;
    }
    const binary = new Set(built.blobs.filter((b) => b.status === 'binary').map((b) => b.sha));
    const knownStatus = await store.blobStatuses(ctx.db, [...known]);
    for (const [sha, st] of knownStatus) if (st === 'binary') binary.add(sha);
    for (const pr of perRef) {
      for (const f of pr.files) if (!f.skipped && binary.has(f.sha)) f.skipped = 'binary';
      for (const f of pr.files) if (f.skipped) skipped[f.skipped] = (skipped[f.skipped] ?? 0) + (pr.ref.kind === 'head' ? 1 : 0);
    }
    marks.push(performance.now());
    await progress({ phase: 'commit' });
    const metadata = await metadataRead;
    const b = built;
    await ctx.db.transaction(async (tx) => {
      await store.insertShards(tx, b.shards);
      await store.insertBlobs(tx, [...b.blobs, ...[...tooLarge].filter(([sha]) => !known.has(sha)).map(([sha, size]) => ({ sha, size, status: 'too_large', shard: null, lines: null }))]);
      let headId = 0;
      const tagIds: number[] = [];
      for (const pr of perRef) {
        const r = await store.upsertRevision(tx, repo.id, { name: pr.ref.name, kind: pr.ref.kind, commit: pr.ref.commit, tree: pr.tree, date: pr.date, message: pr.message, tagObject: pr.ref.tagObject ?? null }, pr.files);
        if (pr.ref.kind === 'head') headId = r.id;
        else tagIds.push(r.id);
      }
      await store.setCurrentRevision(tx, repo.id, headId, tagIds);
      await store.updateSoftware(tx, repo.software_id, metadata.input, metadata.extra);
      await store.setRepositoryStatus(tx, repo.id, 'indexed', null, head.name);
      await store.bumpGeneration(tx);
    });
    marks.push(performance.now());
    const headFiles = perRef[0]!.files;
    const span = (i: number) => Math.round(marks[i + 1]! - marks[i]!);
    return {
      repository: repo.name,
      refs: perRef.length,
      files: headFiles.filter((f) => f.kind === 'file' || f.kind === 'executable').length,
      newBlobs: b.blobs.filter((x) => x.status === 'indexed').length,
      indexedBytes: b.shards.reduce((n, s) => n + s.bytes, 0),
      skipped,
      shards: b.shards.length,
      headCommit: head.commit,
      timings: { fetchMs: span(0), listMs: span(1), readMs: span(2), commitMs: span(3), workers: b.timings },
    };
  } catch (e) {
    if (built) for (const s of built.shards) fs.rmSync(path.join(dirs.index, s.name), { recursive: true, force: true });
    await store.setRepositoryStatus(ctx.db, repo.id, 'failed', (e as Error).message).catch(() => undefined);
    throw e;
  } finally {
    warm?.dispose();
  }
}

function toFileRow(it: TreeItem, o: IndexOptions, skips: ReturnType<typeof compileSkips>): store.FileRow {
  const kind = it.type === 'tree' ? 'dir' : it.type === 'commit' ? 'submodule' : it.mode === '120000' ? 'symlink' : it.mode === '100755' ? 'executable' : 'file';
  const lang = kind === 'file' || kind === 'executable' ? languageOf(it.path) : null;
  // Symlinks and submodules are listed (with their SWHID) but never searched.
  const skipped = kind === 'file' || kind === 'executable' ? pathSkipReason(it.path, it.size, o, skips) : null;
  return { path: it.path, kind, sha: it.sha, size: it.size, lang, skipped };
}

async function readMetadata(gitDir: string, commit: string, files: store.FileRow[]) {
  const root = files.filter((f) => !f.path.includes('/') && (f.kind === 'file' || f.kind === 'executable'));
  const byName = new Map(root.map((f) => [f.path.toLowerCase(), f]));
  const read = async (name: string) => {
    const f = byName.get(name);
    if (!f || (f.size ?? 0) > 512 * 1024) return null;
    return (await readBlob(gitDir, f.sha))?.toString('utf8') ?? null;
  };
  const inputs: SoftwareInput[] = [];
  const extra: { readme?: string | null; readmePath?: string | null; publiccode?: unknown; codemeta?: unknown } = {};
  const pc = (await read('publiccode.yml')) ?? (await read('publiccode.yaml'));
  if (pc) {
    try {
      const r = fromPubliccode(pc);
      inputs.push(r.record);
      extra.publiccode = r.raw;
    } catch {
      /* invalid metadata is ignored; the software keeps its record */
    }
  }
  const cm = await read('codemeta.json');
  if (cm) {
    try {
      const r = fromCodemeta(cm);
      inputs.push(r.record);
      extra.codemeta = r.raw;
    } catch {
      /* idem */
    }
  }
  const pj = await read('package.json');
  if (pj) inputs.push(fromPackageJson(pj));
  const readme = root.find((f) => README_NAMES.test(f.path));
  if (readme && (readme.size ?? 0) <= 512 * 1024) {
    extra.readme = (await readBlob(gitDir, readme.sha))?.toString('utf8') ?? null;
    extra.readmePath = readme.path;
  }
  // Languages by bytes in the head revision.
  const bytes = new Map<string, number>();
  for (const f of files) if (f.lang && !f.skipped && !['json', 'markdown', 'text', 'yaml', 'toml', 'xml'].includes(f.lang)) bytes.set(f.lang, (bytes.get(f.lang) ?? 0) + (f.size ?? 0));
  const languages = [...bytes].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([l]) => l);
  const input = mergeInputs(...inputs, { languages });
  void commit;
  return { input, extra };
}

// ---------------------------------------------------------------------------------------------
// Search snapshot: one per database and index directory, reloaded when the generation changes.

interface Snapshot {
  generation: number;
  searcher: Searcher;
}
const snapshots = new WeakMap<Db, Map<string, Snapshot>>();

export async function searcher(ctx: AppContext): Promise<Searcher> {
  const dir = commonsDirs(ctx).index;
  let perDb = snapshots.get(ctx.db);
  if (!perDb) snapshots.set(ctx.db, (perDb = new Map()));
  const gen = await store.generation(ctx.db);
  const cur = perDb.get(dir);
  if (cur && cur.generation === gen) return cur.searcher;
  const names = await store.shardNames(ctx.db);
  const occ = await store.currentOccurrences(ctx.db);
  const next = Searcher.open(
    names.map((n) => path.join(dir, n)).filter((d) => fs.existsSync(d)),
    occ,
    dir,
  );
  // Swap atomically; searches already running keep the old snapshot's open files until done.
  perDb.set(dir, { generation: gen, searcher: next });
  if (cur) setTimeout(() => cur.searcher.close(), 30_000).unref();
  return next;
}

// The same snapshot as the worker threads of the search pool see it: shard directories and
// occurrences, read from the database once per generation and sent to each worker once.
interface PoolSnapshot {
  generation: number;
  ref: SnapshotRef;
}
const poolSnapshots = new WeakMap<Db, Map<string, PoolSnapshot>>();
const dbIds = new WeakMap<Db, number>();
let nextDbId = 1;

export async function poolSnapshot(ctx: AppContext): Promise<PoolSnapshot> {
  const dir = commonsDirs(ctx).index;
  let perDb = poolSnapshots.get(ctx.db);
  if (!perDb) poolSnapshots.set(ctx.db, (perDb = new Map()));
  if (!dbIds.has(ctx.db)) dbIds.set(ctx.db, nextDbId++);
  const gen = await store.generation(ctx.db);
  const cur = perDb.get(dir);
  if (cur && cur.generation === gen) return cur;
  const names = await store.shardNames(ctx.db);
  const occ = await store.currentOccurrences(ctx.db);
  const payload: SnapshotPayload = { dirs: names.map((n) => path.join(dir, n)).filter((d) => fs.existsSync(d)), occurrences: [...occ], root: dir };
  const next: PoolSnapshot = { generation: gen, ref: { key: `${dbIds.get(ctx.db)}:${gen}:${dir}`, load: () => payload } };
  perDb.set(dir, next);
  return next;
}

/** Who asks, and how long they give: bounds applied by the pool. */
export interface Asker {
  client?: string | null;
  budgetMs?: number;
}

async function inPool<T>(ctx: AppContext, method: string, args: unknown, asker: Asker = {}): Promise<T> {
  const snap = await poolSnapshot(ctx);
  return searchPool().run<T>(method, args, snap.ref, { client: asker.client ?? null, budgetMs: asker.budgetMs ?? DEFAULT_BUDGET_MS });
}

/** A cursor names a window of an answer: the index generation it was computed on, and where it starts. */
export function formatCursor(generation: number, start: number): string {
  return `${generation}.${start}`;
}

export function parseCursor(cursor: string): { generation: number; start: number } {
  const m = /^(\d{1,15})\.(\d{1,9})$/.exec(cursor);
  if (!m) throw new UserError('Le curseur « cursor » n’est pas valide : reprenez la recherche depuis sa première page.', 400, 'cursor');
  return { generation: Number(m[1]), start: Number(m[2]) };
}

/** A line cursor names a file's content (its blob) and the last line listed: both checked here for every caller. */
function checkLineCursor(blob: string | null | undefined, afterLine: number | undefined) {
  if (blob != null && !/^[0-9a-f]{40}$/.test(blob)) throw new UserError('Le paramètre « blob » doit être l’empreinte git d’un contenu (40 chiffres hexadécimaux).', 400, 'blob');
  if (afterLine === undefined || afterLine === 0) return;
  if (!Number.isSafeInteger(afterLine) || afterLine < 0 || afterLine > 100_000_000) throw new UserError('Le paramètre « after_line » doit être un numéro de ligne (entier positif).', 400, 'after_line');
  if (blob == null) throw new UserError('Le paramètre « after_line » poursuit la liste des lignes d’un fichier : il faut aussi « blob » (le contenu de ce fichier).', 400, 'after_line');
}

export interface SearchHit extends FileResult {
  swhid: string;
  permalink: string;
}

export interface SearchResponse extends Omit<SearchResult, 'groups' | 'nextCursor'> {
  query: string;
  /** The time budget the search had (ms). */
  budgetMs: number;
  /** The next window of the answer (same query, `cursor=`), or null when this one is the last. */
  nextCursor: string | null;
  groups: { repository: string; software: string; origin: string; files: SearchHit[] }[];
}

export function permalinkOf(f: { blob: string; origin: string; commit: string; path: string }, lines?: [number, number] | number): string {
  return formatSwhid('cnt', f.blob, { origin: f.origin, anchor: `swh:1:rev:${checkedHash(f.commit)}`, path: `/${f.path}`, lines });
}

/** A commit hash as a SWHID needs it (results of one revision share it: checked once). */
let lastCommit = '';
function checkedHash(h: string): string {
  if (h !== lastCommit) {
    formatSwhid('rev', h); // throws on anything but 40 lower-case hex digits
    lastCommit = h;
  }
  return h;
}

export interface SearchParams extends Partial<Omit<SearchOptions, 'start' | 'deadline' | 'budgetMs'>> {
  /** The `nextCursor` of a previous answer: this answer is the window that follows it. */
  cursor?: string | null;
  /** Time budget (ms, at most MAX_BUDGET_MS). */
  budgetMs?: number;
}

export async function search(ctx: AppContext, query: string, params: SearchParams = {}, asker: Asker = {}): Promise<SearchResponse> {
  const parsed = parseQuery(query, { compile: false });
  const { cursor, budgetMs: askedBudget, ...options } = params;
  checkLineCursor(options.blob, options.afterLine);
  const budgetMs = Math.min(MAX_BUDGET_MS, Math.max(1, askedBudget ?? asker.budgetMs ?? DEFAULT_BUDGET_MS));
  const snap = await poolSnapshot(ctx);
  let start = 0;
  if (cursor) {
    const c = parseCursor(cursor);
    if (c.generation !== snap.generation) throw new UserError('L’index a changé depuis la première page : relancez la recherche (le curseur « cursor » ne vaut plus).', 409, 'cursor', 'cursor_expired');
    start = c.start;
  }
  const r = await searchPool().run<SearchResult>('search', { query: parsed, options: { ...options, start, budgetMs } }, snap.ref, { client: asker.client ?? null, budgetMs });
  // The file results are the search's own objects: they get their identifiers in place.
  for (const g of r.groups) {
    for (const f of g.files as SearchHit[]) {
      let lo = Infinity;
      let hi = -Infinity;
      for (const l of f.lines) {
        if (l.context) continue;
        if (l.line < lo) lo = l.line;
        if (l.line > hi) hi = l.line;
      }
      f.swhid = formatSwhid('cnt', f.blob);
      f.permalink = permalinkOf(f, lo <= hi ? [lo, hi] : undefined);
    }
  }
  return { ...r, query, budgetMs, nextCursor: r.nextCursor === null ? null : formatCursor(snap.generation, r.nextCursor), groups: r.groups as SearchResponse['groups'] };
}

type WithPermalink<T> = T & { permalink: string };
export type BlockSearchAnswer = Omit<BlockSearchResult, 'matches'> & {
  matches: (WithPermalink<Omit<BlockMatch, 'otherSpans'>> & { otherSpans: WithPermalink<BlockSpan>[] })[];
};

export async function blockSearch(ctx: AppContext, code: string, opts: { lang?: string | null; limit?: number } = {}, asker: Asker = {}): Promise<BlockSearchAnswer> {
  blockSearchInput(code); // a block too short or too long is refused here, before the pool
  const r = await inPool<BlockSearchResult>(ctx, 'blocks', { code, options: opts }, asker);
  return {
    ...r,
    matches: r.matches.map((m) => ({ ...m, permalink: permalinkOf(m, m.lines), otherSpans: m.otherSpans.map((x) => ({ ...x, permalink: permalinkOf(m, x.lines) })) })),
  };
}

export async function duplicates(ctx: AppContext, limit = 50, asker: Asker = {}): Promise<DuplicateGroup[]> {
  return inPool<DuplicateGroup[]>(ctx, 'duplicates', { limit }, { budgetMs: MAX_BUDGET_MS, ...asker });
}

export async function indexStats(ctx: AppContext) {
  const st = await store.stats(ctx.db);
  const dir = commonsDirs(ctx).index;
  let disk = 0;
  let postings = 0;
  for (const n of await store.shardNames(ctx.db)) {
    const d = path.join(dir, n);
    if (!fs.existsSync(d)) continue;
    const z = shardSize(d);
    disk += z.total;
    postings += z.postings;
  }
  return { ...st, diskBytes: disk, postingsBytes: postings };
}

export const allRepositories = (ctx: AppContext) => store.allRepositories(ctx.db);
export const repositoryById = (ctx: AppContext, id: number) => store.repositoryById(ctx.db, id);

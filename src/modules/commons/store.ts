/** SQL for the commons schema. Every statement is parameterised. */
import type { Queryable } from '../../platform/db/index.ts';
import type { Software, SoftwareInput } from './model.ts';
import type { Occurrence } from './engine/searcher.ts';

const SOFTWARE_COLUMNS = `s.id, s.slug, s.name, s.description, s.licence, s.repository_url, s.status, s.languages, s.topics,
  s.maintainers, s.users, s.contact, s.homepage, s.readme, s.readme_path, s.publiccode IS NOT NULL AS has_publiccode,
  s.codemeta IS NOT NULL AS has_codemeta, s.created_at, s.updated_at`;

type SoftwareRow = {
  id: number; slug: string; name: string; description: string; licence: string | null; repository_url: string; status: string | null;
  languages: string[]; topics: string[]; maintainers: string[]; users: string[]; contact: string | null; homepage: string | null;
  readme: string | null; readme_path: string | null; has_publiccode: boolean; has_codemeta: boolean; created_at: Date | string; updated_at: Date | string;
};

const iso = (d: Date | string | null) => (d === null ? null : d instanceof Date ? d.toISOString() : new Date(d).toISOString());

function toSoftware(r: SoftwareRow): Software {
  return {
    id: r.id, slug: r.slug, name: r.name, description: r.description, licence: r.licence, repositoryUrl: r.repository_url,
    status: r.status, languages: r.languages, topics: r.topics, maintainers: r.maintainers, users: r.users, contact: r.contact,
    homepage: r.homepage, readme: r.readme, readmePath: r.readme_path, hasPubliccode: r.has_publiccode, hasCodemeta: r.has_codemeta,
    createdAt: iso(r.created_at)!, updatedAt: iso(r.updated_at)!,
  };
}

export async function insertSoftware(db: Queryable, slug: string, name: string, repositoryUrl: string): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    'INSERT INTO commons.software (slug, name, repository_url) VALUES ($1, $2, $3) RETURNING id',
    [slug, name, repositoryUrl],
  );
  return rows[0]!.id;
}

export async function slugExists(db: Queryable, slug: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM commons.software WHERE slug = $1 UNION ALL SELECT 1 FROM commons.repository WHERE name = $1', [slug]);
  return rows.length > 0;
}

export async function updateSoftware(db: Queryable, id: number, i: SoftwareInput, extra: { readme?: string | null; readmePath?: string | null; publiccode?: unknown; codemeta?: unknown } = {}) {
  await db.query(
    `UPDATE commons.software SET
       name = COALESCE($2, name), description = COALESCE($3, description), licence = COALESCE($4, licence),
       repository_url = COALESCE($5, repository_url), status = COALESCE($6, status), languages = COALESCE($7, languages),
       topics = COALESCE($8, topics), maintainers = COALESCE($9, maintainers), users = COALESCE($10, users),
       contact = COALESCE($11, contact), homepage = COALESCE($12, homepage),
       readme = CASE WHEN $13::boolean THEN $14 ELSE readme END, readme_path = CASE WHEN $13::boolean THEN $15 ELSE readme_path END,
       publiccode = COALESCE($16::jsonb, publiccode), codemeta = COALESCE($17::jsonb, codemeta), updated_at = now()
     WHERE id = $1`,
    [
      id, i.name ?? null, i.description ?? null, i.licence ?? null, i.repositoryUrl ?? null, i.status ?? null, i.languages ?? null,
      i.topics ?? null, i.maintainers ?? null, i.users ?? null, i.contact ?? null, i.homepage ?? null,
      'readme' in extra, extra.readme ?? null, extra.readmePath ?? null,
      extra.publiccode === undefined ? null : JSON.stringify(extra.publiccode),
      extra.codemeta === undefined ? null : JSON.stringify(extra.codemeta),
    ],
  );
}

export interface SoftwareFilters {
  q?: string;
  language?: string;
  licence?: string;
  organisation?: string;
  topic?: string;
}

export async function listSoftware(db: Queryable, f: SoftwareFilters, limit: number, after: string | null): Promise<Software[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (f.q) {
    const q = p(f.q);
    where.push(`(to_tsvector('french', platform.unaccent(s.name || ' ' || s.description || ' ' || array_to_string(s.topics, ' ')))
      @@ plainto_tsquery('french', platform.unaccent(${q})) OR platform.fold(s.name) LIKE '%' || platform.fold(${q}) || '%')`);
  }
  if (f.language) where.push(`${p(f.language.toLowerCase())} = ANY (s.languages)`);
  if (f.licence) where.push(`s.licence = ${p(f.licence)}`);
  if (f.topic) where.push(`${p(f.topic)} = ANY (s.topics)`);
  if (f.organisation) {
    const o = p(f.organisation);
    where.push(`(${o} = ANY (s.maintainers) OR ${o} = ANY (s.users))`);
  }
  if (after) where.push(`s.slug > ${p(after)}`);
  const { rows } = await db.query<SoftwareRow>(
    `SELECT ${SOFTWARE_COLUMNS} FROM commons.software s ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY s.slug LIMIT ${p(limit)}`,
    params,
  );
  return rows.map(toSoftware);
}

export async function getSoftware(db: Queryable, slug: string): Promise<Software | null> {
  const { rows } = await db.query<SoftwareRow>(`SELECT ${SOFTWARE_COLUMNS} FROM commons.software s WHERE s.slug = $1`, [slug]);
  return rows[0] ? toSoftware(rows[0]) : null;
}

export async function facets(db: Queryable): Promise<{ languages: string[]; licences: string[]; topics: string[]; organisations: string[] }> {
  const one = async (sql: string) => (await db.query<{ v: string }>(sql)).rows.map((r) => r.v);
  return {
    languages: await one('SELECT DISTINCT unnest(languages) AS v FROM commons.software ORDER BY 1'),
    licences: await one('SELECT DISTINCT licence AS v FROM commons.software WHERE licence IS NOT NULL ORDER BY 1'),
    topics: await one('SELECT DISTINCT unnest(topics) AS v FROM commons.software ORDER BY 1'),
    organisations: await one('SELECT DISTINCT v FROM (SELECT unnest(maintainers) AS v FROM commons.software UNION SELECT unnest(users) FROM commons.software) o ORDER BY 1'),
  };
}

export interface RepositoryRow {
  id: number;
  software_id: number;
  name: string;
  source: string;
  default_branch: string | null;
  status: string;
  error: string | null;
  indexed_at: Date | string | null;
}

export async function insertRepository(db: Queryable, softwareId: number, name: string, source: string): Promise<number> {
  const { rows } = await db.query<{ id: number }>('INSERT INTO commons.repository (software_id, name, source) VALUES ($1, $2, $3) RETURNING id', [softwareId, name, source]);
  return rows[0]!.id;
}

export async function findRepository(db: Queryable, nameOrSource: string): Promise<RepositoryRow | null> {
  const { rows } = await db.query<RepositoryRow>(
    `SELECT r.* FROM commons.repository r JOIN commons.software s ON s.id = r.software_id
     WHERE r.name = $1 OR r.source = $1 OR s.slug = $1 ORDER BY (r.name = $1) DESC LIMIT 1`,
    [nameOrSource],
  );
  return rows[0] ?? null;
}

export async function repositoryById(db: Queryable, id: number): Promise<RepositoryRow | null> {
  const { rows } = await db.query<RepositoryRow>('SELECT * FROM commons.repository WHERE id = $1', [id]);
  return rows[0] ?? null;
}

export async function repositoriesOf(db: Queryable, softwareId: number): Promise<RepositoryRow[]> {
  return (await db.query<RepositoryRow>('SELECT * FROM commons.repository WHERE software_id = $1 ORDER BY name', [softwareId])).rows;
}

export async function allRepositories(db: Queryable): Promise<RepositoryRow[]> {
  return (await db.query<RepositoryRow>('SELECT * FROM commons.repository ORDER BY name')).rows;
}

export async function setRepositoryStatus(db: Queryable, id: number, status: string, error: string | null, defaultBranch?: string | null) {
  await db.query(
    `UPDATE commons.repository SET status = $2, error = $3, default_branch = COALESCE($4, default_branch),
       indexed_at = CASE WHEN $2 = 'indexed' THEN now() ELSE indexed_at END WHERE id = $1`,
    [id, status, error, defaultBranch ?? null],
  );
}

/** Which of these blobs the index already knows (indexed, or known binary / too large). */
export async function knownBlobs(db: Queryable, shas: string[]): Promise<Set<string>> {
  const known = new Set<string>();
  for (let i = 0; i < shas.length; i += 5000) {
    const { rows } = await db.query<{ sha: string }>('SELECT sha FROM commons.blob WHERE sha = ANY ($1::text[])', [shas.slice(i, i + 5000)]);
    for (const r of rows) known.add(r.sha);
  }
  return known;
}

export async function blobStatuses(db: Queryable, shas: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < shas.length; i += 5000) {
    const { rows } = await db.query<{ sha: string; status: string }>('SELECT sha, status FROM commons.blob WHERE sha = ANY ($1::text[])', [shas.slice(i, i + 5000)]);
    for (const r of rows) out.set(r.sha, r.status);
  }
  return out;
}

export async function insertBlobs(db: Queryable, blobs: { sha: string; size: number; status: string; shard: string | null; lines: number | null }[]) {
  for (let i = 0; i < blobs.length; i += 2000) {
    const b = blobs.slice(i, i + 2000);
    await db.query(
      `INSERT INTO commons.blob (sha, size, status, shard, lines)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::int[]) ON CONFLICT (sha) DO NOTHING`,
      [b.map((x) => x.sha), b.map((x) => x.size), b.map((x) => x.status), b.map((x) => x.shard), b.map((x) => x.lines)],
    );
  }
}

export async function insertShards(db: Queryable, shards: { name: string; docs: number; bytes: number; postings: number }[]) {
  for (const s of shards) {
    await db.query('INSERT INTO commons.shard (name, docs, bytes, postings) VALUES ($1, $2, $3, $4)', [s.name, s.docs, s.bytes, s.postings]);
  }
}

export async function shardNames(db: Queryable): Promise<string[]> {
  return (await db.query<{ name: string }>('SELECT name FROM commons.shard ORDER BY created_at, name')).rows.map((r) => r.name);
}

export async function generation(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ generation: number }>('SELECT generation FROM commons.state');
  return rows[0]?.generation ?? 0;
}

export async function bumpGeneration(db: Queryable) {
  await db.query('UPDATE commons.state SET generation = generation + 1');
}

export interface FileRow {
  path: string;
  kind: string;
  sha: string;
  size: number | null;
  lang: string | null;
  skipped: string | null;
}

/** Replaces a revision's file list (revision rows are keyed by repository, ref and commit). */
export async function upsertRevision(
  db: Queryable,
  repositoryId: number,
  ref: { name: string; kind: 'head' | 'tag'; commit: string; tree: string; date: string | null; message: string; tagObject?: string | null },
  files: FileRow[],
): Promise<{ id: number; created: boolean }> {
  const existing = await db.query<{ id: number }>('SELECT id FROM commons.revision WHERE repository_id = $1 AND ref_name = $2 AND commit_sha = $3', [repositoryId, ref.name, ref.commit]);
  if (existing.rows[0]) {
    // Revisions indexed before tag objects were recorded get theirs.
    if (ref.tagObject) await db.query('UPDATE commons.revision SET tag_sha = $2 WHERE id = $1 AND tag_sha IS NULL', [existing.rows[0].id, ref.tagObject]);
    return { id: existing.rows[0].id, created: false };
  }
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO commons.revision (repository_id, ref_name, ref_kind, commit_sha, tree_sha, committed_at, message, tag_sha)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
    [repositoryId, ref.name, ref.kind, ref.commit, ref.tree, ref.date, ref.message, ref.tagObject ?? null],
  );
  const id = rows[0]!.id;
  for (let i = 0; i < files.length; i += 2000) {
    const f = files.slice(i, i + 2000);
    await db.query(
      `INSERT INTO commons.file (revision_id, path, kind, sha, size, lang, skipped)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[])`,
      [id, f.map((x) => x.path), f.map((x) => x.kind), f.map((x) => x.sha), f.map((x) => x.size), f.map((x) => x.lang), f.map((x) => x.skipped)],
    );
  }
  return { id, created: true };
}

/** Makes `revisionId` the repository's current revision and drops stale heads (tags are kept). */
export async function setCurrentRevision(db: Queryable, repositoryId: number, revisionId: number, keepTagRevisions: number[]) {
  await db.query('UPDATE commons.revision SET is_current = (id = $2) WHERE repository_id = $1', [repositoryId, revisionId]);
  await db.query(`DELETE FROM commons.revision WHERE repository_id = $1 AND id <> $2 AND NOT (id = ANY ($3::bigint[]))`, [repositoryId, revisionId, keepTagRevisions]);
}

export interface RevisionRow {
  id: number;
  repository_id: number;
  ref_name: string;
  ref_kind: string;
  commit_sha: string;
  tree_sha: string;
  committed_at: Date | string | null;
  message: string | null;
  is_current: boolean;
  tag_sha: string | null;
}

export async function revisionsOf(db: Queryable, repositoryId: number): Promise<RevisionRow[]> {
  return (await db.query<RevisionRow>('SELECT * FROM commons.revision WHERE repository_id = $1 ORDER BY is_current DESC, committed_at DESC NULLS LAST, ref_name', [repositoryId])).rows;
}

export async function filesOf(db: Queryable, revisionId: number, dir: string): Promise<FileRow[]> {
  // Direct children of `dir` ('' for the root).
  const prefix = dir ? `${dir}/` : '';
  return (
    await db.query<FileRow>(
      `SELECT path, kind, sha, size, lang, skipped FROM commons.file
       WHERE revision_id = $1 AND left(path, length($2)) = $2 AND position('/' in substr(path, length($2) + 1)) = 0 AND path <> $3
       ORDER BY kind <> 'dir', path`,
      [revisionId, prefix, dir],
    )
  ).rows;
}

export async function fileAt(db: Queryable, revisionId: number, path: string): Promise<FileRow | null> {
  const { rows } = await db.query<FileRow>('SELECT path, kind, sha, size, lang, skipped FROM commons.file WHERE revision_id = $1 AND path = $2', [revisionId, path]);
  return rows[0] ?? null;
}

/** Where every searchable blob appears in the current revisions. */
export async function currentOccurrences(db: Queryable): Promise<Map<string, Occurrence[]>> {
  const { rows } = await db.query<{ sha: string; path: string; lang: string | null; repository_id: number; repo: string; slug: string; source: string; commit_sha: string; ref_name: string }>(
    `SELECT f.sha, f.path, f.lang, r.id AS repository_id, r.name AS repo, s.slug, r.source, v.commit_sha, v.ref_name
     FROM commons.file f JOIN commons.revision v ON v.id = f.revision_id AND v.is_current
     JOIN commons.repository r ON r.id = v.repository_id JOIN commons.software s ON s.id = r.software_id
     WHERE f.skipped IS NULL AND f.kind IN ('file', 'executable')`,
  );
  const map = new Map<string, Occurrence[]>();
  for (const r of rows) {
    let l = map.get(r.sha);
    if (!l) map.set(r.sha, (l = []));
    l.push({ repositoryId: r.repository_id, repository: r.repo, software: r.slug, origin: originOf(r.source), commit: r.commit_sha, ref: r.ref_name, path: r.path, lang: r.lang });
  }
  return map;
}

/** The SWHID origin of a repository: its URL, or a file:// URL for a local path. */
export function originOf(source: string): string {
  if (/^[a-z]+:\/\//.test(source) || /^[\w.-]+@[\w.-]+:/.test(source)) return source;
  return `file://${source}`;
}

export async function softwareUsers(db: Queryable, slug: string): Promise<string[]> {
  const { rows } = await db.query<{ users: string[] }>('SELECT users FROM commons.software WHERE slug = $1', [slug]);
  return rows[0]?.users ?? [];
}

export async function stats(db: Queryable) {
  const { rows } = await db.query<{ software: number; repositories: number; blobs: number; indexed: number; bytes: number; shards: number }>(
    `SELECT (SELECT count(*) FROM commons.software)::int AS software, (SELECT count(*) FROM commons.repository)::int AS repositories,
       (SELECT count(*) FROM commons.blob)::int AS blobs, (SELECT count(*) FROM commons.blob WHERE status = 'indexed')::int AS indexed,
       (SELECT coalesce(sum(bytes), 0) FROM commons.shard)::bigint AS bytes, (SELECT count(*) FROM commons.shard)::int AS shards`,
  );
  return rows[0]!;
}

/**
 * SQL of the back office's own tables (places.claim, place_version, pending_edit,
 * moderation_setting, source). Places themselves are written through the module's write path.
 */
import type { Queryable } from '../../../platform/db/index.ts';
import type { PlaceRecord } from '../model/types.ts';
import type { MappingFile } from '../model/index.ts';

const iso = (d: unknown): string => (d instanceof Date ? d : new Date(String(d))).toISOString();
const isoOrNull = (d: unknown): string | null => (d === null || d === undefined ? null : iso(d));

// ---------------------------------------------------------------------------------------------
// Claims

export type ClaimStatus = 'pending' | 'approved' | 'rejected' | 'cancelled';

export interface Claim {
  id: number;
  placeUid: string;
  userId: string;
  method: 'email' | 'staff';
  email: string | null;
  message: string | null;
  status: ClaimStatus;
  createdAt: string;
  expiresAt: string | null;
  decidedAt: string | null;
  decidedBy: string | null;
  decisionNote: string | null;
}

const CLAIM_COLUMNS = 'id, place_uid, user_id, method, email, message, status, created_at, expires_at, decided_at, decided_by, decision_note';

function toClaim(r: Record<string, unknown>): Claim {
  return {
    id: Number(r.id),
    placeUid: r.place_uid as string,
    userId: r.user_id as string,
    method: r.method as Claim['method'],
    email: (r.email as string | null) ?? null,
    message: (r.message as string | null) ?? null,
    status: r.status as ClaimStatus,
    createdAt: iso(r.created_at),
    expiresAt: isoOrNull(r.expires_at),
    decidedAt: isoOrNull(r.decided_at),
    decidedBy: (r.decided_by as string | null) ?? null,
    decisionNote: (r.decision_note as string | null) ?? null,
  };
}

export async function insertClaim(
  q: Queryable,
  c: { placeUid: string; userId: string; method: 'email' | 'staff'; email: string | null; tokenHash: string | null; message: string | null; expiresMinutes: number | null },
): Promise<Claim> {
  const { rows } = await q.query(
    `INSERT INTO places.claim (place_uid, user_id, method, email, token_hash, message, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::int IS NULL THEN NULL ELSE now() + make_interval(mins => $7::int) END)
     RETURNING ${CLAIM_COLUMNS}`,
    [c.placeUid, c.userId, c.method, c.email, c.tokenHash, c.message, c.expiresMinutes],
  );
  return toClaim(rows[0]!);
}

export async function getClaim(q: Queryable, id: number, forUpdate = false): Promise<Claim | null> {
  if (!Number.isSafeInteger(id) || id <= 0) return null;
  const { rows } = await q.query(`SELECT ${CLAIM_COLUMNS} FROM places.claim WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0] ? toClaim(rows[0]) : null;
}

/** A pending e-mail claim by its token (unexpired). */
export async function claimByToken(q: Queryable, tokenHash: string, forUpdate = false): Promise<Claim | null> {
  const { rows } = await q.query(
    `SELECT ${CLAIM_COLUMNS} FROM places.claim WHERE token_hash = $1 AND status = 'pending' AND expires_at > now()${forUpdate ? ' FOR UPDATE' : ''}`,
    [tokenHash],
  );
  return rows[0] ? toClaim(rows[0]) : null;
}

export async function pendingClaimOf(q: Queryable, placeUid: string, userId: string): Promise<Claim | null> {
  const { rows } = await q.query(`SELECT ${CLAIM_COLUMNS} FROM places.claim WHERE place_uid = $1 AND user_id = $2 AND status = 'pending'`, [placeUid, userId]);
  return rows[0] ? toClaim(rows[0]) : null;
}

export async function decideClaim(q: Queryable, id: number, status: 'approved' | 'rejected' | 'cancelled', by: string | null, note: string | null): Promise<Claim | null> {
  const { rows } = await q.query(
    `UPDATE places.claim SET status = $2, decided_at = now(), decided_by = $3, decision_note = $4, token_hash = NULL
     WHERE id = $1 AND status = 'pending' RETURNING ${CLAIM_COLUMNS}`,
    [id, status, by, note],
  );
  return rows[0] ? toClaim(rows[0]) : null;
}

/** Pending claims of the places in a territory (column = 'region' | 'departement'), oldest first. */
export async function pendingClaimsIn(q: Queryable, t: { level: 'region' | 'departement'; code: string } | null, limit = 200) {
  const { rows } = await q.query(
    `SELECT ${CLAIM_COLUMNS.split(', ').map((c) => `c.${c}`).join(', ')}, p.nom, p.commune
     FROM places.claim c JOIN places.place p ON p.uid = c.place_uid
     WHERE c.status = 'pending' ${t ? `AND p.${t.level === 'region' ? 'region' : 'departement'} = $2` : 'AND $2::text IS NULL'}
     ORDER BY c.created_at LIMIT $1`,
    [limit, t?.code ?? null],
  );
  return rows.map((r) => ({ ...toClaim(r), placeName: r.nom as string, placeCommune: r.commune as string }));
}

export async function claimsOfUser(q: Queryable, userId: string) {
  const { rows } = await q.query(
    `SELECT ${CLAIM_COLUMNS.split(', ').map((c) => `c.${c}`).join(', ')}, p.nom FROM places.claim c JOIN places.place p ON p.uid = c.place_uid
     WHERE c.user_id = $1 ORDER BY c.created_at DESC LIMIT 50`,
    [userId],
  );
  return rows.map((r) => ({ ...toClaim(r), placeName: r.nom as string }));
}

// ---------------------------------------------------------------------------------------------
// Versions

export interface Version {
  placeUid: string;
  version: number;
  record: PlaceRecord;
  reason: 'initial' | 'outside' | 'edit' | 'restore' | 'moderation' | 'merge';
  actorId: string | null;
  note: string | null;
  createdAt: string;
}

function toVersion(r: Record<string, unknown>): Version {
  return {
    placeUid: r.place_uid as string,
    version: Number(r.version),
    record: r.record as PlaceRecord,
    reason: r.reason as Version['reason'],
    actorId: (r.actor_id as string | null) ?? null,
    note: (r.note as string | null) ?? null,
    createdAt: iso(r.created_at),
  };
}

export async function latestVersion(q: Queryable, placeUid: string): Promise<Version | null> {
  const { rows } = await q.query('SELECT * FROM places.place_version WHERE place_uid = $1 ORDER BY version DESC LIMIT 1', [placeUid]);
  return rows[0] ? toVersion(rows[0]) : null;
}

export async function getVersion(q: Queryable, placeUid: string, version: number): Promise<Version | null> {
  if (!Number.isSafeInteger(version) || version <= 0) return null;
  const { rows } = await q.query('SELECT * FROM places.place_version WHERE place_uid = $1 AND version = $2', [placeUid, version]);
  return rows[0] ? toVersion(rows[0]) : null;
}

export async function listVersions(q: Queryable, placeUid: string): Promise<Version[]> {
  const { rows } = await q.query('SELECT * FROM places.place_version WHERE place_uid = $1 ORDER BY version DESC', [placeUid]);
  return rows.map(toVersion);
}

export async function insertVersion(q: Queryable, v: Omit<Version, 'createdAt' | 'version'>): Promise<number> {
  const { rows } = await q.query<{ version: number }>(
    `INSERT INTO places.place_version (place_uid, version, record, reason, actor_id, note)
     SELECT $1, coalesce(max(version), 0) + 1, $2::jsonb, $3, $4, $5 FROM places.place_version WHERE place_uid = $1
     RETURNING version`,
    [v.placeUid, JSON.stringify(v.record), v.reason, v.actorId, v.note],
  );
  return Number(rows[0]!.version);
}

// ---------------------------------------------------------------------------------------------
// Pending edits

export interface PendingEdit {
  id: number;
  placeUid: string;
  baseVersion: number;
  record: PlaceRecord;
  kind: 'edit' | 'restore';
  submittedBy: string;
  submittedAt: string;
  status: 'pending' | 'approved' | 'rejected' | 'superseded';
  decidedBy: string | null;
  decidedAt: string | null;
  decisionNote: string | null;
}

function toPending(r: Record<string, unknown>): PendingEdit {
  return {
    id: Number(r.id),
    placeUid: r.place_uid as string,
    baseVersion: Number(r.base_version),
    record: r.record as PlaceRecord,
    kind: r.kind as PendingEdit['kind'],
    submittedBy: r.submitted_by as string,
    submittedAt: iso(r.submitted_at),
    status: r.status as PendingEdit['status'],
    decidedBy: (r.decided_by as string | null) ?? null,
    decidedAt: isoOrNull(r.decided_at),
    decisionNote: (r.decision_note as string | null) ?? null,
  };
}

/** A newer proposal for a place replaces the manager's older pending ones. */
export async function insertPendingEdit(q: Queryable, e: { placeUid: string; baseVersion: number; record: PlaceRecord; kind: 'edit' | 'restore'; submittedBy: string }): Promise<PendingEdit> {
  await q.query(
    `UPDATE places.pending_edit SET status = 'superseded', decided_at = now() WHERE place_uid = $1 AND submitted_by = $2 AND status = 'pending'`,
    [e.placeUid, e.submittedBy],
  );
  const { rows } = await q.query(
    `INSERT INTO places.pending_edit (place_uid, base_version, record, kind, submitted_by) VALUES ($1, $2, $3::jsonb, $4, $5) RETURNING *`,
    [e.placeUid, e.baseVersion, JSON.stringify(e.record), e.kind, e.submittedBy],
  );
  return toPending(rows[0]!);
}

export async function getPendingEdit(q: Queryable, id: number, forUpdate = false): Promise<PendingEdit | null> {
  if (!Number.isSafeInteger(id) || id <= 0) return null;
  const { rows } = await q.query(`SELECT * FROM places.pending_edit WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0] ? toPending(rows[0]) : null;
}

export async function decidePendingEdit(q: Queryable, id: number, status: 'approved' | 'rejected', by: string, note: string | null): Promise<void> {
  await q.query(`UPDATE places.pending_edit SET status = $2, decided_by = $3, decided_at = now(), decision_note = $4 WHERE id = $1`, [id, status, by, note]);
}

export async function pendingEditsOfPlace(q: Queryable, placeUid: string): Promise<PendingEdit[]> {
  const { rows } = await q.query(`SELECT * FROM places.pending_edit WHERE place_uid = $1 AND status = 'pending' ORDER BY submitted_at`, [placeUid]);
  return rows.map(toPending);
}

export async function pendingEditsIn(q: Queryable, t: { level: 'region' | 'departement'; code: string }, limit = 200) {
  const { rows } = await q.query(
    `SELECT e.*, p.nom, p.commune FROM places.pending_edit e JOIN places.place p ON p.uid = e.place_uid
     WHERE e.status = 'pending' AND p.${t.level === 'region' ? 'region' : 'departement'} = $2
     ORDER BY e.submitted_at LIMIT $1`,
    [limit, t.code],
  );
  return rows.map((r) => ({ ...toPending(r), placeName: r.nom as string, placeCommune: r.commune as string }));
}

// ---------------------------------------------------------------------------------------------
// Moderation settings

export async function moderationSettings(q: Queryable, region: string | null, departement: string | null): Promise<{ region: boolean | null; departement: boolean | null }> {
  const { rows } = await q.query<{ level: string; moderated: boolean }>(
    `SELECT level, moderated FROM places.moderation_setting WHERE (level = 'region' AND code = $1) OR (level = 'departement' AND code = $2)`,
    [region ?? '', departement ?? ''],
  );
  return {
    region: rows.find((r) => r.level === 'region')?.moderated ?? null,
    departement: rows.find((r) => r.level === 'departement')?.moderated ?? null,
  };
}

export async function setModeration(q: Queryable, level: 'region' | 'departement', code: string, moderated: boolean | null, by: string): Promise<void> {
  if (moderated === null) {
    await q.query('DELETE FROM places.moderation_setting WHERE level = $1 AND code = $2', [level, code]);
    return;
  }
  await q.query(
    `INSERT INTO places.moderation_setting (level, code, moderated, updated_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (level, code) DO UPDATE SET moderated = $3, updated_by = $4, updated_at = now()`,
    [level, code, moderated, by],
  );
}

// ---------------------------------------------------------------------------------------------
// Territory dashboard

export async function territoryCounts(q: Queryable, t: { level: 'region' | 'departement'; code: string }) {
  const col = t.level === 'region' ? 'region' : 'departement';
  const { rows } = await q.query<{ total: number; visible: number; stale: number; claims: number; edits: number }>(
    `SELECT
       (SELECT count(*)::int FROM places.place WHERE ${col} = $1) AS total,
       (SELECT count(*)::int FROM places.place WHERE ${col} = $1 AND visible) AS visible,
       (SELECT count(*)::int FROM places.place WHERE ${col} = $1 AND visible AND date_maj < current_date - interval '1 year') AS stale,
       (SELECT count(*)::int FROM places.claim c JOIN places.place p ON p.uid = c.place_uid WHERE c.status = 'pending' AND p.${col} = $1) AS claims,
       (SELECT count(*)::int FROM places.pending_edit e JOIN places.place p ON p.uid = e.place_uid WHERE e.status = 'pending' AND p.${col} = $1) AS edits`,
    [t.code],
  );
  return rows[0]!;
}

/** Places of a territory whose data were not updated for over a year (oldest first). */
export async function stalePlaces(q: Queryable, t: { level: 'region' | 'departement'; code: string }, limit = 100, offset = 0) {
  const col = t.level === 'region' ? 'region' : 'departement';
  const { rows } = await q.query<{ uid: string; nom: string; commune: string; date_maj: string; import_source: string }>(
    `SELECT uid, nom, commune, date_maj, import_source FROM places.place
     WHERE ${col} = $1 AND visible AND date_maj < current_date - interval '1 year'
     ORDER BY date_maj, uid LIMIT $2 OFFSET $3`,
    [t.code, limit, offset],
  );
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Sources

export interface Source {
  name: string;
  label: string;
  producer: string | null;
  contact: string | null;
  url: string | null;
  mapping: MappingFile | null;
  mappingFileName: string | null;
  /** Territories allowed to feed it from the back office: `region:84`, `departement:69`. */
  territories: string[];
  createdAt: string;
  updatedAt: string;
  places?: number;
}

function toSource(r: Record<string, unknown>): Source {
  return {
    name: r.name as string,
    label: r.label as string,
    producer: (r.producer as string | null) ?? null,
    contact: (r.contact as string | null) ?? null,
    url: (r.url as string | null) ?? null,
    mapping: (r.mapping as MappingFile | null) ?? null,
    mappingFileName: (r.mapping_file_name as string | null) ?? null,
    territories: (r.territories as string[] | null) ?? [],
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    places: r.places === undefined ? undefined : Number(r.places),
  };
}

export async function listSources(q: Queryable): Promise<Source[]> {
  const { rows } = await q.query(
    `SELECT s.*, (SELECT count(*)::int FROM places.place p WHERE p.import_source = s.name) AS places FROM places.source s ORDER BY s.label, s.name`,
  );
  return rows.map(toSource);
}

/** import_source values present in places but not described as a source yet. */
export async function undescribedSources(q: Queryable): Promise<{ name: string; places: number }[]> {
  const { rows } = await q.query<{ name: string; places: number }>(
    `SELECT import_source AS name, count(*)::int AS places FROM places.place
     WHERE import_source NOT IN (SELECT name FROM places.source) GROUP BY import_source ORDER BY import_source`,
  );
  return rows;
}

export async function getSource(q: Queryable, name: string): Promise<Source | null> {
  const { rows } = await q.query('SELECT * FROM places.source WHERE name = $1', [name]);
  return rows[0] ? toSource(rows[0]) : null;
}

export async function upsertSource(
  q: Queryable,
  s: { name: string; label: string; producer: string | null; contact: string | null; url: string | null; territories: string[] },
): Promise<void> {
  await q.query(
    `INSERT INTO places.source (name, label, producer, contact, url, territories) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (name) DO UPDATE SET label = $2, producer = $3, contact = $4, url = $5, territories = $6, updated_at = now()`,
    [s.name, s.label, s.producer, s.contact, s.url, s.territories],
  );
}

export async function setSourceMapping(q: Queryable, name: string, mapping: MappingFile | null, fileName: string | null): Promise<void> {
  await q.query('UPDATE places.source SET mapping = $2::jsonb, mapping_file_name = $3, updated_at = now() WHERE name = $1', [
    name,
    mapping === null ? null : JSON.stringify(mapping),
    fileName,
  ]);
}

// ---------------------------------------------------------------------------------------------
// Import runs (written by the module's import; read here for the history pages)

export async function getImportRun(q: Queryable, runId: number) {
  if (!Number.isSafeInteger(runId) || runId <= 0) return null;
  const { rows } = await q.query<{
    run_id: number; import_source: string; file_name: string | null; file_sha256: string | null; actor: string; finished_at: Date | string;
    rows_read: number; inserted: number; updated: number; unchanged: number; refused: number; removed: number; warnings: number;
    unreadable: number; would_remove: number; replace_kept_reasons: string[] | null; undone_at: Date | string | null; quality: Record<string, number> | null;
  }>(
    `SELECT run_id, import_source, file_name, file_sha256, actor, finished_at, rows_read, inserted, updated, unchanged, refused, removed, warnings,
            unreadable, would_remove, replace_kept_reasons, undone_at, quality
     FROM places.import_run WHERE run_id = $1`,
    [runId],
  );
  return rows[0] ?? null;
}

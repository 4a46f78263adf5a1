/**
 * The audit trail: an append-only (enforced by database triggers), hash-chained log of every change
 * that matters. Each entry's hash covers the previous entry's hash and a canonical JSON of the
 * entry (sequence number, time, actor, action, object, before, after, meta), so editing, deleting
 * or inserting an entry anywhere breaks the chain from that point on. See README.md.
 */
import crypto from 'node:crypto';
import type { Db, Queryable } from '../db/index.ts';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditInput {
  /** Who: a user id, or null for the system (CLI, jobs). */
  actorId: string | null;
  /** What, as `<area>.<verb>`: 'accounts.signin', 'accounts.role.grant', 'places.update'… */
  action: string;
  objectType: string;
  objectId?: string | null;
  before?: unknown;
  after?: unknown;
  /** Context: IP address, method, reason… */
  meta?: Record<string, unknown> | null;
}

export interface AuditEntry {
  seq: number;
  at: string; // ISO 8601, millisecond precision
  actorId: string | null;
  action: string;
  objectType: string;
  objectId: string | null;
  before: unknown;
  after: unknown;
  meta: Record<string, unknown> | null;
  prevHash: string;
  hash: string;
}

/** JSON with object keys sorted at every level; `undefined` members dropped (as JSON does). */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
  return JSON.stringify(value);
}

/** The hash of an entry: SHA-256 over the previous hash and the canonical JSON of its content. */
export function entryHash(prevHash: string, e: Omit<AuditEntry, 'hash' | 'prevHash'>): string {
  const content = canonicalJson({
    seq: e.seq,
    at: e.at,
    actorId: e.actorId,
    action: e.action,
    objectType: e.objectType,
    objectId: e.objectId,
    before: e.before ?? null,
    after: e.after ?? null,
    meta: e.meta ?? null,
  });
  return crypto.createHash('sha256').update(prevHash).update('\n').update(content).digest('hex');
}

/** What the database will give back for a JSON value (jsonb drops undefined, keeps key content). */
function asStored(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  return JSON.parse(JSON.stringify(value));
}

function isDb(q: Queryable): q is Db {
  return typeof (q as Partial<Db>).transaction === 'function';
}

/**
 * Appends one entry. Pass the transaction of the change being audited so both commit or neither
 * does; given the database itself, it opens its own transaction. Appends are serialised by a row
 * lock on the chain head, held until the caller's transaction ends.
 */
export async function recordAudit(db: Queryable, input: AuditInput): Promise<AuditEntry> {
  if (isDb(db)) return db.transaction((tx) => append(tx, input));
  return append(db, input);
}

async function append(tx: Queryable, input: AuditInput): Promise<AuditEntry> {
  if (!/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/.test(input.action)) throw new Error(`recordAudit: action "${input.action}" must look like "area.verb"`);
  const head = await tx.query<{ seq: number; hash: string }>('SELECT seq, hash FROM platform.audit_head WHERE id = 1 FOR UPDATE');
  const prev = head.rows[0];
  if (!prev) throw new Error('recordAudit: the audit chain head is missing (migration 002_audit not applied?)');
  const body = {
    seq: Number(prev.seq) + 1,
    at: new Date().toISOString(),
    actorId: input.actorId,
    action: input.action,
    objectType: input.objectType,
    objectId: input.objectId ?? null,
    before: asStored(input.before),
    after: asStored(input.after),
    meta: (asStored(input.meta) as Record<string, unknown> | null) ?? null,
  };
  const hash = entryHash(prev.hash, body);
  const json = (v: unknown) => (v === null ? null : JSON.stringify(v));
  await tx.query(
    `INSERT INTO platform.audit_entry (seq, at, actor_id, action, object_type, object_id, before, after, meta, prev_hash, hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9::jsonb, $10, $11)`,
    [body.seq, body.at, body.actorId, body.action, body.objectType, body.objectId, json(body.before), json(body.after), json(body.meta), prev.hash, hash],
  );
  await tx.query('UPDATE platform.audit_head SET seq = $1, hash = $2 WHERE id = 1', [body.seq, hash]);
  return { ...body, prevHash: prev.hash, hash };
}

interface EntryRow {
  seq: number;
  at: Date | string;
  actor_id: string | null;
  action: string;
  object_type: string;
  object_id: string | null;
  before: unknown;
  after: unknown;
  meta: Record<string, unknown> | null;
  prev_hash: string;
  hash: string;
}

const COLUMNS = 'seq, at, actor_id, action, object_type, object_id, before, after, meta, prev_hash, hash';

function toEntry(r: EntryRow): AuditEntry {
  return {
    seq: Number(r.seq),
    at: (r.at instanceof Date ? r.at : new Date(r.at)).toISOString(),
    actorId: r.actor_id,
    action: r.action,
    objectType: r.object_type,
    objectId: r.object_id,
    before: r.before ?? null,
    after: r.after ?? null,
    meta: r.meta ?? null,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

export type VerifyResult =
  | { ok: true; count: number; headHash: string }
  | { ok: false; count: number; seq: number; reason: string };

/**
 * Walks the whole chain in order and recomputes every hash. Returns ok, or the first entry where
 * the chain breaks and why (changed content, broken link, missing entry, head mismatch).
 */
export async function verifyAudit(db: Queryable, batchSize = 1000): Promise<VerifyResult> {
  let prevHash = GENESIS_HASH;
  let expected = 1;
  let count = 0;
  for (;;) {
    const { rows } = await db.query<EntryRow>(`SELECT ${COLUMNS} FROM platform.audit_entry WHERE seq >= $1 ORDER BY seq LIMIT $2`, [expected, batchSize]);
    for (const row of rows) {
      const e = toEntry(row);
      if (e.seq !== expected) return { ok: false, count, seq: expected, reason: `entry ${expected} is missing (next entry is ${e.seq})` };
      if (e.prevHash !== prevHash) return { ok: false, count, seq: e.seq, reason: `entry ${e.seq} does not link to the previous entry` };
      if (entryHash(prevHash, e) !== e.hash) return { ok: false, count, seq: e.seq, reason: `entry ${e.seq} was changed after it was written` };
      prevHash = e.hash;
      expected++;
      count++;
    }
    if (rows.length < batchSize) break;
  }
  const before = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM platform.audit_entry WHERE seq < 1');
  if ((before.rows[0]?.n ?? 0) > 0) return { ok: false, count, seq: 0, reason: 'entries with a sequence number below 1 were inserted' };
  const head = (await db.query<{ seq: number; hash: string }>('SELECT seq, hash FROM platform.audit_head WHERE id = 1')).rows[0];
  if (!head) return { ok: false, count, seq: expected, reason: 'the chain head is missing' };
  if (Number(head.seq) !== count || head.hash !== prevHash) {
    return { ok: false, count, seq: Math.min(Number(head.seq), count) + 1, reason: `the chain head (entry ${head.seq}) does not match the last entry (${count}): entries were removed or added` };
  }
  return { ok: true, count, headHash: prevHash };
}

export interface AuditQuery {
  objectType?: string;
  objectId?: string;
  actorId?: string;
  /** Entries with seq below this (cursor pagination, newest first). */
  beforeSeq?: number;
  limit?: number;
}

/** Entries, newest first, filtered by object or actor. */
export async function listAudit(db: Queryable, q: AuditQuery = {}): Promise<AuditEntry[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (q.objectType) where.push(`object_type = $${params.push(q.objectType)}`);
  if (q.objectId) where.push(`object_id = $${params.push(q.objectId)}`);
  if (q.actorId) where.push(`actor_id = $${params.push(q.actorId)}`);
  if (q.beforeSeq) where.push(`seq < $${params.push(q.beforeSeq)}`);
  const limit = Math.min(Math.max(q.limit ?? 50, 1), 500);
  const { rows } = await db.query<EntryRow>(
    `SELECT ${COLUMNS} FROM platform.audit_entry ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ${limit}`,
    params,
  );
  return rows.map(toEntry);
}

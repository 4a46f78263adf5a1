/**
 * The audit trail: an append-only (enforced by database triggers), hash-chained log of every change
 * that matters. Each entry's hash is an HMAC-SHA-256, under a key kept outside the database, over
 * the previous entry's hash, the key's id and a canonical JSON of the entry (sequence number, time,
 * actor, action, object, before, after, meta): editing, deleting or inserting an entry anywhere
 * breaks the chain from that point on, and whoever can only write the database cannot recompute it.
 * Entries written before the chain was keyed (migration 003) keep their plain SHA-256 and are
 * verified as before. Operators anchor the chain by noting its head (`maillage audit head`) and
 * checking later that it is still there (`audit verify --expect-head`): that catches a cut tail.
 * See README.md.
 */
import crypto from 'node:crypto';
import { loadConfig, secretKeys, type Config } from '../config.ts';
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
  /** Id of the key that signed the entry; null for the legacy (unkeyed) prefix. */
  keyId: string | null;
}

// ---------------------------------------------------------------------------------------------
// Keys

/** The audit keys: the current one signs new entries; all of them verify. */
export interface AuditKeyring {
  current: { id: string; key: Buffer };
  byId: Map<string, Buffer>;
}

function auditKey(material: string, derivedFromSecretKey: boolean): { id: string; key: Buffer } {
  const key = crypto.createHash('sha256').update(derivedFromSecretKey ? `maillage-audit-from-secret-key:${material}` : `maillage-audit-key:${material}`).digest();
  // The id names the key without revealing it (a hash of the derived key, 16 hex digits).
  const id = crypto.createHash('sha256').update('maillage-audit-key-id:').update(key).digest('hex').slice(0, 16);
  return { id, key };
}

/** AUDIT_KEY (+ AUDIT_KEY_PREVIOUS) when set; otherwise keys derived from SECRET_KEY (+ SECRET_KEY_PREVIOUS). */
export function auditKeyring(config: Pick<Config, 'auditKey' | 'auditKeyPrevious' | 'secretKey' | 'secretKeyPrevious' | 'env'>): AuditKeyring {
  const keys = config.auditKey
    ? [config.auditKey, ...config.auditKeyPrevious].map((k) => auditKey(k, false))
    : [...secretKeys(config).map((k) => auditKey(k, true)), ...config.auditKeyPrevious.map((k) => auditKey(k, false))];
  return { current: keys[0]!, byId: new Map(keys.map((k) => [k.id, k.key])) };
}

let configured: AuditKeyring | null = null;

/** Sets the keys from the configuration (the server and the CLI call this at start). */
export function configureAudit(config: Config): void {
  configured = auditKeyring(config);
}

function ring(): AuditKeyring {
  configured ??= auditKeyring(loadConfig());
  return configured;
}

/** The keys in use (those set by configureAudit, else from the configuration): for modules that key their own chains. */
export function currentAuditKeyring(): AuditKeyring {
  return ring();
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

type EntryBody = Omit<AuditEntry, 'hash' | 'prevHash' | 'keyId'>;

function entryContent(e: EntryBody): string {
  return canonicalJson({
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
}

/** The hash of a legacy entry (before keying): SHA-256 over the previous hash and the content. */
export function legacyEntryHash(prevHash: string, e: EntryBody): string {
  return crypto.createHash('sha256').update(prevHash).update('\n').update(entryContent(e)).digest('hex');
}

/** The hash of an entry: HMAC-SHA-256 under the audit key over the previous hash, the key's id and the content. */
export function entryHash(key: { id: string; key: Buffer }, prevHash: string, e: EntryBody): string {
  return crypto.createHmac('sha256', key.key).update(prevHash).update('\n').update(key.id).update('\n').update(entryContent(e)).digest('hex');
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
  const key = ring().current;
  const hash = entryHash(key, prev.hash, body);
  const json = (v: unknown) => (v === null ? null : JSON.stringify(v));
  await tx.query(
    `INSERT INTO platform.audit_entry (seq, at, actor_id, action, object_type, object_id, before, after, meta, prev_hash, hash, key_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9::jsonb, $10, $11, $12)`,
    [body.seq, body.at, body.actorId, body.action, body.objectType, body.objectId, json(body.before), json(body.after), json(body.meta), prev.hash, hash, key.id],
  );
  await tx.query('UPDATE platform.audit_head SET seq = $1, hash = $2 WHERE id = 1', [body.seq, hash]);
  return { ...body, prevHash: prev.hash, hash, keyId: key.id };
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
  key_id: string | null;
}

const COLUMNS = 'seq, at, actor_id, action, object_type, object_id, before, after, meta, prev_hash, hash, key_id';

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
    keyId: r.key_id ?? null,
  };
}

export type VerifyResult =
  | { ok: true; count: number; headHash: string; headSeq: number; legacyCount: number }
  | { ok: false; count: number; seq: number; reason: string };

/** The head to note down: `<seq>:<hash>`, as `audit head` prints it and `--expect-head` takes it. */
export interface AuditHead {
  seq: number;
  hash: string;
  at: string | null;
  /** Entries before keying (plain SHA-256), verified as before. */
  legacyCount: number;
  token: string;
}

export async function auditHead(db: Queryable): Promise<AuditHead> {
  const head = (await db.query<{ seq: number; hash: string }>('SELECT seq, hash FROM platform.audit_head WHERE id = 1')).rows[0];
  if (!head) throw new Error('The audit chain head is missing: run "maillage migrate".');
  const at = (await db.query<{ at: Date | string }>('SELECT at FROM platform.audit_entry WHERE seq = $1', [head.seq])).rows[0]?.at;
  const seq = Number(head.seq);
  return { seq, hash: head.hash, at: at ? new Date(at).toISOString() : null, legacyCount: await legacyCount(db), token: `${seq}:${head.hash}` };
}

async function legacyCount(db: Queryable): Promise<number> {
  return Number((await db.query<{ last_seq: number }>('SELECT last_seq FROM platform.audit_legacy WHERE id = 1')).rows[0]?.last_seq ?? 0);
}

/** Parses a head noted earlier: `<seq>:<hash>` (as printed) or the hash alone. */
export function parseHead(token: string): { seq: number | null; hash: string } {
  const m = /^\s*(?:(\d{1,18}):)?([0-9a-f]{64})\s*$/i.exec(token);
  if (!m) throw new Error(`--expect-head: "${token}" is not a head as "maillage audit head" prints it (<entry number>:<64 hexadecimal digits>)`);
  return { seq: m[1] === undefined ? null : Number(m[1]), hash: m[2]!.toLowerCase() };
}

export interface VerifyOptions {
  /** A head noted earlier (`<seq>:<hash>` or the hash): it must still be in the chain. */
  expectHead?: string;
  batchSize?: number;
  /** The keys to verify with (default: those of the configuration). */
  keyring?: AuditKeyring;
  /**
   * Called with each batch of entries once their hashes are verified (in order, seq ascending), so
   * a module that seals its own rows in the chain checks them in the same pass; a string returned
   * stops the walk and becomes the failure's reason (at the batch's first entry unless the string
   * starts with `#<seq> `).
   */
  onBatch?: (entries: AuditEntry[]) => Promise<string | null>;
  /**
   * Stop after this entry (a module checking its rows sealed up to there): the entries after it,
   * the head and the anchor are not checked — `audit verify` checks the whole chain.
   */
  stopAfterSeq?: number;
}

/**
 * Walks the whole chain in order and recomputes every hash. Returns ok, or the first entry where
 * the chain breaks and why (changed content, broken link, missing entry, unknown key, head
 * mismatch, anchored head no longer in the chain).
 */
export async function verifyAudit(db: Queryable, options: VerifyOptions = {}): Promise<VerifyResult> {
  const batchSize = options.batchSize ?? 1000;
  const keys = options.keyring ?? ring();
  const anchor = options.expectHead === undefined ? null : parseHead(options.expectHead);
  let anchorFound = false;
  const legacy = await legacyCount(db);
  let prevHash = GENESIS_HASH;
  let expected = 1;
  let count = 0;
  // The next batch is fetched while this one is hashed (the database and Node work side by side).
  const stop = options.stopAfterSeq;
  const fetch = (from: number) => {
    const p = stop === undefined
      ? db.query<EntryRow>(`SELECT ${COLUMNS} FROM platform.audit_entry WHERE seq >= $1 ORDER BY seq LIMIT $2`, [from, batchSize])
      : db.query<EntryRow>(`SELECT ${COLUMNS} FROM platform.audit_entry WHERE seq >= $1 AND seq <= $3 ORDER BY seq LIMIT $2`, [from, batchSize, stop]);
    p.catch(() => undefined); // a walk that stops early leaves its prefetch unread
    return p;
  };
  let pending = fetch(expected);
  for (;;) {
    const { rows } = await pending;
    if (rows.length === batchSize) pending = fetch(Number(rows[rows.length - 1]!.seq) + 1);
    const entries = options.onBatch ? ([] as AuditEntry[]) : null;
    for (const row of rows) {
      const e = toEntry(row);
      entries?.push(e);
      if (e.seq !== expected) return { ok: false, count, seq: expected, reason: `entry ${expected} is missing (next entry is ${e.seq})` };
      if (e.prevHash !== prevHash) return { ok: false, count, seq: e.seq, reason: `entry ${e.seq} does not link to the previous entry` };
      if (e.seq <= legacy) {
        if (e.keyId !== null || legacyEntryHash(prevHash, e) !== e.hash) return { ok: false, count, seq: e.seq, reason: `entry ${e.seq} was changed after it was written` };
      } else {
        if (e.keyId === null) return { ok: false, count, seq: e.seq, reason: `entry ${e.seq} is not signed (only the ${legacy} entries written before the chain was keyed may be)` };
        const key = keys.byId.get(e.keyId);
        if (!key) {
          return {
            ok: false,
            count,
            seq: e.seq,
            reason: `entry ${e.seq} is signed with key ${e.keyId}, which is not configured (AUDIT_KEY, AUDIT_KEY_PREVIOUS, or SECRET_KEY and SECRET_KEY_PREVIOUS when AUDIT_KEY is unset)`,
          };
        }
        if (entryHash({ id: e.keyId, key }, prevHash, e) !== e.hash) return { ok: false, count, seq: e.seq, reason: `entry ${e.seq} was changed after it was written` };
      }
      if (anchor && e.hash === anchor.hash) {
        if (anchor.seq !== null && anchor.seq !== e.seq) return { ok: false, count, seq: e.seq, reason: `the expected head is entry ${anchor.seq}, but its hash is that of entry ${e.seq}` };
        anchorFound = true;
      }
      prevHash = e.hash;
      expected++;
      count++;
    }
    if (entries?.length) {
      const failure = await options.onBatch!(entries);
      if (failure !== null) {
        const at = /^#(\d+) /.exec(failure);
        return { ok: false, count, seq: at ? Number(at[1]) : entries[0]!.seq, reason: at ? failure.slice(at[0].length) : failure };
      }
    }
    if (rows.length < batchSize) break;
  }
  if (stop !== undefined) {
    if (count < stop) return { ok: false, count, seq: expected, reason: `entry ${expected} is missing (the chain ends at entry ${count})` };
    return { ok: true, count, headHash: prevHash, headSeq: count, legacyCount: Math.min(legacy, count) };
  }
  const before = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM platform.audit_entry WHERE seq < 1');
  if ((before.rows[0]?.n ?? 0) > 0) return { ok: false, count, seq: 0, reason: 'entries with a sequence number below 1 were inserted' };
  const head = (await db.query<{ seq: number; hash: string }>('SELECT seq, hash FROM platform.audit_head WHERE id = 1')).rows[0];
  if (!head) return { ok: false, count, seq: expected, reason: 'the chain head is missing' };
  if (Number(head.seq) !== count || head.hash !== prevHash) {
    return { ok: false, count, seq: Math.min(Number(head.seq), count) + 1, reason: `the chain head (entry ${head.seq}) does not match the last entry (${count}): entries were removed or added` };
  }
  if (anchor && !anchorFound && !(anchor.hash === GENESIS_HASH && (anchor.seq ?? 0) === 0)) {
    const at = anchor.seq === null ? '' : ` (entry ${anchor.seq})`;
    return {
      ok: false,
      count,
      seq: anchor.seq ?? count + 1,
      reason:
        anchor.seq !== null && anchor.seq > count
          ? `the expected head${at} is past the end of the chain (${count} entries): the trail was truncated`
          : `the expected head${at} is no longer in the chain: history was rewritten or truncated since it was noted`,
    };
  }
  return { ok: true, count, headHash: prevHash, headSeq: count, legacyCount: Math.min(legacy, count) };
}

export interface AuditQuery {
  objectType?: string;
  objectId?: string;
  actorId?: string;
  /** Entries by any of these people. */
  actorIds?: string[];
  /** Only these kinds of object. */
  objectTypes?: string[];
  /** Only these actions. */
  actions?: string[];
  /** Entries at or after this instant, and before that one (ISO 8601). */
  since?: string;
  until?: string;
  /** Entries with seq below this (cursor pagination, newest first). */
  beforeSeq?: number;
  limit?: number;
}

/** Entries, newest first, filtered by object, actor, action, kind of object and time. */
export async function listAudit(db: Queryable, q: AuditQuery = {}): Promise<AuditEntry[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (q.objectType) where.push(`object_type = $${params.push(q.objectType)}`);
  if (q.objectId) where.push(`object_id = $${params.push(q.objectId)}`);
  if (q.actorId) where.push(`actor_id = $${params.push(q.actorId)}`);
  if (q.actorIds) where.push(`actor_id = ANY($${params.push(q.actorIds)}::text[])`);
  if (q.objectTypes) where.push(`object_type = ANY($${params.push(q.objectTypes)}::text[])`);
  if (q.actions) where.push(`action = ANY($${params.push(q.actions)}::text[])`);
  if (q.since) where.push(`at >= $${params.push(q.since)}::timestamptz`);
  if (q.until) where.push(`at < $${params.push(q.until)}::timestamptz`);
  if (q.beforeSeq) where.push(`seq < $${params.push(q.beforeSeq)}`);
  const limit = Math.min(Math.max(q.limit ?? 50, 1), 500);
  const { rows } = await db.query<EntryRow>(
    `SELECT ${COLUMNS} FROM platform.audit_entry ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ${limit}`,
    params,
  );
  return rows.map(toEntry);
}

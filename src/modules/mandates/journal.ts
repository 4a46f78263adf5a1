/**
 * The mandates journal's chain (format 2, migration 006) and its verification.
 *
 * Each entry has a number (`seq`, 1, 2, 3…) and `hash` = SHA-256(hash of the entry before ‖
 * journal_body(row)), computed by PostgreSQL when the row is inserted (the same SQL function
 * verifies it: no re-serialisation in Node). The chain is keyed by HMACs under a key derived from
 * the audit key (AUDIT_KEY or SECRET_KEY, never in the database): a checkpoint every
 * CHECKPOINT_EVERY entries and the head, rewritten at each append. Entry 0 is the genesis
 * checkpoint: it records how many rows of format 1 (each sealed in the platform audit chain, before
 * migration 006) exist and the last audit entry sealing one, so those are verified as before and
 * none can be added or removed.
 *
 * Verification: the links of every entry are recomputed in SQL (in C, several ranges at once on
 * PostgreSQL), only the checkpoints' and the head's HMACs in Node. Threat model: someone who can
 * write the database but has not the key. An edited, deleted, inserted or reordered row breaks a
 * link, found at its entry; recomputing the chain from an edited row on makes its hashes
 * consistent but they no longer match the next keyed checkpoint (or the head), which the attacker
 * cannot re-sign: found within CHECKPOINT_EVERY entries. A cut tail with an older head put back is
 * found with an anchor noted earlier (`--expect-head`), as for the platform audit.
 */
import crypto from 'node:crypto';
import type { Db, Queryable } from '../../platform/db/index.ts';
import { currentAuditKeyring, verifyAudit, type AuditKeyring } from '../../platform/audit/index.ts';
import { canonicalJson } from '../../platform/audit/index.ts';
import { UserError } from '../../platform/http/errors.ts';
import type { JournalRow } from './service.ts';

/** A keyed checkpoint every this many entries (the span within which a recomputed chain is located). */
export const CHECKPOINT_EVERY = 1000;
let newChainEvery = CHECKPOINT_EVERY;
/** Tests: start the chain with a smaller checkpoint interval (recorded in the genesis, so verification follows it). */
export const journalTesting = { setCheckpointEvery(n: number) { newChainEvery = n; } };
const GENESIS_PREFIX = 'maillage-mandates-journal-v2';

function journalKey(k: { id: string; key: Buffer }): Buffer {
  return crypto.createHmac('sha256', k.key).update('maillage-mandates-journal-checkpoints').digest();
}

function mac(key: Buffer, kind: 'head' | 'checkpoint', seq: number, hash: Buffer): Buffer {
  return crypto.createHmac('sha256', key).update(`${GENESIS_PREFIX}\n${kind}\n${seq}\n${hash.toString('hex')}`).digest();
}

const buf = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array));

/** A journal row as appended: the row without its id (any event name: old rows are verified too). */
export type JournalEntryInput = Omit<JournalRow, 'id' | 'event'> & { event: string };

/** Starts the chain (entry 0, the genesis checkpoint) on the first append after migration 006. */
async function startChain(tx: Queryable): Promise<void> {
  const legacy = (await tx.query<{ n: string; last: string | null }>('SELECT count(*) AS n, max(audit_seq) AS last FROM mandates.journal WHERE format = 1')).rows[0]!;
  const genesis = `${GENESIS_PREFIX}\ncheckpoint-every ${newChainEvery}\nformat-1-rows ${Number(legacy.n)}\nformat-1-last-audit-seq ${Number(legacy.last ?? 0)}`;
  const k = currentAuditKeyring().current;
  const hash = crypto.createHash('sha256').update(genesis).digest();
  const key = journalKey(k);
  await tx.query('INSERT INTO mandates.journal_checkpoint (seq, hash, genesis, key_id, mac) VALUES (0, $1, $2, $3, $4) ON CONFLICT DO NOTHING', [hash, genesis, k.id, mac(key, 'checkpoint', 0, hash)]);
  await tx.query('INSERT INTO mandates.journal_head (id, seq, hash, key_id, mac) VALUES (1, 0, $1, $2, $3) ON CONFLICT DO NOTHING', [hash, k.id, mac(key, 'head', 0, hash)]);
}

/**
 * Appends one entry at the end of the chain, in the caller's transaction (which has recorded the
 * audit entry `auditSeq`): the head's row lock serialises appends until the transaction ends.
 */
export async function appendEntry(tx: Queryable, e: JournalEntryInput, auditSeq: number): Promise<void> {
  const headSql = "SELECT h.seq, c.genesis FROM mandates.journal_head h LEFT JOIN mandates.journal_checkpoint c ON c.seq = 0 WHERE h.id = 1 FOR UPDATE OF h";
  let head = (await tx.query<{ seq: string; genesis: string | null }>(headSql)).rows[0];
  if (!head) {
    await startChain(tx);
    head = (await tx.query<{ seq: string; genesis: string | null }>(headSql)).rows[0]!;
  }
  const every = Number(/\ncheckpoint-every (\d+)\n/.exec(head.genesis ?? '')?.[1] ?? CHECKPOINT_EVERY);
  const seq = Number(head.seq) + 1;
  const { rows } = await tx.query<{ hash: Uint8Array }>(
    `INSERT INTO mandates.journal (at, event, structure_id, mandate_id, actor_kind, actor_id, procedure, detail, audit_seq, format, seq, hash)
     SELECT v.at, v.event, v.structure_id, v.mandate_id, v.actor_kind, v.actor_id, v.procedure, v.detail, v.audit_seq, 2, v.seq,
            sha256(h.hash || mandates.journal_body(v.seq, v.at, v.event, v.structure_id, v.mandate_id, v.actor_kind, v.actor_id, v.procedure, v.detail, v.audit_seq))
       FROM (SELECT $1::timestamptz AS at, $2::text AS event, $3::uuid AS structure_id, $4::uuid AS mandate_id, $5::text AS actor_kind, $6::text AS actor_id,
                    $7::text AS procedure, $8::jsonb AS detail, $9::bigint AS audit_seq, $10::bigint AS seq) v
       CROSS JOIN mandates.journal_head h WHERE h.id = 1
     RETURNING hash`,
    [e.at, e.event, e.structureId, e.mandateId, e.actorKind, e.actorId, e.procedure, e.detail === null ? null : JSON.stringify(e.detail), auditSeq, seq],
  );
  const hash = buf(rows[0]!.hash);
  const k = currentAuditKeyring().current;
  const key = journalKey(k);
  await tx.query('UPDATE mandates.journal_head SET seq = $1, hash = $2, key_id = $3, mac = $4 WHERE id = 1', [seq, hash, k.id, mac(key, 'head', seq, hash)]);
  if (seq % every === 0) {
    await tx.query('INSERT INTO mandates.journal_checkpoint (seq, hash, key_id, mac) VALUES ($1, $2, $3, $4)', [seq, hash, k.id, mac(key, 'checkpoint', seq, hash)]);
  }
}

export type JournalVerify =
  | { ok: true; entries: number; head: string | null }
  | { ok: false; entries: number; seq: number | null; journalId: number | null; auditSeq: number | null; reason: string };
type Failure = Extract<JournalVerify, { ok: false }>;

export interface JournalVerifyOptions {
  /** Ranges checked at once (connections); default 2 on PostgreSQL, 1 on the embedded database. */
  parallel?: number;
  /** A head noted earlier (`<seq>:<hex hash>`, as `journal verify` prints it): it must still be in the chain. */
  expectHead?: string;
  keyring?: AuditKeyring;
  /** Batch size of the audit walk for format-1 rows. */
  batchSize?: number;
}

/** `<seq>:<hash>` as printed after a successful verification. */
export function parseJournalHead(token: string): { seq: number; hash: string } {
  const m = /^\s*(\d{1,18}):([0-9a-f]{64})\s*$/i.exec(token);
  if (!m) throw new UserError(`--expect-head: "${token.slice(0, 100)}" is not a journal head as "mandates journal verify" prints it (<entry number>:<64 hexadecimal digits>)`, 400, "expect-head");
  return { seq: Number(m[1]), hash: m[2]!.toLowerCase() };
}

const HASH_SQL = 'sha256(coalesce(lag(hash) OVER w, $3::bytea) || mandates.journal_body(seq, at, event, structure_id, mandate_id, actor_kind, actor_id, procedure, detail, audit_seq))';

/** Checks entries [from, to] of the chain in one statement; the first bad one, or null. */
async function checkRange(db: Queryable, from: number, to: number, prevHash: Buffer): Promise<{ id: number; seq: number; prev: number | null; bad: 'gap' | 'hash' } | null> {
  const { rows } = await db.query<{ id: string; seq: string; prev: string | null; bad: 'gap' | 'hash' }>(
    `SELECT id, seq, prev, bad FROM (
       SELECT id, seq, lag(seq) OVER w AS prev,
              CASE WHEN seq - 1 <> coalesce(lag(seq) OVER w, $1::bigint - 1) THEN 'gap'
                   WHEN hash IS DISTINCT FROM ${HASH_SQL} THEN 'hash' END AS bad
         FROM mandates.journal WHERE format = 2 AND seq BETWEEN $1 AND $2 WINDOW w AS (ORDER BY seq)) x
     WHERE bad IS NOT NULL ORDER BY seq LIMIT 1`,
    [from, to, prevHash],
  );
  const r = rows[0];
  return r ? { id: Number(r.id), seq: Number(r.seq), prev: r.prev === null ? null : Number(r.prev), bad: r.bad } : null;
}

/**
 * Verifies the whole journal: format-1 rows against the platform audit chain (up to the last
 * entry sealing one, as recorded in the genesis), format-2 entries through their links (SQL) and
 * keyed checkpoints and head (Node). Returns the first failure, with the entry number, the row id
 * and why.
 */
export async function verifyJournal(db: Queryable, o: JournalVerifyOptions = {}): Promise<JournalVerify> {
  const ring = o.keyring ?? currentAuditKeyring();
  const keyFor = (id: string) => {
    const k = ring.byId.get(id);
    return k ? journalKey({ id, key: k }) : null;
  };
  const fail = (entries: number, seq: number | null, journalId: number | null, auditSeq: number | null, reason: string): Failure => ({ ok: false, entries, seq, journalId, auditSeq, reason });
  const headRow = (await db.query<{ seq: string; hash: Uint8Array; key_id: string; mac: Uint8Array }>('SELECT seq, hash, key_id, mac FROM mandates.journal_head WHERE id = 1')).rows[0];
  const anchor = o.expectHead === undefined ? null : parseJournalHead(o.expectHead);

  if (!headRow) {
    // No entry of format 2 yet: every row is of format 1, verified against the whole audit chain.
    const v2 = (await db.query<{ id: string }>('SELECT id FROM mandates.journal WHERE format <> 1 ORDER BY id LIMIT 1')).rows[0];
    if (v2) return fail(0, null, Number(v2.id), null, `journal row ${v2.id} claims a place in the chain, but the chain has no head (inserted outside the application)`);
    const cp = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM mandates.journal_checkpoint')).rows[0]!.n;
    if (cp > 0) return fail(0, null, null, null, 'the journal\'s head is missing (deleted) while its checkpoints remain');
    if (anchor && anchor.seq > 0) return fail(0, anchor.seq, null, null, `the expected head (entry ${anchor.seq}) is past the end of the chain (no entry): the journal was truncated`);
    const legacy = await verifyLegacy(db, o, undefined);
    return legacy.ok ? { ok: true, entries: legacy.entries, head: null } : legacy;
  }

  const head = { seq: Number(headRow.seq), hash: buf(headRow.hash), keyId: headRow.key_id, mac: buf(headRow.mac) };
  // Keyed checkpoints (and the genesis), checked against the rows at their entries.
  const cps = (await db.query<{ seq: string; hash: Uint8Array; genesis: string | null; key_id: string; mac: Uint8Array; row_hash: Uint8Array | null; row_id: string | null }>(
    `SELECT c.seq, c.hash, c.genesis, c.key_id, c.mac, j.hash AS row_hash, j.id AS row_id
       FROM mandates.journal_checkpoint c LEFT JOIN mandates.journal j ON j.seq = c.seq AND j.format = 2 ORDER BY c.seq`,
  )).rows;
  const genesisRow = cps[0];
  if (!genesisRow || Number(genesisRow.seq) !== 0 || genesisRow.genesis === null) return fail(0, 0, null, null, 'the genesis checkpoint (entry 0) is missing or altered');
  const gKey = keyFor(genesisRow.key_id);
  const gHash = buf(genesisRow.hash);
  const gm = /^maillage-mandates-journal-v2\ncheckpoint-every ([1-9]\d{0,8})\nformat-1-rows (\d+)\nformat-1-last-audit-seq (\d+)$/.exec(genesisRow.genesis);
  if (!gKey) return fail(0, 0, null, null, `the genesis checkpoint is signed with key ${genesisRow.key_id}, which is not configured (AUDIT_KEY, AUDIT_KEY_PREVIOUS, or SECRET_KEY and SECRET_KEY_PREVIOUS)`);
  if (!gm || !crypto.createHash('sha256').update(genesisRow.genesis).digest().equals(gHash) || !crypto.timingSafeEqual(mac(gKey, 'checkpoint', 0, gHash), buf(genesisRow.mac))) {
    return fail(0, 0, null, null, 'the genesis checkpoint (entry 0) was altered (its HMAC does not match)');
  }
  const every = Number(gm[1]);
  const legacyRows = Number(gm[2]);
  const legacyLastSeq = Number(gm[3]);

  // Format-1 rows: exactly those the genesis counted, sealed in the audit chain up to its entry.
  const legacy = await verifyLegacy(db, o, { rows: legacyRows, lastAuditSeq: legacyLastSeq });
  if (!legacy.ok) return legacy;
  const base = legacy.entries;

  const hKey = keyFor(head.keyId);
  if (!hKey) return fail(base, head.seq, null, null, `the journal's head is signed with key ${head.keyId}, which is not configured`);
  const headMacOk = crypto.timingSafeEqual(mac(hKey, 'head', head.seq, head.hash), head.mac);

  // Every link, in SQL, in `parallel` ranges at once; each range starts from the stored hash before it.
  const parallel = Math.max(1, o.parallel ?? ((db as Partial<Db>).kind === 'postgres' ? 2 : 1));
  const ranges: [number, number][] = [];
  const span = Math.max(every, Math.ceil(head.seq / parallel));
  for (let a = 1; a <= head.seq; a += span) ranges.push([a, Math.min(head.seq, a + span - 1)]);
  const starts = new Map<number, Buffer>([[0, gHash]]);
  const boundaries = ranges.map(([a]) => a - 1).filter((s) => s > 0);
  if (boundaries.length) {
    const { rows } = await db.query<{ seq: string; hash: Uint8Array }>('SELECT seq, hash FROM mandates.journal WHERE format = 2 AND seq = ANY($1::bigint[])', [boundaries]);
    for (const r of rows) starts.set(Number(r.seq), buf(r.hash));
  }
  const found = await Promise.all(ranges.map(([a, b]) => {
    const prev = starts.get(a - 1);
    return prev ? checkRange(db, a, b, prev) : Promise.resolve({ id: 0, seq: a - 1, prev: null, bad: 'gap' as const });
  }));
  let linkFailure: Failure | null = null;
  for (const [i, f] of found.entries()) {
    if (!f) continue;
    const a = ranges[i]![0];
    if (f.id === 0) linkFailure = fail(base + f.seq - 1, f.seq, null, null, `journal entry ${f.seq} is missing (deleted)`);
    else if (f.bad === 'gap') {
      const after = f.prev ?? a - 1;
      linkFailure = f.seq <= after
        ? fail(base + f.seq - 1, f.seq, f.id, null, `journal entry ${f.seq} appears twice: row ${f.id} was inserted outside the application`)
        : fail(base + after, after + 1, null, null, f.seq === after + 2 ? `journal entry ${after + 1} is missing (deleted)` : `journal entries ${after + 1} to ${f.seq - 1} are missing (deleted)`);
    } else {
      linkFailure = fail(base + f.seq - 1, f.seq, f.id, null, `journal entry ${f.seq} (row ${f.id}) was altered, or does not follow entry ${f.seq - 1} (its content no longer matches its hash or its link)`);
    }
    break;
  }
  if (linkFailure) return linkFailure;

  // The links hold: the checkpoints' HMACs tie the hashes to the key (a recomputed chain fails here).
  let expected = every;
  for (const c of cps.slice(1)) {
    const seq = Number(c.seq);
    if (seq !== expected) {
      return seq > expected && expected <= head.seq
        ? fail(base + expected - 1, expected, null, null, `the keyed checkpoint of entry ${expected} is missing (deleted)`)
        : fail(base + Math.min(seq, head.seq) - 1, seq, null, null, `a checkpoint at entry ${seq} was inserted outside the application`);
    }
    if (seq > head.seq) return fail(base + head.seq, seq, null, null, `the checkpoint of entry ${seq} is past the journal's head (entry ${head.seq}): the journal was truncated`);
    const key = keyFor(c.key_id);
    const h = buf(c.hash);
    if (!key) return fail(base + seq - 1, seq, null, null, `the checkpoint of entry ${seq} is signed with key ${c.key_id}, which is not configured`);
    if (!crypto.timingSafeEqual(mac(key, 'checkpoint', seq, h), buf(c.mac))) return fail(base + seq - 1, seq, null, null, `the keyed checkpoint of entry ${seq} was altered (its HMAC does not match)`);
    if (!c.row_hash || !buf(c.row_hash).equals(h)) {
      return fail(base + seq - every, seq, c.row_id === null ? null : Number(c.row_id), null,
        `journal entries ${seq - every + 1} to ${seq} were rewritten (their chain was recomputed without the key: it no longer reaches the keyed checkpoint of entry ${seq})`);
    }
    expected += every;
  }
  if (expected <= head.seq) return fail(base + expected - 1, expected, null, null, `the keyed checkpoint of entry ${expected} is missing (deleted)`);

  // The head: keyed, and the last entry's hash; nothing of format 2 outside [1, head].
  const last = head.seq === 0 ? gHash : starts.get(head.seq) ?? (await db.query<{ hash: Uint8Array }>('SELECT hash FROM mandates.journal WHERE format = 2 AND seq = $1', [head.seq])).rows[0]?.hash;
  const lastCp = Math.floor(head.seq / every) * every;
  if (!headMacOk) return fail(base + lastCp, head.seq, null, null, `the journal's keyed head (entry ${head.seq}) was altered (its HMAC does not match)`);
  if (!last || !buf(last).equals(head.hash)) {
    return fail(base + lastCp, lastCp + 1, null, null, `journal entries ${lastCp + 1} to ${head.seq} were rewritten or removed (they no longer reach the keyed head)`);
  }
  const stray = (await db.query<{ id: string; seq: string | null }>('SELECT id, seq FROM mandates.journal WHERE format NOT IN (1, 2) OR (format = 2 AND (seq < 1 OR seq > $1)) ORDER BY seq LIMIT 1', [head.seq])).rows[0];
  if (stray) return fail(base + head.seq, stray.seq === null ? null : Number(stray.seq), Number(stray.id), null, `journal row ${stray.id} is past the keyed head (entry ${head.seq}): inserted outside the application`);
  if (anchor) {
    if (anchor.seq > head.seq) return fail(base + head.seq, anchor.seq, null, null, `the expected head (entry ${anchor.seq}) is past the end of the chain (${head.seq} entries): the journal was truncated`);
    const at = anchor.seq === 0 ? gHash : buf((await db.query<{ hash: Uint8Array }>('SELECT hash FROM mandates.journal WHERE format = 2 AND seq = $1', [anchor.seq])).rows[0]!.hash);
    if (at.toString('hex') !== anchor.hash) return fail(base + anchor.seq - 1, anchor.seq, null, null, `the expected head (entry ${anchor.seq}) is no longer in the chain: the journal was rewritten since it was noted`);
  }
  return { ok: true, entries: base + head.seq, head: `${head.seq}:${head.hash.toString('hex')}` };
}

// ---------------------------------------------------------------------------------------------
// Format 1 (rows written before migration 006): each row's digest sealed in the platform audit.

interface LegacyRow {
  id: string;
  at: Date | string;
  event: string;
  structure_id: string;
  mandate_id: string | null;
  actor_kind: string;
  actor_id: string | null;
  procedure: string | null;
  detail: unknown;
  audit_seq: string;
  digest: string;
}

export function legacyDigest(e: { at: string; event: string; structureId: string; mandateId: string | null; actorKind: string; actorId: string | null; procedure: string | null; detail: unknown }): string {
  return crypto.createHash('sha256').update(canonicalJson(e)).digest('hex');
}

const unsealed = (id: string, seq: string) => `journal row ${id} is not sealed in the audit chain (inserted outside the application; audit entry ${seq})`;

/**
 * Format-1 rows against the audit chain, walked up to `bound.lastAuditSeq` (the whole chain when
 * there is no genesis yet), matched one to one with its `mandates.journal` entries.
 */
async function verifyLegacy(db: Queryable, o: JournalVerifyOptions, bound: { rows: number; lastAuditSeq: number } | undefined): Promise<{ ok: true; entries: number } | Failure> {
  let checked = 0;
  let failure: Failure | null = null;
  const failAt = (journalId: number | null, auditSeq: number | null, reason: string) => {
    failure = { ok: false, entries: checked, seq: null, journalId, auditSeq, reason };
    return `#${auditSeq ?? 0} ${reason}`;
  };
  if (bound) {
    const n = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM mandates.journal WHERE format = 1')).rows[0]!.n);
    const stray = (await db.query<{ id: string; audit_seq: string }>('SELECT id, audit_seq FROM mandates.journal WHERE format = 1 AND (audit_seq > $1 OR audit_seq < 1) ORDER BY id LIMIT 1', [bound.lastAuditSeq])).rows[0];
    if (stray) return { ok: false, entries: 0, seq: null, journalId: Number(stray.id), auditSeq: Number(stray.audit_seq), reason: `journal row ${stray.id} (format 1) is not among the rows the chain's genesis counted (inserted outside the application)` };
    if (bound.rows === 0) {
      return n === 0 ? { ok: true, entries: 0 } : { ok: false, entries: 0, seq: null, journalId: null, auditSeq: null, reason: `${n} journal rows of format 1 were inserted outside the application (the chain's genesis counted none)` };
    }
  }
  const chain = await verifyAudit(db, {
    batchSize: o.batchSize ?? 5000,
    keyring: o.keyring,
    stopAfterSeq: bound?.lastAuditSeq,
    async onBatch(entries) {
      const sealed = entries.filter((e) => e.objectType === 'mandates.journal');
      const { rows } = await db.query<LegacyRow>('SELECT * FROM mandates.journal WHERE format = 1 AND audit_seq BETWEEN $1 AND $2 ORDER BY audit_seq, id', [entries[0]!.seq, entries[entries.length - 1]!.seq]);
      let k = 0;
      for (const a of sealed) {
        const r = rows[k];
        if (r && Number(r.audit_seq) < a.seq) return failAt(Number(r.id), Number(r.audit_seq), unsealed(r.id, r.audit_seq));
        if (!r || Number(r.audit_seq) > a.seq) return failAt(null, a.seq, `audit entry ${a.seq} seals a journal row that is missing (deleted)`);
        const at = (r.at instanceof Date ? r.at : new Date(r.at)).toISOString();
        const digest = legacyDigest({ at, event: r.event, structureId: r.structure_id, mandateId: r.mandate_id, actorKind: r.actor_kind, actorId: r.actor_id, procedure: r.procedure, detail: r.detail });
        if (digest !== r.digest || (a.after as { digest?: string } | null)?.digest !== digest || a.objectId !== (r.mandate_id ?? r.structure_id)) {
          return failAt(Number(r.id), a.seq, `journal row ${r.id} was altered (its content no longer matches the digest sealed in audit entry ${a.seq})`);
        }
        checked++;
        k++;
      }
      const r = rows[k];
      return r ? failAt(Number(r.id), Number(r.audit_seq), unsealed(r.id, r.audit_seq)) : null;
    },
  });
  const broken = failure as Failure | null;
  if (broken) return broken;
  if (!chain.ok) return { ok: false, entries: checked, seq: null, journalId: null, auditSeq: chain.seq, reason: `audit chain broken: ${chain.reason}` };
  if (!bound) {
    const stray = (await db.query<{ id: string; audit_seq: string }>('SELECT id, audit_seq FROM mandates.journal WHERE audit_seq > $1 OR audit_seq < 1 ORDER BY id LIMIT 1', [chain.count])).rows[0];
    if (stray) return { ok: false, entries: checked, seq: null, journalId: Number(stray.id), auditSeq: Number(stray.audit_seq), reason: unsealed(stray.id, stray.audit_seq) };
  } else if (checked !== bound.rows) {
    return { ok: false, entries: checked, seq: null, journalId: null, auditSeq: bound.lastAuditSeq, reason: `${bound.rows - checked} journal rows of format 1 are missing (deleted): the chain's genesis counted ${bound.rows}` };
  }
  return { ok: true, entries: checked };
}

/**
 * Mandates: structures and their helpers, mandates (creation with consent, the check "may this
 * helper act for this person on this procedure now?", acts, revocation, expiry), the journal sealed
 * in the platform audit, the retention purge and the statistics. Every write runs in one
 * transaction with its journal entry and audit entry: all of it commits, or nothing does.
 *
 * Concurrency: an act takes a shared lock on the mandate row and an exclusive lock on the
 * helper's row, a revocation an exclusive lock on the mandate row, a helper's deactivation an
 * exclusive lock on the helper's row; each checks the rules AFTER taking its locks, so an act
 * never lands after the revocation or deactivation that forbids it, and a mandate is revoked once.
 */
import crypto from 'node:crypto';
import type { AppContext } from '../../platform/module.ts';
import type { Db, Queryable } from '../../platform/db/index.ts';
import { recordAudit, canonicalJson } from '../../platform/audit/index.ts';
import { appendEntry } from './journal.ts';
import { UserError, NotFoundError, ForbiddenError } from '../../platform/http/errors.ts';
import { countAttempt } from '../../platform/http/rate-limit-store.ts';
import { getPlace } from '../places/index.ts';
import { getUser, grantRoleWithin, revokeRoleWithin, sendMail } from '../accounts/index.ts';
import {
  ADMIN_PROCEDURES,
  DAY_MS,
  IDLE_DAYS,
  IDLE_WARNING_DAYS,
  REMINDER_DAYS,
  RENEWAL_GRACE_DAYS,
  TEMPLATE_VERSION,
  WARNING_NOTICE_DAYS,
  attestationHash,
  expiresAt as expiryOf,
  isProcedure,
  newReference,
  newRevocationCode,
  sha256,
  statusOf,
  type AttestationContent,
  type Duration,
  type JournalEvent,
  type MandateInput,
  type MandateStatus,
  type RenewalInput,
} from './model.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string) => UUID.test(s);

// ---------------------------------------------------------------------------------------------
// Journal

export interface JournalInput {
  event: JournalEvent;
  structureId: string;
  mandateId?: string | null;
  actorKind: 'helper' | 'person' | 'staff' | 'system';
  actorId?: string | null;
  procedure?: string | null;
  detail?: Record<string, unknown> | null;
  at: Date;
}

/**
 * Appends a journal entry (format 2: its own keyed hash chain, journal.ts) and records the audit
 * entry of the event, inside the caller's transaction.
 */
export async function appendJournal(tx: Queryable, j: JournalInput): Promise<void> {
  const row = { at: j.at.toISOString(), event: j.event, structureId: j.structureId, mandateId: j.mandateId ?? null, actorKind: j.actorKind, actorId: j.actorId ?? null, procedure: j.procedure ?? null, detail: j.detail ?? null };
  const entry = await recordAudit(tx, {
    actorId: j.actorKind === 'helper' || j.actorKind === 'staff' ? (j.actorId ?? null) : null,
    action: `mandates.${j.event}`,
    objectType: 'mandates.journal',
    objectId: j.mandateId ?? j.structureId,
    after: { event: j.event, procedure: j.procedure ?? null },
  });
  await appendEntry(tx, row, entry.seq);
}

/**
 * The accounts' sign-in listener (accounts onSignIn, in the sign-in's transaction): a helper of
 * an active (habilitated) structure who signs in is journalled `helper.signed_in` on each such
 * structure, with the method (password, +totp…) and nothing else; any other account: nothing.
 */
export async function journalHelperSignIn(tx: Queryable, e: { userId: string; method: string }, now = new Date()): Promise<void> {
  const { rows } = await tx.query<{ structure_id: string }>(
    'SELECT h.structure_id FROM mandates.helper h JOIN mandates.structure s ON s.id = h.structure_id WHERE h.user_id = $1 AND h.active AND h.accepted_at IS NOT NULL AND s.active ORDER BY h.structure_id',
    [e.userId],
  );
  for (const r of rows) {
    await appendJournal(tx, { event: 'helper.signed_in', structureId: r.structure_id, actorKind: 'helper', actorId: e.userId, detail: { method: e.method.slice(0, 40) }, at: now });
  }
}

export interface JournalRow {
  id: number;
  at: string;
  event: JournalEvent;
  structureId: string;
  mandateId: string | null;
  actorKind: string;
  actorId: string | null;
  procedure: string | null;
  detail: Record<string, unknown> | null;
}

interface JournalDbRow {
  id: number;
  at: Date | string;
  event: JournalEvent;
  structure_id: string;
  mandate_id: string | null;
  actor_kind: string;
  actor_id: string | null;
  procedure: string | null;
  detail: Record<string, unknown> | null;
  audit_seq: number;
  digest: string | null;
}
const iso = (v: Date | string) => (v instanceof Date ? v : new Date(v)).toISOString();
const toJournal = (r: JournalDbRow): JournalRow => ({ id: Number(r.id), at: iso(r.at), event: r.event, structureId: r.structure_id, mandateId: r.mandate_id, actorKind: r.actor_kind, actorId: r.actor_id, procedure: r.procedure, detail: r.detail });

export async function listJournal(db: Queryable, q: { structureIds?: string[]; mandateId?: string; limit?: number; beforeId?: number }): Promise<JournalRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (q.structureIds) where.push(`structure_id = ANY($${params.push(q.structureIds)}::uuid[])`);
  if (q.mandateId) where.push(`mandate_id = $${params.push(q.mandateId)}`);
  if (q.beforeId) where.push(`id < $${params.push(q.beforeId)}`);
  const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
  const { rows } = await db.query<JournalDbRow>(`SELECT * FROM mandates.journal ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${limit}`, params);
  return rows.map(toJournal);
}

export { verifyJournal, type JournalVerify } from './journal.ts';

// ---------------------------------------------------------------------------------------------
// Structures and helpers

export interface Structure {
  id: string;
  name: string;
  siret: string | null;
  placeUid: string;
  communeCode: string | null;
  departement: string | null;
  region: string | null;
  active: boolean;
}
interface StructureRow {
  id: string;
  name: string;
  siret: string | null;
  place_uid: string;
  commune_code: string | null;
  departement: string | null;
  region: string | null;
  active: boolean;
}
const toStructure = (r: StructureRow): Structure => ({ id: r.id, name: r.name, siret: r.siret, placeUid: r.place_uid, communeCode: r.commune_code, departement: r.departement, region: r.region, active: r.active });

export async function getStructure(db: Queryable, id: string): Promise<Structure | null> {
  if (!isUuid(id)) return null;
  const { rows } = await db.query<StructureRow>('SELECT * FROM mandates.structure WHERE id = $1', [id]);
  return rows[0] ? toStructure(rows[0]) : null;
}

export async function listStructures(db: Queryable, scope: { platform: boolean; regions: string[]; departements: string[] } | null = null): Promise<(Structure & { helpers: number; trained: number; activeMandates: number })[]> {
  const where = scope && !scope.platform ? 'WHERE region = ANY($1::text[]) OR departement = ANY($2::text[])' : '';
  const { rows } = await db.query<StructureRow & { helpers: number; trained: number; active_mandates: number }>(
    `SELECT s.*, (SELECT count(*)::int FROM mandates.helper h WHERE h.structure_id = s.id AND h.active) AS helpers,
            (SELECT count(*)::int FROM mandates.helper h WHERE h.structure_id = s.id AND h.active AND h.trained_on IS NOT NULL) AS trained,
            (SELECT count(*)::int FROM mandates.mandate m WHERE m.structure_id = s.id AND m.revoked_at IS NULL AND m.expires_at > now()) AS active_mandates
       FROM mandates.structure s ${where} ORDER BY s.name, s.id`,
    where ? [scope!.regions, scope!.departements] : [],
  );
  return rows.map((r) => ({ ...toStructure(r), helpers: r.helpers, trained: r.trained, activeMandates: r.active_mandates }));
}

export async function createStructure(ctx: AppContext, actorId: string | null, input: { name: unknown; siret: unknown; placeUid: unknown }): Promise<Structure> {
  const name = typeof input.name === 'string' ? input.name.normalize('NFC').trim() : '';
  if (!name || name.length > 200 || /[\u0000-\u001f]/.test(name)) throw new UserError('Indiquez le nom de la structure (200 caractères au plus).', 400, 'name');
  const siretRaw = typeof input.siret === 'string' ? input.siret.replace(/\s/g, '') : '';
  if (siretRaw && !/^\d{14}$/.test(siretRaw)) throw new UserError('Le SIRET a 14 chiffres.', 400, 'siret');
  const placeUid = typeof input.placeUid === 'string' ? input.placeUid.trim() : '';
  if (!isUuid(placeUid)) throw new UserError('Indiquez l’identifiant (uid) d’un lieu de l’annuaire.', 400, 'placeUid');
  const place = await getPlace(ctx.db, placeUid);
  if (!place) throw new UserError('Ce lieu n’existe pas dans l’annuaire.', 400, 'placeUid');
  const s: Structure = { id: crypto.randomUUID(), name, siret: siretRaw || null, placeUid, communeCode: place.communeCode, departement: place.departement, region: place.region, active: true };
  await ctx.db.transaction(async (tx) => {
    if (s.siret) {
      const dup = await tx.query('SELECT 1 FROM mandates.structure WHERE siret = $1', [s.siret]);
      if (dup.rows.length) throw new UserError('Une structure avec ce SIRET existe déjà.', 409, 'siret');
    }
    await tx.query('INSERT INTO mandates.structure (id, name, siret, place_uid, commune_code, departement, region) VALUES ($1, $2, $3, $4, $5, $6, $7)', [s.id, s.name, s.siret, s.placeUid, s.communeCode, s.departement, s.region]);
    await recordAudit(tx, { actorId, action: 'mandates.structure.create', objectType: 'mandates.structure', objectId: s.id, after: s });
  });
  return s;
}

export interface Helper {
  structureId: string;
  userId: string;
  displayName: string;
  trainedOn: string | null;
  trainingRef: string | null;
  active: boolean;
  lastActAt: string | null;
  /** When the person accepted the invitation (null: pending, never active). */
  acceptedAt: string | null;
  /** When the person left the structure by themselves (then only a new invitation brings them back). */
  leftAt: string | null;
}
interface HelperRow {
  structure_id: string;
  user_id: string;
  display_name: string;
  trained_on: string | null;
  training_ref: string | null;
  active: boolean;
  last_act_at: Date | string | null;
  accepted_at: Date | string | null;
  left_at?: Date | string | null;
}
const toHelper = (r: HelperRow): Helper => ({ structureId: r.structure_id, userId: r.user_id, displayName: r.display_name, trainedOn: r.trained_on, trainingRef: r.training_ref, active: r.active, lastActAt: r.last_act_at ? iso(r.last_act_at) : null, acceptedAt: r.accepted_at ? iso(r.accepted_at) : null, leftAt: r.left_at ? iso(r.left_at) : null });

export async function listHelpers(db: Queryable, structureId: string): Promise<Helper[]> {
  const { rows } = await db.query<HelperRow>('SELECT * FROM mandates.helper WHERE structure_id = $1 ORDER BY active DESC, display_name, user_id', [structureId]);
  return rows.map(toHelper);
}

/** The structures where this account is an active helper (trained or not). */
export async function helperMemberships(db: Queryable, userId: string): Promise<(Helper & { structureName: string })[]> {
  const { rows } = await db.query<HelperRow & { name: string }>(
    'SELECT h.*, s.name FROM mandates.helper h JOIN mandates.structure s ON s.id = h.structure_id WHERE h.user_id = $1 AND h.active AND s.active ORDER BY s.name',
    [userId],
  );
  return rows.map((r) => ({ ...toHelper(r), structureName: r.name }));
}

export async function addHelper(ctx: AppContext, actorId: string | null, structureId: string, userId: string, displayName: string): Promise<Helper> {
  const s = await getStructure(ctx.db, structureId);
  if (!s) throw new NotFoundError('Structure inconnue.');
  const name = displayName.trim().slice(0, 200) || 'Aidant';
  return ctx.db.transaction(async (tx) => {
    const existing = await tx.query<HelperRow>('SELECT * FROM mandates.helper WHERE structure_id = $1 AND user_id = $2 FOR UPDATE', [structureId, userId]);
    if (existing.rows[0]?.active) throw new UserError('Cette personne est déjà aidante de la structure.', 409, 'email');
    // A system action (demo, CLI, tests): the helper is accepted at once (a pending invitation too).
    if (existing.rows[0]) await tx.query('UPDATE mandates.helper SET active = true, deactivated_at = NULL, left_at = NULL, display_name = $3, accepted_at = COALESCE(accepted_at, now()) WHERE structure_id = $1 AND user_id = $2', [structureId, userId, name]);
    else await tx.query('INSERT INTO mandates.helper (structure_id, user_id, display_name, accepted_at) VALUES ($1, $2, $3, now())', [structureId, userId, name]);
    await recordAudit(tx, { actorId, action: 'mandates.helper.add', objectType: 'mandates.structure', objectId: structureId, after: { userId } });
    const { rows } = await tx.query<HelperRow>('SELECT * FROM mandates.helper WHERE structure_id = $1 AND user_id = $2', [structureId, userId]);
    return toHelper(rows[0]!);
  });
}

/**
 * Invites an account to be a helper of a structure (the référent's or territory staff's « add by
 * e-mail »): a PENDING helper row (accepted_at NULL, never active), no role, no journal at
 * sign-in, until the person accepts from their own session (`acceptInvitation`) or declines
 * (`declineInvitation`, the row deleted). A former helper who accepted once and was deactivated
 * is reactivated, as « Réactiver » does. Returns whether an invitation was created (the caller
 * tells the person).
 */
export async function inviteHelper(ctx: AppContext, actorId: string, structureId: string, userId: string, displayName: string): Promise<'invited' | 'reactivated'> {
  const s = await getStructure(ctx.db, structureId);
  if (!s) throw new NotFoundError('Structure inconnue.');
  const name = displayName.trim().slice(0, 200) || 'Aidant';
  return ctx.db.transaction(async (tx) => {
    const existing = (await tx.query<HelperRow>('SELECT * FROM mandates.helper WHERE structure_id = $1 AND user_id = $2 FOR UPDATE', [structureId, userId])).rows[0];
    if (existing?.active) throw new UserError('Cette personne est déjà aidante de la structure.', 409, 'email');
    if (existing && !existing.accepted_at) throw new UserError('Cette personne est déjà invitée : elle n’a pas encore répondu.', 409, 'email');
    if (existing?.left_at) {
      // They left by themselves: asked again, as a new person would be.
      await tx.query('UPDATE mandates.helper SET accepted_at = NULL, left_at = NULL, deactivated_at = NULL, active = false, display_name = $3, added_at = now() WHERE structure_id = $1 AND user_id = $2', [structureId, userId, name]);
      await recordAudit(tx, { actorId, action: 'mandates.helper.invite', objectType: 'mandates.structure', objectId: structureId, after: { userId } });
      return 'invited';
    }
    if (existing) {
      await tx.query('UPDATE mandates.helper SET active = true, deactivated_at = NULL, display_name = $3 WHERE structure_id = $1 AND user_id = $2', [structureId, userId, name]);
      await recordAudit(tx, { actorId, action: 'mandates.helper.activate', objectType: 'mandates.structure', objectId: structureId, after: { userId } });
      await syncHelperRole(tx, actorId, structureId, userId);
      return 'reactivated';
    }
    await tx.query('INSERT INTO mandates.helper (structure_id, user_id, display_name, active, accepted_at) VALUES ($1, $2, $3, false, NULL)', [structureId, userId, name]);
    await recordAudit(tx, { actorId, action: 'mandates.helper.invite', objectType: 'mandates.structure', objectId: structureId, after: { userId } });
    return 'invited';
  });
}

/** The structures that invited this account and await its answer. */
export async function pendingInvitations(db: Queryable, userId: string): Promise<{ structureId: string; structureName: string; invitedAt: string }[]> {
  const { rows } = await db.query<{ structure_id: string; name: string; added_at: Date | string }>(
    'SELECT h.structure_id, s.name, h.added_at FROM mandates.helper h JOIN mandates.structure s ON s.id = h.structure_id WHERE h.user_id = $1 AND h.accepted_at IS NULL AND s.active ORDER BY h.added_at, s.name',
    [userId],
  );
  return rows.map((r) => ({ structureId: r.structure_id, structureName: r.name, invitedAt: iso(r.added_at) }));
}

/**
 * The invited account accepts (its own session: `userId` is the signed-in user): the helper
 * becomes active, gets the accounts role `helper` on the structure's place (same transaction),
 * journalled `helper.accepted`. No pending invitation of this account there: 404, nothing written.
 */
export async function acceptInvitation(ctx: AppContext, userId: string, structureId: string, now = new Date()): Promise<string> {
  if (!isUuid(structureId)) throw new NotFoundError('Aucune invitation en attente pour cette structure.');
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ name: string; place_uid: string }>(
      `UPDATE mandates.helper h SET accepted_at = $3, active = true, deactivated_at = NULL FROM mandates.structure s
        WHERE s.id = h.structure_id AND h.structure_id = $1 AND h.user_id = $2 AND h.accepted_at IS NULL AND s.active
        RETURNING s.name, s.place_uid`,
      [structureId, userId, now.toISOString()],
    );
    const s = rows[0];
    if (!s) throw new NotFoundError('Aucune invitation en attente pour cette structure.');
    await grantRoleWithin(tx, userId, userId, { role: 'helper', scopeKind: 'place', scopeId: s.place_uid });
    await appendJournal(tx, { event: 'helper.accepted', structureId, actorKind: 'helper', actorId: userId, detail: null, at: now });
    return s.name;
  });
}

/** The invited account declines: the pending row is deleted (audited). Else 404, nothing written. */
export async function declineInvitation(ctx: AppContext, userId: string, structureId: string): Promise<string> {
  if (!isUuid(structureId)) throw new NotFoundError('Aucune invitation en attente pour cette structure.');
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ name: string }>(
      'DELETE FROM mandates.helper h USING mandates.structure s WHERE s.id = h.structure_id AND h.structure_id = $1 AND h.user_id = $2 AND h.accepted_at IS NULL RETURNING s.name',
      [structureId, userId],
    );
    if (!rows[0]) throw new NotFoundError('Aucune invitation en attente pour cette structure.');
    await recordAudit(tx, { actorId: userId, action: 'mandates.helper.decline', objectType: 'mandates.structure', objectId: structureId, after: { userId } });
    return rows[0].name;
  });
}

/**
 * The helper leaves the structure (their own session: `userId` is the signed-in user): no longer
 * active, the helper role on its place revoked (unless they help another structure there), audited
 * `mandates.helper.leave`; marked as having left, so that only a new invitation they accept makes
 * them a helper again. Not an active helper there: 404, nothing written. The structure's mandates
 * stay with it.
 */
export async function leaveStructure(ctx: AppContext, userId: string, structureId: string, now = new Date()): Promise<string> {
  if (!isUuid(structureId)) throw new NotFoundError('Vous n’êtes pas aidant de cette structure.');
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ name: string }>(
      `UPDATE mandates.helper h SET active = false, deactivated_at = $3, left_at = $3 FROM mandates.structure s
        WHERE s.id = h.structure_id AND h.structure_id = $1 AND h.user_id = $2 AND h.active AND h.accepted_at IS NOT NULL
        RETURNING s.name`,
      [structureId, userId, now.toISOString()],
    );
    if (!rows[0]) throw new NotFoundError('Vous n’êtes pas aidant de cette structure.');
    await recordAudit(tx, { actorId: userId, action: 'mandates.helper.leave', objectType: 'mandates.structure', objectId: structureId, after: { userId } });
    await syncHelperRole(tx, userId, structureId, userId);
    return rows[0].name;
  });
}

export async function recordTraining(ctx: AppContext, actorId: string | null, structureId: string, userId: string, input: { trainedOn: unknown; trainingRef: unknown }, now = new Date()): Promise<void> {
  const trainedOn = typeof input.trainedOn === 'string' ? input.trainedOn.trim() : '';
  const d = /^\d{4}-\d{2}-\d{2}$/.test(trainedOn) ? new Date(`${trainedOn}T00:00:00Z`) : null;
  if (!d || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== trainedOn) throw new UserError('La date de formation doit être une date valide (AAAA-MM-JJ).', 400, 'trainedOn');
  if (d.getTime() > now.getTime() || d.getUTCFullYear() < 2000) throw new UserError('La date de formation doit être passée.', 400, 'trainedOn');
  const ref = typeof input.trainingRef === 'string' ? input.trainingRef.trim() : '';
  if (ref.length > 200 || /[\u0000-\u001f]/.test(ref)) throw new UserError('La référence de la formation fait 200 caractères au plus.', 400, 'trainingRef');
  await ctx.db.transaction(async (tx) => {
    const r = await tx.query('UPDATE mandates.helper SET trained_on = $3, training_ref = $4 WHERE structure_id = $1 AND user_id = $2 RETURNING user_id', [structureId, userId, trainedOn, ref || null]);
    if (!r.rows.length) throw new NotFoundError('Aidant inconnu dans cette structure.');
    await recordAudit(tx, { actorId, action: 'mandates.helper.training', objectType: 'mandates.structure', objectId: structureId, after: { userId, trainedOn, trainingRef: ref || null } });
  });
}

/**
 * The accounts role `helper` on a structure's place follows the person's helper rows (least
 * privilege): held while they are an active helper of a structure at that place, revoked when the
 * last such row is deactivated (by staff, for inactivity), granted again when one is reactivated.
 * In the caller's transaction, after the helper row changed; audited by accounts.
 */
async function syncHelperRole(tx: Queryable, actorId: string | null, structureId: string, userId: string): Promise<void> {
  const { rows } = await tx.query<{ place_uid: string | null; active: boolean }>(
    `SELECT s.place_uid,
            EXISTS (SELECT 1 FROM mandates.helper h JOIN mandates.structure o ON o.id = h.structure_id
                     WHERE h.user_id = $2 AND h.active AND h.accepted_at IS NOT NULL AND o.active AND o.place_uid = s.place_uid) AS active
       FROM mandates.structure s WHERE s.id = $1`,
    [structureId, userId],
  );
  const r = rows[0];
  if (!r?.place_uid) return;
  const grant = { role: 'helper', scopeKind: 'place', scopeId: r.place_uid };
  if (!r.active) await revokeRoleWithin(tx, actorId, userId, grant);
  else if ((await getUser(tx, userId))?.status === 'active') await grantRoleWithin(tx, actorId, userId, grant);
}

export async function setHelperActive(ctx: AppContext, actorId: string | null, structureId: string, userId: string, active: boolean, now = new Date()): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const cur = await tx.query<HelperRow>('SELECT * FROM mandates.helper WHERE structure_id = $1 AND user_id = $2 FOR UPDATE', [structureId, userId]);
    if (!cur.rows[0]) throw new NotFoundError('Aidant inconnu dans cette structure.');
    // A pending invitation becomes active only by the person's own acceptance.
    if (!cur.rows[0].accepted_at) throw new UserError('Cette personne n’a pas encore accepté l’invitation : elle seule peut devenir aidante.', 409, 'userId');
    if (cur.rows[0].active === active) throw new UserError(active ? 'Cet aidant est déjà actif.' : 'Cet aidant est déjà désactivé.', 409, 'userId');
    if (active && cur.rows[0].left_at) throw new UserError('Cette personne a quitté la structure d’elle-même : invitez-la à nouveau (« Ajouter un aidant ») ; elle redeviendra aidante si elle accepte.', 409, 'userId', 'helper_left');
    await tx.query('UPDATE mandates.helper SET active = $3, deactivated_at = $4 WHERE structure_id = $1 AND user_id = $2', [structureId, userId, active, active ? null : now.toISOString()]);
    await recordAudit(tx, { actorId, action: active ? 'mandates.helper.activate' : 'mandates.helper.deactivate', objectType: 'mandates.structure', objectId: structureId, after: { userId } });
    await syncHelperRole(tx, actorId, structureId, userId);
  });
}

/**
 * Locks the helper's row (exclusive: a helper's writes are serialised), checks they may act (active,
 * trained, of an active structure: re-evaluated on the latest row version after any wait, so a
 * concurrent deactivation wins) and notes their activity, in ONE round trip; a second query only
 * to explain a refusal. Returns what the attestation needs of the helper and the structure.
 */
async function touchActingHelper(tx: Queryable, structureId: string, userId: string, now: Date): Promise<{ displayName: string; structureName: string; siret: string | null }> {
  const { rows } = await tx.query<{ display_name: string; name: string; siret: string | null }>(
    `UPDATE mandates.helper h SET last_act_at = $3 FROM mandates.structure s
      WHERE s.id = h.structure_id AND h.structure_id = $1 AND h.user_id = $2 AND h.active AND s.active AND h.trained_on IS NOT NULL
      RETURNING h.display_name, s.name, s.siret`,
    [structureId, userId, now.toISOString()],
  );
  if (rows[0]) return { displayName: rows[0].display_name, structureName: rows[0].name, siret: rows[0].siret };
  const why = await tx.query<{ active: boolean; trained: boolean; pending: boolean }>(
    'SELECT h.active AND s.active AS active, h.trained_on IS NOT NULL AS trained, h.accepted_at IS NULL AS pending FROM mandates.helper h JOIN mandates.structure s ON s.id = h.structure_id WHERE h.structure_id = $1 AND h.user_id = $2',
    [structureId, userId],
  );
  if (why.rows[0]?.pending) throw new ForbiddenError(PENDING_REFUSAL);
  if (!why.rows[0]?.active) throw new ForbiddenError('Vous n’êtes pas aidant actif de cette structure.');
  throw new ForbiddenError('Votre formation d’aidant n’est pas enregistrée : vous ne pouvez pas encore agir sous mandat.');
}

// ---------------------------------------------------------------------------------------------
// Mandates

export interface Mandate {
  id: string;
  reference: string;
  structureId: string;
  personId: string;
  person: { givenName: string; familyName: string; birthDate: string } | null;
  createdBy: string;
  createdAt: string;
  duration: Duration;
  expiresAt: string;
  consentAt: string;
  templateVersion: string;
  attestationHash: string;
  revokedAt: string | null;
  revokedByKind: string | null;
  procedures: { procedure: string; revokedAt: string | null }[];
  status: MandateStatus;
  /** The opaque id of the public verification page (the attestation's QR code). */
  verifyId: string;
}
interface MandateRow {
  id: string;
  reference: string;
  structure_id: string;
  person_id: string;
  created_by: string;
  created_at: Date | string;
  duration: Duration;
  expires_at: Date | string;
  consent_at: Date | string;
  template_version: string;
  attestation_salt: string;
  attestation_hash: string;
  revoked_at: Date | string | null;
  revoked_by_kind: string | null;
  given_name: string | null;
  family_name: string | null;
  birth_date: string | null;
  procs: { procedure: string; revoked_at: string | null }[] | string;
  verify_id: string;
}

const MANDATE_SELECT = `SELECT m.*, p.given_name, p.family_name, p.birth_date::text AS birth_date,
  (SELECT json_agg(json_build_object('procedure', mp.procedure, 'revoked_at', mp.revoked_at) ORDER BY mp.procedure) FROM mandates.mandate_procedure mp WHERE mp.mandate_id = m.id) AS procs
  FROM mandates.mandate m JOIN mandates.person p ON p.id = m.person_id`;

function toMandate(r: MandateRow, now: Date): Mandate {
  const procs = (typeof r.procs === 'string' ? JSON.parse(r.procs) : r.procs) as { procedure: string; revoked_at: string | null }[];
  const m = {
    id: r.id,
    reference: r.reference,
    structureId: r.structure_id,
    personId: r.person_id,
    person: r.given_name && r.family_name && r.birth_date ? { givenName: r.given_name, familyName: r.family_name, birthDate: r.birth_date } : null,
    createdBy: r.created_by,
    createdAt: iso(r.created_at),
    duration: r.duration,
    expiresAt: iso(r.expires_at),
    consentAt: iso(r.consent_at),
    templateVersion: r.template_version,
    attestationHash: r.attestation_hash,
    revokedAt: r.revoked_at ? iso(r.revoked_at) : null,
    revokedByKind: r.revoked_by_kind,
    procedures: (procs ?? []).map((p) => ({ procedure: p.procedure, revokedAt: p.revoked_at ? iso(p.revoked_at) : null })),
    status: 'active' as MandateStatus,
    verifyId: r.verify_id,
  };
  m.status = statusOf(m, now);
  return m;
}

export async function getMandate(db: Queryable, id: string, now = new Date()): Promise<Mandate | null> {
  if (!isUuid(id)) return null;
  const { rows } = await db.query<MandateRow>(`${MANDATE_SELECT} WHERE m.id = $1`, [id]);
  return rows[0] ? toMandate(rows[0], now) : null;
}

export async function getMandateByReference(db: Queryable, reference: string, now = new Date()): Promise<Mandate | null> {
  const { rows } = await db.query<MandateRow>(`${MANDATE_SELECT} WHERE m.reference = $1`, [reference]);
  return rows[0] ? toMandate(rows[0], now) : null;
}

export async function listMandates(db: Queryable, structureIds: string[], o: { status?: MandateStatus | 'all'; limit?: number; now?: Date } = {}): Promise<Mandate[]> {
  const now = o.now ?? new Date();
  const cond = o.status === 'active' ? 'AND m.revoked_at IS NULL AND m.expires_at > $2' : o.status === 'expired' ? 'AND m.revoked_at IS NULL AND m.expires_at <= $2' : o.status === 'revoked' ? 'AND m.revoked_at IS NOT NULL' : '';
  const limit = Math.min(Math.max(o.limit ?? 200, 1), 1000);
  const { rows } = await db.query<MandateRow>(`${MANDATE_SELECT} WHERE m.structure_id = ANY($1::uuid[]) ${cond} ORDER BY m.created_at DESC, m.id LIMIT ${limit}`, cond.includes('$2') ? [structureIds, now.toISOString()] : [structureIds]);
  return rows.map((r) => toMandate(r, now));
}

/** The attestation's content, as hashed when the mandate was created (null once the identity is purged). */
export async function attestationContent(db: Queryable, m: Mandate): Promise<AttestationContent | null> {
  if (!m.person) return null;
  const s = (await getStructure(db, m.structureId))!;
  const { rows } = await db.query<{ display_name: string }>('SELECT display_name FROM mandates.helper WHERE structure_id = $1 AND user_id = $2', [m.structureId, m.createdBy]);
  return {
    reference: m.reference,
    structure: { name: s.name, siret: s.siret },
    helper: rows[0]?.display_name ?? '',
    person: m.person,
    procedures: m.procedures.map((p) => p.procedure),
    duration: m.duration,
    createdAt: m.createdAt,
    expiresAt: m.expiresAt,
  };
}

/** Recomputes the attestation's hash from the stored rows: false when they were altered since. */
export async function attestationIntact(db: Queryable, m: Mandate): Promise<boolean | null> {
  const content = await attestationContent(db, m);
  if (!content) return null;
  const { rows } = await db.query<{ attestation_salt: string }>('SELECT attestation_salt FROM mandates.mandate WHERE id = $1', [m.id]);
  return attestationHash(rows[0]!.attestation_salt, m.templateVersion, content) === m.attestationHash;
}

export interface Created {
  id: string;
  reference: string;
  revocationCode: string;
}

/**
 * Creates a mandate of the helper's structure, after the person's consent (input.consent). The
 * helper must be an active, trained helper of that structure. Person, mandate, procedures and the
 * journal entry are written in one transaction. `personId` reuses a person the structure knows.
 */
export async function createMandate(
  ctx: AppContext,
  helperId: string,
  structureId: string,
  input: MandateInput,
  o: { now?: Date; personId?: string; within?: (tx: Queryable, created: { id: string }) => Promise<void> } = {},
): Promise<Created> {
  return ctx.db.transaction(async (tx) => createMandateIn(tx, helperId, structureId, input, o));
}

/** createMandate inside the caller's transaction (remote consent by SMS creates it with the answer). */
export async function createMandateIn(
  tx: Queryable,
  helperId: string,
  structureId: string,
  input: MandateInput,
  o: { now?: Date; personId?: string; consentMethod?: 'in_person' | 'sms'; within?: (tx: Queryable, created: { id: string }) => Promise<void> } = {},
): Promise<Created> {
  if (!input.consent) throw new UserError('La personne doit avoir lu le mandat et donné son accord.', 400, 'consent');
  const now = o.now ?? new Date();
  {
    const helper = await touchActingHelper(tx, structureId, helperId, now);
    const person = { givenName: input.givenName, familyName: input.familyName, birthDate: input.birthDate };
    if (o.personId) {
      const p = await tx.query('UPDATE mandates.person SET given_name = $3, family_name = $4, birth_date = $5 WHERE id = $1 AND structure_id = $2 AND purged_at IS NULL RETURNING id', [
        o.personId, structureId, person.givenName, person.familyName, person.birthDate,
      ]);
      if (!p.rows.length) throw new UserError('Personne inconnue dans cette structure.', 400, 'personId');
    }
    const created = await insertMandate(tx, { helperId, helper, structureId, person, personId: o.personId ?? null, procedures: input.procedures, duration: input.duration, now, consentMethod: o.consentMethod });
    // `within`: more of the same transaction (the OpenID Connect check used and the person's verified subject, identity.ts).
    if (o.within) await o.within(tx, created);
    await appendJournal(tx, { event: 'mandate.created', structureId, mandateId: created.id, actorKind: 'helper', actorId: helperId, detail: { procedures: input.procedures, duration: input.duration, expiresAt: created.expiresAt, ...(o.consentMethod === 'sms' ? { consent: 'sms' } : {}) }, at: now });
    return { id: created.id, reference: created.reference, revocationCode: created.revocationCode };
  }
}

/**
 * Writes a mandate, its procedures and (personId null) its person in ONE statement (foreign keys are
 * checked at its end), with its salted attestation hash and the hash of a new revocation code.
 * `replaces`: the mandate it renews or transfers (unique: a mandate is replaced once).
 */
async function insertMandate(
  tx: Queryable,
  m: {
    helperId: string;
    helper: { displayName: string; structureName: string; siret: string | null };
    structureId: string;
    person: { givenName: string; familyName: string; birthDate: string };
    personId: string | null;
    procedures: string[];
    duration: Duration;
    now: Date;
    replaces?: { id: string; kind: 'renewal' | 'transfer' };
    consentMethod?: 'in_person' | 'sms';
  },
): Promise<Created & { expiresAt: string }> {
  const personId = m.personId ?? crypto.randomUUID();
  const id = crypto.randomUUID();
  const reference = newReference();
  const revocationCode = newRevocationCode();
  const expires = expiryOf(m.now, m.duration);
  const salt = crypto.randomBytes(16).toString('hex');
  const content: AttestationContent = {
    reference,
    structure: { name: m.helper.structureName, siret: m.helper.siret },
    helper: m.helper.displayName,
    person: m.person,
    procedures: m.procedures,
    duration: m.duration,
    createdAt: m.now.toISOString(),
    expiresAt: expires.toISOString(),
  };
  try {
    await tx.query(
      `WITH p AS (INSERT INTO mandates.person (id, structure_id, given_name, family_name, birth_date, identity_check, created_at)
                  SELECT $4, $3, $13, $14, $15::date, 'document', $6 WHERE $16::boolean),
            m AS (INSERT INTO mandates.mandate (id, reference, structure_id, person_id, created_by, created_at, duration, expires_at, consent_at, consent_method, template_version, attestation_salt, attestation_hash, revocation_code_hash, replaces, replaces_kind)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6, $20, $9, $10, $11, $12, $18, $19))
       INSERT INTO mandates.mandate_procedure (mandate_id, procedure) SELECT $1, unnest($17::text[])`,
      [id, reference, m.structureId, personId, m.helperId, m.now.toISOString(), m.duration, expires.toISOString(), TEMPLATE_VERSION, salt, attestationHash(salt, TEMPLATE_VERSION, content), sha256(`${id}:${revocationCode}`),
        m.person.givenName, m.person.familyName, m.person.birthDate, m.personId === null, m.procedures, m.replaces?.id ?? null, m.replaces?.kind ?? null, m.consentMethod ?? 'in_person'],
    );
  } catch (err) {
    if ((err as { code?: string }).code === '23505' && String((err as Error).message).includes('mandate_replaces')) throw new UserError('Ce mandat a déjà été renouvelé ou transféré.', 409, 'mandate', 'replaced');
    throw err;
  }
  return { id, reference, revocationCode, expiresAt: expires.toISOString() };
}

interface ReplaceableRow {
  id: string;
  structure_id: string;
  person_id: string;
  revoked_at: Date | string | null;
  expires_at: Date | string;
  given_name: string | null;
  family_name: string | null;
  birth_date: string | null;
}

/** Locks the mandate to renew or transfer and checks it may be (not revoked, not replaced, identity kept, expired for less than a year). */
async function lockReplaceable(tx: Queryable, mandateId: string, now: Date): Promise<ReplaceableRow & { person: { givenName: string; familyName: string; birthDate: string } }> {
  const { rows } = await tx.query<ReplaceableRow & { replaced: boolean }>(
    `SELECT m.id, m.structure_id, m.person_id, m.revoked_at, m.expires_at, p.given_name, p.family_name, p.birth_date::text AS birth_date,
            EXISTS (SELECT 1 FROM mandates.mandate n WHERE n.replaces = m.id) AS replaced
       FROM mandates.mandate m JOIN mandates.person p ON p.id = m.person_id WHERE m.id = $1 FOR UPDATE OF m`,
    [isUuid(mandateId) ? mandateId : '00000000-0000-0000-0000-000000000000'],
  );
  const m = rows[0];
  if (!m) throw new NotFoundError('Mandat inconnu.');
  if (m.replaced) throw new UserError('Ce mandat a déjà été renouvelé ou transféré.', 409, 'mandate', 'replaced');
  if (m.revoked_at) throw new UserError('Ce mandat a été révoqué : la personne l’a retiré ou il a été remplacé ; créez un nouveau mandat (avec vérification d’identité).', 409, 'mandate', 'revoked');
  if (new Date(m.expires_at).getTime() + RENEWAL_GRACE_DAYS * DAY_MS <= now.getTime()) {
    throw new UserError('Ce mandat est expiré depuis plus d’un an : créez un nouveau mandat (avec vérification d’identité).', 409, 'mandate', 'expired');
  }
  if (!m.given_name || !m.family_name || !m.birth_date) throw new UserError('L’identité de la personne a été supprimée : créez un nouveau mandat (avec vérification d’identité).', 409, 'mandate', 'purged');
  return { ...m, person: { givenName: m.given_name, familyName: m.family_name, birthDate: m.birth_date } };
}

/** Ends a mandate still in force because another replaces it (its procedures with it). */
async function endReplaced(tx: Queryable, old: ReplaceableRow, reason: 'renewed' | 'transferred', by: string, now: Date): Promise<boolean> {
  if (new Date(old.expires_at).getTime() <= now.getTime()) return false;
  await tx.query('UPDATE mandates.mandate_procedure SET revoked_at = $2 WHERE mandate_id = $1 AND revoked_at IS NULL', [old.id, now.toISOString()]);
  await tx.query("UPDATE mandates.mandate SET revoked_at = $2, revoked_by_kind = 'helper', revoked_by = $3, end_reason = $4 WHERE id = $1", [old.id, now.toISOString(), by, reason]);
  return true;
}

/**
 * Renews a mandate: a NEW mandate of the same structure for the same person, with the scope and
 * duration the person consents to again (input.consent: never silent), without a new identity
 * check while the old one has not been expired for more than a year. The old mandate, when still
 * in force, ends (end_reason 'renewed'). Refused, with nothing written: revoked, already replaced,
 * identity purged, expired for more than a year, helper not active and trained there.
 */
export async function renewMandate(ctx: AppContext, helperId: string, mandateId: string, input: RenewalInput, now = new Date()): Promise<Created> {
  if (!input.consent) throw new UserError('La personne doit avoir lu le nouveau mandat et donné son accord.', 400, 'consent');
  return ctx.db.transaction(async (tx) => {
    const old = await lockReplaceable(tx, mandateId, now);
    const helper = await touchActingHelper(tx, old.structure_id, helperId, now);
    const ended = await endReplaced(tx, old, 'renewed', helperId, now);
    const created = await insertMandate(tx, { helperId, helper, structureId: old.structure_id, person: old.person, personId: old.person_id, procedures: input.procedures, duration: input.duration, now, replaces: { id: old.id, kind: 'renewal' } });
    await appendJournal(tx, { event: 'mandate.renewed', structureId: old.structure_id, mandateId: created.id, actorKind: 'helper', actorId: helperId, detail: { renews: old.id, oldEnded: ended, procedures: input.procedures, duration: input.duration, expiresAt: created.expiresAt }, at: now });
    return { id: created.id, reference: created.reference, revocationCode: created.revocationCode };
  });
}

/**
 * Transfers a mandate to another structure (typically when the helper who follows the person moves
 * there): a NEW mandate of the target structure, with the person's new consent, created by an
 * active, trained helper of the target who is or was a helper of the source structure; the person
 * is copied into the target (each structure knows its own people); the old mandate ends
 * (end_reason 'transferred'). The same refusals as a renewal, plus: same structure.
 */
export async function transferMandate(ctx: AppContext, helperId: string, mandateId: string, toStructureId: string, input: RenewalInput, now = new Date()): Promise<Created> {
  if (!input.consent) throw new UserError('La personne doit avoir lu le nouveau mandat et donné son accord.', 400, 'consent');
  if (!isUuid(toStructureId)) throw new UserError('Structure de destination inconnue.', 400, 'structureId');
  return ctx.db.transaction(async (tx) => {
    const old = await lockReplaceable(tx, mandateId, now);
    if (old.structure_id === toStructureId) throw new UserError('Le mandat est déjà détenu par cette structure : renouvelez-le plutôt.', 400, 'structureId');
    const member = await tx.query('SELECT 1 FROM mandates.helper WHERE structure_id = $1 AND user_id = $2 AND accepted_at IS NOT NULL', [old.structure_id, helperId]);
    if (!member.rows.length) throw new ForbiddenError('Seul un aidant de la structure qui détient ce mandat (ou qui l’a été) peut le transférer.');
    const helper = await touchActingHelper(tx, toStructureId, helperId, now);
    const ended = await endReplaced(tx, old, 'transferred', helperId, now);
    const created = await insertMandate(tx, { helperId, helper, structureId: toStructureId, person: old.person, personId: null, procedures: input.procedures, duration: input.duration, now, replaces: { id: old.id, kind: 'transfer' } });
    const detail = { from: old.structure_id, to: toStructureId, oldMandate: old.id, newMandate: created.id, oldEnded: ended };
    await appendJournal(tx, { event: 'mandate.transferred', structureId: old.structure_id, mandateId: old.id, actorKind: 'helper', actorId: helperId, detail, at: now });
    await appendJournal(tx, { event: 'mandate.transferred', structureId: toStructureId, mandateId: created.id, actorKind: 'helper', actorId: helperId, detail: { ...detail, procedures: input.procedures, duration: input.duration, expiresAt: created.expiresAt }, at: now });
    return { id: created.id, reference: created.reference, revocationCode: created.revocationCode };
  });
}

export type Decision = { allowed: true; mandateId: string; structureId: string } | { allowed: false; reason: string; code: 'unknown' | 'not_helper' | 'not_trained' | 'revoked' | 'expired' | 'procedure' };

/** An invited helper who has not accepted yet (code `not_helper`, this reason). */
export const PENDING_REFUSAL = 'Vous n’avez pas encore accepté l’invitation de cette structure : acceptez-la sur votre page « Mandats » avant d’agir.';

const REFUSALS: Record<Exclude<Decision, { allowed: true }>['code'], string> = {
  unknown: 'Mandat inconnu.',
  not_helper: 'Vous n’êtes pas aidant actif de la structure qui détient ce mandat.',
  not_trained: 'Votre formation d’aidant n’est pas enregistrée.',
  revoked: 'Ce mandat a été révoqué.',
  expired: 'Ce mandat est expiré.',
  procedure: 'Ce mandat ne couvre pas cette démarche (ou elle a été retirée).',
};

/**
 * THE check: may this helper act for the person of this mandate on this procedure now? Yes only
 * when the helper is an active, trained helper of the mandate's structure, the mandate is neither
 * revoked nor expired (expires_at strictly after now), and the procedure is in it, not revoked.
 */
export async function checkAuthorisation(db: Queryable, helperId: string, mandateId: string, procedure: string, now = new Date()): Promise<Decision> {
  const refuse = (code: Exclude<Decision, { allowed: true }>['code']): Decision => ({ allowed: false, code, reason: REFUSALS[code] });
  if (!isUuid(mandateId)) return refuse('unknown');
  const { rows } = await db.query<{ structure_id: string; revoked_at: unknown; expires_at: Date | string; proc_revoked: unknown; has_proc: boolean; helper_active: boolean | null; trained: boolean | null; pending: boolean | null }>(
    `SELECT m.structure_id, m.revoked_at, m.expires_at,
            mp.revoked_at AS proc_revoked, mp.mandate_id IS NOT NULL AS has_proc,
            h.active AND s.active AS helper_active, h.trained_on IS NOT NULL AS trained,
            h.user_id IS NOT NULL AND h.accepted_at IS NULL AS pending
       FROM mandates.mandate m
       JOIN mandates.structure s ON s.id = m.structure_id
       LEFT JOIN mandates.mandate_procedure mp ON mp.mandate_id = m.id AND mp.procedure = $3
       LEFT JOIN mandates.helper h ON h.structure_id = m.structure_id AND h.user_id = $2
      WHERE m.id = $1`,
    [mandateId, helperId, procedure],
    { prepare: true },
  );
  const r = rows[0];
  if (!r) return refuse('unknown');
  if (r.pending) return { allowed: false, code: 'not_helper', reason: PENDING_REFUSAL };
  if (!r.helper_active) return refuse('not_helper');
  if (!r.trained) return refuse('not_trained');
  if (r.revoked_at) return refuse('revoked');
  if (new Date(r.expires_at).getTime() <= now.getTime()) return refuse('expired');
  if (!r.has_proc || r.proc_revoked) return refuse('procedure');
  return { allowed: true, mandateId, structureId: r.structure_id };
}

/**
 * Records an act under a mandate: refused (nothing written) unless checkAuthorisation allows it
 * at that moment, under the locks (a concurrent revocation either commits first and refuses this
 * act, or waits for it). `service`: the partner service used (no personal data).
 */
export async function recordAct(ctx: AppContext, helperId: string, mandateId: string, procedure: string, o: { service?: unknown; now?: Date; partner?: { clientId: string; name: string } } = {}): Promise<void> {
  const service = typeof o.service === 'string' ? o.service.trim() : '';
  if (service.length > 100 || /[\u0000-\u001f]/.test(service)) throw new UserError('Le nom du service fait 100 caractères au plus, sans caractère de contrôle.', 400, 'service');
  if (!isProcedure(procedure)) throw new UserError('Démarche inconnue.', 400, 'procedure');
  await ctx.db.transaction(async (tx) => {
    const now = o.now ?? new Date();
    // Shared lock on the mandate (revocations take an exclusive one), exclusive on the helper.
    const m = await tx.query<{ structure_id: string }>('SELECT structure_id FROM mandates.mandate WHERE id = $1 FOR SHARE', [isUuid(mandateId) ? mandateId : '00000000-0000-0000-0000-000000000000']);
    if (m.rows[0]) await tx.query('SELECT 1 FROM mandates.helper WHERE structure_id = $1 AND user_id = $2 FOR NO KEY UPDATE', [m.rows[0].structure_id, helperId]);
    const d = await checkAuthorisation(tx, helperId, mandateId, procedure, now);
    if (!d.allowed) throw d.code === 'unknown' ? new NotFoundError(d.reason) : new UserError(d.reason, d.code === 'not_helper' || d.code === 'not_trained' ? 403 : 409, d.code === 'procedure' ? 'procedure' : 'mandate', d.code);
    await tx.query('UPDATE mandates.helper SET last_act_at = $3 WHERE structure_id = $1 AND user_id = $2', [d.structureId, helperId, now.toISOString()]);
    // Through the OIDC provider (provider.ts): the authorisation used to sign in at a partner service.
    if (o.partner) await appendJournal(tx, { event: 'mandate.authorisation_used', structureId: d.structureId, mandateId, actorKind: 'helper', actorId: helperId, procedure, detail: { service: o.partner.name, partner: o.partner.clientId }, at: now });
    else await appendJournal(tx, { event: 'mandate.act', structureId: d.structureId, mandateId, actorKind: 'helper', actorId: helperId, procedure, detail: service ? { service } : null, at: now });
  });
}

export type RevokedBy = { kind: 'helper' | 'staff'; id: string } | { kind: 'person' };

/**
 * Revokes a whole mandate (procedure null) or one procedure of it; revoking the last procedure
 * left revokes the mandate. Refused when already revoked or expired. A helper must be an active
 * helper of the mandate's structure (trained or not: withdrawing is always allowed).
 */
export async function revokeMandate(ctx: AppContext, by: RevokedBy, mandateId: string, procedure: string | null, now = new Date()): Promise<{ whole: boolean }> {
  if (procedure !== null && !isProcedure(procedure)) throw new UserError('Démarche inconnue.', 400, 'procedure');
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ structure_id: string; revoked_at: unknown; expires_at: Date | string }>('SELECT structure_id, revoked_at, expires_at FROM mandates.mandate WHERE id = $1 FOR UPDATE', [
      isUuid(mandateId) ? mandateId : '00000000-0000-0000-0000-000000000000',
    ]);
    const m = rows[0];
    if (!m) throw new NotFoundError('Mandat inconnu.');
    if (by.kind === 'helper') {
      const h = await tx.query<{ active: boolean }>('SELECT active FROM mandates.helper WHERE structure_id = $1 AND user_id = $2', [m.structure_id, by.id]);
      if (!h.rows[0]?.active) throw new ForbiddenError('Vous n’êtes pas aidant actif de la structure qui détient ce mandat.');
    }
    if (m.revoked_at) throw new UserError('Ce mandat est déjà révoqué.', 409, 'mandate', 'revoked');
    if (new Date(m.expires_at).getTime() <= now.getTime()) throw new UserError('Ce mandat est expiré : il n’y a plus rien à révoquer.', 409, 'mandate', 'expired');
    const actor = { actorKind: by.kind, actorId: by.kind === 'person' ? null : by.id } as const;
    let whole = procedure === null;
    if (procedure !== null) {
      const p = await tx.query('UPDATE mandates.mandate_procedure SET revoked_at = $3 WHERE mandate_id = $1 AND procedure = $2 AND revoked_at IS NULL RETURNING procedure', [mandateId, procedure, now.toISOString()]);
      if (!p.rows.length) throw new UserError('Cette démarche ne fait pas (ou plus) partie du mandat.', 409, 'procedure');
      await appendJournal(tx, { event: 'mandate.procedure_revoked', structureId: m.structure_id, mandateId, ...actor, procedure, at: now });
      const left = await tx.query('SELECT 1 FROM mandates.mandate_procedure WHERE mandate_id = $1 AND revoked_at IS NULL', [mandateId]);
      whole = left.rows.length === 0;
    }
    if (whole) {
      await tx.query('UPDATE mandates.mandate_procedure SET revoked_at = $2 WHERE mandate_id = $1 AND revoked_at IS NULL', [mandateId, now.toISOString()]);
      await tx.query('UPDATE mandates.mandate SET revoked_at = $2, revoked_by_kind = $3, revoked_by = $4 WHERE id = $1', [mandateId, now.toISOString(), by.kind, actor.actorId]);
      await appendJournal(tx, { event: 'mandate.revoked', structureId: m.structure_id, mandateId, ...actor, at: now });
    }
    return { whole };
  });
}

/** Codes evaluated per mandate reference and window, by the person's page and revocation (see mandateIdByCode). */
export const REVOCATION_ATTEMPTS = 10;
export const REVOCATION_WINDOW_MS = 60 * 60 * 1000;

/** The mandate whose reference and revocation code these are (code compared in constant time), or a 400 naming the code. */
async function mandateIdByCode(db: Queryable, reference: string, code: string): Promise<string> {
  const ref = reference.trim().toUpperCase();
  const c = code.trim().toUpperCase();
  const bad = new UserError('Référence ou code de révocation incorrect.', 400, 'code');
  if (!/^M-[2-9A-Z]{4}-[2-9A-Z]{4}$/.test(ref) || !/^[A-Z0-9]{12}$/.test(c)) throw bad;
  // Counted and reserved atomically BEFORE the code is looked at (any instance): at most
  // REVOCATION_ATTEMPTS codes are ever evaluated per mandate and window, whatever the number of
  // addresses or concurrent requests (the route's per-address limit comes on top).
  if ((await countAttempt(db, `mandates.revoke:${ref}`, REVOCATION_WINDOW_MS)) > REVOCATION_ATTEMPTS) {
    throw new UserError('Trop d’essais de code pour ce mandat : réessayez dans une heure, ou demandez à l’aidant de la structure de le révoquer.', 429, 'code');
  }
  const { rows } = await db.query<{ id: string; revocation_code_hash: string }>('SELECT id, revocation_code_hash FROM mandates.mandate WHERE reference = $1', [ref]);
  const m = rows[0];
  const expected = Buffer.from(m?.revocation_code_hash ?? '0'.repeat(64), 'hex');
  const given = Buffer.from(sha256(`${m?.id ?? ''}:${c}`), 'hex');
  if (!m || !crypto.timingSafeEqual(expected, given)) throw bad;
  return m.id;
}

/** The person revokes with the reference and the code of their attestation (nothing else to know). */
export async function revokeByPerson(ctx: AppContext, reference: string, code: string, procedure: string | null, now = new Date()): Promise<{ whole: boolean }> {
  return revokeMandate(ctx, { kind: 'person' }, await mandateIdByCode(ctx.db, reference, code), procedure, now);
}

export interface PersonView {
  mandate: Mandate;
  structureName: string;
  /** What was done under the mandate, and its events: no helper identity. */
  events: { at: string; event: JournalEvent; procedure: string | null; service: string | null; byPerson: boolean }[];
  /** The mandate that renewed or took over this one, if any (its reference only). */
  replacedBy: { reference: string; kind: 'renewal' | 'transfer' } | null;
}

/** The person's own view of their mandate, with the reference and code of their attestation. */
export async function personView(db: Queryable, reference: string, code: string, now = new Date()): Promise<PersonView> {
  const id = await mandateIdByCode(db, reference, code);
  const mandate = (await getMandate(db, id, now))!;
  const s = await getStructure(db, mandate.structureId);
  const journal = await listJournal(db, { mandateId: id, limit: 1000 });
  const next = await db.query<{ reference: string; replaces_kind: 'renewal' | 'transfer' }>('SELECT reference, replaces_kind FROM mandates.mandate WHERE replaces = $1', [id]);
  return {
    mandate,
    structureName: s?.name ?? '',
    events: journal.map((j) => ({ at: j.at, event: j.event, procedure: j.procedure, service: j.detail && typeof j.detail.service === 'string' ? j.detail.service : null, byPerson: j.actorKind === 'person' })),
    replacedBy: next.rows[0] ? { reference: next.rows[0].reference, kind: next.rows[0].replaces_kind } : null,
  };
}

/** Journals the end of every mandate that reached its expiry (once each). */
export async function noteExpired(ctx: AppContext, now = new Date()): Promise<number> {
  const { rows } = await ctx.db.query<{ id: string }>('SELECT id FROM mandates.mandate WHERE expiry_noted_at IS NULL AND revoked_at IS NULL AND expires_at <= $1 ORDER BY expires_at LIMIT 10000', [now.toISOString()]);
  let n = 0;
  for (const { id } of rows) {
    n += await ctx.db.transaction(async (tx) => {
      const r = await tx.query<{ structure_id: string; expires_at: Date | string }>('UPDATE mandates.mandate SET expiry_noted_at = $2 WHERE id = $1 AND expiry_noted_at IS NULL AND revoked_at IS NULL RETURNING structure_id, expires_at', [id, now.toISOString()]);
      if (!r.rows[0]) return 0;
      await appendJournal(tx, { event: 'mandate.expired', structureId: r.rows[0].structure_id, mandateId: id, actorKind: 'system', at: new Date(r.rows[0].expires_at) });
      return 1;
    });
  }
  return n;
}

/** E-mails to helpers through accounts' mailer (the development outbox outside production). */
export function helperMail(ctx: AppContext): { send: (to: string, subject: string, text: string) => Promise<void>; userEmail: (userId: string) => Promise<string | null> } {
  return {
    send: (to, subject, text) => sendMail(ctx, { to, subject, text }, { background: true }),
    userEmail: async (userId) => {
      const u = await getUser(ctx.db, userId).catch(() => null);
      return u && u.status === 'active' ? u.email : null;
    },
  };
}

/** The hourly lifecycle: expiries journalled, reminders, idle helpers, identities past retention purged. */
export async function runLifecycle(ctx: AppContext, now = new Date()) {
  const mail = helperMail(ctx);
  const expired = await noteExpired(ctx, now);
  const reminded = await sendExpiryReminders(ctx, mail.send, mail.userEmail, now);
  const idle = await handleIdleHelpers(ctx, mail.send, mail.userEmail, now);
  const purged = await purgeIdentities(ctx, ctx.config.mandatesRetentionMonths, now);
  // Identity checks never used (identity.ts) are not kept beyond a day, with the identity they hold.
  await ctx.db.query('DELETE FROM mandates.identity_flow WHERE created_at < $1', [new Date(now.getTime() - DAY_MS).toISOString()]);
  return { expired, reminded, ...idle, purged };
}

/**
 * Expiry reminders: for every mandate in force that ends within REMINDER_DAYS and was not reminded
 * yet, one e-mail per active helper of its structure listing those mandates (reference and end
 * date, no identity: the helper opens the mandate to propose a renewal), and one journal entry per
 * mandate. Each mandate is claimed (reminded_at) in its own transaction, so two runs never remind twice.
 */
export async function sendExpiryReminders(ctx: AppContext, send: (to: string, subject: string, text: string) => Promise<void>, userEmail: (userId: string) => Promise<string | null>, now = new Date()): Promise<number> {
  const until = new Date(now.getTime() + REMINDER_DAYS * DAY_MS);
  const { rows } = await ctx.db.query<{ id: string }>(
    'SELECT id FROM mandates.mandate WHERE reminded_at IS NULL AND revoked_at IS NULL AND expires_at > $1 AND expires_at <= $2 ORDER BY expires_at LIMIT 10000',
    [now.toISOString(), until.toISOString()],
  );
  const byStructure = new Map<string, { reference: string; id: string; expiresAt: string }[]>();
  for (const { id } of rows) {
    await ctx.db.transaction(async (tx) => {
      const r = await tx.query<{ structure_id: string; reference: string; expires_at: Date | string }>(
        'UPDATE mandates.mandate SET reminded_at = $2 WHERE id = $1 AND reminded_at IS NULL AND revoked_at IS NULL AND expires_at > $2 RETURNING structure_id, reference, expires_at',
        [id, now.toISOString()],
      );
      const m = r.rows[0];
      if (!m) return;
      await appendJournal(tx, { event: 'mandate.expiry_reminder', structureId: m.structure_id, mandateId: id, actorKind: 'system', at: now });
      const list = byStructure.get(m.structure_id) ?? [];
      list.push({ reference: m.reference, id, expiresAt: iso(m.expires_at) });
      byStructure.set(m.structure_id, list);
    });
  }
  for (const [structureId, list] of byStructure) {
    const helpers = await ctx.db.query<{ user_id: string }>('SELECT user_id FROM mandates.helper WHERE structure_id = $1 AND active', [structureId]);
    const when = (d: string) => new Date(d).toLocaleString('fr-FR', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Paris' });
    const n = list.length;
    const text = `Bonjour,\n\n${n > 1 ? `${n} mandats de votre structure arrivent` : 'Un mandat de votre structure arrive'} à échéance dans les ${REMINDER_DAYS} jours :\n\n${list.map((m) => `- ${m.reference}, jusqu’au ${when(m.expiresAt)} : ${ctx.config.publicUrl}/mandats/${m.id}`).join('\n')}\n\nSi la personne le souhaite, proposez-lui de le renouveler : elle relira le mandat et donnera à nouveau son accord (sans nouvelle vérification d’identité).\n`;
    for (const h of helpers.rows) {
      const to = await userEmail(h.user_id);
      if (to) await send(to, n > 1 ? `${n} mandats arrivent à échéance` : `Le mandat ${list[0]!.reference} arrive à échéance`, text);
    }
  }
  return [...byStructure.values()].reduce((a, l) => a + l.length, 0);
}

/**
 * Helpers without activity (creating, renewing, transferring a mandate, or an act) for IDLE_DAYS:
 * warned by e-mail at IDLE_WARNING_DAYS, deactivated at IDLE_DAYS when warned at least
 * WARNING_NOTICE_DAYS before (a warning older than the last activity does not count). Activity is
 * last_act_at, or the date the helper was added. Each change: one transaction, row locked and
 * the condition re-checked, journalled.
 */
export async function handleIdleHelpers(ctx: AppContext, send: (to: string, subject: string, text: string) => Promise<void>, userEmail: (userId: string) => Promise<string | null>, now = new Date()): Promise<{ warned: number; deactivated: number }> {
  const at = (days: number) => new Date(now.getTime() - days * DAY_MS).toISOString();
  const idle = 'h.active AND COALESCE(h.last_act_at, h.accepted_at, h.added_at) <= $1';
  const warnedEnough = 'h.idle_warned_at IS NOT NULL AND h.idle_warned_at >= COALESCE(h.last_act_at, h.added_at) AND h.idle_warned_at <= $2';
  const notWarned = '(h.idle_warned_at IS NULL OR h.idle_warned_at < COALESCE(h.last_act_at, h.added_at))';
  let warned = 0;
  let deactivated = 0;
  const toDeactivate = await ctx.db.query<{ structure_id: string; user_id: string }>(`SELECT structure_id, user_id FROM mandates.helper h WHERE ${idle} AND ${warnedEnough} LIMIT 10000`, [at(IDLE_DAYS), at(WARNING_NOTICE_DAYS)]);
  for (const h of toDeactivate.rows) {
    deactivated += await ctx.db.transaction(async (tx) => {
      const r = await tx.query(`UPDATE mandates.helper h SET active = false, deactivated_at = $5 WHERE structure_id = $3 AND user_id = $4 AND ${idle} AND ${warnedEnough} RETURNING user_id`, [at(IDLE_DAYS), at(WARNING_NOTICE_DAYS), h.structure_id, h.user_id, now.toISOString()]);
      if (!r.rows.length) return 0;
      await appendJournal(tx, { event: 'helper.deactivated_idle', structureId: h.structure_id, actorKind: 'system', detail: { helper: h.user_id }, at: now });
      await syncHelperRole(tx, null, h.structure_id, h.user_id);
      return 1;
    });
  }
  const toWarn = await ctx.db.query<{ structure_id: string; user_id: string }>(`SELECT structure_id, user_id FROM mandates.helper h WHERE ${idle} AND ${notWarned} LIMIT 10000`, [at(IDLE_WARNING_DAYS)]);
  for (const h of toWarn.rows) {
    const ok = await ctx.db.transaction(async (tx) => {
      const r = await tx.query<{ name: string; last: Date | string }>(
        `UPDATE mandates.helper h SET idle_warned_at = $4 FROM mandates.structure s WHERE s.id = h.structure_id AND h.structure_id = $2 AND h.user_id = $3 AND ${idle} AND ${notWarned} RETURNING s.name, COALESCE(h.last_act_at, h.accepted_at, h.added_at) AS last`,
        [at(IDLE_WARNING_DAYS), h.structure_id, h.user_id, now.toISOString()],
      );
      if (!r.rows[0]) return null;
      await appendJournal(tx, { event: 'helper.idle_warning', structureId: h.structure_id, actorKind: 'system', detail: { helper: h.user_id }, at: now });
      return r.rows[0];
    });
    if (!ok) continue;
    warned++;
    const to = await userEmail(h.user_id);
    const on = new Date(Math.max(new Date(ok.last).getTime() + IDLE_DAYS * DAY_MS, now.getTime() + WARNING_NOTICE_DAYS * DAY_MS)).toLocaleDateString('fr-FR', { dateStyle: 'long', timeZone: 'Europe/Paris' });
    if (to) {
      await send(to, 'Votre habilitation d’aidant va être désactivée', `Bonjour,\n\nVous n’avez effectué aucune démarche sous mandat pour la structure « ${ok.name} » depuis plus de 5 mois. Sans activité de votre part, votre habilitation d’aidant y sera désactivée à partir du ${on}.\n\nPour la garder, il suffit d’agir sous un mandat (ou d’en créer un) avant cette date. Une fois désactivée, le référent de la structure ou l’équipe régionale peut la réactiver.\n`);
    }
  }
  return { warned, deactivated };
}

/**
 * Deletes the identity (names, birth date) of every person whose mandates all ended (expired or
 * revoked) more than `retentionMonths` ago; the mandates, their hashes and the journal stay, so
 * statistics and the journal's integrity are kept. One transaction per person.
 */
export async function purgeIdentities(ctx: AppContext, retentionMonths: number, now = new Date()): Promise<number> {
  const limit = new Date(now.getTime() - retentionMonths * 30.4375 * DAY_MS);
  const { rows } = await ctx.db.query<{ id: string; structure_id: string }>(
    `SELECT p.id, p.structure_id FROM mandates.person p
      WHERE p.purged_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM mandates.mandate m WHERE m.person_id = p.id AND LEAST(m.expires_at, COALESCE(m.revoked_at, m.expires_at)) > $1)
      LIMIT 10000`,
    [limit.toISOString()],
  );
  let n = 0;
  for (const p of rows) {
    n += await ctx.db.transaction(async (tx) => {
      const r = await tx.query(
        `UPDATE mandates.person SET given_name = NULL, family_name = NULL, birth_date = NULL, identity_check = NULL, idp_issuer = NULL, idp_sub_hash = NULL, purged_at = $2
          WHERE id = $1 AND purged_at IS NULL AND NOT EXISTS (SELECT 1 FROM mandates.mandate m WHERE m.person_id = $1 AND LEAST(m.expires_at, COALESCE(m.revoked_at, m.expires_at)) > $3) RETURNING id`,
        [p.id, now.toISOString(), limit.toISOString()],
      );
      if (!r.rows.length) return 0;
      await appendJournal(tx, { event: 'person.purged', structureId: p.structure_id, actorKind: 'system', detail: { person: p.id }, at: now });
      return 1;
    });
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Statistics (no identities)

export interface MandateStats {
  activeMandates: number;
  mandates: number;
  byProcedure: { procedure: string; label: string; active: number; total: number }[];
  byDuration: { duration: string; total: number }[];
  helpers: { active: number; trained: number };
  structures: number;
  acts: number;
}

export async function statistics(db: Queryable, scope: { regions?: string[]; departements?: string[]; structureIds?: string[] } = {}, now = new Date()): Promise<MandateStats> {
  const where: string[] = [];
  const params: unknown[] = [now.toISOString()];
  if (scope.regions) where.push(`region = ANY($${params.push(scope.regions)}::text[])`);
  if (scope.departements) where.push(`departement = ANY($${params.push(scope.departements)}::text[])`);
  if (scope.structureIds) where.push(`id = ANY($${params.push(scope.structureIds)}::uuid[])`);
  const structures = `SELECT id FROM mandates.structure${where.length ? ` WHERE ${where.join(' OR ')}` : ''}`;
  const [totals, procs, durations, helpers, structs, acts] = await Promise.all([
    db.query<{ total: number; active: number }>(`SELECT count(*)::int AS total, count(*) FILTER (WHERE revoked_at IS NULL AND expires_at > $1)::int AS active FROM mandates.mandate WHERE structure_id IN (${structures})`, params),
    db.query<{ procedure: string; total: number; active: number }>(
      `SELECT mp.procedure, count(*)::int AS total, count(*) FILTER (WHERE mp.revoked_at IS NULL AND m.revoked_at IS NULL AND m.expires_at > $1)::int AS active
         FROM mandates.mandate_procedure mp JOIN mandates.mandate m ON m.id = mp.mandate_id WHERE m.structure_id IN (${structures}) GROUP BY mp.procedure`,
      params,
    ),
    db.query<{ duration: string; total: number }>(`SELECT duration, count(*)::int AS total FROM mandates.mandate WHERE structure_id IN (${structures}) AND $1::text IS NOT NULL GROUP BY duration`, params),
    db.query<{ active: number; trained: number }>(
      `SELECT count(DISTINCT user_id)::int AS active, count(DISTINCT user_id) FILTER (WHERE trained_on IS NOT NULL)::int AS trained FROM mandates.helper WHERE active AND structure_id IN (${structures}) AND $1::text IS NOT NULL`,
      params,
    ),
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${structures}) s WHERE $1::text IS NOT NULL`, params),
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM mandates.journal WHERE event = 'mandate.act' AND structure_id IN (${structures}) AND $1::text IS NOT NULL`, params),
  ]);
  const byProc = new Map(procs.rows.map((r) => [r.procedure, r]));
  return {
    activeMandates: totals.rows[0]!.active,
    mandates: totals.rows[0]!.total,
    byProcedure: Object.entries(ADMIN_PROCEDURES).map(([procedure, label]) => ({ procedure, label, active: byProc.get(procedure)?.active ?? 0, total: byProc.get(procedure)?.total ?? 0 })),
    byDuration: ['1d', '1m', '6m', '1y'].map((d) => ({ duration: d, total: durations.rows.find((r) => r.duration === d)?.total ?? 0 })),
    helpers: helpers.rows[0]!,
    structures: structs.rows[0]!.n,
    acts: acts.rows[0]!.n,
  };
}

/** Active mandates and trained active helpers per région and département (roadmap indicators). */
export async function territoryCounts(db: Queryable, now = new Date()): Promise<{ level: 'region' | 'departement'; code: string; activeMandates: number; trainedHelpers: number }[]> {
  const { rows } = await db.query<{ region: string | null; departement: string | null; active: number; trained: number }>(
    `SELECT s.region, s.departement,
            (SELECT count(*) FROM mandates.mandate m WHERE m.structure_id = s.id AND m.revoked_at IS NULL AND m.expires_at > $1)::int AS active,
            (SELECT count(*) FROM mandates.helper h WHERE h.structure_id = s.id AND h.active AND h.trained_on IS NOT NULL)::int AS trained
       FROM mandates.structure s WHERE s.active`,
    [now.toISOString()],
  );
  const out = new Map<string, { level: 'region' | 'departement'; code: string; activeMandates: number; trainedHelpers: number }>();
  for (const r of rows) {
    for (const [level, code] of [['region', r.region], ['departement', r.departement]] as const) {
      if (!code) continue;
      const k = `${level}:${code}`;
      const v = out.get(k) ?? { level, code, activeMandates: 0, trainedHelpers: 0 };
      v.activeMandates += r.active;
      v.trainedHelpers += r.trained;
      out.set(k, v);
    }
  }
  return [...out.values()];
}

export type { Db };

/**
 * Open data: per département of the structures, per procedure, the authorisations given and in
 * force, and per duration the mandates created; counts below `small` are hidden (null).
 */
export async function openDataRows(db: Queryable, small: number, now = new Date()): Promise<{ departement: string; figure: string; key: string; value: number | null }[]> {
  const [procs, durations] = await Promise.all([
    db.query<{ departement: string; procedure: string; total: number; active: number }>(
      `SELECT s.departement, mp.procedure, count(*)::int AS total,
              count(*) FILTER (WHERE mp.revoked_at IS NULL AND m.revoked_at IS NULL AND m.expires_at > $1)::int AS active
         FROM mandates.mandate_procedure mp JOIN mandates.mandate m ON m.id = mp.mandate_id JOIN mandates.structure s ON s.id = m.structure_id
        WHERE s.departement IS NOT NULL GROUP BY s.departement, mp.procedure ORDER BY s.departement, mp.procedure`,
      [now.toISOString()],
    ),
    db.query<{ departement: string; duration: string; total: number }>(
      `SELECT s.departement, m.duration, count(*)::int AS total FROM mandates.mandate m JOIN mandates.structure s ON s.id = m.structure_id
        WHERE s.departement IS NOT NULL GROUP BY s.departement, m.duration ORDER BY s.departement, m.duration`,
    ),
  ]);
  const hide = (n: number) => (n < small ? null : n);
  const out: { departement: string; figure: string; key: string; value: number | null }[] = [];
  for (const r of procs.rows) {
    out.push({ departement: r.departement, figure: 'authorisations_given', key: r.procedure, value: hide(r.total) });
    out.push({ departement: r.departement, figure: 'authorisations_in_force', key: r.procedure, value: hide(r.active) });
  }
  for (const r of durations.rows) out.push({ departement: r.departement, figure: 'mandates_by_duration', key: r.duration, value: hide(r.total) });
  return out;
}

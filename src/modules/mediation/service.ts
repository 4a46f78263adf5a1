/**
 * Mediation use cases: recording activities (counters updated in the same transaction), followed
 * beneficiaries (team visibility, duplicates, merge, retention, export/deletion), teams. Every
 * write is audited; every read of a followed beneficiary's record is audited.
 */
import crypto from 'node:crypto';
import type { Queryable } from '../../platform/db/index.ts';
import type { AppContext } from '../../platform/module.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { NotFoundError, UserError } from '../../platform/http/errors.ts';
import { getPlace, getPlacesByUids } from '../places/index.ts';
import { getCommune } from '../territories/index.ts';
import { getUser } from '../accounts/index.ts';
import {
  aliasKey,
  ageBandOf,
  counterDeltas,
  parseActivity,
  parseBeneficiary,
  personRows,
  ValidationFailed,
  type ActivityInput,
  type BeneficiaryInput,
  type CountedActivity,
  type Counter,
  type PersonRow,
} from './model.ts';
import * as store from './store.ts';
import { refreshPublicCubes } from './disclosure.ts';

export type Ctx = Pick<AppContext, 'db' | 'config'> & Partial<Pick<AppContext, 'log'>>;

export const isUuid = (s: unknown): s is string => typeof s === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

/** The person's mediator profile (an empty one the first time). */
export async function profileOf(ctx: Ctx, userId: string, displayName = ''): Promise<store.MediatorProfile> {
  return (await store.getMediator(ctx.db, userId)) ?? { userId, displayName, employer: '', teamId: null, placeUids: [] };
}

/** Sets a mediator's employer and places (uids of directory places; unknown ones refused). */
export async function updateProfile(ctx: Ctx, actorId: string, displayName: string, input: { employer: string; placeUids: string[] }): Promise<store.MediatorProfile> {
  const employer = input.employer.trim();
  if (employer.length > 200 || /[\u0000-\u001f]/.test(employer)) throw new UserError('L’employeur fait au plus 200 caractères.', 400, 'employer');
  const uids = [...new Set(input.placeUids.map((u) => u.trim()).filter(Boolean))];
  if (uids.length > 50) throw new UserError('Au plus 50 lieux.', 400, 'places');
  for (const u of uids) if (!isUuid(u)) throw new UserError(`Lieu inconnu : « ${String(u).slice(0, 60)} ».`, 400, 'places');
  const found = await getPlacesByUids(ctx.db, uids);
  const missing = uids.filter((u) => !found.some((p) => p.uid === u));
  if (missing.length) throw new UserError(`Lieu inconnu : « ${missing[0]} ».`, 400, 'places');
  return ctx.db.transaction(async (tx) => {
    const before = await store.getMediator(tx, actorId);
    const placeTerritories = Object.fromEntries(found.map((p) => [p.uid, { communeCode: p.communeCode, departement: p.departement, region: p.region }]));
    const next = { userId: actorId, displayName, employer, teamId: before?.teamId ?? null, placeUids: uids, placeTerritories };
    await store.upsertMediator(tx, next);
    await recordAudit(tx, { actorId, action: 'mediation.profile.update', objectType: 'mediation.mediator', objectId: actorId, before, after: next });
    return next;
  });
}

async function territoryOf(ctx: Ctx, a: ActivityInput, profile: store.MediatorProfile): Promise<store.Territory> {
  let placeUid = a.placeUid;
  if (a.communeCode) {
    const c = await getCommune(ctx.db, a.communeCode);
    if (!c) throw new ValidationFailed([{ field: 'communeCode', message: `Commune inconnue : ${a.communeCode}.` }]);
    return { communeCode: c.code, departement: c.departement, region: c.region };
  }
  // At home without a commune, or remote: counted in the territory of the mediator's first place.
  placeUid ??= profile.placeUids[0] ?? null;
  if (!placeUid) return { communeCode: null, departement: null, region: null };
  const known = profile.placeTerritories?.[placeUid];
  if (known) return known;
  const p = await getPlace(ctx.db, placeUid);
  return { communeCode: p?.communeCode ?? null, departement: p?.departement ?? null, region: p?.region ?? null };
}

export interface RecordResult {
  id: string;
  /** false when the same idempotency key had already been recorded (nothing written again). */
  created: boolean;
}

/** Followed beneficiaries' attributes for the person rows (gender, status, age band at the date). */
async function followedAttributes(db: Queryable, ids: string[], date: string) {
  const out = new Map<string, { gender: string | null; ageBand: string | null; status: string | null }>();
  if (!ids.length) return out;
  const { rows } = await db.query<{ id: string; gender: string | null; status: string | null; birth_year: number | null }>(
    'SELECT id, gender, status, birth_year FROM mediation.beneficiary WHERE id = ANY($1::uuid[])',
    [ids],
  );
  for (const r of rows) out.set(r.id, { gender: r.gender, status: r.status, ageBand: ageBandOf(r.birth_year, date) });
  return out;
}

/** Checks that every id is a followed beneficiary this mediator may see (a field error otherwise). */
async function checkBeneficiaries(db: Queryable, userId: string, ids: string[]): Promise<void> {
  if (!ids.length) return;
  const visible = await store.visibleMediatorIds(db, userId);
  const { rows } = await db.query<{ id: string }>('SELECT id FROM mediation.beneficiary WHERE id = ANY($1::uuid[]) AND mediator_id = ANY($2::text[])', [ids, visible]);
  if (rows.length !== ids.length) throw new ValidationFailed([{ field: 'beneficiaries', message: 'Bénéficiaire suivi inconnu.' }]);
}

function counted(a: Pick<ActivityInput, 'kind' | 'durationMin' | 'placeKind' | 'themes' | 'adminThemes' | 'autonomy' | 'orientation' | 'equipment'>, people: PersonRow[]): CountedActivity {
  return { kind: a.kind, durationMin: a.durationMin, placeKind: a.placeKind, themes: a.themes, adminThemes: a.adminThemes, autonomy: a.autonomy, orientation: a.orientation, equipment: a.equipment, people };
}

/** Records an activity from form fields or JSON (see parseActivity); ValidationFailed names the fields. */
export async function recordActivity(ctx: Ctx, actor: { id: string; displayName?: string }, raw: Record<string, unknown>, o: { source?: string; today?: string } = {}): Promise<RecordResult> {
  const profile = await profileOf(ctx, actor.id, actor.displayName);
  const a = parseActivity(raw, { myPlaces: profile.placeUids, today: o.today });
  return writeActivity(ctx, actor.id, profile, a, o.source ?? 'form');
}

export async function writeActivity(ctx: Ctx, actorId: string, profile: store.MediatorProfile, a: ActivityInput, source: string): Promise<RecordResult> {
  await checkBeneficiaries(ctx.db, actorId, a.beneficiaryIds);
  const territory = await territoryOf(ctx, a, profile);
  const people = personRows(a, await followedAttributes(ctx.db, a.beneficiaryIds, a.date));
  const id = crypto.randomUUID();
  const deltas = counterDeltas(counted(a, people), { month: `${a.date.slice(0, 7)}-01`, mediatorId: actorId, teamId: profile.teamId, placeUid: a.placeUid, ...territory });
  const result = await ctx.db.transaction(async (tx) => {
    // One statement: the activity, its people, the counters, the public versions (nothing on a resend).
    const r = await store.insertActivityWithCounters(tx, id, actorId, profile.teamId, a, territory, source, people, deltas);
    if (!r.created) return r;
    await recordAudit(tx, {
      actorId,
      action: 'mediation.activity.create',
      objectType: 'mediation.activity',
      objectId: id,
      // No notes nor beneficiary ids in the trail: only what the figures are made of.
      after: { kind: a.kind, date: a.date, durationMin: a.durationMin, participants: a.participants, themes: a.themes, source },
    });
    return r;
  });
  if (result.created) refreshAfterCommit(ctx, deltas);
  return result;
}

/**
 * After a committed write: the public cubes it made stale are rebuilt in the background, so the
 * next public reader usually finds them built (disclosure.ts refreshPublicCubes). Not under
 * NODE_ENV=test, whose tests call refreshPublicCubes themselves (a background write could land in
 * the middle of a test's before/after comparison of the database).
 */
function refreshAfterCommit(ctx: Ctx, deltas: Counter[]): void {
  if (ctx.config.env === 'test') return;
  void refreshPublicCubes(ctx.db, store.publicVersionsOf(deltas), (e) => ctx.log?.warn({ err: e }, 'mediation: background rebuild of the public figures failed'));
}

/** An activity the person may see (their own or their team's), or a 404. */
export async function visibleActivity(ctx: Ctx, userId: string, id: string): Promise<store.ActivityRow> {
  if (!isUuid(id)) throw new NotFoundError('Activité introuvable.');
  const a = await store.getActivity(ctx.db, id);
  if (!a || !(await store.visibleMediatorIds(ctx.db, userId)).includes(a.mediatorId)) throw new NotFoundError('Activité introuvable.');
  return a;
}

/** Removes one's own activity (counters decremented in the same transaction). */
export async function deleteActivity(ctx: Ctx, actorId: string, id: string): Promise<void> {
  const a = await visibleActivity(ctx, actorId, id);
  if (a.mediatorId !== actorId) throw new UserError('Seul le médiateur qui l’a saisie peut supprimer une activité.', 403);
  const deltas = await ctx.db.transaction(async (tx) => {
    const people = await store.activityPeople(tx, id);
    const gone = await tx.query<{ id: string }>('DELETE FROM mediation.activity WHERE id = $1 RETURNING id', [id]);
    if (!gone.rows[0]) return []; // removed meanwhile by another request
    const deltas = counterDeltas(counted(a as unknown as ActivityInput, people), {
      month: `${a.date.slice(0, 7)}-01`, mediatorId: a.mediatorId, teamId: a.teamId, placeUid: a.placeUid, communeCode: a.communeCode, departement: a.departement, region: a.region,
    }, -1);
    await store.applyCounters(tx, deltas);
    await recordAudit(tx, { actorId, action: 'mediation.activity.delete', objectType: 'mediation.activity', objectId: id, before: { kind: a.kind, date: a.date, participants: a.participants } });
    return deltas;
  });
  if (deltas.length) refreshAfterCommit(ctx, deltas);
}

export async function recentActivities(ctx: Ctx, userId: string, limit = 20): Promise<store.ActivityRow[]> {
  return store.listActivities(ctx.db, [userId], limit);
}

// ---------------------------------------------------------------------------------------------
// Followed beneficiaries

export interface Beneficiary {
  id: string;
  mediatorId: string;
  alias: string;
  birthYear: number | null;
  communeCode: string | null;
  contact: string | null;
  gender: string | null;
  status: string | null;
  consentAt: string;
  createdAt: string;
  lastActivityOn: string | null;
}

interface RawBeneficiary {
  id: string; mediator_id: string; alias: string; birth_year: number | null; commune_code: string | null; contact: string | null; gender: string | null; status: string | null;
  consent_at: Date | string; created_at: Date | string; last_activity_on: string | null;
}
const BEN_COLUMNS = 'id, mediator_id, alias, birth_year, commune_code, contact, gender, status, consent_at, created_at, last_activity_on::text AS last_activity_on';
const toBeneficiary = (r: RawBeneficiary): Beneficiary => ({
  id: r.id, mediatorId: r.mediator_id, alias: r.alias, birthYear: r.birth_year, communeCode: r.commune_code, contact: r.contact, gender: r.gender, status: r.status,
  consentAt: new Date(r.consent_at).toISOString(), createdAt: new Date(r.created_at).toISOString(), lastActivityOn: r.last_activity_on,
});

export async function createBeneficiary(ctx: Ctx, actorId: string, raw: Record<string, unknown>): Promise<Beneficiary> {
  const b = parseBeneficiary(raw);
  await checkCommune(ctx, b);
  const id = crypto.randomUUID();
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<RawBeneficiary>(
      `INSERT INTO mediation.beneficiary (id, mediator_id, alias, alias_key, birth_year, commune_code, contact, gender, status, consent_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9, now()) RETURNING ${BEN_COLUMNS}`,
      [id, actorId, b.alias, aliasKey(b.alias), b.birthYear, b.communeCode, b.contact, b.gender, b.status],
    );
    await recordAudit(tx, { actorId, action: 'mediation.beneficiary.create', objectType: 'mediation.beneficiary', objectId: id, meta: { consent: true } });
    return toBeneficiary(rows[0]!);
  });
}

async function checkCommune(ctx: Ctx, b: BeneficiaryInput) {
  if (b.communeCode && !(await getCommune(ctx.db, b.communeCode))) throw new ValidationFailed([{ field: 'communeCode', message: `Commune inconnue : ${b.communeCode}.` }]);
}

/** Loads a followed beneficiary the person may see; every access is audited (reason in meta). */
export async function openBeneficiary(ctx: Ctx, actorId: string, id: string, purpose: 'read' | 'export' | 'update' | 'delete' | 'merge' = 'read'): Promise<Beneficiary> {
  if (!isUuid(id)) throw new NotFoundError('Bénéficiaire introuvable.');
  const visible = await store.visibleMediatorIds(ctx.db, actorId);
  const { rows } = await ctx.db.query<RawBeneficiary>(`SELECT ${BEN_COLUMNS} FROM mediation.beneficiary WHERE id = $1 AND mediator_id = ANY($2::text[])`, [id, visible]);
  if (!rows[0]) throw new NotFoundError('Bénéficiaire introuvable.');
  if (purpose === 'read' || purpose === 'export') {
    await recordAudit(ctx.db, { actorId, action: purpose === 'read' ? 'mediation.beneficiary.read' : 'mediation.beneficiary.export', objectType: 'mediation.beneficiary', objectId: id });
  }
  return toBeneficiary(rows[0]);
}

export async function updateBeneficiary(ctx: Ctx, actorId: string, id: string, raw: Record<string, unknown>): Promise<Beneficiary> {
  const before = await openBeneficiary(ctx, actorId, id, 'update');
  const b = parseBeneficiary({ ...raw, consent: 'on' });
  await checkCommune(ctx, b);
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<RawBeneficiary>(
      `UPDATE mediation.beneficiary SET alias = $2, alias_key = $3, birth_year = $4, commune_code = $5, contact = $6, gender = $7, status = $8 WHERE id = $1 RETURNING ${BEN_COLUMNS}`,
      [id, b.alias, aliasKey(b.alias), b.birthYear, b.communeCode, b.contact, b.gender, b.status],
    );
    await recordAudit(tx, { actorId, action: 'mediation.beneficiary.update', objectType: 'mediation.beneficiary', objectId: id, meta: { fields: Object.keys(b).filter((k) => (b as unknown as Record<string, unknown>)[k] !== (before as unknown as Record<string, unknown>)[k]) } });
    return toBeneficiary(rows[0]!);
  });
}

/** Followed beneficiaries visible to the person, optionally filtered by alias. */
export async function listBeneficiaries(ctx: Ctx, userId: string, q = '', limit = 100): Promise<Beneficiary[]> {
  const visible = await store.visibleMediatorIds(ctx.db, userId);
  const key = aliasKey(q.slice(0, 100));
  const { rows } = await ctx.db.query<RawBeneficiary>(
    `SELECT ${BEN_COLUMNS} FROM mediation.beneficiary WHERE mediator_id = ANY($1::text[]) ${key ? `AND alias_key LIKE '%' || $3 || '%'` : ''}
     ORDER BY alias_key, id LIMIT $2`,
    key ? [visible, limit, key.replace(/[%_\\]/g, '')] : [visible, limit],
  );
  return rows.map(toBeneficiary);
}

export interface DuplicatePair {
  a: Beneficiary;
  b: Beneficiary;
  reason: string;
}

/** Probable duplicates among visible beneficiaries: same folded alias, and birth years and
 *  communes that do not contradict each other. */
export async function beneficiaryDuplicates(ctx: Ctx, userId: string): Promise<DuplicatePair[]> {
  const all = await listBeneficiaries(ctx, userId, '', 5000);
  const groups = new Map<string, Beneficiary[]>();
  for (const b of all) {
    const k = aliasKey(b.alias);
    groups.set(k, [...(groups.get(k) ?? []), b]);
  }
  const pairs: DuplicatePair[] = [];
  for (const list of groups.values()) {
    for (let i = 0; i < list.length; i++)
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i]!;
        const b = list[j]!;
        if (a.birthYear && b.birthYear && a.birthYear !== b.birthYear) continue;
        if (a.communeCode && b.communeCode && a.communeCode !== b.communeCode) continue;
        pairs.push({ a, b, reason: a.birthYear && a.birthYear === b.birthYear ? 'même nom et même année de naissance' : 'même nom' });
      }
  }
  return pairs;
}

/** Merges `drop` into `keep`: activities move over, missing fields are filled, `drop` is deleted. */
export async function mergeBeneficiaries(ctx: Ctx, actorId: string, keepId: string, dropId: string): Promise<Beneficiary> {
  if (keepId === dropId) throw new UserError('Choisissez deux personnes différentes.', 400, 'drop');
  const keep = await openBeneficiary(ctx, actorId, keepId, 'merge');
  const drop = await openBeneficiary(ctx, actorId, dropId, 'merge');
  return ctx.db.transaction(async (tx) => {
    // One activity keeps one row per person: where both took part, the dropped row becomes anonymous.
    await tx.query(
      `UPDATE mediation.activity_beneficiary d SET beneficiary_id = NULL WHERE d.beneficiary_id = $2
         AND EXISTS (SELECT 1 FROM mediation.activity_beneficiary k WHERE k.activity_id = d.activity_id AND k.beneficiary_id = $1)`,
      [keepId, dropId],
    );
    await tx.query('UPDATE mediation.activity_beneficiary SET beneficiary_id = $1 WHERE beneficiary_id = $2', [keepId, dropId]);
    const { rows } = await tx.query<RawBeneficiary>(
      `UPDATE mediation.beneficiary SET birth_year = coalesce(birth_year, $2), commune_code = coalesce(commune_code, $3), contact = coalesce(contact, $4),
         gender = coalesce(gender, $5), status = coalesce(status, $6), last_activity_on = greatest(last_activity_on, $7::date),
         consent_at = least(consent_at, $8::timestamptz)
       WHERE id = $1 RETURNING ${BEN_COLUMNS}`,
      [keepId, drop.birthYear, drop.communeCode, drop.contact, drop.gender, drop.status, drop.lastActivityOn, drop.consentAt],
    );
    await tx.query('DELETE FROM mediation.beneficiary WHERE id = $1', [dropId]);
    await recordAudit(tx, { actorId, action: 'mediation.beneficiary.merge', objectType: 'mediation.beneficiary', objectId: keepId, meta: { merged: dropId, keptAlias: keep.alias === drop.alias } });
    return toBeneficiary(rows[0]!);
  });
}

/** Everything held about a followed person (their right of access), audited. */
export async function exportBeneficiary(ctx: Ctx, actorId: string, id: string) {
  const b = await openBeneficiary(ctx, actorId, id, 'export');
  const { rows } = await ctx.db.query<{ date: string; kind: string; duration_min: number; themes: string[]; admin_themes: string[]; place_kind: string; commune_code: string | null }>(
    `SELECT a.date::text AS date, a.kind, a.duration_min, a.themes, a.admin_themes, a.place_kind, a.commune_code
       FROM mediation.activity_beneficiary ab JOIN mediation.activity a ON a.id = ab.activity_id WHERE ab.beneficiary_id = $1 ORDER BY a.date`,
    [id],
  );
  return {
    person: { alias: b.alias, birthYear: b.birthYear, communeCode: b.communeCode, contact: b.contact, gender: b.gender, status: b.status, consentAt: b.consentAt, createdAt: b.createdAt },
    activities: rows.map((r) => ({ date: r.date, kind: r.kind, durationMin: r.duration_min, themes: r.themes, adminThemes: r.admin_themes, placeKind: r.place_kind, communeCode: r.commune_code })),
  };
}

/** Deletes a followed person on request: their rows in activities become anonymous (figures kept). */
export async function deleteBeneficiary(ctx: Ctx, actorId: string | null, id: string, reason: 'request' | 'retention' = 'request'): Promise<void> {
  if (actorId) await openBeneficiary(ctx, actorId, id, 'delete');
  await ctx.db.transaction(async (tx) => {
    await tx.query('UPDATE mediation.activity_beneficiary SET beneficiary_id = NULL WHERE beneficiary_id = $1', [id]);
    const gone = await tx.query('DELETE FROM mediation.beneficiary WHERE id = $1 RETURNING id', [id]);
    if (gone.rows.length) await recordAudit(tx, { actorId, action: 'mediation.beneficiary.delete', objectType: 'mediation.beneficiary', objectId: id, meta: { reason } });
  });
}

/**
 * Deletes followed beneficiaries whose last activity (or, without any, their creation) is older
 * than the retention period; returns how many. Run daily by the job `mediation.retention` and by
 * `maillage mediation purge`.
 */
export async function purgeExpired(ctx: Ctx, now = new Date(), batch = 500): Promise<number> {
  const months = ctx.config.mediationRetentionMonths;
  const limit = new Date(now);
  limit.setMonth(limit.getMonth() - months);
  const cutoff = limit.toISOString().slice(0, 10);
  let total = 0;
  for (;;) {
    const { rows } = await ctx.db.query<{ id: string }>(
      'SELECT id FROM mediation.beneficiary WHERE coalesce(last_activity_on, created_at::date) < $1::date ORDER BY id LIMIT $2',
      [cutoff, batch],
    );
    if (!rows.length) break;
    await ctx.db.transaction(async (tx) => {
      const ids = rows.map((r) => r.id);
      await tx.query('UPDATE mediation.activity_beneficiary SET beneficiary_id = NULL WHERE beneficiary_id = ANY($1::uuid[])', [ids]);
      await tx.query('DELETE FROM mediation.beneficiary WHERE id = ANY($1::uuid[])', [ids]);
      await recordAudit(tx, { actorId: null, action: 'mediation.beneficiary.purge', objectType: 'mediation.beneficiary', meta: { count: ids.length, cutoff, retentionMonths: months } });
    });
    total += rows.length;
    if (rows.length < batch) break;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Teams

export interface Team {
  id: string;
  name: string;
  coordinatorId: string | null;
  members: string[];
}

export async function listTeams(ctx: Ctx): Promise<Team[]> {
  const { rows } = await ctx.db.query<{ id: string; name: string; coordinator_id: string | null; members: string[] | null }>(
    `SELECT t.id, t.name, t.coordinator_id, array_remove(array_agg(m.user_id ORDER BY m.user_id), NULL) AS members
       FROM mediation.team t LEFT JOIN mediation.mediator m ON m.team_id = t.id GROUP BY t.id ORDER BY t.name`,
  );
  return rows.map((r) => ({ id: r.id, name: r.name, coordinatorId: r.coordinator_id, members: r.members ?? [] }));
}

export async function createTeam(ctx: Ctx, actorId: string, name: string, coordinatorId: string | null): Promise<Team> {
  const n = name.trim();
  if (!n || n.length > 200 || /[\u0000-\u001f]/.test(n)) throw new UserError('Le nom de l’équipe fait de 1 à 200 caractères.', 400, 'name');
  const id = crypto.randomUUID();
  await ctx.db.transaction(async (tx) => {
    await tx.query('INSERT INTO mediation.team (id, name, coordinator_id) VALUES ($1, $2, $3)', [id, n, coordinatorId]);
    await recordAudit(tx, { actorId, action: 'mediation.team.create', objectType: 'mediation.team', objectId: id, after: { name: n, coordinatorId } });
  });
  return { id, name: n, coordinatorId, members: [] };
}

/** Puts a mediator in a team (or out of any, with null). */
export async function setTeam(ctx: Ctx, actorId: string, mediatorId: string, teamId: string | null, displayName = ''): Promise<void> {
  if (teamId && !isUuid(teamId)) throw new UserError('Équipe inconnue.', 400, 'team');
  await ctx.db.transaction(async (tx) => {
    if (teamId && !(await tx.query('SELECT 1 FROM mediation.team WHERE id = $1', [teamId])).rows.length) throw new UserError('Équipe inconnue.', 400, 'team');
    const before = await store.getMediator(tx, mediatorId);
    await store.upsertMediator(tx, { ...(before ?? { userId: mediatorId, displayName, employer: '', placeUids: [] }), teamId });
    await recordAudit(tx, { actorId, action: 'mediation.team.member', objectType: 'mediation.mediator', objectId: mediatorId, before: { teamId: before?.teamId ?? null }, after: { teamId } });
  });
}

export interface TeamPerson {
  id: string;
  name: string;
  email: string | null;
}

/** A team's coordinator and members with their names and addresses (for the staff teams page). */
export async function teamPeople(ctx: Ctx, team: Team): Promise<{ coordinator: TeamPerson | null; members: TeamPerson[] }> {
  const { rows } = await ctx.db.query<{ user_id: string; display_name: string }>(
    'SELECT user_id, display_name FROM mediation.mediator WHERE user_id = ANY($1::text[])',
    [team.members],
  );
  const names = new Map(rows.map((r) => [r.user_id, r.display_name]));
  const person = async (id: string): Promise<TeamPerson> => {
    const u = await getUser(ctx.db, id);
    return { id, name: u?.displayName || names.get(id) || 'Compte supprimé', email: u?.email ?? null };
  };
  const members = await Promise.all(team.members.map(person));
  members.sort((a, b) => a.name.localeCompare(b.name, 'fr') || a.id.localeCompare(b.id));
  return { coordinator: team.coordinatorId ? await person(team.coordinatorId) : null, members };
}

/** Takes a mediator out of their team (audited; nothing changes when they are in none). */
export async function leaveTeam(ctx: Ctx, actorId: string, mediatorId: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const before = await store.getMediator(tx, mediatorId);
    if (!before?.teamId) throw new UserError('Ce médiateur n’est dans aucune équipe.', 400, 'member');
    await store.upsertMediator(tx, { ...before, teamId: null });
    await recordAudit(tx, { actorId, action: 'mediation.team.member', objectType: 'mediation.mediator', objectId: mediatorId, before: { teamId: before.teamId }, after: { teamId: null } });
  });
}

/** Teams this person coordinates. */
export async function coordinatedTeams(ctx: Ctx, userId: string): Promise<Team[]> {
  return (await listTeams(ctx)).filter((t) => t.coordinatorId === userId);
}

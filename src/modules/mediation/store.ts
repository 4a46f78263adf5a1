/** SQL for the mediation schema's own tables. */
import type { Queryable } from '../../platform/db/index.ts';
import type { ActivityInput, Counter, PersonRow } from './model.ts';

export interface MediatorProfile {
  userId: string;
  displayName: string;
  employer: string;
  teamId: string | null;
  placeUids: string[];
  /** Territory of each place, by uid (resolved when the profile is saved). */
  placeTerritories?: Record<string, { communeCode: string | null; departement: string | null; region: string | null }>;
}

export async function getMediator(db: Queryable, userId: string): Promise<MediatorProfile | null> {
  const { rows } = await db.query<{ user_id: string; display_name: string; employer: string; team_id: string | null; place_uids: string[]; place_territories: MediatorProfile['placeTerritories'] }>(
    'SELECT user_id, display_name, employer, team_id, place_uids, place_territories FROM mediation.mediator WHERE user_id = $1',
    [userId],
    { prepare: true },
  );
  const r = rows[0];
  return r ? { userId: r.user_id, displayName: r.display_name, employer: r.employer, teamId: r.team_id, placeUids: r.place_uids, placeTerritories: r.place_territories ?? {} } : null;
}

export async function upsertMediator(db: Queryable, p: MediatorProfile): Promise<void> {
  await db.query(
    `INSERT INTO mediation.mediator (user_id, display_name, employer, team_id, place_uids, place_territories) VALUES ($1, $2, $3, $4, $5, $6::jsonb)
     ON CONFLICT (user_id) DO UPDATE SET display_name = EXCLUDED.display_name, employer = EXCLUDED.employer, team_id = EXCLUDED.team_id, place_uids = EXCLUDED.place_uids,
       place_territories = EXCLUDED.place_territories, updated_at = now()`,
    [p.userId, p.displayName, p.employer, p.teamId, p.placeUids, JSON.stringify(p.placeTerritories ?? {})],
  );
}

/** The mediators whose beneficiaries and records this person sees: themself, and the members of
 *  every team they belong to or coordinate. */
export async function visibleMediatorIds(db: Queryable, userId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT $1::text AS id
     UNION
     SELECT m.user_id FROM mediation.mediator m
      WHERE m.team_id IN (SELECT team_id FROM mediation.mediator WHERE user_id = $1 AND team_id IS NOT NULL
                          UNION SELECT id FROM mediation.team WHERE coordinator_id = $1)`,
    [userId],
  );
  return rows.map((r) => r.id);
}

export interface Territory {
  communeCode: string | null;
  departement: string | null;
  region: string | null;
}

/**
 * Records a new activity in one statement (one round trip): the activity, its person rows, the
 * counter deltas, the public versions of the régions and years concerned and the followed people's
 * last activity date — or nothing at all when this mediator already sent the idempotency key
 * (every sub-statement reads from `ins`, which is empty on a conflict). Deltas come sorted
 * (counterDeltas), so concurrent writers lock counter rows in the same order.
 */
export async function insertActivityWithCounters(
  tx: Queryable,
  id: string,
  mediatorId: string,
  teamId: string | null,
  a: ActivityInput,
  t: Territory,
  source: string,
  people: PersonRow[],
  deltas: Counter[],
): Promise<{ id: string; created: boolean }> {
  const versions = publicVersionsOf(deltas);
  const { rows } = await tx.query<{ id: string }>(
    `WITH ins AS (
       INSERT INTO mediation.activity (id, mediator_id, team_id, kind, date, duration_min, place_kind, place_uid, commune_code, departement, region,
         themes, admin_themes, equipment, autonomy, orientation, notes, workshop_title, workshop_level, participants, anonymous, idempotency_key, source)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21::jsonb,$22,$23)
       ON CONFLICT (mediator_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
       RETURNING id
     ), people AS (
       INSERT INTO mediation.activity_beneficiary (activity_id, seq, beneficiary_id, gender, age_band, status)
       SELECT ins.id, u.s, u.b, u.g, u.ab, u.st FROM ins, unnest($24::int[], $25::uuid[], $26::text[], $27::text[], $28::text[]) AS u(s, b, g, ab, st)
     ), counters AS (
       INSERT INTO mediation.stat_counter AS c (scope, scope_id, month, metric, key, value)
       SELECT u.* FROM ins, unnest($29::text[], $30::text[], $31::date[], $32::text[], $33::text[], $34::bigint[]) AS u
       ON CONFLICT (scope, scope_id, month, metric, key) DO UPDATE SET value = c.value + EXCLUDED.value
     ), versions AS (
       INSERT INTO mediation.public_version AS v (region, year, version) SELECT u.r, u.y, 1 FROM ins, unnest($35::text[], $36::int[]) AS u(r, y)
       ON CONFLICT (region, year) DO UPDATE SET version = v.version + 1
     ), followed AS (
       UPDATE mediation.beneficiary SET last_activity_on = greatest(last_activity_on, $5::date)
        WHERE id = ANY($37::uuid[]) AND EXISTS (SELECT 1 FROM ins)
     )
     SELECT id FROM ins`,
    [
      id, mediatorId, teamId, a.kind, a.date, a.durationMin, a.placeKind, a.placeUid, t.communeCode, t.departement, t.region,
      a.themes, a.adminThemes, a.equipment, a.autonomy, a.orientation, a.notes, a.workshopTitle, a.workshopLevel, a.participants,
      JSON.stringify(a.anonymous), a.idempotencyKey, source,
      people.map((_, i) => i + 1), people.map((p) => p.beneficiaryId), people.map((p) => p.gender), people.map((p) => p.ageBand), people.map((p) => p.status),
      deltas.map((d) => d.scope), deltas.map((d) => d.scopeId), deltas.map((d) => d.month), deltas.map((d) => d.metric), deltas.map((d) => d.key), deltas.map((d) => d.value),
      versions.map((v) => v.region), versions.map((v) => v.year), a.beneficiaryIds,
    ],
    { prepare: true },
  );
  if (rows[0]) return { id: rows[0].id, created: true };
  const existing = await tx.query<{ id: string }>('SELECT id FROM mediation.activity WHERE mediator_id = $1 AND idempotency_key = $2', [mediatorId, a.idempotencyKey]);
  return { id: existing.rows[0]!.id, created: false };
}

/** Adds the deltas to the counters (one statement; rows reaching zero are removed). */
export async function applyCounters(tx: Queryable, deltas: Counter[]): Promise<void> {
  if (!deltas.length) return;
  await tx.query(
    `INSERT INTO mediation.stat_counter AS c (scope, scope_id, month, metric, key, value)
     SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::text[], $6::bigint[])
     ON CONFLICT (scope, scope_id, month, metric, key) DO UPDATE SET value = c.value + EXCLUDED.value`,
    [deltas.map((d) => d.scope), deltas.map((d) => d.scopeId), deltas.map((d) => d.month), deltas.map((d) => d.metric), deltas.map((d) => d.key), deltas.map((d) => d.value)],
    { prepare: true },
  );
  await bumpPublicVersions(tx, publicVersionsOf(deltas));
  if (deltas.some((d) => d.value < 0)) {
    await tx.query(
      `DELETE FROM mediation.stat_counter WHERE value = 0 AND (scope, scope_id, month, metric, key) IN
        (SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::text[]))`,
      [deltas.map((d) => d.scope), deltas.map((d) => d.scopeId), deltas.map((d) => d.month), deltas.map((d) => d.metric), deltas.map((d) => d.key)],
    );
  }
}

/** The (région, year) pairs whose public figures a set of counter deltas changes, once each, sorted
 *  (so two writers lock their public_version rows in the same order). */
export function publicVersionsOf(deltas: Counter[]): { region: string; year: number }[] {
  const changed = deltas.filter((d) => d.scope === 'region').map((d) => ({ region: d.scopeId, year: Number(d.month.slice(0, 4)) }));
  return [...new Map(changed.map((c) => [`${c.region}|${c.year}`, c])).values()].sort((a, b) => a.region.localeCompare(b.region) || a.year - b.year);
}

/**
 * Marks the public figures of these régions and years as changed (disclosure.ts rebuilds their
 * protected cube on the next read). In the writer's transaction: a reader on any instance sees the
 * new version exactly when it sees the new counters. Sorted, so two writers lock in the same order.
 */
export async function bumpPublicVersions(tx: Queryable, unique: { region: string; year: number }[]): Promise<void> {
  if (!unique.length) return;
  await tx.query(
    `INSERT INTO mediation.public_version AS v (region, year, version) SELECT r, y, 1 FROM unnest($1::text[], $2::int[]) AS u(r, y)
     ON CONFLICT (region, year) DO UPDATE SET version = v.version + 1`,
    [unique.map((c) => c.region), unique.map((c) => c.year)],
    { prepare: true },
  );
}

export interface ActivityRow {
  id: string;
  mediatorId: string;
  teamId: string | null;
  kind: 'individual' | 'collective';
  date: string;
  durationMin: number;
  placeKind: string;
  placeUid: string | null;
  communeCode: string | null;
  departement: string | null;
  region: string | null;
  themes: string[];
  adminThemes: string[];
  equipment: string | null;
  autonomy: string | null;
  orientation: string | null;
  notes: string | null;
  workshopTitle: string | null;
  workshopLevel: string | null;
  participants: number;
  anonymous: { gender: Record<string, number>; age: Record<string, number>; status: Record<string, number> } | null;
  source: string;
  createdAt: string;
}

const ACTIVITY_COLUMNS = `id, mediator_id, team_id, kind, date::text AS date, duration_min, place_kind, place_uid, commune_code, departement, region, themes, admin_themes,
  equipment, autonomy, orientation, notes, workshop_title, workshop_level, participants, anonymous, source, created_at`;

interface RawActivity {
  id: string; mediator_id: string; team_id: string | null; kind: 'individual' | 'collective'; date: string; duration_min: number; place_kind: string; place_uid: string | null;
  commune_code: string | null; departement: string | null; region: string | null; themes: string[]; admin_themes: string[]; equipment: string | null; autonomy: string | null;
  orientation: string | null; notes: string | null; workshop_title: string | null; workshop_level: string | null; participants: number; anonymous: ActivityRow['anonymous'];
  source: string; created_at: Date | string;
}

function toActivity(r: RawActivity): ActivityRow {
  return {
    id: r.id, mediatorId: r.mediator_id, teamId: r.team_id, kind: r.kind, date: r.date, durationMin: r.duration_min, placeKind: r.place_kind, placeUid: r.place_uid,
    communeCode: r.commune_code, departement: r.departement, region: r.region, themes: r.themes, adminThemes: r.admin_themes, equipment: r.equipment, autonomy: r.autonomy,
    orientation: r.orientation, notes: r.notes, workshopTitle: r.workshop_title, workshopLevel: r.workshop_level, participants: r.participants, anonymous: r.anonymous,
    source: r.source, createdAt: new Date(r.created_at).toISOString(),
  };
}

export async function getActivity(db: Queryable, id: string): Promise<ActivityRow | null> {
  const { rows } = await db.query<RawActivity>(`SELECT ${ACTIVITY_COLUMNS} FROM mediation.activity WHERE id = $1`, [id]);
  return rows[0] ? toActivity(rows[0]) : null;
}

export async function listActivities(db: Queryable, mediatorIds: string[], limit: number, before?: { date: string; id: string } | null): Promise<ActivityRow[]> {
  const { rows } = await db.query<RawActivity>(
    `SELECT ${ACTIVITY_COLUMNS} FROM mediation.activity WHERE mediator_id = ANY($1::text[])
     ${before ? 'AND (date, id) < ($3::date, $4::uuid)' : ''} ORDER BY date DESC, id DESC LIMIT $2`,
    before ? [mediatorIds, limit, before.date, before.id] : [mediatorIds, limit],
  );
  return rows.map(toActivity);
}

export async function activityPeople(db: Queryable, activityId: string): Promise<PersonRow[]> {
  const { rows } = await db.query<{ beneficiary_id: string | null; gender: string | null; age_band: string | null; status: string | null }>(
    'SELECT beneficiary_id, gender, age_band, status FROM mediation.activity_beneficiary WHERE activity_id = $1 ORDER BY seq',
    [activityId],
  );
  return rows.map((r) => ({ beneficiaryId: r.beneficiary_id, gender: r.gender as PersonRow['gender'], ageBand: r.age_band as PersonRow['ageBand'], status: r.status as PersonRow['status'] }));
}

export interface CounterRow {
  month: string;
  metric: string;
  key: string;
  value: number;
}

/** The counters of one scope over [from, to] months (YYYY-MM-01), summed per metric/key, or per month too. */
export async function readCounters(db: Queryable, scope: string, scopeIds: string[], from: string, to: string, metrics?: string[]): Promise<CounterRow[]> {
  const { rows } = await db.query<{ month: string; metric: string; key: string; value: number }>(
    `SELECT month::text AS month, metric, key, sum(value)::bigint AS value FROM mediation.stat_counter
      WHERE scope = $1 AND scope_id = ANY($2::text[]) AND month BETWEEN $3::date AND $4::date ${metrics ? 'AND metric = ANY($5::text[])' : ''}
      GROUP BY month, metric, key ORDER BY month, metric, key`,
    metrics ? [scope, scopeIds, from, to, metrics] : [scope, scopeIds, from, to],
    { prepare: true },
  );
  return rows.map((r) => ({ ...r, value: Number(r.value) }));
}

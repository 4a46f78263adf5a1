/**
 * Labels for tiers-lieux (issue #18): a label programme, run through a label campaign (a call of
 * kind `label`: its criteria are the programme's yes/no criteria and thresholds, its documents the
 * documents asked for); the label granted to a place of the directory with validity dates; renewal
 * and withdrawal with a reason. The history is append-only (`calls.label_event`, a trigger refuses
 * updates and deletes); a place holds the label today (Paris date) when a grant or renewal covers
 * today with no withdrawal after it; it is valid until the end of that chain of renewals. Every change is audited, runs in one
 * transaction with the programme's row locked (two racing grants for a place: one passes).
 */
import crypto from 'node:crypto';
import type { Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { ForbiddenError, NotFoundError, UserError } from '../../platform/http/errors.ts';
import { slugify } from '../../platform/slug.ts';
import { can, type Actor } from '../accounts/index.ts';
import { getPlacesByUids } from '../places/index.ts';
import { getCommune } from '../territories/index.ts';
import { parseDate, text } from './model.ts';
import type { Ctx } from './service.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Places of the directory are identified by a UUID. */
const PLACE_UID = UUID;

export type LabelEventKind = 'granted' | 'renewed' | 'withdrawn';
export const LABEL_EVENTS: Record<LabelEventKind, string> = { granted: 'Label attribué', renewed: 'Label renouvelé', withdrawn: 'Label retiré' };

export interface LabelProgramme {
  id: string;
  slug: string;
  name: string;
  description: string;
  region: string;
  validityMonths: number;
  callId: string | null;
  /** The criteria checked at the audit visit (visits.ts). */
  criteria: LabelCriterion[];
}

export type LabelCriterionKind = 'yes_no' | 'threshold' | 'document';
export interface LabelCriterion {
  id: string;
  kind: LabelCriterionKind;
  label: string;
  /** For a threshold: the minimum the visit must measure (e.g. 50 for « Surface (m²) »). */
  threshold?: number;
  /** A required criterion not met at the latest visit blocks the grant of the label. */
  required: boolean;
}

export interface LabelEvent {
  id: number;
  programmeId: string;
  placeUid: string;
  kind: LabelEventKind;
  validFrom: string | null;
  validUntil: string | null;
  applicationId: string | null;
  reason: string | null;
  at: string;
}

export interface CurrentLabel {
  programme: LabelProgramme;
  placeUid: string;
  validFrom: string;
  validUntil: string;
}

/** Today's date in Paris (labels are valid for whole days, as the convention says). */
export function parisToday(now = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris', year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

/** `date` plus `months` months (clamped to the month's last day), minus one day: the last valid day. */
export function validUntil(from: string, months: number): string {
  const [y, m, d] = from.split('-').map(Number) as [number, number, number];
  const target = new Date(Date.UTC(y, m - 1 + months, 1));
  const last = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(d, last));
  target.setUTCDate(target.getUTCDate() - 1);
  return target.toISOString().slice(0, 10);
}

const dateText = (v: unknown) => (v === null || v === undefined ? null : v instanceof Date ? v.toISOString().slice(0, 10) : String(v).slice(0, 10));

function toProgramme(r: Record<string, unknown>): LabelProgramme {
  return { id: r.id as string, slug: r.slug as string, name: r.name as string, description: r.description as string, region: r.region as string, validityMonths: Number(r.validity_months), callId: (r.call_id as string | null) ?? null, criteria: Array.isArray(r.criteria) ? (r.criteria as LabelCriterion[]) : [] };
}

function toEvent(r: Record<string, unknown>): LabelEvent {
  return {
    id: Number(r.id),
    programmeId: r.programme_id as string,
    placeUid: r.place_uid as string,
    kind: r.kind as LabelEventKind,
    validFrom: dateText(r.valid_from),
    validUntil: dateText(r.valid_until),
    applicationId: (r.application_id as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    at: new Date(r.at as string).toISOString(),
  };
}

const PROGRAMME_COLUMNS = 'id, slug, name, description, region, validity_months, call_id, criteria';
const EVENT_COLUMNS = 'id, programme_id, place_uid, kind, valid_from::text AS valid_from, valid_until::text AS valid_until, application_id, reason, at';

function assertManage(actor: Actor, region: string) {
  if (!can(actor, 'calls.manage', { type: 'call', id: '', region })) throw new ForbiddenError('Seule l’équipe régionale qui gère les labels de cette région peut faire cela.');
}

export async function getProgramme(db: Queryable, idOrSlug: string): Promise<LabelProgramme | null> {
  if (typeof idOrSlug !== 'string' || idOrSlug.length > 120) return null;
  const { rows } = await db.query(`SELECT ${PROGRAMME_COLUMNS} FROM calls.label_programme WHERE ${UUID.test(idOrSlug) ? 'id = $1::uuid' : 'slug = $1'}`, [idOrSlug]);
  return rows[0] ? toProgramme(rows[0]) : null;
}

export async function listProgrammes(db: Queryable): Promise<LabelProgramme[]> {
  const { rows } = await db.query(`SELECT ${PROGRAMME_COLUMNS} FROM calls.label_programme ORDER BY name`);
  return rows.map(toProgramme);
}

/** Creates a label programme, optionally attached to a label campaign (a call of kind `label` of the same région). */
export async function createProgramme(ctx: Ctx, actor: Actor, input: Record<string, unknown>): Promise<LabelProgramme> {
  const name = text(input.name, 'name', 'Nom du label', { required: true, max: 200 });
  const description = text(input.description, 'description', 'Description', { max: 5000, multiline: true });
  const region = text(input.region, 'region', 'Région', { required: true, max: 2 });
  if (!/^\d{2}$/.test(region)) throw new UserError('Région : code INSEE à deux chiffres attendu.', 400, 'region');
  const months = Number(input.validityMonths);
  if (!Number.isInteger(months) || months < 1 || months > 120) throw new UserError('Durée de validité : un nombre entier de mois entre 1 et 120.', 400, 'validityMonths');
  assertManage(actor, region);
  const callId = input.callId === undefined || input.callId === null || input.callId === '' ? null : String(input.callId);
  return ctx.db.transaction(async (tx) => {
    if (callId) {
      const c = UUID.test(callId) ? (await tx.query<{ kind: string; region: string }>('SELECT kind, region FROM calls.call WHERE id = $1', [callId])).rows[0] : undefined;
      if (!c) throw new UserError('Campagne : cet appel n’existe pas.', 400, 'callId');
      if (c.kind !== 'label' || c.region !== region) throw new UserError('Campagne : il faut une campagne de labellisation de la même région.', 400, 'callId');
      if ((await tx.query('SELECT 1 FROM calls.label_programme WHERE call_id = $1', [callId])).rows.length) throw new UserError('Campagne : elle porte déjà un label.', 409, 'callId');
    }
    const id = crypto.randomUUID();
    let slug = slugify(name).slice(0, 80) || 'label';
    if ((await tx.query('SELECT 1 FROM calls.label_programme WHERE slug = $1', [slug])).rows.length) slug = `${slug}-${id.slice(0, 6)}`;
    await tx.query('INSERT INTO calls.label_programme (id, slug, name, description, region, validity_months, call_id, created_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)', [id, slug, name, description, region, months, callId, actor.id]);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.label_programme.create', objectType: 'calls.label_programme', objectId: id, after: { name, region, validityMonths: months, callId } });
    return (await getProgramme(tx, id))!;
  });
}

/** The history of one place's label in a programme (oldest first), or of every programme when none is given. */
export async function labelHistory(db: Queryable, placeUid: string, programmeId?: string): Promise<LabelEvent[]> {
  const { rows } = await db.query(
    `SELECT ${EVENT_COLUMNS} FROM calls.label_event WHERE place_uid = $1 ${programmeId ? 'AND programme_id = $2' : ''} ORDER BY id`,
    programmeId ? [placeUid, programmeId] : [placeUid],
  );
  return rows.map(toEvent);
}

/**
 * The periods valid on a date: a grant or renewal covering it with no withdrawal after it, with
 * the end of its chain (a renewal made before the end extends it). `$1` is the date.
 */
const VALID_SQL = (where: string) => `
  SELECT DISTINCT ON (e.programme_id, e.place_uid) e.programme_id, e.place_uid, e.valid_from::text AS valid_from,
         (SELECT max(x.valid_until) FROM calls.label_event x WHERE x.programme_id = e.programme_id AND x.place_uid = e.place_uid AND x.id >= e.id)::text AS valid_until
    FROM calls.label_event e
   WHERE e.kind <> 'withdrawn' AND e.valid_from <= $1::date AND e.valid_until >= $1::date ${where}
     AND NOT EXISTS (SELECT 1 FROM calls.label_event w WHERE w.programme_id = e.programme_id AND w.place_uid = e.place_uid AND w.kind = 'withdrawn' AND w.id > e.id)
   ORDER BY e.programme_id, e.place_uid, e.id DESC`;

/** The current labels of places (valid today, not withdrawn since), by place uid. */
export async function currentLabels(db: Queryable, placeUids: string[], today = parisToday()): Promise<Map<string, CurrentLabel[]>> {
  const out = new Map<string, CurrentLabel[]>();
  const uids = placeUids.filter((u) => typeof u === 'string' && PLACE_UID.test(u)).slice(0, 5000);
  if (!uids.length) return out;
  const { rows } = await db.query(
    `SELECT v.place_uid, v.valid_from, v.valid_until, p.id, p.slug, p.name, p.description, p.region, p.validity_months, p.call_id
       FROM (${VALID_SQL('AND e.place_uid = ANY ($2)')}) v JOIN calls.label_programme p ON p.id = v.programme_id ORDER BY p.name`,
    [today, uids],
  );
  for (const r of rows) {
    const list = out.get(r.place_uid as string) ?? [];
    list.push({ programme: toProgramme(r), placeUid: r.place_uid as string, validFrom: dateText(r.valid_from)!, validUntil: dateText(r.valid_until)! });
    out.set(r.place_uid as string, list);
  }
  return out;
}

/** Every place labelled today, by one programme or all (the programme's public list, the open data). */
export async function labelledPlaces(db: Queryable, programmeId: string | null, today = parisToday()): Promise<{ placeUid: string; programme: string; validFrom: string; validUntil: string }[]> {
  const { rows } = await db.query(
    `SELECT v.place_uid, p.slug, v.valid_from, v.valid_until FROM (${VALID_SQL(programmeId ? 'AND e.programme_id = $2' : '')}) v
       JOIN calls.label_programme p ON p.id = v.programme_id ORDER BY p.slug, v.place_uid`,
    programmeId ? [today, programmeId] : [today],
  );
  return rows.map((r) => ({ placeUid: r.place_uid as string, programme: r.slug as string, validFrom: dateText(r.valid_from)!, validUntil: dateText(r.valid_until)! }));
}

/**
 * Grants, renews or withdraws a place's label. One transaction with the programme's row locked:
 * the latest event is read under the lock, so two racing changes cannot both apply.
 * - grant: the place exists; no label valid today or later (else renew); optional dossier: an
 *   accepted dossier of the programme's campaign; valid from `validFrom` (default today) for the
 *   programme's period.
 * - renew: a grant since the last withdrawal (valid or expired); the new period starts the day
 *   after the chain's last day (or today if it has expired), so the label stays valid throughout.
 * - withdraw: a label valid today or later; a reason is required.
 */
export async function changeLabel(ctx: Ctx, actor: Actor, programmeId: string, placeUidInput: unknown, kind: unknown, input: Record<string, unknown> = {}, today = parisToday()): Promise<LabelEvent> {
  const programme = await getProgramme(ctx.db, programmeId);
  if (!programme) throw new NotFoundError('Ce label n’existe pas.');
  assertManage(actor, programme.region);
  if (kind !== 'granted' && kind !== 'renewed' && kind !== 'withdrawn') throw new UserError('Action : attribuer, renouveler ou retirer.', 400, 'kind');
  const placeUid = text(placeUidInput, 'placeUid', 'Lieu (identifiant)', { required: true, max: 100 });
  if (!PLACE_UID.test(placeUid)) throw new UserError('Lieu : identifiant invalide.', 400, 'placeUid');
  const place = (await getPlacesByUids(ctx.db, [placeUid]))[0];
  if (!place) throw new UserError('Lieu : aucun lieu de l’annuaire n’a cet identifiant.', 400, 'placeUid');
  if (kind === 'granted') {
    // A région's label goes to places of that région only (a withdrawal stays possible anywhere).
    const commune = place.code_insee ? await getCommune(ctx.db, place.code_insee) : null;
    if (commune?.region !== programme.region) {
      throw new UserError(`Lieu : ${place.nom} (${place.commune}) n’est pas dans la région de ce label : il ne peut pas le recevoir.`, 422, 'placeUid');
    }
  }
  const reason = kind === 'withdrawn' ? text(input.reason, 'reason', 'Motif du retrait', { required: true, max: 2000, multiline: true }) : null;
  const from = kind === 'granted' && input.validFrom !== undefined && input.validFrom !== '' ? parseDate(input.validFrom, 'validFrom', 'Début de validité') : null;
  if (from && Math.abs(Date.parse(`${from}T00:00:00Z`) - Date.parse(`${today}T00:00:00Z`)) > 5 * 366 * 86_400_000) throw new UserError('Début de validité : à moins de cinq ans d’aujourd’hui.', 400, 'validFrom');
  const applicationId = kind === 'granted' && typeof input.applicationId === 'string' && input.applicationId !== '' ? input.applicationId : null;
  if (applicationId && !UUID.test(applicationId)) throw new UserError('Dossier : identifiant invalide.', 400, 'applicationId');
  return ctx.db.transaction(async (tx) => {
    await tx.query('SELECT id FROM calls.label_programme WHERE id = $1 FOR UPDATE', [programme.id]);
    const events = (await tx.query(`SELECT ${EVENT_COLUMNS} FROM calls.label_event WHERE programme_id = $1 AND place_uid = $2 ORDER BY id`, [programme.id, placeUid])).rows.map(toEvent);
    const prev = events[events.length - 1] ?? null;
    const lastWithdrawal = events.map((e) => e.kind).lastIndexOf('withdrawn');
    const chain = events.slice(lastWithdrawal + 1); // grants and renewals since the last withdrawal
    const validNow = chain.some((e) => e.validFrom! <= today && e.validUntil! >= today);
    const chainEnd = chain.reduce<string | null>((m, e) => (m === null || e.validUntil! > m ? e.validUntil! : m), null);
    let validFrom: string | null = null;
    let until: string | null = null;
    if (kind === 'granted') {
      if (validNow || (chainEnd && chainEnd >= today)) throw new UserError(`Ce lieu a déjà le label jusqu’au ${chainEnd} : renouvelez-le plutôt.`, 409, 'kind');
      if (applicationId) {
        const a = (await tx.query<{ call_id: string; state: string }>('SELECT call_id, state FROM calls.application WHERE id = $1', [applicationId])).rows[0];
        if (!a || a.call_id !== programme.callId) throw new UserError('Dossier : ce n’est pas un dossier de la campagne de ce label.', 400, 'applicationId');
        if (a.state !== 'accepte') throw new UserError('Dossier : seul un dossier accepté donne le label.', 409, 'applicationId');
      }
      const blocked = await visitBlock(tx, programme, placeUid, applicationId);
      if (blocked) throw new UserError(blocked, 409, 'visit');
      validFrom = from ?? today;
      until = validUntil(validFrom, programme.validityMonths);
    } else if (kind === 'renewed') {
      if (!chain.length) throw new UserError(prev ? 'Ce label a été retiré : il faut l’attribuer de nouveau.' : 'Ce lieu n’a jamais eu ce label : attribuez-le d’abord.', 409, 'kind');
      // the day after the chain's last valid day, or today when the label has expired
      const next = new Date(`${chainEnd!}T00:00:00Z`);
      next.setUTCDate(next.getUTCDate() + 1);
      validFrom = chainEnd! >= today ? next.toISOString().slice(0, 10) : today;
      until = validUntil(validFrom, programme.validityMonths);
    } else if (!(chainEnd && chainEnd >= today)) {
      throw new UserError('Ce lieu n’a pas ce label aujourd’hui : rien à retirer.', 409, 'kind');
    }
    const { rows } = await tx.query(
      `INSERT INTO calls.label_event (programme_id, place_uid, kind, valid_from, valid_until, application_id, reason, actor_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING ${EVENT_COLUMNS}`,
      [programme.id, placeUid, kind, validFrom, until, applicationId, reason, actor.id],
    );
    const ev = toEvent(rows[0]!);
    await recordAudit(tx, { actorId: actor.id, action: `calls.label.${kind === 'granted' ? 'grant' : kind === 'renewed' ? 'renew' : 'withdraw'}`, objectType: 'calls.label_event', objectId: String(ev.id), before: prev, after: ev });
    return ev;
  });
}

const frDate = (d: string) => new Intl.DateTimeFormat('fr-FR', { timeZone: 'UTC', day: 'numeric', month: 'long', year: 'numeric' }).format(new Date(`${d}T00:00:00Z`));

/**
 * Why the label cannot be granted after the audit visit, or null: when the programme has required
 * criteria, the latest visit of the place (on this dossier when one is named) must have met every
 * one of them, and have checked every required criterion the programme has now.
 */
async function visitBlock(db: Queryable, programme: LabelProgramme, placeUid: string, applicationId: string | null): Promise<string | null> {
  const required = programme.criteria.filter((c) => c.required);
  if (!required.length) return null;
  const { rows } = await db.query<{ visited_on: string; items: { criterion: string; label: string; required: boolean; met: boolean; comment: string }[] }>(
    `SELECT visited_on::text AS visited_on, items FROM calls.label_visit WHERE programme_id = $1 AND place_uid = $2 ${applicationId ? 'AND application_id = $3' : ''} ORDER BY id DESC LIMIT 1`,
    applicationId ? [programme.id, placeUid, applicationId] : [programme.id, placeUid],
  );
  const v = rows[0];
  if (!v) return `Le label demande une visite d’audit : aucune n’est consignée pour ce lieu${applicationId ? ' sur ce dossier' : ''}. Consignez-la depuis le dossier de la campagne avant d’attribuer le label.`;
  const on = frDate(String(v.visited_on).slice(0, 10));
  const unmet = v.items.filter((i) => i.required && !i.met);
  if (unmet.length) {
    return `Le label ne peut pas être attribué : lors de la visite du ${on}, ${unmet.length > 1 ? 'ces critères obligatoires n’étaient pas remplis' : 'ce critère obligatoire n’était pas rempli'} : ${unmet.map((i) => `« ${i.label} »${i.comment ? ` (${i.comment})` : ''}`).join(', ')}.`;
  }
  const missing = required.filter((c) => !v.items.some((i) => i.criterion === c.id && i.label === c.label && i.met));
  if (missing.length) return `Le label ne peut pas être attribué : la visite du ${on} n’a pas vérifié ${missing.map((c) => `« ${c.label} »`).join(', ')} (critère${missing.length > 1 ? 's' : ''} ajouté${missing.length > 1 ? 's' : ''} depuis) : consignez une nouvelle visite.`;
  return null;
}

/** Events of a programme, newest first (staff page). */
export async function programmeEvents(db: Queryable, programmeId: string, limit = 200): Promise<LabelEvent[]> {
  const { rows } = await db.query(`SELECT ${EVENT_COLUMNS} FROM calls.label_event WHERE programme_id = $1 ORDER BY id DESC LIMIT ${Math.max(1, Math.min(1000, limit))}`, [programmeId]);
  return rows.map(toEvent);
}

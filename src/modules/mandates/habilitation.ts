/**
 * Habilitation (Aidants Connect's request workflows):
 * - a structure applies (SIRET checked with its Luhn key, type, address, France Services label,
 *   directory place, description of its public); its author is the référent. States: draft →
 *   processing → validated / refused / changes_required (→ processing again when the référent
 *   submits the corrected request). Regional staff of the request's territory decide; a message
 *   thread between the référent and staff, each message e-mailed to the other side. Validation
 *   creates the structure (its référent recorded).
 * - the référent adds helpers (by their account's e-mail; staff still can, from the structure's
 *   page) and records each helper's training (date) WITH their Pix score: a helper added this way
 *   can act only once both are recorded.
 * Every write is audited in the same transaction; a refused request writes nothing.
 */
import crypto from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import type { Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { html, raw, type Raw } from '../../platform/html/html.ts';
import { ForbiddenError, NotFoundError, UserError } from '../../platform/http/errors.ts';
import { can, findUserByEmail, getUser, grantRoleFromRequest, requireSignedIn, scopesFor, sendMail, signedInUser, usersWithGrant, type CurrentUser } from '../accounts/index.ts';
import { getPlace } from '../places/index.ts';
import { ValidationFailed, type FieldError } from './model.ts';
import { errorSummary, fieldError, fmt, formBody, frame, invalid, one, plural, send } from './pages.ts';
import * as service from './service.ts';
import { inviteByEmail } from './invitations.ts';
import { associateCard, cardsSection, formErrors, importCards, refusalStatus, withdrawCard } from './cards.ts';
import { siretProblem } from '../../platform/siret.ts';

export const STRUCTURE_KINDS = {
  france_services: 'Espace France Services',
  ccas: 'CCAS ou CIAS',
  mairie: 'Mairie',
  association: 'Association',
  mediatheque: 'Médiathèque ou bibliothèque',
  centre_social: 'Centre social',
  tiers_lieu: 'Tiers-lieu numérique',
  autre: 'Autre structure',
} as const;
export type StructureKind = keyof typeof STRUCTURE_KINDS;

export const REQUEST_STATES = {
  draft: 'Brouillon',
  processing: 'En cours d’instruction',
  validated: 'Validée',
  refused: 'Refusée',
  changes_required: 'Modifications demandées',
} as const;
export type RequestState = keyof typeof REQUEST_STATES;

/** A SIRET whose key is right (platform/siret.ts: Luhn, and La Poste's own rule). */
export function siretValid(siret: string): boolean {
  return /^\d{14}$/.test(siret) && siretProblem(siret) === null;
}

const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const LINE_CONTROL = /[\u0000-\u001f\u007f]/;
const yes = (v: unknown) => ['oui', 'true', 'on', '1'].includes(one(v));

export interface RequestInput {
  name: string;
  siret: string;
  kind: StructureKind;
  address: string;
  placeUid: string;
  franceServices: boolean;
  publicDescription: string;
}

/** Reads a request form; every error names its field. The place must exist in the directory. */
export async function parseRequestInput(db: Queryable, raw: Record<string, unknown>): Promise<RequestInput & { place: { communeCode: string | null; departement: string | null; region: string | null } }> {
  const errors: FieldError[] = [];
  const err = (field: string, message: string) => errors.push({ field, message });
  const name = one(raw.name).normalize('NFC').trim();
  if (!name || name.length > 200 || LINE_CONTROL.test(name)) err('name', 'Indiquez le nom de la structure (200 caractères au plus, sur une ligne).');
  const siret = one(raw.siret).replace(/[\s.]/g, '');
  if (!/^\d{14}$/.test(siret)) err('siret', 'Le SIRET a 14 chiffres.');
  else if (!siretValid(siret)) err('siret', 'Ce SIRET n’est pas valable (sa clé de contrôle est fausse) : vérifiez-le sur l’avis de situation SIRENE.');
  const kind = one(raw.kind);
  if (!Object.hasOwn(STRUCTURE_KINDS, kind)) err('kind', 'Choisissez le type de structure.');
  const address = one(raw.address).normalize('NFC').trim();
  if (!address || address.length > 300 || LINE_CONTROL.test(address)) err('address', 'Indiquez l’adresse de la structure (300 caractères au plus, sur une ligne).');
  const placeUid = one(raw.placeUid).trim();
  let place: { communeCode: string | null; departement: string | null; region: string | null } | null = null;
  if (!service.isUuid(placeUid)) err('placeUid', 'Indiquez l’identifiant (uid) du lieu de l’annuaire où la structure accueille le public.');
  else {
    place = await getPlace(db, placeUid);
    if (!place) err('placeUid', 'Ce lieu n’existe pas dans l’annuaire.');
  }
  const publicDescription = one(raw.publicDescription).normalize('NFC').trim();
  if (!publicDescription || publicDescription.length > 2000 || CONTROL.test(publicDescription)) err('publicDescription', 'Décrivez le public accueilli (2 000 caractères au plus).');
  if (errors.length) throw new ValidationFailed(errors);
  return { name, siret, kind: kind as StructureKind, address, placeUid, franceServices: yes(raw.franceServices), publicDescription, place: place! };
}

export interface StructureRequest extends RequestInput {
  id: string;
  state: RequestState;
  referentUserId: string;
  departement: string | null;
  region: string | null;
  communeCode: string | null;
  createdAt: string;
  submittedAt: string | null;
  decidedAt: string | null;
  structureId: string | null;
}
interface RequestRow {
  id: string;
  state: RequestState;
  referent_user_id: string;
  name: string;
  siret: string;
  kind: StructureKind;
  address: string;
  place_uid: string;
  commune_code: string | null;
  departement: string | null;
  region: string | null;
  france_services: boolean;
  public_description: string;
  created_at: Date | string;
  submitted_at: Date | string | null;
  decided_at: Date | string | null;
  structure_id: string | null;
}
const iso = (v: Date | string | null) => (v === null ? null : (v instanceof Date ? v : new Date(v)).toISOString());
const toRequest = (r: RequestRow): StructureRequest => ({
  id: r.id,
  state: r.state,
  referentUserId: r.referent_user_id,
  name: r.name,
  siret: r.siret,
  kind: r.kind,
  address: r.address,
  placeUid: r.place_uid,
  communeCode: r.commune_code,
  departement: r.departement,
  region: r.region,
  franceServices: r.france_services,
  publicDescription: r.public_description,
  createdAt: iso(r.created_at)!,
  submittedAt: iso(r.submitted_at),
  decidedAt: iso(r.decided_at),
  structureId: r.structure_id,
});

export async function getRequest(db: Queryable, id: string): Promise<StructureRequest | null> {
  if (!service.isUuid(id)) return null;
  const { rows } = await db.query<RequestRow>('SELECT * FROM mandates.structure_request WHERE id = $1', [id]);
  return rows[0] ? toRequest(rows[0]) : null;
}

export async function listRequests(db: Queryable, q: { referent?: string; scope?: { platform: boolean; regions: string[]; departements: string[] } }): Promise<StructureRequest[]> {
  if (q.referent) {
    const { rows } = await db.query<RequestRow>('SELECT * FROM mandates.structure_request WHERE referent_user_id = $1 ORDER BY created_at DESC LIMIT 200', [q.referent]);
    return rows.map(toRequest);
  }
  const s = q.scope!;
  // Staff see submitted requests (never drafts) of their territories.
  const where = s.platform ? '' : 'AND (region = ANY($1::text[]) OR departement = ANY($2::text[]))';
  const { rows } = await db.query<RequestRow>(
    `SELECT * FROM mandates.structure_request WHERE state <> 'draft' ${where} ORDER BY (state = 'processing') DESC, submitted_at DESC NULLS LAST LIMIT 500`,
    s.platform ? [] : [s.regions, s.departements],
  );
  return rows.map(toRequest);
}

async function openSiretTaken(tx: Queryable, siret: string, exceptId: string | null): Promise<void> {
  const s = await tx.query('SELECT 1 FROM mandates.structure WHERE siret = $1', [siret]);
  if (s.rows.length) throw new UserError('Une structure habilitée a déjà ce SIRET.', 409, 'siret');
  const r = await tx.query("SELECT 1 FROM mandates.structure_request WHERE siret = $1 AND state IN ('draft', 'processing', 'changes_required') AND id <> $2", [siret, exceptId ?? '00000000-0000-0000-0000-000000000000']);
  if (r.rows.length) throw new UserError('Une demande d’habilitation est déjà ouverte pour ce SIRET.', 409, 'siret');
}

/** The référent's new request, saved as a draft or submitted at once. */
export async function createRequest(ctx: AppContext, userId: string, raw: Record<string, unknown>, submit: boolean, now = new Date()): Promise<string> {
  const input = await parseRequestInput(ctx.db, raw);
  const id = crypto.randomUUID();
  await ctx.db.transaction(async (tx) => {
    await openSiretTaken(tx, input.siret, null);
    try {
      await tx.query(
        `INSERT INTO mandates.structure_request (id, state, referent_user_id, name, siret, kind, address, place_uid, commune_code, departement, region, france_services, public_description, created_at, submitted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
        [id, submit ? 'processing' : 'draft', userId, input.name, input.siret, input.kind, input.address, input.placeUid, input.place.communeCode, input.place.departement, input.place.region, input.franceServices, input.publicDescription, now.toISOString(), submit ? now.toISOString() : null],
      );
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw new UserError('Une demande d’habilitation est déjà ouverte pour ce SIRET.', 409, 'siret');
      throw e;
    }
    await recordAudit(tx, { actorId: userId, action: submit ? 'mandates.structure_request.submit' : 'mandates.structure_request.create', objectType: 'mandates.structure_request', objectId: id, after: { state: submit ? 'processing' : 'draft', siret: input.siret, kind: input.kind, departement: input.place.departement } });
  });
  if (submit) await notifyStaff(ctx, (await getRequest(ctx.db, id))!, 'Nouvelle demande d’habilitation', `La structure « ${input.name} » demande son habilitation à recueillir des mandats.`);
  return id;
}

/** The référent corrects a draft or a request sent back for changes, and may submit it. */
export async function updateRequest(ctx: AppContext, userId: string, id: string, raw: Record<string, unknown>, submit: boolean, now = new Date()): Promise<void> {
  const input = await parseRequestInput(ctx.db, raw);
  const r = await ctx.db.transaction(async (tx) => {
    const cur = await tx.query<RequestRow>('SELECT * FROM mandates.structure_request WHERE id = $1 FOR UPDATE', [service.isUuid(id) ? id : '00000000-0000-0000-0000-000000000000']);
    const row = cur.rows[0];
    if (!row || row.referent_user_id !== userId) throw new NotFoundError('Demande inconnue.');
    if (row.state !== 'draft' && row.state !== 'changes_required') throw new UserError(`Cette demande est « ${REQUEST_STATES[row.state]} » : elle ne peut plus être modifiée.`, 409, 'state');
    await openSiretTaken(tx, input.siret, id);
    const state: RequestState = submit ? 'processing' : row.state;
    try {
      await tx.query(
        `UPDATE mandates.structure_request SET state = $2, name = $3, siret = $4, kind = $5, address = $6, place_uid = $7, commune_code = $8, departement = $9, region = $10,
                france_services = $11, public_description = $12, submitted_at = CASE WHEN $13::boolean THEN $14::timestamptz ELSE submitted_at END WHERE id = $1`,
        [id, state, input.name, input.siret, input.kind, input.address, input.placeUid, input.place.communeCode, input.place.departement, input.place.region, input.franceServices, input.publicDescription, submit, now.toISOString()],
      );
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw new UserError('Une demande d’habilitation est déjà ouverte pour ce SIRET.', 409, 'siret');
      throw e;
    }
    await recordAudit(tx, { actorId: userId, action: submit ? 'mandates.structure_request.submit' : 'mandates.structure_request.update', objectType: 'mandates.structure_request', objectId: id, before: { state: row.state }, after: { state, siret: input.siret, kind: input.kind } });
    return toRequest({ ...row, state, name: input.name, departement: input.place.departement, region: input.place.region });
  });
  if (submit) await notifyStaff(ctx, r, 'Demande d’habilitation transmise', `La structure « ${r.name} » a transmis sa demande d’habilitation${r.submittedAt ? ' corrigée' : ''}.`);
}

export type Decision = 'validate' | 'refuse' | 'changes';

/**
 * Staff decide on a request being processed (the caller checked they manage its territory):
 * validate (creates the structure, its référent recorded), refuse, or ask for changes. Refusing
 * and asking for changes need a message, added to the thread. The référent is e-mailed.
 */
export async function decideRequest(ctx: AppContext, staffId: string, id: string, decision: Decision, message: string, now = new Date()): Promise<{ structureId: string | null }> {
  const body = message.normalize('NFC').trim();
  if (body.length > 4000 || CONTROL.test(body)) throw new UserError('Le message fait 4 000 caractères au plus.', 400, 'message');
  if (decision !== 'validate' && !body) throw new UserError(decision === 'refuse' ? 'Expliquez au référent pourquoi la demande est refusée.' : 'Dites au référent ce qu’il faut modifier.', 400, 'message');
  const out = await ctx.db.transaction(async (tx) => {
    const cur = await tx.query<RequestRow>('SELECT * FROM mandates.structure_request WHERE id = $1 FOR UPDATE', [service.isUuid(id) ? id : '00000000-0000-0000-0000-000000000000']);
    const row = cur.rows[0];
    if (!row) throw new NotFoundError('Demande inconnue.');
    if (row.state !== 'processing') throw new UserError(`Cette demande est « ${REQUEST_STATES[row.state]} » : il n’y a pas de décision à prendre.`, 409, 'state');
    let structureId: string | null = null;
    if (decision === 'validate') {
      const dup = await tx.query('SELECT 1 FROM mandates.structure WHERE siret = $1', [row.siret]);
      if (dup.rows.length) throw new UserError('Une structure habilitée a déjà ce SIRET.', 409, 'siret');
      structureId = crypto.randomUUID();
      await tx.query(
        `INSERT INTO mandates.structure (id, name, siret, place_uid, commune_code, departement, region, referent_user_id, kind, address, france_services)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [structureId, row.name, row.siret, row.place_uid, row.commune_code, row.departement, row.region, row.referent_user_id, row.kind, row.address, row.france_services],
      );
    }
    const state: RequestState = decision === 'validate' ? 'validated' : decision === 'refuse' ? 'refused' : 'changes_required';
    await tx.query('UPDATE mandates.structure_request SET state = $2, decided_at = $3, decided_by = $4, structure_id = $5 WHERE id = $1', [id, state, now.toISOString(), staffId, structureId]);
    if (body) await tx.query("INSERT INTO mandates.request_message (request_id, author_user_id, author_kind, body, at) VALUES ($1, $2, 'staff', $3, $4)", [id, staffId, body, now.toISOString()]);
    await recordAudit(tx, {
      actorId: staffId,
      action: `mandates.structure_request.${decision}`,
      objectType: structureId ? 'mandates.structure' : 'mandates.structure_request',
      objectId: structureId ?? id,
      before: { state: row.state },
      after: { state, request: id },
    });
    return { structureId, row };
  });
  const words = { validate: 'est validée : la structure est habilitée. Ajoutez maintenant vos aidants et enregistrez leur formation et leur score Pix.', refuse: 'est refusée.', changes: 'demande des modifications.' }[decision];
  await notifyReferent(ctx, out.row.referent_user_id, id, `Demande d’habilitation de « ${out.row.name} »`, `Votre demande d’habilitation de la structure « ${out.row.name} » ${words}${body ? `\n\nMessage de l’équipe régionale :\n${body}` : ''}`);
  return { structureId: out.structureId };
}

export interface Message {
  id: number;
  authorKind: 'referent' | 'staff';
  authorName: string;
  body: string;
  at: string;
}

export async function listMessages(db: Queryable, requestId: string): Promise<Message[]> {
  const { rows } = await db.query<{ id: number; author_user_id: string; author_kind: 'referent' | 'staff'; body: string; at: Date | string }>('SELECT * FROM mandates.request_message WHERE request_id = $1 ORDER BY id', [requestId]);
  const names = new Map<string, string>();
  for (const r of rows) if (!names.has(r.author_user_id)) names.set(r.author_user_id, (await getUser(db, r.author_user_id))?.displayName ?? 'auteur inconnu');
  return rows.map((r) => ({ id: Number(r.id), authorKind: r.author_kind, authorName: names.get(r.author_user_id)!, body: r.body, at: iso(r.at)! }));
}

/** A message in the request's thread, from the référent or from staff; the other side is e-mailed. */
export async function addMessage(ctx: AppContext, author: { id: string; kind: 'referent' | 'staff' }, requestId: string, message: string, now = new Date()): Promise<void> {
  const body = message.normalize('NFC').trim();
  if (!body || body.length > 4000 || CONTROL.test(body)) throw new UserError('Écrivez un message (4 000 caractères au plus).', 400, 'message');
  const r = await getRequest(ctx.db, requestId);
  if (!r) throw new NotFoundError('Demande inconnue.');
  if (author.kind === 'referent' && r.referentUserId !== author.id) throw new NotFoundError('Demande inconnue.');
  await ctx.db.transaction(async (tx) => {
    await tx.query('INSERT INTO mandates.request_message (request_id, author_user_id, author_kind, body, at) VALUES ($1, $2, $3, $4, $5)', [requestId, author.id, author.kind, body, now.toISOString()]);
    await recordAudit(tx, { actorId: author.id, action: 'mandates.structure_request.message', objectType: 'mandates.structure_request', objectId: requestId, after: { authorKind: author.kind } });
  });
  const text = `Nouveau message dans le fil de la demande d’habilitation de « ${r.name} » :\n\n${body}`;
  if (author.kind === 'staff') await notifyReferent(ctx, r.referentUserId, requestId, `Message sur la demande d’habilitation de « ${r.name} »`, text);
  else await notifyStaff(ctx, r, `Message du référent de « ${r.name} »`, text);
}

async function notifyReferent(ctx: AppContext, userId: string, requestId: string, subject: string, text: string): Promise<void> {
  const u = await getUser(ctx.db, userId);
  if (u && u.status === 'active') await sendMail(ctx, { to: u.email, subject, text: `Bonjour,\n\n${text}\n\nLa demande et son fil de messages : ${ctx.config.publicUrl}/mandats/habilitation/${requestId}\n` }, { background: true });
}

/** E-mails the regional staff of the request's département and région. */
async function notifyStaff(ctx: AppContext, r: StructureRequest, subject: string, text: string): Promise<void> {
  const staff = new Map<string, string>();
  for (const [kind, code] of [['departement', r.departement], ['region', r.region]] as const) {
    if (code) for (const u of await usersWithGrant(ctx.db, 'regional_staff', kind, code)) staff.set(u.id, u.email);
  }
  for (const to of staff.values()) await sendMail(ctx, { to, subject, text: `Bonjour,\n\n${text}\n\nInstruire la demande : ${ctx.config.publicUrl}/mandats/habilitation/${r.id}\n` }, { background: true });
}

/** The structures this account is the référent of. */
export async function referentStructures(db: Queryable, userId: string): Promise<service.Structure[]> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM mandates.structure WHERE referent_user_id = $1 ORDER BY name', [userId]);
  return (await Promise.all(rows.map((r) => service.getStructure(db, r.id)))).filter((s): s is service.Structure => s !== null);
}

/** The structure, if this account is its référent (otherwise 404: nothing revealed). */
export async function structureOfReferent(db: Queryable, userId: string, structureId: string): Promise<service.Structure> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM mandates.structure WHERE id = $1 AND referent_user_id = $2', [service.isUuid(structureId) ? structureId : '00000000-0000-0000-0000-000000000000', userId]);
  const s = rows[0] ? await service.getStructure(db, rows[0].id) : null;
  if (!s) throw new NotFoundError('Structure inconnue.');
  return s;
}

function dateField(v: unknown, field: string, label: string, now: Date): string {
  const s = one(v).trim();
  const d = /^\d{4}-\d{2}-\d{2}$/.test(s) ? new Date(`${s}T00:00:00Z`) : null;
  if (!d || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== s) throw new UserError(`${label} doit être une date valide (AAAA-MM-JJ).`, 400, field);
  if (d.getTime() > now.getTime() || d.getUTCFullYear() < 2015) throw new UserError(`${label} doit être passée (et après 2015).`, 400, field);
  return s;
}

/**
 * Records a helper's habilitation: the training (date, reference) AND the Pix test (score in pix,
 * 0 to 1024, and its date), together; until then a helper added by the référent cannot act.
 */
export async function recordQualification(ctx: AppContext, actorId: string, structureId: string, userId: string, raw: Record<string, unknown>, now = new Date()): Promise<void> {
  const trainedOn = dateField(raw.trainedOn, 'trainedOn', 'La date de formation', now);
  const ref = one(raw.trainingRef).trim();
  if (ref.length > 200 || LINE_CONTROL.test(ref)) throw new UserError('La référence de la formation fait 200 caractères au plus.', 400, 'trainingRef');
  const scoreText = one(raw.pixScore).trim();
  if (!/^\d{1,4}$/.test(scoreText) || Number(scoreText) > 1024) throw new UserError('Le score Pix est un nombre de pix entre 0 et 1 024.', 400, 'pixScore');
  const pixOn = dateField(raw.pixOn, 'pixOn', 'La date du test Pix', now);
  await ctx.db.transaction(async (tx) => {
    const r = await tx.query('UPDATE mandates.helper SET trained_on = $3, training_ref = $4, pix_score = $5, pix_on = $6 WHERE structure_id = $1 AND user_id = $2 RETURNING user_id', [structureId, userId, trainedOn, ref || null, Number(scoreText), pixOn]);
    if (!r.rows.length) throw new NotFoundError('Aidant inconnu dans cette structure.');
    await recordAudit(tx, { actorId, action: 'mandates.helper.qualification', objectType: 'mandates.structure', objectId: structureId, after: { userId, trainedOn, trainingRef: ref || null, pixScore: Number(scoreText), pixOn } });
  });
}

/** The Pix score and date of a structure's helpers (shown to the référent). */
export async function helperPix(db: Queryable, structureId: string): Promise<Map<string, { score: number; on: string }>> {
  const { rows } = await db.query<{ user_id: string; pix_score: number; pix_on: string }>('SELECT user_id, pix_score, pix_on::text AS pix_on FROM mandates.helper WHERE structure_id = $1 AND pix_score IS NOT NULL', [structureId]);
  return new Map(rows.map((r) => [r.user_id, { score: r.pix_score, on: r.pix_on }]));
}

// ---------------------------------------------------------------------------------------------
// Pages

const dateFr = (d: string) => new Date(`${d}T12:00:00Z`).toLocaleDateString('fr-FR', { dateStyle: 'long' });

function requestForm(action: string, csrf: string, v: Record<string, unknown>, errors: FieldError[]): Raw {
  const text = (name: string, label: string, hint: string, max: number) =>
    html`<div class="field"><label for="f-${name}">${label}${hint ? html` <span class="hint">${hint}</span>` : ''}</label>${fieldError(errors, name)}<input type="text" id="f-${name}" name="${name}" maxlength="${max}" value="${one(v[name])}"${invalid(errors, name)}></div>`;
  return html`<form method="post" action="${action}" class="mdt-form" novalidate><input type="hidden" name="_csrf" value="${csrf}">
${text('name', 'Nom de la structure', '', 200)}
${text('siret', 'SIRET', '(14 chiffres)', 20)}
<div class="field"><label for="f-kind">Type de structure</label>${fieldError(errors, 'kind')}<select id="f-kind" name="kind"${invalid(errors, 'kind')}><option value="">— choisir —</option>${Object.entries(STRUCTURE_KINDS).map(([k, l]) => html`<option value="${k}"${one(v.kind) === k ? raw(' selected') : ''}>${l}</option>`)}</select></div>
${text('address', 'Adresse', '', 300)}
${text('placeUid', 'Lieu de l’annuaire où la structure accueille le public', '(identifiant du lieu, visible sur sa fiche)', 40)}
<div class="field"><label><input type="checkbox" name="franceServices" value="oui"${yes(v.franceServices) ? raw(' checked') : ''}> La structure a le label France Services</label></div>
<div class="field"><label for="f-publicDescription">Public accueilli <span class="hint">(qui vient, pour quelles démarches, combien de personnes environ)</span></label>${fieldError(errors, 'publicDescription')}<textarea id="f-publicDescription" name="publicDescription" rows="5" maxlength="2000"${invalid(errors, 'publicDescription')}>${one(v.publicDescription)}</textarea></div>
<p><button type="submit" name="action" value="brouillon">Enregistrer le brouillon</button> <button type="submit" name="action" value="transmettre">Transmettre à l’équipe régionale</button></p></form>`;
}

const asForm = (r: StructureRequest): Record<string, unknown> => ({ name: r.name, siret: r.siret, kind: r.kind, address: r.address, placeUid: r.placeUid, franceServices: r.franceServices ? 'oui' : '', publicDescription: r.publicDescription });

function staffMay(user: CurrentUser, r: StructureRequest): boolean {
  return can(user, 'mandates.manage', { type: 'mandates.structure', region: r.region, departement: r.departement, commune: r.communeCode });
}

const failed = (e: unknown) => formErrors(e, 'message');
const statusOf = refusalStatus;

export function registerHabilitationPages(app: App, ctx: AppContext) {
  const signedIn = { preHandler: requireSignedIn };
  const signedInPost = { preHandler: requireSignedIn, preValidation: app.csrfProtection };
  const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;

  app.get('/mandats/habilitation', signedIn, async (req, reply) => {
    const user = await signedInUser(req);
    const mine = await listRequests(ctx.db, { referent: user.id });
    const structures = await referentStructures(ctx.db, user.id);
    const scope = scopesFor(user, 'mandates.manage');
    const isStaff = scope.platform || scope.regions.length > 0 || scope.departements.length > 0;
    const toDecide = isStaff ? await listRequests(ctx.db, { scope }) : [];
    const table = (list: StructureRequest[]) =>
      html`<table class="data"><thead><tr><th scope="col">Structure</th><th scope="col">SIRET</th><th scope="col">Département</th><th scope="col">État</th><th scope="col">Transmise le</th></tr></thead><tbody>
${list.map((r) => html`<tr><td><a href="/mandats/habilitation/${r.id}">${r.name}</a></td><td>${r.siret}</td><td>${r.departement ?? '—'}</td><td>${REQUEST_STATES[r.state]}</td><td>${r.submittedAt ? fmt(r.submittedAt) : '—'}</td></tr>`)}</tbody></table>`;
    const body = html`<h1>Habilitation des structures d’aidants</h1>
<p>Une structure qui accompagne des personnes dans leurs démarches en ligne demande son habilitation ; l’équipe régionale l’instruit. La personne qui dépose la demande en devient le référent : elle ajoute ensuite les aidants et enregistre leur formation et leur score Pix.</p>
<p><a href="/mandats/habilitation/nouvelle">Déposer une demande d’habilitation</a></p>
${structures.length ? html`<h2>Mes structures (référent)</h2><ul>${structures.map((s) => html`<li><a href="/mandats/ma-structure/${s.id}">${s.name}</a> — gérer les aidants et les cartes</li>`)}</ul>` : ''}
<h2>Mes demandes</h2>${mine.length ? table(mine) : html`<p>Aucune demande.</p>`}
${isStaff ? html`<h2>Demandes de vos territoires</h2><p>${plural(toDecide.filter((r) => r.state === 'processing').length, 'demande à instruire', 'demandes à instruire')}</p>${toDecide.length ? table(toDecide) : ''}` : ''}`;
    return send(reply, 200, frame(ctx, 'Habilitation des structures', body, user));
  });

  async function newPage(req: FastifyRequest, reply: FastifyReply, status: number, v: Record<string, unknown>, errors: FieldError[]) {
    const user = await signedInUser(req);
    const body = html`<h1>Demande d’habilitation d’une structure</h1>${errorSummary(errors)}
<p>Vous serez le référent de la structure. Vous pouvez enregistrer un brouillon et le transmettre plus tard.</p>${requestForm('/mandats/habilitation/nouvelle', reply.generateCsrf(), v, errors)}`;
    return send(reply, status, frame(ctx, 'Demande d’habilitation', body, user));
  }
  app.get('/mandats/habilitation/nouvelle', signedIn, async (req, reply) => newPage(req, reply, 200, {}, []));
  app.post('/mandats/habilitation/nouvelle', signedInPost, async (req, reply) => {
    const user = await signedInUser(req);
    const v = formBody(req);
    try {
      const id = await createRequest(ctx, user.id, v, one(v.action) === 'transmettre');
      return reply.redirect(`/mandats/habilitation/${id}`, 303);
    } catch (e) {
      const errors = failed(e);
      if (errors) return newPage(req, reply, statusOf(e), v, errors);
      throw e;
    }
  });

  /** The request, if the user is its référent or staff of its territory (else 404). */
  async function requestFor(user: CurrentUser, id: string): Promise<{ r: StructureRequest; referent: boolean; staff: boolean }> {
    const r = await getRequest(ctx.db, id);
    if (!r) throw new NotFoundError('Demande inconnue.');
    const referent = r.referentUserId === user.id;
    const staff = r.state !== 'draft' && staffMay(user, r);
    if (!referent && !staff) throw new NotFoundError('Demande inconnue.');
    return { r, referent, staff };
  }

  async function requestPage(req: FastifyRequest, reply: FastifyReply, status: number, notice: Raw | '', v: Record<string, unknown> | null, errors: FieldError[]) {
    const user = await signedInUser(req);
    const { r, referent, staff } = await requestFor(user, idOf(req));
    const messages = await listMessages(ctx.db, r.id);
    const csrf = reply.generateCsrf();
    const editable = referent && (r.state === 'draft' || r.state === 'changes_required');
    const body = html`<h1>Demande d’habilitation — ${r.name}</h1>${notice}${errorSummary(errors)}
<p>État : <strong>${REQUEST_STATES[r.state]}</strong>${r.submittedAt ? html`, transmise le ${fmt(r.submittedAt)}` : ''}${r.decidedAt ? html`, décision le ${fmt(r.decidedAt)}` : ''}.</p>
${r.structureId && referent ? html`<p class="ok"><a href="/mandats/ma-structure/${r.structureId}">Gérer les aidants de la structure</a></p>` : ''}
${editable
    ? requestForm(`/mandats/habilitation/${r.id}`, csrf, v ?? asForm(r), errors)
    : html`<dl><dt>SIRET</dt><dd>${r.siret}</dd><dt>Type</dt><dd>${STRUCTURE_KINDS[r.kind]}</dd><dt>Adresse</dt><dd>${r.address}</dd><dt>Label France Services</dt><dd>${r.franceServices ? 'oui' : 'non'}</dd><dt>Département</dt><dd>${r.departement ?? '—'}</dd><dt>Public accueilli</dt><dd style="white-space:pre-line">${r.publicDescription}</dd></dl>`}
${staff && r.state === 'processing'
    ? html`<h2>Décision</h2><form method="post" action="/mandats/habilitation/${r.id}/decision" class="mdt-form"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-decision-message">Message au référent <span class="hint">(obligatoire pour refuser ou demander des modifications)</span></label>${fieldError(errors, 'message')}<textarea id="f-decision-message" name="message" rows="4" maxlength="4000"></textarea></div>
<p><button type="submit" name="decision" value="validate">Valider l’habilitation</button> <button type="submit" name="decision" value="changes">Demander des modifications</button> <button type="submit" name="decision" value="refuse">Refuser</button></p></form>`
    : ''}
<h2>Échanges</h2>
${messages.length ? html`<ol class="thread">${messages.map((m) => html`<li><p><strong>${m.authorName}</strong> (${m.authorKind === 'staff' ? 'équipe régionale' : 'référent'}), le ${fmt(m.at)} :</p><p style="white-space:pre-line">${m.body}</p></li>`)}</ol>` : html`<p>Aucun message.</p>`}
${r.state !== 'draft'
    ? html`<form method="post" action="/mandats/habilitation/${r.id}/message" class="mdt-form"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-message">Votre message</label><textarea id="f-message" name="message" rows="4" maxlength="4000"></textarea></div><p><button type="submit">Envoyer</button></p></form>`
    : ''}`;
    return send(reply, status, frame(ctx, `Demande d’habilitation — ${r.name}`, body, user));
  }
  app.get('/mandats/habilitation/:id', signedIn, async (req, reply) => requestPage(req, reply, 200, '', null, []));
  app.post('/mandats/habilitation/:id', signedInPost, async (req, reply) => {
    const user = await signedInUser(req);
    const v = formBody(req);
    const submit = one(v.action) === 'transmettre';
    try {
      await updateRequest(ctx, user.id, idOf(req), v, submit);
    } catch (e) {
      const errors = failed(e);
      if (errors) return requestPage(req, reply, statusOf(e), '', v, errors);
      throw e;
    }
    return requestPage(req, reply, 200, html`<p class="ok" role="status">${submit ? 'Demande transmise à l’équipe régionale.' : 'Brouillon enregistré.'}</p>`, null, []);
  });
  app.post('/mandats/habilitation/:id/message', signedInPost, async (req, reply) => {
    const user = await signedInUser(req);
    const { r, referent } = await requestFor(user, idOf(req));
    try {
      await addMessage(ctx, { id: user.id, kind: referent ? 'referent' : 'staff' }, r.id, one(formBody(req).message));
    } catch (e) {
      const errors = failed(e);
      if (errors) return requestPage(req, reply, statusOf(e), '', null, errors);
      throw e;
    }
    return requestPage(req, reply, 200, html`<p class="ok" role="status">Message envoyé.</p>`, null, []);
  });
  app.post('/mandats/habilitation/:id/decision', signedInPost, async (req, reply) => {
    const user = await signedInUser(req);
    const { r, staff } = await requestFor(user, idOf(req));
    if (!staff) throw new ForbiddenError('Seule l’équipe régionale du territoire décide d’une habilitation.');
    const v = formBody(req);
    const decision = one(v.decision);
    try {
      if (decision !== 'validate' && decision !== 'refuse' && decision !== 'changes') throw new UserError('Choisissez une décision.', 400, 'decision');
      await decideRequest(ctx, user.id, r.id, decision, one(v.message));
    } catch (e) {
      const errors = failed(e);
      if (errors) return requestPage(req, reply, statusOf(e), '', null, errors);
      throw e;
    }
    return requestPage(req, reply, 200, html`<p class="ok" role="status">Décision enregistrée ; le référent est prévenu par e-mail.</p>`, null, []);
  });

  // --- The référent's structure: helpers (added by e-mail), training + Pix, TOTP cards.
  async function myStructurePage(req: FastifyRequest, reply: FastifyReply, status: number, notice: Raw | '', errors: FieldError[]) {
    const user = await signedInUser(req);
    const s = await structureOfReferent(ctx.db, user.id, idOf(req));
    const helpers = await service.listHelpers(ctx.db, s.id);
    const pix = await helperPix(ctx.db, s.id);
    const csrf = reply.generateCsrf();
    const body = html`<h1>${s.name}</h1>${notice}${errorSummary(errors)}
<p>Vous êtes le référent de cette structure. Un aidant peut créer des mandats une fois sa formation et son test Pix enregistrés.</p>
<h2>Aidants</h2>
${helpers.length
    ? html`<table class="data"><thead><tr><th scope="col">Aidant</th><th scope="col">Formation</th><th scope="col">Pix</th><th scope="col">État</th><th scope="col">Enregistrer la formation et le test Pix</th></tr></thead><tbody>
${helpers.map((h) => {
  const p = pix.get(h.userId);
  return html`<tr><td>${h.displayName}</td><td>${h.trainedOn ? `formé le ${dateFr(h.trainedOn)}${h.trainingRef ? ` (${h.trainingRef})` : ''}` : 'non formé'}</td><td>${p ? `${p.score.toLocaleString('fr-FR')} pix (le ${dateFr(p.on)})` : '—'}</td><td>${h.active ? 'actif' : h.leftAt ? 'a quitté la structure (à inviter de nouveau)' : h.acceptedAt ? 'désactivé' : 'invité (en attente de sa réponse)'}</td>
<td><form method="post" action="/mandats/ma-structure/${s.id}/aidants/${h.userId}/habilitation" class="mdt-form"><input type="hidden" name="_csrf" value="${csrf}">
<label for="t-${h.userId}">Date de formation</label><input type="date" id="t-${h.userId}" name="trainedOn">
<label for="r-${h.userId}">Référence de la formation</label><input type="text" id="r-${h.userId}" name="trainingRef" maxlength="200">
<label for="p-${h.userId}">Score Pix (pix)</label><input type="text" inputmode="numeric" id="p-${h.userId}" name="pixScore" maxlength="4">
<label for="d-${h.userId}">Date du test Pix</label><input type="date" id="d-${h.userId}" name="pixOn">
<button type="submit">Enregistrer</button></form></td></tr>`;
})}
</tbody></table>`
    : html`<p>Aucun aidant pour l’instant.</p>`}
<h2>Ajouter un aidant</h2>
<form method="post" action="/mandats/ma-structure/${s.id}/aidants" class="mdt-form"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-email">Adresse e-mail de son compte <span class="hint">(la personne doit déjà avoir un compte)</span></label>${fieldError(errors, 'email')}<input type="email" id="f-email" name="email" maxlength="254"${invalid(errors, 'email')}></div>
<p><button type="submit">Ajouter</button></p></form>
${await cardsSection(ctx, s, helpers, csrf, `/mandats/ma-structure/${s.id}/cartes/associer`, errors)}`;
    return send(reply, status, frame(ctx, s.name, body, user));
  }
  const referentAction = (fn: (req: FastifyRequest, user: CurrentUser, s: service.Structure) => Promise<string>) => async (req: FastifyRequest, reply: FastifyReply) => {
    const user = await signedInUser(req);
    const s = await structureOfReferent(ctx.db, user.id, idOf(req));
    try {
      const msg = await fn(req, user, s);
      return myStructurePage(req, reply, 200, html`<p class="ok" role="status">${msg}</p>`, []);
    } catch (e) {
      const errors = failed(e);
      if (errors) return myStructurePage(req, reply, statusOf(e), '', errors);
      throw e;
    }
  };
  app.get('/mandats/ma-structure/:id', signedIn, async (req, reply) => myStructurePage(req, reply, 200, '', []));
  // Invites the account: it becomes a helper (role, journal) only once the person accepts (invitations.ts).
  app.post('/mandats/ma-structure/:id/aidants', signedInPost, referentAction(async (req, user, s) => inviteByEmail(req, ctx, user.id, s, formBody(req).email)));
  app.post('/mandats/ma-structure/:id/aidants/:userId/habilitation', signedInPost, referentAction(async (req, user, s) => {
    await recordQualification(ctx, user.id, s.id, (req.params as { userId: string }).userId, formBody(req));
    return 'Formation et test Pix enregistrés : l’aidant peut créer des mandats.';
  }));
  app.post('/mandats/ma-structure/:id/cartes/associer', signedInPost, referentAction(async (req, user, s) => {
    const v = formBody(req);
    await associateCard(ctx, { kind: 'helper', id: user.id }, s.id, { serial: v.serial, userId: v.userId, code: v.code });
    return 'Carte associée : l’aidant la confirme depuis son compte (page « Ma carte ») ; il se connecte ensuite avec le code de sa carte.';
  }));
  app.post('/mandats/ma-structure/:id/cartes/retirer', signedInPost, referentAction(async (req, user, s) => {
    await withdrawCard(ctx, { kind: 'helper', id: user.id }, s.id, formBody(req).serial);
    return 'Carte retirée : elle ne peut plus servir.';
  }));
}

/** A SIRET with a right Luhn key: 13 digits and the key (demo data). */
export function withLuhnKey(thirteen: string): string {
  for (let k = 0; k < 10; k++) if (siretValid(`${thirteen}${k}`)) return `${thirteen}${k}`;
  throw new Error('unreachable');
}

/**
 * Demo: two requests from demo référents (not accounts) at the given directory places, one being
 * processed with a message, one sent back for changes; 12 TOTP cards in the first structure's stock.
 */
export async function seedHabilitationDemo(ctx: AppContext, placeUids: string[], structureId: string | null): Promise<string> {
  const demos = [
    { name: 'Espace numérique de la gare', kind: 'tiers_lieu', fs: false, state: 'processing', message: ['referent', 'Nous accueillons déjà une trentaine de personnes par semaine ; deux médiateurs suivront la formation.'] },
    { name: 'CCAS — accueil des seniors', kind: 'ccas', fs: false, state: 'changes_required', message: ['staff', 'Merci de préciser les horaires d’accueil et le nombre d’aidants prévus.'] },
  ] as const;
  const now = Date.now();
  for (const [i, d] of demos.entries()) {
    const uid = placeUids[(i + 1) % placeUids.length];
    if (!uid) continue;
    const id = await createRequest(ctx, `demo-referent-${i + 1}`, {
      name: d.name,
      siret: withLuhnKey(String(4100000000000 + i * 7919)),
      kind: d.kind,
      address: 'Adresse de démonstration',
      placeUid: uid,
      franceServices: d.fs ? 'oui' : '',
      publicDescription: 'Personnes éloignées du numérique : retraités, demandeurs d’emploi, familles (démonstration).',
    }, true, new Date(now - (10 - i) * 86_400_000));
    if (d.state === 'changes_required') await decideRequest(ctx, 'demo-staff', id, 'changes', d.message[1], new Date(now - 3 * 86_400_000));
    else await addMessage(ctx, { id: `demo-referent-${i + 1}`, kind: 'referent' }, id, d.message[1], new Date(now - 2 * 86_400_000));
  }
  if (structureId) {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    const csv = Array.from({ length: 12 }, (_, k) => `DEMO-${String(k + 1).padStart(4, '0')},${Array.from(crypto.randomBytes(32), (b) => alphabet[b % 32]).join('')}`).join('\n');
    await importCards(ctx, null, structureId, csv);
  }
  return `${demos.length} habilitation requests, ${structureId ? 12 : 0} TOTP cards in stock`;
}

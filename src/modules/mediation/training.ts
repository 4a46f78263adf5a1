/**
 * Training paths: providers' catalogue, sessions, registrations with a waiting list (race-free:
 * a seat is taken by one conditional UPDATE of the session's seat counter), attendance,
 * completion with a verifiable certificate, competence results (Pix campaign CSV).
 */
import crypto from 'node:crypto';
import { parse } from 'csv-parse/sync';
import type { Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { NotFoundError, UserError } from '../../platform/http/errors.ts';
import { getPlace } from '../places/index.ts';
import { getCommune } from '../territories/index.ts';
import { CRCN_COMPETENCES, CRCN_TO_DIGCOMP, DIGCOMP_COMPETENCES, ValidationFailed, digcompOf, aliasKey, delimiterOf, isIsoDate, type Counter, type FieldError } from './model.ts';
import { applyCounters } from './store.ts';
import { csvFileText } from './csvfile.ts';
import { isUuid, type Ctx } from './service.ts';
import { sendMail } from '../accounts/index.ts';

export const AUDIENCES = { all: 'Tout public', job_seekers: 'Demandeurs d’emploi', seniors: 'Seniors', young: 'Jeunes (16–25 ans)', professionals: 'Professionnels' } as const;
export const LEARNER_STATUSES = { resident: 'Habitant', job_seeker: 'Demandeur d’emploi', employed: 'Salarié', student: 'Étudiant', retired: 'Retraité' } as const;

const BAD = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffd]/;
const own = (o: Record<string, unknown>, k: string) => (Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);
const text = (o: Record<string, unknown>, k: string) => {
  const v = own(o, k);
  return typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '';
};

export interface ModuleInput {
  title: string;
  hours: number;
  competences: string[];
  targetLevel: number;
  /** DigComp 2.2 competences: typed, or derived from the CRCN ones (CRCN_TO_DIGCOMP). */
  digcomp: string[];
}

export async function createProvider(ctx: Ctx, actorId: string | null, input: { name: string; siret?: string | null; managerIds?: string[] }): Promise<string> {
  const name = input.name.trim();
  if (!name || name.length > 200 || BAD.test(name)) throw new UserError('Le nom de l’organisme fait de 1 à 200 caractères.', 400, 'name');
  const siret = input.siret?.replace(/\s/g, '') || null;
  if (siret && !/^\d{14}$/.test(siret)) throw new UserError('Le SIRET a 14 chiffres.', 400, 'siret');
  const id = crypto.randomUUID();
  await ctx.db.transaction(async (tx) => {
    await tx.query('INSERT INTO mediation.training_provider (id, name, siret, manager_ids) VALUES ($1, $2, $3, $4)', [id, name, siret, input.managerIds ?? []]);
    await recordAudit(tx, { actorId, action: 'training.provider.create', objectType: 'mediation.training_provider', objectId: id, after: { name, siret } });
  });
  return id;
}

/**
 * Modules typed one per line: "Title | hours | 1.1, 2.3 | level" and optionally "| DigComp
 * competences" (e.g. "2.1, 2.6"); without them, the DigComp competences are derived from the CRCN
 * ones by the module's correspondence (CRCN_TO_DIGCOMP).
 */
export function parseModules(textIn: string): ModuleInput[] {
  const errors: FieldError[] = [];
  const lines = textIn.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (!lines.length) errors.push({ field: 'modules', message: 'Un parcours a au moins un module.' });
  if (lines.length > 50) errors.push({ field: 'modules', message: 'Un parcours a au plus 50 modules.' });
  const out: ModuleInput[] = [];
  lines.slice(0, 50).forEach((line, i) => {
    const [title, hours, comps, level, dig, ...rest] = line.split('|').map((s) => s.trim());
    const where = `Module ${i + 1}`;
    if (!title || title.length > 200 || BAD.test(title)) errors.push({ field: 'modules', message: `${where} : titre manquant ou trop long.` });
    const h = Number((hours ?? '').replace(',', '.'));
    if (!(h > 0 && h <= 500)) errors.push({ field: 'modules', message: `${where} : la durée en heures est un nombre positif.` });
    const cs = (comps ?? '').split(/[,\s]+/).filter(Boolean);
    const unknown = cs.filter((c) => !Object.prototype.hasOwnProperty.call(CRCN_COMPETENCES, c));
    if (!cs.length || unknown.length) errors.push({ field: 'modules', message: `${where} : compétences CRCN attendues (1.1 à 5.2)${unknown.length ? `, inconnue : ${unknown[0]!.slice(0, 20)}` : ''}.` });
    const lv = Number(level);
    if (!(Number.isInteger(lv) && lv >= 1 && lv <= 8)) errors.push({ field: 'modules', message: `${where} : le niveau visé va de 1 à 8.` });
    const ds = (dig ?? '').split(/[,\s]+/).filter(Boolean);
    const unknownD = ds.filter((c) => !Object.prototype.hasOwnProperty.call(DIGCOMP_COMPETENCES, c));
    if (unknownD.length) errors.push({ field: 'modules', message: `${where} : compétences DigComp 2.2 attendues (1.1 à 5.4), inconnue : ${unknownD[0]!.slice(0, 20)}.` });
    if (rest.length) errors.push({ field: 'modules', message: `${where} : au plus cinq parties séparées par « | ».` });
    out.push({ title: title ?? '', hours: h, competences: [...new Set(cs)], targetLevel: lv, digcomp: ds.length ? [...new Set(ds)].sort() : digcompOf(cs) });
  });
  if (errors.length) throw new ValidationFailed(errors);
  return out;
}

export async function createPath(ctx: Ctx, actorId: string | null, input: { providerId: string; title: string; description?: string; audience?: string; modules: ModuleInput[] }): Promise<string> {
  if (!isUuid(input.providerId)) throw new UserError('Organisme inconnu.', 400, 'provider');
  const title = input.title.trim();
  if (!title || title.length > 200 || BAD.test(title)) throw new UserError('Le titre fait de 1 à 200 caractères.', 400, 'title');
  const audience = input.audience || 'all';
  if (!Object.prototype.hasOwnProperty.call(AUDIENCES, audience)) throw new UserError('Public inconnu.', 400, 'audience');
  const id = crypto.randomUUID();
  await ctx.db.transaction(async (tx) => {
    if (!(await tx.query('SELECT 1 FROM mediation.training_provider WHERE id = $1', [input.providerId])).rows.length) throw new UserError('Organisme inconnu.', 400, 'provider');
    await tx.query('INSERT INTO mediation.training_path (id, provider_id, title, description, audience) VALUES ($1, $2, $3, $4, $5)', [id, input.providerId, title, (input.description ?? '').slice(0, 5000), audience]);
    let i = 0;
    for (const m of input.modules) {
      await tx.query('INSERT INTO mediation.training_module (id, path_id, position, title, hours, competences, target_level, digcomp) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [crypto.randomUUID(), id, ++i, m.title, m.hours, m.competences, m.targetLevel, m.digcomp]);
    }
    await recordAudit(tx, { actorId, action: 'training.path.create', objectType: 'mediation.training_path', objectId: id, after: { title, modules: input.modules.length } });
  });
  return id;
}

export async function createSession(
  ctx: Ctx,
  actorId: string | null,
  raw: Record<string, unknown>,
): Promise<string> {
  const errors: FieldError[] = [];
  const pathId = text(raw, 'pathId');
  if (!isUuid(pathId)) errors.push({ field: 'pathId', message: 'Parcours inconnu.' });
  const startsOn = text(raw, 'startsOn');
  const endsOn = text(raw, 'endsOn') || startsOn;
  if (!isIsoDate(startsOn)) errors.push({ field: 'startsOn', message: 'La date de début est au format AAAA-MM-JJ.' });
  if (!isIsoDate(endsOn)) errors.push({ field: 'endsOn', message: 'La date de fin est au format AAAA-MM-JJ.' });
  else if (isIsoDate(startsOn) && endsOn < startsOn) errors.push({ field: 'endsOn', message: 'La fin précède le début.' });
  const capS = text(raw, 'capacity');
  const capacity = /^\d{1,5}$/.test(capS) ? Number(capS) : NaN;
  if (!(capacity >= 1 && capacity <= 10000)) errors.push({ field: 'capacity', message: 'La capacité va de 1 à 10 000 places.' });
  const priceS = text(raw, 'price').replace(',', '.') || '0';
  const price = Math.round(Number(priceS) * 100);
  if (!/^\d{1,6}(\.\d{1,2})?$/.test(priceS)) errors.push({ field: 'price', message: 'Le prix est un montant en euros (0 si gratuit).' });
  const funding = text(raw, 'funding').slice(0, 300);
  const audience = text(raw, 'audience') || 'all';
  if (!Object.prototype.hasOwnProperty.call(AUDIENCES, audience)) errors.push({ field: 'audience', message: 'Public inconnu.' });
  const placeUid = text(raw, 'placeUid');
  let territory = { commune: null as string | null, departement: null as string | null, region: null as string | null };
  if (!isUuid(placeUid)) errors.push({ field: 'placeUid', message: 'Choisissez un lieu de l’annuaire (son identifiant).' });
  else {
    const p = await getPlace(ctx.db, placeUid);
    if (!p) errors.push({ field: 'placeUid', message: 'Ce lieu n’existe pas dans l’annuaire.' });
    else territory = { commune: p.communeCode, departement: p.departement, region: p.region };
  }
  if (errors.length) throw new ValidationFailed(errors);
  const id = crypto.randomUUID();
  await ctx.db.transaction(async (tx) => {
    if (!(await tx.query('SELECT 1 FROM mediation.training_path WHERE id = $1', [pathId])).rows.length) throw new ValidationFailed([{ field: 'pathId', message: 'Parcours inconnu.' }]);
    await tx.query(
      `INSERT INTO mediation.training_session (id, path_id, starts_on, ends_on, place_uid, commune_code, departement, region, capacity, price_cents, funding, audience)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
      [id, pathId, startsOn, endsOn, placeUid, territory.commune, territory.departement, territory.region, capacity, price, funding, audience],
    );
    await recordAudit(tx, { actorId, action: 'training.session.create', objectType: 'mediation.training_session', objectId: id, after: { pathId, startsOn, endsOn, capacity } });
  });
  return id;
}

export interface LearnerInput {
  name: string;
  email: string;
  birthYear: number | null;
  communeCode: string | null;
  status: keyof typeof LEARNER_STATUSES;
}

export function parseLearner(raw: Record<string, unknown>, nowYear = new Date().getFullYear()): LearnerInput {
  const errors: FieldError[] = [];
  const name = text(raw, 'name');
  if (!name || name.length > 120 || BAD.test(name)) errors.push({ field: 'name', message: 'Indiquez votre nom (120 caractères au plus).' });
  const email = text(raw, 'email');
  if (!/^[^\s@<>()",;]{1,64}@[^\s@<>()",;]{1,190}\.[^\s@<>()",;]{2,}$/.test(email)) errors.push({ field: 'email', message: 'Indiquez une adresse e-mail valide (pour recevoir votre lien d’accès).' });
  const by = text(raw, 'birthYear');
  if (by && !(/^\d{4}$/.test(by) && Number(by) >= 1900 && Number(by) <= nowYear)) errors.push({ field: 'birthYear', message: `L’année de naissance est entre 1900 et ${nowYear}.` });
  const cc = text(raw, 'communeCode').toUpperCase();
  if (cc && !/^(\d{5}|2[AB]\d{3})$/.test(cc)) errors.push({ field: 'communeCode', message: 'Le code INSEE d’une commune a 5 caractères.' });
  const status = text(raw, 'status') || 'resident';
  if (!Object.prototype.hasOwnProperty.call(LEARNER_STATUSES, status)) errors.push({ field: 'status', message: 'Situation inconnue.' });
  if (errors.length) throw new ValidationFailed(errors);
  return { name, email, birthYear: by ? Number(by) : null, communeCode: cc || null, status: status as LearnerInput['status'] };
}

const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('hex');
const emailKey = (e: string) => e.trim().toLowerCase();

export interface RegistrationResult {
  registrationId: string;
  status: 'confirmed' | 'waiting' | 'cancelled' | 'completed';
  /** Position on the waiting list (1 = next), when waiting. */
  position: number | null;
  /** The learner's private page link token: only when this registration created the learner. */
  learnerToken: string | null;
  /** false when this learner was already registered to this session (nothing changed). */
  created: boolean;
}

async function territoryCounters(tx: Queryable, sessionId: string, metric: string, key: string, sign: 1 | -1, date: string) {
  const { rows } = await tx.query<{ commune_code: string | null; departement: string | null; region: string | null }>(
    'SELECT commune_code, departement, region FROM mediation.training_session WHERE id = $1',
    [sessionId],
  );
  const s = rows[0];
  if (!s) return;
  const month = `${date.slice(0, 7)}-01`;
  const scopes: [string, string | null][] = [['all', ''], ['region', s.region], ['departement', s.departement], ['commune', s.commune_code]];
  await applyCounters(tx, scopes.filter(([, id]) => id !== null).map(([scope, id]) => ({ scope, scopeId: id!, month, metric, key, value: sign })));
}

/**
 * Registers a person to a session: a seat if one is left (one conditional UPDATE of the seat
 * counter: concurrent requests can never take more seats than the capacity), else the waiting
 * list. Registering twice changes nothing.
 */
export async function register(ctx: Ctx, sessionId: string, raw: Record<string, unknown>, registeredBy: string | null): Promise<RegistrationResult> {
  if (!isUuid(sessionId)) throw new NotFoundError('Session introuvable.');
  const l = parseLearner(raw);
  if (l.communeCode && !(await getCommune(ctx.db, l.communeCode))) throw new ValidationFailed([{ field: 'communeCode', message: `Commune inconnue : ${l.communeCode}.` }]);
  const token = crypto.randomBytes(24).toString('base64url');
  const learnerId = crypto.randomUUID();
  const registrationId = crypto.randomUUID();
  const result: RegistrationResult = await ctx.db.transaction(async (tx) => {
    const session = await tx.query<{ id: string }>('SELECT id FROM mediation.training_session WHERE id = $1', [sessionId]);
    if (!session.rows[0]) throw new NotFoundError('Session introuvable.');
    const ins = await tx.query<{ id: string }>(
      `INSERT INTO mediation.learner (id, name, email, email_key, birth_year, commune_code, status, token_hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
       ON CONFLICT (email_key) DO NOTHING RETURNING id`,
      [learnerId, l.name, l.email, emailKey(l.email), l.birthYear, l.communeCode, l.status, sha256(token)],
    );
    const newLearner = !!ins.rows[0];
    const learner = newLearner ? learnerId : (await tx.query<{ id: string }>('SELECT id FROM mediation.learner WHERE email_key = $1', [emailKey(l.email)])).rows[0]!.id;
    const reg = await tx.query<{ id: string }>(
      `INSERT INTO mediation.registration (id, session_id, learner_id, status, registered_by) VALUES ($1, $2, $3, 'waiting', $4)
       ON CONFLICT (session_id, learner_id) DO NOTHING RETURNING id`,
      [registrationId, sessionId, learner, registeredBy],
    );
    if (!reg.rows[0]) {
      const existing = (await tx.query<{ id: string; status: RegistrationResult['status'] }>('SELECT id, status FROM mediation.registration WHERE session_id = $1 AND learner_id = $2', [sessionId, learner])).rows[0]!;
      return { registrationId: existing.id, status: existing.status, position: existing.status === 'waiting' ? await positionOf(tx, existing.id) : null, learnerToken: null, created: false };
    }
    const seat = await tx.query('UPDATE mediation.training_session SET seats_taken = seats_taken + 1 WHERE id = $1 AND seats_taken < capacity RETURNING id', [sessionId], { prepare: true });
    const status = seat.rows.length ? 'confirmed' : 'waiting';
    if (status === 'confirmed') await tx.query(`UPDATE mediation.registration SET status = 'confirmed' WHERE id = $1`, [registrationId]);
    await territoryCounters(tx, sessionId, 'training_registrations', status, 1, new Date().toISOString());
    await recordAudit(tx, { actorId: registeredBy, action: 'training.registration.create', objectType: 'mediation.registration', objectId: registrationId, after: { sessionId, status } });
    return { registrationId, status, position: null, learnerToken: newLearner ? token : null, created: true } as RegistrationResult;
  });
  // The position once committed (the list's order is `seq`; concurrent registrations may commit later).
  if (result.status === 'waiting' && result.created) result.position = await positionOf(ctx.db, result.registrationId);
  // What happened goes to the address typed, never to the screen: whoever types someone else's
  // address learns nothing of their registrations (the page says the same in every case).
  await sendMail(ctx, await registrationMail(ctx, sessionId, l.email, l.name, result), { background: true });
  return result;
}

/** How long a public registration request waits for its confirmation. */
export const REQUEST_DAYS = 7;

/**
 * Public registration, first step (double opt-in): checks the form like `register`, stores a
 * request and e-mails the address typed a link to confirm it. Nothing else happens until that
 * link is used — no learner, no seat, no waiting list — so typing someone else's address only
 * sends them one e-mail they can ignore (the request is deleted when it expires).
 */
export async function requestRegistration(ctx: Ctx, sessionId: string, raw: Record<string, unknown>, now = new Date()): Promise<void> {
  if (!isUuid(sessionId)) throw new NotFoundError('Session introuvable.');
  const l = parseLearner(raw);
  if (l.communeCode && !(await getCommune(ctx.db, l.communeCode))) throw new ValidationFailed([{ field: 'communeCode', message: `Commune inconnue : ${l.communeCode}.` }]);
  const token = crypto.randomBytes(24).toString('base64url');
  const id = crypto.randomUUID();
  const expires = new Date(now.getTime() + REQUEST_DAYS * 86_400_000);
  await ctx.db.transaction(async (tx) => {
    const ins = await tx.query(
      `INSERT INTO mediation.registration_request (id, session_id, token_hash, name, email, birth_year, commune_code, status, created_at, expires_at)
       SELECT $1, s.id, $3, $4, $5, $6, $7, $8, $9, $10 FROM mediation.training_session s WHERE s.id = $2 RETURNING id`,
      [id, sessionId, sha256(token), l.name, l.email, l.birthYear, l.communeCode, l.status, now.toISOString(), expires.toISOString()],
    );
    if (!ins.rows[0]) throw new NotFoundError('Session introuvable.');
    // The e-mail address is personal: the audit keeps the request and its session, not the address.
    await recordAudit(tx, { actorId: null, action: 'training.registration.request', objectType: 'mediation.registration_request', objectId: id, after: { sessionId } });
  });
  const s = await sessionInfo(ctx, sessionId);
  await sendMail(ctx, {
    to: l.email,
    subject: `Confirmez votre inscription : « ${s.title} »`,
    text: `Bonjour ${l.name},\n\nUne demande d’inscription à la formation « ${s.title} » (${s.provider}), ${when(s)}${s.place ? `, à ${s.place}` : ''}, a été faite avec votre adresse.\n\nPour la confirmer, ouvrez ce lien et cliquez sur « Confirmer mon inscription » (il est valable ${REQUEST_DAYS} jours) :\n${ctx.config.publicUrl}/formations/inscription/${token}\n\nSans confirmation, la demande est effacée et vous ne recevrez plus rien.${FOOTER}`,
  }, { background: true });
}

export interface PendingRequest {
  sessionId: string;
  title: string;
  startsOn: string;
  name: string;
}

/** The pending request behind a confirmation link (null when unknown, expired or already used). */
export async function pendingRequest(db: Queryable, token: string, now = new Date()): Promise<PendingRequest | null> {
  if (!/^[\w-]{20,64}$/.test(token)) return null;
  const { rows } = await db.query<{ session_id: string; title: string; starts_on: string; name: string }>(
    `SELECT r.session_id, p.title, s.starts_on::text AS starts_on, r.name FROM mediation.registration_request r
       JOIN mediation.training_session s ON s.id = r.session_id JOIN mediation.training_path p ON p.id = s.path_id
      WHERE r.token_hash = $1 AND r.expires_at > $2 AND r.confirming_at IS NULL`,
    [sha256(token), now.toISOString()],
  );
  const r = rows[0];
  return r ? { sessionId: r.session_id, title: r.title, startsOn: r.starts_on, name: r.name } : null;
}

/**
 * Public registration, second step: the link's owner confirms. The request is claimed by one
 * conditional UPDATE (two clicks at once confirm once), then registered like any registration —
 * a seat or the waiting list, the usual e-mail with the private link — and deleted.
 * Null when the link is unknown, expired or already used.
 */
export async function confirmRegistration(ctx: Ctx, token: string, now = new Date()): Promise<RegistrationResult | null> {
  if (!/^[\w-]{20,64}$/.test(token)) return null;
  const { rows } = await ctx.db.query<{ id: string; session_id: string; name: string; email: string; birth_year: number | null; commune_code: string | null; status: string }>(
    `UPDATE mediation.registration_request SET confirming_at = $2 WHERE token_hash = $1 AND expires_at > $2 AND confirming_at IS NULL
     RETURNING id, session_id, name, email, birth_year, commune_code, status`,
    [sha256(token), now.toISOString()],
  );
  const r = rows[0];
  if (!r) return null;
  try {
    const result = await register(ctx, r.session_id, { name: r.name, email: r.email, birthYear: r.birth_year === null ? '' : String(r.birth_year), communeCode: r.commune_code ?? '', status: r.status }, null);
    await ctx.db.query('DELETE FROM mediation.registration_request WHERE id = $1', [r.id]);
    return result;
  } catch (e) {
    await ctx.db.query('UPDATE mediation.registration_request SET confirming_at = NULL WHERE id = $1', [r.id]);
    throw e;
  }
}

/** Deletes the requests never confirmed in time (run with the daily retention job). */
export async function purgeRequests(ctx: Ctx, now = new Date()): Promise<number> {
  const r = await ctx.db.query('DELETE FROM mediation.registration_request WHERE expires_at <= $1', [now.toISOString()]);
  return r.rowCount ?? 0;
}

interface SessionInfo {
  title: string;
  provider: string;
  startsOn: string;
  endsOn: string;
  place: string | null;
}

async function sessionInfo(ctx: Ctx, sessionId: string): Promise<SessionInfo> {
  const { rows } = await ctx.db.query<{ title: string; provider: string; starts_on: string; ends_on: string; place_uid: string | null }>(
    `SELECT p.title, pr.name AS provider, s.starts_on::text AS starts_on, s.ends_on::text AS ends_on, s.place_uid
       FROM mediation.training_session s JOIN mediation.training_path p ON p.id = s.path_id JOIN mediation.training_provider pr ON pr.id = p.provider_id
      WHERE s.id = $1`,
    [sessionId],
  );
  const r = rows[0]!;
  const place = r.place_uid ? await getPlace(ctx.db, r.place_uid) : null;
  return { title: r.title, provider: r.provider, startsOn: r.starts_on, endsOn: r.ends_on, place: place ? `${place.nom}, ${place.adresse ?? ''} ${place.code_postal} ${place.commune}`.replace(/\s+/g, ' ').trim() : null };
}

const frDate = (iso: string) => new Date(`${iso}T12:00:00Z`).toLocaleDateString('fr-FR', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
const when = (s: SessionInfo) => (s.startsOn === s.endsOn ? `le ${frDate(s.startsOn)}` : `du ${frDate(s.startsOn)} au ${frDate(s.endsOn)}`);
const FOOTER = '\n\nSi vous n’avez pas demandé cette inscription, ignorez ce message ou écrivez à l’organisme de formation pour l’annuler.';

/** The registration e-mail: confirmed, waiting (position) or already registered; the private link when new. */
async function registrationMail(ctx: Ctx, sessionId: string, email: string, name: string, r: RegistrationResult): Promise<{ to: string; subject: string; text: string }> {
  const s = await sessionInfo(ctx, sessionId);
  const about = `« ${s.title} » (${s.provider}), ${when(s)}${s.place ? `, à ${s.place}` : ''}`;
  const state = !r.created
    ? `Une nouvelle demande d’inscription à la formation ${about} a été faite avec votre adresse. Vous y étiez déjà ${r.status === 'confirmed' ? 'inscrit·e : votre place est réservée' : r.status === 'waiting' ? `sur la liste d’attente (position ${r.position})` : r.status === 'completed' ? 'inscrit·e, et vous l’avez terminée' : 'inscrit·e, puis l’inscription a été annulée'} : rien n’a changé.`
    : r.status === 'confirmed'
      ? `Votre inscription à la formation ${about} est confirmée : une place vous est réservée.`
      : `La formation ${about} est complète : vous êtes sur la liste d’attente, en position ${r.position}. Si une place se libère, elle vous est attribuée automatiquement et vous en êtes prévenu·e par e-mail.`;
  const link = r.learnerToken
    ? `\n\nVotre espace personnel, pour suivre vos parcours (gardez ce lien, il est privé) :\n${ctx.config.publicUrl}/formations/apprenant/${r.learnerToken}`
    : '\n\nRetrouvez vos parcours avec le lien personnel reçu lors de votre première inscription.';
  const subject = !r.created ? `Formation « ${s.title} » : vous étiez déjà inscrit·e` : r.status === 'confirmed' ? `Inscription confirmée : « ${s.title} »` : `Liste d’attente : « ${s.title} »`;
  return { to: email, subject, text: `Bonjour ${name},\n\n${state}${link}${FOOTER}` };
}

/**
 * Reminders: one e-mail per confirmed registration whose session starts within `days` days (and
 * not yet started), sent once (`reminded_at` is set in the same transaction that picks the rows,
 * so two runs at once never send twice). Returns the number sent.
 */
export async function sendReminders(ctx: Ctx, now = new Date(), days = 2): Promise<number> {
  const today = now.toISOString().slice(0, 10);
  const until = new Date(now.getTime() + days * 86400000).toISOString().slice(0, 10);
  const due = await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ id: string; session_id: string; name: string; email: string }>(
      `SELECT r.id, r.session_id, l.name, l.email FROM mediation.registration r
         JOIN mediation.training_session s ON s.id = r.session_id JOIN mediation.learner l ON l.id = r.learner_id
        WHERE r.status = 'confirmed' AND r.reminded_at IS NULL AND s.starts_on BETWEEN $1::date AND $2::date
        ORDER BY r.seq LIMIT 5000 FOR UPDATE OF r SKIP LOCKED`,
      [today, until],
    );
    if (rows.length) {
      await tx.query('UPDATE mediation.registration SET reminded_at = now() WHERE id = ANY($1::uuid[])', [rows.map((r) => r.id)]);
      await recordAudit(tx, { actorId: null, action: 'training.reminders.send', objectType: 'mediation.registration', meta: { count: rows.length, sessions: [...new Set(rows.map((r) => r.session_id))].length } });
    }
    return rows;
  });
  const infos = new Map<string, SessionInfo>();
  for (const r of due) {
    let s = infos.get(r.session_id);
    if (!s) infos.set(r.session_id, (s = await sessionInfo(ctx, r.session_id)));
    await sendMail(ctx, {
      to: r.email,
      subject: `Rappel : formation « ${s.title} » ${when(s)}`,
      text: `Bonjour ${r.name},\n\nPour rappel, votre formation « ${s.title} » (${s.provider}) commence ${when(s)}${s.place ? `, à ${s.place}` : ''}. Votre place est réservée.\n\nSi vous ne pouvez pas venir, prévenez l’organisme de formation : votre place ira à la personne suivante sur la liste d’attente.${FOOTER}`,
    });
  }
  return due.length;
}

async function positionOf(tx: Queryable, registrationId: string): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM mediation.registration w, mediation.registration r
      WHERE r.id = $1 AND w.session_id = r.session_id AND w.status = 'waiting' AND w.seq <= r.seq`,
    [registrationId],
  );
  return rows[0]?.n ?? 0;
}

/** Cancels a registration; a freed seat goes to the first person waiting (in the same transaction). */
export async function cancelRegistration(ctx: Ctx, actorId: string | null, registrationId: string): Promise<{ promoted: string | null }> {
  if (!isUuid(registrationId)) throw new NotFoundError('Inscription introuvable.');
  const out = await ctx.db.transaction(async (tx) => {
    const r = (await tx.query<{ session_id: string }>('SELECT session_id FROM mediation.registration WHERE id = $1', [registrationId])).rows[0];
    if (!r) throw new NotFoundError('Inscription introuvable.');
    // The session row first, as registrations do: cancellations and registrations queue up on it.
    await tx.query('SELECT id FROM mediation.training_session WHERE id = $1 FOR UPDATE', [r.session_id]);
    const cur = (await tx.query<{ status: string }>('SELECT status FROM mediation.registration WHERE id = $1 FOR UPDATE', [registrationId])).rows[0]!;
    if (cur.status === 'cancelled' || cur.status === 'completed') throw new UserError(cur.status === 'cancelled' ? 'Inscription déjà annulée.' : 'Une formation terminée ne s’annule pas.', 409, 'registration');
    await tx.query(`UPDATE mediation.registration SET status = 'cancelled' WHERE id = $1`, [registrationId]);
    let promoted: string | null = null;
    if (cur.status === 'confirmed') {
      const next = await tx.query<{ id: string }>(
        `UPDATE mediation.registration SET status = 'confirmed' WHERE id = (
           SELECT id FROM mediation.registration WHERE session_id = $1 AND status = 'waiting' ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id`,
        [r.session_id],
      );
      promoted = next.rows[0]?.id ?? null;
      if (!promoted) await tx.query('UPDATE mediation.training_session SET seats_taken = seats_taken - 1 WHERE id = $1', [r.session_id]);
    }
    await recordAudit(tx, { actorId, action: 'training.registration.cancel', objectType: 'mediation.registration', objectId: registrationId, meta: { promoted } });
    return { promoted, sessionId: r.session_id };
  });
  // The person promoted from the waiting list is told by e-mail (after the commit).
  if (out.promoted) {
    const l = (await ctx.db.query<{ name: string; email: string }>('SELECT l.name, l.email FROM mediation.registration r JOIN mediation.learner l ON l.id = r.learner_id WHERE r.id = $1', [out.promoted])).rows[0];
    if (l) {
      const s = await sessionInfo(ctx, out.sessionId);
      await sendMail(ctx, { to: l.email, subject: `Une place s’est libérée : « ${s.title} »`, text: `Bonjour ${l.name},\n\nUne place s’est libérée pour la formation « ${s.title} » (${s.provider}), ${when(s)}${s.place ? `, à ${s.place}` : ''} : elle vous est attribuée, votre inscription est confirmée.${FOOTER}` }, { background: true });
    }
  }
  return { promoted: out.promoted };
}

export async function setAttendance(ctx: Ctx, actorId: string | null, registrationId: string, moduleId: string, present: boolean): Promise<void> {
  if (!isUuid(registrationId) || !isUuid(moduleId)) throw new NotFoundError('Inscription introuvable.');
  await ctx.db.transaction(async (tx) => {
    const ok = await tx.query(
      `SELECT 1 FROM mediation.registration r JOIN mediation.training_session s ON s.id = r.session_id JOIN mediation.training_module m ON m.path_id = s.path_id
        WHERE r.id = $1 AND m.id = $2 AND r.status IN ('confirmed', 'completed')`,
      [registrationId, moduleId],
    );
    if (!ok.rows.length) throw new UserError('Ce module ne fait pas partie de la session, ou la personne n’a pas de place.', 400, 'module');
    await tx.query(
      'INSERT INTO mediation.attendance (registration_id, module_id, present) VALUES ($1, $2, $3) ON CONFLICT (registration_id, module_id) DO UPDATE SET present = EXCLUDED.present',
      [registrationId, moduleId, present],
    );
    await recordAudit(tx, { actorId, action: 'training.attendance.set', objectType: 'mediation.registration', objectId: registrationId, after: { moduleId, present } });
  });
}

/** A certificate code: 12 characters without look-alikes, grouped by 4. */
export function certificateCode(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = crypto.randomBytes(12);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return `${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8, 12)}`;
}

/** Marks a path completed (every module attended) and issues the certificate; counted for the roadmap. */
export async function completeRegistration(ctx: Ctx, actorId: string | null, registrationId: string): Promise<string> {
  if (!isUuid(registrationId)) throw new NotFoundError('Inscription introuvable.');
  return ctx.db.transaction(async (tx) => {
    const r = (await tx.query<{ status: string; session_id: string; certificate_code: string | null; missing: number }>(
      `SELECT r.status, r.session_id, r.certificate_code,
        (SELECT count(*)::int FROM mediation.training_module m WHERE m.path_id = s.path_id
           AND NOT EXISTS (SELECT 1 FROM mediation.attendance a WHERE a.registration_id = r.id AND a.module_id = m.id AND a.present)) AS missing
       FROM mediation.registration r JOIN mediation.training_session s ON s.id = r.session_id WHERE r.id = $1 FOR UPDATE OF r`,
      [registrationId],
    )).rows[0];
    if (!r) throw new NotFoundError('Inscription introuvable.');
    if (r.status === 'completed') return r.certificate_code!;
    if (r.status !== 'confirmed') throw new UserError('Seule une personne inscrite (pas en attente) peut terminer le parcours.', 409, 'registration');
    if (r.missing > 0) throw new UserError(`Il manque la présence à ${r.missing} module${r.missing > 1 ? 's' : ''}.`, 409, 'attendance');
    const code = certificateCode();
    await tx.query(`UPDATE mediation.registration SET status = 'completed', completed_at = now(), certificate_code = $2 WHERE id = $1`, [registrationId, code]);
    const today = new Date().toISOString();
    await territoryCounters(tx, r.session_id, 'training_completed', 'path', 1, today);
    const comps = await tx.query<{ competence: string; level: number }>(
      `SELECT c AS competence, max(m.target_level)::int AS level FROM mediation.training_module m, unnest(m.competences) c, mediation.training_session s
        WHERE s.id = $1 AND m.path_id = s.path_id GROUP BY c ORDER BY c`,
      [r.session_id],
    );
    for (const c of comps.rows) await territoryCounters(tx, r.session_id, 'competence', `${c.competence}:${c.level}`, 1, today);
    // DigComp 2.2 likewise: per DigComp competence, the highest target level of the modules tagged with it.
    for (const c of await digcompReached(tx, r.session_id)) await territoryCounters(tx, r.session_id, 'digcomp', `${c.competence}:${c.level}`, 1, today);
    await recordAudit(tx, { actorId, action: 'training.registration.complete', objectType: 'mediation.registration', objectId: registrationId, after: { certificate: code } });
    return code;
  });
}

/** Per DigComp competence of a session's path, the highest target level of the modules tagged with it. */
async function digcompReached(db: Queryable, sessionId: string): Promise<{ competence: string; level: number }[]> {
  return (await db.query<{ competence: string; level: number }>(
    `SELECT d AS competence, max(m.target_level)::int AS level FROM mediation.training_module m, unnest(m.digcomp) d, mediation.training_session s
      WHERE s.id = $1 AND m.path_id = s.path_id GROUP BY d ORDER BY d`,
    [sessionId],
  )).rows;
}

export interface Certificate {
  code: string;
  learner: string;
  path: string;
  provider: string;
  completedOn: string;
  competences: { competence: string; level: number }[];
  /** The same path's DigComp 2.2 competences and levels. */
  digcomp: { competence: string; level: number }[];
}

export async function verifyCertificate(db: Queryable, code: string): Promise<Certificate | null> {
  const c = code.trim().toUpperCase();
  if (!/^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$/.test(c)) return null;
  const { rows } = await db.query<{ name: string; title: string; provider: string; completed: string; path_id: string }>(
    `SELECT l.name, p.title, pr.name AS provider, r.completed_at::date::text AS completed, p.id AS path_id
       FROM mediation.registration r JOIN mediation.learner l ON l.id = r.learner_id JOIN mediation.training_session s ON s.id = r.session_id
       JOIN mediation.training_path p ON p.id = s.path_id JOIN mediation.training_provider pr ON pr.id = p.provider_id
      WHERE r.certificate_code = $1 AND r.status = 'completed'`,
    [c],
  );
  const r = rows[0];
  if (!r) return null;
  const levels = async (column: 'competences' | 'digcomp') =>
    (await db.query<{ competence: string; level: number }>(
      `SELECT c AS competence, max(target_level)::int AS level FROM mediation.training_module, unnest(${column}) c WHERE path_id = $1 GROUP BY c ORDER BY c`,
      [r.path_id],
    )).rows;
  return { code: c, learner: r.name, path: r.title, provider: r.provider, completedOn: r.completed, competences: await levels('competences'), digcomp: await levels('digcomp') };
}

export interface CatalogueEntry {
  id: string;
  title: string;
  description: string;
  provider: string;
  audience: string;
  modules: { id: string; position: number; title: string; hours: number; competences: string[]; targetLevel: number; digcomp: string[] }[];
  sessions: { id: string; startsOn: string; endsOn: string; placeUid: string | null; communeCode: string | null; capacity: number; seatsLeft: number; waiting: number; priceCents: number; funding: string; audience: string }[];
}

export async function catalogue(db: Queryable, o: { pathId?: string; providerId?: string } = {}): Promise<CatalogueEntry[]> {
  const params: unknown[] = [];
  const where: string[] = [];
  if (o.pathId) where.push(`p.id = $${params.push(o.pathId)}`);
  if (o.providerId) where.push(`p.provider_id = $${params.push(o.providerId)}`);
  const paths = await db.query<{ id: string; title: string; description: string; provider: string; audience: string }>(
    `SELECT p.id, p.title, p.description, pr.name AS provider, p.audience FROM mediation.training_path p JOIN mediation.training_provider pr ON pr.id = p.provider_id
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY p.title LIMIT 500`,
    params,
  );
  const ids = paths.rows.map((p) => p.id);
  if (!ids.length) return [];
  const modules = await db.query<{ id: string; path_id: string; position: number; title: string; hours: number; competences: string[]; target_level: number; digcomp: string[] }>(
    'SELECT id, path_id, position, title, hours, competences, target_level, digcomp FROM mediation.training_module WHERE path_id = ANY($1::uuid[]) ORDER BY path_id, position',
    [ids],
  );
  const sessions = await db.query<{ id: string; path_id: string; starts_on: string; ends_on: string; place_uid: string | null; commune_code: string | null; capacity: number; seats_taken: number; price_cents: number; funding: string; audience: string; waiting: number }>(
    `SELECT s.id, s.path_id, s.starts_on::text, s.ends_on::text, s.place_uid, s.commune_code, s.capacity, s.seats_taken, s.price_cents, s.funding, s.audience,
       (SELECT count(*)::int FROM mediation.registration r WHERE r.session_id = s.id AND r.status = 'waiting') AS waiting
     FROM mediation.training_session s WHERE s.path_id = ANY($1::uuid[]) ORDER BY s.starts_on`,
    [ids],
  );
  return paths.rows.map((p) => ({
    ...p,
    modules: modules.rows.filter((m) => m.path_id === p.id).map((m) => ({ id: m.id, position: m.position, title: m.title, hours: Number(m.hours), competences: m.competences, targetLevel: m.target_level, digcomp: m.digcomp })),
    sessions: sessions.rows.filter((s) => s.path_id === p.id).map((s) => ({
      id: s.id, startsOn: s.starts_on, endsOn: s.ends_on, placeUid: s.place_uid, communeCode: s.commune_code, capacity: s.capacity, seatsLeft: s.capacity - s.seats_taken,
      waiting: s.waiting, priceCents: s.price_cents, funding: s.funding, audience: s.audience,
    })),
  }));
}

export async function sessionPath(db: Queryable, sessionId: string): Promise<CatalogueEntry | null> {
  if (!isUuid(sessionId)) return null;
  const { rows } = await db.query<{ path_id: string }>('SELECT path_id FROM mediation.training_session WHERE id = $1', [sessionId]);
  if (!rows[0]) return null;
  return (await catalogue(db, { pathId: rows[0].path_id }))[0] ?? null;
}

export interface RegistrationRow {
  id: string;
  learner: string;
  email: string;
  status: string;
  seq: number;
  certificateCode: string | null;
  attended: string[];
}

/** A session's list (for its provider): registrations in order, with attendance. */
export async function sessionRegistrations(db: Queryable, sessionId: string): Promise<RegistrationRow[]> {
  const { rows } = await db.query<{ id: string; name: string; email: string; status: string; seq: number; certificate_code: string | null; attended: string[] | null }>(
    `SELECT r.id, l.name, l.email, r.status, r.seq, r.certificate_code,
       (SELECT array_agg(a.module_id::text) FROM mediation.attendance a WHERE a.registration_id = r.id AND a.present) AS attended
     FROM mediation.registration r JOIN mediation.learner l ON l.id = r.learner_id WHERE r.session_id = $1 ORDER BY (r.status = 'waiting'), r.seq`,
    [sessionId],
  );
  return rows.map((r) => ({ id: r.id, learner: r.name, email: r.email, status: r.status, seq: Number(r.seq), certificateCode: r.certificate_code, attended: r.attended ?? [] }));
}

/** The learner behind a private link: their registrations, progress and competence results. */
export async function learnerPage(db: Queryable, token: string) {
  if (!/^[\w-]{20,60}$/.test(token)) return null;
  const l = (await db.query<{ id: string; name: string }>('SELECT id, name FROM mediation.learner WHERE token_hash = $1', [sha256(token)])).rows[0];
  if (!l) return null;
  const regs = await db.query<{ id: string; title: string; starts_on: string; status: string; certificate_code: string | null; modules: number; attended: number }>(
    `SELECT r.id, p.title, s.starts_on::text, r.status, r.certificate_code,
        (SELECT count(*)::int FROM mediation.training_module m WHERE m.path_id = p.id) AS modules,
        (SELECT count(*)::int FROM mediation.attendance a WHERE a.registration_id = r.id AND a.present) AS attended
       FROM mediation.registration r JOIN mediation.training_session s ON s.id = r.session_id JOIN mediation.training_path p ON p.id = s.path_id
      WHERE r.learner_id = $1 ORDER BY s.starts_on`,
    [l.id],
  );
  const results = await db.query<{ framework: 'crcn' | 'digcomp'; competence: string; level: number; source: string; measured_at: string }>(
    'SELECT framework, competence, level, source, measured_at::text FROM mediation.competence_result WHERE learner_id = $1 ORDER BY framework, competence',
    [l.id],
  );
  return { name: l.name, registrations: regs.rows, results: results.rows };
}

/**
 * Imports a Pix Orga campaign export (CSV, ";" or ",", with or without the BOM Pix writes) for one
 * session. The participant is found by the e-mail column ("Adresse e-mail", "E-mail" or the
 * campaign's external id holding an e-mail) among the people registered to that session (not
 * cancelled); anybody else, known elsewhere or not, is reported alike as unknown, so a provider can
 * neither write another provider's learners nor learn who they are. Each column "Niveau pour la
 * compétence …" (CRCN code or title, as Pix names its competences) gives a level 0–8; "NA" (a
 * profile not shared) is no result. The levels are stored per CRCN competence, and per DigComp 2.2
 * competence by our correspondence (CRCN_TO_DIGCOMP: per DigComp competence, the highest level of
 * the person's CRCN competences mapped to it); the session's territory counts them (counters
 * `pix_crcn`, `pix_digcomp`: people per `<code>:<level>`, a person's latest level only).
 */
export const PIX_MAX_LINES = 5000;
/** The largest Pix export taken, chosen as a file (bytes) or pasted (characters). */
export const PIX_MAX_BYTES = 5_000_000;

/**
 * The text of a Pix export chosen with the file picker, checked before it is read as CSV: not
 * empty, at most PIX_MAX_BYTES, named .csv (or .txt), not a spreadsheet, PDF or other binary file
 * by its content (whatever its name), and UTF-8 as Pix Orga writes it. Errors name the field `file`.
 */
export function pixFileText(file: { fileName: string; data: Buffer }): string {
  return csvFileText(file, {
    maxBytes: PIX_MAX_BYTES,
    advice: 'choisissez l’export CSV des résultats de la campagne Pix Orga (fichier .csv)',
    reexport: 'exportez-le de nouveau depuis Pix Orga',
  });
}

export async function importPix(ctx: Ctx, actorId: string | null, sessionId: string, csv: string, measuredAt = new Date().toISOString().slice(0, 10)) {
  if (!isUuid(sessionId)) throw new NotFoundError('Session introuvable.');
  if (csv.length > PIX_MAX_BYTES) throw new UserError('Fichier trop gros (5 Mo au plus).', 413, 'file');
  if (csv.includes('\u0000')) throw new UserError('Le fichier contient des caractères invalides.', 400, 'file');
  let records: string[][];
  try {
    records = parse(csv.replace(/^\ufeff/, ''), { delimiter: delimiterOf(csv), relax_column_count: true, skip_empty_lines: true, bom: true }) as string[][];
  } catch (e) {
    throw new UserError(`CSV illisible : ${(e as Error).message.slice(0, 200)}`, 400, 'file');
  }
  // A campaign export has one line per participant: far fewer than this for one session. The cap
  // keeps a hostile file from holding a transaction open for minutes.
  if (records.length > PIX_MAX_LINES + 1) throw new UserError(`Fichier trop long : ${PIX_MAX_LINES} participants au plus par import.`, 400, 'file');
  const head = records[0] ?? [];
  const norm = (s: string) => aliasKey(s);
  const emailCol = head.findIndex((h) => /e-?mail/i.test(h) || /identifiant externe/i.test(h));
  if (emailCol < 0) throw new UserError('Colonne de l’adresse e-mail introuvable (« Adresse e-mail » ou « Identifiant externe »).', 400, 'file');
  const byTitle = new Map(Object.entries(CRCN_COMPETENCES).map(([code, title]) => [norm(title), code]));
  const levelCols: [number, string][] = [];
  head.forEach((h, i) => {
    const m = /^niveau pour la comp[ée]tence\s*(.*)$/i.exec(h.trim());
    if (!m) return;
    const rest = m[1]!.trim();
    const code = /^(\d\.\d)\b/.exec(rest)?.[1] ?? byTitle.get(norm(rest.replace(/^\d\.\d\s*/, '')));
    if (code && Object.prototype.hasOwnProperty.call(CRCN_COMPETENCES, code)) levelCols.push([i, code]);
  });
  if (!levelCols.length) throw new UserError('Aucune colonne « Niveau pour la compétence … » reconnue.', 400, 'file');
  const report = { imported: 0, unknown: [] as number[], invalid: [] as { line: number; message: string }[], notShared: [] as number[] };
  if (!isIsoDate(measuredAt)) throw new UserError('Date de mesure invalide (AAAA-MM-JJ).', 400, 'measuredAt');
  const map = Object.entries(CRCN_TO_DIGCOMP).flatMap(([c, ds]) => ds.map((d) => [c, d] as const));
  await ctx.db.transaction(async (tx) => {
    const counted: Counter[] = [];
    for (let i = 1; i < records.length; i++) {
      const row = records[i]!;
      const line = i + 1;
      const email = (row[emailCol] ?? '').trim().toLowerCase();
      const learner = (await tx.query<{ id: string }>(
        `SELECT l.id FROM mediation.learner l JOIN mediation.registration r ON r.learner_id = l.id
          WHERE l.email_key = $1 AND r.session_id = $2 AND r.status <> 'cancelled'`,
        [email, sessionId],
      )).rows[0];
      if (!learner) {
        report.unknown.push(line);
        continue;
      }
      const levels: [string, number][] = [];
      let bad: string | null = null;
      let na = 0;
      for (const [col, code] of levelCols) {
        const v = (row[col] ?? '').trim();
        if (v === '' || v === '-') continue;
        if (/^NA$/i.test(v)) na++;
        else if (!/^[0-8]$/.test(v)) bad ??= `niveau « ${v.slice(0, 10)} » pour la compétence ${code} (0 à 8 attendu)`;
        else levels.push([code, Number(v)]);
      }
      if (bad) {
        report.invalid.push({ line, message: bad });
        continue;
      }
      if (!levels.length) {
        // The person has not shared their profile (Pix writes "NA"), or the line has no level.
        if (na) report.notShared.push(line);
        else report.invalid.push({ line, message: 'aucun niveau de compétence' });
        continue;
      }
      const before = await pixResults(tx, learner.id);
      await tx.query(
        `INSERT INTO mediation.competence_result (learner_id, framework, competence, level, source, measured_at, session_id)
         SELECT $1, 'crcn', u.c, u.l, 'pix', $2, $3 FROM unnest($4::text[], $5::int[]) AS u(c, l)
         ON CONFLICT (learner_id, framework, competence, source) DO UPDATE SET level = EXCLUDED.level, measured_at = EXCLUDED.measured_at, session_id = EXCLUDED.session_id`,
        [learner.id, measuredAt, sessionId, levels.map((l) => l[0]), levels.map((l) => l[1])],
      );
      // DigComp 2.2 from all of the person's Pix CRCN levels (this line's and earlier ones).
      await tx.query(`DELETE FROM mediation.competence_result WHERE learner_id = $1 AND framework = 'digcomp' AND source = 'pix'`, [learner.id]);
      await tx.query(
        `INSERT INTO mediation.competence_result (learner_id, framework, competence, level, source, measured_at, session_id)
         SELECT $1, 'digcomp', m.d, max(r.level), 'pix', $2, $3
           FROM mediation.competence_result r JOIN unnest($4::text[], $5::text[]) AS m(c, d) ON m.c = r.competence
          WHERE r.learner_id = $1 AND r.framework = 'crcn' AND r.source = 'pix' GROUP BY m.d`,
        [learner.id, measuredAt, sessionId, map.map((x) => x[0]), map.map((x) => x[1])],
      );
      counted.push(...pixCounterChanges(before, await pixResults(tx, learner.id)));
      report.imported++;
    }
    await applyPixCounters(tx, counted);
    await recordAudit(tx, { actorId, action: 'training.pix.import', objectType: 'mediation.training_session', objectId: sessionId, meta: { imported: report.imported, unknown: report.unknown.length, invalid: report.invalid.length, notShared: report.notShared.length } });
  });
  return report;
}

interface PixResult { framework: string; competence: string; level: number; month: string; sessionId: string | null }

async function pixResults(db: Queryable, learnerId: string): Promise<PixResult[]> {
  const { rows } = await db.query<{ framework: string; competence: string; level: number; month: string; session_id: string | null }>(
    `SELECT framework, competence, level, to_char(measured_at, 'YYYY-MM-01') AS month, session_id FROM mediation.competence_result WHERE learner_id = $1 AND source = 'pix'`,
    [learnerId],
  );
  return rows.map((r) => ({ framework: r.framework, competence: r.competence, level: r.level, month: r.month, sessionId: r.session_id }));
}

/** The counter changes from a person's Pix results before to after an import: their former
 *  levels leave the figures, the new ones enter (unchanged ones cancel out). Scope ids are filled
 *  per session by applyPixCounters. */
export function pixCounterChanges(before: PixResult[], after: PixResult[]): Counter[] {
  const cell = (r: PixResult, value: number): Counter => ({ scope: 'session', scopeId: r.sessionId!, month: r.month, metric: r.framework === 'crcn' ? 'pix_crcn' : 'pix_digcomp', key: `${r.competence}:${r.level}`, value });
  return [...before.filter((r) => r.sessionId).map((r) => cell(r, -1)), ...after.filter((r) => r.sessionId).map((r) => cell(r, 1))];
}

/** Adds per-session changes to the counters of each session's territory (all, région, département, commune). */
async function applyPixCounters(tx: Queryable, changes: Counter[]): Promise<void> {
  const sum = new Map<string, Counter>();
  for (const c of changes) {
    const k = `${c.scopeId}|${c.month}|${c.metric}|${c.key}`;
    const cur = sum.get(k);
    if (cur) cur.value += c.value;
    else sum.set(k, { ...c });
  }
  const net = [...sum.values()].filter((c) => c.value !== 0);
  if (!net.length) return;
  const { rows } = await tx.query<{ id: string; commune_code: string | null; departement: string | null; region: string | null }>(
    'SELECT id, commune_code, departement, region FROM mediation.training_session WHERE id = ANY($1::uuid[])',
    [[...new Set(net.map((c) => c.scopeId))]],
  );
  const where = new Map(rows.map((r) => [r.id, r]));
  const deltas: Counter[] = [];
  for (const c of net) {
    const s = where.get(c.scopeId);
    if (!s) continue;
    for (const [scope, id] of [['all', ''], ['region', s.region], ['departement', s.departement], ['commune', s.commune_code]] as const) {
      if (id !== null) deltas.push({ scope, scopeId: id, month: c.month, metric: c.metric, key: c.key, value: c.value });
    }
  }
  // Sorted like counterDeltas, so concurrent writers lock the counter rows in the same order.
  deltas.sort((a, b) => a.scope.localeCompare(b.scope) || a.scopeId.localeCompare(b.scopeId) || a.month.localeCompare(b.month) || a.metric.localeCompare(b.metric) || a.key.localeCompare(b.key));
  const merged: Counter[] = [];
  for (const d of deltas) {
    const last = merged[merged.length - 1];
    if (last && last.scope === d.scope && last.scopeId === d.scopeId && last.month === d.month && last.metric === d.metric && last.key === d.key) last.value += d.value;
    else merged.push(d);
  }
  await applyCounters(tx, merged.filter((d) => d.value !== 0));
}

/** Providers this person manages (staff with training.manage see them all). */
export async function providersFor(db: Queryable, userId: string, all: boolean): Promise<{ id: string; name: string }[]> {
  const { rows } = await db.query<{ id: string; name: string }>(
    `SELECT id, name FROM mediation.training_provider ${all ? '' : 'WHERE $1 = ANY(manager_ids)'} ORDER BY name`,
    all ? [] : [userId],
  );
  return rows;
}

export async function sessionProvider(db: Queryable, sessionId: string): Promise<{ providerId: string; managerIds: string[] } | null> {
  if (!isUuid(sessionId)) return null;
  const { rows } = await db.query<{ id: string; manager_ids: string[] }>(
    'SELECT pr.id, pr.manager_ids FROM mediation.training_session s JOIN mediation.training_path p ON p.id = s.path_id JOIN mediation.training_provider pr ON pr.id = p.provider_id WHERE s.id = $1',
    [sessionId],
  );
  return rows[0] ? { providerId: rows[0].id, managerIds: rows[0].manager_ids } : null;
}

export async function registrationSession(db: Queryable, registrationId: string): Promise<string | null> {
  if (!isUuid(registrationId)) return null;
  return (await db.query<{ session_id: string }>('SELECT session_id FROM mediation.registration WHERE id = $1', [registrationId])).rows[0]?.session_id ?? null;
}

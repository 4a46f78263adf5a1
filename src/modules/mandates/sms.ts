/**
 * Remote consent by SMS: when the person is not at the desk, the helper sends them the mandate's
 * summary by SMS; the person answers « OUI 123456 » (or « NON 123456 ») within 15 minutes; the
 * answer comes back through a webhook whose body is signed (HMAC-SHA-256, SMS_WEBHOOK_SECRET);
 * « OUI » creates the mandate (consent method `sms`) and texts the person its reference and their
 * revocation code; the helper's waiting page refreshes itself until the answer arrives.
 *
 * Providers sit behind `SmsSender`: `brevo` (Brevo's transactional SMS API, HTTP JSON) or, outside
 * production, `outbox` (stored in mandates.sms_outbox, shown at /mandats/sms-dev with a form that
 * simulates the person's answer). Journal: consent.sms_sent, consent.sms_received. An answer that
 * is expired, replayed (already answered), unknown, malformed or unsigned is refused and changes
 * nothing.
 */
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import type { Queryable } from '../../platform/db/index.ts';
import { isLoopback } from '../../platform/config.ts';
import { layout } from '../../platform/html/layout.ts';
import { html, type Raw } from '../../platform/html/html.ts';
import { ForbiddenError, NotFoundError, UserError } from '../../platform/http/errors.ts';
import { countAttempt } from '../../platform/http/rate-limit-store.ts';
import { requirePermission, signedInUser } from '../accounts/index.ts';
import { ADMIN_PROCEDURES, DURATIONS, ValidationFailed, isProcedure, parseMandateInput, sha256, type Duration, type FieldError, type MandateInput } from './model.ts';
import { STYLE, errorSummary, fieldError, fmt, formBody, frame, one, send } from './pages.ts';
import * as service from './service.ts';

/** How long the person has to answer. */
export const SMS_CONSENT_MINUTES = 15;
/** SMS consent requests a helper may send per hour (atomic counter, every instance). */
export const SMS_PER_HELPER_HOUR = 20;

// ---------------------------------------------------------------------------------------------
// Providers

export interface SmsSender {
  /** Sends one SMS to an E.164 number; resolves with the provider's message id, rejects on failure. */
  send(to: string, text: string): Promise<{ messageId: string | null }>;
}

/**
 * Brevo (ex-Sendinblue, Paris): POST {apiUrl} (https://api.brevo.com/v3/transactionalSMS/send)
 * with the `api-key` header and `{sender, recipient, content, type: "transactional", unicodeEnabled}`;
 * the recipient in international format without « + »; answers 201 `{messageId, reference, …}`.
 */
export class BrevoSms implements SmsSender {
  constructor(private readonly o: { apiUrl: string; apiKey: string; sender: string; timeoutMs?: number }) {}
  async send(to: string, text: string): Promise<{ messageId: string | null }> {
    const res = await fetch(this.o.apiUrl, {
      method: 'POST',
      headers: { 'api-key': this.o.apiKey, accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify({ sender: this.o.sender, recipient: to.replace(/^\+/, ''), content: text, type: 'transactional', unicodeEnabled: true }),
      signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
    });
    const body = (await res.text()).slice(0, 2000);
    if (!res.ok) throw new Error(`Brevo SMS: HTTP ${res.status} ${body.slice(0, 200)}`);
    let id: unknown = null;
    try {
      id = (JSON.parse(body) as { messageId?: unknown }).messageId ?? null;
    } catch {
      throw new Error('Brevo SMS: the answer is not JSON');
    }
    return { messageId: id === null ? null : String(id) };
  }
}

/** Development: the SMS is stored (mandates.sms_outbox), not sent. */
export class OutboxSms implements SmsSender {
  constructor(private readonly db: Queryable) {}
  async send(to: string, text: string): Promise<{ messageId: string | null }> {
    const { rows } = await this.db.query<{ id: number }>('INSERT INTO mandates.sms_outbox (recipient, body) VALUES ($1, $2) RETURNING id', [to, text]);
    return { messageId: `outbox-${rows[0]!.id}` };
  }
}

const senders = new WeakMap<object, SmsSender>();
/** The configured sender (the outbox outside production when no provider is configured). */
export function smsSender(ctx: Pick<AppContext, 'db' | 'config'>): SmsSender | null {
  let s = senders.get(ctx.db);
  if (s) return s;
  const c = ctx.config.sms;
  if (c.provider === 'brevo' && c.apiKey) s = new BrevoSms({ apiUrl: c.apiUrl, apiKey: c.apiKey, sender: c.sender });
  else if (c.provider === 'outbox' && ctx.config.env !== 'production') s = new OutboxSms(ctx.db);
  else return null;
  senders.set(ctx.db, s);
  return s;
}

export async function readSmsOutbox(db: Queryable, limit = 50): Promise<{ id: number; recipient: string; body: string; createdAt: string }[]> {
  const { rows } = await db.query<{ id: number; recipient: string; body: string; created_at: Date | string }>('SELECT * FROM mandates.sms_outbox ORDER BY id DESC LIMIT $1', [limit]);
  return rows.map((r) => ({ id: Number(r.id), recipient: r.recipient, body: r.body, createdAt: new Date(r.created_at).toISOString() }));
}

// ---------------------------------------------------------------------------------------------
// The consent

/** A French mobile number (06, 07; +33 or 0033 accepted) in E.164 (+336…), or a 400 naming `phone`. */
export function normalisePhone(rawPhone: string): string {
  const s = rawPhone.replace(/[\s.\-()]/g, '');
  const m = /^(?:\+33|0033|0)([67]\d{8})$/.exec(s);
  if (!m) throw new UserError('Indiquez un numéro de téléphone mobile français (06 ou 07), par exemple 06 12 34 56 78.', 400, 'phone');
  return `+33${m[1]}`;
}

export interface SmsConsent {
  id: string;
  structureId: string;
  helperUserId: string;
  state: 'pending' | 'accepted' | 'refused' | 'expired' | 'failed';
  createdAt: string;
  expiresAt: string;
  answeredAt: string | null;
  mandateId: string | null;
}
interface ConsentRow {
  id: string;
  structure_id: string;
  helper_user_id: string;
  phone: string | null;
  draft: Draft | string | null;
  code_hash: string;
  state: SmsConsent['state'];
  created_at: Date | string;
  expires_at: Date | string;
  answered_at: Date | string | null;
  mandate_id: string | null;
}
interface Draft {
  givenName: string;
  familyName: string;
  birthDate: string;
  procedures: string[];
  duration: Duration;
}
const iso = (v: Date | string) => new Date(v).toISOString();
const toConsent = (r: ConsentRow): SmsConsent => ({ id: r.id, structureId: r.structure_id, helperUserId: r.helper_user_id, state: r.state, createdAt: iso(r.created_at), expiresAt: iso(r.expires_at), answeredAt: r.answered_at ? iso(r.answered_at) : null, mandateId: r.mandate_id });

export async function getConsent(db: Queryable, id: string): Promise<SmsConsent | null> {
  if (!service.isUuid(id)) return null;
  const { rows } = await db.query<ConsentRow>('SELECT * FROM mandates.sms_consent WHERE id = $1', [id]);
  return rows[0] ? toConsent(rows[0]) : null;
}

const codeHash = (id: string, code: string) => sha256(`sms-consent:${id}:${code}`);

/** The SMS the person receives: the mandate in short, and how to answer. */
export function consentText(structure: string, d: Draft, code: string): string {
  const procs = d.procedures.map((p) => (isProcedure(p) ? ADMIN_PROCEDURES[p] : p));
  return `${d.givenName} ${d.familyName}, la structure « ${structure} » vous demande un mandat : ses aidants pourront faire à votre place ${procs.length > 1 ? 'ces démarches' : 'cette démarche'} : ${procs.join(' ; ')}, ${DURATIONS[d.duration].plain}. Vous pourrez le retirer à tout moment. Pour accepter, répondez OUI ${code}. Pour refuser, répondez NON ${code}. Sans réponse dans ${SMS_CONSENT_MINUTES} minutes, rien n’est fait.`;
}

/**
 * Sends the consent request: checks the helper may create mandates in the structure, reserves one
 * of their SMS of the hour, stores the pending request (the draft mandate and the phone, deleted
 * once answered or expired), sends the SMS, then journals consent.sms_sent. A failed sending marks
 * the request failed (its personal data deleted) and answers 502.
 */
export async function startSmsConsent(ctx: AppContext, helperId: string, structureId: string, input: MandateInput, phoneRaw: string, now = new Date()): Promise<string> {
  const code = String(crypto.randomInt(0, 1_000_000)).padStart(6, '0');
  const draft: Draft = { givenName: input.givenName, familyName: input.familyName, birthDate: input.birthDate, procedures: input.procedures, duration: input.duration };
  return requestConsent(ctx, helperId, structureId, phoneRaw, now, { method: 'reply', minutes: SMS_CONSENT_MINUTES, draft, secret: (id) => codeHash(id, code), text: (structure) => consentText(structure, draft, code) });
}

/**
 * A consent request by SMS, either way (`reply`: the person answers « OUI 123456 »; `oidc`, remote.ts:
 * a link to open on their phone, where they prove their identity with FranceConnect): checks the
 * helper may create mandates in the structure, reserves one of their SMS of the hour, stores the
 * pending request (`secret(id)`: the hash of the code or of the link), sends the SMS, journals
 * consent.sms_sent. A failed sending marks the request failed (its personal data deleted): 502.
 */
export async function requestConsent(
  ctx: AppContext, helperId: string, structureId: string, phoneRaw: string, now: Date,
  o: { method: 'reply' | 'oidc'; minutes: number; draft: object; secret: (id: string) => string; text: (structureName: string) => string },
): Promise<string> {
  const phone = normalisePhone(phoneRaw);
  const sender = smsSender(ctx);
  if (!sender) throw new UserError('L’envoi de SMS n’est pas configuré sur cette plateforme (SMS_PROVIDER) : recueillez l’accord de la personne sur place.', 503, 'phone');
  const { rows } = await ctx.db.query<{ name: string }>(
    'SELECT s.name FROM mandates.helper h JOIN mandates.structure s ON s.id = h.structure_id WHERE h.structure_id = $1 AND h.user_id = $2 AND h.active AND s.active AND h.trained_on IS NOT NULL',
    [service.isUuid(structureId) ? structureId : '00000000-0000-0000-0000-000000000000', helperId],
  );
  if (!rows[0]) throw new ForbiddenError('Seul un aidant formé de la structure peut demander un mandat.');
  if ((await countAttempt(ctx.db, `mandates.sms:${helperId}`, 3600_000)) > SMS_PER_HELPER_HOUR) {
    throw new UserError(`Vous avez envoyé ${SMS_PER_HELPER_HOUR} demandes par SMS dans l’heure : attendez un peu.`, 429, 'phone');
  }
  const id = crypto.randomUUID();
  const draft = o.draft as { procedures: string[]; duration: Duration };
  const expires = new Date(now.getTime() + o.minutes * 60_000);
  await ctx.db.query(
    "INSERT INTO mandates.sms_consent (id, structure_id, helper_user_id, phone, draft, code_hash, state, created_at, expires_at, method) VALUES ($1, $2, $3, $4, $5::jsonb, $6, 'pending', $7, $8, $9)",
    [id, structureId, helperId, phone, JSON.stringify(o.draft), o.secret(id), now.toISOString(), expires.toISOString(), o.method],
  );
  let messageId: string | null;
  try {
    messageId = (await sender.send(phone, o.text(rows[0].name))).messageId;
  } catch (err) {
    ctx.log.error({ err, consent: id }, 'mandates: the SMS consent request could not be sent');
    await ctx.db.query("UPDATE mandates.sms_consent SET state = 'failed', phone = NULL, draft = NULL WHERE id = $1 AND state = 'pending'", [id]);
    throw new UserError('Le SMS n’a pas pu être envoyé (service SMS indisponible) : réessayez, ou recueillez l’accord sur place.', 502, 'phone');
  }
  await ctx.db.transaction(async (tx) => {
    await tx.query('UPDATE mandates.sms_consent SET provider_message_id = $2 WHERE id = $1', [id, messageId]);
    await service.appendJournal(tx, { event: 'consent.sms_sent', structureId, actorKind: 'helper', actorId: helperId, detail: { consent: id, procedures: draft.procedures, duration: draft.duration, expiresAt: expires.toISOString(), ...(o.method === 'oidc' ? { method: 'oidc' } : {}) }, at: now });
  });
  return id;
}

export type Answer = { outcome: 'accepted'; consentId: string; mandateId: string } | { outcome: 'refused'; consentId: string };

/**
 * The person's answer (from the webhook, already authenticated): « OUI <code> » or « NON <code> »
 * from the phone the request went to, before it expires. Accepted: the mandate is created (by the
 * helper who asked, still required to be an active trained helper) with the answer, in ONE
 * transaction; then the person receives the reference and their revocation code by SMS.
 * Refusals (409/400) write nothing.
 */
export async function receiveSmsAnswer(ctx: AppContext, msg: { from: string; text: string }, now = new Date()): Promise<Answer> {
  const m = /^\s*(oui|non)\W*\s*(\d{6})\s*\.?\s*$/i.exec(msg.text.normalize('NFC').slice(0, 500));
  if (!m) throw new UserError('Réponse illisible : « OUI » ou « NON » suivi du code à 6 chiffres attendu.', 400, 'text', 'unreadable');
  const phone = normalisePhone(msg.from);
  const yesAnswer = m[1]!.toLowerCase() === 'oui';
  const code = m[2]!;
  const out = await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<ConsentRow>("SELECT * FROM mandates.sms_consent WHERE phone = $1 AND state = 'pending' AND method = 'reply' ORDER BY created_at FOR UPDATE", [phone]);
    const row = rows.find((r) => crypto.timingSafeEqual(Buffer.from(r.code_hash, 'hex'), Buffer.from(codeHash(r.id, code), 'hex')));
    if (!row) throw new UserError('Aucune demande en attente pour ce numéro et ce code (déjà répondue, ou code faux).', 409, 'text', 'unknown_or_used');
    if (new Date(row.expires_at).getTime() <= now.getTime()) throw new UserError('Cette demande de consentement a expiré : l’aidant doit en envoyer une nouvelle.', 409, 'text', 'expired');
    const draft = (typeof row.draft === 'string' ? JSON.parse(row.draft) : row.draft) as Draft;
    if (!yesAnswer) {
      await tx.query("UPDATE mandates.sms_consent SET state = 'refused', answered_at = $2, phone = NULL, draft = NULL WHERE id = $1", [row.id, now.toISOString()]);
      await service.appendJournal(tx, { event: 'consent.sms_received', structureId: row.structure_id, actorKind: 'person', detail: { consent: row.id, answer: 'non' }, at: now });
      return { answer: { outcome: 'refused', consentId: row.id } as Answer, created: null };
    }
    const input: MandateInput = { ...draft, procedures: draft.procedures as MandateInput['procedures'], identityChecked: true, consent: true };
    const created = await service.createMandateIn(tx, row.helper_user_id, row.structure_id, input, { now, consentMethod: 'sms' });
    await tx.query("UPDATE mandates.sms_consent SET state = 'accepted', answered_at = $2, mandate_id = $3, phone = NULL, draft = NULL WHERE id = $1", [row.id, now.toISOString(), created.id]);
    await service.appendJournal(tx, { event: 'consent.sms_received', structureId: row.structure_id, mandateId: created.id, actorKind: 'person', detail: { consent: row.id, answer: 'oui' }, at: now });
    return { answer: { outcome: 'accepted', consentId: row.id, mandateId: created.id } as Answer, created };
  });
  if (out.created) {
    const text = `Votre mandat ${out.created.reference} est créé. Gardez ce code de révocation : ${out.created.revocationCode}. Avec la référence et ce code, voyez ce qui est fait en votre nom ou retirez le mandat : ${ctx.config.publicUrl}/mandats/mon-mandat`;
    await smsSender(ctx)?.send(phone, text).catch((err: unknown) => ctx.log.error({ err, mandate: out.created!.id }, 'mandates: the mandate confirmation SMS could not be sent'));
  }
  return out.answer;
}

/** Pending requests past their expiry: marked expired, the phone and the draft deleted. */
export async function expireSmsConsents(ctx: Pick<AppContext, 'db'>, now = new Date()): Promise<number> {
  const r = await ctx.db.query("UPDATE mandates.sms_consent SET state = 'expired', phone = NULL, draft = NULL WHERE state = 'pending' AND expires_at <= $1 RETURNING id", [now.toISOString()]);
  return r.rows.length;
}

/** The webhook's signature: `sha256=` + hex HMAC-SHA-256 of the raw body under SMS_WEBHOOK_SECRET. */
export function signWebhook(secret: string, body: string): string {
  return `sha256=${crypto.createHmac('sha256', secret).update(body).digest('hex')}`;
}
function signatureValid(secret: string, body: string, header: unknown): boolean {
  if (typeof header !== 'string' || header.length > 200) return false;
  const expected = Buffer.from(signWebhook(secret, body));
  const given = Buffer.from(header);
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

// ---------------------------------------------------------------------------------------------
// Pages and the webhook

/** The choice shown with the mandate in plain words: the person answers by SMS instead. */
export function smsConsentSection(csrf: string, hidden: Raw): Raw {
  return html`<section aria-labelledby="sms-title" class="no-print"><h2 id="sms-title">La personne n’est pas là ?</h2>
<p>Envoyez-lui ce mandat par SMS : elle répond « OUI » et le code reçu dans les ${SMS_CONSENT_MINUTES} minutes, et le mandat est créé. Elle reçoit ensuite la référence et son code de révocation par SMS.</p>
<form method="post" action="/mandats/nouveau/sms" class="mdt-form"><input type="hidden" name="_csrf" value="${csrf}">${hidden}
<div class="field"><label for="f-phone">Téléphone mobile de la personne</label><input type="tel" id="f-phone" name="phone" maxlength="20" autocomplete="off"></div>
<p><button type="submit">Envoyer la demande par SMS</button></p></form></section>`;
}

const STATE_TEXT: Record<SmsConsent['state'], string> = {
  pending: 'En attente de la réponse de la personne',
  accepted: 'La personne a accepté : le mandat est créé',
  refused: 'La personne a refusé : aucun mandat n’est créé',
  expired: 'Sans réponse à temps : la demande a expiré, aucun mandat n’est créé',
  failed: 'Le SMS n’a pas pu être envoyé',
};

export function registerSmsRoutes(app: App, ctx: AppContext) {
  const helper = { preHandler: requirePermission('mandates.act') };
  const helperPost = { ...helper, preValidation: app.csrfProtection };

  app.post('/mandats/nouveau/sms', helperPost, async (req, reply) => {
    const user = await signedInUser(req);
    // The answer « OUI 123456 » proves no identity: only with the identity-document fallback (remote.ts otherwise).
    if (!ctx.config.mandatesDocumentFallback) throw new ForbiddenError('L’identité de la personne se vérifie avec FranceConnect : envoyez-lui le lien par SMS depuis le formulaire du mandat.');
    const v = formBody(req);
    const errorPage = (status: number, errors: FieldError[]) =>
      send(reply, status, frame(ctx, 'Consentement par SMS', html`<h1>Consentement par SMS</h1>${errorSummary(errors)}<p><a href="/mandats/nouveau">Revenir au formulaire du mandat</a></p>`, user));
    let input: MandateInput;
    try {
      input = parseMandateInput(v, new Date(), false);
    } catch (e) {
      if (e instanceof ValidationFailed) return errorPage(422, e.errors);
      throw e;
    }
    try {
      const id = await startSmsConsent(ctx, user.id, one(v.structure), input, one(v.phone));
      return reply.redirect(`/mandats/sms/${id}`, 303);
    } catch (e) {
      if (e instanceof UserError && e.statusCode < 600 && e.statusCode !== 404) return errorPage(e.statusCode === 400 ? 422 : e.statusCode, [{ field: e.field ?? 'phone', message: e.message }]);
      throw e;
    }
  });

  // The helper's waiting page: refreshes itself (meta refresh, no script needed) while pending.
  app.get('/mandats/sms/:id', helper, async (req, reply) => {
    const user = await signedInUser(req);
    const c = await getConsent(ctx.db, (req.params as { id: string }).id);
    if (!c || c.helperUserId !== user.id) throw new NotFoundError('Demande inconnue.');
    const pending = c.state === 'pending' && new Date(c.expiresAt).getTime() > Date.now();
    const state = c.state === 'pending' && !pending ? 'expired' : c.state;
    const mandate = c.mandateId ? await service.getMandate(ctx.db, c.mandateId) : null;
    const body = html`<h1>Consentement par SMS</h1>
<div class="${state === 'accepted' ? 'ok' : state === 'pending' ? 'plain' : 'warn'}" role="status" aria-live="polite"><p><strong>${STATE_TEXT[state]}</strong>${state === 'pending' ? html` (jusqu’au ${fmt(c.expiresAt)}).` : '.'}</p>
${state === 'pending' ? html`<p>Cette page se met à jour toute seule toutes les 5 secondes. <a href="/mandats/sms/${c.id}">Actualiser maintenant</a></p>` : ''}
${mandate ? html`<p>Mandat <a href="/mandats/${mandate.id}">${mandate.reference}</a> — la personne a reçu par SMS sa référence et son code de révocation. <a href="/mandats/${mandate.id}/attestation">Attestation à imprimer</a></p>` : ''}</div>
${state !== 'pending' && state !== 'accepted' ? html`<p><a href="/mandats/nouveau">Créer un autre mandat</a></p>` : ''}`;
    const head = state === 'pending' ? html`${STYLE}<meta http-equiv="refresh" content="5">` : STYLE;
    const page = layout({ title: 'Consentement par SMS', theme: ctx.config.theme, head, body: html`<nav class="no-print" aria-label="Mandats"><p><a href="/mandats">Mes mandats</a></p></nav>${body}`, noindex: true });
    return send(reply, 200, page);
  });

  // The provider's callback (or a relay): JSON {from, text}, signed. Raw body kept for the HMAC.
  void app.register(async (inst: FastifyInstance) => {
    inst.removeContentTypeParser(['application/json']);
    inst.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 8192 }, (_req, body, done) => done(null, body));
    inst.post('/api/v1/mandates/sms/inbound', { config: { rateLimit: { max: 120, timeWindow: '1 minute' } } }, async (req: FastifyRequest, reply: FastifyReply) => {
      const secret = ctx.config.sms.webhookSecret;
      if (!secret) return reply.status(503).send({ error: 'not_configured', message: 'SMS_WEBHOOK_SECRET is not set: inbound SMS are refused.' });
      const bodyText = typeof req.body === 'string' ? req.body : '';
      if (!signatureValid(secret, bodyText, req.headers['x-maillage-signature'])) return reply.status(401).send({ error: 'bad_signature', field: 'x-maillage-signature', message: 'Signature missing or wrong.' });
      let parsed: unknown;
      try {
        parsed = JSON.parse(bodyText);
      } catch {
        return reply.status(400).send({ error: 'invalid_request', field: 'body', message: 'The body is not JSON.' });
      }
      const p = parsed as { from?: unknown; text?: unknown };
      if (!p || typeof p !== 'object' || typeof p.from !== 'string' || typeof p.text !== 'string' || p.from.length > 30 || p.text.length > 1000) {
        return reply.status(400).send({ error: 'invalid_request', field: typeof p?.from === 'string' && p.from.length <= 30 ? 'text' : 'from', message: 'Expected {"from": "+336…", "text": "OUI 123456"}.' });
      }
      try {
        const a = await receiveSmsAnswer(ctx, { from: p.from, text: p.text });
        return reply.status(200).send({ status: a.outcome, consent: a.consentId });
      } catch (e) {
        if (e instanceof UserError && e.statusCode < 500) return reply.status(e.statusCode).send({ error: e.code, field: e.field, message: e.message });
        throw e;
      }
    });
  });

  // Development: the SMS outbox, and a form that answers as the person would (never in production).
  if (ctx.config.env !== 'production' && ctx.config.sms.provider === 'outbox') {
    const local = (req: FastifyRequest) => isLoopback(req.socket.remoteAddress) && req.headers['x-forwarded-for'] === undefined && req.headers.forwarded === undefined;
    const devPage = async (req: FastifyRequest, reply: FastifyReply, status: number, notice: Raw | '', errors: FieldError[]) => {
      const user = await signedInUser(req);
      if (!local(req)) throw new ForbiddenError('La boîte d’envoi SMS de développement ne s’affiche que sur la machine du serveur.');
      const list = await readSmsOutbox(ctx.db);
      const body = html`<h1>SMS envoyés (développement)</h1>${notice}${errorSummary(errors)}
<p>Cette page n’existe qu’en développement : elle montre les SMS que la plateforme aurait envoyés, et répond à la place de la personne.</p>
<form method="post" action="/mandats/sms-dev" class="mdt-form"><input type="hidden" name="_csrf" value="${reply.generateCsrf()}">
<div class="field"><label for="f-from">Numéro de la personne</label>${fieldError(errors, 'phone')}<input type="tel" id="f-from" name="from" maxlength="20"></div>
<div class="field"><label for="f-text">Réponse</label>${fieldError(errors, 'text')}<input type="text" id="f-text" name="text" maxlength="100" placeholder="OUI 123456"></div>
<p><button type="submit">Répondre comme la personne</button></p></form>
${list.length ? list.map((m) => html`<article><h2>À ${m.recipient}, ${fmt(m.createdAt)}</h2><p>${m.body}</p></article>`) : html`<p>Aucun SMS.</p>`}`;
      return send(reply, status, frame(ctx, 'SMS envoyés (développement)', body, user));
    };
    app.get('/mandats/sms-dev', helper, async (req, reply) => devPage(req, reply, 200, '', []));
    app.post('/mandats/sms-dev', helperPost, async (req, reply) => {
      if (!local(req)) throw new ForbiddenError('La boîte d’envoi SMS de développement ne s’affiche que sur la machine du serveur.');
      const v = formBody(req);
      try {
        const a = await receiveSmsAnswer(ctx, { from: one(v.from), text: one(v.text) });
        return devPage(req, reply, 200, html`<p class="ok" role="status">${a.outcome === 'accepted' ? 'Réponse OUI reçue : le mandat est créé.' : 'Réponse NON reçue.'}</p>`, []);
      } catch (e) {
        if (e instanceof UserError && e.statusCode < 500) return devPage(req, reply, e.statusCode === 400 ? 422 : e.statusCode, '', [{ field: e.field ?? 'text', message: e.message }]);
        throw e;
      }
    });
  }
}


/**
 * Remote consent with the person's identity proved through OpenID Connect (FranceConnect), not
 * stated by the helper (issue #20). The design and its threat model are in the README (« Remote
 * consent »). In short:
 *
 * 1. the helper chooses the structure, démarches and duration, types the person's mobile number and
 *    presses « Envoyer le lien par SMS » (`POST /mandats/nouveau/sms-identite`); the person receives
 *    the mandate in short and a single-use link `/mandats/accord/<256-bit token>` (its hash stored,
 *    valid REMOTE_MINUTES); the helper's waiting page (`/mandats/sms/:id`, sms.ts) refreshes itself;
 * 2. on their own phone, the person opens the link: the mandate in plain words (French, English,
 *    Arabic), then « S’identifier avec FranceConnect » starts an identity check (purpose `sms`,
 *    bound to that phone's browser by the `mdt_oidc` cookie and to the request);
 * 3. back from the provider, the person sees the identity the provider verified and the mandate,
 *    and accepts (box to tick) or refuses; acceptance creates the mandate with that identity
 *    (consent method `sms`, identity check `oidc`) in ONE transaction with the request answered and
 *    the journal; the page shows the reference, the revocation code and the attestation (PDF), and
 *    a link to end the session at the provider (FranceConnect's logout).
 *
 * Refusals (unknown, used or expired link; a check of another browser; a request already answered;
 * a person under 15; the helper no longer active) write nothing.
 */
import crypto from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import type { Queryable } from '../../platform/db/index.ts';
import { html, raw, type Raw } from '../../platform/html/html.ts';
import { ForbiddenError, UserError } from '../../platform/http/errors.ts';
import { requirePermission, signedInUser } from '../accounts/index.ts';
import { DURATIONS, ValidationFailed, expiresAt, isProcedure, ADMIN_PROCEDURES, parseRenewalInput, plainWords, sha256, type AdminProcedure, type Duration, type FieldError, type MandateInput } from './model.ts';
import { errorSummary, fieldError, fmt, formBody, frame, invalid, one, send } from './pages.ts';
import { translatedVersions } from './translations.ts';
import { COOKIE, identityClient, identitySettings, logoutToken, logoutTokenValid, type IdentitySettings } from './identity.ts';
import { attestationPdf } from './attestation.ts';
import { requestConsent } from './sms.ts';
import * as service from './service.ts';

/** How long the link in the SMS is valid (the person may need time to sign in at FranceConnect). */
export const REMOTE_MINUTES = 30;
/** The identity verified on the phone waits this long for the answer. */
const READ_MINUTES = 20;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const linkHash = (token: string) => sha256(`sms-link:${token}`);

interface Scope {
  procedures: AdminProcedure[];
  duration: Duration;
}

/** The SMS: the mandate in short and the link (no identity in it: the helper does not type one). */
export function remoteText(structure: string, d: Scope, link: string): string {
  const procs = d.procedures.map((p) => (isProcedure(p) ? ADMIN_PROCEDURES[p] : p));
  return `La structure « ${structure} » vous demande un mandat : ses aidants pourront faire à votre place ${procs.length > 1 ? 'ces démarches' : 'cette démarche'} : ${procs.join(' ; ')}, ${DURATIONS[d.duration].plain}. Pour le lire et répondre, ouvrez ce lien et identifiez-vous avec FranceConnect (valable ${REMOTE_MINUTES} minutes) : ${link} Si vous n’attendiez pas ce message, ignorez-le.`;
}

/** Sends the link; returns the request's id (the helper's waiting page). */
export async function startRemoteConsent(ctx: AppContext, helperId: string, structureId: string, scope: Scope, phoneRaw: string, now = new Date()): Promise<string> {
  const token = crypto.randomBytes(32).toString('base64url');
  const link = `${ctx.config.publicUrl}/mandats/accord/${token}`;
  return requestConsent(ctx, helperId, structureId, phoneRaw, now, {
    method: 'oidc',
    minutes: REMOTE_MINUTES,
    draft: { procedures: scope.procedures, duration: scope.duration },
    secret: () => linkHash(token),
    text: (structure) => remoteText(structure, scope, link),
  });
}

interface Pending {
  id: string;
  structure_id: string;
  structure_name: string;
  helper_user_id: string;
  draft: Scope;
  state: string;
  expires_at: Date | string;
}

/** The request behind a link (any state), or null. */
async function requestOfLink(db: Queryable, token: string): Promise<Pending | null> {
  if (!TOKEN.test(token)) return null;
  const { rows } = await db.query<Pending>(
    "SELECT c.id, c.structure_id, s.name AS structure_name, c.helper_user_id, c.draft, c.state, c.expires_at FROM mandates.sms_consent c JOIN mandates.structure s ON s.id = c.structure_id WHERE c.method = 'oidc' AND c.code_hash = $1",
    [linkHash(token)],
  );
  return rows[0] ?? null;
}

const open = (c: Pending | null, now: Date) => !!c && c.state === 'pending' && new Date(c.expires_at).getTime() > now.getTime();

interface VerifiedFlow {
  id: string;
  consent_id: string;
  issuer: string;
  sub_hash: string;
  given_name: string;
  family_name: string;
  birth_date: string;
}

/** The verified check of this browser for a remote consent, recent and not logged out, or null. */
async function verifiedFlow(db: Queryable, flowId: string, browser: string | undefined, now: Date): Promise<VerifiedFlow | null> {
  if (!service.isUuid(flowId) || !browser || browser.length > 100) return null;
  const { rows } = await db.query<VerifiedFlow>(
    `SELECT id, consent_id, issuer, sub_hash, given_name, family_name, birth_date::text AS birth_date FROM mandates.identity_flow
      WHERE id = $1 AND purpose = 'sms' AND browser_hash = $2 AND verified_at > $3 AND logout_state IS NULL AND given_name IS NOT NULL`,
    [flowId, sha256(browser), new Date(now.getTime() - READ_MINUTES * 60_000).toISOString()],
  );
  return rows[0] ?? null;
}

/**
 * The person's answer after their identity check: `accept` creates the mandate with the verified
 * identity, by the helper who asked (still an active trained helper of the structure), in one
 * transaction with the request answered and the journal; the identity is then removed from the
 * check (only what the logout needs stays). Refusals (409/400/403) write nothing.
 */
export async function answerRemote(ctx: AppContext, flowId: string, browser: string | undefined, accept: boolean, now = new Date()): Promise<{ outcome: 'refused' } | { outcome: 'accepted'; created: service.Created }> {
  const flow = await verifiedFlow(ctx.db, flowId, browser, now);
  if (!flow) throw new UserError('Cette vérification d’identité a expiré ou n’a pas été faite sur cet appareil : rouvrez le lien reçu par SMS.', 409, 'identity', 'identity_refused');
  if (accept) {
    const age = now.getUTCFullYear() - Number(flow.birth_date.slice(0, 4));
    if (age < 15) throw new UserError('Il faut avoir au moins 15 ans pour donner un mandat seul.', 400, 'identity');
  }
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<Pending>("SELECT id, structure_id, helper_user_id, draft, state, expires_at FROM mandates.sms_consent WHERE id = $1 AND method = 'oidc' FOR UPDATE", [flow.consent_id]);
    const c = rows[0];
    if (!c || c.state !== 'pending') throw new UserError('Vous avez déjà répondu à cette demande.', 409, 'consent', 'answered');
    if (new Date(c.expires_at).getTime() <= now.getTime()) throw new UserError('Cette demande a expiré : la structure doit vous en envoyer une nouvelle.', 409, 'consent', 'expired');
    const forget = () => tx.query('UPDATE mandates.identity_flow SET given_name = NULL, family_name = NULL, birth_date = NULL WHERE id = $1', [flow.id]);
    if (!accept) {
      await tx.query("UPDATE mandates.sms_consent SET state = 'refused', answered_at = $2, phone = NULL, draft = NULL WHERE id = $1", [c.id, now.toISOString()]);
      await service.appendJournal(tx, { event: 'consent.remote_answer', structureId: c.structure_id, actorKind: 'person', detail: { consent: c.id, flow: flow.id, answer: 'non' }, at: now });
      await forget();
      return { outcome: 'refused' as const };
    }
    const input: MandateInput = { givenName: flow.given_name, familyName: flow.family_name, birthDate: flow.birth_date, identityChecked: true, procedures: c.draft.procedures, duration: c.draft.duration, consent: true };
    const known = await tx.query<{ id: string }>('SELECT id FROM mandates.person WHERE structure_id = $1 AND idp_sub_hash = $2 AND idp_issuer = $3 AND purged_at IS NULL ORDER BY created_at LIMIT 1', [c.structure_id, flow.sub_hash, flow.issuer]);
    const created = await service.createMandateIn(tx, c.helper_user_id, c.structure_id, input, {
      now,
      consentMethod: 'sms',
      personId: known.rows[0]?.id,
      within: async (t, m) => {
        await t.query("UPDATE mandates.person SET identity_check = 'oidc', idp_issuer = $2, idp_sub_hash = $3 WHERE id = (SELECT person_id FROM mandates.mandate WHERE id = $1)", [m.id, flow.issuer, flow.sub_hash]);
      },
    });
    await tx.query("UPDATE mandates.sms_consent SET state = 'accepted', answered_at = $2, mandate_id = $3, phone = NULL, draft = NULL WHERE id = $1", [c.id, now.toISOString(), created.id]);
    await service.appendJournal(tx, { event: 'consent.remote_answer', structureId: c.structure_id, mandateId: created.id, actorKind: 'person', detail: { consent: c.id, flow: flow.id, answer: 'oui' }, at: now });
    await forget();
    return { outcome: 'accepted' as const, created };
  });
}

/** The helper's part of the mandate form: send the link instead of checking the identity at the desk. */
export function remoteConsentSection(identity: { label: string } | null, errors: FieldError[] = [], phone = ''): Raw | '' {
  if (!identity) return '';
  return html`<h2>La personne n’est pas là ?</h2>
<p>Envoyez-lui un lien par SMS : sur son téléphone, elle s’identifie elle-même avec ${identity.label}, lit le mandat et donne (ou refuse) son accord dans les ${REMOTE_MINUTES} minutes. Cette page vous montrera sa réponse.</p>
<div class="field"><label for="f-phone">Téléphone mobile de la personne</label>${fieldError(errors, 'phone')}<input type="tel" id="f-phone" name="phone" maxlength="20" autocomplete="off" value="${phone}"${invalid(errors, 'phone')}></div>
<p><button type="submit" formaction="/mandats/nouveau/sms-identite">Envoyer le lien par SMS</button></p>`;
}

export function registerRemoteConsent(app: App, ctx: AppContext) {
  const rp = identityClient(ctx);
  const cookieOptions = { path: '/mandats', httpOnly: true, sameSite: 'lax' as const, secure: ctx.config.env === 'production' };
  const personLimit = { config: { rateLimit: { max: 30, timeWindow: '10 minutes' } } };
  const page = (reply: FastifyReply, status: number, title: string, body: Raw) => send(reply, status, frame(ctx, title, body, null));
  const gone = (reply: FastifyReply, c: Pending | null) =>
    page(reply, c ? 410 : 404, 'Demande de mandat', html`<h1>Demande de mandat</h1><p class="warn" role="alert">${!c ? 'Ce lien ne correspond à aucune demande.' : c.state === 'pending' || c.state === 'expired' ? 'Cette demande a expiré : si vous voulez donner ce mandat, demandez à la structure de vous en envoyer une nouvelle.' : 'Vous avez déjà répondu à cette demande.'}</p>`);
  const words = (c: { structure: string; draft: Scope }, now: Date) => ({ structure: c.structure, procedures: c.draft.procedures, duration: c.draft.duration, expiresAt: expiresAt(now, c.draft.duration) });

  // The helper sends the link.
  app.post('/mandats/nouveau/sms-identite', { preHandler: requirePermission('mandates.act'), preValidation: app.csrfProtection, config: { rateLimit: { max: 30, timeWindow: '1 minute' } } }, async (req, reply) => {
    const user = await signedInUser(req);
    const v = formBody(req);
    const errorPage = (status: number, errors: FieldError[]) =>
      send(reply, status, frame(ctx, 'Consentement à distance', html`<h1>Consentement à distance</h1>${errorSummary(errors)}<p><a href="/mandats/nouveau">Revenir au formulaire du mandat</a></p>`, user));
    if (!identitySettings(ctx.config)) throw new UserError('Aucun fournisseur d’identité n’est configuré (MANDATES_OIDC_ISSUER).', 503, 'identity');
    let scope: Scope;
    try {
      scope = parseRenewalInput(v, false);
    } catch (e) {
      if (e instanceof ValidationFailed) return errorPage(422, e.errors);
      throw e;
    }
    try {
      const id = await startRemoteConsent(ctx, user.id, one(v.structure), scope, one(v.phone));
      return reply.redirect(`/mandats/sms/${id}`, 303);
    } catch (e) {
      if (e instanceof UserError && e.statusCode !== 404) return errorPage(e.statusCode === 400 ? 422 : e.statusCode, [{ field: e.field ?? 'phone', message: e.message }]);
      throw e;
    }
  });

  // The person opens the link on their phone: the mandate in plain words, then the identity check (or a refusal).
  app.get('/mandats/accord/:token', personLimit, async (req, reply) => {
    const token = (req.params as { token: string }).token;
    const now = new Date();
    const c = await requestOfLink(ctx.db, token);
    if (!open(c, now)) return gone(reply, c);
    const s = identitySettings(ctx.config);
    const w = words({ structure: c!.structure_name, draft: c!.draft }, now);
    return page(reply, 200, 'Demande de mandat', html`<h1>Demande de mandat</h1>
<p>La structure <strong>${c!.structure_name}</strong> vous demande un mandat. Lisez-le :</p>
<div class="plain" lang="fr">${plainWords(w).map((p) => html`<p>${p}</p>`)}</div>
${translatedVersions(w)}
${s ? html`<p>Pour l’accepter, identifiez-vous vous-même avec ${s.label} : c’est ainsi que la structure sait que c’est bien vous.</p>
<p><a class="button" href="/mandats/accord/${token}/identite">S’identifier avec ${s.label}</a></p>` : html`<p class="warn">L’identification n’est pas disponible pour le moment.</p>`}
<form method="post" action="/mandats/accord/${token}/refuser"><input type="hidden" name="_csrf" value="${reply.generateCsrf()}"><p><button type="submit">Je refuse ce mandat</button></p></form>
<p>Cette demande vaut jusqu’au ${fmt(new Date(c!.expires_at).toISOString())}.</p>`);
  });

  app.get('/mandats/accord/:token/identite', personLimit, async (req, reply) => {
    const token = (req.params as { token: string }).token;
    const c = await requestOfLink(ctx.db, token);
    if (!open(c, new Date())) return gone(reply, c);
    const s = identitySettings(ctx.config);
    if (!s) throw new UserError('Aucun fournisseur d’identité n’est configuré.', 503, 'identity');
    const browser = crypto.randomBytes(24).toString('base64url');
    let url: URL;
    try {
      url = await rp.start(s, browser, { purpose: 'sms', helperId: c!.helper_user_id, structureId: c!.structure_id, draft: c!.draft, consentId: c!.id });
    } catch (err) {
      ctx.log.error({ err: (err as Error).message }, 'mandates: OpenID Connect discovery failed');
      return page(reply, 502, 'Demande de mandat', html`<h1>Demande de mandat</h1><p class="warn" role="alert">${s.label} ne répond pas pour le moment. Réessayez dans quelques minutes avec le même lien.</p>`);
    }
    reply.setCookie(COOKIE, browser, { ...cookieOptions, maxAge: (REMOTE_MINUTES + READ_MINUTES) * 60 });
    return reply.redirect(url.href, 303);
  });

  // Refused without signing in (whoever holds the phone may say no): the request ends, nothing is created.
  app.post('/mandats/accord/:token/refuser', { ...personLimit, preValidation: app.csrfProtection }, async (req, reply) => {
    const token = (req.params as { token: string }).token;
    const now = new Date();
    const done = await ctx.db.transaction(async (tx) => {
      const c = await requestOfLink(tx, token);
      if (!c) return null;
      const r = await tx.query<{ id: string }>("UPDATE mandates.sms_consent SET state = 'refused', answered_at = $2, phone = NULL, draft = NULL WHERE id = $1 AND state = 'pending' AND expires_at > $2 RETURNING id", [c.id, now.toISOString()]);
      if (!r.rows[0]) return { c, ok: false };
      await service.appendJournal(tx, { event: 'consent.remote_answer', structureId: c.structure_id, actorKind: 'person', detail: { consent: c.id, answer: 'non' }, at: now });
      return { c, ok: true };
    });
    if (!done?.ok) return gone(reply, done?.c ?? null);
    return page(reply, 200, 'Demande de mandat', html`<h1>Demande de mandat</h1><p class="ok" role="status">Vous avez refusé : aucun mandat n’est créé. La structure en est informée.</p>`);
  });

  // Back from the provider: the verified identity and the mandate; accept or refuse.
  async function readPage(req: FastifyRequest, reply: FastifyReply, status: number, errors: FieldError[]) {
    const now = new Date();
    const flow = await verifiedFlow(ctx.db, (req.params as { flow: string }).flow, req.cookies[COOKIE], now);
    const c = flow ? (await ctx.db.query<Pending>("SELECT c.id, c.structure_id, s.name AS structure_name, c.helper_user_id, c.draft, c.state, c.expires_at FROM mandates.sms_consent c JOIN mandates.structure s ON s.id = c.structure_id WHERE c.id = $1", [flow.consent_id])).rows[0] ?? null : null;
    if (!flow) return page(reply, 404, 'Demande de mandat', html`<h1>Demande de mandat</h1><p class="warn" role="alert">Cette vérification d’identité a expiré ou n’a pas été faite sur cet appareil : rouvrez le lien reçu par SMS.</p>`);
    if (!open(c, now)) return gone(reply, c);
    const s = identitySettings(ctx.config);
    const w = words({ structure: c!.structure_name, draft: c!.draft }, now);
    return page(reply, status, 'Demande de mandat', html`<h1>Demande de mandat</h1>${errorSummary(errors)}
<p class="ok" role="status">Identité vérifiée par ${s?.label ?? 'le fournisseur d’identité'} : <strong>${flow.given_name} ${flow.family_name}</strong>, née ou né le ${new Date(`${flow.birth_date}T12:00:00Z`).toLocaleDateString('fr-FR', { dateStyle: 'long' })}.</p>
<p>${flow.given_name} ${flow.family_name}, voici ce que vous autorisez la structure <strong>${c!.structure_name}</strong> à faire :</p>
<div class="plain" lang="fr">${plainWords(w).map((p) => html`<p>${p}</p>`)}</div>
${translatedVersions(w)}
<form method="post" action="/mandats/accord/lire/${flow.id}" class="mdt-form"><input type="hidden" name="_csrf" value="${reply.generateCsrf()}">
<div class="field" id="f-consent">${fieldError(errors, 'consent')}<label><input type="checkbox" name="consent" value="oui"${invalid(errors, 'consent')}> J’ai lu ce mandat, je l’ai compris et je donne mon accord.</label></div>
<p><button type="submit" name="answer" value="oui">Donner mon accord</button> <button type="submit" name="answer" value="non">Je refuse</button></p></form>`);
  }
  app.get('/mandats/accord/lire/:flow', personLimit, async (req, reply) => readPage(req, reply, 200, []));
  app.post('/mandats/accord/lire/:flow', { ...personLimit, preValidation: app.csrfProtection }, async (req, reply) => {
    const v = formBody(req);
    const flowId = (req.params as { flow: string }).flow;
    const accept = one(v.answer) !== 'non';
    if (accept && !['oui', 'on', 'true', '1'].includes(one(v.consent))) return readPage(req, reply, 422, [{ field: 'consent', message: 'Cochez la case pour donner votre accord (ou choisissez « Je refuse »).' }]);
    let out;
    try {
      out = await answerRemote(ctx, flowId, req.cookies[COOKIE], accept);
    } catch (e) {
      if (e instanceof UserError && e.statusCode < 500) return page(reply, e.statusCode === 400 ? 422 : e.statusCode, 'Demande de mandat', html`<h1>Demande de mandat</h1><p class="warn" role="alert">${e.message}</p>`);
      throw e;
    }
    const s = identitySettings(ctx.config);
    const logout = html`<p><a class="button" href="/mandats/accord/lire/${flowId}/deconnexion?jeton=${logoutToken(req.cookies[COOKIE]!)}">Terminer ma session ${s?.label ?? ''}</a> (à faire sur un téléphone prêté ou partagé)</p>`;
    if (out.outcome === 'refused') return page(reply, 200, 'Demande de mandat', html`<h1>Demande de mandat</h1><p class="ok" role="status">Vous avez refusé : aucun mandat n’est créé. La structure en est informée.</p>${logout}`);
    const m = (await service.getMandate(ctx.db, out.created.id))!;
    const pdf = await attestationPdf(ctx.db, m, { publicUrl: ctx.config.publicUrl, revocationCode: out.created.revocationCode });
    return page(reply, 201, `Mandat ${m.reference}`, html`<h1>Votre mandat ${m.reference} est créé</h1>
<p class="ok" role="status">La structure peut maintenant faire pour vous les démarches choisies, jusqu’au ${fmt(m.expiresAt)}.</p>
<div class="warn"><p><strong>Code de révocation : <span class="code">${out.created.revocationCode}</span></strong></p><p>Gardez ce code : avec la référence ${m.reference}, il vous permet de voir ce qui est fait en votre nom et de retirer ce mandat vous-même sur ${ctx.config.publicUrl}/mandats/mon-mandat (ou en vous identifiant avec ${s?.label ?? 'FranceConnect'}). Il ne sera plus affiché.</p></div>
<p><a download="attestation-${m.reference}.pdf" href="data:application/pdf;base64,${raw(pdf.toString('base64'))}">Enregistrer l’attestation en PDF (avec le code de révocation)</a></p>
${logout}`);
  });

  // FranceConnect's logout from the phone (see identity.ts: the provider comes back to LOGOUT_PATH).
  app.get('/mandats/accord/lire/:flow/deconnexion', personLimit, async (req, reply) => {
    const browser = req.cookies[COOKIE];
    const flowId = (req.params as { flow: string }).flow;
    const token = one((req.query as Record<string, unknown>).jeton);
    if (!service.isUuid(flowId) || !browser || !logoutTokenValid(browser, token)) throw new ForbiddenError('Lien de déconnexion invalide.');
    const { rows } = await ctx.db.query('SELECT 1 FROM mandates.identity_flow WHERE id = $1 AND purpose = $2 AND browser_hash = $3 AND logout_state IS NULL', [flowId, 'sms', sha256(browser)]);
    const s = identitySettings(ctx.config);
    const url = rows[0] && s ? await rp.logoutUrl(s as IdentitySettings, flowId) : null;
    if (!url) {
      await ctx.db.query("DELETE FROM mandates.identity_flow WHERE id = $1 AND purpose = 'sms' AND browser_hash = $2", [flowId, sha256(browser)]);
      reply.clearCookie(COOKIE, cookieOptions);
      return page(reply, 200, 'Déconnexion', html`<h1>Vous êtes déconnecté</h1><p class="ok" role="status">Votre session est terminée.</p>`);
    }
    return reply.redirect(url.href, 303);
  });
}

/**
 * The person's identity through OpenID Connect (`openid-client`, relying party): FranceConnect in
 * production (MANDATES_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET, _REDIRECT_URI, _SCOPE, _ACR_VALUES),
 * the development provider of dev-idp.ts (`/dev/identite`) elsewhere when those are not set.
 * Authorization code flow with PKCE; state and nonce checked; the id_token's signature (non-repudiation
 * checks: against the provider's published keys), issuer, audience and expiry verified by the library.
 *
 * Two uses:
 * - creating a mandate: the helper chooses the structure, démarches and duration, the person signs in
 *   at the provider, the callback stores the verified identity (sub, given and family names, birth
 *   date) on the flow; the person reads the mandate (French, English, Arabic) and consents; the mandate
 *   is created with that identity, and the flow deleted, in ONE transaction (a flow serves once);
 * - the person's own page: after signing in, `/mandats/mon-mandat` lists every mandate whose person
 *   has this provider subject (any structure) and lets them revoke one (or one démarche), with a
 *   revocation attestation.
 *
 * A flow is bound to the browser that started it (cookie, its hash stored); the callback accepts a
 * (browser, state) pair once, unverified, less than 10 minutes old; anything else (replay, forged
 * state, wrong nonce, a token signed by another key, an error from the provider) is refused and
 * writes nothing.
 */
import crypto from 'node:crypto';
import * as client from 'openid-client';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import type { Config } from '../../platform/config.ts';
import type { Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { html, type Raw } from '../../platform/html/html.ts';
import { ForbiddenError, NotFoundError, UserError } from '../../platform/http/errors.ts';
import { requirePermission, signedInUser, type CurrentUser } from '../accounts/index.ts';
import { DEV_CLIENT, createDevIdp, type DevIdp } from './dev-idp.ts';
import { ADMIN_PROCEDURES, STATUS_LABELS, ValidationFailed, expiresAt, isProcedure, parseRenewalInput, plainWords, sha256, type AdminProcedure, type Duration, type FieldError, type MandateInput } from './model.ts';
import { translatedVersions } from './translations.ts';
import { attestationPdf, revocationPdf, sendPdf } from './attestation.ts';
import * as service from './service.ts';

export const DEV_MOUNT = '/dev/identite';
export const CALLBACK_PATH = '/mandats/identite/retour';
/** Where the provider sends the browser back after ending its session (post_logout_redirect_uri). */
export const LOGOUT_PATH = '/mandats/identite/deconnexion';
/** The post_logout_redirect_uri: on the host of the callback (registered at FranceConnect with it). */
export const logoutRedirectUri = (s: IdentitySettings) => new URL(LOGOUT_PATH, s.redirectUri).href;
export const COOKIE = 'mdt_oidc';
const FLOW_MINUTES = 10;
/** A verified identity waits this long for the mandate (reading, consent), then must be checked again. */
const CREATE_MINUTES = 30;
/** The person's session on their own page. */
const PERSON_MINUTES = 20;

export interface IdentitySettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  scope: string;
  acrValues: string | null;
  label: string;
  dev: boolean;
}

/** The provider to use now: the configured one (FranceConnect), else outside production the development provider. */
export function identitySettings(config: Config): IdentitySettings | null {
  const c = config.mandatesIdentity;
  if (c) return { ...c, redirectUri: c.redirectUri ?? `${config.publicUrl}${CALLBACK_PATH}`, dev: false };
  if (config.env === 'production') return null;
  return {
    issuer: `${config.publicUrl}${DEV_MOUNT}`,
    clientId: DEV_CLIENT.clientId,
    clientSecret: DEV_CLIENT.clientSecret,
    redirectUri: `${config.publicUrl}${CALLBACK_PATH}`,
    scope: 'openid given_name family_name birthdate',
    acrValues: null,
    label: 'le fournisseur d’identité de développement',
    dev: true,
  };
}

/** The verified identity, as the provider states it. */
export interface VerifiedIdentity {
  issuer: string;
  subHash: string;
  givenName: string;
  familyName: string;
  birthDate: string;
}

const NAME_MAX = 100;
/** Names as the provider gives them: NFC, no control characters, 1 to 100 characters; null when unusable. */
function cleanName(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const s = v.normalize('NFC').replace(/[\p{Cc}\p{Cf}]/gu, ' ').replace(/\s+/g, ' ').trim();
  return s && [...s].length <= NAME_MAX ? s : null;
}
function cleanBirthDate(v: unknown): string | null {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v)) return null;
  const d = new Date(`${v}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === v && d.getTime() < Date.now() && d.getUTCFullYear() >= 1900 ? v : null;
}
export const subjectHash = (issuer: string, sub: string) => sha256(`${issuer}\n${sub}`);

interface FlowRow {
  id: string;
  purpose: 'create' | 'person' | 'sms';
  state: string;
  nonce: string;
  code_verifier: string;
  helper_id: string | null;
  structure_id: string | null;
  draft: { procedures: AdminProcedure[]; duration: Duration } | null;
  verified_at: Date | string | null;
  issuer: string | null;
  sub_hash: string | null;
  given_name: string | null;
  family_name: string | null;
  birth_date: string | null;
  consent_id: string | null;
  id_token: string | null;
  logout_state: string | null;
}

/** The relying party: discovery (cached per issuer), start of a flow, the callback. */
export function identityClient(ctx: AppContext) {
  let cache: { issuer: string; config: Promise<client.Configuration> } | null = null;
  const discover = (s: IdentitySettings) => {
    if (cache?.issuer !== s.issuer) {
      const config = client
        .discovery(new URL(s.issuer), s.clientId, { client_secret: s.clientSecret }, client.ClientSecretPost(s.clientSecret), {
          // The id_token's signature is checked against the provider's keys (not only trusted from TLS).
          // Plain HTTP only outside production (the development provider, a test provider on loopback).
          execute: [client.enableNonRepudiationChecks, ...(ctx.config.env !== 'production' && s.issuer.startsWith('http:') ? [client.allowInsecureRequests] : [])],
          timeout: 10,
        })
        .catch((err: Error) => {
          cache = null;
          throw err;
        });
      cache = { issuer: s.issuer, config };
    }
    return cache.config;
  };

  return {
    /** Starts a flow for this browser; returns the provider's authorization URL. */
    async start(s: IdentitySettings, browser: string, f: { purpose: 'create' | 'person' | 'sms'; helperId?: string; structureId?: string; draft?: { procedures: string[]; duration: string }; consentId?: string }, now = new Date()): Promise<URL> {
      const config = await discover(s);
      const state = client.randomState();
      const nonce = client.randomNonce();
      const verifier = client.randomPKCECodeVerifier();
      await ctx.db.transaction(async (tx) => {
        // Unused checks are not kept: their identity (if any) goes with them.
        await tx.query('DELETE FROM mandates.identity_flow WHERE created_at < $1', [new Date(now.getTime() - 24 * 3600_000).toISOString()]);
        await tx.query(
          `INSERT INTO mandates.identity_flow (id, purpose, browser_hash, state, nonce, code_verifier, helper_id, structure_id, draft, created_at, consent_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11)`,
          [crypto.randomUUID(), f.purpose, sha256(browser), state, nonce, verifier, f.helperId ?? null, f.structureId ?? null, f.draft ? JSON.stringify(f.draft) : null, now.toISOString(), f.consentId ?? null],
        );
      });
      const params: Record<string, string> = {
        redirect_uri: s.redirectUri,
        scope: s.scope,
        state,
        nonce,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      };
      if (s.acrValues) params.acr_values = s.acrValues;
      return client.buildAuthorizationUrl(config, params);
    },

    /**
     * The callback: the flow of this browser and state, unverified and recent; the code exchanged
     * (PKCE, state, nonce, id_token checked by openid-client), the claims read (id_token, then
     * userinfo); the identity stored on the flow and journalled, in one transaction. Any failure: a
     * UserError, and nothing written.
     */
    async finish(s: IdentitySettings, browser: string | undefined, query: URLSearchParams, now = new Date()): Promise<FlowRow> {
      const refused = (msg: string) => new UserError(msg, 400, 'state', 'identity_refused');
      const state = query.get('state');
      if (!browser || !state || state.length > 200) throw refused('La vérification d’identité a expiré ou a été ouverte dans un autre navigateur. Recommencez.');
      const { rows } = await ctx.db.query<FlowRow>(
        'SELECT * FROM mandates.identity_flow WHERE browser_hash = $1 AND state = $2 AND verified_at IS NULL AND created_at > $3',
        [sha256(browser), state, new Date(now.getTime() - FLOW_MINUTES * 60_000).toISOString()],
      );
      const flow = rows[0];
      if (!flow) throw refused('Cette vérification d’identité a expiré, a déjà servi ou n’a pas été commencée dans ce navigateur. Recommencez.');
      if (query.get('error')) throw refused(`${s.label} n’a pas confirmé l’identité de la personne (${String(query.get('error')).slice(0, 60)}).`);
      let identity: VerifiedIdentity;
      let idToken: string | null = null;
      try {
        const config = await discover(s);
        const current = new URL(s.redirectUri);
        current.search = query.toString();
        const tokens = await client.authorizationCodeGrant(config, current, { pkceCodeVerifier: flow.code_verifier, expectedState: flow.state, expectedNonce: flow.nonce, idTokenExpected: true });
        const claims = tokens.claims()!;
        let info: Record<string, unknown> = {};
        if (!claims.given_name || !claims.family_name || !claims.birthdate) info = { ...(await client.fetchUserInfo(config, tokens.access_token, claims.sub)) };
        const pick = (k: string) => claims[k] ?? info[k];
        const givenName = cleanName(pick('given_name'));
        const familyName = cleanName(pick('family_name'));
        const birthDate = cleanBirthDate(pick('birthdate'));
        if (!givenName || !familyName || !birthDate) throw new Error('identity incomplete: given_name, family_name and birthdate are required');
        // Kept for the logout at the provider (id_token_hint), when it offers one (FranceConnect does).
        idToken = config.serverMetadata().end_session_endpoint && tokens.id_token ? tokens.id_token : null;
        identity = { issuer: config.serverMetadata().issuer, subHash: subjectHash(config.serverMetadata().issuer, claims.sub), givenName, familyName, birthDate };
      } catch (err) {
        ctx.log.warn({ err: (err as Error).message }, 'mandates: OpenID Connect callback refused');
        throw refused(`La réponse de ${s.label} n’a pas pu être vérifiée. Recommencez la vérification d’identité.`);
      }
      return ctx.db.transaction(async (tx) => {
        const r = await tx.query<FlowRow>(
          `UPDATE mandates.identity_flow SET verified_at = $2, issuer = $3, sub_hash = $4, given_name = $5, family_name = $6, birth_date = $7, id_token = $8
            WHERE id = $1 AND verified_at IS NULL RETURNING *`,
          [flow.id, now.toISOString(), identity.issuer, identity.subHash, identity.givenName, identity.familyName, identity.birthDate, idToken],
        );
        if (!r.rows[0]) throw refused('Cette vérification d’identité a déjà servi. Recommencez.');
        if (flow.purpose === 'create') {
          await service.appendJournal(tx, { event: 'identity.checked', structureId: flow.structure_id!, actorKind: 'helper', actorId: flow.helper_id, detail: { flow: flow.id, issuer: identity.issuer }, at: now });
        } else if (flow.purpose === 'sms') {
          // Remote consent (remote.ts): the person proved their identity on their own phone.
          await service.appendJournal(tx, { event: 'identity.checked', structureId: flow.structure_id!, actorKind: 'person', detail: { flow: flow.id, consent: flow.consent_id, issuer: identity.issuer, remote: true }, at: now });
        } else {
          await recordAudit(tx, { actorId: null, action: 'mandates.identity.person_signin', objectType: 'mandates.identity_flow', objectId: flow.id, after: { issuer: identity.issuer } });
        }
        return r.rows[0];
      });
    },

    /**
     * FranceConnect's logout: the provider's end_session URL for a verified check (id_token_hint,
     * post_logout_redirect_uri, a fresh state stored on the check, checked when the browser comes
     * back), or null when the provider publishes no end_session_endpoint or the check kept no id_token.
     * Storing the state also ends the check's session here (personSession ignores it from then on).
     */
    async logoutUrl(s: IdentitySettings, flowId: string): Promise<URL | null> {
      const { rows } = await ctx.db.query<{ id_token: string | null }>('SELECT id_token FROM mandates.identity_flow WHERE id = $1 AND verified_at IS NOT NULL', [flowId]);
      const state = client.randomState();
      await ctx.db.query('UPDATE mandates.identity_flow SET logout_state = $2 WHERE id = $1', [flowId, state]);
      if (!rows[0]?.id_token) return null;
      let config: client.Configuration;
      try {
        config = await discover(s);
      } catch {
        return null;
      }
      if (!config.serverMetadata().end_session_endpoint) return null;
      return client.buildEndSessionUrl(config, { id_token_hint: rows[0].id_token, post_logout_redirect_uri: logoutRedirectUri(s), state });
    },
  };
}

/** The token of the person's logout link: derived from their browser's cookie, so another site cannot log them out. */
export const logoutToken = (browser: string) => sha256(`logout:${browser}`).slice(0, 32);
/** Whether a logout link's token is this browser's (constant time). */
export function logoutTokenValid(browser: string | undefined, token: string): boolean {
  const expected = browser ? Buffer.from(logoutToken(browser)) : null;
  return !!expected && token.length === expected.length && crypto.timingSafeEqual(Buffer.from(token), expected);
}

/** The verified flow of a helper, waiting for the person's consent (null when unknown, someone else's, or too old). */
export async function pendingCreation(db: Queryable, flowId: string, helperId: string, now = new Date()): Promise<(FlowRow & { draft: { procedures: AdminProcedure[]; duration: Duration } }) | null> {
  if (!service.isUuid(flowId)) return null;
  const { rows } = await db.query<FlowRow>(
    `SELECT *, birth_date::text AS birth_date FROM mandates.identity_flow WHERE id = $1 AND purpose = 'create' AND helper_id = $2 AND verified_at IS NOT NULL AND verified_at > $3`,
    [flowId, helperId, new Date(now.getTime() - CREATE_MINUTES * 60_000).toISOString()],
  );
  const f = rows[0];
  return f && f.draft ? (f as FlowRow & { draft: { procedures: AdminProcedure[]; duration: Duration } }) : null;
}

/**
 * Creates the mandate with the identity a flow verified, after the person's consent: the flow is
 * deleted in the same transaction (a second use finds nothing: 409, nothing written); the person
 * the structure already knows under this subject is reused, else created; their identity is
 * recorded as checked by OpenID Connect, with the subject's hash.
 */
export async function createWithIdentity(ctx: AppContext, helperId: string, flowId: string, consent: boolean, now = new Date()): Promise<service.Created> {
  const flow = await pendingCreation(ctx.db, flowId, helperId, now);
  if (!flow) throw new NotFoundError('Cette vérification d’identité n’existe pas, a déjà servi ou a expiré : recommencez.');
  if (!consent) throw new UserError('La personne doit avoir lu le mandat et donné son accord.', 400, 'consent');
  const age = now.getUTCFullYear() - Number(flow.birth_date!.slice(0, 4));
  if (age < 15) throw new UserError('La personne doit avoir au moins 15 ans pour donner mandat seule.', 400, 'identity');
  const input: MandateInput = { givenName: flow.given_name!, familyName: flow.family_name!, birthDate: flow.birth_date!, identityChecked: true, procedures: flow.draft.procedures, duration: flow.draft.duration, consent: true };
  const known = await ctx.db.query<{ id: string }>('SELECT id FROM mandates.person WHERE structure_id = $1 AND idp_sub_hash = $2 AND idp_issuer = $3 AND purged_at IS NULL ORDER BY created_at LIMIT 1', [flow.structure_id, flow.sub_hash, flow.issuer]);
  return service.createMandate(ctx, helperId, flow.structure_id!, input, {
    now,
    personId: known.rows[0]?.id,
    within: async (tx, created) => {
      const used = await tx.query("DELETE FROM mandates.identity_flow WHERE id = $1 AND helper_id = $2 AND purpose = 'create' AND verified_at IS NOT NULL RETURNING id", [flow.id, helperId]);
      if (!used.rows.length) throw new UserError('Cette vérification d’identité a déjà servi : recommencez.', 409, 'identity', 'identity_used');
      await tx.query("UPDATE mandates.person SET identity_check = 'oidc', idp_issuer = $2, idp_sub_hash = $3 WHERE id = (SELECT person_id FROM mandates.mandate WHERE id = $1)", [created.id, flow.issuer, flow.sub_hash]);
    },
  });
}

/** The person signed in on this browser (their subject's hash), or null. */
export async function personSession(db: Queryable, browser: string | undefined, now = new Date()): Promise<{ flowId: string; issuer: string; subHash: string; givenName: string } | null> {
  if (!browser || browser.length > 100) return null;
  const { rows } = await db.query<{ id: string; issuer: string; sub_hash: string; given_name: string }>(
    "SELECT id, issuer, sub_hash, given_name FROM mandates.identity_flow WHERE browser_hash = $1 AND purpose = 'person' AND verified_at > $2 AND logout_state IS NULL ORDER BY verified_at DESC LIMIT 1",
    [sha256(browser), new Date(now.getTime() - PERSON_MINUTES * 60_000).toISOString()],
  );
  const r = rows[0];
  return r ? { flowId: r.id, issuer: r.issuer, subHash: r.sub_hash, givenName: r.given_name } : null;
}

/** Every mandate of the person with this subject, in any structure (newest first). */
export async function mandatesOfSubject(db: Queryable, issuer: string, subHash: string, now = new Date()): Promise<(service.Mandate & { structureName: string })[]> {
  const { rows } = await db.query<{ id: string; name: string }>(
    `SELECT m.id, s.name FROM mandates.mandate m JOIN mandates.person p ON p.id = m.person_id JOIN mandates.structure s ON s.id = m.structure_id
      WHERE p.idp_sub_hash = $1 AND p.idp_issuer = $2 ORDER BY m.created_at DESC, m.id LIMIT 200`,
    [subHash, issuer],
  );
  const out: (service.Mandate & { structureName: string })[] = [];
  for (const r of rows) {
    const m = await service.getMandate(db, r.id, now);
    if (m) out.push({ ...m, structureName: r.name });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pages

export interface PageKit {
  frame: (ctx: AppContext, title: string, body: Raw, user: CurrentUser | null) => string;
  send: (reply: FastifyReply, status: number, body: string) => unknown;
  formBody: (req: FastifyRequest) => Record<string, unknown>;
  one: (v: unknown) => string;
  errorSummary: (errors: FieldError[]) => Raw | '';
  fieldError: (errors: FieldError[], f: string) => Raw | '';
  invalid: (errors: FieldError[], f: string) => Raw;
  attestation: (ctx: AppContext, m: service.Mandate, structure: service.Structure, helperName: string, code: string | null, pdf?: Buffer | null) => Raw;
}

const fmt = (isoDate: string) => new Date(isoDate).toLocaleString('fr-FR', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Paris' });
const procLabel = (p: string) => (isProcedure(p) ? ADMIN_PROCEDURES[p] : p);
const birth = (d: string) => new Date(`${d}T12:00:00Z`).toLocaleDateString('fr-FR', { dateStyle: 'long' });

/** The button that starts the person's sign-in at the provider (on /mandats/mon-mandat), or nothing when no provider is available. */
export function personSignInForm(ctx: AppContext): Raw | '' {
  const s = identitySettings(ctx.config);
  if (!s) return '';
  return html`<h2>Avec FranceConnect</h2><p>Identifiez-vous avec ${s.label} pour voir tous vos mandats, dans toutes les structures, et les retirer.</p>
<p><a class="button" href="/mandats/mon-mandat/identite">S’identifier avec ${s.dev ? 'le fournisseur de développement' : s.label}</a></p>
<h2>Avec la référence et le code de révocation</h2>`;
}

/**
 * The person's own page when signed in through the provider (all their mandates), or null (the page
 * with the reference and the code is shown instead).
 */
export async function personMandatesPage(ctx: AppContext, kit: PageKit, req: FastifyRequest, reply: FastifyReply, notice: Raw | '' = '', status = 200): Promise<unknown> {
  const session = await personSession(ctx.db, req.cookies[COOKIE]);
  if (!session) return null;
  const list = await mandatesOfSubject(ctx.db, session.issuer, session.subHash);
  const csrf = reply.generateCsrf();
  const body = html`<h1>Mes mandats</h1>${notice}
<p>Vous êtes identifié (${session.givenName}). ${list.length ? `Voici ${list.length > 1 ? `vos ${list.length} mandats` : 'votre mandat'}, toutes structures confondues.` : 'Aucun mandat n’a été donné avec cette identité.'}</p>
${list.map((m) => html`<section aria-labelledby="m-${m.id}"><h2 id="m-${m.id}">Mandat ${m.reference} — ${m.structureName}</h2>
<p><strong>${STATUS_LABELS[m.status]}</strong>. Créé le ${fmt(m.createdAt)}, ${m.status === 'active' ? 'valable jusqu’au' : 'fin prévue le'} ${fmt(m.expiresAt)}${m.revokedAt ? html`, arrêté le ${fmt(m.revokedAt)}` : ''}.</p>
<ul>${m.procedures.map((p) => html`<li>${procLabel(p.procedure)}${p.revokedAt ? html` — retirée le ${fmt(p.revokedAt)}` : m.status === 'active' ? html` <form method="post" action="/mandats/mon-mandat/revoquer" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="mandate" value="${m.id}"><input type="hidden" name="procedure" value="${p.procedure}"><button type="submit">Retirer cette démarche<span class="visually-hidden"> (${m.reference})</span></button></form>` : ''}</li>`)}</ul>
${m.status === 'active' ? html`<form method="post" action="/mandats/mon-mandat/revoquer"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="mandate" value="${m.id}"><button type="submit">Retirer tout le mandat ${m.reference}</button></form>` : ''}
${m.status === 'revoked' ? html`<p><a href="/mandats/mon-mandat/${m.id}/revocation.pdf">Attestation de révocation (PDF)</a></p>` : ''}
</section>`)}
<p><a class="button" href="/mandats/mon-mandat/deconnexion?jeton=${logoutToken(req.cookies[COOKIE]!)}">Me déconnecter</a> (de Maillage et de ${identitySettings(ctx.config)?.label ?? 'FranceConnect'})</p>`;
  return kit.send(reply, status, kit.frame(ctx, 'Mes mandats', body, null));
}

export function registerIdentity(app: App, ctx: AppContext, kit: PageKit) {
  const rp = identityClient(ctx);
  const cookieOptions = { path: '/mandats', httpOnly: true, sameSite: 'lax' as const, secure: ctx.config.env === 'production' };
  const helperPost = { preHandler: requirePermission('mandates.act'), preValidation: app.csrfProtection };
  const helperGet = { preHandler: requirePermission('mandates.act') };
  const refuse = (reply: FastifyReply, status: number, message: string, back: string) =>
    kit.send(reply, status, kit.frame(ctx, 'Vérification d’identité impossible', html`<h1>Vérification d’identité impossible</h1><p class="warn" role="alert">${message}</p><p><a href="${back}">Recommencer</a></p>`, null));

  // The development provider, on this process, outside production only (created on first use, with this server's address).
  if (ctx.config.env !== 'production') {
    let idp: Promise<DevIdp> | null = null;
    let idpIssuer = '';
    app.all(`${DEV_MOUNT}/*`, async (req, reply) => {
      const issuer = `${ctx.config.publicUrl}${DEV_MOUNT}`;
      if (!idp || idpIssuer !== issuer) {
        idpIssuer = issuer;
        idp = createDevIdp({ issuer, redirectUris: [`${ctx.config.publicUrl}${CALLBACK_PATH}`] });
      }
      const provider = await idp;
      (req.raw as typeof req.raw & { body?: unknown }).body = req.body;
      reply.hijack();
      provider.handle(req.raw, reply.raw);
    });
  }

  /**
   * Starts a check and sends the browser to the provider. `handOver` (the helper's form): a page with
   * a LINK to the provider, not a redirect — the site's CSP (`form-action 'self'`) forbids a form
   * submission to end at another origin, and the helper hands the device to the person there anyway.
   */
  async function go(reply: FastifyReply, s: IdentitySettings, f: Parameters<typeof rp.start>[2], back: string, handOver: { user: CurrentUser } | null = null) {
    const browser = crypto.randomBytes(24).toString('base64url');
    let url: URL;
    try {
      url = await rp.start(s, browser, f);
    } catch (err) {
      ctx.log.error({ err: (err as Error).message }, 'mandates: OpenID Connect discovery failed');
      return refuse(reply, 502, `${s.label} ne répond pas pour le moment. Réessayez plus tard.`, back);
    }
    reply.setCookie(COOKIE, browser, { ...cookieOptions, maxAge: Math.max(FLOW_MINUTES, PERSON_MINUTES) * 60 });
    if (!handOver) return reply.redirect(url.href, 303);
    const body = html`<h1>Vérification d’identité</h1>
<p>Donnez l’appareil à la personne : elle s’identifie elle-même avec ${s.label} (l’aidant ne voit ni ne saisit ses identifiants). Elle revient ensuite ici pour lire le mandat.</p>
<p><a class="button" href="${url.href}">S’identifier avec ${s.label}</a></p>
<p>Ce lien vaut ${FLOW_MINUTES} minutes. <a href="/mandats/nouveau">Recommencer</a></p>`;
    return kit.send(reply, 200, kit.frame(ctx, 'Vérification d’identité', body, handOver.user));
  }

  // The helper starts the identity check of a new mandate: structure, démarches and duration first.
  app.post('/mandats/nouveau/identite', { ...helperPost, config: { rateLimit: { max: 30, timeWindow: '1 minute' } } }, async (req, reply) => {
    const user = await signedInUser(req);
    const v = kit.formBody(req);
    const s = identitySettings(ctx.config);
    if (!s) throw new UserError('Aucun fournisseur d’identité n’est configuré (MANDATES_OIDC_ISSUER).', 503, 'identity');
    const trained = (await service.helperMemberships(ctx.db, user.id)).filter((h) => h.trainedOn);
    if (!trained.length) throw new ForbiddenError('Seul un aidant formé d’une structure habilitée peut créer un mandat.');
    const structure = trained.find((h) => h.structureId === kit.one(v.structure));
    let scope;
    try {
      if (!structure) throw new ValidationFailed([{ field: 'structure', message: 'Choisissez une de vos structures.' }]);
      scope = parseRenewalInput(v, false);
    } catch (e) {
      if (!(e instanceof ValidationFailed)) throw e;
      return kit.send(reply, 422, kit.frame(ctx, 'Nouveau mandat', html`<h1>Nouveau mandat</h1>${kit.errorSummary(e.errors)}<p><a href="/mandats/nouveau">Revenir au formulaire</a></p>`, user));
    }
    return go(reply, s, { purpose: 'create', helperId: user.id, structureId: structure!.structureId, draft: { procedures: scope.procedures, duration: scope.duration } }, '/mandats/nouveau', { user });
  });

  // The person starts signing in to see their mandates (a link: a navigation, not a form, may end at the provider).
  app.get('/mandats/mon-mandat/identite', { config: { rateLimit: { max: 20, timeWindow: '10 minutes' } } }, async (_req, reply) => {
    const s = identitySettings(ctx.config);
    if (!s) throw new UserError('Aucun fournisseur d’identité n’est configuré.', 503, 'identity');
    return go(reply, s, { purpose: 'person' }, '/mandats/mon-mandat');
  });

  // The provider's answer (both uses).
  app.get(CALLBACK_PATH, { logLevel: 'warn', config: { rateLimit: { max: 30, timeWindow: '1 minute' } } }, async (req, reply) => {
    const s = identitySettings(ctx.config);
    if (!s) throw new NotFoundError('Aucun fournisseur d’identité n’est configuré.');
    const query = new URL(req.url, 'http://x').searchParams;
    try {
      const flow = await rp.finish(s, req.cookies[COOKIE], query);
      if (flow.purpose === 'create') {
        // On site, the person signed in on the structure's device: their session at the provider ends
        // at once (as Aidants Connect does), before they read the mandate — the provider comes back to
        // LOGOUT_PATH, which checks the state and opens the mandate to read.
        const logout = flow.id_token ? await rp.logoutUrl(s, flow.id) : null;
        return reply.redirect(logout ? logout.href : `/mandats/nouveau/identite/${flow.id}`, 303);
      }
      return reply.redirect(flow.purpose === 'sms' ? `/mandats/accord/lire/${flow.id}` : '/mandats/mon-mandat', 303);
    } catch (e) {
      if (e instanceof UserError) return refuse(reply, 400, e.message, '/mandats');
      throw e;
    }
  });

  // The mandate to read with the person, with the verified identity; consent creates it.
  async function readPage(req: FastifyRequest, reply: FastifyReply, status: number, errors: FieldError[]) {
    const user = await signedInUser(req);
    const flow = await pendingCreation(ctx.db, (req.params as { flow: string }).flow, user.id);
    if (!flow) throw new NotFoundError('Cette vérification d’identité n’existe pas, a déjà servi ou a expiré : recommencez.');
    const s = (await service.getStructure(ctx.db, flow.structure_id!))!;
    const words = { structure: s.name, procedures: flow.draft.procedures, duration: flow.draft.duration, expiresAt: expiresAt(new Date(), flow.draft.duration) };
    const body = html`<h1>Le mandat, à lire avec la personne</h1>${kit.errorSummary(errors)}
<p class="ok" role="status">Identité vérifiée par ${identitySettings(ctx.config)?.label ?? 'le fournisseur d’identité'} : <strong>${flow.given_name} ${flow.family_name}</strong>, née ou né le ${birth(flow.birth_date!)}.</p>
<p>${flow.given_name} ${flow.family_name}, voici ce que vous autorisez :</p>
<div class="plain" lang="fr">${plainWords(words).map((p) => html`<p>${p}</p>`)}</div>
${translatedVersions(words)}
<form method="post" action="/mandats/nouveau/identite/${flow.id}" class="mdt-form"><input type="hidden" name="_csrf" value="${reply.generateCsrf()}">
<div class="field" id="f-consent">${kit.fieldError(errors, 'consent')}<label><input type="checkbox" name="consent" value="oui"${kit.invalid(errors, 'consent')}> La personne a lu (ou s’est fait lire) ce mandat, l’a compris et donne son accord.</label></div>
<p><button type="submit">Créer le mandat et imprimer l’attestation</button> <a href="/mandats/nouveau">Recommencer</a></p></form>`;
    return kit.send(reply, status, kit.frame(ctx, 'Lire le mandat', body, user));
  }
  app.get('/mandats/nouveau/identite/:flow', helperGet, async (req, reply) => readPage(req, reply, 200, []));
  app.post('/mandats/nouveau/identite/:flow', helperPost, async (req, reply) => {
    const user = await signedInUser(req);
    const v = kit.formBody(req);
    let created: service.Created;
    try {
      created = await createWithIdentity(ctx, user.id, (req.params as { flow: string }).flow, ['oui', 'on', 'true', '1'].includes(kit.one(v.consent)));
    } catch (e) {
      if (e instanceof UserError && e.field === 'consent') return readPage(req, reply, 422, [{ field: 'consent', message: e.message }]);
      throw e;
    }
    const m = (await service.getMandate(ctx.db, created.id))!;
    const pdf = await attestationPdf(ctx.db, m, { publicUrl: ctx.config.publicUrl, revocationCode: created.revocationCode });
    const s = (await service.getStructure(ctx.db, m.structureId))!;
    const helperName = (await service.listHelpers(ctx.db, s.id)).find((h) => h.userId === m.createdBy)?.displayName ?? '';
    const body = html`<p class="ok no-print" role="status">Le mandat est créé. Imprimez l’attestation, ou enregistrez-la en PDF, et remettez-la à la personne.</p>${kit.attestation(ctx, m, s, helperName, created.revocationCode, pdf)}`;
    return kit.send(reply, 201, kit.frame(ctx, `Attestation de mandat ${m.reference}`, body, user));
  });

  // The PDF of a mandate's attestation (helper of the structure; without the revocation code).
  app.get('/mandats/:id/attestation.pdf', helperGet, async (req, reply) => {
    const user = await signedInUser(req);
    const m = await service.getMandate(ctx.db, (req.params as { id: string }).id);
    const trained = (await service.helperMemberships(ctx.db, user.id)).filter((h) => h.trainedOn);
    if (!m || !trained.some((h) => h.structureId === m.structureId)) throw new NotFoundError('Ce mandat n’existe pas.');
    return sendPdf(reply, await attestationPdf(ctx.db, m, { publicUrl: ctx.config.publicUrl }), `attestation-${m.reference}.pdf`);
  });

  // The person revokes from their page (signed in): a revocation attestation follows.
  app.post('/mandats/mon-mandat/revoquer', { preValidation: app.csrfProtection, config: { rateLimit: { max: 20, timeWindow: '10 minutes' } } }, async (req, reply) => {
    const session = await personSession(ctx.db, req.cookies[COOKIE]);
    if (!session) return reply.redirect('/mandats/mon-mandat', 303);
    const v = kit.formBody(req);
    const id = kit.one(v.mandate);
    const procedure = kit.one(v.procedure) || null;
    const mine = (await mandatesOfSubject(ctx.db, session.issuer, session.subHash)).find((m) => m.id === id);
    if (!mine) throw new NotFoundError('Ce mandat n’existe pas.');
    try {
      await service.revokeMandate(ctx, { kind: 'person' }, mine.id, procedure);
    } catch (e) {
      if (e instanceof UserError && e.statusCode < 500 && e.statusCode !== 404) return personMandatesPage(ctx, kit, req, reply, html`<p class="warn" role="alert">${e.message}</p>`, e.statusCode === 400 ? 422 : e.statusCode);
      throw e;
    }
    const m = (await service.getMandate(ctx.db, mine.id))!;
    const notice = html`<div class="ok" role="status"><p>${m.status === 'revoked' ? `Le mandat ${m.reference} est révoqué : plus personne ne peut agir en votre nom avec lui.` : `La démarche est retirée du mandat ${m.reference}.`}</p>
<p><a href="/mandats/mon-mandat/${m.id}/revocation.pdf">Télécharger l’attestation de révocation (PDF)</a></p></div>`;
    return personMandatesPage(ctx, kit, req, reply, notice);
  });
  app.get('/mandats/mon-mandat/:id/revocation.pdf', async (req, reply) => {
    const session = await personSession(ctx.db, req.cookies[COOKIE]);
    const id = (req.params as { id: string }).id;
    const m = session ? (await mandatesOfSubject(ctx.db, session.issuer, session.subHash)).find((x) => x.id === id) : null;
    if (!m || !m.procedures.some((p) => p.revokedAt)) throw new NotFoundError('Aucune révocation pour ce mandat.');
    return sendPdf(reply, await revocationPdf(ctx.db, m, { publicUrl: ctx.config.publicUrl }), `revocation-${m.reference}.pdf`);
  });
  // Logout, as FranceConnect requires: a LINK (a navigation may end at the provider, a form may not under
  // the site's CSP), its token derived from the browser's cookie; the session here ends at once, then the
  // provider's end_session_endpoint (id_token_hint, post_logout_redirect_uri, state) ends the one there.
  app.get('/mandats/mon-mandat/deconnexion', { config: { rateLimit: { max: 20, timeWindow: '10 minutes' } } }, async (req, reply) => {
    const browser = req.cookies[COOKIE];
    const token = kit.one((req.query as Record<string, unknown>).jeton);
    const session = await personSession(ctx.db, browser);
    if (!session || !logoutTokenValid(browser, token)) return reply.redirect('/mandats/mon-mandat', 303);
    const s = identitySettings(ctx.config);
    const url = s ? await rp.logoutUrl(s, session.flowId) : null;
    if (!url) {
      await ctx.db.query('DELETE FROM mandates.identity_flow WHERE id = $1', [session.flowId]);
      reply.clearCookie(COOKIE, cookieOptions);
      return reply.redirect('/mandats/mon-mandat', 303);
    }
    return reply.redirect(url.href, 303);
  });
  // The provider sends the browser back: the state must be the one stored for this browser's check.
  app.get(LOGOUT_PATH, { config: { rateLimit: { max: 30, timeWindow: '1 minute' } } }, async (req, reply) => {
    const browser = req.cookies[COOKIE];
    const state = kit.one((req.query as Record<string, unknown>).state);
    const valid = !!browser && !!state && state.length <= 200;
    // The check of an on-site creation: its session at the provider is over (the state serves once:
    // cleared with the id_token), the identity stays for the reading and the consent.
    const creation = valid
      ? await ctx.db.query<{ id: string }>("UPDATE mandates.identity_flow SET id_token = NULL, logout_state = NULL WHERE browser_hash = $1 AND logout_state = $2 AND purpose = 'create' RETURNING id", [sha256(browser), state])
      : null;
    if (creation?.rows[0]) {
      reply.clearCookie(COOKIE, cookieOptions);
      return reply.redirect(`/mandats/nouveau/identite/${creation.rows[0].id}`, 303);
    }
    const done = valid
      ? await ctx.db.query<{ purpose: string; consent_id: string | null }>("DELETE FROM mandates.identity_flow WHERE browser_hash = $1 AND logout_state = $2 AND purpose <> 'create' RETURNING purpose, consent_id", [sha256(browser), state])
      : null;
    if (!done?.rows[0]) return refuse(reply, 400, 'La déconnexion n’a pas pu être vérifiée (lien expiré, rejoué ou ouvert dans un autre navigateur). Fermez le navigateur pour terminer la session.', '/mandats/mon-mandat');
    reply.clearCookie(COOKIE, cookieOptions);
    const label = identitySettings(ctx.config)?.label ?? 'FranceConnect';
    return kit.send(reply, 200, kit.frame(ctx, 'Déconnexion', html`<h1>Vous êtes déconnecté</h1><p class="ok" role="status">Votre session est terminée sur Maillage et chez ${label}.</p><p><a href="/mandats/mon-mandat">Revenir à « Mes mandats »</a></p>`, null));
  });
  app.post('/mandats/mon-mandat/deconnexion', { preValidation: app.csrfProtection }, async (req, reply) => {
    const browser = req.cookies[COOKIE];
    if (browser) await ctx.db.query("DELETE FROM mandates.identity_flow WHERE browser_hash = $1 AND purpose = 'person'", [sha256(browser)]);
    reply.clearCookie(COOKIE, cookieOptions);
    return reply.redirect('/mandats/mon-mandat', 303);
  });
}

/**
 * Maillage as an OpenID Connect provider towards partner services (issue #20, "Using a mandate").
 *
 * A registered partner service (mandates.partner; `maillage mandates partner add`) sends a helper
 * to `/oidc/auth` (authorization code flow, PKCE S256 required, optional `demarche` parameter).
 * The helper signs in with their Maillage session (a second factor is required), picks the
 * person's mandate and the démarche on `/mandats/partenaire/:uid`; at that moment the module's
 * check (`checkAuthorisation`, under locks in `recordAct`) must allow it, and the use is journalled
 * (`mandate.authorisation_used`). The tokens then carry the person's identity (given_name,
 * family_name, birthdate), a subject stable per person and partner, and the ONE démarche chosen,
 * nothing about the helper. The check runs again at every token and userinfo request: a mandate
 * revoked or expired since refuses at once.
 *
 * Storage: oidc-provider's artefacts in mandates.oidc_payload (several instances share them; a
 * code is consumed atomically, so a replayed code is refused on every instance); signing keys in
 * mandates.oidc_key, encrypted under SECRET_KEY; client secrets stored as their SHA-256.
 */
import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import type { Db, Queryable } from '../../platform/db/index.ts';
import { secretKeys, type Config } from '../../platform/config.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { UserError } from '../../platform/http/errors.ts';
import { layout } from '../../platform/html/layout.ts';
import { html, raw, type Raw } from '../../platform/html/html.ts';
import { requirePermission, signedInUser, type CurrentUser } from '../accounts/index.ts';
import { ADMIN_PROCEDURES, isProcedure, sha256 } from './model.ts';
import * as service from './service.ts';

// ---------------------------------------------------------------------------------------------
// oidc-provider ships no type declarations: the part used here.

interface OidcClient {
  clientId: string;
  clientName?: string;
}
interface OidcInteraction {
  uid: string;
  prompt: { name: string; reasons: string[] };
  params: Record<string, unknown>;
}
interface OidcGrant {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  save(): Promise<string>;
}
interface OidcProvider {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  proxy: boolean;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<OidcInteraction>;
  interactionResult(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, o?: { mergeWithLastSubmission?: boolean }): Promise<string>;
  Grant: new (o: { accountId: string; clientId: string }) => OidcGrant;
  Client: { find(id: string): Promise<OidcClient | undefined>; prototype: { compareClientSecret(this: { clientSecret?: string }, actual: string): boolean } };
  on(event: string, fn: (...args: unknown[]) => void): void;
}
interface OidcCheckCtor {
  new (reason: string, description: string, check: (ctx: { oidc: { result?: Record<string, unknown> } }) => boolean): unknown;
  REQUEST_PROMPT: boolean;
  NO_NEED_TO_PROMPT: boolean;
}
interface OidcLib {
  default: new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;
  interactionPolicy: { base(): { get(name: string): { checks: { add(c: unknown, index?: number): void } } }; Check: OidcCheckCtor };
  errors: { InvalidGrant: new (description: string) => Error; InvalidRequest: new (description: string) => Error; SessionNotFound: new (description: string) => Error };
}
// Loaded when the provider is first built, not when the app starts: every command of the CLI
// would otherwise load it (and, on Node.js 20, print its runtime warning on stderr).
let lib: OidcLib;

// ---------------------------------------------------------------------------------------------
// Constants

/** Scopes a partner may ask for, and the claims each one releases. */
export const PARTNER_SCOPES = {
  openid: ['sub'],
  profile: ['given_name', 'family_name', 'birthdate'],
  demarche: ['demarche'],
} as const;
/** Lifetimes (seconds): short, a token is for one sitting with the person. */
export const TTL = { AuthorizationCode: 60, AccessToken: 600, IdToken: 600, Interaction: 900, Session: 900, Grant: 900 } as const;
export const MOUNT = '/oidc';
const INTERACTION_PATH = '/mandats/partenaire';
export const MAX_REDIRECT_URIS = 10;

// ---------------------------------------------------------------------------------------------
// Secrets: the keys' sealing key and the cookie keys derive from SECRET_KEY (and the previous ones).

const derive = (secret: string, purpose: string) => crypto.createHmac('sha256', secret).update(`maillage:mandates:oidc:${purpose}`).digest();

function seal(config: Config, plaintext: string): string {
  const key = derive(secretKeys(config)[0]!, 'key-seal');
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  return ['v1', iv.toString('base64url'), c.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
}

function unseal(config: Config, box: string): string | null {
  const [v, iv, tag, body] = box.split('.');
  if (v !== 'v1' || !iv || !tag || !body) return null;
  for (const secret of secretKeys(config)) {
    try {
      const d = crypto.createDecipheriv('aes-256-gcm', derive(secret, 'key-seal'), Buffer.from(iv, 'base64url'));
      d.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([d.update(Buffer.from(body, 'base64url')), d.final()]).toString('utf8');
    } catch {
      // not this key
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Signing keys

export interface KeyInfo {
  kid: string;
  createdAt: string;
  retiredAt: string | null;
}

async function insertKey(db: Queryable, config: Config): Promise<string> {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = crypto.randomBytes(12).toString('base64url');
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  await db.query('INSERT INTO mandates.oidc_key (kid, sealed_jwk) VALUES ($1, $2)', [kid, seal(config, JSON.stringify(jwk))]);
  return kid;
}

/** Adds a new signing key (it signs from the next start of each instance); the older ones stay published until retired. */
export async function rotateKey(ctx: Pick<AppContext, 'db' | 'config'>): Promise<string> {
  return ctx.db.transaction(async (tx) => {
    const kid = await insertKey(tx, ctx.config);
    await recordAudit(tx, { actorId: null, action: 'mandates.oidc_key.rotate', objectType: 'mandates.oidc_key', objectId: kid, after: { kid } });
    return kid;
  });
}

/** Stops publishing a key (tokens it signed no longer verify). The last key in use cannot be retired. */
export async function retireKey(ctx: Pick<AppContext, 'db' | 'config'>, kid: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ kid: string }>('SELECT kid FROM mandates.oidc_key WHERE retired_at IS NULL ORDER BY created_at DESC, kid FOR UPDATE');
    if (!rows.some((r) => r.kid === kid)) throw new UserError(`Unknown or already retired key: ${kid}`, 404, 'kid', 'not_found');
    if (rows.length === 1) throw new UserError('This is the only key in use: rotate first, then retire the old one.', 409, 'kid');
    await tx.query('UPDATE mandates.oidc_key SET retired_at = now() WHERE kid = $1', [kid]);
    await recordAudit(tx, { actorId: null, action: 'mandates.oidc_key.retire', objectType: 'mandates.oidc_key', objectId: kid, before: { retired: false }, after: { retired: true } });
  });
}

export async function listKeys(db: Queryable): Promise<KeyInfo[]> {
  const { rows } = await db.query<{ kid: string; created_at: Date | string; retired_at: Date | string | null }>('SELECT kid, created_at, retired_at FROM mandates.oidc_key ORDER BY created_at DESC, kid');
  const iso = (v: Date | string) => new Date(v).toISOString();
  return rows.map((r) => ({ kid: r.kid, createdAt: iso(r.created_at), retiredAt: r.retired_at ? iso(r.retired_at) : null }));
}

/** The keys in use, newest first (the first signs); the first instance to start creates one (one instance does: advisory lock). */
async function loadKeys(db: Db, config: Config): Promise<Record<string, unknown>[]> {
  const read = async (q: Queryable) => (await q.query<{ kid: string; sealed_jwk: string }>('SELECT kid, sealed_jwk FROM mandates.oidc_key WHERE retired_at IS NULL ORDER BY created_at DESC, kid')).rows;
  let rows = await read(db);
  if (!rows.length) {
    rows = await db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(hashtext('mandates.oidc_key'))");
      if (!(await read(tx)).length) await insertKey(tx, config);
      return read(tx);
    });
  }
  const keys = rows.map((r) => {
    const plain = unseal(config, r.sealed_jwk);
    if (plain === null) throw new Error(`mandates: OIDC signing key ${r.kid} cannot be decrypted with SECRET_KEY (or SECRET_KEY_PREVIOUS): set the key it was sealed with, or retire it.`);
    return JSON.parse(plain) as Record<string, unknown>;
  });
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Partner services (clients)

export interface Partner {
  clientId: string;
  name: string;
  redirectUris: string[];
  createdAt: string;
  revokedAt: string | null;
}

/** An exact redirect URI: absolute http(s), no fragment, no credentials; https outside loopback in production. */
export function checkRedirectUri(config: Pick<Config, 'env'>, raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UserError(`Adresse de retour invalide : « ${raw.slice(0, 100)} » (une adresse absolue est attendue).`, 400, 'redirect_uri');
  }
  if (raw.length > 500) throw new UserError('Adresse de retour trop longue (500 caractères au plus).', 400, 'redirect_uri');
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UserError(`Adresse de retour : seuls http et https sont acceptés (${u.protocol}).`, 400, 'redirect_uri');
  if (u.hash || raw.includes('#')) throw new UserError('Adresse de retour : pas de fragment (#…).', 400, 'redirect_uri');
  if (u.username || u.password) throw new UserError('Adresse de retour : pas d’identifiant dans l’adresse.', 400, 'redirect_uri');
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname);
  if (config.env === 'production' && u.protocol !== 'https:' && !loopback) throw new UserError('Adresse de retour : https est obligatoire en production.', 400, 'redirect_uri');
  return raw;
}

/** Registers a partner service; its secret is returned ONCE (stored as its SHA-256). */
export async function addPartner(ctx: Pick<AppContext, 'db' | 'config'>, actorId: string | null, input: { name: unknown; redirectUris: unknown }): Promise<{ clientId: string; clientSecret: string }> {
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (!name || name.length > 200 || /[\u0000-\u001f]/.test(name)) throw new UserError('Nom du service partenaire : 1 à 200 caractères, sans caractère de contrôle.', 400, 'name');
  const list = Array.isArray(input.redirectUris) ? input.redirectUris : [];
  if (!list.length || list.length > MAX_REDIRECT_URIS || !list.every((x) => typeof x === 'string')) throw new UserError(`Donnez de 1 à ${MAX_REDIRECT_URIS} adresses de retour (--redirect-uri).`, 400, 'redirect_uri');
  const uris = [...new Set((list as string[]).map((x) => checkRedirectUri(ctx.config, x)))];
  // One host per partner: the pairwise subject's sector (a partner on several hosts registers each).
  if (new Set(uris.map((x) => new URL(x).host)).size > 1) throw new UserError('Adresses de retour : toutes sur le même hôte (enregistrez un service par hôte).', 400, 'redirect_uri');
  const clientId = `mp_${crypto.randomBytes(16).toString('base64url')}`;
  const clientSecret = crypto.randomBytes(32).toString('base64url');
  await ctx.db.transaction(async (tx) => {
    await tx.query('INSERT INTO mandates.partner (client_id, name, secret_hash, redirect_uris, created_by) VALUES ($1, $2, $3, $4, $5)', [clientId, name, sha256(clientSecret), uris, actorId]);
    await recordAudit(tx, { actorId, action: 'mandates.partner.create', objectType: 'mandates.partner', objectId: clientId, after: { name, redirectUris: uris } });
  });
  return { clientId, clientSecret };
}

export async function revokePartner(ctx: Pick<AppContext, 'db'>, actorId: string | null, clientId: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ client_id: string }>('UPDATE mandates.partner SET revoked_at = now() WHERE client_id = $1 AND revoked_at IS NULL RETURNING client_id', [clientId]);
    if (!rows[0]) throw new UserError(`Service partenaire inconnu ou déjà révoqué : ${clientId.slice(0, 80)}`, 404, 'client_id', 'not_found');
    // Its tokens and grants go with it.
    await tx.query("DELETE FROM mandates.oidc_payload WHERE payload->>'clientId' = $1", [clientId]);
    await recordAudit(tx, { actorId, action: 'mandates.partner.revoke', objectType: 'mandates.partner', objectId: clientId, before: { revoked: false }, after: { revoked: true } });
  });
}

/**
 * A new secret for a partner (the old one stops working at once; tokens already issued stay valid
 * until they expire, 10 minutes at most): returned ONCE, stored as its SHA-256. 404 when unknown or revoked.
 */
export async function rotatePartnerSecret(ctx: Pick<AppContext, 'db'>, actorId: string | null, clientId: string): Promise<string> {
  const secret = crypto.randomBytes(32).toString('base64url');
  await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ client_id: string }>('UPDATE mandates.partner SET secret_hash = $2 WHERE client_id = $1 AND revoked_at IS NULL RETURNING client_id', [clientId, sha256(secret)]);
    if (!rows[0]) throw new UserError(`Service partenaire inconnu ou désactivé : ${clientId.slice(0, 80)}`, 404, 'client_id', 'not_found');
    await recordAudit(tx, { actorId, action: 'mandates.partner.rotate_secret', objectType: 'mandates.partner', objectId: clientId });
  });
  return secret;
}

export async function listPartners(db: Queryable): Promise<Partner[]> {
  const { rows } = await db.query<{ client_id: string; name: string; redirect_uris: string[]; created_at: Date | string; revoked_at: Date | string | null }>(
    'SELECT client_id, name, redirect_uris, created_at, revoked_at FROM mandates.partner ORDER BY created_at, client_id',
  );
  return rows.map((r) => ({ clientId: r.client_id, name: r.name, redirectUris: r.redirect_uris, createdAt: new Date(r.created_at).toISOString(), revokedAt: r.revoked_at ? new Date(r.revoked_at).toISOString() : null }));
}

// ---------------------------------------------------------------------------------------------
// Storage adapter (one table, shared by every instance)

const PARTNER_ID = /^mp_[A-Za-z0-9_-]{16,64}$/;

function adapterClass(db: Queryable) {
  return class PgAdapter {
    constructor(readonly model: string) {}

    async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number) {
      const expires = expiresIn ? new Date(Date.now() + expiresIn * 1000).toISOString() : null;
      const str = (v: unknown) => (typeof v === 'string' ? v : null);
      await db.query(
        `INSERT INTO mandates.oidc_payload (model, id, payload, grant_id, uid, user_code, expires_at) VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7)
         ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid, user_code = excluded.user_code, expires_at = excluded.expires_at`,
        [this.model, id, JSON.stringify(payload), str(payload.grantId), str(payload.uid), str(payload.userCode), expires],
      );
    }

    async find(id: string): Promise<Record<string, unknown> | undefined> {
      if (typeof id !== 'string' || id.length > 200) return undefined;
      if (this.model === 'Client') return findClient(db, id);
      return this.findBy('id', id);
    }

    async findByUid(uid: string) {
      return this.findBy('uid', uid);
    }

    async findByUserCode(userCode: string) {
      return this.findBy('user_code', userCode);
    }

    private async findBy(column: 'id' | 'uid' | 'user_code', value: string) {
      const { rows } = await db.query<{ payload: Record<string, unknown>; consumed_at: Date | string | null }>(
        `SELECT payload, consumed_at FROM mandates.oidc_payload WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > now())`,
        [this.model, value],
      );
      const r = rows[0];
      if (!r) return undefined;
      return r.consumed_at ? { ...r.payload, consumed: Math.floor(new Date(r.consumed_at).getTime() / 1000) } : r.payload;
    }

    /** Consumes a code once, on every instance: the second (concurrent or replayed) use is refused and its grant revoked. */
    async consume(id: string) {
      const { rows } = await db.query<{ grant_id: string | null }>('UPDATE mandates.oidc_payload SET consumed_at = now() WHERE model = $1 AND id = $2 AND consumed_at IS NULL RETURNING grant_id', [this.model, id]);
      if (!rows[0]) {
        const { rows: g } = await db.query<{ grant_id: string | null }>('SELECT grant_id FROM mandates.oidc_payload WHERE model = $1 AND id = $2', [this.model, id]);
        if (g[0]?.grant_id) await this.revokeByGrantId(g[0].grant_id);
        throw new lib.errors.InvalidGrant('authorization code already consumed');
      }
    }

    async destroy(id: string) {
      await db.query('DELETE FROM mandates.oidc_payload WHERE model = $1 AND id = $2', [this.model, id]);
    }

    async revokeByGrantId(grantId: string) {
      await db.query('DELETE FROM mandates.oidc_payload WHERE grant_id = $1', [grantId]);
    }
  };
}

async function findClient(db: Queryable, id: string): Promise<Record<string, unknown> | undefined> {
  if (!PARTNER_ID.test(id)) return undefined;
  const { rows } = await db.query<{ name: string; secret_hash: string; redirect_uris: string[] }>('SELECT name, secret_hash, redirect_uris FROM mandates.partner WHERE client_id = $1 AND revoked_at IS NULL', [id]);
  const r = rows[0];
  if (!r) return undefined;
  return {
    client_id: id,
    client_name: r.name,
    // The SHA-256 of the secret: compareClientSecret (below) hashes what the partner presents.
    client_secret: r.secret_hash,
    redirect_uris: r.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
    subject_type: 'pairwise',
  };
}

/** Deletes the expired artefacts (codes, tokens, sessions...); run by the hourly lifecycle job. */
export async function purgeExpiredOidc(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>('WITH d AS (DELETE FROM mandates.oidc_payload WHERE expires_at <= now() RETURNING 1) SELECT count(*)::int AS n FROM d');
  return rows[0]?.n ?? 0;
}

// ---------------------------------------------------------------------------------------------
// The "account": one helper, one mandate, one démarche (never exposed: `sub` is derived)

interface UseKey {
  mandateId: string;
  procedure: string;
  helperId: string;
}
const useKey = (u: UseKey) => `${u.mandateId}|${u.procedure}|${u.helperId}`;
function parseUseKey(id: string): UseKey | null {
  const [mandateId, procedure, helperId, extra] = id.split('|');
  if (extra !== undefined || !mandateId || !procedure || !helperId || !service.isUuid(mandateId) || !isProcedure(procedure)) return null;
  return { mandateId, procedure, helperId };
}

/**
 * The claims for a use (`sub` is the use key: the provider replaces it by `subjectFor`, the
 * pairwise subject), or null when the check refuses NOW (revoked, expired, procedure withdrawn,
 * helper no longer active and trained in the structure, identity purged).
 */
export async function claimsFor(db: Queryable, accountId: string, now = new Date()): Promise<Record<string, string> | null> {
  const u = parseUseKey(accountId);
  if (!u) return null;
  const d = await service.checkAuthorisation(db, u.helperId, u.mandateId, u.procedure, now);
  if (!d.allowed) return null;
  const { rows } = await db.query<{ given_name: string | null; family_name: string | null; birth_date: string | null }>(
    'SELECT p.given_name, p.family_name, p.birth_date::text AS birth_date FROM mandates.mandate m JOIN mandates.person p ON p.id = m.person_id WHERE m.id = $1',
    [u.mandateId],
  );
  const p = rows[0];
  if (!p || !p.given_name || !p.family_name || !p.birth_date) return null;
  return { sub: accountId, given_name: p.given_name, family_name: p.family_name, birthdate: p.birth_date, demarche: u.procedure };
}

/** The installation's subject secret (created once, sealed under SECRET_KEY; survives its rotation). */
async function subjectSecret(db: Queryable, config: Config): Promise<string> {
  await db.query("INSERT INTO mandates.oidc_secret (name, sealed) VALUES ('subject', $1) ON CONFLICT (name) DO NOTHING", [seal(config, crypto.randomBytes(32).toString('base64url'))]);
  const { rows } = await db.query<{ sealed: string }>("SELECT sealed FROM mandates.oidc_secret WHERE name = 'subject'");
  const plain = unseal(config, rows[0]!.sealed);
  if (plain === null) throw new Error('mandates: the OIDC subject secret cannot be decrypted with SECRET_KEY (or SECRET_KEY_PREVIOUS): list the former SECRET_KEY in SECRET_KEY_PREVIOUS.');
  return plain;
}

/** The subject a partner sees: stable for a person (across mandates' démarches) at one partner, unlinkable between partners, meaningless alone. */
export async function subjectFor(db: Queryable, config: Config, accountId: string, clientId: string): Promise<string> {
  const u = parseUseKey(accountId);
  const { rows } = u ? await db.query<{ person_id: string }>('SELECT person_id FROM mandates.mandate WHERE id = $1', [u.mandateId]) : { rows: [] };
  if (!rows[0]) throw new Error('mandates: no subject for an unknown use');
  return crypto.createHmac('sha256', await subjectSecret(db, config)).update(`${clientId}\n${rows[0].person_id}`).digest('base64url');
}

// ---------------------------------------------------------------------------------------------
// The provider, mounted at /oidc

async function createProvider(ctx: AppContext): Promise<OidcProvider> {
  lib ??= (await import('oidc-provider')) as unknown as OidcLib;
  const { config } = ctx;
  const policy = lib.interactionPolicy.base();
  const { Check } = lib.interactionPolicy;
  // Every sign-in picks a mandate and a démarche again: an earlier choice in the same browser is never reused.
  policy.get('login').checks.add(new Check('mandate_each_time', 'un mandat et une démarche sont choisis à chaque connexion', (c) => (c.oidc.result && 'login' in c.oidc.result ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT)), 0);
  const cookieKeys = secretKeys(config).map((k) => derive(k, 'cookies').toString('base64url'));
  const provider = new lib.default(`${config.publicUrl}${MOUNT}`, {
    adapter: adapterClass(ctx.db),
    clients: [],
    jwks: { keys: await loadKeys(ctx.db, config) },
    findAccount: async (c: { oidc?: { client?: OidcClient } }, id: string) => {
      const clientId = c.oidc?.client?.clientId;
      if (!clientId) return undefined;
      const claims = await claimsFor(ctx.db, id);
      return claims ? { accountId: id, claims: async () => claims } : undefined;
    },
    claims: PARTNER_SCOPES,
    subjectTypes: ['pairwise'],
    pairwiseIdentifier: async (_c: unknown, accountId: string, client: OidcClient) => subjectFor(ctx.db, config, accountId, client.clientId),
    scopes: Object.keys(PARTNER_SCOPES),
    extraParams: {
      demarche(_c: unknown, value: unknown) {
        if (value !== undefined && (typeof value !== 'string' || !isProcedure(value))) throw new lib.errors.InvalidRequest(`unknown demarche (one of: ${Object.keys(ADMIN_PROCEDURES).join(', ')})`);
      },
    },
    responseTypes: ['code'],
    pkce: { required: () => true },
    conformIdTokenClaims: false,
    allowOmittingSingleRegisteredRedirectUri: false,
    issueRefreshToken: () => false,
    clientDefaults: { grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: 'RS256', subject_type: 'pairwise' },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    ttl: { ...TTL },
    cookies: { keys: cookieKeys, long: { httpOnly: true, sameSite: 'lax', signed: true }, short: { httpOnly: true, sameSite: 'lax', signed: true } },
    interactions: { url: (_c: unknown, interaction: { uid: string }) => `${INTERACTION_PATH}/${interaction.uid}`, policy },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: false },
    },
    renderError: async (c: { type: string; body: string }, out: Record<string, unknown>) => {
      c.type = 'html';
      c.body = layout({
        title: 'Connexion impossible',
        theme: config.theme,
        noindex: true,
        body: html`<h1>Connexion impossible</h1><p>Le service partenaire a envoyé une demande que Maillage ne peut pas accepter.</p>
<p>Erreur : <code>${String(out.error ?? 'server_error')}</code>${out.error_description ? html` — ${String(out.error_description)}` : ''}</p>
<p>Revenez au service partenaire et recommencez. Si le problème continue, signalez-le à ce service.</p>`,
      });
    },
  });
  provider.proxy = !!config.trustProxy;
  // Client secrets are stored as their SHA-256: hash what the partner presents, compare in constant time.
  provider.Client.prototype.compareClientSecret = function compare(this: { clientSecret?: string }, actual: string) {
    const expected = Buffer.from(this.clientSecret ?? '', 'utf8');
    const got = Buffer.from(sha256(typeof actual === 'string' ? actual : ''), 'utf8');
    return expected.length === got.length && crypto.timingSafeEqual(expected, got);
  };
  provider.on('server_error', (_c, err) => ctx.log.error({ err }, 'mandates: OIDC provider error'));
  return provider;
}

// ---------------------------------------------------------------------------------------------
// Pages: the helper chooses the person's mandate and the démarche

const STYLE = raw(`<style>
.mdt-form{max-width:44rem}.mdt-form fieldset{border:1px solid #bbb;margin:0 0 1rem;padding:.5rem .75rem}.mdt-form legend,.mdt-form label.l{font-weight:600}
.mdt-form fieldset label{display:block;padding:.35rem 0}.mdt-form select{display:block;padding:.5rem;font:inherit;max-width:30rem;width:100%}
.err{color:#b00020;font-weight:600}.err-summary{border:3px solid #b00020;padding:.75rem 1rem;margin:1rem 0}
.warn{border-left:6px solid #8a5a00;padding:.5rem 1rem;margin:1rem 0;background:#fff8e6}
button{font:inherit;padding:.5rem 1rem;min-height:2.5rem;margin-right:1rem}
</style>`);

function page(config: Config, reply: FastifyReply, status: number, title: string, body: Raw) {
  return reply.status(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(layout({ title, theme: config.theme, head: STYLE, body, noindex: true }));
}

const fmtDate = (iso: string) => new Date(iso).toLocaleDateString('fr-FR', { dateStyle: 'long', timeZone: 'Europe/Paris' });
const procLabel = (p: string) => (isProcedure(p) ? ADMIN_PROCEDURES[p] : p);

function formOf(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  const b = req.body;
  if (!b || typeof b !== 'object') return out;
  for (const [k, v] of Object.entries(b as Record<string, unknown>)) if (typeof v === 'string') out[k] = v;
  return out;
}

export function registerProvider(app: App, ctx: AppContext): void {
  let provider: OidcProvider | null = null;
  // Built at the first request (the issuer is PUBLIC_URL as configured by then; the first
  // instance to serve creates the signing key).
  let building: Promise<void> | null = null;
  const ready = () =>
    (building ??= createProvider(ctx).then(
      (p) => {
        provider = p;
      },
      (err: Error) => {
        building = null;
        throw err;
      },
    ));

  // The protocol endpoints: oidc-provider reads its own request bodies (no parser in this scope).
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    const handle = async (req: FastifyRequest, reply: FastifyReply) => {
      await ready();
      const raw = req.raw as IncomingMessage & { originalUrl?: string };
      reply.hijack();
      raw.originalUrl = raw.url;
      raw.url = raw.url!.slice(MOUNT.length) || '/';
      // An authorization request (and its resumption) never sees an earlier provider session:
      // every sign-in is for one person and one démarche, chosen again; an earlier one in this
      // browser is never reused.
      if (/^\/auth(\/|\?|$)/.test(raw.url) && raw.headers.cookie) {
        raw.headers.cookie = raw.headers.cookie.split(';').filter((c) => !/^\s*_session(\.|=)/.test(c)).join(';');
      }
      provider!.callback()(raw, reply.raw);
    };
    scope.all(`${MOUNT}/*`, handle);
  });

  const guard = { preHandler: requirePermission('mandates.act') };
  const guardPost = { ...guard, preValidation: app.csrfProtection };

  /** The interaction behind the cookie, for this uid; null when expired or unknown. */
  async function interaction(req: FastifyRequest, reply: FastifyReply): Promise<{ details: OidcInteraction; client: OidcClient } | null> {
    await ready();
    try {
      const details = await provider!.interactionDetails(req.raw, reply.raw);
      if (details.uid !== (req.params as { uid: string }).uid) return null;
      const client = await provider!.Client.find(String(details.params.client_id ?? ''));
      return client ? { details, client } : null;
    } catch {
      return null;
    }
  }

  const expired = (reply: FastifyReply) =>
    page(ctx.config, reply, 400, 'Demande expirée', html`<h1>Demande de connexion expirée</h1><p>Cette demande de connexion n’existe plus (elle dure ${TTL.Interaction / 60} minutes) ou a déjà servi. Revenez au service partenaire et recommencez.</p>`);

  async function choices(user: CurrentUser, procedure: string | null) {
    const trained = (await service.helperMemberships(ctx.db, user.id)).filter((h) => h.active && h.trainedOn);
    const mandates = trained.length ? await service.listMandates(ctx.db, trained.map((h) => h.structureId), { status: 'active', limit: 500 }) : [];
    return mandates
      .map((m) => ({ ...m, open: m.procedures.filter((p) => !p.revokedAt).map((p) => p.procedure) }))
      .filter((m) => m.person && m.open.length && (!procedure || m.open.includes(procedure)));
  }

  async function choosePage(req: FastifyRequest, reply: FastifyReply, status: number, it: { details: OidcInteraction; client: OidcClient }, error: { field: string; message: string } | null) {
    const user = await signedInUser(req);
    const uid = it.details.uid;
    const fixed = typeof it.details.params.demarche === 'string' ? it.details.params.demarche : null;
    const partner = it.client.clientName ?? it.client.clientId;
    if (!user.totpEnabled) {
      return page(ctx.config, reply, 403, 'Double authentification requise', html`<h1>Double authentification requise</h1>
<p>Pour vous connecter à « ${partner} » pour une personne, activez d’abord la double authentification de votre compte.</p>
<p><a href="/compte/2fa">Activer la double authentification</a>, puis revenez au service partenaire.</p>`);
    }
    const list = await choices(user, fixed);
    // The form's answer redirects (through /oidc) to the partner's registered redirect URI:
    // browsers apply form-action to those redirects, so the partner's origin is allowed here.
    let partnerOrigin = '';
    try {
      partnerOrigin = ` ${new URL(String(it.details.params.redirect_uri)).origin}`;
    } catch {
      partnerOrigin = '';
    }
    reply.header('Content-Security-Policy', `default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'${partnerOrigin}; frame-ancestors 'self'`);
    const body = html`<h1>Se connecter à « ${partner} » pour une personne</h1>
${error ? html`<div class="err-summary" role="alert"><h2>Il y a un problème</h2><p><a href="#f-${error.field}">${error.message}</a></p></div>` : ''}
<p>Le service « ${partner} » recevra le nom, le prénom et la date de naissance de la personne choisie, et la démarche choisie. Rien d’autre : ni les autres démarches du mandat, ni votre identité.</p>
${fixed ? html`<p>Démarche demandée par le service : <strong>${procLabel(fixed)}</strong>.</p>` : ''}
${list.length
    ? html`<form method="post" action="${INTERACTION_PATH}/${uid}" class="mdt-form">
<input type="hidden" name="_csrf" value="${reply.generateCsrf()}">
<fieldset id="f-mandate"><legend>Personne (mandat en cours de votre structure)</legend>
${list.map((m, i) => html`<label><input type="radio" name="mandate" value="${m.id}"${i === 0 && list.length === 1 ? raw(' checked') : ''}> ${m.person!.givenName} ${m.person!.familyName} — mandat ${m.reference}, jusqu’au ${fmtDate(m.expiresAt)} (${m.open.map(procLabel).join(' ; ')})</label>`)}
</fieldset>
${fixed
    ? html`<input type="hidden" name="procedure" value="${fixed}">`
    : html`<div id="f-procedure"><label class="l" for="procedure">Démarche</label><select id="procedure" name="procedure">${Object.entries(ADMIN_PROCEDURES).map(([k, l]) => html`<option value="${k}">${l}</option>`)}</select></div>`}
<p><button type="submit" name="action" value="choisir">Se connecter pour cette personne</button><button type="submit" name="action" value="annuler">Annuler</button></p>
</form>`
    : html`<p class="warn">Aucun mandat en cours de votre structure ne couvre ${fixed ? `la démarche « ${procLabel(fixed)} »` : 'une démarche'} : la personne doit d’abord vous donner un mandat (<a href="/mandats/nouveau">créer un mandat</a>).</p>
<form method="post" action="${INTERACTION_PATH}/${uid}"><input type="hidden" name="_csrf" value="${reply.generateCsrf()}"><button type="submit" name="action" value="annuler">Revenir au service partenaire</button></form>`}`;
    return page(ctx.config, reply, status, 'Connexion pour une personne', body);
  }

  app.get(`${INTERACTION_PATH}/:uid`, guard, async (req, reply) => {
    const it = await interaction(req, reply);
    if (!it) return expired(reply);
    return choosePage(req, reply, 200, it, null);
  });

  app.post(`${INTERACTION_PATH}/:uid`, guardPost, async (req, reply) => {
    const it = await interaction(req, reply);
    if (!it) return expired(reply);
    const user = await signedInUser(req);
    const v = formOf(req);
    if (v.action === 'annuler') {
      const to = await provider!.interactionResult(req.raw, reply.raw, { error: 'access_denied', error_description: 'the helper cancelled' }, { mergeWithLastSubmission: false });
      return reply.redirect(to, 303);
    }
    if (!user.totpEnabled) return choosePage(req, reply, 403, it, null);
    const fixed = typeof it.details.params.demarche === 'string' ? it.details.params.demarche : null;
    const procedure = v.procedure ?? '';
    const mandateId = v.mandate ?? '';
    if (!isProcedure(procedure)) return choosePage(req, reply, 422, it, { field: 'procedure', message: 'Choisissez une démarche de la liste.' });
    if (fixed && procedure !== fixed) return choosePage(req, reply, 422, it, { field: 'procedure', message: `Le service a demandé la démarche « ${procLabel(fixed)} » : une autre démarche ne peut pas être choisie.` });
    if (!service.isUuid(mandateId)) return choosePage(req, reply, 422, it, { field: 'mandate', message: 'Choisissez la personne (son mandat).' });
    // THE check, under locks, and the journal entry, in one transaction: a refusal writes nothing.
    try {
      await service.recordAct(ctx, user.id, mandateId, procedure, { partner: { clientId: it.client.clientId, name: it.client.clientName ?? it.client.clientId } });
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      return choosePage(req, reply, e.statusCode === 404 ? 404 : e.statusCode, it, { field: e.field === 'procedure' ? 'procedure' : 'mandate', message: e.message });
    }
    const accountId = useKey({ mandateId, procedure, helperId: user.id });
    const grant = new provider!.Grant({ accountId, clientId: it.client.clientId });
    const requested = new Set(String(it.details.params.scope ?? '').split(' '));
    grant.addOIDCScope(Object.keys(PARTNER_SCOPES).filter((s) => requested.has(s)).join(' '));
    const grantId = await grant.save();
    const to = await provider!.interactionResult(req.raw, reply.raw, { login: { accountId, remember: false }, consent: { grantId } }, { mergeWithLastSubmission: false });
    return reply.redirect(to, 303);
  });
}

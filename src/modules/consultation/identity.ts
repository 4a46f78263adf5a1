/**
 * « Qui peut voter » with an OpenID Connect identity provider configured per process (issue #21):
 * FranceConnect, or a région's own provider. Staff set the issuer, client id and secret (sealed
 * under SECRET_KEY, never shown back, never logged, never exported), the scopes, an optional claim
 * the provider must give (a birth date for the age limit, a postal code for residence) and what
 * needs a check (voting at least; proposals, supports, comments, surveys as they choose).
 *
 * Relying party (`openid-client`): discovery, authorization code with PKCE, state and nonce; the
 * state is bound to the signed-in account and the process, lives 10 minutes and serves once (only
 * its hash is stored); the id_token is verified by the library (issuer, audience, nonce, expiry,
 * signature against the provider's published keys).
 *
 * One person, one vote: the provider's `sub` is kept only as a keyed hash (HMAC-SHA256 under a
 * random key of the process, itself sealed under SECRET_KEY), unique per process, and bound to ONE
 * account for good: a second account with the same `sub` is refused, and so is another identity on
 * an account already bound. The unique constraints decide when two callbacks race.
 */
import crypto from 'node:crypto';
import * as client from 'openid-client';
import type { AppContext } from '../../platform/module.ts';
import type { Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { UserError } from '../../platform/http/errors.ts';
import { openSealedSecret, sealSecret } from '../accounts/index.ts';
import { communesByPostalCode } from '../territories/index.ts';
import { IDENTITY_USES, REQUIRED_CLAIMS, ValidationFailed, ageOn, type FieldError, type IdentityUse, type RequiredClaim } from './model.ts';
import { getProcessById, type Process } from './service.ts';

/** The callback of every process (one redirect URI to register at the provider). */
export const CALLBACK_PATH = '/concertations/identite/retour';
const FLOW_MINUTES = 10;

type Ctx = Pick<AppContext, 'db' | 'config' | 'log'>;

export const callbackUrl = (ctx: Pick<AppContext, 'config'>) => `${ctx.config.publicUrl}${CALLBACK_PATH}`;
const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('base64url');

// ---- staff settings ------------------------------------------------------------------------------

export interface IdentityForm {
  label: string;
  issuer: string;
  clientId: string;
  /** null: keep the secret already sealed. */
  clientSecret: string | null;
  scopes: string;
  requiredClaim: RequiredClaim;
  requiredFor: IdentityUse[];
}

const PRINTABLE = /^[\x21-\x7e]+$/;
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,60}$/;

/** Reads the staff form; every faulty field named (ValidationFailed). `hasSecret`: a secret is already sealed. */
export function parseIdentityForm(v: Record<string, unknown>, hasSecret: boolean, production: boolean): IdentityForm {
  const s = (k: string) => (Object.hasOwn(v, k) && typeof v[k] === 'string' ? (v[k] as string) : '');
  const errors: FieldError[] = [];
  const label = s('label').trim();
  if (!label || [...label].length > 80 || /[\p{Cc}\p{Cf}]/u.test(label)) errors.push({ field: 'label', message: 'Nom du fournisseur : de 1 à 80 caractères, par exemple « FranceConnect ».' });
  const issuer = s('issuer').trim();
  let url: URL | null = null;
  try {
    url = issuer.length <= 300 ? new URL(issuer) : null;
  } catch {
    url = null;
  }
  if (!url || url.username || url.password || url.search || url.hash || !(url.protocol === 'https:' || (!production && url.protocol === 'http:'))) {
    errors.push({ field: 'issuer', message: `Adresse du fournisseur (issuer) : une adresse ${production ? 'https://' : 'https:// (ou http:// hors production)'} sans identifiant, paramètres ni ancre, de 300 caractères au plus.` });
  }
  const clientId = s('clientId').trim();
  if (!clientId || clientId.length > 200 || !PRINTABLE.test(clientId)) errors.push({ field: 'clientId', message: 'Identifiant client : de 1 à 200 caractères visibles, sans espace.' });
  const secret = s('clientSecret').trim();
  if (!secret && !hasSecret) errors.push({ field: 'clientSecret', message: 'Secret client : obligatoire pour un nouveau fournisseur.' });
  else if (secret && (secret.length > 500 || !/^[\x20-\x7e]+$/.test(secret))) errors.push({ field: 'clientSecret', message: 'Secret client : de 1 à 500 caractères ASCII visibles.' });
  const scopeList = [...new Set(s('scopes').trim().split(/\s+/).filter(Boolean))];
  if (!scopeList.includes('openid') || scopeList.length > 20 || !scopeList.every((x) => SCOPE.test(x))) errors.push({ field: 'scopes', message: 'Portées (scopes) : séparées par des espaces, « openid » compris, 20 au plus.' });
  const claim = s('requiredClaim') || 'none';
  if (!(REQUIRED_CLAIMS as readonly string[]).includes(claim)) errors.push({ field: 'requiredClaim', message: 'Donnée exigée : choisissez dans la liste.' });
  const requiredFor = IDENTITY_USES.filter((u) => s(`use_${u}`) !== '');
  if (errors.length) throw new ValidationFailed(errors);
  return { label, issuer, clientId, clientSecret: secret || null, scopes: scopeList.join(' '), requiredClaim: claim as RequiredClaim, requiredFor };
}

/** Whether a provider (and so a sealed secret) is configured for the process. */
export async function hasProvider(db: Queryable, processId: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM consultation.identity_provider WHERE process_id = $1', [processId])).rows.length > 0;
}

/** Saves the process's provider (secret sealed, kept when not retyped), audited without any secret. */
export async function saveIdentityProvider(ctx: Ctx, actorId: string, p: Process, f: IdentityForm): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const cur = (await tx.query<{ label: string; issuer: string; client_id: string; scopes: string; required_claim: string; required_for: string[]; client_secret_sealed: string; subject_key_sealed: string }>(
      'SELECT * FROM consultation.identity_provider WHERE process_id = $1 FOR UPDATE', [p.id])).rows[0];
    const anyCheck = async () => (await tx.query('SELECT 1 FROM consultation.identity_check WHERE process_id = $1 LIMIT 1', [p.id])).rows.length > 0;
    if (!cur && f.clientSecret === null) throw new ValidationFailed([{ field: 'clientSecret', message: 'Secret client : obligatoire pour un nouveau fournisseur.' }]);
    // Another provider would mean other subjects: one person could then bind a second account and vote twice.
    if (cur && cur.issuer !== f.issuer && (await anyCheck())) {
      throw new UserError('Adresse du fournisseur (issuer) : elle ne peut plus changer, des identités ont déjà été vérifiées avec ce fournisseur pour cette concertation.', 409, 'issuer', 'issuer_frozen');
    }
    // So would another client at the same provider: FranceConnect gives each client its own (pairwise) subjects.
    if (cur && cur.client_id !== f.clientId && (await anyCheck())) {
      throw new UserError('Identifiant client : il ne peut plus changer, des identités ont déjà été vérifiées avec ce client pour cette concertation (le fournisseur donne à chaque client ses propres identifiants de personnes).', 409, 'clientId', 'client_frozen');
    }
    const secret = f.clientSecret ?? openSealedSecret(ctx.config, cur!.client_secret_sealed);
    if (secret === null) throw new ValidationFailed([{ field: 'clientSecret', message: 'Secret client : celui qui est enregistré ne s’ouvre plus avec SECRET_KEY ; saisissez-le de nouveau.' }]);
    const secretSealed = sealSecret(ctx.config, secret);
    // The subjects' key is kept for good (the hashes already stored depend on it), re-sealed under the
    // current SECRET_KEY: saving the form is how a process's settings follow a SECRET_KEY rotation.
    const openedKey = cur ? openSealedSecret(ctx.config, cur.subject_key_sealed) : null;
    if (cur && openedKey === null && (await anyCheck())) {
      throw new UserError('Les réglages enregistrés ne s’ouvrent plus avec SECRET_KEY : indiquez l’ancienne clé dans SECRET_KEY_PREVIOUS, redémarrez, puis enregistrez de nouveau.', 503, null, 'sealed_key_lost');
    }
    const subjectKey = sealSecret(ctx.config, openedKey ?? crypto.randomBytes(32).toString('base64url'));
    await tx.query(
      `INSERT INTO consultation.identity_provider (process_id, label, issuer, client_id, client_secret_sealed, subject_key_sealed, scopes, required_claim, required_for, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text[], now())
       ON CONFLICT (process_id) DO UPDATE SET label = EXCLUDED.label, issuer = EXCLUDED.issuer, client_id = EXCLUDED.client_id, client_secret_sealed = EXCLUDED.client_secret_sealed, subject_key_sealed = EXCLUDED.subject_key_sealed,
         scopes = EXCLUDED.scopes, required_claim = EXCLUDED.required_claim, required_for = EXCLUDED.required_for, updated_at = now()`,
      [p.id, f.label, f.issuer, f.clientId, secretSealed, subjectKey, f.scopes, f.requiredClaim, f.requiredFor],
    );
    const view = (x: { label: string; issuer: string; clientId: string; scopes: string; requiredClaim: string; requiredFor: string[] }) =>
      ({ label: x.label, issuer: x.issuer, clientId: x.clientId, scopes: x.scopes, requiredClaim: x.requiredClaim, requiredFor: x.requiredFor });
    await recordAudit(tx, {
      actorId, action: 'consultation.identity.configure', objectType: 'consultation.process', objectId: p.id,
      before: cur ? view({ label: cur.label, issuer: cur.issuer, clientId: cur.client_id, scopes: cur.scopes, requiredClaim: cur.required_claim, requiredFor: cur.required_for }) : null,
      after: { ...view(f), secretChanged: f.clientSecret !== null },
    });
  });
}

// ---- relying party ---------------------------------------------------------------------------------

interface ProviderSecrets {
  label: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  subjectKey: string;
  scopes: string;
  requiredClaim: RequiredClaim;
}

async function providerSecrets(ctx: Ctx, processId: string): Promise<ProviderSecrets> {
  const r = (await ctx.db.query<{ label: string; issuer: string; client_id: string; client_secret_sealed: string; subject_key_sealed: string; scopes: string; required_claim: RequiredClaim }>(
    'SELECT label, issuer, client_id, client_secret_sealed, subject_key_sealed, scopes, required_claim FROM consultation.identity_provider WHERE process_id = $1', [processId])).rows[0];
  if (!r) throw new UserError('Cette concertation ne demande pas de vérification d’identité.', 404, null, 'no_provider');
  const clientSecret = openSealedSecret(ctx.config, r.client_secret_sealed);
  const subjectKey = openSealedSecret(ctx.config, r.subject_key_sealed);
  if (clientSecret === null || subjectKey === null) {
    ctx.log.error({ process: processId }, 'consultation: the identity provider settings cannot be opened with SECRET_KEY (or SECRET_KEY_PREVIOUS)');
    throw new UserError('La vérification d’identité est indisponible pour le moment (configuration à reprendre par l’équipe).', 503, null, 'provider_unavailable');
  }
  return { label: r.label, issuer: r.issuer, clientId: r.client_id, clientSecret, subjectKey, scopes: r.scopes, requiredClaim: r.required_claim };
}

/** The keyed hash of a subject: the provider's `sub` is never stored in clear. */
export const subjectHash = (subjectKey: string, issuer: string, sub: string) => crypto.createHmac('sha256', subjectKey).update(`${issuer}\n${sub}`).digest('base64url');

/** Discovery, cached per (issuer, client, secret); a failure is not cached. */
const discoveries = new Map<string, Promise<client.Configuration>>();
function discover(ctx: Ctx, s: ProviderSecrets): Promise<client.Configuration> {
  const key = sha256(`${s.issuer}\n${s.clientId}\n${s.clientSecret}`);
  let found = discoveries.get(key);
  if (!found) {
    const insecure = ctx.config.env !== 'production' && s.issuer.startsWith('http:');
    found = client
      .discovery(new URL(s.issuer), s.clientId, { client_secret: s.clientSecret }, client.ClientSecretPost(s.clientSecret), {
        // The id_token's signature is checked against the provider's keys (not only trusted from TLS).
        execute: [client.enableNonRepudiationChecks, ...(insecure ? [client.allowInsecureRequests] : [])],
        timeout: 10,
      })
      .catch((err: Error) => {
        discoveries.delete(key);
        throw err;
      });
    if (discoveries.size >= 100) discoveries.delete(discoveries.keys().next().value!);
    discoveries.set(key, found);
  }
  return found;
}

/** Where a check may send the person back: a page of the process only. */
export function safeReturn(p: Pick<Process, 'slug'>, retour: unknown): string {
  const home = `/concertations/${p.slug}`;
  return typeof retour === 'string' && retour.length <= 300 && (retour === home || retour.startsWith(`${home}/`)) && /^[\w\-/]+$/.test(retour) ? retour : home;
}

/** Starts a check for this account and process; returns the provider's authorization URL. */
export async function startCheck(ctx: Ctx, p: Process, userId: string, returnTo: string, now = new Date()): Promise<URL> {
  const s = await providerSecrets(ctx, p.id);
  let config: client.Configuration;
  try {
    config = await discover(ctx, s);
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message, process: p.id }, 'consultation: OpenID Connect discovery failed');
    throw new UserError(`${s.label} ne répond pas pour le moment. Réessayez plus tard.`, 502, null, 'provider_unavailable');
  }
  const state = client.randomState();
  const nonce = client.randomNonce();
  const verifier = client.randomPKCECodeVerifier();
  await ctx.db.transaction(async (tx) => {
    // Flows are short-lived: the old ones (used or not) go.
    await tx.query('DELETE FROM consultation.identity_flow WHERE created_at < $1', [new Date(now.getTime() - 24 * 3600_000).toISOString()]);
    await tx.query(
      'INSERT INTO consultation.identity_flow (id, process_id, user_id, state_hash, nonce, code_verifier, return_to, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [crypto.randomUUID(), p.id, userId, sha256(state), nonce, verifier, safeReturn(p, returnTo), now.toISOString()],
    );
  });
  return client.buildAuthorizationUrl(config, {
    redirect_uri: callbackUrl(ctx),
    scope: s.scopes,
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
}

/** The birth date as the provider gives it (YYYY-MM-DD, a real past date), or null. */
function birthDateOf(v: unknown, now: Date): string | null {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v)) return null;
  const d = new Date(`${v}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === v && d.getTime() < now.getTime() && d.getUTCFullYear() >= 1900 ? v : null;
}
function postalCodeOf(v: unknown): string | null {
  const pc = v && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, 'postal_code') ? (v as { postal_code: unknown }).postal_code : null;
  return typeof pc === 'string' && /^\d{5}$/.test(pc.trim()) ? pc.trim() : null;
}

/**
 * The provider's answer: the flow of THIS account with this state, unused and recent; the code
 * exchanged (PKCE, state, nonce, id_token verified by openid-client); the required claim checked;
 * the subject bound to the account for the process, the flow used up and the check audited in one
 * transaction. Any refusal: a UserError, and nothing written.
 */
/** Callbacks being answered in this process, by state hash. */
const inFlight = new Map<string, Promise<unknown>>();

/**
 * The callback, one at a time per state in this process: a reload or a double click sent while the
 * first is answered waits for it, then finds the check used, instead of replaying the code at the
 * provider (which revokes the grant on a replay, and with it the first request's check).
 */
export async function finishCheck(ctx: Ctx, userId: string, query: URLSearchParams, now = new Date()): Promise<{ process: Process; returnTo: string }> {
  const state = query.get('state');
  const key = state && state.length <= 200 ? sha256(state) : null;
  while (key && inFlight.has(key)) await inFlight.get(key)!.catch(() => undefined);
  const run = finishCheckOnce(ctx, userId, query, now);
  if (key) {
    inFlight.set(key, run);
    run.then(
      () => inFlight.delete(key),
      () => inFlight.delete(key),
    );
  }
  return run;
}

async function finishCheckOnce(ctx: Ctx, userId: string, query: URLSearchParams, now: Date): Promise<{ process: Process; returnTo: string }> {
  const refused = (msg: string, status = 400, code = 'identity_refused') => new UserError(msg, status, null, code);
  const state = query.get('state');
  if (!state || state.length > 200) throw refused('La vérification d’identité a expiré ou n’a pas été commencée ici. Recommencez.');
  const flow = (await ctx.db.query<{ id: string; process_id: string; nonce: string; code_verifier: string; return_to: string }>(
    'SELECT id, process_id, nonce, code_verifier, return_to FROM consultation.identity_flow WHERE state_hash = $1 AND user_id = $2 AND used_at IS NULL AND created_at > $3',
    [sha256(state), userId, new Date(now.getTime() - FLOW_MINUTES * 60_000).toISOString()],
  )).rows[0];
  if (!flow) throw refused('Cette vérification d’identité a expiré, a déjà servi ou a été commencée avec un autre compte. Recommencez.');
  const p = await getProcessById(ctx.db, flow.process_id);
  if (!p) throw refused('Concertation introuvable.', 404);
  const s = await providerSecrets(ctx, p.id);
  if (query.get('error')) throw refused(`${s.label} n’a pas confirmé votre identité (${String(query.get('error')).slice(0, 60)}). Recommencez si vous le souhaitez.`);
  let sub: string;
  let claims: Record<string, unknown>;
  try {
    const config = await discover(ctx, s);
    const current = new URL(callbackUrl(ctx));
    current.search = query.toString();
    const tokens = await client.authorizationCodeGrant(config, current, { pkceCodeVerifier: flow.code_verifier, expectedState: state, expectedNonce: flow.nonce, idTokenExpected: true });
    const idClaims = tokens.claims()!;
    sub = idClaims.sub;
    claims = { ...idClaims };
    const wanted = s.requiredClaim === 'birthdate' ? 'birthdate' : s.requiredClaim === 'postal_code' ? 'address' : null;
    if (wanted && claims[wanted] === undefined) claims = { ...(await client.fetchUserInfo(config, tokens.access_token, sub)), ...claims };
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message, process: p.id }, 'consultation: OpenID Connect callback refused');
    throw refused(`La réponse de ${s.label} n’a pas pu être vérifiée. Recommencez la vérification d’identité.`);
  }
  // The claim the process requires, checked now and not stored (only what it established).
  let minAgeChecked: number | null = null;
  let departement: string | null = null;
  if (s.requiredClaim === 'birthdate') {
    const birth = birthDateOf(claims.birthdate, now);
    if (!birth) throw refused(`${s.label} n’a pas donné votre date de naissance, que cette concertation demande.`, 403, 'claim_missing');
    if (p.minAge !== null) {
      if (ageOn(birth, now) < p.minAge) throw refused(`Cette concertation est ouverte à partir de ${p.minAge} ans.`, 403, 'too_young');
      minAgeChecked = p.minAge;
    }
  } else if (s.requiredClaim === 'postal_code') {
    const pc = postalCodeOf(claims.address);
    if (!pc) throw refused(`${s.label} n’a pas donné le code postal de votre adresse, que cette concertation demande.`, 403, 'claim_missing');
    const inside = (await communesByPostalCode(ctx.db, pc)).filter((c) => c.region === p.region && (!p.departement || c.departement === p.departement));
    if (!inside.length) throw refused(`Cette concertation est réservée aux habitants de son territoire ; l’adresse donnée par ${s.label} n’en fait pas partie.`, 403, 'outside_territory');
    departement = inside[0]!.departement;
  }
  const subHash = subjectHash(s.subjectKey, s.issuer, sub);
  await ctx.db.transaction(async (tx) => {
    const used = await tx.query('UPDATE consultation.identity_flow SET used_at = $2 WHERE id = $1 AND used_at IS NULL RETURNING id', [flow.id, now.toISOString()]);
    if (!used.rows.length) throw refused('Cette vérification d’identité a déjà servi. Recommencez.');
    const ins = await tx.query(
      `INSERT INTO consultation.identity_check (process_id, user_id, issuer, sub_hash, min_age_checked, departement, checked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT DO NOTHING RETURNING user_id`,
      [p.id, userId, s.issuer, subHash, minAgeChecked, departement, now.toISOString()],
    );
    if (!ins.rows.length) {
      // Who holds it: this account (the same identity: nothing to do; another one: refused), or another account.
      const mine = (await tx.query<{ sub_hash: string }>('SELECT sub_hash FROM consultation.identity_check WHERE process_id = $1 AND user_id = $2', [p.id, userId])).rows[0];
      if (!mine) throw refused('Cette identité a déjà été vérifiée avec un autre compte pour cette concertation : une personne ne participe qu’avec un seul compte.', 409, 'identity_taken');
      if (mine.sub_hash !== subHash) throw refused('Votre compte est déjà lié à une autre identité pour cette concertation ; elle ne peut pas être remplacée.', 409, 'account_bound');
      return;
    }
    await recordAudit(tx, { actorId: userId, action: 'consultation.identity.check', objectType: 'consultation.process', objectId: p.id, after: { issuer: s.issuer, claim: s.requiredClaim } });
  });
  return { process: p, returnTo: flow.return_to };
}

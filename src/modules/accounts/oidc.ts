/**
 * Sign-in through an OpenID Connect provider (ProConnect or any other; OIDC_ISSUER, OIDC_CLIENT_ID,
 * OIDC_CLIENT_SECRET): authorization code flow with PKCE, state and nonce, bound to the browser by
 * a cookie. Accounts stay invitation-only: an identity signs in to the account already linked to
 * it, or is linked once to the active account holding the same, provider-verified, e-mail address.
 */
import type { FastifyReply } from 'fastify';
import * as client from 'openid-client';
import type { App } from '../../platform/http/server.ts';
import { html } from '../../platform/html/html.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { randomToken, sha256 } from './crypto.ts';
import { safeReturnTo } from './model.ts';
import { findUserByEmail, getUser, type AccountsDeps, type User } from './service.ts';
import { signIn } from './pages/auth.ts';
import { renderPage } from './pages/ui.ts';
import { queryValue } from './pages/forms.ts';

const COOKIE = 'maillage_oidc';
const STATE_MINUTES = 10;

export function registerOidc(app: App, deps: AccountsDeps): void {
  const settings = deps.config.oidc;
  if (!settings) return;
  let configuration: Promise<client.Configuration> | null = null;
  const discover = () => {
    configuration ??= client
      .discovery(new URL(settings.issuer), settings.clientId, { client_secret: settings.clientSecret }, client.ClientSecretPost(settings.clientSecret), {
        // Plain-HTTP issuers only outside production (a provider started on a loopback port in tests).
        execute: deps.config.env !== 'production' && settings.issuer.startsWith('http:') ? [client.allowInsecureRequests] : [],
      })
      .catch((err: Error) => {
        configuration = null;
        throw err;
      });
    return configuration;
  };
  const redirectUri = `${deps.config.publicUrl}/compte/oidc/retour`;
  const cookieOptions = { path: '/compte/oidc', httpOnly: true, sameSite: 'lax' as const, secure: deps.config.env === 'production' };

  const refuse = (reply: FastifyReply, status: number, message: string) =>
    reply
      .status(status)
      .type('text/html; charset=utf-8')
      .send(renderPage(deps, { title: 'Connexion impossible', body: html`<h1>Connexion impossible</h1><p>${message}</p><p><a href="/compte/connexion">Retour à la connexion</a></p>` }));

  app.get('/compte/oidc', { config: { rateLimit: { max: 30, timeWindow: '1 minute' } } }, async (req, reply) => {
    let config: client.Configuration;
    try {
      config = await discover();
    } catch (err) {
      req.log.error({ err: (err as Error).message }, 'OIDC discovery failed');
      return refuse(reply, 502, `${settings.label} ne répond pas pour le moment. Réessayez plus tard ou connectez-vous avec votre mot de passe.`);
    }
    const browser = randomToken();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const verifier = client.randomPKCECodeVerifier();
    await deps.db.query(`DELETE FROM accounts.oidc_state WHERE created_at < now() - make_interval(mins => $1)`, [STATE_MINUTES]);
    await deps.db.query('INSERT INTO accounts.oidc_state (browser_hash, state, nonce, code_verifier, return_to) VALUES ($1, $2, $3, $4, $5)', [
      sha256(browser),
      state,
      nonce,
      verifier,
      safeReturnTo(queryValue(req, 'retour')),
    ]);
    reply.setCookie(COOKIE, browser, { ...cookieOptions, maxAge: STATE_MINUTES * 60 });
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid email profile',
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    return reply.redirect(url.href, 303);
  });

  app.get('/compte/oidc/retour', { logLevel: 'warn', config: { rateLimit: { max: 30, timeWindow: '1 minute' } } }, async (req, reply) => {
    const browser = req.cookies[COOKIE];
    reply.clearCookie(COOKIE, cookieOptions);
    if (!browser) return refuse(reply, 400, 'La connexion a expiré ou a été ouverte dans un autre navigateur. Recommencez.');
    const { rows } = await deps.db.query<{ state: string; nonce: string; code_verifier: string; return_to: string | null }>(
      `DELETE FROM accounts.oidc_state WHERE browser_hash = $1 AND created_at > now() - make_interval(mins => $2) RETURNING state, nonce, code_verifier, return_to`,
      [sha256(browser), STATE_MINUTES],
    );
    const pending = rows[0];
    if (!pending) return refuse(reply, 400, 'La connexion a expiré. Recommencez.');
    if (queryValue(req, 'error')) return refuse(reply, 400, `${settings.label} n’a pas confirmé votre identité.`);
    let subject: string;
    let email: string | null = null;
    let emailVerified = false;
    try {
      const config = await discover();
      const tokens = await client.authorizationCodeGrant(config, new URL(`${deps.config.publicUrl}${req.url}`), {
        pkceCodeVerifier: pending.code_verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims()!;
      subject = claims.sub;
      const info = await client.fetchUserInfo(config, tokens.access_token, subject);
      email = (typeof info.email === 'string' ? info.email : typeof claims.email === 'string' ? claims.email : null) ?? null;
      // Only an address the provider says it verified may link an identity to an account.
      emailVerified = (info.email_verified ?? claims.email_verified) === true;
    } catch (err) {
      req.log.warn({ err: (err as Error).message }, 'OIDC callback refused');
      return refuse(reply, 400, `La réponse de ${settings.label} n’a pas pu être vérifiée. Recommencez.`);
    }
    const issuer = settings.issuer;
    let user: User | null = null;
    const linked = await deps.db.query<{ user_id: string }>('SELECT user_id FROM accounts.identity WHERE issuer = $1 AND subject = $2', [issuer, subject]);
    if (linked.rows[0]) user = await getUser(deps.db, linked.rows[0].user_id);
    else if (email && emailVerified) {
      const candidate = await findUserByEmail(deps.db, email);
      if (candidate && candidate.status === 'active') {
        await deps.db.transaction(async (tx) => {
          await tx.query('INSERT INTO accounts.identity (issuer, subject, user_id) VALUES ($1, $2, $3)', [issuer, subject, candidate.id]);
          await recordAudit(tx, { actorId: candidate.id, action: 'accounts.identity.link', objectType: 'user', objectId: candidate.id, after: { issuer } });
        });
        user = candidate;
      }
    }
    if (!user || user.status !== 'active') {
      return refuse(reply, 403, `Aucun compte actif n’est associé à cette identité ${settings.label}. Les comptes sont créés sur invitation : demandez-en une à l’équipe de la plateforme.`);
    }
    return signIn(req, reply, deps, user, 'oidc', pending.return_to);
  });
}

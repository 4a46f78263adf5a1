/**
 * The development identity provider: a REAL OpenID Connect provider (the `oidc-provider` package)
 * with a few test identities, standing in for FranceConnect outside production. Mounted at
 * `/dev/identite` on the serving process when NODE_ENV is not production (index.ts), or started by
 * the tests on a port of its own (`startDevIdp`). Authorization code flow with PKCE required,
 * id_tokens signed RS256 with a key generated at start; the person chooses a test identity on a
 * French page (there is no password: it is a development tool, never mounted in production).
 */
import crypto from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import querystring from 'node:querystring';
import { exportJWK, generateKeyPair } from 'jose';
import { html, raw } from '../../platform/html/html.ts';

/** The client the development provider knows: the relying party of identity.ts when MANDATES_OIDC_* is not set. */
export const DEV_CLIENT = { clientId: 'maillage-mandats-dev', clientSecret: 'secret-de-developpement-du-fournisseur-d-identite-de-test' } as const;

/** Test identities (FranceConnect's claim names). `sub` is what the provider says; the keys are what the person picks. */
export const DEV_IDENTITIES: Record<string, { sub: string; given_name: string; family_name: string; birthdate: string }> = {
  jeanne: { sub: 'dev-7f3a9c21-jeanne', given_name: 'Jeanne', family_name: 'Lefèvre', birthdate: '1948-05-12' },
  karim: { sub: 'dev-0b8e4d55-karim', given_name: 'Karim', family_name: 'Benali', birthdate: '1975-11-03' },
  'marie-helene': { sub: 'dev-c41d2e90-marie', given_name: 'Marie-Hélène', family_name: 'N’Diaye', birthdate: '1990-02-28' },
  young: { sub: 'dev-5aa0e1f7-jeune', given_name: 'Léo', family_name: 'Petit', birthdate: '2016-06-01' },
};

/** What the provider instance offers beyond the ambient declaration (oidc-provider ships no types). */
interface ProviderApi {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<{ uid: string; prompt: { name: string } }>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, o?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  Grant: new (o: { accountId: string; clientId: string }) => { addOIDCScope(s: string): void; save(): Promise<string> };
}

export interface DevIdp {
  issuer: string;
  /** Handles a request whose URL is under the issuer's path (the raw Node request; a body already parsed in `req.body` is used). */
  handle(req: IncomingMessage & { body?: unknown; originalUrl?: string }, res: ServerResponse): void;
}

type Req = IncomingMessage & { body?: unknown; originalUrl?: string };

function page(res: ServerResponse, status: number, title: string, body: unknown) {
  res.statusCode = status;
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(String(html`<!doctype html><html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a}fieldset{border:1px solid #888}label{display:block;padding:.3rem 0}button{font:inherit;padding:.5rem 1rem}.dev{border-left:6px solid #8a5a00;background:#fff8e6;padding:.5rem 1rem}</style></head>
<body><main>${body}</main></body></html>`));
}

async function formOf(req: Req): Promise<Record<string, string>> {
  if (req.body && typeof req.body === 'object') return Object.fromEntries(Object.entries(req.body as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 8192) throw new Error('form too large');
    chunks.push(c as Buffer);
  }
  const parsed = querystring.parse(Buffer.concat(chunks).toString('utf8'));
  return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** Creates the provider for `issuer` (its path is the mount point), accepting the given redirect URIs. */
export async function createDevIdp(o: { issuer: string; redirectUris: string[]; postLogoutRedirectUris?: string[] }): Promise<DevIdp> {
  const issuer = o.issuer.replace(/\/$/, '');
  const mount = new URL(issuer).pathname.replace(/\/$/, '');
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: crypto.randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
  const scope = 'openid given_name family_name birthdate';
  // Loaded here, not at start-up (see provider.ts).
  const { default: Provider } = await import('oidc-provider');
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: DEV_CLIENT.clientId,
        client_secret: DEV_CLIENT.clientSecret,
        redirect_uris: o.redirectUris,
        // FranceConnect's logout: back to the relying party's « deconnexion » next to each callback.
        post_logout_redirect_uris: o.postLogoutRedirectUris ?? o.redirectUris.map((u) => new URL('deconnexion', u).href),
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    jwks: { keys: [jwk] },
    scopes: scope.split(' '),
    claims: { openid: ['sub'], given_name: ['given_name'], family_name: ['family_name'], birthdate: ['birthdate'] },
    findAccount: async (_ctx: unknown, id: string) => {
      const person = Object.values(DEV_IDENTITIES).find((p) => p.sub === id);
      return person ? { accountId: id, claims: async () => ({ ...person }) } : undefined;
    },
    features: {
      devInteractions: { enabled: false },
      // end_session_endpoint (id_token_hint, post_logout_redirect_uri, state), with a French confirmation page.
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx: { type: string; body: string }, form: string) => {
          ctx.type = 'html';
          ctx.body = String(html`<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Déconnexion</title></head><body><main><h1>Fournisseur d’identité de développement</h1>
<p>Voulez-vous vous déconnecter ?</p>${raw(form)}<p><button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Me déconnecter</button></p></main></body></html>`);
        },
      },
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `${mount}/interaction/${interaction.uid}` },
    // FranceConnect asks no consent of its own for the identity claims: neither does this stand-in.
    loadExistingGrant: async (ctx: { oidc: { client: { clientId: string }; session: { accountId: string } } }) => {
      const grant = new (provider as unknown as ProviderApi).Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope(scope);
      await grant.save();
      return grant;
    },
    pkce: { required: () => true },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    ttl: { AuthorizationCode: 60, AccessToken: 300, IdToken: 300, Interaction: 600, Session: 600, Grant: 600 },
    renderError: async (ctx: { type: string; body: string }, out: { error: string; error_description?: string }) => {
      ctx.type = 'html';
      ctx.body = String(html`<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Erreur</title></head><body><main><h1>Erreur du fournisseur d’identité</h1><p>${out.error}: ${out.error_description ?? ''}</p></main></body></html>`);
    },
  }) as unknown as ProviderApi;
  const callback = provider.callback();

  async function interaction(req: Req, res: ServerResponse, uid: string, submit: boolean) {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) return page(res, 400, 'Erreur', html`<h1>Session expirée</h1><p>Recommencez depuis le site.</p>`);
    if (!submit) {
      return page(res, 200, 'Fournisseur d’identité de développement', html`<h1>Fournisseur d’identité de développement</h1>
<p class="dev"><strong>Outil de développement</strong> : il remplace FranceConnect hors production. Choisissez une identité de test.</p>
<form method="post" action="${mount}/interaction/${uid}"><fieldset><legend>Identité de test</legend>
${Object.entries(DEV_IDENTITIES).map(([k, p], i) => html`<label><input type="radio" name="identity" value="${k}"${i === 0 ? html` checked` : ''}> ${p.given_name} ${p.family_name}, née ou né le ${p.birthdate}</label>`)}
</fieldset><p><button type="submit" name="action" value="login">Se connecter</button> <button type="submit" name="action" value="abort">Annuler</button></p></form>`);
    }
    const form = await formOf(req);
    if (form.action === 'abort') return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'La personne a annulé.' }, { mergeWithLastSubmission: false });
    const person = Object.hasOwn(DEV_IDENTITIES, form.identity ?? '') ? DEV_IDENTITIES[form.identity!]! : null;
    if (!person) return page(res, 400, 'Erreur', html`<h1>Identité inconnue</h1><p>Choisissez une des identités de test.</p>`);
    return provider.interactionFinished(req, res, { login: { accountId: person.sub } }, { mergeWithLastSubmission: false });
  }

  return {
    issuer,
    handle(req, res) {
      const full = req.url ?? '/';
      const rel = full.startsWith(mount) ? full.slice(mount.length) || '/' : full;
      const m = /^\/interaction\/([\w-]{1,64})(?:\?.*)?$/.exec(rel);
      if (m && (req.method === 'GET' || req.method === 'POST')) {
        interaction(req, res, m[1]!, req.method === 'POST').catch(() => {
          if (!res.headersSent) page(res, 400, 'Erreur', html`<h1>Session expirée</h1><p>Recommencez depuis le site.</p>`);
        });
        return;
      }
      if (mount) {
        req.originalUrl = full;
        req.url = rel;
      }
      callback(req, res);
    },
  };
}

/** Starts the development provider on a loopback port of its own (tests, or a developer's second process). */
export async function startDevIdp(redirectUris: string[], port = 0): Promise<DevIdp & { close(): Promise<void> }> {
  let idp: DevIdp | null = null;
  const server = http.createServer((req, res) => (idp ? idp.handle(req, res) : res.end()));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  idp = await createDevIdp({ issuer: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, redirectUris });
  return { ...idp, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/**
 * A demo partner service: what a partner (a CAF, a tax office's tool...) writes to let a helper
 * sign in "for" a person through Maillage, with `openid-client` — discovery, authorization code
 * flow with PKCE (S256), state and nonce, the `demarche` parameter, the ID token checked
 * (signature against the published keys, issuer, audience, nonce), then userinfo.
 *
 * Started by the tests, and in development by `maillage mandates partner demo` (it registers
 * itself as a partner). One small node:http server; the pending sign-ins live in its memory
 * (a demo runs as one process).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { html, raw, type Raw } from '../../platform/html/html.ts';
import { ADMIN_PROCEDURES, isProcedure } from './model.ts';

export interface PartnerDemoOptions {
  /** The provider's issuer, e.g. http://localhost:3000/oidc */
  issuer: string;
  /** The partner's credentials; or later, once the redirect URI (which names the port) is registered: `useClient`. */
  clientId?: string;
  clientSecret?: string;
  host?: string;
  port?: number;
  /** Allow http issuers (development, tests). */
  insecure?: boolean;
  name?: string;
}

export interface PartnerDemo {
  url: string;
  redirectUri: string;
  useClient(clientId: string, clientSecret: string): void;
  close(): Promise<void>;
}

interface Pending {
  verifier: string;
  nonce: string;
  at: number;
}

const PENDING_MS = 10 * 60 * 1000;
const COOKIE = 'partner_demo_state';

function pageOf(title: string, body: Raw): string {
  return `<!doctype html>${html`<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title>
<style>body{font:1.05rem/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}button,select{font:inherit;padding:.5rem}dt{font-weight:600}.err{border:3px solid #b00020;padding:.75rem}</style></head>
<body><main>${body}</main></body></html>`}`;
}

/** The state cookie's value, if any. */
function stateCookie(req: http.IncomingMessage): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === COOKIE && v && /^[\w-]{10,100}$/.test(v)) return v;
  }
  return null;
}

export async function startPartnerDemo(o: PartnerDemoOptions): Promise<PartnerDemo> {
  const name = o.name ?? 'Service partenaire de démonstration';
  const pending = new Map<string, Pending>();
  let client = o.clientId && o.clientSecret ? { id: o.clientId, secret: o.clientSecret } : null;
  let config: oidc.Configuration | null = null;
  const configuration = async () => {
    if (!client) throw new Error('Ce service partenaire n’est pas encore enregistré auprès de Maillage.');
    config ??= await oidc.discovery(new URL(o.issuer), client.id, client.secret, oidc.ClientSecretBasic(client.secret), o.insecure ? { execute: [oidc.allowInsecureRequests] } : undefined);
    return config;
  };

  const server = http.createServer((req, res) => {
    void handle(req, res).catch((err: Error) => {
      if (!res.headersSent) send(res, 500, pageOf('Erreur', html`<h1>Erreur</h1><p class="err">${err.message}</p>`));
      else res.end();
    });
  });
  const send = (res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...headers });
    res.end(body);
  };

  await new Promise<void>((resolve) => server.listen(o.port ?? 0, o.host ?? '127.0.0.1', resolve));
  const addr = server.address() as AddressInfo;
  const url = `http://${o.host ?? '127.0.0.1'}:${addr.port}`;
  const redirectUri = `${url}/retour`;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const u = new URL(req.url ?? '/', url);
    if (req.method !== 'GET') return send(res, 405, pageOf('Méthode refusée', html`<h1>Méthode refusée</h1>`), { allow: 'GET' });
    if (u.pathname === '/favicon.ico') {
      res.writeHead(204, { 'cache-control': 'max-age=86400' });
      return res.end();
    }
    if (u.pathname === '/') {
      return send(res, 200, pageOf(name, html`<h1>${name}</h1>
<p>Vous êtes aidant : connectez-vous avec Maillage pour agir au nom d’une personne qui vous a donné un mandat.</p>
<form method="get" action="/connexion"><p><label for="demarche">Démarche</label>
<select id="demarche" name="demarche"><option value="">L’aidant la choisit dans Maillage</option>${Object.entries(ADMIN_PROCEDURES).map(([k, l]) => html`<option value="${k}">${l}</option>`)}</select></p>
<p><button type="submit">Se connecter avec Maillage (aidant)</button></p></form>`));
    }
    if (u.pathname === '/connexion') {
      const c = await configuration();
      const demarche = u.searchParams.get('demarche') ?? '';
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const now = Date.now();
      for (const [k, p] of pending) if (now - p.at > PENDING_MS) pending.delete(k);
      pending.set(state, { verifier, nonce, at: now });
      const params: Record<string, string> = {
        redirect_uri: redirectUri,
        scope: 'openid profile demarche',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      };
      if (demarche) params.demarche = demarche;
      const to = oidc.buildAuthorizationUrl(c, params);
      res.writeHead(302, { location: to.href, 'set-cookie': `${COOKIE}=${state}; Path=/; HttpOnly; SameSite=Lax` });
      return res.end();
    }
    if (u.pathname === '/retour') {
      const state = stateCookie(req);
      const p = state ? pending.get(state) : undefined;
      if (!state || !p) return send(res, 400, pageOf('Connexion refusée', html`<h1>Connexion refusée</h1><p class="err">Aucune connexion en cours dans ce navigateur (ou elle a expiré).</p><p><a href="/">Recommencer</a></p>`));
      pending.delete(state);
      if (u.searchParams.get('error')) {
        return send(res, 403, pageOf('Connexion refusée', html`<h1>Connexion refusée</h1><p class="err">Maillage a répondu : ${u.searchParams.get('error')} ${u.searchParams.get('error_description') ?? ''}</p><p><a href="/">Recommencer</a></p>`));
      }
      const c = await configuration();
      let tokens;
      let info;
      try {
        tokens = await oidc.authorizationCodeGrant(c, u, { pkceCodeVerifier: p.verifier, expectedState: state, expectedNonce: p.nonce, idTokenExpected: true });
        const idClaims = tokens.claims()!;
        info = await oidc.fetchUserInfo(c, tokens.access_token, idClaims.sub);
      } catch (e) {
        return send(res, 403, pageOf('Connexion refusée', html`<h1>Connexion refusée</h1><p class="err">${(e as Error).message}</p><p><a href="/">Recommencer</a></p>`));
      }
      const demarche = typeof info.demarche === 'string' ? info.demarche : '';
      const row = (k: string, v: unknown) => html`<dt>${k}</dt><dd>${typeof v === 'string' ? v : JSON.stringify(v)}</dd>`;
      return send(res, 200, pageOf(`${name} — connecté`, html`<h1>Connecté pour ${String(info.given_name ?? '')} ${String(info.family_name ?? '')}</h1>
<p>Démarche : <strong>${isProcedure(demarche) ? ADMIN_PROCEDURES[demarche] : demarche}</strong></p>
<h2>Ce que Maillage a transmis</h2>
<dl id="claims">${Object.entries(info).map(([k, v]) => row(k, v))}</dl>
<p><a href="/">Nouvelle connexion</a></p>
<script type="application/json" id="userinfo">${raw(JSON.stringify(info).replace(/</g, '\\u003c'))}</script>
<script type="application/json" id="id-token-claims">${raw(JSON.stringify(tokens.claims()).replace(/</g, '\\u003c'))}</script>`));
    }
    return send(res, 404, pageOf('Page introuvable', html`<h1>Page introuvable</h1>`));
  }

  return {
    url,
    redirectUri,
    useClient(clientId: string, clientSecret: string) {
      client = { id: clientId, secret: clientSecret };
      config = null;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Sign-in through OpenID Connect against a real provider (the `oidc-provider` package) started on
 * a loopback port for this test: discovery, authorization code + PKCE, state and nonce, token and
 * userinfo calls over HTTP. The issuer is whatever OIDC_ISSUER says — here the test provider.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Provider from 'oidc-provider';
import { testApp } from '../../../../test/support/app.ts';
import { listAudit } from '../../../platform/audit/index.ts';
import { Browser, makeUser, type TestUser } from './client.ts';
import { depsOf } from '../testing.ts';
import { walkDevProvider } from '../../../../test/support/oidc-provider.ts';

const PUBLIC_URL = 'http://localhost:3999';
const CLIENT = { client_id: 'maillage-test', client_secret: 'un secret de test assez long pour HS256 0123456789' };

/** People known to the provider: account id → claims. */
const people: Record<string, { email: string; email_verified: boolean; name: string }> = {
  'sub-camille': { email: 'camille.oidc@exemple.fr', email_verified: true, name: 'Camille' },
  'sub-unverified': { email: 'dominique.oidc@exemple.fr', email_verified: false, name: 'Dominique' },
  'sub-stranger': { email: 'inconnu.oidc@exemple.fr', email_verified: true, name: 'Inconnu' },
  'sub-staff': { email: 'staff.oidc@exemple.fr', email_verified: true, name: 'Staff' },
};

async function startProvider(): Promise<{ issuer: string; close(): Promise<void> }> {
  let handler: http.RequestListener = (_req, res) => res.end();
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [{ ...CLIENT, redirect_uris: [`${PUBLIC_URL}/compte/oidc/retour`], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_post' }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    findAccount: async (_ctx: unknown, id: string) =>
      people[id] ? { accountId: id, claims: async () => ({ sub: id, ...people[id] }) } : undefined,
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['cle-de-test-des-cookies'] },
  });
  handler = provider.callback();
  return { issuer, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The person's side at the provider: follows redirects, signs in as `account`, consents. */
function atProvider(start: string, account: string): Promise<string> {
  return walkDevProvider(start, account, PUBLIC_URL);
}

describe('OpenID Connect sign-in against a real provider', () => {
  let provider: Awaited<ReturnType<typeof startProvider>>;
  let t: Awaited<ReturnType<typeof testApp>>;
  let camille: TestUser;

  before(async () => {
    provider = await startProvider();
    t = await testApp({ signinDelayMs: 1, publicUrl: PUBLIC_URL, oidc: { issuer: provider.issuer, clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret, label: 'ProConnect (test)' } });
    const deps = depsOf(t.app);
    camille = await makeUser(deps, 'Camille.OIDC@exemple.fr', [], 'Camille Martin');
    await makeUser(deps, 'dominique.oidc@exemple.fr', [], 'Dominique');
    await makeUser(deps, 'staff.oidc@exemple.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '69' }], 'Staff');
  });
  after(async () => {
    await t?.close();
    await provider?.close();
  });

  /** From the sign-in page's button to the app's answer on the callback. */
  async function signInAs(b: Browser, account: string) {
    const start = await b.get('/compte/oidc');
    assert.equal(start.status, 303);
    const auth = new URL(start.location!);
    assert.equal(auth.origin, provider.issuer, 'the browser is sent to the configured issuer');
    assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(auth.searchParams.get('state') && auth.searchParams.get('nonce'));
    const callback = await atProvider(start.location!, account);
    const path = callback.slice(PUBLIC_URL.length);
    assert.match(path, /^\/compte\/oidc\/retour\?code=/);
    return { res: await b.get(path), path };
  }

  test('the sign-in page offers the configured provider', async () => {
    const page = await new Browser(t.app).get('/compte/connexion');
    assert.match(page.body, /href="\/compte\/oidc">Se connecter avec ProConnect \(test\)</);
  });

  test('a verified e-mail links the identity to the active account with that address; later sign-ins use the link', async () => {
    const b = new Browser(t.app, '192.0.2.40');
    const { res, path } = await signInAs(b, 'sub-camille');
    assert.equal(res.status, 303);
    assert.equal(res.location, '/compte');
    const account = await b.get('/compte');
    assert.equal(account.status, 200);
    assert.match(account.body, /Camille Martin/);
    assert.match(account.body, /fournisseur d’identité/);
    const entries = await listAudit(t.db, { objectType: 'user', objectId: camille.id, limit: 20 });
    assert.ok(entries.some((e) => e.action === 'accounts.identity.link' && (e.after as { issuer: string }).issuer === provider.issuer));
    assert.ok(entries.some((e) => e.action === 'accounts.signin' && e.meta?.method === 'oidc'));

    // The callback cannot be replayed: its state is spent and its browser cookie gone.
    assert.equal((await b.get(path)).status, 400);
    assert.equal((await new Browser(t.app).get(path)).status, 400);

    // The provider's address changes: the link by subject still signs Camille in.
    people['sub-camille']!.email = 'camille.nouvelle@exemple.fr';
    const again = await signInAs(new Browser(t.app, '192.0.2.41'), 'sub-camille');
    assert.equal(again.res.status, 303);
    assert.equal(again.res.location, '/compte');
  });

  test('an address the provider has not verified does not link to an account', async () => {
    const { res } = await signInAs(new Browser(t.app, '192.0.2.42'), 'sub-unverified');
    assert.equal(res.status, 403);
    assert.match(res.body, /Aucun compte actif n’est associé à cette identité ProConnect \(test\)/);
    const { rows } = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM accounts.identity WHERE subject = 'sub-unverified'`);
    assert.equal(rows[0]!.n, 0);
  });

  test('an identity with no account gets no account: accounts are created by invitation', async () => {
    const { res } = await signInAs(new Browser(t.app, '192.0.2.43'), 'sub-stranger');
    assert.equal(res.status, 403);
    const { rows } = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM accounts.users WHERE email_key = 'inconnu.oidc@exemple.fr'`);
    assert.equal(rows[0]!.n, 0);
  });

  test('staff signing in through the provider still give their second factor', async () => {
    const b = new Browser(t.app, '192.0.2.44');
    const { res } = await signInAs(b, 'sub-staff');
    assert.equal(res.status, 303);
    assert.equal(res.location, '/compte/connexion/code');
    assert.equal((await b.get('/gestion')).location, '/compte/connexion/code');
  });

  test('a forged callback (no sign-in started in this browser, or a wrong state) is refused', async () => {
    const b = new Browser(t.app, '192.0.2.45');
    assert.equal((await b.get('/compte/oidc/retour?code=forged&state=forged')).status, 400);
    await b.get('/compte/oidc');
    const res = await b.get('/compte/oidc/retour?code=forged&state=wrong');
    assert.equal(res.status, 400);
    assert.match(res.body, /n’a pas pu être vérifiée/);
  });
});

describe('OpenID Connect when the provider is down', () => {
  test('the sign-in button explains, and password sign-in still works', async () => {
    const t = await testApp({ publicUrl: PUBLIC_URL, oidc: { issuer: 'http://127.0.0.1:9', clientId: 'x', clientSecret: 'y', label: 'ProConnect' } });
    try {
      const res = await new Browser(t.app).get('/compte/oidc');
      assert.equal(res.status, 502);
      assert.match(res.body, /ProConnect ne répond pas pour le moment/);
      assert.equal((await new Browser(t.app).get('/compte/connexion')).status, 200);
    } finally {
      await t.close();
    }
  });
});

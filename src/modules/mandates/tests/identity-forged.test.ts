/**
 * Forged provider answers: a provider on a loopback port whose token endpoint returns an id_token
 * that the test shapes (signed by its published key as a control, then by another key, for another
 * audience, another issuer, expired, unsigned). openid-client (with the non-repudiation checks the
 * relying party turns on) must refuse each; the app answers 400 and writes nothing.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { snapshot, trainedHelperAccount } from './support.ts';

const { depsOf, signedInBrowser } = accountsTesting;
const PUBLIC_URL = 'http://localhost:41518';
const CLIENT = { id: 'maillage-test', secret: 'secret-de-test-0123456789-0123456789' };

interface Shape {
  key: 'published' | 'other';
  kid?: string;
  aud?: string;
  iss?: string;
  exp?: number;
  unsigned?: boolean;
}

async function fakeProvider() {
  const published = await generateKeyPair('RS256', { extractable: true });
  const other = await generateKeyPair('RS256', { extractable: true });
  const state = { nonce: '', shape: { key: 'published' } as Shape };
  let issuer = '';
  const server = http.createServer(async (req, res) => {
    const json = (v: unknown) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(v));
    };
    const url = new URL(req.url!, issuer);
    if (url.pathname === '/.well-known/openid-configuration') {
      return json({
        issuer,
        authorization_endpoint: `${issuer}/auth`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        userinfo_endpoint: `${issuer}/userinfo`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_post'],
      });
    }
    if (url.pathname === '/jwks') return json({ keys: [{ ...(await exportJWK(published.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] });
    if (url.pathname === '/token') {
      for await (const _ of req) void _;
      const s = state.shape;
      const now = Math.floor(Date.now() / 1000);
      const claims = { nonce: state.nonce, given_name: 'Zoé', family_name: 'Forgée', birthdate: '1980-01-01' };
      let idToken: string;
      if (s.unsigned) {
        const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
        idToken = `${b64({ alg: 'none' })}.${b64({ ...claims, sub: 'fake-sub', iss: issuer, aud: CLIENT.id, iat: now, exp: now + 300 })}.`;
      } else {
        idToken = await new SignJWT(claims)
          .setProtectedHeader({ alg: 'RS256', kid: s.kid ?? 'k1' })
          .setSubject('fake-sub')
          .setIssuer(s.iss ?? issuer)
          .setAudience(s.aud ?? CLIENT.id)
          .setIssuedAt(s.exp ? s.exp - 600 : now)
          .setExpirationTime(s.exp ?? now + 300)
          .sign((s.key === 'published' ? published.privateKey : other.privateKey) as CryptoKey);
      }
      return json({ access_token: 'at-fake', token_type: 'Bearer', expires_in: 300, id_token: idToken });
    }
    if (url.pathname === '/userinfo') return json({ sub: 'fake-sub', given_name: 'Zoé', family_name: 'Forgée', birthdate: '1980-01-01' });
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { issuer, state, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('mandates: forged OpenID Connect answers are refused', () => {
  let idp: Awaited<ReturnType<typeof fakeProvider>>;
  let t: Awaited<ReturnType<typeof testApp>>;
  let helper: accountsTesting.Browser;
  let structureId = '';

  before(async () => {
    idp = await fakeProvider();
    t = await testApp({
      publicUrl: PUBLIC_URL,
      mandatesIdentity: { issuer: idp.issuer, clientId: CLIENT.id, clientSecret: CLIENT.secret, redirectUri: null, scope: 'openid given_name family_name birthdate', acrValues: 'eidas1', label: 'FranceConnect (test)' },
    });
    const deps = depsOf(t.app);
    const { user: u, structure: s } = await trainedHelperAccount(t.ctx, 'forged@exemple.fr', 'Aidant');
    structureId = s.id;
    helper = await signedInBrowser(t.app, deps, u, '192.0.2.70');
  });
  after(async () => {
    await t?.close();
    await idp?.close();
  });

  /** Starts a check and comes back to the callback with a code the fake provider will answer with `shape`. */
  async function callbackWith(shape: Shape) {
    await helper.get('/mandats/nouveau');
    const r = await helper.post('/mandats/nouveau/identite', { structure: structureId, procedures: 'logement', duration: '1m' });
    assert.equal(r.status, 200);
    const auth = new URL(/<a class="button" href="([^"]+)">S’identifier avec/.exec(r.body)![1]!.replace(/&amp;/g, '&'));
    assert.equal(auth.searchParams.get('acr_values'), 'eidas1');
    idp.state.nonce = auth.searchParams.get('nonce')!;
    idp.state.shape = shape;
    const before = { ...(await snapshot(t.db) as object), flows: (await t.db.query('SELECT id, verified_at FROM mandates.identity_flow ORDER BY id')).rows };
    const res = await helper.get(`/mandats/identite/retour?code=fake-code&state=${auth.searchParams.get('state')}`);
    const after = { ...(await snapshot(t.db) as object), flows: (await t.db.query('SELECT id, verified_at FROM mandates.identity_flow ORDER BY id')).rows };
    return { res, unchanged: JSON.stringify(before) === JSON.stringify(after) };
  }

  test('control: a token signed by the published key, for this client, is accepted', async () => {
    const { res, unchanged } = await callbackWith({ key: 'published' });
    assert.equal(res.status, 303, res.body.slice(0, 300));
    assert.match(res.location!, /^\/mandats\/nouveau\/identite\//);
    assert.equal(unchanged, false);
  });

  for (const [what, shape] of [
    ['signed by another key under the published key id', { key: 'other' }],
    ['signed by another, unpublished key', { key: 'other', kid: 'k2' }],
    ['for another audience', { key: 'published', aud: 'un-autre-client' }],
    ['from another issuer', { key: 'published', iss: 'https://faux.example' }],
    ['expired', { key: 'published', exp: Math.floor(Date.now() / 1000) - 3600 }],
    ['unsigned (alg none)', { key: 'published', unsigned: true }],
  ] as [string, Shape][]) {
    test(`an id_token ${what}: refused, nothing written`, async () => {
      const { res, unchanged } = await callbackWith(shape);
      assert.equal(res.status, 400);
      assert.match(res.body, /n’a pas pu être vérifiée/);
      assert.ok(unchanged, 'no row changed');
    });
  }
});

/**
 * Maillage as an OpenID Connect provider for partner services, over real HTTP: the app listens on
 * a loopback port, the demo partner (openid-client) runs the authorization code flow with PKCE;
 * a helper (2FA) picks the person's mandate and the démarche; the tokens carry the person's
 * identity and that démarche only; the use is journalled. Attacks: replayed code, tampered and
 * forged tokens, wrong redirect_uri, no PKCE, a démarche not in the mandate, another structure's
 * mandate, a helper without 2FA, a mandate revoked or expired (at the second) after the tokens
 * were issued. Every refusal is checked on the rows (snapshot), not only the status code.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import * as jose from 'jose';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { addPartner, claimsFor, subjectFor, listKeys, retireKey, revokePartner, rotateKey } from '../provider.ts';
import { startPartnerDemo, type PartnerDemo } from '../partner-demo.ts';
import { PERSON, placeIn, snapshot } from './support.ts';
import * as service from '../service.ts';
import { mandatesCommand } from '../cli.ts';
import type { CliContext } from '../../../platform/module.ts';

const { depsOf, makeUser, openSessionCookie } = accountsTesting;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A browser over real HTTP: cookies per origin, redirects followed by hand. */
class Browser {
  jar = new Map<string, Map<string, string>>();
  constructor(cookies: Record<string, Record<string, string>> = {}) {
    for (const [origin, c] of Object.entries(cookies)) this.jar.set(origin, new Map(Object.entries(c)));
  }
  private cookieHeader(url: URL) {
    return [...(this.jar.get(url.origin) ?? new Map())].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  private keep(url: URL, res: Response) {
    const m = this.jar.get(url.origin) ?? new Map<string, string>();
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const value = pair!.slice(eq + 1);
      if (/expires=Thu, 01 Jan 1970/i.test(c) || value === '') m.delete(pair!.slice(0, eq));
      else m.set(pair!.slice(0, eq), value);
    }
    this.jar.set(url.origin, m);
  }
  async request(method: string, href: string, form?: Record<string, string>): Promise<{ status: number; body: string; location: string | null; url: string }> {
    const url = new URL(href);
    const res = await fetch(url, {
      method,
      redirect: 'manual',
      headers: { cookie: this.cookieHeader(url), accept: 'text/html', ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body: form ? new URLSearchParams(form) : undefined,
    });
    this.keep(url, res);
    const loc = res.headers.get('location');
    return { status: res.status, body: await res.text(), location: loc ? new URL(loc, url).href : null, url: url.href };
  }
  /** GETs and follows redirects until a page (not a redirect) or an address starting with `stopAt`. */
  async follow(href: string, stopAt?: string) {
    let r = await this.request('GET', href);
    for (let i = 0; i < 10 && r.location && !(stopAt && r.location.startsWith(stopAt)); i++) r = await this.request('GET', r.location);
    return r;
  }
}

/** An OAuth error from openid-client, by its code (token endpoint body or WWW-Authenticate challenge). */
const oauth = (code: string) => (e: unknown) => {
  const x = e as { error?: string; cause?: unknown };
  const challenges = Array.isArray(x.cause) ? (x.cause as { parameters?: { error?: string } }[]) : [];
  return x.error === code || (x.cause as { error?: string } | undefined)?.error === code || challenges.some((c) => c.parameters?.error === code);
};

const csrfOf = (body: string) => /name="_csrf" value="([^"]+)"/.exec(body)?.[1] ?? '';

describe('mandates: Maillage as an OpenID Connect provider for partner services', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let base = '';
  let demo: PartnerDemo;
  let client = { clientId: '', clientSecret: '' };
  let other = { clientId: '', clientSecret: '' };
  let redirectUri = '';
  let alice: { id: string; cookie: string };
  let noTotp: { id: string; cookie: string };
  let bob: { id: string; cookie: string };
  let structure: service.Structure;
  let mandate: { id: string; reference: string };
  let config: oidc.Configuration;

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await testApp({ publicUrl: base });
    await t.app.listen({ port, host: '127.0.0.1' });
    const deps = depsOf(t.app);
    const [p1, p2] = [await placeIn(t.db), await placeIn(t.db, '27229')];
    const helperOn = (place: string) => [{ role: 'helper', scopeKind: 'place', scopeId: place }];
    const a = await makeUser(deps, 'op-alice@exemple.fr', helperOn(p1), 'Alice Aidante', { totp: true });
    const n = await makeUser(deps, 'op-noe@exemple.fr', helperOn(p1), 'Noé Sans Code', { totp: false });
    const b = await makeUser(deps, 'op-bob@exemple.fr', helperOn(p2), 'Bob Ailleurs', { totp: true });
    structure = await service.createStructure(t.ctx, null, { name: 'France Services Rouen', siret: '', placeUid: p1 });
    const otherStructure = await service.createStructure(t.ctx, null, { name: 'France Services Évreux', siret: '', placeUid: p2 });
    for (const [u, s] of [[a, structure], [n, structure], [b, otherStructure]] as const) {
      await service.addHelper(t.ctx, null, s.id, u.id, u.displayName);
      await service.recordTraining(t.ctx, null, s.id, u.id, { trainedOn: '2025-03-01', trainingRef: 'Formation test' });
    }
    alice = { id: a.id, cookie: await openSessionCookie(t.app, a) };
    noTotp = { id: n.id, cookie: await openSessionCookie(t.app, n) };
    bob = { id: b.id, cookie: await openSessionCookie(t.app, b) };
    mandate = await service.createMandate(t.ctx, a.id, structure.id, { ...PERSON, procedures: ['argent-impots', 'logement'], duration: '1m' });
    demo = await startPartnerDemo({ issuer: `${base}/oidc`, insecure: true, name: 'Impôts (démo)' });
    client = await addPartner(t.ctx, null, { name: 'Impôts (démo)', redirectUris: [demo.redirectUri] });
    demo.useClient(client.clientId, client.clientSecret);
    redirectUri = 'http://127.0.0.1:9/retour';
    other = await addPartner(t.ctx, null, { name: 'Autre partenaire', redirectUris: [redirectUri] });
    config = await oidc.discovery(new URL(`${base}/oidc`), other.clientId, other.clientSecret, oidc.ClientSecretBasic(other.clientSecret), { execute: [oidc.allowInsecureRequests] });
  });
  after(async () => {
    await demo?.close();
    await t?.close();
  });

  const helperBrowser = (h: { cookie: string }) => new Browser({ [base]: { maillage_session: h.cookie } });

  /** From the partner's authorization URL to the choice page at Maillage. */
  async function toChoice(b: Browser, authUrl: string) {
    const page = await b.follow(authUrl);
    assert.equal(page.status, 200, page.body.slice(0, 500));
    assert.match(page.url, /\/mandats\/partenaire\/[\w-]+$/);
    return page;
  }

  /** Our own partner's authorization request (PKCE), to hold the code in hand. */
  async function authorize(extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope: 'openid profile demarche', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, nonce, ...extra });
    return { url: url.href, verifier, state, nonce };
  }

  /** The helper chooses; returns the callback address at the partner (with the code). */
  async function choose(b: Browser, authUrl: string, form: Record<string, string>) {
    const page = await toChoice(b, authUrl);
    const r = await b.request('POST', page.url, { _csrf: csrfOf(page.body), action: 'choisir', ...form });
    return { page, r, callback: r.status === 303 ? (await b.follow(r.location!, redirectUri)).location : null };
  }

  test('end to end with the demo partner: the person’s identity and the ONE démarche, nothing else; the use is journalled', async () => {
    const b = helperBrowser(alice);
    const before = await snapshot(t.db);
    const start = await b.request('GET', `${demo.url}/connexion?demarche=argent-impots`);
    assert.equal(start.status, 302);
    const auth = new URL(start.location!);
    assert.equal(auth.origin + auth.pathname, `${base}/oidc/auth`);
    assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
    const page = await toChoice(b, start.location!);
    assert.match(page.body, /Jeanne Lefèvre/);
    assert.match(page.body, new RegExp(mandate.reference));
    const post = await b.request('POST', page.url, { _csrf: csrfOf(page.body), action: 'choisir', mandate: mandate.id, procedure: 'argent-impots' });
    assert.equal(post.status, 303, post.body.slice(0, 400));
    const done = await b.follow(post.location!);
    assert.equal(done.status, 200, done.body.slice(0, 600));
    assert.ok(done.url.startsWith(demo.url));
    const info = JSON.parse(/<script type="application\/json" id="userinfo">(.*?)<\/script>/s.exec(done.body)![1]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(info).sort(), ['birthdate', 'demarche', 'family_name', 'given_name', 'sub']);
    assert.equal(info.given_name, 'Jeanne');
    assert.equal(info.family_name, 'Lefèvre');
    assert.equal(info.birthdate, '1948-05-12');
    assert.equal(info.demarche, 'argent-impots');
    assert.equal(info.sub, await subjectFor(t.db, t.ctx.config, `${mandate.id}|argent-impots|${alice.id}`, client.clientId));
    const idClaims = JSON.parse(/<script type="application\/json" id="id-token-claims">(.*?)<\/script>/s.exec(done.body)![1]!) as Record<string, unknown>;
    assert.equal(idClaims.demarche, 'argent-impots');
    assert.equal(idClaims.aud, client.clientId);
    assert.ok(!JSON.stringify(idClaims).includes('logement') && !JSON.stringify(info).includes('logement'), 'no other démarche of the mandate');
    assert.ok(!JSON.stringify([info, idClaims]).includes('Alice') && !JSON.stringify([info, idClaims]).includes(alice.id), `nothing about the helper: ${JSON.stringify([info, idClaims])}`);
    const journal = await t.db.query<{ event: string; procedure: string; actor_id: string; detail: Record<string, unknown> }>("SELECT event, procedure, actor_id, detail FROM mandates.journal WHERE mandate_id = $1 AND event = 'mandate.authorisation_used'", [mandate.id]);
    assert.equal(journal.rows.length, 1);
    assert.equal(journal.rows[0]!.procedure, 'argent-impots');
    assert.equal(journal.rows[0]!.actor_id, alice.id);
    assert.deepEqual(journal.rows[0]!.detail, { service: 'Impôts (démo)', partner: client.clientId });
    const after = (await snapshot(t.db)) as { journal: { n: number }[]; audit: { n: number }[] };
    assert.equal(after.journal[0]!.n, (before as typeof after).journal[0]!.n + 1);
    assert.equal((await service.verifyJournal(t.db)).ok, true);
  });

  test('the subject is stable for a person at one partner and differs between partners; claims only while the check allows', async () => {
    const use = (procedure: string, helper = alice.id, m = mandate.id) => `${m}|${procedure}|${helper}`;
    const a1 = await subjectFor(t.db, t.ctx.config, use('argent-impots'), client.clientId);
    assert.equal(await subjectFor(t.db, t.ctx.config, use('logement'), client.clientId), a1);
    assert.notEqual(await subjectFor(t.db, t.ctx.config, use('argent-impots'), other.clientId), a1);
    assert.ok(!a1.includes(mandate.id) && !a1.includes(alice.id));
    assert.equal((await claimsFor(t.db, use('logement')))?.demarche, 'logement');
    assert.equal(await claimsFor(t.db, use('justice')), null, 'a démarche not in the mandate');
    assert.equal(await claimsFor(t.db, use('argent-impots', bob.id)), null, 'a helper of another structure');
    assert.equal(await claimsFor(t.db, `${use('argent-impots')}|x`), null);
    assert.equal(await claimsFor(t.db, 'constructor'), null);
  });

  test('tokens: code exchanged once (a replay is refused and revokes what it gave), tampered or forged tokens fail', async () => {
    const b = helperBrowser(alice);
    const a = await authorize({ demarche: 'logement' });
    const { callback } = await choose(b, a.url, { mandate: mandate.id, procedure: 'logement' });
    assert.ok(callback?.startsWith(redirectUri), String(callback));
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback!), { pkceCodeVerifier: a.verifier, expectedState: a.state, expectedNonce: a.nonce });
    const claims = tokens.claims()!;
    assert.equal(claims.demarche, 'logement');
    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.demarche, 'logement');
    let before = await snapshot(t.db);
    // Replayed code.
    await assert.rejects(oidc.authorizationCodeGrant(config, new URL(callback!), { pkceCodeVerifier: a.verifier, expectedState: a.state, expectedNonce: a.nonce }), oauth('invalid_grant'));
    await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, claims.sub), oauth('invalid_token'), 'the replay revoked the tokens of that code');
    assert.deepEqual(await snapshot(t.db), before);
    // Two exchanges of one code at the same time: exactly one gets tokens.
    const a2 = await authorize();
    const c2 = await choose(b, a2.url, { mandate: mandate.id, procedure: 'argent-impots' });
    const beforeRace = await snapshot(t.db);
    const race = await Promise.allSettled([0, 1].map(() => oidc.authorizationCodeGrant(config, new URL(c2.callback!), { pkceCodeVerifier: a2.verifier, expectedState: a2.state, expectedNonce: a2.nonce })));
    assert.equal(race.filter((x) => x.status === 'fulfilled').length, 1, JSON.stringify(race.map((x) => x.status)));
    assert.deepEqual(await snapshot(t.db), beforeRace);
    // Tampered ID token: another démarche, same signature.
    const jwks = jose.createRemoteJWKSet(new URL(`${base}/oidc/jwks`));
    const [h, p, s] = tokens.id_token!.split('.');
    await jose.jwtVerify(tokens.id_token!, jwks, { issuer: `${base}/oidc`, audience: other.clientId });
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const tampered = [h, Buffer.from(JSON.stringify({ ...payload, demarche: 'justice' })).toString('base64url'), s].join('.');
    await assert.rejects(jose.jwtVerify(tampered, jwks, { issuer: `${base}/oidc`, audience: other.clientId }), /signature/);
    // Forged with another key (same kid).
    const { privateKey } = await jose.generateKeyPair('RS256');
    const forged = await new jose.SignJWT({ ...payload, demarche: 'justice' }).setProtectedHeader({ alg: 'RS256', kid: JSON.parse(Buffer.from(h!, 'base64url').toString()).kid }).sign(privateKey);
    await assert.rejects(jose.jwtVerify(forged, jwks, { issuer: `${base}/oidc`, audience: other.clientId }), /signature/);
    // Forged access token at userinfo.
    before = await snapshot(t.db);
    const ui = await fetch(`${base}/oidc/me`, { headers: { authorization: 'Bearer forged-token-value-0123456789' } });
    assert.equal(ui.status, 401);
    assert.deepEqual(await snapshot(t.db), before);
  });

  test('refused at the provider, nothing written: wrong redirect_uri, no PKCE, unknown démarche, wrong secret or verifier', async () => {
    const before = await snapshot(t.db);
    const b = helperBrowser(alice);
    const bad = new URL((await authorize()).url);
    bad.searchParams.set('redirect_uri', `${redirectUri}/autre`);
    let r = await b.follow(bad.href);
    assert.equal(r.status, 400);
    assert.match(r.body, /redirect_uri/);
    assert.doesNotMatch(r.url, /mandats\/partenaire/);
    const noPkce = new URL((await authorize()).url);
    noPkce.searchParams.delete('code_challenge');
    noPkce.searchParams.delete('code_challenge_method');
    r = await b.request('GET', noPkce.href);
    assert.match(r.location ?? '', /error=invalid_request/);
    r = await b.request('GET', (await authorize({ demarche: 'constructor' })).url);
    assert.match(r.location ?? '', /error=invalid_request/);
    // A code exchanged with a wrong verifier, then with a wrong secret.
    const a = await authorize();
    const { callback } = await choose(b, a.url, { mandate: mandate.id, procedure: 'argent-impots' });
    const afterUse = await snapshot(t.db);
    await assert.rejects(oidc.authorizationCodeGrant(config, new URL(callback!), { pkceCodeVerifier: oidc.randomPKCECodeVerifier(), expectedState: a.state }), oauth('invalid_grant'));
    const wrong = await oidc.discovery(new URL(`${base}/oidc`), other.clientId, 'not-the-secret', oidc.ClientSecretBasic('not-the-secret'), { execute: [oidc.allowInsecureRequests] });
    await assert.rejects(oidc.authorizationCodeGrant(wrong, new URL(callback!), { pkceCodeVerifier: a.verifier, expectedState: a.state }), oauth('invalid_client'));
    assert.deepEqual(await snapshot(t.db), afterUse);
    const j = (x: unknown) => (x as { journal: { n: number }[] }).journal[0]!.n;
    assert.equal(j(afterUse), j(before) + 1, 'only the helper’s choice was journalled');
  });

  test('the choice is refused with nothing written: a démarche not in the mandate, another démarche than asked, another structure’s mandate, no 2FA', async () => {
    const before = await snapshot(t.db);
    let b = helperBrowser(alice);
    // The partner asks for "justice": the mandate does not cover it, so it is not offered; forcing it is refused.
    let a = await authorize({ demarche: 'justice' });
    let c = await choose(b, a.url, { mandate: mandate.id, procedure: 'justice' });
    assert.doesNotMatch(c.page.body, /Jeanne/);
    assert.equal(c.r.status, 409);
    assert.match(c.r.body, /ne couvre pas cette démarche/);
    // Another démarche than the one the partner asked for.
    a = await authorize({ demarche: 'logement' });
    c = await choose(b, a.url, { mandate: mandate.id, procedure: 'argent-impots' });
    assert.equal(c.r.status, 422);
    // Hostile input.
    a = await authorize();
    c = await choose(b, a.url, { mandate: '__proto__', procedure: 'constructor' });
    assert.equal(c.r.status, 422);
    // No CSRF token.
    a = await authorize();
    const page = await toChoice(b, a.url);
    const noCsrf = await b.request('POST', page.url, { action: 'choisir', mandate: mandate.id, procedure: 'argent-impots' });
    assert.equal(noCsrf.status, 403);
    // A helper of another structure.
    b = helperBrowser(bob);
    a = await authorize();
    c = await choose(b, a.url, { mandate: mandate.id, procedure: 'argent-impots' });
    assert.equal(c.r.status, 403);
    assert.doesNotMatch(c.page.body, /Jeanne/);
    // A helper without a second factor.
    b = helperBrowser(noTotp);
    a = await authorize();
    const p2 = await b.follow(a.url);
    assert.equal(p2.status, 403);
    assert.match(p2.body, /double authentification/);
    // Not signed in: sent to the sign-in page, back here afterwards.
    const anon = new Browser();
    const p3 = await anon.follow((await authorize()).url, `${base}/compte/connexion`);
    assert.match(p3.location ?? '', /\/compte\/connexion\?retour=%2Fmandats%2Fpartenaire%2F/);
    assert.deepEqual(await snapshot(t.db), before);
  });

  test('revoked or expired after the tokens were issued: refused at once (userinfo, code exchange), at the second it expires', async () => {
    const m = await service.createMandate(t.ctx, alice.id, structure.id, { ...PERSON, givenName: 'Paul', procedures: ['argent-impots'], duration: '1d' });
    const b = helperBrowser(alice);
    let a = await authorize();
    let c = await choose(b, a.url, { mandate: m.id, procedure: 'argent-impots' });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(c.callback!), { pkceCodeVerifier: a.verifier, expectedState: a.state, expectedNonce: a.nonce });
    const sub = tokens.claims()!.sub;
    assert.equal((await oidc.fetchUserInfo(config, tokens.access_token, sub)).given_name, 'Paul');
    // A second code, not yet exchanged.
    a = await authorize();
    c = await choose(b, a.url, { mandate: m.id, procedure: 'argent-impots' });
    // At the second it expires: the check says no (and one millisecond before, yes).
    const { rows } = await t.db.query<{ expires_at: Date }>('SELECT expires_at FROM mandates.mandate WHERE id = $1', [m.id]);
    const exp = new Date(rows[0]!.expires_at);
    const key = `${m.id}|argent-impots|${alice.id}`;
    assert.ok(await claimsFor(t.db, key, new Date(exp.getTime() - 1)));
    assert.equal(await claimsFor(t.db, key, exp), null);
    // Expiry set to now: the live token and the pending code refuse at once.
    await t.db.query('UPDATE mandates.mandate SET expires_at = now() WHERE id = $1', [m.id]);
    const before = await snapshot(t.db);
    await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, sub), oauth('invalid_token'));
    await assert.rejects(oidc.authorizationCodeGrant(config, new URL(c.callback!), { pkceCodeVerifier: a.verifier, expectedState: a.state, expectedNonce: a.nonce }), oauth('invalid_grant'));
    // And a new choice is refused with nothing written.
    a = await authorize();
    c = await choose(b, a.url, { mandate: m.id, procedure: 'argent-impots' });
    assert.equal(c.r.status, 409);
    assert.match(c.r.body, /expiré/);
    assert.deepEqual(await snapshot(t.db), before);
    // Revocation: a live token of another mandate stops working at once.
    a = await authorize();
    c = await choose(b, a.url, { mandate: mandate.id, procedure: 'logement' });
    const t2 = await oidc.authorizationCodeGrant(config, new URL(c.callback!), { pkceCodeVerifier: a.verifier, expectedState: a.state, expectedNonce: a.nonce });
    assert.equal((await oidc.fetchUserInfo(config, t2.access_token, t2.claims()!.sub)).demarche, 'logement');
    await service.revokeMandate(t.ctx, { kind: 'helper', id: alice.id }, mandate.id, 'logement');
    await assert.rejects(oidc.fetchUserInfo(config, t2.access_token, t2.claims()!.sub), oauth('invalid_token'));
  });

  test('partners: exact redirect URIs, bad input refused with no row, a revoked partner is refused; signing keys rotate', async () => {
    const count = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM mandates.partner')).rows[0]!.n;
    const n = await count();
    for (const input of [
      { name: '', redirectUris: ['https://exemple.fr/retour'] },
      { name: 'X', redirectUris: [] },
      { name: 'X', redirectUris: ['javascript:alert(1)'] },
      { name: 'X', redirectUris: ['https://exemple.fr/retour#frag'] },
      { name: 'X', redirectUris: ['https://user:pw@exemple.fr/'] },
      { name: 'X', redirectUris: ['pas une adresse'] },
      { name: 'X\u0000', redirectUris: ['https://exemple.fr/'] },
      { name: 'X', redirectUris: Array.from({ length: 11 }, (_, i) => `https://exemple.fr/${i}`) },
      { name: 'X', redirectUris: ['https://exemple.fr/retour', 'https://autre.exemple.fr/retour'] },
    ]) {
      await assert.rejects(addPartner(t.ctx, null, input), (e: Error & { field?: string }) => e.field === 'name' || e.field === 'redirect_uri');
    }
    assert.equal(await count(), n);
    const tmp = await addPartner(t.ctx, null, { name: 'Temporaire', redirectUris: [redirectUri] });
    const stored = await t.db.query<{ secret_hash: string }>('SELECT secret_hash FROM mandates.partner WHERE client_id = $1', [tmp.clientId]);
    assert.notEqual(stored.rows[0]!.secret_hash, tmp.clientSecret, 'the secret is stored hashed');
    await revokePartner(t.ctx, null, tmp.clientId);
    const cfg = await oidc.discovery(new URL(`${base}/oidc`), tmp.clientId, tmp.clientSecret, oidc.ClientSecretBasic(tmp.clientSecret), { execute: [oidc.allowInsecureRequests] });
    const r = await new Browser().request('GET', oidc.buildAuthorizationUrl(cfg, { redirect_uri: redirectUri, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' }).href);
    assert.equal(r.status, 400);
    assert.match(r.body, /invalid_client/);
    // The CLI: add (secret printed once), list, revoke; bad input exits 2 with no row.
    const lines: string[] = [];
    const cli = { ...t.ctx, out: (l: string) => lines.push(l), progress: () => ({ tick() {}, done() {} }) as unknown as ReturnType<CliContext['progress']> } as CliContext;
    const before = await count();
    assert.equal(await mandatesCommand.run(['partner', 'add', 'Caisse', '--redirect-uri', 'ftp://exemple.fr/x'], cli), 2);
    assert.match(lines.at(-1)!, /redirect_uri/);
    assert.equal(await mandatesCommand.run(['partner', 'add', 'Caisse'], cli), 2);
    assert.equal(await count(), before);
    assert.equal(await mandatesCommand.run(['partner', 'add', 'Caisse', '--redirect-uri', 'https://caisse.exemple.fr/retour', '--redirect-uri', 'https://caisse.exemple.fr/retour2'], cli), 0);
    const id = /client_id:\s+(mp_\S+)/.exec(lines.at(-1)!)![1]!;
    assert.match(lines.at(-1)!, /client_secret: \S{40,}/);
    assert.equal(await mandatesCommand.run(['partner', 'list'], cli), 0);
    assert.ok(lines.some((l) => l.startsWith(id) && l.includes('https://caisse.exemple.fr/retour2')));
    assert.equal(await mandatesCommand.run(['partner', 'revoke', id], cli), 0);
    assert.equal(await mandatesCommand.run(['partner', 'revoke', id], cli), 2);
    assert.equal(await mandatesCommand.run(['oidc-key', 'list'], cli), 0);
    // Keys: one in use, sealed (no private part in clear); rotation adds one, the only key cannot be retired.
    const keys = await listKeys(t.db);
    assert.equal(keys.filter((k) => !k.retiredAt).length, 1);
    const sealed = await t.db.query<{ sealed_jwk: string }>('SELECT sealed_jwk FROM mandates.oidc_key');
    assert.ok(sealed.rows.every((k) => !k.sealed_jwk.includes('"d"')));
    await assert.rejects(retireKey(t.ctx, keys[0]!.kid), /only key/);
    const kid = await rotateKey(t.ctx);
    await retireKey(t.ctx, keys[0]!.kid);
    assert.deepEqual((await listKeys(t.db)).filter((k) => !k.retiredAt).map((k) => k.kid), [kid]);
  });
});

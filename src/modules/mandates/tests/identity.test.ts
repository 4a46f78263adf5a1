/**
 * The person's identity through OpenID Connect, end to end against a REAL provider (dev-idp.ts:
 * `oidc-provider`, started on its own loopback port): the helper starts the check, the person
 * signs in at the provider, the callback attaches the verified identity, the person reads and
 * consents, the mandate is created with it. Then the person's own page after signing in. Every
 * refusal (replayed callback, forged state, wrong nonce, a reused check, someone else's mandate)
 * is checked on the rows, not only on the status code.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { DEV_CLIENT, DEV_IDENTITIES, startDevIdp } from '../dev-idp.ts';
import { subjectHash } from '../identity.ts';
import * as service from '../service.ts';
import { PERSON, providerPerson, snapshot, trainedHelperAccount } from './support.ts';

const { depsOf, signedInBrowser, Browser } = accountsTesting;
const PUBLIC_URL = 'http://localhost:41517';
const CALLBACK = `${PUBLIC_URL}/mandats/identite/retour`;

/** Snapshot of the mandates tables plus the identity checks (a refusal changes none of them). */
async function rows(db: Parameters<typeof snapshot>[0]) {
  return { ...(await snapshot(db) as object), flows: (await db.query('SELECT id, purpose, verified_at, sub_hash, given_name FROM mandates.identity_flow ORDER BY id')).rows };
}

/** The person at the provider (support.ts), coming back to this app. */
const atProvider = (start: string, identity: string) => providerPerson(PUBLIC_URL).signIn(start, identity);

/**
 * An on-site check to its end: the person signs in at the provider, the callback sends the browser
 * to the provider's end_session_endpoint (their session there ends at once), the provider comes
 * back; returns that last answer (303 to the mandate to read).
 */
async function checkedOnSite(b: accountsTesting.Browser, authHref: string, identity: string) {
  const person = providerPerson(PUBLIC_URL);
  const back = await b.get(await person.signIn(authHref, identity));
  assert.equal(back.status, 303, back.body.slice(0, 300));
  return b.get(await person.signOut(back.location!));
}

describe('mandates: identity through OpenID Connect', () => {
  let idp: Awaited<ReturnType<typeof startDevIdp>>;
  let t: Awaited<ReturnType<typeof testApp>>;
  let alice: accountsTesting.Browser;
  let structureId = '';
  const form = { procedures: ['argent-impots', 'logement'], duration: '6m' };

  before(async () => {
    idp = await startDevIdp([CALLBACK]);
    t = await testApp({
      publicUrl: PUBLIC_URL,
      mandatesIdentity: { issuer: idp.issuer, clientId: DEV_CLIENT.clientId, clientSecret: DEV_CLIENT.clientSecret, redirectUri: null, scope: 'openid given_name family_name birthdate', acrValues: null, label: 'FranceConnect (test)' },
    });
    const deps = depsOf(t.app);
    const { user: a, structure: s } = await trainedHelperAccount(t.ctx, 'id-alice@exemple.fr', 'Alice Aidante', { structureName: 'France Services Évreux' });
    structureId = s.id;
    alice = await signedInBrowser(t.app, deps, a, '192.0.2.60');
  });
  after(async () => {
    await t?.close();
    await idp?.close();
  });

  /** The helper starts a check; returns the provider URL (state, nonce, PKCE checked). */
  async function start(b: accountsTesting.Browser, body: Record<string, string | string[]> = { structure: structureId, ...form }) {
    await b.get('/mandats/nouveau');
    const r = await b.post('/mandats/nouveau/identite', body);
    assert.equal(r.status, 200, r.body.slice(0, 500));
    assert.match(r.body, /Donnez l’appareil à la personne/);
    const auth = new URL(/<a class="button" href="([^"]+)">S’identifier avec/.exec(r.body)![1]!.replace(/&amp;/g, '&'));
    assert.equal(auth.origin + auth.pathname, `${idp.issuer}/auth`);
    assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(auth.searchParams.get('state') && auth.searchParams.get('nonce') && auth.searchParams.get('code_challenge'));
    assert.equal(auth.searchParams.get('redirect_uri'), CALLBACK);
    return auth;
  }

  test('the form offers the provider first; the document check is the marked fallback, refused when turned off', async () => {
    const page = await alice.get('/mandats/nouveau');
    assert.match(page.body, /formaction="\/mandats\/nouveau\/identite">Vérifier l’identité avec FranceConnect \(test\)/);
    assert.match(page.body, /<legend>Solution de secours : identité vérifiée sur une pièce d’identité/);
    t.ctx.config.mandatesDocumentFallback = false;
    try {
      const before = await rows(t.db);
      const off = await alice.get('/mandats/nouveau');
      assert.doesNotMatch(off.body, /Solution de secours/);
      const r = await alice.post('/mandats/nouveau', { structure: structureId, ...PERSON, identityChecked: 'oui', consent: 'oui', procedures: 'logement', duration: '1m', step: 'confirmer' });
      assert.equal(r.status, 403);
      assert.deepEqual(await rows(t.db), before);
    } finally {
      t.ctx.config.mandatesDocumentFallback = true;
    }
  });

  test('bad scope or a structure not theirs: refused before any check starts, nothing written', async () => {
    const before = await rows(t.db);
    await alice.get('/mandats/nouveau');
    let r = await alice.post('/mandats/nouveau/identite', { structure: structureId, procedures: 'constructor', duration: '6m' });
    assert.equal(r.status, 422);
    assert.match(r.body, /Démarche inconnue/);
    r = await alice.post('/mandats/nouveau/identite', { structure: '00000000-0000-0000-0000-000000000000', ...form });
    assert.equal(r.status, 422);
    r = await alice.post('/mandats/nouveau/identite', { structure: structureId, procedures: 'logement', duration: '__proto__' });
    assert.equal(r.status, 422);
    r = await new Browser(t.app).post('/mandats/nouveau/identite', { structure: structureId, ...form }, { csrf: false });
    assert.ok(r.status === 401 || r.status === 403 || r.status === 303, `status ${r.status}`);
    assert.deepEqual(await rows(t.db), before);
  });

  let created = { id: '', reference: '' };

  test('the helper starts the check, the person signs in, the identity is attached, the person consents: the mandate is created with it', async () => {
    await start(alice);
    const auth = await start(alice); // a second start in the same browser: the latest wins, the first is left to expire
    const person = providerPerson(PUBLIC_URL);
    const callback = await person.signIn(auth.href, 'jeanne');
    assert.match(callback, /^\/mandats\/identite\/retour\?code=/);
    const atCallback = await alice.get(callback);
    assert.equal(atCallback.status, 303, atCallback.body.slice(0, 300));
    // FranceConnect's logout at once (the person used the structure's device): end_session_endpoint
    // with the id_token as hint, the registered post_logout_redirect_uri and a fresh state.
    const end = new URL(atCallback.location!);
    assert.equal(end.origin + end.pathname, `${idp.issuer}/session/end`);
    assert.equal(end.searchParams.get('post_logout_redirect_uri'), `${PUBLIC_URL}/mandats/identite/deconnexion`);
    const pending = (await t.db.query<{ id: string; id_token: string; logout_state: string }>("SELECT id, id_token, logout_state FROM mandates.identity_flow WHERE purpose = 'create' AND verified_at IS NOT NULL")).rows;
    assert.equal(pending.length, 1);
    assert.equal(end.searchParams.get('id_token_hint'), pending[0]!.id_token);
    assert.equal(end.searchParams.get('state'), pending[0]!.logout_state);
    const logoutBack = await person.signOut(end.href);
    assert.match(logoutBack, /^\/mandats\/identite\/deconnexion\?state=/);
    // The way back with a forged state, or in another browser: refused, nothing written.
    let before0 = await rows(t.db);
    assert.equal((await alice.get('/mandats/identite/deconnexion?state=forged')).status, 400);
    assert.equal((await new Browser(t.app, '192.0.2.65').get(logoutBack)).status, 400);
    assert.deepEqual(await rows(t.db), before0);
    const back = await alice.get(logoutBack);
    assert.equal(back.status, 303, back.body.slice(0, 300));
    const flowId = /^\/mandats\/nouveau\/identite\/([0-9a-f-]{36})$/.exec(back.location!)![1]!;
    assert.equal(flowId, pending[0]!.id);
    assert.deepEqual((await t.db.query('SELECT id_token, logout_state FROM mandates.identity_flow WHERE id = $1', [flowId])).rows, [{ id_token: null, logout_state: null }], 'the id_token is not kept once the session at the provider ended');
    // The way back replayed: its state served once.
    before0 = await rows(t.db);
    assert.equal((await alice.get(logoutBack)).status, 400);
    assert.deepEqual(await rows(t.db), before0);
    const flow = (await t.db.query<{ given_name: string; family_name: string; birth_date: string; sub_hash: string; issuer: string }>('SELECT given_name, family_name, birth_date::text AS birth_date, sub_hash, issuer FROM mandates.identity_flow WHERE id = $1', [flowId])).rows[0]!;
    assert.deepEqual({ ...flow }, { given_name: 'Jeanne', family_name: 'Lefèvre', birth_date: '1948-05-12', sub_hash: subjectHash(idp.issuer, DEV_IDENTITIES.jeanne!.sub), issuer: idp.issuer });
    const journal = await t.db.query<{ event: string; detail: { flow: string } }>("SELECT event, detail FROM mandates.journal WHERE event = 'identity.checked'");
    assert.equal(journal.rows.length, 1);
    assert.equal(journal.rows[0]!.detail.flow, flowId);
    assert.doesNotMatch(JSON.stringify(journal.rows), /Jeanne|Lefèvre|1948/, 'the journal holds no personal data');

    // The callback replayed (same code, same state): refused, nothing written.
    let before = await rows(t.db);
    const replay = await alice.get(callback);
    assert.equal(replay.status, 400);
    assert.match(replay.body, /déjà servi|expiré/);
    assert.deepEqual(await rows(t.db), before);

    // The mandate to read: the verified identity, French, English, Arabic; no consent: 422, nothing written.
    const page = await alice.get(back.location!);
    assert.equal(page.status, 200);
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.match(page.body, /Identité vérifiée par FranceConnect \(test\) : <strong>Jeanne Lefèvre<\/strong>/);
    assert.match(page.body, /<details[^>]* lang="ar" dir="rtl">/);
    const refused = await alice.post(back.location!, {});
    assert.equal(refused.status, 422);
    assert.match(refused.body, /donné son accord/);
    assert.deepEqual(await rows(t.db), before);
    // Someone else cannot use this check.
    const deps = depsOf(t.app);
    const { user: otherUser } = await trainedHelperAccount(t.ctx, 'id-other@exemple.fr', 'Autre');
    const other = await signedInBrowser(t.app, deps, otherUser, '192.0.2.61');
    await other.get('/mandats/nouveau');
    before = await rows(t.db);
    assert.equal((await other.post(back.location!, { consent: 'oui' })).status, 404);
    assert.deepEqual(await rows(t.db), before);

    const ok = await alice.post(back.location!, { consent: 'oui' });
    assert.equal(ok.status, 201, ok.body.slice(0, 400));
    created.reference = /Attestation de mandat n° (M-[A-Z0-9-]+)/.exec(ok.body)![1]!;
    assert.match(ok.body, /href="data:application\/pdf;base64,JVBER/);
    const m = (await t.db.query<{ id: string; identity_check: string; idp_sub_hash: string; given_name: string }>(
      'SELECT m.id, p.identity_check, p.idp_sub_hash, p.given_name FROM mandates.mandate m JOIN mandates.person p ON p.id = m.person_id WHERE m.reference = $1',
      [created.reference],
    )).rows[0]!;
    created.id = m.id;
    assert.equal(m.identity_check, 'oidc');
    assert.equal(m.idp_sub_hash, subjectHash(idp.issuer, DEV_IDENTITIES.jeanne!.sub));
    assert.equal((await t.db.query('SELECT 1 FROM mandates.identity_flow WHERE id = $1', [flowId])).rows.length, 0, 'the check is used up');
    const got = (await service.getMandate(t.db, m.id))!;
    assert.deepEqual(got.procedures.map((p) => p.procedure), ['argent-impots', 'logement']);
    assert.equal(got.duration, '6m');

    // The same check again: 404, nothing written.
    before = await rows(t.db);
    assert.equal((await alice.post(back.location!, { consent: 'oui' })).status, 404);
    assert.deepEqual(await rows(t.db), before);
  });

  test('a second mandate with the same identity in the same structure reuses the person', async () => {
    const auth = await start(alice, { structure: structureId, procedures: 'justice', duration: '1d' });
    const back = await checkedOnSite(alice, auth.href, 'jeanne');
    const ok = await alice.post(back.location!, { consent: 'oui' });
    assert.equal(ok.status, 201);
    const people = await t.db.query("SELECT id FROM mandates.person WHERE identity_check = 'oidc' AND idp_sub_hash = $1", [subjectHash(idp.issuer, DEV_IDENTITIES.jeanne!.sub)]);
    assert.equal(people.rows.length, 1);
  });

  test('a forged state, or the callback in another browser: refused, nothing written', async () => {
    const auth = await start(alice);
    const callback = await atProvider(auth.href, 'karim');
    const before = await rows(t.db);
    const forged = callback.replace(/state=[^&]+/, 'state=forged-state');
    assert.equal((await alice.get(forged)).status, 400);
    assert.equal((await new Browser(t.app, '192.0.2.62').get(callback)).status, 400, 'the state is bound to the browser that started the check');
    assert.equal((await alice.get('/mandats/identite/retour?code=x&state=' + 'a'.repeat(300))).status, 400);
    assert.equal((await alice.get('/mandats/identite/retour')).status, 400);
    assert.deepEqual(await rows(t.db), before);
    // The provider answers an error (the person cancelled): refused, nothing written.
    const state = auth.searchParams.get('state')!;
    const res = await alice.get(`/mandats/identite/retour?error=access_denied&state=${state}`);
    assert.equal(res.status, 400);
    assert.deepEqual(await rows(t.db), before);
  });

  test('an id_token whose nonce is not the one sent: refused by openid-client, nothing written', async () => {
    const auth = await start(alice);
    // The stored nonce differs from the one the provider puts in the id_token (a token minted for another request).
    await t.db.query("UPDATE mandates.identity_flow SET nonce = 'un-autre-nonce' WHERE state = $1", [auth.searchParams.get('state')]);
    const callback = await atProvider(auth.href, 'karim');
    const before = await rows(t.db);
    const r = await alice.get(callback);
    assert.equal(r.status, 400);
    assert.match(r.body, /n’a pas pu être vérifiée/);
    assert.deepEqual(await rows(t.db), before);
  });

  test('a person under 15 cannot give a mandate alone: refused at consent, nothing written', async () => {
    const auth = await start(alice);
    const back = await checkedOnSite(alice, auth.href, 'young');
    assert.equal(back.status, 303);
    const before = await rows(t.db);
    const r = await alice.post(back.location!, { consent: 'oui' });
    assert.equal(r.status, 400);
    assert.deepEqual(await rows(t.db), before);
  });

  test('the person signs in on their own page: all their mandates, revoke one démarche then all (with a revocation attestation); no one else’s', async () => {
    const person = new Browser(t.app, '192.0.2.63');
    let page = await person.get('/mandats/mon-mandat');
    assert.match(page.body, /S’identifier avec FranceConnect \(test\)/);
    const go = await person.get('/mandats/mon-mandat/identite');
    assert.equal(go.status, 303);
    const back = await person.get(await atProvider(go.location!, 'jeanne'));
    assert.equal(back.location, '/mandats/mon-mandat');
    page = await person.get('/mandats/mon-mandat');
    assert.equal(page.status, 200);
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.match(page.body, new RegExp(`Mandat ${created.reference} — France Services Évreux`));
    assert.match(page.body, /vos 2 mandats/);
    const audit = await t.db.query("SELECT after FROM platform.audit_entry WHERE action = 'mandates.identity.person_signin'");
    assert.equal(audit.rows.length, 1);

    // Karim (another identity) sees none of them and cannot revoke Jeanne's.
    const karim = new Browser(t.app, '192.0.2.64');
    await karim.get('/mandats/mon-mandat');
    const k = await karim.get('/mandats/mon-mandat/identite');
    await karim.get(await atProvider(k.location!, 'karim'));
    const kp = await karim.get('/mandats/mon-mandat');
    assert.match(kp.body, /Aucun mandat n’a été donné avec cette identité/);
    assert.doesNotMatch(kp.body, new RegExp(created.reference));
    let before = await rows(t.db);
    assert.equal((await karim.post('/mandats/mon-mandat/revoquer', { mandate: created.id })).status, 404);
    assert.equal((await karim.download(`/mandats/mon-mandat/${created.id}/revocation.pdf`)).status, 404);
    // No session: back to the page; no CSRF token: refused.
    assert.equal((await new Browser(t.app).post('/mandats/mon-mandat/revoquer', { mandate: created.id }, { csrf: false })).status, 403);
    assert.deepEqual(await rows(t.db), before);

    await person.get('/mandats/mon-mandat');
    let r = await person.post('/mandats/mon-mandat/revoquer', { mandate: created.id, procedure: 'logement' });
    assert.equal(r.status, 200);
    assert.match(r.body, /La démarche est retirée du mandat/);
    r = await person.post('/mandats/mon-mandat/revoquer', { mandate: created.id });
    assert.match(r.body, new RegExp(`Le mandat ${created.reference} est révoqué`));
    const m = (await service.getMandate(t.db, created.id))!;
    assert.equal(m.status, 'revoked');
    assert.equal(m.revokedByKind, 'person');
    const events = (await t.db.query<{ event: string; actor_kind: string }>('SELECT event, actor_kind FROM mandates.journal WHERE mandate_id = $1 ORDER BY id', [created.id])).rows;
    assert.deepEqual(events.slice(-2), [{ event: 'mandate.procedure_revoked', actor_kind: 'person' }, { event: 'mandate.revoked', actor_kind: 'person' }]);
    const pdf = await person.download(`/mandats/mon-mandat/${created.id}/revocation.pdf`);
    assert.equal(pdf.status, 200);
    assert.equal(pdf.headers['content-type'], 'application/pdf');
    assert.equal(pdf.bytes.subarray(0, 5).toString(), '%PDF-');
    // Revoking again: 409, nothing written.
    before = await rows(t.db);
    r = await person.post('/mandats/mon-mandat/revoquer', { mandate: created.id });
    assert.equal(r.status, 409);
    assert.deepEqual(await rows(t.db), before);

    // Signing out: a link (token from the browser's cookie) that ends the session here and sends the
    // browser to the provider's end_session_endpoint (id_token_hint, post_logout_redirect_uri, state).
    page = await person.get('/mandats/mon-mandat');
    const link = /href="(\/mandats\/mon-mandat\/deconnexion\?jeton=[0-9a-f]{32})"/.exec(page.body)![1]!;
    before = await rows(t.db);
    const forged = await person.get('/mandats/mon-mandat/deconnexion?jeton=0123456789abcdef0123456789abcdef');
    assert.equal(forged.location, '/mandats/mon-mandat');
    assert.deepEqual(await rows(t.db), before, 'a forged logout link changes nothing');
    const out = await person.get(link);
    assert.equal(out.status, 303);
    const end = new URL(out.location!);
    assert.equal(end.origin + end.pathname, `${idp.issuer}/session/end`);
    assert.ok(end.searchParams.get('id_token_hint') && end.searchParams.get('state'));
    assert.equal(end.searchParams.get('post_logout_redirect_uri'), `${PUBLIC_URL}/mandats/identite/deconnexion`);
    page = await person.get('/mandats/mon-mandat');
    assert.doesNotMatch(page.body, new RegExp(created.reference), 'the session here ended at once');
    // The form (no provider logout) still ends it too.
    await person.post('/mandats/mon-mandat/deconnexion', {});
    page = await person.get('/mandats/mon-mandat');
    assert.doesNotMatch(page.body, new RegExp(created.reference));
    assert.match(page.body, /Code de révocation/);
  });

  test('the purge deletes the subject with the identity', async () => {
    const n = await service.purgeIdentities(t.ctx, 0, new Date(Date.now() + 400 * 24 * 3600_000));
    assert.ok(n >= 1);
    const left = await t.db.query('SELECT 1 FROM mandates.person WHERE purged_at IS NOT NULL AND (idp_sub_hash IS NOT NULL OR idp_issuer IS NOT NULL)');
    assert.equal(left.rows.length, 0);
  });
});

describe('mandates: identity provider down', () => {
  test('starting a check answers 502 and writes nothing', async () => {
    const t = await testApp({ publicUrl: PUBLIC_URL, mandatesIdentity: { issuer: 'http://127.0.0.1:9', clientId: 'x', clientSecret: 'y', redirectUri: null, scope: 'openid', acrValues: null, label: 'FranceConnect' } });
    try {
      const deps = depsOf(t.app);
      const { user: a, structure: s } = await trainedHelperAccount(t.ctx, 'down@exemple.fr', 'A');
      const b = await signedInBrowser(t.app, deps, a);
      await b.get('/mandats/nouveau');
      const r = await b.post('/mandats/nouveau/identite', { structure: s.id, procedures: 'logement', duration: '1d' });
      assert.equal(r.status, 502);
      assert.match(r.body, /FranceConnect ne répond pas/);
      assert.equal((await t.db.query('SELECT 1 FROM mandates.identity_flow')).rows.length, 0);
    } finally {
      await t.close();
    }
  });
});

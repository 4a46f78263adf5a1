/**
 * « Qui peut voter » with an OpenID Connect provider per process, end to end against a REAL
 * provider (oidc-provider.ts, on its own loopback port; no mock of openid-client): staff configure
 * it (secret sealed, never shown back, audited), a participant checks their identity (PKCE, state
 * bound to the account and the process, nonce), then votes; the provider's subject is bound to one
 * account per process. Every refusal (vote or checkout without a check, replayed callback, forged or
 * foreign state, wrong nonce, a second account with the same subject, too young, outside the
 * territory, concurrent callbacks) is checked on the rows: no ballot, no binding, nothing written.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting, openSealedSecret } from '../../accounts/index.ts';
import { subjectHash } from '../identity.ts';
import * as svc from '../service.ts';
import { CLIENT, atProvider, startProvider } from './oidc-provider.ts';
import { makeProcess, snapshot } from './support.ts';

const { depsOf, makeUser, signedInBrowser, Browser } = accountsTesting;
const PUBLIC_URL = 'http://localhost:41701';
const CALLBACK = `${PUBLIC_URL}/concertations/identite/retour`;
type B = accountsTesting.Browser;

describe('consultation: identity checked by an OpenID Connect provider per process', () => {
  let idp: Awaited<ReturnType<typeof startProvider>>;
  let t: Awaited<ReturnType<typeof testApp>>;
  let p: svc.Process;
  let b: svc.Budget;
  let projectId = '';
  let staff: B;
  let n = 0;
  const person = async (label: string) => {
    const u = await makeUser(depsOf(t.app), `id-personne-${++n}@exemple.fr`, [], label);
    return { user: u, browser: await signedInBrowser(t.app, depsOf(t.app), u, `192.0.2.${(n % 200) + 20}`) };
  };
  /** Rows a refusal must leave as they were: every table, the flows (used or not), the checks, the provider. */
  const rows = async () => ({
    ...(await snapshot(t.db)),
    flows: (await t.db.query('SELECT id, used_at FROM consultation.identity_flow ORDER BY id')).rows,
    checks: (await t.db.query('SELECT process_id, user_id, sub_hash, min_age_checked, departement FROM consultation.identity_check ORDER BY process_id, user_id')).rows,
    providers: (await t.db.query('SELECT * FROM consultation.identity_provider ORDER BY process_id')).rows,
  });
  const budgetUrl = () => `/concertations/${p.slug}/budgets/${b.slug}`;

  before(async () => {
    idp = await startProvider(CALLBACK);
    t = await testApp({ publicUrl: PUBLIC_URL });
    p = await makeProcess(t.db, { proposals: true, votes: true }, { minAge: 16 });
    await svc.createBudget({ db: t.db }, null, p.id, { slug: 'region', title: 'Budget régional', departement: null, amountCents: 50_000, rule: 'minimum', thresholdPct: 70, minProjects: 1, maxProjects: null });
    b = (await svc.getBudget(t.db, p.id, 'region'))!;
    projectId = await svc.createProject({ db: t.db }, null, b.id, { title: 'Un tiers-lieu numérique', costCents: 20_000 });
    const s = await makeUser(depsOf(t.app), 'id-staff@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '27' }], 'Équipe BFC');
    staff = await signedInBrowser(t.app, depsOf(t.app), s, '192.0.2.250');
  });
  after(async () => {
    await t?.close();
    await idp?.close();
  });

  const settings = () => ({ label: 'FranceConnect (test)', issuer: idp.issuer, clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret, scopes: 'openid birthdate', requiredClaim: 'birthdate', use_votes: '1', use_proposals: '1' });

  test('staff configure the provider: errors named, nothing saved; the secret sealed, never shown back nor audited', async () => {
    const form = `/gestion/concertations/${p.slug}/identite`;
    const page = await staff.get(form);
    assert.equal(page.status, 200);
    assert.match(page.body, new RegExp(`Adresse de retour à déclarer chez le fournisseur : <code>${CALLBACK}</code>`));
    const outsider = await signedInBrowser(t.app, depsOf(t.app), await makeUser(depsOf(t.app), 'id-staff28@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '28' }], 'Normandie'), '192.0.2.251');
    await outsider.get('/gestion');
    let before = await rows();
    const bad = await staff.post(form, { label: '', issuer: 'javascript:alert(1)', clientId: 'a b', clientSecret: '', scopes: 'profile', requiredClaim: '__proto__', constructor: 'x' });
    assert.equal(bad.status, 422);
    for (const f of ['label', 'issuer', 'clientId', 'clientSecret', 'scopes', 'requiredClaim']) assert.match(bad.body, new RegExp(`href="#f-${f}"`), f);
    assert.equal((await staff.post(form, { ...settings(), issuer: `${idp.issuer}/?x=1` })).status, 422);
    assert.equal((await staff.post(form, settings(), { csrf: false })).status, 403);
    assert.equal((await outsider.post(form, settings())).status, 403);
    assert.deepEqual(await rows(), before);

    const ok = await staff.post(form, settings());
    assert.equal(ok.status, 303, ok.body.slice(0, 400));
    const row = (await t.db.query<{ client_secret_sealed: string; subject_key_sealed: string; required_for: string[]; required_claim: string }>('SELECT * FROM consultation.identity_provider WHERE process_id = $1', [p.id])).rows[0]!;
    assert.ok(!row.client_secret_sealed.includes(CLIENT.client_secret) && row.client_secret_sealed.length > 20, 'the secret is sealed');
    assert.deepEqual(row.required_for, ['votes', 'proposals']);
    assert.equal(row.required_claim, 'birthdate');
    const audit = (await t.db.query<{ action: string; before_data: unknown; after_data: unknown }>("SELECT * FROM platform.audit_entry WHERE action = 'consultation.identity.configure'")).rows;
    assert.equal(audit.length, 1);
    assert.doesNotMatch(JSON.stringify(audit), /un secret de test|client_secret_sealed/);
    const again = await staff.get(form);
    assert.doesNotMatch(again.body, /un secret de test/, 'never shown back');
    assert.match(again.body, /Laissez vide pour le garder/);
    // Saved again without retyping the secret: kept as it was.
    before = await rows();
    assert.equal((await staff.post(form, { ...settings(), clientSecret: '' })).status, 303);
    const kept = (await t.db.query<{ client_secret_sealed: string; subject_key_sealed: string }>('SELECT client_secret_sealed, subject_key_sealed FROM consultation.identity_provider WHERE process_id = $1', [p.id])).rows[0]!;
    assert.equal(openSealedSecret(t.ctx.config, kept.client_secret_sealed), CLIENT.client_secret);
    assert.equal(openSealedSecret(t.ctx.config, kept.subject_key_sealed), openSealedSecret(t.ctx.config, row.subject_key_sealed), 'the subjects’ key never changes');
    // The API and open data say nothing of it.
    const api = await new Browser(t.app).get(`/api/v1/consultation/processes/${p.slug}`);
    assert.doesNotMatch(api.body, /client|secret|maillage-concertations-test/);
    p = (await svc.getProcess(t.db, p.slug))!;
    assert.equal(p.identity?.label, 'FranceConnect (test)');
  });

  /** Starts a check from the participant's link; returns the provider's authorization URL. */
  async function start(who: B, retour = budgetUrl()): Promise<URL> {
    const r = await who.get(`/concertations/${p.slug}/identite?retour=${encodeURIComponent(retour)}`);
    assert.equal(r.status, 303, r.body.slice(0, 300));
    const auth = new URL(r.location!);
    assert.equal(auth.origin, idp.issuer);
    assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(auth.searchParams.get('state') && auth.searchParams.get('nonce') && auth.searchParams.get('code_challenge'));
    assert.equal(auth.searchParams.get('redirect_uri'), CALLBACK);
    assert.equal(auth.searchParams.get('client_id'), CLIENT.client_id);
    return auth;
  }

  test('without a check: the basket, the proposal and the checkout are refused on the server, nothing written', async () => {
    const { user, browser } = await person('Sans vérification');
    const page = await browser.get(budgetUrl());
    assert.match(page.body, /Vérifier mon identité avec FranceConnect \(test\)/);
    assert.doesNotMatch(page.body, /Ajouter au panier/);
    const proc = await browser.get(`/concertations/${p.slug}`);
    assert.match(proc.body, /Pour voter et déposer ou modifier une proposition, chaque personne vérifie une fois son identité avec FranceConnect \(test\)/);
    const newForm = await browser.get(`/concertations/${p.slug}/propositions/nouvelle`); // a form, for its CSRF token
    assert.match(newForm.body, /href="\/concertations\/[\w-]+\/identite\?retour=%2Fconcertations%2F[\w-]+%2Fpropositions%2Fnouvelle"/);
    const before = await rows();
    const add = await browser.post(`${budgetUrl()}/panier`, { op: 'add', projectId });
    assert.equal(add.status, 403);
    assert.match(add.body, /vérifiez d’abord votre identité avec FranceConnect \(test\)/);
    assert.equal((await browser.post(`${budgetUrl()}/vote`, { birthYear: '1980' })).status, 403);
    assert.equal((await browser.post(`/concertations/${p.slug}/propositions`, { title: 'Une proposition sans identité', body: 'Elle ne doit pas être enregistrée du tout.', category: 'Thème A' })).status, 403);
    assert.deepEqual(await rows(), before);
    // A basket filled while no check was required: the checkout itself refuses once it is.
    await t.db.query("UPDATE consultation.identity_provider SET required_for = '{}' WHERE process_id = $1", [p.id]);
    const free = (await svc.getProcess(t.db, p.slug))!;
    const who = { id: user.id, emailVerified: true, createdAt: new Date(0).toISOString() };
    await svc.addToBasket({ db: t.db }, free, b, who, projectId);
    await t.db.query("UPDATE consultation.identity_provider SET required_for = '{votes,proposals}' WHERE process_id = $1", [p.id]);
    const before2 = await rows();
    await assert.rejects(svc.checkout({ db: t.db }, p, b, who, { birthYear: '1980' }), (e: Error & { code?: string }) => e.code === 'identity_required');
    assert.equal((await browser.post(`${budgetUrl()}/vote`, { birthYear: '1980' })).status, 403);
    assert.deepEqual(await rows(), before2);
    assert.equal((await t.db.query('SELECT 1 FROM consultation.ballot WHERE user_id = $1', [user.id])).rows.length, 0);
  });

  let camille: { user: accountsTesting.TestUser; browser: B };
  let firstCallback = '';

  test('happy path: the check binds the subject (hashed) to the account, then the vote goes through without asking the age again', async () => {
    camille = await person('Camille');
    const anon = await new Browser(t.app).get(`/concertations/${p.slug}/identite`);
    assert.equal(anon.status, 303);
    assert.match(anon.location!, /^\/compte\/connexion\?retour=/);
    const auth = await start(camille.browser);
    const flow = (await t.db.query<{ state_hash: string; user_id: string; process_id: string }>('SELECT state_hash, user_id, process_id FROM consultation.identity_flow WHERE user_id = $1', [camille.user.id])).rows[0]!;
    assert.notEqual(flow.state_hash, auth.searchParams.get('state'), 'only a hash of the state is kept');
    assert.equal(flow.process_id, p.id);
    firstCallback = await atProvider(auth.href, 'sub-camille', PUBLIC_URL);
    assert.match(firstCallback, /^\/concertations\/identite\/retour\?code=/);
    const back = await camille.browser.get(firstCallback);
    assert.equal(back.status, 303, back.body.slice(0, 500));
    assert.equal(back.location, budgetUrl());
    const check = (await t.db.query<{ sub_hash: string; issuer: string; min_age_checked: number; departement: string | null }>('SELECT * FROM consultation.identity_check WHERE user_id = $1', [camille.user.id])).rows[0]!;
    assert.equal(check.issuer, idp.issuer);
    assert.equal(check.min_age_checked, 16);
    assert.equal(check.departement, null);
    assert.doesNotMatch(JSON.stringify(await t.db.query('SELECT * FROM consultation.identity_check')), /sub-camille|1985/, 'neither the subject nor the birth date in clear');
    assert.equal(check.sub_hash.length, 43);
    assert.equal((await t.db.query("SELECT 1 FROM platform.audit_entry WHERE action = 'consultation.identity.check' AND actor_id = $1", [camille.user.id])).rows.length, 1);

    const page = await camille.browser.get(budgetUrl());
    assert.match(page.body, /Votre identité est vérifiée par FranceConnect \(test\)/);
    assert.match((await camille.browser.post(`${budgetUrl()}/panier`, { op: 'add', projectId })).body, /1 projet choisi/);
    const confirm = await camille.browser.get(`${budgetUrl()}/confirmer`);
    assert.doesNotMatch(confirm.body, /name="birthYear"/, 'the age limit was checked by the provider');
    const vote = await camille.browser.post(`${budgetUrl()}/vote`, {});
    assert.equal(vote.status, 200, vote.body.slice(0, 300));
    assert.equal((await t.db.query('SELECT 1 FROM consultation.ballot WHERE user_id = $1', [camille.user.id])).rows.length, 1);
    // Starting again once checked: straight back, no new flow.
    const flows = (await t.db.query('SELECT count(*)::int AS n FROM consultation.identity_flow')).rows[0];
    const again = await camille.browser.get(`/concertations/${p.slug}/identite?retour=${encodeURIComponent(budgetUrl())}`);
    assert.equal(again.location, budgetUrl());
    assert.deepEqual((await t.db.query('SELECT count(*)::int AS n FROM consultation.identity_flow')).rows[0], flows);
  });

  test('the callback replayed, a forged state, another account’s state, no state, signed out: refused, nothing written', async () => {
    const before = await rows();
    const replay = await camille.browser.get(firstCallback);
    assert.equal(replay.status, 400);
    assert.match(replay.body, /expiré, a déjà servi/);
    const { browser: other } = await person('Dominique');
    const auth = await start(other);
    const callback = await atProvider(auth.href, 'sub-malik', PUBLIC_URL);
    const before2 = await rows();
    assert.equal((await other.get(callback.replace(/state=[^&]+/, 'state=un-etat-forge'))).status, 400);
    assert.equal((await camille.browser.get(callback)).status, 400, 'the state is bound to the account that started the check');
    assert.equal((await other.get('/concertations/identite/retour?code=abc')).status, 400);
    assert.equal((await other.get(`/concertations/identite/retour?code=abc&state=${'a'.repeat(300)}`)).status, 400);
    assert.equal((await new Browser(t.app).get(callback)).status, 401);
    assert.equal((await other.get(`/concertations/identite/retour?error=access_denied&state=${auth.searchParams.get('state')}`)).status, 400);
    assert.deepEqual(await rows(), before2);
    assert.deepEqual((await rows()).checks, before.checks);
    // The genuine callback still works once.
    assert.equal((await other.get(callback)).status, 303);
    assert.equal((await other.get(callback)).status, 400);
  });

  test('an id_token whose nonce is not the one sent: refused by openid-client, nothing written', async () => {
    const { user, browser } = await person('Nonce');
    const auth = await start(browser);
    // The stored nonce differs from the one the provider puts in the id_token (a token minted for another request).
    await t.db.query("UPDATE consultation.identity_flow SET nonce = 'un-autre-nonce' WHERE user_id = $1", [user.id]);
    const callback = await atProvider(auth.href, 'sub-malik', PUBLIC_URL);
    const before = await rows();
    const r = await browser.get(callback);
    assert.equal(r.status, 400);
    assert.match(r.body, /n’a pas pu être vérifiée/);
    assert.deepEqual(await rows(), before);
  });

  test('one person, one account: a second account with the same subject is refused (and cannot vote); nothing bound', async () => {
    const { user, browser } = await person('Double');
    const auth = await start(browser);
    const callback = await atProvider(auth.href, 'sub-camille', PUBLIC_URL);
    const before = await rows();
    const r = await browser.get(callback);
    assert.equal(r.status, 409);
    assert.match(r.body, /Cette identité a déjà été vérifiée avec un autre compte pour cette concertation/);
    assert.deepEqual(await rows(), before);
    assert.equal((await browser.post(`${budgetUrl()}/panier`, { op: 'add', projectId })).status, 403);
    assert.deepEqual(await rows(), before);
    assert.equal((await t.db.query('SELECT 1 FROM consultation.identity_check WHERE user_id = $1', [user.id])).rows.length, 0);
  });

  test('concurrent callbacks: 6 accounts with the same subject → exactly one binding; one account, two subjects → one', async () => {
    const people = await Promise.all(Array.from({ length: 6 }, (_, i) => person(`Course ${i}`)));
    const callbacks: string[] = [];
    for (const x of people) callbacks.push(await atProvider((await start(x.browser)).href, 'sub-parisien', PUBLIC_URL));
    const before = await rows();
    const statuses = await Promise.all(people.map((x, i) => x.browser.get(callbacks[i]!).then((r) => r.status)));
    assert.equal(statuses.filter((s) => s === 303).length, 1, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 409).length, 5, statuses.join(','));
    const bound = (await t.db.query<{ user_id: string }>('SELECT user_id FROM consultation.identity_check WHERE user_id = ANY($1::uuid[])', [people.map((x) => x.user.id)])).rows;
    assert.equal(bound.length, 1);
    assert.equal((await rows()).checks.length, before.checks.length + 1);

    // One account, two checks started before either finished, two different subjects: one binding, the other refused.
    const { user, browser } = await person('Deux identités');
    const a = await atProvider((await start(browser)).href, 'sub-alex', PUBLIC_URL);
    const b2 = await atProvider((await start(browser)).href, 'sub-bea', PUBLIC_URL);
    const both = await Promise.all([browser.get(a), browser.get(b2)]);
    assert.deepEqual(both.map((r) => r.status).sort(), [303, 409]);
    assert.match(both.find((r) => r.status === 409)!.body, /déjà lié à une autre identité/);
    assert.equal((await t.db.query('SELECT 1 FROM consultation.identity_check WHERE user_id = $1', [user.id])).rows.length, 1);
  });

  test('one genuine callback sent 50 times at once: one binding, one audit entry, the 49 others refused', async () => {
    const { user, browser } = await person('Rafale');
    const callback = await atProvider((await start(browser)).href, 'sub-rafale', PUBLIC_URL);
    const before = await rows();
    const audits = async () => (await t.db.query("SELECT 1 FROM platform.audit_entry WHERE action = 'consultation.identity.check' AND actor_id = $1", [user.id])).rows.length;
    const statuses = await Promise.all(Array.from({ length: 50 }, () => browser.get(callback).then((r) => r.status)));
    assert.equal(statuses.filter((s) => s === 303).length, 1, statuses.join(','));
    assert.ok(statuses.every((s) => s === 303 || s === 400 || s === 429), statuses.join(','));
    assert.equal((await t.db.query('SELECT 1 FROM consultation.identity_check WHERE user_id = $1', [user.id])).rows.length, 1);
    assert.equal((await rows()).checks.length, before.checks.length + 1);
    assert.equal(await audits(), 1, 'the one binding audited once');
  });

  test('the required claim: a birth date too young, or none given: refused, nothing bound', async () => {
    for (const [sub, status, message] of [['sub-jeune', 403, /ouverte à partir de 16 ans/], ['sub-anonyme', 403, /n’a pas donné votre date de naissance/]] as const) {
      const { user, browser } = await person(sub);
      const callback = await atProvider((await start(browser)).href, sub, PUBLIC_URL);
      const before = await rows();
      const r = await browser.get(callback);
      assert.equal(r.status, status);
      assert.match(r.body, message);
      assert.deepEqual(await rows(), before);
      assert.equal((await t.db.query('SELECT 1 FROM consultation.identity_check WHERE user_id = $1', [user.id])).rows.length, 0);
    }
  });

  test('residence by the provider’s postal code: outside the territory refused; inside, the budget of another département refused', async () => {
    const q = await makeProcess(t.db, { votes: true }, { residenceRequired: true });
    await svc.createBudget({ db: t.db }, null, q.id, { slug: 'cote-d-or', title: 'Côte-d’Or', departement: '21', amountCents: 50_000, rule: 'minimum', thresholdPct: 70, minProjects: 1, maxProjects: null });
    await svc.createBudget({ db: t.db }, null, q.id, { slug: 'doubs', title: 'Doubs', departement: '25', amountCents: 50_000, rule: 'minimum', thresholdPct: 70, minProjects: 1, maxProjects: null });
    const dijon = (await svc.getBudget(t.db, q.id, 'cote-d-or'))!;
    const doubs = (await svc.getBudget(t.db, q.id, 'doubs'))!;
    const inDijon = await svc.createProject({ db: t.db }, null, dijon.id, { title: 'Projet dijonnais', costCents: 10_000 });
    const inDoubs = await svc.createProject({ db: t.db }, null, doubs.id, { title: 'Projet du Doubs', costCents: 10_000 });
    await staff.get(`/gestion/concertations/${q.slug}/identite`);
    assert.equal((await staff.post(`/gestion/concertations/${q.slug}/identite`, { ...settings(), scopes: 'openid address', requiredClaim: 'postal_code', use_proposals: '' })).status, 303);
    const save = p;
    p = (await svc.getProcess(t.db, q.slug))!;
    try {
      const paris = await person('Parisien');
      const cb = await atProvider((await start(paris.browser, `/concertations/${q.slug}`)).href, 'sub-parisien', PUBLIC_URL);
      const before = await rows();
      const r = await paris.browser.get(cb);
      assert.equal(r.status, 403);
      assert.match(r.body, /réservée aux habitants de son territoire/);
      assert.deepEqual(await rows(), before);

      const camille2 = await person('Camille bis');
      const ok = await camille2.browser.get(await atProvider((await start(camille2.browser, `/concertations/${q.slug}`)).href, 'sub-camille', PUBLIC_URL));
      assert.equal(ok.status, 303, 'the same subject may take part in another process');
      assert.equal((await t.db.query<{ departement: string }>('SELECT departement FROM consultation.identity_check WHERE user_id = $1', [camille2.user.id])).rows[0]!.departement, '21');
      // Doubs: the provider's address is in Côte-d'Or.
      const base = `/concertations/${q.slug}/budgets`;
      await camille2.browser.get(`${base}/doubs`);
      await camille2.browser.post(`${base}/doubs/panier`, { op: 'add', projectId: inDoubs });
      const before2 = await rows();
      const refused = await camille2.browser.post(`${base}/doubs/vote`, { postalCode: '25000' });
      assert.equal(refused.status, 403);
      assert.match(refused.body, /réservé aux habitants du département 25/);
      assert.deepEqual(await rows(), before2);
      await camille2.browser.get(`${base}/cote-d-or`);
      await camille2.browser.post(`${base}/cote-d-or/panier`, { op: 'remove', projectId: inDoubs }).catch(() => undefined);
      await camille2.browser.post(`${base}/cote-d-or/panier`, { op: 'add', projectId: inDijon });
      const confirm = await camille2.browser.get(`${base}/cote-d-or/confirmer`);
      assert.doesNotMatch(confirm.body, /name="postalCode"/, 'residence was checked by the provider');
      assert.equal((await camille2.browser.post(`${base}/cote-d-or/vote`, {})).status, 200);
      // The issuer cannot change once identities were checked with it (another provider = other subjects).
      const before3 = await rows();
      const frozen = await staff.post(`/gestion/concertations/${q.slug}/identite`, { ...settings(), issuer: 'https://autre-fournisseur.exemple.fr' });
      assert.equal(frozen.status, 409);
      assert.match(frozen.body, /ne peut plus changer/);
      assert.deepEqual(await rows(), before3);
    } finally {
      p = save;
    }
  });

  test('the client id cannot change either once identities were checked (FranceConnect gives each client its own subjects: a person could bind a second account)', async () => {
    assert.ok((await t.db.query('SELECT 1 FROM consultation.identity_check WHERE process_id = $1', [p.id])).rows.length > 0);
    const form = `/gestion/concertations/${p.slug}/identite`;
    await staff.get(form);
    const before = await rows();
    const frozen = await staff.post(form, { ...settings(), clientId: 'un-autre-client', clientSecret: 'un-autre-secret' });
    assert.equal(frozen.status, 409, frozen.body.slice(0, 300));
    assert.match(frozen.body, /href="#f-clientId"/);
    assert.match(frozen.body, /Identifiant client : il ne peut plus changer/);
    assert.deepEqual(await rows(), before);
    // The same client with its secret retyped (a rotation of the secret) is still accepted.
    assert.equal((await staff.post(form, settings())).status, 303);
  });

  test('the subject hash is keyed: not the bare sha-256 of the subject', async () => {
    const check = (await t.db.query<{ sub_hash: string }>('SELECT sub_hash FROM consultation.identity_check WHERE user_id = $1', [camille.user.id])).rows[0]!;
    assert.notEqual(check.sub_hash, subjectHash('', idp.issuer, 'sub-camille'));
  });
});

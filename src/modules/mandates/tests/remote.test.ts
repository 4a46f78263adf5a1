/**
 * Remote consent with the identity proved through OpenID Connect (remote.ts), end to end against a
 * REAL provider (dev-idp.ts on its own loopback port) and the development SMS outbox: the helper
 * sends the link, the person opens it on their own phone (another browser), signs in at the
 * provider, reads and accepts; the mandate carries the verified identity; then FranceConnect's
 * logout (end_session with id_token_hint, post_logout_redirect_uri, state checked). Every refusal is
 * checked on the rows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { DEV_CLIENT, DEV_IDENTITIES, startDevIdp } from '../dev-idp.ts';
import { subjectHash } from '../identity.ts';
import { readSmsOutbox } from '../sms.ts';
import { verifyJournal } from '../service.ts';
import { providerPerson, snapshot, trainedHelperAccount } from './support.ts';

const { depsOf, signedInBrowser, Browser } = accountsTesting;
const PUBLIC_URL = 'http://localhost:41617';
const CALLBACK = `${PUBLIC_URL}/mandats/identite/retour`;

describe('mandates: remote consent, identity checked with FranceConnect on the person’s phone', () => {
  let idp: Awaited<ReturnType<typeof startDevIdp>>;
  let t: Awaited<ReturnType<typeof testApp>>;
  let alice: accountsTesting.Browser;
  let structureId = '';
  const rows = async () => ({
    ...(await snapshot(t.db) as object),
    consents: (await t.db.query('SELECT id, state, phone, draft, answered_at, mandate_id, method FROM mandates.sms_consent ORDER BY id')).rows,
    flows: (await t.db.query('SELECT id, purpose, verified_at, given_name, logout_state FROM mandates.identity_flow ORDER BY id')).rows,
  });

  before(async () => {
    idp = await startDevIdp([CALLBACK]);
    t = await testApp({
      publicUrl: PUBLIC_URL,
      mandatesIdentity: { issuer: idp.issuer, clientId: DEV_CLIENT.clientId, clientSecret: DEV_CLIENT.clientSecret, redirectUri: null, scope: 'openid given_name family_name birthdate', acrValues: null, label: 'FranceConnect (test)' },
      sms: { provider: 'outbox', apiUrl: 'https://api.brevo.com/v3/transactionalSMS/send', apiKey: null, sender: 'Maillage', webhookSecret: 'x' },
    });
    const { user, structure } = await trainedHelperAccount(t.ctx, 'rm-alice@exemple.fr', 'Alice Aidante', { structureName: 'France Services Dieppe' });
    structureId = structure.id;
    alice = await signedInBrowser(t.app, depsOf(t.app), user, '192.0.2.70');
  });
  after(async () => {
    await t?.close();
    await idp?.close();
  });

  /** The helper sends the link; returns the request id and the link's path. */
  async function send(procedures: string | string[] = ['logement', 'social-sante'], duration = '1y') {
    const form = await alice.get('/mandats/nouveau');
    assert.match(form.body, /formaction="\/mandats\/nouveau\/sms-identite">Envoyer le lien par SMS/);
    const r = await alice.post('/mandats/nouveau/sms-identite', { structure: structureId, procedures, duration, phone: '06 11 22 33 44' });
    assert.equal(r.status, 303, r.body.slice(0, 400));
    const consentId = /^\/mandats\/sms\/([0-9a-f-]{36})$/.exec(r.location!)![1]!;
    const sms = (await readSmsOutbox(t.db, 1))[0]!;
    assert.equal(sms.recipient, '+33611223344');
    assert.doesNotMatch(sms.body, /OUI \d{6}/, 'no code to answer: the identity is proved at the provider');
    const link = new RegExp(`${PUBLIC_URL}(/mandats/accord/[A-Za-z0-9_-]{43})`).exec(sms.body)![1]!;
    return { consentId, link };
  }

  test('end to end: link by SMS, identity at the provider on the phone, consent; the mandate carries the verified identity; then logout at the provider', async () => {
    const { consentId, link } = await send();
    const waiting = await alice.get(`/mandats/sms/${consentId}`);
    assert.match(waiting.body, /En attente de la réponse/);
    assert.match(waiting.body, /http-equiv="refresh"/);

    const phone = new Browser(t.app, '198.51.100.7');
    const opened = await phone.get(link);
    assert.equal(opened.status, 200);
    assert.match(opened.body, /La structure <strong>France Services Dieppe<\/strong> vous demande un mandat/);
    assert.match(opened.body, /<details[^>]* lang="ar" dir="rtl">/);
    const go = await phone.get(`${link}/identite`);
    assert.equal(go.status, 303);
    const auth = new URL(go.location!);
    assert.equal(auth.origin + auth.pathname, `${idp.issuer}/auth`);
    assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
    const callback = await providerPerson(PUBLIC_URL).signIn(auth.href, 'karim');

    // The callback in ANOTHER browser (the helper's, or an attacker's): refused, nothing written.
    let before = await rows();
    assert.equal((await alice.get(callback)).status, 400);
    assert.deepEqual(await rows(), before);

    const back = await phone.get(callback);
    assert.equal(back.status, 303, back.body.slice(0, 300));
    const read = back.location!;
    assert.match(read, /^\/mandats\/accord\/lire\/[0-9a-f-]{36}$/);
    const j = await t.db.query<{ detail: { consent: string; remote: boolean } }>("SELECT detail FROM mandates.journal WHERE event = 'identity.checked'");
    assert.equal(j.rows.at(-1)!.detail.consent, consentId);
    const page = await phone.get(read);
    assert.equal(page.status, 200);
    assert.match(page.body, /Identité vérifiée par FranceConnect \(test\) : <strong>Karim Benali<\/strong>/);

    // Another browser cannot read or answer with this check; no consent box: 422; nothing written.
    before = await rows();
    assert.equal((await alice.get(read)).status, 404);
    const stranger = new Browser(t.app, '198.51.100.9');
    await stranger.get(link);
    assert.equal((await stranger.post(read, { answer: 'oui', consent: 'oui' })).status, 409);
    assert.equal((await phone.post(read, { answer: 'oui' })).status, 422);
    assert.equal((await phone.post(read, { answer: 'oui', consent: 'oui' }, { csrf: false })).status, 403);
    assert.deepEqual(await rows(), before);

    const ok = await phone.post(read, { answer: 'oui', consent: 'oui' });
    assert.equal(ok.status, 201, ok.body.slice(0, 400));
    const reference = /Votre mandat (M-[A-Z0-9-]+) est créé/.exec(ok.body)![1]!;
    assert.match(ok.body, /Code de révocation : <span class="code">[A-Z0-9-]+<\/span>/);
    assert.match(ok.body, /href="data:application\/pdf;base64,JVBER/);
    const m = (await t.db.query<{ id: string; consent_method: string; identity_check: string; idp_sub_hash: string; given_name: string; created_by: string }>(
      'SELECT m.id, m.consent_method, p.identity_check, p.idp_sub_hash, p.given_name, m.created_by FROM mandates.mandate m JOIN mandates.person p ON p.id = m.person_id WHERE m.reference = $1', [reference])).rows[0]!;
    assert.equal(m.consent_method, 'sms');
    assert.equal(m.identity_check, 'oidc');
    assert.equal(m.given_name, 'Karim');
    assert.equal(m.idp_sub_hash, subjectHash(idp.issuer, DEV_IDENTITIES.karim!.sub));
    const c = (await t.db.query<{ state: string; phone: string | null; draft: unknown; mandate_id: string }>('SELECT state, phone, draft, mandate_id FROM mandates.sms_consent WHERE id = $1', [consentId])).rows[0]!;
    assert.deepEqual({ ...c }, { state: 'accepted', phone: null, draft: null, mandate_id: m.id });
    const flow = (await t.db.query<{ given_name: string | null }>("SELECT given_name FROM mandates.identity_flow WHERE purpose = 'sms'")).rows[0]!;
    assert.equal(flow.given_name, null, 'the identity does not stay on the check');
    const answer = (await t.db.query<{ detail: { answer: string }; actor_kind: string }>("SELECT detail, actor_kind FROM mandates.journal WHERE event = 'consent.remote_answer'")).rows;
    assert.equal(answer.length, 1);
    assert.equal(answer[0]!.detail.answer, 'oui');
    assert.doesNotMatch(JSON.stringify(answer), /Karim|Benali/);
    assert.equal((await verifyJournal(t.db)).ok, true);

    // The helper's page shows the answer; the link and the check are used up.
    assert.match((await alice.get(`/mandats/sms/${consentId}`)).body, /La personne a accepté/);
    before = await rows();
    assert.equal((await phone.post(read, { answer: 'oui', consent: 'oui' })).status, 409);
    assert.equal((await phone.get(link)).status, 410);
    assert.equal((await phone.get(`${link}/identite`)).status, 410);
    assert.deepEqual(await rows(), before);

    // FranceConnect's logout: end_session with id_token_hint, post_logout_redirect_uri and state.
    const logoutLink = /href="(\/mandats\/accord\/lire\/[0-9a-f-]{36}\/deconnexion\?jeton=[0-9a-f]{32})"/.exec(ok.body)![1]!;
    assert.equal((await phone.get(logoutLink.replace(/jeton=.*/, 'jeton=0123456789abcdef0123456789abcdef'))).status, 403);
    const out = await phone.get(logoutLink);
    assert.equal(out.status, 303);
    const end = new URL(out.location!);
    assert.equal(end.origin + end.pathname, `${idp.issuer}/session/end`);
    assert.ok(end.searchParams.get('id_token_hint'));
    assert.equal(end.searchParams.get('post_logout_redirect_uri'), `${PUBLIC_URL}/mandats/identite/deconnexion`);
    const state = end.searchParams.get('state')!;
    const returned = await providerPerson(PUBLIC_URL).signOut(end.href);
    assert.equal(new URL(returned, PUBLIC_URL).searchParams.get('state'), state);
    // A forged state: refused, the check stays.
    before = await rows();
    assert.equal((await phone.get('/mandats/identite/deconnexion?state=forged')).status, 400);
    assert.equal((await alice.get(returned)).status, 400, 'another browser cannot end it');
    assert.deepEqual(await rows(), before);
    const done = await phone.get(returned);
    assert.equal(done.status, 200);
    assert.match(done.body, /Votre session est terminée sur Maillage et chez FranceConnect \(test\)/);
    assert.equal((await t.db.query("SELECT 1 FROM mandates.identity_flow WHERE purpose = 'sms'")).rows.length, 0);
    assert.equal((await phone.get(returned)).status, 400, 'the logout state serves once');
  });

  test('the person refuses, before or after signing in: no mandate; an expired link refuses; bad input writes nothing', async () => {
    // Refusal from the link itself.
    let { consentId, link } = await send('justice', '1d');
    const phone = new Browser(t.app, '198.51.100.8');
    await phone.get(link);
    let before = await rows();
    assert.equal((await phone.post(`${link}/refuser`, {}, { csrf: false })).status, 403);
    assert.deepEqual(await rows(), before);
    const refused = await phone.post(`${link}/refuser`, {});
    assert.equal(refused.status, 200);
    assert.match(refused.body, /aucun mandat n’est créé/);
    assert.equal((await t.db.query<{ state: string }>('SELECT state FROM mandates.sms_consent WHERE id = $1', [consentId])).rows[0]!.state, 'refused');
    assert.match((await alice.get(`/mandats/sms/${consentId}`)).body, /La personne a refusé/);

    // Refusal after signing in.
    ({ consentId, link } = await send('justice', '1d'));
    await phone.get(link);
    const go = await phone.get(`${link}/identite`);
    const back = await phone.get(await providerPerson(PUBLIC_URL).signIn(go.location!, 'jeanne'));
    const mandates = (await t.db.query('SELECT count(*)::int AS n FROM mandates.mandate')).rows[0];
    const no = await phone.post(back.location!, { answer: 'non' });
    assert.equal(no.status, 200);
    assert.deepEqual((await t.db.query('SELECT count(*)::int AS n FROM mandates.mandate')).rows[0], mandates);

    // A person under 15 cannot give a mandate: nothing written.
    ({ consentId, link } = await send('loisirs-sports-culture', '1m'));
    await phone.get(link);
    const young = await phone.get(await providerPerson(PUBLIC_URL).signIn((await phone.get(`${link}/identite`)).location!, 'young'));
    before = await rows();
    assert.equal((await phone.post(young.location!, { answer: 'oui', consent: 'oui' })).status, 422);
    assert.deepEqual(await rows(), before);

    // Expired: the link answers 410 and the answer is refused, nothing written.
    ({ consentId, link } = await send('logement', '1m'));
    await phone.get(link);
    const late = await phone.get(await providerPerson(PUBLIC_URL).signIn((await phone.get(`${link}/identite`)).location!, 'jeanne'));
    await t.db.query("UPDATE mandates.sms_consent SET expires_at = now() - interval '1 second' WHERE id = $1", [consentId]);
    before = await rows();
    assert.equal((await phone.get(link)).status, 410);
    assert.equal((await phone.post(late.location!, { answer: 'oui', consent: 'oui' })).status, 409);
    assert.equal((await phone.post(`${link}/refuser`, {})).status, 410);
    assert.deepEqual(await rows(), before);

    // Unknown or malformed links, hostile input.
    for (const bad of ['/mandats/accord/' + 'A'.repeat(43), '/mandats/accord/constructor', '/mandats/accord/__proto__/identite', '/mandats/accord/lire/00000000-0000-0000-0000-000000000000', '/mandats/accord/lire/%00']) {
      assert.ok([404, 400].includes((await phone.get(bad)).status), bad);
    }
    await alice.get('/mandats/nouveau');
    assert.equal((await alice.post('/mandats/nouveau/sms-identite', { structure: structureId, procedures: 'constructor', duration: '1m', phone: '0611223344' })).status, 422);
    assert.equal((await alice.post('/mandats/nouveau/sms-identite', { structure: structureId, procedures: 'logement', duration: '1m', phone: '01 23 45 67 89' })).status, 422);
    assert.equal((await alice.post('/mandats/nouveau/sms-identite', { structure: '00000000-0000-0000-0000-000000000000', procedures: 'logement', duration: '1m', phone: '0611223344' })).status, 403);
    assert.deepEqual(await rows(), before);
  });

  test('the « OUI 123456 » answer (no identity proved) is refused when the document fallback is off', async () => {
    t.ctx.config.mandatesDocumentFallback = false;
    try {
      await alice.get('/mandats/nouveau');
      const before = await rows();
      const r = await alice.post('/mandats/nouveau/sms', { structure: structureId, givenName: 'Jeanne', familyName: 'Lefèvre', birthDate: '1948-05-12', identityChecked: 'oui', procedures: 'logement', duration: '1m', phone: '0611223344' });
      assert.equal(r.status, 403);
      assert.deepEqual(await rows(), before);
    } finally {
      t.ctx.config.mandatesDocumentFallback = true;
    }
  });
});

/**
 * The mandates pages and JSON API end to end: staff of a département habilitate a structure and
 * its helper (only in their territory), record the training; the helper creates a mandate with the
 * person's consent (preview, consent, attestation with the revocation code), acts, revokes; the
 * person verifies and revokes with the code; a partner tool uses the API with a helper's token.
 * Every refusal is checked on the rows (snapshot), not only on the status code.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting, findUserByEmail, getGrants } from '../../accounts/index.ts';
import { createApiToken } from '../routes.ts';
import { PERSON, placeIn, snapshot } from './support.ts';
import * as service from '../service.ts';

const { depsOf, makeUser, signedInBrowser } = accountsTesting;

describe('mandates: pages and API', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff76: accountsTesting.Browser;
  let staff27: accountsTesting.Browser;
  let alice: accountsTesting.Browser; // helper
  let bob: accountsTesting.Browser; // helper of another structure
  let mediator: accountsTesting.Browser;
  let ids: { alice: string; bob: string };
  let place76: string;
  let structureId = '';
  let mandate = { id: '', reference: '', code: '', hash: '' };

  before(async () => {
    t = await testApp();
    const deps = depsOf(t.app);
    place76 = await placeIn(t.db, '76540');
    const [s76, s27, a, b, m] = [
      await makeUser(deps, 'm-staff76@exemple.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '76' }], 'Équipe 76'),
      await makeUser(deps, 'm-staff27@exemple.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '27' }], 'Équipe 27'),
      await makeUser(deps, 'm-alice@exemple.fr', [], 'Alice Aidante'),
      await makeUser(deps, 'm-bob@exemple.fr', [], 'Bob Aidant'),
      await makeUser(deps, 'm-med@exemple.fr', [{ role: 'mediator', scopeKind: 'departement', scopeId: '76' }], 'Médiateur'),
    ];
    ids = { alice: a.id, bob: b.id };
    staff76 = await signedInBrowser(t.app, deps, s76);
    staff27 = await signedInBrowser(t.app, deps, s27, '192.0.2.2');
    alice = await signedInBrowser(t.app, deps, a, '192.0.2.3');
    bob = await signedInBrowser(t.app, deps, b, '192.0.2.4');
    mediator = await signedInBrowser(t.app, deps, m, '192.0.2.5');
  });
  after(async () => t.close());

  test('staff habilitate a structure of their territory only; bad input is refused with no row', async () => {
    let before = await snapshot(t.db);
    let r = await staff27.submit('/mandats/structures', '/mandats/structures', { name: 'France Services Rouen', siret: '13002526500013', placeUid: place76 });
    assert.equal(r.status, 403);
    r = await staff76.submit('/mandats/structures', '/mandats/structures', { name: 'France Services Rouen', siret: '1300', placeUid: place76 });
    assert.equal(r.status, 422);
    assert.match(r.body, /14 chiffres/);
    r = await staff76.submit('/mandats/structures', '/mandats/structures', { name: 'France Services Rouen', siret: '', placeUid: '00000000-0000-0000-0000-000000000000' });
    assert.equal(r.status, 422);
    r = await staff76.submit('/mandats/structures', '/mandats/structures', { name: 'x'.repeat(201), siret: '', placeUid: place76 });
    assert.equal(r.status, 422);
    r = await staff76.post('/mandats/structures', { name: 'Sans jeton', siret: '', placeUid: place76 }, { csrf: false });
    assert.equal(r.status, 403);
    r = await mediator.get('/mandats/structures');
    assert.equal(r.status, 403);
    assert.deepEqual(await snapshot(t.db), before);
    r = await staff76.submit('/mandats/structures', '/mandats/structures', { name: 'France Services Rouen', siret: '13002526500013', placeUid: place76 });
    assert.equal(r.status, 303);
    structureId = r.location!.split('/').pop()!;
    assert.equal((await staff27.get(`/mandats/structures/${structureId}`)).status, 403);
    assert.equal((await staff76.get('/mandats/structures')).body.includes('France Services Rouen'), true);
    assert.equal((await staff27.get('/mandats/structures')).body.includes('France Services Rouen'), false);
    before = await snapshot(t.db);
    r = await staff76.submit('/mandats/structures', '/mandats/structures', { name: 'Doublon', siret: '13002526500013', placeUid: place76 });
    assert.equal(r.status, 409);
    assert.deepEqual(await snapshot(t.db), before);
  });

  test('helpers are invited by e-mail, get the helper role once they accept, and act only once trained', async () => {
    const page = `/mandats/structures/${structureId}`;
    let before = await snapshot(t.db);
    let r = await staff76.submit(page, `${page}/aidants`, { email: 'inconnu@exemple.fr' });
    assert.equal(r.status, 422);
    r = await staff27.post(`${page}/aidants`, { email: 'm-alice@exemple.fr' });
    assert.equal(r.status, 403);
    assert.deepEqual(await snapshot(t.db), before);
    r = await staff76.submit(page, `${page}/aidants`, { email: 'm-alice@exemple.fr' });
    assert.equal(r.status, 200);
    assert.match(r.body, /Invitation envoyée à Alice Aidante/);
    // Invited only: no role until Alice accepts from her own session (invitation.test.ts).
    assert.deepEqual(await getGrants(t.db, ids.alice), []);
    r = await alice.submit('/mandats', `/mandats/invitations/${structureId}/accepter`, {});
    assert.equal(r.status, 200);
    assert.deepEqual((await getGrants(t.db, ids.alice)).map((g) => [g.role, g.scopeKind, g.scopeId]), [['helper', 'place', place76]]);
    // Not trained yet: no mandate.
    assert.equal((await alice.get('/mandats/nouveau')).status, 403);
    assert.match((await alice.get('/mandats')).body, /formation d’aidant n’est pas encore enregistrée/);
    before = await snapshot(t.db);
    r = await staff76.submit(page, `${page}/aidants/${ids.alice}/formation`, { trainedOn: '2999-01-01', trainingRef: '' });
    assert.equal(r.status, 422);
    r = await staff76.submit(page, `${page}/aidants/${ids.alice}/formation`, { trainedOn: '2025-02-30', trainingRef: '' });
    assert.equal(r.status, 422);
    assert.deepEqual(await snapshot(t.db), before);
    r = await staff76.submit(page, `${page}/aidants/${ids.alice}/formation`, { trainedOn: '2025-06-02', trainingRef: 'Session régionale' });
    assert.equal(r.status, 200);
    assert.equal((await alice.get('/mandats/nouveau')).status, 200);
    assert.equal((await mediator.get('/mandats')).status, 403, 'a mediator is not a helper');
  });

  test('a mandate: the form, the plain-words preview, the consent, the attestation', async () => {
    const form = { structure: structureId, givenName: 'Jeanne', familyName: 'Lefèvre', birthDate: '1948-05-12', identityChecked: 'oui', procedures: 'argent-impots', duration: '6m' };
    const before = await snapshot(t.db);
    let r = await alice.submit('/mandats/nouveau', '/mandats/nouveau', { ...form, step: 'apercu', birthDate: '1948-13-01' });
    assert.equal(r.status, 422);
    assert.match(r.body, /date valide/);
    r = await alice.submit('/mandats/nouveau', '/mandats/nouveau', { ...form, step: 'apercu' });
    assert.equal(r.status, 200);
    assert.match(r.body, /Vous autorisez les aidants de la structure « France Services Rouen » à faire à votre place la démarche suivante : Argent, impôts/);
    assert.match(r.body, /pendant six mois/);
    assert.match(r.body, /<details[^>]* lang="en" dir="ltr"><summary>Read it in English<\/summary>.*carry out in your name this procedure: money, taxes/s);
    assert.match(r.body, /<details[^>]* lang="ar" dir="rtl"><summary>اقرأ النص بالعربية<\/summary>.*المال، الضرائب/s);
    r = await alice.post('/mandats/nouveau', { ...form, step: 'confirmer' });
    assert.equal(r.status, 422);
    assert.match(r.body, /donné son accord/);
    r = await alice.post('/mandats/nouveau', { ...form, step: 'confirmer', consent: 'oui', structure: '00000000-0000-0000-0000-000000000000' });
    assert.equal(r.status, 422);
    r = await bob.post('/mandats/nouveau', { ...form, step: 'confirmer', consent: 'oui' }, { csrf: false });
    assert.equal(r.status, 403);
    assert.deepEqual(await snapshot(t.db), before);
    await alice.get('/mandats/nouveau');
    r = await alice.post('/mandats/nouveau', { ...form, step: 'confirmer', consent: 'oui' });
    assert.equal(r.status, 201);
    mandate = {
      reference: /Attestation de mandat n° (M-[A-Z0-9-]+)/.exec(r.body)![1]!,
      code: /class="code">([A-Z0-9]{12})</.exec(r.body)![1]!,
      hash: /class="hash">([0-9a-f]{64})</.exec(r.body)![1]!,
      id: '',
    };
    const row = (await t.db.query<{ id: string; duration: string; consent_method: string }>('SELECT id, duration, consent_method FROM mandates.mandate WHERE reference = $1', [mandate.reference])).rows[0]!;
    mandate.id = row.id;
    assert.equal(row.duration, '6m');
    assert.match(r.body, /Jeanne Lefèvre/);
    // The attestation can be printed again, without the code.
    r = await alice.get(`/mandats/${mandate.id}/attestation`);
    assert.equal(r.status, 200);
    assert.ok(r.body.includes(mandate.hash) && !r.body.includes(mandate.code));
  });

  test('another structure’s helper sees nothing of the mandate; acts outside it are refused with no row', async () => {
    // bob becomes a trained helper of another structure (in the Eure).
    const s2 = await staff27.submit('/mandats/structures', '/mandats/structures', { name: 'Médiathèque d’Évreux', siret: '', placeUid: await placeIn(t.db, '27229') });
    const page = s2.location!;
    await staff27.submit(page, `${page}/aidants`, { email: 'm-bob@exemple.fr' });
    assert.equal((await bob.submit('/mandats', `/mandats/invitations/${page.split('/').pop()}/accepter`, {})).status, 200);
    await staff27.submit(page, `${page}/aidants/${ids.bob}/formation`, { trainedOn: '2025-01-10', trainingRef: '' });
    assert.equal((await bob.get(`/mandats/${mandate.id}`)).status, 404);
    assert.equal((await bob.get(`/mandats/${mandate.id}/attestation`)).status, 404);
    assert.ok(!(await bob.get('/mandats')).body.includes(mandate.reference));
    const before = await snapshot(t.db);
    await bob.get('/mandats/nouveau');
    assert.equal((await bob.post(`/mandats/${mandate.id}/actes`, { procedure: 'argent-impots' })).status, 404);
    assert.equal((await bob.post(`/mandats/${mandate.id}/revoquer`, {})).status, 404);
    await alice.get(`/mandats/${mandate.id}`);
    let r = await alice.post(`/mandats/${mandate.id}/actes`, { procedure: 'logement' });
    assert.equal(r.status, 409);
    assert.match(r.body, /ne couvre pas/);
    r = await alice.post(`/mandats/${mandate.id}/actes`, { procedure: '__proto__' });
    assert.equal(r.status, 422);
    assert.deepEqual(await snapshot(t.db), before);
    r = await alice.post(`/mandats/${mandate.id}/actes`, { procedure: 'argent-impots', service: 'impots.gouv.fr' });
    assert.equal(r.status, 200);
    assert.match(r.body, /Démarche effectuée pour la personne — impots.gouv.fr/);
  });

  test('the public verification shows the status, never the person; a wrong hash is flagged', async () => {
    const anon = new accountsTesting.Browser(t.app, '192.0.2.9');
    let r = await anon.get(`/mandats/verifier?reference=${mandate.reference}&empreinte=${mandate.hash}`);
    assert.equal(r.status, 200);
    assert.match(r.body, /<strong>valide<\/strong>/);
    assert.match(r.body, /authentique/);
    assert.ok(!r.body.includes('Lefèvre') && !r.body.includes('Jeanne'));
    r = await anon.get(`/mandats/verifier?reference=${mandate.reference}&empreinte=${'0'.repeat(64)}`);
    assert.match(r.body, /ne correspond pas/);
    r = await anon.get('/mandats/verifier?reference=M-2222-2222');
    assert.equal(r.status, 404);
    r = await anon.get(`/api/v1/mandates/verify?reference=${mandate.reference}&hash=${mandate.hash}`);
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(JSON.parse(r.body)).sort(), ['authentic', 'expiresAt', 'reference', 'status']);
    assert.equal(JSON.parse(r.body).authentic, true);
    assert.equal((await anon.get('/api/v1/mandates/verify?reference=%00%00')).status, 400);
  });

  test('the API: a helper’s token lists, checks, records and revokes; refusals write nothing', async () => {
    const { token } = await createApiToken(t.db, null, 'Outil partenaire', ids.alice);
    const { token: bobToken } = await createApiToken(t.db, null, 'Outil de Bob', ids.bob);
    const api = async (method: 'GET' | 'POST', url: string, tok: string | null, payload?: unknown) => {
      const res = await t.app.inject({ method, url, headers: tok ? { authorization: `Bearer ${tok}` } : {}, ...(payload !== undefined ? { payload: payload as object } : {}) });
      return { status: res.statusCode, body: res.json() as Record<string, unknown> };
    };
    let r = await api('GET', '/api/v1/mandates', token);
    assert.equal(r.status, 200);
    assert.deepEqual((r.body.items as { reference: string }[]).map((m) => m.reference), [mandate.reference]);
    assert.deepEqual((await api('GET', '/api/v1/mandates', bobToken)).body.items, []);
    r = await api('GET', `/api/v1/mandates/${mandate.id}/check?procedure=argent-impots`, token);
    assert.deepEqual(r.body, { allowed: true, code: null, reason: null });
    r = await api('GET', `/api/v1/mandates/${mandate.id}/check?procedure=argent-impots`, bobToken);
    assert.equal(r.body.code, 'not_helper');
    let before = await snapshot(t.db);
    assert.equal((await api('POST', `/api/v1/mandates/${mandate.id}/acts`, null, { procedure: 'argent-impots' })).status, 401);
    assert.equal((await api('POST', `/api/v1/mandates/${mandate.id}/acts`, 'mdt_forgedforgedforgedforgedforged', { procedure: 'argent-impots' })).status, 401);
    assert.equal((await api('POST', `/api/v1/mandates/${mandate.id}/acts`, bobToken, { procedure: 'argent-impots' })).status, 403);
    r = await api('POST', `/api/v1/mandates/${mandate.id}/acts`, token, { procedure: 'logement' });
    assert.equal(r.status, 409);
    assert.equal(r.body.field, 'procedure');
    assert.equal((await api('POST', `/api/v1/mandates/${mandate.id}/acts`, token, { procedure: 'argent-impots', extra: 1 })).status, 400);
    assert.equal((await api('POST', '/api/v1/mandates/not-a-uuid/acts', token, { procedure: 'argent-impots' })).status, 400);
    assert.equal((await api('POST', `/api/v1/mandates/${mandate.id}/revoke`, bobToken, {})).status, 404);
    // A token whose account does not hold the helper role is refused, whatever the token.
    const med = (await findUserByEmail(t.db, 'm-med@exemple.fr'))!;
    const { token: medToken } = await createApiToken(t.db, null, 'Outil du médiateur', med.id);
    assert.equal((await api('GET', `/api/v1/mandates/${mandate.id}/check?procedure=argent-impots`, medToken)).status, 403);
    const afterToken = await snapshot(t.db);
    assert.equal((await api('POST', `/api/v1/mandates/${mandate.id}/acts`, medToken, { procedure: 'argent-impots' })).status, 403);
    assert.deepEqual(await snapshot(t.db), afterToken);
    before = afterToken;
    assert.deepEqual(await snapshot(t.db), before);
    assert.equal((await api('POST', `/api/v1/mandates/${mandate.id}/acts`, token, { procedure: 'argent-impots', service: 'impots.gouv.fr' })).status, 201);
    const stats = await api('GET', '/api/v1/mandates/statistics?departement=76', null);
    assert.equal(stats.body.activeMandates, 1);
    assert.equal(stats.body.acts, 2);
    assert.ok(!JSON.stringify(stats.body).includes('Lefèvre'));
    const csv = await t.app.inject({ method: 'GET', url: '/api/v1/mandates/open-data.csv' });
    assert.equal(csv.statusCode, 200);
    assert.match(csv.body, /^departement,figure,key,value\n76,authorisations_given,argent-impots,\n/, 'a count below 5 is hidden');
  });

  test('the person revokes with the code; then every act is refused at once', async () => {
    const anon = new accountsTesting.Browser(t.app, '192.0.2.10');
    const before = await snapshot(t.db);
    let r = await anon.submit('/mandats/revocation', '/mandats/revocation', { reference: mandate.reference, code: 'AAAAAAAAAAAA', procedure: '' });
    assert.equal(r.status, 422);
    assert.match(r.body, /code de révocation incorrect/);
    r = await anon.submit('/mandats/revocation', '/mandats/revocation', { reference: mandate.reference, code: mandate.code, procedure: 'constructor' });
    assert.equal(r.status, 422);
    assert.deepEqual(await snapshot(t.db), before);
    r = await anon.submit('/mandats/revocation', '/mandats/revocation', { reference: mandate.reference, code: mandate.code, procedure: '' });
    assert.equal(r.status, 200);
    assert.match(r.body, /Le mandat est révoqué/);
    const after = await snapshot(t.db);
    await alice.get(`/mandats/${mandate.id}`);
    r = await alice.post(`/mandats/${mandate.id}/revoquer`, {});
    assert.equal(r.status, 409);
    assert.deepEqual(await snapshot(t.db), after);
    const verify = await anon.get(`/mandats/verifier?reference=${mandate.reference}`);
    assert.match(verify.body, /<strong>révoqué<\/strong>/);
    const state = (await t.db.query<{ revoked_by_kind: string }>('SELECT revoked_by_kind FROM mandates.mandate WHERE id = $1', [mandate.id])).rows[0]!;
    assert.equal(state.revoked_by_kind, 'person');
  });

  test('staff read the structure’s journal and the statistics, never identities', async () => {
    let r = await staff76.get(`/mandats/structures/${structureId}/journal`);
    assert.equal(r.status, 200);
    assert.match(r.body, /Mandat révoqué/);
    assert.ok(!r.body.includes('Lefèvre'));
    assert.equal((await staff27.get(`/mandats/structures/${structureId}/journal`)).status, 403);
    r = await staff76.get('/mandats/statistiques');
    assert.equal(r.status, 200);
    assert.match(r.body, /1 structure habilitée/);
    // By département and by structure (issue #20), within staff76's territory only.
    assert.match(r.body, /<h2>Par département<\/h2>[\s\S]*<td>76<\/td><td>1<\/td>/);
    assert.match(r.body, new RegExp(`<h2>Par structure</h2>[\\s\\S]*href="/mandats/structures/${structureId}"`));
    assert.doesNotMatch(r.body, /<td>27<\/td>/);
    assert.ok(!r.body.includes('Lefèvre'));
    assert.equal((await alice.get('/mandats/statistiques')).status, 403);
  });

  test('renewal through the pages (a new consent), then the person\'s own page with the new code', async () => {
    // The revoked mandate cannot be renewed: 409, nothing written.
    let before = await snapshot(t.db);
    await alice.get(`/mandats/${mandate.id}/renouveler`);
    let r = await alice.post(`/mandats/${mandate.id}/renouveler`, { structure: structureId, procedures: ['logement'], duration: '1m', step: 'valider', consent: 'oui' });
    assert.equal(r.status, 409);
    assert.deepEqual(await snapshot(t.db), before);
    // A mandate in force: choose, read (plain words), consent (required), new attestation.
    const m = await service.createMandate(t.ctx, ids.alice, structureId, { ...PERSON, procedures: ['argent-impots'], duration: '1m' });
    await service.recordAct(t.ctx, ids.alice, m.id, 'argent-impots', { service: 'impots.gouv.fr' });
    assert.equal((await bob.get(`/mandats/${m.id}/renouveler`)).status, 404, 'another structure’s helper sees nothing');
    r = await alice.get(`/mandats/${m.id}/renouveler`);
    assert.equal(r.status, 200);
    r = await alice.post(`/mandats/${m.id}/renouveler`, { structure: structureId, procedures: ['argent-impots', 'logement'], duration: '6m', step: 'apercu' });
    assert.equal(r.status, 200);
    assert.match(r.body, /donne son accord/);
    before = await snapshot(t.db);
    r = await alice.post(`/mandats/${m.id}/renouveler`, { structure: structureId, procedures: ['argent-impots', 'logement'], duration: '6m', step: 'valider' });
    assert.equal(r.status, 422, 'never renewed without the consent');
    r = await alice.post(`/mandats/${m.id}/renouveler`, { structure: structureId, procedures: ['__proto__'], duration: '6m', step: 'valider', consent: 'oui' });
    assert.equal(r.status, 422);
    assert.deepEqual(await snapshot(t.db), before);
    r = await alice.post(`/mandats/${m.id}/renouveler`, { structure: structureId, procedures: ['argent-impots', 'logement'], duration: '6m', step: 'valider', consent: 'oui' });
    assert.equal(r.status, 201);
    const renewed = { reference: /Attestation de mandat n° (M-[A-Z0-9-]+)/.exec(r.body)![1]!, code: /class="code">([A-Z0-9]{12})</.exec(r.body)![1]! };
    assert.equal((await service.getMandate(t.db, m.id))!.status, 'revoked');

    // The person's page: a wrong code shows nothing; the right one shows the mandate and acts, and revokes.
    const anon = new accountsTesting.Browser(t.app, '192.0.2.11');
    r = await anon.submit('/mandats/mon-mandat', '/mandats/mon-mandat', { reference: m.reference, code: 'AAAAAAAAAAAA' });
    assert.equal(r.status, 422);
    assert.ok(!r.body.includes('impots.gouv.fr'));
    r = await anon.submit('/mandats/mon-mandat', '/mandats/mon-mandat', { reference: m.reference, code: m.revocationCode });
    assert.equal(r.status, 200);
    assert.match(r.body, /impots\.gouv\.fr/, 'the act done in their name');
    assert.match(r.body, new RegExp(`remplacé par le mandat ${renewed.reference}`));
    assert.ok(!r.body.includes(ids.alice), 'no helper identity');
    r = await anon.submit('/mandats/mon-mandat', '/mandats/mon-mandat', { reference: renewed.reference, code: renewed.code });
    assert.match(r.body, /Mandat renouvelé/);
    r = await anon.post('/mandats/revocation', { reference: renewed.reference, code: renewed.code, procedure: 'logement', retour: 'mon-mandat' });
    assert.equal(r.status, 200);
    assert.match(r.body, /retirée le/);
    assert.equal((await service.verifyJournal(t.db)).ok, true);
  });
});

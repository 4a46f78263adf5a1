/**
 * Habilitation end to end: a référent applies for their structure (SIRET with its Luhn key), staff
 * of another territory see nothing, staff of the territory ask for changes in the thread (e-mailed),
 * the référent corrects and resubmits, staff validate (the structure is created with its référent);
 * the référent adds a helper, who may create mandates only once training AND Pix are recorded.
 * Every refusal leaves the rows unchanged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting, readOutbox } from '../../accounts/index.ts';
import { seedHabilitationDemo, siretValid, withLuhnKey } from '../habilitation.ts';
import { placeIn, snapshot } from './support.ts';

const { depsOf, makeUser, signedInBrowser } = accountsTesting;

test('siretValid: the Luhn key, and La Poste’s rule', () => {
  assert.equal(siretValid('13002526500013'), true);
  assert.equal(siretValid('73282932000074'), true);
  assert.equal(siretValid('73282932000075'), false);
  assert.equal(siretValid('1300252650001'), false);
  assert.equal(siretValid('1300252650001a'), false);
  assert.equal(siretValid('35600000000001'), true); // La Poste: digits sum to 15
  assert.equal(siretValid('35600000000002'), false);
  assert.equal(siretValid(withLuhnKey('4100000000000')), true);
});

describe('mandates: habilitation requests', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let referent: accountsTesting.Browser;
  let staff76: accountsTesting.Browser;
  let staff27: accountsTesting.Browser;
  let stranger: accountsTesting.Browser;
  let helperB: accountsTesting.Browser;
  let place76: string;
  let requestId = '';
  let structureId = '';
  let helperId = '';

  const requestRows = async () => ({
    rows: await snapshot(t.db),
    requests: (await t.db.query('SELECT id, state, name, siret, submitted_at, decided_at, structure_id FROM mandates.structure_request ORDER BY id')).rows,
    messages: (await t.db.query('SELECT count(*)::int AS n FROM mandates.request_message')).rows,
    helpers: (await t.db.query('SELECT structure_id, user_id, trained_on::text, pix_score, pix_on::text FROM mandates.helper ORDER BY 1, 2')).rows,
  });

  before(async () => {
    t = await testApp();
    const deps = depsOf(t.app);
    place76 = await placeIn(t.db, '76540');
    const r = await makeUser(deps, 'h-referent@exemple.fr', [], 'Rita Référente');
    const s76 = await makeUser(deps, 'h-staff76@exemple.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '76' }], 'Équipe 76');
    const s27 = await makeUser(deps, 'h-staff27@exemple.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '27' }], 'Équipe 27');
    const x = await makeUser(deps, 'h-stranger@exemple.fr', [], 'Sam Inconnu');
    const h = await makeUser(deps, 'h-helper@exemple.fr', [], 'Hugo Aidant');
    helperId = h.id;
    referent = await signedInBrowser(t.app, deps, r, '192.0.2.11');
    staff76 = await signedInBrowser(t.app, deps, s76, '192.0.2.12');
    staff27 = await signedInBrowser(t.app, deps, s27, '192.0.2.13');
    stranger = await signedInBrowser(t.app, deps, x, '192.0.2.14');
    helperB = await signedInBrowser(t.app, deps, h, '192.0.2.15');
  });
  after(async () => t.close());

  const form = (o: Record<string, string> = {}) => ({ name: 'Centre social des Sapins', siret: '73282932000074', kind: 'centre_social', address: '12 rue des Sapins, 76000 Rouen', placeUid: place76, franceServices: 'oui', publicDescription: 'Personnes âgées et familles du quartier, 40 par semaine.', ...o });

  test('bad input is refused field by field, with no row written', async () => {
    const before = await requestRows();
    for (const [bad, field] of [
      [{ siret: '73282932000075' }, /clé de contrôle/],
      [{ siret: '7328' }, /14 chiffres/],
      [{ kind: 'constructor' }, /type de structure/],
      [{ placeUid: '00000000-0000-0000-0000-000000000000' }, /n’existe pas dans l’annuaire/],
      [{ name: 'a\u0007b' }, /nom de la structure/],
      [{ publicDescription: 'x'.repeat(2001) }, /public accueilli/],
    ] as const) {
      const r = await referent.submit('/mandats/habilitation/nouvelle', '/mandats/habilitation/nouvelle', { ...form(bad as Record<string, string>), action: 'transmettre' });
      assert.equal(r.status, 422, JSON.stringify(bad));
      assert.match(r.body, field);
    }
    // A NUL byte is refused before the module sees it.
    const nul = await referent.submit('/mandats/habilitation/nouvelle', '/mandats/habilitation/nouvelle', { ...form({ name: 'a\u0000b' }), action: 'transmettre' });
    assert.ok(nul.status >= 400 && nul.status < 500);
    assert.deepEqual(await requestRows(), before);
  });

  test('draft, then submitted; staff of another département see nothing; staff ask for changes in the thread', async () => {
    let r = await referent.submit('/mandats/habilitation/nouvelle', '/mandats/habilitation/nouvelle', { ...form(), action: 'brouillon' });
    assert.equal(r.status, 303);
    requestId = r.location!.split('/').pop()!;
    // A draft is the référent's alone.
    assert.equal((await staff76.get(`/mandats/habilitation/${requestId}`)).status, 404);
    r = await referent.submit(`/mandats/habilitation/${requestId}`, `/mandats/habilitation/${requestId}`, { ...form(), action: 'transmettre' });
    assert.equal(r.status, 200);
    assert.match(r.body, /En cours d’instruction/);
    // Staff of the département were e-mailed.
    assert.ok((await readOutbox(t.db, 'h-staff76@exemple.fr')).some((m) => /habilitation/.test(m.subject)));
    // A second open request for the same SIRET is refused.
    const before = await requestRows();
    r = await stranger.submit('/mandats/habilitation/nouvelle', '/mandats/habilitation/nouvelle', { ...form(), action: 'transmettre' });
    assert.equal(r.status, 409);
    assert.deepEqual(await requestRows(), before);
    // Out of territory, and strangers: 404, and no decision possible.
    assert.equal((await staff27.get(`/mandats/habilitation/${requestId}`)).status, 404);
    assert.equal((await stranger.get(`/mandats/habilitation/${requestId}`)).status, 404);
    await staff27.get('/mandats/habilitation/nouvelle');
    assert.equal((await staff27.post(`/mandats/habilitation/${requestId}/decision`, { decision: 'validate', message: '' })).status, 404);
    await referent.get(`/mandats/habilitation/${requestId}`);
    assert.equal((await referent.post(`/mandats/habilitation/${requestId}/decision`, { decision: 'validate', message: '' })).status, 403);
    assert.deepEqual(await requestRows(), before);
    // Asking for changes needs a message.
    const page = await staff76.get('/mandats/habilitation');
    assert.match(page.body, /1 demande à instruire/);
    r = await staff76.submit(`/mandats/habilitation/${requestId}`, `/mandats/habilitation/${requestId}/decision`, { decision: 'changes', message: '' });
    assert.equal(r.status, 422);
    assert.deepEqual(await requestRows(), before);
    r = await staff76.submit(`/mandats/habilitation/${requestId}`, `/mandats/habilitation/${requestId}/decision`, { decision: 'changes', message: 'Précisez les horaires d’accueil.' });
    assert.equal(r.status, 200);
    assert.match(r.body, /Modifications demandées/);
    assert.ok((await readOutbox(t.db, 'h-referent@exemple.fr')).some((m) => /Précisez les horaires/.test(m.body)));
    // No second decision while the référent has not resubmitted.
    const b2 = await requestRows();
    r = await staff76.submit(`/mandats/habilitation/${requestId}`, `/mandats/habilitation/${requestId}/decision`, { decision: 'validate', message: '' });
    assert.equal(r.status, 409);
    assert.deepEqual(await requestRows(), b2);
  });

  test('the référent answers in the thread, corrects and resubmits; staff validate: the structure exists, with its référent', async () => {
    let r = await referent.submit(`/mandats/habilitation/${requestId}`, `/mandats/habilitation/${requestId}/message`, { message: 'Du lundi au vendredi, 9 h – 17 h.' });
    assert.equal(r.status, 200);
    assert.ok((await readOutbox(t.db, 'h-staff76@exemple.fr')).some((m) => /9 h – 17 h/.test(m.body)));
    r = await referent.submit(`/mandats/habilitation/${requestId}`, `/mandats/habilitation/${requestId}`, { ...form({ publicDescription: 'Personnes âgées et familles, du lundi au vendredi.' }), action: 'transmettre' });
    assert.equal(r.status, 200);
    r = await staff76.submit(`/mandats/habilitation/${requestId}`, `/mandats/habilitation/${requestId}/decision`, { decision: 'validate', message: 'Bienvenue.' });
    assert.equal(r.status, 200);
    const { rows } = await t.db.query<{ state: string; structure_id: string }>('SELECT state, structure_id FROM mandates.structure_request WHERE id = $1', [requestId]);
    assert.equal(rows[0]!.state, 'validated');
    structureId = rows[0]!.structure_id;
    const s = await t.db.query<{ siret: string; referent_user_id: string; kind: string; france_services: boolean; departement: string }>('SELECT * FROM mandates.structure WHERE id = $1', [structureId]);
    assert.equal(s.rows[0]!.siret, '73282932000074');
    assert.equal(s.rows[0]!.kind, 'centre_social');
    assert.equal(s.rows[0]!.france_services, true);
    assert.equal(s.rows[0]!.departement, '76');
    const thread = await referent.get(`/mandats/habilitation/${requestId}`);
    for (const m of ['Précisez les horaires', '9 h – 17 h', 'Bienvenue.']) assert.match(thread.body, new RegExp(m));
    const audit = await t.db.query<{ action: string }>("SELECT action FROM platform.audit_entry WHERE action LIKE 'mandates.structure_request.%' ORDER BY seq");
    assert.deepEqual(audit.rows.map((a) => a.action), ['mandates.structure_request.create', 'mandates.structure_request.submit', 'mandates.structure_request.changes', 'mandates.structure_request.message', 'mandates.structure_request.submit', 'mandates.structure_request.validate']);
  });

  test('the référent adds a helper, who creates mandates only once training AND Pix are recorded', async () => {
    assert.equal((await stranger.get(`/mandats/ma-structure/${structureId}`)).status, 404);
    let r = await referent.submit(`/mandats/ma-structure/${structureId}`, `/mandats/ma-structure/${structureId}/aidants`, { email: 'personne@exemple.fr' });
    assert.equal(r.status, 422);
    r = await referent.submit(`/mandats/ma-structure/${structureId}`, `/mandats/ma-structure/${structureId}/aidants`, { email: 'h-helper@exemple.fr' });
    assert.equal(r.status, 200);
    assert.match(r.body, /Invitation envoyée à Hugo Aidant/);
    // Hugo accepts from his own session (invitation.test.ts covers the refusals).
    assert.equal((await helperB.submit('/mandats', `/mandats/invitations/${structureId}/accepter`, {})).status, 200);
    // Not yet trained: no mandate.
    assert.equal((await helperB.get('/mandats/nouveau')).status, 403);
    const before = await requestRows();
    const url = `/mandats/ma-structure/${structureId}/aidants/${helperId}/habilitation`;
    for (const [bad, msg] of [
      [{ pixScore: '' }, /score Pix/],
      [{ pixScore: '2000' }, /score Pix/],
      [{ pixScore: '-3' }, /score Pix/],
      [{ pixOn: '2999-01-01' }, /test Pix doit être passée/],
      [{ trainedOn: '2025-02-30' }, /date de formation/],
    ] as const) {
      r = await referent.submit(`/mandats/ma-structure/${structureId}`, url, { trainedOn: '2025-03-01', trainingRef: 'Formation AC', pixScore: '312', pixOn: '2025-02-20', ...(bad as Record<string, string>) });
      assert.equal(r.status, 422, JSON.stringify(bad));
      assert.match(r.body, msg);
    }
    // Someone who is not the référent cannot record it.
    await stranger.get('/mandats/habilitation/nouvelle');
    assert.equal((await stranger.post(url, { trainedOn: '2025-03-01', pixScore: '312', pixOn: '2025-02-20' })).status, 404);
    assert.deepEqual(await requestRows(), before);
    r = await referent.submit(`/mandats/ma-structure/${structureId}`, url, { trainedOn: '2025-03-01', trainingRef: 'Formation AC', pixScore: '312', pixOn: '2025-02-20' });
    assert.equal(r.status, 200);
    assert.match(r.body, /312 pix/);
    assert.equal((await helperB.get('/mandats/nouveau')).status, 200);
  });

  test('demo data: a request being processed (with a message), one sent back for changes, 12 cards in stock', async () => {
    assert.match(await seedHabilitationDemo(t.ctx, [place76], structureId), /2 habilitation requests, 12 TOTP cards/);
    const r = await t.db.query<{ state: string }>("SELECT state FROM mandates.structure_request WHERE referent_user_id LIKE 'demo-referent-%' ORDER BY state");
    assert.deepEqual(r.rows.map((x) => x.state), ['changes_required', 'processing']);
    const c = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM mandates.totp_card WHERE structure_id = $1', [structureId]);
    assert.equal(c.rows[0]!.n, 12);
    const page = await staff76.get('/mandats/habilitation');
    assert.match(page.body, /Espace numérique de la gare/);
  });
});

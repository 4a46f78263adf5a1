/**
 * Calls: creation by staff in scope (pages and service), versioned forms, the envelope drawn from
 * a roadmap envelope and rolled back with the call on any refusal, public pages and API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { silentProgress } from '../../../platform/progress.ts';
import { roadmapModule, listEnvelopes } from '../../roadmap/index.ts';
import * as service from '../service.ts';
import { FORM, makeCall, person, refused, unchanged } from './support.ts';

describe('calls: creation, forms, envelope, public pages', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff: Awaited<ReturnType<typeof person>>;
  let other: Awaited<ReturnType<typeof person>>;
  before(async () => {
    t = await testApp();
    await roadmapModule.seedDemo!({ ...t.ctx, progress: silentProgress });
    staff = await person(t.app, 'regional_staff', { kind: 'region', id: '24' });
    other = await person(t.app, 'regional_staff', { kind: 'region', id: '28' });
  });
  after(async () => t.close());

  const form = (o: Record<string, string> = {}) => ({
    kind: 'aap', title: 'Lieux de proximité', region: '24', opensAt: '2026-01-05T09:00', closesAt: '2099-03-31T12:00', envelope: '50000', funderName: 'Région Centre-Val de Loire',
    form: JSON.stringify(FORM), ...o,
  });

  test('staff create a call through the page; its form is version 1; dates in Paris time', async () => {
    const r = await staff.browser.submit('/gestion/appels/nouveau', '/gestion/appels', form());
    assert.equal(r.status, 303, r.body.slice(0, 300));
    const id = r.location!.split('/').pop()!;
    const c = (await service.getCall(t.db, id))!;
    assert.equal(c.closesAt, '2099-03-31T10:00:00.000Z');
    assert.equal(c.formVersion, 1);
    assert.equal(c.status, 'draft');
    assert.equal((await t.app.inject({ url: `/appels/${c.slug}`, headers: { accept: 'text/html' } })).statusCode, 404); // draft: not public
  });

  test('refusals name the field and save nothing: bad JSON, bad question, bad dates, outside scope', async () => {
    for (const [o, field] of [
      [{ form: '{' }, /JSON invalide/],
      [{ form: JSON.stringify({ ...FORM, questions: [{ id: 'x', label: 'X', type: 'budget', requested: true }] }) }, /questions\[0\]\.requested/],
      [{ closesAt: '2025-01-01T00:00' }, /Clôture/],
      [{ region: '2A' }, /Région/],
      [{ envelope: '-5' }, /négatif/],
      [{ title: 'x\u0001' }, /contrôle/],
    ] as [Record<string, string>, RegExp][]) {
      await staff.browser.get('/gestion/appels/nouveau');
      await unchanged(t.db, async () => {
        const r = await staff.browser.post('/gestion/appels', form(o));
        assert.equal(r.status, 422);
        assert.match(r.body, field);
      });
    }
    // a NUL byte is refused by the server before the route (400), saving nothing
    await staff.browser.get('/gestion/appels/nouveau');
    await unchanged(t.db, async () => assert.equal((await staff.browser.post('/gestion/appels', form({ title: 'x\u0000' }))).status, 400));
    await other.browser.get('/gestion/appels/nouveau');
    await unchanged(t.db, async () => assert.equal((await other.browser.post('/gestion/appels', form())).status, 403));
  });

  test('an envelope drawn from the roadmap: drawn with the call, and over the ceiling nothing is created', async () => {
    const env = (await listEnvelopes(t.db, { territory: { level: 'departement', code: '36' } }))[0]!; // ceiling 150,000
    const c = await makeCall(t.db, staff.actor, { envelope: 100000, roadmapEnvelopeId: env.id, departements: ['36'] });
    assert.equal((await listEnvelopes(t.db, { territory: { level: 'departement', code: '36' } }))[0]!.drawn, 100000);
    await refused(t.db, () => makeCall(t.db, staff.actor, { envelope: 60000, roadmapEnvelopeId: env.id, departements: ['36'] }), 409, 'amount', /plafond/);
    // raising the call's envelope re-draws; beyond the ceiling the call keeps its former envelope
    await refused(t.db, () => service.updateCall({ db: t.db }, staff.actor, c.id, { ...c, opensAtIso: c.opensAt, closesAtIso: c.closesAt, envelope: 160000 }), 409, 'amount');
    const u = await service.updateCall({ db: t.db }, staff.actor, c.id, { ...c, opensAtIso: c.opensAt, closesAtIso: c.closesAt, envelope: 140000 });
    assert.equal(u.envelope, 140000);
    assert.equal((await listEnvelopes(t.db, { territory: { level: 'departement', code: '36' } }))[0]!.drawn, 140000);
    await refused(t.db, () => makeCall(t.db, staff.actor, { envelope: 1000, roadmapEnvelopeId: '00000000-0000-4000-8000-000000000000' }), 404);
  });

  test('a call cannot draw on another territory’s envelope: refused on create and update, nothing drawn, no audit entry', async () => {
    const env = (await listEnvelopes(t.db, { territory: { level: 'departement', code: '37' } }))[0]!; // Centre-Val de Loire (24)
    // A staff member of région 28 manages a call of région 28 — but the envelope is région 24's.
    await refused(t.db, () => makeCall(t.db, other.actor, { region: '28', envelope: 1000, roadmapEnvelopeId: env.id }), 403, 'roadmapEnvelopeId', /Lieux de proximité/);
    const mine = await makeCall(t.db, other.actor, { region: '28', envelope: 1000 });
    await refused(t.db, () => service.updateCall({ db: t.db }, other.actor, mine.id, { ...mine, opensAtIso: mine.opensAt, closesAtIso: mine.closesAt, roadmapEnvelopeId: env.id }), 403, 'roadmapEnvelopeId');
    assert.equal((await listEnvelopes(t.db, { territory: { level: 'departement', code: '37' } }))[0]!.drawn, env.drawn);
    // The région's own staff may.
    const c = await makeCall(t.db, staff.actor, { envelope: 1000, roadmapEnvelopeId: env.id, departements: ['37'] });
    assert.equal(c.roadmapEnvelopeId, env.id);
  });

  test('a new form version leaves started dossiers on theirs', async () => {
    const c = await makeCall(t.db, staff.actor);
    const applicant = await person(t.app, null);
    const org = await service.createOrganisation({ db: t.db }, applicant.user.id, { siret: '73282932000074', name: 'Asso', kind: 'association' });
    const a = await service.startApplication({ db: t.db }, applicant.user.id, c.id, org.id);
    const v = await service.setForm({ db: t.db }, staff.actor, c.id, { ...FORM, questions: FORM.questions.slice(0, 2) });
    assert.equal(v, 2);
    assert.equal((await service.getApplication(t.db, a.id))!.formVersion, 1);
    assert.equal((await service.getForm(t.db, c.id, 1)).questions.length, 9);
    assert.equal((await service.getForm(t.db, c.id, 2)).questions.length, 2);
    await refused(t.db, () => service.setForm({ db: t.db }, other.actor, c.id, FORM), 403);
    await refused(t.db, () => service.setForm({ db: t.db }, staff.actor, c.id, { questions: [] }), 400, 'questions');
  });

  test('public list with filters, call page, API and OpenAPI', async () => {
    const c = await makeCall(t.db, staff.actor, { title: 'Appel bientôt clos', departements: ['41'], closesAtIso: new Date(Date.now() + 3 * 86400000).toISOString() });
    const soon = await t.app.inject({ url: '/appels?bientot=1&departement=41', headers: { accept: 'text/html' } });
    assert.match(soon.body, /Appel bientôt clos/);
    assert.match(soon.body, /3 jours restants/);
    const otherDep = await t.app.inject({ url: '/appels?departement=18&bientot=1', headers: { accept: 'text/html' } });
    assert.doesNotMatch(otherDep.body, /Appel bientôt clos/);
    const page = await t.app.inject({ url: `/appels/${c.slug}`, headers: { accept: 'text/html' } });
    assert.match(page.body, /Impact<\/td><td class="n">75 %/);
    const api = await t.app.inject({ url: '/api/v1/calls?departement=41' });
    assert.equal(api.statusCode, 200);
    assert.ok(api.json().items.some((x: { slug: string }) => x.slug === c.slug));
    const one = await t.app.inject({ url: `/api/v1/calls/${c.slug}` });
    assert.equal(one.json().form.criteria[0].weight, 3);
    assert.equal((await t.app.inject({ url: '/api/v1/calls?departement=%00' })).statusCode, 400);
    assert.equal((await t.app.inject({ url: `/api/v1/calls/${'x'.repeat(150)}` })).statusCode, 414); // the server's limit on a path parameter
    const openapi = await t.app.inject({ url: '/api/openapi.json' });
    assert.ok(openapi.json().paths['/api/v1/calls/grants/scdl.csv']);
  });
});

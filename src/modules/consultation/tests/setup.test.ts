/**
 * The back office's setup forms over HTTP: create a process with its phases, edit it, add a
 * budget and a meeting. Permissions on the territory, CSRF, errors naming the field, every
 * refusal leaving every row unchanged, concurrent creations of one address, the audit trail.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { listAudit } from '../../../platform/audit/index.ts';
import * as svc from '../service.ts';
import { parisLocal, toParisLocal } from '../setup.ts';
import { makeProcess, snapshot } from './support.ts';

const { depsOf, makeUser, signedInBrowser, Browser } = accountsTesting;

const processForm = (slug: string, extra: Record<string, string> = {}) => ({
  title: 'Budget participatif 2027', slug, region: '27', departement: '', description: 'Des projets pour les tiers-lieux.', categories: 'Inclusion\nTiers-lieux\nInclusion',
  published: '1', minAccountDays: '3', minAge: '16', budgetWorkflow: 'one', residenceRequired: '1',
  phase0_title: 'Dépôt', phase0_startsAt: '2027-01-10T09:00', phase0_endsAt: '2027-02-10T18:00', phase0_proposals: '1', phase0_comments: '1',
  phase1_title: 'Vote', phase1_startsAt: '2027-03-01T09:00', phase1_endsAt: '2027-03-31T23:59', phase1_votes: '1',
  ...extra,
});

describe('consultation back office: processes, phases, budgets, meetings', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff: Awaited<ReturnType<typeof makeUser>>;
  let staffDep: Awaited<ReturnType<typeof makeUser>>;
  let outsider: Awaited<ReturnType<typeof makeUser>>;
  let resident: Awaited<ReturnType<typeof makeUser>>;
  const state = async () => ({
    ...(await snapshot(t.db)),
    processes: (await t.db.query('SELECT * FROM consultation.process ORDER BY id')).rows,
    phases: (await t.db.query('SELECT * FROM consultation.phase ORDER BY id')).rows,
  });
  before(async () => {
    t = await testApp();
    const deps = depsOf(t.app);
    staff = await makeUser(deps, 'equipe27@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '27' }], 'Équipe BFC');
    staffDep = await makeUser(deps, 'equipe21@exemple.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '21' }], 'Équipe Côte-d’Or');
    outsider = await makeUser(deps, 'equipe28@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '28' }], 'Équipe Normandie');
    resident = await makeUser(deps, 'habitant@exemple.fr', [], 'Habitant');
  });
  after(async () => t.close());

  test('Paris time in the forms: winter and summer offsets, impossible dates refused', () => {
    assert.equal(parisLocal('2027-01-10T09:00')!.toISOString(), '2027-01-10T08:00:00.000Z');
    assert.equal(parisLocal('2027-07-10T09:00')!.toISOString(), '2027-07-10T07:00:00.000Z');
    assert.equal(parisLocal('2027-02-31T09:00'), null);
    assert.equal(parisLocal('2027-01-10 09:00'), null);
    assert.equal(toParisLocal('2027-07-10T07:00:00.000Z'), '2027-07-10T09:00');
  });

  test('staff of the région create a process with its phases; it is public and audited', async () => {
    const b = await signedInBrowser(t.app, depsOf(t.app), staff, '192.0.2.81');
    const list = await b.get('/gestion/concertations');
    assert.match(list.body, /href="\/gestion\/concertations\/nouvelle"/);
    const form = await b.get('/gestion/concertations/nouvelle');
    assert.equal(form.status, 200);
    const res = await b.post('/gestion/concertations/nouvelle', processForm('budget-2027'));
    assert.equal(res.status, 303, res.body.slice(0, 3000));
    assert.equal(res.location, '/gestion/concertations/budget-2027');
    const p = (await svc.getProcess(t.db, 'budget-2027'))!;
    assert.equal(p.title, 'Budget participatif 2027');
    assert.deepEqual(p.categories, ['Inclusion', 'Tiers-lieux']);
    assert.equal(p.minAge, 16);
    assert.equal(p.minAccountDays, 3);
    assert.equal(p.residenceRequired, true);
    assert.deepEqual(p.phases.map((f) => [f.title, f.startsAt, f.proposalsOpen, f.votesOpen]), [
      ['Dépôt', '2027-01-10T08:00:00.000Z', true, false],
      ['Vote', '2027-03-01T08:00:00.000Z', false, true],
    ]);
    assert.equal((await b.get('/concertations/budget-2027')).status, 200);
    const audit = await listAudit(t.db, { objectId: p.id, limit: 5 });
    assert.equal(audit[0]!.action, 'consultation.process.create');
    assert.equal(audit[0]!.actorId, staff.id);
  });

  test('refused creations name the field and change nothing', async () => {
    const b = await signedInBrowser(t.app, depsOf(t.app), staff, '192.0.2.82');
    const cases: [Record<string, string>, string, number][] = [
      [processForm('Pas Bon'), 'slug', 422],
      [processForm('nouvelle'), 'slug', 422],
      [processForm('ok-1', { title: '' }), 'title', 422],
      [processForm('ok-2', { region: '99' }), 'region', 422],
      [processForm('ok-3', { departement: '14' }), 'departement', 422],
      [processForm('ok-4', { phase1_startsAt: '2027-02-01T09:00' }), 'phase1_startsAt', 422],
      [processForm('ok-5', { phase0_endsAt: '2027-01-01T09:00' }), 'phase0_endsAt', 422],
      [processForm('ok-6', { phase0_startsAt: '2027-02-30T09:00' }), 'phase0_startsAt', 422],
      [processForm('ok-7', { minAge: '12' }), 'minAge', 422],
      [processForm('ok-8', { budgetWorkflow: 'constructor' }), 'budgetWorkflow', 422],
      [processForm('ok-9', { phase0_title: '', phase0_startsAt: '', phase0_endsAt: '', phase1_title: '', phase1_startsAt: '', phase1_endsAt: '' }), 'phase0_title', 422],
      [processForm('ok-10', { description: 'a\u0001b' }), 'description', 422],
      [processForm('budget-2027'), 'slug', 409],
      [processForm('ok-11', { region: '28' }), 'region', 403],
    ];
    for (const [form, field, status] of cases) {
      await b.get('/gestion/concertations/nouvelle');
      const before = await state();
      const res = await b.post('/gestion/concertations/nouvelle', form);
      assert.equal(res.status, status, `${field}: ${res.body.slice(0, 200)}`);
      assert.match(res.body, new RegExp(`href="#f-${field}"`), field);
      assert.deepEqual(await state(), before, field);
    }
    // Staff of a département cannot open a regional process; they can open one in their département.
    const d = await signedInBrowser(t.app, depsOf(t.app), staffDep, '192.0.2.86');
    await d.get('/gestion/concertations/nouvelle');
    const before = await state();
    assert.equal((await d.post('/gestion/concertations/nouvelle', processForm('regionale'))).status, 403);
    assert.deepEqual(await state(), before);
    assert.equal((await d.post('/gestion/concertations/nouvelle', processForm('cote-d-or', { departement: '21' }))).status, 303);
    // A resident, a visitor, a missing CSRF token.
    const r = await signedInBrowser(t.app, depsOf(t.app), resident, '192.0.2.87');
    assert.equal((await r.get('/gestion/concertations/nouvelle')).status, 403);
    const s2 = await state();
    assert.equal((await r.post('/gestion/concertations/nouvelle', processForm('habitant'), { csrf: false })).status, 403);
    await r.get('/concertations');
    assert.equal((await r.post('/gestion/concertations/nouvelle', processForm('habitant'))).status, 403);
    assert.equal((await new Browser(t.app).post('/gestion/concertations/nouvelle', processForm('anonyme'), { csrf: false })).status, 403);
    assert.deepEqual(await state(), s2);
  });

  test('twelve concurrent creations of one address: one process, the others 409', async () => {
    const b = await signedInBrowser(t.app, depsOf(t.app), staff, '192.0.2.83');
    await b.get('/gestion/concertations/nouvelle');
    const statuses = await Promise.all(Array.from({ length: 12 }, () => b.post('/gestion/concertations/nouvelle', processForm('course')).then((r) => r.status)));
    assert.equal(statuses.filter((s) => s === 303).length, 1, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 409).length, 11, statuses.join(','));
    assert.equal((await t.db.query(`SELECT count(*)::int AS n FROM consultation.process WHERE slug = 'course'`)).rows[0]!.n, 1);
  });

  test('editing a process: text, rules and phases replaced; territory and address stay; refusals change nothing', async () => {
    const p = await makeProcess(t.db, { proposals: true });
    const b = await signedInBrowser(t.app, depsOf(t.app), staff, '192.0.2.84');
    const page = await b.get(`/gestion/concertations/${p.slug}/modifier`);
    assert.equal(page.status, 200);
    assert.match(page.body, new RegExp(`value="${toParisLocal(p.phases[1]!.startsAt)}"`));
    const edit = { ...processForm('ignored', { region: '28', departement: '21', title: 'Titre modifié' }), phase2_title: 'Bilan', phase2_startsAt: '2027-05-01T09:00', phase2_endsAt: '2027-05-02T09:00' };
    const o = await signedInBrowser(t.app, depsOf(t.app), outsider, '192.0.2.88');
    await o.get('/concertations');
    // Refused first: overlapping phases.
    const before = await state();
    const bad = await b.post(`/gestion/concertations/${p.slug}/modifier`, { ...edit, phase2_startsAt: '2027-03-15T09:00' });
    assert.equal(bad.status, 422);
    assert.match(bad.body, /href="#f-phase2_startsAt"/);
    assert.deepEqual(await state(), before, 'after the 422');
    // Someone of another région, and no CSRF token: refused, nothing changed.
    assert.equal((await o.post(`/gestion/concertations/${p.slug}/modifier`, edit)).status, 403);
    assert.equal((await b.post(`/gestion/concertations/${p.slug}/modifier`, edit, { csrf: false })).status, 403);
    assert.deepEqual(await state(), before);
    const ok = await b.post(`/gestion/concertations/${p.slug}/modifier`, edit);
    assert.equal(ok.status, 303);
    const after = (await svc.getProcess(t.db, p.slug, { all: true }))!;
    assert.equal(after.title, 'Titre modifié');
    assert.equal(after.region, '27');
    assert.equal(after.departement, null);
    assert.deepEqual(after.phases.map((f) => f.title), ['Dépôt', 'Vote', 'Bilan']);
    const entry = (await listAudit(t.db, { objectId: p.id, limit: 5 })).find((e) => e.action === 'consultation.process.update')!;
    assert.equal((entry.before as { title: string }).title, p.title);
    assert.equal((entry.after as { title: string }).title, 'Titre modifié');
  });

  test('adding a budget and a meeting; refusals named and changing nothing', async () => {
    const p = await makeProcess(t.db, { votes: true });
    const b = await signedInBrowser(t.app, depsOf(t.app), staff, '192.0.2.85');
    const budget = { title: 'Budget de la Côte-d’Or', slug: 'cote-d-or', departement: '21', amount: '150 000', rule: 'range', thresholdPct: '', minProjects: '2', maxProjects: '4' };
    const cases: [Record<string, string>, string][] = [
      [{ ...budget, amount: 'beaucoup' }, 'amount'],
      [{ ...budget, departement: '14' }, 'departement'],
      [{ ...budget, rule: '__proto__' }, 'rule'],
      [{ ...budget, maxProjects: '1' }, 'maxProjects'],
      [{ ...budget, slug: 'Côte' }, 'slug'],
    ];
    for (const [form, field] of cases) {
      await b.get(`/gestion/concertations/${p.slug}/budgets/nouveau`);
      const before = await state();
      const res = await b.post(`/gestion/concertations/${p.slug}/budgets/nouveau`, form);
      assert.equal(res.status, 422, field);
      assert.match(res.body, new RegExp(`href="#f-${field}"`), field);
      assert.deepEqual(await state(), before, field);
    }
    const ok = await b.post(`/gestion/concertations/${p.slug}/budgets/nouveau`, budget);
    assert.equal(ok.status, 303);
    const created = (await svc.getBudget(t.db, p.id, 'cote-d-or'))!;
    assert.deepEqual([created.amountCents, created.rule, created.minProjects, created.maxProjects, created.departement], [15_000_000, 'range', 2, 4, '21']);
    const dup = await b.post(`/gestion/concertations/${p.slug}/budgets/nouveau`, budget);
    assert.equal(dup.status, 409);
    assert.match(dup.body, /href="#f-slug"/);

    const meeting = { title: 'Rencontre à Dijon', description: '', startsAt: '2027-04-02T18:00', endsAt: '2027-04-02T20:00', departement: '21', placeUid: '', address: '1 rue de la Liberté, Dijon', onlineUrl: '', capacity: '40' };
    const mcases: [Record<string, string>, string][] = [
      [{ ...meeting, address: '' }, 'placeUid'],
      [{ ...meeting, onlineUrl: 'javascript:alert(1)' }, 'onlineUrl'],
      [{ ...meeting, endsAt: '2027-04-02T17:00' }, 'endsAt'],
      [{ ...meeting, capacity: '-3' }, 'capacity'],
      [{ ...meeting, placeUid: 'inconnu-123' }, 'placeUid'],
    ];
    for (const [form, field] of mcases) {
      await b.get(`/gestion/concertations/${p.slug}/rencontres/nouvelle`);
      const before = await state();
      const res = await b.post(`/gestion/concertations/${p.slug}/rencontres/nouvelle`, form);
      assert.equal(res.status, 422, `${field}: ${res.body.slice(0, 300)}`);
      assert.match(res.body, new RegExp(`href="#f-${field}"`), field);
      assert.deepEqual(await state(), before, field);
    }
    const m = await b.post(`/gestion/concertations/${p.slug}/rencontres/nouvelle`, meeting);
    assert.equal(m.status, 303);
    const meetings = await svc.listMeetings(t.db, p.id);
    assert.equal(meetings.length, 1);
    assert.equal(meetings[0]!.startsAt, '2027-04-02T16:00:00.000Z');
    assert.equal(meetings[0]!.capacity, 40);
    assert.equal((await b.get(m.location!)).status, 200);
    // Outsiders: refused, nothing written.
    const o = await signedInBrowser(t.app, depsOf(t.app), outsider, '192.0.2.89');
    await o.get('/concertations');
    const before = await state();
    assert.equal((await o.post(`/gestion/concertations/${p.slug}/budgets/nouveau`, { ...budget, slug: 'autre' })).status, 403);
    assert.equal((await o.post(`/gestion/concertations/${p.slug}/rencontres/nouvelle`, meeting)).status, 403);
    assert.deepEqual(await state(), before);
    const actions = (await listAudit(t.db, { actorId: staff.id, limit: 20 })).map((e) => e.action);
    assert.ok(actions.includes('consultation.budget.create') && actions.includes('consultation.meeting.create'));
  });

  test('editing a budget (rule frozen once voted) and a meeting (capacity never below registrations); refusals change nothing', async () => {
    const p = await makeProcess(t.db, { votes: true });
    const ctx = { db: t.db };
    await svc.createBudget(ctx, staff.id, p.id, { slug: 'bfc', title: 'Budget régional', departement: null, amountCents: 100_000_00, rule: 'threshold', thresholdPct: 70, minProjects: 0, maxProjects: null });
    const mId = await svc.createMeeting(ctx, staff.id, p.id, { title: 'Atelier', description: '', startsAt: '2099-04-02T16:00:00.000Z', endsAt: '2099-04-02T18:00:00.000Z', departement: null, placeUid: null, address: 'Dijon', onlineUrl: null, capacity: 3 });
    const b = await signedInBrowser(t.app, depsOf(t.app), staff, '192.0.2.90');
    const o = await signedInBrowser(t.app, depsOf(t.app), outsider, '192.0.2.91');
    await o.get('/concertations');
    const url = `/gestion/concertations/${p.slug}/budgets/bfc/modifier`;
    const form = await b.get(url);
    assert.equal(form.status, 200);
    assert.match(form.body, /value="100000"/);
    const edit = { title: 'Budget régional 2027', departement: '21', amount: '120 000', rule: 'range', thresholdPct: '', minProjects: '1', maxProjects: '3' };
    let before = await state();
    for (const [f, field] of [[{ ...edit, amount: 'zéro' }, 'amount'], [{ ...edit, departement: '14' }, 'departement'], [{ ...edit, rule: 'constructor' }, 'rule']] as [Record<string, string>, string][]) {
      const r = await b.post(url, f);
      assert.equal(r.status, 422, field);
      assert.match(r.body, new RegExp(`href="#f-${field}"`));
    }
    assert.equal((await o.post(url, edit)).status, 403);
    assert.equal((await b.post(url, edit, { csrf: false })).status, 403);
    assert.deepEqual(await state(), before);
    assert.equal((await b.post(url, edit)).status, 303);
    let bu = (await svc.getBudget(t.db, p.id, 'bfc'))!;
    assert.deepEqual([bu.title, bu.departement, bu.amountCents, bu.rule, bu.minProjects, bu.maxProjects], ['Budget régional 2027', '21', 120_000_00, 'range', 1, 3]);
    // Once a vote is confirmed, the rule cannot move; the title still can.
    const projectId = await svc.createProject(ctx, staff.id, bu.id, { title: 'Projet', costCents: 50_000_00 });
    const voter = { id: resident.id, emailVerified: true, createdAt: '2020-01-01T00:00:00.000Z' };
    await svc.addToBasket(ctx, p, bu, voter, projectId);
    await svc.checkout(ctx, p, bu, voter, {});
    await b.get(url);
    before = await state();
    const frozen = await b.post(url, { ...edit, amount: '200 000' });
    assert.equal(frozen.status, 409);
    assert.match(frozen.body, /href="#f-rule"/);
    assert.deepEqual(await state(), before);
    assert.equal((await b.post(url, { ...edit, title: 'Budget régional (titre corrigé)' })).status, 303);
    bu = (await svc.getBudget(t.db, p.id, 'bfc'))!;
    assert.equal(bu.title, 'Budget régional (titre corrigé)');
    assert.equal(bu.amountCents, 120_000_00);

    // The meeting: capacity never below the people registered.
    const m = (await svc.getMeeting(t.db, p.id, mId))!;
    for (const id of [resident.id, staff.id]) await svc.registerForMeeting(ctx, { id, emailVerified: true, createdAt: '2020-01-01T00:00:00.000Z' }, m);
    const murl = `/gestion/concertations/${p.slug}/rencontres/${mId}/modifier`;
    assert.match((await b.get(murl)).body, /value="2099-04-02T18:00"/);
    const medit = { title: 'Atelier numérique', description: '', startsAt: '2099-04-03T18:00', endsAt: '2099-04-03T20:00', departement: '21', placeUid: '', address: 'Dijon, médiathèque', onlineUrl: '', capacity: '10' };
    before = await state();
    const low = await b.post(murl, { ...medit, capacity: '1' });
    assert.equal(low.status, 409);
    assert.match(low.body, /href="#f-capacity"/);
    assert.equal((await b.post(murl, { ...medit, onlineUrl: 'http://non-securise.example' })).status, 422);
    assert.equal((await o.post(murl, medit)).status, 403);
    assert.deepEqual(await state(), before);
    assert.equal((await b.post(murl, medit)).status, 303);
    const m2 = (await svc.getMeeting(t.db, p.id, mId))!;
    assert.deepEqual([m2.title, m2.startsAt, m2.capacity, m2.registered], ['Atelier numérique', '2099-04-03T16:00:00.000Z', 10, 2]);
    const actions = (await listAudit(t.db, { actorId: staff.id, limit: 30 })).map((e) => e.action);
    assert.ok(actions.includes('consultation.budget.update') && actions.includes('consultation.meeting.update'));
  });
});

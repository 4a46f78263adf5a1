/**
 * Instruction, review and committee: instructors scoped to calls and départements, reviewers'
 * conflict declarations (hard: excluded from the dossier and the scores; soft: flagged, waivable
 * with a reason), scores per criterion and weighted ranking, committee decisions committing the
 * envelope atomically, grants to the last payment; every refusal leaves the database unchanged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { listAudit } from '../../../platform/audit/index.ts';
import { readOutbox } from '../../accounts/index.ts';
import * as service from '../service.ts';
import * as grants from '../grants.ts';
import { completeForm, makeCall, person, refused, unchanged } from './support.ts';

describe('calls: instruction, review, committee, grants', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff: Awaited<ReturnType<typeof person>>; // manages the call (région 24)
  let instr41: Awaited<ReturnType<typeof person>>; // instructor limited to département 41
  let outsider: Awaited<ReturnType<typeof person>>; // regional staff of another région
  let r1: Awaited<ReturnType<typeof person>>;
  let r2: Awaited<ReturnType<typeof person>>;
  let r3: Awaited<ReturnType<typeof person>>;
  let applicant: Awaited<ReturnType<typeof person>>;
  let call: service.Call;
  const apps: Record<string, string> = {};

  before(async () => {
    t = await testApp();
    staff = await person(t.app, 'regional_staff', { kind: 'region', id: '24' });
    instr41 = await person(t.app, 'regional_staff', { kind: 'departement', id: '41' });
    outsider = await person(t.app, 'regional_staff', { kind: 'region', id: '28' });
    r1 = await person(t.app, 'reviewer', { kind: 'region', id: '24' });
    r2 = await person(t.app, 'reviewer', { kind: 'region', id: '24' });
    r3 = await person(t.app, 'reviewer', { kind: 'region', id: '24' });
    applicant = await person(t.app, null);
    call = await makeCall(t.db, staff.actor, { envelope: 50000 });
    await service.setInstructor({ db: t.db }, staff.actor, call.id, instr41.user.id, ['41']);
    for (const [key, dep, amount, siret] of [['a41', '41', 30000, '73282932000074'], ['b37', '37', 25000, '35600000049837'], ['c41', '41', 10000, '35600000000048']] as const) {
      const org = await service.createOrganisation({ db: t.db }, applicant.user.id, { siret, name: `Structure ${key}`, kind: 'association', departement: dep });
      const a = await service.startApplication({ db: t.db }, applicant.user.id, call.id, org.id);
      await applicant.browser.get(`/candidatures/${a.id}`);
      await applicant.browser.post(`/candidatures/${a.id}`, completeForm(amount));
      await service.submit({ db: t.db }, applicant.user.id, a.id);
      apps[key] = a.id;
    }
  });
  after(async () => t.close());

  test('an instructor sees and acts only on the dossiers of their départements', async () => {
    const list = await instr41.browser.get(`/gestion/appels/${call.id}/dossiers`);
    assert.equal(list.status, 200);
    assert.match(list.body, /Structure a41/);
    assert.doesNotMatch(list.body, /Structure b37/);
    // keyset pagination: pages of one, in number order, within the instructor's scope, with the count of all
    const p1 = await service.instructorPage(t.db, instr41.actor, call, {}, 0, 1);
    assert.equal(p1.total, 2);
    assert.deepEqual(p1.items.map((i) => i.id), [apps.a41]);
    const p2 = await service.instructorPage(t.db, instr41.actor, call, {}, p1.nextAfter!, 1);
    assert.deepEqual([p2.items.map((i) => i.id), p2.nextAfter], [[apps.c41], null]);
    assert.deepEqual((await service.instructorPage(t.db, staff.actor, call, { q: 'b37' })).items.map((i) => i.id), [apps.b37]);
    const later = await instr41.browser.get(`/gestion/appels/${call.id}/dossiers?apres=${p1.nextAfter}`);
    assert.match(later.body, /Structure c41/);
    assert.doesNotMatch(later.body, /Structure a41/);
    assert.match(later.body, /Premiers dossiers/);
    assert.equal((await instr41.browser.get(`/gestion/appels/${call.id}/dossiers?apres=-1%27`)).status, 200); // ignored, not an error
    assert.equal((await instr41.browser.get(`/gestion/dossiers/${apps.b37}`)).status, 403);
    await refused(t.db, () => service.transition({ db: t.db }, instr41.actor, apps.b37!, 'en_instruction', ''), 403);
    await refused(t.db, () => service.transition({ db: t.db }, outsider.actor, apps.a41!, 'en_instruction', ''), 403);
    assert.equal((await outsider.browser.get(`/gestion/appels/${call.id}/dossiers`)).status, 403);
    await instr41.browser.get(`/gestion/dossiers/${apps.a41}`);
    await unchanged(t.db, async () => {
      const bad = await instr41.browser.post(`/gestion/dossiers/${apps.a41}/etat`, { state: 'accepte' });
      assert.equal(bad.status, 409);
      assert.match(bad.body, /ne peut pas passer à « Accepté »/);
      assert.equal((await instr41.browser.post(`/gestion/dossiers/${apps.a41}/etat`, { state: 'sans_suite', note: '' })).status, 422);
    });
    assert.equal((await instr41.browser.post(`/gestion/dossiers/${apps.a41}/etat`, { state: 'en_instruction', note: '' })).status, 303);
    for (const k of ['b37', 'c41']) await service.transition({ db: t.db }, staff.actor, apps[k]!, 'en_instruction', '');
    // an instructor cannot decide (committee = staff who manage the call)
    await refused(t.db, () => service.decide({ db: t.db }, instr41.actor, apps.a41!, { decision: 'accepte', amount: '1000', motivation: 'x' }), 403);
  });

  test('reviewers declare before seeing; a hard conflict shuts the dossier and its scores out', async () => {
    for (const r of [r1, r2, r3]) await service.assignReviewer({ db: t.db }, staff.actor, apps.a41!, r.actor);
    await refused(t.db, () => service.assignReviewer({ db: t.db }, staff.actor, apps.a41!, r1.actor), 409, 'reviewer');
    await refused(t.db, () => service.assignReviewer({ db: t.db }, staff.actor, apps.a41!, applicant.actor), 422, 'reviewer');
    // before declaring: the page asks for the declaration only, scores are refused
    const first = await r1.browser.get(`/evaluations/${apps.a41}`);
    assert.match(first.body, /déclarez vos éventuels liens/);
    assert.doesNotMatch(first.body, /Ouvrir un espace partagé/);
    await refused(t.db, () => service.submitReview({ db: t.db }, r1.actor, apps.a41!, { score_impact: '4', score_faisabilite: '8', recommendation: 'favorable' }), 409, 'conflict');
    await unchanged(t.db, async () => assert.equal((await r1.browser.post(`/evaluations/${apps.a41}/declaration`, { conflict: 'soft', note: '' })).status, 422)); // a link needs its explanation
    assert.equal((await r1.browser.post(`/evaluations/${apps.a41}/declaration`, { conflict: 'none' })).status, 303);
    await refused(t.db, () => service.declareConflict({ db: t.db }, r1.actor, apps.a41!, 'hard', 'changement'), 409, 'conflict');
    await r2.browser.get(`/evaluations/${apps.a41}`);
    assert.equal((await r2.browser.post(`/evaluations/${apps.a41}/declaration`, { conflict: 'hard', note: 'Je préside la structure.' })).status, 303);
    const shut = await r2.browser.get(`/evaluations/${apps.a41}`);
    assert.equal(shut.status, 403);
    assert.doesNotMatch(shut.body, /Ouvrir un espace partagé/);
    await refused(t.db, () => service.submitReview({ db: t.db }, r2.actor, apps.a41!, { score_impact: '0', score_faisabilite: '0', recommendation: 'defavorable' }), 403, 'conflict');
    await service.declareConflict({ db: t.db }, r3.actor, apps.a41!, 'soft', 'Ancien collègue du porteur.');
    // scores: out of range refused, nothing saved
    const page = await r1.browser.get(`/evaluations/${apps.a41}`);
    assert.match(page.body, /Ouvrir un espace partagé/);
    await unchanged(t.db, async () => {
      const bad = await r1.browser.post(`/evaluations/${apps.a41}`, { score_impact: '6', score_faisabilite: '8', recommendation: 'favorable' });
      assert.equal(bad.status, 422);
      assert.match(bad.body, /Impact.*de 0 à 5/);
    });
    assert.equal((await r1.browser.post(`/evaluations/${apps.a41}`, { score_impact: '4', score_faisabilite: '8', recommendation: 'favorable', comment: 'Solide.' })).status, 303);
    await service.submitReview({ db: t.db }, r3.actor, apps.a41!, { score_impact: '2', score_faisabilite: '4', recommendation: 'reserve' });
    // hard conflict cannot be re-assigned
    await t.db.query('DELETE FROM calls.review WHERE application_id = $1 AND reviewer_id = $2 AND false', [apps.a41, r2.user.id]);
    const list = await service.instructorList(t.db, staff.actor, call);
    const a = list.find((x) => x.id === apps.a41)!;
    // (3×(3/5) + 1×(6/10)) / 4 = 0.6 → 60; r2's hard conflict left out
    assert.equal(a.score, 60);
    assert.equal(a.reviews, 2);
    assert.equal(a.flagged, true);
  });

  test('a soft conflict is waived by an instructor with a reason, audited; not by the reviewer', async () => {
    await refused(t.db, () => service.waiveConflict({ db: t.db }, staff.actor, apps.a41!, r3.user.id, ''), 400, 'reason');
    await refused(t.db, () => service.waiveConflict({ db: t.db }, staff.actor, apps.a41!, r2.user.id, 'Non'), 409, 'reviewer'); // hard: not waivable
    await refused(t.db, () => service.waiveConflict({ db: t.db }, r3.actor, apps.a41!, r3.user.id, 'Moi'), 403);
    await service.waiveConflict({ db: t.db }, instr41.actor, apps.a41!, r3.user.id, 'Collaboration terminée depuis trois ans.');
    assert.equal((await service.instructorList(t.db, staff.actor, call)).find((x) => x.id === apps.a41)!.flagged, false);
    const audit = await listAudit(t.db, { objectType: 'calls.application', objectId: apps.a41, limit: 100 });
    assert.deepEqual(audit.filter((e) => e.action.startsWith('calls.conflict')).map((e) => e.action).sort(), ['calls.conflict.declare', 'calls.conflict.declare', 'calls.conflict.declare', 'calls.conflict.waive']);
    const csv = await staff.browser.get(`/gestion/appels/${call.id}/conflits.csv`);
    assert.equal(csv.status, 200);
    assert.match(csv.body, /hard,Je préside la structure\./);
    assert.match(csv.body, /soft,Ancien collègue du porteur\.,.*,Collaboration terminée/);
    assert.equal((await instr41.browser.get(`/gestion/appels/${call.id}/conflits.csv`)).status, 403);
  });

  test('ranking within the envelope; CSV of dossiers with scores (formula-safe)', async () => {
    await service.assignReviewer({ db: t.db }, staff.actor, apps.b37!, r1.actor);
    await service.declareConflict({ db: t.db }, r1.actor, apps.b37!, 'none', '');
    await service.submitReview({ db: t.db }, r1.actor, apps.b37!, { score_impact: '5', score_faisabilite: '10', recommendation: 'favorable' });
    const ranked = service.rank(await service.instructorList(t.db, staff.actor, call), 50000);
    assert.deepEqual(ranked.map((r) => [r.organisation, r.score, r.running, r.withinEnvelope]), [
      ['Structure b37', 100, 25000, true],
      ['Structure a41', 60, 55000, false],
      ['Structure c41', null, 65000, false],
    ]);
    const page = await staff.browser.get(`/gestion/appels/${call.id}/dossiers?vue=classement`);
    assert.match(page.body, /Classement/);
    const csv = await staff.browser.get(`/gestion/appels/${call.id}/dossiers.csv`);
    assert.match(csv.body.split('\r\n')[0]!, /^reference,titre,structure/);
    assert.equal(csv.body.trim().split('\r\n').length, 4);
  });

  test('committee decisions: amounts within the envelope, atomically; the applicant is told', async () => {
    const committee = await service.createCommittee({ db: t.db }, staff.actor, call.id, { heldOn: '2026-12-15', title: 'Comité de décembre' });
    await refused(t.db, () => service.decide({ db: t.db }, staff.actor, apps.b37!, { decision: 'accepte', amount: '26000', motivation: 'x' }), 422, 'amount'); // more than requested
    await refused(t.db, () => service.decide({ db: t.db }, staff.actor, apps.b37!, { decision: 'accepte', amount: '20000', motivation: '' }), 400, 'motivation');
    await refused(t.db, () => service.decide({ db: t.db }, staff.actor, apps.b37!, { decision: 'peut-être', motivation: 'x' }), 400, 'decision');
    await staff.browser.get(`/gestion/dossiers/${apps.b37}`);
    const ok = await staff.browser.post(`/gestion/dossiers/${apps.b37}/decision`, { decision: 'accepte', amount: '25000', motivation: 'Premier du classement.', committeeId: committee, conventionOn: '2026-12-20' });
    assert.equal(ok.status, 303);
    const mails = await readOutbox(t.db, applicant.user.email);
    assert.ok(mails.some((m) => m.subject.startsWith('Décision sur le dossier') && /Accepté, montant accordé 25\s000\s€/.test(m.body)));
    // two decisions racing for the 25,000 € left: one passes
    const results = await Promise.allSettled([
      service.decide({ db: t.db }, staff.actor, apps.a41!, { decision: 'accepte', amount: '20000', motivation: 'Deuxième.', committeeId: committee }),
      service.decide({ db: t.db }, staff.actor, apps.c41!, { decision: 'accepte', amount: '10000', motivation: 'Troisième.', committeeId: committee }),
    ]);
    const c = (await service.getCall(t.db, call.id))!;
    assert.ok(c.committed <= c.envelope);
    const passed = results.filter((r) => r.status === 'fulfilled').length;
    assert.ok(passed >= 1);
    if (passed === 1) assert.match((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason.message, /dépasseraient l’enveloppe/);
    assert.equal((await grants.grantsOfCall(t.db, call.id)).length, 1 + passed);
    const minutes = await staff.browser.get(`/gestion/appels/${call.id}/comites/${committee}/pv.md`);
    assert.match(minutes.body, /Premier du classement/);
    // the applicant sees the decision and its history
    const mine = await applicant.browser.get(`/candidatures/${apps.b37}`);
    assert.match(mine.body, /décision : Accepté/);
    const results2 = await t.app.inject({ url: `/appels/${call.slug}`, headers: { accept: 'text/html' } });
    assert.match(results2.body, /Dossiers retenus/);
  });

  test('a grant: schedule summing to the amount, payments once and within, closure gives the rest back', async () => {
    const g = (await grants.grantsOfCall(t.db, call.id)).find((x) => x.applicationId === apps.b37)!;
    await refused(t.db, () => grants.setSchedule({ db: t.db }, staff.actor, g.id, [{ kind: 'avance', amount: '10000' }, { kind: 'solde', amount: '10000' }]), 422, 'schedule');
    await refused(t.db, () => grants.setSchedule({ db: t.db }, staff.actor, g.id, [{ kind: 'solde', amount: '10000' }, { kind: 'avance', amount: '15000' }]), 400, 'schedule');
    await refused(t.db, () => grants.setSchedule({ db: t.db }, outsider.actor, g.id, [{ kind: 'solde', amount: '25000' }]), 403);
    await staff.browser.get(`/gestion/subventions/${g.id}`);
    const s = await staff.browser.post(`/gestion/subventions/${g.id}/echeancier`, { 'kind.0': 'avance', 'amount.0': '12500', 'dueOn.0': '2027-01-15', 'kind.1': 'solde', 'amount.1': '12500', 'dueOn.1': '2027-12-15', 'condition.1': 'Sur bilan' });
    assert.equal(s.status, 303);
    await refused(t.db, () => grants.recordPayment({ db: t.db }, staff.actor, g.id, { seq: 1, amount: '12500.01', paidOn: '2027-01-20' }), 422, 'amount');
    await refused(t.db, () => grants.recordPayment({ db: t.db }, staff.actor, g.id, { seq: 9, amount: '1', paidOn: '2027-01-20' }), 400, 'seq');
    await grants.recordPayment({ db: t.db }, staff.actor, g.id, { seq: 1, amount: '12500', paidOn: '2027-01-20', reference: 'M-1' });
    await refused(t.db, () => grants.recordPayment({ db: t.db }, staff.actor, g.id, { seq: 1, amount: '1', paidOn: '2027-01-21' }), 409, 'seq');
    await refused(t.db, () => grants.setSchedule({ db: t.db }, staff.actor, g.id, [{ kind: 'solde', amount: '25000' }]), 409, 'schedule');
    const before = (await service.getCall(t.db, call.id))!;
    assert.equal(before.paid, 12500);
    await refused(t.db, () => grants.closeGrant({ db: t.db }, staff.actor, g.id, ''), 400, 'note');
    await grants.closeGrant({ db: t.db }, staff.actor, g.id, 'Projet réalisé en partie : solde non dû.');
    const after = (await service.getCall(t.db, call.id))!;
    assert.equal(after.committed, before.committed - 12500);
    const closed = (await grants.getGrant(t.db, g.id))!;
    assert.equal(closed.amount, 12500);
    assert.equal(closed.status, 'closed');
    await refused(t.db, () => grants.closeGrant({ db: t.db }, staff.actor, g.id, 'encore'), 409, 'status');
  });

  test('SCDL: a grant without a convention date is not published, and the page says why', async () => {
    const entries: grants.ScdlEntry[] = [];
    for await (const b of grants.scdlEntries(t.db)) entries.push(...b);
    const noConv = entries.find((e) => e.row.dateConvention === '');
    if (noConv) {
      assert.equal(noConv.published, false);
      assert.ok(noConv.problems.some((p) => p.startsWith('dateConvention')));
    }
    const b37 = entries.find((e) => e.row.nomBeneficiaire === 'Structure b37')!;
    assert.equal(b37.row.montant, '12500');
    assert.equal(b37.published, false); // 12,500 €: at or below the threshold
    assert.equal(b37.row.conditionsVersement, 'échelonné');
    assert.equal(b37.row.datesPeriodeVersement, '2027-01-15/2027-12-15');
    assert.equal(b37.row.dispositifAide, call.title);
    assert.deepEqual(grants.scdlProblems({ ...b37.row, idAttribuant: '123', notificationUE: 'peut-être', pourcentageSubvention: '1.5' }), [
      'idAttribuant : format invalide (« 123 »)',
      'notificationUE : valeur non autorisée (« peut-être »)',
      'pourcentageSubvention : hors des bornes',
    ]);
  });
});

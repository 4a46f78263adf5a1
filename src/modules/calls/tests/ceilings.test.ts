/**
 * Ceilings per département inside a call's envelope: set by the call's managers (sum within the
 * envelope, never below what is committed), enforced atomically on decisions — 20 simultaneous
 * decisions on one département pass only as far as its ceiling — and given back on closure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import * as service from '../service.ts';
import * as grants from '../grants.ts';
import { ceilingsOf, setCeilings } from '../ceilings.ts';
import { makeCall, person, refused, unchanged } from './support.ts';

const answers = (amount: number) => ({
  resume: 'Un lieu.', public: ['Jeunes'], volet: 'Aménagement', montant: amount,
  budget: { expenses: [{ label: 'Travaux', amount }], resources: [{ label: 'Région', amount }] },
});

describe('calls: ceilings per département', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff: Awaited<ReturnType<typeof person>>;
  let outsider: Awaited<ReturnType<typeof person>>;
  let applicant: Awaited<ReturnType<typeof person>>;
  let call: service.Call;
  const apps: { id: string; dep: string }[] = [];

  before(async () => {
    t = await testApp();
    staff = await person(t.app, 'regional_staff', { kind: 'region', id: '24' });
    outsider = await person(t.app, 'regional_staff', { kind: 'region', id: '28' });
    applicant = await person(t.app, null);
    call = await makeCall(t.db, staff.actor, { envelope: 300000, departements: ['37', '41'] });
    const org = await service.createOrganisation({ db: t.db }, applicant.user.id, { siret: '73282932000074', name: 'Réseau des tiers-lieux', kind: 'association', departement: '41' });
    for (let i = 0; i < 22; i++) {
      const a = await service.startApplication({ db: t.db }, applicant.user.id, call.id, org.id);
      const dep = i < 20 ? '41' : '37';
      await service.saveDraft({ db: t.db }, applicant.user.id, a.id, { title: `Projet ${i}`, departement: dep, answers: answers(10000) });
      await service.submit({ db: t.db }, applicant.user.id, a.id);
      await service.transition({ db: t.db }, staff.actor, a.id, 'en_instruction', '');
      apps.push({ id: a.id, dep });
    }
  });
  after(async () => t.close());

  test('ceilings are set by the managers: departements of the call, sum within the envelope; refusals change nothing', async () => {
    await refused(t.db, () => setCeilings({ db: t.db }, staff.actor, call.id, '41 = 65000\n37 = 250000'), 422, 'ceilings', /dépasse l’enveloppe/);
    await refused(t.db, () => setCeilings({ db: t.db }, staff.actor, call.id, '45 = 1000'), 400, 'ceilings', /n’est pas couvert/);
    await refused(t.db, () => setCeilings({ db: t.db }, staff.actor, call.id, '41 = 1000\n41 = 2000'), 400, 'ceilings', /deux fois/);
    await refused(t.db, () => setCeilings({ db: t.db }, staff.actor, call.id, '41 = beaucoup'), 400, 'ceilings', /montant invalide/);
    await refused(t.db, () => setCeilings({ db: t.db }, staff.actor, call.id, 'n’importe quoi'), 400, 'ceilings', /ligne 1/);
    await refused(t.db, () => setCeilings({ db: t.db }, staff.actor, call.id, { constructor: 5 }), 400, 'ceilings');
    await refused(t.db, () => setCeilings({ db: t.db }, outsider.actor, call.id, '41 = 1000'), 403);
    // through the page (CSRF), then shown
    await staff.browser.get(`/gestion/appels/${call.id}`);
    await unchanged(t.db, async () => assert.equal((await staff.browser.post(`/gestion/appels/${call.id}/plafonds`, { ceilings: '41 = 65000' }, { csrf: false })).status, 403));
    const bad = await staff.browser.post(`/gestion/appels/${call.id}/plafonds`, { ceilings: '41 = 999999' });
    assert.equal(bad.status, 422);
    assert.match(bad.body, /dépasse l’enveloppe/);
    assert.equal((await staff.browser.post(`/gestion/appels/${call.id}/plafonds`, { ceilings: '41 = 65 000\n37 = 15000' })).status, 303);
    assert.deepEqual(await ceilingsOf(t.db, call.id), [{ departement: '37', amount: 15000, committed: 0 }, { departement: '41', amount: 65000, committed: 0 }]);
    const page = await staff.browser.get(`/gestion/appels/${call.id}`);
    assert.match(page.body, /Plafonds par département/);
    const api = await t.app.inject({ url: `/api/v1/calls/${call.slug}` });
    assert.deepEqual(api.json().ceilings, [{ departement: '37', amount: 15000, committed: 0 }, { departement: '41', amount: 65000, committed: 0 }]);
  });

  test('20 simultaneous decisions on one département: only as many as its ceiling allows pass, and the sums agree', async () => {
    const in41 = apps.filter((a) => a.dep === '41');
    assert.equal(in41.length, 20);
    const results = await Promise.allSettled(in41.map((a) => service.decide({ db: t.db }, staff.actor, a.id, { decision: 'accepte', amount: '10000', motivation: 'Retenu.' })));
    const passed = results.filter((r) => r.status === 'fulfilled').length;
    assert.equal(passed, 6, '65,000 € hold six grants of 10,000 €');
    for (const r of results) if (r.status === 'rejected') assert.match((r.reason as Error).message, /plafond du département 41 \(reste 5\s000\s€/);
    const c41 = (await ceilingsOf(t.db, call.id)).find((c) => c.departement === '41')!;
    const granted41 = (await t.db.query<{ s: string; n: number }>(`SELECT coalesce(sum(g.amount), 0) AS s, count(*)::int AS n FROM calls.grant g JOIN calls.application a ON a.id = g.application_id WHERE g.call_id = $1 AND a.departement = '41'`, [call.id])).rows[0]!;
    assert.equal(c41.committed, 60000);
    assert.equal(Number(granted41.s), 60000);
    assert.equal(granted41.n, 6);
    assert.equal((await service.getCall(t.db, call.id))!.committed, 60000);
    // refused dossiers stay in instruction, with no grant
    const states = await t.db.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM calls.application WHERE call_id = $1 AND departement = '41' GROUP BY state ORDER BY state`, [call.id]);
    assert.deepEqual(states.rows.map((r) => [r.state, r.n]), [['accepte', 6], ['en_instruction', 14]]);
    // another département has its own ceiling
    const in37 = apps.filter((a) => a.dep === '37');
    await service.decide({ db: t.db }, staff.actor, in37[0]!.id, { decision: 'accepte', amount: '10000', motivation: 'Retenu.' });
    await refused(t.db, () => service.decide({ db: t.db }, staff.actor, in37[1]!.id, { decision: 'accepte', amount: '10000', motivation: 'Retenu.' }), 409, 'amount', /plafond du département 37/);
    // a ceiling cannot drop below what is committed
    await refused(t.db, () => setCeilings({ db: t.db }, staff.actor, call.id, '41 = 50000\n37 = 15000'), 422, 'ceilings', /déjà 60\s000\s€ engagés/);
  });

  test('closing a grant gives its unpaid rest back to the département’s ceiling', async () => {
    const g = (await grants.grantsOfCall(t.db, call.id)).find((x) => x.amount === 10000)!;
    const dep = (await service.getApplication(t.db, g.applicationId))!.departement!;
    const before = (await ceilingsOf(t.db, call.id)).find((c) => c.departement === dep)!.committed;
    await grants.setSchedule({ db: t.db }, staff.actor, g.id, [{ kind: 'avance', amount: 4000 }, { kind: 'solde', amount: 6000 }]);
    await grants.recordPayment({ db: t.db }, staff.actor, g.id, { seq: '1', amount: '4000', paidOn: '2026-12-01' });
    await grants.closeGrant({ db: t.db }, staff.actor, g.id, 'Projet réduit.');
    assert.equal((await ceilingsOf(t.db, call.id)).find((c) => c.departement === dep)!.committed, before - 6000);
  });
});

/**
 * Labels for tiers-lieux: a programme on a label campaign, a place's label granted with validity
 * dates, renewed, withdrawn with a reason; append-only history; shown on the place's public page,
 * the programme's public list and the open-data CSV; every refusal leaves the rows unchanged;
 * two racing grants for one place: one passes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { listAudit } from '../../../platform/audit/index.ts';
import { getPlacesByUids, upsertPlaces } from '../../places/index.ts';
import { placeRecord } from '../../coverage/tests/support.ts';
import * as labels from '../labels.ts';
import * as service from '../service.ts';
import { TOURS, completeForm, makeCall, person, refused, unchanged } from './support.ts';

describe('calls: labels for tiers-lieux', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff: Awaited<ReturnType<typeof person>>;
  let outsider: Awaited<ReturnType<typeof person>>;
  let applicant: Awaited<ReturnType<typeof person>>;
  let programme: labels.LabelProgramme;
  let campaign: service.Call;
  let place: { uid: string; slug: string };
  let other: { uid: string; slug: string };

  before(async () => {
    t = await testApp();
    staff = await person(t.app, 'regional_staff', { kind: 'region', id: '24' });
    outsider = await person(t.app, 'regional_staff', { kind: 'region', id: '28' });
    applicant = await person(t.app, null);
    const { uids } = await upsertPlaces(t.db, [placeRecord({ ...TOURS, id: 'tl-1', nom: 'Tiers-lieu de la gare' }), placeRecord({ ...TOURS, id: 'tl-2', nom: 'Fablab du marché', pivot: '35600000049837' })], { source: 'test' });
    const places = await getPlacesByUids(t.db, uids);
    place = places.find((p) => p.nom === 'Tiers-lieu de la gare')!;
    other = places.find((p) => p.nom === 'Fablab du marché')!;
    campaign = await makeCall(t.db, staff.actor, { kind: 'label', envelope: 0 });
  });
  after(async () => t.close());

  test('a programme: created by the région’s staff on a label campaign of the same région, refusals change nothing', async () => {
    await refused(t.db, () => labels.createProgramme({ db: t.db }, outsider.actor, { name: 'Label', region: '24', validityMonths: 36 }), 403);
    await refused(t.db, () => labels.createProgramme({ db: t.db }, staff.actor, { name: 'Label', region: '24', validityMonths: 0 }), 400, 'validityMonths');
    await refused(t.db, () => labels.createProgramme({ db: t.db }, staff.actor, { name: '', region: '24', validityMonths: 12 }), 400, 'name');
    await refused(t.db, () => labels.createProgramme({ db: t.db }, staff.actor, { name: 'Label\u0000', region: '24', validityMonths: 12 }), 400, 'name');
    const aap = await makeCall(t.db, staff.actor);
    await refused(t.db, () => labels.createProgramme({ db: t.db }, staff.actor, { name: 'Label', region: '24', validityMonths: 12, callId: aap.id }), 400, 'callId');
    await refused(t.db, () => labels.createProgramme({ db: t.db }, staff.actor, { name: 'Label', region: '24', validityMonths: 12, callId: '__proto__' }), 400, 'callId');
    programme = await labels.createProgramme({ db: t.db }, staff.actor, { name: 'Tiers-lieu labellisé Centre-Val de Loire', region: '24', validityMonths: 36, callId: campaign.id });
    await refused(t.db, () => labels.createProgramme({ db: t.db }, staff.actor, { name: 'Autre', region: '24', validityMonths: 12, callId: campaign.id }), 409, 'callId');
    assert.equal(programme.slug, 'tiers-lieu-labellise-centre-val-de-loire');
  });

  test('validity: months added, the last valid day is the day before', () => {
    assert.equal(labels.validUntil('2026-01-15', 36), '2029-01-14');
    assert.equal(labels.validUntil('2026-01-31', 1), '2026-02-27'); // 28 February is the clamped start of the next period
    assert.equal(labels.validUntil('2026-03-01', 12), '2027-02-28');
  });

  test('grant, renew, withdraw: history append-only, audited; wrong moves refused with rows unchanged', async () => {
    const ctx = { db: t.db };
    // refusals before any label
    await refused(t.db, () => labels.changeLabel(ctx, outsider.actor, programme.id, place.uid, 'granted'), 403);
    await refused(t.db, () => labels.changeLabel(ctx, staff.actor, programme.id, 'no-such-place', 'granted'), 400, 'placeUid');
    await refused(t.db, () => labels.changeLabel(ctx, staff.actor, programme.id, "x' OR 1=1 --", 'granted'), 400, 'placeUid');
    await refused(t.db, () => labels.changeLabel(ctx, staff.actor, programme.id, place.uid, 'renewed'), 409, 'kind');
    await refused(t.db, () => labels.changeLabel(ctx, staff.actor, programme.id, place.uid, 'withdrawn', { reason: 'x' }), 409, 'kind');
    await refused(t.db, () => labels.changeLabel(ctx, staff.actor, programme.id, place.uid, 'constructor'), 400, 'kind');
    await refused(t.db, () => labels.changeLabel(ctx, staff.actor, programme.id, place.uid, 'granted', { validFrom: '2026-02-30' }), 400, 'validFrom');
    await refused(t.db, () => labels.changeLabel(ctx, staff.actor, programme.id, place.uid, 'granted', { validFrom: '9999-12-31' }), 400, 'validFrom');
    // a dossier that is not accepted does not give the label
    const org = await service.createOrganisation(ctx, applicant.user.id, { siret: '73282932000074', name: 'Association de la gare', kind: 'association' });
    const app = await service.startApplication(ctx, applicant.user.id, campaign.id, org.id);
    await applicant.browser.get(`/candidatures/${app.id}`);
    await applicant.browser.post(`/candidatures/${app.id}`, completeForm(2000));
    await service.submit(ctx, applicant.user.id, app.id);
    await refused(t.db, () => labels.changeLabel(ctx, staff.actor, programme.id, place.uid, 'granted', { applicationId: app.id }), 409, 'applicationId');
    await service.transition(ctx, staff.actor, app.id, 'en_instruction', '');
    await service.decide(ctx, staff.actor, app.id, { decision: 'accepte', motivation: 'Critères remplis, visite faite.' });

    const today = labels.parisToday();
    const g = await labels.changeLabel(ctx, staff.actor, programme.id, place.uid, 'granted', { applicationId: app.id });
    assert.deepEqual([g.kind, g.validFrom, g.validUntil], ['granted', today, labels.validUntil(today, 36)]);
    await refused(t.db, () => labels.changeLabel(ctx, staff.actor, programme.id, place.uid, 'granted'), 409, 'kind', /renouvelez/);
    await refused(t.db, () => labels.changeLabel(ctx, staff.actor, programme.id, place.uid, 'withdrawn', { reason: '' }), 400, 'reason');

    const r = await labels.changeLabel(ctx, staff.actor, programme.id, place.uid, 'renewed');
    const dayAfter = new Date(`${g.validUntil}T00:00:00Z`);
    dayAfter.setUTCDate(dayAfter.getUTCDate() + 1);
    assert.equal(r.validFrom, dayAfter.toISOString().slice(0, 10));
    assert.equal(r.validUntil, labels.validUntil(r.validFrom!, 36));
    // renewed before the end: still labelled today, until the end of the renewal
    assert.deepEqual((await labels.currentLabels(t.db, [place.uid])).get(place.uid)!.map((l) => [l.validFrom, l.validUntil]), [[today, r.validUntil]]);
    const w = await labels.changeLabel(ctx, staff.actor, programme.id, other.uid, 'granted', { validFrom: today });
    assert.equal(w.kind, 'granted');
    const wd = await labels.changeLabel(ctx, staff.actor, programme.id, other.uid, 'withdrawn', { reason: 'Le lieu a fermé ses portes.' });
    assert.equal(wd.reason, 'Le lieu a fermé ses portes.');
    await refused(t.db, () => labels.changeLabel(ctx, staff.actor, programme.id, other.uid, 'renewed'), 409, 'kind', /retiré/);
    assert.deepEqual((await labels.labelHistory(t.db, other.uid, programme.id)).map((e) => e.kind), ['granted', 'withdrawn']);
    // append-only: the database itself refuses to rewrite history
    await unchanged(t.db, async () => {
      await assert.rejects(t.db.query('UPDATE calls.label_event SET reason = $1 WHERE place_uid = $2', ['effacé', other.uid]), /append-only/);
      await assert.rejects(t.db.query('DELETE FROM calls.label_event WHERE place_uid = $1', [other.uid]), /append-only/);
    });
    const audit = await listAudit(t.db, { objectType: 'calls.label_event' });
    assert.deepEqual(audit.map((a) => a.action).sort(), ['calls.label.grant', 'calls.label.grant', 'calls.label.renew', 'calls.label.withdraw']);
  });

  test('two racing grants for one place: one passes, one is refused', async () => {
    const p2 = await labels.createProgramme({ db: t.db }, staff.actor, { name: 'Label numérique responsable', region: '24', validityMonths: 24 });
    const results = await Promise.allSettled([1, 2, 3].map(() => labels.changeLabel({ db: t.db }, staff.actor, p2.id, other.uid, 'granted')));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.equal((await labels.labelHistory(t.db, other.uid, p2.id)).length, 1);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { statusCode: number }).statusCode, 409);
  });

  test('a région’s label is refused for a place of another région, nothing written', async () => {
    const { uids } = await upsertPlaces(t.db, [placeRecord({ id: 'tl-evreux', nom: 'Tiers-lieu d’Évreux' })], { source: 'test-evreux' }); // Évreux: région 28
    await refused(t.db, () => labels.changeLabel({ db: t.db }, staff.actor, programme.id, uids[0], 'granted'), 422, 'placeUid', /n’est pas dans la région de ce label/);
  });

  test('public: the place page shows its labels, the programme page lists labelled places, the open-data CSV; staff pages', async () => {
    const page = await t.app.inject({ method: 'GET', url: `/lieux/${other.uid}/${other.slug}` });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<h2 id="s-badges-0">Labels<\/h2>/);
    assert.match(page.body, /Label numérique responsable<\/a><\/strong> — labellisé du/);
    assert.doesNotMatch(page.body, /Tiers-lieu labellisé Centre-Val de Loire<\/a>/); // withdrawn for this place
    const list = await t.app.inject({ method: 'GET', url: '/labels/label-numerique-responsable' });
    assert.equal(list.statusCode, 200);
    assert.match(list.body, /1 lieu labellisé/);
    assert.match(list.body, /Fablab du marché/);
    assert.equal((await t.app.inject({ method: 'GET', url: '/labels/inconnu' })).statusCode, 404);
    const csv = await t.app.inject({ method: 'GET', url: '/api/v1/calls/labels.csv' });
    assert.equal(csv.statusCode, 200);
    assert.match(csv.body, /^label,id_lieu,nom_lieu,commune,date_debut,date_fin\r\n/);
    assert.match(csv.body, new RegExp(`label-numerique-responsable,${other.uid},Fablab du marché,Tours,`));
    assert.match(csv.body, new RegExp(`tiers-lieu-labellise-centre-val-de-loire,${place.uid},Tiers-lieu de la gare,`));
    assert.equal(csv.body.trim().split('\r\n').length, 3); // the place whose label was withdrawn is not there
    const donnees = await t.app.inject({ method: 'GET', url: '/donnees' });
    assert.match(donnees.body, /Labels des tiers-lieux/);

    const sp = await staff.browser.get(`/gestion/labels/${programme.id}`);
    assert.equal(sp.status, 200);
    assert.match(sp.body, /Label retiré/);
    assert.match(sp.body, /Le lieu a fermé ses portes/);
    await unchanged(t.db, async () => {
      const bad = await staff.browser.post(`/gestion/labels/${programme.id}/evenements`, { placeUid: place.uid, kind: 'withdrawn', reason: '' });
      assert.equal(bad.status, 422);
      assert.match(bad.body, /Motif du retrait/);
      assert.equal((await outsider.browser.post(`/gestion/labels/${programme.id}/evenements`, { placeUid: place.uid, kind: 'renewed' })).status, 403);
      assert.equal((await applicant.browser.get(`/gestion/labels/${programme.id}`)).status, 403);
    });
  });
});

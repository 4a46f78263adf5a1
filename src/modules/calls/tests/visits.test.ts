/**
 * The audit visit of a label application (issue #18): the programme's criteria (yes/no,
 * thresholds, documents), a visit recorded by the instructor on the dossier (date, visitor, the
 * place, each criterion met or not with a comment), stored append-only, audited, shown on the
 * dossier, and the label refused while a required criterion is not met at the latest visit.
 * Every refusal leaves the rows unchanged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { getPlacesByUids, upsertPlaces } from '../../places/index.ts';
import { placeRecord } from '../../coverage/tests/support.ts';
import * as labels from '../labels.ts';
import * as service from '../service.ts';
import * as visits from '../visits.ts';
import { TOURS, completeForm, makeCall, person, refused, unchanged } from './support.ts';

const CRITERIA = 'oui-non ; Accueil du public au moins 20 h par semaine\nseuil ; Surface ouverte au public (m²) ; 50\ndocument ; Attestation d’assurance\noui-non ; Café associatif ; facultatif';

describe('calls: the audit visit of a label application', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff: Awaited<ReturnType<typeof person>>;
  let outsider: Awaited<ReturnType<typeof person>>;
  let applicant: Awaited<ReturnType<typeof person>>;
  let programme: labels.LabelProgramme;
  let place: { uid: string };
  let appId: string;

  before(async () => {
    t = await testApp();
    staff = await person(t.app, 'regional_staff', { kind: 'region', id: '24' });
    outsider = await person(t.app, 'regional_staff', { kind: 'region', id: '28' });
    applicant = await person(t.app, null);
    const { uids } = await upsertPlaces(t.db, [placeRecord({ ...TOURS, id: 'visite-1', nom: 'Tiers-lieu visité' })], { source: 'test' });
    place = (await getPlacesByUids(t.db, uids))[0]!;
    const campaign = await makeCall(t.db, staff.actor, { kind: 'label', envelope: 0 });
    programme = await labels.createProgramme({ db: t.db }, staff.actor, { name: 'Label visité', region: '24', validityMonths: 24, callId: campaign.id });
    const ctx = { db: t.db };
    const org = await service.createOrganisation(ctx, applicant.user.id, { siret: '73282932000074', name: 'Association visitée', kind: 'association' });
    appId = (await service.startApplication(ctx, applicant.user.id, campaign.id, org.id)).id;
    await applicant.browser.get(`/candidatures/${appId}`);
    await applicant.browser.post(`/candidatures/${appId}`, completeForm(2000));
    await service.submit(ctx, applicant.user.id, appId);
    await service.transition(ctx, staff.actor, appId, 'en_instruction', '');
  });
  after(async () => t.close());

  test('criteria: typed one a line by the région’s staff, a faulty line named, nothing saved on refusal', async () => {
    assert.deepEqual(visits.parseCriteria(CRITERIA), [
      { id: 'c1', kind: 'yes_no', label: 'Accueil du public au moins 20 h par semaine', required: true },
      { id: 'c2', kind: 'threshold', label: 'Surface ouverte au public (m²)', required: true, threshold: 50 },
      { id: 'c3', kind: 'document', label: 'Attestation d’assurance', required: true },
      { id: 'c4', kind: 'yes_no', label: 'Café associatif', required: false },
    ]);
    assert.equal(visits.criteriaText(visits.parseCriteria(CRITERIA)), CRITERIA);
    // without criteria, a visit cannot be recorded
    await refused(t.db, () => visits.recordVisit({ db: t.db }, staff.actor, appId, {}), 409, 'criteria');
    await staff.browser.get(`/gestion/labels/${programme.id}`);
    for (const [lines, message] of [
      ['oui-non ; Accueil\npeut-être ; Autre', /ligne 2 : commencez par/],
      ['seuil ; Surface', /ligne 1 : un seuil s’écrit/],
      ['seuil ; Surface ; beaucoup', /nombre attendu/],
      ['document ; ' + 'x'.repeat(201), /1 à 200 caractères/],
      ['oui-non ; Accueil\u0007', /caractère de contrôle/],
      [Array.from({ length: 51 }, (_, i) => `oui-non ; Critère ${i}`).join('\n'), /50 au plus/],
    ] as const) {
      await unchanged(t.db, async () => {
        const res = await staff.browser.post(`/gestion/labels/${programme.id}/criteres`, { criteria: lines });
        assert.equal(res.status, 422, `${lines.slice(0, 40)}: ${res.body.slice(0, 3000).replace(/<style>[\s\S]*<\/style>/, "")}`);
        assert.match(res.body, message);
      });
    }
    await outsider.browser.get('/gestion/labels');
    await unchanged(t.db, async () => assert.equal((await outsider.browser.post(`/gestion/labels/${programme.id}/criteres`, { criteria: CRITERIA })).status, 403));
    assert.equal((await staff.browser.post(`/gestion/labels/${programme.id}/criteres`, { criteria: CRITERIA })).status, 303);
    programme = (await labels.getProgramme(t.db, programme.id))!;
    assert.equal(programme.criteria.length, 4);
    const page = await staff.browser.get(`/gestion/labels/${programme.id}`);
    assert.match(page.body, /Surface ouverte au public \(m²\) — seuil \(minimum 50\), obligatoire/);
  });

  test('a visit: every criterion answered, a comment when not met, refusals change nothing; shown on the dossier; audited', async () => {
    const page = await staff.browser.get(`/gestion/dossiers/${appId}`);
    assert.match(page.body, /Visite d’audit — Label visité/);
    assert.match(page.body, /<label for="v-value-c2">Valeur relevée \(minimum 50\)<\/label>/);
    const good = { visitedOn: labels.parisToday(), visitor: 'Camille Martin, chargée de mission', placeUid: place.uid, met_c1: 'oui', value_c2: '65', met_c3: 'oui', met_c4: 'non', comment_c4: 'Pas de café pour l’instant.' };
    const tomorrow = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    for (const [change, field] of [
      [{ met_c1: undefined }, 'met_c1'],
      [{ met_c1: 'peut-être' }, 'met_c1'],
      [{ value_c2: '' }, 'value_c2'],
      [{ value_c2: '1e999' }, 'value_c2'],
      [{ met_c3: 'non' }, 'comment_c3'],
      [{ value_c2: '30' }, 'comment_c2'],
      [{ visitedOn: tomorrow }, 'visitedOn'],
      [{ visitedOn: '2026-02-30' }, 'visitedOn'],
      [{ visitor: '' }, 'visitor'],
      [{ placeUid: '00000000-0000-4000-8000-000000000000' }, 'placeUid'],
      [{ placeUid: '__proto__' }, 'placeUid'],
    ] as [Record<string, string | undefined>, string][]) {
      const input: Record<string, unknown> = { ...good, ...change };
      for (const k of Object.keys(change)) if (change[k] === undefined) delete input[k];
      await refused(t.db, () => visits.recordVisit({ db: t.db }, staff.actor, appId, input), 400, field);
    }
    await refused(t.db, () => visits.recordVisit({ db: t.db }, outsider.actor, appId, good), 403);
    await refused(t.db, () => visits.recordVisit({ db: t.db }, applicant.actor, appId, good), 403);
    // through the page: a refusal is shown in the page, rows unchanged; without the token, 403
    await unchanged(t.db, async () => {
      const res = await staff.browser.post(`/gestion/dossiers/${appId}/visites`, { ...good, met_c3: 'non' });
      assert.equal(res.status, 422);
      assert.match(res.body, /« Attestation d’assurance » n’est pas rempli : dites pourquoi dans le commentaire/);
    });
    await unchanged(t.db, async () => assert.equal((await staff.browser.post(`/gestion/dossiers/${appId}/visites`, good, { csrf: false })).status, 403));
    // a visit where the surface is too small (a required threshold not met)
    const res = await staff.browser.post(`/gestion/dossiers/${appId}/visites`, { ...good, value_c2: '42', comment_c2: 'Salle principale seulement : 42 m².' });
    assert.equal(res.status, 303);
    const [v] = await visits.visitsOf(t.db, appId);
    assert.equal(v!.unmetRequired, 1);
    assert.deepEqual(v!.items.find((i) => i.criterion === 'c2'), { criterion: 'c2', kind: 'threshold', label: 'Surface ouverte au public (m²)', required: true, threshold: 50, value: 42, met: false, comment: 'Salle principale seulement : 42 m².' });
    const shown = await staff.browser.get(`/gestion/dossiers/${appId}`);
    assert.match(shown.body, /Visite du .* par Camille Martin, chargée de mission/);
    assert.match(shown.body, /1 critère obligatoire non rempli/);
    assert.match(shown.body, /42 \(minimum 50\)/);
    const journal = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM platform.audit_entry WHERE action = 'calls.label.visit' AND object_id = $1`, [appId]);
    assert.equal(journal.rows[0]!.n, 1);
    // append-only
    await assert.rejects(t.db.query('UPDATE calls.label_visit SET unmet_required = 0'), /append-only/);
  });

  test('the label decision: refused while a required criterion is not met at the latest visit, with a clear message', async () => {
    const ctx = { db: t.db };
    await service.decide(ctx, staff.actor, appId, { decision: 'accepte', motivation: 'Projet solide ; visite à refaire.' });
    await refused(t.db, () => labels.changeLabel(ctx, staff.actor, programme.id, place.uid, 'granted', { applicationId: appId }), 409, 'visit', /lors de la visite du .*, ce critère obligatoire n’était pas rempli : « Surface ouverte au public \(m²\) » \(Salle principale seulement : 42 m²\.\)/);
    // without naming the dossier, the place's latest visit decides just the same
    await refused(t.db, () => labels.changeLabel(ctx, staff.actor, programme.id, place.uid, 'granted', {}), 409, 'visit');
    // the staff page shows the refusal
    await staff.browser.get(`/gestion/labels/${programme.id}`);
    await unchanged(t.db, async () => {
      const res = await staff.browser.post(`/gestion/labels/${programme.id}/evenements`, { placeUid: place.uid, kind: 'granted', applicationId: appId });
      assert.equal(res.status, 409);
      assert.match(res.body, /Le label ne peut pas être attribué/);
    });
    // a new visit, everything required met: the label is granted
    await visits.recordVisit(ctx, staff.actor, appId, { visitedOn: labels.parisToday(), visitor: 'Camille Martin', placeUid: place.uid, met_c1: 'oui', value_c2: '55', comment_c2: 'Cloison déplacée.', met_c3: 'oui', met_c4: 'oui' });
    const g = await labels.changeLabel(ctx, staff.actor, programme.id, place.uid, 'granted', { applicationId: appId });
    assert.equal(g.kind, 'granted');
    // a required criterion added since the visit: the next grant (after a withdrawal) needs a new visit
    await labels.changeLabel(ctx, staff.actor, programme.id, place.uid, 'withdrawn', { reason: 'Fermeture temporaire.' });
    await visits.setCriteria(ctx, staff.actor, programme.id, `${CRITERIA}\ndocument ; Règlement intérieur`);
    await refused(t.db, () => labels.changeLabel(ctx, staff.actor, programme.id, place.uid, 'granted', { applicationId: appId }), 409, 'visit', /n’a pas vérifié « Règlement intérieur »/);
  });
});

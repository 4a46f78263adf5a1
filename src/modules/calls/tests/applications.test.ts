/**
 * Applications, from the applicant's pages: organisation (SIRET checked), draft saved as one goes
 * (autosave answers JSON), what is missing, submission cut off by the server's clock with a clear
 * message, receipt with the fingerprint, correction requests, history; the database checked after
 * every refusal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { readOutbox } from '../../accounts/index.ts';
import { fingerprint } from '../model.ts';
import * as service from '../service.ts';
import { completeForm, makeCall, person, refused, unchanged } from './support.ts';

describe('calls: applications', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff: Awaited<ReturnType<typeof person>>;
  let alice: Awaited<ReturnType<typeof person>>;
  let bob: Awaited<ReturnType<typeof person>>; // same organisation, added by alice
  let eve: Awaited<ReturnType<typeof person>>; // another applicant
  let call: service.Call;
  let appId: string;

  before(async () => {
    t = await testApp();
    staff = await person(t.app, 'regional_staff', { kind: 'region', id: '24' });
    alice = await person(t.app, null);
    bob = await person(t.app, null);
    eve = await person(t.app, null);
    call = await makeCall(t.db, staff.actor, { eligibleTypes: ['association', 'ess'], stages: 2 });
  });
  after(async () => t.close());

  test('an organisation needs a valid SIRET (checksum named), once; a member adds another person', async () => {
    const start = `/appels/${call.slug}/candidater`;
    await alice.browser.get(start);
    await unchanged(t.db, async () => {
      const r = await alice.browser.post('/candidatures/structures', { siret: '73282932000075', name: 'Tiers-lieu du village', kind: 'association', retour: start });
      assert.equal(r.status, 400);
      assert.match(r.body, /clé de contrôle/);
      assert.match(r.body, /value="Tiers-lieu du village"/); // what was typed is kept
    });
    const ok = await alice.browser.post('/candidatures/structures', { siret: '732 829 320 00074', name: 'Tiers-lieu du village', kind: 'association', retour: start });
    assert.equal(ok.status, 303);
    assert.equal(ok.location, start);
    await eve.browser.get(start);
    await unchanged(t.db, async () => {
      const dup = await eve.browser.post('/candidatures/structures', { siret: '73282932000074', name: 'Usurpation', kind: 'association', retour: start });
      assert.equal(dup.status, 409);
      assert.match(dup.body, /déjà enregistrée/);
    });
    await alice.browser.get('/candidatures');
    const add = await alice.browser.post(`/candidatures/structures/${(await service.myOrganisations(t.db, alice.user.id))[0]!.id}/membres`, { email: bob.user.email });
    assert.equal(add.status, 303);
    assert.equal((await service.myOrganisations(t.db, bob.user.id)).length, 1);
  });

  test('an organisation of a kind the call does not accept is refused with the list', async () => {
    await eve.browser.get(`/appels/${call.slug}/candidater`);
    await eve.browser.post('/candidatures/structures', { siret: '35600000049837', name: 'Bureau de poste', kind: 'entreprise', retour: `/appels/${call.slug}/candidater` });
    const org = (await service.myOrganisations(t.db, eve.user.id))[0]!;
    await eve.browser.get(`/appels/${call.slug}/candidater`);
    await unchanged(t.db, async () => {
      const r = await eve.browser.post(`/appels/${call.slug}/candidater`, { organisationId: org.id });
      assert.equal(r.status, 422);
      assert.match(r.body, /ouvert aux structures suivantes : Association/);
    });
  });

  test('draft: saved by the page and by autosave (JSON), what is missing listed, bad answers refused whole', async () => {
    const org = (await service.myOrganisations(t.db, alice.user.id))[0]!;
    await alice.browser.get(`/appels/${call.slug}/candidater`);
    const r = await alice.browser.post(`/appels/${call.slug}/candidater`, { organisationId: org.id });
    assert.equal(r.status, 303);
    appId = r.location!.split('/').pop()!;
    const page = await alice.browser.get(`/candidatures/${appId}`);
    assert.match(page.body, /Ce qui manque avant de déposer/);
    assert.match(page.body, /Répondez à la question « Résumé »/);
    assert.match(page.body, /data-autosave/);
    // autosave: a partial draft, answered in JSON
    const partial = await alice.browser.post(`/candidatures/${appId}`, { title: 'Un tiers-lieu', 'q.resume': 'Début', 'q.volet': 'Équipement' }, { headers: { accept: 'application/json' } });
    assert.equal(partial.status, 200);
    assert.equal(JSON.parse(partial.body).ok, true);
    assert.ok(JSON.parse(partial.body).missing > 0);
    const p2 = await alice.browser.get(`/candidatures/${appId}`);
    assert.match(p2.body, /Répondez à la question « Détail de l’équipement »/); // shown by the condition
    // an answer that breaks its rules: refused, nothing saved (not even the valid answers)
    for (const [field, value, msg] of [['q.montant', '12,345', /montant invalide/], ['q.postes', '500', /100 au plus/], ['q.public', 'Inconnu', /choix inconnu/], ['q.debut', '2026-13-01', /date/]] as const) {
      await unchanged(t.db, async () => {
        const bad = await alice.browser.post(`/candidatures/${appId}`, { ...completeForm(), [field]: value });
        assert.equal(bad.status, 422, field);
        assert.match(bad.body, msg);
      });
    }
    const hostile = await alice.browser.post(`/candidatures/${appId}`, { title: 'x'.repeat(300), __proto__: 'x', constructor: 'y' } as Record<string, string>);
    assert.equal(hostile.status, 422);
    assert.match(hostile.body, /200 caractères au plus/);
  });

  test('a budget that does not balance cannot be submitted; nothing changes', async () => {
    await alice.browser.get(`/candidatures/${appId}`);
    const f = completeForm();
    f['q.budget.r.1.amount'] = '19999.99';
    assert.equal((await alice.browser.post(`/candidatures/${appId}`, f)).status, 303);
    await alice.browser.get(`/candidatures/${appId}`);
    await unchanged(t.db, async () => {
      const r = await alice.browser.post(`/candidatures/${appId}/depot`, {});
      assert.equal(r.status, 422);
      assert.match(r.body, /n’est pas équilibré.*écart 0,01/);
    });
  });

  test('another applicant cannot read, save or submit the dossier (404, nothing changes)', async () => {
    assert.equal((await eve.browser.get(`/candidatures/${appId}`)).status, 404);
    await eve.browser.get('/candidatures');
    await unchanged(t.db, async () => {
      assert.equal((await eve.browser.post(`/candidatures/${appId}`, completeForm())).status, 404);
      assert.equal((await eve.browser.post(`/candidatures/${appId}/depot`, {})).status, 404);
    });
    assert.equal((await bob.browser.get(`/candidatures/${appId}`)).status, 200); // same organisation
  });

  test('submission: receipt page and e-mail with the SHA-256 of what was submitted; no more edits', async () => {
    await alice.browser.get(`/candidatures/${appId}`);
    assert.equal((await alice.browser.post(`/candidatures/${appId}`, completeForm())).status, 303);
    const r = await alice.browser.post(`/candidatures/${appId}/depot`, {});
    assert.equal(r.status, 303);
    const a = (await service.getApplication(t.db, appId))!;
    assert.equal(a.state, 'en_construction');
    assert.equal(a.fingerprint, fingerprint({ title: a.title, answers: a.answers, formVersion: 1 }));
    const receipt = await alice.browser.get(r.location!);
    assert.ok(receipt.body.includes(a.fingerprint!));
    const mail = (await readOutbox(t.db, alice.user.email)).find((m) => m.subject.includes('Récépissé'))!;
    assert.ok(mail.body.includes(a.fingerprint!));
    await alice.browser.get(`/candidatures/${appId}`);
    await unchanged(t.db, async () => {
      assert.equal((await alice.browser.post(`/candidatures/${appId}`, completeForm(30000))).status, 409);
      assert.equal((await alice.browser.post(`/candidatures/${appId}/depot`, {})).status, 409);
    });
  });

  test('correction request: the applicant edits until the deadline, re-submits, sees the history', async () => {
    await refused(t.db, () => service.requestCorrection({ db: t.db }, staff.actor, appId, '', '2099-01-01'), 400, 'reason');
    await refused(t.db, () => service.requestCorrection({ db: t.db }, staff.actor, appId, 'Budget', '2020-01-01'), 400, 'due');
    await refused(t.db, () => service.requestCorrection({ db: t.db }, eve.actor, appId, 'Budget', '2099-01-01'), 403);
    await service.requestCorrection({ db: t.db }, staff.actor, appId, 'Détaillez les travaux.', '2099-01-01');
    const page = await alice.browser.get(`/candidatures/${appId}`);
    assert.match(page.body, /Correction demandée/);
    assert.match(page.body, /Détaillez les travaux/);
    const f = completeForm();
    f['q.resume'] = 'Travaux détaillés.';
    assert.equal((await alice.browser.post(`/candidatures/${appId}`, f)).status, 303);
    assert.equal((await alice.browser.post(`/candidatures/${appId}/depot`, {})).status, 303);
    const a = (await service.getApplication(t.db, appId))!;
    assert.equal(a.correctionReason, null);
    assert.equal((await service.receipts(t.db, appId)).length, 2);
    await service.transition({ db: t.db }, staff.actor, appId, 'en_instruction', 'Note interne');
    const hist = await alice.browser.get(`/candidatures/${appId}`);
    assert.match(hist.body, /correction demandée : Détaillez les travaux/);
    assert.match(hist.body, /correction déposée/);
    assert.match(hist.body, /passage de « En construction » à « En instruction »/);
  });

  test('one minute late: the server clock refuses with a clear message, the draft stays', async () => {
    const late = await makeCall(t.db, staff.actor, { eligibleTypes: [] });
    const org = (await service.myOrganisations(t.db, alice.user.id))[0]!;
    const a = await service.startApplication({ db: t.db }, alice.user.id, late.id, org.id);
    await alice.browser.get(`/candidatures/${a.id}`);
    assert.equal((await alice.browser.post(`/candidatures/${a.id}`, completeForm())).status, 303);
    await t.db.query(`UPDATE calls.call SET closes_at = now() - interval '1 minute' WHERE id = $1`, [late.id]);
    await alice.browser.get(`/candidatures/${a.id}`);
    await unchanged(t.db, async () => {
      const r = await alice.browser.post(`/candidatures/${a.id}/depot`, {});
      assert.equal(r.status, 409);
      assert.match(r.body, /L’appel a été clos le .* \(heure de Paris\) : le dépôt n’est plus possible\. Votre brouillon reste enregistré\./);
    });
    // and a second earlier by the service's clock, it is accepted
    const closes = Date.parse((await service.getCall(t.db, late.id))!.closesAt);
    const ok = await service.submit({ db: t.db }, alice.user.id, a.id, new Date(closes - 1000));
    assert.equal(ok.app.state, 'en_construction');
  });

  test('concurrent submissions of one dossier: one receipt', async () => {
    const c = await makeCall(t.db, staff.actor, { eligibleTypes: [] });
    const org = (await service.myOrganisations(t.db, alice.user.id))[0]!;
    const a = await service.startApplication({ db: t.db }, alice.user.id, c.id, org.id);
    await alice.browser.get(`/candidatures/${a.id}`);
    await alice.browser.post(`/candidatures/${a.id}`, completeForm());
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => service.submit({ db: t.db }, alice.user.id, a.id)));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.equal((await service.receipts(t.db, a.id)).length, 1);
  });
});

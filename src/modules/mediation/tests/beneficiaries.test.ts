/**
 * Followed beneficiaries: consent, minimal data, visibility limited to the mediator and their team
 * (rows read after every refused request), audited reads, duplicates and merge, export, deletion,
 * retention purge (job and CLI share purgeExpired).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { listAudit } from '../../../platform/audit/index.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { todayIso } from '../model.ts';
import { createTeam, purgeExpired, recordActivity, setTeam, updateProfile } from '../service.ts';
import { makePlace, snapshot } from './support.ts';

const { depsOf, makeUser, signedInBrowser } = accountsTesting;

async function beneficiaryRows(db: Awaited<ReturnType<typeof testApp>>['db']) {
  return (await db.query('SELECT id, mediator_id, alias, birth_year, commune_code, contact, last_activity_on::text FROM mediation.beneficiary ORDER BY id')).rows;
}

describe('mediation: followed beneficiaries', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let alice: accountsTesting.Browser;
  let bob: accountsTesting.Browser; // alice's team
  let carol: accountsTesting.Browser; // another team
  let coord: accountsTesting.Browser; // coordinates alice's team without being in it
  let ids: { alice: string; bob: string; carol: string; coord: string };
  let place: string;

  before(async () => {
    t = await testApp();
    const deps = depsOf(t.app);
    place = await makePlace(t.db, '76540');
    const grant = [{ role: 'mediator', scopeKind: 'departement', scopeId: '76' }];
    const [a, b, c, k] = [
      await makeUser(deps, 'b-alice@exemple.fr', grant, 'Alice'),
      await makeUser(deps, 'b-bob@exemple.fr', grant, 'Bob'),
      await makeUser(deps, 'b-carol@exemple.fr', grant, 'Carol'),
      await makeUser(deps, 'b-coord@exemple.fr', grant, 'Coordinatrice'),
    ];
    ids = { alice: a.id, bob: b.id, carol: c.id, coord: k.id };
    for (const u of [a, b, c]) await updateProfile(t.ctx, u.id, u.displayName, { employer: 'Département', placeUids: [place] });
    const team = await createTeam(t.ctx, k.id, 'Équipe Seine', k.id);
    await setTeam(t.ctx, k.id, a.id, team.id);
    await setTeam(t.ctx, k.id, b.id, team.id);
    const other = await createTeam(t.ctx, k.id, 'Équipe Eure', null);
    await setTeam(t.ctx, k.id, c.id, other.id);
    alice = await signedInBrowser(t.app, deps, a);
    bob = await signedInBrowser(t.app, deps, b, '192.0.2.2');
    carol = await signedInBrowser(t.app, deps, c, '192.0.2.3');
    coord = await signedInBrowser(t.app, deps, k, '192.0.2.4');
  });
  after(async () => t.close());

  async function create(b: accountsTesting.Browser, form: Record<string, string>) {
    await b.get('/mediation/beneficiaires/nouveau');
    return b.post('/mediation/beneficiaires', form);
  }

  test('no consent, no follow-up: 422 naming the field, no row', async () => {
    const before = await snapshot(t.db);
    const r = await create(alice, { alias: 'Jeanne D.', birthYear: '1950' });
    assert.equal(r.status, 422);
    assert.match(r.body, /accord/);
    assert.match(r.body, /href="#f-consent"/);
    const bad = await create(alice, { alias: 'Jeanne D.', birthYear: '3000', consent: 'on' });
    assert.equal(bad.status, 422);
    assert.match(bad.body, /année de naissance/);
    assert.deepEqual(await snapshot(t.db), before);
  });

  test('the mediator and their team see a followed person; others get 404 and change nothing; every read is audited', async () => {
    const r = await create(alice, { alias: 'Jeanne Dupont', birthYear: '1950', communeCode: '76540', consent: 'on' });
    assert.equal(r.status, 303);
    const id = r.location!.split('/').pop()!;
    const auditBefore = (await listAudit(t.db, { objectType: 'mediation.beneficiary', objectId: id, limit: 500 })).filter((e) => e.action === 'mediation.beneficiary.read').length;
    assert.equal((await alice.get(`/mediation/beneficiaires/${id}`)).status, 200);
    assert.equal((await bob.get(`/mediation/beneficiaires/${id}`)).status, 200);
    assert.equal((await coord.get(`/mediation/beneficiaires/${id}`)).status, 200);
    const reads = (await listAudit(t.db, { objectType: 'mediation.beneficiary', objectId: id, limit: 500 })).filter((e) => e.action === 'mediation.beneficiary.read');
    assert.equal(reads.length, auditBefore + 3);
    assert.deepEqual(new Set(reads.slice(0, 3).map((e) => e.actorId)), new Set([ids.alice, ids.bob, ids.coord]));

    const rows = await beneficiaryRows(t.db);
    await carol.get('/mediation/beneficiaires');
    assert.equal((await carol.get(`/mediation/beneficiaires/${id}`)).status, 404);
    assert.equal((await carol.get(`/mediation/beneficiaires/${id}/export`)).status, 404);
    assert.equal((await carol.post(`/mediation/beneficiaires/${id}`, { alias: 'Volée', consent: 'on' })).status, 404);
    assert.equal((await carol.post(`/mediation/beneficiaires/${id}/supprimer`, {})).status, 404);
    const own = await create(carol, { alias: 'Paul', consent: 'on' });
    const carolsId = own.location!.split('/').pop()!;
    const rows2 = await beneficiaryRows(t.db);
    assert.equal((await carol.post('/mediation/beneficiaires/fusion', { keep: carolsId, drop: id })).status, 404);
    assert.deepEqual(await beneficiaryRows(t.db), rows2);
    assert.deepEqual(rows2.filter((x) => x.id !== carolsId), rows);
    // Nor can carol record an activity for alice's person.
    const before = await snapshot(t.db);
    const rec = await carol.submit('/mediation/activites/nouvelle', '/mediation/activites', { kind: 'individual', date: todayIso(), duration: '30', placeKind: 'place', placeUid: place, themes: 'e-mail', beneficiaries: id, idempotencyKey: 'k-carol-1234' });
    assert.equal(rec.status, 422);
    assert.deepEqual(await snapshot(t.db), before);
    // The list shows nothing of the other team.
    assert.doesNotMatch((await carol.get('/mediation/beneficiaires')).body, /Jeanne/);
    assert.match((await bob.get('/mediation/beneficiaires')).body, /Jeanne Dupont/);
  });

  test('duplicates are found and merged: activities move to the kept person', async () => {
    const a = await create(alice, { alias: 'Marc Leroy', birthYear: '1980', consent: 'on' });
    const b = await create(bob, { alias: 'LEROY marc', birthYear: '1980', communeCode: '76540', consent: 'on' });
    const keep = a.location!.split('/').pop()!;
    const drop = b.location!.split('/').pop()!;
    await recordActivity(t.ctx, { id: ids.bob }, { kind: 'individual', date: todayIso(), duration: '45', placeKind: 'place', placeUid: place, themes: 'e-mail', beneficiaries: drop });
    const page = await alice.get('/mediation/beneficiaires/doublons');
    assert.match(page.body, /Marc Leroy/);
    const r = await alice.post('/mediation/beneficiaires/fusion', { keep, drop });
    assert.equal(r.status, 303);
    const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM mediation.activity_beneficiary WHERE beneficiary_id = $1', [keep]);
    assert.equal(rows[0]!.n, 1);
    const kept = (await t.db.query<{ commune_code: string; last: string }>('SELECT commune_code, last_activity_on::text AS last FROM mediation.beneficiary WHERE id = $1', [keep])).rows[0]!;
    assert.equal(kept.commune_code, '76540');
    assert.equal(kept.last, todayIso());
    assert.equal((await t.db.query('SELECT 1 FROM mediation.beneficiary WHERE id = $1', [drop])).rows.length, 0);
  });

  test('export and deletion on request; deletion keeps the figures, anonymously', async () => {
    const c = await create(alice, { alias: 'Lucie', consent: 'on', contact: '06 00 00 00 00' });
    const id = c.location!.split('/').pop()!;
    await recordActivity(t.ctx, { id: ids.alice }, { kind: 'individual', date: todayIso(), duration: '30', placeKind: 'place', placeUid: place, themes: 'sante', beneficiaries: id });
    const exp = await alice.get(`/mediation/beneficiaires/${id}/export`);
    assert.equal(exp.status, 200);
    const data = JSON.parse(exp.body);
    assert.equal(data.person.alias, 'Lucie');
    assert.equal(data.activities.length, 1);
    const before = await snapshot(t.db);
    await alice.get(`/mediation/beneficiaires/${id}`);
    assert.equal((await alice.post(`/mediation/beneficiaires/${id}/supprimer`, {})).status, 303);
    const after = await snapshot(t.db);
    assert.equal(after.beneficiary, before.beneficiary - 1);
    assert.equal(after.activity_beneficiary, before.activity_beneficiary);
    assert.equal(after.counterSum, before.counterSum);
    const actions = (await listAudit(t.db, { objectId: id, limit: 50 })).map((e) => e.action);
    assert.ok(actions.includes('mediation.beneficiary.export') && actions.includes('mediation.beneficiary.delete'));
  });

  test('retention: people whose last activity is older than the limit are deleted', async () => {
    const c = await create(alice, { alias: 'Ancien', consent: 'on' });
    const old = c.location!.split('/').pop()!;
    const recent = (await create(alice, { alias: 'Récent', consent: 'on' })).location!.split('/').pop()!;
    await t.db.query(`UPDATE mediation.beneficiary SET last_activity_on = (now() - interval '25 months')::date WHERE id = $1`, [old]);
    await t.db.query(`UPDATE mediation.beneficiary SET last_activity_on = (now() - interval '23 months')::date WHERE id = $1`, [recent]);
    const n = await purgeExpired(t.ctx);
    assert.ok(n >= 1);
    assert.equal((await t.db.query('SELECT 1 FROM mediation.beneficiary WHERE id = $1', [old])).rows.length, 0);
    assert.equal((await t.db.query('SELECT 1 FROM mediation.beneficiary WHERE id = $1', [recent])).rows.length, 1);
  });
});

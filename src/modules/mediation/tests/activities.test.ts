/**
 * Recording activities over HTTP: the phone form, validation errors naming fields with nothing
 * saved, idempotent resending (never counted twice, even concurrently), duplicate a record,
 * visibility (own and team), deletion with counters decremented.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { todayIso } from '../model.ts';
import { createTeam, setTeam, updateProfile } from '../service.ts';
import { makePlace, snapshot } from './support.ts';

const { depsOf, makeUser, signedInBrowser } = accountsTesting;

describe('mediation: recording activities', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let place: string;
  let alice: accountsTesting.Browser;
  let bob: accountsTesting.Browser; // same team as alice
  let carol: accountsTesting.Browser; // another team
  let aliceId: string;
  const key = () => crypto.randomUUID();

  before(async () => {
    t = await testApp();
    const deps = depsOf(t.app);
    place = await makePlace(t.db, '76540');
    const grant = [{ role: 'mediator', scopeKind: 'departement', scopeId: '76' }];
    const a = await makeUser(deps, 'alice@exemple.fr', grant, 'Alice');
    const b = await makeUser(deps, 'bob@exemple.fr', grant, 'Bob');
    const c = await makeUser(deps, 'carol@exemple.fr', grant, 'Carol');
    aliceId = a.id;
    for (const u of [a, b, c]) await updateProfile(t.ctx, u.id, u.displayName, { employer: 'Commune de Rouen', placeUids: [place] });
    const team = await createTeam(t.ctx, a.id, 'Équipe Rouen', null);
    await setTeam(t.ctx, a.id, a.id, team.id);
    await setTeam(t.ctx, a.id, b.id, team.id);
    alice = await signedInBrowser(t.app, deps, a);
    bob = await signedInBrowser(t.app, deps, b, '192.0.2.2');
    carol = await signedInBrowser(t.app, deps, c, '192.0.2.3');
  });
  after(async () => t.close());

  const valid = (over: Record<string, string | string[]> = {}) => ({ kind: 'individual', date: todayIso(), duration: '30', placeKind: 'place', placeUid: place, themes: 'e-mail', idempotencyKey: key(), ...over });
  async function post(b: accountsTesting.Browser, form: Record<string, string | string[]>, headers: Record<string, string> = {}) {
    await b.get('/mediation/activites/nouvelle');
    const body = new URLSearchParams();
    body.append('_csrf', b.csrf!);
    for (const [k, v] of Object.entries(form)) for (const x of Array.isArray(v) ? v : [v]) body.append(k, x);
    const res = await t.app.inject({ method: 'POST', url: '/mediation/activites', payload: body.toString(), headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; '), ...headers } });
    return res;
  }

  test('the form offers the presets, themes, places; a valid record is saved with its counters', async () => {
    const page = await alice.get('/mediation/activites/nouvelle');
    assert.equal(page.status, 200);
    assert.match(page.body, /name="idempotencyKey" value="[0-9a-f-]{36}"/);
    assert.match(page.body, /value="120"/);
    assert.match(page.body, /Aide aux démarches administratives/);
    assert.match(page.body, /\/mediation\/assets\/record\.js/);
    const before = await snapshot(t.db);
    const r = await post(alice, valid({ themes: ['aide-aux-demarches-administratives', 'e-mail'], adminThemes: 'logement' }));
    assert.equal(r.statusCode, 303, r.body);
    assert.match(r.headers.location as string, /^\/mediation\?enregistre=/);
    const after = await snapshot(t.db);
    assert.equal(after.activity, before.activity + 1);
    assert.equal(after.activity_beneficiary, before.activity_beneficiary + 1);
    const { rows } = await t.db.query<{ value: number }>(`SELECT value FROM mediation.stat_counter WHERE scope = 'departement' AND scope_id = '76' AND metric = 'admin_theme' AND key = 'logement'`);
    assert.equal(Number(rows[0]!.value), 1);
  });

  test('impossible records: 422, the field named, nothing saved', async () => {
    const cases: [Record<string, string | string[]>, RegExp][] = [
      [{ duration: '0' }, /La durée doit être d’au moins une minute/],
      [{ date: '2999-01-01' }, /ne peut pas être dans le futur/],
      [{ adminThemes: 'logement' }, /demandent la thématique/],
      [{ kind: 'collective', workshopTitle: 'Atelier', participants: '3', anon_gender_f: '4' }, /dépassent le nombre de participants anonymes/],
      [{ themes: ['__proto__'] }, /Thématique inconnue/],
      [{ notes: 'x'.repeat(5000) }, /ne dépassent pas 2000/],
    ];
    for (const [over, msg] of cases) {
      const before = await snapshot(t.db);
      const r = await post(alice, valid(over));
      assert.equal(r.statusCode, 422, JSON.stringify(over));
      assert.match(r.body, msg);
      assert.match(r.body, /aria-invalid="true"/);
      assert.deepEqual(await snapshot(t.db), before, JSON.stringify(over));
    }
    const before = await snapshot(t.db);
    const j = await post(alice, valid({ duration: '0' }), { accept: 'application/json' });
    assert.equal(j.statusCode, 422);
    assert.equal(j.json().field, 'duration');
    assert.deepEqual(await snapshot(t.db), before);
  });

  test('the same idempotency key is recorded once, even sent ten times at once', async () => {
    const k = key();
    const before = await snapshot(t.db);
    const first = await post(alice, valid({ idempotencyKey: k }), { accept: 'application/json' });
    assert.equal(first.statusCode, 201);
    const again = await post(alice, valid({ idempotencyKey: k }), { accept: 'application/json' });
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().id, first.json().id);
    const k2 = key();
    await alice.get('/mediation/activites/nouvelle');
    const results = await Promise.all(Array.from({ length: 10 }, () => post(alice, valid({ idempotencyKey: k2, kind: 'collective', workshopTitle: 'Atelier', participants: '4' }), { accept: 'application/json' })));
    assert.equal(results.filter((r) => r.statusCode === 201).length, 1, results.map((r) => r.statusCode).join(','));
    assert.ok(results.every((r) => r.statusCode === 201 || r.statusCode === 200));
    const after = await snapshot(t.db);
    assert.equal(after.activity, before.activity + 2);
    assert.equal(after.activity_beneficiary, before.activity_beneficiary + 1 + 4);
  });

  test('duplicate a record: the form comes back filled, dated today', async () => {
    const r = await post(alice, valid({ kind: 'collective', workshopTitle: 'Découvrir la visio', participants: '6', duration: '90', themes: 'reseaux-sociaux' }), { accept: 'application/json' });
    const id = r.json().id as string;
    const copy = await alice.get(`/mediation/activites/nouvelle?copie=${id}`);
    assert.equal(copy.status, 200);
    assert.match(copy.body, /value="Découvrir la visio"/);
    assert.match(copy.body, /value="reseaux-sociaux" checked/);
    assert.match(copy.body, /value="90" checked/);
    // A team member may duplicate it; someone outside the team may not even see it.
    assert.equal((await bob.get(`/mediation/activites/nouvelle?copie=${id}`)).status, 200);
    assert.equal((await carol.get(`/mediation/activites/nouvelle?copie=${id}`)).status, 404);
    assert.equal((await carol.get(`/mediation/activites/${id}`)).status, 404);
  });

  test('only the author deletes an activity; the counters go back', async () => {
    const before = await snapshot(t.db);
    const r = await post(alice, valid({ themes: 'sante' }), { accept: 'application/json' });
    const id = r.json().id as string;
    const mid = await snapshot(t.db);
    await carol.get('/mediation');
    const refused = await carol.post(`/mediation/activites/${id}/supprimer`, {});
    assert.equal(refused.status, 404);
    await bob.get('/mediation');
    const refusedTeam = await bob.post(`/mediation/activites/${id}/supprimer`, {});
    assert.equal(refusedTeam.status, 403);
    assert.deepEqual(await snapshot(t.db), mid);
    await alice.get(`/mediation/activites/${id}`);
    const ok = await alice.post(`/mediation/activites/${id}/supprimer`, {});
    assert.equal(ok.status, 303);
    assert.deepEqual(await snapshot(t.db), before);
  });

  test('the offline script is served; the recent list shows the records', async () => {
    const js = await alice.get('/mediation/assets/record.js');
    assert.equal(js.status, 200);
    assert.match(js.body, /localStorage/);
    const home = await alice.get('/mediation');
    assert.match(home.body, /Dupliquer/);
    assert.ok(aliceId);
  });
});

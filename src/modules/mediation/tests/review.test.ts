/**
 * An outsider's attack on mediation and training: what one provider or mediator can reach of
 * another's people, checked by reading the rows after each request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import * as training from '../training.ts';
import { createApiClient } from '../routes.ts';
import { makePlace, snapshot } from './support.ts';

const { createCast } = accountsTesting;

let t: Awaited<ReturnType<typeof testApp>>;
let cast: Awaited<ReturnType<typeof createCast>>;
let mine = '';
let theirs = '';

const results = async (email: string) =>
  (await t.db.query<{ competence: string; level: number }>(
    `SELECT r.competence, r.level FROM mediation.competence_result r JOIN mediation.learner l ON l.id = r.learner_id WHERE l.email_key = $1 AND r.framework = 'crcn' ORDER BY r.competence`,
    [email],
  )).rows;

before(async () => {
  t = await testApp();
  cast = await createCast(t.app, { region: '28', departement: '14', place: 'aucun' });
  const place = await makePlace(t.db, '14118', 'Médiathèque');
  const modules = training.parseModules('Premiers pas | 3 | 1.1, 4.1 | 2');
  // The « no_role » person manages provider A only; provider B belongs to nobody here.
  const a = await training.createProvider(t.ctx, null, { name: 'Organisme A', managerIds: [cast.users.no_role.id] });
  const b = await training.createProvider(t.ctx, null, { name: 'Organisme B' });
  const pathA = await training.createPath(t.ctx, null, { providerId: a, title: 'Parcours A', modules });
  const pathB = await training.createPath(t.ctx, null, { providerId: b, title: 'Parcours B', modules });
  mine = await training.createSession(t.ctx, null, { pathId: pathA, startsOn: '2026-03-01', capacity: '5', placeUid: place });
  theirs = await training.createSession(t.ctx, null, { pathId: pathB, startsOn: '2026-03-01', capacity: '5', placeUid: place });
  await training.register(t.ctx, mine, { name: 'Alice', email: 'alice@exemple.fr', status: 'resident' }, null);
  await training.register(t.ctx, theirs, { name: 'Bob', email: 'bob@exemple.fr', status: 'resident' }, null);
});
after(async () => t.close());

describe('Pix import stays within the session', () => {
  test('a provider importing on their session cannot write results of another provider’s learner, nor learn that they exist', async () => {
    const manager = await cast.browser('no_role');
    await manager.get(`/mediation/formations/sessions/${mine}`);
    const csv = ['Adresse e-mail;Niveau pour la compétence 1.1', 'alice@exemple.fr;3', 'bob@exemple.fr;8', 'personne@exemple.fr;1'].join('\n');
    const res = await manager.post(`/mediation/formations/sessions/${mine}/pix`, { csv });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(await results('alice@exemple.fr'), [{ competence: '1.1', level: 3 }]);
    assert.deepEqual(await results('bob@exemple.fr'), [], 'another provider’s learner is untouched');
    // Bob (elsewhere) and an unknown address are reported alike: no oracle on who is registered.
    assert.match(res.body, /Personnes inconnues aux lignes 3, 4/);
    // The other provider's session stays closed.
    const other = await manager.post(`/mediation/formations/sessions/${theirs}/pix`, { csv });
    assert.equal(other.status, 403);
    assert.deepEqual(await results('bob@exemple.fr'), []);
  });
});

describe('offline resend and hostile input', () => {
  test('50 concurrent sendings of one record (API and form) record it once; counters count it once', async () => {
    const mediator = cast.users.mediator;
    const { token } = await createApiClient(t.db, null, 'revue', mediator.id, ['activities:write', 'activities:read']);
    const before = await snapshot(t.db);
    const body = { kind: 'individual', date: '2025-03-04', duration: 30, placeKind: 'other_commune', communeCode: '14118', themes: ['e-mail'], idempotencyKey: 'hors-ligne-0001' };
    const api = await Promise.all(Array.from({ length: 50 }, () => t.app.inject({ method: 'POST', url: '/api/v1/mediation/activities', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) })));
    assert.deepEqual([...new Set(api.map((r) => r.statusCode))].sort(), [200, 201]);
    assert.equal(api.filter((r) => r.statusCode === 201).length, 1);
    assert.equal(new Set(api.map((r) => r.json().id)).size, 1);
    const browser = await cast.browser('mediator');
    await browser.get('/mediation/activites/nouvelle');
    const form = { kind: 'individual', date: '2025-03-05', duration: '30', placeKind: 'other_commune', communeCode: '14118', themes: 'e-mail', idempotencyKey: 'hors-ligne-0002' };
    const forms = await Promise.all(Array.from({ length: 50 }, () => browser.post('/mediation/activites', form, { headers: { accept: 'application/json' } })));
    assert.equal(forms.filter((r) => r.status === 201).length, 1, forms.map((r) => r.status).join());
    assert.equal(forms.filter((r) => r.status === 200).length, 49);
    const after = await snapshot(t.db);
    assert.equal(after.activity - before.activity, 2);
    assert.equal(after.activity_beneficiary - before.activity_beneficiary, 2);
    const n = (await t.db.query<{ n: number }>(`SELECT coalesce(sum(value), 0)::int AS n FROM mediation.stat_counter WHERE scope = 'mediator' AND scope_id = $1 AND metric = 'activities'`, [mediator.id])).rows[0]!.n;
    assert.equal(n, 2);
  });

  test('hostile query strings and bodies: 4xx, never 5xx; refused writes change no row', async () => {
    const HOSTILE = ['constructor', '__proto__', 'x\u0000y', '%00', '%C3%28', '9'.repeat(400), '1e309', '-1', 'a'.repeat(5000), '2024-02-30'];
    const mediator = await cast.browser('mediator');
    const anon = await cast.browser('anonymous');
    const fails: string[] = [];
    for (const h of HOSTILE) {
      const v = h.startsWith('%') ? h : encodeURIComponent(h);
      for (const [b, url] of [
        [anon, `/statistiques/mediation/region/${v}?annee=${v}&du=${v}&au=${v}`], [anon, `/statistiques/mediation/${v}/28`], [anon, `/api/v1/mediation/statistics?territory=${v}&year=${v}&from=${v}`],
        [anon, `/api/v1/mediation/open-data.csv?year=${v}`], [anon, `/formations/parcours/${v}`], [anon, `/formations/sessions/${v}`], [anon, `/formations/attestations?code=${v}`], [anon, `/formations/apprenant/${v}`],
        [mediator, `/mediation/statistiques?vue=${v}&id=${v}&annee=${v}`], [mediator, `/mediation/statistiques?vue=equipe&id=${v}`], [mediator, `/mediation/statistiques?vue=lieu&id=${v}`], [mediator, `/mediation/activites/${v}`],
        [mediator, `/mediation/activites/nouvelle?copie=${v}&type=${v}`], [mediator, `/mediation/beneficiaires/${v}`], [mediator, `/mediation/beneficiaires?q=${v}`], [mediator, `/mediation/beneficiaires/${v}/export`],
        [mediator, `/mediation/statistiques/territoire/${v}/${v}`], [mediator, `/mediation/formations/sessions/${v}`],
      ] as const) {
        const res = await b.get(url);
        if (res.status >= 500) fails.push(`${res.status} GET ${url.slice(0, 120)}`);
      }
    }
    const before = await snapshot(t.db);
    const { token } = await createApiClient(t.db, null, 'revue-2', cast.users.mediator.id, ['activities:write']);
    for (const h of HOSTILE) {
      const base = { kind: 'individual', date: '2025-03-04', duration: 30, placeKind: 'remote', themes: ['e-mail'], idempotencyKey: `hostile-${h.length}-${h.slice(0, 8)}` };
      for (const body of [{ ...base, date: h }, { ...base, themes: [h] }, { ...base, communeCode: h.slice(0, 5), placeKind: 'home' }, { ...base, [h]: 1 }, { ...base, kind: 'collective', participants: 3, workshopTitle: h.slice(0, 200), anonymous: { gender: { [h]: 2 }, age: { constructor: 9 } } }, { ...base, notes: h.slice(0, 2000), duration: 0 }]) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/mediation/activities', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
        if (res.statusCode >= 500 || res.statusCode < 400) fails.push(`${res.statusCode} API ${JSON.stringify(body).slice(0, 140)}`);
      }
      await mediator.get('/mediation/activites/nouvelle');
      for (const [url, form] of [
        ['/mediation/activites', { kind: h, date: h, duration: h, themes: h, placeKind: h, idempotencyKey: h }],
        ['/mediation/activites', { kind: 'collective', date: '2025-01-01', duration: '30', themes: 'e-mail', placeKind: 'remote', participants: h, anon_gender_constructor: '3', [h]: h }],
        ['/mediation/beneficiaires', { alias: h, birthYear: h, communeCode: h, contact: h, gender: h, status: h }],
        ['/mediation/beneficiaires/fusion', { keep: h, drop: h }],
        [`/mediation/beneficiaires/${encodeURIComponent(h)}/supprimer`, {}],
        ['/mediation/import', { format: h, csv: `date;duree;activite;themes\n${h};${h};${h};${h}\n"non fermé` }],
        ['/mediation/import', { format: 'coop', csv: `Date;Type;Durée;Thématiques\n2025-01-01;${h};30;${h}\n` }],
        ['/mediation/profil', { employer: h, places: h }],
        [`/formations/sessions/${encodeURIComponent(h)}/inscription`, { name: h, email: h }],
      ] as [string, Record<string, string>][]) {
        const res = await mediator.post(url, form);
        if (res.status >= 500 || res.status < 400) fails.push(`${res.status} POST ${url.slice(0, 60)} ${JSON.stringify(form).slice(0, 100)}`);
        await mediator.get('/mediation/activites/nouvelle');
      }
    }
    assert.deepEqual(fails, []);
    assert.deepEqual(await snapshot(t.db), before);
  });
});

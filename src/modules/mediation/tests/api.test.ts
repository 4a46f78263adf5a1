/** Imports of past activity (CnFS counts-per-session and Coop export), the API for authorised
 *  clients, open-data exports with small counts hidden. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { importActivities } from '../imports.ts';
import { createApiClient } from '../routes.ts';
import { snapshot } from './support.ts';

const { depsOf, makeUser } = accountsTesting;

describe('mediation: imports, API, open data', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let mediatorId: string;
  before(async () => {
    t = await testApp();
    mediatorId = (await makeUser(depsOf(t.app), 'api-med@exemple.fr', [{ role: 'mediator', scopeKind: 'region', scopeId: '28' }], 'Médiateur API')).id;
  });
  after(async () => t.close());

  test('former Conseiller numérique format: counts per session; refused lines named; a second import records nothing', async () => {
    const csv = [
      'date;duree;activite;nb_participants;code_commune;themes;age_moins_12;age_12_18;age_18_35;age_35_60;age_plus_60;statut_etudiant;statut_sans_emploi;statut_en_emploi;statut_retraite;statut_heterogene;accompagnement_redirection',
      '12/03/2022;30-60;collectif;8;76540;courriel,internet;0;0;2;3;3;0;2;3;3;0;non',
      '2022-03-14;0-30;individuel;1;27229;demarche en ligne;0;0;0;0;1;0;0;0;1;0;oui',
      '2022-03-15;0;individuel;1;27229;courriel;0;0;0;0;0;0;0;0;0;0;non',
      '2022-03-16;30-60;collectif;2;76540;courriel;0;0;3;0;0;0;0;0;0;0;non',
    ].join('\n');
    const r = await importActivities(t.ctx, mediatorId, csv, 'cnfs');
    assert.equal(r.recorded, 2);
    assert.deepEqual(r.refused.map((x) => [x.line, x.field]), [[4, 'duration'], [5, 'anon_age_under-12']]);
    const { rows } = await t.db.query<{ participants: number; themes: string[] }>(`SELECT participants, themes FROM mediation.activity WHERE mediator_id = $1 AND kind = 'collective'`, [mediatorId]);
    assert.deepEqual(rows, [{ participants: 8, themes: ['e-mail', 'navigation-internet'] }]);
    const before = await snapshot(t.db);
    const again = await importActivities(t.ctx, mediatorId, csv, 'cnfs');
    assert.equal(again.recorded, 0);
    assert.equal(again.skipped, 2);
    assert.deepEqual(await snapshot(t.db), before);
    await assert.rejects(importActivities(t.ctx, mediatorId, 'a;b\n1;2', 'cnfs'), /Colonnes manquantes : date, duree, activite, themes/);
  });

  test('Coop export format: labels and ids', async () => {
    const csv = [
      'Date,Type,Durée,Commune,Thématiques,Thématiques démarches administratives,Nombre de participants,Autonomie',
      '2023-05-02,Accompagnement individuel,45,14118,"Aide aux démarches administratives, E-mail","Logement",1,Partiellement autonome',
      '2023-05-03,Atelier collectif,120,14118,Bureautique,,6,',
    ].join('\n');
    const r = await importActivities(t.ctx, mediatorId, csv, 'coop');
    assert.deepEqual(r.refused, []);
    assert.equal(r.recorded, 2);
    const { rows } = await t.db.query<{ admin_themes: string[]; autonomy: string }>(`SELECT admin_themes, autonomy FROM mediation.activity WHERE mediator_id = $1 AND date = '2023-05-02'`, [mediatorId]);
    assert.deepEqual(rows, [{ admin_themes: ['logement'], autonomy: 'partly' }]);
  });

  test('API: a client with activities:write records for its mediator; without a token or scope, refused with nothing saved', async () => {
    const write = await createApiClient(t.db, null, 'Logiciel de la structure', mediatorId, ['activities:write', 'activities:read']);
    const read = await createApiClient(t.db, null, 'Tableau de bord', mediatorId, ['activities:read']);
    const body = { kind: 'individual', date: '2024-01-10', duration: 30, placeKind: 'other_commune', communeCode: '76540', themes: ['e-mail'], idempotencyKey: 'api-key-0001' };
    const before = await snapshot(t.db);
    for (const headers of [{}, { authorization: `Bearer ${read.token}` }, { authorization: 'Bearer med_inconnuinconnuinconnuinconnu' }]) {
      const r = await t.app.inject({ method: 'POST', url: '/api/v1/mediation/activities', payload: body, headers });
      assert.ok([401, 403].includes(r.statusCode), `${r.statusCode}`);
      assert.equal(r.json().field, 'authorization');
    }
    const invalid = await t.app.inject({ method: 'POST', url: '/api/v1/mediation/activities', payload: { ...body, duration: 0 }, headers: { authorization: `Bearer ${write.token}` } });
    assert.equal(invalid.statusCode, 422);
    assert.equal(invalid.json().field, 'duration');
    const proto = await t.app.inject({ method: 'POST', url: '/api/v1/mediation/activities', payload: '{"__proto__":{"x":1},"kind":"individual"}', headers: { authorization: `Bearer ${write.token}`, 'content-type': 'application/json' } });
    assert.equal(proto.statusCode, 400);
    assert.deepEqual(await snapshot(t.db), before);
    const ok = await t.app.inject({ method: 'POST', url: '/api/v1/mediation/activities', payload: body, headers: { authorization: `Bearer ${write.token}` } });
    assert.equal(ok.statusCode, 201);
    const again = await t.app.inject({ method: 'POST', url: '/api/v1/mediation/activities', payload: body, headers: { authorization: `Bearer ${write.token}` } });
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().id, ok.json().id);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/mediation/activities?limit=2', headers: { authorization: `Bearer ${read.token}` } });
    assert.equal(list.statusCode, 200);
    assert.equal(list.json().items.length, 2);
    assert.ok(list.json().nextCursor);
    const page2 = await t.app.inject({ method: 'GET', url: `/api/v1/mediation/activities?limit=2&cursor=${list.json().nextCursor}`, headers: { authorization: `Bearer ${read.token}` } });
    assert.equal(page2.statusCode, 200);
    assert.notEqual(page2.json().items[0].id, list.json().items[0].id);
  });

  test('open data and public statistics: small counts are null', async () => {
    const json = await t.app.inject({ method: 'GET', url: '/api/v1/mediation/open-data.json' });
    assert.equal(json.statusCode, 200);
    const rows = json.json().rows as { territory_level: string; territory_code: string; figure: string; key: string; month: string; value: number | null }[];
    const acc = rows.find((r) => r.territory_level === 'departement' && r.territory_code === '76' && r.figure === 'accompaniments' && r.key === 'collective' && r.month === '2022-03')!;
    // 8 people in the Seine-Maritime, 1 in the Eure: the région's 9 is published, so the 8 is
    // hidden too (9 - 8 would give the Eure's one person away).
    assert.equal(acc.value, null);
    const region = rows.find((r) => r.territory_level === 'region' && r.territory_code === '28' && r.figure === 'theme' && r.key === 'e-mail' && r.month === '2022-03')!;
    assert.equal(region.value, 8, 'nobody wrote e-mails in the Eure: nothing to protect, the 8 is published');
    assert.ok(rows.every((r) => r.value === null || r.value >= 5));
    assert.ok(rows.some((r) => r.value === null));
    const csv = await t.app.inject({ method: 'GET', url: '/api/v1/mediation/open-data.csv?year=2022' });
    assert.match(csv.body, /^territory_level,territory_code,month,figure,key,value\n/);
    assert.doesNotMatch(csv.body, /2023-/);
    const stats = await t.app.inject({ method: 'GET', url: '/api/v1/mediation/statistics?territory=departement:76&year=2022' });
    assert.equal(stats.statusCode, 200);
    assert.equal(stats.json().totals.accompaniments, null);
    const regionStats = await t.app.inject({ method: 'GET', url: '/api/v1/mediation/statistics?territory=region:28&year=2022' });
    assert.equal(regionStats.json().totals.accompaniments, 9);
    const bad = await t.app.inject({ method: 'GET', url: '/api/v1/mediation/statistics?territory=constructor' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().field, 'territory');
  });
});

/**
 * The place picker of the mediator's profile: places of the directory found by name or commune,
 * server-rendered (a search form whose results come back as checkboxes, without JavaScript) and as
 * JSON for the autocomplete; refused input names the field and changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { makePlace, snapshot } from './support.ts';

const { depsOf, makeUser, signedInBrowser } = accountsTesting;

describe('mediation: place picker', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let rouen: string;
  let caen: string;
  let med: accountsTesting.Browser;
  let medId: string;

  before(async () => {
    t = await testApp();
    rouen = await makePlace(t.db, '76540', 'Médiathèque Simone-Veil');
    caen = await makePlace(t.db, '14118', 'Tiers-lieu Le Quai');
    const deps = depsOf(t.app);
    const m = await makeUser(deps, 'picker@exemple.fr', [{ role: 'mediator', scopeKind: 'region', scopeId: '28' }], 'Médiateur');
    medId = m.id;
    med = await signedInBrowser(t.app, deps, m, '192.0.2.40');
  });
  after(async () => t.close());

  test('without JavaScript: search by name, tick, save; untick to remove', async () => {
    const empty = await med.get('/mediation/profil');
    assert.equal(empty.status, 200);
    assert.match(empty.body, /Aucun lieu : cherchez-le/);
    assert.match(empty.body, /<label for="f-lieu">Chercher un lieu de l’annuaire \(nom ou commune\)<\/label>/);
    const found = await med.get('/mediation/profil?lieu=simone%20veil');
    assert.equal(found.status, 200);
    assert.match(found.body, new RegExp(`<input type="checkbox" name="places" value="${rouen}"> Ajouter : Médiathèque Simone-Veil`));
    assert.doesNotMatch(found.body, new RegExp(caen));
    assert.match(found.body, /1 lieu trouvé pour « simone veil »/);
    const saved = await med.post('/mediation/profil', { employer: 'Ville de Rouen', places: rouen });
    assert.equal(saved.status, 303);
    // By commune: Caen's place is offered next to the one already chosen.
    const byCommune = await med.get('/mediation/profil?lieu=Caen');
    assert.match(byCommune.body, new RegExp(`value="${rouen}" checked`));
    assert.match(byCommune.body, new RegExp(`value="${caen}"> Ajouter : Tiers-lieu Le Quai`));
    const two = await med.post('/mediation/profil', { employer: 'Ville de Rouen', places: [rouen, caen] });
    assert.equal(two.status, 303, two.body.slice(0, 300));
    const rows = (await t.db.query<{ place_uids: string[] }>('SELECT place_uids FROM mediation.mediator WHERE user_id = $1', [medId])).rows[0]!;
    assert.deepEqual([...rows.place_uids].sort(), [rouen, caen].sort());
    // Unticking both (nothing sent) removes them.
    await med.get('/mediation/profil');
    assert.equal((await med.post('/mediation/profil', { employer: 'Ville de Rouen' })).status, 303);
    assert.deepEqual((await t.db.query<{ place_uids: string[] }>('SELECT place_uids FROM mediation.mediator WHERE user_id = $1', [medId])).rows[0]!.place_uids, []);
  });

  test('autocomplete JSON; refusals name the field and change nothing', async () => {
    const r = await med.download('/mediation/lieux/recherche?q=quai');
    assert.equal(r.status, 200);
    const items = JSON.parse(r.bytes.toString()).items as { uid: string; nom: string; commune: string }[];
    assert.deepEqual(items.map((i) => i.uid), [caen]);
    assert.equal(JSON.parse((await med.download('/mediation/lieux/recherche?q=q')).bytes.toString()).items.length, 0, 'one letter: no suggestion');
    const anon = await t.app.inject({ method: 'GET', url: '/mediation/lieux/recherche?q=quai' });
    assert.ok([302, 303, 401, 403].includes(anon.statusCode));
    await med.get('/mediation/profil');
    const before = await snapshot(t.db);
    const nul = await med.get('/mediation/profil?lieu=ab%00cd');
    assert.equal(nul.status, 400);
    assert.match(nul.body, /« lieu »/);
    const ctl = await med.get(`/mediation/profil?lieu=ab%01cd`);
    assert.equal(ctl.status, 400);
    assert.match(ctl.body, /La recherche fait de 2 à 100 caractères/);
    assert.match(ctl.body, /aria-invalid="true"/);
    assert.equal((await med.download(`/mediation/lieux/recherche?q=${'a'.repeat(500)}`)).status, 400);
    await med.get('/mediation/profil');
    const unknown = await med.post('/mediation/profil', { employer: 'X', places: '00000000-0000-4000-8000-000000000000' });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body, /Lieu inconnu/);
    await med.get('/mediation/profil');
    const proto = await med.post('/mediation/profil', { employer: 'X', places: '__proto__' });
    assert.equal(proto.status, 400);
    assert.deepEqual(await snapshot(t.db), before);
    const js = await med.download('/mediation/assets/place-picker.js');
    assert.equal(js.status, 200);
    assert.match(js.bytes.toString(), /aria-activedescendant/);
  });
});

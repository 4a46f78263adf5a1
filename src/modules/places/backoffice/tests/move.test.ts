/**
 * An edit that moves a place (new INSEE code, commune or coordinates) is checked on the place as
 * it WILL be, not only as it is: staff of département 27 cannot push a place into département 69;
 * a place manager's move into another territory goes through that territory's moderation; a
 * moderator cannot publish a move into a territory they do not moderate. Every refusal leaves the
 * database as it was (the place, its versions, the pending edits and the audit trail).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../../test/support/app.ts';
import { accountsTesting, type AccountsDeps } from '../../../accounts/index.ts';
import { getPlace } from '../../service.ts';
import { LYON, addPlace, record } from './helpers.ts';

const { depsFor, makeUser, signedInBrowser, databaseState, stateChanges } = accountsTesting;

describe('moving a place out of the editor’s territory', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let deps: AccountsDeps;
  let ip = 10;
  const nextIp = () => `198.51.100.${ip++}`;
  let n = 0;

  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
    deps = depsFor(t.db, t.ctx.config);
  });
  after(async () => t.close());

  /** The edit form's fields for a place, as the page fills them. */
  async function formOf(uid: string): Promise<Record<string, string>> {
    const p = (await getPlace(t.db, uid))!;
    return {
      nom: p.nom, pivot: p.pivot, structure_parente: '', adresse: p.adresse, complement_adresse: '', code_postal: p.code_postal, commune: p.commune,
      code_insee: p.code_insee ?? '', latitude: String(p.latitude), longitude: String(p.longitude), telephone: '', courriels: p.courriels.join('\n'), site_web: '',
      prise_rdv: '', fiche_acces_libre: '', presentation_resume: p.presentation_resume ?? '', presentation_detail: '', autres_formations_labels: '', source: p.source ?? '',
      services: p.services.join('\n'), frais_a_charge: p.frais_a_charge.join('\n'), typologie: p.typologie.join('\n'),
    };
  }
  const toLyon = { code_insee: LYON.code_insee, commune: LYON.commune, code_postal: LYON.code_postal, latitude: String(LYON.latitude), longitude: String(LYON.longitude) };
  const newPlace = async () => addPlace(t.db, record({ id: `move-${++n}`, nom: `Espace numérique ${n}` }));

  test('département staff cannot move a place into another département: 403 naming the field, nothing written', async () => {
    const uid = await newPlace();
    const s = await makeUser(deps, 'move-staff27@example.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '27' }]);
    const b = await signedInBrowser(t.app, deps, s, nextIp());
    await b.get(`/gestion/lieux/${uid}/modifier`);
    const form = await formOf(uid);
    const before = await databaseState(t.db);
    const res = await b.post(`/gestion/lieux/${uid}/modifier`, { ...form, ...toLyon });
    assert.equal(res.status, 403);
    assert.match(res.body, /déplacerait le lieu dans le département 69/);
    assert.equal(stateChanges(before, await databaseState(t.db)), '');
    assert.equal((await getPlace(t.db, uid))!.code_insee, '27229');
    // Coordinates alone (no INSEE code, no postal code match) move it too.
    const res2 = await b.post(`/gestion/lieux/${uid}/modifier`, { ...form, code_insee: '', code_postal: '69001', commune: 'Lyon', latitude: String(LYON.latitude), longitude: String(LYON.longitude) });
    assert.equal(res2.status, 403);
    assert.equal(stateChanges(before, await databaseState(t.db)), '');
    // An edit that stays inside the département is published as before.
    const ok = await b.post(`/gestion/lieux/${uid}/modifier`, { ...form, nom: 'Espace numérique renommé' });
    assert.equal(ok.status, 303);
    assert.equal((await getPlace(t.db, uid))!.nom, 'Espace numérique renommé');
  });

  test('restoring a version that lay elsewhere is checked the same way', async () => {
    const uid = await newPlace();
    const a = await makeUser(deps, 'move-admin@example.fr', [{ role: 'admin', scopeKind: 'platform', scopeId: '' }]);
    const ab = await signedInBrowser(t.app, deps, a, nextIp());
    await ab.get(`/gestion/lieux/${uid}/modifier`);
    assert.equal((await ab.post(`/gestion/lieux/${uid}/modifier`, { ...(await formOf(uid)), ...toLyon })).status, 303, 'an administrator may move it');
    assert.equal((await ab.post(`/gestion/lieux/${uid}/modifier`, { ...(await formOf(uid)), code_insee: '27229', commune: 'Évreux', code_postal: '27000', latitude: '49.0252', longitude: '1.1513' })).status, 303);
    const s = await makeUser(deps, 'move-staff27b@example.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '27' }]);
    const b = await signedInBrowser(t.app, deps, s, nextIp());
    const versions = await b.get(`/gestion/lieux/${uid}/versions`);
    const lyonVersion = (await t.db.query<{ version: number }>(`SELECT version FROM places.place_version WHERE place_uid = $1 AND record->>'code_insee' = '69123' ORDER BY version LIMIT 1`, [uid])).rows[0]!.version;
    assert.match(versions.body, new RegExp(`/versions/${lyonVersion}/restaurer`));
    const before = await databaseState(t.db);
    const res = await b.post(`/gestion/lieux/${uid}/versions/${lyonVersion}/restaurer`, {});
    assert.equal(res.status, 403);
    assert.equal(stateChanges(before, await databaseState(t.db)), '');
  });

  test('a place manager’s move goes to moderation when the destination is moderated, and only a moderator of the destination may publish it', async () => {
    const uid = await newPlace();
    // Lyon's département moderates; Évreux's does not.
    const a = await makeUser(deps, 'move-admin2@example.fr', [{ role: 'admin', scopeKind: 'platform', scopeId: '' }]);
    const ab = await signedInBrowser(t.app, deps, a, nextIp());
    await ab.get('/gestion/territoires/departement/69/moderation');
    assert.equal((await ab.post('/gestion/territoires/departement/69/moderation/reglage', { moderated: 'on' })).status, 303);
    const m = await makeUser(deps, 'move-manager@example.fr', [{ role: 'place_manager', scopeKind: 'place', scopeId: uid }]);
    const mb = await signedInBrowser(t.app, deps, m, nextIp());
    await mb.get(`/gestion/lieux/${uid}/modifier`);
    const res = await mb.post(`/gestion/lieux/${uid}/modifier`, { ...(await formOf(uid)), ...toLyon });
    assert.equal(res.status, 303);
    assert.equal(res.location, `/gestion/lieux/${uid}?ok=pending`);
    assert.equal((await getPlace(t.db, uid))!.code_insee, '27229', 'not published');
    const pending = (await t.db.query<{ id: number }>(`SELECT id FROM places.pending_edit WHERE place_uid = $1 AND status = 'pending'`, [uid])).rows[0]!.id;
    // Staff of the place's current département (27) cannot publish a move into 69.
    const s = await makeUser(deps, 'move-staff27c@example.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '27' }]);
    const sb = await signedInBrowser(t.app, deps, s, nextIp());
    await sb.get(`/gestion/modifications/${pending}`);
    const before = await databaseState(t.db);
    const refused = await sb.post(`/gestion/modifications/${pending}/decision`, { decision: 'approve' });
    assert.equal(refused.status, 403);
    assert.match(refused.body, /que vous ne modérez pas/);
    assert.equal(stateChanges(before, await databaseState(t.db)), '');
    // Staff of the région covering both (an administrator here) may.
    await ab.get(`/gestion/modifications/${pending}`);
    assert.equal((await ab.post(`/gestion/modifications/${pending}/decision`, { decision: 'approve' })).status, 303);
    const moved = (await getPlace(t.db, uid))!;
    assert.equal(moved.code_insee, '69123');
  });
});

/**
 * An outsider's attack on mediation and training: what one provider or mediator can reach of
 * another's people, checked by reading the rows after each request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import * as training from '../training.ts';
import { makePlace } from './support.ts';

const { createCast } = accountsTesting;

let t: Awaited<ReturnType<typeof testApp>>;
let cast: Awaited<ReturnType<typeof createCast>>;
let mine = '';
let theirs = '';

const results = async (email: string) =>
  (await t.db.query<{ competence: string; level: number }>(
    `SELECT r.competence, r.level FROM mediation.competence_result r JOIN mediation.learner l ON l.id = r.learner_id WHERE l.email_key = $1 ORDER BY r.competence`,
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

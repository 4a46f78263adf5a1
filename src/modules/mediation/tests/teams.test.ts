/**
 * The staff teams page: each team with its coordinator and its members (names and addresses), a
 * member taken out of a team (audited); refused requests (no permission, no CSRF token, unknown or
 * team-less mediator) leave the rows unchanged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { listAudit } from '../../../platform/audit/index.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { createTeam, recordActivity, setTeam, updateProfile } from '../service.ts';
import { makePlace, snapshot } from './support.ts';

const { depsOf, makeUser, signedInBrowser } = accountsTesting;

describe('mediation: teams page', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff: accountsTesting.Browser;
  let mediator: accountsTesting.Browser;
  let ids: Record<'alice' | 'bob' | 'carol' | 'coord', string>;
  let seineId: string;
  let coordinator: accountsTesting.Browser;

  before(async () => {
    t = await testApp();
    const deps = depsOf(t.app);
    const grant = [{ role: 'mediator', scopeKind: 'departement', scopeId: '76' }];
    const [a, b, c, k] = [
      await makeUser(deps, 't-alice@exemple.fr', grant, 'Alice Martin'),
      await makeUser(deps, 't-bob@exemple.fr', grant, 'Bob <b>Durand</b>'),
      await makeUser(deps, 't-carol@exemple.fr', grant, 'Carol'),
      await makeUser(deps, 't-coord@exemple.fr', grant, 'Coordinatrice'),
    ];
    const s = await makeUser(deps, 't-staff@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '28' }], 'Agent');
    ids = { alice: a.id, bob: b.id, carol: c.id, coord: k.id };
    const seine = await createTeam(t.ctx, s.id, 'Équipe Seine', k.id);
    await setTeam(t.ctx, s.id, a.id, seine.id, a.displayName);
    await setTeam(t.ctx, s.id, b.id, seine.id, b.displayName);
    await createTeam(t.ctx, s.id, 'Équipe Eure', null);
    seineId = seine.id;
    staff = await signedInBrowser(t.app, deps, s);
    mediator = await signedInBrowser(t.app, deps, c, '192.0.2.3');
    coordinator = await signedInBrowser(t.app, deps, k, '192.0.2.4');
  });
  after(async () => t.close());

  const section = (body: string, team: string) => {
    const i = body.indexOf(`>${team}</h2>`);
    assert.ok(i > 0, `section ${team}`);
    const j = body.indexOf('</section>', i);
    return body.slice(i, j);
  };

  test('each team lists its coordinator and members with their addresses, escaped', async () => {
    const res = await staff.get('/mediation/equipes');
    assert.equal(res.status, 200);
    const seine = section(res.body, 'Équipe Seine');
    assert.match(seine, /Coordination : Coordinatrice \(t-coord@exemple\.fr\)/);
    assert.match(seine, /<caption>2 membres<\/caption>/);
    assert.match(seine, /Alice Martin<\/td><td>t-alice@exemple\.fr/);
    assert.match(seine, /Bob &lt;b&gt;Durand&lt;\/b&gt;<\/td><td>t-bob@exemple\.fr/);
    assert.ok(!seine.includes('t-carol@'));
    const eure = section(res.body, 'Équipe Eure');
    assert.match(eure, /Coordination : personne/);
    assert.match(eure, /Aucun membre\./);
  });

  test('team statistics: the coordinator sees the sum of the members\' records; a mediator outside the team gets 404', async () => {
    const place = await makePlace(t.db, '76540', 'Médiathèque');
    const year = new Date().getFullYear() - 1;
    for (const [who, name, n] of [[ids.alice, 'Alice Martin', 2], [ids.bob, 'Bob', 1], [ids.carol, 'Carol', 4]] as const) {
      await updateProfile(t.ctx, who, name, { employer: 'Commune', placeUids: [place] });
      for (let i = 0; i < n; i++) {
        await recordActivity(t.ctx, { id: who }, { kind: 'individual', date: `${year}-03-1${i}`, duration: '30', placeKind: 'place', placeUid: place, themes: 'e-mail', idempotencyKey: `team-${who}-${i}` });
      }
    }
    const page = await coordinator.get(`/mediation/statistiques?vue=equipe&id=${seineId}&annee=${year}`);
    assert.equal(page.status, 200);
    assert.match(page.body, /Statistiques de l’équipe Équipe Seine/);
    assert.match(page.body, /<strong>3<\/strong> accompagnements/); // Alice's 2 and Bob's 1, not Carol's 4
    assert.equal((await mediator.get(`/mediation/statistiques?vue=equipe&id=${seineId}&annee=${year}`)).status, 404);
  });

  test('a member taken out of a team (audited); refused requests change nothing', async () => {
    const before = await snapshot(t.db);
    const teamOf = async (id: string) => (await t.db.query<{ team_id: string | null }>('SELECT team_id FROM mediation.mediator WHERE user_id = $1', [id])).rows[0]?.team_id ?? null;
    const seineId = await teamOf(ids.alice);
    // A mediator without mediation.teams.manage, a missing CSRF token, a bad id, someone in no team.
    assert.equal((await mediator.post('/mediation/equipes/retirer', { member: ids.alice })).status, 403);
    assert.equal((await staff.post('/mediation/equipes/retirer', { member: ids.alice }, { csrf: false })).status, 403);
    await staff.get('/mediation/equipes');
    const bad = await staff.post('/mediation/equipes/retirer', { member: '__proto__' });
    assert.equal(bad.status, 422);
    assert.match(bad.body, /Médiateur inconnu/);
    const none = await staff.post('/mediation/equipes/retirer', { member: ids.carol });
    assert.equal(none.status, 422);
    assert.match(none.body, /dans aucune équipe/);
    assert.deepEqual(await snapshot(t.db), before);
    assert.equal(await teamOf(ids.alice), seineId);

    const ok = await staff.post('/mediation/equipes/retirer', { member: ids.alice });
    assert.equal(ok.status, 303);
    assert.equal(await teamOf(ids.alice), null);
    assert.equal(await teamOf(ids.bob), seineId);
    const page = await staff.get('/mediation/equipes');
    assert.match(section(page.body, 'Équipe Seine'), /<caption>1 membre<\/caption>/);
    const audit = await listAudit(t.db, { objectId: ids.alice, limit: 10 });
    assert.ok(audit.some((e) => e.action === 'mediation.team.member'));
  });
});

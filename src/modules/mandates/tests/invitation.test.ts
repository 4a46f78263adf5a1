/**
 * A helper joins a structure only with their own consent (outside review, session 12): the
 * référent's (and territory staff's) « add a helper by e-mail » creates a PENDING helper — no role,
 * cannot act, not journalled at sign-in, not counted — until the person accepts from their own
 * session (journalled `helper.accepted`); a decline deletes the row and the person can be invited
 * again. Only the invited account answers; no CSRF token: 403. Refusals leave the rows unchanged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting, getGrants, readOutbox } from '../../accounts/index.ts';
import * as service from '../service.ts';
import { PERSON, snapshot, structureWithHelper } from './support.ts';

const { Browser, PASSWORD, depsOf, makeUser, signedInBrowser } = accountsTesting;

describe('mandates: a helper joins a structure only by accepting the invitation', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let referent: accountsTesting.Browser;
  let staff76: accountsTesting.Browser;
  let structure: service.Structure;
  let mandateId = '';
  let xId = '';
  let x: accountsTesting.Browser;
  let third: accountsTesting.Browser;
  const page = () => `/mandats/ma-structure/${structure.id}`;
  const rows = async () => ({
    all: await snapshot(t.db),
    helper: (await t.db.query('SELECT structure_id, user_id, active, accepted_at FROM mandates.helper ORDER BY structure_id, user_id')).rows,
    grants: (await t.db.query("SELECT user_id, role, scope_id FROM accounts.role_grant WHERE role = 'helper' ORDER BY user_id, scope_id")).rows,
  });
  const signIns = async (userId: string) => (await t.db.query("SELECT structure_id FROM mandates.journal WHERE event = 'helper.signed_in' AND actor_id = $1", [userId])).rows.length;
  /** X signs in with their password (the real sign-in: accounts' onSignIn runs). */
  const passwordSignIn = async (ip: string) => {
    const b = new Browser(t.app, ip);
    await b.get('/compte/connexion');
    const r = await b.post('/compte/connexion', { email: 'i-x@exemple.fr', password: PASSWORD });
    assert.equal(r.status, 303);
    return b;
  };

  before(async () => {
    t = await testApp();
    const deps = depsOf(t.app);
    const founder = await makeUser(deps, 'i-founder@exemple.fr', [], 'Fanny Fondatrice');
    structure = await structureWithHelper(t.ctx, founder.id, { name: 'Espace numérique du port' });
    mandateId = (await service.createMandate(t.ctx, founder.id, structure.id, { ...PERSON, procedures: ['argent-impots'], duration: '1m' })).id;
    const ref = await makeUser(deps, 'i-referent@exemple.fr', [], 'Rémi Référent');
    await t.db.query('UPDATE mandates.structure SET referent_user_id = $2 WHERE id = $1', [structure.id, ref.id]);
    referent = await signedInBrowser(t.app, deps, ref, '192.0.2.61');
    staff76 = await signedInBrowser(t.app, deps, await makeUser(deps, 'i-staff76@exemple.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '76' }], 'Équipe 76'), '192.0.2.62');
    const xUser = await makeUser(deps, 'i-x@exemple.fr', [], 'Xavier Habitant');
    xId = xUser.id;
    x = await signedInBrowser(t.app, deps, xUser, '192.0.2.63');
    third = await signedInBrowser(t.app, deps, await makeUser(deps, 'i-third@exemple.fr', [], 'Tiers'), '192.0.2.64');
  });
  after(async () => t.close());

  test('the référent adds X by e-mail: X is only invited (no role, not counted, told by e-mail and on /mandats)', async () => {
    const r = await referent.submit(page(), `${page()}/aidants`, { email: 'i-x@exemple.fr' });
    assert.equal(r.status, 200);
    assert.match(r.body, /Invitation envoyée à Xavier Habitant/);
    assert.match(r.body, /invité \(en attente de sa réponse\)/);
    const h = (await t.db.query<{ active: boolean; accepted_at: unknown }>('SELECT active, accepted_at FROM mandates.helper WHERE structure_id = $1 AND user_id = $2', [structure.id, xId])).rows[0]!;
    assert.deepEqual([h.active, h.accepted_at], [false, null]);
    assert.deepEqual(await getGrants(t.db, xId), [], 'no role before acceptance');
    const stats = await service.statistics(t.db, { structureIds: [structure.id] });
    assert.equal(stats.helpers.active, 1, 'only the founder counts');
    assert.ok((await readOutbox(t.db, 'i-x@exemple.fr')).some((m) => /Espace numérique du port/.test(m.subject) && /\/mandats/.test(m.body)));
    const home = await x.get('/mandats');
    assert.equal(home.status, 200);
    assert.match(home.body, /vous a invité/);
    assert.match(home.body, new RegExp(`/mandats/invitations/${structure.id}/accepter`));
    // Inviting again while X has not answered: 409, nothing written.
    const b = await rows();
    assert.equal((await referent.submit(page(), `${page()}/aidants`, { email: 'i-x@exemple.fr' })).status, 409);
    assert.deepEqual(await rows(), b);
  });

  test('pending X: a sign-in writes no journal entry, and X cannot act (even with training recorded)', async () => {
    await passwordSignIn('192.0.2.65');
    assert.equal(await signIns(xId), 0);
    // The référent may record X's training; X still cannot act.
    const q = await referent.submit(page(), `${page()}/aidants/${xId}/habilitation`, { trainedOn: '2025-03-01', trainingRef: 'Formation AC', pixScore: '312', pixOn: '2025-02-20' });
    assert.equal(q.status, 200);
    const b = await rows();
    assert.equal((await x.get('/mandats/nouveau')).status, 403);
    assert.equal((await x.post(`/mandats/${mandateId}/actes`, { procedure: 'argent-impots' })).status, 403);
    const d = await service.checkAuthorisation(t.db, xId, mandateId, 'argent-impots');
    assert.equal(d.allowed, false);
    assert.equal(!d.allowed && d.reason, service.PENDING_REFUSAL);
    await assert.rejects(service.recordAct(t.ctx, xId, mandateId, 'argent-impots'), /pas encore accepté l’invitation/);
    // Staff cannot « reactivate » a pending invitation in the person's place.
    const sp = `/mandats/structures/${structure.id}`;
    const act = await staff76.submit(sp, `${sp}/aidants/${xId}/activer`, {});
    assert.equal(act.status, 409);
    assert.match(act.body, /pas encore accepté/);
    assert.deepEqual(await rows(), b);
  });

  test('another account cannot accept (or decline) X’s invitation; without a CSRF token: 403; rows unchanged', async () => {
    const b = await rows();
    await third.get('/compte');
    assert.equal((await third.post(`/mandats/invitations/${structure.id}/accepter`, {})).status, 404);
    assert.equal((await third.post(`/mandats/invitations/${structure.id}/refuser`, {})).status, 404);
    assert.equal((await third.get('/mandats')).status, 403, 'no invitation, no helper role');
    await x.get('/mandats');
    assert.equal((await x.post(`/mandats/invitations/${structure.id}/accepter`, {}, { csrf: false })).status, 403);
    assert.equal((await x.post(`/mandats/invitations/${structure.id}/refuser`, {}, { csrf: false })).status, 403);
    assert.equal((await x.post('/mandats/invitations/not-a-uuid/accepter', {})).status, 404);
    assert.deepEqual(await rows(), b);
  });

  test('X accepts: active helper with the role, journalled and audited; the next sign-in is journalled; X acts', async () => {
    const r = await x.submit('/mandats', `/mandats/invitations/${structure.id}/accepter`, {});
    assert.equal(r.status, 200);
    assert.match(r.body, /Vous êtes aidant de la structure « Espace numérique du port »/);
    assert.deepEqual((await getGrants(t.db, xId)).map((g) => [g.role, g.scopeKind, g.scopeId]), [['helper', 'place', structure.placeUid]]);
    const j = await t.db.query<{ actor_id: string }>("SELECT actor_id FROM mandates.journal WHERE event = 'helper.accepted' AND structure_id = $1", [structure.id]);
    assert.deepEqual(j.rows.map((e) => e.actor_id), [xId]);
    const audit = await t.db.query("SELECT 1 FROM platform.audit_entry WHERE action = 'mandates.helper.accepted' AND actor_id = $1", [xId]);
    assert.equal(audit.rows.length, 1);
    assert.equal((await service.statistics(t.db, { structureIds: [structure.id] })).helpers.active, 2);
    // Accepting twice: 404, nothing written.
    const b = await rows();
    assert.equal((await x.submit('/mandats', `/mandats/invitations/${structure.id}/accepter`, {})).status, 404);
    assert.deepEqual(await rows(), b);
    await passwordSignIn('192.0.2.66');
    assert.equal(await signIns(xId), 1);
    assert.equal((await service.checkAuthorisation(t.db, xId, mandateId, 'argent-impots')).allowed, true);
    await x.get(`/mandats/${mandateId}`);
    assert.equal((await x.post(`/mandats/${mandateId}/actes`, { procedure: 'argent-impots' })).status, 200);
    assert.equal((await service.verifyJournal(t.db)).ok, true);
  });

  test('50 simultaneous answers (accept and decline mixed) to one invitation: exactly one takes effect, the rest change nothing', async () => {
    const deps = depsOf(t.app);
    const zUser = await makeUser(deps, 'i-z@exemple.fr', [], 'Zoé Voisine');
    assert.equal((await referent.submit(page(), `${page()}/aidants`, { email: 'i-z@exemple.fr' })).status, 200);
    // Each answer from its own signed-in browser (own address: the per-address rate limit is not what is tested).
    const browsers = await Promise.all(Array.from({ length: 50 }, (_, i) => signedInBrowser(t.app, deps, zUser, `198.51.100.${i + 1}`)));
    await Promise.all(browsers.map((b) => b.get('/mandats')));
    const answers = await Promise.all(browsers.map((b, i) => b.post(`/mandats/invitations/${structure.id}/${i % 2 ? 'refuser' : 'accepter'}`, {})));
    const ok = answers.filter((r) => r.status === 200);
    assert.equal(ok.length, 1, answers.map((r) => r.status).join(','));
    assert.ok(answers.every((r) => r.status === 200 || r.status === 404), answers.map((r) => r.status).join(','));
    const helper = (await t.db.query<{ active: boolean }>('SELECT active FROM mandates.helper WHERE structure_id = $1 AND user_id = $2', [structure.id, zUser.id])).rows;
    const accepted = await t.db.query("SELECT 1 FROM mandates.journal WHERE event = 'helper.accepted' AND actor_id = $1", [zUser.id]);
    const declined = await t.db.query("SELECT 1 FROM platform.audit_entry WHERE action = 'mandates.helper.decline' AND actor_id = $1", [zUser.id]);
    if (/Vous êtes aidant/.test(ok[0]!.body)) {
      assert.deepEqual(helper, [{ active: true }]);
      assert.deepEqual([accepted.rows.length, declined.rows.length, (await getGrants(t.db, zUser.id)).length], [1, 0, 1]);
    } else {
      assert.match(ok[0]!.body, /Invitation refusée/);
      assert.deepEqual(helper, []);
      assert.deepEqual([accepted.rows.length, declined.rows.length, (await getGrants(t.db, zUser.id)).length], [0, 1, 0]);
    }
    assert.equal((await service.verifyJournal(t.db)).ok, true);
  });

  test('a declined invitation deletes the pending row (audited); the person can be invited again', async () => {
    const deps = depsOf(t.app);
    const yUser = await makeUser(deps, 'i-y@exemple.fr', [], 'Yvonne Voisine');
    const y = await signedInBrowser(t.app, deps, yUser, '192.0.2.67');
    const sp = `/mandats/structures/${structure.id}`;
    // Territory staff's route invites too.
    let r = await staff76.submit(sp, `${sp}/aidants`, { email: 'i-y@exemple.fr' });
    assert.equal(r.status, 200);
    assert.match(r.body, /Invitation envoyée à Yvonne Voisine/);
    assert.deepEqual(await getGrants(t.db, yUser.id), []);
    r = await y.submit('/mandats', `/mandats/invitations/${structure.id}/refuser`, {});
    assert.equal(r.status, 200);
    assert.match(r.body, /Invitation refusée/);
    assert.equal((await t.db.query('SELECT 1 FROM mandates.helper WHERE structure_id = $1 AND user_id = $2', [structure.id, yUser.id])).rows.length, 0);
    assert.deepEqual(await getGrants(t.db, yUser.id), []);
    assert.equal((await t.db.query("SELECT 1 FROM platform.audit_entry WHERE action = 'mandates.helper.decline' AND actor_id = $1", [yUser.id])).rows.length, 1);
    assert.equal((await y.get('/mandats')).status, 403);
    // Invited again: pending again, and this time accepted.
    r = await referent.submit(page(), `${page()}/aidants`, { email: 'i-y@exemple.fr' });
    assert.equal(r.status, 200);
    assert.match(r.body, /Invitation envoyée à Yvonne Voisine/);
    r = await y.submit('/mandats', `/mandats/invitations/${structure.id}/accepter`, {});
    assert.equal(r.status, 200);
    assert.equal((await t.db.query<{ active: boolean }>('SELECT active FROM mandates.helper WHERE structure_id = $1 AND user_id = $2', [structure.id, yUser.id])).rows[0]!.active, true);
  });

  test('deactivated, a helper loses the helper role (least privilege); reactivated, gets it back; the 6-month rule takes it too', async () => {
    const sp = `/mandats/structures/${structure.id}`;
    const roleOf = async (userId: string) => (await getGrants(t.db, userId)).map((g) => [g.role, g.scopeKind, g.scopeId]);
    assert.deepEqual(await roleOf(xId), [['helper', 'place', structure.placeUid]]);
    let r = await staff76.submit(sp, `${sp}/aidants/${xId}/desactiver`, {});
    assert.equal(r.status, 200);
    assert.match(r.body, /Aidant désactivé/);
    assert.deepEqual(await roleOf(xId), [], 'the role went with the deactivation');
    const revoked = await t.db.query<{ actor_id: string }>("SELECT actor_id FROM platform.audit_entry WHERE action = 'accounts.role.revoke' AND object_id = $1", [xId]);
    assert.equal(revoked.rows.length, 1, 'audited by accounts');
    assert.equal((await x.get('/mandats')).status, 403, 'the back office of mandates is closed to X');
    assert.equal((await x.get('/mandats/nouveau')).status, 403);
    // Refused twice: 409, nothing written.
    const b = await rows();
    assert.equal((await staff76.submit(sp, `${sp}/aidants/${xId}/desactiver`, {})).status, 409);
    assert.deepEqual(await rows(), b);
    r = await staff76.submit(sp, `${sp}/aidants/${xId}/activer`, {});
    assert.equal(r.status, 200);
    assert.deepEqual(await roleOf(xId), [['helper', 'place', structure.placeUid]], 'reactivated: the role is back');
    assert.equal((await x.get('/mandats')).status, 200);
    // Six months without activity, warned a week before: deactivated by the idle rule, role revoked.
    await t.db.query("UPDATE mandates.helper SET last_act_at = now() - interval '200 days', idle_warned_at = now() - interval '20 days', accepted_at = now() - interval '300 days', added_at = now() - interval '300 days' WHERE structure_id = $1 AND user_id = $2", [structure.id, xId]);
    const idle = await service.handleIdleHelpers(t.ctx, async () => undefined, async () => null);
    assert.ok(idle.deactivated >= 1);
    assert.equal((await t.db.query<{ active: boolean }>('SELECT active FROM mandates.helper WHERE structure_id = $1 AND user_id = $2', [structure.id, xId])).rows[0]!.active, false);
    assert.deepEqual(await roleOf(xId), [], 'the idle rule takes the role too');
    assert.equal((await service.verifyJournal(t.db)).ok, true);
  });

  test('a helper active at another structure of the same place keeps the role when deactivated at one', async () => {
    const deps = depsOf(t.app);
    const w = await makeUser(deps, 'i-w@exemple.fr', [], 'Wanda Double');
    const other = await service.createStructure(t.ctx, null, { name: 'Antenne du port', siret: '', placeUid: structure.placeUid });
    await service.addHelper(t.ctx, null, structure.id, w.id, 'Wanda');
    await service.addHelper(t.ctx, null, other.id, w.id, 'Wanda');
    await t.db.query("INSERT INTO accounts.role_grant (user_id, role, scope_kind, scope_id) VALUES ($1, 'helper', 'place', $2)", [w.id, structure.placeUid]);
    await service.setHelperActive(t.ctx, null, structure.id, w.id, false);
    assert.equal((await getGrants(t.db, w.id)).length, 1, 'still an active helper at this place');
    await service.setHelperActive(t.ctx, null, other.id, w.id, false);
    assert.equal((await getGrants(t.db, w.id)).length, 0, 'no active helper row at this place any more');
  });

  test('a helper leaves the structure from their own session; nobody brings them back without a new invitation they accept', async () => {
    const deps = depsOf(t.app);
    const vUser = await makeUser(deps, 'i-v@exemple.fr', [], 'Valentin Partant');
    const v = await signedInBrowser(t.app, deps, vUser, '192.0.2.68');
    assert.equal((await referent.submit(page(), `${page()}/aidants`, { email: 'i-v@exemple.fr' })).status, 200);
    assert.equal((await v.submit('/mandats', `/mandats/invitations/${structure.id}/accepter`, {})).status, 200);
    const home = await v.get('/mandats');
    assert.match(home.body, /Quitter la structure « Espace numérique du port »/);
    const leave = `/mandats/mes-structures/${structure.id}/quitter`;
    const state = async () => (await t.db.query<{ active: boolean; accepted: boolean; left: boolean }>('SELECT active, accepted_at IS NOT NULL AS accepted, left_at IS NOT NULL AS left FROM mandates.helper WHERE structure_id = $1 AND user_id = $2', [structure.id, vUser.id])).rows[0];
    // Another account, or no CSRF token: refused, rows unchanged.
    let b = await rows();
    await third.get('/');
    assert.equal((await third.post(leave, {})).status, 404);
    assert.equal((await v.post(leave, { _csrf: 'faux' })).status, 403);
    assert.deepEqual(await rows(), b);
    const r = await v.submit('/mandats', leave, {});
    assert.equal(r.status, 200);
    assert.match(r.body, /Vous n’êtes plus aidant de la structure « Espace numérique du port »/);
    assert.deepEqual(await state(), { active: false, accepted: true, left: true });
    assert.deepEqual(await getGrants(t.db, vUser.id), [], 'the helper role went with them');
    assert.equal((await t.db.query("SELECT 1 FROM platform.audit_entry WHERE action = 'mandates.helper.leave' AND actor_id = $1", [vUser.id])).rows.length, 1);
    assert.equal((await v.get('/mandats')).status, 403);
    b = await rows();
    assert.equal((await v.post(leave, {})).status, 404, 'leaving twice');
    // Staff cannot « reactivate » them: 409, rows unchanged; the list says they left.
    const sp = `/mandats/structures/${structure.id}`;
    const list = await staff76.get(sp);
    assert.match(list.body, /Valentin Partant<\/td><td>[^<]*<\/td><td>a quitté la structure le/);
    const act = await staff76.submit(sp, `${sp}/aidants/${vUser.id}/activer`, {});
    assert.equal(act.status, 409);
    assert.match(act.body, /a quitté la structure d’elle-même/);
    assert.deepEqual(await rows(), b);
    // « Ajouter » sends a new invitation: pending until they accept again.
    const again = await referent.submit(page(), `${page()}/aidants`, { email: 'i-v@exemple.fr' });
    assert.equal(again.status, 200);
    assert.match(again.body, /Invitation envoyée à Valentin Partant/);
    assert.deepEqual(await state(), { active: false, accepted: false, left: false });
    assert.deepEqual(await getGrants(t.db, vUser.id), []);
    assert.match((await v.get('/mandats')).body, /vous a invité/);
    assert.equal((await v.submit('/mandats', `/mandats/invitations/${structure.id}/accepter`, {})).status, 200);
    assert.deepEqual(await state(), { active: true, accepted: true, left: false });
    assert.deepEqual((await getGrants(t.db, vUser.id)).map((g) => g.role), ['helper']);
    assert.equal((await service.verifyJournal(t.db)).ok, true);
  });

  test('50 simultaneous « Quitter la structure » by the helper: one takes effect (one audit entry, role revoked), the others get 404 and change nothing', async () => {
    const deps = depsOf(t.app);
    const uUser = await makeUser(deps, 'i-u@exemple.fr', [], 'Ulysse Pressé');
    assert.equal((await referent.submit(page(), `${page()}/aidants`, { email: 'i-u@exemple.fr' })).status, 200);
    const first = await signedInBrowser(t.app, deps, uUser, '198.51.100.200');
    assert.equal((await first.submit('/mandats', `/mandats/invitations/${structure.id}/accepter`, {})).status, 200);
    const browsers = await Promise.all(Array.from({ length: 50 }, (_, i) => signedInBrowser(t.app, deps, uUser, `203.0.113.${i + 1}`)));
    await Promise.all(browsers.map((b) => b.get('/mandats')));
    const answers = await Promise.all(browsers.map((b) => b.post(`/mandats/mes-structures/${structure.id}/quitter`, {})));
    assert.equal(answers.filter((r) => r.status === 200).length, 1, answers.map((r) => r.status).join(','));
    assert.ok(answers.every((r) => r.status === 200 || r.status === 404), answers.map((r) => r.status).join(','));
    assert.equal((await t.db.query("SELECT 1 FROM platform.audit_entry WHERE action = 'mandates.helper.leave' AND actor_id = $1", [uUser.id])).rows.length, 1);
    assert.equal((await t.db.query("SELECT 1 FROM platform.audit_entry WHERE action = 'accounts.role.revoke' AND object_id = $1", [uUser.id])).rows.length, 1);
    assert.deepEqual(await getGrants(t.db, uUser.id), []);
    // A path that is not a structure id: 404 at once, nothing written.
    const b = await rows();
    assert.equal((await first.post('/mandats/mes-structures/%00%27;DROP/quitter', {})).status, 400, 'a NUL byte in the path: refused by the platform');
    assert.equal((await first.post(`/mandats/mes-structures/${'x'.repeat(5000)}/quitter`, {})).status, 414, 'a huge path: refused by the platform');
    assert.equal((await first.post('/mandats/mes-structures/pas-un-uuid/quitter', {})).status, 404);
    assert.deepEqual(await rows(), b);
  });

  test('« Ajouter » a former helper deactivated by staff: active again, with the helper role', async () => {
    const deps = depsOf(t.app);
    const sUser = await makeUser(deps, 'i-s@exemple.fr', [], 'Sacha Revenu');
    assert.equal((await referent.submit(page(), `${page()}/aidants`, { email: 'i-s@exemple.fr' })).status, 200);
    const s = await signedInBrowser(t.app, deps, sUser, '192.0.2.69');
    assert.equal((await s.submit('/mandats', `/mandats/invitations/${structure.id}/accepter`, {})).status, 200);
    const sp = `/mandats/structures/${structure.id}`;
    assert.equal((await staff76.submit(sp, `${sp}/aidants/${sUser.id}/desactiver`, {})).status, 200);
    assert.deepEqual(await getGrants(t.db, sUser.id), []);
    const r = await referent.submit(page(), `${page()}/aidants`, { email: 'i-s@exemple.fr' });
    assert.equal(r.status, 200);
    assert.match(r.body, /Sacha Revenu est de nouveau aidant/);
    assert.deepEqual((await getGrants(t.db, sUser.id)).map((g) => [g.role, g.scopeId]), [['helper', structure.placeUid]]);
  });
});

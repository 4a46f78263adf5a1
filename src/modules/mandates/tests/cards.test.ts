/**
 * TOTP cards: the CSV import (per-line errors, all or nothing, seeds encrypted and never shown),
 * the association to a helper (proved with the card's code, journalled), and signing in with the
 * card's code as the second factor (a code works once), each helper sign-in journalled
 * (`helper.signed_in`, through accounts' onSignIn) and no other account's. Refusals leave the rows
 * unchanged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting, totpCode } from '../../accounts/index.ts';
import { parseCardsCsv } from '../cards.ts';
import { setHelperActive, verifyJournal } from '../service.ts';
import { structureWithHelper, snapshot } from './support.ts';

const { Browser, PASSWORD, depsOf, makeUser, signedInBrowser } = accountsTesting;

const SEED_A = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const SEED_B = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const SEED_C = 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U';

test('parseCardsCsv: a header, both separators, and errors naming their line', () => {
  const ok = parseCardsCsv('\uFEFFserial,seed\r\nC-0001,jbswy3dpehpk3pxp jbswy3dpehpk3pxp\n\nC-0002;"GEZDGNBVGY3TQOJQ"\n');
  assert.deepEqual(ok.errors, []);
  assert.deepEqual(ok.cards.map((c) => [c.line, c.serial, c.seed]), [[2, 'C-0001', SEED_A], [4, 'C-0002', 'GEZDGNBVGY3TQOJQ']]);
  const bad = parseCardsCsv('C-0001,JBSWY3DPEHPK3PXP\nC-0002,not base32 at all!\nC-0001,GEZDGNBVGY3TQOJQ\nC-0003,A,B\nC 4,GEZDGNBVGY3TQOJQ\nC-0005,GEZD\u0000GNBVGY3TQOJQ');
  assert.deepEqual(bad.errors.map((e) => e.message.slice(0, 9)), ['Ligne 2 :', 'Ligne 3 :', 'Ligne 4 :', 'Ligne 5 :', 'Ligne 6 :']);
  assert.match(bad.errors[1]!.message, /figure déjà ligne 1/);
  assert.match(parseCardsCsv('\n\n').errors[0]!.message, /Aucune carte/);
});

describe('mandates: TOTP cards', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff76: accountsTesting.Browser;
  let staff27: accountsTesting.Browser;
  let structureId = '';
  let helper: Awaited<ReturnType<typeof makeUser>>;
  const cardRows = async () => ({
    rows: await snapshot(t.db),
    cards: (await t.db.query('SELECT serial, seed_box, structure_id, user_id, associated_at, last_step FROM mandates.totp_card ORDER BY serial')).rows,
  });

  before(async () => {
    t = await testApp();
    const deps = depsOf(t.app);
    helper = await makeUser(deps, 'c-helper@exemple.fr', [{ role: 'helper', scopeKind: 'place', scopeId: '00000000-0000-0000-0000-000000000001' }], 'Clara Aidante');
    structureId = (await structureWithHelper(t.ctx, helper.id)).id;
    staff76 = await signedInBrowser(t.app, deps, await makeUser(deps, 'c-staff76@exemple.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '76' }], 'Équipe 76'), '192.0.2.21');
    staff27 = await signedInBrowser(t.app, deps, await makeUser(deps, 'c-staff27@exemple.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '27' }], 'Équipe 27'), '192.0.2.22');
  });
  after(async () => t.close());
  const signIns = async () => (await t.db.query("SELECT structure_id, mandate_id, actor_kind, actor_id, detail FROM mandates.journal WHERE event = 'helper.signed_in' ORDER BY id")).rows;

  test('import: a wrong line refuses the whole file (naming it); out of territory refused; seeds encrypted, never shown', async () => {
    const page = `/mandats/structures/${structureId}/cartes`;
    let before = await cardRows();
    let r = await staff76.submit(page, page, { csv: `C-0001,${SEED_A}\nC-0002,xyz` });
    assert.equal(r.status, 422);
    assert.match(r.body, /Ligne 2 : la graine/);
    assert.equal((await staff27.get(page)).status, 403);
    await staff27.get('/mandats/habilitation/nouvelle');
    assert.equal((await staff27.post(page, { csv: `C-0001,${SEED_A}` })).status, 403);
    assert.deepEqual(await cardRows(), before);
    r = await staff76.submit(page, page, { csv: `serial,seed\nC-0001,${SEED_A}\nC-0002,${SEED_B}\nC-0003,${SEED_C}` });
    assert.equal(r.status, 200);
    assert.match(r.body, /3 cartes importées/);
    for (const seed of [SEED_A, SEED_B, SEED_C]) assert.equal(r.body.includes(seed), false);
    const stored = await t.db.query<{ seed_box: string }>('SELECT seed_box FROM mandates.totp_card');
    for (const row of stored.rows) {
      assert.match(row.seed_box, /^v1:/);
      for (const seed of [SEED_A, SEED_B, SEED_C]) assert.equal(row.seed_box.includes(seed), false);
    }
    // Importing a serial again: refused, naming the line; nothing added.
    before = await cardRows();
    r = await staff76.submit(page, page, { csv: `C-0004,${SEED_A}\nc-0002,${SEED_B}` });
    assert.equal(r.status, 422);
    assert.match(r.body, /Ligne 2 : la carte c-0002 est déjà importée/);
    assert.deepEqual(await cardRows(), before);
  });

  test('association: proved with the card’s code, journalled; wrong code, unknown card, second card refused with no row', async () => {
    const page = `/mandats/structures/${structureId}/cartes`;
    const url = `${page}/associer`;
    const before = await cardRows();
    for (const [form, status, msg] of [
      [{ serial: 'C-0001', userId: helper.id, code: totpCode(SEED_B) }, 422, /ne correspond pas/],
      [{ serial: 'C-9999', userId: helper.id, code: totpCode(SEED_A) }, 422, /Aucune carte/],
      [{ serial: 'C-0001', userId: '00000000-0000-0000-0000-000000000000', code: totpCode(SEED_A) }, 422, /aidant actif/],
      [{ serial: 'C-0001', userId: helper.id, code: '12a456' }, 422, /6 chiffres/],
    ] as const) {
      const r = await staff76.submit(page, url, form as unknown as Record<string, string>);
      assert.equal(r.status, status, JSON.stringify(form));
      assert.match(r.body, msg);
    }
    assert.deepEqual(await cardRows(), before);
    let r = await staff76.submit(page, url, { serial: 'c-0001', userId: helper.id, code: totpCode(SEED_A, Date.now() - 30_000) }); // the previous step: the helper confirms with the current one, signs in with the next
    assert.equal(r.status, 200);
    assert.match(r.body, /Carte C-0001 : Aidant /);
    const j = await t.db.query<{ event: string; detail: { serial: string; helper: string } }>("SELECT event, detail FROM mandates.journal WHERE event = 'card.associated'");
    assert.equal(j.rows.length, 1);
    assert.equal(j.rows[0]!.detail.helper, helper.id);
    const b2 = await cardRows();
    r = await staff76.submit(page, url, { serial: 'C-0002', userId: helper.id, code: totpCode(SEED_B) });
    assert.equal(r.status, 409);
    assert.match(r.body, /déjà une carte/);
    assert.deepEqual(await cardRows(), b2);
    const verified = await verifyJournal(t.db);
    assert.deepEqual([verified.ok, verified.entries], [true, (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM mandates.journal')).rows[0]!.n]);
  });

  test('sign-in: the card’s code is the second factor once its helper confirmed it; a code works once', async () => {
    // Associated, not yet confirmed: signing in does not ask for it; the helper confirms it from their own session.
    const own = await signedInBrowser(t.app, depsOf(t.app), helper, '192.0.2.30');
    assert.match((await own.get('/mandats')).body, /confirmez-la avec son code/);
    assert.match((await own.get('/mandats/ma-carte')).body, /La carte n° C-0001 a été associée à votre compte/);
    const confirmed = await own.submit('/mandats/ma-carte', '/mandats/ma-carte', { code: totpCode(SEED_A) });
    assert.equal(confirmed.status, 200, confirmed.body.slice(0, 300));
    assert.match(confirmed.body, /Carte n° C-0001 confirmée/);
    const earlier = (await signIns()).length;
    const signIn = async (ip: string) => {
      const b = new Browser(t.app, ip);
      await b.get('/compte/connexion');
      const r = await b.post('/compte/connexion', { email: 'c-helper@exemple.fr', password: PASSWORD });
      assert.equal(r.status, 303);
      assert.match(r.location!, /\/compte\/connexion\/code/);
      await b.get('/compte/connexion/code');
      return b;
    };
    const b = await signIn('192.0.2.31');
    // Not signed in yet: nothing journalled.
    assert.notEqual((await b.get('/mandats')).status, 200);
    assert.equal((await signIns()).length, earlier);
    await b.get('/compte/connexion/code');
    const rows = await snapshot(t.db);
    assert.equal((await b.post('/compte/connexion/code', { code: totpCode(SEED_B, Date.now() + 30_000) })).status, 400);
    assert.deepEqual(await snapshot(t.db), rows);
    const code = totpCode(SEED_A, Date.now() + 30_000); // the association spent the current step
    const ok = await b.post('/compte/connexion/code', { code });
    assert.equal(ok.status, 303);
    assert.equal((await b.get('/mandats')).status, 200);
    // The sign-in (after its second factor) is in the structure's journal, with its audit entry.
    assert.deepEqual((await signIns()).slice(earlier), [{ structure_id: structureId, mandate_id: null, actor_kind: 'helper', actor_id: helper.id, detail: { method: 'password+totp' } }]);
    assert.equal((await t.db.query("SELECT count(*)::int AS n FROM platform.audit_entry WHERE action = 'mandates.helper.signed_in' AND actor_id = $1", [helper.id])).rows[0]!.n, earlier + 1);
    // The same code again (another browser): refused, nothing changes on the card nor in the journal.
    const before = (await t.db.query('SELECT last_step FROM mandates.totp_card WHERE user_id = $1', [helper.id])).rows;
    const b2 = await signIn('192.0.2.32');
    const rows2 = await snapshot(t.db);
    assert.equal((await b2.post('/compte/connexion/code', { code })).status, 400);
    assert.deepEqual((await t.db.query('SELECT last_step FROM mandates.totp_card WHERE user_id = $1', [helper.id])).rows, before);
    assert.deepEqual(await snapshot(t.db), rows2);
    assert.notEqual((await b2.get('/mandats')).status, 200);
    assert.equal((await signIns()).length, earlier + 1);
    assert.equal((await verifyJournal(t.db)).ok, true);
  });

  test('sign-in journal: nothing for an account that is no helper, nor for a deactivated helper; a failed password writes nothing', async () => {
    const deps = depsOf(t.app);
    await makeUser(deps, 'c-citizen@exemple.fr', [], 'Camille Habitante');
    const helper2 = await makeUser(deps, 'c-helper2@exemple.fr', [{ role: 'helper', scopeKind: 'place', scopeId: '00000000-0000-0000-0000-000000000001' }], 'Hugo Aidant');
    await structureWithHelper(t.ctx, helper2.id);
    const passwordSignIn = async (email: string, password: string, ip: string) => {
      const b = new Browser(t.app, ip);
      await b.get('/compte/connexion');
      return b.post('/compte/connexion', { email, password });
    };
    const before = await signIns();
    let rows = await snapshot(t.db);
    assert.equal((await passwordSignIn('c-helper2@exemple.fr', 'not the password', '192.0.2.41')).status, 400);
    assert.deepEqual(await snapshot(t.db), rows);
    const r = await passwordSignIn('c-citizen@exemple.fr', PASSWORD, '192.0.2.42');
    assert.equal(r.status, 303);
    assert.doesNotMatch(r.location!, /connexion/);
    assert.deepEqual(await signIns(), before);
    // A helper of an active structure, by password only (no card): journalled once.
    assert.equal((await passwordSignIn('c-helper2@exemple.fr', PASSWORD, '192.0.2.43')).status, 303);
    assert.deepEqual((await signIns()).slice(before.length).map((e) => [e.actor_id, e.detail]), [[helper2.id, { method: 'password' }]]);
    // Deactivated: signing in still works (the account is theirs), nothing is journalled.
    const [s2] = (await t.db.query<{ structure_id: string }>('SELECT structure_id FROM mandates.helper WHERE user_id = $1', [helper2.id])).rows;
    await setHelperActive(t.ctx, null, s2!.structure_id, helper2.id, false);
    rows = await snapshot(t.db);
    assert.equal((await passwordSignIn('c-helper2@exemple.fr', PASSWORD, '192.0.2.44')).status, 303);
    assert.deepEqual((await snapshot(t.db) as { journal: unknown }).journal, (rows as { journal: unknown }).journal);
    assert.equal((await signIns()).length, before.length + 1);
    assert.equal((await verifyJournal(t.db)).ok, true);
  });

  test('a lost card is withdrawn: no longer asked for nor accepted, never associated again; journalled', async () => {
    const page = `/mandats/structures/${structureId}/cartes`;
    let before = await cardRows();
    let r = await staff76.submit(page, `${page}/retirer`, { serial: 'C-0003' }); // in stock, not in service… still withdrawable
    assert.equal(r.status, 200);
    r = await staff76.submit(page, `${page}/retirer`, { serial: 'C-0003' });
    assert.equal(r.status, 422);
    before = await cardRows();
    r = await staff76.submit(page, `${page}/associer`, { serial: 'C-0003', userId: helper.id, code: totpCode(SEED_C) });
    assert.equal(r.status, 409);
    assert.deepEqual(await cardRows(), before);
    r = await staff76.submit(page, `${page}/retirer`, { serial: 'C-0001' });
    assert.equal(r.status, 200);
    const j = await t.db.query<{ detail: { helper: string | null } }>("SELECT detail FROM mandates.journal WHERE event = 'card.withdrawn' ORDER BY id");
    assert.deepEqual(j.rows.map((x) => x.detail.helper), [null, helper.id]);
    // Signing in no longer asks for the card's code (a helper's role does not require 2FA).
    const b = new Browser(t.app, '192.0.2.33');
    await b.get('/compte/connexion');
    const s = await b.post('/compte/connexion', { email: 'c-helper@exemple.fr', password: PASSWORD });
    assert.equal(s.status, 303);
    assert.doesNotMatch(s.location!, /connexion\/code/);
    assert.equal((await verifyJournal(t.db)).ok, true);
  });

  test('a card associated to another person’s account does not lock them out: not while only invited, and once a helper it counts only after they confirm it themselves', async () => {
    const deps = depsOf(t.app);
    const victim = await makeUser(deps, 'c-victime@exemple.fr', [], 'Valérie Habitante');
    const page = `/mandats/structures/${structureId}`;
    assert.equal((await staff76.submit(page, `${page}/aidants`, { email: 'c-victime@exemple.fr' })).status, 200);
    const cards = `${page}/cartes`;
    // Only invited (invitation.test.ts): no card can be associated to her account.
    const pending = await cardRows();
    const early = await staff76.submit(cards, `${cards}/associer`, { serial: 'C-0002', userId: victim.id, code: totpCode(SEED_B) });
    assert.equal(early.status, 422);
    assert.match(early.body, /aidant actif/);
    assert.deepEqual(await cardRows(), pending);
    // She accepts the invitation: the card, associated by staff afterwards, still needs her own confirmation.
    const own = await signedInBrowser(t.app, deps, victim, '192.0.2.36');
    assert.equal((await own.submit('/mandats', `/mandats/invitations/${structureId}/accepter`, {})).status, 200);
    const r = await staff76.submit(cards, `${cards}/associer`, { serial: 'C-0002', userId: victim.id, code: totpCode(SEED_B, Date.now() - 30_000) });
    assert.equal(r.status, 200, r.body.slice(0, 300));
    assert.match(r.body, /à confirmer par l’aidant/);
    // The person signs in with their password as before: no code of a card they never held.
    const b = new Browser(t.app, '192.0.2.34');
    await b.get('/compte/connexion');
    const s = await b.post('/compte/connexion', { email: 'c-victime@exemple.fr', password: PASSWORD });
    assert.equal(s.status, 303);
    assert.doesNotMatch(s.location!, /connexion\/code/);
    // Confirming needs the card's code, from their own session: a wrong one changes nothing.
    await b.get('/mandats/ma-carte');
    const other = await signedInBrowser(t.app, deps, await makeUser(deps, 'c-autre@exemple.fr', [], 'Autre'), '192.0.2.35');
    const before = await cardRows();
    const wrong = await b.submit('/mandats/ma-carte', '/mandats/ma-carte', { code: totpCode(SEED_A) });
    assert.equal(wrong.status, 422);
    assert.match(wrong.body, /ne correspond pas/);
    assert.deepEqual(await cardRows(), before);
    // Without a CSRF token: refused, nothing written.
    assert.equal((await b.post('/mandats/ma-carte', { code: totpCode(SEED_B) }, { csrf: false })).status, 403);
    assert.deepEqual(await cardRows(), before);
    // Another account (no card waiting): 409, nothing written.
    assert.match((await other.get('/mandats/ma-carte')).body, /Aucune carte n’attend votre confirmation/);
    const none = await other.submit('/compte', '/mandats/ma-carte', { code: totpCode(SEED_B) });
    assert.equal(none.status, 409, none.body.slice(0, 2000));
    assert.deepEqual(await cardRows(), before);
    assert.equal((await verifyJournal(t.db)).ok, true);
  });
});

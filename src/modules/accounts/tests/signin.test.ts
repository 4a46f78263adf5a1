import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { verifyAudit, listAudit } from '../../../platform/audit/index.ts';
import { totpCode } from '../totp.ts';
import { readOutbox } from '../mail.ts';
import type { AccountsDeps } from '../service.ts';
import { Browser, PASSWORD, depsFor, lastLink, makeUser, signedInBrowser } from './client.ts';

describe('accounts: invitation, sign-in, sessions, 2FA, reset, magic link', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let deps: AccountsDeps;
  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
    deps = depsFor(t.db, t.ctx.config);
  });
  after(async () => t.close());

  test('an invited person activates the account from the e-mailed link and lands signed in', async () => {
    const admin = await makeUser(deps, 'admin@example.fr', [{ role: 'admin', scopeKind: 'platform', scopeId: '' }], 'Admin');
    void admin;
    const b = new Browser(t.app, '192.0.2.10');
    const { inviteUser } = await import('../service.ts');
    await inviteUser(deps, null, { email: 'Camille@Example.fr', displayName: 'Camille' });
    const link = await lastLink(t.db, 'camille@example.fr', '/compte/invitation/');
    const page = await b.get(link);
    assert.equal(page.status, 200);
    assert.match(page.body, /Camille@Example\.fr/);
    assert.match(page.body, /autocomplete="new-password"/);
    // Too short a password: the error is shown and linked to the field.
    let res = await b.post(link, { displayName: 'Camille Martin', password: 'court' });
    assert.equal(res.status, 400);
    assert.match(res.body, /href="#f-password"/);
    assert.match(res.body, /aria-invalid="true"/);
    // Common passwords and the site's own words are refused, and nothing is saved: the link still works.
    for (const weak of ['password1234', 'azertyuiopqs', 'Maillage2024!!', 'camillemartin']) {
      res = await b.post(link, { displayName: 'Camille Martin', password: weak });
      assert.equal(res.status, 400, weak);
      assert.match(res.body, /href="#f-password"/);
    }
    const still = await t.db.query<{ password_hash: string | null; status: string }>('SELECT password_hash, status FROM accounts.users WHERE lower(email) = $1', ['camille@example.fr']);
    assert.equal(still.rows[0]!.password_hash, null);
    res = await b.post(link, { displayName: 'Camille Martin', password: PASSWORD });
    assert.equal(res.status, 303);
    assert.equal(res.location, '/compte');
    const account = await b.get('/compte');
    assert.equal(account.status, 200);
    assert.match(account.body, /Camille Martin/);
    // The link worked once.
    assert.equal((await new Browser(t.app).get(link)).status, 410);
  });

  test('sign-in by password rotates the session id; sign-out ends it', async () => {
    await makeUser(deps, 'dominique@example.fr');
    const b = new Browser(t.app, '192.0.2.11');
    b.cookies.set('maillage_session', 'attacker-chosen-value');
    await b.get('/compte/connexion');
    const res = await b.post('/compte/connexion', { email: 'dominique@example.fr', password: PASSWORD });
    assert.equal(res.status, 303);
    const first = b.session();
    assert.ok(first && first !== 'attacker-chosen-value');
    const setCookie = String(res.headers['set-cookie']);
    assert.match(setCookie, /HttpOnly/i);
    assert.match(setCookie, /SameSite=Lax/i);
    assert.equal((await b.get('/compte')).status, 200);
    // Signing in again from the same browser issues a new id and kills the old one.
    await b.get('/compte/connexion?retour=/compte');
    const old = b.session()!;
    await b.post('/compte/connexion', { email: 'dominique@example.fr', password: PASSWORD });
    assert.notEqual(b.session(), old);
    const stale = new Browser(t.app);
    stale.cookies.set('maillage_session', old);
    assert.equal((await stale.get('/compte')).status, 303);
    // Sign out.
    await b.get('/compte');
    const out = await b.post('/compte/deconnexion', {});
    assert.equal(out.status, 200);
    assert.equal((await b.get('/compte')).location?.startsWith('/compte/connexion'), true);
    const entries = await listAudit(t.db, { action: undefined, objectType: 'user' } as never);
    assert.ok(entries.some((e) => e.action === 'accounts.signin'));
  });

  test('wrong password and unknown address get the same answer', async () => {
    const b = new Browser(t.app, '192.0.2.12');
    await b.get('/compte/connexion');
    const wrong = await b.post('/compte/connexion', { email: 'dominique@example.fr', password: 'pas le bon mot de passe' });
    const unknown = await b.post('/compte/connexion', { email: 'personne@example.fr', password: 'pas le bon mot de passe' });
    assert.equal(wrong.status, 400);
    assert.equal(unknown.status, 400);
    const message = (body: string) => /<div class="error-summary"[\s\S]*?<\/div>/.exec(body)![0];
    assert.equal(message(wrong.body), message(unknown.body));
  });

  test('staff must set up 2FA at first sign-in, then sign in with a code; codes are single-use', async () => {
    await makeUser(deps, 'staff@example.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '84' }], 'Personne Test', { totp: false });
    const b = new Browser(t.app, '192.0.2.13');
    await b.get('/compte/connexion');
    let res = await b.post('/compte/connexion', { email: 'staff@example.fr', password: PASSWORD });
    assert.equal(res.location, '/compte/2fa');
    // Not signed in yet: the back office refuses.
    assert.equal((await b.get('/gestion')).location, '/compte/2fa');
    const setup = await b.get('/compte/2fa');
    assert.equal(setup.status, 200);
    assert.match(setup.body, /<svg[^>]+role="img"/);
    const secret = /<span class="secret">([A-Z2-7 ]+)<\/span>/.exec(setup.body)![1]!.replace(/ /g, '');
    res = await b.post('/compte/2fa', { code: '000000' === totpCode(secret) ? '111111' : '000000' });
    assert.equal(res.status, 400);
    res = await b.post('/compte/2fa', { code: totpCode(secret) });
    assert.equal(res.status, 200);
    const codes = [...res.body.matchAll(/<li>([A-Z2-9]{5}-[A-Z2-9]{5})<\/li>/g)].map((m) => m[1]!);
    assert.equal(codes.length, 10);
    assert.equal((await b.get('/gestion')).status, 200);

    // Next sign-in asks for a code; the code just used is refused (replay), a recovery code works once.
    const b2 = new Browser(t.app, '192.0.2.14');
    await b2.get('/compte/connexion');
    res = await b2.post('/compte/connexion', { email: 'staff@example.fr', password: PASSWORD });
    assert.equal(res.location, '/compte/connexion/code');
    assert.equal((await b2.get('/compte')).location, '/compte/connexion/code');
    await b2.get('/compte/connexion/code');
    res = await b2.post('/compte/connexion/code', { code: totpCode(secret) });
    assert.equal(res.status, 400, 'a TOTP code is accepted once only');
    res = await b2.post('/compte/connexion/code', { code: codes[0]!.toLowerCase() });
    assert.equal(res.status, 303);
    assert.equal(res.location, '/gestion');
    assert.equal((await b2.get('/gestion')).status, 200);

    const b3 = new Browser(t.app, '192.0.2.15');
    await b3.get('/compte/connexion');
    await b3.post('/compte/connexion', { email: 'staff@example.fr', password: PASSWORD });
    await b3.get('/compte/connexion/code');
    assert.equal((await b3.post('/compte/connexion/code', { code: codes[0]! })).status, 400, 'a recovery code is accepted once only');
    // Staff cannot switch 2FA off.
    await b2.get('/compte');
    const off = await b2.post('/compte/2fa/desactiver', { password: PASSWORD });
    assert.equal(off.status, 409);
    const actions = (await listAudit(t.db, { limit: 200 })).map((e) => e.action);
    assert.ok(actions.includes('accounts.mfa.enable'));
    assert.ok(actions.includes('accounts.mfa.recovery_code_used'));
  });

  test('password reset: same answer for unknown addresses, single-use expiring link, other sessions closed', async () => {
    await makeUser(deps, 'reset@example.fr');
    const other = new Browser(t.app, '192.0.2.16');
    await other.submit('/compte/connexion', '/compte/connexion', { email: 'reset@example.fr', password: PASSWORD });
    assert.equal((await other.get('/compte')).status, 200);

    const b = new Browser(t.app, '192.0.2.17');
    const known = await b.submit('/compte/mot-de-passe-oublie', '/compte/mot-de-passe-oublie', { email: 'reset@example.fr' });
    const unknown = await b.submit('/compte/mot-de-passe-oublie', '/compte/mot-de-passe-oublie', { email: 'inconnu@example.fr' });
    assert.equal(known.status, 200);
    assert.equal(unknown.status, 200);
    const strip = (s: string) => s.replace(/name="_csrf" value="[^"]+"/g, '');
    assert.equal(strip(known.body), strip(unknown.body));
    assert.equal((await readOutbox(t.db, 'inconnu@example.fr')).length, 0);

    const link = await lastLink(t.db, 'reset@example.fr', '/compte/reinitialiser/');
    await b.get(link);
    const res = await b.post(link, { password: 'un tout nouveau mot de passe' });
    assert.equal(res.status, 200);
    assert.equal((await other.get('/compte')).status, 303, 'other sessions are closed');
    assert.equal((await b.get(link)).status, 410, 'the link works once');
    const signin = await new Browser(t.app, '192.0.2.18').submit('/compte/connexion', '/compte/connexion', { email: 'reset@example.fr', password: 'un tout nouveau mot de passe' });
    assert.equal(signin.status, 303);
    // An expired link is refused.
    await b.submit('/compte/mot-de-passe-oublie', '/compte/mot-de-passe-oublie', { email: 'reset@example.fr' });
    const link2 = await lastLink(t.db, 'reset@example.fr', '/compte/reinitialiser/');
    await t.db.query(`UPDATE accounts.token SET expires_at = now() - interval '1 second' WHERE purpose = 'reset' AND used_at IS NULL`);
    assert.equal((await b.get(link2)).status, 410);
  });

  test('magic link: confirmation page, then signed in; the link works once', async () => {
    await makeUser(deps, 'magic@example.fr');
    const b = new Browser(t.app, '192.0.2.19');
    const res = await b.submit('/compte/connexion/lien', '/compte/connexion/lien', { email: 'magic@example.fr' });
    assert.equal(res.status, 200);
    const link = await lastLink(t.db, 'magic@example.fr', '/compte/lien/');
    const confirm = await b.get(link);
    assert.equal(confirm.status, 200);
    const done = await b.post(link, {});
    assert.equal(done.status, 303);
    assert.equal((await b.get('/compte')).status, 200);
    const again = new Browser(t.app, '192.0.2.20');
    await again.get('/compte/connexion');
    assert.equal((await again.post(link, {})).status, 410);
  });

  test('account page: profile change with e-mail verification, sessions, export, deletion request', async () => {
    await makeUser(deps, 'profil@example.fr');
    const b = new Browser(t.app, '192.0.2.21');
    await b.submit('/compte/connexion', '/compte/connexion', { email: 'profil@example.fr', password: PASSWORD });
    const elsewhere = new Browser(t.app, '192.0.2.22');
    await elsewhere.submit('/compte/connexion', '/compte/connexion', { email: 'profil@example.fr', password: PASSWORD });
    await b.get('/compte');
    let res = await b.post('/compte/profil', { displayName: 'Nouveau Nom', email: 'nouvelle@example.fr' });
    assert.equal(res.status, 200);
    assert.match(res.body, /Nouveau Nom/);
    assert.match(res.body, /nouvelle@example\.fr/);
    const link = await lastLink(t.db, 'nouvelle@example.fr', '/compte/verifier/');
    await b.get(link);
    assert.equal((await b.post(link, {})).status, 200);
    const page = await b.get('/compte');
    assert.match(page.body, /value="nouvelle@example\.fr"/);
    // Two sessions listed; close all others.
    assert.equal((page.body.match(/<tr>\s*<td>/g) ?? []).length, 2);
    res = await b.post('/compte/sessions/fermer-tout', {});
    assert.equal(res.status, 200);
    assert.equal((await elsewhere.get('/compte')).status, 303);
    // Export.
    const exp = await b.get('/compte/export');
    assert.equal(exp.status, 200);
    assert.match(String(exp.headers['content-disposition']), /attachment/);
    const data = JSON.parse(exp.body);
    assert.equal(data.account.email, 'nouvelle@example.fr');
    assert.equal(data.account.displayName, 'Nouveau Nom');
    // Deletion request.
    await b.get('/compte');
    res = await b.post('/compte/suppression', { reason: 'Je quitte la structure' });
    assert.equal(res.status, 200);
    assert.match(res.body, /Vous avez demandé la suppression/);
  });

  test('sign out everywhere, this browser included', async () => {
    await makeUser(deps, 'partout@example.fr');
    const here = new Browser(t.app, '192.0.2.30');
    const there = new Browser(t.app, '192.0.2.31');
    for (const b of [here, there]) await b.submit('/compte/connexion', '/compte/connexion', { email: 'partout@example.fr', password: PASSWORD });
    await here.get('/compte');
    const res = await here.post('/compte/deconnexion-partout', {});
    assert.equal(res.status, 200);
    assert.match(res.body, /Toutes vos sessions sont fermées/);
    assert.equal((await here.get('/compte')).status, 303);
    assert.equal((await there.get('/compte')).status, 303);
    const { rows } = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM accounts.session s JOIN accounts.users u ON u.id = s.user_id WHERE u.email_key = 'partout@example.fr' AND s.revoked_at IS NULL`,
    );
    assert.equal(rows[0]!.n, 0);
  });

  test('an administrator resets the 2FA of someone who lost their phone: their sessions close, setup is required again', async () => {
    const admin = await makeUser(deps, 'admin-2fa@example.fr', [{ role: 'admin', scopeKind: 'platform', scopeId: '' }]);
    const staff = await makeUser(deps, 'perdu@example.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '69' }]);
    const staffBrowser = await signedInBrowser(t.app, deps, staff, '192.0.2.32');
    assert.equal((await staffBrowser.get('/gestion')).status, 200);
    const a = await signedInBrowser(t.app, deps, admin, '192.0.2.33');
    const page = await a.get(`/admin/utilisateurs/${staff.id}`);
    assert.match(page.body, /Réinitialiser la double authentification/);
    const res = await a.post(`/admin/utilisateurs/${staff.id}/2fa/reinitialiser`, {});
    assert.equal(res.status, 303);
    assert.equal((await staffBrowser.get('/gestion')).status, 303, 'their sessions are closed');
    const again = new Browser(t.app, '192.0.2.34');
    const signin = await again.submit('/compte/connexion', '/compte/connexion', { email: 'perdu@example.fr', password: PASSWORD });
    assert.equal(signin.location, '/compte/2fa');
    const entry = (await listAudit(t.db, { objectType: 'user', objectId: staff.id, limit: 10 })).find((e) => e.action === 'accounts.mfa.reset');
    assert.equal(entry?.actorId, admin.id);
  });

  test('the development outbox page lists messages; the audit chain is intact after all this', async () => {
    // Only a browser on this machine sees it (the links in it are everyone's sign-in links).
    assert.equal((await new Browser(t.app).get('/compte/outbox')).status, 403);
    const res = await new Browser(t.app, '127.0.0.1').get('/compte/outbox');
    assert.equal(res.status, 200);
    assert.match(res.body, /Réinitialiser votre mot de passe/);
    assert.equal((await verifyAudit(t.db)).ok, true);
  });
});

/**
 * The back-office page of the partner services (partners-page.ts): regional staff of the région the
 * site covers register a service (exact redirect URIs; the secret shown once, stored hashed), renew
 * its secret, deactivate it; staff of a département, a helper, a forged request (no CSRF token) and
 * bad input are refused and leave the rows unchanged.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';

const { depsOf, makeUser, signedInBrowser } = accountsTesting;
const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

describe('mandates: partner services page', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff: accountsTesting.Browser;
  let staffDep: accountsTesting.Browser;
  let helper: accountsTesting.Browser;
  const rows = async () => ({
    partners: (await t.db.query('SELECT client_id, name, secret_hash, redirect_uris, revoked_at FROM mandates.partner ORDER BY client_id')).rows,
    audit: (await t.db.query("SELECT count(*)::int AS n FROM platform.audit_entry WHERE action LIKE 'mandates.partner.%'")).rows[0],
  });

  before(async () => {
    t = await testApp({});
    t.ctx.config.theme.territory = 'region:28';
    const deps = depsOf(t.app);
    staff = await signedInBrowser(t.app, deps, await makeUser(deps, 'pp-staff@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '28' }], 'Équipe Normandie'), '192.0.2.90');
    staffDep = await signedInBrowser(t.app, deps, await makeUser(deps, 'pp-dep@exemple.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '76' }], 'Équipe 76'), '192.0.2.91');
    helper = await signedInBrowser(t.app, deps, await makeUser(deps, 'pp-helper@exemple.fr', [{ role: 'helper', scopeKind: 'place', scopeId: '00000000-0000-0000-0000-000000000001' }], 'Aidant'), '192.0.2.92');
  });
  after(async () => t?.close());

  test('register (secret once, hashed), renew the secret, deactivate; audited', async () => {
    const page = await staff.get('/mandats/partenaires');
    assert.equal(page.status, 200);
    assert.match(page.body, /Aucun service partenaire/);
    assert.match(page.body, /<label for="f-redirect_uri">/);
    const created = await staff.post('/mandats/partenaires', { name: 'CAF (test)', redirectUris: 'https://caf.exemple.fr/retour\r\nhttps://caf.exemple.fr/retour2\n' });
    assert.equal(created.status, 201, created.body.slice(0, 300));
    const clientId = /Identifiant : <code>(mp_[A-Za-z0-9_-]+)<\/code>/.exec(created.body)![1]!;
    const secret = /Secret : <code class="code">([A-Za-z0-9_-]{43})<\/code>/.exec(created.body)![1]!;
    assert.match(created.body, /il ne sera plus jamais affiché/);
    let p = (await t.db.query<{ secret_hash: string; redirect_uris: string[]; name: string }>('SELECT secret_hash, redirect_uris, name FROM mandates.partner WHERE client_id = $1', [clientId])).rows[0]!;
    assert.equal(p.secret_hash, sha256(secret), 'stored as its SHA-256');
    assert.deepEqual(p.redirect_uris, ['https://caf.exemple.fr/retour', 'https://caf.exemple.fr/retour2']);
    const again = await staff.get('/mandats/partenaires');
    assert.ok(!again.body.includes(secret), 'never shown again');
    assert.match(again.body, new RegExp(`<code>${clientId}</code>`));

    const rotated = await staff.post(`/mandats/partenaires/${clientId}/secret`, {});
    assert.equal(rotated.status, 200);
    const secret2 = /Secret : <code class="code">([A-Za-z0-9_-]{43})<\/code>/.exec(rotated.body)![1]!;
    assert.notEqual(secret2, secret);
    p = (await t.db.query<{ secret_hash: string; redirect_uris: string[]; name: string }>('SELECT secret_hash, redirect_uris, name FROM mandates.partner WHERE client_id = $1', [clientId])).rows[0]!;
    assert.equal(p.secret_hash, sha256(secret2), 'the old secret no longer matches');

    const off = await staff.post(`/mandats/partenaires/${clientId}/desactiver`, {});
    assert.equal(off.status, 200);
    assert.match(off.body, /Désactivé le/);
    const audit = (await t.db.query<{ action: string }>("SELECT action FROM platform.audit_entry WHERE object_id = $1 ORDER BY seq", [clientId])).rows.map((r) => r.action);
    assert.deepEqual(audit, ['mandates.partner.create', 'mandates.partner.rotate_secret', 'mandates.partner.revoke']);
    // A deactivated service: no new secret, no second deactivation; nothing written.
    const before = await rows();
    assert.equal((await staff.post(`/mandats/partenaires/${clientId}/secret`, {})).status, 404);
    assert.equal((await staff.post(`/mandats/partenaires/${clientId}/desactiver`, {})).status, 404);
    assert.deepEqual(await rows(), before);
  });

  test('least privilege, CSRF and bad input: refused, rows unchanged', async () => {
    await staff.post('/mandats/partenaires', { name: 'Impôts (test)', redirectUris: 'https://impots.exemple.fr/cb' });
    const clientId = (await t.db.query<{ client_id: string }>("SELECT client_id FROM mandates.partner WHERE name = 'Impôts (test)'")).rows[0]!.client_id;
    const before = await rows();
    for (const b of [staffDep, helper]) {
      assert.equal((await b.get('/mandats/partenaires')).status, 403);
      assert.equal((await b.post('/mandats/partenaires', { name: 'X', redirectUris: 'https://x.exemple.fr/cb' })).status, 403);
      assert.equal((await b.post(`/mandats/partenaires/${clientId}/secret`, {})).status, 403);
      assert.equal((await b.post(`/mandats/partenaires/${clientId}/desactiver`, {})).status, 403);
    }
    assert.equal((await staff.post(`/mandats/partenaires/${clientId}/desactiver`, {}, { csrf: false })).status, 403);
    await staff.get('/mandats/partenaires');
    const bad: [Record<string, string>, RegExp][] = [
      [{ name: '', redirectUris: 'https://x.exemple.fr/cb' }, /Nom du service/],
      [{ name: 'X', redirectUris: '' }, /adresses de retour/],
      [{ name: 'X', redirectUris: 'https://x.exemple.fr/cb#frag' }, /fragment/],
      [{ name: 'X', redirectUris: 'javascript:alert(1)' }, /http et https/],
      [{ name: 'X', redirectUris: 'https://a.exemple.fr/cb\nhttps://b.exemple.fr/cb' }, /même hôte/],
      [{ name: 'X', redirectUris: 'x'.repeat(6000) }, /Trop de texte/],
      [{ name: '__proto__', redirectUris: 'constructor' }, /Adresse de retour invalide/],
    ];
    for (const [form, message] of bad) {
      const r = await staff.post('/mandats/partenaires', form);
      assert.equal(r.status, 422, JSON.stringify(form).slice(0, 80));
      assert.match(r.body, message);
      assert.match(r.body, /aria-invalid="true"/);
    }
    // A NUL byte is refused by the platform before the page (400).
    assert.equal((await staff.post('/mandats/partenaires', { name: 'X\u0000', redirectUris: 'https://x.exemple.fr/cb' })).status, 400);
    await staff.get('/mandats/partenaires');
    assert.equal((await staff.post('/mandats/partenaires', { name: 'X\u001f', redirectUris: 'https://x.exemple.fr/cb' })).status, 422);
    assert.equal((await staff.post('/mandats/partenaires/mp_inconnu/secret', {})).status, 404);
    assert.equal((await staff.post('/mandats/partenaires/constructor/desactiver', {})).status, 404);
    assert.deepEqual(await rows(), before);
  });
});

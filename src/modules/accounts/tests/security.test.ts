/**
 * Security of accounts: session fixation, session timeouts, cookie flags in production,
 * brute-force limits (password, second factor, reset links) without account enumeration, stored
 * and reflected XSS in every editable field, and a tampered audit chain caught by
 * `maillage audit verify` (in process, and as a real CLI process) at the entry that was changed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { testDb } from '../../../../test/support/db.ts';
import { fixturePath } from '../../../../test/support/fixture.ts';
import { buildApp } from '../../../app.ts';
import { loadConfig, projectRoot } from '../../../platform/config.ts';
import { createLogger } from '../../../platform/log.ts';
import { openDb, type Db } from '../../../platform/db/index.ts';
import { configureAudit, listAudit, recordAudit } from '../../../platform/audit/index.ts';
import { accountsModule } from '../index.ts';
import { readOutbox } from '../mail.ts';
import { MAX_FAILURES_PER_EMAIL } from '../model.ts';
import type { AccountsDeps } from '../service.ts';
import { Browser, PASSWORD, depsFor, makeUser, nextTotp, signedInBrowser } from './client.ts';
import { depsOf } from '../testing.ts';

const XSS = `<script>alert("xss")</script><img src=x onerror=alert(1)>"'`;

function assertEscaped(body: string, where: string) {
  assert.ok(!body.includes('<script>alert("xss")'), `${where}: raw <script> in the page`);
  assert.ok(!body.includes('<img src=x onerror'), `${where}: raw <img onerror> in the page`);
}

describe('accounts security', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let deps: AccountsDeps;
  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
    deps = depsOf(t.app);
  });
  after(async () => t.close());

  test('session fixation: a planted session is replaced at sign-in and revoked; the 2FA step gets a new id too', async () => {
    const attacker = await makeUser(deps, 'attaquant@exemple.fr');
    const victim = await makeUser(deps, 'victime@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '84' }]);
    // The attacker plants their own valid session cookie in the victim's browser.
    const planted = (await signedInBrowser(t.app, deps, attacker)).session()!;
    const b = new Browser(t.app, '192.0.2.60');
    b.cookies.set('maillage_session', planted);
    await b.get('/compte/mot-de-passe-oublie'); // any form page: a CSRF token
    let res = await b.post('/compte/connexion', { email: 'victime@exemple.fr', password: PASSWORD });
    assert.equal(res.location, '/compte/connexion/code');
    const mfaStage = b.session()!;
    assert.notEqual(mfaStage, planted);
    const spy = new Browser(t.app, '192.0.2.61');
    spy.cookies.set('maillage_session', planted);
    assert.equal((await spy.get('/compte')).status, 303, 'the planted session no longer works');
    // Second factor: a new id again; the password-only id is dead.
    await b.get('/compte/connexion/code');
    res = await b.post('/compte/connexion/code', { code: nextTotp(victim.totpSecret!) });
    assert.equal(res.status, 303);
    assert.notEqual(b.session(), mfaStage);
    const stale = new Browser(t.app, '192.0.2.62');
    stale.cookies.set('maillage_session', mfaStage);
    assert.equal((await stale.get('/compte/connexion/code')).location, '/compte/connexion');
    assert.equal((await b.get('/gestion')).status, 200);
  });

  test('a staff role granted to someone signed in without 2FA locks them out until they set it up', async () => {
    const user = await makeUser(deps, 'promue@exemple.fr');
    const b = await signedInBrowser(t.app, deps, user);
    assert.equal((await b.get('/compte')).status, 200);
    const { grantRole } = await import('../service.ts');
    await grantRole(deps, null, user.id, { role: 'regional_staff', scopeKind: 'departement', scopeId: '69' });
    assert.equal((await b.get('/gestion')).location, '/compte/2fa');
    assert.equal((await b.get('/compte')).location, '/compte/2fa');
    assert.equal((await b.get('/compte/2fa')).status, 200);
  });

  test('sessions end after the idle timeout and after the absolute timeout; activity keeps them alive', async () => {
    await makeUser(deps, 'minuteur@exemple.fr');
    const signIn = async (ip: string) => {
      const b = new Browser(t.app, ip);
      await b.submit('/compte/connexion', '/compte/connexion', { email: 'minuteur@exemple.fr', password: PASSWORD });
      return b;
    };
    const idle = await signIn('192.0.2.63');
    const { sha256 } = await import('../crypto.ts');
    const hash = (b: Browser) => sha256(b.session()!);
    // Active two minutes ago: still signed in, and the activity is recorded.
    await t.db.query(`UPDATE accounts.session SET last_seen_at = now() - interval '2 minutes' WHERE token_hash = $1`, [hash(idle)]);
    assert.equal((await idle.get('/compte')).status, 200);
    const { rows } = await t.db.query<{ fresh: boolean }>(`SELECT last_seen_at > now() - interval '10 seconds' AS fresh FROM accounts.session WHERE token_hash = $1`, [hash(idle)]);
    assert.equal(rows[0]!.fresh, true);
    // Idle longer than SESSION_IDLE_MINUTES: signed out.
    await t.db.query(`UPDATE accounts.session SET last_seen_at = now() - make_interval(mins => $2 + 1) WHERE token_hash = $1`, [hash(idle), t.ctx.config.sessionIdleMinutes]);
    assert.equal((await idle.get('/compte')).status, 303);
    // Past the absolute lifetime (SESSION_MAX_HOURS), even if active a second ago: signed out.
    const old = await signIn('192.0.2.64');
    await t.db.query(`UPDATE accounts.session SET expires_at = now() - interval '1 second', last_seen_at = now() WHERE token_hash = $1`, [hash(old)]);
    assert.equal((await old.get('/compte')).status, 303);
    // The absolute lifetime is set at sign-in from the configuration.
    const fresh = await signIn('192.0.2.65');
    const life = await t.db.query<{ hours: number }>(`SELECT round(extract(epoch FROM expires_at - created_at) / 3600)::int AS hours FROM accounts.session WHERE token_hash = $1`, [hash(fresh)]);
    assert.equal(life.rows[0]!.hours, t.ctx.config.sessionMaxHours);
  });

  test('brute force on a password: locked after the limit for that address, the same way whether it exists or not', async () => {
    await makeUser(deps, 'cible@exemple.fr');
    const attempt = async (email: string, password: string, i: number) => {
      const b = new Browser(t.app, `203.0.113.${i % 200}`);
      return b.submit('/compte/connexion', '/compte/connexion', { email, password });
    };
    for (let i = 0; i < MAX_FAILURES_PER_EMAIL; i++) {
      assert.equal((await attempt('cible@exemple.fr', `mauvais mot de passe ${i}`, i)).status, 400);
      assert.equal((await attempt('personne-ici@exemple.fr', `mauvais mot de passe ${i}`, 100 + i)).status, 400);
    }
    const right = await attempt('cible@exemple.fr', PASSWORD, 50);
    const unknown = await attempt('personne-ici@exemple.fr', PASSWORD, 150);
    assert.equal(right.status, 429, 'even the right password is refused while locked');
    assert.equal(unknown.status, 429, 'an unknown address is locked the same way');
    const summary = (body: string) => /<div class="error-summary"[\s\S]*?<\/div>/.exec(body)![0];
    assert.equal(summary(right.body), summary(unknown.body));
    const locked = (await listAudit(t.db, { limit: 500 })).filter((e) => e.action === 'accounts.signin.locked');
    assert.equal(locked.length, 1, 'the lock is audited once, for the existing account only');
  });

  test('the sign-in form is rate-limited per IP address', async () => {
    const b = new Browser(t.app, '203.0.113.250');
    await b.get('/compte/connexion');
    let last = 0;
    for (let i = 0; i < 31; i++) last = (await b.post('/compte/connexion', { email: '', password: '' })).status;
    assert.equal(last, 429);
  });

  test('brute force on the second factor: after the limit even the right code is refused', async () => {
    const staff = await makeUser(deps, 'code@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '84' }]);
    const b = new Browser(t.app, '192.0.2.66');
    await b.submit('/compte/connexion', '/compte/connexion', { email: 'code@exemple.fr', password: PASSWORD });
    await b.get('/compte/connexion/code');
    const right = nextTotp(staff.totpSecret!);
    const wrong = right === '000000' ? '111111' : '000000';
    for (let i = 0; i < MAX_FAILURES_PER_EMAIL; i++) assert.equal((await b.post('/compte/connexion/code', { code: wrong })).status, 400);
    assert.equal((await b.post('/compte/connexion/code', { code: right })).status, 400);
  });

  test('password reset requests: same answer for every address, at most 5 e-mails per address per window', async () => {
    await makeUser(deps, 'oubli@exemple.fr');
    const bodies = new Set<string>();
    for (let i = 0; i < 7; i++) {
      for (const email of ['oubli@exemple.fr', 'jamais-vu@exemple.fr']) {
        const b = new Browser(t.app, `192.0.2.${70 + i}`);
        const res = await b.submit('/compte/mot-de-passe-oublie', '/compte/mot-de-passe-oublie', { email });
        assert.equal(res.status, 200);
        bodies.add(res.body.replace(/name="_csrf" value="[^"]+"/g, ''));
      }
    }
    assert.equal(bodies.size, 1, 'one answer whatever the address and however many requests');
    assert.equal((await readOutbox(t.db, 'oubli@exemple.fr')).filter((m) => m.subject === 'Réinitialiser votre mot de passe').length, 5);
    assert.equal((await readOutbox(t.db, 'jamais-vu@exemple.fr')).length, 0);
  });

  test('stored and reflected XSS: every editable field is escaped on every page that shows it', async () => {
    const admin = await makeUser(deps, 'admin-xss@exemple.fr', [{ role: 'admin', scopeKind: 'platform', scopeId: '' }]);
    await makeUser(deps, 'xss@exemple.fr');
    // The person: name (profile), device (user agent of the sign-in), deletion reason.
    const b = new Browser(t.app, '192.0.2.80');
    await b.get('/compte/connexion');
    await b.post('/compte/connexion', { email: 'xss@exemple.fr', password: PASSWORD }, { headers: { 'user-agent': XSS } });
    await b.get('/compte');
    assert.equal((await b.post('/compte/profil', { displayName: XSS, email: 'xss@exemple.fr' })).status, 200);
    assert.equal((await b.post('/compte/suppression', { reason: XSS })).status, 200);
    // Invalid e-mail address and scope code echoed back in forms.
    const bad = await b.post('/compte/profil', { displayName: 'Nom', email: XSS });
    assert.equal(bad.status, 400);
    assertEscaped(bad.body, 'profile form error');
    const page = await b.get('/compte');
    assertEscaped(page.body, '/compte');
    assert.ok(page.body.includes('&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;'), 'the name is shown, escaped');
    // The administrator's pages: users list (with a reflected search), the user's page, the journal.
    const a = await signedInBrowser(t.app, deps, admin, '192.0.2.81');
    await a.get('/admin/utilisateurs/nouveau');
    const invite = await a.post('/admin/utilisateurs/nouveau', { email: 'invite-xss@exemple.fr', displayName: XSS, role: 'regional_staff', scopeKind: 'region', scopeId: XSS });
    assert.equal(invite.status, 400);
    assertEscaped(invite.body, 'invite form error');
    assert.equal((await a.post('/admin/utilisateurs/nouveau', { email: 'invite-xss@exemple.fr', displayName: XSS, role: '', scopeKind: 'platform', scopeId: '' })).status, 303);
    const list = await a.get(`/admin/utilisateurs?q=${encodeURIComponent(XSS)}`);
    assertEscaped(list.body, 'users list with search');
    const all = await a.get('/admin/utilisateurs');
    assertEscaped(all.body, 'users list');
    const id = /href="\/admin\/utilisateurs\/([0-9a-f-]{36})">&lt;script/.exec(all.body)?.[1];
    assert.ok(id, 'the user with the hostile name is listed');
    const detail = await a.get(`/admin/utilisateurs/${id}`);
    assertEscaped(detail.body, 'user page');
    for (const url of ['/admin/journal', '/gestion', '/compte/outbox']) assertEscaped((await a.get(url)).body, url);
    const victim = (await a.get('/admin/utilisateurs?q=xss%40exemple')).body;
    const victimId = /href="\/admin\/utilisateurs\/([0-9a-f-]{36})"/.exec(victim)![1];
    const withReason = await a.get(`/admin/utilisateurs/${victimId}`);
    assert.match(withReason.body, /Suppression demandée le/);
    assertEscaped(withReason.body, 'user page with deletion reason');
    // The export is JSON, served as JSON (never sniffed as HTML).
    const exp = await b.get('/compte/export');
    assert.match(String(exp.headers['content-type']), /^application\/json/);
    assert.equal(JSON.parse(exp.body).account.displayName, XSS);
  });

  test('`maillage audit verify` says where a tampered chain breaks', async () => {
    const lines: string[] = [];
    const run = async () => {
      lines.length = 0;
      return accountsModule.commands!.audit!.run(['verify'], { ...t.ctx, progress: () => ({ tick() {}, done() {} }) as never, out: (l) => lines.push(l) });
    };
    assert.equal(await run(), 0);
    assert.match(lines.join('\n'), /^Audit trail intact: \d+ entries, head [0-9a-f]{64}\.$/);
    const entries = await listAudit(t.db, { limit: 500 });
    const victim = entries.find((e) => e.action === 'accounts.role.grant')!;
    // A superuser who switches the guard off and rewrites a role grant.
    await t.db.exec('ALTER TABLE platform.audit_entry DISABLE TRIGGER audit_entry_append_only');
    await t.db.query(`UPDATE platform.audit_entry SET after = jsonb_set(after, '{role}', '"superadmin"') WHERE seq = $1`, [victim.seq]);
    await t.db.exec('ALTER TABLE platform.audit_entry ENABLE TRIGGER audit_entry_append_only');
    assert.equal(await run(), 1);
    assert.equal(lines.join('\n'), `Audit trail BROKEN at entry ${victim.seq}: entry ${victim.seq} was changed after it was written. ${victim.seq - 1} entries before it verified.`);
  });
});

describe('production settings', () => {
  let db: Db;
  before(async () => {
    db = await testDb();
  });
  after(async () => db.close());

  test('the session cookie is __Host-, Secure, HttpOnly, SameSite=Lax; no outbox page', async () => {
    const secretKey = 'une clé secrète de production pour le test 0123456789';
    // The account is created by the development configuration (production would need SMTP).
    const dev = depsFor(db, loadConfig({ ...process.env, NODE_ENV: 'test' }, { secretKey }));
    await makeUser(dev, 'prod@exemple.fr');
    const config = loadConfig({ ...process.env, NODE_ENV: 'production' }, { secretKey, logLevel: 'silent' });
    const { app } = await buildApp(config, db, createLogger('silent'));
    try {
      const b = new Browser(app, '192.0.2.90');
      const res = await b.submit('/compte/connexion', '/compte/connexion', { email: 'prod@exemple.fr', password: PASSWORD });
      assert.equal(res.status, 303);
      const cookie = ([] as string[]).concat(res.headers['set-cookie'] as string | string[]).find((c) => c.startsWith('__Host-maillage_session='));
      assert.ok(cookie, 'a __Host- session cookie');
      assert.match(cookie!, /; Secure/i);
      assert.match(cookie!, /; HttpOnly/i);
      assert.match(cookie!, /; SameSite=Lax/i);
      assert.match(cookie!, /; Path=\//);
      assert.doesNotMatch(cookie!, /Domain=/i);
      assert.equal((await b.get('/compte/outbox')).status, 404);
    } finally {
      await app.close();
    }
  });

  test('production refuses to start without SECRET_KEY', async () => {
    const config = loadConfig({ ...process.env, NODE_ENV: 'production', SECRET_KEY: '' }, { logLevel: 'silent', secretKey: null });
    await assert.rejects(buildApp(config, db, createLogger('silent')), /SECRET_KEY must be set in production/);
  });
});

describe('`maillage audit verify` as a real command', () => {
  test('exit 0 on an intact chain; exit 1 naming the entry after tampering', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-audit-'));
    try {
      const pgliteDir = path.join(dir, 'pglite');
      let db = await openDb({ databaseUrl: null, pgliteDir, loadDataDir: new Blob([fs.readFileSync(fixturePath())]) });
      // The entries are signed as a server with the CLI's configuration would sign them (earlier
      // tests in this file built apps with other keys, and the audit keys are per process).
      configureAudit(loadConfig({ ...process.env, DATABASE_URL: '', DATA_DIR: dir }));
      for (let i = 1; i <= 5; i++) await recordAudit(db, { actorId: null, action: 'accounts.test.entry', objectType: 'test', objectId: String(i), after: { n: i } });
      await db.close();
      const cli = () =>
        spawnSync(process.execPath, ['bin/maillage.mjs', 'audit', 'verify'], {
          cwd: projectRoot,
          env: { ...process.env, DATABASE_URL: '', DATA_DIR: dir, LOG_LEVEL: 'silent' },
          encoding: 'utf8',
          timeout: 120_000,
        });
      let r = cli();
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /Audit trail intact: 5 entries/);
      db = await openDb({ databaseUrl: null, pgliteDir });
      await db.exec('ALTER TABLE platform.audit_entry DISABLE TRIGGER audit_entry_append_only');
      await db.query(`UPDATE platform.audit_entry SET after = '{"n": 33}' WHERE seq = 3`);
      await db.close();
      r = cli();
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stdout.trim(), 'Audit trail BROKEN at entry 3: entry 3 was changed after it was written. 2 entries before it verified.');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

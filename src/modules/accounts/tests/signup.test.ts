/**
 * Self sign-up of residents: the form, the e-mailed confirmation link (single use, hashed at rest,
 * expiring, kept out of the request log), no account enumeration, atomic limits per e-mail and per
 * IP address, the minimum age, the retention of unconfirmed accounts, and the audit trail.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { testDb } from '../../../../test/support/db.ts';
import { buildApp } from '../../../app.ts';
import { loadConfig } from '../../../platform/config.ts';
import { createLogger } from '../../../platform/log.ts';
import { listAudit, verifyAudit } from '../../../platform/audit/index.ts';
import { readOutbox } from '../mail.ts';
import { sha256 } from '../crypto.ts';
import { UNVERIFIED_RETENTION_DAYS, birthYearProblem } from '../model.ts';
import { purgeUnverified, setUserStatus, type AccountsDeps } from '../service.ts';
import { Browser, PASSWORD, depsFor, lastLink, makeUser } from './client.ts';

const YEAR = new Date().getUTCFullYear();
const form = (email: string, extra: Record<string, string> = {}) => ({ displayName: 'Alix Résidente', email, password: PASSWORD, birthYear: '1990', ...extra });

describe('accounts: self sign-up of residents', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let deps: AccountsDeps;
  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
    deps = depsFor(t.db, t.ctx.config);
  });
  after(async () => t.close());

  const usersAndTokens = async () => ({
    users: (await t.db.query('SELECT id, email, display_name, status, password_hash, email_verified_at FROM accounts.users ORDER BY email_key')).rows,
    tokens: (await t.db.query('SELECT token_hash, user_id, purpose, used_at FROM accounts.token ORDER BY token_hash')).rows,
    audit: (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM platform.audit_entry')).rows[0]!.n,
  });

  test('a resident signs up, confirms the address from the e-mail and lands signed in where they were going', async () => {
    const b = new Browser(t.app, '192.0.2.40');
    const page = await b.get('/compte/inscription?retour=%2Fconcertations');
    assert.equal(page.status, 200);
    assert.match(page.body, /name="birthYear"/);
    assert.match(page.body, /autocomplete="new-password"/);
    const res = await b.post('/compte/inscription?retour=%2Fconcertations', form('Alix@Example.fr'));
    assert.equal(res.status, 200);
    assert.match(res.body, /Vérifiez votre messagerie/);
    const { rows } = await t.db.query<{ id: string; status: string; password_hash: string | null; email_verified_at: Date | null }>(
      `SELECT id, status, password_hash, email_verified_at FROM accounts.users WHERE email_key = 'alix@example.fr'`,
    );
    assert.equal(rows[0]!.status, 'unverified');
    assert.equal(rows[0]!.password_hash, null, 'no usable password before the address is confirmed');
    // The account cannot sign in yet.
    const early = new Browser(t.app, '192.0.2.41');
    await early.get('/compte/connexion');
    assert.equal((await early.post('/compte/connexion', { email: 'alix@example.fr', password: PASSWORD })).status, 400);
    const link = await lastLink(t.db, 'alix@example.fr', '/compte/inscription/confirmer/');
    const token = link.split('/').pop()!;
    // Hashed at rest: the token itself is nowhere in the table.
    const stored = await t.db.query<{ token_hash: string; expires_at: Date; created_at: Date }>(`SELECT token_hash, expires_at, created_at FROM accounts.token WHERE purpose = 'signup' AND user_id = $1`, [rows[0]!.id]);
    assert.equal(stored.rows[0]!.token_hash, sha256(token));
    assert.equal(new Date(stored.rows[0]!.expires_at).getTime() - new Date(stored.rows[0]!.created_at).getTime(), 24 * 3600_000);
    const confirm = await b.get(link);
    assert.equal(confirm.status, 200);
    assert.match(confirm.body, /Alix@Example\.fr/);
    const done = await b.post(link, {});
    assert.equal(done.status, 303);
    assert.equal(done.location, '/concertations');
    const account = await b.get('/compte');
    assert.equal(account.status, 200);
    assert.match(account.body, /Alix Résidente/);
    const after = await t.db.query<{ status: string; email_verified_at: Date | null; password_hash: string | null }>(`SELECT status, email_verified_at, password_hash FROM accounts.users WHERE id = $1`, [rows[0]!.id]);
    assert.equal(after.rows[0]!.status, 'active');
    assert.ok(after.rows[0]!.email_verified_at);
    assert.match(after.rows[0]!.password_hash!, /^\$argon2id\$/);
    // No role: a resident, not staff.
    assert.equal((await t.db.query('SELECT 1 FROM accounts.role_grant WHERE user_id = $1', [rows[0]!.id])).rows.length, 0);
    // Single use.
    assert.equal((await new Browser(t.app).get(link)).status, 410);
    assert.equal((await b.post(link, {})).status, 410);
    // The password chosen at sign-up works.
    const again = new Browser(t.app, '192.0.2.42');
    await again.get('/compte/connexion');
    assert.equal((await again.post('/compte/connexion', { email: 'alix@example.fr', password: PASSWORD })).location, '/compte');
    // Audited, without personal data.
    const entries = await listAudit(t.db, { objectId: rows[0]!.id, limit: 10 });
    assert.deepEqual(entries.map((e) => e.action).sort(), ['accounts.signin', 'accounts.signin', 'accounts.user.activate', 'accounts.user.signup'].sort());
    assert.doesNotMatch(JSON.stringify(entries), /alix@|Alix|1990/i);
    assert.equal((await verifyAudit(t.db)).ok, true);
  });

  test('the same answer whether the address has an account or not; the owner is told by e-mail, nothing changes', async () => {
    await makeUser(deps, 'deja@example.fr');
    const before = await t.db.query(`SELECT password_hash, display_name, status FROM accounts.users WHERE email_key = 'deja@example.fr'`);
    const a = new Browser(t.app, '192.0.2.43');
    await a.get('/compte/inscription');
    const known = await a.post('/compte/inscription', form('deja@example.fr', { displayName: 'Intrus' }));
    const b = new Browser(t.app, '192.0.2.44');
    await b.get('/compte/inscription');
    const unknown = await b.post('/compte/inscription', form('nouveau@example.fr', { displayName: 'Intrus' }));
    assert.equal(known.status, unknown.status);
    const strip = (s: string) => s.replace(/deja@example\.fr|nouveau@example\.fr/g, 'X').replace(/name="_csrf" value="[^"]+"/g, '').replace(/nonce="[^"]+"/g, '');
    assert.equal(strip(known.body), strip(unknown.body));
    const after = await t.db.query(`SELECT password_hash, display_name, status FROM accounts.users WHERE email_key = 'deja@example.fr'`);
    assert.deepEqual(after.rows, before.rows);
    const mail = (await readOutbox(t.db, 'deja@example.fr'))[0]!;
    assert.match(mail.subject, /déjà un compte/);
    assert.doesNotMatch(mail.body, /inscription\/confirmer/);
  });

  test('a second sign-up with an unconfirmed address cannot change the first one’s password: only the opened link counts', async () => {
    const victim = new Browser(t.app, '192.0.2.45');
    await victim.get('/compte/inscription');
    await victim.post('/compte/inscription', form('camille.r@example.fr'));
    const victimLink = await lastLink(t.db, 'camille.r@example.fr', '/compte/inscription/confirmer/');
    const attacker = new Browser(t.app, '192.0.2.46');
    await attacker.get('/compte/inscription');
    assert.equal((await attacker.post('/compte/inscription', form('camille.r@example.fr', { password: 'Une autre phrase secrète du pirate' }))).status, 200);
    // The owner opens their own link: their password, not the attacker's.
    await victim.get(victimLink);
    assert.equal((await victim.post(victimLink, {})).status, 303);
    const pirate = new Browser(t.app, '192.0.2.47');
    await pirate.get('/compte/connexion');
    assert.equal((await pirate.post('/compte/connexion', { email: 'camille.r@example.fr', password: 'Une autre phrase secrète du pirate' })).status, 400);
    // The attacker's link died with the activation.
    const links = (await readOutbox(t.db, 'camille.r@example.fr')).map((m) => /\/compte\/inscription\/confirmer\/\S+/.exec(m.body)?.[0]).filter(Boolean);
    assert.equal(links.length, 2);
    for (const l of links) assert.equal((await new Browser(t.app).get(l!)).status, 410);
  });

  test('refusals name the field and leave every row unchanged', async () => {
    const b = new Browser(t.app, '192.0.2.48');
    const cases: [Record<string, string>, string][] = [
      [form('pas-une-adresse'), 'email'],
      [form('court@example.fr', { password: 'court' }), 'password'],
      [form('commun@example.fr', { password: 'password1234' }), 'password'],
      [form('jeune@example.fr', { birthYear: String(YEAR - 14) }), 'birthYear'],
      [form('annee@example.fr', { birthYear: '19x0' }), 'birthYear'],
      [form('nom@example.fr', { displayName: '   ' }), 'displayName'],
      [form('long@example.fr', { displayName: 'x'.repeat(121) }), 'displayName'],
    ];
    for (const [f, field] of cases) {
      await b.get('/compte/inscription');
      const snapshot = await usersAndTokens();
      const res = await b.post('/compte/inscription', f);
      assert.equal(res.status, 400, field);
      assert.match(res.body, new RegExp(`href="#f-${field}"`), field);
      assert.deepEqual(await usersAndTokens(), snapshot, field);
    }
    // A NUL byte: refused by the platform's form reader, naming the field.
    await b.get('/compte/inscription');
    const snapshot = await usersAndTokens();
    const nul = await b.post('/compte/inscription', form('nul@example.fr', { displayName: 'a\u0000b' }));
    assert.equal(nul.status, 400);
    assert.match(nul.body, /displayName/);
    assert.deepEqual(await usersAndTokens(), snapshot);
    // Without the CSRF token: refused, nothing written.
    assert.equal((await b.post('/compte/inscription', form('csrf@example.fr'), { csrf: false })).status, 403);
    // The honeypot: the same answer as a real sign-up, nothing written, no mail.
    await b.get('/compte/inscription');
    const bot = await b.post('/compte/inscription', form('robot@example.fr', { website: 'http://spam.example' }));
    assert.equal(bot.status, 200);
    assert.deepEqual(await usersAndTokens(), snapshot);
    assert.equal((await readOutbox(t.db, 'robot@example.fr')).length, 0);
    // Hostile tokens on the confirmation link.
    for (const bad of ['constructor', '__proto__', 'x'.repeat(5000), '%00', sha256('nope')]) {
      const res = await b.get(`/compte/inscription/confirmer/${bad}`);
      assert.ok([400, 404, 410, 414].includes(res.status), `${bad.slice(0, 20)} → ${res.status}`);
    }
    assert.deepEqual(await usersAndTokens(), snapshot);
  });

  test('the minimum age is the digital majority (15), checked and forgotten', () => {
    const now = new Date(Date.UTC(2026, 5, 1));
    assert.equal(birthYearProblem('2010', now), null); // 15 at the latest on 31 December 2025
    assert.match(birthYearProblem('2011', now)!, /au moins 15 ans/);
    assert.match(birthYearProblem('2030', now)!, /quatre chiffres/);
    assert.match(birthYearProblem('１９９０', now)!, /quatre chiffres/);
  });

  test('limits per e-mail and per IP address are atomic under concurrency, whether the address exists or not', async () => {
    // 20 concurrent sign-ups for one address from different IP addresses: at most 3 tokens.
    const email = 'rafale@example.fr';
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const b = new Browser(t.app, `198.51.100.${i + 1}`);
        await b.get('/compte/inscription');
        return (await b.post('/compte/inscription', form(email))).status;
      }),
    );
    assert.equal(results.filter((s) => s === 200).length, 3, results.join(','));
    assert.equal(results.filter((s) => s === 429).length, 17);
    const users = await t.db.query<{ id: string }>(`SELECT id FROM accounts.users WHERE email_key = $1`, [email]);
    assert.equal(users.rows.length, 1, 'one account, however many concurrent sign-ups');
    assert.equal((await t.db.query(`SELECT 1 FROM accounts.token WHERE user_id = $1`, [users.rows[0]!.id])).rows.length, 3);
    // Per IP: 10 per window, any addresses.
    const b = new Browser(t.app, '203.0.113.99');
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      await b.get('/compte/inscription');
      statuses.push((await b.post('/compte/inscription', form(`ip${i}@example.fr`))).status);
    }
    assert.deepEqual(statuses, [...Array(10).fill(200), 429, 429]);
    const limited = await t.db.query(`SELECT 1 FROM accounts.users WHERE email_key IN ('ip10@example.fr', 'ip11@example.fr')`);
    assert.equal(limited.rows.length, 0);
  });

  test(`unconfirmed accounts are deleted after ${UNVERIFIED_RETENTION_DAYS} days, audited; confirmed ones stay`, async () => {
    const b = new Browser(t.app, '192.0.2.60');
    await b.get('/compte/inscription');
    await b.post('/compte/inscription', form('oubli@example.fr'));
    await b.get('/compte/inscription');
    await b.post('/compte/inscription', form('recent@example.fr'));
    await t.db.query(`UPDATE accounts.users SET created_at = now() - make_interval(days => $1 + 1) WHERE email_key IN ('oubli@example.fr', 'alix@example.fr')`, [UNVERIFIED_RETENTION_DAYS]);
    const old = (await t.db.query<{ id: string }>(`SELECT id FROM accounts.users WHERE email_key = 'oubli@example.fr'`)).rows[0]!.id;
    // An administrator cannot switch an unconfirmed account on (it would skip the e-mail check).
    const admin = await makeUser(deps, 'admin-purge@example.fr', [{ role: 'admin', scopeKind: 'platform', scopeId: '' }], 'Admin');
    await assert.rejects(setUserStatus(deps, admin.id, old, 'active'), /ne peut pas changer d’état/);
    assert.equal(await purgeUnverified(t.db), 1);
    const left = (await t.db.query<{ email: string }>(`SELECT lower(email) AS email FROM accounts.users WHERE email_key IN ('oubli@example.fr', 'recent@example.fr', 'alix@example.fr') ORDER BY 1`)).rows.map((r) => r.email);
    assert.deepEqual(left, ['alix@example.fr', 'recent@example.fr']);
    assert.equal((await t.db.query(`SELECT 1 FROM accounts.token WHERE user_id = $1`, [old])).rows.length, 0);
    const entry = (await listAudit(t.db, { objectId: old, limit: 5 })).find((e) => e.action === 'accounts.user.purge_unverified');
    assert.ok(entry);
    assert.doesNotMatch(JSON.stringify(entry), /oubli/);
    // The address is free again.
    await b.get('/compte/inscription');
    await b.post('/compte/inscription', form('oubli@example.fr'));
    assert.equal((await t.db.query(`SELECT status FROM accounts.users WHERE email_key = 'oubli@example.fr'`)).rows[0]!.status, 'unverified');
  });

  test('the confirmation link never reaches the request log', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
    const db = await testDb();
    const config = loadConfig({ ...process.env, NODE_ENV: 'test' }, { signinDelayMs: 1 });
    const { app } = await buildApp(config, db, createLogger('info', sink));
    try {
      const b = new Browser(app, '192.0.2.70');
      await b.get('/compte/inscription');
      await b.post('/compte/inscription', form('journal@example.fr'));
      const link = await lastLink(db, 'journal@example.fr', '/compte/inscription/confirmer/');
      const token = link.split('/').pop()!;
      await b.get(link);
      assert.equal((await b.post(link, {})).status, 303);
      assert.ok(lines.length > 0, 'the log is written');
      assert.doesNotMatch(lines.join(''), new RegExp(token));
      assert.doesNotMatch(lines.join(''), new RegExp(PASSWORD));
    } finally {
      await app.close();
      await db.close();
    }
  });
});

/**
 * SECRET_KEY rotation (issue #13): former keys (SECRET_KEY_PREVIOUS) still decrypt 2FA secrets,
 * which are re-encrypted on use and by `accounts rekey`; with no key that decrypts, a clear 503.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../../app.ts';
import { loadConfig, type Config } from '../../../platform/config.ts';
import type { Db } from '../../../platform/db/index.ts';
import { createLogger } from '../../../platform/log.ts';
import { testDb } from '../../../../test/support/db.ts';
import { decryptSecret } from '../crypto.ts';
import { rekeySecrets } from '../secrets.ts';
import { regenerateRecoveryCodes } from '../service.ts';
import { Browser, PASSWORD, depsFor, makeUser, nextTotp, type TestUser } from './client.ts';

const OLD = 'ancienne clé secrète de la plateforme, 32 caractères au moins';
const NEW = 'nouvelle clé secrète de la plateforme, 32 caractères au moins';

describe('accounts: SECRET_KEY rotation', () => {
  let db: Db;
  let staff: TestUser;
  let other: TestUser;
  let recovery: string[];
  const config = (secretKey: string, previous: string[] = []): Config =>
    loadConfig({ ...process.env, NODE_ENV: 'test' }, { secretKey, secretKeyPrevious: previous, signinDelayMs: 1 });
  const apps: { close(): Promise<void> }[] = [];
  async function appWith(c: Config) {
    const { app } = await buildApp(c, db, createLogger('silent'));
    apps.push(app);
    return app;
  }
  const secretOf = async (id: string) => (await db.query<{ totp_secret: string }>('SELECT totp_secret FROM accounts.users WHERE id = $1', [id])).rows[0]!.totp_secret;

  before(async () => {
    db = await testDb();
    const deps = depsFor(db, config(OLD));
    const staffGrant = [{ role: 'regional_staff', scopeKind: 'region', scopeId: '84' }];
    staff = await makeUser(deps, 'rotation@example.fr', staffGrant, 'Rotation');
    other = await makeUser(deps, 'rotation-2@example.fr', staffGrant, 'Rotation 2');
    recovery = await regenerateRecoveryCodes(deps, staff, PASSWORD, { ip: '192.0.2.1', userAgent: 'test' });
  });
  after(async () => {
    for (const a of apps) await a.close();
    await db.close();
  });

  async function signIn(app: Awaited<ReturnType<typeof appWith>>, email: string, code: string, ip: string) {
    const b = new Browser(app, ip);
    await b.get('/compte/connexion');
    const res = await b.post('/compte/connexion', { email, password: PASSWORD });
    assert.equal(res.location, '/compte/connexion/code');
    await b.get('/compte/connexion/code');
    return b.post('/compte/connexion/code', { code });
  }

  test('a changed SECRET_KEY without the former one: a clear 503 naming the fix, nothing changed', async () => {
    const app = await appWith(config(NEW));
    const before = await secretOf(staff.id);
    const res = await signIn(app, staff.email, nextTotp(staff.totpSecret!), '192.0.2.50');
    assert.equal(res.status, 503);
    assert.match(res.body, /clé de chiffrement du serveur a changé/);
    assert.equal(await secretOf(staff.id), before, 'the stored secret is left as it was');
  });

  test('with SECRET_KEY_PREVIOUS the code is accepted, and the secret is re-encrypted under the new key', async () => {
    const app = await appWith(config(NEW, [OLD]));
    const res = await signIn(app, staff.email, nextTotp(staff.totpSecret!), '192.0.2.51');
    assert.equal(res.status, 303);
    const box = await secretOf(staff.id);
    assert.equal(decryptSecret(NEW, box), staff.totpSecret, 're-encrypted on use');
    assert.throws(() => decryptSecret(OLD, box));
  });

  test('a recovery code made under the former key works while it is listed', async () => {
    const app = await appWith(config(NEW, [OLD]));
    const res = await signIn(app, staff.email, recovery[0]!, '192.0.2.52');
    assert.equal(res.status, 303);
  });

  test('accounts rekey re-encrypts the rest and reports what no key opens', async () => {
    const otherBefore = await secretOf(other.id);
    assert.equal(decryptSecret(OLD, otherBefore), other.totpSecret);
    // Without the former key nothing can be re-keyed: the account is named, nothing is written.
    const blind = await rekeySecrets({ config: config(NEW), db });
    assert.deepEqual(blind.undecryptable, [other.id]);
    assert.equal(blind.rekeyed, 0);
    assert.equal(await secretOf(other.id), otherBefore);
    const r = await rekeySecrets({ config: config(NEW, [OLD]), db });
    assert.equal(r.rekeyed, 1);
    assert.deepEqual(r.undecryptable, []);
    assert.equal(decryptSecret(NEW, await secretOf(other.id)), other.totpSecret);
    const again = await rekeySecrets({ config: config(NEW, [OLD]), db });
    assert.equal(again.rekeyed, 0);
    assert.ok(again.current >= 2);
    const audit = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM platform.audit_entry WHERE action = 'accounts.secrets.rekey'");
    assert.equal(audit.rows[0]!.n, 1, 'the re-keying is audited (once: the second run changed nothing)');
    // Now the new key alone is enough.
    const app = await appWith(config(NEW));
    const res = await signIn(app, other.email, nextTotp(other.totpSecret!), '192.0.2.53');
    assert.equal(res.status, 303);
  });
});

/**
 * Brute-force limits hold under concurrency: every attempt is counted and reserved in the database
 * (one atomic statement) before the password or code is evaluated, so 100 simultaneous guesses
 * evaluate at most the limit, and a right code sent among guesses past the limit is refused.
 * (The counter lives in PostgreSQL, so it holds across instances too: run with DATABASE_URL.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { MAX_FAILURES_PER_EMAIL, MAX_FAILURES_PER_IP } from '../model.ts';
import { checkSecondFactor, passwordSignIn, type AccountsDeps } from '../service.ts';
import { PASSWORD, depsFor, makeUser, nextTotp } from '../testing.ts';

describe('brute force under concurrency', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let deps: AccountsDeps;
  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
    deps = depsFor(t.db, t.ctx.config);
  });
  after(async () => t.close());

  const tally = (results: string[]) => results.reduce<Record<string, number>>((a, k) => ((a[k] = (a[k] ?? 0) + 1), a), {});

  test('100 concurrent wrong passwords on one account (from 100 addresses) evaluate at most the limit; the right one is refused after', async () => {
    await makeUser(deps, 'concurrence@exemple.fr');
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => passwordSignIn(deps, 'concurrence@exemple.fr', `mauvais ${i}`, { ip: `203.0.113.${i}`, userAgent: null }).then((r) => r.kind)),
    );
    const n = tally(results);
    assert.ok((n.refused ?? 0) <= MAX_FAILURES_PER_EMAIL, `evaluated ${n.refused} guesses, limit ${MAX_FAILURES_PER_EMAIL}`);
    assert.equal(n.refused, MAX_FAILURES_PER_EMAIL, 'the limit itself is reached');
    assert.equal(n.throttled, 100 - MAX_FAILURES_PER_EMAIL);
    assert.equal((await passwordSignIn(deps, 'concurrence@exemple.fr', PASSWORD, { ip: '203.0.113.200', userAgent: null })).kind, 'throttled');
  });

  test('100 concurrent wrong passwords from one address over many accounts: at most the per-IP limit evaluated', async () => {
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => passwordSignIn(deps, `personne${i}@exemple.fr`, 'mauvais', { ip: '198.51.100.77', userAgent: null }).then((r) => r.kind)),
    );
    const n = tally(results);
    assert.equal(n.refused, MAX_FAILURES_PER_IP);
    assert.equal(n.throttled, 100 - MAX_FAILURES_PER_IP);
  });

  test('100 concurrent 2FA codes evaluate at most the limit; the right code sent 46th is refused', async () => {
    const staff = await makeUser(deps, 'codes-concurrents@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '84' }]);
    const right = nextTotp(staff.totpSecret!);
    const wrong = (i: number) => String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0');
    const codes = Array.from({ length: 100 }, (_, i) => (i === 45 ? right : wrong(i)));
    const results = await Promise.all(codes.map((c, i) => checkSecondFactor(deps, staff.id, c, { ip: `192.0.2.${i}`, userAgent: null })));
    const n = tally(results);
    assert.ok((n.refused ?? 0) + (n.ok ?? 0) <= MAX_FAILURES_PER_EMAIL, `evaluated ${(n.refused ?? 0) + (n.ok ?? 0)} codes, limit ${MAX_FAILURES_PER_EMAIL}`);
    assert.equal(n.ok, undefined, 'the right code, past the limit, is not accepted');
    assert.equal(results[45], 'throttled');
  });
});

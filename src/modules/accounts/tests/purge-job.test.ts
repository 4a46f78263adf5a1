/**
 * The daily purge of unconfirmed sign-ups as a pg-boss job: it deletes (and audits once) every
 * unconfirmed account past the retention limit and nothing else; asked for by two instances at
 * once it is queued once, and two purges running together never delete or audit twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { createLogger } from '../../../platform/log.ts';
import { UNVERIFIED_RETENTION_DAYS } from '../model.ts';
import { PURGE_JOB, purgeAllUnverified, queueDailyPurge, registerPurgeJob } from '../jobs.ts';

describe('accounts: the purge of unconfirmed sign-ups as a job', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  before(async () => {
    t = await testApp();
  });
  after(async () => t.close());

  const addUsers = async (prefix: string, n: number, daysAgo: number, status = 'unverified') => {
    for (let i = 0; i < n; i++) {
      await t.db.query(`INSERT INTO accounts.users (email, display_name, status, created_at) VALUES ($1, $2, $3, now() - make_interval(days => $4))`, [`${prefix}${i}@exemple.fr`, `Personne ${i}`, status, daysAgo]);
    }
  };
  const count = async (prefix: string) => (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM accounts.users WHERE email LIKE $1`, [`${prefix}%`])).rows[0]!.n;
  const audits = async () => (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM platform.audit_entry WHERE action = 'accounts.user.purge_unverified'`)).rows[0]!.n;

  test('the job deletes old unconfirmed sign-ups only; two instances asking at once queue it once', async () => {
    await addUsers('vieux', 7, UNVERIFIED_RETENTION_DAYS + 3);
    await addUsers('recent', 3, 1);
    await addUsers('actif', 2, UNVERIFIED_RETENTION_DAYS + 30, 'active');
    const a0 = await audits();
    const log = createLogger('silent');
    const jobs = await registerPurgeJob({ db: t.db, log });
    await jobs.start();
    const ids = await Promise.all([queueDailyPurge(jobs, log), queueDailyPurge(jobs, log)]);
    const queued = ids.filter((x): x is string => x !== null);
    assert.ok(queued.length >= 1);
    for (const id of queued) {
      const done = await jobs.wait(id, 60_000);
      assert.equal(done.state, 'completed', JSON.stringify(done));
      assert.equal(done.name, PURGE_JOB);
    }
    assert.equal(await count('vieux'), 0);
    assert.equal(await count('recent'), 3);
    assert.equal(await count('actif'), 2);
    assert.equal((await audits()) - a0, 7, 'each deletion audited once');
    await jobs.stop();
  });

  test('two purges at the same moment: each account deleted and audited once', async () => {
    await addUsers('double', 25, UNVERIFIED_RETENTION_DAYS + 1);
    const a0 = await audits();
    const [x, y] = await Promise.all([purgeAllUnverified(t.db), purgeAllUnverified(t.db)]);
    assert.equal(x + y, 25);
    assert.equal(await count('double'), 0);
    assert.equal((await audits()) - a0, 25);
    assert.equal(await purgeAllUnverified(t.db), 0);
  });
});

/**
 * The purge of unconfirmed sign-ups as a daily background job (pg-boss), instead of a cron calling
 * `maillage accounts purge-unverified`. Every serving instance asks for today's job under one
 * singleton key (`accounts.purge_unverified` + the UTC day): a job already waiting or running is
 * not queued twice, and the purge itself is safe to run twice at once (rows taken with
 * `FOR UPDATE SKIP LOCKED`, each deleted and audited once), so several instances never double it.
 */
import { createJobs, type Jobs } from '../../platform/jobs/index.ts';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import type { Db } from '../../platform/db/index.ts';
import { purgeUnverified } from './service.ts';

export const PURGE_JOB = 'accounts.purge_unverified';
const HOUR_MS = 3600 * 1000;

/** Purges every unconfirmed sign-up past the retention limit, in batches; how many were deleted. */
export async function purgeAllUnverified(db: Db): Promise<number> {
  let total = 0;
  for (let n = -1; n !== 0; total += n) n = await purgeUnverified(db);
  return total;
}

/** Registers the job's handler on the platform's queue. */
export async function registerPurgeJob(ctx: Pick<AppContext, 'db' | 'log'>): Promise<Jobs> {
  const jobs = createJobs({ db: ctx.db, log: ctx.log });
  await jobs.register(PURGE_JOB, async () => {
    const deleted = await purgeAllUnverified(ctx.db);
    if (deleted) ctx.log.info({ deleted }, 'accounts: unconfirmed sign-ups purged');
    return { deleted };
  }, { concurrency: 1 });
  return jobs;
}

/** Queues today's purge unless one is already waiting (any instance); the job's id, or null. */
export async function queueDailyPurge(jobs: Jobs, log: AppContext['log'], now = new Date()): Promise<string | null> {
  try {
    return await jobs.send(PURGE_JOB, {}, { singletonKey: `${PURGE_JOB}-${now.toISOString().slice(0, 10)}` });
  } catch (err) {
    log.debug({ err }, 'accounts: purge of unconfirmed sign-ups already queued');
    return null;
  }
}

/** In the serving process: register, start with the server, ask for today's purge every hour. */
export function schedulePurge(app: App, ctx: Pick<AppContext, 'db' | 'log'>): void {
  let timer: NodeJS.Timeout | null = null;
  let jobs: Jobs | null = null;
  app.addHook('onListen', async () => {
    jobs = await registerPurgeJob(ctx);
    await jobs.start();
    await queueDailyPurge(jobs, ctx.log);
    timer = setInterval(() => void queueDailyPurge(jobs!, ctx.log), HOUR_MS);
    timer.unref();
  });
  app.addHook('onClose', async () => {
    if (timer) clearInterval(timer);
    await jobs?.stop();
  });
}

/**
 * The full recompute as a background job on the platform's job queue (pg-boss): one job name,
 * `coverage.recompute`, at most one waiting at a time.
 */
import { createJobs, type JobInfo, type Jobs } from '../../platform/jobs/index.ts';
import type { AppContext } from '../../platform/module.ts';
import { recomputeAll } from './service.ts';

export const RECOMPUTE_JOB = 'coverage.recompute';

const ready = new WeakMap<AppContext['db'], Promise<Jobs>>();

async function jobsFor(ctx: AppContext): Promise<Jobs> {
  let p = ready.get(ctx.db);
  if (!p) {
    p = (async () => {
      const jobs = createJobs({ db: ctx.db, log: ctx.log });
      await jobs.register<{ requestedBy?: string }>(RECOMPUTE_JOB, async (_data, job) => {
        const report = await recomputeAll(ctx.db, { onProgress: (message) => void job.progress({ message }) });
        return report;
      }, { concurrency: 1, expireInSeconds: 1800 });
      await jobs.start();
      return jobs;
    })();
    p.catch(() => ready.delete(ctx.db));
    ready.set(ctx.db, p);
  }
  return p;
}

/** Queues a full recompute; returns the job's id (the waiting one when one is already queued). */
export async function queueRecompute(ctx: AppContext, requestedBy = 'api'): Promise<string> {
  const jobs = await jobsFor(ctx);
  return jobs.send(RECOMPUTE_JOB, { requestedBy }, { singletonKey: RECOMPUTE_JOB });
}

export async function recomputeJob(ctx: AppContext, id: string): Promise<JobInfo | null> {
  const jobs = await jobsFor(ctx);
  const job = await jobs.getJob(id);
  return job && job.name === RECOMPUTE_JOB ? job : null;
}

/** Stops the queue's workers if this module started them (on app close). */
export async function stopJobs(ctx: AppContext): Promise<void> {
  const p = ready.get(ctx.db);
  if (!p) return;
  ready.delete(ctx.db);
  const jobs = await p.catch(() => null);
  await jobs?.stop();
}

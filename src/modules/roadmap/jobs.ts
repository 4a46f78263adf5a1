/**
 * The recompute of live indicators as a background job on the platform's queue (pg-boss): one job
 * name, `roadmap.recompute`, at most one waiting at a time.
 */
import { createJobs, type JobInfo, type Jobs } from '../../platform/jobs/index.ts';
import type { AppContext } from '../../platform/module.ts';
import { recomputeLive, type RecomputeReport } from './live.ts';

export const RECOMPUTE_JOB = 'roadmap.recompute';

const ready = new WeakMap<AppContext['db'], Promise<Jobs>>();

async function jobsFor(ctx: AppContext): Promise<Jobs> {
  let p = ready.get(ctx.db);
  if (!p) {
    p = (async () => {
      const jobs = createJobs({ db: ctx.db, log: ctx.log });
      await jobs.register<{ ids?: string[] }>(
        RECOMPUTE_JOB,
        async (data, job): Promise<RecomputeReport> => {
          const report = await recomputeLive(ctx.db, { ids: data.ids, onProgress: (p) => void job.progress(p) });
          ctx.log.info({ indicators: report.indicators, values: report.values, failed: report.failed.length, ms: report.ms }, 'roadmap: live indicators recomputed');
          return report;
        },
        { concurrency: 1, expireInSeconds: 3600 },
      );
      await jobs.start();
      return jobs;
    })();
    p.catch(() => ready.delete(ctx.db));
    ready.set(ctx.db, p);
  }
  return p;
}

/** Queues a recompute of every live indicator (or those given); the waiting one's id if one is queued. */
export async function queueRecompute(ctx: AppContext, ids?: string[]): Promise<string> {
  const jobs = await jobsFor(ctx);
  return jobs.send(RECOMPUTE_JOB, ids ? { ids } : {}, { singletonKey: RECOMPUTE_JOB });
}

export async function recomputeJob(ctx: AppContext, id: string): Promise<JobInfo | null> {
  const jobs = await jobsFor(ctx);
  const job = await jobs.getJob(id);
  return job && job.name === RECOMPUTE_JOB ? job : null;
}

export async function waitForJob(ctx: AppContext, id: string, timeoutMs?: number): Promise<JobInfo> {
  const jobs = await jobsFor(ctx);
  return jobs.wait(id, timeoutMs);
}

export async function stopJobs(ctx: AppContext): Promise<void> {
  const p = ready.get(ctx.db);
  if (!p) return;
  ready.delete(ctx.db);
  const jobs = await p.catch(() => null);
  await jobs?.stop();
}

/**
 * A module's background job with one name, at most one waiting at a time, on the platform's queue
 * (pg-boss): the handler is registered and the workers started the first time a database queues
 * it. Shape of roadmap/jobs.ts and coverage/jobs.ts, as one helper (used by calls' reminders).
 *
 *   const reminders = singletonJob<{ now?: string }>('calls.reminders', (ctx) => async (data) => …, { expireInSeconds: 3600 });
 *   const id = await reminders.queue(ctx, {});
 */
import type { AppContext } from '../module.ts';
import { createJobs, type JobContext, type JobInfo, type Jobs, type RegisterOptions } from './index.ts';

export interface SingletonJob<T extends object> {
  readonly name: string;
  /** Queues a run (the waiting one's id when one is already queued). */
  queue(ctx: AppContext, data: T): Promise<string>;
  /** The job, if it is one of this name. */
  get(ctx: AppContext, id: string): Promise<JobInfo | null>;
  wait(ctx: AppContext, id: string, timeoutMs?: number): Promise<JobInfo>;
  /** Stops the workers if this job started them (on app close). */
  stop(ctx: AppContext): Promise<void>;
}

export function singletonJob<T extends object>(name: string, handler: (ctx: AppContext) => (data: T, job: JobContext) => Promise<unknown>, options: RegisterOptions = {}): SingletonJob<T> {
  const ready = new WeakMap<AppContext['db'], Promise<Jobs>>();
  const jobsFor = (ctx: AppContext): Promise<Jobs> => {
    let p = ready.get(ctx.db);
    if (!p) {
      p = (async () => {
        const jobs = createJobs({ db: ctx.db, log: ctx.log });
        await jobs.register<T>(name, handler(ctx), { concurrency: 1, ...options });
        await jobs.start();
        return jobs;
      })();
      p.catch(() => ready.delete(ctx.db));
      ready.set(ctx.db, p);
    }
    return p;
  };
  return {
    name,
    queue: async (ctx, data) => (await jobsFor(ctx)).send(name, data, { singletonKey: name }),
    get: async (ctx, id) => {
      const job = await (await jobsFor(ctx)).getJob(id);
      return job && job.name === name ? job : null;
    },
    wait: async (ctx, id, timeoutMs) => (await jobsFor(ctx)).wait(id, timeoutMs),
    stop: async (ctx) => {
      const p = ready.get(ctx.db);
      if (!p) return;
      ready.delete(ctx.db);
      const jobs = await p.catch(() => null);
      await jobs?.stop();
    },
  };
}

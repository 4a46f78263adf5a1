/**
 * Background jobs: a small, module-agnostic API over pg-boss (the PostgreSQL-backed queue). The
 * same code runs on PostgreSQL and on the embedded PGlite database: pg-boss is handed our `Db`
 * through its `db.executeSql` adapter, so it shares the application's connection(s).
 * See README.md beside this file.
 */
import PgBoss from 'pg-boss';
import type { Db } from '../db/index.ts';
import type { Logger } from '../log.ts';

export type JobState = 'created' | 'retry' | 'active' | 'completed' | 'cancelled' | 'failed';

export interface JobInfo<O = unknown> {
  id: string;
  name: string;
  state: JobState;
  /** What the handler last reported through `progress()` (e.g. {done, total, message}). */
  progress: Record<string, unknown> | null;
  /** The handler's return value when completed; {message} when failed. */
  output: O | null;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
}

export interface JobContext {
  id: string;
  /** Records progress, readable by anyone through getJob(id). Cheap to call often (throttled). */
  progress(p: Record<string, unknown>): Promise<void>;
}

export type JobHandler<T> = (data: T, job: JobContext) => Promise<unknown>;

export interface RegisterOptions {
  /** Jobs of this name run at most this many at a time in this process (default 1). */
  concurrency?: number;
  /** Retries after a failure (default 0: a failed job stays failed and says why). */
  retryLimit?: number;
  /** A job running longer than this is failed (default 1 hour). */
  expireInSeconds?: number;
}

export interface Jobs {
  register<T extends object>(name: string, handler: JobHandler<T>, options?: RegisterOptions): Promise<void>;
  send<T extends object>(name: string, data: T, options?: { singletonKey?: string }): Promise<string>;
  getJob(id: string): Promise<JobInfo | null>;
  /** Resolves when the job is completed, failed or cancelled (polls), or after timeoutMs. */
  wait(id: string, timeoutMs?: number): Promise<JobInfo>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface JobsOptions {
  db: Db;
  log?: Logger;
  /** Schema of pg-boss's tables (default "pgboss"). */
  schema?: string;
  /** How often idle workers look for new jobs (default 1 s). */
  pollingIntervalSeconds?: number;
}

const PROGRESS_TABLE = `
CREATE SCHEMA IF NOT EXISTS platform;
CREATE TABLE IF NOT EXISTS platform.job_progress (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  progress jsonb,
  updated_at timestamptz NOT NULL DEFAULT now()
);`;

/** pg-boss's database adapter over our Db: parameterised statements, or scripts of several. */
function adapter(db: Db) {
  return {
    async executeSql(text: string, values?: unknown[]) {
      if (values && values.length > 0) return db.query(text, values);
      try {
        return await db.query(text);
      } catch (e) {
        // PGlite refuses several statements in one prepared query: run them as a script.
        if ((e as { code?: string }).code === '42601' && /multiple commands/.test((e as Error).message)) {
          await db.exec(text);
          return { rows: [], rowCount: 0 };
        }
        throw e;
      }
    },
  };
}

const instances = new WeakMap<Db, Jobs>();

/** The job system of a database (one per Db, shared by every module). */
export function createJobs(options: JobsOptions): Jobs {
  const existing = instances.get(options.db);
  if (existing) return existing;
  const { db, log } = options;
  const schema = options.schema ?? 'pgboss';
  const boss = new PgBoss({ db: adapter(db), schema, supervise: true, schedule: false, migrate: true } as unknown as PgBoss.ConstructorOptions);
  boss.on('error', (err: Error) => log?.error({ err }, 'jobs: pg-boss error'));
  const handlers = new Map<string, { handler: JobHandler<object>; options: RegisterOptions }>();
  let started: Promise<void> | null = null;
  let stopped = false;
  const polling = options.pollingIntervalSeconds ?? 1;

  async function ensureQueue(name: string, o: RegisterOptions = {}) {
    await boss.createQueue(name, { name, retryLimit: o.retryLimit ?? 0, expireInSeconds: o.expireInSeconds ?? 3600 } as PgBoss.Queue);
  }

  async function work(name: string) {
    const h = handlers.get(name)!;
    await ensureQueue(name, h.options);
    const concurrency = Math.max(1, h.options.concurrency ?? 1);
    for (let i = 0; i < concurrency; i++) {
      await boss.work<object>(name, { pollingIntervalSeconds: polling, batchSize: 1 }, async ([job]) => {
        if (!job) return null;
        let last = 0;
        let pending: Record<string, unknown> | null = null;
        const ctx: JobContext = {
          id: job.id,
          async progress(p) {
            pending = p;
            const now = Date.now();
            if (now - last < 250) return;
            last = now;
            await writeProgress(job.id, name, pending);
          },
        };
        try {
          const out = await h.handler(job.data, ctx);
          if (pending) await writeProgress(job.id, name, pending);
          return out ?? null;
        } catch (err) {
          log?.warn({ err, job: job.id, name }, 'jobs: job failed');
          if (pending) await writeProgress(job.id, name, pending).catch(() => undefined);
          // pg-boss stores {message, stack} of the error as the job's output.
          throw err;
        }
      });
    }
  }

  async function writeProgress(id: string, name: string, p: Record<string, unknown>) {
    await db.query(
      `INSERT INTO platform.job_progress (id, name, progress, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (id) DO UPDATE SET progress = EXCLUDED.progress, updated_at = now()`,
      [id, name, JSON.stringify(p)],
    );
  }

  const jobs: Jobs = {
    async register(name, handler, opts = {}) {
      if (!/^[\w.-]+$/.test(name)) throw new Error(`jobs.register: invalid job name "${name}"`);
      handlers.set(name, { handler: handler as JobHandler<object>, options: opts });
      if (started) {
        await started;
        await work(name);
      }
    },
    async start() {
      if (started) return started;
      stopped = false;
      started = (async () => {
        await db.exec(PROGRESS_TABLE);
        await boss.start();
        for (const name of handlers.keys()) await work(name);
      })();
      return started;
    },
    async send(name, data, opts = {}) {
      await jobs.start();
      await ensureQueue(name, handlers.get(name)?.options);
      const id = await boss.send(name, data, opts.singletonKey ? { singletonKey: opts.singletonKey } : {});
      if (!id) throw new Error(`jobs.send: "${name}" was not queued (an identical job is already waiting)`);
      await db.query('INSERT INTO platform.job_progress (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING', [id, name]);
      return id;
    },
    async getJob(id) {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
      await jobs.start();
      const { rows } = await db.query<{ name: string; progress: Record<string, unknown> | null }>('SELECT name, progress FROM platform.job_progress WHERE id = $1', [id]);
      const row = rows[0];
      if (!row) return null;
      const job = (await boss.getJobById(row.name, id, { includeArchive: true })) as
        | (PgBoss.JobWithMetadata<object> & { output?: unknown })
        | null;
      if (!job) return null;
      const output = (job.output ?? null) as Record<string, unknown> | null;
      const failed = job.state === 'failed';
      const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);
      return {
        id,
        name: row.name,
        state: job.state as JobState,
        progress: row.progress,
        output: failed ? null : output,
        error: failed ? String((output as { message?: string } | null)?.message ?? 'échec') : null,
        createdAt: iso(job.createdOn)!,
        startedAt: iso(job.startedOn),
        completedAt: iso(job.completedOn),
      };
    },
    async wait(id, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const j = await jobs.getJob(id);
        if (!j) throw new Error(`jobs.wait: unknown job ${id}`);
        if (j.state === 'completed' || j.state === 'failed' || j.state === 'cancelled' || Date.now() > until) return j;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (!started || stopped) return;
      stopped = true;
      await started.catch(() => undefined);
      await boss.stop({ graceful: true, wait: true, close: false, timeout: 5000 });
      started = null;
      instances.delete(db);
    },
  };
  instances.set(db, jobs);
  return jobs;
}

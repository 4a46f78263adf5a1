/**
 * A store for @fastify/rate-limit kept in the database (platform.rate_limit), so that a limit
 * holds across every instance of the application on one PostgreSQL (and across restarts). Each
 * request counts with one atomic statement (INSERT … ON CONFLICT DO UPDATE … RETURNING): no read
 * then write, so concurrent requests on any instance never pass together beyond the limit.
 * Counters are per route (method and URL pattern) and client key (the address by default).
 */
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Queryable } from '../db/index.ts';

type Callback = (err: Error | null, res?: { current: number; ttl: number }) => void;

interface RouteOptions {
  routeInfo?: { method?: string | string[]; url?: string };
  groupId?: string;
}

/** One more request (or attempt) under a key, in its window: a single atomic statement. */
const COUNT_ONE = `INSERT INTO platform.rate_limit AS r (key, count, reset_at) VALUES ($1, 1, clock_timestamp() + $2 * interval '1 millisecond')
   ON CONFLICT (key) DO UPDATE SET
     count = CASE WHEN r.reset_at <= clock_timestamp() THEN 1 ELSE r.count + 1 END,
     reset_at = CASE WHEN r.reset_at <= clock_timestamp() THEN clock_timestamp() + $2 * interval '1 millisecond' ELSE r.reset_at END
   RETURNING count, greatest(0, ceil(extract(epoch FROM r.reset_at - clock_timestamp()) * 1000))::bigint AS ttl`;

/**
 * Reserves one attempt under `key` (e.g. `mandates.revoke:M-ABCD-EFGH`) in a window of
 * `windowMs`, BEFORE the guess is evaluated, and returns how many attempts the key has had in
 * the window, this one included. One atomic statement in PostgreSQL: N concurrent attempts on
 * any number of instances get the counts 1…N, so a caller that refuses past its limit evaluates
 * at most the limit, whatever the concurrency (never read, then check, then record).
 */
export async function countAttempt(db: Queryable, key: string, windowMs: number): Promise<number> {
  const { rows } = await db.query<{ count: number; ttl: string }>(COUNT_ONE, [`attempt|${key}`, windowMs]);
  return Number(rows[0]!.count);
}

/** Expired counters are deleted now and then (about one call in PURGE_EVERY). */
const PURGE_EVERY = 500;

export function databaseRateLimitStore(db: Queryable): FastifyRateLimitStoreCtor {
  let calls = 0;
  return class DatabaseRateLimitStore implements FastifyRateLimitStore {
    private readonly prefix: string;

    constructor(input: object = {}) {
      const options = input as RouteOptions;
      const method = [options.routeInfo?.method ?? ''].flat().join(',');
      this.prefix = options.groupId ? `group:${options.groupId}` : `${method} ${options.routeInfo?.url ?? '*'}`;
    }

    incr(key: string, cb: Callback, timeWindow: number): void {
      const k = `${this.prefix}|${key}`;
      db.query<{ count: number; ttl: string }>(COUNT_ONE, [k, timeWindow]).then(
        (r) => {
          cb(null, { current: Number(r.rows[0]!.count), ttl: Number(r.rows[0]!.ttl) });
          if (++calls % PURGE_EVERY === 0) void db.query(`DELETE FROM platform.rate_limit WHERE reset_at < clock_timestamp() - interval '1 hour'`).catch(() => undefined);
        },
        (err: Error) => cb(err),
      );
    }

    read(key: string, cb: Callback): void {
      db.query<{ count: number; ttl: string }>(
        `SELECT count, greatest(0, ceil(extract(epoch FROM reset_at - clock_timestamp()) * 1000))::bigint AS ttl
         FROM platform.rate_limit WHERE key = $1 AND reset_at > clock_timestamp()`,
        [`${this.prefix}|${key}`],
      ).then(
        (r) => cb(null, r.rows[0] ? { current: Number(r.rows[0].count), ttl: Number(r.rows[0].ttl) } : { current: 0, ttl: 0 }),
        (err: Error) => cb(err),
      );
    }

    child(routeOptions: object): FastifyRateLimitStore {
      return new DatabaseRateLimitStore(routeOptions);
    }
  };
}

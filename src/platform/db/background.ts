/**
 * Background work gives way to requests on the embedded database.
 *
 * PGlite is one connection, run synchronously on the server's only thread: a statement or a
 * transaction holds it until done, and a chain of awaited statements that resolve at once never
 * lets the event loop accept a connection. A first start loads the reference and demo data while
 * the server already answers; that load runs inside `inBackground(…)`, and before each of its
 * statements or transactions (outside a transaction) the database wrapper calls `giveWay()`: it
 * lets the event loop turn (new requests are read and counted), then waits while requests are
 * being answered — up to `MAX_WAIT_MS` per statement, and in all at most `MAX_WAIT_SHARE` of the
 * load's running time, so traffic slows the load (at most about twofold) but never stops it. The
 * share matters: a request counts from its arrival, and one that never ends (a form whose body never
 * comes, held open until the server's request timeout, or steady slow requests) would otherwise make
 * every statement wait its full second — 5,000 statements of demo data, more than an hour. Requests
 * are counted by the HTTP server (`requestStarted`/`requestEnded`).
 *
 * On PostgreSQL nothing waits: requests have their own connections from the pool.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** One piece of background work: when it started, and how long it has waited for requests. */
interface Run {
  startedAt: number;
  waited: number;
}
const background = new AsyncLocalStorage<Run>();
/** Longest wait for requests in progress before one background statement runs anyway. */
export const MAX_WAIT_MS = 1000;
/** Share of its running time a piece of background work spends waiting for requests, at most. */
export const MAX_WAIT_SHARE = 0.5;

let active = 0;
let idle: { promise: Promise<void>; resolve: () => void } | null = null;

/** Runs fn (and every statement it starts, however deep) as background work. */
export function inBackground<T>(fn: () => Promise<T>): Promise<T> {
  return background.run({ startedAt: performance.now(), waited: 0 }, fn);
}

export function isBackground(): boolean {
  return background.getStore() !== undefined;
}

/** A request is being answered (the HTTP server calls it on each request's arrival). */
export function requestStarted(): void {
  active++;
}

/** A request is answered or abandoned (exactly once per requestStarted). */
export function requestEnded(): void {
  active = Math.max(0, active - 1);
  if (active === 0 && idle) {
    idle.resolve();
    idle = null;
  }
}

/** Requests being answered now. */
export function requestsInProgress(): number {
  return active;
}

/** Before one background statement: let the event loop turn, then let requests in progress finish first. */
export async function giveWay(): Promise<void> {
  await nextTurn();
  if (active === 0) return;
  const run = background.getStore();
  // Its share of waiting used up: this statement goes now (requests wait for one statement at most).
  if (run && run.waited > (performance.now() - run.startedAt) * MAX_WAIT_SHARE) return;
  const t0 = performance.now();
  if (!idle) {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    idle = { promise, resolve };
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([idle.promise, new Promise<void>((r) => (timer = setTimeout(r, MAX_WAIT_MS)))]);
  clearTimeout(timer);
  if (run) run.waited += performance.now() - t0;
}

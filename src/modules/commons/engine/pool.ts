/**
 * The pool of worker threads that answers code searches (search, block search, duplicates, blob
 * texts): the main thread only parses the query, picks a worker and relays the answer, so a costly
 * or hostile search never holds the event loop that serves the rest of the site.
 *
 * - Size: COMMONS_SEARCH_WORKERS, else the number of available cores (at least 1, at most 8).
 *   Each worker keeps its own snapshot of the shards (tables, and contents cached in memory within
 *   COMMONS_CONTENT_CACHE_MB divided among the workers).
 * - A worker answers one task at a time; tasks wait in a queue bounded by COMMONS_SEARCH_QUEUE
 *   (default 4 per worker): beyond it the search is refused at once (503 `search_busy`), and one
 *   client (address) may not hold more than COMMONS_SEARCH_PER_CLIENT tasks (default: the pool's
 *   size, at least 2) queued or running (429 `search_busy`).
 * - Every task has a time budget; the search stops itself at the budget with a partial answer that
 *   says so. A task still running well past its budget (one enormous line under a costly regex)
 *   has its worker terminated and replaced, and is answered 503 `search_timeout`.
 * - Snapshots: a task names its snapshot by key (index directory, database, generation); a worker
 *   that does not hold it asks for it once, and the pool sends the shard list and occurrences.
 *
 * The V8 flag that gives regular expressions their linear-time fallback (engine/jsregex.ts) is
 * process-wide: it is set here, on the main thread, before any worker starts.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { UserError } from '../../../platform/http/errors.ts';
import { enableLinearRegexFallback } from './jsregex.ts';

export interface SnapshotRef {
  key: string;
  /** The snapshot's contents (shard directories, occurrences), sent to a worker that lacks it. */
  load(): unknown;
}

export interface TaskOptions {
  /** Who asked (an address): bounds the tasks one client holds. */
  client?: string | null;
  /** Time budget of the task in ms (the worker stops itself there). */
  budgetMs: number;
}

interface Task {
  id: number;
  method: string;
  args: unknown;
  snapshot: SnapshotRef;
  client: string | null;
  budgetMs: number;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

interface Slot {
  worker: Worker | null;
  task: Task | null;
  timer: NodeJS.Timeout | null;
}

export interface PoolStats {
  size: number;
  running: number;
  queued: number;
  queueMax: number;
  restarts: number;
}

function envInt(name: string, fallback: number, min: number, max: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v >= min && v <= max ? v : fallback;
}

/** How long past its budget a task may run before its worker is terminated. */
export function hardLimitMs(budgetMs: number): number {
  return budgetMs * 2 + 2000;
}

/** How long a worker may take to begin a task (start, load a snapshot's tables). */
const STARTUP_LIMIT_MS = 60_000;

export class SearchPool {
  readonly size: number;
  readonly queueMax: number;
  readonly perClient: number;
  private readonly slots: Slot[];
  private readonly queue: Task[] = [];
  private readonly byClient = new Map<string, number>();
  private nextId = 1;
  private restarts = 0;
  private closed = false;
  private readonly hardLimit: (budgetMs: number) => number;

  constructor(opts: { size?: number; queueMax?: number; perClient?: number; hardLimit?: (budgetMs: number) => number } = {}) {
    this.hardLimit = opts.hardLimit ?? hardLimitMs;
    this.size = opts.size ?? envInt('COMMONS_SEARCH_WORKERS', Math.min(8, Math.max(1, os.availableParallelism())), 1, 64);
    this.queueMax = opts.queueMax ?? envInt('COMMONS_SEARCH_QUEUE', 4 * this.size, 0, 10_000);
    this.perClient = opts.perClient ?? envInt('COMMONS_SEARCH_PER_CLIENT', Math.max(2, this.size), 1, 10_000);
    this.slots = Array.from({ length: this.size }, () => ({ worker: null, task: null, timer: null }));
    enableLinearRegexFallback();
  }

  stats(): PoolStats {
    return { size: this.size, running: this.slots.filter((s) => s.task).length, queued: this.queue.length, queueMax: this.queueMax, restarts: this.restarts };
  }

  run<T>(method: string, args: unknown, snapshot: SnapshotRef, opts: TaskOptions): Promise<T> {
    if (this.closed) return Promise.reject(new UserError('La recherche de code est arrêtée.', 503, null, 'search_busy'));
    const client = opts.client ?? null;
    if (client !== null && (this.byClient.get(client) ?? 0) >= this.perClient) {
      return Promise.reject(new UserError(`Vous avez déjà ${this.perClient} recherches de code en cours : attendez leurs réponses avant d’en lancer d’autres.`, 429, null, 'search_busy'));
    }
    const free = this.slots.find((s) => !s.task);
    if (!free && this.queue.length >= this.queueMax) {
      return Promise.reject(new UserError('Le moteur de recherche de code est saturé : réessayez dans quelques secondes.', 503, null, 'search_busy'));
    }
    return new Promise<T>((resolve, reject) => {
      const task: Task = { id: this.nextId++, method, args, snapshot, client, budgetMs: opts.budgetMs, resolve: resolve as (v: unknown) => void, reject };
      if (client !== null) this.byClient.set(client, (this.byClient.get(client) ?? 0) + 1);
      if (free) this.start(free, task);
      else this.queue.push(task);
    });
  }

  /**
   * Starts every worker and has it load this snapshot (in the background, each in its own thread):
   * the first searches then find them ready.
   */
  warm(snapshot: SnapshotRef) {
    if (this.closed) return;
    let payload: unknown;
    for (const slot of this.slots) {
      const worker = slot.worker ?? this.spawn(slot);
      payload ??= snapshot.load();
      worker.postMessage({ type: 'snapshot', key: snapshot.key, payload });
    }
  }

  /** Terminates the workers (tasks waiting are refused). */
  async close() {
    this.closed = true;
    for (const t of this.queue.splice(0)) this.finish(t, new UserError('La recherche de code est arrêtée.', 503, null, 'search_busy'), true);
    await Promise.all(
      this.slots.map(async (s) => {
        if (s.timer) clearTimeout(s.timer);
        if (s.task) this.finish(s.task, new UserError('La recherche de code est arrêtée.', 503, null, 'search_busy'), true);
        s.task = null;
        const w = s.worker;
        s.worker = null;
        if (w) await w.terminate();
      }),
    );
  }

  private spawn(slot: Slot): Worker {
    const entry = new URL('./search-worker.ts', import.meta.url).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
    const cacheMb = Math.max(0, Number(process.env.COMMONS_CONTENT_CACHE_MB ?? 1024));
    const worker = new Worker(code, { eval: true, workerData: { cacheBytes: Math.floor((cacheMb * 1024 * 1024) / this.size) }, execArgv: [] });
    worker.on('message', (m: WorkerReply) => this.onMessage(slot, worker, m));
    worker.on('error', (e) => this.onExit(slot, worker, e));
    worker.on('exit', (code) => this.onExit(slot, worker, new Error(`search worker exited with code ${code}`)));
    worker.unref();
    slot.worker = worker;
    return worker;
  }

  private start(slot: Slot, task: Task) {
    slot.task = task;
    const worker = slot.worker ?? this.spawn(slot);
    worker.ref();
    // Until the worker begins the task (a new worker loads its code, a new snapshot its tables):
    // a generous limit; then the task's own.
    this.arm(slot, worker, task, STARTUP_LIMIT_MS);
    worker.postMessage({ type: 'run', id: task.id, method: task.method, args: task.args, snapshotKey: task.snapshot.key, budgetMs: task.budgetMs });
  }

  private arm(slot: Slot, worker: Worker, task: Task, ms: number) {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = setTimeout(() => {
      // Far past its budget: the worker is stuck in one costly step; replace it.
      if (slot.task !== task) return;
      this.restarts++;
      slot.worker = null;
      slot.task = null;
      slot.timer = null;
      void worker.terminate();
      this.finish(task, new UserError(`La recherche a dépassé ${Math.round(this.hardLimit(task.budgetMs) / 1000)} s et a été interrompue : précisez la requête (un littéral plus long, repo:, file:, lang:).`, 503, 'q', 'search_timeout'));
      this.next(slot);
    }, ms);
  }

  private onMessage(slot: Slot, worker: Worker, m: WorkerReply) {
    const task = slot.task;
    if (slot.worker !== worker || !task || m.id !== task.id) return;
    if (m.type === 'begin') {
      this.arm(slot, worker, task, this.hardLimit(task.budgetMs));
      return;
    }
    if (m.type === 'need-snapshot') {
      let payload: unknown;
      try {
        payload = task.snapshot.load();
      } catch (e) {
        this.settle(slot, task, e, true);
        return;
      }
      worker.postMessage({ type: 'snapshot', key: task.snapshot.key, payload });
      worker.postMessage({ type: 'run', id: task.id, method: task.method, args: task.args, snapshotKey: task.snapshot.key, budgetMs: task.budgetMs });
      return;
    }
    if (m.type === 'done') this.settle(slot, task, m.result, false);
    else {
      const err = m.user ? new UserError(m.message, m.user.statusCode, m.user.field, m.user.code) : Object.assign(new Error(m.message), { stack: m.stack });
      this.settle(slot, task, err, true);
    }
  }

  private onExit(slot: Slot, worker: Worker, e: Error) {
    if (slot.worker !== worker) return;
    slot.worker = null;
    const task = slot.task;
    if (task) {
      this.restarts++;
      this.settle(slot, task, e, true);
    }
  }

  private settle(slot: Slot, task: Task, value: unknown, failed: boolean) {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.task = null;
    slot.worker?.unref();
    this.finish(task, value, failed);
    this.next(slot);
  }

  private finish(task: Task, value: unknown, failed = true) {
    if (task.client !== null) {
      const n = (this.byClient.get(task.client) ?? 1) - 1;
      if (n <= 0) this.byClient.delete(task.client);
      else this.byClient.set(task.client, n);
    }
    if (failed) task.reject(value);
    else task.resolve(value);
  }

  private next(slot: Slot) {
    if (this.closed) return;
    const t = this.queue.shift();
    if (t) this.start(slot, t);
  }
}

export type WorkerReply =
  | { type: 'need-snapshot'; id: number }
  | { type: 'begin'; id: number }
  | { type: 'done'; id: number; result: unknown }
  | { type: 'error'; id: number; message: string; stack?: string; user?: { statusCode: number; field: string | null; code: string } };

let shared: SearchPool | null = null;

/** The process's pool (created on first use). */
export function searchPool(): SearchPool {
  if (!shared) shared = new SearchPool();
  return shared;
}

/** Stops the process's pool (tests, shutdown); a later search starts a new one. */
export async function closeSearchPool() {
  const p = shared;
  shared = null;
  if (p) await p.close();
}

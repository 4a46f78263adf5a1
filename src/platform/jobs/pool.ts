/**
 * A pool of worker threads for heavy computations a request can trigger (coverage plan and "what
 * if"): the main thread keeps answering (/health, pages) while they run. Bounded on every side:
 * a fixed number of workers, a bounded queue (saturated: a 503 naming the cause at once), and a
 * time budget per task (exceeded: the worker is terminated and replaced, the request gets a 503).
 *
 * Large inputs that change rarely (e.g. every commune's measures for one data version) are sent
 * to each worker once and kept there in named slots: a task names the slot versions it needs,
 * and only a worker holding another version is sent the data again.
 *
 * Worker side: the module given as `workerModule` calls `serveTasks(handlers)`.
 */
import { Worker, parentPort, isMainThread } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { UserError } from '../http/errors.ts';
import type { Logger } from '../log.ts';

export interface PoolOptions {
  /** Absolute path of the worker's module (TypeScript: loaded through tsx). */
  workerModule: string;
  /** Worker threads (default 1). */
  size?: number;
  /** Tasks that may wait for a worker; beyond, a task is refused at once (default 8). */
  maxQueue?: number;
  /** Budget of one task once started, in ms (default 10 s). */
  timeoutMs?: number;
  log?: Logger;
  /** Worker heap limit in MB (default: Node's). */
  maxOldGenerationSizeMb?: number;
}

/** Data a task needs in a worker: sent only to workers that do not hold this `key` in `slot`. */
export interface SlotData {
  slot: string;
  key: string;
  load: () => unknown;
}

interface Task {
  op: string;
  input: unknown;
  slots: SlotData[];
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  /** The worker has loaded its module (the budget of a task counts from then on). */
  ready: boolean;
  slots: Map<string, string>;
  task: Task | null;
  timer: NodeJS.Timeout | null;
}

/** A worker that has not loaded its module after this long is a failure (not a task's fault). */
const STARTUP_MS = 60_000;

const bootstrap = fileURLToPath(new URL('./worker-bootstrap.mjs', import.meta.url));

export class PoolBusyError extends UserError {
  constructor() {
    super('Le serveur calcule déjà le maximum de simulations en même temps : réessayez dans quelques secondes.', 503, null, 'compute_busy');
  }
}

export class PoolTimeoutError extends UserError {
  constructor(seconds: number) {
    super(`Ce calcul dépasse le temps alloué (${seconds} s) : réduisez la demande (territoire plus petit, moins de points) et recommencez.`, 503, null, 'compute_timeout');
  }
}

export class ComputePool {
  private readonly workers: Slot[] = [];
  private readonly queue: Task[] = [];
  private closed = false;
  readonly size: number;
  readonly maxQueue: number;
  readonly timeoutMs: number;

  constructor(private readonly options: PoolOptions) {
    this.size = Math.max(1, options.size ?? 1);
    this.maxQueue = Math.max(0, options.maxQueue ?? 8);
    this.timeoutMs = Math.max(1, options.timeoutMs ?? 10_000);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Tasks running and waiting. */
  get load(): { running: number; waiting: number } {
    return { running: this.workers.filter((w) => w.task).length, waiting: this.queue.length };
  }

  /** Runs `op` in a worker; rejects with PoolBusyError when saturated, PoolTimeoutError past the budget. */
  run<T>(op: string, input: unknown, slots: SlotData[] = []): Promise<T> {
    if (this.closed) return Promise.reject(new Error('ComputePool: closed'));
    return new Promise<T>((resolve, reject) => {
      const task: Task = { op, input, slots, resolve: resolve as (v: unknown) => void, reject };
      const idle = this.idleWorker();
      if (idle) this.start(idle, task);
      else if (this.queue.length >= this.maxQueue) reject(new PoolBusyError());
      else this.queue.push(task);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(new Error('ComputePool: closed'));
    await Promise.all(this.workers.splice(0).map((w) => this.terminate(w, new Error('ComputePool: closed'))));
  }

  private idleWorker(): Slot | null {
    const idle = this.workers.find((w) => !w.task);
    if (idle) return idle;
    if (this.workers.length < this.size) return this.spawn();
    return null;
  }

  private spawn(): Slot {
    const worker = new Worker(bootstrap, {
      workerData: { module: this.options.workerModule },
      resourceLimits: this.options.maxOldGenerationSizeMb ? { maxOldGenerationSizeMb: this.options.maxOldGenerationSizeMb } : undefined,
    });
    worker.unref();
    const slot: Slot = { worker, ready: false, slots: new Map(), task: null, timer: null };
    const startup = setTimeout(() => void this.terminate(slot, new Error('compute worker did not start')).then(() => this.drain()), STARTUP_MS);
    startup.unref();
    worker.on('message', (msg: { ready?: true; ok: boolean; result?: unknown; error?: { message: string; status?: number; field?: string | null; code?: string } }) => {
      if (msg.ready) {
        clearTimeout(startup);
        slot.ready = true;
        if (slot.task) this.post(slot, slot.task);
        return;
      }
      const task = slot.task;
      if (!task) return;
      this.finish(slot);
      if (msg.ok) task.resolve(msg.result);
      else if (msg.error?.status) task.reject(new UserError(msg.error.message, msg.error.status, msg.error.field ?? null, msg.error.code));
      else task.reject(new Error(msg.error?.message ?? 'worker failed'));
      this.next(slot);
    });
    const fail = (err: Error) => {
      const task = slot.task;
      this.remove(slot);
      if (task) {
        if (slot.timer) clearTimeout(slot.timer);
        task.reject(err);
      }
      this.options.log?.error({ err }, 'compute worker stopped');
      this.drain();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (this.workers.includes(slot)) fail(new Error(`compute worker exited (code ${code})`));
    });
    this.workers.push(slot);
    return slot;
  }

  private start(slot: Slot, task: Task) {
    slot.task = task;
    if (slot.ready) this.post(slot, task);
  }

  private post(slot: Slot, task: Task) {
    const slots: Record<string, { key: string; value?: unknown }> = {};
    try {
      for (const s of task.slots) {
        slots[s.slot] = slot.slots.get(s.slot) === s.key ? { key: s.key } : { key: s.key, value: s.load() };
        slot.slots.set(s.slot, s.key);
      }
      slot.worker.postMessage({ op: task.op, input: task.input, slots });
    } catch (err) {
      slot.task = null;
      slot.slots.clear();
      task.reject(err as Error);
      this.next(slot);
      return;
    }
    slot.timer = setTimeout(() => {
      this.options.log?.warn({ op: task.op, ms: this.timeoutMs }, 'compute task over its budget: worker terminated');
      void this.terminate(slot, new PoolTimeoutError(Math.round(this.timeoutMs / 100) / 10)).then(() => this.drain());
    }, this.timeoutMs);
  }

  private finish(slot: Slot) {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.task = null;
  }

  private next(slot: Slot) {
    if (this.closed || slot.task) return;
    const task = this.queue.shift();
    if (task) this.start(slot, task);
  }

  /** After a worker was removed: start waiting tasks on a new one. */
  private drain() {
    while (!this.closed && this.queue.length) {
      const w = this.idleWorker();
      if (!w) return;
      this.start(w, this.queue.shift()!);
    }
  }

  private remove(slot: Slot) {
    const i = this.workers.indexOf(slot);
    if (i >= 0) this.workers.splice(i, 1);
  }

  private async terminate(slot: Slot, reason: Error) {
    this.remove(slot);
    const task = slot.task;
    this.finish(slot);
    task?.reject(reason);
    await slot.worker.terminate();
  }
}

export type TaskHandler = (input: never, slots: Record<string, unknown>) => unknown;

/** Worker side: answers the pool's tasks with the given handlers (call once, in the worker module). */
export function serveTasks(handlers: Record<string, TaskHandler>): void {
  if (isMainThread || !parentPort) throw new Error('serveTasks: call it in a worker thread');
  const port = parentPort;
  const held = new Map<string, unknown>();
  port.postMessage({ ready: true });
  port.on('message', async (msg: { op: string; input: unknown; slots: Record<string, { key: string; value?: unknown }> }) => {
    try {
      for (const [name, s] of Object.entries(msg.slots)) if ('value' in s) held.set(name, s.value);
      const handler = handlers[msg.op];
      if (!handler) throw new Error(`unknown task "${msg.op}"`);
      const data: Record<string, unknown> = {};
      for (const name of Object.keys(msg.slots)) data[name] = held.get(name);
      port.postMessage({ ok: true, result: await handler(msg.input as never, data) });
    } catch (err) {
      const e = err as Error & { statusCode?: number; field?: string | null; code?: string };
      port.postMessage({ ok: false, error: { message: e.message, status: e instanceof UserError ? e.statusCode : undefined, field: e.field ?? null, code: e.code } });
    }
  });
}

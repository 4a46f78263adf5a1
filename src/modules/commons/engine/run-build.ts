/**
 * Runs buildShards in worker threads (the TypeScript loader is registered in each worker). A large
 * build is split in two halves by bytes (each a contiguous run of the listed blobs, so files of a
 * directory stay together), built by two workers at once: indexing uses both cores of the machine
 * while the main thread keeps answering searches.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BuildInput, BuildOutput } from './build.ts';

/** Below this many bytes to read, one worker is enough. */
const SPLIT_BYTES = 8 * 1024 * 1024;

/** Build worker threads started ahead of their input (see startBuildWorkers). */
export interface WarmWorkers {
  /** The workers waiting for their input. */
  readonly idle: readonly Worker[];
  take(): Worker | null;
  /** Terminates the workers not taken. */
  dispose(): void;
}

/** How many build workers a large build uses. */
export function buildWorkerCount(): number {
  return Math.min(2, os.availableParallelism());
}

/**
 * Starts the build workers before their input is known: each loads its modules (the TypeScript
 * loader, the shard writer) while the main thread mirrors and lists the repository, so the build
 * starts at once. Those not used are terminated by dispose().
 */
export function startBuildWorkers(n = buildWorkerCount()): WarmWorkers {
  const idle = Array.from({ length: n }, () => {
    const w = spawnWorker(null);
    // An idle worker that fails or exits is dropped (a new one is started when its turn comes).
    w.on('error', () => undefined);
    w.once('exit', () => {
      const i = idle.indexOf(w);
      if (i >= 0) idle.splice(i, 1);
    });
    return w;
  });
  return {
    idle,
    take: () => idle.shift() ?? null,
    dispose() {
      for (const w of idle.splice(0)) void w.terminate();
    },
  };
}

export function buildInWorker(input: BuildInput, onProgress?: (done: number, total: number) => void, warm?: WarmWorkers): Promise<BuildOutput> {
  const parts = splitInput(input, buildWorkerCount());
  if (parts.length === 1) return runWorker(input, onProgress, warm?.take() ?? null);
  const done = parts.map(() => 0);
  const runs = parts.map((p, i) =>
    runWorker(p, (d) => {
      done[i] = d;
      onProgress?.(
        done.reduce((a, b) => a + b, 0),
        input.blobs.length,
      );
    }, warm?.take() ?? null),
  );
  return Promise.allSettled(runs).then((results) => {
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // The other part's shards are not recorded anywhere: remove them.
      for (const r of results) if (r.status === 'fulfilled') for (const s of r.value.shards) fs.rmSync(path.join(input.indexDir, s.name), { recursive: true, force: true });
      throw failed.reason;
    }
    const out: BuildOutput = { shards: [], blobs: [], timings: [] };
    // (workers are exited by now: each ends when its build is done)
    for (const r of results as PromiseFulfilledResult<BuildOutput>[]) {
      out.shards.push(...r.value.shards);
      out.blobs.push(...r.value.blobs);
      out.timings.push(...r.value.timings);
    }
    return out;
  });
}

/** Contiguous parts of about the same number of bytes (blob sizes as listed by git). */
export function splitInput(input: BuildInput, n: number): BuildInput[] {
  const total = input.blobs.reduce((s, b) => s + (b.size ?? 0), 0);
  if (n <= 1 || total < SPLIT_BYTES || input.blobs.length < 2 * n) return [input];
  const parts: BuildInput[] = [];
  let start = 0;
  let acc = 0;
  for (let i = 0; i < input.blobs.length && parts.length < n - 1; i++) {
    acc += input.blobs[i]!.size ?? 0;
    if (acc >= (total * (parts.length + 1)) / n) {
      parts.push({ ...input, blobs: input.blobs.slice(start, i + 1), shardPrefix: `${input.shardPrefix}p${parts.length}` });
      start = i + 1;
    }
  }
  parts.push({ ...input, blobs: input.blobs.slice(start), shardPrefix: `${input.shardPrefix}p${parts.length}` });
  return parts.filter((p) => p.blobs.length > 0);
}

function spawnWorker(input: BuildInput | null): Worker {
  const entry = new URL('./build-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(code, { eval: true, workerData: input, execArgv: [] });
}

/** Runs one build in a worker: a warm one (given its input now) or a new one. */
function runWorker(input: BuildInput, onProgress?: (done: number, total: number) => void, warm: Worker | null = null): Promise<BuildOutput> {
  return new Promise((resolve, reject) => {
    const worker = warm ?? spawnWorker(input);
    // A warm worker takes its input in a message (queued until its modules are loaded).
    if (warm) warm.postMessage({ type: 'input', input });
    let settled = false;
    worker.on('message', (m: { type: string; done?: number; total?: number; result?: BuildOutput; message?: string; gitError?: boolean }) => {
      if (m.type === 'ready') return;
      if (m.type === 'progress') onProgress?.(m.done!, m.total!);
      else if (m.type === 'done') {
        settled = true;
        resolve(m.result!);
      } else if (m.type === 'error') {
        settled = true;
        // A git failure (repository vanished) keeps its nature across the thread boundary.
        reject(Object.assign(new Error(m.message), { gitError: Boolean(m.gitError) }));
      }
    });
    worker.on('error', (e) => {
      if (!settled) reject(e);
      settled = true;
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`index build worker exited with code ${code}`));
    });
  });
}

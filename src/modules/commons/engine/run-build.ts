/**
 * Runs builds in worker threads (the TypeScript loader is registered in each worker): indexing uses
 * both cores of the machine while the main thread keeps answering searches.
 *
 * A small build runs in one worker that reads its blobs from git itself. A large one is fed: this
 * thread reads every blob through one `git cat-file --batch` (reading ahead up to READ_AHEAD_BYTES,
 * so git never waits for a busy builder: a worker reading its own pipe lets git run only 64 KB
 * ahead of it, and each refill waits for the scheduler) and hands out consecutive batches of about
 * BATCH_BYTES to whichever worker asks — work-stealing by file, so both workers stay busy to the
 * end whatever the mix of cheap and costly files (a fixed split by bytes left one worker idle for
 * a third of the build on glibc).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BuildInput, BuildOutput } from './build.ts';
import type { FedBatch } from './build-worker.ts';
import { catBlobs } from '../git.ts';

/** Below this many bytes to read, one worker is enough. */
const SPLIT_BYTES = 8 * 1024 * 1024;
/** A fed worker's batch: consecutive blobs of about this many bytes (files of a directory stay together). */
const BATCH_BYTES = 512 * 1024;
/** Blobs read from git and not yet handed out: reading pauses above this. */
const READ_AHEAD_BYTES = 16 * 1024 * 1024;

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

export function buildInWorker(
  input: BuildInput,
  onProgress?: (done: number, total: number) => void,
  warm?: WarmWorkers,
  /** Tests: a fed build below the usual size, with this many workers. */
  opts: { splitBytes?: number; workers?: number } = {},
): Promise<BuildOutput> {
  const n = opts.workers ?? buildWorkerCount();
  const total = input.blobs.reduce((s, b) => s + (b.size ?? 0), 0);
  if (n <= 1 || total < (opts.splitBytes ?? SPLIT_BYTES) || input.blobs.length < 2 * n) return runWorker(input, onProgress, warm?.take() ?? null);
  return buildFed(input, n, onProgress, warm);
}

/**
 * A fed build: git read here, batches handed to `n` workers as they ask. Each worker writes its
 * own shards (prefix `<shardPrefix>p<i>`); on failure every shard written is removed.
 */
function buildFed(input: BuildInput, n: number, onProgress: ((done: number, total: number) => void) | undefined, warm: WarmWorkers | undefined): Promise<BuildOutput> {
  return new Promise((resolve, reject) => {
    const langs = new Map(input.blobs.map((b) => [b.sha, b.lang]));
    // Blobs are copied once, from git's pipe into the batch being filled; full batches wait in `ready`.
    type Batch = { shas: string[]; langs: (string | null)[]; sizes: number[]; buf: ArrayBuffer; used: number };
    const newBatch = (min: number): Batch => ({ shas: [], langs: [], sizes: [], buf: new ArrayBuffer(Math.max(BATCH_BYTES, min)), used: 0 });
    let filling = newBatch(0);
    const ready: Batch[] = [];
    let queued = 0;
    let readDone = false;
    let failed = false;
    let resumeRead: (() => void) | null = null;
    const workers: { w: Worker; wants: number; done: number; ended: boolean; result: BuildOutput | null }[] = [];
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      resumeRead?.();
      // Once every worker has stopped: remove the shards they finished or were writing (a
      // terminated worker leaves its temporary directory).
      void Promise.allSettled(workers.map((x) => x.w.terminate())).then(() => {
        const prefixes = workers.map((_, i) => `${input.shardPrefix}p${i}-`);
        for (const name of fs.existsSync(input.indexDir) ? fs.readdirSync(input.indexDir) : []) {
          const bare = name.startsWith('.tmp-') ? name.slice(5) : name;
          if (prefixes.some((p) => bare.startsWith(p))) fs.rmSync(path.join(input.indexDir, name), { recursive: true, force: true });
        }
        reject(e);
      });
    };
    const serve = () => {
      for (const x of workers) {
        while (x.wants > 0 && !x.ended && !failed) {
          // The batch being filled goes now if reading is over, or if this worker has nothing to
          // build (both its requests outstanding): git is the slower side then.
          if (ready.length === 0 && filling.shas.length > 0 && (readDone || x.wants === 2)) {
            ready.push(filling);
            filling = newBatch(0);
          }
          if (ready.length === 0) {
            if (readDone) {
              x.ended = true;
              x.w.postMessage({ type: 'end' });
            }
            break;
          }
          const b = ready.shift()!;
          queued -= b.used;
          const batch: FedBatch = { type: 'blobs', shas: b.shas, langs: b.langs, sizes: b.sizes, buf: b.buf };
          x.w.postMessage(batch, [b.buf]);
          x.wants--;
        }
      }
      if (resumeRead && queued < READ_AHEAD_BYTES / 2) {
        const r = resumeRead;
        resumeRead = null;
        r();
      }
    };
    for (let i = 0; i < n; i++) {
      const part = { ...input, blobs: [], shardPrefix: `${input.shardPrefix}p${i}`, fed: true };
      const taken = warm?.take() ?? null;
      const w = taken ?? spawnWorker(part);
      if (taken) taken.postMessage({ type: 'input', input: part });
      const x = { w, wants: 0, done: 0, ended: false, result: null as BuildOutput | null };
      workers.push(x);
      w.on('message', (m: { type: string; done?: number; result?: BuildOutput; message?: string }) => {
        if (failed) return;
        if (m.type === 'want') {
          x.wants++;
          x.done = m.done!;
          onProgress?.(
            workers.reduce((s, y) => s + y.done, 0),
            input.blobs.length,
          );
          serve();
        } else if (m.type === 'done') {
          x.result = m.result!;
          // (its message listener would keep a fed worker alive)
          void w.terminate();
          if (workers.every((y) => y.result)) {
            const out: BuildOutput = { shards: [], blobs: [], timings: [] };
            for (const y of workers) {
              out.shards.push(...y.result!.shards);
              out.blobs.push(...y.result!.blobs);
              out.timings.push(...y.result!.timings);
            }
            resolve(out);
          }
        } else if (m.type === 'error') fail(new Error(m.message));
      });
      w.on('error', (e) => fail(e));
      w.on('exit', (code) => {
        if (!x.result) fail(new Error(`index build worker exited with code ${code}`));
      });
    }
    catBlobs(
      input.gitDir,
      input.blobs.map((b) => b.sha),
      (sha, content) => {
        if (failed) throw new Error('build failed');
        // A blob larger than the room left starts a new batch, sized for it if it is larger than a
        // batch (a file up to the indexing limit, 1 MiB, may come first or right after a flush).
        if (filling.used + content.length > filling.buf.byteLength) {
          if (filling.shas.length > 0) ready.push(filling);
          filling = newBatch(content.length);
        }
        new Uint8Array(filling.buf, filling.used, content.length).set(content);
        filling.used += content.length;
        filling.shas.push(sha);
        filling.langs.push(langs.get(sha) ?? null);
        filling.sizes.push(content.length);
        queued += content.length;
        if (ready.length > 0) serve();
        if (queued >= READ_AHEAD_BYTES) return new Promise<void>((r) => (resumeRead = r));
      },
      { copy: false },
    ).then(
      () => {
        readDone = true;
        serve();
      },
      // A git failure (repository vanished) reaches the caller as the GitError it is.
      (e: Error) => fail(e),
    );
  });
}

function spawnWorker(input: BuildInput | null): Worker {
  const entry = new URL('./build-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(code, { eval: true, workerData: input, execArgv: process.env.COMMONS_WORKER_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.COMMONS_WORKER_PROF_DIR}`] : [] });
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

/** Runs buildShards in a worker thread (the TypeScript loader is registered in the worker). */
import { Worker } from 'node:worker_threads';
import type { BuildInput, BuildOutput } from './build.ts';

export function buildInWorker(input: BuildInput, onProgress?: (done: number, total: number) => void): Promise<BuildOutput> {
  const entry = new URL('./build-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: input, execArgv: [] });
    let settled = false;
    worker.on('message', (m: { type: string; done?: number; total?: number; result?: BuildOutput; message?: string; gitError?: boolean }) => {
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

/** Worker-thread entry: runs buildShards and reports progress to the parent. */
import { parentPort, workerData } from 'node:worker_threads';
import { buildShards, type BuildInput } from './build.ts';
import { GitError } from '../git.ts';

buildShards(workerData as BuildInput, (done, total) => parentPort!.postMessage({ type: 'progress', done, total })).then(
  (result) => parentPort!.postMessage({ type: 'done', result }),
  (err: Error) => parentPort!.postMessage({ type: 'error', message: err.message, gitError: err instanceof GitError }),
);

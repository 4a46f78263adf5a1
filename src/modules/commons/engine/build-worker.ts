/**
 * Worker-thread entry: runs buildShards and reports progress to the parent. Started with its input
 * (workerData), or ahead of time without it (workerData null: the thread loads its modules while
 * the main thread mirrors and lists the repository) and then given its input in a message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { buildShards, type BuildInput } from './build.ts';
import { GitError } from '../git.ts';

function run(input: BuildInput) {
  buildShards(input, (done, total) => parentPort!.postMessage({ type: 'progress', done, total })).then(
    (result) => parentPort!.postMessage({ type: 'done', result }),
    (err: Error) => parentPort!.postMessage({ type: 'error', message: err.message, gitError: err instanceof GitError }),
  );
}

if (workerData) run(workerData as BuildInput);
else {
  parentPort!.once('message', (m: { type: string; input: BuildInput }) => run(m.input));
  parentPort!.postMessage({ type: 'ready' });
}

/**
 * Worker-thread entry: runs a build and reports progress to the parent. Started with its input
 * (workerData), or ahead of time without it (workerData null: the thread loads its modules while
 * the main thread mirrors and lists the repository) and then given its input in a message.
 *
 * Two kinds of input: a list of blobs the worker reads from git itself (buildShards), or a fed
 * build (`fed: true`): the parent reads git and hands out batches of blobs to whichever worker asks
 * (see run-build.ts). A fed worker keeps two requests outstanding, so the next batch is already
 * there when it finishes one; it asks again after each batch and builds until told the end.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { buildShards, ShardBuilder, type BuildInput } from './build.ts';
import { GitError } from '../git.ts';

/** A batch of blobs from the parent: their contents concatenated in one transferred buffer. */
export interface FedBatch {
  type: 'blobs';
  shas: string[];
  langs: (string | null)[];
  sizes: number[];
  buf: ArrayBuffer;
}

function run(input: BuildInput & { fed?: boolean }) {
  if (input.fed) return runFed(input);
  buildShards(input, (done, total) => parentPort!.postMessage({ type: 'progress', done, total })).then(
    (result) => parentPort!.postMessage({ type: 'done', result }),
    (err: Error) => parentPort!.postMessage({ type: 'error', message: err.message, gitError: err instanceof GitError }),
  );
}

function runFed(input: BuildInput) {
  const t0 = performance.now();
  const builder = new ShardBuilder(input.indexDir, input.shardPrefix, input.limits);
  let done = 0;
  let ended = false;
  parentPort!.on('message', (m: FedBatch | { type: 'end' } | { type: 'abort' }) => {
    if (ended) return;
    try {
      if (m.type === 'blobs') {
        const all = Buffer.from(m.buf);
        for (let i = 0, at = 0; i < m.shas.length; i++) {
          builder.add(m.shas[i]!, all.subarray(at, at + m.sizes[i]!), m.langs[i] ?? null);
          at += m.sizes[i]!;
        }
        done += m.shas.length;
        parentPort!.postMessage({ type: 'want', done });
      } else if (m.type === 'end') {
        ended = true;
        parentPort!.postMessage({ type: 'done', result: builder.finish(t0) });
      } else {
        ended = true;
        builder.abort();
        parentPort!.postMessage({ type: 'aborted' });
      }
    } catch (err) {
      ended = true;
      builder.abort();
      parentPort!.postMessage({ type: 'error', message: (err as Error).message, gitError: false });
    }
  });
  // Two batches asked for at once: one to build, one on its way.
  parentPort!.postMessage({ type: 'want', done: 0 });
  parentPort!.postMessage({ type: 'want', done: 0 });
}

if (workerData) run(workerData as BuildInput);
else {
  parentPort!.once('message', (m: { type: string; input: BuildInput }) => run(m.input));
  parentPort!.postMessage({ type: 'ready' });
}

/**
 * Worker-thread entry of the search pool (engine/pool.ts): holds snapshots of the shards and runs
 * one task at a time — search, block search, duplicates report, a blob's text.
 */
import fs from 'node:fs';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { UserError } from '../../../platform/http/errors.ts';
import { Searcher, type Occurrence, type SearchOptions } from './searcher.ts';
import { blockSearch, duplicateReport } from './blocksearch.ts';
import { setContentCacheBudget } from './shard.ts';
import type { ParsedQuery } from './query.ts';

export interface SnapshotPayload {
  dirs: string[];
  occurrences: [string, Occurrence[]][];
  root: string;
}

const port = parentPort!;

// Searches are background work next to the site's requests: on Linux this thread lowers its own
// priority (nice 10; the main thread keeps its own) so that a busy pool does not slow the pages.
try {
  const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, Math.max(os.getPriority(tid), 10));
} catch {
  /* not Linux, or not allowed: same priority as the main thread */
}
const data = workerData as { cacheBytes?: number } | null;
if (data && typeof data.cacheBytes === 'number') setContentCacheBudget(data.cacheBytes);

/** Snapshots by key, most recently used last (two kept: the current one and the one before). */
const snapshots = new Map<string, Searcher>();
const duplicates = new WeakMap<Searcher, ReturnType<typeof duplicateReport>>();

function run(s: Searcher, method: string, args: Record<string, unknown>, budgetMs: number): unknown {
  switch (method) {
    case 'search':
      return s.search(args.query as ParsedQuery, { ...(args.options as Partial<SearchOptions>), deadline: Date.now() + budgetMs });
    case 'blocks':
      return blockSearch(s, args.code as string, args.options as { lang?: string | null; limit?: number });
    case 'duplicates': {
      let d = duplicates.get(s);
      if (!d) duplicates.set(s, (d = duplicateReport(s, { limit: 500 })));
      return d.slice(0, args.limit as number);
    }
    case 'blobText':
      return s.blobText(args.sha as string);
    default:
      throw new Error(`unknown search task ${method}`);
  }
}

port.on('message', (m: { type: 'snapshot'; key: string; payload: SnapshotPayload } | { type: 'run'; id: number; method: string; args: Record<string, unknown>; snapshotKey: string; budgetMs: number }) => {
  if (m.type === 'snapshot') {
    if (snapshots.has(m.key)) return;
    const p = m.payload;
    snapshots.set(m.key, Searcher.open(p.dirs, new Map(p.occurrences), p.root));
    while (snapshots.size > 2) {
      const [oldest, s] = snapshots.entries().next().value!;
      snapshots.delete(oldest);
      setTimeout(() => s.close(), 1000).unref();
    }
    return;
  }
  const s = snapshots.get(m.snapshotKey);
  if (!s) {
    port.postMessage({ type: 'need-snapshot', id: m.id });
    return;
  }
  snapshots.delete(m.snapshotKey);
  snapshots.set(m.snapshotKey, s);
  port.postMessage({ type: 'begin', id: m.id });
  try {
    port.postMessage({ type: 'done', id: m.id, result: run(s, m.method, m.args, m.budgetMs) });
  } catch (e) {
    const err = e as Error;
    const user = e instanceof UserError ? { statusCode: e.statusCode, field: e.field, code: e.code } : undefined;
    port.postMessage({ type: 'error', id: m.id, message: err.message, stack: err.stack, user });
  }
});

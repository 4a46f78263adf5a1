/**
 * Query profiling on the benchmark's index (after one `npm run bench:code`): runs each benchmark
 * query in "page" mode (first 20 ranked files) and "all lines" mode and prints p50 per query.
 *   node --import tsx bench/code/profile.ts [filter]      (PROFILE_RUNS, default 5)
 * With `node --cpu-prof` it gives a CPU profile of the query path only.
 */
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { loadConfig } from '../../src/platform/config.ts';
import { openDb } from '../../src/platform/db/index.ts';
import { createLogger } from '../../src/platform/log.ts';
import type { AppContext } from '../../src/platform/module.ts';
import { search, searcher } from '../../src/modules/commons/service.ts';
import { QUERIES, QUERIES_GLIBC } from './queries.ts';

// The same corpus as run.ts (BENCH_CORPUS, default glibc) and its queries.
const CORPUS = process.env.BENCH_CORPUS === 'linux' ? 'linux' : 'glibc';
const BENCH = path.resolve(process.env.BENCH_DIR || '/tmp/maillage-bench', CORPUS === 'linux' ? '' : 'glibc');
const RUNS = Number(process.env.PROFILE_RUNS || 5);
const filter = process.argv[2] ?? '';
// PROFILE_MODE=page or all: only that mode (a cleaner CPU profile of one of them).
const MODE = process.env.PROFILE_MODE ?? '';

const dataDir = path.join(BENCH, 'data');
const config = loadConfig({ ...process.env, NODE_ENV: 'production' }, { dataDir, logLevel: 'silent' });
const db = await openDb({ databaseUrl: null, pgliteDir: path.join(dataDir, 'pglite') });
const ctx: AppContext = { config, db, log: createLogger('silent') };
const t0 = performance.now();
const s = await searcher(ctx);
console.log(`snapshot opened in ${(performance.now() - t0).toFixed(0)} ms`);
// Let the shard contents load into memory (as a running server does after opening a snapshot).
await Promise.all(s.shards.map((x) => x.reader.warm()));
// PROFILE_CPU=file.cpuprofile: a CPU profile of the queries only (not of the start-up).
const session = process.env.PROFILE_CPU ? new Session() : null;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const q of (CORPUS === 'linux' ? QUERIES : QUERIES_GLIBC).filter((x) => x.name.includes(filter))) {
  const page: number[] = [];
  const all: number[] = [];
  let info = '';
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    const r = MODE === 'all' ? null : await search(ctx, q.ours, { limit: 20 });
    page.push(performance.now() - t);
    t = performance.now();
    const a = MODE === 'page' ? null : await search(ctx, q.ours, { limit: 1_000_000, maxFiles: Infinity, maxLinesPerFile: Infinity, context: 0 });
    all.push(performance.now() - t);
    info = `cand ${(a ?? r)!.candidates}, files ${a?.fileCount ?? '-'} (page ${r ? r.fileCount + (r.truncated ? '+' : '') : '-'}), matches ${a?.matchCount ?? '-'}`;
  }
  console.log(`${q.name.padEnd(20)} page ${p50(page).toFixed(1).padStart(7)} ms   all ${p50(all).toFixed(1).padStart(7)} ms   ${info}`);
}
if (session) {
  const { profile } = await session.post('Profiler.stop');
  fs.writeFileSync(process.env.PROFILE_CPU!, JSON.stringify(profile));
}
await db.close();

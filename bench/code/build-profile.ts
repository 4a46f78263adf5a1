/**
 * Indexing throughput of the shard build alone (issue 15: ≥ 25 MB/s), on a git repository's head:
 * every blob ≤ 1 MiB read through `git cat-file --batch` and built into shards in a temporary
 * directory, the way `commons index` does it, without the catalogue.
 *
 *   node --import tsx bench/code/build-profile.ts [repository dir]   (default: the bench's glibc)
 *
 * BUILD_MODE=thread (default): one build in this thread, reports MB per CPU-second of the process
 * (with `node --cpu-prof` this gives the build's profile); BUILD_MODE=workers: the two build
 * workers `commons index` uses (wall-clock MB/s); BUILD_MODE=memory: the blobs read from git first,
 * then only the shard writer timed, in this thread (its CPU time, without git's reads and the
 * event loop: the steadiest measure on a shared machine). BUILD_LIMIT_MB=n: only the first n MB of blobs.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildShards } from '../../src/modules/commons/engine/build.ts';
import { buildInWorker } from '../../src/modules/commons/engine/run-build.ts';
import { languageOf } from '../../src/modules/commons/engine/languages.ts';
import { DEFAULT_LIMITS, ShardWriter, shardSize } from '../../src/modules/commons/engine/shard.ts';
import { isBinary, type BuildOutput } from '../../src/modules/commons/engine/build.ts';
import { catBlobs } from '../../src/modules/commons/git.ts';

const repo = path.resolve(process.argv[2] || path.join(process.env.BENCH_DIR || '/tmp/maillage-bench', 'glibc/src/glibc-2.36'));
const mode = process.env.BUILD_MODE === 'workers' ? 'workers' : process.env.BUILD_MODE === 'memory' ? 'memory' : 'thread';
const limit = Number(process.env.BUILD_LIMIT_MB || Infinity) * 1048576;
const gitDir = execFileSync('git', ['rev-parse', '--absolute-git-dir'], { cwd: repo, encoding: 'utf8' }).trim();
const blobs: { sha: string; lang: string | null; size: number }[] = [];
const seen = new Set<string>();
let total = 0;
for (const line of execFileSync('git', ['ls-tree', '-r', '--long', 'HEAD'], { cwd: repo, encoding: 'utf8', maxBuffer: 1 << 28 }).split('\n')) {
  const m = /^\d+ blob ([0-9a-f]{40}) +(\d+)\t(.*)$/.exec(line);
  if (!m || seen.has(m[1]!) || Number(m[2]) > 1048576) continue;
  if (total + Number(m[2]) > limit) break;
  seen.add(m[1]!);
  total += Number(m[2]);
  blobs.push({ sha: m[1]!, lang: languageOf(m[3]!), size: Number(m[2]) });
}
const indexDir = fs.mkdtempSync(path.join(os.tmpdir(), 'commons-build-'));
let finishCpu = 0;
const loaded: { sha: string; content: Buffer }[] = [];
if (mode === 'memory') await catBlobs(gitDir, blobs.map((b) => b.sha), (sha, content) => void (isBinary(content) || loaded.push({ sha, content })));
const langs = new Map(blobs.map((b) => [b.sha, b.lang]));
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
const input = { gitDir, indexDir, blobs, shardPrefix: 'b' };
const out = mode === 'workers' ? await buildInWorker(input) : mode === 'memory' ? writeLoaded() : await buildShards(input);

/** The shard writer alone over blobs already in memory (as buildShards cuts shards). */
function writeLoaded(): BuildOutput {
  const res: BuildOutput = { shards: [], blobs: [], timings: [] };
  let w: ShardWriter | null = null;
  let seq = 0;
  const close = () => {
    const c = process.cpuUsage();
    const r = w!.finish();
    const d = process.cpuUsage(c);
    finishCpu += (d.user + d.system) / 1e6;
    res.shards.push({ name: w!.name, docs: r.docs, bytes: r.bytes, postings: r.postings });
    w = null;
  };
  for (const { sha, content } of loaded) {
    w ??= new ShardWriter(indexDir, `m-${seq++}`, DEFAULT_LIMITS);
    w.add(sha, content, null, langs.get(sha) ?? null);
    if (w.full()) close();
  }
  if (w) close();
  return res;
}
const wall = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
const cpuS = (cpu.user + cpu.system) / 1e6;
const indexed = out.shards.reduce((s, x) => s + x.bytes, 0);
let disk = 0;
const parts: Record<string, number> = {};
for (const s of out.shards) {
  disk += shardSize(path.join(indexDir, s.name)).total;
  for (const f of fs.readdirSync(path.join(indexDir, s.name))) parts[f] = (parts[f] ?? 0) + fs.statSync(path.join(indexDir, s.name, f)).size;
}
fs.rmSync(indexDir, { recursive: true, force: true });
const mb = (n: number) => (n / 1048576).toFixed(1);
console.log(`${mode}: ${blobs.length} blobs, ${mb(total)} MB read, ${mb(indexed)} MB indexed in ${out.shards.length} shards`);
console.log(`wall ${wall.toFixed(2)} s → ${(indexed / 1048576 / wall).toFixed(1)} MB/s; CPU of this process ${cpuS.toFixed(2)} s${mode !== 'workers' ? ` → ${(indexed / 1048576 / cpuS).toFixed(1)} MB per CPU-second` : ' (workers included)'}; load ${os.loadavg()[0]!.toFixed(1)}`);
if (mode === 'memory') console.log(`of which finish() (postings and fingerprint sorts, index files): ${finishCpu.toFixed(2)} CPU-s; add() ${(cpuS - finishCpu).toFixed(2)} CPU-s`);
console.log(`index ${mb(disk)} MB = ${(disk / indexed).toFixed(2)} × the text: ${Object.entries(parts).sort((a, b) => b[1] - a[1]).map(([f, n]) => `${f} ${mb(n)}`).join(', ')}`);

/**
 * Build workers started ahead of their input (indexing starts them before mirroring and listing):
 * a warm worker builds the same shards as an inline build; a warm worker that died meanwhile is
 * not used (a new one is started); those not used are terminated.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { buildShards } from '../engine/build.ts';
import { buildInWorker, startBuildWorkers } from '../engine/run-build.ts';
import { gitIn, makeRepo, tmpDir } from './helpers.ts';
import { GitError } from '../git.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function input(dir: string, prefix: string) {
  const blobs = gitIn(dir, 'ls-tree', '-r', 'HEAD')
    .split('\n')
    .map((l) => ({ sha: l.split(/\s+/)[2]!, lang: l.endsWith('.c') ? 'c' : null }));
  const indexDir = tmpDir('commons-warm-');
  dirs.push(indexDir, dir);
  return { gitDir: path.join(dir, '.git'), indexDir, blobs, shardPrefix: prefix };
}

const FILES = {
  'a.c': 'int alpha(int x) { return x + 1; }\n',
  'b.c': Array.from({ length: 500 }, (_, i) => `int v${i} = ${i};`).join('\n') + '\n',
  'bin.dat': Buffer.from([0, 1, 2, 3]),
  'notes.txt': 'Des notes en français.\n',
};

test('a warm build worker builds what an inline build does; the unused one is terminated', async () => {
  const dir = makeRepo(FILES);
  const inline = await buildShards(input(dir, 'i'));
  const warm = startBuildWorkers(2);
  const w = await buildInWorker(input(dir, 'w'), undefined, warm);
  const key = (o: typeof inline) => o.blobs.map((b) => `${b.sha}:${b.status}:${b.size}:${b.lines}`).sort();
  assert.deepEqual(key(w), key(inline));
  assert.deepEqual(
    w.shards.map((s) => [s.docs, s.bytes, s.postings]),
    inline.shards.map((s) => [s.docs, s.bytes, s.postings]),
  );
  assert.equal(w.timings.length, 1);
  assert.ok(w.timings[0]!.bytes > 0 && w.timings[0]!.buildMs <= w.timings[0]!.wallMs);
  // The input was small: one worker built it; the other is idle until dispose() ends it.
  assert.equal(warm.idle.length, 1);
  const exited = once(warm.idle[0]!, 'exit');
  warm.dispose();
  await exited;
  assert.equal(warm.take(), null);
});

test('a warm worker that exited before its turn is not used: the build starts a new one', async () => {
  const dir = makeRepo(FILES);
  const warm = startBuildWorkers(1);
  const w = warm.idle[0]!;
  const exited = once(w, 'exit');
  await w.terminate();
  await exited;
  assert.equal(warm.idle.length, 0, 'dropped from the idle workers');
  const out = await buildInWorker(input(dir, 'n'), undefined, warm);
  assert.equal(out.blobs.filter((b) => b.status === 'indexed').length, 3);
  assert.equal(out.blobs.filter((b) => b.status === 'binary').length, 1);
  warm.dispose();
});

test('a fed build (git read by the parent, batches handed to two workers as they ask) builds what an inline build does', async () => {
  const files: Record<string, string | Buffer> = { 'bin.dat': Buffer.from([0, 1, 2, 3]) };
  for (let i = 0; i < 40; i++) files[`src/f${i}.c`] = Array.from({ length: 20 + i * 30 }, (_, k) => `int f${i}_${k}(int x) { return x * ${k}; }`).join('\n') + '\n';
  files['docs/Öl.txt'] = 'Straße, Öl, ÉTÉ\n';
  const dir = makeRepo(files);
  const inline = await buildShards(input(dir, 'i'));
  const fedInput = input(dir, 'f');
  // Small shards, so each worker closes several of them as batches come.
  const limits = { maxBytes: 20_000, maxPostings: 1_000_000, maxFingerprints: 100_000 };
  const fed = await buildInWorker({ ...fedInput, limits }, undefined, undefined, { splitBytes: 0, workers: 2 });
  const key = (o: typeof inline) => o.blobs.map((b) => `${b.sha}:${b.status}:${b.size}:${b.lines}`).sort();
  assert.deepEqual(key(fed), key(inline));
  assert.equal(fed.timings.length, 2, 'two workers');
  // (which worker got how much depends on which asked first: only the sum is fixed)
  assert.equal(fed.timings.reduce((n, t) => n + t.bytes, 0), inline.timings[0]!.bytes);
  assert.ok(fed.shards.length > 2);
  // Every blob is in exactly one shard, and the shards on disk are the ones reported.
  const total = (o: typeof inline) => [o.shards.reduce((n, s) => n + s.docs, 0), o.shards.reduce((n, s) => n + s.bytes, 0)];
  assert.deepEqual(total(fed), total(inline));
  assert.deepEqual(fs.readdirSync(fedInput.indexDir).sort(), fed.shards.map((s) => s.name).sort());
  // The same shards' postings in total: trigram sets per chunk do not depend on the worker.
  assert.equal(
    fed.shards.reduce((n, s) => n + s.postings, 0),
    (await buildShards({ ...input(dir, 'j'), limits })).shards.reduce((n, s) => n + s.postings, 0),
  );
});

test('a fed build takes files larger than a batch wherever they come (first, after a flush, beside empty files)', async () => {
  // Paths in git's order: a 900 KB file first (into the empty first batch: it once overflowed the
  // 512 KB batch, "Invalid typed array length"), empty files, another large one among small ones.
  const big = (n: number, c: string) => Array.from({ length: n }, (_, i) => `${c}${i} `.padEnd(99, c)).join('\n') + '\n';
  const files: Record<string, string | Buffer> = { 'a0-big.txt': big(9_000, 'x'), 'a1-empty.txt': '', 'a2-empty.txt': '' };
  for (let i = 0; i < 12; i++) files[`b${String(i).padStart(2, '0')}.c`] = `int g${i} = ${i};\n`.repeat(200);
  files['c-big.txt'] = big(8_000, 'y');
  files['d-empty.txt'] = '';
  const dir = makeRepo(files);
  const inline = await buildShards(input(dir, 'i'));
  const fed = await buildInWorker(input(dir, 'f'), undefined, undefined, { splitBytes: 0, workers: 2 });
  const key = (o: typeof inline) => o.blobs.map((b) => `${b.sha}:${b.status}:${b.size}:${b.lines}`).sort();
  assert.deepEqual(key(fed), key(inline));
  assert.equal(fed.timings.reduce((n, t) => n + t.bytes, 0), inline.timings[0]!.bytes);
});

test('a fed build whose git read fails removes every shard its workers wrote and reports a GitError', async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 30; i++) files[`f${i}.c`] = `int g${i}(void) { return ${i}; }\n`.repeat(200);
  const dir = makeRepo(files);
  const inp = input(dir, 'x');
  // A blob that does not exist, after enough real ones for the workers to have written shards.
  inp.blobs.push({ sha: '0123456789abcdef0123456789abcdef01234567', lang: 'c' });
  const limits = { maxBytes: 8_000, maxPostings: 1_000_000, maxFingerprints: 100_000 };
  await assert.rejects(
    () => buildInWorker({ ...inp, limits }, undefined, undefined, { splitBytes: 0, workers: 2 }),
    (e: Error) => e instanceof GitError && /missing/.test(e.message),
  );
  assert.deepEqual(fs.readdirSync(inp.indexDir), []);
});

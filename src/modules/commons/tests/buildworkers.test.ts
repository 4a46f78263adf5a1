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

/**
 * Block search recall (issue 15): 100 functions of a corpus no other test uses (ajv's and
 * fast-uri's compiled JavaScript from node_modules), each searched unchanged, renamed,
 * reformatted and with one line deleted. Targets: recall 1.0 on unchanged copies (found as
 * themselves, byte for byte) and ≥ 0.98 on each edited kind, the function's own place among the
 * first 10 answers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../../platform/config.ts';
import { addRepository, indexRepository, searcher } from '../service.ts';
import { blockSearch } from '../engine/blocksearch.ts';
import { measureRecall, sampleFunctions, VARIANTS, type SampleFunction } from '../../../../bench/code/recall.ts';
import { makeRepo, testContext } from './helpers.ts';

let ctx: Awaited<ReturnType<typeof testContext>>;
let fns: SampleFunction[];

before(async () => {
  ctx = await testContext();
  const files: Record<string, string> = {};
  for (const pkg of ['ajv/dist', 'fast-uri']) {
    const root = path.join(projectRoot, 'node_modules', pkg);
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory() && e.name !== 'node_modules') walk(p);
        else if (e.isFile() && e.name.endsWith('.js')) files[path.join(pkg, path.relative(root, p))] = fs.readFileSync(p, 'utf8');
      }
    };
    walk(root);
  }
  await addRepository(ctx, makeRepo(files), { slug: 'rappel' });
  await indexRepository(ctx, 'rappel', { worker: false });
  fns = sampleFunctions(
    Object.entries(files).map(([p, text]) => ({ path: p, text, lang: 'javascript' })),
    100,
    15,
    3,
  );
});

after(async () => {
  await ctx.close();
});

test('block search recall over 100 functions: 1.0 unchanged, ≥ 0.98 renamed, reformatted, one line deleted', async () => {
  assert.equal(fns.length, 100, 'the corpus gives 100 functions');
  const s = await searcher(ctx);
  const r = await measureRecall(fns, (code, lang) => blockSearch(s, code, { lang, limit: 10 }).matches);
  const summary = VARIANTS.map((v) => `${v} ${r.byVariant[v].found}/${r.functions} (rank 1: ${r.byVariant[v].rank1}; missed ${r.byVariant[v].misses.slice(0, 3).join(', ')})`).join('; ');
  assert.equal(r.byVariant.unchanged.found, 100, summary);
  for (const v of ['renamed', 'reformatted', 'lineDeleted'] as const) assert.ok(r.byVariant[v].found >= 98, summary);
});

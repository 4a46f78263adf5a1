/**
 * Case folding beyond ASCII: the index folds every letter (shard version 4), so a case-insensitive
 * Cyrillic or German query narrows the candidates like an ASCII one; a two-byte letter (Ö) alone is
 * answered from the index too.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { addRepository, indexRepository, search } from '../service.ts';
import { closeSearchPool } from '../engine/pool.ts';
import { foldText } from '../engine/shard.ts';
import { makeRepo, testContext } from './helpers.ts';

let ctx: Awaited<ReturnType<typeof testContext>>;

before(async () => {
  ctx = await testContext();
  const filler = Array.from({ length: 50 }, (_, i) => `int value_${i} = ${i};`).join('\n');
  const dir = makeRepo({
    'de.txt': 'Die Straße ist lang\nDIE STRASSE\nstrasse klein\nſtraße alt\n',
    'ru.txt': 'РУССКИЙ язык\nрусский текст\nanglais\n',
    'o.txt': 'Österreich\nnichts\nöl\n',
    'seul.txt': 'abc\né\nxyz\n',
    'fin.txt': 'abc\nà',
    'plain.c': `${filler}\nint strange = 0;\n`,
  });
  await addRepository(ctx, dir, { slug: 'langues' });
  await indexRepository(ctx, 'langues', { worker: false });
});

after(async () => {
  await closeSearchPool();
  await ctx.close();
});

const lines = async (q: string) => {
  const r = await search(ctx, q, { context: 0 });
  return { candidates: r.candidates, hits: r.groups.flatMap((g) => g.files.flatMap((f) => f.lines.map((l) => `${f.path}:${l.line}`))).sort() };
};

test('folding by code point: one representative per case class', () => {
  assert.equal(foldText('РУССКИЙ'), 'русский');
  assert.equal(foldText('STRAẞE'), 'straße');
  assert.equal(foldText('ſ'), 's');
  assert.equal(foldText('\u212a'), 'k'); // Kelvin sign
  assert.equal(foldText('ΣΑΣ ς'), 'σασ σ');
});

test('a case-insensitive Cyrillic literal is answered from the index (one candidate, every line)', async () => {
  assert.deepEqual(await lines('русский'), { candidates: 1, hits: ['ru.txt:1', 'ru.txt:2'] });
  assert.deepEqual(await lines('РУССКИЙ case:yes'), { candidates: 1, hits: ['ru.txt:1'] });
  assert.deepEqual(await lines('/РУССКИЙ/'), { candidates: 1, hits: ['ru.txt:1', 'ru.txt:2'] });
});

test('/stra(ß|ss)e/ folds ß, SS and ſ like RE2, from the index', async () => {
  const r = await lines('/stra(ß|ss)e/');
  assert.equal(r.candidates, 1);
  assert.deepEqual(r.hits, ['de.txt:1', 'de.txt:2', 'de.txt:3', 'de.txt:4']);
  assert.deepEqual((await lines('straße')).hits, ['de.txt:1', 'de.txt:4']);
});

test('a two-byte letter alone (Ö) is answered from the index', async () => {
  assert.deepEqual(await lines('Ö'), { candidates: 1, hits: ['o.txt:1', 'o.txt:3'] });
  assert.deepEqual(await lines('Ö case:yes'), { candidates: 1, hits: ['o.txt:1'] });
});

test('a line made of a two-byte letter alone is found, also on a last line with no newline', async () => {
  assert.deepEqual(await lines('é'), { candidates: 1, hits: ['seul.txt:2'] });
  assert.deepEqual(await lines('É'), { candidates: 1, hits: ['seul.txt:2'] });
  assert.deepEqual(await lines('É case:yes'), { candidates: 1, hits: [] });
  assert.deepEqual(await lines('à'), { candidates: 1, hits: ['fin.txt:2'] });
});

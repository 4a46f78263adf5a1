/**
 * The line cursor (issue 15): a file with more matching lines than one answer lists (at most 1 000)
 * is listed completely by following `nextAfterLine` with `blob` — for a literal, a regex with a
 * short literal beside a class (the bench's `/0x[0-9a-f]{8}\b/`), a regex with no literal, a
 * non-ASCII literal and two terms (the file must hold both; lines of either are listed). The lines
 * gathered are exactly those a plain line-by-line scan finds, each once, in order.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RE2JS } from 're2js';
import { addRepository, indexRepository, search } from '../service.ts';
import { closeSearchPool } from '../engine/pool.ts';
import { makeRepo, testContext } from './helpers.ts';

let ctx: Awaited<ReturnType<typeof testContext>>;
let slug = '';
const BIG: string[] = [];

before(async () => {
  ctx = await testContext();
  // 4 000 lines; most hold a 0x........ constant (some with 7 or 9 digits: no match), some a
  // long upper-case name, some non-ASCII text; a few far apart hold a second term.
  for (let i = 1; i <= 4000; i++) {
    const hex = (Math.imul(i, 2654435761) >>> 0).toString(16).padStart(8, '0');
    if (i % 7 === 0) BIG.push(`\t/* Ärger ${i} */ VERY_LONG_UPPER_CASE_NAME_NUMBER_${i}_X = ${i};`);
    else if (i % 11 === 0) BIG.push(`\t{ 0x${hex.slice(1)}, ${i} }, /* seven digits */`);
    else if (i % 13 === 0) BIG.push(`\t{ 0x${hex}0, ${i} }, /* nine digits */`);
    else if (i % 997 === 0) BIG.push(`\tRARE_SECOND_TERM(0x${hex});`);
    else BIG.push(`\t{ 0x${hex}, 0x${hex.toUpperCase()}, ${i} },`);
  }
  const dir = makeRepo({ 'iconv/table.h': BIG.join('\n') + '\n', 'small.c': 'int x = 0x0000abcd;\nRARE_SECOND_TERM;\n' });
  slug = (await addRepository(ctx, dir, { name: 'Curseur' })).software.slug;
  await indexRepository(ctx, slug, { worker: false });
});

after(async () => {
  await closeSearchPool();
  await ctx.close();
});

/** Every matching line of iconv/table.h, following the line cursor; checks each answer's shape. */
async function allLines(q: string, lines = 1000): Promise<{ lines: number[]; requests: number }> {
  const first = await search(ctx, `${q} repo:${slug}`, { context: 0, maxLinesPerFile: lines, budgetMs: 30_000 });
  let f = first.groups.flatMap((g) => g.files).find((x) => x.path === 'iconv/table.h');
  assert.ok(f, `${q}: the file is found`);
  const out = f.lines.map((l) => l.line);
  let requests = 1;
  while (f.moreLines) {
    assert.equal(f.nextAfterLine, out[out.length - 1], 'the cursor is the last line listed');
    const r = await search(ctx, `${q} repo:${slug}`, { context: 0, maxLinesPerFile: lines, blob: f.blob, afterLine: f.nextAfterLine!, budgetMs: 30_000 });
    assert.equal(r.timedOut, false, "within its time budget (a loaded machine)");
    requests++;
    const files = r.groups.flatMap((g) => g.files);
    assert.ok(files.every((x) => x.blob === f!.blob), 'only the cursor’s file');
    f = files.find((x) => x.path === 'iconv/table.h');
    assert.ok(f, `${q}: the file is found past line ${out[out.length - 1]}`);
    assert.ok(f.lines.length > 0);
    assert.ok(f.lines[0]!.line > out[out.length - 1]!, 'lines after the cursor only');
    out.push(...f.lines.map((l) => l.line));
  }
  assert.equal(f.nextAfterLine, null);
  return { lines: out, requests };
}

function expected(re: RE2JS): number[] {
  const out: number[] = [];
  BIG.forEach((l, i) => {
    if (re.matcher(l).find()) out.push(i + 1);
  });
  return out;
}

test('a short literal beside a class: every one of thousands of matching lines, through the cursor', async () => {
  const want = expected(RE2JS.compile('0x[0-9a-f]{8}\\b', RE2JS.CASE_INSENSITIVE));
  assert.ok(want.length > 2500, `${want.length} matching lines`);
  const got = await allLines('/0x[0-9a-f]{8}\\b/');
  assert.deepEqual(got.lines, want);
  assert.equal(got.requests, Math.ceil(want.length / 1000));
  // Smaller pages: the cursor falls anywhere within the chunks.
  const small = await allLines('/0x[0-9a-f]{8}\\b/', 377);
  assert.deepEqual(small.lines, want);
});

test('a literal, a regex with no literal, a non-ASCII literal: complete through the cursor', async () => {
  assert.deepEqual((await allLines('"}, /*"', 250)).lines, expected(RE2JS.compile('\\}, /\\*')));
  assert.deepEqual((await allLines('case:yes /\\b[A-Z][A-Z0-9_]{30,}\\b/', 100)).lines, expected(RE2JS.compile('\\b[A-Z][A-Z0-9_]{30,}\\b')));
  assert.deepEqual((await allLines('ärger', 100)).lines, expected(RE2JS.compile('ärger', RE2JS.CASE_INSENSITIVE)));
});

test('two terms: the file holds both; past the cursor the lines of either, even when one term has none left', async () => {
  // RARE_SECOND_TERM is on lines 997, 1994, 2991 and 3988 only; the cursor passes them.
  const want = expected(RE2JS.compile('RARE_SECOND_TERM|nine digits', RE2JS.CASE_INSENSITIVE));
  assert.deepEqual((await allLines('RARE_SECOND_TERM "nine digits"', 50)).lines, want);
  // After the last RARE_SECOND_TERM line, the file still holds the term: its other lines are listed.
  const blob = (await search(ctx, `RARE_SECOND_TERM repo:${slug} file:table`)).groups[0]!.files[0]!.blob;
  const r = await search(ctx, `RARE_SECOND_TERM "nine digits" repo:${slug}`, { context: 0, blob, afterLine: 3990 });
  assert.deepEqual(r.groups[0]!.files[0]!.lines.map((l) => l.line), want.filter((l) => l > 3990));
  // A negated term is checked on the whole file, not only past the cursor.
  const neg = await search(ctx, `"nine digits" -RARE_SECOND_TERM repo:${slug}`, { context: 0, blob, afterLine: 3990 });
  assert.equal(neg.fileCount, 0);
});

test('a cursor past the last matching line or the last line: an empty answer; another blob: nothing', async () => {
  const f = (await search(ctx, `/0x[0-9a-f]{8}\\b/ repo:${slug} file:table`, { context: 0 })).groups[0]!.files[0]!;
  const last = expected(RE2JS.compile('0x[0-9a-f]{8}\\b', RE2JS.CASE_INSENSITIVE)).at(-1)!;
  assert.equal((await search(ctx, `/0x[0-9a-f]{8}\\b/ repo:${slug}`, { blob: f.blob, afterLine: last })).fileCount, 0);
  assert.equal((await search(ctx, `/0x[0-9a-f]{8}\\b/ repo:${slug}`, { blob: f.blob, afterLine: 99_999_999 })).fileCount, 0);
  const one = await search(ctx, `/0x[0-9a-f]{8}\\b/ repo:${slug}`, { blob: f.blob, afterLine: last - 1, context: 0 });
  assert.deepEqual(one.groups[0]!.files[0]!.lines.map((l) => l.line), [last]);
  assert.equal(one.groups[0]!.files[0]!.moreLines, false);
  assert.equal((await search(ctx, `/0x[0-9a-f]{8}\\b/ repo:${slug}`, { blob: '0'.repeat(40) })).fileCount, 0);
  // blob alone (no cursor): that file from its first line.
  const only = await search(ctx, `/0x[0-9a-f]{8}\\b/ repo:${slug}`, { blob: f.blob, context: 0 });
  assert.deepEqual(only.groups.flatMap((g) => g.files).map((x) => x.path), ['iconv/table.h']);
});

test('hostile cursor values are refused, naming the parameter', async () => {
  for (const [params, field] of [
    [{ afterLine: 5 }, 'after_line'],
    [{ blob: 'constructor', afterLine: 5 }, 'blob'],
    [{ blob: '__proto__' }, 'blob'],
    [{ blob: 'A'.repeat(40) }, 'blob'],
    [{ blob: '0'.repeat(40), afterLine: -1 }, 'after_line'],
    [{ blob: '0'.repeat(40), afterLine: 1.5 }, 'after_line'],
    [{ blob: '0'.repeat(40), afterLine: Number.MAX_SAFE_INTEGER + 2 }, 'after_line'],
  ] as const) {
    await assert.rejects(search(ctx, `/0x[0-9a-f]{8}\\b/ repo:${slug}`, params), (e: Error & { field?: string; statusCode?: number }) => {
      assert.equal(e.statusCode, 400, JSON.stringify(params));
      assert.equal(e.field, field, JSON.stringify(params));
      return true;
    });
  }
});

/**
 * Regexes with no literal to look up (every file a candidate) are verified by one V8 search per
 * window of a region's text instead of a test per line (searcher.ts, scanWindows). The answer must
 * be exactly the lines RE2 matches one by one: across windows (a file of 60 KB), with patterns
 * that could match across a newline in the whole text (\s, [^x]), anchors, non-ASCII lines, a
 * line too long for V8 (the per-line scan then runs), and a last line without a newline.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RE2JS } from 're2js';
import { addRepository, indexRepository, search } from '../service.ts';
import { closeSearchPool } from '../engine/pool.ts';
import { makeRepo, testContext } from './helpers.ts';

let ctx: Awaited<ReturnType<typeof testContext>>;
const files: Record<string, string> = {};

/** Deterministic pseudo-random lines: identifiers, long upper-case names, numbers, accents, blanks. */
function corpus(seed: number, count: number): string {
  let x = seed;
  const rnd = (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  // Also: "ſ" and the Kelvin sign (RE2 folds them into s and k), a character outside the BMP, CR.
  const words = ['int', 'value', 'NULL', 'return', 'é', 'Ärger', 'straße', 'x1', '  ', '\t', '0x1f', '123', 'ab', 'ZZ', 'ſ', '\u212a', '😀', 'KSKSKSKSKSKSKSKSKS', '\r'];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const k = rnd(14);
    if (k === 0) out.push('');
    else if (k === 1) out.push(`#define ${'ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789'.slice(rnd(8), 20 + rnd(18))} ${rnd(1000)}`);
    else if (k === 2) out.push(`${rnd(1000)}`);
    else if (k === 3) out.push(`É${'ÀBCDÉFGHIJKLMNOPQRSTUVWXYZ_0123456789'.slice(0, 25 + rnd(10))}`);
    else if (k === 4) out.push(`${'ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789'.slice(rnd(8), 20 + rnd(18))}${['\r', 'é', ' ', 'ſ', '😀'][rnd(5)]}`);
    else if (k === 5) out.push(`${'x'.repeat(rnd(3))}${'KSksſ\u212a'.repeat(1 + rnd(6))}\r`);
    else out.push(Array.from({ length: 1 + rnd(8) }, () => words[rnd(words.length)]).join(rnd(3) ? ' ' : ''));
  }
  return out.join('\n');
}

before(async () => {
  ctx = await testContext();
  files['big.c'] = corpus(7, 6000) + '\n';
  files['tail.c'] = corpus(11, 40) + '\nTHE_LAST_LINE_HAS_NO_NEWLINE_AT_ALL_THERE';
  files['long.c'] = `int a;\n${'B'.repeat(5000)}_ABCDEFGHIJKLMNOPQRSTUVWXYZ_LONG\n${corpus(13, 30)}\n`;
  const dir = makeRepo(files);
  await addRepository(ctx, dir, { slug: 'sans-litteral' });
  await indexRepository(ctx, 'sans-litteral', { worker: false });
});

after(async () => {
  await closeSearchPool();
  await ctx.close();
});

const PATTERNS: [string, boolean][] = [
  ['\\b[A-Z][A-Z0-9_]{30,}\\b', true],
  ['\\s[0-9]{3}$', true],
  ['^[0-9]{2}\\s*$', true],
  ['[^a-z ]{6}\\S', false],
  ['\\w{2}\\s\\w{2}$', false],
  ['^\\s', true],
  ['[A-Z]{3}\\b', false],
  ['\\b\\w{4}\\b\\s?\\b\\w{4}\\b$', true],
  // Counted repetitions beyond 16 (split into pieces, or relaxed into a filter), case folded
  // (ſ, K), negated classes and "." on non-ASCII lines, CR before the line end.
  ['\\b[A-Z][A-Z0-9_]{30,}\\b', false],
  ['[^a-z ]{20,}$', true],
  ['^[^\\s]{3}[a-z]{17,}', false],
  ['[ks]{18,}', false],
  ['\\W[A-Z_]{20,40}\\W', true],
  ['(?:[A-Z]{2}){9,}.$', true],
  ['\\S{20,}\\s$', true],
  ['^.{1,3}\\W$', false],
  ['[^A-Z0-9_\\s]$', true],
];

test('a regex without a literal gives exactly the lines RE2 matches one by one', async () => {
  for (const [source, cs] of PATTERNS) {
    const re = RE2JS.compile(source, cs ? 0 : RE2JS.CASE_INSENSITIVE);
    const expected: string[] = [];
    for (const [p, text] of Object.entries(files)) {
      const lines = text.split('\n');
      if (text.endsWith('\n')) lines.pop();
      lines.forEach((l, i) => re.matcher(l).find() && expected.push(`${p}:${i + 1}`));
    }
    const r = await search(ctx, `${cs ? 'case:yes ' : ''}/${source}/`, { context: 0, maxLinesPerFile: 100_000, limit: 10, budgetMs: 30_000 });
    assert.equal(r.timedOut, false, source);
    const got = r.groups.flatMap((g) => g.files.flatMap((f) => f.lines.map((l) => `${f.path}:${l.line}`)));
    assert.ok(expected.length > 0, `${source} matches something`);
    assert.deepEqual(got.sort(), expected.sort(), source);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { fastLineRegex, linearFallback, translateRegex, unicodeLineUnsafe } from '../engine/jsregex.ts';
import { matchRanges, re2Ranges } from '../engine/searcher.ts';

const ASCII_LINE = fc
  .array(fc.constantFrom('a', 'b', 'c', 'k', 's', 'A', 'B', 'K', 'S', 'x', '_', '1', '9', ' ', '\t', '\r', '\v', '\f', '.', '(', ')', '[', ']', '*', '-', '{', '}', '/', '\\'), { maxLength: 40 })
  .map((cs) => cs.join(''));

const ATOM = fc.constantFrom(
  'a',
  'b',
  'ab',
  'K',
  's',
  '_',
  '.',
  '\\.',
  '\\(',
  '\\*',
  '\\\\',
  '\\w',
  '\\W',
  '\\d',
  '\\D',
  '\\s',
  '\\S',
  '\\b',
  '\\B',
  '^',
  '$',
  '\\A',
  '\\z',
  '[ab]',
  '[^ab]',
  '[a-c]',
  '[^a-cK]',
  '[Z-a]',
  '[A-K]',
  '[^B-Z]',
  '[K-a]',
  '[\\w.]',
  '[^\\s]',
  '[\\d_-]',
  '[]a]',
  '[^]a]',
  '\\x41',
  '\\x{61}',
  '\\t',
  '\\v',
  '\\Qa.*\\E',
  '{',
  '}',
  '(ab|s)',
  '(?:a|b|)',
  '(?P<n>k+)',
  '(a*)*',
);
const QUANT = fc.constantFrom('', '', '', '*', '+', '?', '*?', '+?', '??', '{2}', '{0,2}', '{1,}', '{2,3}?', '{17,}', '{18,}?', '{3,20}');
const PIECE = fc.tuple(ATOM, QUANT).map(([a, q]) => (q && a.length > 1 && !/^[[(\\]/.test(a) ? `(?:${a})${q}` : a + q));
const PATTERN = fc
  .array(PIECE, { minLength: 1, maxLength: 6 })
  .chain((ps) => fc.oneof(fc.constant(ps.join('')), fc.constant(`${ps.slice(0, 2).join('')}|${ps.slice(2).join('')}`), fc.constant(`(${ps.join('')})+`)));

test('regex translation: on ASCII lines, V8 finds exactly the lines and ranges RE2 finds', () => {
  assert.equal(linearFallback(), true, 'V8 falls back to its linear engine in this Node version');
  let translated = 0;
  fc.assert(
    fc.property(PATTERN, fc.boolean(), fc.array(ASCII_LINE, { minLength: 5, maxLength: 15 }), (src, cs, lines) => {
      let re: RE2JS;
      try {
        re = RE2JS.compile(src, cs ? 0 : RE2JS.CASE_INSENSITIVE);
      } catch {
        return true; // not a valid RE2 pattern: the query parser refuses it before
      }
      const js = translateRegex(src, cs);
      if (js === null) return true;
      translated++;
      const one = new RegExp(js);
      const all = new RegExp(js, 'g');
      for (const l of lines) {
        assert.equal(one.test(l), re.test(l), `/${src}/ (case ${cs ? 'sensitive' : 'folded'}) → ${js} on ${JSON.stringify(l)}`);
        assert.deepEqual(matchRanges(all, l), re2Ranges(re, l), `ranges of /${src}/ on ${JSON.stringify(l)}`);
      }
      return true;
    }),
    { numRuns: Number(process.env.FC_RUNS || 1500) },
  );
  assert.ok(translated > 500, `most generated patterns translate (${translated})`);
});

test('regex translation: the benchmark patterns translate, constructs outside the subset are left to RE2', () => {
  for (const p of ['kzalloc\\(sizeof\\(\\*\\w+\\), GFP_ATOMIC\\)', '^static int \\w+_suspend\\(struct device', 'function\\s+\\w+Sync\\(', '\\bu8 \\w+\\[16\\]', '(mutex|spin)_lock_nested']) {
    assert.notEqual(translateRegex(p, false), null, p);
  }
  // Case is folded into classes (the linear engine refuses the i flag): "k" is [Kk].
  assert.equal(translateRegex('k', false), '[\\x4b\\x6b]');
  assert.equal(translateRegex('k', true), '[\\x6b]');
  // RE2's \s has no \v; "." does not match a newline.
  assert.equal(new RegExp(translateRegex('a\\sb', true)!).test('a\vb'), false);
  for (const refused of [
    '(?i)abc', // flags
    '(?s:a.b)',
    '\\pL', // Unicode classes
    '[[:alpha:]]', // POSIX classes
    'é', // non-ASCII
    '\\x{e9}',
    '\\101', // octal
    '\\C',
    'a{17}', // counted repetitions beyond the linear engine's limit…
    'a{2,40}',
    '((((a+)+)+)+)+', // …and nesting whose replication exceeds it
    '(a{4}){5}',
  ]) {
    assert.equal(translateRegex(refused, false), null, refused);
  }
});

test('pathological patterns stay linear in V8 (fallback engine) and are refused when they cannot', () => {
  const long = 'a'.repeat(100_000);
  for (const p of ['(a+)+b', '(a|a)*b', '(a|aa)*c', '(\\w+\\s?)+$', '(a*)*b', '((a+)+)+b', '(x+x+)+y', '(.*a){16}b', '(a|a){20,}b', '(a+){17,}b', '(?:a{2,3}){40,}c']) {
    const re = fastLineRegex(p, false);
    if (re === null) {
      // Refused: RE2 answers, in linear time.
      const t = performance.now();
      assert.equal(RE2JS.compile(p, RE2JS.CASE_INSENSITIVE).test(long), false);
      assert.ok(performance.now() - t < 120_000, `${p} (RE2)`);
      continue;
    }
    const t = performance.now();
    assert.equal(re.test(long + '!'), false, p);
    // Backtracking on 100,000 characters would not end in any lifetime; a linear engine ends in
    // milliseconds. The bound is far from both, so a loaded machine does not fail it.
    assert.ok(performance.now() - t < 120_000, `${p} took ${(performance.now() - t).toFixed(0)} ms`);
  }
});

/** Lines with non-ASCII characters too: accents, "ſ" and the Kelvin sign (folded into s and k by RE2), one outside the BMP. */
const UNICODE_LINE = fc
  .array(fc.constantFrom('a', 'b', 'k', 's', 'A', 'K', 'S', '_', '1', ' ', '\t', '\r', '.', 'é', 'É', 'ß', 'ſ', '\u212a', '€', '😀', 'aaaaaaaaaaaaaaaaaa', 'KKKKKKKKKKKKKKKKKKKK', 'ééééééééééééééééééé'), { maxLength: 30 })
  .map((cs) => cs.join(''));

test('regex translation for lines with non-ASCII characters: exact where it claims to be; the relaxed one a superset', () => {
  let translated = 0;
  let relaxed = 0;
  fc.assert(
    fc.property(PATTERN, fc.boolean(), fc.array(fc.oneof(UNICODE_LINE, ASCII_LINE), { minLength: 5, maxLength: 15 }), (src, cs, lines) => {
      let re: RE2JS;
      try {
        re = RE2JS.compile(src, cs ? 0 : RE2JS.CASE_INSENSITIVE);
      } catch {
        return true;
      }
      const unsafe = unicodeLineUnsafe(cs);
      const exact = translateRegex(src, cs, true);
      if (exact !== null) {
        translated++;
        const one = new RegExp(exact);
        for (const l of lines) {
          if (unsafe.test(l)) continue;
          assert.equal(one.test(l), re.test(l), `/${src}/ (case ${cs ? 'sensitive' : 'folded'}) → ${exact} on ${JSON.stringify(l)}`);
        }
      }
      const loose = translateRegex(src, cs, true, true);
      const looseAscii = translateRegex(src, cs, false, true);
      if (loose !== null && exact === null) relaxed++;
      for (const l of lines) {
        if (loose !== null && !unsafe.test(l) && re.test(l)) assert.ok(new RegExp(loose).test(l), `relaxed /${src}/ → ${loose} misses ${JSON.stringify(l)}`);
        if (looseAscii !== null && !/[^\x00-\x7f]/.test(l) && re.test(l)) assert.ok(new RegExp(looseAscii).test(l), `relaxed /${src}/ → ${looseAscii} misses ${JSON.stringify(l)}`);
      }
      return true;
    }),
    { numRuns: Number(process.env.FC_RUNS || 1500) },
  );
  assert.ok(translated > 500, `most generated patterns translate (${translated})`);
  assert.ok(relaxed > 20, `some are only relaxed (${relaxed})`);
});

test('regex translation: ranges as written when case matters, counted repetitions beyond 16 in pieces', () => {
  assert.equal(translateRegex('[A-Z]', true), '[\\x41-\\x5a]');
  assert.equal(translateRegex('[A-Z]', false), '[\\x41-\\x5a\\x61-\\x7a]');
  assert.equal(translateRegex('[^a]', true, true), '[^\\x61]');
  const big = fastLineRegex('\\b[A-Z][A-Z0-9_]{30,}\\b', true)!;
  assert.notEqual(big, null);
  assert.equal(big.test(`x ${'A'.repeat(30)} y`), false);
  assert.equal(big.test(`x ${'A'.repeat(31)} y`), true);
  assert.equal(big.test(`x ${'A'.repeat(31)}a y`), false);
  assert.equal(translateRegex('a{20,40}', true), null); // a finite maximum beyond 16: only relaxed
  assert.equal(translateRegex('a{20,40}', true, false, true), '[\\x61]{15,}');
});

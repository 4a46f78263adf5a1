import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { fastLineRegex, linearFallback, translateRegex } from '../engine/jsregex.ts';
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
const QUANT = fc.constantFrom('', '', '', '*', '+', '?', '*?', '+?', '??', '{2}', '{0,2}', '{1,}', '{2,3}?');
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
  for (const p of ['(a+)+b', '(a|a)*b', '(a|aa)*c', '(\\w+\\s?)+$', '(a*)*b', '((a+)+)+b', '(x+x+)+y', '(.*a){16}b']) {
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

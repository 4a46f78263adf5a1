import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { parseQuery, pathMatcher } from '../engine/query.ts';
import { planRegex, type TriQuery } from '../engine/plan.ts';
import { extractSymbols } from '../engine/symbols.ts';
import { kgramHashes, tokenize, winnow } from '../engine/blocks.ts';
import { hasBlocks, languageOf } from '../engine/languages.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ShardReader, ShardWriter } from '../engine/shard.ts';

test('query language: literals, phrases, regexes, filters, negation, case', () => {
  const q = parseQuery('foo "bar baz" /a.*b/ repo:linux file:*.c lang:js case:yes -qux -file:test sym:main');
  assert.deepEqual(q.terms, [
    { kind: 'literal', text: 'foo', negated: false },
    { kind: 'literal', text: 'bar baz', negated: false },
    { kind: 'regex', source: 'a.*b', negated: false },
    { kind: 'literal', text: 'qux', negated: true },
    { kind: 'sym', text: 'main', regex: false, negated: false },
  ]);
  assert.deepEqual(q.repo, [{ negated: false, value: 'linux' }]);
  assert.deepEqual(q.file, [
    { negated: false, value: '*.c' },
    { negated: true, value: 'test' },
  ]);
  assert.deepEqual(q.lang, [{ negated: false, value: 'javascript' }]);
  assert.equal(q.caseSensitive, true);
  assert.equal(parseQuery('/a\\/b/').terms[0]!.kind, 'regex');
  assert.deepEqual(parseQuery('/a\\/b/').terms[0], { kind: 'regex', source: 'a/b', negated: false });
});

test('query language: clear errors naming the parameter', () => {
  for (const bad of ['', '   ', '"unterminated', '/(unclosed/', '/abc', 'case:maybe', 'x'.repeat(2000)]) {
    assert.throws(() => parseQuery(bad), (e: Error & { field?: string }) => e.field === 'q', bad);
  }
});

test('file: accepts globs, regexes and substrings', () => {
  assert.ok(pathMatcher('*.c').test('drivers/net/e1000.c'));
  assert.ok(!pathMatcher('*.c').test('drivers/net/e1000.h'));
  assert.ok(pathMatcher('drivers/**/*.c').test('drivers/net/x/e1000.c'));
  assert.ok(!pathMatcher('drivers/**/*.c').test('fs/x.c'));
  assert.ok(pathMatcher('/^fs\\/.*\\.h$/').test('fs/inode.h'));
  assert.ok(pathMatcher('Inode').test('fs/inode.c'));
  // A hostile glob is matched in linear time.
  assert.equal(pathMatcher('*a*a*a*a*a*a*a*a*a*a*b').test('a'.repeat(5000)), false);
});

function holds(q: TriQuery, line: string): boolean {
  const l = line.toLowerCase();
  switch (q.op) {
    case 'all':
      return true;
    case 'none':
      return false;
    case 'lit':
      return l.includes(q.text.toLowerCase());
    case 'and':
      return q.args.every((a) => holds(a, line));
    case 'or':
      return q.args.some((a) => holds(a, line));
  }
}

test('regex plans are sound: every line the regex matches satisfies the trigram query', () => {
  const atom = fc.oneof(
    fc.constantFrom('a', 'b', 'c', 'ab', 'abc', 'bca', 'x', '.', '\\.', '[ab]', '[a-c]', '\\w', '\\d', '(ab|cd)', '(abc|x)', 'é', '(ab.cd)', '(a.c)', '(x|ab.)', '[0-9a-f]', '[a-d1]'),
  );
  const piece = fc.tuple(atom, fc.constantFrom('', '', '', '*', '+', '?', '{2}', '{0,2}', '{3}', '{1,3}', '{2,}', '{4}')).map(([a, q]) => (q && a.length > 1 && !a.startsWith('[') && !a.startsWith('(') && !a.startsWith('\\') ? `(${a})${q}` : a + q));
  const regex = fc.array(piece, { minLength: 1, maxLength: 6 }).chain((ps) => fc.oneof(fc.constant(ps.join('')), fc.constant(`${ps.slice(0, 2).join('')}|${ps.slice(2).join('')}`)));
  const line = fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'x', '.', '1', ' ', 'A', 'B', 'é'), { maxLength: 30 }).map((cs) => cs.join(''));
  fc.assert(
    fc.property(regex, fc.array(line, { minLength: 5, maxLength: 20 }), (src, lines) => {
      let re: RE2JS;
      try {
        re = RE2JS.compile(src, RE2JS.CASE_INSENSITIVE);
      } catch {
        return true;
      }
      const plan = planRegex(src);
      for (const l of lines) if (re.test(l)) assert.ok(holds(plan, l), `${src} matches "${l}" but the plan ${JSON.stringify(plan)} rejects it`);
      return true;
    }),
    { numRuns: 1000 },
  );
});

test('regex plans extract the literals that make the index selective', () => {
  assert.deepEqual(planRegex('foo_bar'), { op: 'lit', text: 'foo_bar' });
  assert.deepEqual(planRegex('kmalloc\\(.*GFP_KERNEL'), { op: 'and', args: [{ op: 'lit', text: 'kmalloc(' }, { op: 'lit', text: 'GFP_KERNEL' }] });
  assert.deepEqual(planRegex('(spin|mutex)_lock'), { op: 'or', args: [{ op: 'lit', text: 'spin_lock' }, { op: 'lit', text: 'mutex_lock' }] });
  assert.deepEqual(planRegex('a.b'), { op: 'all' });
  // A group is exact only when all of it is: `x(ab.cd)y` needs xab and cdy, never "xcdy".
  assert.deepEqual(planRegex('x(ab.cd)y'), { op: 'and', args: [{ op: 'lit', text: 'xab' }, { op: 'lit', text: 'cdy' }] });
  // Small classes expand into alternatives across the literal's boundary (Russ Cox's method).
  assert.deepEqual(planRegex('0x[0-9a-f]{8}\\b'), { op: 'or', args: [...'0123456789abcdef'].map((c) => ({ op: 'lit', text: `0x${c}` })) });
  assert.deepEqual(planRegex('id_\\d\\d'), { op: 'or', args: [...'0123456789'].map((c) => ({ op: 'lit', text: `id_${c}` })) });
});

test('symbols: JavaScript/TypeScript, Python, Java, PHP and C definitions', () => {
  const names = (t: string, l: string) => extractSymbols(t, l).map((s) => `${s.kind}:${s.name}@${s.line}`);
  assert.deepEqual(names('export async function load(a) {\n}\nclass Store extends X {\n  get(key) {\n  }\n}\nconst mk = (x) => x;\ninterface P {}\n', 'typescript'), [
    'function:load@1',
    'class:Store@3',
    'method:get@4',
    'function:mk@7',
    'interface:P@8',
  ]);
  assert.deepEqual(names('def top(x):\n    pass\nclass Foo(Base):\n    async def run(self):\n', 'python'), ['function:top@1', 'class:Foo@3', 'function:run@4']);
  assert.deepEqual(names('public class Main {\n  public static void main(String[] args) {\n  }\n  private int count() {\n', 'java'), ['class:Main@1', 'method:main@2', 'method:count@4']);
  assert.deepEqual(names('<?php\nfinal class Repo {\n  public static function find($id) {\n}\nfunction helper() {}\n', 'php'), ['class:Repo@2', 'function:find@3', 'function:helper@5']);
  assert.deepEqual(names('#define MAX 4\nstruct dev {\n};\nstatic int probe(struct dev *d)\n{\n\tif (x) {\n}\nint main(void) {\n', 'c'), [
    'macro:MAX@1',
    'struct:dev@2',
    'function:probe@4',
    'function:main@8',
  ]);
});

test('block tokens ignore layout and comments, and normalise identifiers and literals', () => {
  const a = 'int total(int *v, int n) {\n  int s = 0; // sum\n  for (int i = 0; i < n; i++) s += v[i];\n  return s;\n}\n';
  const b = '/* renamed */\nint somme(int *tab,\n          int len) {\n  int acc = 42;\n  for (int k = 7; k < len; k++)\n    acc += tab[k];\n  return acc;\n}\n';
  const na = tokenize(a, 'c').map((t) => t.norm);
  const nb = tokenize(b, 'c').map((t) => t.norm);
  assert.deepEqual(na, nb);
  assert.deepEqual([...kgramHashes(tokenize(a, 'c'))], [...kgramHashes(tokenize(b, 'c'))]);
  const fps = winnow(kgramHashes(tokenize(a.repeat(4), 'c')));
  assert.ok(fps.length > 0);
  assert.equal(tokenize('x = "a\\"b" + 1\n# c\ny', 'python').map((t) => t.norm).join(' '), 'I = S + N I');
  // Words that are keywords elsewhere (new, class, string) are identifiers in C: renamed, they still match;
  // and a block pasted without its language tokenises as the indexed file did.
  const c1 = 'struct class *new = string_get(class, "x");\nif (!new) return -1;\n';
  const c2 = 'struct kind *fresh = text_get(kind, "y");\nif (!fresh) return -2;\n';
  assert.deepEqual(tokenize(c1, 'c').map((t) => t.norm), tokenize(c2, 'c').map((t) => t.norm));
  assert.deepEqual(tokenize(c1, null).map((t) => t.norm), tokenize(c1, 'c').map((t) => t.norm));
});

test('languages from file names', () => {
  assert.equal(languageOf('src/a.ts'), 'typescript');
  assert.equal(languageOf('drivers/x.h'), 'c');
  assert.equal(languageOf('Makefile'), 'make');
  assert.equal(languageOf('LICENSE'), null);
});

test('block fingerprints are kept for code only, not for text without a language or prose', () => {
  assert.equal(hasBlocks('c'), true);
  assert.equal(hasBlocks('make'), true);
  assert.equal(hasBlocks(null), false);
  assert.equal(hasBlocks('text'), false);
  assert.equal(hasBlocks('markdown'), false);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'commons-fp-'));
  try {
    const body = Buffer.from(Array.from({ length: 40 }, (_, i) => `int f${i}(int a) { if (a) return a + ${i}; else return g(a, ${i}); }`).join('\n') + '\n');
    const w = new ShardWriter(dir, 's');
    w.add('1'.repeat(40), body, null, null);
    w.add('2'.repeat(40), body, null, 'markdown');
    w.add('3'.repeat(40), body, null, 'c');
    w.finish();
    const r = new ShardReader(path.join(dir, 's'));
    const docs = new Set<number>();
    for (let i = 0; i < r.fp.length; i += 3) docs.add(r.fp[i + 1]!);
    assert.deepEqual([...docs], [2]);
    r.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Block search windows start at a token boundary: a window that would open inside a long block
 * comment holding a quote (or a Python docstring) starts where the comment opens, so the tokeniser
 * stays in step and an unchanged copy is found whole.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { addRepository, blockSearch as blockSearchService, indexRepository, searcher } from '../service.ts';
import { blockSearch, openedBefore } from '../engine/blocksearch.ts';
import { makeRepo, testContext } from './helpers.ts';

let ctx: Awaited<ReturnType<typeof testContext>>;

const FN = Array.from({ length: 20 }, (_, i) => `\tif (state->count_${i} > limit) {\n\t\tstate->count_${i} = reset_value(state, ${i});\n\t}`).join('\n');
const C_FUNCTION = `static int rebalance_state(struct state *state, int limit)\n{\n${FN}\n\treturn 0;\n}\n`;
const C_FILE = `/*\n${Array.from({ length: 120 }, (_, i) => ` * Licence line ${i}: it's the "terms" of use, don't remove.`).join('\n')}\n */\n\n#include <stdio.h>\n\n${C_FUNCTION}`;
const PY_FUNCTION = [
  'def merge_records(left, right, key="id"):',
  '    seen = {}',
  '    for row in left:',
  '        seen[row[key]] = dict(row)',
  '    for row in right:',
  '        current = seen.get(row[key])',
  '        if current is None:',
  '            seen[row[key]] = dict(row)',
  '            continue',
  '        for name, value in row.items():',
  '            if value not in (None, ""):',
  '                current[name] = value',
  '    ordered = sorted(seen.values(), key=lambda r: str(r[key]))',
  '    while ordered and not ordered[-1]:',
  '        ordered.pop()',
  '    return [r for r in ordered if r.get(key) is not None]',
  '',
].join('\n');
const PY_FILE = `"""\n${Array.from({ length: 100 }, (_, i) => `Module notes ${i}: it's "quoted" text.`).join('\n')}\n"""\n\n${PY_FUNCTION}`;

/** A 16-line C function; `name` and `v` rename it (the same structure: the same normalised tokens). */
const twin = (name: string, v: string) =>
  [
    `static int ${name}(struct queue *q, int ${v})`,
    '{',
    `\tint total = 0;`,
    `\tfor (int i = 0; i < q->len; i++) {`,
    `\t\tif (q->items[i].weight > ${v}) {`,
    `\t\t\ttotal += q->items[i].weight - ${v};`,
    `\t\t\tq->items[i].flags |= 4;`,
    '\t\t} else {',
    `\t\t\tq->items[i].flags &= ~4;`,
    '\t\t}',
    '\t}',
    `\tif (total > q->limit)`,
    `\t\treturn -1;`,
    `\tq->total = total;`,
    '\treturn 0;',
    '}',
  ].join('\n');
const LEFT = twin('queue_drain_left', 'low');
const RIGHT = twin('queue_drain_right', 'high');
const TWINS_FILE = `#include "queue.h"\n\n${LEFT}\n\n${RIGHT}\n`;
const FAR_FILE = `#include "queue.h"\n\n${RIGHT}\n\n${Array.from({ length: 300 }, (_, i) => `int spacer_${i} = ${i} * ${i + 1};`).join('\n')}\n\n${RIGHT}\n`;
const lineOf = (file: string, text: string, from = 0) => file.slice(0, file.indexOf(text, from)).split('\n').length;

before(async () => {
  ctx = await testContext();
  const dir = makeRepo({ 'src/state.c': C_FILE, 'lib/helpers.py': PY_FILE, 'src/twins.c': TWINS_FILE, 'src/far.c': FAR_FILE });
  await addRepository(ctx, dir, { slug: 'blocs' });
  await indexRepository(ctx, 'blocs', { worker: false });
});

after(async () => {
  await ctx.close();
});

test('the opening of the comment or docstring holding a byte', () => {
  const c = Buffer.from('int a;\n/* it\'s\n long */\nint b;\n');
  assert.equal(openedBefore(c, c.indexOf('long')), c.indexOf('/*'));
  assert.equal(openedBefore(c, c.indexOf('int b')), c.indexOf('int b'));
  const p = Buffer.from('x = 1\n"""\ndoc it\'s\n"""\ny = 2\n');
  assert.equal(openedBefore(p, p.indexOf('doc')), p.indexOf('"""'));
  assert.equal(openedBefore(p, p.indexOf('y = 2')), p.indexOf('y = 2'));
});

test('an unchanged function after a long comment holding quotes is found whole and identical', async () => {
  const s = await searcher(ctx);
  const r = blockSearch(s, C_FUNCTION);
  const m = r.matches.find((x) => x.path === 'src/state.c');
  assert.ok(m, 'found');
  const first = C_FILE.split('\n').indexOf('static int rebalance_state(struct state *state, int limit)') + 1;
  assert.deepEqual(m.lines, [first, first + C_FUNCTION.split('\n').length - 2]);
  assert.equal(m.identical, true);
  // The same with a Python function after a long docstring whose lines hold quotes: each line's
  // lone quote opens a string left open, which ends before its line's newline (it used to swallow
  // the newline, and every fingerprint after it pointed lines too early).
  const p = blockSearch(s, PY_FUNCTION, { lang: 'python' }).matches.find((x) => x.path === 'lib/helpers.py');
  assert.ok(p, 'found');
  const pyFirst = PY_FILE.split('\n').indexOf(PY_FUNCTION.split('\n')[0]!) + 1;
  assert.deepEqual(p.lines, [pyFirst, pyFirst + PY_FUNCTION.split('\n').length - 2]);
  assert.equal(p.exact, true);
});

test('two structurally identical functions in one file: both reported, the pasted one first', async () => {
  const s = await searcher(ctx);
  const r = blockSearch(s, RIGHT);
  const m = r.matches.find((x) => x.path === 'src/twins.c');
  assert.ok(m, 'found');
  const right = lineOf(TWINS_FILE, RIGHT);
  const left = lineOf(TWINS_FILE, LEFT);
  assert.equal(right - left, 17);
  // The pasted copy is the file's first span, byte for byte; its renamed twin 17 lines above follows.
  assert.deepEqual(m.lines, [right, right + 15]);
  assert.equal(m.exact, true);
  assert.equal(m.identical, true);
  assert.equal(m.excerpt.join('\n'), RIGHT);
  assert.equal(m.otherSpans.length, 1);
  const other = m.otherSpans[0]!;
  assert.deepEqual(other.lines, [left, left + 15]);
  assert.equal(other.exact, false);
  assert.equal(other.identical, false);
  assert.ok(other.similarity > 0.9, `the twin is a renamed copy (${other.similarity})`);
  assert.equal(other.excerpt.join('\n'), LEFT);
  // And the other way round: pasting the left one puts the left one first.
  const l = blockSearch(s, LEFT).matches.find((x) => x.path === 'src/twins.c')!;
  assert.deepEqual([l.lines, l.exact, l.otherSpans.map((x) => x.lines)], [[left, left + 15], true, [[right, right + 15]]]);
  // Byte-identical places rank before the renamed ones across files too.
  const ranked = r.matches.map((x) => x.exact);
  assert.deepEqual(ranked, [...ranked].sort((a, b) => Number(b) - Number(a)));
});

test('a block present twice far apart in one file: both places, each byte-identical', async () => {
  const s = await searcher(ctx);
  const m = blockSearch(s, RIGHT).matches.find((x) => x.path === 'src/far.c');
  assert.ok(m, 'found');
  const first = lineOf(FAR_FILE, RIGHT);
  const second = lineOf(FAR_FILE, RIGHT, FAR_FILE.indexOf(RIGHT) + 1);
  assert.ok(second - first > 300);
  assert.deepEqual([m.lines, ...m.otherSpans.map((x) => x.lines)], [[first, first + 15], [second, second + 15]]);
  assert.ok(m.exact && m.otherSpans[0]!.exact);
});

test('the API gives every span with its own permalink', async () => {
  const r = await blockSearchService(ctx, RIGHT, { limit: 10 });
  const m = r.matches.find((x) => x.path === 'src/twins.c')!;
  assert.match(m.permalink, new RegExp(`;lines=${m.lines[0]}-${m.lines[1]}$`));
  assert.match(m.otherSpans[0]!.permalink, new RegExp(`;lines=${m.otherSpans[0]!.lines[0]}-${m.otherSpans[0]!.lines[1]}$`));
});

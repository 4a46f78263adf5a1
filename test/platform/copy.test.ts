/**
 * copyRows: COPY's text format on both engines (PGlite `FROM '/dev/blob'`, PostgreSQL `FROM
 * STDIN`), hostile values round-trip exactly, a failed COPY leaves the transaction's rows as they were.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CopyBuffer, copyLine, copyRows, copyValue, type Db } from '../../src/platform/db/index.ts';
import { testDb } from '../support/db.ts';

const HOSTILE = [
  'plain', '', ' ', '\\', '\\\\N', '\\N', 'N', 'a\tb', 'a\nb', 'a\r\nb', '\r', '\\t\\n', 'tab\tnewline\nback\\slash',
  '"quoted"', "'single'", '{a,b}', '{"x"}', 'NULL', 'null', ',', '\u0018\u001e\u001f', '\u007f', 'é🙂漢字', '\u2028\u2029',
  'x'.repeat(100_000), "'); DROP TABLE t; --", '\\.', '\\.\n', 'end\\', '__proto__', 'constructor',
];

describe('copyRows', () => {
  let db: Db;
  before(async () => {
    db = await testDb();
    await db.exec('CREATE TABLE public.copy_t (n int, s text, a text[], f double precision, b boolean, d date)');
  });
  after(async () => db.close());

  it('escapes values in COPY text format', () => {
    assert.equal(copyValue(null), '\\N');
    assert.equal(copyValue('\\N'), '\\\\N');
    assert.equal(copyValue('a\tb\nc\rd\\e'), 'a\\tb\\nc\\rd\\\\e');
    assert.equal(copyValue(['a"b', 'c\\d', null]), '{"a\\\\"b","c\\\\\\\\d",NULL}');
    assert.equal(copyValue(true), 't');
    assert.equal(copyLine([1, null, 'x']), '1\t\\N\tx');
    assert.throws(() => copyValue('a\0b'), /NUL/);
  });

  it('round-trips hostile text and arrays exactly', async () => {
    const rows: unknown[][] = HOSTILE.map((s, i) => [i, s, [s, `${s}2`, ''], i / 3, i % 2 === 0, '2026-12-06']);
    rows.push([HOSTILE.length, null, [], null, null, null]);
    const n = await db.transaction((tx) => copyRows(tx, 'public.copy_t', ['n', 's', 'a', 'f', 'b', 'd'], rows));
    assert.equal(n, rows.length);
    const { rows: got } = await db.query<{ n: number; s: string | null; a: string[]; f: number | null; b: boolean | null; d: string | null }>('SELECT * FROM public.copy_t ORDER BY n');
    assert.equal(got.length, rows.length);
    for (let i = 0; i < HOSTILE.length; i++) {
      assert.equal(got[i]!.s, HOSTILE[i], `value ${i}`);
      assert.deepEqual(got[i]!.a, [HOSTILE[i], `${HOSTILE[i]}2`, ''], `array ${i}`);
      assert.equal(got[i]!.f, i / 3);
      assert.equal(got[i]!.b, i % 2 === 0);
      assert.equal(got[i]!.d, '2026-12-06');
    }
    assert.deepEqual(got[HOSTILE.length], { n: HOSTILE.length, s: null, a: [], f: null, b: null, d: null });
  });

  it('loads lines encoded into a CopyBuffer (grown past its first size) exactly as the same rows given as values', async () => {
    await db.query('DELETE FROM public.copy_t');
    const rows: unknown[][] = HOSTILE.map((s, i) => [i, s, [s, 'é🙂'], i / 7, i % 3 === 0, '2026-12-07']);
    const buf = new CopyBuffer(16); // far too small: every push may grow it
    for (const r of rows) buf.push(copyLine(r));
    assert.equal(buf.rows, rows.length);
    assert.equal(buf.data().toString('utf8'), `${rows.map(copyLine).join('\n')}\n`);
    const n = await db.transaction((tx) => copyRows(tx, 'public.copy_t', ['n', 's', 'a', 'f', 'b', 'd'], { data: buf.data() }));
    assert.equal(n, rows.length);
    const { rows: got } = await db.query<{ n: number; s: string; a: string[]; f: number; b: boolean; d: string }>('SELECT * FROM public.copy_t ORDER BY n');
    assert.deepEqual(got.map((g) => [g.n, g.s, g.a, g.f, g.b, g.d]), rows);
    assert.equal(await copyRows(db, 'public.copy_t', ['n'], { data: new CopyBuffer().data() }), 0);
  });

  it('works outside a transaction too, and refuses bad names', async () => {
    await db.query('DELETE FROM public.copy_t');
    assert.equal(await copyRows(db, 'public.copy_t', ['n', 's'], [[1, 'a'], [2, 'b\tc']]), 2);
    assert.deepEqual((await db.query('SELECT n, s FROM public.copy_t ORDER BY n')).rows, [{ n: 1, s: 'a' }, { n: 2, s: 'b\tc' }]);
    await assert.rejects(copyRows(db, 'public.copy_t; DROP TABLE x', ['n'], [[1]]), /invalid table/);
    await assert.rejects(copyRows(db, 'public.copy_t', ['n) FROM PROGRAM (x'], [[1]]), /invalid column/);
    assert.equal(await copyRows(db, 'public.copy_t', ['n'], []), 0);
  });

  it('a failed COPY rolls back with its transaction and leaves rows unchanged', async () => {
    await db.query('DELETE FROM public.copy_t');
    await db.query("INSERT INTO public.copy_t (n, s) VALUES (1, 'kept')");
    await assert.rejects(
      db.transaction(async (tx) => {
        await copyRows(tx, 'public.copy_t', ['n', 's'], [[2, 'ok']]);
        await copyRows(tx, 'public.copy_t', ['n', 's'], [['not a number', 'bad']]);
      }),
      /integer|invalid input/,
    );
    assert.deepEqual((await db.query('SELECT n, s FROM public.copy_t ORDER BY n')).rows, [{ n: 1, s: 'kept' }]);
    // The connection is usable afterwards.
    assert.equal(await db.transaction((tx) => copyRows(tx, 'public.copy_t', ['n', 's'], [[3, 'après']])), 1);
    assert.equal((await db.query('SELECT count(*)::int AS c FROM public.copy_t')).rows[0]!.c, 2);
  });
});

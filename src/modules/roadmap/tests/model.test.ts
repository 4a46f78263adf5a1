/** Pure rules: SIRET checksum, PILOTE progress, roll-up, cycles, links, CSV formula guard. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createsCycle, isValidSiret, parseLinks, piloteProgress, rollup } from '../model.ts';
import { toCsv } from '../exports.ts';

test('SIRET: Luhn checksum, La Poste exception, shape', () => {
  assert.equal(isValidSiret('73282932000074'), true); // a well-known valid SIRET
  assert.equal(isValidSiret('73282932000075'), false);
  assert.equal(isValidSiret('35600000000010'), true); // La Poste: digit sum multiple of 5
  assert.equal(isValidSiret('35600000000011'), false);
  assert.equal(isValidSiret('7328293200007'), false);
  assert.equal(isValidSiret('7328293200007a'), false);
  // Changing any single digit of a valid (non-La Poste) SIRET breaks the checksum.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 13 }), fc.integer({ min: 1, max: 9 }), (pos, delta) => {
      const s = '73282932000074';
      const d = (Number(s[pos]) + delta) % 10;
      return !isValidSiret(s.slice(0, pos) + d + s.slice(pos + 1));
    }),
  );
});

test('PILOTE progress: formula, clamping, lower-is-better, explanations', () => {
  assert.equal(piloteProgress(10, 15, 20).value, 0.5);
  assert.match(piloteProgress(10, 15, 20).explanation, /50 %/);
  const over = piloteProgress(10, 30, 20);
  assert.equal(over.value, 1);
  assert.match(over.explanation, /dépassée/);
  const back = piloteProgress(10, 5, 20);
  assert.equal(back.value, 0);
  assert.match(back.explanation, /recul/);
  assert.equal(piloteProgress(100, 70, 40).value, 0.5); // lower is better: 100 → 40, now 70
  assert.equal(piloteProgress(null, 3, 10).value, null);
  assert.equal(piloteProgress(1, 3, null).value, null);
  assert.match(piloteProgress(1, 3, null).explanation, /Pas de cible/);
  assert.equal(piloteProgress(5, 5, 5).value, 1);
  fc.assert(
    fc.property(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), fc.double({ noNaN: true, min: -1e6, max: 1e6 }), fc.double({ noNaN: true, min: -1e6, max: 1e6 }), (a, b, c) => {
      const v = piloteProgress(a, b, c).value;
      return v !== null && v >= 0 && v <= 1;
    }),
  );
});

test('roll-up: own indicators first, then weighted children, réalisé counts as done, abandoned left out', () => {
  const p = rollup([
    { id: 'axe', parentId: null, weight: 1, status: 'en_cours', own: [] },
    { id: 'a1', parentId: 'axe', weight: 3, status: 'en_cours', own: [{ value: 0.5, weight: 1 }, { value: 1, weight: 1 }] },
    { id: 'a2', parentId: 'axe', weight: 1, status: 'realise', own: [] },
    { id: 'a3', parentId: 'axe', weight: 5, status: 'abandonne', own: [{ value: 0, weight: 1 }] },
    { id: 'a4', parentId: 'axe', weight: 1, status: 'a_venir', own: [{ value: null, weight: 1 }] },
  ]);
  assert.equal(p.get('a1'), 0.75);
  assert.equal(p.get('a2'), 1);
  assert.equal(p.get('a4'), null);
  assert.equal(p.get('axe'), (0.75 * 3 + 1) / 4);
});

test('cycles are detected through any depth', () => {
  const parents = new Map<string, string | null>([['a', null], ['b', 'a'], ['c', 'b'], ['d', null]]);
  assert.equal(createsCycle('a', 'c', parents), true);
  assert.equal(createsCycle('a', 'a', parents), true);
  assert.equal(createsCycle('c', 'd', parents), false);
  assert.equal(createsCycle('b', null, parents), false);
});

test('links to other modules: allow-listed kinds, stable ids, hostile names refused', () => {
  assert.deepEqual(parseLinks('place:abc-1|software:outil'), [{ kind: 'place', id: 'abc-1' }, { kind: 'software', id: 'outil' }]);
  assert.throws(() => parseLinks([{ kind: '__proto__', id: 'x' }]), (e: Error & { field?: string }) => e.field === 'links[0].kind');
  assert.throws(() => parseLinks([{ kind: 'place', id: 'a b<script>' }]), (e: Error & { field?: string }) => e.field === 'links[0].id');
});

test('CSV: quotes, CRLF and no formula injection', () => {
  const csv = toCsv({ columns: ['a', 'b', 'c'], rows: [['=HYPERLINK("x")', -3, 'x,"y"'], ['-12.5', '@cmd', null]] });
  assert.equal(csv, `a,b,c\r\n"'=HYPERLINK(""x"")",-3,"x,""y"""\r\n-12.5,'@cmd,\r\n`);
});

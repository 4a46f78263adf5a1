/** The pure rules: SIRET (Luhn, La Poste), forms and answers, budgets, fingerprints, weighted scores. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fingerprint, missing, parseAnswers, parseForm, parseLocalDateTime, siretProblem, weightedScore } from '../model.ts';
import { FORM } from './support.ts';

test('SIRET: 14 digits, Luhn checksum, La Poste’s establishments by the sum of their digits', () => {
  assert.equal(siretProblem('732 829 320 00074'), null);
  assert.match(siretProblem('73282932000075')!, /clé de contrôle/);
  assert.match(siretProblem('7328293200007')!, /14 chiffres/);
  assert.match(siretProblem('7328293200007a')!, /14 chiffres/);
  assert.equal(siretProblem('35600000000048'), null); // La Poste's head office: Luhn
  assert.equal(siretProblem('35600000049837'), null); // an establishment: sum 45, not Luhn
  assert.match(siretProblem('35600000049838')!, /La Poste/);
});

test('forms: typed questions checked, conditions point backwards, one requested amount', () => {
  const f = parseForm(FORM);
  assert.equal(f.questions.length, 9);
  const bad = (form: unknown, field: RegExp) => assert.throws(() => parseForm(form), (e: { field: string }) => field.test(e.field));
  bad({ ...FORM, questions: [{ id: 'a', label: 'A', type: 'video' }] }, /^questions\[0\]\.type$/);
  // File questions (session 9): the kinds accepted and the largest size are checked too.
  bad({ ...FORM, questions: [{ id: 'a', label: 'A', type: 'file', accept: ['exe'] }] }, /^questions\[0\]\.accept$/);
  bad({ ...FORM, questions: [{ id: 'a', label: 'A', type: 'file', accept: ['__proto__'] }] }, /^questions\[0\]\.accept$/);
  bad({ ...FORM, questions: [{ id: 'a', label: 'A', type: 'file', maxBytes: 1e12 }] }, /^questions\[0\]\.maxBytes$/);
  bad({ ...FORM, questions: [{ id: 'a', label: 'A', type: 'choice', options: ['x'] }] }, /^questions\[0\]\.options$/);
  bad({ ...FORM, questions: [{ id: 'constructor', label: 'A', type: 'short_text' }] }, /^questions\[0\]\.id$/); // reserved: would read as answered
  bad({ ...FORM, criteria: [{ id: 'tostring', label: 'X', weight: 1 }, { id: 'valueOf', label: 'Y', weight: 1 }] }, /^criteria\[1\]\.id$/);
  bad({ ...FORM, questions: [{ id: 'a', label: 'A', type: 'short_text', showIf: { question: 'b', equals: 'x' } }, { id: 'b', label: 'B', type: 'short_text' }] }, /showIf\.question$/);
  bad({ ...FORM, questions: [{ id: 'a', label: 'A', type: 'number', requested: true }] }, /requested$/);
  bad({ ...FORM, criteria: [{ id: 'x', label: 'X', weight: 0 }] }, /^criteria\[0\]\.weight$/);
  bad({ ...FORM, questions: [{ id: 'A B', label: 'x', type: 'short_text' }] }, /^questions\[0\]\.id$/);
  bad({ ...FORM, questions: [{ id: 'a', label: 'a\u0000', type: 'short_text' }] }, /label$/);
});

test('answers: each checked against its question; hidden ones dropped; budgets must balance to submit', () => {
  const f = parseForm(FORM);
  const a = parseAnswers(f, { resume: 'x', public: ['Jeunes'], volet: 'Aménagement', detail: 'caché', montant: '12 500,50', budget: { expenses: [{ label: 'Travaux', amount: '100' }], resources: [{ label: 'Région', amount: '60' }] } }, 1);
  assert.equal(a.detail, undefined);
  assert.equal(a.montant, 12500.5);
  const gaps = missing(f, a, 1, 'Titre');
  assert.deepEqual(gaps.map((g) => g.field), ['q_budget']);
  assert.match(gaps[0]!.message, /n’est pas équilibré.*écart 40/);
  assert.throws(() => parseAnswers(f, { public: ['Inconnu'] }, 1), { field: 'answers.public' });
  assert.throws(() => parseAnswers(f, { montant: '500' }, 1), { field: 'answers.montant' });
  assert.throws(() => parseAnswers(f, { montant: '1e9' }, 1), { field: 'answers.montant' });
  assert.throws(() => parseAnswers(f, { debut: '2026-02-30' }, 1), { field: 'answers.debut' });
  assert.throws(() => parseAnswers(f, { postes: '0' }, 1), { field: 'answers.postes' });
  assert.throws(() => parseAnswers(f, { budget: { expenses: [{ label: '', amount: '1' }] } }, 1), { field: 'answers.budget.expenses[0].label' });
  assert.throws(() => parseAnswers(f, { budget: { expenses: Array.from({ length: 31 }, () => ({ label: 'x', amount: '1' })) } }, 1), { field: 'answers.budget.expenses' });
  // stage 2 questions are asked only at the second stage
  assert.ok(!missing(f, a, 1, 'T').some((g) => g.field === 'q_suite'));
  assert.ok(missing(f, a, 2, 'T').some((g) => g.field === 'q_suite'));
});

test('fingerprint: SHA-256 of the canonical answers, independent of key order', () => {
  const x = fingerprint({ title: 'T', answers: { a: 1, b: 'x' }, formVersion: 1 });
  assert.match(x, /^[0-9a-f]{64}$/);
  assert.equal(x, fingerprint({ formVersion: 1, answers: { b: 'x', a: 1 }, title: 'T' }));
  assert.notEqual(x, fingerprint({ title: 'T', answers: { a: 2, b: 'x' }, formVersion: 1 }));
});

test('weighted score: per-criterion means scaled, weighted; hard conflicts and undeclared reviews left out', () => {
  const c = [{ id: 'i', label: 'I', weight: 3, scale: 5 }, { id: 'f', label: 'F', weight: 1, scale: 10 }];
  assert.equal(weightedScore(c, []), null);
  assert.equal(weightedScore(c, [{ conflict: 'none', waived: false, scores: { i: 5, f: 10 } }]), 100);
  assert.equal(weightedScore(c, [{ conflict: 'none', waived: false, scores: { i: 4, f: 5 } }, { conflict: 'soft', waived: false, scores: { i: 2, f: 5 } }]), 57.5); // (3×0.6 + 1×0.5) / 4
  assert.equal(weightedScore(c, [{ conflict: 'none', waived: false, scores: { i: 4, f: 5 } }, { conflict: 'hard', waived: false, scores: { i: 0, f: 0 } }]), 72.5);
});

test('local date-times are read in Paris time, summer and winter', () => {
  assert.equal(parseLocalDateTime('2026-07-01T12:00', 'x', 'x').toISOString(), '2026-07-01T10:00:00.000Z');
  assert.equal(parseLocalDateTime('2026-01-15T12:00', 'x', 'x').toISOString(), '2026-01-15T11:00:00.000Z');
});

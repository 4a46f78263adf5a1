/**
 * The demo (after the roadmap's): three processes from the founding documents, meetings in each
 * département of Bourgogne-Franche-Comté, a budget vote open now whose totals match a recount, a
 * result tied to the roadmap action; the live indicators and the link resolver answer; the pages
 * are served. Plus the pure rules (voting rules, ranking, roll-up, phases).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { silentProgress } from '../../../platform/progress.ts';
import { roadmapModule, liveIndicators } from '../../roadmap/index.ts';
import { consultationModule } from '../index.ts';
import { basketProblem, currentPhase, rankWithinBudget, rollUp, parseEuros, type BudgetRule, type Phase } from '../model.ts';
import * as svc from '../service.ts';

describe('consultation demo', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  before(async () => {
    t = await testApp();
    await roadmapModule.seedDemo!({ ...t.ctx, progress: silentProgress });
    await consultationModule.seedDemo!({ ...t.ctx, progress: silentProgress });
  });
  after(async () => t.close());

  test('three processes, meetings in the eight départements, idempotent', async () => {
    const list = await svc.listProcesses(t.db);
    assert.deepEqual(list.map((p) => p.region).sort(), ['11', '24', '27']);
    await consultationModule.seedDemo!({ ...t.ctx, progress: silentProgress });
    assert.equal((await svc.listProcesses(t.db)).length, 3);
    const bfc = (await svc.getProcess(t.db, 'concertation-tiers-lieux-bfc'))!;
    const meetings = await svc.listMeetings(t.db, bfc.id);
    assert.deepEqual(meetings.map((m) => m.departement).sort(), ['21', '25', '39', '58', '70', '71', '89', '90']);
    assert.equal(currentPhase(bfc.phases, new Date())?.proposalsOpen, true);
  });

  test('the budget vote is open, its counters match a recount, the results page ranks within the budget', async () => {
    const idf = (await svc.getProcess(t.db, 'budget-participatif-briques-libres-idf'))!;
    assert.equal(currentPhase(idf.phases, new Date())?.votesOpen, true);
    for (const b of await svc.listBudgets(t.db, idf.id)) {
      const tally = await svc.tally(t.db, b);
      const recount = await svc.recount(t.db, b.id);
      assert.ok(tally.voters > 50);
      for (const x of tally.projects) assert.equal(x.votes, recount.get(x.id) ?? 0);
      const funded = tally.projects.filter((x) => x.funded).reduce((s, x) => s + x.costCents, 0);
      assert.ok(funded <= b.amountCents);
    }
    const page = await t.app.inject({ method: 'GET', url: '/concertations/budget-participatif-briques-libres-idf/budgets/paris/resultats', headers: { accept: 'text/html' } });
    assert.equal(page.statusCode, 200);
    // The demo's vote is open: its totals are sealed until it closes.
    assert.match(page.body, /les voix de chaque projet seront publiées à sa clôture/);
  });

  test('results link to the roadmap action; live indicators and the link resolver answer', async () => {
    const cvl = (await svc.getProcess(t.db, 'strategie-numerique-inclusif-cvl'))!;
    const results = await svc.listResults(t.db, cvl.id);
    const parent = results.find((r) => !r.parentId && r.roadmapNode)!;
    assert.equal(parent.roadmapPlan, 'centre-val-de-loire-numerique-inclusif');
    assert.equal(parent.rolledProgress, Math.round((60 + 45 + 30 + 80 + 50 + 70) / 6));
    const page = await t.app.inject({ method: 'GET', url: '/concertations/strategie-numerique-inclusif-cvl/resultats', headers: { accept: 'text/html' } });
    assert.match(page.body, /action de la feuille de route/);
    const proposals = liveIndicators().find((i) => i.id === 'consultation.proposals')!;
    const values = await proposals.compute({ db: t.db }, [{ level: 'region', code: '27' }, { level: 'region', code: '28' }, { level: 'departement', code: '21' }]);
    assert.deepEqual([...values], [['region:27', 5], ['region:28', 0], ['departement:21', 0]]);
    const votes = liveIndicators().find((i) => i.id === 'consultation.budget_votes')!;
    const v = await votes.compute({ db: t.db }, [{ level: 'departement', code: '75' }]);
    assert.ok((v.get('departement:75') ?? 0) > 50);
  });

  test('every public page of the demo is served', async () => {
    for (const url of ['/concertations', '/concertations/concertation-tiers-lieux-bfc', '/concertations/concertation-tiers-lieux-bfc/rencontres', '/concertations/concertation-tiers-lieux-bfc/propositions/1', '/concertations/strategie-numerique-inclusif-cvl', '/concertations/budget-participatif-briques-libres-idf/budgets/paris', '/concertations/budget-participatif-briques-libres-idf/moderation']) {
      const r = await t.app.inject({ method: 'GET', url, headers: { accept: 'text/html' } });
      assert.equal(r.statusCode, 200, url);
      assert.match(r.body, /<html lang="fr"/, url);
    }
  });
});

describe('consultation rules', () => {
  const rule = (o: Partial<BudgetRule>): BudgetRule => ({ amountCents: 1000, rule: 'threshold', thresholdPct: 70, minProjects: 1, maxProjects: null, ...o });
  test('three voting rules, never above the budget', () => {
    assert.equal(basketProblem(rule({}), []), 'Votre panier est vide : ajoutez au moins un projet.');
    assert.match(basketProblem(rule({}), [600])!, /au moins 70 %/);
    assert.equal(basketProblem(rule({}), [700]), null);
    assert.match(basketProblem(rule({}), [700, 400])!, /dépasse le budget/);
    assert.match(basketProblem(rule({ rule: 'minimum', minProjects: 3 }), [100, 100])!, /au moins 3 projets \(2 projets/);
    assert.equal(basketProblem(rule({ rule: 'minimum', minProjects: 3 }), [100, 100, 100]), null);
    assert.match(basketProblem(rule({ rule: 'range', minProjects: 1, maxProjects: 2 }), [100, 100, 100])!, /au plus 2 projets/);
    assert.equal(basketProblem(rule({ rule: 'range', minProjects: 1, maxProjects: 2 }), [100]), null);
  });
  test('ranking within the budget passes over a project that does not fit', () => {
    const r = rankWithinBudget(1000, [{ title: 'A', votes: 10, costCents: 700 }, { title: 'B', votes: 8, costCents: 500 }, { title: 'C', votes: 5, costCents: 300 }, { title: 'D', votes: 0, costCents: 1 }]);
    assert.deepEqual(r.map((x) => [x.title, x.rank, x.funded]), [['A', 1, true], ['B', 2, false], ['C', 3, true], ['D', 4, false]]);
  });
  test('phases follow the clock; progress rolls up; euros parse', () => {
    const ph = (s: string, e: string): Phase => ({ id: s, position: 1, title: s, startsAt: s, endsAt: e, proposalsOpen: true, supportsOpen: false, commentsOpen: false, votesOpen: false });
    const phases = [ph('2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z'), ph('2026-02-01T00:00:00Z', '2026-03-01T00:00:00Z')];
    assert.equal(currentPhase(phases, new Date('2026-02-01T00:00:00Z'))?.id, '2026-02-01T00:00:00Z');
    assert.equal(currentPhase(phases, new Date('2026-03-01T00:00:00Z')), null);
    const m = rollUp([{ id: 'p', parentId: null, progress: null, status: 'ongoing' }, { id: 'a', parentId: 'p', progress: 20, status: 'ongoing' }, { id: 'b', parentId: 'p', progress: null, status: 'done' }]);
    assert.equal(m.get('p'), 60);
    assert.equal(parseEuros('12 500,50 €'), 1_250_050);
    assert.equal(parseEuros('1e9'), null);
  });
});

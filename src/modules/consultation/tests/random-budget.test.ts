/**
 * The `random` participatory-budget workflow (Decidim): each voter is assigned one budget of the
 * process at random, once; they vote there only, once. Checked on the service (concurrent first
 * visits agree on one draw; every other budget refused, rows unchanged) and over HTTP (the page says
 * which budget is theirs; replaying a basket or vote request against another budget changes nothing).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import * as svc from '../service.ts';
import { at, makeProcess, snapshot } from './support.ts';

const { depsOf, makeUser, signedInBrowser } = accountsTesting;
const person = (): svc.Participant => ({ id: crypto.randomUUID(), emailVerified: true, createdAt: at(-100).toISOString() });

describe('consultation: the random budget workflow', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let ctx: svc.Ctx;
  let p: svc.Process;
  const budgets: svc.Budget[] = [];
  const projectsOf = new Map<string, string[]>();
  before(async () => {
    t = await testApp();
    ctx = { db: t.db };
    p = await makeProcess(t.db, { votes: true }, { budgetWorkflow: 'random' });
    for (const [slug, title] of [['nord', 'Nord'], ['centre', 'Centre'], ['sud', 'Sud']] as const) {
      await svc.createBudget(ctx, null, p.id, { slug, title, departement: null, amountCents: 100_000, rule: 'minimum', thresholdPct: 70, minProjects: 1, maxProjects: null });
      const b = (await svc.getBudget(t.db, p.id, slug))!;
      budgets.push(b);
      projectsOf.set(b.id, [await svc.createProject(ctx, null, b.id, { title: `Projet ${title} 1`, costCents: 30_000 }), await svc.createProject(ctx, null, b.id, { title: `Projet ${title} 2`, costCents: 40_000 })]);
    }
  });
  after(async () => t.close());

  test('the process form accepts « random » and the database keeps it', async () => {
    assert.equal(p.budgetWorkflow, 'random');
    const row = await t.db.query<{ budget_workflow: string }>('SELECT budget_workflow FROM consultation.process WHERE id = $1', [p.id]);
    assert.equal(row.rows[0]!.budget_workflow, 'random');
  });

  test('one draw per person, stable, even with 8 concurrent first visits; audited once', async () => {
    const voter = person();
    const draws = await Promise.all(Array.from({ length: 8 }, () => svc.ensureAssignedBudget(ctx, p, voter.id)));
    assert.equal(new Set(draws.map((d) => d!.id)).size, 1);
    assert.ok(budgets.some((b) => b.id === draws[0]!.id));
    for (let i = 0; i < 5; i++) assert.equal((await svc.ensureAssignedBudget(ctx, p, voter.id))!.id, draws[0]!.id);
    const rows = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.budget_assignment WHERE user_id = $1', [voter.id]);
    assert.equal(rows.rows[0]!.n, 1);
    const audit = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM platform.audit_entry WHERE action = 'consultation.budget.assign' AND actor_id = $1`, [voter.id]);
    assert.equal(audit.rows[0]!.n, 1);
  });

  test('the draw spreads voters over every budget', async () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const a = (await svc.ensureAssignedBudget(ctx, p, crypto.randomUUID()))!;
      seen.set(a.id, (seen.get(a.id) ?? 0) + 1);
    }
    // 60 draws among 3 budgets: each is drawn (a budget never drawn has a probability of 3 × (2/3)^60 ≈ 1e-10)
    assert.equal(seen.size, 3);
  });

  test('a voter adds to and votes in their budget only; the others are refused with rows unchanged; one vote in all', async () => {
    const voter = person();
    const mine = (await svc.ensureAssignedBudget(ctx, p, voter.id))!;
    const own = budgets.find((b) => b.id === mine.id)!;
    const others = budgets.filter((b) => b.id !== mine.id);
    const before = await snapshot(t.db);
    for (const o of others) {
      await assert.rejects(svc.addToBasket(ctx, p, o, voter, projectsOf.get(o.id)![0]!), (e: Error & { code?: string; statusCode?: number }) => e.code === 'not_assigned_budget' && e.statusCode === 403 && /attribué au hasard/.test(e.message));
      await assert.rejects(svc.checkout(ctx, p, o, voter, {}), (e: Error & { code?: string }) => e.code === 'not_assigned_budget');
    }
    assert.deepEqual(await snapshot(t.db), before);
    await svc.addToBasket(ctx, p, own, voter, projectsOf.get(own.id)![0]!);
    await svc.checkout(ctx, p, own, voter, {});
    const ballots = await t.db.query<{ scope_id: string }>('SELECT scope_id FROM consultation.ballot WHERE user_id = $1', [voter.id]);
    assert.deepEqual(ballots.rows.map((r) => r.scope_id), [p.id], 'one ballot, scoped to the process');
    const after = await snapshot(t.db);
    for (const o of others) await assert.rejects(svc.addToBasket(ctx, p, o, voter, projectsOf.get(o.id)![1]!), /n’est pas le vôtre/);
    assert.deepEqual(await snapshot(t.db), after);
  });

  test('over HTTP: the page names the drawn budget; replaying requests against another budget changes nothing', async () => {
    const deps = depsOf(t.app);
    const user = await makeUser(deps, `hasard-${crypto.randomUUID().slice(0, 8)}@exemple.fr`, [], 'Votant');
    const browser = await signedInBrowser(t.app, deps, user);
    const first = await browser.get(`/concertations/${p.slug}/budgets/${budgets[0]!.slug}`);
    assert.equal(first.status, 200);
    const mine = (await svc.assignedBudget(t.db, p.id, user.id))!;
    assert.ok(mine, 'the first visit draws the budget');
    const own = budgets.find((b) => b.id === mine.id)!;
    const other = budgets.find((b) => b.id !== mine.id)!;
    const ownPage = await browser.get(`/concertations/${p.slug}/budgets/${own.slug}`);
    assert.match(ownPage.body, /Ce budget vous a été attribué au hasard/);
    assert.match(ownPage.body, /Ajouter au panier/);
    const otherPage = await browser.get(`/concertations/${p.slug}/budgets/${other.slug}`);
    assert.match(otherPage.body, new RegExp(`Le budget qui vous a été attribué au hasard est <a href="[^"]+/budgets/${own.slug}">« ${own.title} »</a>`));
    assert.doesNotMatch(otherPage.body, /Ajouter au panier/);
    const before = await snapshot(t.db);
    for (let i = 0; i < 3; i++) {
      const add = await browser.post(`/concertations/${p.slug}/budgets/${other.slug}/panier`, { op: 'add', projectId: projectsOf.get(other.id)![0]! });
      assert.equal(add.status, 403);
      assert.match(add.body, /Ce budget n’est pas le vôtre/);
      const vote = await browser.post(`/concertations/${p.slug}/budgets/${other.slug}/vote`, {});
      assert.equal(vote.status, 403);
    }
    assert.deepEqual(await snapshot(t.db), before);
    assert.equal((await svc.assignedBudget(t.db, p.id, user.id))!.id, own.id, 'still the same budget');
    assert.equal((await browser.post(`/concertations/${p.slug}/budgets/${own.slug}/panier`, { op: 'add', projectId: projectsOf.get(own.id)![1]! })).status, 200);
    const done = await browser.post(`/concertations/${p.slug}/budgets/${own.slug}/vote`, {});
    assert.equal(done.status, 200);
    assert.match(done.body, /Votre vote est enregistré/);
  });
});

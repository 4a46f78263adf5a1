/**
 * The demo roadmaps: the five régions' plans with their announced figures, values filled in, live
 * indicators computed afterwards (afterDemo), and their pages served.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { silentProgress } from '../../../platform/progress.ts';
import { roadmapModule } from '../index.ts';
import * as service from '../service.ts';
import { planBudgets } from '../money.ts';

let t: Awaited<ReturnType<typeof testApp>>;

before(async () => {
  t = await testApp();
  await roadmapModule.seedDemo!({ ...t.ctx, progress: silentProgress });
  await roadmapModule.afterDemo!({ ...t.ctx, progress: silentProgress });
});
after(async () => t.close());

test('five plans with their real figures, idempotent', async () => {
  const plans = await service.listPlans(t.db, {});
  assert.deepEqual(plans.map((p) => p.territory.code).sort(), ['11', '24', '27', '28', '75']);
  await roadmapModule.seedDemo!({ ...t.ctx, progress: silentProgress });
  assert.equal((await service.listPlans(t.db, {})).length, 5);
  const idf = (await service.getPlan(t.db, 'ile-de-france-politique-numerique'))!;
  const aps = (await planBudgets(t.db, idf.id)).map((b) => b.ap).sort((a, b) => a - b);
  assert.deepEqual(aps, [50_000, 200_000, 150_000_000]);
  const na = (await service.getPlan(t.db, 'nouvelle-aquitaine-numerique-responsable'))!;
  assert.equal(na.vote.date, '2020-10-05');
  const tree = await service.getTree(t.db, na.id);
  assert.equal(tree.filter((n) => n.kind === 'objectif').length, 4);
  assert.ok(['Action 10', 'Action 14', 'Action 18'].every((n) => tree.some((x) => x.number === n)));
  const nor = (await service.getPlan(t.db, 'normandie-plan-numerique'))!;
  const target = (await service.getSeries(t.db, 'nor-parcours', nor.territory)).filter((v) => v.kind === 'target');
  assert.deepEqual(target.map((v) => v.value), [15_000]);
});

test('live indicators are computed after the demo, and the pages show them', async () => {
  const s = await service.getSeries(t.db, 'commons.software', { level: 'region', code: '75' });
  assert.ok(s.some((v) => v.kind === 'result' && v.source === 'calcul'));
  const coverage = await service.getSeries(t.db, 'coverage.population-within-10km', { level: 'region', code: '28' });
  assert.ok(coverage.some((v) => v.kind === 'result'));
  for (const slug of ['ile-de-france-politique-numerique', 'bourgogne-franche-comte-numerique-pour-tous', 'centre-val-de-loire-numerique-inclusif', 'normandie-plan-numerique', 'nouvelle-aquitaine-numerique-responsable']) {
    const res = await t.app.inject({ url: `/feuilles-de-route/${slug}` });
    assert.equal(res.statusCode, 200, slug);
    assert.equal((await t.app.inject({ url: `/feuilles-de-route/${slug}/synthese` })).statusCode, 200);
    // The territory's governance bodies, with their members.
    if (slug === 'centre-val-de-loire-numerique-inclusif') {
      assert.match(res.body, /<h2>Gouvernance<\/h2>\s*<ul><li><strong>Commission régionale de la stratégie numérique<\/strong> — commission, réunion annuelle/);
      assert.match(res.body, /<li>Agence nationale de la cohésion des territoires \(membre\)<\/li>/);
    }
  }
  const nor = (await service.getPlan(t.db, 'normandie-plan-numerique'))!;
  const action = (await service.getTree(t.db, nor.id)).find((n) => n.number === 'Action 1')!;
  const page = await t.app.inject({ url: `/feuilles-de-route/${nor.slug}/actions/${action.id}` });
  assert.match(page.body, /<svg class="chart"/);
  assert.match(page.body, /15\s000 parcours/);
  const scdl = await t.app.inject({ url: `/api/v1/roadmap/plans/${nor.slug}/export/budget-scdl.csv` });
  assert.equal(scdl.statusCode, 200);
  assert.match(scdl.body, /^BGT_NATDEC,BGT_ANNEE,BGT_SIRET/);
});

test('the open-data page lists every published plan’s tables', async () => {
  const res = await t.app.inject({ url: '/donnees' });
  assert.equal(res.statusCode, 200);
  assert.match(res.body, /<h2 id="feuilles-de-route">Feuilles de route du numérique<\/h2>/);
  assert.match(res.body, /href="\/api\/v1\/roadmap\/plans\/normandie-plan-numerique\/export\/budget-scdl\.csv"/);
  assert.doesNotMatch(res.body, /ile-de-france-politique-numerique\/export\/budget-scdl/); // no SIRET given
  for (const href of [...res.body.matchAll(/href="(\/api\/v1\/roadmap\/[^"]+)"/g)].map((m) => m[1]!).slice(0, 20)) {
    assert.equal((await t.app.inject({ url: href })).statusCode, 200, href);
  }
});

/**
 * The use cases against a real database: plans and trees of any depth, versions and the plan as
 * voted on a date, refusals that leave every row unchanged, governance bodies, money (CP ≤ AP,
 * envelopes drawn atomically under concurrency), indicators, progress and the live recompute.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDb } from '../../../../test/support/db.ts';
import type { Db } from '../../../platform/db/index.ts';
import { listAudit } from '../../../platform/audit/index.ts';
import { UserError } from '../../../platform/http/errors.ts';
import * as service from '../service.ts';
import * as money from '../money.ts';
import { recomputeLive, registerIndicator } from '../live.ts';
import type { Plan } from '../model.ts';
import { barometer } from '../views.ts';
import { storeSnapshot } from '../snapshot.ts';

let db: Db;
let plan: Plan;

/** Every row of the module's tables, to compare before and after a refused write. */
async function snapshot(): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const t of ['plan', 'node', 'change', 'budget', 'budget_year', 'cofinancing', 'envelope', 'envelope_draw', 'indicator', 'indicator_link', 'indicator_value', 'series_summary', 'plan_cache', 'body', 'body_member']) {
    out[t] = (await db.query(`SELECT * FROM roadmap.${t} ORDER BY 1, 2`)).rows;
  }
  out.audit = (await db.query('SELECT count(*)::int AS n FROM platform.audit_entry')).rows;
  return JSON.stringify(out);
}

async function refused(fn: () => Promise<unknown>, field: string | RegExp, status = 400) {
  const before = await snapshot();
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.equal(e.statusCode, status, e.message);
    if (typeof field === 'string') assert.equal(e.field, field, e.message);
    else assert.match(e.field ?? '', field, e.message);
    return true;
  });
  assert.equal(await snapshot(), before, 'a refused write changed rows');
}

before(async () => {
  db = await testDb();
  plan = await service.createPlan(db, 'u1', {
    territory: { level: 'region', code: '28' },
    title: 'Plan numérique normand',
    periodStart: '2020-01-01',
    periodEnd: '2025-12-31',
    vote: { date: '2020-03-20', deliberationRef: 'CR 2020-03', deliberationUrl: 'https://example.org/delib.pdf', votesFor: 80, votesAgainst: 10, votesAbstention: 12 },
    context: 'Note de contexte.',
    documents: [{ title: 'Rapport', url: 'https://example.org/rapport.pdf' }],
    authority: { name: 'Région Normandie', siret: '73282932000074' },
    published: true,
  });
});
after(async () => db.close());

describe('plans and trees', () => {
  test('a plan is created with its territory (région resolved), vote and revision 1', async () => {
    assert.equal(plan.territory.code, '28');
    assert.equal(plan.region, '28');
    assert.equal(plan.revision, 1);
    assert.equal(plan.vote.votesFor, 80);
    assert.equal(plan.slug, '28-plan-numerique-normand');
    const audit = await listAudit(db, { objectType: 'roadmap.plan', objectId: plan.id });
    assert.equal(audit[0]!.action, 'roadmap.plan.create');
    assert.equal(audit[0]!.actorId, 'u1');
  });

  test('a tree of four levels; siblings ordered; reordering by one step', async () => {
    const axe = await service.addNode(db, 'u1', plan.id, { kind: 'axe', number: '1', title: 'Connecter' });
    const obj = await service.addNode(db, 'u1', plan.id, { kind: 'objectif', number: '1.1', title: 'Lycées', parentId: axe.id });
    const a1 = await service.addNode(db, 'u1', plan.id, { kind: 'action', number: 'Action 1', title: 'Fibre', parentId: obj.id, status: 'en_cours', startDate: '2020-06-01', leads: ['Région'], tags: 'fibre|lycées', links: 'place:abc' });
    const a2 = await service.addNode(db, 'u1', plan.id, { kind: 'action', number: 'Action 2', title: 'Ordinateurs', parentId: obj.id });
    const sub = await service.addNode(db, 'u1', plan.id, { kind: 'sous_action', number: '2.a', title: 'Portables', parentId: a2.id });
    assert.deepEqual(a1.tags, ['fibre', 'lycées']);
    assert.deepEqual(a1.links, [{ kind: 'place', id: 'abc' }]);
    let tree = await service.getTree(db, plan.id);
    assert.deepEqual(tree.map((n) => n.number), ['1', '1.1', 'Action 1', 'Action 2', '2.a']);
    assert.equal(await service.reorderNode(db, 'u1', a2.id, 'up'), true);
    tree = await service.getTree(db, plan.id);
    assert.deepEqual(tree.map((n) => n.number), ['1', '1.1', 'Action 2', '2.a', 'Action 1']);
    assert.equal(await service.reorderNode(db, 'u1', a2.id, 'up'), false); // already first
    assert.equal(sub.parentId, a2.id);
  });

  test('refusals name the field and leave every row unchanged', async () => {
    const tree = await service.getTree(db, plan.id);
    const axe = tree.find((n) => n.number === '1')!;
    const sub = tree.find((n) => n.number === '2.a')!;
    await refused(() => service.updateNode(db, 'u1', axe.id, { parentId: sub.id }), 'parentId'); // cycle through 3 levels
    await refused(() => service.updateNode(db, 'u1', axe.id, { parentId: axe.id }), 'parentId');
    await refused(() => service.addNode(db, 'u1', plan.id, { title: 'Hors période', startDate: '2019-12-31' }), 'startDate');
    await refused(() => service.addNode(db, 'u1', plan.id, { title: 'Fin avant début', startDate: '2021-01-02', endDate: '2021-01-01' }), 'endDate');
    await refused(() => service.addNode(db, 'u1', plan.id, { title: '' }), 'title');
    await refused(() => service.addNode(db, 'u1', plan.id, { title: 'x', status: 'fini' }), 'status');
    await refused(() => service.addNode(db, 'u1', plan.id, { title: 'x\u0000y' }), 'title');
    await refused(() => service.addNode(db, 'u1', plan.id, { title: 'x', parentId: '00000000-0000-0000-0000-000000000000' }), 'parentId');
    await refused(() => service.addNode(db, 'u1', plan.id, { title: 'x', links: [{ kind: 'constructor', id: 'a' }] }), 'links[0].kind');
    await refused(() => service.updatePlan(db, 'u1', plan.id, { periodStart: '2021-01-01' }), 'periodStart'); // would exclude Action 1's start
    await refused(() => service.createPlan(db, 'u1', { territory: { level: 'region', code: '99' }, title: 'x', periodStart: '2020-01-01', periodEnd: '2021-01-01' }), 'territory.code');
    await refused(() => service.createPlan(db, 'u1', { territory: { level: 'region', code: '28' }, title: 'x', periodStart: '2020-02-30', periodEnd: '2021-01-01' }), 'periodStart');
    await refused(() => service.createPlan(db, 'u1', { territory: { level: 'region', code: '28' }, title: 'Plan numérique normand', periodStart: '2020-01-01', periodEnd: '2021-01-01' }), 'slug', 409);
  });

  test('every change is kept; the plan as it stood on a date is shown', async () => {
    const tree = await service.getTree(db, plan.id);
    const fibre = tree.find((n) => n.number === 'Action 1')!;
    const changesBefore = await service.history(db, plan.id);
    // Push earlier changes back in time, as if the plan had been voted in 2020 and amended later.
    await db.query(`UPDATE roadmap.change SET at = '2020-03-20T12:00:00Z' WHERE plan_id = $1`, [plan.id]);
    await service.updateNode(db, 'u2', fibre.id, { title: 'Fibre très haut débit', status: 'realise' });
    const old = await service.planAsOf(db, plan.id, '2020-03-20');
    assert.equal(old.plan?.title, 'Plan numérique normand');
    assert.equal(old.nodes.find((n) => n.id === fibre.id)?.title, 'Fibre');
    assert.equal(old.nodes.find((n) => n.id === fibre.id)?.status, 'en_cours');
    const now = await service.planAsOf(db, plan.id, new Date().toISOString().slice(0, 10));
    assert.equal(now.nodes.find((n) => n.id === fibre.id)?.title, 'Fibre très haut débit');
    const changes = await service.history(db, plan.id, { objectId: fibre.id });
    assert.equal(changes[0]!.actorId, 'u2');
    assert.equal((changes[0]!.before as { title: string }).title, 'Fibre');
    assert.equal(changes.length > 0 && changesBefore.length > 0, true);
    // A deleted node is gone today but still in the plan as of before.
    const extra = await service.addNode(db, 'u1', plan.id, { title: 'Temporaire' });
    await db.query(`UPDATE roadmap.change SET at = '2021-01-01T00:00:00Z' WHERE object_id = $1`, [extra.id]);
    assert.equal(await service.deleteNode(db, 'u1', extra.id), 1);
    assert.ok((await service.planAsOf(db, plan.id, '2021-06-01')).nodes.some((n) => n.id === extra.id));
    assert.ok(!(await service.getTree(db, plan.id)).some((n) => n.id === extra.id));
    const p = (await service.getPlan(db, plan.id))!;
    assert.ok(p.revision > plan.revision);
  });
});

describe('governance bodies', () => {
  test('members with SIRET validated by checksum; a bad SIRET is refused with nothing saved', async () => {
    const body = await service.saveBody(db, 'u1', {
      territory: { level: 'region', code: '28' },
      name: 'Comité de pilotage',
      kind: 'pilotage',
      frequency: 'semestrielle',
      members: [{ organisation: 'Préfecture de région', role: 'co-porteur' }, { organisation: 'Exemple', siret: '732 829 320 00074' }],
    });
    assert.equal(body.members[1]!.siret, '73282932000074');
    await refused(
      () => service.saveBody(db, 'u1', { territory: { level: 'region', code: '28' }, name: 'Comité technique', kind: 'technique', frequency: 'mensuelle', members: [{ organisation: 'A', siret: '73282932000075' }] }),
      'members[0].siret',
    );
    const listed = await service.listBodies(db, { level: 'region', code: '28' });
    assert.deepEqual(listed.map((b) => b.name), ['Comité de pilotage']);
  });
});

describe('money', () => {
  test('AP split into CP; CP above AP, year outside the period, paid above committed: refused, rows unchanged', async () => {
    const tree = await service.getTree(db, plan.id);
    const fibre = tree.find((n) => n.number === 'Action 1')!;
    const b = await money.saveBudget(db, 'u1', fibre.id, {
      label: 'AP fibre',
      ap: 150_000_000,
      years: [{ year: 2020, cp: 15_000_000, votedBp: 15_000_000, votedDm: -1_000_000, committed: 12_000_000, paid: 10_000_000 }, { year: 2021, cp: 15_000_000, votedBp: 15_000_000, committed: 15_000_000, paid: 14_000_000 }],
      cofinancing: [{ kind: 'etat', name: 'État (France très haut débit)', amount: 30_000_000 }, { kind: 'ue', name: 'FEDER', amount: 10_000_000 }],
    });
    assert.equal(b.years.length, 2);
    await refused(() => money.saveBudget(db, 'u1', fibre.id, { label: 'AP fibre', ap: 10, years: [{ year: 2020, cp: 6 }, { year: 2021, cp: 5 }] }), 'years');
    await refused(() => money.saveBudget(db, 'u1', fibre.id, { label: 'AP fibre', ap: 100, years: [{ year: 2030, cp: 6 }] }), 'years[0].year');
    await refused(() => money.saveBudget(db, 'u1', fibre.id, { label: 'AP fibre', ap: 100, years: [{ year: 2021, cp: 6, committed: 1, paid: 2 }] }), 'years[0].paid');
    await refused(() => money.saveBudget(db, 'u1', fibre.id, { label: 'AP fibre', ap: 100, cofinancing: [{ kind: 'ue', name: 'FEDER', amount: 101 }] }), 'cofinancing');
    await refused(() => money.saveBudget(db, 'u1', fibre.id, { label: 'AP fibre', ap: '12abc' }), 'ap');

    const nodes = await service.getTree(db, plan.id);
    const m = money.rollupMoney(nodes, await money.planBudgets(db, plan.id));
    const axe = nodes.find((n) => n.number === '1')!;
    assert.equal(m.byNode.get(axe.id)!.ap, 150_000_000); // rolled up two levels
    assert.equal(m.byNode.get(axe.id)!.paid, 24_000_000);
    assert.deepEqual(m.byYear.map((y) => [y.year, y.voted]), [[2020, 14_000_000], [2021, 15_000_000]]);
    assert.deepEqual(m.byFunder.map((f) => f.name), ['État (France très haut débit)', 'FEDER']);
  });

  test('envelopes: concurrent draws never exceed the ceiling; over-commitment refused with nothing saved', async () => {
    const env = await money.saveEnvelope(db, 'u1', plan.id, { territory: { level: 'departement', code: '27' }, label: 'Lieux de proximité', ceiling: 1000 });
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => money.drawEnvelope(db, { envelopeId: env.id, amount: 100, reference: `calls:grant:${i}` })));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 10);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as UserError).field, 'amount');
    const after = (await money.getEnvelope(db, env.id))!;
    assert.equal(after.drawn, 1000);
    assert.equal((await money.envelopeDraws(db, env.id)).length, 10);
    await refused(() => money.drawEnvelope(db, { envelopeId: env.id, amount: 0.01, reference: 'calls:grant:x' }), 'amount', 409);
    await refused(() => money.saveEnvelope(db, 'u1', plan.id, { territory: { level: 'departement', code: '27' }, label: 'Lieux de proximité', ceiling: 999 }), 'ceiling', 409);
    assert.equal(await money.releaseDraw(db, { envelopeId: env.id, reference: 'calls:grant:0' }), true);
    await refused(() => money.drawEnvelope(db, { envelopeId: env.id, amount: 50, reference: 'calls:grant:1' }), 'reference', 409); // same reference twice
    assert.equal((await money.getEnvelope(db, env.id))!.drawn, 900);
    const byTerritory = await money.moneyByTerritory(db);
    assert.deepEqual(byTerritory.find((t) => t.territory.code === '27'), { territory: { level: 'departement', code: '27' }, plans: 0, ap: 0, paid: 0, ceilings: 1000, drawn: 900 });
  });
});

describe('indicators and progress', () => {
  test('values: bounds checked (nothing saved), PILOTE progress rolled up the tree', async () => {
    await service.defineIndicator(db, 'u1', { id: 'lycees-connectes', title: 'Lycées connectés', unit: '%', min: 0, max: 100, direction: 'up' });
    const nodes = await service.getTree(db, plan.id);
    const fibre = nodes.find((n) => n.number === 'Action 1')!;
    await service.linkIndicator(db, 'u1', fibre.id, 'lycees-connectes');
    const t = { level: 'region', code: '28' };
    await service.recordValues(db, 'u1', [
      { indicatorId: 'lycees-connectes', territory: t, kind: 'result', date: '2020-01-01', value: 20 },
      { indicatorId: 'lycees-connectes', territory: t, kind: 'result', date: '2022-01-01', value: 60 },
      { indicatorId: 'lycees-connectes', territory: t, kind: 'target', date: '2025-12-31', value: 100 },
    ]);
    await refused(
      () => service.recordValues(db, 'u1', [
        { indicatorId: 'lycees-connectes', territory: t, kind: 'result', date: '2023-01-01', value: 70 },
        { indicatorId: 'lycees-connectes', territory: t, kind: 'result', date: '2024-01-01', value: 120 },
      ]),
      'values[1].value',
    );
    await refused(() => service.recordValues(db, 'u1', [{ indicatorId: 'lycees-connectes', territory: t, kind: 'result', date: '2023-13-01', value: 5 }]), 'date');
    await refused(() => service.recordValues(db, 'u1', [{ indicatorId: 'nope', territory: t, kind: 'result', date: '2023-01-01', value: 5 }]), 'indicatorId');
    await refused(() => service.defineIndicator(db, 'u1', { id: 'lycees-connectes', title: 'Lycées connectés', unit: '%', min: 0, max: 50 }), 'min', 409);

    const p = await service.getPlan(db, plan.id);
    const { progress, indicators } = await service.planProgress(db, p!, nodes);
    assert.equal(indicators.get(fibre.id)![0]!.progress.value, 0.5);
    const axe = nodes.find((n) => n.number === '1')!;
    const obj = nodes.find((n) => n.number === '1.1')!;
    // Objective: mean of Action 1 (50 %) and Action 2 (no measure, not done → left out).
    assert.equal(progress.get(obj.id), 0.5);
    assert.equal(progress.get(axe.id), 0.5);
  });

  test('barometer snapshots: refreshed by the write, seen by every instance whoever writes, only for the plans concerned', async () => {
    const fibre = (await service.getTree(db, plan.id)).find((n) => n.number === 'Action 1')!;
    const row = async () =>
      (await db.query<{ version: string; snapshot_version: string | null; snapshot: string | null }>('SELECT version, snapshot_version, snapshot FROM roadmap.plan_cache WHERE plan_id = $1', [plan.id])).rows[0]!;
    // Two instances on one database: two handles, each with its own in-memory barometers.
    const other = Object.create(db) as Db;
    const progressOn = async (h: Db) => (await barometer(h, (await service.getPlan(h, plan.id))!)).progress.get(fibre.id);
    assert.equal(await progressOn(db), 0.5);
    assert.equal(await progressOn(other), 0.5);
    const v0 = Number((await row()).version);

    // A roadmap write on instance B: the plan's version moves, its snapshot is stored before commit.
    await service.recordValues(other, 'u1', [{ indicatorId: 'lycees-connectes', territory: { level: 'region', code: '28' }, kind: 'result', date: '2023-01-01', value: 80 }]);
    let r = await row();
    assert.ok(Number(r.version) > v0);
    assert.equal(r.snapshot_version, r.version, 'the write refreshed the snapshot');
    assert.equal(await progressOn(db), 0.75, 'instance A sees the change at once');

    // A write outside the roadmap's code (SQL by hand): the trigger drops the snapshot; the first
    // reader computes it again and stores it.
    await db.query(`UPDATE roadmap.series_summary SET latest_value = 100 WHERE indicator_id = 'lycees-connectes' AND territory_level = 'region' AND territory_code = '28'`);
    r = await row();
    assert.equal(r.snapshot, null);
    assert.equal(await progressOn(other), 1);
    assert.equal(await progressOn(db), 1);
    r = await row();
    assert.equal(r.snapshot_version, r.version, 'the reader stored the snapshot');
    await db.query(`UPDATE roadmap.series_summary SET latest_value = 80 WHERE indicator_id = 'lycees-connectes' AND territory_level = 'region' AND territory_code = '28'`);
    assert.equal(await progressOn(db), 0.75);

    // A value of the same indicator in another territory does not concern this plan.
    const before = (await row()).version;
    await service.recordValues(db, 'u1', [{ indicatorId: 'lycees-connectes', territory: { level: 'region', code: '84' }, kind: 'result', date: '2023-01-01', value: 10 }]);
    assert.equal((await row()).version, before);
    for (const t of ['indicator_value', 'series_summary']) await db.query(`DELETE FROM roadmap.${t} WHERE indicator_id = 'lycees-connectes' AND territory_code = '84'`);
    // A snapshot computed from data older than the current version is never stored.
    await storeSnapshot(db, plan.id, Number(before) - 1, '{}');
    assert.notEqual((await row()).snapshot, '{}');
    assert.equal(await progressOn(other), 0.75);
  });

  test('concurrent writes to one series keep its summary exact', async () => {
    const t = { level: 'region', code: '28' };
    await Promise.all(Array.from({ length: 8 }, (_, i) => service.recordValues(db, `u${i}`, [{ indicatorId: 'lycees-connectes', territory: t, kind: 'result', date: `2023-0${i + 1}-01`, value: 61 + i }])));
    const rows = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM roadmap.indicator_value WHERE indicator_id = 'lycees-connectes'`);
    const sum = (await db.query<{ value_count: number; latest_value: number }>(`SELECT value_count, latest_value FROM roadmap.series_summary WHERE indicator_id = 'lycees-connectes'`)).rows[0]!;
    assert.equal(Number(sum.value_count), rows.rows[0]!.n);
    assert.equal(Number(sum.latest_value), 68);
  });

  test('live indicators: registered computations, recomputed as a dated series; typed results refused', async () => {
    registerIndicator({
      id: 'test.plans-count',
      title: 'Nombre de plans (test)',
      unit: 'plans',
      method: 'Compte les plans du territoire.',
      async compute(ctx, territories) {
        const out = new Map<string, number | null>();
        for (const t of territories) {
          const r = await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM roadmap.plan WHERE territory_level = $1 AND territory_code = $2', [t.level, t.code]);
          out.set(`${t.level}:${t.code}`, r.rows[0]!.n);
        }
        return out;
      },
    });
    const r = await recomputeLive(db, { ids: ['test.plans-count'], date: '2024-05-01' });
    assert.equal(r.failed.length, 0);
    assert.equal(r.indicators, 1);
    const series = await service.getSeries(db, 'test.plans-count', { level: 'region', code: '28' });
    assert.deepEqual(series.map((v) => [v.date, v.value, v.source]), [['2024-05-01', 1, 'calcul']]);
    await recomputeLive(db, { ids: ['test.plans-count'], date: '2024-05-01' }); // same day: replaced, not doubled
    assert.equal((await service.getSeries(db, 'test.plans-count', { level: 'region', code: '28' })).length, 1);
    await refused(() => service.recordValues(db, 'u1', [{ indicatorId: 'test.plans-count', territory: { level: 'region', code: '28' }, kind: 'result', date: '2024-06-01', value: 3 }]), 'kind');
    await refused(() => service.defineIndicator(db, 'u1', { id: 'test.plans-count', title: 'Détourné', unit: 'x' }), 'id', 409);
  });
});

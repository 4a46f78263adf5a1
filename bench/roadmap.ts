/**
 * Roadmap benchmark (`npm run bench:roadmap`; on PostgreSQL: `scripts/with-postgres.sh npm run bench:roadmap`).
 *
 * Data, generated in bulk with generate_series: 50 territories (départements) × 5 plans × 300
 * nodes (10 axes, 50 objectives, 240 actions), 20 indicators per plan linked to the actions,
 * 120 monthly results + a target per series (≈ 605,000 values), one budget per action over 5 years
 * (60,000 budgets, 300,000 yearly lines), and demo places for the live indicators.
 *
 * Measures (through app.inject, as a browser would ask):
 * - public barometer page of a plan: p95 ≤ 50 ms;
 * - an action's page (chart of 120 values + table, money, history): p95 ≤ 30 ms;
 * - one value recorded and the whole plan's progress rolled up again: p95 ≤ 100 ms;
 * - recompute of every live indicator for every territory with a plan: ≤ 10 s.
 *
 * Environment: BENCH_ROADMAP_SCALE (default 1: 50 territories; 0.1 → 5), BENCH_ROADMAP_PLACES
 * (default 20000 demo places), BENCH_ROADMAP_REQUESTS (default 200 per page measure),
 * BENCH_RESULTS_FILE (write the markdown there instead of docs/benchmarks.md).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildApp, migrateAll } from '../src/app.ts';
import { loadConfig } from '../src/platform/config.ts';
import { openDb, type Db } from '../src/platform/db/index.ts';
import { createLogger } from '../src/platform/log.ts';
import { silentProgress } from '../src/platform/progress.ts';
import { modules } from '../src/modules/registry.ts';
import { listCommunes, listDepartements } from '../src/modules/territories/index.ts';
import { generatePlaces, upsertPlaces } from '../src/modules/places/index.ts';
import { recomputeAll } from '../src/modules/coverage/index.ts';
import { recomputeLive, liveIndicators } from '../src/modules/roadmap/index.ts';
import * as service from '../src/modules/roadmap/service.ts';
import { barometer } from '../src/modules/roadmap/views.ts';
import { machine, ms, percentiles, timeIt, writeSection } from './lib.ts';

const SCALE = Number(process.env.BENCH_ROADMAP_SCALE ?? 1);
const TERRITORIES = Math.max(1, Math.round(50 * SCALE));
const PLANS_PER = 5;
const NODES = 300;
const INDICATORS = 20;
const MONTHS = 120;
const PLACES = Number(process.env.BENCH_ROADMAP_PLACES ?? 20_000);
const REQUESTS = Number(process.env.BENCH_ROADMAP_REQUESTS ?? 200);
const TARGETS = { barometer: 50, action: 30, rollup: 100, recompute: 10_000 };

const verdict = (v: number, target: number) => (v <= target ? ' ✅' : ' ❌ (target missed)');

/** Wall time and CPU time of this process (on PGlite the database runs in-process, so the CPU
 * time is what the request costs; on a loaded machine the wall time grows, the CPU time much less). */
async function timed(fn: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const wall = await timeIt(fn);
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

async function generate(db: Db) {
  const deps = (await listDepartements(db)).slice(0, TERRITORIES);
  if (deps.length < TERRITORIES) throw new Error(`only ${deps.length} départements in the reference data`);
  const codes = deps.map((d) => d.code);
  const regions = deps.map((d) => d.parents.find((p) => p.level === 'region')?.code ?? null);
  const P = TERRITORIES * PLANS_PER;
  const step = async (label: string, sql: string, params: unknown[] = []) => {
    const t = await timeIt(() => db.query(sql, params));
    console.error(`  ${label}: ${ms(t)} ms`);
  };
  console.error(`generating ${P} plans × ${NODES} nodes, ${P * INDICATORS} series × ${MONTHS + 1} values…`);
  await step(
    'plans',
    `INSERT INTO roadmap.plan (id, slug, territory_level, territory_code, region, departement, title, period_start, period_end, published, revision)
     SELECT md5('p' || p)::uuid, 'bench-' || p, 'departement', ($2::text[])[p / ${PLANS_PER} + 1], ($3::text[])[p / ${PLANS_PER} + 1], ($2::text[])[p / ${PLANS_PER} + 1],
            'Plan de banc d’essai ' || p, '2015-01-01', '2026-12-31', true, 1
       FROM generate_series(0, $1 - 1) AS p`,
    [P, codes, regions],
  );
  await step(
    'nodes',
    `INSERT INTO roadmap.node (id, plan_id, parent_id, position, kind, number, title, description, status, priority, leads, tags, start_date, end_date)
     SELECT md5('n' || p || '-' || i)::uuid, md5('p' || p)::uuid,
            CASE WHEN i < 10 THEN NULL WHEN i < 60 THEN md5('n' || p || '-' || ((i - 10) % 10))::uuid ELSE md5('n' || p || '-' || (10 + (i - 60) % 50))::uuid END,
            i, CASE WHEN i < 10 THEN 'axe' WHEN i < 60 THEN 'objectif' ELSE 'action' END, 'N' || i, 'Élément ' || i || ' du plan ' || p,
            'Description de l’élément ' || i, (ARRAY['a_venir','en_cours','realise','en_pause','abandonne','bloque','en_retard'])[1 + i % 7], 'normale',
            ARRAY['Région'], ARRAY['banc'], '2016-01-01'::date + (i % 365), '2024-12-31'
       FROM generate_series(0, $1 - 1) AS p, generate_series(0, ${NODES - 1}) AS i`,
    [P],
  );
  await step(
    'indicators',
    `INSERT INTO roadmap.indicator (id, title, unit, direction, min_value, max_value, method, source)
     SELECT 'b' || p || '-' || k, 'Indicateur ' || k || ' du plan ' || p, 'unités', 'up', 0, NULL, 'Méthode', 'Banc d’essai'
       FROM generate_series(0, $1 - 1) AS p, generate_series(0, ${INDICATORS - 1}) AS k`,
    [P],
  );
  await step(
    'links',
    `INSERT INTO roadmap.indicator_link (node_id, indicator_id, weight)
     SELECT md5('n' || p || '-' || i)::uuid, 'b' || p || '-' || ((i - 60) % ${INDICATORS}), 1
       FROM generate_series(0, $1 - 1) AS p, generate_series(60, ${NODES - 1}) AS i`,
    [P],
  );
  await step(
    'values',
    `INSERT INTO roadmap.indicator_value (indicator_id, territory_level, territory_code, kind, on_date, value, source)
     SELECT 'b' || p || '-' || k, 'departement', ($2::text[])[p / ${PLANS_PER} + 1], 'result', ('2015-01-01'::date + make_interval(months => m))::date,
            100 + m * (1 + k % 5) + (p % 7), 'import'
       FROM generate_series(0, $1 - 1) AS p, generate_series(0, ${INDICATORS - 1}) AS k, generate_series(0, ${MONTHS - 1}) AS m
     UNION ALL
     SELECT 'b' || p || '-' || k, 'departement', ($2::text[])[p / ${PLANS_PER} + 1], 'target', '2026-12-31', 100 + ${MONTHS} * (1 + k % 5) * 1.5, 'saisie'
       FROM generate_series(0, $1 - 1) AS p, generate_series(0, ${INDICATORS - 1}) AS k`,
    [P, codes],
  );
  await step(
    'series summaries',
    `INSERT INTO roadmap.series_summary (indicator_id, territory_level, territory_code, initial_value, initial_date, latest_value, latest_date, target_value, target_date, value_count)
     SELECT indicator_id, territory_level, territory_code,
            (array_agg(value ORDER BY on_date) FILTER (WHERE kind = 'result'))[1], min(on_date) FILTER (WHERE kind = 'result'),
            (array_agg(value ORDER BY on_date DESC) FILTER (WHERE kind = 'result'))[1], max(on_date) FILTER (WHERE kind = 'result'),
            (array_agg(value ORDER BY on_date DESC) FILTER (WHERE kind = 'target'))[1], max(on_date) FILTER (WHERE kind = 'target'), count(*)
       FROM roadmap.indicator_value GROUP BY 1, 2, 3`,
  );
  await step(
    'budgets',
    `INSERT INTO roadmap.budget (id, plan_id, node_id, label, ap, nature)
     SELECT md5('b' || p || '-' || i)::uuid, md5('p' || p)::uuid, md5('n' || p || '-' || i)::uuid, 'AP', 1000000 + i * 1000, 'investissement'
       FROM generate_series(0, $1 - 1) AS p, generate_series(60, ${NODES - 1}) AS i`,
    [P],
  );
  await step(
    'budget years',
    `INSERT INTO roadmap.budget_year (budget_id, year, cp, voted_bp, voted_dm, committed, paid)
     SELECT md5('b' || p || '-' || i)::uuid, 2019 + y, 150000, 150000, CASE WHEN y = 2 THEN 10000 ELSE 0 END, 120000, 90000
       FROM generate_series(0, $1 - 1) AS p, generate_series(60, ${NODES - 1}) AS i, generate_series(0, 4) AS y`,
    [P],
  );
  await step(
    'co-financing',
    `INSERT INTO roadmap.cofinancing (budget_id, funder_kind, funder_name, amount)
     SELECT md5('b' || p || '-' || i)::uuid, (ARRAY['etat','ue','departement'])[1 + i % 3], (ARRAY['État','FEDER','Département'])[1 + i % 3], 100000
       FROM generate_series(0, $1 - 1) AS p, generate_series(60, ${NODES - 1}) AS i`,
    [P],
  );
  await db.exec('ANALYZE');
  return { codes, plans: P };
}

async function main() {
  const kind = process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite';
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-bench-roadmap-'));
  const config = loadConfig({ ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: tmp });
  const db = await openDb({ databaseUrl: process.env.DATABASE_URL ?? null, pgliteDir: path.join(tmp, 'pglite') });
  const log = createLogger('silent');
  const started = new Date().toISOString();
  const host = machine();
  await migrateAll(db);
  for (const m of modules) if (m.seedReference) await m.seedReference({ config, db, log, progress: () => silentProgress() });
  const { plans } = await generate(db);
  if (PLACES > 0) {
    const communes = await listCommunes(db);
    const t = await timeIt(async () => upsertPlaces(db, generatePlaces(communes.filter((c) => c.kind === 'commune'), PLACES, 42), { source: 'demo' }));
    console.error(`  places: ${PLACES} in ${ms(t)} ms`);
  }
  const { app } = await buildApp(config, db, log);
  const pick = (n: number) => Math.floor(Math.random() * n);

  // One value recorded in plan p (not timed: its cost is the roll-up measure below).
  const change = async (p: number) => {
    const plan = (await service.getPlan(db, `bench-${p}`))!;
    await service.recordValues(db, null, [{ indicatorId: `b${p}-${pick(INDICATORS)}`, territory: plan.territory, kind: 'result', date: `2025-0${1 + pick(9)}-01`, value: 500 + pick(500) }]);
  };
  const view = (url: string) => timed(async () => {
    const r = await app.inject({ url });
    if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode}`);
  });

  // Barometer pages: the first view of a plan just after one of its values changed (the write
  // refreshed the plan's snapshot before committing; this process has never shown the plan at
  // this version), then views of plans already shown (their version unchanged).
  const coldB: { wall: number; cpu: number }[] = [];
  const warmB: { wall: number; cpu: number }[] = [];
  const seen: number[] = [];
  for (let i = 0; i < REQUESTS + 10; i++) {
    const p = pick(plans);
    await change(p);
    const t = await view(`/feuilles-de-route/bench-${p}`);
    seen.push(p);
    if (i >= 10) coldB.push(t);
  }
  for (let i = 0; i < REQUESTS + 10; i++) {
    const t = await view(`/feuilles-de-route/bench-${seen[seen.length - 1 - pick(Math.min(seen.length, 20))]}`);
    if (i >= 10) warmB.push(t);
  }
  // The first view when no snapshot is stored (a write that left it to the first reader: another
  // module drawing on an envelope, a bulk write touching many plans, SQL by hand): this request
  // computes the roll-up and stores it.
  const lazyB: { wall: number; cpu: number }[] = [];
  for (let i = 0; i < Math.min(REQUESTS, 100) + 5; i++) {
    const p = pick(plans);
    await db.query('UPDATE roadmap.plan_cache SET version = version + 1, snapshot = NULL, snapshot_version = NULL WHERE plan_id = md5($1)::uuid', [`p${p}`]);
    const t = await view(`/feuilles-de-route/bench-${p}`);
    if (i >= 5) lazyB.push(t);
  }
  const b = percentiles(coldB.map((x) => x.wall));
  const bc = percentiles(coldB.map((x) => x.cpu));
  const bw = percentiles(warmB.map((x) => x.wall));
  const bwc = percentiles(warmB.map((x) => x.cpu));
  const bl = percentiles(lazyB.map((x) => x.wall));
  const blc = percentiles(lazyB.map((x) => x.cpu));
  console.error(`barometer: first view after a change p50 ${ms(b.p50)} p95 ${ms(b.p95)} ms (cpu p95 ${ms(bc.p95)}); seen p50 ${ms(bw.p50)} p95 ${ms(bw.p95)} (cpu p95 ${ms(bwc.p95)}); no snapshot p50 ${ms(bl.p50)} p95 ${ms(bl.p95)} (cpu p95 ${ms(blc.p95)})`);

  // Action pages: the first view of an action just after a value of its plan changed.
  const ids = (await db.query<{ id: string; slug: string }>(`SELECT n.id, p.slug FROM roadmap.node n JOIN roadmap.plan p ON p.id = n.plan_id WHERE n.kind = 'action' ORDER BY random() LIMIT ${REQUESTS + 10}`)).rows;
  const action: { wall: number; cpu: number }[] = [];
  for (const [i, r] of ids.entries()) {
    await change(Number(r.slug.slice('bench-'.length)));
    const t = await view(`/feuilles-de-route/${r.slug}/actions/${r.id}`);
    if (i >= 10) action.push(t);
  }
  const a = percentiles(action.map((x) => x.wall));
  const ac = percentiles(action.map((x) => x.cpu));
  console.error(`action page: p50 ${ms(a.p50)} p95 ${ms(a.p95)} ms (cpu p95 ${ms(ac.p95)})`);

  // One value changes, the whole plan's progress is rolled up again.
  const rollup: { wall: number; cpu: number }[] = [];
  for (let i = 0; i < Math.min(REQUESTS, 100) + 5; i++) {
    const p = pick(plans);
    const plan = (await service.getPlan(db, `bench-${p}`))!;
    const t = await timed(async () => {
      await service.recordValues(db, null, [{ indicatorId: `b${p}-${pick(INDICATORS)}`, territory: plan.territory, kind: 'result', date: `2025-0${1 + pick(9)}-01`, value: 500 + pick(500) }]);
      const bar = await barometer(db, plan);
      if (!bar.nodes.length) throw new Error('empty plan');
    });
    if (i >= 5) rollup.push(t);
  }
  const r = percentiles(rollup.map((x) => x.wall));
  const rc = percentiles(rollup.map((x) => x.cpu));
  console.error(`value + roll-up: p50 ${ms(r.p50)} p95 ${ms(r.p95)} ms`);

  // Live indicators: the first recompute also brings the coverage measures up to date (cold),
  // then a recompute with the coverage fresh (the daily job's usual case).
  let coldCoverage = 0;
  const cold = await timeIt(async () => {
    coldCoverage = await timeIt(() => recomputeAll(db));
    await recomputeLive(db);
  });
  const warmRuns: number[] = [];
  let report = await recomputeLive(db);
  for (let i = 0; i < 3; i++) warmRuns.push(await timeIt(async () => (report = await recomputeLive(db))));
  const warm = percentiles(warmRuns);
  console.error(`live recompute: cold ${ms(cold)} ms (coverage ${ms(coldCoverage)} ms), warm median ${ms(warm.p50)} ms; ${report.values} values, failed ${report.failed.length}`);
  await app.close();
  await db.close();

  const counts = `${TERRITORIES} territories × ${PLANS_PER} plans × ${NODES} nodes (${plans * NODES} nodes), ${plans * INDICATORS} series × ${MONTHS} monthly values + 1 target (${plans * INDICATORS * (MONTHS + 1)} values), ${plans * (NODES - 60)} budgets × 5 years, ${PLACES} places`;
  const md = `### ${kind} (${started.slice(0, 16).replace('T', ' ')} UTC${SCALE !== 1 ? `, BENCH_ROADMAP_SCALE=${SCALE}` : ''})

Machine: ${host}. ${process.env.BENCH_NOTE ?? 'Shared with other helpers\' work during the run (2 cores, several sessions)'}; load average at the end ${os.loadavg().map((x) => x.toFixed(1)).join(' / ')} (1 / 5 / 15 min).
Data: ${counts}. ${REQUESTS} requests per page measure, through \`app.inject\` (no network).

| measure | p50 | p95 | CPU p95 (this process) | target (p95) |
|---|---|---|---|---|
| barometer page (\`/feuilles-de-route/:plan\`, 300 nodes), first view after one of its values changed | ${ms(b.p50)} ms | ${ms(b.p95)} ms | ${ms(bc.p95)} ms | ≤ ${TARGETS.barometer} ms${verdict(b.p95, TARGETS.barometer)} |
| barometer page, plan already shown by this process (version unchanged) | ${ms(bw.p50)} ms | ${ms(bw.p95)} ms | ${ms(bwc.p95)} ms | ≤ ${TARGETS.barometer} ms${verdict(bw.p95, TARGETS.barometer)} |
| barometer page with no stored snapshot (the request rolls the plan up and stores it) | ${ms(bl.p50)} ms | ${ms(bl.p95)} ms | ${ms(blc.p95)} ms | — (${lazyB.length} requests) |
| action page after a value of its plan changed (chart + table of 121 values, money, history) | ${ms(a.p50)} ms | ${ms(a.p95)} ms | ${ms(ac.p95)} ms | ≤ ${TARGETS.action} ms${verdict(a.p95, TARGETS.action)} |
| one value recorded + whole plan rolled up (progress and money) | ${ms(r.p50)} ms | ${ms(r.p95)} ms | ${ms(rc.p95)} ms | ≤ ${TARGETS.rollup} ms${verdict(r.p95, TARGETS.rollup)} |
| recompute of every live indicator (${liveIndicators().length} indicators × ${report.territories} territories), coverage fresh | ${ms(warm.p50)} ms | ${ms(Math.max(...warmRuns))} ms (worst of 3) | — | ≤ ${TARGETS.recompute} ms${verdict(Math.max(...warmRuns), TARGETS.recompute)} |
| same, cold: coverage measures recomputed first (${ms(coldCoverage)} ms of it) | ${ms(cold)} ms | — | — | ≤ ${TARGETS.recompute} ms${verdict(cold, TARGETS.recompute)} |
`;
  if (process.env.BENCH_RESULTS_FILE) fs.writeFileSync(process.env.BENCH_RESULTS_FILE, md);
  else writeSection(`roadmap-${kind === 'PGlite' ? 'pglite' : 'postgres'}`, md);
  console.log(md);
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

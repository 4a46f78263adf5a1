/**
 * Coverage benchmark (`npm run bench:coverage`), on the embedded database (PGlite):
 * - full recompute of every current commune (~35,000) against 20,000 places, then 200,000 places
 *   (targets ≤ 3 s and ≤ 10 s): reading communes and places through their modules, building the
 *   k-d trees, measuring, writing the measures and the place snapshot in one transaction;
 * - incremental refresh after one place moved and after 100 places were added (informative);
 * - the planner for a département, K = 10, R = 10 km, through the service call the API makes
 *   (target ≤ 1 s), on the département with the most communes and on the Eure (27).
 * Places come from the places module's demo generator and are written with upsertPlaces.
 *
 * Environment: BENCH_COVERAGE_RUNS (default 5 timed runs per measure, after one warm-up),
 * BENCH_COVERAGE_SIZES (default "20000,200000"), BENCH_RESULTS_FILE (write the markdown there
 * instead of the "coverage" section of docs/benchmarks.md).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/platform/config.ts';
import { openDb, type Db } from '../src/platform/db/index.ts';
import { createLogger } from '../src/platform/log.ts';
import { silentProgress } from '../src/platform/progress.ts';
import { migrateAll } from '../src/app.ts';
import { modules } from '../src/modules/registry.ts';
import { listCommunes } from '../src/modules/territories/index.ts';
import { generatePlaces, upsertPlaces } from '../src/modules/places/index.ts';
import { COVERAGE_SERVICES, planNewPlaces, recomputeAll, refreshCoverage, type RecomputeReport } from '../src/modules/coverage/index.ts';
import { machine, ms, percentiles, timeIt, writeSection } from './lib.ts';

const RUNS = Number(process.env.BENCH_COVERAGE_RUNS ?? 5);
const SIZES = (process.env.BENCH_COVERAGE_SIZES ?? '20000,200000').split(',').map(Number);
const TARGET_FULL: Record<number, number> = { 20_000: 3000, 200_000: 10_000 };
const TARGET_PLAN = 1000;

const config = loadConfig({ ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'silent' });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-bench-coverage-'));

const verdict = (value: number, target: number | undefined) => (target === undefined ? '' : value <= target ? ' ✅' : ' ❌ (target missed)');
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);

/** Mean of each step's duration over the reports (ms). */
function stepMeans(reports: RecomputeReport[]): string {
  const keys = Object.keys(reports[0]?.timings ?? {});
  return keys.map((k) => `${k} ${Math.round(mean(reports.map((r) => r.timings[k] ?? 0)))}`).join(', ');
}

interface Run {
  wallMs: number;
  /** CPU time of this process (user + system): PGlite runs in-process, so on an idle machine the
   * wall time is close to it; on a loaded machine the wall time grows, the CPU time much less. */
  cpuMs: number;
  report: RecomputeReport;
}

async function timedRecompute(db: Db): Promise<Run> {
  const c0 = process.cpuUsage();
  let report: RecomputeReport | null = null;
  const wallMs = await timeIt(async () => (report = await recomputeAll(db)));
  const c = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c.user + c.system) / 1000, report: report! };
}

/** The first run after the places were loaded (cold: empty or stale tables and caches), then `runs` more. */
async function fullRecompute(db: Db, runs: number): Promise<{ first: Run; next: Run[] }> {
  const first = await timedRecompute(db);
  const next: Run[] = [];
  for (let i = 0; i < runs; i++) next.push(await timedRecompute(db));
  return { first, next };
}

async function main() {
  const db = await openDb({ databaseUrl: null, pgliteDir: path.join(tmp, 'pglite') });
  const log = createLogger('silent');
  await migrateAll(db);
  for (const m of modules) if (m.seedReference) await m.seedReference({ config, db, log, progress: () => silentProgress() });
  const communes = await listCommunes(db);
  const current = communes.filter((c) => c.kind === 'commune');
  const withCentre = current.filter((c) => c.lat !== null && c.lon !== null).length;
  console.error(`territories ready: ${current.length} current communes (${withCentre} with a centre)`);

  // The département with the most communes (the hardest planner input) and the Eure.
  const perDep = new Map<string, number>();
  for (const c of current) perDep.set(c.departement, (perDep.get(c.departement) ?? 0) + 1);
  const [bigDep, bigDepCount] = [...perDep.entries()].sort((a, b) => b[1] - a[1])[0]!;
  // Criteria: any place (at 20,000 demo places most communes are already within 10 km) and the
  // rarest service of the demo data, « Acquisition de matériel informatique à prix solidaire »,
  // where the planner has real gaps to fill.
  const materiel = COVERAGE_SERVICES.findIndex((x) => x.key === 'materiel');
  const planCases: { dep: string; label: string; criterion: { kind: 'overall' } | { kind: 'service'; index: number } }[] = [
    { dep: bigDep, label: 'any place', criterion: { kind: 'overall' } },
    { dep: bigDep, label: 'service « matériel à prix solidaire »', criterion: { kind: 'service', index: materiel } },
    { dep: '27', label: 'service « matériel à prix solidaire »', criterion: { kind: 'service', index: materiel } },
  ];

  const loadAvg = () => os.loadavg().map((x) => x.toFixed(1)).join(' / ');
  const fullRows: string[] = [];
  const incrementalRows: string[] = [];
  const planRows: string[] = [];
  let loaded = 0;
  let seed = 11;
  for (const size of SIZES) {
    // Fill up to `size` places with the demo generator.
    const fill = generatePlaces(communes, size - loaded, seed++);
    const fillMs = await timeIt(async () => {
      for (let i = 0; i < fill.length; i += 10_000) await upsertPlaces(db, fill.slice(i, i + 10_000), { source: `bench-${size}` });
    });
    loaded = size;
    await db.exec('ANALYZE');
    console.error(`${size} places loaded (${ms(fillMs / 1000)} s)`);

    const loadBefore = loadAvg();
    const { first, next } = await fullRecompute(db, RUNS);
    const p = percentiles(next.map((x) => x.wallMs));
    const cpu = percentiles(next.map((x) => x.cpuMs));
    const r = first.report;
    console.error(`full recompute at ${size} places: first ${ms(first.wallMs)} ms (cpu ${ms(first.cpuMs)}), then p50 ${ms(p.p50)} ms (cpu ${ms(cpu.p50)}) (${stepMeans(next.map((x) => x.report))})`);
    fullRows.push(
      `| ${size.toLocaleString('en')} | ${r.communes.toLocaleString('en')} (${r.communesWithoutCentre} without a centre) | ` +
        `${ms(first.wallMs)} (CPU ${ms(first.cpuMs)})${verdict(first.wallMs, TARGET_FULL[size])} | ${first.report.writtenCommunes.toLocaleString('en')} / ${Math.round(mean(next.map((x) => x.report.writtenCommunes))).toLocaleString('en')} | **${ms(p.p50)}**${verdict(p.p50, TARGET_FULL[size])} | ${ms(cpu.p50)} | ${stepMeans([first.report])} | ${stepMeans(next.map((x) => x.report))} | ${loadBefore} → ${loadAvg()} |`,
    );

    // Incremental: one place moved by ~3 km, then 100 new places, then one place removed — each
    // refreshed from the changed uids (what the server's change listener passes), then one more
    // move refreshed by comparing every place (what happens when the changes are not announced).
    const incremental = async (label: string, write: () => Promise<string[]>, named: boolean) => {
      const uids = await write();
      let r: RecomputeReport | null = null;
      const t = await timeIt(async () => (r = await refreshCoverage(db, named ? { changedUids: uids } : {})));
      const steps = Object.entries(r!.timings).map(([k, v]) => `${k} ${v}`).join(', ');
      incrementalRows.push(
        `| ${size.toLocaleString('en')} | ${label} | ${named ? 'changed uids' : 'all places'} | ${r!.kind} | ${r!.updatedCommunes.toLocaleString('en')} | **${ms(t)}** | ${steps} |`,
      );
      console.error(`incremental at ${size}: ${label} (${named ? 'named' : 'all'}) ${ms(t)} ms (${r!.kind}, ${r!.updatedCommunes} communes; ${steps})`);
    };
    await incremental('1 place moved', async () => (await upsertPlaces(db, [{ ...fill[0]!, latitude: fill[0]!.latitude! + 0.02, longitude: fill[0]!.longitude! + 0.02 }], { source: `bench-${size}` })).uids, true);
    const extra = generatePlaces(communes, 100, 1000 + size).map((x) => ({ ...x, id: `extra-${x.id}` }));
    await incremental('100 places added', async () => (await upsertPlaces(db, extra, { source: `bench-extra-${size}` })).uids, true);
    await incremental('1 place: coordinates removed', async () => (await upsertPlaces(db, [{ ...fill[1]!, latitude: null, longitude: null }], { source: `bench-${size}` })).uids, true);
    await incremental('1 place moved', async () => (await upsertPlaces(db, [{ ...fill[2]!, latitude: fill[2]!.latitude! - 0.02, longitude: fill[2]!.longitude! - 0.02 }], { source: `bench-${size}` })).uids, false);
    loaded += 100;

    // Planner: K = 10, R = 10 km, service call as the API makes it (measures cached in memory).
    for (const { dep, label, criterion } of planCases) {
      const q = { territory: dep, radiusKm: 10, k: 10, criterion };
      await planNewPlaces(db, q);
      const planSamples: number[] = [];
      let picks = 0;
      let gain = 0;
      for (let i = 0; i < Math.max(RUNS, 20); i++) {
        planSamples.push(
          await timeIt(async () => {
            const res = await planNewPlaces(db, q);
            picks = res.picks.length;
            gain = res.coveredAfter - res.coveredBefore;
          }),
        );
      }
      const pp = percentiles(planSamples);
      const count = perDep.get(dep) ?? 0;
      planRows.push(
        `| ${size.toLocaleString('en')} | ${dep}${dep === bigDep ? ' (most communes)' : ''} | ${count} | ${label} | ${picks} picks, +${gain.toLocaleString('en')} inhabitants | **${ms(pp.p50)}** | ${ms(pp.p95)}${verdict(pp.p95, TARGET_PLAN)} |`,
      );
      console.error(`plan ${dep} ${label} (${count} communes) at ${size}: p50 ${ms(pp.p50)} ms, p95 ${ms(pp.p95)} ms`);
    }
  }
  await db.close();

  const md = [
    '## Coverage (`npm run bench:coverage`)',
    '',
    `Run on ${new Date().toISOString().slice(0, 10)}: ${machine()}. Embedded database (PGlite), places from the demo generator (\`generatePlaces\`) written with \`upsertPlaces\`.`,
    `Targets (issue 5): full recompute of every commune ≤ 3 s against 20,000 places and ≤ 10 s against 200,000; planner for a département (K = 10) ≤ 1 s.`,
    '',
    `Full recompute (\`recomputeAll\`: read communes and places through their modules, build the k-d trees, measure every commune — nearest place overall, for each of the 9 services and open on Saturday, places within 5/10/20 km — then write the ${current.length.toLocaleString('en')} measure rows and the place snapshot in one transaction). The first run follows the loading of the places: at the first size the tables are empty and every row is written (the cold case); at the next size most measures change and are written. The next ${RUNS} runs recompute every commune again with nothing changed, so they write no row: they show the cost of reading and computing. CPU time is the process's user + system time: PGlite runs in-process, so on an idle machine the wall time is close to it (ms):`,
    '',
    '| places | communes | first run: wall (CPU) | measure rows written: first / next | next runs: wall p50 | next runs: CPU p50 | steps, first run (ms) | steps, next runs, mean (ms) | load average before → after (1/5/15 min) |',
    '|---:|---|---:|---:|---:|---:|---|---|---|',
    ...fullRows,
    '',
    'Incremental refresh (`refreshCoverage`: compare the changed places with the snapshot, recompute only the communes a change can reach), one run each; « changed uids » reads only the named places (what the change listener passes), « all places » reads and compares every place (ms):',
    '',
    '| places | change | places read | kind | communes recomputed | time | steps (ms) |',
    '|---:|---|---|---|---:|---:|---|',
    ...incrementalRows,
    '',
    `Planner (\`planNewPlaces\`, greedy maximum coverage, K = 10, R = 10 km; the service call behind \`POST /api/v1/coverage/plan\`), ${Math.max(RUNS, 20)} runs after one warm-up (ms):`,
    '',
    '| places | département | communes | distance to | result | p50 | p95 |',
    '|---:|---|---:|---|---|---:|---:|',
    ...planRows,
    '',
    `Largest département by number of communes: ${bigDep} (${bigDepCount}).`,
  ].join('\n');
  if (process.env.BENCH_RESULTS_FILE) fs.writeFileSync(process.env.BENCH_RESULTS_FILE, md + '\n');
  else writeSection('coverage', md);
  console.log(md);
}

try {
  await main();
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

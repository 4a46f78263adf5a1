/**
 * Places benchmark (`npm run bench:places`): import rate of a validated 20,000-row standard CSV,
 * search latency at 200,000 places (in-process and through HTTP) and near-me HTTP throughput,
 * on the embedded database and on PostgreSQL. Results go to docs/benchmarks.md.
 *
 * Environment: BENCH_PLACES (default 200000), BENCH_ITER (default 200 per query), BENCH_IMPORT_RUNS
 * (default 5 runs of the 20,000-row import and 5 re-imports of it unchanged, the median is reported),
 * BENCH_PARTS (default "import,search"; "import" runs only the import runs, in a few minutes, and
 * writes them to their own section of docs/benchmarks.md),
 * BENCH_ENGINES (default "pglite,postgres"; PostgreSQL needs DATABASE_URL — the npm script starts
 * a throw-away server through scripts/with-postgres.sh).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { loadConfig } from '../src/platform/config.ts';
import { openDb, type Db } from '../src/platform/db/index.ts';
import { createLogger } from '../src/platform/log.ts';
import { silentProgress } from '../src/platform/progress.ts';
import { buildApp, migrateAll } from '../src/app.ts';
import { modules } from '../src/modules/registry.ts';
import { listCommunes } from '../src/modules/territories/index.ts';
import { generatePlaces, importPlaces, refreshAllIntervals, searchPlaces, type PlaceQuery } from '../src/modules/places/index.ts';
import { csvHeaderLine, csvStream, toCsvLine } from '../src/modules/places/model/index.ts';
import { machine, ms, percentiles, timeIt, writeSection } from './lib.ts';

const TOTAL = Number(process.env.BENCH_PLACES ?? 200_000);
const ITER = Number(process.env.BENCH_ITER ?? 200);
const IMPORT_RUNS = Number(process.env.BENCH_IMPORT_RUNS ?? 5);
const engines = (process.env.BENCH_ENGINES ?? 'pglite,postgres').split(',');
// BENCH_PARTS=import: only the import and re-import runs (a few minutes; written to their own section).
const PARTS = (process.env.BENCH_PARTS ?? 'import,search').split(',');

interface Run {
  wall: number;
  cpu: number;
}
/** Wall time and this process's CPU time (user + system) of one run, in ms. */
async function timeRun(fn: () => Promise<unknown>): Promise<Run> {
  const cpu = process.cpuUsage();
  const wall = await timeIt(fn);
  const used = process.cpuUsage(cpu);
  return { wall, cpu: (used.user + used.system) / 1000 };
}
function summary(runs: Run[]) {
  const p = percentiles(runs.map((r) => r.wall));
  return { p50: p.p50, p95: p.p95, cpu50: percentiles(runs.map((r) => r.cpu)).p50 };
}
// Production settings (no dev-only routes); a throw-away secret for the accounts module.
const config = loadConfig({ SECRET_KEY: crypto.randomBytes(32).toString('hex'), ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'silent' });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-bench-'));

// Representative queries. Positions are real town centres; dates are "now" (open_now).
const NEXT_TUESDAY_10 = (() => {
  const d = new Date();
  d.setDate(d.getDate() + ((2 - d.getDay() + 7) % 7 || 7));
  d.setHours(10, 0, 0, 0);
  return d;
})();

const QUERIES: { name: string; query: PlaceQuery; http: string }[] = [
  { name: 'text only ("france services")', query: { q: 'france services' }, http: 'q=france%20services' },
  { name: 'text only ("mediatheque")', query: { q: 'mediatheque' }, http: 'q=mediatheque' },
  { name: 'text only ("rennes")', query: { q: 'rennes' }, http: 'q=rennes' },
  { name: 'near + 10 km (Lyon)', query: { near: { lat: 45.764, lon: 4.8357 }, radiusKm: 10 }, http: 'near=45.764,4.8357&radius=10' },
  { name: 'near + 20 km (Guéret, rural)', query: { near: { lat: 46.171, lon: 1.871 }, radiusKm: 20 }, http: 'near=46.171,1.871&radius=20' },
  {
    name: 'territory 27 + 2 filters',
    query: { territory: '27', filters: { services: ['Aide aux démarches administratives'], frais_a_charge: ['Gratuit'] } },
    http: `territory=27&services=${encodeURIComponent('Aide aux démarches administratives')}&frais_a_charge=Gratuit`,
  },
  {
    name: 'text + near + open_now (Rennes)',
    query: { q: 'numerique', near: { lat: 48.1173, lon: -1.6778 }, radiusKm: 15, openNow: true },
    http: 'q=numerique&near=48.1173,-1.6778&radius=15&open_now=true',
  },
  {
    // "Open now" depends on the hour the benchmark runs (at night nothing is open): the same query
    // at a fixed opening time too.
    name: 'text + near + open_at (Rennes, next Tuesday 10:00)',
    query: { q: 'numerique', near: { lat: 48.1173, lon: -1.6778 }, radiusKm: 15, openAt: NEXT_TUESDAY_10 },
    http: `q=numerique&near=48.1173,-1.6778&radius=15&open_at=${encodeURIComponent(NEXT_TUESDAY_10.toISOString())}`,
  },
  { name: 'bounding box (map, Paris)', query: { bbox: [2.25, 48.81, 2.42, 48.9], limit: 100 }, http: 'bbox=2.25,48.81,2.42,48.9&limit=100' },
];

interface CannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
}

/** autocannon in a child process (bench/cannon.mjs), so the load does not share the server's thread. */
function loadTest(opts: { url: string; duration: number; pathsFile?: string }): Promise<CannonResult> {
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'cannon.mjs');
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [script, JSON.stringify({ connections: 20, ...opts })], { encoding: 'utf8', maxBuffer: 1 << 26 }, (err, out) =>
      err ? reject(err) : resolve(JSON.parse(out) as CannonResult),
    ),
  );
}

async function writeCsv(file: string, records: ReturnType<typeof generatePlaces>) {
  const out = fs.createWriteStream(file);
  for await (const chunk of csvStream(records)) if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  await new Promise<void>((r) => out.end(r));
}

async function benchEngine(engine: string): Promise<string> {
  const lines: string[] = [];
  let db: Db;
  if (engine === 'pglite') db = await openDb({ databaseUrl: null, pgliteDir: path.join(tmp, 'pglite') });
  else {
    if (!process.env.DATABASE_URL) return `### PostgreSQL\n\nSkipped: no DATABASE_URL (run through \`npm run bench:places\`, which starts one).\n`;
    db = await openDb({ databaseUrl: process.env.DATABASE_URL, poolSize: 10 });
    await db.exec('DROP SCHEMA IF EXISTS places CASCADE; DROP SCHEMA IF EXISTS territories CASCADE; DROP SCHEMA IF EXISTS platform CASCADE;');
  }
  const log = createLogger('silent');
  await migrateAll(db);
  for (const m of modules) if (m.seedReference) await m.seedReference({ config, db, log, progress: () => silentProgress() });
  const communes = await listCommunes(db);
  console.error(`[${engine}] territories ready (${communes.length} communes)`);

  // 1. Import of a 20,000-row standard CSV, validated.
  const sample = generatePlaces(communes, 20_000, 1);
  const csv20k = path.join(tmp, 'places-20k.csv');
  await writeCsv(csv20k, sample);
  // Several runs, each into an emptied source (the host's timing varies by ±10 % from run to run):
  // the first runs in a process that has not imported yet, as a CLI import does. Wall time and
  // this process's CPU time (on PostgreSQL the server's own CPU is not in it).
  let report: Awaited<ReturnType<typeof importPlaces>> | null = null;
  const importRuns: Run[] = [];
  for (let run = 0; run < IMPORT_RUNS; run++) {
    if (run > 0) {
      await db.query("DELETE FROM places.place WHERE import_source = 'bench-import'");
      await db.exec('VACUUM places.place');
    }
    importRuns.push(
      await timeRun(async () => {
        report = await importPlaces(db, csv20k, { importSource: 'bench-import', actor: 'bench' });
      }),
    );
  }
  const r = report!;
  const rateOf = (x: Run) => Math.round((20_000 / x.wall) * 1000);
  const imp = summary(importRuns);
  console.error(`[${engine}] import 20k: median ${ms(imp.p50)} ms → ${rateOf({ wall: imp.p50, cpu: 0 })} rows/s, CPU median ${ms(imp.cpu50)} ms; runs ${importRuns.map((x) => rateOf(x).toLocaleString('en')).join(', ')} rows/s (${r.inserted} inserted, ${r.refused} refused)`);
  // Re-imports of the same, unchanged file.
  const reimportRuns: Run[] = [];
  let again: Awaited<ReturnType<typeof importPlaces>> | null = null;
  for (let run = 0; run < IMPORT_RUNS; run++) {
    reimportRuns.push(await timeRun(async () => (again = await importPlaces(db, csv20k, { importSource: 'bench-import', actor: 'bench' }))));
  }
  const re = summary(reimportRuns);
  console.error(`[${engine}] re-import 20k unchanged: median ${ms(re.p50)} ms → ${rateOf({ wall: re.p50, cpu: 0 })} rows/s, CPU median ${ms(re.cpu50)} ms (${again!.unchanged} unchanged)`);
  // The database's own share of a first import: the same 20,000 rows inserted by one INSERT …
  // SELECT from a copy of them (no reading, validation, enrichment or transfer), every index of
  // places.place maintained. No first import can be faster.
  await db.exec('DROP TABLE IF EXISTS public.bench_place_copy');
  await db.exec("CREATE TABLE public.bench_place_copy AS SELECT * FROM places.place WHERE import_source = 'bench-import'");
  const { rows: colRows } = await db.query<{ s: string }>(
    `SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) AS s FROM pg_attribute
      WHERE attrelid = 'places.place'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''`,
  );
  const floorRuns: number[] = [];
  for (let run = 0; run < 3; run++) {
    await db.query("DELETE FROM places.place WHERE import_source = 'bench-import'");
    await db.exec('VACUUM places.place');
    floorRuns.push(await timeIt(() => db.query(`INSERT INTO places.place (${colRows[0]!.s}) SELECT ${colRows[0]!.s} FROM public.bench_place_copy`)));
  }
  await db.exec('DROP TABLE public.bench_place_copy');
  const floor = percentiles(floorRuns).p50;
  console.error(`[${engine}] database alone (INSERT … SELECT of the 20k rows): median ${ms(floor)} ms → ${rateOf({ wall: floor, cpu: 0 })} rows/s`);
  const target = engine === 'pglite' ? 10_000 : 25_000;
  const mark = (rate: number, t: number) => `${rate >= t ? '✅' : '❌'} (target ≥ ${t.toLocaleString('en')})`;
  const importLines = [
    `- Import of a 20,000-row standard CSV v1.0.2, read + validated + enriched + written in one transaction (a first import of a source: COPY straight into places.place; otherwise COPY into a staging table, then one merge per batch): **${rateOf({ wall: imp.p50, cpu: 0 }).toLocaleString('en')} rows/s** ${mark(rateOf({ wall: imp.p50, cpu: 0 }), target)}, the median of ${importRuns.length} runs into an emptied source (wall p50 ${ms(imp.p50 / 1000)} s, p95 ${ms(imp.p95 / 1000)} s; this process's CPU p50 ${ms(imp.cpu50 / 1000)} s; ${r.refused} refused). Each run, in order: ${importRuns.map((x) => `${rateOf(x).toLocaleString('en')} rows/s (${ms(x.wall / 1000)} s, CPU ${ms(x.cpu / 1000)} s)`).join(', ')}; the first one is the process's first import.`,
    `- The database alone, for comparison: the same 20,000 rows inserted by one INSERT … SELECT from a copy of them (no reading, validation, enrichment or transfer; every index of places.place maintained): **${rateOf({ wall: floor, cpu: 0 }).toLocaleString('en')} rows/s** (median of ${floorRuns.length} runs: ${floorRuns.map((x) => `${ms(x)} ms`).join(', ')}). No first import can be faster on this machine${engine === 'pglite' ? ' (on PGlite the database runs on the import\'s own thread: its time adds to the rest)' : ' (PostgreSQL works on the other core while the import reads the next rows)'}.`,
    `- Re-import of the same file, unchanged (${again!.unchanged.toLocaleString('en')} unchanged): **${rateOf({ wall: re.p50, cpu: 0 }).toLocaleString('en')} rows/s** ${mark(rateOf({ wall: re.p50, cpu: 0 }), 50_000)}, the median of ${reimportRuns.length} runs (wall p50 ${ms(re.p50)} ms, p95 ${ms(re.p95)} ms; CPU p50 ${ms(re.cpu50)} ms).`,
  ];
  if (!PARTS.includes('search')) {
    await db.close();
    return [`### ${engine === 'pglite' ? 'Embedded database (PGlite)' : 'PostgreSQL'}`, '', ...importLines, ''].join('\n');
  }

  // 2. Fill up to TOTAL places by importing one big streamed file (generated in chunks so the
  //    benchmark itself never holds it in memory), sampling the process's memory meanwhile.
  const big = path.join(tmp, 'places-rest.csv');
  const restCount = TOTAL - 20_000;
  {
    const out = fs.createWriteStream(big);
    out.write(csvHeaderLine());
    for (let done = 0, seed = 2; done < restCount; done += 20_000, seed++) {
      for (const p of generatePlaces(communes, Math.min(20_000, restCount - done), seed)) {
        if (!out.write(toCsvLine({ ...p, id: `${seed}-${p.id}` }))) await new Promise<void>((r) => out.once('drain', () => r()));
      }
    }
    await new Promise<void>((r) => out.end(r));
  }
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50);
  let fillReport: Awaited<ReturnType<typeof importPlaces>> | null = null;
  const fillMs = await timeIt(async () => {
    fillReport = await importPlaces(db, big, { importSource: 'bench-fill', actor: 'bench' });
  });
  clearInterval(sampler);
  const fr = fillReport!;
  await refreshAllIntervals(db);
  // What PostgreSQL's autovacuum does after a bulk load (and the demo seeding does on PGlite):
  // planner statistics and the visibility map (index-only scans).
  await db.exec('VACUUM ANALYZE places.place');
  const fillRate = Math.round((restCount / fillMs) * 1000);
  console.error(`[${engine}] streamed import of ${restCount} rows: ${ms(fillMs / 1000)} s (${fillRate} rows/s), RSS +${Math.round((rssPeak - rssBefore) / 2 ** 20)} MiB`);

  // 3. Search latency in-process. The first run of a query computes its aggregates (total, the
  //    size of each relevance tier), which are then kept until the data changes: it is reported
  //    apart.
  const rows: string[] = [];
  for (const q of QUERIES) {
    const firstMs = await timeIt(() => searchPlaces(db, q.query));
    for (let i = 0; i < 10; i++) await searchPlaces(db, q.query); // warm-up
    const samples: number[] = [];
    let total = 0;
    for (let i = 0; i < ITER; i++) samples.push(await timeIt(async () => (total = (await searchPlaces(db, q.query)).total)));
    const p = percentiles(samples);
    rows.push(`| ${q.name} | in-process | ${total} | ${ms(firstMs)} | ${ms(p.p50)} | ${ms(p.p95)} | ${ms(p.p99)} |`);
    console.error(`[${engine}] ${rows[rows.length - 1]}`);
  }

  // 4. Through HTTP (a real listening server; latency measured by a sequential client).
  const { app } = await buildApp({ ...config, port: 0 }, db, log);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  for (const q of QUERIES) {
    const url = `${base}/api/v1/places?${q.http}`;
    for (let i = 0; i < 10; i++) await (await fetch(url)).arrayBuffer();
    const samples: number[] = [];
    for (let i = 0; i < ITER; i++) {
      samples.push(
        await timeIt(async () => {
          const res = await fetch(url);
          if (res.status !== 200) throw new Error(`${url} → ${res.status}`);
          await res.arrayBuffer();
        }),
      );
    }
    const p = percentiles(samples);
    rows.push(`| ${q.name} | HTTP | | | ${ms(p.p50)} | ${ms(p.p95)} | ${ms(p.p99)} |`);
    console.error(`[${engine}] ${rows[rows.length - 1]}`);
  }
  // 5. Throughput of a typical near-me query (autocannon in its own process, 20 connections, 10 s):
  //    the same URL again and again (answered from the response cache after the first), then
  //    20,000 distinct positions around Paris (every request computed).
  const cannon = await loadTest({ url: `${base}/api/v1/places?near=48.8566,2.3522&radius=5&limit=20`, duration: 10 });
  const pathsFile = path.join(tmp, 'near-paths.txt');
  fs.writeFileSync(
    pathsFile,
    Array.from({ length: 20_000 }, (_, k) => `/api/v1/places?near=${(48.8 + (k % 200) * 0.0006).toFixed(4)},${(2.25 + Math.floor(k / 200) * 0.0017).toFixed(4)}&radius=5&limit=20`).join('\n'),
  );
  const distinct = await loadTest({ url: base, duration: 10, pathsFile });
  await app.close();
  await db.close();
  const title = engine === 'pglite' ? 'Embedded database (PGlite)' : 'PostgreSQL';
  lines.push(`### ${title}`, '');
  lines.push(...importLines);
  lines.push(`- Streamed import of one ${restCount.toLocaleString('en')}-row file (${Math.round(fs.statSync(big).size / 2 ** 20)} MiB) into a base of 20,000: **${fillRate.toLocaleString('en')} rows/s** (${ms(fillMs / 1000)} s; ${fr.inserted.toLocaleString('en')} inserted, ${fr.refused} refused); process memory (RSS) grew by at most ${Math.round((rssPeak - rssBefore) / 2 ** 20)} MiB during the import (RSS includes garbage not yet collected and, on PGlite, the database itself).`);
  lines.push(`- Near-me query over HTTP with autocannon (own process, 20 connections, 10 s), the same URL (Paris, 5 km): **${Math.round(cannon.requests.average).toLocaleString('en')} req/s** on average, latency p50 ${cannon.latency.p50} ms, p99 ${cannon.latency.p99} ms, ${cannon.non2xx} non-2xx.`);
  lines.push(`- The same with 20,000 distinct positions around Paris (no response cache hit): **${Math.round(distinct.requests.average).toLocaleString('en')} req/s**, latency p50 ${distinct.latency.p50} ms, p99 ${distinct.latency.p99} ms, ${distinct.non2xx} non-2xx.`);
  lines.push('', `Search at ${TOTAL.toLocaleString('en')} places, ${ITER} runs per query after 10 warm-up runs (ms):`, '');
  lines.push('| query | path | results | first run | p50 | p95 | p99 |', '|---|---|---:|---:|---:|---:|---:|', ...rows, '');
  return lines.join('\n');
}

const sections: string[] = [];
for (const engine of engines) sections.push(await benchEngine(engine));
const importOnly = !PARTS.includes('search');
const md = importOnly
  ? [
      '## Places import (`BENCH_PARTS=import npm run bench:places`)',
      '',
      `Run on ${new Date().toISOString().slice(0, 10)}: ${machine()}.`,
      'Targets (issue 14): first import of 20,000 rows ≥ 25,000 rows/s on PostgreSQL, ≥ 10,000 rows/s on PGlite; re-import of an unchanged file ≥ 50,000 rows/s.',
      '',
      ...sections,
    ].join('\n')
  : [
  '## Places (`npm run bench:places`)',
  '',
  `Run on ${new Date().toISOString().slice(0, 10)}: ${machine()}.`,
  'Targets (issue 2): import ≥ 10,000 rows/s; search p95 ≤ 15 ms on PostgreSQL and ≤ 40 ms on PGlite; near-me ≥ 1,000 req/s on PostgreSQL. (Issue 14): first import ≥ 25,000 rows/s on PostgreSQL, ≥ 10,000 on PGlite; re-import unchanged ≥ 50,000 rows/s.',
  '',
  ...sections,
].join('\n');
writeSection(importOnly ? 'places-import' : 'places', md);
console.log(md);
fs.rmSync(tmp, { recursive: true, force: true });

/**
 * Mediation benchmark (`npm run bench:mediation`): at 1,000,000 activity records and ~3,000,000
 * beneficiary rows (generated in SQL), the latency of recording one activity through HTTP (form
 * POST with session and CSRF, counters updated in the same transaction) and of a région's
 * statistics page for a year; and 500 concurrent registrations for the last 20 seats of a session.
 * Results go to docs/benchmarks.md.
 *
 * The public page reads the protected figures kept in mediation.public_cube: measured warm (the
 * stored cube) and right after a write (the cube rebuilt once from the counters, then stored).
 *
 * Environment: BENCH_SCALE (default 1 = the issue's 1,000,000 activity records and ~3,000,000
 * beneficiary rows; 0.1 for a quick run), or BENCH_ACTIVITIES (an exact number; BENCH_ACTIVITIES_PGLITE
 * for the embedded database alone, default the same scale), BENCH_ITER (default 200 requests per measure), BENCH_ENGINES
 * (default "pglite,postgres"; PostgreSQL needs DATABASE_URL — the npm script starts a throw-away
 * server through scripts/with-postgres.sh). An engine left out of BENCH_ENGINES keeps its
 * subsection of docs/benchmarks.md as the last run that measured it wrote it (each subsection
 * says when and under which load it was measured). Prints p50/p95/p99 and the Node process's CPU time per
 * request (the database server's own CPU is not in it for PostgreSQL).
 *
 * Keeping the generated data (so the measurements can be re-run on a quiet machine without the
 * half-hour generation):
 *   BENCH_KEEP=/work/bench-data/mediation npm run bench:mediation    generates (replacing what DIR held)
 *       and keeps the databases in DIR: PGlite in DIR/pglite, the PostgreSQL cluster in DIR/postgres
 *       (scripts/with-postgres.sh PG_KEEP_DIR), and DIR/<engine>.json describing what was generated;
 *   BENCH_REUSE=/work/bench-data/mediation npm run bench:mediation   reuses them and only measures
 *       (the records made by earlier measurements stay: a few hundred on top of the million).
 * Keep DIR outside the worktree (a million records are several GB). No ../shared data is needed:
 * the sites are the COG's communes (without coordinates on a bare clone, which is enough).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/platform/config.ts';
import { openDb, type Db } from '../src/platform/db/index.ts';
import { createLogger } from '../src/platform/log.ts';
import { silentProgress } from '../src/platform/progress.ts';
import { buildApp, migrateAll } from '../src/app.ts';
import { modules } from '../src/modules/registry.ts';
import { listCommunes } from '../src/modules/territories/index.ts';
import { accountsTesting } from '../src/modules/accounts/index.ts';
import { generateActivities, rebuildCounters } from '../src/modules/mediation/generate.ts';
import { updateProfile } from '../src/modules/mediation/service.ts';
import * as training from '../src/modules/mediation/training.ts';
import { makePlace } from '../src/modules/mediation/tests/support.ts';
import { machine, ms, percentiles, readSection, timeIt, writeSection } from './lib.ts';

/** Wall-clock samples of fn, and the mean CPU time of this process per call (user + system). */
async function measure(n: number, fn: (i: number) => Promise<unknown>): Promise<{ samples: number[]; cpuMs: number }> {
  const samples: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) samples.push(await timeIt(() => fn(i)));
  const used = process.cpuUsage(cpu);
  return { samples, cpuMs: (used.user + used.system) / 1000 / n };
}

const ACTIVITIES_ALL = Number(process.env.BENCH_ACTIVITIES ?? Math.round(1_000_000 * Number(process.env.BENCH_SCALE ?? 1)));
if (!Number.isInteger(ACTIVITIES_ALL) || ACTIVITIES_ALL < 1000) throw new Error('BENCH_SCALE/BENCH_ACTIVITIES: at least 1,000 activities');
const ITER = Number(process.env.BENCH_ITER ?? 200);
const engines = (process.env.BENCH_ENGINES ?? 'pglite,postgres').split(',');
const config = loadConfig({ SECRET_KEY: crypto.randomBytes(32).toString('hex'), ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'silent' });
// Development settings: invitations for the benchmark's accounts go to the outbox instead of SMTP.
const keepDir = process.env.BENCH_KEEP || process.env.BENCH_REUSE || null;
const reuse = !process.env.BENCH_KEEP && !!process.env.BENCH_REUSE;
if (process.env.BENCH_KEEP && process.env.BENCH_REUSE) throw new Error('BENCH_KEEP and BENCH_REUSE: give one of them');
const tmp = keepDir ? path.resolve(keepDir) : fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-bench-mediation-'));
fs.mkdirSync(tmp, { recursive: true });
/** What a kept database holds (DIR/<engine>.json), written once its generation is complete. */
interface Generated { year: number; counts: { a: number; p: number; b: number; c: number }; genMs: number; genCpuMs?: number; genLoad?: string; recountMs: number; recountCpuMs: number; at: string }
const runTag = Date.now().toString(36); // the accounts made by this run (a reused database has those of earlier runs)

async function benchEngine(engine: string): Promise<string> {
  // PGlite at the same scale by default: its bulk load of 1,000,000 records took 62.7 s and the
  // counter rebuild 147.3 s (session 12, load ~6 on 2 cores), less than PostgreSQL's.
  const ACTIVITIES = engine === 'pglite' ? Number(process.env.BENCH_ACTIVITIES_PGLITE ?? ACTIVITIES_ALL) : ACTIVITIES_ALL;
  const runLine = `Run ${new Date().toISOString().slice(0, 16)} UTC on ${machine()}.`;
  const stateFile = path.join(tmp, `${engine}.json`);
  let prior: Generated | null = null;
  if (reuse) {
    if (!fs.existsSync(stateFile)) throw new Error(`BENCH_REUSE: ${stateFile} missing (generate first with BENCH_KEEP=${keepDir})`);
    prior = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as Generated;
  } else fs.rmSync(stateFile, { force: true });
  let db: Db;
  if (engine === 'pglite') {
    if (!reuse) fs.rmSync(path.join(tmp, 'pglite'), { recursive: true, force: true });
    db = await openDb({ databaseUrl: null, pgliteDir: path.join(tmp, 'pglite') });
  } else {
    if (!process.env.DATABASE_URL) return `### PostgreSQL\n\n${runLine} Skipped: no DATABASE_URL (run through \`npm run bench:mediation\`, which starts one).\n`;
    db = await openDb({ databaseUrl: process.env.DATABASE_URL, poolSize: 10 });
    if (!reuse) await db.exec('DROP SCHEMA IF EXISTS mediation CASCADE; DROP SCHEMA IF EXISTS places CASCADE; DROP SCHEMA IF EXISTS territories CASCADE; DROP SCHEMA IF EXISTS accounts CASCADE; DROP SCHEMA IF EXISTS platform CASCADE;');
  }
  const log = createLogger('silent');
  await migrateAll(db);
  let gen: Generated;
  if (prior) {
    gen = prior;
    console.error(`[${engine}] reusing ${tmp}: ${prior.counts.a} activities generated ${prior.at}`);
  } else {
    for (const m of modules) if (m.seedReference) await m.seedReference({ config, db, log, progress: () => silentProgress() });
    const communes = await listCommunes(db);
    console.error(`[${engine}] territories ready (${communes.length} communes)`);

    // 1. Bulk data: 1M activities for a year by 4,000 mediators (250 each), in a quarter of the communes of France, ~3M person rows.
    const sites = communes.filter((_, i) => i % 4 === 0).map((c) => ({ placeUid: null, communeCode: c.code, departement: c.departement, region: c.region }));
    const genYear = new Date().getFullYear() - 1;
    const genLoad = os.loadavg().map((l) => l.toFixed(1)).join(' / ');
    const genStartCpu = process.cpuUsage();
    const genMs = await timeIt(() =>
      generateActivities(db, {
        activities: ACTIVITIES, sites, mediators: Math.max(10, Math.round(ACTIVITIES / 250)), from: `${genYear}-01-01`, days: 365, followed: Math.round(ACTIVITIES / 20), prefix: 'bench-',
        batch: engine === 'pglite' ? 25_000 : 100_000, onProgress: (n) => console.error(`[${engine}] generated ${n.toLocaleString('en')} activities`),
      }),
    );
    const genCpuMs = ((u) => (u.user + u.system) / 1000)(process.cpuUsage(genStartCpu));
    console.error(`[${engine}] generated in ${ms(genMs)} ms, Node CPU ${ms(genCpuMs)} ms (load ${os.loadavg()[0]!.toFixed(1)}); rebuilding the counters`);
    const genCpu = process.cpuUsage();
    const recountMs = await timeIt(() => rebuildCounters(db));
    const recountCpuMs = ((u) => (u.user + u.system) / 1000)(process.cpuUsage(genCpu));
    await db.exec('ANALYZE');
    const counts = (await db.query<{ a: number; p: number; b: number; c: number }>(
      `SELECT (SELECT count(*) FROM mediation.activity)::int AS a, (SELECT count(*) FROM mediation.activity_beneficiary)::int AS p,
              (SELECT count(*) FROM mediation.beneficiary)::int AS b, (SELECT count(*) FROM mediation.stat_counter)::int AS c`,
    )).rows[0]!;
    gen = { year: genYear, counts, genMs, genCpuMs, genLoad, recountMs, recountCpuMs, at: new Date().toISOString() };
    if (keepDir) fs.writeFileSync(stateFile, JSON.stringify(gen, null, 2));
  }
  const { year, counts, genMs, genCpuMs, genLoad, recountMs, recountCpuMs } = gen;
  console.error(`[${engine}] ${counts.a} activities, ${counts.p} person rows, ${counts.b} followed, ${counts.c} counters (generated in ${ms(genMs)} ms, counters rebuilt in ${ms(recountMs)} ms); load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  // 2. HTTP: a mediator records activities; a regional officer opens the région's page for a year.
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' / ');
  const { app, ctx } = await buildApp(config, db, log);
  const deps = accountsTesting.depsOf(app);
  const med = await accountsTesting.makeUser(deps, `bench-med-${engine}-${runTag}@exemple.fr`, [{ role: 'mediator', scopeKind: 'region', scopeId: '28' }], 'Médiatrice');
  const staff = await accountsTesting.makeUser(deps, `bench-staff-${engine}-${runTag}@exemple.fr`, [{ role: 'regional_staff', scopeKind: 'region', scopeId: '28' }], 'Agent régional');
  const place = await makePlace(db, '76540', 'Médiathèque'); // Rouen (in the COG of every clone)
  await updateProfile(ctx, med.id, 'Médiatrice', { employer: 'Commune', placeUids: [place] });
  const mb = await accountsTesting.signedInBrowser(app, deps, med);
  const sb = await accountsTesting.signedInBrowser(app, deps, staff, '192.0.2.9');
  await mb.get('/mediation/activites/nouvelle');
  const record = async (i: number) => {
    const body = new URLSearchParams({
      _csrf: mb.csrf!, kind: i % 5 === 0 ? 'collective' : 'individual', date: `${year}-06-15`, duration: '45', placeKind: 'place', placeUid: place,
      themes: 'e-mail', ...(i % 5 === 0 ? { workshopTitle: 'Atelier', participants: '8', anon_gender_f: '4' } : {}), idempotencyKey: crypto.randomUUID(),
    });
    const res = await app.inject({ method: 'POST', url: '/mediation/activites', payload: body.toString(), headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', cookie: [...mb.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    if (res.statusCode !== 201) throw new Error(`record: ${res.statusCode} ${res.body.slice(0, 200)}`);
  };
  for (let i = 0; i < 20; i++) await record(i); // warm-up
  const recM = await measure(ITER, record);
  const rec = percentiles(recM.samples);
  console.error(`[${engine}] record one activity (HTTP): p50 ${ms(rec.p50)} p95 ${ms(rec.p95)} p99 ${ms(rec.p99)} ms, CPU ${ms(recM.cpuMs)} ms`);

  const pageUrl = `/mediation/statistiques/territoire/region/28?annee=${year}`;
  const first = await sb.get(pageUrl);
  if (first.status !== 200) throw new Error(`stats page: ${first.status}`);
  const pageM = await measure(ITER, () => sb.get(pageUrl));
  const page = percentiles(pageM.samples);
  const publicUrl = `/statistiques/mediation/departement/76?annee=${year}`;
  const getPublic = async () => {
    const res = await app.inject({ method: 'GET', url: publicUrl });
    if (res.statusCode !== 200) throw new Error(`public page: ${res.statusCode}`);
  };
  await getPublic();
  const pubM = await measure(ITER, getPublic);
  const pub = percentiles(pubM.samples);
  // Right after a write: the first reader rebuilds the région's protected cube (then stores it).
  const coldSamples: number[] = [];
  let coldCpu = 0;
  for (let i = 0; i < Math.max(5, Math.round(ITER / 10)); i++) {
    await record(10_000 + i);
    const m = await measure(1, getPublic);
    coldSamples.push(m.samples[0]!);
    coldCpu += m.cpuMs;
  }
  const cold = percentiles(coldSamples);
  coldCpu /= coldSamples.length;
  // A reader a little after a write: the cube was rebuilt in the background after the write
  // committed (refreshPublicCubes), so the reader finds it stored.
  const laterSamples: number[] = [];
  let laterCpu = 0;
  for (let i = 0; i < Math.max(5, Math.round(ITER / 20)); i++) {
    await record(20_000 + i);
    await new Promise((r) => setTimeout(r, 1500));
    const m = await measure(1, getPublic);
    laterSamples.push(m.samples[0]!);
    laterCpu += m.cpuMs;
  }
  const later = percentiles(laterSamples);
  laterCpu /= laterSamples.length;
  console.error(`[${engine}] région statistics page for a year: p50 ${ms(page.p50)} p95 ${ms(page.p95)} ms; public département page p50 ${ms(pub.p50)} p95 ${ms(pub.p95)} ms, after a write p50 ${ms(cold.p50)} p95 ${ms(cold.p95)} ms, 1.5 s after a write p50 ${ms(later.p50)} p95 ${ms(later.p95)} ms`);

  // 3. The race: 500 concurrent registrations for the last 20 seats.
  const provider = await training.createProvider(ctx, null, { name: 'Organisme' });
  const pathId = await training.createPath(ctx, null, { providerId: provider, title: 'Parcours', modules: training.parseModules('Module | 3 | 1.1 | 2') });
  const session = await training.createSession(ctx, null, { pathId, startsOn: `${year + 1}-09-01`, capacity: '30', placeUid: place });
  for (let i = 0; i < 10; i++) await training.register(ctx, session, { name: `Déjà inscrit ${i}`, email: `deja${i}-${engine}-${runTag}@exemple.fr` }, null);
  let results: training.RegistrationResult[] = [];
  const raceMs = await timeIt(async () => {
    results = await Promise.all(Array.from({ length: 500 }, (_, i) => training.register(ctx, session, { name: `Personne ${i}`, email: `course${i}-${engine}-${runTag}@exemple.fr` }, null)));
  });
  const seats = results.filter((r) => r.status === 'confirmed').length;
  const waiting = results.filter((r) => r.status === 'waiting').length;
  const stored = (await db.query<{ seats_taken: number }>('SELECT seats_taken FROM mediation.training_session WHERE id = $1', [session])).rows[0]!.seats_taken;
  console.error(`[${engine}] race: ${seats} seats, ${waiting} waiting (session: ${stored}/30 seats) in ${ms(raceMs)} ms`);

  await app.close();
  await db.close();
  const name = engine === 'pglite' ? 'PGlite (embedded)' : 'PostgreSQL';
  const shared = Number(load.split(' / ')[0]) > os.cpus().length ? ' **The machine was shared with other work** (load average above the number of cores): figures are pessimistic.' : '';
  return `### ${name}

${runLine} ${counts.a >= 1_000_000 ? 'The issue\'s full scale.' : `Scale ${(counts.a / 1_000_000).toFixed(2)} of the issue's 1,000,000 records.`}${prior ? ` Measured again on the data kept by BENCH_KEEP (generated ${prior.at.slice(0, 16)} UTC; the records of earlier measurements stay).` : ''}

Load average (1 / 5 / 15 min) when the measurements started: ${load}.${shared}

Data: ${counts.a.toLocaleString('en')} activity records, ${counts.p.toLocaleString('en')} beneficiary rows (one per person per activity), ${counts.b.toLocaleString('en')} followed beneficiaries, ${counts.c.toLocaleString('en')} counter rows. Bulk generation in SQL ${(genMs / 1000).toFixed(1)} s, counter rebuild ${(recountMs / 1000).toFixed(1)} s (one-off; records keep the counters up to date themselves; ${engine === 'pglite' ? 'in this process' : 'in the database server'}: Node's own CPU during the generation ${genCpuMs === undefined ? 'not recorded' : `${(genCpuMs / 1000).toFixed(1)} s`}, during the rebuild ${(recountCpuMs / 1000).toFixed(1)} s${genLoad ? `; load average ${genLoad} when the generation started` : ''}).

| measure | p50 | p95 | p99 | CPU (Node) per request | target |
|---|---|---|---|---|---|
| record one activity (HTTP form POST, ${rec.n} requests) | ${ms(rec.p50)} ms | ${ms(rec.p95)} ms | ${ms(rec.p99)} ms | ${ms(recM.cpuMs)} ms | p95 ≤ 30 ms |
| région statistics page for a year (HTTP, staff, ${page.n} requests) | ${ms(page.p50)} ms | ${ms(page.p95)} ms | ${ms(page.p99)} ms | ${ms(pageM.cpuMs)} ms | p95 ≤ ${engine === 'pglite' ? '1 s' : '200 ms'} |
| public département page for a year, protected figures stored (${pub.n} requests) | ${ms(pub.p50)} ms | ${ms(pub.p95)} ms | ${ms(pub.p99)} ms | ${ms(pubM.cpuMs)} ms | p95 ≤ ${engine === 'pglite' ? '1 s' : '200 ms'} |
| public département page right after a write (joins the rebuild the write started, ${cold.n} requests) | ${ms(cold.p50)} ms | ${ms(cold.p95)} ms | ${ms(cold.p99)} ms | ${ms(coldCpu)} ms | — (once per change) |
| public département page 1.5 s after a write (rebuilt in the background, ${later.n} requests) | ${ms(later.p50)} ms | ${ms(later.p95)} ms | ${ms(later.p99)} ms | ${ms(laterCpu)} ms | p95 ≤ ${engine === 'pglite' ? '1 s' : '200 ms'} |

Race: 500 concurrent registrations for the last 20 of 30 seats → **${seats} seats, ${waiting} on the waiting list** (session counter ${stored}/30), in ${ms(raceMs)} ms.
`;
}

const HEADINGS: Record<string, string> = { pglite: '### PGlite (embedded)', postgres: '### PostgreSQL' };
const measured = new Map<string, string>();
for (const e of engines) measured.set(e, await benchEngine(e));
// The engines not run this time keep their subsection as it was.
const before = readSection('mediation') ?? '';
const kept = (e: string) => {
  const i = before.indexOf(`${HEADINGS[e]}\n`);
  if (i < 0) return null;
  const next = before.slice(i + 1).search(/^### /m);
  return before.slice(i, next < 0 ? undefined : i + 1 + next).trim() + '\n';
};
const sections = Object.keys(HEADINGS).map((e) => measured.get(e) ?? kept(e)).filter((x): x is string => !!x);
const text = `## Mediation (\`npm run bench:mediation\`)

Each engine's subsection is written by the last run that measured it (\`BENCH_ENGINES\`), with its own date, scale and load.

${sections.join('\n')}`;
writeSection('mediation', text);
console.error(text);
if (!keepDir) fs.rmSync(tmp, { recursive: true, force: true });

/**
 * Consultation benchmark (`npm run bench:consultation`): a participatory budget's closing night —
 * BENCH_VOTERS (default 20,000) people with a basket ready confirm their vote, BENCH_CONCURRENCY
 * (default 32) at a time, and a tenth of them send their confirmation twice at once: checkouts per
 * second, then a check that no vote was lost or counted twice (ballots = voters, per-project
 * counters = a recount from the baskets). Then the tally with BENCH_TALLY (default 200,000) votes,
 * a process page with 5,000 proposals and a page of comments (p50/p95/p99 over BENCH_ITER requests
 * through the HTTP app). Checkouts go through the service (the transaction the vote form runs),
 * pages through app.inject. Results go to docs/benchmarks.md.
 *
 * BENCH_ENGINES: "postgres" by default (the npm script starts a throw-away server), "pglite" too.
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
import * as svc from '../src/modules/consultation/service.ts';
import { machine, ms, percentiles, timeIt, writeSection } from './lib.ts';

const VOTERS = Number(process.env.BENCH_VOTERS ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const TALLY = Number(process.env.BENCH_TALLY ?? 200_000);
const ITER = Number(process.env.BENCH_ITER ?? 200);
const engines = (process.env.BENCH_ENGINES ?? 'postgres').split(',');
const config = loadConfig({ SECRET_KEY: crypto.randomBytes(32).toString('hex'), ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'silent' });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-bench-consultation-'));
const DAY = 86_400_000;

type Stats = ReturnType<typeof percentiles> & { cpuMean: number };

/** p50/p95/p99 of the wall-clock time, and the mean CPU time of this Node.js process per request. */
async function latency(fn: () => Promise<unknown>, iterations = ITER, warmup = 10): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < iterations; i++) samples.push(await timeIt(fn));
  const cpu = process.cpuUsage(cpu0);
  return { ...percentiles(samples), cpuMean: (cpu.user + cpu.system) / 1000 / iterations };
}

async function benchEngine(engine: string): Promise<string> {
  let db: Db;
  if (engine === 'pglite') db = await openDb({ databaseUrl: null, pgliteDir: path.join(tmp, 'pglite') });
  else {
    if (!process.env.DATABASE_URL) return `### PostgreSQL\n\nSkipped: no DATABASE_URL (run through \`npm run bench:consultation\`, which starts one).\n`;
    db = await openDb({ databaseUrl: process.env.DATABASE_URL, poolSize: Math.min(40, CONCURRENCY + 4) });
    await db.exec('DROP SCHEMA IF EXISTS consultation CASCADE; DROP SCHEMA IF EXISTS mediation CASCADE; DROP SCHEMA IF EXISTS roadmap CASCADE; DROP SCHEMA IF EXISTS places CASCADE; DROP SCHEMA IF EXISTS territories CASCADE; DROP SCHEMA IF EXISTS accounts CASCADE; DROP SCHEMA IF EXISTS platform CASCADE;');
  }
  const log = createLogger('silent');
  await migrateAll(db);
  for (const m of modules) if (m.seedReference) await m.seedReference({ config, db, log, progress: () => silentProgress() });
  const ctx = { db };
  const now = Date.now();
  const slug = `bench-${engine}`;
  await svc.createProcess(ctx, null, {
    slug, title: 'Budget participatif (banc d’essai)', region: '27', budgetWorkflow: 'one',
    phases: [{ title: 'Vote et propositions', startsAt: new Date(now - DAY), endsAt: new Date(now + DAY), votes: true, comments: true, proposals: true, supports: true }],
  });
  const p = (await svc.getProcess(db, slug))!;

  // 1. Closing night: VOTERS baskets ready (written in SQL), then confirmed concurrently.
  await svc.createBudget(ctx, null, p.id, { slug: 'nuit', title: 'Budget de la dernière nuit', departement: null, amountCents: 1_000_000_00, rule: 'minimum', thresholdPct: 70, minProjects: 2, maxProjects: null });
  const night = (await svc.getBudget(db, p.id, 'nuit'))!;
  const projects: string[] = [];
  for (let i = 0; i < 12; i++) projects.push(await svc.createProject(ctx, null, night.id, { title: `Projet ${i + 1}`, costCents: (50 + i * 10) * 1000_00 }));
  const voters = Array.from({ length: VOTERS }, () => crypto.randomUUID());
  for (let i = 0; i < voters.length; i += 5000) {
    const chunk = voters.slice(i, i + 5000);
    await db.query(`INSERT INTO consultation.basket (id, budget_id, user_id) SELECT gen_random_uuid(), $1, u FROM unnest($2::uuid[]) AS u`, [night.id, chunk]);
    await db.query(
      `INSERT INTO consultation.basket_item (basket_id, project_id)
       SELECT b.id, ($3::uuid[])[1 + ((abs(hashtext(b.user_id::text)) + k) % 12)] FROM consultation.basket b, generate_series(0, 2) k WHERE b.budget_id = $1 AND b.user_id = ANY($2::uuid[])
       ON CONFLICT DO NOTHING`,
      [night.id, chunk, projects],
    );
  }
  console.error(`[${engine}] ${VOTERS} baskets ready`);
  const attempts = voters.flatMap((u, i) => (i % 10 === 0 ? [u, u] : [u]));
  let ok = 0;
  let refused = 0;
  let failed = 0;
  let next = 0;
  const samples: number[] = [];
  const worker = async () => {
    while (next < attempts.length) {
      const u = attempts[next++]!;
      const t0 = performance.now();
      try {
        await svc.checkout(ctx, p, night, { id: u, emailVerified: true, createdAt: new Date(now - 30 * DAY).toISOString() }, {});
        ok++;
        samples.push(performance.now() - t0);
      } catch (e) {
        if ((e as { code?: string }).code === 'already_voted') refused++;
        else {
          failed++;
          if (failed < 5) console.error(e);
        }
      }
    }
  };
  const cpu0 = process.cpuUsage();
  const checkoutMs = await timeIt(() => Promise.all(Array.from({ length: CONCURRENCY }, worker)));
  const cpu = process.cpuUsage(cpu0);
  const checkoutCpuMs = (cpu.user + cpu.system) / 1000;
  const perCheckout = percentiles(samples);
  const ballots = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.ballot WHERE scope_id = $1', [p.id])).rows[0]!.n;
  const checkedOut = (await db.query<{ n: number; lines: number }>(
    `SELECT count(DISTINCT b.id)::int AS n, count(i.project_id)::int AS lines FROM consultation.basket b JOIN consultation.basket_item i ON i.basket_id = b.id WHERE b.budget_id = $1 AND b.checked_out_at IS NOT NULL`, [night.id])).rows[0]!;
  const t = await svc.tally(db, night);
  const counted = t.projects.reduce((s, x) => s + x.votes, 0);
  const mismatches = Math.abs(ballots - VOTERS) + Math.abs(checkedOut.n - VOTERS) + Math.abs(counted - checkedOut.lines);
  const rate = (ok / checkoutMs) * 1000;
  console.error(`[${engine}] ${ok} checkouts in ${ms(checkoutMs)} ms (${rate.toFixed(0)}/s), ${refused} second attempts refused, ${failed} failures, ballots ${ballots}, checked-out baskets ${checkedOut.n}, votes counted ${counted} for ${checkedOut.lines} basket lines`);

  // 2. Tally of TALLY votes (baskets and items written in SQL, counters set from a recount).
  await svc.createBudget(ctx, null, p.id, { slug: 'tally', title: 'Budget à dépouiller', departement: null, amountCents: 1_000_000_00, rule: 'minimum', thresholdPct: 70, minProjects: 1, maxProjects: null });
  const big = (await svc.getBudget(db, p.id, 'tally'))!;
  const bigProjects: string[] = [];
  for (let i = 0; i < 40; i++) bigProjects.push(await svc.createProject(ctx, null, big.id, { title: `Projet ${i + 1}`, costCents: (20 + i) * 1000_00 }));
  for (let i = 0; i < TALLY; i += 50_000) {
    const n = Math.min(50_000, TALLY - i);
    await db.query(`INSERT INTO consultation.basket (id, budget_id, user_id, checked_out_at) SELECT gen_random_uuid(), $1, gen_random_uuid(), now() FROM generate_series(1, $2)`, [big.id, n]);
  }
  await db.query(
    `INSERT INTO consultation.basket_item (basket_id, project_id) SELECT b.id, ($2::uuid[])[1 + ((abs(hashtext(b.id::text)) + k * 7) % 40)] FROM consultation.basket b, generate_series(0, 3) k WHERE b.budget_id = $1 ON CONFLICT DO NOTHING`,
    [big.id, bigProjects],
  );
  await db.exec('ANALYZE');
  const tallyStats = await latency(() => svc.tally(db, big), 20, 1);
  const recountMs = await timeIt(() => svc.recount(db, big.id));
  console.error(`[${engine}] tally of ${TALLY} votes p95 ${ms(tallyStats.p95)} ms; full recount ${ms(recountMs)} ms`);

  // 3. A process page with 5,000 proposals; 4. a proposal's comments (2,000), paginated.
  await db.query(
    `INSERT INTO consultation.proposal (id, process_id, number, title, body, author_id, supports, created_at)
     SELECT gen_random_uuid(), $1, g, 'Proposition ' || g, repeat('Une proposition pour le numérique. ', 10), gen_random_uuid(), g % 50, now() - (g || ' minutes')::interval FROM generate_series(1, 5000) g`,
    [p.id],
  );
  const target = (await svc.getProposal(db, p.id, 1))!;
  await db.query(
    `INSERT INTO consultation.comment (id, proposal_id, author_id, body, created_at) SELECT gen_random_uuid(), $1, gen_random_uuid(), 'Commentaire ' || g, now() - ((3000 - g) || ' seconds')::interval FROM generate_series(1, 2000) g`,
    [target.id],
  );
  await db.query('UPDATE consultation.proposal SET comments = 2000 WHERE id = $1', [target.id]);
  await db.exec('ANALYZE');
  const { app } = await buildApp(config, db, log);
  const get = async (url: string) => {
    const r = await app.inject({ method: 'GET', url, headers: { accept: 'text/html' } });
    if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode}`);
  };
  const processPage = await latency(() => get(`/concertations/${slug}`));
  const cursor = (await svc.listComments(db, target.id, { limit: 50 })).nextCursor!;
  const middle = (await svc.listComments(db, target.id, { limit: 1000 })).nextCursor!;
  const commentsApi = await latency(() => get(`/api/v1/consultation/processes/${slug}/proposals/1/comments?after=${encodeURIComponent(middle)}&limit=50`));
  const proposalPage = await latency(() => get(`/concertations/${slug}/propositions/1?apres=${encodeURIComponent(cursor)}`));
  await app.close();
  await db.close();
  const row = (label: string, s: Stats, target: string) => `| ${label} | ${ms(s.p50)} | ${ms(s.p95)} | ${ms(s.p99)} | ${ms(s.cpuMean)} | ${target} |`;
  return `### ${engine === 'postgres' ? 'PostgreSQL' : 'PGlite (embedded)'}

- Closing night: **${ok.toLocaleString('en')} checkouts in ${ms(checkoutMs / 1000)} s = ${rate.toFixed(0)} checkouts/s** with ${CONCURRENCY} concurrent requests (target ≥ 300/s on PostgreSQL${engine === 'postgres' ? (rate >= 300 ? ', met' : ', not met') : ''}); ${refused.toLocaleString('en')} duplicate confirmations sent at the same moment, all refused; ${failed} other failures. Afterwards: ${ballots.toLocaleString('en')} ballots and ${checkedOut.n.toLocaleString('en')} confirmed baskets for ${VOTERS.toLocaleString('en')} voters, ${counted.toLocaleString('en')} votes counted for ${checkedOut.lines.toLocaleString('en')} basket lines — ${mismatches === 0 ? 'no lost or double vote' : `**${mismatches} discrepancies**`}.
  One checkout as a voter waits for it: p50 ${ms(perCheckout.p50)} ms, p95 ${ms(perCheckout.p95)} ms. CPU time of the Node.js process during the checkouts: ${ms(checkoutCpuMs / 1000)} s (${(checkoutCpuMs / Math.max(1, ok)).toFixed(2)} ms per checkout; the database server's CPU is not included).
  Each checkout is one transaction (basket lock, rule check, ballot insert, basket update) ending with an append to the platform's audit chain, whose head row lock serialises every audited write of the platform: the checkouts' rate is bounded by that lock's hold time (append + commit), on top of the machine's load.
- Tally of ${TALLY.toLocaleString('en')} votes (40 projects, ~${(TALLY * 4).toLocaleString('en')} basket lines): ranked results (counting the confirmed baskets' lines per project) p50 ${ms(tallyStats.p50)} ms, p95 **${ms(tallyStats.p95)} ms** (target ≤ 1 s${tallyStats.p95 <= 1000 ? ', met' : ', not met'}; ${ms(tallyStats.cpuMean)} ms CPU in Node.js per tally, the rest is the database's); the count alone ${ms(recountMs)} ms.

| request (${ITER} each) | p50 ms | p95 ms | p99 ms | CPU ms per request (Node.js, mean) | target |
|---|---|---|---|---|---|
${row('process page, 5,000 proposals (first 30, filters, counts)', processPage, 'p95 ≤ 50 ms')}
${row('comments API, page of 50 in the middle of 2,000', commentsApi, 'p95 ≤ 30 ms')}
${row('proposal page with a page of its 2,000 comments', proposalPage, '—')}
`;
}

const parts: string[] = [];
const atStart = machine(); // the load average before the run, not after it
const started = performance.now();
const cpuStart = process.cpuUsage();
for (const e of engines) parts.push(await benchEngine(e.trim()));
const cpuAll = process.cpuUsage(cpuStart);
const text = `## Consultation (\`npm run bench:consultation\`)

${new Date().toISOString().slice(0, 10)} — ${atStart}${process.env.BENCH_NOTE ? ` (${process.env.BENCH_NOTE})` : ''}. ${VOTERS.toLocaleString('en')} voters, ${CONCURRENCY} at a time. Whole run: ${((performance.now() - started) / 1000).toFixed(0)} s wall, ${((cpuAll.user + cpuAll.system) / 1e6).toFixed(0)} s CPU in Node.js; load average at the end ${os.loadavg().map((x) => x.toFixed(1)).join(' / ')}.

${parts.join('\n')}`;
writeSection('consultation', text);
console.error(text);
fs.rmSync(tmp, { recursive: true, force: true });

/**
 * Calls benchmark (`npm run bench:calls`), on the embedded database (PGlite): 10,000 applications
 * of 50 answers each to one call (generated in SQL batches), 2 reviews on each dossier under
 * instruction; measures the instructor list with filters and weighted scores and one dossier's
 * page through HTTP (session and permission checks included), the SCDL export of 100,000 grants,
 * and 200 applicants submitting in the last minute before closing (all must get a receipt).
 * Results go to docs/benchmarks.md.
 *
 * Environment: BENCH_APPS (default 10000), BENCH_GRANTS (default 100000), BENCH_RUSH (default
 * 200), BENCH_ITER (default 100).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/platform/config.ts';
import { openDb } from '../src/platform/db/index.ts';
import { createLogger } from '../src/platform/log.ts';
import { silentProgress } from '../src/platform/progress.ts';
import { buildApp, migrateAll } from '../src/app.ts';
import { modules } from '../src/modules/registry.ts';
import { accountsTesting, getGrants } from '../src/modules/accounts/index.ts';
import * as service from '../src/modules/calls/service.ts';
import { scdlCsvChunks } from '../src/modules/calls/grants.ts';
import { demoSiret } from '../src/modules/calls/demo.ts';
import { machine, ms, percentiles, timeIt, writeSection } from './lib.ts';

const APPS = Number(process.env.BENCH_APPS ?? 10_000);
const GRANTS = Number(process.env.BENCH_GRANTS ?? 100_000);
const RUSH = Number(process.env.BENCH_RUSH ?? 200);
const ITER = Number(process.env.BENCH_ITER ?? 100);
const config = loadConfig({ SECRET_KEY: crypto.randomBytes(32).toString('hex'), ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'silent' });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-bench-calls-'));
const DEPS = ['18', '28', '36', '37', '41', '45'];

const questions = [
  ...Array.from({ length: 47 }, (_, i) => ({ id: `q${i}`, label: `Question ${i + 1}`, type: i % 5 === 0 ? 'long_text' : 'short_text', required: i < 10 })),
  { id: 'public', label: 'Publics', type: 'multi_choice', required: true, options: ['Jeunes', 'Seniors', 'Tous'] },
  { id: 'montant', label: 'Montant demandé', type: 'amount', required: true, requested: true },
  { id: 'budget', label: 'Budget', type: 'budget', required: true },
];
const FORM = { questions, criteria: [{ id: 'impact', label: 'Impact', weight: 3, scale: 5 }, { id: 'faisabilite', label: 'Faisabilité', weight: 1, scale: 10 }, { id: 'cout', label: 'Coût', weight: 1, scale: 5 }], documents: [] };

function answers(i: number, amount: number) {
  const a: Record<string, unknown> = {};
  for (let k = 0; k < 47; k++) a[`q${k}`] = k % 5 === 0 ? `Réponse longue ${i}-${k} `.repeat(8) : `Réponse ${i}-${k}`;
  a.public = ['Jeunes', 'Tous'];
  a.montant = amount;
  a.budget = { expenses: [{ label: 'Travaux', amount: amount * 2 }], resources: [{ label: 'Région', amount }, { label: 'Fonds propres', amount }] };
  return a;
}

async function main() {
  const db = await openDb({ databaseUrl: null, pgliteDir: path.join(tmp, 'pglite') });
  const log = createLogger('silent');
  await migrateAll(db);
  for (const m of modules) if (m.seedReference) await m.seedReference({ config, db, log, progress: () => silentProgress() });
  const { app } = await buildApp(config, db, log);
  const deps = accountsTesting.depsOf(app);
  const staffUser = await accountsTesting.makeUser(deps, 'bench-staff@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '24' }], 'Équipe');
  const staff = { id: staffUser.id, grants: await getGrants(db, staffUser.id) };
  const browser = await accountsTesting.signedInBrowser(app, deps, staffUser);
  const now = Date.now();
  const call = await service.createCall({ db }, staff, { kind: 'aap', title: 'Appel de charge', region: '24', envelope: 1e9, funderName: 'Région Centre-Val de Loire', funderSiret: '73282932000074', opensAtIso: new Date(now - 86400000).toISOString(), closesAtIso: new Date(now + 86400000).toISOString(), form: FORM });
  await service.setCallStatus({ db }, staff, call.id, 'published');

  // 1. 10,000 dossiers of 50 answers, a third under instruction with two reviews each.
  const org = await service.createOrganisation({ db }, staffUser.id, { siret: '35600000049837', name: 'Structure de charge', kind: 'association' });
  const genMs = await timeIt(async () => {
    for (let start = 0; start < APPS; start += 500) {
      const n = Math.min(500, APPS - start);
      const rows: unknown[] = [];
      const values: string[] = [];
      for (let k = 0; k < n; k++) {
        const i = start + k;
        const amount = 5000 + (i % 40) * 1000;
        const state = i % 3 === 0 ? 'en_instruction' : i % 3 === 1 ? 'en_construction' : 'refuse';
        const b = rows.length;
        values.push(`($${b + 1}::uuid, $${b + 2}::int, $${b + 3}::uuid, 1, $${b + 4}::uuid, $${b + 5}::uuid, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9}::jsonb, $${b + 10}::numeric, now(), $${b + 11})`);
        rows.push(crypto.randomUUID(), i + 1, call.id, org.id, staffUser.id, `Projet ${i}`, DEPS[i % DEPS.length], state, JSON.stringify(answers(i, amount)), amount, crypto.randomBytes(32).toString('hex'));
      }
      await db.query(`INSERT INTO calls.application (id, number, call_id, form_version, organisation_id, created_by, title, departement, state, answers, amount_requested, submitted_at, fingerprint) VALUES ${values.join(',')}`, rows);
    }
    for (const r of ['00000000-0000-4000-8000-0000000000b1', '00000000-0000-4000-8000-0000000000b2']) {
      await db.query(
        `INSERT INTO calls.review (application_id, reviewer_id, conflict, declared_at, scores, recommendation, submitted_at)
         SELECT id, $2::uuid, CASE WHEN number % 17 = 0 THEN 'hard' WHEN number % 11 = 0 THEN 'soft' ELSE 'none' END, now(),
                jsonb_build_object('impact', number % 6, 'faisabilite', number % 11, 'cout', (number + 2) % 6), 'favorable', now()
           FROM calls.application WHERE call_id = $1 AND state = 'en_instruction'`,
        [call.id, r],
      );
    }
  });
  console.error(`generated ${APPS} dossiers in ${ms(genMs)} ms`);

  const get = async (url: string) => {
    const t = process.hrtime.bigint();
    const r = await browser.get(url);
    if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  // Wall-clock percentiles plus the process's CPU time per request (user + system; PGlite runs in-process).
  const measure = async (urls: () => string) => {
    for (let i = 0; i < 5; i++) await get(urls());
    const s: number[] = [];
    const c0 = process.cpuUsage();
    for (let i = 0; i < ITER; i++) s.push(await get(urls()));
    const c = process.cpuUsage(c0);
    return { ...percentiles(s), cpu: (c.user + c.system) / 1000 / ITER };
  };
  let k = 0;
  const listFiltered = await measure(() => `/gestion/appels/${call.id}/dossiers?etat=en_instruction&departement=${DEPS[k++ % DEPS.length]}`);
  const listLater = await measure(() => `/gestion/appels/${call.id}/dossiers?etat=en_instruction&departement=${DEPS[k % DEPS.length]}&apres=${(k++ % 20) * 400}`);
  const listAll = await measure(() => `/gestion/appels/${call.id}/dossiers?etat=refuse`);
  const ids = (await db.query<{ id: string }>('SELECT id FROM calls.application WHERE call_id = $1 ORDER BY random() LIMIT 200', [call.id])).rows.map((r) => r.id);
  const onePage = await measure(() => `/gestion/dossiers/${ids[k++ % ids.length]}`);
  console.error('pages measured');

  // 2. SCDL export of 100,000 grants.
  await db.query(
    `INSERT INTO calls.application (id, number, call_id, form_version, organisation_id, created_by, title, departement, state, answers, amount_requested, submitted_at)
     SELECT gen_random_uuid(), 100000 + g, $1, 1, $2, $3, 'Projet subventionné ' || g, '37', 'accepte', '{}', 30000, now() FROM generate_series(1, $4::int) g`,
    [call.id, org.id, staffUser.id, GRANTS],
  );
  await db.query(
    `INSERT INTO calls.grant (id, application_id, call_id, reference, convention_on, amount)
     SELECT gen_random_uuid(), id, call_id, 'SUB-' || number, current_date, 20000 + (number % 10) * 1000 FROM calls.application WHERE call_id = $1 AND number > 100000`,
    [call.id],
  );
  let csvBytes = 0;
  let firstChunkMs = 0;
  const sc0 = process.cpuUsage();
  const scdlMs = await timeIt(async () => {
    const t = process.hrtime.bigint();
    let chunks = 0;
    for await (const chunk of scdlCsvChunks(db)) {
      if (++chunks === 2) firstChunkMs = Number(process.hrtime.bigint() - t) / 1e6; // the first batch of rows after the header line
      csvBytes += Buffer.byteLength(chunk);
    }
  });
  const scdlCpu = process.cpuUsage(sc0);
  console.error(`SCDL: ${ms(scdlMs)} ms`);

  // 3. 200 applicants submitting in the last minute.
  const rushCall = await service.createCall({ db }, staff, { kind: 'aap', title: 'Appel qui ferme', region: '24', envelope: 1e6, funderName: 'Région', opensAtIso: new Date(now - 86400000).toISOString(), closesAtIso: new Date(Date.now() + 10 * 60_000).toISOString(), form: FORM });
  await service.setCallStatus({ db }, staff, rushCall.id, 'published');
  const applicants: { browser: accountsTesting.Browser; appId: string }[] = [];
  for (let i = 0; i < RUSH; i++) {
    const u = await accountsTesting.makeUser(deps, `rush-${i}@exemple.fr`, [], `Candidat ${i}`);
    const siret = demoSiret(`8${String(i).padStart(4, '0')}00000000`);
    const o = await service.createOrganisation({ db }, u.id, { siret, name: `Candidat ${i}`, kind: 'association' });
    const a = await service.startApplication({ db }, u.id, rushCall.id, o.id);
    await service.saveDraft({ db }, u.id, a.id, { title: `Projet ${i}`, answers: answers(i, 10000) });
    const b = await accountsTesting.signedInBrowser(app, deps, u, `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`);
    await b.get(`/candidatures/${a.id}`);
    applicants.push({ browser: b, appId: a.id });
  }
  // Close in 60 seconds from now: everyone submits at once, within the last minute.
  await db.query(`UPDATE calls.call SET closes_at = now() + interval '60 seconds' WHERE id = $1`, [rushCall.id]);
  const rushSamples: number[] = [];
  let rushStatuses: number[] = [];
  const rushMs = await timeIt(async () => {
    rushStatuses = await Promise.all(
      applicants.map(async (x) => {
        const t = process.hrtime.bigint();
        const r = await x.browser.post(`/candidatures/${x.appId}/depot`, {});
        rushSamples.push(Number(process.hrtime.bigint() - t) / 1e6);
        return r.status;
      }),
    );
  });
  const receipts = (await db.query<{ n: number }>('SELECT count(DISTINCT r.application_id)::int AS n FROM calls.receipt r JOIN calls.application a ON a.id = r.application_id WHERE a.call_id = $1', [rushCall.id])).rows[0]!.n;
  const rush = percentiles(rushSamples);
  const ok = rushStatuses.filter((s) => s === 303).length;

  const row = (name: string, p: Awaited<ReturnType<typeof measure>>, target: string) => `| ${name} | ${ms(p.p50)} | ${ms(p.p95)} | ${ms(p.p99)} | ${ms(p.cpu)} | ${target} |`;
  const md = `## calls (\`npm run bench:calls\`)

Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine()}. **The machine was shared with other work** (up to eight helpers on two cores): absolute times are pessimistic.${process.env.BENCH_NOTE ? ` ${process.env.BENCH_NOTE}` : ''}
Embedded database (PGlite) only; HTTP through \`app.inject\` (session, permission and CSRF checks included).

Data: ${APPS.toLocaleString('en')} dossiers of 50 answers each on one call (6 départements), a third under instruction with 2 reviews each (hard conflicts on every 17th, soft on every 11th); generated in ${ms(genMs / 1000)} s.

| measure (${ITER} requests) | p50 ms | p95 ms | p99 ms | CPU ms / request | target |
|---|---|---|---|---|---|
${row('instructor list, filtered (state + département, ~550 matches; first page of 50 with weighted scores, count of all)', listFiltered, 'p95 ≤ 50 ms')}
${row('instructor list, filtered, a later page (keyset `apres`)', listLater, '—')}
${row(`instructor list, one state (~${Math.round(APPS / 3).toLocaleString('en')} matches, first page)`, listAll, '—')}
${row('one dossier’s page (instructor view, 50 answers, reviews, history)', onePage, '≤ 30 ms')}

- SCDL export of ${GRANTS.toLocaleString('en')} grants (streamed in batches of 5,000; each grant above 23,000 € validated and written): **${ms(scdlMs / 1000)} s** for ${(csvBytes / 2 ** 20).toFixed(1)} MiB, first rows after ${ms(firstChunkMs)} ms, CPU ${ms((scdlCpu.user + scdlCpu.system) / 1e6)} s (target ≤ 5 s).
- ${RUSH} applicants submitting at once within the last minute before closing (form POST with CSRF, row lock, receipt, audit, e-mail to the outbox): ${ok} got their receipt (303), ${receipts} receipts in the database, ${RUSH - ok} lost; all done in ${ms(rushMs / 1000)} s (per request p50 ${ms(rush.p50)} ms, p95 ${ms(rush.p95)} ms, queued behind one another on the embedded database's single connection).
`;
  writeSection('calls', md);
  console.log(md);
  await app.close();
  await db.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}

await main();

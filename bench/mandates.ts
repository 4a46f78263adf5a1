/**
 * Mandates benchmark (`npm run bench:mandates`, PostgreSQL through scripts/with-postgres.sh): at
 * BENCH_MANDATES mandates (default 1,000,000; ~2 procedures each, 2,000 structures, 10,000
 * helpers, generated in SQL), the latency of THE check "may this helper act for this person on
 * this procedure now?" (p50/p95/p99 over BENCH_CHECKS random checks, allowed and refused), of
 * creating a mandate through the service (person, mandate, procedures, journal and audit entries
 * in one transaction), of recording an act; then the verification of the whole journal against
 * the audit chain, as entries per second: BENCH_ACTS acts recorded through the service, plus
 * BENCH_JOURNAL journal entries generated in bulk (valid keyed chain computed here, inserted with
 * the audit guards disabled on this throw-away database). Each phase prints its wall time and CPU
 * time (this Node process, and the PostgreSQL server's processes read from /proc).
 *
 * Full scale (issue #20): BENCH_MANDATES=1000000 BENCH_JOURNAL=20000000 (generation takes long).
 * Default: 1,000,000 mandates and 2,000,000 journal entries. A few minutes on a quiet machine:
 *   BENCH_MANDATES=100000 BENCH_JOURNAL=500000 BENCH_ACTS=2000 npm run bench:mandates
 * Results go to docs/benchmarks.md.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { loadConfig } from '../src/platform/config.ts';
import { openDb } from '../src/platform/db/index.ts';
import { createLogger } from '../src/platform/log.ts';
import { migrateAll } from '../src/app.ts';
import { checkAuthorisation, createMandate, recordAct, verifyJournal } from '../src/modules/mandates/service.ts';
import { auditKeyring, canonicalJson, configureAudit, entryHash } from '../src/platform/audit/index.ts';
import { sha256 } from '../src/modules/mandates/model.ts';
import { ADMIN_PROCEDURES } from '../src/modules/mandates/model.ts';
import { machine, ms, percentiles, timeIt, writeSection } from './lib.ts';

const MANDATES = Number(process.env.BENCH_MANDATES ?? 1_000_000);
const CHECKS = Number(process.env.BENCH_CHECKS ?? 2000);
const CREATES = Number(process.env.BENCH_CREATES ?? 200);
const ACTS = Number(process.env.BENCH_ACTS ?? 5000);
const JOURNAL = Number(process.env.BENCH_JOURNAL ?? 2_000_000);
const STRUCTURES = 2000;
const HELPERS_PER = 5;
/** The trained helper who creates structure s's mandates (helpers h0… ; every tenth is untrained). */
const helperOf = (s: number) => `h${HELPERS_PER * (s - 1) + 1}`;

const TICK_MS = 10; // USER_HZ = 100 on Linux
/** CPU milliseconds used so far by the PostgreSQL server (postmaster, its live children, and the reaped ones). */
function pgCpuMs(postmaster: number | null): number {
  if (!postmaster) return NaN;
  const fields = (pid: number) => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ').map(Number);
  try {
    const pm = fields(postmaster);
    let ticks = pm[11]! + pm[12]! + pm[13]! + pm[14]!; // utime, stime, cutime, cstime (fields 14-17)
    for (const d of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const f = fields(Number(d));
        if (f[1] === postmaster) ticks += f[11]! + f[12]!; // ppid (field 4)
      } catch { /* exited meanwhile */ }
    }
    return ticks * TICK_MS;
  } catch {
    return NaN;
  }
}

/** Wall and CPU time of a phase: Node (this process) and the PostgreSQL server. */
function phase(postmaster: number | null) {
  const wall = performance.now();
  const node = process.cpuUsage();
  const pg = pgCpuMs(postmaster);
  return () => {
    const n = process.cpuUsage(node);
    return { wallS: (performance.now() - wall) / 1000, nodeCpuS: (n.user + n.system) / 1e6, pgCpuS: (pgCpuMs(postmaster) - pg) / 1000 };
  };
}
type Phase = ReturnType<ReturnType<typeof phase>>;
const cpu = (p: Phase) => `wall ${p.wallS.toFixed(1)} s, CPU Node ${p.nodeCpuS.toFixed(1)} s + PostgreSQL ${Number.isNaN(p.pgCpuS) ? '?' : p.pgCpuS.toFixed(1)} s`;

async function main() {
  if (!process.env.DATABASE_URL) throw new Error('bench:mandates runs on PostgreSQL: use `npm run bench:mandates` (starts one) or set DATABASE_URL');
  const config = loadConfig({ SECRET_KEY: crypto.randomBytes(32).toString('hex'), ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'silent' });
  const db = await openDb({ databaseUrl: process.env.DATABASE_URL, poolSize: 10 });
  const ctx = { config, db, log: createLogger('silent') };
  configureAudit(config);
  await migrateAll(db);
  let postmaster: number | null = null;
  try {
    const dir = (await db.query<{ d: string }>('SELECT current_setting(\'data_directory\') AS d')).rows[0]!.d;
    postmaster = Number(fs.readFileSync(`${dir}/postmaster.pid`, 'utf8').split('\n')[0]);
  } catch {
    console.error('PostgreSQL server CPU not measured (its data directory is not readable here)');
  }
  const procs = Object.keys(ADMIN_PROCEDURES);
  const started = performance.now();
  // Bulk data in SQL: ids derived from the row number (md5 → uuid), so later steps can pick them.
  await db.exec(`
    INSERT INTO mandates.structure (id, name, place_uid, departement, region)
      SELECT md5('s' || i)::uuid, 'Structure ' || i, md5('p' || i)::uuid::text, lpad((1 + i % 95)::text, 2, '0'), '28' FROM generate_series(1, ${STRUCTURES}) i;
    INSERT INTO mandates.helper (structure_id, user_id, display_name, trained_on)
      SELECT md5('s' || (1 + (i / ${HELPERS_PER})))::uuid, 'h' || i, 'Aidant ' || i, CASE WHEN i % 10 = 0 THEN NULL ELSE date '2025-01-01' END
        FROM generate_series(0, ${STRUCTURES * HELPERS_PER - 1}) i;
    INSERT INTO mandates.person (id, structure_id, given_name, family_name, birth_date, identity_check, created_at)
      SELECT md5('u' || i)::uuid, md5('s' || (1 + i % ${STRUCTURES}))::uuid, 'Prénom', 'Nom ' || i, date '1950-01-01' + (i % 15000), 'document', now() - (i % 365) * interval '1 day'
        FROM generate_series(1, ${MANDATES}) i;
    INSERT INTO mandates.mandate (id, reference, structure_id, person_id, created_by, created_at, duration, expires_at, consent_at, consent_method, template_version, attestation_salt, attestation_hash, revocation_code_hash, revoked_at, revoked_by_kind)
      SELECT md5('m' || i)::uuid, 'B-' || i, md5('s' || (1 + i % ${STRUCTURES}))::uuid, md5('u' || i)::uuid, 'h' || (${HELPERS_PER} * (i % ${STRUCTURES}) + 1),
             now() - (i % 365) * interval '1 day', d.code, now() - (i % 365) * interval '1 day' + d.days * interval '1 day', now() - (i % 365) * interval '1 day', 'in_person',
             'bench', md5('salt' || i), md5('hash' || i) || md5('h2' || i), md5('code' || i) || md5('c2' || i),
             CASE WHEN i % 10 = 3 THEN now() - interval '1 hour' END, CASE WHEN i % 10 = 3 THEN 'helper' END
        FROM generate_series(1, ${MANDATES}) i
        CROSS JOIN LATERAL (SELECT (ARRAY['1d','1m','6m','1y'])[1 + i % 4] AS code, (ARRAY[1,31,182,365])[1 + i % 4] AS days) d;
    INSERT INTO mandates.mandate_procedure (mandate_id, procedure)
      SELECT md5('m' || i)::uuid, p.procedure FROM generate_series(1, ${MANDATES}) i
        CROSS JOIN LATERAL (SELECT (ARRAY[${procs.map((p) => `'${p}'`).join(',')}])[1 + i % ${procs.length}] AS procedure
                            UNION SELECT (ARRAY[${procs.map((p) => `'${p}'`).join(',')}])[1 + (i * 7) % ${procs.length}]) p;
    ANALYZE mandates.structure; ANALYZE mandates.helper; ANALYZE mandates.person; ANALYZE mandates.mandate; ANALYZE mandates.mandate_procedure;
  `);
  const genS = (performance.now() - started) / 1000;
  console.error(`generated ${MANDATES.toLocaleString('en')} mandates in ${genS.toFixed(0)} s`);

  // The plan of the check, as PostgreSQL runs it (printed, and summarised in the results).
  const planRows = (await db.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS) SELECT m.structure_id, m.revoked_at, m.expires_at, mp.revoked_at AS proc_revoked, mp.mandate_id IS NOT NULL AS has_proc, h.active AND s.active AS helper_active, h.trained_on IS NOT NULL AS trained
       FROM mandates.mandate m JOIN mandates.structure s ON s.id = m.structure_id
       LEFT JOIN mandates.mandate_procedure mp ON mp.mandate_id = m.id AND mp.procedure = $3
       LEFT JOIN mandates.helper h ON h.structure_id = m.structure_id AND h.user_id = $2 WHERE m.id = $1`,
    [crypto.createHash('md5').update('m7').digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5'), helperOf(8), procs[7 % procs.length]],
  )).rows.map((r) => r['QUERY PLAN']);
  console.error(planRows.join('\n'));
  const planExec = planRows.find((l) => l.startsWith('Execution Time'))?.replace('Execution Time: ', '') ?? '?';
  const planIndexes = [...new Set(planRows.flatMap((l) => [...l.matchAll(/using (\w+)/g)].map((m) => m[1]!)))];

  // 1. The check, on random mandates, by the helper who created it (mostly allowed) or another.
  const samples: number[] = [];
  const checkPhase = phase(postmaster);
  const outcomes = new Map<string, number>();
  for (let k = 0; k < CHECKS; k++) {
    const i = 1 + Math.floor(Math.random() * MANDATES);
    const helper = k % 5 === 0 ? helperOf(1 + ((i + 1) % STRUCTURES)) : helperOf(1 + (i % STRUCTURES));
    const proc = procs[k % 3 === 0 ? (i * 3) % procs.length : i % procs.length]!;
    const id = crypto.createHash('md5').update(`m${i}`).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
    let key = '';
    samples.push(await timeIt(async () => {
      const d = await checkAuthorisation(db, helper, id, proc);
      key = d.allowed ? 'allowed' : d.code;
    }));
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  }
  const check = percentiles(samples);
  const checkCpu = checkPhase();

  // 2. Creating a mandate (without the identity round trip), through the service.
  const creates: number[] = [];
  const created: string[] = [];
  const createPhase = phase(postmaster);
  for (let k = 0; k < CREATES; k++) {
    const s = 1 + (k % STRUCTURES);
    creates.push(await timeIt(async () => {
      const m = await createMandate(ctx, helperOf(s), crypto.createHash('md5').update(`s${s}`).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5'), {
        givenName: 'Jeanne', familyName: 'Martin', birthDate: '1950-02-03', identityChecked: true, procedures: ['argent-impots', 'social-sante'], duration: '6m', consent: true,
      });
      created.push(`${s}:${m.id}`);
    }));
  }
  const create = percentiles(creates);
  const createCpu = createPhase();

  // 3. Acts (journal + audit entries), then verifying the whole journal.
  const acts: number[] = [];
  const actPhase = phase(postmaster);
  for (let k = 0; k < ACTS; k++) {
    const [s, id] = created[k % created.length]!.split(':');
    acts.push(await timeIt(() => recordAct(ctx, helperOf(Number(s)), id!, k % 2 ? 'argent-impots' : 'social-sante', { service: 'impots.gouv.fr' })));
    if (k % 5000 === 4999) console.error(`${k + 1} acts`);
  }
  const act = percentiles(acts);
  const actCpu = actPhase();

  // 4. Bulk journal entries (as acts would write them), with a valid keyed chain computed here.
  const genJournal = phase(postmaster);
  await generateJournal(db, config, JOURNAL);
  const genJournalCpu = genJournal();
  console.error(`generated ${JOURNAL.toLocaleString('en')} journal entries: ${cpu(genJournalCpu)}`);

  const entries = Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM mandates.journal')).rows[0]!.n);
  const auditEntries = Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM platform.audit_entry')).rows[0]!.n);
  let verified: Awaited<ReturnType<typeof verifyJournal>> | null = null;
  const verifyPhase = phase(postmaster);
  const verifyMs = await timeIt(async () => (verified = await verifyJournal(db)));
  const verifyCpu = verifyPhase();
  if (!verified!.ok) throw new Error(`journal verification failed: ${JSON.stringify(verified)}`);
  const perSecond = entries / (verifyMs / 1000);
  const pg = (await db.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
  await db.close();

  const md = `## Mandates (\`npm run bench:mandates\`)

Machine: ${machine()}. PostgreSQL ${pg} (throw-away server, \`fsync=off\`), pool of 10.${os.loadavg()[0]! > 2 ? ' **The machine was shared with other work while this ran** (load above): the figures are upper bounds.' : ''}

Data: ${MANDATES.toLocaleString('en')} mandates (${STRUCTURES.toLocaleString('en')} structures, ${(STRUCTURES * HELPERS_PER).toLocaleString('en')} helpers, ~2 procedures each, 10 % revoked, every duration), generated in SQL in ${genS.toFixed(0)} s.

| measure | n | p50 | p95 | p99 | target | wall, CPU (Node + PostgreSQL) |
|---|---|---|---|---|---|---|
| the check « may this helper act for this person on this démarche now? » (\`checkAuthorisation\`, one prepared statement) | ${check.n} | ${ms(check.p50)} ms | ${ms(check.p95)} ms | ${ms(check.p99)} ms | p95 ≤ 5 ms | ${cpu(checkCpu)} |
| creating a mandate, without the identity round trip (helper check + person + mandate + procedures, journal + audit entries: one transaction, 7 round trips) | ${create.n} | ${ms(create.p50)} ms | ${ms(create.p95)} ms | ${ms(create.p99)} ms | ≤ 50 ms | ${cpu(createCpu)} |
| recording an act (locks, check, journal + audit entries) | ${act.n} | ${ms(act.p50)} ms | ${ms(act.p95)} ms | ${ms(act.p99)} ms | — | ${cpu(actCpu)} |

Check outcomes: ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}. Its plan (EXPLAIN ANALYZE): index scans on ${planIndexes.join(', ')}; execution ${planExec} in the server.

CPU per operation (Node + PostgreSQL, which a loaded machine does not inflate as it does wall time): the check ${ms(((checkCpu.nodeCpuS + (checkCpu.pgCpuS || 0)) * 1000) / check.n)} ms, creating a mandate ${ms(((createCpu.nodeCpuS + (createCpu.pgCpuS || 0)) * 1000) / create.n)} ms, an act ${ms(((actCpu.nodeCpuS + (actCpu.pgCpuS || 0)) * 1000) / act.n)} ms.

Journal verification (\`verifyJournal\`: the whole audit chain of ${auditEntries.toLocaleString('en')} keyed entries, and every journal row against its sealed digest, in one pass):
${entries.toLocaleString('en')} journal entries (${JOURNAL.toLocaleString('en')} of them generated in bulk) in ${(verifyMs / 1000).toFixed(1)} s, **${Math.round(perSecond).toLocaleString('en')} entries/s**; ${cpu(verifyCpu)}.
Node spends ${((verifyCpu.nodeCpuS * 1e6) / entries).toFixed(0)} µs of CPU per entry (HMAC of the audit entry, SHA-256 of the journal row, canonical JSON of both, row decoding): on one core, a ceiling of ~${Math.round(entries / verifyCpu.nodeCpuS).toLocaleString('en')} entries/s whatever the load.
${entries >= 20_000_000 ? '' : `At this rate 20,000,000 entries would take about ${Math.round(20_000_000 / perSecond).toLocaleString('en')} s (an extrapolation; run with \`BENCH_JOURNAL=20000000\` to measure it) — target ≤ 60 s: ${20_000_000 / perSecond <= 60 ? 'within' : 'NOT within'}.`}
`;
  writeSection('mandates', md);
  console.log(md);
}

/**
 * Appends `n` act entries to the journal, each sealed in a keyed audit entry exactly as
 * appendJournal writes them (the chain computed here, inserted 5,000 rows per statement). The
 * audit guards (one entry at a time, after the head) are disabled while inserting: bench data only.
 */
async function generateJournal(db: Awaited<ReturnType<typeof openDb>>, config: ReturnType<typeof loadConfig>, n: number) {
  if (n <= 0) return;
  const key = auditKeyring(config).current;
  const mandates = (await db.query<{ id: string; structure_id: string; created_by: string }>('SELECT id, structure_id, created_by FROM mandates.mandate ORDER BY id LIMIT 1000')).rows;
  const head = (await db.query<{ seq: string; hash: string }>('SELECT seq, hash FROM platform.audit_head WHERE id = 1')).rows[0]!;
  let seq = Number(head.seq);
  let prev = head.hash;
  const base = Date.now() - 86_400_000;
  await db.exec('ALTER TABLE platform.audit_entry DISABLE TRIGGER USER; ALTER TABLE platform.audit_head DISABLE TRIGGER USER; ALTER TABLE mandates.journal DISABLE TRIGGER USER;');
  try {
    const BATCH = 5000;
    for (let done = 0; done < n; done += BATCH) {
      const a: unknown[][] = [[], [], [], [], [], [], [], []];
      const j: unknown[][] = [[], [], [], [], [], [], [], []];
      for (let k = 0; k < Math.min(BATCH, n - done); k++) {
        const m = mandates[(done + k) % mandates.length]!;
        const at = new Date(base + done + k).toISOString();
        const procedure = (done + k) % 2 ? 'argent-impots' : 'social-sante';
        const row = { at, event: 'mandate.act', structureId: m.structure_id, mandateId: m.id, actorKind: 'helper', actorId: m.created_by, procedure, detail: { service: 'impots.gouv.fr' } };
        const digest = sha256(canonicalJson(row));
        const body = { seq: ++seq, at, actorId: m.created_by, action: 'mandates.mandate.act', objectType: 'mandates.journal', objectId: m.id, before: null, after: { digest, event: 'mandate.act', procedure }, meta: null };
        const hash = entryHash(key, prev, body);
        for (const [col, v] of [body.seq, at, m.created_by, m.id, JSON.stringify(body.after), prev, hash, key.id].entries()) a[col]!.push(v);
        for (const [col, v] of [at, m.structure_id, m.id, m.created_by, procedure, JSON.stringify(row.detail), seq, digest].entries()) j[col]!.push(v);
        prev = hash;
      }
      await db.query(
        `INSERT INTO platform.audit_entry (seq, at, actor_id, action, object_type, object_id, before, after, meta, prev_hash, hash, key_id)
         SELECT s, t, ac, 'mandates.mandate.act', 'mandates.journal', o, NULL, af::jsonb, NULL, p, h, k
           FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS u(s, t, ac, o, af, p, h, k)`,
        a,
      );
      await db.query(
        `INSERT INTO mandates.journal (at, event, structure_id, mandate_id, actor_kind, actor_id, procedure, detail, audit_seq, digest)
         SELECT t, 'mandate.act', st, mi, 'helper', ac, pr, de::jsonb, s, d
           FROM unnest($1::timestamptz[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[]) AS u(t, st, mi, ac, pr, de, s, d)`,
        j,
      );
      if ((done / BATCH) % 100 === 99) console.error(`${(done + BATCH).toLocaleString('en')} journal entries generated`);
    }
    await db.query('UPDATE platform.audit_head SET seq = $1, hash = $2 WHERE id = 1', [seq, prev]);
  } finally {
    await db.exec('ALTER TABLE platform.audit_entry ENABLE TRIGGER USER; ALTER TABLE platform.audit_head ENABLE TRIGGER USER; ALTER TABLE mandates.journal ENABLE TRIGGER USER;');
  }
  await db.exec('ANALYZE platform.audit_entry; ANALYZE mandates.journal;');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

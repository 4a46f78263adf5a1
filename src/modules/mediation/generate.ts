/**
 * Bulk generation of plausible activity records in SQL (demo data and bench:mediation), and the
 * one-off rebuild of the statistics counters from the tables (after a bulk load, or with
 * `maillage mediation recount`). Normal writes never need the rebuild: they update the counters
 * in their own transaction.
 */
import type { Db, Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { AGE_BANDS, DIGITAL_THEMES, STATUSES, ADMIN_PROCEDURES } from './model.ts';

export interface GenerateOptions {
  /** Number of activities; about one in five is a workshop of 6–16 people (≈3 people per activity overall). */
  activities: number;
  /** Where activities happen: places (uid with their territory) or communes (place_uid null). */
  sites: { placeUid: string | null; communeCode: string; departement: string; region: string }[];
  mediators: number;
  /** Activities fall in [from, from + days). */
  from: string;
  days: number;
  /** Followed beneficiaries created (each linked to some individual activities). */
  followed: number;
  /** Prefix of generated mediator ids (no accounts behind them). */
  prefix?: string;
  batch?: number;
  onProgress?: (done: number) => void;
}

const THEMES = Object.keys(DIGITAL_THEMES);
const ADMIN = Object.keys(ADMIN_PROCEDURES);
const AGES = Object.keys(AGE_BANDS);
const STATS = Object.keys(STATUSES);

/** Inserts activities, one row per person (anonymous, some followed) — in batches, each a transaction. */
export async function generateActivities(db: Db, o: GenerateOptions): Promise<void> {
  const batch = o.batch ?? 50_000;
  const prefix = o.prefix ?? 'demo-mediateur-';
  const sites = o.sites;
  if (!sites.length) throw new Error('generateActivities: no sites');
  const start = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM mediation.activity')).rows[0]!.n;
  for (let done = 0; done < o.activities; done += batch) {
    const n = Math.min(batch, o.activities - done);
    // One statement per batch (atomic): the activities, in id order (which keeps the primary-key
    // inserts local), and their person rows, without reading the activities back.
    await db.query(
        `WITH ins AS (
         INSERT INTO mediation.activity (id, mediator_id, kind, date, duration_min, place_kind, place_uid, commune_code, departement, region, themes, admin_themes,
             autonomy, orientation, equipment, workshop_title, workshop_level, participants, anonymous, source)
           SELECT md5('act-' || i)::uuid, $1::text || (i % $2::int), k, $3::date + ((i::bigint * 7919) % $4::int)::int, d,
                  CASE WHEN s.place_uid IS NULL THEN 'other_commune' ELSE 'place' END, s.place_uid, s.commune_code, s.departement, s.region,
                  CASE WHEN i % 7 = 0 THEN ARRAY['aide-aux-demarches-administratives', ($6::text[])[1 + i % array_length($6::text[], 1)]] ELSE ARRAY[($6::text[])[1 + i % array_length($6::text[], 1)], ($6::text[])[1 + (i / 3) % array_length($6::text[], 1)]] END,
                  CASE WHEN i % 7 = 0 THEN ARRAY[($7::text[])[1 + (i / 7) % array_length($7::text[], 1)]] ELSE '{}' END,
                  (ARRAY['done_for', 'partly', 'autonomous'])[1 + i % 3], CASE WHEN i % 9 = 0 THEN 'france_services' END, (ARRAY['own', 'place', 'lent'])[1 + i % 3],
                  CASE WHEN k = 'collective' THEN 'Atelier ' || ($6::text[])[1 + i % array_length($6::text[], 1)] END, CASE WHEN k = 'collective' THEN 'beginner' END,
                  CASE WHEN k = 'collective' THEN 6 + (i % 11) ELSE 1 END, '{"gender":{},"age":{},"status":{}}'::jsonb, 'generated'
             FROM generate_series($8::int, $9::int) AS i
             CROSS JOIN LATERAL (SELECT CASE WHEN i % 5 = 0 THEN 'collective' ELSE 'individual' END AS k,
                                        (ARRAY[15, 30, 30, 45, 60, 60, 90, 120])[1 + i % 8] AS d) x
             JOIN (SELECT ordinality AS n, place_uid, commune_code, departement, region FROM unnest($5::text[], $10::text[], $11::text[], $12::text[]) WITH ORDINALITY AS u(place_uid, commune_code, departement, region)) s
               -- A mediator works mostly at one site (nine activities in ten), sometimes elsewhere.
               ON s.n = 1 + (CASE WHEN i % 10 = 0 THEN i * 2654435761::bigint ELSE (i % $2::int) * 40503::bigint END % $13::int)
           ORDER BY 1
           RETURNING id, participants
       )
       -- One row per person of each new activity, anonymous (followed ones are linked below).
       INSERT INTO mediation.activity_beneficiary (activity_id, seq, beneficiary_id, gender, age_band, status)
       SELECT ins.id, g.s, NULL, (ARRAY['f', 'f', 'm', 'nc'])[1 + (g.s + ascii(ins.id::text)) % 4], ($14::text[])[1 + (g.s * 3 + ascii(ins.id::text)) % array_length($14::text[], 1)],
              ($15::text[])[1 + (g.s + ascii(right(ins.id::text, 1))) % array_length($15::text[], 1)]
         FROM ins CROSS JOIN LATERAL generate_series(1, ins.participants) AS g(s)
        ORDER BY ins.id, g.s`,
        [
          prefix, o.mediators, o.from, o.days, sites.map((s) => s.placeUid), THEMES, ADMIN, start + done + 1, start + done + n,
          sites.map((s) => s.communeCode), sites.map((s) => s.departement), sites.map((s) => s.region), sites.length, AGES, STATS,
        ],
      );
    o.onProgress?.(done + n);
  }
  if (o.followed > 0) {
    await db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO mediation.beneficiary (id, mediator_id, alias, alias_key, birth_year, commune_code, consent_at, last_activity_on)
         SELECT md5('ben-' || $3::int || i)::uuid, $1::text || (i % $2::int), 'Personne ' || i, 'personne ' || i, 1940 + i % 60, NULL, now(), NULL FROM generate_series(1, $4::int) i`,
        [prefix, o.mediators, start, o.followed],
      );
      // The first person of some individual activities of the same mediator becomes a followed one.
      await tx.query(
        `UPDATE mediation.activity_beneficiary ab SET beneficiary_id = md5('ben-' || $1::int || ((CASE WHEN a.mediator_id ~ ('^' || $2::text || '[0-9]+$') THEN substr(a.mediator_id, length($2::text) + 1)::int END) + $3::int * ((hashtext(a.id::text) & 1023) % greatest(1, $4::int / $3::int))))::uuid
           FROM mediation.activity a
          WHERE ab.activity_id = a.id AND ab.seq = 1 AND a.kind = 'individual' AND a.source = 'generated' AND (hashtext(a.id::text) & 7) = 0
            AND (CASE WHEN a.mediator_id ~ ('^' || $2::text || '[0-9]+$') THEN substr(a.mediator_id, length($2::text) + 1)::int END) + $3::int * ((hashtext(a.id::text) & 1023) % greatest(1, $4::int / $3::int)) BETWEEN 1 AND $4::int
            AND a.mediator_id LIKE $2::text || '%'`,
        [start, prefix, o.mediators, o.followed],
      );
      await tx.query(
        `UPDATE mediation.beneficiary b SET last_activity_on = x.last FROM
           (SELECT ab.beneficiary_id, max(a.date) AS last FROM mediation.activity_beneficiary ab JOIN mediation.activity a ON a.id = ab.activity_id
             WHERE ab.beneficiary_id IS NOT NULL GROUP BY ab.beneficiary_id) x WHERE x.beneficiary_id = b.id`,
      );
    });
  }
}

/**
 * Recomputes every activity counter from the tables (same figures as counterDeltas, in SQL).
 * Training counters (registrations, completions, CRCN and DigComp competences, Pix results) are left as they are.
 */
export async function rebuildCounters(db: Db): Promise<number> {
  return db.transaction(async (tx: Queryable) => {
    await tx.query(`DELETE FROM mediation.stat_counter WHERE metric NOT IN ('training_registrations', 'training_completed', 'competence', 'digcomp', 'pix_crcn', 'pix_digcomp')`);
    // Each month's counters go first to an unindexed staging table (no index to maintain while
    // aggregating), then all of them into the counters in one insert, sorted by the primary key:
    // the index is then filled from left to right instead of at scattered places month after month
    // (which, once the index outgrows the cache, read and wrote a random page per row).
    await tx.query(`CREATE TEMP TABLE stat_stage (scope text, scope_id text, month date, metric text, key text, value bigint) ON COMMIT DROP`);
    // Hash aggregation in memory (a sort of millions of wide text keys is several times slower).
    // No JIT: compiling this large query costs more than it saves (PostgreSQL; PGlite has none).
    await tx.query(`SET LOCAL work_mem = '128MB'`);
    await tx.query('SET LOCAL enable_sort = off');
    if (db.kind === 'postgres') await tx.query('SET LOCAL jit = off');
    // One month at a time: every counter belongs to one month, so the months are independent, and
    // a month's aggregation stays in memory (the whole year at once spilled its hash tables to
    // disk, twice, and worked on ten times more rows per hash table).
    const months = (await tx.query<{ m: string }>(
      `SELECT to_char(d, 'YYYY-MM-DD') AS m FROM (SELECT DISTINCT date_trunc('month', date)::date AS d FROM mediation.activity) x ORDER BY d`,
    )).rows.map((r) => r.m);
    let rows = 0;
    for (const month of months) {
      // Figures are first summed per finest place (mediator, team, place, commune), then spread
      // over the scopes: a mediator's activities share few such groups. Only the columns the
      // counters need are carried along.
      const r = await tx.query(
        `INSERT INTO pg_temp.stat_stage (scope, scope_id, month, metric, key, value)
         WITH a AS MATERIALIZED (
           SELECT id, mediator_id, team_id::text AS team_id, place_uid, commune_code, departement, region,
                  kind, duration_min, place_kind, themes, admin_themes, autonomy, orientation, equipment, participants AS n
             FROM mediation.activity WHERE date >= $1::date AND date < ($1::date + interval '1 month')
         ), m AS (
           SELECT a.mediator_id, a.team_id, a.place_uid, a.commune_code, a.departement, a.region, x.metric, x.key, x.v
             FROM a CROSS JOIN LATERAL (VALUES
               ('activities', a.kind, 1::bigint), ('accompaniments', a.kind, a.n), ('minutes', a.kind, a.duration_min), ('place_kind', a.place_kind, 1),
               ('duration', a.duration_min::text, 1), ('autonomy', a.autonomy, 1), ('orientation', a.orientation, 1), ('equipment', a.equipment, 1)) x(metric, key, v)
            WHERE x.key IS NOT NULL
           UNION ALL SELECT a.mediator_id, a.team_id, a.place_uid, a.commune_code, a.departement, a.region, 'theme', t, a.n FROM a, unnest(a.themes) t
           UNION ALL SELECT a.mediator_id, a.team_id, a.place_uid, a.commune_code, a.departement, a.region, 'admin_theme', t, a.n FROM a, unnest(a.admin_themes) t
           UNION ALL SELECT a.mediator_id, a.team_id, a.place_uid, a.commune_code, a.departement, a.region, x.metric, x.key, 1
             FROM a JOIN mediation.activity_beneficiary ab ON ab.activity_id = a.id
            CROSS JOIN LATERAL (VALUES ('gender', coalesce(ab.gender, 'nc')), ('age', coalesce(ab.age_band, 'nc')), ('status', coalesce(ab.status, 'nc')),
                                       ('followed', CASE WHEN ab.beneficiary_id IS NOT NULL THEN a.kind END)) x(metric, key)
            WHERE x.key IS NOT NULL
         ), fine AS (
           SELECT mediator_id, team_id, place_uid, commune_code, departement, region, metric, key, sum(v) AS v
             FROM m GROUP BY mediator_id, team_id, place_uid, commune_code, departement, region, metric, key
         )
         SELECT s.scope, s.scope_id, $1::date, f.metric, f.key, sum(f.v)
           FROM fine f
           CROSS JOIN LATERAL (VALUES ('all', ''), ('region', f.region), ('departement', f.departement), ('commune', f.commune_code), ('place', f.place_uid),
                                      ('mediator', f.mediator_id), ('team', f.team_id)) s(scope, scope_id)
          WHERE s.scope_id IS NOT NULL
          GROUP BY s.scope, s.scope_id, f.metric, f.key`,
        [month],
      );
      rows += r.rowCount ?? 0;
    }
    await tx.query('SET LOCAL enable_sort = on');
    await tx.query(`SET LOCAL work_mem = '256MB'`);
    await tx.query(
      `INSERT INTO mediation.stat_counter (scope, scope_id, month, metric, key, value)
       SELECT scope, scope_id, month, metric, key, value FROM pg_temp.stat_stage ORDER BY scope, scope_id, month, metric, key`,
    );
    // Every write is audited, whatever its door (here the CLI and the demo).
    await recordAudit(tx, { actorId: null, action: 'mediation.counters.rebuild', objectType: 'mediation.stat_counter', meta: { rows } });
    // Every public cube is stale now (disclosure.ts rebuilds each on its next read).
    await tx.query('UPDATE mediation.public_version SET version = version + 1');
    await tx.query(
      `INSERT INTO mediation.public_version (region, year, version)
       SELECT DISTINCT scope_id, extract(year FROM month)::int, 1 FROM mediation.stat_counter WHERE scope = 'region' ON CONFLICT DO NOTHING`,
    );
    return rows;
  });
}

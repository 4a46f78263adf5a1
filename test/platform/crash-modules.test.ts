/**
 * `kill -9` in the middle of the modules' writes loses nothing (the embedded database, the engine
 * of every machine without DATABASE_URL). test/support/crash-writer.ts runs the whole app over a
 * data directory and writes through its HTTP routes in a loop, printing each write the app
 * acknowledged; it is killed with SIGKILL while it writes, twice, and started again on the same
 * directory each time. Then:
 * - every acknowledged write is in the database (a mediation record, a vote, a submitted dossier);
 * - nothing is half-written: the mediation counters equal a rebuild from the records; every
 *   checked-out basket has its ballot and its two projects, every ballot its checked-out basket,
 *   and the tally counts each acknowledged vote once; every submitted dossier has its receipt, its
 *   history and a fingerprint equal to its stored answers', and no receipt or number is doubled;
 * - the audit chain verifies, and holds one entry per acknowledged write at least.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { projectRoot } from '../../src/platform/config.ts';
import { openDb, type Db } from '../../src/platform/db/index.ts';
import { verifyAudit } from '../../src/platform/audit/index.ts';
import { rebuildCounters } from '../../src/modules/mediation/generate.ts';
import { fingerprint } from '../../src/modules/calls/model.ts';

const writer = path.join(projectRoot, 'test', 'support', 'crash-writer.ts');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-crash-modules-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** Runs the writer until it has acknowledged `acks` writes (after `ready`), then kills it with SIGKILL. */
async function runAndKill(dir: string, workload: string, acks: number): Promise<string[][]> {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent' };
  delete env.DATABASE_URL; // the embedded database, whatever the suite's engine
  const child = spawn(process.execPath, ['--import', 'tsx', writer, dir, workload], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const seen: string[][] = [];
  let stderr = '';
  let buffer = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  child.stdout.on('data', (d: Buffer) => {
    buffer += d.toString();
    let i;
    while ((i = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, i).split(' ');
      buffer = buffer.slice(i + 1);
      if (line[0] === 'ack') {
        seen.push(line.slice(1));
        // Killed a random moment after the n-th acknowledgement: inside the next write, most often.
        if (seen.length === acks) setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 15));
      } else if (line[0] === 'error') stderr += line.join(' ');
    }
  });
  const end = await exited;
  clearTimeout(timer);
  assert.equal(end.signal, 'SIGKILL', `the writer stopped by itself (${end.code}): ${stderr}`);
  assert.ok(seen.length >= acks, `the writer acknowledged ${seen.length} writes before the time limit: ${stderr}`);
  return seen;
}

async function open(dir: string): Promise<Db> {
  return openDb({ databaseUrl: null, pgliteDir: path.join(dir, 'pglite') });
}

async function auditChain(db: Db): Promise<number> {
  const r = await verifyAudit(db);
  assert.ok(r.ok, `the audit chain breaks after the crash: ${r.ok ? '' : `#${r.seq} ${r.reason}`}`);
  return r.count;
}

// The embedded database is what these tests crash, whatever the suite's engine: the PostgreSQL run
// of the suite skips them rather than run them twice.
const skip = process.env.DATABASE_URL ? 'the embedded database is crashed here: run in the embedded suite' : false;

describe('kill -9 in the middle of the modules\' writes', { timeout: 900_000, skip }, () => {
  test('mediation: every acknowledged record is kept, and the counters equal a rebuild from the records', async () => {
    const dir = path.join(root, 'mediation');
    fs.mkdirSync(dir);
    const acked = [...(await runAndKill(dir, 'mediation', 12)), ...(await runAndKill(dir, 'mediation', 12))];
    const db = await open(dir);
    try {
      const ids = acked.map((a) => a[1]!);
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM mediation.activity WHERE id = ANY($1::uuid[])', [ids]);
      assert.equal(rows[0]!.n, ids.length, 'an acknowledged record is missing after the crash');
      const people = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM mediation.activity a WHERE NOT EXISTS (SELECT 1 FROM mediation.activity_beneficiary b WHERE b.activity_id = a.id)');
      assert.equal(people.rows[0]!.n, 0, 'a record without its person row');
      const digest = async () => (await db.query<{ d: string; n: number }>(`SELECT md5(coalesce(string_agg(c::text, '|' ORDER BY c::text), '')) AS d, count(*)::int AS n FROM mediation.stat_counter c`)).rows[0]!;
      const kept = await digest();
      assert.ok(kept.n > 0);
      await rebuildCounters(db);
      assert.deepEqual(await digest(), kept, 'the counters left by the crash differ from a rebuild from the records');
      assert.ok((await auditChain(db)) >= ids.length);
    } finally {
      await db.close();
    }
  });

  test('consultation: every acknowledged vote is counted once; no basket is checked out without its ballot', async () => {
    const dir = path.join(root, 'consultation');
    fs.mkdirSync(dir);
    const acked = [...(await runAndKill(dir, 'consultation', 8)), ...(await runAndKill(dir, 'consultation', 8))];
    const db = await open(dir);
    try {
      const voters = acked.map((a) => a[1]!);
      const ballots = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.ballot WHERE user_id = ANY($1::uuid[])', [voters]);
      assert.equal(ballots.rows[0]!.n, voters.length, 'an acknowledged vote has no ballot after the crash');
      const orphans = await db.query<{ checked: number; ballots: number; without: number; short: number }>(
        `SELECT (SELECT count(*)::int FROM consultation.basket WHERE checked_out_at IS NOT NULL) AS checked,
                (SELECT count(*)::int FROM consultation.ballot) AS ballots,
                (SELECT count(*)::int FROM consultation.basket k WHERE checked_out_at IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM consultation.ballot b WHERE b.basket_id = k.id)) AS without,
                (SELECT count(*)::int FROM consultation.basket k WHERE checked_out_at IS NOT NULL
                   AND (SELECT count(*) FROM consultation.basket_item i WHERE i.basket_id = k.id) <> 2) AS short`,
      );
      const o = orphans.rows[0]!;
      assert.equal(o.without, 0, 'a checked-out basket without its ballot');
      assert.equal(o.short, 0, 'a checked-out basket without its two projects');
      assert.equal(o.ballots, o.checked, 'a ballot without its checked-out basket');
      assert.ok(o.checked >= voters.length && o.checked <= voters.length + 2, `${o.checked} votes for ${voters.length} acknowledged (at most the two cut ones may have committed)`);
      // The tally: each acknowledged voter's two projects, counted once.
      const tally = await db.query<{ project_id: string; votes: number }>(
        `SELECT i.project_id, count(*)::int AS votes FROM consultation.basket_item i JOIN consultation.basket k ON k.id = i.basket_id
          WHERE k.checked_out_at IS NOT NULL AND k.user_id = ANY($1::uuid[]) GROUP BY 1`,
        [voters],
      );
      const expected = new Map<string, number>();
      for (const a of acked) for (const p of a.slice(2)) expected.set(p, (expected.get(p) ?? 0) + 1);
      assert.deepEqual(new Map(tally.rows.map((r) => [r.project_id, r.votes])), expected);
      assert.ok((await auditChain(db)) >= voters.length);
    } finally {
      await db.close();
    }
  });

  test('calls: every acknowledged submission is kept with its receipt, history and a fingerprint of what is stored', async () => {
    const dir = path.join(root, 'calls');
    fs.mkdirSync(dir);
    const acked = [...(await runAndKill(dir, 'calls', 5)), ...(await runAndKill(dir, 'calls', 5))];
    const db = await open(dir);
    try {
      const ids = acked.map((a) => a[1]!);
      const { rows } = await db.query<{ id: string; title: string; answers: Parameters<typeof fingerprint>[0]['answers']; form_version: number; state: string; fingerprint: string | null; receipts: number; events: number }>(
        `SELECT a.id, a.title, a.answers, a.form_version, a.state, a.fingerprint,
                (SELECT count(*)::int FROM calls.receipt r WHERE r.application_id = a.id AND r.fingerprint = a.fingerprint) AS receipts,
                (SELECT count(*)::int FROM calls.application_event e WHERE e.application_id = a.id AND e.to_state = 'en_construction') AS events
           FROM calls.application a WHERE a.state <> 'brouillon' OR a.id = ANY($1::uuid[])`,
        [ids],
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const id of ids) assert.equal(byId.get(id)?.state, 'en_construction', `acknowledged dossier ${id} is not submitted after the crash`);
      for (const r of rows) {
        assert.equal(r.fingerprint, fingerprint({ title: r.title, answers: r.answers, formVersion: r.form_version }), `dossier ${r.id}: the fingerprint is not that of its stored answers`);
        assert.equal(r.receipts, 1, `dossier ${r.id}: ${r.receipts} receipts`);
        assert.equal(r.events, 1, `dossier ${r.id}: ${r.events} submission events`);
      }
      assert.ok(rows.length <= ids.length + 2, 'more submissions than acknowledged, beyond the two cut ones');
      const numbers = await db.query<{ n: number; d: number }>('SELECT count(*)::int AS n, count(DISTINCT number)::int AS d FROM calls.application');
      assert.equal(numbers.rows[0]!.n, numbers.rows[0]!.d, 'two dossiers share a number');
      assert.ok((await auditChain(db)) >= ids.length);
    } finally {
      await db.close();
    }
  });
});

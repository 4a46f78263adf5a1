/**
 * The journal's verifier (format 2, journal.ts): a clean journal verifies; each field of an entry
 * tampered, a row deleted, inserted or two swapped, a chain recomputed without the key, a
 * checkpoint or the head tampered or deleted, a cut tail against a noted head, the wrong key: each
 * detected and located (entry number). Rows of format 1 (before migration 006), sealed in the
 * audit chain, still verify, and tampering with them is detected. The CLI's output and exit codes.
 * Each tampering runs in a transaction rolled back afterwards (with the append-only guards off).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import type { Queryable } from '../../../platform/db/index.ts';
import { auditKeyring, recordAudit } from '../../../platform/audit/index.ts';
import type { CliContext } from '../../../platform/module.ts';
import { mandatesCommand } from '../cli.ts';
import { journalTesting, legacyDigest, verifyJournal, type JournalVerify } from '../journal.ts';
import * as service from '../service.ts';
import { PERSON, structureWithHelper } from './support.ts';

const EVERY = 4;
class Rollback extends Error {}

describe('mandates: journal verification', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  const alice = crypto.randomUUID();
  let s1: service.Structure;
  let mandate: { id: string };
  let legacyRows = 0;
  let total = 0;

  before(async () => {
    t = await testApp();
    journalTesting.setCheckpointEvery(EVERY);
    s1 = await structureWithHelper(t.ctx, alice);
    // Two rows of format 1, written as before migration 006: digest sealed in an audit entry.
    await t.db.transaction(async (tx) => {
      for (const procedure of ['justice', 'logement']) {
        const row = { at: new Date('2026-01-02T10:00:00.000Z').toISOString(), event: 'mandate.act', structureId: s1.id, mandateId: null, actorKind: 'helper', actorId: alice, procedure, detail: { service: 'ancien' } };
        const digest = legacyDigest(row);
        const e = await recordAudit(tx, { actorId: alice, action: 'mandates.mandate.act', objectType: 'mandates.journal', objectId: s1.id, after: { digest, event: row.event, procedure } });
        await tx.query(
          `INSERT INTO mandates.journal (at, event, structure_id, mandate_id, actor_kind, actor_id, procedure, detail, audit_seq, digest) VALUES ($1, $2, $3, NULL, $4, $5, $6, $7::jsonb, $8, $9)`,
          [row.at, row.event, s1.id, row.actorKind, alice, procedure, JSON.stringify(row.detail), e.seq, digest],
        );
        legacyRows++;
      }
    });
    // Format 2 from here: a mandate and acts (entries 1…), checkpoints every 4 entries.
    mandate = await service.createMandate(t.ctx, alice, s1.id, { ...PERSON, procedures: ['argent-impots', 'social-sante'], duration: '1m' });
    for (let i = 0; i < 13; i++) await service.recordAct(t.ctx, alice, mandate.id, i % 2 ? 'argent-impots' : 'social-sante', { service: `service-${i}` });
    total = Number((await t.db.query<{ n: string }>('SELECT count(*) AS n FROM mandates.journal')).rows[0]!.n);
  });
  after(async () => t.close());

  /** Runs `fn` in a transaction with the append-only guards off, then rolls everything back. */
  async function rolledBack(fn: (tx: Queryable) => Promise<void>): Promise<void> {
    await assert.rejects(t.db.transaction(async (tx) => {
      await tx.query('ALTER TABLE mandates.journal DISABLE TRIGGER USER');
      await tx.query('ALTER TABLE mandates.journal_checkpoint DISABLE TRIGGER USER');
      await fn(tx);
      throw new Rollback();
    }), Rollback);
  }
  /** The verification's answer after `tamper` (rolled back): it must be a failure. */
  async function tampered(tamper: (tx: Queryable) => Promise<unknown>): Promise<Extract<JournalVerify, { ok: false }>> {
    let r: JournalVerify | null = null;
    await rolledBack(async (tx) => {
      await tamper(tx);
      r = await verifyJournal(tx);
    });
    const v = r as JournalVerify | null;
    assert.ok(v && !v.ok, `tampering not detected: ${JSON.stringify(v)}`);
    return v as Extract<JournalVerify, { ok: false }>;
  }
  const v2 = 'format = 2 AND seq = ';

  test('a clean journal verifies: every row counted, both formats, the head to note', async () => {
    const r = await verifyJournal(t.db);
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.entries, total);
    const head = (await t.db.query<{ seq: string; hash: Uint8Array }>('SELECT seq, hash FROM mandates.journal_head')).rows[0]!;
    assert.equal(r.ok && r.head, `${head.seq}:${Buffer.from(head.hash).toString('hex')}`);
    assert.equal(Number(head.seq), total - legacyRows);
    const cps = (await t.db.query<{ seq: string }>('SELECT seq FROM mandates.journal_checkpoint ORDER BY seq')).rows.map((c) => Number(c.seq));
    assert.deepEqual(cps, Array.from({ length: Math.floor(Number(head.seq) / EVERY) + 1 }, (_, i) => i * EVERY));
    const genesis = (await t.db.query<{ genesis: string }>('SELECT genesis FROM mandates.journal_checkpoint WHERE seq = 0')).rows[0]!.genesis;
    assert.match(genesis, new RegExp(`checkpoint-every ${EVERY}\\nformat-1-rows ${legacyRows}\\n`));
    // The parallel ranges give the same answer as one.
    assert.deepEqual(await verifyJournal(t.db, { parallel: 3 }), r);
  });

  test('each field of an entry tampered is detected at that entry', async () => {
    const changes: Record<string, string> = {
      at: "at = at + interval '1 second'",
      event: "event = 'mandate.revoked'",
      structure_id: `structure_id = '${crypto.randomUUID()}'`,
      mandate_id: 'mandate_id = NULL',
      actor_kind: "actor_kind = 'staff'",
      actor_id: "actor_id = 'quelqu-un'",
      procedure: "procedure = 'justice'",
      detail: `detail = '{"service": "autre"}'::jsonb`,
      detail_key_order: `detail = '{"service": "service-3", "x": 1}'::jsonb`,
      audit_seq: 'audit_seq = audit_seq + 1',
      hash: "hash = sha256('x'::bytea)",
      format: 'format = 1, seq = NULL, hash = NULL, digest = \'x\'',
    };
    for (const [field, set] of Object.entries(changes)) {
      const r = await tampered(async (tx) => {
        await tx.query('ALTER TABLE mandates.journal DROP CONSTRAINT journal_format');
        await tx.query(`UPDATE mandates.journal SET ${set} WHERE ${v2}6`);
      });
      if (field === 'format') assert.match(r.reason, /format 1|entry 6 is missing/, field);
      else {
        assert.equal(r.seq, 6, `${field}: ${r.reason}`);
        assert.match(r.reason, /journal entry 6 \(row \d+\) was altered/, field);
      }
    }
  });

  test('a deleted, inserted, duplicated or reordered row is detected and located', async () => {
    let r = await tampered((tx) => tx.query(`DELETE FROM mandates.journal WHERE ${v2}6`));
    assert.equal(r.seq, 6);
    assert.match(r.reason, /journal entry 6 is missing \(deleted\)/);
    r = await tampered((tx) => tx.query(`DELETE FROM mandates.journal WHERE format = 2 AND seq BETWEEN 5 AND 7`));
    assert.match(r.reason, /journal entries 5 to 7 are missing/);
    // A copy of entry 6 (same number): inserted.
    r = await tampered(async (tx) => {
      await tx.query('DROP INDEX mandates.journal_seq');
      await tx.query(`INSERT INTO mandates.journal (at, event, structure_id, mandate_id, actor_kind, actor_id, procedure, detail, audit_seq, format, seq, hash)
        SELECT at, event, structure_id, mandate_id, actor_kind, actor_id, procedure, detail, audit_seq, format, seq, hash FROM mandates.journal WHERE ${v2}6`);
    });
    assert.equal(r.seq, 6);
    assert.match(r.reason, /journal entry 6 appears twice/);
    // Two entries swapped (their numbers exchanged).
    r = await tampered(async (tx) => {
      await tx.query('DROP INDEX mandates.journal_seq');
      await tx.query(`UPDATE mandates.journal SET seq = CASE seq WHEN 6 THEN 7 ELSE 6 END WHERE format = 2 AND seq IN (6, 7)`);
    });
    assert.equal(r.seq, 6);
    // A forged entry after the head, with a consistent hash (computed as the application would).
    r = await tampered((tx) => tx.query(`INSERT INTO mandates.journal (at, event, structure_id, mandate_id, actor_kind, actor_id, procedure, detail, audit_seq, format, seq, hash)
      SELECT now(), 'mandate.act', structure_id, mandate_id, 'helper', actor_id, procedure, NULL, 0, 2, h.seq + 1, sha256(h.hash || mandates.journal_body(h.seq + 1, now(), 'mandate.act', structure_id, mandate_id, 'helper', actor_id, procedure, NULL, 0))
        FROM mandates.journal j, mandates.journal_head h WHERE j.format = 2 AND j.seq = h.seq`));
    assert.match(r.reason, /past the keyed head/);
    // A forged row of format 1.
    r = await tampered((tx) => tx.query(`INSERT INTO mandates.journal (at, event, structure_id, actor_kind, procedure, audit_seq, digest) VALUES (now(), 'mandate.act', $1, 'system', 'justice', 1, 'x')`, [s1.id]));
    assert.equal(r.ok, false);
  });

  test('a chain recomputed without the key is caught by the next keyed checkpoint, or the head', async () => {
    // Entry 6 edited, then every hash from 6 on recomputed as the application would: links hold.
    const recompute = async (tx: Queryable, from: number) => {
      const last = Number((await tx.query<{ seq: string }>('SELECT seq FROM mandates.journal_head')).rows[0]!.seq);
      for (let s = from; s <= last; s++) {
        await tx.query(`UPDATE mandates.journal j SET hash = sha256(p.hash || mandates.journal_body(j.seq, j.at, j.event, j.structure_id, j.mandate_id, j.actor_kind, j.actor_id, j.procedure, j.detail, j.audit_seq))
          FROM mandates.journal p WHERE j.format = 2 AND j.seq = $1 AND p.format = 2 AND p.seq = $1 - 1`, [s]);
      }
      return last;
    };
    let r = await tampered(async (tx) => {
      await tx.query(`UPDATE mandates.journal SET procedure = 'justice' WHERE ${v2}6`);
      await recompute(tx, 6);
    });
    assert.equal(r.seq, 8);
    assert.match(r.reason, /journal entries 5 to 8 were rewritten/);
    // After the last checkpoint: the head no longer matches; re-pointing the head without the key fails its HMAC.
    r = await tampered(async (tx) => {
      const last = Number((await tx.query<{ seq: string }>('SELECT seq FROM mandates.journal_head')).rows[0]!.seq);
      await tx.query(`UPDATE mandates.journal SET procedure = 'justice' WHERE ${v2}${last}`);
      await recompute(tx, last);
    });
    assert.match(r.reason, /no longer reach the keyed head/);
    r = await tampered(async (tx) => {
      const last = await recompute(tx, 1);
      await tx.query(`UPDATE mandates.journal SET procedure = 'justice' WHERE ${v2}${last}`);
      await recompute(tx, last);
      await tx.query(`UPDATE mandates.journal_head h SET hash = j.hash FROM mandates.journal j WHERE j.format = 2 AND j.seq = h.seq`);
    });
    assert.match(r.reason, /keyed head \(entry \d+\) was altered/);
  });

  test('checkpoints and the head: tampered, deleted, forged, and a cut tail against a noted head', async () => {
    let r = await tampered((tx) => tx.query("UPDATE mandates.journal_checkpoint SET mac = sha256('x'::bytea) WHERE seq = 8"));
    assert.equal(r.seq, 8);
    assert.match(r.reason, /checkpoint of entry 8 was altered/);
    r = await tampered((tx) => tx.query("UPDATE mandates.journal_checkpoint SET hash = sha256('x'::bytea) WHERE seq = 8"));
    assert.match(r.reason, /checkpoint of entry 8 was altered/);
    r = await tampered((tx) => tx.query('DELETE FROM mandates.journal_checkpoint WHERE seq = 8'));
    assert.match(r.reason, /checkpoint of entry 8 is missing/);
    r = await tampered((tx) => tx.query("INSERT INTO mandates.journal_checkpoint (seq, hash, key_id, mac) VALUES (6, sha256('x'::bytea), 'k', sha256('y'::bytea))"));
    assert.match(r.reason, /checkpoint at entry 6 was inserted/);
    r = await tampered((tx) => tx.query("UPDATE mandates.journal_checkpoint SET genesis = replace(genesis, 'format-1-rows 2', 'format-1-rows 0') WHERE seq = 0"));
    assert.match(r.reason, /genesis checkpoint .* altered/);
    r = await tampered((tx) => tx.query("UPDATE mandates.journal_head SET mac = sha256('x'::bytea)"));
    assert.match(r.reason, /keyed head .* was altered/);
    // The tail cut back to entry 8, the keyed head of that time put back (as an attacker who saved it could):
    // the links, checkpoints and head all hold, only the head noted earlier tells.
    const noted = (await verifyJournal(t.db)) as { head: string };
    await rolledBack(async (tx) => {
      const row = (await tx.query<{ hash: Uint8Array }>(`SELECT hash FROM mandates.journal WHERE ${v2}8`)).rows[0]!;
      await tx.query('DELETE FROM mandates.journal WHERE format = 2 AND seq > 8');
      await tx.query('DELETE FROM mandates.journal_checkpoint WHERE seq > 8');
      const cp = (await tx.query<{ key_id: string; mac: Uint8Array }>('SELECT key_id, mac FROM mandates.journal_checkpoint WHERE seq = 8')).rows[0]!;
      // The head's MAC at entry 8 as the application wrote it then (the key is used here only to stand in for a saved copy).
      const k = auditKeyring(t.ctx.config).byId.get(cp.key_id)!;
      const key = crypto.createHmac('sha256', k).update('maillage-mandates-journal-checkpoints').digest();
      const mac = crypto.createHmac('sha256', key).update(`maillage-mandates-journal-v2\nhead\n8\n${Buffer.from(row.hash).toString('hex')}`).digest();
      await tx.query('UPDATE mandates.journal_head SET seq = 8, hash = $1, mac = $2', [row.hash, mac]);
      assert.equal((await verifyJournal(tx)).ok, true, 'without the anchor, a cut tail with an old head put back is consistent');
      const anchored = await verifyJournal(tx, { expectHead: noted.head });
      assert.equal(anchored.ok, false);
      assert.match(!anchored.ok ? anchored.reason : '', /expected head \(entry \d+\) is past the end of the chain/);
    });
    assert.equal((await verifyJournal(t.db, { expectHead: noted.head })).ok, true);
    assert.equal((await verifyJournal(t.db, { expectHead: `3:${'0'.repeat(64)}` })).ok, false);
  });

  test('without the key nothing verifies (another SECRET_KEY); format-1 rows tampered are found', async () => {
    const other = auditKeyring({ ...t.ctx.config, auditKey: null, auditKeyPrevious: [], secretKey: crypto.randomBytes(32).toString('hex'), secretKeyPrevious: [] });
    const r = await verifyJournal(t.db, { keyring: other });
    assert.equal(r.ok, false);
    let f = await tampered((tx) => tx.query("UPDATE mandates.journal SET procedure = 'famille-scolarite' WHERE format = 1 AND procedure = 'justice'"));
    assert.match(f.reason, /was altered \(its content no longer matches the digest sealed in audit entry/);
    f = await tampered((tx) => tx.query("DELETE FROM mandates.journal WHERE format = 1 AND procedure = 'logement'"));
    assert.match(f.reason, /missing \(deleted\)/);
  });

  test('the CLI: intact (exit 0, the head to note), broken (exit 1, the entry named), bad arguments refused', async () => {
    const lines: string[] = [];
    const cli = { ...t.ctx, out: (l: string) => lines.push(l), progress: () => ({ tick() {}, done() {} }) } as unknown as CliContext;
    assert.equal(await mandatesCommand.run(['journal', 'verify'], cli), 0);
    assert.match(lines.at(-1)!, new RegExp(`^Mandates journal intact: ${total} entries \\(.* s\\)\\. Head to note \\(--expect-head\\): \\d+:[0-9a-f]{64}$`));
    const head = /(\d+:[0-9a-f]{64})$/.exec(lines.at(-1)!)![1]!;
    assert.equal(await mandatesCommand.run(['journal', 'verify', '--expect-head', head, '--parallel', '2'], cli), 0);
    assert.equal(await mandatesCommand.run(['journal', 'verify', '--expect-head', `999:${'a'.repeat(64)}`], cli), 1);
    assert.match(lines.at(-1)!, /BROKEN .* at entry 999: the expected head \(entry 999\) is past the end/);
    await assert.rejects(mandatesCommand.run(['journal', 'verify', '--expect-head', 'nope'], cli), /--expect-head/);
    await assert.rejects(mandatesCommand.run(['journal', 'verify', '--parallel', '0'], cli), /unexpected argument/);
    await assert.rejects(mandatesCommand.run(['journal', 'verify', '__proto__'], cli), /unexpected argument "__proto__"/);
    await t.db.exec('ALTER TABLE mandates.journal DISABLE TRIGGER journal_append_only');
    await t.db.query(`UPDATE mandates.journal SET detail = '{"service":"autre"}'::jsonb WHERE ${v2}5`);
    await t.db.exec('ALTER TABLE mandates.journal ENABLE TRIGGER journal_append_only');
    assert.equal(await mandatesCommand.run(['journal', 'verify'], cli), 1);
    assert.match(lines.at(-1)!, /^Mandates journal BROKEN after \d+ good entries at entry 5 \(row \d+\): journal entry 5 \(row \d+\) was altered/);
  });
});

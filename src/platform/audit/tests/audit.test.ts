import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Db } from '../../db/index.ts';
import { testDb } from '../../../../test/support/db.ts';
import { canonicalJson, listAudit, recordAudit, verifyAudit } from '../index.ts';

describe('audit trail', () => {
  let db: Db;
  before(async () => {
    db = await testDb();
  });
  after(async () => db.close());

  test('canonical JSON sorts keys at every level and drops undefined members', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } }), '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
  });

  test('an empty chain verifies', async () => {
    assert.deepEqual(await verifyAudit(db), { ok: true, count: 0, headHash: '0'.repeat(64) });
  });

  test('entries are chained and the chain verifies', async () => {
    const a = await recordAudit(db, { actorId: 'u1', action: 'accounts.signin', objectType: 'user', objectId: 'u1', meta: { ip: '127.0.0.1' } });
    const b = await recordAudit(db, { actorId: 'u1', action: 'places.update', objectType: 'place', objectId: 'p1', before: { nom: 'A', n: 1 }, after: { nom: 'B', n: 2 } });
    assert.equal(b.prevHash, a.hash);
    assert.equal(b.seq, a.seq + 1);
    const r = await verifyAudit(db);
    assert.equal(r.ok, true);
    assert.equal(r.count, 2);
    const [latest] = await listAudit(db, { objectType: 'place', objectId: 'p1' });
    assert.deepEqual(latest!.after, { nom: 'B', n: 2 });
  });

  test('an entry recorded inside a transaction that rolls back leaves no trace', async () => {
    const count = (await verifyAudit(db)).count;
    await assert.rejects(
      db.transaction(async (tx) => {
        await recordAudit(tx, { actorId: null, action: 'test.rollback', objectType: 'x' });
        throw new Error('abort');
      }),
    );
    const r = await verifyAudit(db);
    assert.equal(r.ok, true);
    assert.equal(r.count, count);
  });

  test('concurrent appends never fork the chain', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        db.transaction(async (tx) => {
          await recordAudit(tx, { actorId: `u${i}`, action: 'test.concurrent', objectType: 'x', objectId: String(i), after: { i } });
        }),
      ),
    );
    const r = await verifyAudit(db);
    assert.equal(r.ok, true);
  });

  test('UPDATE, DELETE and TRUNCATE are refused by the database', async () => {
    await assert.rejects(db.query("UPDATE platform.audit_entry SET action = 'x.y' WHERE seq = 1"), /append-only/);
    await assert.rejects(db.query('DELETE FROM platform.audit_entry WHERE seq = 1'), /append-only/);
    await assert.rejects(db.query('TRUNCATE platform.audit_entry'), /append-only|audit/);
    await assert.rejects(db.query('DELETE FROM platform.audit_head'), /refused/);
    await assert.rejects(db.query("UPDATE platform.audit_head SET seq = 1, hash = 'x'"), /advance/);
    await assert.rejects(
      db.query("INSERT INTO platform.audit_entry (seq, at, action, object_type, prev_hash, hash) VALUES (1000, now(), 'x.y', 'x', 'a', 'b')"),
      /appended after the chain head/,
    );
    assert.equal((await verifyAudit(db)).ok, true);
  });

  test('tampering by a superuser who disables the guard is detected at the tampered entry', async () => {
    const { count } = await verifyAudit(db);
    assert.ok(count >= 5);
    await db.exec('ALTER TABLE platform.audit_entry DISABLE TRIGGER audit_entry_append_only');
    try {
      await db.query(`UPDATE platform.audit_entry SET after = '{"nom": "Falsifié", "n": 2}'::jsonb WHERE seq = 2`);
      let r = await verifyAudit(db);
      assert.equal(r.ok, false);
      assert.equal(r.ok === false && r.seq, 2);
      assert.match(r.ok === false ? r.reason : '', /changed/);
      // Put it back, then remove an entry in the middle: the gap is found.
      await db.query(`UPDATE platform.audit_entry SET after = '{"nom": "B", "n": 2}'::jsonb WHERE seq = 2`);
      assert.equal((await verifyAudit(db)).ok, true);
      await db.query('DELETE FROM platform.audit_entry WHERE seq = 4');
      r = await verifyAudit(db);
      assert.equal(r.ok, false);
      assert.equal(r.ok === false && r.seq, 4);
      assert.match(r.ok === false ? r.reason : '', /missing/);
    } finally {
      await db.exec('ALTER TABLE platform.audit_entry ENABLE TRIGGER audit_entry_append_only');
    }
  });
});

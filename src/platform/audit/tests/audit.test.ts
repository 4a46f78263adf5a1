import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Db } from '../../db/index.ts';
import { testDb } from '../../../../test/support/db.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb } from '../../db/index.ts';
import { migrate } from '../../db/migrate.ts';
import { loadConfig } from '../../config.ts';
import { auditHead, auditKeyring, canonicalJson, configureAudit, entryHash, legacyEntryHash, listAudit, recordAudit, verifyAudit, type AuditEntry } from '../index.ts';
import { migrationSources } from '../../../app.ts';

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
    const r = await verifyAudit(db);
    assert.equal(r.ok, true);
    assert.equal(r.count, 0);
    assert.equal(r.ok && r.headHash, '0'.repeat(64));
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

// Keyed chain (issue #13): whoever can only write the database cannot forge it.
describe('keyed audit chain', () => {
  let db: Db;
  before(async () => {
    db = await testDb();
    for (let i = 0; i < 6; i++) await recordAudit(db, { actorId: `u${i}`, action: 'test.seed', objectType: 'x', objectId: String(i), after: { i } });
  });
  after(async () => db.close());

  /** Rewrites entries from `fromSeq` on with the given hash function, as an attacker with write
   *  access to the database (guards disabled) would, and moves the head to the new last hash. */
  async function rewriteFrom(fromSeq: number, hash: (prev: string, e: AuditEntry) => string, change?: (e: AuditEntry) => void) {
    const entries = (await listAudit(db, { limit: 500 })).reverse();
    await db.exec('ALTER TABLE platform.audit_entry DISABLE TRIGGER ALL; ALTER TABLE platform.audit_head DISABLE TRIGGER ALL');
    try {
      let prev = entries.find((e) => e.seq === fromSeq - 1)?.hash ?? '0'.repeat(64);
      for (const e of entries.filter((x) => x.seq >= fromSeq)) {
        if (e.seq === fromSeq) change?.(e);
        const h = hash(prev, e);
        await db.query('UPDATE platform.audit_entry SET after = $2::jsonb, prev_hash = $3, hash = $4 WHERE seq = $1', [e.seq, JSON.stringify(e.after), prev, h]);
        prev = h;
      }
      const last = entries[entries.length - 1]!;
      await db.query('UPDATE platform.audit_head SET seq = $1, hash = $2 WHERE id = 1', [last.seq, prev]);
    } finally {
      await db.exec('ALTER TABLE platform.audit_entry ENABLE TRIGGER ALL; ALTER TABLE platform.audit_head ENABLE TRIGGER ALL');
    }
  }

  /** A copy of the trail to restore after an attack (the next tests start from an intact chain). */
  async function snapshot() {
    const rows = (await db.query('SELECT * FROM platform.audit_entry ORDER BY seq')).rows;
    const head = (await db.query('SELECT * FROM platform.audit_head')).rows[0];
    return async () => {
      await db.exec('ALTER TABLE platform.audit_entry DISABLE TRIGGER ALL; ALTER TABLE platform.audit_head DISABLE TRIGGER ALL');
      try {
        await db.query('DELETE FROM platform.audit_entry');
        for (const r of rows as Record<string, unknown>[]) {
          const cols = Object.keys(r);
          await db.query(
            `INSERT INTO platform.audit_entry (${cols.join(', ')}) VALUES (${cols.map((c, i) => (['before', 'after', 'meta'].includes(c) ? `$${i + 1}::jsonb` : `$${i + 1}`)).join(', ')})`,
            cols.map((c) => (['before', 'after', 'meta'].includes(c) && r[c] !== null ? JSON.stringify(r[c]) : r[c])),
          );
        }
        const h = head as { seq: number; hash: string };
        await db.query('UPDATE platform.audit_head SET seq = $1, hash = $2 WHERE id = 1', [h.seq, h.hash]);
      } finally {
        await db.exec('ALTER TABLE platform.audit_entry ENABLE TRIGGER ALL; ALTER TABLE platform.audit_head ENABLE TRIGGER ALL');
      }
      assert.equal((await verifyAudit(db)).ok, true);
    };
  }

  test('new entries are signed with the audit key (HMAC), and name the key', async () => {
    const e = await recordAudit(db, { actorId: null, action: 'test.keyed', objectType: 'x', after: { a: 1 } });
    const keys = auditKeyring(loadConfig());
    assert.equal(e.keyId, keys.current.id);
    assert.equal(e.hash, entryHash(keys.current, e.prevHash, e));
    assert.notEqual(e.hash, legacyEntryHash(e.prevHash, e), 'not a plain SHA-256 any more');
    const r = await verifyAudit(db);
    assert.equal(r.ok, true);
    assert.equal(r.ok && r.legacyCount, 0, 'the test database was keyed from its first entry');
  });

  test('attack 1: recomputing every hash from one entry on (without the key) is detected', async () => {
    const restore = await snapshot();
    const forged = (await listAudit(db, { limit: 500 })).reverse()[2]!;
    // With plain SHA-256, as the unkeyed chain allowed, keeping the key id.
    await rewriteFrom(forged.seq, (prev, e) => legacyEntryHash(prev, e), (e) => (e.after = { forged: true }));
    let r = await verifyAudit(db);
    assert.equal(r.ok, false);
    assert.equal(r.ok === false && r.seq, forged.seq);
    assert.match(r.ok === false ? r.reason : '', /changed/);
    await restore();
    // With a key of the attacker's own (an HMAC under a key that is not the server's).
    const attacker = { id: auditKeyring(loadConfig()).current.id, key: Buffer.alloc(32, 7) };
    await rewriteFrom(forged.seq, (prev, e) => entryHash(attacker, prev, e), (e) => (e.after = { forged: true }));
    r = await verifyAudit(db);
    assert.equal(r.ok, false);
    assert.equal(r.ok === false && r.seq, forged.seq);
    await restore();
  });

  test('attack 2: cutting the tail is detected against a head noted earlier', async () => {
    const restore = await snapshot();
    const noted = await auditHead(db);
    assert.equal(noted.token, `${noted.seq}:${noted.hash}`);
    assert.equal((await verifyAudit(db, { expectHead: noted.token })).ok, true);
    // The trail grows after the head was noted: the noted head is still in it.
    await recordAudit(db, { actorId: null, action: 'test.after_note', objectType: 'x' });
    assert.equal((await verifyAudit(db, { expectHead: noted.token })).ok, true);
    assert.equal((await verifyAudit(db, { expectHead: noted.hash })).ok, true, 'the hash alone is accepted too');
    // Cut the last three entries and move the head back: the chain alone still looks intact...
    const cutTo = noted.seq - 2;
    const newHead = (await listAudit(db, { beforeSeq: cutTo + 1, limit: 1 }))[0]!;
    await db.exec('ALTER TABLE platform.audit_entry DISABLE TRIGGER ALL; ALTER TABLE platform.audit_head DISABLE TRIGGER ALL');
    try {
      await db.query('DELETE FROM platform.audit_entry WHERE seq > $1', [cutTo]);
      await db.query('UPDATE platform.audit_head SET seq = $1, hash = $2 WHERE id = 1', [newHead.seq, newHead.hash]);
    } finally {
      await db.exec('ALTER TABLE platform.audit_entry ENABLE TRIGGER ALL; ALTER TABLE platform.audit_head ENABLE TRIGGER ALL');
    }
    assert.equal((await verifyAudit(db)).ok, true, 'without an anchor a cut tail cannot be seen');
    // ...but not against the noted head.
    const r = await verifyAudit(db, { expectHead: noted.token });
    assert.equal(r.ok, false);
    assert.match(r.ok === false ? r.reason : '', /truncated/);
    await restore();
    // A rewritten history (same length) loses the noted head too.
    await rewriteFrom(noted.seq - 1, (prev, e) => legacyEntryHash(prev, e));
    const r2 = await verifyAudit(db, { expectHead: noted.token });
    assert.equal(r2.ok, false);
    await restore();
    await assert.rejects(verifyAudit(db, { expectHead: 'nonsense' }), /expect-head/);
  });

  test('key rotation: entries signed with a former key verify while it is listed, and name it when it is not', async () => {
    const base = loadConfig();
    try {
      configureAudit({ ...base, auditKey: 'nouvelle clé d’audit', auditKeyPrevious: [] });
      const e = await recordAudit(db, { actorId: null, action: 'test.new_key', objectType: 'x' });
      // Verified with the new key and the old one (derived from SECRET_KEY) listed: intact.
      const both = auditKeyring({ ...base, auditKey: 'nouvelle clé d’audit', auditKeyPrevious: [] });
      const old = auditKeyring(base);
      for (const [id, key] of old.byId) both.byId.set(id, key);
      assert.equal((await verifyAudit(db, { keyring: both })).ok, true);
      // Without the old key: the first entry it signed is named, with what to configure.
      const r = await verifyAudit(db, { keyring: auditKeyring({ ...base, auditKey: 'nouvelle clé d’audit', auditKeyPrevious: [] }) });
      assert.equal(r.ok, false);
      assert.match(r.ok === false ? r.reason : '', /AUDIT_KEY_PREVIOUS/);
      assert.ok(r.ok === false && r.seq < e.seq);
    } finally {
      configureAudit(base);
    }
  });
});

describe('audit trail written before keying (migration 003)', () => {
  test('the legacy prefix is marked, verified as before, and the keyed chain continues from it', async () => {
    // A database migrated up to 002 only, holding entries hashed the old way (plain SHA-256).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-audit-'));
    for (const f of ['001_extensions.sql', '002_audit.sql']) fs.copyFileSync(path.join(import.meta.dirname, '..', '..', 'migrations', f), path.join(dir, f));
    const db = await openDb({ databaseUrl: null, pgliteDir: null });
    try {
      await migrate(db, [{ module: 'platform', dir }]);
      let prev = '0'.repeat(64);
      for (let seq = 1; seq <= 3; seq++) {
        const body = { seq, at: new Date().toISOString(), actorId: null, action: 'legacy.write', objectType: 'x', objectId: String(seq), before: null, after: { seq }, meta: null };
        const hash = legacyEntryHash(prev, body);
        await db.query(
          `INSERT INTO platform.audit_entry (seq, at, actor_id, action, object_type, object_id, after, prev_hash, hash) VALUES ($1, $2, NULL, $3, $4, $5, $6::jsonb, $7, $8)`,
          [seq, body.at, body.action, body.objectType, body.objectId, JSON.stringify(body.after), prev, hash],
        );
        await db.query('UPDATE platform.audit_head SET seq = $1, hash = $2 WHERE id = 1', [seq, hash]);
        prev = hash;
      }
      // Then every migration (003 marks the three entries as the legacy prefix).
      await migrate(db, migrationSources().filter((s) => s.module === 'platform'));
      const legacy = (await db.query<{ last_seq: number }>('SELECT last_seq FROM platform.audit_legacy')).rows[0];
      assert.equal(Number(legacy?.last_seq), 3);
      await recordAudit(db, { actorId: null, action: 'test.keyed', objectType: 'x' });
      const r = await verifyAudit(db);
      assert.equal(r.ok, true);
      assert.equal(r.ok && r.legacyCount, 3);
      assert.equal(r.count, 4);
      // The legacy prefix is still checked: changing it breaks the chain there.
      await db.exec('ALTER TABLE platform.audit_entry DISABLE TRIGGER audit_entry_append_only');
      await db.query(`UPDATE platform.audit_entry SET after = '{"seq": 99}'::jsonb WHERE seq = 2`);
      const broken = await verifyAudit(db);
      assert.equal(broken.ok === false && broken.seq, 2);
      // The marker cannot be moved, and an unsigned entry cannot be appended after it.
      await assert.rejects(db.query('UPDATE platform.audit_legacy SET last_seq = 100'), /refused/);
      const head = (await db.query<{ seq: number; hash: string }>('SELECT seq, hash FROM platform.audit_head')).rows[0]!;
      await assert.rejects(
        db.query(`INSERT INTO platform.audit_entry (seq, at, action, object_type, prev_hash, hash) VALUES ($1, now(), 'x.y', 'x', $2, 'f')`, [Number(head.seq) + 1, head.hash]),
        /key id/,
      );
    } finally {
      await db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

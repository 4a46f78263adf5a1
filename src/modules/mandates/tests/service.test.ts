/**
 * The rules of mandates, on the service: creation with consent by a trained helper of the
 * structure only; the check at the exact second of expiry; revocation (whole, per procedure, by
 * the person with the code); acts only under a valid mandate; concurrency of acts and revocations;
 * the journal sealed in the audit (edits, deletions and forged rows detected); the retention
 * purge keeping the journal intact. Every refusal is checked on the rows.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { verifyAudit } from '../../../platform/audit/index.ts';
import { DAY_MS, parseMandateInput, ValidationFailed } from '../model.ts';
import * as service from '../service.ts';
import { PERSON, snapshot, structureWithHelper } from './support.ts';

const T0 = new Date('2026-03-10T09:00:00.000Z');

describe('mandates: rules', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  const alice = crypto.randomUUID(); // trained helper of s1
  const bob = crypto.randomUUID(); // trained helper of s2
  const carl = crypto.randomUUID(); // untrained helper of s1
  let s1: service.Structure;
  let s2: service.Structure;

  before(async () => {
    t = await testApp();
    s1 = await structureWithHelper(t.ctx, alice);
    s2 = await structureWithHelper(t.ctx, bob, { commune: '27229' });
    await service.addHelper(t.ctx, null, s1.id, carl, 'Carl');
  });
  after(async () => t.close());

  const create = (helper: string, s: service.Structure, extra: Partial<Parameters<typeof service.createMandate>[3]> = {}, now = T0) =>
    service.createMandate(t.ctx, helper, s.id, { ...PERSON, procedures: ['argent-impots', 'social-sante'], duration: '1m', ...extra }, { now });

  test('the form is validated field by field (hostile input included)', () => {
    const ok = { givenName: 'Jeanne', familyName: 'Lefèvre', birthDate: '1948-05-12', identityChecked: 'oui', procedures: ['argent-impots'], duration: '6m', consent: 'oui' };
    assert.equal(parseMandateInput(ok, T0, true).duration, '6m');
    const fields = (raw: Record<string, unknown>, consent = true) => {
      try {
        parseMandateInput(raw, T0, consent);
        return [];
      } catch (e) {
        assert.ok(e instanceof ValidationFailed);
        return e.errors.map((x) => x.field);
      }
    };
    assert.deepEqual(fields({ ...ok, consent: '' }), ['consent']);
    assert.deepEqual(fields({ ...ok, consent: '' }, false), []);
    assert.deepEqual(fields({ ...ok, givenName: 'Je\u0000anne' }), ['givenName']);
    assert.deepEqual(fields({ ...ok, familyName: 'x'.repeat(200) }), ['familyName']);
    assert.deepEqual(fields({ ...ok, birthDate: '2026-02-30' }), ['birthDate']);
    assert.deepEqual(fields({ ...ok, birthDate: '2020-01-01' }), ['birthDate']);
    assert.deepEqual(fields({ ...ok, procedures: ['constructor'] }), ['procedures']);
    assert.deepEqual(fields({ ...ok, procedures: ['__proto__'] }), ['procedures']);
    assert.deepEqual(fields({ ...ok, procedures: [] }), ['procedures']);
    assert.deepEqual(fields({ ...ok, duration: '2y' }), ['duration']);
    assert.deepEqual(fields({ ...ok, duration: 'toString' }), ['duration']);
    assert.deepEqual(fields({ ...ok, identityChecked: '' }), ['identityChecked']);
  });

  test('only a trained, active helper of the structure creates a mandate; refusals write nothing', async () => {
    const before = await snapshot(t.db);
    await assert.rejects(create(carl, s1), /formation/);
    await assert.rejects(create(bob, s1), /pas aidant actif/);
    await assert.rejects(create('nobody', s1), /pas aidant actif/);
    await assert.rejects(service.createMandate(t.ctx, alice, s1.id, { ...PERSON, consent: false, procedures: ['logement'], duration: '1d' }), /accord/);
    assert.deepEqual(await snapshot(t.db), before);
  });

  test('a mandate allows its procedures until the second it expires, then refuses at once', async () => {
    const m = await create(alice, s1, { duration: '1d' });
    const end = new Date(T0.getTime() + DAY_MS);
    assert.deepEqual(await service.checkAuthorisation(t.db, alice, m.id, 'argent-impots', new Date(end.getTime() - 1000)), { allowed: true, mandateId: m.id, structureId: s1.id });
    assert.equal((await service.checkAuthorisation(t.db, alice, m.id, 'argent-impots', end)).allowed, false);
    assert.equal((await service.checkAuthorisation(t.db, alice, m.id, 'argent-impots', new Date(end.getTime() - 1))).allowed, true);
    const at = await service.checkAuthorisation(t.db, alice, m.id, 'argent-impots', end);
    assert.equal(at.allowed === false && at.code, 'expired');
    // Outside the procedures, another structure's helper, an untrained helper, an unknown id.
    const no = async (h: string, p: string, id = m.id) => {
      const d = await service.checkAuthorisation(t.db, h, id, p, T0);
      return d.allowed ? 'allowed' : d.code;
    };
    assert.equal(await no(alice, 'logement'), 'procedure');
    assert.equal(await no(alice, 'constructor'), 'procedure');
    assert.equal(await no(bob, 'argent-impots'), 'not_helper');
    assert.equal(await no(carl, 'argent-impots'), 'not_trained');
    assert.equal(await no(alice, 'argent-impots', crypto.randomUUID()), 'unknown');
    assert.equal(await no(alice, 'argent-impots', 'not-a-uuid'), 'unknown');
    // Acts: allowed before, refused at the second of expiry (nothing written).
    await service.recordAct(t.ctx, alice, m.id, 'argent-impots', { service: 'impots.gouv.fr', now: new Date(end.getTime() - 1000) });
    const before = await snapshot(t.db);
    await assert.rejects(service.recordAct(t.ctx, alice, m.id, 'argent-impots', { now: end }), /expiré/);
    await assert.rejects(service.recordAct(t.ctx, bob, m.id, 'argent-impots', { now: T0 }), /aidant actif/);
    await assert.rejects(service.recordAct(t.ctx, alice, m.id, 'logement', { now: T0 }), /ne couvre pas/);
    await assert.rejects(service.recordAct(t.ctx, alice, m.id, 'argent-impots', { now: T0, service: 'x'.repeat(101) }), /100 caractères/);
    assert.deepEqual(await snapshot(t.db), before);
    const journal = await service.listJournal(t.db, { mandateId: m.id });
    assert.deepEqual(journal.map((j) => j.event), ['mandate.act', 'mandate.created']);
    assert.deepEqual(journal[0]!.detail, { service: 'impots.gouv.fr' });
  });

  test('revocation per procedure, then whole; the person revokes with the code only', async () => {
    const m = await create(alice, s1, { duration: '1y', procedures: ['argent-impots', 'logement', 'social-sante'] });
    await service.revokeMandate(t.ctx, { kind: 'helper', id: alice }, m.id, 'logement', T0);
    assert.equal((await service.checkAuthorisation(t.db, alice, m.id, 'logement', T0)).allowed, false);
    assert.equal((await service.checkAuthorisation(t.db, alice, m.id, 'argent-impots', T0)).allowed, true);
    const before = await snapshot(t.db);
    await assert.rejects(service.revokeMandate(t.ctx, { kind: 'helper', id: alice }, m.id, 'logement', T0), /ne fait pas/);
    await assert.rejects(service.revokeMandate(t.ctx, { kind: 'helper', id: bob }, m.id, null, T0), /aidant actif/);
    await assert.rejects(service.revokeByPerson(t.ctx, m.reference, 'AAAAAAAAAAAA', null, T0), /incorrect/);
    await assert.rejects(service.revokeByPerson(t.ctx, m.reference, `${m.revocationCode}\u0000`, null, T0), /incorrect/);
    await assert.rejects(service.revokeByPerson(t.ctx, 'M-ZZZZ-ZZZZ', m.revocationCode, null, T0), /incorrect/);
    assert.deepEqual(await snapshot(t.db), before);
    await service.revokeByPerson(t.ctx, m.reference.toLowerCase(), m.revocationCode.toLowerCase(), null, T0);
    const after = (await service.getMandate(t.db, m.id, T0))!;
    assert.equal(after.status, 'revoked');
    assert.equal(after.revokedByKind, 'person');
    assert.ok(after.procedures.every((p) => p.revokedAt));
    assert.equal((await service.checkAuthorisation(t.db, alice, m.id, 'argent-impots', T0)).allowed, false);
    const again = await snapshot(t.db);
    await assert.rejects(service.revokeByPerson(t.ctx, m.reference, m.revocationCode, null, T0), /déjà révoqué/);
    await assert.rejects(service.recordAct(t.ctx, alice, m.id, 'argent-impots', { now: T0 }), /révoqué/);
    assert.deepEqual(await snapshot(t.db), again);
    const journal = await service.listJournal(t.db, { mandateId: m.id });
    assert.deepEqual(journal.map((j) => [j.event, j.actorKind]), [['mandate.revoked', 'person'], ['mandate.procedure_revoked', 'helper'], ['mandate.created', 'helper']]);
  });

  test('revoking the last procedure left revokes the mandate; a deactivated helper can no longer act', async () => {
    const m = await create(alice, s1, { procedures: ['justice'] });
    assert.deepEqual(await service.revokeMandate(t.ctx, { kind: 'helper', id: alice }, m.id, 'justice', T0), { whole: true });
    assert.equal((await service.getMandate(t.db, m.id, T0))!.status, 'revoked');
    const m2 = await create(alice, s1);
    await service.setHelperActive(t.ctx, null, s1.id, alice, false);
    await assert.rejects(service.recordAct(t.ctx, alice, m2.id, 'argent-impots', { now: T0 }), /aidant actif/);
    await service.setHelperActive(t.ctx, null, s1.id, alice, true);
    await service.recordAct(t.ctx, alice, m2.id, 'argent-impots', { now: T0 });
  });

  test('concurrency: two revocations revoke once; acts racing a revocation never land after it', async () => {
    const m = await create(alice, s1, { duration: '6m' });
    const results = await Promise.allSettled([
      service.revokeMandate(t.ctx, { kind: 'helper', id: alice }, m.id, null, T0),
      service.revokeByPerson(t.ctx, m.reference, m.revocationCode, null, T0),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.match(String((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason), /déjà révoqué/);
    assert.equal((await service.listJournal(t.db, { mandateId: m.id })).filter((j) => j.event === 'mandate.revoked').length, 1);

    const m2 = await create(alice, s1, { duration: '6m' });
    const later = new Date(T0.getTime() + 1000);
    const race = await Promise.allSettled([
      ...Array.from({ length: 6 }, () => service.recordAct(t.ctx, alice, m2.id, 'argent-impots', { now: later })),
      service.revokeMandate(t.ctx, { kind: 'helper', id: alice }, m2.id, null, later),
      ...Array.from({ length: 6 }, () => service.recordAct(t.ctx, alice, m2.id, 'social-sante', { now: later })),
    ]);
    assert.equal(race[6]!.status, 'fulfilled');
    const journal = (await service.listJournal(t.db, { mandateId: m2.id })).reverse();
    const revokedAt = journal.findIndex((j) => j.event === 'mandate.revoked');
    assert.ok(revokedAt > 0);
    assert.ok(journal.slice(revokedAt + 1).every((j) => j.event !== 'mandate.act'), 'no act journalled after the revocation');
    const fulfilledActs = race.filter((r, i) => i !== 6 && r.status === 'fulfilled').length;
    assert.equal(journal.filter((j) => j.event === 'mandate.act').length, fulfilledActs);
    for (const r of race.filter((x, i) => i !== 6 && x.status === 'rejected')) assert.match(String((r as PromiseRejectedResult).reason), /révoqué/);
  });

  test('revocation by code: 100 concurrent guesses evaluate at most the limit; the right code is then refused too, nothing changed', async () => {
    const m = await create(alice, s1);
    const before = await snapshot(t.db);
    const wrong = (i: number) => `W${String(i).padStart(11, '0')}`;
    const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => service.revokeByPerson(t.ctx, m.reference, wrong(i), null, T0)));
    const reasons = results.map((r) => (r.status === 'rejected' ? (r.reason as { statusCode?: number }).statusCode : 200));
    // A 400 is a code that was looked at and found wrong; a 429 was refused before any look.
    const evaluated = reasons.filter((s) => s === 400).length;
    assert.equal(evaluated, service.REVOCATION_ATTEMPTS, `${evaluated} codes evaluated`);
    assert.equal(reasons.filter((s) => s === 429).length, 100 - service.REVOCATION_ATTEMPTS);
    // The right code now: refused without being evaluated, the mandate stays active.
    await assert.rejects(service.revokeByPerson(t.ctx, m.reference, m.revocationCode, null, T0), (e: { statusCode?: number; field?: string }) => e.statusCode === 429 && e.field === 'code');
    assert.equal((await service.getMandate(t.db, m.id, T0))!.status, 'active');
    assert.deepEqual(await snapshot(t.db), before);
    // Another mandate's reference has its own count: its person is not locked out.
    const other = await create(alice, s1);
    await service.revokeByPerson(t.ctx, other.reference, other.revocationCode, null, T0);
    assert.equal((await service.getMandate(t.db, other.id, T0))!.status, 'revoked');
  });

  test('the attestation hash covers its content and the template version', async () => {
    const m = await create(alice, s1);
    const mandate = (await service.getMandate(t.db, m.id, T0))!;
    assert.equal(await service.attestationIntact(t.db, mandate), true);
    await t.db.query("UPDATE mandates.person SET family_name = 'Autre' WHERE id = $1", [mandate.personId]);
    assert.equal(await service.attestationIntact(t.db, (await service.getMandate(t.db, m.id, T0))!), false);
    await t.db.query("UPDATE mandates.person SET family_name = 'Lefèvre' WHERE id = $1", [mandate.personId]);
    assert.equal(await service.attestationIntact(t.db, (await service.getMandate(t.db, m.id, T0))!), true);
  });

  test('expiry is journalled once; the purge deletes identities after the retention period and keeps the journal intact', async () => {
    const old = await create(bob, s2, { duration: '1d' }, new Date('2024-01-01T10:00:00Z'));
    const recent = await create(bob, s2, { duration: '1y' }, new Date('2025-12-01T10:00:00Z'));
    const now = new Date('2026-01-15T00:00:00Z');
    const n = await service.noteExpired(t.ctx, now);
    assert.ok(n >= 1);
    assert.equal(await service.noteExpired(t.ctx, now), 0);
    assert.equal((await service.listJournal(t.db, { mandateId: old.id }))[0]!.event, 'mandate.expired');
    const purged = await service.purgeIdentities(t.ctx, 12, now);
    assert.ok(purged >= 1);
    const o = (await service.getMandate(t.db, old.id, now))!;
    assert.equal(o.person, null);
    assert.equal(await service.attestationIntact(t.db, o), null);
    assert.notEqual((await service.getMandate(t.db, recent.id, now))!.person, null, 'a person with a mandate in force keeps their identity');
    const row = (await t.db.query('SELECT given_name, family_name, birth_date, purged_at FROM mandates.person WHERE id = $1', [o.personId])).rows[0] as Record<string, unknown>;
    assert.deepEqual({ ...row, purged_at: !!row.purged_at }, { given_name: null, family_name: null, birth_date: null, purged_at: true });
    assert.equal(await service.purgeIdentities(t.ctx, 12, now), 0);
    const verified = await service.verifyJournal(t.db);
    assert.deepEqual([verified.ok, verified.entries], [true, (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM mandates.journal')).rows[0]!.n]);
    // No personal data in the journal nor in the audit entries it seals.
    const dump = JSON.stringify((await t.db.query("SELECT * FROM mandates.journal")).rows) + JSON.stringify((await t.db.query("SELECT after FROM platform.audit_entry WHERE object_type = 'mandates.journal'")).rows);
    assert.ok(!dump.includes('Lefèvre') && !dump.includes('Jeanne') && !dump.includes('1948-05-12'));
  });

  test('the journal is append-only and tampering is detected', async () => {
    assert.equal((await service.verifyJournal(t.db)).ok, true);
    await assert.rejects(t.db.query("UPDATE mandates.journal SET procedure = 'justice' WHERE id = 1"), /append-only/);
    await assert.rejects(t.db.query('DELETE FROM mandates.journal WHERE id = 1'), /append-only/);
    // Someone with the database's owner rights disables the guard and edits, deletes or forges rows.
    await t.db.exec('ALTER TABLE mandates.journal DISABLE TRIGGER journal_append_only');
    await t.db.query("UPDATE mandates.journal SET procedure = 'justice' WHERE id = 2");
    let r = await service.verifyJournal(t.db);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /journal entry 2 \(row 2\) was altered/);
    await t.db.query('DELETE FROM mandates.journal WHERE id = 2');
    r = await service.verifyJournal(t.db);
    assert.match(!r.ok ? r.reason : '', /missing \(deleted\)/);
    await t.db.query(`INSERT INTO mandates.journal (at, event, structure_id, mandate_id, actor_kind, actor_id, procedure, detail, audit_seq, format, seq, hash)
      SELECT at, event, structure_id, mandate_id, actor_kind, actor_id, procedure, detail, audit_seq, format, seq + 1000, hash FROM mandates.journal WHERE id = 3`);
    r = await service.verifyJournal(t.db);
    assert.equal(r.ok, false);
    await t.db.exec('ALTER TABLE mandates.journal ENABLE TRIGGER journal_append_only');
    assert.equal((await verifyAudit(t.db)).ok, true, 'the platform chain itself is untouched');
  });
});

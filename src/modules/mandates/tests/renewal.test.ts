/**
 * The person's side of the lifecycle, on the service: renewal (a new consent, no new identity
 * check within a year of expiry), transfer to another structure, expiry reminders, idle helpers
 * warned then deactivated. Every refusal is checked on the rows; concurrent renewals renew once.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { DAY_MS, IDLE_DAYS, IDLE_WARNING_DAYS, REMINDER_DAYS } from '../model.ts';
import * as service from '../service.ts';
import { PERSON, snapshot, structureWithHelper } from './support.ts';

const T0 = new Date('2026-03-10T09:00:00.000Z');
const later = (days: number, from = T0) => new Date(from.getTime() + days * DAY_MS);

describe('mandates: renewal, transfer, reminders, idle helpers', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  const alice = crypto.randomUUID(); // trained helper of s1, then also of s2 (she moves)
  const bob = crypto.randomUUID(); // trained helper of s2 only
  let s1: service.Structure;
  let s2: service.Structure;

  before(async () => {
    t = await testApp();
    s1 = await structureWithHelper(t.ctx, alice);
    s2 = await structureWithHelper(t.ctx, bob, { commune: '27229' });
  });
  after(async () => t.close());

  const create = (now = T0, duration: '1d' | '1m' | '6m' | '1y' = '1m') =>
    service.createMandate(t.ctx, alice, s1.id, { ...PERSON, procedures: ['argent-impots', 'social-sante'], duration }, { now });
  const scope = { procedures: ['logement' as const], duration: '6m' as const, consent: true };

  test('renewal: a new mandate with a new consent; the old one ends; refusals write nothing', async () => {
    const m = await create();
    const before = await snapshot(t.db);
    // No consent, a helper of another structure, an unknown mandate: refused, nothing written.
    await assert.rejects(service.renewMandate(t.ctx, alice, m.id, { ...scope, consent: false }, later(10)), { statusCode: 400, field: 'consent' });
    await assert.rejects(service.renewMandate(t.ctx, bob, m.id, scope, later(10)), { statusCode: 403 });
    await assert.rejects(service.renewMandate(t.ctx, alice, crypto.randomUUID(), scope, later(10)), { statusCode: 404 });
    await assert.rejects(service.renewMandate(t.ctx, alice, 'not-a-uuid', scope, later(10)), { statusCode: 404 });
    assert.deepEqual(await snapshot(t.db), before);

    const r = await service.renewMandate(t.ctx, alice, m.id, scope, later(10));
    const old = (await service.getMandate(t.db, m.id, later(10)))!;
    const renewed = (await service.getMandate(t.db, r.id, later(10)))!;
    assert.equal(old.status, 'revoked', 'the old mandate ends when renewed while in force');
    assert.equal(renewed.status, 'active');
    assert.equal(renewed.personId, old.personId, 'same person, no new identity check');
    assert.deepEqual(renewed.procedures.map((p) => p.procedure), ['logement']);
    assert.equal(renewed.expiresAt, later(10 + 182).toISOString());
    assert.equal((await service.checkAuthorisation(t.db, alice, m.id, 'argent-impots', later(10))).allowed, false);
    assert.equal((await service.checkAuthorisation(t.db, alice, r.id, 'logement', later(10))).allowed, true);
    const row = (await t.db.query<{ replaces: string; replaces_kind: string }>('SELECT replaces, replaces_kind FROM mandates.mandate WHERE id = $1', [r.id])).rows[0]!;
    assert.deepEqual(row, { replaces: m.id, replaces_kind: 'renewal' });
    assert.equal((await t.db.query<{ end_reason: string }>('SELECT end_reason FROM mandates.mandate WHERE id = $1', [m.id])).rows[0]!.end_reason, 'renewed');
    assert.equal((await service.attestationIntact(t.db, renewed)), true);
    const events = (await service.listJournal(t.db, { mandateId: r.id })).map((j) => j.event);
    assert.deepEqual(events, ['mandate.renewed']);

    // Renewing the old one again (replaced), or a revoked one: refused, nothing written.
    const snap = await snapshot(t.db);
    await assert.rejects(service.renewMandate(t.ctx, alice, m.id, scope, later(11)), { statusCode: 409, code: 'replaced' });
    const m2 = await create();
    await service.revokeMandate(t.ctx, { kind: 'person' }, m2.id, null, later(1));
    const snap2 = await snapshot(t.db);
    await assert.rejects(service.renewMandate(t.ctx, alice, m2.id, scope, later(2)), { statusCode: 409, code: 'revoked' });
    assert.deepEqual(await snapshot(t.db), snap2);
    assert.notDeepEqual(snap, snap2);
    assert.equal((await service.verifyJournal(t.db)).ok, true);
  });

  test('renewal of an expired mandate: allowed within a year of expiry, refused after (new identity check)', async () => {
    const m = await create(T0, '1d');
    const r = await service.renewMandate(t.ctx, alice, m.id, scope, later(1 + 364));
    assert.equal((await service.getMandate(t.db, m.id, later(400)))!.status, 'expired', 'an expired mandate stays expired (not revoked)');
    assert.ok(r.id);
    const m2 = await create(T0, '1d');
    const before = await snapshot(t.db);
    await assert.rejects(service.renewMandate(t.ctx, alice, m2.id, scope, later(1 + 365)), { statusCode: 409, code: 'expired' });
    assert.deepEqual(await snapshot(t.db), before);
  });

  test('concurrency: two renewals of the same mandate at once renew it once', async () => {
    const m = await create();
    const results = await Promise.allSettled([1, 2, 3].map(() => service.renewMandate(t.ctx, alice, m.id, scope, later(5))));
    assert.equal(results.filter((x) => x.status === 'fulfilled').length, 1);
    for (const x of results) if (x.status === 'rejected') assert.equal((x.reason as { statusCode: number }).statusCode, 409);
    const n = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM mandates.mandate WHERE replaces = $1', [m.id])).rows[0]!.n;
    assert.equal(n, 1);
    assert.equal((await service.listJournal(t.db, { mandateId: m.id })).filter((j) => j.event === 'mandate.renewed').length, 0);
  });

  test('transfer to another structure: by a helper of both, with a new consent; refusals write nothing', async () => {
    const m = await create();
    const before = await snapshot(t.db);
    await assert.rejects(service.transferMandate(t.ctx, alice, m.id, s2.id, scope, later(3)), { statusCode: 403 }, 'alice is not (yet) a helper of s2');
    await assert.rejects(service.transferMandate(t.ctx, bob, m.id, s2.id, scope, later(3)), { statusCode: 403 }, 'bob never was a helper of s1');
    await assert.rejects(service.transferMandate(t.ctx, alice, m.id, s1.id, scope, later(3)), { statusCode: 400, field: 'structureId' });
    await assert.rejects(service.transferMandate(t.ctx, alice, m.id, 'x', scope, later(3)), { statusCode: 400, field: 'structureId' });
    await assert.rejects(service.transferMandate(t.ctx, alice, m.id, s2.id, { ...scope, consent: false }, later(3)), { statusCode: 400, field: 'consent' });
    assert.deepEqual(await snapshot(t.db), before);

    // Alice moves to s2 (added and trained there), leaves s1: she transfers the person's mandate.
    await service.addHelper(t.ctx, null, s2.id, alice, 'Alice');
    await service.recordTraining(t.ctx, null, s2.id, alice, { trainedOn: '2025-03-01', trainingRef: 'Formation' });
    await service.setHelperActive(t.ctx, null, s1.id, alice, false);
    const r = await service.transferMandate(t.ctx, alice, m.id, s2.id, scope, later(3));
    const moved = (await service.getMandate(t.db, r.id, later(3)))!;
    assert.equal(moved.structureId, s2.id);
    assert.notEqual(moved.personId, (await service.getMandate(t.db, m.id))!.personId, 'the person is copied into the new structure');
    assert.deepEqual(moved.person, { givenName: PERSON.givenName, familyName: PERSON.familyName, birthDate: PERSON.birthDate });
    assert.equal((await service.getMandate(t.db, m.id, later(3)))!.status, 'revoked');
    assert.equal((await service.checkAuthorisation(t.db, bob, r.id, 'logement', later(3))).allowed, true, 's2 helpers may act now');
    assert.equal((await service.checkAuthorisation(t.db, alice, m.id, 'argent-impots', later(3))).allowed, false);
    const s1Journal = await service.listJournal(t.db, { structureIds: [s1.id] });
    assert.equal(s1Journal[0]!.event, 'mandate.transferred');
    assert.equal((await service.listJournal(t.db, { mandateId: r.id }))[0]!.event, 'mandate.transferred');
    assert.equal((await service.verifyJournal(t.db)).ok, true);
    await service.setHelperActive(t.ctx, null, s1.id, alice, true);
  });

  test('expiry reminders: once per mandate ending soon, to the structure\'s active helpers, journalled', async () => {
    const now = later(100);
    const soon = await create(later(100 - 31 + REMINDER_DAYS - 1)); // 1 month, ends within REMINDER_DAYS
    const far = await create(now); // ends in 31 days
    const sent: { to: string; subject: string; text: string }[] = [];
    const send = async (to: string, subject: string, text: string) => void sent.push({ to, subject, text });
    const emailOf = async (id: string) => (id === alice ? 'alice@exemple.fr' : null);
    const n = await service.sendExpiryReminders(t.ctx, send, emailOf, now);
    assert.ok(n >= 1);
    const mine = sent.filter((s) => s.text.includes(soon.reference));
    assert.equal(mine.length, 1);
    assert.equal(mine[0]!.to, 'alice@exemple.fr');
    assert.ok(!sent.some((s) => s.text.includes(far.reference)), 'a mandate ending later is not reminded');
    assert.ok(!mine[0]!.text.includes(PERSON.familyName), 'no identity in the e-mail');
    assert.equal((await service.listJournal(t.db, { mandateId: soon.id })).filter((j) => j.event === 'mandate.expiry_reminder').length, 1);
    sent.length = 0;
    const again = await Promise.all([service.sendExpiryReminders(t.ctx, send, emailOf, now), service.sendExpiryReminders(t.ctx, send, emailOf, now)]);
    assert.deepEqual(again, [0, 0], 'never twice, even concurrently');
    assert.equal(sent.length, 0);
  });

  test('idle helpers: warned at 5 months, deactivated at 6 when warned a week before; activity resets', async () => {
    const idle = crypto.randomUUID();
    const s3 = await structureWithHelper(t.ctx, idle, { commune: '27229' });
    const added = new Date((await t.db.query<{ added_at: Date }>('SELECT added_at FROM mandates.helper WHERE structure_id = $1', [s3.id])).rows[0]!.added_at);
    const sent: string[] = [];
    const send = async (to: string) => void sent.push(to);
    const emailOf = async (id: string) => (id === idle ? 'idle@exemple.fr' : null);
    const row = async () => (await t.db.query<{ active: boolean; idle_warned_at: Date | null }>('SELECT active, idle_warned_at FROM mandates.helper WHERE structure_id = $1 AND user_id = $2', [s3.id, idle])).rows[0]!;

    await service.handleIdleHelpers(t.ctx, send, emailOf, later(IDLE_WARNING_DAYS - 1, added));
    assert.equal((await row()).idle_warned_at, null, 'not warned before 5 months');
    assert.equal(sent.length, 0);
    const w = await service.handleIdleHelpers(t.ctx, send, emailOf, later(IDLE_WARNING_DAYS + 1, added));
    assert.ok(w.warned >= 1);
    assert.deepEqual(sent.filter((x) => x === 'idle@exemple.fr').length, 1);
    // Not warned again; not deactivated before 6 months.
    await service.handleIdleHelpers(t.ctx, send, emailOf, later(IDLE_WARNING_DAYS + 2, added));
    assert.equal(sent.filter((x) => x === 'idle@exemple.fr').length, 1);
    assert.equal((await row()).active, true);
    // At 6 months (warned a month before): deactivated, journalled, and they can no longer create mandates.
    await service.handleIdleHelpers(t.ctx, send, emailOf, later(IDLE_DAYS + 1, added));
    assert.equal((await row()).active, false);
    assert.equal((await service.listJournal(t.db, { structureIds: [s3.id] }))[0]!.event, 'helper.deactivated_idle');
    await assert.rejects(service.createMandate(t.ctx, idle, s3.id, { ...PERSON, procedures: ['logement'], duration: '1d' }, { now: later(IDLE_DAYS + 1, added) }), { statusCode: 403 });

    // A helper who acted after a warning is not deactivated on the old warning.
    const busy = crypto.randomUUID();
    const s4 = await structureWithHelper(t.ctx, busy, { commune: '27229' });
    const added4 = new Date((await t.db.query<{ added_at: Date }>('SELECT added_at FROM mandates.helper WHERE structure_id = $1', [s4.id])).rows[0]!.added_at);
    await service.handleIdleHelpers(t.ctx, send, emailOf, later(IDLE_WARNING_DAYS + 1, added4));
    await service.createMandate(t.ctx, busy, s4.id, { ...PERSON, procedures: ['logement'], duration: '1d' }, { now: later(IDLE_WARNING_DAYS + 2, added4) });
    await service.handleIdleHelpers(t.ctx, send, emailOf, later(IDLE_DAYS + 1, added4));
    assert.equal((await t.db.query<{ active: boolean }>('SELECT active FROM mandates.helper WHERE structure_id = $1', [s4.id])).rows[0]!.active, true);
    assert.equal((await service.verifyJournal(t.db)).ok, true);
  });
});

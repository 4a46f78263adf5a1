/**
 * Learner e-mails through the accounts' mailer (the development outbox in tests): the double opt-in
 * of public registrations (a request, confirmed from the link e-mailed), registration
 * (confirmed, waiting list with position, already registered), promotion from the waiting list,
 * reminders before the session (once each). Registering with someone else's address shows exactly
 * the same page as any registration: their status goes only to their own mailbox.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting, readOutbox } from '../../accounts/index.ts';
import * as training from '../training.ts';
import { makePlace } from './support.ts';

describe('mediation: learner e-mails', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let pathId: string;
  let place: string;
  const actor = '00000000-0000-4000-8000-00000000bbbb';
  const mainOf = (body: string) => (/<main[^>]*>([\s\S]*)<\/main>/.exec(body)?.[1] ?? '').replace(/name="_csrf" value="[^"]*"/g, '');

  before(async () => {
    t = await testApp();
    place = await makePlace(t.db, '14118', 'Médiathèque');
    const provider = await training.createProvider(t.ctx, actor, { name: 'Organisme normand', siret: '12345678900012' });
    pathId = await training.createPath(t.ctx, actor, { providerId: provider, title: 'Premiers pas', modules: training.parseModules('Ordinateur | 3 | 5.1 | 1') });
  });
  after(async () => t.close());

  /** The confirmation link of the newest request mailed to this address, opened and confirmed in this browser. */
  const confirmFrom = async (b: accountsTesting.Browser, email: string) => {
    const [mail] = await readOutbox(t.db, email);
    assert.match(mail!.subject, /^Confirmez votre inscription : « Premiers pas »$/);
    const token = /\/formations\/inscription\/([\w-]+)/.exec(mail!.body)![1]!;
    const page = await b.get(`/formations/inscription/${token}`);
    assert.equal(page.status, 200);
    assert.match(page.body, /<button type="submit">Confirmer mon inscription<\/button>/);
    return { token, res: await b.post(`/formations/inscription/${token}`, {}) };
  };

  test('double opt-in: a public registration is only a request until the link e-mailed to the address is used', async () => {
    const session = await training.createSession(t.ctx, actor, { pathId, startsOn: '2027-03-01', capacity: '1', placeUid: place });
    const rows = async () => (await t.db.query('SELECT r.status, l.email FROM mediation.registration r JOIN mediation.learner l ON l.id = r.learner_id WHERE session_id = $1 ORDER BY seq', [session])).rows;
    const learners = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM mediation.learner')).rows[0]!.n;
    const learnersBefore = await learners();
    const alice = new accountsTesting.Browser(t.app, '192.0.2.81');
    await alice.get(`/formations/sessions/${session}`);
    const first = await alice.post(`/formations/sessions/${session}/inscription`, { name: 'Alice Durand', email: 'alice@exemple.fr', status: 'resident' });
    assert.equal(first.status, 202);
    assert.match(first.body, /Demande d’inscription reçue/);
    assert.match(first.body, /Ouvrez le lien qu’il contient pour confirmer votre inscription/);
    // Nothing registered, no learner, no seat: only a request and an e-mail.
    assert.deepEqual(await rows(), []);
    assert.equal(await learners(), learnersBefore);
    const [ask] = await readOutbox(t.db, 'alice@exemple.fr');
    assert.match(ask!.body, /Pour la confirmer, ouvrez ce lien/);
    assert.match(ask!.body, /Sans confirmation, la demande est effacée/);
    // Opening the link (a mail scanner would) confirms nothing: the button does.
    const token = /\/formations\/inscription\/([\w-]+)/.exec(ask!.body)![1]!;
    assert.equal((await t.app.inject({ method: 'GET', url: `/formations/inscription/${token}` })).statusCode, 200);
    assert.deepEqual(await rows(), []);
    const noCsrf = await t.app.inject({ method: 'POST', url: `/formations/inscription/${token}`, payload: '', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(noCsrf.statusCode, 403);
    assert.deepEqual(await rows(), []);
    const { res: confirmed } = await confirmFrom(alice, 'alice@exemple.fr');
    assert.equal(confirmed.status, 200);
    assert.match(confirmed.body, /Votre inscription est confirmée : une place vous est réservée/);
    assert.deepEqual(await rows(), [{ status: 'confirmed', email: 'alice@exemple.fr' }]);
    const [mail] = await readOutbox(t.db, 'alice@exemple.fr');
    assert.match(mail!.subject, /Inscription confirmée : « Premiers pas »/);
    assert.match(mail!.body, /est confirmée : une place vous est réservée/);
    const link = /\/formations\/apprenant\/([\w-]+)/.exec(mail!.body)![1]!;
    assert.equal((await t.app.inject({ method: 'GET', url: `/formations/apprenant/${link}` })).statusCode, 200);
    // The link works once.
    await alice.get(`/formations/sessions/${session}`);
    const again = await alice.post(`/formations/inscription/${token}`, {});
    assert.equal(again.status, 404);
    assert.match(again.body, /Ce lien n’est pas \(ou plus\) valable/);
    assert.equal((await t.app.inject({ method: 'GET', url: `/formations/inscription/${token}` })).statusCode, 404);

    // Bob, the last seat taken: waiting list, position 1, told on the page and by e-mail.
    const bob = new accountsTesting.Browser(t.app, '192.0.2.82');
    await bob.get(`/formations/sessions/${session}`);
    const waiting = await bob.post(`/formations/sessions/${session}/inscription`, { name: 'Bob Martin', email: 'bob@exemple.fr', status: 'resident' });
    assert.equal(waiting.status, 202);
    const bobConfirmed = (await confirmFrom(bob, 'bob@exemple.fr')).res;
    assert.match(bobConfirmed.body, /liste d’attente, en position 1/);
    assert.match((await readOutbox(t.db, 'bob@exemple.fr'))[0]!.body, /liste d’attente, en position 1/);

    // Mallory types Alice's address: the same page as Bob's, nothing registered, and only Alice's
    // mailbox hears of it (a request she can ignore).
    const before = await rows();
    const mallory = new accountsTesting.Browser(t.app, '192.0.2.83');
    await mallory.get(`/formations/sessions/${session}`);
    const probe = await mallory.post(`/formations/sessions/${session}/inscription`, { name: 'Mallory', email: 'ALICE@exemple.fr', status: 'resident' });
    assert.equal(probe.status, waiting.status);
    assert.equal(mainOf(probe.body), mainOf(waiting.body));
    assert.doesNotMatch(probe.body, /déjà|Déjà|attente, en position|confirmée/);
    assert.deepEqual(await rows(), before);
    const told = (await readOutbox(t.db, 'alice@exemple.fr'))[0]!;
    assert.match(told.subject, /^Confirmez votre inscription/);
    assert.match(told.body, /Si vous n’avez pas demandé cette inscription/);
    assert.equal((await readOutbox(t.db, 'mallory@exemple.fr')).length, 0);
    // If Alice does use that link, nothing changes: she was already registered.
    const dup = (await confirmFrom(new accountsTesting.Browser(t.app, '192.0.2.84'), 'ALICE@exemple.fr'.toLowerCase())).res;
    assert.match(dup.body, /Vous étiez déjà inscrit·e à cette session : rien n’a changé/);
    assert.deepEqual(await rows(), before);

    // Alice cancels: Bob gets the seat and an e-mail.
    const aliceReg = (await t.db.query<{ id: string }>(`SELECT r.id FROM mediation.registration r JOIN mediation.learner l ON l.id = r.learner_id WHERE l.email = 'alice@exemple.fr' AND session_id = $1`, [session])).rows[0]!.id;
    await training.cancelRegistration(t.ctx, actor, aliceReg);
    assert.match((await readOutbox(t.db, 'bob@exemple.fr'))[0]!.subject, /Une place s’est libérée/);
  });

  test('double opt-in: two clicks at once confirm once; unconfirmed requests expire and are deleted', async () => {
    const session = await training.createSession(t.ctx, actor, { pathId, startsOn: '2027-04-01', capacity: '5', placeUid: place });
    await training.requestRegistration(t.ctx, session, { name: 'Farid', email: 'farid@exemple.fr' });
    const token = /\/formations\/inscription\/([\w-]+)/.exec((await readOutbox(t.db, 'farid@exemple.fr'))[0]!.body)![1]!;
    const results = await Promise.all([training.confirmRegistration(t.ctx, token), training.confirmRegistration(t.ctx, token)]);
    assert.equal(results.filter((r) => r !== null).length, 1);
    const regs = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM mediation.registration WHERE session_id = $1', [session])).rows[0]!.n;
    assert.equal(regs, 1);
    assert.equal((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM mediation.registration_request WHERE session_id = $1', [session])).rows[0]!.n, 0, 'used: deleted');
    // Bad input: errors named, no request stored.
    await assert.rejects(training.requestRegistration(t.ctx, session, { name: 'X', email: 'pas-une-adresse', constructor: 'y' }), (e: Error & { errors?: { field: string }[] }) => e.errors?.[0]?.field === 'email');
    assert.equal(await training.pendingRequest(t.db, 'x'.repeat(500)), null);
    // Gita never confirms: after REQUEST_DAYS the link is dead and the purge deletes the request.
    const past = new Date(Date.now() - (training.REQUEST_DAYS + 1) * 86_400_000);
    await training.requestRegistration(t.ctx, session, { name: 'Gita', email: 'gita@exemple.fr' }, past);
    const old = /\/formations\/inscription\/([\w-]+)/.exec((await readOutbox(t.db, 'gita@exemple.fr'))[0]!.body)![1]!;
    assert.equal(await training.pendingRequest(t.db, old), null);
    assert.equal(await training.confirmRegistration(t.ctx, old), null);
    assert.equal(await training.purgeRequests(t.ctx), 1);
    assert.equal((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM mediation.registration_request')).rows[0]!.n, 0);
    assert.equal((await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM mediation.learner WHERE email = 'gita@exemple.fr'`)).rows[0]!.n, 0, 'never a learner');
  });

  test('reminders: once per confirmed registration, two days before, never twice even when run together', async () => {
    const session = await training.createSession(t.ctx, actor, { pathId, startsOn: '2027-06-10', capacity: '3', placeUid: place });
    for (const n of ['Chloé', 'David']) await training.register(t.ctx, session, { name: n, email: `${n.normalize('NFD').replace(/[^a-z]/gi, '').toLowerCase()}@exemple.fr`, status: 'resident' }, null);
    const waitingSession = await training.createSession(t.ctx, actor, { pathId, startsOn: '2027-06-25', capacity: '3', placeUid: place });
    await training.register(t.ctx, waitingSession, { name: 'Emma', email: 'emma@exemple.fr', status: 'resident' }, null);
    assert.equal(await training.sendReminders(t.ctx, new Date('2027-06-01T08:00:00Z')), 0, 'too early');
    const [a, b] = await Promise.all([training.sendReminders(t.ctx, new Date('2027-06-08T08:00:00Z')), training.sendReminders(t.ctx, new Date('2027-06-08T08:00:00Z'))]);
    assert.equal(a + b, 2);
    assert.equal(await training.sendReminders(t.ctx, new Date('2027-06-09T08:00:00Z')), 0, 'sent once');
    const mail = (await readOutbox(t.db, 'chloe@exemple.fr'))[0]!;
    assert.match(mail.subject, /^Rappel : formation « Premiers pas » le 10 juin 2027$/);
    assert.equal((await readOutbox(t.db, 'emma@exemple.fr')).filter((m) => m.subject.startsWith('Rappel')).length, 0);
  });
});

/**
 * Learner e-mails through the accounts' mailer (the development outbox in tests): registration
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

  test('registration e-mails; someone else’s address learns nothing of their registration', async () => {
    const session = await training.createSession(t.ctx, actor, { pathId, startsOn: '2027-03-01', capacity: '1', placeUid: place });
    const rows = async () => (await t.db.query('SELECT r.status, l.email FROM mediation.registration r JOIN mediation.learner l ON l.id = r.learner_id WHERE session_id = $1 ORDER BY seq', [session])).rows;
    const alice = new accountsTesting.Browser(t.app, '192.0.2.81');
    await alice.get(`/formations/sessions/${session}`);
    const first = await alice.post(`/formations/sessions/${session}/inscription`, { name: 'Alice Durand', email: 'alice@exemple.fr', status: 'resident' });
    assert.equal(first.status, 202);
    assert.match(first.body, /Demande d’inscription reçue/);
    assert.doesNotMatch(first.body, /apprenant\//, 'the private link is not on the screen');
    const [mail] = await readOutbox(t.db, 'alice@exemple.fr');
    assert.match(mail!.subject, /Inscription confirmée : « Premiers pas »/);
    assert.match(mail!.body, /est confirmée : une place vous est réservée/);
    const link = /\/formations\/apprenant\/([\w-]+)/.exec(mail!.body)![1]!;
    assert.equal((await t.app.inject({ method: 'GET', url: `/formations/apprenant/${link}` })).statusCode, 200);

    // Bob, the last seat taken: waiting list, position 1, told by e-mail.
    const bob = new accountsTesting.Browser(t.app, '192.0.2.82');
    await bob.get(`/formations/sessions/${session}`);
    const waiting = await bob.post(`/formations/sessions/${session}/inscription`, { name: 'Bob Martin', email: 'bob@exemple.fr', status: 'resident' });
    assert.equal(waiting.status, 202);
    assert.match((await readOutbox(t.db, 'bob@exemple.fr'))[0]!.body, /liste d’attente, en position 1/);

    // Mallory types Alice's address: the same page as Bob's, nothing registered twice, and only
    // Alice's mailbox hears of it.
    const before = await rows();
    const mallory = new accountsTesting.Browser(t.app, '192.0.2.83');
    await mallory.get(`/formations/sessions/${session}`);
    const probe = await mallory.post(`/formations/sessions/${session}/inscription`, { name: 'Mallory', email: 'ALICE@exemple.fr', status: 'resident' });
    assert.equal(probe.status, waiting.status);
    assert.equal(mainOf(probe.body), mainOf(waiting.body));
    assert.doesNotMatch(probe.body, /déjà|Déjà|attente, en position|confirmée/);
    assert.deepEqual(await rows(), before);
    const told = (await readOutbox(t.db, 'alice@exemple.fr'))[0]!;
    assert.match(told.subject, /vous étiez déjà inscrit·e/);
    assert.match(told.body, /Vous y étiez déjà inscrit·e : votre place est réservée/);
    assert.match(told.body, /Si vous n’avez pas demandé cette inscription/);
    assert.equal((await readOutbox(t.db, 'mallory@exemple.fr')).length, 0);

    // Alice cancels: Bob gets the seat and an e-mail.
    const aliceReg = (await t.db.query<{ id: string }>(`SELECT r.id FROM mediation.registration r JOIN mediation.learner l ON l.id = r.learner_id WHERE l.email = 'alice@exemple.fr' AND session_id = $1`, [session])).rows[0]!.id;
    await training.cancelRegistration(t.ctx, actor, aliceReg);
    assert.match((await readOutbox(t.db, 'bob@exemple.fr'))[0]!.subject, /Une place s’est libérée/);
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

/**
 * Reminders: closing soon (with what is missing), correction deadline, instalment due, label
 * expiry — each sent once per recipient, whatever the number of runs or simultaneous instances;
 * run as a pg-boss job.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { readOutbox } from '../../accounts/index.ts';
import { getPlacesByUids, upsertPlaces } from '../../places/index.ts';
import { placeRecord } from '../../coverage/tests/support.ts';
import * as service from '../service.ts';
import * as grants from '../grants.ts';
import * as labels from '../labels.ts';
import { dueReminders, queueReminders, sendReminders, stopReminderJobs, waitForReminders } from '../reminders.ts';
import { TOURS, completeForm, makeCall, person } from './support.ts';

describe('calls: reminders', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff: Awaited<ReturnType<typeof person>>;
  let applicant: Awaited<ReturnType<typeof person>>;
  const today = labels.parisToday();

  before(async () => {
    t = await testApp();
    staff = await person(t.app, 'regional_staff', { kind: 'region', id: '24' });
    applicant = await person(t.app, null);
    const org = await service.createOrganisation({ db: t.db }, applicant.user.id, { siret: '73282932000074', name: 'Structure à relancer', kind: 'association', departement: '41' });
    // a draft on a call closing in two days
    const closing = await makeCall(t.db, staff.actor, { title: 'Appel qui ferme', closesAtIso: new Date(Date.now() + 2 * 86_400_000).toISOString() });
    await service.startApplication({ db: t.db }, applicant.user.id, closing.id, org.id);
    // a dossier under a correction due tomorrow, and a grant with an instalment due today
    const call = await makeCall(t.db, staff.actor, { title: 'Appel instruit', envelope: 100000 });
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const a = await service.startApplication({ db: t.db }, applicant.user.id, call.id, org.id);
      await applicant.browser.get(`/candidatures/${a.id}`);
      await applicant.browser.post(`/candidatures/${a.id}`, completeForm(20000));
      await service.submit({ db: t.db }, applicant.user.id, a.id);
      ids.push(a.id);
    }
    const tomorrow = new Date(Date.parse(`${today}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    await service.requestCorrection({ db: t.db }, staff.actor, ids[0]!, 'Joindre le budget signé.', tomorrow);
    await service.transition({ db: t.db }, staff.actor, ids[1]!, 'en_instruction', '');
    await service.decide({ db: t.db }, staff.actor, ids[1]!, { decision: 'accepte', amount: '20000', motivation: 'Retenu.' });
    const g = (await grants.grantsOfCall(t.db, call.id))[0]!;
    await grants.setSchedule({ db: t.db }, staff.actor, g.id, [{ kind: 'avance', amount: 5000, dueOn: today }, { kind: 'solde', amount: 15000, dueOn: '2099-01-01' }]);
    // a label valid one month
    const { uids } = await upsertPlaces(t.db, [placeRecord({ ...TOURS, id: 'rappel-1', nom: 'Tiers-lieu du rappel' })], { source: 'test' });
    const place = (await getPlacesByUids(t.db, uids))[0]!;
    const programme = await labels.createProgramme({ db: t.db }, staff.actor, { name: 'Label court', region: '24', validityMonths: 1 });
    await labels.changeLabel({ db: t.db }, staff.actor, programme.id, place.uid, 'granted');
  });
  after(async () => {
    await stopReminderJobs(t.ctx);
    await t.close();
  });

  test('each reminder is due once: closing soon with what is missing, correction, instalment, label', async () => {
    const due = await dueReminders(t.ctx);
    assert.deepEqual(due.map((r) => r.kind).sort(), ['closing', 'correction', 'instalment', 'label']);
    const closing = due.find((r) => r.kind === 'closing')!;
    assert.deepEqual(closing.to.map((x) => x.email), [applicant.user.email]);
    assert.match(closing.text, /Ce qui manque encore :\n- Donnez un titre au projet\./);
    assert.deepEqual(due.find((r) => r.kind === 'instalment')!.to.map((x) => x.email), [staff.user.email]);
  });

  test('two instances running at once, then again: every reminder is sent exactly once', async () => {
    const before = (await readOutbox(t.db, applicant.user.email, 500)).length + (await readOutbox(t.db, staff.user.email, 500)).length;
    const [a, b] = await Promise.all([sendReminders(t.ctx), sendReminders(t.ctx)]);
    assert.equal(a.sent + b.sent, 4);
    assert.equal(a.alreadySent + b.alreadySent, 4);
    const again = await sendReminders(t.ctx);
    assert.deepEqual(again, { sent: 0, alreadySent: 4, failed: 0 });
    const mails = [...(await readOutbox(t.db, applicant.user.email, 500)), ...(await readOutbox(t.db, staff.user.email, 500))];
    assert.equal(mails.length - before, 4);
    for (const s of [/ferme bientôt/, /Correction attendue avant le/, /Versement (en retard|à venir)/, /Label « Label court » : fin de validité/]) assert.equal(mails.filter((m) => s.test(m.subject)).length, 1, String(s));
    const rows = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM calls.reminder_sent');
    assert.equal(rows.rows[0]!.n, 4);
  });

  test('the job runs on the queue and sends nothing twice', async () => {
    const id = await queueReminders(t.ctx);
    const job = await waitForReminders(t.ctx, id, 60_000);
    assert.equal(job.state, 'completed');
    assert.deepEqual(job.output, { sent: 0, alreadySent: 4, failed: 0 });
  });
});

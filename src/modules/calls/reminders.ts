/**
 * Reminders (issue #18) as a background job on the platform's queue (pg-boss), as roadmap/jobs.ts:
 * one job name, `calls.reminders`, at most one waiting at a time, queued once a day while the
 * server runs. Each reminder is sent once: it is claimed by inserting its row in
 * `calls.reminder_sent` (primary key: kind, key, recipient) before the e-mail goes out, so two
 * instances (or two runs) never send it twice; a failed delivery gives the claim back.
 *
 * - `closing`: a draft on a call closing within 3 days → the organisation's members, with what is
 *   still missing (answers and files);
 * - `correction`: a correction due within 2 days and not yet answered → the members;
 * - `instalment`: an instalment due within 7 days (or overdue) and not paid → the call's author;
 * - `label`: a label ending within 60 days → the programme's author (renew or let it end).
 */
import type { JobInfo } from '../../platform/jobs/index.ts';
import { singletonJob } from '../../platform/jobs/singleton.ts';
import type { AppContext } from '../../platform/module.ts';
import { sendMail } from '../accounts/index.ts';
import { formatDateTime, formatEuros } from './model.ts';
import * as service from './service.ts';
import { labelledPlaces, parisToday } from './labels.ts';

export const REMINDERS_JOB = 'calls.reminders';
export const CLOSING_DAYS = 3;
export const CORRECTION_DAYS = 2;
export const INSTALMENT_DAYS = 7;
export const LABEL_DAYS = 60;

type Ctx = Pick<AppContext, 'db' | 'config'> & Partial<Pick<AppContext, 'log'>>;

export interface ReminderReport {
  sent: number;
  alreadySent: number;
  failed: number;
}

interface Reminder {
  kind: 'closing' | 'correction' | 'instalment' | 'label';
  key: string;
  to: { email: string; displayName: string }[];
  subject: string;
  text: string;
}

const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

/** The reminders due now (pure reads). */
export async function dueReminders(ctx: Ctx, now = new Date()): Promise<Reminder[]> {
  const { db } = ctx;
  const base = ctx.config.publicUrl;
  const today = parisToday(now);
  const out: Reminder[] = [];

  const drafts = await db.query<{ id: string; closes_at: Date }>(
    `SELECT a.id, c.closes_at FROM calls.application a JOIN calls.call c ON c.id = a.call_id
      WHERE c.status = 'published' AND a.state = 'brouillon' AND c.closes_at > $1 AND c.closes_at <= $2 ORDER BY a.id`,
    [now.toISOString(), new Date(now.getTime() + CLOSING_DAYS * 86_400_000).toISOString()],
  );
  for (const r of drafts.rows) {
    const a = (await service.getApplication(db, r.id))!;
    const call = (await service.getCall(db, a.callId))!;
    const gaps = await service.whatIsMissing(db, a);
    out.push({
      kind: 'closing',
      key: `${a.id}:${call.closesAt}`,
      to: await service.organisationMembers(db, a.organisationId),
      subject: `L’appel « ${call.title} » ferme bientôt — dossier ${a.reference} non déposé`,
      text: `Votre dossier ${a.reference}${a.title ? ` « ${a.title} »` : ''} est encore un brouillon. L’appel « ${call.title} » ferme le ${formatDateTime(call.closesAt, call.timeZone)} (heure de Paris) ; après, le dépôt ne sera plus possible.\n\n${gaps.length ? `Ce qui manque encore :\n${gaps.map((g) => `- ${g.message}`).join('\n')}` : 'Le dossier est complet : il ne reste qu’à le déposer.'}\n\nVotre dossier : ${base}/candidatures/${a.id}`,
    });
  }

  const corrections = await db.query<{ id: string }>(
    `SELECT id FROM calls.application WHERE state = 'en_construction' AND correction_reason IS NOT NULL AND correction_due BETWEEN $1::date AND $2::date ORDER BY id`,
    [today, addDays(today, CORRECTION_DAYS)],
  );
  for (const r of corrections.rows) {
    const a = (await service.getApplication(db, r.id))!;
    out.push({
      kind: 'correction',
      key: `${a.id}:${a.correctionDue}`,
      to: await service.organisationMembers(db, a.organisationId),
      subject: `Correction attendue avant le ${a.correctionDue} — dossier ${a.reference}`,
      text: `Une correction de votre dossier ${a.reference} est attendue avant le ${a.correctionDue} (inclus) :\n\n${a.correctionReason}\n\nVotre dossier : ${base}/candidatures/${a.id}`,
    });
  }

  const instalments = await db.query<{ grant_id: string; seq: number; kind: string; amount: string; due_on: string; reference: string; created_by: string | null }>(
    `SELECT i.grant_id, i.seq, i.kind, i.amount, i.due_on::text AS due_on, g.reference, c.created_by
       FROM calls.instalment i JOIN calls.grant g ON g.id = i.grant_id JOIN calls.call c ON c.id = g.call_id
      WHERE g.status = 'active' AND i.due_on IS NOT NULL AND i.due_on <= $1::date
        AND NOT EXISTS (SELECT 1 FROM calls.payment p WHERE p.grant_id = i.grant_id AND p.seq = i.seq) ORDER BY i.grant_id, i.seq`,
    [addDays(today, INSTALMENT_DAYS)],
  );
  for (const r of instalments.rows) {
    out.push({
      kind: 'instalment',
      key: `${r.grant_id}:${r.seq}:${r.due_on}`,
      to: await service.activeUsers(db, r.created_by ? [r.created_by] : []),
      subject: `Versement ${r.due_on < today ? 'en retard' : 'à venir'} — subvention ${r.reference}`,
      text: `L’échéance ${r.seq} (${r.kind}, ${formatEuros(Number(r.amount))}) de la subvention ${r.reference} est prévue le ${r.due_on} et n’est pas encore versée.\n\nLa subvention : ${base}/gestion/subventions/${r.grant_id}`,
    });
  }

  const labels = (await labelledPlaces(db, null, today)).filter((l) => l.validUntil <= addDays(today, LABEL_DAYS));
  if (labels.length) {
    const progs = new Map(
      (await db.query<{ slug: string; id: string; name: string; created_by: string | null }>('SELECT slug, id, name, created_by FROM calls.label_programme WHERE slug = ANY($1::text[])', [[...new Set(labels.map((l) => l.programme))]])).rows.map((p) => [p.slug, p]),
    );
    for (const l of labels) {
      const p = progs.get(l.programme)!;
      out.push({
        kind: 'label',
        key: `${p.id}:${l.placeUid}:${l.validUntil}`,
        to: await service.activeUsers(db, p.created_by ? [p.created_by] : []),
        subject: `Label « ${p.name} » : fin de validité le ${l.validUntil}`,
        text: `Le label « ${p.name} » du lieu ${l.placeUid} prend fin le ${l.validUntil}. Renouvelez-le après l’audit, ou laissez-le prendre fin.\n\nLe programme : ${base}/gestion/labels/${p.id}`,
      });
    }
  }
  return out;
}

/** Sends the reminders due now, each once per recipient whatever the number of runs or instances. */
export async function sendReminders(ctx: Ctx, now = new Date()): Promise<ReminderReport> {
  const report: ReminderReport = { sent: 0, alreadySent: 0, failed: 0 };
  for (const r of await dueReminders(ctx, now)) {
    for (const to of r.to) {
      const claim = await ctx.db.query('INSERT INTO calls.reminder_sent (kind, key, recipient) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1', [r.kind, r.key, to.email]);
      if (!claim.rows[0]) {
        report.alreadySent++;
        continue;
      }
      try {
        await sendMail(ctx, { to: to.email, subject: r.subject, text: `Bonjour ${to.displayName},\n\n${r.text}\n` });
        report.sent++;
      } catch (err) {
        // Given back: the next run tries again.
        await ctx.db.query('DELETE FROM calls.reminder_sent WHERE kind = $1 AND key = $2 AND recipient = $3', [r.kind, r.key, to.email]);
        ctx.log?.error({ err, kind: r.kind }, 'calls: reminder not sent');
        report.failed++;
      }
    }
  }
  return report;
}

const job = singletonJob<{ now?: string }>(
  REMINDERS_JOB,
  (ctx) => async (data) => {
    const report = await sendReminders(ctx, data.now ? new Date(data.now) : new Date());
    ctx.log.info(report, 'calls: reminders sent');
    return report;
  },
  { expireInSeconds: 3600 },
);

/** Queues a run of the reminders (one waiting at most); the job's id. */
export const queueReminders = (ctx: AppContext, now?: Date): Promise<string> => job.queue(ctx, now ? { now: now.toISOString() } : {});
export const waitForReminders = (ctx: AppContext, id: string, timeoutMs?: number): Promise<JobInfo> => job.wait(ctx, id, timeoutMs);
export const stopReminderJobs = (ctx: AppContext): Promise<void> => job.stop(ctx);

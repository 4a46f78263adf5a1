/** Test helpers for the consultation module: processes with phases around now, table snapshots. */
import type { Db } from '../../../platform/db/index.ts';
import * as svc from '../service.ts';

let n = 0;
const DAY = 86_400_000;
export const at = (days: number) => new Date(Date.now() + days * DAY);

/** A process whose single current phase opens what is asked (in région 27, département 21 when asked). */
export async function makeProcess(db: Db, open: { proposals?: boolean; supports?: boolean; comments?: boolean; votes?: boolean }, o: Partial<svc.ProcessInput> = {}): Promise<svc.Process> {
  const slug = `test-${Date.now().toString(36)}-${++n}`;
  await svc.createProcess({ db }, null, {
    slug, title: `Concertation de test ${n}`, region: '27', categories: ['Thème A', 'Thème B'],
    phases: [
      { title: 'Avant', startsAt: at(-20), endsAt: at(-10) },
      { title: 'En cours', startsAt: at(-10), endsAt: at(10), ...open },
      { title: 'Après', startsAt: at(10), endsAt: at(20) },
    ],
    ...o,
  });
  return (await svc.getProcess(db, slug))!;
}

export const TABLES = ['process', 'phase', 'proposal', 'support', 'follower', 'comment', 'report', 'budget', 'project', 'basket', 'basket_item', 'ballot', 'meeting', 'registration', 'result', 'note', 'valuator', 'survey', 'survey_response', 'survey_file', 'debate', 'debate_contribution', 'budget_assignment', 'identity_provider', 'identity_flow', 'identity_check', 'proposal_file'];

/** Row counts of every consultation table, plus the counters, to check that a refusal changed nothing. */
export async function snapshot(db: Db): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const t of TABLES) out[t] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM consultation.${t}`)).rows[0]!.n;
  out.counters = (await db.query('SELECT id, supports, comments, state, hidden_at FROM consultation.proposal ORDER BY id')).rows;
  out.items = (await db.query('SELECT basket_id, project_id FROM consultation.basket_item ORDER BY basket_id, project_id')).rows;
  out.baskets = (await db.query('SELECT id, checked_out_at FROM consultation.basket ORDER BY id')).rows;
  out.surveys = (await db.query('SELECT id, responses, questions, title FROM consultation.survey ORDER BY id')).rows;
  out.debates = (await db.query('SELECT id, arguments_for, arguments_against, comments, closed_at FROM consultation.debate ORDER BY id')).rows;
  out.budgetRows = (await db.query('SELECT * FROM consultation.budget ORDER BY id')).rows;
  out.assignments = (await db.query('SELECT process_id, user_id, budget_id FROM consultation.budget_assignment ORDER BY process_id, user_id')).rows;
  out.meetingRows = (await db.query('SELECT * FROM consultation.meeting ORDER BY id')).rows;
  out.audit = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM platform.audit_entry`)).rows[0]!.n;
  return out;
}

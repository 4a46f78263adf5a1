/**
 * Surveys' use cases: staff create and edit a survey of a process (its questions frozen once
 * someone answered), participants answer once (the primary key (survey, person) refuses a second
 * response even under races), staff read every response and export them, everyone reads the
 * published results (counts of the choice questions only). Audited; every refusal throws before
 * anything is written.
 */
import crypto from 'node:crypto';
import type { Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { NotFoundError, UserError } from '../../platform/http/errors.ts';
import { assertIdentityChecked, assertPerson, isUuid, type Ctx, type Participant, type Process } from './service.ts';
import { CHOICE_TYPES, answersJson, readAnswers, surveyResults, type FileIn, type Question, type QuestionResult } from './survey.ts';

export interface Survey {
  id: string;
  processId: string;
  slug: string;
  title: string;
  description: string;
  questions: Question[];
  startsAt: string;
  endsAt: string;
  resultsPublished: boolean;
  responses: number;
}

export interface SurveyInput {
  slug: string;
  title: string;
  description: string;
  questions: Question[];
  startsAt: Date;
  endsAt: Date;
  resultsPublished: boolean;
}

type SurveyRow = { id: string; process_id: string; slug: string; title: string; description: string; questions: Question[] | string; starts_at: Date; ends_at: Date; results_published: boolean; responses: number };
const toSurvey = (r: SurveyRow): Survey => ({
  id: r.id, processId: r.process_id, slug: r.slug, title: r.title, description: r.description, questions: typeof r.questions === 'string' ? JSON.parse(r.questions) : r.questions,
  startsAt: new Date(r.starts_at).toISOString(), endsAt: new Date(r.ends_at).toISOString(), resultsPublished: r.results_published, responses: r.responses,
});
const COLS = 'id, process_id, slug, title, description, questions, starts_at, ends_at, results_published, responses';

/** JSON with keys sorted (jsonb does not keep the key order), to compare two definitions. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

export async function listSurveys(db: Queryable, processId: string): Promise<Survey[]> {
  return (await db.query<SurveyRow>(`SELECT ${COLS} FROM consultation.survey WHERE process_id = $1 ORDER BY starts_at, slug`, [processId])).rows.map(toSurvey);
}

export async function getSurvey(db: Queryable, processId: string, slug: string): Promise<Survey | null> {
  if (typeof slug !== 'string' || !/^[a-z0-9][a-z0-9-]{0,79}$/.test(slug)) return null;
  const { rows } = await db.query<SurveyRow>(`SELECT ${COLS} FROM consultation.survey WHERE process_id = $1 AND slug = $2`, [processId, slug]);
  return rows[0] ? toSurvey(rows[0]) : null;
}

export function surveyOpen(s: Pick<Survey, 'startsAt' | 'endsAt'>, now: Date): boolean {
  return Date.parse(s.startsAt) <= now.getTime() && now.getTime() < Date.parse(s.endsAt);
}

export async function createSurvey(ctx: Ctx, actorId: string | null, processId: string, input: SurveyInput): Promise<string> {
  const id = crypto.randomUUID();
  try {
    await ctx.db.transaction(async (tx) => {
      const dup = await tx.query('SELECT 1 FROM consultation.survey WHERE process_id = $1 AND slug = $2', [processId, input.slug]);
      if (dup.rows.length) throw new UserError('Un questionnaire de cette concertation porte déjà cette adresse.', 409, 'slug');
      await tx.query(
        'INSERT INTO consultation.survey (id, process_id, slug, title, description, questions, starts_at, ends_at, results_published) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)',
        [id, processId, input.slug, input.title, input.description, JSON.stringify(input.questions), input.startsAt.toISOString(), input.endsAt.toISOString(), input.resultsPublished],
      );
      await recordAudit(tx, { actorId, action: 'consultation.survey.create', objectType: 'consultation.survey', objectId: id, after: { slug: input.slug, title: input.title, questions: input.questions.length } });
    });
  } catch (e) {
    if ((e as { code?: string }).code === '23505') throw new UserError('Un questionnaire de cette concertation porte déjà cette adresse.', 409, 'slug');
    throw e;
  }
  return id;
}

/**
 * Edits a survey: title, text, dates, publication of the results; the questions only while
 * nobody has answered (the row lock makes this exact against a response arriving meanwhile).
 */
export async function updateSurvey(ctx: Ctx, actorId: string, s: Survey, input: Omit<SurveyInput, 'slug'>): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<SurveyRow>(`SELECT ${COLS} FROM consultation.survey WHERE id = $1 FOR UPDATE`, [s.id]);
    if (!rows[0]) throw new NotFoundError('Questionnaire introuvable.');
    const before = toSurvey(rows[0]);
    const changed = canonical(before.questions) !== canonical(input.questions);
    if (changed && before.responses > 0) throw new UserError(`Questions : elles ne changent plus, ${before.responses > 1 ? `${before.responses} personnes ont` : 'une personne a'} déjà répondu.`, 409, 'questions', 'survey_answered');
    await tx.query('UPDATE consultation.survey SET title = $2, description = $3, questions = $4, starts_at = $5, ends_at = $6, results_published = $7 WHERE id = $1',
      [s.id, input.title, input.description, JSON.stringify(input.questions), input.startsAt.toISOString(), input.endsAt.toISOString(), input.resultsPublished]);
    const summary = (x: { title: string; startsAt: string | Date; endsAt: string | Date; resultsPublished: boolean; questions: Question[] }) => ({
      title: x.title, startsAt: new Date(x.startsAt).toISOString(), endsAt: new Date(x.endsAt).toISOString(), resultsPublished: x.resultsPublished, questions: x.questions.map((q) => `${q.key} (${q.type})`),
    });
    await recordAudit(tx, { actorId, action: 'consultation.survey.update', objectType: 'consultation.survey', objectId: s.id, before: summary(before), after: summary(input) });
  });
}

/**
 * Replaces the questions (the question-by-question editor: add, edit, move, delete), only while
 * nobody has answered — checked under the row lock, so a response arriving meanwhile wins and the
 * edit is refused (409 naming `questions`). Audited with the questions before and after.
 */
export async function setQuestions(ctx: Ctx, actorId: string, s: Survey, questions: Question[], what: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<SurveyRow>(`SELECT ${COLS} FROM consultation.survey WHERE id = $1 FOR UPDATE`, [s.id]);
    if (!rows[0]) throw new NotFoundError('Questionnaire introuvable.');
    const before = toSurvey(rows[0]);
    if (before.responses > 0) throw new UserError(`Questions : elles ne changent plus, ${before.responses > 1 ? `${before.responses} personnes ont` : 'une personne a'} déjà répondu.`, 409, 'questions', 'survey_answered');
    if (canonical(before.questions) !== canonical(s.questions)) throw new UserError('Questions : le questionnaire a été modifié entre-temps ; rechargez la page et recommencez.', 409, 'questions', 'survey_changed');
    await tx.query('UPDATE consultation.survey SET questions = $2 WHERE id = $1', [s.id, JSON.stringify(questions)]);
    const list = (qs: Question[]) => qs.map((q) => `${q.key} (${q.type}) : ${q.label}`);
    await recordAudit(tx, { actorId, action: 'consultation.survey.questions', objectType: 'consultation.survey', objectId: s.id, before: { questions: list(before.questions) }, after: { questions: list(questions) }, meta: { change: what } });
  });
}

/**
 * A participant answers: the survey must be open (server clock) and the person admitted by the
 * process (verified e-mail, account age). Conditions are evaluated here: a question that does not
 * apply is dropped whatever was sent. One response per person (primary key); files kept apart.
 */
export async function answerSurvey(ctx: Ctx, p: Process, s: Survey, who: Participant | null, form: Record<string, unknown>, files: ReadonlyMap<string, FileIn>, now = new Date()): Promise<string> {
  assertPerson(p, who, now);
  await assertIdentityChecked(ctx.db, p, who, 'surveys');
  if (!surveyOpen(s, now)) throw new UserError(Date.parse(s.startsAt) > now.getTime() ? 'Ce questionnaire n’est pas encore ouvert.' : 'Ce questionnaire est clos.', 409, null, 'survey_closed');
  const { answers, files: kept } = readAnswers(s.questions, form, files);
  const id = crypto.randomUUID();
  await ctx.db.transaction(async (tx) => {
    const fileIds = new Map<string, string>();
    for (const k of kept.keys()) fileIds.set(k, crypto.randomUUID());
    for (const [k, fid] of fileIds) {
      const v = answers.get(k) as { file: string };
      answers.set(k, { ...(v as object), file: fid } as never);
    }
    const ins = await tx.query('INSERT INTO consultation.survey_response (id, survey_id, user_id, answers) VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING RETURNING id', [id, s.id, who.id, JSON.stringify(answersJson(answers))]);
    if (!ins.rows.length) throw new UserError('Vous avez déjà répondu à ce questionnaire : une réponse par personne.', 409, null, 'already_answered');
    for (const [k, f] of kept) {
      await tx.query('INSERT INTO consultation.survey_file (id, response_id, question_key, file_name, content_type, data) VALUES ($1,$2,$3,$4,$5,$6)', [fileIds.get(k), id, k, f.fileName, f.type, f.data]);
    }
    await tx.query('UPDATE consultation.survey SET responses = responses + 1 WHERE id = $1', [s.id]);
    // Who answered is recorded; what they answered is not (it stays in the response only).
    await recordAudit(tx, { actorId: who.id, action: 'consultation.survey.answer', objectType: 'consultation.survey', objectId: s.id });
  });
  return id;
}

export async function hasAnswered(db: Queryable, surveyId: string, userId: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM consultation.survey_response WHERE survey_id = $1 AND user_id = $2', [surveyId, userId])).rows.length > 0;
}

/** Every response (pseudonymous: its id and date, never who), oldest first. Staff only. */
export async function responsesOf(db: Queryable, surveyId: string): Promise<{ id: string; createdAt: string; answers: Record<string, unknown> }[]> {
  const { rows } = await db.query<{ id: string; created_at: Date; answers: Record<string, unknown> | string }>('SELECT id, created_at, answers FROM consultation.survey_response WHERE survey_id = $1 ORDER BY created_at, id', [surveyId]);
  return rows.map((r) => ({ id: r.id, createdAt: new Date(r.created_at).toISOString(), answers: typeof r.answers === 'string' ? JSON.parse(r.answers) : r.answers }));
}

export async function resultsOf(db: Queryable, s: Survey): Promise<QuestionResult[]> {
  return surveyResults(s.questions, (await responsesOf(db, s.id)).map((r) => r.answers));
}

/** An uploaded file of a response to this survey (staff only). */
export async function surveyFile(db: Queryable, surveyId: string, fileId: string): Promise<{ fileName: string; contentType: string; data: Buffer } | null> {
  if (!isUuid(fileId)) return null;
  const { rows } = await db.query<{ file_name: string; content_type: string; data: Uint8Array }>(
    'SELECT f.file_name, f.content_type, f.data FROM consultation.survey_file f JOIN consultation.survey_response r ON r.id = f.response_id WHERE f.id = $1 AND r.survey_id = $2', [fileId, surveyId]);
  return rows[0] ? { fileName: rows[0].file_name, contentType: rows[0].content_type, data: Buffer.from(rows[0].data) } : null;
}

/** The results as open data rows: one per question, option (and row for matrices). */
export function resultRows(p: Pick<Process, 'slug'>, s: Survey, results: QuestionResult[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  s.questions.forEach((q, i) => {
    const r = results[i]!;
    if (!CHOICE_TYPES.includes(q.type)) return;
    if (r.matrix) q.rows.forEach((row, ri) => q.options.forEach((o, j) => out.push({ process: p.slug, survey: s.slug, question: q.key, question_label: q.label, type: q.type, row, option: o, count: r.matrix![ri]![j], answered: r.answered })));
    else q.options.forEach((o, j) => out.push({ process: p.slug, survey: s.slug, question: q.key, question_label: q.label, type: q.type, row: '', option: o, count: r.counts![j], answered: r.answered }));
  });
  return out;
}
export const RESULT_COLUMNS = ['process', 'survey', 'question', 'question_label', 'type', 'row', 'option', 'count', 'answered'];

export const isChoice = (q: Question) => CHOICE_TYPES.includes(q.type);

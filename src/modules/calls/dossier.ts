/**
 * Around a dossier (issue #18): files as answers (content-addressed, type read from the content),
 * instructors' private annotations and reviewers' confidential opinions (never shown to the
 * applicant), and the message thread between the applicant and the instructors.
 * Every write is one audited transaction; every refusal happens before anything is written.
 */
import crypto from 'node:crypto';
import type { Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { ForbiddenError, NotFoundError, UserError } from '../../platform/http/errors.ts';
import type { Actor } from '../accounts/index.ts';
import { FILE_KINDS, checkUpload, isShown, text, type FileAnswer, type FileKind } from './model.ts';
import * as service from './service.ts';

type Ctx = service.Ctx;
const iso = (d: unknown) => (d instanceof Date ? d.toISOString() : new Date(String(d)).toISOString());

// ---------------------------------------------------------------------------------------------
// Files

/** Attaches a file to a file question of the applicant's dossier (while it may be edited). */
export async function attachFile(ctx: Ctx, userId: string, appId: string, questionId: unknown, upload: { fileName: string; data: Buffer }, now = new Date()): Promise<FileAnswer> {
  const app = await service.assertApplicant(ctx.db, await service.getApplication(ctx.db, appId), userId);
  if (!service.applicantMayEdit(app, now)) throw new UserError('Ce dossier ne peut plus être modifié : aucun fichier ne peut y être joint.', 409, 'state');
  const form = await service.getForm(ctx.db, app.callId, app.formVersion);
  const q = form.questions.find((x) => x.id === questionId && x.type === 'file');
  if (!q) throw new UserError('Question inconnue : choisissez une question qui demande un fichier.', 400, 'question');
  if (!isShown(q, app.answers, app.stage)) throw new UserError(`« ${q.label} » : cette question n’est pas posée pour ce dossier.`, 409, `q_${q.id}`);
  const name = text(upload.fileName, `q_${q.id}`, `« ${q.label} » (nom du fichier)`, { required: true, max: 200 });
  const kind = checkUpload(q, name, upload.data);
  const sha256 = crypto.createHash('sha256').update(upload.data).digest('hex');
  const answer: FileAnswer = { file: crypto.randomUUID(), name, kind, size: upload.data.length, sha256 };
  return ctx.db.transaction(async (tx) => {
    // The dossier's row is locked: no file lands on a dossier that was just submitted.
    const { rows } = await tx.query('SELECT id FROM calls.application WHERE id = $1 AND state = $2 FOR UPDATE', [app.id, app.state]);
    if (!rows[0]) throw new UserError('Ce dossier a changé d’état entre-temps : rechargez la page.', 409, 'state');
    // The content's row, when stored already, is share-locked: a removal of the last upload naming it
    // (removeFile) waits for this one, then sees it and keeps the content; once removed, it is stored again.
    await tx.query('SELECT 1 FROM calls.blob WHERE sha256 = $1 FOR SHARE', [sha256]);
    await tx.query('INSERT INTO calls.blob (sha256, size, data) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING', [sha256, answer.size, upload.data]);
    await tx.query('INSERT INTO calls.application_file (id, application_id, question_id, sha256, name, kind, size, uploaded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
      answer.file, app.id, q.id, sha256, name, kind, answer.size, userId,
    ]);
    await tx.query(`UPDATE calls.application SET answers = answers || jsonb_build_object($2::text, $3::jsonb), updated_at = now() WHERE id = $1`, [app.id, q.id, JSON.stringify(answer)]);
    await recordAudit(tx, { actorId: userId, action: 'calls.file.attach', objectType: 'calls.application', objectId: app.id, after: { question: q.id, name, kind, size: answer.size, sha256 } });
    return answer;
  });
}

/**
 * Removes the file answering a file question of the applicant's dossier (while it may be edited).
 * A draft was never submitted, so no receipt points to its files: the upload's record goes too,
 * and its content when no other upload shares it. A dossier under correction keeps its records (a
 * receipt of an earlier submission may name them): only the answer goes.
 */
export async function removeFile(ctx: Ctx, userId: string, appId: string, questionId: unknown, now = new Date()): Promise<void> {
  const app = await service.assertApplicant(ctx.db, await service.getApplication(ctx.db, appId), userId);
  if (!service.applicantMayEdit(app, now)) throw new UserError('Ce dossier ne peut plus être modifié : ses fichiers ne peuvent plus être retirés.', 409, 'state');
  const form = await service.getForm(ctx.db, app.callId, app.formVersion);
  const q = form.questions.find((x) => x.id === questionId && x.type === 'file');
  if (!q) throw new UserError('Question inconnue : choisissez une question qui demande un fichier.', 400, 'question');
  await ctx.db.transaction(async (tx) => {
    // Under the dossier's row lock, from the row itself: a removal racing a submission or another removal sees the truth.
    const { rows } = await tx.query<{ answer: FileAnswer | null }>('SELECT answers -> $3::text AS answer FROM calls.application WHERE id = $1 AND state = $2 FOR UPDATE', [app.id, app.state, q.id]);
    if (!rows[0]) throw new UserError('Ce dossier a changé d’état entre-temps : rechargez la page.', 409, 'state');
    const answer = rows[0].answer;
    if (!answer || typeof answer.file !== 'string') throw new UserError(`« ${q.label} » : aucun fichier n’est joint.`, 409, `q_${q.id}`);
    await tx.query('UPDATE calls.application SET answers = answers - $2::text, updated_at = now() WHERE id = $1', [app.id, q.id]);
    if (app.state === 'brouillon') {
      await tx.query('DELETE FROM calls.application_file WHERE id = $1 AND application_id = $2', [answer.file, app.id]);
      // Lock the content first, then look for other uploads in a new statement: an upload of the same
      // content in flight (attachFile) is waited for and then seen, so its content is never deleted.
      await tx.query('SELECT 1 FROM calls.blob WHERE sha256 = $1 FOR UPDATE', [answer.sha256]);
      await tx.query('DELETE FROM calls.blob b WHERE b.sha256 = $1 AND NOT EXISTS (SELECT 1 FROM calls.application_file f WHERE f.sha256 = b.sha256)', [answer.sha256]);
    }
    await recordAudit(tx, { actorId: userId, action: 'calls.file.remove', objectType: 'calls.application', objectId: app.id, before: { question: q.id, name: answer.name, kind: answer.kind, size: answer.size, sha256: answer.sha256 } });
  });
}

export interface StoredFile {
  name: string;
  kind: FileKind;
  mime: string;
  data: Buffer;
}

/**
 * A file of a dossier, for the applicant (a member of its organisation), an instructor of the
 * call in their scope, or a reviewer assigned to the dossier who has declared no conflict or a soft
 * one (never a hard one, never before the declaration); NotFound for anyone else (nothing tells
 * them it exists).
 */
export async function fileFor(db: Queryable, actor: Actor, appId: string, fileId: string): Promise<StoredFile> {
  const app = await service.getApplication(db, appId);
  const call = app ? await service.getCall(db, app.callId) : null;
  const access = app && call ? await service.accessTo(db, actor, app, call) : null;
  const reviewer = !!access?.reviewer?.conflict && access.reviewer.conflict !== 'hard';
  if (!app || !access || !(access.applicant || access.instructor || reviewer) || !/^[0-9a-f-]{36}$/i.test(fileId)) throw new NotFoundError('Ce fichier n’existe pas.');
  const { rows } = await db.query<{ name: string; kind: FileKind; data: Uint8Array }>(
    'SELECT f.name, f.kind, b.data FROM calls.application_file f JOIN calls.blob b ON b.sha256 = f.sha256 WHERE f.id = $1 AND f.application_id = $2',
    [fileId, app.id],
  );
  const r = rows[0];
  if (!r) throw new NotFoundError('Ce fichier n’existe pas.');
  return { name: r.name, kind: r.kind, mime: FILE_KINDS[r.kind].mime, data: Buffer.from(r.data) };
}

// ---------------------------------------------------------------------------------------------
// Private annotations (instructors) and confidential opinions (reviewers)

export interface Annotation {
  id: number;
  kind: 'note' | 'avis';
  authorId: string;
  body: string;
  at: string;
}

/** An instructor's private annotation on a dossier (never shown to the applicant). */
export async function annotate(ctx: Ctx, actor: Actor, appId: string, bodyInput: unknown): Promise<void> {
  const app = await service.getApplication(ctx.db, appId);
  const call = app ? await service.getCall(ctx.db, app.callId) : null;
  if (!app || !call) throw new NotFoundError('Ce dossier n’existe pas.');
  if (!(await service.accessTo(ctx.db, actor, app, call)).instructor) throw new ForbiddenError('Ce dossier n’est pas dans votre périmètre d’instruction.');
  const body = text(bodyInput, 'annotation', 'Annotation', { required: true, max: 5000, multiline: true });
  await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ id: string }>(`INSERT INTO calls.annotation (application_id, author_id, kind, body) VALUES ($1, $2, 'note', $3) RETURNING id`, [app.id, actor.id, body]);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.annotation.add', objectType: 'calls.application', objectId: app.id, after: { annotation: Number(rows[0]!.id) } });
  });
}

/** A reviewer's confidential opinion (for the instructors and the committee only); not under a hard conflict. */
export async function giveOpinion(ctx: Ctx, actor: Actor, appId: string, bodyInput: unknown): Promise<void> {
  const app = await service.getApplication(ctx.db, appId);
  const call = app ? await service.getCall(ctx.db, app.callId) : null;
  const reviewer = app && call ? (await service.accessTo(ctx.db, actor, app, call)).reviewer : null;
  if (!app || !reviewer) throw new NotFoundError('Ce dossier ne vous est pas confié.');
  if (!reviewer.conflict) throw new UserError('Déclarez d’abord vos éventuels conflits d’intérêts.', 409, 'conflict');
  if (reviewer.conflict === 'hard') throw new ForbiddenError('Vous avez déclaré un conflit d’intérêts sur ce dossier : vous ne pouvez pas donner d’avis.', 'conflict');
  const body = text(bodyInput, 'opinion', 'Avis confidentiel', { required: true, max: 5000, multiline: true });
  await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ id: string }>(`INSERT INTO calls.annotation (application_id, author_id, kind, body) VALUES ($1, $2, 'avis', $3) RETURNING id`, [app.id, actor.id, body]);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.opinion.add', objectType: 'calls.application', objectId: app.id, after: { annotation: Number(rows[0]!.id) } });
  });
}

/** Annotations and opinions of a dossier (for its instructors), or one author's only. */
export async function annotationsOf(db: Queryable, appId: string, authorId?: string): Promise<Annotation[]> {
  const { rows } = await db.query(`SELECT id, kind, author_id, body, at FROM calls.annotation WHERE application_id = $1 ${authorId ? 'AND author_id = $2' : ''} ORDER BY id`, authorId ? [appId, authorId] : [appId]);
  return rows.map((r) => ({ id: Number(r.id), kind: r.kind as Annotation['kind'], authorId: r.author_id as string, body: r.body as string, at: iso(r.at) }));
}

// ---------------------------------------------------------------------------------------------
// Message thread

/** Messages one person may write on one dossier in 24 hours (the route also limits per address). */
export const MESSAGES_PER_DAY = 20;

export interface Message {
  id: number;
  authorId: string;
  fromApplicant: boolean;
  body: string;
  at: string;
}

/**
 * A message on a dossier's thread, from the applicant (a member of its organisation) or an
 * instructor in scope. Counted under the dossier's row lock: at most MESSAGES_PER_DAY per author
 * and dossier, even for simultaneous posts. Returns who is to be told.
 */
export async function postMessage(ctx: Ctx, actor: Actor, appId: string, bodyInput: unknown): Promise<{ app: service.Application; fromApplicant: boolean }> {
  const app = await service.getApplication(ctx.db, appId);
  const call = app ? await service.getCall(ctx.db, app.callId) : null;
  const access = app && call ? await service.accessTo(ctx.db, actor, app, call) : null;
  if (!app || !access || !(access.applicant || access.instructor)) throw new NotFoundError('Ce dossier n’existe pas.');
  const fromApplicant = access.applicant && !access.instructor;
  if (fromApplicant && app.state === 'brouillon' && !app.submittedAt) throw new UserError('La messagerie s’ouvre quand le dossier est déposé.', 409, 'state');
  const body = text(bodyInput, 'message', 'Message', { required: true, max: 5000, multiline: true });
  await ctx.db.transaction(async (tx) => {
    await tx.query('SELECT id FROM calls.application WHERE id = $1 FOR UPDATE', [app.id]);
    const { rows } = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM calls.message WHERE application_id = $1 AND author_id = $2 AND at > now() - interval '1 day'`, [app.id, actor.id]);
    if (rows[0]!.n >= MESSAGES_PER_DAY) throw new UserError(`Vous avez déjà envoyé ${MESSAGES_PER_DAY} messages sur ce dossier en 24 heures : réessayez plus tard.`, 429, 'message');
    const r = await tx.query<{ id: string }>('INSERT INTO calls.message (application_id, author_id, from_applicant, body) VALUES ($1, $2, $3, $4) RETURNING id', [app.id, actor.id, fromApplicant, body]);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.message.post', objectType: 'calls.application', objectId: app.id, after: { message: Number(r.rows[0]!.id), fromApplicant } });
  });
  return { app, fromApplicant };
}

export async function messagesOf(db: Queryable, appId: string): Promise<Message[]> {
  const { rows } = await db.query('SELECT id, author_id, from_applicant, body, at FROM calls.message WHERE application_id = $1 ORDER BY id', [appId]);
  return rows.map((r) => ({ id: Number(r.id), authorId: r.author_id as string, fromApplicant: r.from_applicant as boolean, body: r.body as string, at: iso(r.at) }));
}

/** Who is told of an applicant's message: the call's instructors whose scope covers the dossier (else the call's author). */
export async function instructorsToTell(db: Queryable, app: service.Application): Promise<{ email: string; displayName: string }[]> {
  const { rows } = await db.query<{ user_id: string; departements: string[] }>('SELECT user_id, departements FROM calls.instructor WHERE call_id = $1', [app.callId]);
  let ids = rows.filter((r) => r.departements.length === 0 || (app.departement && r.departements.includes(app.departement))).map((r) => r.user_id);
  if (!ids.length) ids = (await db.query<{ created_by: string | null }>('SELECT created_by FROM calls.call WHERE id = $1', [app.callId])).rows.map((r) => r.created_by).filter((x): x is string => !!x);
  return service.activeUsers(db, ids);
}

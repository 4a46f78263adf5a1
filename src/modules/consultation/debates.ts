/**
 * Debates: staff put a question to participants, who answer with arguments for or against and
 * comments (threaded replies), while the process's current phase opens comments and until staff
 * close the debate with a conclusion. Contributions are reported and moderated like proposals'
 * comments (service.ts `report` / `moderate`, kind `contribution`); a hidden one keeps its place
 * without its text for everyone but moderators. Audited; every refusal throws before any write.
 */
import crypto from 'node:crypto';
import type { Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { NotFoundError, UserError } from '../../platform/http/errors.ts';
import { LIMITS, ValidationFailed, text, type FieldError } from './model.ts';
import { assertIdentityChecked, assertMayTakePart, isUuid, type Ctx, type Participant, type Process } from './service.ts';

export const STANCES = { for: 'Pour', against: 'Contre', comment: 'Commentaire' } as const;
export type Stance = keyof typeof STANCES;

export interface Debate {
  id: string;
  processId: string;
  slug: string;
  title: string;
  description: string;
  closedAt: string | null;
  conclusion: string | null;
  argumentsFor: number;
  argumentsAgainst: number;
  comments: number;
}

type DebateRow = { id: string; process_id: string; slug: string; title: string; description: string; closed_at: Date | null; conclusion: string | null; arguments_for: number; arguments_against: number; comments: number };
const toDebate = (r: DebateRow): Debate => ({
  id: r.id, processId: r.process_id, slug: r.slug, title: r.title, description: r.description, closedAt: r.closed_at ? new Date(r.closed_at).toISOString() : null, conclusion: r.conclusion,
  argumentsFor: r.arguments_for, argumentsAgainst: r.arguments_against, comments: r.comments,
});
const COLS = 'id, process_id, slug, title, description, closed_at, conclusion, arguments_for, arguments_against, comments';

export async function listDebates(db: Queryable, processId: string): Promise<Debate[]> {
  return (await db.query<DebateRow>(`SELECT ${COLS} FROM consultation.debate WHERE process_id = $1 ORDER BY created_at, slug`, [processId])).rows.map(toDebate);
}

export async function getDebate(db: Queryable, processId: string, slug: string): Promise<Debate | null> {
  if (typeof slug !== 'string' || !/^[a-z0-9][a-z0-9-]{0,79}$/.test(slug)) return null;
  const { rows } = await db.query<DebateRow>(`SELECT ${COLS} FROM consultation.debate WHERE process_id = $1 AND slug = $2`, [processId, slug]);
  return rows[0] ? toDebate(rows[0]) : null;
}

/** The debate form (staff). */
export function parseDebateForm(o: Record<string, unknown>): { slug: string; title: string; description: string } {
  const errors: FieldError[] = [];
  const slug = typeof o.slug === 'string' && Object.hasOwn(o, 'slug') ? o.slug.trim() : '';
  if (!/^[a-z0-9][a-z0-9-]{0,79}$/.test(slug) || slug === 'nouveau') errors.push({ field: 'slug', message: 'Adresse : lettres minuscules, chiffres et tirets, par exemple horaires-tiers-lieux.' });
  const title = text(o, 'title', 'Question débattue', LIMITS.title, errors, { required: true, min: 5 });
  const description = text(o, 'description', 'Présentation', LIMITS.body, errors);
  if (errors.length) throw new ValidationFailed(errors);
  return { slug, title, description };
}

export async function createDebate(ctx: Ctx, actorId: string | null, processId: string, d: { slug: string; title: string; description: string }): Promise<string> {
  const id = crypto.randomUUID();
  try {
    await ctx.db.transaction(async (tx) => {
      const dup = await tx.query('SELECT 1 FROM consultation.debate WHERE process_id = $1 AND slug = $2', [processId, d.slug]);
      if (dup.rows.length) throw new UserError('Un débat de cette concertation porte déjà cette adresse.', 409, 'slug');
      await tx.query('INSERT INTO consultation.debate (id, process_id, slug, title, description) VALUES ($1,$2,$3,$4,$5)', [id, processId, d.slug, d.title, d.description]);
      await recordAudit(tx, { actorId, action: 'consultation.debate.create', objectType: 'consultation.debate', objectId: id, after: d });
    });
  } catch (e) {
    if ((e as { code?: string }).code === '23505') throw new UserError('Un débat de cette concertation porte déjà cette adresse.', 409, 'slug');
    throw e;
  }
  return id;
}

/** Staff close a debate with a conclusion (published); no contribution after that. */
export async function closeDebate(ctx: Ctx, actorId: string, d: Debate, form: Record<string, unknown>): Promise<void> {
  const errors: FieldError[] = [];
  const conclusion = text(form, 'conclusion', 'Conclusion', LIMITS.answer, errors, { required: true, min: 10 });
  if (errors.length) throw new ValidationFailed(errors);
  await ctx.db.transaction(async (tx) => {
    const up = await tx.query('UPDATE consultation.debate SET closed_at = now(), conclusion = $2 WHERE id = $1 AND closed_at IS NULL RETURNING id', [d.id, conclusion]);
    if (!up.rows.length) throw new UserError('Ce débat est déjà clos.', 409, 'conclusion', 'closed');
    await recordAudit(tx, { actorId, action: 'consultation.debate.close', objectType: 'consultation.debate', objectId: d.id, after: { conclusion } });
  });
}

export interface Contribution {
  id: string;
  parentId: string | null;
  stance: Stance;
  body: string | null;
  hidden: boolean;
  hiddenReason: string | null;
  createdAt: string;
}

/** Every contribution in order (bounded); hidden ones keep their place, their text only for moderators. */
export async function listContributions(db: Queryable, debateId: string, o: { moderator?: boolean; limit?: number } = {}): Promise<Contribution[]> {
  const { rows } = await db.query<{ id: string; parent_id: string | null; stance: Stance; body: string; hidden_at: Date | null; hidden_reason: string | null; created_at: Date }>(
    'SELECT id, parent_id, stance, body, hidden_at, hidden_reason, created_at FROM consultation.debate_contribution WHERE debate_id = $1 ORDER BY created_at, id LIMIT $2', [debateId, Math.min(o.limit ?? 1000, 5000)]);
  return rows.map((r) => ({ id: r.id, parentId: r.parent_id, stance: r.stance, body: r.hidden_at && !o.moderator ? null : r.body, hidden: !!r.hidden_at, hiddenReason: r.hidden_reason, createdAt: new Date(r.created_at).toISOString() }));
}

/**
 * A participant's argument (for / against) or comment, or a reply to one: the current phase must
 * open comments, the debate be open, the person admitted by the process.
 */
export async function contribute(ctx: Ctx, p: Process, d: Debate, who: Participant | null, form: Record<string, unknown>, now = new Date()): Promise<string> {
  const errors: FieldError[] = [];
  const stanceRaw = typeof form.stance === 'string' && Object.hasOwn(form, 'stance') ? form.stance : '';
  if (!Object.hasOwn(STANCES, stanceRaw)) errors.push({ field: 'stance', message: 'Position : « pour », « contre » ou « commentaire ».' });
  const body = text(form, 'body', 'Contribution', LIMITS.comment, errors, { required: true, min: 2 });
  const parentRaw = typeof form.parentId === 'string' && Object.hasOwn(form, 'parentId') ? form.parentId : '';
  if (parentRaw && !isUuid(parentRaw)) errors.push({ field: 'parentId', message: 'Réponse : contribution inconnue.' });
  if (errors.length) throw new ValidationFailed(errors);
  assertMayTakePart(p, who, 'comments', now);
  await assertIdentityChecked(ctx.db, p, who!, 'comments');
  const stance = stanceRaw as Stance;
  const id = crypto.randomUUID();
  await ctx.db.transaction(async (tx) => {
    const open = await tx.query<{ closed_at: Date | null }>('SELECT closed_at FROM consultation.debate WHERE id = $1 FOR SHARE', [d.id]);
    if (!open.rows[0]) throw new NotFoundError('Débat introuvable.');
    if (open.rows[0].closed_at) throw new UserError('Ce débat est clos : il n’accepte plus de contributions.', 409, null, 'debate_closed');
    if (parentRaw) {
      const parent = await tx.query<{ hidden_at: Date | null }>('SELECT hidden_at FROM consultation.debate_contribution WHERE id = $1 AND debate_id = $2', [parentRaw, d.id]);
      if (!parent.rows[0]) throw new UserError('Réponse : la contribution à laquelle vous répondez n’existe pas dans ce débat.', 400, 'parentId');
      if (parent.rows[0].hidden_at) throw new UserError('Réponse : cette contribution a été masquée par la modération.', 409, 'parentId');
    }
    await tx.query('INSERT INTO consultation.debate_contribution (id, debate_id, parent_id, stance, author_id, body) VALUES ($1,$2,$3,$4,$5,$6)', [id, d.id, parentRaw || null, stance, who!.id, body]);
    const counter = stance === 'for' ? 'arguments_for' : stance === 'against' ? 'arguments_against' : 'comments';
    await tx.query(`UPDATE consultation.debate SET ${counter} = ${counter} + 1 WHERE id = $1`, [d.id]);
    await recordAudit(tx, { actorId: who!.id, action: 'consultation.debate.contribute', objectType: 'consultation.contribution', objectId: id, after: { stance }, meta: { debate: d.id } });
  });
  return id;
}

/** Open data: visible contributions of a process's debates, without their authors. */
export async function contributionRows(db: Queryable, p: Pick<Process, 'id' | 'slug'>): Promise<Record<string, unknown>[]> {
  const { rows } = await db.query<{ slug: string; id: string; parent_id: string | null; stance: Stance; body: string; created_at: Date }>(
    `SELECT d.slug, c.id, c.parent_id, c.stance, c.body, c.created_at FROM consultation.debate_contribution c JOIN consultation.debate d ON d.id = c.debate_id
      WHERE d.process_id = $1 AND c.hidden_at IS NULL ORDER BY d.slug, c.created_at, c.id`, [p.id]);
  return rows.map((r) => ({ process: p.slug, debate: r.slug, contribution_id: r.id, parent_id: r.parent_id, stance: r.stance, body: r.body, created_at: new Date(r.created_at).toISOString() }));
}

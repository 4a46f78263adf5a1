/**
 * Participatory-budget projects written by staff from the back office: created (from nothing or
 * from an accepted proposal of the process), edited and deleted while nobody has started voting
 * in the budget. The form is read into a `ProjectInput` with every faulty field named; the
 * writes lock the budget's row, check again that no vote exists, and are audited.
 */
import crypto from 'node:crypto';
import type { Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { NotFoundError, UserError } from '../../platform/http/errors.ts';
import { own } from '../../platform/own.ts';
import { getCommune, searchCommunes, type Commune } from '../territories/index.ts';
import { LIMITS, ValidationFailed, euros, parseEuros, text, type FieldError } from './model.ts';
import type { Budget, Ctx, Process, Project } from './service.ts';

export interface ProjectInput {
  title: string;
  description: string;
  costCents: number;
  communeCode: string | null;
  proposalId: string | null;
}

const fold = (s: string) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[-'’\s]+/g, ' ').trim();
const inTerritory = (c: Commune, p: Pick<Process, 'region' | 'departement'>, b: Pick<Budget, 'departement'>) =>
  c.region === p.region && (!p.departement || c.departement === p.departement) && (!b.departement || c.departement === b.departement);

function str(o: Record<string, unknown>, k: string): string {
  const v = own(o, k);
  return typeof v === 'string' ? v.trim() : '';
}

/**
 * The commune typed in the form: an INSEE code (« 21231 », « 2A004 ») or a name, which must name
 * exactly one commune of the process's territory (and of the budget's département, if any).
 */
async function resolveCommune(db: Queryable, raw: string, p: Pick<Process, 'region' | 'departement'>, b: Pick<Budget, 'departement'>, errors: FieldError[]): Promise<string | null> {
  if (!raw) return null;
  if (raw.length > 120) {
    errors.push({ field: 'commune', message: 'Commune : 120 caractères au plus.' });
    return null;
  }
  const where = b.departement ? `du département ${b.departement}` : 'du territoire de la concertation';
  if (/^(\d{5}|2[AB]\d{3})$/i.test(raw)) {
    const c = await getCommune(db, raw.toUpperCase());
    if (!c) errors.push({ field: 'commune', message: 'Commune : code INSEE inconnu.' });
    else if (!inTerritory(c, p, b)) errors.push({ field: 'commune', message: `Commune : ${c.name} (${c.code}) n’est pas une commune ${where}.` });
    return c && inTerritory(c, p, b) ? c.code : null;
  }
  const found = (await searchCommunes(db, raw, 100)).filter((c) => inTerritory(c, p, b));
  const exact = found.filter((c) => fold(c.name) === fold(raw));
  if (exact.length === 1) return exact[0]!.code;
  const list = (cs: Commune[]) => `${cs.slice(0, 5).map((c) => `${c.name} ${c.code}`).join(', ')}${cs.length > 5 ? '…' : ''}`;
  if (exact.length > 1) errors.push({ field: 'commune', message: `Commune : plusieurs communes ${where} portent ce nom (${list(exact)}) ; indiquez le code INSEE.` });
  else errors.push({ field: 'commune', message: `Commune : aucune commune ${where} ne porte ce nom${found.length ? ` (vouliez-vous dire ${list(found)} ?)` : ''} ; indiquez son nom exact ou son code INSEE.` });
  return null;
}

/**
 * The project form: title, description, cost in euros (> 0 and at most the budget's amount),
 * commune (code or name, in the territory), optional number of an accepted proposal of this process.
 */
export async function parseProjectForm(db: Queryable, o: Record<string, unknown>, p: Pick<Process, 'id' | 'region' | 'departement'>, b: Pick<Budget, 'amountCents' | 'departement'>): Promise<ProjectInput> {
  const errors: FieldError[] = [];
  const title = text(o, 'title', 'Titre', LIMITS.title, errors, { required: true, min: 3 });
  const description = text(o, 'description', 'Description', LIMITS.body, errors);
  const costRaw = str(o, 'cost');
  const costCents = parseEuros(costRaw);
  if (!costRaw) errors.push({ field: 'cost', message: 'Coût : champ obligatoire.' });
  else if (costCents === null || costCents <= 0) errors.push({ field: 'cost', message: 'Coût : une somme en euros supérieure à zéro, par exemple 12 500.' });
  else if (costCents > b.amountCents) errors.push({ field: 'cost', message: `Coût : il dépasse le montant du budget (${euros(b.amountCents)}).` });
  const communeCode = await resolveCommune(db, str(o, 'commune'), p, b, errors);
  const n = str(o, 'proposal').replace(/^n°\s*/i, '');
  let proposalId: string | null = null;
  if (n) {
    if (!/^\d{1,9}$/.test(n)) errors.push({ field: 'proposal', message: 'Proposition : son numéro, par exemple 12, ou vide.' });
    else {
      const { rows } = await db.query<{ id: string; state: string }>('SELECT id, state FROM consultation.proposal WHERE process_id = $1 AND number = $2', [p.id, Number(n)]);
      if (!rows[0]) errors.push({ field: 'proposal', message: `Proposition : aucune proposition n° ${n} dans cette concertation.` });
      else if (rows[0].state !== 'accepted') errors.push({ field: 'proposal', message: `Proposition : la proposition n° ${n} n’est pas retenue ; seule une proposition retenue peut devenir un projet.` });
      else proposalId = rows[0].id;
    }
  }
  if (errors.length) throw new ValidationFailed(errors);
  return { title, description, costCents: costCents!, communeCode, proposalId };
}

/**
 * Within a transaction: locks the budget's row (project writes of one budget run one at a time)
 * and refuses once voting has started in it, i.e. once a basket holds a project or a vote is
 * confirmed. Baskets take a share lock on the project they add (see addToBasket), so an addition
 * racing with an edit or a deletion is seen here.
 */
async function lockUnvotedBudget(tx: Queryable, budgetId: string, field: string): Promise<void> {
  const b = await tx.query('SELECT 1 FROM consultation.budget WHERE id = $1 FOR UPDATE', [budgetId]);
  if (!b.rows.length) throw new NotFoundError('Budget introuvable.');
  const { rows } = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM consultation.basket bk
      WHERE bk.budget_id = $1 AND (bk.checked_out_at IS NOT NULL OR EXISTS (SELECT 1 FROM consultation.basket_item i WHERE i.basket_id = bk.id))`, [budgetId]);
  const n = rows[0]!.n;
  if (n > 0) {
    throw new UserError(`${field === 'title' ? 'Projets' : 'Coût'} : le vote a commencé dans ce budget (${n > 1 ? `${n} paniers ou votes` : 'un panier ou un vote'}) ; ses projets ne peuvent plus changer.`, 409, field, 'budget_voting_started');
  }
}

/**
 * Within the transaction, once the budget's row is locked: the form's checks made against what was
 * read before it, made again — the cost at most the budget's current amount (it may have been
 * lowered meanwhile), the proposal still accepted (locked so that its answer cannot change before
 * the project is written).
 */
async function recheckProject(tx: Queryable, budgetId: string, input: ProjectInput): Promise<void> {
  const amount = Number((await tx.query<{ amount_cents: string | number }>('SELECT amount_cents FROM consultation.budget WHERE id = $1', [budgetId])).rows[0]!.amount_cents);
  if (input.costCents > amount) throw new UserError(`Coût : il dépasse le montant du budget (${euros(amount)}).`, 409, 'cost', 'cost_over_budget');
  if (input.proposalId) {
    const { rows } = await tx.query<{ state: string }>('SELECT state FROM consultation.proposal WHERE id = $1 FOR SHARE', [input.proposalId]);
    if (rows[0]?.state !== 'accepted') throw new UserError('Proposition : elle n’est plus retenue ; seule une proposition retenue peut devenir un projet.', 409, 'proposal', 'proposal_not_accepted');
  }
}

const auditFields = (x: ProjectInput & { budgetId: string }) => ({ budgetId: x.budgetId, title: x.title, costCents: x.costCents, communeCode: x.communeCode, proposalId: x.proposalId });

export async function createStaffProject(ctx: Ctx, actorId: string, b: Budget, input: ProjectInput): Promise<string> {
  const id = crypto.randomUUID();
  await ctx.db.transaction(async (tx) => {
    await lockUnvotedBudget(tx, b.id, 'title');
    await recheckProject(tx, b.id, input);
    await tx.query('INSERT INTO consultation.project (id, budget_id, title, description, cost_cents, commune_code, proposal_id) VALUES ($1,$2,$3,$4,$5,$6,$7)',
      [id, b.id, input.title, input.description, input.costCents, input.communeCode, input.proposalId]);
    await recordAudit(tx, { actorId, action: 'consultation.project.create', objectType: 'consultation.project', objectId: id, after: auditFields({ ...input, budgetId: b.id }) });
  });
  return id;
}

export async function getProject(db: Queryable, budgetId: string, id: string): Promise<Project | null> {
  if (typeof id !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) return null;
  const { rows } = await db.query<{ id: string; budget_id: string; title: string; description: string; cost_cents: number; commune_code: string | null; proposal_id: string | null }>(
    'SELECT id, budget_id, title, description, cost_cents, commune_code, proposal_id FROM consultation.project WHERE id = $1 AND budget_id = $2', [id, budgetId]);
  const r = rows[0];
  return r ? { id: r.id, budgetId: r.budget_id, title: r.title, description: r.description, costCents: Number(r.cost_cents), communeCode: r.commune_code, proposalId: r.proposal_id } : null;
}

export async function updateStaffProject(ctx: Ctx, actorId: string, b: Budget, project: Project, input: ProjectInput): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const locked = await tx.query('SELECT 1 FROM consultation.project WHERE id = $1 AND budget_id = $2 FOR UPDATE', [project.id, b.id]);
    if (!locked.rows.length) throw new NotFoundError('Projet introuvable.');
    await lockUnvotedBudget(tx, b.id, 'cost');
    await recheckProject(tx, b.id, input);
    await tx.query('UPDATE consultation.project SET title = $2, description = $3, cost_cents = $4, commune_code = $5, proposal_id = $6 WHERE id = $1',
      [project.id, input.title, input.description, input.costCents, input.communeCode, input.proposalId]);
    const { id: _i, ...before } = project;
    await recordAudit(tx, { actorId, action: 'consultation.project.update', objectType: 'consultation.project', objectId: project.id, before: auditFields(before as ProjectInput & { budgetId: string }), after: auditFields({ ...input, budgetId: b.id }) });
  });
}

export async function deleteStaffProject(ctx: Ctx, actorId: string, b: Budget, project: Project): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const locked = await tx.query('SELECT 1 FROM consultation.project WHERE id = $1 AND budget_id = $2 FOR UPDATE', [project.id, b.id]);
    if (!locked.rows.length) throw new NotFoundError('Projet introuvable.');
    await lockUnvotedBudget(tx, b.id, 'title');
    // Results pointing at it keep their text (ON DELETE SET NULL).
    await tx.query('DELETE FROM consultation.project WHERE id = $1', [project.id]);
    await recordAudit(tx, { actorId, action: 'consultation.project.delete', objectType: 'consultation.project', objectId: project.id, before: auditFields(project as unknown as ProjectInput & { budgetId: string }) });
  });
}

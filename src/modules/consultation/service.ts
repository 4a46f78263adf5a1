/**
 * Consultation use cases: processes and phases, proposals (submit, edit, withdraw, support,
 * comment, report, hide, answer), participatory budgets (basket, checkout, tally), meetings and
 * results. Every write is checked against the phase running on the server clock and the
 * participation rules of the process, runs in a transaction and is audited; every refusal throws
 * before anything is written.
 */
import crypto from 'node:crypto';
import type { Db, Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { NotFoundError, UserError } from '../../platform/http/errors.ts';
import { communesByPostalCode, getCommune, listDepartements, listRegions } from '../territories/index.ts';
import { getPlacesByUids } from '../places/index.ts';
import { checkProposalFile, storeProposalFile } from './proposal-file.ts';
import {
  CAPABILITY_LABELS,
  IDENTITY_USE_LABELS,
  LIMITS,
  REPORT_REASONS,
  STATE_LABELS,
  ValidationFailed,
  addProblem,
  ageFromBirthYear,
  basketProblem,
  currentPhase,
  editable,
  euros,
  isAnswerState,
  phaseAllows,
  rankWithinBudget,
  rollUp,
  text,
  type BudgetRule,
  type BudgetWorkflow,
  type Capability,
  type FieldError,
  type IdentityUse,
  type Phase,
  type ProcessIdentity,
  type ProposalInput,
  type RequiredClaim,
  type ResultStatus,
  type Rule,
  type State,
} from './model.ts';

const uuid = () => crypto.randomUUID();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: unknown): s is string => typeof s === 'string' && UUID.test(s);

export interface Ctx {
  db: Db;
}

/** The person acting, as the accounts module describes them. */
export interface Participant {
  id: string;
  emailVerified: boolean;
  createdAt: string;
}

export type Notify = (mail: { to: string; subject: string; text: string }) => Promise<void>;

// ---- processes ---------------------------------------------------------------------------------

export interface Process {
  id: string;
  slug: string;
  title: string;
  description: string;
  region: string;
  departement: string | null;
  published: boolean;
  residenceRequired: boolean;
  minAge: number | null;
  minAccountDays: number;
  budgetWorkflow: BudgetWorkflow;
  categories: string[];
  phases: Phase[];
  customStates: { key: string; label: string; base: string }[];
  /** The OpenID Connect provider configured for the process (identity.ts), without its secret; null when none. */
  identity: ProcessIdentity | null;
}

const PROCESS_COLS = `id, slug, title, description, region, departement, published, residence_required, min_age, min_account_days, budget_workflow, categories`;
type ProcessRow = {
  id: string; slug: string; title: string; description: string; region: string; departement: string | null; published: boolean;
  residence_required: boolean; min_age: number | null; min_account_days: number; budget_workflow: BudgetWorkflow; categories: string[];
};

async function hydrate(db: Queryable, rows: ProcessRow[]): Promise<Process[]> {
  if (!rows.length) return [];
  const ids = rows.map((r) => r.id);
  const phases = await db.query<{ id: string; process_id: string; position: number; title: string; starts_at: Date; ends_at: Date; proposals_open: boolean; supports_open: boolean; comments_open: boolean; votes_open: boolean }>(
    'SELECT * FROM consultation.phase WHERE process_id = ANY($1::uuid[]) ORDER BY position', [ids]);
  const states = await db.query<{ process_id: string; key: string; label: string; base: string }>('SELECT * FROM consultation.custom_state WHERE process_id = ANY($1::uuid[]) ORDER BY key', [ids]);
  const idps = await db.query<{ process_id: string; label: string; issuer: string; client_id: string; scopes: string; required_claim: RequiredClaim; required_for: IdentityUse[] }>(
    'SELECT process_id, label, issuer, client_id, scopes, required_claim, required_for FROM consultation.identity_provider WHERE process_id = ANY($1::uuid[])', [ids]);
  return rows.map((r) => ({
    id: r.id, slug: r.slug, title: r.title, description: r.description, region: r.region, departement: r.departement, published: r.published,
    residenceRequired: r.residence_required, minAge: r.min_age, minAccountDays: r.min_account_days, budgetWorkflow: r.budget_workflow, categories: r.categories,
    phases: phases.rows.filter((p) => p.process_id === r.id).map((p) => ({
      id: p.id, position: p.position, title: p.title, startsAt: new Date(p.starts_at).toISOString(), endsAt: new Date(p.ends_at).toISOString(),
      proposalsOpen: p.proposals_open, supportsOpen: p.supports_open, commentsOpen: p.comments_open, votesOpen: p.votes_open,
    })),
    customStates: states.rows.filter((s) => s.process_id === r.id).map((s) => ({ key: s.key, label: s.label, base: s.base })),
    identity: ((i) => (i ? { label: i.label, issuer: i.issuer, clientId: i.client_id, scopes: i.scopes, requiredClaim: i.required_claim, requiredFor: i.required_for } : null))(idps.rows.find((i) => i.process_id === r.id)),
  }));
}

export async function listProcesses(db: Queryable, o: { all?: boolean } = {}): Promise<Process[]> {
  const { rows } = await db.query<ProcessRow>(`SELECT ${PROCESS_COLS} FROM consultation.process ${o.all ? '' : 'WHERE published'} ORDER BY created_at DESC, slug`);
  return hydrate(db, rows);
}

export async function getProcess(db: Queryable, slug: string, o: { all?: boolean } = {}): Promise<Process | null> {
  if (typeof slug !== 'string' || !/^[a-z0-9][a-z0-9-]{0,79}$/.test(slug)) return null;
  const { rows } = await db.query<ProcessRow>(`SELECT ${PROCESS_COLS} FROM consultation.process WHERE slug = $1 ${o.all ? '' : 'AND published'}`, [slug]);
  return (await hydrate(db, rows))[0] ?? null;
}

export async function getProcessById(db: Queryable, id: string): Promise<Process | null> {
  if (!isUuid(id)) return null;
  const { rows } = await db.query<ProcessRow>(`SELECT ${PROCESS_COLS} FROM consultation.process WHERE id = $1`, [id]);
  return (await hydrate(db, rows))[0] ?? null;
}

/** The resource a permission is checked on (staff of the process's territory). */
export function processResource(p: Pick<Process, 'id' | 'region' | 'departement'>) {
  return { type: 'consultation_process', id: p.id, region: p.region, departement: p.departement };
}

export interface ProcessInput {
  slug: string;
  title: string;
  description?: string;
  region: string;
  departement?: string | null;
  published?: boolean;
  residenceRequired?: boolean;
  minAge?: number | null;
  minAccountDays?: number;
  budgetWorkflow?: BudgetWorkflow;
  categories?: string[];
  phases: { title: string; startsAt: Date | string; endsAt: Date | string; proposals?: boolean; supports?: boolean; comments?: boolean; votes?: boolean }[];
  customStates?: { key: string; label: string; base: 'evaluating' | 'accepted' | 'rejected' }[];
}

/** Creates a process with its phases (staff, CLI, demo). */
export async function createProcess(ctx: Ctx, actorId: string | null, input: ProcessInput): Promise<string> {
  const errors: FieldError[] = [];
  if (!/^[a-z0-9][a-z0-9-]{0,79}$/.test(input.slug)) errors.push({ field: 'slug', message: 'Adresse : lettres minuscules, chiffres et tirets.' });
  if (!/^\d{2}$/.test(input.region)) errors.push({ field: 'region', message: 'Région : code à deux chiffres.' });
  const phases = input.phases.map((p) => ({ ...p, s: new Date(p.startsAt), e: new Date(p.endsAt) }));
  phases.forEach((p, i) => {
    if (Number.isNaN(p.s.getTime()) || Number.isNaN(p.e.getTime()) || p.e <= p.s) errors.push({ field: `phases.${i}`, message: `Phase ${i + 1} : la fin doit suivre le début.` });
    const prev = phases[i - 1];
    if (prev && p.s < prev.e) errors.push({ field: `phases.${i}`, message: `Phase ${i + 1} : elle commence avant la fin de la phase précédente.` });
  });
  if (errors.length) throw new ValidationFailed(errors);
  const id = uuid();
  return uniqueAs409(() => ctx.db.transaction(async (tx) => {
    const dup = await tx.query('SELECT 1 FROM consultation.process WHERE slug = $1', [input.slug]);
    if (dup.rows.length) throw new UserError('Une concertation porte déjà cette adresse.', 409, 'slug');
    await tx.query(
      `INSERT INTO consultation.process (id, slug, title, description, region, departement, published, residence_required, min_age, min_account_days, budget_workflow, categories)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
      [id, input.slug, input.title, input.description ?? '', input.region, input.departement ?? null, input.published ?? true, input.residenceRequired ?? false, input.minAge ?? null, input.minAccountDays ?? 0, input.budgetWorkflow ?? 'one', input.categories ?? []],
    );
    for (const [i, p] of phases.entries()) {
      await tx.query(
        `INSERT INTO consultation.phase (id, process_id, position, title, starts_at, ends_at, proposals_open, supports_open, comments_open, votes_open) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
        [uuid(), id, i + 1, p.title, p.s.toISOString(), p.e.toISOString(), !!p.proposals, !!p.supports, !!p.comments, !!p.votes],
      );
    }
    for (const s of input.customStates ?? []) await tx.query('INSERT INTO consultation.custom_state (process_id, key, label, base) VALUES ($1,$2,$3,$4)', [id, s.key, s.label, s.base]);
    await recordAudit(tx, { actorId, action: 'consultation.process.create', objectType: 'consultation.process', objectId: id, after: { slug: input.slug, title: input.title, phases: phases.length } });
    return id;
  }), 'Une concertation porte déjà cette adresse.');
}

/** A unique violation (two creations racing for one address) as the same 409 as the check before it. */
async function uniqueAs409<T>(fn: () => Promise<T>, message: string): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if ((e as { code?: string }).code === '23505') throw new UserError(message, 409, 'slug');
    throw e;
  }
}

/** A place of the directory exists (setup forms). */
export async function placeExists(db: Queryable, uid: string): Promise<boolean> {
  return isUuid(uid) && (await getPlacesByUids(db, [uid])).length > 0;
}

/** The codes of a région's départements (for the setup forms' checks); empty for an unknown région. */
export async function departementsOf(db: Queryable, region: string): Promise<Set<string>> {
  return new Set((await listDepartements(db, region)).map((d) => d.code));
}

export async function regionExists(db: Queryable, region: string): Promise<boolean> {
  return (await listRegions(db)).some((r) => r.code === region);
}

/**
 * Edits a process from the back office: its text, participation rules, themes and phases (the
 * phases are replaced as a whole: nothing else points at them). The address and the territory stay.
 * One transaction, the row locked; audited with the rules and phases before and after.
 */
export async function updateProcess(ctx: Ctx, actorId: string, p: Process, input: Omit<ProcessInput, 'slug' | 'region' | 'departement'>): Promise<void> {
  const phases = input.phases.map((x) => ({ ...x, s: new Date(x.startsAt), e: new Date(x.endsAt) }));
  const summary = (q: Pick<Process, 'title' | 'published' | 'residenceRequired' | 'minAge' | 'minAccountDays' | 'budgetWorkflow' | 'categories'> & { phases: readonly { title: string; startsAt: string; endsAt: string }[] }) => ({
    title: q.title, published: q.published, residenceRequired: q.residenceRequired, minAge: q.minAge, minAccountDays: q.minAccountDays, budgetWorkflow: q.budgetWorkflow, categories: q.categories,
    phases: q.phases.map((f) => `${f.title} ${f.startsAt} → ${f.endsAt}`),
  });
  await ctx.db.transaction(async (tx) => {
    const locked = await tx.query('SELECT 1 FROM consultation.process WHERE id = $1 FOR UPDATE', [p.id]);
    if (!locked.rows.length) throw new NotFoundError('Concertation introuvable.');
    await tx.query(
      `UPDATE consultation.process SET title = $2, description = $3, published = $4, residence_required = $5, min_age = $6, min_account_days = $7, budget_workflow = $8, categories = $9 WHERE id = $1`,
      [p.id, input.title, input.description ?? '', input.published ?? true, input.residenceRequired ?? false, input.minAge ?? null, input.minAccountDays ?? 0, input.budgetWorkflow ?? 'one', input.categories ?? []],
    );
    await tx.query('DELETE FROM consultation.phase WHERE process_id = $1', [p.id]);
    for (const [i, f] of phases.entries()) {
      await tx.query(
        `INSERT INTO consultation.phase (id, process_id, position, title, starts_at, ends_at, proposals_open, supports_open, comments_open, votes_open) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
        [uuid(), p.id, i + 1, f.title, f.s.toISOString(), f.e.toISOString(), !!f.proposals, !!f.supports, !!f.comments, !!f.votes],
      );
    }
    const after = { ...p, ...input, minAge: input.minAge ?? null, published: input.published ?? true, residenceRequired: input.residenceRequired ?? false, minAccountDays: input.minAccountDays ?? 0, budgetWorkflow: input.budgetWorkflow ?? 'one', categories: input.categories ?? [], phases: phases.map((f) => ({ title: f.title, startsAt: f.s.toISOString(), endsAt: f.e.toISOString() })) };
    await recordAudit(tx, { actorId, action: 'consultation.process.update', objectType: 'consultation.process', objectId: p.id, before: summary(p), after: summary(after) });
  });
}

// ---- who may take part ---------------------------------------------------------------------------

/** Refuses (403, naming why) a person the process does not admit, or a phase that does not allow it. */
export function assertMayTakePart(p: Process, who: Participant | null, what: Capability, now: Date): void {
  if (!who) throw new UserError('Connectez-vous pour participer.', 401, null, 'unauthenticated');
  const phase = currentPhase(p.phases, now);
  if (!phaseAllows(phase, what)) {
    throw new UserError(phase ? `La phase en cours (« ${phase.title} ») n’ouvre pas le ${CAPABILITY_LABELS[what]}.` : `Aucune phase n’est en cours : le ${CAPABILITY_LABELS[what]} est fermé.`, 409, null, 'phase_closed');
  }
  assertPerson(p, who, now);
}

/** Refuses (403) a person the process does not admit: verified e-mail, minimum account age. */
export function assertPerson(p: Pick<Process, 'minAccountDays'>, who: Participant | null, now: Date): asserts who is Participant {
  if (!who) throw new UserError('Connectez-vous pour participer.', 401, null, 'unauthenticated');
  if (!who.emailVerified) throw new UserError('Confirmez d’abord votre adresse e-mail (lien envoyé depuis « Mon compte ») pour participer.', 403, null, 'email_unverified');
  if (p.minAccountDays > 0) {
    const age = (now.getTime() - Date.parse(who.createdAt)) / 86_400_000;
    if (age < p.minAccountDays) throw new UserError(`Cette concertation demande un compte créé depuis au moins ${p.minAccountDays} jour${p.minAccountDays > 1 ? 's' : ''}.`, 403, null, 'account_too_recent');
  }
}

/** A person's identity check for a process (identity.ts): what the provider's claims established. */
export interface IdentityCheck {
  issuer: string;
  minAgeChecked: number | null;
  departement: string | null;
}

/** The person's check for this process with its current provider, or null. */
export async function identityCheckOf(db: Queryable, p: Pick<Process, 'id' | 'identity'>, userId: string): Promise<IdentityCheck | null> {
  if (!p.identity) return null;
  const { rows } = await db.query<{ issuer: string; min_age_checked: number | null; departement: string | null }>(
    'SELECT issuer, min_age_checked, departement FROM consultation.identity_check WHERE process_id = $1 AND user_id = $2', [p.id, userId]);
  const c = rows[0];
  return c && c.issuer === p.identity.issuer ? { issuer: c.issuer, minAgeChecked: c.min_age_checked, departement: c.departement } : null;
}

/**
 * Refuses (403 `identity_required`) a person without a check by the process's provider when the
 * process requires one for `use`; returns the check (null when none is required).
 */
export async function assertIdentityChecked(db: Queryable, p: Process, who: Participant, use: IdentityUse): Promise<IdentityCheck | null> {
  if (!p.identity?.requiredFor.includes(use)) return null;
  const check = await identityCheckOf(db, p, who.id);
  if (!check) {
    throw new UserError(`Pour ${IDENTITY_USE_LABELS[use].replace(/ \(.*\)$/, '')} dans cette concertation, vérifiez d’abord votre identité avec ${p.identity.label} (lien « Vérifier mon identité » sur la page de la concertation).`, 403, null, 'identity_required');
  }
  return check;
}

/**
 * Residence and age declared at vote time, checked then forgotten (nothing of them is stored) —
 * unless the process's identity provider established them (`check`): its postal code's
 * département (residence) or its birth date against the age limit.
 */
export async function assertEligibleVoter(db: Queryable, p: Process, budgetDepartement: string | null, declared: { postalCode?: string; birthYear?: string }, now: Date, check: IdentityCheck | null = null): Promise<void> {
  if (p.residenceRequired && check?.departement) {
    if (budgetDepartement && check.departement !== budgetDepartement) throw new UserError(`Ce vote est réservé aux habitants du département ${budgetDepartement} (selon l’adresse donnée par ${p.identity?.label ?? 'le fournisseur d’identité'}).`, 403, 'postalCode', 'outside_territory');
  } else if (p.residenceRequired) {
    const pc = (declared.postalCode ?? '').trim();
    if (!/^\d{5}$/.test(pc)) throw new UserError('Code postal : cinq chiffres (ce vote est réservé aux habitants du territoire).', 400, 'postalCode');
    const communes = await communesByPostalCode(db, pc);
    const inside = communes.some((c) => c.region === p.region && (!p.departement || c.departement === p.departement) && (!budgetDepartement || c.departement === budgetDepartement));
    if (!inside) throw new UserError(`Code postal : ce vote est réservé aux habitants ${budgetDepartement ? `du département ${budgetDepartement}` : 'du territoire de la concertation'}.`, 403, 'postalCode', 'outside_territory');
  }
  if (p.minAge !== null && !(check?.minAgeChecked != null && check.minAgeChecked >= p.minAge)) {
    const y = (declared.birthYear ?? '').trim();
    if (!/^\d{4}$/.test(y) || Number(y) < 1900 || Number(y) > now.getFullYear()) throw new UserError('Année de naissance : quatre chiffres (ce vote a un âge minimum).', 400, 'birthYear');
    if (ageFromBirthYear(Number(y), now) < p.minAge) throw new UserError(`Ce vote est ouvert à partir de ${p.minAge} ans.`, 403, 'birthYear', 'too_young');
  }
}

// ---- proposals ---------------------------------------------------------------------------------

export interface Proposal {
  id: string;
  processId: string;
  number: number;
  title: string;
  body: string;
  category: string | null;
  communeCode: string | null;
  placeUid: string | null;
  authorId: string | null;
  state: State;
  customState: string | null;
  answer: string | null;
  answeredAt: string | null;
  supports: number;
  comments: number;
  hidden: boolean;
  hiddenReason: string | null;
  createdAt: string;
}

const PROPOSAL_COLS = '(extract(epoch from created_at) * 1000000)::bigint AS us, id, process_id, number, title, body, category, commune_code, place_uid, author_id, state, custom_state, answer, answered_at, supports, comments, hidden_at, hidden_reason, created_at';
type ProposalRow = {
  us: number | string; id: string; process_id: string; number: number; title: string; body: string; category: string | null; commune_code: string | null; place_uid: string | null; author_id: string | null;
  state: State; custom_state: string | null; answer: string | null; answered_at: Date | null; supports: number; comments: number; hidden_at: Date | null; hidden_reason: string | null; created_at: Date;
};
const toProposal = (r: ProposalRow): Proposal => ({
  id: r.id, processId: r.process_id, number: r.number, title: r.title, body: r.body, category: r.category, communeCode: r.commune_code, placeUid: r.place_uid, authorId: r.author_id,
  state: r.state, customState: r.custom_state, answer: r.answer, answeredAt: r.answered_at ? new Date(r.answered_at).toISOString() : null, supports: r.supports, comments: r.comments,
  hidden: !!r.hidden_at, hiddenReason: r.hidden_reason, createdAt: new Date(r.created_at).toISOString(),
});

/** The public label of a proposal's state (its custom state's when it has one). */
export function stateLabel(p: Pick<Process, 'customStates'>, pr: Pick<Proposal, 'state' | 'customState'>): string {
  return (pr.customState && p.customStates.find((s) => s.key === pr.customState)?.label) || STATE_LABELS[pr.state];
}

export interface ProposalPage {
  items: Proposal[];
  total: number;
  nextCursor: string | null;
}

/** Proposals of a process, newest first, by keyset cursor; hidden ones only for moderators. */
export async function listProposals(db: Queryable, processId: string, o: { cursor?: string | null; limit?: number; state?: string | null; category?: string | null; withHidden?: boolean } = {}): Promise<ProposalPage> {
  const limit = Math.min(Math.max(o.limit ?? 50, 1), 200);
  const where = ['process_id = $1'];
  const params: unknown[] = [processId];
  if (!o.withHidden) where.push('hidden_at IS NULL');
  if (o.state) {
    params.push(o.state);
    where.push(`state = $${params.length}`);
  }
  if (o.category) {
    params.push(o.category);
    where.push(`category = $${params.length}`);
  }
  const total = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM consultation.proposal WHERE ${where.join(' AND ')}`, params)).rows[0]!.n;
  if (o.cursor) {
    const c = decodeCursor(o.cursor);
    params.push(c.us, c.id);
    where.push(`(created_at, id) < ('epoch'::timestamptz + $${params.length - 1}::bigint * interval '1 microsecond', $${params.length}::uuid)`);
  }
  params.push(limit + 1);
  const { rows } = await db.query<ProposalRow>(`SELECT ${PROPOSAL_COLS} FROM consultation.proposal WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`, params);
  const items = rows.slice(0, limit).map(toProposal);
  const last = rows[limit - 1];
  return { items, total, nextCursor: rows.length > limit && last ? encodeCursor(String(last.us), last.id) : null };
}

/** Keyset cursors carry the exact timestamp (microseconds since the epoch) and the id. */
export function encodeCursor(us: string, id: string): string {
  return Buffer.from(`${us}|${id}`).toString('base64url');
}
export function decodeCursor(s: string): { us: string; id: string } {
  const v = typeof s === 'string' && s.length <= 200 ? Buffer.from(s, 'base64url').toString('utf8') : '';
  const [us, id] = v.split('|');
  if (!us || !id || !isUuid(id) || !/^\d{1,17}$/.test(us)) throw new UserError('Curseur de pagination invalide.', 400, 'cursor');
  return { us, id };
}

export async function getProposal(db: Queryable, processId: string, number: number): Promise<Proposal | null> {
  if (!Number.isSafeInteger(number) || number < 1) return null;
  const { rows } = await db.query<ProposalRow>(`SELECT ${PROPOSAL_COLS} FROM consultation.proposal WHERE process_id = $1 AND number = $2`, [processId, number]);
  return rows[0] ? toProposal(rows[0]) : null;
}

export async function getProposalById(db: Queryable, id: string): Promise<Proposal | null> {
  if (!isUuid(id)) return null;
  const { rows } = await db.query<ProposalRow>(`SELECT ${PROPOSAL_COLS} FROM consultation.proposal WHERE id = $1`, [id]);
  return rows[0] ? toProposal(rows[0]) : null;
}

async function checkWhere(db: Queryable, p: Process, input: ProposalInput): Promise<void> {
  const errors: FieldError[] = [];
  if (input.communeCode) {
    const c = await getCommune(db, input.communeCode);
    if (!c) errors.push({ field: 'communeCode', message: 'Commune : code INSEE inconnu.' });
    else if (c.region !== p.region || (p.departement && c.departement !== p.departement)) errors.push({ field: 'communeCode', message: 'Commune : elle n’est pas sur le territoire de la concertation.' });
  }
  if (input.placeUid && !(await placeExists(db, input.placeUid))) errors.push({ field: 'placeUid', message: 'Lieu : il n’est pas dans l’annuaire.' });
  if (errors.length) throw new ValidationFailed(errors);
}

export async function submitProposal(ctx: Ctx, p: Process, who: Participant | null, input: ProposalInput, now = new Date(), upload: { fileName: string; data: Buffer } | null = null): Promise<Proposal> {
  assertMayTakePart(p, who, 'proposals', now);
  await assertIdentityChecked(ctx.db, p, who!, 'proposals');
  await checkWhere(ctx.db, p, input);
  // The optional file (see proposal-file.ts), checked before anything is written.
  let file: ReturnType<typeof checkProposalFile> | null = null;
  if (upload) {
    try {
      file = checkProposalFile(upload.fileName, upload.data);
    } catch (e) {
      if (e instanceof UserError && e.field === 'file') throw new ValidationFailed([{ field: 'file', message: e.message }]);
      throw e;
    }
  }
  const id = uuid();
  await ctx.db.transaction(async (tx) => {
    // Numbers are per process: the process row's lock serialises concurrent submissions.
    await tx.query('SELECT id FROM consultation.process WHERE id = $1 FOR UPDATE', [p.id]);
    const n = (await tx.query<{ n: number }>('SELECT coalesce(max(number), 0)::int + 1 AS n FROM consultation.proposal WHERE process_id = $1', [p.id])).rows[0]!.n;
    await tx.query(
      `INSERT INTO consultation.proposal (id, process_id, number, title, body, category, commune_code, place_uid, author_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
      [id, p.id, n, input.title, input.body, input.category, input.communeCode, input.placeUid, who!.id],
    );
    await tx.query('INSERT INTO consultation.follower (proposal_id, user_id) VALUES ($1, $2)', [id, who!.id]);
    await recordAudit(tx, { actorId: who!.id, action: 'consultation.proposal.create', objectType: 'consultation.proposal', objectId: id, after: { process: p.slug, number: n, title: input.title } });
    if (file && upload) await storeProposalFile(tx, who!.id, id, file, upload.data, null);
  });
  return (await getProposalById(ctx.db, id))!;
}

/** The author edits while the proposal is not yet being evaluated and proposals are open. */
export async function editProposal(ctx: Ctx, p: Process, who: Participant | null, proposalId: string, input: ProposalInput, now = new Date()): Promise<void> {
  assertMayTakePart(p, who, 'proposals', now);
  await assertIdentityChecked(ctx.db, p, who!, 'proposals');
  await checkWhere(ctx.db, p, input);
  await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<ProposalRow>(`SELECT ${PROPOSAL_COLS} FROM consultation.proposal WHERE id = $1 AND process_id = $2 FOR UPDATE`, [proposalId, p.id]);
    const before = rows[0];
    if (!before) throw new NotFoundError('Proposition introuvable.');
    if (before.author_id !== who!.id) throw new UserError('Seul l’auteur peut modifier sa proposition.', 403, null, 'forbidden');
    if (!editable(before.state)) throw new UserError('Cette proposition est à l’étude ou a reçu une réponse : elle ne peut plus être modifiée.', 409, null, 'not_editable');
    await tx.query('UPDATE consultation.proposal SET title = $2, body = $3, category = $4, commune_code = $5, place_uid = $6, updated_at = now() WHERE id = $1', [proposalId, input.title, input.body, input.category, input.communeCode, input.placeUid]);
    await recordAudit(tx, { actorId: who!.id, action: 'consultation.proposal.update', objectType: 'consultation.proposal', objectId: proposalId, before: { title: before.title, body: before.body }, after: { title: input.title, body: input.body } });
  });
}

export async function withdrawProposal(ctx: Ctx, who: Participant, proposalId: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ author_id: string | null; state: State }>('SELECT author_id, state FROM consultation.proposal WHERE id = $1 FOR UPDATE', [proposalId]);
    const r = rows[0];
    if (!r) throw new NotFoundError('Proposition introuvable.');
    if (r.author_id !== who.id) throw new UserError('Seul l’auteur peut retirer sa proposition.', 403, null, 'forbidden');
    if (!editable(r.state)) throw new UserError('Une proposition à l’étude ou qui a reçu une réponse ne peut plus être retirée.', 409, null, 'not_editable');
    await tx.query(`UPDATE consultation.proposal SET state = 'withdrawn', updated_at = now() WHERE id = $1`, [proposalId]);
    await recordAudit(tx, { actorId: who.id, action: 'consultation.proposal.withdraw', objectType: 'consultation.proposal', objectId: proposalId, before: { state: r.state }, after: { state: 'withdrawn' } });
  });
}

/**
 * One support per person: the primary key (proposal, person) refuses a second one even when two
 * requests race; the counter moves only when a row was really inserted.
 */
export async function support(ctx: Ctx, p: Process, who: Participant | null, proposalId: string, now = new Date()): Promise<{ supports: number }> {
  assertMayTakePart(p, who, 'supports', now);
  await assertIdentityChecked(ctx.db, p, who!, 'supports');
  return ctx.db.transaction(async (tx) => {
    const pr = await tx.query<{ state: State; hidden_at: Date | null }>('SELECT state, hidden_at FROM consultation.proposal WHERE id = $1 AND process_id = $2', [proposalId, p.id]);
    if (!pr.rows[0] || pr.rows[0].hidden_at) throw new NotFoundError('Proposition introuvable.');
    if (pr.rows[0].state === 'withdrawn' || pr.rows[0].state === 'rejected') throw new UserError('Cette proposition ne peut plus être soutenue.', 409, null, 'closed');
    const ins = await tx.query('INSERT INTO consultation.support (proposal_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING proposal_id', [proposalId, who!.id]);
    if (!ins.rows.length) throw new UserError('Vous soutenez déjà cette proposition : un seul soutien par personne.', 409, null, 'already_supported');
    const { rows } = await tx.query<{ supports: number }>('UPDATE consultation.proposal SET supports = supports + 1 WHERE id = $1 RETURNING supports', [proposalId]);
    await tx.query('INSERT INTO consultation.follower (proposal_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [proposalId, who!.id]);
    await recordAudit(tx, { actorId: who!.id, action: 'consultation.support.add', objectType: 'consultation.proposal', objectId: proposalId });
    return rows[0]!;
  });
}

export async function hasSupported(db: Queryable, proposalId: string, userId: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM consultation.support WHERE proposal_id = $1 AND user_id = $2', [proposalId, userId])).rows.length > 0;
}

// ---- comments and moderation ----------------------------------------------------------------------

export interface Comment {
  id: string;
  parentId: string | null;
  authorId: string | null;
  body: string | null;
  hidden: boolean;
  hiddenReason: string | null;
  createdAt: string;
}

/**
 * A page of comments in order (oldest first), keyset on (created_at, id). Hidden comments keep
 * their place in the thread but their text is only returned to moderators.
 */
export async function listComments(db: Queryable, proposalId: string, o: { after?: string | null; limit?: number; moderator?: boolean } = {}): Promise<{ items: Comment[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(o.limit ?? 50, 1), 200);
  const params: unknown[] = [proposalId];
  let cond = '';
  if (o.after) {
    const c = decodeCursor(o.after);
    params.push(c.us, c.id);
    cond = `AND (created_at, id) > ('epoch'::timestamptz + $2::bigint * interval '1 microsecond', $3::uuid)`;
  }
  params.push(limit + 1);
  const { rows } = await db.query<{ us: number | string; id: string; parent_id: string | null; author_id: string | null; body: string; hidden_at: Date | null; hidden_reason: string | null; created_at: Date }>(
    `SELECT (extract(epoch from created_at) * 1000000)::bigint AS us, id, parent_id, author_id, body, hidden_at, hidden_reason, created_at FROM consultation.comment WHERE proposal_id = $1 ${cond} ORDER BY created_at, id LIMIT $${params.length}`,
    params,
    { prepare: true },
  );
  const items = rows.slice(0, limit).map((r) => ({
    id: r.id, parentId: r.parent_id, authorId: r.author_id, body: r.hidden_at && !o.moderator ? null : r.body, hidden: !!r.hidden_at, hiddenReason: r.hidden_reason, createdAt: new Date(r.created_at).toISOString(),
  }));
  const last = rows[limit - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(String(last.us), last.id) : null };
}

export async function addComment(ctx: Ctx, p: Process, who: Participant | null, proposalId: string, form: Record<string, unknown>, now = new Date()): Promise<string> {
  const errors: FieldError[] = [];
  const body = text(form, 'body', 'Commentaire', LIMITS.comment, errors, { required: true, min: 2 });
  const parentRaw = typeof form.parentId === 'string' ? form.parentId : '';
  if (parentRaw && !isUuid(parentRaw)) errors.push({ field: 'parentId', message: 'Réponse : commentaire inconnu.' });
  if (errors.length) throw new ValidationFailed(errors);
  assertMayTakePart(p, who, 'comments', now);
  await assertIdentityChecked(ctx.db, p, who!, 'comments');
  const id = uuid();
  await ctx.db.transaction(async (tx) => {
    const pr = await tx.query<{ hidden_at: Date | null }>('SELECT hidden_at FROM consultation.proposal WHERE id = $1 AND process_id = $2', [proposalId, p.id]);
    if (!pr.rows[0] || pr.rows[0].hidden_at) throw new NotFoundError('Proposition introuvable.');
    if (parentRaw) {
      const parent = await tx.query<{ hidden_at: Date | null }>('SELECT hidden_at FROM consultation.comment WHERE id = $1 AND proposal_id = $2', [parentRaw, proposalId]);
      if (!parent.rows[0]) throw new UserError('Réponse : le commentaire auquel vous répondez n’existe pas sur cette proposition.', 400, 'parentId');
      if (parent.rows[0].hidden_at) throw new UserError('Réponse : ce commentaire a été masqué par la modération.', 409, 'parentId');
    }
    await tx.query('INSERT INTO consultation.comment (id, proposal_id, parent_id, author_id, body) VALUES ($1,$2,$3,$4,$5)', [id, proposalId, parentRaw || null, who!.id, body]);
    await tx.query('UPDATE consultation.proposal SET comments = comments + 1 WHERE id = $1', [proposalId]);
    await recordAudit(tx, { actorId: who!.id, action: 'consultation.comment.create', objectType: 'consultation.comment', objectId: id, meta: { proposal: proposalId } });
  });
  return id;
}

/** What can be reported and moderated: proposals, their comments, debates' arguments and comments. */
export type ReportKind = 'proposal' | 'comment' | 'contribution';
export const isReportKind = (k: string): k is ReportKind => k === 'proposal' || k === 'comment' || k === 'contribution';
const KIND_TABLE: Record<ReportKind, string> = { proposal: 'consultation.proposal', comment: 'consultation.comment', contribution: 'consultation.debate_contribution' };

async function targetProcess(db: Queryable, kind: ReportKind, id: string): Promise<string | null> {
  if (!isUuid(id)) return null;
  const sql = kind === 'proposal' ? 'SELECT process_id FROM consultation.proposal WHERE id = $1'
    : kind === 'comment' ? 'SELECT p.process_id FROM consultation.comment c JOIN consultation.proposal p ON p.id = c.proposal_id WHERE c.id = $1'
    : 'SELECT d.process_id FROM consultation.debate_contribution c JOIN consultation.debate d ON d.id = c.debate_id WHERE c.id = $1';
  return (await db.query<{ process_id: string }>(sql, [id])).rows[0]?.process_id ?? null;
}

/** The process a reported object belongs to (for the moderator's permission check). */
export async function processOfTarget(db: Queryable, kind: string, id: string): Promise<Process | null> {
  if (!isReportKind(kind)) return null;
  const pid = await targetProcess(db, kind, id);
  return pid ? getProcessById(db, pid) : null;
}

export async function report(ctx: Ctx, who: Participant | null, kind: string, targetId: string, form: Record<string, unknown>): Promise<void> {
  if (!who) throw new UserError('Connectez-vous pour signaler un contenu.', 401, null, 'unauthenticated');
  if (!isReportKind(kind)) throw new UserError('Type de contenu inconnu.', 400, 'kind');
  const reason = typeof form.reason === 'string' ? form.reason : '';
  const errors: FieldError[] = [];
  if (!Object.hasOwn(REPORT_REASONS, reason)) errors.push({ field: 'reason', message: 'Motif : choisissez un motif de la liste.' });
  const details = text(form, 'details', 'Précisions', LIMITS.reason, errors);
  if (errors.length) throw new ValidationFailed(errors);
  const processId = await targetProcess(ctx.db, kind, targetId);
  if (!processId) throw new NotFoundError('Contenu introuvable.');
  await ctx.db.transaction(async (tx) => {
    const ins = await tx.query(
      `INSERT INTO consultation.report (id, target_kind, target_id, process_id, reporter_id, reason, details) VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING RETURNING id`,
      [uuid(), kind, targetId, processId, who.id, reason, details || null],
    );
    if (!ins.rows.length) throw new UserError('Vous avez déjà signalé ce contenu ; la modération va l’examiner.', 409, null, 'already_reported');
    await recordAudit(tx, { actorId: who.id, action: 'consultation.report.create', objectType: `consultation.${kind}`, objectId: targetId, after: { reason } });
  });
}

export interface QueueItem {
  kind: ReportKind;
  id: string;
  excerpt: string;
  hidden: boolean;
  reports: number;
  reasons: string[];
  proposalNumber: number;
  /** For a debate's contribution: the debate's title. */
  debate: string | null;
}

/** Reported content of a process not yet dealt with, most reported first. */
export async function moderationQueue(db: Queryable, processId: string): Promise<QueueItem[]> {
  const { rows } = await db.query<{ target_kind: ReportKind; target_id: string; n: number; reasons: string[] }>(
    `SELECT target_kind, target_id, count(*)::int AS n, array_agg(DISTINCT reason) AS reasons FROM consultation.report
      WHERE process_id = $1 AND resolved_at IS NULL GROUP BY target_kind, target_id ORDER BY n DESC, target_id LIMIT 200`,
    [processId],
  );
  const out: QueueItem[] = [];
  for (const r of rows) {
    const q = r.target_kind === 'contribution'
      ? await db.query<{ excerpt: string; hidden: boolean; number: number; debate: string }>('SELECT left(c.body, 300) AS excerpt, c.hidden_at IS NOT NULL AS hidden, 0 AS number, d.title AS debate FROM consultation.debate_contribution c JOIN consultation.debate d ON d.id = c.debate_id WHERE c.id = $1', [r.target_id])
      : r.target_kind === 'proposal'
      ? await db.query<{ excerpt: string; hidden: boolean; number: number }>('SELECT left(title || ' + "' — '" + ' || body, 300) AS excerpt, hidden_at IS NOT NULL AS hidden, number FROM consultation.proposal WHERE id = $1', [r.target_id])
      : await db.query<{ excerpt: string; hidden: boolean; number: number }>('SELECT left(c.body, 300) AS excerpt, c.hidden_at IS NOT NULL AS hidden, p.number FROM consultation.comment c JOIN consultation.proposal p ON p.id = c.proposal_id WHERE c.id = $1', [r.target_id]);
    const t = q.rows[0];
    if (t) out.push({ kind: r.target_kind, id: r.target_id, excerpt: t.excerpt, hidden: t.hidden, reports: r.n, reasons: r.reasons, proposalNumber: t.number, debate: (t as { debate?: string }).debate ?? null });
  }
  return out;
}

/**
 * A moderator hides a proposal or a comment with a reason (shown in place of the text and in the
 * moderation log), or dismisses its reports. Audited; the reports are resolved.
 */
export async function moderate(ctx: Ctx, moderatorId: string, kind: string, targetId: string, decision: string, reasonRaw: unknown): Promise<void> {
  if (!isReportKind(kind)) throw new UserError('Type de contenu inconnu.', 400, 'kind');
  if (decision !== 'hide' && decision !== 'dismiss') throw new UserError('Décision : « hide » ou « dismiss ».', 400, 'decision');
  const errors: FieldError[] = [];
  const reason = text({ reason: reasonRaw }, 'reason', 'Motif', LIMITS.reason, errors, { required: decision === 'hide', min: decision === 'hide' ? 5 : 0 });
  if (errors.length) throw new ValidationFailed(errors);
  await ctx.db.transaction(async (tx) => {
    const table = KIND_TABLE[kind];
    const { rows } = await tx.query<{ hidden_at: Date | null }>(`SELECT hidden_at FROM ${table} WHERE id = $1 FOR UPDATE`, [targetId]);
    if (!rows[0]) throw new NotFoundError('Contenu introuvable.');
    if (decision === 'hide') {
      if (rows[0].hidden_at) throw new UserError('Ce contenu est déjà masqué.', 409, null, 'already_hidden');
      await tx.query(`UPDATE ${table} SET hidden_at = now(), hidden_reason = $2 WHERE id = $1`, [targetId, reason]);
    }
    await tx.query(`UPDATE consultation.report SET resolved_at = now(), resolution = $3 WHERE target_kind = $1 AND target_id = $2 AND resolved_at IS NULL`, [kind, targetId, decision === 'hide' ? 'hidden' : 'dismissed']);
    await recordAudit(tx, { actorId: moderatorId, action: decision === 'hide' ? 'consultation.moderation.hide' : 'consultation.moderation.dismiss', objectType: `consultation.${kind}`, objectId: targetId, after: decision === 'hide' ? { hidden: true, reason } : { dismissed: true }, meta: reason ? { reason } : null });
  });
}

/** The public moderation log of a process: what was hidden, when and why (never who reported). */
export async function moderationLog(db: Queryable, processId: string): Promise<{ kind: string; number: number; at: string; reason: string }[]> {
  const { rows } = await db.query<{ kind: string; number: number; at: Date; reason: string }>(
    `SELECT 'proposal' AS kind, number, hidden_at AS at, hidden_reason AS reason FROM consultation.proposal WHERE process_id = $1 AND hidden_at IS NOT NULL
     UNION ALL
     SELECT 'comment', p.number, c.hidden_at, c.hidden_reason FROM consultation.comment c JOIN consultation.proposal p ON p.id = c.proposal_id WHERE p.process_id = $1 AND c.hidden_at IS NOT NULL
     UNION ALL
     SELECT 'contribution', 0, c.hidden_at, c.hidden_reason || ' (débat « ' || d.title || ' »)' FROM consultation.debate_contribution c JOIN consultation.debate d ON d.id = c.debate_id WHERE d.process_id = $1 AND c.hidden_at IS NOT NULL
     ORDER BY at DESC LIMIT 500`,
    [processId],
  );
  return rows.map((r) => ({ kind: r.kind, number: r.number, at: new Date(r.at).toISOString(), reason: r.reason }));
}

// ---- official answers, valuators -----------------------------------------------------------------

/**
 * Staff publish an official answer with the state change; the authors and followers are told by
 * e-mail (through `notify`, the platform's mailer). Audited.
 */
export async function answerProposal(ctx: Ctx, p: Process, actorId: string, proposalId: string, form: Record<string, unknown>, notify: Notify, emailsOf: (ids: string[]) => Promise<string[]>): Promise<void> {
  const errors: FieldError[] = [];
  const stateRaw = typeof form.state === 'string' ? form.state : '';
  let state: State | null = null;
  let customState: string | null = null;
  if (isAnswerState(stateRaw)) state = stateRaw;
  else {
    const cs = p.customStates.find((s) => `custom:${s.key}` === stateRaw);
    if (cs) {
      state = cs.base as State;
      customState = cs.key;
    } else errors.push({ field: 'state', message: 'État : choisissez un état de la liste.' });
  }
  const answer = text(form, 'answer', 'Réponse', LIMITS.answer, errors, { required: state !== 'evaluating', min: 10 });
  if (errors.length) throw new ValidationFailed(errors);
  let followers: string[] = [];
  let title = '';
  let number = 0;
  await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ state: State; custom_state: string | null; answer: string | null; title: string; number: number }>('SELECT state, custom_state, answer, title, number FROM consultation.proposal WHERE id = $1 AND process_id = $2 FOR UPDATE', [proposalId, p.id]);
    const before = rows[0];
    if (!before) throw new NotFoundError('Proposition introuvable.');
    if (before.state === 'withdrawn') throw new UserError('Cette proposition a été retirée par son auteur.', 409, 'state');
    await tx.query('UPDATE consultation.proposal SET state = $2, custom_state = $3, answer = $4, answered_at = now(), updated_at = now() WHERE id = $1', [proposalId, state, customState, answer || null]);
    await recordAudit(tx, { actorId, action: 'consultation.proposal.answer', objectType: 'consultation.proposal', objectId: proposalId, before: { state: before.state, customState: before.custom_state, answer: before.answer }, after: { state, customState, answer } });
    followers = (await tx.query<{ user_id: string }>('SELECT user_id FROM consultation.follower WHERE proposal_id = $1', [proposalId])).rows.map((r) => r.user_id);
    title = before.title;
    number = before.number;
  });
  const label = stateLabel(p, { state: state!, customState });
  for (const to of await emailsOf(followers)) {
    await notify({ to, subject: `Réponse officielle : « ${title} »`, text: `La proposition n° ${number} « ${title} » (${p.title}) a reçu une réponse officielle.\n\nÉtat : ${label}\n\n${answer}\n\nLa proposition : /concertations/${p.slug}/propositions/${number}\n` }).catch(() => undefined);
  }
}

export async function assignValuator(ctx: Ctx, actorId: string, proposalId: string, userId: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const ins = await tx.query('INSERT INTO consultation.valuator (proposal_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING user_id', [proposalId, userId]);
    if (!ins.rows.length) throw new UserError('Cette personne évalue déjà la proposition.', 409, 'userId');
    await tx.query(`UPDATE consultation.proposal SET state = 'evaluating' WHERE id = $1 AND state = 'not_answered'`, [proposalId]);
    await recordAudit(tx, { actorId, action: 'consultation.valuator.assign', objectType: 'consultation.proposal', objectId: proposalId, after: { valuator: userId } });
  });
}

export async function isValuator(db: Queryable, proposalId: string, userId: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM consultation.valuator WHERE proposal_id = $1 AND user_id = $2', [proposalId, userId])).rows.length > 0;
}

export async function valuatorsOf(db: Queryable, proposalId: string): Promise<string[]> {
  return (await db.query<{ user_id: string }>('SELECT user_id FROM consultation.valuator WHERE proposal_id = $1 ORDER BY user_id', [proposalId])).rows.map((r) => r.user_id);
}

export async function addNote(ctx: Ctx, actorId: string, proposalId: string, form: Record<string, unknown>): Promise<void> {
  const errors: FieldError[] = [];
  const body = text(form, 'note', 'Note', LIMITS.note, errors, { required: true, min: 2 });
  if (errors.length) throw new ValidationFailed(errors);
  await ctx.db.transaction(async (tx) => {
    await tx.query('INSERT INTO consultation.note (id, proposal_id, author_id, body) VALUES ($1,$2,$3,$4)', [uuid(), proposalId, actorId, body]);
    await recordAudit(tx, { actorId, action: 'consultation.note.create', objectType: 'consultation.proposal', objectId: proposalId });
  });
}

export async function notesOf(db: Queryable, proposalId: string): Promise<{ authorId: string; body: string; createdAt: string }[]> {
  const { rows } = await db.query<{ author_id: string; body: string; created_at: Date }>('SELECT author_id, body, created_at FROM consultation.note WHERE proposal_id = $1 ORDER BY created_at', [proposalId]);
  return rows.map((r) => ({ authorId: r.author_id, body: r.body, createdAt: new Date(r.created_at).toISOString() }));
}

// ---- participatory budgets ---------------------------------------------------------------------

export interface Budget extends BudgetRule {
  id: string;
  processId: string;
  slug: string;
  title: string;
  departement: string | null;
}

export interface Project {
  id: string;
  budgetId: string;
  title: string;
  description: string;
  costCents: number;
  communeCode: string | null;
  proposalId: string | null;
}

type BudgetRow = { id: string; process_id: string; slug: string; title: string; departement: string | null; amount_cents: number; rule: Rule; threshold_pct: number; min_projects: number; max_projects: number | null };
const toBudget = (r: BudgetRow): Budget => ({
  id: r.id, processId: r.process_id, slug: r.slug, title: r.title, departement: r.departement, amountCents: Number(r.amount_cents), rule: r.rule, thresholdPct: r.threshold_pct, minProjects: r.min_projects, maxProjects: r.max_projects,
});

export async function listBudgets(db: Queryable, processId: string): Promise<Budget[]> {
  return (await db.query<BudgetRow>('SELECT * FROM consultation.budget WHERE process_id = $1 ORDER BY departement NULLS FIRST, slug', [processId])).rows.map(toBudget);
}

export async function getBudget(db: Queryable, processId: string, slug: string): Promise<Budget | null> {
  if (typeof slug !== 'string' || !/^[a-z0-9][a-z0-9-]{0,79}$/.test(slug)) return null;
  const { rows } = await db.query<BudgetRow>('SELECT * FROM consultation.budget WHERE process_id = $1 AND slug = $2', [processId, slug]);
  return rows[0] ? toBudget(rows[0]) : null;
}

export async function createBudget(ctx: Ctx, actorId: string | null, processId: string, b: Omit<Budget, 'id' | 'processId'>): Promise<string> {
  const id = uuid();
  await uniqueAs409(() => ctx.db.transaction(async (tx) => {
    const dup = await tx.query('SELECT 1 FROM consultation.budget WHERE process_id = $1 AND slug = $2', [processId, b.slug]);
    if (dup.rows.length) throw new UserError('Un budget de cette concertation porte déjà cette adresse.', 409, 'slug');
    await tx.query(
      'INSERT INTO consultation.budget (id, process_id, slug, title, departement, amount_cents, rule, threshold_pct, min_projects, max_projects) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)',
      [id, processId, b.slug, b.title, b.departement, b.amountCents, b.rule, b.thresholdPct, b.minProjects, b.maxProjects],
    );
    await recordAudit(tx, { actorId, action: 'consultation.budget.create', objectType: 'consultation.budget', objectId: id, after: b });
  }), 'Un budget de cette concertation porte déjà cette adresse.');
  return id;
}

/**
 * Edits a budget (title, département, amount, rule and its numbers; the address stays). Once
 * someone has confirmed a vote in it, only the title may change: the rule a vote was checked
 * against cannot move under it. Row locked; audited before/after.
 */
export async function updateBudget(ctx: Ctx, actorId: string, b: Budget, input: Omit<Budget, 'id' | 'processId' | 'slug'>): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<BudgetRow>('SELECT * FROM consultation.budget WHERE id = $1 FOR UPDATE', [b.id]);
    if (!rows[0]) throw new NotFoundError('Budget introuvable.');
    const before = toBudget(rows[0]);
    const votes = (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.basket WHERE budget_id = $1 AND checked_out_at IS NOT NULL', [b.id])).rows[0]!.n;
    const ruleChanged = (['departement', 'amountCents', 'rule', 'thresholdPct', 'minProjects', 'maxProjects'] as const).some((k) => before[k] !== input[k]);
    if (votes > 0 && ruleChanged) throw new UserError(`Règle de vote : ${votes > 1 ? `${votes} votes sont` : 'un vote est'} déjà confirmé${votes > 1 ? 's' : ''} dans ce budget ; seul le titre peut encore changer.`, 409, 'rule', 'budget_voted');
    // A project costing more than the whole budget could never be chosen (project writes lock this
    // row too, so none is added at a higher cost meanwhile).
    if (input.amountCents < before.amountCents) {
      const over = (await tx.query<{ title: string; cost_cents: string | number }>('SELECT title, cost_cents FROM consultation.project WHERE budget_id = $1 AND cost_cents > $2 ORDER BY cost_cents DESC, title LIMIT 1', [b.id, input.amountCents])).rows[0];
      if (over) throw new UserError(`Montant : le projet « ${over.title} » coûte ${euros(Number(over.cost_cents))}, plus que ce montant ; baissez d’abord son coût.`, 409, 'amount', 'budget_below_project');
    }
    await tx.query('UPDATE consultation.budget SET title = $2, departement = $3, amount_cents = $4, rule = $5, threshold_pct = $6, min_projects = $7, max_projects = $8 WHERE id = $1',
      [b.id, input.title, input.departement, input.amountCents, input.rule, input.thresholdPct, input.minProjects, input.maxProjects]);
    const { id: _i, processId: _p, slug: _s, ...beforeFields } = before;
    await recordAudit(tx, { actorId, action: 'consultation.budget.update', objectType: 'consultation.budget', objectId: b.id, before: beforeFields, after: input });
  });
}

/** A project of a budget, created by staff or from an accepted proposal. */
export async function createProject(ctx: Ctx, actorId: string | null, budgetId: string, pr: { title: string; description?: string; costCents: number; communeCode?: string | null; proposalId?: string | null }): Promise<string> {
  const id = uuid();
  await ctx.db.transaction(async (tx) => {
    if (pr.proposalId) {
      const s = await tx.query<{ state: State }>('SELECT state FROM consultation.proposal WHERE id = $1 FOR SHARE', [pr.proposalId]);
      if (s.rows[0]?.state !== 'accepted') throw new UserError('Seule une proposition retenue peut devenir un projet.', 409, 'proposalId');
    }
    await tx.query('INSERT INTO consultation.project (id, budget_id, title, description, cost_cents, commune_code, proposal_id) VALUES ($1,$2,$3,$4,$5,$6,$7)', [id, budgetId, pr.title, pr.description ?? '', pr.costCents, pr.communeCode ?? null, pr.proposalId ?? null]);
    await recordAudit(tx, { actorId, action: 'consultation.project.create', objectType: 'consultation.project', objectId: id, after: { budgetId, title: pr.title, costCents: pr.costCents } });
  });
  return id;
}

export async function listProjects(db: Queryable, budgetId: string): Promise<Project[]> {
  const { rows } = await db.query<{ id: string; budget_id: string; title: string; description: string; cost_cents: number; commune_code: string | null; proposal_id: string | null }>(
    'SELECT id, budget_id, title, description, cost_cents, commune_code, proposal_id FROM consultation.project WHERE budget_id = $1 ORDER BY title, id', [budgetId]);
  return rows.map((r) => ({ id: r.id, budgetId: r.budget_id, title: r.title, description: r.description, costCents: Number(r.cost_cents), communeCode: r.commune_code, proposalId: r.proposal_id }));
}

export interface BasketView {
  projectIds: string[];
  totalCents: number;
  checkedOut: boolean;
  /** When one budget per person: the budget already voted in, if another one. */
  votedElsewhere: string | null;
  /** The `random` workflow: the budget drawn for the person (null until drawn, or another workflow). */
  assigned: AssignedBudget | null;
}

export async function basketOf(db: Queryable, p: Process, b: Budget, userId: string): Promise<BasketView> {
  const { rows } = await db.query<{ project_id: string | null; cost_cents: number | null; checked_out_at: Date | null }>(
    `SELECT i.project_id, pr.cost_cents, bk.checked_out_at FROM consultation.basket bk LEFT JOIN consultation.basket_item i ON i.basket_id = bk.id LEFT JOIN consultation.project pr ON pr.id = i.project_id
      WHERE bk.budget_id = $1 AND bk.user_id = $2`, [b.id, userId]);
  const items = rows.filter((r) => r.project_id);
  let votedElsewhere: string | null = null;
  if (p.budgetWorkflow !== 'all') {
    const other = await db.query<{ title: string }>(
      `SELECT bu.title FROM consultation.ballot ba JOIN consultation.basket bk ON bk.id = ba.basket_id JOIN consultation.budget bu ON bu.id = bk.budget_id WHERE ba.scope_id = $1 AND ba.user_id = $2 AND bk.budget_id <> $3`,
      [p.id, userId, b.id]);
    votedElsewhere = other.rows[0]?.title ?? null;
  }
  let assigned: AssignedBudget | null = null;
  if (p.budgetWorkflow === 'random') assigned = await assignedBudget(db, p.id, userId);
  return { projectIds: items.map((r) => r.project_id!), totalCents: items.reduce((s, r) => s + Number(r.cost_cents), 0), checkedOut: !!rows[0]?.checked_out_at, votedElsewhere, assigned };
}

export interface AssignedBudget { id: string; slug: string; title: string }

/** The budget a person was assigned by the `random` workflow, if the draw was made. */
export async function assignedBudget(db: Queryable, processId: string, userId: string): Promise<AssignedBudget | null> {
  const { rows } = await db.query<AssignedBudget>(
    'SELECT bu.id, bu.slug, bu.title FROM consultation.budget_assignment a JOIN consultation.budget bu ON bu.id = a.budget_id WHERE a.process_id = $1 AND a.user_id = $2', [processId, userId]);
  return rows[0] ?? null;
}

/**
 * The `random` workflow: draws one of the process's budgets for the person, once (uniformly, with
 * the CSPRNG), and keeps it: the primary key (process, person) and `ON CONFLICT DO NOTHING` make
 * concurrent first visits agree on one draw, and nothing ever changes it. Made when the person
 * first opens a budget page or sends a basket request, in its own transaction (a refused basket
 * request does not undo the draw, so replaying requests cannot draw again). Audited.
 */
export async function ensureAssignedBudget(ctx: Ctx, p: Process, userId: string): Promise<AssignedBudget | null> {
  if (p.budgetWorkflow !== 'random') return null;
  const existing = await assignedBudget(ctx.db, p.id, userId);
  if (existing) return existing;
  const budgets = await listBudgets(ctx.db, p.id);
  if (!budgets.length) return null;
  const drawn = budgets[crypto.randomInt(budgets.length)]!;
  await ctx.db.transaction(async (tx) => {
    const ins = await tx.query('INSERT INTO consultation.budget_assignment (process_id, user_id, budget_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING budget_id', [p.id, userId, drawn.id]);
    if (ins.rows.length) await recordAudit(tx, { actorId: userId, action: 'consultation.budget.assign', objectType: 'consultation.budget', objectId: drawn.id });
  });
  return assignedBudget(ctx.db, p.id, userId);
}

/** The ballot's scope: the process when one vote per person (`one`, `random`), the budget when `all`. */
const ballotScope = (p: Process, b: Budget) => (p.budgetWorkflow === 'all' ? b.id : p.id);

/** Locks (creating it if needed) the person's basket for a budget; refuses when already final. */
async function lockBasket(tx: Queryable, p: Process, b: Budget, userId: string): Promise<string> {
  await tx.query('INSERT INTO consultation.basket (id, budget_id, user_id) VALUES ($1, $2, $3) ON CONFLICT (budget_id, user_id) DO NOTHING', [uuid(), b.id, userId]);
  const { rows } = await tx.query<{ id: string; checked_out_at: Date | null }>('SELECT id, checked_out_at FROM consultation.basket WHERE budget_id = $1 AND user_id = $2 FOR UPDATE', [b.id, userId]);
  if (rows[0]!.checked_out_at) throw new UserError('Votre vote est déjà confirmé : il est définitif.', 409, null, 'already_voted');
  if (p.budgetWorkflow === 'random') {
    const a = await tx.query<{ budget_id: string }>('SELECT budget_id FROM consultation.budget_assignment WHERE process_id = $1 AND user_id = $2', [p.id, userId]);
    if (a.rows[0]?.budget_id !== b.id) throw new UserError('Ce budget n’est pas le vôtre : dans cette concertation, chaque votant vote dans le budget qui lui a été attribué au hasard.', 403, null, 'not_assigned_budget');
  }
  const ballot = await tx.query('SELECT 1 FROM consultation.ballot WHERE scope_id = $1 AND user_id = $2', [ballotScope(p, b), userId]);
  if (ballot.rows.length) throw new UserError('Vous avez déjà voté dans un autre budget de cette concertation (un seul budget par personne).', 409, null, 'already_voted');
  return rows[0]!.id;
}

async function basketCosts(tx: Queryable, basketId: string): Promise<number[]> {
  return (await tx.query<{ cost_cents: number }>('SELECT pr.cost_cents FROM consultation.basket_item i JOIN consultation.project pr ON pr.id = i.project_id WHERE i.basket_id = $1', [basketId])).rows.map((r) => Number(r.cost_cents));
}

/** Adds a project to the person's basket: never beyond the budget, even with concurrent requests. */
export async function addToBasket(ctx: Ctx, p: Process, b: Budget, who: Participant | null, projectId: string, now = new Date()): Promise<BasketView> {
  assertMayTakePart(p, who, 'votes', now);
  await assertIdentityChecked(ctx.db, p, who!, 'votes');
  await ensureAssignedBudget(ctx, p, who!.id);
  if (!isUuid(projectId)) throw new UserError('Projet inconnu.', 400, 'projectId');
  await ctx.db.transaction(async (tx) => {
    const pr = await tx.query<{ cost_cents: number }>('SELECT cost_cents FROM consultation.project WHERE id = $1 AND budget_id = $2 FOR SHARE', [projectId, b.id]);
    if (!pr.rows[0]) throw new UserError('Ce projet ne fait pas partie de ce budget.', 400, 'projectId');
    const basketId = await lockBasket(tx, p, b, who!.id);
    const already = await tx.query('SELECT 1 FROM consultation.basket_item WHERE basket_id = $1 AND project_id = $2', [basketId, projectId]);
    if (already.rows.length) throw new UserError('Ce projet est déjà dans votre panier.', 409, 'projectId');
    const problem = addProblem(b, await basketCosts(tx, basketId), Number(pr.rows[0].cost_cents));
    if (problem) throw new UserError(problem, 409, 'projectId', 'over_budget');
    await tx.query('INSERT INTO consultation.basket_item (basket_id, project_id) VALUES ($1, $2)', [basketId, projectId]);
  });
  return basketOf(ctx.db, p, b, who!.id);
}

export async function removeFromBasket(ctx: Ctx, p: Process, b: Budget, who: Participant | null, projectId: string, now = new Date()): Promise<BasketView> {
  assertMayTakePart(p, who, 'votes', now);
  await assertIdentityChecked(ctx.db, p, who!, 'votes');
  await ensureAssignedBudget(ctx, p, who!.id);
  if (!isUuid(projectId)) throw new UserError('Projet inconnu.', 400, 'projectId');
  await ctx.db.transaction(async (tx) => {
    const basketId = await lockBasket(tx, p, b, who!.id);
    const del = await tx.query('DELETE FROM consultation.basket_item WHERE basket_id = $1 AND project_id = $2 RETURNING project_id', [basketId, projectId]);
    if (!del.rows.length) throw new UserError('Ce projet n’est pas dans votre panier.', 409, 'projectId');
  });
  return basketOf(ctx.db, p, b, who!.id);
}

/**
 * Confirms the basket: checked against the rule, then final. The ballot's unique key (person ×
 * process, or person × budget when all budgets may be voted) refuses a second vote even when two
 * checkouts race. No shared counter is touched (the tally counts checked-out baskets), so checkouts
 * of different people never wait on each other but for the audit chain's head. Audited without its content
 * (who voted what is never recorded outside the basket itself).
 */
export async function checkout(ctx: Ctx, p: Process, b: Budget, who: Participant | null, declared: { postalCode?: string; birthYear?: string }, now = new Date()): Promise<void> {
  assertMayTakePart(p, who, 'votes', now);
  const check = await assertIdentityChecked(ctx.db, p, who!, 'votes');
  await ensureAssignedBudget(ctx, p, who!.id);
  await assertEligibleVoter(ctx.db, p, b.departement, declared, now, check);
  await ctx.db.transaction(async (tx) => {
    const basketId = await lockBasket(tx, p, b, who!.id);
    const items = (await tx.query<{ project_id: string; cost_cents: number }>('SELECT pr.id AS project_id, pr.cost_cents FROM consultation.basket_item i JOIN consultation.project pr ON pr.id = i.project_id WHERE i.basket_id = $1 ORDER BY pr.id', [basketId])).rows;
    const problem = basketProblem(b, items.map((i) => Number(i.cost_cents)));
    if (problem) throw new UserError(problem, 422, 'basket', 'rule_not_met');
    const ins = await tx.query('INSERT INTO consultation.ballot (scope_id, user_id, basket_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING user_id', [ballotScope(p, b), who!.id, basketId]);
    if (!ins.rows.length) throw new UserError('Vous avez déjà voté : un seul vote par personne.', 409, null, 'already_voted');
    await tx.query('UPDATE consultation.basket SET checked_out_at = now() WHERE id = $1', [basketId]);
    // Last: the audit chain's head lock is held from here to the commit only.
    await recordAudit(tx, { actorId: who!.id, action: 'consultation.vote.checkout', objectType: 'consultation.budget', objectId: b.id });
  });
}

export interface TallyRow extends Project {
  votes: number;
  rank: number;
  funded: boolean;
}

/** Votes per project ranked within the budget (totals only, never who voted what). */
export async function tally(db: Queryable, b: Budget): Promise<{ voters: number; projects: TallyRow[] }> {
  const projects = await listProjects(db, b.id);
  const votes = await recount(db, b.id);
  const voters = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.basket WHERE budget_id = $1 AND checked_out_at IS NOT NULL', [b.id])).rows[0]!.n;
  return { voters, projects: rankWithinBudget(b.amountCents, projects.map((pr) => ({ ...pr, votes: votes.get(pr.id) ?? 0 }))) };
}

/** Votes per project: the checked-out baskets' lines, counted. */
export async function recount(db: Queryable, budgetId: string): Promise<Map<string, number>> {
  const { rows } = await db.query<{ project_id: string; n: number }>(
    `SELECT i.project_id, count(*)::int AS n FROM consultation.basket_item i JOIN consultation.basket bk ON bk.id = i.basket_id WHERE bk.budget_id = $1 AND bk.checked_out_at IS NOT NULL GROUP BY i.project_id`, [budgetId]);
  return new Map(rows.map((r) => [r.project_id, r.n]));
}

// ---- meetings ------------------------------------------------------------------------------------

export interface Meeting {
  id: string;
  processId: string;
  title: string;
  description: string;
  startsAt: string;
  endsAt: string;
  departement: string | null;
  placeUid: string | null;
  address: string | null;
  onlineUrl: string | null;
  capacity: number | null;
  registered: number;
  minutes: string | null;
}

type MeetingRow = { id: string; process_id: string; title: string; description: string; starts_at: Date; ends_at: Date; departement: string | null; place_uid: string | null; address: string | null; online_url: string | null; capacity: number | null; registered: number; minutes: string | null };
const toMeeting = (r: MeetingRow): Meeting => ({
  id: r.id, processId: r.process_id, title: r.title, description: r.description, startsAt: new Date(r.starts_at).toISOString(), endsAt: new Date(r.ends_at).toISOString(), departement: r.departement,
  placeUid: r.place_uid, address: r.address, onlineUrl: r.online_url, capacity: r.capacity, registered: r.registered, minutes: r.minutes,
});

export async function listMeetings(db: Queryable, processId: string): Promise<Meeting[]> {
  return (await db.query<MeetingRow>('SELECT * FROM consultation.meeting WHERE process_id = $1 ORDER BY starts_at, departement NULLS FIRST, title', [processId])).rows.map(toMeeting);
}

export async function getMeeting(db: Queryable, processId: string, id: string): Promise<Meeting | null> {
  if (!isUuid(id)) return null;
  const { rows } = await db.query<MeetingRow>('SELECT * FROM consultation.meeting WHERE process_id = $1 AND id = $2', [processId, id]);
  return rows[0] ? toMeeting(rows[0]) : null;
}

export async function createMeeting(ctx: Ctx, actorId: string | null, processId: string, m: Omit<Meeting, 'id' | 'processId' | 'registered' | 'minutes'> & { minutes?: string | null }): Promise<string> {
  if (!m.placeUid && !m.address && !m.onlineUrl) throw new UserError('Lieu : choisissez un lieu de l’annuaire, une adresse ou un lien de visioconférence.', 400, 'placeUid');
  if (m.onlineUrl && !/^https:\/\/[^\s]{4,500}$/.test(m.onlineUrl)) throw new UserError('Lien : une adresse https://.', 400, 'onlineUrl');
  const id = uuid();
  await ctx.db.transaction(async (tx) => {
    await tx.query(
      'INSERT INTO consultation.meeting (id, process_id, title, description, starts_at, ends_at, departement, place_uid, address, online_url, capacity, minutes) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)',
      [id, processId, m.title, m.description, m.startsAt, m.endsAt, m.departement, m.placeUid, m.address, m.onlineUrl, m.capacity, m.minutes ?? null],
    );
    await recordAudit(tx, { actorId, action: 'consultation.meeting.create', objectType: 'consultation.meeting', objectId: id, after: { title: m.title, startsAt: m.startsAt } });
  });
  return id;
}

/**
 * Edits a meeting: text, dates, where, capacity (never below the people already registered —
 * checked under the row lock, so a registration arriving meanwhile is counted). Audited.
 */
export async function updateMeeting(ctx: Ctx, actorId: string, m: Meeting, input: Omit<Meeting, 'id' | 'processId' | 'registered' | 'minutes'>): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<MeetingRow>('SELECT * FROM consultation.meeting WHERE id = $1 FOR UPDATE', [m.id]);
    if (!rows[0]) throw new NotFoundError('Rencontre introuvable.');
    const before = toMeeting(rows[0]);
    if (input.capacity !== null && input.capacity < before.registered) throw new UserError(`Nombre de places : ${before.registered} personnes sont déjà inscrites, il en faut au moins autant.`, 409, 'capacity', 'below_registered');
    await tx.query('UPDATE consultation.meeting SET title = $2, description = $3, starts_at = $4, ends_at = $5, departement = $6, place_uid = $7, address = $8, online_url = $9, capacity = $10 WHERE id = $1',
      [m.id, input.title, input.description, input.startsAt, input.endsAt, input.departement, input.placeUid, input.address, input.onlineUrl, input.capacity]);
    const { id: _i, processId: _p, registered: _r, minutes: _m, ...beforeFields } = before;
    await recordAudit(tx, { actorId, action: 'consultation.meeting.update', objectType: 'consultation.meeting', objectId: m.id, before: beforeFields, after: input });
  });
}

/** Registers a person: never beyond capacity (conditional update), never twice (primary key). */
export async function registerForMeeting(ctx: Ctx, who: Participant | null, m: Meeting, now = new Date()): Promise<void> {
  if (!who) throw new UserError('Connectez-vous pour vous inscrire.', 401, null, 'unauthenticated');
  // A seat is taken by a person the process admits (verified e-mail, account age), as for every other form.
  const proc = await getProcessById(ctx.db, m.processId);
  if (!proc) throw new NotFoundError('Rencontre introuvable.');
  assertPerson(proc, who, now);
  if (Date.parse(m.startsAt) <= now.getTime()) throw new UserError('Cette rencontre a déjà commencé : les inscriptions sont closes.', 409, null, 'closed');
  await ctx.db.transaction(async (tx) => {
    const ins = await tx.query('INSERT INTO consultation.registration (meeting_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING user_id', [m.id, who.id]);
    if (!ins.rows.length) throw new UserError('Vous êtes déjà inscrit à cette rencontre.', 409, null, 'already_registered');
    const up = await tx.query('UPDATE consultation.meeting SET registered = registered + 1 WHERE id = $1 AND (capacity IS NULL OR registered < capacity) RETURNING registered', [m.id]);
    if (!up.rows.length) throw new UserError('Cette rencontre est complète.', 409, null, 'full');
    await recordAudit(tx, { actorId: who.id, action: 'consultation.meeting.register', objectType: 'consultation.meeting', objectId: m.id });
  });
}

export async function isRegistered(db: Queryable, meetingId: string, userId: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM consultation.registration WHERE meeting_id = $1 AND user_id = $2', [meetingId, userId])).rows.length > 0;
}

export async function setMinutes(ctx: Ctx, actorId: string, meetingId: string, form: Record<string, unknown>): Promise<void> {
  const errors: FieldError[] = [];
  const minutes = text(form, 'minutes', 'Compte rendu', 20_000, errors, { required: true, min: 10 });
  if (errors.length) throw new ValidationFailed(errors);
  await ctx.db.transaction(async (tx) => {
    const before = await tx.query<{ minutes: string | null }>('SELECT minutes FROM consultation.meeting WHERE id = $1 FOR UPDATE', [meetingId]);
    if (!before.rows[0]) throw new NotFoundError('Rencontre introuvable.');
    await tx.query('UPDATE consultation.meeting SET minutes = $2 WHERE id = $1', [meetingId, minutes]);
    await recordAudit(tx, { actorId, action: 'consultation.meeting.minutes', objectType: 'consultation.meeting', objectId: meetingId, before: { minutes: before.rows[0].minutes }, after: { minutes } });
  });
}

// ---- results -------------------------------------------------------------------------------------

export interface Result {
  id: string;
  parentId: string | null;
  title: string;
  description: string;
  proposalId: string | null;
  projectId: string | null;
  progress: number | null;
  status: ResultStatus;
  roadmapPlan: string | null;
  roadmapNode: string | null;
  rolledProgress: number | null;
}

export async function listResults(db: Queryable, processId: string): Promise<Result[]> {
  const { rows } = await db.query<{ id: string; parent_id: string | null; title: string; description: string; proposal_id: string | null; project_id: string | null; progress: number | null; status: ResultStatus; roadmap_plan: string | null; roadmap_node: string | null }>(
    'SELECT id, parent_id, title, description, proposal_id, project_id, progress, status, roadmap_plan, roadmap_node FROM consultation.result WHERE process_id = $1 ORDER BY parent_id NULLS FIRST, title', [processId]);
  const base = rows.map((r) => ({ id: r.id, parentId: r.parent_id, title: r.title, description: r.description, proposalId: r.proposal_id, projectId: r.project_id, progress: r.progress, status: r.status, roadmapPlan: r.roadmap_plan, roadmapNode: r.roadmap_node }));
  const rolled = rollUp(base);
  return base.map((r) => ({ ...r, rolledProgress: rolled.get(r.id) ?? null }));
}

export async function createResult(ctx: Ctx, actorId: string | null, processId: string, r: { title: string; description?: string; parentId?: string | null; proposalId?: string | null; projectId?: string | null; progress?: number | null; status?: ResultStatus; roadmapPlan?: string | null; roadmapNode?: string | null }): Promise<string> {
  const id = uuid();
  await ctx.db.transaction(async (tx) => {
    await tx.query(
      'INSERT INTO consultation.result (id, process_id, parent_id, title, description, proposal_id, project_id, progress, status, roadmap_plan, roadmap_node) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)',
      [id, processId, r.parentId ?? null, r.title, r.description ?? '', r.proposalId ?? null, r.projectId ?? null, r.progress ?? null, r.status ?? 'planned', r.roadmapPlan ?? null, r.roadmapNode ?? null],
    );
    await recordAudit(tx, { actorId, action: 'consultation.result.create', objectType: 'consultation.result', objectId: id, after: r });
  });
  return id;
}

export { STATE_LABELS };

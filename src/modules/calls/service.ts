/**
 * Calls: use cases over the database. Every write runs in one transaction and is audited; every
 * refusal is a UserError thrown before anything is written (or inside the transaction, which then
 * rolls back), so a refused request leaves the rows unchanged.
 */
import crypto from 'node:crypto';
import type { Db, Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { NotFoundError, ForbiddenError, UserError } from '../../platform/http/errors.ts';
import { slugify } from '../../platform/slug.ts';
import { can, getUser, type Actor, type Resource } from '../accounts/index.ts';
import { drawEnvelope, getEnvelope, releaseDraw } from '../roadmap/index.ts';
import { resolveTerritory } from '../territories/index.ts';
import { commitOnCeiling } from './ceilings.ts';
import { parisToday } from './labels.ts';
import {
  CALL_KINDS,
  FINAL_STATES,
  INSTRUCTOR_TRANSITIONS,
  ORG_KINDS,
  STATES,
  CONFLICTS,
  RECOMMENDATIONS,
  fingerprint,
  isShown,
  missing,
  normaliseSiret,
  parseAmount,
  parseAnswers,
  parseDate,
  parseForm,
  parseLocalDateTime,
  parseScores,
  requestedAmount,
  siretProblem,
  text,
  weightedScore,
  type Answers,
  type CallKind,
  type Conflict,
  type FormDefinition,
  type State,
} from './model.ts';

export interface Ctx {
  db: Db;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEPARTEMENT = /^(\d{2}|2A|2B|97[1-8])$/;
const REGION = /^\d{2}$/;
const iso = (d: unknown) => (d instanceof Date ? d.toISOString() : d === null || d === undefined ? null : new Date(String(d)).toISOString());
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

// ---------------------------------------------------------------------------------------------
// Calls

export interface Call {
  id: string;
  slug: string;
  kind: CallKind;
  title: string;
  summary: string;
  rules: string;
  eligibleTypes: string[];
  region: string;
  departements: string[];
  stages: 1 | 2;
  opensAt: string;
  closesAt: string;
  timeZone: string;
  instructionOn: string | null;
  committeeOn: string | null;
  envelope: number;
  committed: number;
  paid: number;
  roadmapEnvelopeId: string | null;
  anonymised: boolean;
  funderName: string;
  funderSiret: string | null;
  status: 'draft' | 'published' | 'archived';
  formVersion: number;
}

const CALL_COLUMNS = `id, slug, kind, title, summary, rules, eligible_types, region, departements, stages, opens_at, closes_at, time_zone, instruction_on::text AS instruction_on,
  committee_on::text AS committee_on, envelope, committed, paid, roadmap_envelope_id, anonymised, funder_name, funder_siret, status, form_version`;

function toCall(r: Record<string, unknown>): Call {
  return {
    id: r.id as string,
    slug: r.slug as string,
    kind: r.kind as CallKind,
    title: r.title as string,
    summary: r.summary as string,
    rules: r.rules as string,
    eligibleTypes: r.eligible_types as string[],
    region: r.region as string,
    departements: r.departements as string[],
    stages: Number(r.stages) as 1 | 2,
    opensAt: iso(r.opens_at)!,
    closesAt: iso(r.closes_at)!,
    timeZone: r.time_zone as string,
    instructionOn: (r.instruction_on as string | null) ?? null,
    committeeOn: (r.committee_on as string | null) ?? null,
    envelope: Number(r.envelope),
    committed: Number(r.committed),
    paid: Number(r.paid),
    roadmapEnvelopeId: (r.roadmap_envelope_id as string | null) ?? null,
    anonymised: r.anonymised as boolean,
    funderName: r.funder_name as string,
    funderSiret: (r.funder_siret as string | null) ?? null,
    status: r.status as Call['status'],
    formVersion: Number(r.form_version),
  };
}

export function callResource(c: Pick<Call, 'id' | 'region' | 'departements'>): Resource {
  return { type: 'call', id: c.id, region: c.region, departement: c.departements.length === 1 ? c.departements[0]! : null };
}

/**
 * Whether an actor listed as instructor of a call (limited to `departements`, or the whole call)
 * holds the instruct permission there: on the call's région, or on each département they are limited to.
 */
export function mayInstruct(actor: Actor, c: Pick<Call, 'id' | 'region' | 'departements'>, departements: string[]): boolean {
  if (can(actor, 'calls.instruct', callResource(c))) return true;
  return departements.length > 0 && departements.every((d) => can(actor, 'calls.instruct', { type: 'call', id: c.id, region: c.region, departement: d }));
}

export async function getCall(db: Queryable, idOrSlug: string): Promise<Call | null> {
  if (typeof idOrSlug !== 'string' || idOrSlug.length > 120) return null;
  const { rows } = await db.query(`SELECT ${CALL_COLUMNS} FROM calls.call WHERE ${UUID.test(idOrSlug) ? 'id = $1' : 'slug = $1'}`, [idOrSlug]);
  return rows[0] ? toCall(rows[0]) : null;
}

export function isOpen(c: Call, now = new Date()): boolean {
  return c.status === 'published' && now.getTime() >= Date.parse(c.opensAt) && now.getTime() < Date.parse(c.closesAt);
}

export interface CallFilter {
  kind?: string;
  departement?: string;
  closingSoon?: boolean;
  state?: 'open' | 'upcoming' | 'closed' | 'all';
}

export async function listPublicCalls(db: Queryable, f: CallFilter = {}, now = new Date()): Promise<Call[]> {
  const where = [`status = 'published'`];
  const params: unknown[] = [];
  const at = () => `$${params.push(now.toISOString())}::timestamptz`;
  const state = f.state ?? 'open';
  if (state === 'open') where.push(`opens_at <= ${at()} AND closes_at > ${at()}`);
  else if (state === 'upcoming') where.push(`opens_at > ${at()}`);
  else if (state === 'closed') where.push(`closes_at <= ${at()}`);
  if (f.kind && Object.hasOwn(CALL_KINDS, f.kind)) where.push(`kind = $${params.push(f.kind)}`);
  if (f.departement && DEPARTEMENT.test(f.departement)) where.push(`(departements = '{}' OR $${params.push(f.departement)} = ANY (departements))`);
  if (f.closingSoon) where.push(`closes_at <= ${at()} + interval '15 days'`);
  const { rows } = await db.query(`SELECT ${CALL_COLUMNS} FROM calls.call WHERE ${where.join(' AND ')} ORDER BY closes_at, title LIMIT 500`, params);
  return rows.map(toCall);
}

export async function listCallsForStaff(db: Queryable, actor: Actor): Promise<Call[]> {
  const { rows } = await db.query(`SELECT ${CALL_COLUMNS} FROM calls.call ORDER BY opens_at DESC LIMIT 1000`);
  const ids = new Set((await db.query<{ call_id: string }>('SELECT call_id FROM calls.instructor WHERE user_id = $1', [actor.id])).rows.map((r) => r.call_id));
  return rows.map(toCall).filter((c) => can(actor, 'calls.manage', callResource(c)) || ids.has(c.id));
}

export async function getForm(db: Queryable, callId: string, version: number): Promise<FormDefinition> {
  const { rows } = await db.query<{ questions: FormDefinition['questions']; criteria: FormDefinition['criteria']; documents: string[] }>(
    'SELECT questions, criteria, documents FROM calls.form_version WHERE call_id = $1 AND version = $2',
    [callId, version],
  );
  if (!rows[0]) throw new NotFoundError('Version de formulaire introuvable.');
  return { questions: rows[0].questions, criteria: rows[0].criteria, documents: rows[0].documents };
}

export interface CallInput {
  kind?: unknown;
  title?: unknown;
  summary?: unknown;
  rules?: unknown;
  eligibleTypes?: unknown;
  region?: unknown;
  departements?: unknown;
  stages?: unknown;
  opensAt?: unknown;
  closesAt?: unknown;
  instructionOn?: unknown;
  committeeOn?: unknown;
  envelope?: unknown;
  roadmapEnvelopeId?: unknown;
  anonymised?: unknown;
  funderName?: unknown;
  funderSiret?: unknown;
  form?: unknown;
  /** Given instead of opensAt/closesAt as instants (API, demo). */
  opensAtIso?: string;
  closesAtIso?: string;
}

const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' && v ? v.split(/[,\s]+/).filter(Boolean) : []);

function callFields(input: CallInput) {
  const kind = input.kind;
  if (typeof kind !== 'string' || !Object.hasOwn(CALL_KINDS, kind)) throw new UserError('Type d’appel : AAP, AMI ou campagne de labellisation.', 400, 'kind');
  const title = text(input.title, 'title', 'Titre', { required: true, max: 200 });
  const region = text(input.region, 'region', 'Région', { required: true, max: 2 });
  if (!REGION.test(region)) throw new UserError('Région : code à deux chiffres (par exemple 27).', 400, 'region');
  const departements = [...new Set(list(input.departements))];
  for (const d of departements) if (!DEPARTEMENT.test(d)) throw new UserError(`Départements : « ${d.slice(0, 10)} » n’est pas un code de département.`, 400, 'departements');
  const eligibleTypes = [...new Set(list(input.eligibleTypes))];
  for (const t of eligibleTypes) if (!Object.hasOwn(ORG_KINDS, t)) throw new UserError(`Structures éligibles : « ${t.slice(0, 30)} » inconnu.`, 400, 'eligibleTypes');
  const opensAt = input.opensAtIso ? new Date(input.opensAtIso) : parseLocalDateTime(input.opensAt, 'opensAt', 'Ouverture');
  const closesAt = input.closesAtIso ? new Date(input.closesAtIso) : parseLocalDateTime(input.closesAt, 'closesAt', 'Clôture');
  if (!(closesAt > opensAt)) throw new UserError('Clôture : elle doit suivre l’ouverture.', 400, 'closesAt');
  const stages = input.stages === undefined || input.stages === '' || input.stages === '1' || input.stages === 1 ? 1 : input.stages === '2' || input.stages === 2 ? 2 : null;
  if (stages === null) throw new UserError('Étapes : 1 ou 2.', 400, 'stages');
  const envelope = input.envelope === undefined || input.envelope === '' ? 0 : parseAmount(input.envelope, 'envelope', 'Enveloppe');
  const roadmapEnvelopeId = typeof input.roadmapEnvelopeId === 'string' && input.roadmapEnvelopeId ? input.roadmapEnvelopeId : null;
  if (roadmapEnvelopeId && !UUID.test(roadmapEnvelopeId)) throw new UserError('Enveloppe de la feuille de route : identifiant invalide.', 400, 'roadmapEnvelopeId');
  const funderSiret = typeof input.funderSiret === 'string' && input.funderSiret.trim() ? normaliseSiret(input.funderSiret) : null;
  if (funderSiret) {
    const p = siretProblem(funderSiret);
    if (p) throw new UserError(`SIRET du financeur : ${p}`, 400, 'funderSiret');
  }
  const optDate = (v: unknown, f: string, l: string) => (v === undefined || v === null || v === '' ? null : parseDate(v, f, l));
  return {
    kind: kind as CallKind,
    title,
    summary: text(input.summary, 'summary', 'Résumé', { max: 1000, multiline: true }),
    rules: text(input.rules, 'rules', 'Règlement', { max: 50_000, multiline: true }),
    eligibleTypes,
    region,
    departements,
    stages,
    opensAt,
    closesAt,
    instructionOn: optDate(input.instructionOn, 'instructionOn', 'Instruction'),
    committeeOn: optDate(input.committeeOn, 'committeeOn', 'Comité'),
    envelope,
    roadmapEnvelopeId,
    anonymised: input.anonymised === true || input.anonymised === 'on',
    funderName: text(input.funderName, 'funderName', 'Financeur', { max: 200 }),
    funderSiret,
  };
}

function assertManage(actor: Actor, c: Pick<Call, 'id' | 'region' | 'departements'>) {
  if (!can(actor, 'calls.manage', callResource(c))) throw new ForbiddenError('Vous ne gérez pas les appels de ce territoire.');
}

/**
 * A call draws only on a roadmap envelope of a territory where its author manages calls: the
 * envelope is checked as well as the call (a staff member of one territory cannot spend another
 * territory's envelope by giving its id). Checked inside the transaction that draws.
 */
async function assertEnvelopeInScope(q: Queryable, actor: Actor, envelopeId: string): Promise<void> {
  const env = await getEnvelope(q, envelopeId);
  if (!env) throw new NotFoundError('Cette enveloppe de la feuille de route n’existe pas.');
  const t = await resolveTerritory(q, `${env.territory.level}:${env.territory.code}`);
  const parent = (level: string) => (env.territory.level === level ? env.territory.code : (t?.parents.find((p) => p.level === level)?.code ?? null));
  const resource: Resource = { type: 'call', id: '', region: parent('region'), departement: parent('departement') };
  if (!can(actor, 'calls.manage', resource)) {
    throw new ForbiddenError(`L’enveloppe « ${env.label} » appartient à un territoire dont vous ne gérez pas les appels.`, 'roadmapEnvelopeId');
  }
}

/**
 * Creates a call (draft) with its first form version. With a roadmap envelope, the call's
 * envelope is drawn from it in the same transaction (reference calls:call:<id>): over the
 * ceiling, nothing is created.
 */
export async function createCall(ctx: Ctx, actor: Actor, input: CallInput): Promise<Call> {
  const f = callFields(input);
  assertManage(actor, { id: '', region: f.region, departements: f.departements });
  const form = parseForm(input.form);
  return ctx.db.transaction(async (tx) => {
    const id = crypto.randomUUID();
    let slug = slugify(f.title).slice(0, 80) || 'appel';
    const taken = await tx.query('SELECT 1 FROM calls.call WHERE slug = $1', [slug]);
    if (taken.rows.length) slug = `${slug}-${id.slice(0, 6)}`;
    await tx.query(
      `INSERT INTO calls.call (id, slug, kind, title, summary, rules, eligible_types, region, departements, stages, opens_at, closes_at, instruction_on, committee_on, envelope,
        roadmap_envelope_id, anonymised, funder_name, funder_siret, created_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)`,
      [id, slug, f.kind, f.title, f.summary, f.rules, f.eligibleTypes, f.region, f.departements, f.stages, f.opensAt.toISOString(), f.closesAt.toISOString(), f.instructionOn, f.committeeOn, f.envelope,
        f.roadmapEnvelopeId, f.anonymised, f.funderName, f.funderSiret, actor.id],
    );
    await tx.query('INSERT INTO calls.form_version (call_id, version, questions, criteria, documents, created_by) VALUES ($1, 1, $2, $3, $4, $5)', [
      id, JSON.stringify(form.questions), JSON.stringify(form.criteria), JSON.stringify(form.documents), actor.id,
    ]);
    if (f.roadmapEnvelopeId && f.envelope > 0) {
      await assertEnvelopeInScope(tx, actor, f.roadmapEnvelopeId);
      await drawEnvelope(tx, { envelopeId: f.roadmapEnvelopeId, amount: f.envelope, reference: `calls:call:${id}`, label: `Appel « ${f.title} »`, actorId: actor.id });
    }
    await recordAudit(tx, { actorId: actor.id, action: 'calls.call.create', objectType: 'calls.call', objectId: id, after: { ...f, opensAt: f.opensAt.toISOString(), closesAt: f.closesAt.toISOString(), form } });
    return (await getCall(tx, id))!;
  });
}

/** Updates a call's fields; a new envelope is re-drawn from the roadmap envelope (release, then draw). */
export async function updateCall(ctx: Ctx, actor: Actor, callId: string, input: CallInput): Promise<Call> {
  const before = await getCall(ctx.db, callId);
  if (!before) throw new NotFoundError('Cet appel n’existe pas.');
  assertManage(actor, before);
  const f = callFields(input);
  assertManage(actor, { id: before.id, region: f.region, departements: f.departements });
  if (f.envelope < before.committed) throw new UserError(`Enveloppe : ${before.committed} € sont déjà engagés.`, 409, 'envelope');
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query(
      `UPDATE calls.call SET kind=$2, title=$3, summary=$4, rules=$5, eligible_types=$6, region=$7, departements=$8, stages=$9, opens_at=$10, closes_at=$11, instruction_on=$12,
        committee_on=$13, envelope=$14, roadmap_envelope_id=$15, anonymised=$16, funder_name=$17, funder_siret=$18, updated_at=now() WHERE id=$1 AND committed <= $14 RETURNING id`,
      [before.id, f.kind, f.title, f.summary, f.rules, f.eligibleTypes, f.region, f.departements, f.stages, f.opensAt.toISOString(), f.closesAt.toISOString(), f.instructionOn, f.committeeOn,
        f.envelope, f.roadmapEnvelopeId, f.anonymised, f.funderName, f.funderSiret],
    );
    if (!rows[0]) throw new UserError('Enveloppe : inférieure aux montants déjà engagés.', 409, 'envelope');
    if (before.roadmapEnvelopeId !== f.roadmapEnvelopeId || before.envelope !== f.envelope) {
      if (before.roadmapEnvelopeId) await releaseDraw(tx, { envelopeId: before.roadmapEnvelopeId, reference: `calls:call:${before.id}`, actorId: actor.id });
      if (f.roadmapEnvelopeId && f.envelope > 0 && f.roadmapEnvelopeId !== before.roadmapEnvelopeId) await assertEnvelopeInScope(tx, actor, f.roadmapEnvelopeId);
      if (f.roadmapEnvelopeId && f.envelope > 0) await drawEnvelope(tx, { envelopeId: f.roadmapEnvelopeId, amount: f.envelope, reference: `calls:call:${before.id}`, label: `Appel « ${f.title} »`, actorId: actor.id });
    }
    await recordAudit(tx, { actorId: actor.id, action: 'calls.call.update', objectType: 'calls.call', objectId: before.id, before, after: { ...f, opensAt: f.opensAt.toISOString(), closesAt: f.closesAt.toISOString() } });
    return (await getCall(tx, before.id))!;
  });
}

/** A new version of the call's form; dossiers already started keep theirs. */
export async function setForm(ctx: Ctx, actor: Actor, callId: string, formInput: unknown): Promise<number> {
  const call = await getCall(ctx.db, callId);
  if (!call) throw new NotFoundError('Cet appel n’existe pas.');
  assertManage(actor, call);
  const form = parseForm(formInput);
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ form_version: number }>('UPDATE calls.call SET form_version = form_version + 1, updated_at = now() WHERE id = $1 RETURNING form_version', [call.id]);
    const v = Number(rows[0]!.form_version);
    await tx.query('INSERT INTO calls.form_version (call_id, version, questions, criteria, documents, created_by) VALUES ($1, $2, $3, $4, $5, $6)', [
      call.id, v, JSON.stringify(form.questions), JSON.stringify(form.criteria), JSON.stringify(form.documents), actor.id,
    ]);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.form.version', objectType: 'calls.call', objectId: call.id, after: { version: v, form } });
    return v;
  });
}

export async function setCallStatus(ctx: Ctx, actor: Actor, callId: string, status: unknown): Promise<Call> {
  const call = await getCall(ctx.db, callId);
  if (!call) throw new NotFoundError('Cet appel n’existe pas.');
  assertManage(actor, call);
  if (status !== 'draft' && status !== 'published' && status !== 'archived') throw new UserError('Statut : brouillon, publié ou archivé.', 400, 'status');
  if (status === 'published' && !call.funderName) throw new UserError('Indiquez le financeur avant de publier l’appel.', 422, 'funderName');
  return ctx.db.transaction(async (tx) => {
    await tx.query('UPDATE calls.call SET status = $2, updated_at = now() WHERE id = $1', [call.id, status]);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.call.status', objectType: 'calls.call', objectId: call.id, before: { status: call.status }, after: { status } });
    return (await getCall(tx, call.id))!;
  });
}

// ---------------------------------------------------------------------------------------------
// Organisations

export interface Organisation {
  id: string;
  siret: string;
  name: string;
  kind: string;
  departement: string | null;
}

const toOrg = (r: Record<string, unknown>): Organisation => ({ id: r.id as string, siret: r.siret as string, name: r.name as string, kind: r.kind as string, departement: (r.departement as string | null) ?? null });

export async function myOrganisations(db: Queryable, userId: string): Promise<Organisation[]> {
  const { rows } = await db.query('SELECT o.id, o.siret, o.name, o.kind, o.departement FROM calls.organisation o JOIN calls.organisation_member m ON m.organisation_id = o.id WHERE m.user_id = $1 ORDER BY o.name', [userId]);
  return rows.map(toOrg);
}

export async function createOrganisation(ctx: Ctx, userId: string, input: Record<string, unknown>): Promise<Organisation> {
  const siretRaw = text(input.siret, 'siret', 'SIRET', { required: true, max: 30 });
  const problem = siretProblem(siretRaw);
  if (problem) throw new UserError(problem, 400, 'siret');
  const siret = normaliseSiret(siretRaw);
  const name = text(input.name, 'name', 'Nom de la structure', { required: true, max: 200 });
  const kind = input.kind;
  if (typeof kind !== 'string' || !Object.hasOwn(ORG_KINDS, kind)) throw new UserError('Type de structure : choisissez dans la liste.', 400, 'kind');
  const dep = typeof input.departement === 'string' && input.departement ? input.departement.trim().toUpperCase() : null;
  if (dep && !DEPARTEMENT.test(dep)) throw new UserError('Département : code à deux chiffres, 2A, 2B ou outre-mer.', 400, 'departement');
  return ctx.db.transaction(async (tx) => {
    const id = crypto.randomUUID();
    const ins = await tx.query('INSERT INTO calls.organisation (id, siret, name, kind, departement, created_by) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (siret) DO NOTHING RETURNING id', [id, siret, name, kind, dep, userId]);
    if (!ins.rows[0]) throw new UserError('Cette structure (même SIRET) est déjà enregistrée : demandez à l’une des personnes qui agissent pour elle de vous ajouter.', 409, 'siret');
    await tx.query('INSERT INTO calls.organisation_member (organisation_id, user_id) VALUES ($1, $2)', [id, userId]);
    await recordAudit(tx, { actorId: userId, action: 'calls.organisation.create', objectType: 'calls.organisation', objectId: id, after: { siret, name, kind, departement: dep } });
    return { id, siret, name, kind, departement: dep };
  });
}

export async function isMember(db: Queryable, orgId: string, userId: string): Promise<boolean> {
  if (!UUID.test(orgId)) return false;
  return (await db.query('SELECT 1 FROM calls.organisation_member WHERE organisation_id = $1 AND user_id = $2', [orgId, userId])).rows.length > 0;
}

/** A member adds another person (an existing account) to the organisation. */
export async function addMember(ctx: Ctx, actorId: string, orgId: string, userId: string): Promise<void> {
  if (!(await isMember(ctx.db, orgId, actorId))) throw new NotFoundError('Structure introuvable.');
  await ctx.db.transaction(async (tx) => {
    const r = await tx.query('INSERT INTO calls.organisation_member (organisation_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING user_id', [orgId, userId]);
    if (!r.rows[0]) throw new UserError('Cette personne agit déjà pour la structure.', 409, 'email');
    await recordAudit(tx, { actorId, action: 'calls.organisation.member.add', objectType: 'calls.organisation', objectId: orgId, after: { userId } });
  });
}

// ---------------------------------------------------------------------------------------------
// Applications

export interface Application {
  id: string;
  number: number;
  reference: string;
  callId: string;
  formVersion: number;
  organisationId: string;
  createdBy: string;
  title: string;
  departement: string | null;
  state: State;
  stage: number;
  answers: Answers;
  amountRequested: number | null;
  submittedAt: string | null;
  fingerprint: string | null;
  correctionReason: string | null;
  correctionDue: string | null;
  decidedAmount: number | null;
  decisionMotivation: string | null;
  decidedAt: string | null;
  updatedAt: string;
}

const APP_COLUMNS = `a.id, a.number, a.call_id, a.form_version, a.organisation_id, a.created_by, a.title, a.departement, a.state, a.stage, a.answers, a.amount_requested, a.submitted_at,
  a.fingerprint, a.correction_reason, a.correction_due::text AS correction_due, a.decided_amount, a.decision_motivation, a.decided_at, a.updated_at, c.slug`;

function toApp(r: Record<string, unknown>): Application {
  return {
    id: r.id as string,
    number: Number(r.number),
    reference: `${(r.slug as string).slice(0, 40).toUpperCase()}-${String(r.number).padStart(4, '0')}`,
    callId: r.call_id as string,
    formVersion: Number(r.form_version),
    organisationId: r.organisation_id as string,
    createdBy: r.created_by as string,
    title: r.title as string,
    departement: (r.departement as string | null) ?? null,
    state: r.state as State,
    stage: Number(r.stage),
    answers: r.answers as Answers,
    amountRequested: num(r.amount_requested),
    submittedAt: iso(r.submitted_at),
    fingerprint: (r.fingerprint as string | null) ?? null,
    correctionReason: (r.correction_reason as string | null) ?? null,
    correctionDue: (r.correction_due as string | null) ?? null,
    decidedAmount: num(r.decided_amount),
    decisionMotivation: (r.decision_motivation as string | null) ?? null,
    decidedAt: iso(r.decided_at),
    updatedAt: iso(r.updated_at)!,
  };
}

export async function getApplication(db: Queryable, id: string): Promise<Application | null> {
  if (typeof id !== 'string' || !UUID.test(id)) return null;
  const { rows } = await db.query(`SELECT ${APP_COLUMNS} FROM calls.application a JOIN calls.call c ON c.id = a.call_id WHERE a.id = $1`, [id], { prepare: true });
  return rows[0] ? toApp(rows[0]) : null;
}

export async function myApplications(db: Queryable, userId: string): Promise<(Application & { callTitle: string; organisation: string })[]> {
  const { rows } = await db.query(
    `SELECT ${APP_COLUMNS}, c.title AS call_title, o.name AS org_name FROM calls.application a JOIN calls.call c ON c.id = a.call_id JOIN calls.organisation o ON o.id = a.organisation_id
      WHERE a.organisation_id IN (SELECT organisation_id FROM calls.organisation_member WHERE user_id = $1) ORDER BY a.updated_at DESC LIMIT 500`,
    [userId],
  );
  return rows.map((r) => ({ ...toApp(r), callTitle: r.call_title as string, organisation: r.org_name as string }));
}

async function event(tx: Queryable, appId: string, actorId: string | null, kind: string, from: State | null, to: State | null, note: string | null, forApplicant = true) {
  await tx.query('INSERT INTO calls.application_event (application_id, actor_id, kind, from_state, to_state, note, for_applicant) VALUES ($1, $2, $3, $4, $5, $6, $7)', [appId, actorId, kind, from, to, note, forApplicant]);
}

export interface HistoryEntry {
  at: string;
  kind: string;
  fromState: State | null;
  toState: State | null;
  note: string | null;
  forApplicant: boolean;
}

export async function history(db: Queryable, appId: string, forApplicant: boolean): Promise<HistoryEntry[]> {
  const { rows } = await db.query(`SELECT at, kind, from_state, to_state, note, for_applicant FROM calls.application_event WHERE application_id = $1 ${forApplicant ? 'AND for_applicant' : ''} ORDER BY id`, [appId]);
  return rows.map((r) => ({ at: iso(r.at)!, kind: r.kind as string, fromState: (r.from_state as State | null) ?? null, toState: (r.to_state as State | null) ?? null, note: (r.note as string | null) ?? null, forApplicant: r.for_applicant as boolean }));
}

export async function startApplication(ctx: Ctx, userId: string, callId: string, orgId: string, now = new Date()): Promise<Application> {
  const call = await getCall(ctx.db, callId);
  if (!call || call.status !== 'published') throw new NotFoundError('Cet appel n’existe pas.');
  if (!isOpen(call, now)) throw new UserError(now.getTime() >= Date.parse(call.closesAt) ? 'Cet appel est clos : il n’accepte plus de dossiers.' : 'Cet appel n’est pas encore ouvert.', 409, 'callId');
  if (!(await isMember(ctx.db, orgId, userId))) throw new UserError('Choisissez une structure pour laquelle vous agissez.', 400, 'organisationId');
  const org = toOrg((await ctx.db.query('SELECT id, siret, name, kind, departement FROM calls.organisation WHERE id = $1', [orgId])).rows[0]!);
  if (call.eligibleTypes.length && !call.eligibleTypes.includes(org.kind)) {
    throw new UserError(`Cet appel est ouvert aux structures suivantes : ${call.eligibleTypes.map((k) => ORG_KINDS[k as keyof typeof ORG_KINDS] ?? k).join(', ')}.`, 422, 'organisationId');
  }
  return ctx.db.transaction(async (tx) => {
    // The call's row is locked so dossier numbers are allocated one at a time.
    await tx.query('SELECT id FROM calls.call WHERE id = $1 FOR UPDATE', [call.id]);
    const { rows } = await tx.query<{ n: number }>('SELECT coalesce(max(number), 0)::int + 1 AS n FROM calls.application WHERE call_id = $1', [call.id]);
    const id = crypto.randomUUID();
    const dep = org.departement && (call.departements.length === 0 || call.departements.includes(org.departement)) ? org.departement : (call.departements[0] ?? org.departement);
    await tx.query('INSERT INTO calls.application (id, number, call_id, form_version, organisation_id, created_by, departement) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      id, rows[0]!.n, call.id, call.formVersion, orgId, userId, dep,
    ]);
    await event(tx, id, userId, 'created', null, 'brouillon', null);
    await recordAudit(tx, { actorId: userId, action: 'calls.application.create', objectType: 'calls.application', objectId: id, after: { callId: call.id, organisationId: orgId, formVersion: call.formVersion } });
    return (await getApplication(tx, id))!;
  });
}

/** Whether the applicant may edit now: a draft, or a dossier under a correction request before its deadline. */
export function applicantMayEdit(app: Application, now = new Date()): boolean {
  if (app.state === 'brouillon') return true;
  // The deadline is a day of the Paris calendar (« avant le … inclus »), not of UTC.
  if (app.state === 'en_construction' && app.correctionReason) return !app.correctionDue || parisToday(now) <= app.correctionDue;
  return false;
}

export async function assertApplicant(db: Queryable, app: Application | null, userId: string): Promise<Application> {
  if (!app || !(await isMember(db, app.organisationId, userId))) throw new NotFoundError('Ce dossier n’existe pas.');
  return app;
}

export interface DraftInput {
  title?: unknown;
  departement?: unknown;
  answers?: unknown;
}

/** Saves a draft (as the applicant types): every answer is checked against its question; missing ones are allowed. */
export async function saveDraft(ctx: Ctx, userId: string, appId: string, input: DraftInput, now = new Date()): Promise<Application> {
  const app = await assertApplicant(ctx.db, await getApplication(ctx.db, appId), userId);
  if (!applicantMayEdit(app, now)) throw new UserError(`Ce dossier est « ${STATES[app.state]} » : il ne peut plus être modifié.`, 409, 'state');
  const form = await getForm(ctx.db, app.callId, app.formVersion);
  const title = text(input.title ?? app.title, 'title', 'Titre du projet', { max: 200 });
  const answers = parseAnswers(form, input.answers ?? {}, app.stage, app.answers);
  // Files are attached by their own requests: the row's current file answers are kept (not this
  // request's copy), so a save racing an upload cannot undo it.
  const fileIds = form.questions.filter((q) => q.type === 'file' && isShown(q, answers, app.stage)).map((q) => q.id);
  let dep = app.departement;
  if (typeof input.departement === 'string' && input.departement) {
    if (!DEPARTEMENT.test(input.departement)) throw new UserError('Département : code invalide.', 400, 'departement');
    dep = input.departement;
  }
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query(
      `UPDATE calls.application SET title = $2, amount_requested = $4, departement = $5, updated_at = now(),
          answers = $3::jsonb || coalesce((SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(answers) e WHERE e.key = ANY($7::text[])), '{}'::jsonb)
        WHERE id = $1 AND state = $6 RETURNING id`,
      [app.id, title, JSON.stringify(answers), requestedAmount(form, answers), dep, app.state, fileIds],
    );
    if (!rows[0]) throw new UserError('Ce dossier a changé d’état entre-temps : rechargez la page.', 409, 'state');
    return (await getApplication(tx, app.id))!;
  });
}

export async function whatIsMissing(db: Queryable, app: Application) {
  return missing(await getForm(db, app.callId, app.formVersion), app.answers, app.stage, app.title);
}

export interface Receipt {
  id: string;
  at: string;
  fingerprint: string;
}

/**
 * Submits the dossier: complete, before the call's closing time by the server's clock (a
 * correction is answered until its deadline instead). Writes the receipt (fingerprint: SHA-256 of
 * the answers) and the transition in one transaction.
 */
export async function submit(ctx: Ctx, userId: string, appId: string, now = new Date()): Promise<{ app: Application; receipt: Receipt }> {
  await assertApplicant(ctx.db, await getApplication(ctx.db, appId), userId);
  return ctx.db.transaction(async (tx) => {
    // The dossier's row is locked: what is fingerprinted is what is submitted, once.
    await tx.query('SELECT id FROM calls.application WHERE id = $1 FOR UPDATE', [appId]);
    const app = (await getApplication(tx, appId))!;
    const call = (await getCall(tx, app.callId))!;
    const correcting = app.state === 'en_construction' && !!app.correctionReason;
    if (app.state !== 'brouillon' && !correcting) throw new UserError(`Ce dossier est « ${STATES[app.state]} » : il a déjà été déposé.`, 409, 'state');
    if (!correcting && now.getTime() >= Date.parse(call.closesAt)) {
      const when = new Intl.DateTimeFormat('fr-FR', { dateStyle: 'long', timeStyle: 'medium', timeZone: call.timeZone }).format(new Date(call.closesAt));
      throw new UserError(`L’appel a été clos le ${when} (heure de ${call.timeZone === 'Europe/Paris' ? 'Paris' : call.timeZone}) : le dépôt n’est plus possible. Votre brouillon reste enregistré.`, 409, 'closesAt', 'closed');
    }
    if (correcting && !applicantMayEdit(app, now)) throw new UserError(`Le délai de correction a expiré le ${app.correctionDue}.`, 409, 'correctionDue');
    const gaps = await whatIsMissing(tx, app);
    if (gaps.length) throw new UserError(`Le dossier est incomplet : ${gaps.map((g) => g.message).join(' ')}`, 422, gaps[0]!.field);
    const fp = fingerprint({ title: app.title, answers: app.answers, formVersion: app.formVersion });
    await tx.query(
      `UPDATE calls.application SET state = 'en_construction', submitted_at = coalesce(submitted_at, $2), fingerprint = $3, correction_reason = NULL, correction_due = NULL, updated_at = now() WHERE id = $1`,
      [app.id, now.toISOString(), fp],
    );
    const receipt: Receipt = { id: crypto.randomUUID(), at: now.toISOString(), fingerprint: fp };
    await tx.query('INSERT INTO calls.receipt (id, application_id, at, fingerprint, answers) VALUES ($1, $2, $3, $4, $5)', [receipt.id, app.id, receipt.at, fp, JSON.stringify({ title: app.title, answers: app.answers, formVersion: app.formVersion })]);
    await event(tx, app.id, userId, correcting ? 'corrected' : 'submitted', app.state, 'en_construction', `Empreinte ${fp}`);
    await recordAudit(tx, { actorId: userId, action: correcting ? 'calls.application.correct' : 'calls.application.submit', objectType: 'calls.application', objectId: app.id, after: { fingerprint: fp, at: receipt.at } });
    return { app: (await getApplication(tx, app.id))!, receipt };
  });
}

export async function receipts(db: Queryable, appId: string): Promise<(Receipt & { content: { title: string; answers: Answers; formVersion: number } })[]> {
  const { rows } = await db.query('SELECT id, at, fingerprint, answers FROM calls.receipt WHERE application_id = $1 ORDER BY at DESC', [appId]);
  return rows.map((r) => ({ id: r.id as string, at: iso(r.at)!, fingerprint: r.fingerprint as string, content: r.answers as { title: string; answers: Answers; formVersion: number } }));
}

// ---------------------------------------------------------------------------------------------
// Who may see and do what on a dossier

export interface Access {
  applicant: boolean;
  manager: boolean;
  instructor: boolean;
  reviewer: { conflict: Conflict | null; waived: boolean } | null;
}

export async function accessTo(db: Queryable, actor: Actor | null, app: Application, call: Call): Promise<Access> {
  if (!actor) return { applicant: false, manager: false, instructor: false, reviewer: null };
  const manager = can(actor, 'calls.manage', callResource(call));
  let instructor = manager;
  if (!instructor) {
    const { rows } = await db.query<{ departements: string[] }>('SELECT departements FROM calls.instructor WHERE call_id = $1 AND user_id = $2', [call.id, actor.id]);
    instructor =
      !!rows[0] &&
      (rows[0].departements.length === 0 ? can(actor, 'calls.instruct', callResource(call)) : !!app.departement && rows[0].departements.includes(app.departement) && can(actor, 'calls.instruct', { type: 'call', id: call.id, region: call.region, departement: app.departement }));
  }
  const rv = await db.query<{ conflict: Conflict | null; waived_by: string | null }>('SELECT conflict, waived_by FROM calls.review WHERE application_id = $1 AND reviewer_id = $2', [app.id, actor.id]);
  return {
    applicant: await isMember(db, app.organisationId, actor.id),
    manager,
    instructor,
    reviewer: rv.rows[0] && can(actor, 'calls.review', callResource(call)) ? { conflict: rv.rows[0].conflict, waived: !!rv.rows[0].waived_by } : null,
  };
}

async function loadForStaff(db: Queryable, actor: Actor, appId: string, need: 'instructor' | 'manager') {
  const app = await getApplication(db, appId);
  if (!app) throw new NotFoundError('Ce dossier n’existe pas.');
  const call = (await getCall(db, app.callId))!;
  const a = await accessTo(db, actor, app, call);
  if (need === 'manager' ? !a.manager : !a.instructor) throw new ForbiddenError(need === 'manager' ? 'Seule l’équipe qui gère cet appel peut faire cela.' : 'Ce dossier n’est pas dans votre périmètre d’instruction.');
  return { app, call };
}

export async function setInstructor(ctx: Ctx, actor: Actor, callId: string, userId: string, departements: string[], remove = false): Promise<void> {
  const call = await getCall(ctx.db, callId);
  if (!call) throw new NotFoundError('Cet appel n’existe pas.');
  assertManage(actor, call);
  for (const d of departements) if (!DEPARTEMENT.test(d)) throw new UserError(`Départements : « ${d.slice(0, 10)} » invalide.`, 400, 'departements');
  await ctx.db.transaction(async (tx) => {
    if (remove) await tx.query('DELETE FROM calls.instructor WHERE call_id = $1 AND user_id = $2', [call.id, userId]);
    else await tx.query('INSERT INTO calls.instructor (call_id, user_id, departements) VALUES ($1, $2, $3) ON CONFLICT (call_id, user_id) DO UPDATE SET departements = EXCLUDED.departements', [call.id, userId, departements]);
    await recordAudit(tx, { actorId: actor.id, action: remove ? 'calls.instructor.remove' : 'calls.instructor.set', objectType: 'calls.call', objectId: call.id, after: { userId, departements } });
  });
}

/** An instructor moves a dossier (en construction → en instruction, back, or sans suite). */
export async function transition(ctx: Ctx, actor: Actor, appId: string, to: unknown, noteInput: unknown): Promise<Application> {
  const { app } = await loadForStaff(ctx.db, actor, appId, 'instructor');
  if (typeof to !== 'string' || !Object.hasOwn(STATES, to)) throw new UserError('État inconnu.', 400, 'state');
  if (!INSTRUCTOR_TRANSITIONS[app.state].includes(to as State)) throw new UserError(`Un dossier « ${STATES[app.state]} » ne peut pas passer à « ${STATES[to as State]} ».`, 409, 'state');
  const note = text(noteInput, 'note', 'Motif', { max: 2000, multiline: true, required: to === 'sans_suite' });
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query(`UPDATE calls.application SET state = $2, correction_reason = NULL, correction_due = NULL, updated_at = now() WHERE id = $1 AND state = $3 RETURNING id`, [app.id, to, app.state]);
    if (!rows[0]) throw new UserError('Ce dossier a changé d’état entre-temps.', 409, 'state');
    await event(tx, app.id, actor.id, 'transition', app.state, to as State, note || null);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.application.transition', objectType: 'calls.application', objectId: app.id, before: { state: app.state }, after: { state: to, note } });
    return (await getApplication(tx, app.id))!;
  });
}

/** Asks the applicant for a correction: reason and deadline; the dossier goes back to « en construction », editable. */
export async function requestCorrection(ctx: Ctx, actor: Actor, appId: string, reasonInput: unknown, dueInput: unknown, now = new Date()): Promise<Application> {
  const { app } = await loadForStaff(ctx.db, actor, appId, 'instructor');
  if (app.state !== 'en_construction' && app.state !== 'en_instruction') throw new UserError(`Un dossier « ${STATES[app.state]} » ne peut pas recevoir de demande de correction.`, 409, 'state');
  const reason = text(reasonInput, 'reason', 'Motif de la correction', { required: true, max: 2000, multiline: true });
  const due = parseDate(dueInput, 'due', 'Date limite');
  if (due < parisToday(now)) throw new UserError('Date limite : elle ne peut pas être passée.', 400, 'due');
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query(`UPDATE calls.application SET state = 'en_construction', correction_reason = $2, correction_due = $3, updated_at = now() WHERE id = $1 AND state = $4 RETURNING id`, [app.id, reason, due, app.state]);
    if (!rows[0]) throw new UserError('Ce dossier a changé d’état entre-temps.', 409, 'state');
    await event(tx, app.id, actor.id, 'correction_requested', app.state, 'en_construction', `${reason} (avant le ${due})`);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.application.correction', objectType: 'calls.application', objectId: app.id, after: { reason, due } });
    return (await getApplication(tx, app.id))!;
  });
}

/** Invites a stage-1 dossier of a two-stage call to the second stage (a new draft to complete). */
export async function inviteSecondStage(ctx: Ctx, actor: Actor, appId: string): Promise<Application> {
  const { app, call } = await loadForStaff(ctx.db, actor, appId, 'instructor');
  if (call.stages !== 2 || app.stage !== 1 || app.state !== 'en_instruction') throw new UserError('Seul un dossier en instruction de la première étape d’un appel en deux étapes peut être invité à la seconde.', 409, 'state');
  return ctx.db.transaction(async (tx) => {
    await tx.query(`UPDATE calls.application SET state = 'brouillon', stage = 2, updated_at = now() WHERE id = $1`, [app.id]);
    await event(tx, app.id, actor.id, 'second_stage', app.state, 'brouillon', 'Invité à la seconde étape : complétez le dossier puis déposez-le.');
    await recordAudit(tx, { actorId: actor.id, action: 'calls.application.stage2', objectType: 'calls.application', objectId: app.id });
    return (await getApplication(tx, app.id))!;
  });
}

// ---------------------------------------------------------------------------------------------
// Review and conflicts of interest

export async function assignReviewer(ctx: Ctx, actor: Actor, appId: string, reviewer: Actor): Promise<void> {
  const { app, call } = await loadForStaff(ctx.db, actor, appId, 'instructor');
  if (!can(reviewer, 'calls.review', callResource(call))) throw new UserError('Cette personne n’a pas le rôle d’évaluateur sur le territoire de l’appel.', 422, 'reviewer');
  if (app.state !== 'en_instruction') throw new UserError('Seul un dossier en instruction peut être confié à un évaluateur.', 409, 'state');
  await ctx.db.transaction(async (tx) => {
    const existing = await tx.query<{ conflict: string | null }>('SELECT conflict FROM calls.review WHERE application_id = $1 AND reviewer_id = $2', [app.id, reviewer.id]);
    if (existing.rows[0]?.conflict === 'hard') throw new UserError('Cet évaluateur a déclaré un conflit d’intérêts sur ce dossier : il ne peut pas lui être confié.', 409, 'reviewer');
    if (existing.rows[0]) throw new UserError('Ce dossier est déjà confié à cet évaluateur.', 409, 'reviewer');
    await tx.query('INSERT INTO calls.review (application_id, reviewer_id, assigned_by) VALUES ($1, $2, $3)', [app.id, reviewer.id, actor.id]);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.review.assign', objectType: 'calls.application', objectId: app.id, after: { reviewerId: reviewer.id } });
  });
}

/** The reviewer declares (once) before seeing the dossier: none, soft or hard conflict. */
export async function declareConflict(ctx: Ctx, actor: Actor, appId: string, levelInput: unknown, noteInput: unknown): Promise<void> {
  const app = await getApplication(ctx.db, appId);
  const row = app ? (await ctx.db.query<{ conflict: string | null }>('SELECT conflict FROM calls.review WHERE application_id = $1 AND reviewer_id = $2', [app.id, actor.id])).rows[0] : undefined;
  if (!app || !row) throw new NotFoundError('Ce dossier ne vous est pas confié.');
  if (typeof levelInput !== 'string' || !Object.hasOwn(CONFLICTS, levelInput)) throw new UserError('Déclaration : aucun conflit, lien à signaler ou conflit d’intérêts.', 400, 'conflict');
  if (row.conflict) throw new UserError('Vous avez déjà fait votre déclaration pour ce dossier.', 409, 'conflict');
  const note = text(noteInput, 'note', 'Précision', { max: 1000, multiline: true, required: levelInput !== 'none' });
  await ctx.db.transaction(async (tx) => {
    const r = await tx.query(`UPDATE calls.review SET conflict = $3, conflict_note = $4, declared_at = now() WHERE application_id = $1 AND reviewer_id = $2 AND conflict IS NULL RETURNING 1`, [app.id, actor.id, levelInput, note || null]);
    if (!r.rows[0]) throw new UserError('Vous avez déjà fait votre déclaration pour ce dossier.', 409, 'conflict');
    await recordAudit(tx, { actorId: actor.id, action: 'calls.conflict.declare', objectType: 'calls.application', objectId: app.id, after: { conflict: levelInput, note } });
  });
}

/** An instructor waives a soft conflict with a reason (the review is no longer flagged). */
export async function waiveConflict(ctx: Ctx, actor: Actor, appId: string, reviewerId: string, reasonInput: unknown): Promise<void> {
  const { app } = await loadForStaff(ctx.db, actor, appId, 'instructor');
  const reason = text(reasonInput, 'reason', 'Motif de la levée', { required: true, max: 1000, multiline: true });
  if (reviewerId === actor.id) throw new ForbiddenError('On ne lève pas son propre conflit d’intérêts.', 'reviewer');
  await ctx.db.transaction(async (tx) => {
    const r = await tx.query(`UPDATE calls.review SET waived_by = $3, waiver_reason = $4, waived_at = now() WHERE application_id = $1 AND reviewer_id = $2 AND conflict = 'soft' AND waived_by IS NULL RETURNING 1`, [app.id, reviewerId, actor.id, reason]);
    if (!r.rows[0]) throw new UserError('Seul un lien à signaler (conflit léger) non encore levé peut l’être.', 409, 'reviewer');
    await recordAudit(tx, { actorId: actor.id, action: 'calls.conflict.waive', objectType: 'calls.application', objectId: app.id, after: { reviewerId, reason } });
  });
}

/** Scores per criterion, recommendation, comment: only after a declaration that is not a hard conflict. */
export async function submitReview(ctx: Ctx, actor: Actor, appId: string, input: Record<string, unknown>): Promise<void> {
  const app = await getApplication(ctx.db, appId);
  const row = app ? (await ctx.db.query<{ conflict: string | null }>('SELECT conflict FROM calls.review WHERE application_id = $1 AND reviewer_id = $2', [app.id, actor.id])).rows[0] : undefined;
  if (!app || !row) throw new NotFoundError('Ce dossier ne vous est pas confié.');
  if (!row.conflict) throw new UserError('Déclarez d’abord vos éventuels conflits d’intérêts.', 409, 'conflict');
  if (row.conflict === 'hard') throw new ForbiddenError('Vous avez déclaré un conflit d’intérêts sur ce dossier : vous ne pouvez pas l’évaluer.', 'conflict');
  if (app.state !== 'en_instruction') throw new UserError('Ce dossier n’est plus en instruction.', 409, 'state');
  const form = await getForm(ctx.db, app.callId, app.formVersion);
  const scores = parseScores(form.criteria, input);
  const rec = input.recommendation;
  if (typeof rec !== 'string' || !Object.hasOwn(RECOMMENDATIONS, rec)) throw new UserError('Recommandation : favorable, avec réserves ou défavorable.', 400, 'recommendation');
  const comment = text(input.comment, 'comment', 'Commentaire', { max: 5000, multiline: true });
  await ctx.db.transaction(async (tx) => {
    await tx.query('UPDATE calls.review SET scores = $3, recommendation = $4, comment = $5, submitted_at = now() WHERE application_id = $1 AND reviewer_id = $2', [app.id, actor.id, JSON.stringify(scores), rec, comment]);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.review.submit', objectType: 'calls.application', objectId: app.id, after: { scores, recommendation: rec } });
  });
}

export interface ReviewRow {
  reviewerId: string;
  reviewerName: string;
  conflict: Conflict | null;
  conflictNote: string | null;
  waived: boolean;
  waiverReason: string | null;
  scores: Record<string, number> | null;
  recommendation: string | null;
  comment: string | null;
  submittedAt: string | null;
}

export async function reviewsOf(db: Queryable, appId: string): Promise<ReviewRow[]> {
  const { rows } = await db.query(
    `SELECT r.reviewer_id, r.conflict, r.conflict_note, r.waived_by, r.waiver_reason, r.scores, r.recommendation, r.comment, r.submitted_at
       FROM calls.review r WHERE r.application_id = $1 ORDER BY r.assigned_at`,
    [appId],
  );
  const names = await userNames(db, rows.map((r) => r.reviewer_id as string));
  return rows.map((r) => ({
    reviewerId: r.reviewer_id as string,
    reviewerName: names.get(r.reviewer_id as string) ?? '?',
    conflict: (r.conflict as Conflict | null) ?? null,
    conflictNote: (r.conflict_note as string | null) ?? null,
    waived: !!r.waived_by,
    waiverReason: (r.waiver_reason as string | null) ?? null,
    scores: (r.scores as Record<string, number> | null) ?? null,
    recommendation: (r.recommendation as string | null) ?? null,
    comment: (r.comment as string | null) ?? null,
    submittedAt: iso(r.submitted_at),
  }));
}

export async function myReviews(db: Queryable, reviewerId: string) {
  const { rows } = await db.query(
    `SELECT a.id, a.number, c.slug, c.title AS call_title, r.conflict, r.submitted_at, a.state FROM calls.review r JOIN calls.application a ON a.id = r.application_id JOIN calls.call c ON c.id = a.call_id
      WHERE r.reviewer_id = $1 ORDER BY c.closes_at DESC, a.number`,
    [reviewerId],
  );
  return rows.map((r) => ({ id: r.id as string, reference: `${(r.slug as string).slice(0, 40).toUpperCase()}-${String(r.number).padStart(4, '0')}`, callTitle: r.call_title as string, conflict: (r.conflict as Conflict | null) ?? null, submitted: !!r.submitted_at, state: r.state as State }));
}

/** Every conflict declaration of a call (for export and audit). */
export async function conflictsOf(db: Queryable, callId: string) {
  const { rows } = await db.query(
    `SELECT a.number, c.slug, r.reviewer_id, r.conflict, r.conflict_note, r.declared_at, r.waiver_reason, r.waived_at
       FROM calls.review r JOIN calls.application a ON a.id = r.application_id JOIN calls.call c ON c.id = a.call_id
      WHERE a.call_id = $1 AND r.conflict IS NOT NULL ORDER BY a.number, r.declared_at`,
    [callId],
  );
  const names = await userNames(db, rows.map((r) => r.reviewer_id as string));
  return rows.map((r) => ({
    reference: `${(r.slug as string).slice(0, 40).toUpperCase()}-${String(r.number).padStart(4, '0')}`,
    reviewer: names.get(r.reviewer_id as string) ?? '?',
    conflict: r.conflict as Conflict,
    note: (r.conflict_note as string | null) ?? '',
    declaredAt: iso(r.declared_at) ?? '',
    waiverReason: (r.waiver_reason as string | null) ?? '',
    waivedAt: iso(r.waived_at) ?? '',
  }));
}

// ---------------------------------------------------------------------------------------------
// Instructor list, ranking

export interface ListedApplication {
  id: string;
  number: number;
  reference: string;
  title: string;
  organisation: string;
  departement: string | null;
  state: State;
  stage: number;
  amountRequested: number | null;
  score: number | null;
  reviews: number;
  flagged: boolean;
  submittedAt: string | null;
  decidedAmount: number | null;
}

export interface ListFilter {
  state?: string;
  departement?: string;
  q?: string;
}

/** One page of the instructor list: keyset pagination on the dossier number. */
export interface ListPage {
  items: ListedApplication[];
  /** Dossiers matching the filters (all pages). */
  total: number;
  /** The `after` value for the next page, or null on the last page. */
  nextAfter: number | null;
}

export const LIST_PAGE_SIZE = 50;

async function listWhere(db: Queryable, actor: Actor, call: Call, f: ListFilter) {
  const manager = can(actor, 'calls.manage', callResource(call));
  let deps: string[] | null = null;
  if (!manager) {
    const { rows } = await db.query<{ departements: string[] }>('SELECT departements FROM calls.instructor WHERE call_id = $1 AND user_id = $2', [call.id, actor.id]);
    if (!rows[0] || !mayInstruct(actor, call, rows[0].departements)) throw new ForbiddenError('Vous n’instruisez pas cet appel.');
    deps = rows[0].departements.length ? rows[0].departements : null;
  }
  const where = [`a.call_id = $1`, `a.state <> 'brouillon'`];
  const params: unknown[] = [call.id];
  if (deps) where.push(`a.departement = ANY ($${params.push(deps)})`);
  if (f.state && Object.hasOwn(STATES, f.state)) where.push(`a.state = $${params.push(f.state)}`);
  if (f.departement && DEPARTEMENT.test(f.departement)) where.push(`a.departement = $${params.push(f.departement)}`);
  const join = f.q ? 'JOIN calls.organisation o ON o.id = a.organisation_id' : '';
  if (f.q) where.push(`(a.title ILIKE $${params.push(`%${f.q.slice(0, 100).replace(/[\\%_]/g, (m) => `\\${m}`)}%`)} OR o.name ILIKE $${params.length})`);
  return { where, params, join };
}

/** Rows of the list (scores computed only for these rows). */
async function listRows(db: Queryable, call: Call, join: string, where: string[], params: unknown[], limit: number): Promise<ListedApplication[]> {
  const { rows } = await db.query(
    `SELECT a.id, a.number, a.title, o.name AS org_name, a.departement, a.state, a.stage, a.amount_requested, a.submitted_at, a.decided_amount, a.form_version,
            coalesce((SELECT json_agg(json_build_object('conflict', r.conflict, 'waived', r.waived_by IS NOT NULL, 'scores', r.scores)) FROM calls.review r WHERE r.application_id = a.id), '[]') AS reviews
       FROM (SELECT a.* FROM calls.application a ${join} WHERE ${where.join(' AND ')} ORDER BY a.number LIMIT ${limit}) a
       JOIN calls.organisation o ON o.id = a.organisation_id ORDER BY a.number`,
    params,
  );
  const forms = new Map<number, FormDefinition>();
  const out: ListedApplication[] = [];
  for (const r of rows) {
    const v = Number(r.form_version);
    if (!forms.has(v)) forms.set(v, await getForm(db, call.id, v));
    const reviews = (typeof r.reviews === 'string' ? JSON.parse(r.reviews) : r.reviews) as { conflict: Conflict | null; waived: boolean; scores: Record<string, number> | null }[];
    out.push({
      id: r.id as string,
      number: Number(r.number),
      reference: `${call.slug.slice(0, 40).toUpperCase()}-${String(r.number).padStart(4, '0')}`,
      title: r.title as string,
      organisation: r.org_name as string,
      departement: (r.departement as string | null) ?? null,
      state: r.state as State,
      stage: Number(r.stage),
      amountRequested: num(r.amount_requested),
      score: weightedScore(forms.get(v)!.criteria, reviews),
      reviews: reviews.filter((x) => x.scores && x.conflict !== 'hard').length,
      flagged: reviews.some((x) => x.conflict === 'soft' && !x.waived && x.scores),
      submittedAt: iso(r.submitted_at),
      decidedAmount: num(r.decided_amount),
    });
  }
  return out;
}

/** Every dossier of a call an actor may instruct, with weighted scores (hard conflicts left out): for the ranking and the exports. */
export async function instructorList(db: Queryable, actor: Actor, call: Call, f: ListFilter = {}): Promise<ListedApplication[]> {
  const { where, params, join } = await listWhere(db, actor, call, f);
  return listRows(db, call, join, where, params, 20000);
}

/**
 * One page of the instructor list (keyset pagination: the dossiers numbered after `after`, by
 * number), with the count of all matches; scores are computed for the page's rows only.
 */
export async function instructorPage(db: Queryable, actor: Actor, call: Call, f: ListFilter = {}, after = 0, size = LIST_PAGE_SIZE): Promise<ListPage> {
  const { where, params, join } = await listWhere(db, actor, call, f);
  const total = Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM calls.application a ${join} WHERE ${where.join(' AND ')}`, params)).rows[0]!.n);
  const pageWhere = Number.isSafeInteger(after) && after > 0 ? [...where, `a.number > $${params.length + 1}`] : where;
  const pageParams = pageWhere === where ? params : [...params, after];
  const items = await listRows(db, call, join, pageWhere, pageParams, size + 1);
  const more = items.length > size;
  if (more) items.length = size;
  return { items, total, nextAfter: more ? items[items.length - 1]!.number : null };
}

/** Ranking for the committee: by weighted score, with the running total of amounts requested against the envelope left. */
export function rank(items: ListedApplication[], envelopeLeft: number) {
  const sorted = items.filter((i) => i.state === 'en_instruction').sort((a, b) => (b.score ?? -1) - (a.score ?? -1) || a.reference.localeCompare(b.reference));
  let running = 0;
  return sorted.map((i, k) => {
    running = Math.round((running + (i.amountRequested ?? 0)) * 100) / 100;
    return { ...i, rank: k + 1, running, withinEnvelope: running <= envelopeLeft };
  });
}

// ---------------------------------------------------------------------------------------------
// Committee and decisions

export async function createCommittee(ctx: Ctx, actor: Actor, callId: string, input: Record<string, unknown>): Promise<string> {
  const call = await getCall(ctx.db, callId);
  if (!call) throw new NotFoundError('Cet appel n’existe pas.');
  assertManage(actor, call);
  const heldOn = parseDate(input.heldOn, 'heldOn', 'Date du comité');
  const title = text(input.title, 'title', 'Intitulé', { required: true, max: 200 });
  return ctx.db.transaction(async (tx) => {
    const id = crypto.randomUUID();
    await tx.query('INSERT INTO calls.committee (id, call_id, held_on, title, created_by) VALUES ($1, $2, $3, $4, $5)', [id, call.id, heldOn, title, actor.id]);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.committee.create', objectType: 'calls.committee', objectId: id, after: { callId: call.id, heldOn, title } });
    return id;
  });
}

export async function committeesOf(db: Queryable, callId: string) {
  const { rows } = await db.query('SELECT id, held_on::text AS held_on, title FROM calls.committee WHERE call_id = $1 ORDER BY held_on DESC', [callId]);
  return rows.map((r) => ({ id: r.id as string, heldOn: r.held_on as string, title: r.title as string }));
}

export type DecisionNotifier = (to: { userId: string }, subject: string, body: string) => Promise<void>;

/**
 * A committee decision: accepted (with an amount, committed on the call's envelope atomically;
 * a grant is created), refused or sans suite, with a motivation.
 */
export async function decide(ctx: Ctx, actor: Actor, appId: string, input: Record<string, unknown>): Promise<Application> {
  const { app, call } = await loadForStaff(ctx.db, actor, appId, 'manager');
  if (app.state !== 'en_instruction') throw new UserError(`Seul un dossier en instruction peut être décidé (celui-ci est « ${STATES[app.state]} »).`, 409, 'state');
  const decision = input.decision;
  if (decision !== 'accepte' && decision !== 'refuse' && decision !== 'sans_suite') throw new UserError('Décision : accepté, refusé ou sans suite.', 400, 'decision');
  const motivation = text(input.motivation, 'motivation', 'Motivation', { required: true, max: 5000, multiline: true });
  const committeeId = typeof input.committeeId === 'string' && UUID.test(input.committeeId) ? input.committeeId : null;
  if (committeeId && !(await ctx.db.query('SELECT 1 FROM calls.committee WHERE id = $1 AND call_id = $2', [committeeId, call.id])).rows[0]) throw new UserError('Comité inconnu pour cet appel.', 400, 'committeeId');
  let amount: number | null = null;
  let conventionOn: string | null = null;
  if (decision === 'accepte' && call.kind !== 'label') {
    amount = parseAmount(input.amount, 'amount', 'Montant accordé');
    if (amount <= 0) throw new UserError('Montant accordé : il doit être positif.', 400, 'amount');
    if (app.amountRequested !== null && amount > app.amountRequested) throw new UserError(`Montant accordé : il dépasse le montant demandé (${app.amountRequested} €).`, 422, 'amount');
    if (input.conventionOn) conventionOn = parseDate(input.conventionOn, 'conventionOn', 'Date de la convention');
  }
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query(
      `UPDATE calls.application SET state = $2, decided_amount = $3, decision_motivation = $4, decided_at = now(), committee_id = $5, updated_at = now() WHERE id = $1 AND state = 'en_instruction' RETURNING id`,
      [app.id, decision, amount, motivation, committeeId],
    );
    if (!rows[0]) throw new UserError('Ce dossier a changé d’état entre-temps.', 409, 'state');
    if (amount !== null) {
      // The envelope follows: committed atomically (two decisions racing for the last euros cannot both pass).
      const env = await tx.query('UPDATE calls.call SET committed = committed + $2 WHERE id = $1 AND committed + $2 <= envelope RETURNING committed, envelope', [call.id, amount]);
      if (!env.rows[0]) {
        const now = (await getCall(tx, call.id))!;
        throw new UserError(`Montant accordé : ${amount} € dépasseraient l’enveloppe de l’appel (reste ${Math.round((now.envelope - now.committed) * 100) / 100} € sur ${now.envelope} €).`, 409, 'amount', 'over_commitment');
      }
      // …and the dossier's département ceiling, when the call has one there.
      await commitOnCeiling(tx, call.id, app.departement, amount);
      const grantId = crypto.randomUUID();
      await tx.query('INSERT INTO calls.grant (id, application_id, call_id, reference, convention_on, amount) VALUES ($1, $2, $3, $4, $5, $6)', [grantId, app.id, call.id, `SUB-${app.reference}`, conventionOn, amount]);
      await recordAudit(tx, { actorId: actor.id, action: 'calls.grant.create', objectType: 'calls.grant', objectId: grantId, after: { applicationId: app.id, amount, conventionOn } });
    }
    await event(tx, app.id, actor.id, 'decision', 'en_instruction', decision, `${motivation}${amount !== null ? ` — montant accordé : ${amount} €` : ''}`);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.application.decide', objectType: 'calls.application', objectId: app.id, after: { decision, amount, motivation, committeeId } });
    return (await getApplication(tx, app.id))!;
  });
}

/** The members of an organisation (to notify them of a decision). */
export async function organisationMembers(db: Queryable, orgId: string): Promise<{ id: string; email: string; displayName: string }[]> {
  const { rows } = await db.query<{ user_id: string }>('SELECT user_id FROM calls.organisation_member WHERE organisation_id = $1 ORDER BY added_at', [orgId]);
  return activeUsers(db, rows.map((r) => r.user_id));
}

/** The active accounts among these ids (through the accounts module: no cross-schema join). */
export async function activeUsers(db: Queryable, ids: string[]): Promise<{ id: string; email: string; displayName: string }[]> {
  const out: { id: string; email: string; displayName: string }[] = [];
  for (const id of new Set(ids)) {
    const u = await getUser(db, id);
    if (u && u.status === 'active') out.push({ id: u.id, email: u.email, displayName: u.displayName });
  }
  return out;
}

/** Display names of accounts (through the accounts module: no cross-schema join). */
export async function userNames(db: Queryable, ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const id of new Set(ids)) {
    const u = await getUser(db, id);
    if (u) out.set(id, u.displayName);
  }
  return out;
}

export { FINAL_STATES };

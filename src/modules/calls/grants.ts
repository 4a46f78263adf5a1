/**
 * Grants: the payment schedule (advance, instalments, balance), payments recorded, closure (a
 * grant closed below its amount gives the rest back to the call's envelope), and the open-data
 * export in the SCDL « Subventions » schema v2.1.1, validated before publication.
 */
import crypto from 'node:crypto';
import type { Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { ForbiddenError, NotFoundError, UserError } from '../../platform/http/errors.ts';
import { can, type Actor } from '../accounts/index.ts';
import { parseAmount, parseDate, text } from './model.ts';
import { callResource, getCall, type Ctx } from './service.ts';
import { releaseOnCeiling } from './ceilings.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const cents = (n: number) => Math.round(n * 100);

export interface Instalment {
  seq: number;
  kind: 'avance' | 'acompte' | 'solde';
  amount: number;
  dueOn: string | null;
  condition: string;
  paidOn: string | null;
  paidAmount: number | null;
}

export interface Grant {
  id: string;
  applicationId: string;
  callId: string;
  reference: string;
  conventionOn: string | null;
  amount: number;
  paid: number;
  status: 'active' | 'closed';
  closingNote: string | null;
  title: string;
  organisation: string;
  siret: string;
}

const GRANT_SQL = `SELECT g.id, g.application_id, g.call_id, g.reference, g.convention_on::text AS convention_on, g.amount, g.paid, g.status, g.closing_note, a.title, o.name AS org_name, o.siret
  FROM calls.grant g JOIN calls.application a ON a.id = g.application_id JOIN calls.organisation o ON o.id = a.organisation_id`;

const toGrant = (r: Record<string, unknown>): Grant => ({
  id: r.id as string,
  applicationId: r.application_id as string,
  callId: r.call_id as string,
  reference: r.reference as string,
  conventionOn: (r.convention_on as string | null) ?? null,
  amount: Number(r.amount),
  paid: Number(r.paid),
  status: r.status as Grant['status'],
  closingNote: (r.closing_note as string | null) ?? null,
  title: r.title as string,
  organisation: r.org_name as string,
  siret: r.siret as string,
});

export async function getGrant(db: Queryable, id: string): Promise<Grant | null> {
  if (!UUID.test(id)) return null;
  const { rows } = await db.query(`${GRANT_SQL} WHERE g.id = $1`, [id]);
  return rows[0] ? toGrant(rows[0]) : null;
}

export async function grantsOfCall(db: Queryable, callId: string): Promise<Grant[]> {
  const { rows } = await db.query(`${GRANT_SQL} WHERE g.call_id = $1 ORDER BY g.reference`, [callId]);
  return rows.map(toGrant);
}

export async function instalmentsOf(db: Queryable, grantId: string): Promise<Instalment[]> {
  const { rows } = await db.query(
    `SELECT i.seq, i.kind, i.amount, i.due_on::text AS due_on, i.condition, p.paid_on::text AS paid_on, p.amount AS paid_amount
       FROM calls.instalment i LEFT JOIN calls.payment p ON p.grant_id = i.grant_id AND p.seq = i.seq WHERE i.grant_id = $1 ORDER BY i.seq`,
    [grantId],
  );
  return rows.map((r) => ({ seq: Number(r.seq), kind: r.kind as Instalment['kind'], amount: Number(r.amount), dueOn: (r.due_on as string | null) ?? null, condition: r.condition as string, paidOn: (r.paid_on as string | null) ?? null, paidAmount: r.paid_amount === null ? null : Number(r.paid_amount) }));
}

async function loadManaged(db: Queryable, actor: Actor, grantId: string) {
  const g = await getGrant(db, grantId);
  if (!g) throw new NotFoundError('Cette subvention n’existe pas.');
  const call = (await getCall(db, g.callId))!;
  if (!can(actor, 'calls.manage', callResource(call))) throw new ForbiddenError('Vous ne gérez pas les subventions de cet appel.');
  return { g, call };
}

export interface ScheduleLine {
  kind: unknown;
  amount: unknown;
  dueOn?: unknown;
  condition?: unknown;
}

/** Sets the schedule: lines summing to the grant's amount exactly; impossible once a payment is recorded. */
export async function setSchedule(ctx: Ctx, actor: Actor, grantId: string, lines: ScheduleLine[], conventionOn?: unknown): Promise<void> {
  const { g } = await loadManaged(ctx.db, actor, grantId);
  if (g.status === 'closed') throw new UserError('Cette subvention est soldée.', 409, 'status');
  if (!Array.isArray(lines) || lines.length === 0 || lines.length > 12) throw new UserError('Échéancier : de 1 à 12 échéances.', 400, 'schedule');
  const parsed = lines.map((l, i) => {
    const f = `schedule[${i}]`;
    if (l.kind !== 'avance' && l.kind !== 'acompte' && l.kind !== 'solde') throw new UserError(`Échéance ${i + 1} : avance, acompte ou solde.`, 400, `${f}.kind`);
    const amount = parseAmount(l.amount, `${f}.amount`, `Échéance ${i + 1}`);
    if (amount <= 0) throw new UserError(`Échéance ${i + 1} : montant positif attendu.`, 400, `${f}.amount`);
    return { kind: l.kind, amount, dueOn: l.dueOn ? parseDate(l.dueOn, `${f}.dueOn`, `Échéance ${i + 1}, date`) : null, condition: text(l.condition, `${f}.condition`, `Échéance ${i + 1}, condition`, { max: 500 }) };
  });
  if (parsed.filter((p) => p.kind === 'solde').length > 1 || (parsed.some((p) => p.kind === 'solde') && parsed[parsed.length - 1]!.kind !== 'solde')) throw new UserError('Échéancier : un seul solde, en dernier.', 400, 'schedule');
  const total = parsed.reduce((s, p) => s + cents(p.amount), 0);
  if (total !== cents(g.amount)) throw new UserError(`Échéancier : les échéances font ${total / 100} € pour une subvention de ${g.amount} €.`, 422, 'schedule');
  const conv = conventionOn ? parseDate(conventionOn, 'conventionOn', 'Date de la convention') : g.conventionOn;
  await ctx.db.transaction(async (tx) => {
    const paid = await tx.query('SELECT 1 FROM calls.payment WHERE grant_id = $1 LIMIT 1', [g.id]);
    if (paid.rows[0]) throw new UserError('Des versements sont déjà enregistrés : l’échéancier ne peut plus changer.', 409, 'schedule');
    await tx.query('DELETE FROM calls.instalment WHERE grant_id = $1', [g.id]);
    for (const [i, p] of parsed.entries()) await tx.query('INSERT INTO calls.instalment (grant_id, seq, kind, amount, due_on, condition) VALUES ($1, $2, $3, $4, $5, $6)', [g.id, i + 1, p.kind, p.amount, p.dueOn, p.condition]);
    await tx.query('UPDATE calls.grant SET convention_on = $2 WHERE id = $1', [g.id, conv]);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.grant.schedule', objectType: 'calls.grant', objectId: g.id, after: { schedule: parsed, conventionOn: conv } });
  });
}

/** Records the payment of an instalment (at most its amount, once); the grant and the call's `paid` follow. */
export async function recordPayment(ctx: Ctx, actor: Actor, grantId: string, input: Record<string, unknown>): Promise<void> {
  const { g } = await loadManaged(ctx.db, actor, grantId);
  if (g.status === 'closed') throw new UserError('Cette subvention est soldée.', 409, 'status');
  const seq = Number(input.seq);
  const inst = (await instalmentsOf(ctx.db, g.id)).find((i) => i.seq === seq);
  if (!inst) throw new UserError('Échéance inconnue.', 400, 'seq');
  if (inst.paidOn) throw new UserError('Cette échéance est déjà versée.', 409, 'seq');
  const amount = parseAmount(input.amount, 'amount', 'Montant versé');
  if (amount <= 0 || cents(amount) > cents(inst.amount)) throw new UserError(`Montant versé : entre 0 et ${inst.amount} € (le montant de l’échéance).`, 422, 'amount');
  const paidOn = parseDate(input.paidOn, 'paidOn', 'Date du versement');
  const reference = text(input.reference, 'reference', 'Référence du mandat', { max: 100 });
  await ctx.db.transaction(async (tx) => {
    const ins = await tx.query('INSERT INTO calls.payment (id, grant_id, seq, amount, paid_on, reference, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (grant_id, seq) DO NOTHING RETURNING id', [crypto.randomUUID(), g.id, seq, amount, paidOn, reference, actor.id]);
    if (!ins.rows[0]) throw new UserError('Cette échéance est déjà versée.', 409, 'seq');
    const up = await tx.query(`UPDATE calls.grant SET paid = paid + $2 WHERE id = $1 AND status = 'active' AND paid + $2 <= amount RETURNING id`, [g.id, amount]);
    if (!up.rows[0]) throw new UserError('Ce versement dépasserait le montant de la subvention.', 409, 'amount');
    await tx.query('UPDATE calls.call SET paid = paid + $2 WHERE id = $1', [g.callId, amount]);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.grant.payment', objectType: 'calls.grant', objectId: g.id, after: { seq, amount, paidOn, reference } });
  });
}

/** Closes the grant: what was not paid is a reduction, given back to the call's envelope. */
export async function closeGrant(ctx: Ctx, actor: Actor, grantId: string, noteInput: unknown): Promise<void> {
  const { g } = await loadManaged(ctx.db, actor, grantId);
  if (g.status === 'closed') throw new UserError('Cette subvention est déjà soldée.', 409, 'status');
  const note = text(noteInput, 'note', 'Note de clôture', { max: 2000, multiline: true, required: cents(g.paid) < cents(g.amount) });
  await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ amount: number; paid: number }>(`SELECT amount, paid FROM calls.grant WHERE id = $1 AND status = 'active' FOR UPDATE`, [g.id]);
    if (!rows[0]) throw new UserError('Cette subvention est déjà soldée.', 409, 'status');
    const reduction = (cents(Number(rows[0].amount)) - cents(Number(rows[0].paid))) / 100;
    if (reduction > 0) {
      // A grant with nothing paid is not closed but withdrawn (its amount cannot drop to zero).
      if (cents(Number(rows[0].paid)) === 0) throw new UserError('Rien n’a été versé : la décision doit être retirée plutôt que la subvention soldée.', 409, 'paid');
      await tx.query('UPDATE calls.grant SET amount = paid WHERE id = $1', [g.id]);
      await tx.query('UPDATE calls.call SET committed = committed - $2 WHERE id = $1', [g.callId, reduction]);
      await releaseOnCeiling(tx, g.callId, g.applicationId, reduction);
    }
    await tx.query(`UPDATE calls.grant SET status = 'closed', closed_at = now(), closing_note = $2 WHERE id = $1`, [g.id, note || null]);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.grant.close', objectType: 'calls.grant', objectId: g.id, before: { amount: g.amount, paid: g.paid }, after: { reduction, note } });
  });
}

// ---------------------------------------------------------------------------------------------
// SCDL « Subventions » v2.1.1

export const SCDL_THRESHOLD = 23_000;

interface ScdlField {
  name: string;
  required: boolean;
  pattern?: RegExp;
  maxLength?: number;
  enum?: string[];
  type: 'string' | 'date' | 'number' | 'boolean';
  min?: number;
  max?: number;
}

/** The 16 fields of SCDL Subventions 2.1.1, in order, with their constraints. */
export const SCDL_FIELDS: ScdlField[] = [
  { name: 'nomAttribuant', type: 'string', required: true },
  { name: 'idAttribuant', type: 'string', required: true, pattern: /^\d{14}$/ },
  { name: 'dateConvention', type: 'date', required: true },
  { name: 'referenceDecision', type: 'string', required: false },
  { name: 'nomBeneficiaire', type: 'string', required: true },
  { name: 'idBeneficiaire', type: 'string', required: false, pattern: /^\d{14}$/ },
  { name: 'rnaBeneficiaire', type: 'string', required: false, pattern: /^W\d{9}$/ },
  { name: 'objet', type: 'string', required: true, maxLength: 256 },
  { name: 'montant', type: 'number', required: true, min: 0 },
  { name: 'nature', type: 'string', required: true, enum: ['aide en numéraire', 'aide en nature', 'aide en numéraire;aide en nature', 'aide en nature;aide en numéraire'] },
  { name: 'conditionsVersement', type: 'string', required: true, enum: ['unique', 'échelonné'] },
  { name: 'datesPeriodeVersement', type: 'string', required: true, pattern: /^\d{4}-\d{2}-\d{2}(\/\d{4}-\d{2}-\d{2})?$/ },
  { name: 'idRAE', type: 'string', required: false, maxLength: 5 },
  { name: 'notificationUE', type: 'boolean', required: true, enum: ['oui', 'non'] },
  { name: 'pourcentageSubvention', type: 'number', required: true, min: 0.01, max: 1 },
  { name: 'dispositifAide', type: 'string', required: false },
];

export type ScdlRow = Record<string, string>;

/** The problems of a row against the schema (empty when valid). */
export function scdlProblems(row: ScdlRow): string[] {
  const out: string[] = [];
  for (const f of SCDL_FIELDS) {
    const v = row[f.name] ?? '';
    if (v === '') {
      if (f.required) out.push(`${f.name} : valeur obligatoire`);
      continue;
    }
    if (f.pattern && !f.pattern.test(v)) out.push(`${f.name} : format invalide (« ${v.slice(0, 40)} »)`);
    if (f.maxLength && v.length > f.maxLength) out.push(`${f.name} : ${f.maxLength} caractères au plus`);
    if (f.enum && !f.enum.includes(v)) out.push(`${f.name} : valeur non autorisée (« ${v.slice(0, 40)} »)`);
    if (f.type === 'date' && (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`)))) out.push(`${f.name} : date AAAA-MM-JJ attendue`);
    if (f.type === 'number') {
      const n = Number(v);
      if (!/^-?\d+(\.\d+)?$/.test(v) || !Number.isFinite(n)) out.push(`${f.name} : nombre attendu (point décimal)`);
      else if ((f.min !== undefined && n < f.min) || (f.max !== undefined && n > f.max)) out.push(`${f.name} : hors des bornes`);
    }
  }
  return out;
}

export interface ScdlEntry {
  grantId: string;
  reference: string;
  row: ScdlRow;
  problems: string[];
  /** Above the legal threshold and valid: in the published file. */
  published: boolean;
}

/**
 * Every grant as an SCDL row, its validation, and whether it is published (amount above
 * 23,000 € and valid). Streams in batches of `batch` rows (keyset on the grant id).
 */
export async function* scdlEntries(db: Queryable, o: { batch?: number; aboveThresholdOnly?: boolean } = {}): AsyncGenerator<ScdlEntry[]> {
  const batch = o.batch ?? 5000;
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    // The batch of grants first (keyset on the id), then its joins and one schedule aggregate per
    // grant of the batch: the plan never joins whole tables for a batch.
    const { rows } = await db.query(
      `WITH g AS (SELECT id, application_id, call_id, reference, convention_on, amount FROM calls.grant
                   WHERE id > $1 ${o.aboveThresholdOnly ? `AND amount > ${SCDL_THRESHOLD}` : ''} ORDER BY id LIMIT ${batch}),
            s AS (SELECT i.grant_id, count(*)::int AS n_inst, min(i.due_on)::text AS first_due, max(i.due_on)::text AS last_due
                    FROM calls.instalment i WHERE i.grant_id IN (SELECT id FROM g) GROUP BY i.grant_id)
       SELECT g.id, g.reference, g.convention_on::text AS convention_on, g.amount, a.title, o.name AS org_name, o.siret, c.funder_name, c.funder_siret, c.title AS call_title,
              coalesce(s.n_inst, 0) AS n_inst, s.first_due, s.last_due
         FROM g JOIN calls.application a ON a.id = g.application_id JOIN calls.organisation o ON o.id = a.organisation_id JOIN calls.call c ON c.id = g.call_id
         LEFT JOIN s ON s.grant_id = g.id
        ORDER BY g.id`,
      [after],
    );
    if (!rows.length) return;
    after = rows[rows.length - 1]!.id as string;
    yield rows.map((r) => {
      const conv = (r.convention_on as string | null) ?? '';
      const n = Number(r.n_inst);
      const first = (r.first_due as string | null) ?? conv;
      const last = (r.last_due as string | null) ?? first;
      const row: ScdlRow = {
        nomAttribuant: r.funder_name as string,
        idAttribuant: (r.funder_siret as string | null) ?? '',
        dateConvention: conv,
        referenceDecision: r.reference as string,
        nomBeneficiaire: r.org_name as string,
        idBeneficiaire: r.siret as string,
        rnaBeneficiaire: '',
        objet: (r.title as string).slice(0, 256),
        montant: String(Number(r.amount)),
        nature: 'aide en numéraire',
        conditionsVersement: n > 1 ? 'échelonné' : 'unique',
        datesPeriodeVersement: first ? (n > 1 && last && last !== first ? `${first}/${last}` : first) : '',
        idRAE: '',
        notificationUE: 'non',
        pourcentageSubvention: '1',
        dispositifAide: r.call_title as string,
      };
      const problems = scdlProblems(row);
      return { grantId: r.id as string, reference: r.reference as string, row, problems, published: Number(r.amount) > SCDL_THRESHOLD && problems.length === 0 };
    });
  }
}

/** A CSV cell: quoted when needed, with a leading quote before formula characters. */
export const csvCell = (s: string) => {
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

/**
 * The published SCDL file (CSV, comma, UTF-8, CRLF): valid grants above the threshold only, as
 * chunks of one batch each, so the HTTP route streams it without holding the whole file.
 */
export async function* scdlCsvChunks(db: Queryable): AsyncGenerator<string> {
  yield SCDL_FIELDS.map((f) => f.name).join(',') + '\r\n';
  for await (const batch of scdlEntries(db, { aboveThresholdOnly: true })) {
    let chunk = '';
    for (const e of batch) if (e.published) chunk += SCDL_FIELDS.map((f) => csvCell(e.row[f.name] ?? '')).join(',') + '\r\n';
    if (chunk) yield chunk;
  }
}

/** The published SCDL file as one string (tests, small exports). */
export async function scdlCsv(db: Queryable): Promise<string> {
  let out = '';
  for await (const chunk of scdlCsvChunks(db)) out += chunk;
  return out;
}

function csvOf(entries: readonly ScdlEntry[]): string {
  const parts = [SCDL_FIELDS.map((f) => f.name).join(',')];
  for (const e of entries) if (e.published) parts.push(SCDL_FIELDS.map((f) => csvCell(e.row[f.name] ?? '')).join(','));
  return parts.join('\r\n') + '\r\n';
}

async function collectEntries(db: Queryable): Promise<ScdlEntry[]> {
  const entries: ScdlEntry[] = [];
  for await (const batch of scdlEntries(db)) for (const e of batch) entries.push(e);
  return entries;
}

/** Every grant's SCDL entry and the published CSV, as of one version of the grants. */
export interface ScdlExport {
  version: number;
  entries: readonly ScdlEntry[];
  csv: string;
}

const scdlCache = new WeakMap<object, { version: number; result: Promise<ScdlExport> }>();

/**
 * The SCDL export for the public pages and API (anyone may ask, often): computed once per
 * version of the grants (calls.grants_version, bumped by triggers in the writing transaction)
 * and shared by every request — concurrent requests wait for the same computation. Each request
 * reads the version in the database first, so an instance never serves an export older than
 * the data, whatever instance made the change.
 */
export async function publishedScdl(db: Queryable): Promise<ScdlExport> {
  const { rows } = await db.query<{ version: number }>('SELECT version FROM calls.grants_version WHERE id = 1');
  const version = Number(rows[0]?.version ?? 0);
  const cached = scdlCache.get(db);
  if (cached && cached.version === version) return cached.result;
  const result = collectEntries(db).then((entries) => ({ version, entries, csv: csvOf(entries) }));
  scdlCache.set(db, { version, result });
  result.catch(() => {
    if (scdlCache.get(db)?.result === result) scdlCache.delete(db);
  });
  return result;
}

export async function grantTotals(db: Queryable): Promise<{ granted: number; paid: number; count: number }> {
  const { rows } = await db.query<{ granted: number; paid: number; n: number }>(`SELECT coalesce(sum(amount), 0) AS granted, coalesce(sum(paid), 0) AS paid, count(*)::int AS n FROM calls.grant`);
  return { granted: Number(rows[0]!.granted), paid: Number(rows[0]!.paid), count: Number(rows[0]!.n) };
}

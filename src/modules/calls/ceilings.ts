/**
 * Ceilings per département inside a call's envelope (issue #18, as the national envelopes with a
 * ceiling per département): a grant is refused when it would take its département past its
 * ceiling. `calls.ceiling.committed` moves in the decision's transaction, under the ceiling's row
 * lock, so simultaneous decisions cannot pass it together; a closure gives the unpaid rest back.
 */
import type { Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { NotFoundError, UserError } from '../../platform/http/errors.ts';
import { can, type Actor } from '../accounts/index.ts';
import { formatEuros, parseAmount } from './model.ts';
import * as service from './service.ts';

const DEPARTEMENT = /^(\d{2}|2A|2B|97[1-8])$/;

export interface Ceiling {
  departement: string;
  amount: number;
  committed: number;
}

export async function ceilingsOf(db: Queryable, callId: string): Promise<Ceiling[]> {
  const { rows } = await db.query('SELECT departement, amount, committed FROM calls.ceiling WHERE call_id = $1 ORDER BY departement', [callId]);
  return rows.map((r) => ({ departement: r.departement as string, amount: Number(r.amount), committed: Number(r.committed) }));
}

/**
 * Parses « 37 = 50 000 » lines (or an object { "37": 50000 }): one ceiling per département, each
 * a département of the call (when the call names some); the sum within the envelope is checked
 * when saving.
 */
export function parseCeilings(input: unknown, call: Pick<service.Call, 'departements'>): Map<string, number> {
  const out = new Map<string, number>();
  const entries: [string, unknown, string][] = [];
  if (typeof input === 'string') {
    if (input.length > 20_000) throw new UserError('Plafonds : texte trop long.', 400, 'ceilings');
    input.split(/\r?\n/).forEach((line, i) => {
      if (!line.trim()) return;
      const m = /^\s*([0-9AB]{2,3})\s*[=:]\s*(.+?)\s*$/i.exec(line);
      if (!m) throw new UserError(`Plafonds, ligne ${i + 1} : « département = montant » attendu (exemple : 37 = 50 000).`, 400, 'ceilings');
      entries.push([m[1]!.toUpperCase(), m[2]!, `ligne ${i + 1}`]);
    });
  } else if (input && typeof input === 'object' && !Array.isArray(input)) {
    for (const [k, v] of Object.entries(input)) entries.push([k, v, `« ${k.slice(0, 10)} »`]);
  } else throw new UserError('Plafonds : texte ou objet attendu.', 400, 'ceilings');
  if (entries.length > 120) throw new UserError('Plafonds : 120 départements au plus.', 400, 'ceilings');
  for (const [dep, v, where] of entries) {
    if (!DEPARTEMENT.test(dep)) throw new UserError(`Plafonds, ${where} : « ${dep.slice(0, 10)} » n’est pas un code de département.`, 400, 'ceilings');
    if (call.departements.length && !call.departements.includes(dep)) throw new UserError(`Plafonds, ${where} : le département ${dep} n’est pas couvert par l’appel (${call.departements.join(', ')}).`, 400, 'ceilings');
    if (out.has(dep)) throw new UserError(`Plafonds, ${where} : le département ${dep} apparaît deux fois.`, 400, 'ceilings');
    out.set(dep, parseAmount(v, 'ceilings', `Plafonds, ${where}`));
  }
  return out;
}

/**
 * Replaces a call's ceilings (managers of the call). Refused, with nothing saved, when their sum
 * exceeds the envelope or a ceiling is below what its département already has committed.
 */
export async function setCeilings(ctx: service.Ctx, actor: Actor, callId: string, input: unknown): Promise<Ceiling[]> {
  const call = await service.getCall(ctx.db, callId);
  if (!call) throw new NotFoundError('Cet appel n’existe pas.');
  if (!can(actor, 'calls.manage', service.callResource(call))) throw new UserError('Seule l’équipe qui gère cet appel fixe ses plafonds.', 403, 'ceilings');
  const wanted = parseCeilings(input, call);
  return ctx.db.transaction(async (tx) => {
    // The call's row is locked: decisions (which update it) wait, and see the new ceilings.
    const { rows } = await tx.query<{ envelope: string }>('SELECT envelope FROM calls.call WHERE id = $1 FOR UPDATE', [call.id]);
    const envelope = Number(rows[0]!.envelope);
    const total = [...wanted.values()].reduce((s, v) => s + Math.round(v * 100), 0) / 100;
    if (total > envelope) throw new UserError(`Plafonds : leur somme (${formatEuros(total)}) dépasse l’enveloppe de l’appel (${formatEuros(envelope)}).`, 422, 'ceilings');
    // What each département has committed: its dossiers' grants.
    const used = new Map(
      (
        await tx.query<{ departement: string; committed: string }>(
          'SELECT a.departement, sum(g.amount) AS committed FROM calls.grant g JOIN calls.application a ON a.id = g.application_id WHERE g.call_id = $1 AND a.departement IS NOT NULL GROUP BY a.departement',
          [call.id],
        )
      ).rows.map((r) => [r.departement, Number(r.committed)]),
    );
    for (const [dep, amount] of wanted) {
      const c = used.get(dep) ?? 0;
      if (c > amount) throw new UserError(`Plafonds : le département ${dep} a déjà ${formatEuros(c)} engagés, plus que le plafond de ${formatEuros(amount)}.`, 422, 'ceilings');
    }
    const before = await ceilingsOf(tx, call.id);
    await tx.query('DELETE FROM calls.ceiling WHERE call_id = $1', [call.id]);
    for (const [dep, amount] of wanted) await tx.query('INSERT INTO calls.ceiling (call_id, departement, amount, committed) VALUES ($1, $2, $3, $4)', [call.id, dep, amount, used.get(dep) ?? 0]);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.ceilings.set', objectType: 'calls.call', objectId: call.id, before: Object.fromEntries(before.map((c) => [c.departement, c.amount])), after: Object.fromEntries(wanted) });
    return ceilingsOf(tx, call.id);
  });
}

/**
 * In a decision's transaction: commits `amount` on the dossier's département ceiling, if it has
 * one (row locked; refused with a message naming the ceiling when it would be exceeded).
 */
export async function commitOnCeiling(tx: Queryable, callId: string, departement: string | null, amount: number): Promise<void> {
  if (!departement) return;
  const { rows } = await tx.query<{ amount: string; committed: string }>('SELECT amount, committed FROM calls.ceiling WHERE call_id = $1 AND departement = $2 FOR UPDATE', [callId, departement]);
  const c = rows[0];
  if (!c) return;
  const left = (Math.round(Number(c.amount) * 100) - Math.round(Number(c.committed) * 100)) / 100;
  if (Math.round(amount * 100) > Math.round(left * 100))
    throw new UserError(`Montant accordé : ${formatEuros(amount)} dépasseraient le plafond du département ${departement} (reste ${formatEuros(left)} sur ${formatEuros(Number(c.amount))}).`, 409, 'amount', 'over_ceiling');
  await tx.query('UPDATE calls.ceiling SET committed = committed + $3 WHERE call_id = $1 AND departement = $2', [callId, departement, amount]);
}

/** Gives back to the département's ceiling what a grant's closure released. */
export async function releaseOnCeiling(tx: Queryable, callId: string, applicationId: string, amount: number): Promise<void> {
  await tx.query('UPDATE calls.ceiling SET committed = greatest(committed - $3, 0) WHERE call_id = $1 AND departement = (SELECT departement FROM calls.application WHERE id = $2)', [callId, applicationId, amount]);
}

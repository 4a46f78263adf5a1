/**
 * The audit visit of a label application (issue #18). A label programme lists the criteria the
 * visit checks — yes/no, thresholds (a measured value and its minimum) and documents seen — each
 * required or not. An instructor of the label campaign records a visit on a dossier: its date, the
 * visitor, the place of the directory visited, and each criterion met or not with a comment (a
 * comment is required when it is not met; a threshold is met when the measured value reaches it).
 * Visits are append-only and audited; the latest visit of a place decides: the label is not
 * granted while a required criterion is not met at it (labels.ts, `changeLabel`).
 */
import type { Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { ForbiddenError, NotFoundError, UserError } from '../../platform/http/errors.ts';
import { can, type Actor } from '../accounts/index.ts';
import { getPlacesByUids } from '../places/index.ts';
import { getProgramme, parisToday, type LabelCriterion, type LabelCriterionKind, type LabelProgramme } from './labels.ts';
import { STATES, parseDate, parseNumber, text } from './model.ts';
import * as service from './service.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const MAX_CRITERIA = 50;

/** The words staff type for each kind of criterion, and how pages name them. */
export const CRITERION_KINDS: Record<LabelCriterionKind, { word: string; label: string }> = {
  yes_no: { word: 'oui-non', label: 'oui / non' },
  threshold: { word: 'seuil', label: 'seuil' },
  document: { word: 'document', label: 'document' },
};

/**
 * Reads the criteria as staff type them, one a line: `oui-non ; Libellé`, `seuil ; Libellé ;
 * minimum`, `document ; Libellé`, with `; facultatif` at the end of an optional one. Names the
 * faulty line.
 */
export function parseCriteria(input: unknown): LabelCriterion[] {
  const body = text(input, 'criteria', 'Critères de la visite', { max: 20_000, multiline: true });
  const lines = body.split('\n').map((l, i) => ({ n: i + 1, l: l.trim() })).filter((x) => x.l !== '');
  if (lines.length > MAX_CRITERIA) throw new UserError(`Critères de la visite : ${MAX_CRITERIA} au plus (${lines.length} reçus).`, 400, 'criteria');
  return lines.map(({ n, l }, i) => {
    const cells = l.split(';').map((c) => c.trim());
    const where = `Critères de la visite, ligne ${n}`;
    const kind = (Object.keys(CRITERION_KINDS) as LabelCriterionKind[]).find((k) => CRITERION_KINDS[k].word === cells[0]?.toLowerCase());
    if (!kind) throw new UserError(`${where} : commencez par « oui-non », « seuil » ou « document ».`, 400, 'criteria');
    const label = cells[1] ?? '';
    if (!label || label.length > 200) throw new UserError(`${where} : un libellé de 1 à 200 caractères est attendu.`, 400, 'criteria');
    let rest = cells.slice(2);
    const optional = rest.length > 0 && rest[rest.length - 1]!.toLowerCase() === 'facultatif';
    if (optional) rest = rest.slice(0, -1);
    const c: LabelCriterion = { id: `c${i + 1}`, kind, label, required: !optional };
    if (kind === 'threshold') {
      if (rest.length !== 1) throw new UserError(`${where} : un seuil s’écrit « seuil ; Libellé ; minimum ».`, 400, 'criteria');
      c.threshold = parseNumber(rest[0], 'criteria', `${where} (minimum)`);
    } else if (rest.length) throw new UserError(`${where} : texte en trop « ${rest.join(' ; ').slice(0, 60)} ».`, 400, 'criteria');
    return c;
  });
}

/** The criteria written back as the staff's lines (to edit them). */
export function criteriaText(criteria: LabelCriterion[]): string {
  return criteria.map((c) => [CRITERION_KINDS[c.kind].word, c.label, ...(c.kind === 'threshold' ? [String(c.threshold)] : []), ...(c.required ? [] : ['facultatif'])].join(' ; ')).join('\n');
}

/** Sets a programme's criteria (the managers of its région). Visits already recorded keep theirs. */
export async function setCriteria(ctx: service.Ctx, actor: Actor, programmeId: string, input: unknown): Promise<LabelProgramme> {
  const p = await getProgramme(ctx.db, programmeId);
  if (!p) throw new NotFoundError('Ce label n’existe pas.');
  if (!can(actor, 'calls.manage', { type: 'call', id: '', region: p.region })) throw new ForbiddenError('Seule l’équipe régionale qui gère les labels de cette région peut faire cela.');
  const criteria = parseCriteria(input);
  return ctx.db.transaction(async (tx) => {
    await tx.query('UPDATE calls.label_programme SET criteria = $2::jsonb WHERE id = $1', [p.id, JSON.stringify(criteria)]);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.label_programme.criteria', objectType: 'calls.label_programme', objectId: p.id, before: { criteria: p.criteria }, after: { criteria } });
    return (await getProgramme(tx, p.id))!;
  });
}

export interface VisitItem {
  criterion: string;
  kind: LabelCriterionKind;
  label: string;
  required: boolean;
  threshold?: number;
  value?: number;
  met: boolean;
  comment: string;
}

export interface Visit {
  id: number;
  programmeId: string;
  applicationId: string;
  placeUid: string;
  visitedOn: string;
  visitor: string;
  items: VisitItem[];
  unmetRequired: number;
  recordedBy: string | null;
  at: string;
}

function toVisit(r: Record<string, unknown>): Visit {
  return {
    id: Number(r.id),
    programmeId: r.programme_id as string,
    applicationId: r.application_id as string,
    placeUid: r.place_uid as string,
    visitedOn: String(r.visited_on).slice(0, 10),
    visitor: r.visitor as string,
    items: r.items as VisitItem[],
    unmetRequired: Number(r.unmet_required),
    recordedBy: (r.recorded_by as string | null) ?? null,
    at: new Date(r.at as string).toISOString(),
  };
}
const VISIT_COLUMNS = 'id, programme_id, application_id, place_uid, visited_on::text AS visited_on, visitor, items, unmet_required, recorded_by, at';

/** The label programme whose campaign this dossier belongs to, if any. */
export async function programmeOfApplication(db: Queryable, callId: string): Promise<LabelProgramme | null> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM calls.label_programme WHERE call_id = $1', [callId]);
  return rows[0] ? getProgramme(db, rows[0].id) : null;
}

/** Visits recorded on a dossier, newest first. */
export async function visitsOf(db: Queryable, appId: string): Promise<Visit[]> {
  if (!UUID.test(appId)) return [];
  const { rows } = await db.query(`SELECT ${VISIT_COLUMNS} FROM calls.label_visit WHERE application_id = $1 ORDER BY id DESC`, [appId]);
  return rows.map(toVisit);
}

const VISIT_STATES = new Set(['en_construction', 'en_instruction', 'accepte']);

/**
 * Records an audit visit on a dossier of a label campaign (an instructor of the dossier). Every
 * criterion of the programme must be answered: `met_<id>` = `oui` / `non` (yes/no, document) or
 * `value_<id>` (threshold), `comment_<id>` (required when not met). Refused before anything is written.
 */
export async function recordVisit(ctx: service.Ctx, actor: Actor, appId: string, input: Record<string, unknown>, today = parisToday()): Promise<Visit> {
  const app = UUID.test(appId) ? await service.getApplication(ctx.db, appId) : null;
  if (!app) throw new NotFoundError('Ce dossier n’existe pas.');
  const call = (await service.getCall(ctx.db, app.callId))!;
  if (!(await service.accessTo(ctx.db, actor, app, call)).instructor) throw new ForbiddenError('Ce dossier n’est pas dans votre périmètre d’instruction.');
  const programme = await programmeOfApplication(ctx.db, call.id);
  if (!programme) throw new UserError('Ce dossier n’est pas une demande de label : pas de visite d’audit.', 409, 'call');
  if (!programme.criteria.length) throw new UserError(`Le label « ${programme.name} » n’a pas encore de critères de visite : l’équipe qui le gère doit les écrire d’abord.`, 409, 'criteria');
  if (!VISIT_STATES.has(app.state)) throw new UserError(`Une visite se consigne sur un dossier déposé (celui-ci est « ${STATES[app.state]} »).`, 409, 'state');
  const placeUid = text(input.placeUid, 'placeUid', 'Lieu visité (identifiant dans l’annuaire)', { required: true, max: 100 });
  if (!UUID.test(placeUid) || !(await getPlacesByUids(ctx.db, [placeUid]))[0]) throw new UserError('Lieu visité : aucun lieu de l’annuaire n’a cet identifiant.', 400, 'placeUid');
  const visitedOn = parseDate(input.visitedOn, 'visitedOn', 'Date de la visite');
  if (visitedOn > today) throw new UserError('Date de la visite : elle ne peut pas être dans le futur.', 400, 'visitedOn');
  if (Date.parse(`${today}T00:00:00Z`) - Date.parse(`${visitedOn}T00:00:00Z`) > 2 * 366 * 86_400_000) throw new UserError('Date de la visite : il y a moins de deux ans.', 400, 'visitedOn');
  const visitor = text(input.visitor, 'visitor', 'Visiteur', { required: true, max: 200 });
  const field = (k: string) => (Object.prototype.hasOwnProperty.call(input, k) ? input[k] : undefined);
  const items: VisitItem[] = programme.criteria.map((c) => {
    const comment = text(field(`comment_${c.id}`), `comment_${c.id}`, `« ${c.label} » (commentaire)`, { max: 1000, multiline: true });
    let met: boolean;
    let value: number | undefined;
    if (c.kind === 'threshold') {
      const raw = field(`value_${c.id}`);
      if (raw === undefined || raw === '') throw new UserError(`« ${c.label} » : indiquez la valeur relevée (minimum ${c.threshold}).`, 400, `value_${c.id}`);
      value = parseNumber(raw, `value_${c.id}`, `« ${c.label} » (valeur relevée)`);
      met = value >= c.threshold!;
    } else {
      const v = field(`met_${c.id}`);
      if (v !== 'oui' && v !== 'non') throw new UserError(`« ${c.label} » : indiquez s’il est rempli (oui ou non).`, 400, `met_${c.id}`);
      met = v === 'oui';
    }
    if (!met && !comment) throw new UserError(`« ${c.label} » n’est pas rempli : dites pourquoi dans le commentaire.`, 400, `comment_${c.id}`);
    return { criterion: c.id, kind: c.kind, label: c.label, required: c.required, ...(c.kind === 'threshold' ? { threshold: c.threshold, value } : {}), met, comment };
  });
  const unmet = items.filter((i) => i.required && !i.met).length;
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query(
      `INSERT INTO calls.label_visit (programme_id, application_id, place_uid, visited_on, visitor, items, unmet_required, recorded_by) VALUES ($1,$2,$3,$4,$5,$6::jsonb,$7,$8) RETURNING ${VISIT_COLUMNS}`,
      [programme.id, app.id, placeUid, visitedOn, visitor, JSON.stringify(items), unmet, actor.id],
    );
    const visit = toVisit(rows[0]!);
    await recordAudit(tx, { actorId: actor.id, action: 'calls.label.visit', objectType: 'calls.application', objectId: app.id, after: { visit: visit.id, placeUid, visitedOn, visitor, unmetRequired: unmet, items } });
    return visit;
  });
}

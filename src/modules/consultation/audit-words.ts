/**
 * The consultation module's audit actions in French, and how the journal names and links
 * processes, proposals, budgets and meetings (see src/platform/audit/wording.ts).
 */
import type { Queryable } from '../../platform/db/index.ts';
import { field, type AuditObjectInfo, type AuditVocabulary, uuidsIn } from '../../platform/audit/wording.ts';
import { STATE_LABELS, type State } from './model.ts';

async function describeProcesses(db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  const { rows } = await db.query<{ id: string; slug: string; title: string; region: string; departement: string | null }>(
    'SELECT id, slug, title, region, departement FROM consultation.process WHERE id = ANY($1::uuid[])',
    [uuidsIn(ids)],
  );
  return new Map(rows.map((r) => [r.id, { label: r.title, href: `/gestion/concertations/${r.slug}`, region: r.region, departement: r.departement }]));
}

async function describeProposals(db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  const { rows } = await db.query<{ id: string; number: number; title: string; slug: string; region: string; departement: string | null }>(
    'SELECT p.id, p.number, p.title, c.slug, c.region, c.departement FROM consultation.proposal p JOIN consultation.process c ON c.id = p.process_id WHERE p.id = ANY($1::uuid[])',
    [uuidsIn(ids)],
  );
  return new Map(rows.map((r) => [r.id, { label: `n° ${r.number} « ${r.title} »`, href: `/gestion/concertations/${r.slug}/propositions/${r.number}`, region: r.region, departement: r.departement }]));
}

/** Budgets, meetings, surveys and debates: named by their title, linked to their public page, scoped by their process. */
function describeChild(table: 'budget' | 'meeting' | 'survey' | 'debate') {
  return async (db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> => {
    const { rows } = await db.query<{ id: string; title: string; key: string; slug: string; region: string; departement: string | null }>(
      `SELECT t.id, t.title, ${table === 'meeting' ? 't.id::text' : 't.slug'} AS key, c.slug, c.region, c.departement FROM consultation.${table} t JOIN consultation.process c ON c.id = t.process_id WHERE t.id = ANY($1::uuid[])`,
      [uuidsIn(ids)],
    );
    const page = { budget: 'budgets', meeting: 'rencontres', survey: 'questionnaires', debate: 'debats' }[table];
    return new Map(rows.map((r) => [r.id, { label: r.title, href: `/concertations/${r.slug}/${page}/${r.key}`, region: r.region, departement: r.departement }]));
  };
}

const state = (v: unknown) => (typeof v === 'string' && Object.hasOwn(STATE_LABELS, v) ? STATE_LABELS[v as State].toLowerCase() : String(v ?? '?'));

export const consultationAudit: AuditVocabulary = {
  label: 'Concertations',
  objects: {
    'consultation.process': { noun: 'la concertation', describe: describeProcesses, readAction: 'consultation.manage' },
    'consultation.proposal': { noun: 'la proposition', quote: false, describe: describeProposals, readAction: 'consultation.manage' },
    'consultation.budget': { noun: 'le budget participatif', describe: describeChild('budget'), readAction: 'consultation.manage' },
    'consultation.meeting': { noun: 'la rencontre', describe: describeChild('meeting'), readAction: 'consultation.manage' },
    'consultation.comment': { noun: 'un commentaire', quote: false, readAction: 'consultation.moderate' },
    'consultation.project': { noun: 'un projet de budget participatif', quote: false, readAction: 'consultation.manage' },
    'consultation.result': { noun: 'un résultat', quote: false, readAction: 'consultation.manage' },
    'consultation.contribution': { noun: 'une contribution à un débat', quote: false, readAction: 'consultation.moderate' },
    'consultation.debate': { noun: 'le débat', describe: describeChild('debate'), readAction: 'consultation.manage' },
    'consultation.survey': { noun: 'le questionnaire', describe: describeChild('survey'), readAction: 'consultation.manage' },
  },
  actions: {
    'consultation.process.create': 'a créé {objet}',
    'consultation.process.update': 'a modifié {objet} (présentation, phases)',
    'consultation.proposal.create': 'a déposé {objet}',
    'consultation.proposal.update': 'a modifié {objet}',
    'consultation.proposal.withdraw': 'a retiré {objet}',
    'consultation.proposal.answer': (e, ref) => ['a répondu officiellement à ', ref('consultation.proposal', e.objectId), ` (« ${state(field(e.after, 'state'))} »)`],
    'consultation.support.add': 'a soutenu {objet}',
    'consultation.comment.create': (e, ref) => ['a commenté ', ref('consultation.proposal', field(e.meta, 'proposal'))],
    'consultation.report.create': 'a signalé {objet} à la modération',
    'consultation.moderation.hide': 'a masqué {objet} (modération)',
    'consultation.moderation.dismiss': 'a rejeté un signalement sur {objet}',
    'consultation.valuator.assign': (e, ref) => ['a confié l’étude de ', ref('consultation.proposal', e.objectId), ' à ', ref('user', field(e.after, 'valuator'))],
    'consultation.note.create': 'a ajouté une note privée d’évaluation à {objet}',
    'consultation.budget.create': 'a créé {objet}',
    'consultation.project.create': (e, ref) => ['a ajouté le projet « ', String(field(e.after, 'title') ?? ''), ' » à ', ref('consultation.budget', field(e.after, 'budgetId'))],
    'consultation.project.update': (e, ref) => ['a modifié le projet « ', String(field(e.after, 'title') ?? ''), ' » de ', ref('consultation.budget', field(e.after, 'budgetId'))],
    'consultation.project.delete': (e, ref) => ['a supprimé le projet « ', String(field(e.before, 'title') ?? ''), ' » de ', ref('consultation.budget', field(e.before, 'budgetId'))],
    'consultation.file.attach': 'a joint un fichier à {objet}',
    'consultation.file.remove': 'a retiré le fichier joint à {objet}',
    'consultation.vote.checkout': 'a voté pour {objet}',
    'consultation.meeting.create': 'a programmé {objet}',
    'consultation.meeting.register': 's’est inscrit à {objet}',
    'consultation.meeting.minutes': 'a publié le compte rendu de {objet}',
    'consultation.result.create': 'a publié {objet}',
    'consultation.survey.create': 'a créé {objet}',
    'consultation.debate.create': 'a ouvert {objet}',
    'consultation.debate.close': 'a clos {objet} avec une conclusion',
    'consultation.debate.contribute': (e, ref) => [field(e.after, 'stance') === 'for' ? 'a avancé un argument pour dans ' : field(e.after, 'stance') === 'against' ? 'a avancé un argument contre dans ' : 'a commenté ', ref('consultation.debate', field(e.meta, 'debate'))],
    'consultation.budget.update': 'a modifié {objet}',
    'consultation.meeting.update': 'a modifié {objet}',
    'consultation.survey.update': 'a modifié {objet}',
    'consultation.survey.answer': 'a rempli {objet}',
    'consultation.survey.questions': (e, ref) => [{ add: 'a ajouté une question à ', edit: 'a modifié une question de ', move: 'a déplacé une question de ', delete: 'a supprimé une question de ' }[String(field(e.meta, 'change'))] ?? 'a modifié les questions de ', ref('consultation.survey', e.objectId)],
    'consultation.budget.assign': 's’est vu attribuer au hasard {objet} pour voter',
    'consultation.identity.configure': (e, ref) => [field(e.before, 'issuer') ? 'a modifié le fournisseur d’identité (OpenID Connect) de ' : 'a configuré un fournisseur d’identité (OpenID Connect) pour ', ref('consultation.process', e.objectId), field(e.after, 'secretChanged') ? ' (nouveau secret client)' : ''],
    'consultation.identity.check': 'a vérifié son identité auprès du fournisseur de {objet}',
  },
};

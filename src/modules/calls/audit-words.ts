/**
 * The calls module's audit actions in French, and how the journal names and links calls,
 * applications, grants, committees and organisations (see src/platform/audit/wording.ts).
 */
import type { Queryable } from '../../platform/db/index.ts';
import { STATES } from './model.ts';
import { count, field, type AuditObjectInfo, type AuditVocabulary, uuidsIn } from '../../platform/audit/wording.ts';

async function describeCalls(db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  const { rows } = await db.query<{ id: string; title: string; region: string }>('SELECT id, title, region FROM calls.call WHERE id = ANY($1::uuid[])', [uuidsIn(ids)]);
  return new Map(rows.map((r) => [r.id, { label: r.title, href: `/gestion/appels/${r.id}`, region: r.region }]));
}

async function describeApplications(db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  const { rows } = await db.query<{ id: string; number: number; title: string; departement: string | null; region: string }>(
    'SELECT a.id, a.number, a.title, a.departement, c.region FROM calls.application a JOIN calls.call c ON c.id = a.call_id WHERE a.id = ANY($1::uuid[])',
    [uuidsIn(ids)],
  );
  return new Map(rows.map((r) => [r.id, { label: `n° ${r.number}${r.title ? ` « ${r.title} »` : ''}`, href: `/gestion/dossiers/${r.id}`, region: r.region, departement: r.departement }]));
}

async function describeGrants(db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  const { rows } = await db.query<{ id: string; reference: string; region: string }>('SELECT g.id, g.reference, c.region FROM calls.grant g JOIN calls.call c ON c.id = g.call_id WHERE g.id = ANY($1::uuid[])', [uuidsIn(ids)]);
  return new Map(rows.map((r) => [r.id, { label: r.reference, href: `/gestion/subventions/${r.id}`, region: r.region }]));
}

async function describeCommittees(db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  const { rows } = await db.query<{ id: string; call_id: string; title: string; region: string }>(
    'SELECT m.id, m.call_id, m.title, c.region FROM calls.committee m JOIN calls.call c ON c.id = m.call_id WHERE m.id = ANY($1::uuid[])',
    [uuidsIn(ids)],
  );
  return new Map(rows.map((r) => [r.id, { label: r.title, href: `/gestion/appels/${r.call_id}/comites/${r.id}`, region: r.region }]));
}

async function describeOrganisations(db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  const { rows } = await db.query<{ id: string; name: string; departement: string | null }>('SELECT id, name, departement FROM calls.organisation WHERE id = ANY($1::uuid[])', [uuidsIn(ids)]);
  return new Map(rows.map((r) => [r.id, { label: r.name, departement: r.departement }]));
}

const state = (v: unknown) => (typeof v === 'string' && Object.hasOwn(STATES, v) ? STATES[v as keyof typeof STATES].toLowerCase() : String(v ?? '?'));
const euros = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? `${new Intl.NumberFormat('fr-FR', { maximumFractionDigits: 2 }).format(v)} €` : '');

export const callsAudit: AuditVocabulary = {
  label: 'Appels à projets',
  objects: {
    'calls.call': { noun: 'l’appel', describe: describeCalls, readAction: 'calls.manage' },
    'calls.application': { noun: 'le dossier', quote: false, describe: describeApplications, readAction: 'calls.manage' },
    'calls.grant': { noun: 'la subvention', describe: describeGrants, readAction: 'calls.manage' },
    'calls.committee': { noun: 'le comité', describe: describeCommittees, readAction: 'calls.manage' },
    'calls.organisation': { noun: 'la structure', describe: describeOrganisations, readAction: 'calls.manage' },
    'calls.label_programme': { noun: 'le programme de label' },
    'calls.label_event': { noun: 'un label de tiers-lieu', quote: false },
  },
  actions: {
    'calls.call.create': 'a créé {objet}',
    'calls.label_programme.create': 'a créé {objet}',
    'calls.label.grant': 'a attribué un label à un lieu',
    'calls.label.renew': 'a renouvelé le label d’un lieu',
    'calls.label.withdraw': 'a retiré le label d’un lieu (motif enregistré)',
    'calls.call.update': 'a modifié {objet}',
    'calls.call.status': 'a changé l’état de {objet} (publication, clôture)',
    'calls.form.version': (e, ref) => ['a publié la version ', String(field(e.after, 'version') ?? '?'), ' du formulaire de ', ref('calls.call', e.objectId)],
    'calls.instructor.set': (e, ref) => ['a désigné ', ref('user', field(e.after, 'userId')), ' instructeur de ', ref('calls.call', e.objectId)],
    'calls.instructor.remove': (e, ref) => ['a retiré ', ref('user', field(e.after, 'userId')), ' des instructeurs de ', ref('calls.call', e.objectId)],
    'calls.organisation.create': 'a enregistré {objet}',
    'calls.organisation.member.add': (e, ref) => ['a ajouté ', ref('user', field(e.after, 'userId')), ' aux membres de ', ref('calls.organisation', e.objectId)],
    'calls.application.create': 'a commencé {objet}',
    'calls.application.submit': 'a déposé {objet} (récépissé délivré)',
    'calls.application.correct': 'a déposé une version corrigée de {objet}',
    'calls.application.correction': 'a demandé une correction de {objet}',
    'calls.application.transition': (e, ref) => ['a fait passer ', ref('calls.application', e.objectId), ` de l’état « ${state(field(e.before, 'state'))} » à « ${state(field(e.after, 'state'))} »`],
    'calls.application.stage2': 'a ouvert la seconde étape pour {objet}',
    'calls.application.decide': (e, ref) => {
      const amount = euros(field(e.after, 'amount'));
      return ['a rendu la décision sur ', ref('calls.application', e.objectId), ` : ${state(field(e.after, 'decision'))}${amount ? ` (${amount})` : ''}`];
    },
    'calls.review.assign': (e, ref) => ['a confié ', ref('calls.application', e.objectId), ' à l’évaluation de ', ref('user', field(e.after, 'reviewerId'))],
    'calls.review.submit': 'a rendu son évaluation de {objet}',
    'calls.conflict.declare': 'a déclaré ses liens d’intérêts avec {objet}',
    'calls.conflict.waive': (e, ref) => ['a levé le conflit d’intérêts de ', ref('user', field(e.after, 'reviewerId')), ' sur ', ref('calls.application', e.objectId)],
    'calls.committee.create': 'a créé {objet}',
    'calls.grant.create': (e, ref) => ['a créé ', ref('calls.grant', e.objectId), ` (${euros(field(e.after, 'amount'))})`],
    'calls.grant.schedule': (e, ref) => {
      const s = field(e.after, 'schedule');
      return ['a fixé l’échéancier de ', ref('calls.grant', e.objectId), Array.isArray(s) ? ` (${count(s.length, 'versement', 'versements')})` : ''];
    },
    'calls.grant.payment': (e, ref) => ['a enregistré un versement de ', euros(field(e.after, 'amount')), ' pour ', ref('calls.grant', e.objectId)],
    'calls.grant.close': 'a soldé {objet}',
    'calls.file.attach': 'a joint un fichier à {objet}',
    'calls.file.remove': 'a retiré un fichier de {objet}',
    'calls.label.visit': (e, ref) => ['a consigné la visite d’audit du label pour ', ref('calls.application', e.objectId), Number(field(e.after, 'unmetRequired')) > 0 ? ' (critères obligatoires non remplis)' : ' (critères obligatoires remplis)'],
    'calls.label_programme.criteria': 'a modifié les critères de visite de {objet}',
    'calls.annotation.add': 'a annoté {objet} (annotation privée de l’instruction)',
    'calls.opinion.add': 'a donné un avis confidentiel sur {objet}',
    'calls.message.post': 'a écrit dans la messagerie de {objet}',
    'calls.ceilings.set': 'a fixé les plafonds par département de {objet}',
  },
};

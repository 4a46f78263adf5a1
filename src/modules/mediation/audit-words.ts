/**
 * The mediation module's audit actions (activity records, followed beneficiaries, teams, training)
 * in French, and how the journal names its objects (see src/platform/audit/wording.ts). Followed
 * beneficiaries are personal data: the journal never names them.
 */
import type { Queryable } from '../../platform/db/index.ts';
import { count, field, type AuditObjectInfo, type AuditVocabulary, uuidsIn } from '../../platform/audit/wording.ts';

async function describeTeams(db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  const { rows } = await db.query<{ id: string; name: string }>('SELECT id, name FROM mediation.team WHERE id = ANY($1::uuid[])', [uuidsIn(ids)]);
  return new Map(rows.map((r) => [r.id, { label: r.name, href: '/mediation/equipes' }]));
}

async function describePaths(db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  const { rows } = await db.query<{ id: string; title: string }>('SELECT id, title FROM mediation.training_path WHERE id = ANY($1::uuid[])', [uuidsIn(ids)]);
  return new Map(rows.map((r) => [r.id, { label: r.title, href: `/formations/parcours/${r.id}` }]));
}

async function describeSessions(db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  const { rows } = await db.query<{ id: string; title: string; starts_on: string; departement: string | null }>(
    'SELECT s.id, p.title, s.starts_on::text AS starts_on, s.departement FROM mediation.training_session s JOIN mediation.training_path p ON p.id = s.path_id WHERE s.id = ANY($1::uuid[])',
    [uuidsIn(ids)],
  );
  const day = (d: string) => new Intl.DateTimeFormat('fr-FR', { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(`${d}T00:00:00Z`));
  return new Map(rows.map((r) => [r.id, { label: `${r.title} du ${day(r.starts_on)}`, href: `/mediation/formations/sessions/${r.id}`, departement: r.departement }]));
}

async function describeProviders(db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  const { rows } = await db.query<{ id: string; name: string }>('SELECT id, name FROM mediation.training_provider WHERE id = ANY($1::uuid[])', [uuidsIn(ids)]);
  return new Map(rows.map((r) => [r.id, { label: r.name }]));
}

export const mediationAudit: AuditVocabulary = {
  label: 'Médiation et formations',
  objects: {
    'mediation.mediator': { noun: 'un profil de médiateur', quote: false },
    'mediation.activity': { noun: 'une activité de médiation', quote: false, personal: true },
    'mediation.beneficiary': { noun: 'un bénéficiaire suivi', quote: false, personal: true },
    'mediation.team': { noun: 'l’équipe', describe: describeTeams, readAction: 'mediation.teams.manage' },
    'mediation.api_client': { noun: 'un client de l’API de médiation', quote: false },
    'mediation.training_provider': { noun: 'l’organisme de formation', describe: describeProviders, readAction: 'training.manage' },
    'mediation.training_path': { noun: 'le parcours de formation', describe: describePaths, readAction: 'training.manage' },
    'mediation.training_session': { noun: 'la session', describe: describeSessions, readAction: 'training.manage' },
    'mediation.registration': { noun: 'une inscription à une formation', quote: false, personal: true, readAction: 'training.manage' },
    'mediation.registration_request': { noun: 'une demande d’inscription à une formation', quote: false, personal: true, readAction: 'training.manage' },
    'mediation.stat_counter': { noun: 'les compteurs statistiques', quote: false, readAction: 'training.manage' },
  },
  actions: {
    'mediation.profile.update': 'a modifié son profil de médiateur',
    'mediation.activity.create': 'a enregistré {objet}',
    'mediation.activity.delete': 'a supprimé {objet}',
    'mediation.beneficiary.create': 'a commencé à suivre {objet} (avec son consentement)',
    'mediation.beneficiary.read': 'a consulté la fiche d’{objet}',
    'mediation.beneficiary.export': 'a exporté les données d’{objet}',
    'mediation.beneficiary.update': 'a modifié la fiche d’{objet}',
    'mediation.beneficiary.merge': 'a fusionné deux fiches de bénéficiaires suivis',
    'mediation.beneficiary.delete': 'a supprimé la fiche d’{objet}',
    'mediation.beneficiary.purge': (e) => ['a supprimé ', count(field(e.meta, 'count'), 'bénéficiaire suivi', 'bénéficiaires suivis'), ' au terme de la durée de conservation'],
    'mediation.team.create': 'a créé {objet}',
    'mediation.team.member': (e, ref) => (field(e.after, 'teamId') ? ['a rattaché un médiateur à ', ref('mediation.team', field(e.after, 'teamId'))] : ['a retiré un médiateur de ', ref('mediation.team', field(e.before, 'teamId'))]),
    'mediation.api_client.create': 'a créé {objet}',
    'training.provider.create': 'a enregistré {objet}',
    'training.path.create': 'a créé {objet}',
    'training.registration.request': 'a reçu une demande d’inscription à une formation (en attente de confirmation par e-mail)',
    'training.reminders.send': (e) => ['a envoyé ', count(field(e.meta, 'count'), 'rappel de session', 'rappels de session'), ' aux inscrits'],
    'mediation.counters.rebuild': 'a recalculé les compteurs statistiques de la médiation',
    'training.session.create': 'a programmé {objet}',
    'training.registration.create': (e, ref) => ['a enregistré une inscription à ', ref('mediation.training_session', field(e.after, 'sessionId'))],
    'training.registration.cancel': 'a annulé {objet}',
    'training.attendance.set': 'a noté la présence pour {objet}',
    'training.registration.complete': 'a délivré l’attestation de fin de formation pour {objet}',
    'training.pix.import': (e, ref) => ['a importé les résultats Pix de ', ref('mediation.training_session', e.objectId), ` (${count(field(e.meta, 'imported'), 'résultat', 'résultats')})`],
  },
};

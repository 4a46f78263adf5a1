/**
 * The mandates module's audit actions in French, and how the journal names helper structures (see
 * src/platform/audit/wording.ts). Mandates concern a person: the journal never names them.
 */
import type { Queryable } from '../../platform/db/index.ts';
import { field, type AuditObjectInfo, type AuditVocabulary, type AuditWording, uuidsIn } from '../../platform/audit/wording.ts';
import type { JournalEvent } from './model.ts';

async function describeStructures(db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  const uuids = uuidsIn(ids);
  const { rows } = await db.query<{ id: string; name: string; region: string | null; departement: string | null }>('SELECT id, name, region, departement FROM mandates.structure WHERE id = ANY($1::uuid[])', [uuids]);
  return new Map(rows.map((r) => [r.id, { label: r.name, href: `/mandats/structures/${r.id}`, region: r.region, departement: r.departement }]));
}

/** One wording per journal event (the type makes sure none is missing). */
const JOURNAL: Record<`mandates.${JournalEvent}`, AuditWording> = {
  'mandates.mandate.created': 'a créé {objet} (consentement recueilli)',
  'mandates.mandate.act': (e) => ['a effectué une démarche sous mandat', field(e.after, 'procedure') ? ` (${String(field(e.after, 'procedure'))})` : ''],
  'mandates.mandate.refused': 'a tenté une démarche sans mandat valable (refusée)',
  'mandates.mandate.revoked': 'a révoqué {objet}',
  'mandates.mandate.procedure_revoked': 'a retiré une démarche d’{objet}',
  'mandates.mandate.expired': 'a constaté l’échéance d’{objet}',
  'mandates.person.purged': 'a supprimé l’identité d’une personne au terme de la durée de conservation',
  'mandates.mandate.renewed': 'a renouvelé {objet} (nouveau consentement recueilli)',
  'mandates.mandate.transferred': 'a transféré {objet} vers une autre structure (nouveau consentement recueilli)',
  'mandates.mandate.expiry_reminder': 'a rappelé l’échéance prochaine d’{objet}',
  'mandates.helper.idle_warning': 'a prévenu un aidant inactif depuis 5 mois de sa désactivation prochaine',
  'mandates.helper.deactivated_idle': 'a désactivé un aidant inactif depuis 6 mois',
  'mandates.identity.checked': 'a vérifié l’identité d’une personne auprès du fournisseur d’identité (FranceConnect) pour créer un mandat',
  'mandates.card.associated': 'a associé une carte TOTP à un aidant',
  'mandates.card.withdrawn': 'a retiré une carte TOTP (perdue ou hors d’usage)',
  'mandates.card.confirmed': 'a confirmé sa carte TOTP (second facteur de connexion)',
  'mandates.consent.sms_sent': 'a envoyé par SMS une demande de consentement à un mandat',
  'mandates.consent.sms_received': 'a reçu par SMS la réponse de la personne à une demande de mandat',
  'mandates.consent.remote_answer': (e) => ['a reçu la réponse de la personne, identifiée avec FranceConnect sur son téléphone, à une demande de mandat', field(e.after, 'answer') === 'non' ? ' (refus)' : ' (accord)'],
  'mandates.helper.signed_in': 'a ouvert une session d’aidant',
  'mandates.helper.accepted': 'a accepté de devenir aidant de la structure',
  'mandates.mandate.authorisation_used': (e) => ['s’est connecté à un service partenaire sous mandat', field(e.after, 'procedure') ? ` (${String(field(e.after, 'procedure'))})` : ''],
};

export const mandatesAudit: AuditVocabulary = {
  label: 'Mandats',
  objects: {
    'mandates.journal': { noun: 'un mandat', quote: false, personal: true },
    'mandates.structure': { noun: 'la structure d’aidants', describe: describeStructures, readAction: 'mandates.manage' },
    'mandates.api_token': { noun: 'un jeton d’accès pour un outil partenaire', quote: false },
    'mandates.identity_flow': { noun: 'une vérification d’identité', quote: false, personal: true },
    'mandates.structure_request': { noun: 'une demande d’habilitation', quote: false, readAction: 'mandates.manage' },
    'mandates.partner': { noun: 'un service partenaire (connexion sous mandat)', quote: false },
    'mandates.oidc_key': { noun: 'une clé de signature', quote: false },
  },
  actions: {
    ...JOURNAL,
    'mandates.structure.create': 'a habilité {objet}',
    'mandates.helper.add': (e, ref) => ['a enregistré ', ref('user', field(e.after, 'userId')), ' comme aidant de ', ref('mandates.structure', e.objectId)],
    'mandates.helper.invite': (e, ref) => ['a invité ', ref('user', field(e.after, 'userId')), ' à devenir aidant de ', ref('mandates.structure', e.objectId), ' (en attente de sa réponse)'],
    'mandates.helper.decline': (e, ref) => ['a décliné l’invitation à devenir aidant de ', ref('mandates.structure', e.objectId)],
    'mandates.helper.leave': (e, ref) => ['a quitté la structure ', ref('mandates.structure', e.objectId), ' dont il était aidant'],
    'mandates.helper.training': (e, ref) => ['a enregistré la formation de ', ref('user', field(e.after, 'userId')), ', aidant de ', ref('mandates.structure', e.objectId)],
    'mandates.helper.activate': (e, ref) => ['a réactivé ', ref('user', field(e.after, 'userId')), ', aidant de ', ref('mandates.structure', e.objectId)],
    'mandates.helper.deactivate': (e, ref) => ['a désactivé ', ref('user', field(e.after, 'userId')), ', aidant de ', ref('mandates.structure', e.objectId)],
    'mandates.api_token.create': 'a créé {objet}',
    'mandates.identity.person_signin': 'une personne s’est identifiée (FranceConnect) pour voir ses mandats',
    'mandates.structure_request.create': 'a déposé une demande d’habilitation de structure d’aidants',
    'mandates.structure_request.update': 'a modifié une demande d’habilitation de structure d’aidants',
    'mandates.structure_request.submit': 'a transmis une demande d’habilitation de structure d’aidants',
    'mandates.structure_request.validate': 'a validé une demande d’habilitation : {objet} est habilitée',
    'mandates.structure_request.refuse': 'a refusé une demande d’habilitation de structure d’aidants',
    'mandates.structure_request.changes': 'a demandé des modifications à une demande d’habilitation',
    'mandates.structure_request.message': 'a écrit dans le fil d’une demande d’habilitation',
    'mandates.helper.qualification': (e, ref) => ['a enregistré la formation et le score Pix de ', ref('user', field(e.after, 'userId')), ', aidant de ', ref('mandates.structure', e.objectId)],
    'mandates.card.import': (e, ref) => {
      const n = Number(field(e.after, 'count') ?? 0);
      return [`a importé ${n.toLocaleString('fr-FR')} ${n > 1 ? 'cartes TOTP' : 'carte TOTP'} dans le stock de `, ref('mandates.structure', e.objectId)];
    },
    'mandates.partner.create': 'a enregistré {objet}',
    'mandates.partner.revoke': 'a révoqué {objet}',
    'mandates.partner.rotate_secret': 'a renouvelé le secret d’{objet}',
    'mandates.oidc_key.rotate': 'a ajouté une clé de signature du fournisseur d’identité des mandats',
    'mandates.oidc_key.retire': 'a retiré une clé de signature du fournisseur d’identité des mandats',
  },
};

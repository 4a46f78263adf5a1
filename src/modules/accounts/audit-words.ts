/**
 * The accounts module's audit actions in French, and how the journal names people (see
 * src/platform/audit/wording.ts).
 */
import type { Queryable } from '../../platform/db/index.ts';
import { field, type AuditObjectInfo, type AuditVocabulary, uuidsIn } from '../../platform/audit/wording.ts';
import { ROLE_LABELS, SCOPE_LABELS, isRole, type ScopeKind } from './model.ts';

/** « le rôle Équipe régionale (Département 27) » from a grant recorded in an entry. */
function grantWords(g: unknown): string {
  const role = field(g, 'role');
  const kind = field(g, 'scopeKind');
  const id = field(g, 'scopeId');
  const label = typeof role === 'string' && isRole(role) ? ROLE_LABELS[role] : 'inconnu';
  const scope = typeof kind === 'string' && Object.hasOwn(SCOPE_LABELS, kind) ? SCOPE_LABELS[kind as ScopeKind] : '';
  return kind === 'platform' || !scope ? `le rôle « ${label} »` : `le rôle « ${label} » (${scope.toLowerCase()} ${String(id ?? '')})`;
}

async function describeUsers(db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  const uuids = uuidsIn(ids);
  const { rows } = await db.query<{ id: string; display_name: string; status: string }>('SELECT id, display_name, status FROM accounts.users WHERE id = ANY($1::uuid[])', [uuids]);
  return new Map(rows.map((r) => [r.id, { label: r.status === 'deleted' ? 'compte supprimé' : r.display_name, href: `/admin/utilisateurs/${r.id}` }]));
}

export const accountsAudit: AuditVocabulary = {
  label: 'Comptes et accès',
  objects: {
    user: { noun: 'le compte de', quote: false, describe: describeUsers, readAction: 'accounts.manage' },
    platform: { noun: 'la plateforme' },
  },
  actions: {
    'accounts.user.invite': 'a invité {objet}',
    'accounts.user.signup': 'a créé son compte d’habitant (adresse e-mail vérifiée)',
    'accounts.user.purge_unverified': 'a supprimé {objet}, une inscription non confirmée au bout de 7 jours',
    'accounts.user.reinvite': 'a renvoyé l’invitation de {objet}',
    'accounts.user.activate': 'a activé {objet} en acceptant l’invitation',
    'accounts.user.disable': 'a désactivé {objet}',
    'accounts.user.enable': 'a réactivé {objet}',
    'accounts.user.deletion_request': 'a demandé la suppression de {objet}',
    'accounts.user.delete': 'a supprimé {objet} et effacé ses données personnelles',
    'accounts.role.grant': (e, ref) => ['a attribué ', grantWords(e.after), ' à ', ref('user', e.objectId)],
    'accounts.role.revoke': (e, ref) => ['a retiré ', grantWords(e.before), ' à ', ref('user', e.objectId)],
    'accounts.signin': 'a ouvert une session',
    'accounts.signin.locked': 'a bloqué temporairement les connexions à {objet} après trop d’échecs',
    'accounts.signout': 'a fermé sa session',
    'accounts.session.revoke': 'a fermé une session de {objet}',
    'accounts.session.revoke_all': 'a fermé les sessions de {objet}',
    'accounts.mfa.enable': 'a activé la double authentification sur {objet}',
    'accounts.mfa.disable': 'a désactivé la double authentification sur {objet}',
    'accounts.mfa.reset': 'a réinitialisé la double authentification de {objet}',
    'accounts.mfa.recovery_codes': 'a généré de nouveaux codes de secours pour {objet}',
    'accounts.mfa.recovery_code_used': 'a utilisé un code de secours pour ouvrir une session',
    'accounts.password.reset': 'a réinitialisé le mot de passe de {objet}',
    'accounts.password.change': 'a changé le mot de passe de {objet}',
    'accounts.profile.update': 'a modifié le profil de {objet}',
    'accounts.email.verify': 'a confirmé l’adresse e-mail de {objet}',
    'accounts.identity.link': 'a relié une identité externe (OpenID Connect) à {objet}',
    'accounts.secrets.rekey': 'a rechiffré les secrets de double authentification sous la nouvelle clé',
  },
};

/** French wording of the places back office kept together (messages, statuses, reasons). */

export const T = {
  problem: 'Il y a un problème',
  home: 'Gestion des lieux',
  backoffice: 'Espace de gestion',
} as const;

/** Confirmation messages after a redirect (`?ok=…`). */
export const OK: Record<string, string> = {
  published: 'Modification publiée.',
  pending: 'Modification envoyée : elle sera publiée après validation par l’équipe du territoire.',
  unchanged: 'Aucun changement : la fiche est déjà dans cet état.',
  restored: 'Version restaurée : elle est en ligne.',
  'restore-pending': 'Retour à cette version envoyé : il sera publié après validation.',
  'claim-email': 'Demande enregistrée : un e-mail de confirmation a été envoyé à l’adresse du lieu. La personne qui la reçoit doit ouvrir le lien.',
  'claim-staff': 'Demande enregistrée : l’équipe du territoire va l’examiner.',
  'claim-approved': 'Demande acceptée : la personne gère désormais ce lieu.',
  'claim-rejected': 'Demande refusée.',
  approved: 'Modification validée et publiée.',
  rejected: 'Modification refusée.',
  setting: 'Réglage de modération enregistré.',
  'import-undone': 'Les lieux retirés par cet import sont rétablis et de nouveau en ligne.',
  merged: 'Fiches fusionnées.',
  dismissed: 'Paire marquée « pas un doublon » : elle ne sera plus proposée.',
  report: 'Signalement mis à jour.',
  saved: 'Source enregistrée.',
  mapping: 'Fichier de correspondance enregistré.',
  'mapping-removed': 'Fichier de correspondance retiré.',
};

export const CLAIM_STATUS: Record<string, string> = {
  pending: 'En attente',
  approved: 'Acceptée',
  rejected: 'Refusée',
  cancelled: 'Annulée',
};

export const CLAIM_METHOD: Record<string, string> = {
  email: 'Confirmation par e-mail',
  staff: 'Validation par l’équipe du territoire',
};

export const VERSION_REASON: Record<string, string> = {
  initial: 'État avant la première modification dans l’espace de gestion',
  outside: 'Modifiée par un import',
  edit: 'Modification',
  restore: 'Retour à une version précédente',
  moderation: 'Modification validée par modération',
  merge: 'Fusion de doublons',
};

export const REPORT_STATUS_LABEL: Record<string, string> = {
  new: 'Nouveau',
  in_progress: 'En cours',
  resolved: 'Corrigé',
  rejected: 'Rejeté',
};

export const LEVEL_LABEL: Record<string, string> = { region: 'Région', departement: 'Département' };

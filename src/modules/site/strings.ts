/**
 * French wording of the public site, kept together for review. Longer texts (legal pages) live in
 * their page files.
 */
import type { FilterField } from './data.ts';

/** Entry points by need on the home page, each mapped to one service of the standard. */
export const NEEDS: { label: string; hint: string; service: string }[] = [
  { label: 'Faire une démarche administrative', hint: 'Impôts, CAF, retraite, carte grise, santé…', service: 'Aide aux démarches administratives' },
  { label: 'Apprendre à utiliser un smartphone ou un ordinateur', hint: 'Courriels, photos, applications, visio…', service: 'Maîtrise des outils numériques du quotidien' },
  { label: 'Accéder à un ordinateur ou à internet', hint: 'Poste en libre accès, wifi, imprimante…', service: 'Accès internet et matériel informatique' },
  { label: 'Chercher un emploi ou une formation', hint: 'CV, candidatures, France Travail…', service: 'Insertion professionnelle via le numérique' },
  { label: 'Se protéger des arnaques en ligne', hint: 'Mots de passe, faux messages, sécurité…', service: 'Utilisation sécurisée du numérique' },
  { label: 'Accompagner ses enfants avec le numérique', hint: 'ENT, écrans, contrôle parental…', service: 'Parentalité et éducation avec le numérique' },
  { label: 'Acheter un ordinateur à petit prix', hint: 'Matériel reconditionné, prix solidaires', service: 'Acquisition de matériel informatique à prix solidaire' },
  { label: 'Créer et se divertir avec le numérique', hint: 'Photo, vidéo, jeux, impression 3D…', service: 'Loisirs et créations numériques' },
  { label: 'Comprendre le numérique', hint: 'Intelligence artificielle, réseaux sociaux, données…', service: 'Compréhension du monde numérique' },
];

/** Filter group headings, in the order shown. */
export const FILTER_LEGENDS: [FilterField, string][] = [
  ['services', 'Services proposés'],
  ['publics_specifiquement_adresses', 'Publics accueillis'],
  ['prise_en_charge_specifique', 'Handicaps et langues'],
  ['frais_a_charge', 'Frais'],
  ['modalites_accompagnement', 'Façons d’être accompagné'],
  ['modalites_acces', 'Comment y accéder'],
  ['dispositif_programmes_nationaux', 'Dispositifs nationaux'],
  ['formations_labels', 'Formations et labels'],
  ['typologie', 'Type de lieu'],
  ['itinerance', 'Lieu fixe ou itinérant'],
];

export const T = {
  homeTitle: 'Trouver de l’aide pour le numérique près de chez vous',
  homeLead:
    'Des lieux près de chez vous vous aident gratuitement ou à petit prix : démarches en ligne, smartphone, ordinateur, internet. Indiquez votre commune ou votre code postal.',
  searchLabel: 'Votre commune, votre code postal ou votre adresse',
  searchButton: 'Rechercher',
  aroundMe: 'Autour de moi',
  aroundMeLocating: 'Recherche de votre position…',
  aroundMeError: 'Votre position n’a pas pu être trouvée. Indiquez votre commune dans le champ de recherche.',
  needsTitle: 'Que voulez-vous faire ?',
  resultsTitle: 'Lieux d’aide au numérique',
  filtersTitle: 'Affiner la recherche',
  applyFilters: 'Appliquer les filtres',
  clearFilters: 'Effacer les filtres',
  openNow: 'Ouvert maintenant',
  openOnWeekend: 'Ouvert le week-end',
  onlineBooking: 'Prise de rendez-vous en ligne',
  sortLabel: 'Trier par',
  sortDistance: 'distance',
  sortName: 'nom',
  sortRelevance: 'pertinence',
  radiusLabel: 'Distance maximale',
  download: 'Télécharger ces résultats',
  mapTitle: 'Carte des lieux',
  mapSearchHere: 'Rechercher dans cette zone',
  mapNote: 'La carte montre les mêmes lieux que la liste. Au clavier ou avec un lecteur d’écran, utilisez la liste.',
  noResults: 'Aucun lieu ne correspond à votre recherche.',
  reportTitle: 'Signaler une erreur',
} as const;

export const WEEKDAYS = ['dimanche', 'lundi', 'mardi', 'mercredi', 'jeudi', 'vendredi', 'samedi'];

/**
 * Short French wording for residents (public site, filters, exports' documentation): a label and
 * a line of help per field, and a humanised label per enum value. The stored and exported values
 * stay the standard's exact strings; these are for display only.
 */
import type { EnumField } from './standard.ts';
import type { FieldName } from './types.ts';

export interface FieldText {
  /** Short label (the schema's title, simplified). */
  label: string;
  /** One sentence for a resident or a data producer. */
  help: string;
}

export const FIELD_LABELS: Record<FieldName, FieldText> = {
  id: { label: 'Identifiant', help: 'Identifiant du lieu chez le producteur de la donnée.' },
  pivot: { label: 'SIRET ou RNA', help: "Numéro SIRET de la structure (ou RNA d'une association sans SIRET, RIDET en Nouvelle-Calédonie et Polynésie)." },
  nom: { label: 'Nom', help: 'Nom du lieu.' },
  commune: { label: 'Commune', help: 'Commune où se trouve le lieu.' },
  code_postal: { label: 'Code postal', help: 'Code postal de l’adresse (5 chiffres).' },
  code_insee: { label: 'Code INSEE', help: 'Code officiel de la commune (5 caractères), différent du code postal.' },
  adresse: { label: 'Adresse', help: 'Numéro et nom de la voie.' },
  complement_adresse: { label: 'Complément d’adresse', help: 'Bâtiment, étage, lieu-dit… pour trouver l’entrée.' },
  latitude: { label: 'Latitude', help: 'Position GPS (WGS84), en degrés décimaux.' },
  longitude: { label: 'Longitude', help: 'Position GPS (WGS84), en degrés décimaux.' },
  typologie: { label: 'Type de structure', help: 'Ce qu’est le lieu : médiathèque, association, France Services, tiers-lieu…' },
  telephone: { label: 'Téléphone', help: 'Numéro à appeler pour joindre le lieu.' },
  courriels: { label: 'Courriel', help: 'Adresse(s) électronique(s) de contact.' },
  site_web: { label: 'Site web', help: 'Site internet ou pages sur les réseaux sociaux.' },
  horaires: { label: 'Horaires', help: 'Jours et heures d’ouverture.' },
  presentation_resume: { label: 'En bref', help: 'Présentation courte du lieu (280 caractères au plus).' },
  presentation_detail: { label: 'Présentation', help: 'Présentation détaillée du lieu et de ce qu’on y trouve.' },
  source: { label: 'Source', help: 'Structure qui a collecté et publié ces informations.' },
  itinerance: { label: 'Lieu fixe ou itinérant', help: 'Un lieu itinérant se déplace (bus numérique, permanences tournantes…).' },
  structure_parente: { label: 'Réseau', help: 'Réseau ou structure dont le lieu fait partie.' },
  date_maj: { label: 'Mis à jour le', help: 'Date de la dernière mise à jour des informations.' },
  services: { label: 'Services', help: 'L’aide que vous pouvez trouver dans ce lieu.' },
  publics_specifiquement_adresses: { label: 'Publics accueillis en priorité', help: 'Le lieu s’adresse particulièrement à ces publics (tout le monde est accueilli sinon).' },
  prise_en_charge_specifique: { label: 'Accompagnement adapté', help: 'Le lieu sait accompagner ces besoins particuliers.' },
  frais_a_charge: { label: 'Tarifs', help: 'Ce que coûte l’accès au lieu et à ses services.' },
  dispositif_programmes_nationaux: { label: 'Dispositifs nationaux', help: 'Programmes nationaux dont le lieu fait partie.' },
  formations_labels: { label: 'Formations et labels', help: 'Labels obtenus et formations suivies par l’équipe.' },
  autres_formations_labels: { label: 'Autres labels', help: 'Autres labels ou formations.' },
  modalites_acces: { label: 'Comment y accéder', help: 'Ce qu’il faut faire pour être accueilli.' },
  modalites_accompagnement: { label: 'Types d’accompagnement', help: 'Seul, accompagné, en groupe ou à distance.' },
  fiche_acces_libre: { label: 'Accessibilité', help: 'Fiche Accès libre : accessibilité du lieu aux personnes handicapées.' },
  prise_rdv: { label: 'Prendre rendez-vous', help: 'Lien pour prendre rendez-vous en ligne.' },
};

/** Humanised label of each enum value, for residents. Keys are the standard's exact values. */
export const LABELS: { [F in EnumField]: Record<string, string> } = {
  itinerance: {
    Itinérant: 'Itinérant (se déplace)',
    Fixe: 'Lieu fixe',
  },
  services: {
    'Aide aux démarches administratives': 'Aide aux démarches administratives en ligne',
    'Maîtrise des outils numériques du quotidien': 'Utiliser un ordinateur, un smartphone, internet',
    'Insertion professionnelle via le numérique': 'Trouver un emploi ou une formation grâce au numérique',
    'Utilisation sécurisée du numérique': 'Se protéger en ligne (arnaques, données personnelles)',
    'Parentalité et éducation avec le numérique': 'Accompagner ses enfants dans le numérique',
    'Loisirs et créations numériques': 'Loisirs et création (photo, vidéo, fabrication…)',
    'Compréhension du monde numérique': 'Comprendre le numérique et ses enjeux',
    'Accès internet et matériel informatique': 'Accès à internet et à un ordinateur',
    'Acquisition de matériel informatique à prix solidaire': 'Acheter un ordinateur ou un téléphone à prix solidaire',
  },
  publics_specifiquement_adresses: {
    Jeunes: 'Jeunes',
    Étudiants: 'Étudiants',
    'Familles et/ou enfants': 'Familles et enfants',
    Seniors: 'Seniors',
    Femmes: 'Femmes',
  },
  prise_en_charge_specifique: {
    Surdité: 'Personnes sourdes ou malentendantes',
    'Handicaps moteurs': 'Handicap moteur',
    'Handicaps mentaux': 'Handicap mental ou psychique',
    Illettrisme: 'Difficultés avec la lecture et l’écriture',
    'Langues étrangères (anglais)': 'Accueil en anglais',
    'Langues étrangères (autres)': 'Accueil dans d’autres langues étrangères',
    'Déficience visuelle': 'Personnes aveugles ou malvoyantes',
  },
  frais_a_charge: {
    Gratuit: 'Gratuit',
    'Gratuit sous condition': 'Gratuit sous conditions (selon votre situation)',
    Payant: 'Payant',
  },
  dispositif_programmes_nationaux: {
    'Aidants Connect': 'Aidants Connect (démarches faites pour vous, en sécurité)',
    'Bibliothèques numérique de référence': 'Bibliothèque numérique de référence',
    'Certification PIX': 'Certification Pix (compétences numériques)',
    'Conseillers numériques': 'Conseillers numériques',
    'Emmaüs Connect': 'Emmaüs Connect',
    'France Services': 'France Services',
    'Grande école du numérique': 'Grande école du numérique',
    'La Croix Rouge': 'Croix-Rouge française',
    "Point d'accès numérique CAF": 'Point d’accès numérique CAF',
    'Promeneurs du net': 'Promeneurs du net',
    'Relais numérique (Emmaüs Connect)': 'Relais numérique Emmaüs Connect',
  },
  formations_labels: {
    'Formé à « Mon Espace Santé »': 'Formé à Mon Espace Santé',
    'Formé à « DUPLEX » (illettrisme)': 'Formé à DUPLEX (illettrisme)',
    'Arnia/MedNum BFC (Bourgogne-Franche-Comté)': 'Arnia / MedNum BFC',
    'Collectif ressources et acteurs réemploi (Normandie)': 'Collectif ressources et acteurs réemploi',
    'Étapes numériques (La Poste)': 'Étapes numériques (La Poste)',
    'Fabriques de Territoire': 'Fabrique de territoire',
    'Les Éclaireurs du numérique (Drôme)': 'Les Éclaireurs du numérique',
    'Mes Papiers (Métropole de Lyon)': 'Mes Papiers',
    'ORDI 3.0': 'Label ORDI 3.0 (matériel reconditionné)',
    'SUD LABS (PACA)': 'SUD LABS',
  },
  modalites_acces: {
    'Se présenter': 'Sans rendez-vous, sur place',
    Téléphoner: 'En téléphonant',
    'Contacter par mail': 'Par courriel',
    'Prendre un RDV en ligne': 'Sur rendez-vous en ligne',
    "Ce lieu n'accueille pas de public": 'N’accueille pas de public',
    'Envoyer un mail avec une fiche de prescription': 'Sur orientation d’un professionnel (fiche de prescription)',
  },
  modalites_accompagnement: {
    'En autonomie': 'En autonomie (matériel et connexion à disposition)',
    'Accompagnement individuel': 'Accompagnement individuel',
    'Dans un atelier collectif': 'En atelier collectif',
    'À distance': 'À distance (téléphone ou visio)',
  },
};

/**
 * The national standard « lieux de médiation numérique » v1.0.2 as constants.
 * Source: ../shared/data/standards/lieux-mediation-numerique/schema-v1.0.2.json (Licence Ouverte /
 * Etalab 2.0, La MedNum and ANCT). `tests/model-schema.test.ts` reads that file at run time and
 * checks every constant here against it, so the two cannot drift apart.
 */
import type { FieldName } from './types.ts';

/** The 32 fields, in the exact published order (also the CSV header order). */
export const FIELDS = [
  'id',
  'pivot',
  'nom',
  'commune',
  'code_postal',
  'code_insee',
  'adresse',
  'complement_adresse',
  'latitude',
  'longitude',
  'typologie',
  'telephone',
  'courriels',
  'site_web',
  'horaires',
  'presentation_resume',
  'presentation_detail',
  'source',
  'itinerance',
  'structure_parente',
  'date_maj',
  'services',
  'publics_specifiquement_adresses',
  'prise_en_charge_specifique',
  'frais_a_charge',
  'dispositif_programmes_nationaux',
  'formations_labels',
  'autres_formations_labels',
  'modalites_acces',
  'modalites_accompagnement',
  'fiche_acces_libre',
  'prise_rdv',
] as const satisfies readonly FieldName[];

/** Fields holding several values (`|`-separated in CSV, arrays in PlaceRecord and JSON). */
export const MULTI_VALUED = [
  'typologie',
  'courriels',
  'site_web',
  'itinerance',
  'services',
  'publics_specifiquement_adresses',
  'prise_en_charge_specifique',
  'frais_a_charge',
  'dispositif_programmes_nationaux',
  'formations_labels',
  'modalites_acces',
  'modalites_accompagnement',
] as const satisfies readonly FieldName[];
export type MultiValuedField = (typeof MULTI_VALUED)[number];

/** Required by the schema (`constraints.required: true`). `services` is optional since v1.0.2. */
export const REQUIRED = ['id', 'pivot', 'nom', 'commune', 'code_postal', 'adresse', 'date_maj'] as const satisfies readonly FieldName[];

export const NUMBER_FIELDS = ['latitude', 'longitude'] as const satisfies readonly FieldName[];
export const DATE_FIELDS = ['date_maj'] as const satisfies readonly FieldName[];

/** Separator of multi-valued fields in the v1 standard. */
export const MULTI_SEPARATOR = '|';

/** The formation label whose schema regex lacks the space before the parenthesis (a known quirk of
 *  v1.0.2): we accept both spellings and always write this one. */
export const ETAPES_NUMERIQUES = 'Étapes numériques (La Poste)';
export const ETAPES_NUMERIQUES_SCHEMA_SPELLING = 'Étapes numériques(La Poste)';

/** Closed lists of values, exact spelling (accents, capitals), as in the schema's patterns. */
export const ENUMS = {
  itinerance: ['Itinérant', 'Fixe'],
  services: [
    'Aide aux démarches administratives',
    'Maîtrise des outils numériques du quotidien',
    'Insertion professionnelle via le numérique',
    'Utilisation sécurisée du numérique',
    'Parentalité et éducation avec le numérique',
    'Loisirs et créations numériques',
    'Compréhension du monde numérique',
    'Accès internet et matériel informatique',
    'Acquisition de matériel informatique à prix solidaire',
  ],
  publics_specifiquement_adresses: ['Jeunes', 'Étudiants', 'Familles et/ou enfants', 'Seniors', 'Femmes'],
  prise_en_charge_specifique: [
    'Surdité',
    'Handicaps moteurs',
    'Handicaps mentaux',
    'Illettrisme',
    'Langues étrangères (anglais)',
    'Langues étrangères (autres)',
    'Déficience visuelle',
  ],
  frais_a_charge: ['Gratuit', 'Gratuit sous condition', 'Payant'],
  dispositif_programmes_nationaux: [
    'Aidants Connect',
    'Bibliothèques numérique de référence',
    'Certification PIX',
    'Conseillers numériques',
    'Emmaüs Connect',
    'France Services',
    'Grande école du numérique',
    'La Croix Rouge',
    "Point d'accès numérique CAF",
    'Promeneurs du net',
    'Relais numérique (Emmaüs Connect)',
  ],
  formations_labels: [
    'Formé à « Mon Espace Santé »',
    'Formé à « DUPLEX » (illettrisme)',
    'Arnia/MedNum BFC (Bourgogne-Franche-Comté)',
    'Collectif ressources et acteurs réemploi (Normandie)',
    ETAPES_NUMERIQUES,
    'Fabriques de Territoire',
    'Les Éclaireurs du numérique (Drôme)',
    'Mes Papiers (Métropole de Lyon)',
    'ORDI 3.0',
    'SUD LABS (PACA)',
  ],
  modalites_acces: [
    'Se présenter',
    'Téléphoner',
    'Contacter par mail',
    'Prendre un RDV en ligne',
    "Ce lieu n'accueille pas de public",
    'Envoyer un mail avec une fiche de prescription',
  ],
  modalites_accompagnement: ['En autonomie', 'Accompagnement individuel', 'Dans un atelier collectif', 'À distance'],
} as const satisfies Partial<Record<MultiValuedField, readonly string[]>>;
export type EnumField = keyof typeof ENUMS;
export const ENUM_FIELDS = Object.keys(ENUMS) as EnumField[];

/** The schema's patterns for single-valued fields (anchored, as TableSchema patterns are). */
export const PATTERNS = {
  pivot: /^[a-zA-Z0-9]{9,14}$/,
  code_postal: /^\d{5}$/,
  code_insee: /^([013-9]\d|2[AB1-9])\d{3}$/,
  telephone: /^(\+33|\+590|\+594|\+262|\+596|\+269|\+687|\+689|\+508|\+681)(\d){6,9}$/,
} as const satisfies Partial<Record<FieldName, RegExp>>;

/** Telephone country prefixes allowed by the schema (France and overseas). */
export const PHONE_PREFIXES = ['+33', '+590', '+594', '+262', '+596', '+269', '+687', '+689', '+508', '+681'] as const;

/** `constraints.maxLength` of the schema. */
export const MAX_LENGTH = { presentation_resume: 280 } as const satisfies Partial<Record<FieldName, number>>;

/** Fields holding a URL (not constrained by the schema, checked by us). */
export const URL_FIELDS = ['site_web', 'fiche_acces_libre', 'prise_rdv'] as const satisfies readonly FieldName[];

const MULTI_SET: ReadonlySet<string> = new Set(MULTI_VALUED);
export function isMultiValued(field: string): field is MultiValuedField {
  return MULTI_SET.has(field);
}
const FIELD_SET: ReadonlySet<string> = new Set(FIELDS);
export function isField(name: string): name is FieldName {
  return FIELD_SET.has(name);
}

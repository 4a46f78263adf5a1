/**
 * Reading files of the 2022 standard v0.1.0 (schema-v0.1.0.json) as v1.0.2 rows.
 *
 * Field correspondence (standards.md, and derived from both schemas; README.md has the tables):
 * - same name, same meaning: id, pivot, nom, commune, code_postal, code_insee, adresse,
 *   complement_adresse, latitude, longitude, typologie, telephone, site_web, horaires,
 *   presentation_resume (500 → 280 characters: validateRow handles longer ones), presentation_detail,
 *   source, structure_parente, date_maj, services (values condensed), modalites_accompagnement
 *   (values renamed), prise_rdv;
 * - renamed: courriel → courriels, accessibilite → fiche_acces_libre, labels_autres →
 *   autres_formations_labels, conditions_acces → frais_a_charge;
 * - split: publics_accueillis → publics_specifiquement_adresses + prise_en_charge_specifique,
 *   labels_nationaux → dispositif_programmes_nationaux + formations_labels (labels with no v1
 *   equivalent go to autres_formations_labels, so nothing is lost);
 * - dropped: cle_ban (no v1 field; reported once).
 * Multi-valued fields use `;` in v0.1 and become `|`-joined.
 */
import { type Cells, type ColumnPlan, type Values, fileIssue, foldHeader } from './convert.ts';
import { fold, shorten } from './text.ts';
import type { FieldName, ValidationIssue } from './types.ts';

/** The 29 fields of v0.1.0, in published order. */
export const LEGACY_FIELDS = [
  'id', 'pivot', 'nom', 'commune', 'code_postal', 'code_insee', 'adresse', 'complement_adresse', 'latitude', 'longitude',
  'cle_ban', 'typologie', 'telephone', 'courriel', 'site_web', 'horaires', 'presentation_resume', 'presentation_detail',
  'source', 'structure_parente', 'date_maj', 'services', 'publics_accueillis', 'conditions_acces', 'labels_nationaux',
  'labels_autres', 'modalites_accompagnement', 'accessibilite', 'prise_rdv',
] as const;
export type LegacyField = (typeof LEGACY_FIELDS)[number];

/** Column names that only exist in v0.1.0 (used to recognise a legacy header). */
export const LEGACY_ONLY = ['cle_ban', 'courriel', 'publics_accueillis', 'conditions_acces', 'labels_nationaux', 'labels_autres', 'accessibilite'] as const;

/** Where an old value goes: a v1 field and value, free text for autres_formations_labels, or
 *  nowhere (no v1 equivalent; reported). */
type Target = { field: FieldName; value: string } | { autres: string } | { drop: string };

const to = (field: FieldName, value: string): Target => ({ field, value });

/** v0.1 value → v1 value(s), per old field. Keys are the exact v0.1 spellings. */
export const LEGACY_VALUES: Record<'services' | 'publics_accueillis' | 'conditions_acces' | 'labels_nationaux' | 'modalites_accompagnement', Record<string, Target[]>> = {
  // The 15 old services condense into the 9 new ones.
  services: {
    'Devenir autonome dans les démarches administratives': [to('services', 'Aide aux démarches administratives')],
    'Réaliser des démarches administratives avec un accompagnement': [to('services', 'Aide aux démarches administratives')],
    'Prendre en main un smartphone ou une tablette': [to('services', 'Maîtrise des outils numériques du quotidien')],
    'Prendre en main un ordinateur': [to('services', 'Maîtrise des outils numériques du quotidien')],
    'Utiliser le numérique au quotidien': [to('services', 'Maîtrise des outils numériques du quotidien')],
    'Approfondir ma culture numérique': [to('services', 'Compréhension du monde numérique')],
    'Favoriser mon insertion professionnelle': [to('services', 'Insertion professionnelle via le numérique')],
    'Accéder à une connexion internet': [to('services', 'Accès internet et matériel informatique')],
    'Accéder à du matériel': [to('services', 'Accès internet et matériel informatique')],
    "S'équiper en matériel informatique": [to('services', 'Acquisition de matériel informatique à prix solidaire')],
    'Créer et développer mon entreprise': [to('services', 'Insertion professionnelle via le numérique')],
    'Créer avec le numérique': [to('services', 'Loisirs et créations numériques')],
    'Accompagner les démarches de santé': [to('services', 'Aide aux démarches administratives')],
    'Promouvoir la citoyenneté numérique': [to('services', 'Compréhension du monde numérique')],
    "Soutenir la parentalité et l'éducation avec le numérique": [to('services', 'Parentalité et éducation avec le numérique')],
  },
  publics_accueillis: {
    'Seniors (+ 65 ans)': [to('publics_specifiquement_adresses', 'Seniors')],
    'Familles/enfants': [to('publics_specifiquement_adresses', 'Familles et/ou enfants')],
    Adultes: [{ drop: "« Adultes » n'a pas d'équivalent en v1.0.2 (un lieu accueille tout public par défaut)" }],
    'Jeunes (16-26 ans)': [to('publics_specifiquement_adresses', 'Jeunes')],
    'Public langues étrangères': [to('prise_en_charge_specifique', 'Langues étrangères (autres)')],
    'Déficience visuelle': [to('prise_en_charge_specifique', 'Déficience visuelle')],
    Surdité: [to('prise_en_charge_specifique', 'Surdité')],
    'Handicaps psychiques : troubles psychiatriques donnant lieu à des atteintes comportementales': [to('prise_en_charge_specifique', 'Handicaps mentaux')],
    "Handicaps mentaux : déficiences limitant les activités d'une personne": [to('prise_en_charge_specifique', 'Handicaps mentaux')],
    'Uniquement femmes': [to('publics_specifiquement_adresses', 'Femmes')],
    "Personnes en situation d'illettrisme": [to('prise_en_charge_specifique', 'Illettrisme')],
  },
  conditions_acces: {
    'Gratuit : Je peux accéder gratuitement au lieu et à ses services': [to('frais_a_charge', 'Gratuit')],
    'Gratuit sous condition : La gratuité est conditionnée à des critères (situation familiale, convention avec un organisme social...)': [
      to('frais_a_charge', 'Gratuit sous condition'),
    ],
    "Payant : L'accès au lieu et/ou à ses services est payant": [to('frais_a_charge', 'Payant')],
    'Accepte le Pass numérique : Il est possible d\'utiliser un Pass numérique pour accéder au lieu': [to('frais_a_charge', 'Gratuit sous condition')],
    "Adhésion : L'accès au lieu et/ou à ses services nécessite d'y adhérer": [to('frais_a_charge', 'Payant')],
  },
  labels_nationaux: {
    'France Services': [to('dispositif_programmes_nationaux', 'France Services')],
    CNFS: [to('dispositif_programmes_nationaux', 'Conseillers numériques')],
    APTIC: [{ autres: 'APTIC' }],
    'Aidants Connect': [to('dispositif_programmes_nationaux', 'Aidants Connect')],
    'Fabriques de Territoire': [to('formations_labels', 'Fabriques de Territoire')],
    'Grandes écoles du numérique': [to('dispositif_programmes_nationaux', 'Grande école du numérique')],
    'Point relais CAF': [to('dispositif_programmes_nationaux', "Point d'accès numérique CAF")],
    'Point numérique CAF': [to('dispositif_programmes_nationaux', "Point d'accès numérique CAF")],
    'Relais pôle emploi': [{ autres: 'Relais pôle emploi' }],
    'French Tech': [{ autres: 'French Tech' }],
    'Campus connecté': [{ autres: 'Campus connecté' }],
  },
  modalites_accompagnement: {
    "Seul : j'ai accès à du matériel et une connexion": [to('modalites_accompagnement', 'En autonomie')],
    "Avec de l'aide : je suis accompagné seul dans l'usage du numérique": [to('modalites_accompagnement', 'Accompagnement individuel')],
    "Dans un atelier : j'apprends collectivement à utiliser le numérique": [to('modalites_accompagnement', 'Dans un atelier collectif')],
    'A ma place : une personne habilitée fait les démarches à ma place': [to('modalites_accompagnement', 'Accompagnement individuel')],
  },
};

type CodedField = keyof typeof LEGACY_VALUES;

/** Folded look-ups: the full value, and the short label before " : " ("Gratuit", "Seul"). */
const LOOKUP = new Map<CodedField, Map<string, Target[]>>();
for (const [field, table] of Object.entries(LEGACY_VALUES) as [CodedField, Record<string, Target[]>][]) {
  const m = new Map<string, Target[]>();
  for (const [k, v] of Object.entries(table)) {
    m.set(fold(k), v);
    const short = k.split(' : ')[0];
    if (short !== k && !m.has(fold(short))) m.set(fold(short), v);
  }
  LOOKUP.set(field, m);
}

/** Where unknown values of a coded field go (validateRow then accepts a v1 value or refuses). */
const FALLBACK: Record<CodedField, FieldName> = {
  services: 'services',
  publics_accueillis: 'publics_specifiquement_adresses',
  conditions_acces: 'frais_a_charge',
  labels_nationaux: 'autres_formations_labels',
  modalites_accompagnement: 'modalites_accompagnement',
};

const PLAIN: Partial<Record<LegacyField, FieldName>> = {
  id: 'id', pivot: 'pivot', nom: 'nom', commune: 'commune', code_postal: 'code_postal', code_insee: 'code_insee',
  adresse: 'adresse', complement_adresse: 'complement_adresse', latitude: 'latitude', longitude: 'longitude',
  telephone: 'telephone', horaires: 'horaires', presentation_resume: 'presentation_resume',
  presentation_detail: 'presentation_detail', source: 'source', structure_parente: 'structure_parente',
  date_maj: 'date_maj', accessibilite: 'fiche_acces_libre', prise_rdv: 'prise_rdv',
};
const LISTS: Partial<Record<LegacyField, FieldName>> = { typologie: 'typologie', courriel: 'courriels', site_web: 'site_web' };

const LEGACY_BY_FOLD = new Map<string, LegacyField>(LEGACY_FIELDS.map((f) => [foldHeader(f), f]));

/** True when a header looks like v0.1.0 rather than v1.0.2. */
export function looksLegacy(columns: readonly string[]): boolean {
  const folded = new Set(columns.map(foldHeader));
  const legacy = LEGACY_ONLY.filter((f) => folded.has(foldHeader(f))).length;
  const v1only = ['courriels', 'itinerance', 'publics_specifiquement_adresses', 'prise_en_charge_specifique', 'frais_a_charge', 'dispositif_programmes_nationaux', 'formations_labels', 'autres_formations_labels', 'modalites_acces', 'fiche_acces_libre'].filter((f) => folded.has(foldHeader(f))).length;
  return legacy > v1only;
}

const splitLegacy = (v: string) => v.split(/[;|]/).map((s) => s.trim()).filter((s) => s !== '');

export function legacyPlan(columns: readonly string[], headerLine: number | null): ColumnPlan {
  const at = headerLine === null ? '' : `Ligne ${headerLine} (en-tête) : `;
  const issues: ValidationIssue[] = [
    fileIssue(headerLine, null, null, 'warning', 'legacy_version', `${at}fichier au format v0.1.0 du standard (2022), converti vers la version 1.0.2.`),
  ];
  const index = new Map<LegacyField, number>();
  const unknown: string[] = [];
  columns.forEach((raw, i) => {
    const f = LEGACY_BY_FOLD.get(foldHeader(raw));
    if (f === undefined || index.has(f)) {
      if (raw.trim() !== '') unknown.push(raw.trim());
      return;
    }
    index.set(f, i);
  });
  if (index.has('cle_ban')) {
    issues.push(fileIssue(headerLine, 'cle_ban', null, 'warning', 'legacy_column_dropped', `${at}la colonne « cle_ban » n'existe plus en v1.0.2 ; elle n'est pas reprise.`));
  }
  if (unknown.length > 0) {
    issues.push(fileIssue(headerLine, null, unknown.join(', '), 'warning', 'unknown_columns', `${at}colonnes inconnues du standard v0.1.0, ignorées : ${unknown.map((u) => `« ${u} »`).join(', ')}.`));
  }
  const required = ['id', 'pivot', 'nom', 'commune', 'code_postal', 'adresse', 'date_maj'] as const;
  const missing = required.filter((f) => !index.has(f));
  if (missing.length > 0) {
    issues.push(fileIssue(headerLine, null, missing.join(', '), 'error', 'missing_columns', `${at}colonnes obligatoires absentes : ${missing.join(', ')} ; chaque ligne sera refusée.`));
  }
  const get = (cells: Cells, f: LegacyField): string => {
    const i = index.get(f);
    if (i === undefined) return '';
    return (cells[i] ?? '').trim();
  };

  return {
    version: '0.1.0',
    headerIssues: issues,
    fatal: false,
    convert(cells, line, rowIssues) {
      const values: Values = {};
      for (const [old, field] of Object.entries(PLAIN) as [LegacyField, FieldName][]) {
        const v = get(cells, old);
        if (v !== '') values[field] = v;
      }
      for (const [old, field] of Object.entries(LISTS) as [LegacyField, FieldName][]) {
        const v = get(cells, old);
        if (v !== '') values[field] = splitLegacy(v).join('|');
      }
      const lists = new Map<FieldName, string[]>();
      const autres: string[] = [];
      const labelsAutres = get(cells, 'labels_autres');
      if (labelsAutres !== '') autres.push(...splitLegacy(labelsAutres));
      const push = (field: FieldName, value: string) => {
        const l = lists.get(field) ?? [];
        if (!l.includes(value)) l.push(value);
        lists.set(field, l);
      };
      for (const coded of Object.keys(LEGACY_VALUES) as CodedField[]) {
        const raw = get(cells, coded);
        if (raw === '') continue;
        for (const item of splitLegacy(raw)) {
          const targets = LOOKUP.get(coded)!.get(fold(item));
          if (targets === undefined) {
            const fb = FALLBACK[coded];
            if (fb === 'autres_formations_labels') {
              autres.push(item);
              rowIssues.push(fileIssue(line, coded, item, 'warning', 'legacy_value_moved', `Ligne ${line}, champ « ${coded} » : label « ${shorten(item)} » inconnu de la v0.1.0, reporté dans « autres_formations_labels ».`));
            } else push(fb, item);
            continue;
          }
          for (const t of targets) {
            if ('drop' in t) rowIssues.push(fileIssue(line, coded, item, 'warning', 'legacy_value_dropped', `Ligne ${line}, champ « ${coded} » : ${t.drop} ; valeur non reprise.`));
            else if ('autres' in t) {
              if (!autres.includes(t.autres)) autres.push(t.autres);
              rowIssues.push(fileIssue(line, coded, item, 'warning', 'legacy_value_moved', `Ligne ${line}, champ « ${coded} » : « ${item} » n'a pas d'équivalent dans les listes v1.0.2 ; reporté dans « autres_formations_labels ».`));
            } else push(t.field, t.value);
          }
        }
      }
      for (const [field, l] of lists) values[field] = l.join('|');
      if (autres.length > 0) values.autres_formations_labels = autres.join(', ');
      return values;
    },
  };
}

/**
 * Mediation: the shared vocabularies (digital themes, the administrative "démarches", CRCN
 * competences) and the pure rules of an activity record (validation, statistics counters).
 * No I/O here. The vocabularies follow La Coop de la médiation numérique and the CRCN (Pix).
 */

/** The Coop's 19 digital themes. `aide-aux-demarches-administratives` opens the démarches list. */
export const DIGITAL_THEMES = {
  'diagnostic-numerique': 'Diagnostic numérique',
  'prendre-en-main-du-materiel': 'Prendre en main du matériel',
  'maintenance-materiel': 'Maintenance du matériel',
  'navigation-internet': 'Navigation sur internet',
  'e-mail': 'E-mail',
  bureautique: 'Bureautique',
  'reseaux-sociaux': 'Réseaux sociaux et communication',
  sante: 'Santé',
  'banque-achats-en-ligne': 'Banque et achats en ligne',
  parentalite: 'Parentalité',
  'scolarite-numerique': 'Scolarité et numérique',
  'creer-avec-le-numerique': 'Créer avec le numérique',
  'culture-numerique': 'Culture numérique',
  'intelligence-artificielle': 'Intelligence artificielle',
  'insertion-professionnelle': 'Insertion professionnelle',
  entrepreneuriat: 'Entrepreneuriat',
  'securite-numerique': 'Sécurité numérique',
  'gerer-ses-documents': 'Gérer ses fichiers et documents',
  'aide-aux-demarches-administratives': 'Aide aux démarches administratives',
} as const;
export type DigitalTheme = keyof typeof DIGITAL_THEMES;
/** The digital theme that administrative démarches require. */
export const DEMARCHES_THEME: DigitalTheme = 'aide-aux-demarches-administratives';

/**
 * The administrative démarches (the Coop's 11 administrative themes). Defined once here; the
 * mandates module imports them from mediation's index.ts.
 */
export const ADMIN_PROCEDURES = {
  'papiers-elections-citoyennete': 'Papiers, élections, citoyenneté',
  'famille-scolarite': 'Famille, scolarité',
  'social-sante': 'Social, santé',
  'travail-formation': 'Travail, formation',
  logement: 'Logement',
  'transports-mobilite': 'Transports, mobilité',
  'argent-impots': 'Argent, impôts',
  justice: 'Justice',
  'etrangers-europe': 'Étrangers, Europe',
  'loisirs-sports-culture': 'Loisirs, sports, culture',
  associations: 'Associations',
} as const;
export type AdminProcedure = keyof typeof ADMIN_PROCEDURES;

/** CRCN (Cadre de référence des compétences numériques): 16 competences in 5 domains, 8 levels. */
export const CRCN_DOMAINS = {
  '1': 'Information et données',
  '2': 'Communication et collaboration',
  '3': 'Création de contenus',
  '4': 'Protection et sécurité',
  '5': 'Environnement numérique',
} as const;
export const CRCN_COMPETENCES = {
  '1.1': 'Mener une recherche et une veille d’information',
  '1.2': 'Gérer des données',
  '1.3': 'Traiter des données',
  '2.1': 'Interagir',
  '2.2': 'Partager et publier',
  '2.3': 'Collaborer',
  '2.4': 'S’insérer dans le monde numérique',
  '3.1': 'Développer des documents textuels',
  '3.2': 'Développer des documents multimédia',
  '3.3': 'Adapter les documents à leur finalité',
  '3.4': 'Programmer',
  '4.1': 'Sécuriser l’environnement numérique',
  '4.2': 'Protéger les données personnelles et la vie privée',
  '4.3': 'Protéger la santé, le bien-être et l’environnement',
  '5.1': 'Résoudre des problèmes techniques',
  '5.2': 'Évoluer dans un environnement numérique',
} as const;
export type CrcnCompetence = keyof typeof CRCN_COMPETENCES;
export const CRCN_LEVELS = [1, 2, 3, 4, 5, 6, 7, 8] as const;
export const CRCN_LEVEL_LABELS: Record<number, string> = {
  1: 'Novice 1', 2: 'Novice 2', 3: 'Indépendant 3', 4: 'Indépendant 4', 5: 'Avancé 5', 6: 'Avancé 6', 7: 'Expert 7', 8: 'Expert 8',
};

/**
 * DigComp 2.2 (European Commission, JRC, 2022: "The Digital Competence Framework for Citizens"):
 * 21 competences in 5 areas, 8 proficiency levels. Official numbering and English titles; the
 * French titles are ours (the JRC publishes no French version of 2.2), close to the CRCN's wording.
 */
export const DIGCOMP_AREAS = {
  '1': { en: 'Information and data literacy', fr: 'Maîtrise de l’information et des données' },
  '2': { en: 'Communication and collaboration', fr: 'Communication et collaboration' },
  '3': { en: 'Digital content creation', fr: 'Création de contenus numériques' },
  '4': { en: 'Safety', fr: 'Sécurité' },
  '5': { en: 'Problem solving', fr: 'Résolution de problèmes' },
} as const;
export const DIGCOMP_COMPETENCES = {
  '1.1': { en: 'Browsing, searching and filtering data, information and digital content', fr: 'Naviguer, rechercher et filtrer des données, des informations et des contenus numériques' },
  '1.2': { en: 'Evaluating data, information and digital content', fr: 'Évaluer des données, des informations et des contenus numériques' },
  '1.3': { en: 'Managing data, information and digital content', fr: 'Gérer des données, des informations et des contenus numériques' },
  '2.1': { en: 'Interacting through digital technologies', fr: 'Interagir au moyen des technologies numériques' },
  '2.2': { en: 'Sharing through digital technologies', fr: 'Partager au moyen des technologies numériques' },
  '2.3': { en: 'Engaging citizenship through digital technologies', fr: 'Exercer sa citoyenneté au moyen des technologies numériques' },
  '2.4': { en: 'Collaborating through digital technologies', fr: 'Collaborer au moyen des technologies numériques' },
  '2.5': { en: 'Netiquette', fr: 'Nétiquette' },
  '2.6': { en: 'Managing digital identity', fr: 'Gérer son identité numérique' },
  '3.1': { en: 'Developing digital content', fr: 'Développer des contenus numériques' },
  '3.2': { en: 'Integrating and re-elaborating digital content', fr: 'Intégrer et retravailler des contenus numériques' },
  '3.3': { en: 'Copyright and licences', fr: 'Droit d’auteur et licences' },
  '3.4': { en: 'Programming', fr: 'Programmer' },
  '4.1': { en: 'Protecting devices', fr: 'Protéger les équipements' },
  '4.2': { en: 'Protecting personal data and privacy', fr: 'Protéger les données personnelles et la vie privée' },
  '4.3': { en: 'Protecting health and well-being', fr: 'Protéger la santé et le bien-être' },
  '4.4': { en: 'Protecting the environment', fr: 'Protéger l’environnement' },
  '5.1': { en: 'Solving technical problems', fr: 'Résoudre des problèmes techniques' },
  '5.2': { en: 'Identifying needs and technological responses', fr: 'Identifier des besoins et des réponses technologiques' },
  '5.3': { en: 'Creatively using digital technologies', fr: 'Utiliser les technologies numériques de façon créative' },
  '5.4': { en: 'Identifying digital competence gaps', fr: 'Identifier ses lacunes en compétences numériques' },
} as const;
export type DigCompCompetence = keyof typeof DIGCOMP_COMPETENCES;
/** DigComp 2.2's proficiency levels: 1–2 foundation, 3–4 intermediate, 5–6 advanced, 7–8 highly specialised. */
export const DIGCOMP_LEVEL_LABELS: Record<number, string> = {
  1: 'Fondamental 1', 2: 'Fondamental 2', 3: 'Intermédiaire 3', 4: 'Intermédiaire 4', 5: 'Avancé 5', 6: 'Avancé 6', 7: 'Hautement spécialisé 7', 8: 'Hautement spécialisé 8',
};

/**
 * CRCN → DigComp 2.2: OUR correspondence, not an official table. The CRCN (décret n° 2019-919,
 * Pix) says it is adapted from DigComp 2.1 and keeps its five areas, but publishes no
 * competence-by-competence table; this one follows the titles and descriptions of both frameworks
 * (documented in the module README). Every CRCN competence maps to one or more DigComp ones and
 * every DigComp competence is reached by at least one CRCN competence (a test checks both).
 */
export const CRCN_TO_DIGCOMP: Record<CrcnCompetence, readonly DigCompCompetence[]> = {
  '1.1': ['1.1', '1.2'],
  '1.2': ['1.3'],
  '1.3': ['1.3'],
  '2.1': ['2.1'],
  '2.2': ['2.2'],
  '2.3': ['2.4'],
  '2.4': ['2.3', '2.5', '2.6'],
  '3.1': ['3.1'],
  '3.2': ['3.1'],
  '3.3': ['3.2', '3.3'],
  '3.4': ['3.4'],
  '4.1': ['4.1'],
  '4.2': ['4.2'],
  '4.3': ['4.3', '4.4'],
  '5.1': ['5.1', '5.2'],
  '5.2': ['5.3', '5.4'],
};

/** The DigComp competences of some CRCN ones (our correspondence), sorted, without repeats. */
export function digcompOf(crcn: readonly string[]): DigCompCompetence[] {
  const out = new Set<DigCompCompetence>();
  for (const c of crcn) if (Object.prototype.hasOwnProperty.call(CRCN_TO_DIGCOMP, c)) for (const d of CRCN_TO_DIGCOMP[c as CrcnCompetence]) out.add(d);
  return [...out].sort();
}

export const DURATION_PRESETS = [15, 30, 45, 60, 90, 120] as const;

export const ACTIVITY_KINDS = { individual: 'Accompagnement individuel', collective: 'Atelier collectif' } as const;
export type ActivityKind = keyof typeof ACTIVITY_KINDS;

export const PLACE_KINDS = { place: 'Dans un de mes lieux', home: 'À domicile', remote: 'À distance', other_commune: 'Autre lieu (commune)' } as const;
export type PlaceKind = keyof typeof PLACE_KINDS;

export const EQUIPMENT = { own: 'Son propre matériel', place: 'Matériel du lieu', lent: 'Matériel prêté', none: 'Sans matériel' } as const;
export const AUTONOMY = {
  done_for: 'Fait à sa place',
  partly: 'Partiellement autonome',
  autonomous: 'Autonome',
} as const;
export const ORIENTATION = {
  none: 'Pas d’orientation',
  mediator: 'Vers un autre médiateur ou lieu',
  france_services: 'Vers France services',
  administration: 'Vers une administration',
  social: 'Vers un travailleur social',
  training: 'Vers une formation',
} as const;
export const WORKSHOP_LEVELS = { beginner: 'Débutant', intermediate: 'Intermédiaire', advanced: 'Avancé' } as const;

export const GENDERS = { f: 'Femme', m: 'Homme', nc: 'Non communiqué' } as const;
export const AGE_BANDS = {
  'under-12': 'Moins de 12 ans', '12-18': '12 à 18 ans', '18-25': '18 à 25 ans', '25-40': '25 à 40 ans', '40-60': '40 à 60 ans', '60-70': '60 à 70 ans', '70-plus': '70 ans et plus', nc: 'Non communiqué',
} as const;
export const STATUSES = { student: 'Scolarisé ou étudiant', job_seeker: 'Sans emploi', employed: 'En emploi', retired: 'Retraité', nc: 'Non communiqué' } as const;
export type Gender = keyof typeof GENDERS;
export type AgeBand = keyof typeof AGE_BANDS;
export type Status = keyof typeof STATUSES;

export const MAX_PARTICIPANTS = 500;
const NOTES_MAX = 2000;

export interface AnonymousCounts {
  gender: Partial<Record<Gender, number>>;
  age: Partial<Record<AgeBand, number>>;
  status: Partial<Record<Status, number>>;
}

/** A valid activity, as the service writes it. */
export interface ActivityInput {
  kind: ActivityKind;
  date: string; // YYYY-MM-DD
  durationMin: number;
  placeKind: PlaceKind;
  placeUid: string | null;
  communeCode: string | null;
  themes: DigitalTheme[];
  adminThemes: AdminProcedure[];
  equipment: keyof typeof EQUIPMENT | null;
  autonomy: keyof typeof AUTONOMY | null;
  orientation: keyof typeof ORIENTATION | null;
  notes: string | null;
  workshopTitle: string | null;
  workshopLevel: keyof typeof WORKSHOP_LEVELS | null;
  /** Followed beneficiaries (ids) taking part. */
  beneficiaryIds: string[];
  /** Everyone, followed and anonymous. */
  participants: number;
  anonymous: AnonymousCounts;
  idempotencyKey: string | null;
}

export interface FieldError {
  field: string;
  message: string;
}

export class ValidationFailed extends Error {
  constructor(readonly errors: FieldError[]) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
  }
}

type Raw = Record<string, unknown>;

function own(o: Raw, k: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined;
}
function str(o: Raw, k: string): string {
  const v = own(o, k);
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0].trim() : '';
  return typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '';
}
function list(o: Raw, k: string): string[] {
  const v = own(o, k);
  const arr = Array.isArray(v) ? v : v === undefined || v === '' ? [] : [v];
  return arr.filter((x): x is string => typeof x === 'string').flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
}
function isKey<T extends object>(dict: T, k: string): k is Extract<keyof T, string> {
  return Object.prototype.hasOwnProperty.call(dict, k);
}
const BAD_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffd]/;

/** A non-negative integer from a form field ('' → 0), or null when it is not one. */
function count(s: string): number | null {
  if (s === '') return 0;
  if (!/^\d{1,6}$/.test(s)) return null;
  return Number(s);
}

export function todayIso(now = new Date()): string {
  // The local calendar day of the server (TZ, Europe/Paris by default).
  const y = now.getFullYear();
  const m = String(now.getMonth() + 1).padStart(2, '0');
  const d = String(now.getDate()).padStart(2, '0');
  return `${y}-${m}-${d}`;
}

export function isIsoDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/**
 * Checks a submitted record (form fields or JSON with the same names) and returns it typed, or
 * throws ValidationFailed naming every faulty field. Field names: kind, date, duration, placeKind,
 * placeUid, communeCode, themes, adminThemes, equipment, autonomy, orientation, notes,
 * workshopTitle, workshopLevel, beneficiaries, participants, anon_gender_<g>, anon_age_<a>,
 * anon_status_<s>, idempotencyKey. The mediator's own places are given to check placeUid.
 */
export function parseActivity(input: Raw, o: { myPlaces: readonly string[]; today?: string }): ActivityInput {
  const errors: FieldError[] = [];
  const err = (field: string, message: string) => errors.push({ field, message });
  const today = o.today ?? todayIso();

  const kindS = str(input, 'kind');
  const kind: ActivityKind = kindS === 'collective' ? 'collective' : 'individual';
  if (kindS && !isKey(ACTIVITY_KINDS, kindS)) err('kind', 'Choisissez « accompagnement individuel » ou « atelier collectif ».');

  const date = str(input, 'date');
  if (!date) err('date', 'Indiquez la date de l’activité.');
  else if (!isIsoDate(date)) err('date', 'La date doit être une date réelle au format AAAA-MM-JJ.');
  else if (date > today) err('date', 'La date ne peut pas être dans le futur.');
  else if (date < '2000-01-01') err('date', 'La date est trop ancienne (avant 2000).');

  const durS = str(input, 'duration');
  const duration = /^\d{1,5}$/.test(durS) ? Number(durS) : NaN;
  if (!durS) err('duration', 'Indiquez la durée.');
  else if (!Number.isInteger(duration)) err('duration', 'La durée est un nombre entier de minutes.');
  else if (duration <= 0) err('duration', 'La durée doit être d’au moins une minute.');
  else if (duration > 720) err('duration', 'La durée ne peut dépasser 12 heures (720 minutes).');

  const pk = str(input, 'placeKind') || 'place';
  let placeKind: PlaceKind = 'place';
  if (!isKey(PLACE_KINDS, pk)) err('placeKind', 'Type de lieu inconnu.');
  else placeKind = pk;
  let placeUid: string | null = null;
  let communeCode: string | null = null;
  if (placeKind === 'place') {
    placeUid = str(input, 'placeUid') || null;
    if (!placeUid) err('placeUid', o.myPlaces.length ? 'Choisissez l’un de vos lieux.' : 'Vous n’avez pas encore de lieu : ajoutez-en dans votre profil, ou choisissez un autre type de lieu.');
    else if (!o.myPlaces.includes(placeUid)) err('placeUid', 'Ce lieu n’est pas l’un de vos lieux.');
  } else if (placeKind === 'other_commune' || placeKind === 'home') {
    communeCode = str(input, 'communeCode').toUpperCase() || null;
    if (!communeCode && placeKind === 'other_commune') err('communeCode', 'Indiquez le code INSEE de la commune.');
    else if (communeCode && !/^(\d{5}|2[AB]\d{3})$/.test(communeCode)) err('communeCode', 'Le code INSEE d’une commune a 5 caractères (par exemple 76540).');
  }

  const themesRaw = list(input, 'themes');
  const themes: DigitalTheme[] = [];
  for (const t of themesRaw) {
    if (isKey(DIGITAL_THEMES, t)) {
      if (!themes.includes(t)) themes.push(t);
    } else err('themes', `Thématique inconnue : « ${t.slice(0, 60)} ».`);
  }
  if (!themesRaw.length) err('themes', 'Choisissez au moins une thématique.');
  const adminRaw = list(input, 'adminThemes');
  const adminThemes: AdminProcedure[] = [];
  for (const t of adminRaw) {
    if (isKey(ADMIN_PROCEDURES, t)) {
      if (!adminThemes.includes(t)) adminThemes.push(t);
    } else err('adminThemes', `Démarche inconnue : « ${t.slice(0, 60)} ».`);
  }
  if (adminThemes.length && !themes.includes(DEMARCHES_THEME)) {
    err('adminThemes', `Les démarches administratives demandent la thématique « ${DIGITAL_THEMES[DEMARCHES_THEME]} ».`);
  }

  const pick = <T extends object>(field: string, dict: T): Extract<keyof T, string> | null => {
    const v = str(input, field);
    if (!v) return null;
    if (isKey(dict, v)) return v;
    err(field, 'Valeur inconnue.');
    return null;
  };
  const equipment = pick('equipment', EQUIPMENT);
  const autonomy = pick('autonomy', AUTONOMY);
  const orientation = pick('orientation', ORIENTATION);
  const workshopLevel = kind === 'collective' ? pick('workshopLevel', WORKSHOP_LEVELS) : null;

  const notes = str(input, 'notes') || null;
  if (notes && notes.length > NOTES_MAX) err('notes', `Les notes ne dépassent pas ${NOTES_MAX} caractères.`);
  if (notes && BAD_TEXT.test(notes)) err('notes', 'Les notes contiennent des caractères invalides.');
  const workshopTitle = kind === 'collective' ? str(input, 'workshopTitle') || null : null;
  if (kind === 'collective' && !workshopTitle) err('workshopTitle', 'Donnez un titre à l’atelier.');
  if (workshopTitle && (workshopTitle.length > 200 || BAD_TEXT.test(workshopTitle))) err('workshopTitle', 'Le titre de l’atelier fait au plus 200 caractères lisibles.');

  const beneficiaryIds = [...new Set(list(input, 'beneficiaries'))];
  for (const id of beneficiaryIds) if (!/^[0-9a-f-]{36}$/i.test(id)) err('beneficiaries', 'Bénéficiaire suivi inconnu.');
  if (kind === 'individual' && beneficiaryIds.length > 1) err('beneficiaries', 'Un accompagnement individuel concerne une seule personne.');

  let participants = 1;
  if (kind === 'collective') {
    const p = count(str(input, 'participants'));
    if (p === null || p < 1) err('participants', 'Indiquez le nombre de participants (au moins 1).');
    else if (p > MAX_PARTICIPANTS) err('participants', `Un atelier compte au plus ${MAX_PARTICIPANTS} participants.`);
    else participants = p;
    if (p !== null && p >= 1 && beneficiaryIds.length > p) err('participants', 'Il y a plus de bénéficiaires suivis que de participants.');
  }
  const anonymousTotal = Math.max(0, participants - beneficiaryIds.length);
  const anonymous: AnonymousCounts = { gender: {}, age: {}, status: {} };
  const dims: [keyof AnonymousCounts, object, string][] = [
    ['gender', GENDERS, 'anon_gender_'],
    ['age', AGE_BANDS, 'anon_age_'],
    ['status', STATUSES, 'anon_status_'],
  ];
  for (const [dim, dict, prefix] of dims) {
    let sum = 0;
    for (const k of Object.keys(dict)) {
      const n = count(str(input, prefix + k));
      if (n === null) {
        err(prefix + k, 'Indiquez un nombre entier positif.');
        continue;
      }
      if (n > 0) (anonymous[dim] as Record<string, number>)[k] = n;
      sum += n;
    }
    if (sum > anonymousTotal) {
      const label = dim === 'gender' ? 'genre' : dim === 'age' ? 'tranche d’âge' : 'statut';
      err(`${prefix}${Object.keys(dict)[0]}`, `Les participants anonymes comptés par ${label} (${sum}) dépassent le nombre de participants anonymes (${anonymousTotal}).`);
    }
    // A count under a category that does not exist would be dropped silently: refused instead.
    for (const k of Object.keys(input)) {
      if (k.startsWith(prefix) && !isKey(dict, k.slice(prefix.length)) && str(input, k) !== '' && str(input, k) !== '0') {
        err(k.slice(0, 80), `Catégorie inconnue : « ${k.slice(prefix.length, prefix.length + 40)} » (attendu : ${Object.keys(dict).join(', ')}).`);
      }
    }
  }

  const idem = str(input, 'idempotencyKey') || null;
  if (idem && !/^[\w-]{8,100}$/.test(idem)) err('idempotencyKey', 'Clé d’envoi invalide.');

  if (errors.length) throw new ValidationFailed(errors);
  return {
    kind, date, durationMin: duration, placeKind, placeUid, communeCode, themes, adminThemes, equipment, autonomy, orientation, notes,
    workshopTitle, workshopLevel, beneficiaryIds, participants, anonymous, idempotencyKey: idem,
  };
}

/** One row per person: followed people first, then anonymous ones spread over the given counts. */
export interface PersonRow {
  beneficiaryId: string | null;
  gender: Gender | null;
  ageBand: AgeBand | null;
  status: Status | null;
}

export function personRows(a: Pick<ActivityInput, 'beneficiaryIds' | 'participants' | 'anonymous'>, followed: Map<string, { gender: string | null; ageBand: string | null; status: string | null }> = new Map()): PersonRow[] {
  const rows: PersonRow[] = a.beneficiaryIds.map((id) => {
    const f = followed.get(id);
    return { beneficiaryId: id, gender: (f?.gender as Gender) ?? null, ageBand: (f?.ageBand as AgeBand) ?? null, status: (f?.status as Status) ?? null };
  });
  const anon = Math.max(0, a.participants - a.beneficiaryIds.length);
  const spread = <K extends string>(counts: Partial<Record<K, number>>): (K | null)[] => {
    const out: (K | null)[] = [];
    for (const [k, n] of Object.entries(counts) as [K, number][]) for (let i = 0; i < n; i++) out.push(k);
    while (out.length < anon) out.push(null);
    return out;
  };
  const g = spread(a.anonymous.gender);
  const ag = spread(a.anonymous.age);
  const s = spread(a.anonymous.status);
  for (let i = 0; i < anon; i++) rows.push({ beneficiaryId: null, gender: g[i] ?? null, ageBand: ag[i] ?? null, status: s[i] ?? null });
  return rows;
}

/** The age band of someone born in `birthYear`, on `date`'s year. */
export function ageBandOf(birthYear: number | null, date: string): AgeBand | null {
  if (!birthYear) return null;
  const age = Number(date.slice(0, 4)) - birthYear;
  if (age < 12) return 'under-12';
  if (age < 18) return '12-18';
  if (age < 25) return '18-25';
  if (age < 40) return '25-40';
  if (age < 60) return '40-60';
  if (age < 70) return '60-70';
  return '70-plus';
}

/** Where an activity counts: its month, its mediator/team/place and its territory. */
export interface CounterScope {
  month: string; // YYYY-MM-01
  mediatorId: string;
  teamId: string | null;
  placeUid: string | null;
  communeCode: string | null;
  departement: string | null;
  region: string | null;
}

export interface Counter {
  scope: string;
  scopeId: string;
  month: string;
  metric: string;
  key: string;
  value: number;
}

export interface CountedActivity {
  kind: ActivityKind;
  durationMin: number;
  placeKind: PlaceKind;
  themes: readonly string[];
  adminThemes: readonly string[];
  autonomy: string | null;
  orientation: string | null;
  equipment: string | null;
  people: readonly { beneficiaryId: string | null; gender: string | null; ageBand: string | null; status: string | null }[];
}

/**
 * What one activity adds to (sign 1) or removes from (sign -1) the statistics counters, for every
 * scope it belongs to, sorted (a fixed order: concurrent writers lock rows in the same order).
 * Metrics: activities/<kind>, accompaniments/<kind> (one per person), minutes/<kind>,
 * followed/<kind>, theme/<id> and admin_theme/<id> (accompaniments), place_kind, duration,
 * autonomy, orientation, equipment (activities), gender, age, status (people).
 */
export function counterDeltas(a: CountedActivity, s: CounterScope, sign: 1 | -1 = 1): Counter[] {
  const n = a.people.length;
  const metrics = new Map<string, number>();
  const add = (metric: string, key: string, v: number) => {
    if (!v) return;
    const k = `${metric}\u0000${key}`;
    metrics.set(k, (metrics.get(k) ?? 0) + v);
  };
  add('activities', a.kind, 1);
  add('accompaniments', a.kind, n);
  add('minutes', a.kind, a.durationMin);
  add('followed', a.kind, a.people.filter((p) => p.beneficiaryId).length);
  for (const t of a.themes) add('theme', t, n);
  for (const t of a.adminThemes) add('admin_theme', t, n);
  add('place_kind', a.placeKind, 1);
  add('duration', String(a.durationMin), 1);
  if (a.autonomy) add('autonomy', a.autonomy, 1);
  if (a.orientation) add('orientation', a.orientation, 1);
  if (a.equipment) add('equipment', a.equipment, 1);
  for (const p of a.people) {
    add('gender', p.gender ?? 'nc', 1);
    add('age', p.ageBand ?? 'nc', 1);
    add('status', p.status ?? 'nc', 1);
  }
  const scopes: [string, string | null][] = [
    ['all', ''],
    ['region', s.region],
    ['departement', s.departement],
    ['commune', s.communeCode],
    ['place', s.placeUid],
    ['mediator', s.mediatorId],
    ['team', s.teamId],
  ];
  const out: Counter[] = [];
  for (const [scope, id] of scopes) {
    if (id === null || id === undefined) continue;
    for (const [k, v] of metrics) {
      const [metric, key] = k.split('\u0000') as [string, string];
      out.push({ scope, scopeId: id, month: s.month, metric, key, value: v * sign });
    }
  }
  out.sort((x, y) => (x.scope + '\u0000' + x.scopeId + '\u0000' + x.metric + '\u0000' + x.key < y.scope + '\u0000' + y.scopeId + '\u0000' + y.metric + '\u0000' + y.key ? -1 : 1));
  return out;
}

/** Public figures hide any count of people below this. */
export const SMALL_COUNT = 5;

/** A figure about people for the public: the count, or null when it is below SMALL_COUNT. */
export function publicCount(n: number): number | null {
  return n < SMALL_COUNT ? null : n;
}

/** Folds an alias for duplicate detection: lower case, no accents, letters and digits only. */
export function aliasKey(alias: string): string {
  return alias
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
    .split(' ')
    .sort()
    .join(' ');
}

/** Beneficiary input: alias, birth year, commune, contact (all minimal), with consent. */
export interface BeneficiaryInput {
  alias: string;
  birthYear: number | null;
  communeCode: string | null;
  contact: string | null;
  gender: Gender | null;
  status: Status | null;
  consent: boolean;
}

export function parseBeneficiary(input: Raw, nowYear = new Date().getFullYear()): BeneficiaryInput {
  const errors: FieldError[] = [];
  const alias = str(input, 'alias');
  if (!alias) errors.push({ field: 'alias', message: 'Indiquez un nom ou un pseudonyme.' });
  else if (alias.length > 120 || BAD_TEXT.test(alias)) errors.push({ field: 'alias', message: 'Le nom fait au plus 120 caractères lisibles.' });
  const by = str(input, 'birthYear');
  let birthYear: number | null = null;
  if (by) {
    if (!/^\d{4}$/.test(by) || Number(by) < 1900 || Number(by) > nowYear) errors.push({ field: 'birthYear', message: `L’année de naissance est entre 1900 et ${nowYear}.` });
    else birthYear = Number(by);
  }
  const cc = str(input, 'communeCode').toUpperCase();
  if (cc && !/^(\d{5}|2[AB]\d{3})$/.test(cc)) errors.push({ field: 'communeCode', message: 'Le code INSEE d’une commune a 5 caractères (par exemple 76540).' });
  const contact = str(input, 'contact') || null;
  if (contact && (contact.length > 200 || BAD_TEXT.test(contact))) errors.push({ field: 'contact', message: 'Le contact fait au plus 200 caractères lisibles.' });
  const g = str(input, 'gender');
  if (g && !isKey(GENDERS, g)) errors.push({ field: 'gender', message: 'Valeur inconnue.' });
  const s = str(input, 'status');
  if (s && !isKey(STATUSES, s)) errors.push({ field: 'status', message: 'Valeur inconnue.' });
  const consent = ['on', 'true', '1', 'oui'].includes(str(input, 'consent'));
  if (!consent) errors.push({ field: 'consent', message: 'Le suivi d’une personne demande son accord : cochez la case une fois son accord recueilli.' });
  if (errors.length) throw new ValidationFailed(errors);
  return { alias, birthYear, communeCode: cc || null, contact, gender: (g as Gender) || null, status: (s as Status) || null, consent };
}

/** Months of retention after a followed person's last activity (CNIL: keep no longer than needed). */
export const DEFAULT_RETENTION_MONTHS = 24;

/** The delimiter of a CSV file: ";" when its first line has more of them than commas, else ",". */
export function delimiterOf(csv: string): string {
  const first = csv.slice(0, csv.search(/\r?\n|$/));
  return (first.match(/;/g)?.length ?? 0) > (first.match(/,/g)?.length ?? 0) ? ';' : ',';
}

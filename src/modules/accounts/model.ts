/**
 * Accounts: roles, scopes, actions and the one permission function, plus the pure rules of
 * sign-in (password policy, progressive delays, safe redirects). No I/O here.
 */
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as zxcvbnCommon from '@zxcvbn-ts/language-common';
import * as zxcvbnFr from '@zxcvbn-ts/language-fr';

/** Roles. The last three have no actions yet: the modules that introduce them add theirs here. */
export const ROLES = ['admin', 'regional_staff', 'place_manager', 'reviewer', 'mediator', 'helper'] as const;
export type Role = (typeof ROLES)[number];

export type ScopeKind = 'platform' | 'region' | 'departement' | 'place';

export const ROLE_LABELS: Record<Role, string> = {
  admin: 'Administrateur de la plateforme',
  regional_staff: 'Équipe régionale',
  place_manager: 'Gestionnaire de lieu',
  reviewer: 'Relecteur',
  mediator: 'Médiateur numérique',
  helper: 'Aidant',
};

export const SCOPE_LABELS: Record<ScopeKind, string> = {
  platform: 'Toute la plateforme',
  region: 'Région',
  departement: 'Département',
  place: 'Lieu',
};

/** Which scopes each role may be granted on. */
export const ROLE_SCOPES: Record<Role, readonly ScopeKind[]> = {
  admin: ['platform'],
  regional_staff: ['region', 'departement'],
  place_manager: ['place'],
  reviewer: ['region', 'departement'],
  mediator: ['region', 'departement', 'place'],
  helper: ['place'],
};

/** Roles whose holders must use two-factor authentication. */
export const MFA_ROLES: readonly Role[] = ['admin', 'regional_staff'];

/** Every action the platform checks, with what it lets one do. */
export const ACTIONS = {
  'backoffice.access': 'Accéder à l’espace de gestion',
  'accounts.manage': 'Gérer les comptes, les rôles et les périmètres',
  'audit.read': 'Consulter le journal d’audit',
  'sources.manage': 'Gérer les sources de données et leurs correspondances',
  'territory.dashboard': 'Consulter le tableau de bord d’un territoire',
  'places.edit': 'Modifier la fiche d’un lieu',
  'places.history': 'Consulter et restaurer les versions d’une fiche',
  'places.claims.review': 'Traiter les demandes de gestion d’un lieu',
  'places.moderate': 'Modérer les modifications',
  'places.reports.review': 'Traiter les signalements d’erreur',
  'places.import': 'Importer des lieux',
  'places.duplicates.review': 'Traiter les doublons',
  'places.managers.manage': 'Désigner les gestionnaires d’un lieu',
  'roadmap.edit': 'Modifier les feuilles de route d’un territoire, leurs budgets et leurs indicateurs',
  'roadmap.drafts.read': 'Lire les feuilles de route non publiées d’un territoire',
  'mediation.record': 'Saisir ses activités de médiation et suivre ses bénéficiaires',
  'mediation.teams.manage': 'Gérer les équipes de médiateurs et leurs coordinateurs',
  'mediation.stats.territory': 'Consulter les statistiques de médiation d’un territoire',
  'training.manage': 'Gérer le catalogue des parcours de formation',
  'training.register_others': 'Inscrire une personne à une session de formation',
  'mandates.act': 'Créer des mandats et agir pour une personne sous mandat (aidant d’une structure habilitée)',
  'mandates.manage': 'Habiliter les structures d’aidants, enregistrer les aidants et leur formation, lire le journal des mandats d’un territoire',
  'mandates.partners.manage': 'Enregistrer, renouveler et désactiver les services partenaires où les aidants se connectent sous mandat (toute la région)',
  'calls.manage': 'Gérer les appels à projets d’un territoire, leurs comités et leurs subventions',
  'calls.instruct': 'Instruire les dossiers des appels à projets dont on est instructeur',
  'calls.review': 'Évaluer les dossiers d’appels à projets confiés (après déclaration des conflits d’intérêts)',
  'consultation.manage': 'Gérer les concertations d’un territoire : réponses officielles, budgets participatifs, rencontres, résultats',
  'consultation.moderate': 'Modérer les propositions et commentaires des concertations d’un territoire',
  'consultation.evaluate': 'Évaluer les propositions qui lui sont confiées (notes privées)',
} as const;
export type Action = keyof typeof ACTIONS;

const ALL_ACTIONS = Object.keys(ACTIONS) as Action[];

export const ROLE_ACTIONS: Record<Role, readonly Action[]> = {
  admin: ALL_ACTIONS,
  regional_staff: [
    'backoffice.access',
    'territory.dashboard',
    'places.edit',
    'places.history',
    'places.claims.review',
    'places.moderate',
    'places.reports.review',
    'places.import',
    'places.duplicates.review',
    'places.managers.manage',
    'roadmap.edit',
    'roadmap.drafts.read',
    'mediation.teams.manage',
    'mediation.stats.territory',
    'training.manage',
    'mandates.manage',
    'mandates.partners.manage',
    'calls.manage',
    'calls.instruct',
    'consultation.manage',
    'consultation.moderate',
    'consultation.evaluate',
  ],
  place_manager: ['backoffice.access', 'places.edit', 'places.history'],
  // Elected officials and partners are given the reviewer role: they read draft roadmaps.
  reviewer: ['backoffice.access', 'roadmap.drafts.read', 'calls.review', 'consultation.evaluate'],
  mediator: ['backoffice.access', 'mediation.record', 'training.register_others'],
  helper: ['backoffice.access', 'mandates.act'],
};

/** Actions about the person rather than an object: granted by holding the action in any scope. */
const UNSCOPED: ReadonlySet<Action> = new Set(['backoffice.access', 'mediation.record', 'mediation.teams.manage', 'training.manage', 'training.register_others', 'mandates.act']);

export interface RoleGrant {
  id?: string;
  role: Role;
  scopeKind: ScopeKind;
  /** '' for the platform scope; a région or département code; a place id. */
  scopeId: string;
}

/** Who acts: a signed-in user and their grants (see currentUser). */
export interface Actor {
  id: string;
  grants: readonly RoleGrant[];
}

/**
 * What an action applies to. Objects describe their territory so scopes can be checked:
 * a place is `{ type: 'place', id, region: '84', departement: '69', commune: '69123' }`,
 * a territory dashboard `{ type: 'territory', region: '84' }` or `{ type: 'territory', region: '84', departement: '69' }`,
 * platform-wide things `{ type: 'platform' }`.
 */
export interface Resource {
  type: string;
  id?: string | null;
  region?: string | null;
  departement?: string | null;
  commune?: string | null;
}

export const PLATFORM: Resource = { type: 'platform' };

function inScope(grant: RoleGrant, r: Resource): boolean {
  switch (grant.scopeKind) {
    case 'platform':
      return true;
    case 'region':
      return !!r.region && r.region === grant.scopeId;
    case 'departement':
      return !!r.departement && r.departement === grant.scopeId;
    case 'place':
      return r.type === 'place' && !!r.id && r.id === grant.scopeId;
  }
}

/**
 * THE permission function: may this actor do this action on this object? Every route and page
 * asks it (through requirePermission or directly); nothing else looks at roles.
 */
export function can(actor: Actor | null | undefined, action: Action, resource: Resource = PLATFORM): boolean {
  if (!actor) return false;
  for (const g of actor.grants) {
    if (!ROLE_ACTIONS[g.role]?.includes(action)) continue;
    if (UNSCOPED.has(action) || inScope(g, resource)) return true;
  }
  return false;
}

/** Where an actor may do an action: everywhere, or in these régions, départements and places.
 *  For listing what to show (a manager's places, a staff member's territories); decisions on one
 *  object still go through can(). */
export interface ActionScopes {
  platform: boolean;
  regions: string[];
  departements: string[];
  places: string[];
}

export function scopesFor(actor: Actor | null | undefined, action: Action): ActionScopes {
  const out: ActionScopes = { platform: false, regions: [], departements: [], places: [] };
  for (const g of actor?.grants ?? []) {
    if (!ROLE_ACTIONS[g.role]?.includes(action)) continue;
    if (g.scopeKind === 'platform') out.platform = true;
    else if (g.scopeKind === 'region') out.regions.push(g.scopeId);
    else if (g.scopeKind === 'departement') out.departements.push(g.scopeId);
    else if (g.scopeKind === 'place') out.places.push(g.scopeId);
  }
  for (const k of ['regions', 'departements', 'places'] as const) out[k] = [...new Set(out[k])].sort();
  return out;
}

export function requiresMfa(grants: readonly RoleGrant[]): boolean {
  return grants.some((g) => MFA_ROLES.includes(g.role));
}

export function isRole(v: string): v is Role {
  return (ROLES as readonly string[]).includes(v);
}

const REGION = /^\d{2}$/;
const DEPARTEMENT = /^(\d{2}|2A|2B|97[1-8])$/;

/** Checks a grant's shape; returns a French message, or null when valid. */
export function validateGrant(role: string, scopeKind: string, scopeId: string): string | null {
  if (!isRole(role)) return 'Rôle inconnu.';
  if (!(ROLE_SCOPES[role] as readonly string[]).includes(scopeKind)) return `Le rôle « ${ROLE_LABELS[role]} » ne peut pas porter sur ce type de périmètre.`;
  if (scopeKind === 'platform' && scopeId !== '') return 'Le périmètre « toute la plateforme » ne prend pas de code.';
  if (scopeKind === 'region' && !REGION.test(scopeId)) return 'Le code de région a deux chiffres (par exemple 84).';
  if (scopeKind === 'departement' && !DEPARTEMENT.test(scopeId)) return 'Le code de département a deux chiffres, 2A, 2B ou trois chiffres outre-mer (par exemple 69 ou 974).';
  if (scopeKind === 'place' && !/^[\w.:-]{1,200}$/.test(scopeId)) return 'L’identifiant du lieu est invalide.';
  return null;
}

export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 256;

/** The words of this service that must not make up a password (NIST SP 800-63B: context-specific words). */
export const SERVICE_WORDS = ['maillage', 'mediation', 'numerique', 'inclusion', 'region', 'departement', 'motdepasse', 'password'];

let estimator: ZxcvbnFactory | null = null;

/** zxcvbn (@zxcvbn-ts) with its common-password lists and the French dictionaries, built on first use. */
function strength(): ZxcvbnFactory {
  estimator ??= new ZxcvbnFactory({
    dictionary: { ...zxcvbnCommon.dictionary, ...zxcvbnFr.dictionary },
    graphs: zxcvbnCommon.adjacencyGraphs,
    translations: zxcvbnFr.translations,
  });
  return estimator;
}

/** Lower case, no accents, letters only: « Maillage-2024 ! » → « maillage ». */
function lettersOf(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z]/g, '');
}

/**
 * Password policy (length over composition, as ANSSI and NIST advise), and no password that is
 * common or easy to guess: zxcvbn's estimate over the lists of the most frequent passwords, French
 * and English words, keyboard walks and dates must reach 10^8 guesses (score 3), and the password
 * must not be only the site's own words with digits and signs around them. French message or null.
 * `context`: the site's name and the person's own words (e-mail, name), refused as the base of a password.
 */
export function passwordProblem(password: string, email?: string, context: string[] = []): string | null {
  if (password.length < PASSWORD_MIN) return `Le mot de passe doit comporter au moins ${PASSWORD_MIN} caractères.`;
  if (password.length > PASSWORD_MAX) return `Le mot de passe ne doit pas dépasser ${PASSWORD_MAX} caractères.`;
  if (email && password.trim().toLowerCase() === email.trim().toLowerCase()) return 'Le mot de passe ne doit pas être votre adresse e-mail.';
  if (/^(.)\1+$/.test(password)) return 'Le mot de passe ne doit pas répéter un seul caractère.';
  const own = [email?.split('@')[0] ?? '', ...context];
  const words = [...SERVICE_WORDS, ...own.flatMap((c) => [c, ...c.split(/[\s@._'’-]+/)]).map(lettersOf).filter((w) => w.length >= 4)];
  const letters = lettersOf(password);
  if (letters.length === 0 || words.some((w) => letters === w || letters === w + w)) {
    return 'Ce mot de passe est trop facile à deviner : il ne doit pas reposer sur le nom du site, votre nom, votre adresse ou des chiffres seuls. Choisissez par exemple une phrase de plusieurs mots.';
  }
  const r = strength().check(password.slice(0, 100), words);
  if (r.score < 3) {
    return 'Ce mot de passe fait partie des plus courants ou se devine trop facilement (mot du dictionnaire, suite de clavier, date…). Choisissez par exemple une phrase de plusieurs mots.';
  }
  return null;
}

export function normaliseEmail(email: string): string {
  return email.trim();
}

export function isEmail(email: string): boolean {
  return email.length <= 254 && /^[^\s@<>()",;]+@[^\s@<>()",;]+\.[^\s@<>()",;]+$/.test(email);
}

/** Sign-in throttling: failures counted over this window, per e-mail and per IP address. */
export const FAILURE_WINDOW_MINUTES = 15;
export const MAX_FAILURES_PER_EMAIL = 10;
export const MAX_FAILURES_PER_IP = 50;

/** Delay before answering a sign-in attempt after `failures` recent failures: none for the first
 *  two, then doubling from `base` ms, capped at 32 × base. */
export function progressiveDelay(failures: number, base: number): number {
  if (failures < 3) return 0;
  return base * 2 ** Math.min(failures - 3, 5);
}

/** A return path after sign-in: only a local path, never another site ("//x", "/\\x", "http:"). */
export function safeReturnTo(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > 500) return null;
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return null;
  if (/[\u0000-\u001f\u007f]/.test(value)) return null;
  // As a Location header can carry it: non-ASCII characters percent-encoded (« /été » → « /%C3%A9t%C3%A9 »),
  // and still a path of this site once parsed.
  try {
    const u = new URL(value, 'http://maillage.invalid');
    if (u.origin !== 'http://maillage.invalid') return null;
    return u.pathname + u.search + u.hash;
  } catch {
    return null;
  }
}

/** Lifetimes of single-use links, in minutes. */
export const TOKEN_MINUTES = { invite: 7 * 24 * 60, reset: 30, magic: 15, verify_email: 24 * 60, signup: 24 * 60 } as const;

/**
 * Self sign-up. The minimum age is the French « majorité numérique » (15: article 45 of the loi
 * Informatique et Libertés, GDPR article 8): below it consent needs a parent, which the platform
 * does not collect. The birth year is checked then forgotten; a process may ask for more at vote
 * time (consultation's `min_age`). Unverified accounts are deleted after UNVERIFIED_RETENTION_DAYS.
 */
export const SIGNUP_MIN_AGE = 15;
export const UNVERIFIED_RETENTION_DAYS = 7;
export const MAX_SIGNUPS_PER_EMAIL = 3;
export const MAX_SIGNUPS_PER_IP = 10;

/** Age in whole years at `now` for someone born in `year` (the youngest case: born on 31 December). */
export function ageFromBirthYearAt(year: number, now: Date): number {
  return now.getUTCFullYear() - year - 1;
}

/** The problem with a declared birth year, or null. */
export function birthYearProblem(raw: string, now: Date): string | null {
  const y = raw.trim();
  if (!/^\d{4}$/.test(y) || Number(y) < 1900 || Number(y) > now.getUTCFullYear()) return 'Année de naissance : quatre chiffres, par exemple 1990.';
  if (ageFromBirthYearAt(Number(y), now) < SIGNUP_MIN_AGE) return `Il faut avoir au moins ${SIGNUP_MIN_AGE} ans pour créer un compte (majorité numérique). Demandez à un parent de vous accompagner lors des rencontres.`;
  return null;
}
export type TokenPurpose = keyof typeof TOKEN_MINUTES;

/**
 * Mandates: the pure rules (no I/O). Procedures are the administrative procedures of the
 * mediation module (Aidants Connect's perimeters); durations are Aidants Connect's; the
 * attestation's text and its salted hash; the validation of what a helper types.
 */
import crypto from 'node:crypto';
import { ADMIN_PROCEDURES, type AdminProcedure } from '../mediation/index.ts';
import { canonicalJson } from '../../platform/audit/index.ts';

export { ADMIN_PROCEDURES, type AdminProcedure };

export const DURATIONS = {
  '1d': { days: 1, label: '1 jour', plain: 'pendant une journée' },
  '1m': { days: 31, label: '1 mois', plain: 'pendant un mois (31 jours)' },
  '6m': { days: 182, label: '6 mois', plain: 'pendant six mois (182 jours)' },
  '1y': { days: 365, label: '1 an', plain: 'pendant un an (365 jours)' },
} as const;
export type Duration = keyof typeof DURATIONS;

/** Version of the attestation's text: part of its hash, so a changed template is visible. */
export const TEMPLATE_VERSION = 'mandat-2026-12-v1';

export const EVENTS = {
  'mandate.created': 'Mandat créé (consentement recueilli)',
  'mandate.act': 'Démarche effectuée pour la personne',
  'mandate.refused': 'Démarche refusée (pas de mandat valable)',
  'mandate.revoked': 'Mandat révoqué',
  'mandate.procedure_revoked': 'Démarche retirée du mandat',
  'mandate.expired': 'Mandat arrivé à échéance',
  'person.purged': 'Identité de la personne supprimée (fin de la durée de conservation)',
  'mandate.renewed': 'Mandat renouvelé (nouveau consentement)',
  'mandate.transferred': 'Mandat transféré à une autre structure (nouveau consentement)',
  'mandate.expiry_reminder': 'Rappel d’échéance envoyé aux aidants',
  'helper.idle_warning': 'Aidant prévenu de sa désactivation pour inactivité',
  'helper.deactivated_idle': 'Aidant désactivé après 6 mois sans activité',
  'identity.checked': 'Identité de la personne vérifiée par OpenID Connect (FranceConnect)',
  'card.associated': 'Carte TOTP associée à un aidant',
  'card.withdrawn': 'Carte TOTP retirée (perdue ou hors d’usage)',
  'card.confirmed': 'Carte TOTP confirmée par son aidant (second facteur de connexion)',
  'consent.sms_sent': 'Demande de consentement envoyée par SMS',
  'consent.sms_received': 'Réponse de la personne reçue par SMS',
  'consent.remote_answer': 'Réponse de la personne sur son téléphone, après vérification de son identité (FranceConnect)',
  'mandate.authorisation_used': 'Autorisation utilisée pour se connecter à un service partenaire',
  'helper.signed_in': 'Connexion d’un aidant à Maillage',
  'helper.accepted': 'Invitation acceptée : la personne devient aidante de la structure',
} as const;
export type JournalEvent = keyof typeof EVENTS;

export const DAY_MS = 24 * 3600 * 1000;

/** Renewal without a new identity check: until this long after the old mandate's expiry. */
export const RENEWAL_GRACE_DAYS = 365;
/** Helpers without activity this long are deactivated (Aidants Connect: 6 months)… */
export const IDLE_DAYS = 182;
/** …after a warning e-mail sent this long before (at 5 months), and at least WARNING_NOTICE_DAYS before. */
export const IDLE_WARNING_DAYS = 152;
export const WARNING_NOTICE_DAYS = 7;
/** Expiry reminders go to the structure's helpers this many days before a mandate ends. */
export const REMINDER_DAYS = 14;

export interface FieldError {
  field: string;
  message: string;
}

export class ValidationFailed extends Error {
  constructor(readonly errors: FieldError[]) {
    super(errors[0]?.message ?? 'invalid');
  }
}

export const isProcedure = (v: string): v is AdminProcedure => Object.hasOwn(ADMIN_PROCEDURES, v);
export const isDuration = (v: string): v is Duration => Object.hasOwn(DURATIONS, v);

// Names: letters (any script), spaces, apostrophes, hyphens and dots; no control characters.
const NAME = /^[\p{L}\p{M}][\p{L}\p{M}' .’-]{0,99}$/u;

export interface MandateInput {
  givenName: string;
  familyName: string;
  birthDate: string;
  identityChecked: boolean;
  procedures: AdminProcedure[];
  duration: Duration;
  consent: boolean;
}

function str(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return '';
}
function list(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

/**
 * Reads a mandate form (urlencoded or JSON): every error names its field. `consent` is checked
 * only when `requireConsent` (the preview step shows the text before the person consents).
 */
export function parseMandateInput(raw: Record<string, unknown>, now: Date, requireConsent: boolean): MandateInput {
  const errors: FieldError[] = [];
  const err = (field: string, message: string) => errors.push({ field, message });
  const givenName = str(raw.givenName).normalize('NFC').trim();
  const familyName = str(raw.familyName).normalize('NFC').trim();
  if (!givenName) err('givenName', 'Indiquez le prénom de la personne.');
  else if (!NAME.test(givenName)) err('givenName', 'Le prénom ne peut contenir que des lettres, des espaces, des apostrophes et des traits d’union (100 caractères au plus).');
  if (!familyName) err('familyName', 'Indiquez le nom de la personne.');
  else if (!NAME.test(familyName)) err('familyName', 'Le nom ne peut contenir que des lettres, des espaces, des apostrophes et des traits d’union (100 caractères au plus).');
  const birthDate = str(raw.birthDate).trim();
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birthDate);
  const d = m ? new Date(`${birthDate}T00:00:00Z`) : null;
  if (!birthDate) err('birthDate', 'Indiquez la date de naissance de la personne.');
  else if (!d || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== birthDate) err('birthDate', 'La date de naissance doit être une date valide (AAAA-MM-JJ).');
  else if (d.getTime() > now.getTime() || Number(m![1]) < 1900) err('birthDate', 'La date de naissance doit être passée et postérieure à 1900.');
  else if (now.getUTCFullYear() - Number(m![1]) < 15) err('birthDate', 'La personne doit avoir au moins 15 ans pour donner mandat seule.');
  const identityChecked = ['oui', 'true', 'on', '1'].includes(str(raw.identityChecked));
  if (!identityChecked) err('identityChecked', 'Vérifiez l’identité de la personne sur une pièce d’identité avant de créer le mandat.');
  const { procedures, duration, consent } = parseScope(raw, requireConsent, err);
  if (errors.length) throw new ValidationFailed(errors);
  return { givenName, familyName, birthDate, identityChecked, procedures: procedures.sort(), duration, consent };
}

/** The procedures, the duration and the consent of a mandate form (creation, renewal, transfer). */
function parseScope(raw: Record<string, unknown>, requireConsent: boolean, err: (field: string, message: string) => void): { procedures: AdminProcedure[]; duration: Duration; consent: boolean } {
  const procs = list(raw.procedures);
  const procedures: AdminProcedure[] = [];
  if (procs.length > Object.keys(ADMIN_PROCEDURES).length * 2) err('procedures', 'Trop de démarches envoyées.');
  else {
    for (const p of procs) {
      if (!isProcedure(p)) err('procedures', `Démarche inconnue : « ${p.slice(0, 60)} ».`);
      else if (!procedures.includes(p)) procedures.push(p);
    }
    if (!procs.length) err('procedures', 'Choisissez au moins une démarche.');
  }
  const duration = str(raw.duration);
  if (!isDuration(duration)) err('duration', 'Choisissez une durée : 1 jour, 1 mois, 6 mois ou 1 an.');
  const consent = ['oui', 'true', 'on', '1'].includes(str(raw.consent));
  if (requireConsent && !consent) err('consent', 'La personne doit avoir lu le mandat et donné son accord.');
  return { procedures: procedures.sort(), duration: duration as Duration, consent };
}

export interface RenewalInput {
  procedures: AdminProcedure[];
  duration: Duration;
  consent: boolean;
}

/** Reads a renewal or transfer form: the new scope and the person's new consent (never implied). */
export function parseRenewalInput(raw: Record<string, unknown>, requireConsent: boolean): RenewalInput {
  const errors: FieldError[] = [];
  const scope = parseScope(raw, requireConsent, (field, message) => errors.push({ field, message }));
  if (errors.length) throw new ValidationFailed(errors);
  return scope;
}

export function expiresAt(createdAt: Date, duration: Duration): Date {
  return new Date(createdAt.getTime() + DURATIONS[duration].days * DAY_MS);
}

/** What the attestation states; hashed (salted, with the template version) into attestation_hash. */
export interface AttestationContent {
  reference: string;
  structure: { name: string; siret: string | null };
  helper: string;
  person: { givenName: string; familyName: string; birthDate: string };
  procedures: string[];
  duration: Duration;
  createdAt: string;
  expiresAt: string;
}

export function attestationHash(salt: string, templateVersion: string, content: AttestationContent): string {
  return crypto.createHash('sha256').update(`${salt}\n${templateVersion}\n${canonicalJson(content)}`).digest('hex');
}

/** A reference people can read out and type: M-XXXX-XXXX (no 0/O/1/I). */
export function newReference(): string {
  const alphabet = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
  const bytes = crypto.randomBytes(8);
  const chars = [...bytes].map((b) => alphabet[b % alphabet.length]);
  return `M-${chars.slice(0, 4).join('')}-${chars.slice(4).join('')}`;
}
export const REFERENCE = /^M-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$/;

/** The person's revocation code, printed on the attestation (stored hashed). */
export function newRevocationCode(): string {
  return crypto.randomBytes(9).toString('base64url').replace(/[-_]/g, 'x').slice(0, 12).toUpperCase();
}
export const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

export type MandateStatus = 'active' | 'expired' | 'revoked';
export function statusOf(m: { revokedAt: string | null; expiresAt: string }, now: Date): MandateStatus {
  if (m.revokedAt) return 'revoked';
  return new Date(m.expiresAt).getTime() > now.getTime() ? 'active' : 'expired';
}
export const STATUS_LABELS: Record<MandateStatus, string> = { active: 'En cours', expired: 'Expiré', revoked: 'Révoqué' };

const PROCEDURES_EN: Record<AdminProcedure, string> = {
  'papiers-elections-citoyennete': 'identity papers, elections, citizenship',
  'famille-scolarite': 'family, school',
  'social-sante': 'social benefits, health',
  'travail-formation': 'work, training',
  logement: 'housing',
  'transports-mobilite': 'transport, mobility',
  'argent-impots': 'money, taxes',
  justice: 'justice',
  'etrangers-europe': 'foreign nationals, Europe',
  'loisirs-sports-culture': 'leisure, sports, culture',
  associations: 'associations',
};
const DURATIONS_EN: Record<Duration, string> = { '1d': 'for one day', '1m': 'for one month (31 days)', '6m': 'for six months (182 days)', '1y': 'for one year (365 days)' };

/** The same text in English, for a person who reads English better than French (shown beside it). */
export function plainWordsEnglish(c: { structure: string; procedures: string[]; duration: Duration; expiresAt: Date }): string[] {
  const procs = c.procedures.map((p) => (isProcedure(p) ? PROCEDURES_EN[p] : p));
  const until = c.expiresAt.toLocaleString('en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Paris' });
  return [
    `You allow the helpers of “${c.structure}” to carry out in your name ${procs.length > 1 ? 'these procedures' : 'this procedure'}: ${procs.join('; ')}.`,
    `This authorisation lasts ${DURATIONS_EN[c.duration]}, until ${until}. It ends by itself on that date.`,
    'The helpers can do nothing else in your name. Every procedure done for you is written in a journal.',
    'You can withdraw this authorisation at any time, entirely or for one procedure, at the structure or yourself with the revocation code printed on your certificate.',
    'Your name and date of birth are kept while the mandate lasts and then, at most, for the retention period, and deleted afterwards.',
  ];
}

/** The mandate in plain words, as the person reads it before consenting. */
export function plainWords(c: { structure: string; procedures: string[]; duration: Duration; expiresAt: Date }): string[] {
  const procs = c.procedures.map((p) => (isProcedure(p) ? ADMIN_PROCEDURES[p] : p));
  const until = c.expiresAt.toLocaleString('fr-FR', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Paris' });
  return [
    `Vous autorisez les aidants de la structure « ${c.structure} » à faire à votre place ${procs.length > 1 ? 'les démarches suivantes' : 'la démarche suivante'} : ${procs.join(' ; ')}.`,
    `Cette autorisation vaut ${DURATIONS[c.duration].plain}, jusqu’au ${until}. Elle s’arrête seule à cette date.`,
    'Les aidants ne peuvent rien faire d’autre en votre nom. Chaque démarche faite pour vous est inscrite dans un journal.',
    'Vous pouvez retirer cette autorisation à tout moment, en entier ou pour une démarche, auprès de la structure ou vous-même avec le code de révocation inscrit sur votre attestation.',
    'Votre nom et votre date de naissance sont conservés pendant la durée du mandat puis, au plus, pendant la durée de conservation prévue, et supprimés ensuite.',
  ];
}

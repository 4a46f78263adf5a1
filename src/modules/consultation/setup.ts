/**
 * The back office's setup forms, read into the service's inputs: a process with its phases, a
 * budget, a meeting. Pure: every faulty field is named (`ValidationFailed`), nothing is written.
 * Dates are typed in Paris time (`datetime-local`) and stored as instants.
 */
import { BUDGET_WORKFLOWS, CAPABILITIES, LIMITS, RULES, ValidationFailed, parseEuros, text, type BudgetWorkflow, type FieldError, type Rule } from './model.ts';
import { own } from '../../platform/own.ts';
import type { Meeting, ProcessInput } from './service.ts';
import type { SurveyInput } from './surveys.ts';
import { parseQuestions, type Question } from './survey.ts';

type Input = Record<string, unknown>;

/** How many phase rows the process form offers (empty rows are ignored). */
export const PHASE_ROWS = 5;

function str(o: Input, k: string): string {
  const v = own(o, k);
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0].trim() : '';
  return typeof v === 'string' ? v.trim() : '';
}
const checked = (o: Input, k: string) => str(o, k) !== '';

/** « 2026-03-01T18:30 » in Europe/Paris → the instant; null when not such a date. */
export function parisLocal(s: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi] = m.slice(1).map(Number) as [number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || y < 2000 || y > 2100) return null;
  const asUtc = Date.UTC(y, mo - 1, d, h, mi);
  if (new Date(asUtc).getUTCDate() !== d) return null; // 31 February
  // The offset of Paris at about that moment (twice, for the hours around a change of time).
  let t = asUtc;
  for (let i = 0; i < 2; i++) t = asUtc - parisOffsetMs(t);
  return new Date(t);
}

function parisOffsetMs(t: number): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' })
      .formatToParts(new Date(t))
      .map((p) => [p.type, p.value]),
  );
  return Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute)) - Math.floor(t / 60_000) * 60_000;
}

/** An instant as the value of a `datetime-local` field, in Paris time. */
export function toParisLocal(iso: string): string {
  const t = Date.parse(iso);
  return new Date(t + parisOffsetMs(t)).toISOString().slice(0, 16);
}

function dateField(o: Input, k: string, label: string, errors: FieldError[]): Date | null {
  const raw = str(o, k);
  if (!raw) {
    errors.push({ field: k, message: `${label} : champ obligatoire.` });
    return null;
  }
  const d = parisLocal(raw);
  if (!d) errors.push({ field: k, message: `${label} : une date et une heure, par exemple 2026-03-01T18:30.` });
  return d;
}

function intField(o: Input, k: string, label: string, errors: FieldError[], min: number, max: number): number | null {
  const raw = str(o, k);
  if (!raw) return null;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    errors.push({ field: k, message: `${label} : un nombre entier entre ${min} et ${max}.` });
    return null;
  }
  return Number(raw);
}

export interface PhaseForm {
  title: string;
  startsAt: Date;
  endsAt: Date;
  proposals: boolean;
  supports: boolean;
  comments: boolean;
  votes: boolean;
}

/** What the process form gives the service: every field of `ProcessInput` decided. */
export type ProcessForm = Required<Omit<ProcessInput, 'phases' | 'customStates'>> & { phases: PhaseForm[] };

/**
 * The process form. `fixed` (when editing) keeps the address and the territory as they are: a
 * process does not move to another territory (its participants and permissions hang on it).
 */
export function parseProcessForm(o: Input, fixed?: { slug: string; region: string; departement: string | null }): ProcessForm {
  const errors: FieldError[] = [];
  const slug = fixed ? fixed.slug : str(o, 'slug');
  if (!fixed && (!/^[a-z0-9][a-z0-9-]{0,79}$/.test(slug) || slug === 'nouvelle')) errors.push({ field: 'slug', message: 'Adresse : lettres minuscules, chiffres et tirets (80 au plus), par exemple budget-2027.' });
  const title = text(o, 'title', 'Titre', LIMITS.title, errors, { required: true, min: 5 });
  const description = text(o, 'description', 'Description', LIMITS.body, errors);
  const region = fixed ? fixed.region : str(o, 'region');
  if (!fixed && !/^\d{2}$/.test(region)) errors.push({ field: 'region', message: 'Région : code INSEE à deux chiffres, par exemple 27.' });
  const departement = fixed ? fixed.departement : str(o, 'departement') || null;
  if (!fixed && departement !== null && !/^(\d{2,3}|2[AB])$/.test(departement)) errors.push({ field: 'departement', message: 'Département : code à deux ou trois caractères, par exemple 21 ou 2A, ou vide.' });
  const minAge = intField(o, 'minAge', 'Âge minimum pour voter', errors, 15, 120);
  const minAccountDays = intField(o, 'minAccountDays', 'Ancienneté du compte', errors, 0, 365) ?? 0;
  const workflow = str(o, 'budgetWorkflow') || 'one';
  if (!(BUDGET_WORKFLOWS as readonly string[]).includes(workflow)) errors.push({ field: 'budgetWorkflow', message: 'Budgets : choisissez « un seul au choix », « un seul au hasard » ou « tous ».' });
  const categoriesRaw = text(o, 'categories', 'Thèmes', 2000, errors);
  const categories = [...new Set(categoriesRaw.split('\n').map((c) => c.trim()).filter(Boolean))];
  if (categories.length > 30) errors.push({ field: 'categories', message: 'Thèmes : 30 au plus.' });
  else if (categories.some((c) => c.length > 80)) errors.push({ field: 'categories', message: 'Thèmes : 80 caractères au plus chacun.' });
  const phases: PhaseForm[] = [];
  for (let i = 0; i < PHASE_ROWS; i++) {
    const k = (f: string) => `phase${i}_${f}`;
    if (!str(o, k('title')) && !str(o, k('startsAt')) && !str(o, k('endsAt'))) continue;
    const before = errors.length;
    const ptitle = text(o, k('title'), `Étape ${i + 1}, titre`, 120, errors, { required: true });
    const s = dateField(o, k('startsAt'), `Étape ${i + 1}, début`, errors);
    const e = dateField(o, k('endsAt'), `Étape ${i + 1}, fin`, errors);
    if (s && e && e <= s) errors.push({ field: k('endsAt'), message: `Étape ${i + 1}, fin : elle doit suivre le début.` });
    const prev = phases[phases.length - 1];
    if (s && prev && s < prev.endsAt) errors.push({ field: k('startsAt'), message: `Étape ${i + 1}, début : il précède la fin de l’étape précédente.` });
    if (errors.length === before) {
      const flags = Object.fromEntries(CAPABILITIES.map((c) => [c, checked(o, k(c))])) as Record<(typeof CAPABILITIES)[number], boolean>;
      phases.push({ title: ptitle, startsAt: s!, endsAt: e!, ...flags });
    }
  }
  if (!phases.length && !errors.some((x) => x.field.startsWith('phase'))) errors.push({ field: 'phase0_title', message: 'Étapes : au moins une étape, avec un titre et des dates.' });
  if (errors.length) throw new ValidationFailed(errors);
  return {
    slug, title, description, region, departement, published: checked(o, 'published'), residenceRequired: checked(o, 'residenceRequired'),
    minAge, minAccountDays, budgetWorkflow: workflow as BudgetWorkflow, categories, phases,
  };
}

export interface BudgetForm {
  slug: string;
  title: string;
  departement: string | null;
  amountCents: number;
  rule: Rule;
  thresholdPct: number;
  minProjects: number;
  maxProjects: number | null;
}

/** The budget form; a département must lie in the process's territory. */
export function parseBudgetForm(o: Input, p: { region: string; departement: string | null }, inRegion: (dep: string) => boolean): BudgetForm {
  const errors: FieldError[] = [];
  const slug = str(o, 'slug');
  if (!/^[a-z0-9][a-z0-9-]{0,79}$/.test(slug)) errors.push({ field: 'slug', message: 'Adresse : lettres minuscules, chiffres et tirets, par exemple cote-d-or.' });
  const title = text(o, 'title', 'Titre', LIMITS.title, errors, { required: true, min: 3 });
  const departement = str(o, 'departement') || null;
  if (departement !== null && (!/^(\d{2,3}|2[AB])$/.test(departement) || !inRegion(departement) || (p.departement !== null && departement !== p.departement))) {
    errors.push({ field: 'departement', message: 'Département : un département du territoire de la concertation, ou vide.' });
  }
  const amount = parseEuros(str(o, 'amount'));
  if (amount === null || amount <= 0) errors.push({ field: 'amount', message: 'Montant : une somme en euros, par exemple 150 000.' });
  const rule = str(o, 'rule');
  if (!(RULES as readonly string[]).includes(rule)) errors.push({ field: 'rule', message: 'Règle de vote : choisissez une règle de la liste.' });
  const thresholdPct = intField(o, 'thresholdPct', 'Part à dépenser', errors, 1, 100) ?? 70;
  const minProjects = intField(o, 'minProjects', 'Nombre minimum de projets', errors, 0, 1000) ?? 0;
  const maxProjects = intField(o, 'maxProjects', 'Nombre maximum de projets', errors, 1, 1000);
  if (rule === 'minimum' && minProjects < 1) errors.push({ field: 'minProjects', message: 'Nombre minimum de projets : au moins 1 pour cette règle.' });
  if (rule === 'range') {
    if (maxProjects === null) errors.push({ field: 'maxProjects', message: 'Nombre maximum de projets : obligatoire pour cette règle.' });
    else if (maxProjects < minProjects) errors.push({ field: 'maxProjects', message: 'Nombre maximum de projets : au moins le minimum.' });
  }
  if (errors.length) throw new ValidationFailed(errors);
  return { slug, title, departement, amountCents: amount!, rule: rule as Rule, thresholdPct, minProjects, maxProjects: rule === 'range' ? maxProjects : null };
}

/** A meeting as the form gives it (the service's Meeting, before it exists). */
export type MeetingForm = Omit<Meeting, 'id' | 'processId' | 'registered' | 'minutes'>;

/** The meeting form: in a place of the directory, at an address, or online (https). */
export function parseMeetingForm(o: Input, p: { departement: string | null }, inRegion: (dep: string) => boolean): MeetingForm {
  const errors: FieldError[] = [];
  const title = text(o, 'title', 'Titre', LIMITS.title, errors, { required: true, min: 3 });
  const description = text(o, 'description', 'Description', LIMITS.body, errors);
  const s = dateField(o, 'startsAt', 'Début', errors);
  const e = dateField(o, 'endsAt', 'Fin', errors);
  if (s && e && e <= s) errors.push({ field: 'endsAt', message: 'Fin : elle doit suivre le début.' });
  const departement = str(o, 'departement') || null;
  if (departement !== null && (!/^(\d{2,3}|2[AB])$/.test(departement) || !inRegion(departement) || (p.departement !== null && departement !== p.departement))) {
    errors.push({ field: 'departement', message: 'Département : un département du territoire de la concertation, ou vide.' });
  }
  const placeUid = str(o, 'placeUid') || null;
  if (placeUid !== null && !/^[\w.:-]{1,200}$/.test(placeUid)) errors.push({ field: 'placeUid', message: 'Lieu : identifiant de l’annuaire invalide.' });
  const address = text(o, 'address', 'Adresse', 300, errors) || null;
  const onlineUrl = str(o, 'onlineUrl') || null;
  if (onlineUrl !== null && !/^https:\/\/[^\s<>"]{4,500}$/.test(onlineUrl)) errors.push({ field: 'onlineUrl', message: 'Lien de visioconférence : une adresse qui commence par https://.' });
  if (!placeUid && !address && !onlineUrl && !errors.some((x) => ['placeUid', 'address', 'onlineUrl'].includes(x.field))) {
    errors.push({ field: 'placeUid', message: 'Lieu : choisissez un lieu de l’annuaire, une adresse ou un lien de visioconférence.' });
  }
  const capacity = intField(o, 'capacity', 'Nombre de places', errors, 1, 100_000);
  if (errors.length) throw new ValidationFailed(errors);
  return { title, description, startsAt: s!.toISOString(), endsAt: e!.toISOString(), departement, placeUid, address, onlineUrl, capacity };
}

/** The survey form: address, title, text, opening dates (Paris time), questions as JSON (see survey.ts). */
export function parseSurveyForm(o: Input, fixedSlug?: string): SurveyInput {
  const errors: FieldError[] = [];
  const slug = fixedSlug ?? str(o, 'slug');
  if (!fixedSlug && !/^[a-z0-9][a-z0-9-]{0,79}$/.test(slug)) errors.push({ field: 'slug', message: 'Adresse : lettres minuscules, chiffres et tirets, par exemple usages-numeriques.' });
  const title = text(o, 'title', 'Titre', LIMITS.title, errors, { required: true, min: 3 });
  const description = text(o, 'description', 'Description', LIMITS.body, errors);
  const s = dateField(o, 'startsAt', 'Ouverture', errors);
  const e = dateField(o, 'endsAt', 'Clôture', errors);
  if (s && e && e <= s) errors.push({ field: 'endsAt', message: 'Clôture : elle doit suivre l’ouverture.' });
  let questions: Question[] = [];
  const raw = typeof own(o, 'questions') === 'string' ? (own(o, 'questions') as string) : '';
  if (!raw.trim()) errors.push({ field: 'questions', message: 'Questions : champ obligatoire.' });
  else {
    try {
      questions = parseQuestions(raw);
    } catch (err) {
      if (!(err instanceof ValidationFailed)) throw err;
      errors.push(...err.errors);
    }
  }
  if (errors.length) throw new ValidationFailed(errors);
  return { slug, title, description, startsAt: s!, endsAt: e!, questions, resultsPublished: checked(o, 'resultsPublished') };
}

/**
 * Consultation: the pure rules of participatory processes — what a phase opens at a given moment,
 * the three voting rules of a participatory budget, proposal and comment validation, the states of
 * a proposal and how results' progress rolls up. No I/O here.
 */
import { own } from '../../platform/own.ts';

export interface FieldError {
  field: string;
  message: string;
}

export class ValidationFailed extends Error {
  constructor(readonly errors: FieldError[]) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
  }
}

// ---- phases ---------------------------------------------------------------------------------

export const CAPABILITIES = ['proposals', 'supports', 'comments', 'votes'] as const;
export type Capability = (typeof CAPABILITIES)[number];
export const CAPABILITY_LABELS: Record<Capability, string> = {
  proposals: 'dépôt de propositions',
  supports: 'soutiens',
  comments: 'commentaires',
  votes: 'vote',
};

// ---- identity checked by an OpenID Connect provider, per process ----------------------------------

/** What a process may require an identity check for (the provider's `sub`, one account per person). */
export const IDENTITY_USES = ['votes', 'proposals', 'supports', 'comments', 'surveys'] as const;
export type IdentityUse = (typeof IDENTITY_USES)[number];
export const IDENTITY_USE_LABELS: Record<IdentityUse, string> = {
  votes: 'voter (budgets participatifs)',
  proposals: 'déposer ou modifier une proposition',
  supports: 'soutenir une proposition',
  comments: 'commenter (propositions et débats)',
  surveys: 'répondre aux questionnaires',
};
/** The claim the provider must give, checked at the callback: a birth date (the age limit) or a postal code (residence). */
export const REQUIRED_CLAIMS = ['none', 'birthdate', 'postal_code'] as const;
export type RequiredClaim = (typeof REQUIRED_CLAIMS)[number];
export const REQUIRED_CLAIM_LABELS: Record<RequiredClaim, string> = {
  none: 'aucune : l’identifiant de la personne suffit',
  birthdate: 'la date de naissance (« birthdate ») : vérifie l’âge minimum de la concertation',
  postal_code: 'le code postal de l’adresse (« address.postal_code ») : vérifie la résidence sur le territoire',
};

/** A process's provider as pages and rules see it (never its secret). */
export interface ProcessIdentity {
  label: string;
  issuer: string;
  clientId: string;
  scopes: string;
  requiredClaim: RequiredClaim;
  requiredFor: IdentityUse[];
}

/** Age in whole years on `now` of a person born on `birthDate` (YYYY-MM-DD). */
export function ageOn(birthDate: string, now: Date): number {
  const [y, m, d] = birthDate.split('-').map(Number) as [number, number, number];
  const before = now.getUTCMonth() + 1 < m || (now.getUTCMonth() + 1 === m && now.getUTCDate() < d);
  return now.getUTCFullYear() - y - (before ? 1 : 0);
}

export interface Phase {
  id: string;
  position: number;
  title: string;
  startsAt: string;
  endsAt: string;
  proposalsOpen: boolean;
  supportsOpen: boolean;
  commentsOpen: boolean;
  votesOpen: boolean;
}

/** The phase running at `now` (server clock): starts_at ≤ now < ends_at; null between phases. */
export function currentPhase(phases: readonly Phase[], now: Date): Phase | null {
  const t = now.getTime();
  return phases.find((p) => Date.parse(p.startsAt) <= t && t < Date.parse(p.endsAt)) ?? null;
}

export function phaseAllows(phase: Phase | null, what: Capability): boolean {
  if (!phase) return false;
  switch (what) {
    case 'proposals':
      return phase.proposalsOpen;
    case 'supports':
      return phase.supportsOpen;
    case 'comments':
      return phase.commentsOpen;
    case 'votes':
      return phase.votesOpen;
  }
}

/** Where the process stands, in words, for its public page. */
export function phaseStatus(phases: readonly Phase[], now: Date): { current: Phase | null; next: Phase | null; over: boolean } {
  const t = now.getTime();
  const current = currentPhase(phases, now);
  const next = phases.filter((p) => Date.parse(p.startsAt) > t).sort((a, b) => Date.parse(a.startsAt) - Date.parse(b.startsAt))[0] ?? null;
  const over = phases.length > 0 && phases.every((p) => Date.parse(p.endsAt) <= t);
  return { current, next, over };
}

/**
 * Per-project vote totals stay sealed while a vote can still be cast (a phase allowing votes has not
 * ended): published live, totals read before and after a known person votes would give their
 * basket away. The number of voters is always public.
 */
export function totalsSealed(phases: readonly Phase[], now: Date): boolean {
  const t = now.getTime();
  return phases.some((p) => p.votesOpen && Date.parse(p.endsAt) > t);
}

// ---- proposals --------------------------------------------------------------------------------

export const STATES = ['not_answered', 'evaluating', 'accepted', 'rejected', 'withdrawn'] as const;
export type State = (typeof STATES)[number];
export const STATE_LABELS: Record<State, string> = {
  not_answered: 'Sans réponse',
  evaluating: 'En cours d’étude',
  accepted: 'Retenue',
  rejected: 'Non retenue',
  withdrawn: 'Retirée par son auteur',
};
/** States staff can give with an official answer (withdrawn is the author's own act). */
export const ANSWER_STATES = ['evaluating', 'accepted', 'rejected'] as const;
export type AnswerState = (typeof ANSWER_STATES)[number];

export function isAnswerState(s: string): s is AnswerState {
  return (ANSWER_STATES as readonly string[]).includes(s);
}

/** A proposal is editable by its author until staff start evaluating it. */
export function editable(state: State): boolean {
  return state === 'not_answered';
}

export const REPORT_REASONS = {
  spam: 'Indésirable (spam, publicité)',
  offensive: 'Injurieux ou discriminatoire',
  personal_data: 'Contient des données personnelles',
  off_topic: 'Hors sujet',
  other: 'Autre raison',
} as const;
export type ReportReason = keyof typeof REPORT_REASONS;

export const LIMITS = { title: 150, body: 5000, comment: 2000, reason: 500, answer: 5000, note: 2000 } as const;

const BAD_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/;

type Input = Record<string, unknown>;

function str(o: Input, k: string): string {
  const v = own(o, k);
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0].trim() : '';
  return typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '';
}

/** A text field: required or not, length-limited, without control characters. */
export function text(o: Input, k: string, label: string, max: number, errors: FieldError[], o2: { required?: boolean; min?: number } = {}): string {
  const v = str(o, k).normalize('NFC');
  if (!v) {
    if (o2.required) errors.push({ field: k, message: `${label} : champ obligatoire.` });
    return '';
  }
  if (BAD_TEXT.test(v)) errors.push({ field: k, message: `${label} : caractères non autorisés (caractères de contrôle ou invalides).` });
  else if (v.length > max) errors.push({ field: k, message: `${label} : ${max} caractères au plus (${v.length} saisis).` });
  else if (o2.min && v.length < o2.min) errors.push({ field: k, message: `${label} : ${o2.min} caractères au moins.` });
  return v;
}

export interface ProposalInput {
  title: string;
  body: string;
  category: string | null;
  communeCode: string | null;
  placeUid: string | null;
}

/** Validates a proposal form; every faulty field named (commune and place existence: the service). */
export function parseProposal(o: Input, categories: readonly string[]): ProposalInput {
  const errors: FieldError[] = [];
  const title = text(o, 'title', 'Titre', LIMITS.title, errors, { required: true, min: 5 });
  const body = text(o, 'body', 'Description', LIMITS.body, errors, { required: true, min: 15 });
  const category = str(o, 'category') || null;
  if (category !== null && !categories.includes(category)) errors.push({ field: 'category', message: 'Thème : choisissez un thème de la liste.' });
  const communeCode = str(o, 'communeCode') || null;
  if (communeCode !== null && !/^(\d{5}|2[AB]\d{3})$/.test(communeCode)) errors.push({ field: 'communeCode', message: 'Commune : code INSEE à 5 caractères (par exemple 21231).' });
  const placeUid = str(o, 'placeUid') || null;
  if (placeUid !== null && !/^[\w.:-]{1,200}$/.test(placeUid)) errors.push({ field: 'placeUid', message: 'Lieu : identifiant invalide.' });
  if (errors.length) throw new ValidationFailed(errors);
  return { title, body, category, communeCode, placeUid };
}

/** Spam trap: a hidden field people never fill in. */
export const HONEYPOT = 'website';
export function honeypotFilled(o: Input): boolean {
  return str(o, HONEYPOT) !== '';
}

// ---- participatory budgets --------------------------------------------------------------------

/** Several budgets in a process (Decidim): vote in one of your choice, in one drawn for you, or in all. */
export const BUDGET_WORKFLOWS = ['one', 'random', 'all'] as const;
export type BudgetWorkflow = (typeof BUDGET_WORKFLOWS)[number];
export const BUDGET_WORKFLOW_LABELS: Record<BudgetWorkflow, string> = {
  one: 'un seul budget par personne, au choix',
  random: 'un seul budget par personne, attribué au hasard',
  all: 'un vote dans chaque budget',
};
/** How the workflow reads for a voter, on the process and budget pages. */
export const BUDGET_WORKFLOW_SENTENCES: Record<BudgetWorkflow, string> = {
  one: 'Vous pouvez voter dans un seul des budgets de cette concertation, celui de votre choix.',
  random: 'Chaque votant vote dans un seul budget, attribué au hasard une fois pour toutes ; les autres budgets se consultent seulement.',
  all: 'Vous pouvez voter dans chacun des budgets de cette concertation.',
};

export const RULES = ['threshold', 'minimum', 'range'] as const;
export type Rule = (typeof RULES)[number];
export const RULE_LABELS: Record<Rule, string> = {
  threshold: 'Dépenser au moins une part du budget',
  minimum: 'Choisir un nombre minimum de projets',
  range: 'Choisir entre un minimum et un maximum de projets',
};

export interface BudgetRule {
  amountCents: number;
  rule: Rule;
  thresholdPct: number;
  minProjects: number;
  maxProjects: number | null;
}

/**
 * Checks a basket against its budget: never above the budget, and the budget's rule. Returns a
 * French message naming what is wrong, or null when the basket may be checked out.
 */
export function basketProblem(b: BudgetRule, costs: readonly number[]): string | null {
  const total = costs.reduce((s, c) => s + c, 0);
  if (costs.length === 0) return 'Votre panier est vide : ajoutez au moins un projet.';
  if (total > b.amountCents) return `Votre panier (${euros(total)}) dépasse le budget de ${euros(b.amountCents)} : retirez un projet.`;
  switch (b.rule) {
    case 'threshold': {
      const min = Math.ceil((b.amountCents * b.thresholdPct) / 100);
      if (total < min) return `Votre panier (${euros(total)}) doit atteindre au moins ${b.thresholdPct} % du budget, soit ${euros(min)}.`;
      return null;
    }
    case 'minimum':
      if (costs.length < b.minProjects) return `Choisissez au moins ${projects(b.minProjects)} (${projects(costs.length)} dans votre panier).`;
      return null;
    case 'range':
      if (costs.length < b.minProjects) return `Choisissez au moins ${projects(b.minProjects)} (${projects(costs.length)} dans votre panier).`;
      if (b.maxProjects !== null && costs.length > b.maxProjects) return `Choisissez au plus ${projects(b.maxProjects)} (${projects(costs.length)} dans votre panier).`;
      return null;
  }
}

/** May this project be added to the basket? (budget never exceeded; maximum number of projects). */
export function addProblem(b: BudgetRule, costs: readonly number[], cost: number): string | null {
  const total = costs.reduce((s, c) => s + c, 0);
  if (total + cost > b.amountCents) return `Ce projet (${euros(cost)}) ferait dépasser le budget : il reste ${euros(b.amountCents - total)}.`;
  if (b.rule === 'range' && b.maxProjects !== null && costs.length + 1 > b.maxProjects) return `Vous avez déjà choisi ${projects(costs.length)}, le maximum.`;
  return null;
}

export function ruleSummary(b: BudgetRule): string {
  switch (b.rule) {
    case 'threshold':
      return `Composez un panier d’au moins ${b.thresholdPct} % du budget (${euros(Math.ceil((b.amountCents * b.thresholdPct) / 100))}) sans dépasser ${euros(b.amountCents)}.`;
    case 'minimum':
      return `Choisissez au moins ${projects(b.minProjects)}, sans dépasser ${euros(b.amountCents)}.`;
    case 'range':
      return `Choisissez entre ${b.minProjects} et ${b.maxProjects ?? '∞'} projets, sans dépasser ${euros(b.amountCents)}.`;
  }
}

/**
 * Results ranked within the budget: by votes (then cost, then title); a project is funded while the
 * money lasts; one that does not fit is passed over and cheaper ones after it may still be funded.
 */
export function rankWithinBudget<T extends { votes: number; costCents: number; title: string }>(amountCents: number, projects: readonly T[]): (T & { rank: number; funded: boolean })[] {
  let left = amountCents;
  return [...projects]
    .sort((a, b) => b.votes - a.votes || a.costCents - b.costCents || a.title.localeCompare(b.title, 'fr'))
    .map((p, i) => {
      const funded = p.votes > 0 && p.costCents <= left;
      if (funded) left -= p.costCents;
      return { ...p, rank: i + 1, funded };
    });
}

export function euros(cents: number): string {
  // Whole euros without decimals (« 12 500 € »), otherwise both cent digits (« 12 500,50 € », not « 12 500,5 € »).
  const digits = cents % 100 === 0 ? 0 : 2;
  return `${(cents / 100).toLocaleString('fr-FR', { minimumFractionDigits: digits, maximumFractionDigits: digits })} €`;
}

/** A euro amount typed by a person (« 12 500 », « 12500,50 ») into cents; null when not one. */
export function parseEuros(s: string): number | null {
  const v = s.replace(/[\s\u00a0\u202f€]/g, '').replace(',', '.');
  if (!/^\d{1,12}(\.\d{1,2})?$/.test(v)) return null;
  return Math.round(Number(v) * 100);
}

export function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString('fr-FR')} ${n >= 2 ? many : one}`;
}
const projects = (n: number) => plural(n, 'projet', 'projets');

// ---- who may take part -------------------------------------------------------------------------

/** Full years of age on `now` for a declared birth year (worst case: birthday not yet passed). */
export function ageFromBirthYear(year: number, now: Date): number {
  return now.getFullYear() - year - 1;
}

// ---- results ----------------------------------------------------------------------------------

export const RESULT_STATUSES = { planned: 'Prévu', ongoing: 'En cours', done: 'Réalisé', dropped: 'Abandonné' } as const;
export type ResultStatus = keyof typeof RESULT_STATUSES;

/**
 * Progress of each result: its own when it has no children, otherwise the mean of its children's
 * (recursively; dropped children do not count). null when nothing is measured.
 */
export function rollUp(results: readonly { id: string; parentId: string | null; progress: number | null; status: ResultStatus }[]): Map<string, number | null> {
  const children = new Map<string, typeof results[number][]>();
  for (const r of results) if (r.parentId) children.set(r.parentId, [...(children.get(r.parentId) ?? []), r]);
  const out = new Map<string, number | null>();
  const visit = (r: (typeof results)[number], depth: number): number | null => {
    if (out.has(r.id)) return out.get(r.id)!;
    const kids = (children.get(r.id) ?? []).filter((k) => k.status !== 'dropped');
    let v: number | null;
    if (!kids.length || depth > 20) v = r.status === 'done' ? 100 : r.progress;
    else {
      const vals = kids.map((k) => visit(k, depth + 1)).filter((x): x is number => x !== null);
      v = vals.length ? Math.round(vals.reduce((s, x) => s + x, 0) / vals.length) : null;
    }
    out.set(r.id, v);
    return v;
  };
  for (const r of results) visit(r, 0);
  return out;
}

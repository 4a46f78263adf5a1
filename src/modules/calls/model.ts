/**
 * Calls: the pure rules, no I/O. Kinds of calls, dossier states and transitions (as in Démarches
 * simplifiées), the form's typed questions and their answers (budget tables that must balance,
 * display conditions), criteria with weights, SIRET checks, fingerprints, weighted ranking.
 */
import crypto from 'node:crypto';
import { canonicalJson } from '../../platform/audit/index.ts';
import { UserError } from '../../platform/http/errors.ts';

export const CALL_KINDS = { aap: 'Appel à projets (AAP)', ami: 'Appel à manifestation d’intérêt (AMI)', label: 'Campagne de labellisation' } as const;
export type CallKind = keyof typeof CALL_KINDS;

export const ORG_KINDS = {
  association: 'Association',
  collectivite: 'Collectivité territoriale',
  epci: 'Intercommunalité (EPCI)',
  entreprise: 'Entreprise',
  ess: 'Structure de l’économie sociale et solidaire',
  etablissement_public: 'Établissement public',
} as const;
export type OrgKind = keyof typeof ORG_KINDS;

export const STATES = {
  brouillon: 'Brouillon',
  en_construction: 'En construction',
  en_instruction: 'En instruction',
  accepte: 'Accepté',
  refuse: 'Refusé',
  sans_suite: 'Classé sans suite',
} as const;
export type State = keyof typeof STATES;
export const FINAL_STATES: readonly State[] = ['accepte', 'refuse', 'sans_suite'];

/** Transitions an instructor may make, from → allowed targets. */
export const INSTRUCTOR_TRANSITIONS: Record<State, readonly State[]> = {
  brouillon: [],
  en_construction: ['en_instruction', 'sans_suite'],
  en_instruction: ['en_construction', 'sans_suite'],
  accepte: [],
  refuse: [],
  sans_suite: [],
};

export const RECOMMENDATIONS = { favorable: 'Favorable', reserve: 'Favorable avec réserves', defavorable: 'Défavorable' } as const;
export const CONFLICTS = {
  none: 'Aucun conflit d’intérêts',
  soft: 'Lien à signaler (conflit léger : je peux évaluer, ce sera signalé)',
  hard: 'Conflit d’intérêts (je ne peux pas évaluer ce dossier)',
} as const;
export type Conflict = keyof typeof CONFLICTS;

// ---------------------------------------------------------------------------------------------
// Questions, criteria

export const QUESTION_TYPES = {
  short_text: 'Texte court',
  long_text: 'Texte long',
  number: 'Nombre',
  amount: 'Montant en euros',
  choice: 'Choix unique',
  multi_choice: 'Choix multiple',
  date: 'Date',
  budget: 'Budget prévisionnel (dépenses et ressources équilibrées)',
  file: 'Fichier joint',
} as const;
export type QuestionType = keyof typeof QUESTION_TYPES;

export interface Question {
  id: string;
  label: string;
  type: QuestionType;
  required: boolean;
  help?: string;
  stage?: 1 | 2;
  options?: string[];
  min?: number;
  max?: number;
  maxLength?: number;
  /** Shown (and asked) only when another question's answer equals (or, multiple choice, includes) a value. */
  showIf?: { question: string; equals: string };
  /** The answer is the amount requested (one amount question per form at most). */
  requested?: boolean;
  /** File questions: the kinds of file accepted (all by default) and the largest size in bytes. */
  accept?: FileKind[];
  maxBytes?: number;
}

export interface Criterion {
  id: string;
  label: string;
  weight: number;
  /** Scores go from 0 to scale. */
  scale: number;
}

export interface FormDefinition {
  questions: Question[];
  criteria: Criterion[];
  documents: string[];
}

export interface BudgetLine {
  label: string;
  amount: number;
}
export interface Budget {
  expenses: BudgetLine[];
  resources: BudgetLine[];
}
/** The answer to a file question: the stored file (calls.application_file) it names. */
export interface FileAnswer {
  file: string;
  name: string;
  kind: FileKind;
  size: number;
  sha256: string;
}
export type Answer = string | number | string[] | Budget | FileAnswer;
export type Answers = Record<string, Answer>;

const ID = /^[a-z][a-z0-9_]{0,39}$/;
const MAX_QUESTIONS = 100;
const MAX_OPTIONS = 50;
const MAX_BUDGET_LINES = 30;
const MAX_TEXT = 20_000;

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const own = (o: Record<string, unknown>, k: string) => (Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);

/** Cleans a text: NUL bytes and other control characters refused, trimmed, length checked. */
export function text(v: unknown, field: string, label: string, o: { max?: number; required?: boolean; multiline?: boolean } = {}): string {
  if (v === undefined || v === null) v = '';
  if (typeof v !== 'string') throw new UserError(`${label} : un texte est attendu.`, 400, field);
  // eslint-disable-next-line no-control-regex
  const bad = o.multiline ? /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/ : /[\u0000-\u001f\u007f]/;
  if (bad.test(v)) throw new UserError(`${label} : caractère de contrôle interdit.`, 400, field);
  const t = v.trim().replace(/\r\n/g, '\n');
  if (o.required && !t) throw new UserError(`${label} : ce champ est obligatoire.`, 400, field);
  const max = o.max ?? 300;
  if (t.length > max) throw new UserError(`${label} : ${max} caractères au plus (${t.length} reçus).`, 400, field);
  return t;
}

/** A euro amount: number or French/English decimal string, ≥ 0, at most 2 decimals, < 10¹². */
export function parseAmount(v: unknown, field: string, label: string): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string') {
    const s = v.replace(/[\s\u00a0\u202f]/g, '').replace(/€$/, '').replace(',', '.');
    if (!/^-?\d{1,12}(\.\d{1,2})?$/.test(s)) throw new UserError(`${label} : montant invalide « ${v.slice(0, 40)} » (exemple : 12500 ou 12 500,50).`, 400, field);
    n = Number(s);
  } else throw new UserError(`${label} : montant attendu.`, 400, field);
  if (!Number.isFinite(n) || Math.round(n * 100) !== Math.round(n * 100 * 1e6) / 1e6) throw new UserError(`${label} : montant invalide.`, 400, field);
  if (n < 0) throw new UserError(`${label} : le montant ne peut pas être négatif.`, 400, field);
  if (n >= 1e12) throw new UserError(`${label} : montant trop grand.`, 400, field);
  return Math.round(n * 100) / 100;
}

export function parseNumber(v: unknown, field: string, label: string): number {
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim().replace(',', '.') : '';
  if (!/^-?\d{1,15}(\.\d{1,6})?$/.test(s)) throw new UserError(`${label} : nombre attendu.`, 400, field);
  return Number(s);
}

export function parseDate(v: unknown, field: string, label: string): string {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new UserError(`${label} : date attendue au format AAAA-MM-JJ.`, 400, field);
  const d = new Date(`${v}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== v) throw new UserError(`${label} : cette date n’existe pas.`, 400, field);
  return v;
}

/** Validates a form definition (from the staff's editor or the API); names the faulty path. */
export function parseForm(input: unknown): FormDefinition {
  if (!isObj(input)) throw new UserError('Le formulaire doit être un objet { questions, criteria, documents }.', 400, 'form');
  const qs = own(input, 'questions');
  const cs = own(input, 'criteria');
  const ds = own(input, 'documents') ?? [];
  if (!Array.isArray(qs) || qs.length === 0) throw new UserError('Le formulaire doit avoir au moins une question.', 400, 'questions');
  if (qs.length > MAX_QUESTIONS) throw new UserError(`${MAX_QUESTIONS} questions au plus.`, 400, 'questions');
  const ids = new Set<string>();
  const questions: Question[] = qs.map((q, i) => {
    const at = `questions[${i}]`;
    if (!isObj(q)) throw new UserError(`${at} : objet attendu.`, 400, at);
    const id = own(q, 'id');
    if (typeof id !== 'string' || !ID.test(id)) throw new UserError(`${at}.id : identifiant en minuscules, chiffres et _ (40 caractères au plus).`, 400, `${at}.id`);
    if (ids.has(id)) throw new UserError(`${at}.id : « ${id} » est déjà utilisé.`, 400, `${at}.id`);
    // Names every object has (constructor, toString…) would read as answers that were never given.
    if (id in Object.prototype) throw new UserError(`${at}.id : « ${id} » est un nom réservé.`, 400, `${at}.id`);
    ids.add(id);
    const type = own(q, 'type');
    if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(QUESTION_TYPES, type)) throw new UserError(`${at}.type : un de ${Object.keys(QUESTION_TYPES).join(', ')}.`, 400, `${at}.type`);
    const out: Question = { id, label: text(own(q, 'label'), `${at}.label`, `${at}.label`, { required: true, max: 500 }), type: type as QuestionType, required: own(q, 'required') === true };
    const help = own(q, 'help');
    if (help !== undefined) out.help = text(help, `${at}.help`, `${at}.help`, { max: 1000 });
    const stage = own(q, 'stage');
    if (stage !== undefined) {
      if (stage !== 1 && stage !== 2) throw new UserError(`${at}.stage : 1 ou 2.`, 400, `${at}.stage`);
      out.stage = stage;
    }
    if (type === 'choice' || type === 'multi_choice') {
      const opts = own(q, 'options');
      if (!Array.isArray(opts) || opts.length < 2 || opts.length > MAX_OPTIONS) throw new UserError(`${at}.options : de 2 à ${MAX_OPTIONS} choix.`, 400, `${at}.options`);
      out.options = opts.map((o, j) => text(o, `${at}.options[${j}]`, `${at}.options[${j}]`, { required: true, max: 200 }));
      if (new Set(out.options).size !== out.options.length) throw new UserError(`${at}.options : choix en double.`, 400, `${at}.options`);
    }
    for (const k of ['min', 'max', 'maxLength'] as const) {
      const v = own(q, k);
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isFinite(v) || (k === 'maxLength' && (!Number.isInteger(v) || v < 1 || v > MAX_TEXT))) throw new UserError(`${at}.${k} : nombre attendu.`, 400, `${at}.${k}`);
      out[k] = v;
    }
    if (out.min !== undefined && out.max !== undefined && out.min > out.max) throw new UserError(`${at}.min : supérieur au maximum.`, 400, `${at}.min`);
    const showIf = own(q, 'showIf');
    if (showIf !== undefined) {
      if (!isObj(showIf)) throw new UserError(`${at}.showIf : { question, equals } attendu.`, 400, `${at}.showIf`);
      const ref = own(showIf, 'question');
      const eq = own(showIf, 'equals');
      // Conditions point backwards: no cycles possible.
      if (typeof ref !== 'string' || !ids.has(ref) || ref === id) throw new UserError(`${at}.showIf.question : doit désigner une question précédente.`, 400, `${at}.showIf.question`);
      if (typeof eq !== 'string') throw new UserError(`${at}.showIf.equals : texte attendu.`, 400, `${at}.showIf.equals`);
      out.showIf = { question: ref, equals: eq };
    }
    if (type === 'file') {
      const accept = own(q, 'accept');
      if (accept !== undefined) {
        if (!Array.isArray(accept) || accept.length === 0 || !accept.every((k) => typeof k === 'string' && Object.prototype.hasOwnProperty.call(FILE_KINDS, k)))
          throw new UserError(`${at}.accept : liste parmi ${Object.keys(FILE_KINDS).join(', ')}.`, 400, `${at}.accept`);
        out.accept = [...new Set(accept as FileKind[])];
      }
      const maxBytes = own(q, 'maxBytes');
      if (maxBytes !== undefined) {
        if (typeof maxBytes !== 'number' || !Number.isInteger(maxBytes) || maxBytes < 1024 || maxBytes > MAX_FILE_BYTES) throw new UserError(`${at}.maxBytes : taille entière de 1024 à ${MAX_FILE_BYTES} octets.`, 400, `${at}.maxBytes`);
        out.maxBytes = maxBytes;
      }
    }
    if (own(q, 'requested') === true) {
      if (type !== 'amount') throw new UserError(`${at}.requested : seule une question « montant » peut porter le montant demandé.`, 400, `${at}.requested`);
      out.requested = true;
    }
    return out;
  });
  if (questions.filter((q) => q.requested).length > 1) throw new UserError('Une seule question peut porter le montant demandé.', 400, 'questions');
  if (!Array.isArray(cs)) throw new UserError('criteria : liste attendue.', 400, 'criteria');
  if (cs.length > 30) throw new UserError('30 critères au plus.', 400, 'criteria');
  const cids = new Set<string>();
  const criteria: Criterion[] = cs.map((c, i) => {
    const at = `criteria[${i}]`;
    if (!isObj(c)) throw new UserError(`${at} : objet attendu.`, 400, at);
    const id = own(c, 'id');
    if (typeof id !== 'string' || !ID.test(id) || cids.has(id) || id in Object.prototype) throw new UserError(`${at}.id : identifiant invalide, réservé ou en double.`, 400, `${at}.id`);
    cids.add(id);
    const weight = own(c, 'weight');
    if (typeof weight !== 'number' || !(weight > 0) || weight > 100) throw new UserError(`${at}.weight : poids entre 0 (exclu) et 100.`, 400, `${at}.weight`);
    const scale = own(c, 'scale') ?? 5;
    if (typeof scale !== 'number' || !Number.isInteger(scale) || scale < 1 || scale > 20) throw new UserError(`${at}.scale : note maximale entière de 1 à 20.`, 400, `${at}.scale`);
    return { id, label: text(own(c, 'label'), `${at}.label`, `${at}.label`, { required: true, max: 300 }), weight, scale };
  });
  if (!Array.isArray(ds) || ds.length > 30) throw new UserError('documents : liste de 30 libellés au plus.', 400, 'documents');
  const documents = ds.map((d, i) => text(d, `documents[${i}]`, `documents[${i}]`, { required: true, max: 300 }));
  return { questions, criteria, documents };
}

/** Whether a question is asked, given the answers so far (and the dossier's stage). */
export function isShown(q: Question, answers: Answers, stage: number): boolean {
  if ((q.stage ?? 1) > stage) return false;
  if (!q.showIf) return true;
  const a = answers[q.showIf.question];
  return Array.isArray(a) ? a.includes(q.showIf.equals) : a === q.showIf.equals;
}

const sum = (lines: BudgetLine[]) => Math.round(lines.reduce((s, l) => s + Math.round(l.amount * 100), 0)) / 100;

export function budgetTotals(b: Budget): { expenses: number; resources: number; balanced: boolean } {
  const e = sum(b.expenses);
  const r = sum(b.resources);
  return { expenses: e, resources: r, balanced: e === r && e > 0 };
}

function parseBudget(v: unknown, field: string, label: string): Budget {
  if (!isObj(v)) throw new UserError(`${label} : tableau de budget attendu.`, 400, field);
  const lines = (side: 'expenses' | 'resources') => {
    const arr = own(v, side) ?? [];
    if (!Array.isArray(arr) || arr.length > MAX_BUDGET_LINES) throw new UserError(`${label} : ${MAX_BUDGET_LINES} lignes au plus par colonne.`, 400, `${field}.${side}`);
    return arr.map((l, i) => {
      const f = `${field}.${side}[${i}]`;
      if (!isObj(l)) throw new UserError(`${label} : ligne ${i + 1} invalide.`, 400, f);
      const what = side === 'expenses' ? 'dépense' : 'ressource';
      return { label: text(own(l, 'label'), `${f}.label`, `${label}, ${what} ${i + 1} (libellé)`, { required: true, max: 200 }), amount: parseAmount(own(l, 'amount'), `${f}.amount`, `${label}, ${what} ${i + 1}`) };
    });
  };
  return { expenses: lines('expenses'), resources: lines('resources') };
}

/** Checks one answer against its question (type, options, bounds); throws a UserError naming it. */
export function parseAnswer(q: Question, v: unknown): Answer | null {
  const field = `answers.${q.id}`;
  const label = `« ${q.label} »`;
  if (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)) return null;
  switch (q.type) {
    case 'short_text':
    case 'long_text': {
      const t = text(v, field, label, { max: q.maxLength ?? (q.type === 'short_text' ? 300 : 10_000), multiline: q.type === 'long_text' });
      return t || null;
    }
    case 'number':
    case 'amount': {
      const n = q.type === 'amount' ? parseAmount(v, field, label) : parseNumber(v, field, label);
      if (q.min !== undefined && n < q.min) throw new UserError(`${label} : ${q.min.toLocaleString('fr-FR')} au moins.`, 400, field);
      if (q.max !== undefined && n > q.max) throw new UserError(`${label} : ${q.max.toLocaleString('fr-FR')} au plus.`, 400, field);
      return n;
    }
    case 'choice':
      if (typeof v !== 'string' || !q.options!.includes(v)) throw new UserError(`${label} : choix inconnu.`, 400, field);
      return v;
    case 'multi_choice': {
      const arr = Array.isArray(v) ? v : [v];
      if (!arr.every((x) => typeof x === 'string' && q.options!.includes(x))) throw new UserError(`${label} : choix inconnu.`, 400, field);
      return [...new Set(arr as string[])];
    }
    case 'date':
      return parseDate(v, field, label);
    case 'budget': {
      const b = parseBudget(v, field, label);
      return b.expenses.length || b.resources.length ? b : null;
    }
    case 'file':
      // A file answer comes only from an upload (attachFile), never from the posted form.
      return null;
  }
}

/**
 * Validates a set of answers against a form: each answer must respect its question (else a
 * UserError naming it); answers to unknown or hidden questions are dropped. Missing answers are
 * allowed here (a draft); `missing()` lists them.
 */
export function parseAnswers(form: FormDefinition, input: unknown, stage: number, kept: Answers = {}): Answers {
  if (!isObj(input)) throw new UserError('Les réponses doivent être un objet.', 400, 'answers');
  const out: Answers = Object.create(null) as Answers;
  for (const q of form.questions) {
    if (!isShown(q, out, stage)) continue;
    if (q.type === 'file') {
      // Files already attached stay (the posted form never carries them).
      const k = own(kept as Record<string, unknown>, q.id);
      if (k !== undefined) out[q.id] = k as FileAnswer;
      continue;
    }
    const a = parseAnswer(q, own(input, q.id));
    if (a !== null) out[q.id] = a;
  }
  return { ...out };
}

export interface Missing {
  field: string;
  message: string;
}

/** What is still missing or wrong before the dossier can be submitted. */
export function missing(form: FormDefinition, answers: Answers, stage: number, title: string): Missing[] {
  const out: Missing[] = [];
  if (!title.trim()) out.push({ field: 'title', message: 'Donnez un titre au projet.' });
  for (const q of form.questions) {
    if (!isShown(q, answers, stage)) continue;
    const a = answers[q.id];
    if (a === undefined) {
      if (q.required) out.push({ field: `q_${q.id}`, message: q.type === 'file' ? `Joignez le fichier « ${q.label} ».` : `Répondez à la question « ${q.label} ».` });
      continue;
    }
    if (q.type === 'budget') {
      const t = budgetTotals(a as Budget);
      if (!t.balanced)
        out.push({
          field: `q_${q.id}`,
          message: t.expenses === 0 ? `Le budget « ${q.label} » n’a pas de dépenses.` : `Le budget « ${q.label} » n’est pas équilibré : ${formatEuros(t.expenses)} de dépenses pour ${formatEuros(t.resources)} de ressources (écart ${formatEuros(Math.abs(t.expenses - t.resources))}).`,
        });
    }
  }
  return out;
}

export function requestedAmount(form: FormDefinition, answers: Answers): number | null {
  const q = form.questions.find((x) => x.requested);
  const a = q ? answers[q.id] : undefined;
  return typeof a === 'number' ? a : null;
}

/** SHA-256 of the answers' canonical JSON (keys sorted): what the receipt certifies. */
export function fingerprint(payload: { title: string; answers: Answers; formVersion: number }): string {
  return crypto.createHash('sha256').update(canonicalJson(payload)).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Files: the type is read from the content (magic numbers), never trusted from the name or the
// browser; the name's extension must agree with it.

export const MAX_FILE_BYTES = 10 * 1024 * 1024;

export const FILE_KINDS = {
  pdf: { label: 'PDF', mime: 'application/pdf', ext: ['pdf'] },
  png: { label: 'image PNG', mime: 'image/png', ext: ['png'] },
  jpeg: { label: 'image JPEG', mime: 'image/jpeg', ext: ['jpg', 'jpeg'] },
  odt: { label: 'texte OpenDocument', mime: 'application/vnd.oasis.opendocument.text', ext: ['odt'] },
  ods: { label: 'tableur OpenDocument', mime: 'application/vnd.oasis.opendocument.spreadsheet', ext: ['ods'] },
  docx: { label: 'document Word', mime: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', ext: ['docx'] },
  xlsx: { label: 'classeur Excel', mime: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', ext: ['xlsx'] },
} as const;
export type FileKind = keyof typeof FILE_KINDS;

const ZIP_LOCAL = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

/** The kind of a file from its first bytes (and, for ZIP-based documents, the entries they hold); null when not accepted. */
export function sniffFile(data: Buffer): FileKind | null {
  if (data.length < 8) return null;
  if (data.subarray(0, 5).toString('latin1') === '%PDF-') return 'pdf';
  if (data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'jpeg';
  if (data.length >= 30 && data.subarray(0, 4).equals(ZIP_LOCAL)) {
    // OpenDocument: the first entry is « mimetype », stored uncompressed, holding the type.
    const nameLength = data.readUInt16LE(26);
    const extraLength = data.readUInt16LE(28);
    if (nameLength === 8 && data.subarray(30, 38).toString('latin1') === 'mimetype') {
      const mime = data.subarray(38 + extraLength, 38 + extraLength + 60).toString('latin1');
      if (mime.startsWith(FILE_KINDS.odt.mime)) return 'odt';
      if (mime.startsWith(FILE_KINDS.ods.mime)) return 'ods';
      return null;
    }
    // Office Open XML: the archive's directory names its parts.
    if (data.includes('[Content_Types].xml')) {
      if (data.includes('word/document.xml')) return 'docx';
      if (data.includes('xl/workbook.xml')) return 'xlsx';
    }
  }
  return null;
}

/**
 * Checks an uploaded file against its question: size, kind read from the content, extension
 * agreeing with the content. Returns the kind; throws a UserError naming the question otherwise.
 */
export function checkUpload(q: Question, fileName: string, data: Buffer): FileKind {
  const field = `q_${q.id}`;
  const label = `« ${q.label} »`;
  const max = q.maxBytes ?? MAX_FILE_BYTES;
  if (data.length === 0) throw new UserError(`${label} : le fichier est vide.`, 400, field);
  if (data.length > max) throw new UserError(`${label} : ${formatBytes(max)} au plus (fichier de ${formatBytes(data.length)}).`, 413, field);
  const accepted = q.accept ?? (Object.keys(FILE_KINDS) as FileKind[]);
  const kind = sniffFile(data);
  const list = accepted.map((k) => FILE_KINDS[k].label).join(', ');
  if (!kind || !accepted.includes(kind)) throw new UserError(`${label} : ce fichier n’est pas d’un type accepté (${list}) ; son contenu a été vérifié, pas seulement son nom.`, 415, field);
  const ext = /\.([A-Za-z0-9]{1,8})$/.exec(fileName)?.[1]?.toLowerCase();
  if (!ext || !(FILE_KINDS[kind].ext as readonly string[]).includes(ext)) throw new UserError(`${label} : le nom « ${fileName.slice(0, 80)} » ne correspond pas au contenu (${FILE_KINDS[kind].label}) : renommez-le en .${FILE_KINDS[kind].ext[0]}.`, 415, field);
  return kind;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} octets`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} Ko`;
  return `${(n / 1024 / 1024).toLocaleString('fr-FR', { maximumFractionDigits: 1 })} Mo`;
}

// ---------------------------------------------------------------------------------------------
// SIRET

// Shared with mandates' habilitation requests (platform/siret.ts).
export { luhn, siretProblem } from '../../platform/siret.ts';

export function normaliseSiret(raw: string): string {
  return raw.replace(/[\s.]/g, '');
}

// ---------------------------------------------------------------------------------------------
// Scores

export interface ReviewScores {
  conflict: Conflict | null;
  waived: boolean;
  scores: Record<string, number> | null;
}

/**
 * The weighted score of a dossier out of 100: for each criterion the mean of the reviewers' scores
 * (scaled to 0..1), weighted; reviews under a hard conflict are left out, as are reviews not
 * submitted. null when no review counts.
 */
export function weightedScore(criteria: Criterion[], reviews: ReviewScores[]): number | null {
  const counted = reviews.filter((r) => r.scores && r.conflict !== null && r.conflict !== 'hard');
  if (!counted.length || !criteria.length) return null;
  let total = 0;
  let weights = 0;
  for (const c of criteria) {
    const vals = counted.map((r) => r.scores![c.id]).filter((v): v is number => typeof v === 'number');
    if (!vals.length) continue;
    total += c.weight * (vals.reduce((a, b) => a + b, 0) / vals.length / c.scale);
    weights += c.weight;
  }
  return weights ? Math.round((total / weights) * 10000) / 100 : null;
}

export function parseScores(criteria: Criterion[], input: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of criteria) {
    const v = own(input, `score_${c.id}`) ?? own(input, c.id);
    const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
    if (!/^\d{1,2}$/.test(s) || Number(s) > c.scale) throw new UserError(`Note « ${c.label} » : un entier de 0 à ${c.scale}.`, 400, `score_${c.id}`);
    out[c.id] = Number(s);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Formatting

export function formatEuros(n: number): string {
  return `${n.toLocaleString('fr-FR', { minimumFractionDigits: Number.isInteger(n) ? 0 : 2, maximumFractionDigits: 2 })} €`;
}

export function formatDateTime(d: Date | string, timeZone = 'Europe/Paris'): string {
  const date = typeof d === 'string' ? new Date(d) : d;
  return new Intl.DateTimeFormat('fr-FR', { dateStyle: 'long', timeStyle: 'short', timeZone }).format(date);
}

/** Parses « 2026-03-31T12:00 » (a local time in the call's zone) into a Date. */
export function parseLocalDateTime(v: unknown, field: string, label: string, timeZone = 'Europe/Paris'): Date {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(v)) throw new UserError(`${label} : date et heure attendues (AAAA-MM-JJTHH:MM).`, 400, field);
  const asUtc = new Date(`${v}:00Z`);
  if (Number.isNaN(asUtc.getTime())) throw new UserError(`${label} : date invalide.`, 400, field);
  // Offset of the zone at that instant (two passes for DST edges).
  let guess = asUtc.getTime();
  for (let i = 0; i < 2; i++) guess = asUtc.getTime() - zoneOffsetMs(new Date(guess), timeZone);
  return new Date(guess);
}

function zoneOffsetMs(d: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(d);
  const g = (t: string) => Number(parts.find((p) => p.type === t)!.value);
  return Date.UTC(g('year'), g('month') - 1, g('day'), g('hour'), g('minute'), g('second')) - Math.floor(d.getTime() / 1000) * 1000;
}

export function toLocalInput(d: Date | string, timeZone = 'Europe/Paris'): string {
  const date = typeof d === 'string' ? new Date(d) : d;
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }).formatToParts(date);
  const g = (t: string) => parts.find((p) => p.type === t)!.value;
  return `${g('year')}-${g('month')}-${g('day')}T${g('hour')}:${g('minute')}`;
}

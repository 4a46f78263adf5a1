/**
 * Surveys: the eight question types of Decidim's questionnaires (short and long answer, single
 * and multiple option, sorting, file, single and multiple option matrix), display conditions on
 * earlier answers, the reading of a participant's form into answers (a question whose conditions
 * do not hold is dropped: the server decides, not the browser), and the results of the choice
 * questions. Pure: no I/O.
 */
import { ValidationFailed, type FieldError, plural } from './model.ts';

export const QUESTION_TYPES = ['short', 'long', 'single', 'multiple', 'sorting', 'file', 'matrix_single', 'matrix_multiple'] as const;
export type QuestionType = (typeof QUESTION_TYPES)[number];
export const QUESTION_TYPE_LABELS: Record<QuestionType, string> = {
  short: 'réponse courte',
  long: 'réponse longue',
  single: 'choix unique',
  multiple: 'choix multiple',
  sorting: 'classement',
  file: 'fichier',
  matrix_single: 'matrice à choix unique',
  matrix_multiple: 'matrice à choix multiple',
};
/** Types whose answers are counted and may be published (free text and files never are). */
export const CHOICE_TYPES: readonly QuestionType[] = ['single', 'multiple', 'sorting', 'matrix_single', 'matrix_multiple'];

export const CONDITION_OPS = ['answered', 'not_answered', 'equal', 'not_equal', 'match'] as const;
export type ConditionOp = (typeof CONDITION_OPS)[number];

export interface Condition {
  question: string;
  op: ConditionOp;
  /** equal / not_equal: the index of an option of that question; match: a text to find (case-insensitive). */
  option?: number;
  text?: string;
}

export interface Question {
  key: string;
  type: QuestionType;
  label: string;
  description: string;
  required: boolean;
  options: string[];
  rows: string[];
  /** multiple: at most this many choices (null: no limit). */
  maxChoices: number | null;
  /** All of them must hold for the question to be asked. */
  conditions: Condition[];
}

export const SURVEY_LIMITS = { questions: 50, options: 30, rows: 20, label: 300, option: 150, short: 300, long: 5000, fileBytes: 1_000_000, definition: 100_000 } as const;

/** Keys a participant's form or a question definition may never use (they name Object.prototype members). */
const RESERVED = new Set(Object.getOwnPropertyNames(Object.prototype).concat(['__proto__', 'prototype', 'constructor']));
const KEY = /^[a-z][a-z0-9_]{0,39}$/;
const BAD_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/;

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
function prop(o: Record<string, unknown>, k: string): unknown {
  return Object.hasOwn(o, k) ? o[k] : undefined;
}

/**
 * Reads a survey's questions from their JSON definition (the back-office form). Every fault is
 * named with the question's position and the field (`questions: question 3, options: …`).
 */
export function parseQuestions(json: string): Question[] {
  const errors: FieldError[] = [];
  const fail = (message: string) => {
    errors.push({ field: 'questions', message: `Questions : ${message}` });
  };
  if (json.length > SURVEY_LIMITS.definition) throw new ValidationFailed([{ field: 'questions', message: `Questions : ${SURVEY_LIMITS.definition.toLocaleString('fr-FR')} caractères au plus.` }]);
  if (BAD_TEXT.test(json.replace(/[\r\n\t]/g, ' '))) throw new ValidationFailed([{ field: 'questions', message: 'Questions : caractères non autorisés (caractères de contrôle ou invalides).' }]);
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new ValidationFailed([{ field: 'questions', message: `Questions : JSON invalide (${(e as Error).message.slice(0, 120)}).` }]);
  }
  if (!Array.isArray(raw) || raw.length === 0) throw new ValidationFailed([{ field: 'questions', message: 'Questions : une liste JSON d’au moins une question ([ {…}, … ]).' }]);
  if (raw.length > SURVEY_LIMITS.questions) throw new ValidationFailed([{ field: 'questions', message: `Questions : ${SURVEY_LIMITS.questions} au plus.` }]);
  const out: Question[] = [];
  const seen = new Map<string, Question>();
  raw.forEach((q, i) => {
    const at = `question ${i + 1}`;
    if (!isObj(q)) return fail(`${at} : un objet {"key", "type", "label", …}.`);
    const key = prop(q, 'key');
    if (typeof key !== 'string' || !KEY.test(key) || RESERVED.has(key)) return fail(`${at}, key : lettres minuscules, chiffres et « _ », 40 au plus, commençant par une lettre (et pas un nom réservé comme « constructor »).`);
    if (seen.has(key)) return fail(`${at}, key : « ${key} » est déjà la clé d’une autre question.`);
    const type = prop(q, 'type');
    if (typeof type !== 'string' || !(QUESTION_TYPES as readonly string[]).includes(type)) return fail(`${at}, type : l’un de ${QUESTION_TYPES.join(', ')}.`);
    const label = textOf(prop(q, 'label'), SURVEY_LIMITS.label);
    if (!label) return fail(`${at}, label : un texte de 1 à ${SURVEY_LIMITS.label} caractères.`);
    const description = textOf(prop(q, 'description'), 1000) ?? '';
    const required = prop(q, 'required') === true;
    const t = type as QuestionType;
    const needsOptions = t !== 'short' && t !== 'long' && t !== 'file';
    const options = listOf(prop(q, 'options'), SURVEY_LIMITS.options);
    if (needsOptions && (!options || options.length < 2)) return fail(`${at}, options : une liste de 2 à ${SURVEY_LIMITS.options} textes différents (${SURVEY_LIMITS.option} caractères au plus chacun).`);
    if (!needsOptions && prop(q, 'options') !== undefined) return fail(`${at}, options : pas d’options pour une ${QUESTION_TYPE_LABELS[t]}.`);
    const isMatrix = t === 'matrix_single' || t === 'matrix_multiple';
    const rows = listOf(prop(q, 'rows'), SURVEY_LIMITS.rows);
    if (isMatrix && (!rows || rows.length < 1)) return fail(`${at}, rows : une liste de 1 à ${SURVEY_LIMITS.rows} lignes différentes.`);
    if (!isMatrix && prop(q, 'rows') !== undefined) return fail(`${at}, rows : seulement pour une matrice.`);
    let maxChoices: number | null = null;
    const mc = prop(q, 'maxChoices');
    if (mc !== undefined) {
      if (t !== 'multiple' || !Number.isInteger(mc) || (mc as number) < 1 || (mc as number) > (options?.length ?? 0)) return fail(`${at}, maxChoices : pour un choix multiple, un entier entre 1 et le nombre d’options.`);
      maxChoices = mc as number;
    }
    const conditions: Condition[] = [];
    const rc = prop(q, 'conditions');
    if (rc !== undefined && !Array.isArray(rc)) return fail(`${at}, conditions : une liste.`);
    for (const [j, c] of ((rc as unknown[]) ?? []).entries()) {
      const cat = `${at}, condition ${j + 1}`;
      if (!isObj(c)) return fail(`${cat} : un objet {"question", "op", …}.`);
      const target = prop(c, 'question');
      const ref = typeof target === 'string' ? seen.get(target) : undefined;
      if (!ref) return fail(`${cat}, question : la clé d’une question qui précède celle-ci.`);
      const op = prop(c, 'op');
      if (typeof op !== 'string' || !(CONDITION_OPS as readonly string[]).includes(op)) return fail(`${cat}, op : l’un de ${CONDITION_OPS.join(', ')}.`);
      const cond: Condition = { question: ref.key, op: op as ConditionOp };
      if (op === 'equal' || op === 'not_equal') {
        if (ref.type !== 'single' && ref.type !== 'multiple') return fail(`${cat} : « ${op} » porte sur une question à choix unique ou multiple.`);
        const idx = ref.options.indexOf(String(prop(c, 'value') ?? ''));
        if (idx < 0) return fail(`${cat}, value : une des options de la question « ${ref.key} ».`);
        cond.option = idx;
      } else if (op === 'match') {
        if (ref.type !== 'short' && ref.type !== 'long') return fail(`${cat} : « match » porte sur une réponse courte ou longue.`);
        const text = textOf(prop(c, 'value'), 100);
        if (!text) return fail(`${cat}, value : le texte à trouver (100 caractères au plus).`);
        cond.text = text.toLocaleLowerCase('fr');
      }
      conditions.push(cond);
    }
    const question: Question = { key, type: t, label, description, required, options: options ?? [], rows: rows ?? [], maxChoices, conditions };
    seen.set(key, question);
    out.push(question);
  });
  if (errors.length) throw new ValidationFailed(errors.slice(0, 10));
  return out;
}

function textOf(v: unknown, max: number): string | null {
  if (typeof v !== 'string') return null;
  const s = v.trim().normalize('NFC');
  return s && s.length <= max && !BAD_TEXT.test(s) ? s : null;
}
function listOf(v: unknown, max: number): string[] | null {
  if (!Array.isArray(v) || v.length > max) return null;
  const out = v.map((x) => textOf(x, SURVEY_LIMITS.option));
  if (out.some((x) => x === null) || new Set(out).size !== out.length) return null;
  return out as string[];
}

// ---- answers --------------------------------------------------------------------------------

/** A stored answer: text, chosen option indexes, the order of options (sorting), per-row choices (matrices), or a file reference. */
export type AnswerValue = string | number[] | number[][] | { file: string; name: string; size: number; type: string };
export type Answers = Map<string, AnswerValue>;

export interface FileIn {
  fileName: string;
  contentType: string;
  data: Buffer;
}

/** The field names of a question in the HTML form. */
export const fieldName = (q: Question, ...rest: (string | number)[]) => ['q', q.key, ...rest].join('_');

function answered(v: AnswerValue | undefined): boolean {
  if (v === undefined) return false;
  if (typeof v === 'string') return v !== '';
  if (Array.isArray(v)) return v.some((x) => (Array.isArray(x) ? x.length > 0 : true));
  return true;
}

/** Do the question's conditions hold for the answers given so far (to earlier questions)? */
export function conditionsHold(q: Question, answers: Answers): boolean {
  return q.conditions.every((c) => {
    const v = answers.get(c.question);
    switch (c.op) {
      case 'answered':
        return answered(v);
      case 'not_answered':
        return !answered(v);
      case 'equal':
        return Array.isArray(v) && (v as number[]).includes(c.option!);
      case 'not_equal':
        return !(Array.isArray(v) && (v as number[]).includes(c.option!));
      case 'match':
        return typeof v === 'string' && v.toLocaleLowerCase('fr').includes(c.text!);
    }
  });
}

/** Words saying when a conditional question applies (shown beside it: the form works without JavaScript). */
export function conditionWords(q: Question, all: readonly Question[]): string {
  return q.conditions.map((c) => {
    const ref = all.find((x) => x.key === c.question)!;
    const n = all.indexOf(ref) + 1;
    switch (c.op) {
      case 'answered':
        return `si vous avez répondu à la question ${n}`;
      case 'not_answered':
        return `si vous n’avez pas répondu à la question ${n}`;
      case 'equal':
        return `si vous avez choisi « ${ref.options[c.option!]} » à la question ${n}`;
      case 'not_equal':
        return `si vous n’avez pas choisi « ${ref.options[c.option!]} » à la question ${n}`;
      case 'match':
        return `si votre réponse à la question ${n} contient « ${c.text} »`;
    }
  }).join(' et ');
}

type FormIn = Record<string, unknown>;
function field(o: FormIn, k: string): string {
  const v = Object.hasOwn(o, k) ? o[k] : undefined;
  return typeof v === 'string' ? v : '';
}

/** Checks a file's first bytes: PDF, PNG or JPEG only. */
export function fileKind(data: Buffer): string | null {
  if (data.subarray(0, 5).toString('latin1') === '%PDF-') return 'application/pdf';
  if (data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'image/jpeg';
  return null;
}

/**
 * Reads a participant's form into answers, question by question in order: a question whose
 * conditions do not hold (on the answers read before it) is dropped whatever was sent for it;
 * required questions that apply must be answered. Every fault names the question's field.
 * `files` are the uploaded files by field name; the file answers are returned apart (their bytes).
 */
export function readAnswers(questions: readonly Question[], form: FormIn, files: ReadonlyMap<string, FileIn>): { answers: Answers; files: Map<string, FileIn & { type: string }> } {
  const errors: FieldError[] = [];
  const answers: Answers = new Map();
  const keptFiles = new Map<string, FileIn & { type: string }>();
  questions.forEach((q, i) => {
    if (!conditionsHold(q, answers)) return;
    const n = `Question ${i + 1}`;
    const before = errors.length;
    let v: AnswerValue | undefined;
    const err = (f: string, m: string) => errors.push({ field: f, message: `${n} : ${m}` });
    switch (q.type) {
      case 'short':
      case 'long': {
        const max = q.type === 'short' ? SURVEY_LIMITS.short : SURVEY_LIMITS.long;
        const s = field(form, fieldName(q)).trim().normalize('NFC');
        if (BAD_TEXT.test(s)) err(fieldName(q), 'caractères non autorisés (caractères de contrôle ou invalides).');
        else if (s.length > max) err(fieldName(q), `${max} caractères au plus (${s.length} saisis).`);
        else if (s) v = s;
        break;
      }
      case 'single': {
        const s = field(form, fieldName(q));
        if (s !== '') {
          const idx = /^\d{1,2}$/.test(s) ? Number(s) : -1;
          if (idx < 0 || idx >= q.options.length) err(fieldName(q), 'choisissez une des options.');
          else v = [idx];
        }
        break;
      }
      case 'multiple': {
        const chosen = q.options.map((_, j) => j).filter((j) => field(form, fieldName(q, j)) !== '');
        if (q.maxChoices !== null && chosen.length > q.maxChoices) err(fieldName(q, 0), `${plural(q.maxChoices, 'choix', 'choix')} au plus (${chosen.length} cochés).`);
        else if (chosen.length) v = chosen;
        break;
      }
      case 'sorting': {
        // One rank (1..n) per option; all ranked, each rank once — or nothing.
        const ranks = q.options.map((_, j) => field(form, fieldName(q, j)));
        if (ranks.every((r) => r === '')) break;
        const nums = ranks.map((r) => (/^\d{1,2}$/.test(r) ? Number(r) : 0));
        if (nums.some((r) => r < 1 || r > q.options.length) || new Set(nums).size !== nums.length) {
          err(fieldName(q, 0), `donnez à chaque option un rang différent, de 1 à ${q.options.length}.`);
          break;
        }
        v = q.options.map((_, j) => j).sort((a, b) => nums[a]! - nums[b]!);
        break;
      }
      case 'matrix_single':
      case 'matrix_multiple': {
        const rows: number[][] = [];
        q.rows.forEach((_, r) => {
          if (q.type === 'matrix_single') {
            const s = field(form, fieldName(q, `r${r}`));
            const idx = /^\d{1,2}$/.test(s) ? Number(s) : -1;
            if (s !== '' && (idx < 0 || idx >= q.options.length)) err(fieldName(q, `r${r}`), `ligne « ${q.rows[r]} » : choisissez une des options.`);
            rows.push(s !== '' && idx >= 0 && idx < q.options.length ? [idx] : []);
          } else rows.push(q.options.map((_, j) => j).filter((j) => field(form, fieldName(q, `r${r}`, j)) !== ''));
        });
        if (errors.length > before) break;
        const filled = rows.filter((x) => x.length > 0).length;
        if (filled > 0 && filled < rows.length && q.required) err(fieldName(q, 'r0'), 'répondez pour chaque ligne.');
        else if (filled > 0) v = rows;
        break;
      }
      case 'file': {
        const f = files.get(fieldName(q));
        if (!f || f.data.length === 0) break;
        const type = fileKind(f.data);
        if (f.data.length > SURVEY_LIMITS.fileBytes) err(fieldName(q), `un fichier de ${SURVEY_LIMITS.fileBytes / 1_000_000} Mo au plus.`);
        else if (!type) err(fieldName(q), 'un fichier PDF, PNG ou JPEG.');
        else {
          const name = (f.fileName.replace(/[\u0000-\u001f\u007f"\\/<>]/g, '_').normalize('NFC') || 'fichier').slice(0, 150);
          keptFiles.set(q.key, { ...f, fileName: name, type });
          v = { file: '', name, size: f.data.length, type };
        }
        break;
      }
    }
    if (errors.length > before) return;
    if (v === undefined || !answered(v)) {
      if (q.required) err(q.type === 'multiple' || q.type === 'sorting' ? fieldName(q, 0) : q.type.startsWith('matrix') ? fieldName(q, 'r0') : fieldName(q), 'réponse obligatoire.');
      return;
    }
    answers.set(q.key, v);
  });
  if (errors.length) throw new ValidationFailed(errors);
  if (answers.size === 0) throw new ValidationFailed([{ field: questions[0] ? fieldName(questions[0], ...(['multiple', 'sorting'].includes(questions[0].type) ? [0] : questions[0].type.startsWith('matrix') ? ['r0'] : [])) : 'questions', message: 'Le questionnaire est vide : répondez à au moins une question.' }]);
  return { answers, files: keptFiles };
}

// ---- results --------------------------------------------------------------------------------

export interface QuestionResult {
  key: string;
  type: QuestionType;
  label: string;
  /** How many responses answered it. */
  answered: number;
  /** single, multiple: count per option; sorting: points per option (n for a first place … 1 for the last); matrices: count per row and option. */
  counts: number[] | null;
  matrix: number[][] | null;
  /** sorting: mean rank per option (1 = first), null when nobody ranked. */
  meanRanks: (number | null)[] | null;
}

/** Counts of the choice questions over every response (free text and files: only how many answered). */
export function surveyResults(questions: readonly Question[], responses: readonly Record<string, unknown>[]): QuestionResult[] {
  return questions.map((q) => {
    const r: QuestionResult = { key: q.key, type: q.type, label: q.label, answered: 0, counts: null, matrix: null, meanRanks: null };
    if (q.type === 'single' || q.type === 'multiple' || q.type === 'sorting') r.counts = q.options.map(() => 0);
    if (q.type === 'matrix_single' || q.type === 'matrix_multiple') r.matrix = q.rows.map(() => q.options.map(() => 0));
    const rankSums = q.options.map(() => 0);
    for (const resp of responses) {
      const v = Object.hasOwn(resp, q.key) ? resp[q.key] : undefined;
      if (v === undefined || v === null) continue;
      r.answered++;
      if ((q.type === 'single' || q.type === 'multiple') && Array.isArray(v)) for (const j of v) if (Number.isInteger(j) && r.counts![j] !== undefined) r.counts![j]++;
      if (q.type === 'sorting' && Array.isArray(v)) v.forEach((j, pos) => {
        if (Number.isInteger(j) && r.counts![j] !== undefined) {
          r.counts![j] += q.options.length - pos;
          rankSums[j]! += pos + 1;
        }
      });
      if (r.matrix && Array.isArray(v)) v.forEach((row, ri) => {
        if (Array.isArray(row)) for (const j of row) if (Number.isInteger(j) && r.matrix![ri]?.[j] !== undefined) r.matrix![ri]![j]++;
      });
    }
    if (q.type === 'sorting') r.meanRanks = rankSums.map((s) => (r.answered ? Math.round((s / r.answered) * 10) / 10 : null));
    return r;
  });
}

/** Answers as stored (JSON object keyed by question key). */
export function answersJson(a: Answers): Record<string, AnswerValue> {
  const o: Record<string, AnswerValue> = {};
  for (const [k, v] of a) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

/** One answer in words (the staff's CSV and results page). */
export function answerText(q: Question, v: unknown): string {
  if (v === undefined || v === null) return '';
  switch (q.type) {
    case 'short':
    case 'long':
      return typeof v === 'string' ? v : '';
    case 'single':
    case 'multiple':
    case 'sorting':
      return Array.isArray(v) ? v.map((j) => q.options[j as number] ?? '?').join(q.type === 'sorting' ? ' > ' : ' | ') : '';
    case 'matrix_single':
    case 'matrix_multiple':
      return Array.isArray(v) ? q.rows.map((row, r) => `${row} : ${(Array.isArray(v[r]) ? (v[r] as number[]) : []).map((j) => q.options[j] ?? '?').join(', ')}`).join(' ; ') : '';
    case 'file':
      return typeof v === 'object' && v && 'name' in v ? `fichier ${String((v as { name: string }).name)}` : '';
  }
}

/** A question back into the JSON the form takes (option indexes of conditions as their labels). */
export function toDefinition(q: Question, _i: number, all: readonly Question[]): Record<string, unknown> {
  const o: Record<string, unknown> = { key: q.key, type: q.type, label: q.label };
  if (q.description) o.description = q.description;
  if (q.required) o.required = true;
  if (q.options.length) o.options = q.options;
  if (q.rows.length) o.rows = q.rows;
  if (q.maxChoices !== null) o.maxChoices = q.maxChoices;
  if (q.conditions.length) o.conditions = q.conditions.map((c) => ({ question: c.question, op: c.op, ...(c.option !== undefined ? { value: all.find((x) => x.key === c.question)?.options[c.option] } : {}), ...(c.text !== undefined ? { value: c.text } : {}) }));
  return o;
}

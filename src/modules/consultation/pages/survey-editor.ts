/**
 * The question-by-question survey editor for staff (`consultation.manage`): the list of questions
 * with « Modifier », « Monter », « Descendre », « Supprimer », and a form per question (type, key,
 * wording, required, options and rows one per line, maximum of choices, up to three display
 * conditions on earlier questions). No JSON by hand. Every change rebuilds the whole definition and
 * goes through the same validator as the JSON form (`parseQuestions`: conditions only on earlier
 * questions, prototype names refused…), so a move or a deletion that would break a condition is
 * refused with its reason. Frozen once someone has answered (checked under the row lock). CSRF on
 * every form; each change audited (`consultation.survey.questions`).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html, raw } from '../../../platform/html/html.ts';
import { breadcrumb, notice } from '../../../platform/html/components.ts';
import { NotFoundError, UserError } from '../../../platform/http/errors.ts';
import { ValidationFailed, type FieldError } from '../model.ts';
import * as svc from '../service.ts';
import * as sv from '../surveys.ts';
import { CONDITION_OPS, QUESTION_TYPES, QUESTION_TYPE_LABELS, SURVEY_LIMITS, conditionWords, parseQuestions, toDefinition, type ConditionOp, type Question } from '../survey.ts';
import { csrf, errorSummary, fieldError, formBody, invalid, page, send } from './ui.ts';
import { staffAccess } from './staff-access.ts';

const LIMIT = { rateLimit: { max: 30, timeWindow: '1 minute' } };
const CONDITIONS = 3;
export const CONDITION_OP_LABELS: Record<ConditionOp, string> = {
  answered: 'a reçu une réponse',
  not_answered: 'n’a pas reçu de réponse',
  equal: 'a pour réponse l’option',
  not_equal: 'n’a pas pour réponse l’option',
  match: 'contient le texte',
};

const lines = (v: unknown) => (typeof v === 'string' ? v.split(/\r?\n/).map((x) => x.trim()).filter(Boolean) : []);
const str = (v: Record<string, unknown>, k: string) => (Object.hasOwn(v, k) && typeof v[k] === 'string' ? (v[k] as string) : '');

/** The form's fields as a question definition (the JSON shape `parseQuestions` reads). */
function definitionFromForm(v: Record<string, unknown>, key: string): { def: Record<string, unknown>; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const type = str(v, 'type');
  const def: Record<string, unknown> = { key, type, label: str(v, 'label') };
  if (str(v, 'description').trim()) def.description = str(v, 'description');
  if (str(v, 'required')) def.required = true;
  const options = lines(v.options);
  const rows = lines(v.rows);
  const choice = type !== 'short' && type !== 'long' && type !== 'file';
  if (choice) def.options = options;
  if (type === 'matrix_single' || type === 'matrix_multiple') def.rows = rows;
  const mc = str(v, 'maxChoices').trim();
  if (mc && type === 'multiple') {
    if (!/^\d{1,2}$/.test(mc)) errors.push({ field: 'maxChoices', message: 'Choix au plus : un nombre entier.' });
    else def.maxChoices = Number(mc);
  }
  const conditions: Record<string, unknown>[] = [];
  for (let i = 0; i < CONDITIONS; i++) {
    const question = str(v, `c${i}question`);
    if (!question) continue;
    const op = str(v, `c${i}op`);
    const c: Record<string, unknown> = { question, op };
    if (op === 'equal' || op === 'not_equal' || op === 'match') c.value = str(v, `c${i}value`);
    conditions.push(c);
  }
  if (conditions.length) def.conditions = conditions;
  return { def, errors };
}

/** The validator's messages (« Questions : question 3, options : … ») turned into the edited question's fields. */
function fieldErrors(e: ValidationFailed, index: number | null): FieldError[] {
  return e.errors.map((x) => {
    const m = /^Questions : question (\d+), (key|type|label|options|rows|maxChoices|condition (\d+))/.exec(x.message);
    if (!m || index === null || Number(m[1]) !== index + 1) return x;
    const field = m[3] ? `c${Number(m[3]) - 1}question` : m[2]!;
    return { field, message: x.message.replace(/^Questions : question \d+, /, '').replace(/^./, (c) => c.toUpperCase()) };
  });
}

export function registerSurveyEditor(app: App, ctx: AppContext) {
  const { manageGuard, managed } = staffAccess(ctx);
  const load = async (req: FastifyRequest) => {
    const { p, u } = await managed(req);
    const s = await sv.getSurvey(ctx.db, p.id, (req.params as { survey: string }).survey);
    if (!s) throw new NotFoundError('Questionnaire introuvable.');
    return { p, u, s, base: `/gestion/concertations/${p.slug}/questionnaires/${s.slug}` };
  };
  const indexOf = (s: sv.Survey, req: FastifyRequest) => {
    const key = (req.params as { key: string }).key;
    const i = s.questions.findIndex((q) => q.key === key);
    if (i < 0) throw new NotFoundError('Question introuvable.');
    return i;
  };
  const crumbs = (p: svc.Process, s: sv.Survey, last?: string) => breadcrumb([
    { href: '/gestion', label: 'Gestion' }, { href: '/gestion/concertations', label: 'Concertations' }, { href: `/gestion/concertations/${p.slug}`, label: p.title },
    { href: `/gestion/concertations/${p.slug}/questionnaires/${s.slug}`, label: s.title },
    ...(last ? [{ href: `/gestion/concertations/${p.slug}/questionnaires/${s.slug}/questions`, label: 'Questions' }, { label: last }] : [{ label: 'Questions' }]),
  ]);

  // ---- the list
  const listPage = async (req: FastifyRequest, reply: FastifyReply, status: number, flash: { kind: 'success' | 'error'; text: string } | null) => {
    const { p, s, base } = await load(req);
    const frozen = s.responses > 0;
    const small = (action: string, label: string, describedBy: string, extra = '') =>
      html`<form method="post" action="${action}" class="inline">${csrf(reply)}${raw(extra)}<button type="submit" aria-describedby="${describedBy}">${label}</button></form>`;
    const body = html`${crumbs(p, s)}${flash ? notice(flash.kind, flash.text) : ''}<h1>Questions : ${s.title}</h1>
${frozen ? notice('info', `Des personnes ont répondu (${s.responses}) : les questions ne changent plus.`) : html`<p>Ajoutez, modifiez, déplacez ou supprimez les questions une à une. Une condition porte toujours sur une question qui précède.</p>`}
<ol class="cs-list">${s.questions.map((q, i) => html`<li><h2 id="q-${q.key}" style="font-size:1.1rem">${q.label}</h2>
<p>${QUESTION_TYPE_LABELS[q.type]} · clé <code>${q.key}</code> · ${q.required ? 'obligatoire' : 'facultative'}${q.options.length ? html` · options : ${q.options.join(', ')}` : ''}${q.rows.length ? html` · lignes : ${q.rows.join(', ')}` : ''}${q.conditions.length ? html` · posée seulement ${conditionWords(q, s.questions)}` : ''}</p>
${frozen ? '' : html`<p><a href="${base}/questions/${q.key}" aria-describedby="q-${q.key}">Modifier</a>
${i > 0 ? small(`${base}/questions/${q.key}/deplacer`, 'Monter', `q-${q.key}`, '<input type="hidden" name="direction" value="up">') : ''}
${i < s.questions.length - 1 ? small(`${base}/questions/${q.key}/deplacer`, 'Descendre', `q-${q.key}`, '<input type="hidden" name="direction" value="down">') : ''}
${s.questions.length > 1 ? small(`${base}/questions/${q.key}/supprimer`, 'Supprimer', `q-${q.key}`) : ''}</p>`}</li>`)}</ol>
${frozen || s.questions.length >= SURVEY_LIMITS.questions ? '' : html`<p><a class="button" href="${base}/questions/nouvelle">Ajouter une question</a></p>`}`;
    return send(reply, status, page(ctx, `Questions : ${s.title}`, body, { noindex: true }));
  };

  // ---- one question's form
  const questionForm = async (req: FastifyRequest, reply: FastifyReply, status: number, v: Record<string, unknown>, errors: FieldError[], index: number | null) => {
    const { p, s, base } = await load(req);
    const q = index === null ? null : s.questions[index]!;
    const earlier = index === null ? s.questions : s.questions.slice(0, index);
    const title = q ? `Modifier la question ${index! + 1}` : 'Nouvelle question';
    const val = (k: string) => str(v, k);
    const area = (name: string, label: string, hint: string) => html`<div class="field"><label for="f-${name}">${label} <span class="hint">${hint}</span></label>${fieldError(errors, name)}<textarea id="f-${name}" name="${name}" rows="4"${invalid(errors, name)}>${val(name)}</textarea></div>`;
    const conditionRows = Array.from({ length: CONDITIONS }, (_, i) => html`<fieldset class="field"><legend>Condition ${i + 1} (facultative)</legend>${fieldError(errors, `c${i}question`)}
<label for="f-c${i}question">Question précédente</label><select id="f-c${i}question" name="c${i}question"${invalid(errors, `c${i}question`)}><option value="">— aucune —</option>${earlier.map((x, j) => html`<option value="${x.key}"${val(`c${i}question`) === x.key ? raw(' selected') : ''}>${j + 1}. ${x.label}</option>`)}</select>
<label for="f-c${i}op">Condition</label><select id="f-c${i}op" name="c${i}op">${CONDITION_OPS.map((o) => html`<option value="${o}"${val(`c${i}op`) === o ? raw(' selected') : ''}>${CONDITION_OP_LABELS[o]}</option>`)}</select>
<label for="f-c${i}value">Option ou texte <span class="hint">l’option exacte pour « a pour réponse l’option », le texte cherché pour « contient le texte »</span></label><input type="text" id="f-c${i}value" name="c${i}value" maxlength="150" value="${val(`c${i}value`)}"></fieldset>`);
    const body = html`${crumbs(p, s, title)}<h1>${title}</h1>${errorSummary(errors)}
<form method="post" action="${q ? `${base}/questions/${q.key}` : `${base}/questions/nouvelle`}" class="cs-form" novalidate>${csrf(reply)}
<div class="field"><label for="f-type">Type</label>${fieldError(errors, 'type')}<select id="f-type" name="type"${invalid(errors, 'type')}>${QUESTION_TYPES.map((t) => html`<option value="${t}"${val('type') === t ? raw(' selected') : ''}>${QUESTION_TYPE_LABELS[t]}</option>`)}</select></div>
${q ? html`<p>Clé : <code>${q.key}</code> (ne change pas : les conditions et l’export y renvoient).</p>` : html`<div class="field"><label for="f-key">Clé <span class="hint">lettres minuscules, chiffres et « _ », commençant par une lettre ; sert aux conditions et à l’export</span></label>${fieldError(errors, 'key')}<input type="text" id="f-key" name="key" maxlength="40" value="${val('key')}"${invalid(errors, 'key')}></div>`}
<div class="field"><label for="f-label">Question</label>${fieldError(errors, 'label')}<input type="text" id="f-label" name="label" maxlength="${SURVEY_LIMITS.label}" value="${val('label')}"${invalid(errors, 'label')}></div>
<div class="field"><label for="f-description">Aide (facultative)</label>${fieldError(errors, 'description')}<input type="text" id="f-description" name="description" maxlength="1000" value="${val('description')}"></div>
<div class="field"><input type="checkbox" id="f-required" name="required" value="1"${val('required') ? raw(' checked') : ''}> <label for="f-required" style="display:inline">Réponse obligatoire (quand la question est posée)</label></div>
${area('options', 'Options', `une par ligne, de 2 à ${SURVEY_LIMITS.options} ; pour les choix, le classement et les matrices`)}
${area('rows', 'Lignes de la matrice', `une par ligne, jusqu’à ${SURVEY_LIMITS.rows} ; pour les matrices seulement`)}
<div class="field"><label for="f-maxChoices">Choix au plus <span class="hint">choix multiple seulement ; vide pour aucune limite</span></label>${fieldError(errors, 'maxChoices')}<input type="text" id="f-maxChoices" name="maxChoices" inputmode="numeric" maxlength="2" value="${val('maxChoices')}"${invalid(errors, 'maxChoices')}></div>
<h2>Conditions d’affichage</h2><p>La question n’est posée que si toutes ses conditions sont remplies${earlier.length ? '' : ' (aucune question ne la précède : pas de condition possible)'}.</p>
${earlier.length ? conditionRows : ''}
<button type="submit">${q ? 'Enregistrer la question' : 'Ajouter la question'}</button> <a href="${base}/questions">Annuler</a></form>`;
    return send(reply, status, page(ctx, errors.length ? `Erreur : ${title}` : title, body, { noindex: true }));
  };

  const valuesOf = (q: Question, all: readonly Question[]): Record<string, unknown> => {
    const v: Record<string, unknown> = Object.create(null);
    const d = toDefinition(q, 0, all);
    Object.assign(v, { key: q.key, type: q.type, label: q.label, description: q.description, required: q.required ? '1' : '', options: q.options.join('\n'), rows: q.rows.join('\n'), maxChoices: q.maxChoices === null ? '' : String(q.maxChoices) });
    ((d.conditions ?? []) as { question: string; op: string; value?: string }[]).forEach((c, i) => Object.assign(v, { [`c${i}question`]: c.question, [`c${i}op`]: c.op, [`c${i}value`]: c.value ?? '' }));
    return v;
  };

  /** Applies a change to the definition, validates the whole list, saves it; errors re-render `onError`. */
  const change = async (req: FastifyRequest, reply: FastifyReply, what: 'add' | 'edit' | 'move' | 'delete', build: (s: sv.Survey) => { defs: Record<string, unknown>[]; errors: FieldError[] }, onError: (status: number, errors: FieldError[]) => Promise<unknown>, index: number | null, done: string) => {
    const { u, s } = await load(req);
    // Said before any other reason (setQuestions checks it again under the row lock).
    if (s.responses > 0) return onError(409, [{ field: 'questions', message: `Questions : elles ne changent plus, ${s.responses > 1 ? `${s.responses} personnes ont` : 'une personne a'} déjà répondu.` }]);
    const { defs, errors } = build(s);
    try {
      if (errors.length) throw new ValidationFailed(errors);
      const questions = parseQuestions(JSON.stringify(defs));
      await sv.setQuestions(ctx, u.id, s, questions, what);
    } catch (e) {
      if (e instanceof ValidationFailed) return onError(422, fieldErrors(e, index));
      if (e instanceof UserError && e.statusCode === 409) return onError(409, [{ field: e.field ?? 'questions', message: e.message }]);
      throw e;
    }
    return listPage(req, reply, 200, { kind: 'success', text: done });
  };
  const listError = (req: FastifyRequest, reply: FastifyReply) => (status: number, errors: FieldError[]) => listPage(req, reply, status, { kind: 'error', text: errors.map((e) => e.message).join(' ') });

  const guard = { ...manageGuard, preValidation: app.csrfProtection, config: LIMIT };
  app.get('/gestion/concertations/:slug/questionnaires/:survey/questions', manageGuard, async (req, reply) => listPage(req, reply, 200, null));
  app.get('/gestion/concertations/:slug/questionnaires/:survey/questions/nouvelle', manageGuard, async (req, reply) => {
    const v: Record<string, unknown> = Object.create(null);
    v.type = 'single';
    return questionForm(req, reply, 200, v, [], null);
  });
  app.post('/gestion/concertations/:slug/questionnaires/:survey/questions/nouvelle', guard, async (req, reply) => {
    const v = formBody(req);
    return change(req, reply, 'add', (s) => {
      const { def, errors } = definitionFromForm(v, str(v, 'key'));
      if (s.questions.length >= SURVEY_LIMITS.questions) errors.push({ field: 'key', message: `Questions : ${SURVEY_LIMITS.questions} au plus.` });
      return { defs: [...s.questions.map((q, i, all) => toDefinition(q, i, all)), def], errors };
    }, (status, errors) => questionForm(req, reply, status, v, errors, null), (await load(req)).s.questions.length, 'Question ajoutée.');
  });
  app.get('/gestion/concertations/:slug/questionnaires/:survey/questions/:key', manageGuard, async (req, reply) => {
    const { s } = await load(req);
    const i = indexOf(s, req);
    return questionForm(req, reply, 200, valuesOf(s.questions[i]!, s.questions), [], i);
  });
  app.post('/gestion/concertations/:slug/questionnaires/:survey/questions/:key', guard, async (req, reply) => {
    const { s } = await load(req);
    const i = indexOf(s, req);
    const v = formBody(req);
    return change(req, reply, 'edit', (cur) => {
      const { def, errors } = definitionFromForm(v, s.questions[i]!.key);
      const defs = cur.questions.map((q, j, all) => (j === i ? def : toDefinition(q, j, all)));
      return { defs, errors };
    }, (status, errors) => questionForm(req, reply, status, v, errors, i), i, 'Question enregistrée.');
  });
  app.post('/gestion/concertations/:slug/questionnaires/:survey/questions/:key/deplacer', guard, async (req, reply) => {
    const { s } = await load(req);
    const i = indexOf(s, req);
    const v = formBody(req);
    const to = v.direction === 'up' ? i - 1 : v.direction === 'down' ? i + 1 : -1;
    if (v.direction !== 'up' && v.direction !== 'down') return listPage(req, reply, 400, { kind: 'error', text: 'Direction : « up » ou « down ».' });
    if (to < 0 || to >= s.questions.length) return listPage(req, reply, 409, { kind: 'error', text: 'Cette question ne peut pas aller plus loin.' });
    return change(req, reply, 'move', (cur) => {
      const defs = cur.questions.map((q, j, all) => toDefinition(q, j, all));
      [defs[i], defs[to]] = [defs[to]!, defs[i]!];
      return { defs, errors: [] };
    }, listError(req, reply), null, `Question ${v.direction === 'up' ? 'montée' : 'descendue'}.`);
  });
  app.post('/gestion/concertations/:slug/questionnaires/:survey/questions/:key/supprimer', guard, async (req, reply) => {
    const { s } = await load(req);
    const i = indexOf(s, req);
    return change(req, reply, 'delete', (cur) => ({ defs: cur.questions.filter((_, j) => j !== i).map((q, _j, all) => toDefinition(q, 0, all)), errors: [] }), listError(req, reply), null, 'Question supprimée.');
  });
}

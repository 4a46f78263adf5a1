/**
 * Survey pages. Public: the questionnaire (one response per person, conditions said in words
 * beside each conditional question and evaluated on the server), its published results (bar
 * charts with their tables; free text and files never published). Staff (`consultation.manage`):
 * create and edit a survey (questions as JSON, frozen once answered), every response with the free
 * texts, the CSV export of the responses, the uploaded files. Everything works without JavaScript.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html, raw, type Raw } from '../../../platform/html/html.ts';
import { breadcrumb, notice } from '../../../platform/html/components.ts';
import { ForbiddenError, NotFoundError, UserError } from '../../../platform/http/errors.ts';
import { acceptMultipart, type MultipartBody } from '../../../platform/http/multipart.ts';
import { can, requirePermission, requireSignedIn, signedInUser, uploadRoute } from '../../accounts/index.ts';
import { ValidationFailed, plural, type FieldError } from '../model.ts';
import { parseSurveyForm, toParisLocal } from '../setup.ts';
import * as svc from '../service.ts';
import * as sv from '../surveys.ts';
import { CHOICE_TYPES, QUESTION_TYPES, QUESTION_TYPE_LABELS, SURVEY_LIMITS, answerText, conditionWords, fieldName, toDefinition, type FileIn, type Question, type QuestionResult } from '../survey.ts';
import { toCsv } from '../routes.ts';
import { csrf, errorSummary, fieldError, fmtDateTime, formBody, invalid, page, participant, processHref, send, signInOrUp } from './ui.ts';
import { loadProcess } from './public.ts';
import { staffAccess } from './staff-access.ts';
import { SURVEY_SCRIPT } from './survey-script.ts';

const SURVEY_SCRIPT_URL = '/concertations/assets/questionnaire.js';
const LIMIT = { rateLimit: { max: 20, timeWindow: '1 minute' } };

/** A bar chart (CSS widths) with its table: the table is what screen readers and exports read. */
export function resultBlock(q: Question, r: QuestionResult, n: number): Raw {
  const head = html`<h2 id="q-${q.key}">${n}. ${q.label}</h2><p>${plural(r.answered, 'réponse', 'réponses')} · ${QUESTION_TYPE_LABELS[q.type]}</p>`;
  if (!CHOICE_TYPES.includes(q.type)) return html`${head}<p>Les réponses libres et les fichiers ne sont pas publiés.</p>`;
  if (r.matrix) {
    return html`${head}<table class="cs-table"><caption>${q.label} : nombre de réponses par ligne et par option</caption><thead><tr><td></td>${q.options.map((o) => html`<th scope="col" class="n">${o}</th>`)}</tr></thead>
<tbody>${q.rows.map((row, i) => html`<tr><th scope="row">${row}</th>${r.matrix![i]!.map((c) => html`<td class="n">${c}</td>`)}</tr>`)}</tbody></table>`;
  }
  const counts = r.counts!;
  const max = Math.max(1, ...counts);
  const unit = q.type === 'sorting' ? 'points' : 'réponses';
  return html`${head}${q.type === 'sorting' ? html`<p>Classement : une option classée première reçoit ${q.options.length} points, la dernière 1 point.</p>` : ''}
<div aria-hidden="true">${q.options.map((o, i) => html`<p style="margin:.2rem 0">${o} — ${counts[i]}</p><div class="cs-bar"><span style="width:${Math.round((counts[i]! / max) * 100)}%"></span></div>`)}</div>
<table class="cs-table"><caption>${q.label} : ${unit} par option</caption><thead><tr><th scope="col">Option</th><th scope="col" class="n">${q.type === 'sorting' ? 'Points' : 'Réponses'}</th>${q.type === 'sorting' ? html`<th scope="col" class="n">Rang moyen</th>` : ''}${q.type !== 'sorting' ? html`<th scope="col" class="n">Part</th>` : ''}</tr></thead>
<tbody>${q.options.map((o, i) => html`<tr><th scope="row">${o}</th><td class="n">${counts[i]}</td>${q.type === 'sorting' ? html`<td class="n">${r.meanRanks![i] === null ? '—' : String(r.meanRanks![i]).replace('.', ',')}</td>` : html`<td class="n">${r.answered ? Math.round((counts[i]! / r.answered) * 100) : 0} %</td>`}</tr>`)}</tbody></table>`;
}


/**
 * A question of the form, in a wrapper the questionnaire's script reads (its key, type and
 * conditions): the script hides it while its conditions fail. Without JavaScript it stays, with
 * its condition in words.
 */
function questionBlock(q: Question, all: readonly Question[], i: number, v: Record<string, unknown>, errors: FieldError[]): Raw {
  const conditions = JSON.stringify(q.conditions);
  return html`<div data-question="${q.key}" data-type="${q.type}" data-label="${i + 1}. ${q.label}" data-conditions="${conditions}">${questionField(q, all, i, v, errors)}</div>`;
}

function questionField(q: Question, all: readonly Question[], i: number, v: Record<string, unknown>, errors: FieldError[]): Raw {
  const val = (k: string) => (Object.hasOwn(v, k) && typeof v[k] === 'string' ? (v[k] as string) : '');
  const f = fieldName(q);
  const legend = html`${i + 1}. ${q.label}${q.required ? ' (obligatoire)' : ' (facultatif)'}${q.description ? html` <span class="hint">${q.description}</span>` : ''}${q.conditions.length ? html` <span class="hint">À remplir seulement ${conditionWords(q, all)} ; sinon la réponse est ignorée.</span>` : ''}`;
  const errs = errors.filter((e) => e.field === f || e.field.startsWith(`${f}_`));
  const errHtml = errs.length ? html`${errs.map((e) => html`<span class="cs-err" id="e-${e.field}">${e.message}</span>`)}` : '';
  const check = (name: string, value: string, label: string, type: 'radio' | 'checkbox', checked: boolean) =>
    html`<div><input type="${type}" id="f-${name}-${type === 'radio' ? value : 'box'}" name="${name}" value="${value}"${checked ? raw(' checked') : ''}> <label for="f-${name}-${type === 'radio' ? value : 'box'}" style="display:inline;font-weight:400">${label}</label></div>`;
  switch (q.type) {
    case 'short':
      return html`<div class="field"><label for="f-${f}">${legend}</label>${fieldError(errors, f)}<input type="text" id="f-${f}" name="${f}" maxlength="${SURVEY_LIMITS.short}" value="${val(f)}"${invalid(errors, f)}></div>`;
    case 'long':
      return html`<div class="field"><label for="f-${f}">${legend}</label>${fieldError(errors, f)}<textarea id="f-${f}" name="${f}" rows="5" maxlength="${SURVEY_LIMITS.long}"${invalid(errors, f)}>${val(f)}</textarea></div>`;
    case 'file':
      return html`<div class="field"><label for="f-${f}">${legend} <span class="hint">PDF, PNG ou JPEG, 1 Mo au plus ; jamais publié</span></label>${fieldError(errors, f)}<input type="file" id="f-${f}" name="${f}" accept="application/pdf,image/png,image/jpeg"${invalid(errors, f)}></div>`;
    case 'single':
      return html`<fieldset class="field" id="f-${f}"><legend>${legend}</legend>${errHtml}${q.options.map((o, j) => check(f, String(j), o, 'radio', val(f) === String(j)))}</fieldset>`;
    case 'multiple':
      return html`<fieldset class="field" id="f-${fieldName(q, 0)}"><legend>${legend}${q.maxChoices ? html` <span class="hint">${plural(q.maxChoices, 'choix', 'choix')} au plus</span>` : ''}</legend>${errHtml}${q.options.map((o, j) => check(fieldName(q, j), '1', o, 'checkbox', val(fieldName(q, j)) !== ''))}</fieldset>`;
    case 'sorting':
      return html`<fieldset class="field" id="f-${fieldName(q, 0)}"><legend>${legend} <span class="hint">donnez un rang à chaque option, 1 pour la première</span></legend>${errHtml}
${q.options.map((o, j) => html`<div><label for="f-${fieldName(q, j)}-rank" style="display:inline;font-weight:400">${o}</label> <select id="f-${fieldName(q, j)}-rank" name="${fieldName(q, j)}"><option value="">—</option>${q.options.map((_, r) => html`<option value="${r + 1}"${val(fieldName(q, j)) === String(r + 1) ? raw(' selected') : ''}>${r + 1}</option>`)}</select></div>`)}</fieldset>`;
    case 'matrix_single':
    case 'matrix_multiple':
      return html`<fieldset class="field" id="f-${fieldName(q, 'r0')}"><legend>${legend}</legend>${errHtml}<table class="cs-table"><thead><tr><td></td>${q.options.map((o) => html`<th scope="col">${o}</th>`)}</tr></thead><tbody>
${q.rows.map((row, r) => html`<tr><th scope="row" id="row-${q.key}-${r}">${row}</th>${q.options.map((o, j) => {
        const name = q.type === 'matrix_single' ? fieldName(q, `r${r}`) : fieldName(q, `r${r}`, j);
        const checked = q.type === 'matrix_single' ? val(name) === String(j) : val(name) !== '';
        return html`<td><input type="${q.type === 'matrix_single' ? 'radio' : 'checkbox'}" name="${name}" value="${q.type === 'matrix_single' ? String(j) : '1'}" aria-label="${row} : ${o}"${checked ? raw(' checked') : ''}></td>`;
      })}</tr>`)}</tbody></table></fieldset>`;
  }
}

export function registerSurveyPages(app: App, ctx: AppContext) {
  const crumbs = (p: svc.Process, last: string, staff = false) =>
    breadcrumb(staff ? [{ href: '/gestion', label: 'Gestion' }, { href: '/gestion/concertations', label: 'Concertations' }, { href: `/gestion/concertations/${p.slug}`, label: p.title }, { label: last }] : [{ href: '/concertations', label: 'Concertations' }, { href: processHref(p.slug), label: p.title }, { label: last }]);

  const loadSurvey = async (p: svc.Process, req: FastifyRequest) => {
    const s = await sv.getSurvey(ctx.db, p.id, (req.params as { survey: string }).survey);
    if (!s) throw new NotFoundError('Questionnaire introuvable.');
    return s;
  };

  // ---- public: the questionnaire
  const surveyPage = async (req: FastifyRequest, reply: FastifyReply, status: number, flash: { kind: 'success' | 'error'; text: string } | null, errors: FieldError[] = [], v: Record<string, unknown> = Object.create(null)) => {
    const p = await loadProcess(ctx, req);
    const s = await loadSurvey(p, req);
    const me = await participant(req);
    const now = new Date();
    const open = sv.surveyOpen(s, now);
    const done = me ? await sv.hasAnswered(ctx.db, s.id, me.user.id) : false;
    const href = processHref(p.slug, `/questionnaires/${s.slug}`);
    const hasFile = s.questions.some((q) => q.type === 'file');
    const form = !open
      ? html`<p>${Date.parse(s.startsAt) > now.getTime() ? `Ce questionnaire ouvrira le ${fmtDateTime(s.startsAt)}.` : 'Ce questionnaire est clos.'}</p>`
      : done
        ? html`<p>Vous avez répondu à ce questionnaire. Merci !</p>`
        : !me
          ? signInOrUp(href, 'répondre au questionnaire')
          : html`<form class="cs-form" method="post" action="${href}"${hasFile ? raw(' enctype="multipart/form-data"') : ''} novalidate data-survey>${csrf(reply)}
<p class="cs-hp" aria-live="polite" data-survey-live></p>
${s.questions.map((q, i) => questionBlock(q, s.questions, i, v, errors))}
<div class="cs-hp" aria-hidden="true"><label for="f-website">Ne pas remplir</label><input type="text" id="f-website" name="website" tabindex="-1" autocomplete="off"></div>
<button type="submit">Envoyer mes réponses</button> <span class="hint">Une seule réponse par personne : elle ne pourra plus être modifiée.</span></form>`;
    const body = html`${crumbs(p, s.title)}${flash ? notice(flash.kind, flash.text) : ''}${errorSummary(errors)}<h1>${s.title}</h1><p>${s.description}</p>
<p>Ouvert du ${fmtDateTime(s.startsAt)} au ${fmtDateTime(s.endsAt)} · ${plural(s.responses, 'réponse', 'réponses')}${s.resultsPublished ? html` · <a href="${href}/resultats">Résultats</a>` : ''}</p>${form}`;
    return send(reply, status, page(ctx, errors.length ? `Erreur : ${s.title}` : s.title, body, { noindex: !!errors.length, scripts: [SURVEY_SCRIPT_URL] }));
  };

  app.get('/concertations/:slug/questionnaires/:survey', async (req, reply) => surveyPage(req, reply, 200, null));
  app.get(SURVEY_SCRIPT_URL, async (_req, reply) => reply.type('application/javascript; charset=utf-8').header('cache-control', 'no-cache').send(SURVEY_SCRIPT));

  const submit = async (req: FastifyRequest, reply: FastifyReply) => {
    const p = await loadProcess(ctx, req);
    const s = await loadSurvey(p, req);
    const me = await participant(req);
    const v = formBody(req);
    const files = new Map<string, FileIn>();
    for (const f of ((req.body as MultipartBody | undefined)?.files ?? [])) if (f && typeof f.field === 'string' && !files.has(f.field)) files.set(f.field, f);
    try {
      if (v.website) throw new UserError('Envoi refusé.', 400, 'website', 'spam');
      await sv.answerSurvey(ctx, p, s, me?.who ?? null, v, files);
      return surveyPage(req, reply, 200, { kind: 'success', text: 'Vos réponses sont enregistrées. Merci !' });
    } catch (e) {
      if (e instanceof ValidationFailed) return surveyPage(req, reply, 422, null, e.errors, v);
      if (e instanceof UserError && e.statusCode !== 404) return surveyPage(req, reply, e.statusCode, { kind: 'error', text: e.message }, [], v);
      throw e;
    }
  };
  // Plain forms, and multipart ones (surveys with a file question) in a scope of their own.
  void app.register(async (scope) => {
    acceptMultipart(scope, { maxParts: 2000 });
    // Only someone signed in may answer: a stranger is refused before the 3 MB body is read.
    scope.post('/concertations/:slug/questionnaires/:survey', { ...uploadRoute(requireSignedIn, 3 * 1024 * 1024), preValidation: app.csrfProtection, config: LIMIT }, submit);
  });

  app.get('/concertations/:slug/questionnaires/:survey/resultats', async (req, reply) => {
    const p = await loadProcess(ctx, req);
    const s = await loadSurvey(p, req);
    if (!s.resultsPublished) throw new NotFoundError('Les résultats de ce questionnaire ne sont pas publiés.');
    const results = await sv.resultsOf(ctx.db, s);
    const api = `/api/v1/consultation/processes/${p.slug}/surveys/${s.slug}/results`;
    return send(reply, 200, page(ctx, `Résultats — ${s.title}`, html`${crumbs(p, `Résultats : ${s.title}`)}<h1>Résultats : ${s.title}</h1>
<p>${plural(s.responses, 'personne a répondu', 'personnes ont répondu')}. Les réponses libres et les fichiers ne sont jamais publiés. Données : <a href="${api}.csv">CSV</a>, <a href="${api}">JSON</a>.</p>
${s.questions.map((q, i) => resultBlock(q, results[i]!, i + 1))}`));
  });

  // ---- staff
  const { processOf, manageGuard, managed } = staffAccess(ctx);

  const surveyForm = (reply: FastifyReply, status: number, p: svc.Process, v: Record<string, unknown>, errors: FieldError[], s?: sv.Survey) => {
    const val = (k: string) => (Object.hasOwn(v, k) && typeof v[k] === 'string' ? (v[k] as string) : '');
    const title = s ? `Modifier « ${s.title} »` : 'Nouveau questionnaire';
    const action = s ? `/gestion/concertations/${p.slug}/questionnaires/${s.slug}/modifier` : `/gestion/concertations/${p.slug}/questionnaires/nouveau`;
    const inp = (name: string, label: string, o: { type?: string; hint?: string } = {}) =>
      html`<div class="field"><label for="f-${name}">${label}${o.hint ? html` <span class="hint">${o.hint}</span>` : ''}</label>${fieldError(errors, name)}<input type="${o.type ?? 'text'}" id="f-${name}" name="${name}" value="${val(name)}"${invalid(errors, name)}></div>`;
    const body = html`${crumbs(p, title, true)}<h1>${title}</h1>${errorSummary(errors)}
<form method="post" action="${action}" class="cs-form" novalidate>${csrf(reply)}
${inp('title', 'Titre')}
${s ? html`<p>Adresse : ${processHref(p.slug, `/questionnaires/${s.slug}`)} (ne change pas).</p>` : inp('slug', 'Adresse', { hint: 'lettres minuscules, chiffres et tirets, par exemple usages-numeriques' })}
<div class="field"><label for="f-description">Description (facultatif)</label>${fieldError(errors, 'description')}<textarea id="f-description" name="description" rows="4"${invalid(errors, 'description')}>${val('description')}</textarea></div>
${inp('startsAt', 'Ouverture', { type: 'datetime-local', hint: 'heure de Paris' })}
${inp('endsAt', 'Clôture', { type: 'datetime-local', hint: 'heure de Paris' })}
<div class="field"><label for="f-questions">Questions, en JSON <span class="hint">une liste d’objets : <code>key</code> (lettres minuscules, chiffres, « _ »), <code>type</code> (${QUESTION_TYPES.map((t) => `${t} : ${QUESTION_TYPE_LABELS[t]}`).join(' ; ')}), <code>label</code>, <code>required</code>, <code>options</code> (choix, classement, matrices), <code>rows</code> (matrices), <code>maxChoices</code> (choix multiple), <code>conditions</code> : [{"question": clé d’une question précédente, "op": answered | not_answered | equal | not_equal | match, "value": option ou texte}]. ${s && s.responses > 0 ? 'Des personnes ont répondu : les questions ne changent plus.' : ''}</span></label>${fieldError(errors, 'questions')}
<textarea id="f-questions" name="questions" rows="18" spellcheck="false"${invalid(errors, 'questions')}${s && s.responses > 0 ? raw(' readonly') : ''}>${val('questions')}</textarea></div>
<div class="field"><input type="checkbox" id="f-resultsPublished" name="resultsPublished" value="1"${val('resultsPublished') ? raw(' checked') : ''}> <label for="f-resultsPublished" style="display:inline">Publier les résultats (graphiques et tableaux des questions à choix)</label></div>
<button type="submit">${s ? 'Enregistrer' : 'Créer le questionnaire'}</button></form>`;
    return send(reply, status, page(ctx, errors.length ? `Erreur : ${title}` : title, body, { noindex: true }));
  };
  const errorsOf = (e: unknown): { status: number; errors: FieldError[] } => {
    if (e instanceof ValidationFailed) return { status: 422, errors: e.errors };
    if (e instanceof UserError && e.statusCode < 500 && e.statusCode !== 401 && e.statusCode !== 403) return { status: e.statusCode, errors: [{ field: e.field ?? 'title', message: e.message }] };
    throw e;
  };

  app.get('/gestion/concertations/:slug/questionnaires/nouveau', manageGuard, async (req, reply) => {
    const { p } = await managed(req);
    const v: Record<string, unknown> = Object.create(null);
    v.questions = '[\n  {"key": "frequence", "type": "single", "label": "À quelle fréquence utilisez-vous un tiers-lieu ?", "required": true, "options": ["Jamais", "Parfois", "Souvent"]},\n  {"key": "pourquoi", "type": "long", "label": "Pourquoi jamais ?", "conditions": [{"question": "frequence", "op": "equal", "value": "Jamais"}]}\n]';
    return surveyForm(reply, 200, p, v, []);
  });
  app.post('/gestion/concertations/:slug/questionnaires/nouveau', { ...manageGuard, preValidation: app.csrfProtection, config: LIMIT, bodyLimit: 512 * 1024 }, async (req, reply) => {
    const { p, u } = await managed(req);
    const v = formBody(req);
    try {
      const f = parseSurveyForm(v);
      await sv.createSurvey(ctx, u.id, p.id, f);
      return reply.redirect(`/gestion/concertations/${p.slug}/questionnaires/${f.slug}`, 303);
    } catch (e) {
      const { status, errors } = errorsOf(e);
      return surveyForm(reply, status, p, v, errors);
    }
  });

  app.get('/gestion/concertations/:slug/questionnaires/:survey/modifier', manageGuard, async (req, reply) => {
    const { p } = await managed(req);
    const s = await loadSurvey(p, req);
    const v: Record<string, unknown> = Object.create(null);
    Object.assign(v, { title: s.title, description: s.description, startsAt: toParisLocal(s.startsAt), endsAt: toParisLocal(s.endsAt), resultsPublished: s.resultsPublished ? '1' : '', questions: JSON.stringify(s.questions.map(toDefinition), null, 2) });
    return surveyForm(reply, 200, p, v, [], s);
  });
  app.post('/gestion/concertations/:slug/questionnaires/:survey/modifier', { ...manageGuard, preValidation: app.csrfProtection, config: LIMIT, bodyLimit: 512 * 1024 }, async (req, reply) => {
    const { p, u } = await managed(req);
    const s = await loadSurvey(p, req);
    const v = formBody(req);
    try {
      const f = parseSurveyForm(v, s.slug);
      await sv.updateSurvey(ctx, u.id, s, f);
      return reply.redirect(`/gestion/concertations/${p.slug}/questionnaires/${s.slug}`, 303);
    } catch (e) {
      const { status, errors } = errorsOf(e);
      return surveyForm(reply, status, p, v, errors, s);
    }
  });

  app.get('/gestion/concertations/:slug/questionnaires/:survey', manageGuard, async (req, reply) => {
    const { p } = await managed(req);
    const s = await loadSurvey(p, req);
    const responses = await sv.responsesOf(ctx.db, s.id);
    const results = await sv.resultsOf(ctx.db, s);
    const base = `/gestion/concertations/${p.slug}/questionnaires/${s.slug}`;
    const free = s.questions.filter((q) => !CHOICE_TYPES.includes(q.type));
    return send(reply, 200, page(ctx, `Questionnaire — ${s.title}`, html`${crumbs(p, s.title, true)}<h1>${s.title}</h1>
<p>${plural(s.responses, 'réponse', 'réponses')} · ouvert du ${fmtDateTime(s.startsAt)} au ${fmtDateTime(s.endsAt)} · résultats ${s.resultsPublished ? html`<a href="${processHref(p.slug, `/questionnaires/${s.slug}/resultats`)}">publiés</a>` : 'non publiés'}</p>
<ul class="inline-list"><li><a href="${base}/questions">Questions, une à une</a></li><li><a href="${base}/modifier">Modifier</a></li><li><a href="${base}/reponses.csv">Exporter les réponses (CSV)</a></li><li><a href="${processHref(p.slug, `/questionnaires/${s.slug}`)}">Page publique</a></li></ul>
${s.questions.map((q, i) => resultBlock(q, results[i]!, i + 1))}
${free.length ? html`<h2>Réponses libres et fichiers (jamais publiés)</h2>${free.map((q) => html`<h3>${q.label}</h3><ul>${responses.filter((r) => Object.hasOwn(r.answers, q.key)).slice(0, 500).map((r) => {
      const a = r.answers[q.key] as { file?: string; name?: string } | string;
      return html`<li>${typeof a === 'object' && a?.file ? html`<a href="${base}/fichiers/${a.file}">${a.name ?? 'fichier'}</a>` : answerText(q, a)}</li>`;
    })}</ul>`)}` : ''}`, { noindex: true }));
  });

  app.get('/gestion/concertations/:slug/questionnaires/:survey/reponses.csv', manageGuard, async (req, reply) => {
    const { p, u } = await managed(req);
    const s = await loadSurvey(p, req);
    const responses = await sv.responsesOf(ctx.db, s.id);
    const cols = ['response', 'created_at', ...s.questions.map((q) => q.key)];
    const rows = responses.map((r) => {
      const row: Record<string, unknown> = Object.create(null);
      row.response = r.id;
      row.created_at = r.createdAt;
      for (const q of s.questions) row[q.key] = Object.hasOwn(r.answers, q.key) ? answerText(q, r.answers[q.key]) : '';
      return row;
    });
    ctx.log.info({ user: u.id, survey: s.id, rows: rows.length }, 'consultation: survey responses exported');
    return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${s.slug}-reponses.csv"`).header('cache-control', 'no-store').send(toCsv(rows, cols));
  });

  app.get('/gestion/concertations/:slug/questionnaires/:survey/fichiers/:file', manageGuard, async (req, reply) => {
    const { p } = await managed(req);
    const s = await loadSurvey(p, req);
    const f = await sv.surveyFile(ctx.db, s.id, (req.params as { file: string }).file);
    if (!f) throw new NotFoundError('Fichier introuvable.');
    return reply.type(f.contentType).header('content-disposition', `attachment; filename="${f.fileName.replace(/[^\w.-]/g, '_')}"`).header('x-content-type-options', 'nosniff').header('cache-control', 'no-store').send(f.data);
  });
}

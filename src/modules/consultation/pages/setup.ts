/**
 * Back-office setup forms: create a process with its phases, edit it (text, rules, themes,
 * phases), add a budget, add a meeting. CSRF on every form; `consultation.manage` on the process's
 * territory (for a new process, on the territory chosen in the form); every refused form is shown
 * again with each faulty field named, and nothing is written; every change is audited.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html, raw, type Raw } from '../../../platform/html/html.ts';
import { breadcrumb } from '../../../platform/html/components.ts';
import { ForbiddenError, NotFoundError, UserError } from '../../../platform/http/errors.ts';
import { can, requirePermission, requireSignedIn, scopesFor, signedInUser } from '../../accounts/index.ts';
import { BUDGET_WORKFLOWS, BUDGET_WORKFLOW_LABELS, CAPABILITIES, CAPABILITY_LABELS, RULES, RULE_LABELS, ValidationFailed, type FieldError } from '../model.ts';
import { PHASE_ROWS, parseBudgetForm, parseMeetingForm, parseProcessForm, toParisLocal } from '../setup.ts';
import * as svc from '../service.ts';
import { csrf, errorSummary, fieldError, formBody, invalid, page, send } from './ui.ts';
import { staffAccess } from './staff-access.ts';

type Values = Record<string, unknown>;
const LIMIT = { rateLimit: { max: 20, timeWindow: '1 minute' } };

function val(v: Values, k: string): string {
  const x = Object.hasOwn(v, k) ? v[k] : '';
  return typeof x === 'string' ? x : '';
}

function input(v: Values, errors: FieldError[], name: string, label: string, o: { type?: string; hint?: string; required?: boolean; maxlength?: number } = {}): Raw {
  return html`<div class="field"><label for="f-${name}">${label}${o.required ? '' : ' (facultatif)'}${o.hint ? html` <span class="hint">${o.hint}</span>` : ''}</label>${fieldError(errors, name)}<input type="${o.type ?? 'text'}" id="f-${name}" name="${name}" value="${val(v, name)}"${o.maxlength ? html` maxlength="${o.maxlength}"` : ''}${o.required ? raw(' required') : ''}${invalid(errors, name)}></div>`;
}
function textarea(v: Values, errors: FieldError[], name: string, label: string, hint?: string): Raw {
  return html`<div class="field"><label for="f-${name}">${label} (facultatif)${hint ? html` <span class="hint">${hint}</span>` : ''}</label>${fieldError(errors, name)}<textarea id="f-${name}" name="${name}" rows="5"${invalid(errors, name)}>${val(v, name)}</textarea></div>`;
}
function checkbox(v: Values, name: string, label: string): Raw {
  return html`<div class="field"><input type="checkbox" id="f-${name}" name="${name}" value="1"${val(v, name) ? raw(' checked') : ''}> <label for="f-${name}" style="display:inline">${label}</label></div>`;
}

/** The form values of an existing process (for editing). */
function processValues(p: svc.Process): Values {
  const v: Values = Object.create(null);
  Object.assign(v, {
    title: p.title, description: p.description, published: p.published ? '1' : '', residenceRequired: p.residenceRequired ? '1' : '',
    minAge: p.minAge === null ? '' : String(p.minAge), minAccountDays: String(p.minAccountDays), budgetWorkflow: p.budgetWorkflow, categories: p.categories.join('\n'),
  });
  p.phases.forEach((f, i) => {
    v[`phase${i}_title`] = f.title;
    v[`phase${i}_startsAt`] = toParisLocal(f.startsAt);
    v[`phase${i}_endsAt`] = toParisLocal(f.endsAt);
    v[`phase${i}_proposals`] = f.proposalsOpen ? '1' : '';
    v[`phase${i}_supports`] = f.supportsOpen ? '1' : '';
    v[`phase${i}_comments`] = f.commentsOpen ? '1' : '';
    v[`phase${i}_votes`] = f.votesOpen ? '1' : '';
  });
  return v;
}

function errorsOf(e: unknown): { status: number; errors: FieldError[] } {
  if (e instanceof ValidationFailed) return { status: 422, errors: e.errors };
  if (e instanceof UserError && e.statusCode < 500 && e.statusCode !== 401 && e.statusCode !== 403) return { status: e.statusCode, errors: [{ field: e.field ?? 'title', message: e.message }] };
  throw e;
}

export function registerSetupPages(app: App, ctx: AppContext) {
  const { processOf, manageGuard, managed } = staffAccess(ctx);
  const home = (p?: svc.Process, last?: string) =>
    breadcrumb([{ href: '/gestion', label: 'Gestion' }, { href: '/gestion/concertations', label: 'Concertations' }, ...(p ? [{ href: `/gestion/concertations/${p.slug}`, label: p.title }] : []), { label: last ?? '' }]);

  // ---- a process and its phases
  const processForm = (reply: FastifyReply, status: number, o: { p?: svc.Process; v: Values; errors: FieldError[] }) => {
    const { v, errors, p } = o;
    const title = p ? `Modifier « ${p.title} »` : 'Nouvelle concertation';
    const action = p ? `/gestion/concertations/${p.slug}/modifier` : '/gestion/concertations/nouvelle';
    const phaseRows = Array.from({ length: PHASE_ROWS }, (_, i) => html`<fieldset><legend>Étape ${i + 1}${i ? ' (facultative)' : ''}</legend>
${input(v, errors, `phase${i}_title`, 'Titre de l’étape', { required: i === 0, maxlength: 120 })}
${input(v, errors, `phase${i}_startsAt`, 'Début', { type: 'datetime-local', required: i === 0, hint: 'heure de Paris' })}
${input(v, errors, `phase${i}_endsAt`, 'Fin', { type: 'datetime-local', required: i === 0, hint: 'heure de Paris' })}
<p>Ouvre :</p>${CAPABILITIES.map((c) => checkbox(v, `phase${i}_${c}`, CAPABILITY_LABELS[c]))}</fieldset>`);
    const body = html`${home(p, p ? 'Modifier' : 'Nouvelle concertation')}<h1>${title}</h1>${errorSummary(errors)}
<form method="post" action="${action}" class="cs-form" novalidate>${csrf(reply)}
${input(v, errors, 'title', 'Titre', { required: true, maxlength: 150 })}
${p ? html`<p>Adresse : /concertations/${p.slug} · territoire : région ${p.region}${p.departement ? `, département ${p.departement}` : ''} (ne changent pas).</p>` : html`${input(v, errors, 'slug', 'Adresse', { required: true, maxlength: 80, hint: 'lettres minuscules, chiffres et tirets, par exemple budget-2027' })}
${input(v, errors, 'region', 'Région', { required: true, maxlength: 2, hint: 'code INSEE, par exemple 27' })}
${input(v, errors, 'departement', 'Département', { maxlength: 3, hint: 'pour une concertation départementale, par exemple 21' })}`}
${textarea(v, errors, 'description', 'Description')}
${textarea(v, errors, 'categories', 'Thèmes', 'un par ligne')}
${checkbox(v, 'published', 'Publiée (visible par tous)')}
<fieldset><legend>Qui peut participer</legend>
${input(v, errors, 'minAccountDays', 'Ancienneté minimale du compte, en jours', { maxlength: 3, hint: 'contre les comptes créés pour l’occasion ; 0 pour aucune' })}
${checkbox(v, 'residenceRequired', 'Vote réservé aux habitants du territoire (code postal demandé)')}
${input(v, errors, 'minAge', 'Âge minimum pour voter', { maxlength: 3, hint: '15 au moins ; vide pour aucun autre que celui des comptes (15 ans)' })}
<div class="field"><label for="f-budgetWorkflow">Budgets participatifs</label>${fieldError(errors, 'budgetWorkflow')}<select id="f-budgetWorkflow" name="budgetWorkflow"${invalid(errors, 'budgetWorkflow')}>
${BUDGET_WORKFLOWS.map((w) => html`<option value="${w}"${(val(v, 'budgetWorkflow') || 'one') === w ? raw(' selected') : ''}>${BUDGET_WORKFLOW_LABELS[w]}</option>`)}</select></div></fieldset>
<h2>Étapes</h2><p>Dans l’ordre, sans chevauchement. L’étape en cours décide de ce qui est ouvert.</p>${phaseRows}
<button type="submit">${p ? 'Enregistrer' : 'Créer la concertation'}</button></form>`;
    return send(reply, status, page(ctx, errors.length ? `Erreur : ${title}` : title, body, { noindex: true }));
  };

  const mayCreate = (u: Awaited<ReturnType<typeof signedInUser>>) => {
    const s = scopesFor(u, 'consultation.manage');
    return s.platform || s.regions.length > 0 || s.departements.length > 0;
  };

  app.get('/gestion/concertations/nouvelle', { preHandler: requireSignedIn }, async (req, reply) => {
    const u = await signedInUser(req);
    if (!mayCreate(u)) throw new ForbiddenError();
    const v: Values = Object.create(null);
    Object.assign(v, { published: '1', minAccountDays: '0', phase0_proposals: '1', phase0_supports: '1', phase0_comments: '1' });
    return processForm(reply, 200, { v, errors: [] });
  });

  app.post('/gestion/concertations/nouvelle', { preHandler: requireSignedIn, preValidation: app.csrfProtection, config: LIMIT }, async (req, reply) => {
    const u = await signedInUser(req);
    if (!mayCreate(u)) throw new ForbiddenError();
    const v = formBody(req);
    try {
      const f = parseProcessForm(v);
      const territoryErrors: FieldError[] = [];
      if (!(await svc.regionExists(ctx.db, f.region))) territoryErrors.push({ field: 'region', message: 'Région : code inconnu.' });
      else if (f.departement && !(await svc.departementsOf(ctx.db, f.region)).has(f.departement)) territoryErrors.push({ field: 'departement', message: 'Département : il n’est pas dans cette région.' });
      if (territoryErrors.length) throw new ValidationFailed(territoryErrors);
      // The permission on the territory chosen: someone of a département cannot open a regional process.
      if (!can(u, 'consultation.manage', svc.processResource({ id: '', region: f.region, departement: f.departement }))) {
        throw new ValidationFailed([{ field: f.departement ? 'departement' : 'region', message: 'Territoire : vous ne gérez pas les concertations de ce territoire.' }]);
      }
      await svc.createProcess(ctx, u.id, f);
      return reply.redirect(`/gestion/concertations/${f.slug}`, 303);
    } catch (e) {
      const { status, errors } = errorsOf(e);
      return processForm(reply, status === 422 && errors.some((x) => x.message.startsWith('Territoire')) ? 403 : status, { v, errors });
    }
  });

  app.get('/gestion/concertations/:slug/modifier', manageGuard, async (req, reply) => {
    const { p } = await managed(req);
    return processForm(reply, 200, { p, v: processValues(p), errors: [] });
  });

  app.post('/gestion/concertations/:slug/modifier', { ...manageGuard, preValidation: app.csrfProtection, config: LIMIT }, async (req, reply) => {
    const { p, u } = await managed(req);
    const v = formBody(req);
    try {
      const f = parseProcessForm(v, p);
      await svc.updateProcess(ctx, u.id, p, f);
      return reply.redirect(`/gestion/concertations/${p.slug}?ok=modifiee`, 303);
    } catch (e) {
      const { status, errors } = errorsOf(e);
      return processForm(reply, status, { p, v, errors });
    }
  });

  // ---- a budget
  const budgetForm = (reply: FastifyReply, status: number, p: svc.Process, v: Values, errors: FieldError[], editing?: svc.Budget) => {
    const heading = editing ? `Modifier « ${editing.title} »` : 'Nouveau budget participatif';
    const body = html`${home(p, editing ? 'Modifier le budget' : 'Nouveau budget')}<h1>${heading}</h1>${errorSummary(errors)}
<form method="post" action="/gestion/concertations/${p.slug}/budgets/${editing ? `${editing.slug}/modifier` : 'nouveau'}" class="cs-form" novalidate>${csrf(reply)}
${input(v, errors, 'title', 'Titre', { required: true, maxlength: 150 })}
${editing ? html`<p>Adresse : /concertations/${p.slug}/budgets/${editing.slug} (ne change pas). Une fois un vote confirmé, seul le titre peut changer.</p>` : input(v, errors, 'slug', 'Adresse', { required: true, maxlength: 80, hint: 'lettres minuscules, chiffres et tirets, par exemple cote-d-or' })}
${input(v, errors, 'departement', 'Département', { maxlength: 3, hint: 'pour un budget départemental ; vide pour tout le territoire' })}
${input(v, errors, 'amount', 'Montant en euros', { required: true, maxlength: 20, hint: 'par exemple 150 000' })}
<div class="field"><label for="f-rule">Règle de vote</label>${fieldError(errors, 'rule')}<select id="f-rule" name="rule"${invalid(errors, 'rule')}>${RULES.map((r) => html`<option value="${r}"${val(v, 'rule') === r ? raw(' selected') : ''}>${RULE_LABELS[r]}</option>`)}</select></div>
${input(v, errors, 'thresholdPct', 'Part du budget à dépenser, en %', { maxlength: 3, hint: 'règle « dépenser au moins » ; 70 si vide' })}
${input(v, errors, 'minProjects', 'Nombre minimum de projets', { maxlength: 4, hint: 'règles « minimum » et « entre » ' })}
${input(v, errors, 'maxProjects', 'Nombre maximum de projets', { maxlength: 4, hint: 'règle « entre »' })}
<button type="submit">${editing ? 'Enregistrer' : 'Créer le budget'}</button></form>`;
    return send(reply, status, page(ctx, errors.length ? `Erreur : ${heading}` : heading, body, { noindex: true }));
  };

  app.get('/gestion/concertations/:slug/budgets/nouveau', manageGuard, async (req, reply) => {
    const { p } = await managed(req);
    const v: Values = Object.create(null);
    Object.assign(v, { rule: 'threshold', thresholdPct: '70', departement: p.departement ?? '' });
    return budgetForm(reply, 200, p, v, []);
  });

  app.post('/gestion/concertations/:slug/budgets/nouveau', { ...manageGuard, preValidation: app.csrfProtection, config: LIMIT }, async (req, reply) => {
    const { p, u } = await managed(req);
    const v = formBody(req);
    try {
      const deps = await svc.departementsOf(ctx.db, p.region);
      const f = parseBudgetForm(v, p, (d) => deps.has(d));
      await svc.createBudget(ctx, u.id, p.id, f);
      return reply.redirect(`/concertations/${p.slug}/budgets/${f.slug}`, 303);
    } catch (e) {
      const { status, errors } = errorsOf(e);
      return budgetForm(reply, status, p, v, errors);
    }
  });

  // ---- a meeting
  const meetingForm = (reply: FastifyReply, status: number, p: svc.Process, v: Values, errors: FieldError[], editing?: svc.Meeting) => {
    const heading = editing ? `Modifier « ${editing.title} »` : 'Nouvelle rencontre';
    const body = html`${home(p, editing ? 'Modifier la rencontre' : 'Nouvelle rencontre')}<h1>${heading}</h1>${errorSummary(errors)}
<form method="post" action="/gestion/concertations/${p.slug}/rencontres/${editing ? `${editing.id}/modifier` : 'nouvelle'}" class="cs-form" novalidate>${csrf(reply)}
${input(v, errors, 'title', 'Titre', { required: true, maxlength: 150 })}
${textarea(v, errors, 'description', 'Description')}
${input(v, errors, 'startsAt', 'Début', { type: 'datetime-local', required: true, hint: 'heure de Paris' })}
${input(v, errors, 'endsAt', 'Fin', { type: 'datetime-local', required: true, hint: 'heure de Paris' })}
${input(v, errors, 'departement', 'Département', { maxlength: 3, hint: 'par exemple 21' })}
<fieldset><legend>Où (au moins un)</legend>
${input(v, errors, 'placeUid', 'Lieu de l’annuaire, identifiant', { maxlength: 200 })}
${input(v, errors, 'address', 'Adresse', { maxlength: 300 })}
${input(v, errors, 'onlineUrl', 'Lien de visioconférence', { type: 'url', maxlength: 500, hint: 'commence par https://' })}</fieldset>
${input(v, errors, 'capacity', 'Nombre de places', { maxlength: 6, hint: 'vide : sans limite' })}
<button type="submit">${editing ? 'Enregistrer' : 'Créer la rencontre'}</button></form>`;
    return send(reply, status, page(ctx, errors.length ? `Erreur : ${heading}` : heading, body, { noindex: true }));
  };

  app.get('/gestion/concertations/:slug/rencontres/nouvelle', manageGuard, async (req, reply) => {
    const { p } = await managed(req);
    const v: Values = Object.create(null);
    v.departement = p.departement ?? '';
    return meetingForm(reply, 200, p, v, []);
  });

  app.post('/gestion/concertations/:slug/rencontres/nouvelle', { ...manageGuard, preValidation: app.csrfProtection, config: LIMIT }, async (req, reply) => {
    const { p, u } = await managed(req);
    const v = formBody(req);
    try {
      const deps = await svc.departementsOf(ctx.db, p.region);
      const f = parseMeetingForm(v, p, (d) => deps.has(d));
      if (f.placeUid && !(await svc.placeExists(ctx.db, f.placeUid))) throw new ValidationFailed([{ field: 'placeUid', message: 'Lieu : il n’est pas dans l’annuaire.' }]);
      const id = await svc.createMeeting(ctx, u.id, p.id, f);
      return reply.redirect(`/concertations/${p.slug}/rencontres/${id}`, 303);
    } catch (e) {
      const { status, errors } = errorsOf(e);
      return meetingForm(reply, status, p, v, errors);
    }
  });

  // ---- editing a budget or a meeting
  const budgetOf = async (p: svc.Process, req: FastifyRequest) => {
    const b = await svc.getBudget(ctx.db, p.id, (req.params as { budget: string }).budget);
    if (!b) throw new NotFoundError('Budget introuvable.');
    return b;
  };
  app.get('/gestion/concertations/:slug/budgets/:budget/modifier', manageGuard, async (req, reply) => {
    const { p } = await managed(req);
    const b = await budgetOf(p, req);
    const v: Values = Object.create(null);
    Object.assign(v, { title: b.title, departement: b.departement ?? '', amount: String(b.amountCents / 100), rule: b.rule, thresholdPct: String(b.thresholdPct), minProjects: String(b.minProjects), maxProjects: b.maxProjects === null ? '' : String(b.maxProjects) });
    return budgetForm(reply, 200, p, v, [], b);
  });
  app.post('/gestion/concertations/:slug/budgets/:budget/modifier', { ...manageGuard, preValidation: app.csrfProtection, config: LIMIT }, async (req, reply) => {
    const { p, u } = await managed(req);
    const b = await budgetOf(p, req);
    const v = formBody(req);
    try {
      const deps = await svc.departementsOf(ctx.db, p.region);
      const { slug: _slug, ...f } = parseBudgetForm({ ...v, slug: b.slug }, p, (d) => deps.has(d));
      await svc.updateBudget(ctx, u.id, b, f);
      return reply.redirect(`/concertations/${p.slug}/budgets/${b.slug}`, 303);
    } catch (e) {
      const { status, errors } = errorsOf(e);
      return budgetForm(reply, status, p, v, errors, b);
    }
  });

  const meetingOf = async (p: svc.Process, req: FastifyRequest) => {
    const m = await svc.getMeeting(ctx.db, p.id, (req.params as { id: string }).id);
    if (!m) throw new NotFoundError('Rencontre introuvable.');
    return m;
  };
  app.get('/gestion/concertations/:slug/rencontres/:id/modifier', manageGuard, async (req, reply) => {
    const { p } = await managed(req);
    const m = await meetingOf(p, req);
    const v: Values = Object.create(null);
    Object.assign(v, { title: m.title, description: m.description, startsAt: toParisLocal(m.startsAt), endsAt: toParisLocal(m.endsAt), departement: m.departement ?? '', placeUid: m.placeUid ?? '', address: m.address ?? '', onlineUrl: m.onlineUrl ?? '', capacity: m.capacity === null ? '' : String(m.capacity) });
    return meetingForm(reply, 200, p, v, [], m);
  });
  app.post('/gestion/concertations/:slug/rencontres/:id/modifier', { ...manageGuard, preValidation: app.csrfProtection, config: LIMIT }, async (req, reply) => {
    const { p, u } = await managed(req);
    const m = await meetingOf(p, req);
    const v = formBody(req);
    try {
      const deps = await svc.departementsOf(ctx.db, p.region);
      const f = parseMeetingForm(v, p, (d) => deps.has(d));
      if (f.placeUid && !(await svc.placeExists(ctx.db, f.placeUid))) throw new ValidationFailed([{ field: 'placeUid', message: 'Lieu : il n’est pas dans l’annuaire.' }]);
      await svc.updateMeeting(ctx, u.id, m, f);
      return reply.redirect(`/concertations/${p.slug}/rencontres/${m.id}`, 303);
    } catch (e) {
      const { status, errors } = errorsOf(e);
      return meetingForm(reply, status, p, v, errors, m);
    }
  });
}

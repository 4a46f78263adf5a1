/**
 * Back office of a participatory budget's projects: the list with a form to add one (title,
 * description, cost, commune by code or name, optional accepted proposal of the process), edit and
 * delete. `consultation.manage` on the process's territory, CSRF on every form; refused once voting
 * has started in the budget (409); every refused form is shown again with the field named and
 * nothing written; every change audited.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html, type Raw } from '../../../platform/html/html.ts';
import { breadcrumb, notice } from '../../../platform/html/components.ts';
import { NotFoundError, UserError } from '../../../platform/http/errors.ts';
import { ValidationFailed, euros, plural, type FieldError } from '../model.ts';
import * as svc from '../service.ts';
import { createStaffProject, deleteStaffProject, getProject, parseProjectForm, updateStaffProject } from '../projects.ts';
import { csrf, errorSummary, fieldError, formBody, invalid, page, processHref, send } from './ui.ts';
import { staffAccess } from './staff-access.ts';

type Values = Record<string, unknown>;
const LIMIT = { rateLimit: { max: 30, timeWindow: '1 minute' } };

function val(v: Values, k: string): string {
  const x = Object.hasOwn(v, k) ? v[k] : '';
  return typeof x === 'string' ? x : '';
}

function field(v: Values, errors: FieldError[], name: string, label: string, o: { hint?: string; required?: boolean; maxlength: number; area?: boolean }): Raw {
  const lab = html`<label for="f-${name}">${label}${o.required ? '' : ' (facultatif)'}${o.hint ? html` <span class="hint">${o.hint}</span>` : ''}</label>${fieldError(errors, name)}`;
  return o.area
    ? html`<div class="field">${lab}<textarea id="f-${name}" name="${name}" rows="4" maxlength="${o.maxlength}"${invalid(errors, name)}>${val(v, name)}</textarea></div>`
    : html`<div class="field">${lab}<input type="text" id="f-${name}" name="${name}" value="${val(v, name)}" maxlength="${o.maxlength}"${invalid(errors, name)}></div>`;
}

function errorsOf(e: unknown): { status: number; errors: FieldError[] } {
  if (e instanceof ValidationFailed) return { status: 422, errors: e.errors };
  if (e instanceof UserError && e.statusCode === 409) return { status: 409, errors: [{ field: e.field ?? 'title', message: e.message }] };
  throw e;
}

export function registerProjectPages(app: App, ctx: AppContext) {
  const { manageGuard, managed } = staffAccess(ctx);
  const load = async (req: FastifyRequest) => {
    const { p, u } = await managed(req);
    const b = await svc.getBudget(ctx.db, p.id, (req.params as { budget: string }).budget);
    if (!b) throw new NotFoundError('Budget introuvable.');
    return { p, u, b };
  };
  const loadProject = async (req: FastifyRequest) => {
    const x = await load(req);
    const pr = await getProject(ctx.db, x.b.id, (req.params as { id: string }).id);
    if (!pr) throw new NotFoundError('Projet introuvable.');
    return { ...x, pr };
  };
  const base = (p: svc.Process, b: svc.Budget) => `/gestion/concertations/${p.slug}/budgets/${b.slug}/projets`;
  const crumbs = (p: svc.Process, b: svc.Budget, last?: string) =>
    breadcrumb([{ href: '/gestion', label: 'Gestion' }, { href: '/gestion/concertations', label: 'Concertations' }, { href: `/gestion/concertations/${p.slug}`, label: p.title },
      ...(last ? [{ href: base(p, b), label: `Projets — ${b.title}` }, { label: last }] : [{ label: `Projets — ${b.title}` }])]);
  const formFields = (v: Values, errors: FieldError[]) => html`${field(v, errors, 'title', 'Titre', { required: true, maxlength: 150 })}
${field(v, errors, 'description', 'Description', { maxlength: 5000, area: true })}
${field(v, errors, 'cost', 'Coût en euros', { required: true, maxlength: 20, hint: 'par exemple 12 500 ; au plus le montant du budget' })}
${field(v, errors, 'commune', 'Commune', { maxlength: 120, hint: 'nom ou code INSEE, sur le territoire de la concertation' })}
${field(v, errors, 'proposal', 'Proposition retenue dont il vient, numéro', { maxlength: 12, hint: 'par exemple 12 ; vide pour un projet proposé par l’équipe' })}`;

  const listPage = async (req: FastifyRequest, reply: FastifyReply, status: number, v: Values, errors: FieldError[], flash: string | null) => {
    const { p, b } = await load(req);
    const projects = await svc.listProjects(ctx.db, b.id);
    const body = html`${crumbs(p, b)}${flash ? notice('success', flash) : ''}${errorSummary(errors)}
<h1>Projets du budget « ${b.title} »</h1><p>Montant du budget : ${euros(b.amountCents)}. ${plural(projects.length, 'projet', 'projets')}. <a href="${processHref(p.slug, `/budgets/${b.slug}`)}">Page publique du budget</a></p>
<p>Les projets se modifient ou se suppriment tant que personne n’a commencé à voter dans ce budget.</p>
${projects.length ? html`<table class="cs-table"><caption>Projets</caption><thead><tr><th scope="col">Titre</th><th scope="col" class="n">Coût</th><th scope="col">Commune</th><th scope="col">Actions</th></tr></thead><tbody>
${projects.map((pr) => html`<tr><td>${pr.title}</td><td class="n">${euros(pr.costCents)}</td><td>${pr.communeCode ?? '—'}</td><td><a href="${base(p, b)}/${pr.id}/modifier">Modifier<span class="visually-hidden"> « ${pr.title} »</span></a>
<form method="post" action="${base(p, b)}/${pr.id}/supprimer" class="inline">${csrf(reply)}<button type="submit">Supprimer<span class="visually-hidden"> « ${pr.title} »</span></button></form></td></tr>`)}</tbody></table>` : html`<p>Aucun projet pour l’instant.</p>`}
<h2>Ajouter un projet</h2>
<form method="post" action="${base(p, b)}" class="cs-form" novalidate>${csrf(reply)}${formFields(v, errors)}<button type="submit">Ajouter le projet</button></form>`;
    return send(reply, status, page(ctx, errors.length ? `Erreur : projets — ${b.title}` : `Projets — ${b.title}`, body, { noindex: true }));
  };

  const editPage = async (req: FastifyRequest, reply: FastifyReply, status: number, v: Values, errors: FieldError[]) => {
    const { p, b, pr } = await loadProject(req);
    const body = html`${crumbs(p, b, 'Modifier un projet')}${errorSummary(errors)}<h1>Modifier « ${pr.title} »</h1>
<form method="post" action="${base(p, b)}/${pr.id}/modifier" class="cs-form" novalidate>${csrf(reply)}${formFields(v, errors)}<button type="submit">Enregistrer</button></form>`;
    return send(reply, status, page(ctx, errors.length ? `Erreur : modifier « ${pr.title} »` : `Modifier « ${pr.title} »`, body, { noindex: true }));
  };

  app.get('/gestion/concertations/:slug/budgets/:budget/projets', manageGuard, async (req, reply) => listPage(req, reply, 200, Object.create(null), [], null));

  app.post('/gestion/concertations/:slug/budgets/:budget/projets', { ...manageGuard, preValidation: app.csrfProtection, config: LIMIT }, async (req, reply) => {
    const { p, u, b } = await load(req);
    const v = formBody(req);
    try {
      const input = await parseProjectForm(ctx.db, v, p, b);
      await createStaffProject(ctx, u.id, b, input);
      return listPage(req, reply, 200, Object.create(null), [], `Projet « ${input.title} » ajouté.`);
    } catch (e) {
      const { status, errors } = errorsOf(e);
      return listPage(req, reply, status, v, errors, null);
    }
  });

  app.get('/gestion/concertations/:slug/budgets/:budget/projets/:id/modifier', manageGuard, async (req, reply) => {
    const { pr } = await loadProject(req);
    let proposal = '';
    if (pr.proposalId) proposal = String((await svc.getProposalById(ctx.db, pr.proposalId))?.number ?? '');
    const v: Values = Object.create(null);
    Object.assign(v, { title: pr.title, description: pr.description, cost: String(pr.costCents / 100).replace('.', ','), commune: pr.communeCode ?? '', proposal });
    return editPage(req, reply, 200, v, []);
  });

  app.post('/gestion/concertations/:slug/budgets/:budget/projets/:id/modifier', { ...manageGuard, preValidation: app.csrfProtection, config: LIMIT }, async (req, reply) => {
    const { p, u, b, pr } = await loadProject(req);
    const v = formBody(req);
    try {
      const input = await parseProjectForm(ctx.db, v, p, b);
      await updateStaffProject(ctx, u.id, b, pr, input);
      return reply.redirect(`${base(p, b)}?ok=modifie`, 303);
    } catch (e) {
      const { status, errors } = errorsOf(e);
      return editPage(req, reply, status, v, errors);
    }
  });

  app.post('/gestion/concertations/:slug/budgets/:budget/projets/:id/supprimer', { ...manageGuard, preValidation: app.csrfProtection, config: LIMIT }, async (req, reply) => {
    const { u, b, pr } = await loadProject(req);
    try {
      await deleteStaffProject(ctx, u.id, b, pr);
      return listPage(req, reply, 200, Object.create(null), [], `Projet « ${pr.title} » supprimé.`);
    } catch (e) {
      const { status, errors } = errorsOf(e);
      return listPage(req, reply, status, Object.create(null), errors, null);
    }
  });
}

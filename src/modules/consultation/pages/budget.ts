/**
 * Participatory budget pages: the projects with add / remove buttons and the basket's total (a
 * live region announces it to screen readers), a confirmation page that recaps the basket before
 * the final vote, and the results ranked within the budget.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html, raw, type Raw } from '../../../platform/html/html.ts';
import { breadcrumb, notice } from '../../../platform/html/components.ts';
import { NotFoundError, UserError } from '../../../platform/http/errors.ts';
import { BUDGET_WORKFLOW_SENTENCES, basketProblem, euros, phaseAllows, phaseStatus, plural, ruleSummary, totalsSealed } from '../model.ts';
import * as svc from '../service.ts';
import { getCommunes } from '../../territories/index.ts';
import { loadProcess } from './public.ts';
import { csrf, formBody, identityNotice, page, participant, processHref, send, signInOrUp } from './ui.ts';

const VOTE_LIMIT = { rateLimit: { max: 60, timeWindow: '1 minute' } };

export function registerBudgetPages(app: App, ctx: AppContext) {
  const load = async (req: FastifyRequest) => {
    const p = await loadProcess(ctx, req);
    const b = await svc.getBudget(ctx.db, p.id, (req.params as { budget: string }).budget);
    if (!b) throw new NotFoundError('Budget introuvable.');
    return { p, b };
  };
  const crumbs = (p: svc.Process, b: svc.Budget, last?: string) =>
    breadcrumb([{ href: '/concertations', label: 'Concertations' }, { href: processHref(p.slug), label: p.title }, ...(last ? [{ href: processHref(p.slug, `/budgets/${b.slug}`), label: b.title }, { label: last }] : [{ label: b.title }])]);

  const budgetPage = async (req: FastifyRequest, reply: FastifyReply, status: number, flash: { kind: 'success' | 'error'; text: string } | null) => {
    const { p, b } = await load(req);
    const me = await participant(req);
    const now = new Date();
    const open = phaseAllows(phaseStatus(p.phases, now).current, 'votes');
    const projects = await svc.listProjects(ctx.db, b.id);
    // Communes by name (their code when the geography does not know it).
    const communes = await getCommunes(ctx.db, [...new Set(projects.flatMap((x) => (x.communeCode ? [x.communeCode] : [])))]);
    // The `random` workflow draws the person's budget on their first visit (kept for good).
    if (me && open) await svc.ensureAssignedBudget(ctx, p, me.user.id);
    const basket = me ? await svc.basketOf(ctx.db, p, b, me.user.id) : null;
    const notMine = !!basket?.assigned && basket.assigned.id !== b.id;
    const inBasket = new Set(basket?.projectIds ?? []);
    const costs = projects.filter((x) => inBasket.has(x.id)).map((x) => x.costCents);
    const pct = Math.min(100, Math.round(((basket?.totalCents ?? 0) / b.amountCents) * 100));
    // The buttons wait for the identity check when the process requires one (the server refuses without it anyway).
    const identityOk = !me || !p.identity?.requiredFor.includes('votes') || !!(await svc.identityCheckOf(ctx.db, p, me.user.id));
    const canEdit = open && !!me && identityOk && !basket?.checkedOut && !basket?.votedElsewhere && !notMine;
    const idNotice = open && !basket?.checkedOut ? await identityNotice(ctx, p, me?.user.id ?? null, 'votes', processHref(p.slug, `/budgets/${b.slug}`)) : '';
    const body = html`${crumbs(p, b)}${flash ? notice(flash.kind, flash.text) : ''}
<h1>Budget participatif : ${b.title}</h1>
<p>Budget : <strong>${euros(b.amountCents)}</strong>${b.departement ? ` pour le département ${b.departement}` : ''}. ${ruleSummary(b)}</p>
<p>${BUDGET_WORKFLOW_SENTENCES[p.budgetWorkflow]}${p.residenceRequired ? ' Le vote est réservé aux habitants du territoire (code postal demandé à la confirmation).' : ''}${p.minAge !== null ? ` Il est ouvert à partir de ${p.minAge} ans.` : ''}</p>
${idNotice}
${!open ? html`<p><strong>Le vote n’est pas ouvert dans l’étape en cours.</strong> <a href="${processHref(p.slug, `/budgets/${b.slug}/resultats`)}">Voir les résultats</a></p>` : ''}
${basket?.checkedOut ? notice('success', 'Votre vote est confirmé et définitif. Merci de votre participation.') : ''}
${basket?.votedElsewhere ? notice('info', `Vous avez déjà voté dans le budget « ${basket.votedElsewhere} ».`) : ''}
${basket?.assigned ? (notMine
      ? notice('info', html`Le budget qui vous a été attribué au hasard est <a href="${processHref(p.slug, `/budgets/${basket.assigned.slug}`)}">« ${basket.assigned.title} »</a> : c’est là que vous votez. Celui-ci se consulte seulement.`)
      : notice('info', 'Ce budget vous a été attribué au hasard : c’est celui où vous votez.')) : ''}
${me && open ? html`<section class="cs-basket" aria-labelledby="panier-titre"><h2 id="panier-titre">Mon panier</h2>
<p aria-live="polite" aria-atomic="true" id="panier-total">${plural(inBasket.size, 'projet choisi', 'projets choisis')}, ${euros(basket?.totalCents ?? 0)} sur ${euros(b.amountCents)} (${pct} %) ; reste ${euros(b.amountCents - (basket?.totalCents ?? 0))}.</p>
<div class="cs-bar" aria-hidden="true"><span style="width:${raw(String(pct))}%"></span></div>
${canEdit ? (() => {
      const problem = basketProblem(b, costs);
      return problem ? html`<p>${problem}</p>` : html`<p><a class="button" href="${processHref(p.slug, `/budgets/${b.slug}/confirmer`)}">Vérifier et confirmer mon vote</a></p>`;
    })() : ''}</section>` : !me && open ? signInOrUp(processHref(p.slug, `/budgets/${b.slug}`), 'voter') : ''}
<h2>Les projets (${projects.length})</h2>
<ul class="cs-list">${projects.map((pr) => html`<li><h3 id="p-${pr.id}">${pr.title}</h3><p>Coût : <strong>${euros(pr.costCents)}</strong>${pr.communeCode ? ` · ${communes.get(pr.communeCode)?.name ?? `commune ${pr.communeCode}`}` : ''}</p>${pr.description ? html`<p>${pr.description}</p>` : ''}
${canEdit ? html`<form method="post" action="${processHref(p.slug, `/budgets/${b.slug}/panier`)}">${csrf(reply)}<input type="hidden" name="projectId" value="${pr.id}">
${inBasket.has(pr.id) ? html`<input type="hidden" name="op" value="remove"><button type="submit" aria-describedby="p-${pr.id}">Retirer du panier</button>` : html`<input type="hidden" name="op" value="add"><button type="submit" aria-describedby="p-${pr.id}">Ajouter au panier</button>`}</form>` : inBasket.has(pr.id) ? html`<p>Dans votre panier.</p>` : ''}</li>`)}</ul>`;
    return send(reply, status, page(ctx, `Budget participatif : ${b.title}`, body, { noindex: true }));
  };

  app.get('/concertations/:slug/budgets/:budget', async (req, reply) => budgetPage(req, reply, 200, null));

  app.post('/concertations/:slug/budgets/:budget/panier', { preValidation: app.csrfProtection, config: VOTE_LIMIT }, async (req, reply) => {
    const { p, b } = await load(req);
    const me = await participant(req);
    const v = formBody(req);
    try {
      const projectId = typeof v.projectId === 'string' ? v.projectId : '';
      if (v.op === 'remove') await svc.removeFromBasket(ctx, p, b, me?.who ?? null, projectId);
      else if (v.op === 'add') await svc.addToBasket(ctx, p, b, me?.who ?? null, projectId);
      else throw new UserError('Opération : « add » ou « remove ».', 400, 'op');
      return budgetPage(req, reply, 200, { kind: 'success', text: v.op === 'add' ? 'Projet ajouté à votre panier.' : 'Projet retiré de votre panier.' });
    } catch (e) {
      if (e instanceof UserError && e.statusCode !== 404) return budgetPage(req, reply, e.statusCode, { kind: 'error', text: e.message });
      throw e;
    }
  });

  const confirmPage = async (req: FastifyRequest, reply: FastifyReply, status: number, error: string | null) => {
    const { p, b } = await load(req);
    const me = await participant(req);
    if (!me) return reply.redirect(`/compte/connexion?retour=${encodeURIComponent(processHref(p.slug, `/budgets/${b.slug}/confirmer`))}`);
    const basket = await svc.basketOf(ctx.db, p, b, me.user.id);
    const projects = (await svc.listProjects(ctx.db, b.id)).filter((x) => basket.projectIds.includes(x.id));
    // What the identity provider established is not asked again (residence by its postal code, age by its birth date).
    const check = await svc.identityCheckOf(ctx.db, p, me.user.id);
    const askPostalCode = p.residenceRequired && !check?.departement;
    const askBirthYear = p.minAge !== null && !(check?.minAgeChecked != null && check.minAgeChecked >= p.minAge);
    const body = html`${crumbs(p, b, 'Confirmer mon vote')}${error ? notice('error', error) : ''}
${await identityNotice(ctx, p, me.user.id, 'votes', processHref(p.slug, `/budgets/${b.slug}/confirmer`))}
<h1>Confirmer mon vote</h1>
<table class="cs-table"><caption>Mon panier : ${plural(projects.length, 'projet', 'projets')}, ${euros(basket.totalCents)} sur ${euros(b.amountCents)}</caption>
<thead><tr><th scope="col">Projet</th><th scope="col" class="n">Coût</th></tr></thead><tbody>${projects.map((x) => html`<tr><td>${x.title}</td><td class="n">${euros(x.costCents)}</td></tr>`)}</tbody></table>
<p><strong>Une fois confirmé, votre vote est définitif</strong> : il ne pourra plus être modifié.</p>
<form method="post" action="${processHref(p.slug, `/budgets/${b.slug}/vote`)}" class="cs-form">${csrf(reply)}
${askPostalCode ? html`<div class="field"><label for="f-postalCode">Code postal de votre domicile <span class="hint">vérifié puis oublié : il n’est pas enregistré</span></label><input type="text" id="f-postalCode" name="postalCode" inputmode="numeric" autocomplete="postal-code" maxlength="5" required></div>` : ''}
${askBirthYear ? html`<div class="field"><label for="f-birthYear">Année de naissance <span class="hint">vérifiée puis oubliée : elle n’est pas enregistrée</span></label><input type="text" id="f-birthYear" name="birthYear" inputmode="numeric" maxlength="4" required></div>` : ''}
<button type="submit">Confirmer mon vote définitivement</button> <a href="${processHref(p.slug, `/budgets/${b.slug}`)}">Modifier mon panier</a></form>`;
    return send(reply, status, page(ctx, 'Confirmer mon vote', body, { noindex: true }));
  };
  app.get('/concertations/:slug/budgets/:budget/confirmer', async (req, reply) => confirmPage(req, reply, 200, null));

  app.post('/concertations/:slug/budgets/:budget/vote', { preValidation: app.csrfProtection, config: VOTE_LIMIT }, async (req, reply) => {
    const { p, b } = await load(req);
    const me = await participant(req);
    const v = formBody(req);
    try {
      await svc.checkout(ctx, p, b, me?.who ?? null, { postalCode: typeof v.postalCode === 'string' ? v.postalCode : undefined, birthYear: typeof v.birthYear === 'string' ? v.birthYear : undefined });
      return budgetPage(req, reply, 200, { kind: 'success', text: 'Votre vote est enregistré. Il est définitif.' });
    } catch (e) {
      if (e instanceof UserError && e.statusCode === 401) throw e;
      if (e instanceof UserError && e.statusCode !== 404) return confirmPage(req, reply, e.statusCode, e.message);
      throw e;
    }
  });

  app.get('/concertations/:slug/budgets/:budget/resultats', async (req, reply) => {
    const { p, b } = await load(req);
    const t = await svc.tally(ctx.db, b);
    if (totalsSealed(p.phases, new Date())) {
      // No totals while a vote can be cast: read before and after a known person's vote, they would give it away.
      const sealed: Raw = html`${crumbs(p, b, 'Résultats')}<h1>Résultats : ${b.title}</h1>
${notice('info', 'Le vote n’est pas terminé : les voix de chaque projet seront publiées à sa clôture. Avant, elles permettraient de deviner le vote d’une personne.')}
<p>${plural(t.voters, 'votant', 'votants')} à ce jour. Budget : ${euros(b.amountCents)}.</p>
<h2>Projets soumis au vote</h2>
<ul>${[...t.projects].sort((x, y) => x.title.localeCompare(y.title, 'fr')).map((x) => html`<li>${x.title} (${euros(x.costCents)})</li>`)}</ul>`;
      return send(reply, 200, page(ctx, `Résultats : ${b.title}`, sealed));
    }
    const body: Raw = html`${crumbs(p, b, 'Résultats')}<h1>Résultats : ${b.title}</h1>
<p>${plural(t.voters, 'votant', 'votants')}. Budget : ${euros(b.amountCents)}. Les projets sont classés par nombre de voix ; un projet est financé tant que le budget le permet.</p>
<table class="cs-table"><caption>Projets classés par nombre de voix</caption><thead><tr><th scope="col" class="n">Rang</th><th scope="col">Projet</th><th scope="col" class="n">Voix</th><th scope="col" class="n">Coût</th><th scope="col">Financé</th></tr></thead>
<tbody>${t.projects.map((x) => html`<tr><td class="n">${x.rank}</td><td>${x.title}</td><td class="n">${x.votes.toLocaleString('fr-FR')}</td><td class="n">${euros(x.costCents)}</td><td>${x.funded ? 'Oui' : 'Non'}</td></tr>`)}</tbody></table>
<p><a href="/api/v1/consultation/processes/${p.slug}/budgets/${b.slug}/results.csv">Télécharger les résultats (CSV)</a></p>`;
    return send(reply, 200, page(ctx, `Résultats : ${b.title}`, body));
  });
}

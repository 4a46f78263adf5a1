/**
 * Debate pages. Public: the question, the arguments for and against side by side, comments and
 * replies, report forms; a contribution form while the phase opens comments and the debate is
 * open. Staff (`consultation.manage`): open a debate, close it with a conclusion. Moderation goes
 * through the process's moderation queue (kind `contribution`).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html, raw, type Raw } from '../../../platform/html/html.ts';
import { breadcrumb, notice } from '../../../platform/html/components.ts';
import { ForbiddenError, NotFoundError, UserError } from '../../../platform/http/errors.ts';
import { can, requirePermission, signedInUser } from '../../accounts/index.ts';
import { REPORT_REASONS, ValidationFailed, honeypotFilled, phaseAllows, phaseStatus, plural, type FieldError } from '../model.ts';
import * as svc from '../service.ts';
import * as db8 from '../debates.ts';
import { csrf, errorSummary, fieldError, fmtDateTime, formBody, invalid, page, participant, processHref, send, signInOrUp } from './ui.ts';
import { loadProcess } from './public.ts';
import { staffAccess } from './staff-access.ts';

const LIMIT = { rateLimit: { max: 20, timeWindow: '1 minute' } };

export function registerDebatePages(app: App, ctx: AppContext) {
  const loadDebate = async (p: svc.Process, req: FastifyRequest) => {
    const d = await db8.getDebate(ctx.db, p.id, (req.params as { debate: string }).debate);
    if (!d) throw new NotFoundError('Débat introuvable.');
    return d;
  };

  const debatePage = async (req: FastifyRequest, reply: FastifyReply, status: number, flash: { kind: 'success' | 'error'; text: string } | null, errors: FieldError[] = []) => {
    const p = await loadProcess(ctx, req);
    const d = await loadDebate(p, req);
    const me = await participant(req);
    const moderator = !!me && can(me.user, 'consultation.moderate', svc.processResource(p));
    const all = await db8.listContributions(ctx.db, d.id, { moderator });
    const href = processHref(p.slug, `/debats/${d.slug}`);
    const open = !d.closedAt && phaseAllows(phaseStatus(p.phases, new Date()).current, 'comments');
    const replies = (id: string) => all.filter((c) => c.parentId === id);
    const reportForm = (c: db8.Contribution) => me && !c.hidden ? html`<details><summary>Signaler</summary><form method="post" action="${href}/signalements" class="cs-form">${csrf(reply)}<input type="hidden" name="id" value="${c.id}">
<label for="r-${c.id}">Motif</label><select id="r-${c.id}" name="reason">${Object.entries(REPORT_REASONS).map(([k, l]) => html`<option value="${k}">${l}</option>`)}</select><button type="submit">Signaler</button></form></details>` : '';
    const item = (c: db8.Contribution): Raw => html`<li><div class="cs-comment">${c.hidden ? html`<p class="cs-hidden">Contribution masquée par la modération : ${c.hiddenReason}</p>${moderator && c.body ? html`<p><small>(texte visible des modérateurs)</small> ${c.body}</p>` : ''}` : html`<p>${c.stance !== 'comment' && c.parentId ? html`<strong>${db8.STANCES[c.stance]} : </strong>` : ''}${c.body}</p>`}
<p><small>${fmtDateTime(c.createdAt)}</small></p>${reportForm(c)}
${open && me && !c.hidden ? html`<details><summary>Répondre</summary><form method="post" action="${href}/contributions" class="cs-form">${csrf(reply)}<input type="hidden" name="parentId" value="${c.id}"><input type="hidden" name="stance" value="comment"><label for="rep-${c.id}">Votre réponse</label><textarea id="rep-${c.id}" name="body" rows="3" maxlength="2000"></textarea><button type="submit">Répondre</button></form></details>` : ''}</div>
${replies(c.id).length ? html`<ul class="cs-comments">${replies(c.id).map(item)}</ul>` : ''}</li>`;
    const column = (stance: db8.Stance, title: string) => {
      const top = all.filter((c) => !c.parentId && c.stance === stance);
      return html`<section aria-labelledby="h-${stance}"><h2 id="h-${stance}">${title} (${top.length})</h2>${top.length ? html`<ul class="cs-comments">${top.map(item)}</ul>` : html`<p>Aucune pour l’instant.</p>`}</section>`;
    };
    const form = d.closedAt ? '' : !open ? html`<p>Les contributions ne sont pas ouvertes dans l’étape en cours.</p>` : !me ? signInOrUp(href, 'contribuer au débat') : html`<h2>Contribuer</h2>
<form method="post" action="${href}/contributions" class="cs-form" novalidate>${csrf(reply)}
<fieldset class="field" id="f-stance"><legend>Votre position</legend>${fieldError(errors, 'stance')}${Object.entries(db8.STANCES).map(([k, l]) => html`<div><input type="radio" id="f-stance-${k}" name="stance" value="${k}"${k === 'comment' ? raw(' checked') : ''}> <label for="f-stance-${k}" style="display:inline;font-weight:400">${k === 'comment' ? 'Un commentaire' : `Un argument ${l.toLowerCase()}`}</label></div>`)}</fieldset>
<div class="field"><label for="f-body">Votre contribution <span class="hint">2 000 caractères au plus ; pas de données personnelles</span></label>${fieldError(errors, 'body')}<textarea id="f-body" name="body" rows="5" maxlength="2000"${invalid(errors, 'body')}></textarea></div>
<div class="cs-hp" aria-hidden="true"><label for="f-website">Ne pas remplir</label><input type="text" id="f-website" name="website" tabindex="-1" autocomplete="off"></div>
<button type="submit">Publier</button></form>`;
    const body = html`${breadcrumb([{ href: '/concertations', label: 'Concertations' }, { href: processHref(p.slug), label: p.title }, { label: d.title }])}${flash ? notice(flash.kind, flash.text) : ''}${errorSummary(errors)}
<h1>Débat : ${d.title}</h1><p>${d.description}</p>
<p>${plural(d.argumentsFor, 'argument pour', 'arguments pour')} · ${plural(d.argumentsAgainst, 'argument contre', 'arguments contre')} · ${plural(d.comments, 'commentaire', 'commentaires')}</p>
${d.closedAt ? html`<h2>Conclusion (débat clos le ${fmtDateTime(d.closedAt)})</h2><p>${d.conclusion}</p>` : ''}
${column('for', 'Arguments pour')}${column('against', 'Arguments contre')}${column('comment', 'Commentaires')}${form}`;
    return send(reply, status, page(ctx, errors.length ? `Erreur : ${d.title}` : d.title, body, { noindex: !!errors.length }));
  };

  app.get('/concertations/:slug/debats/:debate', async (req, reply) => debatePage(req, reply, 200, null));

  const act = async (req: FastifyRequest, reply: FastifyReply, fn: (p: svc.Process, d: db8.Debate, who: svc.Participant | null) => Promise<string>) => {
    const p = await loadProcess(ctx, req);
    const d = await loadDebate(p, req);
    const me = await participant(req);
    try {
      return debatePage(req, reply, 200, { kind: 'success', text: await fn(p, d, me?.who ?? null) });
    } catch (e) {
      if (e instanceof ValidationFailed) return debatePage(req, reply, 422, null, e.errors);
      if (e instanceof UserError && e.statusCode !== 404) return debatePage(req, reply, e.statusCode, { kind: 'error', text: e.message });
      throw e;
    }
  };

  app.post('/concertations/:slug/debats/:debate/contributions', { preValidation: app.csrfProtection, config: LIMIT }, async (req, reply) =>
    act(req, reply, async (p, d, who) => {
      const v = formBody(req);
      if (honeypotFilled(v)) throw new UserError('Envoi refusé.', 400, 'website', 'spam');
      await db8.contribute(ctx, p, d, who, v);
      return 'Votre contribution est publiée.';
    }),
  );

  app.post('/concertations/:slug/debats/:debate/signalements', { preValidation: app.csrfProtection, config: LIMIT }, async (req, reply) =>
    act(req, reply, async (p, d, who) => {
      const v = formBody(req);
      const id = typeof v.id === 'string' ? v.id : '';
      const target = await svc.processOfTarget(ctx.db, 'contribution', id);
      if (!target || target.id !== p.id || !(await db8.listContributions(ctx.db, d.id)).some((c) => c.id === id)) throw new UserError('Contribution introuvable dans ce débat.', 400, 'id');
      await svc.report(ctx, who, 'contribution', id, v);
      return 'Merci : votre signalement est transmis à la modération.';
    }),
  );

  // ---- staff
  const { processOf, manageGuard, managed } = staffAccess(ctx);
  const crumbs = (p: svc.Process, last: string) => breadcrumb([{ href: '/gestion', label: 'Gestion' }, { href: '/gestion/concertations', label: 'Concertations' }, { href: `/gestion/concertations/${p.slug}`, label: p.title }, { label: last }]);

  const newForm = (reply: FastifyReply, status: number, p: svc.Process, v: Record<string, unknown>, errors: FieldError[]) => {
    const val = (k: string) => (Object.hasOwn(v, k) && typeof v[k] === 'string' ? (v[k] as string) : '');
    return send(reply, status, page(ctx, errors.length ? 'Erreur : nouveau débat' : 'Nouveau débat', html`${crumbs(p, 'Nouveau débat')}<h1>Ouvrir un débat</h1>${errorSummary(errors)}
<form method="post" action="/gestion/concertations/${p.slug}/debats/nouveau" class="cs-form" novalidate>${csrf(reply)}
<div class="field"><label for="f-title">Question débattue</label>${fieldError(errors, 'title')}<input type="text" id="f-title" name="title" maxlength="150" value="${val('title')}"${invalid(errors, 'title')}></div>
<div class="field"><label for="f-slug">Adresse <span class="hint">lettres minuscules, chiffres et tirets</span></label>${fieldError(errors, 'slug')}<input type="text" id="f-slug" name="slug" maxlength="80" value="${val('slug')}"${invalid(errors, 'slug')}></div>
<div class="field"><label for="f-description">Présentation (facultatif)</label>${fieldError(errors, 'description')}<textarea id="f-description" name="description" rows="5"${invalid(errors, 'description')}>${val('description')}</textarea></div>
<p>Les contributions sont ouvertes quand l’étape en cours ouvre les commentaires.</p><button type="submit">Ouvrir le débat</button></form>`, { noindex: true }));
  };
  app.get('/gestion/concertations/:slug/debats/nouveau', manageGuard, async (req, reply) => {
    const { p } = await managed(req);
    return newForm(reply, 200, p, Object.create(null), []);
  });
  app.post('/gestion/concertations/:slug/debats/nouveau', { ...manageGuard, preValidation: app.csrfProtection, config: LIMIT }, async (req, reply) => {
    const { p, u } = await managed(req);
    const v = formBody(req);
    try {
      const f = db8.parseDebateForm(v);
      await db8.createDebate(ctx, u.id, p.id, f);
      return reply.redirect(`/gestion/concertations/${p.slug}/debats/${f.slug}`, 303);
    } catch (e) {
      if (e instanceof ValidationFailed) return newForm(reply, 422, p, v, e.errors);
      if (e instanceof UserError && e.statusCode === 409) return newForm(reply, 409, p, v, [{ field: 'slug', message: e.message }]);
      throw e;
    }
  });

  const adminPage = async (req: FastifyRequest, reply: FastifyReply, status: number, errors: FieldError[] = [], flash: string | null = null) => {
    const { p } = await managed(req);
    const d = await loadDebate(p, req);
    return send(reply, status, page(ctx, `Débat — ${d.title}`, html`${crumbs(p, d.title)}${flash ? notice('success', flash) : ''}${errorSummary(errors)}<h1>Débat : ${d.title}</h1>
<p>${plural(d.argumentsFor, 'argument pour', 'arguments pour')} · ${plural(d.argumentsAgainst, 'argument contre', 'arguments contre')} · ${plural(d.comments, 'commentaire', 'commentaires')} · <a href="${processHref(p.slug, `/debats/${d.slug}`)}">page publique</a> · les signalements arrivent dans la <a href="/gestion/concertations/${p.slug}#moderation">file de modération</a></p>
${d.closedAt ? html`<p>Clos le ${fmtDateTime(d.closedAt)}. Conclusion : ${d.conclusion}</p>` : html`<h2>Clore le débat</h2><form method="post" action="/gestion/concertations/${p.slug}/debats/${d.slug}/cloture" class="cs-form" novalidate>${csrf(reply)}
<div class="field"><label for="f-conclusion">Conclusion publiée <span class="hint">ce que la collectivité retient du débat</span></label>${fieldError(errors, 'conclusion')}<textarea id="f-conclusion" name="conclusion" rows="6" maxlength="5000"${invalid(errors, 'conclusion')}></textarea></div>
<button type="submit">Clore le débat</button></form>`}`, { noindex: true }));
  };
  app.get('/gestion/concertations/:slug/debats/:debate', manageGuard, async (req, reply) => adminPage(req, reply, 200));
  app.post('/gestion/concertations/:slug/debats/:debate/cloture', { ...manageGuard, preValidation: app.csrfProtection, config: LIMIT }, async (req, reply) => {
    const { p, u } = await managed(req);
    const d = await loadDebate(p, req);
    try {
      await db8.closeDebate(ctx, u.id, d, formBody(req));
      return adminPage(req, reply, 200, [], 'Débat clos ; la conclusion est publiée.');
    } catch (e) {
      if (e instanceof ValidationFailed) return adminPage(req, reply, 422, e.errors);
      if (e instanceof UserError && e.statusCode === 409) return adminPage(req, reply, 409, [{ field: 'conclusion', message: e.message }]);
      throw e;
    }
  });
}

/**
 * Staff pages (espace de gestion): the moderation queue of a process (hide with a reason, or
 * dismiss), proposals to answer (official answer with the state change, custom states, valuators
 * and their private notes), meeting minutes. Permissions: consultation.manage / .moderate /
 * .evaluate on the process's territory.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html, type Raw } from '../../../platform/html/html.ts';
import { breadcrumb, notice } from '../../../platform/html/components.ts';
import { NotFoundError, UserError, ForbiddenError } from '../../../platform/http/errors.ts';
import { can, currentUser, scopesFor, findUserByEmail, getGrants, getUser, requirePermission, requireSignedIn, sendMailFromRequest, type Action, type CurrentUser } from '../../accounts/index.ts';
import { ANSWER_STATES, REPORT_REASONS, STATE_LABELS, ValidationFailed, phaseStatus, plural, type FieldError } from '../model.ts';
import * as svc from '../service.ts';
import { listSurveys } from '../surveys.ts';
import { listDebates } from '../debates.ts';
import { csrf, errorSummary, fieldError, fmtDateTime, formBody, invalid, page, processHref, send } from './ui.ts';

export function registerStaffPages(app: App, ctx: AppContext) {
  /** The process of the URL and the signed-in person, who must hold `action` on its territory. */
  const guard = async (req: FastifyRequest, action: Action): Promise<{ p: svc.Process; u: CurrentUser }> => {
    const u = await currentUser(req);
    if (!u) throw new UserError('Connexion requise.', 401, null, 'unauthenticated');
    const p = await svc.getProcess(ctx.db, (req.params as { slug: string }).slug, { all: true });
    if (!p) throw new NotFoundError('Concertation introuvable.');
    if (!can(u, action, svc.processResource(p))) throw new ForbiddenError();
    return { p, u };
  };
  // Route guards (checked again in the handlers, on the process of the URL).
  const processOf = async (req: FastifyRequest) => {
    const p = await svc.getProcess(ctx.db, (req.params as { slug: string }).slug, { all: true });
    return p ? svc.processResource(p) : null;
  };
  const moderateGuard = { preHandler: requirePermission('consultation.moderate', processOf) };
  const manageGuard = { preHandler: requirePermission('consultation.manage', processOf) };
  const signedIn = { preHandler: requireSignedIn };
  const crumbs = (p: svc.Process, last?: string) => breadcrumb([{ href: '/gestion', label: 'Gestion' }, { href: '/gestion/concertations', label: 'Concertations' }, ...(last ? [{ href: `/gestion/concertations/${p.slug}`, label: p.title }, { label: last }] : [{ label: p.title }])]);

  app.get('/gestion/concertations', signedIn, async (req, reply) => {
    const u = await currentUser(req);
    if (!u) throw new UserError('Connexion requise.', 401, null, 'unauthenticated');
    const mine = (await svc.listProcesses(ctx.db, { all: true })).filter((p) => (['consultation.manage', 'consultation.moderate', 'consultation.evaluate'] as const).some((a) => can(u, a, svc.processResource(p))));
    if (!mine.length && !can(u, 'backoffice.access')) throw new ForbiddenError();
    return send(reply, 200, page(ctx, 'Gestion des concertations', html`${breadcrumb([{ href: '/gestion', label: 'Gestion' }, { label: 'Concertations' }])}<h1>Concertations</h1>
${(() => { const s = scopesFor(u, 'consultation.manage'); return s.platform || s.regions.length || s.departements.length ? html`<p><a class="button" href="/gestion/concertations/nouvelle">Nouvelle concertation</a></p>` : ''; })()}
${mine.length ? html`<ul>${mine.map((p) => html`<li><a href="/gestion/concertations/${p.slug}">${p.title}</a>${p.published ? '' : ' (non publiée)'}</li>`)}</ul>` : html`<p>Aucune concertation sur vos territoires.</p>`}`, { noindex: true }));
  });

  const processAdmin = async (req: FastifyRequest, reply: FastifyReply, status: number, flash: { kind: 'success' | 'error'; text: string } | null, errors: FieldError[] = []) => {
    const { p, u } = await guard(req, 'consultation.moderate');
    const queue = await svc.moderationQueue(ctx.db, p.id);
    const pending = await svc.listProposals(ctx.db, p.id, { state: 'not_answered', limit: 100, withHidden: true });
    const evaluating = await svc.listProposals(ctx.db, p.id, { state: 'evaluating', limit: 100, withHidden: true });
    const manage = can(u, 'consultation.manage', svc.processResource(p));
    const meetings = manage ? await svc.listMeetings(ctx.db, p.id) : [];
    const [surveys, debates, budgets] = manage ? [await listSurveys(ctx.db, p.id), await listDebates(ctx.db, p.id), await svc.listBudgets(ctx.db, p.id)] : [[], [], []];
    const st = phaseStatus(p.phases, new Date());
    const body: Raw = html`${crumbs(p)}${flash ? notice(flash.kind, flash.text) : ''}${errorSummary(errors)}
<h1>${p.title}</h1><p>${st.current ? `Étape en cours : ${st.current.title}.` : 'Aucune étape en cours.'} <a href="${processHref(p.slug)}">Page publique</a></p>
${manage ? html`<ul class="inline-list"><li><a href="/gestion/concertations/${p.slug}/modifier">Modifier la concertation et ses étapes</a></li><li><a href="/gestion/concertations/${p.slug}/budgets/nouveau">Ajouter un budget participatif</a></li><li><a href="/gestion/concertations/${p.slug}/rencontres/nouvelle">Ajouter une rencontre</a></li><li><a href="/gestion/concertations/${p.slug}/questionnaires/nouveau">Ajouter un questionnaire</a></li><li><a href="/gestion/concertations/${p.slug}/debats/nouveau">Ouvrir un débat</a></li><li><a href="/gestion/concertations/${p.slug}/identite">Vérification d’identité (OpenID Connect)${p.identity?.requiredFor.length ? ` : ${p.identity.label}` : ''}</a></li></ul>
${surveys.length ? html`<h2>Questionnaires</h2><ul>${surveys.map((s) => html`<li><a href="/gestion/concertations/${p.slug}/questionnaires/${s.slug}">${s.title}</a> (${plural(s.responses, 'réponse', 'réponses')})</li>`)}</ul>` : ''}
${debates.length ? html`<h2>Débats</h2><ul>${debates.map((d) => html`<li><a href="/gestion/concertations/${p.slug}/debats/${d.slug}">${d.title}</a>${d.closedAt ? ' (clos)' : ''}</li>`)}</ul>` : ''}
${budgets.length ? html`<h2>Budgets participatifs</h2><ul>${budgets.map((b) => html`<li>${b.title} — <a href="/gestion/concertations/${p.slug}/budgets/${b.slug}/modifier">modifier</a> · <a href="/gestion/concertations/${p.slug}/budgets/${b.slug}/projets">projets</a></li>`)}</ul>` : ''}
${meetings.length ? html`<h2>Rencontres</h2><ul>${meetings.map((m) => html`<li>${m.title} (${fmtDateTime(m.startsAt)}) — <a href="/gestion/concertations/${p.slug}/rencontres/${m.id}/modifier">modifier</a></li>`)}</ul>` : ''}` : ''}
<h2 id="moderation">File de modération (${queue.length})</h2>
${queue.length ? html`<ul class="cs-list">${queue.map((q) => html`<li><p><strong>${q.kind === 'proposal' ? 'Proposition' : q.kind === 'contribution' ? 'Contribution au débat' : 'Commentaire'}</strong> ${q.debate ? `(débat « ${q.debate} »)` : `(proposition n° ${q.proposalNumber})`} — ${plural(q.reports, 'signalement', 'signalements')} : ${q.reasons.map((r) => REPORT_REASONS[r as keyof typeof REPORT_REASONS] ?? r).join(', ')}${q.hidden ? ' — déjà masqué' : ''}</p>
<blockquote>${q.excerpt}</blockquote>
<form method="post" action="/gestion/concertations/${p.slug}/moderation" class="cs-form">${csrf(reply)}<input type="hidden" name="kind" value="${q.kind}"><input type="hidden" name="id" value="${q.id}">
<div class="field"><label for="reason-${q.id}">Motif (publié dans le journal de modération)</label>${fieldError(errors, `reason-${q.id}`)}<input type="text" id="reason-${q.id}" name="reason" maxlength="500"></div>
<button type="submit" name="decision" value="hide">Masquer</button> <button type="submit" name="decision" value="dismiss">Rejeter les signalements</button></form></li>`)}</ul>` : html`<p>Rien à modérer.</p>`}
<h2>Propositions sans réponse (${pending.total})</h2>
<ul>${pending.items.map((pr) => html`<li><a href="/gestion/concertations/${p.slug}/propositions/${pr.number}">n° ${pr.number} — ${pr.title}</a> (${plural(pr.supports, 'soutien', 'soutiens')})</li>`)}</ul>
<h2>Propositions à l’étude (${evaluating.total})</h2>
<ul>${evaluating.items.map((pr) => html`<li><a href="/gestion/concertations/${p.slug}/propositions/${pr.number}">n° ${pr.number} — ${pr.title}</a></li>`)}</ul>
${meetings.length ? html`<h2>Rencontres : comptes rendus</h2><ul>${meetings.map((m) => html`<li>${m.title} (${fmtDateTime(m.startsAt)}) — ${m.minutes ? 'compte rendu publié' : html`<form method="post" action="/gestion/concertations/${p.slug}/rencontres/${m.id}/compte-rendu" class="cs-form">${csrf(reply)}<label for="min-${m.id}">Compte rendu</label><textarea id="min-${m.id}" name="minutes" rows="3"></textarea><button type="submit">Publier</button></form>`}</li>`)}</ul>` : ''}`;
    return send(reply, status, page(ctx, `Gestion — ${p.title}`, body, { noindex: true }));
  };

  app.get('/gestion/concertations/:slug', moderateGuard, async (req, reply) => processAdmin(req, reply, 200, null));

  app.post('/gestion/concertations/:slug/moderation', { ...moderateGuard, preValidation: app.csrfProtection }, async (req, reply) => {
    const { p, u } = await guard(req, 'consultation.moderate');
    const v = formBody(req);
    const kind = String(v.kind ?? '');
    const id = String(v.id ?? '');
    const target = await svc.processOfTarget(ctx.db, kind, id);
    if (!target || target.id !== p.id) throw new NotFoundError('Contenu introuvable dans cette concertation.');
    try {
      await svc.moderate(ctx, u.id, kind, id, String(v.decision ?? ''), v.reason);
      return processAdmin(req, reply, 200, { kind: 'success', text: v.decision === 'hide' ? 'Contenu masqué ; le motif figure au journal de modération.' : 'Signalements rejetés.' });
    } catch (e) {
      if (e instanceof ValidationFailed) return processAdmin(req, reply, 422, null, e.errors.map((x) => ({ field: `${x.field}-${id}`, message: x.message })));
      if (e instanceof UserError && e.statusCode === 409) return processAdmin(req, reply, 409, { kind: 'error', text: e.message });
      throw e;
    }
  });

  const loadProposal = async (req: FastifyRequest, p: svc.Process) => {
    const n = (req.params as { n: string }).n;
    const pr = /^\d{1,9}$/.test(n) ? await svc.getProposal(ctx.db, p.id, Number(n)) : null;
    if (!pr) throw new NotFoundError('Proposition introuvable.');
    return pr;
  };

  /** Staff who manage, or valuators assigned to this proposal (with consultation.evaluate). */
  const guardProposal = async (req: FastifyRequest) => {
    const u = await currentUser(req);
    if (!u) throw new UserError('Connexion requise.', 401, null, 'unauthenticated');
    const p = await svc.getProcess(ctx.db, (req.params as { slug: string }).slug, { all: true });
    if (!p) throw new NotFoundError('Concertation introuvable.');
    const pr = await loadProposal(req, p);
    const manage = can(u, 'consultation.manage', svc.processResource(p));
    const valuator = can(u, 'consultation.evaluate', svc.processResource(p)) && (await svc.isValuator(ctx.db, pr.id, u.id));
    if (!manage && !valuator) throw new ForbiddenError();
    return { p, pr, u, manage };
  };

  const proposalAdmin = async (req: FastifyRequest, reply: FastifyReply, status: number, flash: { kind: 'success' | 'error'; text: string } | null, errors: FieldError[] = []) => {
    const { p, pr, manage } = await guardProposal(req);
    const notes = await svc.notesOf(ctx.db, pr.id);
    const valuators = await Promise.all((await svc.valuatorsOf(ctx.db, pr.id)).map((id) => getUser(ctx.db, id)));
    const names = new Map(valuators.filter((x) => !!x).map((x) => [x!.id, x!.displayName]));
    for (const n of notes) if (!names.has(n.authorId)) names.set(n.authorId, (await getUser(ctx.db, n.authorId))?.displayName ?? '—');
    const base = `/gestion/concertations/${p.slug}/propositions/${pr.number}`;
    const body: Raw = html`${crumbs(p, `Proposition n° ${pr.number}`)}${flash ? notice(flash.kind, flash.text) : ''}${errorSummary(errors)}
<h1>${pr.title}</h1><p>État : ${svc.stateLabel(p, pr)} · ${plural(pr.supports, 'soutien', 'soutiens')} · <a href="${processHref(p.slug, `/propositions/${pr.number}`)}">page publique</a></p>
<div>${pr.body}</div>
${pr.answer ? html`<h2>Réponse publiée</h2><p>${pr.answer}</p>` : ''}
${manage ? html`<h2>Réponse officielle</h2><form method="post" action="${base}/reponse" class="cs-form">${csrf(reply)}
<div class="field"><label for="f-state">État</label>${fieldError(errors, 'state')}<select id="f-state" name="state"${invalid(errors, 'state')}>${ANSWER_STATES.map((s) => html`<option value="${s}">${STATE_LABELS[s]}</option>`)}${p.customStates.map((s) => html`<option value="custom:${s.key}">${s.label} (${STATE_LABELS[s.base as keyof typeof STATE_LABELS]})</option>`)}</select></div>
<div class="field"><label for="f-answer">Réponse publiée <span class="hint">obligatoire sauf pour « en cours d’étude » ; l’auteur et les personnes qui suivent la proposition sont prévenus par e-mail</span></label>${fieldError(errors, 'answer')}<textarea id="f-answer" name="answer" rows="6" maxlength="5000"${invalid(errors, 'answer')}></textarea></div>
<button type="submit">Publier la réponse</button></form>
<h2>Évaluateurs</h2><ul>${[...names].filter(([id]) => valuators.some((x) => x?.id === id)).map(([, n]) => html`<li>${n}</li>`)}</ul>
<form method="post" action="${base}/evaluateurs" class="cs-form">${csrf(reply)}<div class="field"><label for="f-email">Confier à (adresse e-mail d’une personne ayant le rôle de relecteur ou d’équipe régionale)</label>${fieldError(errors, 'email')}<input type="text" id="f-email" name="email" autocomplete="off"${invalid(errors, 'email')}></div><button type="submit">Confier l’évaluation</button></form>` : ''}
<h2>Notes privées des évaluateurs</h2><p>Jamais publiées ni exportées.</p>
${notes.length ? html`<ul>${notes.map((n) => html`<li><small>${names.get(n.authorId)} — ${fmtDateTime(n.createdAt)}</small><br>${n.body}</li>`)}</ul>` : html`<p>Aucune note.</p>`}
<form method="post" action="${base}/notes" class="cs-form">${csrf(reply)}<div class="field"><label for="f-note">Nouvelle note</label>${fieldError(errors, 'note')}<textarea id="f-note" name="note" rows="3" maxlength="2000"${invalid(errors, 'note')}></textarea></div><button type="submit">Ajouter la note</button></form>`;
    return send(reply, status, page(ctx, `Proposition n° ${pr.number}`, body, { noindex: true }));
  };

  app.get('/gestion/concertations/:slug/propositions/:n', signedIn, async (req, reply) => proposalAdmin(req, reply, 200, null));

  const post = (suffix: string, fn: (req: FastifyRequest, x: Awaited<ReturnType<typeof guardProposal>>, v: Record<string, unknown>) => Promise<string>) =>
    app.post(`/gestion/concertations/:slug/propositions/:n/${suffix}`, { ...signedIn, preValidation: app.csrfProtection }, async (req, reply) => {
      const x = await guardProposal(req);
      try {
        return proposalAdmin(req, reply, 200, { kind: 'success', text: await fn(req, x, formBody(req)) });
      } catch (e) {
        if (e instanceof ValidationFailed) return proposalAdmin(req, reply, 422, null, e.errors);
        if (e instanceof UserError && e.statusCode === 409) return proposalAdmin(req, reply, 409, null, [{ field: e.field ?? 'state', message: e.message }]);
        throw e;
      }
    });

  post('reponse', async (req, { p, pr, u, manage }, v) => {
    if (!manage) throw new ForbiddenError();
    const emailsOf = async (ids: string[]) => (await Promise.all(ids.map((id) => getUser(ctx.db, id)))).filter((x) => x && x.status === 'active').map((x) => x!.email);
    await svc.answerProposal(ctx, p, u.id, pr.id, v, (mail) => sendMailFromRequest(req, mail), emailsOf);
    return 'Réponse publiée ; l’auteur et les personnes qui suivent la proposition sont prévenus.';
  });
  post('evaluateurs', async (_req, { p, pr, u, manage }, v) => {
    if (!manage) throw new ForbiddenError();
    const email = typeof v.email === 'string' ? v.email.trim().slice(0, 254) : '';
    const target = email ? await findUserByEmail(ctx.db, email) : null;
    if (!target) throw new ValidationFailed([{ field: 'email', message: 'Adresse : aucun compte actif ne porte cette adresse.' }]);
    const grants = await getGrants(ctx.db, target.id);
    if (!can({ id: target.id, grants }, 'consultation.evaluate', svc.processResource(p))) throw new ValidationFailed([{ field: 'email', message: 'Adresse : cette personne n’a pas de rôle d’évaluation sur ce territoire.' }]);
    await svc.assignValuator(ctx, u.id, pr.id, target.id);
    return `Évaluation confiée à ${target.displayName}.`;
  });
  post('notes', async (_req, { pr, u }, v) => {
    await svc.addNote(ctx, u.id, pr.id, v);
    return 'Note ajoutée.';
  });

  app.post('/gestion/concertations/:slug/rencontres/:id/compte-rendu', { ...manageGuard, preValidation: app.csrfProtection }, async (req, reply) => {
    const { p, u } = await guard(req, 'consultation.manage');
    const m = await svc.getMeeting(ctx.db, p.id, (req.params as { id: string }).id);
    if (!m) throw new NotFoundError('Rencontre introuvable.');
    try {
      await svc.setMinutes(ctx, u.id, m.id, formBody(req));
      return processAdmin(req, reply, 200, { kind: 'success', text: 'Compte rendu publié.' });
    } catch (e) {
      if (e instanceof ValidationFailed) return processAdmin(req, reply, 422, null, e.errors);
      throw e;
    }
  });
}

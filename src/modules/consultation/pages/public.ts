/**
 * Public consultation pages: the processes, a process and where it stands, its proposals
 * (submit, edit, withdraw, support, comment, report), meetings, results (« ce qu’il est devenu »)
 * and the moderation log. Every form works without JavaScript; a refusal re-renders the page with
 * the reason, and nothing is saved.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html, raw, type Raw } from '../../../platform/html/html.ts';
import { breadcrumb, notice } from '../../../platform/html/components.ts';
import { NotFoundError, UserError } from '../../../platform/http/errors.ts';
import { can, uploadRoute } from '../../accounts/index.ts';
import { getPlacesByUids } from '../../places/index.ts';
import {
  CAPABILITIES,
  CAPABILITY_LABELS,
  REPORT_REASONS,
  RESULT_STATUSES,
  STATE_LABELS,
  STATES,
  ValidationFailed,
  editable,
  honeypotFilled,
  parseProposal,
  phaseAllows,
  phaseStatus,
  plural,
  type FieldError,
} from '../model.ts';
import * as svc from '../service.ts';
import { MAX_PROPOSAL_FILE_BYTES, PROPOSAL_FILE_KINDS, proposalFileInfo } from '../proposal-file.ts';
import { acceptMultipart, uploadedFile } from '../../../platform/http/multipart.ts';
import { listSurveys } from '../surveys.ts';
import { listDebates } from '../debates.ts';
import { csrf, errorSummary, fieldError, fmtDate, fmtDateTime, formBody, identityBanner, identityNotice, invalid, page, participant, processHref, send, signInOrUp } from './ui.ts';

const fileSize = (n: number) => (n < 1024 * 1024 ? `${Math.max(1, Math.round(n / 1024))} Ko` : `${(n / 1024 / 1024).toLocaleString('fr-FR', { maximumFractionDigits: 1 })} Mo`);
const SPAM_LIMIT = { rateLimit: { max: 20, timeWindow: '1 minute' } };

export async function loadProcess(ctx: AppContext, req: FastifyRequest): Promise<svc.Process> {
  const slug = (req.params as { slug: string }).slug;
  const p = await svc.getProcess(ctx.db, slug);
  if (!p) throw new NotFoundError('Concertation introuvable.');
  return p;
}

async function loadProposal(ctx: AppContext, p: svc.Process, req: FastifyRequest): Promise<svc.Proposal> {
  const n = (req.params as { n: string }).n;
  const pr = /^\d{1,9}$/.test(n) ? await svc.getProposal(ctx.db, p.id, Number(n)) : null;
  if (!pr) throw new NotFoundError('Proposition introuvable.');
  return pr;
}

export function phaseTimeline(p: svc.Process, now: Date): Raw {
  const st = phaseStatus(p.phases, now);
  return html`<h2>Les étapes</h2><ol class="cs-phases">${p.phases.map((ph) => {
    const cur = st.current?.id === ph.id;
    const open = CAPABILITIES.filter((c) => phaseAllows(ph, c)).map((c) => CAPABILITY_LABELS[c]);
    return html`<li${cur ? raw(' aria-current="step"') : ''}>${cur ? html`<span class="visually-hidden">Étape en cours : </span>` : ''}${ph.title}<br><small>du ${fmtDate(ph.startsAt)} au ${fmtDate(ph.endsAt)}${open.length ? ` — ouvert : ${open.join(', ')}` : ''}</small></li>`;
  })}</ol>
<p role="status">${st.current ? html`Étape en cours : <strong>${st.current.title}</strong>, jusqu’au ${fmtDateTime(st.current.endsAt)}.` : st.over ? 'La concertation est terminée.' : st.next ? html`Prochaine étape : <strong>${st.next.title}</strong>, à partir du ${fmtDateTime(st.next.startsAt)}.` : 'Aucune étape en cours.'}</p>`;
}

export function registerPublicPages(app: App, ctx: AppContext) {
  const frame = (reply: FastifyReply, status: number, title: string, body: Raw, noindex = false) => send(reply, status, page(ctx, title, body, { noindex }));

  app.get('/concertations', async (_req, reply) => {
    const now = new Date();
    const list = await svc.listProcesses(ctx.db);
    return frame(reply, 200, 'Concertations', html`<h1>Concertations et budgets participatifs</h1>
<p>La collectivité consulte les habitants et les acteurs du numérique : proposez, soutenez, votez, et suivez ce que deviennent les propositions.</p>
${list.length ? html`<ul class="cs-list">${list.map((p) => {
      const st = phaseStatus(p.phases, now);
      return html`<li><h2><a href="${processHref(p.slug)}">${p.title}</a></h2><p>${st.current ? `En cours : ${st.current.title}` : st.over ? 'Terminée' : st.next ? `Prochaine étape le ${fmtDate(st.next.startsAt)} : ${st.next.title}` : ''}</p></li>`;
    })}</ul>` : html`<p>Aucune concertation pour le moment.</p>`}`);
  });

  app.get('/concertations/:slug', async (req, reply) => {
    const p = await loadProcess(ctx, req);
    const now = new Date();
    const q = req.query as Record<string, unknown>;
    const state = typeof q.etat === 'string' && (STATES as readonly string[]).includes(q.etat) ? q.etat : null;
    const category = typeof q.theme === 'string' && p.categories.includes(q.theme) ? q.theme : null;
    const cursor = typeof q.apres === 'string' && q.apres ? q.apres : null;
    const list = await svc.listProposals(ctx.db, p.id, { cursor, limit: 30, state, category });
    const [budgets, meetings, surveys, debates] = [await svc.listBudgets(ctx.db, p.id), await svc.listMeetings(ctx.db, p.id), await listSurveys(ctx.db, p.id), await listDebates(ctx.db, p.id)];
    const cur = phaseStatus(p.phases, now).current;
    const qs = (extra: Record<string, string | null>) => {
      const u = new URLSearchParams();
      for (const [k, v] of Object.entries({ etat: state, theme: category, ...extra })) if (v) u.set(k, v);
      const s = u.toString();
      return s ? `?${s}` : '';
    };
    const body = html`${breadcrumb([{ href: '/concertations', label: 'Concertations' }, { label: p.title }])}
<h1>${p.title}</h1><p>${p.description}</p>
${phaseTimeline(p, now)}
${await identityBanner(ctx, p, (await participant(req))?.user.id ?? null)}
<nav aria-label="Dans cette concertation"><ul>
${meetings.length ? html`<li><a href="${processHref(p.slug, '/rencontres')}">Rencontres (${meetings.length})</a></li>` : ''}
${budgets.map((b) => html`<li><a href="${processHref(p.slug, `/budgets/${b.slug}`)}">Budget participatif : ${b.title}</a></li>`)}
${surveys.map((s) => html`<li><a href="${processHref(p.slug, `/questionnaires/${s.slug}`)}">Questionnaire : ${s.title}</a>${s.resultsPublished ? html` (<a href="${processHref(p.slug, `/questionnaires/${s.slug}/resultats`)}">résultats</a>)` : ''}</li>`)}
${debates.map((d) => html`<li><a href="${processHref(p.slug, `/debats/${d.slug}`)}">Débat : ${d.title}</a>${d.closedAt ? ' (clos)' : ''}</li>`)}
<li><a href="${processHref(p.slug, '/resultats')}">Ce que sont devenues les propositions</a></li>
<li><a href="${processHref(p.slug, '/moderation')}">Journal de modération</a></li></ul></nav>
<h2 id="propositions">Propositions</h2>
${phaseAllows(cur, 'proposals') ? html`<p><a class="button" href="${processHref(p.slug, '/propositions/nouvelle')}">Déposer une proposition</a></p>` : html`<p>Le dépôt de propositions n’est pas ouvert dans l’étape en cours.</p>`}
<form method="get" action="${processHref(p.slug)}" class="cs-form"><div class="field"><label for="etat">État</label><select id="etat" name="etat"><option value="">Tous</option>${STATES.map((s) => html`<option value="${s}"${s === state ? raw(' selected') : ''}>${STATE_LABELS[s]}</option>`)}</select></div>
${p.categories.length ? html`<div class="field"><label for="theme">Thème</label><select id="theme" name="theme"><option value="">Tous</option>${p.categories.map((c) => html`<option${c === category ? raw(' selected') : ''}>${c}</option>`)}</select></div>` : ''}
<button type="submit">Filtrer</button></form>
<p>${plural(list.total, 'proposition', 'propositions')}</p>
<ul class="cs-list">${list.items.map((pr) => html`<li><h3><a href="${processHref(p.slug, `/propositions/${pr.number}`)}">${pr.title}</a></h3>
<p><span class="cs-state">${svc.stateLabel(p, pr)}</span> · ${plural(pr.supports, 'soutien', 'soutiens')} · ${plural(pr.comments, 'commentaire', 'commentaires')}${pr.category ? ` · ${pr.category}` : ''}</p></li>`)}</ul>
${list.nextCursor ? html`<p><a rel="next" href="${processHref(p.slug, qs({ apres: list.nextCursor }))}">Propositions suivantes</a></p>` : ''}`;
    return frame(reply, 200, p.title, body, !!(state || category || cursor));
  });

  // ---- submit / edit a proposal
  const proposalForm = async (req: FastifyRequest, reply: FastifyReply, status: number, p: svc.Process, v: Record<string, unknown>, errors: FieldError[], editing?: svc.Proposal) => {
    const val = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : '');
    const action = editing ? processHref(p.slug, `/propositions/${editing.number}/modifier`) : processHref(p.slug, '/propositions');
    const title = editing ? `Modifier la proposition n° ${editing.number}` : 'Déposer une proposition';
    const body = html`${breadcrumb([{ href: '/concertations', label: 'Concertations' }, { href: processHref(p.slug), label: p.title }, { label: title }])}
<h1>${title}</h1>${errorSummary(errors)}
${await identityNotice(ctx, p, (await participant(req))?.user.id ?? null, 'proposals', processHref(p.slug, '/propositions/nouvelle'))}
<form class="cs-form" method="post" action="${action}"${editing ? '' : raw(' enctype="multipart/form-data"')} novalidate>${csrf(reply)}
<div class="field"><label for="f-title">Titre <span class="hint">5 à 150 caractères</span></label>${fieldError(errors, 'title')}<input type="text" id="f-title" name="title" maxlength="150" required value="${val('title')}"${invalid(errors, 'title')}></div>
<div class="field"><label for="f-body">Description <span class="hint">ce que vous proposez, pour qui, où ; n’y mettez pas de données personnelles</span></label>${fieldError(errors, 'body')}<textarea id="f-body" name="body" rows="8" maxlength="5000" required${invalid(errors, 'body')}>${val('body')}</textarea></div>
${p.categories.length ? html`<div class="field"><label for="f-category">Thème (facultatif)</label>${fieldError(errors, 'category')}<select id="f-category" name="category"${invalid(errors, 'category')}><option value="">—</option>${p.categories.map((c) => html`<option${c === val('category') ? raw(' selected') : ''}>${c}</option>`)}</select></div>` : ''}
<div class="field"><label for="f-communeCode">Commune concernée, code INSEE (facultatif) <span class="hint">par exemple 21231 pour Dijon</span></label>${fieldError(errors, 'communeCode')}<input type="text" id="f-communeCode" name="communeCode" maxlength="5" value="${val('communeCode')}"${invalid(errors, 'communeCode')}></div>
<div class="field"><label for="f-placeUid">Lieu de l’annuaire, identifiant (facultatif)</label>${fieldError(errors, 'placeUid')}<input type="text" id="f-placeUid" name="placeUid" maxlength="200" value="${val('placeUid')}"${invalid(errors, 'placeUid')}></div>
${editing ? '' : html`<div class="field"><label for="f-file">Fichier (facultatif) <span class="hint">un PDF ou une image PNG ou JPEG, 5 Mo au plus, visible de tous ; il se remplace ou se retire depuis la page de la proposition</span></label>${fieldError(errors, 'file')}<input type="file" id="f-file" name="file" accept=".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"${invalid(errors, 'file')}></div>`}
<div class="cs-hp" aria-hidden="true"><label for="f-website">Ne pas remplir</label><input type="text" id="f-website" name="website" tabindex="-1" autocomplete="off"></div>
<button type="submit">${editing ? 'Enregistrer' : 'Déposer la proposition'}</button></form>`;
    return frame(reply, status, title, body, true);
  };

  app.get('/concertations/:slug/propositions/nouvelle', async (req, reply) => {
    const p = await loadProcess(ctx, req);
    const me = await participant(req);
    if (!me) return reply.redirect(`/compte/connexion?retour=${encodeURIComponent(processHref(p.slug, '/propositions/nouvelle'))}`);
    svc.assertMayTakePart(p, me.who, 'proposals', new Date());
    return proposalForm(req, reply, 200, p, {}, []);
  });

  // The form may carry a file (multipart): a scope of its own accepts it; a visitor is refused
  // before the body is read (uploadRoute), the file checked before anything is written.
  const signedInFirst = async (req: FastifyRequest) => {
    if (!(await participant(req))) throw new UserError('Connectez-vous pour participer.', 401, null, 'unauthenticated');
  };
  void app.register(async (scope) => {
    acceptMultipart(scope, { maxParts: 12 });
    scope.post('/concertations/:slug/propositions', { ...uploadRoute(signedInFirst as never, MAX_PROPOSAL_FILE_BYTES + 64 * 1024), preValidation: app.csrfProtection, config: SPAM_LIMIT }, async (req, reply) => {
      const p = await loadProcess(ctx, req);
      const me = await participant(req);
      const v = formBody(req);
      if (honeypotFilled(v)) throw new UserError('Envoi refusé.', 400, 'website', 'spam');
      try {
        const input = parseProposal(v, p.categories);
        const pr = await svc.submitProposal(ctx, p, me?.who ?? null, input, new Date(), uploadedFile(req.body, 'file'));
        return reply.redirect(processHref(p.slug, `/propositions/${pr.number}`), 303);
      } catch (e) {
        if (e instanceof ValidationFailed) return proposalForm(req, reply, 422, p, v, e.errors);
        throw e;
      }
    });
  });

  app.get('/concertations/:slug/propositions/:n/modifier', async (req, reply) => {
    const p = await loadProcess(ctx, req);
    const pr = await loadProposal(ctx, p, req);
    const me = await participant(req);
    if (!me || me.user.id !== pr.authorId) throw new UserError('Seul l’auteur peut modifier sa proposition.', 403, null, 'forbidden');
    if (!editable(pr.state)) throw new UserError('Cette proposition est à l’étude ou a reçu une réponse : elle ne peut plus être modifiée.', 409);
    return proposalForm(req, reply, 200, p, { title: pr.title, body: pr.body, category: pr.category ?? '', communeCode: pr.communeCode ?? '', placeUid: pr.placeUid ?? '' }, [], pr);
  });

  app.post('/concertations/:slug/propositions/:n/modifier', { preValidation: app.csrfProtection, config: SPAM_LIMIT }, async (req, reply) => {
    const p = await loadProcess(ctx, req);
    const pr = await loadProposal(ctx, p, req);
    const me = await participant(req);
    const v = formBody(req);
    try {
      await svc.editProposal(ctx, p, me?.who ?? null, pr.id, parseProposal(v, p.categories));
      return reply.redirect(processHref(p.slug, `/propositions/${pr.number}`), 303);
    } catch (e) {
      if (e instanceof ValidationFailed) return proposalForm(req, reply, 422, p, v, e.errors, pr);
      throw e;
    }
  });

  app.post('/concertations/:slug/propositions/:n/retirer', { preValidation: app.csrfProtection }, async (req, reply) => {
    const p = await loadProcess(ctx, req);
    const pr = await loadProposal(ctx, p, req);
    const me = await participant(req);
    if (!me) throw new UserError('Connectez-vous.', 401, null, 'unauthenticated');
    await svc.withdrawProposal(ctx, me.who, pr.id);
    return reply.redirect(processHref(p.slug, `/propositions/${pr.number}`), 303);
  });

  // ---- a proposal: answer, supports, comments
  const proposalPage = async (req: FastifyRequest, reply: FastifyReply, status: number, flash: { kind: 'success' | 'error'; text: string } | null, errors: FieldError[] = []) => {
    const p = await loadProcess(ctx, req);
    const pr = await loadProposal(ctx, p, req);
    const me = await participant(req);
    const moderator = !!me && can(me.user, 'consultation.moderate', svc.processResource(p));
    if (pr.hidden && !moderator) {
      return frame(reply, 410, 'Proposition masquée', html`<h1>Proposition masquée</h1><p>La modération a masqué cette proposition. Motif : ${pr.hiddenReason}</p><p><a href="${processHref(p.slug)}">Retour à la concertation</a></p>`);
    }
    const now = new Date();
    const cur = phaseStatus(p.phases, now).current;
    const after = typeof (req.query as { apres?: unknown }).apres === 'string' ? (req.query as { apres: string }).apres : null;
    const comments = await svc.listComments(ctx.db, pr.id, { after, limit: 50, moderator });
    const supported = me ? await svc.hasSupported(ctx.db, pr.id, me.user.id) : false;
    const place = pr.placeUid ? (await getPlacesByUids(ctx.db, [pr.placeUid]))[0] : null;
    const file = await proposalFileInfo(ctx.db, pr.id);
    const mayAttach = !!me && me.user.id === pr.authorId && editable(pr.state) && !pr.hidden && phaseAllows(cur, 'proposals');
    const children = new Map<string | null, svc.Comment[]>();
    for (const c of comments.items) {
      const key = c.parentId && comments.items.some((x) => x.id === c.parentId) ? c.parentId : null;
      children.set(key, [...(children.get(key) ?? []), c]);
    }
    const reportForm = (kind: string, id: string) => html`<details><summary>Signaler</summary><form method="post" action="${processHref(p.slug, '/signalements')}" class="cs-form">${csrf(reply)}
<input type="hidden" name="kind" value="${kind}"><input type="hidden" name="id" value="${id}"><input type="hidden" name="n" value="${pr.number}">
<div class="field"><label for="r-${id}">Motif</label><select id="r-${id}" name="reason">${Object.entries(REPORT_REASONS).map(([k, l]) => html`<option value="${k}">${l}</option>`)}</select></div>
<div class="field"><label for="d-${id}">Précisions (facultatif)</label><input type="text" id="d-${id}" name="details" maxlength="500"></div><button type="submit">Envoyer le signalement</button></form></details>`;
    const thread = (parent: string | null, depth: number): Raw => {
      const list = children.get(parent) ?? [];
      if (!list.length) return html``;
      return html`<ul class="cs-comments">${list.map((c) => html`<li><article class="cs-comment" id="c-${c.id}" aria-label="Commentaire du ${fmtDateTime(c.createdAt)}">
<p><small>Le ${fmtDateTime(c.createdAt)}</small></p>
${c.hidden ? html`<p class="cs-hidden">Commentaire masqué par la modération. Motif : ${c.hiddenReason}</p>${moderator && c.body ? html`<p><small>Texte (visible des modérateurs) :</small> ${c.body}</p>` : ''}` : html`<p>${c.body}</p>`}
${!c.hidden && me ? html`${phaseAllows(cur, 'comments') && depth < 4 ? html`<details><summary>Répondre</summary><form method="post" action="${processHref(p.slug, `/propositions/${pr.number}/commentaires`)}" class="cs-form">${csrf(reply)}<input type="hidden" name="parentId" value="${c.id}">
<div class="field"><label for="a-${c.id}">Votre réponse</label><textarea id="a-${c.id}" name="body" rows="3" maxlength="2000" required></textarea></div><div class="cs-hp" aria-hidden="true"><input type="text" name="website" tabindex="-1" autocomplete="off" aria-label="Ne pas remplir"></div><button type="submit">Répondre</button></form></details>` : ''}${reportForm('comment', c.id)}` : ''}
</article>${thread(c.id, depth + 1)}</li>`)}</ul>`;
    };
    const body = html`${breadcrumb([{ href: '/concertations', label: 'Concertations' }, { href: processHref(p.slug), label: p.title }, { label: `Proposition n° ${pr.number}` }])}
${flash ? notice(flash.kind, flash.text) : ''}${errorSummary(errors)}
<article><h1>${pr.title}</h1>
<p><span class="cs-state">${svc.stateLabel(p, pr)}</span> · déposée le ${fmtDate(pr.createdAt)}${pr.category ? ` · ${pr.category}` : ''}${pr.communeCode ? ` · commune ${pr.communeCode}` : ''}${place ? html` · lieu : <a href="/lieux/${place.uid}">${place.nom}</a>` : ''}</p>
${pr.hidden ? notice('warning', `Masquée par la modération (visible des modérateurs seulement). Motif : ${pr.hiddenReason}`) : ''}
<div>${pr.body.split(/\n{2,}/).map((para) => html`<p>${para}</p>`)}</div>
${file || mayAttach ? html`<section aria-labelledby="fichier"><h2 id="fichier">Fichier joint</h2>
${file ? html`<p><a href="${processHref(p.slug, `/propositions/${pr.number}/fichier`)}" download>${file.name}</a> (${PROPOSAL_FILE_KINDS[file.kind].label}, ${fileSize(file.size)})</p>` : html`<p>Aucun fichier joint.</p>`}
${mayAttach ? html`<form method="post" action="${processHref(p.slug, `/propositions/${pr.number}/fichier`)}" enctype="multipart/form-data" class="cs-form">${csrf(reply)}
<div class="field"><label for="f-file">${file ? 'Remplacer le fichier' : 'Joindre un fichier'} <span class="hint">un PDF ou une image PNG ou JPEG, 5 Mo au plus ; visible de tous</span></label><input type="file" id="f-file" name="file" accept=".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg" required></div>
<button type="submit">Envoyer le fichier</button></form>
${file ? html`<form method="post" action="${processHref(p.slug, `/propositions/${pr.number}/fichier/retirer`)}">${csrf(reply)}<button type="submit">Retirer le fichier</button></form>` : ''}` : ''}</section>` : ''}
${pr.answer ? html`<section aria-labelledby="reponse"><h2 id="reponse">Réponse officielle</h2><p><small>Le ${fmtDate(pr.answeredAt!)}</small></p>${pr.answer.split(/\n{2,}/).map((para) => html`<p>${para}</p>`)}</section>` : ''}
<h2>Soutiens</h2><p>${plural(pr.supports, 'soutien', 'soutiens')}.</p>
${supported ? html`<p>Vous soutenez cette proposition.</p>` : phaseAllows(cur, 'supports') && pr.state !== 'withdrawn' && pr.state !== 'rejected' ? (me ? html`<form method="post" action="${processHref(p.slug, `/propositions/${pr.number}/soutien`)}">${csrf(reply)}<button type="submit">Soutenir cette proposition</button></form>` : signInOrUp(processHref(p.slug, `/propositions/${pr.number}`), 'soutenir')) : html`<p>Les soutiens ne sont pas ouverts dans l’étape en cours.</p>`}
${me && me.user.id === pr.authorId && editable(pr.state) ? html`${phaseAllows(cur, 'proposals') ? html`<p><a href="${processHref(p.slug, `/propositions/${pr.number}/modifier`)}">Modifier ma proposition</a></p>` : ''}
<form method="post" action="${processHref(p.slug, `/propositions/${pr.number}/retirer`)}">${csrf(reply)}<button type="submit">Retirer ma proposition</button></form>` : ''}
${me && !pr.hidden ? reportForm('proposal', pr.id) : ''}
${me && can(me.user, 'consultation.manage', svc.processResource(p)) ? html`<p><a href="/gestion/concertations/${p.slug}/propositions/${pr.number}">Répondre, évaluer (espace de gestion)</a></p>` : ''}
</article>
<section aria-labelledby="commentaires"><h2 id="commentaires">Commentaires (${pr.comments})</h2>
${thread(null, 0)}
${comments.nextCursor ? html`<p><a href="${processHref(p.slug, `/propositions/${pr.number}?apres=${encodeURIComponent(comments.nextCursor)}#commentaires`)}">Commentaires suivants</a></p>` : ''}
${phaseAllows(cur, 'comments') ? (me ? html`<form method="post" action="${processHref(p.slug, `/propositions/${pr.number}/commentaires`)}" class="cs-form">${csrf(reply)}
<div class="field"><label for="f-body">Votre commentaire <span class="hint">2 000 caractères au plus ; pas de données personnelles</span></label>${fieldError(errors, 'body')}<textarea id="f-body" name="body" rows="4" maxlength="2000" required${invalid(errors, 'body')}></textarea></div>
<div class="cs-hp" aria-hidden="true"><label for="f-website">Ne pas remplir</label><input type="text" id="f-website" name="website" tabindex="-1" autocomplete="off"></div>
<button type="submit">Publier le commentaire</button></form>` : signInOrUp(processHref(p.slug, `/propositions/${pr.number}`), 'commenter')) : html`<p>Les commentaires ne sont pas ouverts dans l’étape en cours.</p>`}
</section>`;
    return frame(reply, status, pr.title, body, !!after);
  };

  app.get('/concertations/:slug/propositions/:n', async (req, reply) => proposalPage(req, reply, 200, null));

  /** Runs a participant's action; a refusal re-renders the proposal with its reason (nothing saved). */
  const act = async (req: FastifyRequest, reply: FastifyReply, fn: (p: svc.Process, pr: svc.Proposal, who: svc.Participant | null) => Promise<string>) => {
    const p = await loadProcess(ctx, req);
    const pr = await loadProposal(ctx, p, req);
    const me = await participant(req);
    try {
      const done = await fn(p, pr, me?.who ?? null);
      return proposalPage(req, reply, 200, { kind: 'success', text: done });
    } catch (e) {
      if (e instanceof ValidationFailed) return proposalPage(req, reply, 422, null, e.errors);
      if (e instanceof UserError && e.statusCode !== 404) return proposalPage(req, reply, e.statusCode, { kind: 'error', text: e.message });
      throw e;
    }
  };

  app.post('/concertations/:slug/propositions/:n/soutien', { preValidation: app.csrfProtection, config: SPAM_LIMIT }, async (req, reply) =>
    act(req, reply, async (p, pr, who) => {
      const r = await svc.support(ctx, p, who, pr.id);
      return `Votre soutien est enregistré (${plural(r.supports, 'soutien', 'soutiens')}).`;
    }),
  );

  app.post('/concertations/:slug/propositions/:n/commentaires', { preValidation: app.csrfProtection, config: SPAM_LIMIT }, async (req, reply) =>
    act(req, reply, async (p, pr, who) => {
      const v = formBody(req);
      if (honeypotFilled(v)) throw new UserError('Envoi refusé.', 400, 'website', 'spam');
      await svc.addComment(ctx, p, who, pr.id, v);
      return 'Votre commentaire est publié.';
    }),
  );

  app.post('/concertations/:slug/signalements', { preValidation: app.csrfProtection, config: SPAM_LIMIT }, async (req, reply) => {
    const v = formBody(req);
    (req.params as Record<string, string>).n = typeof v.n === 'string' ? v.n : '';
    return act(req, reply, async (_p, _pr, who) => {
      await svc.report(ctx, who, String(v.kind ?? ''), String(v.id ?? ''), v);
      return 'Merci : votre signalement est transmis à la modération.';
    });
  });

  app.get('/concertations/:slug/moderation', async (req, reply) => {
    const p = await loadProcess(ctx, req);
    const log = await svc.moderationLog(ctx.db, p.id);
    return frame(reply, 200, `Journal de modération — ${p.title}`, html`${breadcrumb([{ href: '/concertations', label: 'Concertations' }, { href: processHref(p.slug), label: p.title }, { label: 'Journal de modération' }])}
<h1>Journal de modération</h1><p>Les contenus masqués par la modération, avec le motif. Les auteurs des signalements ne sont jamais publiés.</p>
${log.length ? html`<table class="cs-table"><caption>Contenus masqués</caption><thead><tr><th scope="col">Date</th><th scope="col">Contenu</th><th scope="col">Motif</th></tr></thead><tbody>
${log.map((l) => html`<tr><td>${fmtDateTime(l.at)}</td><td>${l.kind === 'proposal' ? `Proposition n° ${l.number}` : l.kind === 'contribution' ? 'Contribution à un débat' : `Commentaire sur la proposition n° ${l.number}`}</td><td>${l.reason}</td></tr>`)}</tbody></table>` : html`<p>Aucun contenu masqué.</p>`}`);
  });

  // ---- meetings
  app.get('/concertations/:slug/rencontres', async (req, reply) => {
    const p = await loadProcess(ctx, req);
    const meetings = await svc.listMeetings(ctx.db, p.id);
    const places = new Map((await getPlacesByUids(ctx.db, meetings.map((m) => m.placeUid).filter((x): x is string => !!x))).map((pl) => [pl.uid, pl]));
    return frame(reply, 200, `Rencontres — ${p.title}`, html`${breadcrumb([{ href: '/concertations', label: 'Concertations' }, { href: processHref(p.slug), label: p.title }, { label: 'Rencontres' }])}
<h1>Rencontres</h1>
${meetings.length ? html`<table class="cs-table"><caption>Rencontres de la concertation</caption><thead><tr><th scope="col">Date</th><th scope="col">Rencontre</th><th scope="col">Où</th><th scope="col">Inscrits</th></tr></thead><tbody>
${meetings.map((m) => {
      const pl = m.placeUid ? places.get(m.placeUid) : null;
      return html`<tr><td>${fmtDateTime(m.startsAt)}</td><td><a href="${processHref(p.slug, `/rencontres/${m.id}`)}">${m.title}</a></td><td>${pl ? `${pl.nom}, ${pl.commune}` : m.address ?? (m.onlineUrl ? 'En ligne' : '—')}${m.departement ? ` (${m.departement})` : ''}</td><td class="n">${m.registered}${m.capacity ? ` / ${m.capacity}` : ''}</td></tr>`;
    })}</tbody></table>` : html`<p>Aucune rencontre prévue.</p>`}`);
  });

  const meetingPage = async (req: FastifyRequest, reply: FastifyReply, status: number, flash: { kind: 'success' | 'error'; text: string } | null) => {
    const p = await loadProcess(ctx, req);
    const m = await svc.getMeeting(ctx.db, p.id, (req.params as { id: string }).id);
    if (!m) throw new NotFoundError('Rencontre introuvable.');
    const me = await participant(req);
    const registered = me ? await svc.isRegistered(ctx.db, m.id, me.user.id) : false;
    const place = m.placeUid ? (await getPlacesByUids(ctx.db, [m.placeUid]))[0] : null;
    const full = m.capacity !== null && m.registered >= m.capacity;
    const past = Date.parse(m.startsAt) <= Date.now();
    return frame(reply, status, m.title, html`${breadcrumb([{ href: '/concertations', label: 'Concertations' }, { href: processHref(p.slug), label: p.title }, { href: processHref(p.slug, '/rencontres'), label: 'Rencontres' }, { label: m.title }])}
${flash ? notice(flash.kind, flash.text) : ''}<h1>${m.title}</h1>
<p>Du ${fmtDateTime(m.startsAt)} au ${fmtDateTime(m.endsAt)}.</p>
<p>${place ? html`Lieu : <a href="/lieux/${place.uid}">${place.nom}</a>, ${place.adresse}, ${place.commune}` : m.address ? `Adresse : ${m.address}` : ''}${m.onlineUrl ? html` En ligne : <a href="${m.onlineUrl}" rel="noopener">lien de la visioconférence</a>` : ''}</p>
<p>${m.description}</p>
<p>${plural(m.registered, 'personne inscrite', 'personnes inscrites')}${m.capacity ? ` sur ${m.capacity} places` : ''}.</p>
${registered ? html`<p>Vous êtes inscrit.</p>` : past ? html`<p>Les inscriptions sont closes.</p>` : full ? html`<p>Complet.</p>` : me ? html`<form method="post" action="${processHref(p.slug, `/rencontres/${m.id}/inscription`)}">${csrf(reply)}<button type="submit">M’inscrire</button></form>` : signInOrUp(processHref(p.slug, `/rencontres/${m.id}`), 'vous inscrire')}
${m.minutes ? html`<h2>Compte rendu</h2>${m.minutes.split(/\n{2,}/).map((para) => html`<p>${para}</p>`)}` : ''}`);
  };
  app.get('/concertations/:slug/rencontres/:id', async (req, reply) => meetingPage(req, reply, 200, null));
  app.post('/concertations/:slug/rencontres/:id/inscription', { preValidation: app.csrfProtection, config: SPAM_LIMIT }, async (req, reply) => {
    const p = await loadProcess(ctx, req);
    const m = await svc.getMeeting(ctx.db, p.id, (req.params as { id: string }).id);
    if (!m) throw new NotFoundError('Rencontre introuvable.');
    const me = await participant(req);
    try {
      await svc.registerForMeeting(ctx, me?.who ?? null, m);
      return meetingPage(req, reply, 200, { kind: 'success', text: 'Vous êtes inscrit à la rencontre.' });
    } catch (e) {
      if (e instanceof UserError) return meetingPage(req, reply, e.statusCode, { kind: 'error', text: e.message });
      throw e;
    }
  });

  // ---- what became of it
  app.get('/concertations/:slug/resultats', async (req, reply) => {
    const p = await loadProcess(ctx, req);
    const results = await svc.listResults(ctx.db, p.id);
    const answered = await svc.listProposals(ctx.db, p.id, { state: 'accepted', limit: 200 });
    const roots = results.filter((r) => !r.parentId);
    const kids = (id: string) => results.filter((r) => r.parentId === id);
    const bar = (v: number | null) => (v === null ? html`non mesuré` : html`<span class="cs-bar" aria-hidden="true" style="display:inline-block;width:8rem"><span style="width:${raw(String(v))}%"></span></span> ${v} %`);
    const row = (r: svc.Result): Raw => html`<li><strong>${r.title}</strong> — ${RESULT_STATUSES[r.status]} — avancement : ${bar(r.rolledProgress)}
${r.roadmapPlan && r.roadmapNode ? html` — <a href="/feuilles-de-route/${encodeURIComponent(r.roadmapPlan)}/actions/${encodeURIComponent(r.roadmapNode)}">action de la feuille de route</a>` : ''}
${r.description ? html`<br>${r.description}` : ''}${kids(r.id).length ? html`<ul>${kids(r.id).map(row)}</ul>` : ''}</li>`;
    return frame(reply, 200, `Ce qu’elles sont devenues — ${p.title}`, html`${breadcrumb([{ href: '/concertations', label: 'Concertations' }, { href: processHref(p.slug), label: p.title }, { label: 'Résultats' }])}
<h1>Ce que sont devenues les propositions</h1>
<h2>Réalisations</h2>${roots.length ? html`<ul>${roots.map(row)}</ul>` : html`<p>Aucune réalisation enregistrée pour le moment.</p>`}
<h2>Propositions retenues (${answered.total})</h2>${answered.items.length ? html`<ul>${answered.items.map((pr) => html`<li><a href="${processHref(p.slug, `/propositions/${pr.number}`)}">${pr.title}</a> — ${svc.stateLabel(p, pr)}</li>`)}</ul>` : html`<p>Aucune proposition retenue pour le moment.</p>`}`);
  });
}

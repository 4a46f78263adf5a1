/**
 * Training pages. Public: the catalogue, a path with its sessions, registration (a person, or a
 * mediator on their behalf), certificate verification, the learner's private page. Providers and
 * staff: create providers, paths and sessions; a session's list, attendance, completion, Pix import.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html, raw, type Raw } from '../../../platform/html/html.ts';
import { NotFoundError, UserError } from '../../../platform/http/errors.ts';
import { acceptMultipart, uploadedFile } from '../../../platform/http/multipart.ts';
import { TOKEN_ROUTE, can, currentUser, requireSignedIn, requirePermission, type CurrentUser } from '../../accounts/index.ts';
import { getPlacesByUids } from '../../places/index.ts';
import { CRCN_COMPETENCES, DIGCOMP_COMPETENCES, ValidationFailed, type FieldError } from '../model.ts';
import * as training from '../training.ts';
import { csrfOf, errorSummary, fieldError, formBody, invalid, me, renderFrame, selectOptions, send } from './ui.ts';

const euros = (c: number) => (c === 0 ? 'Gratuit' : `${(c / 100).toLocaleString('fr-FR', { minimumFractionDigits: 2 })} €`);
const comp = (c: string) => `${c} ${CRCN_COMPETENCES[c as keyof typeof CRCN_COMPETENCES] ?? ''}`;
const dig = (c: string) => `${c} ${Object.prototype.hasOwnProperty.call(DIGCOMP_COMPETENCES, c) ? DIGCOMP_COMPETENCES[c as keyof typeof DIGCOMP_COMPETENCES].fr : ''}`;

function modulesTable(p: training.CatalogueEntry): Raw {
  return html`<table class="data"><caption>Modules du parcours</caption><thead><tr><th scope="col">Module</th><th scope="col">Durée</th><th scope="col">Compétences (CRCN)</th><th scope="col"><span lang="en">DigComp</span> 2.2</th><th scope="col">Niveau visé</th></tr></thead><tbody>
${p.modules.map((m) => html`<tr><td>${m.position}. ${m.title}</td><td>${m.hours} h</td><td>${m.competences.map(comp).join(' ; ')}</td><td>${m.digcomp.map(dig).join(' ; ')}</td><td>${m.targetLevel}</td></tr>`)}</tbody></table>`;
}

export function registerTrainingPages(app: App, ctx: AppContext) {
  const frame = async (req: FastifyRequest, reply: FastifyReply, status: number, title: string, body: Raw) =>
    send(reply, status, renderFrame(ctx.config.theme, { title, user: await currentUser(req), csrf: csrfOf(reply), body }));

  app.get('/formations', async (req, reply) => {
    const list = await training.catalogue(ctx.db);
    const body = html`<h1>Parcours de formation au numérique</h1>
<p><a href="/formations/attestations">Vérifier une attestation</a></p>
${list.length ? html`<ul>${list.map((p) => html`<li><a href="/formations/parcours/${p.id}">${p.title}</a> — ${p.provider} · ${training.AUDIENCES[p.audience as keyof typeof training.AUDIENCES] ?? p.audience} · ${p.sessions.length} session${p.sessions.length > 1 ? 's' : ''}</li>`)}</ul>` : html`<p>Aucun parcours pour le moment.</p>`}`;
    return frame(req, reply, 200, 'Parcours de formation', body);
  });

  app.get('/formations/parcours/:id', async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const p = /^[0-9a-f-]{36}$/i.test(id) ? (await training.catalogue(ctx.db, { pathId: id }))[0] : undefined;
    if (!p) throw new NotFoundError('Parcours introuvable.');
    const places = new Map((await getPlacesByUids(ctx.db, p.sessions.map((s) => s.placeUid).filter((x): x is string => !!x))).map((pl) => [pl.uid, pl]));
    const body = html`<h1>${p.title}</h1><p>Proposé par ${p.provider}.</p>${p.description ? html`<p>${p.description}</p>` : ''}${modulesTable(p)}
<h2>Sessions</h2>${p.sessions.length ? html`<table class="data"><caption>Sessions du parcours</caption><thead><tr><th scope="col">Dates</th><th scope="col">Lieu</th><th scope="col">Places</th><th scope="col">Prix</th><th scope="col">S’inscrire</th></tr></thead><tbody>
${p.sessions.map((s) => {
      const pl = s.placeUid ? places.get(s.placeUid) : null;
      return html`<tr><td>${s.startsOn}${s.endsOn !== s.startsOn ? ` → ${s.endsOn}` : ''}</td><td>${pl ? `${pl.nom}, ${pl.commune}` : '—'}</td>
<td>${s.seatsLeft > 0 ? `${s.seatsLeft} place${s.seatsLeft > 1 ? 's' : ''} libre${s.seatsLeft > 1 ? 's' : ''}` : `Complet (${s.waiting} en attente)`}</td><td>${euros(s.priceCents)}${s.funding ? ` — ${s.funding}` : ''}</td>
<td><a href="/formations/sessions/${s.id}">${s.seatsLeft > 0 ? 'S’inscrire' : 'Liste d’attente'}</a></td></tr>`;
    })}</tbody></table>` : html`<p>Aucune session prévue.</p>`}`;
    return frame(req, reply, 200, p.title, body);
  });

  const registerPage = async (req: FastifyRequest, reply: FastifyReply, status: number, v: Record<string, unknown>, errors: FieldError[]) => {
    const sessionId = (req.params as { id: string }).id;
    const p = await training.sessionPath(ctx.db, sessionId);
    if (!p) throw new NotFoundError('Session introuvable.');
    const s = p.sessions.find((x) => x.id === sessionId)!;
    const user = await currentUser(req);
    const onBehalf = !!user && can(user, 'training.register_others');
    const val = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : '');
    const body = html`<h1>Inscription : ${p.title}</h1><p>Session du ${s.startsOn}. ${s.seatsLeft > 0 ? `${s.seatsLeft} place${s.seatsLeft > 1 ? 's' : ''} libre${s.seatsLeft > 1 ? 's' : ''}.` : 'Complet : vous serez inscrit sur la liste d’attente et prévenu si une place se libère.'}</p>
${onBehalf ? html`<p class="warn">Vous inscrivez une personne en son nom, avec son accord.</p>` : ''}${errorSummary(errors)}
<form class="med-form" method="post" action="/formations/sessions/${sessionId}/inscription"><input type="hidden" name="_csrf" value="${csrfOf(reply)}">
<div class="field"><label for="f-name">Nom et prénom</label>${fieldError(errors, 'name')}<input type="text" id="f-name" name="name" maxlength="120" autocomplete="name" value="${val('name')}"${invalid(errors, 'name')}></div>
<div class="field"><label for="f-email">Adresse e-mail</label>${fieldError(errors, 'email')}<input type="text" id="f-email" name="email" autocomplete="email" value="${val('email')}"${invalid(errors, 'email')}></div>
<div class="field"><label for="f-birthYear">Année de naissance (facultatif)</label>${fieldError(errors, 'birthYear')}<input type="number" id="f-birthYear" name="birthYear" value="${val('birthYear')}"${invalid(errors, 'birthYear')}></div>
<div class="field"><label for="f-communeCode">Commune, code INSEE (facultatif)</label>${fieldError(errors, 'communeCode')}<input type="text" id="f-communeCode" name="communeCode" maxlength="5" value="${val('communeCode')}"${invalid(errors, 'communeCode')}></div>
<div class="field"><label for="f-status">Situation</label>${fieldError(errors, 'status')}<select id="f-status" name="status">${selectOptions(training.LEARNER_STATUSES, val('status') || 'resident')}</select></div>
<p><button type="submit">${s.seatsLeft > 0 ? 'M’inscrire' : 'M’inscrire sur la liste d’attente'}</button></p></form>`;
    return frame(req, reply, status, `Inscription : ${p.title}`, body);
  };
  app.get('/formations/sessions/:id', async (req, reply) => registerPage(req, reply, 200, {}, []));
  app.post('/formations/sessions/:id/inscription', { preValidation: app.csrfProtection, config: { rateLimit: { max: 20, timeWindow: '1 minute' } } }, async (req, reply) => {
    const v = formBody(req);
    const user = await currentUser(req);
    const by = user && can(user, 'training.register_others') ? user.id : null;
    try {
      const sessionId = (req.params as { id: string }).id;
      // The same answer whatever happened (a new or known address, already registered…): what
      // happens goes by e-mail to the address typed, so typing someone else's address tells
      // nothing about their registrations.
      if (by) {
        // A mediator registers a person in front of them, with their agreement: no confirmation step.
        await training.register(ctx, sessionId, v, by);
        const body = html`<h1>Demande d’inscription reçue</h1>
<div class="ok" role="status"><p>Un e-mail vient d’être envoyé à l’adresse indiquée : il dit si une place est réservée ou la position sur la liste d’attente, avec le lien de l’espace personnel.</p></div>`;
        return frame(req, reply, 202, 'Inscription', body);
      }
      // Double opt-in: nothing is registered until the link e-mailed to the address is used.
      await training.requestRegistration(ctx, sessionId, v);
      const body = html`<h1>Demande d’inscription reçue</h1>
<div class="ok" role="status"><p>Un e-mail vient d’être envoyé à l’adresse indiquée. <strong>Ouvrez le lien qu’il contient pour confirmer votre inscription</strong> : sans confirmation sous ${training.REQUEST_DAYS} jours, la demande est effacée.</p></div>
<p>Vous ne le trouvez pas ? Regardez dans les courriers indésirables, ou vérifiez l’adresse et refaites la demande : une seconde demande ne vous inscrit pas deux fois.</p>`;
      return frame(req, reply, 202, 'Inscription', body);
    } catch (e) {
      if (e instanceof ValidationFailed) return registerPage(req, reply, 422, v, e.errors);
      throw e;
    }
  });

  // The confirmation link of a public registration: a page with a button (a link opened by a
  // mail scanner confirms nothing), then the confirmation itself.
  const expired = html`<h1>Lien de confirmation invalide</h1><p class="err-summary" role="alert">Ce lien n’est pas (ou plus) valable : il a déjà servi, ou la demande a expiré après ${training.REQUEST_DAYS} jours. Refaites la demande depuis la page de la session.</p><p><a href="/formations">Catalogue des formations</a></p>`;
  app.get('/formations/inscription/:token', async (req, reply) => {
    const token = (req.params as { token: string }).token;
    const p = await training.pendingRequest(ctx.db, token);
    if (!p) return frame(req, reply, 404, 'Lien invalide', expired);
    const body = html`<h1>Confirmer votre inscription</h1>
<p>${p.name}, vous avez demandé à vous inscrire à la formation « ${p.title} » (session du ${p.startsOn}).</p>
<form class="med-form" method="post" action="/formations/inscription/${token}"><input type="hidden" name="_csrf" value="${csrfOf(reply)}">
<p><button type="submit">Confirmer mon inscription</button></p></form>
<p>Vous n’avez rien demandé ? Ignorez ce message : la demande sera effacée.</p>`;
    return frame(req, reply, 200, 'Confirmer votre inscription', body);
  });
  app.post('/formations/inscription/:token', { preValidation: app.csrfProtection, config: { rateLimit: { max: 20, timeWindow: '1 minute' } } }, async (req, reply) => {
    const r = await training.confirmRegistration(ctx, (req.params as { token: string }).token);
    if (!r) return frame(req, reply, 404, 'Lien invalide', expired);
    // Whoever holds the link owns the mailbox: the outcome can be shown.
    const state = !r.created
      ? 'Vous étiez déjà inscrit·e à cette session : rien n’a changé.'
      : r.status === 'confirmed'
        ? 'Votre inscription est confirmée : une place vous est réservée.'
        : `La session est complète : vous êtes sur la liste d’attente, en position ${r.position}. Si une place se libère, elle vous est attribuée et vous en êtes prévenu·e par e-mail.`;
    const body = html`<h1>Inscription confirmée</h1><div class="ok" role="status"><p>${state}</p></div>
<p>Un e-mail vous a été envoyé avec ${r.learnerToken ? 'le lien de votre espace personnel, pour suivre vos parcours' : 'le récapitulatif'}.</p>`;
    return frame(req, reply, 200, 'Inscription confirmée', body);
  });

  // A code reveals a learner's name: look-ups are limited per address (counted in the database, all instances).
  app.get('/formations/attestations', { config: { rateLimit: { max: 60, timeWindow: '1 minute' } } }, async (req, reply) => {
    const code = typeof (req.query as { code?: unknown }).code === 'string' ? ((req.query as { code: string }).code).slice(0, 40) : '';
    const cert = code ? await training.verifyCertificate(ctx.db, code) : null;
    const body = html`<h1>Vérifier une attestation de formation</h1>
<form method="get" action="/formations/attestations" class="med-form"><label for="code">Code de vérification (XXXX-XXXX-XXXX)</label><input type="text" id="code" name="code" value="${code}" maxlength="20"><button type="submit">Vérifier</button></form>
${code ? (cert ? html`<div class="ok" role="status"><p><strong>Attestation authentique.</strong> ${cert.learner} a terminé le parcours « ${cert.path} » (${cert.provider}) le ${cert.completedOn}.</p>
<h2>Compétences CRCN (Pix)</h2><ul>${cert.competences.map((c) => html`<li>${comp(c.competence)} : niveau ${c.level}</li>`)}</ul>
<h2>Compétences <span lang="en">DigComp</span> 2.2 (cadre européen)</h2><ul>${cert.digcomp.map((c) => html`<li>${dig(c.competence)} : niveau ${c.level}</li>`)}</ul></div>` : html`<p class="err-summary" role="alert">Aucune attestation ne correspond à ce code.</p>`) : ''}`;
    return frame(req, reply, code && !cert ? 404 : 200, 'Vérifier une attestation', body);
  });

  // The learner's private link: its request line is not logged (TOKEN_ROUTE), like every e-mailed link.
  app.get('/formations/apprenant/:token', { ...TOKEN_ROUTE, config: { rateLimit: { max: 30, timeWindow: '1 minute' } } }, async (req, reply) => {
    const l = await training.learnerPage(ctx.db, (req.params as { token: string }).token);
    if (!l) throw new NotFoundError('Lien inconnu ou expiré.');
    const label = { confirmed: 'Inscrit', waiting: 'En liste d’attente', cancelled: 'Annulé', completed: 'Terminé' } as Record<string, string>;
    const body = html`<h1>Mes parcours — ${l.name}</h1>
<table class="data"><caption>Mes parcours</caption><thead><tr><th scope="col">Parcours</th><th scope="col">Début</th><th scope="col">État</th><th scope="col">Progression</th><th scope="col">Attestation</th></tr></thead><tbody>
${l.registrations.map((r) => html`<tr><td>${r.title}</td><td>${r.starts_on}</td><td>${label[r.status] ?? r.status}</td><td>${r.attended} / ${r.modules} modules</td><td>${r.certificate_code ?? '—'}</td></tr>`)}</tbody></table>
${l.results.length ? html`<h2>Mes résultats de compétences</h2>
<h3>Cadre de référence des compétences numériques (CRCN, Pix)</h3><ul>${l.results.filter((r) => r.framework === 'crcn').map((r) => html`<li>${comp(r.competence)} : niveau ${r.level} (${r.source === 'pix' ? 'Pix' : r.source}, ${r.measured_at})</li>`)}</ul>
<h3>Cadre européen <span lang="en">DigComp</span> 2.2</h3><p>Niveaux déduits des résultats CRCN par la correspondance de Maillage (non officielle).</p><ul>${l.results.filter((r) => r.framework === 'digcomp').map((r) => html`<li>${dig(r.competence)} : niveau ${r.level} (${r.measured_at})</li>`)}</ul>` : ''}`;
    reply.header('referrer-policy', 'no-referrer');
    return frame(req, reply, 200, 'Mes parcours', body);
  });

  // --- Providers and staff -------------------------------------------------------------------
  const manageAll = (u: CurrentUser) => can(u, 'training.manage');
  const mayManageSession = async (u: CurrentUser, sessionId: string) => {
    const p = await training.sessionProvider(ctx.db, sessionId);
    if (!p) throw new NotFoundError('Session introuvable.');
    if (!manageAll(u) && !p.managerIds.includes(u.id)) throw new UserError('Cette session n’est pas celle de votre organisme.', 403);
  };

  const adminPage = async (req: FastifyRequest, reply: FastifyReply, status: number, errors: FieldError[]) => {
    const user = await me(req);
    const providers = await training.providersFor(ctx.db, user.id, manageAll(user));
    if (!manageAll(user) && !providers.length) throw new UserError('Vous ne gérez aucun organisme de formation.', 403);
    const paths = (await Promise.all(providers.map((p) => training.catalogue(ctx.db, { providerId: p.id })))).flat();
    const csrf = csrfOf(reply);
    const body = html`<h1>Formations : organismes, parcours, sessions</h1>${errorSummary(errors)}
${paths.map((p) => html`<h2>${p.title} <small>(${p.provider})</small></h2><ul>${p.sessions.map((s) => html`<li><a href="/mediation/formations/sessions/${s.id}">Session du ${s.startsOn}</a> — ${s.capacity - s.seatsLeft}/${s.capacity} places, ${s.waiting} en attente</li>`)}</ul>`)}
${manageAll(user) ? html`<h2>Nouvel organisme</h2><form class="med-form" method="post" action="/mediation/formations/organismes"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-name">Nom</label>${fieldError(errors, 'name')}<input type="text" id="f-name" name="name"${invalid(errors, 'name')}></div>
<div class="field"><label for="f-siret">SIRET</label>${fieldError(errors, 'siret')}<input type="text" id="f-siret" name="siret"${invalid(errors, 'siret')}></div><p><button type="submit">Créer</button></p></form>` : ''}
<h2>Nouveau parcours</h2><form class="med-form" method="post" action="/mediation/formations/parcours"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-provider">Organisme</label>${fieldError(errors, 'provider')}<select id="f-provider" name="provider">${providers.map((p) => html`<option value="${p.id}">${p.name}</option>`)}</select></div>
<div class="field"><label for="f-title">Titre</label>${fieldError(errors, 'title')}<input type="text" id="f-title" name="title"${invalid(errors, 'title')}></div>
<div class="field"><label for="f-audience">Public</label><select id="f-audience" name="audience">${selectOptions(training.AUDIENCES, 'all')}</select></div>
<div class="field"><label for="f-modules">Modules, un par ligne : titre | heures | compétences CRCN | niveau visé | compétences DigComp 2.2 (facultatif)</label><span class="hint">Exemple : E-mail et sécurité | 3 | 2.1, 4.1 | 2 | 2.1, 4.1. Sans compétences DigComp, elles sont déduites des compétences CRCN (table de correspondance de Maillage).</span>${fieldError(errors, 'modules')}<textarea id="f-modules" name="modules" rows="5"${invalid(errors, 'modules')}></textarea></div>
<p><button type="submit">Créer le parcours</button></p></form>
<h2>Nouvelle session</h2><form class="med-form" method="post" action="/mediation/formations/sessions"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-pathId">Parcours</label>${fieldError(errors, 'pathId')}<select id="f-pathId" name="pathId">${paths.map((p) => html`<option value="${p.id}">${p.title}</option>`)}</select></div>
<div class="field"><label for="f-startsOn">Début (AAAA-MM-JJ)</label>${fieldError(errors, 'startsOn')}<input type="date" id="f-startsOn" name="startsOn"${invalid(errors, 'startsOn')}></div>
<div class="field"><label for="f-endsOn">Fin</label>${fieldError(errors, 'endsOn')}<input type="date" id="f-endsOn" name="endsOn"${invalid(errors, 'endsOn')}></div>
<div class="field"><label for="f-placeUid">Lieu (identifiant dans l’annuaire)</label>${fieldError(errors, 'placeUid')}<input type="text" id="f-placeUid" name="placeUid"${invalid(errors, 'placeUid')}></div>
<div class="field"><label for="f-capacity">Places</label>${fieldError(errors, 'capacity')}<input type="number" id="f-capacity" name="capacity" min="1"${invalid(errors, 'capacity')}></div>
<div class="field"><label for="f-price">Prix (€)</label>${fieldError(errors, 'price')}<input type="text" id="f-price" name="price" value="0"${invalid(errors, 'price')}></div>
<div class="field"><label for="f-funding">Financement</label><input type="text" id="f-funding" name="funding" maxlength="300"></div>
<div class="field"><label for="f-s-audience">Public</label><select id="f-s-audience" name="audience">${selectOptions(training.AUDIENCES, 'all')}</select></div>
<p><button type="submit">Créer la session</button></p></form>`;
    return send(reply, status, renderFrame(ctx.config.theme, { title: 'Formations', user, csrf, body }));
  };
  const post = { preHandler: requireSignedIn, preValidation: app.csrfProtection };
  const onFieldError = async (req: FastifyRequest, reply: FastifyReply, fn: () => Promise<unknown>, to: string) => {
    try {
      await fn();
    } catch (e) {
      if (e instanceof ValidationFailed) return adminPage(req, reply, 422, e.errors);
      if (e instanceof UserError && e.field) return adminPage(req, reply, 422, [{ field: e.field, message: e.message }]);
      throw e;
    }
    return reply.redirect(to, 303);
  };
  app.get('/mediation/formations', { preHandler: requireSignedIn }, async (req, reply) => adminPage(req, reply, 200, []));
  app.post('/mediation/formations/organismes', { preHandler: requirePermission('training.manage'), preValidation: app.csrfProtection }, async (req, reply) => {
    const user = await me(req);
    const f = formBody(req);
    return onFieldError(req, reply, () => training.createProvider(ctx, user.id, { name: String(f.name ?? ''), siret: String(f.siret ?? '') }), '/mediation/formations');
  });
  app.post('/mediation/formations/parcours', post, async (req, reply) => {
    const user = await me(req);
    const f = formBody(req);
    const providerId = String(f.provider ?? '');
    if (!manageAll(user) && !(await training.providersFor(ctx.db, user.id, false)).some((p) => p.id === providerId)) throw new UserError('Cet organisme n’est pas le vôtre.', 403);
    return onFieldError(req, reply, async () => training.createPath(ctx, user.id, { providerId, title: String(f.title ?? ''), audience: String(f.audience ?? 'all'), modules: training.parseModules(String(f.modules ?? '')) }), '/mediation/formations');
  });
  app.post('/mediation/formations/sessions', post, async (req, reply) => {
    const user = await me(req);
    const f = formBody(req);
    const pathId = String(f.pathId ?? '');
    const mine = (await training.providersFor(ctx.db, user.id, manageAll(user))).map((p) => p.id);
    const path = /^[0-9a-f-]{36}$/i.test(pathId) ? (await ctx.db.query<{ provider_id: string }>('SELECT provider_id FROM mediation.training_path WHERE id = $1', [pathId])).rows[0] : undefined;
    if (path && !mine.includes(path.provider_id)) throw new UserError('Ce parcours n’est pas celui de votre organisme.', 403);
    return onFieldError(req, reply, () => training.createSession(ctx, user.id, f), '/mediation/formations');
  });

  // errors: a refused Pix import, on the file picker (`file`) or on the paste box (`csv`).
  const sessionPage = async (req: FastifyRequest, reply: FastifyReply, status: number, notice?: Raw, errors: FieldError[] = []) => {
    const user = await me(req);
    const id = (req.params as { id: string }).id;
    await mayManageSession(user, id);
    const p = (await training.sessionPath(ctx.db, id))!;
    const s = p.sessions.find((x) => x.id === id)!;
    const list = await training.sessionRegistrations(ctx.db, id);
    const csrf = csrfOf(reply);
    const label = { confirmed: 'Inscrit', waiting: 'En attente', cancelled: 'Annulé', completed: 'Terminé' } as Record<string, string>;
    const body = html`<h1>${p.title} — session du ${s.startsOn}</h1>${notice ?? ''}${errorSummary(errors)}<p>${s.capacity - s.seatsLeft} / ${s.capacity} places, ${s.waiting} en attente.</p>
<table class="data"><caption>Inscriptions</caption><thead><tr><th scope="col">Personne</th><th scope="col">État</th>${p.modules.map((m) => html`<th scope="col">M${m.position}</th>`)}<th scope="col">Actions</th></tr></thead><tbody>
${list.map((r) => html`<tr><td>${r.learner}<br><small>${r.email}</small></td><td>${label[r.status] ?? r.status}${r.certificateCode ? html`<br><small>${r.certificateCode}</small>` : ''}</td>
${p.modules.map((m) => html`<td>${r.status === 'confirmed' || r.status === 'completed' ? html`<form method="post" action="/mediation/formations/inscriptions/${r.id}/presence" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="module" value="${m.id}"><input type="hidden" name="present" value="${r.attended.includes(m.id) ? '0' : '1'}"><button type="submit" aria-label="Module ${m.position} : ${r.attended.includes(m.id) ? 'présent, marquer absent' : 'absent, marquer présent'}">${r.attended.includes(m.id) ? '✓' : '·'}</button></form>` : '—'}</td>`)}
<td>${r.status === 'confirmed' ? html`<form method="post" action="/mediation/formations/inscriptions/${r.id}/terminer" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Parcours terminé</button></form> ` : ''}
${r.status === 'confirmed' || r.status === 'waiting' ? html`<form method="post" action="/mediation/formations/inscriptions/${r.id}/annuler" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Annuler</button></form>` : ''}</td></tr>`)}</tbody></table>
<h2>Importer les résultats d’une campagne Pix (CSV)</h2><form class="med-form" method="post" action="/mediation/formations/sessions/${id}/pix" enctype="multipart/form-data"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-file">Fichier exporté de Pix Orga</label><span class="hint" id="f-file-hint">L’export CSV des résultats de la campagne (UTF-8, séparateur point-virgule ou virgule), ${training.PIX_MAX_BYTES / 1_000_000} Mo au plus.</span>${fieldError(errors, 'file')}<input type="file" id="f-file" name="file" accept=".csv,text/csv" required aria-describedby="${errors.some((e) => e.field === 'file') ? 'e-file ' : ''}f-file-hint"${errors.some((e) => e.field === 'file') ? raw(' aria-invalid="true"') : ''}></div>
<p><button type="submit">Importer le fichier</button></p></form>
<details${errors.some((e) => e.field === 'csv') ? raw(' open') : ''}><summary>Ou coller le contenu du fichier</summary><form class="med-form" method="post" action="/mediation/formations/sessions/${id}/pix"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-csv">Contenu du fichier exporté de Pix Orga</label>${fieldError(errors, 'csv')}<textarea id="f-csv" name="csv" rows="6" required${invalid(errors, 'csv')}></textarea></div><p><button type="submit">Importer le texte collé</button></p></form></details>`;
    return send(reply, status, renderFrame(ctx.config.theme, { title: 'Session de formation', user, csrf, body }));
  };
  app.get('/mediation/formations/sessions/:id', { preHandler: requireSignedIn }, async (req, reply) => sessionPage(req, reply, 200));
  // The Pix export, chosen as a file (multipart/form-data) or pasted (a plain form): a scope of its
  // own accepts multipart, with a body limit raised for both (the pasted text URL-encoded takes up
  // to 3 bytes a character). Only the session's managers (or staff) may send that much: the guard
  // runs at onRequest, so anyone else is refused before the body is read.
  const pixGuard = async (req: FastifyRequest, reply: FastifyReply) => {
    const user = await currentUser(req);
    if (!user) return requireSignedIn(req, reply);
    await mayManageSession(user, (req.params as { id: string }).id);
  };
  void app.register(async (scope) => {
    acceptMultipart(scope, { maxParts: 4 });
    scope.post(
      '/mediation/formations/sessions/:id/pix',
      { bodyLimit: 3 * training.PIX_MAX_BYTES + 64 * 1024, onRequest: pixGuard, preHandler: requireSignedIn, preValidation: app.csrfProtection, config: { rateLimit: { max: 30, timeWindow: '1 minute' } } },
      pixImport,
    );
  });
  async function pixImport(req: FastifyRequest, reply: FastifyReply) {
    const user = await me(req);
    await mayManageSession(user, (req.params as { id: string }).id);
    const f = formBody(req);
    const upload = uploadedFile(req.body, 'file');
    try {
      const csv = upload ? training.pixFileText(upload) : typeof f.csv === 'string' ? f.csv : '';
      if (!csv.trim()) throw new UserError('Fichier : choisissez le fichier CSV exporté de Pix Orga, ou collez son contenu.', 400, 'file');
      const r = await training.importPix(ctx, user.id, (req.params as { id: string }).id, csv);
      return sessionPage(req, reply, 200, html`<p class="ok" role="status">${r.imported} résultat${r.imported > 1 ? 's' : ''} importé${r.imported > 1 ? 's' : ''} (CRCN, et DigComp 2.2 par correspondance).
${r.unknown.length ? ` Personnes inconnues aux lignes ${r.unknown.slice(0, 20).join(', ')}.` : ''}${r.notShared.length ? ` Profil non partagé (NA) aux lignes ${r.notShared.slice(0, 20).join(', ')}.` : ''}${r.invalid.slice(0, 20).map((x) => ` Ligne ${x.line} : ${x.message}.`)}</p>`);
    } catch (e) {
      // Shown on the control used: the file picker, or the paste box when the text was pasted.
      if (e instanceof UserError && e.field) return sessionPage(req, reply, e.statusCode, undefined, [{ field: upload || typeof f.csv !== 'string' ? 'file' : 'csv', message: e.message }]);
      throw e;
    }
  }
  const regAction = (path: string, fn: (user: CurrentUser, regId: string, f: Record<string, unknown>) => Promise<unknown>) =>
    app.post(`/mediation/formations/inscriptions/:id/${path}`, post, async (req, reply) => {
      const user = await me(req);
      const regId = (req.params as { id: string }).id;
      const session = await training.registrationSession(ctx.db, regId);
      if (!session) throw new NotFoundError('Inscription introuvable.');
      await mayManageSession(user, session);
      try {
        await fn(user, regId, formBody(req));
      } catch (e) {
        if (e instanceof UserError && e.statusCode === 409) return reply.status(409).type('text/html; charset=utf-8').send(renderFrame(ctx.config.theme, { title: 'Action impossible', user, csrf: csrfOf(reply), body: html`<h1>Action impossible</h1><p>${e.message}</p><p><a href="/mediation/formations/sessions/${session}">Retour à la session</a></p>` }));
        throw e;
      }
      return reply.redirect(`/mediation/formations/sessions/${session}`, 303);
    });
  regAction('presence', (u, id, f) => training.setAttendance(ctx, u.id, id, String(f.module ?? ''), f.present === '1'));
  regAction('terminer', (u, id) => training.completeRegistration(ctx, u.id, id));
  regAction('annuler', (u, id) => training.cancelRegistration(ctx, u.id, id));
}

/**
 * Public pages (open calls with filters, a call's page, its published results) and the
 * applicant's pages (organisations, draft with autosave and what is missing, submission,
 * receipt, history).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html, raw } from '../../../platform/html/html.ts';
import { UserError, NotFoundError } from '../../../platform/http/errors.ts';
import { currentUser, findUserByEmail, requireSignedIn, sendMailFromRequest, uploadRoute } from '../../accounts/index.ts';
import { acceptMultipart, uploadedFile } from '../../../platform/http/multipart.ts';
import { MAX_FILE_BYTES } from '../model.ts';
import { CALL_KINDS, ORG_KINDS, STATES, formatDateTime, formatEuros, type FormDefinition } from '../model.ts';
import * as service from '../service.ts';
import * as dossier from '../dossier.ts';
import { AUTOSAVE_SCRIPT, answersFromForm, answersView, csrfOf, errorBox, formBody, me, messageThread, plural, sendStoredFile, queryOf, questionFields, renderFrame, send, stateBadge, str, uploadForms } from './ui.ts';

/** An upload's body: the largest file and the form's few fields. */
const UPLOAD_BODY_LIMIT = MAX_FILE_BYTES + 64 * 1024;

const KIND_SHORT: Record<string, string> = { aap: 'AAP', ami: 'AMI', label: 'Label' };

function callDates(c: service.Call) {
  return html`du ${formatDateTime(c.opensAt, c.timeZone)} au <strong>${formatDateTime(c.closesAt, c.timeZone)}</strong> (heure de Paris)`;
}

export function registerPublicPages(app: App, ctx: AppContext) {
  const theme = ctx.config.theme;

  app.get('/appels', async (req, reply) => {
    const q = queryOf(req);
    const state = q.etat === 'a-venir' ? 'upcoming' : q.etat === 'clos' ? 'closed' : 'open';
    const calls = await service.listPublicCalls(ctx.db, { kind: q.type, departement: q.departement, closingSoon: q.bientot === '1', state });
    const user = await currentUser(req);
    const now = Date.now();
    const body = html`<h1>Appels à projets, AMI et labels</h1>
<p>Les appels ouverts par la collectivité : qui peut candidater, jusqu’à quand, avec quelle enveloppe. Les résultats sont publiés sur la page de chaque appel, et les subventions en <a href="/appels/subventions">données ouvertes</a>.</p>
<form method="get" action="/appels" class="calls-form" role="search" aria-label="Filtrer les appels">
<div class="field"><label for="f-etat">Appels</label><select id="f-etat" name="etat"><option value="">ouverts</option><option value="a-venir"${state === 'upcoming' ? raw(' selected') : ''}>à venir</option><option value="clos"${state === 'closed' ? raw(' selected') : ''}>clos</option></select></div>
<div class="field"><label for="f-type">Type</label><select id="f-type" name="type"><option value="">tous</option>${Object.entries(CALL_KINDS).map(([k, v]) => html`<option value="${k}"${q.type === k ? raw(' selected') : ''}>${v}</option>`)}</select></div>
<div class="field"><label for="f-dep">Département (code)</label><input type="text" id="f-dep" name="departement" maxlength="3" value="${q.departement ?? ''}"></div>
<div class="field"><label><input type="checkbox" name="bientot" value="1"${q.bientot === '1' ? raw(' checked') : ''}> Clôture dans les 15 jours</label></div>
<button type="submit">Filtrer</button></form>
<h2>${plural(calls.length, 'appel', 'appels')}</h2>
${calls.length
  ? html`<ul>${calls.map((c) => {
      const days = Math.ceil((Date.parse(c.closesAt) - now) / 86_400_000);
      return html`<li><a href="/appels/${c.slug}"><strong>${c.title}</strong></a> — ${KIND_SHORT[c.kind]}${c.envelope ? html`, enveloppe ${formatEuros(c.envelope)}` : ''}<br>
${state === 'open' ? html`Clôture le ${formatDateTime(c.closesAt, c.timeZone)}${days <= 15 ? html` <strong>(${plural(days, 'jour', 'jours')} restant${days > 1 ? 's' : ''})</strong>` : ''}` : html`Du ${formatDateTime(c.opensAt, c.timeZone)} au ${formatDateTime(c.closesAt, c.timeZone)}`}${c.departements.length ? html` · départements ${c.departements.join(', ')}` : ''}</li>`;
    })}</ul>`
  : html`<p>Aucun appel ne correspond.</p>`}`;
    return send(reply, 200, renderFrame(theme, { title: 'Appels à projets', body, user, csrf: user ? csrfOf(reply) : undefined, index: true }));
  });

  app.get('/appels/assets/autosave.js', async (_req, reply) => reply.type('application/javascript; charset=utf-8').header('cache-control', 'no-cache').send(AUTOSAVE_SCRIPT));

  app.get('/appels/:slug', async (req, reply) => {
    const call = await service.getCall(ctx.db, (req.params as { slug: string }).slug);
    if (!call || call.status !== 'published') throw new NotFoundError('Cet appel n’existe pas.');
    const form = await service.getForm(ctx.db, call.id, call.formVersion);
    const user = await currentUser(req);
    const open = service.isOpen(call);
    const results = await publicResults(ctx, call);
    const body = html`<h1>${call.title}</h1>
<p>${CALL_KINDS[call.kind]}${call.stages === 2 ? ' en deux étapes (les structures retenues à la première sont invitées à la seconde)' : ''}. ${call.summary}</p>
<dl>
<dt>Dépôt des dossiers</dt><dd>${callDates(call)}${open ? '' : html` — <strong>${Date.now() < Date.parse(call.opensAt) ? 'pas encore ouvert' : 'clos'}</strong>`}</dd>
${call.envelope ? html`<dt>Enveloppe</dt><dd>${formatEuros(call.envelope)}${call.committed ? html` (déjà attribué : ${formatEuros(call.committed)})` : ''}</dd>` : ''}
<dt>Structures éligibles</dt><dd>${call.eligibleTypes.length ? call.eligibleTypes.map((k) => ORG_KINDS[k as keyof typeof ORG_KINDS] ?? k).join(', ') : 'toutes'}</dd>
<dt>Territoire</dt><dd>${call.departements.length ? `départements ${call.departements.join(', ')}` : `toute la région (${call.region})`}</dd>
${call.instructionOn ? html`<dt>Instruction</dt><dd>à partir du ${call.instructionOn}</dd>` : ''}
${call.committeeOn ? html`<dt>Comité de sélection</dt><dd>${call.committeeOn}</dd>` : ''}
<dt>Financeur</dt><dd>${call.funderName || '—'}</dd>
</dl>
${open ? html`<p><a class="button" href="/appels/${call.slug}/candidater"><strong>Déposer un dossier</strong></a></p>` : ''}
<h2>Règlement</h2><div style="white-space:pre-line">${call.rules || '—'}</div>
${criteriaTable(form)}
<h2>Ce qui vous sera demandé</h2><ul>${form.questions.filter((q) => (q.stage ?? 1) === 1).map((q) => html`<li>${q.label}${q.required ? ' (obligatoire)' : ''}</li>`)}</ul>
${form.documents.length ? html`<h3>Pièces</h3><ul>${form.documents.map((d) => html`<li>${d}</li>`)}</ul>` : ''}
${results.length ? html`<h2 id="resultats">Résultats</h2>${resultsTable(results)}` : ''}`;
    return send(reply, 200, renderFrame(theme, { title: call.title, body, user, csrf: user ? csrfOf(reply) : undefined, index: true }));
  });

  // ---- applicant

  app.get('/appels/:slug/candidater', { preHandler: requireSignedIn }, async (req, reply) => startPage(req, reply, 200, null));
  const startPage = async (req: FastifyRequest, reply: FastifyReply, status: number, error: string | null, values: Record<string, unknown> = {}, slug = (req.params as { slug: string }).slug) => {
    const user = await me(req);
    const call = await service.getCall(ctx.db, slug);
    if (!call || call.status !== 'published') throw new NotFoundError('Cet appel n’existe pas.');
    const orgs = await service.myOrganisations(ctx.db, user.id);
    const csrf = csrfOf(reply);
    const body = html`<h1>Candidater : ${call.title}</h1>${errorBox(error)}
${service.isOpen(call) ? '' : html`<p class="missing">Cet appel n’accepte pas de dossier en ce moment.</p>`}
${orgs.length
  ? html`<form method="post" action="/appels/${call.slug}/candidater" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-org">Structure pour laquelle vous déposez</label><select id="f-org" name="organisationId">${orgs.map((o) => html`<option value="${o.id}">${o.name} (SIRET ${o.siret})</option>`)}</select></div>
<button type="submit">Commencer le dossier</button></form>`
  : html`<p>Vous n’agissez encore pour aucune structure : enregistrez la vôtre ci-dessous.</p>`}
<h2>Enregistrer une structure</h2>
<form method="post" action="/candidatures/structures" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="retour" value="/appels/${call.slug}/candidater">
<div class="field"><label for="f-siret">SIRET (14 chiffres)</label><input type="text" id="f-siret" name="siret" inputmode="numeric" maxlength="20" value="${str(values.siret)}" autocomplete="off"></div>
<div class="field"><label for="f-name">Nom de la structure</label><input type="text" id="f-name" name="name" maxlength="200" value="${str(values.name)}"></div>
<div class="field"><label for="f-kind">Type</label><select id="f-kind" name="kind">${Object.entries(ORG_KINDS).map(([k, v]) => html`<option value="${k}"${str(values.kind) === k ? raw(' selected') : ''}>${v}</option>`)}</select></div>
<div class="field"><label for="f-dep">Département du siège (code)</label><input type="text" id="f-dep" name="departement" maxlength="3" value="${str(values.departement)}"></div>
<button type="submit">Enregistrer la structure</button></form>`;
    return send(reply, status, renderFrame(theme, { title: `Candidater : ${call.title}`, body, user, csrf }));
  };
  app.post('/appels/:slug/candidater', { preHandler: requireSignedIn, preValidation: app.csrfProtection }, async (req, reply) => {
    const user = await me(req);
    const call = await service.getCall(ctx.db, (req.params as { slug: string }).slug);
    if (!call) throw new NotFoundError('Cet appel n’existe pas.');
    try {
      const a = await service.startApplication(ctx, user.id, call.id, str(formBody(req).organisationId));
      return reply.redirect(`/candidatures/${a.id}`, 303);
    } catch (e) {
      if (e instanceof UserError && e.statusCode !== 404) return startPage(req, reply, e.statusCode, e.message);
      throw e;
    }
  });

  app.post('/candidatures/structures', { preHandler: requireSignedIn, preValidation: app.csrfProtection }, async (req, reply) => {
    const user = await me(req);
    const f = formBody(req);
    const back = str(f.retour);
    try {
      await service.createOrganisation(ctx, user.id, f);
      return reply.redirect(/^\/appels\/[a-z0-9-]+\/candidater$/.test(back) ? back : '/candidatures', 303);
    } catch (e) {
      if (e instanceof UserError) {
        const m = /^\/appels\/([a-z0-9-]+)\/candidater$/.exec(back);
        if (m) return startPage(req, reply, e.statusCode, e.message, f, m[1]!);
        return myPage(req, reply, e.statusCode, e.message);
      }
      throw e;
    }
  });

  app.post('/candidatures/structures/:id/membres', { preHandler: requireSignedIn, preValidation: app.csrfProtection }, async (req, reply) => {
    const user = await me(req);
    const email = str(formBody(req).email).trim().slice(0, 320);
    const other = email ? await findUserByEmail(ctx.db, email) : null;
    try {
      if (!other) throw new UserError('Aucun compte n’existe à cette adresse : la personne doit d’abord créer son compte.', 422, 'email');
      await service.addMember(ctx, user.id, (req.params as { id: string }).id, other.id);
      return reply.redirect('/candidatures', 303);
    } catch (e) {
      if (e instanceof UserError && e.statusCode !== 404) return myPage(req, reply, e.statusCode, e.message);
      throw e;
    }
  });

  const myPage = async (req: FastifyRequest, reply: FastifyReply, status: number, error: string | null) => {
    const user = await me(req);
    const apps = await service.myApplications(ctx.db, user.id);
    const orgs = await service.myOrganisations(ctx.db, user.id);
    const csrf = csrfOf(reply);
    const body = html`<h1>Mes dossiers</h1>${errorBox(error)}
${apps.length
  ? html`<table class="data"><caption>Dossiers des structures pour lesquelles vous agissez</caption><thead><tr><th scope="col">Dossier</th><th scope="col">Appel</th><th scope="col">Structure</th><th scope="col">État</th></tr></thead><tbody>
${apps.map((a) => html`<tr><td><a href="/candidatures/${a.id}">${a.reference}</a> ${a.title}</td><td>${a.callTitle}</td><td>${a.organisation}</td><td>${stateBadge(a.state)}${a.correctionReason ? html` <span class="flag">correction demandée</span>` : ''}</td></tr>`)}</tbody></table>`
  : html`<p>Aucun dossier pour l’instant. <a href="/appels">Voir les appels ouverts</a>.</p>`}
<h2>Mes structures</h2>
${orgs.length ? html`<ul>${orgs.map((o) => html`<li>${o.name} — SIRET ${o.siret}
<form method="post" action="/candidatures/structures/${o.id}/membres" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><label for="m-${o.id}">Ajouter une personne (adresse de son compte)</label> <input type="email" id="m-${o.id}" name="email" maxlength="320"> <button type="submit">Ajouter</button></form></li>`)}</ul>` : html`<p>Aucune.</p>`}`;
    return send(reply, status, renderFrame(theme, { title: 'Mes dossiers', body, user, csrf }));
  };
  app.get('/candidatures', { preHandler: requireSignedIn }, async (req, reply) => myPage(req, reply, 200, null));

  const loadMine = async (req: FastifyRequest) => {
    const user = await me(req);
    const a = await service.getApplication(ctx.db, (req.params as { id: string }).id);
    if (!a || !(await service.isMember(ctx.db, a.organisationId, user.id))) throw new NotFoundError('Ce dossier n’existe pas.');
    const call = (await service.getCall(ctx.db, a.callId))!;
    return { user, a, call, form: await service.getForm(ctx.db, call.id, a.formVersion) };
  };

  const dossierPage = async (req: FastifyRequest, reply: FastifyReply, status: number, error: string | null) => {
    const { user, a, call, form } = await loadMine(req);
    const csrf = csrfOf(reply);
    const editable = service.applicantMayEdit(a);
    const gaps = await service.whatIsMissing(ctx.db, a);
    const hist = await service.history(ctx.db, a.id, true);
    const closed = Date.now() >= Date.parse(call.closesAt);
    const fileHref = (id: string) => `/candidatures/${a.id}/fichiers/${id}`;
    const body = html`<p><a href="/candidatures">Mes dossiers</a></p>
<h1>Dossier ${a.reference} ${stateBadge(a.state)}</h1>
<p>Appel : <a href="/appels/${call.slug}">${call.title}</a> — clôture le ${formatDateTime(call.closesAt, call.timeZone)}${a.stage === 2 ? ' — seconde étape' : ''}. Formulaire version ${a.formVersion}.</p>
${errorBox(error)}
${a.correctionReason ? html`<div class="missing" role="status"><h2>Correction demandée</h2><p>${a.correctionReason}</p>${a.correctionDue ? html`<p>À faire avant le <strong>${a.correctionDue}</strong> (inclus).</p>` : ''}</div>` : ''}
${editable
  ? html`${gaps.length ? html`<div class="missing"><h2>Ce qui manque avant de déposer</h2><ul>${gaps.map((g) => html`<li><a href="#${g.field === 'title' ? 'f-title' : g.field}">${g.message}</a></li>`)}</ul></div>` : html`<p class="ok">Le dossier est complet : vous pouvez le déposer.</p>`}
<form method="post" action="/candidatures/${a.id}" class="calls-form" data-autosave><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-title">Titre du projet</label><input type="text" id="f-title" name="title" maxlength="200" value="${a.title}"></div>
${questionFields(form, a.answers, a.stage)}
<p id="autosave-status" role="status" aria-live="polite">Le brouillon s’enregistre au fil de la saisie ; vous pouvez aussi l’enregistrer vous-même.</p>
<button type="submit">Enregistrer le brouillon</button></form>
${uploadForms(form, a.answers, a.stage, `/candidatures/${a.id}/fichiers`, csrf)}
<form method="post" action="/candidatures/${a.id}/depot" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}">
<p>${closed && !a.correctionReason ? html`<strong>L’appel est clos : le dépôt n’est plus possible.</strong>` : html`Le dépôt vaut engagement sur l’exactitude des informations. Un récépissé avec l’empreinte de ce qui a été déposé vous sera remis.`}</p>
<button type="submit">${a.correctionReason ? 'Déposer la correction' : 'Déposer le dossier'}</button></form>`
  : html`<p>Ce dossier ne peut plus être modifié (${STATES[a.state]}).</p>${a.fingerprint ? html`<p><a href="/candidatures/${a.id}/recepisse">Récépissé de dépôt</a></p>` : ''}
${a.decisionMotivation ? html`<h2>Décision</h2><p>${STATES[a.state]}${a.decidedAmount !== null ? html` — montant accordé : <strong>${formatEuros(a.decidedAmount)}</strong>` : ''}</p><p>${a.decisionMotivation}</p>` : ''}
<h2>Votre dossier</h2><p><strong>${a.title}</strong></p>${answersView(form, a.answers, a.stage, fileHref)}`}
${messageThread(await dossier.messagesOf(ctx.db, a.id), new Map(), `/candidatures/${a.id}/messages`, csrf, true, a.state !== 'brouillon' || !!a.submittedAt)}
<h2>Historique</h2>
<ol>${hist.map((h) => html`<li>${formatDateTime(h.at)} — ${historyLabel(h)}${h.note ? html` : ${h.note}` : ''}</li>`)}</ol>`;
    return send(reply, status, renderFrame(theme, { title: `Dossier ${a.reference}`, body, user, csrf, scripts: editable ? ['/appels/assets/autosave.js'] : undefined }));
  };

  app.get('/candidatures/:id', { preHandler: requireSignedIn }, async (req, reply) => dossierPage(req, reply, 200, null));

  app.post('/candidatures/:id', { preHandler: requireSignedIn, preValidation: app.csrfProtection }, async (req, reply) => {
    const { user, a, form } = await loadMine(req);
    const f = formBody(req);
    const json = (req.headers.accept ?? '').includes('application/json');
    try {
      const saved = await service.saveDraft(ctx, user.id, a.id, { title: str(f.title), answers: answersFromForm(form, f) });
      if (json) return reply.send({ ok: true, missing: (await service.whatIsMissing(ctx.db, saved)).length });
      return reply.redirect(`/candidatures/${a.id}`, 303);
    } catch (e) {
      if (e instanceof UserError && !json && e.statusCode !== 404) return dossierPage(req, reply, e.statusCode === 400 ? 422 : e.statusCode, e.message);
      throw e;
    }
  });

  app.post('/candidatures/:id/depot', { preHandler: requireSignedIn, preValidation: app.csrfProtection }, async (req, reply) => {
    const { user, a, call } = await loadMine(req);
    try {
      const { receipt } = await service.submit(ctx, user.id, a.id);
      await sendMailFromRequest(req, {
        to: user.email,
        subject: `Récépissé de dépôt — dossier ${a.reference}`,
        text: `Bonjour,\n\nLe dossier ${a.reference} « ${a.title} » a été déposé le ${formatDateTime(receipt.at, call.timeZone)} sur l’appel « ${call.title} ».\n\nEmpreinte (SHA-256) de ce qui a été déposé :\n${receipt.fingerprint}\n\nRécépissé à imprimer : ${ctx.config.publicUrl}/candidatures/${a.id}/recepisse\n`,
      });
      return reply.redirect(`/candidatures/${a.id}/recepisse`, 303);
    } catch (e) {
      if (e instanceof UserError && e.statusCode !== 404) return dossierPage(req, reply, e.statusCode, e.message);
      throw e;
    }
  });

  // Files: uploaded as multipart/form-data (a scope of its own accepts it), the guard run before
  // the body is read (uploadRoute); served as attachments only, to the applicant and instructors.
  void app.register(async (scope) => {
    acceptMultipart(scope);
    scope.post(
      '/candidatures/:id/fichiers',
      { ...uploadRoute(requireSignedIn, UPLOAD_BODY_LIMIT), preValidation: app.csrfProtection, config: { rateLimit: { max: 30, timeWindow: '1 minute' } } },
      async (req, reply) => {
        const { user, a } = await loadMine(req);
        const upload = uploadedFile(req.body, 'file');
        try {
          if (!upload) throw new UserError('Choisissez le fichier à joindre.', 400, 'file');
          await dossier.attachFile(ctx, user.id, a.id, str((req.body as Record<string, unknown>).question), upload);
          return reply.redirect(`/candidatures/${a.id}`, 303);
        } catch (e) {
          if (e instanceof UserError && e.statusCode !== 404) return dossierPage(req, reply, e.statusCode === 400 ? 422 : e.statusCode, e.message);
          throw e;
        }
      },
    );
  });
  app.post('/candidatures/:id/fichiers/retirer', { preHandler: requireSignedIn, preValidation: app.csrfProtection, config: { rateLimit: { max: 30, timeWindow: '1 minute' } } }, async (req, reply) => {
    const { user, a } = await loadMine(req);
    try {
      await dossier.removeFile(ctx, user.id, a.id, str(formBody(req).question));
      return reply.redirect(`/candidatures/${a.id}`, 303);
    } catch (e) {
      if (e instanceof UserError && e.statusCode !== 404) return dossierPage(req, reply, e.statusCode === 400 ? 422 : e.statusCode, e.message);
      throw e;
    }
  });
  app.get('/candidatures/:id/fichiers/:file', { preHandler: requireSignedIn }, async (req, reply) => {
    const user = await me(req);
    const p = req.params as { id: string; file: string };
    return sendStoredFile(reply, await dossier.fileFor(ctx.db, user, p.id, p.file));
  });

  app.post('/candidatures/:id/messages', { preHandler: requireSignedIn, preValidation: app.csrfProtection, config: { rateLimit: { max: 10, timeWindow: '1 minute' } } }, async (req, reply) => {
    const { user, a, call } = await loadMine(req);
    try {
      await dossier.postMessage(ctx, user, a.id, str(formBody(req).message));
    } catch (e) {
      if (e instanceof UserError && e.statusCode !== 404) return dossierPage(req, reply, e.statusCode === 400 ? 422 : e.statusCode, e.message);
      throw e;
    }
    // The e-mail says there is a message, not what it says (the thread stays behind the sign-in).
    for (const m of await dossier.instructorsToTell(ctx.db, a)) {
      await sendMailFromRequest(req, { to: m.email, subject: `Nouveau message sur le dossier ${a.reference}`, text: `Bonjour ${m.displayName},\n\nLe porteur du dossier ${a.reference} « ${a.title} » (appel « ${call.title} ») a écrit dans la messagerie du dossier.\n\nLire et répondre : ${ctx.config.publicUrl}/gestion/dossiers/${a.id}#messagerie\n` });
    }
    return reply.redirect(`/candidatures/${a.id}#messagerie`, 303);
  });

  app.get('/candidatures/:id/recepisse', { preHandler: requireSignedIn }, async (req, reply) => {
    const { user, a, call, form } = await loadMine(req);
    const list = await service.receipts(ctx.db, a.id);
    const r = list[0];
    if (!r) throw new NotFoundError('Ce dossier n’a pas encore été déposé.');
    const body = html`<h1>Récépissé de dépôt</h1>
<p>Dossier <strong>${a.reference}</strong> « ${r.content.title} », appel « ${call.title} » (${call.funderName}).</p>
<p>Déposé le <strong>${formatDateTime(r.at, call.timeZone)}</strong> (heure du serveur, Paris).</p>
<p>Empreinte SHA-256 de ce qui a été déposé (titre, réponses et version du formulaire) :<br><span class="fp">${r.fingerprint}</span></p>
<p class="no-print"><a href="/candidatures/${a.id}">Retour au dossier</a> · imprimez cette page pour la conserver.</p>
<h2>Contenu déposé</h2>${answersView(form, r.content.answers, a.stage, (id) => `/candidatures/${a.id}/fichiers/${id}`)}
${list.length > 1 ? html`<h2>Dépôts précédents</h2><ul>${list.slice(1).map((x) => html`<li>${formatDateTime(x.at, call.timeZone)} — <span class="fp">${x.fingerprint}</span></li>`)}</ul>` : ''}`;
    return send(reply, 200, renderFrame(theme, { title: `Récépissé ${a.reference}`, body, user, csrf: csrfOf(reply) }));
  });
}

export function historyLabel(h: service.HistoryEntry): string {
  switch (h.kind) {
    case 'created':
      return 'dossier commencé';
    case 'submitted':
      return 'dossier déposé';
    case 'corrected':
      return 'correction déposée';
    case 'correction_requested':
      return 'correction demandée';
    case 'second_stage':
      return 'invité à la seconde étape';
    case 'decision':
      return `décision : ${h.toState ? STATES[h.toState] : ''}`;
    default:
      return h.fromState && h.toState ? `passage de « ${STATES[h.fromState]} » à « ${STATES[h.toState]} »` : h.kind;
  }
}

export function criteriaTable(form: FormDefinition) {
  if (!form.criteria.length) return '';
  const total = form.criteria.reduce((s, c) => s + c.weight, 0);
  return html`<h2>Critères de sélection</h2><table class="data"><thead><tr><th scope="col">Critère</th><th scope="col" class="n">Poids</th><th scope="col" class="n">Note sur</th></tr></thead><tbody>
${form.criteria.map((c) => html`<tr><td>${c.label}</td><td class="n">${Math.round((c.weight / total) * 100)} %</td><td class="n">${c.scale}</td></tr>`)}</tbody></table>`;
}

export interface PublicResult {
  reference: string;
  organisation: string;
  title: string;
  state: string;
  amount: number | null;
}

export async function publicResults(ctx: AppContext, call: service.Call): Promise<PublicResult[]> {
  const { rows } = await ctx.db.query(
    `SELECT a.number, o.name, a.title, a.state, a.decided_amount FROM calls.application a JOIN calls.organisation o ON o.id = a.organisation_id WHERE a.call_id = $1 AND a.state = 'accepte' ORDER BY o.name`,
    [call.id],
  );
  return rows.map((r) => ({ reference: `${call.slug.slice(0, 40).toUpperCase()}-${String(r.number).padStart(4, '0')}`, organisation: r.name as string, title: r.title as string, state: r.state as string, amount: r.decided_amount === null ? null : Number(r.decided_amount) }));
}

function resultsTable(results: PublicResult[]) {
  return html`<table class="data"><caption>Dossiers retenus</caption><thead><tr><th scope="col">Structure</th><th scope="col">Projet</th><th scope="col" class="n">Montant</th></tr></thead><tbody>
${results.map((r) => html`<tr><td>${r.organisation}</td><td>${r.title}</td><td class="n">${r.amount !== null ? formatEuros(r.amount) : '—'}</td></tr>`)}</tbody></table>`;
}

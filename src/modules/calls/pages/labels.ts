/**
 * Label pages. Public: `/labels` (programmes), `/labels/:slug` (the places labelled today, the
 * public list and filter of labelled places). Staff: `/gestion/labels` (programmes, create one),
 * `/gestion/labels/:id` (grant, renew, withdraw a place's label; the history, newest first).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html } from '../../../platform/html/html.ts';
import { NotFoundError, UserError } from '../../../platform/http/errors.ts';
import { currentUser, requirePermission, type CurrentUser } from '../../accounts/index.ts';
import { getPlacesByUids } from '../../places/index.ts';
import type { Queryable } from '../../../platform/db/index.ts';
import * as labels from '../labels.ts';
import * as visits from '../visits.ts';
import type { Application } from '../service.ts';
import { csrfOf, errorBox, formBody, me, plural, renderFrame, send, str } from './ui.ts';

/** « 31 décembre 2027 » from YYYY-MM-DD. */
export function frenchDate(d: string): string {
  return new Date(`${d}T12:00:00Z`).toLocaleDateString('fr-FR', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
}

/** A visit's checklist, read-only. */
function visitTable(v: visits.Visit, placeName: string | undefined) {
  return html`<h3>Visite du ${frenchDate(v.visitedOn)} par ${v.visitor}</h3>
<p>Lieu visité : ${placeName ?? v.placeUid}. ${v.unmetRequired ? html`<strong class="flag">${plural(v.unmetRequired, 'critère obligatoire non rempli', 'critères obligatoires non remplis')} : le label ne peut pas être attribué sur cette visite.</strong>` : html`<strong>Tous les critères obligatoires sont remplis.</strong>`}</p>
<table class="data"><caption>Grille de la visite du ${frenchDate(v.visitedOn)}</caption><thead><tr><th scope="col">Critère</th><th scope="col">Type</th><th scope="col">Relevé</th><th scope="col">Rempli</th><th scope="col">Commentaire</th></tr></thead><tbody>
${v.items.map((i) => html`<tr><th scope="row">${i.label}${i.required ? '' : ' (facultatif)'}</th><td>${visits.CRITERION_KINDS[i.kind].label}</td><td>${i.kind === 'threshold' ? `${i.value} (minimum ${i.threshold})` : '—'}</td><td>${i.met ? 'oui' : html`<strong>non</strong>`}</td><td>${i.comment}</td></tr>`)}</tbody></table>`;
}

/**
 * The audit visit section of a dossier's instruction page: nothing for a call that is not a label
 * campaign; else the visits recorded (newest first) and the form of the programme's checklist.
 */
export async function visitSection(db: Queryable, a: Application, callId: string, csrf: string) {
  const programme = await visits.programmeOfApplication(db, callId);
  if (!programme) return '';
  const list = await visits.visitsOf(db, a.id);
  const names = new Map((await getPlacesByUids(db, [...new Set(list.map((v) => v.placeUid))])).map((x) => [x.uid, x.nom]));
  const c = programme.criteria;
  const form = c.length
    ? html`<form method="post" action="/gestion/dossiers/${a.id}/visites" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}"><fieldset><legend>Consigner une visite d’audit</legend>
<div class="field"><label for="v-on">Date de la visite</label><input type="date" id="v-on" name="visitedOn" required></div>
<div class="field"><label for="v-who">Visiteur (nom et fonction)</label><input type="text" id="v-who" name="visitor" maxlength="200" required></div>
<div class="field"><label for="v-place">Lieu visité (identifiant dans l’annuaire)</label><input type="text" id="v-place" name="placeUid" maxlength="100" required value="${list[0]?.placeUid ?? ''}"></div>
${c.map((k) => html`<fieldset><legend>${k.label}${k.required ? ' (obligatoire)' : ' (facultatif)'}</legend>
${k.kind === 'threshold'
  ? html`<div class="field"><label for="v-value-${k.id}">Valeur relevée (minimum ${k.threshold})</label><input type="text" inputmode="decimal" id="v-value-${k.id}" name="value_${k.id}" required></div>`
  : html`<p>${k.kind === 'document' ? 'Document vu lors de la visite ?' : 'Critère rempli ?'}</p><label><input type="radio" name="met_${k.id}" value="oui" required> Oui</label> <label><input type="radio" name="met_${k.id}" value="non"> Non</label>`}
<div class="field"><label for="v-comment-${k.id}">Commentaire (obligatoire si le critère n’est pas rempli)</label><textarea id="v-comment-${k.id}" name="comment_${k.id}" rows="2" maxlength="1000"></textarea></div></fieldset>`)}
<button type="submit">Consigner la visite</button></fieldset></form>`
    : html`<p>Le label « ${programme.name} » n’a pas encore de critères de visite : l’équipe qui le gère doit les écrire sur <a href="/gestion/labels/${programme.id}">sa page</a>.</p>`;
  return html`<h2 id="visite">Visite d’audit — ${programme.name}</h2>
<p class="hint">La dernière visite du lieu décide : le label n’est pas attribué tant qu’un critère obligatoire n’y est pas rempli.</p>
${list.length ? list.map((v) => visitTable(v, names.get(v.placeUid))) : html`<p>Aucune visite consignée.</p>`}
${form}`;
}

export function registerLabelPages(app: App, ctx: AppContext) {
  const theme = ctx.config.theme;
  const office = { preHandler: requirePermission('backoffice.access') };
  const officePost = { ...office, preValidation: app.csrfProtection };
  const frame = (reply: FastifyReply, status: number, user: CurrentUser | null, title: string, body: ReturnType<typeof html>, index = false) =>
    send(reply, status, renderFrame(theme, { title, body, user, csrf: user ? csrfOf(reply) : undefined, index }));

  // ---- public

  app.get('/labels', async (req, reply) => {
    const user = await currentUser(req);
    const programmes = await labels.listProgrammes(ctx.db);
    const body = html`<h1>Labels</h1><p>Les labels attribués par la collectivité aux lieux de l’annuaire, après une campagne de labellisation. Chaque label a une durée de validité ; il peut être renouvelé ou retiré.</p>
${programmes.length ? html`<ul>${programmes.map((p) => html`<li><a href="/labels/${p.slug}">${p.name}</a> — valable ${plural(p.validityMonths, 'mois', 'mois')}</li>`)}</ul>` : html`<p>Aucun label pour l’instant.</p>`}
<p>Données ouvertes : <a href="/api/v1/calls/labels.csv">lieux labellisés (CSV)</a>.</p>`;
    return frame(reply, 200, user, 'Labels', body, true);
  });

  app.get('/labels/:slug', async (req, reply) => {
    const user = await currentUser(req);
    const p = await labels.getProgramme(ctx.db, (req.params as { slug: string }).slug);
    if (!p) throw new NotFoundError('Ce label n’existe pas.');
    const held = await labels.labelledPlaces(ctx.db, p.id);
    const places = new Map((await getPlacesByUids(ctx.db, held.map((h) => h.placeUid))).filter((x) => x.visible).map((x) => [x.uid, x]));
    const rows = held.filter((h) => places.has(h.placeUid));
    const body = html`<p><a href="/labels">Labels</a></p><h1>${p.name}</h1>${p.description ? html`<p>${p.description}</p>` : ''}
<p>Durée de validité : ${plural(p.validityMonths, 'mois', 'mois')}.${p.callId ? html` Attribué après une campagne de labellisation.` : ''}</p>
<h2>${plural(rows.length, 'lieu labellisé', 'lieux labellisés')} aujourd’hui</h2>
${rows.length ? html`<table class="data"><thead><tr><th scope="col">Lieu</th><th scope="col">Commune</th><th scope="col">Labellisé jusqu’au</th></tr></thead><tbody>
${rows.map((h) => {
  const pl = places.get(h.placeUid)!;
  return html`<tr><td><a href="/lieux/${pl.uid}/${pl.slug}">${pl.nom}</a></td><td>${pl.commune}</td><td>${frenchDate(h.validUntil)}</td></tr>`;
})}</tbody></table>` : html`<p>Aucun lieu n’a ce label aujourd’hui.</p>`}`;
    return frame(reply, 200, user, p.name, body, true);
  });

  // ---- staff

  const listPage = async (req: FastifyRequest, reply: FastifyReply, status: number, error: string | null) => {
    const user = await me(req);
    const programmes = await labels.listProgrammes(ctx.db);
    const csrf = csrfOf(reply);
    const body = html`<p><a href="/gestion/appels">Appels</a></p><h1>Labels</h1>${errorBox(error)}
${programmes.length ? html`<ul>${programmes.map((p) => html`<li><a href="/gestion/labels/${p.id}">${p.name}</a> (région ${p.region}, ${plural(p.validityMonths, 'mois', 'mois')})</li>`)}</ul>` : html`<p>Aucun label.</p>`}
<h2>Nouveau label</h2><form method="post" action="/gestion/labels" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="l-name">Nom</label><input type="text" id="l-name" name="name" maxlength="200" required></div>
<div class="field"><label for="l-desc">Description</label><textarea id="l-desc" name="description" rows="3"></textarea></div>
<div class="field"><label for="l-region">Région (code INSEE)</label><input type="text" id="l-region" name="region" maxlength="2" inputmode="numeric" required></div>
<div class="field"><label for="l-months">Durée de validité (mois)</label><input type="number" id="l-months" name="validityMonths" min="1" max="120" value="36" required></div>
<div class="field"><label for="l-call">Campagne de labellisation (identifiant de l’appel, facultatif)</label><input type="text" id="l-call" name="callId" maxlength="36"></div>
<button type="submit">Créer le label</button></form>`;
    return frame(reply, status, user, 'Labels', body);
  };
  app.get('/gestion/labels', office, (req, reply) => listPage(req, reply, 200, null));
  app.post('/gestion/labels', officePost, async (req, reply) => {
    const user = await me(req);
    const f = formBody(req);
    try {
      const p = await labels.createProgramme(ctx, user, { name: str(f.name), description: str(f.description), region: str(f.region), validityMonths: str(f.validityMonths), callId: str(f.callId) });
      return reply.redirect(`/gestion/labels/${p.id}`, 303);
    } catch (e) {
      if (e instanceof UserError && e.statusCode !== 403 && e.statusCode !== 404) return listPage(req, reply, e.statusCode === 400 ? 422 : e.statusCode, `${e.message}${e.field ? ` (champ ${e.field})` : ''}`);
      throw e;
    }
  });

  const programmePage = async (req: FastifyRequest, reply: FastifyReply, status: number, error: string | null) => {
    const user = await me(req);
    const p = await labels.getProgramme(ctx.db, (req.params as { id: string }).id);
    if (!p) throw new NotFoundError('Ce label n’existe pas.');
    const events = await labels.programmeEvents(ctx.db, p.id);
    const names = new Map((await getPlacesByUids(ctx.db, [...new Set(events.map((e) => e.placeUid))])).map((x) => [x.uid, x.nom]));
    const csrf = csrfOf(reply);
    const body = html`<p><a href="/gestion/labels">Labels</a></p><h1>${p.name}</h1>${errorBox(error)}
<p>Région ${p.region}, validité ${plural(p.validityMonths, 'mois', 'mois')}. <a href="/labels/${p.slug}">Page publique</a>.</p>
<h2>Critères de la visite d’audit</h2>
${p.criteria.length ? html`<ul>${p.criteria.map((c) => html`<li>${c.label} — ${visits.CRITERION_KINDS[c.kind].label}${c.kind === 'threshold' ? ` (minimum ${c.threshold})` : ''}${c.required ? ', obligatoire' : ', facultatif'}</li>`)}</ul>` : html`<p>Aucun critère : le label s’attribue sans visite d’audit.</p>`}
<form method="post" action="/gestion/labels/${p.id}/criteres" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="c-lines">Un critère par ligne</label><span class="hint" id="c-lines-hint">« oui-non ; Libellé », « seuil ; Libellé ; minimum » ou « document ; Libellé » ; ajoutez « ; facultatif » à la fin d’un critère qui ne bloque pas l’attribution.</span>
<textarea id="c-lines" name="criteria" rows="6" aria-describedby="c-lines-hint">${visits.criteriaText(p.criteria)}</textarea></div><button type="submit">Enregistrer les critères</button></form>
<h2>Attribuer, renouveler ou retirer</h2>
<form method="post" action="/gestion/labels/${p.id}/evenements" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="e-place">Lieu (identifiant dans l’annuaire)</label><input type="text" id="e-place" name="placeUid" maxlength="100" required></div>
<div class="field"><label for="e-kind">Action</label><select id="e-kind" name="kind"><option value="granted">Attribuer</option><option value="renewed">Renouveler</option><option value="withdrawn">Retirer</option></select></div>
<div class="field"><label for="e-from">Début de validité (attribution ; aujourd’hui par défaut)</label><input type="date" id="e-from" name="validFrom"></div>
<div class="field"><label for="e-app">Dossier accepté de la campagne (identifiant, facultatif)</label><input type="text" id="e-app" name="applicationId" maxlength="36"></div>
<div class="field"><label for="e-reason">Motif (obligatoire pour un retrait ; public)</label><textarea id="e-reason" name="reason" rows="2"></textarea></div>
<button type="submit">Enregistrer</button></form>
<h2>Historique</h2>
${events.length ? html`<table class="data"><thead><tr><th scope="col">Date</th><th scope="col">Lieu</th><th scope="col">Événement</th><th scope="col">Validité</th><th scope="col">Motif</th></tr></thead><tbody>
${events.map((e) => html`<tr><td>${frenchDate(e.at.slice(0, 10))}</td><td>${names.get(e.placeUid) ?? e.placeUid}</td><td>${labels.LABEL_EVENTS[e.kind]}</td><td>${e.validFrom ? `${frenchDate(e.validFrom)} – ${frenchDate(e.validUntil!)}` : '—'}</td><td>${e.reason ?? ''}</td></tr>`)}</tbody></table>` : html`<p>Aucun événement.</p>`}`;
    return frame(reply, status, user, p.name, body);
  };
  app.get('/gestion/labels/:id', office, (req, reply) => programmePage(req, reply, 200, null));
  app.post('/gestion/labels/:id/criteres', officePost, async (req, reply) => {
    const user = await me(req);
    const id = (req.params as { id: string }).id;
    try {
      await visits.setCriteria(ctx, user, id, str(formBody(req).criteria));
      return reply.redirect(`/gestion/labels/${id}`, 303);
    } catch (e) {
      if (e instanceof UserError && e.statusCode !== 403 && e.statusCode !== 404) return programmePage(req, reply, e.statusCode === 400 ? 422 : e.statusCode, `${e.message}${e.field ? ` (champ ${e.field})` : ''}`);
      throw e;
    }
  });
  app.post('/gestion/labels/:id/evenements', officePost, async (req, reply) => {
    const user = await me(req);
    const f = formBody(req);
    const id = (req.params as { id: string }).id;
    try {
      await labels.changeLabel(ctx, user, id, str(f.placeUid), str(f.kind), { validFrom: str(f.validFrom), applicationId: str(f.applicationId), reason: str(f.reason) });
      return reply.redirect(`/gestion/labels/${id}`, 303);
    } catch (e) {
      if (e instanceof UserError && e.statusCode !== 403 && e.statusCode !== 404) return programmePage(req, reply, e.statusCode === 400 ? 422 : e.statusCode, `${e.message}${e.field ? ` (champ ${e.field})` : ''}`);
      throw e;
    }
  });
}

/**
 * The places back-office home (my places, my territories, my claims) and the claim journey: find
 * the place, ask to manage it (link e-mailed to the place's address, or staff review), confirm.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { html, raw } from '../../../../platform/html/html.ts';
import { UserError } from '../../../../platform/http/errors.ts';
import { TOKEN_ROUTE, can, getUser, requireSignedIn } from '../../../accounts/index.ts';
import { listRegions } from '../../../territories/index.ts';
import { searchPlaces } from '../../service.ts';
import { getPlaceRow, getPlacesByUids, type Place } from '../../store.ts';
import * as store from '../store.ts';
import { claimForToken, confirmClaim, loadTerritory, placeResource, startClaim, type Territory } from '../service.ts';
import { sendMail } from '../mail.ts';
import { CLAIM_METHOD, CLAIM_STATUS, LEVEL_LABEL, OK } from '../strings.ts';
import { bodyValue, csrfField, errorSummary, formatDateTime, okNotice, param, queryValue, textArea, titleWithErrors, type FieldError } from '../ui.ts';
import { csrfOf, isUuid, me, page, territoryBase, type PageDeps } from './common.ts';
import { grantManager } from './territory.ts';
import { plural } from '../../../../platform/html/components.ts';

export function registerHomePages(deps: PageDeps): void {
  const { app, ctx } = deps;
  const db = ctx.db;

  app.get('/gestion/lieux', { preHandler: requireSignedIn }, async (req, reply) => {
    const user = await me(req);
    const placeIds = user.grants.filter((g) => g.scopeKind === 'place' && g.role === 'place_manager').map((g) => g.scopeId).filter(isUuid);
    const places = await getPlacesByUids(db, placeIds);
    const territories: Territory[] = [];
    for (const g of user.grants) {
      if (g.scopeKind === 'region' || g.scopeKind === 'departement') {
        const t = await loadTerritory(db, g.scopeKind, g.scopeId);
        if (t && !territories.some((x) => x.level === t.level && x.code === t.code) && can(user, 'territory.dashboard', t.level === 'region' ? { type: 'territory', region: t.code } : { type: 'territory', region: t.region, departement: t.code })) territories.push(t);
      }
    }
    const isAdmin = can(user, 'sources.manage');
    const regions = isAdmin ? await listRegions(db) : [];
    const claims = await store.claimsOfUser(db, user.id);
    return page(deps, reply, 200, {
      title: 'Gestion des lieux',
      user,
      crumbs: [{ href: '/gestion', label: 'Espace de gestion' }, { label: 'Lieux' }],
      body: html`<h1>Gestion des lieux</h1>
        ${okNotice(OK[queryValue(req, 'ok')])}
        <h2>Vos lieux</h2>
        ${places.length ? html`<ul>${places.map((p) => html`<li><a href="/gestion/lieux/${p.uid}">${p.nom}</a> — ${p.commune}</li>`)}</ul>` : html`<p>Vous ne gérez aucun lieu pour l’instant.</p>`}
        <p><a href="/gestion/lieux/revendiquer">Demander à gérer un lieu</a></p>
        ${territories.length ? html`<h2>Vos territoires</h2><ul>${territories.map((t) => html`<li><a href="${territoryBase(t)}">${LEVEL_LABEL[t.level]} ${t.name}</a></li>`)}</ul>` : ''}
        ${isAdmin
          ? html`<h2>Administration</h2><ul><li><a href="/gestion/sources">Sources de données et fichiers de correspondance</a></li></ul>
            <h3>Tableaux de bord des régions</h3><ul>${regions.map((rg) => html`<li><a href="/gestion/territoires/region/${rg.code}">${rg.name}</a></li>`)}</ul>`
          : ''}
        ${claims.length
          ? html`<h2>Vos demandes de gestion</h2><table class="data"><thead><tr><th scope="col">Lieu</th><th scope="col">Demande</th><th scope="col">État</th></tr></thead>
            <tbody>${claims.map((c) => html`<tr><td>${c.placeName}</td><td>${CLAIM_METHOD[c.method]}, le ${formatDateTime(c.createdAt)}</td><td>${CLAIM_STATUS[c.status]}${c.decisionNote ? html` — ${c.decisionNote}` : ''}</td></tr>`)}</tbody></table>`
          : ''}`,
    });
  });

  // ---- claim: find the place
  app.get('/gestion/lieux/revendiquer', { preHandler: requireSignedIn }, async (req, reply) => {
    const user = await me(req);
    const q = queryValue(req, 'q').trim();
    const results = q ? await searchPlaces(db, { q, limit: 30 }) : null;
    return page(deps, reply, 200, {
      title: 'Demander à gérer un lieu',
      user,
      crumbs: [{ href: '/gestion', label: 'Espace de gestion' }, { href: '/gestion/lieux', label: 'Lieux' }, { label: 'Demander à gérer un lieu' }],
      body: html`<h1>Demander à gérer un lieu</h1>
        <p>Vous travaillez dans un lieu de médiation numérique ? Retrouvez sa fiche et demandez à la gérer : vous pourrez alors la mettre à jour.</p>
        <form method="get" action="/gestion/lieux/revendiquer" role="search"><div class="form-field"><label for="f-q">Nom du lieu ou commune</label><input id="f-q" name="q" type="search" value="${q}"></div><button type="submit">Chercher</button></form>
        ${results
          ? results.items.length
            ? html`<h2>${plural(results.total, 'lieu trouvé', 'lieux trouvés')}</h2><ul>${results.items.map((h) => html`<li><a href="/gestion/lieux/${h.place.uid}/revendiquer">${h.place.nom}</a> — ${h.place.adresse}, ${h.place.code_postal} ${h.place.commune}</li>`)}</ul>`
            : html`<p>Aucun lieu ne correspond à « ${q} ».</p>`
          : ''}`,
    });
  });

  // ---- claim: ask
  const visiblePlace = async (req: FastifyRequest): Promise<Place> => {
    const uid = param(req, 'uid');
    const p = isUuid(uid) ? await getPlaceRow(db, uid) : null;
    if (!p || !p.visible) throw new UserError('Ce lieu n’existe pas.', 404);
    return p;
  };

  const claimForm = async (req: FastifyRequest, reply: FastifyReply, place: Place, o: { method?: string; email?: string; message?: string; errors?: FieldError[]; status?: number }) => {
    const user = await me(req);
    const errors = o.errors ?? [];
    const csrf = csrfOf(reply);
    const already = can(user, 'places.edit', placeResource(place));
    const method = o.method ?? (place.courriels.length ? 'email' : 'staff');
    const err = (f: string) => errors.find((e) => e.field === f);
    return page(deps, reply, o.status ?? (errors.length ? 400 : 200), {
      title: titleWithErrors(`Gérer « ${place.nom} »`, errors),
      user,
      csrf,
      crumbs: [{ href: '/gestion', label: 'Espace de gestion' }, { href: '/gestion/lieux', label: 'Lieux' }, { label: `Gérer « ${place.nom} »` }],
      body: html`<h1>Demander à gérer « ${place.nom} »</h1>
        <p>${place.adresse}, ${place.code_postal} ${place.commune}</p>
        ${already
          ? html`<p>Vous pouvez déjà modifier cette fiche : <a href="/gestion/lieux/${place.uid}">la gérer</a>.</p>`
          : html`${errorSummary(errors)}
            <form method="post" action="/gestion/lieux/${place.uid}/revendiquer" novalidate>${csrfField(csrf)}
              <fieldset class="checks" id="f-method"><legend>Comment vérifier que vous représentez ce lieu ?</legend>
                ${err('method') ? html`<span class="error-message" id="f-method-error">${err('method')!.message}</span>` : ''}
                <ul style="columns:1">
                ${place.courriels.length
                  ? html`<li><input type="radio" id="f-method-email" name="method" value="email"${method === 'email' ? raw(' checked') : ''}> <label for="f-method-email">Par un lien envoyé à une adresse e-mail de la fiche (le plus rapide)</label></li>`
                  : ''}
                <li><input type="radio" id="f-method-staff" name="method" value="staff"${method === 'staff' ? raw(' checked') : ''}> <label for="f-method-staff">Par l’équipe du territoire, qui examine ma demande</label></li>
                </ul></fieldset>
              ${place.courriels.length
                ? html`<fieldset class="checks" id="f-email"${err('email') ? html` aria-describedby="f-email-error"` : ''}><legend>Adresse e-mail du lieu qui recevra le lien</legend>
                    ${err('email') ? html`<span class="error-message" id="f-email-error">${err('email')!.message}</span>` : ''}
                    <ul style="columns:1">${place.courriels.map((c, i) => html`<li><input type="radio" id="f-email-${i}" name="email" value="${c}"${(o.email ?? place.courriels[0]) === c ? raw(' checked') : ''}> <label for="f-email-${i}">${c}</label></li>`)}</ul></fieldset>`
                : html`<p>La fiche n’a pas d’adresse e-mail : votre demande sera examinée par l’équipe du territoire.</p>`}
              ${textArea({ name: 'message', label: 'Votre lien avec ce lieu', hint: 'Obligatoire pour une validation par l’équipe du territoire (fonction, structure…). 1 000 caractères au plus.', value: o.message ?? '', errors, maxlength: 1000 })}
              <button type="submit">Envoyer la demande</button>
            </form>`}`,
    });
  };

  app.get('/gestion/lieux/:uid/revendiquer', { preHandler: requireSignedIn }, async (req, reply) => claimForm(req, reply, await visiblePlace(req), {}));

  app.post(
    '/gestion/lieux/:uid/revendiquer',
    { preValidation: app.csrfProtection, preHandler: requireSignedIn, config: { rateLimit: { max: 10, timeWindow: '1 hour' } } },
    async (req, reply) => {
      const user = await me(req);
      const place = await visiblePlace(req);
      const o = { method: bodyValue(req, 'method', 10), email: bodyValue(req, 'email', 300), message: bodyValue(req, 'message', 2000) };
      if (can(user, 'places.edit', placeResource(place))) return reply.redirect(`/gestion/lieux/${place.uid}`, 303);
      if (o.method !== 'email' && o.method !== 'staff') return claimForm(req, reply, place, { ...o, errors: [{ field: 'method', message: 'Choisissez comment vérifier votre demande.' }] });
      try {
        const { token } = await startClaim(db, { userId: user.id, placeUid: place.uid, method: o.method, email: o.email, message: o.message });
        if (token) {
          const link = `${ctx.config.publicUrl}/gestion/revendications/confirmer/${token}`;
          await sendMail(req, {
            to: o.email.trim(),
            subject: `Demande de gestion de la fiche « ${place.nom} »`,
            text:
              `Bonjour,\n\n${user.displayName} (${user.email}) demande à gérer la fiche « ${place.nom} » (${place.adresse}, ${place.code_postal} ${place.commune}) sur ${ctx.config.theme.siteName}.\n\n` +
              `Si cette personne représente bien votre lieu, ouvrez ce lien (valable 7 jours) et confirmez :\n\n${link}\n\nSinon, ignorez ce message : rien ne changera.`,
          });
        }
        return reply.redirect(`/gestion/lieux?ok=${token ? 'claim-email' : 'claim-staff'}`, 303);
      } catch (err) {
        if (!(err instanceof UserError) || err.statusCode === 404) throw err;
        return claimForm(req, reply, place, { ...o, status: err.statusCode, errors: [{ field: err.field, message: err.message }] });
      }
    },
  );

  // ---- claim: confirmation by the holder of the place's mailbox (no account needed)
  const confirmPage = async (req: FastifyRequest, reply: FastifyReply) => {
    const claim = await claimForToken(db, param(req, 'token'));
    if (!claim) {
      return page(deps, reply, 410, {
        title: 'Lien invalide ou expiré',
        user: null,
        body: html`<h1>Lien invalide ou expiré</h1><p>Ce lien a déjà servi, a expiré (7 jours) ou la demande a été traitée.</p>`,
      });
    }
    const place = (await getPlaceRow(db, claim.placeUid))!;
    const claimant = await getUser(db, claim.userId);
    return page(deps, reply, 200, {
      title: 'Confirmer la demande de gestion',
      user: null,
      body: html`<h1>Confirmer la demande de gestion</h1>
        <p>${claimant ? `${claimant.displayName} (${claimant.email})` : 'Une personne'} demande à gérer la fiche « ${place.nom} » (${place.adresse}, ${place.code_postal} ${place.commune}).</p>
        <p>En confirmant, vous attestez que cette personne représente le lieu : elle pourra modifier sa fiche.</p>
        <form method="post" action="/gestion/revendications/confirmer/${param(req, 'token')}">${csrfField(csrfOf(reply))}<button type="submit">Confirmer</button></form>`,
    });
  };

  app.get('/gestion/revendications/confirmer/:token', { ...TOKEN_ROUTE, config: { rateLimit: { max: 30, timeWindow: '1 minute' } } }, confirmPage);

  app.post('/gestion/revendications/confirmer/:token', { ...TOKEN_ROUTE, preValidation: app.csrfProtection, config: { rateLimit: { max: 30, timeWindow: '1 minute' } } }, async (req, reply) => {
    const claim = await confirmClaim(db, param(req, 'token'));
    if (!claim) return confirmPage(req, reply);
    // No account acts here: the holder of the place's mailbox confirmed (recorded by places.claim.verify).
    await grantManager(req, null, claim.userId, claim.placeUid);
    const place = await getPlaceRow(db, claim.placeUid);
    return page(deps, reply, 200, {
      title: 'Demande confirmée',
      user: null,
      body: html`<h1>Demande confirmée</h1><p>La personne peut désormais gérer la fiche « ${place?.nom ?? ''} ». Merci.</p>`,
    });
  });
}

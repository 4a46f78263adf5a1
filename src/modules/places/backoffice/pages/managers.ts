/**
 * The managers of a place, for the territory's staff: who manages it, add someone (an existing
 * account gets the role, a new address gets an invitation carrying it), remove someone. Role changes
 * go through the accounts module, which audits them.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { plural } from '../../../../platform/html/components.ts';
import { html } from '../../../../platform/html/html.ts';
import { UserError } from '../../../../platform/http/errors.ts';
import {
  findUserByEmail,
  grantRoleFromRequest,
  inviteUserFromRequest,
  requirePermission,
  revokeRoleFromRequest,
  usersWithGrantFromRequest,
} from '../../../accounts/index.ts';
import { getPlaceRow, type Place } from '../../store.ts';
import { bodyValue, csrfField, errorSummary, okNotice, param, queryValue, textField, titleWithErrors, type FieldError } from '../ui.ts';
import { csrfOf, isUuid, me, page, resolvers, type PageDeps } from './common.ts';

const OK: Record<string, string> = {
  added: 'Gestionnaire ajouté : la personne peut modifier la fiche.',
  invited: 'Invitation envoyée : la personne pourra modifier la fiche dès qu’elle aura activé son compte.',
  removed: 'Gestionnaire retiré.',
};

export function registerManagerPages(deps: PageDeps): void {
  const { app, ctx } = deps;
  const db = ctx.db;
  const guard = requirePermission('places.managers.manage', resolvers(deps).place);
  const post = { preValidation: app.csrfProtection, preHandler: guard, config: { rateLimit: { max: 60, timeWindow: '1 minute' } } };
  const load = async (req: FastifyRequest) => (await getPlaceRow(db, param(req, 'uid')))!;

  const managersPage = async (req: FastifyRequest, reply: FastifyReply, place: Place, o: { email?: string; displayName?: string; errors?: FieldError[]; status?: number } = {}) => {
    const user = await me(req);
    const errors = o.errors ?? [];
    const csrf = csrfOf(reply);
    const managers = await usersWithGrantFromRequest(req, 'place_manager', 'place', place.uid);
    const base = `/gestion/lieux/${place.uid}/gestionnaires`;
    return page(deps, reply, o.status ?? (errors.length ? 400 : 200), {
      title: titleWithErrors(`Gestionnaires de « ${place.nom} »`, errors),
      user,
      csrf,
      crumbs: [{ href: '/gestion', label: 'Espace de gestion' }, { href: '/gestion/lieux', label: 'Lieux' }, { href: `/gestion/lieux/${place.uid}`, label: place.nom }, { label: 'Gestionnaires' }],
      body: html`<h1>Gestionnaires de « ${place.nom} »</h1>
        ${okNotice(OK[queryValue(req, 'ok')])}
        ${errorSummary(errors)}
        ${managers.length
          ? html`<table class="data"><caption>${plural(managers.length, 'gestionnaire', 'gestionnaires')}</caption><thead><tr><th scope="col">Nom</th><th scope="col">Adresse e-mail</th><th scope="col">Action</th></tr></thead>
            <tbody>${managers.map((m) => html`<tr><td>${m.displayName}</td><td>${m.email}</td><td><form method="post" action="${base}/retirer">${csrfField(csrf)}<input type="hidden" name="user" value="${m.id}"><button type="submit">Retirer<span class="visually-hidden"> ${m.displayName}</span></button></form></td></tr>`)}</tbody></table>`
          : html`<p>Personne ne gère encore cette fiche.</p>`}
        <h2>Ajouter un gestionnaire</h2>
        <p>Une personne qui a déjà un compte reçoit le rôle tout de suite ; sinon, elle reçoit une invitation par e-mail.</p>
        <form method="post" action="${base}" novalidate>${csrfField(csrf)}
          ${textField({ name: 'email', label: 'Adresse e-mail', type: 'email', value: o.email ?? '', errors, maxlength: 254, required: true, autocomplete: 'off' })}
          ${textField({ name: 'displayName', label: 'Nom (pour une invitation)', value: o.displayName ?? '', errors, maxlength: 120, autocomplete: 'off' })}
          <button type="submit">Ajouter</button></form>`,
    });
  };

  app.get('/gestion/lieux/:uid/gestionnaires', { preHandler: guard }, async (req, reply) => managersPage(req, reply, await load(req)));

  app.post('/gestion/lieux/:uid/gestionnaires', post, async (req, reply) => {
    const actor = await me(req);
    const place = await load(req);
    const o = { email: bodyValue(req, 'email', 300).trim(), displayName: bodyValue(req, 'displayName', 300).trim() };
    const grant = { role: 'place_manager', scopeKind: 'place', scopeId: place.uid };
    try {
      const existing = o.email ? await findUserByEmail(db, o.email) : null;
      if (existing) {
        if (existing.status === 'deleted' || existing.status === 'disabled') throw new UserError('Ce compte est désactivé ou supprimé.', 409, 'email');
        await grantRoleFromRequest(req, actor.id, existing.id, grant);
        return reply.redirect(`/gestion/lieux/${place.uid}/gestionnaires?ok=added`, 303);
      }
      await inviteUserFromRequest(req, actor.id, { email: o.email, displayName: o.displayName, grant });
      return reply.redirect(`/gestion/lieux/${place.uid}/gestionnaires?ok=invited`, 303);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      const field = err.field === 'role' ? 'email' : err.field;
      return managersPage(req, reply, place, { ...o, status: err.statusCode, errors: [{ field, message: err.field === 'role' ? 'Cette personne gère déjà ce lieu.' : err.message }] });
    }
  });

  app.post('/gestion/lieux/:uid/gestionnaires/retirer', post, async (req, reply) => {
    const actor = await me(req);
    const place = await load(req);
    const userId = bodyValue(req, 'user', 64);
    if (!isUuid(userId) || !(await revokeRoleFromRequest(req, actor.id, userId, { role: 'place_manager', scopeKind: 'place', scopeId: place.uid }))) {
      return managersPage(req, reply, place, { status: 409, errors: [{ field: null, message: 'Cette personne ne gère pas (ou plus) ce lieu.' }] });
    }
    return reply.redirect(`/gestion/lieux/${place.uid}/gestionnaires?ok=removed`, 303);
  });
}

/**
 * Followed beneficiaries (with consent, minimal data), visible to their mediator and the
 * mediator's team; duplicates and merge; export and deletion on request. Teams (staff).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html } from '../../../platform/html/html.ts';
import { UserError } from '../../../platform/http/errors.ts';
import { findUserByEmail, requirePermission } from '../../accounts/index.ts';
import { GENDERS, STATUSES, ValidationFailed, type FieldError } from '../model.ts';
import * as service from '../service.ts';
import { csrfOf, errorSummary, fieldError, formBody, invalid, me, plural, renderFrame, selectOptions, send } from './ui.ts';

type Values = Record<string, unknown>;
const s = (v: Values, k: string) => (typeof v[k] === 'string' ? (v[k] as string) : v[k] === null || v[k] === undefined ? '' : String(v[k]));

function beneficiaryForm(action: string, csrf: string, v: Values, errors: FieldError[], withConsent: boolean) {
  return html`${errorSummary(errors)}<form class="med-form" method="post" action="${action}"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-alias">Nom ou pseudonyme</label>${fieldError(errors, 'alias')}<input type="text" id="f-alias" name="alias" maxlength="120" value="${s(v, 'alias')}"${invalid(errors, 'alias')}></div>
<div class="field"><label for="f-birthYear">Année de naissance (facultatif)</label>${fieldError(errors, 'birthYear')}<input type="number" id="f-birthYear" name="birthYear" inputmode="numeric" min="1900" value="${s(v, 'birthYear')}"${invalid(errors, 'birthYear')}></div>
<div class="field"><label for="f-communeCode">Commune de résidence, code INSEE (facultatif)</label>${fieldError(errors, 'communeCode')}<input type="text" id="f-communeCode" name="communeCode" maxlength="5" value="${s(v, 'communeCode')}"${invalid(errors, 'communeCode')}></div>
<div class="field"><label for="f-contact">Contact, si nécessaire</label>${fieldError(errors, 'contact')}<input type="text" id="f-contact" name="contact" maxlength="200" value="${s(v, 'contact')}"${invalid(errors, 'contact')}></div>
<div class="field"><label for="f-gender">Genre</label>${fieldError(errors, 'gender')}<select id="f-gender" name="gender">${selectOptions(GENDERS, s(v, 'gender'), '—')}</select></div>
<div class="field"><label for="f-status">Statut</label>${fieldError(errors, 'status')}<select id="f-status" name="status">${selectOptions(STATUSES, s(v, 'status'), '—')}</select></div>
${withConsent ? html`<div class="field" id="f-consent">${fieldError(errors, 'consent')}<label><input type="checkbox" name="consent" value="on"${invalid(errors, 'consent')}> La personne accepte d’être suivie : elle sait ce qui est gardé, pour combien de temps, et qu’elle peut en demander la copie ou l’effacement.</label></div>` : ''}
<p><button type="submit">Enregistrer</button></p></form>`;
}

export function registerBeneficiaryPages(app: App, ctx: AppContext) {
  const guard = { preHandler: requirePermission('mediation.record') };
  const post = { ...guard, preValidation: app.csrfProtection };
  const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;

  app.get('/mediation/beneficiaires', guard, async (req, reply) => {
    const user = await me(req);
    const q = typeof (req.query as { q?: unknown }).q === 'string' ? ((req.query as { q: string }).q).slice(0, 100) : '';
    const list = await service.listBeneficiaries(ctx, user.id, q);
    const body = html`<h1>Bénéficiaires suivis</h1>
<p>Les personnes accompagnées sont anonymes par défaut. Une personne n’est suivie qu’avec son accord ; ses données sont effacées ${ctx.config.mediationRetentionMonths} mois après sa dernière activité.</p>
<p><a href="/mediation/beneficiaires/nouveau">Suivre une nouvelle personne</a> · <a href="/mediation/beneficiaires/doublons">Doublons probables</a></p>
<form method="get" action="/mediation/beneficiaires" role="search" class="med-form"><label for="q">Rechercher</label><input type="search" id="q" name="q" value="${q}"><button type="submit">Rechercher</button></form>
${list.length ? html`<ul>${list.map((b) => html`<li><a href="/mediation/beneficiaires/${b.id}">${b.alias}</a>${b.birthYear ? ` (${b.birthYear})` : ''}${b.mediatorId !== user.id ? ' — suivi par un membre de l’équipe' : ''}</li>`)}</ul>` : html`<p>Aucune personne suivie.</p>`}`;
    return send(reply, 200, renderFrame(ctx.config.theme, { title: 'Bénéficiaires suivis', user, csrf: csrfOf(reply), body }));
  });

  const newPage = async (req: FastifyRequest, reply: FastifyReply, status: number, v: Values, errors: FieldError[]) => {
    const user = await me(req);
    const body = html`<h1>Suivre une personne</h1><p>Ne gardez que le nécessaire : un nom ou un pseudonyme suffit.</p>${beneficiaryForm('/mediation/beneficiaires', csrfOf(reply), v, errors, true)}`;
    return send(reply, status, renderFrame(ctx.config.theme, { title: 'Suivre une personne', user, csrf: csrfOf(reply), body }));
  };
  app.get('/mediation/beneficiaires/nouveau', guard, async (req, reply) => newPage(req, reply, 200, {}, []));
  app.post('/mediation/beneficiaires', post, async (req, reply) => {
    const user = await me(req);
    const v = formBody(req);
    try {
      const b = await service.createBeneficiary(ctx, user.id, v);
      return reply.redirect(`/mediation/beneficiaires/${b.id}`, 303);
    } catch (e) {
      if (e instanceof ValidationFailed) return newPage(req, reply, 422, v, e.errors);
      throw e;
    }
  });

  app.get('/mediation/beneficiaires/doublons', guard, async (req, reply) => {
    const user = await me(req);
    const pairs = await service.beneficiaryDuplicates(ctx, user.id);
    const csrf = csrfOf(reply);
    const body = html`<h1>Doublons probables</h1>${pairs.length
      ? html`<ul>${pairs.map((p) => html`<li>${p.a.alias} (${p.a.birthYear ?? '?'}, ${p.a.communeCode ?? '?'}) et ${p.b.alias} (${p.b.birthYear ?? '?'}, ${p.b.communeCode ?? '?'}) : ${p.reason}.
<form method="post" action="/mediation/beneficiaires/fusion" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="keep" value="${p.a.id}"><input type="hidden" name="drop" value="${p.b.id}"><button type="submit">Fusionner dans la première fiche</button></form></li>`)}</ul>`
      : html`<p>Aucun doublon probable.</p>`}`;
    return send(reply, 200, renderFrame(ctx.config.theme, { title: 'Doublons probables', user, csrf, body }));
  });
  app.post('/mediation/beneficiaires/fusion', post, async (req, reply) => {
    const user = await me(req);
    const f = formBody(req);
    const b = await service.mergeBeneficiaries(ctx, user.id, typeof f.keep === 'string' ? f.keep : '', typeof f.drop === 'string' ? f.drop : '');
    return reply.redirect(`/mediation/beneficiaires/${b.id}`, 303);
  });

  const showPage = async (req: FastifyRequest, reply: FastifyReply, status: number, v: Values | null, errors: FieldError[]) => {
    const user = await me(req);
    const b = await service.openBeneficiary(ctx, user.id, idOf(req));
    const csrf = csrfOf(reply);
    const body = html`<h1>${b.alias}</h1>
<p>Suivi depuis le ${b.consentAt.slice(0, 10)} (accord recueilli). Dernière activité : ${b.lastActivityOn ?? 'aucune'}.</p>
${beneficiaryForm(`/mediation/beneficiaires/${b.id}`, csrf, v ?? (b as unknown as Values), errors, false)}
<h2>Droits de la personne</h2>
<p><a href="/mediation/beneficiaires/${b.id}/export">Télécharger ses données (JSON)</a></p>
<form method="post" action="/mediation/beneficiaires/${b.id}/supprimer"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Effacer ses données</button>
<span class="hint">Ses accompagnements restent comptés, de façon anonyme.</span></form>`;
    return send(reply, status, renderFrame(ctx.config.theme, { title: b.alias, user, csrf, body }));
  };
  app.get('/mediation/beneficiaires/:id', guard, async (req, reply) => showPage(req, reply, 200, null, []));
  app.post('/mediation/beneficiaires/:id', post, async (req, reply) => {
    const user = await me(req);
    const v = formBody(req);
    try {
      await service.updateBeneficiary(ctx, user.id, idOf(req), v);
      return reply.redirect(`/mediation/beneficiaires/${idOf(req)}`, 303);
    } catch (e) {
      if (e instanceof ValidationFailed) return showPage(req, reply, 422, v, e.errors);
      throw e;
    }
  });
  app.get('/mediation/beneficiaires/:id/export', guard, async (req, reply) => {
    const user = await me(req);
    const data = await service.exportBeneficiary(ctx, user.id, idOf(req));
    return reply.header('content-disposition', `attachment; filename="beneficiaire-${idOf(req)}.json"`).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(JSON.stringify(data, null, 2));
  });
  app.post('/mediation/beneficiaires/:id/supprimer', post, async (req, reply) => {
    const user = await me(req);
    await service.deleteBeneficiary(ctx, user.id, idOf(req));
    return reply.redirect('/mediation/beneficiaires', 303);
  });

  // Teams: staff create teams, name their coordinator and put mediators in them (by e-mail).
  const teamsGuard = { preHandler: requirePermission('mediation.teams.manage') };
  const teamsPage = async (req: FastifyRequest, reply: FastifyReply, status: number, errors: FieldError[]) => {
    const user = await me(req);
    const teams = await service.listTeams(ctx);
    const people = await Promise.all(teams.map(async (team) => ({ team, ...(await service.teamPeople(ctx, team)) })));
    const csrf = csrfOf(reply);
    const body = html`<h1>Équipes de médiateurs</h1>${errorSummary(errors)}
${teams.length ? '' : html`<p>Aucune équipe pour l’instant.</p>`}
${people.map(({ team, coordinator, members }) => html`<section class="med-team" aria-labelledby="team-${team.id}"><h2 id="team-${team.id}">${team.name}</h2>
<p>Coordination : ${coordinator ? html`${coordinator.name}${coordinator.email ? html` (${coordinator.email})` : ''}` : 'personne'}</p>
${members.length
  ? html`<table class="data"><caption>${plural(members.length, 'membre', 'membres')}</caption><thead><tr><th scope="col">Médiateur</th><th scope="col">Adresse électronique</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead><tbody>
${members.map((m) => html`<tr><td>${m.name}</td><td>${m.email ?? '—'}</td><td><form method="post" action="/mediation/equipes/retirer"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="member" value="${m.id}"><button type="submit" aria-label="${`Retirer ${m.name} de l’équipe ${team.name}`}">Retirer</button></form></td></tr>`)}</tbody></table>`
  : html`<p>Aucun membre.</p>`}</section>`)}
<h2>Créer une équipe</h2><form class="med-form" method="post" action="/mediation/equipes"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-name">Nom</label>${fieldError(errors, 'name')}<input type="text" id="f-name" name="name" maxlength="200"${invalid(errors, 'name')}></div>
<div class="field"><label for="f-coordinator">E-mail du coordinateur</label>${fieldError(errors, 'coordinator')}<input type="text" id="f-coordinator" name="coordinator"${invalid(errors, 'coordinator')}></div>
<p><button type="submit">Créer</button></p></form>
<h2>Ajouter un médiateur à une équipe</h2><form class="med-form" method="post" action="/mediation/equipes/membres"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-team">Équipe</label>${fieldError(errors, 'team')}<select id="f-team" name="team">${teams.map((t) => html`<option value="${t.id}">${t.name}</option>`)}</select></div>
<div class="field"><label for="f-email">E-mail du médiateur</label>${fieldError(errors, 'email')}<input type="text" id="f-email" name="email"${invalid(errors, 'email')}></div>
<p><button type="submit">Ajouter</button></p></form>`;
    return send(reply, status, renderFrame(ctx.config.theme, { title: 'Équipes de médiateurs', user, csrf, body }));
  };
  app.get('/mediation/equipes', teamsGuard, async (req, reply) => teamsPage(req, reply, 200, []));
  app.post('/mediation/equipes', { ...teamsGuard, preValidation: app.csrfProtection }, async (req, reply) => {
    const user = await me(req);
    const f = formBody(req);
    const email = typeof f.coordinator === 'string' ? f.coordinator.trim() : '';
    const coordinator = email ? await findUserByEmail(ctx.db, email) : null;
    if (email && !coordinator) return teamsPage(req, reply, 422, [{ field: 'coordinator', message: 'Aucun compte avec cette adresse.' }]);
    try {
      await service.createTeam(ctx, user.id, typeof f.name === 'string' ? f.name : '', coordinator?.id ?? null);
    } catch (e) {
      if (e instanceof UserError && e.field) return teamsPage(req, reply, 422, [{ field: e.field, message: e.message }]);
      throw e;
    }
    return reply.redirect('/mediation/equipes', 303);
  });
  app.post('/mediation/equipes/membres', { ...teamsGuard, preValidation: app.csrfProtection }, async (req, reply) => {
    const user = await me(req);
    const f = formBody(req);
    const member = typeof f.email === 'string' && f.email.trim() ? await findUserByEmail(ctx.db, f.email.trim()) : null;
    if (!member) return teamsPage(req, reply, 422, [{ field: 'email', message: 'Aucun compte avec cette adresse.' }]);
    try {
      await service.setTeam(ctx, user.id, member.id, typeof f.team === 'string' ? f.team : '', member.displayName);
    } catch (e) {
      if (e instanceof UserError && e.field) return teamsPage(req, reply, 422, [{ field: e.field, message: e.message }]);
      throw e;
    }
    return reply.redirect('/mediation/equipes', 303);
  });
  app.post('/mediation/equipes/retirer', { ...teamsGuard, preValidation: app.csrfProtection }, async (req, reply) => {
    const user = await me(req);
    const f = formBody(req);
    const member = typeof f.member === 'string' && service.isUuid(f.member) ? f.member : null;
    if (!member) return teamsPage(req, reply, 422, [{ field: 'member', message: 'Médiateur inconnu.' }]);
    try {
      await service.leaveTeam(ctx, user.id, member);
    } catch (e) {
      if (e instanceof UserError && e.field) return teamsPage(req, reply, 422, [{ field: e.field, message: e.message }]);
      throw e;
    }
    return reply.redirect('/mediation/equipes', 303);
  });
}

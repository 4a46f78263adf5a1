/**
 * The identity provider of a process: the staff form (CSRF, `consultation.manage`, audited; the
 * client secret never shown back), the participant's « Vérifier mon identité » link that sends the
 * browser to the provider (a link, not a form: the site's CSP `form-action 'self'` forbids a form
 * ending at another origin), and the provider's callback.
 */
import type { FastifyReply } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html, raw } from '../../../platform/html/html.ts';
import { breadcrumb, notice } from '../../../platform/html/components.ts';
import { NotFoundError, UserError } from '../../../platform/http/errors.ts';
import { IDENTITY_USES, IDENTITY_USE_LABELS, REQUIRED_CLAIMS, REQUIRED_CLAIM_LABELS, ValidationFailed, type FieldError } from '../model.ts';
import { CALLBACK_PATH, callbackUrl, finishCheck, hasProvider, parseIdentityForm, safeReturn, saveIdentityProvider, startCheck } from '../identity.ts';
import * as svc from '../service.ts';
import { loadProcess } from './public.ts';
import { csrf, errorSummary, fieldError, formBody, identityHref, invalid, page, participant, processHref, send } from './ui.ts';
import { staffAccess } from './staff-access.ts';

type Values = Record<string, unknown>;
const val = (v: Values, k: string) => (Object.hasOwn(v, k) && typeof v[k] === 'string' ? (v[k] as string) : '');

export function registerIdentityPages(app: App, ctx: AppContext) {
  const { manageGuard, managed } = staffAccess(ctx);
  const production = ctx.config.env === 'production';

  const form = (reply: FastifyReply, status: number, p: svc.Process, v: Values, errors: FieldError[], hasSecret: boolean) => {
    const heading = `Vérification d’identité : « ${p.title} »`;
    const field = (name: string, label: string, hint: string, o: { type?: string; max?: number } = {}) =>
      html`<div class="field"><label for="f-${name}">${label} <span class="hint">${hint}</span></label>${fieldError(errors, name)}<input type="${o.type ?? 'text'}" id="f-${name}" name="${name}" value="${o.type === 'password' ? '' : val(v, name)}" maxlength="${o.max ?? 300}" autocomplete="off"${invalid(errors, name)}></div>`;
    const body = html`${breadcrumb([{ href: '/gestion', label: 'Gestion' }, { href: '/gestion/concertations', label: 'Concertations' }, { href: `/gestion/concertations/${p.slug}`, label: p.title }, { label: 'Vérification d’identité' }])}
<h1>${heading}</h1>${errorSummary(errors)}
<p>Un fournisseur d’identité OpenID Connect (FranceConnect, ou celui de la région) garantit « une personne, un vote » : l’identifiant qu’il donne pour une personne est lié à un seul compte dans cette concertation, pour toujours. Il n’est conservé que sous forme d’empreinte chiffrée.</p>
<p>Adresse de retour à déclarer chez le fournisseur : <code>${callbackUrl(ctx)}</code></p>
<form method="post" action="/gestion/concertations/${p.slug}/identite" class="cs-form" novalidate>${csrf(reply)}
${field('label', 'Nom affiché aux participants', 'par exemple « FranceConnect »', { max: 80 })}
${field('issuer', 'Adresse du fournisseur (issuer)', production ? 'https://…, celle de sa configuration OpenID (/.well-known/openid-configuration)' : 'https://… (http:// accepté hors production)')}
${field('clientId', 'Identifiant client', 'donné par le fournisseur', { max: 200 })}
${field('clientSecret', 'Secret client', hasSecret ? 'enregistré et chiffré ; il n’est jamais réaffiché. Laissez vide pour le garder.' : 'donné par le fournisseur ; enregistré chiffré, jamais réaffiché', { type: 'password', max: 500 })}
${field('scopes', 'Portées (scopes)', 'séparées par des espaces, « openid » compris ; par exemple « openid birthdate » pour FranceConnect')}
<div class="field"><label for="f-requiredClaim">Donnée exigée du fournisseur</label>${fieldError(errors, 'requiredClaim')}<select id="f-requiredClaim" name="requiredClaim"${invalid(errors, 'requiredClaim')}>
${REQUIRED_CLAIMS.map((c) => html`<option value="${c}"${(val(v, 'requiredClaim') || 'none') === c ? raw(' selected') : ''}>${REQUIRED_CLAIM_LABELS[c]}</option>`)}</select></div>
<fieldset><legend>Vérification demandée pour</legend>
${IDENTITY_USES.map((u) => html`<div class="field"><input type="checkbox" id="f-use_${u}" name="use_${u}" value="1"${val(v, `use_${u}`) ? raw(' checked') : ''}> <label for="f-use_${u}" style="display:inline">${IDENTITY_USE_LABELS[u]}</label></div>`)}
<p class="hint">Rien de coché : le fournisseur reste enregistré mais aucune vérification n’est demandée.</p></fieldset>
<button type="submit">Enregistrer</button></form>`;
    return send(reply, status, page(ctx, errors.length ? `Erreur : ${heading}` : heading, body, { noindex: true }));
  };

  const values = (p: svc.Process): Values => {
    const v: Values = Object.create(null);
    const i = p.identity;
    Object.assign(v, { label: i?.label ?? 'FranceConnect', issuer: i?.issuer ?? '', clientId: i?.clientId ?? '', scopes: i?.scopes ?? 'openid', requiredClaim: i?.requiredClaim ?? 'none' });
    for (const u of IDENTITY_USES) v[`use_${u}`] = i ? (i.requiredFor.includes(u) ? '1' : '') : u === 'votes' ? '1' : '';
    return v;
  };

  app.get('/gestion/concertations/:slug/identite', manageGuard, async (req, reply) => {
    const { p } = await managed(req);
    return form(reply, 200, p, values(p), [], !!p.identity);
  });

  app.post('/gestion/concertations/:slug/identite', { ...manageGuard, preValidation: app.csrfProtection, config: { rateLimit: { max: 20, timeWindow: '1 minute' } } }, async (req, reply) => {
    const { p, u } = await managed(req);
    const v = formBody(req);
    const hasSecret = await hasProvider(ctx.db, p.id);
    try {
      await saveIdentityProvider(ctx, u.id, p, parseIdentityForm(v, hasSecret, production));
      return reply.redirect(`/gestion/concertations/${p.slug}?ok=identite`, 303);
    } catch (e) {
      if (e instanceof ValidationFailed) return form(reply, 422, p, v, e.errors, hasSecret);
      if (e instanceof UserError && e.statusCode === 409) return form(reply, 409, p, v, [{ field: e.field ?? 'issuer', message: e.message }], hasSecret);
      throw e;
    }
  });

  const refusal = (reply: FastifyReply, status: number, message: string, back: string) =>
    send(reply, status, page(ctx, 'Vérification d’identité impossible', html`<h1>Vérification d’identité impossible</h1>${notice('error', message)}<p><a href="${back}">Revenir à la concertation</a></p>`, { noindex: true }));

  // The participant starts a check: a navigation (link), which may end at the provider.
  app.get('/concertations/:slug/identite', { config: { rateLimit: { max: 20, timeWindow: '10 minutes' } } }, async (req, reply) => {
    const p = await loadProcess(ctx, req);
    if (!p.identity) throw new NotFoundError('Cette concertation ne demande pas de vérification d’identité.');
    const retour = safeReturn(p, (req.query as Record<string, unknown>).retour);
    const me = await participant(req);
    if (!me) return reply.redirect(`/compte/connexion?retour=${encodeURIComponent(identityHref(p, retour))}`, 303);
    if (await svc.identityCheckOf(ctx.db, p, me.user.id)) return reply.redirect(retour, 303);
    try {
      const url = await startCheck(ctx, p, me.user.id, retour);
      return reply.redirect(url.href, 303);
    } catch (e) {
      if (e instanceof UserError && e.statusCode >= 500) return refusal(reply, e.statusCode, e.message, processHref(p.slug));
      throw e;
    }
  });

  // The provider's answer (every process): only for the account that started the check.
  app.get(CALLBACK_PATH, { logLevel: 'warn', config: { rateLimit: { max: 30, timeWindow: '1 minute' } } }, async (req, reply) => {
    const me = await participant(req);
    if (!me) return refusal(reply, 401, 'Connectez-vous avec le compte qui a commencé la vérification d’identité, puis recommencez.', '/concertations');
    try {
      const done = await finishCheck(ctx, me.user.id, new URL(req.url, 'http://x').searchParams);
      return reply.redirect(done.returnTo, 303);
    } catch (e) {
      if (e instanceof UserError && e.statusCode !== 401) return refusal(reply, e.statusCode, e.message, '/concertations');
      throw e;
    }
  });
}

/**
 * The back-office page of the partner services of Maillage's OpenID Connect provider (provider.ts;
 * the CLI `mandates partner …` does the same): list, register (client id, name, exact redirect URIs;
 * the secret shown ONCE, stored as its SHA-256), renew the secret, deactivate. Action
 * `mandates.partners.manage` (regional staff of the région the site covers — SITE_TERRITORY
 * `region:NN` — and administrators); CSRF on every form; audited (mandates.partner.create |
 * rotate_secret | revoke); a refusal writes nothing.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import type { Resource } from '../accounts/model.ts';
import { html, type Raw } from '../../platform/html/html.ts';
import { UserError } from '../../platform/http/errors.ts';
import { requirePermission, signedInUser } from '../accounts/index.ts';
import { errorSummary, fieldError, fmt, formBody, frame, invalid, one, plural, send } from './pages.ts';
import { MAX_REDIRECT_URIS, addPartner, listPartners, revokePartner, rotatePartnerSecret } from './provider.ts';
import type { FieldError } from './model.ts';

/** The partner services belong to the whole platform: the région the site covers (else only platform-wide grants). */
export function partnersResource(ctx: AppContext): Resource {
  const m = /^region:(\w{1,3})$/.exec(ctx.config.theme.territory ?? '');
  return { type: 'mandates.partners', id: 'all', ...(m ? { region: m[1] } : {}) };
}

const PATH = '/mandats/partenaires';

export function registerPartnerPages(app: App, ctx: AppContext) {
  const guard = requirePermission('mandates.partners.manage', async () => partnersResource(ctx));
  const get = { preHandler: guard };
  const post = { preHandler: guard, preValidation: app.csrfProtection, config: { rateLimit: { max: 30, timeWindow: '1 minute' } } };

  async function listPage(req: FastifyRequest, reply: FastifyReply, status: number, o: { notice?: Raw; errors?: FieldError[]; v?: Record<string, unknown> } = {}) {
    const user = await signedInUser(req);
    const partners = await listPartners(ctx.db);
    const csrf = reply.generateCsrf();
    const errors = o.errors ?? [];
    const v = o.v ?? {};
    const body = html`<h1>Services partenaires (connexion sous mandat)</h1>${o.notice ?? ''}${errorSummary(errors)}
<p>Un service partenaire (une caisse, un service des impôts, une plateforme de logement…) permet à un aidant de se connecter « pour » une personne : Maillage vérifie alors le mandat et ne transmet que l’identité de la personne et la démarche. Adresse de découverte à donner au partenaire : <code>${ctx.config.publicUrl}/oidc/.well-known/openid-configuration</code>.</p>
<p>${plural(partners.filter((p) => !p.revokedAt).length, 'service actif', 'services actifs')}.</p>
${partners.length ? html`<table class="data"><caption>Services partenaires enregistrés</caption><thead><tr><th scope="col">Nom</th><th scope="col">Identifiant (client_id)</th><th scope="col">Adresses de retour</th><th scope="col">Enregistré le</th><th scope="col">État</th><th scope="col">Actions</th></tr></thead><tbody>
${partners.map((p) => html`<tr><td>${p.name}</td><td><code>${p.clientId}</code></td><td><ul>${p.redirectUris.map((u) => html`<li><code>${u}</code></li>`)}</ul></td><td>${fmt(p.createdAt)}</td>
<td>${p.revokedAt ? html`Désactivé le ${fmt(p.revokedAt)}` : 'Actif'}</td>
<td>${p.revokedAt ? '' : html`<form method="post" action="${PATH}/${p.clientId}/secret" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Renouveler le secret<span class="visually-hidden"> de ${p.name}</span></button></form>
<form method="post" action="${PATH}/${p.clientId}/desactiver" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Désactiver<span class="visually-hidden"> ${p.name}</span></button></form>`}</td></tr>`)}
</tbody></table>` : html`<p>Aucun service partenaire n’est enregistré.</p>`}
<h2>Enregistrer un service partenaire</h2>
<form method="post" action="${PATH}" class="mdt-form" novalidate><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-name">Nom du service</label>${fieldError(errors, 'name')}<input type="text" id="f-name" name="name" maxlength="200" required value="${one(v.name)}"${invalid(errors, 'name')}></div>
<div class="field"><label for="f-redirect_uri">Adresses de retour exactes <span class="hint">(une par ligne, de 1 à ${MAX_REDIRECT_URIS}, toutes sur le même hôte, https ; pas de joker)</span></label>${fieldError(errors, 'redirect_uri')}<textarea id="f-redirect_uri" name="redirectUris" rows="3" maxlength="5200" required${invalid(errors, 'redirect_uri')}>${one(v.redirectUris)}</textarea></div>
<p><button type="submit">Enregistrer et afficher le secret</button></p></form>`;
    return send(reply, status, frame(ctx, 'Services partenaires', body, user));
  }

  const secretShown = (name: string, clientId: string, secret: string, what: string) => html`<div class="ok" role="status"><p>${what} « ${name} ».</p>
<p>Identifiant : <code>${clientId}</code><br>Secret : <code class="code">${secret}</code></p>
<p><strong>Copiez le secret maintenant et transmettez-le au partenaire par un canal sûr : il ne sera plus jamais affiché</strong> (seule son empreinte est conservée).</p></div>`;

  app.get(PATH, get, async (req, reply) => listPage(req, reply, 200));

  app.post(PATH, post, async (req, reply) => {
    const user = await signedInUser(req);
    const v = formBody(req);
    const raw = one(v.redirectUris);
    if (raw.length > 5200) return listPage(req, reply, 422, { v: { name: v.name }, errors: [{ field: 'redirect_uri', message: 'Trop de texte dans les adresses de retour.' }] });
    const uris = raw.split(/\r?\n/).map((x) => x.trim()).filter(Boolean);
    try {
      const name = one(v.name);
      const { clientId, clientSecret } = await addPartner(ctx, user.id, { name, redirectUris: uris });
      return listPage(req, reply, 201, { notice: secretShown(name.trim(), clientId, clientSecret, 'Service partenaire enregistré :') });
    } catch (e) {
      if (e instanceof UserError && e.statusCode === 400) return listPage(req, reply, 422, { v, errors: [{ field: e.field ?? 'name', message: e.message }] });
      throw e;
    }
  });

  const clientIdOf = (req: FastifyRequest) => String((req.params as { clientId: string }).clientId).slice(0, 100);
  app.post(`${PATH}/:clientId/secret`, post, async (req, reply) => {
    const user = await signedInUser(req);
    const clientId = clientIdOf(req);
    const secret = await rotatePartnerSecret(ctx, user.id, clientId);
    const name = (await listPartners(ctx.db)).find((p) => p.clientId === clientId)?.name ?? clientId;
    return listPage(req, reply, 200, { notice: secretShown(name, clientId, secret, 'Nouveau secret de') });
  });
  app.post(`${PATH}/:clientId/desactiver`, post, async (req, reply) => {
    const user = await signedInUser(req);
    const clientId = clientIdOf(req);
    await revokePartner(ctx, user.id, clientId);
    return listPage(req, reply, 200, { notice: html`<p class="ok" role="status">Le service partenaire est désactivé : ses jetons ne fonctionnent plus et il ne peut plus connecter d’aidant.</p>` });
  });
}

/**
 * The account page (/compte): profile, password, two-factor authentication, active sessions,
 * personal data export and deletion request.
 */
import { signedInUser } from '../http.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import { UserError } from '../../../platform/http/errors.ts';
import { html, type Raw } from '../../../platform/html/html.ts';
import { PASSWORD_MIN, requiresMfa, safeReturnTo } from '../model.ts';
import {
  beginTotpSetup,
  changePassword,
  confirmTotpSetup,
  describeGrant,
  disableTotp,
  exportPersonalData,
  getGrants,
  listSessions,
  openSession,
  regenerateRecoveryCodes,
  remainingRecoveryCodes,
  requestDeletion,
  revokeAllSessions,
  revokeSession,
  updateProfile,
  type AccountsDeps,
} from '../service.ts';
import { clearSessionCookie, clientInfo, currentTokenHash, currentUser, forgetSession, requireSignedIn, resolveSession, sessionToken, setSessionCookie, type CurrentUser } from '../http.ts';
import { qrSvg } from '../qr.ts';
import { csrfField, errorSummary, field, formatDate, notice, renderPage, titleWithErrors, type FieldError } from './ui.ts';
import { formValue, param, queryValue } from './forms.ts';

function send(reply: FastifyReply, status: number, page: string) {
  return reply.status(status).type('text/html; charset=utf-8').send(page);
}

const METHODS: Record<string, string> = {
  password: 'mot de passe',
  'password+totp': 'mot de passe et code',
  magic_link: 'lien par e-mail',
  'magic_link+totp': 'lien par e-mail et code',
  invitation: 'invitation',
  'invitation+totp': 'invitation et code',
  oidc: 'fournisseur d’identité',
  'oidc+totp': 'fournisseur d’identité et code',
  totp_setup: 'activation de la double authentification',
};

async function accountPage(deps: AccountsDeps, req: FastifyRequest, reply: FastifyReply, user: CurrentUser, o: { errors?: FieldError[]; message?: string; form?: string } = {}): Promise<string> {
  const csrf = reply.generateCsrf();
  const errors = o.errors ?? [];
  const errs = (form: string) => (o.form === form ? errors : []);
  const sessions = await listSessions(deps.db, user.id);
  const current = currentTokenHash(req);
  const codesLeft = user.totpEnabled ? await remainingRecoveryCodes(deps.db, user.id) : 0;
  const mandatory = requiresMfa(user.grants);
  return renderPage(deps, {
    title: titleWithErrors('Mon compte', errors),
    user,
    csrf,
    body: html`<h1>Mon compte</h1>
      ${notice(o.message)}
      ${errorSummary(errors)}
      <section aria-labelledby="profil">
        <h2 id="profil">Profil</h2>
        ${user.user.pendingEmail ? notice(`Un lien de confirmation a été envoyé à ${user.user.pendingEmail}. L’adresse changera quand vous l’aurez ouvert.`) : ''}
        <form method="post" action="/compte/profil" novalidate>
          ${csrfField(csrf)}
          ${field({ name: 'displayName', label: 'Nom', value: user.displayName, autocomplete: 'name', required: true, errors: errs('profile'), maxlength: 120 })}
          ${field({ name: 'email', label: 'Adresse e-mail', type: 'email', value: user.email, autocomplete: 'email', required: true, hint: 'Si vous la changez, un lien de confirmation est envoyé à la nouvelle adresse.', errors: errs('profile') })}
          <button type="submit">Enregistrer le profil</button>
        </form>
        <h3>Mes rôles</h3>
        ${user.grants.length ? html`<ul>${user.grants.map((g) => html`<li>${describeGrant(g)}</li>`)}</ul>` : html`<p>Aucun rôle.</p>`}
      </section>
      <section aria-labelledby="mot-de-passe">
        <h2 id="mot-de-passe">Mot de passe</h2>
        <form method="post" action="/compte/mot-de-passe" novalidate>
          ${csrfField(csrf)}
          <input type="text" name="username" value="${user.email}" autocomplete="username" hidden>
          ${field({ name: 'current', label: 'Mot de passe actuel', type: 'password', autocomplete: 'current-password', errors: errs('password') })}
          ${field({ name: 'password', label: 'Nouveau mot de passe', type: 'password', autocomplete: 'new-password', hint: `Au moins ${PASSWORD_MIN} caractères.`, required: true, errors: errs('password') })}
          <button type="submit">Changer le mot de passe</button>
        </form>
      </section>
      <section aria-labelledby="double-auth">
        <h2 id="double-auth">Double authentification</h2>
        ${
          user.totpEnabled
            ? html`<p>Activée. Codes de secours restants : ${codesLeft}.</p>
              <form method="post" action="/compte/2fa/codes" novalidate>
                ${csrfField(csrf)}
                ${field({ name: 'password', key: 'codes-password', label: 'Mot de passe (pour générer de nouveaux codes de secours)', type: 'password', autocomplete: 'current-password', errors: errs('codes') })}
                <button type="submit">Générer de nouveaux codes de secours</button>
              </form>
              ${
                mandatory
                  ? html`<p>Votre rôle impose la double authentification.</p>`
                  : html`<form method="post" action="/compte/2fa/desactiver" novalidate>
                      ${csrfField(csrf)}
                      ${field({ name: 'password', key: 'disable-password', label: 'Mot de passe (pour désactiver)', type: 'password', autocomplete: 'current-password', errors: errs('disable') })}
                      <button type="submit">Désactiver la double authentification</button>
                    </form>`
              }`
            : html`<p>Non activée.${mandatory ? ' Votre rôle l’impose.' : ''}</p><p><a href="/compte/2fa">Activer la double authentification</a></p>`
        }
      </section>
      <section aria-labelledby="sessions">
        <h2 id="sessions">Sessions ouvertes</h2>
        <table class="data">
          <caption class="visually-hidden">Sessions ouvertes</caption>
          <thead><tr><th scope="col">Ouverte le</th><th scope="col">Dernière activité</th><th scope="col">Appareil</th><th scope="col">Adresse IP</th><th scope="col">Connexion par</th><th scope="col">Action</th></tr></thead>
          <tbody>${sessions.map(
            (s) => html`<tr>
              <td>${formatDate(s.createdAt)}</td><td>${formatDate(s.lastSeenAt)}</td><td>${s.userAgent ?? '—'}</td><td>${s.ip ?? '—'}</td><td>${METHODS[s.method] ?? s.method}</td>
              <td>${
                s.tokenHash === current
                  ? 'Cette session'
                  : html`<form method="post" action="/compte/sessions/${s.id}/fermer">${csrfField(csrf)}<button type="submit">Fermer<span class="visually-hidden"> la session ouverte le ${formatDate(s.createdAt)}</span></button></form>`
              }</td>
            </tr>`,
          )}</tbody>
        </table>
        <form method="post" action="/compte/sessions/fermer-tout">${csrfField(csrf)}<button type="submit">Se déconnecter partout ailleurs</button></form>
        <form method="post" action="/compte/deconnexion-partout">${csrfField(csrf)}<button type="submit">Se déconnecter partout, y compris ici</button></form>
      </section>
      <section aria-labelledby="donnees">
        <h2 id="donnees">Mes données personnelles</h2>
        <p><a href="/compte/export" download>Télécharger mes données (JSON)</a></p>
        ${
          user.user.deletionRequestedAt
            ? html`<p>Vous avez demandé la suppression de votre compte le ${formatDate(user.user.deletionRequestedAt)}. Un administrateur va la traiter.</p>`
            : html`<form method="post" action="/compte/suppression" novalidate>
                ${csrfField(csrf)}
                <div class="form-field">
                  <label for="f-reason">Demander la suppression de mon compte — raison (facultatif)</label>
                  <textarea id="f-reason" name="reason" rows="3" maxlength="2000"></textarea>
                </div>
                <button type="submit">Demander la suppression</button>
              </form>`
        }
      </section>`,
  });
}

const userOf = signedInUser;

export function registerAccountPages(app: App, deps: AccountsDeps): void {
  const guarded = { preHandler: requireSignedIn };
  const post = { preValidation: app.csrfProtection, preHandler: requireSignedIn };

  app.get('/compte', guarded, async (req, reply) => send(reply, 200, await accountPage(deps, req, reply, await userOf(req), { message: queryValue(req, 'ok') === '1' ? 'Modifications enregistrées.' : undefined })));

  const fail = async (req: FastifyRequest, reply: FastifyReply, form: string, err: unknown) => {
    if (!(err instanceof UserError)) throw err;
    forgetSession(req);
    // The 2FA forms ask for the password under their own field ids (the page has three password fields).
    const fieldKey = err.field === 'password' && (form === 'codes' || form === 'disable') ? `${form}-password` : err.field;
    return send(reply, err.statusCode, await accountPage(deps, req, reply, await userOf(req), { form, errors: [{ field: fieldKey, message: err.message }] }));
  };

  app.post('/compte/profil', post, async (req, reply) => {
    const user = await userOf(req);
    try {
      const r = await updateProfile(deps, user.user, { displayName: formValue(req, 'displayName', 500), email: formValue(req, 'email', 300) });
      forgetSession(req);
      return send(reply, 200, await accountPage(deps, req, reply, await userOf(req), { message: r.emailChangePending ? 'Profil enregistré. Ouvrez le lien envoyé à la nouvelle adresse pour la confirmer.' : 'Profil enregistré.' }));
    } catch (err) {
      return fail(req, reply, 'profile', err);
    }
  });

  app.post('/compte/mot-de-passe', { ...post, config: { rateLimit: { max: 10, timeWindow: '1 minute' } } }, async (req, reply) => {
    const user = await userOf(req);
    try {
      await changePassword(deps, user.user, formValue(req, 'current', 1024), formValue(req, 'password', 1024), currentTokenHash(req)!);
      return send(reply, 200, await accountPage(deps, req, reply, user, { message: 'Mot de passe changé. Vos autres sessions ont été fermées.' }));
    } catch (err) {
      return fail(req, reply, 'password', err);
    }
  });

  // ---- 2FA setup: open to signed-in users and to sessions whose role requires 2FA first (enrol)
  const setupPage = async (req: FastifyRequest, reply: FastifyReply, errors: FieldError[] = []) => {
    const r = await resolveSession(req);
    if (!r || (r.session.stage !== 'full' && r.session.stage !== 'enrol')) return reply.redirect('/compte/connexion?retour=/compte/2fa', 303);
    if (r.user.totpEnabled) return reply.redirect('/compte', 303);
    const { secret, uri } = await beginTotpSetup(deps, r.user);
    const retour = safeReturnTo(queryValue(req, 'retour'));
    const csrf = reply.generateCsrf();
    return send(reply, errors.length ? 400 : 200, renderPage(deps, {
      title: titleWithErrors('Activer la double authentification', errors),
      user: r.session.stage === 'full' ? { id: r.user.id, grants: r.grants, displayName: r.user.displayName } : null,
      csrf: r.session.stage === 'full' ? csrf : undefined,
      body: html`<h1>Activer la double authentification</h1>
        ${r.session.stage === 'enrol' ? notice('Votre rôle impose la double authentification : activez-la pour continuer.') : ''}
        ${errorSummary(errors)}
        <ol>
          <li>Installez une application d’authentification sur votre téléphone (par exemple FreeOTP, Aegis, Google Authenticator ou Microsoft Authenticator).</li>
          <li>Dans l’application, ajoutez un compte en scannant ce code QR :
            <div class="qr">${qrSvg(uri, 'Code QR à scanner avec votre application d’authentification')}</div>
            <p>Si vous ne pouvez pas scanner, saisissez cette clé dans l’application : <span class="secret">${secret.replace(/(.{4})/g, '$1 ').trim()}</span></p>
          </li>
          <li>Saisissez le code à 6 chiffres que l’application affiche.</li>
        </ol>
        <form method="post" action="/compte/2fa${retour ? `?retour=${encodeURIComponent(retour)}` : ''}" novalidate>
          ${csrfField(csrf)}
          ${field({ name: 'code', label: 'Code à 6 chiffres', autocomplete: 'one-time-code', inputmode: 'numeric', required: true, errors, maxlength: 10 })}
          <button type="submit">Activer</button>
        </form>
        ${r.session.stage === 'enrol' ? html`<form method="post" action="/compte/deconnexion">${csrfField(csrf)}<button type="submit" class="button-link">Annuler et se déconnecter</button></form>` : ''}`,
    }));
  };

  app.get('/compte/2fa', async (req, reply) => setupPage(req, reply));

  app.post('/compte/2fa', { preValidation: app.csrfProtection, config: { rateLimit: { max: 20, timeWindow: '1 minute' } } }, async (req, reply) => {
    const r = await resolveSession(req);
    if (!r || (r.session.stage !== 'full' && r.session.stage !== 'enrol')) return reply.redirect('/compte/connexion', 303);
    let codes: string[];
    try {
      codes = await confirmTotpSetup(deps, r.user, formValue(req, 'code', 20), clientInfo(req));
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      return setupPage(req, reply, [{ field: 'code', message: err.message }]);
    }
    // New session id now that the account is fully signed in (or its security changed).
    const token = await openSession(deps, r.user, 'full', r.session.stage === 'enrol' ? 'totp_setup' : r.session.method, clientInfo(req), sessionToken(req));
    setSessionCookie(reply, deps, token);
    forgetSession(req);
    const retour = safeReturnTo(queryValue(req, 'retour'));
    return send(reply, 200, renderPage(deps, {
      title: 'Double authentification activée',
      body: html`<h1>Double authentification activée</h1>
        <p>Voici vos <strong>codes de secours</strong>. Chacun permet de vous connecter une fois si vous n’avez plus votre téléphone. Notez-les ou imprimez-les maintenant et rangez-les en lieu sûr : ils ne seront plus affichés.</p>
        <ul class="codes">${codes.map((c) => html`<li>${c}</li>`)}</ul>
        <p><a href="${retour ?? '/compte'}">Continuer</a></p>`,
    }));
  });

  const codesPage = (codes: string[]) =>
    renderPage(deps, {
      title: 'Nouveaux codes de secours',
      body: html`<h1>Nouveaux codes de secours</h1><p>Les anciens codes ne fonctionnent plus. Notez ceux-ci maintenant : ils ne seront plus affichés.</p>
        <ul class="codes">${codes.map((c) => html`<li>${c}</li>`)}</ul><p><a href="/compte">Retour à mon compte</a></p>`,
    });

  app.post('/compte/2fa/codes', { ...post, config: { rateLimit: { max: 10, timeWindow: '1 minute' } } }, async (req, reply) => {
    const user = await userOf(req);
    if (!user.totpEnabled) return reply.redirect('/compte/2fa', 303);
    try {
      return send(reply, 200, codesPage(await regenerateRecoveryCodes(deps, user.user, formValue(req, 'password', 1024), clientInfo(req))));
    } catch (err) {
      return fail(req, reply, 'codes', err);
    }
  });

  app.post('/compte/2fa/desactiver', { ...post, config: { rateLimit: { max: 10, timeWindow: '1 minute' } } }, async (req, reply) => {
    const user = await userOf(req);
    try {
      await disableTotp(deps, user.user, formValue(req, 'password', 1024), clientInfo(req));
    } catch (err) {
      return fail(req, reply, 'disable', err);
    }
    forgetSession(req);
    return send(reply, 200, await accountPage(deps, req, reply, await userOf(req), { message: 'Double authentification désactivée.' }));
  });

  // ---- sessions
  app.post('/compte/sessions/:id/fermer', post, async (req, reply) => {
    const user = await userOf(req);
    await revokeSession(deps, user.id, param(req, 'id'));
    return send(reply, 200, await accountPage(deps, req, reply, user, { message: 'Session fermée.' }));
  });

  app.post('/compte/sessions/fermer-tout', post, async (req, reply) => {
    const user = await userOf(req);
    const n = await revokeAllSessions(deps.db, user.id, user.id, currentTokenHash(req));
    return send(reply, 200, await accountPage(deps, req, reply, user, { message: n ? `${n} autre(s) session(s) fermée(s).` : 'Aucune autre session ouverte.' }));
  });

  app.post('/compte/deconnexion-partout', post, async (req, reply) => {
    const user = await userOf(req);
    await revokeAllSessions(deps.db, user.id, user.id, null);
    clearSessionCookie(reply, deps);
    forgetSession(req);
    return send(reply, 200, renderPage(deps, { title: 'Vous êtes déconnecté partout', body: html`<h1>Vous êtes déconnecté partout</h1><p>Toutes vos sessions sont fermées, sur tous vos appareils.</p><p><a href="/compte/connexion">Se connecter à nouveau</a></p>` }));
  });

  // ---- personal data
  app.get('/compte/export', guarded, async (req, reply) => {
    const user = await userOf(req);
    const data = await exportPersonalData(deps.db, user.id);
    reply.header('Content-Disposition', 'attachment; filename="mes-donnees.json"');
    reply.header('Cache-Control', 'no-store');
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(data, null, 2));
  });

  app.post('/compte/suppression', post, async (req, reply) => {
    const user = await userOf(req);
    await requestDeletion(deps, user.user, formValue(req, 'reason', 2000));
    forgetSession(req);
    return send(reply, 200, await accountPage(deps, req, reply, await userOf(req), { message: 'Votre demande de suppression est enregistrée.' }));
  });

  void getGrants;
}

export type { Raw };

/**
 * Sign-in pages: password (+ second factor), magic link, forgotten password, invitation, e-mail
 * confirmation, sign-out, and the development outbox. Links carrying a token open a confirmation
 * page; the token is used by the form's POST (mail scanners that fetch links use nothing up), and
 * those routes log at "warn" so tokens never reach the request log.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import { UserError } from '../../../platform/http/errors.ts';
import { html, type Raw } from '../../../platform/html/html.ts';
import { readOutbox } from '../mail.ts';
import { PASSWORD_MIN, SIGNUP_MIN_AGE, UNVERIFIED_RETENTION_DAYS, can, safeReturnTo } from '../model.ts';
import {
  acceptInvitation,
  confirmSignup,
  consumeMagicLink,
  endSession,
  getGrants,
  getUser,
  initialStage,
  openSession,
  passwordSignIn,
  peekSignup,
  peekToken,
  requestMagicLink,
  requestPasswordReset,
  resetPassword,
  signUp,
  signupProblems,
  verifyEmail,
  verifySecondFactor,
  type AccountsDeps,
  type User,
} from '../service.ts';
import {
  clearSessionCookie,
  clientInfo,
  currentUser,
  forgetSession,
  resolveSession,
  sessionToken,
  setSessionCookie,
  TOKEN_ROUTE,
} from '../http.ts';
import { csrfField, errorSummary, field, formatDate, notice, renderPage, titleWithErrors, type FieldError } from './ui.ts';
import { formValue, param, queryValue } from './forms.ts';
import { isLoopback } from '../../../platform/config.ts';

const SIGNIN_LIMIT = { rateLimit: { max: 30, timeWindow: '1 minute' } };
const MAIL_LIMIT = { rateLimit: { max: 10, timeWindow: '1 minute' } };

function send(reply: FastifyReply, status: number, page: string) {
  return reply.status(status).type('text/html; charset=utf-8').send(page);
}

function errorsOf(err: unknown): FieldError[] {
  if (err instanceof UserError) return [{ field: err.field, message: err.message }];
  throw err;
}

function statusOf(err: unknown): number {
  return err instanceof UserError ? err.statusCode : 500;
}

function retourQuery(retour: string | null): string {
  return retour ? `?retour=${encodeURIComponent(retour)}` : '';
}

/**
 * Signs a user in after a first factor: new session id (the one the browser came with, if any, is
 * revoked: no session fixation), then to the 2FA step, the 2FA setup, or where they were going.
 */
export async function signIn(req: FastifyRequest, reply: FastifyReply, deps: AccountsDeps, user: User, method: string, retour: string | null) {
  const stage = await initialStage(deps.db, user);
  const token = await openSession(deps, user, stage, method, clientInfo(req), sessionToken(req));
  setSessionCookie(reply, deps, token);
  forgetSession(req);
  if (stage === 'mfa') return reply.redirect(`/compte/connexion/code${retourQuery(retour)}`, 303);
  if (stage === 'enrol') return reply.redirect(`/compte/2fa${retourQuery(retour)}`, 303);
  return reply.redirect(retour ?? (await landing(deps, user)), 303);
}

async function landing(deps: AccountsDeps, user: User): Promise<string> {
  return can({ id: user.id, grants: await getGrants(deps.db, user.id) }, 'backoffice.access') ? '/gestion' : '/compte';
}

function signinForm(deps: AccountsDeps, csrf: string, o: { email?: string; retour: string | null; errors?: FieldError[]; message?: string }): string {
  const errors = o.errors ?? [];
  return renderPage(deps, {
    title: titleWithErrors('Se connecter', errors),
    body: html`<h1>Se connecter</h1>
      ${notice(o.message)}
      ${errorSummary(errors)}
      <form method="post" action="/compte/connexion${retourQuery(o.retour)}" novalidate>
        ${csrfField(csrf)}
        ${field({ name: 'email', label: 'Adresse e-mail', type: 'email', value: o.email ?? '', autocomplete: 'username', required: true, errors: errors.filter((e) => e.field === 'email') })}
        ${field({ name: 'password', label: 'Mot de passe', type: 'password', autocomplete: 'current-password', required: true, errors: errors.filter((e) => e.field === 'password') })}
        <button type="submit">Se connecter</button>
      </form>
      <ul>
        <li><a href="/compte/mot-de-passe-oublie">Mot de passe oublié ?</a></li>
        <li><a href="/compte/connexion/lien">Recevoir un lien de connexion par e-mail</a></li>
      </ul>
      ${
        deps.config.oidc
          ? html`<h2>Ou</h2><p><a class="button" href="/compte/oidc${retourQuery(o.retour)}">Se connecter avec ${deps.config.oidc.label}</a></p>`
          : ''
      }
      <p>Pas encore de compte ? <a href="/compte/inscription${retourQuery(o.retour)}">Créer un compte</a> pour participer aux concertations (les comptes des équipes sont créés sur invitation).</p>`,
  });
}

function simplePage(deps: AccountsDeps, title: string, body: Raw, csrf?: string, user?: Parameters<typeof renderPage>[1]['user']): string {
  return renderPage(deps, { title, body, csrf, user });
}

export function registerAuthPages(app: App, deps: AccountsDeps): void {
  // ---- password sign-in
  app.get('/compte/connexion', async (req, reply) => {
    const retour = safeReturnTo(queryValue(req, 'retour'));
    if (await currentUser(req)) return reply.redirect(retour ?? '/compte', 303);
    return send(reply, 200, signinForm(deps, reply.generateCsrf(), { retour }));
  });

  app.post('/compte/connexion', { preValidation: app.csrfProtection, config: SIGNIN_LIMIT }, async (req, reply) => {
    const retour = safeReturnTo(queryValue(req, 'retour'));
    const email = formValue(req, 'email', 254).trim();
    const password = formValue(req, 'password', 1024);
    const errors: FieldError[] = [];
    if (!email) errors.push({ field: 'email', message: 'Saisissez votre adresse e-mail.' });
    if (!password) errors.push({ field: 'password', message: 'Saisissez votre mot de passe.' });
    if (errors.length) return send(reply, 400, signinForm(deps, reply.generateCsrf(), { email, retour, errors }));
    const result = await passwordSignIn(deps, email, password, clientInfo(req));
    if (result.kind === 'throttled') {
      return send(reply, 429, signinForm(deps, reply.generateCsrf(), {
        email,
        retour,
        errors: [{ field: 'email', message: 'Trop de tentatives de connexion pour cette adresse. Réessayez dans 15 minutes, ou utilisez « Mot de passe oublié ».' }],
      }));
    }
    if (result.kind === 'refused') {
      return send(reply, 400, signinForm(deps, reply.generateCsrf(), { email, retour, errors: [{ field: 'email', message: 'Adresse e-mail ou mot de passe incorrect.' }] }));
    }
    return signIn(req, reply, deps, result.user, 'password', retour);
  });

  // ---- second factor
  const codeForm = (csrf: string, retour: string | null, errors: FieldError[] = []) =>
    renderPage(deps, {
      title: titleWithErrors('Code de vérification', errors),
      body: html`<h1>Code de vérification</h1>
        ${errorSummary(errors)}
        <p>Saisissez le code à 6 chiffres affiché par votre application d’authentification, ou l’un de vos codes de secours.</p>
        <form method="post" action="/compte/connexion/code${retourQuery(retour)}" novalidate>
          ${csrfField(csrf)}
          ${field({ name: 'code', label: 'Code', autocomplete: 'one-time-code', inputmode: 'numeric', required: true, errors, maxlength: 20 })}
          <button type="submit">Vérifier</button>
        </form>
        <form method="post" action="/compte/deconnexion">${csrfField(csrf)}<button type="submit" class="button-link">Annuler et se déconnecter</button></form>`,
    });

  app.get('/compte/connexion/code', async (req, reply) => {
    const r = await resolveSession(req);
    if (!r || r.session.stage !== 'mfa') return reply.redirect('/compte/connexion', 303);
    return send(reply, 200, codeForm(reply.generateCsrf(), safeReturnTo(queryValue(req, 'retour'))));
  });

  app.post('/compte/connexion/code', { preValidation: app.csrfProtection, config: SIGNIN_LIMIT }, async (req, reply) => {
    const retour = safeReturnTo(queryValue(req, 'retour'));
    const r = await resolveSession(req);
    if (!r || r.session.stage !== 'mfa') return reply.redirect('/compte/connexion', 303);
    const code = formValue(req, 'code', 40);
    if (!(await verifySecondFactor(deps, r.user.id, code, clientInfo(req)))) {
      return send(reply, 400, codeForm(reply.generateCsrf(), retour, [{ field: 'code', message: 'Ce code n’est pas valable. Saisissez le code affiché maintenant par votre application, ou un code de secours.' }]));
    }
    const token = await openSession(deps, r.user, 'full', `${r.session.method}+totp`, clientInfo(req), sessionToken(req));
    setSessionCookie(reply, deps, token);
    forgetSession(req);
    return reply.redirect(retour ?? (await landing(deps, r.user)), 303);
  });

  // ---- sign-out
  app.post('/compte/deconnexion', { preValidation: app.csrfProtection }, async (req, reply) => {
    const token = sessionToken(req);
    if (token) await endSession(deps, token);
    clearSessionCookie(reply, deps);
    forgetSession(req);
    return send(reply, 200, simplePage(deps, 'Vous êtes déconnecté', html`<h1>Vous êtes déconnecté</h1><p><a href="/compte/connexion">Se connecter à nouveau</a></p>`));
  });

  // ---- magic link
  const magicForm = (csrf: string, o: { email?: string; errors?: FieldError[]; sent?: boolean }) =>
    renderPage(deps, {
      title: titleWithErrors('Recevoir un lien de connexion', o.errors ?? []),
      body: html`<h1>Recevoir un lien de connexion</h1>
        ${o.sent ? notice('Si un compte actif existe pour cette adresse, un lien de connexion vient d’y être envoyé. Il est valable 15 minutes.') : ''}
        ${errorSummary(o.errors ?? [])}
        <form method="post" action="/compte/connexion/lien" novalidate>
          ${csrfField(csrf)}
          ${field({ name: 'email', label: 'Adresse e-mail', type: 'email', value: o.email ?? '', autocomplete: 'email', required: true, errors: o.errors })}
          <button type="submit">Recevoir le lien</button>
        </form>
        <p><a href="/compte/connexion">Se connecter avec un mot de passe</a></p>`,
    });

  app.get('/compte/connexion/lien', async (_req, reply) => send(reply, 200, magicForm(reply.generateCsrf(), {})));

  app.post('/compte/connexion/lien', { preValidation: app.csrfProtection, config: MAIL_LIMIT }, async (req, reply) => {
    const email = formValue(req, 'email', 254).trim();
    if (!email) return send(reply, 400, magicForm(reply.generateCsrf(), { errors: [{ field: 'email', message: 'Saisissez votre adresse e-mail.' }] }));
    await requestMagicLink(deps, email, clientInfo(req));
    return send(reply, 200, magicForm(reply.generateCsrf(), { sent: true }));
  });

  app.get('/compte/lien/:token', TOKEN_ROUTE, async (req, reply) => {
    const token = param(req, 'token');
    if (!(await peekToken(deps.db, token, 'magic'))) {
      return send(reply, 410, simplePage(deps, 'Lien expiré', html`<h1>Ce lien n’est plus valable</h1><p>Il a déjà servi ou a expiré. <a href="/compte/connexion/lien">Demander un nouveau lien</a>.</p>`));
    }
    return send(reply, 200, simplePage(deps, 'Se connecter', html`<h1>Se connecter</h1>
      <form method="post" action="/compte/lien/${token}">${csrfField(reply.generateCsrf())}<button type="submit">Me connecter</button></form>`));
  });

  app.post('/compte/lien/:token', { ...TOKEN_ROUTE, preValidation: app.csrfProtection, config: SIGNIN_LIMIT }, async (req, reply) => {
    const user = await consumeMagicLink(deps, param(req, 'token'));
    if (!user) {
      return send(reply, 410, simplePage(deps, 'Lien expiré', html`<h1>Ce lien n’est plus valable</h1><p>Il a déjà servi ou a expiré. <a href="/compte/connexion/lien">Demander un nouveau lien</a>.</p>`));
    }
    return signIn(req, reply, deps, user, 'magic_link', null);
  });

  // ---- forgotten password
  const forgotForm = (csrf: string, o: { errors?: FieldError[]; sent?: boolean }) =>
    renderPage(deps, {
      title: titleWithErrors('Mot de passe oublié', o.errors ?? []),
      body: html`<h1>Mot de passe oublié</h1>
        ${o.sent ? notice('Si un compte actif existe pour cette adresse, un lien pour choisir un nouveau mot de passe vient d’y être envoyé. Il est valable 30 minutes.') : ''}
        ${errorSummary(o.errors ?? [])}
        <form method="post" action="/compte/mot-de-passe-oublie" novalidate>
          ${csrfField(csrf)}
          ${field({ name: 'email', label: 'Adresse e-mail', type: 'email', autocomplete: 'email', required: true, errors: o.errors })}
          <button type="submit">Recevoir un lien</button>
        </form>`,
    });

  app.get('/compte/mot-de-passe-oublie', async (_req, reply) => send(reply, 200, forgotForm(reply.generateCsrf(), {})));

  app.post('/compte/mot-de-passe-oublie', { preValidation: app.csrfProtection, config: MAIL_LIMIT }, async (req, reply) => {
    const email = formValue(req, 'email', 254).trim();
    if (!email) return send(reply, 400, forgotForm(reply.generateCsrf(), { errors: [{ field: 'email', message: 'Saisissez votre adresse e-mail.' }] }));
    await requestPasswordReset(deps, email, clientInfo(req));
    return send(reply, 200, forgotForm(reply.generateCsrf(), { sent: true }));
  });

  const resetForm = (csrf: string, token: string, errors: FieldError[] = []) =>
    renderPage(deps, {
      title: titleWithErrors('Choisir un nouveau mot de passe', errors),
      body: html`<h1>Choisir un nouveau mot de passe</h1>
        ${errorSummary(errors)}
        <form method="post" action="/compte/reinitialiser/${token}" novalidate>
          ${csrfField(csrf)}
          ${field({ name: 'password', label: 'Nouveau mot de passe', type: 'password', autocomplete: 'new-password', hint: `Au moins ${PASSWORD_MIN} caractères. Une phrase de plusieurs mots est facile à retenir et difficile à deviner.`, required: true, errors })}
          <button type="submit">Enregistrer le mot de passe</button>
        </form>`,
    });

  const expired = (reply: FastifyReply, what: string, again: Raw) => send(reply, 410, simplePage(deps, 'Lien expiré', html`<h1>Ce lien n’est plus valable</h1><p>${what} ${again}</p>`));

  app.get('/compte/reinitialiser/:token', TOKEN_ROUTE, async (req, reply) => {
    const token = param(req, 'token');
    if (!(await peekToken(deps.db, token, 'reset'))) return expired(reply, 'Il a déjà servi ou a expiré.', html`<a href="/compte/mot-de-passe-oublie">Demander un nouveau lien</a>.`);
    return send(reply, 200, resetForm(reply.generateCsrf(), token));
  });

  app.post('/compte/reinitialiser/:token', { ...TOKEN_ROUTE, preValidation: app.csrfProtection, config: SIGNIN_LIMIT }, async (req, reply) => {
    const token = param(req, 'token');
    try {
      await resetPassword(deps, token, formValue(req, 'password', 1024));
    } catch (err) {
      if (statusOf(err) === 410) return expired(reply, 'Il a déjà servi ou a expiré.', html`<a href="/compte/mot-de-passe-oublie">Demander un nouveau lien</a>.`);
      return send(reply, statusOf(err), resetForm(reply.generateCsrf(), token, errorsOf(err)));
    }
    return send(reply, 200, signinForm(deps, reply.generateCsrf(), { retour: null, message: 'Votre mot de passe est enregistré. Vos autres sessions ont été fermées. Vous pouvez vous connecter.' }));
  });

  // ---- invitation
  const inviteForm = (csrf: string, token: string, o: { displayName: string; email: string; errors?: FieldError[] }) =>
    renderPage(deps, {
      title: titleWithErrors('Activer votre compte', o.errors ?? []),
      body: html`<h1>Activer votre compte</h1>
        ${errorSummary(o.errors ?? [])}
        <p>Compte : <strong>${o.email}</strong></p>
        <form method="post" action="/compte/invitation/${token}" novalidate>
          ${csrfField(csrf)}
          ${field({ name: 'displayName', label: 'Votre nom', value: o.displayName, autocomplete: 'name', required: true, errors: o.errors, maxlength: 120 })}
          ${field({ name: 'password', label: 'Mot de passe', type: 'password', autocomplete: 'new-password', hint: `Au moins ${PASSWORD_MIN} caractères. Une phrase de plusieurs mots est facile à retenir et difficile à deviner.`, required: true, errors: o.errors })}
          <button type="submit">Activer mon compte</button>
        </form>`,
    });

  app.get('/compte/invitation/:token', TOKEN_ROUTE, async (req, reply) => {
    const token = param(req, 'token');
    const peek = await peekToken(deps.db, token, 'invite');
    const user = peek ? await getUser(deps.db, peek.userId) : null;
    if (!user) return expired(reply, 'L’invitation a déjà servi ou a expiré.', html`Demandez une nouvelle invitation à la personne qui vous a invité.`);
    return send(reply, 200, inviteForm(reply.generateCsrf(), token, { displayName: user.displayName, email: user.email }));
  });

  app.post('/compte/invitation/:token', { ...TOKEN_ROUTE, preValidation: app.csrfProtection, config: SIGNIN_LIMIT }, async (req, reply) => {
    const token = param(req, 'token');
    const displayName = formValue(req, 'displayName', 500);
    let user: User;
    try {
      user = await acceptInvitation(deps, token, { displayName, password: formValue(req, 'password', 1024) });
    } catch (err) {
      if (statusOf(err) === 410) return expired(reply, 'L’invitation a déjà servi ou a expiré.', html`Demandez une nouvelle invitation.`);
      const peek = await peekToken(deps.db, token, 'invite');
      const u = peek ? await getUser(deps.db, peek.userId) : null;
      return send(reply, statusOf(err), inviteForm(reply.generateCsrf(), token, { displayName, email: u?.email ?? '', errors: errorsOf(err) }));
    }
    return signIn(req, reply, deps, user, 'invitation', null);
  });

  // ---- e-mail confirmation (after a change of address)
  app.get('/compte/verifier/:token', TOKEN_ROUTE, async (req, reply) => {
    const token = param(req, 'token');
    const peek = await peekToken(deps.db, token, 'verify_email');
    if (!peek) return expired(reply, 'Il a déjà servi ou a expiré.', html`Vous pouvez refaire la demande depuis <a href="/compte">votre compte</a>.`);
    return send(reply, 200, simplePage(deps, 'Confirmer votre adresse', html`<h1>Confirmer votre adresse e-mail</h1>
      <p>Nouvelle adresse : <strong>${String(peek.data?.email ?? '')}</strong></p>
      <form method="post" action="/compte/verifier/${token}">${csrfField(reply.generateCsrf())}<button type="submit">Confirmer cette adresse</button></form>`));
  });

  app.post('/compte/verifier/:token', { ...TOKEN_ROUTE, preValidation: app.csrfProtection }, async (req, reply) => {
    try {
      await verifyEmail(deps, param(req, 'token'));
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      return send(reply, err.statusCode, simplePage(deps, 'Adresse non confirmée', html`<h1>Adresse non confirmée</h1><p>${err.message}</p>`));
    }
    return send(reply, 200, simplePage(deps, 'Adresse confirmée', html`<h1>Adresse confirmée</h1><p>Votre adresse e-mail est à jour. <a href="/compte">Retour à mon compte</a></p>`));
  });

  // ---- self sign-up (residents: a verified e-mail, no staff role)
  type SignupValues = { email: string; displayName: string; birthYear: string };
  const signupForm = (csrf: string, retour: string | null, o: { values?: SignupValues; errors?: FieldError[] }) => {
    const v = o.values ?? { email: '', displayName: '', birthYear: '' };
    const errors = o.errors ?? [];
    return renderPage(deps, {
      title: titleWithErrors('Créer un compte', errors),
      body: html`<h1>Créer un compte</h1>
        <p>Un compte permet de participer aux concertations : proposer, soutenir, commenter, voter, s’inscrire aux rencontres. Votre nom n’est jamais publié avec vos contributions.</p>
        ${errorSummary(errors)}
        <form method="post" action="/compte/inscription${retourQuery(retour)}" novalidate>
          ${csrfField(csrf)}
          ${field({ name: 'displayName', label: 'Votre nom ou un pseudonyme', value: v.displayName, autocomplete: 'name', required: true, errors, maxlength: 120 })}
          ${field({ name: 'email', label: 'Adresse e-mail', type: 'email', value: v.email, autocomplete: 'email', required: true, errors, hint: 'Un lien de confirmation y sera envoyé.' })}
          ${field({ name: 'password', label: 'Mot de passe', type: 'password', autocomplete: 'new-password', hint: `Au moins ${PASSWORD_MIN} caractères. Une phrase de plusieurs mots est facile à retenir et difficile à deviner.`, required: true, errors })}
          ${field({ name: 'birthYear', label: 'Année de naissance', value: v.birthYear, inputmode: 'numeric', autocomplete: 'bday-year', maxlength: 4, required: true, errors, hint: `Il faut avoir au moins ${SIGNUP_MIN_AGE} ans. L’année sert à ce contrôle et n’est pas enregistrée.` })}
          <div class="visually-hidden" aria-hidden="true"><label for="f-website">Ne pas remplir</label><input type="text" id="f-website" name="website" tabindex="-1" autocomplete="off"></div>
          <button type="submit">Créer mon compte</button>
        </form>
        <p>Déjà un compte ? <a href="/compte/connexion${retourQuery(retour)}">Se connecter</a></p>`,
    });
  };
  const signupSent = (email: string) =>
    simplePage(deps, 'Vérifiez votre messagerie', html`<h1>Vérifiez votre messagerie</h1>
      ${notice(`Un message vient d’être envoyé à ${email}. Ouvrez le lien qu’il contient (valable 24 heures) pour activer votre compte. Si cette adresse a déjà un compte, le message l’indique.`)}
      <p>Sans confirmation, la demande est effacée au bout de ${UNVERIFIED_RETENTION_DAYS} jours. Rien reçu ? Vérifiez les indésirables, ou <a href="/compte/inscription">recommencez</a>.</p>`);

  app.get('/compte/inscription', async (req, reply) => {
    const retour = safeReturnTo(queryValue(req, 'retour'));
    if (await currentUser(req)) return reply.redirect(retour ?? '/compte', 303);
    return send(reply, 200, signupForm(reply.generateCsrf(), retour, {}));
  });

  app.post('/compte/inscription', { preValidation: app.csrfProtection, config: MAIL_LIMIT }, async (req, reply) => {
    const retour = safeReturnTo(queryValue(req, 'retour'));
    const values = { email: formValue(req, 'email', 254).trim(), displayName: formValue(req, 'displayName', 500), birthYear: formValue(req, 'birthYear', 10) };
    const input = { ...values, password: formValue(req, 'password', 1024), retour };
    // A robot filled the hidden field: the same answer as everyone, nothing done.
    if (formValue(req, 'website', 500) !== '') return send(reply, 200, signupSent(values.email));
    const errors = signupProblems(deps.config, input);
    if (errors.length) return send(reply, 400, signupForm(reply.generateCsrf(), retour, { values, errors }));
    try {
      await signUp(deps, input, clientInfo(req));
    } catch (err) {
      return send(reply, statusOf(err), signupForm(reply.generateCsrf(), retour, { values, errors: errorsOf(err) }));
    }
    return send(reply, 200, signupSent(values.email));
  });

  const signupExpired = (reply: FastifyReply, why = 'Il a déjà servi ou a expiré.') =>
    expired(reply, why, html`<a href="/compte/connexion">Se connecter</a> ou <a href="/compte/inscription">créer un compte à nouveau</a>.`);

  app.get('/compte/inscription/confirmer/:token', TOKEN_ROUTE, async (req, reply) => {
    const token = param(req, 'token');
    const peek = await peekSignup(deps.db, token);
    if (!peek) return signupExpired(reply);
    return send(reply, 200, simplePage(deps, 'Activer votre compte', html`<h1>Activer votre compte</h1>
      <p>Adresse : <strong>${peek.email}</strong></p>
      <form method="post" action="/compte/inscription/confirmer/${token}">${csrfField(reply.generateCsrf())}<button type="submit">Confirmer mon adresse et activer mon compte</button></form>`));
  });

  app.post('/compte/inscription/confirmer/:token', { ...TOKEN_ROUTE, preValidation: app.csrfProtection, config: SIGNIN_LIMIT }, async (req, reply) => {
    let done: Awaited<ReturnType<typeof confirmSignup>>;
    try {
      done = await confirmSignup(deps, param(req, 'token'));
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      return signupExpired(reply, err.message);
    }
    return signIn(req, reply, deps, done.user, 'signup', safeReturnTo(done.retour));
  });

  // ---- development outbox (never in production)
  if (deps.mailer.usesOutbox) {
    app.get('/compte/outbox', async (req, reply) => {
      // Sign-in and invitation links of everyone: only for a browser on this machine, never
      // through a proxy (which would make every visitor look local).
      const proxied = req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined || req.headers['x-real-ip'] !== undefined;
      if (!isLoopback(req.socket.remoteAddress) || proxied) {
        return send(reply, 403, simplePage(deps, 'Accès refusé', html`<h1>Accès refusé</h1><p>La boîte d’envoi de développement ne s’affiche que sur la machine qui fait tourner le serveur.</p>`));
      }
      const messages = await readOutbox(deps.db);
      return send(reply, 200, simplePage(deps, 'Messages envoyés (développement)', html`<h1>Messages envoyés (développement)</h1>
        <p>Cette page n’existe qu’en développement : elle montre les e-mails que la plateforme aurait envoyés.</p>
        ${messages.length ? '' : html`<p>Aucun message.</p>`}
        ${messages.map((m) => html`<article><h2>${m.subject}</h2><p>À : ${m.recipient} — ${formatDate(m.createdAt)}</p><pre tabindex="0">${m.body}</pre></article>`)}`));
    });
  }
}

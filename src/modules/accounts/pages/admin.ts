/**
 * Administration: users, roles and scopes (every change audited), the audit journal, and the
 * back-office home page (/gestion) that lists what the signed-in person may do.
 */
import { signedInUser } from '../http.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import { UserError } from '../../../platform/http/errors.ts';
import { html } from '../../../platform/html/html.ts';
import { auditHead, verifyAudit } from '../../../platform/audit/index.ts';
import { auditVocabularies } from '../../../platform/audit/wording.ts';
import { readJournal, type JournalFilters, type JournalPage, type NamedObject } from '../journal.ts';
import { ACTIONS, can, ROLES, ROLE_ACTIONS, ROLE_LABELS, ROLE_SCOPES, SCOPE_LABELS, type Action } from '../model.ts';
import {
  anonymiseUser,
  describeGrant,
  getGrants,
  getUser,
  grantRole,
  inviteUser,
  listUsers,
  resendInvitation,
  resetTotpByAdmin,
  revokeRole,
  setUserStatus,
  type AccountsDeps,
  type User,
} from '../service.ts';
import { currentUser, requirePermission, type CurrentUser } from '../http.ts';
import { csrfField, errorSummary, mayReadJournal, field, formatDate, notice, renderPage, titleWithErrors, type FieldError } from './ui.ts';
import { formValue, param, queryValue } from './forms.ts';
import { plural } from '../../../platform/html/components.ts';

function send(reply: FastifyReply, status: number, page: string) {
  return reply.status(status).type('text/html; charset=utf-8').send(page);
}

const STATUS_LABELS: Record<User['status'], string> = {
  invited: 'Invitation envoyée',
  unverified: 'Adresse non confirmée (inscription)',
  active: 'Actif',
  disabled: 'Désactivé',
  deleted: 'Supprimé',
};

const OK_MESSAGES: Record<string, string> = {
  invited: 'Invitation envoyée.',
  granted: 'Rôle attribué.',
  revoked: 'Rôle retiré.',
  disabled: 'Compte désactivé : ses sessions sont fermées.',
  enabled: 'Compte réactivé.',
  reinvited: 'Nouvelle invitation envoyée.',
  mfa_reset: 'Double authentification réinitialisée : ses sessions sont fermées ; elle devra la configurer à nouveau.',
  deleted: 'Compte supprimé : ses données personnelles sont effacées.',
};

const me = signedInUser;

function roleOptions(selected: string, withNone: boolean) {
  return html`${withNone ? html`<option value=""${selected === '' ? ' selected' : ''}>Aucun pour l’instant</option>` : ''}${ROLES.map(
    (r) => html`<option value="${r}"${selected === r ? html` selected` : ''}>${ROLE_LABELS[r]} (${ROLE_SCOPES[r].map((s) => SCOPE_LABELS[s].toLowerCase()).join(', ')})</option>`,
  )}`;
}

function scopeFields(o: { scopeKind: string; scopeId: string; errors: FieldError[] }) {
  const error = o.errors.find((e) => e.field === 'scopeKind');
  return html`<div class="form-field">
      <label for="f-scopeKind">Périmètre</label>
      ${error ? html`<span class="error-message" id="f-scopeKind-error">${error.message}</span>` : ''}
      <select id="f-scopeKind" name="scopeKind"${error ? html` aria-invalid="true" aria-describedby="f-scopeKind-error"` : ''}>
        ${(Object.keys(SCOPE_LABELS) as (keyof typeof SCOPE_LABELS)[]).map((k) => html`<option value="${k}"${o.scopeKind === k ? html` selected` : ''}>${SCOPE_LABELS[k]}</option>`)}
      </select>
    </div>
    ${field({ name: 'scopeId', label: 'Code du périmètre', value: o.scopeId, hint: 'Code de la région (ex. 84), du département (ex. 69, 2A, 974) ou identifiant du lieu. Vide pour toute la plateforme.', errors: o.errors, maxlength: 200 })}`;
}

function roleSelect(name: string, label: string, selected: string, withNone: boolean, errors: FieldError[]) {
  const error = errors.find((e) => e.field === name);
  return html`<div class="form-field">
    <label for="f-${name}">${label}</label>
    ${error ? html`<span class="error-message" id="f-${name}-error">${error.message}</span>` : ''}
    <select id="f-${name}" name="${name}"${error ? html` aria-invalid="true" aria-describedby="f-${name}-error"` : ''}>${roleOptions(selected, withNone)}</select>
  </div>`;
}

export function registerAdminPages(app: App, deps: AccountsDeps): void {
  const manage = requirePermission('accounts.manage');
  const userResolver = async (req: FastifyRequest) => ((await getUser(deps.db, param(req, 'id'))) ? { type: 'platform' } : null);
  const manageUser = requirePermission('accounts.manage', userResolver);
  const post = (preHandler: typeof manage) => ({ preValidation: app.csrfProtection, preHandler });

  // ---- back-office home
  app.get('/gestion', { preHandler: requirePermission('backoffice.access') }, async (req, reply) => {
    const user = await me(req);
    const actions = new Set<Action>(user.grants.flatMap((g) => ROLE_ACTIONS[g.role]));
    actions.delete('backoffice.access');
    return send(reply, 200, renderPage(deps, {
      title: 'Espace de gestion',
      user,
      csrf: reply.generateCsrf(),
      body: html`<h1>Espace de gestion</h1>
        <h2>Vos rôles</h2>
        <ul>${user.grants.map((g) => html`<li>${describeGrant(g)}</li>`)}</ul>
        <h2>Ce que vous pouvez faire</h2>
        ${actions.size ? html`<ul>${[...actions].map((a) => html`<li>${ACTIONS[a]}</li>`)}</ul>` : html`<p>Aucune action pour l’instant.</p>`}
        <p><a href="/gestion/lieux">Lieux : fiches, revendications, modération, imports, doublons</a></p>
        ${actions.has('accounts.manage') ? html`<p><a href="/admin/utilisateurs">Gérer les utilisateurs et leurs rôles</a></p>` : ''}
        ${mayReadJournal(user) ? html`<p><a href="/admin/journal">Consulter le journal d’audit${actions.has('audit.read') ? '' : ' (les objets que vous suivez)'}</a></p>` : ''}`,
    }));
  });

  // ---- users
  app.get('/admin/utilisateurs', { preHandler: manage }, async (req, reply) => {
    const user = await me(req);
    const q = (queryValue(req, 'q') ?? '').slice(0, 200);
    const users = await listUsers(deps.db, q);
    return send(reply, 200, renderPage(deps, {
      title: 'Utilisateurs',
      user,
      csrf: reply.generateCsrf(),
      body: html`<h1>Utilisateurs</h1>
        <p><a href="/admin/utilisateurs/nouveau">Inviter une personne</a></p>
        <form method="get" action="/admin/utilisateurs" role="search">
          <div class="form-field"><label for="f-q">Chercher par nom ou adresse e-mail</label><input id="f-q" name="q" type="search" value="${q}"></div>
          <button type="submit">Chercher</button>
        </form>
        <table class="data">
          <caption>${plural(users.length, 'compte', 'comptes')}${q ? html` pour « ${q} »` : ''}</caption>
          <thead><tr><th scope="col">Nom</th><th scope="col">Adresse e-mail</th><th scope="col">État</th><th scope="col">Rôles</th><th scope="col">Double authentification</th></tr></thead>
          <tbody>${users.map(
            (u) => html`<tr>
              <td><a href="/admin/utilisateurs/${u.id}">${u.displayName}</a>${u.deletionRequestedAt && u.status !== 'deleted' ? html` <strong>(suppression demandée)</strong>` : ''}</td>
              <td>${u.email}</td><td>${STATUS_LABELS[u.status]}</td>
              <td>${u.grants.length ? html`<ul>${u.grants.map((g) => html`<li>${describeGrant(g)}</li>`)}</ul>` : '—'}</td>
              <td>${u.totpEnabled ? 'Oui' : 'Non'}</td>
            </tr>`,
          )}</tbody>
        </table>`,
    }));
  });

  const inviteForm = (reply: FastifyReply, user: CurrentUser, o: { email?: string; displayName?: string; role?: string; scopeKind?: string; scopeId?: string; errors?: FieldError[] }) => {
    const errors = o.errors ?? [];
    const csrf = reply.generateCsrf();
    return renderPage(deps, {
      title: titleWithErrors('Inviter une personne', errors),
      user,
      csrf,
      body: html`<h1>Inviter une personne</h1>
        <p>La personne reçoit un lien, valable 7 jours, pour activer son compte et choisir son mot de passe.</p>
        ${errorSummary(errors)}
        <form method="post" action="/admin/utilisateurs/nouveau" novalidate>
          ${csrfField(csrf)}
          ${field({ name: 'email', label: 'Adresse e-mail', type: 'email', value: o.email ?? '', autocomplete: 'off', required: true, errors })}
          ${field({ name: 'displayName', label: 'Nom', value: o.displayName ?? '', autocomplete: 'off', required: true, errors, maxlength: 120 })}
          ${roleSelect('role', 'Rôle', o.role ?? '', true, errors)}
          ${scopeFields({ scopeKind: o.scopeKind ?? 'platform', scopeId: o.scopeId ?? '', errors })}
          <button type="submit">Envoyer l’invitation</button>
        </form>`,
    });
  };

  app.get('/admin/utilisateurs/nouveau', { preHandler: manage }, async (req, reply) => send(reply, 200, inviteForm(reply, await me(req), {})));

  app.post('/admin/utilisateurs/nouveau', post(manage), async (req, reply) => {
    const actor = await me(req);
    const o = {
      email: formValue(req, 'email', 300),
      displayName: formValue(req, 'displayName', 500),
      role: formValue(req, 'role', 50),
      scopeKind: formValue(req, 'scopeKind', 50) || 'platform',
      scopeId: formValue(req, 'scopeId', 300),
    };
    try {
      const { user } = await inviteUser(deps, actor.id, {
        email: o.email,
        displayName: o.displayName,
        grant: o.role ? { role: o.role, scopeKind: o.scopeKind, scopeId: o.scopeKind === 'platform' ? '' : o.scopeId } : null,
      });
      return reply.redirect(`/admin/utilisateurs/${user.id}?ok=invited`, 303);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      return send(reply, err.statusCode, inviteForm(reply, actor, { ...o, errors: [{ field: err.field, message: err.message }] }));
    }
  });

  const userPage = async (req: FastifyRequest, reply: FastifyReply, errors: FieldError[] = [], form: { role?: string; scopeKind?: string; scopeId?: string } = {}) => {
    const actor = await me(req);
    const target = (await getUser(deps.db, param(req, 'id')))!;
    const grants = await getGrants(deps.db, target.id);
    const history = await readJournal(deps.db, actor, { objectType: 'user', objectId: target.id }, 30);
    const csrf = reply.generateCsrf();
    const ok = OK_MESSAGES[queryValue(req, 'ok') ?? ''];
    const base = `/admin/utilisateurs/${target.id}`;
    return send(reply, errors.length ? 400 : 200, renderPage(deps, {
      title: titleWithErrors(`Compte de ${target.displayName}`, errors),
      user: actor,
      csrf,
      body: html`<p><a href="/admin/utilisateurs">← Tous les utilisateurs</a></p>
        <h1>${target.displayName}</h1>
        ${notice(ok)}
        ${errorSummary(errors)}
        <dl>
          <dt>Adresse e-mail</dt><dd>${target.email}${target.emailVerified ? ' (vérifiée)' : ''}</dd>
          <dt>État</dt><dd>${STATUS_LABELS[target.status]}</dd>
          <dt>Double authentification</dt><dd>${target.totpEnabled ? 'Activée' : 'Non activée'}</dd>
          <dt>Dernière connexion</dt><dd>${formatDate(target.lastSigninAt)}</dd>
          <dt>Créé le</dt><dd>${formatDate(target.createdAt)}</dd>
          ${target.deletionRequestedAt ? html`<dt>Suppression demandée le</dt><dd>${formatDate(target.deletionRequestedAt)}${target.deletionReason ? html` — « ${target.deletionReason} »` : ''}</dd>` : ''}
        </dl>
        <h2>Rôles</h2>
        ${
          grants.length
            ? html`<ul>${grants.map(
                (g) => html`<li>${describeGrant(g)}
                  <form method="post" action="${base}/roles/${g.id}/retirer" class="inline">${csrfField(csrf)}<button type="submit">Retirer<span class="visually-hidden"> le rôle ${describeGrant(g)}</span></button></form></li>`,
              )}</ul>`
            : html`<p>Aucun rôle.</p>`
        }
        ${
          target.status !== 'deleted'
            ? html`<h3>Attribuer un rôle</h3>
              <form method="post" action="${base}/roles" novalidate>
                ${csrfField(csrf)}
                ${roleSelect('role', 'Rôle', form.role ?? 'place_manager', false, errors)}
                ${scopeFields({ scopeKind: form.scopeKind ?? 'place', scopeId: form.scopeId ?? '', errors })}
                <button type="submit">Attribuer</button>
              </form>
              <h2>Compte</h2>
              ${target.totpEnabled && target.id !== actor.id ? html`<form method="post" action="${base}/2fa/reinitialiser">${csrfField(csrf)}<button type="submit">Réinitialiser la double authentification (téléphone perdu)</button></form>` : ''}
              ${target.status === 'invited' ? html`<form method="post" action="${base}/invitation">${csrfField(csrf)}<button type="submit">Renvoyer l’invitation</button></form>` : ''}
              ${target.status === 'active' && target.id !== actor.id ? html`<form method="post" action="${base}/desactiver">${csrfField(csrf)}<button type="submit">Désactiver le compte</button></form>` : ''}
              ${target.status === 'disabled' ? html`<form method="post" action="${base}/activer">${csrfField(csrf)}<button type="submit">Réactiver le compte</button></form>` : ''}
              ${
                target.deletionRequestedAt && target.id !== actor.id
                  ? html`<form method="post" action="${base}/supprimer">${csrfField(csrf)}<button type="submit">Supprimer le compte et effacer ses données personnelles</button></form>`
                  : ''
              }`
            : ''
        }
        <h2>Historique</h2>
        ${journalList(history, false)}
        ${history.next ? html`<p><a href="/admin/journal?type=user&amp;objet=${target.id}">Tout l’historique de ce compte</a></p>` : ''}`,
    }));
  };

  app.get('/admin/utilisateurs/:id', { preHandler: manageUser }, async (req, reply) => userPage(req, reply));

  app.post('/admin/utilisateurs/:id/roles', post(manageUser), async (req, reply) => {
    const actor = await me(req);
    const form = { role: formValue(req, 'role', 50), scopeKind: formValue(req, 'scopeKind', 50), scopeId: formValue(req, 'scopeId', 300) };
    try {
      await grantRole(deps, actor.id, param(req, 'id'), form);
    } catch (err) {
      if (!(err instanceof UserError) || err.statusCode === 404) throw err;
      return userPage(req, reply, [{ field: err.field, message: err.message }], form);
    }
    return reply.redirect(`/admin/utilisateurs/${param(req, 'id')}?ok=granted`, 303);
  });

  app.post('/admin/utilisateurs/:id/roles/:grantId/retirer', post(manageUser), async (req, reply) => {
    await revokeRole(deps, (await me(req)).id, param(req, 'id'), param(req, 'grantId'));
    return reply.redirect(`/admin/utilisateurs/${param(req, 'id')}?ok=revoked`, 303);
  });

  const statusRoute = (path: string, status: 'active' | 'disabled', ok: string) =>
    app.post(`/admin/utilisateurs/:id/${path}`, post(manageUser), async (req, reply) => {
      try {
        await setUserStatus(deps, (await me(req)).id, param(req, 'id'), status);
      } catch (err) {
        if (!(err instanceof UserError) || err.statusCode === 404) throw err;
        return userPage(req, reply, [{ field: null, message: err.message }]);
      }
      return reply.redirect(`/admin/utilisateurs/${param(req, 'id')}?ok=${ok}`, 303);
    });
  statusRoute('desactiver', 'disabled', 'disabled');
  statusRoute('activer', 'active', 'enabled');

  app.post('/admin/utilisateurs/:id/2fa/reinitialiser', post(manageUser), async (req, reply) => {
    try {
      await resetTotpByAdmin(deps, (await me(req)).id, param(req, 'id'));
    } catch (err) {
      if (!(err instanceof UserError) || err.statusCode === 404) throw err;
      return userPage(req, reply, [{ field: null, message: err.message }]);
    }
    return reply.redirect(`/admin/utilisateurs/${param(req, 'id')}?ok=mfa_reset`, 303);
  });

  app.post('/admin/utilisateurs/:id/invitation', post(manageUser), async (req, reply) => {
    try {
      await resendInvitation(deps, (await me(req)).id, param(req, 'id'));
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      return userPage(req, reply, [{ field: null, message: err.message }]);
    }
    return reply.redirect(`/admin/utilisateurs/${param(req, 'id')}?ok=reinvited`, 303);
  });

  app.post('/admin/utilisateurs/:id/supprimer', post(manageUser), async (req, reply) => {
    try {
      await anonymiseUser(deps, (await me(req)).id, param(req, 'id'));
    } catch (err) {
      if (!(err instanceof UserError) || err.statusCode === 404) throw err;
      return userPage(req, reply, [{ field: null, message: err.message }]);
    }
    return reply.redirect(`/admin/utilisateurs/${param(req, 'id')}?ok=deleted`, 303);
  });

  // ---- audit journal, in words (journal.ts; each module's wordings)
  app.get('/admin/journal', { preHandler: requirePermission('backoffice.access') }, async (req, reply) => {
    const user = await me(req);
    const full = can(user, 'audit.read');
    const f = journalFilters(req);
    let page: JournalPage | null = null;
    let error: FieldError | null = null;
    try {
      page = await readJournal(deps.db, user, f);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      if (err.statusCode === 403) throw err;
      error = { field: err.field, message: err.message };
    }
    const expected = full ? (queryValue(req, 'tete') ?? '').trim().slice(0, 200) : '';
    const check = full && queryValue(req, 'verifier') === '1' ? await verifyAudit(deps.db, { expectHead: expected || undefined }).catch(() => ({ ok: false as const, count: 0, seq: 0, reason: 'la tête saisie n’a pas la forme « numéro:empreinte » (l’empreinte a 64 chiffres hexadécimaux), comme l’affiche cette page' })) : null;
    const head = await auditHead(deps.db);
    const title = error ? 'Erreur : Journal d’audit' : 'Journal d’audit';
    return send(reply, error ? 400 : 200, renderPage(deps, {
      title,
      user,
      csrf: reply.generateCsrf(),
      body: html`<h1>Journal d’audit</h1>
        <p>Qui a fait quoi, sur quel objet et quand, du plus récent au plus ancien.${full ? '' : ' Vous voyez les entrées sur les objets que votre rôle vous permet de suivre.'}</p>
        ${errorSummary(error ? [error] : [])}
        ${journalFilterForm(f, error)}
        ${page ? journalList(page) : ''}
        ${page?.next ? html`<p><a href="${journalUrl(f, { before: page.next })}" rel="next">Entrées plus anciennes</a></p>` : ''}
        <h2>Tête de la chaîne</h2>
        <p>Chaque entrée est chaînée à la précédente par une empreinte signée avec une clé gardée hors de la base : toute modification ou suppression se voit à la vérification. Notez cette empreinte hors du serveur (par exemple dans un registre papier ou un autre système) : une vérification avec elle détectera toute réécriture ou troncature du journal depuis ce moment.</p>
        <p><code id="tete-journal">${head.token}</code> (entrée n° ${head.seq}${head.at ? html` du ${formatDate(head.at)}` : ''})</p>
        ${
          check
            ? check.ok
              ? notice(`Chaîne intègre : ${check.count === 1 ? '1 entrée vérifiée' : `${check.count} entrées vérifiées`}${expected ? ', et la tête notée y figure toujours' : ''}.`)
              : html`<div class="error-summary" role="alert"><h2>Chaîne rompue</h2><p>À l’entrée n° ${check.seq} : ${check.reason}.</p></div>`
            : ''
        }
        ${
          full
            ? html`<form method="get" action="/admin/journal">
          <input type="hidden" name="verifier" value="1">
          <div class="form-field"><label for="tete">Tête notée précédemment (facultatif)</label>
          <input id="tete" name="tete" value="${expected}" autocomplete="off" spellcheck="false"></div>
          <button type="submit">Vérifier l’intégrité de la chaîne</button>
        </form>`
            : ''
        }`,
    }));
  });
}

/** The journal's filters from the query string (each capped; checked by readJournal). */
function journalFilters(req: FastifyRequest): JournalFilters {
  const v = (name: string, max: number) => {
    const x = (queryValue(req, name) ?? '').trim();
    return x ? x.slice(0, max + 1) : undefined;
  };
  const before = v('avant', 20);
  return {
    personId: v('personne', 40),
    person: v('qui', 120),
    module: v('module', 40),
    objectType: v('type', 60),
    objectId: v('objet', 200),
    from: v('du', 10),
    to: v('au', 10),
    before: before === undefined ? undefined : /^\d{1,15}$/.test(before) ? Number(before) : -1,
  };
}

function journalUrl(f: JournalFilters, change: Partial<JournalFilters>): string {
  const g = { ...f, ...change };
  const q = new URLSearchParams();
  const set = (k: string, val: string | number | undefined) => {
    if (val !== undefined && val !== '') q.set(k, String(val));
  };
  set('personne', g.personId);
  set('qui', g.person);
  set('module', g.module);
  set('type', g.objectType);
  set('objet', g.objectId);
  set('du', g.from);
  set('au', g.to);
  set('avant', g.before);
  const s = q.toString();
  return s ? `/admin/journal?${s}` : '/admin/journal';
}

function journalFilterForm(f: JournalFilters, error: FieldError | null) {
  const modules = auditVocabularies();
  const kinds = modules.flatMap((m) => Object.entries(m.objects ?? {}).map(([type, k]) => ({ type, noun: k.noun, module: m.label })));
  const invalid = (name: string) => (error?.field === name ? html` aria-invalid="true" aria-describedby="f-${name}-error"` : '');
  const message = (name: string) => (error?.field === name ? html`<span class="error-message" id="f-${name}-error"><span class="visually-hidden">Erreur : </span>${error.message}</span>` : '');
  return html`<form method="get" action="/admin/journal" class="journal-filters" aria-labelledby="journal-filtres">
    <h2 id="journal-filtres">Filtrer</h2>
    ${f.personId ? html`<input type="hidden" name="personne" value="${f.personId}">` : ''}
    <div class="journal-grid">
      <div class="form-field"><label for="f-qui">Personne</label><span class="hint" id="f-qui-hint">Une partie de son nom</span>${message('qui')}<input id="f-qui" name="qui" value="${f.person ?? ''}" maxlength="120" aria-describedby="f-qui-hint"${invalid('qui')}></div>
      <div class="form-field"><label for="f-module">Module</label>${message('module')}<select id="f-module" name="module"${invalid('module')}><option value="">Tous</option>${modules.map((m) => html`<option value="${m.module}"${f.module === m.module ? html` selected` : ''}>${m.label}</option>`)}</select></div>
      <div class="form-field"><label for="f-type">Type d’objet</label>${message('type')}<select id="f-type" name="type"${invalid('type')}><option value="">Tous</option>${kinds.map((k) => html`<option value="${k.type}"${f.objectType === k.type ? html` selected` : ''}>${capitalise(k.noun)} (${k.module})</option>`)}</select></div>
      <div class="form-field"><label for="f-du">Du</label><span class="hint" id="f-du-hint">AAAA-MM-JJ</span>${message('du')}<input id="f-du" name="du" type="date" value="${f.from ?? ''}" aria-describedby="f-du-hint"${invalid('du')}></div>
      <div class="form-field"><label for="f-au">Au</label><span class="hint" id="f-au-hint">AAAA-MM-JJ, inclus</span>${message('au')}<input id="f-au" name="au" type="date" value="${f.to ?? ''}" aria-describedby="f-au-hint"${invalid('au')}></div>
    </div>
    ${f.objectId ? html`<p>Objet choisi : <code>${f.objectId}</code> <input type="hidden" name="objet" value="${f.objectId}"></p>` : ''}
    ${message('objet')}${message('avant')}${message('personne')}
    <p><button type="submit">Filtrer</button> <a href="/admin/journal">Tout afficher</a></p>
  </form>`;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function objectHtml(o: NamedObject) {
  if (o.label === null) return html`${o.noun}`;
  const name = o.quote ? html`« ${o.label} »` : html`${o.label}`;
  const sep = o.noun.endsWith('’') ? '' : ' ';
  return o.href ? html`${o.noun}${sep}<a href="${o.href}">${name}</a>` : html`${o.noun}${sep}${name}`;
}

const TIME = new Intl.DateTimeFormat('fr-FR', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'Europe/Paris' });

/** « 3 déc. 2026 à 14:02 ». */
export function journalTime(iso: string): string {
  const parts = TIME.formatToParts(new Date(iso));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('day')} ${get('month')} ${get('year')} à ${get('hour')}:${get('minute')}`;
}

/** The entries as sentences: « Marie Dupont a fusionné le lieu « X » avec le lieu « Y » — 3 déc. 2026 à 14:02 ». */
export function journalList(page: JournalPage, objectFilterLinks = true) {
  if (!page.lines.length) return html`<p>Aucune entrée${page.full ? '' : ' visible pour votre rôle'} avec ces critères.</p>`;
  return html`<ol class="journal" reversed>
    ${page.lines.map((l) => {
      const e = l.entry;
      const who = l.actor.id ? html`<a href="/admin/journal?personne=${l.actor.id}">${l.actor.label}</a>` : html`${l.actor.label}`;
      const sentence = l.parts.map((p) => (typeof p === 'string' ? html`${p}` : objectHtml(p)));
      const changed = changedFields(e.before, e.after);
      return html`<li value="${e.seq}">
        <p>${who} ${sentence} — <time datetime="${e.at}">${journalTime(e.at)}</time></p>
        <p class="journal-meta">Entrée n° ${e.seq}${l.module ? html` · ${l.module}` : ''}${changed.length ? html` · ${changed.length === 1 ? 'champ modifié' : 'champs modifiés'} : ${changed.join(', ')}` : ''}${
          objectFilterLinks && e.objectId ? html` · <a href="/admin/journal?type=${encodeURIComponent(e.objectType)}&amp;objet=${encodeURIComponent(e.objectId)}">historique de cet objet</a>` : ''
        }</p>
      </li>`;
    })}
  </ol>`;
}

/** The top-level fields whose value differs between before and after (names only, no values). */
function changedFields(before: unknown, after: unknown): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObj(before) || !isObj(after)) return [];
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k])).sort().slice(0, 12);
}

/**
 * Shared bits of the accounts pages: the page frame (with the account bar), accessible form fields
 * and the error summary (each message links to its field).
 */
import { layout } from '../../../platform/html/layout.ts';
import { html, raw, type Raw } from '../../../platform/html/html.ts';
import { can, type Actor } from '../model.ts';
import type { AccountsDeps } from '../service.ts';
import { readableKinds } from '../journal.ts';

/** Whether the journal shows this person anything (audit.read, or some kind of object in their scope). */
export function mayReadJournal(user: Actor): boolean {
  const kinds = readableKinds(user);
  return kinds === null || kinds.length > 0;
}

export interface FieldError {
  field: string | null;
  message: string;
}

const STYLE = raw(`<style>
.account-bar{display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;align-items:center;margin:1rem 0;padding:.5rem 0;border-bottom:1px solid #ccc}
.account-bar form{display:inline;margin:0}
.form-field{margin:0 0 1.25rem}
.form-field label{display:block;font-weight:600}
.form-field .hint{display:block;color:#555;font-size:.95em}
.form-field .error-message{display:block;color:#b00020;font-weight:600}
.form-field input[aria-invalid=true],.form-field select[aria-invalid=true]{border:2px solid #b00020}
.form-field input,.form-field select,.form-field textarea{max-width:30rem;width:100%;padding:.4rem;font:inherit}
.error-summary{border:3px solid #b00020;padding:1rem;margin:1rem 0}
.notice{border-left:6px solid #1f6f3b;padding:.5rem 1rem;margin:1rem 0;background:#f2f8f4}
.button-link{background:none;border:none;padding:0;color:inherit;text-decoration:underline;cursor:pointer;font:inherit}
table.data{border-collapse:collapse;width:100%}table.data th,table.data td{border-bottom:1px solid #ccc;padding:.4rem;text-align:left;vertical-align:top}
.codes{font-family:monospace;font-size:1.2em;columns:2}
.qr svg{width:220px;height:220px}
.secret{font-family:monospace;font-size:1.1em;word-break:break-all}
.journal{padding-left:0;list-style:none}.journal li{border-bottom:1px solid #ccc;padding:.5rem 0}.journal li p{margin:.15rem 0;overflow-wrap:anywhere}
.journal-meta{color:#555;font-size:.9em}
.journal-grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(13rem,1fr));gap:0 1rem}
#tete-journal{overflow-wrap:anywhere}
</style>`);

export interface PageInput {
  title: string;
  body: Raw;
  user?: (Actor & { displayName: string }) | null;
  /** CSRF token, for the sign-out button in the account bar. */
  csrf?: string;
}

export function renderPage(deps: AccountsDeps, p: PageInput): string {
  const bar = p.user
    ? html`<nav class="account-bar" aria-label="Mon compte">
        <span>Connecté : ${p.user.displayName}</span>
        <a href="/compte">Mon compte</a>
        ${can(p.user, 'backoffice.access') ? html`<a href="/gestion">Espace de gestion</a>` : ''}
        ${can(p.user, 'accounts.manage') ? html`<a href="/admin/utilisateurs">Utilisateurs</a>` : ''}
        ${mayReadJournal(p.user) ? html`<a href="/admin/journal">Journal d’audit</a>` : ''}
        ${p.csrf ? html`<form method="post" action="/compte/deconnexion"><input type="hidden" name="_csrf" value="${p.csrf}"><button type="submit" class="button-link">Se déconnecter</button></form>` : ''}
      </nav>`
    : '';
  return layout({ title: p.title, theme: deps.config.theme, head: STYLE, body: html`${bar}${p.body}` });
}

export function errorSummary(errors: FieldError[]): Raw | '' {
  if (!errors.length) return '';
  return html`<div class="error-summary" role="alert" aria-labelledby="error-summary-title" tabindex="-1">
    <h2 id="error-summary-title">Il y a un problème</h2>
    <ul>${errors.map((e) => html`<li>${e.field ? html`<a href="#f-${e.field}">${e.message}</a>` : e.message}</li>`)}</ul>
  </div>`;
}

export function notice(message: string | null | undefined): Raw | '' {
  return message ? html`<div class="notice" role="status"><p>${message}</p></div>` : '';
}

export interface FieldInput {
  name: string;
  /** When two forms of a page share a field name: the key of this field's id (f-<key>) and errors. */
  key?: string;
  label: string;
  type?: string;
  value?: string | null;
  autocomplete?: string;
  hint?: string;
  required?: boolean;
  inputmode?: string;
  errors?: FieldError[];
  maxlength?: number;
}

export function field(f: FieldInput): Raw {
  const key = f.key ?? f.name;
  const id = `f-${key}`;
  const error = f.errors?.find((e) => e.field === key);
  const describedBy = [f.hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(' ');
  return html`<div class="form-field">
    <label for="${id}">${f.label}</label>
    ${f.hint ? html`<span class="hint" id="${id}-hint">${f.hint}</span>` : ''}
    ${error ? html`<span class="error-message" id="${id}-error"><span class="visually-hidden">Erreur : </span>${error.message}</span>` : ''}
    <input id="${id}" name="${f.name}" type="${f.type ?? 'text'}"${f.value !== undefined && f.value !== null && f.type !== 'password' ? html` value="${f.value}"` : ''}${f.autocomplete ? html` autocomplete="${f.autocomplete}"` : ''}${f.inputmode ? html` inputmode="${f.inputmode}"` : ''}${f.required ? raw(' required') : ''}${f.maxlength ? html` maxlength="${f.maxlength}"` : ''}${describedBy ? html` aria-describedby="${describedBy}"` : ''}${error ? raw(' aria-invalid="true"') : ''}>
  </div>`;
}

export function csrfField(token: string): Raw {
  return html`<input type="hidden" name="_csrf" value="${token}">`;
}

export function titleWithErrors(title: string, errors: FieldError[]): string {
  return errors.length ? `Erreur : ${title}` : title;
}

export function formatDate(isoString: string | null): string {
  if (!isoString) return '—';
  return new Intl.DateTimeFormat('fr-FR', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Europe/Paris' }).format(new Date(isoString));
}

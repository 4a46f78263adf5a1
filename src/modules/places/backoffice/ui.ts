/**
 * The back office's page frame and form pieces. The frame follows the accounts pages (account bar
 * with the same links, sign-out button) so the whole back office looks like one place.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Theme } from '../../../platform/config.ts';
import { layout } from '../../../platform/html/layout.ts';
import { html, raw, type Raw } from '../../../platform/html/html.ts';
import { breadcrumb } from '../../../platform/html/components.ts';
import { can, type CurrentUser } from '../../accounts/index.ts';
import { T } from './strings.ts';

export interface FieldError {
  field: string | null;
  message: string;
}

const STYLE = raw(`<style>
.account-bar{display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;align-items:center;margin:1rem 0;padding:.5rem 0;border-bottom:1px solid #ccc}
.account-bar form{display:inline;margin:0}
.bo-nav ul{display:flex;flex-wrap:wrap;gap:.25rem 1.25rem;list-style:none;padding:0;margin:.5rem 0 1rem}
.form-field{margin:0 0 1.25rem}
.form-field>label,.form-field>.label{display:block;font-weight:600}
.form-field .hint{display:block;color:#555;font-size:.95em}
.error-message{display:block;color:#b00020;font-weight:600}
.form-field input[aria-invalid=true],.form-field select[aria-invalid=true],.form-field textarea[aria-invalid=true]{border:2px solid #b00020}
.form-field input[type=text],.form-field input[type=email],.form-field input[type=url],.form-field input[type=search],.form-field input[type=tel],.form-field select,.form-field textarea{max-width:40rem;width:100%;padding:.4rem;font:inherit}
fieldset.group{border:1px solid #bbb;padding:1rem;margin:0 0 1.5rem}
fieldset.group>legend{font-weight:700;font-size:1.15em;padding:0 .25rem}
fieldset.checks{border:0;padding:0;margin:0 0 1.25rem}
fieldset.checks>legend{font-weight:600;padding:0}
fieldset.checks ul{list-style:none;padding:0;margin:.25rem 0;columns:2 18rem}
.error-summary{border:3px solid #b00020;padding:1rem;margin:1rem 0}
.bo-notice{border-left:6px solid #1f6f3b;padding:.5rem 1rem;margin:1rem 0;background:#f2f8f4}
.bo-warning{border-left:6px solid #8a5a00;padding:.5rem 1rem;margin:1rem 0;background:#fff8e6}
.button-link{background:none;border:none;padding:0;color:inherit;text-decoration:underline;cursor:pointer;font:inherit}
table.data{border-collapse:collapse;width:100%}table.data th,table.data td{border-bottom:1px solid #ccc;padding:.4rem;text-align:left;vertical-align:top}
table.hours td,table.hours th{padding:.25rem .5rem;text-align:left;vertical-align:middle}
table.hours input{width:7rem;padding:.3rem;font:inherit}
.diff-before{background:#fde8e8}.diff-after{background:#e6f4ea}
.inline{display:inline}
.stats{display:flex;flex-wrap:wrap;gap:1rem;list-style:none;padding:0}
.stats li{border:1px solid #bbb;padding:.75rem 1rem;min-width:12rem}
.stats strong{display:block;font-size:1.6em}
pre.value{white-space:pre-wrap;word-break:break-word;margin:0;font:inherit}
</style>`);

export interface Frame {
  title: string;
  body: Raw;
  user: CurrentUser | null;
  csrf?: string;
  crumbs?: { href?: string; label: string }[];
}

export function renderFrame(theme: Theme, p: Frame): string {
  const u = p.user;
  const bar = u
    ? html`<nav class="account-bar" aria-label="Mon compte">
        <span>Connecté : ${u.displayName}</span>
        <a href="/compte">Mon compte</a>
        ${can(u, 'backoffice.access') ? html`<a href="/gestion">Espace de gestion</a>` : ''}
        ${can(u, 'accounts.manage') ? html`<a href="/admin/utilisateurs">Utilisateurs</a>` : ''}
        ${can(u, 'audit.read') ? html`<a href="/admin/journal">Journal d’audit</a>` : ''}
        ${p.csrf ? html`<form method="post" action="/compte/deconnexion"><input type="hidden" name="_csrf" value="${p.csrf}"><button type="submit" class="button-link">Se déconnecter</button></form>` : ''}
      </nav>`
    : '';
  const crumbs = p.crumbs?.length ? breadcrumb(p.crumbs) : '';
  return layout({ title: p.title, theme, head: STYLE, noindex: true, body: html`${bar}${crumbs}${p.body}` });
}

export { sendPage as sendHtml } from '../../../platform/http/pages.ts';

export function errorSummary(errors: FieldError[]): Raw | '' {
  if (!errors.length) return '';
  return html`<div class="error-summary" role="alert" aria-labelledby="error-summary-title" tabindex="-1">
    <h2 id="error-summary-title">${T.problem}</h2>
    <ul>${errors.map((e) => html`<li>${e.field ? html`<a href="#f-${e.field}">${e.message}</a>` : e.message}</li>`)}</ul>
  </div>`;
}

export function okNotice(message: string | null | undefined): Raw | '' {
  return message ? html`<div class="bo-notice" role="status"><p>${message}</p></div>` : '';
}

export function warningNotice(body: Raw | string): Raw {
  return html`<div class="bo-warning"><p>${body}</p></div>`;
}

export function csrfField(token: string): Raw {
  return html`<input type="hidden" name="_csrf" value="${token}">`;
}

export function titleWithErrors(title: string, errors: FieldError[]): string {
  return errors.length ? `Erreur : ${title}` : title;
}

/** Describes a control: hint and error ids, aria-invalid. */
export function described(id: string, hint: string | null | undefined, error: FieldError | undefined): { attrs: Raw; before: Raw } {
  const ids = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(' ');
  return {
    attrs: html`${ids ? html` aria-describedby="${ids}"` : ''}${error ? raw(' aria-invalid="true"') : ''}`,
    before: html`${hint ? html`<span class="hint" id="${id}-hint">${hint}</span>` : ''}${error ? html`<span class="error-message" id="${id}-error"><span class="visually-hidden">Erreur : </span>${error.message}</span>` : ''}`,
  };
}

export function textField(o: { name: string; label: string; value: string; hint?: string; errors: FieldError[]; type?: string; maxlength?: number; required?: boolean; autocomplete?: string }): Raw {
  const id = `f-${o.name}`;
  const d = described(id, o.hint, o.errors.find((e) => e.field === o.name));
  return html`<div class="form-field"><label for="${id}">${o.label}${o.required ? ' (obligatoire)' : ''}</label>${d.before}<input id="${id}" name="${o.name}" type="${o.type ?? 'text'}" value="${o.value}"${o.maxlength ? html` maxlength="${o.maxlength}"` : ''}${o.autocomplete ? html` autocomplete="${o.autocomplete}"` : ''}${d.attrs}></div>`;
}

export function textArea(o: { name: string; label: string; value: string; hint?: string; errors: FieldError[]; rows?: number; maxlength?: number }): Raw {
  const id = `f-${o.name}`;
  const d = described(id, o.hint, o.errors.find((e) => e.field === o.name));
  return html`<div class="form-field"><label for="${id}">${o.label}</label>${d.before}<textarea id="${id}" name="${o.name}" rows="${o.rows ?? 4}"${o.maxlength ? html` maxlength="${o.maxlength}"` : ''}${d.attrs}>${o.value}</textarea></div>`;
}

export function checkboxes(o: { name: string; legend: string; options: { value: string; label: string }[]; checked: readonly string[]; hint?: string; errors: FieldError[] }): Raw {
  const id = `f-${o.name}`;
  const error = o.errors.find((e) => e.field === o.name);
  const d = described(id, o.hint, error);
  return html`<fieldset class="checks" id="${id}"${d.attrs}><legend>${o.legend}</legend>${d.before}<ul>${o.options.map(
    (opt, i) => html`<li><input type="checkbox" id="${id}-${i}" name="${o.name}" value="${opt.value}"${o.checked.includes(opt.value) ? raw(' checked') : ''}> <label for="${id}-${i}">${opt.label}</label></li>`,
  )}</ul></fieldset>`;
}

export function selectField(o: { name: string; label: string; options: { value: string; label: string }[]; selected: string | readonly string[]; multiple?: boolean; hint?: string; errors: FieldError[]; size?: number }): Raw {
  const id = `f-${o.name}`;
  const d = described(id, o.hint, o.errors.find((e) => e.field === o.name));
  const sel = (v: string) => (Array.isArray(o.selected) ? o.selected.includes(v) : o.selected === v);
  return html`<div class="form-field"><label for="${id}">${o.label}</label>${d.before}<select id="${id}" name="${o.name}"${o.multiple ? raw(' multiple') : ''}${o.size ? html` size="${o.size}"` : ''}${d.attrs}>${o.options.map(
    (opt) => html`<option value="${opt.value}"${sel(opt.value) ? raw(' selected') : ''}>${opt.label}</option>`,
  )}</select></div>`;
}

export function formatDateTime(isoString: string | null): string {
  if (!isoString) return '—';
  return new Intl.DateTimeFormat('fr-FR', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Europe/Paris' }).format(new Date(isoString));
}

export function formatDay(isoDay: string | null): string {
  if (!isoDay) return '—';
  const [y, m, d] = isoDay.split('-');
  return `${d}/${m}/${y}`;
}

/** Reading url-encoded bodies: one string, bounded. */
export function bodyValue(req: FastifyRequest, name: string, max = 2000): string {
  const v = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v.slice(0, max) : '';
}

export function queryValue(req: FastifyRequest, name: string, max = 200): string {
  const v = (req.query as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v.slice(0, max) : '';
}

export function param(req: FastifyRequest, name: string): string {
  const v = (req.params as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : '';
}

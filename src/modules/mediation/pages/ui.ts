/** The mediation pages' frame and form pieces (phone first: one column, large touch targets). */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Theme } from '../../../platform/config.ts';
import { layout } from '../../../platform/html/layout.ts';
import { html, raw, type Raw } from '../../../platform/html/html.ts';
import { UserError } from '../../../platform/http/errors.ts';
import { can, currentUser, type CurrentUser } from '../../accounts/index.ts';
import type { FieldError } from '../model.ts';

const STYLE = raw(`<style>
.med-bar{display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center;margin:.75rem 0;padding:.4rem 0;border-bottom:1px solid #bbb}
.med-bar form{display:inline;margin:0}
.med-nav ul{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;padding:0;margin:.25rem 0 1rem}
.med-form{max-width:40rem}
.med-form .field{margin:0 0 1rem}
.med-form .field>label,.med-form legend{display:block;font-weight:600}
.med-form .hint{display:block;color:#555;font-size:.95em}
.med-form .err{display:block;color:#b00020;font-weight:600}
.med-form input[type=text],.med-form input[type=date],.med-form input[type=number],.med-form input[type=search],.med-form select,.med-form textarea{width:100%;max-width:40rem;padding:.55rem;font:inherit;box-sizing:border-box}
.med-form [aria-invalid=true]{border:2px solid #b00020}
.med-form fieldset{border:1px solid #bbb;margin:0 0 1rem;padding:.5rem .75rem}
.chips{display:flex;flex-wrap:wrap;gap:.35rem;list-style:none;padding:0;margin:.25rem 0}
.chips label{display:inline-flex;align-items:center;gap:.3rem;border:1px solid #888;border-radius:1.2rem;padding:.35rem .7rem;min-height:2.2rem;cursor:pointer}
.chips input:checked+span{font-weight:700}
.place-list{list-style:none;padding:0}.place-list li{padding:.2rem 0}.place-options{list-style:none;margin:0;padding:0;border:1px solid #555;max-height:16rem;overflow:auto;background:#fff}.place-options li{padding:.45rem .6rem;cursor:pointer}.place-options li[aria-selected="true"]{background:#1f5f8b;color:#fff;outline:2px solid #000}
.counts{display:grid;grid-template-columns:repeat(auto-fill,minmax(9rem,1fr));gap:.5rem}
.counts label{font-weight:400}.counts input{width:5rem}
.med-form button[type=submit]{font:inherit;font-weight:700;padding:.7rem 1.4rem;min-height:2.8rem}
.err-summary{border:3px solid #b00020;padding:.75rem 1rem;margin:1rem 0}
.ok{border-left:6px solid #1f6f3b;padding:.5rem 1rem;margin:1rem 0;background:#f2f8f4}
.warn{border-left:6px solid #8a5a00;padding:.5rem 1rem;margin:1rem 0;background:#fff8e6}
table.data{border-collapse:collapse;width:100%}table.data th,table.data td{border-bottom:1px solid #ccc;padding:.35rem;text-align:left;vertical-align:top}
table.data td.n,table.data th.n{text-align:right;font-variant-numeric:tabular-nums}
.figures{display:flex;flex-wrap:wrap;gap:.75rem;list-style:none;padding:0}
.figures li{border:1px solid #bbb;padding:.6rem .9rem;min-width:10rem}.figures strong{display:block;font-size:1.5em}
.chart svg{max-width:100%;height:auto}
.inline{display:inline}
@media print{.med-bar,.med-nav,nav,footer,.no-print{display:none!important}.chart{break-inside:avoid}}
</style>`);

export interface Frame {
  title: string;
  body: Raw;
  user: CurrentUser | null;
  csrf?: string;
  scripts?: string[];
}

export function renderFrame(theme: Theme, p: Frame): string {
  const u = p.user;
  const bar = u
    ? html`<nav class="med-bar" aria-label="Mon compte"><span>Connecté : ${u.displayName}</span><a href="/compte">Mon compte</a>
        ${can(u, 'backoffice.access') ? html`<a href="/gestion">Espace de gestion</a>` : ''}
        ${p.csrf ? html`<form method="post" action="/compte/deconnexion"><input type="hidden" name="_csrf" value="${p.csrf}"><button type="submit">Se déconnecter</button></form>` : ''}</nav>`
    : '';
  const nav =
    u && can(u, 'mediation.record')
      ? html`<nav class="med-nav" aria-label="Médiation"><ul><li><a href="/mediation">Mes activités</a></li><li><a href="/mediation/activites/nouvelle">Saisir</a></li>
<li><a href="/mediation/beneficiaires">Bénéficiaires suivis</a></li><li><a href="/mediation/statistiques">Statistiques</a></li><li><a href="/mediation/import">Importer</a></li><li><a href="/mediation/profil">Mon profil</a></li></ul></nav>`
      : '';
  return layout({ title: p.title, theme, head: STYLE, body: html`${bar}${nav}${p.body}`, scripts: p.scripts, noindex: true });
}

export { csrfOf, sendPage as send } from '../../../platform/http/pages.ts';

export { signedInUser as me } from '../../accounts/index.ts';

export function errorSummary(errors: FieldError[]): Raw | '' {
  if (!errors.length) return '';
  return html`<div class="err-summary" role="alert" tabindex="-1"><h2>Il y a ${errors.length > 1 ? `${errors.length} problèmes` : 'un problème'}</h2>
<ul>${errors.map((e) => html`<li><a href="#f-${e.field}">${e.message}</a></li>`)}</ul></div>`;
}

export function fieldError(errors: FieldError[], field: string): Raw | '' {
  const e = errors.find((x) => x.field === field);
  return e ? html`<span class="err" id="e-${field}">${e.message}</span>` : '';
}

export function invalid(errors: FieldError[], field: string): Raw {
  return errors.some((x) => x.field === field) ? raw(` aria-invalid="true" aria-describedby="e-${field}"`) : raw('');
}

/** Reads a form body (urlencoded: fields are strings or arrays of strings) without prototype tricks. */
export function formBody(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  const out: Record<string, unknown> = Object.create(null);
  if (!b || typeof b !== 'object') return out;
  for (const [k, v] of Object.entries(b as Record<string, unknown>)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    if (typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))) out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
  }
  return out;
}

export function selectOptions(dict: Record<string, string>, selected: string | null | undefined, empty?: string): Raw {
  return html`${empty !== undefined ? html`<option value="">${empty}</option>` : ''}${Object.entries(dict).map(
    ([k, v]) => html`<option value="${k}"${k === selected ? raw(' selected') : ''}>${v}</option>`,
  )}`;
}

export function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString('fr-FR')} ${n > 1 ? many : one}`;
}

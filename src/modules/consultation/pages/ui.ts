/** The consultation pages' shell and small pieces (French UI text kept here and in the pages). */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { html, raw, type Raw } from '../../../platform/html/html.ts';
import { layout } from '../../../platform/html/layout.ts';
import { csrfOf } from '../../../platform/http/pages.ts';
import type { AppContext } from '../../../platform/module.ts';
import { currentUser, type CurrentUser } from '../../accounts/index.ts';
import type { FieldError } from '../model.ts';
import * as svc from '../service.ts';
import type { Participant } from '../service.ts';
import { notice } from '../../../platform/html/components.ts';
import { IDENTITY_USE_LABELS, type IdentityUse } from '../model.ts';

const STYLE = raw(`<style>
.cs-phases{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.5rem}
.cs-phases li{border:1px solid var(--color-border,#767676);padding:.4rem .7rem;border-radius:.3rem}
.cs-phases li[aria-current]{border-width:3px;border-color:var(--color-primary);font-weight:700}
.cs-list{list-style:none;padding:0}.cs-list>li{border-bottom:1px solid var(--color-border,#ccc);padding:.6rem 0}
.cs-state{display:inline-block;border:1px solid currentColor;border-radius:.3rem;padding:0 .4rem;font-size:.9em}
.cs-form{max-width:42rem}.cs-form .field{margin:0 0 1rem}.cs-form label,.cs-form legend{display:block;font-weight:600}
.cs-form input[type=text],.cs-form input[type=number],.cs-form select,.cs-form textarea{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}
.cs-form .hint{display:block;font-weight:400;color:#4a4a4a}.cs-err{display:block;color:#b00020;font-weight:600}
.cs-hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
.cs-comments{list-style:none;padding-left:0}.cs-comments .cs-comments{padding-left:1.5rem;border-left:2px solid var(--color-border,#ccc)}
.cs-comment{margin:.5rem 0;padding:.5rem;background:var(--color-surface,#f6f6f6)}
.cs-hidden{font-style:italic;color:#4a4a4a}
.cs-basket{position:sticky;top:0;background:#fff;border:2px solid var(--color-primary);padding:.6rem 1rem;margin:1rem 0}
.cs-bar{height:.7rem;background:#e6e6e6;border:1px solid #767676;max-width:30rem}.cs-bar span{display:block;height:100%;background:var(--color-primary)}
table.cs-table{border-collapse:collapse;width:100%}.cs-table th,.cs-table td{border-bottom:1px solid #ccc;padding:.35rem;text-align:left;vertical-align:top}
.cs-table .n{text-align:right;font-variant-numeric:tabular-nums}
.inline{display:inline}
</style>`);

export function page(ctx: AppContext, title: string, body: Raw, o: { noindex?: boolean; scripts?: string[] } = {}): string {
  return layout({ title, theme: ctx.config.theme, body, head: STYLE, path: '/concertations', noindex: o.noindex, scripts: o.scripts });
}

export function send(reply: FastifyReply, status: number, body: string) {
  return reply.status(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}

export function csrf(reply: FastifyReply): Raw {
  return html`<input type="hidden" name="_csrf" value="${csrfOf(reply)}">`;
}

/** The signed-in person as a participant (verified e-mail, account age), or null. */
export async function participant(req: FastifyRequest): Promise<{ user: CurrentUser; who: Participant } | null> {
  const u = await currentUser(req);
  if (!u) return null;
  return { user: u, who: { id: u.id, emailVerified: u.user.emailVerified, createdAt: u.user.createdAt } };
}

/** For visitors where taking part needs an account: sign in, or create one (residents sign up
 *  with a verified e-mail), and come back here either way. */
export function signInOrUp(retour: string, what: string): Raw {
  const q = `?retour=${encodeURIComponent(retour)}`;
  return html`<p>Pour ${what}, il faut un compte : <a href="/compte/connexion${q}">se connecter</a> ou <a class="button" href="/compte/inscription${q}">Créer un compte</a></p>`;
}

/** Reads a form body (strings only) without prototype keys. */
export function formBody(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  const out: Record<string, unknown> = Object.create(null);
  if (!b || typeof b !== 'object') return out;
  for (const [k, v] of Object.entries(b as Record<string, unknown>)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v) && typeof v[0] === 'string') out[k] = v[0];
  }
  return out;
}

export function errorSummary(errors: FieldError[]): Raw | '' {
  if (!errors.length) return '';
  return html`<div class="notice notice-error" role="alert" tabindex="-1" id="erreurs"><p class="notice-title">${errors.length > 1 ? `Il y a ${errors.length} problèmes` : 'Il y a un problème'}</p>
<ul>${errors.map((e) => html`<li><a href="#f-${e.field}">${e.message}</a></li>`)}</ul></div>`;
}

export function fieldError(errors: FieldError[], field: string): Raw | '' {
  const e = errors.find((x) => x.field === field);
  return e ? html`<span class="cs-err" id="e-${field}">${e.message}</span>` : '';
}

export function invalid(errors: FieldError[], field: string): Raw {
  return errors.some((x) => x.field === field) ? raw(` aria-invalid="true" aria-describedby="e-${field}"`) : raw('');
}

export function fmtDate(iso: string): string {
  return new Intl.DateTimeFormat('fr-FR', { dateStyle: 'long', timeZone: 'Europe/Paris' }).format(new Date(iso));
}
export function fmtDateTime(iso: string): string {
  return new Intl.DateTimeFormat('fr-FR', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Paris' }).format(new Date(iso));
}

export const processHref = (slug: string, suffix = '') => `/concertations/${encodeURIComponent(slug)}${suffix}`;

/** The link a participant follows to check their identity for a process (back to `retour` afterwards). */
export const identityHref = (p: Pick<svc.Process, 'slug'>, retour: string) => `/concertations/${p.slug}/identite?retour=${encodeURIComponent(retour)}`;

/** What the pages say about a process's identity check for `use`: nothing when not required, a link, or « vérifiée ». */
export async function identityNotice(ctx: AppContext, p: svc.Process, userId: string | null, use: IdentityUse, retour: string): Promise<Raw | ''> {
  if (!p.identity?.requiredFor.includes(use)) return '';
  if (userId && (await svc.identityCheckOf(ctx.db, p, userId))) return notice('success', `Votre identité est vérifiée par ${p.identity.label} pour cette concertation.`);
  const why = html`Pour ${IDENTITY_USE_LABELS[use].replace(/ \(.*\)$/, '')} dans cette concertation, chaque personne vérifie son identité avec ${p.identity.label}, une seule fois et avec un seul compte.`;
  return notice('info', userId ? html`${why} <a class="button" href="${identityHref(p, retour)}">Vérifier mon identité avec ${p.identity.label}</a>` : why);
}

/** On the process page: what the process requires an identity check for, and the link while it is missing. */
export async function identityBanner(ctx: AppContext, p: svc.Process, userId: string | null): Promise<Raw | ''> {
  const uses = p.identity?.requiredFor ?? [];
  if (!uses.length) return '';
  const what = uses.map((u) => IDENTITY_USE_LABELS[u].replace(/ \(.*\)$/, ''));
  const list = what.length > 1 ? `${what.slice(0, -1).join(', ')} et ${what.at(-1)}` : what[0];
  if (userId && (await svc.identityCheckOf(ctx.db, p, userId))) return notice('success', `Votre identité est vérifiée par ${p.identity!.label} pour cette concertation.`);
  const why = `Pour ${list}, chaque personne vérifie une fois son identité avec ${p.identity!.label}, avec un seul compte.`;
  return notice('info', userId ? html`${why} <a class="button" href="${identityHref(p, `/concertations/${p.slug}`)}">Vérifier mon identité avec ${p.identity!.label}</a>` : why);
}

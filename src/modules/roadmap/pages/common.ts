/** Shared bits of the roadmap pages: the page shell, progress bars, status badges, amounts. */
import { html, raw, type Raw } from '../../../platform/html/html.ts';
import { layout } from '../../../platform/html/layout.ts';
import type { AppContext } from '../../../platform/module.ts';
import { STATUS_LABELS, formatEuros, type Plan, type Status } from '../model.ts';

export const HTML = 'text/html; charset=utf-8';

const STYLE = raw(`<style>
.rm-tree,.rm-tree ol{list-style:none;padding-left:0;margin:0}
.rm-tree ol{padding-left:var(--space-5,1.5rem);border-left:2px solid var(--color-border)}
.rm-node{padding:var(--space-2,.5rem) 0;border-bottom:1px solid var(--color-border)}
.rm-row{display:grid;grid-template-columns:minmax(12rem,1fr) 8rem 10rem 9rem;gap:var(--space-3,.75rem);align-items:center}
@media(max-width:50rem){.rm-row{grid-template-columns:1fr}}
.rm-num{font-weight:700;margin-right:.4em}
.rm-bar{display:flex;align-items:center;gap:.5em}
.rm-bar .track{flex:1;height:.6rem;background:#e6e6e6;border-radius:.3rem;overflow:hidden;min-width:4rem;border:1px solid #767676}
.rm-bar .fill{display:block;height:100%;background:var(--color-primary)}
.rm-status{display:inline-block;padding:0 .5em;border-radius:.3rem;font-size:.875rem;border:1px solid currentColor}
.rm-status-realise{color:#1e6b34}.rm-status-en_cours{color:#0b4f8a}.rm-status-a_venir{color:#4a4a4a}.rm-status-en_pause{color:#6b4e00}
.rm-status-abandonne{color:#5c5c5c;text-decoration:line-through}.rm-status-bloque{color:#a40e0e}.rm-status-en_retard{color:#9b3b00}
.num{text-align:right;font-variant-numeric:tabular-nums}
.rm-money{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:var(--space-3,.75rem);list-style:none;padding:0}
.rm-money li{background:var(--color-surface);padding:var(--space-3,.75rem);border-radius:var(--radius)}
.rm-money strong{display:block;font-size:1.25rem}
.chart{width:100%;max-width:40rem;height:auto;background:#fff}
.chart .grid{stroke:#d0d0d0;stroke-width:1}.chart .axis{font-size:12px;fill:#3a3a3a}
.chart .line{fill:none;stroke-width:2.5}.chart .result{stroke:var(--color-primary)}.chart .estimate{stroke:#6b4e00;stroke-dasharray:4 4}
.chart .target{fill:var(--color-secondary)}
.rm-actions{display:flex;flex-wrap:wrap;gap:var(--space-2,.5rem);list-style:none;padding:0}
.inline-form{display:inline}
table{border-collapse:collapse}th,td{padding:.25rem .5rem;border-bottom:1px solid var(--color-border);text-align:left;vertical-align:top}
@media print{.site-header,.site-footer,.skip-links,.no-print{display:none!important}.summary-page{font-size:10pt}.summary-page h1{font-size:15pt}.summary-page table{width:100%}a{color:inherit;text-decoration:none}}
</style>`);

export function page(ctx: AppContext, title: string, body: Raw, o: { path?: string; noindex?: boolean } = {}): string {
  return layout({ title, theme: ctx.config.theme, body, head: STYLE, path: o.path, noindex: o.noindex });
}

export function percent(v: number | null): string {
  return v === null ? '—' : `${Math.round(v * 100)} %`;
}

export function progressBar(v: number | null, label: string): Raw {
  if (v === null) return html`<span class="rm-bar"><span class="visually-hidden">${label} : </span>non mesuré</span>`;
  const p = Math.round(v * 100);
  return html`<span class="rm-bar"><span class="track" aria-hidden="true"><span class="fill" style="width:${raw(String(p))}%"></span></span><span><span class="visually-hidden">${label} : </span>${p} %</span></span>`;
}

export function statusBadge(s: Status): Raw {
  return html`<span class="rm-status rm-status-${s}">${STATUS_LABELS[s]}</span>`;
}

export function euros(n: number): string {
  return formatEuros(n);
}

export function planHref(plan: Pick<Plan, 'slug'>, suffix = ''): string {
  return `/feuilles-de-route/${encodeURIComponent(plan.slug)}${suffix}`;
}

export function actionHref(plan: Pick<Plan, 'slug'>, nodeId: string): string {
  return planHref(plan, `/actions/${encodeURIComponent(nodeId)}`);
}

export function adminHref(plan: Pick<Plan, 'slug'>, suffix = ''): string {
  return `/gestion/feuilles-de-route/${encodeURIComponent(plan.slug)}${suffix}`;
}

export function fmtDate(iso: string | null): string {
  if (!iso) return '';
  const [y, m, d] = iso.slice(0, 10).split('-');
  return `${d}/${m}/${y}`;
}

const DATE_TIME = new Intl.DateTimeFormat('fr-FR', { dateStyle: 'short', timeStyle: 'short', timeZone: 'Europe/Paris' });
const INTEGER = new Intl.NumberFormat('fr-FR');

export function fmtDateTime(iso: string): string {
  return DATE_TIME.format(new Date(iso));
}

export function plural(n: number, one: string, many: string): string {
  return `${INTEGER.format(n)} ${n >= 2 ? many : one}`;
}

export const TERRITORY_LABELS: Record<string, string> = { region: 'Région', departement: 'Département', epci: 'Intercommunalité' };

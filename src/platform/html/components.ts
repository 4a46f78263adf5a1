/**
 * Small shared page components (markup only; styles in assets/components.css). Every value goes
 * through the escaping `html` template.
 */
import { html, type Raw } from './html.ts';

/** Breadcrumb trail; the last item is the current page. */
export function breadcrumb(items: { href?: string; label: string }[]): Raw {
  const lis = items.map((it, i) =>
    i === items.length - 1 || !it.href
      ? html`<li><span aria-current="page">${it.label}</span></li>`
      : html`<li><a href="${it.href}">${it.label}</a></li>`,
  );
  return html`<nav class="breadcrumb" aria-label="Fil d’Ariane"><ol>${lis}</ol></nav>`;
}

/** A notice box; `kind` sets the colour and the role (alert for errors). */
export function notice(kind: 'info' | 'success' | 'error' | 'warning', body: Raw | string, title?: string): Raw {
  const role = kind === 'error' ? html` role="alert"` : kind === 'success' ? html` role="status"` : '';
  return html`<div class="notice notice-${kind}"${role}>${title ? html`<p class="notice-title">${title}</p>` : ''}<div>${body}</div></div>`;
}

/** A fieldset of checkboxes, all sharing one name (repeated query parameter). */
export function checkboxGroup(o: {
  legend: string;
  name: string;
  options: { value: string; label: string; count?: number | null }[];
  checked: readonly string[];
  idPrefix: string;
  open?: boolean;
}): Raw {
  const items = o.options.map((opt, i) => {
    const id = `${o.idPrefix}-${i}`;
    return html`<li class="check"><input type="checkbox" id="${id}" name="${o.name}" value="${opt.value}"${o.checked.includes(opt.value) ? html` checked` : ''}><label for="${id}">${opt.label}${
      opt.count !== undefined && opt.count !== null ? html` <span class="count">(${opt.count})</span>` : ''
    }</label></li>`;
  });
  const selected = o.checked.length;
  return html`<details class="filter-group"${o.open || selected > 0 ? html` open` : ''}><summary>${o.legend}${selected > 0 ? html` <span class="badge">${selected}</span>` : ''}</summary><fieldset><legend class="visually-hidden">${o.legend}</legend><ul class="checks">${items}</ul></fieldset></details>`;
}

/** Definition list of label → value rows, skipping empty values. */
export function facts(rows: [string, Raw | string | null | undefined | false][]): Raw {
  const kept = rows.filter(([, v]) => v !== null && v !== undefined && v !== false && !(typeof v === 'string' && v.trim() === ''));
  if (kept.length === 0) return html``;
  return html`<dl class="facts">${kept.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>`;
}

/** A list of short tags (services, publics…). */
export function tags(values: string[]): Raw {
  if (values.length === 0) return html``;
  return html`<ul class="tags">${values.map((v) => html`<li>${v}</li>`)}</ul>`;
}

/** Previous/next pagination with the page position, as links (works without JavaScript). */
export function pagination(o: { page: number; pages: number; hrefFor: (page: number) => string; label?: string }): Raw {
  if (o.pages <= 1) return html``;
  const prev = o.page > 1 ? html`<li><a class="button secondary" rel="prev" href="${o.hrefFor(o.page - 1)}">Page précédente</a></li>` : '';
  const next = o.page < o.pages ? html`<li><a class="button secondary" rel="next" href="${o.hrefFor(o.page + 1)}">Page suivante</a></li>` : '';
  const numbers: Raw[] = [];
  const shown = new Set([1, o.pages, o.page - 1, o.page, o.page + 1].filter((p) => p >= 1 && p <= o.pages));
  let last = 0;
  for (const p of [...shown].sort((a, b) => a - b)) {
    if (p - last > 1) numbers.push(html`<li class="ellipsis" aria-hidden="true">…</li>`);
    numbers.push(
      p === o.page
        ? html`<li><a class="page-number" aria-current="page" href="${o.hrefFor(p)}"><span class="visually-hidden">Page </span>${p}</a></li>`
        : html`<li><a class="page-number" href="${o.hrefFor(p)}"><span class="visually-hidden">Page </span>${p}</a></li>`,
    );
    last = p;
  }
  return html`<nav class="pagination" aria-label="${o.label ?? 'Pagination'}"><p class="hint">Page ${o.page} sur ${o.pages}</p><ul>${prev}${numbers}${next}</ul></nav>`;
}

/** A French number with thin spaces as thousands separators. */
export function formatNumber(n: number): string {
  return new Intl.NumberFormat('fr-FR').format(n);
}

/** « 1 lieu » / « 12 lieux ». */
export function plural(n: number, one: string, many: string): string {
  return `${formatNumber(n)} ${n === 1 || n === 0 ? one : many}`;
}

/** A long French date: « 2 avril 2024 ». */
export function formatDate(iso: string): string {
  const d = new Date(iso.length === 10 ? `${iso}T12:00:00Z` : iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat('fr-FR', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'Europe/Paris' }).format(d);
}

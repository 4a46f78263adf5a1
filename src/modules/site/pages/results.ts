/**
 * The results page: a list of places (always complete, paginated) and a map of the same places.
 * Everything the visitor chose is in the URL.
 */
import { html, type Raw } from '../../../platform/html/html.ts';
import { checkboxGroup, formatNumber, notice, pagination, plural, tags } from '../../../platform/html/components.ts';
import { FILTER_FIELDS, type Commune, type ExtraFilter, type Place, type PlaceQuery, type SearchResult, type SiteData } from '../data.ts';
import { activeFilterCount, emptyState, PAGE_SIZE, RADII, stateToApiQuery, stateToQuery, withChanges, type SearchState } from '../query.ts';
import { communeLabel, type Resolution } from '../resolve.ts';
import { FILTER_LEGENDS, T } from '../strings.ts';
import { formatDistance, formatPhone, LEVEL_NAMES, mapStyleAttrs, page, searchHint, placeHref, SCRIPT_SITE, territoryHref, type SiteContext } from './common.ts';
import { own } from '../../../platform/own.ts';

/**
 * Fetches one numbered page of results: the first 500 results in one query (keeping the last
 * page's worth), further pages by walking the keyset cursors in steps of 500.
 */
export async function fetchPage(data: SiteData, query: PlaceQuery, page: number, size = PAGE_SIZE): Promise<SearchResult & { pageMissing: boolean }> {
  if (page > 1 && page * size <= 500) {
    const r = await data.searchPlaces({ ...query, limit: page * size, cursor: null });
    const items = r.items.slice((page - 1) * size);
    return { total: r.total, items, nextCursor: r.nextCursor, pageMissing: items.length === 0 };
  }
  let cursor: string | null = null;
  let remaining = (page - 1) * size;
  let total: number | null = null;
  while (remaining > 0) {
    const take = Math.min(remaining, 500);
    const step = await data.searchPlaces({ ...query, limit: take, cursor });
    total = step.total;
    cursor = step.nextCursor;
    remaining -= take;
    if (!cursor) return { total, items: [], nextCursor: null, pageMissing: true };
  }
  const r = await data.searchPlaces({ ...query, limit: size, cursor });
  return { ...r, total: total ?? r.total, pageMissing: false };
}

/** One result in the list. */
export function placeCard(ctx: SiteContext, p: Place, distanceKm: number | null, headingLevel: 2 | 3 = 3, linkTarget?: string, firstId?: string): Raw {
  const status = ctx.data.openingStatus(p.horaires, ctx.now());
  const types = p.typologie.map((t) => ctx.data.typologyLabel(t)).filter(Boolean);
  const services = p.services.map((s) => ctx.data.label('services', s));
  const title = linkTarget
    ? html`<a href="${placeHref(p)}" target="${linkTarget}" rel="noopener">${p.nom}<span class="visually-hidden"> (nouvelle fenêtre)</span></a>`
    : html`<a href="${placeHref(p)}"${firstId ? html` id="${firstId}"` : ''}>${p.nom}</a>`;
  return html`<li class="place-card" data-uid="${p.uid}">
  ${headingLevel === 2 ? html`<h2>${title}</h2>` : html`<h3>${title}</h3>`}
  ${types.length ? html`<p class="hint">${types.join(' · ')}</p>` : ''}
  <p>${p.adresse}${p.complement_adresse ? html`, ${p.complement_adresse}` : ''}, ${p.code_postal} ${p.commune}</p>
  <p class="meta">${distanceKm !== null ? html`<span>À ${formatDistance(distanceKm)}</span>` : ''}${
    status ? html`<span class="status ${status.open ? 'status-open' : 'status-closed'}">${status.label}</span>` : html`<span class="hint">Horaires non renseignés</span>`
  }${p.telephone ? html`<span><a href="tel:${p.telephone}">${formatPhone(p.telephone)}</a></span>` : ''}${p.itinerance.includes('Itinérant') ? html`<span>Lieu itinérant</span>` : ''}${
    p.latitude !== null && p.longitude !== null
      ? html`<span class="no-print"><a href="https://www.openstreetmap.org/directions?route=%3B${p.latitude}%2C${p.longitude}" rel="noopener">Itinéraire<span class="visually-hidden"> vers ${p.nom} (OpenStreetMap)</span></a></span>`
      : ''
  }</p>
  ${services.length ? html`<p class="visually-hidden">Services :</p>${tags(services)}` : ''}
</li>`;
}

function hiddenInputs(entries: [string, string][]): Raw {
  return html`${entries.map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}`;
}

/** The search field (shared by the home page and the results page). */
export function searchForm(o: { hint: string; q: string; radius?: number | null; showRadius?: boolean; keep?: [string, string][]; action?: string; target?: string; headingId?: string }): Raw {
  const radius = o.radius ?? null;
  return html`<form class="search-form" method="get" action="${o.action ?? '/recherche'}" role="search"${o.target ? html` target="${o.target}"` : ''}>
  <div class="field">
    <label for="q">${T.searchLabel}</label>
    <p class="hint" id="q-hint">${o.hint}</p>
    <input type="search" id="q" name="q" value="${o.q}" aria-describedby="q-hint" autocomplete="address-level2" spellcheck="false" maxlength="200">
  </div>
  ${
    o.showRadius
      ? html`<div><label for="radius">${T.radiusLabel}</label><select id="radius" name="radius">${RADII.map(
          (r) => html`<option value="${r}"${(radius ?? 10) === r ? html` selected` : ''}>${r} km</option>`,
        )}</select></div>`
      : ''
  }
  ${hiddenInputs(o.keep ?? [])}
  <div class="button-row"><button type="submit">${T.searchButton}</button><button type="button" class="secondary" data-around-me hidden>${T.aroundMe}</button></div>
  <p class="hint" data-around-me-status role="status" aria-live="polite"></p>
</form>`;
}

/** The state's filter entries as [name, value] pairs (to keep them in the search form). */
export function filterEntries(s: SearchState): [string, string][] {
  const out: [string, string][] = [];
  for (const f of FILTER_FIELDS) for (const v of s.filters[f]) out.push([f, v]);
  if (s.openNow) out.push(['open_now', '1']);
  if (s.openOnWeekend) out.push(['open_on_weekend', '1']);
  if (s.onlineBooking) out.push(['online_booking', '1']);
  if (s.sort) out.push(['sort', s.sort]);
  for (const [k, values] of Object.entries(s.extra ?? {})) for (const v of values) out.push([k, v]);
  return out;
}

/** Location entries of the state (to keep them in the filter form). */
function locationEntries(s: SearchState): [string, string][] {
  const q = new URLSearchParams(stateToQuery({ ...emptyState(), q: s.q, near: s.near, radius: s.radius, territory: s.territory, bbox: s.bbox }));
  return [...q.entries()];
}

export function filtersForm(ctx: SiteContext, s: SearchState, r: Resolution, counts: Record<string, number> | null, action = '/recherche', extra: [string, string][] = [], extraFilters: ExtraFilter[] = []): Raw {
  const groups = FILTER_LEGENDS.map(([field, legend]) => {
    const values = ctx.data.enumValues(field);
    if (values.length === 0) return html``;
    return checkboxGroup({
      legend,
      name: field,
      idPrefix: `f-${field}`,
      checked: s.filters[field],
      open: field === 'services',
      options: values.map((v) => ({
        value: v,
        label: field === 'typologie' ? ctx.data.typologyLabel(v) : ctx.data.label(field, v),
        count: field === 'services' && counts ? (own(counts, v) ?? 0) : undefined,
      })),
    });
  });
  // Filters of other modules (e.g. « Label régional »): same checkboxes, named by their parameter.
  const moreGroups = extraFilters
    .filter((f) => f.options.length > 0)
    .map((f) => checkboxGroup({ legend: f.label, name: f.key, idPrefix: `f-${f.key}`, checked: s.extra[f.key] ?? [], open: (s.extra[f.key] ?? []).length > 0, options: f.options.map((o) => ({ value: o.value, label: o.label })) }));
  const sortOptions: [string, string][] = [];
  if (r.query.near) sortOptions.push(['distance', T.sortDistance]);
  if (r.query.q) sortOptions.push(['relevance', T.sortRelevance]);
  sortOptions.push(['name', T.sortName]);
  const currentSort = r.query.sort ?? sortOptions[0]![0];
  const n = activeFilterCount(s);
  const extraQuery = extra.length ? '&' + new URLSearchParams(extra).toString() : '';
  return html`<form class="filters" method="get" action="${action}" aria-labelledby="filters-title" data-instant-filters>
  <h2 id="filters-title">${T.filtersTitle}${n > 0 ? html` <span class="badge">${n}<span class="visually-hidden"> ${n > 1 ? 'filtres actifs' : 'filtre actif'}</span></span>` : ''}</h2>
  ${hiddenInputs([...locationEntries(s), ...extra])}
  <ul class="checks">
    <li class="check"><input type="checkbox" id="f-open-now" name="open_now" value="1"${s.openNow ? html` checked` : ''}><label for="f-open-now">${T.openNow}</label></li>
    <li class="check"><input type="checkbox" id="f-weekend" name="open_on_weekend" value="1"${s.openOnWeekend ? html` checked` : ''}><label for="f-weekend">${T.openOnWeekend}</label></li>
    <li class="check"><input type="checkbox" id="f-booking" name="online_booking" value="1"${s.onlineBooking ? html` checked` : ''}><label for="f-booking">${T.onlineBooking}</label></li>
  </ul>
  ${groups}
  ${moreGroups}
  <div class="sort-row">
    <div><label for="sort">${T.sortLabel}</label><select id="sort" name="sort">${sortOptions.map(
      ([v, l]) => html`<option value="${v}"${currentSort === v ? html` selected` : ''}>${l}</option>`,
    )}</select></div>
    <div class="button-row"><button type="submit" data-apply-filters>${T.applyFilters}</button>${
      n > 0 ? html`<a class="button secondary" href="${action}?${stateToQuery({ ...emptyState(), q: s.q, near: s.near, radius: s.radius, territory: s.territory, bbox: s.bbox })}${extraQuery}">${T.clearFilters}</a>` : ''
    }</div>
  </div>
</form>`;
}

/** The active filters as removable chips (links to the same search without that filter). */
export function filterChips(ctx: SiteContext, s: SearchState, href: (st: SearchState) => string, extraFilters: ExtraFilter[] = []): Raw {
  const chips: [string, SearchState][] = [];
  const base = { ...s, page: 1 };
  if (s.openNow) chips.push([T.openNow, { ...base, openNow: false }]);
  if (s.openOnWeekend) chips.push([T.openOnWeekend, { ...base, openOnWeekend: false }]);
  if (s.onlineBooking) chips.push([T.onlineBooking, { ...base, onlineBooking: false }]);
  for (const f of FILTER_FIELDS) {
    for (const v of s.filters[f]) {
      const label = f === 'typologie' ? ctx.data.typologyLabel(v) : ctx.data.label(f, v);
      chips.push([label, { ...base, filters: { ...s.filters, [f]: s.filters[f].filter((x) => x !== v) } }]);
    }
  }
  for (const f of extraFilters) {
    for (const v of s.extra[f.key] ?? []) {
      const label = f.options.find((o) => o.value === v)?.label ?? v;
      chips.push([`${f.label} : ${label}`, { ...base, extra: { ...s.extra, [f.key]: (s.extra[f.key] ?? []).filter((x) => x !== v) } }]);
    }
  }
  if (chips.length === 0) return html``;
  return html`<ul class="chips" aria-label="Filtres actifs">${chips.map(
    ([label, st]) => html`<li><a class="chip" href="${href(st)}"><span>${label}</span><span class="chip-x" aria-hidden="true">×</span><span class="visually-hidden"> (retirer ce filtre)</span></a></li>`,
  )}</ul>`;
}

function candidatesNotice(r: Resolution, s: SearchState): Raw {
  if (r.candidates.length === 0) return html``;
  const links = r.candidates.map(
    (c: Commune) => html`<li><a href="/recherche?${stateToQuery(withChanges(s, { q: communeLabel(c), page: 1, near: null, bbox: null, territory: null }))}">${communeLabel(c)}</a></li>`,
  );
  return notice('info', html`<ul class="candidates">${links}</ul>`, r.commune ? 'Vous cherchiez peut-être une autre commune :' : 'Communes correspondant à votre recherche :');
}

export function heading(r: Resolution, s: SearchState): string {
  switch (r.kind) {
    case 'commune':
      return `Lieux près de ${r.label}`;
    case 'position':
      return 'Lieux autour de vous';
    case 'territory':
      return `Lieux : ${r.label}`;
    case 'bbox':
      return 'Lieux dans la zone de la carte';
    case 'text':
      return `Lieux pour ${r.label}`;
    default:
      return s.filters.services.length === 1 ? s.filters.services[0]! : T.resultsTitle;
  }
}

function summary(total: number, r: Resolution): string {
  const count = plural(total, 'lieu trouvé', 'lieux trouvés');
  const within = r.territory && r.kind !== 'territory' ? ` (territoire : ${r.territory.name})` : '';
  if (r.query.near && r.query.radiusKm) return `${count} à moins de ${formatNumber(r.query.radiusKm)} km${r.kind === 'commune' ? ` de ${r.label}` : ''}${within}`;
  return `${count}${within}`;
}

export interface ResultsView {
  state: SearchState;
  resolution: Resolution;
  result: (SearchResult & { pageMissing: boolean }) | null;
  counts: Record<string, number> | null;
  problems: string[];
  /** Filters registered by other modules (e.g. the regional labels), shown with the others. */
  extraFilters?: ExtraFilter[];
}

/** Loads what the results page shows. */
export async function loadResults(ctx: SiteContext, state: SearchState, resolution: Resolution, problems: string[]): Promise<ResultsView> {
  if (resolution.unknownTerritory) return { state, resolution, result: null, counts: null, problems: [...problems, 'Ce territoire est inconnu.'] };
  const [result, counts, extraFilters] = await Promise.all([fetchPage(ctx.data, resolution.query, state.page), ctx.data.countByService(resolution.query), ctx.data.placeFilters?.() ?? []]);
  return { state, resolution, result, counts, problems, extraFilters };
}

/** The list, map and exports block (shared with the embed page). */
export function resultsBody(ctx: SiteContext, v: ResultsView, o: { action: string; embed?: boolean; extra?: [string, string][] }): Raw {
  const { state: s, resolution: r, result } = v;
  const total = result?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const target = o.embed ? '_blank' : undefined;
  const extra = o.extra ?? [];
  const extraQuery = extra.length ? '&' + new URLSearchParams(extra).toString() : '';
  const href = (st: SearchState) => `${o.action}?${stateToQuery(st)}${extraQuery}`;
  const apiQuery = stateToApiQuery(s, r.query);
  // The exports take the search without its order (they have their own): no `sort`.
  const exportParams = new URLSearchParams(apiQuery);
  exportParams.delete('sort');
  const exportQuery = exportParams.toString();
  const list = result
    ? result.items.length
      ? html`<ol class="place-list" id="liste-lieux" start="${(s.page - 1) * PAGE_SIZE + 1}">${result.items.map((it, i) => placeCard(ctx, it.place, it.distanceKm, 3, target, i === 0 && !target ? 'premier-resultat' : undefined))}</ol>`
      : html`${notice('info', html`<p>${T.noResults}</p>${
          r.query.near && (r.query.radiusKm ?? 0) < 50
            ? html`<p><a href="${href(withChanges(s, { radius: 50, page: 1 }))}">Chercher jusqu’à 50 km</a></p>`
            : ''
        }${activeFilterCount(s) > 0 ? html`<p>Essayez d’enlever des filtres.</p>` : ''}`)}`
    : html``;
  const mapQuery = new URLSearchParams(apiQuery);
  const n = activeFilterCount(s);
  return html`<div class="results-layout" data-results>
  <div class="results-head">
    <p class="results-summary" id="resultats" data-results-summary>${summary(total, r)}</p>
    <p class="visually-hidden" aria-live="polite" data-results-live></p>
    ${filterChips(ctx, s, href, v.extraFilters)}
    ${v.problems.length ? notice('warning', html`${v.problems.map((p) => html`<p>${p}</p>`)}`) : ''}
    <details class="filters-panel"><summary><span>Filtrer les résultats</span>${n > 0 ? html` <span class="badge">${n}<span class="visually-hidden"> ${n > 1 ? 'filtres actifs' : 'filtre actif'}</span></span>` : ''}</summary>
    ${filtersForm(ctx, s, r, v.counts, o.action, extra, v.extraFilters)}
    </details>
    <div class="view-switch" data-view-switch hidden role="group" aria-label="Affichage des résultats">
      <button type="button" class="secondary" data-view="list" aria-pressed="true">Liste</button><button type="button" class="secondary" data-view="map" aria-pressed="false">Carte</button>
    </div>
  </div>
  <div class="results-main" data-view-panel="list">
    <section aria-labelledby="liste-titre" class="results-list-region">
      <h2 id="liste-titre" class="visually-hidden">Liste des lieux</h2>
      ${list}
      ${pagination({ page: Math.min(s.page, pages), pages, hrefFor: (p) => href(withChanges(s, { page: p })), label: 'Pages de résultats' })}
    </section>
    ${
      total > 0 && !o.embed
        ? html`<section aria-labelledby="telecharger" class="no-print"><h2 id="telecharger">${T.download}</h2>
      <p class="hint">Au format du standard national des lieux de médiation numérique.</p>
      <ul class="downloads">
        <li><a class="button secondary" href="/api/v1/places.csv?${exportQuery}${exportQuery ? '&' : ''}spreadsheet=1" download>Tableur (CSV, ${plural(total, 'lieu', 'lieux')})</a></li>
        <li><a class="button secondary" href="/api/v1/places.geojson?${exportQuery}" download>Carte (GeoJSON)</a></li>
      </ul>
      <p><button type="button" class="secondary" data-share hidden>Copier le lien de cette recherche</button> <button type="button" class="secondary" data-print hidden>Imprimer la liste</button></p>
      <p class="hint" data-share-status role="status"></p></section>`
        : ''
    }
  </div>
  <section class="results-map no-print" aria-labelledby="carte-titre" data-view-panel="map">
    <h2 id="carte-titre" class="visually-hidden">${T.mapTitle}</h2>
    <p class="map-note">${T.mapNote}</p>
    <div class="map" id="carte" data-map="results" data-points="/carte/points.json?${mapQuery.toString()}"${mapStyleAttrs(ctx)} data-search-action="${o.action}" data-search-keep="${stateToQuery({ ...s, q: '', near: null, radius: null, territory: null, bbox: null, page: 1 })}${extraQuery}"${
      r.query.near ? html` data-center="${r.query.near.lon},${r.query.near.lat}" data-radius="${r.query.radiusKm ?? 10}"` : ''
    }${s.bbox ? html` data-bbox="${s.bbox.join(',')}"` : ''}${o.embed ? html` data-link-target="_blank"` : ''}></div>
  </section>
</div>`;
}

/** Link from a search to the territory page it concerns (commune found, or territory searched). */
function territoryLink(r: Resolution): Raw {
  if (r.kind === 'commune' && r.commune) {
    return html`<p class="territory-link"><a href="${territoryHref('commune', r.commune.code)}">Les lieux de la commune de ${r.commune.name} et leurs services</a></p>`;
  }
  if (r.kind === 'territory' && r.territory) {
    const level = (LEVEL_NAMES[r.territory.level] ?? r.territory.level).toLowerCase();
    return html`<p class="territory-link"><a href="${territoryHref(r.territory.level, r.territory.code)}">Page du territoire (${level}) : ${r.territory.name}</a></p>`;
  }
  return html``;
}

export function renderResults(ctx: SiteContext, v: ResultsView): string {
  const { state: s, resolution: r } = v;
  const title = heading(r, s);
  const body = html`<h1>${title}</h1>
${searchForm({ hint: searchHint(ctx), q: r.kind === 'commune' || r.kind === 'text' ? s.q : '', radius: s.radius, showRadius: true, keep: filterEntries(s) })}
${candidatesNotice(r, s)}
${territoryLink(r)}
${resultsBody(ctx, v, { action: '/recherche' })}`;
  const total = v.result?.total ?? 0;
  return page(ctx, {
    title: `${title}${s.page > 1 ? ` (page ${s.page})` : ''} : ${plural(total, 'lieu', 'lieux')}`,
    body,
    path: '/recherche',
    bodyClass: 'page-results',
    mainClass: 'container',
    skipLinks: [[v.result?.items.length ? '#premier-resultat' : '#resultats', 'Aller aux résultats']],
    scripts: [SCRIPT_SITE],
    noindex: true,
  });
}


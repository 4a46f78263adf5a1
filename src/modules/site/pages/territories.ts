/**
 * Territory pages: régions, départements and communes with their places counted by service.
 */
import { own } from '../../../platform/own.ts';
import { html, type Raw } from '../../../platform/html/html.ts';
import { breadcrumb, formatNumber, plural } from '../../../platform/html/components.ts';
import type { Territory, TerritoryRef } from '../data.ts';
import { LEVEL_NAMES, page, territoryHref, type SiteContext } from './common.ts';
import { placeCard } from './results.ts';

function crumbs(t: Territory): Raw {
  const items: { href?: string; label: string }[] = [
    { href: '/', label: 'Accueil' },
    { href: '/territoires', label: 'Territoires' },
  ];
  for (const p of t.parents.filter((x) => x.level === 'region' || x.level === 'departement')) items.push({ href: territoryHref(p.level, p.code), label: p.name });
  items.push({ label: t.name });
  return breadcrumb(items);
}

function serviceCounts(ctx: SiteContext, counts: Record<string, number>, territoryRef: string): Raw {
  const services = ctx.data.enumValues('services');
  const rows = services.map(
    (s) =>
      html`<tr><th scope="row">${ctx.data.label('services', s)}</th><td>${
        own(counts, s) ? html`<a href="/recherche?territory=${encodeURIComponent(territoryRef)}&amp;services=${encodeURIComponent(s)}">${plural(own(counts, s)!, 'lieu', 'lieux')}</a>` : 'aucun lieu'
      }</td></tr>`,
  );
  return html`<table><caption>Nombre de lieux par service proposé</caption><thead><tr><th scope="col">Service</th><th scope="col">Lieux</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function childList(children: (TerritoryRef & { count: number })[], title: string, id: string): Raw {
  if (children.length === 0) return html``;
  return html`<section aria-labelledby="${id}"><h2 id="${id}">${title}</h2><ul class="columns">${children.map(
    (c) => html`<li><a href="${territoryHref(c.level, c.code)}">${c.name}</a> <span class="count">(${plural(c.count, 'lieu', 'lieux')})</span></li>`,
  )}</ul></section>`;
}

export async function renderTerritoryIndex(ctx: SiteContext): Promise<string> {
  const [regions, counts] = await Promise.all([ctx.data.listRegions(), ctx.data.countPlacesBy('region')]);
  const byCode = new Map(counts.map((c) => [c.code, c.count]));
  const body = html`${breadcrumb([{ href: '/', label: 'Accueil' }, { label: 'Territoires' }])}
<h1>Les lieux par territoire</h1>
<p>Choisissez une région, puis un département et une commune, pour voir les lieux d’aide au numérique et les services qu’ils proposent.</p>
${childList(regions.map((r) => ({ ...r, level: 'region', count: byCode.get(r.code) ?? 0 })), 'Régions', 'regions')}`;
  return page(ctx, { title: 'Territoires', body, path: '/territoires', canonical: `${ctx.config.publicUrl}/territoires` });
}

export async function renderTerritory(ctx: SiteContext, t: Territory): Promise<string> {
  const d = ctx.data;
  const ref = `${t.level}:${t.code}`;
  const query = { territory: ref };
  const [counts, total] = await Promise.all([d.countByService(query), d.searchPlaces({ ...query, limit: 1, sort: 'name' }).then((r) => r.total)]);
  let children: Raw = html``;
  let places: Raw = html``;
  if (t.level === 'region') {
    const [deps, c] = await Promise.all([d.listDepartements(t.code), d.countPlacesBy('departement', query)]);
    const byCode = new Map(c.map((x) => [x.code, x.count]));
    children = childList(deps.map((x) => ({ ...x, level: 'departement', count: byCode.get(x.code) ?? 0 })), 'Départements', 'enfants');
  } else if (t.level === 'departement' || t.level === 'epci') {
    const [communes, c] = await Promise.all([d.listCommunes(ref), d.countPlacesBy('commune', query)]);
    const byCode = new Map(c.map((x) => [x.code, x.count]));
    const withPlaces = communes.filter((x) => (byCode.get(x.code) ?? 0) > 0).map((x) => ({ ...x, level: 'commune', count: byCode.get(x.code)! }));
    children = html`${childList(withPlaces, 'Communes ayant au moins un lieu', 'enfants')}${
      withPlaces.length < communes.length ? html`<p class="hint">${plural(communes.length - withPlaces.length, 'autre commune n’a', 'autres communes n’ont')} pas de lieu recensé.</p>` : ''
    }`;
  } else if (t.level === 'commune') {
    const r = await d.searchPlaces({ ...query, limit: 50, sort: 'name' });
    places = r.items.length
      ? html`<section aria-labelledby="lieux"><h2 id="lieux">Les lieux de la commune</h2><ol class="place-list">${r.items.map((it) => placeCard(ctx, it.place, null))}</ol>${
          r.total > r.items.length ? html`<p><a href="/recherche?territory=${encodeURIComponent(ref)}">Voir les ${formatNumber(r.total)} lieux</a></p>` : ''
        }</section>`
      : html``;
  }
  const commune = t.level === 'commune' ? await d.getCommune(t.code) : null;
  const body = html`${crumbs(t)}
<h1>${t.name} <span class="hint">(${LEVEL_NAMES[t.level] ?? t.level} ${t.code})</span></h1>
<p class="lead">${total > 0 ? html`${plural(total, 'lieu d’aide au numérique est recensé', 'lieux d’aide au numérique sont recensés')} ${t.level === 'commune' ? 'dans la commune' : 'sur ce territoire'}.` : 'Aucun lieu n’est recensé sur ce territoire pour le moment.'}${
    t.population ? html` Population : ${formatNumber(t.population)} habitants.` : ''
  }</p>
<p class="button-row">${total > 0 ? html`<a class="button" href="/recherche?territory=${encodeURIComponent(ref)}">Voir la liste et la carte</a>` : ''}${
    commune && commune.lat !== null ? html`<a class="button secondary" href="/recherche?q=${encodeURIComponent(`${commune.name} ${commune.postalCodes[0] ?? ''}`.trim())}">Lieux à proximité</a>` : ''
  }</p>
${total > 0 ? serviceCounts(ctx, counts, ref) : ''}
${places}
${children}`;
  return page(ctx, {
    title: `Lieux d’aide au numérique : ${t.name}`,
    description: `Lieux d’aide au numérique ${t.level === 'commune' ? 'à' : 'en'} ${t.name} : ${plural(total, 'lieu', 'lieux')}, services proposés.`,
    body,
    path: '/territoires',
    canonical: `${ctx.config.publicUrl}${territoryHref(t.level, t.code)}`,
  });
}

/**
 * Home page: one search field, « Autour de moi », and entry points by need.
 */
import { html } from '../../../platform/html/html.ts';
import { NEEDS, T } from '../strings.ts';
import { page, SCRIPT_SITE, searchHint, type SiteContext } from './common.ts';
import { searchForm } from './results.ts';

export function renderHome(ctx: SiteContext): string {
  const needs = NEEDS.map(
    (n) => html`<li><a href="/recherche?services=${encodeURIComponent(n.service)}" data-need>${n.label}<span class="hint">${n.hint}</span></a></li>`,
  );
  const body = html`<div class="hero">
  <h1>${T.homeTitle}</h1>
  <p class="lead">${T.homeLead}</p>
  ${searchForm({ hint: searchHint(ctx), q: '' })}
</div>
<section aria-labelledby="besoins">
  <h2 id="besoins">${T.needsTitle}</h2>
  <p>Choisissez ce dont vous avez besoin, puis indiquez votre commune.</p>
  <ul class="needs">${needs}</ul>
</section>
<section aria-labelledby="aider">
  <h2 id="aider">Vous accompagnez quelqu’un ?</h2>
  <p>Travailleurs sociaux, médiateurs, agents d’accueil : recherchez par commune, puis affinez avec les filtres (publics accueillis, handicaps, langues, frais, horaires). Chaque fiche s’imprime proprement pour être remise à la personne.</p>
  <p><a href="/territoires">Parcourir les lieux par région, département ou commune</a></p>
</section>`;
  return page(ctx, {
    title: 'Trouver de l’aide pour le numérique',
    description: T.homeLead,
    body,
    path: '/',
    scripts: [SCRIPT_SITE],
    canonical: `${ctx.config.publicUrl}/`,
  });
}

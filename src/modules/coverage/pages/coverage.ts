/**
 * Coverage pages (`/couverture`, `/couverture/{region|departement|epci}/{code}`): headline figures,
 * a map of commune points (size = population, colour = distance, ring = white zone) with every
 * figure also in tables, the white-zone tables, the planner form (POST with CSRF, works without
 * JavaScript) whose result shows on the map and as a table, and the "what if" form.
 */
import { maplibreUrl } from '../../../platform/http/maplibre.ts';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import { UserError } from '../../../platform/http/errors.ts';
import { html, jsonForScript, raw, type Raw } from '../../../platform/html/html.ts';
import { layout } from '../../../platform/html/layout.ts';
import { breadcrumb, notice, plural } from '../../../platform/html/components.ts';
import type { AppContext } from '../../../platform/module.ts';
import { criterionKey, distanceFor, parseCriterion, SERVICES, type AreaSummary, type CommuneMeasure, type Criterion, type ShareSet } from '../model.ts';
import { plan, scope, scopeSummary, summaries, whatIf, whiteZonesFor, type PlanOutput, type Scope, type WhatIfOutput } from '../service.ts';
import { boundaryCollection, GEOMETRY_HELP } from '../../territories/index.ts';

const HTML = 'text/html; charset=utf-8';
const here = path.dirname(fileURLToPath(import.meta.url));

/** French UI strings of the coverage pages. */
const t = {
  title: 'Couverture du territoire',
  france: 'France',
  levels: { region: 'région', departement: 'département', epci: 'intercommunalité (EPCI)', france: 'France' } as Record<string, string>,
  intro:
    'Distance à vol d’oiseau entre le centre de chaque commune et le lieu de médiation numérique le plus proche. Les parts de population portent sur les communes dont le centre est connu ; les autres sont listées à part.',
  headline: 'Chiffres clés',
  within: (km: number) => `Population à ${km} km ou moins d’un lieu`,
  meanKm: 'Distance moyenne au lieu le plus proche (pondérée par la population)',
  per10k: 'Lieux pour 10 000 habitants',
  places: 'Lieux recensés dans le territoire',
  communesWithPlace: 'Communes ayant au moins un lieu',
  withoutCentre: 'Communes sans centre connu (non mesurées)',
  population: 'Population',
  computed: (when: string, places: number | null) => `Calculé le ${when}${places !== null ? ` à partir de ${fmtInt(places)} lieux` : ''}.`,
  criterion: 'Distance mesurée jusqu’à',
  anyPlace: 'tout lieu',
  saturday: 'un lieu ouvert le samedi',
  show: 'Afficher',
  threshold: 'Seuil des zones blanches (km)',
  link: 'Distance entre centres de communes voisines (km)',
  byService: 'Par service',
  service: 'Service',
  map: 'Carte des communes',
  mapInteractive: 'Carte interactive (déplacer, zoomer ; survoler un point pour son détail)',
  mapNoJs: 'La carte nécessite JavaScript. Toutes ses données figurent dans les tableaux de cette page et dans les exports CSV.',
  legend: 'Légende',
  legendSize: 'Taille du disque : population de la commune.',
  legendRing: (km: number) => `Anneau noir épais : commune à plus de ${km} km (zone blanche).`,
  legendPick: 'Carré noir et cercle en tirets : commune proposée par le planificateur et rayon couvert.',
  areas: 'Territoires',
  whiteZones: 'Zones blanches',
  whiteIntro: (km: number, link: number) =>
    `Communes dont le lieu le plus proche est à plus de ${km} km, regroupées quand leurs centres sont à ${link} km ou moins l’un de l’autre (de proche en proche). Classées par population.`,
  whiteNone: 'Aucune commune au-delà de ce seuil.',
  groups: 'Groupes de communes',
  communesTitle: 'Communes',
  communesIntro: 'Triées de la plus éloignée à la plus proche d’un lieu.',
  noCentre: 'Communes sans centre connu',
  noCentreIntro: 'Leur centre géographique manque dans les données de référence : elles sont comptées dans la population mais pas dans les parts.',
  download: 'Télécharger (CSV)',
  planner: 'Où ouvrir les prochains lieux ?',
  plannerIntro:
    'Le planificateur choisit une à une les communes où un nouveau lieu (au centre de la commune) rapprocherait le plus d’habitants à la distance choisie. Ce choix glouton atteint toujours au moins 63 % (1 − 1/e) du gain du meilleur choix possible.',
  radius: 'Distance (km)',
  k: 'Nombre de lieux à ouvrir',
  run: 'Calculer',
  planResult: 'Propositions du planificateur',
  planSummary: (r: PlanOutput) =>
    `Population à ${fmtKm(r.radiusKm)} km ou moins d’un lieu : ${fmtInt(r.coveredBefore)} → ${fmtInt(r.coveredAfter)} habitants sur ${fmtInt(r.population)} (${fmtPct(r.population ? r.coveredBefore / r.population : null)} → ${fmtPct(r.population ? r.coveredAfter / r.population : null)}).`,
  planBound: (r: PlanOutput) =>
    r.guaranteedRatio === null
      ? 'Aucune commune supplémentaire ne peut être couverte.'
      : `Aucun choix de ${r.k} communes ne dépasserait ${fmtInt(r.optimumUpperBound)} habitants couverts : ces propositions atteignent au moins ${fmtPct(r.guaranteedRatio)} du meilleur gain possible.`,
  planEmpty: 'Aucune commune ne rapprocherait d’habitants supplémentaires.',
  rank: 'Rang',
  commune: 'Commune',
  newly: 'Habitants nouvellement couverts',
  newlyCommunes: 'Communes nouvellement couvertes',
  nearestExisting: 'Lieu existant le plus proche',
  whatIf: 'Et si… ?',
  whatIfIntro: 'Mesurez l’effet de fermetures (identifiants des lieux, un par ligne) ou d’ouvertures (latitude, longitude, une paire par ligne).',
  close: 'Lieux qui fermeraient (uid, un par ligne)',
  open: 'Lieux qui ouvriraient (« latitude, longitude », un par ligne)',
  whatIfResult: 'Résultat de la simulation',
  before: 'Avant',
  after: 'Après',
  changed: 'Communes dont la distance change',
  distance: 'Distance (km)',
  distanceBefore: 'Distance avant (km)',
  distanceAfter: 'Distance après (km)',
  noPlace: 'aucun lieu',
  code: 'Code',
  name: 'Nom',
  count5: 'Lieux à 5 km',
  count20: 'Lieux à 20 km',
  inCommune: 'Lieux dans la commune',
  meanKmShort: 'Distance moyenne (km)',
  maxKm: 'Distance maximale (km)',
  groupMain: 'Commune principale',
  groupSize: 'Communes',
  group: 'Groupe',
  departements: 'Départements',
  invalidNumber: (label: string) => `${label} : indiquez un nombre valide.`,
  badLine: (n: number) => `Ligne ${n} : attendu « latitude, longitude » (par exemple 49.02, 1.15).`,
};

// ---------------------------------------------------------------------------------------------
// Formatting

const nf0 = new Intl.NumberFormat('fr-FR', { maximumFractionDigits: 0 });
const nf1 = new Intl.NumberFormat('fr-FR', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
function fmtInt(x: number | null | undefined): string {
  return x === null || x === undefined ? '—' : nf0.format(x);
}
function fmtKm(x: number | null | undefined): string {
  return x === null || x === undefined ? '—' : nf1.format(x);
}
function fmtPct(x: number | null | undefined): string {
  return x === null || x === undefined ? '—' : `${nf1.format(x * 100)} %`;
}
function fmtDate(iso: string | null): string {
  if (!iso) return '—';
  return new Intl.DateTimeFormat('fr-FR', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Paris' }).format(new Date(iso));
}

/** Distance classes of the map (viridis, colour-blind safe, light = near, dark = far). */
const CLASSES: { max: number; color: string; label: string }[] = [
  { max: 2, color: '#fde725', label: '2 km ou moins' },
  { max: 5, color: '#7ad151', label: '2 à 5 km' },
  { max: 10, color: '#22a884', label: '5 à 10 km' },
  { max: 20, color: '#2a788e', label: '10 à 20 km' },
  { max: Infinity, color: '#440154', label: 'plus de 20 km' },
];
const NONE_COLOR = '#9e9e9e';

// ---------------------------------------------------------------------------------------------
// Page parts

function criterionLabel(c: Criterion): string {
  return c.kind === 'overall' ? t.anyPlace : c.kind === 'saturday' ? t.saturday : `un lieu proposant « ${SERVICES[c.index]!.label} »`;
}

function shareOf(s: AreaSummary, c: Criterion): ShareSet {
  return c.kind === 'overall' ? s.overall : c.kind === 'saturday' ? s.saturday : s.byService[c.index]!;
}

function headline(s: AreaSummary, c: Criterion): Raw {
  const sh = shareOf(s, c);
  const items: [string, string][] = [
    [t.within(5), fmtPct(sh.within5)],
    [t.within(10), fmtPct(sh.within10)],
    [t.within(20), fmtPct(sh.within20)],
    [t.meanKm, `${fmtKm(sh.meanKm)} km`],
    [t.places, fmtInt(s.places)],
    [t.per10k, s.placesPer10k === null ? '—' : nf1.format(s.placesPer10k)],
    [t.communesWithPlace, `${fmtInt(s.communesWithPlace)} sur ${fmtInt(s.communes)}`],
    [t.population, fmtInt(s.population)],
    [t.withoutCentre, `${fmtInt(s.communesWithoutCentre)} (${fmtInt(s.populationWithoutCentre)} hab.)`],
  ];
  return html`<dl class="facts coverage-facts">${items.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>`;
}

function serviceTable(s: AreaSummary): Raw {
  const rows: [string, ShareSet][] = [
    [t.anyPlace, s.overall],
    ['Ouvert le samedi', s.saturday],
    ...SERVICES.map((x, i) => [x.label, s.byService[i]!] as [string, ShareSet]),
  ];
  return html`<div class="coverage-table" role="region" tabindex="0" aria-label="Tableau : ${t.byService}"><table><caption class="visually-hidden">${t.byService}</caption>
<thead><tr><th scope="col">${t.service}</th><th scope="col">≤ 5 km</th><th scope="col">≤ 10 km</th><th scope="col">≤ 20 km</th><th scope="col">${t.meanKmShort}</th></tr></thead>
<tbody>${rows.map(([label, sh]) => html`<tr><th scope="row">${label}</th><td>${fmtPct(sh.within5)}</td><td>${fmtPct(sh.within10)}</td><td>${fmtPct(sh.within20)}</td><td>${fmtKm(sh.meanKm)}</td></tr>`)}</tbody></table></div>`;
}

function areasTable(areas: AreaSummary[], c: Criterion, caption: string): Raw {
  return html`<div class="coverage-table" role="region" tabindex="0" aria-label="Tableau : ${caption}"><table><caption>${caption}</caption>
<thead><tr><th scope="col">${t.name}</th><th scope="col">${t.population}</th><th scope="col">≤ 5 km</th><th scope="col">≤ 10 km</th><th scope="col">≤ 20 km</th><th scope="col">${t.meanKmShort}</th><th scope="col">${t.per10k}</th></tr></thead>
<tbody>${areas.map((a) => {
    const sh = shareOf(a, c);
    const href = a.level === 'france' ? '/couverture' : `/couverture/${a.level}/${encodeURIComponent(a.code)}?service=${criterionKey(c)}`;
    return html`<tr><th scope="row"><a href="${href}">${a.name}</a> <span class="count">(${a.code})</span></th><td>${fmtInt(a.population)}</td><td>${fmtPct(sh.within5)}</td><td>${fmtPct(sh.within10)}</td><td>${fmtPct(sh.within20)}</td><td>${fmtKm(sh.meanKm)}</td><td>${a.placesPer10k === null ? '—' : nf1.format(a.placesPer10k)}</td></tr>`;
  })}</tbody></table></div>`;
}

function communesTableHtml(measures: CommuneMeasure[], c: Criterion): Raw {
  const rows = measures
    .filter((m) => m.lat !== null && m.lon !== null)
    .sort((a, b) => (distanceFor(b, c)?.km ?? Infinity) - (distanceFor(a, c)?.km ?? Infinity) || b.population - a.population);
  return html`<div class="coverage-table" role="region" tabindex="0" aria-label="Tableau : ${t.communesTitle}"><table><caption class="visually-hidden">${t.communesTitle}</caption>
<thead><tr><th scope="col">${t.commune}</th><th scope="col">${t.population}</th><th scope="col">${t.distance}</th><th scope="col">${t.count5}</th><th scope="col">${t.count20}</th><th scope="col">${t.inCommune}</th></tr></thead>
<tbody>${rows.map((m) => {
    const d = distanceFor(m, c);
    return html`<tr><th scope="row">${m.name} <span class="count">(${m.code})</span></th><td>${fmtInt(m.population)}</td><td>${d ? fmtKm(d.km) : t.noPlace}</td><td>${fmtInt(m.within?.[0])}</td><td>${fmtInt(m.within?.[2])}</td><td>${fmtInt(m.placesInCommune)}</td></tr>`;
  })}</tbody></table></div>`;
}

function legend(thresholdKm: number, withPicks: boolean): Raw {
  return html`<div class="coverage-legend"><p class="legend-title"><strong>${t.legend}</strong> — distance au lieu le plus proche</p><ul>
${CLASSES.map((k) => html`<li><span class="swatch" style="background:${k.color}"></span>${k.label}</li>`)}
<li><span class="swatch" style="background:${NONE_COLOR}"></span>${t.noPlace}</li></ul>
<p>${t.legendSize} ${t.legendRing(thresholdKm)}${withPicks ? html` ${t.legendPick}` : ''}</p></div>`;
}

interface PageState {
  s: Scope;
  summary: AreaSummary;
  criterion: Criterion;
  thresholdKm: number;
  linkKm: number;
  csrf: string;
  basePath: string;
  apiTerritory: string;
  plan?: PlanOutput;
  planForm?: { radiusKm: number; k: number };
  whatIf?: WhatIfOutput;
  whatIfForm?: { close: string; open: string };
  error?: { message: string; field: string | null };
  subAreas: { caption: string; areas: AreaSummary[] }[];
  computedAt: string | null;
  places: number | null;
}

function serviceOptions(c: Criterion): Raw {
  const key = criterionKey(c);
  const opts: [string, string][] = [['tous', `Tout lieu`], ['samedi', 'Lieu ouvert le samedi'], ...SERVICES.map((s) => [s.key, s.label] as [string, string])];
  return html`${opts.map(([v, l]) => html`<option value="${v}"${v === key ? raw(' selected') : ''}>${l}</option>`)}`;
}

function plannerForm(p: PageState): Raw {
  const f = p.planForm ?? { radiusKm: 10, k: 10 };
  const err = p.error && ['radiusKm', 'k', 'service'].includes(p.error.field ?? '') ? p.error : null;
  return html`<form method="post" action="${p.basePath}/plan#planificateur" class="stack coverage-form" novalidate>
<input type="hidden" name="_csrf" value="${p.csrf}">
${err ? notice('error', err.message) : ''}
<div class="field"><label for="plan-radius">${t.radius}</label><input id="plan-radius" name="radiusKm" type="number" min="0.5" max="100" step="0.5" value="${f.radiusKm}" required></div>
<div class="field"><label for="plan-k">${t.k}</label><input id="plan-k" name="k" type="number" min="1" max="100" step="1" value="${f.k}" required></div>
<div class="field"><label for="plan-service">${t.criterion}</label><select id="plan-service" name="service">${serviceOptions(p.criterion)}</select></div>
<div class="button-row"><button type="submit">${t.run}</button></div>
</form>`;
}

function planResult(r: PlanOutput): Raw {
  const rows = r.picks.map((pk) => {
    const existing = pk.nearestExisting;
    const label = existing ? r.places[existing.uid]?.name ?? existing.uid : null;
    return html`<tr><td>${pk.rank}</td><th scope="row">${pk.name} <span class="count">(${pk.code})</span></th><td>${fmtInt(pk.newlyCoveredPopulation)}</td>
<td>${pk.newlyCovered.length} : ${pk.newlyCovered.slice(0, 8).map((c, i) => html`${i ? ', ' : ''}${c.name}`)}${pk.newlyCovered.length > 8 ? '…' : ''}</td>
<td>${existing ? html`${label} (${fmtKm(existing.km)} km)` : t.noPlace}</td></tr>`;
  });
  return html`<section id="resultat-plan" aria-labelledby="resultat-plan-titre"><h3 id="resultat-plan-titre">${t.planResult}</h3>
<p>${t.planSummary(r)}</p><p>${t.planBound(r)}</p>
${r.picks.length === 0 ? html`<p>${t.planEmpty}</p>` : html`<div class="coverage-table" role="region" tabindex="0" aria-label="Tableau : ${t.planResult}"><table><caption class="visually-hidden">${t.planResult}</caption>
<thead><tr><th scope="col">${t.rank}</th><th scope="col">${t.commune}</th><th scope="col">${t.newly}</th><th scope="col">${t.newlyCommunes}</th><th scope="col">${t.nearestExisting}</th></tr></thead>
<tbody>${rows}</tbody></table></div>`}</section>`;
}

function whatIfForm(p: PageState): Raw {
  const f = p.whatIfForm ?? { close: '', open: '' };
  const err = p.error && ['close', 'open'].includes(p.error.field ?? '') ? p.error : null;
  return html`<form method="post" action="${p.basePath}/et-si#et-si" class="stack coverage-form" novalidate>
<input type="hidden" name="_csrf" value="${p.csrf}">
<input type="hidden" name="service" value="${criterionKey(p.criterion)}">
${err ? notice('error', err.message) : ''}
<div class="field"><label for="whatif-close">${t.close}</label><textarea id="whatif-close" name="close" rows="3">${f.close}</textarea></div>
<div class="field"><label for="whatif-open">${t.open}</label><textarea id="whatif-open" name="open" rows="3">${f.open}</textarea></div>
<div class="button-row"><button type="submit">${t.run}</button></div>
</form>`;
}

function whatIfResult(r: WhatIfOutput, c: Criterion): Raw {
  const b = shareOf(r.before, c), a = shareOf(r.after, c);
  const line = (label: string, x: string, y: string) => html`<tr><th scope="row">${label}</th><td>${x}</td><td>${y}</td></tr>`;
  return html`<section aria-labelledby="et-si-resultat"><h3 id="et-si-resultat">${t.whatIfResult}</h3>
<p>${r.closed} fermeture(s), ${r.opened} ouverture(s).${r.unknownUids.length ? ` Identifiants inconnus ignorés : ${r.unknownUids.join(', ')}.` : ''}</p>
<div class="coverage-table" role="region" tabindex="0" aria-label="Tableau : ${t.whatIfResult}"><table><caption class="visually-hidden">${t.whatIfResult}</caption><thead><tr><th scope="col">Indicateur</th><th scope="col">${t.before}</th><th scope="col">${t.after}</th></tr></thead><tbody>
${line(t.within(5), fmtPct(b.within5), fmtPct(a.within5))}
${line(t.within(10), fmtPct(b.within10), fmtPct(a.within10))}
${line(t.within(20), fmtPct(b.within20), fmtPct(a.within20))}
${line(t.meanKm, fmtKm(b.meanKm), fmtKm(a.meanKm))}
</tbody></table></div>
${r.changed.length ? html`<div class="coverage-table" role="region" tabindex="0" aria-label="Tableau : ${t.changed}"><table><caption>${t.changed}</caption><thead><tr><th scope="col">${t.commune}</th><th scope="col">${t.population}</th><th scope="col">${t.distanceBefore}</th><th scope="col">${t.distanceAfter}</th></tr></thead>
<tbody>${r.changed.slice(0, 100).map((x) => html`<tr><th scope="row">${x.name} <span class="count">(${x.code})</span></th><td>${fmtInt(x.population)}</td><td>${x.beforeKm === null ? t.noPlace : fmtKm(x.beforeKm)}</td><td>${x.afterKm === null ? t.noPlace : fmtKm(x.afterKm)}</td></tr>`)}</tbody></table></div>` : ''}
</section>`;
}

async function renderPage(ctx: AppContext, p: PageState): Promise<string> {
  const { s, summary, criterion: c } = p;
  const terr = s.territory;
  const zones = await whiteZonesFor(ctx.db, { territory: p.apiTerritory, thresholdKm: p.thresholdKm, linkKm: p.linkKm, criterion: c });
  const title = terr ? `${t.title} — ${terr.name} (${t.levels[terr.level] ?? terr.level})` : `${t.title} — ${t.france}`;
  const crumbs = [{ href: '/couverture', label: 'Couverture' }, ...(terr?.parents ?? []).filter((x) => x.level !== 'commune').map((x) => ({ href: `/couverture/${x.level}/${encodeURIComponent(x.code)}`, label: x.name }))];
  crumbs.push({ href: '', label: terr ? terr.name : t.france });
  if (!terr) crumbs.splice(0, 1, { href: '', label: 'Couverture' }), crumbs.pop();
  const q = (extra = '') => `territory=${encodeURIComponent(p.apiTerritory)}&service=${criterionKey(c)}${extra}`;
  const withCentre = s.measures.filter((m) => m.lat !== null && m.lon !== null);
  const overseas = withCentre.some((m) => m.departement.length === 3);
  const mapData = {
    thresholdKm: p.thresholdKm,
    basemap: overseas || !terr ? ['/couverture/geo/departements-avec-outre-mer.geojson'] : ['/couverture/geo/departements-metropole-simplifie.geojson', '/couverture/geo/regions-metropole-simplifie.geojson'],
    classes: CLASSES.map((k) => [k.max === Infinity ? null : k.max, k.color]),
    none: NONE_COLOR,
    // [lon, lat, population, km or null, name, code]; for large territories (France, most
    // régions) fetched by the map script from /couverture/points.json instead of inlined.
    points: withCentre.length <= INLINE_POINTS ? mapPoints(withCentre, c) : [],
    pointsUrl: withCentre.length <= INLINE_POINTS ? null : `/couverture/points.json?territory=${encodeURIComponent(p.apiTerritory)}&service=${criterionKey(c)}`,
    picks: p.plan ? p.plan.picks.map((pk) => [pk.lon, pk.lat, pk.name, pk.rank]) : [],
    radiusKm: p.plan?.radiusKm ?? null,
    opened: [] as number[][],
  };
  const noCentre = s.measures.filter((m) => m.lat === null || m.lon === null);
  const body = html`${breadcrumb(crumbs)}
<h1>${title}</h1>
<p class="lead">${t.intro}</p>
${s.measures.length > 0 && withCentre.length === 0
    ? notice('warning', html`<p>La géographie de référence (centres et contours des communes) n’est pas chargée : les distances et la couverture ne peuvent pas être calculées.</p><p>${GEOMETRY_HELP}</p>`, 'Couverture non mesurable')
    : ''}
<p class="map-note">${t.computed(fmtDate(p.computedAt), p.places)}</p>
<form method="get" action="${p.basePath}" class="coverage-controls">
<div class="field"><label for="service">${t.criterion}</label><select id="service" name="service">${serviceOptions(c)}</select></div>
<div class="field"><label for="km">${t.threshold}</label><input id="km" name="km" type="number" min="0" max="500" step="0.5" value="${p.thresholdKm}"></div>
<div class="field"><label for="link">${t.link}</label><input id="link" name="link" type="number" min="0" max="100" step="0.5" value="${p.linkKm}"></div>
<div class="button-row"><button type="submit" class="secondary">${t.show}</button></div>
</form>
<section aria-labelledby="chiffres"><h2 id="chiffres">${t.headline} <span class="count">(${criterionLabel(c)})</span></h2>
${headline(summary, c)}
<p class="downloads"><a href="/api/v1/coverage/summary.csv?territory=${encodeURIComponent(p.apiTerritory || 'france')}">${t.download}</a></p>
<h3>${t.byService}</h3>${serviceTable(summary)}</section>
${p.plan ? html`<div id="planificateur-resultat">${planResult(p.plan)}</div>` : ''}
<section aria-labelledby="carte"><h2 id="carte">${t.map}</h2>
<div id="coverage-map" class="map" role="region" aria-label="${t.mapInteractive}"><p class="map-note coverage-nojs">${t.mapNoJs}</p></div>
<script type="application/json" id="coverage-map-data">${jsonForScript(mapData)}</script>
${legend(p.thresholdKm, Boolean(p.plan))}</section>
${p.subAreas.map((a) => html`<section>${areasTable(a.areas, c, a.caption)}</section>`)}
<section aria-labelledby="zones-blanches"><h2 id="zones-blanches">${t.whiteZones}</h2>
<p>${t.whiteIntro(p.thresholdKm, p.linkKm)}</p>
${zones.zones.communes.length === 0 ? html`<p>${t.whiteNone}</p>` : html`
<p>${fmtInt(zones.zones.communes.length)} communes, ${fmtInt(zones.zones.communes.reduce((x, y) => x + y.population, 0))} habitants, ${fmtInt(zones.zones.groups.length)} groupes.
<a href="/api/v1/coverage/white-zones.csv?${q(`&km=${p.thresholdKm}&link_km=${p.linkKm}&table=groups`)}">${t.groups} (CSV)</a> —
<a href="/api/v1/coverage/white-zones.csv?${q(`&km=${p.thresholdKm}&link_km=${p.linkKm}&table=communes`)}">${t.communesTitle} (CSV)</a></p>
<div class="coverage-table" role="region" tabindex="0" aria-label="Tableau : ${t.groups}"><table><caption>${t.groups}${zones.zones.groups.length > 50 ? ' (les 50 plus peuplés)' : ''}</caption>
<thead><tr><th scope="col">${t.rank}</th><th scope="col">${t.groupMain}</th><th scope="col">${t.population}</th><th scope="col">${t.groupSize}</th><th scope="col">${t.meanKmShort}</th><th scope="col">${t.maxKm}</th><th scope="col">${t.departements}</th></tr></thead>
<tbody>${zones.zones.groups.slice(0, 50).map((g) => html`<tr><td>${g.rank}</td><th scope="row">${g.main.name} <span class="count">(${g.main.code})</span></th><td>${fmtInt(g.population)}</td><td>${g.communeCount}</td><td>${fmtKm(g.meanKm)}</td><td>${fmtKm(g.maxKm)}</td><td>${g.departements.join(', ')}</td></tr>`)}</tbody></table></div>`}
</section>
<section aria-labelledby="planificateur-titre" id="planificateur"><h2 id="planificateur-titre">${t.planner}</h2>
${terr ? html`<p>${t.plannerIntro}</p>${plannerForm(p)}` : html`<p>Choisissez une région, un département ou une intercommunalité pour utiliser le planificateur.</p>`}
</section>
<section aria-labelledby="et-si-titre" id="et-si"><h2 id="et-si-titre">${t.whatIf}</h2><p>${t.whatIfIntro}</p>${whatIfForm(p)}${p.whatIf ? whatIfResult(p.whatIf, c) : ''}</section>
${terr && terr.level !== 'region' ? html`<section aria-labelledby="communes"><h2 id="communes">${t.communesTitle}</h2><p>${t.communesIntro} <a href="/api/v1/coverage/communes.csv?territory=${encodeURIComponent(p.apiTerritory)}">${t.download}</a></p>${communesTableHtml(s.measures, c)}</section>` : html`<p><a href="/api/v1/coverage/communes.csv?territory=${encodeURIComponent(p.apiTerritory)}">${t.communesTitle} : ${t.download}</a></p>`}
${noCentre.length ? html`<section aria-labelledby="sans-centre"><h2 id="sans-centre">${t.noCentre} (${noCentre.length})</h2><p>${t.noCentreIntro}</p>
<ul>${noCentre.map((m) => html`<li>${m.name} (${m.code}) — ${fmtInt(m.population)} hab., ${plural(m.placesInCommune, 'lieu', 'lieux')}</li>`)}</ul></section>` : ''}`;
  return layout({
    title,
    theme: ctx.config.theme,
    body,
    path: p.basePath,
    head: html`<link rel="stylesheet" href="${maplibreUrl('maplibre-gl.css')}"><link rel="stylesheet" href="/couverture/assets/coverage.css">`,
    scripts: ['/couverture/assets/coverage-map.js'],
    noindex: Boolean(p.plan || p.whatIf),
  });
}

// ---------------------------------------------------------------------------------------------
// Routes

/** The outline layers the maps draw, from the boundaries the territories module loaded. */
const GEO_FILES = new Map<string, { level: 'region' | 'departement'; metropole: boolean }>([
  ['departements-metropole-simplifie', { level: 'departement', metropole: true }],
  ['regions-metropole-simplifie', { level: 'region', metropole: true }],
  ['departements-avec-outre-mer', { level: 'departement', metropole: false }],
]);
// MapLibre itself is the public site's copy (/site/maplibre/<hash>/, src/platform/http/maplibre.ts): one
// bundle, cached once for every map page; the map script's import names that immutable URL.
const ASSETS: Record<string, { file: () => string; type: string }> = {
  'coverage-map.js': { file: () => path.join(here, '..', 'client', 'coverage-map.js'), type: 'text/javascript; charset=utf-8' },
  'coverage.css': { file: () => path.join(here, '..', 'client', 'coverage.css'), type: 'text/css; charset=utf-8' },
};
const assetCache = new Map<string, Buffer>();
/** The import of MapLibre in coverage-map.js, replaced by its hashed URL when served. */
const MAPLIBRE_PLACEHOLDER = '/site/maplibre/maplibre-gl.mjs';

function num(value: unknown, fallback: number, min: number, max: number, label: string, field: string): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(String(value).replace(',', '.'));
  if (!Number.isFinite(n) || n < min || n > max) throw new UserError(t.invalidNumber(label) + ` (${min}–${max})`, 400, field);
  return n;
}

/**
 * Up to this many communes, the map's points are inlined in the page (a département: at most
 * 887); above (France: 35,000 points, 1.8 MB), the page stays light and the map script fetches
 * them from /couverture/points.json, cached by the browser and by the server per stored version.
 */
const INLINE_POINTS = 2000;

function mapPoints(measures: CommuneMeasure[], c: Criterion): (string | number | null)[][] {
  return measures
    .filter((m) => m.lat !== null && m.lon !== null)
    .map((m) => {
      const km = distanceFor(m, c)?.km;
      return [m.lon, m.lat, m.population, km === undefined ? null : Number(km.toFixed(2)), m.name, m.code];
    });
}

/** Serialised point lists by stored version, territory and criterion (a few kept). */
const pointCache = new Map<string, string>();

function criterionParam(value: unknown): Criterion {
  const c = parseCriterion(typeof value === 'string' ? value : '');
  if (!c) throw new UserError('Service inconnu.', 400, 'service');
  return c;
}

export function registerCoveragePages(app: App, ctx: AppContext) {
  const hide = { hide: true };

  app.get('/couverture/assets/:file', { schema: hide }, async (req, reply) => {
    const name = (req.params as { file: string }).file;
    const a = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!a) return reply.callNotFound();
    let body = assetCache.get(name);
    if (!body) {
      body = fs.readFileSync(a.file());
      if (name === 'coverage-map.js') {
        const text = body.toString('utf8');
        if (!text.includes(`'${MAPLIBRE_PLACEHOLDER}'`)) throw new Error(`coverage-map.js no longer imports '${MAPLIBRE_PLACEHOLDER}'`);
        body = Buffer.from(text.replace(`'${MAPLIBRE_PLACEHOLDER}'`, JSON.stringify(maplibreUrl('maplibre-gl.mjs'))));
      }
      if (ctx.config.env === 'production') assetCache.set(name, body);
    }
    return reply.type(a.type).header('Cache-Control', 'public, max-age=3600').send(body);
  });

  app.get('/couverture/geo/:file', { schema: hide }, async (req, reply) => {
    const name = (req.params as { file: string }).file.replace(/\.geojson$/, '');
    const layer = GEO_FILES.get(name);
    if (!layer) return reply.callNotFound();
    const body = await boundaryCollection(ctx.db, layer.level, { metropole: layer.metropole });
    if (body === null) return reply.code(404).type('application/json').send({ error: 'not_found', message: 'Contours non chargés : lancez « npx maillage territories load ».' });
    return reply.type('application/geo+json').header('Cache-Control', 'public, max-age=3600').send(body);
  });

  // The map points of a territory (see INLINE_POINTS): [lon, lat, population, km or null, name, code].
  app.get('/couverture/points.json', { schema: hide }, async (req, reply) => {
    const query = req.query as Record<string, unknown>;
    const territory = typeof query.territory === 'string' ? query.territory : '';
    const c = criterionParam(query.service ?? 'tous');
    const s = await scope(ctx.db, territory);
    const key = `${s.state.version}|${territory}|${criterionKey(c)}`;
    const etag = `W/"couverture-${s.state.version}-${Buffer.from(`${territory}|${criterionKey(c)}`).toString('base64url')}"`;
    reply.header('ETag', etag).header('Cache-Control', 'public, max-age=300');
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    let body = pointCache.get(key);
    if (body === undefined) {
      body = JSON.stringify(mapPoints(s.measures, c));
      pointCache.set(key, body);
      if (pointCache.size > 16) pointCache.delete(pointCache.keys().next().value!);
    }
    return reply.type('application/json; charset=utf-8').send(body);
  });

  async function state(req: FastifyRequest, reply: FastifyReply, level: string | null, code: string | null, query: Record<string, unknown>): Promise<PageState> {
    const apiTerritory = level && code ? `${level}:${code}` : '';
    if (level && !['region', 'departement', 'epci'].includes(level)) throw new UserError('Niveau de territoire inconnu.', 404, 'level');
    const s = await scope(ctx.db, apiTerritory);
    const criterion = criterionParam(query.service);
    const subAreas: PageState['subAreas'] = [];
    if (!s.territory) {
      subAreas.push({ caption: 'Régions', areas: (await summaries(ctx.db, 'region')).areas });
      subAreas.push({ caption: 'Départements', areas: (await summaries(ctx.db, 'departement')).areas });
    } else if (s.territory.level === 'region') {
      subAreas.push({ caption: 'Départements', areas: (await summaries(ctx.db, 'departement', apiTerritory)).areas });
    } else if (s.territory.level === 'departement') {
      subAreas.push({ caption: 'Intercommunalités (EPCI)', areas: (await summaries(ctx.db, 'epci', apiTerritory)).areas });
    }
    return {
      s,
      summary: scopeSummary(s),
      criterion,
      thresholdKm: num(query.km, 10, 0, 500, t.threshold, 'km'),
      linkKm: num(query.link, 8, 0, 100, t.link, 'link'),
      csrf: reply.generateCsrf(),
      basePath: level && code ? `/couverture/${level}/${encodeURIComponent(code)}` : '/couverture',
      apiTerritory,
      subAreas,
      computedAt: s.state.lastRunAt,
      places: s.state.places,
    };
  }

  const send = async (reply: FastifyReply, p: PageState) => reply.type(HTML).send(await renderPage(ctx, p));

  app.get('/couverture', { schema: hide }, async (req, reply) => send(reply, await state(req, reply, null, null, req.query as Record<string, unknown>)));
  app.get('/couverture/:level/:code', { schema: hide }, async (req, reply) => {
    const { level, code } = req.params as { level: string; code: string };
    return send(reply, await state(req, reply, level, code, req.query as Record<string, unknown>));
  });

  app.post('/couverture/:level/:code/plan', { schema: hide, preValidation: app.csrfProtection, config: { rateLimit: { max: 30, timeWindow: '1 minute' } } }, async (req, reply) => {
    const { level, code } = req.params as { level: string; code: string };
    const body = (req.body ?? {}) as Record<string, unknown>;
    const p = await state(req, reply, level, code, { service: body.service });
    try {
      const radiusKm = num(body.radiusKm, 10, 0.5, 100, t.radius, 'radiusKm');
      const k = Math.round(num(body.k, 10, 1, 100, t.k, 'k'));
      p.planForm = { radiusKm, k };
      p.plan = await plan(ctx.db, { territory: p.apiTerritory, radiusKm, k, criterion: p.criterion });
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      p.error = { message: e.message, field: e.field };
      reply.code(400);
    }
    return send(reply, p);
  });

  const whatIfHandler = async (req: FastifyRequest, reply: FastifyReply, level: string | null, code: string | null) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const p = await state(req, reply, level, code, { service: body.service });
    const closeText = typeof body.close === 'string' ? body.close.slice(0, 100_000) : '';
    const openText = typeof body.open === 'string' ? body.open.slice(0, 100_000) : '';
    p.whatIfForm = { close: closeText, open: openText };
    try {
      const close = closeText.split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean);
      const open = openText
        .split(/\r?\n/)
        .map((l) => l.trim())
        .map((l, i) => ({ l, i }))
        .filter((x) => x.l !== '')
        .map(({ l, i }) => {
          const m = /^(-?\d+(?:[.]\d+)?)\s*[,;\s]\s*(-?\d+(?:[.]\d+)?)$/.exec(l);
          const lat = m ? Number(m[1]) : NaN, lon = m ? Number(m[2]) : NaN;
          if (!m || Math.abs(lat) > 90 || Math.abs(lon) > 180) throw new UserError(t.badLine(i + 1), 400, 'open');
          return { lat, lon };
        });
      p.whatIf = await whatIf(ctx.db, { territory: p.apiTerritory, close, open, criterion: p.criterion });
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      p.error = { message: e.message, field: e.field };
      reply.code(400);
    }
    return send(reply, p);
  };
  const postOpts = { schema: hide, preValidation: app.csrfProtection, config: { rateLimit: { max: 30, timeWindow: '1 minute' } } };
  app.post('/couverture/et-si', postOpts, async (req, reply) => whatIfHandler(req, reply, null, null));
  app.post('/couverture/:level/:code/et-si', postOpts, async (req, reply) => {
    const { level, code } = req.params as { level: string; code: string };
    return whatIfHandler(req, reply, level, code);
  });
}

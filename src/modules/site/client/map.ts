/**
 * The interactive map (MapLibre GL JS, loaded only here). Results pages: every result as a point,
 * clustered; a cluster click zooms in; a point click opens a summary linking to the place page;
 * « Rechercher dans cette zone » reloads the results for the visible area. Place pages: one point.
 * The list next to the map always holds the same results: the map adds nothing a keyboard or
 * screen-reader user needs.
 */
import type * as MapLibreNs from 'maplibre-gl';

type MapLibre = typeof MapLibreNs;
type LngLatBoundsLike = [[number, number], [number, number]];

const FRANCE: LngLatBoundsLike = [
  [-5.3, 41.3],
  [9.7, 51.2],
];

const LOCALE: Record<string, string> = {
  'NavigationControl.ZoomIn': 'Zoomer',
  'NavigationControl.ZoomOut': 'Dézoomer',
  'NavigationControl.ResetBearing': 'Réorienter vers le nord',
  'FullscreenControl.Enter': 'Afficher en plein écran',
  'FullscreenControl.Exit': 'Quitter le plein écran',
  'AttributionControl.ToggleAttribution': 'Afficher les sources',
  'Popup.Close': 'Fermer',
  'Map.Title': 'Carte',
};

/** Where MapLibre's files are: `/site/maplibre/<hash>/` (set when the script is bundled). */
declare const __MAPLIBRE_BASE__: string;

let lib: Promise<MapLibre> | null = null;

function loadMapLibre(): Promise<MapLibre> {
  if (!lib) {
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = new URL(`${__MAPLIBRE_BASE__}maplibre-gl.css`, import.meta.url).href;
    document.head.append(css);
    const src = new URL(`${__MAPLIBRE_BASE__}maplibre-gl.mjs`, import.meta.url).href;
    lib = import(/* @vite-ignore */ src) as Promise<MapLibre>;
  }
  return lib;
}

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function labelCanvas(container: HTMLElement, label: string): void {
  const canvas = container.querySelector('canvas');
  if (canvas) canvas.setAttribute('aria-label', label);
  const region = container.querySelector('[role="region"]');
  if (region) region.setAttribute('aria-label', label);
}

type StyleInput = string | MapLibreNs.StyleSpecification;

/**
 * The configured basemap (Plan IGN by default) when it answers within 3 s, otherwise at once the
 * built-in one served by this site (offline, blocked, air-gapped).
 */
async function chooseStyle(container: HTMLElement): Promise<{ style: StyleInput; external: boolean }> {
  const primary = container.dataset.style!;
  const fallback = container.dataset.fallbackStyle ?? primary;
  if (primary === fallback) return { style: fallback, external: false };
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), 3000);
  try {
    const r = await fetch(primary, { signal: ctrl.signal, headers: { Accept: 'application/json' } });
    if (!r.ok) throw new Error(String(r.status));
    const style = (await r.json()) as MapLibreNs.StyleSpecification;
    if (!style || style.version !== 8 || !Array.isArray(style.layers)) throw new Error('style');
    return { style, external: true };
  } catch {
    return { style: fallback, external: false };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Creates the map; if the external basemap's tiles fail before any has loaded (or none has
 * loaded after 6 s), switches to the built-in basemap. `onStyle` runs after each style load
 * (the caller's own sources and layers are re-added there).
 */
async function createMap(ml: MapLibre, container: HTMLElement, options: Omit<MapLibreNs.MapOptions, 'container' | 'style'>, onStyle: (map: MapLibreNs.Map) => void): Promise<MapLibreNs.Map> {
  const { style, external } = await chooseStyle(container);
  const attribution = external && container.dataset.attribution ? { compact: true, customAttribution: container.dataset.attribution } : { compact: true };
  const map = new ml.Map({ container, style, locale: LOCALE, attributionControl: attribution, ...options });
  container.dataset.basemap = external ? 'external' : 'built-in';
  map.on('style.load', () => onStyle(map));
  if (external) {
    let tileLoaded = false;
    let switched = false;
    const fallBack = () => {
      if (tileLoaded || switched) return;
      switched = true;
      container.dataset.basemap = 'built-in';
      map.setStyle(container.dataset.fallbackStyle!);
    };
    map.on('data', (e: { dataType?: string; tile?: unknown; sourceId?: string }) => {
      if (e.dataType === 'source' && e.tile && e.sourceId !== 'places') tileLoaded = true;
    });
    map.on('error', fallBack);
    setTimeout(fallBack, 6000);
  }
  return map;
}

/**
 * Bounds holding the bulk of the points: the 2nd to 98th percentiles of longitude and latitude
 * once there are 50 points or more, so one overseas place does not zoom a mainland map out to
 * the whole world.
 */
export function pointsBounds(points: [string, number, number][]): LngLatBoundsLike | null {
  if (points.length === 0) return null;
  const lons = points.map((p) => p[1]).sort((a, b) => a - b);
  const lats = points.map((p) => p[2]).sort((a, b) => a - b);
  const trim = points.length >= 50 ? Math.floor(points.length * 0.02) : 0;
  const lo = trim;
  const hi = points.length - 1 - trim;
  return [
    [lons[lo]!, lats[lo]!],
    [lons[hi]!, lats[hi]!],
  ];
}

export function initMaps(containers: NodeListOf<HTMLElement>): void {
  for (const c of containers) {
    const kind = c.dataset.map;
    const run = kind === 'place' ? placeMap(c) : resultsMap(c);
    run.catch(() => {
      c.replaceChildren(el('p', { class: 'map-note' }, 'La carte n’a pas pu être affichée. La liste présente tous les lieux.'));
    });
  }
}

async function placeMap(container: HTMLElement): Promise<void> {
  const ml = await loadMapLibre();
  const lat = Number(container.dataset.lat);
  const lon = Number(container.dataset.lon);
  const map = await createMap(ml, container, { center: [lon, lat], zoom: 13 }, () => labelCanvas(container, `Carte : ${container.dataset.name ?? 'emplacement du lieu'}`));
  map.addControl(new ml.NavigationControl({ showCompass: false }));
  new ml.Marker({ color: cssVar('--color-secondary', '#b3470f') }).setLngLat([lon, lat]).addTo(map);
  container.dataset.ready = '1';
}

interface PointsResponse {
  count: number;
  /** [uid, longitude, latitude] */
  points: [string, number, number][];
}

interface Summary {
  nom: string;
  adresse: string;
  status: string | null;
  href: string;
}

function boundsAround(lon: number, lat: number, km: number): LngLatBoundsLike {
  const dLat = km / 111;
  const dLon = km / (111 * Math.cos((lat * Math.PI) / 180));
  return [
    [lon - dLon, lat - dLat],
    [lon + dLon, lat + dLat],
  ];
}

function toFeatures(points: [string, number, number][]) {
  return {
    type: 'FeatureCollection' as const,
    features: points.map(([uid, lon, lat]) => ({ type: 'Feature' as const, geometry: { type: 'Point' as const, coordinates: [lon, lat] }, properties: { uid } })),
  };
}

async function fetchPoints(url: string): Promise<PointsResponse> {
  const r = await fetch(url, { headers: { Accept: 'application/json' } });
  if (!r.ok) throw new Error(`points: ${r.status}`);
  return (await r.json()) as PointsResponse;
}

function initialBounds(container: HTMLElement, points: [string, number, number][]): LngLatBoundsLike {
  if (container.dataset.bbox) {
    const [w, s, e, n] = container.dataset.bbox.split(',').map(Number) as [number, number, number, number];
    return [
      [w, s],
      [e, n],
    ];
  }
  if (container.dataset.center) {
    const [lon, lat] = container.dataset.center.split(',').map(Number) as [number, number];
    return boundsAround(lon, lat, Number(container.dataset.radius ?? 10));
  }
  return pointsBounds(points) ?? FRANCE;
}

/** Highlights the list card of a place (and scrolls nothing): the map ↔ list link. */
function highlightCard(uid: string | null): void {
  for (const card of document.querySelectorAll('.place-card.is-highlighted')) card.classList.remove('is-highlighted');
  if (uid) document.querySelector(`.place-card[data-uid="${CSS.escape(uid)}"]`)?.classList.add('is-highlighted');
}

export interface ResultsMapHandle {
  /** Shows the points of another query (instant filters) and fits them. */
  refresh(pointsUrl: string, center?: { lon: number; lat: number; radiusKm: number } | null): Promise<void>;
}

async function resultsMap(container: HTMLElement): Promise<void> {
  let data: PointsResponse;
  const [ml, first] = await Promise.all([loadMapLibre(), fetchPoints(container.dataset.points!)]);
  data = first;
  const primary = cssVar('--color-primary', '#1f5f8b');
  const secondary = cssVar('--color-secondary', '#b3470f');
  const linkTarget = container.dataset.linkTarget;

  const labels = new Map<number, MapLibreNs.Marker>();
  let hovered: string | null = null;
  const addPlaces = (map: MapLibreNs.Map) => {
    labelCanvas(container, `Carte de ${data.count} lieux (la liste présente les mêmes lieux)`);
    if (map.getSource('places')) return;
    for (const m of labels.values()) m.remove();
    labels.clear();
    map.addSource('places', { type: 'geojson', data: toFeatures(data.points), cluster: true, clusterRadius: 50, clusterMaxZoom: 14, promoteId: 'uid' });
    map.addLayer({
      id: 'clusters',
      type: 'circle',
      source: 'places',
      filter: ['has', 'point_count'],
      paint: {
        'circle-color': primary,
        'circle-radius': ['step', ['get', 'point_count'], 15, 10, 18, 100, 22, 1000, 27, 5000, 32],
        'circle-stroke-width': 3,
        'circle-stroke-color': '#ffffff',
      },
    });
    map.addLayer({
      id: 'points',
      type: 'circle',
      source: 'places',
      filter: ['!', ['has', 'point_count']],
      paint: {
        'circle-color': ['case', ['boolean', ['feature-state', 'hl'], false], primary, secondary],
        'circle-radius': ['case', ['boolean', ['feature-state', 'hl'], false], 12, 8],
        'circle-stroke-width': ['case', ['boolean', ['feature-state', 'hl'], false], 4, 2],
        'circle-stroke-color': '#ffffff',
      },
    });
    container.dataset.ready = '1';
  };

  const map = await createMap(ml, container, { bounds: initialBounds(container, data.points), fitBoundsOptions: { padding: 30, maxZoom: 15 } }, addPlaces);
  map.addControl(new ml.NavigationControl({ showCompass: false }));

  // « Rechercher dans cette zone », offered once the visitor has moved the map.
  const toolbar = el('div', { class: 'map-toolbar' });
  const searchHere = el('button', { type: 'button', class: 'secondary', 'data-search-here': '' }, 'Rechercher dans cette zone');
  searchHere.hidden = true;
  toolbar.append(searchHere);
  container.after(toolbar);
  const live = el('p', { class: 'visually-hidden', role: 'status' });
  toolbar.append(live);
  map.on('moveend', (e: { originalEvent?: unknown }) => {
    if (e.originalEvent) searchHere.hidden = false;
  });
  searchHere.addEventListener('click', () => {
    const b = map.getBounds();
    const r = (x: number) => String(Math.round(x * 1e5) / 1e5);
    const keep = container.dataset.searchKeep ?? '';
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(r).join(',');
    window.location.assign(`${container.dataset.searchAction ?? '/recherche'}?${keep ? `${keep}&` : ''}bbox=${bbox}`);
  });

  // Cluster counts as HTML labels over the circles (no glyphs needed on any basemap).
  const updateLabels = () => {
    if (!map.getSource('places')) return;
    const seen = new Set<number>();
    for (const f of map.querySourceFeatures('places', { filter: ['has', 'point_count'] })) {
      const p = f.properties as { cluster_id: number; point_count: number };
      if (seen.has(p.cluster_id)) continue;
      seen.add(p.cluster_id);
      if (labels.has(p.cluster_id)) continue;
      const node = el('div', { class: 'cluster-label', 'aria-hidden': 'true', 'data-cluster': String(p.cluster_id) }, p.point_count >= 10000 ? `${Math.round(p.point_count / 1000)}k` : String(p.point_count));
      const coords = (f.geometry as unknown as { coordinates: [number, number] }).coordinates;
      labels.set(p.cluster_id, new ml.Marker({ element: node }).setLngLat(coords).addTo(map));
    }
    for (const [id, m] of labels) {
      if (!seen.has(id)) {
        m.remove();
        labels.delete(id);
      }
    }
  };
  map.on('sourcedata', (e) => {
    if (e.sourceId === 'places' && e.isSourceLoaded) updateLabels();
  });
  map.on('moveend', updateLabels);

  map.on('click', 'clusters', async (e) => {
    const f = e.features?.[0];
    if (!f) return;
    const source = map.getSource('places') as MapLibreNs.GeoJSONSource;
    const zoom = await source.getClusterExpansionZoom((f.properties as { cluster_id: number }).cluster_id);
    map.easeTo({ center: (f.geometry as unknown as { coordinates: [number, number] }).coordinates, zoom });
  });

  const popup = new ml.Popup({ closeButton: true, maxWidth: '20rem', focusAfterOpen: true });
  map.on('click', 'points', async (e) => {
    const f = e.features?.[0];
    if (!f) return;
    const uid = (f.properties as { uid: string }).uid;
    const coords = (f.geometry as unknown as { coordinates: [number, number] }).coordinates;
    const box = el('div', { class: 'map-summary', 'data-uid': uid });
    box.append(el('p', {}, 'Chargement…'));
    popup.setLngLat(coords).setDOMContent(box).addTo(map);
    try {
      const r = await fetch(`/carte/lieux/${encodeURIComponent(uid)}.json`, { headers: { Accept: 'application/json' } });
      if (!r.ok) throw new Error(String(r.status));
      const s = (await r.json()) as Summary;
      const link = el('a', { href: s.href }, 'Voir la fiche du lieu');
      if (linkTarget) {
        link.target = linkTarget;
        link.rel = 'noopener';
      }
      box.replaceChildren(el('h3', {}, s.nom), el('p', {}, s.adresse), ...(s.status ? [el('p', { class: 'status' }, s.status)] : []), el('p', {}, ''));
      box.lastElementChild!.append(link);
      live.textContent = `${s.nom} : ${s.adresse}`;
    } catch {
      box.replaceChildren(el('p', {}, 'Les informations de ce lieu n’ont pas pu être chargées.'));
    }
    highlightCard(uid);
  });
  for (const layer of ['clusters', 'points']) {
    map.on('mouseenter', layer, () => (map.getCanvas().style.cursor = 'pointer'));
    map.on('mouseleave', layer, () => (map.getCanvas().style.cursor = ''));
  }

  // Map ↔ list: hovering or focusing a card highlights its point; hovering a point, its card.
  const setHover = (uid: string | null) => {
    if (!map.getSource('places')) return;
    if (hovered) map.setFeatureState({ source: 'places', id: hovered }, { hl: false });
    hovered = uid;
    if (uid) map.setFeatureState({ source: 'places', id: uid }, { hl: true });
  };
  map.on('mousemove', 'points', (e) => {
    const uid = (e.features?.[0]?.properties as { uid?: string } | undefined)?.uid ?? null;
    highlightCard(uid);
    setHover(uid);
  });
  map.on('mouseleave', 'points', () => {
    highlightCard(null);
    setHover(null);
  });
  const list = document.querySelector('[data-results]') ?? document;
  const onCard = (e: Event) => {
    const card = (e.target as Element | null)?.closest?.('.place-card') as HTMLElement | null;
    setHover(card?.dataset.uid ?? null);
    if (card) highlightCard(card.dataset.uid ?? null);
  };
  list.addEventListener('mouseover', onCard);
  list.addEventListener('focusin', onCard);

  const handle: ResultsMapHandle = {
    async refresh(pointsUrl, center) {
      data = await fetchPoints(pointsUrl);
      container.dataset.points = pointsUrl;
      (map.getSource('places') as MapLibreNs.GeoJSONSource | undefined)?.setData(toFeatures(data.points));
      labelCanvas(container, `Carte de ${data.count} lieux (la liste présente les mêmes lieux)`);
      const b = center ? boundsAround(center.lon, center.lat, center.radiusKm) : pointsBounds(data.points);
      if (b) map.fitBounds(b, { padding: 30, maxZoom: 15, duration: 0 });
    },
  };
  // Exposed for the instant filters, browser tests and debugging.
  Object.assign(container, { maplibreMap: map, mapHandle: handle });
}

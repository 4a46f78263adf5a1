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

let lib: Promise<MapLibre> | null = null;

function loadMapLibre(): Promise<MapLibre> {
  if (!lib) {
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = new URL('../maplibre/maplibre-gl.css', import.meta.url).href;
    document.head.append(css);
    const src = new URL('../maplibre/maplibre-gl.mjs', import.meta.url).href;
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
  const map = new ml.Map({ container, style: container.dataset.style!, center: [lon, lat], zoom: 13, locale: LOCALE, attributionControl: { compact: true } });
  map.addControl(new ml.NavigationControl({ showCompass: false }));
  new ml.Marker({ color: cssVar('--color-secondary', '#b3470f') }).setLngLat([lon, lat]).addTo(map);
  map.once('load', () => labelCanvas(container, `Carte : ${container.dataset.name ?? 'emplacement du lieu'}`));
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

async function resultsMap(container: HTMLElement): Promise<void> {
  const [ml, data] = await Promise.all([
    loadMapLibre(),
    fetch(container.dataset.points!, { headers: { Accept: 'application/json' } }).then((r) => {
      if (!r.ok) throw new Error(`points: ${r.status}`);
      return r.json() as Promise<PointsResponse>;
    }),
  ]);
  const primary = cssVar('--color-primary', '#1f5f8b');
  const secondary = cssVar('--color-secondary', '#b3470f');
  const linkTarget = container.dataset.linkTarget;

  let bounds: LngLatBoundsLike = FRANCE;
  if (container.dataset.bbox) {
    const [w, s, e, n] = container.dataset.bbox.split(',').map(Number) as [number, number, number, number];
    bounds = [
      [w, s],
      [e, n],
    ];
  } else if (container.dataset.center) {
    const [lon, lat] = container.dataset.center.split(',').map(Number) as [number, number];
    bounds = boundsAround(lon, lat, Number(container.dataset.radius ?? 10));
  } else if (data.points.length > 0) {
    let w = 180, s = 90, e = -180, n = -90;
    for (const [, lon, lat] of data.points) {
      if (lon < w) w = lon;
      if (lon > e) e = lon;
      if (lat < s) s = lat;
      if (lat > n) n = lat;
    }
    bounds = [
      [w, s],
      [e, n],
    ];
  }

  const map = new ml.Map({
    container,
    style: container.dataset.style!,
    bounds,
    fitBoundsOptions: { padding: 30, maxZoom: 15 },
    locale: LOCALE,
    attributionControl: { compact: true },
  });
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

  map.on('load', () => {
    labelCanvas(container, `Carte de ${data.count} lieux (la liste présente les mêmes lieux)`);
    map.addSource('places', {
      type: 'geojson',
      data: {
        type: 'FeatureCollection',
        features: data.points.map(([uid, lon, lat]) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: [lon, lat] }, properties: { uid } })),
      },
      cluster: true,
      clusterRadius: 50,
      clusterMaxZoom: 14,
    });
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
      paint: { 'circle-color': secondary, 'circle-radius': 8, 'circle-stroke-width': 2, 'circle-stroke-color': '#ffffff' },
    });

    // Cluster counts as HTML labels over the circles: no glyph server needed.
    const labels = new Map<number, MapLibreNs.Marker>();
    const updateLabels = () => {
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
      for (const card of document.querySelectorAll('.place-card.is-highlighted')) card.classList.remove('is-highlighted');
      document.querySelector(`.place-card[data-uid="${CSS.escape(uid)}"]`)?.classList.add('is-highlighted');
    });
    for (const layer of ['clusters', 'points']) {
      map.on('mouseenter', layer, () => (map.getCanvas().style.cursor = 'pointer'));
      map.on('mouseleave', layer, () => (map.getCanvas().style.cursor = ''));
    }
    container.dataset.ready = '1';
  });
  // Exposed for browser tests and debugging.
  (container as HTMLElement & { maplibreMap?: unknown }).maplibreMap = map;
}

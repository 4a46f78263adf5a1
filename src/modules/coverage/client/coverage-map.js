// Coverage map: commune points sized by population and coloured by distance (viridis classes), a
// thick dark ring on white-zone communes, planner picks as black squares with their radius drawn
// as a dashed circle. Basemap: département / région outlines served by /couverture/geo/.
// Everything shown here is also in the page's tables.
import * as maplibregl from '/site/maplibre/maplibre-gl.mjs';

const dataEl = document.getElementById('coverage-map-data');
const container = document.getElementById('coverage-map');
if (dataEl && container) {
  const data = JSON.parse(dataEl.textContent || '{}');
  container.innerHTML = '';

  const colorExpr = ['case', ['==', ['get', 'km'], null], data.none];
  // step: value < first stop → first colour; ≥ stop i → colour i+1
  const stepExpr = ['step', ['get', 'km'], data.classes[0][1]];
  for (let i = 0; i < data.classes.length - 1; i++) stepExpr.push(data.classes[i][0] + 1e-9, data.classes[i + 1][1]);
  colorExpr.push(stepExpr);

  const toFeatures = (list) => ({
    type: 'FeatureCollection',
    features: list.map(([lon, lat, pop, km, name, code]) => ({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [lon, lat] },
      properties: { pop, km, name, code, white: km === null || km > data.thresholdKm ? 1 : 0 },
    })),
  });
  // Large territories: the points come from a cached endpoint instead of the page.
  const points = toFeatures(data.points);
  const circle = (lon, lat, km) => {
    const ring = [];
    const R = 6371.0088;
    for (let i = 0; i <= 64; i++) {
      const b = (i / 64) * 2 * Math.PI;
      const d = km / R;
      const la = (lat * Math.PI) / 180, lo = (lon * Math.PI) / 180;
      const la2 = Math.asin(Math.sin(la) * Math.cos(d) + Math.cos(la) * Math.sin(d) * Math.cos(b));
      const lo2 = lo + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(la), Math.cos(d) - Math.sin(la) * Math.sin(la2));
      ring.push([(lo2 * 180) / Math.PI, (la2 * 180) / Math.PI]);
    }
    return ring;
  };
  const picks = {
    type: 'FeatureCollection',
    features: data.picks.map(([lon, lat, name, rank]) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: [lon, lat] }, properties: { name, rank } })),
  };
  const radii = {
    type: 'FeatureCollection',
    features: data.radiusKm ? data.picks.map(([lon, lat]) => ({ type: 'Feature', geometry: { type: 'LineString', coordinates: circle(lon, lat, data.radiusKm) }, properties: {} })) : [],
  };

  const sources = {
    communes: { type: 'geojson', data: points },
    picks: { type: 'geojson', data: picks },
    radii: { type: 'geojson', data: radii },
  };
  const layers = [{ id: 'bg', type: 'background', paint: { 'background-color': '#eef2f5' } }];
  data.basemap.forEach((url, i) => {
    sources[`base${i}`] = { type: 'geojson', data: url };
    if (i === 0) layers.push({ id: `base${i}-fill`, type: 'fill', source: `base${i}`, paint: { 'fill-color': '#ffffff', 'fill-opacity': 0.9 } });
    layers.push({ id: `base${i}-line`, type: 'line', source: `base${i}`, paint: { 'line-color': '#6b7280', 'line-width': i === 0 ? 0.6 : 1.4 } });
  });
  layers.push(
    {
      id: 'communes',
      type: 'circle',
      source: 'communes',
      paint: {
        'circle-radius': ['interpolate', ['linear'], ['sqrt', ['get', 'pop']], 0, 1.5, 30, 3, 100, 7, 400, 14],
        'circle-color': colorExpr,
        'circle-opacity': 0.9,
        'circle-stroke-color': '#111111',
        'circle-stroke-width': ['case', ['==', ['get', 'white'], 1], 2, 0.6],
      },
    },
    { id: 'radii', type: 'line', source: 'radii', paint: { 'line-color': '#000000', 'line-width': 1.5, 'line-dasharray': [3, 2] } },
  );

  const map = new maplibregl.Map({ container, style: { version: 8, sources, layers }, attributionControl: { compact: true, customAttribution: 'Contours : IGN Admin Express (Licence Ouverte), simplifiés' } });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  map.on('load', async () => {
    // Picks: black squares (a rasterised image, no glyph server needed).
    const size = 14;
    const img = new Uint8Array(size * size * 4);
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const o = (y * size + x) * 4;
        const border = x < 2 || y < 2 || x >= size - 2 || y >= size - 2;
        img[o] = img[o + 1] = img[o + 2] = border ? 255 : 0;
        img[o + 3] = 255;
      }
    map.addImage('pick', { width: size, height: size, data: img });
    map.addLayer({ id: 'picks', type: 'symbol', source: 'picks', layout: { 'icon-image': 'pick', 'icon-allow-overlap': true } });
    if (data.pointsUrl) {
      container.setAttribute('aria-busy', 'true');
      try {
        const res = await fetch(data.pointsUrl, { headers: { accept: 'application/json' } });
        if (!res.ok) throw new Error(String(res.status));
        const list = await res.json();
        map.getSource('communes').setData(toFeatures(list));
        container.dataset.points = String(list.length);
      } catch {
        const note = document.createElement('p');
        note.className = 'map-note';
        note.textContent = 'Les points des communes n’ont pas pu être chargés : ils figurent dans l’export CSV des communes.';
        container.after(note);
      } finally {
        container.removeAttribute('aria-busy');
      }
    }
    container.dataset.ready = '1'; // for tests and for anyone scripting the page
  });
  container.maplibreMap = map;
  if (points.features.length) {
    let w = 180, s = 90, e = -180, n = -90;
    for (const f of points.features) {
      const [x, y] = f.geometry.coordinates;
      w = Math.min(w, x); e = Math.max(e, x); s = Math.min(s, y); n = Math.max(n, y);
    }
    // France as a whole: frame mainland France (overseas points remain reachable by panning).
    if (e - w > 40) { w = -5.2; e = 9.6; s = 41.3; n = 51.1; }
    map.fitBounds([[w, s], [e, n]], { padding: 24, duration: 0 });
  }
  const popup = new maplibregl.Popup({ closeButton: false, closeOnClick: false });
  map.on('mousemove', 'communes', (ev) => {
    const f = ev.features && ev.features[0];
    if (!f) return;
    const p = f.properties;
    map.getCanvas().style.cursor = 'pointer';
    const km = p.km === null || p.km === undefined || p.km === 'null' ? 'aucun lieu' : `${Number(p.km).toLocaleString('fr-FR', { maximumFractionDigits: 1 })} km`;
    const el = document.createElement('div');
    el.textContent = `${p.name} (${p.code}) — ${Number(p.pop).toLocaleString('fr-FR')} hab. — ${km}`;
    popup.setLngLat(f.geometry.coordinates).setDOMContent(el).addTo(map);
  });
  map.on('mouseleave', 'communes', () => {
    map.getCanvas().style.cursor = '';
    popup.remove();
  });
}

/**
 * The built-in basemap: when no tile server is configured (tests, air-gapped installations), the
 * map draws the simplified région and département outlines from the shared territory data. The
 * GeoJSON files are read from `<sharedDataDir>/territories/` and served, never copied.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

export const BASEMAP_FILES = {
  regions: 'regions-metropole-simplifie.geojson',
  departements: 'departements-metropole-simplifie.geojson',
} as const;

export type BasemapLayer = keyof typeof BASEMAP_FILES;

export interface BasemapFile {
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

const cache = new Map<string, BasemapFile | null>();

/** Reads (once) and returns one outline file, or null when the shared data is missing. */
export function basemapFile(sharedDataDir: string, layer: BasemapLayer): BasemapFile | null {
  const file = path.join(sharedDataDir, 'territories', BASEMAP_FILES[layer]);
  if (cache.has(file)) return cache.get(file)!;
  let entry: BasemapFile | null = null;
  if (fs.existsSync(file)) {
    const body = fs.readFileSync(file);
    const stat = fs.statSync(file);
    entry = { body, gzip: zlib.gzipSync(body, { level: 9 }), etag: `"${layer}-${stat.size}-${Math.round(stat.mtimeMs)}"` };
  }
  cache.set(file, entry);
  return entry;
}

/** The built-in MapLibre style (v8): sea, land, régions and départements; no glyphs, no tiles. */
export function builtInStyle(origin: string): object {
  return {
    version: 8,
    name: 'Maillage — fond de carte intégré',
    sources: {
      regions: { type: 'geojson', data: `${origin}/carte/fond/regions.geojson`, attribution: 'Contours : IGN Admin Express COG (Licence Ouverte)' },
      departements: { type: 'geojson', data: `${origin}/carte/fond/departements.geojson` },
    },
    layers: [
      { id: 'sea', type: 'background', paint: { 'background-color': '#d5e6f0' } },
      { id: 'regions-fill', type: 'fill', source: 'regions', paint: { 'fill-color': '#f7f6f2', 'fill-opacity': 1 } },
      { id: 'departements-line', type: 'line', source: 'departements', minzoom: 5, paint: { 'line-color': '#b9b6ad', 'line-width': 0.8 } },
      { id: 'regions-line', type: 'line', source: 'regions', paint: { 'line-color': '#7d7a72', 'line-width': 1.4 } },
    ],
  };
}

/**
 * The built-in basemap: when no tile server is configured (tests, air-gapped installations), the
 * map draws the région and département outlines of mainland France loaded by the territories
 * module (from the official sources, or the shared stand-in).
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import type { Queryable } from '../../platform/db/index.ts';
import { boundaryCollection } from '../territories/index.ts';

export const BASEMAP_LAYERS = { regions: 'region', departements: 'departement' } as const;

export type BasemapLayer = keyof typeof BASEMAP_LAYERS;

export interface BasemapFile {
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

const cache = new Map<BasemapLayer, { source: string; file: BasemapFile }>();

/** One outline layer, or null when the territories module has no boundaries loaded. */
export async function basemapFile(db: Queryable, layer: BasemapLayer): Promise<BasemapFile | null> {
  const source = await boundaryCollection(db, BASEMAP_LAYERS[layer], { metropole: true });
  if (source === null) return null;
  const hit = cache.get(layer);
  if (hit && hit.source === source) return hit.file;
  const body = Buffer.from(source);
  const etag = `"${layer}-${crypto.createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
  const file = { body, gzip: zlib.gzipSync(body, { level: 9 }), etag };
  cache.set(layer, { source, file });
  return file;
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

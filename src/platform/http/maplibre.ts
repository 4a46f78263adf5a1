/**
 * MapLibre GL JS, one copy for every map page (the public site's map, the coverage maps): its
 * distribution files served from node_modules under one content-hashed folder,
 * `/site/maplibre/<hash>/<file>`, cached by browsers for a year (`immutable`). A new MapLibre
 * version gives a new hash, hence new URLs; nothing else changes them. The site module serves the
 * route; pages and scripts get the URLs from `maplibreUrl`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface MapLibreFile {
  body: Buffer;
  gzip: Buffer;
  type: string;
  etag: string;
}

export const MAPLIBRE_FILES: Readonly<Record<string, string>> = {
  'maplibre-gl.mjs': 'text/javascript; charset=utf-8',
  'maplibre-gl-worker.mjs': 'text/javascript; charset=utf-8',
  'maplibre-gl.css': 'text/css; charset=utf-8',
};

/** Cache-Control of the hashed files. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';

let loaded: { hash: string; files: Map<string, MapLibreFile> } | null = null;

function load() {
  if (!loaded) {
    const dist = path.join(path.dirname(require.resolve('maplibre-gl/package.json')), 'dist');
    const all = crypto.createHash('sha256');
    const files = new Map<string, MapLibreFile>();
    for (const [name, type] of Object.entries(MAPLIBRE_FILES)) {
      const body = fs.readFileSync(path.join(dist, name));
      all.update(name).update('\n').update(body);
      files.set(name, { body, gzip: zlib.gzipSync(body, { level: 9 }), type, etag: `"${crypto.createHash('sha1').update(body).digest('base64url').slice(0, 20)}"` });
    }
    loaded = { hash: all.digest('hex').slice(0, 12), files };
  }
  return loaded;
}

/** The hash of MapLibre's files (the folder of their URLs). */
export function maplibreHash(): string {
  return load().hash;
}

/** `/site/maplibre/<hash>/` */
export function maplibreBase(): string {
  return `/site/maplibre/${maplibreHash()}/`;
}

/** The immutable URL of one of MapLibre's files. */
export function maplibreUrl(name: 'maplibre-gl.mjs' | 'maplibre-gl-worker.mjs' | 'maplibre-gl.css'): string {
  return `${maplibreBase()}${name}`;
}

/** A file by name (null for anything else, prototype names included). */
export function maplibreFile(name: string): MapLibreFile | null {
  if (!Object.hasOwn(MAPLIBRE_FILES, name)) return null;
  return load().files.get(name) ?? null;
}

/**
 * Browser scripts of the public site, bundled with esbuild in memory the first time they are asked
 * for (no build step before `npm start` or `npm test`), then served from memory with an ETag.
 * MapLibre GL JS is not bundled: its own ES module files are served from node_modules and loaded by
 * the map script only on pages that show a map.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
  etag: string;
}

/** Entry points (served as site.js and map.js): the list-page script and the map script. */
export const CLIENT_ENTRIES = {
  site: path.join(here, 'client', 'site.ts'),
  map: path.join(here, 'client', 'map.ts'),
} as const;

function asset(body: Buffer, type: string): Asset {
  return { body, gzip: zlib.gzipSync(body, { level: 9 }), type, etag: `"${crypto.createHash('sha1').update(body).digest('base64url').slice(0, 20)}"` };
}

let bundled: Promise<Map<string, Asset>> | null = null;

/** Bundles the client scripts (once per process). */
export function clientAssets(): Promise<Map<string, Asset>> {
  if (!bundled) {
    bundled = (async () => {
      const esbuild = await import('esbuild');
      const result = await esbuild.build({
        entryPoints: CLIENT_ENTRIES,
        bundle: true,
        format: 'esm',
        splitting: false,
        minify: true,
        sourcemap: false,
        target: ['es2020'],
        write: false,
        outdir: '/out',
        logLevel: 'silent',
        legalComments: 'none',
      });
      const out = new Map<string, Asset>();
      for (const f of result.outputFiles) out.set(path.basename(f.path), asset(Buffer.from(f.contents), 'text/javascript; charset=utf-8'));
      return out;
    })();
    bundled.catch(() => {
      bundled = null;
    });
  }
  return bundled;
}

const MAPLIBRE_FILES: Record<string, string> = {
  'maplibre-gl.mjs': 'text/javascript; charset=utf-8',
  'maplibre-gl-worker.mjs': 'text/javascript; charset=utf-8',
  'maplibre-gl.css': 'text/css; charset=utf-8',
};

const maplibreCache = new Map<string, Asset>();

/** One of MapLibre's distribution files (read and compressed once). */
export function maplibreAsset(name: string): Asset | null {
  if (!Object.hasOwn(MAPLIBRE_FILES, name)) return null; // `in` also finds constructor, toString…
  let a = maplibreCache.get(name);
  if (!a) {
    const dist = path.join(path.dirname(require.resolve('maplibre-gl/package.json')), 'dist');
    a = asset(fs.readFileSync(path.join(dist, name)), MAPLIBRE_FILES[name]!);
    maplibreCache.set(name, a);
  }
  return a;
}

/**
 * Browser scripts of the public site, bundled with esbuild in memory the first time they are asked
 * for (no build step before `npm start` or `npm test`), then served from memory with an ETag.
 * MapLibre GL JS is not bundled: its own ES module files are served from node_modules under one
 * content-hashed, immutable URL (src/platform/http/maplibre.ts), loaded by the map script only on
 * pages that show a map.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { maplibreBase } from '../../platform/http/maplibre.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

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
        define: { __MAPLIBRE_BASE__: JSON.stringify(maplibreBase()) },
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

export { maplibreFile as maplibreAsset } from '../../platform/http/maplibre.ts';

/**
 * The built-in basemap, drawn when the configured vector basemap (Plan IGN by default) cannot load
 * (offline, blocked, air-gapped): sea, land, région and département outlines, commune boundaries
 * and commune names, all from the reference geometry the territories module loaded, with a font served by this app.
 *
 * - Régions and départements: the boundaries loaded by the territories module, served as GeoJSON.
 * - Towns (population ≥ 20,000): one small GeoJSON of labels for the zooms where communes are not drawn.
 * - Communes: vector tiles cut on request from the commune boundaries file (the official download
 *   cached under DATA_DIR, or the shared stand-in; `communePolygonsFile`). The file is split
 *   once into one NDJSON file per département under `<dataDir>/fond-de-carte/` (streamed, never
 *   held whole in memory); a tile reads only the départements it touches (a few tile indexes kept
 *   in memory, least recently used dropped) and carries commune outlines and commune names.
 * - Text: Noto Sans from `@fontsource/noto-sans`, declared as the style's `font-faces` (MapLibre
 *   draws the glyphs in the browser): no glyph server, nothing fetched from elsewhere.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { GeoJSONVT, type GeoJSONVTFeature, type GeoJSONVTTile } from '@maplibre/geojson-vt';
import { fromGeojsonVt } from '@maplibre/vt-pbf';
import type { Queryable } from '../../platform/db/index.ts';
import { boundaryCollection } from '../territories/index.ts';

const require = createRequire(import.meta.url);

export const PLAN_IGN_ATTRIBUTION = 'Fond de carte : Plan IGN © IGN – Géoplateforme';
const GEOMETRY_ATTRIBUTION = 'Contours et noms : IGN Admin Express COG (Licence Ouverte)';

export const BASEMAP_LAYERS = { regions: 'region', departements: 'departement' } as const;

export type BasemapLayer = keyof typeof BASEMAP_LAYERS;

export interface BasemapFile {
  body: Buffer;
  gzip: Buffer;
  etag: string;
  type: string;
}

function file(body: Buffer, type: string): BasemapFile {
  return { body, gzip: zlib.gzipSync(body, { level: 9 }), etag: `"${crypto.createHash('sha1').update(body).digest('base64url').slice(0, 20)}"`, type };
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
  const entry = { ...file(body, 'application/geo+json'), etag };
  cache.set(layer, { source, file: entry });
  return entry;
}

/** A commune as the basemap needs it (from the territories module). */
export interface LabelPoint {
  code: string;
  name: string;
  departement: string;
  population: number;
  lat: number | null;
  lon: number | null;
}

/** Towns of at least `minPopulation` inhabitants as a GeoJSON of points (labels at low zooms). */
export function townsFile(points: LabelPoint[], minPopulation = 20000): BasemapFile {
  const features = points
    .filter((p) => p.population >= minPopulation && p.lat !== null && p.lon !== null)
    .sort((a, b) => b.population - a.population)
    .map((p) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: [p.lon, p.lat] }, properties: { nom: p.name, population: p.population } }));
  return file(Buffer.from(JSON.stringify({ type: 'FeatureCollection', features })), 'application/geo+json');
}

// ---------------------------------------------------------------------------------------------
// Fonts

const FONT_FILES: Record<string, string> = {
  'noto-sans-latin-400.woff2': '@fontsource/noto-sans/files/noto-sans-latin-400-normal.woff2',
  'noto-sans-latin-ext-400.woff2': '@fontsource/noto-sans/files/noto-sans-latin-ext-400-normal.woff2',
  'noto-sans-latin-700.woff2': '@fontsource/noto-sans/files/noto-sans-latin-700-normal.woff2',
  'noto-sans-latin-ext-700.woff2': '@fontsource/noto-sans/files/noto-sans-latin-ext-700-normal.woff2',
};
// From @fontsource/noto-sans's CSS (unicode-range of its latin and latin-ext subsets).
const LATIN = ['U+0000-00FF', 'U+0131', 'U+0152-0153', 'U+02BB-02BC', 'U+02C6', 'U+02DA', 'U+02DC', 'U+0304', 'U+0308', 'U+0329', 'U+2000-206F', 'U+20AC', 'U+2122', 'U+2191', 'U+2193', 'U+2212', 'U+2215', 'U+FEFF', 'U+FFFD'];
const LATIN_EXT = ['U+0100-02BA', 'U+02BD-02C5', 'U+02C7-02CC', 'U+02CE-02D7', 'U+02DD-02FF', 'U+1E00-1E9F', 'U+1EF2-1EFF', 'U+2020', 'U+20A0-20AB', 'U+20AD-20C0', 'U+2113', 'U+2C60-2C7F', 'U+A720-A7FF'];

const fontCache = new Map<string, BasemapFile | null>();

/** A font file of the built-in basemap (woff2), or null for an unknown name. */
export function fontFile(name: string): BasemapFile | null {
  if (!Object.hasOwn(FONT_FILES, name)) return null;
  if (!fontCache.has(name)) {
    let entry: BasemapFile | null = null;
    try {
      entry = file(fs.readFileSync(require.resolve(FONT_FILES[name]!)), 'font/woff2');
    } catch {
      entry = null;
    }
    fontCache.set(name, entry);
  }
  return fontCache.get(name)!;
}

// ---------------------------------------------------------------------------------------------
// Style

const TEXT = '#3b3a36';
const HALO = 'rgba(255,255,255,0.9)';

/** The built-in MapLibre style (v8). */
export function builtInStyle(origin: string): object {
  const face = (weight: number) => [
    { url: `${origin}/carte/polices/noto-sans-latin-${weight}.woff2`, 'unicode-range': LATIN },
    { url: `${origin}/carte/polices/noto-sans-latin-ext-${weight}.woff2`, 'unicode-range': LATIN_EXT },
  ];
  const label = (minzoom: number, maxzoom: number, filter: unknown[], size: unknown, font = 'Noto Sans Regular') => ({
    minzoom,
    maxzoom,
    filter,
    layout: {
      'text-field': ['get', 'nom'],
      'text-font': [font],
      'text-size': size,
      'text-max-width': 8,
      'symbol-sort-key': ['-', 0, ['get', 'population']],
      'text-padding': 4,
    },
    paint: { 'text-color': TEXT, 'text-halo-color': HALO, 'text-halo-width': 1.4 },
  });
  return {
    version: 8,
    name: 'Maillage — fond de carte intégré',
    'font-faces': { 'Noto Sans Regular': face(400), 'Noto Sans Bold': face(700) },
    sources: {
      regions: { type: 'geojson', data: `${origin}/carte/fond/regions.geojson`, attribution: GEOMETRY_ATTRIBUTION },
      departements: { type: 'geojson', data: `${origin}/carte/fond/departements.geojson` },
      villes: { type: 'geojson', data: `${origin}/carte/fond/villes.geojson` },
      communes: { type: 'vector', tiles: [`${origin}/carte/tuiles/communes/{z}/{x}/{y}.pbf`], minzoom: 7, maxzoom: 12 },
    },
    layers: [
      { id: 'mer', type: 'background', paint: { 'background-color': '#c9dfec' } },
      { id: 'regions-terre', type: 'fill', source: 'regions', paint: { 'fill-color': '#f6f4ee' } },
      { id: 'communes-terre', type: 'fill', source: 'communes', 'source-layer': 'communes', minzoom: 7, paint: { 'fill-color': '#f6f4ee' } },
      {
        id: 'communes-limites',
        type: 'line',
        source: 'communes',
        'source-layer': 'communes',
        minzoom: 9,
        paint: { 'line-color': '#cfc9bb', 'line-width': ['interpolate', ['linear'], ['zoom'], 9, 0.4, 13, 1.2] },
      },
      {
        id: 'departements-limites',
        type: 'line',
        source: 'departements',
        paint: { 'line-color': '#a29c8d', 'line-width': ['interpolate', ['linear'], ['zoom'], 4, 0.5, 9, 1.6], 'line-dasharray': [3, 1.5] },
      },
      { id: 'regions-limites', type: 'line', source: 'regions', paint: { 'line-color': '#7a7467', 'line-width': ['interpolate', ['linear'], ['zoom'], 4, 1, 9, 2.4] } },
      { id: 'villes-noms', type: 'symbol', source: 'villes', ...label(5, 9, ['>=', ['get', 'population'], 0], ['interpolate', ['linear'], ['zoom'], 5, 11, 9, 14], 'Noto Sans Bold') },
      {
        id: 'communes-noms-grandes',
        type: 'symbol',
        source: 'communes',
        'source-layer': 'noms',
        ...label(9, 24, ['>=', ['get', 'population'], 2000], ['interpolate', ['linear'], ['zoom'], 9, 12, 13, 15], 'Noto Sans Bold'),
      },
      {
        id: 'communes-noms',
        type: 'symbol',
        source: 'communes',
        'source-layer': 'noms',
        ...label(10.5, 24, ['<', ['get', 'population'], 2000], ['interpolate', ['linear'], ['zoom'], 10.5, 11, 13, 14]),
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Commune tiles

type BBox = [number, number, number, number];
type Geometry = { type: 'Polygon' | 'MultiPolygon'; coordinates: number[][][] | number[][][][] };

function departementOf(code: string): string {
  return code.startsWith('97') ? code.slice(0, 3) : code.slice(0, 2);
}

function bboxOf(g: Geometry, into: BBox): void {
  const polys = (g.type === 'Polygon' ? [g.coordinates] : g.coordinates) as number[][][][];
  for (const poly of polys)
    for (const ring of poly)
      for (const [x, y] of ring) {
        if (x! < into[0]) into[0] = x!;
        if (y! < into[1]) into[1] = y!;
        if (x! > into[2]) into[2] = x!;
        if (y! > into[3]) into[3] = y!;
      }
}

/** Tile z/x/y's bounds in degrees. */
export function tileBounds(z: number, x: number, y: number): BBox {
  const n = 2 ** z;
  const lon = (xx: number) => (xx / n) * 360 - 180;
  const lat = (yy: number) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * yy) / n))) * 180) / Math.PI;
  return [lon(x), lat(y + 1), lon(x + 1), lat(y)];
}

const SPLIT_VERSION = 1;

/**
 * Splits the commune polygons file into one NDJSON file per département (`[code, geometry]` per
 * line) and writes `index.json` (each département's bounding box) last, so an interrupted split is
 * redone. Streams the file: memory stays at one feature at a time.
 */
export async function splitCommunes(gzFile: string, outDir: string, from = gzFile): Promise<Record<string, BBox>> {
  const tmp = `${outDir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const outs = new Map<string, fs.WriteStream>();
  const boxes: Record<string, BBox> = {};
  const input = fs.createReadStream(gzFile).pipe(zlib.createGunzip());
  input.setEncoding('utf8');
  const MARK = '{"type":"Feature"';
  let buf = '';
  const emit = (text: string) => {
    const t = text.trim().replace(/,$/, '').replace(/\]\s*\}\s*$/, '');
    let f: { properties?: { code?: unknown }; geometry?: Geometry };
    try {
      f = JSON.parse(t);
    } catch {
      return;
    }
    const code = f.properties?.code;
    const g = f.geometry;
    if (typeof code !== 'string' || !/^[0-9][0-9AB][0-9]{3}$/.test(code) || !g || (g.type !== 'Polygon' && g.type !== 'MultiPolygon')) return;
    const dep = departementOf(code);
    let out = outs.get(dep);
    if (!out) {
      out = fs.createWriteStream(path.join(tmp, `${dep}.ndjson`));
      outs.set(dep, out);
      boxes[dep] = [180, 90, -180, -90];
    }
    bboxOf(g, boxes[dep]!);
    out.write(`${JSON.stringify([code, g])}\n`);
  };
  for await (const chunk of input as AsyncIterable<string>) {
    buf += chunk;
    let start = buf.indexOf(MARK);
    if (start < 0) continue;
    for (;;) {
      const next = buf.indexOf(MARK, start + MARK.length);
      if (next < 0) break;
      emit(buf.slice(start, next));
      start = next;
    }
    buf = buf.slice(start);
  }
  if (buf.includes(MARK)) emit(buf.slice(buf.indexOf(MARK)));
  await Promise.all([...outs.values()].map((o) => new Promise<void>((resolve, reject) => o.end((e?: Error | null) => (e ? reject(e) : resolve())))));
  fs.writeFileSync(path.join(tmp, 'index.json'), JSON.stringify({ version: SPLIT_VERSION, from, boxes }));
  fs.rmSync(outDir, { recursive: true, force: true });
  try {
    fs.renameSync(tmp, outDir);
  } catch (e) {
    // Another process (a parallel test, a second server on the same DATA_DIR) finished first.
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(path.join(outDir, 'index.json'))) throw e;
  }
  return boxes;
}

export interface CommuneTileOptions {
  /** The commune boundaries file (GeoJSON, gzip), or null when none is available. */
  source: () => string | null;
  dataDir: string;
  /** Every commune with its centre and population (for the names). */
  labels: () => Promise<LabelPoint[]>;
  /** Département indexes kept in memory. */
  keep?: number;
}

/** Vector tiles of commune outlines (`communes`) and names (`noms`), cut on request. */
export class CommuneTiles {
  private boxes: Promise<Record<string, BBox> | null> | null = null;
  private indexes = new Map<string, Promise<GeoJSONVT>>();
  private labelsByDep: Promise<Map<string, LabelPoint[]>> | null = null;
  private tiles = new Map<string, Buffer>();
  private readonly dir: string;

  constructor(private readonly o: CommuneTileOptions) {
    this.dir = path.join(o.dataDir, 'fond-de-carte', 'communes');
  }

  private loadBoxes(): Promise<Record<string, BBox> | null> {
    if (!this.boxes) {
      this.boxes = (async () => {
        const source = this.o.source();
        if (!source || !fs.existsSync(source)) return null;
        const stat = fs.statSync(source);
        const from = `${source}:${stat.size}:${Math.round(stat.mtimeMs)}`;
        const index = path.join(this.dir, 'index.json');
        if (fs.existsSync(index)) {
          const j = JSON.parse(fs.readFileSync(index, 'utf8')) as { version: number; from?: string; boxes: Record<string, BBox> };
          if (j.version === SPLIT_VERSION && j.from === from) return j.boxes;
        }
        return splitCommunes(source, this.dir, from);
      })();
      this.boxes.catch(() => (this.boxes = null));
    }
    return this.boxes;
  }

  private labels(): Promise<Map<string, LabelPoint[]>> {
    if (!this.labelsByDep) {
      this.labelsByDep = this.o.labels().then((all) => {
        const m = new Map<string, LabelPoint[]>();
        for (const p of all) {
          if (p.lat === null || p.lon === null) continue;
          const list = m.get(p.departement) ?? [];
          list.push(p);
          m.set(p.departement, list);
        }
        return m;
      });
      this.labelsByDep.catch(() => (this.labelsByDep = null));
    }
    return this.labelsByDep;
  }

  private index(dep: string): Promise<GeoJSONVT> {
    let idx = this.indexes.get(dep);
    if (idx) {
      this.indexes.delete(dep);
      this.indexes.set(dep, idx);
      return idx;
    }
    idx = (async () => {
      const features: object[] = [];
      const lines = readline.createInterface({ input: fs.createReadStream(path.join(this.dir, `${dep}.ndjson`)), crlfDelay: Infinity });
      for await (const line of lines) {
        if (!line) continue;
        const [code, geometry] = JSON.parse(line) as [string, Geometry];
        features.push({ type: 'Feature', geometry, properties: { code } });
      }
      for (const p of (await this.labels()).get(dep) ?? []) {
        features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: [p.lon, p.lat] }, properties: { nom: p.name, population: p.population } });
      }
      return new GeoJSONVT({ type: 'FeatureCollection', features } as unknown as ConstructorParameters<typeof GeoJSONVT>[0], { maxZoom: 12, indexMaxZoom: 5, tolerance: 3, extent: 4096, buffer: 64 });
    })();
    this.indexes.set(dep, idx);
    idx.catch(() => this.indexes.delete(dep));
    while (this.indexes.size > (this.o.keep ?? 12)) this.indexes.delete(this.indexes.keys().next().value!);
    return idx;
  }

  /** The tile's protobuf (possibly empty), or null when the commune geometry is not available. */
  async tile(z: number, x: number, y: number): Promise<Buffer | null> {
    const key = `${z}/${x}/${y}`;
    const hit = this.tiles.get(key);
    if (hit) return hit;
    const boxes = await this.loadBoxes();
    if (!boxes) return null;
    const [w, s, e, n] = tileBounds(z, x, y);
    const deps = Object.entries(boxes)
      .filter(([, b]) => b[0] <= e && b[2] >= w && b[1] <= n && b[3] >= s)
      .map(([d]) => d);
    const outlines: GeoJSONVTFeature[] = [];
    const names: GeoJSONVTFeature[] = [];
    for (const dep of deps) {
      const t = (await this.index(dep)).getTile(z, x, y);
      for (const f of t?.features ?? []) (f.type === 1 ? names : outlines).push(f);
    }
    const body = Buffer.from(
      fromGeojsonVt({ communes: { features: outlines } as unknown as GeoJSONVTTile, noms: { features: names } as unknown as GeoJSONVTTile }, { version: 2, extent: 4096 }),
    );
    this.tiles.set(key, body);
    if (this.tiles.size > 3000) this.tiles.delete(this.tiles.keys().next().value!);
    return body;
  }
}

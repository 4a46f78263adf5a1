/**
 * The reference geography from its official published sources: geo.api.gouv.fr's list of communes
 * (centre and population) and Etalab's administrative boundaries derived from IGN Admin Express
 * (communes, départements, régions), at the addresses of the configuration (or a mirror, or a
 * directory). Each file is downloaded to `<cacheDir>/<name>.<pid>.part`, checked (HTTP status, complete
 * length, gzip, JSON, configured SHA-256), parsed and verified against the COG (codes, counts,
 * geometry), and only then moved into the cache: a refused source leaves the cache and the
 * database as they were. The shared development files (`SHARED_DATA_DIR/territories/`) are read
 * by the same parsers.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import zlib from 'node:zlib';
import type { TerritorySources } from '../../platform/config.ts';
import type { Progress } from '../../platform/progress.ts';
import { geometryRings, GEO_SCALE, type RingRow } from './model.ts';

export const SOURCE_NAMES = ['centres', 'communes', 'departements', 'regions'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

export const LICENCE = 'Licence Ouverte / Open Licence 2.0 (Etalab)';

const PRODUCERS: Record<SourceName, string> = {
  centres: 'API Découpage administratif (geo.api.gouv.fr), INSEE COG and IGN Admin Express',
  communes: 'Etalab, contours administratifs derived from IGN Admin Express',
  departements: 'Etalab, contours administratifs derived from IGN Admin Express',
  regions: 'Etalab, contours administratifs derived from IGN Admin Express',
};

/** What was received from one source: recorded in territories.meta and shown by `territories status`. */
export interface SourceRecord {
  name: SourceName;
  url: string;
  licence: string;
  producer: string;
  /** When this copy was fetched (ISO date), and the server's Last-Modified when it gave one. */
  fetchedAt: string;
  lastModified: string | null;
  bytes: number;
  sha256: string;
  /** Features or communes accepted. */
  records: number;
}

export interface CentrePoint {
  lat: number;
  lon: number;
  method: string;
  population: number | null;
}

export interface BoundaryFeature {
  code: string;
  name: string;
  /** The GeoJSON geometry, serialised. */
  geometry: string;
}

export interface PolygonFeature {
  code: string;
  rings: RingRow[];
}

/** Everything the geometry sources gave, verified, ready to load in one transaction. */
export interface Geometry {
  /** 'official' (downloaded or from the cache), 'directory' (--from DIR), 'shared' (SHARED_DATA_DIR). */
  origin: 'official' | 'directory' | 'shared';
  label: string;
  centres: Map<string, CentrePoint>;
  polygons: PolygonFeature[];
  regions: BoundaryFeature[];
  departements: BoundaryFeature[];
  sources: SourceRecord[];
  /** Codes of the sources that match no COG code (ignored), by source. */
  unknownCodes: Record<string, string[]>;
}

/** The codes the COG package knows, to verify the sources against. */
export interface CogCodes {
  /** Current communes (metro, drom, com) and municipal arrondissements. */
  communes: Set<string>;
  /** Current communes of mainland France and the overseas départements (the ones every source must cover). */
  mainCommunes: Set<string>;
  /** Former codes → current commune. */
  former: Map<string, string>;
  departements: Set<string>;
  regions: Set<string>;
  /** Départements and régions of mainland France and the overseas départements. */
  mainDepartements: Set<string>;
  mainRegions: Set<string>;
}

export type ProgressFactory = (label: string, total?: number) => Progress;

/** A source refused: the message names the source, its address and what was wrong. */
export class SourceError extends Error {
  constructor(
    message: string,
    /** true when nothing answered (DNS, refused connection, timeout): the other sources are not tried. */
    readonly unreachable = false,
  ) {
    super(message);
  }
}

const LABELS: Record<SourceName, string> = {
  centres: 'Commune centres',
  communes: 'Commune boundaries',
  departements: 'Département boundaries',
  regions: 'Région boundaries',
};

// ---------------------------------------------------------------------------------------------
// Addresses

/** The address of one source: `{year}` replaced, the origin replaced by the mirror when one is set. */
export function sourceUrl(sources: TerritorySources, name: SourceName, year: string, mirror: string | null = sources.mirror): string {
  let url = sources[name].replaceAll('{year}', year);
  if (mirror) {
    let m: URL;
    try {
      m = new URL(mirror);
    } catch {
      throw new SourceError(`${JSON.stringify(mirror)} is not a valid address`);
    }
    const u = new URL(url);
    const base = m.pathname.replace(/\/$/, '');
    url = `${m.origin}${base}${u.pathname}${u.search}`;
  }
  return url;
}

/** No official file comes near this; a source sending more is refused (a full disk helps no one). */
export const MAX_BYTES = 512 * 1024 * 1024;

/** The cache file of a source: the last segment of its address (`communes-100m.geojson.gz`), `communes.json` for the centres. */
export function cacheName(sources: TerritorySources, name: SourceName): string {
  if (name === 'centres') return 'communes-centres.json';
  const last = new URL(sources[name].replaceAll('{year}', 'y')).pathname.split('/').pop() || `${name}.geojson`;
  return last.replace(/[^A-Za-z0-9._-]/g, '_');
}

// ---------------------------------------------------------------------------------------------
// Download

interface Downloaded {
  file: string;
  url: string;
  lastModified: string | null;
  bytes: number;
  sha256: string;
}

function describeNetworkError(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message ?? 'fetch failed'} (${cause})` : (e.message ?? String(err));
}

/** One GET with node:http(s), following up to five redirects; the answer is handed over unread. */
function get(url: string, signal: AbortSignal, redirects = 5): Promise<{ res: http.IncomingMessage; url: string }> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new Error(`invalid address ${url}`));
      return;
    }
    const lib = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : null;
    if (!lib) {
      reject(new Error(`unsupported protocol ${target.protocol}`));
      return;
    }
    const req = lib.get(target, { signal, headers: { 'accept-encoding': 'gzip', 'user-agent': 'Maillage (territories load)' } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects === 0) {
          reject(new Error(`too many redirects from ${url}`));
          return;
        }
        get(new URL(res.headers.location, target).href, signal, redirects - 1).then(resolve, reject);
        return;
      }
      resolve({ res, url: target.href });
    });
    req.on('error', reject);
  });
}

/**
 * Downloads one address to `dest`, refusing a non-200 answer, a body shorter than its
 * Content-Length, and silence longer than the timeout. Shows progress in bytes.
 *
 * node:http rather than fetch: Node 24's bundled undici throws an uncatchable assertion when a
 * server closes the connection while the body is paused under backpressure (nodejs/undici#5360),
 * which a large download written to disk does.
 */
export async function download(url: string, dest: string, opts: { timeoutMs: number; progress: ProgressFactory; label: string }): Promise<Downloaded> {
  const controller = new AbortController();
  let timedOut = false;
  let timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, opts.timeoutMs);
  const rearm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, opts.timeoutMs);
  };
  let answer: { res: http.IncomingMessage; url: string } | undefined;
  // One retry on a connection reset (a kept-alive connection the server had just closed).
  for (let attempt = 1; !answer; attempt++) {
    try {
      answer = await get(url, controller.signal);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt === 1 && code === 'ECONNRESET' && !timedOut) continue;
      clearTimeout(timer);
      throw new SourceError(`${opts.label}: ${url} cannot be reached: ${timedOut ? `no answer within ${opts.timeoutMs / 1000} s` : describeNetworkError(err)}`, true);
    }
  }
  const { res } = answer;
  if (res.statusCode !== 200) {
    clearTimeout(timer);
    res.resume();
    throw new SourceError(`${opts.label}: ${url} answered HTTP ${res.statusCode}${res.statusMessage ? ` ${res.statusMessage}` : ''}`);
  }
  const encoding = String(res.headers['content-encoding'] ?? '').trim().toLowerCase();
  const declared = Number(res.headers['content-length'] ?? NaN);
  const announced = Number.isFinite(declared) ? declared : undefined;
  // With Content-Encoding the length counts compressed bytes: checked on the wire, shown as is.
  const bar = opts.progress(`${opts.label} (download)`, encoding ? undefined : announced);
  const hash = crypto.createHash('sha256');
  const out = fs.openSync(dest, 'w');
  let bytes = 0;
  let wire = 0; // bytes received on the wire (compressed when encoded)
  if (encoding) {
    // Piping reads in flowing mode, so a 'data' listener sees every byte without taking any.
    res.on('data', (c: Buffer) => {
      wire += c.length;
    });
  }
  let body: AsyncIterable<Buffer> = res;
  if (encoding === 'gzip' || encoding === 'x-gzip') body = res.pipe(zlib.createGunzip());
  else if (encoding === 'br') body = res.pipe(zlib.createBrotliDecompress());
  else if (encoding === 'deflate') body = res.pipe(zlib.createInflate());
  else if (encoding && encoding !== 'identity') {
    clearTimeout(timer);
    res.destroy();
    fs.closeSync(out);
    throw new SourceError(`${opts.label}: ${url} sent an unknown Content-Encoding "${encoding}"`);
  }
  const cut = (err: unknown) =>
    new SourceError(
      `${opts.label}: the download from ${url} was cut short after ${wire} bytes${announced !== undefined ? ` of ${announced}` : ''}: ${timedOut ? `no data for ${opts.timeoutMs / 1000} s` : describeNetworkError(err)}`,
    );
  let aborted: Error | null = null;
  res.on('aborted', () => (aborted = new Error('the server closed the connection')));
  res.on('error', (err) => (aborted = err));
  try {
    try {
      for await (const chunk of body) {
        if (bytes + chunk.length > MAX_BYTES) {
          controller.abort();
          res.destroy();
          throw new SourceError(`${opts.label}: ${url} sends more than ${MAX_BYTES / 1024 / 1024} MB: refused`);
        }
        rearm();
        fs.writeSync(out, chunk);
        hash.update(chunk);
        bytes += chunk.length;
        if (!encoding) wire = bytes;
        bar.tick(chunk.length);
      }
    } catch (err) {
      if (err instanceof SourceError) throw err;
      throw cut(err);
    }
    if (aborted || !res.complete) throw cut(aborted ?? new Error('the connection ended before the end of the body'));
  } finally {
    clearTimeout(timer);
    fs.closeSync(out);
  }
  if (announced !== undefined && wire !== announced) {
    throw new SourceError(`${opts.label}: the download from ${url} is truncated: received ${wire} bytes of the ${announced} announced`);
  }
  bar.done(`${(bytes / 1e6).toFixed(1)} MB`);
  const lastModified = res.headers['last-modified'];
  return { file: dest, url, lastModified: typeof lastModified === 'string' ? lastModified : null, bytes, sha256: hash.digest('hex') };
}

/** A download cut short (the connection dropped mid-body) is tried once more before it is refused. */
async function downloadWithRetry(url: string, dest: string, opts: { timeoutMs: number; progress: ProgressFactory; label: string }): Promise<Downloaded> {
  try {
    return await download(url, dest, opts);
  } catch (err) {
    if (!(err instanceof SourceError) || !/was cut short|is truncated/.test(err.message)) throw err;
    return download(url, dest, opts);
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing and verification (the same for downloads, a directory and the shared files)

function readMaybeGzip(file: string, label: string): string {
  const buf = fs.readFileSync(file);
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      return zlib.gunzipSync(buf, { maxOutputLength: 2 * MAX_BYTES }).toString('utf8');
    } catch (err) {
      throw new SourceError(`${label}: ${path.basename(file)} is not a complete gzip file (${(err as Error).message}): truncated or corrupt`);
    }
  }
  return buf.toString('utf8');
}

function parseJson(text: string, label: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SourceError(`${label}: ${path.basename(file)} is not valid JSON (${(err as Error).message}): truncated or corrupt`);
  }
}

const CODE = /^(\d{5}|2[AB]\d{3})$/;

function inRange(rows: RingRow[]): boolean {
  for (const r of rows) {
    const [x1, y1, x2, y2] = r.bbox;
    if (x1 < -180 * GEO_SCALE || x2 > 180 * GEO_SCALE || y1 < -90 * GEO_SCALE || y2 > 90 * GEO_SCALE) return false;
  }
  return true;
}

/** Checks that at least `share` of the codes that must be covered are. */
function requireCoverage(label: string, got: Set<string>, must: Set<string>, share: number, what: string) {
  let n = 0;
  for (const c of must) if (got.has(c)) n++;
  if (n < must.size * share) {
    throw new SourceError(`${label}: only ${n} of the ${must.size} ${what} of the COG are present (at least ${Math.ceil(must.size * share)} expected): incomplete data`);
  }
}

/** geo.api.gouv.fr's `/communes` answer: [{code, nom, centre: {type: 'Point', coordinates: [lon, lat]}, population}]. */
export function parseApiCentres(text: string, file: string, cog: CogCodes): { centres: Map<string, CentrePoint>; unknown: string[] } {
  const label = 'Commune centres';
  const data = parseJson(text, label, file);
  if (!Array.isArray(data)) throw new SourceError(`${label}: ${path.basename(file)} is not a JSON array of communes`);
  const centres = new Map<string, CentrePoint>();
  const unknown: string[] = [];
  data.forEach((item: unknown, i) => {
    const c = item as { code?: unknown; centre?: { type?: unknown; coordinates?: unknown }; population?: unknown };
    if (!c || typeof c !== 'object' || typeof c.code !== 'string' || !CODE.test(c.code)) {
      throw new SourceError(`${label}: item ${i + 1} of ${path.basename(file)} has no valid INSEE code`);
    }
    if (!c.centre) return; // a commune the API has no point for: listed as a gap
    const coords = c.centre.coordinates;
    if (c.centre.type !== 'Point' || !Array.isArray(coords) || coords.length < 2) {
      throw new SourceError(`${label}: commune ${c.code} (item ${i + 1}): centre is not a GeoJSON Point`);
    }
    const [lon, lat] = coords as number[];
    if (typeof lon !== 'number' || typeof lat !== 'number' || !(lon >= -180 && lon <= 180) || !(lat >= -90 && lat <= 90)) {
      throw new SourceError(`${label}: commune ${c.code} (item ${i + 1}): invalid coordinates ${JSON.stringify(coords)}`);
    }
    const code = cog.communes.has(c.code) ? c.code : cog.former.get(c.code);
    if (!code) {
      unknown.push(c.code);
      return;
    }
    if (code !== c.code && centres.has(code)) return; // a former code never overrides the current one
    const population = typeof c.population === 'number' && Number.isInteger(c.population) && c.population >= 0 ? c.population : null;
    centres.set(code, { lat, lon, method: 'api-geo', population: code === c.code ? population : null });
  });
  requireCoverage(label, new Set(centres.keys()), cog.mainCommunes, 0.95, 'communes of mainland France and the overseas départements');
  if (unknown.length > cog.communes.size * 0.02) {
    throw new SourceError(`${label}: ${unknown.length} codes match no commune of the COG (e.g. ${unknown.slice(0, 5).join(', ')}): not the expected data`);
  }
  return { centres, unknown };
}

/** The shared stand-in's `communes-centres.csv` (`code_insee,latitude,longitude,methode`); a bad line names itself. */
export function parseCentres(text: string, file = 'communes-centres.csv'): Map<string, { lat: number; lon: number; method: string }> {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = lines[0]?.trim();
  if (header !== 'code_insee,latitude,longitude,methode') {
    throw new SourceError(`${file}: line 1: expected the header "code_insee,latitude,longitude,methode", got "${header ?? ''}"`);
  }
  const out = new Map<string, { lat: number; lon: number; method: string }>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    const [code, lat, lon, method] = line.split(',');
    const la = Number(lat);
    const lo = Number(lon);
    if (!code || !CODE.test(code)) throw new SourceError(`${file}: line ${i + 1}: invalid code_insee "${code ?? ''}"`);
    if (!Number.isFinite(la) || la < -90 || la > 90) throw new SourceError(`${file}: line ${i + 1}: invalid latitude "${lat ?? ''}"`);
    if (!Number.isFinite(lo) || lo < -180 || lo > 180) throw new SourceError(`${file}: line ${i + 1}: invalid longitude "${lon ?? ''}"`);
    out.set(code, { lat: la, lon: lo, method: method || 'inconnue' });
  }
  return out;
}

interface RawFeature {
  properties?: { code?: unknown; nom?: unknown };
  geometry?: { type: string; coordinates: unknown } | null;
}

function features(text: string, label: string, file: string): RawFeature[] {
  const geo = parseJson(text, label, file) as { type?: string; features?: unknown };
  if (!geo || geo.type !== 'FeatureCollection' || !Array.isArray(geo.features)) {
    throw new SourceError(`${label}: ${path.basename(file)} is not a GeoJSON FeatureCollection`);
  }
  return geo.features as RawFeature[];
}

function featureRings(label: string, f: RawFeature, i: number, code: string): RingRow[] {
  if (!f.geometry) throw new SourceError(`${label}: feature ${i + 1} (code ${code}) has no geometry`);
  let rings: RingRow[];
  try {
    rings = geometryRings(f.geometry);
  } catch (err) {
    throw new SourceError(`${label}: feature ${i + 1} (code ${code}): invalid geometry: ${(err as Error).message}`);
  }
  if (rings.length === 0) throw new SourceError(`${label}: feature ${i + 1} (code ${code}): the geometry has no ring of 4 positions or more`);
  if (!inRange(rings)) throw new SourceError(`${label}: feature ${i + 1} (code ${code}): coordinates outside longitude/latitude bounds (not WGS84?)`);
  return rings;
}

/** Commune polygons (properties `code`, `nom`): a code of an older year maps to the commune it merged into. */
export function parseCommunePolygons(text: string, file: string, cog: CogCodes): { polygons: PolygonFeature[]; unknown: string[] } {
  const label = 'Commune boundaries';
  const polygons: PolygonFeature[] = [];
  const unknown: string[] = [];
  const covered = new Set<string>();
  features(text, label, file).forEach((f, i) => {
    const code = f.properties?.code;
    if (typeof code !== 'string' || !CODE.test(code)) throw new SourceError(`${label}: feature ${i + 1} of ${path.basename(file)} has no valid code`);
    const rings = featureRings(label, f, i, code);
    const target = cog.communes.has(code) ? code : cog.former.get(code);
    if (!target) {
      unknown.push(code);
      return;
    }
    covered.add(target);
    polygons.push({ code: target, rings });
  });
  requireCoverage(label, covered, cog.mainCommunes, 0.95, 'communes of mainland France and the overseas départements');
  if (unknown.length > cog.communes.size * 0.02) {
    throw new SourceError(`${label}: ${unknown.length} codes match no commune of the COG (e.g. ${unknown.slice(0, 5).join(', ')}): not the expected data`);
  }
  return { polygons, unknown };
}

/** Département or région boundaries (properties `code`, `nom`), codes checked against the COG. */
export function parseBoundaries(text: string, file: string, level: 'departement' | 'region', cog: CogCodes): BoundaryFeature[] {
  const label = level === 'region' ? 'Région boundaries' : 'Département boundaries';
  const known = level === 'region' ? cog.regions : cog.departements;
  const out: BoundaryFeature[] = [];
  const seen = new Set<string>();
  features(text, label, file).forEach((f, i) => {
    const code = f.properties?.code;
    if (typeof code !== 'string' || !known.has(code)) {
      throw new SourceError(`${label}: feature ${i + 1} of ${path.basename(file)}: code ${JSON.stringify(code ?? null)} is not a ${level} of the COG`);
    }
    if (seen.has(code)) throw new SourceError(`${label}: feature ${i + 1}: code ${code} appears twice`);
    seen.add(code);
    featureRings(label, f, i, code);
    out.push({ code, name: typeof f.properties?.nom === 'string' ? f.properties.nom : code, geometry: JSON.stringify(f.geometry) });
  });
  const must = level === 'region' ? cog.mainRegions : cog.mainDepartements;
  // Mainland France at least (the shared stand-in has the régions of mainland France only).
  const metro = new Set([...must].filter((c) => !c.startsWith('97') && (level === 'departement' || Number(c) > 10)));
  requireCoverage(label, seen, metro, 1, `${level === 'region' ? 'régions' : 'départements'} of mainland France`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading a set of files

function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function checkChecksum(sources: TerritorySources, name: SourceName, actual: string, where: string) {
  const expected = sources.sha256[name];
  if (expected && expected !== actual) {
    throw new SourceError(`${name}: checksum mismatch for ${where}: expected SHA-256 ${expected}, got ${actual}`);
  }
}

/** Parses and verifies the four official files found at `files` (by source name). */
function parseOfficial(files: Record<SourceName, string>, cog: CogCodes, progress: ProgressFactory) {
  // Smallest first: a refused file is found as early as possible.
  const bar = progress('Verifying the geometry', 4);
  const regions = parseBoundaries(readMaybeGzip(files.regions, 'Région boundaries'), files.regions, 'region', cog);
  bar.tick();
  const departements = parseBoundaries(readMaybeGzip(files.departements, 'Département boundaries'), files.departements, 'departement', cog);
  bar.tick();
  const centres = parseApiCentres(readMaybeGzip(files.centres, 'Commune centres'), files.centres, cog);
  bar.tick();
  const polygons = parseCommunePolygons(readMaybeGzip(files.communes, 'Commune boundaries'), files.communes, cog);
  bar.tick();
  bar.done(`${centres.centres.size} centres, ${polygons.polygons.length} commune polygons, ${departements.length} départements, ${regions.length} régions`);
  return { centres, polygons, departements, regions };
}

function officialGeometry(
  origin: Geometry['origin'],
  label: string,
  parsed: ReturnType<typeof parseOfficial>,
  records: Omit<SourceRecord, 'records'>[],
): Geometry {
  const count: Record<SourceName, number> = {
    centres: parsed.centres.centres.size,
    communes: parsed.polygons.polygons.length,
    departements: parsed.departements.length,
    regions: parsed.regions.length,
  };
  return {
    origin,
    label,
    centres: parsed.centres.centres,
    polygons: parsed.polygons.polygons,
    departements: parsed.departements,
    regions: parsed.regions,
    sources: records.map((r) => ({ ...r, records: count[r.name] })),
    unknownCodes: { centres: parsed.centres.unknown, communes: parsed.polygons.unknown },
  };
}

interface Manifest {
  year: string;
  sources: Omit<SourceRecord, 'records'>[];
}

/**
 * Downloads the four official sources (or takes them from the cache when it holds a complete
 * verified set for the same addresses, unless `force`), verifies them and returns them.
 * Throws a SourceError naming the source and the reason; the cache is then left as it was.
 */
export async function fetchOfficial(
  sources: TerritorySources,
  opts: { cacheDir: string; year: string; mirror?: string | null; force?: boolean; cacheOnly?: boolean; cog: CogCodes; progress: ProgressFactory },
): Promise<Geometry> {
  const mirror = opts.mirror === undefined ? sources.mirror : opts.mirror;
  const urls = Object.fromEntries(SOURCE_NAMES.map((n) => [n, sourceUrl(sources, n, opts.year, mirror)])) as Record<SourceName, string>;
  const finals = Object.fromEntries(SOURCE_NAMES.map((n) => [n, path.join(opts.cacheDir, cacheName(sources, n))])) as Record<SourceName, string>;
  const manifestFile = path.join(opts.cacheDir, 'sources.json');
  fs.mkdirSync(opts.cacheDir, { recursive: true });

  if ((!opts.force || opts.cacheOnly) && fs.existsSync(manifestFile)) {
    try {
      const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Manifest;
      const same = SOURCE_NAMES.every((n) => {
        const rec = manifest.sources.find((r) => r.name === n);
        const sameUrl = opts.cacheOnly || rec?.url === urls[n] || rec?.url === urls[n].replace(`/${opts.year}/`, '/latest/');
        return rec && sameUrl && fs.existsSync(finals[n]) && sha256File(finals[n]) === rec.sha256;
      });
      if (same) {
        for (const r of manifest.sources) checkChecksum(sources, r.name, r.sha256, finals[r.name]);
        return officialGeometry('official', `official sources (cached ${manifest.sources[0]?.fetchedAt.slice(0, 10) ?? ''})`, parseOfficial(finals, opts.cog, opts.progress), manifest.sources);
      }
    } catch (err) {
      if (err instanceof SourceError) throw err;
      // An unreadable manifest: download again.
    }
  }

  if (opts.cacheOnly) throw new SourceError(`no complete copy of the official sources in ${opts.cacheDir}`);
  const parts = Object.fromEntries(SOURCE_NAMES.map((n) => [n, `${finals[n]}.${process.pid}.part`])) as Record<SourceName, string>;
  const records: Omit<SourceRecord, 'records'>[] = [];
  try {
    for (const name of SOURCE_NAMES) {
      const label = LABELS[name];
      let got: Downloaded;
      try {
        got = await downloadWithRetry(urls[name], parts[name], { timeoutMs: sources.timeoutMs, progress: opts.progress, label });
      } catch (err) {
        // A year not published (yet): the same file under `latest`.
        const latest = urls[name].replace(`/${opts.year}/`, '/latest/');
        if (!(err instanceof SourceError) || !/HTTP 404/.test(err.message) || latest === urls[name]) throw err;
        got = await downloadWithRetry(latest, parts[name], { timeoutMs: sources.timeoutMs, progress: opts.progress, label });
      }
      checkChecksum(sources, name, got.sha256, got.url);
      records.push({ name, url: got.url, licence: LICENCE, producer: PRODUCERS[name], fetchedAt: new Date().toISOString(), lastModified: got.lastModified, bytes: got.bytes, sha256: got.sha256 });
    }
    const parsed = parseOfficial(parts, opts.cog, opts.progress);
    for (const name of SOURCE_NAMES) fs.renameSync(parts[name], finals[name]);
    const tmp = `${manifestFile}.${process.pid}.part`;
    fs.writeFileSync(tmp, JSON.stringify({ year: opts.year, sources: records } satisfies Manifest, null, 2));
    fs.renameSync(tmp, manifestFile);
    return officialGeometry('official', 'official sources', parsed, records);
  } finally {
    for (const p of Object.values(parts)) fs.rmSync(p, { force: true });
  }
}

/** The files of a directory: the official names (as in the cache), or the shared stand-in's layout. */
export function readDirectory(dir: string, sources: TerritorySources, cog: CogCodes, progress: ProgressFactory, origin: Geometry['origin'] = 'directory'): Geometry | null {
  const shared = [path.join(dir, 'territories'), dir].find((d) => fs.existsSync(path.join(d, 'communes-centres.csv')));
  if (shared) return readShared(shared, cog, progress, origin);
  const files = Object.fromEntries(SOURCE_NAMES.map((n) => [n, path.join(dir, cacheName(sources, n))])) as Record<SourceName, string>;
  const missing = SOURCE_NAMES.filter((n) => !fs.existsSync(files[n]));
  if (missing.length === SOURCE_NAMES.length) return null;
  if (missing.length) throw new SourceError(`${dir}: missing ${missing.map((n) => cacheName(sources, n)).join(', ')}`);
  const records = SOURCE_NAMES.map((name) => {
    const sha256 = sha256File(files[name]);
    checkChecksum(sources, name, sha256, files[name]);
    return {
      name,
      url: `file://${path.resolve(files[name])}`,
      licence: LICENCE,
      producer: PRODUCERS[name],
      fetchedAt: fs.statSync(files[name]).mtime.toISOString(),
      lastModified: null,
      bytes: fs.statSync(files[name]).size,
      sha256,
    };
  });
  return officialGeometry(origin, `files of ${dir}`, parseOfficial(files, cog, progress), records);
}

const SHARED = {
  centres: 'communes-centres.csv',
  communes: 'communes-2018.geojson.gz',
  departements: 'departements-avec-outre-mer.geojson',
  regions: 'regions-metropole-simplifie.geojson',
} as const;

/** The shared development stand-in (`SHARED_DATA_DIR/territories/`): IGN Admin Express COG 2018, simplified. */
export function readShared(dir: string, cog: CogCodes, progress: ProgressFactory, origin: Geometry['origin'] = 'shared'): Geometry | null {
  const files = Object.fromEntries(Object.entries(SHARED).map(([n, f]) => [n, path.join(dir, f)])) as Record<SourceName, string>;
  if (!fs.existsSync(files.centres) && !fs.existsSync(files.communes)) return null;
  const bar = progress('Reading the shared geometry', 4);
  const centres = new Map<string, CentrePoint>();
  if (fs.existsSync(files.centres)) {
    for (const [code, c] of parseCentres(fs.readFileSync(files.centres, 'utf8'), files.centres)) {
      const target = cog.communes.has(code) ? code : cog.former.get(code);
      if (target === code) centres.set(code, { ...c, population: null });
    }
  }
  bar.tick();
  const polygons = fs.existsSync(files.communes) ? parseCommunePolygons(readMaybeGzip(files.communes, 'Commune boundaries'), files.communes, cog) : { polygons: [], unknown: [] };
  bar.tick();
  const departements = fs.existsSync(files.departements) ? parseBoundaries(fs.readFileSync(files.departements, 'utf8'), files.departements, 'departement', cog) : [];
  bar.tick();
  const regions = fs.existsSync(files.regions) ? parseBoundaries(fs.readFileSync(files.regions, 'utf8'), files.regions, 'region', cog) : [];
  bar.done(`${centres.size} centres, ${polygons.polygons.length} commune polygons, ${departements.length} départements, ${regions.length} régions`);
  const records: SourceRecord[] = (Object.keys(SHARED) as SourceName[])
    .filter((n) => fs.existsSync(files[n]))
    .map((name) => ({
      name,
      url: `file://${path.resolve(files[name])}`,
      licence: LICENCE,
      producer: 'IGN Admin Express COG 2018, simplified (gregoiredavid/france-geojson 5d34ee6): the development stand-in',
      fetchedAt: fs.statSync(files[name]).mtime.toISOString(),
      lastModified: null,
      bytes: fs.statSync(files[name]).size,
      sha256: sha256File(files[name]),
      records: name === 'centres' ? centres.size : name === 'communes' ? polygons.polygons.length : name === 'departements' ? departements.length : regions.length,
    }));
  return {
    origin,
    label: `shared files of ${dir} (IGN Admin Express COG 2018, simplified)`,
    centres,
    polygons: polygons.polygons,
    departements,
    regions,
    sources: records,
    unknownCodes: { communes: polygons.unknown },
  };
}

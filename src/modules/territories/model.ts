/**
 * Territories: types and pure rules (no I/O): territory references, search-text parsing, GeoJSON
 * rings in PostgreSQL's polygon syntax, the COG year of a package version.
 */
import { own } from '../../platform/own.ts';

export interface Commune {
  code: string;
  name: string;
  kind: 'commune' | 'arrondissement';
  departement: string;
  region: string;
  epci: string | null;
  population: number;
  postalCodes: string[];
  lat: number | null;
  lon: number | null;
  /** How the centre was obtained: 'centroide', 'point-interieur', 'moyenne-communes-deleguees',
   * 'commune-parente' (an arrondissement given its commune's centre), or null when unknown. */
  centreMethod: string | null;
  /** The commune of a municipal arrondissement; null for a commune. */
  parent: string | null;
}

export type TerritoryLevel = 'region' | 'departement' | 'epci' | 'commune';

export interface Territory {
  level: TerritoryLevel;
  code: string;
  name: string;
  population: number;
  /** From the widest (région) to the narrowest. */
  parents: { level: TerritoryLevel; code: string; name: string }[];
  communeCount: number;
}

export const LEVELS: readonly TerritoryLevel[] = ['region', 'departement', 'epci', 'commune'];

/** Code shapes: commune 5 characters (Corsica 2A/2B), département 2–3, région 2–3 (COM 975…), EPCI 9 digits. */
export const CODE_PATTERNS: Record<TerritoryLevel, RegExp> = {
  region: /^\d{2,3}$/,
  departement: /^(\d{2}|2[AB]|\d{3})$/,
  epci: /^\d{9}$/,
  commune: /^(\d{5}|2[AB]\d{3})$/,
};

export const LEVEL_LABELS: Record<TerritoryLevel, string> = {
  region: 'région',
  departement: 'département',
  epci: 'EPCI',
  commune: 'commune',
};

/** Upper-cases Corsican codes and trims: ' 2a004 ' → '2A004'. */
export function normaliseCode(code: string): string {
  return code.trim().toUpperCase();
}

/**
 * Parses 'region:84', 'departement:2A', 'epci:200000172', 'commune:75056', or a bare code resolved by
 * its shape (5 characters → commune, 9 digits → EPCI, 2–3 characters → département). Returns null
 * when the reference cannot be a territory.
 */
export function parseTerritoryRef(ref: string): { level: TerritoryLevel; code: string } | null {
  if (typeof ref !== 'string') return null;
  const trimmed = ref.trim();
  const colon = trimmed.indexOf(':');
  if (colon >= 0) {
    const level = trimmed.slice(0, colon).trim().toLowerCase() as TerritoryLevel;
    const code = normaliseCode(trimmed.slice(colon + 1));
    if (!LEVELS.includes(level)) return null;
    return CODE_PATTERNS[level].test(code) ? { level, code } : null;
  }
  const code = normaliseCode(trimmed);
  if (CODE_PATTERNS.commune.test(code)) return { level: 'commune', code };
  if (CODE_PATTERNS.epci.test(code)) return { level: 'epci', code };
  if (CODE_PATTERNS.departement.test(code)) return { level: 'departement', code };
  return null;
}

/** Lower-case, accent-free, punctuation → single spaces: the JavaScript twin of platform.fold(). */
export function fold(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/œ/g, 'oe')
    .replace(/æ/g, 'ae')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** Abbreviations a user types for words of commune names. */
const ABBREVIATIONS: Record<string, string> = { st: 'saint', ste: 'sainte', sts: 'saints', stes: 'saintes' };

export interface SearchQuery {
  /** A 5-character code found in the text: a postal code or an INSEE code. */
  code: string | null;
  /** Each word must start a word of the name; alternatives are OR-ed ("st" → "st" or "saint"). */
  words: string[][];
  /** The folded text without spaces, for names typed without hyphens ("lhaylesroses"). */
  compact: string;
  /** The folded text, for exact-match ranking. */
  folded: string;
}

/** Splits a search text into a code and name words: "75011 Paris", "st etienne", "Évreux". */
export function parseSearch(text: string): SearchQuery {
  const raw = text.trim();
  let code: string | null = null;
  const rest: string[] = [];
  for (const token of raw.split(/[\s,;]+/)) {
    if (!token) continue;
    const up = token.toUpperCase();
    if (code === null && /^(\d{5}|2[AB]\d{3})$/.test(up)) code = up;
    else rest.push(token);
  }
  const folded = fold(rest.join(' '));
  const tokens = folded ? folded.split(' ') : [];
  const words = tokens.map((t) => {
    const a = own(ABBREVIATIONS, t);
    return a ? [t, a] : [t];
  });
  const expanded = tokens.map((t) => own(ABBREVIATIONS, t) ?? t).join(' ');
  return { code, words, compact: expanded.replace(/ /g, ''), folded: expanded };
}

/** Escapes LIKE wildcards (folded text has none, but stay safe). */
export function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => '\\' + c);
}

/** The COG year of an @etalab/decoupage-administratif release: 1.x = 2021 … 6.x = 2026 (its README). */
export function cogYearOfPackageVersion(version: string): number {
  const m = /^(\d+)\./.exec(version);
  if (!m) throw new Error(`Unrecognised @etalab/decoupage-administratif version "${version}"`);
  const major = Number(m[1]);
  if (major < 1) throw new Error(`@etalab/decoupage-administratif ${version} predates the supported releases (1.0 = COG 2021)`);
  return 2020 + major;
}

type Position = number[];
type Ring = Position[];

/** Stored geometry is in units of 1/10,000 degree (the source's precision): integers load fast. */
export const GEO_SCALE = 10_000;

export interface RingRow {
  part: number;
  ringNo: number;
  /** PostgreSQL polygon literal ((x1,y1),(x2,y2),…), x = longitude × 10⁴, y = latitude × 10⁴, integers. */
  text: string;
  /** Bounding box of the ring, same units. */
  bbox: [xmin: number, ymin: number, xmax: number, ymax: number];
  /** Area of the part (outer ring minus holes) in square degrees, the same on every ring of a part. */
  area: number;
}

function ringArea(ring: Ring): number {
  let sum = 0;
  for (let i = 0, n = ring.length; i < n; i++) {
    const a = ring[i]!;
    const b = ring[(i + 1) % n]!;
    sum += a[0]! * b[1]! - b[0]! * a[1]!;
  }
  return Math.abs(sum) / 2;
}

function ringText(ring: Ring): { text: string; bbox: RingRow['bbox'] } {
  // GeoJSON repeats the first position at the end; PostgreSQL polygons close implicitly.
  const n = ring.length > 1 && ring[0]![0] === ring[ring.length - 1]![0] && ring[0]![1] === ring[ring.length - 1]![1] ? ring.length - 1 : ring.length;
  const parts: string[] = new Array(n);
  let xmin = Infinity;
  let ymin = Infinity;
  let xmax = -Infinity;
  let ymax = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = Math.round(ring[i]![0]! * GEO_SCALE);
    const y = Math.round(ring[i]![1]! * GEO_SCALE);
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new Error(`invalid position at index ${i}`);
    if (x < xmin) xmin = x;
    if (x > xmax) xmax = x;
    if (y < ymin) ymin = y;
    if (y > ymax) ymax = y;
    parts[i] = `(${x},${y})`;
  }
  return { text: `(${parts.join(',')})`, bbox: [xmin, ymin, xmax, ymax] };
}

/**
 * A GeoJSON Polygon or MultiPolygon geometry → rows: one per ring; ring 0 of each part is the outer
 * ring, the others are holes. Rings with fewer than 3 distinct positions are dropped.
 */
export function geometryRings(geometry: { type: string; coordinates: unknown }): RingRow[] {
  let polygons: Ring[][];
  if (geometry.type === 'Polygon') polygons = [geometry.coordinates as Ring[]];
  else if (geometry.type === 'MultiPolygon') polygons = geometry.coordinates as Ring[][];
  else throw new Error(`unsupported geometry type "${geometry.type}" (Polygon or MultiPolygon expected)`);
  const rows: RingRow[] = [];
  polygons.forEach((rings, part) => {
    const valid = rings.filter((r) => Array.isArray(r) && r.length >= 4);
    if (valid.length === 0) return;
    const area = Math.max(0, ringArea(valid[0]!) - valid.slice(1).reduce((s, r) => s + ringArea(r), 0));
    valid.forEach((ring, ringNo) => rows.push({ part, ringNo, ...ringText(ring), area }));
  });
  return rows;
}

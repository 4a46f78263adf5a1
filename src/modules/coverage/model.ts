/**
 * Coverage analytics: types and pure rules, no I/O.
 * - great-circle distances (haversine) and a static 3-D k-d tree over places for nearest-place and
 *   within-radius queries;
 * - per-commune measures, aggregates for any grouping of communes, white zones, the greedy
 *   maximum-coverage planner and "what if" comparisons.
 * Every distance is the great-circle distance on a sphere of radius EARTH_RADIUS_KM.
 */

import type { PlacePoint } from '../places/index.ts';
import type { CommunePoint } from '../territories/index.ts';

/** Mean Earth radius (IUGG), km. */
export const EARTH_RADIUS_KM = 6371.0088;

/** The radii (km) for which places are counted and population shares are given. */
export const RADII = [5, 10, 20] as const;
export const MAX_RADIUS_KM = 20;

const DEG = Math.PI / 180;

/** Great-circle distance in km between two WGS84 points (haversine formula). */
export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const dLat = (lat2 - lat1) * DEG;
  const dLon = (lon2 - lon1) * DEG;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * DEG) * Math.cos(lat2 * DEG) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

/**
 * Points on the unit sphere: the straight-line (chord) distance c between two of them gives the
 * great-circle distance d = 2R·asin(c/2) — the same value as the haversine formula, but comparing
 * squared chords needs no trigonometry, which is what makes the k-d tree fast.
 */
function unit(lat: number, lon: number, out: Float64Array, i: number) {
  const la = lat * DEG;
  const lo = lon * DEG;
  const c = Math.cos(la);
  out[3 * i] = c * Math.cos(lo);
  out[3 * i + 1] = c * Math.sin(lo);
  out[3 * i + 2] = Math.sin(la);
}

/** Squared chord (unit sphere) of a great-circle distance in km. */
export function chord2OfKm(km: number): number {
  if (km >= Math.PI * EARTH_RADIUS_KM) return 4;
  const c = 2 * Math.sin(km / (2 * EARTH_RADIUS_KM));
  return c * c;
}

/** Great-circle distance in km of a squared chord. */
export function kmOfChord2(c2: number): number {
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(c2) / 2));
}

/** Points per leaf, at most (16: fewer nodes to visit than 8, ~5 % faster measures at 20,000 places). */
const LEAF = 16;

/**
 * A static k-d tree over points of the sphere (3-D unit vectors). Exact nearest neighbour and
 * within-radius counts in great-circle distance; builds in O(n log n). Nodes live in typed arrays
 * allocated once; queries allocate nothing.
 */
export class PointIndex {
  readonly size: number;
  /** Original index of the point stored at each position. */
  private readonly ids: Int32Array;
  private readonly xyz: Float64Array;
  /** Keys deciding between points at exactly the same distance (the smaller wins); by index without. */
  private readonly keys: readonly string[] | null;
  // Nodes: range [lo, hi) of positions, children (-1 for a leaf), bounding box.
  private lo: Int32Array;
  private hi: Int32Array;
  private left: Int32Array;
  private right: Int32Array;
  private box: Float64Array;
  private nodes = 0;
  private readonly stack: Int32Array = new Int32Array(256);
  private readonly stackMask: Int32Array = new Int32Array(256);
  private readonly stackDist: Float64Array = new Float64Array(256);
  private readonly q = new Float64Array(3);
  /** Squared chord of the last nearestXyz result. */
  lastChord2 = Infinity;
  /** Position in the tree of the last nearestXyz result (-1 when empty): a hint for the next query. */
  lastPos = -1;
  /** Original index of the last nearestXyz result (-1 when empty). */
  lastIndex = -1;

  /**
   * Points by latitude and longitude (degrees), or already as unit vectors (`xyz`, 3 numbers per
   * point, taken over by the index; lats and lons are then ignored).
   */
  constructor(lats: ArrayLike<number>, lons: ArrayLike<number>, keys?: readonly string[], xyz?: Float64Array) {
    if (!xyz) {
      xyz = new Float64Array(3 * lats.length);
      for (let i = 0; i < lats.length; i++) unit(lats[i]!, lons[i]!, xyz, i);
    }
    const n = xyz.length / 3;
    this.size = n;
    this.keys = keys ?? null;
    this.ids = new Int32Array(n);
    for (let i = 0; i < n; i++) this.ids[i] = i;
    this.xyz = xyz;
    // Leaves hold at least LEAF / 2 points (a node is split in halves when it holds more than
    // LEAF), except in trees of fewer than LEAF points: at most 2n / LEAF + 1 leaves, twice as many nodes.
    const cap = 2 * (Math.ceil((2 * n) / LEAF) + 1) + 2;
    this.lo = new Int32Array(cap);
    this.hi = new Int32Array(cap);
    this.left = new Int32Array(cap);
    this.right = new Int32Array(cap);
    this.box = new Float64Array(6 * cap);
    if (n > 0) this.build(0, n);
  }

  private swap(a: number, b: number) {
    const ids = this.ids;
    const t = ids[a]!;
    ids[a] = ids[b]!;
    ids[b] = t;
    const p = this.xyz;
    for (let k = 0; k < 3; k++) {
      const u = p[3 * a + k]!;
      p[3 * a + k] = p[3 * b + k]!;
      p[3 * b + k] = u;
    }
  }

  /** Quickselect (Hoare): positions lo..hi-1 partitioned around the k-th smallest on the axis. */
  private select(lo: number, hi: number, k: number, axis: number) {
    const p = this.xyz;
    let l = lo;
    let r = hi - 1;
    while (r > l) {
      const pivot = p[3 * ((l + r) >> 1) + axis]!;
      let i = l;
      let j = r;
      while (i <= j) {
        while (p[3 * i + axis]! < pivot) i++;
        while (p[3 * j + axis]! > pivot) j--;
        if (i <= j) {
          this.swap(i, j);
          i++;
          j--;
        }
      }
      if (k <= j) r = j;
      else if (k >= i) l = i;
      else return;
    }
  }

  private build(lo: number, hi: number): number {
    const id = this.nodes++;
    this.lo[id] = lo;
    this.hi[id] = hi;
    this.left[id] = -1;
    this.right[id] = -1;
    const p = this.xyz;
    let x0 = Infinity, y0 = Infinity, z0 = Infinity, x1 = -Infinity, y1 = -Infinity, z1 = -Infinity;
    for (let i = lo; i < hi; i++) {
      const x = p[3 * i]!, y = p[3 * i + 1]!, z = p[3 * i + 2]!;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      if (z < z0) z0 = z;
      if (z > z1) z1 = z;
    }
    const b = this.box;
    const o = 6 * id;
    b[o] = x0;
    b[o + 1] = y0;
    b[o + 2] = z0;
    b[o + 3] = x1;
    b[o + 4] = y1;
    b[o + 5] = z1;
    if (hi - lo <= LEAF) return id;
    const dx = x1 - x0, dy = y1 - y0, dz = z1 - z0;
    if (Math.max(dx, dy, dz) === 0) return id; // all points identical: one leaf
    const axis = dx >= dy && dx >= dz ? 0 : dy >= dz ? 1 : 2;
    const mid = (lo + hi) >> 1;
    this.select(lo, hi, mid, axis);
    const l = this.build(lo, mid);
    const r = this.build(mid, hi);
    this.left[id] = l;
    this.right[id] = r;
    return id;
  }

  private boxDist2(node: number, x: number, y: number, z: number): number {
    const b = this.box;
    const o = 6 * node;
    let d = 0;
    let t = b[o]! - x;
    if (t > 0) d += t * t;
    else if ((t = x - b[o + 3]!) > 0) d += t * t;
    t = b[o + 1]! - y;
    if (t > 0) d += t * t;
    else if ((t = y - b[o + 4]!) > 0) d += t * t;
    t = b[o + 2]! - z;
    if (t > 0) d += t * t;
    else if ((t = z - b[o + 5]!) > 0) d += t * t;
    return d;
  }

  private boxFar2(node: number, x: number, y: number, z: number): number {
    const b = this.box;
    const o = 6 * node;
    const ax = Math.max(Math.abs(x - b[o]!), Math.abs(x - b[o + 3]!));
    const ay = Math.max(Math.abs(y - b[o + 1]!), Math.abs(y - b[o + 4]!));
    const az = Math.max(Math.abs(z - b[o + 2]!), Math.abs(z - b[o + 5]!));
    return ax * ax + ay * ay + az * az;
  }

  /** Whether the point at position i wins a tie against the point at position j. */
  private before(i: number, j: number): boolean {
    const a = this.ids[i]!, b = this.ids[j]!;
    return this.keys ? this.keys[a]! < this.keys[b]! || (this.keys[a] === this.keys[b] && a < b) : a < b;
  }

  /**
   * The nearest point to a unit vector: its original index (-1 when empty; on ties the smallest
   * key, or index without keys); its squared chord in `lastChord2` and its position in the tree in
   * `lastPos`. `hint`, a position in the tree (e.g. `lastPos` of a nearby query), only speeds the
   * search up: that point's distance bounds it from the start (the result is the same).
   */
  nearestXyz(x: number, y: number, z: number, hint = -1): number {
    this.lastChord2 = Infinity;
    this.lastPos = -1;
    this.lastIndex = -1;
    if (this.size === 0) return -1;
    const p = this.xyz;
    let best = Infinity;
    let bestPos = -1;
    if (hint >= 0 && hint < this.size) {
      const dx = p[3 * hint]! - x, dy = p[3 * hint + 1]! - y, dz = p[3 * hint + 2]! - z;
      best = dx * dx + dy * dy + dz * dz;
      bestPos = hint;
    }
    const stack = this.stack;
    const dist = this.stackDist;
    let sp = 0;
    stack[sp] = 0;
    dist[sp++] = this.boxDist2(0, x, y, z);
    while (sp > 0) {
      --sp;
      // A node is skipped when its box is farther than the best point so far: every point in it is
      // then strictly farther, so neither a nearer point nor a tie is lost.
      if (dist[sp]! > best) continue;
      const node = stack[sp]!;
      const l = this.left[node]!;
      if (l < 0) {
        for (let i = this.lo[node]!, h = this.hi[node]!; i < h; i++) {
          const dx = p[3 * i]! - x, dy = p[3 * i + 1]! - y, dz = p[3 * i + 2]! - z;
          const d = dx * dx + dy * dy + dz * dz;
          if (d < best || (d === best && i !== bestPos && this.before(i, bestPos))) {
            best = d;
            bestPos = i;
          }
        }
        continue;
      }
      const r = this.right[node]!;
      // Push the farther child first so that the nearer one is explored first.
      const dl = this.boxDist2(l, x, y, z);
      const dr = this.boxDist2(r, x, y, z);
      const leftNearer = dl <= dr;
      const far = leftNearer ? r : l;
      const farDist = leftNearer ? dr : dl;
      const near = leftNearer ? l : r;
      const nearDist = leftNearer ? dl : dr;
      if (farDist <= best) {
        stack[sp] = far;
        dist[sp++] = farDist;
      }
      if (nearDist <= best) {
        stack[sp] = near;
        dist[sp++] = nearDist;
      }
    }
    this.lastChord2 = best;
    this.lastPos = bestPos;
    return (this.lastIndex = this.ids[bestPos]!);
  }

  /** The nearest point (its original index; see nearestXyz on ties) and its distance; null when empty. */
  nearest(lat: number, lon: number): { index: number; km: number } | null {
    if (this.size === 0) return null;
    const q = this.q;
    unit(lat, lon, q, 0);
    const index = this.nearestXyz(q[0]!, q[1]!, q[2]!);
    return { index, km: kmOfChord2(this.lastChord2) };
  }

  /** How many points lie within each radius (km) of the point. */
  countWithin(lat: number, lon: number, radii: readonly number[]): number[] {
    if (this.size === 0) return radii.map(() => 0);
    const q = this.q;
    unit(lat, lon, q, 0);
    const limits = Float64Array.from(radii, chord2OfKm);
    const out = new Int32Array(radii.length);
    this.countXyz(q[0]!, q[1]!, q[2]!, limits, out);
    return Array.from(out);
  }

  /**
   * Counts the points within each squared chord of `limits` (at most 30) of a unit vector, into
   * `out`, in one traversal: a node is opened only for the limits it straddles.
   */
  countXyz(x: number, y: number, z: number, limits: Float64Array, out: Int32Array): void {
    const k = limits.length;
    out.fill(0);
    if (this.size === 0 || k === 0) return;
    const p = this.xyz;
    const stack = this.stack;
    const masks = this.stackMask;
    let sp = 0;
    stack[sp] = 0;
    masks[sp++] = (1 << k) - 1;
    while (sp > 0) {
      --sp;
      const node = stack[sp]!;
      let mask = masks[sp]!;
      const near = this.boxDist2(node, x, y, z);
      const far = this.boxFar2(node, x, y, z);
      const size = this.hi[node]! - this.lo[node]!;
      for (let j = 0; j < k; j++) {
        if ((mask & (1 << j)) === 0) continue;
        const lim = limits[j]!;
        if (near > lim) mask &= ~(1 << j);
        else if (far <= lim) {
          out[j] += size;
          mask &= ~(1 << j);
        }
      }
      if (mask === 0) continue;
      const l = this.left[node]!;
      if (l < 0) {
        for (let i = this.lo[node]!, h = this.hi[node]!; i < h; i++) {
          const dx = p[3 * i]! - x, dy = p[3 * i + 1]! - y, dz = p[3 * i + 2]! - z;
          const d = dx * dx + dy * dy + dz * dz;
          for (let j = 0; j < k; j++) if ((mask & (1 << j)) !== 0 && d <= limits[j]!) out[j]++;
        }
        continue;
      }
      stack[sp] = l;
      masks[sp++] = mask;
      stack[sp] = this.right[node]!;
      masks[sp++] = mask;
    }
  }

  /** Original indices of the points within km (great-circle) of the point, unordered. */
  within(lat: number, lon: number, km: number): number[] {
    const out: number[] = [];
    if (this.size === 0) return out;
    const q = this.q;
    unit(lat, lon, q, 0);
    const x = q[0]!, y = q[1]!, z = q[2]!;
    const limit = chord2OfKm(km);
    const p = this.xyz;
    const stack = this.stack;
    let sp = 0;
    stack[sp++] = 0;
    while (sp > 0) {
      const node = stack[--sp]!;
      if (this.boxDist2(node, x, y, z) > limit) continue;
      const l = this.left[node]!;
      if (l < 0 || this.boxFar2(node, x, y, z) <= limit) {
        for (let i = this.lo[node]!, h = this.hi[node]!; i < h; i++) {
          const dx = p[3 * i]! - x, dy = p[3 * i + 1]! - y, dz = p[3 * i + 2]! - z;
          if (dx * dx + dy * dy + dz * dz <= limit) out.push(this.ids[i]!);
        }
        continue;
      }
      stack[sp++] = l;
      stack[sp++] = this.right[node]!;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs and measures

/** A commune as the measures read it (the territories module's lean listing). */
export type CoverageCommune = CommunePoint;

/** A place as the measures see it: the places module's point (services arrays may be shared
 *  between places, never modified; the commune is the current one, arrondissements mapped). */
export type CoveragePlace = PlacePoint;

export interface Nearest {
  km: number;
  uid: string;
}

export interface CommuneMeasure extends CoverageCommune {
  /** Nearest place of any kind; null when the commune has no centre or there is no place at all. */
  nearest: Nearest | null;
  /** Nearest place offering each service, in the order of the `services` list used. */
  byService: (Nearest | null)[];
  /** Nearest place open on Saturday. */
  saturday: Nearest | null;
  /** Places within 5, 10 and 20 km of the centre; null without a centre. */
  within: [number, number, number] | null;
  /** Places whose address is in the commune (known even without a centre). */
  placesInCommune: number;
}

/** The k-d trees of one set of places: all, per service, open on Saturday. */
export interface PlaceIndexes {
  services: readonly string[];
  places: CoveragePlace[];
  all: PointIndex;
  byService: { index: PointIndex; places: CoveragePlace[] }[];
  saturday: { index: PointIndex; places: CoveragePlace[] };
  perCommune: Map<string, number>;
  /** Per place (index in `places`): bit k = offers service k; bit `services.length` = open on Saturday. */
  masks: Int32Array;
}

/**
 * Builds the trees. Each place is converted to a unit vector once; the per-service and Saturday
 * trees copy those vectors. On ties (places at exactly the same distance, e.g. at the same
 * address) the smaller uid wins, so the measures do not depend on the order of `places`.
 */
export function buildIndexes(places: CoveragePlace[], services: readonly string[]): PlaceIndexes {
  const n = places.length;
  const xyz = new Float64Array(3 * n);
  const position = new Map(services.map((s, i) => [s, i]));
  const SAT = services.length;
  // Members of each set (services, then Saturday) as place positions, via a mask per distinct services array.
  const masks = new Int32Array(n);
  const sizes = new Int32Array(SAT + 1);
  const maskOfArray = new Map<readonly string[], number>();
  const perCommune = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const p = places[i]!;
    unit(p.lat, p.lon, xyz, i);
    let m = maskOfArray.get(p.services);
    if (m === undefined) {
      m = 0;
      for (const s of p.services) {
        const k = position.get(s);
        if (k !== undefined) m |= 1 << k;
      }
      maskOfArray.set(p.services, m);
    }
    if (p.openSaturday) m |= 1 << SAT;
    masks[i] = m;
    for (let k = 0; k <= SAT; k++) if ((m & (1 << k)) !== 0) sizes[k]!++;
    if (p.communeCode) perCommune.set(p.communeCode, (perCommune.get(p.communeCode) ?? 0) + 1);
  }
  const sets = Array.from({ length: SAT + 1 }, (_, k) => ({ xyz: new Float64Array(3 * sizes[k]!), places: new Array<CoveragePlace>(sizes[k]!), keys: new Array<string>(sizes[k]!), n: 0 }));
  for (let i = 0; i < n; i++) {
    const m = masks[i]!;
    if (m === 0) continue;
    for (let k = 0; k <= SAT; k++) {
      if ((m & (1 << k)) === 0) continue;
      const set = sets[k]!;
      const j = set.n++;
      set.xyz[3 * j] = xyz[3 * i]!;
      set.xyz[3 * j + 1] = xyz[3 * i + 1]!;
      set.xyz[3 * j + 2] = xyz[3 * i + 2]!;
      set.places[j] = places[i]!;
      set.keys[j] = places[i]!.uid;
    }
  }
  const tree = (set: (typeof sets)[number]) => ({ index: new PointIndex([], [], set.keys, set.xyz), places: set.places });
  return {
    services,
    places,
    all: new PointIndex([], [], places.map((p) => p.uid), xyz),
    byService: sets.slice(0, SAT).map(tree),
    saturday: tree(sets[SAT]!),
    perCommune,
    masks,
  };
}

const RADII_CHORD2 = Float64Array.from(RADII, chord2OfKm);

/**
 * Stored distances are rounded to the millimetre: a whole number of millimetres divided by 10⁶,
 * which the database recomputes bit for bit from the integer (see store.ts: parsing integers is
 * several times faster than parsing floating-point text in the embedded database).
 */
export function roundKm(km: number): number {
  return Math.round(km * 1e6) / 1e6;
}

/** Measures communes against a set of places: per commune, one unit vector, 11 nearest-place queries and one count traversal. */
export function measureCommunes(communes: CoverageCommune[], ix: PlaceIndexes): CommuneMeasure[] {
  const out = new Array<CommuneMeasure>(communes.length);
  const q = new Float64Array(3);
  const counts = new Int32Array(RADII.length);
  // Each tree's answer for the previous commune seeds its search for the next one: communes come
  // by code, so mostly near each other, and a close first bound prunes most of the tree at once.
  const trees = [ix.all, ...ix.byService.map((s) => s.index), ix.saturday.index];
  const hints = new Int32Array(trees.length).fill(-1);
  const nearestOf = (t: number, places: CoveragePlace[], x: number, y: number, z: number): Nearest | null => {
    const index = trees[t]!;
    const i = index.nearestXyz(x, y, z, hints[t]!);
    hints[t] = index.lastPos;
    return i < 0 ? null : { km: roundKm(kmOfChord2(index.lastChord2)), uid: places[i]!.uid };
  };
  for (let c = 0; c < communes.length; c++) {
    const m = communes[c]!;
    const placesInCommune = ix.perCommune.get(m.code) ?? 0;
    // Object literals written out: `{ ...commune, … }` costs ~10 µs per commune in V8 (a third
    // of the whole measure at 20,000 places).
    if (m.lat === null || m.lon === null) {
      out[c] = {
        code: m.code, name: m.name, departement: m.departement, region: m.region, epci: m.epci, population: m.population, lat: m.lat, lon: m.lon,
        nearest: null, byService: ix.services.map(() => null), saturday: null, within: null, placesInCommune,
      };
      continue;
    }
    unit(m.lat, m.lon, q, 0);
    const x = q[0]!, y = q[1]!, z = q[2]!;
    const nearest = nearestOf(0, ix.places, x, y, z);
    // When the nearest place offers a service (or opens on Saturday), it is also the nearest place
    // for it: no place is nearer, and among places at the same distance it has the smallest uid.
    const offers = nearest === null ? 0 : ix.masks[ix.all.lastIndex]!;
    const byService = new Array<Nearest | null>(ix.byService.length);
    for (let k = 0; k < byService.length; k++) byService[k] = (offers & (1 << k)) !== 0 ? nearest : nearestOf(k + 1, ix.byService[k]!.places, x, y, z);
    ix.all.countXyz(x, y, z, RADII_CHORD2, counts);
    out[c] = {
      code: m.code, name: m.name, departement: m.departement, region: m.region, epci: m.epci, population: m.population, lat: m.lat, lon: m.lon,
      nearest,
      byService,
      saturday: (offers & (1 << byService.length)) !== 0 ? nearest : nearestOf(trees.length - 1, ix.saturday.places, x, y, z),
      within: [counts[0]!, counts[1]!, counts[2]!],
      placesInCommune,
    };
  }
  return out;
}

/** The measures of one commune against a set of places. */
export function measureCommune(c: CoverageCommune, ix: PlaceIndexes): CommuneMeasure {
  return measureCommunes([c], ix)[0]!;
}

// ---------------------------------------------------------------------------------------------
// Incremental recompute

/** What a place contributes to: its position, services and Saturday opening. */
export interface PlaceChange {
  lat: number;
  lon: number;
  services: readonly string[];
  openSaturday: boolean;
}

const EPS_KM = 1e-6;

/**
 * The communes whose measures may change when places at the given positions (old positions of
 * removed or moved places, new positions of added or moved ones) change:
 * - a commune within MAX_RADIUS_KM of a changed position (its counts may change);
 * - a commune whose nearest place (overall, for a service the changed place offers, open on
 *   Saturday) is at least as far as the changed position, or that has none (the changed place may
 *   have been, or may now be, its nearest).
 * Per-commune place counts depend on addresses: the caller passes the communes of the changed
 * places (old and new) in `communesOfChanges`; they are always included.
 */
export function affectedCommunes(
  measures: CommuneMeasure[],
  changes: PlaceChange[],
  services: readonly string[],
  communesOfChanges: Set<string> = new Set(),
): Set<string> {
  const out = new Set<string>(communesOfChanges);
  if (changes.length === 0) return out;
  const position = new Map(services.map((s, i) => [s, i]));
  const changeServices = changes.map((ch) => ch.services.map((s) => position.get(s)).filter((i): i is number => i !== undefined));
  // Candidates come from a k-d tree over the changed positions: a change can only affect a commune
  // within the farthest of its count radius and its distances to the nearest place for the
  // criteria the changes touch (any place; open on Saturday; their services). The exact test
  // below then runs on those candidates only, instead of on every (commune, change) pair.
  const tree = new PointIndex(changes.map((c) => c.lat), changes.map((c) => c.lon));
  const anySaturday = changes.some((c) => c.openSaturday);
  const touchedServices = [...new Set(changeServices.flat())];
  const every = changes.map((_, k) => k);
  for (const m of measures) {
    if (m.lat === null || m.lon === null || out.has(m.code)) continue;
    let reachKm: number = MAX_RADIUS_KM;
    let unbounded = m.nearest === null;
    if (m.nearest && m.nearest.km > reachKm) reachKm = m.nearest.km;
    if (anySaturday) {
      if (m.saturday === null) unbounded = true;
      else if (m.saturday.km > reachKm) reachKm = m.saturday.km;
    }
    for (const i of touchedServices) {
      const n = m.byService[i] ?? null;
      if (n === null) unbounded = true;
      else if (n.km > reachKm) reachKm = n.km;
    }
    const candidates = unbounded ? every : tree.within(m.lat, m.lon, reachKm + 1e-3);
    for (const k of candidates) {
      const ch = changes[k]!;
      const d = haversineKm(m.lat, m.lon, ch.lat, ch.lon);
      const reach = (n: Nearest | null) => n === null || d <= n.km + EPS_KM;
      if (d <= MAX_RADIUS_KM + EPS_KM || reach(m.nearest) || (ch.openSaturday && reach(m.saturday)) || changeServices[k]!.some((i) => reach(m.byService[i] ?? null))) {
        out.add(m.code);
        break;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Aggregates

export interface ShareSet {
  /** Share (0–1) of the population of communes with a centre within 5, 10, 20 km. */
  within5: number | null;
  within10: number | null;
  within20: number | null;
  /** Population-weighted mean distance (km) to the nearest place; null when there is none. */
  meanKm: number | null;
}

export type AreaLevel = 'france' | 'region' | 'departement' | 'epci';

export interface AreaSummary {
  level: AreaLevel;
  code: string;
  name: string;
  communes: number;
  communesWithCentre: number;
  communesWithoutCentre: number;
  population: number;
  populationWithoutCentre: number;
  /** Places whose address is in the area's communes. */
  places: number;
  placesPer10k: number | null;
  communesWithPlace: number;
  overall: ShareSet;
  saturday: ShareSet;
  /** One entry per service, in the services order. */
  byService: ShareSet[];
}

class ShareAcc {
  pop = 0;
  w = [0, 0, 0];
  sumKm = 0;
  popKnown = 0;
  add(n: Nearest | null, population: number) {
    this.pop += population;
    if (!n) return;
    this.popKnown += population;
    this.sumKm += population * n.km;
    for (let k = 0; k < RADII.length; k++) if (n.km <= RADII[k]! + EPS_KM) this.w[k] = this.w[k]! + population;
  }
  result(): ShareSet {
    const share = (x: number) => (this.pop > 0 ? x / this.pop : null);
    return {
      within5: share(this.w[0]!),
      within10: share(this.w[1]!),
      within20: share(this.w[2]!),
      meanKm: this.popKnown > 0 ? this.sumKm / this.popKnown : null,
    };
  }
}

/**
 * Aggregates commune measures. Shares are of the population of communes with a centre (those
 * without a centre are counted apart); the mean distance is weighted by population.
 * `extraPlaces` adds places attributed to no commune (for the France total).
 */
export function summarise(
  measures: CommuneMeasure[],
  area: { level: AreaLevel; code: string; name: string },
  serviceCount: number,
  extraPlaces = 0,
): AreaSummary {
  const overall = new ShareAcc();
  const saturday = new ShareAcc();
  const byService = Array.from({ length: serviceCount }, () => new ShareAcc());
  let communes = 0, withCentre = 0, population = 0, popWithout = 0, places = extraPlaces, withPlace = 0;
  for (const m of measures) {
    communes++;
    population += m.population;
    places += m.placesInCommune;
    if (m.placesInCommune > 0) withPlace++;
    if (m.lat === null || m.lon === null) {
      popWithout += m.population;
      continue;
    }
    withCentre++;
    overall.add(m.nearest, m.population);
    saturday.add(m.saturday, m.population);
    for (let i = 0; i < serviceCount; i++) byService[i]!.add(m.byService[i] ?? null, m.population);
  }
  return {
    ...area,
    communes,
    communesWithCentre: withCentre,
    communesWithoutCentre: communes - withCentre,
    population,
    populationWithoutCentre: popWithout,
    places,
    placesPer10k: population > 0 ? (places * 10000) / population : null,
    communesWithPlace: withPlace,
    overall: overall.result(),
    saturday: saturday.result(),
    byService: byService.map((a) => a.result()),
  };
}

/** Groups measures by a key (département, région, EPCI); communes without the key are skipped. */
export function groupBy(measures: CommuneMeasure[], key: (m: CommuneMeasure) => string | null): Map<string, CommuneMeasure[]> {
  const out = new Map<string, CommuneMeasure[]>();
  for (const m of measures) {
    const k = key(m);
    if (k === null) continue;
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(m);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// White zones

/** The distance a question is about: nearest place, nearest offering a service, or open on Saturday. */
export type Criterion = { kind: 'overall' } | { kind: 'service'; index: number } | { kind: 'saturday' };

export function distanceFor(m: CommuneMeasure, c: Criterion): Nearest | null {
  if (c.kind === 'overall') return m.nearest;
  if (c.kind === 'saturday') return m.saturday;
  return m.byService[c.index] ?? null;
}

export interface WhiteCommune {
  code: string;
  name: string;
  departement: string;
  epci: string | null;
  population: number;
  lat: number;
  lon: number;
  /** Distance to the nearest place; null when there is no place at all. */
  km: number | null;
  /** Rank of the group it belongs to (1 = most populous). */
  group: number;
}

export interface WhiteZoneGroup {
  rank: number;
  communeCount: number;
  population: number;
  /** Population-weighted mean distance to the nearest place (null when none). */
  meanKm: number | null;
  maxKm: number | null;
  /** The most populous commune of the group. */
  main: { code: string; name: string };
  departements: string[];
  communes: string[];
  /** Centre of the group weighted by population (for the map). */
  lat: number;
  lon: number;
}

export interface WhiteZones {
  thresholdKm: number;
  linkKm: number;
  communes: WhiteCommune[];
  groups: WhiteZoneGroup[];
}

/**
 * White zones: communes (with a centre) whose nearest place is farther than `thresholdKm` (or that
 * have none), and groups of neighbouring white communes. Two white communes are neighbours when
 * their centres are at most `linkKm` apart; groups are the connected components of that relation
 * (single linkage: a chain of neighbours forms one group). Both lists are ranked by population.
 */
export function whiteZones(measures: CommuneMeasure[], criterion: Criterion, thresholdKm: number, linkKm: number): WhiteZones {
  const white: CommuneMeasure[] = [];
  for (const m of measures) {
    if (m.lat === null || m.lon === null) continue;
    const n = distanceFor(m, criterion);
    if (n === null || n.km > thresholdKm + EPS_KM) white.push(m);
  }
  // Union-find over the white communes; neighbours found with a k-d tree.
  const parent = white.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  const index = new PointIndex(
    white.map((m) => m.lat!),
    white.map((m) => m.lon!),
  );
  for (let i = 0; i < white.length; i++) {
    for (const j of index.within(white[i]!.lat!, white[i]!.lon!, linkKm)) {
      const a = find(i), b = find(j);
      if (a !== b) parent[a] = b;
    }
  }
  const groups = new Map<number, CommuneMeasure[]>();
  white.forEach((m, i) => {
    const r = find(i);
    let g = groups.get(r);
    if (!g) groups.set(r, (g = []));
    g.push(m);
  });
  const byPop = (a: CommuneMeasure, b: CommuneMeasure) => b.population - a.population || a.code.localeCompare(b.code);
  const list: WhiteZoneGroup[] = [...groups.values()].map((members) => {
    members.sort(byPop);
    const population = members.reduce((s, m) => s + m.population, 0);
    let sumKm = 0, known = 0, maxKm: number | null = null, wLat = 0, wLon = 0;
    for (const m of members) {
      const n = distanceFor(m, criterion);
      if (n) {
        sumKm += n.km * m.population;
        known += m.population;
        maxKm = maxKm === null ? n.km : Math.max(maxKm, n.km);
      }
      const w = population > 0 ? m.population : 1;
      wLat += m.lat! * w;
      wLon += m.lon! * w;
    }
    const wSum = population > 0 ? population : members.length;
    return {
      rank: 0,
      communeCount: members.length,
      population,
      meanKm: known > 0 ? sumKm / known : null,
      maxKm,
      main: { code: members[0]!.code, name: members[0]!.name },
      departements: [...new Set(members.map((m) => m.departement))].sort(),
      communes: members.map((m) => m.code),
      lat: wLat / wSum,
      lon: wLon / wSum,
    };
  });
  list.sort((a, b) => b.population - a.population || b.communeCount - a.communeCount || a.main.code.localeCompare(b.main.code));
  list.forEach((g, i) => (g.rank = i + 1));
  const groupOf = new Map<string, number>();
  for (const g of list) for (const c of g.communes) groupOf.set(c, g.rank);
  white.sort(byPop);
  return {
    thresholdKm,
    linkKm,
    groups: list,
    communes: white.map((m) => ({
      code: m.code,
      name: m.name,
      departement: m.departement,
      epci: m.epci,
      population: m.population,
      lat: m.lat!,
      lon: m.lon!,
      km: distanceFor(m, criterion)?.km ?? null,
      group: groupOf.get(m.code)!,
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Planner: greedy maximum coverage

export interface PlanPick {
  rank: number;
  code: string;
  name: string;
  lat: number;
  lon: number;
  population: number;
  /** Population of the communes this pick covers that nothing covered before. */
  newlyCoveredPopulation: number;
  newlyCovered: { code: string; name: string; population: number; km: number }[];
  /** Population covered after this pick (existing places and picks so far). */
  coveredAfter: number;
  /** The nearest existing place (of the service when one is chosen) to the picked commune. */
  nearestExisting: Nearest | null;
}

export interface PlanResult {
  radiusKm: number;
  k: number;
  /** Population of the communes with a centre considered (the territory's). */
  population: number;
  coveredBefore: number;
  coveredAfter: number;
  picks: PlanPick[];
  /**
   * A proven upper bound of the coverage the best K communes could reach (submodularity: for every
   * set S met, OPT ≤ f(S) + the sum of the K largest marginal gains with respect to S).
   */
  optimumUpperBound: number;
  /** (coveredAfter − coveredBefore) / (optimumUpperBound − coveredBefore); ≥ 1 − 1/e by theory. */
  guaranteedRatio: number | null;
}

/**
 * Where to open K new places: greedy maximum coverage. Demand points are the communes (with a
 * centre) given, weighted by population; a commune is covered when its centre is within `radiusKm`
 * of a place. Candidates are the same communes (a new place at the commune centre). Each round
 * picks the candidate adding the most not-yet-covered population (ties: the more populous
 * candidate, then the smaller code). Covered population is a monotone submodular function of the
 * set of picks, so greedy adds at least (1 − 1/e) ≈ 63 % of what the best K picks could add
 * (Nemhauser, Wolsey & Fisher, 1978). Rounds stop early when no candidate adds anything.
 */
export function planGreedy(measures: CommuneMeasure[], criterion: Criterion, radiusKm: number, k: number): PlanResult {
  const pts = measures.filter((m) => m.lat !== null && m.lon !== null);
  const n = pts.length;
  const index = new PointIndex(
    pts.map((m) => m.lat!),
    pts.map((m) => m.lon!),
  );
  const covered = new Uint8Array(n);
  let coveredPop = 0;
  let population = 0;
  for (let i = 0; i < n; i++) {
    population += pts[i]!.population;
    const d = distanceFor(pts[i]!, criterion);
    if (d !== null && d.km <= radiusKm + EPS_KM) {
      covered[i] = 1;
      coveredPop += pts[i]!.population;
    }
  }
  const coveredBefore = coveredPop;
  // Cover sets: the demand communes within R of each candidate that are not covered at the start.
  const cover: Int32Array[] = new Array(n);
  for (let j = 0; j < n; j++) {
    cover[j] = Int32Array.from(index.within(pts[j]!.lat!, pts[j]!.lon!, radiusKm).filter((i) => !covered[i]));
  }
  const gainOf = (j: number) => {
    let g = 0;
    const c = cover[j]!;
    for (let t = 0; t < c.length; t++) if (!covered[c[t]!]) g += pts[c[t]!]!.population;
    return g;
  };
  const picks: PlanPick[] = [];
  const chosen = new Uint8Array(n);
  let upper = Infinity;
  const gains = new Float64Array(n);
  for (let round = 0; round < k; round++) {
    let best = -1;
    for (let j = 0; j < n; j++) {
      gains[j] = chosen[j] ? 0 : gainOf(j);
      if (chosen[j]) continue;
      if (
        best < 0 ||
        gains[j]! > gains[best]! ||
        (gains[j] === gains[best] &&
          (pts[j]!.population > pts[best]!.population || (pts[j]!.population === pts[best]!.population && pts[j]!.code < pts[best]!.code)))
      )
        best = j;
    }
    const top = Array.from(gains).sort((a, b) => b - a).slice(0, k);
    upper = Math.min(upper, coveredPop + top.reduce((s, g) => s + g, 0));
    if (best < 0 || gains[best]! <= 0) break;
    const m = pts[best]!;
    const newly: PlanPick['newlyCovered'] = [];
    for (const i of cover[best]!) {
      if (covered[i]) continue;
      covered[i] = 1;
      const c = pts[i]!;
      newly.push({ code: c.code, name: c.name, population: c.population, km: haversineKm(m.lat!, m.lon!, c.lat!, c.lon!) });
    }
    newly.sort((a, b) => b.population - a.population || a.code.localeCompare(b.code));
    chosen[best] = 1;
    coveredPop += gains[best]!;
    picks.push({
      rank: picks.length + 1,
      code: m.code,
      name: m.name,
      lat: m.lat!,
      lon: m.lon!,
      population: m.population,
      newlyCoveredPopulation: gains[best]!,
      newlyCovered: newly,
      coveredAfter: coveredPop,
      nearestExisting: distanceFor(m, criterion),
    });
  }
  if (picks.length < k) upper = Math.min(upper, coveredPop); // nothing more could be added
  upper = Math.max(upper, coveredPop);
  const room = upper - coveredBefore;
  return {
    radiusKm,
    k,
    population,
    coveredBefore,
    coveredAfter: coveredPop,
    picks,
    optimumUpperBound: upper,
    guaranteedRatio: room > 0 ? (coveredPop - coveredBefore) / room : null,
  };
}

// ---------------------------------------------------------------------------------------------
// What if

export interface WhatIfChange {
  code: string;
  name: string;
  population: number;
  beforeKm: number | null;
  afterKm: number | null;
}

/** Communes whose nearest-place distance changed, largest population × |change| first. */
export function changedCommunes(before: CommuneMeasure[], after: CommuneMeasure[], criterion: Criterion): WhatIfChange[] {
  const out: WhatIfChange[] = [];
  for (let i = 0; i < before.length; i++) {
    const b = distanceFor(before[i]!, criterion)?.km ?? null;
    const a = distanceFor(after[i]!, criterion)?.km ?? null;
    if (b === a || (b !== null && a !== null && Math.abs(a - b) < 1e-9)) continue;
    const m = before[i]!;
    out.push({ code: m.code, name: m.name, population: m.population, beforeKm: b, afterKm: a });
  }
  const weight = (c: WhatIfChange) => c.population * (c.beforeKm === null || c.afterKm === null ? 1e6 : Math.abs(c.afterKm - c.beforeKm));
  return out.sort((x, y) => weight(y) - weight(x) || x.code.localeCompare(y.code));
}

// ---------------------------------------------------------------------------------------------
// Services of the standard

/**
 * The services of the standard « lieux de médiation numérique » v1.0.2 (field `services`), in the
 * schema's order, with the short keys our API and pages accept. A test checks this list against the
 * schema file in ../shared/data/standards/.
 */
export const SERVICES: readonly { key: string; label: string }[] = [
  { key: 'demarches', label: 'Aide aux démarches administratives' },
  { key: 'outils', label: 'Maîtrise des outils numériques du quotidien' },
  { key: 'insertion', label: 'Insertion professionnelle via le numérique' },
  { key: 'securite', label: 'Utilisation sécurisée du numérique' },
  { key: 'parentalite', label: 'Parentalité et éducation avec le numérique' },
  { key: 'loisirs', label: 'Loisirs et créations numériques' },
  { key: 'comprehension', label: 'Compréhension du monde numérique' },
  { key: 'acces', label: 'Accès internet et matériel informatique' },
  { key: 'materiel', label: 'Acquisition de matériel informatique à prix solidaire' },
];

export const SERVICE_LABELS: readonly string[] = SERVICES.map((s) => s.label);

/**
 * Reads a criterion: '' or 'tous' → overall; 'samedi' → open on Saturday; a service key
 * ('demarches') or its exact label → that service. Null when unknown.
 */
export function parseCriterion(value: string | null | undefined): Criterion | null {
  const v = (value ?? '').trim();
  if (v === '' || v === 'tous' || v === 'all') return { kind: 'overall' };
  if (v === 'samedi' || v === 'saturday') return { kind: 'saturday' };
  const i = SERVICES.findIndex((s) => s.key === v || s.label === v);
  return i >= 0 ? { kind: 'service', index: i } : null;
}

export function criterionKey(c: Criterion): string {
  return c.kind === 'overall' ? 'tous' : c.kind === 'saturday' ? 'samedi' : SERVICES[c.index]!.key;
}

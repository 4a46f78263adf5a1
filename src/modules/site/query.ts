/**
 * The search state of the results page, held entirely in the URL. The parameter names are those of
 * the JSON API (`/api/v1/places`), so the same query string feeds the exports and the map points.
 * Pure functions: parse a query string object into a state, and write a state back.
 */
import { FILTER_FIELDS, type FilterField, type PlaceQuery } from './data.ts';

export type Sort = 'distance' | 'name' | 'relevance';

export interface SearchState {
  /** What the visitor typed: a commune, a postal code, an address or words to look for. */
  q: string;
  near: { lat: number; lon: number } | null;
  /** Search radius in km around `near` or the resolved commune. */
  radius: number | null;
  territory: string | null;
  bbox: [number, number, number, number] | null;
  filters: Record<FilterField, string[]>;
  openNow: boolean;
  openOnWeekend: boolean;
  onlineBooking: boolean;
  sort: Sort | null;
  page: number;
  /** Values of the filters other modules register (e.g. `label`), by parameter; read by the routes. */
  extra: Record<string, string[]>;
}

export const RADII = [2, 5, 10, 20, 50] as const;
export const DEFAULT_RADIUS = 10;
export const PAGE_SIZE = 20;
export const MAX_PAGE = 500;

type QueryObject = Record<string, string | string[] | undefined>;

function first(v: string | string[] | undefined): string {
  if (Array.isArray(v)) return (v[0] ?? '').trim();
  return (v ?? '').trim();
}

function all(v: string | string[] | undefined): string[] {
  const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
  // Accept both repeated parameters (forms) and the API's `a|b` form.
  return [...new Set(list.flatMap((x) => x.split('|')).map((x) => x.trim()).filter(Boolean))];
}

function bool(v: string | string[] | undefined): boolean {
  const s = first(v).toLowerCase();
  return s === '1' || s === 'true' || s === 'oui' || s === 'on';
}

export function parseLatLon(s: string): { lat: number; lon: number } | null {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/.exec(s);
  if (!m) return null;
  const lat = Number(m[1]);
  const lon = Number(m[2]);
  if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180)) return null;
  return { lat, lon };
}

export function parseBbox(s: string): [number, number, number, number] | null {
  const parts = s.split(',').map((x) => Number(x.trim()));
  if (parts.length !== 4 || parts.some((x) => !Number.isFinite(x))) return null;
  const [w, so, e, n] = parts as [number, number, number, number];
  if (w < -180 || e > 180 || so < -90 || n > 90 || w >= e || so >= n) return null;
  return [w, so, e, n];
}

/** Reads the URL query into a state; invalid values are dropped (and reported). */
export function parseState(query: QueryObject, allowed?: (field: FilterField) => readonly string[]): { state: SearchState; problems: string[] } {
  const problems: string[] = [];
  const filters = {} as Record<FilterField, string[]>;
  for (const f of FILTER_FIELDS) {
    let values = all(query[f]);
    if (allowed) {
      const ok = allowed(f);
      if (ok.length > 0) {
        const bad = values.filter((v) => !ok.includes(v));
        if (bad.length) problems.push(`Filtre ignoré : « ${bad.join(', ')} ».`);
        values = values.filter((v) => ok.includes(v));
      }
    }
    filters[f] = values;
  }
  const nearText = first(query.near);
  const near = nearText ? parseLatLon(nearText) : null;
  if (nearText && !near) problems.push('La position indiquée n’est pas valide.');
  const bboxText = first(query.bbox);
  const bbox = bboxText ? parseBbox(bboxText) : null;
  if (bboxText && !bbox) problems.push('La zone de carte indiquée n’est pas valide.');
  const radiusText = first(query.radius);
  let radius: number | null = radiusText ? Number(radiusText) : null;
  if (radius !== null && !(Number.isFinite(radius) && radius > 0 && radius <= 200)) {
    problems.push('Le rayon de recherche n’est pas valide.');
    radius = null;
  }
  const sortText = first(query.sort);
  const sort: Sort | null = sortText === 'distance' || sortText === 'name' || sortText === 'relevance' ? sortText : null;
  let page = Number.parseInt(first(query.page) || '1', 10);
  if (!Number.isFinite(page) || page < 1) page = 1;
  if (page > MAX_PAGE) page = MAX_PAGE;
  const territory = first(query.territory);
  return {
    state: {
      q: first(query.q).slice(0, 200),
      near,
      radius,
      territory: /^(?:(?:region|departement|epci|commune):)?[0-9AB]{2,9}$/i.test(territory) ? territory : null,
      bbox,
      filters,
      openNow: bool(query.open_now),
      openOnWeekend: bool(query.open_on_weekend),
      onlineBooking: bool(query.online_booking),
      sort,
      page,
      extra: {},
    },
    problems,
  };
}

export function emptyState(): SearchState {
  return parseState({}).state;
}

/** Writes a state as a query string (without "?"), omitting defaults; `page` only when > 1. */
export function stateToQuery(s: SearchState, o: { page?: boolean } = { page: true }): string {
  const p = new URLSearchParams();
  if (s.q) p.set('q', s.q);
  if (s.near) p.set('near', `${round(s.near.lat)},${round(s.near.lon)}`);
  if (s.radius !== null) p.set('radius', String(s.radius));
  if (s.territory) p.set('territory', s.territory);
  if (s.bbox) p.set('bbox', s.bbox.map(round).join(','));
  for (const f of FILTER_FIELDS) for (const v of s.filters[f]) p.append(f, v);
  if (s.openNow) p.set('open_now', '1');
  if (s.openOnWeekend) p.set('open_on_weekend', '1');
  if (s.onlineBooking) p.set('online_booking', '1');
  if (s.sort) p.set('sort', s.sort);
  for (const [k, values] of Object.entries(s.extra ?? {})) for (const v of values) p.append(k, v);
  if (o.page !== false && s.page > 1) p.set('page', String(s.page));
  return p.toString();
}

/** The same query in the API's form (multi-valued filters joined with `|`), for exports. */
export function stateToApiQuery(s: SearchState, resolved: PlaceQuery): string {
  const p = new URLSearchParams();
  if (resolved.q) p.set('q', resolved.q);
  if (resolved.near) p.set('near', `${round(resolved.near.lat)},${round(resolved.near.lon)}`);
  if (resolved.radiusKm !== undefined) p.set('radius', String(resolved.radiusKm));
  if (resolved.territory) p.set('territory', resolved.territory);
  if (resolved.bbox) p.set('bbox', resolved.bbox.map(round).join(','));
  for (const f of FILTER_FIELDS) if (s.filters[f].length) p.set(f, s.filters[f].join('|'));
  if (s.openNow) p.set('open_now', 'true');
  if (s.openOnWeekend) p.set('open_on_weekend', 'true');
  if (s.onlineBooking) p.set('online_booking', 'true');
  if (resolved.sort) p.set('sort', resolved.sort);
  for (const [k, values] of Object.entries(s.extra ?? {})) if (values.length) p.set(k, values.join('|'));
  return p.toString();
}

export function withChanges(s: SearchState, changes: Partial<SearchState>): SearchState {
  return { ...s, ...changes };
}

function round(n: number): string {
  return String(Math.round(n * 1e5) / 1e5);
}

/** True when the state asks for something (a place, a position, a territory, a filter…). */
export function hasCriteria(s: SearchState): boolean {
  return Boolean(
    s.q || s.near || s.territory || s.bbox || s.openNow || s.openOnWeekend || s.onlineBooking || FILTER_FIELDS.some((f) => s.filters[f].length > 0) || extraCount(s) > 0,
  );
}

/** Number of active filters (not counting the location). */
export function activeFilterCount(s: SearchState): number {
  return FILTER_FIELDS.reduce((n, f) => n + s.filters[f].length, 0) + Number(s.openNow) + Number(s.openOnWeekend) + Number(s.onlineBooking) + extraCount(s);
}

function extraCount(s: SearchState): number {
  return Object.values(s.extra ?? {}).reduce((n, v) => n + v.length, 0);
}

/** The part of the state that only concerns filters, as a PlaceQuery fragment. */
export function filtersToQuery(s: SearchState): Pick<PlaceQuery, 'filters' | 'openNow' | 'openOnWeekend' | 'onlineBooking' | 'extra'> {
  const filters: Partial<Record<FilterField, string[]>> = {};
  for (const f of FILTER_FIELDS) if (s.filters[f].length) filters[f] = s.filters[f];
  return {
    filters,
    ...(s.openNow ? { openNow: true } : {}),
    ...(s.openOnWeekend ? { openOnWeekend: true } : {}),
    ...(s.onlineBooking ? { onlineBooking: true } : {}),
    ...(extraCount(s) > 0 ? { extra: s.extra } : {}),
  };
}

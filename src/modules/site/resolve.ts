/**
 * Turns what a visitor typed into a place search: a commune name, a postal code or an address-like
 * text becomes a position (the commune's centre) and a radius; anything else is a text search.
 */
import type { Commune, PlaceQuery, SiteData, Territory } from './data.ts';
import { DEFAULT_RADIUS, filtersToQuery, type SearchState } from './query.ts';

export interface Resolution {
  kind: 'position' | 'commune' | 'territory' | 'bbox' | 'text' | 'none';
  /** The commune the text was understood as. */
  commune: Commune | null;
  /** Other communes the text may have meant. */
  candidates: Commune[];
  territory: Territory | null;
  /** What the results are around / in, in words: « Évreux (27000) », « votre position ». */
  label: string;
  /** The places query, without pagination. */
  query: PlaceQuery;
  /** Text that matched no commune: searched in place names and descriptions. */
  text: string | null;
  /** The territory reference was given but is unknown. */
  unknownTerritory?: boolean;
}

/** Lower case, no accents, punctuation as spaces, « st » as « saint ». */
export function fold(s: string): string {
  return s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .replace(/\b(ste?)\b/g, (m) => (m === 'st' ? 'saint' : 'sainte'))
    .trim();
}

export function communeLabel(c: Commune): string {
  const cp = c.postalCodes[0];
  return cp ? `${c.name} (${cp})` : `${c.name} (${c.departement ?? c.code.slice(0, 2)})`;
}

function byPopulation(a: Commune, b: Commune): number {
  return (b.population ?? 0) - (a.population ?? 0);
}

/** Finds the commune meant by a text: postal code, name, or an address ending with them. */
export async function findCommune(data: SiteData, text: string): Promise<{ commune: Commune | null; candidates: Commune[] }> {
  const q = text.trim();
  if (!q) return { commune: null, candidates: [] };
  const cp = /(?:^|\D)(\d{5})(?:\D|$)/.exec(q)?.[1];
  if (cp) {
    const list = (await data.communesByPostalCode(cp)).filter((c) => c.lat !== null && c.lon !== null).sort(byPopulation);
    if (list.length > 0) {
      // "27000 Évreux" or "12 rue X, 27930 Guichainville": prefer the commune named after the code.
      const rest = fold(q.slice(q.indexOf(cp) + 5)) || fold(q.slice(0, q.indexOf(cp)));
      const named = list.find((c) => rest && (rest === fold(c.name) || rest.endsWith(fold(c.name))));
      const chosen = named ?? list[0]!;
      return { commune: chosen, candidates: list.filter((c) => c !== chosen) };
    }
  }
  const whole = await matchName(data, q);
  if (whole.commune) return whole;
  // Address-like text ("3 place de la mairie, Évreux"): try the text after the last comma, then
  // the last words.
  if (/[\d,]/.test(q)) {
    const tail = q.includes(',') ? q.slice(q.lastIndexOf(',') + 1) : '';
    if (tail.trim()) {
      const m = await matchName(data, tail.replace(/\d+/g, ' '), true);
      if (m.commune) return m;
    }
    const words = q.replace(/\d+/g, ' ').split(/[\s,]+/).filter(Boolean);
    for (let n = Math.min(4, words.length - 1); n >= 1; n--) {
      const m = await matchName(data, words.slice(-n).join(' '), true);
      if (m.commune) return m;
    }
  }
  return whole;
}

async function matchName(data: SiteData, text: string, exactOnly = false): Promise<{ commune: Commune | null; candidates: Commune[] }> {
  const folded = fold(text);
  if (folded.length < 2) return { commune: null, candidates: [] };
  const found = (await data.searchCommunes(text.trim(), 8)).filter((c) => c.lat !== null && c.lon !== null);
  if (found.length === 0) return { commune: null, candidates: [] };
  const exact = found.filter((c) => fold(c.name) === folded).sort(byPopulation);
  if (exact.length > 0) return { commune: exact[0]!, candidates: found.filter((c) => c !== exact[0]) };
  if (exactOnly) return { commune: null, candidates: [] };
  // A prefix of a single commune name ("Evre" → Évreux) is taken when nothing else starts that way.
  const prefixed = found.filter((c) => fold(c.name).startsWith(folded));
  if (prefixed.length === 1 && folded.length >= 3) return { commune: prefixed[0]!, candidates: found.filter((c) => c !== prefixed[0]) };
  return { commune: null, candidates: found };
}

/** Builds the places query for a search state. */
export async function resolveSearch(data: SiteData, s: SearchState): Promise<Resolution> {
  const base: PlaceQuery = { ...filtersToQuery(s) };
  const sortOr = (fallback: PlaceQuery['sort']): PlaceQuery['sort'] => (s.sort === 'name' || s.sort === 'distance' || s.sort === 'relevance' ? s.sort : fallback);
  if (s.near) {
    return {
      kind: 'position',
      commune: null,
      candidates: [],
      territory: null,
      label: 'votre position',
      query: { ...base, near: s.near, radiusKm: s.radius ?? DEFAULT_RADIUS, sort: sortOr('distance') },
      text: null,
    };
  }
  if (s.bbox) {
    return { kind: 'bbox', commune: null, candidates: [], territory: null, label: 'la zone de la carte', query: { ...base, bbox: s.bbox, sort: s.sort === 'distance' ? 'name' : sortOr('name') }, text: null };
  }
  if (s.territory) {
    const t = await data.resolveTerritory(s.territory);
    if (!t) return { kind: 'none', commune: null, candidates: [], territory: null, label: '', query: base, text: null, unknownTerritory: true };
    const within: PlaceQuery = { ...base, territory: `${t.level}:${t.code}` };
    // A finder limited to a territory (embeds, territory pages) still understands what is typed
    // in it: a commune or words, searched within that territory.
    if (s.q) return { ...(await resolveText(data, s, within, sortOr)), territory: t };
    return { kind: 'territory', commune: null, candidates: [], territory: t, label: t.name, query: { ...within, sort: s.sort === 'distance' ? 'name' : sortOr('name') }, text: null };
  }
  if (s.q) return resolveText(data, s, base, sortOr);
  return { kind: 'none', commune: null, candidates: [], territory: null, label: '', query: { ...base, sort: s.sort === 'distance' ? 'name' : sortOr('name') }, text: null };
}

/** A typed text: the commune it names (places around it), or words searched in the places. */
async function resolveText(data: SiteData, s: SearchState, base: PlaceQuery, sortOr: (fallback: PlaceQuery['sort']) => PlaceQuery['sort']): Promise<Resolution> {
  const { commune, candidates } = await findCommune(data, s.q);
  if (commune && commune.lat !== null && commune.lon !== null) {
    return {
      kind: 'commune',
      commune,
      candidates: candidates.slice(0, 6),
      territory: null,
      label: communeLabel(commune),
      query: { ...base, near: { lat: commune.lat, lon: commune.lon }, radiusKm: s.radius ?? DEFAULT_RADIUS, sort: sortOr('distance') },
      text: null,
    };
  }
  return { kind: 'text', commune: null, candidates: candidates.slice(0, 6), territory: null, label: `« ${s.q} »`, query: { ...base, q: s.q, sort: s.sort === 'distance' ? 'relevance' : sortOr('relevance') }, text: s.q };
}

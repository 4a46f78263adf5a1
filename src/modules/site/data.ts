/**
 * What the public site needs from the other modules (places, territories), as one interface.
 * Pages depend on this port only; `wire.ts` binds it to the modules' index.ts functions. The types
 * mirror those modules' published contracts.
 */

export type Level = 'region' | 'departement' | 'epci' | 'commune';

export interface Commune {
  code: string;
  name: string;
  kind?: string;
  departement: string | null;
  region: string | null;
  epci?: string | null;
  population: number | null;
  postalCodes: string[];
  lat: number | null;
  lon: number | null;
}

export interface TerritoryRef {
  level: string;
  code: string;
  name: string;
}

export interface Territory extends TerritoryRef {
  population: number | null;
  parents: TerritoryRef[];
  communeCount: number;
}

// The places module's own types: its search query, filters and stored place.
export { FILTER_FIELDS, type FilterField, type Place, type PlaceQuery } from '../places/index.ts';
import type { FilterField, Place, PlaceQuery } from '../places/index.ts';

export interface SearchResult {
  total: number;
  items: { place: Place; distanceKm: number | null }[];
  nextCursor: string | null;
}

/** A search filter registered by another module (places' extension point). */
export interface ExtraFilter {
  key: string;
  label: string;
  options: { value: string; label: string }[];
}

export interface OpeningStatus {
  open: boolean;
  label: string;
}

export interface DayHours {
  /** YYYY-MM-DD */
  date: string;
  weekday: string;
  ranges: string[];
  publicHoliday: boolean;
  holidayName?: string | null;
  today: boolean;
}

export interface MapPoint {
  uid: string;
  lat: number;
  lon: number;
  nom: string;
}

export interface SiteData {
  searchPlaces(query: PlaceQuery): Promise<SearchResult>;
  getPlace(uid: string): Promise<Place | null>;
  mapPoints(query: PlaceQuery): Promise<MapPoint[]>;
  countByService(query: PlaceQuery): Promise<Record<string, number>>;
  countPlacesBy(level: Level, query?: PlaceQuery): Promise<{ code: string; count: number }[]>;
  getCommune(code: string): Promise<Commune | null>;
  communesByPostalCode(cp: string): Promise<Commune[]>;
  searchCommunes(text: string, limit?: number): Promise<Commune[]>;
  resolveTerritory(ref: string): Promise<Territory | null>;
  /** Intercommunalités (EPCI) by name or SIREN, most populated first. */
  searchEpcis(text: string, limit?: number): Promise<TerritoryRef[]>;
  listRegions(): Promise<TerritoryRef[]>;
  listDepartements(region?: string): Promise<TerritoryRef[]>;
  listCommunes(ref?: string): Promise<(TerritoryRef & { population?: number | null })[]>;
  /** Humanised French label of an enum value (services, publics…) or the value itself. */
  label(field: string, value: string): string;
  /** Label of a typologie code. */
  typologyLabel(code: string): string;
  /** Allowed values of a filterable field, in the standard's order. */
  enumValues(field: FilterField): string[];
  openingStatus(horaires: string | null, now: Date): OpeningStatus | null;
  weekTable(horaires: string | null, date: Date): DayHours[] | null;
  /** Every visible place's uid/slug/updatedAt for the sitemap. */
  listPlaceUrls(): Promise<{ uid: string; slug: string; updatedAt: string }[]>;
  /** Filters other modules register (e.g. calls' regional labels), with their values; optional in test doubles. */
  placeFilters?(): Promise<ExtraFilter[]>;
  /** The registered filters' values in a query; throws a 400 naming the parameter for an unknown value. */
  readPlaceFilters?(query: Record<string, unknown>): Promise<Record<string, string[]>>;
  /** Badges other modules add to places (e.g. labels), by section; optional in test doubles. */
  placeBadges?(uids: string[]): Promise<{ title: string; byPlace: Map<string, { label: string; detail: string; href?: string }[]> }[]>;
  /** Every commune with its centre and population (the basemap's names). */
  communePoints(): Promise<{ code: string; name: string; departement: string; population: number; lat: number | null; lon: number | null }[]>;
}

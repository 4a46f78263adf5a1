/**
 * The flat tables of the module (communes, area summaries, white zones, plan picks, what-if
 * changes): one definition per table, used by the CSV exports of the API and of the CLI, and by the
 * JSON shapes of the API. Column names are stable identifiers (English, snake_case).
 */
import { SERVICES, type AreaSummary, type CommuneMeasure, type CoverageCommune, type PlanPick, type ShareSet, type WhatIfChange, type WhiteCommune, type WhiteZoneGroup } from './model.ts';

export type Cell = string | number | boolean | null;

export interface Table {
  columns: string[];
  rows: Cell[][];
}

const round = (x: number | null | undefined, digits = 3): number | null => (x === null || x === undefined ? null : Number(x.toFixed(digits)));

/** RFC 4180 CSV (comma, CRLF, quotes doubled), with a header line. Numbers use a dot. */
export function toCsv(t: Table): string {
  const cell = (v: Cell) => {
    if (v === null) return '';
    const s = typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [t.columns, ...t.rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

// ---------------------------------------------------------------------------------------------
// Communes

export interface CommuneJson extends CoverageCommune {
  hasCentre: boolean;
  nearestKm: number | null;
  nearestUid: string | null;
  saturdayKm: number | null;
  services: Record<string, number | null>;
  within5: number | null;
  within10: number | null;
  within20: number | null;
  placesInCommune: number;
  hasPlace: boolean;
}

export function communeJson(m: CommuneMeasure): CommuneJson {
  return {
    code: m.code,
    name: m.name,
    departement: m.departement,
    region: m.region,
    epci: m.epci,
    population: m.population,
    lat: m.lat,
    lon: m.lon,
    hasCentre: m.lat !== null && m.lon !== null,
    nearestKm: round(m.nearest?.km),
    nearestUid: m.nearest?.uid ?? null,
    saturdayKm: round(m.saturday?.km),
    services: Object.fromEntries(SERVICES.map((s, i) => [s.key, round(m.byService[i]?.km)])),
    within5: m.within?.[0] ?? null,
    within10: m.within?.[1] ?? null,
    within20: m.within?.[2] ?? null,
    placesInCommune: m.placesInCommune,
    hasPlace: m.placesInCommune > 0,
  };
}

export function communesTable(measures: CommuneMeasure[]): Table {
  return {
    columns: [
      'code_insee', 'nom', 'departement', 'region', 'epci', 'population', 'latitude', 'longitude', 'centre_connu',
      'distance_km', 'lieu_le_plus_proche', 'distance_samedi_km',
      ...SERVICES.map((s) => `distance_km_${s.key}`),
      'lieux_5km', 'lieux_10km', 'lieux_20km', 'lieux_dans_la_commune',
    ],
    rows: measures.map((m) => {
      const j = communeJson(m);
      return [
        j.code, j.name, j.departement, j.region, j.epci, j.population, j.lat, j.lon, j.hasCentre,
        j.nearestKm, j.nearestUid, j.saturdayKm,
        ...SERVICES.map((s) => j.services[s.key] ?? null),
        j.within5, j.within10, j.within20, j.placesInCommune,
      ];
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Area summaries

export interface ShareJson {
  within5: number | null;
  within10: number | null;
  within20: number | null;
  meanKm: number | null;
}

const shareJson = (s: ShareSet): ShareJson => ({ within5: round(s.within5, 4), within10: round(s.within10, 4), within20: round(s.within20, 4), meanKm: round(s.meanKm) });

export function summaryJson(a: AreaSummary) {
  return {
    level: a.level,
    code: a.code,
    name: a.name,
    communes: a.communes,
    communesWithCentre: a.communesWithCentre,
    communesWithoutCentre: a.communesWithoutCentre,
    population: a.population,
    populationWithoutCentre: a.populationWithoutCentre,
    places: a.places,
    placesPer10k: round(a.placesPer10k, 2),
    communesWithPlace: a.communesWithPlace,
    overall: shareJson(a.overall),
    saturday: shareJson(a.saturday),
    services: Object.fromEntries(SERVICES.map((s, i) => [s.key, shareJson(a.byService[i]!)])),
  };
}

export function summariesTable(areas: AreaSummary[]): Table {
  const shareCols = (prefix: string) => [`${prefix}part_5km`, `${prefix}part_10km`, `${prefix}part_20km`, `${prefix}distance_moyenne_km`];
  const shareCells = (s: ShareSet) => {
    const j = shareJson(s);
    return [j.within5, j.within10, j.within20, j.meanKm];
  };
  return {
    columns: [
      'niveau', 'code', 'nom', 'communes', 'communes_avec_centre', 'communes_sans_centre', 'population', 'population_sans_centre',
      'lieux', 'lieux_pour_10000_habitants', 'communes_avec_lieu',
      ...shareCols(''), ...shareCols('samedi_'), ...SERVICES.flatMap((s) => shareCols(`${s.key}_`)),
    ],
    rows: areas.map((a) => [
      a.level, a.code, a.name, a.communes, a.communesWithCentre, a.communesWithoutCentre, a.population, a.populationWithoutCentre,
      a.places, round(a.placesPer10k, 2), a.communesWithPlace,
      ...shareCells(a.overall), ...shareCells(a.saturday), ...a.byService.flatMap(shareCells),
    ]),
  };
}

// ---------------------------------------------------------------------------------------------
// White zones, plan, what if

export function whiteGroupsTable(groups: WhiteZoneGroup[]): Table {
  return {
    columns: ['rang', 'population', 'communes', 'commune_principale', 'code_commune_principale', 'distance_moyenne_km', 'distance_max_km', 'departements', 'codes_communes'],
    rows: groups.map((g) => [g.rank, g.population, g.communeCount, g.main.name, g.main.code, round(g.meanKm), round(g.maxKm), g.departements.join(' '), g.communes.join(' ')]),
  };
}

export function whiteCommunesTable(communes: WhiteCommune[]): Table {
  return {
    columns: ['code_insee', 'nom', 'departement', 'epci', 'population', 'distance_km', 'groupe', 'latitude', 'longitude'],
    rows: communes.map((c) => [c.code, c.name, c.departement, c.epci, c.population, round(c.km), c.group, c.lat, c.lon]),
  };
}

export function planTable(picks: PlanPick[], placeName: (uid: string) => string | null): Table {
  return {
    columns: ['rang', 'code_insee', 'nom', 'latitude', 'longitude', 'population_commune', 'population_nouvellement_couverte', 'communes_nouvellement_couvertes', 'population_couverte_apres', 'lieu_existant_le_plus_proche', 'nom_lieu_existant', 'distance_lieu_existant_km'],
    rows: picks.map((p) => [
      p.rank, p.code, p.name, p.lat, p.lon, p.population, p.newlyCoveredPopulation, p.newlyCovered.map((c) => c.code).join(' '), p.coveredAfter,
      p.nearestExisting?.uid ?? null, p.nearestExisting ? placeName(p.nearestExisting.uid) : null, round(p.nearestExisting?.km),
    ]),
  };
}

export function whatIfTable(changes: WhatIfChange[]): Table {
  return {
    columns: ['code_insee', 'nom', 'population', 'distance_avant_km', 'distance_apres_km'],
    rows: changes.map((c) => [c.code, c.name, c.population, round(c.beforeKm), round(c.afterKm)]),
  };
}

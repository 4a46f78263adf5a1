/**
 * Territories: the official geography (COG) — régions, départements, EPCI, communes and municipal
 * arrondissements — with commune centres and polygons. The only surface other modules may import.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Queryable } from '../../platform/db/index.ts';
import type { ModuleManifest } from '../../platform/module.ts';
import { territoriesCommands } from './cli.ts';
import { loadTerritories, type LoadOptions } from './load.ts';
import type { Config } from '../../platform/config.ts';
import { registerTerritoryRoutes } from './routes.ts';
import { status } from './store.ts';
import { cacheName } from './sources.ts';

export type { Commune, Territory, TerritoryLevel } from './model.ts';
export { parseTerritoryRef } from './model.ts';
export {
  getCommune,
  getCommunes,
  communesByPostalCode,
  communesByPostalCodes,
  searchCommunes,
  searchEpcis,
  communeAt,
  distancesOutsideCommunes,
  communeBoxes,
  resolveTerritory,
  communeCodesIn,
  listCommunes,
  listCommunePoints,
  type CommunePoint,
  listRegions,
  listDepartements,
  currentCommuneOf,
  boundaryCollection,
  dataStamp,
  gaps as territoryGaps,
  type TerritoriesStatus,
  type TerritoryGaps,
} from './store.ts';
export { onTerritoriesLoaded, type LoadReport } from './load.ts';
export type { SourceRecord } from './sources.ts';
export { status as territoriesStatus } from './store.ts';

/** What geometry is loaded: the COG year, whether centres and polygons exist, communes without a centre. */
export async function geometryStatus(db: Queryable): Promise<{ cogYear: number; centres: boolean; polygons: boolean; communesWithoutCentre: string[] }> {
  const s = await status(db);
  return { cogYear: s.cogYear, centres: s.centres, polygons: s.polygons, communesWithoutCentre: s.communesWithoutCentre };
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** The load options a configuration gives: official sources, cache under DATA_DIR, shared fallback. */
export function loadOptionsOf(config: Config): Pick<LoadOptions, 'sharedDataDir' | 'sources' | 'cacheDir'> {
  return { sharedDataDir: config.sharedDataDir, sources: config.territorySources, cacheDir: path.join(config.dataDir, 'territories') };
}

/**
 * The commune boundaries file the built-in basemap cuts its tiles from: the official download cached
 * under DATA_DIR when there is one, else the shared stand-in; null when neither exists.
 */
export function communePolygonsFile(config: Config): string | null {
  const candidates = [
    path.join(config.dataDir, 'territories', cacheName(config.territorySources, 'communes')),
    path.join(config.sharedDataDir, 'territories', 'communes-2018.geojson.gz'),
  ];
  return candidates.find((f) => fs.existsSync(f)) ?? null;
}

/** How to obtain the missing geometry, in French, for pages that need it. */
export const GEOMETRY_HELP =
  'Chargez la géographie de référence avec « npx maillage territories load » (sources officielles : geo.api.gouv.fr et ' +
  'les contours administratifs d’Etalab), ou « npx maillage territories load --from DOSSIER » hors ligne.';

export const territoriesModule: ModuleManifest = {
  name: 'territories',
  migrations: path.join(here, 'migrations'),
  register: registerTerritoryRoutes,
  commands: territoriesCommands,
  async seedReference(ctx) {
    const report = await loadTerritories(ctx.db, { ...loadOptionsOf(ctx.config), progress: ctx.progress });
    for (const w of report.warnings) ctx.log.warn(w);
  },
};

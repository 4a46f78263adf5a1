/**
 * Places offering digital help (standard « lieux de médiation numérique » v1.0.2): import,
 * validation, search, export, duplicates. The only surface other modules may import.
 */
import { placesAudit } from './audit-words.ts';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModuleManifest } from '../../platform/module.ts';
import { listCommunes } from '../territories/index.ts';
import { placesCommands } from './cli.ts';
import { generatePlaces } from './demo.ts';
import { registerPlaceRoutes } from './routes.ts';
import { importPlaces, markHorizonsRefreshed, refreshAllIntervals, upsertPlaces } from './service.ts';
import { registerBackoffice } from './backoffice/index.ts';
import { registerRoadmapContributions } from './roadmap.ts';

// Live indicators and link display offered to the roadmap module.
registerRoadmapContributions();

export type { Place } from './store.ts';
export type { PlaceRecord, ValidationIssue, CoordinatesPrecision } from './model/types.ts';
export {
  searchPlaces,
  searchPlacesJson,
  getPlace,
  getPlacesByUids,
  countPlacesBy,
  countByService,
  countByField,
  mapPoints,
  iteratePlaces,
  upsertPlaces,
  refreshAllIntervals,
  importPlaces,
  undoImportRemovals,
  listImportRuns,
  importIssues,
  onPlacesChanged,
  dataVersion,
  FILTER_FIELDS,
  type PlaceQuery,
  type PlaceHit,
  type PlaceSearchResult,
  type ImportOptions,
  type ImportReport,
  type ImportScope,
  type Removal,
  type FilterField,
} from './service.ts';
export { findDuplicateCandidates, markNotDuplicate, mergePlaces, type DuplicateCandidate } from './duplicates.ts';
export { generatePlaces } from './demo.ts';
export { listPlacePoints, type PlacePoint } from './points.ts';
export { placeJson, searchQuerySchema, toPlaceQuery } from './routes.ts';
// Extension points: search filters and export contributions from other modules (e.g. calls' labels).
export {
  registerPlaceFilter,
  registerExportContribution,
  placeFilters,
  readFilterValues,
  type PlaceFilter,
  type PlaceFilterOption,
  type ExportContribution,
} from './extensions.ts';
export { toRecord } from './store.ts';
// The standard's vocabulary and opening-hours helpers, for pages that show places.
export { ENUMS, LABELS, FIELD_LABELS, TYPOLOGIES, openingStatus, weekTable } from './model/index.ts';
export { BACKOFFICE_ROUTES, seedRouteObjects, provideErrorReports, type BackofficeRoute, type RouteObjects, type ErrorReportAdmin, type ErrorReportItem } from './backoffice/index.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

export const placesModule: ModuleManifest = {
  name: 'places',
  migrations: path.join(here, 'migrations'),
  audit: placesAudit,
  register(app, ctx) {
    registerPlaceRoutes(app, ctx);
    registerBackoffice(app, ctx);
    // Keep date-dependent opening intervals ahead of the clock.
    if (ctx.config.env !== 'test') {
      const HALF_DAY = 12 * 3600 * 1000;
      const refresh = () =>
        refreshAllIntervals(ctx.db, new Date(), { ifOlderThanMs: HALF_DAY - 60_000 })
          .then((n) => n && ctx.log.info({ places: n }, 'opening intervals refreshed'))
          .catch((err: Error) => ctx.log.error({ err }, 'opening intervals refresh failed'));
      const timer = setInterval(refresh, HALF_DAY);
      timer.unref();
      app.addHook('onClose', async () => clearInterval(timer));
      void refresh();
    }
  },
  commands: placesCommands,
  async seedDemo(ctx) {
    // Places of the database's own (real imports): no demo. Otherwise the demo is resumed where a
    // first start stopped (killed between two batches: each batch is its own transaction, and the
    // generated places are the same each time), and skipped once complete.
    const example = path.join(ctx.config.sharedDataDir, 'standards', 'lieux-mediation-numerique', 'exemple-valide.csv');
    const { rows } = await ctx.db.query<{ own: number; demo: number; example: number }>(
      `SELECT count(*) FILTER (WHERE import_source NOT IN ('demo', 'exemple-standard'))::int AS own,
              count(*) FILTER (WHERE import_source = 'demo')::int AS demo,
              count(*) FILTER (WHERE import_source = 'exemple-standard')::int AS example
         FROM places.place`,
    );
    const count = ctx.config.demoPlaces;
    const { own, demo, example: exampleRows } = rows[0]!;
    if (own > 0 || (demo >= count && (exampleRows > 0 || !fs.existsSync(example)))) return;
    const communes = await listCommunes(ctx.db);
    const progress = ctx.progress('demo places', count);
    const places = generatePlaces(communes, count);
    const loadedAt = new Date();
    // Small transactions: a page that needs the database meanwhile waits for one batch at most.
    const BATCH = 1000;
    const from = Math.min(demo - (demo % BATCH), places.length);
    if (from) progress.tick(from);
    for (let i = from; i < places.length; i += BATCH) {
      await upsertPlaces(ctx.db, places.slice(i, i + BATCH), { source: 'demo' });
      progress.tick(Math.min(BATCH, places.length - i));
    }
    // The standard maintainers' valid example, imported through the normal pipeline.
    if (fs.existsSync(example) && exampleRows === 0) {
      await importPlaces(ctx.db, example, { importSource: 'exemple-standard', actor: 'demo', fileName: 'exemple-valide.csv' });
    }
    await markHorizonsRefreshed(ctx.db, loadedAt);
    // After a bulk load, as PostgreSQL's autovacuum would (the embedded database has none):
    // statistics for the planner, and the visibility map that lets the covering index answer alone.
    await ctx.db.exec('VACUUM ANALYZE places.place');
    progress.done(`${places.length} lieux de démonstration${communes.length ? '' : ' (aucune commune avec centre : territoires absents ?)'}`);
  },
};

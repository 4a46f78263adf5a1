/**
 * The public website: find digital help near you. Server-rendered pages (home, results with list and
 * map, place pages with « Signaler une erreur », territory pages, legal and open-data pages,
 * sitemap), the map's data and built-in basemap, and the embeddable finder. Owns the schema `site`
 * (error reports). The only surface other modules may import.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModuleManifest } from '../../platform/module.ts';
import { registerSiteRoutes } from './routes.ts';
import { siteData } from './wire.ts';

export { listErrorReports, setErrorReportStatus, type ErrorReport, type ReportStatus } from './reports.ts';
export { errorReportsAdmin } from './reports-admin.ts';
export { registerPlaceBadges, type PlaceBadge, type PlaceBadgeProvider } from './extensions.ts';
// Filters of the public search and map registered by other modules (e.g. calls' regional labels):
// the places module holds them, so its API accepts the same parameter (`label=…`) as the site.
export { registerPlaceFilter, type PlaceFilter } from '../places/index.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

export const siteModule: ModuleManifest = {
  name: 'site',
  migrations: path.join(here, 'migrations'),
  register(app, ctx) {
    registerSiteRoutes(app, ctx, siteData(ctx.db));
  },
};

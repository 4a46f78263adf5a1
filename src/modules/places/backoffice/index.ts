/**
 * The places back office: registered by the places module (index.ts register()), in its own
 * encapsulated scope (multipart parser, routes hidden from the OpenAPI document).
 */
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { acceptMultipart } from './multipart.ts';
import { registerHomePages } from './pages/home.ts';
import { registerPlacePages } from './pages/place.ts';
import { registerTerritoryPages } from './pages/territory.ts';
import { registerImportPages } from './pages/imports.ts';
import { registerManagerPages } from './pages/managers.ts';

export { BACKOFFICE_ROUTES, seedRouteObjects, type BackofficeRoute, type RouteObjects } from './routes.ts';
export { provideErrorReports, type ErrorReportAdmin, type ErrorReportItem } from './service.ts';

export function registerBackoffice(app: App, ctx: AppContext): void {
  void app.register(async (scope) => {
    const s = scope as App;
    s.addHook('onRoute', (route) => {
      route.schema = { ...(route.schema ?? {}), hide: true } as typeof route.schema;
    });
    acceptMultipart(s);
    const deps = { app: s, ctx };
    registerHomePages(deps);
    registerPlacePages(deps);
    registerTerritoryPages(deps);
    registerImportPages(deps);
    registerManagerPages(deps);
  });
}

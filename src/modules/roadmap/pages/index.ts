/** The roadmap's server-rendered pages: public barometer and back office. */
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { registerBackofficePages } from './backoffice.ts';
import { registerPublicPages } from './public.ts';

export function registerRoadmapPages(app: App, ctx: AppContext): void {
  registerPublicPages(app, ctx);
  registerBackofficePages(app, ctx);
}

/**
 * Roadmap: the territory's voted digital plan (tree of axes, objectives, actions), its governance,
 * its money (AP/CP, co-financing, envelopes) and its indicators, some computed live from the
 * platform's data, with a public barometer. The only surface other modules may import.
 *
 * Other modules contribute without roadmap importing them:
 *  - `registerIndicator({ id, title, unit, method, compute })` at start-up (places, coverage, commons);
 *  - `drawEnvelope` / `releaseDraw` for grants drawn on an envelope (the calls module).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModuleManifest } from '../../platform/module.ts';
import { roadmapAudit } from './audit-words.ts';
import { roadmapCommands } from './cli.ts';
import { stopJobs, queueRecompute } from './jobs.ts';
import { recomputeLive, syncLiveDefinitions } from './live.ts';
import { registerRoadmapRoutes } from './routes.ts';
import { registerRoadmapPages } from './pages/index.ts';
import { seedRoadmapDemo } from './demo.ts';
import { registerRoadmapOpenData } from './opendata.ts';

// The plans' tables on the open-data page.
registerRoadmapOpenData();

export { registerIndicator, liveIndicators, recomputeLive, territoryKey, type LiveIndicator, type LiveContext, type RecomputeReport } from './live.ts';
export { registerLinkResolver, type LinkResolver, type ResolvedLink } from './views.ts';
export { drawEnvelope, releaseDraw, getEnvelope, listEnvelopes, type Envelope, type DrawInput } from './money.ts';
export { getPlan, listPlans, getTree, planProgress } from './service.ts';
export { queueRecompute, recomputeJob } from './jobs.ts';
export type { Plan, PlanNode, Indicator, TerritoryRef, Link, LinkKind } from './model.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const DAY = 24 * 3600 * 1000;

export const roadmapModule: ModuleManifest = {
  name: 'roadmap',
  migrations: path.join(here, 'migrations'),
  audit: roadmapAudit,
  register(app, ctx) {
    registerRoadmapRoutes(app, ctx);
    registerRoadmapPages(app, ctx);
    // Live indicators: recomputed once a day by the job queue while the server runs (and at start
    // when today's values are missing); `maillage roadmap recompute` does it on demand.
    if (ctx.config.env !== 'test') {
      const tick = async () => {
        const { rows } = await ctx.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM roadmap.series_summary s JOIN roadmap.indicator i ON i.id = s.indicator_id AND i.live WHERE s.latest_date >= current_date`,
        );
        if (rows[0]!.n === 0) await queueRecompute(ctx);
      };
      let timer: NodeJS.Timeout | null = null;
      app.addHook('onListen', async () => {
        void tick().catch((err: Error) => ctx.log.error({ err }, 'roadmap: recompute not queued'));
        timer = setInterval(() => void queueRecompute(ctx).catch((err: Error) => ctx.log.error({ err }, 'roadmap: recompute not queued')), DAY);
        timer.unref();
      });
      app.addHook('onClose', async () => {
        if (timer) clearInterval(timer);
      });
    }
    app.addHook('onClose', async () => stopJobs(ctx));
  },
  commands: roadmapCommands,
  async seedReference(ctx) {
    await syncLiveDefinitions(ctx.db);
  },
  async seedDemo(ctx) {
    await seedRoadmapDemo(ctx);
  },
  async afterDemo(ctx) {
    // Every module's demo data is in: compute the live indicators from the demo places and coverage
    // (once a day: a restart with --demo keeps today's values).
    const today = await ctx.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM roadmap.series_summary s JOIN roadmap.indicator i ON i.id = s.indicator_id AND i.live WHERE s.latest_date >= current_date`,
    );
    if (today.rows[0]!.n > 0) return;
    const progress = ctx.progress('roadmap live indicators');
    const r = await recomputeLive(ctx.db);
    progress.done(`${r.indicators} indicateurs calculés (${r.values} valeurs)`);
  },
};

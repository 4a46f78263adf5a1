/**
 * Coverage analytics ("maillage"): how far each commune is from digital help, aggregates by EPCI,
 * département, région and France, white zones, where to open next, "what if". The only surface
 * other modules may import.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModuleManifest } from '../../platform/module.ts';
import { onPlacesChanged } from '../places/index.ts';
import { onTerritoriesLoaded } from '../territories/index.ts';
import { coverageCommands } from './cli.ts';
import { stopJobs } from './jobs.ts';
import { registerCoveragePages } from './pages/coverage.ts';
import { registerCoverageRoutes } from './routes.ts';
import { followPlaceChanges, recomputeAll, useComputePool } from './service.ts';
import { ComputePool } from '../../platform/jobs/pool.ts';
import { readState } from './store.ts';
import { registerRoadmapContributions } from './roadmap.ts';

// Live indicators (and link display) offered to the roadmap module.
registerRoadmapContributions();

export {
  recomputeAll,
  refresh as refreshCoverage,
  ensureFresh as ensureCoverageFresh,
  scope as coverageScope,
  scopeSummary as coverageSummary,
  summaries as coverageSummaries,
  whiteZonesFor,
  plan as planNewPlaces,
  whatIf as coverageWhatIf,
  type RecomputeReport,
} from './service.ts';
export { haversineKm, SERVICES as COVERAGE_SERVICES, type AreaSummary, type CommuneMeasure, type WhiteZones, type PlanResult } from './model.ts';
export { queueRecompute, recomputeJob } from './jobs.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

// A (re)load of the reference geography (`territories load --force`, new centres or populations):
// the measures computed before are recomputed from the new data.
onTerritoriesLoaded(async (db) => {
  if (await readState(db)) await recomputeAll(db);
});

export const coverageModule: ModuleManifest = {
  name: 'coverage',
  migrations: path.join(here, 'migrations'),
  register(app, ctx) {
    // The planner and "what if" run off the event loop (bounded queue, time budget).
    const pool = new ComputePool({
      workerModule: path.join(here, 'compute-worker.ts'),
      size: ctx.config.compute.workers,
      maxQueue: ctx.config.compute.queue,
      timeoutMs: ctx.config.compute.timeoutMs,
      log: ctx.log,
    });
    const release = useComputePool(ctx.db, pool);
    app.addHook('onClose', async () => {
      release();
      await pool.close();
    });
    registerCoverageRoutes(app, ctx);
    registerCoveragePages(app, ctx);
    // Incremental recompute after every write to places (tests call refresh/ensureFresh directly).
    if (ctx.config.env !== 'test') {
      const stop = followPlaceChanges(ctx.db, ctx.log, onPlacesChanged);
      app.addHook('onClose', async () => stop());
    }
    app.addHook('onClose', async () => stopJobs(ctx));
  },
  commands: coverageCommands,
  // With the demo data: compute the measures once while seeding, so the first visit to
  // /couverture does not pay for it.
  async seedDemo(ctx) {
    if (await readState(ctx.db)) return;
    const progress = ctx.progress('coverage');
    const r = await recomputeAll(ctx.db);
    progress.done(`couverture calculée pour ${r.communes} communes et ${r.places} lieux`);
  },
};

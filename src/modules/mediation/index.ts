/**
 * Mediation and training: what digital mediators do (activity records, followed beneficiaries,
 * teams), what people learn (training paths, sessions, registrations, certificates) and what it
 * adds up to (statistics, public aggregates, open data, indicators for the roadmap).
 * The only surface other modules may import.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModuleManifest } from '../../platform/module.ts';
import { mediationAudit } from './audit-words.ts';
import { createJobs } from '../../platform/jobs/index.ts';
import { registerActivityPages } from './pages/activities.ts';
import { registerBeneficiaryPages } from './pages/beneficiaries.ts';
import { registerStatsPages } from './pages/stats.ts';
import { registerTrainingPages } from './pages/training.ts';
import { registerRoutes } from './routes.ts';
import { mediationCommand } from './cli.ts';
import { purgeExpired } from './service.ts';
import { purgeRequests, sendReminders } from './training.ts';
import { seedMediationDemo } from './demo.ts';
import { registerRoadmapContributions } from './roadmap.ts';
import { registerMediationOpenData } from './opendata.ts';

// Live indicators offered to the roadmap module; datasets on the open-data page.
registerRoadmapContributions();
registerMediationOpenData();

export {
  DIGITAL_THEMES,
  DEMARCHES_THEME,
  ADMIN_PROCEDURES,
  CRCN_DOMAINS,
  CRCN_COMPETENCES,
  CRCN_LEVELS,
  CRCN_LEVEL_LABELS,
  DIGCOMP_AREAS,
  DIGCOMP_COMPETENCES,
  DIGCOMP_LEVEL_LABELS,
  CRCN_TO_DIGCOMP,
  digcompOf,
  SMALL_COUNT,
  type DigitalTheme,
  type AdminProcedure,
  type CrcnCompetence,
  type DigCompCompetence,
} from './model.ts';
export { mediationIndicators, type MediationIndicator, type IndicatorValue } from './indicators.ts';
export { recordActivity, purgeExpired } from './service.ts';
export { importActivities, type ImportReport } from './imports.ts';
export { openDataRows } from './routes.ts';
export { verifyCertificate, catalogue as trainingCatalogue, sendReminders } from './training.ts';
export { statistics, publicStatistics, parsePeriod, type Stats, type StatsScope } from './stats.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const DAY_MS = 24 * 3600 * 1000;

export const mediationModule: ModuleManifest = {
  name: 'mediation',
  migrations: path.join(here, 'migrations'),
  audit: mediationAudit,
  async register(app, ctx) {
    const jobs = createJobs({ db: ctx.db, log: ctx.log });
    await jobs.register('mediation.retention', async () => ({ deleted: await purgeExpired(ctx), requests: await purgeRequests(ctx) }), { concurrency: 1 });
    await jobs.register('mediation.training.reminders', async () => ({ sent: await sendReminders(ctx) }), { concurrency: 1 });
    let timer: NodeJS.Timeout | null = null;
    // The retention job runs once a day in the serving process (one per day: singleton key).
    const schedule = async () => {
      const day = new Date().toISOString().slice(0, 10);
      await jobs.send('mediation.retention', {}, { singletonKey: `retention-${day}` }).catch((err: Error) => ctx.log.debug({ err }, 'mediation: retention already queued today'));
      await jobs.send('mediation.training.reminders', {}, { singletonKey: `reminders-${day}` }).catch((err: Error) => ctx.log.debug({ err }, 'mediation: reminders already queued today'));
    };
    app.addHook('onListen', async () => {
      await jobs.start();
      await schedule();
      timer = setInterval(() => void schedule(), DAY_MS);
      timer.unref();
    });
    app.addHook('onClose', async () => {
      if (timer) clearInterval(timer);
      await jobs.stop();
    });
    registerActivityPages(app, ctx);
    registerBeneficiaryPages(app, ctx);
    registerStatsPages(app, ctx);
    registerTrainingPages(app, ctx);
    registerRoutes(app, ctx);
  },
  commands: { mediation: mediationCommand },
  async seedDemo(ctx) {
    await seedMediationDemo(ctx, (line) => ctx.log.info(line));
  },
};

/**
 * Calls: calls for projects (AAP), calls for expressions of interest (AMI) and label campaigns;
 * the applications to them (organisations with a checked SIRET, drafts saved as one types,
 * submission by the server's clock, receipts with a fingerprint, Démarches-simplifiées states and
 * correction requests); instruction, review with conflict-of-interest declarations, committee
 * decisions; grants to the last payment, and their SCDL « Subventions » open-data export.
 * The only surface other modules may import.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModuleManifest } from '../../platform/module.ts';
import { callsAudit } from './audit-words.ts';
import { registerPublicPages } from './pages/public.ts';
import { registerStaffPages } from './pages/staff.ts';
import { registerLabelPages } from './pages/labels.ts';
import { registerRoutes } from './routes.ts';
import { registerContributions } from './contributions.ts';
import { seedCallsDemo } from './demo.ts';
import { queueReminders, stopReminderJobs } from './reminders.ts';

// The live roadmap indicator and the open-data section.
registerContributions();

export { getCall, listPublicCalls, getApplication, isOpen, type Call, type Application } from './service.ts';
export { grantTotals, scdlEntries, scdlCsv, SCDL_FIELDS, SCDL_THRESHOLD } from './grants.ts';
export { siretProblem, CALL_KINDS, STATES } from './model.ts';
export { queueReminders, sendReminders, REMINDERS_JOB } from './reminders.ts';
export { currentLabels, labelledPlaces, labelHistory, getProgramme, listProgrammes, type LabelProgramme, type LabelEvent, type CurrentLabel } from './labels.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

export const callsModule: ModuleManifest = {
  name: 'calls',
  migrations: path.join(here, 'migrations'),
  audit: callsAudit,
  register(app, ctx) {
    registerRoutes(app, ctx);
    registerPublicPages(app, ctx);
    registerStaffPages(app, ctx);
    registerLabelPages(app, ctx);
    // Reminders (closing soon, correction deadline, instalment due, label expiry): a background
    // job queued at start and once a day while the server runs; each reminder is sent once.
    if (ctx.config.env !== 'test') {
      let timer: NodeJS.Timeout | null = null;
      const queue = () => void queueReminders(ctx).catch((err: Error) => ctx.log.error({ err }, 'calls: reminders not queued'));
      app.addHook('onListen', async () => {
        queue();
        timer = setInterval(queue, 24 * 3600 * 1000);
        timer.unref();
      });
      app.addHook('onClose', async () => {
        if (timer) clearInterval(timer);
      });
    }
    app.addHook('onClose', async () => stopReminderJobs(ctx));
  },
  // In seedDemo (after roadmap's and places' demo data, before roadmap's afterDemo computes the
  // live indicators, so the amount granted has today's value).
  async seedDemo(ctx) {
    await seedCallsDemo(ctx);
  },
};

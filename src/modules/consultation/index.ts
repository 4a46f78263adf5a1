/**
 * Consultation: participatory processes run by a territory — phases with dates that open or close
 * proposals, supports, comments and votes; proposals with official answers and custom states,
 * valuators and private notes; threaded comments with reporting and moderation; meetings with
 * registration and minutes; participatory budgets (three voting rules, one or all budgets per
 * person, a basket confirmed once); results that roll up and link to roadmap actions; open data.
 * The only surface other modules may import.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModuleManifest } from '../../platform/module.ts';
import { consultationAudit } from './audit-words.ts';
import { registerPublicPages } from './pages/public.ts';
import { registerBudgetPages } from './pages/budget.ts';
import { registerStaffPages } from './pages/staff.ts';
import { registerSetupPages } from './pages/setup.ts';
import { registerProjectPages } from './pages/projects.ts';
import { registerProposalFilePages } from './pages/proposal-file.ts';
import { registerSurveyPages } from './pages/surveys.ts';
import { registerSurveyEditor } from './pages/survey-editor.ts';
import { registerDebatePages } from './pages/debates.ts';
import { registerIdentityPages } from './pages/identity.ts';
import { registerConsultationOpenData, registerRoutes } from './routes.ts';
import { registerRoadmapContributions } from './roadmap.ts';
import { seedConsultationDemo } from './demo.ts';

// Live indicators and link resolver offered to the roadmap; datasets on the open-data page.
registerRoadmapContributions();
registerConsultationOpenData();

export { getProcess, listProcesses, listResults, tally, type Process, type Result } from './service.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

export const consultationModule: ModuleManifest = {
  name: 'consultation',
  migrations: path.join(here, 'migrations'),
  audit: consultationAudit,
  register(app, ctx) {
    registerPublicPages(app, ctx);
    registerBudgetPages(app, ctx);
    registerSetupPages(app, ctx);
    registerProjectPages(app, ctx);
    registerProposalFilePages(app, ctx);
    registerStaffPages(app, ctx);
    registerSurveyPages(app, ctx);
    registerSurveyEditor(app, ctx);
    registerDebatePages(app, ctx);
    registerIdentityPages(app, ctx);
    registerRoutes(app, ctx);
  },
  async seedDemo(ctx) {
    await seedConsultationDemo(ctx, (line) => ctx.log.info(line));
  },
};

/**
 * Mandates (Aidants Connect model): a trained helper of a habilitated structure acts for a person
 * under a consented, scoped (per administrative procedure), time-limited mandate of the
 * structure; revocation by the helper or the person; expiry; a journal of every event sealed in
 * the platform audit; identities deleted after the retention period. The only surface other
 * modules may import.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModuleManifest } from '../../platform/module.ts';
import { mandatesAudit } from './audit-words.ts';
import { createJobs } from '../../platform/jobs/index.ts';
import { registerOpenData } from '../../platform/opendata.ts';
import { registerMandatePages } from './pages.ts';
import { registerInvitationRoutes } from './invitations.ts';
import { registerRoutes } from './routes.ts';
import { mandatesCommand } from './cli.ts';
import { journalHelperSignIn, runLifecycle } from './service.ts';
import { onSignIn } from '../accounts/index.ts';
import { seedMandatesDemo } from './demo.ts';
import { registerRoadmapContributions } from './roadmap.ts';
import { registerHabilitationPages } from './habilitation.ts';
import { registerCardFactor, registerCardPages } from './cards.ts';
import { expireSmsConsents, registerSmsRoutes } from './sms.ts';
import { registerRemoteConsent } from './remote.ts';
import { registerPartnerPages } from './partners-page.ts';
import { purgeExpiredOidc, registerProvider } from './provider.ts';

// Live indicators offered to the roadmap module.
registerRoadmapContributions();

// The open-data page lists the mandates' aggregates (no identity; small counts hidden).
registerOpenData({
  id: 'mandats-aidants',
  title: 'Mandats d’aidants (Aidants Connect)',
  description: 'Par département des structures habilitées : autorisations données et en cours par démarche, mandats par durée. Aucune identité ; les effectifs inférieurs à 5 sont masqués.',
  async files() {
    return [{ group: 'Mandats', files: [{ label: 'Mandats par département, démarche et durée', href: '/api/v1/mandates/open-data.csv', format: 'CSV' }] }];
  },
  api: ['/api/v1/mandates/statistics', '/api/v1/mandates/verify'],
});

export { DURATIONS, TEMPLATE_VERSION, type Duration } from './model.ts';
export { checkAuthorisation, statistics, verifyJournal, type Decision, type MandateStats } from './service.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const HOUR_MS = 3600 * 1000;

export const mandatesModule: ModuleManifest = {
  name: 'mandates',
  migrations: path.join(here, 'migrations'),
  audit: mandatesAudit,
  async register(app, ctx) {
    const jobs = createJobs({ db: ctx.db, log: ctx.log });
    await jobs.register(
      'mandates.lifecycle',
      async () => {
        await runLifecycle(ctx);
        await expireSmsConsents(ctx);
        await purgeExpiredOidc(ctx.db);
      },
      { concurrency: 1 },
    );
    let timer: NodeJS.Timeout | null = null;
    // Expiries journalled, reminders sent, idle helpers warned or deactivated, identities purged: every hour (one run per hour: singleton key).
    const schedule = async () => {
      const hour = new Date().toISOString().slice(0, 13);
      await jobs.send('mandates.lifecycle', {}, { singletonKey: `lifecycle-${hour}` }).catch((err: Error) => ctx.log.debug({ err }, 'mandates: lifecycle already queued this hour'));
    };
    app.addHook('onListen', async () => {
      await jobs.start();
      await schedule();
      timer = setInterval(() => void schedule(), HOUR_MS);
      timer.unref();
    });
    app.addHook('onClose', async () => {
      if (timer) clearInterval(timer);
      await jobs.stop();
    });
    registerMandatePages(app, ctx);
    registerInvitationRoutes(app, ctx);
    registerRoutes(app, ctx);
    // Habilitation requests, TOTP cards (a second factor for accounts), remote consent by SMS.
    registerHabilitationPages(app, ctx);
    registerCardPages(app, ctx);
    registerCardFactor(ctx);
    // A helper's sign-in is journalled (helper.signed_in), in the sign-in's own transaction.
    onSignIn('mandates.helper', (tx, e) => journalHelperSignIn(tx, e));
    registerSmsRoutes(app, ctx);
    registerRemoteConsent(app, ctx);
    registerPartnerPages(app, ctx);
    // Maillage as an OpenID Connect provider for partner services (/oidc, /mandats/partenaire/:uid).
    registerProvider(app, ctx);
  },
  commands: { mandates: mandatesCommand },
  async seedDemo(ctx) {
    await seedMandatesDemo(ctx, (line) => ctx.log.info(line));
  },
};

/** `maillage mandates <expire|purge|journal verify|api-token|stats>` */
import type { CliCommand } from '../../platform/module.ts';
import { findUserByEmail } from '../accounts/index.ts';
import { createApiToken } from './routes.ts';
import { handleIdleHelpers, helperMail, noteExpired, purgeIdentities, sendExpiryReminders, statistics, verifyJournal } from './service.ts';
import { IDLE_DAYS, REMINDER_DAYS } from './model.ts';

const USAGE = `mandates expire                          journal the mandates that reached their end
mandates purge                           delete the identities of people whose mandates ended more than MANDATES_RETENTION_MONTHS ago
mandates remind                          e-mail the structures' helpers about mandates ending within ${REMINDER_DAYS} days (once per mandate)
mandates idle                            warn helpers idle for 5 months, deactivate those idle for ${IDLE_DAYS} days (warned a week before at least)
mandates journal verify                  check the mandates journal against the audit chain (exit 1 when broken)
mandates stats                           totals, by procedure and duration (JSON)
mandates api-token NAME --helper EMAIL   create a partner-tool token for a helper (printed once)`;

export const mandatesCommand: CliCommand = {
  summary: 'Mandates: expiry, reminders, idle helpers, retention purge, journal verification, statistics, API tokens',
  usage: USAGE,
  async run(args, ctx) {
    const [sub, arg] = args;
    if (sub === 'expire') {
      const n = await noteExpired(ctx);
      ctx.out(`${n} mandate${n === 1 ? '' : 's'} noted as expired.`);
      return 0;
    }
    if (sub === 'purge') {
      await noteExpired(ctx);
      const n = await purgeIdentities(ctx, ctx.config.mandatesRetentionMonths);
      ctx.out(`${n} identit${n === 1 ? 'y' : 'ies'} deleted (retention ${ctx.config.mandatesRetentionMonths} months after the last mandate ended).`);
      return 0;
    }
    if (sub === 'remind') {
      const mail = helperMail(ctx);
      const n = await sendExpiryReminders(ctx, mail.send, mail.userEmail);
      ctx.out(`${n} mandate${n === 1 ? '' : 's'} ending within ${REMINDER_DAYS} days: their helpers were reminded.`);
      return 0;
    }
    if (sub === 'idle') {
      const mail = helperMail(ctx);
      const r = await handleIdleHelpers(ctx, mail.send, mail.userEmail);
      ctx.out(`${r.warned} helper${r.warned === 1 ? '' : 's'} warned, ${r.deactivated} deactivated for inactivity.`);
      return 0;
    }
    if (sub === 'journal' && arg === 'verify') {
      const r = await verifyJournal(ctx.db);
      if (r.ok) {
        ctx.out(`Mandates journal intact: ${r.entries} entries, each sealed in the audit chain.`);
        return 0;
      }
      ctx.out(`Mandates journal BROKEN after ${r.entries} good entries: ${r.reason}`);
      return 1;
    }
    if (sub === 'stats') {
      ctx.out(JSON.stringify(await statistics(ctx.db), null, 2));
      return 0;
    }
    if (sub === 'api-token' && arg) {
      const i = args.indexOf('--helper');
      const email = i >= 0 ? args[i + 1] : undefined;
      const user = email ? await findUserByEmail(ctx.db, email) : null;
      if (!user) {
        ctx.out(`Unknown helper account: ${email ?? '(missing --helper)'}`);
        return 2;
      }
      const t = await createApiToken(ctx.db, null, arg, user.id);
      ctx.out(`API token ${t.id} created. Token (shown once): ${t.token}`);
      return 0;
    }
    ctx.out(`Usage:\n${USAGE}`);
    return 2;
  },
};

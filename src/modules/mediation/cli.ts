/** `maillage mediation <purge|remind|recount|import|api-client>` */
import fs from 'node:fs';
import type { CliCommand } from '../../platform/module.ts';
import { findUserByEmail } from '../accounts/index.ts';
import { purgeExpired } from './service.ts';
import { sendReminders } from './training.ts';
import { rebuildCounters } from './generate.ts';
import { importActivities } from './imports.ts';
import { API_SCOPES, createApiClient } from './routes.ts';

const USAGE = `mediation recount                                          rebuild the statistics counters from the activity tables (after a bulk load)
mediation purge                                            delete followed beneficiaries past the retention period
mediation remind                                           e-mail a reminder to learners whose session starts within 2 days (once each)
mediation import FILE --format cnfs|coop --mediator EMAIL       import past activity records (CSV) for a mediator
mediation api-client NAME --mediator EMAIL --scope ${API_SCOPES.join(',')}   create an API client (prints its token once)`;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export const mediationCommand: CliCommand = {
  summary: 'Mediation: retention purge, imports of past activity, API clients',
  usage: USAGE,
  async run(args, ctx) {
    const [sub, arg] = args;
    if (sub === 'purge') {
      const n = await purgeExpired(ctx);
      ctx.out(`${n} followed beneficiar${n === 1 ? 'y' : 'ies'} deleted (retention ${ctx.config.mediationRetentionMonths} months).`);
      return 0;
    }
    if (sub === 'remind') {
      const n = await sendReminders(ctx);
      ctx.out(`${n} reminder${n === 1 ? '' : 's'} sent.`);
      return 0;
    }
    if (sub === 'recount') {
      ctx.out(`${await rebuildCounters(ctx.db)} counters rebuilt.`);
      return 0;
    }
    if ((sub === 'import' || sub === 'api-client') && arg) {
      const email = flag(args, '--mediator');
      const user = email ? await findUserByEmail(ctx.db, email) : null;
      if (!user) {
        ctx.out(`Unknown mediator account: ${email ?? '(missing --mediator)'}`);
        return 2;
      }
      if (sub === 'import') {
        const format = flag(args, '--format');
        if (format !== 'cnfs' && format !== 'coop') {
          ctx.out('--format cnfs or --format coop');
          return 2;
        }
        const r = await importActivities(ctx, user.id, fs.readFileSync(arg, 'utf8'), format);
        for (const x of r.refused) ctx.out(`line ${x.line}: ${x.field}: ${x.message}`);
        ctx.out(`${r.lines} lines: ${r.recorded} recorded, ${r.skipped} already imported, ${new Set(r.refused.map((x) => x.line)).size} refused.`);
        return r.refused.length ? 1 : 0;
      }
      const c = await createApiClient(ctx.db, null, arg, user.id, (flag(args, '--scope') ?? '').split(',').filter(Boolean));
      ctx.out(`API client ${c.id} created. Token (shown once): ${c.token}`);
      return 0;
    }
    ctx.out(`Usage:\n${USAGE}`);
    return 2;
  },
};

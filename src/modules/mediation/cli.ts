/** `maillage mediation <purge>` */
import type { CliCommand } from '../../platform/module.ts';
import { purgeExpired } from './service.ts';

const USAGE = `mediation purge        delete followed beneficiaries past the retention period (MEDIATION_RETENTION_MONTHS after their last activity)`;

export const mediationCommand: CliCommand = {
  summary: 'Mediation: retention purge, imports of past activity, API clients',
  usage: USAGE,
  async run(args, ctx) {
    const [sub] = args;
    if (sub === 'purge') {
      const n = await purgeExpired(ctx);
      ctx.out(`${n} followed beneficiar${n === 1 ? 'y' : 'ies'} deleted (retention ${ctx.config.mediationRetentionMonths} months).`);
      return 0;
    }
    ctx.out(`Usage:\n${USAGE}`);
    return 2;
  },
};

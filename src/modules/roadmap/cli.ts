/** `maillage roadmap …`: recompute live indicators, list plans, export a plan's tables. */
import type { CliCommand } from '../../platform/module.ts';
import { UserError } from '../../platform/http/errors.ts';
import { liveIndicators, recomputeLive } from './live.ts';
import { getPlan, listPlans } from './service.ts';
import { EXPORT_TABLES, exportTable, type ExportTable } from './exports.ts';

const USAGE = `roadmap recompute [--indicator ID]…   recompute the live indicators now (every one, or those named)
roadmap indicators                     list the live indicators registered by the modules
roadmap plans                          list the plans (slug, territory, period, published)
roadmap export <plan> <table> [--format csv|json]   tables: ${EXPORT_TABLES.join(', ')}`;

export const roadmapCommands: Record<string, CliCommand> = {
  roadmap: {
    summary: 'Roadmaps: recompute live indicators, list plans, export a plan (CSV, JSON)',
    usage: USAGE,
    async run(args, ctx) {
      const [sub, ...rest] = args;
      try {
        if (sub === 'recompute') {
          const ids: string[] = [];
          for (let i = 0; i < rest.length; i++) {
            if (rest[i] === '--indicator' && rest[i + 1]) ids.push(rest[++i]!);
            else throw new UserError(`Unknown argument: ${rest[i]}`, 2);
          }
          const known = new Set(liveIndicators().map((d) => d.id));
          const unknown = ids.filter((id) => !known.has(id));
          if (unknown.length) throw new UserError(`Unknown live indicator: ${unknown.join(', ')} (see: maillage roadmap indicators)`, 2);
          const r = await recomputeLive(ctx.db, { ids: ids.length ? ids : undefined });
          ctx.out(`Recomputed ${r.indicators} live indicator(s) for ${r.territories} territorie(s): ${r.values} value(s) dated ${r.date} in ${r.ms} ms.`);
          for (const f of r.failed) ctx.out(`FAILED ${f.id}: ${f.error}`);
          return r.failed.length ? 1 : 0;
        }
        if (sub === 'indicators') {
          for (const d of liveIndicators()) ctx.out(`${d.id}\t${d.unit}\t${d.title}`);
          return 0;
        }
        if (sub === 'plans') {
          for (const p of await listPlans(ctx.db, {})) ctx.out(`${p.slug}\t${p.territory.level}:${p.territory.code}\t${p.periodStart}–${p.periodEnd}\t${p.published ? 'published' : 'draft'}\t${p.title}`);
          return 0;
        }
        if (sub === 'export') {
          const [ref, table, ...opts] = rest;
          if (!ref || !table) throw new UserError(`Usage: maillage ${USAGE.split('\n')[3]}`, 2);
          if (!(EXPORT_TABLES as readonly string[]).includes(table)) throw new UserError(`Unknown table "${table}" (one of: ${EXPORT_TABLES.join(', ')})`, 2);
          const fi = opts.indexOf('--format');
          const format = fi >= 0 ? opts[fi + 1] : 'csv';
          if (format !== 'csv' && format !== 'json') throw new UserError('--format is csv or json', 2);
          const plan = await getPlan(ctx.db, ref);
          if (!plan) throw new UserError(`No plan "${ref}"`, 2);
          const out = await exportTable(ctx.db, plan, table as ExportTable, format);
          process.stdout.write(out);
          return 0;
        }
        ctx.out(`Usage:\n${USAGE.split('\n').map((l) => `  maillage ${l}`).join('\n')}`);
        return 2;
      } catch (e) {
        if (e instanceof UserError) {
          process.stderr.write(`${e.message}\n`);
          return 2;
        }
        throw e;
      }
    },
  },
};
